//! Packet filtering and NAT for project networks, through nftables' netlink API
//! (`NETLINK_NETFILTER`, subsystem `NFNL_SUBSYS_NFTABLES`): no `nft` or `iptables` process is
//! ever started, every change is one atomic kernel transaction.
//!
//! # Why kernel NAT and no userland proxy
//! A published port is a DNAT rule, not a process: it costs no memory and no start-up time per
//! port, keeps the client's source address visible to the container, and forwards at the
//! kernel's speed. Measured (`cargo bench --bench network`, see BENCHMARKS.md): TCP through a
//! published port reaches 97-99 % of the throughput to the container's address directly, from
//! the host's 127.0.0.1 as from its own address. A userland proxy (Docker's `docker-proxy`)
//! would add a process per port and two socket copies per byte; it is needed only for
//! `[::1]`, which we do not publish (see below).
//!
//! # Layout
//! Everything lives in one table of our own, `inet compose` (one `inet` table covers IPv4 and
//! IPv6; `nat` chains in `inet` tables exist since Linux 5.2), created when missing, with four
//! base chains:
//!
//! | chain            | hook        | type / priority      | what goes there                      |
//! |------------------|-------------|----------------------|--------------------------------------|
//! | `raw_prerouting` | prerouting  | filter, −300 (`raw`) | drops of traffic to the host's loopback (below) |
//! | `forward`        | forward     | filter, 0 (`filter`) | isolation drops, accepts             |
//! | `prerouting`     | prerouting  | nat, −100 (`dstnat`) | DNAT of published ports              |
//! | `output`         | output      | nat, −100            | the same DNAT for the host's own traffic (127.0.0.1 too) |
//! | `postrouting`    | postrouting | nat, 100 (`srcnat`)  | masquerade of outbound traffic, of 127/8 → container |
//!
//! All chains have policy `accept`: the table never changes what happens to traffic that is not
//! ours. Every rule carries a tag in `NFTA_RULE_USERDATA` (libnftnl's comment TLV, so
//! `nft list ruleset` shows it as `comment "compose:net:…"`): [`net_tag`] for the rules of a
//! network, [`port_tag`] for those of a published port. Removal dumps the table, picks the rules
//! by tag and deletes them by handle, in one batch: exactly what we added goes, nothing else.
//! Adding is "replace": rules with the same tag are deleted in the same batch, so a restart (new
//! container address) never leaves duplicates.
//!
//! # What the forward rules mean
//! The `forward` chain of a (non-internal) network `br-x` holds, like Docker's `FORWARD` +
//! `DOCKER-ISOLATION` chains:
//! - at the head: `oifname br-x iifname != br-x ct state new ct status != dnat drop` — nothing
//!   enters the network from elsewhere (the outside, another project network) except answers and
//!   published ports (connections our DNAT rewrote). Drops are inserted at the head of the chain
//!   and accepts appended, so an accept of one network can never shadow a drop of another;
//! - appended: `iifname br-x accept`, `oifname br-x ct state established,related accept`, and per
//!   published port `oifname br-x ip daddr C tcp dport P accept`.
//!
//! In `postrouting`: `ip saddr SUBNET oifname != br-x masquerade` per subnet, and
//! `ip saddr SUBNET oifname br-x ct status dnat masquerade` (hairpin: a container reaching a
//! published port of its own network through the host's address).
//!
//! An internal network gets `iifname br-x oifname != br-x drop` and the reverse instead, no
//! masquerade, and (as with Docker) its published ports are not reachable from outside.
//!
//! # Hosts where Docker runs (FORWARD policy DROP)
//! Netfilter runs every base chain registered at a hook, in priority order, and a packet goes on
//! only if *each* of them accepts it: `accept` ends the evaluation of one base chain, not of the
//! hook. A `drop` anywhere is final. So our accepts cannot overrule Docker: with Docker's
//! iptables-nft (`table ip filter`, chain `FORWARD`, policy DROP) or iptables-legacy (x_tables,
//! same hook), forwarded traffic of our bridges is dropped there after we accepted it. What we do
//! about it: [`Nft::allow_in_iptables_forward`] inserts, through the same netlink API, accept
//! rules for our bridge at the head of `DOCKER-USER` (Docker's chain for user rules, evaluated
//! first from `FORWARD`) or, without it, of `FORWARD` in `ip filter`, in the exact shape
//! iptables-nft itself writes for `-i br-x -j ACCEPT` / `-o br-x -m conntrack --ctstate
//! RELATED,ESTABLISHED -j ACCEPT`, so `iptables -L` still reads them, tagged with the network,
//! and [`Nft::remove_network`] removes them again. Not covered: iptables-legacy (x_tables has
//! no netlink API; it would need the `IPT_SO_SET_REPLACE` socket option), which is detectable
//! (no `ip filter` table in nftables while Docker runs) and is reported by the caller.
//!
//! Also: when `br_netfilter` is loaded (Docker loads it), traffic between two containers of the
//! same bridge passes the `forward` hook as well; `iifname br-x accept` covers it.
//!
//! # Published ports reached from the host's 127.0.0.1
//! The `output` chain DNATs the host's own connections to a local address (`fib daddr type
//! local`, which includes 127.0.0.1) and the published port. A packet with source 127.0.0.1 may
//! leave through the bridge, and its answer come back to 127.0.0.1, only with
//! `net.ipv4.conf.<bridge>.route_localnet=1` ([`set_route_localnet`]); the per-port rule
//! `ip saddr 127.0.0.0/8 ip daddr C tcp dport P masquerade` then gives it the bridge's address
//! as source, which the container can answer.
//!
//! # The host's loopback stays the host's (CVE-2020-8558 pattern, moby 41872)
//! Two ways in, both closed in `raw_prerouting`, before conntrack and NAT see the packet:
//! - A port published on a loopback address (`127.0.0.1:8080:80`) is for the host's own
//!   connections. A DNAT in `prerouting` would also rewrite a packet that a neighbour on the
//!   same link sends to 127.0.0.1 through the host's MAC address: NAT happens before routing,
//!   which would have dropped it as a martian. So such a port has its DNAT in `output` only, and
//!   `iifname != "lo" ip daddr 127.0.0.1 tcp dport 8080 drop` (as Docker 28 does).
//! - `route_localnet=1` on a bridge makes the kernel deliver what a container sends to
//!   127.0.0.0/8 through its gateway to the host's loopback services (a hostile container needs
//!   only CAP_NET_ADMIN in its own namespace to route 127.0.0.1 via the gateway). Every network
//!   has `iifname br-x ip daddr 127.0.0.0/8 drop`. The answers to the host's connections
//!   through 127.0.0.1 still flow: at `raw` priority their destination is the bridge's address,
//!   the masquerade is undone only afterwards.
//!
//! IPv6 needs neither: the kernel drops a packet to `::1` that arrives on any interface but
//! `lo` before the prerouting hook.
//!
//! IPv6 mappings get the same DNAT/forward rules (family `ip6`), but no loopback path: the
//! kernel has no `route_localnet` for IPv6, so `[::1]:PORT` is not published (as with Docker
//! without its userland proxy).
//!
//! Without a host IP, DNAT matches `fib daddr type local` (like Docker's `--dst-type LOCAL`), so a
//! container talking to some remote host's port 8080 is never hijacked by a published 8080.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::BorrowedFd;
use std::time::Duration;

use super::transport::{NetlinkSocket, Transport};

/// Name of our table (family `inet`).
pub const TABLE: &str = "compose";

/// Prefix of every tag we put on rules.
pub const TAG_PREFIX: &str = "compose:";

/// How long one answer of the kernel may take before the request counts as failed.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Dumps interrupted by a concurrent change are restarted this often.
const DUMP_RETRIES: usize = 5;
/// A batch that deletes by handle fails with ENOENT when another process removed one of those
/// rules between our dump and our batch; then the whole operation is redone this often.
const BATCH_RETRIES: usize = 3;

// --- netlink / nfnetlink constants (uapi linux/netlink.h, nfnetlink.h, nf_tables.h) ---
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;

const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFT_MSG_DELRULE: u16 = 8;

const NFPROTO_INET: u8 = 1;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;
const NFTA_IMMEDIATE_DREG: u16 = 1;
const NFTA_IMMEDIATE_DATA: u16 = 2;
const NFTA_META_DREG: u16 = 1;
const NFTA_META_KEY: u16 = 2;
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;
const NFTA_PAYLOAD_DREG: u16 = 1;
const NFTA_PAYLOAD_BASE: u16 = 2;
const NFTA_PAYLOAD_OFFSET: u16 = 3;
const NFTA_PAYLOAD_LEN: u16 = 4;
const NFTA_BITWISE_SREG: u16 = 1;
const NFTA_BITWISE_DREG: u16 = 2;
const NFTA_BITWISE_LEN: u16 = 3;
const NFTA_BITWISE_MASK: u16 = 4;
const NFTA_BITWISE_XOR: u16 = 5;
const NFTA_CT_DREG: u16 = 1;
const NFTA_CT_KEY: u16 = 2;
const NFTA_FIB_DREG: u16 = 1;
const NFTA_FIB_RESULT: u16 = 2;
const NFTA_FIB_FLAGS: u16 = 3;
const NFTA_NAT_TYPE: u16 = 1;
const NFTA_NAT_FAMILY: u16 = 2;
const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
const NFTA_NAT_REG_PROTO_MIN: u16 = 5;

/// The verdict register.
pub const REG_VERDICT: u32 = 0;
/// First 16-byte data register.
pub const REG_1: u32 = 1;
/// Second 16-byte data register.
pub const REG_2: u32 = 2;

pub const META_IIFNAME: u32 = 6;
pub const META_OIFNAME: u32 = 7;
pub const META_NFPROTO: u32 = 15;
pub const META_L4PROTO: u32 = 16;
pub const CMP_EQ: u32 = 0;
pub const CMP_NEQ: u32 = 1;
pub const PAYLOAD_NETWORK: u32 = 1;
pub const PAYLOAD_TRANSPORT: u32 = 2;
pub const CT_STATE: u32 = 0;
pub const CT_STATUS: u32 = 2;
/// `ct state` bits (`NF_CT_STATE_BIT`): established, related, new.
pub const CT_STATE_ESTABLISHED: u32 = 1 << 1;
pub const CT_STATE_RELATED: u32 = 1 << 2;
pub const CT_STATE_NEW: u32 = 1 << 3;
/// `ct status` bit `IPS_DST_NAT`: the connection's destination was rewritten.
pub const CT_STATUS_DNAT: u32 = 1 << 5;
pub const FIB_RESULT_ADDRTYPE: u32 = 3;
pub const FIB_F_DADDR: u32 = 1 << 1;
/// `RTN_LOCAL`: an address of this host.
pub const RTN_LOCAL: u32 = 2;
pub const NF_DROP: i32 = 0;
pub const NF_ACCEPT: i32 = 1;
pub const NFT_JUMP: i32 = -3;

