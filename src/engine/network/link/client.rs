//! The rtnetlink client: one request at a time over a [`Transport`], each modifying request
//! acknowledged before the call returns.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_EXCL, NLM_F_MULTIPART, NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::error::{fail, netlink_errno, nl_err, NetlinkFailure, NetlinkResult};
use super::listing::{address_of, format_mac, link_of, route_of, Address, Link, Route};
use super::names::check_ifname;
use super::netns::in_netns;
use crate::engine::network::transport::{NetlinkSocket, Transport};

/// How often a dump interrupted by a concurrent change (`NLM_F_DUMP_INTR`) is restarted before
/// its (possibly inconsistent) result is returned anyway.
const DUMP_RETRIES: usize = 5;

/// A synchronous rtnetlink client bound to the network namespace it was created in.
#[derive(Debug)]
pub struct Netlink {
    transport: Box<dyn Transport>,
    seq: u32,
}

impl Netlink {
    /// Opens a client in the calling thread's network namespace.
    pub fn new() -> NetlinkResult<Netlink> {
        let socket = NetlinkSocket::route().map_err(|e| nl_err("open rtnetlink socket", e))?;
        Ok(Netlink::with_transport(socket))
    }

    /// A client over any transport (a recording fake in tests).
    pub(crate) fn with_transport(transport: impl Transport + 'static) -> Netlink {
        Netlink {
            transport: Box::new(transport),
            seq: 0,
        }
    }

    /// Opens a client in the network namespace `ns` (an fd on `/proc/<pid>/ns/net` or the like):
    /// the socket is created on a short-lived thread inside `ns` and keeps talking to `ns` from
    /// any thread, while the caller's namespace never changes.
    pub fn new_in(ns: BorrowedFd<'_>) -> NetlinkResult<Netlink> {
        in_netns(ns, Netlink::new)?
    }

