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
fn refuses_write_through_absolute_symlink() {
    let f = fixture();
    let target = f.outside.display().to_string();
    let r = f.unpack(&tar_of(&[
        symlink("evil", &target),
        file("evil/sentinel", b"pwned"),
    ]));
    assert_refused(r, "evil/sentinel");
    let r = f.unpack(&tar_of(&[
        symlink("evil2", &target),
        file("evil2/new", b"pwned"),
    ]));
    assert_refused(r, "evil2/new");
    let r = f.unpack(&tar_of(&[symlink("evil3", &target), dir("evil3/d/")]));
    assert_refused(r, "evil3/d/");
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
    let r = f.unpack(&tar_of(&[
        symlink("evil", &f.outside.display().to_string()),
        hardlink("hl3", "evil/sentinel"),
    ]));
    assert_refused(r, "hl3");
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

fn hdr() -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_mode(0o777);
    h
}

#[test]
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
