//! `Networks::ensure`: create a network if it is new, and (re)make its kernel state (bridge,
//! sysctls, rules) whenever something of it is missing.

use std::io;

use super::def::{NetworkDef, NetworkInfo, Record, BRIDGE_DRIVER};
use super::error::{check_name, nft_err, NetworkError};
use super::ports::tagged_rules_present;
use super::{info, Networks};
use crate::engine::fsutil;
use crate::engine::network::attach::{ensure_bridge, BridgeSpec};
use crate::engine::network::ipam::{NetworkAddrs, NetworkOptions};
use crate::engine::network::link;
use crate::engine::network::nft::{self, NetworkRules};
use crate::engine::network::routes::{self, RoutesError};

impl Networks {
    /// Creates the network if needed and makes sure its kernel state is there (see the module
    /// docs); returns what is recorded, which may differ from `def` for an existing network.
    pub fn ensure(&self, def: &NetworkDef) -> Result<NetworkInfo, NetworkError> {
        check_name(&def.name)?;
        let _lock = self.lock()?;
        if let Some(rec) = self.read_record(&def.name)? {
            let addrs = match self.with_repair(&def.name, true, || self.ipam.get(&def.name))? {
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
        let addrs = match self.with_repair(&def.name, true, || self.ipam.get(&def.name))? {
            Some(a) => a,
            None => self.create_addrs(def)?,
        };
        let rec = Record {
            def: def.clone(),
            bridge,
            created: fsutil::now_secs(),
        };
        self.write_record(&rec)?;
        crate::engine::fault::point("network.create.after-record");
        if let Err(e) = self.apply(&rec, &addrs) {
            // A network that could not be set up is not left behind half-made; what of that
            // clean-up fails too is named after the error that caused it.
            let mut cleanup = self.teardown(&def.name, &rec.bridge);
            cleanup.extend(self.delete_record(&def.name).err());
            cleanup.extend(
                self.ipam
                    .remove_network(&def.name)
                    .err()
                    .map(NetworkError::from),
            );
            return Err(e.with_also(cleanup));
        }
        Ok(info(rec, addrs))
    }

    pub(super) fn create_addrs(&self, def: &NetworkDef) -> Result<NetworkAddrs, NetworkError> {
        let routes_err = |source| NetworkError::Routes {
            network: def.name.clone(),
            source,
        };
        let host = self
            .in_ns(routes::host_prefixes)
            .map_err(|e| {
                routes_err(RoutesError::Netlink {
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
        ensure_bridge(&mut nl, &spec).map_err(|source| NetworkError::Bridge {
            network: name.clone(),
            step: format!("setting up bridge {}", rec.bridge),
            source: Box::new(source),
        })?;
        crate::engine::fault::point("network.create.after-bridge");

        let ipv6 = addrs.subnets.iter().any(|s| !s.subnet.is_ipv4());
        let internal = rec.def.internal;
        let bridge = rec.bridge.as_str();
        self.in_ns(|| -> io::Result<()> {
            if !internal {
                nft::enable_ip_forward(ipv6)?;
            }
            nft::set_route_localnet(bridge)
        })
        .map_err(|source| NetworkError::Netns {
            step: format!("network {name}: setting sysctls"),
            source,
        })?
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
        crate::engine::fault::point("network.create.after-rules");
        Ok(())
    }
}

/// Whether exactly the rules [`nft::network_rules`] makes for `net` are in the table (same
/// chains, same expressions), so that `ensure` rewrites nothing in the common case.
fn rules_present(listed: &[nft::ListedRule], net: &NetworkRules) -> bool {
    tagged_rules_present(listed, &nft::net_tag(&net.bridge), &nft::network_rules(net))
}
