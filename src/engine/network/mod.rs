//! Container networking (the networking issue): address management and the links that connect
//! containers. The parts here are used by the runtime once project networks are wired in.
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
