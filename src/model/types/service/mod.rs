//! A service: every key of the Compose specification's `service` definition, with each short
//! syntax normalized to the one long form `docker compose config` prints.
//!
//! Field declaration order is the order Docker Compose prints keys in (compose-go's struct
//! order), so serializing a [`ServiceConfig`] gives `docker compose config`'s layout. Maps print
//! with their keys sorted, as Go's YAML encoder does.
//!
//! The short-or-long syntax, sorted map output and the `skip_serializing_if` predicates the
//! sibling model files share are in `syntax`, the lenient-scalar and list/mapping readers in
//! `fields`. The field groups with a structure of their own (healthcheck, logging, depends_on,
//! env_file, hooks, develop, blkio...) are one file each here; `de` holds the readers of the
//! service's plain fields.

mod attachments;
mod blkio;
mod credential_spec;
mod de;
mod dependency;
mod develop;
mod env_file;
mod extends;
mod health;
mod hooks;
mod logging;
mod provider;
mod shell;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::build::BuildConfig;
use super::bytes::ByteSize;
use super::deploy::{DeployConfig, DeviceRequest};
use super::devices::DeviceMapping;
use super::duration::Duration;
use super::fields::{de_labels, de_mapping_with_equals, de_options, de_string_or_list, Extensions};
use super::mounts::ServiceVolume;
use super::ports::PortConfig;
use super::ulimits::Ulimit;
use de::{de_gpus, de_list_or_map_of_opt, de_micros, de_string_or_number_list};
use dependency::de_depends_on;
use env_file::de_env_files;

pub use super::file_reference::{FileMode, FileReferenceConfig};
use super::syntax::{
    de_cpus, de_hosts, de_short_opt, de_short_vec, is_false, none_or_default, ser_extensions,
    ser_hosts, ser_sorted,
};
pub use super::syntax::{HostsList, MappingWithEquals};
pub use attachments::{ServiceModelConfig, ServiceNetworkConfig};
pub use blkio::{BlkioConfig, ThrottleDevice, WeightDevice};
pub use credential_spec::CredentialSpecConfig;
pub use dependency::{DependencyCondition, ServiceDependency};
pub use develop::{DevelopConfig, WatchAction, WatchRule};
pub use env_file::EnvFile;
pub use extends::ExtendsConfig;
pub use health::HealthCheckConfig;
pub use hooks::{PreStartHook, ServiceHook};
pub use logging::LoggingConfig;
pub use provider::ServiceProviderConfig;
pub use shell::{split_shell_words, ShellCommand};

/// A service's configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_labels",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub annotations: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<bool>,
    #[serde(
        default,
        deserialize_with = "de_short_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub build: Option<BuildConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub develop: Option<DevelopConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_config: Option<BlkioConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub cgroup_parent: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub cgroup: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub cpu_count: Option<i64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub cpu_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub cpu_period: Option<i64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub cpu_quota: Option<i64>,
    /// Microseconds; a duration string (`400ms`) is converted.
    #[serde(
        default,
        deserialize_with = "de_micros",
        skip_serializing_if = "none_or_default"
    )]
    pub cpu_rt_period: Option<i64>,
    /// Microseconds; a duration string (`400ms`) is converted.
    #[serde(
        default,
        deserialize_with = "de_micros",
        skip_serializing_if = "none_or_default"
    )]
    pub cpu_rt_runtime: Option<i64>,
    #[serde(
        default,
        deserialize_with = "de_cpus",
        skip_serializing_if = "none_or_default"
    )]
    pub cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub cpuset: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub cpu_shares: Option<i64>,
    /// `None` when not set; `Some([])` (from `[]` or `""`) clears the image's command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<ShellCommand>,
    #[serde(
        default,
        deserialize_with = "de_short_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub configs: Vec<FileReferenceConfig>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_spec: Option<CredentialSpecConfig>,
    #[serde(
        default,
        deserialize_with = "de_depends_on",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub depends_on: IndexMap<String, ServiceDependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceMapping>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns_search: Vec<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub domainname: Option<String>,
    /// `None` when not set; `Some([])` (from `[]` or `""`) clears the image's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<ShellCommand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ServiceProviderConfig>,
    #[serde(
        default,
        deserialize_with = "de_mapping_with_equals",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub environment: MappingWithEquals,
    #[serde(
        default,
        deserialize_with = "de_env_files",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env_file: Vec<EnvFile>,
    #[serde(
        default,
        deserialize_with = "de_string_or_number_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub expose: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_short_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub extends: Option<ExtendsConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_links: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_hosts",
        serialize_with = "ser_hosts",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extra_hosts: HostsList,
    #[serde(
        default,
        deserialize_with = "de_string_or_number_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub group_add: Vec<String>,
    /// `gpus: all` is one request with `count: all`.
    #[serde(
        default,
        deserialize_with = "de_gpus",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub gpus: Vec<DeviceRequest>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthCheckConfig>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub ipc: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub isolation: Option<String>,
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
    pub label_file: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingConfig>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub mem_limit: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub mem_reservation: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub memswap_limit: Option<ByteSize>,
    /// Compose types this as a byte size too (and prints it as one).
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub mem_swappiness: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub mac_address: Option<String>,
    /// A list of model names has no per-model options (`None`).
    #[serde(
        default,
        deserialize_with = "de_list_or_map_of_opt",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub models: IndexMap<String, Option<ServiceModelConfig>>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub network_mode: Option<String>,
    /// A list of network names, or a network joined with no options, is `None` (printed `null`).
    #[serde(
        default,
        deserialize_with = "de_list_or_map_of_opt",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub networks: IndexMap<String, Option<ServiceNetworkConfig>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub oom_kill_disable: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub oom_score_adj: Option<i64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub pid: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub pids_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub platform: Option<String>,
    #[serde(
        default,
        deserialize_with = "super::ports::deserialize_ports",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<PortConfig>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub pull_refresh_after: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub restart: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u64>,
    #[serde(
        default,
        deserialize_with = "de_short_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secrets: Vec<FileReferenceConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub shm_size: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub stdin_open: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub stop_signal: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub storage_opt: IndexMap<String, String>,
    #[serde(
        default,
        deserialize_with = "de_labels",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub sysctls: IndexMap<String, String>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tmpfs: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tty: bool,
    #[serde(
        default,
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub ulimits: IndexMap<String, Ulimit>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub use_api_socket: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub userns_mode: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub uts: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ServiceVolume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_start: Vec<PreStartHook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<ServiceHook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<ServiceHook>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

#[cfg(test)]
mod tests;
