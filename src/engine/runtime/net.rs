//! The container's network namespace, as far as the engine core goes: loopback brought up over
//! rtnetlink (never by running `ip`). Bridges, veths and addresses arrive with the networking issue.

use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST};
use netlink_packet_route::link::{LinkFlags, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::error::{InitError, Step};

/// Sets `lo` up in the current network namespace. `lo` is always interface 1 in a new namespace.
pub fn loopback_up() -> Result<(), InitError> {
    let fail = |m: String| InitError::msg(Step::Network, None, m);
    let mut link = LinkMessage::default();
    link.header.index = 1;
    link.header.flags = LinkFlags::Up;
    link.header.change_mask = LinkFlags::Up;
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::SetLink(link));
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    req.header.sequence_number = 1;
    req.finalize();
    let mut buf = vec![0u8; req.buffer_len()];
    req.serialize(&mut buf);

    let mut socket =
        Socket::new(NETLINK_ROUTE).map_err(|e| fail(format!("netlink socket: {e}")))?;
    socket
        .bind_auto()
        .map_err(|e| fail(format!("netlink bind: {e}")))?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(|e| fail(format!("netlink connect: {e}")))?;
    socket
        .send(&buf, 0)
        .map_err(|e| fail(format!("netlink send: {e}")))?;
    let mut reply = vec![0u8; 4096];
    let n = socket
        .recv(&mut &mut reply[..], 0)
        .map_err(|e| fail(format!("netlink recv: {e}")))?;
    let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply[..n])
        .map_err(|e| fail(format!("netlink reply: {e}")))?;
    match msg.payload {
        NetlinkPayload::Error(e) => match e.code {
            None => Ok(()),
            Some(code) => Err(InitError {
                step: Step::Network,
                path: Some("lo".into()),
                errno: Some(-code.get()),
                message: std::io::Error::from_raw_os_error(-code.get()).to_string(),
            }),
        },
        _ => Ok(()),
    }
}
