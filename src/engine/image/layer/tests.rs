use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::*;

/// One crafted tar entry; names are written verbatim (tar::Header::set_path refuses `..`).
struct E<'a> {
    name: &'a [u8],
    kind: tar::EntryType,
    data: &'a [u8],
    link: &'a [u8],
    mode: u32,
}

fn e<'a>(name: &'a str, kind: tar::EntryType) -> E<'a> {
    E {
        name: name.as_bytes(),
        kind,
        data: b"",
        link: b"",
        mode: if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        },
    }
}
fn file<'a>(name: &'a str, data: &'a [u8]) -> E<'a> {
    E {
        data,
        ..e(name, tar::EntryType::Regular)
    }
}
fn dir(name: &str) -> E<'_> {
    e(name, tar::EntryType::Directory)
}
fn symlink<'a>(name: &'a str, target: &'a str) -> E<'a> {
    E {
        link: target.as_bytes(),
        ..e(name, tar::EntryType::Symlink)
    }
}
fn hardlink<'a>(name: &'a str, target: &'a str) -> E<'a> {
    E {
        link: target.as_bytes(),
        ..e(name, tar::EntryType::Link)
    }
}

fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for en in entries {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name = [0; 100];
            old.name[..en.name.len()].copy_from_slice(en.name);
            old.linkname = [0; 100];
            old.linkname[..en.link.len()].copy_from_slice(en.link);
        }
        h.set_entry_type(en.kind);
        h.set_size(en.data.len() as u64);
        h.set_mode(en.mode);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append(&h, en.data).unwrap();
    }
    b.into_inner().unwrap()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

const SENTINEL: &[u8] = b"original sentinel\n";

fn fixture() -> Fixture {
    let tmp = tempfile::Builder::new()
        .prefix("compose-test-layer-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("sentinel"), SENTINEL).unwrap();
    Fixture {
        _tmp: tmp,
        root,
        outside,
    }
}

impl Fixture {
    fn unpack(&self, tar: &[u8]) -> Result<UnpackStats, LayerError> {
        unpack(tar, &self.root, &UnpackOptions::default())
    }

    /// Nothing outside the root changed: the sentinel is intact and alone.
    fn assert_outside_untouched(&self) {
        assert_eq!(fs::read(self.outside.join("sentinel")).unwrap(), SENTINEL);
        let names: Vec<_> = fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("sentinel")]);
        let parent = self.outside.parent().unwrap();
        let mut top: Vec<_> = fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        top.sort();
        assert_eq!(top, vec!["outside", "root"]);
    }
}

fn assert_refused(r: Result<UnpackStats, LayerError>, entry: &str) {
    match r {
        Err(err @ LayerError::Unsafe { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains(entry), "error {msg:?} does not name {entry:?}");
        }
        other => panic!("expected a refusal naming {entry:?}, got {other:?}"),
    }
}

