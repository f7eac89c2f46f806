//! End-to-end tests of `compose config`: the real binary, run in temporary project folders with a
//! controlled environment, checked against what a Docker Compose user expects to see.

mod support {
    #[path = "cli.rs"]
    pub mod cli;
}

use support::cli::{compose, Project};

/// The project name `config` printed (its first line is `name: ...`).
#[track_caller]
fn name_of(yaml: &str) -> &str {
    yaml.lines()
        .next()
        .and_then(|l| l.strip_prefix("name: "))
        .unwrap_or_else(|| panic!("no name line in:\n{yaml}"))
}

/// Parses `config --format json` output.
#[track_caller]
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}"))
}

/// One service's `image:` value in `config --format json` output.
#[track_caller]
fn image_of(out: &str, service: &str) -> String {
    json(out)["services"][service]["image"]
        .as_str()
        .unwrap_or_else(|| panic!("no image for {service} in:\n{out}"))
        .to_string()
}

const WEB: &str = "services:\n  web:\n    image: nginx\n";

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

#[test]
fn canonical_output_of_a_small_project() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    ports:\n      - \"8080:80\"\n    volumes:\n      - ./site:/usr/share/nginx/html:ro\n",
    );
    let out = p.compose(&["config"]);
    let want = format!(
        "name: app
services:
  web:
    image: nginx
    networks:
      default: null
    ports:
      - mode: ingress
        target: 80
        published: \"8080\"
        protocol: tcp
    volumes:
      - type: bind
        source: {}
        target: /usr/share/nginx/html
        read_only: true
        bind:
          create_host_path: true
networks:
  default:
    name: app_default
",
        p.path("site")
    );
    assert_eq!(out.ok(), want);
}

#[test]
fn compose_file_is_found_in_a_parent_directory_with_its_override() {
    let p = Project::with_compose(WEB);
    p.write(
        "compose.override.yaml",
        "services:\n  web:\n    environment:\n      MODE: dev\n",
    );
    std::fs::create_dir_all(p.dir.join("src/deep")).unwrap();
    let out = compose(&p.dir.join("src/deep"), &["config", "--format", "json"]);
    let v = json(out.ok());
    assert_eq!(
        v["name"], "app",
        "named after the directory holding the file"
    );
    assert_eq!(v["services"]["web"]["environment"]["MODE"], "dev");
    assert_eq!(v["services"]["web"]["image"], "nginx");
}

#[test]
fn override_is_not_applied_with_explicit_files() {
    let p = Project::with_compose(WEB);
    p.write(
        "compose.override.yaml",
        "services:\n  web:\n    image: from-override\n",
    );
    assert_eq!(
        image_of(p.compose(&["config", "--format", "json"]).ok(), "web"),
        "from-override"
    );
    assert_eq!(
        image_of(
            p.compose(&["-f", "compose.yaml", "config", "--format", "json"])
                .ok(),
            "web"
        ),
        "nginx"
    );
}

#[test]
fn preferred_file_name_wins_with_a_warning() {
    let p = Project::new("app");
    p.write(
        "docker-compose.yml",
        "services:\n  web:\n    image: from-docker-compose-yml\n",
    );
    p.write(
        "docker-compose.yaml",
        "services:\n  web:\n    image: from-docker-compose-yaml\n",
    );
    let out = p.compose(&["config", "--format", "json"]);
    assert_eq!(
        image_of(out.ok_with_warnings(), "web"),
        "from-docker-compose-yaml"
    );
    p.write(
        "compose.yml",
        "services:\n  web:\n    image: from-compose-yml\n",
    );
    let out = p.compose(&["config", "--format", "json"]);
    assert_eq!(image_of(out.ok_with_warnings(), "web"), "from-compose-yml");
    p.write(
        "compose.yaml",
        "services:\n  web:\n    image: from-compose-yaml\n",
    );
    let out = p.compose(&["config", "--format", "json"]);
    assert_eq!(image_of(out.ok_with_warnings(), "web"), "from-compose-yaml");
    assert_eq!(
        out.stderr,
        format!(
            "WARN Found multiple config files with supported names: {}, {}, {}, {}\nUsing {}\n",
            p.path("compose.yaml"),
            p.path("compose.yml"),
            p.path("docker-compose.yaml"),
            p.path("docker-compose.yml"),
            p.path("compose.yaml"),
        )
    );
}

#[test]
fn a_single_file_gives_no_warning() {
    let p = Project::new("app");
    p.write("docker-compose.yml", WEB);
    assert_eq!(
        image_of(p.compose(&["config", "--format", "json"]).ok(), "web"),
        "nginx"
    );
}

#[test]
fn no_compose_file_is_a_clear_error() {
    let p = Project::new("empty");
    let out = p.compose(&["config"]);
    assert_ne!(out.code, 0);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "no configuration file provided: not found (looked for compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml in {} and its parents)\n",
            p.dir.display()
        )
    );
}

#[test]
fn no_compose_file_exits_14_like_docker_compose() {
    let p = Project::new("empty");
    assert_eq!(p.compose(&["config"]).code, 14);
}

#[test]
fn missing_file_named_with_f_is_an_error() {
    let p = Project::with_compose(WEB);
    let out = p.compose(&["-f", "missing.yaml", "config"]);
    let missing = p.path("missing.yaml");
    assert_eq!(
        out.load_error(),
        format!("{missing}: cannot read {missing}: No such file or directory (os error 2)")
    );
}

// ---------------------------------------------------------------------------------------------
// -f, stdin, COMPOSE_FILE, --project-directory
// ---------------------------------------------------------------------------------------------

