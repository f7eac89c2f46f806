//! Request building, build order, `up`'s build-or-pull decision and `compose build`, through a
//! recording fake of the [`ImageBuilder`] seam: no root, no builder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::command::{build_command, check_builds, BuildCommandOptions};
use super::ensure::{build_needed, must_build, ImageOptions};
use super::order::build_order;
use super::request::build_request;
use super::*;
use crate::build::{BuildNetwork, DockerfileSource, NamedContext, SecretSource};
use crate::model::types::resources::Project;
use crate::planner::pull_policy::PullPolicy;
use crate::stack::Reporter;

fn project(yaml: &str) -> Project {
    let mut p: Project = crate::model::types::fields::test_support::load(yaml).expect("project");
    p.name = Some("proj".into());
    p
}

fn request(p: &Project, service: &str, flags: &BuildFlags) -> Result<BuildRequest, String> {
    build_request(p, "proj", service, flags, &BTreeMap::new()).map_err(|e| e.to_string())
}

/// Records every request; gives each build the id `sha256:<service>`, or fails the services
/// named in `fail`.
#[derive(Default)]
struct Recording {
    built: Vec<(String, BuildRequest)>,
    fail: Vec<String>,
}

impl ImageBuilder for Recording {
    fn build(&mut self, service: &str, request: &BuildRequest) -> Result<BuiltImage, StackError> {
        self.built.push((service.to_string(), request.clone()));
        if self.fail.iter().any(|f| f == service) {
            return Err(StackError::Build(crate::build::BuildError::RunFailed {
                build: service.to_string(),
                step: format!("[{service} 2/2] RUN false"),
                process: "/bin/sh -c false".into(),
                code: 1,
                tail: String::new(),
            }));
        }
        Ok(BuiltImage {
            id: format!("sha256:{service}"),
            names: request.tags.clone(),
            steps: Vec::new(),
        })
    }
}

impl Recording {
    fn services(&self) -> Vec<&str> {
        self.built.iter().map(|(s, _)| s.as_str()).collect()
    }
}

/// Records the events a command reports.
#[derive(Default)]
struct Events(Vec<String>);

impl Reporter for Events {
    fn event(&mut self, kind: &str, name: &str, action: &str) {
        self.0.push(format!("{kind} {name} {action}"));
    }
    fn warn(&mut self, message: &str) {
        self.0.push(format!("warn {message}"));
    }
}

#[test]
fn the_image_is_named_as_docker_compose_names_it_then_tagged() {
    let p = project(
        "services:\n  web:\n    build: /src\n  api:\n    image: registry.local/api:1\n    \
         build: {context: /src, tags: ['api:latest', 'mirror.local/api:1']}\n",
    );
    let web = request(&p, "web", &BuildFlags::default()).expect("web");
    assert_eq!(
        web.tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
        ["proj-web:latest"]
    );
    let api = request(&p, "api", &BuildFlags::default()).expect("api");
    assert_eq!(
        api.tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
        ["registry.local/api:1", "api:latest", "mirror.local/api:1"]
    );
    assert_eq!(api.name, "api");
    assert_eq!(api.labels["com.docker.compose.project"], "proj");
    assert_eq!(api.labels["com.docker.compose.service"], "api");
}

#[test]
fn paths_are_absolute_and_the_dockerfile_is_relative_to_the_context() {
    let p = project(
        "services:\n  a:\n    build: {context: /src/app, dockerfile: docker/web.Dockerfile}\n  \
         b:\n    build: /src/b\n  c:\n    build: {context: /src, dockerfile_inline: 'FROM scratch'}\n",
    );
    let flags = BuildFlags::default();
    let a = request(&p, "a", &flags).expect("a");
    assert_eq!(a.context, PathBuf::from("/src/app"));
    assert_eq!(
        a.dockerfile,
        DockerfileSource::Path("/src/app/docker/web.Dockerfile".into())
    );
    let b = request(&p, "b", &flags).expect("b");
    assert_eq!(
        b.dockerfile,
        DockerfileSource::Path("/src/b/Dockerfile".into())
    );
    let c = request(&p, "c", &flags).expect("c");
    assert_eq!(
        c.dockerfile,
        DockerfileSource::Inline("FROM scratch".into())
    );
}

