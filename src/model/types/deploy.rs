//! A service's `deploy` section: replicas, resources, restart and update policies, and the
//! device requests also used by a service's `gpus`.
//!
//! Field order is the order `docker compose config` prints keys in.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::bytes::ByteSize;
use super::duration::Duration;
use super::fields::{de_labels, Extensions};
use super::syntax::{de_cpus, is_default, none_or_default, ser_extensions, ser_sorted};

/// `deploy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeployConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    #[serde(
        default,
        deserialize_with = "de_labels",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub labels: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<UpdateConfig>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub placement: Placement,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub endpoint_mode: Option<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `deploy.update_config` and `deploy.rollback_config`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub failure_action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Duration>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub max_failure_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub order: Option<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `deploy.resources`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Resource>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// Resource limits or reservations. `devices` and `generic_resources` are reservations only.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resource {
    /// Number of CPUs (`0.5`); a string (`"0.5"`) is accepted.
    #[serde(
        default,
        deserialize_with = "de_cpus",
        skip_serializing_if = "none_or_default"
    )]
    pub cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub memory: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub pids: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceRequest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generic_resources: Vec<GenericResource>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A request for devices (GPUs, ...) by capability, count or id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeviceRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<DeviceCount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_labels",
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

/// How many devices a request wants: `all`, or a number. Docker Compose prints `all` as `-1`
/// (its internal encoding), and so do we; `-1` reads back as `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceCount {
    All,
    Count(u64),
}

impl Serialize for DeviceCount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DeviceCount::All => s.serialize_i64(-1),
            DeviceCount::Count(n) => s.serialize_u64(*n),
        }
    }
}

