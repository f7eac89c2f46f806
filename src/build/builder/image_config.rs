//! The image config a stage accumulates: what the base image set, changed by each metadata
//! instruction the way Docker's builder changes it, and written out as the OCI config (with
//! Docker's extensions: `Healthcheck`, `OnBuild`, `Shell`, `StopSignal`).

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::build::dockerfile::{Command, ExposedPort, Healthcheck, InstructionKind, Protocol};
use crate::engine::image::Image;

/// The PATH BuildKit puts in the config of an image whose base sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The shell of the shell forms until a SHELL changes it.
pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into()]
}

/// One `history` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub created_by: String,
    pub empty_layer: bool,
}

/// A stage's image config as it is being built.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageConfig {
    pub env: IndexMap<String, String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// Whether this stage set CMD itself (an ENTRYPOINT resets an inherited one only).
    pub cmd_set_here: bool,
    pub working_dir: String,
    pub user: String,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub healthcheck: Option<Value>,
    pub shell: Option<Vec<String>>,
    pub on_build: Vec<String>,
    /// The base image's history first.
    pub history: Vec<Value>,
}

impl ImageConfig {
    /// The config a stage starts from: nothing for `scratch`, else the base image's.
    pub fn of_image(image: &Image) -> Self {
        let mut out = ImageConfig::default();
        if let Some(c) = image.config.config() {
            for kv in c.env().iter().flatten() {
                let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
                out.env.insert(k.to_string(), v.to_string());
            }
            out.cmd = c.cmd().clone();
            out.entrypoint = c.entrypoint().clone();
            out.working_dir = c.working_dir().clone().unwrap_or_default();
            out.user = c.user().clone().unwrap_or_default();
            out.exposed_ports = c.exposed_ports().clone().unwrap_or_default();
            out.volumes = c.volumes().clone().unwrap_or_default();
            out.labels = c.labels().clone().unwrap_or_default().into_iter().collect();
            out.stop_signal = c.stop_signal().clone();
        }
        if let Some(h) = &image.healthcheck {
            let mut m = Map::new();
            m.insert("Test".into(), json!(h.test));
            for (key, v) in [
                ("Interval", h.interval),
                ("Timeout", h.timeout),
                ("StartPeriod", h.start_period),
                ("StartInterval", h.start_interval),
            ] {
                if let Some(v) = v {
                    m.insert(key.into(), json!(v));
                }
            }
            if let Some(r) = h.retries {
                m.insert("Retries".into(), json!(r));
            }
            out.healthcheck = Some(Value::Object(m));
        }
        out.history = image
            .config
            .history()
            .iter()
            .flatten()
            .filter_map(|h| serde_json::to_value(h).ok())
            .collect();
        out
    }

    /// Makes sure PATH is set, as BuildKit does for a base without one.
    pub fn ensure_path(&mut self) {
        if !self.env.contains_key("PATH") {
            self.env.insert("PATH".into(), DEFAULT_PATH.into());
        }
    }

    /// The current shell for shell forms.
    pub fn shell(&self) -> Vec<String> {
        self.shell.clone().unwrap_or_else(default_shell)
    }

    /// A command as the config stores it: the shell form wrapped in the current shell.
    pub fn argv(&self, command: &Command) -> Vec<String> {
        match command {
            Command::Exec(args) => args.clone(),
            Command::Shell(text) => {
                let mut argv = self.shell();
                argv.push(text.clone());
                argv
            }
        }
    }

    /// The WORKDIR a relative path is joined to, as Docker joins it.
    pub fn join_workdir(&self, path: &str) -> String {
        if path.starts_with('/') {
            clean(path)
        } else {
            let base = if self.working_dir.is_empty() {
                "/"
            } else {
                &self.working_dir
            };
            clean(&format!("{base}/{path}"))
        }
    }

    /// Applies a metadata instruction (already expanded); `true` when it was one. ENV and ARG
    /// are the scope's: the caller copies the scope's ENV in.
    pub fn apply(&mut self, kind: &InstructionKind) -> bool {
        match kind {
            InstructionKind::Cmd(c) => {
                self.cmd = Some(self.argv(c));
                self.cmd_set_here = true;
            }
            InstructionKind::Entrypoint(c) => {
                self.entrypoint = Some(self.argv(c));
                if !self.cmd_set_here {
                    // Docker: an ENTRYPOINT resets a CMD inherited from the base image.
                    self.cmd = None;
                }
            }
            InstructionKind::Shell(shell) => self.shell = Some(shell.clone()),
            InstructionKind::Workdir(w) => self.working_dir = self.join_workdir(w),
            InstructionKind::User(u) => self.user = u.clone(),
            InstructionKind::Label(labels) => {
                for kv in labels {
                    self.labels.insert(kv.key.clone(), kv.value.clone());
                }
            }
            InstructionKind::Maintainer(m) => {
                self.labels.insert("maintainer".into(), m.clone());
            }
            InstructionKind::Expose(ports) => {
                for p in ports {
                    let Some(port) = ExposedPort::parse(p) else {
                        continue;
                    };
                    let proto = match port.protocol {
                        Protocol::Tcp => "tcp",
                        Protocol::Udp => "udp",
                        Protocol::Sctp => "sctp",
                    };
                    for n in port.start..=port.end {
                        let key = format!("{n}/{proto}");
                        if !self.exposed_ports.contains(&key) {
                            self.exposed_ports.push(key);
                        }
                    }
                }
            }
            InstructionKind::Volume(v) => {
                for path in v {
                    if !self.volumes.contains(path) {
                        self.volumes.push(path.clone());
                    }
                }
            }
            InstructionKind::Stopsignal(s) => self.stop_signal = Some(s.clone()),
            InstructionKind::Healthcheck(h) => self.healthcheck = Some(self.healthcheck_json(h)),
            InstructionKind::Onbuild(o) => self.on_build.push(o.expression.clone()),
            _ => return false,
        }
        true
    }

