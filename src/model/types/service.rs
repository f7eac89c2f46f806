//! A service: every key of the Compose specification's `service` definition, with each short
//! syntax normalized to the one long form `docker compose config` prints.
//!
//! Field declaration order is the order Docker Compose prints keys in (compose-go's struct
//! order), so serializing a [`ServiceConfig`] gives `docker compose config`'s layout. Maps print
//! with their keys sorted, as Go's YAML encoder does.
//!
//! The short-or-long syntax, sorted map output and the `skip_serializing_if` predicates the
//! sibling model files share are in `syntax`, the lenient-scalar and list/mapping readers in
//! `fields`.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::build::BuildConfig;
use super::bytes::ByteSize;
use super::deploy::{DeployConfig, DeviceCount, DeviceRequest};
use super::devices::DeviceMapping;
use super::duration::Duration;
use super::fields::{
    de_labels, de_list_or_str, de_mapping_with_equals, de_options, de_string_or_list, seq_to_vec,
    Extensions, LenientText, ScalarText, TextShape,
};
use super::mounts::ServiceVolume;
use super::ports::PortConfig;
use super::ulimits::Ulimit;

pub use super::file_reference::{FileMode, FileReferenceConfig};
use super::syntax::{
    de_cpus, de_hosts, de_short_opt, de_short_vec, default_true, is_false, is_true,
    none_or_default, ser_extensions, ser_hosts, ser_sorted, Short, ShortSyntax,
};
pub use super::syntax::{HostsList, MappingWithEquals};

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

// ---------------------------------------------------------------------------------------------
// Sub-structures
// ---------------------------------------------------------------------------------------------

/// `healthcheck`. `test` is always the list form: a string `"curl x"` becomes
/// `["CMD-SHELL", "curl x"]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    #[serde(
        default,
        deserialize_with = "de_healthcheck_test",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable: bool,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `logging`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoggingConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub driver: Option<String>,
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

/// What a dependent service waits for (`depends_on.<service>.condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DependencyCondition {
    #[default]
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

impl DependencyCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyCondition::ServiceStarted => "service_started",
            DependencyCondition::ServiceHealthy => "service_healthy",
            DependencyCondition::ServiceCompletedSuccessfully => "service_completed_successfully",
        }
    }
}

impl TryFrom<String> for DependencyCondition {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "service_started" => Ok(DependencyCondition::ServiceStarted),
            "service_healthy" => Ok(DependencyCondition::ServiceHealthy),
            "service_completed_successfully" => {
                Ok(DependencyCondition::ServiceCompletedSuccessfully)
            }
            _ => Err(format!(
                "invalid condition {s:?}: expected one of service_started, service_healthy, \
                 service_completed_successfully"
            )),
        }
    }
}

impl From<DependencyCondition> for String {
    fn from(c: DependencyCondition) -> String {
        c.as_str().to_string()
    }
}

impl fmt::Display for DependencyCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `depends_on` entry, always in long form (`condition` and `required` always printed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceDependency {
    #[serde(default)]
    pub condition: DependencyCondition,
    #[serde(default, skip_serializing_if = "is_false")]
    pub restart: bool,
    #[serde(default = "default_true")]
    pub required: bool,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

impl Default for ServiceDependency {
    /// What the short (list) syntax means: wait for the service to start; it is required.
    fn default() -> Self {
        ServiceDependency {
            condition: DependencyCondition::ServiceStarted,
            restart: false,
            required: true,
            extensions: Extensions::new(),
        }
    }
}

/// One `env_file` entry. A plain path is `{path, required: true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvFile {
    pub path: String,
    /// Printed only when `false`, as Docker Compose does (an opt-out flag).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub format: Option<String>,
}

/// `extends`: a service name, or `{service, file}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExtendsConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub file: Option<String>,
    pub service: String,
}

/// A service's options on one network.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceNetworkConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub gw_priority: Option<i64>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub interface_name: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub ipv4_address: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub ipv6_address: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub mac_address: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub priority: Option<i64>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A service's use of a top-level model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceModelConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub endpoint_var: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub model_var: Option<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `credential_spec` (Windows).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CredentialSpecConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub config: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub registry: Option<String>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `provider`: a service managed by an external component instead of a container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceProviderConfig {
    #[serde(rename = "type")]
    pub kind: String,
    /// Each option may repeat; a single value is a one-item list.
    #[serde(
        default,
        deserialize_with = "de_multi_options",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub options: IndexMap<String, Vec<String>>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// `blkio_config`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BlkioConfig {
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weight_device: Vec<WeightDevice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_read_bps: Vec<ThrottleDevice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_read_iops: Vec<ThrottleDevice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_write_bps: Vec<ThrottleDevice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_write_iops: Vec<ThrottleDevice>,
}

