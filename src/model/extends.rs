//! `extends`: a service built on top of another service, of the same file or of another one.
//!
//! As in Docker Compose, the base service is resolved first (it may extend yet another service),
//! then the extending service's own keys are merged over it with the same rules as several `-f`
//! files ([`super::merge`]). A base taken from another file has its relative paths (build context,
//! `env_file`, bind mount sources, its own `extends.file`, ...) rebased so that they still point at
//! the same place once they sit in the extending file, whose directory they are now relative to.

use std::path::{Path, PathBuf};

use super::error::{join_key, ErrorKind, LoadError, Result, Span};
use super::merge::merge_service;
use super::paths::{clean_path, rebase_relative_paths};
use super::yaml::{Mapping, Node, Value};

/// Resolves `extends` in every service of `doc` (a whole file's tree, already interpolated),
/// loading other files relative to `working_dir` with `load_file` (which parses and interpolates a
/// file by path, so you never do I/O or interpolation yourself). Nested extends, extends of
/// services in other files (whose relative paths — build context, env_file, volumes bind
/// sources, extends.file — are rebased to stay correct relative to the extending file's dir),
/// cycle detection (error naming the cycle), missing service/file errors located at the
/// `extends` key.
pub fn resolve_extends(
    doc: &mut Node,
    working_dir: &Path,
    load_file: &mut dyn FnMut(&Path) -> Result<Node>,
) -> Result<()> {
    let file = doc
        .span
        .file
        .as_deref()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("-"));
    let Some(services) = doc.get_mut("services") else {
        return Ok(());
    };
    if services.is_null() {
        return Ok(());
    }
    let services = match &mut services.value {
        Value::Map(m) => m,
        _ => return Err(services.type_error("services", "a mapping")),
    };
    let names: Vec<String> = services.keys().map(|k| k.name.clone()).collect();
    let mut resolver = Resolver {
        working_dir,
        load_file,
    };
    for name in names {
        resolver.resolve(services, &file, &name, &mut Vec::new())?;
    }
    Ok(())
}

/// A parsed `extends` value: `extends: name` or `extends: {service: name, file: path}`.
struct ExtendsRef {
    service: String,
    /// Where the service name was written, for "not defined" errors.
    service_span: Span,
    /// The file as written (relative to the working directory), with its position.
    file: Option<(String, Span)>,
}

fn parse_extends(node: &Node, path: &str) -> Result<ExtendsRef> {
    match &node.value {
        Value::Str(s) => Ok(ExtendsRef {
            service: s.clone(),
            service_span: node.span.clone(),
            file: None,
        }),
        Value::Map(m) => {
            for k in m.keys() {
                if k.name != "service" && k.name != "file" {
                    return Err(LoadError::new(
                        k.span.clone(),
                        join_key(path, &k.name),
                        ErrorKind::UnknownKey {
                            key: k.name.clone(),
                            hint: Some("expected `service` or `file`".into()),
                        },
                    ));
                }
            }
            let service = match m.get("service") {
                Some(s) => match s.as_str() {
                    Some(name) => (name.to_string(), s.span.clone()),
                    None => return Err(s.type_error(&join_key(path, "service"), "a string")),
                },
                None => {
                    return Err(LoadError::other(
                        node.span.clone(),
                        path,
                        "`service` is required",
                    ))
                }
            };
            let file = match m.get("file") {
                None => None,
                Some(f) if f.is_null() => None,
                Some(f) => match f.as_str() {
                    Some(s) => Some((s.to_string(), f.span.clone())),
                    None => return Err(f.type_error(&join_key(path, "file"), "a string")),
                },
            };
            Ok(ExtendsRef {
                service: service.0,
                service_span: service.1,
                file,
            })
        }
        _ => Err(node.type_error(path, "a service name or a mapping")),
    }
}

struct Resolver<'a> {
    working_dir: &'a Path,
    load_file: &'a mut dyn FnMut(&Path) -> Result<Node>,
}

