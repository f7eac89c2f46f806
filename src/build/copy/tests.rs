//! Real COPY/ADD cases against temp contexts and views, asserting what the layer holds.

use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;
use crate::build::context::build_files;

/// A directory tree from specs: `path->target`, `dir/`, `path=content`.
fn tree(root: &Path, spec: &[&str]) {
    for f in spec {
        if let Some((p, target)) = f.split_once("->") {
            std::fs::create_dir_all(root.join(p).parent().expect("parent")).expect("mkdir");
            symlink(target, root.join(p)).expect("symlink");
        } else if let Some(d) = f.strip_suffix('/') {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        } else {
            let (p, content) = f.split_once('=').unwrap_or((f, ""));
            std::fs::create_dir_all(root.join(p).parent().expect("parent")).expect("mkdir");
            std::fs::write(root.join(p), content).expect("write");
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A build context, a target stage and an empty layer directory.
struct Case {
    ctx: tempfile::TempDir,
    target: tempfile::TempDir,
    out: tempfile::TempDir,
}

impl Case {
    fn new(context: &[&str], target: &[&str]) -> Case {
        let case = Case {
            ctx: tempfile::tempdir().expect("tempdir"),
            target: tempfile::tempdir().expect("tempdir"),
            out: tempfile::tempdir().expect("tempdir"),
        };
        tree(case.ctx.path(), context);
        tree(case.target.path(), target);
        case
    }

    fn view(&self) -> LayerView {
        LayerView::new(&[self.target.path().to_path_buf()]).expect("view")
    }

    fn copy(&self, plan: &CopyPlan) -> Result<CopyStats, CopyError> {
        let (dir, files) = build_files(self.ctx.path(), Path::new("Dockerfile")).expect("context");
        let from = CopyFrom::Context {
            dir: &dir,
            files: &files,
        };
        copy_into(plan, from, &self.view(), self.out.path())
    }

    fn key(&self, plan: &CopyPlan) -> [u8; 32] {
        let (dir, files) = build_files(self.ctx.path(), Path::new("Dockerfile")).expect("context");
        content_key(
            plan,
            CopyFrom::Context {
                dir: &dir,
                files: &files,
            },
        )
        .expect("key")
    }

    /// What the layer holds: `path mode [uid:gid] (=content | ->target | /)`.
    fn listing(&self, owners: bool) -> Vec<String> {
        let mut out = Vec::new();
        list(self.out.path(), Path::new(""), owners, &mut out);
        out
    }
}

fn list(root: &Path, rel: &Path, owners: bool, out: &mut Vec<String>) {
    let mut names: Vec<_> = std::fs::read_dir(root.join(rel))
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    for name in names {
        let path = rel.join(&name);
        let meta = std::fs::symlink_metadata(root.join(&path)).expect("stat");
        let owner = if owners {
            format!(" {}:{}", meta.uid(), meta.gid())
        } else {
            String::new()
        };
        let what = if meta.file_type().is_symlink() {
            format!(
                "->{}",
                std::fs::read_link(root.join(&path))
                    .expect("link")
                    .display()
            )
        } else if meta.is_dir() {
            "/".to_string()
        } else {
            let bytes = std::fs::read(root.join(&path)).expect("read");
            format!("={}", String::from_utf8_lossy(&bytes))
        };
        let mode = if meta.file_type().is_symlink() {
            String::new()
        } else {
            format!(" {:o}", meta.mode() & 0o7777)
        };
        out.push(format!("{}{mode}{owner} {what}", path.display()));
        if meta.is_dir() {
            list(root, &path, owners, out);
        }
    }
}

fn plan(sources: &[&str], dest: &str) -> CopyPlan {
    CopyPlan {
        sources: sources.iter().map(|s| s.to_string()).collect(),
        dest: dest.to_string(),
        workdir: "/".into(),
        ..Default::default()
    }
}

fn umask_free(case: &Case, paths: &[(&str, u32)]) {
    for (p, mode) in paths {
        chmod(&case.ctx.path().join(p), *mode);
    }
}

#[test]
fn files_directories_and_globs_land_as_docker_puts_them() {
    // (sources, dest, workdir, layer listing)
    let cases: &[(&[&str], &str, &str, &[&str])] = &[
        (&["a.txt"], "/dst", "/", &["dst 644 =a"]),
        (&["a.txt"], "/d/", "/", &["d 755 /", "d/a.txt 644 =a"]),
        (
            &["a.txt"],
            "rel",
            "/work",
            &["work 755 /", "work/rel 644 =a"],
        ),
        (
            &["a.txt"],
            ".",
            "/work",
            &["work 755 /", "work/a.txt 644 =a"],
        ),
        (&["../../a.txt"], "/x", "/", &["x 644 =a"]),
        (
            &["src"],
            "/app",
            "/",
            &[
                "app 750 /",
                "app/lib 755 /",
                "app/lib/m.rs 644 =m",
                "app/main.rs 600 =main",
            ],
        ),
        (
            &["*.txt"],
            "/g/",
            "/",
            &["g 755 /", "g/a.txt 644 =a", "g/b.txt 644 =b"],
        ),
        (
            &["*.txt"],
            "/g",
            "/",
            &["g 755 /", "g/a.txt 644 =a", "g/b.txt 644 =b"],
        ),
        (&["s?c/*/[m]*"], "/one", "/", &["one 644 =m"]),
        (
            &["a.txt", "src/main.rs"],
            "/two/",
            "/",
            &["two 755 /", "two/a.txt 644 =a", "two/main.rs 600 =main"],
        ),
        (&["link"], "/l", "/", &["l 644 =a"]),
        (&["srclink/main.rs"], "/m", "/", &["m 600 =main"]),
        (
            &["existing-dir-in-image"],
            "/opt",
            "/",
            &["opt 711 /", "opt/existing-dir-in-image 644 =e"],
        ),
    ];
    for (sources, dest, workdir, want) in cases {
        let case = Case::new(
            &[
                "a.txt=a",
                "b.txt=b",
                "src/main.rs=main",
                "src/lib/m.rs=m",
                "link->a.txt",
                "srclink->./src",
                "existing-dir-in-image=e",
            ],
            &["opt/"],
        );
        umask_free(
            &case,
            &[
                ("a.txt", 0o644),
                ("b.txt", 0o644),
                ("src", 0o750),
                ("src/main.rs", 0o600),
                ("src/lib", 0o755),
                ("src/lib/m.rs", 0o644),
                ("existing-dir-in-image", 0o644),
            ],
        );
        chmod(&case.target.path().join("opt"), 0o711);
        let mut p = plan(sources, dest);
        p.workdir = workdir.to_string();
        case.copy(&p)
            .unwrap_or_else(|e| panic!("COPY {sources:?} {dest}: {e}"));
        assert_eq!(
            case.listing(false),
            *want,
            "COPY {sources:?} {dest} (WORKDIR {workdir})"
        );
    }
}

#[test]
fn errors_as_docker_words_them() {
    let case = Case::new(
        &["a.txt=a", "b.txt=b", "secret=s", ".dockerignore=secret\n"],
        &[],
    );
    let err = |p: CopyPlan| case.copy(&p).expect_err("must fail").to_string();
    assert_eq!(
        err(plan(&["missing"], "/x")),
        "failed to compute cache key: \"/missing\" not found"
    );
    assert_eq!(
        err(plan(&["*.md"], "/x/")),
        "failed to compute cache key: \"/*.md\" not found"
    );
    assert_eq!(
        err(plan(&["secret"], "/x")),
        "failed to compute cache key: \"/secret\" not found",
        ".dockerignore'd files are invisible"
    );
    assert!(err(plan(&["a.txt", "b.txt"], "/x")).starts_with(
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    ));
    let mut add = plan(&["https://example.com/x.tar.gz"], "/x/");
    add.add = true;
    assert!(err(add).contains("remote sources are not fetched"));
    let mut chmod = plan(&["a.txt"], "/x");
    chmod.chmod = Some("u+x".into());
    assert!(err(chmod).starts_with("--chmod=u+x"));
    // Nothing was written by a failed COPY's checks.
    assert!(case.listing(false).is_empty());
    // The whole context without the ignored file.
    case.copy(&plan(&["."], "/all/")).expect("copy");
    assert_eq!(
        case.listing(false),
        [
            "all 755 /",
            "all/.dockerignore 644 =secret\n",
            "all/a.txt 644 =a",
            "all/b.txt 644 =b"
        ]
    );
}

#[test]
fn destination_parents_follow_the_image_and_keep_its_attributes() {
    let case = Case::new(
        &["a.txt=a"],
        &["var/", "var/run->/run", "run/", "etc->../../../../run"],
    );
    chmod(&case.ctx.path().join("a.txt"), 0o644);
    chmod(&case.target.path().join("run"), 0o710);
    let mtime = std::fs::metadata(case.target.path().join("run"))
        .expect("stat")
        .mtime();
    case.copy(&plan(&["a.txt"], "/var/run/")).expect("copy");
    case.copy(&plan(&["a.txt"], "/etc/b")).expect("copy");
    assert_eq!(
        case.listing(false),
        ["run 710 /", "run/a.txt 644 =a", "run/b 644 =a"]
    );
    let got = std::fs::metadata(case.out.path().join("run"))
        .expect("stat")
        .mtime();
    assert_eq!(got, mtime, "the image's directory mtime is kept");
}

#[test]
fn links_modes_and_times_are_kept() {
    let case = Case::new(&["d/f=x", "d/abs->/etc/passwd", "d/rel->f"], &[]);
    std::fs::hard_link(case.ctx.path().join("d/f"), case.ctx.path().join("d/g")).expect("link");
    chmod(&case.ctx.path().join("d/f"), 0o4755);
    let old = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 1_000_000,
            tv_nsec: 5,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: 1_000_000,
            tv_nsec: 5,
        },
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        case.ctx.path().join("d/f"),
        &old,
        rustix::fs::AtFlags::empty(),
    )
    .expect("utimes");
    case.copy(&plan(&["d"], "/x/")).expect("copy");
    let out = case.out.path();
    assert_eq!(
        std::fs::read_link(out.join("x/abs")).expect("link"),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        std::fs::read_link(out.join("x/rel")).expect("link"),
        Path::new("f")
    );
    let f = std::fs::metadata(out.join("x/f")).expect("stat");
    let g = std::fs::metadata(out.join("x/g")).expect("stat");
    assert_eq!(f.ino(), g.ino(), "hard links stay linked");
    assert_eq!(f.mode() & 0o7777, 0o4755);
    assert_eq!((f.mtime(), f.mtime_nsec()), (1_000_000, 5));
}

#[test]
fn exclude_leaves_out_matching_paths() {
    let case = Case::new(
        &[
            "src/a.rs=a",
            "src/a_test.rs=t",
            "src/deep/b_test.rs=t",
            "x.md=m",
            "y.txt=y",
        ],
        &[],
    );
    let mut p = plan(&["src", "*"], "/app/");
    p.exclude = vec!["**/*_test.rs".into(), "*.md".into()];
    case.copy(&p).expect("copy");
    assert_eq!(
        case.listing(false)
            .iter()
            .map(|l| l.split(' ').next().unwrap_or_default().to_string())
            .collect::<Vec<_>>(),
        // `*` matches `src` too, whose contents land in /app again.
        ["app", "app/a.rs", "app/deep", "app/y.txt"]
    );
    let before = case.key(&p);
    std::fs::write(case.ctx.path().join("src/a_test.rs"), "changed").expect("write");
    assert_eq!(
        case.key(&p),
        before,
        "an excluded file is not part of the key"
    );
}

#[test]
fn xattrs_are_copied_but_overlay_ones_are_not() {
    use rustix::fs::{getxattr, setxattr, XattrFlags};
    let case = Case::new(&["d/f=x"], &[]);
    let (d, f) = (case.ctx.path().join("d"), case.ctx.path().join("d/f"));
    setxattr(&f, "user.keep", b"1", XattrFlags::empty()).expect("setxattr");
    setxattr(&d, "user.overlay.opaque", b"y", XattrFlags::empty()).expect("setxattr");
    setxattr(&d, "user.dir", b"2", XattrFlags::empty()).expect("setxattr");
    case.copy(&plan(&["d"], "/x")).expect("copy");
    let out = case.out.path();
    let mut buf = [0u8; 8];
    let n = getxattr(out.join("x/f"), "user.keep", &mut buf[..]).expect("file xattr");
    assert_eq!(&buf[..n], b"1");
    let n = getxattr(out.join("x"), "user.dir", &mut buf[..]).expect("dir xattr");
    assert_eq!(&buf[..n], b"2");
    assert!(
        getxattr(out.join("x"), "user.overlay.opaque", &mut buf[..]).is_err(),
        "an opaque marker in the source must not hide the image's directory"
    );
}

#[test]
fn heredocs_are_files() {
    let case = Case::new(&[], &[]);
    let files = [InlineFile {
        name: "EOF".into(),
        content: b"hello\n".to_vec(),
    }];
    let view = case.view();
    copy_into(
        &plan(&[], "/etc/motd"),
        CopyFrom::Heredocs(&files),
        &view,
        case.out.path(),
    )
    .expect("copy");
    let mut p = plan(&[], "/bin/");
    p.chmod = Some("755".into());
    copy_into(&p, CopyFrom::Heredocs(&files), &view, case.out.path()).expect("copy");
    assert_eq!(
        case.listing(false),
        [
            "bin 755 /",
            "bin/EOF 755 =hello\n",
            "etc 755 /",
            "etc/motd 644 =hello\n"
        ]
    );
}

#[test]
fn content_key_follows_content_not_times() {
    let case = Case::new(&["src/a=1", "src/b=2", "other=o"], &[]);
    let p = plan(&["src"], "/app/");
    let first = case.key(&p);
    let later = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 5,
            tv_nsec: 0,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: 5,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        case.ctx.path().join("src/a"),
        &later,
        rustix::fs::AtFlags::empty(),
    )
    .expect("utimes");
    std::fs::write(case.ctx.path().join("other"), "changed").expect("write");
    assert_eq!(
        case.key(&p),
        first,
        "times and unselected files do not count"
    );
    std::fs::write(case.ctx.path().join("src/b"), "3").expect("write");
    assert_ne!(case.key(&p), first, "content does");
    let second = case.key(&p);
    chmod(&case.ctx.path().join("src/b"), 0o600);
    assert_ne!(case.key(&p), second, "modes do");
}

