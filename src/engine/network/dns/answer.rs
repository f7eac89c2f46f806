//! What a query packet becomes, without any socket: our own answer (as bytes to send back), a
//! query to relay upstream, or nothing. Kept apart from the poll loop in `server.rs` so that the
//! handling of untrusted packets can be exercised directly (unit tests, the `dns_query` fuzz
//! target) without binding listeners in a network namespace.

use std::net::IpAddr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::config::*;
use super::error::*;
use super::store::*;

/// How a query arrived: an answer over UDP must fit the datagram size the client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// What to do with one received packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Send these bytes back to the client.
    Reply(Vec<u8>),
    /// Not ours to answer: relay the packet upstream; `id` is the client's query id.
    Forward { id: u16 },
    /// Not a query we can read (garbage, or a response): drop it silently, as resolvers do.
    Ignore,
}

/// The names one container's resolver answers for: its networks in the [`EndpointStore`] and
/// its `links` aliases.
#[derive(Debug)]
pub struct Answerer {
    store: EndpointStore,
    networks: Vec<String>,
    /// (normalized alias, target).
    links: Vec<(String, String)>,
    /// Round-robin position: each answer starts one address further.
    rotation: usize,
}

/// The response skeleton for `query`: same id, opcode, RD, CD and question.
pub(super) fn response_to(query: &Message, code: ResponseCode) -> Message {
    let mut m = Message::new();
    m.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_checking_disabled(query.checking_disabled())
        .set_response_code(code)
        .add_queries(query.queries().iter().cloned());
    m
}

impl Answerer {
    pub fn new(
        store: EndpointStore,
        networks: Vec<String>,
        links: Vec<(String, String)>,
    ) -> Answerer {
        Answerer {
            store,
            networks,
            links: links
                .into_iter()
                .map(|(alias, target)| (normalize(&alias), target))
                .collect(),
            rotation: 0,
        }
    }

    /// Handles one packet as received from a client over `transport`.
    pub fn respond(&mut self, packet: &[u8], transport: Transport) -> Response {
        let Ok(msg) = Message::from_vec(packet) else {
            return Response::Ignore;
        };
        if msg.message_type() != MessageType::Query {
            return Response::Ignore;
        }
        let Some(mut resp) = self.answer(&msg) else {
            return Response::Forward { id: msg.id() };
        };
        let Ok(bytes) = resp.to_vec() else {
            return Response::Ignore;
        };
        let limit = usize::from(msg.max_payload()).min(MAX_UDP_ANSWER);
        if transport == Transport::Udp && bytes.len() > limit {
            // Too many addresses for a datagram: the client retries over TCP.
            resp.take_answers();
            resp.set_truncated(true);
            return resp.to_vec().map_or(Response::Ignore, Response::Reply);
        }
        Response::Reply(bytes)
    }

    /// All addresses of `name` (after alias resolution) on the container's networks.
    fn addresses_of(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        let key = normalize(name);
        let target = self
            .links
            .iter()
            .find(|(alias, _)| *alias == key)
            .map_or(name, |(_, target)| target.as_str());
        let mut out = Vec::new();
        for net in &self.networks {
            for a in self.store.lookup(net, target)? {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }

    fn reverse_of(&self, name: &Name) -> Result<Option<String>, DnsError> {
        let Ok(net) = name.parse_arpa_name() else {
            return Ok(None);
        };
        let ip = net.addr();
        let full = if ip.is_ipv4() { 32 } else { 128 };
        if net.prefix_len() != full {
            return Ok(None);
        }
        for network in &self.networks {
            if let Some(n) = self.store.reverse(network, ip)? {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    /// Our answer to `msg`, or `None` when it goes upstream.
    fn answer(&mut self, msg: &Message) -> Option<Message> {
        if msg.op_code() != OpCode::Query {
            return Some(response_to(msg, ResponseCode::NotImp));
        }
        let [q] = msg.queries() else {
            return Some(response_to(msg, ResponseCode::FormErr));
        };
        if q.query_class() != DNSClass::IN {
            return None;
        }
        let mut resp = response_to(msg, ResponseCode::NoError);
        resp.set_authoritative(true);
        if q.query_type() == RecordType::PTR {
            return match self.reverse_of(q.name()) {
                Err(_) => Some(response_to(msg, ResponseCode::ServFail)),
                Ok(None) => None,
                Ok(Some(target)) => {
                    if let Ok(target) = Name::from_ascii(format!("{}.", normalize(&target))) {
                        resp.add_answer(Record::from_rdata(
                            q.name().clone(),
                            TTL,
                            RData::PTR(PTR(target)),
                        ));
                    }
                    Some(resp)
                }
            };
        }
        let mut addrs = match self.addresses_of(&q.name().to_ascii()) {
            Err(_) => return Some(response_to(msg, ResponseCode::ServFail)),
            Ok(a) if a.is_empty() => return None,
            Ok(a) => a,
        };
        addrs.retain(|a| match q.query_type() {
            RecordType::A => a.is_ipv4(),
            RecordType::AAAA => a.is_ipv6(),
            _ => false,
        });
        if !addrs.is_empty() {
            let k = self.rotation % addrs.len();
            addrs.rotate_left(k);
            self.rotation = self.rotation.wrapping_add(1);
        }
        for a in addrs {
            let rdata = match a {
                IpAddr::V4(v4) => RData::A(A(v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
            };
            resp.add_answer(Record::from_rdata(q.name().clone(), TTL, rdata));
        }
        Some(resp)
    }
}
