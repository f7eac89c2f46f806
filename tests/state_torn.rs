//! Torn records under `--root` (a record that is not the JSON it should be, as a disk that lied
//! about its cache may leave one): each kind is detected and repaired, never trusted, and never
//! stops `ps`, `up` or `down` (root; skipped with a reason otherwise). What each store does with
//! a torn record is in its module docs (`engine::state`, `network::manager::repair`).

mod support {
    #[path = "engine.rs"]
    pub mod engine;
}

use std::path::{Path, PathBuf};

use support::engine::{ok_all as ok, text, Fixture};

const STACK: &str = "services:
  db:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
  web:
    image: busybox
    command: [sleep, '1000']
    stop_signal: KILL
";

/// How a record is torn.
#[derive(Clone, Copy, Debug)]
enum Tear {
    /// Its first half (a write cut short).
    Truncated,
    /// Nothing (a file created, its content never written).
    Empty,
    /// Bytes that are no JSON (a block of something else).
    Garbage,
}

fn tear(path: &Path, how: Tear) {
    let whole = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let torn: Vec<u8> = match how {
        Tear::Truncated => whole[..whole.len() / 2].to_vec(),
        Tear::Empty => Vec::new(),
        Tear::Garbage => vec![0xff, 0, 0x13, 0x37, b'{'],
    };
    std::fs::write(path, torn).expect("tear");
}

/// The project's container ids by service.
fn ids(f: &Fixture) -> Vec<(String, String)> {
    compose::engine::state::list(&f.root, Some(&f.project))
        .expect("state")
        .into_iter()
        .map(|o| (o.record.service.clone(), o.record.id.clone()))
        .collect()
}

fn id_of(f: &Fixture, service: &str) -> String {
    ids(f)
        .into_iter()
        .find(|(s, _)| s == service)
        .map(|(_, id)| id)
        .unwrap_or_else(|| panic!("no {service} container"))
}

fn running(f: &Fixture) -> Vec<String> {
    let mut out: Vec<String> = compose::engine::state::list(&f.root, Some(&f.project))
        .expect("state")
        .into_iter()
        .filter(|o| o.state.live_pid().is_some())
        .map(|o| o.record.service)
        .collect();
    out.sort();
    out
}

fn network_records(f: &Fixture) -> (PathBuf, PathBuf) {
    let nets = f.root.join("networks");
    let name = format!("{}_default.json", f.project);
    (nets.join(&name), nets.join("defs").join(&name))
}

/// A torn `container.json` (its container stopped, as after a power cut): `ps` lists the
/// others and names the torn file, `up` creates the service again, `down` removes the torn
/// container's directory and gives back its addresses.
#[test]
#[ignore = "needs root"]
fn a_torn_container_record_costs_only_its_container() {
    require_engine!();
    for how in [Tear::Truncated, Tear::Empty, Tear::Garbage] {
        let mut f = Fixture::with_netns(STACK);
        ok(&f, &["up", "-d"]);
        ok(&f, &["stop", "-t", "0"]);
        let web = id_of(&f, "web");
        let record = f.root.join("containers").join(&web).join("container.json");
        tear(&record, how);

        let o = f.compose(&["ps", "-a"]);
        assert!(o.status.success(), "{how:?}: {}", text(&o));
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(
            out.contains(&format!("{}-db-1", f.project)),
            "{how:?}: {out}"
        );
        assert!(!out.contains("-web-"), "{how:?}: {out}");
        assert!(
            err.contains("torn") && err.contains(&*record.to_string_lossy()),
            "{how:?}: {err}"
        );

        let out = ok(&f, &["up", "-d"]);
        assert_eq!(running(&f), ["db", "web"], "{how:?}: {out}");
        assert_ne!(id_of(&f, "web"), web, "{how:?}");

        ok(&f, &["down", "-t", "0"]);
        assert!(
            !record.exists(),
            "{how:?}: the torn container's directory was kept"
        );
        let (ipam, _) = network_records(&f);
        assert!(!ipam.exists(), "{how:?}: the network's addresses were kept");
        f.assert_clean();
    }
}

/// A torn `state.json`: the container reads as never started; `up` starts it.
#[test]
#[ignore = "needs root"]
fn a_torn_run_state_reads_as_never_started() {
    require_engine!();
    let mut f = Fixture::with_netns(STACK);
    ok(&f, &["up", "-d"]);
    ok(&f, &["stop", "-t", "0"]);
    let web = id_of(&f, "web");
    tear(
        &f.root.join("containers").join(&web).join("state.json"),
        Tear::Truncated,
    );
    let out = ok(&f, &["ps", "-a"]);
    assert!(out.contains(&format!("{}-web-1", f.project)), "{out}");
    let out = ok(&f, &["up", "-d"]);
    assert_eq!(running(&f), ["db", "web"], "{out}");
    assert_eq!(id_of(&f, "web"), web, "the container was kept: {out}");
    ok(&f, &["down", "-t", "0"]);
    f.assert_clean();
}

/// A torn IPAM record is rebuilt from the running containers' records (their addresses kept),
/// a torn network definition written again by `up`; `down` then removes everything.
#[test]
#[ignore = "needs root"]
fn torn_network_records_are_rebuilt() {
    require_engine!();
    let mut f = Fixture::with_netns(STACK);
    ok(&f, &["up", "-d"]);
    let (ipam, def) = network_records(&f);
    let before: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ipam).expect("ipam")).expect("json");
    let def_before: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&def).expect("def")).expect("json");
    tear(&ipam, Tear::Truncated);
    tear(&def, Tear::Garbage);

    let out = ok(&f, &["ps"]);
    assert!(out.contains(&format!("{}-web-1", f.project)), "{out}");
    let out = ok(&f, &["up", "-d"]);
    assert!(out.contains("torn"), "{out}");
    assert_eq!(running(&f), ["db", "web"], "{out}");
    assert!(!out.contains("Recreate"), "{out}");
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ipam).expect("ipam")).expect("rebuilt");
    assert_eq!(after["allocations"], before["allocations"]);
    assert_eq!(
        after["subnets"][0]["subnet"],
        before["subnets"][0]["subnet"]
    );
    let def_after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&def).expect("def")).expect("rewritten");
    assert_eq!(def_after["bridge"], def_before["bridge"]);

    ok(&f, &["down", "-t", "0"]);
    assert!(!ipam.exists() && !def.exists());
    f.assert_clean();
}
