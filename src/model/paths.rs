//! Relative paths in a Compose tree: rebased when a tree written relative to one directory is
//! used from another (`extends` of another file, `include`), and made absolute against the project
//! directory before the tree is typed, as `docker compose config` prints them.
//!
//! Both run on the untyped tree because included projects must have their paths resolved against
//! their own directory before they are merged into the including project. The keys are the ones
//! Docker Compose resolves: build contexts and additional contexts that are local paths,
//! `env_file`, `label_file`, bind-mount sources (`~` expanded), `extends.file`, `develop.watch`
//! paths, secret/config files and local bind volumes' `device`. `build.dockerfile` stays relative:
//! it is relative to the context.

use std::path::{Component, Path, PathBuf};

use super::error::Result;
use super::yaml::{Mapping, Node, Value};

/// Makes every path-valued key of the tree absolute against `base` (an absolute directory),
/// expanding a leading `~` of bind sources to `home`.
pub fn resolve_node_paths(tree: &mut Node, base: &Path, home: Option<&Path>) -> Result<()> {
    if let Some(home) = home {
        expand_home(tree, home);
    }
    rebase_relative_paths(tree, base);
    Ok(())
}

/// `~` or `~/x` as a bind source -> the home directory.
fn expand_home(tree: &mut Node, home: &Path) {
    let expand = |p: &str| -> Option<String> {
        let rest = p.strip_prefix('~')?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        Some(format!("{}{rest}", home.display()))
    };
    let Some(services) = tree.get_mut("services").and_then(Node::as_map_mut) else {
        return;
    };
    for svc in services.values_mut() {
        let Some(items) = svc.get_mut("volumes").and_then(Node::as_seq_mut) else {
            continue;
        };
        for item in items {
            match &mut item.value {
                Value::Str(spec) => {
                    let (src, rest) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
                    if let Some(e) = expand(src) {
                        *spec = if spec.contains(':') {
                            format!("{e}:{rest}")
                        } else {
                            e
                        };
                    }
                }
                Value::Map(m) => {
                    let bind = m.get("type").and_then(Node::as_str) == Some("bind");
                    if let (true, Some(src)) = (bind, m.get_mut("source")) {
                        if let Some(e) = src.as_str().and_then(expand) {
                            src.value = Value::Str(e);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Lexically normalizes a path as Go's `filepath.Clean` does: `.` parts dropped, `..` folded into
/// the previous part where there is one; an empty result is `.`.
pub fn clean_path(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// `dir/p`, cleaned, unless `p` is absolute, home-relative (`~`) or empty.
fn rebase(dir: &Path, p: &str) -> String {
    if p.is_empty() || p.starts_with('~') || Path::new(p).is_absolute() || is_windows_abs(p) {
        return p.to_string();
    }
    clean_path(&dir.join(p)).to_string_lossy().into_owned()
}

/// `C:\x` or `C:/x`: absolute on Windows, so never rebased.
fn is_windows_abs(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
}

/// A rebased bind mount source of the short syntax keeps a leading `./`, which is what tells a
/// host path from a named volume there.
fn rebase_bind(dir: &Path, p: &str) -> String {
    let r = rebase(dir, p);
    if r == p || r.starts_with('.') || r.starts_with('/') || is_windows_abs(&r) {
        r
    } else {
        format!("./{r}")
    }
}

/// A build context is a path unless it is a URL or a reference to another service or image
/// (`https://...`, `git@...`, `service:x`, `docker-image://...`).
fn rebase_context(dir: &Path, p: &str) -> String {
    let remote = p.contains("://")
        || p.starts_with("service:")
        || p.starts_with("github.com/")
        || p.starts_with("git@");
    if remote {
        p.to_string()
    } else {
        rebase(dir, p)
    }
}

fn rebase_str(node: &mut Node, f: impl Fn(&str) -> String) {
    if let Value::Str(s) = &mut node.value {
        *s = f(s);
    }
}

/// Rewrites the relative paths of a Compose tree that was written relative to `dir` so that they
/// are relative to the directory `dir` is relative to (or absolute, when `dir` is). These are the
/// paths Docker Compose resolves against a file's directory: `build` (context and additional
/// contexts), `env_file`, `label_file`, bind mount sources in `volumes`, `extends.file`,
/// `develop.watch[].path`, top-level `secrets`/`configs` `file`, and the `device` of a local
/// volume bound to a host folder.
pub fn rebase_relative_paths(doc: &mut Node, dir: &Path) {
    if dir.as_os_str().is_empty() || dir == Path::new(".") {
        return;
    }
    if let Some(services) = doc.get_mut("services").and_then(Node::as_map_mut) {
        for svc in services.values_mut() {
            if let Some(svc) = svc.as_map_mut() {
                rebase_service(svc, dir);
            }
        }
    }
    for kind in ["secrets", "configs"] {
        if let Some(defs) = doc.get_mut(kind).and_then(Node::as_map_mut) {
            for def in defs.values_mut() {
                if let Some(file) = def.get_mut("file") {
                    rebase_str(file, |p| rebase(dir, p));
                }
            }
        }
    }
    if let Some(volumes) = doc.get_mut("volumes").and_then(Node::as_map_mut) {
        for vol in volumes.values_mut() {
            let local = vol.get("driver").and_then(Node::as_str) == Some("local");
            let Some(opts) = vol.get_mut("driver_opts").and_then(Node::as_map_mut) else {
                continue;
            };
            let bind = opts.get("o").and_then(Node::as_str) == Some("bind");
            if let (true, true, Some(device)) = (local, bind, opts.get_mut("device")) {
                rebase_str(device, |p| rebase(dir, p));
            }
        }
    }
}

fn rebase_service(svc: &mut Mapping, dir: &Path) {
    if let Some(build) = svc.get_mut("build") {
        match &mut build.value {
            Value::Str(s) => *s = rebase_context(dir, s),
            Value::Map(b) => {
                if let Some(ctx) = b.get_mut("context") {
                    rebase_str(ctx, |p| rebase_context(dir, p));
                }
                match b.get_mut("additional_contexts").map(|n| &mut n.value) {
                    Some(Value::Map(m)) => {
                        for v in m.values_mut() {
                            rebase_str(v, |p| rebase_context(dir, p));
                        }
                    }
                    Some(Value::Seq(items)) => {
                        for item in items {
                            rebase_str(item, |kv| match kv.split_once('=') {
                                Some((k, v)) => format!("{k}={}", rebase_context(dir, v)),
                                None => kv.to_string(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    for key in ["env_file", "label_file"] {
        let Some(node) = svc.get_mut(key) else {
            continue;
        };
        match &mut node.value {
            Value::Str(s) => *s = rebase(dir, s),
            Value::Seq(items) => {
                for item in items {
                    match item.get_mut("path") {
                        Some(p) => rebase_str(p, |p| rebase(dir, p)),
                        None => rebase_str(item, |p| rebase(dir, p)),
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(items) = svc.get_mut("volumes").and_then(Node::as_seq_mut) {
        for item in items {
            match &mut item.value {
                Value::Str(spec) => *spec = rebase_short_volume(dir, spec),
                Value::Map(m) => {
                    let bind = m.get("type").and_then(Node::as_str) == Some("bind");
                    if let (true, Some(src)) = (bind, m.get_mut("source")) {
                        rebase_str(src, |p| rebase(dir, p));
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(file) = svc.get_mut("extends").and_then(|e| e.get_mut("file")) {
        rebase_str(file, |p| rebase(dir, p));
    }
    if let Some(watch) = svc
        .get_mut("develop")
        .and_then(|d| d.get_mut("watch"))
        .and_then(Node::as_seq_mut)
    {
        for rule in watch {
            if let Some(p) = rule.get_mut("path") {
                rebase_str(p, |p| rebase(dir, p));
            }
        }
    }
}

/// `./data:/data:ro` -> `./dir/data:/data:ro`; named volumes and absolute sources are unchanged.
fn rebase_short_volume(dir: &Path, spec: &str) -> String {
    match spec.split_once(':') {
        Some((source, rest)) if source.starts_with('.') => {
            format!("{}:{rest}", rebase_bind(dir, source))
        }
        _ => spec.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::yaml::parse_file_text;

    #[test]
    fn clean_and_rebase_paths() {
        let cases: &[(&str, &str, &str)] = &[
            ("sub", ".", "sub"),
            ("sub", "..", "."),
            ("sub", "../x", "x"),
            ("sub", "../../x", "../x"),
            ("a/b", "./c/./d", "a/b/c/d"),
            ("/abs", "x", "/abs/x"),
            ("sub", "/etc/x", "/etc/x"),
            ("sub", "~/x", "~/x"),
            ("sub", "C:\\x", "C:\\x"),
        ];
        for (dir, p, want) in cases {
            assert_eq!(rebase(Path::new(dir), p), *want, "rebase({dir}, {p})");
        }
        assert_eq!(rebase_short_volume(Path::new("sub"), "..:/x"), ".:/x");
        assert_eq!(rebase_short_volume(Path::new("sub"), "../..:/x"), "..:/x");
        assert_eq!(rebase_short_volume(Path::new("sub"), "vol:/x"), "vol:/x");
        assert_eq!(
            rebase_context(Path::new("sub"), "service:other"),
            "service:other"
        );
        assert_eq!(
            rebase_context(Path::new("sub"), "git@github.com:a/b"),
            "git@github.com:a/b"
        );
    }

    fn resolve(src: &str) -> Node {
        let mut n = parse_file_text(src, None).unwrap();
        resolve_node_paths(&mut n, Path::new("/proj"), Some(Path::new("/home/u"))).unwrap();
        n
    }

    #[test]
    fn resolves_service_paths_against_the_project_directory() {
        let n = resolve(
            "services:\n  a:\n    build: ./app\n    env_file: [.env, {path: ../x.env, required: false}]\n    volumes:\n      - ./data:/data:ro\n      - named:/n\n      - ~/cache:/c\n      - /abs:/abs\n      - type: bind\n        source: ./b\n        target: /b\n      - type: bind\n        source: '~'\n        target: /h\n    develop:\n      watch:\n        - path: ./src\n          action: sync\n          target: /app\n  b:\n    build:\n      context: .\n      dockerfile: Dockerfile.dev\n      additional_contexts:\n        lib: ../lib\n        img: docker-image://alpine\n  c:\n    build: https://github.com/x/y.git\nsecrets:\n  s:\n    file: ./s.txt\n",
        );
        let s = |p: &str| n.locate(p).as_str().unwrap().to_string();
        assert_eq!(s("services.a.build"), "/proj/app");
        assert_eq!(s("services.a.env_file[0]"), "/proj/.env");
        assert_eq!(s("services.a.env_file[1].path"), "/x.env");
        assert_eq!(s("services.a.volumes[0]"), "/proj/data:/data:ro");
        assert_eq!(s("services.a.volumes[1]"), "named:/n");
        assert_eq!(s("services.a.volumes[2]"), "/home/u/cache:/c");
        assert_eq!(s("services.a.volumes[3]"), "/abs:/abs");
        assert_eq!(s("services.a.volumes[4].source"), "/proj/b");
        assert_eq!(s("services.a.volumes[5].source"), "/home/u");
        assert_eq!(s("services.a.develop.watch[0].path"), "/proj/src");
        assert_eq!(s("services.b.build.context"), "/proj");
        assert_eq!(s("services.b.build.dockerfile"), "Dockerfile.dev");
        assert_eq!(s("services.b.build.additional_contexts.lib"), "/lib");
        assert_eq!(
            s("services.b.build.additional_contexts.img"),
            "docker-image://alpine"
        );
        assert_eq!(s("services.c.build"), "https://github.com/x/y.git");
        assert_eq!(s("secrets.s.file"), "/proj/s.txt");
    }
}
