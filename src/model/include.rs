//! Top-level `include`: other Compose projects whose resources are imported into this one.
//!
//! Each entry names one or more files (the first is the included project's main file, the
//! others override it), an optional project directory (by default the first file's folder) and
//! optional env files for that project's interpolation. The load pipeline loads each included
//! project as a project of its own, then [`merge_included`] imports its services, networks,
//! volumes, secrets, configs and models. As in Docker Compose, a resource the including file
//! defines too is an error unless both definitions are identical; `include` is for assembling
//! independent parts, overriding belongs to `-f` files and `extends`.

use std::path::{Path, PathBuf};

use super::error::{join_index, join_key, ErrorKind, LoadError, Result, Span};
use super::paths::clean_path;
use super::yaml::{Mapping, Node, Value};

/// One entry of `include`, with its paths resolved against the including file's working directory.
#[derive(Debug, Clone, PartialEq)]
pub struct IncludeItem {
    /// The included project's main file, then files that override it, in order.
    pub paths: Vec<PathBuf>,
    /// The included project's directory, when set; see [`IncludeItem::project_dir`].
    pub project_directory: Option<PathBuf>,
    /// Env files for the included project's interpolation. When empty, Docker Compose reads the
    /// `.env` of the included project's directory if there is one.
    pub env_files: Vec<PathBuf>,
    /// Where the entry was written, for errors about it (cycles, missing files).
    pub span: Span,
}

impl IncludeItem {
    /// The directory the included project's relative paths are resolved against:
    /// `project_directory`, or else the folder of its main file.
    pub fn project_dir(&self) -> PathBuf {
        match (&self.project_directory, self.paths.first()) {
            (Some(dir), _) => dir.clone(),
            (None, Some(main)) => main
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            (None, None) => PathBuf::from("."),
        }
    }
}

