//! Where new networks' subnets come from: Docker's default address pools (and our IPv6 one),
//! and the prefixes in use on the host that a chosen subnet must not overlap.

use std::fmt;

use super::subnet::{from_u128, host_mask, split_cidr, to_u128, Subnet, SubnetError};

/// A range new networks' subnets are cut from: `base` split into subnets of prefix `size`,
/// starting at the block that holds the address `base` was written with (so `172.17.0.0/12`
/// walks 172.17, 172.18 … 172.31, as Docker's default pool does).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pool {
    base: Subnet,
    start: u128,
    size: u8,
}

impl Pool {
    /// `base` is `ADDRESS/PREFIX`; the address may have host bits set to start later in the
    /// base. `size` is the prefix length of the subnets handed out.
    pub fn new(base: &str, size: u8) -> Result<Pool, SubnetError> {
        let (addr, prefix) = split_cidr(base)?;
        let subnet = Subnet::new(addr, prefix)?;
        if size < prefix || size > subnet.bits() || size == 0 {
            return Err(SubnetError {
                value: base.to_string(),
                reason: format!(
                    "pool size /{size} must be between the base's /{prefix} and /{}",
                    subnet.bits()
                ),
            });
        }
        let start = to_u128(addr) & !host_mask(subnet.bits(), size);
        Ok(Pool {
            base: subnet,
            start,
            size,
        })
    }

    /// Docker's default local address pools: `172.17.0.0/12` by `/16`, `192.168.0.0/16` by `/20`.
    pub fn docker_defaults() -> Vec<Pool> {
        vec![
            Pool::new("172.17.0.0/12", 16).expect("constant pool"),
            Pool::new("192.168.0.0/16", 20).expect("constant pool"),
        ]
    }

    /// Our default IPv6 pool when `enable_ipv6` comes without a subnet: a unique-local /48
    /// split into /64s (Docker ≥ 27 also hands out ULA /64s).
    pub fn ipv6_defaults() -> Vec<Pool> {
        vec![Pool::new("fd0c:6f6d:706f::/48", 64).expect("constant pool")]
    }

    pub fn base(&self) -> Subnet {
        self.base
    }

    pub fn size(&self) -> u8 {
        self.size
    }

    pub fn is_ipv4(&self) -> bool {
        self.base.is_ipv4()
    }

    fn subnet_at(&self, start: u128) -> Subnet {
        Subnet {
            addr: from_u128(start, self.is_ipv4()),
            prefix: self.size,
        }
    }

    /// The first subnet of the pool that overlaps none of `taken`. Jumps over each taken prefix
    /// rather than stepping through every candidate, so a huge IPv6 pool costs no more than
    /// the number of taken prefixes.
    pub fn first_free(&self, taken: &[Subnet]) -> Option<Subnet> {
        let block_mask = host_mask(self.base.bits(), self.size);
        let end = self.base.end();
        let mut cand = self.start;
        loop {
            if cand > end {
                return None;
            }
            let subnet = self.subnet_at(cand);
            let blocker = taken
                .iter()
                .filter(|t| t.overlaps(&subnet))
                .map(|t| t.end())
                .max();
            let Some(blocker_end) = blocker else {
                return Some(subnet);
            };
            // Next block boundary after both the candidate and the blocking prefix.
            let past = blocker_end.max(subnet.end()).checked_add(1)?;
            cand = past.checked_add(block_mask)? & !block_mask;
        }
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} split into /{}",
            from_u128(self.start, self.is_ipv4()),
            self.base.prefix,
            self.size
        )
    }
}

/// The pools new networks draw from, per family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpamPools {
    pub v4: Vec<Pool>,
    pub v6: Vec<Pool>,
}

impl Default for IpamPools {
    fn default() -> Self {
        IpamPools {
            v4: Pool::docker_defaults(),
            v6: Pool::ipv6_defaults(),
        }
    }
}

/// A prefix in use on the host, with where it was seen (for error messages).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPrefix {
    pub subnet: Subnet,
    /// e.g. `route 172.17.0.0/16 dev docker0` or `address 10.0.0.5/24 on eth0`.
    pub origin: String,
}

impl fmt::Display for HostPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
