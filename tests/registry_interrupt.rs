//! A pull killed half way (SIGKILL, as a closed laptop or an OOM kill would) leaves nothing a
//! later run trusts, and the next pull succeeds. The kill is made certain by a TCP relay
//! between `compose` and the registry that stalls once part of the big layer has passed, so
//! the process is stopped in the middle of the blob, not before or after it.

mod support {
    #[path = "registry.rs"]
    pub mod registry;
}

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use compose::engine::image::layer::Compression;
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use support::registry::{files_under, Registry};

/// Bytes that do not compress (xorshift), so the layer's blob is as big as its content.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An uncompressed layer tar holding one file.
fn layer_with(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append_data(&mut h, name, data).expect("tar");
    b.into_inner().expect("tar")
}

/// Forwards 127.0.0.1:PORT to `upstream`; while `stall` is set, stops passing the registry's
/// bytes once `limit` of them went through (and says so in `stalled`).
struct Relay {
    port: u16,
    stall: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
}

impl Relay {
    fn start(upstream: String, limit: u64) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("addr").port();
        let stall = Arc::new(AtomicBool::new(true));
        let stalled = Arc::new(AtomicBool::new(false));
        let passed = Arc::new(AtomicU64::new(0));
        let (s, d) = (stall.clone(), stalled.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (c2, s2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || pipe(client, server, None));
                let (s, d, passed) = (s.clone(), d.clone(), passed.clone());
                std::thread::spawn(move || pipe(s2, c2, Some((s, d, passed, limit))));
            }
        });
        Relay {
            port,
            stall,
            stalled,
        }
    }
}

type Gate = (Arc<AtomicBool>, Arc<AtomicBool>, Arc<AtomicU64>, u64);

fn pipe(mut from: TcpStream, mut to: TcpStream, gate: Option<Gate>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some((stall, stalled, passed, limit)) = &gate {
            if stall.load(Ordering::SeqCst)
                && passed.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > *limit
            {
                stalled.store(true, Ordering::SeqCst);
                // Hold the connection open, sending nothing, until the client is gone.
                while stall.load(Ordering::SeqCst) {
                    if to.write(&[]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                break;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[test]
fn a_pull_killed_half_way_leaves_nothing_trusted_and_the_next_pull_succeeds() {
    require_registry!();
    let tmp = tempfile::Builder::new()
        .prefix("compose-interrupt-")
        .tempdir()
        .expect("temp dir");
    let r = Registry::plain();
    let big = noise(24 * 1024 * 1024, 0x9e37_79b9_7f4a_7c15);
    let image = TestImage {
        name: "busybox:latest".into(),
        compression: Compression::Gzip,
        extra_layers: vec![layer_with("data/big", &big)],
        ..TestImage::default()
    };
    let archive = image
        .write(tmp.path(), ArchiveFormat::Oci)
        .expect("archive");
    r.push_oci_archive(&archive, "test/big:1");
    let manifest: serde_json::Value =
        serde_json::from_slice(&r.inspect_raw("test/big:1")).expect("manifest");
    let big_layer = manifest["layers"][1]["digest"]
        .as_str()
        .expect("layer")
        .to_string();

    // Stall 4 MB into what the registry sends: well inside the 24 MB layer.
    let relay = Relay::start(r.host(), 4 * 1024 * 1024);
    let reference = format!("127.0.0.1:{}/test/big:1", relay.port);
    let root = tmp.path().join("root");
    let pull = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_compose"));
        c.current_dir(tmp.path())
            .env("DOCKER_CONFIG", tmp.path().join("docker"))
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .args(["--root", root.to_str().expect("utf-8")])
            .args(["--progress", "plain", "image", "pull", &reference]);
        c
    };
    let mut child = pull()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn compose");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !relay.stalled.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the pull never reached the big layer"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the pull ended before it was cut"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let store = root.join("images");
    let hex = big_layer.trim_start_matches("sha256:");
    assert!(
        !store.join("blobs/sha256").join(hex).exists(),
        "a half blob is in the store under its digest"
    );
    // The kill did land inside the blob: its staging file is there, partly written.
    let partial: Vec<u64> = files_under(&store.join("tmp"))
        .iter()
        .filter(|f| f.contains("blob-"))
        .filter_map(|f| std::fs::metadata(f).ok().map(|m| m.len()))
        .collect();
    assert!(
        partial.iter().any(|&n| n > 0 && n < big.len() as u64),
        "no partial blob in staging: {partial:?}"
    );
    let records: Vec<String> = files_under(&store.join("images"));
    assert!(records.is_empty(), "an image was recorded: {records:?}");

    // The next pull (the registry reachable again) succeeds and leaves no staging file.
    relay.stall.store(false, Ordering::SeqCst);
    let out = pull().output().expect("second pull");
    assert!(
        out.status.success(),
        "second pull failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(store.join("blobs/sha256").join(hex).exists());
    let staging = files_under(&store.join("tmp"));
    assert!(staging.is_empty(), "staging left: {staging:?}");
    let stored = std::fs::read(store.join("blobs/sha256").join(hex)).expect("blob");
    assert_eq!(
        compose::engine::fsutil::sha256_digest(&stored),
        big_layer,
        "the stored blob is the registry's"
    );
    let inspect = Command::new(env!("CARGO_BIN_EXE_compose"))
        .args(["--root", root.to_str().expect("utf-8")])
        .args(["image", "inspect", &reference])
        .output()
        .expect("inspect");
    assert!(inspect.status.success());
}
