//! `--chown` and `--chmod`, turned into numbers the way BuildKit does: names are looked up in
//! the TARGET stage's own `/etc/passwd` and `/etc/group`, never the host's.

use super::error::CopyError;
use crate::build::layers::LayerView;

/// An owner for everything a COPY writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// `user[:group]`: each part a name or a number. Without a group, a named user brings its
/// primary group and a numeric one its own number as gid.
pub(super) fn parse_chown(spec: &str, target: &LayerView) -> Result<Owner, CopyError> {
    let bad = |reason: String| CopyError::Chown {
        spec: spec.to_string(),
        reason,
    };
    let (user, group) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    if user.is_empty() || group == Some("") {
        return Err(bad("expected user[:group]".into()));
    }
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => (uid, uid),
        Err(_) => target
            .lookup_user(user)?
            .ok_or_else(|| bad(format!("no user `{user}` in the image's /etc/passwd")))?,
    };
    let gid = match group {
        None => primary,
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => target
                .lookup_group(group)?
                .ok_or_else(|| bad(format!("no group `{group}` in the image's /etc/group")))?,
        },
    };
    Ok(Owner { uid, gid })
}

/// An octal mode (`755`, `0644`, `4755`). Symbolic modes (`u+x`) are refused by name.
pub(super) fn parse_chmod(spec: &str) -> Result<u32, CopyError> {
    let valid =
        !spec.is_empty() && spec.len() <= 4 && spec.bytes().all(|b| (b'0'..=b'7').contains(&b));
    valid
        .then(|| u32::from_str_radix(spec, 8).ok())
        .flatten()
        .ok_or_else(|| CopyError::Chmod {
            spec: spec.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> (tempfile::TempDir, LayerView) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("etc")).expect("mkdir");
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").expect("write");
        let view = LayerView::new(&[dir.path().to_path_buf()]).expect("view");
        (dir, view)
    }

    #[test]
    fn chown_as_buildkit_reads_it() {
        let (_dir, view) = view();
        for (spec, uid, gid) in [
            ("app", 1000, 1001),
            ("app:staff", 1000, 50),
            ("app:7", 1000, 7),
            ("42", 42, 42),
            ("42:staff", 42, 50),
            ("0:0", 0, 0),
        ] {
            assert_eq!(
                parse_chown(spec, &view).expect(spec),
                Owner { uid, gid },
                "{spec}"
            );
        }
        let err = parse_chown("nobody", &view)
            .expect_err("unknown")
            .to_string();
        assert_eq!(
            err,
            "--chown=nobody: no user `nobody` in the image's /etc/passwd"
        );
        assert!(parse_chown("app:wheel", &view).is_err());
        assert!(parse_chown(":staff", &view).is_err());
    }

    #[test]
    fn chmod_octal_only() {
        assert_eq!(parse_chmod("755").expect("755"), 0o755);
        assert_eq!(parse_chmod("4755").expect("4755"), 0o4755);
        assert_eq!(parse_chmod("0644").expect("0644"), 0o644);
        for bad in ["u+x", "8", "", "17777"] {
            assert!(parse_chmod(bad).is_err(), "{bad}");
        }
    }
}