fn tar_gz(path: &Path, entries: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).expect("create");
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for (name, content) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o640);
        header.set_uid(33);
        header.set_gid(33);
        header.set_mtime(1_000);
        header.set_cksum();
        builder
            .append_data(&mut header, name, *content)
            .expect("append");
    }
    builder
        .into_inner()
        .expect("tar")
        .finish()
        .expect("gz")
        .flush()
        .expect("flush");
}

#[test]
fn add_extracts_local_archives_and_copies_other_files() {
    let case = Case::new(&["plain.gz=not gzip at all"], &[]);
    tar_gz(
        &case.ctx.path().join("app.tar.gz"),
        &[("bin/tool", b"t"), ("README", b"r")],
    );
    let mut p = plan(&["app.tar.gz", "plain.gz"], "/opt/");
    p.add = true;
    case.copy(&p).expect("add");
    let listing = case.listing(false);
    assert!(
        listing.contains(&"opt/bin/tool 640 =t".to_string()),
        "{listing:?}"
    );
    assert!(
        listing.contains(&"opt/README 640 =r".to_string()),
        "{listing:?}"
    );
    assert!(
        listing.iter().any(|l| l.starts_with("opt/plain.gz ")),
        "{listing:?}"
    );
    assert!(
        !listing.iter().any(|l| l.contains("staging")),
        "{listing:?}"
    );
    // COPY never extracts.
    let copy = Case::new(&[], &[]);
    tar_gz(&copy.ctx.path().join("app.tar.gz"), &[("x", b"x")]);
    copy.copy(&plan(&["app.tar.gz"], "/opt/")).expect("copy");
    assert_eq!(copy.listing(false).len(), 2, "{:?}", copy.listing(false));
}

