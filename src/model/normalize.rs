//! Normalization of the typed project: the defaults Docker Compose fills in, so that what
//! `config` prints and what the planner acts on is explicit. Services with no network join the
//! project's `default` network (which is then declared; a project whose services all use
//! `network_mode` gets none); networks, volumes, secrets and configs get their engine names
//! (`<project>_<key>`, or the key itself when external, or the legacy `external.name`); a build
//! gets its context and Dockerfile; `pull_policy: if_not_present` is spelled `missing`; the
//! services a service needs through `links`, `volumes_from` or a `service:` namespace are added
//! to its `depends_on`; variables listed without a value take theirs from the project
//! environment; each service's `env_file`s are read into its `environment`.

use std::path::Path;

use indexmap::IndexMap;

use super::dotenv;
use super::environment::Environment;
use super::error::{ErrorKind, LoadError, Result, Span};
use super::types::resources::{External, NetworkConfig, Project};
use super::types::service::{
    DependencyCondition, MappingWithEquals, ServiceConfig, ServiceDependency,
};

/// Fills in every default. `project_dir` is the absolute project directory when paths are being
/// resolved (a build's default context is then made absolute too). With `resolve_env_files`, the
/// `env_file`s of the services in `env_scope` (all when `None`) are read.
pub fn normalize(
    project: &mut Project,
    env: &Environment,
    resolve_env_files: bool,
    project_dir: Option<&Path>,
    env_scope: Option<&[String]>,
) -> Result<()> {
    let mut uses_default = false;
    for svc in project.services.values_mut() {
        // A provider service is not a container: it joins no network.
        if svc.provider.is_none() {
            if svc.network_mode.is_none() && svc.networks.is_empty() {
                svc.networks.insert("default".to_string(), None);
            }
            uses_default |= svc.networks.contains_key("default");
        }

        if let Some(build) = svc.build.as_mut() {
            if build.context.as_deref().is_none_or(str::is_empty) {
                build.context = Some(
                    project_dir
                        .map(|d| d.to_string_lossy().into_owned())
                        .unwrap_or_else(|| ".".to_string()),
                );
            }
            if build.dockerfile.is_none() && build.dockerfile_inline.is_none() {
                build.dockerfile = Some("Dockerfile".to_string());
            }
            // A build argument with neither a value nor a variable is not passed at all.
            build.args = std::mem::take(&mut build.args)
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Some(v) => Some((k, Some(v))),
                    None => env.lookup(&k).map(|v| (k, Some(v))),
                })
                .collect();
        }

        if svc.pull_policy.as_deref() == Some("if_not_present") {
            svc.pull_policy = Some("missing".to_string());
        }
        add_implicit_dependencies(svc);
        resolve_unset(&mut svc.environment, env);
    }
    if uses_default && !project.networks.contains_key("default") {
        project
            .networks
            .insert("default".to_string(), NetworkConfig::default());
    }

    let project_name = project.name.clone().unwrap_or_default();
    let engine_name = |key: &str, name: &mut Option<String>, external: &External| {
        if name.is_none() {
            *name = Some(match (external.external, &external.legacy_name) {
                (true, Some(legacy)) => legacy.clone(),
                (true, None) => key.to_string(),
                (false, _) => format!("{project_name}_{key}"),
            });
        }
    };
    for (key, n) in project.networks.iter_mut() {
        engine_name(key, &mut n.name, &n.external);
    }
    for (key, v) in project.volumes.iter_mut() {
        engine_name(key, &mut v.name, &v.external);
    }
    for (key, s) in project.secrets.iter_mut() {
        engine_name(key, &mut s.name, &s.external);
    }
    for (key, c) in project.configs.iter_mut() {
        engine_name(key, &mut c.name, &c.external);
    }

    if resolve_env_files {
        resolve_environment(project, env, env_scope)?;
    }
    Ok(())
}

