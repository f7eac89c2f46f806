//! The embedded DNS resolver that gives containers service discovery, as Docker's `127.0.0.11`
//! does: a container asks `127.0.0.11:53` for `web` and gets the addresses of every container
//! that publishes `web` on one of its networks; every other name goes to the host's resolvers.
//!
//! Why it looks like this:
//! - **One resolver per container, inside its monitor.** There is no daemon, and a resolver per
//!   project or per network would have to be started by the first container, outlive it if
//!   others remain, and be found again by later `compose` processes. Each container already has
//!   a small single-threaded monitor process (poll loop, no async runtime, memory budget under
//!   1 MiB) that lives exactly as long as the container, so the resolver is a few more fds in
//!   that poll loop ([`Resolver::poll_fds`], [`Resolver::handle_ready`],
//!   [`Resolver::next_timeout`], [`Resolver::expire`]): no extra process, no start-up latency,
//!   and it can never serve a container that is gone. Memory is bounded: one 64 KiB scratch
//!   buffer, at most [`MAX_TCP_CONNS`] TCP connections of at most 4 KiB each, and at most
//!   [`MAX_PENDING`] forwarded queries.
//! - **Two namespaces.** The listening sockets (UDP and TCP on `127.0.0.11:53`) are created in
//!   the container's network namespace (a socket stays in the namespace it was created in,
//!   whichever thread uses it later), with `IP_FREEBIND` so the bind works even before the
//!   container's loopback is up. The sockets that forward unknown names upstream are created in
//!   the monitor's own (host) namespace, so host-only resolvers such as systemd-resolved's
//!   `127.0.0.53` keep working, and no route from the container to them is needed.
//! - **Name data on disk, read per query.** Each container's names and addresses on a network
//!   are one small JSON file, `<dns dir>/<network>/<container-id>`, replaced atomically
//!   ([`EndpointStore`]). Every resolver reads the files of its networks on each query (a handful
//!   of small files, in the page cache), so a container that joins or leaves later is seen at
//!   once by every other container without signalling or restarting anyone, and there is no
//!   in-memory copy that can go stale. Rewriting `/etc/hosts` in every container instead would
//!   race with programs reading it and would not round-robin.
//! - **Answers.** A/AAAA for a name published on any of the container's networks are answered
//!   here (authoritative, TTL [`TTL`]) with all addresses of that family, rotated per query
//!   (round-robin, like Docker). A name that is ours but has no address of the asked family (or
//!   is asked for another type) gets NOERROR with no answers and is never forwarded, so internal
//!   names do not leak to, or get shadowed by, upstream resolvers. `links` aliases resolve as
//!   their target. PTR queries for our addresses answer the publishing container's first name.
//!   Everything else is relayed to the upstreams unchanged except for the query id (rewritten
//!   to a random free id, and restored in the answer; answers are accepted only from a
//!   configured upstream and only for the same question), trying the next upstream when one
//!   does not answer in its share of the [`FORWARD_TIMEOUT`]; when all fail, or there are no
//!   upstreams, the client gets SERVFAIL.
//! - **TCP** (clients retry there after a truncated answer): one 2-byte-length-prefixed query per
//!   connection, answered like a UDP one (forwarded over UDP), then the connection is closed.
//!   Connections that stay idle for [`TCP_IDLE`] are closed. The answer is written with one
//!   non-blocking write; an answer that does not fit the socket's send buffer (tens of KiB on a
//!   fresh connection) is dropped with the connection, which only a huge forwarded answer can hit.
//!
//! - **Port 53 stays the container's.** The listeners take a random port of `127.0.0.11`, and a
//!   DNAT rule in the container's own namespace (nftables `output`, see
//!   [`crate::engine::network::nft::resolver_redirect_rules`]) sends `127.0.0.11:53` there, as
//!   Docker does: a container that runs a DNS server on `0.0.0.0:53` binds it, and its queries to
//!   `127.0.0.11` are still answered here.
//!
//! Known limits: forwarded answers truncated by an upstream (TC) are relayed as is.
//!
//! Files: `config.rs` what a resolver serves and its limits, `store.rs` the names table on
//! disk ([`EndpointStore`]), `answer.rs` what a query packet becomes (no sockets: our answer, a
//! relay upstream, or nothing), `server.rs` the sockets and the poll-loop steps, `error.rs` the
//! errors.

mod answer;
mod config;
mod error;
mod server;
mod store;

pub use answer::{Answerer, Response, Transport};
pub use config::*;
pub use error::DnsError;
pub use server::Resolver;
pub use store::{DnsEntry, EndpointStore};

#[cfg(test)]
mod tests;
