//! Issue 10: pull policies, `compose pull`, and `up` pulling what its services' policies ask
//! for before anything is created. Without a registry: `pull_policy: never` with a missing image
//! fails and creates nothing; bad policies are refused naming the key. With the registry fixture
//! (Debian's docker-registry on 127.0.0.1, filled with skopeo, not our code): `up` pulls a
//! missing image then starts the stack; `compose pull` then `up --pull never` works with the
//! registry gone; `--pull always` pulls again (and fails, creating nothing, when it cannot).
//!
//! Every compose command runs in the engine fixture's own network namespace; registry tests move
//! their test thread into it first, so the registry (a child of that thread) listens on that
//! namespace's loopback and no traffic touches the host's.

mod support {
    #[path = "engine.rs"]
    pub mod engine;
    #[path = "multiplatform.rs"]
    pub mod multiplatform;
    #[path = "registry.rs"]
    pub mod registry;
}

use std::path::Path;
use std::process::Output;

use compose::engine::image::layer::Compression;
use compose::engine::image::testimage::{ArchiveFormat, TestImage};
use support::engine::{ok, text, Fixture};
use support::registry::Registry;

/// `compose ARGS` for `f`, with Docker's and our configuration pointed at the test's own
/// (empty) folders: the host's credentials and registry configuration are never read.
fn compose(f: &Fixture, args: &[&str]) -> Output {
    let conf = f.dir.path().join("config");
    std::fs::create_dir_all(&conf).expect("config dir");
    f.command(args)
        .env("DOCKER_CONFIG", conf.join("docker"))
        .env("XDG_CONFIG_HOME", &conf)
        .env_remove("DOCKER_DEFAULT_PLATFORM")
        .output()
        .expect("run compose")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Nothing of the project exists: no container, no volume, no network but loopback.
fn assert_nothing_created(f: &Fixture, what: &str) {
    let ps = ok(f, &["ps", "-a", "-q"]);
    assert!(ps.trim().is_empty(), "{what}: no container may exist: {ps}");
    assert!(
        f.volume_dirs().is_empty(),
        "{what}: no volume may exist: {:?}",
        f.volume_dirs()
    );
    assert_eq!(
        f.host_links(),
        ["lo"],
        "{what}: no network may have been made"
    );
}

/// Moves the calling (test) thread into `f`'s stand-in host namespace, so a registry started
/// from it is reachable by the compose commands, which run there.
fn enter_host(f: &Fixture) {
    use std::os::fd::AsRawFd;
    let ns = f
        .netns
        .as_ref()
        .expect("a fixture with a network namespace");
    // SAFETY: setns on the calling thread with a namespace fd the fixture keeps open.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

/// Pushes a gzip busybox test image to `reg` as `repo_tag` with skopeo.
fn push_busybox(reg: &Registry, dir: &Path, repo_tag: &str) {
    let image = TestImage {
        name: "pushed".into(),
        compression: Compression::Gzip,
        ..TestImage::default()
    };
    let archive = image.write(dir, ArchiveFormat::Oci).expect("write image");
    reg.push_oci_archive(&archive, repo_tag);
}

/// How many times the registry was asked for `repo`'s manifest `tag` (GET, not HEAD).
fn manifest_gets(reg: &Registry, repo: &str, tag: &str) -> usize {
    let needle = format!("GET /v2/{repo}/manifests/{tag}");
    reg.log().lines().filter(|l| l.contains(&needle)).count()
}

const STACK: &str = "services:
  web:
    image: IMAGE
    command: [sleep, '60']
    volumes: [data:/data]
    networks: [back]
PULL
volumes:
  data: {}
networks:
  back: {}
";

fn stack(image: &str, pull_policy: Option<&str>) -> String {
    STACK.replace("IMAGE", image).replace(
        "PULL\n",
        &pull_policy
            .map(|p| format!("    pull_policy: {p}\n"))
            .unwrap_or_default(),
    )
}

#[test]
#[ignore = "needs root"]
fn pull_policy_never_with_a_missing_image_fails_before_anything_is_created() {
    require_engine!();
    let mut f = Fixture::new(&stack("nothere.invalid/app:1", Some("never")));
    let o = compose(&f, &["up", "-d"]);
    assert!(!o.status.success(), "up must fail: {}", text(&o));
    assert!(
        stderr(&o).contains("image nothere.invalid/app:1 not found and pull_policy is never"),
        "{}",
        text(&o)
    );
    assert_nothing_created(&f, "pull_policy: never");
    // Docker Compose: `--pull never` overrides the service's `always` the same way.
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        stack("nothere.invalid/app:1", Some("always")),
    )
    .expect("write compose.yaml");
    let o = compose(&f, &["create", "--pull", "never"]);
    assert!(!o.status.success(), "create must fail: {}", text(&o));
    assert!(stderr(&o).contains("pull_policy is never"), "{}", text(&o));
    assert_nothing_created(&f, "--pull never");
    // The stored busybox runs under `never`: nothing is pulled.
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        stack("busybox", Some("never")),
    )
    .expect("write compose.yaml");
    let o = compose(&f, &["up", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    ok(&f, &["down", "-v", "-t", "0"]);
    f.assert_clean();
}

#[test]
fn a_bad_pull_policy_is_refused_at_load_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  web:\n    image: busybox\n    pull_policy: sometimes\n",
    )
    .expect("write");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_compose"))
        .current_dir(dir.path())
        .args(["config"])
        .output()
        .expect("run compose");
    assert_eq!(o.status.code(), Some(15), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("services.web.pull_policy: invalid pull_policy \"sometimes\""),
        "{err}"
    );
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  web:\n    image: busybox\n",
    )
    .expect("write");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_compose"))
        .current_dir(dir.path())
        .args(["--root"])
        .arg(dir.path().join("state"))
        .args(["pull", "--policy", "never"])
        .output()
        .expect("run compose");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        stderr(&o).contains("invalid --policy \"never\""),
        "{}",
        text(&o)
    );
}

