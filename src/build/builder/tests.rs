//! The orchestrator's decisions, through the recording backend.

use serde_json::json;

use super::fake::{Fake, FakeBases};
use super::image_config::ImageConfig;
use super::*;
use crate::build::progress::Silent;

fn request(dockerfile: &str) -> BuildRequest {
    BuildRequest {
        name: "web".into(),
        dockerfile: DockerfileSource::Inline(dockerfile.into()),
        tags: vec![Reference::parse("proj-web").unwrap()],
        ..BuildRequest::default()
    }
}

fn ran(fake: &Fake) -> Vec<String> {
    fake.snapshot().ran.iter().map(|(s, _)| s.clone()).collect()
}

/// A fake with base image `base` and a Dockerfile's `src` reading content 1.
struct World {
    f: Fake,
    bases: FakeBases,
}

impl World {
    fn build(&mut self, req: &BuildRequest) -> Result<BuiltImage, BuildError> {
        build_with(req, &self.f, &mut self.bases, &mut Silent)
    }
}

const MULTI: &str = "FROM base AS build\nARG V=1\nRUN make $V\nCOPY src /src\nRUN make install\n\
                     FROM base AS unused\nRUN never\n\
                     FROM scratch\nCOPY --from=build /out /app\nCMD [\"/app\"]\n";

fn fake() -> World {
    let w = World {
        f: Fake::default(),
        bases: FakeBases::default(),
    };
    let mut w = w;
    w.bases.0.insert("base".into(), ImageConfig::default());
    w.f.state().content.insert("src".into(), 1);
    w
}

#[test]
fn only_needed_stages_run_and_the_final_stage_is_committed() {
    let mut f = fake();
    let built = f.build(&request(MULTI)).unwrap();
    assert_eq!(
        ran(&f.f),
        vec![
            "RUN make $V",
            "COPY Path(\"src\")",
            "RUN make install",
            "COPY Path(\"/out\")",
        ]
    );
    // The base has one layer; each step adds one; scratch starts empty.
    assert_eq!(
        f.f.snapshot()
            .ran
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 0]
    );
    let (config, layers, names) = &f.f.snapshot().committed[0];
    assert_eq!(layers.len(), 1);
    assert_eq!(names[0].to_string(), "docker.io/library/proj-web:latest");
    assert_eq!(config["config"]["Cmd"], json!(["/app"]));
    assert_eq!(built.steps.iter().filter(|(_, c)| *c).count(), 0);
}

#[test]
fn an_unchanged_rebuild_runs_nothing_and_a_changed_file_reruns_from_its_copy() {
    let mut f = fake();
    f.build(&request(MULTI)).unwrap();
    f.f.state().ran.clear();
    let again = f.build(&request(MULTI)).unwrap();
    assert!(ran(&f.f).is_empty(), "{:?}", ran(&f.f));
    assert!(again.steps.iter().all(|(_, cached)| *cached));
    {
        let st = f.f.snapshot();
        assert_eq!(st.committed[0].1, st.committed[1].1, "same layers");
    }
    // Dated by its steps, a rebuild that runs nothing is the same image, however much later:
    // every cached step says it ran at 1000 s, so the image and its history say so too.
    for hit in f.f.state().cache.values_mut() {
        hit.created = Some(1000);
    }
    f.build(&request(MULTI)).unwrap();
    {
        let st = f.f.snapshot();
        let config = &st.committed[2].0;
        assert_eq!(config["created"], json!("1970-01-01T00:16:40Z"));
        let history = config["history"].as_array().unwrap();
        assert!(
            history
                .iter()
                .all(|h| h["created"] == json!("1970-01-01T00:16:40Z")),
            "{history:?}"
        );
    }

    f.f.state().content.insert("src".into(), 2);
    let third = f.build(&request(MULTI)).unwrap();
    assert_eq!(
        ran(&f.f),
        vec![
            "COPY Path(\"src\")",
            "RUN make install",
            "COPY Path(\"/out\")"
        ]
    );
    assert_eq!(
        third.steps.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
        vec![true, false, false, false]
    );

    f.f.state().ran.clear();
    let mut req = request(MULTI);
    req.no_cache = true;
    f.build(&req).unwrap();
    assert_eq!(f.f.snapshot().ran.len(), 4);
}

#[test]
fn a_build_arg_reaches_run_and_changes_its_key() {
    let mut f = fake();
    f.build(&request(MULTI)).unwrap();
    assert!(f.f.snapshot().runs[0].env.contains(&"V=1".to_string()));
    assert!(f.f.snapshot().runs[0]
        .env
        .iter()
        .any(|e| e.starts_with("PATH=")));
    f.f.state().ran.clear();
    let mut req = request(MULTI);
    req.args.insert("V".into(), "2".into());
    f.build(&req).unwrap();
    assert_eq!(ran(&f.f)[0], "RUN make $V");
    assert!(f
        .f
        .snapshot()
        .runs
        .last()
        .unwrap()
        .env
        .contains(&"V=2".to_string()));
}

