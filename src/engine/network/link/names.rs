//! Interface names: the kernel's rules, and the short deterministic names of our bridges and
//! veths.

use std::path::Path;

use sha2::{Digest, Sha256};

/// Longest interface name Linux accepts (`IFNAMSIZ` − 1).
pub const IFNAME_MAX: usize = 15;

/// An interface name the kernel would refuse (see [`check_ifname`]).
#[derive(Debug, thiserror::Error)]
#[error("invalid interface name {name:?}: {why}")]
pub struct InvalidIfname {
    pub name: String,
    pub why: &'static str,
}

/// Checks an interface name the way the kernel does (`dev_valid_name`): 1 to 15 bytes, not `.`
/// or `..`, no `/`, `:` or whitespace.
pub fn check_ifname(name: &str) -> Result<(), InvalidIfname> {
    let bad = |why: &'static str| {
        let name = name.to_string();
        Err(InvalidIfname { name, why })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > IFNAME_MAX {
        return bad("longer than 15 bytes");
    }
    if name == "." || name == ".." {
        return bad("reserved");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0')
    {
        return bad("contains '/', ':', NUL or whitespace");
    }
    Ok(())
}

fn hex_digest(parts: &[&str], len: usize) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]); // separator: ("ab","c") and ("a","bc") differ
    }
    let digest = h.finalize();
    let mut s: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    s.truncate(len);
    s
}

/// Host-side name of the veth that attaches `container_id` to `network`: `cmp` + 10 hex digits
/// of a hash of both (13 bytes, under the 15-byte limit; 40 bits make collisions between the
/// attachments of one host negligible). Deterministic, so `down` can find it again.
pub fn veth_name(container_id: &str, network: &str) -> String {
    format!("cmp{}", hex_digest(&[container_id, network], 10))
}

/// Temporary name of the container end of the same veth while it still lives in the host
/// namespace (before being moved and renamed `eth0`…): [`veth_name`] + `c`.
pub fn veth_peer_name(container_id: &str, network: &str) -> String {
    format!("{}c", veth_name(container_id, network))
}

/// Bridge name for the network `network` (e.g. `myproject_default`) of the state root `root`:
/// `br-` + 12 hex digits of a hash of both, the shape Docker uses (15 bytes). The root is in
/// the hash because a bridge is host-wide while network names are per root: two roots running
/// a project of the same name get two bridges, and `down` in one leaves the other's alone.
/// `root` should be canonical, so that two spellings of one root give one bridge.
pub fn bridge_name(root: &Path, network: &str) -> String {
    let root = root.to_string_lossy();
    format!("br-{}", hex_digest(&["root", &root, network], 12))
}

/// The bridge name versions before [`bridge_name`] took the root in gave `network`: networks
/// created then keep it (it is in their record), and their rules carry the network name.
pub fn legacy_bridge_name(network: &str) -> String {
    format!("br-{}", hex_digest(&[network], 12))
}
