//! IP address management for our networks: subnet arithmetic, the address pools new networks
//! draw from, validation of a network's explicit `ipam.config`, and the per-network allocation
//! of container addresses, persisted on disk.
//!
//! Why it looks like this:
//! - There is no daemon holding the allocation state in memory, so every decision is taken
//!   under an exclusive lock on `<dir>/.lock` after re-reading the records from disk, and every
//!   change is written back atomically (temp file + rename + fsync). Two `compose` processes
//!   creating networks or starting containers at the same time therefore never hand out the same
//!   subnet or address.
//! - A new network's subnet is the first one of the pools (Docker's default address pools:
//!   `172.17.0.0/12` split into `/16`s, `192.168.0.0/16` split into `/20`s) that overlaps
//!   neither a prefix in use on the host (routes and interface addresses, read by
//!   [`super::routes::host_prefixes`]; Docker's `docker0` and Podman's `podman0` show up there)
//!   nor a subnet of another of our networks (which may not be up, so have no route yet).
//! - Container addresses are handed out serially (the next free one after the last handed out,
//!   wrapping around), like Docker and Podman: a just-released address is not reused at once,
//!   so stale ARP entries and DNS answers for a removed container do not hit its successor.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::engine::fsutil::StoreLock;
use crate::engine::json_store::{JsonStore, StoreError};

// ---------------------------------------------------------------------------------------------
// Subnet arithmetic
// ---------------------------------------------------------------------------------------------

/// An IPv4 or IPv6 network: a network address (host bits zero) and a prefix length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Subnet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a subnet string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid subnet {value:?}: {reason}")]
pub struct SubnetError {
    pub value: String,
    pub reason: String,
}

fn bits_of(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

/// The host-bit mask (`2^(bits-prefix) - 1`) of a prefix.
fn host_mask(bits: u8, prefix: u8) -> u128 {
    let host = u32::from(bits - prefix);
    if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    }
}

fn family_name(v4: bool) -> &'static str {
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

    fn bits(&self) -> u8 {
        bits_of(self.addr)
    }

    fn start(&self) -> u128 {
        to_u128(self.addr)
    }

    fn end(&self) -> u128 {
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
    fn host_range(&self) -> Option<(u128, u128)> {
        let first = self.start().checked_add(1)?;
        let last = if self.is_ipv4() {
            self.end().checked_sub(1)?
        } else {
            self.end()
        };
        (first <= last).then_some((first, last))
    }
}

fn split_cidr(s: &str) -> Result<(IpAddr, u8), SubnetError> {
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

// ---------------------------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Requests and records
// ---------------------------------------------------------------------------------------------

/// One entry of a network's `ipam.config`, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpamRequest {
    pub subnet: Option<Subnet>,
    pub ip_range: Option<Subnet>,
    pub gateway: Option<IpAddr>,
    pub aux_addresses: BTreeMap<String, IpAddr>,
}

impl IpamRequest {
    fn is_empty(&self) -> bool {
        self.subnet.is_none()
            && self.ip_range.is_none()
            && self.gateway.is_none()
            && self.aux_addresses.is_empty()
    }
}

/// Which address families a new network has (`enable_ipv4` / `enable_ipv6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkOptions {
    pub enable_ipv4: bool,
    pub enable_ipv6: bool,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            enable_ipv4: true,
            enable_ipv6: false,
        }
    }
}

/// One subnet of a network, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetAddrs {
    pub subnet: Subnet,
    pub gateway: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Subnet>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, IpAddr>,
    /// Whether the subnet was chosen from a pool rather than given in `ipam.config`.
    #[serde(default)]
    pub automatic: bool,
    /// The address handed out last; the next search starts after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<IpAddr>,
}

impl SubnetAddrs {
    /// Why `ip` may not be handed to a container, if it is reserved in this subnet.
    fn reserved(&self, ip: IpAddr) -> Option<String> {
        if ip == self.subnet.network() {
            return Some(format!("the network address of {}", self.subnet));
        }
        if self.subnet.is_ipv4() && ip == self.subnet.last() {
            return Some(format!("the broadcast address of {}", self.subnet));
        }
        if ip == self.gateway {
            return Some("the gateway".into());
        }
        self.aux_addresses
            .iter()
            .find(|(_, a)| **a == ip)
            .map(|(name, _)| format!("reserved as aux address {name:?}"))
    }

    /// Inclusive bounds of the addresses handed out automatically.
    fn dynamic_range(&self) -> Option<(u128, u128)> {
        let (first, last) = self.subnet.host_range()?;
        match self.ip_range {
            None => Some((first, last)),
            Some(r) => {
                let (f, l) = (r.start().max(first), r.end().min(last));
                (f <= l).then_some((f, l))
            }
        }
    }
}

/// What we know about one of our networks' addresses; one JSON file per network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAddrs {
    pub name: String,
    pub subnets: Vec<SubnetAddrs>,
    /// container id -> its addresses on this network (at most one per family).
    #[serde(default)]
    pub allocations: BTreeMap<String, Vec<IpAddr>>,
}

impl NetworkAddrs {
    fn owner_of(&self, ip: IpAddr) -> Option<&str> {
        self.allocations
            .iter()
            .find(|(_, addrs)| addrs.contains(&ip))
            .map(|(id, _)| id.as_str())
    }

    /// The addresses of `container_id` here, with their subnets and gateways.
    pub fn addrs_of(&self, container_id: &str) -> ContainerAddrs {
        let mut out = ContainerAddrs::default();
        for ip in self.allocations.get(container_id).into_iter().flatten() {
            if let Some(s) = self.subnets.iter().find(|s| s.subnet.contains(*ip)) {
                let a = Assigned {
                    addr: *ip,
                    subnet: s.subnet,
                    gateway: s.gateway,
                };
                if ip.is_ipv4() {
                    out.ipv4 = Some(a);
                } else {
                    out.ipv6 = Some(a);
                }
            }
        }
        out
    }
}

/// The addresses a container asks for on one network (`ipv4_address`, `ipv6_address`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddrRequest {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

