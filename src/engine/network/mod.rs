//! Container networking: project networks (`manager`: bridge, subnets, rules, records),
//! address management (`ipam`, with `routes` reading the prefixes the host already uses),
//! the link layer (`link`: rtnetlink) and packet filtering/NAT (`nft`: nf_tables), both over
//! one netlink `transport` that tests replace with a recording fake; a container's endpoints
//! (`attach`, `endpoints`), its embedded resolver (`dns`) and the userland relay of
//! published ports on the host's IPv6 addresses (`proxy`).
pub mod attach;
pub mod dns;
pub mod endpoints;
pub mod ipam;
pub mod link;
pub mod manager;
pub mod nft;
pub mod proxy;
pub mod routes;
pub mod transport;