/// A relative block-IO weight for one device.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WeightDevice {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub weight: u16,
}

/// A block-IO rate limit for one device (bytes or operations per second).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ThrottleDevice {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub rate: ByteSize,
}

/// `develop`: watch rules for `compose watch`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DevelopConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<WatchRule>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// What `compose watch` does when a watched path changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum WatchAction {
    Sync,
    Rebuild,
    Restart,
    SyncRestart,
    SyncExec,
}

impl WatchAction {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchAction::Sync => "sync",
            WatchAction::Rebuild => "rebuild",
            WatchAction::Restart => "restart",
            WatchAction::SyncRestart => "sync+restart",
            WatchAction::SyncExec => "sync+exec",
        }
    }
}

impl TryFrom<String> for WatchAction {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "sync" => Ok(WatchAction::Sync),
            "rebuild" => Ok(WatchAction::Rebuild),
            "restart" => Ok(WatchAction::Restart),
            "sync+restart" => Ok(WatchAction::SyncRestart),
            "sync+exec" => Ok(WatchAction::SyncExec),
            _ => Err(format!(
                "invalid watch action {s:?}: expected one of rebuild, sync, restart, \
                 sync+restart, sync+exec"
            )),
        }
    }
}

impl From<WatchAction> for String {
    fn from(a: WatchAction) -> String {
        a.as_str().to_string()
    }
}

/// One `develop.watch` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchRule {
    pub path: String,
    pub action: WatchAction,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ServiceHook>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub include: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignore: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub initial_sync: bool,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A `post_start` / `pre_stop` hook, or a watch rule's `exec`: a command run in the container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceHook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<ShellCommand>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub working_dir: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_mapping_with_equals",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub environment: MappingWithEquals,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A `pre_start` step: an ephemeral container run to completion before the service starts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PreStartHook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<ShellCommand>,
    /// Defaults to the service's image.
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub working_dir: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_mapping_with_equals",
        serialize_with = "ser_sorted",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub environment: MappingWithEquals,
    /// Run once per replica instead of once for the service.
    #[serde(default, skip_serializing_if = "is_false")]
    pub per_replica: bool,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

// ---------------------------------------------------------------------------------------------
// Command lines
// ---------------------------------------------------------------------------------------------

/// A command (`command`, `entrypoint`, hook commands) in exec (list) form. A string is split
/// into words with shell quoting rules, the way Compose does (go-shellwords): quotes group,
/// backslash escapes, and an unquoted `;`, `&`, `|`, `<` or `>` ends the command — Compose
/// silently drops everything from there, so `a && b` runs `a` (write `sh -c "a && b"`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct ShellCommand(pub Vec<String>);

impl<'de> Deserialize<'de> for ShellCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ShellCommand;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ShellCommand, E> {
                split_shell_words(v)
                    .map(ShellCommand)
                    .map_err(|e| E::custom(format!("invalid command {v:?}: {e}")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ShellCommand, A::Error> {
                seq_to_vec(seq).map(ShellCommand)
            }
        }
        d.deserialize_any(V)
    }
}

/// Splits a command line into words like go-shellwords (environment and backtick expansion
/// off), which is how Compose turns `command: a "b c"` into `["a", "b c"]`.
pub fn split_shell_words(line: &str) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum Got {
        No,
        Single,
        Quoted,
    }
    let mut args = Vec::new();
    let mut buf = String::new();
    let (mut escaped, mut dq, mut sq, mut backq, mut dollarq) = (false, false, false, false, false);
    let mut got = Got::No;
    for r in line.chars() {
        if escaped {
            escaped = false;
            if backq || dollarq {
                buf.push('\\');
                buf.push(r);
                got = Got::Single;
                continue;
            }
            buf.push(match r {
                't' => '\t',
                'n' => '\n',
                other => other,
            });
            got = Got::Single;
            continue;
        }
        if r == '\\' {
            if sq {
                buf.push(r);
            } else {
                escaped = true;
            }
            continue;
        }
        if matches!(r, ' ' | '\t' | '\r' | '\n') {
            if sq || dq || backq || dollarq {
                buf.push(r);
            } else if got != Got::No {
                args.push(std::mem::take(&mut buf));
                got = Got::No;
            }
            continue;
        }
        match r {
            '`' if !sq && !dq && !dollarq => backq = !backq,
            ')' if !sq && !dq && !backq => {
                if !dollarq {
                    return Err("unbalanced `)`".into());
                }
                buf.push(r);
                dollarq = false;
                got = Got::Single;
                continue;
            }
            '(' if !sq && !dq && !backq => {
                if !dollarq && buf.ends_with('$') && !buf.ends_with("\\$") {
                    dollarq = true;
                    buf.push('(');
                    continue;
                }
                return Err("unexpected `(`".into());
            }
            '"' if !sq && !dollarq && !backq => {
                if dq {
                    got = Got::Quoted;
                }
                dq = !dq;
                continue;
            }
            '\'' if !dq && !dollarq && !backq => {
                if sq {
                    got = Got::Quoted;
                }
                sq = !sq;
                continue;
            }
            ';' | '&' | '|' | '<' | '>' if !(sq || dq || backq || dollarq) => {
                // A redirection's file-descriptor number (`2>`) is not a word of its own.
                if r == '>' && !buf.is_empty() && buf.bytes().all(|b| b.is_ascii_digit()) {
                    got = Got::No;
                }
                break;
            }
            _ => {}
        }
        got = Got::Single;
        buf.push(r);
    }
    if got != Got::No {
        args.push(buf);
    }
    if escaped || sq || dq || backq || dollarq {
        return Err("unterminated quote or escape".into());
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// Shared syntax helpers
// ---------------------------------------------------------------------------------------------

/// A list whose items may be strings or numbers (`expose`, `group_add`), kept as strings.
pub(crate) fn de_string_or_number_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    let items = Option::<Vec<ScalarText>>::deserialize(d)?.unwrap_or_default();
    items
        .into_iter()
        .map(|s| {
            s.0.ok_or_else(|| de::Error::custom("expected a string or number, found null"))
        })
        .collect()
}

