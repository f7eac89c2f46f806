//! The one seam between network code and the kernel's netlink sockets: rtnetlink (links,
//! addresses, routes; [`super::link`]) and nf_tables (rules; [`super::nft`]) both send whole
//! datagrams and read datagrams back through a [`Transport`].
//!
//! The real transport is [`NetlinkSocket`]; tests substitute `fake::FakeTransport`, which records
//! every datagram sent and answers from a script, so what a client would ask the kernel for is
//! unit-tested without root (the pattern of youki's `syscall/` and our `cgroups/fs.rs`).

mod socket;

#[cfg(test)]
pub mod fake;

use std::fmt;
use std::io;

pub use socket::NetlinkSocket;

/// A connected netlink socket, reduced to what the clients need from it.
pub trait Transport: fmt::Debug + Send {
    /// Sends one datagram (one request, or a whole nf_tables batch); returns the bytes sent.
    fn send(&mut self, datagram: &[u8]) -> io::Result<usize>;
    /// Receives the next datagram of answers, whatever its size. A socket with a reply timeout
    /// (or in non-blocking mode) fails with `WouldBlock`/`TimedOut` when none comes.
    fn recv(&mut self) -> io::Result<Vec<u8>>;
    /// Switches receiving to non-blocking (`true`) or back: once the kernel refused one message
    /// of a batch, the answers still queued are read without waiting for more.
    fn set_non_blocking(&mut self, non_blocking: bool) -> io::Result<()>;
}
