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
//!
//! # Files
//! `rules.rs` says which rules a network, a published port or the resolver needs (pure
//! functions over [`Expr`]s, see `expr.rs` for the vocabulary); `wire.rs` encodes them into
//! nf_tables messages and parses listings back; `client.rs` sends them as one batch per
//! change over a [`Transport`](super::transport::Transport) and reads the answers;
//! `iptables.rs` is the interop with iptables-nft's `FORWARD`; `sysctl.rs` the two switches
//! the rules rely on.

mod client;
mod error;
mod expr;
mod iptables;
mod rules;
mod sysctl;
mod wire;

pub use client::Nft;
pub use error::NftError;
pub use expr::*;
pub use iptables::IptablesForward;
pub use rules::{
    net_tag, network_rules, port_rules, port_tag, resolver_redirect_rules, Chain, ListedRule,
    NetworkRules, PortMapping, Position, Protocol, Rule, RESOLVER_TAG, TABLE, TAG_PREFIX,
};
pub use sysctl::{enable_ip_forward, set_route_localnet};

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod batch_tests;