/// An address given to a container, with what it needs to configure its interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assigned {
    pub addr: IpAddr,
    pub subnet: Subnet,
    pub gateway: IpAddr,
}

/// A container's addresses on one network, one per family the network has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContainerAddrs {
    pub ipv4: Option<Assigned>,
    pub ipv6: Option<Assigned>,
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Error)]
pub enum IpamError {
    /// A malformed or inconsistent `ipam.config` / request; the message says which value.
    #[error("{message}")]
    Invalid { message: String },
    #[error("network {network}: subnet {subnet} overlaps {host} on the host")]
    OverlapsHost {
        network: String,
        subnet: Subnet,
        host: HostPrefix,
    },
    #[error(
        "network {network}: subnet {subnet} overlaps subnet {other_subnet} of network {other}"
    )]
    OverlapsNetwork {
        network: String,
        subnet: Subnet,
        other: String,
        other_subnet: Subnet,
    },
    #[error("network {network}: no free {family} subnet left in the address pools ({pools}): every candidate overlaps a host route or address or another network")]
    PoolsExhausted {
        network: String,
        family: &'static str,
        pools: String,
    },
    #[error("network {0} already exists")]
    NetworkExists(String),
    #[error("network {0} not found")]
    NetworkNotFound(String),
    #[error("network {network} is still used by containers {containers}")]
    NetworkInUse { network: String, containers: String },
    #[error("network {network}: address {addr} is already in use by container {owner}")]
    AddressInUse {
        network: String,
        addr: IpAddr,
        owner: String,
    },
    #[error("network {network}: address {addr} is {why}")]
    AddressReserved {
        network: String,
        addr: IpAddr,
        why: String,
    },
    #[error("network {network}: address {addr} is not inside any of its subnets ({subnets})")]
    AddressOutside {
        network: String,
        addr: IpAddr,
        subnets: String,
    },
    #[error("network {network}: no free {family} address left in {subnets}")]
    Exhausted {
        network: String,
        family: &'static str,
        subnets: String,
    },
    #[error("container {container} already has address {current} on network {network}, not the requested {requested}")]
    AlreadyAllocated {
        network: String,
        container: String,
        current: IpAddr,
        requested: IpAddr,
    },
    #[error("{step} {path}: {source}")]
    Io {
        step: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("reading {path}: corrupt network record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn invalid(message: String) -> IpamError {
    IpamError::Invalid { message }
}

// ---------------------------------------------------------------------------------------------
// Planning a network (pure)
// ---------------------------------------------------------------------------------------------

/// Checks an explicit config entry and turns it into a record (pure: no overlap checks).
fn validate_explicit(network: &str, req: &IpamRequest) -> Result<SubnetAddrs, IpamError> {
    let Some(subnet) = req.subnet else {
        let what = if let Some(g) = req.gateway {
            format!("gateway {g}")
        } else if let Some(r) = req.ip_range {
            format!("ip_range {r}")
        } else {
            "aux_addresses".to_string()
        };
        return Err(invalid(format!(
            "network {network}: ipam.config gives {what} without a subnet"
        )));
    };
    let Some((first, last)) = subnet.host_range().filter(|(f, l)| l - f >= 1) else {
        return Err(invalid(format!(
            "network {network}: subnet {subnet} is too small (it needs room for a gateway and a container)"
        )));
    };
    let is_host =
        |ip: IpAddr| ip.is_ipv4() == subnet.is_ipv4() && (first..=last).contains(&to_u128(ip));
    if let Some(r) = req.ip_range {
        if !subnet.contains_subnet(&r) {
            return Err(invalid(format!(
                "network {network}: ip_range {r} is not inside subnet {subnet}"
            )));
        }
    }
    let gateway = match req.gateway {
        Some(g) if !subnet.contains(g) => {
            return Err(invalid(format!(
                "network {network}: gateway {g} is not inside subnet {subnet}"
            )))
        }
        Some(g) if !is_host(g) => {
            return Err(invalid(format!(
            "network {network}: gateway {g} is the network or broadcast address of subnet {subnet}"
        )))
        }
        Some(g) => g,
        None => from_u128(first, subnet.is_ipv4()),
    };
    for (name, a) in &req.aux_addresses {
        if !subnet.contains(*a) {
            return Err(invalid(format!(
                "network {network}: aux address {name}={a} is not inside subnet {subnet}"
            )));
        }
        if !is_host(*a) {
            return Err(invalid(format!(
                "network {network}: aux address {name}={a} is the network or broadcast address of subnet {subnet}"
            )));
        }
    }
    Ok(SubnetAddrs {
        subnet,
        gateway,
        ip_range: req.ip_range,
        aux_addresses: req.aux_addresses.clone(),
        automatic: false,
        last: None,
    })
}

/// Decides the subnets of a new network: validates the explicit configs, refuses overlaps
/// with the host and with `others` (our existing networks), and picks a subnet from the pools
/// for each enabled family that has no explicit one.
pub fn plan_network(
    name: &str,
    configs: &[IpamRequest],
    options: NetworkOptions,
    pools: &IpamPools,
    host: &[HostPrefix],
    others: &[NetworkAddrs],
) -> Result<Vec<SubnetAddrs>, IpamError> {
    let mut subnets: Vec<SubnetAddrs> = Vec::new();
    for req in configs.iter().filter(|r| !r.is_empty()) {
        let s = validate_explicit(name, req)?;
        let v4 = s.subnet.is_ipv4();
        if v4 && !options.enable_ipv4 {
            return Err(invalid(format!(
                "network {name}: ipam.config has IPv4 subnet {} but enable_ipv4 is false",
                s.subnet
            )));
        }
        if !v4 && !options.enable_ipv6 {
            return Err(invalid(format!(
                "network {name}: ipam.config has IPv6 subnet {} but enable_ipv6 is not set",
                s.subnet
            )));
        }
        if let Some(prev) = subnets.iter().find(|p| p.subnet.overlaps(&s.subnet)) {
            return Err(invalid(format!(
                "network {name}: ipam.config subnets {} and {} overlap",
                prev.subnet, s.subnet
            )));
        }
        for other in others {
            if let Some(o) = other.subnets.iter().find(|o| o.subnet.overlaps(&s.subnet)) {
                return Err(IpamError::OverlapsNetwork {
                    network: name.to_string(),
                    subnet: s.subnet,
                    other: other.name.clone(),
                    other_subnet: o.subnet,
                });
            }
        }
        if let Some(h) = host.iter().find(|h| h.subnet.overlaps(&s.subnet)) {
            return Err(IpamError::OverlapsHost {
                network: name.to_string(),
                subnet: s.subnet,
                host: h.clone(),
            });
        }
        subnets.push(s);
    }

    for (v4, enabled, family_pools) in [
        (true, options.enable_ipv4, &pools.v4),
        (false, options.enable_ipv6, &pools.v6),
    ] {
        if !enabled || subnets.iter().any(|s| s.subnet.is_ipv4() == v4) {
            continue;
        }
        let taken: Vec<Subnet> = host
            .iter()
            .map(|h| h.subnet)
            .chain(
                others
                    .iter()
                    .flat_map(|o| o.subnets.iter().map(|s| s.subnet)),
            )
            .chain(subnets.iter().map(|s| s.subnet))
            .filter(|s| s.is_ipv4() == v4)
            .collect();
        let chosen = family_pools
            .iter()
            .filter(|p| p.is_ipv4() == v4)
            .filter_map(|p| p.first_free(&taken))
            .find(|s| s.host_range().is_some_and(|(f, l)| l > f));
        let Some(subnet) = chosen else {
            return Err(IpamError::PoolsExhausted {
                network: name.to_string(),
                family: family_name(v4),
                pools: join(family_pools.iter().filter(|p| p.is_ipv4() == v4)),
            });
        };
        let gateway = from_u128(subnet.start() + 1, v4);
        subnets.push(SubnetAddrs {
            subnet,
            gateway,
            ip_range: None,
            aux_addresses: BTreeMap::new(),
            automatic: true,
            last: None,
        });
    }
    Ok(subnets)
}

fn join<T: fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// Gives `container_id` its addresses on `net` (pure; the caller persists). Idempotent: a
/// container that already has addresses keeps them (a restart keeps its IP).
pub fn allocate_in(
    net: &mut NetworkAddrs,
    container_id: &str,
    req: &AddrRequest,
) -> Result<ContainerAddrs, IpamError> {
    let requested = [req.ipv4.map(IpAddr::V4), req.ipv6.map(IpAddr::V6)];
    if let Some(current) = net.allocations.get(container_id) {
        for want in requested.iter().flatten() {
            if let Some(cur) = current.iter().find(|c| c.is_ipv4() == want.is_ipv4()) {
                if cur != want {
                    return Err(IpamError::AlreadyAllocated {
                        network: net.name.clone(),
                        container: container_id.to_string(),
                        current: *cur,
                        requested: *want,
                    });
                }
            }
        }
        return Ok(net.addrs_of(container_id));
    }

    let mut picked: Vec<(usize, IpAddr)> = Vec::new();
    for (v4, want) in [(true, requested[0]), (false, requested[1])] {
        let family: Vec<usize> = (0..net.subnets.len())
            .filter(|i| net.subnets[*i].subnet.is_ipv4() == v4)
            .collect();
        if family.is_empty() {
            if let Some(w) = want {
                return Err(invalid(format!(
                    "network {}: address {w} requested but the network has no {} subnet{}",
                    net.name,
                    family_name(v4),
                    if v4 { "" } else { " (is enable_ipv6 set?)" }
                )));
            }
            continue;
        }
        let pick = match want {
            Some(w) => {
                let Some(&i) = family.iter().find(|i| net.subnets[**i].subnet.contains(w)) else {
                    return Err(IpamError::AddressOutside {
                        network: net.name.clone(),
                        addr: w,
                        subnets: join(family.iter().map(|i| net.subnets[*i].subnet)),
                    });
                };
                if let Some(why) = net.subnets[i].reserved(w) {
                    return Err(IpamError::AddressReserved {
                        network: net.name.clone(),
                        addr: w,
                        why,
                    });
                }
                if let Some(owner) = net.owner_of(w) {
                    return Err(IpamError::AddressInUse {
                        network: net.name.clone(),
                        addr: w,
                        owner: owner.to_string(),
                    });
                }
                (i, w)
            }
            None => family
                .iter()
                .find_map(|i| next_free(net, *i).map(|a| (*i, a)))
                .ok_or_else(|| IpamError::Exhausted {
                    network: net.name.clone(),
                    family: family_name(v4),
                    subnets: join(family.iter().map(|i| net.subnets[*i].subnet)),
                })?,
        };
        picked.push(pick);
    }
    for (i, addr) in &picked {
        net.subnets[*i].last = Some(*addr);
    }
    net.allocations.insert(
        container_id.to_string(),
        picked.iter().map(|(_, a)| *a).collect(),
    );
    Ok(net.addrs_of(container_id))
}

/// The next free dynamic address of subnet `i` after the last one handed out, wrapping.
fn next_free(net: &NetworkAddrs, i: usize) -> Option<IpAddr> {
    let s = &net.subnets[i];
    let v4 = s.subnet.is_ipv4();
    let (first, last) = s.dynamic_range()?;
    let used: std::collections::HashSet<u128> = net
        .allocations
        .values()
        .flatten()
        .filter(|a| a.is_ipv4() == v4)
        .map(|a| to_u128(*a))
        .collect();
    let start = match s.last.map(to_u128) {
        Some(l) if (first..last).contains(&l) => l + 1,
        _ => first,
    };
    // Among `taken + 1` distinct candidates at least one is free, so the walk is bounded
    // by the number of used and reserved addresses, not by the (maybe /64) range.
    let taken = used.len() as u128 + 2 + s.aux_addresses.len() as u128;
    let span = last - first;
    let steps = taken.min(span).saturating_add(1);
    let mut cand = start;
    for _ in 0..steps {
        let ip = from_u128(cand, v4);
        if !used.contains(&cand) && s.reserved(ip).is_none() {
            return Some(ip);
        }
        cand = if cand == last { first } else { cand + 1 };
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/// Our networks' address records under a state directory (`<--root>/networks`): one
/// `<name>.json` per network, changed only under the exclusive lock `<dir>/.lock`.
pub struct IpamStore {
    dir: PathBuf,
    records: JsonStore,
    pools: IpamPools,
}

impl From<StoreError> for IpamError {
    fn from(e: StoreError) -> IpamError {
        match e {
            StoreError::Io { step, path, source } => IpamError::Io { step, path, source },
            StoreError::Corrupt { path, source } => IpamError::Corrupt { path, source },
        }
    }
}

fn io_err(step: &'static str, path: &Path) -> impl FnOnce(io::Error) -> IpamError {
    let path = path.to_path_buf();
    move |source| IpamError::Io { step, path, source }
}

/// Network names become file names: keep them to what Docker accepts for names.
fn check_name(name: &str) -> Result<(), IpamError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

impl IpamStore {
    /// Opens (creating it if needed) the store in `dir` with the default pools.
    pub fn open(dir: &Path) -> Result<IpamStore, IpamError> {
        IpamStore::with_pools(dir, IpamPools::default())
    }

    pub fn with_pools(dir: &Path, pools: IpamPools) -> Result<IpamStore, IpamError> {
        crate::engine::root::private_dir(dir).map_err(io_err("creating", dir))?;
        Ok(IpamStore {
            dir: dir.to_path_buf(),
            records: JsonStore::new(dir),
            pools,
        })
    }

    pub fn pools(&self) -> &IpamPools {
        &self.pools
    }

    fn lock(&self) -> Result<StoreLock, IpamError> {
        Ok(self.records.lock()?)
    }

    fn read(&self, name: &str) -> Result<Option<NetworkAddrs>, IpamError> {
        Ok(self.records.read(name)?)
    }

    fn write(&self, net: &NetworkAddrs) -> Result<(), IpamError> {
        Ok(self.records.write(&net.name, net)?)
    }

    /// The network's record, if it exists.
    pub fn get(&self, name: &str) -> Result<Option<NetworkAddrs>, IpamError> {
        check_name(name)?;
        self.read(name)
    }

    /// All our networks, sorted by name. Reads need no lock: records are replaced atomically.
    pub fn list(&self) -> Result<Vec<NetworkAddrs>, IpamError> {
        let entries = fs::read_dir(&self.dir).map_err(io_err("listing", &self.dir))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("listing", &self.dir))?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if check_name(name).is_err() {
                continue; // temp files (`.tmp-…`) and strangers
            }
            if let Some(net) = self.read(name)? {
                out.push(net);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Records a new network with its subnets (see [`plan_network`]); `host` is what
    /// [`super::routes::host_prefixes`] returned.
    pub fn create_network(
        &self,
        name: &str,
        configs: &[IpamRequest],
        options: NetworkOptions,
        host: &[HostPrefix],
    ) -> Result<NetworkAddrs, IpamError> {
        check_name(name)?;
        let _lock = self.lock()?;
        if self.read(name)?.is_some() {
            return Err(IpamError::NetworkExists(name.to_string()));
        }
        let others = self.list()?;
        let subnets = plan_network(name, configs, options, &self.pools, host, &others)?;
        let net = NetworkAddrs {
            name: name.to_string(),
            subnets,
            allocations: BTreeMap::new(),
        };
        self.write(&net)?;
        Ok(net)
    }

    /// Forgets a network. Refused while containers still hold addresses on it; returns
    /// whether there was such a network.
    pub fn remove_network(&self, name: &str) -> Result<bool, IpamError> {
        check_name(name)?;
        let _lock = self.lock()?;
        let Some(net) = self.read(name)? else {
            return Ok(false);
        };
        if !net.allocations.is_empty() {
            return Err(IpamError::NetworkInUse {
                network: name.to_string(),
                containers: join(net.allocations.keys()),
            });
        }
        // Read under the lock just now: the record is there to remove.
        self.records.remove(name)?;
        Ok(true)
    }

    /// Gives a container its addresses on `network` (see [`allocate_in`]).
    pub fn allocate(
        &self,
        network: &str,
        container_id: &str,
        req: &AddrRequest,
    ) -> Result<ContainerAddrs, IpamError> {
        check_name(network)?;
        let _lock = self.lock()?;
        let mut net = self
            .read(network)?
            .ok_or_else(|| IpamError::NetworkNotFound(network.to_string()))?;
        let before = net.clone();
        let out = allocate_in(&mut net, container_id, req)?;
        if net != before {
            self.write(&net)?;
        }
        Ok(out)
    }

    /// Frees a container's addresses on `network`; returns whether it had any.
    pub fn release(&self, network: &str, container_id: &str) -> Result<bool, IpamError> {
        check_name(network)?;
        let _lock = self.lock()?;
        let Some(mut net) = self.read(network)? else {
            return Ok(false);
        };
        if net.allocations.remove(container_id).is_none() {
            return Ok(false);
        }
        self.write(&net)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sn(s: &str) -> Subnet {
        Subnet::parse_exact(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn route(s: &str, dev: &str) -> HostPrefix {
        HostPrefix {
            subnet: sn(s),
            origin: format!("route {s} dev {dev}"),
        }
    }

    fn net_with(subnets: Vec<SubnetAddrs>) -> NetworkAddrs {
        NetworkAddrs {
            name: "p_default".into(),
            subnets,
            allocations: BTreeMap::new(),
        }
    }

    fn explicit(subnet: &str) -> IpamRequest {
        IpamRequest {
            subnet: Some(sn(subnet)),
            ..Default::default()
        }
    }

    fn plan(
        configs: &[IpamRequest],
        options: NetworkOptions,
        host: &[HostPrefix],
        others: &[NetworkAddrs],
    ) -> Result<Vec<SubnetAddrs>, IpamError> {
        plan_network(
            "p_front",
            configs,
            options,
            &IpamPools::default(),
            host,
            others,
        )
    }

    fn v4only() -> NetworkOptions {
        NetworkOptions::default()
    }

    fn dual() -> NetworkOptions {
        NetworkOptions {
            enable_ipv4: true,
            enable_ipv6: true,
        }
    }

    #[test]
    fn subnet_parse_display_and_math() {
        let s = sn("172.28.0.0/16");
        assert_eq!(s.to_string(), "172.28.0.0/16");
        assert_eq!(s.prefix_len(), 16);
        assert_eq!(s.size(), 65536);
        assert_eq!(s.last(), ip("172.28.255.255"));
        assert_eq!(s.nth(1), Some(ip("172.28.0.1")));
        assert_eq!(s.nth(65536), None);
        assert!(s.contains(ip("172.28.5.3")));
        assert!(!s.contains(ip("172.29.0.0")));
        assert!(!s.contains(ip("::1")));
        assert!(s.overlaps(&sn("172.28.5.0/24")));
        assert!(sn("172.28.5.0/24").overlaps(&s));
        assert!(s.overlaps(&sn("172.0.0.0/8")));
        assert!(!s.overlaps(&sn("172.29.0.0/16")));
        assert!(!s.overlaps(&sn("::/0")));
        assert!(s.contains_subnet(&sn("172.28.5.0/24")));
        assert!(!sn("172.28.5.0/24").contains_subnet(&s));
        assert_eq!("10.1.2.3/8".parse::<Subnet>().unwrap(), sn("10.0.0.0/8"));
        assert_eq!(sn("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(sn("::/0").size(), u128::MAX);

        let v6 = sn("fd00:1::/64");
        assert_eq!(v6.to_string(), "fd00:1::/64");
        assert_eq!(v6.last(), ip("fd00:1::ffff:ffff:ffff:ffff"));
        assert!(v6.contains(ip("fd00:1::abcd")));
        assert!(v6.overlaps(&sn("fd00::/16")));
        assert!(!v6.overlaps(&sn("fd00:2::/64")));

        let err = Subnet::parse_exact("172.28.5.0/16").unwrap_err();
        assert!(err.to_string().contains("172.28.0.0/16"), "{err}");
        for bad in [
            "172.28.0.0",
            "172.28.0.0/33",
            "nope/16",
            "10.0.0.0/x",
            "::/129",
        ] {
            assert!(Subnet::parse_exact(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"172.28.0.0/16\"");
        assert_eq!(serde_json::from_str::<Subnet>(&json).unwrap(), s);
    }

    #[test]
    fn pool_walks_around_taken_prefixes() {
        let docker = Pool::new("172.17.0.0/12", 16).unwrap();
        assert_eq!(docker.first_free(&[]), Some(sn("172.17.0.0/16")));
        // Docker's docker0.
        assert_eq!(
            docker.first_free(&[sn("172.17.0.0/16")]),
            Some(sn("172.18.0.0/16"))
        );
        // A smaller prefix inside a candidate blocks the whole candidate.
        assert_eq!(
            docker.first_free(&[sn("172.17.0.0/16"), sn("172.18.3.0/24")]),
            Some(sn("172.19.0.0/16"))
        );
        // A bigger prefix skips several candidates at once.
        assert_eq!(
            docker.first_free(&[sn("172.16.0.0/14")]),
            Some(sn("172.20.0.0/16"))
        );
        // The whole pool taken.
        assert_eq!(docker.first_free(&[sn("172.16.0.0/12")]), None);
        // 172.16.0.0/16 is not part of the pool (Docker starts at 172.17).
        let all: Vec<Subnet> = (17..=31).map(|i| sn(&format!("172.{i}.0.0/16"))).collect();
        assert_eq!(docker.first_free(&all), None);

        let small = Pool::new("192.168.0.0/16", 20).unwrap();
        assert_eq!(
            small.first_free(&[sn("192.168.0.0/24"), sn("192.168.16.5/32")]),
            Some(sn("192.168.32.0/20"))
        );

        // Podman's 10.88.0.0/16 in a pool over 10.88.0.0/14.
        let p = Pool::new("10.88.0.0/14", 16).unwrap();
        assert_eq!(
            p.first_free(&[sn("10.88.0.0/16"), sn("10.89.0.0/24")]),
            Some(sn("10.90.0.0/16"))
        );

        // IPv6: jumps, never iterates the 2^16 /64s.
        let v6 = Pool::new("fd00:1::/48", 64).unwrap();
        assert_eq!(
            v6.first_free(&[sn("fd00:1::/50")]),
            Some(sn("fd00:1:0:4000::/64"))
        );
        assert_eq!(v6.first_free(&[sn("fd00::/16")]), None);

        assert!(Pool::new("10.0.0.0/16", 8).is_err());
        assert!(Pool::new("10.0.0.0/16", 33).is_err());
        assert_eq!(docker.to_string(), "172.17.0.0/12 split into /16");
    }

    #[test]
    fn automatic_subnets_skip_docker_podman_and_our_networks() {
        let host = &[
            route("172.17.0.0/16", "docker0"),
            route("10.88.0.0/16", "podman0"),
            route("10.89.0.0/24", "podman1"),
        ];
        let plan1 = plan(&[], v4only(), host, &[]).unwrap();
        assert_eq!(plan1.len(), 1);
        assert_eq!(plan1[0].subnet, sn("172.18.0.0/16"));
        assert_eq!(plan1[0].gateway, ip("172.18.0.1"));
        assert!(plan1[0].automatic);

        let mut ours = net_with(plan1);
        ours.name = "p_default".into();
        let plan2 = plan(&[], v4only(), host, std::slice::from_ref(&ours)).unwrap();
        assert_eq!(plan2[0].subnet, sn("172.19.0.0/16"));

        // 172.17-31 all taken: falls to 192.168.0.0/20, skipping a home LAN.
        let mut busy: Vec<HostPrefix> = (17..=31)
            .map(|i| route(&format!("172.{i}.0.0/16"), "x"))
            .collect();
        busy.push(route("192.168.0.0/24", "wlan0"));
        let plan3 = plan(&[], v4only(), &busy, &[]).unwrap();
        assert_eq!(plan3[0].subnet, sn("192.168.16.0/20"));

        // Everything taken.
        busy.push(route("192.168.0.0/16", "vpn"));
        let err = plan(&[], v4only(), &busy, &[]).unwrap_err();
        assert!(matches!(err, IpamError::PoolsExhausted { .. }));
        assert!(
            err.to_string().contains("172.17.0.0/12 split into /16"),
            "{err}"
        );

        // Dual stack: an IPv6 /64 from the ULA pool too.
        let plan4 = plan(&[], dual(), host, &[]).unwrap();
        assert_eq!(plan4.len(), 2);
        assert_eq!(plan4[1].subnet, sn("fd0c:6f6d:706f::/64"));
        assert_eq!(plan4[1].gateway, ip("fd0c:6f6d:706f::1"));

        // IPv6 only.
        let plan5 = plan(
            &[],
            NetworkOptions {
                enable_ipv4: false,
                enable_ipv6: true,
            },
            host,
            &[],
        )
        .unwrap();
        assert_eq!(plan5.len(), 1);
        assert!(!plan5[0].subnet.is_ipv4());
    }

    #[test]
    fn explicit_config_validation_messages() {
        let host = [route("172.17.0.0/16", "docker0")];
        let ok = IpamRequest {
            subnet: Some(sn("172.28.0.0/16")),
            ip_range: Some(sn("172.28.5.0/24")),
            gateway: Some(ip("172.28.5.254")),
            aux_addresses: [("host1".to_string(), ip("172.28.1.5"))].into(),
        };
        let p = plan(std::slice::from_ref(&ok), v4only(), &host, &[]).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].gateway, ip("172.28.5.254"));
        assert!(!p[0].automatic);

        let msg = |req: IpamRequest| plan(&[req], dual(), &host, &[]).unwrap_err().to_string();
        assert_eq!(
            msg(IpamRequest {
                gateway: Some(ip("10.0.0.1")),
                ..ok.clone()
            }),
            "network p_front: gateway 10.0.0.1 is not inside subnet 172.28.0.0/16"
        );
        assert_eq!(
            msg(IpamRequest {
                gateway: Some(ip("172.28.255.255")),
                ..ok.clone()
            }),
            "network p_front: gateway 172.28.255.255 is the network or broadcast address of subnet 172.28.0.0/16"
        );
        assert_eq!(
            msg(IpamRequest {
                ip_range: Some(sn("172.29.0.0/24")),
                ..ok.clone()
            }),
            "network p_front: ip_range 172.29.0.0/24 is not inside subnet 172.28.0.0/16"
        );
        assert_eq!(
            msg(IpamRequest {
                ip_range: Some(sn("172.0.0.0/8")),
                ..ok.clone()
            }),
            "network p_front: ip_range 172.0.0.0/8 is not inside subnet 172.28.0.0/16"
        );
        assert_eq!(
            msg(IpamRequest {
                aux_addresses: [("db".to_string(), ip("10.1.1.1"))].into(),
                ..ok.clone()
            }),
            "network p_front: aux address db=10.1.1.1 is not inside subnet 172.28.0.0/16"
        );
        assert_eq!(
            msg(IpamRequest {
                subnet: None,
                ..ok.clone()
            }),
            "network p_front: ipam.config gives gateway 172.28.5.254 without a subnet"
        );
        assert_eq!(
            msg(explicit("172.17.0.0/16")),
            "network p_front: subnet 172.17.0.0/16 overlaps route 172.17.0.0/16 dev docker0 on the host"
        );
        assert_eq!(
            msg(explicit("172.16.0.0/12")),
            "network p_front: subnet 172.16.0.0/12 overlaps route 172.17.0.0/16 dev docker0 on the host"
        );
        assert_eq!(
            msg(explicit("10.0.0.0/31")),
            "network p_front: subnet 10.0.0.0/31 is too small (it needs room for a gateway and a container)"
        );
        let other = NetworkAddrs {
            name: "q_back".into(),
            subnets: plan(&[explicit("10.5.0.0/16")], v4only(), &[], &[]).unwrap(),
            allocations: BTreeMap::new(),
        };
        assert_eq!(
            plan(&[explicit("10.5.3.0/24")], v4only(), &host, &[other])
                .unwrap_err()
                .to_string(),
            "network p_front: subnet 10.5.3.0/24 overlaps subnet 10.5.0.0/16 of network q_back"
        );
        assert_eq!(
            plan(
                &[explicit("10.6.0.0/16"), explicit("10.6.1.0/24")],
                v4only(),
                &host,
                &[]
            )
            .unwrap_err()
            .to_string(),
            "network p_front: ipam.config subnets 10.6.0.0/16 and 10.6.1.0/24 overlap"
        );
        assert_eq!(
            plan(&[explicit("fd00:9::/64")], v4only(), &host, &[])
                .unwrap_err()
                .to_string(),
            "network p_front: ipam.config has IPv6 subnet fd00:9::/64 but enable_ipv6 is not set"
        );
        // An explicit IPv4 subnet with enable_ipv6: the IPv6 one comes from the pool.
        let p = plan(&[explicit("10.7.0.0/24")], dual(), &host, &[]).unwrap();
        assert_eq!(p[0].subnet, sn("10.7.0.0/24"));
        assert!(!p[1].subnet.is_ipv4());
    }

    fn explicit_net(req: IpamRequest, options: NetworkOptions) -> NetworkAddrs {
        let mut reqs = vec![req];
        if options.enable_ipv6 {
            reqs.push(explicit("fd00:aa::/64"));
        }
        net_with(plan(&reqs, options, &[], &[]).unwrap())
    }

    fn auto(net: &mut NetworkAddrs, id: &str) -> Result<IpAddr, IpamError> {
        allocate_in(net, id, &AddrRequest::default()).map(|a| a.ipv4.unwrap().addr)
    }

    #[test]
    fn allocation_order_reservations_and_requests() {
        let mut net = explicit_net(
            IpamRequest {
                subnet: Some(sn("10.10.0.0/24")),
                aux_addresses: [("router".to_string(), ip("10.10.0.3"))].into(),
                ..Default::default()
            },
            v4only(),
        );
        assert_eq!(net.subnets[0].gateway, ip("10.10.0.1"));
        assert_eq!(auto(&mut net, "a").unwrap(), ip("10.10.0.2"));
        // .3 is the aux address.
        assert_eq!(auto(&mut net, "b").unwrap(), ip("10.10.0.4"));
        // Idempotent: a container keeps its address.
        assert_eq!(auto(&mut net, "a").unwrap(), ip("10.10.0.2"));
        let got = allocate_in(&mut net, "b", &AddrRequest::default()).unwrap();
        let v4 = got.ipv4.unwrap();
        assert_eq!(
            (v4.subnet, v4.gateway),
            (sn("10.10.0.0/24"), ip("10.10.0.1"))
        );
        assert!(got.ipv6.is_none());

        // Requested addresses.
        let req = |a: &str| AddrRequest {
            ipv4: Some(a.parse().unwrap()),
            ipv6: None,
        };
        let c = allocate_in(&mut net, "c", &req("10.10.0.50")).unwrap();
        assert_eq!(c.ipv4.unwrap().addr, ip("10.10.0.50"));
        let e = |id: &str, a: &str, net: &mut NetworkAddrs| {
            allocate_in(net, id, &req(a)).unwrap_err().to_string()
        };
        assert_eq!(
            e("d", "10.10.0.50", &mut net),
            "network p_default: address 10.10.0.50 is already in use by container c"
        );
        assert_eq!(
            e("d", "10.10.0.1", &mut net),
            "network p_default: address 10.10.0.1 is the gateway"
        );
        assert_eq!(
            e("d", "10.10.0.3", &mut net),
            "network p_default: address 10.10.0.3 is reserved as aux address \"router\""
        );
        assert_eq!(
            e("d", "10.10.0.0", &mut net),
            "network p_default: address 10.10.0.0 is the network address of 10.10.0.0/24"
        );
        assert_eq!(
            e("d", "10.10.0.255", &mut net),
            "network p_default: address 10.10.0.255 is the broadcast address of 10.10.0.0/24"
        );
        assert_eq!(
            e("d", "10.11.0.5", &mut net),
            "network p_default: address 10.11.0.5 is not inside any of its subnets (10.10.0.0/24)"
        );
        assert_eq!(
            e("a", "10.10.0.9", &mut net),
            "container a already has address 10.10.0.2 on network p_default, not the requested 10.10.0.9"
        );
        assert_eq!(
            allocate_in(
                &mut net,
                "d",
                &AddrRequest {
                    ipv4: None,
                    ipv6: Some("fd00::5".parse().unwrap())
                }
            )
            .unwrap_err()
            .to_string(),
            "network p_default: address fd00::5 requested but the network has no IPv6 subnet (is enable_ipv6 set?)"
        );
        // Serial: after .50 comes .51, not .5.
        assert_eq!(auto(&mut net, "d").unwrap(), ip("10.10.0.51"));
    }

    #[test]
    fn ip_range_limits_dynamic_addresses_only() {
        let mut net = explicit_net(
            IpamRequest {
                subnet: Some(sn("172.28.0.0/16")),
                ip_range: Some(sn("172.28.5.0/30")),
                gateway: Some(ip("172.28.5.254")),
                ..Default::default()
            },
            v4only(),
        );
        // The range holds .0-.3; all four are host addresses of the /16.
        let got: Vec<IpAddr> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| auto(&mut net, id).unwrap())
            .collect();
        assert_eq!(
            got,
            ["172.28.5.0", "172.28.5.1", "172.28.5.2", "172.28.5.3"].map(ip)
        );
        let err = auto(&mut net, "e").unwrap_err();
        assert_eq!(
            err.to_string(),
            "network p_default: no free IPv4 address left in 172.28.0.0/16"
        );
        // A static address outside the range but inside the subnet is fine (as in Docker).
        let s = allocate_in(
            &mut net,
            "e",
            &AddrRequest {
                ipv4: Some("172.28.9.9".parse().unwrap()),
                ipv6: None,
            },
        )
        .unwrap();
        assert_eq!(s.ipv4.unwrap().addr, ip("172.28.9.9"));
    }

    #[test]
    fn exhaustion_release_and_reuse() {
        let mut net = explicit_net(explicit("10.20.0.0/29"), v4only());
        // .1 gateway, .2-.6 containers, .7 broadcast.
        let got: Vec<IpAddr> = (0..5)
            .map(|i| auto(&mut net, &format!("c{i}")).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "10.20.0.2",
                "10.20.0.3",
                "10.20.0.4",
                "10.20.0.5",
                "10.20.0.6"
            ]
            .map(ip)
        );
        assert!(matches!(
            auto(&mut net, "c5").unwrap_err(),
            IpamError::Exhausted { .. }
        ));
        net.allocations.remove("c1");
        // The only free address is reused after wrapping.
        assert_eq!(auto(&mut net, "c5").unwrap(), ip("10.20.0.3"));
        net.allocations.remove("c3");
        net.allocations.remove("c0");
        // Serial: continue after .3 -> .5 is next free (c3's), then wrap to .2.
        assert_eq!(auto(&mut net, "c6").unwrap(), ip("10.20.0.5"));
        assert_eq!(auto(&mut net, "c7").unwrap(), ip("10.20.0.2"));
    }

    #[test]
    fn ipv6_64_allocation() {
        let mut net = explicit_net(explicit("10.30.0.0/24"), dual());
        assert_eq!(net.subnets[1].subnet, sn("fd00:aa::/64"));
        assert_eq!(net.subnets[1].gateway, ip("fd00:aa::1"));
        let a = allocate_in(&mut net, "a", &AddrRequest::default()).unwrap();
        assert_eq!(a.ipv4.unwrap().addr, ip("10.30.0.2"));
        assert_eq!(a.ipv6.unwrap().addr, ip("fd00:aa::2"));
        assert_eq!(a.ipv6.unwrap().subnet.prefix_len(), 64);
        let b = allocate_in(
            &mut net,
            "b",
            &AddrRequest {
                ipv4: None,
                ipv6: Some("fd00:aa::beef".parse().unwrap()),
            },
        )
        .unwrap();
        assert_eq!(b.ipv6.unwrap().addr, ip("fd00:aa::beef"));
        assert_eq!(b.ipv4.unwrap().addr, ip("10.30.0.3"));
        let c = allocate_in(&mut net, "c", &AddrRequest::default()).unwrap();
        assert_eq!(c.ipv6.unwrap().addr, ip("fd00:aa::bef0"));
        // The last address of a /64 is usable (no broadcast in IPv6).
        let d = allocate_in(
            &mut net,
            "d",
            &AddrRequest {
                ipv4: None,
                ipv6: Some("fd00:aa::ffff:ffff:ffff:ffff".parse().unwrap()),
            },
        )
        .unwrap();
        assert!(d.ipv6.is_some());
        // …and the next dynamic one wraps to the start of the /64.
        let e = allocate_in(&mut net, "e", &AddrRequest::default()).unwrap();
        assert_eq!(e.ipv6.unwrap().addr, ip("fd00:aa::3"));
    }

    fn tmpdir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("compose-test-ipam-")
            .tempdir()
            .unwrap()
    }

    #[test]
    fn store_persists_and_refuses() {
        let dir = tmpdir();
        let store = IpamStore::open(dir.path()).unwrap();
        let host = [route("172.17.0.0/16", "docker0")];
        let a = store
            .create_network("p_default", &[], v4only(), &host)
            .unwrap();
        assert_eq!(a.subnets[0].subnet, sn("172.18.0.0/16"));
        let b = store
            .create_network("p_back", &[], v4only(), &host)
            .unwrap();
        assert_eq!(b.subnets[0].subnet, sn("172.19.0.0/16"));
        assert!(matches!(
            store.create_network("p_back", &[], v4only(), &host),
            Err(IpamError::NetworkExists(_))
        ));
        assert_eq!(
            store
                .create_network("p_x", &[explicit("172.19.4.0/24")], v4only(), &host)
                .unwrap_err()
                .to_string(),
            "network p_x: subnet 172.19.4.0/24 overlaps subnet 172.19.0.0/16 of network p_back"
        );
        assert!(store.create_network("../x", &[], v4only(), &host).is_err());

        let got = store
            .allocate("p_default", "c1", &AddrRequest::default())
            .unwrap();
        assert_eq!(got.ipv4.unwrap().addr, ip("172.18.0.2"));
        // A second store on the same dir (another process) sees the allocation.
        let again = IpamStore::open(dir.path()).unwrap();
        let rec = again.get("p_default").unwrap().unwrap();
        assert_eq!(rec.allocations["c1"], vec![ip("172.18.0.2")]);
        assert_eq!(
            again
                .allocate("p_default", "c2", &AddrRequest::default())
                .unwrap()
                .ipv4
                .unwrap()
                .addr,
            ip("172.18.0.3")
        );
        let names: Vec<String> = store.list().unwrap().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["p_back", "p_default"]);

        assert!(matches!(
            store.remove_network("p_default"),
            Err(IpamError::NetworkInUse { .. })
        ));
        assert!(store.release("p_default", "c1").unwrap());
        assert!(!store.release("p_default", "c1").unwrap());
        assert!(store.release("p_default", "c2").unwrap());
        assert!(store.remove_network("p_default").unwrap());
        assert!(!store.remove_network("p_default").unwrap());
        assert!(matches!(
            store.allocate("p_default", "c1", &AddrRequest::default()),
            Err(IpamError::NetworkNotFound(_))
        ));
        // Its subnet is free again.
        let c = store.create_network("p_new", &[], v4only(), &host).unwrap();
        assert_eq!(c.subnets[0].subnet, sn("172.18.0.0/16"));
        // The file is the documented JSON.
        let text = fs::read_to_string(dir.path().join("p_new.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["subnets"][0]["subnet"], "172.18.0.0/16");
        assert_eq!(v["subnets"][0]["gateway"], "172.18.0.1");
    }

    #[test]
    fn concurrent_allocation_never_duplicates() {
        let dir = tmpdir();
        let store = IpamStore::open(dir.path()).unwrap();
        store
            .create_network("p_default", &[explicit("10.40.0.0/24")], v4only(), &[])
            .unwrap();
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    // Each thread has its own store and lock fd, as two processes would.
                    let store = IpamStore::open(&path).unwrap();
                    (0..50)
                        .map(|i| {
                            store
                                .allocate(
                                    "p_default",
                                    &format!("t{t}-{i}"),
                                    &AddrRequest::default(),
                                )
                                .unwrap()
                                .ipv4
                                .unwrap()
                                .addr
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<IpAddr> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(all.len(), 100);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 100, "duplicate addresses handed out");
        let rec = store.get("p_default").unwrap().unwrap();
        assert_eq!(rec.allocations.len(), 100);

        // Subnets too: two threads creating networks at once get disjoint subnets.
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let store = IpamStore::open(&path).unwrap();
                    (0..6)
                        .map(|i| {
                            store
                                .create_network(&format!("n{t}_{i}"), &[], v4only(), &[])
                                .unwrap()
                                .subnets[0]
                                .subnet
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let subnets: Vec<Subnet> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        for (i, a) in subnets.iter().enumerate() {
            for b in &subnets[i + 1..] {
                assert!(!a.overlaps(b), "{a} and {b} handed out twice");
            }
        }
    }
}
