//! The embedded DNS server's packet handling (src/engine/network/dns/answer.rs): one received
//! packet to our answer, a relay upstream, or nothing, over UDP (size limits, truncation) and
//! TCP. Names are served from a scratch endpoint store with a few published containers.
#![no_main]

use std::net::IpAddr;

use compose::engine::network::dns::{Answerer, DnsEntry, EndpointStore, Transport};
use compose_fuzz::Sandbox;
use libfuzzer_sys::fuzz_target;

fn answerer() -> Answerer {
    let dir = Sandbox::get().fresh("dns");
    let store = EndpointStore::new(&dir);
    let entries: [(&str, &[&str], &[&str]); 3] = [
        ("aaa", &["web", "web-1"], &["10.0.0.2", "fd00::2"]),
        ("bbb", &["web", "web-2"], &["10.0.0.3"]),
        ("ccc", &["db", "Db.Alias"], &["10.0.1.2", "fd00::1:2"]),
    ];
    for (id, names, addrs) in entries {
        let entry = DnsEntry {
            names: names.iter().map(|s| s.to_string()).collect(),
            addresses: addrs
                .iter()
                .map(|a| a.parse::<IpAddr>().expect("seed address"))
                .collect(),
        };
        store
            .publish("net", id, &entry)
            .expect("publishing a fuzz entry");
    }
    Answerer::new(
        store,
        vec!["net".into()],
        vec![("alias".into(), "db".into())],
    )
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static ANSWERER: std::cell::RefCell<Answerer> = std::cell::RefCell::new(answerer());
    }
    let Some((first, packet)) = data.split_first() else {
        return;
    };
    let transport = if first & 1 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    ANSWERER.with(|a| a.borrow_mut().respond(packet, transport));
});