/// Parses the `include` section (short form: list of paths; long form: path (string or list),
/// project_directory, env_file (string or list)), paths resolved against `working_dir`.
pub fn parse_include(node: &Node, working_dir: &Path, path: &str) -> Result<Vec<IncludeItem>> {
    let items = match &node.value {
        Value::Null => return Ok(Vec::new()),
        Value::Seq(items) => items,
        _ => return Err(node.type_error(path, "a sequence")),
    };
    let resolve = |n: &Node, p: &str| -> Result<PathBuf> {
        match n.as_str() {
            Some("") => Err(LoadError::new(
                n.span.clone(),
                p,
                ErrorKind::InvalidValue {
                    what: "path".into(),
                    value: String::new(),
                    expected: "a file path".into(),
                },
            )),
            Some(s) => Ok(clean_path(&working_dir.join(s))),
            None => Err(n.type_error(p, "a string")),
        }
    };
    // A string or a list of strings.
    let resolve_list = |n: &Node, p: &str| -> Result<Vec<PathBuf>> {
        match &n.value {
            Value::Seq(list) => list
                .iter()
                .enumerate()
                .map(|(i, e)| resolve(e, &join_index(p, i)))
                .collect(),
            Value::Str(_) => Ok(vec![resolve(n, p)?]),
            _ => Err(n.type_error(p, "a string or a list of strings")),
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = join_index(path, i);
        match &item.value {
            Value::Str(_) => out.push(IncludeItem {
                paths: vec![resolve(item, &item_path)?],
                project_directory: None,
                env_files: Vec::new(),
                span: item.span.clone(),
            }),
            Value::Map(m) => {
                let mut entry = IncludeItem {
                    paths: Vec::new(),
                    project_directory: None,
                    env_files: Vec::new(),
                    span: item.span.clone(),
                };
                for (k, v) in m {
                    let p = join_key(&item_path, &k.name);
                    match k.name.as_str() {
                        "path" => entry.paths = resolve_list(v, &p)?,
                        "project_directory" => entry.project_directory = Some(resolve(v, &p)?),
                        "env_file" => entry.env_files = resolve_list(v, &p)?,
                        _ => {
                            return Err(LoadError::new(
                                k.span.clone(),
                                p,
                                ErrorKind::UnknownKey {
                                    key: k.name.clone(),
                                    hint: Some(
                                        "expected `path`, `project_directory` or `env_file`".into(),
                                    ),
                                },
                            ))
                        }
                    }
                }
                if entry.paths.is_empty() {
                    return Err(LoadError::other(
                        item.span.clone(),
                        item_path,
                        "`path` is required",
                    ));
                }
                out.push(entry);
            }
            _ => return Err(item.type_error(&item_path, "a path or a mapping")),
        }
    }
    Ok(out)
}

/// Removes the `include` section from a file's tree and parses it (see [`parse_include`]).
/// The pipeline calls this before loading the included projects, so that the section does not
/// reach the typed model.
pub fn take_include(doc: &mut Node, working_dir: &Path) -> Result<Vec<IncludeItem>> {
    match doc.as_map_mut().and_then(|m| m.shift_remove("include")) {
        Some(node) => parse_include(&node, working_dir, "include"),
        None => Ok(Vec::new()),
    }
}

/// The top-level sections whose entries an included project contributes.
const IMPORTED_SECTIONS: [&str; 6] = [
    "services", "volumes", "networks", "secrets", "configs", "models",
];

/// Merges an included project's tree into `doc`: its services/networks/volumes/secrets/configs
/// are added; a resource defined in both is an error naming both places (compose-go: "services.x
/// conflicts with imported resource"), unless both definitions are identical (a project included
/// twice, or through two paths, brings the same resources again).
pub fn merge_included(doc: &mut Node, included: Node) -> Result<()> {
    if doc.is_null() {
        doc.value = Value::Map(Mapping::new());
    }
    let doc_span = doc.span.clone();
    let target = match &mut doc.value {
        Value::Map(m) => m,
        _ => return Err(doc.type_error("", "a mapping")),
    };
    let mut included_sections = match included.value {
        Value::Map(m) => m,
        Value::Null => return Ok(()),
        other => return Err(Node::new(other, included.span).type_error("", "a mapping")),
    };
    for section in IMPORTED_SECTIONS {
        let Some((key, from)) = included_sections.shift_remove_entry(section) else {
            continue;
        };
        let from = match from.value {
            Value::Map(m) => m,
            Value::Null => continue,
            other => return Err(Node::new(other, from.span).type_error(section, "a mapping")),
        };
        let to = target
            .entry(key.clone())
            .or_insert_with(|| Node::map(Mapping::new(), doc_span.clone()));
        if to.is_null() {
            to.value = Value::Map(Mapping::new());
        }
        let to = match &mut to.value {
            Value::Map(m) => m,
            _ => return Err(to.type_error(section, "a mapping")),
        };
        for (name, def) in from {
            match to.get_key_value(name.name.as_str()) {
                Some((_, existing)) if *existing == def => {}
                Some((existing_key, _)) => {
                    return Err(LoadError::new(
                        existing_key.span.clone(),
                        join_key(section, &name.name),
                        ErrorKind::Conflict(format!(
                            "{section}.{} conflicts with imported resource defined at {}",
                            name.name, name.span
                        )),
                    ))
                }
                None => {
                    to.insert(name, def);
                }
            }
        }
    }
    Ok(())
}

/// The chain of files being included, from the project's main file down, to detect include
/// cycles (a file including itself, directly or through others).
#[derive(Debug, Clone, Default)]
pub struct IncludeStack {
    chain: Vec<PathBuf>,
}

impl IncludeStack {
    /// A stack holding the project's main file.
    pub fn new(root: &Path) -> Self {
        IncludeStack {
            chain: vec![clean_path(root)],
        }
    }

    /// The stack for loading `file`, included by the last file of this one at `span`; an error
    /// naming the whole cycle if `file` is already being loaded.
    pub fn enter(&self, file: &Path, span: &Span) -> Result<IncludeStack> {
        let file = clean_path(file);
        if let Some(start) = self.chain.iter().position(|f| *f == file) {
            let cycle: Vec<String> = self.chain[start..]
                .iter()
                .chain(std::iter::once(&file))
                .map(|f| f.display().to_string())
                .collect();
            return Err(LoadError::other(
                span.clone(),
                "include",
                format!("include cycle detected: {}", cycle.join(" includes ")),
            ));
        }
        let mut chain = self.chain.clone();
        chain.push(file);
        Ok(IncludeStack { chain })
    }

    /// The files being loaded, the project's main file first.
    pub fn files(&self) -> &[PathBuf] {
        &self.chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::merge::merge_nodes;
    use crate::model::paths::rebase_relative_paths;
    use crate::model::yaml::parse_file_text;

    fn parse(src: &str, file: &str) -> Node {
        parse_file_text(src, Some(Path::new(file))).expect("test YAML parses")
    }

    #[test]
    fn parse_include_table() {
        let wd = Path::new("/w");
        let item =
            |paths: &[&str], dir: Option<&str>, env: &[&str], line: u32, col: u32| IncludeItem {
                paths: paths.iter().map(PathBuf::from).collect(),
                project_directory: dir.map(PathBuf::from),
                env_files: env.iter().map(PathBuf::from).collect(),
                span: Span::new(Some(Path::new("c.yaml").into()), line, col),
            };
        let cases: Vec<(&str, Vec<IncludeItem>)> = vec![
            ("include:\n", vec![]),
            (
                "include:\n  - a/compose.yaml\n  - /abs/x.yaml\n",
                vec![
                    item(&["/w/a/compose.yaml"], None, &[], 2, 5),
                    item(&["/abs/x.yaml"], None, &[], 3, 5),
                ],
            ),
            (
                "include:\n  - {path: ./b.yaml, project_directory: ../p, env_file: e.env}\n  - {path: [x.yaml, ./o/../y.yaml], env_file: [a.env, /b.env]}\n",
                vec![
                    item(&["/w/b.yaml"], Some("/p"), &["/w/e.env"], 2, 5),
                    item(&["/w/x.yaml", "/w/y.yaml"], None, &["/w/a.env", "/b.env"], 3, 5),
                ],
            ),
        ];
        for (src, want) in cases {
            let doc = parse(src, "c.yaml");
            let got = parse_include(doc.get("include").unwrap(), wd, "include").unwrap();
            assert_eq!(got, want, "{src}");
        }
    }

    #[test]
    fn parse_include_errors() {
        let cases: &[(&str, &str)] = &[
            (
                "include: a.yaml\n",
                "c.yaml:1:10: include: expected a sequence, found a string",
            ),
            (
                "include:\n  - {project_directory: x}\n",
                "c.yaml:2:5: include[0]: `path` is required",
            ),
            (
                "include:\n  - {path: a.yaml, env: x}\n",
                "c.yaml:2:20: include[0].env: unknown key `env`, expected `path`, `project_directory` or `env_file`",
            ),
            (
                "include:\n  - {path: [a.yaml, 3]}\n",
                "c.yaml:2:21: include[0].path[1]: expected a string, found an integer",
            ),
            (
                "include:\n  - ''\n",
                "c.yaml:2:5: include[0]: invalid path \"\": expected a file path",
            ),
            (
                "include:\n  - [a]\n",
                "c.yaml:2:5: include[0]: expected a path or a mapping, found a sequence",
            ),
        ];
        for (src, want) in cases {
            let doc = parse(src, "c.yaml");
            let err =
                parse_include(doc.get("include").unwrap(), Path::new("/w"), "include").unwrap_err();
            assert_eq!(err.to_string(), *want, "{src}");
        }
    }

    #[test]
    fn project_dir_defaults_to_the_main_file_folder() {
        let doc = parse(
            "include:\n  - sub/compose.yaml\n  - {path: x.yaml, project_directory: other}\n",
            "c.yaml",
        );
        let items = parse_include(doc.get("include").unwrap(), Path::new("/w"), "include").unwrap();
        assert_eq!(items[0].project_dir(), PathBuf::from("/w/sub"));
        assert_eq!(items[1].project_dir(), PathBuf::from("/w/other"));
    }

    #[test]
    fn merge_included_table() {
        let cases: &[(&str, &str, Result<&str, &str>)] = &[
            (
                "services: {web: {image: a}}\n",
                "services: {db: {image: pg}}\nvolumes: {data: {}}\nnetworks: {n: null}\nsecrets: {s: {file: x}}\nconfigs: {c: {file: y}}\nname: ignored\nx-ext: ignored\n",
                Ok("services: {web: {image: a}, db: {image: pg}}\nvolumes: {data: {}}\nnetworks: {n: null}\nsecrets: {s: {file: x}}\nconfigs: {c: {file: y}}\n"),
            ),
            (
                "services:\nvolumes: {data: {driver: local}}\n",
                "services: {db: {image: pg}}\nvolumes: {data: {driver: local}}\n",
                Ok("services: {db: {image: pg}}\nvolumes: {data: {driver: local}}\n"),
            ),
            (
                "services:\n  web:\n    image: a\n",
                "services:\n  web:\n    image: b\n",
                Err("main.yaml:2:3: services.web: services.web conflicts with imported resource defined at inc.yaml:2:3"),
            ),
            (
                "networks:\n  n: {driver: bridge}\n",
                "networks:\n  n: {driver: overlay}\n",
                Err("main.yaml:2:3: networks.n: networks.n conflicts with imported resource defined at inc.yaml:2:3"),
            ),
        ];
        for (main, inc, want) in cases {
            let mut doc = parse(main, "main.yaml");
            let got = merge_included(&mut doc, parse(inc, "inc.yaml"));
            match want {
                Ok(w) => {
                    got.unwrap_or_else(|e| panic!("{main}: {e}"));
                    assert_eq!(doc, parse(w, "want.yaml"), "{main}");
                }
                Err(w) => {
                    assert_eq!(got.unwrap_err().to_string(), *w, "{main}");
                }
            }
        }
    }

    #[test]
    fn include_cycles_are_named() {
        let a = Path::new("/p/a.yaml");
        let stack = IncludeStack::new(a);
        let span = Span::new(Some(Path::new("/p/b.yaml").into()), 2, 5);
        let b = stack.enter(Path::new("/p/./b.yaml"), &span).unwrap();
        assert_eq!(
            b.files(),
            [PathBuf::from("/p/a.yaml"), PathBuf::from("/p/b.yaml")]
        );
        let err = b.enter(Path::new("/p/sub/../a.yaml"), &span).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/p/b.yaml:2:5: include: include cycle detected: /p/a.yaml includes /p/b.yaml includes /p/a.yaml"
        );
        // Siblings may include the same file: only the chain above counts.
        assert!(b.enter(Path::new("/p/c.yaml"), &span).is_ok());
        assert!(stack.enter(Path::new("/p/c.yaml"), &span).is_ok());
    }

    /// A minimal include pipeline over real files, as the loader runs it: each included project
    /// is loaded with its own includes, its relative paths resolved against its project
    /// directory, then imported.
    fn load_tree(file: &Path, stack: &IncludeStack) -> Result<Node> {
        let text = std::fs::read_to_string(file).map_err(|e| LoadError::io(file, &e))?;
        let mut doc = parse_file_text(&text, Some(file))?;
        let wd = file.parent().unwrap_or(Path::new("."));
        for item in take_include(&mut doc, wd)? {
            let inner = stack.enter(&item.paths[0], &item.span)?;
            let mut inc = load_tree(&item.paths[0], &inner)?;
            for over in &item.paths[1..] {
                inc = merge_nodes(inc, load_tree(over, &inner)?, "")?;
            }
            rebase_relative_paths(&mut inc, &item.project_dir());
            merge_included(&mut doc, inc)?;
        }
        Ok(doc)
    }

    #[test]
    fn compose_go_fixtures() {
        let testdata = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/compose-go/loader/testdata"
        ));
        if !testdata.is_dir() {
            eprintln!("skipping: {} is absent", testdata.display());
            return;
        }
        let testdata = clean_path(testdata);
        let load = |rel: &str| {
            let f = testdata.join(rel);
            load_tree(&f, &IncludeStack::new(&f))
        };
        let td = |rel: &str| testdata.join(rel).display().to_string();

        // include/compose.yaml: the included service's paths are relative to its own folder.
        let doc = load("include/compose.yaml").unwrap();
        assert!(doc.get("include").is_none());
        let want = format!(
            "services:\n  included:\n    build: {}\n    volumes: ['{}:/mnt']\n",
            td("include"),
            td("include")
        );
        assert_eq!(doc, parse(&want, "w.yaml"));

        // include/project-directory.yaml: paths follow `project_directory`, not the file.
        let doc = load("include/project-directory.yaml").unwrap();
        let svc = doc.locate("services.service");
        assert_eq!(
            svc.locate("volumes[0].source").as_str(),
            Some(td("subdir/compose-test-extends-imported.yaml").as_str())
        );
        assert_eq!(
            svc.locate("env_file[0]").as_str(),
            Some(td("subdir/extra.env").as_str())
        );

        // compose-include.yaml: own services plus the imported one, at their own positions.
        let doc = load("compose-include.yaml").unwrap();
        let names: Vec<&str> = doc
            .get("services")
            .and_then(Node::as_map)
            .map(|m| m.keys().map(|k| k.name.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, ["bar", "imported"]);
        let image = doc.locate("services.imported.image");
        assert_eq!(image.as_str(), Some("nginx"));
        assert_eq!(
            image.span.file.as_deref(),
            Some(
                testdata
                    .join("subdir/compose-test-extends-imported.yaml")
                    .as_path()
            )
        );
        assert_eq!(image.span.line, 3);

        // compose-include-cycle.yaml includes itself.
        let err = load("compose-include-cycle.yaml").unwrap_err();
        let me = td("compose-include-cycle.yaml");
        assert_eq!(
            err.to_string(),
            format!("{me}:2:5: include: include cycle detected: {me} includes {me}")
        );
    }

    #[test]
    fn same_resource_included_twice_is_fine_a_different_one_is_not() {
        let testdata = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/compose-go/loader/testdata"
        ));
        if !testdata.is_dir() {
            eprintln!("skipping: {} is absent", testdata.display());
            return;
        }
        let testdata = clean_path(testdata);
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("compose.yaml");
        // TestLoadWithMultipleInclude: `imported` arrives twice, identical.
        let twice = format!(
            "include:\n  - path: {0}/subdir/compose-test-extends-imported.yaml\n  - path: {0}/compose-include.yaml\nservices:\n  foo: {{image: busybox, depends_on: [imported]}}\n",
            testdata.display()
        );
        std::fs::write(&main, twice).unwrap();
        let doc = load_tree(&main, &IncludeStack::new(&main)).unwrap();
        let names: Vec<&str> = doc
            .get("services")
            .and_then(Node::as_map)
            .map(|m| m.keys().map(|k| k.name.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, ["foo", "imported", "bar"]);

        // The including file redefines `bar`, which compose-include.yaml brings: a conflict.
        let conflict = format!(
            "include:\n  - path: {0}/compose-include.yaml\nservices:\n  bar:\n    image: busybox\n",
            testdata.display()
        );
        std::fs::write(&main, conflict).unwrap();
        let err = load_tree(&main, &IncludeStack::new(&main)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:4:3: services.bar: services.bar conflicts with imported resource defined at {}:5:3",
                main.display(),
                testdata.join("compose-include.yaml").display()
            )
        );
    }
}