#[test]
fn repeated_f_merges_in_order() {
    let p = Project::new("app");
    p.write(
        "base.yaml",
        "services:\n  web:\n    image: base\n    environment:\n      A: base\n      B: base\n    ports: [\"80:80\"]\n",
    );
    p.write(
        "prod.yaml",
        "services:\n  web:\n    image: prod\n    environment:\n      B: prod\n    ports: [\"443:443\"]\n",
    );
    let v = json(
        p.compose(&[
            "-f",
            "base.yaml",
            "-f",
            "prod.yaml",
            "config",
            "--format",
            "json",
        ])
        .ok(),
    );
    let web = &v["services"]["web"];
    assert_eq!(web["image"], "prod");
    assert_eq!(
        web["environment"],
        serde_json::json!({"A": "base", "B": "prod"})
    );
    let targets: Vec<u64> = web["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["target"].as_u64().unwrap())
        .collect();
    assert_eq!(targets, [80, 443]);

    let v = json(
        p.compose(&[
            "-f",
            "prod.yaml",
            "-f",
            "base.yaml",
            "config",
            "--format",
            "json",
        ])
        .ok(),
    );
    assert_eq!(v["services"]["web"]["image"], "base");
}

#[test]
fn f_dash_reads_standard_input() {
    let p = Project::new("from-stdin");
    let out = p
        .cmd(&["-f", "-", "config", "--format", "json"])
        .stdin("services:\n  web:\n    image: piped\n    volumes: [./data:/data]\n")
        .run();
    let v = json(out.ok());
    assert_eq!(
        v["name"], "from-stdin",
        "the working directory names the project"
    );
    assert_eq!(v["services"]["web"]["image"], "piped");
    assert_eq!(
        v["services"]["web"]["volumes"][0]["source"],
        p.path("data"),
        "relative paths are resolved against the working directory"
    );
}

#[test]
fn compose_file_variable_lists_files() {
    let p = Project::new("app");
    p.write(
        "a.yaml",
        "services:\n  web:\n    image: a\n  db:\n    image: db\n",
    );
    p.write("b.yaml", "services:\n  web:\n    image: b\n");
    let out = p
        .cmd(&["config", "--format", "json"])
        .env("COMPOSE_FILE", "a.yaml:b.yaml")
        .run();
    let v = json(out.ok());
    assert_eq!(v["services"]["web"]["image"], "b");
    assert_eq!(v["services"]["db"]["image"], "db");

    let out = p
        .cmd(&["config", "--format", "json"])
        .env("COMPOSE_FILE", "b.yaml;a.yaml")
        .env("COMPOSE_PATH_SEPARATOR", ";")
        .run();
    assert_eq!(image_of(out.ok(), "web"), "a");

    // -f wins over COMPOSE_FILE.
    let out = p
        .cmd(&["-f", "a.yaml", "config", "--format", "json"])
        .env("COMPOSE_FILE", "b.yaml")
        .run();
    assert_eq!(image_of(out.ok(), "web"), "a");
}

#[test]
fn compose_file_variable_may_come_from_dot_env() {
    let p = Project::new("app");
    p.write("custom.yaml", "services:\n  web:\n    image: custom\n");
    p.write(".env", "COMPOSE_FILE=custom.yaml\n");
    assert_eq!(
        image_of(p.compose(&["config", "--format", "json"]).ok(), "web"),
        "custom"
    );
}

#[test]
fn project_directory_is_where_files_are_found_and_paths_resolved() {
    let p = Project::new("work");
    p.write(
        "proj/compose.yaml",
        "services:\n  web:\n    image: nginx\n    volumes: [./data:/data]\n",
    );
    let v = json(
        p.compose(&["--project-directory", "proj", "config", "--format", "json"])
            .ok(),
    );
    assert_eq!(v["name"], "proj");
    assert_eq!(
        v["services"]["web"]["volumes"][0]["source"],
        p.path("proj/data")
    );

    // With -f elsewhere, relative paths follow --project-directory, not the file.
    p.write(
        "files/compose.yaml",
        "services:\n  web:\n    image: nginx\n    volumes: [./data:/data]\n",
    );
    std::fs::create_dir_all(p.dir.join("other")).unwrap();
    let v = json(
        p.compose(&[
            "-f",
            "files/compose.yaml",
            "--project-directory",
            "other",
            "config",
            "--format",
            "json",
        ])
        .ok(),
    );
    assert_eq!(v["name"], "other");
    assert_eq!(
        v["services"]["web"]["volumes"][0]["source"],
        p.path("other/data")
    );
}

#[test]
fn relative_paths_follow_the_first_files_directory() {
    let p = Project::new("work");
    p.write(
        "deploy/compose.yaml",
        "services:\n  web:\n    build: ./web\n    env_file: [web.env]\n    volumes: [./data:/data]\n",
    );
    p.write("deploy/web.env", "FROM_FILE=yes\n");
    let v = json(
        p.compose(&["-f", "deploy/compose.yaml", "config", "--format", "json"])
            .ok(),
    );
    let web = &v["services"]["web"];
    assert_eq!(v["name"], "deploy");
    assert_eq!(web["build"]["context"], p.path("deploy/web"));
    assert_eq!(web["volumes"][0]["source"], p.path("deploy/data"));
    assert_eq!(web["environment"]["FROM_FILE"], "yes");
    assert_eq!(web["image"], serde_json::Value::Null);
}

// ---------------------------------------------------------------------------------------------
// Project name
// ---------------------------------------------------------------------------------------------

#[test]
fn project_name_precedence() {
    let p = Project::new("My App");
    p.write("compose.yaml", WEB);
    assert_eq!(name_of(p.compose(&["config"]).ok()), "myapp");

    p.write("compose.yaml", &format!("name: from-file\n{WEB}"));
    assert_eq!(name_of(p.compose(&["config"]).ok()), "from-file");

    p.write(".env", "COMPOSE_PROJECT_NAME=from-dotenv\n");
    assert_eq!(name_of(p.compose(&["config"]).ok()), "from-dotenv");

    let out = p
        .cmd(&["config"])
        .env("COMPOSE_PROJECT_NAME", "from-shell")
        .run();
    assert_eq!(name_of(out.ok()), "from-shell");

    let out = p
        .cmd(&["-p", "from-flag", "config"])
        .env("COMPOSE_PROJECT_NAME", "from-shell")
        .run();
    assert_eq!(name_of(out.ok()), "from-flag");
    let out = p.cmd(&["--project-name", "long-flag", "config"]).run();
    assert_eq!(name_of(out.ok()), "long-flag");
    // As with Docker Compose, a global option goes before the command: after it, it is unknown.
    let after = p.cmd(&["config", "--project-name", "long-flag"]).run();
    let err = after.fails(2);
    assert!(err.contains("--project-name"), "{err}");
}

#[test]
fn project_name_names_default_resources() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    volumes: [data:/data]\nvolumes:\n  data: {}\n",
    );
    let v = json(
        p.compose(&["-p", "shop", "config", "--format", "json"])
            .ok(),
    );
    assert_eq!(v["networks"]["default"]["name"], "shop_default");
    assert_eq!(v["volumes"]["data"]["name"], "shop_data");
}

