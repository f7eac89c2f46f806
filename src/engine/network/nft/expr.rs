//! The kernel's expression vocabulary: [`Expr`], the register and key numbers rules use, and
//! small builders of common matches (interface names, addresses, conntrack bits).

use std::net::IpAddr;

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

pub(super) const NFPROTO_INET: u8 = 1;
pub(super) const NFPROTO_IPV4: u8 = 2;
pub(super) const NFPROTO_IPV6: u8 = 10;
pub(super) const IFNAMSIZ: usize = 16;

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

// --- expression helpers ---

pub(super) fn ifname_bytes(name: &str) -> [u8; IFNAMSIZ] {
    let mut b = [0u8; IFNAMSIZ];
    let n = name.len().min(IFNAMSIZ - 1);
    b[..n].copy_from_slice(&name.as_bytes()[..n]);
    b
}

pub(super) fn match_ifname(key: u32, op: u32, name: &str) -> [Expr; 2] {
    [
        Expr::Meta { key, dreg: REG_1 },
        Expr::Cmp {
            sreg: REG_1,
            op,
            data: ifname_bytes(name).to_vec(),
        },
    ]
}

pub(super) fn family_of(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        NFPROTO_IPV4
    } else {
        NFPROTO_IPV6
    }
}

pub(super) fn match_nfproto(family: u8) -> [Expr; 2] {
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

pub(super) fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// `ip saddr`/`ip daddr` (or ip6) in `net/prefix` (the family check must come before).
pub(super) fn match_addr(src: bool, ip: IpAddr, prefix: u8) -> Vec<Expr> {
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

/// `ct KEY & bits` compared (`op`) with zero (ct values are in host byte order).
pub(super) fn match_ct_bits(key: u32, bits: u32, op: u32) -> [Expr; 3] {
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

pub(super) fn verdict(code: i32) -> Expr {
    Expr::Verdict { code, chain: None }
}
