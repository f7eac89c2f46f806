//! Rule generation tested through the batches the client records: the fake transport plays the
//! kernel (answers listings, ACKs every message of a batch) and the tests read back, message by
//! message, what would have been committed.

use std::net::IpAddr;

use super::client::Nft;
use super::expr::*;
use super::rules::*;
use super::wire::*;
use crate::engine::network::transport::fake::{
    ack_all, done_reply, dump_reply, FakeTransport, Record, Sent,
};

const BRIDGE: &str = "br-0123456789ab";

/// One message of a recorded batch, decoded.
#[derive(Debug, Clone, PartialEq)]
struct Msg {
    /// `NFT_MSG_*`, or the batch delimiters (`NFNL_MSG_BATCH_BEGIN`/`END`).
    kind: u16,
    flags: u16,
    family: u8,
    chain: Option<String>,
    handle: Option<u64>,
    tag: Option<String>,
    exprs: Vec<Expr>,
}

impl Msg {
    fn appended(&self) -> bool {
        self.flags & NLM_F_APPEND != 0
    }
}

fn decode(sent: &Sent) -> Msg {
    let body = sent.payload();
    let attrs_of = &body[4..];
    let exprs = attr(attrs_of, NFTA_RULE_EXPRESSIONS)
        .map(|list| {
            attrs(list)
                .filter(|(ty, _)| *ty == NFTA_LIST_ELEM)
                .map(|(_, e)| decode_expr(e))
                .collect()
        })
        .unwrap_or_default();
    let is_rule = matches!(sent.ty & 0xff, NFT_MSG_NEWRULE | NFT_MSG_DELRULE);
    Msg {
        kind: if sent.ty >> 8 == NFNL_SUBSYS_NFTABLES {
            sent.ty & 0xff
        } else {
            sent.ty
        },
        flags: sent.flags,
        family: body[0],
        chain: is_rule
            .then(|| attr(attrs_of, NFTA_RULE_CHAIN).map(cstr))
            .flatten(),
        handle: attr(attrs_of, NFTA_RULE_HANDLE)
            .and_then(be64)
            .filter(|_| is_rule),
        tag: attr(attrs_of, NFTA_RULE_USERDATA).and_then(decode_tag),
        exprs,
    }
}

/// The kernel: `rules` (family, chain, handle, tag) are what our table holds; `ip filter` does
/// not exist; every batch message is acknowledged.
pub(crate) fn kernel(rules: Vec<(u8, &'static str, u64, String)>) -> (Nft, Record) {
    let (fake, record) = FakeTransport::new(move |sent| {
        if sent.flags & NLM_F_DUMP != NLM_F_DUMP {
            return ack_all(sent);
        }
        let family = sent.payload()[0];
        let mut out = Vec::new();
        if sent.ty & 0xff == NFT_MSG_GETRULE {
            for (f, chain, handle, tag) in rules.iter().filter(|r| r.0 == family) {
                let mut body = vec![*f, 0, 0, 0];
                let mut a = Attrs(&mut body);
                a.string(NFTA_RULE_TABLE, TABLE);
                a.string(NFTA_RULE_CHAIN, chain);
                a.u64(NFTA_RULE_HANDLE, *handle);
                a.bytes(NFTA_RULE_USERDATA, &encode_tag(tag));
                out.push(dump_reply(sent, sent.ty, &body));
            }
        }
        out.push(done_reply(sent));
        out
    });
    (Nft::with_transport(fake), record)
}

/// The messages of the last datagram sent: the batch, delimiters stripped and checked.
fn last_batch(record: &Record) -> Vec<Msg> {
    let datagrams = record.datagrams();
    let last = datagrams.last().expect("a batch was sent");
    let mut msgs: Vec<Msg> = crate::engine::network::transport::fake::split(last)
        .iter()
        .map(decode)
        .collect();
    assert_eq!(msgs.first().map(|m| m.kind), Some(NFNL_MSG_BATCH_BEGIN));
    assert_eq!(msgs.last().map(|m| m.kind), Some(NFNL_MSG_BATCH_END));
    msgs.remove(0);
    msgs.pop();
    assert!(
        msgs.iter().all(|m| m.flags & NLM_F_ACK != 0),
        "every message asks for the kernel's answer"
    );
    msgs
}

fn added_rules(batch: &[Msg]) -> Vec<&Msg> {
    batch.iter().filter(|m| m.kind == NFT_MSG_NEWRULE).collect()
}

/// The table and its five base chains, created if missing, open the batch.
fn assert_table_first(batch: &[Msg]) {
    let kinds: Vec<u16> = batch.iter().take(6).map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            NFT_MSG_NEWTABLE,
            NFT_MSG_NEWCHAIN,
            NFT_MSG_NEWCHAIN,
            NFT_MSG_NEWCHAIN,
            NFT_MSG_NEWCHAIN,
            NFT_MSG_NEWCHAIN
        ]
    );
    assert!(batch[..6].iter().all(|m| m.family == NFPROTO_INET));
}

