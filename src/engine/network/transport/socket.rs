//! The real [`Transport`]: a `netlink_sys` socket bound to the network namespace of the thread
//! that opened it.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_sys::protocols::{NETLINK_NETFILTER, NETLINK_ROUTE};
use netlink_sys::{Socket, SocketAddr};

use super::Transport;

/// A connected netlink socket. It keeps talking to the network namespace it was created in,
/// whichever thread uses it later (what `Netlink::new_in` and `Nft::new_in` rely on).
pub struct NetlinkSocket {
    socket: Socket,
}

impl fmt::Debug for NetlinkSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetlinkSocket")
            .field("fd", &self.socket.as_raw_fd())
            .finish()
    }
}

impl NetlinkSocket {
    /// Opens, binds and connects a socket of `protocol` to the kernel. Errors then carry only
    /// the header of the refused request, not the whole request back (`NETLINK_CAP_ACK`); an
    /// old kernel without the option is fine as it is.
    fn connect(protocol: isize) -> io::Result<Socket> {
        let mut socket = Socket::new(protocol)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        let _ = socket.set_cap_ack(true);
        Ok(socket)
    }

    /// An rtnetlink socket (`NETLINK_ROUTE`) that waits for answers as long as they take.
    pub fn route() -> io::Result<NetlinkSocket> {
        Ok(NetlinkSocket {
            socket: Self::connect(NETLINK_ROUTE)?,
        })
    }

    /// A netfilter socket (`NETLINK_NETFILTER`) whose errors carry the kernel's text
    /// (`NETLINK_EXT_ACK`, when the kernel has it) and whose reads give up after
    /// `reply_timeout` (`SO_RCVTIMEO`), so a batch the kernel stopped answering cannot hang us.
    pub fn netfilter(reply_timeout: Duration) -> io::Result<NetlinkSocket> {
        let socket = Self::connect(NETLINK_NETFILTER)?;
        let _ = socket.set_ext_ack(true);
        let tv = libc::timeval {
            tv_sec: reply_timeout.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        // SAFETY: a valid fd, a timeval of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(NetlinkSocket { socket })
    }
}

impl Transport for NetlinkSocket {
    fn send(&mut self, datagram: &[u8]) -> io::Result<usize> {
        self.socket.send(datagram, 0)
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        self.socket.recv_from_full().map(|(data, _)| data)
    }

    fn set_non_blocking(&mut self, non_blocking: bool) -> io::Result<()> {
        self.socket.set_non_blocking(non_blocking)
    }
}