const NF_INET_PRE_ROUTING: u32 = 0;
const NF_INET_FORWARD: u32 = 2;
const NF_INET_LOCAL_OUT: u32 = 3;
const NF_INET_POST_ROUTING: u32 = 4;

/// libnftnl's user-data TLV type for a rule comment.
const UDATA_RULE_COMMENT: u8 = 0;
/// Longest tag we store (the TLV length is one byte, the kernel allows 256 bytes in all).
const TAG_MAX: usize = 250;
const IFNAMSIZ: usize = 16;

/// A failed nftables operation, with the step it was in.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// The socket itself failed (open, send, receive).
    #[error("nftables: {op}: {source}")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },
    /// The kernel refused one message of a transaction (the whole transaction was undone).
    #[error("nftables: {op}: {}{}", io::Error::from_raw_os_error(*errno), if msg.is_empty() { String::new() } else { format!(" ({msg})") })]
    Kernel {
        op: String,
        errno: i32,
        /// The kernel's extended-ack message, when it gave one.
        msg: String,
    },
    /// No answer in time.
    #[error("nftables: {op}: no answer from the kernel within {after:?}")]
    Timeout { op: String, after: Duration },
    /// A malformed answer, or input we cannot express.
    #[error("nftables: {op}: {what}")]
    Invalid { op: String, what: String },
}

impl NftError {
    /// The errno behind the error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NftError::Io { source, .. } => source.raw_os_error(),
            NftError::Kernel { errno, .. } => Some(*errno),
            NftError::Timeout { .. } => Some(libc::ETIMEDOUT),
            NftError::Invalid { .. } => None,
        }
    }
}

fn invalid(op: &str, what: impl fmt::Display) -> NftError {
    NftError::Invalid {
        op: op.to_string(),
        what: what.to_string(),
    }
}

/// One expression of a rule, as we build it and as [`Nft::list_rules`] parses it back.
/// Registers and numbers are the kernel's (see the `pub const`s of this module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `meta` load of `key` into `dreg`.
    Meta { key: u32, dreg: u32 },
    /// Compare register `sreg` with `data` (`CMP_EQ`, `CMP_NEQ`); a mismatch ends the rule.
    Cmp { sreg: u32, op: u32, data: Vec<u8> },
    /// Load `len` bytes at `offset` of header `base` into `dreg`.
    Payload {
        base: u32,
        offset: u32,
        len: u32,
        dreg: u32,
    },
    /// `dreg = (sreg & mask) ^ xor`.
    Bitwise {
        sreg: u32,
        dreg: u32,
        mask: Vec<u8>,
        xor: Vec<u8>,
    },
    /// Conntrack `key` into `dreg`.
    Ct { key: u32, dreg: u32 },
    /// Route lookup `result` (e.g. address type) for `flags` (e.g. the destination) into `dreg`.
    Fib { flags: u32, result: u32, dreg: u32 },
    /// Load a constant into a data register.
    Immediate { dreg: u32, data: Vec<u8> },
    /// A verdict (`NF_ACCEPT`, `NF_DROP`, …), with the chain for jumps.
    Verdict { code: i32, chain: Option<String> },
    /// Destination (or source) NAT to the address in `reg_addr` and port in `reg_proto`.
    Nat {
        dnat: bool,
        family: u32,
        reg_addr: u32,
        reg_proto: u32,
    },
    /// Masquerade: source NAT to the outgoing interface's address.
    Masquerade,
    /// Any other expression (listed by name only), or an `iptables-nft` `counter`.
    Other(String),
}

/// A base chain of our table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chain {
    /// Filtering before conntrack and NAT see a packet (priority `raw`).
    RawPrerouting,
    Forward,
    Prerouting,
    Output,
    Postrouting,
}

impl Chain {
    pub const ALL: [Chain; 5] = [
        Chain::RawPrerouting,
        Chain::Forward,
        Chain::Prerouting,
        Chain::Output,
        Chain::Postrouting,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Chain::RawPrerouting => "raw_prerouting",
            Chain::Forward => "forward",
            Chain::Prerouting => "prerouting",
            Chain::Output => "output",
            Chain::Postrouting => "postrouting",
        }
    }

    /// `(type, hook, priority)`.
    fn spec(self) -> (&'static str, u32, i32) {
        match self {
            Chain::RawPrerouting => ("filter", NF_INET_PRE_ROUTING, -300),
            Chain::Forward => ("filter", NF_INET_FORWARD, 0),
            Chain::Prerouting => ("nat", NF_INET_PRE_ROUTING, -100),
            Chain::Output => ("nat", NF_INET_LOCAL_OUT, -100),
            Chain::Postrouting => ("nat", NF_INET_POST_ROUTING, 100),
        }
    }
}

/// Where a new rule goes in its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Before every rule (drops, so no accept can shadow them).
    Head,
    /// After every rule.
    Tail,
}

/// A rule to add to our table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: Chain,
    pub position: Position,
    pub exprs: Vec<Expr>,
    pub tag: String,
}

/// A rule as listed back from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRule {
    pub family: u8,
    pub table: String,
    pub chain: String,
    pub handle: u64,
    /// Our tag (the comment in the rule's user data), if any.
    pub tag: Option<String>,
    pub exprs: Vec<Expr>,
}