fn root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn unpacks_files_dirs_links() {
    let f = fixture();
    let mut exe = file("bin/tool", b"#!/bin/sh\n");
    exe.mode = 0o4755;
    let stats = f
        .unpack(&tar_of(&[
            dir("./"),
            dir("etc/"),
            file("./etc/hosts", b"127.0.0.1 localhost\n"),
            exe,
            symlink("bin/sh", "/bin/busybox"),
            hardlink("bin/tool2", "bin/tool"),
            file("deep/missing/parents/f", b"x"),
        ]))
        .unwrap();
    assert_eq!(stats.size, 20 + 10 + 1);
    let r = &f.root;
    assert_eq!(
        fs::read(r.join("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    let m = fs::metadata(r.join("bin/tool")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(m.nlink(), 2);
    assert_eq!(m.mtime(), 1_600_000_000);
    assert_eq!(
        fs::read_link(r.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert_eq!(fs::read(r.join("deep/missing/parents/f")).unwrap(), b"x");
    // Directory mtimes are applied after their children are written.
    assert_eq!(fs::metadata(r.join("etc")).unwrap().mtime(), 1_600_000_000);
    f.assert_outside_untouched();
}

#[test]
fn later_entries_replace_earlier_ones() {
    let f = fixture();
    f.unpack(&tar_of(&[
        file("a", b"file"),
        dir("a/"),
        file("a/inner", b"1"),
        file("b/x", b"1"),
        file("b", b"now a file"),
        file("c", b"old"),
        symlink("c", "target"),
    ]))
    .unwrap();
    assert!(f.root.join("a").is_dir());
    assert_eq!(fs::read(f.root.join("b")).unwrap(), b"now a file");
    assert_eq!(
        fs::read_link(f.root.join("c")).unwrap(),
        Path::new("target")
    );
}

#[test]
fn follows_symlinks_that_stay_inside() {
    let f = fixture();
    f.unpack(&tar_of(&[
        dir("usr/lib/"),
        symlink("lib", "usr/lib"),
        symlink("usr/lib64", "../lib"),
        file("lib/x", b"x"),
        file("usr/lib64/y", b"y"),
    ]))
    .unwrap();
    assert_eq!(fs::read(f.root.join("usr/lib/x")).unwrap(), b"x");
    assert_eq!(fs::read(f.root.join("usr/lib/y")).unwrap(), b"y");
}

#[test]
fn refuses_dotdot() {
    let f = fixture();
    let r = f.unpack(&tar_of(&[file("../outside/sentinel", b"pwned")]));
    assert_refused(r, "../outside/sentinel");
    let r = f.unpack(&tar_of(&[file("a/../../outside/new", b"pwned")]));
    assert_refused(r, "a/../../outside/new");
    f.assert_outside_untouched();
}

#[test]
fn refuses_absolute() {
    let f = fixture();
    let abs = format!("{}/sentinel", f.outside.display());
    let r = f.unpack(&tar_of(&[file(&abs, b"pwned")]));
    assert_refused(r, &abs);
    f.assert_outside_untouched();
}

#[test]
fn absolute_symlink_parents_resolve_inside_the_root() {
    // `var/run -> /run` then `var/run/foo`: Docker unpacks a layer in a chroot of it, so the
    // file lands in `run/foo` of the layer, never on the host's /run.
    let f = fixture();
    f.unpack(&tar_of(&[
        dir("var/"),
        symlink("var/run", "/run"),
        file("var/run/foo", b"pid"),
        dir("var/run/sub/"),
    ]))
    .unwrap();
    assert_eq!(fs::read(f.root.join("run/foo")).unwrap(), b"pid");
    assert!(f.root.join("run/sub").is_dir());
    assert_eq!(
        fs::read_link(f.root.join("var/run")).unwrap(),
        Path::new("/run")
    );
    // A symlink naming the outside directory by its host path: written inside the root, under
    // the same path.
    let target = f.outside.display().to_string();
    let inside = f.root.join(target.trim_start_matches('/'));
    f.unpack(&tar_of(&[
        symlink("evil", &target),
        file("evil/sentinel", b"inside"),
        symlink("evil2", &format!("{target}/../outside")),
        file("evil2/new", b"inside too"),
        symlink("evil3", &target),
        dir("evil3/d/"),
    ]))
    .unwrap();
    assert_eq!(fs::read(inside.join("sentinel")).unwrap(), b"inside");
    assert_eq!(fs::read(inside.join("new")).unwrap(), b"inside too");
    assert!(inside.join("d").is_dir());
    f.assert_outside_untouched();
}

#[test]
fn refuses_absolute_symlinks_that_climb_above_the_root() {
    let f = fixture();
    let r = f.unpack(&tar_of(&[
        symlink("up", "/../outside"),
        file("up/sentinel", b"pwned"),
    ]));
    assert_refused(r, "up/sentinel");
    let r = f.unpack(&tar_of(&[
        symlink("root", "/"),
        symlink("up2", "root/.."),
        file("up2/outside/sentinel", b"pwned"),
    ]));
    assert_refused(r, "up2/outside/sentinel");
    f.assert_outside_untouched();
}

#[test]
fn refuses_write_through_relative_symlink_escape() {
    let f = fixture();
    let r = f.unpack(&tar_of(&[
        dir("a/"),
        symlink("a/up", "../../outside"),
        file("a/up/sentinel", b"pwned"),
    ]));
    assert_refused(r, "a/up/sentinel");
    // A chain of symlinks that climbs one level at a time.
    let r = f.unpack(&tar_of(&[
        symlink("one", "."),
        symlink("two", "one/.."),
        file("two/outside/sentinel", b"pwned"),
    ]));
    assert_refused(r, "two/outside/sentinel");
    f.assert_outside_untouched();
}

#[test]
fn refuses_hardlinks_outside() {
    let f = fixture();
    let r = f.unpack(&tar_of(&[hardlink("hl", "../outside/sentinel")]));
    assert_refused(r, "hl");
    let abs = format!("{}/sentinel", f.outside.display());
    let r = f.unpack(&tar_of(&[hardlink("hl2", &abs)]));
    assert_refused(r, "hl2");
    // Through an absolute symlink, the target is looked up inside the root (where there is
    // no such file).
    let r = f.unpack(&tar_of(&[
        symlink("evil", &f.outside.display().to_string()),
        hardlink("hl3", "evil/sentinel"),
    ]));
    assert!(
        matches!(r, Err(LayerError::Io { ref entry, .. }) if entry == "hl3"),
        "{r:?}"
    );
    let r = f.unpack(&tar_of(&[
        symlink("up", ".."),
        hardlink("hl4", "up/outside/sentinel"),
    ]));
    assert_refused(r, "hl4");
    // None of them created a link to the sentinel.
    assert_eq!(fs::metadata(f.outside.join("sentinel")).unwrap().nlink(), 1);
    f.assert_outside_untouched();
}

#[test]
fn overwriting_a_symlink_replaces_it() {
    // A file entry over a symlink to the outside must replace the link, not write through it.
    let f = fixture();
    let target = format!("{}/sentinel", f.outside.display());
    f.unpack(&tar_of(&[symlink("s", &target), file("s", b"inside")]))
        .unwrap();
    assert_eq!(fs::read(f.root.join("s")).unwrap(), b"inside");
    f.assert_outside_untouched();
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let f = fixture();
    f.unpack(&tar_of(&[
        dir("etc/"),
        file("etc/.wh.passwd", b""),
        dir("opt/"),
        file("opt/.wh..wh..opq", b""),
        file("opt/new", b"n"),
    ]))
    .unwrap();
    let m = fs::symlink_metadata(f.root.join("etc/passwd")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), 0);
    assert!(!f.root.join("etc/.wh.passwd").exists());
    let opts = UnpackOptions::default();
    let mut buf = [0u8; 4];
    match rfs::getxattr(f.root.join("opt"), opts.opaque_xattr, &mut buf[..]) {
        Ok(n) => assert_eq!(&buf[..n], b"y"),
        Err(e) => panic!("opaque xattr {} missing: {e}", opts.opaque_xattr),
    }
    assert!(!f.root.join("opt/.wh..wh..opq").exists());
}

#[test]
fn refuses_whiteouts_of_dot_and_dotdot() {
    // `.wh...` names `..`: at the top of the layer that is the directory holding the layer
    // (and `outside`), which the whiteout would empty.
    let f = fixture();
    let r = f.unpack(&tar_of(&[file(".wh...", b"")]));
    assert_refused(r, ".wh...");
    let r = f.unpack(&tar_of(&[
        dir("a/"),
        file("a/b", b"x"),
        file("a/.wh...", b""),
    ]));
    assert_refused(r, "a/.wh...");
    let r = f.unpack(&tar_of(&[
        dir("c/"),
        file("c/d", b"x"),
        file("c/.wh..", b""),
    ]));
    assert_refused(r, "c/.wh..");
    let r = f.unpack(&tar_of(&[file("e/.wh.", b"")]));
    assert_refused(r, "e/.wh.");
    assert_eq!(fs::read(f.root.join("a/b")).unwrap(), b"x");
    assert_eq!(fs::read(f.root.join("c/d")).unwrap(), b"x");
    f.assert_outside_untouched();
}

/// The xattr `key` of `path` (not following a final symlink), `None` when absent.
fn xattr_of(path: &Path, key: &str) -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    rfs::lgetxattr(path, key, &mut buf[..])
        .ok()
        .map(|n| buf[..n].to_vec())
}

#[test]
fn overlay_xattrs_from_the_layer_are_dropped() {
    let f = fixture();
    let mut b = tar::Builder::new(Vec::new());
    let mut entry = |path: &str, kind: tar::EntryType, xattrs: &[(&str, &[u8])]| {
        let mut h = hdr();
        h.set_path(path).unwrap();
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_cksum();
        let pax: Vec<(String, &[u8])> = xattrs
            .iter()
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
            .collect();
        b.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
            .unwrap();
        b.append(&h, &b""[..]).unwrap();
    };
    let overlay: &[(&str, &[u8])] = &[
        ("trusted.overlay.opaque", b"y"),
        ("trusted.overlay.redirect", b"/etc"),
        ("trusted.overlay.metacopy", b""),
        ("user.overlay.opaque", b"y"),
        ("user.overlay.origin", b""),
        ("user.keep", b"v"),
    ];
    entry("./", tar::EntryType::Directory, overlay);
    entry("hide", tar::EntryType::Directory, overlay);
    entry("hide/file", tar::EntryType::Regular, overlay);
    let data = b.into_inner().unwrap();
    f.unpack(&data).unwrap();
    let user_xattrs = xattr_of(&f.root.join("hide"), "user.keep").is_some();
    for path in [
        f.root.clone(),
        f.root.join("hide"),
        f.root.join("hide/file"),
    ] {
        for (key, _) in &overlay[..5] {
            assert_eq!(xattr_of(&path, key), None, "{key} on {}", path.display());
        }
        if user_xattrs {
            assert_eq!(xattr_of(&path, "user.keep").as_deref(), Some(&b"v"[..]));
        }
    }
    if !user_xattrs {
        eprintln!("user xattrs not supported by the temp filesystem: user.* checks are vacuous");
    }
    if !root() {
        eprintln!("not root: trusted.* xattrs could not have been set anyway");
    }
    // The opaque marker still comes from a `.wh..wh..opq` entry.
    f.unpack(&tar_of(&[dir("opq/"), file("opq/.wh..wh..opq", b"")]))
        .unwrap();
    let opts = UnpackOptions::default();
    assert_eq!(
        xattr_of(&f.root.join("opq"), opts.opaque_xattr).as_deref(),
        Some(&b"y"[..])
    );
}

fn hdr() -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_mode(0o777);
    h
}

#[test]
#[ignore = "needs root"]
fn devices_and_ownership() {
    if !root() {
        eprintln!("skipping devices_and_ownership: needs root (mknod, chown)");
        return;
    }
    let f = fixture();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = hdr();
    h.set_path("dev/null").unwrap();
    h.set_entry_type(tar::EntryType::Char);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_mode(0o666);
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &b""[..]).unwrap();
    let mut h = hdr();
    h.set_path("run/fifo").unwrap();
    h.set_entry_type(tar::EntryType::Fifo);
    h.set_mode(0o620);
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &b""[..]).unwrap();
    let mut h = hdr();
    h.set_path("home/app/file").unwrap();
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mode(0o2750);
    h.set_size(2);
    h.set_cksum();
    b.append(&h, &b"hi"[..]).unwrap();
    let mut h = hdr();
    h.set_path("home/app/link").unwrap();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_link_name("file").unwrap();
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &b""[..]).unwrap();
    // An xattr in a PAX record.
    let mut h = hdr();
    h.set_path("xattr-file").unwrap();
    h.set_mode(0o644);
    h.set_size(1);
    h.set_cksum();
    b.append_pax_extensions([("SCHILY.xattr.user.test", &b"v"[..])])
        .unwrap();
    b.append(&h, &b"x"[..]).unwrap();
    let data = b.into_inner().unwrap();
    f.unpack(&data).unwrap();

    let m = fs::symlink_metadata(f.root.join("dev/null")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), rfs::makedev(1, 3));
    assert_eq!(m.mode() & 0o7777, 0o666);
    let m = fs::symlink_metadata(f.root.join("run/fifo")).unwrap();
    assert!(m.file_type().is_fifo());
    assert_eq!(m.mode() & 0o7777, 0o620);
    let m = fs::metadata(f.root.join("home/app/file")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1001));
    assert_eq!(m.mode() & 0o7777, 0o2750);
    let m = fs::symlink_metadata(f.root.join("home/app/link")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1001));
    let mut buf = [0u8; 4];
    if let Ok(n) = rfs::getxattr(f.root.join("xattr-file"), "user.test", &mut buf[..]) {
        assert_eq!(&buf[..n], b"v");
    } else {
        eprintln!("user xattrs not supported by the temp filesystem; xattr check skipped");
    }
}

