//! `compose kube generate` against what a cluster accepts, checked from the outside: the
//! manifests made from every Compose file we have on disk (our tests' stacks, our examples and
//! `../shared/corpus`) validate against the Kubernetes 1.30 schemas in strict mode (PyPI's
//! `kubernetes-validate`, which `.ci/run` installs: unknown fields are rejected, as the API
//! server rejects them); the stacks under `tests/kube/<stack>/` give byte-for-byte the output
//! reviewed in their `expected.yaml` (and `expected-warnings.txt`), regenerated with
//! `UPDATE_GOLDEN=1`; every service, port, named volume and dependency of the input shows up in
//! the output or in a warning naming its key; output is deterministic; and `kubectl kustomize`
//! builds the kustomize output.
//!
//! The output is read as plain YAML (`serde_yaml_ng::Value`), never through the translator's
//! types, so these checks do not share its mistakes (the round-trip check is in
//! `tests/kube/round_trip.rs`, beside the golden stacks).
//! Checks that need an external tool skip with a printed reason when it is absent.

// Not `mod support { #[path = "cli.rs"] .. }` as elsewhere: with the `tests/kube/` folder of
// fixtures beside this file, rustfmt would look for the module in there.
#[path = "support/cli.rs"]
mod cli;
#[path = "kube/round_trip.rs"]
mod round_trip;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cli::{corpus_dir, Compose, Output};
use round_trip::{documents, round_trip_gaps};
use serde_json::Value as Json;

/// The Kubernetes version the output must be valid for (the oldest we target).
const K8S_VERSION: &str = "1.30.0";
/// PyPI's validator of manifests against the API's schemas.
const VALIDATOR: &str = "kubernetes-validate";
/// Files per validator run: it is Python, so each start costs about half a second.
const BATCH: usize = 200;
/// The folders of this repository whose Compose files are translated.
const REPO_ROOTS: &[&str] = &["tests", "examples"];
/// Stands for a golden stack's folder in its expected output (bind mounts name host paths).
const STACK_DIR: &str = "$STACK_DIR";

/// Corpus files whose secrets or configs are made of variables that their e2e tests set (as
/// `tests/corpus.rs` sets them): without them there is nothing to put in the Secret, and
/// `kube generate` rightly refuses, as `up` would.
const CORPUS_ENV: &[(&str, &[(&str, &str)])] = &[
    (
        "docker-compose/pkg/e2e/testdata/TestConfigFromEnv/compose.yaml",
        &[("CONFIG", "config")],
    ),
    (
        "docker-compose/pkg/e2e/testdata/TestSecretFromEnv/compose.yaml",
        &[("SECRET", "secret"), ("MY_SECRET", "secret")],
    ),
    (
        "docker-compose/pkg/e2e/testdata/TestSecretFromEnv/child/compose.yaml",
        &[("MY_SECRET", "secret")],
    ),
    (
        "docker-compose/pkg/e2e/testdata/TestSecretFromInclude/compose.yaml",
        &[("SECRET", "secret"), ("MY_SECRET", "secret")],
    ),
    (
        "docker-compose/pkg/e2e/testdata/TestSecretFromInclude/child/compose.yaml",
        &[("MY_SECRET", "secret")],
    ),
];

/// Corpus files whose secret files the corpus does not carry (Docker Compose's repository has
/// them beside its e2e tests): `kube generate` must name the file it cannot read.
const CORPUS_MISSING: &[(&str, &str)] = &[(
    "docker-compose/pkg/e2e/fixtures/volume-test/compose.yaml",
    "secrets.mysecret.file: cannot read",
)];

/// One Compose file to translate, run from its folder as `compose -f FILE ...`.
struct Case {
    dir: PathBuf,
    file: String,
    /// Where it comes from, for messages (relative to the repository or the corpus).
    label: String,
    /// Ours: it must load. The corpus holds files Docker Compose rejects too: those are skipped.
    must_load: bool,
}

impl Case {
    fn new(path: &Path, label: String, must_load: bool) -> Self {
        Case {
            dir: path.parent().expect("file has a folder").to_path_buf(),
            file: path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned(),
            label,
            must_load,
        }
    }