#[test]
fn invalid_project_names_are_rejected() {
    let p = Project::with_compose(WEB);
    let msg = "must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number";
    assert_eq!(
        p.compose(&["-p", "My_App", "config"]).load_error(),
        format!("invalid project name \"My_App\": {msg}")
    );
    assert_eq!(
        p.cmd(&["config"])
            .env("COMPOSE_PROJECT_NAME", "-app")
            .run()
            .load_error(),
        format!("invalid project name \"-app\": {msg}")
    );
    p.write("compose.yaml", &format!("name: Shop\n{WEB}"));
    assert_eq!(
        p.compose(&["config"]).load_error(),
        format!(
            "{}:1:7: name: invalid project name \"Shop\": {msg}",
            p.path("compose.yaml")
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Environment and interpolation
// ---------------------------------------------------------------------------------------------

const TAGGED: &str = "services:\n  web:\n    image: nginx:${TAG}\n";

#[test]
fn dot_env_is_used_for_interpolation_and_shell_wins() {
    let p = Project::with_compose(TAGGED);
    p.write(".env", "TAG=from-dotenv\n");
    assert_eq!(
        image_of(p.compose(&["config", "--format", "json"]).ok(), "web"),
        "nginx:from-dotenv"
    );
    let out = p
        .cmd(&["config", "--format", "json"])
        .env("TAG", "from-shell")
        .run();
    assert_eq!(image_of(out.ok(), "web"), "nginx:from-shell");
}

#[test]
fn env_file_flags_replace_dot_env_and_later_wins() {
    let p = Project::with_compose("services:\n  web:\n    image: ${IMG}:${TAG}\n");
    p.write(".env", "IMG=dotenv\nTAG=dotenv\n");
    p.write("a.env", "IMG=a\nTAG=a\n");
    p.write("b.env", "TAG=b\n");
    let out = p.compose(&[
        "--env-file",
        "a.env",
        "--env-file",
        "b.env",
        "config",
        "--format",
        "json",
    ]);
    assert_eq!(image_of(out.ok(), "web"), "a:b");

    let out = p
        .cmd(&["config", "--format", "json"])
        .env("COMPOSE_ENV_FILES", "b.env,a.env")
        .run();
    assert_eq!(image_of(out.ok(), "web"), "a:a");

    // --env-file wins over COMPOSE_ENV_FILES; the shell wins over both.
    let out = p
        .cmd(&["--env-file", "b.env", "config", "--format", "json"])
        .env("COMPOSE_ENV_FILES", "a.env")
        .env("IMG", "shell")
        .run();
    assert_eq!(image_of(out.ok(), "web"), "shell:b");
}

#[test]
fn missing_env_file_flag_is_an_error() {
    let p = Project::with_compose(WEB);
    let f = p.path("nope.env");
    assert_eq!(
        p.compose(&["--env-file", "nope.env", "config"])
            .load_error(),
        format!("{f}: cannot read {f}: No such file or directory (os error 2)")
    );
}

#[test]
fn required_variable_error() {
    let p = Project::with_compose("services:\n  web:\n    image: ${TAG:?set TAG to the release}\n");
    assert_eq!(
        p.compose(&["config"]).load_error(),
        format!(
            "{}:3:12: services.web.image: required variable TAG is missing a value: set TAG to the release",
            p.path("compose.yaml")
        )
    );
    let out = p
        .cmd(&["config", "--format", "json"])
        .env("TAG", "v1")
        .run();
    assert_eq!(image_of(out.ok(), "web"), "v1");
}

#[test]
fn interpolation_forms_and_dollar_escape() {
    let p = Project::with_compose(
        "services:
  web:
    image: nginx
    command: echo $$HOME ${NOT_SET:-fallback} ${SET:+present} ${SET}
    environment:
      LITERAL: $${SET}
      EMPTY_DEFAULT: ${EMPTY:-dflt}
      EMPTY_NO_COLON: ${EMPTY-dflt}
",
    );
    let out = p
        .cmd(&["config", "--format", "json"])
        .env("SET", "x")
        .env("EMPTY", "")
        .run();
    let v = json(out.ok());
    let web = &v["services"]["web"];
    assert_eq!(
        web["command"],
        // `$$` stays escaped in the output, as Docker Compose writes it (it can be fed back in).
        serde_json::json!(["echo", "$$HOME", "fallback", "present", "x"])
    );
    assert_eq!(web["environment"]["LITERAL"], "$${SET}");
    assert_eq!(web["environment"]["EMPTY_DEFAULT"], "dflt");
    assert_eq!(web["environment"]["EMPTY_NO_COLON"], "");
}

#[test]
fn service_env_file_is_read_into_environment() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    env_file: [web.env]\n    environment:\n      B: from-compose\n",
    );
    p.write(
        "web.env",
        "# comment\nA=from-file\nB=from-file\nQ=\"quoted value\"\n",
    );
    let want = "name: app
services:
  web:
    environment:
      A: from-file
      B: from-compose
      Q: quoted value
    image: nginx
    networks:
      default: null
networks:
  default:
    name: app_default
";
    assert_eq!(p.compose(&["config"]).ok(), want);

    let out = p.compose(&["config", "--no-env-resolution", "--format", "json"]);
    let v = json(out.ok());
    let web = &v["services"]["web"];
    assert_eq!(web["environment"], serde_json::json!({"B": "from-compose"}));
    assert_eq!(web["env_file"][0]["path"], p.path("web.env"));
}

#[test]
fn missing_service_env_file_is_an_error() {
    let p =
        Project::with_compose("services:\n  web:\n    image: nginx\n    env_file: [nope.env]\n");
    assert_eq!(
        p.compose(&["config"]).load_error(),
        format!(
            "{}:4:16: services.web.env_file[0]: env file {} not found (set `required: false` to make it optional)",
            p.path("compose.yaml"),
            p.path("nope.env")
        )
    );
    // Not read when env files are not resolved.
    p.compose(&["config", "--no-env-resolution", "-q"]).ok();
}

// ---------------------------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------------------------

const PROFILED: &str = "services:
  web:
    image: nginx
  tool:
    image: busybox
    profiles: [debug]
    depends_on: [helper]
  helper:
    image: alpine
    profiles: [support]
  other:
    image: redis
    profiles: [debug, extra]
";

#[test]
fn profiles_select_services() {
    let p = Project::with_compose(PROFILED);
    assert_eq!(p.compose(&["config", "--services"]).ok(), "web\n");
    assert_eq!(
        p.compose(&["--profile", "extra", "config", "--services"])
            .ok(),
        "other\nweb\n"
    );
    assert_eq!(
        p.compose(&[
            "--profile",
            "debug",
            "--profile",
            "support",
            "config",
            "--services"
        ])
        .ok(),
        "helper\nother\ntool\nweb\n"
    );
    let out = p
        .cmd(&["config", "--services"])
        .env("COMPOSE_PROFILES", "debug,support")
        .run();
    assert_eq!(out.ok(), "helper\nother\ntool\nweb\n");
    assert_eq!(
        p.compose(&["--profile", "*", "config", "--services"]).ok(),
        "helper\nother\ntool\nweb\n"
    );
    // --profile wins over COMPOSE_PROFILES.
    let out = p
        .cmd(&["--profile", "extra", "config", "--services"])
        .env("COMPOSE_PROFILES", "debug,support")
        .run();
    assert_eq!(out.ok(), "other\nweb\n");
}

#[test]
fn profiles_from_dot_env() {
    let p = Project::with_compose(PROFILED);
    p.write(".env", "COMPOSE_PROFILES=extra\n");
    assert_eq!(p.compose(&["config", "--services"]).ok(), "other\nweb\n");
}

#[test]
fn enabled_service_depending_on_a_disabled_one_is_an_error() {
    let p = Project::with_compose(PROFILED);
    assert_eq!(
        p.compose(&["--profile", "debug", "config"]).load_error(),
        format!(
            "{}:7:18: services.tool.depends_on[0]: service \"tool\" depends on service \"helper\", which is disabled: activate one of its profiles (support) with --profile or COMPOSE_PROFILES, or set `required: false`",
            p.path("compose.yaml")
        )
    );
}

#[test]
fn naming_a_service_enables_it_and_its_dependencies() {
    let p = Project::with_compose(PROFILED);
    assert_eq!(
        p.compose(&["config", "tool", "--services"]).ok(),
        "helper\ntool\n"
    );
    let v = json(p.compose(&["config", "tool", "--format", "json"]).ok());
    let names: Vec<&String> = v["services"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["helper", "tool"]);
    assert_eq!(p.compose(&["config", "web", "--services"]).ok(), "web\n");
    assert_eq!(
        p.compose(&["config", "nope"]).fails(1).trim_end(),
        "no such service: nope"
    );
}

#[test]
fn config_profiles_lists_every_profile() {
    let p = Project::with_compose(PROFILED);
    assert_eq!(
        p.compose(&["config", "--profiles"]).ok(),
        "debug\nextra\nsupport\n"
    );
}

// ---------------------------------------------------------------------------------------------
// `config` flags
// ---------------------------------------------------------------------------------------------

const FULL: &str = "services:
  web:
    image: nginx:${TAG:-1.25}
    ports: [\"${PORT:-8080}:80\"]
    volumes: [db:/var/lib/db, ./site:/site]
    networks: [front, back]
    secrets: [token]
  worker:
    build: ./worker
    networks: [back]
volumes:
  db: {}
  cache:
    external: true
networks:
  front: {}
  back: {}
secrets:
  token:
    file: ./token.txt
";

#[test]
fn json_format_has_the_project_structure() {
    let p = Project::with_compose(FULL);
    let v = json(p.compose(&["config", "--format", "json"]).ok());
    assert_eq!(v["name"], "app");
    let web = &v["services"]["web"];
    assert_eq!(web["image"], "nginx:1.25");
    assert_eq!(
        web["ports"],
        serde_json::json!([{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}])
    );
    assert_eq!(
        web["networks"],
        serde_json::json!({"back": null, "front": null})
    );
    assert_eq!(web["volumes"][0]["type"], "volume");
    assert_eq!(web["volumes"][0]["source"], "db");
    assert_eq!(web["volumes"][1]["type"], "bind");
    assert_eq!(web["volumes"][1]["source"], p.path("site"));
    assert_eq!(web["secrets"], serde_json::json!([{"source": "token"}]));
    let worker = &v["services"]["worker"];
    assert_eq!(
        worker["build"],
        serde_json::json!({"context": p.path("worker"), "dockerfile": "Dockerfile"})
    );
    assert_eq!(v["networks"]["front"]["name"], "app_front");
    assert_eq!(v["volumes"]["db"]["name"], "app_db");
    assert_eq!(
        v["volumes"]["cache"],
        serde_json::json!({"name": "cache", "external": true})
    );
    assert_eq!(v["secrets"]["token"]["file"], p.path("token.txt"));
    assert_eq!(v["secrets"]["token"]["name"], "app_token");
    assert!(v.get("version").is_none(), "no version key is printed: {v}");
}

#[test]
fn yaml_and_json_describe_the_same_project() {
    let p = Project::with_compose(FULL);
    let yaml: serde_json::Value =
        serde_yaml_ng::from_str(p.compose(&["config"]).ok()).expect("config prints YAML");
    let json = json(p.compose(&["config", "--format", "json"]).ok());
    assert_eq!(yaml, json);
}

#[test]
fn quiet_prints_nothing() {
    let p = Project::with_compose(FULL);
    assert_eq!(p.compose(&["config", "-q"]).ok(), "");
    assert_eq!(p.compose(&["config", "--quiet"]).ok(), "");
    p.write(
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n    networks: [nope]\n",
    );
    p.compose(&["config", "-q"]).load_error();
}

#[test]
fn listing_flags() {
    let p = Project::with_compose(FULL);
    assert_eq!(p.compose(&["config", "--services"]).ok(), "web\nworker\n");
    assert_eq!(p.compose(&["config", "--volumes"]).ok(), "cache\ndb\n");
    assert_eq!(p.compose(&["config", "--networks"]).ok(), "back\nfront\n");
    assert_eq!(
        p.compose(&["config", "--images"]).ok(),
        "nginx:1.25\napp-worker\n"
    );
    assert_eq!(
        p.compose(&["-p", "shop", "config", "--images"]).ok(),
        "nginx:1.25\nshop-worker\n"
    );
}

#[test]
fn networks_lists_the_default_network_when_used() {
    let p = Project::with_compose(WEB);
    assert_eq!(p.compose(&["config", "--networks"]).ok(), "default\n");
}

fn hash_line(out: &str, service: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{service} ")))
        .unwrap_or_else(|| panic!("no hash for {service} in:\n{out}"))
        .to_string()
}

#[test]
fn hash_is_stable_and_tracks_changes() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    environment:\n      A: \"1\"\n      B: \"2\"\n    deploy:\n      replicas: 2\n  db:\n    image: postgres\n",
    );
    let all = p.compose(&["config", "--hash", "*"]).ok().to_string();
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 2, "{all}");
    assert!(
        lines[0].starts_with("db ") && lines[1].starts_with("web "),
        "sorted: {all}"
    );
    let web = hash_line(&all, "web");
    assert_eq!(web.len(), 64);
    assert!(web.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        p.compose(&["config", "--hash", "*"]).ok(),
        all,
        "stable across runs"
    );
    assert_eq!(p.compose(&["config", "--hash", "web,db"]).ok(), all);
    assert_eq!(
        p.compose(&["config", "--hash", "web"]).ok(),
        format!("web {web}\n")
    );

    // Replicas and the order of environment keys do not change the hash.
    p.write(
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n    environment:\n      B: \"2\"\n      A: \"1\"\n    deploy:\n      replicas: 5\n  db:\n    image: postgres\n",
    );
    assert_eq!(
        hash_line(p.compose(&["config", "--hash", "*"]).ok(), "web"),
        web
    );
    // Likewise `scale`, and the list form of `environment` is the same environment.
    p.write(
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n    environment: [\"A=1\", \"B=2\"]\n    scale: 3\n",
    );
    let scaled = hash_line(p.compose(&["config", "--hash", "*"]).ok(), "web");
    p.write(
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n    scale: 1\n    environment:\n      B: \"2\"\n      A: \"1\"\n",
    );
    assert_eq!(
        hash_line(p.compose(&["config", "--hash", "*"]).ok(), "web"),
        scaled
    );

    // A real change does.
    p.write(
        "compose.yaml",
        "services:\n  web:\n    image: nginx:2\n    environment:\n      A: \"1\"\n      B: \"2\"\n  db:\n    image: postgres\n",
    );
    let changed = p.compose(&["config", "--hash", "*"]).ok().to_string();
    assert_ne!(hash_line(&changed, "web"), web);
    assert_eq!(hash_line(&changed, "db"), hash_line(&all, "db"));

    assert_eq!(
        p.compose(&["config", "--hash", "nope"]).fails(1).trim_end(),
        "no such service: nope"
    );
}