    fn healthcheck_json(&self, h: &Healthcheck) -> Value {
        let check = match h {
            Healthcheck::None => return json!({ "Test": ["NONE"] }),
            Healthcheck::Check(c) => c,
        };
        let test: Vec<String> = match &check.test {
            Command::Exec(args) => std::iter::once("CMD".to_string())
                .chain(args.iter().cloned())
                .collect(),
            Command::Shell(text) => vec!["CMD-SHELL".into(), text.clone()],
        };
        let mut m = Map::new();
        m.insert("Test".into(), json!(test));
        for (key, d) in [
            ("Interval", check.interval),
            ("Timeout", check.timeout),
            ("StartPeriod", check.start_period),
            ("StartInterval", check.start_interval),
        ] {
            if let Some(d) = d {
                m.insert(key.into(), json!(d.as_nanos() as u64));
            }
        }
        if let Some(r) = check.retries {
            m.insert("Retries".into(), json!(r));
        }
        Value::Object(m)
    }

    /// The OCI image config (without `rootfs`, which the store adds), with `created` and the
    /// extra `labels` of the build request.
    pub fn to_json(&self, created: &str, extra_labels: &BTreeMap<String, String>) -> Value {
        let mut config = Map::new();
        if !self.env.is_empty() {
            let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            config.insert("Env".into(), json!(env));
        }
        if let Some(e) = &self.entrypoint {
            config.insert("Entrypoint".into(), json!(e));
        }
        if let Some(c) = &self.cmd {
            config.insert("Cmd".into(), json!(c));
        }
        if !self.working_dir.is_empty() {
            config.insert("WorkingDir".into(), json!(self.working_dir));
        }
        if !self.user.is_empty() {
            config.insert("User".into(), json!(self.user));
        }
        let set = |items: &[String]| -> Value {
            Value::Object(items.iter().map(|k| (k.clone(), json!({}))).collect())
        };
        if !self.exposed_ports.is_empty() {
            config.insert("ExposedPorts".into(), set(&self.exposed_ports));
        }
        if !self.volumes.is_empty() {
            config.insert("Volumes".into(), set(&self.volumes));
        }
        let mut labels = self.labels.clone();
        labels.extend(extra_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        if !labels.is_empty() {
            config.insert("Labels".into(), json!(labels));
        }
        if let Some(s) = &self.stop_signal {
            config.insert("StopSignal".into(), json!(s));
        }
        if let Some(h) = &self.healthcheck {
            config.insert("Healthcheck".into(), h.clone());
        }
        if !self.on_build.is_empty() {
            config.insert("OnBuild".into(), json!(self.on_build));
        }
        if let Some(s) = &self.shell {
            config.insert("Shell".into(), json!(s));
        }
        json!({
            "architecture": crate::engine::image::host_arch(),
            "os": "linux",
            "created": created,
            "config": Value::Object(config),
            "history": self.history.iter().map(|h| dated(h, created)).collect::<Vec<_>>(),
        })
    }

    /// Records a history entry as BuildKit writes it; its `created` is the image's, filled in
    /// by [`ImageConfig::to_json`] (known only once every step has run or been found cached).
    pub fn record(&mut self, h: &History) {
        let mut m = Map::new();
        m.insert("created".into(), Value::Null);
        m.insert("created_by".into(), json!(h.created_by));
        m.insert("comment".into(), json!("buildkit.dockerfile.v0"));
        if h.empty_layer {
            m.insert("empty_layer".into(), json!(true));
        }
        self.history.push(Value::Object(m));
    }
}

/// History entry `h` with `created` where this build recorded it (the base's keep theirs).
fn dated(h: &Value, created: &str) -> Value {
    let mut h = h.clone();
    if let Some(m) = h.as_object_mut() {
        if m.get("created").is_some_and(Value::is_null) {
            m.insert("created".into(), json!(created));
        }
    }
    h
}

/// `path` with `.`, `..` and repeated slashes resolved lexically (never above `/`).
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}
