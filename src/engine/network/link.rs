//! The link layer of project networks, over rtnetlink: bridges, veth pairs, addresses, routes,
//! and moving interfaces between network namespaces.
//!
//! Everything goes through one synchronous [`Netlink`] client (a `NETLINK_ROUTE` socket and a
//! sequence counter): no async runtime, no `ip` process on the hot path. Each modifying request
//! carries `NLM_F_ACK`, so the kernel's answer (ACK or errno) is read before the call returns, and
//! every failure becomes an [`io::Error`] that names the operation and keeps the errno (see
//! [`NetlinkError`] and [`netlink_errno`]).
//!
//! A netlink socket talks to the network namespace it was *created* in, whichever thread uses it
//! later. [`Netlink::new_in`] uses that to drive another namespace (a container's, or a test's
//! stand-in host) from the calling thread; [`in_netns`] runs arbitrary code (sockets, several
//! clients) inside another namespace on a dedicated thread, so the caller's namespace never
//! changes.
//!
//! Interface names are limited to 15 bytes by the kernel. [`veth_name`], [`veth_peer_name`] and
//! [`bridge_name`] derive short, deterministic, collision-resistant names from hashes; their
//! prefixes (`cmp`, `br-`) are the ones the project's leftover checks look for.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

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
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use sha2::{Digest, Sha256};

/// Longest interface name Linux accepts (`IFNAMSIZ` − 1).
pub const IFNAME_MAX: usize = 15;

/// How often a dump interrupted by a concurrent change (`NLM_F_DUMP_INTR`) is restarted before
/// its (possibly inconsistent) result is returned anyway.
const DUMP_RETRIES: usize = 5;

/// A failed netlink operation: which one, and the kernel's errno when there is one.
///
/// Carried inside the [`io::Error`]s this module returns (same [`io::ErrorKind`] as the errno),
/// so callers can match on `kind()` (e.g. `AlreadyExists` for `EEXIST`) or get the errno back
/// with [`netlink_errno`].
#[derive(Debug, thiserror::Error)]
#[error("netlink: {op}: {cause}")]
pub struct NetlinkError {
    /// The operation, with its arguments (e.g. `create bridge br-0123 (mtu 1500)`).
    pub op: String,
    /// The errno the kernel (or the socket layer) answered, when known.
    pub errno: Option<i32>,
    cause: io::Error,
}

fn nl_err(op: &str, cause: io::Error) -> io::Error {
    io::Error::new(
        cause.kind(),
        NetlinkError {
            op: op.to_string(),
            errno: cause.raw_os_error(),
            cause,
        },
    )
}

fn invalid(op: &str, what: impl fmt::Display) -> io::Error {
    nl_err(
        op,
        io::Error::new(io::ErrorKind::InvalidData, what.to_string()),
    )
}

/// The errno behind an error from this module (or a plain OS error), if any.
pub fn netlink_errno(err: &io::Error) -> Option<i32> {
    err.raw_os_error().or_else(|| {
        err.get_ref()
            .and_then(|e| e.downcast_ref::<NetlinkError>())
            .and_then(|e| e.errno)
    })
}

/// One interface, as listed by [`Netlink::links`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND`: `bridge`, `veth`, … (`None` for devices without one, like `lo`).
    pub kind: Option<String>,
    /// Index of the bridge (or bond) this interface is a port of.
    pub master: Option<u32>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    pub mtu: Option<u32>,
    /// The hardware address, when it is a 6-byte Ethernet one.
    pub mac: Option<[u8; 6]>,
}

/// One address, as listed by [`Netlink::addresses`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
}

/// One route, as listed by [`Netlink::routes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination network; `None` for a default route.
    pub dst: Option<(IpAddr, u8)>,
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// Routing table id (254 is `main`, 255 `local`).
    pub table: u32,
}

/// A synchronous rtnetlink client bound to the network namespace it was created in.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl fmt::Debug for Netlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netlink")
            .field("fd", &self.socket.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
}

