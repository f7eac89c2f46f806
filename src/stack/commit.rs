//! `commit SERVICE [REPOSITORY[:TAG]]`: a service container's changes as a new image, as
//! `docker commit` makes one: the container's image layers plus one layer of what the
//! container changed (its overlay upper directory, whiteouts turned into OCI's), and the
//! image's config with the container's own (command, entrypoint, environment, user, working
//! directory, labels, ports, stop signal), then `--change` instructions, author and message.
//!
//! The container keeps running (frozen while its upper directory is read, unless `pause` is
//! off, so the layer is one moment's state); a stopped one is read under the project's lock.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::cp::container_of;
use super::{invalid, Reporter, StackError};
use crate::engine::container::Container;
use crate::engine::image::{ImageStore, PackOptions, Reference};
use crate::engine::root::StateRoot;

/// `commit`'s flags.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `REPOSITORY[:TAG]` given to the image; none: the image has only its id.
    pub reference: Option<String>,
    /// `-p/--pause`: freeze a running container while its changes are read.
    pub pause: bool,
    pub author: Option<String>,
    pub message: Option<String>,
    /// `-c/--change`: Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    pub dry_run: bool,
}

/// Makes the image; returns its id (`sha256:…`), or `None` in a dry run.
pub fn commit(
    root: &Path,
    project: &str,
    service: &str,
    index: u32,
    opts: &CommitOptions,
    rep: &mut dyn Reporter,
) -> Result<Option<String>, StackError> {
    // Checked before anything is read, so a bad flag changes nothing.
    let names = match &opts.reference {
        Some(r) => vec![Reference::parse(r).map_err(|e| invalid(format!("{r}: {e}")))?],
        None => Vec::new(),
    };
    let mut changes = Map::new();
    for c in &opts.changes {
        apply_change(&mut changes, c)?;
    }
    let o = container_of(root, project, service, index)?;
    let name = o.record.name.clone();
    rep.event("Container", &name, "Committing");
    if opts.dry_run {
        rep.event("Container", &name, "Committed");
        return Ok(None);
    }
    let store_err = |error| StackError::ImageStore { error };
    let store = ImageStore::open(StateRoot::new(root).images()).map_err(store_err)?;
    let base_config = store.config_of(&o.record.image_id).map_err(store_err)?;
    let mut layers = store.layers_of(&o.record.image_id).map_err(store_err)?;
    let upper = StateRoot::new(root).container(&o.record.id).join("upper");

    let _lock;
    let layer = if o.state.live_pid().is_some() {
        let c = Container::of(root, &o.record);
        let freeze = opts.pause && !c.is_paused();
        if freeze {
            c.set_paused(true)?;
        }
        let layer = store.add_layer_from(&upper, &PackOptions::default());
        if freeze {
            c.set_paused(false)?;
        }
        layer.map_err(store_err)?
    } else {
        _lock = crate::engine::state::lock_project(root, project)?;
        store
            .add_layer_from(&upper, &PackOptions::default())
            .map_err(store_err)?
    };
    layers.push(layer);

    let view = super::inspect::view(&o, false);
    let cmd_line = view.config.cmd.clone().unwrap_or_default().join(" ");
    let config = image_config(base_config, &view.config, &changes, opts, &cmd_line)?;
    let id = store
        .add_image(config, &layers, &names)
        .map_err(store_err)?;
    rep.event("Container", &name, &format!("Committed as {id}"));
    Ok(Some(id))
}

/// The new image's config: the base image's, its `config` replaced by the container's, the
/// changes over that, a history entry for the new layer.
fn image_config(
    base: Value,
    container: &super::inspect::ConfigView,
    changes: &Map<String, Value>,
    opts: &CommitOptions,
    cmd_line: &str,
) -> Result<Value, StackError> {
    let Value::Object(mut base) = base else {
        return Err(invalid("the image's config is not a JSON object"));
    };
    let mut cfg = match base.remove("config") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let c = serde_json::to_value(container).map_err(|e| invalid(e.to_string()))?;
    for key in [
        "User",
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "Labels",
        "StopSignal",
        "ExposedPorts",
    ] {
        match c.get(key) {
            Some(Value::String(s)) if s.is_empty() => {
                cfg.remove(key);
            }
            Some(Value::Object(m)) if m.is_empty() => {
                cfg.remove(key);
            }
            Some(Value::Null) | None => {
                cfg.remove(key);
            }
            Some(v) => {
                cfg.insert(key.to_string(), v.clone());
            }
        }
    }
    for (k, v) in changes {
        match (k.as_str(), v, cfg.get_mut(k)) {
            // ENV, LABEL, EXPOSE and VOLUME add to what is there.
            ("Env", Value::Array(add), Some(Value::Array(have))) => {
                for e in add {
                    let key = e.as_str().and_then(|s| s.split('=').next()).unwrap_or("");
                    have.retain(|h| h.as_str().and_then(|s| s.split('=').next()) != Some(key));
                    have.push(e.clone());
                }
            }
            (_, Value::Object(add), Some(Value::Object(have))) => {
                have.extend(add.clone());
            }
            _ => {
                cfg.insert(k.clone(), v.clone());
            }
        }
    }
    let now = crate::engine::fsutil::format_rfc3339(crate::engine::fsutil::now_secs());
    base.insert("config".into(), Value::Object(cfg));
    base.insert("created".into(), json!(now));
    match &opts.author {
        Some(a) => base.insert("author".into(), json!(a)),
        None => base.remove("author"),
    };
    let mut entry = Map::new();
    entry.insert("created".into(), json!(now));
    entry.insert("created_by".into(), json!(cmd_line));
    if let Some(a) = &opts.author {
        entry.insert("author".into(), json!(a));
    }
    if let Some(m) = &opts.message {
        entry.insert("comment".into(), json!(m));
    }
    match base.get_mut("history") {
        Some(Value::Array(h)) => h.push(Value::Object(entry)),
        _ => {
            base.insert("history".into(), json!([entry]));
        }
    }
    Ok(Value::Object(base))
}