#[test]
fn compression_by_magic() {
    let tar = tar_of(&[file("f", b"data")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    for (blob, want) in [
        (&tar, Compression::None),
        (&gz, Compression::Gzip),
        (&zst, Compression::Zstd),
    ] {
        assert_eq!(Compression::detect(blob).unwrap(), want);
        let mut out = Vec::new();
        decompress(&blob[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, tar);
    }
    assert!(matches!(
        Compression::detect(b"\xfd7zXZ\x00rest"),
        Err(LayerError::Compression("xz"))
    ));
}

#[test]
fn empty_numeric_fields_read_as_zero_like_go_archive_tar() {
    // A header whose uid, gid and mtime are all NUL (as some writers leave them): Go's
    // archive/tar, hence Docker, reads 0; a field with garbage is still refused.
    let f = fixture();
    let mut tar = tar_of(&[file("etc/platform", b"linux/arm64\n")]);
    for range in [108..116, 116..124, 136..148] {
        tar[range].fill(0);
    }
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&tar[..512]);
    h.set_cksum();
    tar[..512].copy_from_slice(h.as_bytes());
    f.unpack(&tar).expect("empty numeric fields are 0");
    let m = fs::metadata(f.root.join("etc/platform")).unwrap();
    assert_eq!(m.mtime(), 0);
    let mut bad = tar.clone();
    bad[108..116].copy_from_slice(b"zz\0\0\0\0\0\0");
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&bad[..512]);
    h.set_cksum();
    bad[..512].copy_from_slice(h.as_bytes());
    let g = fixture();
    assert!(g.unpack(&bad).is_err(), "a garbage uid was accepted");
}