    /// Sends one request and collects the messages answering it. Modifying requests carry
    /// `NLM_F_ACK` and end with the kernel's ACK/errno; dumps end with `NLMSG_DONE`; a plain get
    /// ends with its single answer. The bool says whether a dump was interrupted.
    fn exchange(
        &mut self,
        payload: RouteNetlinkMessage,
        flags: u16,
        op: &str,
    ) -> NetlinkResult<(Vec<RouteNetlinkMessage>, bool)> {
        self.seq = self.seq.wrapping_add(1).max(1);
        let seq = self.seq;
        let mut req = NetlinkMessage::from(payload);
        req.header.flags = NLM_F_REQUEST | flags;
        req.header.sequence_number = seq;
        req.finalize();
        let mut buf = vec![0u8; req.buffer_len()];
        req.serialize(&mut buf);
        let sent = self.transport.send(&buf).map_err(|e| nl_err(op, e))?;
        if sent != buf.len() {
            let len = buf.len();
            return Err(fail(op, NetlinkFailure::ShortSend { sent, len }));
        }

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let acked = flags & NLM_F_ACK != 0;
        let mut out = Vec::new();
        let mut interrupted = false;
        loop {
            let data = self.transport.recv().map_err(|e| nl_err(op, e))?;
            let mut off = 0usize;
            while data.len().saturating_sub(off) >= 16 {
                let word = |at: usize| {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(&data[off + at..off + at + 4]);
                    u32::from_ne_bytes(b)
                };
                let len = word(0) as usize;
                let msg_flags = (word(4) >> 16) as u16;
                let msg_seq = word(8);
                if len < 16 || len > data.len() - off {
                    return Err(fail(op, NetlinkFailure::BadLength(len)));
                }
                let bytes = &data[off..off + len];
                off += (len + 3) & !3;
                if msg_seq != seq {
                    continue; // a late answer to an earlier request
                }
                if msg_flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                let msg = match NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) {
                    Ok(m) => m,
                    // One entry of a listing this crate cannot parse (an exotic device) must not
                    // hide the others.
                    Err(_) if dump => continue,
                    Err(e) => return Err(fail(op, NetlinkFailure::Unparsable(e.to_string()))),
                };
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok((out, interrupted)),
                            Some(code) => {
                                Err(nl_err(op, io::Error::from_raw_os_error(-code.get())))
                            }
                        };
                    }
                    NetlinkPayload::Done(d) => {
                        if d.code < 0 {
                            return Err(nl_err(op, io::Error::from_raw_os_error(-d.code)));
                        }
                        return Ok((out, interrupted));
                    }
                    NetlinkPayload::InnerMessage(m) => {
                        out.push(m);
                        if !dump && !acked && msg_flags & NLM_F_MULTIPART == 0 {
                            return Ok((out, interrupted));
                        }
                    }
                    NetlinkPayload::Noop | NetlinkPayload::Overrun(_) => {}
                    _ => {}
                }
            }
        }
    }

    /// A modifying request, acknowledged (for messages this client has no method for).
    pub fn ack(&mut self, payload: RouteNetlinkMessage, extra: u16, op: &str) -> NetlinkResult<()> {
        tracing::debug!(op, "netlink request");
        self.exchange(payload, NLM_F_ACK | extra, op).map(|_| ())
    }

    /// A dump, restarted when a concurrent change interrupted it (raw messages, for readers
    /// that need more than [`Link`], [`Address`] and [`Route`] carry).
    pub fn dump(
        &mut self,
        make: impl Fn() -> RouteNetlinkMessage,
        op: &str,
    ) -> NetlinkResult<Vec<RouteNetlinkMessage>> {
        tracing::trace!(op, "netlink dump");
        let mut tries = 0;
        loop {
            let (msgs, interrupted) = self.exchange(make(), NLM_F_DUMP, op)?;
            tries += 1;
            if !interrupted || tries >= DUMP_RETRIES {
                return Ok(msgs);
            }
        }
    }

    fn set_link(
        &mut self,
        index: u32,
        op: &str,
        edit: impl FnOnce(&mut LinkMessage),
    ) -> NetlinkResult<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        edit(&mut msg);
        self.ack(RouteNetlinkMessage::SetLink(msg), 0, op)
    }

    /// The index of the interface called `name`, or `None` when there is none.
    pub fn link_index(&mut self, name: &str) -> NetlinkResult<Option<u32>> {
        let op = format!("look up link {name}");
        check_ifname(name).map_err(|e| fail(&op, NetlinkFailure::InvalidIfname(e)))?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.exchange(RouteNetlinkMessage::GetLink(msg), 0, &op) {
            Ok((msgs, _)) => msgs
                .into_iter()
                .find_map(|m| match m {
                    RouteNetlinkMessage::NewLink(l) => Some(Some(l.header.index)),
                    _ => None,
                })
                .ok_or_else(|| fail(&op, NetlinkFailure::NoLink)),
            Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether an interface called `name` exists.
    pub fn link_exists(&mut self, name: &str) -> NetlinkResult<bool> {
        Ok(self.link_index(name)?.is_some())
    }

    /// Like [`Netlink::link_index`], for a link that must exist.
    fn index_of(&mut self, name: &str, op: &str) -> NetlinkResult<u32> {
        self.link_index(name)?.ok_or_else(|| {
            let name = name.to_string();
            fail(op, NetlinkFailure::Vanished { name })
        })
    }

    /// Creates a Linux bridge (down; see [`Netlink::set_up`]) and returns its index. Fails with
    /// `AlreadyExists` when the name is taken.
    pub fn create_bridge(&mut self, name: &str, mtu: Option<u32>) -> NetlinkResult<u32> {
        let op = format!("create bridge {name}{}", mtu_note(mtu));
        check_ifname(name).map_err(|e| fail(&op, NetlinkFailure::InvalidIfname(e)))?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.ack(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )?;
        self.index_of(name, &op)
    }

    fn veth_message(
        host: &str,
        peer: &str,
        mtu: Option<u32>,
        peer_ns: Option<BorrowedFd<'_>>,
    ) -> LinkMessage {
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        if let Some(mtu) = mtu {
            peer_msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(ns) = peer_ns {
            peer_msg
                .attributes
                .push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(host.to_string()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        msg
    }

    /// Creates a veth pair (both ends down) in this namespace; returns `(host_index, peer_index)`.
    pub fn create_veth(
        &mut self,
        host_name: &str,
        peer_name: &str,
        mtu: Option<u32>,
    ) -> NetlinkResult<(u32, u32)> {
        let op = format!("create veth {host_name} <-> {peer_name}{}", mtu_note(mtu));
        check_ifname(host_name).map_err(|e| fail(&op, NetlinkFailure::InvalidIfname(e)))?;
        check_ifname(peer_name).map_err(|e| fail(&op, NetlinkFailure::InvalidIfname(e)))?;
        let msg = Self::veth_message(host_name, peer_name, mtu, None);
        self.ack(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )?;
        Ok((
            self.index_of(host_name, &op)?,
            self.index_of(peer_name, &op)?,
        ))
    }

    /// Creates a veth pair whose peer is born directly inside the namespace `peer_ns`, under its
    /// final name (e.g. `eth0`): one request instead of create + move + rename. Returns the host
    /// end's index; the peer's index is only meaningful inside `peer_ns`.
    pub fn create_veth_into(
        &mut self,
        host_name: &str,
        peer_name: &str,
        mtu: Option<u32>,
        peer_ns: BorrowedFd<'_>,
    ) -> NetlinkResult<u32> {
        let op = format!(
            "create veth {host_name} <-> {peer_name} (peer in netns fd {}){}",
            peer_ns.as_raw_fd(),
            mtu_note(mtu)
        );
        check_ifname(host_name).map_err(|e| fail(&op, NetlinkFailure::InvalidIfname(e)))?;
        check_ifname(peer_name).map_err(|e| fail(&op, NetlinkFailure::InvalidIfname(e)))?;
        let msg = Self::veth_message(host_name, peer_name, mtu, Some(peer_ns));
        self.ack(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )?;
        self.index_of(host_name, &op)
    }

    /// Sets the interface administratively up.
    pub fn set_up(&mut self, index: u32) -> NetlinkResult<()> {
        self.set_link(index, &format!("set link {index} up"), |m| {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// Sets the interface administratively down.
    pub fn set_down(&mut self, index: u32) -> NetlinkResult<()> {
        self.set_link(index, &format!("set link {index} down"), |m| {
            m.header.flags = LinkFlags::empty();
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// Makes the interface a port of the bridge `bridge_index` (0 releases it).
    pub fn set_master(&mut self, index: u32, bridge_index: u32) -> NetlinkResult<()> {
        self.set_link(
            index,
            &format!("set master of link {index} to {bridge_index}"),
            |m| m.attributes.push(LinkAttribute::Controller(bridge_index)),
        )
    }

    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> NetlinkResult<()> {
        self.set_link(index, &format!("set mtu of link {index} to {mtu}"), |m| {
            m.attributes.push(LinkAttribute::Mtu(mtu))
        })
    }

    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> NetlinkResult<()> {
        self.set_link(
            index,
            &format!("set mac of link {index} to {}", format_mac(mac)),
            |m| m.attributes.push(LinkAttribute::Address(mac.to_vec())),
        )
    }

    /// Renames the interface. The kernel refuses (`EBUSY`) while it is up: rename first.
    pub fn rename(&mut self, index: u32, new_name: &str) -> NetlinkResult<()> {
        let op = format!("rename link {index} to {new_name}");
        check_ifname(new_name).map_err(|e| fail(&op, NetlinkFailure::InvalidIfname(e)))?;
        self.set_link(index, &op, |m| {
            m.attributes
                .push(LinkAttribute::IfName(new_name.to_string()))
        })
    }

    /// Moves the interface into the network namespace `ns` (it arrives down, without addresses).
    pub fn move_to_netns_fd(&mut self, index: u32, ns: BorrowedFd<'_>) -> NetlinkResult<()> {
        let op = format!("move link {index} to netns fd {}", ns.as_raw_fd());
        self.set_link(index, &op, |m| {
            m.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()))
        })
    }

    /// Moves the interface into the network namespace of process (or thread) `pid`.
    pub fn move_to_netns_pid(&mut self, index: u32, pid: u32) -> NetlinkResult<()> {
        let op = format!("move link {index} to netns of pid {pid}");
        self.set_link(index, &op, |m| {
            m.attributes.push(LinkAttribute::NetNsPid(pid))
        })
    }

    /// Deletes the interface (for a veth, both ends go).
    pub fn delete_link(&mut self, index: u32) -> NetlinkResult<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.ack(
            RouteNetlinkMessage::DelLink(msg),
            0,
            &format!("delete link {index}"),
        )
    }

    /// Adds `addr/prefix_len` to the interface. IPv6 addresses skip duplicate address detection
    /// (`IFA_F_NODAD`): addresses on our networks come from our IPAM, and DAD would keep them
    /// unusable for a second or more after start.
    pub fn add_address(&mut self, index: u32, addr: IpAddr, prefix_len: u8) -> NetlinkResult<()> {
        let op = format!("add address {addr}/{prefix_len} to link {index}");
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(fail(&op, NetlinkFailure::PrefixTooLong));
        }
        let mut msg = AddressMessage::default();
        msg.header.prefix_len = prefix_len;
        msg.header.index = index;
        msg.header.scope = AddressScope::Universe;
        match addr {
            IpAddr::V4(v4) => {
                msg.header.family = AddressFamily::Inet;
                msg.attributes.push(AddressAttribute::Local(addr));
                msg.attributes.push(AddressAttribute::Address(addr));
                if prefix_len < 31 {
                    let host_mask = u32::MAX >> prefix_len;
                    let broadcast = u32::from(v4) | host_mask;
                    msg.attributes
                        .push(AddressAttribute::Broadcast(broadcast.into()));
                }
            }
            IpAddr::V6(_) => {
                msg.header.family = AddressFamily::Inet6;
                msg.header.flags = AddressHeaderFlags::Nodad;
                msg.attributes.push(AddressAttribute::Address(addr));
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        self.ack(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )
    }

    /// Adds a route in the main table through interface `index`: to `dst` (network, prefix
    /// length) or, when `dst` is `None`, the default route; via `gateway` when given, else
    /// directly on the link.
    pub fn add_route(
        &mut self,
        dst: Option<(IpAddr, u8)>,
        gateway: Option<IpAddr>,
        index: u32,
    ) -> NetlinkResult<()> {
        let dst_text = dst.map_or("default".to_string(), |(a, p)| format!("{a}/{p}"));
        let via = gateway.map_or(String::new(), |g| format!(" via {g}"));
        let op = format!("add route {dst_text}{via} dev {index}");
        let v4 = match (dst, gateway) {
            (Some((d, _)), Some(g)) if d.is_ipv4() != g.is_ipv4() => {
                return Err(fail(&op, NetlinkFailure::MixedFamilies));
            }
            (Some((d, _)), _) => d.is_ipv4(),
            (None, Some(g)) => g.is_ipv4(),
            (None, None) => true,
        };
        let mut header = RouteHeader {
            address_family: if v4 {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            },
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Static,
            scope: if gateway.is_some() {
                RouteScope::Universe
            } else {
                RouteScope::Link
            },
            kind: RouteType::Unicast,
            ..RouteHeader::default()
        };
        let mut msg = RouteMessage::default();
        if let Some((d, p)) = dst {
            if p > if v4 { 32 } else { 128 } {
                return Err(fail(&op, NetlinkFailure::PrefixTooLong));
            }
            header.destination_prefix_length = p;
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(d)));
        }
        if let Some(g) = gateway {
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(g)));
        }
        msg.attributes.push(RouteAttribute::Oif(index));
        msg.header = header;
        self.ack(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )
    }

    /// Every interface of this namespace.
    pub fn links(&mut self) -> NetlinkResult<Vec<Link>> {
        let msgs = self.dump(
            || RouteNetlinkMessage::GetLink(LinkMessage::default()),
            "list links",
        )?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(l)),
                _ => None,
            })
            .collect())
    }

    /// Every address of this namespace (IPv4 and IPv6), or only those of interface `index`.
    pub fn addresses(&mut self, index: Option<u32>) -> NetlinkResult<Vec<Address>> {
        let msgs = self.dump(
            || RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            "list addresses",
        )?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => address_of(a),
                _ => None,
            })
            .filter(|a| index.is_none_or(|i| a.index == i))
            .collect())
    }

    /// Every route of this namespace, all tables, IPv4 and IPv6 (what IPAM reads to avoid
    /// subnets already in use).
    pub fn routes(&mut self) -> NetlinkResult<Vec<Route>> {
        let msgs = self.dump(
            || RouteNetlinkMessage::GetRoute(RouteMessage::default()),
            "list routes",
        )?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => Some(route_of(r)),
                _ => None,
            })
            .collect())
    }
}

fn mtu_note(mtu: Option<u32>) -> String {
    mtu.map_or(String::new(), |m| format!(" (mtu {m})"))
}
