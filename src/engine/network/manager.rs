//! Our networks as one whole: what `up` asks for ([`Networks::ensure`]), what `down` and
//! `compose network rm` take away ([`Networks::remove`]), container addresses and published
//! ports, on top of the building blocks of this module (IPAM records, the bridge, nftables).
//!
//! Why it looks like this:
//! - There is no daemon, so the truth is on disk under `<root>/networks/`: IPAM's `<name>.json`
//!   records and, in the subdirectory `defs/` (so that IPAM's listing never sees them), one
//!   `<name>.json` per network with the definition it was created from, its bridge and its
//!   creation time. Kernel state (bridge, rules, sysctls) is derived from those records and
//!   re-created by [`Networks::ensure`] whenever it is missing (after a reboot, or after someone
//!   flushed the ruleset), so `up` after a reboot just works.
//! - Every change of a network (ensure, remove, allocate) runs under the exclusive lock
//!   `<root>/networks/defs/.lock`: two `compose up` of the same project at once create one
//!   network, and a network is never removed while another process gives it a container. It is
//!   a different file from IPAM's own lock, which IPAM takes inside ours.
//! - A network that already exists is kept as it is, even when the definition asked for now
//!   differs: its containers are still using it. The caller gets the recorded definition back
//!   and can warn ([`NetworkDef::differences`]).
//! - Creation is ordered IPAM record, then definition; removal the reverse. A reader (`ls`)
//!   that races with either therefore never sees a definition without addresses.
//! - [`Networks::open_in`] does all of it inside another network namespace (netlink and
//!   nftables sockets made there, sysctls and port probes from a thread that joined it), which
//!   is how the tests get a disposable host.

use std::collections::HashSet;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::attach::{ensure_bridge, remove_bridge, BridgeSpec};
use super::ipam::{
    AddrRequest, ContainerAddrs, IpamError, IpamRequest, IpamStore, NetworkAddrs, NetworkOptions,
};
use super::link::{self, Netlink};
use super::nft::{self, NetworkRules, Nft, NftError, PortMapping, Protocol};
use super::routes::{self, RoutesError};
use crate::engine::fsutil::{self, StoreLock};
use crate::engine::json_store::{self, JsonStore, Layout, StoreError};

/// The only driver we implement.
pub const BRIDGE_DRIVER: &str = "bridge";

/// What a network should be, as the planner derives it from the Compose file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDef {
    /// Full name, e.g. `myproj_default`.
    pub name: String,
    /// Owning project (for `down` and `ls`).
    #[serde(default)]
    pub project: Option<String>,
    /// Only `bridge` is supported; anything else is refused with a clear error.
    pub driver: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub enable_ipv6: bool,
    #[serde(default, with = "ipam_serde")]
    pub ipam: Vec<IpamRequest>,
    /// `driver_opts` `com.docker.network.bridge.name`.
    #[serde(default)]
    pub bridge_name: Option<String>,
    /// `driver_opts` `com.docker.network.driver.mtu`.
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub labels: IndexMap<String, String>,
}

impl NetworkDef {
    /// A plain bridge network with automatic addresses.
    pub fn bridge(name: &str) -> NetworkDef {
        NetworkDef {
            name: name.to_string(),
            project: None,
            driver: BRIDGE_DRIVER.to_string(),
            internal: false,
            enable_ipv6: false,
            ipam: Vec::new(),
            bridge_name: None,
            mtu: None,
            labels: IndexMap::new(),
        }
    }

    /// The fields (by their Compose names) in which `wanted` differs from this (recorded)
    /// definition; empty when they agree. For the caller's "network exists with a different
    /// configuration" warning.
    pub fn differences(&self, wanted: &NetworkDef) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut check = |differs: bool, field: &'static str| {
            if differs {
                out.push(field);
            }
        };
        check(self.project != wanted.project, "project");
        check(self.driver != wanted.driver, "driver");
        check(self.internal != wanted.internal, "internal");
        check(self.enable_ipv6 != wanted.enable_ipv6, "enable_ipv6");
        check(self.ipam != wanted.ipam, "ipam");
        check(
            self.bridge_name != wanted.bridge_name,
            "driver_opts.com.docker.network.bridge.name",
        );
        check(
            self.mtu != wanted.mtu,
            "driver_opts.com.docker.network.driver.mtu",
        );
        check(self.labels != wanted.labels, "labels");
        out
    }
}

/// `IpamRequest` has no serde of its own; its fields are all serializable, so it is stored
/// through this mirror (same names as Compose's `ipam.config`).
mod ipam_serde {
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::engine::network::ipam::{IpamRequest, Subnet};

    #[derive(Serialize, Deserialize)]
    struct Entry {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subnet: Option<Subnet>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip_range: Option<Subnet>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<IpAddr>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        aux_addresses: BTreeMap<String, IpAddr>,
    }

    pub fn serialize<S: Serializer>(v: &[IpamRequest], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|r| Entry {
            subnet: r.subnet,
            ip_range: r.ip_range,
            gateway: r.gateway,
            aux_addresses: r.aux_addresses.clone(),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpamRequest>, D::Error> {
        Ok(Vec::<Entry>::deserialize(d)?
            .into_iter()
            .map(|e| IpamRequest {
                subnet: e.subnet,
                ip_range: e.ip_range,
                gateway: e.gateway,
                aux_addresses: e.aux_addresses,
            })
            .collect())
    }
}

/// One of our networks: its recorded definition, bridge, addresses and allocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub def: NetworkDef,
    pub bridge: String,
    pub addrs: NetworkAddrs,
    /// Unix seconds.
    pub created: i64,
}

/// `<root>/networks/defs/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    def: NetworkDef,
    bridge: String,
    created: i64,
}

