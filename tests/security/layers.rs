//! See the list in `tests/security.rs`.
//!
//! Each test loads (`compose image load`) an image whose last layer is crafted: the busybox
//! test image with one more layer stacked on it.

use compose::engine::image::testimage::{ArchiveFormat, TestImage};

use crate::require_engine;
use crate::support::{self, engine::text, engine::Fixture};

/// A layer tar: (path, kind, contents or link target, PAX xattrs). Paths are written verbatim
/// into the old header (`tar::Header::set_path` refuses some of the names attacks use).
type Entry<'a> = (&'a str, tar::EntryType, &'a [u8], &'a [(&'a str, &'a [u8])]);

fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, data, xattrs) in entries {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name = [0; 100];
            old.name[..path.len()].copy_from_slice(path.as_bytes());
        }
        h.set_entry_type(*kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_mtime(1_704_067_200);
        h.set_uid(0);
        h.set_gid(0);
        let body: &[u8] = if *kind == tar::EntryType::Symlink {
            h.set_link_name(std::str::from_utf8(data).expect("utf-8 target"))
                .expect("link name");
            b""
        } else {
            data
        };
        h.set_size(body.len() as u64);
        h.set_cksum();
        if !xattrs.is_empty() {
            let pax: Vec<(String, &[u8])> = xattrs
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
                .collect();
            b.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
                .expect("pax");
        }
        b.append(&h, body).expect("append");
    }
    b.into_inner().expect("tar")
}

/// Writes busybox plus `extra` as `name` into the test's folder and runs `image load` on it.
fn load(f: &Fixture, name: &str, extra: Vec<u8>) -> std::process::Output {
    let image = TestImage {
        name: name.into(),
        extra_layers: vec![extra],
        ..TestImage::default()
    };
    let path = f.dir.path().join("hostile.tar");
    std::fs::write(&path, image.archive(ArchiveFormat::Oci).expect("image")).expect("write");
    f.compose(&["image", "load", "-i", path.to_str().expect("utf-8")])
}

const DIR: tar::EntryType = tar::EntryType::Directory;
const FILE: tar::EntryType = tar::EntryType::Regular;
const LINK: tar::EntryType = tar::EntryType::Symlink;

/// Attack: a layer holds the whiteout `.wh...`, whose target is `..`: the unpacker removed the
/// parent of the layer's directory with everything in it (the store's work directory, and the
/// layer being unpacked). The load must be refused, saying why, and leave the store usable.
#[test]
#[ignore = "needs root"]
fn a_whiteout_of_dotdot_is_refused() {
    require_engine!();
    let mut f = Fixture::new("services:\n  app:\n    image: busybox\n");
    let out = load(
        &f,
        "hostile/whiteout:latest",
        layer(&[("etc/", DIR, b"", &[]), (".wh...", FILE, b"", &[])]),
    );
    assert!(!out.status.success(), "loaded: {}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".wh...") && err.contains("whiteout of \"..\""),
        "no clear refusal: {err}"
    );
    let images = f.compose(&["image", "ls", "-q", "hostile/whiteout"]);
    assert!(
        String::from_utf8_lossy(&images.stdout).trim().is_empty(),
        "{}",
        text(&images)
    );
    // The store is intact: busybox still runs.
    let (code, out, err) = f.run("app", &["cat", "/etc/passwd"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("root:"), "{out}");
    f.assert_clean();
}

/// Attack: a layer sets overlayfs' own xattrs on its directories through PAX records:
/// `trusted.overlay.opaque=y` on `/etc` hides everything the lower layers put there (the image
/// lists no deletion, the container sees an empty /etc but for what this layer adds), and
/// `trusted.overlay.redirect` on `/shadow` makes overlayfs look up another lower directory
/// (`/etc`) under that name. Only `.wh..wh..opq` entries may make a directory opaque.
#[test]
#[ignore = "needs root"]
fn overlay_xattrs_in_a_layer_do_not_hide_or_redirect_lower_content() {
    require_engine!();
    let mut f = Fixture::new("services:\n  app:\n    image: hostile/xattrs\n");
    let opaque: &[(&str, &[u8])] = &[
        ("trusted.overlay.opaque", b"y"),
        ("user.overlay.opaque", b"y"),
    ];
    let redirect: &[(&str, &[u8])] = &[
        ("trusted.overlay.redirect", b"/etc"),
        ("user.overlay.redirect", b"/etc"),
    ];
    let out = load(
        &f,
        "hostile/xattrs:latest",
        layer(&[
            ("etc/", DIR, b"", opaque),
            ("etc/planted", FILE, b"planted\n", &[]),
            ("shadow/", DIR, b"", redirect),
        ]),
    );
    assert!(out.status.success(), "image load: {}", text(&out));
    let (code, out, err) = f.run(
        "app",
        &[
            "sh",
            "-c",
            "ls /etc | sort | tr '\\n' ' '; echo; ls /shadow | wc -l",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let mut lines = out.lines();
    let etc = lines.next().unwrap_or_default();
    assert!(
        etc.contains("passwd") && etc.contains("group") && etc.contains("planted"),
        "/etc of the lower layer hidden by an opaque xattr from the layer: {etc:?}"
    );
    assert_eq!(
        lines.next().map(str::trim),
        Some("0"),
        "/shadow shows another directory's content: {out}"
    );
    f.assert_clean();
}

/// Attack, and the compatibility it must not break: a layer has `var/run -> /run` and then the
/// entry `var/run/NAME`. Refused until now; Docker (which unpacks in a chroot of the layer)
/// writes it to the image's `/run/NAME`. Written through the symlink by the host, it would land
/// in the host's /run: the test checks it did not.
#[test]
#[ignore = "needs root"]
fn a_parent_that_is_an_absolute_symlink_resolves_inside_the_image() {
    require_engine!();
    let mut f = Fixture::new("services:\n  app:\n    image: hostile/varrun\n");
    let name = format!("{}.pid", f.project);
    let entry = format!("var/run/{name}");
    let host_path = std::path::Path::new("/run").join(&name);
    let out = load(
        &f,
        "hostile/varrun:latest",
        layer(&[
            ("var/", DIR, b"", &[]),
            ("run/", DIR, b"", &[]),
            ("var/run", LINK, b"/run", &[]),
            (&entry, FILE, b"42\n", &[]),
        ]),
    );
    let on_host = host_path.exists();
    if on_host {
        let _ = std::fs::remove_file(&host_path);
    }
    assert!(
        !on_host,
        "the layer wrote {} on the host",
        host_path.display()
    );
    assert!(out.status.success(), "image load: {}", text(&out));
    let (code, out, err) = f.run(
        "app",
        &[
            "sh",
            "-c",
            &format!("cat /run/{name} /var/run/{name}; readlink /var/run"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "42\n42\n/run\n");
    f.assert_clean();
}