#[test]
fn hostile_views_never_reach_the_host() {
    let host = tempfile::tempdir().expect("tempdir");
    std::fs::write(host.path().join("victim"), "untouched").expect("write");
    let abs = host.path().to_str().expect("utf-8").to_string();
    let case = Case::new(
        &[
            "victim=evil",
            &format!("out->{abs}"),
            "climb->../../../../../..",
            "esc/link->/",
        ],
        &[&format!("etc->{abs}"), "loop->loop"],
    );
    // A parent that points at a host directory names that path inside the image.
    case.copy(&plan(&["victim"], "/etc/")).expect("copy");
    let inside = case
        .out
        .path()
        .join(abs.trim_start_matches('/'))
        .join("victim");
    assert_eq!(std::fs::read_to_string(inside).expect("read"), "evil");
    // A source symlink to the host resolves inside the context: to nothing there.
    assert!(matches!(
        case.copy(&plan(&["out/victim"], "/x")),
        Err(CopyError::NotFound { .. }) | Err(CopyError::Read { .. })
    ));
    assert!(matches!(
        case.copy(&plan(&["climb/etc/passwd"], "/p")),
        Err(CopyError::NotFound { .. })
    ));
    // Symlinks inside a copied directory are links; a later write through one replaces it
    // (`esc/link -> /`: followed, `victim` would land in the host's root).
    case.copy(&plan(&["esc"], "/w/")).expect("copy");
    assert_eq!(
        std::fs::read_link(case.out.path().join("w/link")).expect("link"),
        Path::new("/")
    );
    case.copy(&plan(&["victim"], "/w/link/")).expect("copy");
    assert!(std::fs::symlink_metadata(case.out.path().join("w/link"))
        .expect("stat")
        .is_dir());
    assert!(!Path::new("/victim").exists());
    // A destination loop fails.
    assert!(case.copy(&plan(&["victim"], "/loop/x")).is_err());
    assert_eq!(
        std::fs::read_to_string(host.path().join("victim")).expect("read"),
        "untouched"
    );
    assert_eq!(std::fs::read_dir(host.path()).expect("ls").count(), 1);
}

