//! The teardown through the recording transports: a refused step is reported and the steps
//! after it are still sent.

use netlink_packet_route::RouteNetlinkMessage;

use super::teardown;
use crate::engine::network::link::tests::{kernel as link_kernel, parse};
use crate::engine::network::link::Netlink;
use crate::engine::network::manager::NetworkError;
use crate::engine::network::nft::batch_tests::kernel as nft_kernel;
use crate::engine::network::nft::Nft;
use crate::engine::network::transport::fake::{error_reply, FakeTransport, Record};

const BRIDGE: &str = "br-0123456789ab";

/// `NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_DELTABLE`: the message that deletes a table.
const NFT_DELTABLE: u16 = (10 << 8) | 2;

/// A kernel that refuses every message with `EPERM`.
fn refusing() -> (FakeTransport, Record) {
    FakeTransport::new(|sent| vec![error_reply(sent, libc::EPERM)])
}

fn deleted_links(record: &Record) -> Vec<u32> {
    record
        .sent()
        .iter()
        .filter_map(|s| match parse(s).1 {
            RouteNetlinkMessage::DelLink(m) => Some(m.header.index),
            _ => None,
        })
        .collect()
}

#[test]
fn refused_rule_removal_still_removes_the_bridge_and_every_failure_is_reported() {
    let (fake, _) = refusing();
    let mut nft = Nft::with_transport(fake);
    let (mut nl, links) = link_kernel(&[(BRIDGE, 7)]);

    let failed = teardown(&mut nft, &mut nl, "p_default", BRIDGE);

    assert_eq!(
        deleted_links(&links),
        [7],
        "the bridge goes although the rules stayed"
    );
    let texts: Vec<String> = failed.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[0].starts_with("network p_default: removing rules: "),
        "{texts:?}"
    );
    assert!(texts[1].starts_with("listing rules: "), "{texts:?}");
    let all = NetworkError::collected(failed)
        .expect("failures")
        .to_string();
    assert_eq!(all, format!("{}; and {}", texts[0], texts[1]));
}

#[test]
fn refused_bridge_removal_still_deletes_our_empty_table() {
    let (mut nft, rules) = nft_kernel(Vec::new());
    let (fake, links) = refusing();
    let mut nl = Netlink::with_transport(fake);

    let failed = teardown(&mut nft, &mut nl, "p_default", BRIDGE);

    assert!(!links.sent().is_empty(), "the bridge was looked up");
    assert!(
        rules.sent().iter().any(|s| s.ty == NFT_DELTABLE),
        "the table goes although the bridge stayed"
    );
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        matches!(&failed[0], NetworkError::Link { step, .. } if step == "removing bridge br-0123456789ab")
    );
    // One failure keeps its own text (no list around it).
    let one = failed[0].to_string();
    assert_eq!(
        NetworkError::collected(failed).map(|e| e.to_string()),
        Some(one)
    );
}

#[test]
fn nothing_refused_nothing_reported() {
    let (mut nft, rules) = nft_kernel(Vec::new());
    let (mut nl, links) = link_kernel(&[(BRIDGE, 9)]);
    let failed = teardown(&mut nft, &mut nl, "p_default", BRIDGE);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(deleted_links(&links), [9]);
    assert!(rules.sent().iter().any(|s| s.ty == NFT_DELTABLE));
    assert!(NetworkError::collected(failed).is_none());
}