impl Netlink {
    /// Opens a client in the calling thread's network namespace.
    pub fn new() -> io::Result<Netlink> {
        let op = "open rtnetlink socket";
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(|e| nl_err(op, e))?;
        socket.bind_auto().map_err(|e| nl_err(op, e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| nl_err(op, e))?;
        // Errors then carry only the header of our request, not the whole request back; an old
        // kernel without the option is fine as it is.
        let _ = socket.set_cap_ack(true);
        Ok(Netlink { socket, seq: 0 })
    }

    /// Opens a client in the network namespace `ns` (an fd on `/proc/<pid>/ns/net` or the like):
    /// the socket is created on a short-lived thread inside `ns` and keeps talking to `ns` from
    /// any thread, while the caller's namespace never changes.
    pub fn new_in(ns: BorrowedFd<'_>) -> io::Result<Netlink> {
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
    ) -> io::Result<(Vec<RouteNetlinkMessage>, bool)> {
        self.seq = self.seq.wrapping_add(1).max(1);
        let seq = self.seq;
        let mut req = NetlinkMessage::from(payload);
        req.header.flags = NLM_F_REQUEST | flags;
        req.header.sequence_number = seq;
        req.finalize();
        let mut buf = vec![0u8; req.buffer_len()];
        req.serialize(&mut buf);
        let sent = self.socket.send(&buf, 0).map_err(|e| nl_err(op, e))?;
        if sent != buf.len() {
            return Err(invalid(op, format!("short send ({sent} of {})", buf.len())));
        }

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let acked = flags & NLM_F_ACK != 0;
        let mut out = Vec::new();
        let mut interrupted = false;
        loop {
            let (data, _) = self.socket.recv_from_full().map_err(|e| nl_err(op, e))?;
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
                    return Err(invalid(op, format!("bad message length {len}")));
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
                    Err(e) => return Err(invalid(op, format!("cannot parse reply: {e}"))),
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
    pub fn ack(&mut self, payload: RouteNetlinkMessage, extra: u16, op: &str) -> io::Result<()> {
        self.exchange(payload, NLM_F_ACK | extra, op).map(|_| ())
    }

    /// A dump, restarted when a concurrent change interrupted it (raw messages, for readers
    /// that need more than [`Link`], [`Address`] and [`Route`] carry).
    pub fn dump(
        &mut self,
        make: impl Fn() -> RouteNetlinkMessage,
        op: &str,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
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
    ) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        edit(&mut msg);
        self.ack(RouteNetlinkMessage::SetLink(msg), 0, op)
    }

    /// The index of the interface called `name`, or `None` when there is none.
    pub fn link_index(&mut self, name: &str) -> io::Result<Option<u32>> {
        let op = format!("look up link {name}");
        check_ifname(name).map_err(|e| nl_err(&op, e))?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.exchange(RouteNetlinkMessage::GetLink(msg), 0, &op) {
            Ok((msgs, _)) => msgs
                .into_iter()
                .find_map(|m| match m {
                    RouteNetlinkMessage::NewLink(l) => Some(Some(l.header.index)),
                    _ => None,
                })
                .ok_or_else(|| invalid(&op, "no link in the answer")),
            Err(e) if netlink_errno(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether an interface called `name` exists.
    pub fn link_exists(&mut self, name: &str) -> io::Result<bool> {
        Ok(self.link_index(name)?.is_some())
    }

    /// Like [`Netlink::link_index`], for a link that must exist.
    fn index_of(&mut self, name: &str, op: &str) -> io::Result<u32> {
        self.link_index(name)?.ok_or_else(|| {
            nl_err(
                op,
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{name} vanished after creation"),
                ),
            )
        })
    }

    /// Creates a Linux bridge (down; see [`Netlink::set_up`]) and returns its index. Fails with
    /// `AlreadyExists` when the name is taken.
    pub fn create_bridge(&mut self, name: &str, mtu: Option<u32>) -> io::Result<u32> {
        let op = format!("create bridge {name}{}", mtu_note(mtu));
        check_ifname(name).map_err(|e| nl_err(&op, e))?;
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
    ) -> io::Result<(u32, u32)> {
        let op = format!("create veth {host_name} <-> {peer_name}{}", mtu_note(mtu));
        check_ifname(host_name).map_err(|e| nl_err(&op, e))?;
        check_ifname(peer_name).map_err(|e| nl_err(&op, e))?;
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
    ) -> io::Result<u32> {
        let op = format!(
            "create veth {host_name} <-> {peer_name} (peer in netns fd {}){}",
            peer_ns.as_raw_fd(),
            mtu_note(mtu)
        );
        check_ifname(host_name).map_err(|e| nl_err(&op, e))?;
        check_ifname(peer_name).map_err(|e| nl_err(&op, e))?;
        let msg = Self::veth_message(host_name, peer_name, mtu, Some(peer_ns));
        self.ack(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )?;
        self.index_of(host_name, &op)
    }

    /// Sets the interface administratively up.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        self.set_link(index, &format!("set link {index} up"), |m| {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// Sets the interface administratively down.
    pub fn set_down(&mut self, index: u32) -> io::Result<()> {
        self.set_link(index, &format!("set link {index} down"), |m| {
            m.header.flags = LinkFlags::empty();
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// Makes the interface a port of the bridge `bridge_index` (0 releases it).
    pub fn set_master(&mut self, index: u32, bridge_index: u32) -> io::Result<()> {
        self.set_link(
            index,
            &format!("set master of link {index} to {bridge_index}"),
            |m| m.attributes.push(LinkAttribute::Controller(bridge_index)),
        )
    }

    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> io::Result<()> {
        self.set_link(index, &format!("set mtu of link {index} to {mtu}"), |m| {
            m.attributes.push(LinkAttribute::Mtu(mtu))
        })
    }

    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> io::Result<()> {
        self.set_link(
            index,
            &format!("set mac of link {index} to {}", format_mac(mac)),
            |m| m.attributes.push(LinkAttribute::Address(mac.to_vec())),
        )
    }

    /// Renames the interface. The kernel refuses (`EBUSY`) while it is up: rename first.
    pub fn rename(&mut self, index: u32, new_name: &str) -> io::Result<()> {
        let op = format!("rename link {index} to {new_name}");
        check_ifname(new_name).map_err(|e| nl_err(&op, e))?;
        self.set_link(index, &op, |m| {
            m.attributes
                .push(LinkAttribute::IfName(new_name.to_string()))
        })
    }

    /// Moves the interface into the network namespace `ns` (it arrives down, without addresses).
    pub fn move_to_netns_fd(&mut self, index: u32, ns: BorrowedFd<'_>) -> io::Result<()> {
        let op = format!("move link {index} to netns fd {}", ns.as_raw_fd());
        self.set_link(index, &op, |m| {
            m.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()))
        })
    }

    /// Moves the interface into the network namespace of process (or thread) `pid`.
    pub fn move_to_netns_pid(&mut self, index: u32, pid: u32) -> io::Result<()> {
        let op = format!("move link {index} to netns of pid {pid}");
        self.set_link(index, &op, |m| {
            m.attributes.push(LinkAttribute::NetNsPid(pid))
        })
    }

    /// Deletes the interface (for a veth, both ends go).
    pub fn delete_link(&mut self, index: u32) -> io::Result<()> {
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
    pub fn add_address(&mut self, index: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        let op = format!("add address {addr}/{prefix_len} to link {index}");
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(nl_err(
                &op,
                io::Error::new(io::ErrorKind::InvalidInput, "prefix length too long"),
            ));
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
    ) -> io::Result<()> {
        let dst_text = dst.map_or("default".to_string(), |(a, p)| format!("{a}/{p}"));
        let via = gateway.map_or(String::new(), |g| format!(" via {g}"));
        let op = format!("add route {dst_text}{via} dev {index}");
        let v4 = match (dst, gateway) {
            (Some((d, _)), Some(g)) if d.is_ipv4() != g.is_ipv4() => {
                return Err(nl_err(
                    &op,
                    io::Error::new(io::ErrorKind::InvalidInput, "mixed address families"),
                ));
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
                return Err(nl_err(
                    &op,
                    io::Error::new(io::ErrorKind::InvalidInput, "prefix length too long"),
                ));
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
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
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
    pub fn addresses(&mut self, index: Option<u32>) -> io::Result<Vec<Address>> {
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
    pub fn routes(&mut self) -> io::Result<Vec<Route>> {
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

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn link_of(l: LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        name: String::new(),
        kind: None,
        master: None,
        up: l.header.flags.contains(LinkFlags::Up),
        mtu: None,
        mac: None,
    };
    for attr in l.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name = n,
            LinkAttribute::Controller(m) if m != 0 => link.master = Some(m),
            LinkAttribute::Mtu(m) => link.mtu = Some(m),
            LinkAttribute::Address(a) => link.mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(k) = info {
                        link.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

fn address_of(a: AddressMessage) -> Option<Address> {
    // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise.
    let mut local = None;
    let mut address = None;
    for attr in a.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(ip),
            AddressAttribute::Address(ip) => address = Some(ip),
            _ => {}
        }
    }
    Some(Address {
        index: a.header.index,
        addr: local.or(address)?,
        prefix_len: a.header.prefix_len,
    })
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn route_of(r: RouteMessage) -> Route {
    let mut route = Route {
        dst: None,
        gateway: None,
        oif: None,
        table: u32::from(r.header.table),
    };
    for attr in &r.attributes {
        match attr {
            RouteAttribute::Destination(d) => {
                route.dst = route_ip(d).map(|ip| (ip, r.header.destination_prefix_length))
            }
            RouteAttribute::Gateway(g) => route.gateway = route_ip(g),
            RouteAttribute::Oif(i) => route.oif = Some(*i),
            RouteAttribute::Table(t) => route.table = *t,
            _ => {}
        }
    }
    route
}

/// Runs `f` on a dedicated thread that first joins the network namespace `ns` (`setns` with
/// `CLONE_NEWNET`, which is per thread), and returns its result. The calling thread's namespace
/// never changes; sockets created by `f` stay bound to `ns` wherever they are used afterwards.
/// A panic in `f` is resumed in the caller.
pub fn in_netns<R, F>(ns: BorrowedFd<'_>, f: F) -> io::Result<R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("netns".into())
            .spawn_scoped(s, move || -> io::Result<R> {
                rustix::thread::move_into_link_name_space(
                    ns,
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(|e| {
                    nl_err(
                        &format!("enter netns fd {}", ns.as_raw_fd()),
                        io::Error::from(e),
                    )
                })?;
                Ok(f())
            })
            .map_err(|e| nl_err("spawn netns thread", e))?;
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Opens the network namespace of process (or thread) `pid`, for [`in_netns`],
/// [`Netlink::new_in`] and [`Netlink::move_to_netns_fd`].
pub fn open_netns(pid: u32) -> io::Result<OwnedFd> {
    let path = format!("/proc/{pid}/ns/net");
    rustix::fs::open(
        path.as_str(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| nl_err(&format!("open {path}"), io::Error::from(e)))
}

/// Creates a new, empty network namespace (only `lo`, down) held by nothing but the returned fd:
/// it vanishes, with every interface in it, once the fd and every socket made in it are closed.
/// Made on a short-lived thread (`unshare(CLONE_NEWNET)`), so the caller stays where it is —
/// this is how tests get a stand-in host that cannot disturb the real one.
pub fn create_netns() -> io::Result<OwnedFd> {
    std::thread::Builder::new()
        .name("netns-new".into())
        .spawn(|| -> io::Result<OwnedFd> {
            // SAFETY: only CLONE_NEWNET is unshared, not the fd table, and only on this thread,
            // which ends right after.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
                .map_err(|e| nl_err("unshare network namespace", io::Error::from(e)))?;
            rustix::fs::open(
                "/proc/thread-self/ns/net",
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| nl_err("open /proc/thread-self/ns/net", io::Error::from(e)))
        })
        .map_err(|e| nl_err("spawn netns thread", e))?
        .join()
        .map_err(|_| {
            nl_err(
                "create network namespace",
                io::Error::other("thread panicked"),
            )
        })?
}

/// Checks an interface name the way the kernel does (`dev_valid_name`): 1 to 15 bytes, not `.`
/// or `..`, no `/`, `:` or whitespace.
pub fn check_ifname(name: &str) -> io::Result<()> {
    let bad = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}: {why}"),
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
    use std::os::fd::AsFd;
    use std::time::Duration;

    #[test]
    fn names_are_short_distinct_and_deterministic() {
        let a = veth_name("c0ffee", "proj_default");
        assert_eq!(a, veth_name("c0ffee", "proj_default"));
        assert_ne!(a, veth_name("c0ffee", "proj_back"));
        assert_ne!(veth_name("ab", "c"), veth_name("a", "bc"));
        assert!(a.starts_with("cmp") && a.len() == 13, "{a}");
        let p = veth_peer_name("c0ffee", "proj_default");
        assert!(p.starts_with(&a) && p.len() == 14);
        let b = bridge_name(Path::new("/var/lib/compose"), "proj_default");
        assert!(b.starts_with("br-") && b.len() == IFNAME_MAX, "{b}");
        assert_eq!(
            b,
            bridge_name(Path::new("/var/lib/compose"), "proj_default")
        );
        assert_ne!(b, bridge_name(Path::new("/srv/compose"), "proj_default"));
        let old = legacy_bridge_name("proj_default");
        assert!(old != b && old.len() == IFNAME_MAX, "{old}");
        for n in [&a, &p, &b, &old] {
            check_ifname(n).unwrap();
        }
    }

    #[test]
    fn ifname_rules() {
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("123456789012345").is_ok());
        for bad in ["", "1234567890123456", ".", "..", "a/b", "a:b", "a b"] {
            assert!(check_ifname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_name_the_operation_and_keep_errno() {
        let e = nl_err(
            "create bridge br-x",
            io::Error::from_raw_os_error(libc::EEXIST),
        );
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(netlink_errno(&e), Some(libc::EEXIST));
        assert!(e.to_string().contains("create bridge br-x"), "{e}");
        assert_eq!(
            format_mac([2, 0x42, 0xac, 0x11, 0, 0xff]),
            "02:42:ac:11:00:ff"
        );
    }

    #[test]
    fn in_netns_refuses_a_non_namespace_fd() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let e = in_netns(f.as_fd(), || ()).unwrap_err();
        assert!(e.to_string().contains("enter netns"), "{e}");
        assert_eq!(netlink_errno(&e), Some(libc::EINVAL));
    }

    fn random_hex() -> String {
        let mut b = [0u8; 8];
        if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
            let _ = std::io::Read::read_exact(&mut f, &mut b);
        }
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Two throw-away namespaces: a stand-in host and a stand-in container. Drop deletes what the
    /// test created in them; dropping the fds then destroys the namespaces themselves, so nothing
    /// can outlive the test, and the real host namespace is never opened.
    struct TestNets {
        host: OwnedFd,
        ctr: OwnedFd,
        host_links: Vec<String>,
    }

    impl Drop for TestNets {
        fn drop(&mut self) {
            if let Ok(mut nl) = Netlink::new_in(self.host.as_fd()) {
                for name in &self.host_links {
                    if let Ok(Some(i)) = nl.link_index(name) {
                        let _ = nl.delete_link(i);
                    }
                }
            }
        }
    }

    fn skip_unless_root() -> bool {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root (network namespaces, rtnetlink)");
            return true;
        }
        false
    }

    #[test]
    fn bridge_and_veth_connect_two_namespaces() {
        if skip_unless_root() {
            return;
        }
        let id = format!("compose-test-{}", random_hex());
        let br_name = legacy_bridge_name(&id);
        let h1 = veth_name(&id, "a");
        let p1 = veth_peer_name(&id, "a");
        let h2 = veth_name(&id, "b");
        let p2 = veth_peer_name(&id, "b");
        let h3 = veth_name(&id, "c");
        let mut nets = TestNets {
            host: create_netns().expect("host netns"),
            ctr: create_netns().expect("container netns"),
            host_links: vec![br_name.clone(), h1.clone(), h2.clone(), h3.clone()],
        };
        let mut host = Netlink::new_in(nets.host.as_fd()).expect("netlink in host netns");
        let mut ctr = Netlink::new_in(nets.ctr.as_fd()).expect("netlink in container netns");

        // Stand-in host: lo (with a second address to reach through the default route), bridge.
        host.set_up(1).unwrap();
        let far = Ipv4Addr::new(10, 202, 0, 1);
        host.add_address(1, far.into(), 32).unwrap();
        let br = host.create_bridge(&br_name, Some(1400)).unwrap();
        let dup = host.create_bridge(&br_name, None).unwrap_err();
        assert_eq!(dup.kind(), io::ErrorKind::AlreadyExists, "{dup}");
        assert!(dup.to_string().contains("create bridge"), "{dup}");
        host.add_address(br, Ipv4Addr::new(10, 201, 0, 1).into(), 24)
            .unwrap();
        host.set_up(br).unwrap();

        // First attachment: create, move by namespace fd, rename and configure inside.
        let (hi1, pi1) = host.create_veth(&h1, &p1, Some(1400)).unwrap();
        host.set_master(hi1, br).unwrap();
        host.set_up(hi1).unwrap();
        host.move_to_netns_fd(pi1, nets.ctr.as_fd()).unwrap();
        assert!(!host.link_exists(&p1).unwrap());
        let mac = [0x02, 0x42, 0x0a, 0xc9, 0x00, 0x02];
        let eth0 = in_netns(nets.ctr.as_fd(), || -> io::Result<u32> {
            let mut nl = Netlink::new()?;
            let idx = nl
                .link_index(&p1)?
                .expect("peer arrived in the container netns");
            nl.rename(idx, "eth0")?;
            nl.set_mac(idx, mac)?;
            nl.add_address(idx, Ipv4Addr::new(10, 201, 0, 2).into(), 24)?;
            nl.set_up(1)?;
            nl.set_up(idx)?;
            nl.add_route(None, Some(Ipv4Addr::new(10, 201, 0, 1).into()), idx)?;
            Ok(idx)
        })
        .unwrap()
        .unwrap();

        // Second attachment: moved by the pid of a thread parked in the container namespace.
        let (hi2, pi2) = host.create_veth(&h2, &p2, None).unwrap();
        host.set_mtu(hi2, 1300).unwrap();
        let ctr_fd = nets.ctr.as_fd();
        std::thread::scope(|s| {
            let (tid_tx, tid_rx) = std::sync::mpsc::channel();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            s.spawn(move || {
                let r = rustix::thread::move_into_link_name_space(
                    ctr_fd,
                    Some(rustix::thread::LinkNameSpaceType::Network),
                );
                let _ = tid_tx.send(r.map(|_| rustix::thread::gettid().as_raw_nonzero().get()));
                let _ = done_rx.recv();
            });
            let tid = tid_rx
                .recv()
                .unwrap()
                .expect("thread entered container netns");
            let moved = host.move_to_netns_pid(pi2, tid as u32);
            let _ = done_tx.send(());
            moved.unwrap();
        });
        let eth1 = ctr
            .link_index(&p2)
            .unwrap()
            .expect("second peer in container netns");
        ctr.rename(eth1, "eth1").unwrap();

        // Third attachment: the peer born in the container namespace under its final name.
        let hi3 = host
            .create_veth_into(&h3, "eth2", None, nets.ctr.as_fd())
            .unwrap();
        assert!(ctr.link_exists("eth2").unwrap());
        assert!(!host.link_exists("eth2").unwrap());

        // A real packet: UDP from the container to the bridge address, sockets made inside.
        let rx = in_netns(nets.host.as_fd(), || UdpSocket::bind("10.201.0.1:0"))
            .unwrap()
            .unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let port = rx.local_addr().unwrap().port();
        let tx = in_netns(nets.ctr.as_fd(), || UdpSocket::bind("10.201.0.2:0"))
            .unwrap()
            .unwrap();
        tx.send_to(b"ping", ("10.201.0.1", port)).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = rx
            .recv_from(&mut buf)
            .expect("UDP datagram from the container netns");
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from.ip(), IpAddr::from(Ipv4Addr::new(10, 201, 0, 2)));

        // TCP to an address off the subnet: only the default route gets it there.
        let listener = in_netns(nets.host.as_fd(), || TcpListener::bind((far, 0)))
            .unwrap()
            .unwrap();
        let tport = listener.local_addr().unwrap().port();
        let stream = in_netns(nets.ctr.as_fd(), || {
            TcpStream::connect_timeout(&(far, tport).into(), Duration::from_secs(5))
        })
        .unwrap()
        .expect("TCP through the default route");
        let (_accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), IpAddr::from(Ipv4Addr::new(10, 201, 0, 2)));
        drop(stream);

        // Listings.
        let links = host.links().unwrap();
        let find = |name: &str| links.iter().find(|l| l.name == name).cloned();
        let b = find(&br_name).expect("bridge listed");
        assert_eq!(
            (b.kind.as_deref(), b.index, b.up, b.mtu),
            (Some("bridge"), br, true, Some(1400))
        );
        let v1 = find(&h1).expect("veth listed");
        assert_eq!(
            (v1.kind.as_deref(), v1.master, v1.up),
            (Some("veth"), Some(br), true)
        );
        assert_eq!(find(&h2).expect("veth 2 listed").mtu, Some(1300));
        let clinks = ctr.links().unwrap();
        let e0 = clinks
            .iter()
            .find(|l| l.name == "eth0")
            .expect("eth0 listed");
        assert_eq!(
            (e0.index, e0.mac, e0.up, e0.kind.as_deref()),
            (eth0, Some(mac), true, Some("veth"))
        );
        assert!(clinks.iter().any(|l| l.name == "eth1" && l.index == eth1));
        let addrs = ctr.addresses(Some(eth0)).unwrap();
        assert!(
            addrs.contains(&Address {
                index: eth0,
                addr: Ipv4Addr::new(10, 201, 0, 2).into(),
                prefix_len: 24
            }),
            "{addrs:?}"
        );
        let routes = ctr.routes().unwrap();
        assert!(
            routes.iter().any(|r| r.dst.is_none()
                && r.gateway == Some(Ipv4Addr::new(10, 201, 0, 1).into())
                && r.oif == Some(eth0)
                && r.table == 254),
            "{routes:?}"
        );

        // Deleting the host end removes the pair; then the bridge.
        for (i, n) in [(hi1, &h1), (hi2, &h2), (hi3, &h3)] {
            host.delete_link(i).unwrap();
            assert!(!host.link_exists(n).unwrap());
        }
        for n in ["eth0", "eth1", "eth2"] {
            assert!(
                !ctr.link_exists(n).unwrap(),
                "{n} should be gone with its host end"
            );
        }
        host.delete_link(br).unwrap();
        assert!(!host.link_exists(&br_name).unwrap());
        let gone = host.delete_link(br).unwrap_err();
        assert_eq!(netlink_errno(&gone), Some(libc::ENODEV), "{gone}");
        let left: Vec<String> = host.links().unwrap().into_iter().map(|l| l.name).collect();
        assert_eq!(left, vec!["lo".to_string()]);
        nets.host_links.clear();
    }
}