#[derive(Debug, Error)]
pub enum NetworkError {
    #[error("invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName { name: String },
    #[error("network {network}: driver {driver:?} is not supported (only \"bridge\" is)")]
    UnsupportedDriver { network: String, driver: String },
    #[error("network {network}: bridge name {bridge:?} (driver_opts com.docker.network.bridge.name): {source}")]
    InvalidBridgeName {
        network: String,
        bridge: String,
        source: io::Error,
    },
    #[error("network {network}: bridge {bridge} is already the bridge of network {other}")]
    BridgeTaken {
        network: String,
        bridge: String,
        other: String,
    },
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network {network} has active endpoints (containers {})", containers.join(", "))]
    InUse {
        network: String,
        containers: Vec<String>,
    },
    #[error("network {network}: its address record is missing (it has a definition in {path}); remove it and create it again")]
    MissingAddresses { network: String, path: PathBuf },
    #[error(transparent)]
    Ipam(IpamError),
    #[error("network {network}: reading the host's routes: {source}")]
    Routes {
        network: String,
        source: RoutesError,
    },
    #[error("network {network}: {step}: {source}")]
    Link {
        network: String,
        step: String,
        source: io::Error,
    },
    #[error("{context}: {source}")]
    Nft { context: String, source: NftError },
    #[error("{step}: {source}")]
    Sysctl { step: String, source: io::Error },
    #[error("{step} {path}: {source}")]
    Io {
        step: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("reading {path}: corrupt network definition: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no free {proto} host port left in the ephemeral range {low}-{high}")]
    NoFreePort {
        proto: &'static str,
        low: u16,
        high: u16,
    },
    #[error("checking host port {addr}/{proto}: {source}")]
    HostPort {
        addr: SocketAddr,
        proto: &'static str,
        source: io::Error,
    },
}

impl From<IpamError> for NetworkError {
    fn from(e: IpamError) -> Self {
        match e {
            IpamError::NetworkNotFound(n) => NetworkError::NotFound(n),
            other => NetworkError::Ipam(other),
        }
    }
}

impl From<StoreError> for NetworkError {
    fn from(e: StoreError) -> NetworkError {
        match e {
            StoreError::Io { step, path, source } => NetworkError::Io { step, path, source },
            StoreError::Corrupt { path, source } => NetworkError::Corrupt { path, source },
        }
    }
}

fn io_err(step: &'static str, path: &Path) -> impl FnOnce(io::Error) -> NetworkError {
    let path = path.to_path_buf();
    move |source| NetworkError::Io { step, path, source }
}

fn nft_err(context: impl Into<String>) -> impl FnOnce(NftError) -> NetworkError {
    let context = context.into();
    move |source| NetworkError::Nft { context, source }
}

/// Names become file names: the same rule as IPAM's (Docker's name rule).
fn check_name(name: &str) -> Result<(), NetworkError> {
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
        Err(NetworkError::InvalidName {
            name: name.to_string(),
        })
    }
}

/// A published port as read back from its rule tag (see [`nft::port_tag`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublishedPort {
    /// The key of the tag: the network's bridge (rules of older versions: the network name).
    pub network: String,
    pub protocol: Protocol,
    /// `None`: every local address.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
}

impl PublishedPort {
    /// Whether a mapping on `host_ip:port/proto` would collide with this one (same protocol
    /// and port, and one of the two addresses includes the other).
    fn collides(&self, proto: Protocol, host_ip: Option<IpAddr>, port: u16) -> bool {
        let any = |ip: Option<IpAddr>| ip.is_none_or(|i| i.is_unspecified());
        self.protocol == proto
            && self.host_port == port
            && (any(self.host_ip) || any(host_ip) || self.host_ip == host_ip)
    }
}

/// Parses `compose:port:BRIDGE:PROTO:IP:PORT` (IP is `*` or an address, IPv6 ones contain
/// colons, bridge and network names never do; older versions wrote the network name).
pub fn parse_port_tag(tag: &str) -> Option<PublishedPort> {
    let rest = tag.strip_prefix(nft::TAG_PREFIX)?.strip_prefix("port:")?;
    let (network, rest) = rest.split_once(':')?;
    let (proto, rest) = rest.split_once(':')?;
    let (ip, port) = rest.rsplit_once(':')?;
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    let host_ip = match ip {
        "*" => None,
        ip => Some(ip.parse().ok()?),
    };
    Some(PublishedPort {
        network: network.to_string(),
        protocol,
        host_ip,
        host_port: port.parse().ok()?,
    })
}

/// Our networks under a state root, acting on the current network namespace or on another one.
pub struct Networks {
    root: PathBuf,
    /// `root` canonicalised, the part of bridge names that keeps state roots apart.
    canonical_root: PathBuf,
    defs: PathBuf,
    ipam: IpamStore,
    ns: Option<OwnedFd>,
}

impl std::fmt::Debug for Networks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Networks")
            .field("root", &self.root)
            .field("ns", &self.ns)
            .finish()
    }
}

impl Networks {
    /// Our networks under `root`, acting in the calling thread's network namespace.
    pub fn open(root: &Path) -> Result<Networks, NetworkError> {
        Networks::open_with(root, None)
    }

    /// Our networks under `root`, acting in the network namespace `ns` (the fd is duplicated;
    /// the caller's namespace never changes).
    pub fn open_in(root: &Path, ns: BorrowedFd<'_>) -> Result<Networks, NetworkError> {
        let owned = ns.try_clone_to_owned().map_err(|source| NetworkError::Io {
            step: "duplicating the network namespace fd for",
            path: root.to_path_buf(),
            source,
        })?;
        Networks::open_with(root, Some(owned))
    }

    fn open_with(root: &Path, ns: Option<OwnedFd>) -> Result<Networks, NetworkError> {
        let dir = crate::engine::root::StateRoot::new(root).networks();
        // Bridge names hash the root: one root spelt two ways must give one name.
        let canonical_root = fs::canonicalize(root)
            .or_else(|_| std::path::absolute(root))
            .unwrap_or_else(|_| root.to_path_buf());
        Ok(Networks {
            root: root.to_path_buf(),
            canonical_root,
            defs: dir.join("defs"),
            ipam: IpamStore::open(&dir)?,
            ns,
        })
    }

