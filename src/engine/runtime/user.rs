//! Resolving a Compose/Docker `user` (`1000`, `1000:1000`, `app`, `app:staff`, `1000:staff`, empty)
//! and `group_add` against the image's `/etc/passwd` and `/etc/group`, the way runc's
//! `GetExecUser` and Docker's daemon do it:
//!
//! - a numeric user is a uid even when no passwd entry has it (gid 0, HOME `/` then); a name must
//!   have an entry (`unable to find user app: no matching entries in passwd file`);
//! - an explicit group (`:staff`, `:50`) sets the gid and no supplementary groups are added; without
//!   one, the gid is the passwd entry's and every group listing the user's name is a
//!   supplementary group;
//! - `group_add` entries (names or numbers) are appended to the supplementary groups;
//! - the primary group always leads the supplementary groups, as Docker's daemon sets them.
//!
//! The files are read from the image's layers without mounting anything, through
//! [`RootfsFiles`], so the planner can resolve users before the container exists.

use std::path::{Path, PathBuf};

use crate::engine::spec::UserSpec;

/// Largest uid/gid Docker accepts (`user.maxID`).
const MAX_ID: i64 = i32::MAX as i64;

/// Reads a file of the container's root filesystem, by absolute path inside it.
pub trait RootfsFiles {
    /// The file's contents; `None` when it does not exist (or is not a readable regular file).
    fn read(&self, path: &str) -> Option<String>;
}

/// The union of unpacked image layers, topmost first, read the way overlayfs would show it:
/// a whiteout (`.wh.NAME`, or a 0/0 character device) hides the entry of the layers below, an
/// opaque directory (`.wh..wh..opq` inside it, or the `trusted.overlay.opaque` xattr) hides
/// the content of that directory in the layers below. Symbolic links are followed inside the
/// rootfs (an absolute target is relative to the rootfs root, never to the host's).
#[derive(Debug, Clone)]
pub struct LayerFiles {
    layers: Vec<PathBuf>,
}

impl LayerFiles {
    pub fn new(layers: Vec<PathBuf>) -> Self {
        LayerFiles { layers }
    }
}

/// What one layer says about a path.
enum Found {
    /// The layer has nothing at this path and does not hide it: look further down.
    Nothing,
    /// The path is deleted (whiteout) or hidden (opaque parent, non-directory parent).
    Hidden,
    File(PathBuf),
    /// A symlink at `components[..depth]` pointing to `target`.
    Link {
        depth: usize,
        target: PathBuf,
    },
    /// A directory (or other non-file): not readable as a file.
    NotFile,
}

fn is_whiteout_device(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    if dir.join(".wh..wh..opq").exists() {
        return true;
    }
    let mut buf = [0u8; 4];
    for name in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        if let Ok(n) = rustix::fs::lgetxattr(dir, name, &mut buf) {
            if n == 1 && buf[0] == b'y' {
                return true;
            }
        }
    }
    false
}

/// Looks `components` up in one layer.
fn lookup_in_layer(layer: &Path, components: &[String]) -> (Found, bool) {
    // The second value says whether a directory on the way is opaque in this layer, which
    // hides everything under it in the lower layers.
    let mut path = layer.to_path_buf();
    let mut opaque = false;
    for (i, comp) in components.iter().enumerate() {
        if path.join(format!(".wh.{comp}")).symlink_metadata().is_ok() {
            return (Found::Hidden, opaque);
        }
        path.push(comp);
        let meta = match path.symlink_metadata() {
            Ok(m) => m,
            Err(_) => {
                return (
                    if opaque {
                        Found::Hidden
                    } else {
                        Found::Nothing
                    },
                    opaque,
                )
            }
        };
        if is_whiteout_device(&meta) {
            return (Found::Hidden, opaque);
        }
        let ft = meta.file_type();
        if ft.is_symlink() {
            return match std::fs::read_link(&path) {
                Ok(target) => (
                    Found::Link {
                        depth: i + 1,
                        target,
                    },
                    opaque,
                ),
                Err(_) => (Found::Hidden, opaque),
            };
        }
        let last = i + 1 == components.len();
        if last {
            return if ft.is_file() {
                (Found::File(path), opaque)
            } else {
                (Found::NotFile, opaque)
            };
        }
        if !ft.is_dir() {
            // A file where a directory is expected hides the lower layers' directory.
            return (Found::Hidden, opaque);
        }
        if is_opaque(&path) {
            opaque = true;
        }
    }
    (Found::NotFile, opaque)
}