#[test]
#[ignore = "needs root"]
fn owners_chown_and_stage_sources() {
    let case = Case::new(
        &["a=a", "d/f=f"],
        &[
            "etc/passwd=app:x:1000:1001::/:/bin/sh\n",
            "etc/group=staff:x:50:\n",
        ],
    );
    let mut p = plan(&["a", "d"], "/new/dir/");
    p.chown = Some("app:staff".into());
    p.chmod = Some("0600".into());
    case.copy(&p).expect("copy");
    assert_eq!(
        case.listing(true),
        [
            "new 755 1000:50 /",
            "new/dir 755 1000:50 /",
            "new/dir/a 600 1000:50 =a",
            "new/dir/f 600 1000:50 =f",
        ]
    );
    // COPY --from: owners kept, whiteouts hidden, opaque directories respected.
    let stage = tempfile::tempdir().expect("tempdir");
    let (upper, lower) = (stage.path().join("upper"), stage.path().join("lower"));
    tree(&upper, &["app/", "app/new=n"]);
    tree(&lower, &["app/gone=g", "app/kept=k"]);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        upper.join("app/gone"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        rustix::fs::makedev(0, 0),
    )
    .expect("mknod");
    std::os::unix::fs::lchown(lower.join("app/kept"), Some(7), Some(8)).expect("chown");
    let view = LayerView::new(&[upper, lower]).expect("view");
    let out = tempfile::tempdir().expect("tempdir");
    copy_into(
        &plan(&["/app"], "/srv/"),
        CopyFrom::Layers(&view),
        &case.view(),
        out.path(),
    )
    .expect("copy");
    let kept = std::fs::metadata(out.path().join("srv/kept")).expect("stat");
    assert_eq!((kept.uid(), kept.gid()), (7, 8));
    assert!(out.path().join("srv/new").exists());
    assert!(!out.path().join("srv/gone").exists());
    // ADD --chown gives extracted files the owner.
    let add = Case::new(&[], &[]);
    tar_gz(&add.ctx.path().join("a.tgz"), &[("x", b"x")]);
    let mut p = plan(&["a.tgz"], "/");
    p.add = true;
    p.chown = Some("5:6".into());
    add.copy(&p).expect("add");
    let x = std::fs::metadata(add.out.path().join("x")).expect("stat");
    assert_eq!((x.uid(), x.gid()), (5, 6));
}
