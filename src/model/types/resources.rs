//! The project and its top-level sections: `networks`, `volumes`, `secrets`, `configs`,
//! `models` (and `include`, consumed by the loader before typing).
//!
//! Field order is the order `docker compose config` prints keys in; maps print sorted.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fields::{de_labels, de_options, de_string_or_list, struct_fields, Extensions};
use super::service::ServiceConfig;
use super::syntax::{
    is_false, none_or_default, ser_extensions, ser_sorted, struct_from_map, ShortSyntax,
};

/// A loaded Compose project.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Project {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub name: Option<String>,
    /// The Compose files it was loaded from (set by the loader, never read from a file nor
    /// printed): containers carry them in the `com.docker.compose.project.config_files` label
    /// that `ls` shows, as Docker Compose's do.
    #[serde(skip)]
    pub config_files: Vec<std::path::PathBuf>,
    /// The project directory (set by the loader, never read from a file nor printed):
    /// containers carry it in the `com.docker.compose.project.working_dir` label, as Docker
    /// Compose's do, for scripts that read `ps --format json`'s labels.
    #[serde(skip)]
    pub working_dir: std::path::PathBuf,
    /// The values of the variables that secrets' and configs' `environment` sources name, read
    /// from the project's environment (process and `.env`) by the loader, as Docker Compose
    /// reads them; never read from a file nor printed.
    #[serde(skip)]
    pub source_values: SourceValues,
    /// Obsolete; accepted and ignored (the loader warns about it). Never printed.
    #[serde(default, skip_serializing)]
    pub version: Option<String>,
    /// Handled by the include step before the project is typed. Never printed.
    #[serde(
        default,
        deserialize_with = "super::syntax::de_short_vec",
        skip_serializing
    )]
    pub include: Vec<IncludeConfig>,
    #[serde(default, serialize_with = "ser_sorted")]
    pub services: IndexMap<String, ServiceConfig>,
    #[serde(
        default,
        deserialize_with = "de_map_null_default",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub networks: IndexMap<String, NetworkConfig>,
    #[serde(
        default,
        deserialize_with = "de_map_null_default",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub volumes: IndexMap<String, VolumeConfig>,
    #[serde(
        default,
        deserialize_with = "de_map_null_default",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub secrets: IndexMap<String, SecretConfig>,
    #[serde(
        default,
        deserialize_with = "de_map_null_default",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub configs: IndexMap<String, ConfigObjConfig>,
    #[serde(
        default,
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub models: IndexMap<String, ModelConfig>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// One `include` entry: a path, or `{path, env_file, project_directory}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IncludeConfig {
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub path: Vec<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub project_directory: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env_file: Vec<String>,
}

impl ShortSyntax for IncludeConfig {
    fn from_short(path: String) -> Result<Self, String> {
        Ok(IncludeConfig {
            path: vec![path],
            ..Default::default()
        })
    }
    fn extensions_mut(&mut self) -> Option<&mut Extensions> {
        None
    }
}

/// A top-level network.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NetworkConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub driver: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<IpamConfig>,
    #[serde(default, skip_serializing_if = "External::is_not_external")]
    pub external: External,
    #[serde(default, skip_serializing_if = "is_false")]
    pub internal: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub attachable: bool,
    #[serde(
        default,
        deserialize_with = "de_labels",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub labels: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ipv4: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<bool>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A network's IP address management.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IpamConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<IpamPool>,
    #[serde(
        default,
        deserialize_with = "de_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub options: IndexMap<String, String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// One IPAM address pool.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IpamPool {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub subnet: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub ip_range: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub aux_addresses: IndexMap<String, String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A top-level volume.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VolumeConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub driver: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "External::is_not_external")]
    pub external: External,
    #[serde(
        default,
        deserialize_with = "de_labels",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub labels: IndexMap<String, String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// Variable values that secrets and configs are made of: kept out of `Debug` output, so a