#[test]
fn variables_table_and_json() {
    let p = Project::with_compose(
        "services:
  web:
    image: nginx:${TAG:-1.25}
    ports: [\"${PORT:-8080}:80\"]
    environment:
      LITERAL: $${NOT_A_VARIABLE}
      ALT: ${ALT_VAR:+alt}
      REQ: ${REQ_VAR:?needed}
      PLAIN: $PLAIN_VAR
",
    );
    let want = "NAME        REQUIRED   DEFAULT VALUE   ALTERNATE VALUE
ALT_VAR     false                      alt
PLAIN_VAR   false
PORT        false      8080
REQ_VAR     true
TAG         false      1.25
";
    // No variable needs a value to be listed, not even the required one.
    assert_eq!(p.compose(&["config", "--variables"]).ok(), want);
    let v = json(
        p.compose(&["config", "--variables", "--format", "json"])
            .ok(),
    );
    assert_eq!(
        v["PORT"],
        serde_json::json!({"Name": "PORT", "DefaultValue": "8080", "PresenceValue": "", "Required": false})
    );
    assert_eq!(
        v["ALT_VAR"],
        serde_json::json!({"Name": "ALT_VAR", "DefaultValue": "", "PresenceValue": "alt", "Required": false})
    );
    assert_eq!(v["REQ_VAR"]["Required"], true);
    let names: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(names, ["ALT_VAR", "PLAIN_VAR", "PORT", "REQ_VAR", "TAG"]);
}

#[test]
fn environment_prints_the_interpolation_environment() {
    let p = Project::with_compose(WEB);
    p.write(".env", "FROM_DOTENV=1\nSHARED=dotenv\n");
    let out = p
        .cmd(&["config", "--environment"])
        .env("SHARED", "shell")
        .env("PATH", "/bin")
        .run();
    assert_eq!(
        out.ok(),
        "FROM_DOTENV=1\nHOME=/nonexistent-home\nPATH=/bin\nSHARED=shell\n"
    );
}

#[test]
fn output_flag_writes_a_file() {
    let p = Project::with_compose(FULL);
    let stdout = p.compose(&["config"]).ok().to_string();
    assert_eq!(p.compose(&["config", "-o", "out.yaml"]).ok(), "");
    assert_eq!(
        std::fs::read_to_string(p.dir.join("out.yaml")).unwrap(),
        stdout
    );
    assert_eq!(
        p.compose(&["config", "--services", "--output", "services.txt"])
            .ok(),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(p.dir.join("services.txt")).unwrap(),
        "web\nworker\n"
    );
}

#[test]
fn no_interpolate_keeps_variables() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    ports:\n      - ${PORT:-8080}:80\n    environment:\n      E: $${X}\n",
    );
    let want = "name: app
