use std::collections::BTreeMap;
use std::fs;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{symlink, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Timespec, Timestamps, XattrFlags};

use super::*;
use crate::engine::image::layer::{self, UnpackOptions};

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("compose-test-pack-")
        .tempdir()
        .unwrap()
}

fn packed(dir: &Path, opts: &PackOptions) -> (Vec<u8>, PackedLayer) {
    let mut out = Vec::new();
    let layer = pack(dir, &mut out, opts).unwrap();
    (out, layer)
}

fn uncompressed() -> PackOptions {
    PackOptions {
        compression: Compression::None,
        source_date_epoch: None,
    }
}

/// One tar entry as a reader sees it.
#[derive(Debug, PartialEq)]
struct Seen {
    path: Vec<u8>,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    link: Option<Vec<u8>>,
    pax_keys: Vec<Vec<u8>>,
    uname: Vec<u8>,
}

fn entries(tar_bytes: &[u8]) -> Vec<Seen> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let pax_keys = match e.pax_extensions().unwrap() {
            Some(exts) => exts.map(|x| x.unwrap().key_bytes().to_vec()).collect(),
            None => Vec::new(),
        };
        let h = e.header();
        out.push(Seen {
            path: e.path_bytes().into_owned(),
            kind: h.entry_type(),
            mode: h.mode().unwrap(),
            uid: h.uid().unwrap(),
            gid: h.gid().unwrap(),
            mtime: h.mtime().unwrap(),
            link: e.link_name_bytes().map(|l| l.into_owned()),
            pax_keys,
            uname: h.username_bytes().unwrap_or_default().to_vec(),
        });
    }
    out
}