fn network(internal: bool) -> NetworkRules {
    NetworkRules {
        name: "proj_default".into(),
        bridge: BRIDGE.into(),
        subnets: vec![("10.5.0.0".parse().unwrap(), 24)],
        internal,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn has_cmp(m: &Msg, data: &[u8]) -> bool {
    m.exprs
        .iter()
        .any(|e| matches!(e, Expr::Cmp { data: d, .. } if d == data))
}

#[test]
fn a_networks_rules_are_one_batch_after_listing_the_old_ones() {
    let (mut nft, record) = kernel(Vec::new());
    let net = network(false);
    nft.add_network(&net).unwrap();
    let sent = record.sent();
    assert_eq!(sent[0].ty & 0xff, NFT_MSG_GETRULE, "old rules listed first");
    let batch = last_batch(&record);
    assert_table_first(&batch);
    let rules = added_rules(&batch);
    assert_eq!(
        rules.len(),
        batch.len() - 6,
        "nothing deleted: nothing was there"
    );
    let want = network_rules(&net);
    assert_eq!(rules.len(), want.len());
    for (got, want) in rules.iter().zip(&want) {
        assert_eq!(got.chain.as_deref(), Some(want.chain.name()));
        assert_eq!(got.appended(), want.position == Position::Tail);
        assert_eq!(got.tag.as_deref(), Some("compose:net:br-0123456789ab"));
        assert_eq!(got.exprs, want.exprs, "encoded as generated");
    }
    let subnet = [10, 5, 0, 0];
    let masq: Vec<_> = rules
        .iter()
        .filter(|r| r.exprs.contains(&Expr::Masquerade))
        .collect();
    assert_eq!(masq.len(), 2, "outbound and hairpin masquerade: {masq:?}");
    assert!(masq
        .iter()
        .all(|r| r.chain.as_deref() == Some("postrouting") && has_cmp(r, &subnet)));
    let head_drops: Vec<_> = rules
        .iter()
        .filter(|r| !r.appended() && r.exprs.last() == Some(&verdict(NF_DROP)))
        .map(|r| r.chain.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(head_drops, ["raw_prerouting", "forward"], "{rules:?}");
    assert!(rules
        .iter()
        .any(|r| r.chain.as_deref() == Some("raw_prerouting") && has_cmp(r, &[127, 0, 0, 0])));
}

#[test]
fn an_internal_network_is_closed_both_ways_and_never_masqueraded() {
    let (mut nft, record) = kernel(Vec::new());
    nft.add_network(&network(true)).unwrap();
    let batch = last_batch(&record);
    let rules = added_rules(&batch);
    assert!(!rules.iter().any(|r| r.exprs.contains(&Expr::Masquerade)));
    assert!(!rules
        .iter()
        .any(|r| r.chain.as_deref() == Some("postrouting")));
    let forward_drops = rules
        .iter()
        .filter(|r| {
            r.chain.as_deref() == Some("forward") && r.exprs.last() == Some(&verdict(NF_DROP))
        })
        .count();
    assert_eq!(forward_drops, 2, "in and out of the bridge: {rules:?}");
    assert_eq!(
        rules.iter().map(|r| r.exprs.clone()).collect::<Vec<_>>(),
        network_rules(&network(true))
            .into_iter()
            .map(|r| r.exprs)
            .collect::<Vec<_>>()
    );
}

fn port(host_ip: Option<IpAddr>) -> PortMapping {
    PortMapping {
        network: "proj_default".into(),
        bridge: BRIDGE.into(),
        protocol: Protocol::Tcp,
        host_ip,
        host_port: 8080,
        container_ip: ip("10.5.0.2"),
        container_port: 80,
    }
}

#[test]
fn a_published_port_is_dnat_in_prerouting_and_output_then_accepted() {
    let (mut nft, record) = kernel(Vec::new());
    nft.add_port(&port(None)).unwrap();
    let batch = last_batch(&record);
    assert_table_first(&batch);
    let rules = added_rules(&batch);
    assert!(rules
        .iter()
        .all(|r| r.tag.as_deref() == Some("compose:port:br-0123456789ab:tcp:*:8080")));
    let dnat = |chain: &str| {
        rules.iter().any(|r| {
            r.chain.as_deref() == Some(chain)
                && r.exprs.contains(&Expr::Immediate {
                    dreg: REG_1,
                    data: vec![10, 5, 0, 2],
                })
                && r.exprs.contains(&Expr::Immediate {
                    dreg: REG_2,
                    data: 80u16.to_be_bytes().to_vec(),
                })
                && r.exprs
                    .iter()
                    .any(|e| matches!(e, Expr::Nat { dnat: true, .. }))
        })
    };
    assert!(dnat("prerouting") && dnat("output"), "{rules:?}");
    assert!(rules.iter().any(|r| r.chain.as_deref() == Some("forward")
        && r.exprs.last() == Some(&verdict(NF_ACCEPT))
        && has_cmp(r, &80u16.to_be_bytes())));
    assert!(rules
        .iter()
        .any(|r| r.chain.as_deref() == Some("postrouting")
            && r.exprs.contains(&Expr::Masquerade)
            && has_cmp(r, &[127, 0, 0, 0])));
    let got: Vec<_> = rules.iter().map(|r| r.exprs.clone()).collect();
    let want: Vec<_> = port_rules(&port(None))
        .unwrap()
        .into_iter()
        .map(|r| r.exprs)
        .collect();
    assert_eq!(got, want);

    // On the host's loopback only: no DNAT from outside, a drop of what arrives for it.
    let (mut nft, record) = kernel(Vec::new());
    nft.add_port(&port(Some(ip("127.0.0.1")))).unwrap();
    let batch = last_batch(&record);
    let rules = added_rules(&batch);
    assert!(!rules
        .iter()
        .any(|r| r.chain.as_deref() == Some("prerouting")));
    assert!(rules
        .iter()
        .any(|r| r.chain.as_deref() == Some("raw_prerouting")
            && r.exprs.last() == Some(&verdict(NF_DROP))));
}

#[test]
fn teardown_deletes_by_handle_exactly_the_networks_rules_and_ports() {
    let other = "br-ffffffffffff";
    let (mut nft, record) = kernel(vec![
        (NFPROTO_INET, "forward", 11, net_tag(BRIDGE)),
        (NFPROTO_INET, "prerouting", 12, port_tag(&port(None))),
        (NFPROTO_INET, "forward", 13, net_tag(other)),
        (NFPROTO_INET, "output", 14, RESOLVER_TAG.to_string()),
    ]);
    assert_eq!(nft.remove_network("proj_default", BRIDGE).unwrap(), 2);
    let batch = last_batch(&record);
    let dels: Vec<(u16, Option<u64>, Option<&str>)> = batch
        .iter()
        .map(|m| (m.kind, m.handle, m.chain.as_deref()))
        .collect();
    assert_eq!(
        dels,
        [
            (NFT_MSG_DELRULE, Some(11), Some("forward")),
            (NFT_MSG_DELRULE, Some(12), Some("prerouting")),
        ],
        "no table or rule created on the way out"
    );
    // The listings: our table's rules, then whether iptables' `ip filter` exists.
    let dumps: Vec<(u16, u8)> = record
        .sent()
        .iter()
        .filter(|s| s.flags & NLM_F_DUMP == NLM_F_DUMP)
        .map(|s| (s.ty & 0xff, s.payload()[0]))
        .collect();
    assert_eq!(
        dumps,
        [
            (NFT_MSG_GETRULE, NFPROTO_INET),
            (NFT_MSG_GETTABLE, NFPROTO_IPV4)
        ]
    );
}