#[test]
#[ignore = "needs root"]
fn up_pulls_a_missing_image_from_the_registry_then_starts_the_stack() {
    require_engine!();
    require_registry!();
    let mut f = Fixture::new("services: {}\n");
    enter_host(&f);
    let reg = Registry::plain();
    push_busybox(&reg, f.dir.path(), "test/busybox:1");
    let image = format!("{}/test/busybox:1", reg.host());
    std::fs::write(f.project_dir.join("compose.yaml"), stack(&image, None))
        .expect("write compose.yaml");
    let o = compose(&f, &["--progress", "plain", "up", "-d"]);
    assert!(
        o.status.success(),
        "{}\nregistry log:\n{}",
        text(&o),
        reg.log()
    );
    let err = stderr(&o);
    assert!(err.contains(" web Pulled"), "{err}");
    assert!(err.contains("Pull complete"), "{err}");
    let ps = ok(&f, &["ps", "-q"]);
    assert_eq!(ps.lines().count(), 1, "web runs: {ps}");
    let ls = ok(&f, &["image", "ls"]);
    assert!(ls.contains(&format!("{}/test/busybox", reg.host())), "{ls}");
    // The image is there now: a second `up` (policy missing) does not ask the registry again.
    let gets = manifest_gets(&reg, "test/busybox", "1");
    let o = compose(&f, &["up", "-d"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        manifest_gets(&reg, "test/busybox", "1"),
        gets,
        "no second pull"
    );
    ok(&f, &["down", "-v", "-t", "0"]);
    f.assert_clean();
}

#[test]
#[ignore = "needs root"]
fn compose_pull_then_up_pull_never_works_offline_and_pull_always_pulls_again() {
    require_engine!();
    require_registry!();
    let mut f = Fixture::new("services: {}\n");
    enter_host(&f);
    let reg = Registry::plain();
    push_busybox(&reg, f.dir.path(), "test/busybox:1");
    let image = format!("{}/test/busybox:1", reg.host());
    std::fs::write(f.project_dir.join("compose.yaml"), stack(&image, None))
        .expect("write compose.yaml");

    let o = compose(&f, &["pull", "-q"]);
    assert!(
        o.status.success(),
        "{}\nregistry log:\n{}",
        text(&o),
        reg.log()
    );
    assert!(
        stderr(&o).is_empty(),
        "--quiet prints nothing: {}",
        text(&o)
    );
    let gets = manifest_gets(&reg, "test/busybox", "1");
    assert!(gets > 0, "pulled: {}", reg.log());

    // `--pull always` asks the registry again though the image is stored.
    let o = compose(&f, &["up", "-d", "--pull", "always"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        manifest_gets(&reg, "test/busybox", "1") > gets,
        "pulled again: {}",
        reg.log()
    );
    ok(&f, &["down", "-v", "-t", "0"]);

    // A service whose image the registry lacks: `pull` fails, unless told to go on.
    std::fs::write(
        f.project_dir.join("compose.yaml"),
        stack(&image, None).replace(
            "volumes:\n  data",
            &format!(
                "  gone:\n    image: {}/test/absent:1\n    command: [sleep, '60']\nvolumes:\n  data",
                reg.host()
            ),
        ),
    )
    .expect("write compose.yaml");
    let o = compose(&f, &["pull"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(stderr(&o).contains("test/absent:1"), "{}", text(&o));
    let o = compose(&f, &["pull", "--ignore-pull-failures"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stderr(&o).contains("WARN") && stderr(&o).contains("test/absent:1"),
        "{}",
        text(&o)
    );
    std::fs::write(f.project_dir.join("compose.yaml"), stack(&image, None))
        .expect("write compose.yaml");

    // The registry goes away: the stored image still runs with `--pull never`.
    drop(reg);
    let o = compose(&f, &["up", "-d", "--pull", "never"]);
    assert!(o.status.success(), "offline: {}", text(&o));
    ok(&f, &["down", "-v", "-t", "0"]);
    // ... and `--pull always` fails, naming the image, before anything is created.
    let o = compose(&f, &["up", "-d", "--pull", "always"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(stderr(&o).contains(&image), "{}", text(&o));
    assert_nothing_created(&f, "a failed pull");
    f.assert_clean();
}

/// `compose image pull` as `docker image pull`: progress on standard error (here `--progress
/// json`: one object per line), the digest and the full reference on standard output; `-q`
/// only the reference. `run --pull never` refuses a missing image as `up` does.
#[test]
#[ignore = "needs root"]
fn image_pull_prints_digest_and_reference_and_json_progress_is_one_object_per_line() {
    require_engine!();
    require_registry!();
    let mut f = Fixture::new("services: {}\n");
    enter_host(&f);
    let reg = Registry::plain();
    push_busybox(&reg, f.dir.path(), "test/busybox:1");
    let image = format!("{}/test/busybox:1", reg.host());
    let digest = reg.manifest_digest("test/busybox:1");

    let o = compose(&f, &["--progress", "json", "image", "pull", &image]);
    assert!(
        o.status.success(),
        "{}\nregistry log:\n{}",
        text(&o),
        reg.log()
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out, format!("Digest: {digest}\n{image}\n"), "{}", text(&o));
    let events: Vec<serde_json::Value> = stderr(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["text"] == "Pulled" && e["status"] == "Done"),
        "{}",
        text(&o)
    );
    assert!(
        events.iter().any(|e| e["text"] == "Pull complete"),
        "{}",
        text(&o)
    );

    let o = compose(&f, &["image", "pull", "-q", &image]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{image}\n"));
    assert!(stderr(&o).is_empty(), "{}", text(&o));

    std::fs::write(
        f.project_dir.join("compose.yaml"),
        format!(
            "services:\n  web:\n    image: {}/test/absent:1\n",
            reg.host()
        ),
    )
    .expect("write compose.yaml");
    let o = compose(&f, &["run", "--rm", "-T", "--pull", "never", "web", "true"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        stderr(&o).contains("not found and pull_policy is never"),
        "{}",
        text(&o)
    );
    assert_nothing_created(&f, "run --pull never");
    f.assert_clean();
}

/// The platform a service's image is pulled for: its `platform:`; a stored image of another
/// platform counts as missing (Docker Compose pulls the one asked for), while under
/// `pull_policy: never` it is refused naming both platforms, never run as something else.
#[test]
#[ignore = "needs root"]
fn a_stored_image_of_another_platform_is_pulled_for_the_services_platform() {
    require_engine!();
    require_registry!();
    let mut f = Fixture::new("services: {}\n");
    enter_host(&f);
    let reg = Registry::plain();
    let (archive, mp) = support::multiplatform::write_multi_platform(
        f.dir.path(),
        "multi:1",
        &["linux/amd64", "linux/arm64"],
    )
    .expect("multi-platform archive");
    reg.push_oci_archive(&archive, "test/multi:1");
    let image = format!("{}/test/multi:1", reg.host());
    let id_of = |platform: &str| {
        mp.images
            .iter()
            .find(|i| i.platform == platform)
            .map(|i| i.config_digest.clone())
            .expect("platform in the index")
    };
    let write = |platform: &str, policy: &str| {
        let y = format!(
            "services:\n  web:\n    image: {image}\n    platform: {platform}\n    pull_policy: {policy}\n"
        );
        std::fs::write(f.project_dir.join("compose.yaml"), y).expect("write compose.yaml")
    };
    let stored_id = || {
        let v: serde_json::Value =
            serde_json::from_str(&ok(&f, &["image", "inspect", &image])).expect("inspect JSON");
        v[0]["Id"].as_str().unwrap_or_default().to_string()
    };

    write("linux/amd64", "missing");
    let o = compose(&f, &["pull"]);
    assert!(
        o.status.success(),
        "{}\nregistry log:\n{}",
        text(&o),
        reg.log()
    );
    assert_eq!(stored_id(), id_of("linux/amd64"));
    // Present for amd64: `--policy missing` skips it...
    let gets = manifest_gets(&reg, "test/multi", "1");
    let o = compose(&f, &["pull", "--policy", "missing"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(manifest_gets(&reg, "test/multi", "1"), gets, "skipped");
    // ... but not for arm64, which is pulled.
    write("linux/arm64", "missing");
    let o = compose(&f, &["pull", "--policy", "missing"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stored_id(), id_of("linux/arm64"));
    // `never` with only the other platform stored: refused naming both, nothing made.
    write("linux/amd64", "never");
    let o = compose(&f, &["create"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        stderr(&o)
            .contains("service web: platform: \"linux/amd64\": the stored image is linux/arm64"),
        "{}",
        text(&o)
    );
    assert_nothing_created(&f, "another platform under never");
    f.assert_clean();
}
