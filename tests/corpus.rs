//! Every Compose file of the conformance corpus (Docker Compose's e2e fixtures and compose-go's
//! loader test data) must load with `compose config --format json`, run from the file's folder
//! as those suites do, except the few that Docker Compose itself rejects: those must be rejected
//! with the message listed here. Skipped (with a printed reason) when `../shared/corpus` is absent.

mod support {
    #[path = "cli.rs"]
    pub mod cli;
}

use std::path::{Path, PathBuf};

use support::cli::{corpus_dir, Compose};

/// Folders of the corpus holding Compose files.
const ROOTS: &[&str] = &[
    "docker-compose/pkg/e2e/fixtures",
    "docker-compose/pkg/e2e/testdata",
    "compose-go/loader/testdata",
];

/// What a file needs or gives: files loaded before it (`-f`, an override's base), variables its
/// e2e test sets, the arguments after `config`, and the error expected (`None`: it loads). In
/// errors, `{dir}` stands for the file's folder.
struct Special {
    path: &'static str,
    after: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    error: Option<&'static str>,
}

const SPECIAL: &[Special] = &[
    // Variables the e2e tests set.
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/testdata/TestUpImageID/compose.yaml",
        env: &[(
            "ID",
            "sha256:3fdd5ab4e5c9d2a4b0c0b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2",
        )],
        args: &[],
        error: None,
    },
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/fixtures/logs-test/cat.yaml",
        env: &[("FILE", "./text_file.txt")],
        args: &[],
        error: None,
    },
    // Without the variable, Docker Compose rejects them too.
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/testdata/TestUpImageID/compose.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose.yaml:3:12: services.test.image: required variable ID is missing a value: ID variable must be set",
        ),
    },
    // serviceB's env_file does not exist: the project only loads for the other services
    // (TestUnusedMissingEnvFile runs `up serviceA`).
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/fixtures/env_file/compose.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose.yaml:8:9: services.serviceB.env_file[0]: env file /doesnotexist/.env not found (set `required: false` to make it optional)",
        ),
    },
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/fixtures/env_file/compose.yaml",
        env: &[],
        args: &["serviceA"],
        error: None,
    },
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/fixtures/wrong-composefile/compose.yaml",
        env: &[],
        args: &[],
        error: Some("{dir}/compose.yaml:4:5: services.simple.wrongField: unknown key `wrongField`"),
    },
    Special {
        after: &[],
        path: "compose-go/loader/testdata/compose-depends-on-cycle.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose-depends-on-cycle.yaml:6:9: services.service1.depends_on[0]: dependency cycle detected: service1 -> service2 -> service3 -> service1",
        ),
    },
    // Same content as the one above upstream: a cycle all the same.
    Special {
        after: &[],
        path: "compose-go/loader/testdata/compose-depends-on-profile-no-cycle.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose-depends-on-profile-no-cycle.yaml:6:9: services.service1.depends_on[0]: dependency cycle detected: service1 -> service2 -> service3 -> service1",
        ),
    },
    Special {
        after: &[],
        path: "compose-go/loader/testdata/compose-depends-on-self.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose-depends-on-self.yaml:6:9: services.service1.depends_on[0]: dependency cycle detected: service1 -> service1",
        ),
    },
    Special {
        after: &[],
        path: "compose-go/loader/testdata/compose-include-cycle.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose-include-cycle.yaml:2:3: include: dependency cycle detected: {dir}/compose-include-cycle.yaml -> {dir}/compose-include-cycle.yaml",
        ),
    },
    // Names an env file its test creates on the fly.
    Special {
        after: &[],
        path: "compose-go/loader/testdata/include/dir/compose.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose.yaml:12:9: services.service.env_file[0]: env file {dir}/extra.env not found (set `required: false` to make it optional)",
        ),
    },
    // `remote:` references only resolve through a loader compose-go's tests register; for
    // Docker Compose they are plain (missing) relative paths.
    Special {
        after: &[],
        path: "compose-go/loader/testdata/remote/cycle/compose.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose.yaml:4:13: services.foo.extends.file: cannot read {dir}/remote:cycle/compose-cycle.yaml: No such file or directory (os error 2)",
        ),
    },
    Special {
        after: &[],
        path: "compose-go/loader/testdata/remote/cycle/compose-cycle.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose-cycle.yaml:4:13: services.bar.extends.file: cannot read {dir}/remote:cycle/compose.yaml: No such file or directory (os error 2)",
        ),
    },
    Special {
        after: &[],
        path: "compose-go/loader/testdata/remote/nested/compose.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose.yaml:4:13: services.foo.extends.file: cannot read {dir}/remote:nested/compose-nested.yaml: No such file or directory (os error 2)",
        ),
    },
    // Files meant to be extended or to override another: alone they lack an image.
    Special {
        after: &[],
        path: "compose-go/loader/testdata/extends/base.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/base.yaml:8:3: services.with-port: service \"with-port\" has neither an image nor a build context specified: set `image` or `build`",
        ),
    },
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/fixtures/publish/oci/compose-override.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose-override.yaml:2:3: services.app: service \"app\" has neither an image nor a build context specified: set `image` or `build`",
        ),
    },
    Special {
        after: &["compose.yaml"],
        path: "docker-compose/pkg/e2e/fixtures/publish/oci/compose-override.yaml",
        env: &[],
        args: &[],
        error: None,
    },
    // Images their e2e tests build or remove first.
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/testdata/TestImagesAfterImageRemoved/compose.yaml",
        env: &[("REMOVED_IMAGE", "test-image-removed:latest")],
        args: &[],
        error: None,
    },
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/testdata/TestUpWithBuildDependencies/compose.yaml",
        env: &[("BUILT_IMAGE", "built-image-dependency:latest")],
        args: &[],
        error: None,
    },
    // Without the variable `image` is empty: Docker Compose rejects the service.
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/testdata/TestImagesAfterImageRemoved/compose.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose.yaml:2:3: services.app: service \"app\" has neither an image nor a build context specified: set `image` or `build`",
        ),
    },
    // Its e2e test runs `config --no-consistency`: without it, it is rejected.
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/testdata/TestLocalComposeConfigNoConsistency/compose.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose.yaml:2:3: services.incomplete: service \"incomplete\" has neither an image nor a build context specified: set `image` or `build`",
        ),
    },
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/testdata/TestLocalComposeConfigNoConsistency/compose.yaml",
        env: &[],
        args: &["--no-consistency"],
        error: None,
    },
    // TestBuildPlatformsStandardErrors expects this one to be rejected.
    Special {
        after: &[],
        path: "docker-compose/pkg/e2e/fixtures/build-test/platforms/compose-service-platform-not-in-build-platforms.yaml",
        env: &[],
        args: &[],
        error: Some(
            "{dir}/compose-service-platform-not-in-build-platforms.yaml:7:7: services.platforms.build.platforms: `build.platforms` must include the service's platform \"linux/riscv64\"",
        ),
    },
];