    fn compose(&self, args: &[&str]) -> Output {
        let mut all = vec!["-f", self.file.as_str()];
        all.extend_from_slice(args);
        let mut cmd = Compose::new(&self.dir).args(&all);
        let env = CORPUS_ENV.iter().filter(|(label, _)| *label == self.label);
        for (k, v) in env.flat_map(|(_, vars)| vars.iter()) {
            cmd = cmd.env(k, v);
        }
        cmd.run()
    }

    fn generate(&self, args: &[&str]) -> Output {
        let mut all = vec!["kube", "generate"];
        all.extend_from_slice(args);
        self.compose(&all)
    }

    /// The project as `compose config --format json` prints it, or `None` when it is rejected.
    fn config(&self) -> Option<Json> {
        let out = self.compose(&["config", "--format", "json"]);
        if out.code != 0 {
            return None;
        }
        Some(serde_json::from_str(&out.stdout).expect("config prints JSON"))
    }

    /// `generate ARGS`'s output when it succeeds; `Ok(None)` for a corpus file Compose rejects
    /// (skipped); `Err` with why otherwise.
    fn try_generate(&self, args: &[&str]) -> Result<Option<Output>, String> {
        let out = self.generate(args);
        if out.code == 0 {
            return Ok(Some(out));
        }
        if !self.must_load && self.compose(&["config", "-q"]).code != 0 {
            return Ok(None);
        }
        let missing = CORPUS_MISSING
            .iter()
            .find(|(label, _)| *label == self.label);
        if let Some((_, error)) = missing {
            if out.code == 1 && out.stderr.contains(error) {
                return Ok(None);
            }
        }
        Err(format!(
            "{}: kube generate {args:?} exited {}: {}",
            self.label, out.code, out.stderr
        ))
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `path` is a Compose file: YAML with top-level `services:` or `include:`, not a
/// Kubernetes manifest (top-level `apiVersion:`/`kind:`) nor a golden file of ours.
fn is_compose_file(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    if !(name.ends_with(".yaml") || name.ends_with(".yml")) || name.starts_with("expected") {
        return false;
    }
    if path
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with("expected-"))
    {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let top = |key: &str| text.lines().any(|l| l.starts_with(key));
    (top("services:") || top("include:")) && !top("apiVersion:") && !top("kind:")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if is_compose_file(&path) {
            out.push(path);
        }
    }
}

/// Every Compose file under `root`'s `folders`, sorted, labelled relative to `root`.
fn files_under(root: &Path, folders: &[&str], must_load: bool) -> Vec<Case> {
    let mut files = Vec::new();
    for f in folders {
        collect(&root.join(f), &mut files);
    }
    files.sort();
    files
        .iter()
        .map(|p| {
            let label = p.strip_prefix(root).unwrap_or(p).display().to_string();
            Case::new(p, label, must_load)
        })
        .collect()
}

/// Our own Compose files (tests and examples): each must load and translate.
fn repo_cases() -> Vec<Case> {
    files_under(&repo(), REPO_ROOTS, true)
}

/// The corpus's Compose files; empty (with a printed reason) when there is no corpus.
fn corpus_cases() -> Vec<Case> {
    let Some(corpus) = corpus_dir() else {
        eprintln!("corpus part skipped: ../shared/corpus is absent");
        return Vec::new();
    };
    let cases = files_under(&corpus, &["."], false);
    assert!(
        cases.len() > 150,
        "corpus looks incomplete: {}",
        cases.len()
    );
    cases
}

/// The golden stacks: `tests/kube/<stack>/compose.yaml`, by stack name.
fn golden_cases() -> Vec<Case> {
    let root = repo().join("tests/kube");
    let mut stacks: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/kube")
        .flatten()
        .map(|e| e.path().join("compose.yaml"))
        .filter(|p| p.is_file())
        .collect();
    stacks.sort();
    assert!(stacks.len() >= 8, "golden stacks missing: {stacks:?}");
    stacks
        .iter()
        .map(|p| {
            let stack = p.parent().and_then(Path::file_name).expect("stack folder");
            Case::new(p, stack.to_string_lossy().into_owned(), true)
        })
        .collect()
}

/// Whether the validator can run here.
fn validator_present() -> bool {
    Command::new(VALIDATOR)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What the validator says is wrong with `files`, run `batch` files at a time: every line it
/// prints in quiet mode (an error, or a warning such as a kind with no schema in 1.30), and
/// a failed run's exit code when it printed nothing.
fn validate(files: &[PathBuf], batch: usize) -> Vec<String> {
    let mut problems = Vec::new();
    for chunk in files.chunks(batch) {
        let out = Command::new(VALIDATOR)
            .args(["--strict", "-k", K8S_VERSION, "--quiet"])
            .args(chunk)
            .output()
            .expect("run kubernetes-validate");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let before = problems.len();
        problems.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string),
        );
        if !out.status.success() && problems.len() == before {
            problems.push(format!("{VALIDATOR} exited {:?} on {chunk:?}", out.status));
        }
    }
    problems
}