fn set_mtime(path: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rfs::utimensat(
        rfs::CWD,
        path,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A tree of plain files, directories and symlinks (no privilege needed), created in the
/// order `reverse` says, with fixed times.
fn plain_tree(dir: &Path, reverse: bool) {
    let mut steps: Vec<Box<dyn Fn() + '_>> = vec![
        Box::new(|| fs::create_dir_all(dir.join("a/b")).unwrap()),
        Box::new(|| fs::write(dir.join("a-b"), b"dash").unwrap()),
        Box::new(|| fs::write(dir.join("z"), vec![7u8; 70_000]).unwrap()),
        Box::new(|| symlink("../z", dir.join("link")).unwrap()),
    ];
    if reverse {
        steps.reverse();
        // The directory has to be there before its file.
        steps.push(Box::new(|| fs::write(dir.join("a/b/f"), b"in b").unwrap()));
    } else {
        steps.insert(
            1,
            Box::new(|| fs::write(dir.join("a/b/f"), b"in b").unwrap()),
        );
    }
    for s in steps {
        s();
    }
    for p in ["a/b/f", "a/b", "a", "a-b", "z", "link"] {
        set_mtime(&dir.join(p), 1_700_000_000);
    }
}

#[test]
fn entries_in_name_order_each_directory_before_its_content() {
    let t = tempdir();
    plain_tree(t.path(), false);
    let (tar_bytes, layer) = packed(t.path(), &uncompressed());
    let seen = entries(&tar_bytes);
    let paths: Vec<&[u8]> = seen.iter().map(|s| &s.path[..]).collect();
    assert_eq!(
        paths,
        [&b"a/"[..], b"a/b/", b"a/b/f", b"a-b", b"link", b"z"],
        "names bytewise within each directory (as Go's filepath.Walk gives them to BuildKit), \
         directories before their content, no ./ and no root entry"
    );
    assert_eq!(seen[1].kind, tar::EntryType::Directory);
    assert_eq!(seen[4].kind, tar::EntryType::Symlink);
    assert_eq!(seen[4].link.as_deref(), Some(&b"../z"[..]));
    assert!(seen
        .iter()
        .all(|s| s.uname.is_empty() && s.mtime == 1_700_000_000));
    assert_eq!(layer.entries, 6);
    assert_eq!(layer.size, 4 + 4 + 70_000);
    assert_eq!(layer.tar_size, tar_bytes.len() as u64);
    assert_eq!(layer.diff_id, fsutil::sha256_digest(&tar_bytes));
    assert_eq!(
        layer.digest, layer.diff_id,
        "uncompressed: blob and tar are one"
    );
}

/// Identical trees give identical bytes, however they were made (creation order, inode
/// numbers, access times): the `SOURCE_DATE_EPOCH` promise.
#[test]
fn identical_trees_give_identical_bytes() {
    let (one, two) = (tempdir(), tempdir());
    plain_tree(one.path(), false);
    plain_tree(two.path(), true);
    let opts = PackOptions::default();
    let (a, la) = packed(one.path(), &opts);
    // Reading every file changes atimes (where the mount updates them); set them too.
    let mut sink = Vec::new();
    fs::File::open(one.path().join("z"))
        .unwrap()
        .read_to_end(&mut sink)
        .unwrap();
    rfs::utimensat(
        rfs::CWD,
        one.path().join("a-b"),
        &Timestamps {
            last_access: Timespec {
                tv_sec: 5,
                tv_nsec: 0,
            },
            last_modification: Timespec {
                tv_sec: 1_700_000_000,
                tv_nsec: 0,
            },
        },
        AtFlags::empty(),
    )
    .unwrap();
    let (b, _) = packed(one.path(), &opts);
    let (c, lc) = packed(two.path(), &opts);
    assert_eq!(a, b, "packing twice");
    assert_eq!(a, c, "an identical tree made in another order");
    assert_eq!(la, lc);
    assert_eq!(&a[..2], &[0x1f, 0x8b]);
    assert_eq!(&a[4..8], &[0, 0, 0, 0], "gzip mtime 0");
    assert_eq!(a[3] & 0x08, 0, "gzip header without a file name");
    assert_eq!(la.digest, fsutil::sha256_digest(&a));
    assert_eq!(la.compressed_size, a.len() as u64);
    assert_eq!(la.media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    // The diff id is the uncompressed stream's.
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&a[..])
        .read_to_end(&mut tar_bytes)
        .unwrap();
    assert_eq!(la.diff_id, fsutil::sha256_digest(&tar_bytes));
    assert_eq!(la.tar_size, tar_bytes.len() as u64);
}

#[test]
fn zstd_layers_decompress_to_the_same_tar() {
    let t = tempdir();
    plain_tree(t.path(), false);
    let (plain, lp) = packed(t.path(), &uncompressed());
    let (z, lz) = packed(
        t.path(),
        &PackOptions {
            compression: Compression::Zstd,
            source_date_epoch: None,
        },
    );
    assert_eq!(lz.media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
    assert_eq!(zstd::decode_all(&z[..]).unwrap(), plain);
    assert_eq!(lz.diff_id, lp.diff_id);
    assert_eq!(lz.digest, fsutil::sha256_digest(&z));
}

#[test]
fn mtimes_after_the_epoch_are_clamped_to_it() {
    let t = tempdir();
    fs::write(t.path().join("new"), b"n").unwrap();
    fs::write(t.path().join("old"), b"o").unwrap();
    set_mtime(&t.path().join("new"), 2_000_000_000);
    set_mtime(&t.path().join("old"), 1_000);
    let opts = PackOptions {
        compression: Compression::None,
        source_date_epoch: Some(1_500_000_000),
    };
    let (tar_bytes, _) = packed(t.path(), &opts);
    let times: Vec<(Vec<u8>, u64)> = entries(&tar_bytes)
        .into_iter()
        .map(|s| (s.path, s.mtime))
        .collect();
    assert_eq!(
        times,
        [(b"new".to_vec(), 1_500_000_000), (b"old".to_vec(), 1_000)]
    );
    let (unclamped, _) = packed(t.path(), &uncompressed());
    assert_eq!(entries(&unclamped)[0].mtime, 2_000_000_000);
}

#[test]
fn symlinks_are_recorded_never_followed() {
    let t = tempdir();
    let dir = t.path().join("layer");
    fs::create_dir(&dir).unwrap();
    symlink("/etc", dir.join("etc")).unwrap();
    symlink("/etc/passwd", dir.join("passwd")).unwrap();
    let (tar_bytes, layer) = packed(&dir, &uncompressed());
    let seen = entries(&tar_bytes);
    assert_eq!(seen.len(), 2, "nothing from /etc: {seen:?}");
    assert_eq!(layer.size, 0);
    for (s, target) in seen.iter().zip(["/etc", "/etc/passwd"]) {
        assert_eq!(s.kind, tar::EntryType::Symlink);
        assert_eq!(s.link.as_deref(), Some(target.as_bytes()));
    }
    // The directory itself as a symlink: refused, not followed.
    let link = t.path().join("root-link");
    symlink("/etc", &link).unwrap();
    let err = pack(&link, Vec::new(), &uncompressed()).unwrap_err();
    assert!(matches!(err, PackError::Io { .. }), "{err:?}");
}

#[test]
fn long_and_odd_names_go_in_pax_records() {
    let t = tempdir();
    let long_dir = "d".repeat(120);
    let long_file = "f".repeat(150);
    fs::create_dir(t.path().join(&long_dir)).unwrap();
    fs::write(t.path().join(&long_dir).join(&long_file), b"x").unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"odd \xff\x01\n name");
    fs::write(t.path().join(odd), b"y").unwrap();
    let target = format!("/{}", "t".repeat(180));
    symlink(&target, t.path().join("long-link")).unwrap();
    let (tar_bytes, _) = packed(t.path(), &uncompressed());
    let seen = entries(&tar_bytes);
    let long_path = format!("{long_dir}/{long_file}");
    assert_eq!(long_path.len(), 271);
    let by_path: BTreeMap<Vec<u8>, &Seen> = seen.iter().map(|s| (s.path.clone(), s)).collect();
    assert_eq!(by_path[long_path.as_bytes()].pax_keys, [b"path".to_vec()]);
    assert_eq!(
        by_path[format!("{long_dir}/").as_bytes()].pax_keys,
        [b"path".to_vec()]
    );
    assert!(by_path[&b"odd \xff\x01\n name"[..]].pax_keys.is_empty());
    let l = by_path[&b"long-link"[..]];
    assert_eq!(l.link.as_deref(), Some(target.as_bytes()));
    assert_eq!(l.pax_keys, [b"linkpath".to_vec()]);
    // PAX, never GNU long names.
    assert!(!seen.iter().any(|s| matches!(
        s.kind,
        tar::EntryType::GNULongName | tar::EntryType::GNULongLink
    )));
    let gnu = tar_bytes
        .chunks(512)
        .any(|b| b.len() == 512 && (b[156] == b'L' || b[156] == b'K'));
    assert!(!gnu, "a GNU long-name header was written");
    // And the files come back under their names.
    let back = tempdir();
    layer::unpack(&tar_bytes[..], back.path(), &UnpackOptions::default()).unwrap();
    assert_eq!(fs::read(back.path().join(&long_path)).unwrap(), b"x");
    assert_eq!(fs::read(back.path().join(odd)).unwrap(), b"y");
    assert_eq!(
        fs::read_link(back.path().join("long-link")).unwrap(),
        PathBuf::from(&target)
    );
}

/// What a node is, for comparing trees: everything a layer carries.
#[derive(Debug, PartialEq, Eq)]
struct Node {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    content: Vec<u8>,
    rdev: u64,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    opaque: bool,
    /// The first path (bytewise) with the same inode: hard links share it.
    link_group: Vec<u8>,
}

fn xattrs_of(path: &Path) -> (Xattrs, bool) {
    let mut names = vec![0u8; 65536];
    let n = rfs::llistxattr(path, &mut names[..]).unwrap_or(0);
    let mut out = Vec::new();
    let mut opaque = false;
    for key in names[..n].split(|&b| b == 0).filter(|k| !k.is_empty()) {
        let mut value = vec![0u8; 65536];
        let Ok(len) = rfs::lgetxattr(path, std::ffi::OsStr::from_bytes(key), &mut value[..]) else {
            continue;
        };
        if key == b"trusted.overlay.opaque" || key == b"user.overlay.opaque" {
            opaque |= &value[..len] == b"y";
        } else if !key.starts_with(b"trusted.overlay.") && !key.starts_with(b"user.overlay.") {
            out.push((key.to_vec(), value[..len].to_vec()));
        }
    }
    out.sort();
    (out, opaque)
}

/// Every node under `root` (not `root` itself), by path.
fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, Node> {
    let mut paths = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in fs::read_dir(root.join(&rel)).unwrap() {
            let e = e.unwrap();
            let p = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
            }
            paths.push(p);
        }
    }
    paths.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    let mut first_of_inode: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for rel in paths {
        let full = root.join(&rel);
        let md = fs::symlink_metadata(&full).unwrap();
        let ft = md.file_type();
        use std::os::unix::fs::FileTypeExt as _;
        let whiteout = ft.is_char_device() && md.rdev() == 0;
        let kind = if whiteout {
            "whiteout"
        } else if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else if ft.is_fifo() {
            "fifo"
        } else if ft.is_socket() {
            "socket"
        } else {
            "file"
        };
        let content = match kind {
            "file" => fs::read(&full).unwrap(),
            "symlink" => fs::read_link(&full)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec(),
            _ => Vec::new(),
        };
        let (xattrs, opaque) = xattrs_of(&full);
        let key = rel.as_os_str().as_bytes().to_vec();
        let link_group = first_of_inode
            .entry(md.ino())
            .or_insert_with(|| key.clone())
            .clone();
        let node = if whiteout {
            // A whiteout is only a whiteout: nothing else of it is carried.
            Node {
                kind,
                mode: 0,
                uid: 0,
                gid: 0,
                mtime: 0,
                content,
                rdev: 0,
                xattrs: Vec::new(),
                opaque: false,
                link_group: key.clone(),
            }
        } else {
            Node {
                kind,
                mode: md.permissions().mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                mtime: md.mtime(),
                content,
                rdev: md.rdev(),
                xattrs,
                opaque,
                link_group: if ft.is_dir() { key.clone() } else { link_group },
            }
        };
        out.insert(key, node);
    }
    out
}