services:
  web:
    image: nginx
    ports:
      - ${PORT:-8080}:80
    environment:
      E: $${X}
";
    assert_eq!(p.compose(&["config", "--no-interpolate"]).ok(), want);
    // A required variable is not needed then.
    p.write("compose.yaml", "services:\n  web:\n    image: ${TAG:?}\n");
    assert_eq!(
        p.compose(&["config", "--no-interpolate"]).ok(),
        "name: app\nservices:\n  web:\n    image: ${TAG:?}\n"
    );
}

#[test]
fn no_normalize_adds_no_defaults() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n  worker:\n    build: ./w\nvolumes:\n  data: {}\n",
    );
    let v = json(
        p.compose(&["config", "--no-normalize", "--format", "json"])
            .ok(),
    );
    assert!(v.get("networks").is_none(), "no default network: {v}");
    assert!(v["services"]["web"].get("networks").is_none(), "{v}");
    assert_eq!(
        v["services"]["worker"]["build"],
        serde_json::json!({"context": p.path("w")}),
        "no default dockerfile"
    );
    assert_eq!(
        v["volumes"]["data"],
        serde_json::json!({}),
        "no default name"
    );

    let v = json(p.compose(&["config", "--format", "json"]).ok());
    assert_eq!(v["networks"]["default"]["name"], "app_default");
    assert_eq!(
        v["services"]["web"]["networks"],
        serde_json::json!({"default": null})
    );
}

#[test]
fn no_path_resolution_keeps_relative_paths() {
    let p = Project::with_compose(
        "services:\n  web:\n    build: ./web\n    volumes: [./data:/data, ~/cache:/cache]\n",
    );
    let v = json(
        p.compose(&["config", "--no-path-resolution", "--format", "json"])
            .ok(),
    );
    let web = &v["services"]["web"];
    assert_eq!(web["build"]["context"], "./web");
    assert_eq!(web["volumes"][0]["source"], "./data");
    assert_eq!(web["volumes"][1]["source"], "~/cache");

    let out = p
        .cmd(&["config", "--format", "json"])
        .env("HOME", "/home/user")
        .run();
    let v = json(out.ok());
    let web = &v["services"]["web"];
    assert_eq!(web["build"]["context"], p.path("web"));
    assert_eq!(web["volumes"][0]["source"], p.path("data"));
    assert_eq!(web["volumes"][1]["source"], "/home/user/cache");
}

#[test]
fn no_consistency_accepts_undefined_references() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    networks: [nope]\n    depends_on: [ghost]\n",
    );
    p.compose(&["config"]).load_error();
    let v = json(
        p.compose(&["config", "--no-consistency", "--format", "json"])
            .ok(),
    );
    assert_eq!(
        v["services"]["web"]["networks"],
        serde_json::json!({"nope": null})
    );
}

#[test]
fn version_key_is_dropped_with_a_warning() {
    let p = Project::with_compose(&format!("version: \"3.8\"\n{WEB}"));
    let out = p.compose(&["config", "--format", "json"]);
    let v = json(out.ok_with_warnings());
    assert!(v.get("version").is_none());
    assert_eq!(
        out.stderr,
        format!(
            "WARN {}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion\n",
            p.path("compose.yaml")
        )
    );
}