/// logged or printed project never shows them.
#[derive(Clone, PartialEq, Default)]
pub struct SourceValues(pub IndexMap<String, String>);

impl std::fmt::Debug for SourceValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// A top-level secret. Its content (read from `file` or `environment`) is never printed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SecretConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "External::is_not_external")]
    pub external: External,
    #[serde(
        default,
        deserialize_with = "de_labels",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub labels: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub driver: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub template_driver: Option<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A top-level config: from a `file`, an `environment` variable, inline `content`, or external.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConfigObjConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "External::is_not_external")]
    pub external: External,
    #[serde(
        default,
        deserialize_with = "de_labels",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub labels: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub template_driver: Option<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A top-level AI model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub name: Option<String>,
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub context_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime_flags: Vec<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `external`: whether the resource exists outside the project. The legacy form
/// `external: {name: x}` means `external: true` with the resource named `x`; that name is kept
/// in `legacy_name` for the normalize step to move into the resource's `name`. Printed as a
/// boolean.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct External {
    pub external: bool,
    pub legacy_name: Option<String>,
}

impl External {
    pub fn is_not_external(&self) -> bool {
        !self.external
    }
}

impl Serialize for External {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(self.external)
    }
}

/// The legacy mapping form of `external`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
struct LegacyExternal {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "x-*", default)]
    extensions: Extensions,
}

impl ShortSyntax for LegacyExternal {
    fn from_short(s: String) -> Result<Self, String> {
        Err(format!(
            "invalid external {s:?}: expected true, false or {{name: ...}}"
        ))
    }
    fn extensions_mut(&mut self) -> Option<&mut Extensions> {
        Some(&mut self.extensions)
    }
}

