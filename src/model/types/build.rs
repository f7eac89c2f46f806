//! A service's `build` section. The short form `build: ./dir` is `{context: ./dir}`.
//!
//! Field order is the order `docker compose config` prints keys in.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::build_context::ContextSource;
use super::bytes::ByteSize;
use super::fields::{de_labels, de_mapping_with_equals, de_string_or_list, Extensions, ScalarText};
use super::file_reference::FileReferenceConfig;
use super::syntax::{
    de_hosts, de_short_vec, is_false, none_or_default, ser_extensions, ser_hosts, ser_sorted,
    HostsList, MappingWithEquals, ShortSyntax,
};
use super::ulimits::Ulimit;

/// How to build a service's image.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BuildConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub dockerfile: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub dockerfile_inline: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<String>,
    /// A build argument without a value (`- NAME`) is `None`, taken from the environment.
    #[serde(
        default,
        deserialize_with = "de_mapping_with_equals",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub args: MappingWithEquals,
    /// `true`/`false` or a mode such as `mode=max`; kept as the text written.
    #[serde(
        default,
        deserialize_with = "de_bool_or_string",
        skip_serializing_if = "none_or_default"
    )]
    pub provenance: Option<String>,
    /// `true`/`false` or generator options; kept as the text written.
    #[serde(
        default,
        deserialize_with = "de_bool_or_string",
        skip_serializing_if = "none_or_default"
    )]
    pub sbom: Option<String>,
    /// SSH agent sockets or keys: `default`, `id=path`, or a mapping `id: path`.
    #[serde(
        default,
        deserialize_with = "de_ssh",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ssh: Vec<SshKey>,
    #[serde(
        default,
        deserialize_with = "de_labels",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub labels: IndexMap<String, String>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cache_from: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cache_to: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_cache: bool,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub no_cache_filter: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_labels",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub additional_contexts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pull: bool,
    #[serde(
        default,
        deserialize_with = "de_hosts",
        serialize_with = "ser_hosts",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extra_hosts: HostsList,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub isolation: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub target: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_short_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secrets: Vec<FileReferenceConfig>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub shm_size: Option<ByteSize>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    #[serde(
        default,
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub ulimits: IndexMap<String, Ulimit>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub platforms: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

impl BuildConfig {
    /// What `context` names; `None` only before normalization fills in the default.
    pub fn context_source(&self) -> Option<ContextSource<'_>> {
        self.context.as_deref().map(ContextSource::parse)
    }

    /// Each additional context's name and what it names.
    pub fn additional_context_sources(&self) -> impl Iterator<Item = (&str, ContextSource<'_>)> {
        self.additional_contexts
            .iter()
            .map(|(name, value)| (name.as_str(), ContextSource::parse(value)))
    }
}

impl ShortSyntax for BuildConfig {
    fn from_short(context: String) -> Result<Self, String> {
        Ok(BuildConfig {
            context: Some(context),
            ..Default::default()
        })
    }
    fn extensions_mut(&mut self) -> Option<&mut Extensions> {
        Some(&mut self.extensions)
    }
}

/// One `build.ssh` entry: `default`, or an id with a socket/key path. Printed `id` or
/// `id=path`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SshKey {
    pub id: String,
    pub path: Option<String>,
}

impl Serialize for SshKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.path {
            Some(p) => s.serialize_str(&format!("{}={}", self.id, p)),
            None => s.serialize_str(&self.id),
        }
    }
}

fn de_ssh<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SshKey>, D::Error> {
    let entries = de_mapping_with_equals(d)?;
    Ok(entries
        .into_iter()
        .map(|(id, path)| SshKey {
            id,
            path: path.filter(|p| !p.is_empty()),
        })
        .collect())
}