/// Normalizes a path inside the rootfs into components, resolving `.` and `..` lexically
/// (`..` at the root stays at the root, as in the kernel's path walk from a chroot).
fn components_of(path: &Path) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

impl LayerFiles {
    fn resolve(&self, mut components: Vec<String>) -> Option<PathBuf> {
        // Bounded like the kernel's 40 symlink hops.
        'hops: for _ in 0..40 {
            for layer in &self.layers {
                let (found, opaque) = lookup_in_layer(layer, &components);
                match found {
                    Found::Nothing if !opaque => continue,
                    Found::Nothing | Found::Hidden | Found::NotFile => return None,
                    Found::File(p) => return Some(p),
                    Found::Link { depth, target } => {
                        let mut base = PathBuf::from("/");
                        if !target.is_absolute() {
                            for c in &components[..depth - 1] {
                                base.push(c);
                            }
                        }
                        let mut next = base.join(target);
                        for c in &components[depth..] {
                            next.push(c);
                        }
                        components = components_of(&next);
                        continue 'hops;
                    }
                }
            }
            return None;
        }
        None
    }
}

impl RootfsFiles for LayerFiles {
    fn read(&self, path: &str) -> Option<String> {
        let file = self.resolve(components_of(Path::new(path)))?;
        let bytes = std::fs::read(file).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Errors worded like runc's and Docker's, so users recognise them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("invalid id {0:?}: uids and gids must be in range 0-{MAX_ID}")]
    Range(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PasswdEntry {
    name: String,
    uid: i64,
    gid: i64,
    home: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupEntry {
    name: String,
    gid: i64,
    members: Vec<String>,
}

/// Parses a Go-style integer (`strconv.Atoi`: optional sign, decimal digits).
fn parse_id(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

fn check_range(id: i64, text: &str) -> Result<u32, UserError> {
    if (0..=MAX_ID).contains(&id) {
        Ok(id as u32)
    } else {
        Err(UserError::Range(text.to_string()))
    }
}

/// Lines of a colon-separated database, skipping blank lines and `#` comments.
fn fields(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    fields(text)
        .map(|f| PasswdEntry {
            name: f.first().unwrap_or(&"").to_string(),
            uid: f.get(2).and_then(|s| parse_id(s)).unwrap_or(0),
            gid: f.get(3).and_then(|s| parse_id(s)).unwrap_or(0),
            home: f.get(5).unwrap_or(&"").to_string(),
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    fields(text)
        .map(|f| GroupEntry {
            name: f.first().unwrap_or(&"").to_string(),
            gid: f.get(2).and_then(|s| parse_id(s)).unwrap_or(0),
            members: f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Resolves `user` (the service's, or the image's `User` when the service has none; empty
/// means root) and `group_add` against the image's files.
pub fn resolve_user(
    user: &str,
    group_add: &[String],
    files: &dyn RootfsFiles,
) -> Result<UserSpec, UserError> {
    let passwd = files.read("/etc/passwd").map(|t| parse_passwd(&t));
    let group = files.read("/etc/group").map(|t| parse_group(&t));
    let groups: &[GroupEntry] = group.as_deref().unwrap_or(&[]);

    // `user[:group]`; anything after a second colon is ignored, as runc's parseLine does.
    let mut parts = user.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let uid_num = parse_id(user_arg);
    let gid_num = parse_id(group_arg);

    let (mut uid, mut gid, mut home) = (0u32, 0u32, "/".to_string());
    let entry = passwd.as_deref().unwrap_or(&[]).iter().find(|u| {
        if user_arg.is_empty() {
            u.uid == 0
        } else if let Some(n) = uid_num {
            u.uid == n
        } else {
            u.name == user_arg
        }
    });
    let mut matched_name = None;
    if let Some(e) = entry {
        uid = check_range(e.uid, user_arg)?;
        gid = check_range(e.gid, user_arg)?;
        home = e.home.clone();
        matched_name = Some(e.name.clone());
    } else if !user_arg.is_empty() {
        match uid_num {
            Some(n) => uid = check_range(n, user_arg)?,
            None => return Err(UserError::NoUser(user_arg.to_string())),
        }
    }

    let mut additional_gids = Vec::new();
    if !group_arg.is_empty() {
        let found = groups.iter().find(|g| match gid_num {
            Some(n) => g.gid == n,
            None => g.name == group_arg,
        });
        gid = match (found, gid_num) {
            (Some(g), _) => check_range(g.gid, group_arg)?,
            (None, Some(n)) => check_range(n, group_arg)?,
            (None, None) => return Err(UserError::NoGroup(group_arg.to_string())),
        };
    } else if let Some(name) = &matched_name {
        for g in groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == name))
        {
            additional_gids.push(check_range(g.gid, &g.name)?);
        }
    }

    for extra in group_add {
        let found = groups.iter().find(|g| &g.name == extra);
        let id = match (found, parse_id(extra)) {
            (Some(g), _) => check_range(g.gid, extra)?,
            (None, Some(n)) => check_range(n, extra)?,
            (None, None) => return Err(UserError::NoGroup(extra.clone())),
        };
        additional_gids.push(id);
    }

    Ok(UserSpec {
        uid,
        gid,
        additional_gids: with_primary(gid, additional_gids),
        home: Some(if home.is_empty() { "/".into() } else { home }),
    })
}

/// The supplementary groups with the primary group first, as Docker sets them (`Groups:` of
/// `/proc/self/status` shows it): a process that drops its primary group with `setgid` keeps
/// the access that group gave, and files that deny that group stay denied to it.
fn with_primary(gid: u32, sgids: Vec<u32>) -> Vec<u32> {
    let mut all = Vec::with_capacity(sgids.len() + 1);
    all.push(gid);
    for g in sgids {
        if !all.contains(&g) {
            all.push(g);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Files(HashMap<&'static str, &'static str>);
    impl RootfsFiles for Files {
        fn read(&self, path: &str) -> Option<String> {
            self.0.get(path).map(|s| s.to_string())
        }
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # a comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        nohome:x:1001:1001::::\n";
    const GROUP: &str = "root:x:0:\n\
        daemon:x:1:\n\
        staff:x:50:app,daemon\n\
        audio:x:29:app\n\
        app:x:1000:\n\
        docker:x:999:\n";

    fn files() -> Files {
        Files(HashMap::from([
            ("/etc/passwd", PASSWD),
            ("/etc/group", GROUP),
        ]))
    }

    /// The primary group is always the first supplementary one (see [`with_primary`]).
    fn spec(uid: u32, gid: u32, sgids: &[u32], home: &str) -> UserSpec {
        UserSpec {
            uid,
            gid,
            additional_gids: with_primary(gid, sgids.to_vec()),
            home: Some(home.into()),
        }
    }

    #[test]
    fn resolves_like_docker() {
        let cases: Vec<(&str, &[&str], Result<UserSpec, UserError>)> = vec![
            ("", &[], Ok(spec(0, 0, &[], "/root"))),
            ("root", &[], Ok(spec(0, 0, &[], "/root"))),
            ("0", &[], Ok(spec(0, 0, &[], "/root"))),
            ("app", &[], Ok(spec(1000, 1000, &[50, 29], "/home/app"))),
            ("1000", &[], Ok(spec(1000, 1000, &[50, 29], "/home/app"))),
            // An explicit group: no supplementary groups.
            ("app:staff", &[], Ok(spec(1000, 50, &[], "/home/app"))),
            ("1000:1000", &[], Ok(spec(1000, 1000, &[], "/home/app"))),
            ("1000:staff", &[], Ok(spec(1000, 50, &[], "/home/app"))),
            ("app:4242", &[], Ok(spec(1000, 4242, &[], "/home/app"))),
            // Unknown numeric ids are fine: gid 0 and HOME / when there is no entry.
            ("4242", &[], Ok(spec(4242, 0, &[], "/"))),
            ("4242:4343", &[], Ok(spec(4242, 4343, &[], "/"))),
            ("nohome", &[], Ok(spec(1001, 1001, &[], "/"))),
            (
                "app",
                &["docker", "7"],
                Ok(spec(1000, 1000, &[50, 29, 999, 7], "/home/app")),
            ),
            ("4242", &["staff"], Ok(spec(4242, 0, &[50], "/"))),
            // A group_add naming the primary group does not list it twice.
            (
                "app",
                &["app"],
                Ok(spec(1000, 1000, &[50, 29], "/home/app")),
            ),
            ("nobody", &[], Err(UserError::NoUser("nobody".into()))),
            ("app:wheel", &[], Err(UserError::NoGroup("wheel".into()))),
            ("app", &["wheel"], Err(UserError::NoGroup("wheel".into()))),
            ("-1", &[], Err(UserError::Range("-1".into()))),
            (
                "1:99999999999",
                &[],
                Err(UserError::Range("99999999999".into())),
            ),
        ];
        for (user, add, want) in cases {
            let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
            assert_eq!(resolve_user(user, &add, &files()), want, "user {user:?}");
        }
    }

    #[test]
    fn the_primary_group_leads_the_supplementary_ones_like_docker() {
        let u = resolve_user("1000", &["docker".into()], &files()).expect("user");
        assert_eq!(u.additional_gids, vec![1000, 50, 29, 999]);
        let u = resolve_user("4242:4343", &[], &files()).expect("user");
        assert_eq!(u.additional_gids, vec![4343]);
    }

    #[test]
    fn error_messages_match_docker() {
        assert_eq!(
            resolve_user("app", &[], &Files(HashMap::new()))
                .unwrap_err()
                .to_string(),
            "unable to find user app: no matching entries in passwd file"
        );
        assert_eq!(
            UserError::NoGroup("staff".into()).to_string(),
            "unable to find group staff: no matching entries in group file"
        );
    }

    #[test]
    fn no_files_numeric_user_still_works() {
        let none = Files(HashMap::new());
        assert_eq!(resolve_user("", &[], &none), Ok(spec(0, 0, &[], "/")));
        assert_eq!(
            resolve_user("1000:1000", &[], &none),
            Ok(spec(1000, 1000, &[], "/"))
        );
    }

    #[test]
    fn layer_files_honour_whiteouts_opaque_dirs_and_links() {
        let tmp = tempfile::tempdir().unwrap();
        let l = |n: &str| tmp.path().join(n);
        let write = |p: PathBuf, s: &str| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        // bottom: /etc/passwd, /etc/group, /etc/hosts, /data/a, /opt/x
        write(l("bottom/etc/passwd"), "bottom-passwd");
        write(l("bottom/etc/group"), "bottom-group");
        write(l("bottom/etc/hosts"), "bottom-hosts");
        write(l("bottom/data/a"), "a");
        write(l("bottom/opt/x"), "x");
        // middle: overrides passwd, deletes group (.wh.), makes /data opaque, adds a link
        write(l("middle/etc/passwd"), "middle-passwd");
        write(l("middle/etc/.wh.group"), "");
        write(l("middle/data/.wh..wh..opq"), "");
        write(l("middle/data/b"), "b");
        std::fs::create_dir_all(l("middle/etc")).unwrap();
        std::os::unix::fs::symlink("../opt/x", l("middle/etc/linked")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", l("middle/abs")).unwrap();
        // top: replaces /opt (a file now), and hides /etc/hosts with .wh.
        write(l("top/opt"), "opt-is-a-file");
        write(l("top/etc/.wh.hosts"), "");
        let files = LayerFiles::new(vec![l("top"), l("middle"), l("bottom")]);
        assert_eq!(files.read("/etc/passwd").as_deref(), Some("middle-passwd"));
        assert_eq!(files.read("/etc/group"), None);
        assert_eq!(files.read("/etc/hosts"), None);
        assert_eq!(files.read("/data/a"), None);
        assert_eq!(files.read("/data/b").as_deref(), Some("b"));
        assert_eq!(files.read("/opt/x"), None);
        assert_eq!(files.read("/etc/linked"), None, "link into hidden /opt");
        assert_eq!(files.read("/abs").as_deref(), Some("middle-passwd"));
        assert_eq!(
            files.read("/../etc/passwd").as_deref(),
            Some("middle-passwd")
        );
        assert_eq!(files.read("/nope"), None);
        // Without the top layer, the relative link resolves inside the rootfs.
        let files = LayerFiles::new(vec![l("middle"), l("bottom")]);
        assert_eq!(files.read("/etc/linked").as_deref(), Some("x"));
    }

    #[test]
    #[ignore = "needs root"]
    fn layer_files_honour_char_device_whiteouts() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: creating a 0/0 character device needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("lower/etc")).unwrap();
        std::fs::create_dir_all(tmp.path().join("upper/etc")).unwrap();
        std::fs::write(tmp.path().join("lower/etc/passwd"), "x").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            tmp.path().join("upper/etc/passwd"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o600),
            rustix::fs::makedev(0, 0),
        )
        .unwrap();
        let files = LayerFiles::new(vec![tmp.path().join("upper"), tmp.path().join("lower")]);
        assert_eq!(files.read("/etc/passwd"), None);
        let files = LayerFiles::new(vec![tmp.path().join("lower")]);
        assert_eq!(files.read("/etc/passwd").as_deref(), Some("x"));
    }
}