/// The filtering/NAT needs of one project network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    /// The network's full name (`<project>_<name>`), used in the tag.
    pub name: String,
    /// Its bridge interface.
    pub bridge: String,
    /// Its subnets (address, prefix length); each is masqueraded unless `internal`.
    pub subnets: Vec<(IpAddr, u8)>,
    /// `internal: true`: no traffic in or out of the bridge.
    pub internal: bool,
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One published port: `host_ip:host_port/protocol` → `container_ip:container_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// The network (full name) the container is reached through.
    pub network: String,
    /// That network's bridge.
    pub bridge: String,
    pub protocol: Protocol,
    /// Only connections to this local address; `None` (or an unspecified address): any local
    /// address of the host, 127.0.0.1 included.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
}

/// Tag of the rules of the network whose bridge is `bridge`. Keyed by the bridge, not the
/// network name: the bridge name is unique on the host (it is derived from the state root too),
/// while two state roots may each have a network `proj_default`, and removing one must not take
/// the other's rules.
pub fn net_tag(bridge: &str) -> String {
    format!("{TAG_PREFIX}net:{bridge}")
}

/// Tag of the rules of a published port (keyed by the bridge, as [`net_tag`]).
pub fn port_tag(p: &PortMapping) -> String {
    port_tag_keyed(&p.bridge, p)
}

fn port_tag_keyed(key: &str, p: &PortMapping) -> String {
    let ip = match p.host_ip {
        Some(ip) if !ip.is_unspecified() => ip.to_string(),
        _ => "*".to_string(),
    };
    format!(
        "{TAG_PREFIX}port:{key}:{}:{ip}:{}",
        p.protocol.name(),
        p.host_port
    )
}

/// The tag an older version gave the rules of network `name`.
fn old_net_tag(name: &str) -> String {
    format!("{TAG_PREFIX}net:{name}")
}

fn port_tag_prefix(key: &str) -> String {
    format!("{TAG_PREFIX}port:{key}:")
}

/// Whether the network `name` with bridge `bridge` may have rules that versions before
/// root-derived bridge names wrote, tagged with the network name instead of the bridge. Only a
/// bridge named the old way ([`super::link::legacy_bridge_name`]) can: such a network keeps its
/// recorded bridge, which every state root with that network name shared anyway.
fn legacy_network(name: &str, bridge: &str) -> bool {
    bridge == super::link::legacy_bridge_name(name)
}

/// The tag an older version gave a port's rules, when its network can have such rules.
fn legacy_port_tag(p: &PortMapping) -> Option<String> {
    legacy_network(&p.network, &p.bridge).then(|| port_tag_keyed(&p.network, p))
}

// --- expression helpers ---

fn ifname_bytes(name: &str) -> [u8; IFNAMSIZ] {
    let mut b = [0u8; IFNAMSIZ];
    let n = name.len().min(IFNAMSIZ - 1);
    b[..n].copy_from_slice(&name.as_bytes()[..n]);
    b
}

fn match_ifname(key: u32, op: u32, name: &str) -> [Expr; 2] {
    [
        Expr::Meta { key, dreg: REG_1 },
        Expr::Cmp {
            sreg: REG_1,
            op,
            data: ifname_bytes(name).to_vec(),
        },
    ]
}

fn family_of(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        NFPROTO_IPV4
    } else {
        NFPROTO_IPV6
    }
}

fn match_nfproto(family: u8) -> [Expr; 2] {
    [
        Expr::Meta {
            key: META_NFPROTO,
            dreg: REG_1,
        },
        Expr::Cmp {
            sreg: REG_1,
            op: CMP_EQ,
            data: vec![family],
        },
    ]
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// `ip saddr`/`ip daddr` (or ip6) in `net/prefix` (the family check must come before).
fn match_addr(src: bool, ip: IpAddr, prefix: u8) -> Vec<Expr> {
    let (offset, len) = match (ip, src) {
        (IpAddr::V4(_), true) => (12, 4),
        (IpAddr::V4(_), false) => (16, 4),
        (IpAddr::V6(_), true) => (8, 16),
        (IpAddr::V6(_), false) => (24, 16),
    };
    let bits = len * 8;
    let prefix = u32::from(prefix).min(bits);
    let mut out = vec![Expr::Payload {
        base: PAYLOAD_NETWORK,
        offset,
        len,
        dreg: REG_1,
    }];
    let mut mask = vec![0u8; len as usize];
    for (i, byte) in mask.iter_mut().enumerate() {
        let from = i as u32 * 8;
        *byte = match prefix.saturating_sub(from) {
            0 => 0,
            n if n >= 8 => 0xff,
            n => 0xffu8 << (8 - n),
        };
    }
    let net: Vec<u8> = ip_bytes(ip).iter().zip(&mask).map(|(a, m)| a & m).collect();
    if prefix < bits {
        out.push(Expr::Bitwise {
            sreg: REG_1,
            dreg: REG_1,
            xor: vec![0u8; mask.len()],
            mask,
        });
    }
    out.push(Expr::Cmp {
        sreg: REG_1,
        op: CMP_EQ,
        data: net,
    });
    out
}

/// `meta l4proto P th dport PORT`.
fn match_dport(proto: Protocol, port: u16) -> [Expr; 4] {
    [
        Expr::Meta {
            key: META_L4PROTO,
            dreg: REG_1,
        },
        Expr::Cmp {
            sreg: REG_1,
            op: CMP_EQ,
            data: vec![proto.number()],
        },
        Expr::Payload {
            base: PAYLOAD_TRANSPORT,
            offset: 2,
            len: 2,
            dreg: REG_1,
        },
        Expr::Cmp {
            sreg: REG_1,
            op: CMP_EQ,
            data: port.to_be_bytes().to_vec(),
        },
    ]
}

/// `ct KEY & bits` compared (`op`) with zero (ct values are in host byte order).
fn match_ct_bits(key: u32, bits: u32, op: u32) -> [Expr; 3] {
    [
        Expr::Ct { key, dreg: REG_1 },
        Expr::Bitwise {
            sreg: REG_1,
            dreg: REG_1,
            mask: bits.to_ne_bytes().to_vec(),
            xor: vec![0; 4],
        },
        Expr::Cmp {
            sreg: REG_1,
            op,
            data: vec![0; 4],
        },
    ]
}

fn verdict(code: i32) -> Expr {
    Expr::Verdict { code, chain: None }
}

/// The rules of one network (see the module docs for what each one means).
pub fn network_rules(net: &NetworkRules) -> Vec<Rule> {
    let tag = net_tag(&net.bridge);
    let br = net.bridge.as_str();
    let rule = |chain, position, parts: Vec<Vec<Expr>>| Rule {
        chain,
        position,
        exprs: parts.into_iter().flatten().collect(),
        tag: tag.clone(),
    };
    // Nothing from the bridge reaches the host's loopback: `route_localnet` on the bridge would
    // deliver it (see the module docs). At `raw` priority the answers of a container to the
    // host's 127.0.0.1 connections still have the bridge address as destination (the
    // masquerade is undone later, at `dstnat`), so they pass.
    let mut rules = vec![rule(
        Chain::RawPrerouting,
        Position::Head,
        vec![
            match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
            match_nfproto(NFPROTO_IPV4).to_vec(),
            match_addr(false, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
            vec![verdict(NF_DROP)],
        ],
    )];
    if net.internal {
        rules.push(rule(
            Chain::Forward,
            Position::Head,
            vec![
                match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
                match_ifname(META_OIFNAME, CMP_NEQ, br).to_vec(),
                vec![verdict(NF_DROP)],
            ],
        ));
        rules.push(rule(
            Chain::Forward,
            Position::Head,
            vec![
                match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
                match_ifname(META_IIFNAME, CMP_NEQ, br).to_vec(),
                vec![verdict(NF_DROP)],
            ],
        ));
        rules.push(rule(
            Chain::Forward,
            Position::Tail,
            vec![
                match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
                match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
                vec![verdict(NF_ACCEPT)],
            ],
        ));
        return rules;
    }
    rules.push(rule(
        Chain::Forward,
        Position::Head,
        vec![
            match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
            match_ifname(META_IIFNAME, CMP_NEQ, br).to_vec(),
            match_ct_bits(CT_STATE, CT_STATE_NEW, CMP_NEQ).to_vec(),
            match_ct_bits(CT_STATUS, CT_STATUS_DNAT, CMP_EQ).to_vec(),
            vec![verdict(NF_DROP)],
        ],
    ));
    rules.push(rule(
        Chain::Forward,
        Position::Tail,
        vec![
            match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
            vec![verdict(NF_ACCEPT)],
        ],
    ));
    rules.push(rule(
        Chain::Forward,
        Position::Tail,
        vec![
            match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
            match_ct_bits(CT_STATE, CT_STATE_ESTABLISHED | CT_STATE_RELATED, CMP_NEQ).to_vec(),
            vec![verdict(NF_ACCEPT)],
        ],
    ));
    for &(ip, prefix) in &net.subnets {
        rules.push(rule(
            Chain::Postrouting,
            Position::Tail,
            vec![
                match_nfproto(family_of(ip)).to_vec(),
                match_addr(true, ip, prefix),
                match_ifname(META_OIFNAME, CMP_NEQ, br).to_vec(),
                vec![Expr::Masquerade],
            ],
        ));
        // Hairpin: a container reaching a published port of its own network through the
        // host's address. Its DNATed connection leaves through the bridge it came from; without
        // a source rewrite the server would answer the client directly (bridged, never
        // un-NATed unless br_netfilter is active), and the client would reset an answer from
        // an address it never called. (`iifname` is unknown in postrouting, hence the subnet.)
        rules.push(rule(
            Chain::Postrouting,
            Position::Tail,
            vec![
                match_nfproto(family_of(ip)).to_vec(),
                match_addr(true, ip, prefix),
                match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
                match_ct_bits(CT_STATUS, CT_STATUS_DNAT, CMP_NEQ).to_vec(),
                vec![Expr::Masquerade],
            ],
        ));
    }
    rules
}

/// Tag of the rules that send a container's queries for the embedded resolver to its port.
pub const RESOLVER_TAG: &str = "compose:dns";

/// In a container's own network namespace: `ip daddr ADDR udp|tcp dport FROM dnat to ADDR:TO`
/// in `output`, so the container's queries for `ADDR:FROM` (`127.0.0.11:53`) reach the embedded
/// resolver listening on port `TO`, and the container's own port `FROM` stays free for its own
/// DNS server (Docker's approach). Conntrack rewrites the answers back to `FROM`.
pub fn resolver_redirect_rules(addr: Ipv4Addr, from: u16, to: u16) -> Vec<Rule> {
    [Protocol::Udp, Protocol::Tcp]
        .into_iter()
        .map(|proto| Rule {
            chain: Chain::Output,
            position: Position::Tail,
            exprs: [
                match_nfproto(NFPROTO_IPV4).to_vec(),
                match_addr(false, IpAddr::V4(addr), 32),
                match_dport(proto, from).to_vec(),
                vec![
                    Expr::Immediate {
                        dreg: REG_1,
                        data: addr.octets().to_vec(),
                    },
                    Expr::Immediate {
                        dreg: REG_2,
                        data: to.to_be_bytes().to_vec(),
                    },
                    Expr::Nat {
                        dnat: true,
                        family: u32::from(NFPROTO_IPV4),
                        reg_addr: REG_1,
                        reg_proto: REG_2,
                    },
                ],
            ]
            .concat(),
            tag: RESOLVER_TAG.to_string(),
        })
        .collect()
}

/// The rules of one published port: DNAT in `prerouting` and `output`, accept in `forward`,
/// and (IPv4) the masquerade of 127.0.0.0/8 towards the container. A port published on a
/// loopback address gets no `prerouting` DNAT (only the host's own connections may use it, and
/// those pass `output`) but a drop in `raw_prerouting` of what arrives for it on any other
/// interface.
pub fn port_rules(p: &PortMapping) -> Result<Vec<Rule>, NftError> {
    let tag = port_tag(p);
    let op = format!("rules for {tag}");
    let family = family_of(p.container_ip);
    let host_ip = p.host_ip.filter(|ip| !ip.is_unspecified());
    if let Some(h) = host_ip {
        if family_of(h) != family {
            return Err(invalid(
                &op,
                format!(
                    "host address {h} and container address {} differ in family",
                    p.container_ip
                ),
            ));
        }
    }
    let to_local = match host_ip {
        Some(h) => match_addr(false, h, if h.is_ipv4() { 32 } else { 128 }),
        None => vec![
            Expr::Fib {
                flags: FIB_F_DADDR,
                result: FIB_RESULT_ADDRTYPE,
                dreg: REG_1,
            },
            Expr::Cmp {
                sreg: REG_1,
                op: CMP_EQ,
                data: RTN_LOCAL.to_ne_bytes().to_vec(),
            },
        ],
    };
    let dnat: Vec<Expr> = [
        match_nfproto(family).to_vec(),
        match_dport(p.protocol, p.host_port).to_vec(),
        to_local,
        vec![
            Expr::Immediate {
                dreg: REG_1,
                data: ip_bytes(p.container_ip),
            },
            Expr::Immediate {
                dreg: REG_2,
                data: p.container_port.to_be_bytes().to_vec(),
            },
            Expr::Nat {
                dnat: true,
                family: u32::from(family),
                reg_addr: REG_1,
                reg_proto: REG_2,
            },
        ],
    ]
    .concat();
    let full = if p.container_ip.is_ipv4() { 32 } else { 128 };
    let to_container: Vec<Expr> = [
        match_nfproto(family).to_vec(),
        match_addr(false, p.container_ip, full),
        match_dport(p.protocol, p.container_port).to_vec(),
    ]
    .concat();
    let rule = |chain, position, exprs| Rule {
        chain,
        position,
        exprs,
        tag: tag.clone(),
    };
    let mut rules = Vec::new();
    match host_ip.filter(|h| h.is_loopback()) {
        Some(h) => rules.push(rule(
            Chain::RawPrerouting,
            Position::Head,
            [
                match_nfproto(family).to_vec(),
                match_ifname(META_IIFNAME, CMP_NEQ, "lo").to_vec(),
                match_addr(false, h, if h.is_ipv4() { 32 } else { 128 }),
                match_dport(p.protocol, p.host_port).to_vec(),
                vec![verdict(NF_DROP)],
            ]
            .concat(),
        )),
        None => rules.push(rule(Chain::Prerouting, Position::Tail, dnat.clone())),
    }
    rules.push(rule(Chain::Output, Position::Tail, dnat));
    rules.push(rule(
        Chain::Forward,
        Position::Tail,
        [
            match_ifname(META_OIFNAME, CMP_EQ, &p.bridge).to_vec(),
            to_container.clone(),
            vec![verdict(NF_ACCEPT)],
        ]
        .concat(),
    ));
    if p.container_ip.is_ipv4() {
        rules.push(rule(
            Chain::Postrouting,
            Position::Tail,
            [
                match_nfproto(NFPROTO_IPV4).to_vec(),
                match_addr(true, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
                to_container[2..].to_vec(),
                vec![Expr::Masquerade],
            ]
            .concat(),
        ));
    }
    Ok(rules)
}

// --- message building ---

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A netlink attribute writer.
struct Attrs<'a>(&'a mut Vec<u8>);

impl Attrs<'_> {
    fn bytes(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align4(self.0.len()), 0);
    }
    fn string(&mut self, ty: u16, s: &str) {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.bytes(ty, &d);
    }
    fn u32(&mut self, ty: u16, v: u32) {
        self.bytes(ty, &v.to_be_bytes());
    }
    fn u64(&mut self, ty: u16, v: u64) {
        self.bytes(ty, &v.to_be_bytes());
    }
    fn nest(&mut self, ty: u16, f: impl FnOnce(&mut Attrs<'_>)) {
        let start = self.0.len();
        self.0.extend_from_slice(&[0, 0]);
        self.0.extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        f(&mut Attrs(self.0));
        let len = (self.0.len() - start) as u16;
        self.0[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }
}

fn encode_expr(a: &mut Attrs<'_>, e: &Expr) {
    let name = match e {
        Expr::Meta { .. } => "meta",
        Expr::Cmp { .. } => "cmp",
        Expr::Payload { .. } => "payload",
        Expr::Bitwise { .. } => "bitwise",
        Expr::Ct { .. } => "ct",
        Expr::Fib { .. } => "fib",
        Expr::Immediate { .. } | Expr::Verdict { .. } => "immediate",
        Expr::Nat { .. } => "nat",
        Expr::Masquerade => "masq",
        Expr::Other(n) => n.as_str(),
    };
    a.nest(NFTA_LIST_ELEM, |a| {
        a.string(NFTA_EXPR_NAME, name);
        a.nest(NFTA_EXPR_DATA, |a| match e {
            Expr::Meta { key, dreg } => {
                a.u32(NFTA_META_DREG, *dreg);
                a.u32(NFTA_META_KEY, *key);
            }
            Expr::Cmp { sreg, op, data } => {
                a.u32(NFTA_CMP_SREG, *sreg);
                a.u32(NFTA_CMP_OP, *op);
                a.nest(NFTA_CMP_DATA, |a| a.bytes(NFTA_DATA_VALUE, data));
            }
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => {
                a.u32(NFTA_PAYLOAD_DREG, *dreg);
                a.u32(NFTA_PAYLOAD_BASE, *base);
                a.u32(NFTA_PAYLOAD_OFFSET, *offset);
                a.u32(NFTA_PAYLOAD_LEN, *len);
            }
            Expr::Bitwise {
                sreg,
                dreg,
                mask,
                xor,
            } => {
                a.u32(NFTA_BITWISE_SREG, *sreg);
                a.u32(NFTA_BITWISE_DREG, *dreg);
                a.u32(NFTA_BITWISE_LEN, mask.len() as u32);
                a.nest(NFTA_BITWISE_MASK, |a| a.bytes(NFTA_DATA_VALUE, mask));
                a.nest(NFTA_BITWISE_XOR, |a| a.bytes(NFTA_DATA_VALUE, xor));
            }
            Expr::Ct { key, dreg } => {
                a.u32(NFTA_CT_DREG, *dreg);
                a.u32(NFTA_CT_KEY, *key);
            }
            Expr::Fib {
                flags,
                result,
                dreg,
            } => {
                a.u32(NFTA_FIB_DREG, *dreg);
                a.u32(NFTA_FIB_RESULT, *result);
                a.u32(NFTA_FIB_FLAGS, *flags);
            }
            Expr::Immediate { dreg, data } => {
                a.u32(NFTA_IMMEDIATE_DREG, *dreg);
                a.nest(NFTA_IMMEDIATE_DATA, |a| a.bytes(NFTA_DATA_VALUE, data));
            }
            Expr::Verdict { code, chain } => {
                a.u32(NFTA_IMMEDIATE_DREG, REG_VERDICT);
                a.nest(NFTA_IMMEDIATE_DATA, |a| {
                    a.nest(NFTA_DATA_VERDICT, |a| {
                        a.u32(NFTA_VERDICT_CODE, *code as u32);
                        if let Some(c) = chain {
                            a.string(NFTA_VERDICT_CHAIN, c);
                        }
                    })
                });
            }
            Expr::Nat {
                dnat,
                family,
                reg_addr,
                reg_proto,
            } => {
                a.u32(NFTA_NAT_TYPE, u32::from(*dnat));
                a.u32(NFTA_NAT_FAMILY, *family);
                a.u32(NFTA_NAT_REG_ADDR_MIN, *reg_addr);
                a.u32(NFTA_NAT_REG_PROTO_MIN, *reg_proto);
            }
            Expr::Masquerade | Expr::Other(_) => {}
        });
    });
}

/// Iterates over the attributes in `data`: `(type without flags, payload)`.
fn attrs(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        if data.len().saturating_sub(off) < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([data[off], data[off + 1]]));
        let ty = u16::from_ne_bytes([data[off + 2], data[off + 3]]) & NLA_TYPE_MASK;
        if len < 4 || off + len > data.len() {
            return None;
        }
        let payload = &data[off + 4..off + len];
        off += align4(len);
        Some((ty, payload))
    })
}

fn attr(data: &[u8], ty: u16) -> Option<&[u8]> {
    attrs(data).find(|(t, _)| *t == ty).map(|(_, p)| p)
}

fn be32(data: &[u8], ty: u16) -> Option<u32> {
    attr(data, ty).and_then(|p| Some(u32::from_be_bytes(p.get(..4)?.try_into().ok()?)))
}

fn be64(p: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(p.get(..8)?.try_into().ok()?))
}

fn cstr(p: &[u8]) -> String {
    let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    String::from_utf8_lossy(&p[..end]).into_owned()
}

fn data_value(data: &[u8], ty: u16) -> Vec<u8> {
    attr(data, ty)
        .and_then(|d| attr(d, NFTA_DATA_VALUE))
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

fn decode_expr(elem: &[u8]) -> Expr {
    let name = attr(elem, NFTA_EXPR_NAME).map(cstr).unwrap_or_default();
    let d = attr(elem, NFTA_EXPR_DATA).unwrap_or(&[]);
    let u = |ty| be32(d, ty).unwrap_or(0);
    match name.as_str() {
        "meta" => Expr::Meta {
            key: u(NFTA_META_KEY),
            dreg: u(NFTA_META_DREG),
        },
        "cmp" => Expr::Cmp {
            sreg: u(NFTA_CMP_SREG),
            op: u(NFTA_CMP_OP),
            data: data_value(d, NFTA_CMP_DATA),
        },
        "payload" => Expr::Payload {
            base: u(NFTA_PAYLOAD_BASE),
            offset: u(NFTA_PAYLOAD_OFFSET),
            len: u(NFTA_PAYLOAD_LEN),
            dreg: u(NFTA_PAYLOAD_DREG),
        },
        "bitwise" => Expr::Bitwise {
            sreg: u(NFTA_BITWISE_SREG),
            dreg: u(NFTA_BITWISE_DREG),
            mask: data_value(d, NFTA_BITWISE_MASK),
            xor: data_value(d, NFTA_BITWISE_XOR),
        },
        "ct" => Expr::Ct {
            key: u(NFTA_CT_KEY),
            dreg: u(NFTA_CT_DREG),
        },
        "fib" => Expr::Fib {
            flags: u(NFTA_FIB_FLAGS),
            result: u(NFTA_FIB_RESULT),
            dreg: u(NFTA_FIB_DREG),
        },
        "immediate" => {
            let dreg = u(NFTA_IMMEDIATE_DREG);
            let data = attr(d, NFTA_IMMEDIATE_DATA).unwrap_or(&[]);
            if dreg == REG_VERDICT {
                let v = attr(data, NFTA_DATA_VERDICT).unwrap_or(&[]);
                Expr::Verdict {
                    code: be32(v, NFTA_VERDICT_CODE).unwrap_or(0) as i32,
                    chain: attr(v, NFTA_VERDICT_CHAIN).map(cstr),
                }
            } else {
                Expr::Immediate {
                    dreg,
                    data: attr(data, NFTA_DATA_VALUE)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default(),
                }
            }
        }
        "nat" => Expr::Nat {
            dnat: u(NFTA_NAT_TYPE) == 1,
            family: u(NFTA_NAT_FAMILY),
            reg_addr: u(NFTA_NAT_REG_ADDR_MIN),
            reg_proto: u(NFTA_NAT_REG_PROTO_MIN),
        },
        "masq" => Expr::Masquerade,
        _ => Expr::Other(name),
    }
}

/// libnftnl's user data: TLVs of (type u8, len u8, value); the comment is NUL-terminated.
fn encode_tag(tag: &str) -> Vec<u8> {
    let mut v = vec![UDATA_RULE_COMMENT, (tag.len() + 1) as u8];
    v.extend_from_slice(tag.as_bytes());
    v.push(0);
    v
}

fn decode_tag(udata: &[u8]) -> Option<String> {
    let mut off = 0;
    while off + 2 <= udata.len() {
        let (ty, len) = (udata[off], usize::from(udata[off + 1]));
        let value = udata.get(off + 2..off + 2 + len)?;
        if ty == UDATA_RULE_COMMENT {
            return Some(cstr(value));
        }
        off += 2 + len;
    }
    None
}

/// One message of a transaction, with what it does (for errors).
struct BatchMsg {
    ty: u16,
    flags: u16,
    family: u8,
    body: Vec<u8>,
    what: String,
}

fn put_header(buf: &mut Vec<u8>, ty: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.push(family);
    buf.push(0); // NFNETLINK_V0
    buf.extend_from_slice(&res_id.to_be_bytes());
    start
}

fn finish(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

fn msg_type(m: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | m
}

fn table_msg(table: &str, family: u8, ty: u16, what: String) -> BatchMsg {
    let mut body = Vec::new();
    Attrs(&mut body).string(NFTA_TABLE_NAME, table);
    BatchMsg {
        ty,
        flags: NLM_F_CREATE,
        family,
        body,
        what,
    }
}

fn chain_msg(c: Chain) -> BatchMsg {
    let (kind, hook, prio) = c.spec();
    let mut body = Vec::new();
    let mut a = Attrs(&mut body);
    a.string(NFTA_CHAIN_TABLE, TABLE);
    a.string(NFTA_CHAIN_NAME, c.name());
    a.nest(NFTA_CHAIN_HOOK, |a| {
        a.u32(NFTA_HOOK_HOOKNUM, hook);
        a.u32(NFTA_HOOK_PRIORITY, prio as u32);
    });
    a.u32(NFTA_CHAIN_POLICY, NF_ACCEPT as u32);
    a.string(NFTA_CHAIN_TYPE, kind);
    BatchMsg {
        ty: NFT_MSG_NEWCHAIN,
        flags: NLM_F_CREATE,
        family: NFPROTO_INET,
        body,
        what: format!("create chain inet {TABLE} {}", c.name()),
    }
}

fn rule_msg(
    family: u8,
    table: &str,
    chain: &str,
    position: Position,
    exprs: &[Expr],
    tag: &str,
) -> BatchMsg {
    let mut body = Vec::new();
    let mut a = Attrs(&mut body);
    a.string(NFTA_RULE_TABLE, table);
    a.string(NFTA_RULE_CHAIN, chain);
    a.nest(NFTA_RULE_EXPRESSIONS, |a| {
        for e in exprs {
            encode_expr(a, e);
        }
    });
    a.bytes(NFTA_RULE_USERDATA, &encode_tag(tag));
    let flags = match position {
        Position::Head => NLM_F_CREATE,
        Position::Tail => NLM_F_CREATE | NLM_F_APPEND,
    };
    BatchMsg {
        ty: NFT_MSG_NEWRULE,
        flags,
        family,
        body,
        what: format!("add rule {table} {chain} [{tag}]"),
    }
}

fn delrule_msg(r: &ListedRule) -> BatchMsg {
    let mut body = Vec::new();
    let mut a = Attrs(&mut body);
    a.string(NFTA_RULE_TABLE, &r.table);
    a.string(NFTA_RULE_CHAIN, &r.chain);
    a.u64(NFTA_RULE_HANDLE, r.handle);
    BatchMsg {
        ty: NFT_MSG_DELRULE,
        flags: 0,
        family: r.family,
        body,
        what: format!(
            "delete rule {} {} handle {} [{}]",
            r.table,
            r.chain,
            r.handle,
            r.tag.as_deref().unwrap_or("")
        ),
    }
}

fn check_tag(tag: &str, op: &str) -> Result<(), NftError> {
    if tag.len() > TAG_MAX || tag.contains('\0') {
        return Err(invalid(op, format!("tag too long or with NUL: {tag:?}")));
    }
    Ok(())
}

fn check_ifname(name: &str, op: &str) -> Result<(), NftError> {
    crate::engine::network::link::check_ifname(name).map_err(|e| invalid(op, e))
}

/// Where iptables' accept rules for our bridges go, found by [`Nft::iptables_forward_chain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptablesForward {
    /// `DOCKER-USER` when it exists, else `FORWARD`.
    pub chain: String,
    /// Whether `FORWARD`'s policy is DROP (only then do our bridges need the accepts).
    pub policy_drop: bool,
}