#[test]
fn metadata_instructions_make_the_config_docker_makes() {
    let mut base = ImageConfig {
        cmd: Some(vec!["sh".into()]),
        ..ImageConfig::default()
    };
    base.env.insert("PATH".into(), "/bin".into());
    let mut f = World {
        f: Fake::default(),
        bases: FakeBases::default(),
    };
    f.bases.0.insert("base".into(), base);
    let df =
        "FROM base\nENV A=1 B=\"two words\"\nENV C=$A\nWORKDIR /app\nWORKDIR sub\nUSER 1000:1000\n\
              EXPOSE 80 53/udp 8000-8001\nVOLUME /data\nLABEL a=b\nSTOPSIGNAL SIGINT\n\
              HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost\n\
              ENTRYPOINT [\"/entry\"]\nSHELL [\"/bin/bash\", \"-c\"]\nONBUILD RUN echo hi\n";
    let mut req = request(df);
    req.labels.insert("com.example".into(), "x".into());
    req.source_date_epoch = Some(0);
    f.build(&req).unwrap();
    let (config, layers, _) = &f.f.snapshot().committed[0];
    assert_eq!(layers.len(), 1, "metadata adds no layer");
    let c = &config["config"];
    assert_eq!(c["Env"], json!(["PATH=/bin", "A=1", "B=two words", "C=1"]));
    assert_eq!(c["WorkingDir"], json!("/app/sub"));
    assert_eq!(c["User"], json!("1000:1000"));
    assert_eq!(
        c["ExposedPorts"],
        json!({"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}})
    );
    assert_eq!(c["Volumes"], json!({"/data": {}}));
    assert_eq!(c["Labels"], json!({"a": "b", "com.example": "x"}));
    assert_eq!(c["StopSignal"], json!("SIGINT"));
    assert_eq!(
        c["Healthcheck"],
        json!({"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 5_000_000_000u64, "Retries": 3})
    );
    // Docker: an ENTRYPOINT resets the CMD inherited from the base image.
    assert_eq!(c["Entrypoint"], json!(["/entry"]));
    assert!(c.get("Cmd").is_none());
    assert_eq!(c["Shell"], json!(["/bin/bash", "-c"]));
    assert_eq!(c["OnBuild"], json!(["RUN echo hi"]));
    assert_eq!(config["created"], json!("1970-01-01T00:00:00Z"));
    let history = config["history"].as_array().unwrap();
    assert!(history.iter().all(|h| h["empty_layer"] == json!(true)));
}

#[test]
fn a_cmd_set_in_the_stage_survives_a_later_entrypoint_and_shell_forms_use_the_shell() {
    let mut f = fake();
    f.build(&request(
        "FROM base\nCMD run me\nENTRYPOINT [\"/e\"]\nSHELL [\"/bin/ash\", \"-eo\"]\nRUN x\n",
    ))
    .unwrap();
    let c = &f.f.snapshot().committed[0].0["config"];
    assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "run me"]));
    assert_eq!(f.f.snapshot().runs[0].argv, vec!["/bin/ash", "-eo", "x"]);
}

#[test]
fn a_failing_run_names_its_step_and_exit_code_and_commits_nothing() {
    let mut f = fake();
    let err = f
        .build(&request("FROM base AS b\nRUN ok\nRUN exit 3\nRUN after\n"))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "web: [web b 3/4] RUN exit 3: process \"/bin/sh -c exit 3\" did not complete \
             successfully: exit code: 3"
        ),
        "{text}"
    );
    assert!(text.contains("ran exit 3"), "the output's tail: {text}");
    assert!(f.f.snapshot().committed.is_empty());
    assert_eq!(ran(&f.f), vec!["RUN ok", "RUN exit 3"]);
}

#[test]
fn heredocs_and_run_options_reach_the_run() {
    let mut f = fake();
    f.build(&request("FROM base\nWORKDIR /w\nRUN --network=none --mount=type=cache,target=c <<EOF\necho hi\nEOF\nRUN cat <<'A'\n$x\nA\n"))
    .unwrap();
    assert_eq!(
        f.f.snapshot().runs[0].argv,
        vec!["/bin/sh", "-c", "echo hi\n"]
    );
    assert_eq!(f.f.snapshot().runs[0].network, backend::RunNet::None);
    assert_eq!(f.f.snapshot().runs[0].cwd, "/w");
    assert!(matches!(
        &f.f.snapshot().runs[0].mounts[0],
        backend::RunMount::Cache { id, target, .. } if id == "/w/c" && target == "/w/c"
    ));
    assert_eq!(f.f.snapshot().runs[1].argv[2], "cat <<'A'\n$x\nA\n");
}

#[test]
fn an_unknown_target_or_another_platform_is_refused_before_anything_runs() {
    let mut f = fake();
    let mut req = request("FROM base AS a\nRUN x\n");
    req.target = Some("nope".into());
    let err = f.build(&req).unwrap_err();
    assert!(err.to_string().contains("target stage \"nope\""), "{err}");
    let err = f
        .build(&request("FROM --platform=linux/s390x base\nRUN x\n"))
        .unwrap_err();
    assert!(
        err.to_string().contains("only the host's platform"),
        "{err}"
    );
    assert!(f.f.snapshot().ran.is_empty());
}

#[test]
fn a_base_images_onbuild_triggers_run_first_and_are_not_inherited() {
    let mut f = fake();
    f.bases.0.insert(
        "onbuilder".into(),
        ImageConfig {
            on_build: vec!["RUN trigger".into(), "ENV FROM_TRIGGER=1".into()],
            ..ImageConfig::default()
        },
    );
    f.build(&request("FROM onbuilder\nRUN mine\n")).unwrap();
    assert_eq!(ran(&f.f), vec!["RUN trigger", "RUN mine"]);
    assert!(f.f.snapshot().runs[1]
        .env
        .contains(&"FROM_TRIGGER=1".to_string()));
    assert!(f.f.snapshot().committed[0].0["config"]
        .get("OnBuild")
        .is_none());
}
