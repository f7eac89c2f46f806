//! `image inspect`: an image in Docker's JSON form.

use serde_json::{json, Value};

use super::reference::Reference;
use super::store::{ImageError, ImageStore};

impl ImageStore {
    /// Docker's `image inspect` object for one image.
    pub fn inspect(&self, input: &str) -> Result<Value, ImageError> {
        let tags = self.read_tags()?;
        let record = self.find(input, &tags)?;
        let raw = self.raw_config(&record)?;
        let names = Self::tags_of(&tags, &record.id);
        let repo_tags: Vec<String> = names
            .iter()
            .filter(|r| r.tag().is_some() && r.digest().is_none())
            .map(Reference::familiar)
            .collect();
        let mut repo_digests: Vec<String> = Vec::new();
        for r in &names {
            let d = match r.digest() {
                Some(_) => r.familiar(),
                None => match r.with_digest(&record.manifest.digest) {
                    Ok(d) => d.familiar(),
                    Err(_) => continue,
                },
            };
            if !repo_digests.contains(&d) {
                repo_digests.push(d);
            }
        }
        let empty = Value::Object(Default::default());
        let cfg = raw.get("config").unwrap_or(&empty);
        let field = |k: &str| cfg.get(k).cloned().unwrap_or(Value::Null);
        let mut config = serde_json::Map::new();
        config.insert("User".into(), cfg.get("User").cloned().unwrap_or(json!("")));
        if let Some(p) = cfg.get("ExposedPorts").filter(|v| !v.is_null()) {
            config.insert("ExposedPorts".into(), p.clone());
        }
        config.insert("Env".into(), field("Env"));
        config.insert("Cmd".into(), field("Cmd"));
        if let Some(h) = cfg.get("Healthcheck").filter(|v| !v.is_null()) {
            config.insert("Healthcheck".into(), h.clone());
        }
        config.insert("Volumes".into(), field("Volumes"));
        config.insert(
            "WorkingDir".into(),
            cfg.get("WorkingDir").cloned().unwrap_or(json!("")),
        );
        config.insert("Entrypoint".into(), field("Entrypoint"));
        config.insert("OnBuild".into(), field("OnBuild"));
        config.insert("Labels".into(), field("Labels"));
        if let Some(s) = cfg.get("StopSignal").filter(|v| !v.is_null()) {
            config.insert("StopSignal".into(), s.clone());
        }
        let str_field = |k: &str| raw.get(k).cloned().unwrap_or(json!(""));
        let mut out = serde_json::Map::new();
        out.insert("Id".into(), json!(record.id));
        out.insert("RepoTags".into(), json!(repo_tags));
        out.insert("RepoDigests".into(), json!(repo_digests));
        out.insert("Parent".into(), json!(""));
        out.insert("Comment".into(), str_field("comment"));
        out.insert("Created".into(), str_field("created"));
        out.insert("DockerVersion".into(), str_field("docker_version"));
        out.insert("Author".into(), str_field("author"));
        out.insert("Config".into(), Value::Object(config));
        out.insert("Architecture".into(), str_field("architecture"));
        if let Some(v) = raw.get("variant") {
            out.insert("Variant".into(), v.clone());
        }
        out.insert("Os".into(), str_field("os"));
        out.insert("Size".into(), json!(record.size));
        out.insert(
            "RootFS".into(),
            json!({
                "Type": raw.pointer("/rootfs/type").cloned().unwrap_or(json!("layers")),
                "Layers": record.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            }),
        );
        out.insert(
            "Metadata".into(),
            json!({ "LastTagTime": record.loaded_at }),
        );
        Ok(Value::Object(out))
    }
}
