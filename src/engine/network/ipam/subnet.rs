//! Subnet arithmetic: an IPv4 or IPv6 prefix as a pair of integers, so overlap and
//! containment checks are comparisons, and the parse rules Compose files need (exact for
//! `ipam.config`, lenient for host routes).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// An IPv4 or IPv6 network: a network address (host bits zero) and a prefix length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Subnet {
    pub(super) addr: IpAddr,
    pub(super) prefix: u8,
}

/// Why a subnet string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid subnet {value:?}: {reason}")]
pub struct SubnetError {
    pub value: String,
    pub reason: String,
}

pub(super) fn bits_of(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

pub(super) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

pub(super) fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

/// The host-bit mask (`2^(bits-prefix) - 1`) of a prefix.
pub(super) fn host_mask(bits: u8, prefix: u8) -> u128 {
    let host = u32::from(bits - prefix);
    if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    }
}

pub(super) fn family_name(v4: bool) -> &'static str {
    if v4 {
        "IPv4"
    } else {
        "IPv6"
    }
}

impl Subnet {
    /// The subnet of `addr` with `prefix` bits; host bits of `addr` are cleared.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Subnet, SubnetError> {
        let bits = bits_of(addr);
        if prefix > bits {
            return Err(SubnetError {
                value: format!("{addr}/{prefix}"),
                reason: format!("prefix length {prefix} is longer than {bits} bits"),
            });
        }
        let masked = to_u128(addr) & !host_mask(bits, prefix);
        Ok(Subnet {
            addr: from_u128(masked, addr.is_ipv4()),
            prefix,
        })
    }

    /// Parses `172.28.0.0/16` and refuses host bits (`172.28.5.0/16`): Compose files that say
    /// that usually mean something else, so say what the network address would be.
    pub fn parse_exact(s: &str) -> Result<Subnet, SubnetError> {
        let (addr, prefix) = split_cidr(s)?;
        let subnet = Subnet::new(addr, prefix)?;
        if subnet.addr != addr {
            return Err(SubnetError {
                value: s.to_string(),
                reason: format!("host bits are set (the network would be {subnet})"),
            });
        }
        Ok(subnet)
    }

    pub fn network(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    pub(super) fn bits(&self) -> u8 {
        bits_of(self.addr)
    }

    pub(super) fn start(&self) -> u128 {
        to_u128(self.addr)
    }

    pub(super) fn end(&self) -> u128 {
        self.start() | host_mask(self.bits(), self.prefix)
    }

    /// The last address (the IPv4 broadcast address).
    pub fn last(&self) -> IpAddr {
        from_u128(self.end(), self.is_ipv4())
    }

    /// Number of addresses, saturated at `u128::MAX` for `::/0`.
    pub fn size(&self) -> u128 {
        host_mask(self.bits(), self.prefix).saturating_add(1)
    }

    /// The `n`th address of the subnet (0 is the network address).
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        (n <= host_mask(self.bits(), self.prefix))
            .then(|| from_u128(self.start() + n, self.is_ipv4()))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.is_ipv4() && (self.start()..=self.end()).contains(&to_u128(ip))
    }

    /// Whether `other` lies entirely inside this subnet.
    pub fn contains_subnet(&self, other: &Subnet) -> bool {
        other.is_ipv4() == self.is_ipv4()
            && other.prefix >= self.prefix
            && self.contains(other.addr)
    }

    /// Whether the two subnets share an address (one contains the other).
    pub fn overlaps(&self, other: &Subnet) -> bool {
        other.is_ipv4() == self.is_ipv4()
            && self.start() <= other.end()
            && other.start() <= self.end()
    }

    /// The addresses a host may use: all but the network address, and for IPv4 all but the
    /// broadcast address (a /31 or /32 has none left); inclusive bounds.
    pub(super) fn host_range(&self) -> Option<(u128, u128)> {
        let first = self.start().checked_add(1)?;
        let last = if self.is_ipv4() {
            self.end().checked_sub(1)?
        } else {
            self.end()
        };
        (first <= last).then_some((first, last))
    }
}

pub(super) fn split_cidr(s: &str) -> Result<(IpAddr, u8), SubnetError> {
    let err = |reason: &str| SubnetError {
        value: s.to_string(),
        reason: reason.to_string(),
    };
    let (addr, prefix) = s
        .trim()
        .split_once('/')
        .ok_or_else(|| err("expected ADDRESS/PREFIX, like 172.28.0.0/16"))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| err("the address part is not an IPv4 or IPv6 address"))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| err("the prefix length is not a number"))?;
    Ok((addr, prefix))
}

/// Lenient parse: host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
impl FromStr for Subnet {
    type Err = SubnetError;
    fn from_str(s: &str) -> Result<Subnet, SubnetError> {
        let (addr, prefix) = split_cidr(s)?;
        Subnet::new(addr, prefix)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Subnet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Subnet, D::Error> {
        let s = String::deserialize(d)?;
        Subnet::parse_exact(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "subnet_tests.rs"]
mod tests;