impl<'de> Deserialize<'de> for DeviceCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DeviceCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"all\" or a number of devices")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DeviceCount, E> {
                Ok(DeviceCount::Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DeviceCount, E> {
                match v {
                    -1 => Ok(DeviceCount::All),
                    n if n >= 0 => Ok(DeviceCount::Count(n.unsigned_abs())),
                    n => Err(E::custom(format!(
                        "invalid device count {n}: expected \"all\" or a number of devices"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DeviceCount, E> {
                if v.eq_ignore_ascii_case("all") {
                    return Ok(DeviceCount::All);
                }
                match v.trim().parse::<i64>() {
                    Ok(n) => self.visit_i64(n),
                    Err(_) => Err(E::custom(format!(
                        "invalid device count {v:?}: expected \"all\" or a number of devices"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A user-defined resource reservation (`SSD=3`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GenericResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discrete_resource_spec: Option<DiscreteGenericResource>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A countable user-defined resource: its kind and how many.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiscreteGenericResource {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub value: i64,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `deploy.restart_policy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RestartPolicy {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `deploy.placement`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<PlacementPreference>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub max_replicas_per_node: Option<u64>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// One placement preference.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlacementPreference {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub spread: Option<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::fields::test_support::{self, assert_fields_cover, compose_schema};
    use crate::model::LoadError;

    fn load(src: &str) -> Result<DeployConfig, LoadError> {
        test_support::load(src)
    }

    #[test]
    fn full_deploy_section() {
        let d = load(
            "mode: replicated\nreplicas: 6\nlabels: [FOO=BAR]\n\
             update_config: {parallelism: 3, delay: 10s, failure_action: continue, monitor: 60s, max_failure_ratio: 0.3, order: start-first}\n\
             rollback_config: {parallelism: 1}\n\
             resources:\n  limits: {cpus: '0.001', memory: 50M, pids: 100}\n  reservations:\n    cpus: 0.5\n    memory: 20M\n    \
             generic_resources: [{discrete_resource_spec: {kind: gpu, value: 2}}]\n    \
             devices: [{capabilities: [gpu], count: all, driver: nvidia, device_ids: ['0'], options: {a: b}}]\n\
             restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 120s}\n\
             placement: {constraints: [node=foo], preferences: [{spread: node.labels.az}], max_replicas_per_node: 5}\n\
             endpoint_mode: dnsrr\nx-extra: 1\n",
        )
        .unwrap();
        assert_eq!(d.mode.as_deref(), Some("replicated"));
        assert_eq!(d.replicas, Some(6));
        assert_eq!(d.labels["FOO"], "BAR");
        let u = d.update_config.as_ref().unwrap();
        assert_eq!(u.parallelism, Some(3));
        assert_eq!(u.delay, Some(Duration::from_secs(10)));
        assert_eq!(u.monitor, Some(Duration::from_secs(60)));
        assert_eq!(u.max_failure_ratio, Some(0.3));
        assert_eq!(u.order.as_deref(), Some("start-first"));
        let limits = d.resources.limits.as_ref().unwrap();
        assert_eq!(limits.cpus, Some(0.001));
        assert_eq!(limits.memory, Some(ByteSize(50 << 20)));
        assert_eq!(limits.pids, Some(100));
        let res = d.resources.reservations.as_ref().unwrap();
        assert_eq!(res.cpus, Some(0.5));
        let spec = res.generic_resources[0]
            .discrete_resource_spec
            .as_ref()
            .unwrap();
        assert_eq!((spec.kind.as_str(), spec.value), ("gpu", 2));
        let dev = &res.devices[0];
        assert_eq!(dev.count, Some(DeviceCount::All));
        assert_eq!(dev.device_ids, ["0"]);
        assert_eq!(dev.options["a"], "b");
        let rp = d.restart_policy.as_ref().unwrap();
        assert_eq!(rp.max_attempts, Some(3));
        assert_eq!(rp.window, Some(Duration::from_secs(120)));
        assert_eq!(
            d.placement.preferences[0].spread.as_deref(),
            Some("node.labels.az")
        );
        assert_eq!(d.placement.max_replicas_per_node, Some(5));
        assert_eq!(d.endpoint_mode.as_deref(), Some("dnsrr"));
        assert_eq!(d.extensions["x-extra"], serde_yaml_ng::Value::from(1));
    }

    #[test]
    fn device_count_forms() {
        let cases = [
            ("all", Ok(DeviceCount::All)),
            ("ALL", Ok(DeviceCount::All)),
            ("2", Ok(DeviceCount::Count(2))),
            ("'3'", Ok(DeviceCount::Count(3))),
            ("-1", Ok(DeviceCount::All)),
            (
                "some",
                Err("invalid device count \"some\": expected \"all\" or a number of devices"),
            ),
        ];
        for (text, want) in cases {
            let got = load(&format!(
                "resources: {{reservations: {{devices: [{{capabilities: [gpu], count: {text}}}]}}}}\n"
            ))
            .map(|d| d.resources.reservations.unwrap().devices[0].count.unwrap())
            .map_err(|e| e.kind.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{text}");
        }
    }

    #[test]
    fn unknown_key_is_located() {
        let err = load("resources:\n  limits:\n    memroy: 1g\n").unwrap_err();
        assert_eq!(err.span.line, 3);
        assert_eq!(err.path, "resources.limits.memroy");
        assert_eq!(
            err.kind.to_string(),
            "unknown key `memroy`, did you mean `memory`?"
        );
    }

    #[test]
    fn serializes_like_docker_compose_config() {
        let d = load(
            "resources: {limits: {cpus: '0.5', memory: 1g}, reservations: {devices: [{capabilities: [gpu], count: all}]}}\n\
             restart_policy: {condition: any, delay: 90s}\nreplicas: 2\nplacement: {}\n",
        )
        .unwrap();
        assert_eq!(
            serde_yaml_ng::to_string(&d).unwrap(),
            "replicas: 2\nresources:\n  limits:\n    cpus: 0.5\n    memory: '1073741824'\n  reservations:\n    \
             devices:\n    - capabilities:\n      - gpu\n      count: -1\nrestart_policy:\n  condition: any\n  delay: 1m30s\n"
        );
    }

    #[test]
    fn every_deploy_key_of_the_schema_is_a_field() {
        let Some(schema) = compose_schema() else {
            return;
        };
        let defs = &schema["definitions"];
        let dp = &defs["deployment"];
        assert_fields_cover::<DeployConfig>(dp, "deploy");
        assert_fields_cover::<UpdateConfig>(&dp["properties"]["update_config"], "update_config");
        assert_fields_cover::<UpdateConfig>(
            &dp["properties"]["rollback_config"],
            "rollback_config",
        );
        assert_fields_cover::<Resources>(&dp["properties"]["resources"], "resources");
        let res = &dp["properties"]["resources"]["properties"];
        assert_fields_cover::<Resource>(&res["limits"], "limits");
        assert_fields_cover::<Resource>(&res["reservations"], "reservations");
        assert_fields_cover::<RestartPolicy>(&dp["properties"]["restart_policy"], "restart_policy");
        assert_fields_cover::<Placement>(&dp["properties"]["placement"], "placement");
        assert_fields_cover::<PlacementPreference>(
            &dp["properties"]["placement"]["properties"]["preferences"]["items"],
            "preferences",
        );
        assert_fields_cover::<DeviceRequest>(&defs["devices"]["items"], "devices");
        assert_fields_cover::<DeviceRequest>(&defs["gpus"]["oneOf"][1]["items"], "gpus");
        assert_fields_cover::<GenericResource>(
            &defs["generic_resources"]["items"],
            "generic_resources",
        );
        assert_fields_cover::<DiscreteGenericResource>(
            &defs["generic_resources"]["items"]["properties"]["discrete_resource_spec"],
            "discrete_resource_spec",
        );
    }
}