/// Adds what `links`, `volumes_from` and `service:` namespaces imply to `depends_on`, as Docker
/// Compose does (so ordering, `--no-deps` and cycles see them): a dependency already declared
/// is kept as written. Links and shared namespaces restart with their target; `volumes_from` does
/// not.
fn add_implicit_dependencies(svc: &mut ServiceConfig) {
    let mut implied: Vec<(String, bool)> = Vec::new();
    for link in &svc.links {
        implied.push((link.split(':').next().unwrap_or(link).to_string(), true));
    }
    for v in [&svc.network_mode, &svc.ipc, &svc.pid, &svc.uts, &svc.cgroup]
        .into_iter()
        .flatten()
    {
        if let Some(target) = v.strip_prefix("service:") {
            implied.push((target.to_string(), true));
        }
    }
    for from in &svc.volumes_from {
        if !from.starts_with("container:") {
            implied.push((from.split(':').next().unwrap_or(from).to_string(), false));
        }
    }
    for (name, restart) in implied {
        if name.is_empty() || svc.depends_on.contains_key(&name) {
            continue;
        }
        svc.depends_on.insert(
            name,
            ServiceDependency {
                condition: DependencyCondition::ServiceStarted,
                restart,
                required: true,
                ..ServiceDependency::default()
            },
        );
    }
}

/// Variables listed without a value take the project environment's, when it has one; the others
/// stay unset (the engine then passes nothing for them).
fn resolve_unset(vars: &mut MappingWithEquals, env: &Environment) {
    for (k, v) in vars.iter_mut() {
        if v.is_none() {
            *v = env.lookup(k);
        }
    }
}

/// Reads each service's `env_file`s (in order, later files winning) under its `environment`
/// (which wins over them), then gives variables listed without a value their value from the
/// project environment when it has one. The `env_file` list is consumed. With `scope`, only those
/// services are resolved: `compose up a` must not fail on an env file only `b` needs.
///
/// `${VAR}` inside an env file is looked up in the project environment, then in the service's
/// own `environment`. A missing file is an error unless it is `required: false`; its `format`
/// must be the default or `raw` (checked only for files that are read, as Docker Compose does).
pub fn resolve_environment(
    project: &mut Project,
    env: &Environment,
    scope: Option<&[String]>,
) -> Result<()> {
    for (name, svc) in project.services.iter_mut() {
        if scope.is_some_and(|s| !s.contains(name)) {
            continue;
        }
        resolve_unset(&mut svc.environment, env);
        let own = svc.environment.clone();
        let lookup = |v: &str| env.lookup(v).or_else(|| own.get(v).cloned().flatten());
        let mut merged: IndexMap<String, Option<String>> = read_env_files(name, svc, env)?
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        for (k, v) in std::mem::take(&mut svc.environment) {
            merged.insert(k, v);
        }
        svc.environment = merged;
        svc.env_file.clear();
        resolve_label_files(name, svc, &lookup)?;
    }
    Ok(())
}

/// The variables service `name`'s `env_file`s define, in order with later files winning, without
/// what its `environment` sets: [`resolve_environment`]'s first step, also used by `kube generate`
/// to keep env files apart (they become a ConfigMap). `${VAR}` inside a file is looked up in the
/// project environment, then in the service's own `environment`.
pub fn read_env_files(
    name: &str,
    svc: &crate::model::types::service::ServiceConfig,
    env: &Environment,
) -> Result<IndexMap<String, String>> {
    let own = &svc.environment;
    let lookup = |v: &str| env.lookup(v).or_else(|| own.get(v).cloned().flatten());
    let mut merged: IndexMap<String, String> = IndexMap::new();
    for (i, file) in svc.env_file.iter().enumerate() {
        let entry = format!("services.{name}.env_file[{i}]");
        let path = Path::new(&file.path);
        if !path.exists() {
            if file.required {
                return Err(LoadError::new(
                    Span::default(),
                    entry,
                    ErrorKind::Other(format!(
                        "env file {} not found (set `required: false` to make it optional)",
                        path.display()
                    )),
                ));
            }
            continue;
        }
        let vars = match file.format.as_deref().unwrap_or("") {
            "" => dotenv::read_file(path, &lookup)?,
            "raw" => read_raw(path)?,
            other => {
                return Err(LoadError::new(
                    Span::default(),
                    format!("{entry}.format"),
                    ErrorKind::InvalidValue {
                        what: format!("env_file format for {}", path.display()),
                        value: other.to_string(),
                        expected: "\"raw\", or no format for the .env syntax".to_string(),
                    },
                ))
            }
        };
        for (k, v) in vars {
            merged.insert(k, v);
        }
    }
    Ok(merged)
}