impl Resolver<'_> {
    /// Resolves service `name` of `services` (the services of `file`) in place. `chain` holds the
    /// services whose resolution is in progress, to detect cycles.
    fn resolve(
        &mut self,
        services: &mut Mapping,
        file: &Path,
        name: &str,
        chain: &mut Vec<(PathBuf, String)>,
    ) -> Result<()> {
        let svc_path = join_key("services", name);
        let Some(svc) = services.get(name) else {
            return Ok(());
        };
        if svc.is_null() {
            return Ok(());
        }
        let Some(ext_node) = svc.expect_map(&svc_path)?.get("extends") else {
            return Ok(());
        };
        let ext_path = join_key(&svc_path, "extends");
        let ext = parse_extends(ext_node, &ext_path)?;
        let ext_span = ext_node.span.clone();

        if let Some(start) = chain
            .iter()
            .position(|(f, s)| f.as_path() == file && s == name)
        {
            let mut steps: Vec<String> = chain[start..]
                .iter()
                .map(|(f, s)| format!("{s} in {}", f.display()))
                .collect();
            steps.push(format!("{name} in {}", file.display()));
            return Err(LoadError::other(
                ext_span,
                ext_path,
                format!("circular reference: {}", steps.join(" extends ")),
            ));
        }
        chain.push((file.to_path_buf(), name.to_string()));

        let base = match &ext.file {
            None => {
                if !services.contains_key(ext.service.as_str()) {
                    return Err(LoadError::new(
                        ext.service_span,
                        ext_path,
                        ErrorKind::Undefined {
                            kind: "service".into(),
                            name: ext.service,
                            referrer: Some(format!("extends of service `{name}`")),
                        },
                    ));
                }
                self.resolve(services, file, &ext.service, chain)?;
                services.get(ext.service.as_str()).cloned()
            }
            Some((rel, file_span)) => Some(self.load_base(rel, file_span, &ext, &ext_path, chain)?),
        };
        chain.pop();

        let Some(slot) = services.get_mut(name) else {
            return Ok(());
        };
        let mut own = std::mem::replace(slot, Node::null(Span::default()));
        if let Some(m) = own.as_map_mut() {
            m.shift_remove("extends");
        }
        *slot = match base {
            Some(base) if !base.is_null() => merge_service(base, own, name)?,
            _ => own,
        };
        Ok(())
    }

    /// Loads `rel` (relative to the working directory), rebases its relative paths and resolves
    /// the referenced service in it.
    fn load_base(
        &mut self,
        rel: &str,
        file_span: &Span,
        ext: &ExtendsRef,
        ext_path: &str,
        chain: &mut Vec<(PathBuf, String)>,
    ) -> Result<Node> {
        let target = clean_path(&self.working_dir.join(rel));
        let mut loaded = (self.load_file)(&target).map_err(|e| match e.kind {
            // A file that cannot be read is reported where it was named.
            ErrorKind::Io { .. } => LoadError::new(
                file_span.clone(),
                join_key(ext_path, "file"),
                e.into_parts().kind,
            ),
            _ => e,
        })?;
        let rel_dir = clean_path(Path::new(rel).parent().unwrap_or(Path::new("")));
        rebase_relative_paths(&mut loaded, &rel_dir);
        let services = match loaded.get_mut("services") {
            Some(Node {
                value: Value::Map(m),
                ..
            }) => m,
            _ => {
                return Err(LoadError::other(
                    file_span.clone(),
                    join_key(ext_path, "file"),
                    format!(
                        "cannot extend service `{}`: {} has no services",
                        ext.service,
                        target.display()
                    ),
                ))
            }
        };
        if !services.contains_key(ext.service.as_str()) {
            return Err(LoadError::other(
                ext.service_span.clone(),
                ext_path,
                format!(
                    "cannot extend service `{}`: it is not defined in {}",
                    ext.service,
                    target.display()
                ),
            ));
        }
        self.resolve(services, &target, &ext.service, chain)?;
        Ok(services
            .get(ext.service.as_str())
            .cloned()
            .unwrap_or_else(|| Node::null(Span::default())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::merge::apply_reset_tags;
    use crate::model::yaml::parse_file_text;
    use std::collections::HashMap;

    fn parse(src: &str, file: &str) -> Node {
        parse_file_text(src, Some(Path::new(file))).expect("test YAML parses")
    }

    /// A table row: name, main file, other files (path under `/p`, text), expected result.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

    /// Resolves `main` (file `/p/compose.yaml`) with in-memory files under `/p`.
    fn resolve_mem(main: &str, files: &[(&str, &str)]) -> Result<Node> {
        let files: HashMap<PathBuf, String> = files
            .iter()
            .map(|(p, s)| (Path::new("/p").join(p), s.to_string()))
            .collect();
        let mut doc = parse(main, "/p/compose.yaml");
        let mut load = |p: &Path| -> Result<Node> {
            match files.get(p) {
                Some(src) => parse_file_text(src, Some(p)),
                None => Err(LoadError::io(
                    p,
                    &std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
                )),
            }
        };
        resolve_extends(&mut doc, Path::new("/p"), &mut load)?;
        apply_reset_tags(&mut doc);
        Ok(doc)
    }

    #[test]
    fn extends_table() {
        let cases: &[Case] = &[
            (
                "same file, nested, merge rules applied",
                "services:\n  a: {extends: b, command: [x], ports: ['80:80']}\n  b: {extends: {service: c}, environment: [B=1], ports: ['80:80', '81:81']}\n  c: {image: alpine, command: [c], environment: {C: '2'}}\n",
                &[],
                "services:\n  a: {image: alpine, command: [x], environment: {C: '2', B: '1'}, ports: ['80:80', '81:81']}\n  b: {image: alpine, command: [c], environment: {C: '2', B: '1'}, ports: ['80:80', '81:81']}\n  c: {image: alpine, command: [c], environment: {C: '2'}}\n",
            ),
            (
                "other file: relative paths rebased, its own extends resolved there",
                "services:\n  web: {extends: {file: sub/base.yaml, service: app}, hostname: web}\n",
                &[(
                    "sub/base.yaml",
                    "services:\n  app:\n    extends: common\n    build: .\n    env_file: [./app.env, {path: ../shared.env}]\n    volumes: ['./data:/data:ro', 'named:/named', '/abs:/abs', {type: bind, source: logs, target: /logs}, '.:/src']\n  common:\n    extends: {file: ../lib/common.yaml, service: base}\n",
                ),
                (
                    "lib/common.yaml",
                    "services:\n  base:\n    image: base\n    build: {context: ctx, additional_contexts: {x: ../other, y: 'https://example.com/r.git'}}\n    label_file: labels.txt\n",
                )],
                "services:\n  web:\n    image: base\n    build: {context: sub, additional_contexts: {x: other, y: 'https://example.com/r.git'}}\n    label_file: lib/labels.txt\n    env_file: [sub/app.env, {path: shared.env}]\n    volumes: ['./sub/data:/data:ro', 'named:/named', '/abs:/abs', {type: bind, source: sub/logs, target: /logs}, './sub:/src']\n    hostname: web\n",
            ),
            (
                "base defined as null: nothing to inherit",
                "services:\n  web: {image: x, extends: {file: b.yaml, service: nil}}\n",
                &[("b.yaml", "services:\n  nil:\n")],
                "services:\n  web: {image: x}\n",
            ),
            (
                "!reset in the extending service removes an inherited key",
                "services:\n  init: {image: alpine, command: sleep}\n  base:\n    extends: {service: init}\n    command: !reset\n",
                &[],
                "services:\n  init: {image: alpine, command: sleep}\n  base: {image: alpine}\n",
            ),
        ];
        for (name, main, files, want) in cases {
            let got = resolve_mem(main, files).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, parse(want, "want.yaml"), "case: {name}");
        }
    }

    #[test]
    fn extends_errors_table() {
        let cases: &[Case] = &[
            (
                "missing service in the same file",
                "services:\n  web:\n    extends: db\n",
                &[],
                "/p/compose.yaml:3:14: services.web.extends: service `db` is not defined (used by extends of service `web`)",
            ),
            (
                "missing service in another file",
                "services:\n  web:\n    extends:\n      file: b.yaml\n      service: db\n",
                &[("b.yaml", "services:\n  other: {image: x}\n")],
                "/p/compose.yaml:5:16: services.web.extends: cannot extend service `db`: it is not defined in /p/b.yaml",
            ),
            (
                "missing file",
                "services:\n  web:\n    extends: {file: nope.yaml, service: db}\n",
                &[],
                "/p/compose.yaml:3:21: services.web.extends.file: cannot read /p/nope.yaml: not found",
            ),
            (
                "file without services",
                "services:\n  web:\n    extends: {file: b.yaml, service: db}\n",
                &[("b.yaml", "volumes: {}\n")],
                "/p/compose.yaml:3:21: services.web.extends.file: cannot extend service `db`: /p/b.yaml has no services",
            ),
            (
                "service is required",
                "services:\n  web:\n    extends: {file: b.yaml}\n",
                &[],
                "/p/compose.yaml:3:14: services.web.extends: `service` is required",
            ),
            (
                "unknown key",
                "services:\n  web:\n    extends: {service: a, files: b.yaml}\n",
                &[],
                "/p/compose.yaml:3:27: services.web.extends.files: unknown key `files`, expected `service` or `file`",
            ),
            (
                "cycle in one file",
                "services:\n  a: {extends: b}\n  b: {extends: c}\n  c: {extends: a}\n",
                &[],
                "/p/compose.yaml:2:16: services.a.extends: circular reference: a in /p/compose.yaml extends b in /p/compose.yaml extends c in /p/compose.yaml extends a in /p/compose.yaml",
            ),
            (
                "self reference",
                "services:\n  a: {image: x, extends: a}\n",
                &[],
                "/p/compose.yaml:2:26: services.a.extends: circular reference: a in /p/compose.yaml extends a in /p/compose.yaml",
            ),
            (
                "cycle across files",
                "services:\n  web: {extends: {file: sub/b.yaml, service: x}}\n",
                &[
                    ("sub/b.yaml", "services:\n  x: {extends: {file: ../c.yaml, service: y}}\n"),
                    ("c.yaml", "services:\n  y: {extends: {file: sub/b.yaml, service: x}}\n"),
                ],
                "/p/sub/b.yaml:2:16: services.x.extends: circular reference: x in /p/sub/b.yaml extends y in /p/c.yaml extends x in /p/sub/b.yaml",
            ),
            (
                "extends of the wrong type",
                "services:\n  web: {extends: [a]}\n",
                &[],
                "/p/compose.yaml:2:18: services.web.extends: expected a service name or a mapping, found a sequence",
            ),
        ];
        for (name, main, files, want) in cases {
            let err = resolve_mem(main, files).expect_err(name);
            assert_eq!(err.to_string(), *want, "case: {name}");
        }
    }

    #[test]
    fn positions_come_from_each_file() {
        let got = resolve_mem(
            "services:\n  web:\n    extends: {file: b.yaml, service: base}\n    hostname: h\n",
            &[("b.yaml", "services:\n  base:\n    image: alpine\n")],
        )
        .unwrap();
        let image = got.locate("services.web.image");
        assert_eq!(image.span.file.as_deref(), Some(Path::new("/p/b.yaml")));
        assert_eq!(image.span.line, 3);
        let host = got.locate("services.web.hostname");
        assert_eq!(
            host.span.file.as_deref(),
            Some(Path::new("/p/compose.yaml"))
        );
        assert_eq!(host.span.line, 4);
    }

    #[test]
    fn rebase_top_level_resources() {
        let mut doc = parse(
            "secrets: {s: {file: ./s.txt}, e: {environment: X}}\nconfigs: {c: {file: c.conf}}\nvolumes:\n  v: {driver: local, driver_opts: {o: bind, type: none, device: ./data}}\n  w: {driver_opts: {o: bind, device: ./data}}\n",
            "x.yaml",
        );
        rebase_relative_paths(&mut doc, Path::new("/srv/app"));
        let want = parse(
            "secrets: {s: {file: /srv/app/s.txt}, e: {environment: X}}\nconfigs: {c: {file: /srv/app/c.conf}}\nvolumes:\n  v: {driver: local, driver_opts: {o: bind, type: none, device: /srv/app/data}}\n  w: {driver_opts: {o: bind, device: ./data}}\n",
            "w.yaml",
        );
        assert_eq!(doc, want);
    }

    /// compose-go's own extends fixtures, with what its loader tests expect of them.
    #[test]
    fn compose_go_fixtures() {
        let loader = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/compose-go/loader"
        ));
        if !loader.join("testdata").is_dir() {
            eprintln!("skipping: {} is absent", loader.display());
            return;
        }
        let mut load = |p: &Path| -> Result<Node> {
            let text = std::fs::read_to_string(p).map_err(|e| LoadError::io(p, &e))?;
            parse_file_text(&text, Some(p))
        };
        let resolve = |src: &str, dir: &Path, load: &mut dyn FnMut(&Path) -> Result<Node>| {
            let mut doc = parse_file_text(src, Some(&dir.join("compose.yaml"))).unwrap();
            resolve_extends(&mut doc, dir, load).map(|()| {
                apply_reset_tags(&mut doc);
                doc
            })
        };

        // TestExtends, TestExtendsRelativePath, TestExtendsUlimits, TestExtendsPort, TestExtendsNil.
        let doc = resolve(
            "services:\n  test1: {extends: {file: testdata/extends/base.yaml, service: base}, hostname: test1}\n  test3: {extends: {file: testdata/extends/base.yaml, service: another}, hostname: test3}\n  rel: {extends: {file: testdata/extends/base.yaml, service: with-build}}\n  ul: {extends: {file: testdata/extends/base.yaml, service: withUlimits}}\n  port: {image: test, extends: {file: testdata/extends/base.yaml, service: with-port}}\n  nil: {image: test, extends: {file: testdata/extends/base.yaml, service: nil}}\n",
            loader,
            &mut load,
        )
        .unwrap();
        let want = parse(
            "services:\n  test1: {image: base, hostname: test1}\n  test3: {image: base, hostname: test3}\n  rel: {build: testdata/extends}\n  ul: {image: test, ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}}\n  port: {ports: ['8000:8000'], image: test}\n  nil: {image: test}\n",
            "w.yaml",
        );
        assert_eq!(doc, want);

        // TestExtendsReset: `command: !reset` drops the inherited command.
        let doc = resolve(
            "services:\n  test: {extends: {file: testdata/extends/reset.yaml, service: base}}\n",
            loader,
            &mut load,
        )
        .unwrap();
        assert_eq!(
            doc,
            parse("services:\n  test: {image: 'alpine:latest'}\n", "w.yaml")
        );

        // compose-test-extends.yaml: env_file stays relative to the imported file's folder.
        let testdata = loader.join("testdata");
        let main = std::fs::read_to_string(testdata.join("compose-test-extends.yaml")).unwrap();
        let doc = resolve(&main, &testdata, &mut load).unwrap();
        let importer = doc.locate("services.importer");
        let want = parse(
            "image: nginx\ncontainer_name: ${SOURCE:-imported}\nenv_file: [subdir/extra.env]\nvolumes: ['/opt/data:/var/lib/mysql']\n",
            "w.yaml",
        );
        assert_eq!(importer, &want);

        // extends/withdir: a file extending a file that extends a file next to it.
        let withdir = testdata.join("extends/withdir");
        let main = std::fs::read_to_string(withdir.join("compose.yaml")).unwrap();
        let doc = resolve(&main, &withdir, &mut load).unwrap();
        assert_eq!(
            doc,
            parse("services:\n  test: {image: hello-world}\n", "w.yaml")
        );

        // combined/dir/included.yaml, loaded from its own folder.
        let dir = testdata.join("combined/dir");
        let main = std::fs::read_to_string(dir.join("included.yaml")).unwrap();
        let doc = resolve(&main, &dir, &mut load).unwrap();
        assert_eq!(doc, parse("services:\n  service: {build: .}\n", "w.yaml"));
    }
}