/// The files under `dir`, relative paths to contents, sorted.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read output dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("under base");
                out.insert(
                    rel.display().to_string(),
                    std::fs::read(&path).expect("read output file"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn compose_files_on_disk_are_found_and_golden_files_are_not() {
    let labels: Vec<String> = repo_cases().into_iter().map(|c| c.label).collect();
    for want in [
        "examples/quickstart/compose.yaml",
        "examples/config-demo/compose.yaml",
        "tests/kube/web-db-cache/compose.yaml",
    ] {
        assert!(labels.iter().any(|l| l == want), "{want} not in {labels:?}");
    }
    assert!(labels.iter().all(|l| !l.contains("expected")), "{labels:?}");
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, text, compose) in [
        ("compose.yaml", "apiVersion: v1\nkind: ConfigMap\n", false),
        ("expected.yaml", "services:\n  a: {}\n", false),
        ("other.yml", "services:\n  a: {}\n", true),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write");
        assert_eq!(is_compose_file(&path), compose, "{name}");
    }
}

#[test]
fn validator_catches_what_a_1_30_cluster_rejects() {
    if !validator_present() {
        eprintln!("skipped: {VALIDATOR} is not installed (.ci/run installs it)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, container_extra: &str| {
        let path = tmp.path().join(name);
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    \
             matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    \
             spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n{container_extra}"
        );
        std::fs::write(&path, text).expect("write manifest");
        path
    };
    let good = write("good.yaml", "          ports: [{containerPort: 80}]\n");
    let unknown = write("unknown.yaml", "          restartPolicyX: Always\n");
    // `lifecycle.stopSignal` came with 1.33: a cluster of 1.30 refuses it.
    let newer = write("newer.yaml", "          lifecycle: {stopSignal: SIGTERM}\n");
    let wrong_type = write("wrong-type.yaml", "          tty: \"yes please\"\n");
    let kind = tmp.path().join("kind.yaml");
    std::fs::write(
        &kind,
        "apiVersion: v1\nkind: Deploymnet\nmetadata: {name: x}\n",
    )
    .expect("write");

    assert_eq!(
        validate(std::slice::from_ref(&good), BATCH),
        Vec::<String>::new()
    );
    // Batches of two: every file is still checked.
    let all = [
        good.clone(),
        unknown.clone(),
        newer.clone(),
        wrong_type.clone(),
        kind.clone(),
    ];
    let problems = validate(&all, 2);
    for bad in [&unknown, &newer, &wrong_type, &kind] {
        let name = bad.display().to_string();
        assert!(
            problems.iter().any(|p| p.contains(&name)),
            "{name} not reported: {problems:#?}"
        );
    }
    let good_name = format!("{} ", good.display());
    assert!(
        !problems.iter().any(|p| p.contains(&good_name)),
        "{problems:#?}"
    );
    assert!(problems.iter().any(|p| p.contains("restartPolicyX")));
}

#[test]
fn every_compose_file_translates_to_manifests_a_1_30_cluster_accepts() {
    if !validator_present() {
        eprintln!("skipped: {VALIDATOR} is not installed (.ci/run installs it)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut files = Vec::new();
    let (mut translated, mut skipped) = (0, 0);
    for case in repo_cases().into_iter().chain(corpus_cases()) {
        let out_dir = tmp.path().join(case.label.replace('/', "__"));
        let out_arg = out_dir.display().to_string();
        match case.try_generate(&["-o", &out_arg]) {
            Ok(Some(_)) => {
                translated += 1;
                // A project without services may have nothing to write.
                if out_dir.is_dir() {
                    files.extend(tree(&out_dir).into_keys().map(|rel| out_dir.join(rel)));
                }
            }
            Ok(None) => skipped += 1,
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "{translated} Compose files translated ({skipped} the loader rejects skipped), {} manifests",
        files.len()
    );
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "yaml")),
        "manifests are .yaml files: {files:?}"
    );
    failures.extend(validate(&files, BATCH));
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `kube generate -o -` of a golden stack, with its folder written as [`STACK_DIR`].
fn golden_output(case: &Case) -> (String, String) {
    let out = case.generate(&["-o", "-"]);
    assert_eq!(out.code, 0, "{}: {}", case.label, out.stderr);
    let dir = case.dir.display().to_string();
    (
        out.stdout.replace(&dir, STACK_DIR),
        out.stderr.replace(&dir, STACK_DIR),
    )
}

/// The first line where `got` and `want` differ, for a readable failure.
fn first_difference(got: &str, want: &str) -> String {
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    let n = g.iter().zip(&w).take_while(|(a, b)| a == b).count();
    format!(
        "line {}: got {:?}, expected {:?}",
        n + 1,
        g.get(n).unwrap_or(&"<end>"),
        w.get(n).unwrap_or(&"<end>")
    )
}

#[test]
fn golden_stacks_translate_as_reviewed() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for case in golden_cases() {
        let (stdout, stderr) = golden_output(&case);
        for (name, got) in [
            ("expected.yaml", &stdout),
            ("expected-warnings.txt", &stderr),
        ] {
            let path = case.dir.join(name);
            if update {
                std::fs::write(&path, got).expect("write golden file");
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(want) if want == *got => {}
                Ok(want) => failures.push(format!(
                    "{}/{name}: {}",
                    case.label,
                    first_difference(got, &want)
                )),
                Err(e) => failures.push(format!("{}/{name}: {e}", case.label)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden output differs (review, then regenerate with UPDATE_GOLDEN=1 cargo test --test kube golden):\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_service_port_volume_and_dependency_is_carried_over_or_warned() {
    let mut gaps = Vec::new();
    let mut checked = 0;
    for case in repo_cases().into_iter().chain(corpus_cases()) {
        let Some(config) = case.config() else {
            assert!(!case.must_load, "{}: compose config rejects it", case.label);
            continue;
        };
        match case.try_generate(&["-o", "-"]) {
            Ok(Some(out)) => {
                checked += 1;
                let docs = documents(&out.stdout);
                gaps.extend(round_trip_gaps(&case.label, &config, &docs, &out.stderr));
            }
            Ok(None) => {}
            Err(e) => gaps.push(e),
        }
    }
    eprintln!("{checked} Compose files checked");
    assert!(gaps.is_empty(), "{} gaps:\n{}", gaps.len(), gaps.join("\n"));
}

#[test]
fn output_is_byte_identical_from_one_run_to_the_next() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut differing = Vec::new();
    for case in golden_cases().into_iter().chain(repo_cases()) {
        let runs: Vec<String> = (0..2).map(|_| case.generate(&["-o", "-"]).stdout).collect();
        if runs[0] != runs[1] || runs[0].is_empty() {
            differing.push(format!("{}: stream", case.label));
        }
        for format in ["manifests", "helm", "kustomize"] {
            let trees: Vec<BTreeMap<String, Vec<u8>>> = (0..2)
                .map(|i| {
                    let dir = tmp
                        .path()
                        .join(format!("{}-{format}-{i}", case.label.replace('/', "__")));
                    let dir_arg = dir.display().to_string();
                    let out = case.generate(&["--format", format, "-o", &dir_arg]);
                    assert_eq!(out.code, 0, "{} {format}: {}", case.label, out.stderr);
                    tree(&dir)
                })
                .collect();
            if trees[0] != trees[1] || trees[0].is_empty() {
                differing.push(format!("{}: {format}", case.label));
            }
        }
    }
    for case in corpus_cases() {
        // A file that fails to translate is reported by the validation test.
        let runs: Vec<Option<Output>> = (0..2)
            .map(|_| case.try_generate(&["-o", "-"]).ok().flatten())
            .collect();
        if let [Some(a), Some(b)] = &runs[..] {
            if a.stdout != b.stdout || a.stderr != b.stderr {
                differing.push(format!("{}: stream", case.label));
            }
        }
    }
    assert!(
        differing.is_empty(),
        "not deterministic:\n{}",
        differing.join("\n")
    );
}

/// Whether `kubectl` reaches an API server (only then can `apply --dry-run` run).
fn kubectl_has_server() -> bool {
    Command::new("kubectl")
        .args(["version", "--request-timeout=3s", "-o", "json"])
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("serverVersion")
        })
}

#[test]
fn kubectl_builds_the_kustomize_output() {
    if !Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("skipped: kubectl is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = kubectl_has_server();
    if !server {
        eprintln!("kubectl apply --dry-run=client skipped: no API server reachable");
    }
    let mut built = Vec::new();
    let mut failures = Vec::new();
    for case in golden_cases().into_iter().chain(repo_cases()) {
        let slug = case.label.replace('/', "__");
        let dir = tmp.path().join(format!("{slug}-kustomize"));
        let dir_arg = dir.display().to_string();
        let out = case.generate(&["--format", "kustomize", "-o", &dir_arg]);
        assert_eq!(out.code, 0, "{}: {}", case.label, out.stderr);
        let files = tree(&dir);
        assert!(
            files.contains_key("kustomization.yaml"),
            "{}: {files:?}",
            case.label
        );
        let kubectl = Command::new("kubectl")
            .arg("kustomize")
            .arg(&dir)
            .output()
            .expect("run kubectl");
        if !kubectl.status.success() {
            failures.push(format!(
                "{}: kubectl kustomize: {}",
                case.label,
                String::from_utf8_lossy(&kubectl.stderr)
            ));
            continue;
        }
        let stream = String::from_utf8(kubectl.stdout).expect("UTF-8");
        let objects = documents(&stream).len();
        if objects != files.len() - 1 {
            failures.push(format!(
                "{}: kustomize built {objects} objects from {} files",
                case.label,
                files.len() - 1
            ));
        }
        let built_file = tmp.path().join(format!("{slug}-built.yaml"));
        std::fs::write(&built_file, stream).expect("write kustomize build");
        built.push(built_file);
        if server {
            let apply = Command::new("kubectl")
                .args(["apply", "--dry-run=client", "-k"])
                .arg(&dir)
                .output()
                .expect("run kubectl apply");
            if !apply.status.success() {
                failures.push(format!(
                    "{}: kubectl apply --dry-run=client: {}",
                    case.label,
                    String::from_utf8_lossy(&apply.stderr)
                ));
            }
        }
    }
    if validator_present() {
        failures.extend(validate(&built, BATCH));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The README shows the quickstart's objects as `kube generate` writes them today.
#[test]
fn readme_shows_the_quickstart_as_generated() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let start = readme
        .find("<summary>The generated objects")
        .and_then(|i| {
            readme[i..]
                .find("```yaml\n")
                .map(|j| i + j + "```yaml\n".len())
        })
        .expect("the README's block of the quickstart's objects");
    let end = start + readme[start..].find("```\n").expect("end of the block");
    let out = Compose::new(&repo().join("examples/quickstart"))
        .args(&["kube", "generate"])
        .run();
    assert_eq!(
        &readme[start..end],
        out.ok_with_warnings(),
        "README.md: paste `compose kube generate` of examples/quickstart"
    );
}