/// A synchronous nftables client bound to the network namespace it was created in.
#[derive(Debug)]
pub struct Nft {
    transport: Box<dyn Transport>,
    seq: u32,
}

/// What a reply loop collects.
enum Reply {
    Ack(u32),
    Error {
        seq: u32,
        errno: i32,
        msg: String,
    },
    /// One answer of a dump (its attributes); `interrupted` when a concurrent change made the
    /// dump inconsistent.
    Data {
        interrupted: bool,
        attrs: Vec<u8>,
    },
    Done,
}

impl Nft {
    /// Opens a client in the calling thread's network namespace.
    pub fn new() -> Result<Nft, NftError> {
        let socket = NetlinkSocket::netfilter(REPLY_TIMEOUT).map_err(|source| NftError::Io {
            op: "open netfilter netlink socket".to_string(),
            source,
        })?;
        Ok(Nft::with_transport(socket))
    }

    /// A client over any transport (a recording fake in tests).
    pub(crate) fn with_transport(transport: impl Transport + 'static) -> Nft {
        Nft {
            transport: Box::new(transport),
            seq: 0,
        }
    }

    /// Opens a client in the network namespace `ns`; the socket keeps talking to `ns` from any
    /// thread, and the caller's namespace never changes.
    pub fn new_in(ns: BorrowedFd<'_>) -> Result<Nft, NftError> {
        crate::engine::network::link::in_netns(ns, Nft::new).map_err(|e| NftError::Io {
            op: "open netfilter netlink socket in another netns".into(),
            source: e,
        })?
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Receives one datagram and splits it into replies.
    fn recv_replies(&mut self, op: &str) -> Result<Vec<Reply>, NftError> {
        let data = self.transport.recv().map_err(|e| {
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) {
                NftError::Timeout {
                    op: op.to_string(),
                    after: REPLY_TIMEOUT,
                }
            } else {
                NftError::Io {
                    op: op.to_string(),
                    source: e,
                }
            }
        })?;
        let mut out = Vec::new();
        let mut off = 0usize;
        while data.len().saturating_sub(off) >= 16 {
            let w = |at: usize| {
                u32::from_ne_bytes(data[off + at..off + at + 4].try_into().unwrap_or([0; 4]))
            };
            let len = w(0) as usize;
            let ty = (w(4) & 0xffff) as u16;
            let flags = (w(4) >> 16) as u16;
            let seq = w(8);
            if len < 16 || len > data.len() - off {
                return Err(invalid(op, format!("bad netlink message length {len}")));
            }
            let msg = &data[off..off + len];
            off += align4(len);
            match ty {
                NLMSG_ERROR => {
                    let errno = -i32::from_ne_bytes(
                        msg.get(16..20)
                            .and_then(|b| b.try_into().ok())
                            .ok_or_else(|| invalid(op, "short error message"))?,
                    );
                    if errno == 0 {
                        out.push(Reply::Ack(seq));
                        continue;
                    }
                    let mut text = String::new();
                    if flags & NLM_F_ACK_TLVS != 0 {
                        let orig_len = msg
                            .get(20..24)
                            .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])) as usize)
                            .unwrap_or(0);
                        let tlv_at = 20
                            + if flags & NLM_F_CAPPED != 0 {
                                16
                            } else {
                                align4(orig_len)
                            };
                        if let Some(m) = msg.get(tlv_at..).and_then(|t| attr(t, NLMSGERR_ATTR_MSG))
                        {
                            text = cstr(m);
                        }
                    }
                    out.push(Reply::Error {
                        seq,
                        errno,
                        msg: text,
                    });
                }
                NLMSG_DONE => {
                    let code = msg
                        .get(16..20)
                        .map(|b| i32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))
                        .unwrap_or(0);
                    if code < 0 {
                        out.push(Reply::Error {
                            seq,
                            errno: -code,
                            msg: String::new(),
                        });
                    } else {
                        out.push(Reply::Done);
                    }
                }
                _ => {
                    // nlmsghdr (16) + nfgenmsg (4), then attributes.
                    out.push(Reply::Data {
                        interrupted: flags & NLM_F_DUMP_INTR != 0,
                        attrs: msg.get(20..).unwrap_or(&[]).to_vec(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Sends `msgs` as one transaction (between BATCH_BEGIN and BATCH_END) and waits for the
    /// kernel's answer to each. Either all of them took effect, or none did and the error names
    /// the message the kernel refused.
    fn batch(&mut self, msgs: &[BatchMsg]) -> Result<(), NftError> {
        if msgs.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        let s = self.next_seq();
        let at = put_header(
            &mut buf,
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            s,
            0,
            NFNL_SUBSYS_NFTABLES,
        );
        finish(&mut buf, at);
        let mut pending: Vec<(u32, &str)> = Vec::new();
        for m in msgs {
            let seq = self.next_seq();
            let at = put_header(
                &mut buf,
                msg_type(m.ty),
                NLM_F_REQUEST | NLM_F_ACK | m.flags,
                seq,
                m.family,
                0,
            );
            buf.extend_from_slice(&m.body);
            finish(&mut buf, at);
            pending.push((seq, &m.what));
        }
        let s = self.next_seq();
        let at = put_header(
            &mut buf,
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            s,
            0,
            NFNL_SUBSYS_NFTABLES,
        );
        finish(&mut buf, at);

        let op = format!("transaction of {} message(s)", msgs.len());
        let sent = self.transport.send(&buf).map_err(|e| NftError::Io {
            op: op.clone(),
            source: e,
        })?;
        if sent != buf.len() {
            return Err(invalid(
                &op,
                format!("short send ({sent} of {})", buf.len()),
            ));
        }
        let mut first_err: Option<NftError> = None;
        while !pending.is_empty() {
            let replies = match self.recv_replies(&op) {
                Ok(r) => r,
                // The kernel answers a whole batch before send() returns; once it refused a
                // message, the answers it did not send will not come.
                Err(NftError::Timeout { .. }) if first_err.is_some() => break,
                Err(e) => return Err(first_err.unwrap_or(e)),
            };
            for r in replies {
                match r {
                    Reply::Ack(seq) => pending.retain(|(s, _)| *s != seq),
                    Reply::Error { seq, errno, msg } => {
                        let what = pending
                            .iter()
                            .find(|(s, _)| *s == seq)
                            .map_or_else(|| op.clone(), |(_, w)| w.to_string());
                        pending.retain(|(s, _)| *s != seq);
                        if first_err.is_none() {
                            first_err = Some(NftError::Kernel {
                                op: what,
                                errno,
                                msg,
                            });
                            // Whatever else is queued is already there: do not wait long.
                            let _ = self.transport.set_non_blocking(true);
                        }
                    }
                    _ => {}
                }
            }
        }
        let _ = self.transport.set_non_blocking(false);
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A `GET…` dump: the attribute payloads of every answer.
    fn dump(
        &mut self,
        m: u16,
        family: u8,
        body: &[u8],
        op: &str,
    ) -> Result<Vec<Vec<u8>>, NftError> {
        let mut tries = 0;
        'again: loop {
            tries += 1;
            let seq = self.next_seq();
            let mut buf = Vec::new();
            let at = put_header(
                &mut buf,
                msg_type(m),
                NLM_F_REQUEST | NLM_F_DUMP,
                seq,
                family,
                0,
            );
            buf.extend_from_slice(body);
            finish(&mut buf, at);
            self.transport.send(&buf).map_err(|e| NftError::Io {
                op: op.to_string(),
                source: e,
            })?;
            let mut out = Vec::new();
            let mut interrupted = false;
            loop {
                for r in self.recv_replies(op)? {
                    match r {
                        Reply::Data {
                            interrupted: i,
                            attrs,
                        } => {
                            interrupted |= i;
                            out.push(attrs);
                        }
                        Reply::Error { seq: s, errno, msg } if s == seq => {
                            if interrupted && tries < DUMP_RETRIES {
                                continue 'again;
                            }
                            return Err(NftError::Kernel {
                                op: op.to_string(),
                                errno,
                                msg,
                            });
                        }
                        Reply::Done => {
                            if interrupted && tries < DUMP_RETRIES {
                                continue 'again;
                            }
                            return Ok(out);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Whether a table exists (`family`: 1 inet, 2 ip, 10 ip6).
    fn has_table(&mut self, family: u8, name: &str) -> Result<bool, NftError> {
        let tables = self.dump(NFT_MSG_GETTABLE, family, &[], "list tables")?;
        Ok(tables
            .iter()
            .any(|t| attr(t, NFTA_TABLE_NAME).map(cstr).as_deref() == Some(name)))
    }

    /// Whether our table exists.
    pub fn table_exists(&mut self) -> Result<bool, NftError> {
        self.has_table(NFPROTO_INET, TABLE)
    }

    /// The messages that create our table and chains when missing (idempotent: `NLM_F_CREATE`
    /// without `NLM_F_EXCL` leaves existing ones as they are).
    fn ensure_msgs() -> Vec<BatchMsg> {
        let mut v = vec![table_msg(
            TABLE,
            NFPROTO_INET,
            NFT_MSG_NEWTABLE,
            format!("create table inet {TABLE}"),
        )];
        v.extend(Chain::ALL.into_iter().map(chain_msg));
        v
    }

    /// Creates our table and its base chains if missing.
    pub fn ensure_table(&mut self) -> Result<(), NftError> {
        self.batch(&Self::ensure_msgs())
    }

    /// Every rule of a table (`family`, `table`), parsed back.
    fn rules_of(&mut self, family: u8, table: &str) -> Result<Vec<ListedRule>, NftError> {
        let mut body = Vec::new();
        Attrs(&mut body).string(NFTA_RULE_TABLE, table);
        let op = format!("list rules of table {table}");
        let msgs = match self.dump(NFT_MSG_GETRULE, family, &body, &op) {
            Ok(m) => m,
            Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for m in msgs {
            let t = attr(&m, NFTA_RULE_TABLE).map(cstr).unwrap_or_default();
            if t != table {
                continue;
            }
            let exprs = attr(&m, NFTA_RULE_EXPRESSIONS)
                .map(|list| {
                    attrs(list)
                        .filter(|(ty, _)| *ty == NFTA_LIST_ELEM)
                        .map(|(_, e)| decode_expr(e))
                        .collect()
                })
                .unwrap_or_default();
            out.push(ListedRule {
                family,
                table: t,
                chain: attr(&m, NFTA_RULE_CHAIN).map(cstr).unwrap_or_default(),
                handle: attr(&m, NFTA_RULE_HANDLE)
                    .and_then(be64)
                    .ok_or_else(|| invalid(&op, "rule without handle"))?,
                tag: attr(&m, NFTA_RULE_USERDATA).and_then(decode_tag),
                exprs,
            });
        }
        Ok(out)
    }

    /// Every rule of our table, in chain order (empty when the table does not exist).
    pub fn list_rules(&mut self) -> Result<Vec<ListedRule>, NftError> {
        self.rules_of(NFPROTO_INET, TABLE)
    }

    /// One transaction: delete the rules (of our table, and of iptables' `ip filter` when
    /// `iptables` is set) whose tag `drop` selects, then add `add`; retried when a rule vanished
    /// under us.
    fn replace(
        &mut self,
        drop: &dyn Fn(&str) -> bool,
        add: &[BatchMsg],
        iptables: bool,
    ) -> Result<usize, NftError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut existing = self.list_rules()?;
            if iptables && self.has_table(NFPROTO_IPV4, "filter")? {
                existing.extend(self.rules_of(NFPROTO_IPV4, "filter")?);
            }
            let dels: Vec<BatchMsg> = existing
                .iter()
                .filter(|r| r.tag.as_deref().is_some_and(drop))
                .map(delrule_msg)
                .collect();
            let n = dels.len();
            let mut msgs = Vec::new();
            if !add.is_empty() {
                msgs.extend(Self::ensure_msgs());
            }
            msgs.extend(dels);
            let add_copy = add.iter().map(|m| BatchMsg {
                ty: m.ty,
                flags: m.flags,
                family: m.family,
                body: m.body.clone(),
                what: m.what.clone(),
            });
            msgs.extend(add_copy);
            match self.batch(&msgs) {
                Err(e) if e.errno() == Some(libc::ENOENT) && n > 0 && tries < BATCH_RETRIES => {}
                Err(e) => return Err(e),
                Ok(()) => return Ok(n),
            }
        }
    }

    fn rule_msgs(rules: &[Rule], op: &str) -> Result<Vec<BatchMsg>, NftError> {
        rules
            .iter()
            .map(|r| {
                check_tag(&r.tag, op)?;
                Ok(rule_msg(
                    NFPROTO_INET,
                    TABLE,
                    r.chain.name(),
                    r.position,
                    &r.exprs,
                    &r.tag,
                ))
            })
            .collect()
    }

    /// Adds (or replaces) the rules of a network, creating our table when missing.
    pub fn add_network(&mut self, net: &NetworkRules) -> Result<(), NftError> {
        let op = format!("add rules of network {}", net.name);
        check_ifname(&net.bridge, &op)?;
        let tag = net_tag(&net.bridge);
        // Rules an older version tagged with the network name are replaced too.
        let legacy = legacy_network(&net.name, &net.bridge).then(|| old_net_tag(&net.name));
        let msgs = Self::rule_msgs(&network_rules(net), &op)?;
        self.replace(&|t| t == tag || legacy.as_deref() == Some(t), &msgs, false)
            .map(|_| ())
    }

    /// Removes every rule of the network `name` with bridge `bridge`: its own, those of its
    /// published ports, and its accepts in iptables' `ip filter` table (those an older version
    /// tagged with the network name included). Returns how many rules went.
    pub fn remove_network(&mut self, name: &str, bridge: &str) -> Result<usize, NftError> {
        let mut tags = vec![net_tag(bridge)];
        let mut prefixes = vec![port_tag_prefix(bridge)];
        if legacy_network(name, bridge) {
            tags.push(old_net_tag(name));
            prefixes.push(port_tag_prefix(name));
        }
        self.replace(
            &|t| tags.iter().any(|x| x == t) || prefixes.iter().any(|x| t.starts_with(x)),
            &[],
            true,
        )
    }

    /// Adds (or replaces) the rules of a published port, creating our table when missing.
    pub fn add_port(&mut self, p: &PortMapping) -> Result<(), NftError> {
        let rules = port_rules(p)?;
        let op = format!("add rules of {}", port_tag(p));
        check_ifname(&p.bridge, &op)?;
        let tag = port_tag(p);
        let legacy = legacy_port_tag(p);
        let msgs = Self::rule_msgs(&rules, &op)?;
        self.replace(&|t| t == tag || legacy.as_deref() == Some(t), &msgs, false)
            .map(|_| ())
    }

    /// Removes the rules of a published port (an older version's tag included); returns how
    /// many went.
    pub fn remove_port(&mut self, p: &PortMapping) -> Result<usize, NftError> {
        let tag = port_tag(p);
        let legacy = legacy_port_tag(p);
        self.replace(&|t| t == tag || legacy.as_deref() == Some(t), &[], false)
    }

    /// In a container's fresh network namespace: our table with only its `output` chain, and
    /// [`resolver_redirect_rules`], in one transaction.
    pub fn add_resolver_redirect(
        &mut self,
        addr: Ipv4Addr,
        from: u16,
        to: u16,
    ) -> Result<(), NftError> {
        let mut msgs = vec![
            table_msg(
                TABLE,
                NFPROTO_INET,
                NFT_MSG_NEWTABLE,
                format!("create table inet {TABLE}"),
            ),
            chain_msg(Chain::Output),
        ];
        msgs.extend(Self::rule_msgs(
            &resolver_redirect_rules(addr, from, to),
            "redirect the embedded resolver's port",
        )?);
        self.batch(&msgs)
    }

    /// Deletes our table with everything in it; false when there was none.
    pub fn delete_table(&mut self) -> Result<bool, NftError> {
        let mut m = table_msg(
            TABLE,
            NFPROTO_INET,
            NFT_MSG_DELTABLE,
            format!("delete table inet {TABLE}"),
        );
        m.flags = 0;
        match self.batch(&[m]) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Finds iptables-nft's forward filtering (`table ip filter`): the chain our accepts would go
    /// to and whether `FORWARD` drops by default. `None` when there is no such table (no
    /// iptables-nft user on this host, or iptables-legacy, which nftables cannot see).
    pub fn iptables_forward_chain(&mut self) -> Result<Option<IptablesForward>, NftError> {
        if !self.has_table(NFPROTO_IPV4, "filter")? {
            return Ok(None);
        }
        let mut body = Vec::new();
        Attrs(&mut body).string(NFTA_CHAIN_TABLE, "filter");
        let chains = self.dump(
            NFT_MSG_GETCHAIN,
            NFPROTO_IPV4,
            &body,
            "list chains of ip filter",
        )?;
        let mut forward = None;
        let mut docker_user = false;
        for c in &chains {
            if attr(c, NFTA_CHAIN_TABLE).map(cstr).as_deref() != Some("filter") {
                continue;
            }
            match attr(c, NFTA_CHAIN_NAME).map(cstr).as_deref() {
                Some("FORWARD") => {
                    forward = Some(be32(c, NFTA_CHAIN_POLICY) == Some(NF_DROP as u32));
                }
                Some("DOCKER-USER") => docker_user = true,
                _ => {}
            }
        }
        Ok(forward.map(|policy_drop| IptablesForward {
            chain: if docker_user {
                "DOCKER-USER"
            } else {
                "FORWARD"
            }
            .to_string(),
            policy_drop,
        }))
    }

    /// On hosts whose iptables-nft `FORWARD` chain drops by default (Docker), inserts at the head
    /// of `DOCKER-USER` (or `FORWARD`) the accepts our network's bridge needs, in the form
    /// iptables-nft writes itself (`-i br -j ACCEPT`, `-o br -m conntrack --ctstate
    /// RELATED,ESTABLISHED -j ACCEPT`, with a `counter`), tagged like the network's other rules
    /// (replacing earlier ones). Returns the chain used, or `None` when nothing was needed.
    /// [`Nft::remove_network`] removes them.
    pub fn allow_in_iptables_forward(
        &mut self,
        net: &NetworkRules,
    ) -> Result<Option<String>, NftError> {
        let op = format!("accept network {} in iptables FORWARD", net.name);
        check_ifname(&net.bridge, &op)?;
        let Some(fw) = self.iptables_forward_chain()? else {
            return Ok(None);
        };
        if !fw.policy_drop {
            return Ok(None);
        }
        let tag = net_tag(&net.bridge);
        let br = net.bridge.as_str();
        let counter = Expr::Other("counter".into());
        let mut rules = vec![[
            match_ifname(META_IIFNAME, CMP_EQ, br).to_vec(),
            vec![counter.clone(), verdict(NF_ACCEPT)],
        ]
        .concat()];
        if !net.internal {
            rules.push(
                [
                    match_ifname(META_OIFNAME, CMP_EQ, br).to_vec(),
                    match_ct_bits(CT_STATE, CT_STATE_ESTABLISHED | CT_STATE_RELATED, CMP_NEQ)
                        .to_vec(),
                    vec![counter, verdict(NF_ACCEPT)],
                ]
                .concat(),
            );
        }
        let msgs: Vec<BatchMsg> = rules
            .iter()
            .map(|e| rule_msg(NFPROTO_IPV4, "filter", &fw.chain, Position::Head, e, &tag))
            .collect();
        let ours = |r: &ListedRule| r.table == "filter" && r.tag.as_deref() == Some(tag.as_str());
        // Only the iptables rules of this network are replaced, not its rules in our table.
        let mut tries = 0;
        loop {
            tries += 1;
            let dels: Vec<BatchMsg> = self
                .rules_of(NFPROTO_IPV4, "filter")?
                .iter()
                .filter(|r| ours(r))
                .map(delrule_msg)
                .collect();
            let n = dels.len();
            let batch: Vec<BatchMsg> = dels
                .into_iter()
                .chain(msgs.iter().map(|m| BatchMsg {
                    ty: m.ty,
                    flags: m.flags,
                    family: m.family,
                    body: m.body.clone(),
                    what: m.what.clone(),
                }))
                .collect();
            match self.batch(&batch) {
                Err(e) if e.errno() == Some(libc::ENOENT) && n > 0 && tries < BATCH_RETRIES => {}
                Err(e) => return Err(e),
                Ok(()) => return Ok(Some(fw.chain)),
            }
        }
    }
}

fn write_sysctl(path: &str, value: &str) -> io::Result<()> {
    std::fs::write(path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("write {value:?} to {path}: {e}")))
}

/// Sets `net.ipv4.conf.<bridge>.route_localnet=1` by writing /proc/sys, in the network namespace
/// of the calling thread (`/proc/sys/net` follows the opener's namespace): lets packets from
/// 127.0.0.1 that our `output` DNAT sends to a container leave through the bridge, and their
/// answers come back.
pub fn set_route_localnet(bridge: &str) -> io::Result<()> {
    crate::engine::network::link::check_ifname(bridge)?;
    write_sysctl(
        &format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
        "1",
    )
}

/// Sets `net.ipv4.ip_forward=1` (and IPv6 forwarding when `ipv6`) in the calling thread's
/// network namespace: without it nothing is routed between the bridges and the outside.
pub fn enable_ip_forward(ipv6: bool) -> io::Result<()> {
    write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
    if ipv6 {
        write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::link::{
        create_netns, in_netns, legacy_bridge_name, veth_name, Netlink,
    };
    use std::io::{Read, Write};
    use std::net::{SocketAddr as InetAddr, TcpListener, TcpStream, UdpSocket};
    use std::os::fd::{AsFd, OwnedFd};
    use std::time::Instant;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn prefix_masks_and_tags() {
        let e = match_addr(true, v4(10, 203, 7, 9), 20);
        assert_eq!(
            e,
            vec![
                Expr::Payload {
                    base: PAYLOAD_NETWORK,
                    offset: 12,
                    len: 4,
                    dreg: REG_1
                },
                Expr::Bitwise {
                    sreg: REG_1,
                    dreg: REG_1,
                    mask: vec![255, 255, 0xf0, 0],
                    xor: vec![0; 4]
                },
                Expr::Cmp {
                    sreg: REG_1,
                    op: CMP_EQ,
                    data: vec![10, 203, 0, 0]
                },
            ]
        );
        // A full-length prefix needs no mask; IPv6 daddr is at offset 24.
        let e = match_addr(false, "fd00::5".parse().unwrap(), 128);
        assert_eq!(e.len(), 2);
        assert!(matches!(
            e[0],
            Expr::Payload {
                offset: 24,
                len: 16,
                ..
            }
        ));
        let t = "compose:net:proj_default";
        assert_eq!(decode_tag(&encode_tag(t)).as_deref(), Some(t));
        assert_eq!(decode_tag(&[]), None);
        assert_eq!(ifname_bytes("br-x")[..5], *b"br-x\0");
    }

    #[test]
    fn expressions_round_trip_through_attributes() {
        let net = NetworkRules {
            name: "p_default".into(),
            bridge: "br-0123456789ab".into(),
            subnets: vec![(v4(10, 203, 0, 0), 24), ("fd00:1::".parse().unwrap(), 64)],
            internal: false,
        };
        let port = PortMapping {
            network: "p_default".into(),
            bridge: net.bridge.clone(),
            protocol: Protocol::Udp,
            host_ip: Some(v4(127, 0, 0, 1)),
            host_port: 5353,
            container_ip: v4(10, 203, 0, 2),
            container_port: 53,
        };
        let mut all = network_rules(&net);
        all.extend(port_rules(&port).unwrap());
        all.push(Rule {
            chain: Chain::Forward,
            position: Position::Tail,
            exprs: vec![Expr::Verdict {
                code: NFT_JUMP,
                chain: Some("x".into()),
            }],
            tag: "t".into(),
        });
        for r in &all {
            let mut buf = Vec::new();
            Attrs(&mut buf).nest(NFTA_RULE_EXPRESSIONS, |a| {
                for e in &r.exprs {
                    encode_expr(a, e);
                }
            });
            let list = attr(&buf, NFTA_RULE_EXPRESSIONS).unwrap();
            let back: Vec<Expr> = attrs(list).map(|(_, e)| decode_expr(e)).collect();
            assert_eq!(back, r.exprs);
        }
        // Two masquerades (v4 + v6 subnet), drops at the head, accepts at the tail.
        let masq = all
            .iter()
            .filter(|r| r.exprs.last() == Some(&Expr::Masquerade) && r.tag == net_tag(&net.bridge))
            .count();
        assert_eq!(masq, 4, "two subnets, each with its hairpin");
        assert!(all
            .iter()
            .filter(|r| r.exprs.last() == Some(&verdict(NF_DROP)))
            .all(|r| r.position == Position::Head));
        assert_eq!(
            port_tag(&port),
            format!("compose:port:{}:udp:127.0.0.1:5353", net.bridge)
        );
        // A port published on loopback: DNAT for the host's own connections only, and a drop of
        // what arrives for it on other interfaces; every network drops its bridge's traffic to
        // 127.0.0.0/8 (the host's loopback services).
        let lo_rules = port_rules(&port).unwrap();
        let chains: Vec<Chain> = lo_rules.iter().map(|r| r.chain).collect();
        assert!(!chains.contains(&Chain::Prerouting), "{chains:?}");
        assert!(chains.contains(&Chain::Output), "{chains:?}");
        let raw = &lo_rules[0];
        assert_eq!(
            (raw.chain, raw.position),
            (Chain::RawPrerouting, Position::Head)
        );
        assert!(raw.exprs.contains(&Expr::Cmp {
            sreg: REG_1,
            op: CMP_NEQ,
            data: ifname_bytes("lo").to_vec()
        }));
        assert_eq!(raw.exprs.last(), Some(&verdict(NF_DROP)));
        let any = port_rules(&PortMapping {
            host_ip: None,
            ..port.clone()
        })
        .unwrap();
        assert!(any.iter().all(|r| r.chain != Chain::RawPrerouting));
        assert!(any.iter().any(|r| r.chain == Chain::Prerouting));
        for internal in [false, true] {
            let rules = network_rules(&NetworkRules {
                internal,
                ..net.clone()
            });
            let raw: Vec<&Rule> = rules
                .iter()
                .filter(|r| r.chain == Chain::RawPrerouting)
                .collect();
            assert_eq!(raw.len(), 1, "internal: {internal}");
            assert!(raw[0].exprs.contains(&Expr::Cmp {
                sreg: REG_1,
                op: CMP_EQ,
                data: vec![127, 0, 0, 0]
            }));
        }
        let internal = network_rules(&NetworkRules {
            internal: true,
            ..net
        });
        assert!(!internal.iter().any(|r| r.exprs.contains(&Expr::Masquerade)));
        let bad = port_rules(&PortMapping {
            host_ip: Some("::1".parse().unwrap()),
            ..port
        })
        .unwrap_err();
        assert!(bad.to_string().contains("differ in family"), "{bad}");
    }

    fn random_hex() -> String {
        let mut b = [0u8; 6];
        if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
            let _ = f.read_exact(&mut b);
        }
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Three throw-away namespaces: a stand-in host, a "container" behind the bridge and an
    /// "outside" host. Everything (links, the nftables table, sysctls) lives inside them and
    /// vanishes with their fds; Drop still deletes the table explicitly. The real host namespace
    /// is never opened.
    struct Lab {
        host: OwnedFd,
        ctr: OwnedFd,
        out: OwnedFd,
        ctr2: OwnedFd,
    }

    impl Drop for Lab {
        fn drop(&mut self) {
            if let Ok(mut nft) = Nft::new_in(self.host.as_fd()) {
                let _ = nft.delete_table();
            }
        }
    }

    const WAIT: Duration = Duration::from_secs(3);
    const REFUSE_WAIT: Duration = Duration::from_millis(700);

    fn accept_within(l: &TcpListener, d: Duration) -> Option<(TcpStream, InetAddr)> {
        l.set_nonblocking(true).unwrap();
        let end = Instant::now() + d;
        while Instant::now() < end {
            match l.accept() {
                Ok(x) => return Some(x),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        None
    }

    /// Connects from namespace `ns` to `to`, and returns the peer address the listener saw
    /// (after a byte went through), or None when no connection came within the time limits.
    fn tcp_via(ns: BorrowedFd<'_>, to: InetAddr, l: &TcpListener, d: Duration) -> Option<IpAddr> {
        let stream = in_netns(ns, || TcpStream::connect_timeout(&to, d))
            .unwrap()
            .ok();
        let mut stream = stream?;
        let (mut acc, peer) = accept_within(l, d).expect("connected but nothing accepted");
        stream.write_all(b"x").unwrap();
        acc.set_read_timeout(Some(WAIT)).unwrap();
        let mut b = [0u8; 1];
        acc.read_exact(&mut b).unwrap();
        Some(peer.ip())
    }

    fn listen(ns: BorrowedFd<'_>, at: InetAddr) -> TcpListener {
        in_netns(ns, || TcpListener::bind(at)).unwrap().unwrap()
    }

    fn skip_unless_root() -> bool {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root (network namespaces, nftables)");
            return true;
        }
        false
    }

    /// Creates `table ip filter` with a `FORWARD` chain of policy DROP, as Docker does through
    /// iptables-nft.
    fn docker_like_forward_drop(nft: &mut Nft) {
        let mut body = Vec::new();
        let mut a = Attrs(&mut body);
        a.string(NFTA_CHAIN_TABLE, "filter");
        a.string(NFTA_CHAIN_NAME, "FORWARD");
        a.nest(NFTA_CHAIN_HOOK, |a| {
            a.u32(NFTA_HOOK_HOOKNUM, NF_INET_FORWARD);
            a.u32(NFTA_HOOK_PRIORITY, 0);
        });
        a.u32(NFTA_CHAIN_POLICY, NF_DROP as u32);
        a.string(NFTA_CHAIN_TYPE, "filter");
        nft.batch(&[
            table_msg("filter", NFPROTO_IPV4, NFT_MSG_NEWTABLE, "ip filter".into()),
            BatchMsg {
                ty: NFT_MSG_NEWCHAIN,
                flags: NLM_F_CREATE,
                family: NFPROTO_IPV4,
                body,
                what: "ip filter FORWARD".into(),
            },
        ])
        .unwrap();
    }

    #[test]
    fn masquerade_dnat_internal_and_removal_with_real_packets() {
        if skip_unless_root() {
            return;
        }
        let id = format!("compose-test-{}", random_hex());
        let lab = Lab {
            host: create_netns().expect("host netns"),
            ctr: create_netns().expect("container netns"),
            out: create_netns().expect("outside netns"),
            ctr2: create_netns().expect("second container netns"),
        };
        let (h, c, o, c2) = (
            lab.host.as_fd(),
            lab.ctr.as_fd(),
            lab.out.as_fd(),
            lab.ctr2.as_fd(),
        );
        let br_name = legacy_bridge_name(&id);
        let bridge_ip = v4(10, 203, 0, 1);
        let ctr_ip = v4(10, 203, 0, 2);
        let ctr2_ip = v4(10, 203, 0, 3);
        let host_out = v4(192, 0, 2, 1);
        let out_ip = v4(192, 0, 2, 2);

        // Stand-in host: lo, bridge, veth to the container, veth to the outside.
        let mut hn = Netlink::new_in(h).unwrap();
        hn.set_up(1).unwrap();
        let br = hn.create_bridge(&br_name, None).unwrap();
        hn.add_address(br, bridge_ip, 24).unwrap();
        hn.set_up(br).unwrap();
        let hv = hn
            .create_veth_into(&veth_name(&id, "ctr"), "eth0", None, c)
            .unwrap();
        hn.set_master(hv, br).unwrap();
        hn.set_up(hv).unwrap();
        let hv2 = hn
            .create_veth_into(&veth_name(&id, "ctr2"), "eth0", None, c2)
            .unwrap();
        hn.set_master(hv2, br).unwrap();
        hn.set_up(hv2).unwrap();
        let ho = hn
            .create_veth_into(&veth_name(&id, "out"), "eth0", None, o)
            .unwrap();
        hn.add_address(ho, host_out, 24).unwrap();
        hn.set_up(ho).unwrap();
        for (ns, ip, gw_dst) in [
            (c, ctr_ip, None),
            (c2, ctr2_ip, None),
            (o, out_ip, Some((v4(10, 203, 0, 0), 24u8))),
        ] {
            let mut n = Netlink::new_in(ns).unwrap();
            let eth0 = n.link_index("eth0").unwrap().expect("eth0 in namespace");
            n.set_up(1).unwrap();
            n.add_address(eth0, ip, 24).unwrap();
            n.set_up(eth0).unwrap();
            // The container routes everything via the bridge; the outside can route back to
            // the container subnet, so only masquerade explains a 192.0.2.1 source.
            let gw = if gw_dst.is_none() {
                bridge_ip
            } else {
                host_out
            };
            n.add_route(gw_dst, Some(gw), eth0).unwrap();
        }
        in_netns(h, || enable_ip_forward(false)).unwrap().unwrap();
        in_netns(h, || set_route_localnet(&br_name))
            .unwrap()
            .unwrap();

        let mut nft = Nft::new_in(h).unwrap();
        assert!(!nft.table_exists().unwrap());
        assert!(nft.list_rules().unwrap().is_empty());
        let net = NetworkRules {
            name: format!("{id}_default"),
            bridge: br_name.clone(),
            subnets: vec![(v4(10, 203, 0, 0), 24)],
            internal: false,
        };
        let tcp = PortMapping {
            network: net.name.clone(),
            bridge: br_name.clone(),
            protocol: Protocol::Tcp,
            host_ip: None,
            host_port: 8080,
            container_ip: ctr_ip,
            container_port: 80,
        };
        let udp = PortMapping {
            protocol: Protocol::Udp,
            host_ip: Some(host_out),
            host_port: 8081,
            container_port: 53,
            ..tcp.clone()
        };
        nft.add_network(&net).unwrap();
        nft.add_network(&net).unwrap(); // replaces, no duplicates
        nft.add_port(&tcp).unwrap();
        nft.add_port(&udp).unwrap();
        assert!(nft.table_exists().unwrap());

        // The listing is what we built, exactly, each rule once.
        let listed = nft.list_rules().unwrap();
        let mut built = network_rules(&net);
        built.extend(port_rules(&tcp).unwrap());
        built.extend(port_rules(&udp).unwrap());
        assert_eq!(listed.len(), built.len(), "{listed:#?}");
        for b in &built {
            let n = listed
                .iter()
                .filter(|l| {
                    l.chain == b.chain.name()
                        && l.tag.as_deref() == Some(b.tag.as_str())
                        && l.exprs == b.exprs
                })
                .count();
            assert_eq!(n, 1, "rule {b:#?} listed {n} times in {listed:#?}");
        }
        // The isolation drop comes before every accept of the forward chain.
        let fwd: Vec<&ListedRule> = listed.iter().filter(|l| l.chain == "forward").collect();
        assert_eq!(fwd[0].exprs.last(), Some(&verdict(NF_DROP)));

        // (1) Masquerade: container -> outside arrives from the stand-in host's address.
        let l_out = listen(o, (out_ip, 0).into());
        let to_out: InetAddr = (out_ip, l_out.local_addr().unwrap().port()).into();
        assert_eq!(tcp_via(c, to_out, &l_out, WAIT), Some(host_out));

        // (2) DNAT: outside -> 192.0.2.1:8080 reaches 10.203.0.2:80 in the container; so do
        // the stand-in host's own connections to 127.0.0.1:8080 and 192.0.2.1:8080.
        let l_ctr = listen(c, (ctr_ip, 80).into());
        assert_eq!(
            tcp_via(o, (host_out, 8080).into(), &l_ctr, WAIT),
            Some(out_ip)
        );
        assert_eq!(
            tcp_via(h, (v4(127, 0, 0, 1), 8080).into(), &l_ctr, WAIT),
            Some(bridge_ip),
            "127.0.0.1 is masqueraded to the bridge address"
        );
        assert_eq!(
            tcp_via(h, (host_out, 8080).into(), &l_ctr, WAIT),
            Some(host_out)
        );
        // Hairpin: another container of the network, through the host's address, is seen as
        // coming from the bridge address.
        assert_eq!(
            tcp_via(c2, (host_out, 8080).into(), &l_ctr, WAIT),
            Some(bridge_ip)
        );
        // ... but the container is not reachable directly from outside (nothing Docker would
        // not open), only through the published port.
        assert_eq!(tcp_via(o, (ctr_ip, 80).into(), &l_ctr, REFUSE_WAIT), None);
        // UDP, bound to one host address.
        let u_ctr = in_netns(c, || UdpSocket::bind((ctr_ip, 53)))
            .unwrap()
            .unwrap();
        u_ctr.set_read_timeout(Some(WAIT)).unwrap();
        let u_out = in_netns(o, || UdpSocket::bind((out_ip, 0)))
            .unwrap()
            .unwrap();
        u_out.send_to(b"q", (host_out, 8081)).unwrap();
        let mut b = [0u8; 4];
        let (n, from) = u_ctr.recv_from(&mut b).expect("UDP through DNAT");
        assert_eq!((&b[..n], from.ip()), (&b"q"[..], out_ip));

        // Docker-like host: iptables-nft FORWARD policy DROP drops our traffic even though our
        // chain accepts it; the accepts in iptables' chain fix it, and go with the network.
        docker_like_forward_drop(&mut nft);
        assert_eq!(
            nft.iptables_forward_chain().unwrap(),
            Some(IptablesForward {
                chain: "FORWARD".into(),
                policy_drop: true
            })
        );
        assert_eq!(tcp_via(c, to_out, &l_out, REFUSE_WAIT), None);
        assert_eq!(
            nft.allow_in_iptables_forward(&net).unwrap().as_deref(),
            Some("FORWARD")
        );
        nft.allow_in_iptables_forward(&net).unwrap(); // replaces, no duplicates
        assert_eq!(nft.rules_of(NFPROTO_IPV4, "filter").unwrap().len(), 2);
        assert_eq!(tcp_via(c, to_out, &l_out, WAIT), Some(host_out));

        // (3) Internal: the same network marked internal cannot reach the outside, nor be
        // reached through its published port.
        let internal = NetworkRules {
            internal: true,
            ..net.clone()
        };
        nft.add_network(&internal).unwrap();
        let listed = nft.list_rules().unwrap();
        assert!(!listed
            .iter()
            .any(|l| l.tag.as_deref() == Some(net_tag(&net.bridge).as_str())
                && l.exprs.contains(&Expr::Masquerade)));
        assert_eq!(tcp_via(c, to_out, &l_out, REFUSE_WAIT), None);
        assert_eq!(
            tcp_via(o, (host_out, 8080).into(), &l_ctr, REFUSE_WAIT),
            None
        );
        nft.add_network(&net).unwrap();
        assert_eq!(tcp_via(c, to_out, &l_out, WAIT), Some(host_out));

        // (4) Removal: a port, then the network with everything else it had; then the table.
        let before = nft.list_rules().unwrap().len();
        assert_eq!(nft.remove_port(&udp).unwrap(), 4);
        assert_eq!(nft.remove_port(&udp).unwrap(), 0);
        assert_eq!(nft.list_rules().unwrap().len(), before - 4);
        let n_net = network_rules(&net).len() + port_rules(&tcp).unwrap().len() + 2;
        assert_eq!(nft.remove_network(&net.name, &net.bridge).unwrap(), n_net);
        assert!(nft.list_rules().unwrap().is_empty());
        assert!(nft.rules_of(NFPROTO_IPV4, "filter").unwrap().is_empty());
        assert!(nft.table_exists().unwrap());
        assert!(nft.delete_table().unwrap());
        assert!(!nft.table_exists().unwrap());
        assert!(!nft.delete_table().unwrap());
        // iptables' table is not ours: it stays (the test removes its stand-in now).
        assert!(nft.has_table(NFPROTO_IPV4, "filter").unwrap());
        let mut del = table_msg("filter", NFPROTO_IPV4, NFT_MSG_DELTABLE, "del".into());
        del.flags = 0;
        nft.batch(&[del]).unwrap();
        // Control: with no rules at all, the port is no longer published (nothing listens on
        // the host's 8080), and the direct path the isolation rule refused works — so that
        // refusal came from our rule, not from the lab.
        assert_eq!(
            tcp_via(o, (host_out, 8080).into(), &l_ctr, REFUSE_WAIT),
            None,
            "DNAT gone"
        );
        assert_eq!(tcp_via(o, (ctr_ip, 80).into(), &l_ctr, WAIT), Some(out_ip));
    }

    #[test]
    fn kernel_errors_name_the_message() {
        if skip_unless_root() {
            return;
        }
        let ns = create_netns().unwrap();
        let mut nft = Nft::new_in(ns.as_fd()).unwrap();
        let rules = vec![Rule {
            chain: Chain::Forward,
            position: Position::Tail,
            exprs: vec![Expr::Other("no-such-expression".into())],
            tag: "compose:test".into(),
        }];
        let msgs = Nft::rule_msgs(&rules, "t").unwrap();
        let mut all = Nft::ensure_msgs();
        all.extend(msgs);
        let e = nft.batch(&all).unwrap_err();
        eprintln!("kernel error as reported: {e}");
        assert!(
            e.to_string()
                .contains("add rule compose forward [compose:test]"),
            "{e}"
        );
        assert!(e.errno().is_some(), "{e}");
        // The transaction was undone as a whole: not even the table exists.
        assert!(!nft.table_exists().unwrap());
    }
}