/// `provider.options`: each value a scalar or a list of scalars.
fn de_multi_options<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<String, Vec<String>>, D::Error> {
    struct Item(Vec<String>);
    impl<'de> TextShape<'de> for Item {
        type Value = Item;
        const BOOL_IS_TEXT: bool = true;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a scalar or a list of scalars")
        }
        fn text<E: de::Error>(self, text: String) -> Result<Item, E> {
            Ok(Item(vec![text]))
        }
        fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item, A::Error> {
            let items: Vec<ScalarText> = seq_to_vec(seq)?;
            Ok(Item(
                items.into_iter().map(|s| s.0.unwrap_or_default()).collect(),
            ))
        }
    }
    impl<'de> Deserialize<'de> for Item {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(LenientText(Item(Vec::new())))
        }
    }
    let m = Option::<IndexMap<String, Item>>::deserialize(d)?.unwrap_or_default();
    Ok(m.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// `networks` and `models` of a service: a list of names (no options) or a mapping of name to
/// options or null.
pub(crate) fn de_list_or_map_of_opt<'de, D, T>(
    d: D,
) -> Result<IndexMap<String, Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = IndexMap<String, Option<T>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of names or a mapping")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(IndexMap::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::new();
            while let Some(name) = seq.next_element::<String>()? {
                out.insert(name, None);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::new();
            while let Some(name) = map.next_key::<String>()? {
                let v = map.next_value::<Option<T>>()?;
                out.insert(name, v);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V(PhantomData))
}

/// `depends_on`: a list of service names (each `service_started`, required) or a mapping.
pub(crate) fn de_depends_on<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<String, ServiceDependency>, D::Error> {
    let m = de_list_or_map_of_opt::<D, ServiceDependency>(d)?;
    Ok(m.into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// `env_file`: a path, or a list of paths and `{path, required, format}` entries.
pub(crate) fn de_env_files<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EnvFile>, D::Error> {
    let expecting = "a path or a list of paths and {path, required, format} entries";
    let items = de_list_or_str(d, expecting, |v| {
        Ok(vec![Short(EnvFile::from_short(v.to_string())?)])
    })?;
    Ok(items.into_iter().map(|Short(e)| e).collect())
}

/// `healthcheck.test`: a string is `["CMD-SHELL", string]`.
fn de_healthcheck_test<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    de_list_or_str(d, "a command string or a list of strings", |v| {
        Ok(vec!["CMD-SHELL".to_string(), v.to_string()])
    })
}

/// `gpus`: `all`, or a list of device requests.
fn de_gpus<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DeviceRequest>, D::Error> {
    de_list_or_str(d, "\"all\" or a list of device requests", |v| {
        if v.eq_ignore_ascii_case("all") {
            Ok(vec![DeviceRequest {
                count: Some(DeviceCount::All),
                ..DeviceRequest::default()
            }])
        } else {
            Err(format!(
                "invalid gpus {v:?}: expected \"all\" or a list of device requests"
            ))
        }
    })
}

/// Microseconds: an integer, or a duration string (`400ms` -> 400000).
fn de_micros<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(text) = ScalarText::deserialize(d)?.0 else {
        return Ok(None);
    };
    if let Ok(n) = text.trim().parse::<i64>() {
        return Ok(Some(n));
    }
    let dur: Duration = text.trim().parse().map_err(|e| {
        de::Error::custom(format!(
            "invalid value {text:?}: expected microseconds or a duration ({e})"
        ))
    })?;
    i64::try_from(dur.0.as_micros())
        .map(Some)
        .map_err(|_| de::Error::custom(format!("duration {text:?} is too long")))
}