/// Reads a service's `label_file`s (`KEY=VALUE` lines in the .env syntax, later files winning)
/// under its `labels` (which win over them), as Docker Compose does; the list is consumed. A
/// missing file is an error: the labels are what tools select the container by.
fn resolve_label_files(
    name: &str,
    svc: &mut crate::model::types::service::ServiceConfig,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    if svc.label_file.is_empty() {
        return Ok(());
    }
    let mut merged: IndexMap<String, String> = IndexMap::new();
    for (i, file) in svc.label_file.iter().enumerate() {
        let path = Path::new(file);
        if !path.exists() {
            return Err(LoadError::new(
                Span::default(),
                format!("services.{name}.label_file[{i}]"),
                ErrorKind::Other(format!("label file {} not found", path.display())),
            ));
        }
        merged.extend(dotenv::read_file(path, lookup)?);
    }
    merged.extend(std::mem::take(&mut svc.labels));
    svc.labels = merged;
    svc.label_file.clear();
    Ok(())
}

/// `format: raw`: `KEY=VALUE` lines taken literally, no quoting, escapes or interpolation; blank
/// lines, comment lines and lines without `=` are skipped.
fn read_raw(path: &Path) -> Result<IndexMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, &e))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::de::from_node;
    use crate::model::yaml::{parse_file_text, Node};

    fn parse(text: &str) -> (Project, Node) {
        let tree = parse_file_text(text, Some(Path::new("compose.yaml"))).expect("valid YAML");
        let mut project: Project = from_node(&tree).expect("valid project");
        project.name = Some("proj".into());
        (project, tree)
    }

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::new(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn normalized(text: &str) -> Project {
        let (mut p, _) = parse(text);
        normalize(&mut p, &env(&[]), false, None, None).expect("normalize");
        p
    }

    fn keys<V>(m: &IndexMap<String, V>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    #[test]
    fn default_network_table() {
        // (what, file, each service's networks after normalizing, project networks)
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a [(&'a str, &'a [&'a str])],
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            (
                "services without networks join `default`",
                "services:\n  a: {image: x}\n  b: {image: x}\n",
                &[("a", &["default"]), ("b", &["default"])],
                &["default"],
            ),
            (
                "every service uses network_mode: no default network",
                "services:\n  a: {image: x, network_mode: host}\n  b: {image: x, network_mode: 'service:a'}\n",
                &[("a", &[]), ("b", &[])],
                &[],
            ),
            (
                "explicit networks only: no default network",
                "services:\n  a: {image: x, networks: [front]}\nnetworks:\n  front: {}\n",
                &[("a", &["front"])],
                &["front"],
            ),
            (
                "explicit `default` among others declares it",
                "services:\n  a: {image: x, networks: [front, default]}\nnetworks:\n  front: {}\n",
                &[("a", &["front", "default"])],
                &["front", "default"],
            ),
            (
                "one service on default, one on host",
                "services:\n  a: {image: x, network_mode: host}\n  b: {image: x}\n",
                &[("a", &[]), ("b", &["default"])],
                &["default"],
            ),
            (
                "a provider service joins no network",
                "services:\n  ai:\n    provider: {type: model}\n",
                &[("ai", &[])],
                &[],
            ),
        ];
        for (what, text, services, networks) in cases {
            let p = normalized(text);
            for (svc, want) in *services {
                assert_eq!(keys(&p.services[*svc].networks), *want, "{what}: {svc}");
            }
            assert_eq!(keys(&p.networks), *networks, "{what}");
        }
    }

    #[test]
    fn resource_names_table() {
        let p = normalized(
            "services:
  web: {image: x}
networks:
  default: {}
  plain: {}
  named: {name: my-net}
  ext: {external: true}
  legacy: {external: {name: old-net}}
  ext_named: {external: true, name: real-net}
volumes:
  data: {}
  ext: {external: true}
  legacy: {external: {name: old-vol}}
  named: {name: vol}
secrets:
  s: {file: ./s}
  ext: {external: true}
configs:
  c: {file: ./c}
  ext: {external: true}
  legacy: {external: {name: old-conf}}
",
        );
        let names = |m: Vec<(&String, &Option<String>)>| -> Vec<(String, String)> {
            m.into_iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect()
        };
        let want = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            names(p.networks.iter().map(|(k, n)| (k, &n.name)).collect()),
            want(&[
                ("default", "proj_default"),
                ("plain", "proj_plain"),
                ("named", "my-net"),
                ("ext", "ext"),
                ("legacy", "old-net"),
                ("ext_named", "real-net"),
            ])
        );
        assert_eq!(
            names(p.volumes.iter().map(|(k, n)| (k, &n.name)).collect()),
            want(&[
                ("data", "proj_data"),
                ("ext", "ext"),
                ("legacy", "old-vol"),
                ("named", "vol"),
            ])
        );
        assert_eq!(
            names(p.secrets.iter().map(|(k, n)| (k, &n.name)).collect()),
            want(&[("s", "proj_s"), ("ext", "ext")])
        );
        assert_eq!(
            names(p.configs.iter().map(|(k, n)| (k, &n.name)).collect()),
            want(&[("c", "proj_c"), ("ext", "ext"), ("legacy", "old-conf")])
        );
    }

    #[test]
    fn build_defaults_table() {
        // (build section, project dir, want context, want dockerfile)
        let cases: &[(&str, Option<&str>, &str, Option<&str>)] = &[
            ("build: {}", None, ".", Some("Dockerfile")),
            (
                "build: {}",
                Some("/work/app"),
                "/work/app",
                Some("Dockerfile"),
            ),
            ("build: {context: ''}", Some("/w"), "/w", Some("Dockerfile")),
            ("build: /src", Some("/w"), "/src", Some("Dockerfile")),
            (
                "build: {context: /src, dockerfile: web.Dockerfile}",
                None,
                "/src",
                Some("web.Dockerfile"),
            ),
            (
                "build: {context: /src, dockerfile_inline: FROM alpine}",
                None,
                "/src",
                None,
            ),
        ];
        for (build, dir, context, dockerfile) in cases {
            let (mut p, _) = parse(&format!("services:\n  web:\n    {build}\n"));
            normalize(&mut p, &env(&[]), false, dir.map(Path::new), None).expect("normalize");
            let b = p.services["web"].build.as_ref().expect("build");
            assert_eq!(b.context.as_deref(), Some(*context), "{build}");
            assert_eq!(b.dockerfile.as_deref(), *dockerfile, "{build}");
        }
    }

    #[test]
    fn values_without_value_come_from_the_environment() {
        let (mut p, _) = parse(
            "services:
  web:
    image: x
    environment: [SET=given, FROM_ENV, UNSET, EMPTY=]
    build:
      context: .
      args: [ARG_GIVEN=1, ARG_FROM_ENV, ARG_UNSET]
",
        );
        let e = env(&[
            ("FROM_ENV", "env"),
            ("ARG_FROM_ENV", "a"),
            ("SET", "ignored"),
        ]);
        normalize(&mut p, &e, false, None, None).expect("normalize");
        let web = &p.services["web"];
        let want: IndexMap<String, Option<String>> = [
            ("SET", Some("given")),
            ("FROM_ENV", Some("env")),
            ("UNSET", None),
            ("EMPTY", Some("")),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(String::from)))
        .collect();
        assert_eq!(web.environment, want);
        // An argument with neither value nor variable is dropped, as Docker Compose drops it.
        let args: Vec<(&str, Option<&str>)> = web
            .build
            .as_ref()
            .expect("build")
            .args
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        assert_eq!(
            args,
            vec![("ARG_GIVEN", Some("1")), ("ARG_FROM_ENV", Some("a"))]
        );
    }

    #[test]
    fn pull_policy_if_not_present_is_missing() {
        for (given, want) in [
            ("if_not_present", "missing"),
            ("missing", "missing"),
            ("always", "always"),
            ("build", "build"),
        ] {
            let p = normalized(&format!(
                "services:\n  web:\n    image: x\n    pull_policy: {given}\n"
            ));
            assert_eq!(
                p.services["web"].pull_policy.as_deref(),
                Some(want),
                "{given}"
            );
        }
    }

    #[test]
    fn implicit_dependencies_are_added_to_depends_on() {
        let p = normalized(
            "services:
  web:
    image: x
    depends_on:
      db: {condition: service_healthy}
    links: ['db:database', cache]
    network_mode: service:vpn
    ipc: service:shm
    pid: host
    volumes_from: ['data:ro', 'container:legacy']
  db: {image: x}
  cache: {image: x}
  vpn: {image: x}
  shm: {image: x}
  data: {image: x}
",
        );
        let got: Vec<(&str, &str, bool, bool)> = p.services["web"]
            .depends_on
            .iter()
            .map(|(k, d)| (k.as_str(), d.condition.as_str(), d.restart, d.required))
            .collect();
        assert_eq!(
            got,
            vec![
                // Declared: kept as written.
                ("db", "service_healthy", false, true),
                ("cache", "service_started", true, true),
                ("vpn", "service_started", true, true),
                ("shm", "service_started", true, true),
                ("data", "service_started", false, true),
            ]
        );
        assert!(p.services["db"].depends_on.is_empty());
    }

    /// A temporary project directory with env files.
    struct Dir(tempfile::TempDir);

    impl Dir {
        fn new(files: &[(&str, &str)]) -> Dir {
            let dir = tempfile::tempdir().expect("temp dir");
            for (name, text) in files {
                std::fs::write(dir.path().join(name), text).expect("write");
            }
            Dir(dir)
        }
        fn path(&self, name: &str) -> String {
            self.0.path().join(name).display().to_string()
        }
    }

    /// Resolves env files of a one-service project whose `env_file` section is `env_file`
    /// (with `{dir}` replaced), returning the environment or the located error's text.
    fn env_of(
        dir: &Dir,
        env_file: &str,
        environment: &str,
        project_env: &Environment,
    ) -> std::result::Result<Vec<(String, Option<String>)>, String> {
        let text = format!(
            "services:\n  web:\n    image: x\n{}{}",
            env_file.replace("{dir}", &dir.path("")).replace("//", "/"),
            environment
        );
        let (mut p, tree) = parse(&text);
        match normalize(&mut p, project_env, true, None, None) {
            Ok(()) => {
                assert!(
                    p.services["web"].env_file.is_empty(),
                    "env_file is consumed"
                );
                Ok(p.services["web"]
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect())
            }
            Err(mut e) => {
                if !e.span.is_known() {
                    e.span = tree.locate_key_span(&e.path);
                }
                Err(e.to_string())
            }
        }
    }

    fn vars(v: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.map(String::from)))
            .collect()
    }

    #[test]
    fn env_files_are_read_into_environment() {
        let dir = Dir::new(&[
            ("a.env", "A=1\nSHARED=from-a\nQUOTED=\"x y\"\n# comment\n"),
            ("b.env", "SHARED=from-b\nB=${HOST_VAR:-dflt}\nC=${OWN}\n"),
            (
                "raw.env",
                "R=\"kept\" ${NOT_INTERPOLATED}\n# c\nNOEQUALS\nK = v \n",
            ),
        ]);
        let host = env(&[("HOST_VAR", "host"), ("OWN", "from-host")]);
        type Case<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, Option<&'a str>)]);
        let cases: &[Case] = &[
            (
                "later files win, environment wins over files",
                "    env_file: ['{dir}/a.env', '{dir}/b.env']\n",
                "    environment: {A: from-compose}\n",
                &[
                    ("A", Some("from-compose")),
                    ("SHARED", Some("from-b")),
                    ("QUOTED", Some("x y")),
                    ("B", Some("host")),
                    ("C", Some("from-host")),
                ],
            ),
            (
                "a missing optional file is skipped",
                "    env_file:\n      - path: '{dir}/none.env'\n        required: false\n      - '{dir}/a.env'\n",
                "",
                &[("A", Some("1")), ("SHARED", Some("from-a")), ("QUOTED", Some("x y"))],
            ),
            (
                "raw format takes lines literally",
                "    env_file:\n      - path: '{dir}/raw.env'\n        format: raw\n",
                "",
                &[("R", Some("\"kept\" ${NOT_INTERPOLATED}")), ("K", Some(" v "))],
            ),
            (
                "a variable without value in environment unsets a file's value",
                "    env_file: ['{dir}/a.env']\n",
                "    environment: [SHARED]\n",
                &[("A", Some("1")), ("SHARED", None), ("QUOTED", Some("x y"))],
            ),
        ];
        for (what, env_file, environment, want) in cases {
            let got = env_of(&dir, env_file, environment, &host);
            let mut got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
            let mut want = vars(want);
            got.sort();
            want.sort();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn env_file_interpolation_falls_back_to_the_service_environment() {
        let dir = Dir::new(&[("b.env", "C=${OWN}\n")]);
        let got = env_of(
            &dir,
            "    env_file: ['{dir}/b.env']\n",
            "    environment: {OWN: own}\n",
            &env(&[]),
        )
        .expect("resolves");
        assert_eq!(got, vars(&[("C", Some("own")), ("OWN", Some("own"))]));
    }

    #[test]
    fn env_file_errors_name_the_file_and_entry() {
        let dir = Dir::new(&[("a.env", "A=1\n"), ("bad.env", "A=1\nB='open\n")]);
        let cases: &[(&str, &str, String)] = &[
            (
                "missing required file, list form",
                "    env_file:\n      - '{dir}/a.env'\n      - '{dir}/nope.env'\n",
                format!(
                    "compose.yaml:6:9: services.web.env_file[1]: env file {} not found (set `required: false` to make it optional)",
                    dir.path("nope.env")
                ),
            ),
            (
                "missing required file, string form",
                "    env_file: '{dir}/nope.env'\n",
                format!(
                    "compose.yaml:4:15: services.web.env_file[0]: env file {} not found (set `required: false` to make it optional)",
                    dir.path("nope.env")
                ),
            ),
            (
                "unsupported format",
                "    env_file:\n      - path: '{dir}/a.env'\n        format: yaml\n",
                format!(
                    "compose.yaml:6:9: services.web.env_file[0].format: invalid env_file format for {} \"yaml\": expected \"raw\", or no format for the .env syntax",
                    dir.path("a.env")
                ),
            ),
        ];
        for (what, env_file, want) in cases {
            let got = env_of(&dir, env_file, "", &env(&[])).expect_err(what);
            assert_eq!(&got, want, "{what}");
        }
        // A syntax error inside the file is located in that file.
        let got = env_of(&dir, "    env_file: ['{dir}/bad.env']\n", "", &env(&[]))
            .expect_err("bad syntax");
        assert!(
            got.starts_with(&format!("{}:2", dir.path("bad.env"))),
            "{got}"
        );
    }

    #[test]
    fn env_files_outside_the_scope_are_not_read() {
        let text = "services:\n  a:\n    image: x\n    env_file: [/nonexistent/a.env]\n    environment: [V]\n  b:\n    image: x\n    environment: [V]\n";
        let (mut p, _) = parse(text);
        let e = env(&[("V", "v")]);
        normalize(&mut p, &e, true, None, Some(&["b".to_string()])).expect("a is out of scope");
        assert_eq!(p.services["b"].environment["V"].as_deref(), Some("v"));
        // Out of scope: the env file is kept for later, plain variables are still resolved.
        assert_eq!(p.services["a"].env_file.len(), 1);
        assert_eq!(p.services["a"].environment["V"].as_deref(), Some("v"));
        let (mut p, _) = parse(text);
        assert!(normalize(&mut p, &e, true, None, None).is_err());
    }

    #[test]
    fn resolve_environment_alone_adds_no_defaults() {
        let dir = Dir::new(&[("a.env", "A=1\n")]);
        let (mut p, _) = parse(&format!(
            "services:\n  web:\n    image: x\n    env_file: ['{}']\n    environment: [V]\n",
            dir.path("a.env")
        ));
        resolve_environment(&mut p, &env(&[("V", "v")]), None).expect("resolves");
        let web = &p.services["web"];
        assert!(web.networks.is_empty());
        assert!(p.networks.is_empty());
        let got: Vec<(String, Option<String>)> = web
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(got, vars(&[("A", Some("1")), ("V", Some("v"))]));
    }
}
