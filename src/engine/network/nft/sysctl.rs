//! The two sysctls the rules rely on, written through /proc/sys of the calling thread's network
//! namespace.

use std::io;

fn write_sysctl(path: &str, value: &str) -> io::Result<()> {
    std::fs::write(path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("write {value:?} to {path}: {e}")))
}

/// Sets `net.ipv4.conf.<bridge>.route_localnet=1` by writing /proc/sys, in the network namespace
/// of the calling thread (`/proc/sys/net` follows the opener's namespace): lets packets from
/// 127.0.0.1 that our `output` DNAT sends to a container leave through the bridge, and their
/// answers come back.
pub fn set_route_localnet(bridge: &str) -> io::Result<()> {
    crate::engine::network::link::check_ifname(bridge)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    write_sysctl(
        &format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
        "1",
    )
}

/// Sets `net.ipv4.ip_forward=1` (and IPv6 forwarding when `ipv6`) in the calling thread's
/// network namespace: without it nothing is routed between the bridges and the outside.
pub fn enable_ip_forward(ipv6: bool) -> io::Result<()> {
    write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
    if ipv6 {
        write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
    }
    Ok(())
}