// ---------------------------------------------------------------------------------------------
// Short-or-long syntax
// ---------------------------------------------------------------------------------------------

impl ShortSyntax for EnvFile {
    fn from_short(path: String) -> Result<Self, String> {
        Ok(EnvFile {
            path,
            required: true,
            format: None,
        })
    }
    fn extensions_mut(&mut self) -> Option<&mut Extensions> {
        None
    }
}

impl ShortSyntax for ExtendsConfig {
    fn from_short(service: String) -> Result<Self, String> {
        Ok(ExtendsConfig {
            file: None,
            service,
        })
    }
    fn extensions_mut(&mut self) -> Option<&mut Extensions> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::fields::test_support::{assert_fields_cover, compose_schema, load};

    fn svc(body: &str) -> ServiceConfig {
        load::<ServiceConfig>(body).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    fn env(pairs: &[(&str, Option<&str>)]) -> MappingWithEquals {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn environment_list_and_mapping_agree() {
        let want = env(&[
            ("A", Some("1")),
            ("B", None),
            ("C", Some("x=y")),
            ("D", Some("")),
        ]);
        for body in [
            "environment: [A=1, B, C=x=y, D=]\n",
            "environment: {A: 1, B: null, C: x=y, D: ''}\n",
            "environment:\n  A: '1'\n  B:\n  C: x=y\n  D: \"\"\n",
        ] {
            assert_eq!(svc(body).environment, want, "{body}");
        }
        // Booleans and floats in a mapping are printed as Compose prints them.
        let s = svc("environment: {T: true, F: 1.5}\n");
        assert_eq!(
            s.environment,
            env(&[("T", Some("true")), ("F", Some("1.5"))])
        );
    }

    #[test]
    fn environment_of_wrong_shape_is_rejected_with_location() {
        let err = load::<ServiceConfig>("image: x\nenvironment: 3\n").unwrap_err();
        assert_eq!(err.span.line, 2);
        assert_eq!(err.path, "environment");
        assert_eq!(
            err.kind.to_string(),
            "expected a list of \"KEY=VALUE\" strings or a mapping, found integer 3"
        );
    }

    #[test]
    fn labels_annotations_sysctls_list_and_mapping_agree() {
        let cases = [
            "labels: [a=b, empty]\nannotations: [a=b, empty]\nsysctls: [a=b, empty]\n",
            "labels: {a: b, empty: }\nannotations: {a: b, empty: ''}\nsysctls: {a: b, empty: null}\n",
        ];
        let want: IndexMap<String, String> = [
            ("a".to_string(), "b".to_string()),
            ("empty".to_string(), String::new()),
        ]
        .into_iter()
        .collect();
        for body in cases {
            let s = svc(body);
            assert_eq!(s.labels, want, "{body}");
            assert_eq!(s.annotations, want, "{body}");
            assert_eq!(s.sysctls, want, "{body}");
        }
        // `x-` keys inside labels are data, not extensions.
        assert_eq!(svc("labels: {x-a: 1}\n").labels["x-a"], "1");
    }

    #[test]
    fn depends_on_short_and_long_forms() {
        let short = svc("depends_on: [db, cache]\n");
        let long = svc(
            "depends_on:\n  db:\n    condition: service_started\n  cache:\n    condition: service_started\n    required: true\n",
        );
        assert_eq!(short.depends_on, long.depends_on);
        assert_eq!(short.depends_on["db"], ServiceDependency::default());
        assert_eq!(short.depends_on.keys().collect::<Vec<_>>(), ["db", "cache"]);

        let s = svc("depends_on:\n  db:\n    condition: service_healthy\n    restart: true\n    required: false\n");
        let d = &s.depends_on["db"];
        assert_eq!(d.condition, DependencyCondition::ServiceHealthy);
        assert!(d.restart);
        assert!(!d.required);

        let err =
            load::<ServiceConfig>("depends_on:\n  db:\n    condition: healthy\n").unwrap_err();
        assert_eq!(err.span.line, 3);
        assert_eq!(err.path, "depends_on.db.condition");
        assert_eq!(
            err.kind.to_string(),
            "invalid condition \"healthy\": expected one of service_started, service_healthy, \
             service_completed_successfully"
        );
        let err = load::<ServiceConfig>("depends_on:\n  db:\n    conditon: x\n").unwrap_err();
        assert_eq!(err.span.line, 3);
        assert_eq!(
            err.kind.to_string(),
            "unknown key `conditon`, did you mean `condition`?"
        );
    }

    #[test]
    fn healthcheck_test_string_is_cmd_shell() {
        let cases: [(&str, &[&str]); 4] = [
            (
                "healthcheck: {test: curl -f x}\n",
                &["CMD-SHELL", "curl -f x"],
            ),
            (
                "healthcheck: {test: [CMD, curl, -f, x]}\n",
                &["CMD", "curl", "-f", "x"],
            ),
            ("healthcheck: {test: [NONE]}\n", &["NONE"]),
            ("healthcheck: {disable: true}\n", &[]),
        ];
        for (body, want) in cases {
            let hc = svc(body).healthcheck.expect("healthcheck");
            assert_eq!(hc.test, want, "{body}");
        }
        let hc = svc("healthcheck:\n  interval: 1m30s\n  timeout: 10s\n  retries: '3'\n  start_period: 0s\n  disable: 'false'\n")
            .healthcheck
            .expect("healthcheck");
        assert_eq!(hc.interval, Some(Duration::from_secs(90)));
        assert_eq!(hc.timeout, Some(Duration::from_secs(10)));
        assert_eq!(hc.retries, Some(3));
        assert_eq!(hc.start_period, Some(Duration::ZERO));
        assert!(!hc.disable);
    }

    #[test]
    fn shell_words_split_like_compose() {
        let cases: [(&str, &[&str]); 10] = [
            (
                "bundle exec thin -p 3000",
                &["bundle", "exec", "thin", "-p", "3000"],
            ),
            ("  a   b\tc\n", &["a", "b", "c"]),
            (
                r#"sh -c "echo 'hi there'""#,
                &["sh", "-c", "echo 'hi there'"],
            ),
            (r#"echo 'a "b" c'"#, &["echo", r#"a "b" c"#]),
            (r#"echo a\ b"#, &["echo", "a b"]),
            (r#"echo "" x"#, &["echo", "", "x"]),
            ("echo a && echo b", &["echo", "a"]),
            ("echo $(date) `id`", &["echo", "$(date)", "`id`"]),
            (r#"printf "a\tb""#, &["printf", "a\tb"]),
            ("", &[]),
        ];
        for (line, want) in cases {
            assert_eq!(split_shell_words(line).unwrap(), want, "{line:?}");
        }
        assert_eq!(
            split_shell_words("echo 'open").unwrap_err(),
            "unterminated quote or escape"
        );
        assert_eq!(split_shell_words("echo (x)").unwrap_err(), "unexpected `(`");
    }

    #[test]
    fn command_and_entrypoint_forms() {
        let cmd = |body: &str| svc(body).command;
        assert_eq!(cmd("image: x\n"), None);
        assert_eq!(cmd("command: null\n"), None);
        assert_eq!(cmd("command: []\n"), Some(ShellCommand(vec![])));
        assert_eq!(cmd("command: ''\n"), Some(ShellCommand(vec![])));
        assert_eq!(
            cmd("command: echo \"a b\"\n"),
            cmd("command: [echo, a b]\n"),
        );
        assert_eq!(
            svc("entrypoint: /bin/sh -c\n").entrypoint,
            Some(ShellCommand(vec!["/bin/sh".into(), "-c".into()]))
        );
        let err = load::<ServiceConfig>("command: \"echo 'x\"\n").unwrap_err();
        assert_eq!(err.path, "command");
        assert_eq!(
            err.kind.to_string(),
            "invalid command \"echo 'x\": unterminated quote or escape"
        );
    }

    #[test]
    fn env_file_forms() {
        let one = |path: &str, required: bool, format: Option<&str>| EnvFile {
            path: path.into(),
            required,
            format: format.map(str::to_string),
        };
        assert_eq!(svc("env_file: .env\n").env_file, [one(".env", true, None)]);
        assert_eq!(
            svc("env_file: [a.env, b.env]\n").env_file,
            [one("a.env", true, None), one("b.env", true, None)]
        );
        assert_eq!(
            svc("env_file:\n  - a.env\n  - path: b.env\n    required: false\n    format: raw\n  - path: c.env\n")
                .env_file,
            [one("a.env", true, None), one("b.env", false, Some("raw")), one("c.env", true, None)]
        );
        let err =
            load::<ServiceConfig>("env_file:\n  - path: a\n    requird: false\n").unwrap_err();
        assert_eq!(err.span.line, 3);
        assert_eq!(err.path, "env_file[0].requird");
        assert_eq!(
            err.kind.to_string(),
            "unknown key `requird`, did you mean `required`?"
        );
    }

    #[test]
    fn extra_hosts_forms_and_output() {
        let want: HostsList = [
            ("somehost".to_string(), vec!["162.242.195.82".to_string()]),
            ("v6".to_string(), vec!["::1".to_string()]),
            (
                "multi".to_string(),
                vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()],
            ),
        ]
        .into_iter()
        .collect();
        for body in [
            "extra_hosts: ['somehost:162.242.195.82', 'v6=[::1]', 'multi=10.0.0.1,10.0.0.2']\n",
            "extra_hosts: {somehost: 162.242.195.82, v6: '::1', multi: [10.0.0.1, 10.0.0.2]}\n",
        ] {
            assert_eq!(svc(body).extra_hosts, want, "{body}");
        }
        let err = load::<ServiceConfig>("extra_hosts: [nohost]\n").unwrap_err();
        assert_eq!(
            err.kind.to_string(),
            "invalid extra host \"nohost\": expected \"HOST:IP\" or \"HOST=IP\""
        );
    }

    #[test]
    fn service_networks_list_mapping_and_null() {
        let list = svc("networks: [front, back]\n");
        let map = svc("networks:\n  front:\n  back: null\n");
        assert_eq!(list.networks, map.networks);
        assert_eq!(list.networks["front"], None);
        let s = svc(
            "networks:\n  front:\n    aliases: [a]\n    ipv4_address: 10.0.0.2\n    ipv6_address: '::2'\n    \
             link_local_ips: [169.254.0.1]\n    mac_address: 02:42:ac:11:00:02\n    priority: 10\n    \
             gw_priority: 1\n    interface_name: eth1\n    driver_opts: {mtu: 1500}\n    x-note: n\n",
        );
        let n = s.networks["front"].clone().expect("options");
        assert_eq!(n.aliases, ["a"]);
        assert_eq!(n.ipv4_address.as_deref(), Some("10.0.0.2"));
        assert_eq!(n.ipv6_address.as_deref(), Some("::2"));
        assert_eq!(n.link_local_ips, ["169.254.0.1"]);
        assert_eq!(n.mac_address.as_deref(), Some("02:42:ac:11:00:02"));
        assert_eq!(n.priority, Some(10));
        assert_eq!(n.gw_priority, Some(1));
        assert_eq!(n.interface_name.as_deref(), Some("eth1"));
        assert_eq!(n.driver_opts["mtu"], "1500");
        assert_eq!(n.extensions["x-note"], serde_yaml_ng::Value::from("n"));
    }

    #[test]
    fn secrets_and_configs_short_and_long() {
        let s = svc(
            "secrets:\n  - s1\n  - source: s2\n    target: /run/x\n    uid: '103'\n    gid: '103'\n    mode: 0o440\n\
             configs:\n  - c1\n  - source: c2\n    mode: '0440'\n",
        );
        assert_eq!(
            s.secrets[0],
            FileReferenceConfig::from_short("s1".into()).unwrap()
        );
        assert_eq!(s.secrets[1].target.as_deref(), Some("/run/x"));
        assert_eq!(s.secrets[1].uid.as_deref(), Some("103"));
        assert_eq!(s.secrets[1].mode, Some(FileMode(0o440)));
        assert_eq!(s.configs[0].source, "c1");
        assert_eq!(s.configs[1].mode, Some(FileMode(0o440)));
        let err = load::<ServiceConfig>("secrets:\n  - source: a\n    mode: '9'\n").unwrap_err();
        assert_eq!(err.path, "secrets[0].mode");
        assert_eq!(
            err.kind.to_string(),
            "invalid file mode \"9\": expected an octal number like \"0440\""
        );
    }

    #[test]
    fn extends_short_and_long() {
        assert_eq!(
            svc("extends: base\n").extends,
            svc("extends: {service: base}\n").extends
        );
        let e = svc("extends: {service: base, file: common.yaml}\n")
            .extends
            .unwrap();
        assert_eq!(e.file.as_deref(), Some("common.yaml"));
        assert_eq!(e.service, "base");
    }

    #[test]
    fn build_short_long_and_unknown_key() {
        assert_eq!(
            svc("build: ./dir\n").build,
            svc("build:\n  context: ./dir\n").build
        );
        let b = svc("build:\n  context: .\n  x-cache: on\n").build.unwrap();
        assert_eq!(b.extensions["x-cache"], serde_yaml_ng::Value::from("on"));
        let err =
            load::<ServiceConfig>("image: x\nbuild:\n  context: .\n  dockerfil: D\n").unwrap_err();
        assert_eq!((err.span.line, err.span.col), (4, 3));
        assert_eq!(err.path, "build.dockerfil");
        assert_eq!(
            err.kind.to_string(),
            "unknown key `dockerfil`, did you mean `dockerfile`?"
        );
    }

    #[test]
    fn gpus_all_and_list() {
        let all = svc("gpus: all\n").gpus;
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].count, Some(DeviceCount::All));
        let list = svc("gpus:\n  - driver: nvidia\n    count: 2\n    capabilities: [gpu]\n").gpus;
        assert_eq!(list[0].driver.as_deref(), Some("nvidia"));
        assert_eq!(list[0].count, Some(DeviceCount::Count(2)));
        assert_eq!(list[0].capabilities, ["gpu"]);
        let err = load::<ServiceConfig>("gpus: some\n").unwrap_err();
        assert_eq!(
            err.kind.to_string(),
            "invalid gpus \"some\": expected \"all\" or a list of device requests"
        );
    }

    #[test]
    fn scalars_lists_and_sizes() {
        let s = svc(
            "expose: ['3000', 8000]\ngroup_add: [wheel, 1000]\ndns: 8.8.8.8\ndns_search: [a, b]\ntmpfs: /run\n\
             label_file: l.txt\ncpus: '0.5'\ncpu_rt_runtime: 400ms\ncpu_rt_period: 1000\nmem_limit: 1g\n\
             memswap_limit: -1\nshm_size: 64m\nstop_grace_period: 20s\npid: null\nscale: '2'\n\
             init: false\nattach: false\nprivileged: true\n",
        );
        assert_eq!(s.expose, ["3000", "8000"]);
        assert_eq!(s.group_add, ["wheel", "1000"]);
        assert_eq!(s.dns, ["8.8.8.8"]);
        assert_eq!(s.dns_search, ["a", "b"]);
        assert_eq!(s.tmpfs, ["/run"]);
        assert_eq!(s.label_file, ["l.txt"]);
        assert_eq!(s.cpus, Some(0.5));
        assert_eq!(s.cpu_rt_runtime, Some(400_000));
        assert_eq!(s.cpu_rt_period, Some(1000));
        assert_eq!(s.mem_limit, Some(ByteSize(1 << 30)));
        assert_eq!(s.memswap_limit, Some(ByteSize(-1)));
        assert_eq!(s.shm_size, Some(ByteSize(64 << 20)));
        assert_eq!(s.stop_grace_period, Some(Duration::from_secs(20)));
        assert_eq!(s.pid, None);
        assert_eq!(s.scale, Some(2));
        assert_eq!(s.init, Some(false));
        assert_eq!(s.attach, Some(false));
        assert!(s.privileged);
    }

    #[test]
    fn develop_hooks_models_provider_and_more() {
        let s = svc(
            "develop:\n  watch:\n    - path: ./src\n      action: sync+exec\n      target: /app\n      ignore: node_modules\n      \
             include: ['*.js']\n      initial_sync: true\n      exec:\n        command: npm run build\n\
             post_start:\n  - command: [echo, up]\n    user: root\n    privileged: true\n    environment: [A=1]\n\
             pre_stop:\n  - command: echo down\n\
             pre_start:\n  - command: ./migrate\n    image: tools\n    per_replica: true\n\
             models: [llm]\n\
             provider:\n  type: model\n  options: {model: ai/x, flag: [a, b], n: 1}\n\
             credential_spec: {config: cs}\n\
             blkio_config:\n  weight: 300\n  weight_device: [{path: /dev/sda, weight: 400}]\n  \
             device_read_bps: [{path: /dev/sda, rate: 12mb}]\n\
             logging: {driver: syslog, options: {syslog-address: 'tcp://1.2.3.4:123', max: 3}}\n\
             ulimits: {nproc: 65535}\nuse_api_socket: true\npull_refresh_after: 1h\n",
        );
        let w = &s.develop.as_ref().unwrap().watch[0];
        assert_eq!(w.path, "./src");
        assert_eq!(w.action, WatchAction::SyncExec);
        assert_eq!(w.target.as_deref(), Some("/app"));
        assert_eq!(w.ignore, ["node_modules"]);
        assert_eq!(w.include, ["*.js"]);
        assert!(w.initial_sync);
        assert_eq!(
            w.exec.as_ref().unwrap().command,
            Some(ShellCommand(vec![
                "npm".into(),
                "run".into(),
                "build".into()
            ]))
        );
        assert_eq!(s.post_start[0].user.as_deref(), Some("root"));
        assert!(s.post_start[0].privileged);
        assert_eq!(s.post_start[0].environment, env(&[("A", Some("1"))]));
        assert_eq!(
            s.pre_stop[0].command,
            Some(ShellCommand(vec!["echo".into(), "down".into()]))
        );
        assert_eq!(s.pre_start[0].image.as_deref(), Some("tools"));
        assert!(s.pre_start[0].per_replica);
        assert_eq!(s.models.get("llm"), Some(&None));
        let p = s.provider.as_ref().unwrap();
        assert_eq!(p.kind, "model");
        assert_eq!(p.options["flag"], ["a", "b"]);
        assert_eq!(p.options["n"], ["1"]);
        assert_eq!(
            s.credential_spec.as_ref().unwrap().config.as_deref(),
            Some("cs")
        );
        let b = s.blkio_config.as_ref().unwrap();
        assert_eq!(b.weight, Some(300));
        assert_eq!(b.weight_device[0].weight, 400);
        assert_eq!(b.device_read_bps[0].rate, ByteSize(12 << 20));
        let l = s.logging.as_ref().unwrap();
        assert_eq!(l.options["max"], "3");
        assert!(s.ulimits.contains_key("nproc"));
        assert!(s.use_api_socket);
        assert_eq!(s.pull_refresh_after.as_deref(), Some("1h"));

        let err = load::<ServiceConfig>("develop:\n  watch:\n    - path: .\n      action: copy\n")
            .unwrap_err();
        assert_eq!(err.path, "develop.watch[0].action");
        assert_eq!(
            err.kind.to_string(),
            "invalid watch action \"copy\": expected one of rebuild, sync, restart, sync+restart, sync+exec"
        );
    }

    #[test]
    fn every_service_key_of_the_schema_is_a_field() {
        let Some(schema) = compose_schema() else {
            return;
        };
        let defs = &schema["definitions"];
        assert_fields_cover::<ServiceConfig>(&defs["service"], "service");
        assert_fields_cover::<HealthCheckConfig>(&defs["healthcheck"], "healthcheck");
        assert_fields_cover::<ServiceHook>(&defs["service_hook"], "service_hook");
        assert_fields_cover::<WatchRule>(
            &defs["development"]["properties"]["watch"]["items"],
            "watch",
        );
        let svc_props = &defs["service"]["properties"];
        assert_fields_cover::<BuildConfig>(&svc_props["build"]["oneOf"][1], "build");
        assert_fields_cover::<BlkioConfig>(&svc_props["blkio_config"], "blkio_config");
        assert_fields_cover::<LoggingConfig>(&svc_props["logging"], "logging");
        assert_fields_cover::<ServiceProviderConfig>(&svc_props["provider"], "provider");
        assert_fields_cover::<CredentialSpecConfig>(
            &svc_props["credential_spec"],
            "credential_spec",
        );
        assert_fields_cover::<ServiceNetworkConfig>(
            &svc_props["networks"]["oneOf"][1]["patternProperties"]["^[a-zA-Z0-9._-]+$"]["oneOf"]
                [0],
            "service networks",
        );
        assert_fields_cover::<ServiceDependency>(
            &svc_props["depends_on"]["oneOf"][1]["patternProperties"]["^[a-zA-Z0-9._-]+$"],
            "depends_on",
        );
        assert_fields_cover::<ServiceModelConfig>(
            &svc_props["models"]["oneOf"][1]["patternProperties"]["^[a-zA-Z0-9._-]+$"],
            "service models",
        );
        assert_fields_cover::<FileReferenceConfig>(
            &defs["service_config_or_secret"]["items"]["oneOf"][1],
            "secret/config reference",
        );
        assert_fields_cover::<EnvFile>(
            &defs["env_file"]["oneOf"][1]["items"]["oneOf"][1],
            "env_file",
        );
        assert_fields_cover::<ExtendsConfig>(&svc_props["extends"]["oneOf"][1], "extends");
    }

    #[test]
    fn serializes_a_small_service_like_docker_compose_config() {
        let s = svc(
            "image: nginx\nx-owner: me\nenvironment: [B=2, A, C=3]\ndepends_on: [db]\nrestart: always\n\
             healthcheck:\n  test: curl -f http://localhost\n  interval: 90s\n\
             networks: [front]\nlabels: {z: 1, a: 2}\ncommand: nginx -g 'daemon off;'\n\
             extra_hosts: [b:10.0.0.2, a:10.0.0.1]\nprivileged: false\nsecrets: [s]\n",
        );
        let out = serde_yaml_ng::to_string(&s).unwrap();
        assert_eq!(
            out,
            "command:\n- nginx\n- -g\n- daemon off;\n\
             depends_on:\n  db:\n    condition: service_started\n    required: true\n\
             environment:\n  A: null\n  B: '2'\n  C: '3'\n\
             extra_hosts:\n- a=10.0.0.1\n- b=10.0.0.2\n\
             healthcheck:\n  test:\n  - CMD-SHELL\n  - curl -f http://localhost\n  interval: 1m30s\n\
             image: nginx\nlabels:\n  a: '2'\n  z: '1'\nnetworks:\n  front: null\nrestart: always\n\
             secrets:\n- source: s\nx-*:\n  x-owner: me\n"
        );
    }
}