/// Whether `path` is a Compose file: not an expected-output manifest (Kubernetes, Helm), judged
/// by its folder and by its content.
fn is_compose_file(path: &Path) -> bool {
    if path
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with("expected-"))
    {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    // Kubernetes manifests and Helm charts have `apiVersion`/`kind` at the top level.
    !text
        .lines()
        .any(|l| l.starts_with("apiVersion:") || l.starts_with("kind:"))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && is_compose_file(&path)
        {
            out.push(path);
        }
    }
}

/// All Compose files of the corpus, as paths relative to the corpus root, sorted.
fn corpus_files(corpus: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for root in ROOTS {
        collect(&corpus.join(root), &mut files);
    }
    let mut rel: Vec<String> = files
        .iter()
        .filter_map(|p| p.strip_prefix(corpus).ok())
        .map(|p| p.display().to_string())
        .collect();
    rel.sort();
    rel
}

/// Runs `config --format json [args]` on `rel` from its folder; returns the failure, if any.
fn check(corpus: &Path, rel: &str, s: &Special) -> Option<String> {
    let Special {
        after,
        env,
        args,
        error,
        ..
    } = *s;
    let path = corpus.join(rel);
    let dir = path.parent().expect("file has a folder");
    let name = path
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let mut all: Vec<&str> = Vec::new();
    for f in after {
        all.extend(["-f", f]);
    }
    all.extend(["-f", name.as_str(), "config", "--format", "json"]);
    all.extend_from_slice(args);
    let mut cmd = Compose::new(dir).args(&all);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.run();
    match error {
        None => {
            if out.code != 0 {
                return Some(format!(
                    "{rel} {after:?} {args:?}: exit {}: {}",
                    out.code, out.stderr
                ));
            }
            match serde_json::from_str::<serde_json::Value>(&out.stdout) {
                Ok(v) if v["services"].is_object() && v["name"].is_string() => {
                    // The default YAML output must describe exactly the same project.
                    let yaml_args: Vec<&str> = all
                        .iter()
                        .copied()
                        .filter(|a| *a != "--format" && *a != "json")
                        .collect();
                    let mut cmd = Compose::new(dir).args(&yaml_args);
                    for (k, val) in env {
                        cmd = cmd.env(k, val);
                    }
                    let y = cmd.run();
                    match serde_yaml_ng::from_str::<serde_json::Value>(&y.stdout) {
                        Ok(yv) if y.code == 0 && yv == v => None,
                        Ok(_) => Some(format!("{rel}: YAML and JSON outputs differ")),
                        Err(e) => Some(format!("{rel}: YAML output does not parse ({e})")),
                    }
                }
                Ok(v) => Some(format!("{rel}: output lacks name or services: {v}")),
                Err(e) => Some(format!("{rel}: output is not JSON ({e})")),
            }
        }
        Some(want) => {
            let want = format!("{}\n", want.replace("{dir}", &dir.display().to_string()));
            if out.code == 15 && out.stdout.is_empty() && out.stderr == want {
                None
            } else {
                Some(format!(
                    "{rel} {args:?}: expected exit 15 and\n    {want}  got exit {} and\n    {}",
                    out.code, out.stderr
                ))
            }
        }
    }
}

#[test]
fn corpus_files_load_like_docker_compose() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let files = corpus_files(&corpus);
    assert!(
        files.len() > 150,
        "corpus looks incomplete: {} files",
        files.len()
    );
    for s in SPECIAL {
        assert!(
            files.iter().any(|f| f == s.path),
            "listed file not in corpus: {}",
            s.path
        );
    }

    let mut failures = Vec::new();
    for rel in &files {
        let specials: Vec<&Special> = SPECIAL.iter().filter(|s| s.path == rel).collect();
        if specials.is_empty() {
            let plain = Special {
                path: "",
                after: &[],
                env: &[],
                args: &[],
                error: None,
            };
            failures.extend(check(&corpus, rel, &plain));
        }
        for s in specials {
            failures.extend(check(&corpus, rel, s));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files misbehave:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn expected_output_manifests_are_not_taken_for_compose_files() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let files = corpus_files(&corpus);
    assert!(!files.iter().any(|f| f.contains("/expected-")));
    assert!(files
        .iter()
        .any(|f| f == "docker-compose/pkg/e2e/fixtures/bridge/compose.yaml"));
    assert!(!is_compose_file(&corpus.join(
        "docker-compose/pkg/e2e/fixtures/bridge/expected-helm/Chart.yaml"
    )));
}