    // --- plumbing -------------------------------------------------------------------------

    fn in_ns<R: Send>(&self, f: impl FnOnce() -> R + Send) -> io::Result<R> {
        match &self.ns {
            Some(ns) => link::in_netns(ns.as_fd(), f),
            None => Ok(f()),
        }
    }

    fn netlink(&self, network: &str) -> Result<Netlink, NetworkError> {
        match &self.ns {
            Some(ns) => Netlink::new_in(ns.as_fd()),
            None => Netlink::new(),
        }
        .map_err(|source| NetworkError::Link {
            network: network.to_string(),
            step: "opening rtnetlink".into(),
            source,
        })
    }

    fn nft(&self) -> Result<Nft, NetworkError> {
        match &self.ns {
            Some(ns) => Nft::new_in(ns.as_fd()),
            None => Nft::new(),
        }
        .map_err(nft_err("opening nftables"))
    }

    fn lock(&self) -> Result<StoreLock, NetworkError> {
        crate::engine::root::private_dir(&self.defs).map_err(io_err("creating", &self.defs))?;
        Ok(JsonStore::new(&self.defs).lock()?)
    }

    fn def_path(&self, name: &str) -> PathBuf {
        self.defs.join(format!("{name}.json"))
    }

    fn read_record(&self, name: &str) -> Result<Option<Record>, NetworkError> {
        Ok(json_store::read(&self.def_path(name))?)
    }

    fn write_record(&self, rec: &Record) -> Result<(), NetworkError> {
        let path = self.def_path(&rec.def.name);
        Ok(json_store::write(&path, rec, Layout::Pretty)?)
    }

    fn delete_record(&self, name: &str) -> Result<(), NetworkError> {
        JsonStore::new(&self.defs).remove(name)?;
        Ok(())
    }

