use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, XattrFlags};

use super::*;

/// Layer directories in a temp dir; `files` per layer, topmost first: `dir/`, `path=content`,
/// `path->target`.
fn layers(spec: &[&[&str]]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut dirs = Vec::new();
    for (i, files) in spec.iter().enumerate() {
        let dir = tmp.path().join(format!("l{i}"));
        std::fs::create_dir(&dir).expect("mkdir");
        for f in *files {
            if let Some(d) = f.strip_suffix('/') {
                std::fs::create_dir_all(dir.join(d)).expect("mkdir");
            } else if let Some((p, target)) = f.split_once("->") {
                std::fs::create_dir_all(dir.join(p).parent().expect("parent")).expect("mkdir");
                symlink(target, dir.join(p)).expect("symlink");
            } else {
                let (p, content) = f.split_once('=').unwrap_or((f, ""));
                std::fs::create_dir_all(dir.join(p).parent().expect("parent")).expect("mkdir");
                std::fs::write(dir.join(p), content).expect("write");
            }
        }
        dirs.push(dir);
    }
    (tmp, dirs)
}

fn read(view: &LayerView, path: &str) -> String {
    let mut s = String::new();
    view.open(Path::new(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .read_to_string(&mut s)
        .expect("read");
    s
}

fn names(view: &LayerView, path: &str) -> Vec<String> {
    view.read_dir(Path::new(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .into_iter()
        .map(|n: OsString| n.to_string_lossy().into_owned())
        .collect()
}

fn whiteout(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        FileType::CharacterDevice,
        Mode::empty(),
        rustix::fs::makedev(0, 0),
    )
    .expect("mknod (needs root)");
}

#[test]
fn upper_layers_win_and_directories_merge() {
    let (_tmp, dirs) = layers(&[
        &["a/y=upper", "b=b", "c/"],
        &["a/x=x", "a/y=lower", "c=file below a dir"],
    ]);
    let view = LayerView::new(&dirs).expect("open");
    assert_eq!(read(&view, "/a/y"), "upper");
    assert_eq!(read(&view, "a/x"), "x");
    assert_eq!(names(&view, "/"), ["a", "b", "c"]);
    assert_eq!(names(&view, "a"), ["x", "y"]);
    let c = view
        .metadata(Path::new("c"))
        .expect("stat")
        .expect("exists");
    assert_eq!(
        c.kind,
        NodeKind::Dir,
        "the upper directory hides the lower file"
    );
    assert!(view.metadata(Path::new("a/none")).expect("stat").is_none());
    assert!(matches!(
        view.open(Path::new("c")),
        Err(LayerViewError::WrongKind { .. })
    ));
}

#[test]
fn an_empty_view_is_an_empty_root() {
    let view = LayerView::new(&[]).expect("open");
    let root = view.metadata(Path::new("/")).expect("stat").expect("root");
    assert_eq!((root.kind, root.mode), (NodeKind::Dir, 0o755));
    assert!(names(&view, "/").is_empty());
    assert_eq!(view.lookup_user("root").expect("lookup"), None);
}

#[test]
fn symlinks_resolve_inside_the_root_only() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("passwd"), "root:x:0:0::/:/bin/sh\n").expect("write");
    let abs = outside.path().to_str().expect("utf-8");
    let (_tmp, dirs) = layers(&[
        &[
            "etc->/run/etc",
            "host->HOST",
            "climb->../../../../../../../../tmp",
            "loop->loop/x",
            "file->/run/etc/passwd",
        ],
        &["run/etc/passwd=app:x:7:8::/:/bin/sh\n"],
    ]);
    std::fs::remove_file(dirs[0].join("host")).expect("rm");
    symlink(abs, dirs[0].join("host")).expect("symlink");
    let view = LayerView::new(&dirs).expect("open");
    assert_eq!(
        view.resolve(Path::new("/etc/passwd"), true)
            .expect("resolve"),
        PathBuf::from("run/etc/passwd")
    );
    assert_eq!(view.lookup_user("app").expect("lookup"), Some((7, 8)));
    assert_eq!(view.lookup_user("root").expect("lookup"), None);
    // An absolute link naming a host directory names that path inside the view.
    let host = view
        .resolve(Path::new("host/passwd"), true)
        .expect("resolve");
    assert_eq!(host, Path::new(abs.trim_start_matches('/')).join("passwd"));
    assert!(view.metadata(&host).expect("stat").is_none());
    assert_eq!(
        view.resolve(Path::new("climb"), true).expect("resolve"),
        PathBuf::from("tmp")
    );
    assert!(matches!(
        view.resolve(Path::new("loop"), true),
        Err(LayerViewError::Loop { .. })
    ));
    assert_eq!(
        view.read_link(Path::new("file")).expect("link"),
        PathBuf::from("/run/etc/passwd")
    );
    assert!(
        matches!(
            view.open(Path::new("file")),
            Err(LayerViewError::WrongKind { .. })
        ),
        "the last element is never followed by open"
    );
    assert_eq!(read(&view, "etc/passwd"), "app:x:7:8::/:/bin/sh\n");
    // The resolved-path reads refuse a symlink among the parents instead of following it.
    assert!(matches!(
        view.resolved().metadata(Path::new("etc/passwd")),
        Err(LayerViewError::NotADirectory { .. })
    ));
    assert!(view.resolved().open(Path::new("host/passwd")).is_err());
    assert!(view
        .resolved()
        .metadata(Path::new("run/etc/passwd"))
        .expect("stat")
        .is_some());
}

#[test]
fn users_and_groups_from_the_view() {
    let (_tmp, dirs) = layers(&[
        &["etc/group=root:x:0:\nstaff:x:50:app\n"],
        &[
            "etc/passwd=root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n",
            "etc/group=old:x:1:\n",
        ],
    ]);
    let view = LayerView::new(&dirs).expect("open");
    assert_eq!(view.lookup_user("app").expect("lookup"), Some((1000, 1000)));
    assert_eq!(view.lookup_group("staff").expect("lookup"), Some(50));
    assert_eq!(
        view.lookup_group("old").expect("lookup"),
        None,
        "upper file wins"
    );
}

#[test]
#[ignore = "needs root"]
fn whiteouts_hide_and_opaque_directories_stop_the_descent() {
    let (_tmp, dirs) = layers(&[
        &["a/", "o/new=n"],
        &["a/gone=g", "a/kept=k", "o/old=o", "top=t"],
    ]);
    whiteout(&dirs[0].join("a/gone"));
    whiteout(&dirs[0].join("top"));
    rustix::fs::setxattr(
        dirs[0].join("o"),
        crate::engine::image::layer::OPAQUE_XATTR_TRUSTED,
        b"y",
        XattrFlags::empty(),
    )
    .expect("setxattr");
    std::fs::write(dirs[0].join("a/xattr"), "x").expect("write");
    rustix::fs::setxattr(
        dirs[0].join("a/xattr"),
        "user.keep",
        b"1",
        XattrFlags::empty(),
    )
    .expect("setxattr");
    rustix::fs::setxattr(
        dirs[0].join("a/xattr"),
        "trusted.overlay.origin",
        b"z",
        XattrFlags::empty(),
    )
    .expect("setxattr");
    let view = LayerView::new(&dirs).expect("open");
    assert_eq!(names(&view, "/"), ["a", "o"]);
    assert_eq!(names(&view, "a"), ["kept", "xattr"]);
    assert_eq!(names(&view, "o"), ["new"]);
    assert!(view.metadata(Path::new("a/gone")).expect("stat").is_none());
    assert!(view.metadata(Path::new("o/old")).expect("stat").is_none());
    assert!(matches!(
        view.open(Path::new("top")),
        Err(LayerViewError::NotFound { .. })
    ));
    assert_eq!(
        view.xattrs(Path::new("a/xattr")).expect("xattrs"),
        [(OsString::from("user.keep"), b"1".to_vec())]
    );
}
