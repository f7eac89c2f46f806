//! Pulling from a registry: `compose image pull` of a multi-layer image of over 100 MB from a
//! local `docker-registry` against `skopeo copy docker://… oci:DIR` of the same image in the same
//! run; the same pull again with every layer present; and the peak memory (max RSS, from
//! `wait4`) of the pulling process for the 100 MB image and for a 25 MB one, which must be about
//! the same: layers are streamed, never held whole.
//!
//! Run as root: `cargo bench --bench pull -- [RUNS]` (default 5). Needs Debian's
//! docker-registry, skopeo, openssl, apache2-utils and busybox-static. The images (layers of
//! incompressible data, gzip) are made once per run into a temporary OCI archive and pushed with
//! skopeo to a plain registry on 127.0.0.1 (the tests' fixture, tests/support/registry.rs).
//! Everything runs in a network namespace of the benchmark's own (loopback only), and every
//! pull gets a fresh state root (`--root`) and destination folder.

#[path = "../tests/support/registry.rs"]
mod registry;
#[path = "support/stacks.rs"]
mod stacks;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use compose::engine::image::layer::Compression;
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use stacks::{can_run, isolate_network, median};

const MIB: usize = 1024 * 1024;

/// A deterministic stream of bytes gzip cannot shrink (xorshift64*), `len` long.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An uncompressed layer tar holding one file of `len` bytes of noise.
fn noise_layer(seed: u64, len: usize) -> Vec<u8> {
    let data = noise(seed, len);
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_mtime(1_704_067_200);
    h.set_size(data.len() as u64);
    t.append_data(&mut h, format!("noise-{seed}.bin"), data.as_slice())
        .expect("layer tar");
    t.into_inner().expect("layer tar")
}

/// `NAME:1` (from `NAME.tar`): busybox plus `layers` gzip layers of `layer_mib` MiB of noise each, as an OCI archive.
fn write_image(dir: &Path, file: &str, layers: u64, layer_mib: usize) -> std::path::PathBuf {
    let image = TestImage {
        name: format!("{}:1", file.trim_end_matches(".tar")),
        compression: Compression::Gzip,
        extra_layers: (1..=layers)
            .map(|seed| noise_layer(seed, layer_mib * MIB))
            .collect(),
        ..TestImage::default()
    };
    image.write(dir, ArchiveFormat::Oci).expect("write image")
}

/// One run of a command: its time, its peak RSS (KiB) and how it ended.
struct Measured {
    time: Duration,
    max_rss_kib: i64,
    status: ExitStatus,
    stderr: String,
}

