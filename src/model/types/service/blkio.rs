//! `blkio_config`: block-IO weights and rate limits per device.

use serde::{Deserialize, Serialize};

use crate::model::types::bytes::ByteSize;
use crate::model::types::syntax::none_or_default;

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