/// A key that is a boolean or a string (`provenance: true`, `provenance: mode=max`).
fn de_bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(ScalarText::deserialize(d)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::fields::test_support::load;
    use crate::model::types::service::ServiceConfig;
    use crate::model::types::syntax::Short;

    fn build(yaml: &str) -> BuildConfig {
        load::<ServiceConfig>(yaml)
            .unwrap_or_else(|e| panic!("{yaml}: {e}"))
            .build
            .expect("build present")
    }

    #[test]
    fn short_and_long_context_are_the_same() {
        let short = build("build: ./dir\n");
        let long = build("build:\n  context: ./dir\n");
        assert_eq!(short, long);
        assert_eq!(short.context.as_deref(), Some("./dir"));
    }

    #[test]
    fn args_labels_and_contexts_from_list_or_map() {
        let cases = [
            "build:\n  args: [A=1, B]\n  labels: [l=v]\n  additional_contexts: [c=./x]\n",
            "build:\n  args: {A: 1, B: null}\n  labels: {l: v}\n  additional_contexts: {c: ./x}\n",
        ];
        for yaml in cases {
            let b = build(yaml);
            let want: MappingWithEquals = [("A".into(), Some("1".into())), ("B".into(), None)]
                .into_iter()
                .collect();
            assert_eq!(b.args, want, "{yaml}");
            assert_eq!(b.labels.get("l").map(String::as_str), Some("v"), "{yaml}");
            assert_eq!(
                b.additional_contexts.get("c").map(String::as_str),
                Some("./x"),
                "{yaml}"
            );
        }
    }

    #[test]
    fn ssh_forms() {
        let list = build("build:\n  ssh: [default, key=/k]\n");
        let map = build("build:\n  ssh: {default: null, key: /k}\n");
        let want = vec![
            SshKey {
                id: "default".into(),
                path: None,
            },
            SshKey {
                id: "key".into(),
                path: Some("/k".into()),
            },
        ];
        assert_eq!(list.ssh, want);
        assert_eq!(map.ssh, want);
    }

    #[test]
    fn secrets_short_and_long() {
        let b = build("build:\n  secrets:\n    - s1\n    - source: s2\n      target: /t\n");
        assert_eq!(b.secrets[0].source, "s1");
        assert_eq!(b.secrets[0].target, None);
        assert_eq!(b.secrets[1].source, "s2");
        assert_eq!(b.secrets[1].target.as_deref(), Some("/t"));
    }

    #[test]
    fn other_deserializers_get_key_checks_and_extensions_too() {
        // The long form through a deserializer other than the loader's (serde_yaml_ng) is
        // checked by the map filter instead.
        let err = serde_yaml_ng::from_str::<Short<BuildConfig>>("contxt: .\n")
            .err()
            .expect("must fail")
            .to_string();
        assert!(
            err.starts_with("unknown field `contxt`, expected one of `context`"),
            "{err}"
        );
    }

    #[test]
    fn extensions_of_long_form_are_kept() {
        let Short(b) =
            serde_yaml_ng::from_str::<Short<BuildConfig>>("context: .\nx-foo: 1\n").expect("valid");
        assert_eq!(
            b.extensions.get("x-foo"),
            Some(&serde_yaml_ng::Value::from(1))
        );
    }

    /// Every key of the list, in one section: `config` prints it, and what it prints
    /// loads back to the same model.
    const FULL: &str = "build:
  context: ./app
  dockerfile: web.Dockerfile
  args: {A: '1', FROM_ENV: null}
  target: prod
  labels: [com.example=1]
  tags: [app:1, registry.local/app:1]
  no_cache: true
  pull: true
  network: host
  extra_hosts: [db=10.0.0.2]
  shm_size: 256m
  secrets: [npmrc, {source: key, target: /k}]
  additional_contexts: {base: 'service:base', img: 'docker-image://alpine', lib: ../lib}
  privileged: true
  ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
  platforms: [linux/amd64]
  cache_from: [type=local,src=/c]
  cache_to: type=local,dest=/c
  ssh: [default]
";

    #[test]
    fn every_key_round_trips_through_config_output() {
        let first = build(FULL);
        assert_eq!(first.shm_size.map(|b| b.0), Some(256 * 1024 * 1024));
        assert_eq!(first.ulimits["nproc"], Ulimit::single(512));
        assert_eq!(first.network.as_deref(), Some("host"));
        assert_eq!(first.cache_to, ["type=local,dest=/c"]);
        assert_eq!(first.args.get("FROM_ENV"), Some(&None));
        let printed = serde_yaml_ng::to_string(&first).expect("serialize");
        let indented: String = printed.lines().map(|l| format!("  {l}\n")).collect();
        let again = build(&format!("build:\n{indented}"));
        assert_eq!(again, first, "{printed}");
    }

    #[test]
    fn typed_keys_reject_bad_values_naming_the_key() {
        for (yaml, want) in [
            (
                "build:\n  shm_size: lots\n",
                "2:13: build.shm_size: invalid size \"lots\"",
            ),
            ("build:\n  no_cache: maybe\n", "build.no_cache"),
            ("build:\n  ulimits: {nofile: {soft: x}}\n", "build.ulimits"),
            ("build:\n  dockerfil: D\n", "did you mean `dockerfile`"),
        ] {
            let err = load::<ServiceConfig>(yaml).expect_err(yaml).to_string();
            assert!(err.contains(want), "{yaml}: {err}");
        }
    }

    #[test]
    fn contexts_are_classified() {
        let b = build(FULL);
        assert_eq!(
            b.context_source(),
            Some(ContextSource::Dir(std::path::Path::new("./app")))
        );
        let extra: Vec<_> = b.additional_context_sources().collect();
        assert_eq!(
            extra,
            [
                ("base", ContextSource::Service("base")),
                ("img", ContextSource::Image("alpine")),
                ("lib", ContextSource::Dir(std::path::Path::new("../lib"))),
            ]
        );
    }

    #[test]
    fn serializes_in_compose_order() {
        let b = build(
            "build:\n  tags: [t]\n  target: t\n  args: [Z=1, A=2]\n  dockerfile: D\n  context: .\n  \
             provenance: true\n  no_cache: false\n  ssh: [default]\n  extra_hosts: [b:1.1.1.1, a=::1]\n",
        );
        let out = serde_yaml_ng::to_string(&b).unwrap();
        assert_eq!(
            out,
            "context: .\ndockerfile: D\nargs:\n  A: '2'\n  Z: '1'\nprovenance: 'true'\nssh:\n- default\n\
             extra_hosts:\n- a=::1\n- b=1.1.1.1\ntarget: t\ntags:\n- t\n"
        );
    }
}