#[test]
fn digest_flags_are_refused() {
    let p = Project::with_compose(WEB);
    let out = p.compose(&["config", "--resolve-image-digests"]);
    assert_eq!(
        out.fails(1),
        "--resolve-image-digests and --lock-image-digests need registry access, which compose does not have yet\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors: location, key path, message, exit code 15, nothing on stdout
// ---------------------------------------------------------------------------------------------

/// Each case: a compose.yaml and the error line expected after `<file>:`.
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "unknown key",
        "services:\n  web:\n    image: nginx\n    enviroment:\n      A: b\n",
        "4:5: services.web.enviroment: unknown key `enviroment`, did you mean `environment`?",
    ),
    (
        "wrong type",
        "services:\n  web:\n    image: nginx\n    ports: 80\n",
        "4:12: services.web.ports: expected a list of ports, found integer 80",
    ),
    (
        "bad port",
        "services:\n  web:\n    image: nginx\n    ports:\n      - \"80:abc\"\n",
        "5:9: services.web.ports[0]: invalid port \"80:abc\": invalid container port \"abc\", expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]",
    ),
    (
        "bad volume",
        "services:\n  web:\n    image: nginx\n    volumes:\n      - \":/data\"\n",
        "5:9: services.web.volumes[0]: invalid volume \":/data\": empty section between colons, expected [SOURCE:]TARGET[:MODE]",
    ),
    (
        "bad duration",
        "services:\n  web:\n    image: nginx\n    healthcheck:\n      interval: 10x\n",
        "5:17: services.web.healthcheck.interval: invalid duration \"10x\": unknown unit \"x\", expected one of ns, us, ms, s, m, h, d, w",
    ),
    (
        "bad size",
        "services:\n  web:\n    image: nginx\n    mem_limit: 12q\n",
        "4:16: services.web.mem_limit: invalid size \"12q\": unknown unit \"q\", expected b, k, m, g, t or p, optionally followed by b or ib",
    ),
    (
        "ulimit soft > hard",
        "services:\n  web:\n    image: nginx\n    ulimits:\n      nofile:\n        soft: 20\n        hard: 10\n",
        "6:9: services.web.ulimits.nofile: invalid ulimit: soft limit 20 is greater than hard limit 10",
    ),
    (
        "undefined network",
        "services:\n  web:\n    image: nginx\n    networks: [front]\n",
        "4:16: services.web.networks[0]: network `front` is not defined (used by service \"web\")",
    ),
    (
        "undefined volume",
        "services:\n  web:\n    image: nginx\n    volumes: [\"data:/data\"]\n",
        "4:15: services.web.volumes[0]: volume `data` is not defined (used by service \"web\")",
    ),
    (
        "undefined secret",
        "services:\n  web:\n    image: nginx\n    secrets: [token]\n",
        "4:15: services.web.secrets[0]: secret `token` is not defined (used by service \"web\")",
    ),
    (
        "undefined config",
        "services:\n  web:\n    image: nginx\n    configs: [conf]\n",
        "4:15: services.web.configs[0]: config `conf` is not defined (used by service \"web\")",
    ),
    (
        "undefined service",
        "services:\n  web:\n    image: nginx\n    depends_on: [db]\n",
        "4:18: services.web.depends_on[0]: service `db` is not defined (used by service \"web\")",
    ),
    (
        "depends_on cycle",
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n",
        "4:18: services.a.depends_on[0]: dependency cycle detected: a -> b -> c -> a",
    ),
    (
        "depends_on itself",
        "services:\n  a:\n    image: x\n    depends_on: [a]\n",
        "4:18: services.a.depends_on[0]: dependency cycle detected: a -> a",
    ),
    (
        "network_mode with networks",
        "services:\n  web:\n    image: nginx\n    network_mode: host\n    networks: [default]\n",
        "4:5: services.web.network_mode: service \"web\" declares mutually exclusive `network_mode` and `networks`",
    ),
    (
        "YAML syntax",
        "services:\n  web:\n    image: [nginx\n",
        "4:1: invalid YAML: while parsing a flow sequence, expected ',' or ']'",
    ),
    (
        "duplicate key",
        "services:\n  web:\n    image: nginx\n    image: redis\n",
        "4:5: invalid YAML: mapping key \"image\" already defined at line 3",
    ),
    (
        "extends of a missing local service",
        "services:\n  web:\n    extends:\n      service: base\n    image: nginx\n",
        "4:16: services.web.extends: service `base` is not defined (used by extends of service `web`)",
    ),
    (
        "neither image nor build",
        "services:\n  web:\n    command: echo\n",
        "2:3: services.web: service \"web\" has neither an image nor a build context specified: set `image` or `build`",
    ),
    (
        "dockerfile and dockerfile_inline",
        "services:\n  web:\n    build:\n      context: .\n      dockerfile: Dockerfile\n      dockerfile_inline: FROM x\n",
        "6:7: services.web.build.dockerfile_inline: service \"web\" declares mutually exclusive `dockerfile` and `dockerfile_inline`",
    ),
    (
        "platform not among build.platforms",
        "services:\n  web:\n    image: x\n    platform: linux/riscv64\n    build:\n      context: .\n      platforms: [linux/amd64]\n",
        "7:7: services.web.build.platforms: `build.platforms` must include the service's platform \"linux/riscv64\"",
    ),
    (
        "healthcheck test without CMD/CMD-SHELL/NONE",
        "services:\n  web:\n    image: x\n    healthcheck:\n      test: [\"curl\", \"x\"]\n",
        "5:7: services.web.healthcheck.test: invalid healthcheck test \"curl\": expected a list starting with \"CMD\", \"CMD-SHELL\" or \"NONE\", or a command string",
    ),
    (
        "undefined build secret",
        "services:\n  web:\n    image: x\n    build:\n      context: .\n      secrets: [s]\n",
        "6:17: services.web.build.secrets[0]: secret `s` is not defined (used by service \"web\")",
    ),
    (
        "scale differs from deploy.replicas",
        "services:\n  web:\n    image: x\n    scale: 2\n    deploy:\n      replicas: 3\n",
        "4:5: services.web.scale: service \"web\" sets distinct values on `scale` (2) and `deploy.replicas` (3)",
    ),
    (
        "secret with neither file nor environment",
        "services:\n  web:\n    image: x\nsecrets:\n  s:\n    name: foo\n",
        "5:3: secrets.s: secret \"s\" must declare either `file` or `environment` (or be `external`)",
    ),
    (
        "container_name with several replicas",
        "services:\n  web:\n    image: x\n    container_name: c\n    scale: 2\n",
        "4:5: services.web.container_name: service \"web\" sets container_name \"c\" and scale 2: a container name must be unique",
    ),
    (
        "network_mode of an undefined service",
        "services:\n  web:\n    image: x\n    network_mode: service:nope\n",
        "4:5: services.web.network_mode: service `nope` is not defined (used by service \"web\")",
    ),
    (
        "required variable",
        "services:\n  web:\n    image: ${TAG:?}\n",
        "3:12: services.web.image: required variable TAG is missing a value",
    ),
];