impl<'de> Deserialize<'de> for External {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = External;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<External, E> {
                Ok(External {
                    external: v,
                    legacy_name: None,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<External, E> {
                match v {
                    "true" | "True" | "TRUE" => self.visit_bool(true),
                    "false" | "False" | "FALSE" => self.visit_bool(false),
                    _ => Err(E::custom(format!(
                        "invalid external {v:?}: expected true or false"
                    ))),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<External, E> {
                Ok(External::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<External, A::Error> {
                let legacy: LegacyExternal = struct_from_map(map)?;
                Ok(External {
                    external: true,
                    legacy_name: legacy.name,
                })
            }
        }
        // As a struct, so the loader's deserializer checks the legacy mapping's keys; it hands
        // booleans and strings to the visitor as they are.
        d.deserialize_struct("External", struct_fields::<LegacyExternal>(), V)
    }
}

/// A top-level section whose entries may be null (`networks: {front: }`), meaning all defaults.
fn de_map_null_default<'de, D, T>(d: D) -> Result<IndexMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
        type Value = IndexMap<String, T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a mapping")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(IndexMap::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::new();
            while let Some(k) = map.next_key::<String>()? {
                let v = map.next_value::<Option<T>>()?;
                out.insert(k, v.unwrap_or_default());
            }
            Ok(out)
        }
    }
    d.deserialize_any(V(PhantomData))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::de::from_node;
    use crate::model::types::fields::test_support::{assert_fields_cover, compose_schema, load};
    use crate::model::yaml::parse_file_text;

    #[test]
    fn null_entries_are_defaults() {
        let p: Project = load(
            "services: {}\nnetworks: {front: }\nvolumes: {data: null}\nsecrets: {}\nconfigs: {}\n",
        )
        .unwrap();
        assert_eq!(p.networks["front"], NetworkConfig::default());
        assert_eq!(p.volumes["data"], VolumeConfig::default());
    }

    #[test]
    fn external_forms() {
        let cases = [
            ("external: true", true, None),
            ("external: 'true'", true, None),
            ("external: false", false, None),
            ("external: {name: real}", true, Some("real")),
        ];
        for (body, external, legacy) in cases {
            let n: NetworkConfig = load(&format!("{body}\n")).unwrap();
            assert_eq!(n.external.external, external, "{body}");
            assert_eq!(n.external.legacy_name.as_deref(), legacy, "{body}");
            let v: VolumeConfig = load(&format!("{body}\n")).unwrap();
            assert_eq!(v.external, n.external, "{body}");
        }
        let err = load::<VolumeConfig>("external:\n  nam: x\n").unwrap_err();
        assert_eq!(err.span.line, 2);
        assert_eq!(err.path, "external.nam");
        assert_eq!(
            err.kind.to_string(),
            "unknown key `nam`, did you mean `name`?"
        );
        let err = load::<VolumeConfig>("external: maybe\n").unwrap_err();
        assert_eq!(
            err.kind.to_string(),
            "invalid external \"maybe\": expected true or false"
        );
    }

    #[test]
    fn network_with_ipam_and_options() {
        let n: NetworkConfig = load(
            "name: net\ndriver: overlay\ndriver_opts: {foo: bar, baz: 1}\n\
             ipam:\n  driver: default\n  config:\n    - subnet: 172.28.0.0/16\n      ip_range: 172.28.5.0/24\n      \
             gateway: 172.28.5.254\n      aux_addresses: {host1: 172.28.1.5}\n  options: {o: v}\n\
             internal: true\nattachable: true\nenable_ipv4: false\nenable_ipv6: true\nlabels: [a=b]\nx-n: 1\n",
        )
        .unwrap();
        assert_eq!(n.driver_opts["baz"], "1");
        let ipam = n.ipam.as_ref().unwrap();
        assert_eq!(ipam.config[0].subnet.as_deref(), Some("172.28.0.0/16"));
        assert_eq!(ipam.config[0].aux_addresses["host1"], "172.28.1.5");
        assert_eq!(ipam.options["o"], "v");
        assert!(n.internal && n.attachable);
        assert_eq!((n.enable_ipv4, n.enable_ipv6), (Some(false), Some(true)));
        assert_eq!(n.labels["a"], "b");
        assert_eq!(n.extensions["x-n"], serde_yaml_ng::Value::from(1));
        assert_eq!(
            serde_yaml_ng::to_string(&n).unwrap(),
            "name: net\ndriver: overlay\ndriver_opts:\n  baz: '1'\n  foo: bar\nipam:\n  driver: default\n  config:\n  \
             - subnet: 172.28.0.0/16\n    gateway: 172.28.5.254\n    ip_range: 172.28.5.0/24\n    aux_addresses:\n      \
             host1: 172.28.1.5\n  options:\n    o: v\ninternal: true\nattachable: true\nlabels:\n  a: b\n\
             enable_ipv4: false\nenable_ipv6: true\nx-*:\n  x-n: 1\n"
        );
    }

    #[test]
    fn secrets_configs_models_and_include() {
        let p: Project = load(
            "version: '3.9'\ninclude:\n  - other.yaml\n  - path: [a.yaml, b.yaml]\n    env_file: a.env\n    project_directory: ..\n\
             services: {}\n\
             secrets:\n  s1: {file: ./s, labels: {a: b}}\n  s2: {environment: TOKEN, template_driver: golang}\n  \
             s3: {external: true, name: real, driver: d, driver_opts: {k: 1}}\n\
             configs:\n  c1: {content: hello}\n  c2: {file: ./c, x-y: z}\n\
             models:\n  llm: {model: ai/smollm2, context_size: 1024, runtime_flags: [--verbose]}\n\
             x-top: {b: 1, a: 2}\n",
        )
        .unwrap();
        assert_eq!(p.version.as_deref(), Some("3.9"));
        assert_eq!(p.include[0].path, ["other.yaml"]);
        assert_eq!(p.include[1].path, ["a.yaml", "b.yaml"]);
        assert_eq!(p.include[1].env_file, ["a.env"]);
        assert_eq!(p.include[1].project_directory.as_deref(), Some(".."));
        assert_eq!(p.secrets["s1"].file.as_deref(), Some("./s"));
        assert_eq!(p.secrets["s2"].environment.as_deref(), Some("TOKEN"));
        assert_eq!(p.secrets["s3"].driver_opts["k"], "1");
        assert_eq!(p.configs["c1"].content.as_deref(), Some("hello"));
        assert!(p.configs["c2"].extensions.contains_key("x-y"));
        let m = &p.models["llm"];
        assert_eq!(
            (m.model.as_str(), m.context_size),
            ("ai/smollm2", Some(1024))
        );
        assert_eq!(m.runtime_flags, ["--verbose"]);
        // `content` belongs to configs, not secrets.
        let err = load::<Project>("services: {}\nsecrets:\n  s: {content: x}\n").unwrap_err();
        assert_eq!(err.path, "secrets.s.content");
        assert_eq!(err.span.line, 3);
    }

    #[test]
    fn serializes_a_project_sorted_without_version_or_include() {
        let p: Project = load(
            "version: '3'\nname: demo\nservices:\n  web: {image: nginx}\n  api: {image: api}\n\
             networks: {b: , a: {external: true}}\nx-z: 1\nx-a: {y: 1, x: 2}\n",
        )
        .unwrap();
        assert_eq!(
            serde_yaml_ng::to_string(&p).unwrap(),
            "name: demo\nservices:\n  api:\n    image: api\n  web:\n    image: nginx\n\
             networks:\n  a:\n    external: true\n  b: {}\nx-*:\n  x-a:\n    x: 2\n    y: 1\n  x-z: 1\n"
        );
    }

    #[test]
    fn every_top_level_key_of_the_schema_is_a_field() {
        let Some(schema) = compose_schema() else {
            return;
        };
        let defs = &schema["definitions"];
        assert_fields_cover::<Project>(&schema, "top level");
        assert_fields_cover::<NetworkConfig>(&defs["network"], "network");
        assert_fields_cover::<IpamConfig>(&defs["network"]["properties"]["ipam"], "ipam");
        assert_fields_cover::<IpamPool>(
            &defs["network"]["properties"]["ipam"]["properties"]["config"]["items"],
            "ipam config",
        );
        assert_fields_cover::<VolumeConfig>(&defs["volume"], "volume");
        assert_fields_cover::<SecretConfig>(&defs["secret"], "secret");
        assert_fields_cover::<ConfigObjConfig>(&defs["config"], "config");
        assert_fields_cover::<ModelConfig>(&defs["model"], "model");
        assert_fields_cover::<IncludeConfig>(&defs["include"]["oneOf"][1], "include");
        assert_fields_cover::<LegacyExternal>(
            &defs["volume"]["properties"]["external"],
            "external",
        );
    }

    /// Every Compose file of the conformance corpus that needs no interpolation loads as a
    /// typed project, except the fixtures that exist to be rejected.
    #[test]
    fn corpus_files_load() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
        if !Path::new(root).is_dir() {
            eprintln!("skipped: {root} is not present");
            return;
        }
        let mut files = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("readable corpus").flatten() {
                let p = entry.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    files.push(p);
                }
            }
        }
        files.sort();
        let (mut loaded, mut failures) = (0, Vec::new());
        for file in &files {
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            // Interpolation, includes and merging happen before typing; only plain files here.
            if text.contains('$') || !text.contains("services:") {
                continue;
            }
            let Ok(node) = parse_file_text(&text, Some(file)) else {
                continue;
            };
            if node.get("services").is_none() {
                continue;
            }
            let must_fail = file.ends_with("wrong-composefile/compose.yaml");
            match (from_node::<Project>(&node), must_fail) {
                (Ok(_), false) => loaded += 1,
                (Err(e), true) => {
                    assert_eq!(e.path, "services.simple.wrongField");
                    assert_eq!(e.kind.to_string(), "unknown key `wrongField`");
                }
                (Ok(_), true) => failures.push(format!("{}: accepted", file.display())),
                (Err(e), false) => failures.push(e.to_string()),
            }
        }
        eprintln!("{loaded} corpus files loaded");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(loaded > 100, "only {loaded} corpus files were found");
    }
}