fn lsetxattr(path: &Path, key: &str, value: &[u8]) {
    rfs::lsetxattr(path, key, value, XattrFlags::empty()).unwrap();
}

/// An overlayfs upper directory with everything a build step can leave in one.
fn upper_tree(dir: &Path) {
    let p = |rel: &str| dir.join(rel);
    fs::create_dir_all(p("usr/bin")).unwrap();
    fs::create_dir(p("tmp")).unwrap();
    fs::set_permissions(p("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(p("usr/bin/su"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(p("usr/bin/su"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(p("usr/bin/ping"), b"ping").unwrap();
    // A file capability (VFS_CAP_REVISION_2, cap_net_raw permitted and effective).
    let mut cap = vec![0u8; 20];
    cap[..4].copy_from_slice(&0x0200_0001u32.to_le_bytes());
    cap[4..8].copy_from_slice(&(1u32 << 13).to_le_bytes());
    lsetxattr(&p("usr/bin/ping"), "security.capability", &cap);
    lsetxattr(&p("usr/bin/ping"), "user.mime", b"application/x-ping");
    // Overlayfs' own bookkeeping, which a layer never carries.
    lsetxattr(&p("usr/bin/ping"), "trusted.overlay.origin", b"\x00\xfb");
    lsetxattr(&p("usr"), "trusted.overlay.impure", b"y");
    // Owned by someone else.
    fs::create_dir(p("home")).unwrap();
    fs::create_dir(p("home/app")).unwrap();
    fs::write(p("home/app/.profile"), b"export A=1\n").unwrap();
    for rel in ["home/app", "home/app/.profile"] {
        std::os::unix::fs::lchown(p(rel), Some(1000), Some(1001)).unwrap();
    }
    // Hard links, found under three names.
    fs::write(p("usr/bin/busybox"), b"busybox").unwrap();
    fs::hard_link(p("usr/bin/busybox"), p("usr/bin/sh")).unwrap();
    fs::hard_link(p("usr/bin/busybox"), p("bb")).unwrap();
    // Symlinks, one with an xattr of its own and an owner.
    symlink("busybox", p("usr/bin/ls")).unwrap();
    symlink("/etc", p("etc")).unwrap();
    lsetxattr(&p("usr/bin/ls"), "trusted.note", b"link");
    std::os::unix::fs::lchown(p("usr/bin/ls"), Some(5), Some(6)).unwrap();
    // Devices and a fifo.
    fs::create_dir(p("dev")).unwrap();
    let mknod = |rel: &str, ft: FileType, mode: u32, dev: u64| {
        rfs::mknodat(rfs::CWD, p(rel), ft, Mode::from_raw_mode(mode), dev).unwrap();
        // Past the umask.
        rfs::chmodat(
            rfs::CWD,
            p(rel),
            Mode::from_raw_mode(mode),
            AtFlags::empty(),
        )
        .unwrap();
    };
    mknod(
        "dev/null",
        FileType::CharacterDevice,
        0o666,
        rfs::makedev(1, 3),
    );
    mknod(
        "dev/loop9",
        FileType::BlockDevice,
        0o660,
        rfs::makedev(7, 9),
    );
    mknod("dev/fifo", FileType::Fifo, 0o620, 0);
    // Whiteouts (two sharing one inode, as overlayfs makes them) and an opaque directory.
    mknod("gone", FileType::CharacterDevice, 0, 0);
    fs::create_dir(p("var")).unwrap();
    fs::hard_link(p("gone"), p("var/gone-too")).unwrap();
    fs::create_dir(p("var/cache")).unwrap();
    lsetxattr(&p("var/cache"), "trusted.overlay.opaque", b"y");
    fs::write(p("var/cache/new"), b"fresh").unwrap();
    fs::create_dir(p("var/not-opaque")).unwrap();
    lsetxattr(&p("var/not-opaque"), "trusted.overlay.opaque", b"x");
    // A socket has no tar form.
    std::os::unix::net::UnixListener::bind(p("var/sock")).unwrap();
    // Times: distinct, set last (children change their directory's).
    let mut all = snapshot(dir).into_keys().collect::<Vec<_>>();
    all.reverse();
    for (i, rel) in all.iter().enumerate() {
        let full = dir.join(std::ffi::OsStr::from_bytes(rel));
        set_mtime(&full, 1_600_000_000 + i as i64 * 1000);
    }
}

fn root() -> bool {
    rustix::process::geteuid().is_root()
}

/// unpack(pack(dir)) gives `dir` back: types, modes, owners, times, xattrs, whiteouts,
/// opaque directories, hard links and symlink targets.
#[test]
#[ignore = "needs root"]
fn unpacking_a_packed_upper_directory_gives_it_back() {
    assert!(root(), "run as root (mknod, chown, trusted xattrs)");
    let t = tempdir();
    let src = t.path().join("upper");
    fs::create_dir(&src).unwrap();
    upper_tree(&src);
    let (blob, layer) = packed(&src, &PackOptions::default());
    let dest = t.path().join("back");
    fs::create_dir(&dest).unwrap();
    let reader = layer::decompress(&blob[..]).unwrap();
    let stats = layer::unpack(reader, &dest, &UnpackOptions::default()).unwrap();
    assert_eq!(stats.size, layer.size);
    assert_eq!(stats.entries, layer.entries);

    let mut want = snapshot(&src);
    let sock = want.remove(&b"var/sock"[..]).unwrap();
    assert_eq!(sock.kind, "socket");
    let got = snapshot(&dest);
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (path, node) in &want {
        assert_eq!(
            Some(node),
            got.get(path),
            "{}",
            String::from_utf8_lossy(path)
        );
    }
    // Spot checks that the comparison saw what matters.
    assert_eq!(want[&b"bb"[..]].link_group, b"bb");
    assert_eq!(got[&b"usr/bin/sh"[..]].link_group, b"bb");
    assert!(got[&b"var/cache"[..]].opaque);
    assert!(!got[&b"var/not-opaque"[..]].opaque);
    assert_eq!(got[&b"var/gone-too"[..]].kind, "whiteout");
    assert_eq!(got[&b"usr/bin/su"[..]].mode, 0o4755);
    assert_eq!(got[&b"home/app/.profile"[..]].uid, 1000);
    assert!(got[&b"usr/bin/ping"[..]]
        .xattrs
        .iter()
        .any(|(k, _)| k == b"security.capability"));
}

/// The tar itself: whiteouts and the opaque marker as OCI writes them, overlayfs' xattrs
/// nowhere, xattrs sorted, hard links to the first name.
#[test]
#[ignore = "needs root"]
fn whiteouts_opaque_markers_and_links_as_oci_writes_them() {
    assert!(root(), "run as root (mknod, chown, trusted xattrs)");
    let t = tempdir();
    upper_tree(t.path());
    let (tar_bytes, _) = packed(t.path(), &uncompressed());
    let seen = entries(&tar_bytes);
    let paths: Vec<&[u8]> = seen.iter().map(|s| &s.path[..]).collect();
    let at = |p: &[u8]| {
        paths
            .iter()
            .position(|x| *x == p)
            .unwrap_or_else(|| panic!("{} missing", String::from_utf8_lossy(p)))
    };
    let wh = &seen[at(b".wh.gone")];
    assert_eq!((wh.kind, wh.uid), (tar::EntryType::Regular, 0));
    assert_eq!(seen[at(b"var/.wh.gone-too")].kind, tar::EntryType::Regular);
    assert_eq!(
        at(b"var/cache/.wh..wh..opq"),
        at(b"var/cache/") + 1,
        "the opaque marker right after its directory"
    );
    assert!(!paths.contains(&&b"var/not-opaque/.wh..wh..opq"[..]));
    assert!(!paths.contains(&&b"var/sock"[..]));
    for (name, first) in [
        (&b"usr/bin/busybox"[..], &b"bb"[..]),
        (b"usr/bin/sh", b"bb"),
    ] {
        let s = &seen[at(name)];
        assert_eq!(s.kind, tar::EntryType::Link);
        assert_eq!(s.link.as_deref(), Some(first));
    }
    assert_eq!(seen[at(b"bb")].kind, tar::EntryType::Regular);
    assert_eq!(
        seen[at(b"usr/bin/ping")].pax_keys,
        [
            b"SCHILY.xattr.security.capability".to_vec(),
            b"SCHILY.xattr.user.mime".to_vec()
        ]
    );
    assert!(seen[at(b"usr/")].pax_keys.is_empty());
    assert_eq!(
        seen[at(b"usr/bin/ls")].pax_keys,
        [b"SCHILY.xattr.trusted.note".to_vec()]
    );
    assert!(!seen
        .iter()
        .flat_map(|s| &s.pax_keys)
        .any(|k| k.windows(8).any(|w| w == b"overlay.")));
    let null = &seen[at(b"dev/null")];
    assert_eq!((null.kind, null.mode), (tar::EntryType::Char, 0o666));
    let profile = &seen[at(b"home/app/.profile")];
    assert_eq!((profile.uid, profile.gid), (1000, 1001));
    assert!(seen.iter().all(|s| s.uname.is_empty()));
}

/// Ids beyond what USTAR's octal fields hold go in PAX records.
#[test]
#[ignore = "needs root"]
fn large_ids_go_in_pax_records() {
    assert!(root(), "run as root (chown)");
    let t = tempdir();
    fs::write(t.path().join("f"), b"x").unwrap();
    std::os::unix::fs::lchown(t.path().join("f"), Some(100_000_000), Some(3)).unwrap();
    let (tar_bytes, _) = packed(t.path(), &uncompressed());
    let seen = entries(&tar_bytes);
    assert_eq!(seen[0].pax_keys, [b"uid".to_vec()]);
    let back = tempdir();
    layer::unpack(&tar_bytes[..], back.path(), &UnpackOptions::default()).unwrap();
    let md = fs::metadata(back.path().join("f")).unwrap();
    assert_eq!((md.uid(), md.gid()), (100_000_000, 3));
}

#[test]
fn pax_record_lengths_count_themselves() {
    let data = pax_data(&[
        (b"path".to_vec(), b"x".repeat(91)),
        (b"k".to_vec(), b"v".to_vec()),
    ]);
    // 4 + 91 + 3 = 98 bytes, plus "101": the length grows a digit on the way.
    assert!(data.starts_with(b"101 path="));
    assert!(data.ends_with(b"\n6 k=v\n"));
    assert_eq!(data.len(), 107);
}

/// The walk is a loop, not a recursion: a tree as deep as a container likes cannot overflow
/// the stack of the thread packing it.
#[test]
fn a_deep_tree_packs_on_a_small_stack() {
    let t = tempdir();
    let depth = 400;
    let mut path = t.path().to_path_buf();
    for _ in 0..depth {
        path.push("d");
    }
    fs::create_dir_all(&path).unwrap();
    fs::write(path.join("leaf"), b"deep").unwrap();
    let dir = t.path().to_path_buf();
    let layer = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || pack(&dir, std::io::sink(), &uncompressed()).unwrap())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(layer.entries, depth + 1);
    assert_eq!(layer.size, 4);
}

/// A step that changed nothing is Docker's well-known empty layer (1024 zero bytes).
#[test]
fn an_empty_directory_is_the_well_known_empty_layer() {
    let t = tempdir();
    let (tar_bytes, layer) = packed(t.path(), &uncompressed());
    assert_eq!(tar_bytes, vec![0u8; 1024]);
    assert_eq!(
        layer.diff_id,
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    );
    assert_eq!(layer.entries, 0);
}