#[test]
fn load_errors_are_located_and_exit_15() {
    let mut failures = Vec::new();
    for (what, text, want) in ERRORS {
        let p = Project::with_compose(text);
        let out = p.compose(&["config"]);
        let want = format!("{}:{want}\n", p.path("compose.yaml"));
        if out.code != 15 || !out.stdout.is_empty() || out.stderr != want {
            failures.push(format!(
                "{what}: code {}, stdout {:?}\n   got: {}  want: {want}",
                out.code, out.stdout, out.stderr
            ));
        }
        // The same with JSON output and with -q: the error is the same, stdout stays empty.
        for args in [&["config", "--format", "json"][..], &["config", "-q"]] {
            let o = p.compose(args);
            if o.code != 15 || !o.stdout.is_empty() || o.stderr != want {
                failures.push(format!(
                    "{what} ({args:?}): code {} stderr {}",
                    o.code, o.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_consistency_skips_consistency_errors() {
    for (what, text, _) in ERRORS.iter().filter(|(w, _, _)| {
        [
            "neither image nor build",
            "undefined network",
            "scale differs from deploy.replicas",
            "secret with neither file nor environment",
        ]
        .contains(w)
    }) {
        let p = Project::with_compose(text);
        let out = p.compose(&["config", "--no-consistency", "-q"]);
        assert_eq!(out.code, 0, "{what}: {}", out.stderr);
    }
}

#[test]
fn include_cycle_names_the_files() {
    let p =
        Project::with_compose("include:\n  - other.yaml\nservices:\n  web:\n    image: nginx\n");
    p.write(
        "other.yaml",
        "include:\n  - compose.yaml\nservices:\n  x:\n    image: nginx\n",
    );
    let (c, o) = (p.path("compose.yaml"), p.path("other.yaml"));
    assert_eq!(
        p.compose(&["config"]).load_error(),
        format!("{o}:2:3: include: dependency cycle detected: {c} -> {o} -> {c}")
    );
}

#[test]
fn include_merges_another_project() {
    let p = Project::with_compose("include:\n  - db/compose.yaml\nservices:\n  web:\n    image: nginx\n    depends_on: [db]\n");
    p.write(
        "db/compose.yaml",
        "services:\n  db:\n    image: postgres\n    env_file: [db.env]\n    volumes: [./init:/init]\n",
    );
    p.write("db/db.env", "POSTGRES_DB=app\n");
    let v = json(p.compose(&["config", "--format", "json"]).ok());
    let db = &v["services"]["db"];
    assert_eq!(v["name"], "app");
    assert_eq!(
        db["volumes"][0]["source"],
        p.path("db/init"),
        "relative to the included file"
    );
    assert_eq!(db["environment"]["POSTGRES_DB"], "app");
}

#[test]
fn extends_of_a_service_missing_from_another_file() {
    let p = Project::with_compose(
        "services:\n  web:\n    extends:\n      file: base.yaml\n      service: nope\n",
    );
    p.write("base.yaml", "services:\n  base:\n    image: nginx\n");
    assert_eq!(
        p.compose(&["config"]).load_error(),
        format!(
            "{}:5:16: services.web.extends: cannot extend service `nope`: it is not defined in {}",
            p.path("compose.yaml"),
            p.path("base.yaml")
        )
    );
}

#[test]
fn extends_from_another_file() {
    let p = Project::with_compose(
        "services:\n  web:\n    extends:\n      file: common/base.yaml\n      service: base\n    environment:\n      OWN: \"1\"\n",
    );
    p.write(
        "common/base.yaml",
        "services:\n  base:\n    image: nginx\n    build: ./ctx\n    environment:\n      BASE: \"1\"\n",
    );
    let v = json(p.compose(&["config", "--format", "json"]).ok());
    let web = &v["services"]["web"];
    assert_eq!(web["image"], "nginx");
    assert_eq!(
        web["environment"],
        serde_json::json!({"BASE": "1", "OWN": "1"})
    );
    assert_eq!(
        web["build"]["context"],
        p.path("common/ctx"),
        "relative to the base file"
    );
    assert!(web.get("extends").is_none());
}

#[test]
fn errors_in_a_second_file_name_that_file() {
    let p = Project::with_compose(WEB);
    p.write(
        "over.yaml",
        "services:\n  web:\n    ports: [\"80:80:80:80\"]\n",
    );
    let err = p
        .compose(&["-f", "compose.yaml", "-f", "over.yaml", "config"])
        .load_error()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "{}:3:13: services.web.ports[0]: ",
            p.path("over.yaml")
        )),
        "{err}"
    );
}

#[test]
fn error_from_standard_input_is_located() {
    let p = Project::new("app");
    let out = p
        .cmd(&["-f", "-", "config"])
        .stdin("services:\n  web:\n    image: nginx\n    bogus: 1\n")
        .run();
    assert_eq!(
        out.load_error(),
        "-:4:5: services.web.bogus: unknown key `bogus`"
    );
}

// ---------------------------------------------------------------------------------------------
// Other commands
// ---------------------------------------------------------------------------------------------

#[test]
fn version_command() {
    let p = Project::new("x");
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(
        p.compose(&["version"]).ok(),
        format!("compose version {v}\n")
    );
    assert_eq!(p.compose(&["version", "--short"]).ok(), format!("{v}\n"));
    assert_eq!(
        json(p.compose(&["version", "--format", "json"]).ok()),
        serde_json::json!({"version": v})
    );
}

#[test]
fn help_mentions_config() {
    let p = Project::new("x");
    let out = p.compose(&["--help"]);
    let help = out.ok();
    assert!(
        help.lines()
            .any(|l| l.trim_start().starts_with("config") && l.contains("canonical")),
        "{help}"
    );
    assert!(help.contains("--project-name"), "{help}");
    let out = p.compose(&["config", "--help"]);
    for flag in [
        "--format",
        "--quiet",
        "--services",
        "--volumes",
        "--networks",
        "--profiles",
        "--images",
        "--hash",
        "--variables",
        "--environment",
        "--output",
        "--no-interpolate",
        "--no-normalize",
        "--no-consistency",
        "--no-path-resolution",
        "--no-env-resolution",
    ] {
        assert!(out.ok().contains(flag), "config --help lacks {flag}");
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let p = Project::with_compose(WEB);
    let out = p.compose(&["config", "--bogus"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("--bogus"), "{}", out.stderr);
}

/// Consistency rules compose-go's `checkConsistency` enforces (Docker Compose rejects these
/// projects with exit code 15) that `validate.rs` does not implement yet. Each case names the
/// key path the error should point at.
const MISSING_CONSISTENCY_CHECKS: &[(&str, &str, &str)] = &[
    (
        "cpus differs from deploy.resources.limits.cpus",
        "services:\n  web:\n    image: x\n    cpus: 1.5\n    deploy:\n      resources:\n        limits:\n          cpus: \"2\"\n",
        "services.web",
    ),
    (
        "mem_limit differs from deploy.resources.limits.memory",
        "services:\n  web:\n    image: x\n    mem_limit: 1g\n    deploy:\n      resources:\n        limits:\n          memory: 2g\n",
        "services.web",
    ),
    (
        "mem_reservation differs from deploy.resources.reservations.memory",
        "services:\n  web:\n    image: x\n    mem_reservation: 1g\n    deploy:\n      resources:\n        reservations:\n          memory: 2g\n",
        "services.web",
    ),
    (
        "pids_limit differs from deploy.resources.limits.pids",
        "services:\n  web:\n    image: x\n    pids_limit: 10\n    deploy:\n      resources:\n        limits:\n          pids: 20\n",
        "services.web",
    ),
    (
        "watch sync rule without target",
        "services:\n  web:\n    image: x\n    develop:\n      watch:\n        - path: ./src\n          action: sync\n",
        "services.web.develop.watch",
    ),
];

#[test]
fn consistency_checks_docker_compose_applies() {
    let mut failures = Vec::new();
    for (what, text, path) in MISSING_CONSISTENCY_CHECKS {
        let p = Project::with_compose(text);
        let out = p.compose(&["config"]);
        let prefix = format!("{}:", p.path("compose.yaml"));
        if out.code != 15
            || !out.stdout.is_empty()
            || !out.stderr.starts_with(&prefix)
            || !out.stderr.contains(&format!(": {path}"))
        {
            failures.push(format!("{what}: code {} stderr {:?}", out.code, out.stderr));
        }
        // --no-consistency accepts them.
        let o = p.compose(&["config", "--no-consistency", "-q"]);
        if o.code != 0 {
            failures.push(format!("{what} with --no-consistency: {}", o.stderr));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn empty_last_file_keeps_what_earlier_files_set() {
    // docker/compose#11450: an empty override must not unset the project name.
    let p = Project::new("app");
    p.write("compose.yaml", &format!("name: keep\n{WEB}"));
    p.write("empty.yaml", "");
    let v = json(
        p.compose(&[
            "-f",
            "compose.yaml",
            "-f",
            "empty.yaml",
            "config",
            "--format",
            "json",
        ])
        .ok(),
    );
    assert_eq!(v["name"], "keep");
    assert_eq!(v["services"]["web"]["image"], "nginx");
}

#[test]
fn dot_env_is_read_from_the_project_directory_not_the_working_directory() {
    let p = Project::new("work");
    p.write("sub/compose.yaml", TAGGED);
    p.write("sub/.env", "TAG=sub\n");
    p.write(".env", "TAG=cwd\n");
    let out = p.compose(&["-f", "sub/compose.yaml", "config", "--format", "json"]);
    assert_eq!(image_of(out.ok(), "web"), "nginx:sub");
}

#[test]
fn environment_entries_without_value_come_from_the_environment() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    environment: [FROM_SHELL, FROM_DOTENV, UNSET, \"EMPTY=\"]\n",
    );
    p.write(".env", "FROM_DOTENV=d\n");
    let out = p
        .cmd(&["config", "--format", "json"])
        .env("FROM_SHELL", "s")
        .run();
    let v = json(out.ok());
    assert_eq!(
        v["services"]["web"]["environment"],
        serde_json::json!({"EMPTY": "", "FROM_DOTENV": "d", "FROM_SHELL": "s", "UNSET": null})
    );
}

/// Docker Compose reads its project options before the command only (`docker compose config -f
/// x` is "unknown shorthand flag: 'f'"); issue 17 asks for the same, so a command's own short
/// flags can mean what they mean there.
#[test]
fn global_options_go_before_the_command() {
    let p = Project::new("work");
    p.write("sub/compose.yaml", WEB);
    let before = p.compose(&[
        "-f",
        "sub/compose.yaml",
        "-p",
        "early",
        "config",
        "--format",
        "json",
    ]);
    assert_eq!(json(before.ok())["name"], "early");
    let after = p.compose(&["config", "-f", "sub/compose.yaml", "--format", "json"]);
    assert_eq!(after.code, 2, "{}", after.stderr);
    assert!(after.stderr.contains("'-f'"), "{}", after.stderr);
    assert_eq!(after.stdout, "");
}

#[test]
fn json_output_to_a_file() {
    let p = Project::with_compose(WEB);
    assert_eq!(
        p.compose(&["config", "--format", "json", "-o", "out.json"])
            .ok(),
        ""
    );
    let v = json(&std::fs::read_to_string(p.dir.join("out.json")).unwrap());
    assert_eq!(v["services"]["web"]["image"], "nginx");
}

/// Issue 11 item 11: a service name outside `[a-zA-Z0-9._-]+` is refused with Docker Compose's
/// schema message (it was accepted and started), profiles or not.
#[test]
fn service_names_must_match_docker_compose_pattern() {
    for name in ["bad name!", "a/b", "x:y"] {
        let p = Project::with_compose(&format!(
            "services:\n  \"{name}\":\n    image: nginx\n    profiles: [off]\n  web:\n    image: nginx\n"
        ));
        let err = p.compose(&["config"]).load_error().to_string();
        assert!(
            err.contains(&format!(
                "services Additional property {name} is not allowed"
            )),
            "{err}"
        );
    }
    let p = Project::with_compose("services:\n  a.b_c-1:\n    image: nginx\n");
    assert!(p
        .compose(&["config", "--services"])
        .ok()
        .contains("a.b_c-1"));
}

/// Issue 11 item 11: `config` keeps `$$` escaped, as Docker Compose writes it, so its output
/// loads back to the same project.
#[test]
fn config_output_keeps_dollar_escapes_and_reloads_unchanged() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    command: sh -c 'echo $$HOME'\n    environment:\n      A: $${B}\n",
    );
    let out = p.compose(&["config"]).ok().to_string();
    assert!(out.contains("echo $$HOME"), "{out}");
    assert!(out.contains("A: $${B}"), "{out}");
    p.write("again.yaml", &out);
    assert_eq!(p.compose(&["-f", "again.yaml", "config"]).ok(), out);
}

/// Issue 11 item 11: networks no service uses are left out of `config`, as Docker Compose does.
#[test]
fn config_leaves_out_networks_no_service_uses() {
    let p = Project::with_compose(
        "services:\n  web:\n    image: nginx\n    networks: [front]\nnetworks:\n  front: {}\n  spare: {}\n",
    );
    let v = json(p.compose(&["config", "--format", "json"]).ok());
    let nets: Vec<&String> = v["networks"].as_object().unwrap().keys().collect();
    assert_eq!(nets, ["front"]);
}

/// Issue 11 item 11: `${COMPOSE_PROJECT_NAME}` is the project's name during interpolation,
/// however it was given (`-p`, `name:`, the folder), as Docker Compose sets it.
#[test]
fn compose_project_name_is_set_for_interpolation() {
    let yaml = "services:\n  web:\n    image: nginx\n    container_name: ${COMPOSE_PROJECT_NAME}-web\n    environment:\n      P: ${COMPOSE_PROJECT_NAME:-unset}\n";
    let p = Project::new("folderproj");
    p.write("compose.yaml", yaml);
    let web = |args: &[&str]| {
        let v = json(p.compose(args).ok());
        (
            v["services"]["web"]["container_name"]
                .as_str()
                .unwrap()
                .to_string(),
            v["services"]["web"]["environment"]["P"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    };
    let folder = web(&["config", "--format", "json"]);
    assert_eq!(folder, ("folderproj-web".into(), "folderproj".into()));
    let flag = web(&["-p", "flagged", "config", "--format", "json"]);
    assert_eq!(flag, ("flagged-web".into(), "flagged".into()));
    p.write("named.yaml", "name: fromfile\n");
    let named = web(&[
        "-f",
        "compose.yaml",
        "-f",
        "named.yaml",
        "config",
        "--format",
        "json",
    ]);
    assert_eq!(named, ("fromfile-web".into(), "fromfile".into()));
    // No "not set" warning for it.
    let out = p.compose(&["config"]);
    assert!(
        !out.stderr.contains("COMPOSE_PROJECT_NAME"),
        "{}",
        out.stderr
    );
}