    /// Names of the recorded definitions, sorted.
    fn record_names(&self) -> Result<Vec<String>, NetworkError> {
        let entries = match fs::read_dir(&self.defs) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("listing", &self.defs)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("listing", &self.defs))?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if check_name(name).is_ok() {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    // --- networks -------------------------------------------------------------------------

    /// Creates the network if needed and makes sure its kernel state is there (see the module
    /// docs); returns what is recorded, which may differ from `def` for an existing network.
    pub fn ensure(&self, def: &NetworkDef) -> Result<NetworkInfo, NetworkError> {
        check_name(&def.name)?;
        let _lock = self.lock()?;
        if let Some(rec) = self.read_record(&def.name)? {
            let addrs = match self.ipam.get(&def.name)? {
                Some(a) => a,
                None => self.create_addrs(&rec.def)?,
            };
            self.apply(&rec, &addrs)?;
            return Ok(info(rec, addrs));
        }

        if def.driver != BRIDGE_DRIVER {
            return Err(NetworkError::UnsupportedDriver {
                network: def.name.clone(),
                driver: def.driver.clone(),
            });
        }
        let bridge = match &def.bridge_name {
            Some(b) => {
                link::check_ifname(b).map_err(|source| NetworkError::InvalidBridgeName {
                    network: def.name.clone(),
                    bridge: b.clone(),
                    source,
                })?;
                b.clone()
            }
            None => link::bridge_name(&self.canonical_root, &def.name),
        };
        for other in self.record_names()? {
            if let Some(r) = self.read_record(&other)? {
                if r.bridge == bridge {
                    return Err(NetworkError::BridgeTaken {
                        network: def.name.clone(),
                        bridge,
                        other,
                    });
                }
            }
        }
        // An address record without a definition is a creation that stopped half-way: adopt it.
        let addrs = match self.ipam.get(&def.name)? {
            Some(a) => a,
            None => self.create_addrs(def)?,
        };
        let rec = Record {
            def: def.clone(),
            bridge,
            created: fsutil::now_secs(),
        };
        self.write_record(&rec)?;
        if let Err(e) = self.apply(&rec, &addrs) {
            // A network that could not be set up is not left behind half-made.
            let _ = self.teardown(&def.name, &rec.bridge);
            let _ = self.delete_record(&def.name);
            let _ = self.ipam.remove_network(&def.name);
            return Err(e);
        }
        Ok(info(rec, addrs))
    }

    fn create_addrs(&self, def: &NetworkDef) -> Result<NetworkAddrs, NetworkError> {
        let routes_err = |source| NetworkError::Routes {
            network: def.name.clone(),
            source,
        };
        let host = self
            .in_ns(routes::host_prefixes)
            .map_err(|e| {
                routes_err(RoutesError::Io {
                    step: "entering the network namespace",
                    source: e,
                })
            })?
            .map_err(routes_err)?;
        let options = NetworkOptions {
            enable_ipv4: true,
            enable_ipv6: def.enable_ipv6,
        };
        Ok(self
            .ipam
            .create_network(&def.name, &def.ipam, options, &host)?)
    }

    /// Brings the kernel in line with the records; every step is a no-op when already done.
    fn apply(&self, rec: &Record, addrs: &NetworkAddrs) -> Result<(), NetworkError> {
        let name = &rec.def.name;
        let spec = BridgeSpec {
            name: rec.bridge.clone(),
            mtu: rec.def.mtu,
            gateways: addrs
                .subnets
                .iter()
                .map(|s| (s.gateway, s.subnet.prefix_len()))
                .collect(),
        };
        let mut nl = self.netlink(name)?;
        ensure_bridge(&mut nl, &spec).map_err(|source| NetworkError::Link {
            network: name.clone(),
            step: format!("setting up bridge {}", rec.bridge),
            source,
        })?;

        let ipv6 = addrs.subnets.iter().any(|s| !s.subnet.is_ipv4());
        let internal = rec.def.internal;
        let bridge = rec.bridge.as_str();
        self.in_ns(|| -> io::Result<()> {
            if !internal {
                nft::enable_ip_forward(ipv6)?;
            }
            nft::set_route_localnet(bridge)
        })
        .and_then(|r| r)
        .map_err(|source| NetworkError::Sysctl {
            step: format!("network {name}: setting sysctls"),
            source,
        })?;

        let rules = NetworkRules {
            name: name.clone(),
            bridge: rec.bridge.clone(),
            subnets: addrs
                .subnets
                .iter()
                .map(|s| (s.subnet.network(), s.subnet.prefix_len()))
                .collect(),
            internal,
        };
        let mut nft = self.nft()?;
        let listed = nft
            .list_rules()
            .map_err(nft_err(format!("network {name}: listing rules")))?;
        if !rules_present(&listed, &rules) {
            nft.add_network(&rules)
                .map_err(nft_err(format!("network {name}: adding rules")))?;
        }
        nft.allow_in_iptables_forward(&rules)
            .map_err(nft_err(format!(
                "network {name}: accepting its bridge in iptables FORWARD"
            )))?;
        Ok(())
    }

    /// Takes away the kernel state of a network; what is already gone is fine.
    fn teardown(&self, name: &str, bridge: &str) -> Result<(), NetworkError> {
        let mut nft = self.nft()?;
        nft.remove_network(name, bridge)
            .map_err(nft_err(format!("network {name}: removing rules")))?;
        let mut nl = self.netlink(name)?;
        remove_bridge(&mut nl, bridge).map_err(|source| NetworkError::Link {
            network: name.to_string(),
            step: format!("removing bridge {bridge}"),
            source,
        })?;
        // The table is shared by every state root of the host: it goes only when no rule of
        // any of ours is left in it.
        let left = nft
            .list_rules()
            .map_err(nft_err("listing rules"))?
            .iter()
            .any(|r| {
                r.tag
                    .as_deref()
                    .is_some_and(|t| t.starts_with(nft::TAG_PREFIX))
            });
        if !left {
            nft.delete_table()
                .map_err(nft_err("deleting our nftables table"))?;
        }
        Ok(())
    }

    /// The network, if it exists.
    pub fn get(&self, name: &str) -> Result<Option<NetworkInfo>, NetworkError> {
        check_name(name)?;
        let Some(rec) = self.read_record(name)? else {
            return Ok(None);
        };
        match self.ipam.get(name)? {
            Some(addrs) => Ok(Some(info(rec, addrs))),
            None => Err(NetworkError::MissingAddresses {
                network: name.to_string(),
                path: self.def_path(name),
            }),
        }
    }

    /// All our networks, sorted by name.
    pub fn list(&self) -> Result<Vec<NetworkInfo>, NetworkError> {
        let mut out = Vec::new();
        for name in self.record_names()? {
            if let Some(i) = self.get(&name)? {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// Removes a network: bridge, its rules (its published ports' too, and its iptables
    /// accepts), its DNS state `<root>/dns/<name>/`, its records, and our nftables table when
    /// it was the last user. Refused while containers hold addresses on it. False when there
    /// was no such network.
    pub fn remove(&self, name: &str) -> Result<bool, NetworkError> {
        check_name(name)?;
        let _lock = self.lock()?;
        let rec = self.read_record(name)?;
        let addrs = self.ipam.get(name)?;
        if rec.is_none() && addrs.is_none() {
            return Ok(false);
        }
        if let Some(a) = &addrs {
            if !a.allocations.is_empty() {
                return Err(NetworkError::InUse {
                    network: name.to_string(),
                    containers: a.allocations.keys().cloned().collect(),
                });
            }
        }
        let bridge = rec
            .map(|r| r.bridge)
            .unwrap_or_else(|| link::bridge_name(&self.canonical_root, name));
        self.teardown(name, &bridge)?;
        let dns = crate::engine::root::StateRoot::new(&self.root).dns_of(name);
        match fs::remove_dir_all(&dns) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing", &dns)(e)),
        }
        self.delete_record(name)?;
        self.ipam.remove_network(name)?;
        Ok(true)
    }

    // --- containers -----------------------------------------------------------------------

    /// Gives a container its addresses on `network` (idempotent: a container keeps its
    /// addresses).
    pub fn allocate(
        &self,
        network: &str,
        container_id: &str,
        req: &AddrRequest,
    ) -> Result<ContainerAddrs, NetworkError> {
        check_name(network)?;
        // Under our lock, so that `remove` never takes a network a container is joining.
        let _lock = self.lock()?;
        Ok(self.ipam.allocate(network, container_id, req)?)
    }

    /// Frees a container's addresses on `network`; whether it had any.
    pub fn release(&self, network: &str, container_id: &str) -> Result<bool, NetworkError> {
        check_name(network)?;
        Ok(self.ipam.release(network, container_id)?)
    }

    // --- ports ----------------------------------------------------------------------------

    /// Publishes a port (DNAT and friends, see [`nft`]); replaces an earlier identical mapping.
    pub fn publish(&self, p: &PortMapping) -> Result<(), NetworkError> {
        check_name(&p.network)?;
        if self.ipam.get(&p.network)?.is_none() {
            return Err(NetworkError::NotFound(p.network.clone()));
        }
        self.nft()?
            .add_port(p)
            .map_err(nft_err(format!("publishing {}", nft::port_tag(p))))
    }

    /// Publishes a port of a container that keeps running unless its rules are already in place
    /// as this version writes them: put back after an `nft flush`, and rewritten when an older
    /// version wrote them otherwise (a port on 127.0.0.1 had a DNAT in `prerouting` that took
    /// packets from other interfaces). One rule listing; nothing written when all is there.
    pub fn ensure_published(&self, p: &PortMapping) -> Result<(), NetworkError> {
        let mut nft = self.nft()?;
        let listed = nft
            .list_rules()
            .map_err(nft_err(format!("listing rules of {}", nft::port_tag(p))))?;
        let want =
            nft::port_rules(p).map_err(nft_err(format!("rules for {}", nft::port_tag(p))))?;
        if tagged_rules_present(&listed, &nft::port_tag(p), &want) {
            return Ok(());
        }
        drop(nft);
        self.publish(p)
    }

    /// Withdraws a published port; one that is not published is fine.
    pub fn unpublish(&self, p: &PortMapping) -> Result<(), NetworkError> {
        self.nft()?
            .remove_port(p)
            .map_err(nft_err(format!("unpublishing {}", nft::port_tag(p))))
            .map(|_| ())
    }

    /// Every port we publish (of any state root), read back from the rule tags.
    pub fn published(&self) -> Result<Vec<PublishedPort>, NetworkError> {
        let rules = self
            .nft()?
            .list_rules()
            .map_err(nft_err("listing published ports"))?;
        let mut seen = HashSet::new();
        Ok(rules
            .iter()
            .filter_map(|r| r.tag.as_deref().and_then(parse_port_tag))
            .filter(|p| seen.insert(p.clone()))
            .collect())
    }

    /// A random port of the ephemeral range that no socket holds, we do not publish and
    /// `taken` does not list (for `ports: ["80"]` without a host port).
    pub fn free_host_port(
        &self,
        proto: Protocol,
        host_ip: Option<IpAddr>,
        taken: &[u16],
    ) -> Result<u16, NetworkError> {
        let published = self.published()?;
        let busy: HashSet<u16> = taken
            .iter()
            .copied()
            .chain(
                published
                    .iter()
                    .filter(|p| p.collides(proto, host_ip, p.host_port))
                    .map(|p| p.host_port),
            )
            .collect();
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        self.in_ns(|| -> Result<u16, NetworkError> {
            let (low, high) = ephemeral_range()?;
            let span = u64::from(high - low) + 1;
            let start = seed % span;
            for i in 0..span {
                let port = low + ((start + i) % span) as u16;
                if !busy.contains(&port) && !socket_holds(proto, host_ip, port)? {
                    return Ok(port);
                }
            }
            Err(NetworkError::NoFreePort {
                proto: proto.name(),
                low,
                high,
            })
        })
        .map_err(|source| NetworkError::Sysctl {
            step: "entering the network namespace to probe ports".into(),
            source,
        })?
    }

    /// Whether `host_ip:port/proto` is bound by a socket or published by us.
    pub fn host_port_in_use(
        &self,
        proto: Protocol,
        host_ip: Option<IpAddr>,
        port: u16,
    ) -> Result<bool, NetworkError> {
        if self
            .published()?
            .iter()
            .any(|p| p.collides(proto, host_ip, port))
        {
            return Ok(true);
        }
        self.in_ns(|| socket_holds(proto, host_ip, port))
            .map_err(|source| NetworkError::Sysctl {
                step: "entering the network namespace to probe ports".into(),
                source,
            })?
    }
}

fn info(rec: Record, addrs: NetworkAddrs) -> NetworkInfo {
    NetworkInfo {
        def: rec.def,
        bridge: rec.bridge,
        addrs,
        created: rec.created,
    }
}

/// Whether exactly the rules [`nft::network_rules`] makes for `net` are in the table (same
/// chains, same expressions), so that `ensure` rewrites nothing in the common case.
fn rules_present(listed: &[nft::ListedRule], net: &NetworkRules) -> bool {
    tagged_rules_present(listed, &nft::net_tag(&net.bridge), &nft::network_rules(net))
}

/// Whether the rules tagged `tag` in `listed` are exactly `want` (same chains, same
/// expressions), none missing and none more.
fn tagged_rules_present(listed: &[nft::ListedRule], tag: &str, want: &[nft::Rule]) -> bool {
    let have: Vec<&nft::ListedRule> = listed
        .iter()
        .filter(|r| r.tag.as_deref() == Some(tag))
        .collect();
    have.len() == want.len()
        && want.iter().all(|w| {
            have.iter()
                .any(|h| h.chain == w.chain.name() && h.exprs == w.exprs)
        })
}

/// The calling thread's namespace's `net.ipv4.ip_local_port_range`.
fn ephemeral_range() -> Result<(u16, u16), NetworkError> {
    let path = Path::new("/proc/sys/net/ipv4/ip_local_port_range");
    let text = fs::read_to_string(path).map_err(io_err("reading", path))?;
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    match (it.next(), it.next()) {
        (Some(Ok(low)), Some(Ok(high))) if low >= 1 && low <= high => Ok((low, high)),
        _ => Err(io_err("parsing", path)(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected content {:?}", text.trim()),
        ))),
    }
}

/// Whether a socket of the calling thread's namespace holds `host_ip:port/proto`, found by
/// trying to bind it (on both wildcard addresses when `host_ip` is none).
fn socket_holds(proto: Protocol, host_ip: Option<IpAddr>, port: u16) -> Result<bool, NetworkError> {
    let specific = host_ip.filter(|ip| !ip.is_unspecified());
    let addrs: Vec<IpAddr> = match specific {
        Some(ip) => vec![ip],
        None => vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ],
    };
    for ip in addrs {
        let addr = SocketAddr::new(ip, port);
        let bound = match proto {
            Protocol::Tcp => TcpListener::bind(addr).map(drop),
            Protocol::Udp => UdpSocket::bind(addr).map(drop),
        };
        match bound {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Ok(true),
            // A host without IPv6: nothing can hold the IPv6 wildcard.
            Err(e)
                if specific.is_none()
                    && ip.is_ipv6()
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL)
                    ) => {}
            Err(source) => {
                return Err(NetworkError::HostPort {
                    addr,
                    proto: proto.name(),
                    source,
                })
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::ipam::Subnet;
    use crate::engine::network::link::{bridge_name, create_netns, in_netns};

    /// A port's rules count as in place only when they are exactly what this version writes:
    /// one missing, one more (an older version's `prerouting` DNAT of a loopback port) or one
    /// that differs all make `ensure_published` write them again.
    #[test]
    fn port_rules_are_in_place_only_when_exactly_as_written_now() {
        let p = PortMapping {
            network: "p_default".into(),
            bridge: "br-p".into(),
            protocol: Protocol::Tcp,
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_port: 8080,
            container_ip: IpAddr::V4(Ipv4Addr::new(10, 203, 0, 2)),
            container_port: 80,
        };
        let tag = nft::port_tag(&p);
        let want = nft::port_rules(&p).unwrap();
        let listed = |rules: &[nft::Rule]| -> Vec<nft::ListedRule> {
            rules
                .iter()
                .enumerate()
                .map(|(i, r)| nft::ListedRule {
                    family: 1,
                    table: nft::TABLE.into(),
                    chain: r.chain.name().into(),
                    handle: i as u64,
                    tag: Some(tag.clone()),
                    exprs: r.exprs.clone(),
                })
                .collect()
        };
        assert!(tagged_rules_present(&listed(&want), &tag, &want));
        assert!(!tagged_rules_present(&listed(&want[1..]), &tag, &want));
        // The DNAT an older version also put in `prerouting` for a loopback port.
        let mut old = want.clone();
        let mut dnat = want
            .iter()
            .find(|r| r.chain == nft::Chain::Output)
            .expect("output DNAT")
            .clone();
        dnat.chain = nft::Chain::Prerouting;
        old.push(dnat);
        assert!(!tagged_rules_present(&listed(&old), &tag, &want));
        let mut other = listed(&want);
        other[0].exprs.pop();
        assert!(!tagged_rules_present(&other, &tag, &want));
    }

    fn skip_unless_root() -> bool {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root (network namespaces, nftables)");
            return true;
        }
        false
    }

    /// A throw-away network namespace standing in for the host, and a state root. The
    /// namespace (bridges, nftables table, sysctls, sockets) vanishes with its fd; Drop still
    /// deletes the table explicitly.
    struct Lab {
        ns: OwnedFd,
        root: tempfile::TempDir,
    }

    impl Lab {
        fn new() -> Option<Lab> {
            if skip_unless_root() {
                return None;
            }
            Some(Lab {
                ns: create_netns().expect("creating a network namespace"),
                root: tempfile::Builder::new()
                    .prefix("compose-test-netmgr-")
                    .tempdir()
                    .expect("tempdir"),
            })
        }

        fn nets(&self) -> Networks {
            Networks::open_in(self.root.path(), self.ns.as_fd()).expect("open")
        }

        fn nft(&self) -> Nft {
            Nft::new_in(self.ns.as_fd()).expect("nft")
        }

        fn nl(&self) -> Netlink {
            Netlink::new_in(self.ns.as_fd()).expect("netlink")
        }

        fn tagged(&self, tag: &str) -> Vec<nft::ListedRule> {
            self.nft()
                .list_rules()
                .expect("list")
                .into_iter()
                .filter(|r| r.tag.as_deref() == Some(tag))
                .collect()
        }

        fn sysctl(&self, path: &str) -> String {
            let path = path.to_string();
            in_netns(self.ns.as_fd(), move || fs::read_to_string(path))
                .expect("netns")
                .expect("read sysctl")
                .trim()
                .to_string()
        }
    }

    impl Drop for Lab {
        fn drop(&mut self) {
            if let Ok(mut nft) = Nft::new_in(self.ns.as_fd()) {
                let _ = nft.delete_table();
            }
        }
    }

    fn sn(s: &str) -> Subnet {
        Subnet::parse_exact(s).unwrap()
    }

    #[test]
    fn def_round_trips_and_port_tags_parse() {
        let mut def = NetworkDef::bridge("p_front");
        def.project = Some("p".into());
        def.ipam = vec![IpamRequest {
            subnet: Some(sn("10.9.0.0/24")),
            ip_range: Some(sn("10.9.0.128/25")),
            gateway: Some("10.9.0.254".parse().unwrap()),
            aux_addresses: [("h".to_string(), "10.9.0.5".parse().unwrap())].into(),
        }];
        def.labels.insert("a".into(), "b".into());
        def.mtu = Some(1400);
        let text = serde_json::to_string(&def).unwrap();
        assert!(text.contains("\"subnet\":\"10.9.0.0/24\""), "{text}");
        let back: NetworkDef = serde_json::from_str(&text).unwrap();
        assert_eq!(back, def);
        assert!(def.differences(&back).is_empty());
        let mut other = def.clone();
        other.internal = true;
        other.mtu = None;
        assert_eq!(
            def.differences(&other),
            ["internal", "driver_opts.com.docker.network.driver.mtu"]
        );

        for (ip, proto) in [
            (None, Protocol::Tcp),
            (Some("127.0.0.1".parse().unwrap()), Protocol::Udp),
            (Some("fd00::1".parse().unwrap()), Protocol::Tcp),
        ] {
            let p = PortMapping {
                network: "p_a-b.c".into(),
                bridge: "br-x".into(),
                protocol: proto,
                host_ip: ip,
                host_port: 8080,
                container_ip: "10.0.0.2".parse().unwrap(),
                container_port: 80,
            };
            let parsed = parse_port_tag(&nft::port_tag(&p)).unwrap();
            assert_eq!(
                parsed,
                PublishedPort {
                    network: "br-x".into(),
                    protocol: proto,
                    host_ip: ip,
                    host_port: 8080
                }
            );
        }
        assert_eq!(parse_port_tag("compose:net:x"), None);
        assert_eq!(parse_port_tag("compose:port:x:sctp:*:1"), None);
    }

    #[test]
    #[ignore = "needs root"]
    fn ensure_creates_bridge_rules_and_sysctls_idempotently() {
        let Some(lab) = Lab::new() else { return };
        let nets = lab.nets();
        let def = NetworkDef::bridge("p_default");
        let info = nets.ensure(&def).unwrap();
        let br = bridge_name(&fs::canonicalize(lab.root.path()).unwrap(), "p_default");
        assert_eq!(info.bridge, br);
        assert_eq!(info.def, def);
        let gw = info.addrs.subnets[0].gateway;
        let mut nl = lab.nl();
        let idx = nl.link_index(&br).unwrap().expect("bridge exists");
        let addrs = nl.addresses(Some(idx)).unwrap();
        assert!(addrs.iter().any(|a| a.addr == gw), "{addrs:?}");
        let tag = nft::net_tag(&br);
        let rules = lab.tagged(&tag);
        assert!(!rules.is_empty());
        let handles: Vec<u64> = rules.iter().map(|r| r.handle).collect();
        assert_eq!(lab.sysctl("/proc/sys/net/ipv4/ip_forward"), "1");
        assert_eq!(
            lab.sysctl(&format!("/proc/sys/net/ipv4/conf/{br}/route_localnet")),
            "1"
        );

        // Twice: same network, the same rules (not even rewritten).
        let again = nets.ensure(&def).unwrap();
        assert_eq!(again, info);
        let handles2: Vec<u64> = lab.tagged(&tag).iter().map(|r| r.handle).collect();
        assert_eq!(handles2, handles);

        // A different definition for an existing network: the recorded one is kept.
        let mut changed = def.clone();
        changed.internal = true;
        let kept = nets.ensure(&changed).unwrap();
        assert_eq!(kept.def, def);
        assert_eq!(kept.def.differences(&changed), ["internal"]);

        // After a "reboot" (bridge and rules gone), ensure puts everything back.
        lab.nft().delete_table().unwrap();
        nl.delete_link(idx).unwrap();
        let back = nets.ensure(&def).unwrap();
        assert_eq!(back.addrs.subnets, info.addrs.subnets);
        let idx = nl.link_index(&br).unwrap().expect("bridge re-created");
        assert!(nl
            .addresses(Some(idx))
            .unwrap()
            .iter()
            .any(|a| a.addr == gw));
        assert_eq!(lab.tagged(&tag).len(), rules.len());

        // Another process (a second store on the same root) sees it.
        let other = Networks::open_in(lab.root.path(), lab.ns.as_fd()).unwrap();
        assert_eq!(other.get("p_default").unwrap(), Some(info.clone()));
        assert_eq!(other.list().unwrap(), vec![info]);
        assert_eq!(other.get("nosuch").unwrap(), None);
    }

    #[test]
    #[ignore = "needs root"]
    fn networks_get_disjoint_subnets_and_options() {
        let Some(lab) = Lab::new() else { return };
        let nets = lab.nets();
        let a = nets.ensure(&NetworkDef::bridge("p_a")).unwrap();
        let mut def_b = NetworkDef::bridge("p_b");
        def_b.bridge_name = Some("brtestb".into());
        def_b.mtu = Some(1400);
        def_b.internal = true;
        let b = nets.ensure(&def_b).unwrap();
        let (sa, sb) = (a.addrs.subnets[0].subnet, b.addrs.subnets[0].subnet);
        assert!(!sa.overlaps(&sb), "{sa} and {sb}");
        assert_eq!(b.bridge, "brtestb");
        let links = lab.nl().links().unwrap();
        let link_b = links.iter().find(|l| l.name == "brtestb").expect("bridge");
        assert_eq!(link_b.mtu, Some(1400));

        let mut explicit = NetworkDef::bridge("p_c");
        explicit.enable_ipv6 = true;
        explicit.ipam = vec![IpamRequest {
            subnet: Some(sn("10.77.0.0/24")),
            ..Default::default()
        }];
        let c = nets.ensure(&explicit).unwrap();
        assert_eq!(c.addrs.subnets[0].subnet, sn("10.77.0.0/24"));
        assert!(!c.addrs.subnets[1].subnet.is_ipv4());

        let mut clash = NetworkDef::bridge("p_d");
        clash.bridge_name = Some("brtestb".into());
        assert_eq!(
            nets.ensure(&clash).unwrap_err().to_string(),
            "network p_d: bridge brtestb is already the bridge of network p_b"
        );
        let mut overlay = NetworkDef::bridge("p_e");
        overlay.driver = "overlay".into();
        assert_eq!(
            nets.ensure(&overlay).unwrap_err().to_string(),
            "network p_e: driver \"overlay\" is not supported (only \"bridge\" is)"
        );
        assert!(matches!(
            nets.ensure(&NetworkDef::bridge("../x")),
            Err(NetworkError::InvalidName { .. })
        ));
        // Refused definitions leave nothing behind.
        let names: Vec<String> = nets
            .list()
            .unwrap()
            .into_iter()
            .map(|i| i.def.name)
            .collect();
        assert_eq!(names, ["p_a", "p_b", "p_c"]);
    }

    #[test]
    #[ignore = "needs root"]
    fn concurrent_ensure_creates_one_network() {
        let Some(lab) = Lab::new() else { return };
        let subnets: Vec<Subnet> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        // Each thread has its own store and lock fd, as processes would.
                        let nets = lab.nets();
                        nets.ensure(&NetworkDef::bridge("p_default"))
                            .unwrap()
                            .addrs
                            .subnets[0]
                            .subnet
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(subnets.windows(2).all(|w| w[0] == w[1]), "{subnets:?}");
        assert_eq!(lab.nets().list().unwrap().len(), 1);
        let bridges = lab
            .nl()
            .links()
            .unwrap()
            .into_iter()
            .filter(|l| l.name.starts_with("br-"))
            .count();
        assert_eq!(bridges, 1);
    }

    #[test]
    #[ignore = "needs root"]
    fn allocate_release_and_remove() {
        let Some(lab) = Lab::new() else { return };
        let nets = lab.nets();
        let a = nets.ensure(&NetworkDef::bridge("p_a")).unwrap();
        let b = nets.ensure(&NetworkDef::bridge("p_b")).unwrap();
        let got = nets.allocate("p_a", "c1", &AddrRequest::default()).unwrap();
        let v4 = got.ipv4.unwrap();
        assert_eq!(v4.subnet, a.addrs.subnets[0].subnet);
        assert_ne!(v4.addr, v4.gateway);
        assert_eq!(
            nets.allocate("p_a", "c1", &AddrRequest::default()).unwrap(),
            got
        );
        assert!(matches!(
            nets.allocate("nosuch", "c1", &AddrRequest::default()),
            Err(NetworkError::NotFound(_))
        ));

        let dns = lab.root.path().join("dns/p_a");
        fs::create_dir_all(&dns).unwrap();
        fs::write(dns.join("hosts"), "x").unwrap();

        let err = nets.remove("p_a").unwrap_err();
        assert_eq!(
            err.to_string(),
            "network p_a has active endpoints (containers c1)"
        );
        assert!(nets.get("p_a").unwrap().is_some());
        assert!(lab.nl().link_exists(&a.bridge).unwrap());

        assert!(nets.release("p_a", "c1").unwrap());
        assert!(!nets.release("p_a", "c1").unwrap());
        assert!(nets.remove("p_a").unwrap());
        assert!(!lab.nl().link_exists(&a.bridge).unwrap());
        assert!(lab.tagged(&nft::net_tag(&a.bridge)).is_empty());
        assert!(!lab.tagged(&nft::net_tag(&b.bridge)).is_empty());
        assert!(lab.nft().table_exists().unwrap(), "p_b still needs it");
        assert!(!dns.exists());
        assert_eq!(nets.get("p_a").unwrap(), None);
        assert!(!nets.remove("p_a").unwrap());

        assert!(nets.remove("p_b").unwrap());
        assert!(
            !lab.nft().table_exists().unwrap(),
            "last network took the table"
        );
        assert!(nets.list().unwrap().is_empty());
        assert!(nets.ipam.list().unwrap().is_empty());
    }

    fn mapping(net: &NetworkInfo, ip: IpAddr, host_port: u16) -> PortMapping {
        PortMapping {
            network: net.def.name.clone(),
            bridge: net.bridge.clone(),
            protocol: Protocol::Tcp,
            host_ip: None,
            host_port,
            container_ip: ip,
            container_port: 80,
        }
    }

    #[test]
    #[ignore = "needs root"]
    fn publish_unpublish_and_free_ports() {
        let Some(lab) = Lab::new() else { return };
        let nets = lab.nets();
        let net = nets.ensure(&NetworkDef::bridge("p_default")).unwrap();
        let ip = nets
            .allocate("p_default", "c1", &AddrRequest::default())
            .unwrap()
            .ipv4
            .unwrap()
            .addr;
        let net_rules = lab.tagged(&nft::net_tag(&net.bridge)).len();
        let p = mapping(&net, ip, 40000);
        let tag = nft::port_tag(&p);
        nets.publish(&p).unwrap();
        let n = lab.tagged(&tag).len();
        assert!(n > 0);
        nets.publish(&p).unwrap();
        assert_eq!(lab.tagged(&tag).len(), n, "publishing twice adds nothing");
        let other = mapping(&net, ip, 40100);
        nets.publish(&other).unwrap();
        assert_eq!(nets.published().unwrap().len(), 2, "{:?}", nets.published());

        // A small ephemeral range in the lab makes the search deterministic.
        in_netns(lab.ns.as_fd(), || {
            fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40000 40002")
        })
        .unwrap()
        .unwrap();
        let listener = in_netns(lab.ns.as_fd(), || TcpListener::bind("0.0.0.0:40001"))
            .unwrap()
            .unwrap();
        assert!(nets.host_port_in_use(Protocol::Tcp, None, 40000).unwrap());
        assert!(nets
            .host_port_in_use(Protocol::Tcp, Some("127.0.0.1".parse().unwrap()), 40000)
            .unwrap());
        assert!(!nets.host_port_in_use(Protocol::Udp, None, 40000).unwrap());
        assert!(nets.host_port_in_use(Protocol::Tcp, None, 40001).unwrap());
        assert!(!nets.host_port_in_use(Protocol::Tcp, None, 40002).unwrap());
        for _ in 0..5 {
            assert_eq!(
                nets.free_host_port(Protocol::Tcp, None, &[]).unwrap(),
                40002
            );
        }
        assert_eq!(
            nets.free_host_port(Protocol::Tcp, None, &[40002])
                .unwrap_err()
                .to_string(),
            "no free tcp host port left in the ephemeral range 40000-40002"
        );
        let udp = nets.free_host_port(Protocol::Udp, None, &[40002]).unwrap();
        assert!([40000, 40001].contains(&udp), "{udp}");
        drop(listener);
        assert!(!nets.host_port_in_use(Protocol::Tcp, None, 40001).unwrap());

        nets.unpublish(&p).unwrap();
        assert!(lab.tagged(&tag).is_empty());
        assert!(!lab.tagged(&nft::port_tag(&other)).is_empty());
        assert_eq!(lab.tagged(&nft::net_tag(&net.bridge)).len(), net_rules);
        nets.unpublish(&p).unwrap(); // missing is fine
                                     // 40000 is free again; 40001 too since its listener is gone.
        let port = nets.free_host_port(Protocol::Tcp, None, &[40002]).unwrap();
        assert!([40000, 40001].contains(&port), "{port}");

        let stranger = PortMapping {
            network: "nosuch".into(),
            ..p.clone()
        };
        assert!(matches!(
            nets.publish(&stranger),
            Err(NetworkError::NotFound(_))
        ));

        // Removing the network takes its published ports with it.
        nets.release("p_default", "c1").unwrap();
        assert!(nets.remove("p_default").unwrap());
        assert!(nets.published().unwrap().is_empty());
    }
}
