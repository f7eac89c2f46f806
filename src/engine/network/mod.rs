//! Container networking: address management and the links that connect containers to their
//! project networks.
pub mod attach;
pub mod dns;
pub mod endpoints;
pub mod ipam;
pub mod link;
pub mod manager;
pub mod nft;
pub mod proxy;
pub mod routes;