/// A value in JSON-array form (`["a", "b"]`) when it is one, else the words.
fn json_or_words(rest: &str) -> Result<Option<Vec<String>>, StackError> {
    if rest.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<String>>(rest.trim())
            .map(Some)
            .map_err(|e| invalid(format!("{rest}: not a JSON array of strings: {e}")))
    } else {
        Ok(None)
    }
}

fn unquote(s: &str) -> String {
    let t = s.trim();
    t.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(t)
        .to_string()
}

/// `KEY=VALUE ...` pairs, or the legacy `KEY VALUE` form.
fn pairs(rest: &str, what: &str) -> Result<Vec<(String, String)>, StackError> {
    let rest = rest.trim();
    let first = rest.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid(format!("{what} {rest}: expected KEY=VALUE")))?;
        return Ok(vec![(k.to_string(), unquote(v))]);
    }
    rest.split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((unquote(k), unquote(v))),
            _ => Err(invalid(format!("{what} {kv}: expected KEY=VALUE"))),
        })
        .collect()
}

/// Applies one `--change` Dockerfile instruction to `cfg` (the config's keys): those `docker
/// commit` takes, except `ONBUILD` (no build here runs ONBUILD triggers).
pub fn apply_change(cfg: &mut Map<String, Value>, change: &str) -> Result<(), StackError> {
    let change = change.trim();
    let (instr, rest) = change
        .split_once(char::is_whitespace)
        .map(|(i, r)| (i, r.trim()))
        .unwrap_or((change, ""));
    if rest.is_empty() {
        return Err(invalid(format!("{change}: the instruction has no value")));
    }
    match instr.to_ascii_uppercase().as_str() {
        i @ ("CMD" | "ENTRYPOINT") => {
            let argv = match json_or_words(rest)? {
                Some(v) => v,
                None => vec!["/bin/sh".into(), "-c".into(), rest.to_string()],
            };
            let key = if i == "CMD" { "Cmd" } else { "Entrypoint" };
            cfg.insert(key.into(), json!(argv));
        }
        "ENV" => {
            let add: Vec<Value> = pairs(rest, "ENV")?
                .into_iter()
                .map(|(k, v)| json!(format!("{k}={v}")))
                .collect();
            cfg.insert("Env".into(), Value::Array(add));
        }
        "LABEL" => {
            let add: Map<String, Value> = pairs(rest, "LABEL")?
                .into_iter()
                .map(|(k, v)| (k, json!(v)))
                .collect();
            cfg.insert("Labels".into(), Value::Object(add));
        }
        "EXPOSE" => {
            let mut add = Map::new();
            for p in rest.split_whitespace() {
                let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                if port.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(invalid(format!("EXPOSE {p}: not a port")));
                }
                add.insert(format!("{port}/{proto}"), json!({}));
            }
            cfg.insert("ExposedPorts".into(), Value::Object(add));
        }
        "VOLUME" => {
            let paths = json_or_words(rest)?
                .unwrap_or_else(|| rest.split_whitespace().map(str::to_string).collect());
            let add: Map<String, Value> = paths.into_iter().map(|p| (p, json!({}))).collect();
            cfg.insert("Volumes".into(), Value::Object(add));
        }
        "USER" => {
            cfg.insert("User".into(), json!(unquote(rest)));
        }
        "WORKDIR" => {
            cfg.insert("WorkingDir".into(), json!(unquote(rest)));
        }
        "STOPSIGNAL" => {
            cfg.insert("StopSignal".into(), json!(unquote(rest)));
        }
        other => {
            return Err(invalid(format!(
                "{other} is not a supported --change instruction (CMD, ENTRYPOINT, ENV, \
                 EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)"
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(changes: &[&str]) -> Map<String, Value> {
        let mut m = Map::new();
        for c in changes {
            apply_change(&mut m, c).expect(c);
        }
        m
    }

    #[test]
    fn changes_in_dockerfile_syntax() {
        let m = changed(&[
            r#"CMD ["sleep", "60"]"#,
            "ENTRYPOINT echo hi",
            "ENV A=1 B=\"two\"",
            "LABEL x=y",
            "EXPOSE 80 53/udp",
            "WORKDIR /srv",
            "USER 1000:1000",
        ]);
        assert_eq!(m["Cmd"], json!(["sleep", "60"]));
        assert_eq!(m["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(m["Env"], json!(["A=1", "B=two"]));
        assert_eq!(m["Labels"], json!({"x": "y"}));
        assert_eq!(m["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(m["WorkingDir"], json!("/srv"));
        assert_eq!(m["User"], json!("1000:1000"));
        assert_eq!(
            changed(&["ENV K some value"])["Env"],
            json!(["K=some value"])
        );
        let mut m = Map::new();
        assert!(apply_change(&mut m, "ONBUILD RUN x").is_err());
        assert!(apply_change(&mut m, "RUN x").is_err());
        assert!(apply_change(&mut m, "CMD").is_err());
        assert!(apply_change(&mut m, "EXPOSE http").is_err());
    }
}