/// Runs `c` to its end and reaps it with `wait4`, for its own (not its children's) peak RSS.
fn measure(mut c: Command, stderr_file: &Path) -> Measured {
    let err = std::fs::File::create(stderr_file).expect("stderr file");
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
    let t = Instant::now();
    // Reaped below by wait4 (std's wait gives no rusage), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = c.spawn().unwrap_or_else(|e| panic!("start {c:?}: {e}"));
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, with pointers to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let time = t.elapsed();
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    Measured {
        time,
        max_rss_kib: usage.ru_maxrss,
        status: ExitStatus::from_raw(status),
        stderr: std::fs::read_to_string(stderr_file).unwrap_or_default(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Runs `make(i)` `runs` times; (median, min, peak RSS over the runs), or the failure's stderr.
fn series(
    runs: usize,
    mut make: impl FnMut(usize) -> (Command, std::path::PathBuf),
) -> Result<(Duration, Duration, i64), String> {
    let mut times = Vec::new();
    let mut rss = 0;
    for i in 0..runs {
        let (c, err) = make(i);
        let m = measure(c, &err);
        if !m.status.success() {
            let first = m.stderr.lines().find(|l| !l.trim().is_empty());
            return Err(first.unwrap_or("failed").to_string());
        }
        times.push(m.time);
        rss = rss.max(m.max_rss_kib);
    }
    let min = times.iter().min().copied().unwrap_or_default();
    Ok((median(times), min, rss))
}

fn row(what: &str, runs: usize, r: &Result<(Duration, Duration, i64), String>) {
    match r {
        Ok((med, min, rss)) => println!(
            "| {what:<44} | {runs:>4} | {:>10} | {:>10} | {:>10} |",
            ms(*med),
            ms(*min),
            mib(*rss)
        ),
        Err(e) => println!("| {what:<44} | {runs:>4} | n/a: {e}"),
    }
}

/// Set (to a folder) in the child that makes the images there.
const MAKE_IMAGES: &str = "COMPOSE_BENCH_PULL_MAKE_IMAGES";
const BIG: &str = "big.tar";
const SMALL: &str = "small.tar";

fn main() {
    if let Some(dir) = std::env::var_os(MAKE_IMAGES) {
        let dir = Path::new(&dir);
        for (file, layers) in [(BIG, 4), (SMALL, 1)] {
            let path = write_image(dir, file, layers, 25);
            std::fs::rename(&path, dir.join(file)).expect("name the image");
        }
        return;
    }
    if !can_run() {
        return;
    }
    if let Some(reason) = registry::skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5)
        .max(1);
    // The registry, skopeo and compose all talk over the loopback of a network namespace of the
    // benchmark's own: nothing is opened on the real host.
    isolate_network();

    let tmp = tempfile::Builder::new()
        .prefix("compose-bench-pull-")
        .tempdir()
        .expect("temp dir");
    // The images are made by a child process: the RSS a process has when it forks the pulling
    // one counts in that one's peak (Linux keeps ru_maxrss across exec), so the benchmark keeps
    // its own small. The floor row below shows what is left of it.
    let t = Instant::now();
    let st = Command::new(std::env::current_exe().expect("own path"))
        .env(MAKE_IMAGES, tmp.path())
        .status()
        .expect("make the images");
    assert!(st.success(), "making the images: {st}");
    let big = tmp.path().join(BIG);
    let small = tmp.path().join(SMALL);
    let big_size = std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0);
    let small_size = std::fs::metadata(&small).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "images made in {:.1} s: big {} MB (5 layers), small {} MB (2 layers)",
        t.elapsed().as_secs_f64(),
        big_size / 1_000_000,
        small_size / 1_000_000
    );
    let reg = registry::Registry::plain();
    reg.push_oci_archive(&big, "bench/big:1");
    reg.push_oci_archive(&small, "bench/small:1");
    let host = reg.host();

    // compose reads no credentials or registry settings of the host's.
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".docker")).expect("home");
    let bin = env!("CARGO_BIN_EXE_compose");
    let pull = |root: &Path, image: &str| {
        let mut c = Command::new(bin);
        c.env("HOME", &home)
            .env("DOCKER_CONFIG", home.join(".docker"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env_remove("COMPOSE_ROOT")
            .arg("--root")
            .arg(root)
            .args(["--progress", "quiet", "image", "pull"])
            .arg(format!("{host}/{image}"));
        c
    };
    let err = tmp.path().join("stderr");
    let fresh = |name: String| {
        let p = tmp.path().join(name);
        if p.exists() {
            std::fs::remove_dir_all(&p).expect("remove previous run");
        }
        p
    };

    let floor = series(1, |_| (Command::new("/bin/true"), err.clone()));
    let skopeo = series(runs, |i| {
        let dir = fresh(format!("oci-{i}"));
        let mut c = reg.skopeo();
        c.args(["copy", "--quiet"])
            .args(reg.skopeo_flags("src-", None))
            .arg(reg.docker_ref("bench/big:1"))
            .arg(format!("oci:{}", dir.display()));
        (c, err.clone())
    });
    let ours = series(runs, |i| {
        (
            pull(&fresh(format!("root-{i}")), "bench/big:1"),
            err.clone(),
        )
    });
    // A pull that exits 0 but stores nothing must not pass for a fast one.
    if ours.is_ok() {
        let root = tmp.path().join(format!("root-{}", runs - 1));
        let o = Command::new(bin)
            .arg("--root")
            .arg(&root)
            .args(["image", "inspect"])
            .arg(format!("{host}/bench/big:1"))
            .output()
            .expect("compose image inspect");
        assert!(
            o.status.success(),
            "the pulled image is not in the store: {}",
            registry::output_text(&o)
        );
    }
    // Every layer present: the root of the last run above.
    let again = ours.as_ref().map_err(Clone::clone).and_then(|_| {
        let root = tmp.path().join(format!("root-{}", runs - 1));
        series(runs, |_| (pull(&root, "bench/big:1"), err.clone()))
    });
    let ours_small = series(1, |_| {
        (
            pull(&fresh("root-small".into()), "bench/small:1"),
            err.clone(),
        )
    });
    let skopeo_small = series(1, |_| {
        let dir = fresh("oci-small".into());
        let mut c = reg.skopeo();
        c.args(["copy", "--quiet"])
            .args(reg.skopeo_flags("src-", None))
            .arg(reg.docker_ref("bench/small:1"))
            .arg(format!("oci:{}", dir.display()));
        (c, err.clone())
    });

    println!(
        "\npull of {} MB (5 layers) and {} MB (2 layers) from docker-registry on 127.0.0.1\n",
        big_size / 1_000_000,
        small_size / 1_000_000
    );
    println!(
        "| {:<44} | {:>4} | {:>10} | {:>10} | {:>10} |",
        "what", "runs", "median", "min", "max RSS"
    );
    println!(
        "|{:-<46}|{:->6}|{:->12}|{:->12}|{:->12}|",
        "", "", "", "", ""
    );
    row("floor: /bin/true (RSS inherited at fork)", 1, &floor);
    row("skopeo copy docker://… oci:DIR (big)", runs, &skopeo);
    row("compose image pull, empty store (big)", runs, &ours);
    row("compose image pull, every layer present", runs, &again);
    row("skopeo copy docker://… oci:DIR (small)", 1, &skopeo_small);
    row("compose image pull, empty store (small)", 1, &ours_small);
    if let (Ok((o, _, _)), Ok((s, _, _))) = (&ours, &skopeo) {
        println!(
            "\ncompose / skopeo: {:.2} x (target <= 1)",
            o.as_secs_f64() / s.as_secs_f64()
        );
    }
    if let Ok((a, _, _)) = &again {
        println!(
            "pull with every layer present: {} (target <= 50 ms)",
            ms(*a)
        );
    }
    if let (Ok((_, _, b)), Ok((_, _, s))) = (&ours, &ours_small) {
        println!(
            "max RSS big / small: {} / {} (target: about the same)",
            mib(*b),
            mib(*s)
        );
    }
}