#[test]
fn build_arg_flags_override_the_file_and_bare_ones_come_from_the_environment() {
    let mut p = project(
        "services:\n  web:\n    build:\n      context: /src\n      args: {A: file, B: file, C: file}\n",
    );
    p.source_values.0.insert("B".into(), "from-env".into());
    let flags = BuildFlags {
        build_args: vec!["A=flag".into(), "B".into(), "D=new".into(), "UNSET".into()],
        ..BuildFlags::default()
    };
    let r = request(&p, "web", &flags).expect("web");
    let want: BTreeMap<String, String> = [
        ("A", "flag"),
        ("B", "from-env"),
        ("C", "file"),
        ("D", "new"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(r.args, want);
}

#[test]
fn flags_and_keys_reach_the_request() {
    let mut p = project(
        "services:\n  web:\n    build:\n      context: /src\n      target: prod\n      \
         no_cache: false\n      pull: true\n      network: backend\n      \
         extra_hosts: ['db=10.0.0.2']\n      shm_size: 1m\n      privileged: true\n      \
         ulimits: {nofile: {soft: 1024, hard: 2048}}\n      secrets: [npm, {source: key, target: ssh_key}]\n      \
         additional_contexts: {lib: /lib, img: 'docker-image://alpine:3'}\n\
         networks:\n  backend: {}\n\
         secrets:\n  npm: {file: /run/npmrc}\n  key: {environment: KEY}\n",
    );
    p.source_values.0.insert("KEY".into(), "s3cret".into());
    p.source_values
        .0
        .insert("SOURCE_DATE_EPOCH".into(), "1700000000".into());
    let flags = BuildFlags {
        no_cache: true,
        ..BuildFlags::default()
    };
    let r = request(&p, "web", &flags).expect("web");
    assert_eq!(r.target.as_deref(), Some("prod"));
    assert!(r.no_cache && r.pull && r.privileged);
    assert_eq!(r.network, BuildNetwork::Network("proj_backend".into()));
    assert_eq!(r.extra_hosts, [("db".to_string(), "10.0.0.2".to_string())]);
    assert_eq!(r.shm_size, Some(1024 * 1024));
    assert_eq!(r.ulimits.len(), 1);
    assert_eq!(r.ulimits[0].resource, "RLIMIT_NOFILE");
    assert_eq!((r.ulimits[0].soft, r.ulimits[0].hard), (1024, 2048));
    assert_eq!(r.secrets["npm"], SecretSource::File("/run/npmrc".into()));
    assert_eq!(
        r.secrets["ssh_key"],
        SecretSource::Value(b"s3cret".to_vec())
    );
    assert_eq!(
        r.additional_contexts["lib"],
        NamedContext::Dir("/lib".into())
    );
    assert_eq!(
        r.additional_contexts["img"],
        NamedContext::Image("alpine:3".into())
    );
    assert_eq!(r.source_date_epoch, Some(1_700_000_000));
}

#[test]
fn build_networks() {
    let p = project(
        "services:\n  a: {build: {context: /s, network: none}}\n  b: {build: {context: /s, network: host}}\n  \
         c: {build: /s}\n  d: {build: {context: /s, network: nope}}\n",
    );
    let flags = BuildFlags::default();
    assert_eq!(
        request(&p, "a", &flags).expect("a").network,
        BuildNetwork::None
    );
    assert_eq!(
        request(&p, "b", &flags).expect("b").network,
        BuildNetwork::Host
    );
    assert_eq!(
        request(&p, "c", &flags).expect("c").network,
        BuildNetwork::Default
    );
    let err = request(&p, "d", &flags).expect_err("unknown network");
    assert!(
        err.starts_with("service d: build.network: \"nope\""),
        "{err}"
    );
}

#[test]
fn what_cannot_be_built_is_refused_naming_service_and_key() {
    let other = if crate::engine::image::host_arch() == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    let cases = [
        (
            "build: https://github.com/x/y.git".to_string(),
            "service web: build.context: Git repository https://github.com/x/y.git cannot be fetched offline",
        ),
        (
            "build: https://example.com/ctx.tar.gz".to_string(),
            "service web: build.context: https://example.com/ctx.tar.gz cannot be fetched offline",
        ),
        (
            format!("build: {{context: /s, platforms: [{other}]}}"),
            "service web: build.platforms: cannot build for",
        ),
        (
            "build: {context: /s, ssh: [default]}".to_string(),
            "service web: build.ssh: SSH agent forwarding is not supported",
        ),
        (
            "build: {context: /s, entitlements: [network.host]}".to_string(),
            "service web: build.entitlements:",
        ),
        (
            "build: {context: /s, cache_from: [type=local,src=/c]}".to_string(),
            "service web: build.cache_from:",
        ),
        (
            "build: {context: /s, cache_to: [type=local,dest=/c]}".to_string(),
            "service web: build.cache_to:",
        ),
        (
            "build: {context: /s, isolation: hyperv}".to_string(),
            "service web: build.isolation:",
        ),
        (
            "build: {context: /s, additional_contexts: {x: 'https://e.com/x.git'}}".to_string(),
            "service web: build.additional_contexts.x: Git repository",
        ),
        (
            "build: {context: /s, secrets: [nope]}".to_string(),
            "service web: build.secrets.nope: no such top-level secret",
        ),
    ];
    for (section, want) in cases {
        let p = project(&format!("services:\n  web:\n    {section}\n"));
        let err = request(&p, "web", &BuildFlags::default()).expect_err(&section);
        assert!(err.starts_with(want), "{section}: {err}");
    }
    let host = format!("linux/{}", crate::engine::image::host_arch());
    let p = project(&format!(
        "services:\n  web:\n    build: {{context: /s, platforms: [{host}]}}\n"
    ));
    assert!(request(&p, "web", &BuildFlags::default()).is_ok());
}

#[test]
fn a_bad_source_date_epoch_is_an_error() {
    let mut p = project("services:\n  web: {build: /s}\n");
    p.source_values
        .0
        .insert("SOURCE_DATE_EPOCH".into(), "yesterday".into());
    let err = request(&p, "web", &BuildFlags::default()).expect_err("bad epoch");
    assert!(err.starts_with("service web: SOURCE_DATE_EPOCH:"), "{err}");
}

const CONTEXTS: &str = "services:
  web:
    build: {context: /s, additional_contexts: {base: 'service:base'}}
    depends_on: [db]
  base:
    build: {context: /s, additional_contexts: {tools: 'service:tools'}}
  tools:
    build: /s
  db:
    image: postgres
  cache:
    build: /s
";

#[test]
fn service_contexts_are_built_first_each_once_and_others_are_skipped() {
    let p = project(CONTEXTS);
    let order = build_order(&p, &["web".into(), "db".into(), "tools".into()]).expect("order");
    assert_eq!(order, ["tools", "base", "web"]);
    let all: Vec<String> = p.services.keys().cloned().collect();
    assert_eq!(
        build_order(&p, &all).expect("order"),
        ["tools", "base", "web", "cache"]
    );
}

#[test]
fn a_cycle_of_service_contexts_is_an_error() {
    let p = project(
        "services:\n  a: {build: {context: /s, additional_contexts: {b: 'service:b'}}}\n  \
         b: {build: {context: /s, additional_contexts: {a: 'service:a'}}}\n",
    );
    let err = build_order(&p, &["a".into()]).expect_err("cycle");
    assert_eq!(err.to_string(), "build contexts form a cycle: a -> b -> a");
}

#[test]
fn compose_build_builds_in_order_and_passes_context_images() {
    let p = project(CONTEXTS);
    let mut fake = Recording::default();
    let mut rep = Events::default();
    let opts = BuildCommandOptions {
        services: vec!["web".into()],
        ..BuildCommandOptions::default()
    };
    let built = build_command(&p, "proj", &opts, &mut fake, &mut rep).expect("build");
    assert_eq!(fake.services(), ["tools", "base", "web"]);
    let web = &fake.built[2].1;
    assert_eq!(
        web.additional_contexts["base"],
        NamedContext::Image("sha256:base".into())
    );
    assert_eq!(
        built.iter().map(|b| b.id.as_deref()).collect::<Vec<_>>(),
        [
            Some("sha256:tools"),
            Some("sha256:base"),
            Some("sha256:web")
        ]
    );
    assert_eq!(
        rep.0[..2],
        [
            "Service tools Building".to_string(),
            "Service tools Built".to_string()
        ]
    );
}

#[test]
fn with_dependencies_builds_what_the_services_depend_on() {
    let p = project(
        "services:\n  web: {build: /s, depends_on: [api]}\n  api: {build: /s, depends_on: [db]}\n  \
         db: {image: postgres}\n  other: {build: /s}\n",
    );
    let mut rep = Events::default();
    let opts = |deps| BuildCommandOptions {
        services: vec!["web".into()],
        with_dependencies: deps,
        ..BuildCommandOptions::default()
    };
    let mut fake = Recording::default();
    build_command(&p, "proj", &opts(false), &mut fake, &mut rep).expect("build");
    assert_eq!(fake.services(), ["web"]);
    let mut fake = Recording::default();
    build_command(&p, "proj", &opts(true), &mut fake, &mut rep).expect("build");
    assert_eq!(fake.services(), ["api", "web"]);
}

#[test]
fn a_refused_build_stops_compose_build_before_the_first_build() {
    let p = project("services:\n  a: {build: /s}\n  b: {build: {context: /s, ssh: [default]}}\n");
    let mut fake = Recording::default();
    let err = build_command(
        &p,
        "proj",
        &BuildCommandOptions::default(),
        &mut fake,
        &mut Events::default(),
    )
    .expect_err("ssh refused");
    assert!(
        err.to_string().starts_with("service b: build.ssh:"),
        "{err}"
    );
    assert!(fake.built.is_empty(), "{:?}", fake.services());
}

#[test]
fn a_failed_build_names_the_step_and_stops() {
    let p = project("services:\n  a: {build: /s}\n  b: {build: /s}\n");
    let mut fake = Recording {
        fail: vec!["a".into()],
        ..Recording::default()
    };
    let err = build_command(
        &p,
        "proj",
        &BuildCommandOptions::default(),
        &mut fake,
        &mut Events::default(),
    )
    .expect_err("a fails");
    assert_eq!(
        err.to_string(),
        "a: [a 2/2] RUN false: process \"/bin/sh -c false\" did not complete successfully: \
         exit code: 1"
    );
    assert_eq!(fake.services(), ["a"]);
}

#[test]
fn dry_run_checks_every_build_and_builds_nothing() {
    let p = project(CONTEXTS);
    let opts = BuildCommandOptions {
        dry_run: true,
        ..BuildCommandOptions::default()
    };
    let planned = check_builds(&p, "proj", &opts).expect("dry run");
    assert_eq!(
        planned
            .iter()
            .map(|b| b.service.as_str())
            .collect::<Vec<_>>(),
        ["tools", "base", "web", "cache"]
    );
    assert!(planned.iter().all(|b| b.id.is_none()));
    assert_eq!(planned[2].tags, ["proj-web:latest"]);
}

/// The expectations come from Docker Compose (pkg/compose/build.go, create.go): `--build` sets
/// every buildable service's policy to `build`, `--no-build` drops the build sections, and
/// otherwise a service is built when its image is missing after the pulls, or its policy is
/// `build`.
#[test]
fn when_up_builds() {
    use BuildMode as M;
    use PullPolicy as P;
    let cases = [
        // (mode, has build, policy, stored, built)
        (M::Missing, true, P::Missing, false, true),
        (M::Missing, true, P::Missing, true, false),
        (M::Missing, true, P::Build, true, true),
        (M::Missing, true, P::Never, false, true),
        (M::Missing, true, P::Always, true, false),
        (M::Missing, false, P::Build, false, false),
        (M::Always, true, P::Missing, true, true),
        (M::Always, false, P::Missing, false, false),
        (M::Never, true, P::Build, false, false),
        (M::Never, true, P::Missing, false, false),
    ];
    for (mode, has_build, policy, stored, want) in cases {
        assert_eq!(
            must_build(mode, has_build, policy, stored),
            want,
            "{mode:?} build={has_build} {policy:?} stored={stored}"
        );
    }
}

#[test]
fn up_builds_what_is_missing_and_uses_a_stored_context_image() {
    let p = project(
        "services:\n  web:\n    build: {context: /s, additional_contexts: {base: 'service:base'}}\n  \
         base: {build: /s}\n  api: {image: api:1, build: /s}\n  pinned: {build: /s, pull_policy: build}\n  \
         db: {image: postgres}\n",
    );
    let stored_images = ["proj-base", "api:1", "proj-pinned", "postgres"];
    let mut stored = |r: &str| Ok(stored_images.contains(&r));
    let services: Vec<String> = p.services.keys().cloned().collect();
    let mut fake = Recording::default();
    let built = build_needed(
        &p,
        "proj",
        &services,
        &ImageOptions::default(),
        &mut stored,
        &mut fake,
        &mut Events::default(),
    )
    .expect("builds");
    // web is missing; pinned always builds; base and api are stored.
    assert_eq!(fake.services(), ["web", "pinned"]);
    assert_eq!(
        fake.built[0].1.additional_contexts["base"],
        NamedContext::Image("proj-base".into())
    );
    assert_eq!(built["web"], "sha256:web");
}

#[test]
fn up_build_rebuilds_every_buildable_service_and_no_build_none() {
    let p = project("services:\n  web: {build: /s}\n  api: {image: api:1, build: /s}\n  db: {image: postgres}\n");
    let services: Vec<String> = p.services.keys().cloned().collect();
    let run = |mode| {
        let mut stored = |_: &str| Ok(true);
        let mut fake = Recording::default();
        let opts = ImageOptions {
            build: mode,
            ..ImageOptions::default()
        };
        build_needed(
            &p,
            "proj",
            &services,
            &opts,
            &mut stored,
            &mut fake,
            &mut Events::default(),
        )
        .expect("builds");
        fake.services()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(BuildMode::Always), ["web", "api"]);
    assert!(run(BuildMode::Never).is_empty());
    assert!(run(BuildMode::Missing).is_empty());
}
