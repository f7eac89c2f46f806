//! Device mappings (`services.*.devices`): `HOST[:CONTAINER[:PERMISSIONS]]` or a mapping with
//! `source`, `target`, `permissions`. The short syntax fills in what it omits (target = source,
//! permissions `rwm`), as Compose does; the long syntax keeps only what was written. CDI device
//! names (`vendor.com/class=name`) have no colon and are kept whole as the source.
//! `docker compose config` prints the long form.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::fields::{self, Extensions, Scalar};

/// The short syntax, for error messages.
pub const DEVICE_SYNTAX: &str = "HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceMapping {
    pub source: String,
    /// Empty when a long-syntax mapping left it out; see [`DeviceMapping::target_path`].
    pub target: String,
    /// cgroup permissions (`rwm` and subsets); empty when a long-syntax mapping left it out.
    pub permissions: String,
    pub extensions: Extensions,
}

impl DeviceMapping {
    /// Where the device appears in the container: the target, or the source when unset.
    pub fn target_path(&self) -> &str {
        if self.target.is_empty() {
            &self.source
        } else {
            &self.target
        }
    }
}

impl FromStr for DeviceMapping {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let (source, target, permissions) = match parts.as_slice() {
            [s] => (*s, *s, "rwm"),
            [s, t] => (*s, *t, "rwm"),
            [s, t, p] => (*s, *t, *p),
            _ => {
                return Err(format!(
                    "invalid device {spec:?}: too many colons, expected {DEVICE_SYNTAX} or the long syntax"
                ))
            }
        };
        if source.is_empty() {
            return Err(format!(
                "invalid device {spec:?}: empty host path, expected {DEVICE_SYNTAX}"
            ));
        }
        Ok(DeviceMapping {
            source: source.to_string(),
            target: if target.is_empty() { source } else { target }.to_string(),
            permissions: permissions.to_string(),
            extensions: Extensions::new(),
        })
    }
}

struct DeviceVisitor;

impl<'de> Visitor<'de> for DeviceVisitor {
    type Value = DeviceMapping;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string {DEVICE_SYNTAX} or a mapping with `source`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DeviceMapping, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DeviceMapping, A::Error> {
        let mut dev = DeviceMapping::default();
        let mut source = None;
        dev.extensions = fields::read_map(
            &mut map,
            &["source", "target", "permissions"],
            |key, map| {
                let value = map.next_value::<Scalar>()?.into_string(key)?;
                match key {
                    "source" => source = value,
                    "target" => dev.target = value.unwrap_or_default(),
                    _ => dev.permissions = value.unwrap_or_default(),
                }
                Ok(())
            },
        )?;
        dev.source = source
            .filter(|s| !s.is_empty())
            .ok_or_else(|| de::Error::missing_field("source"))?;
        Ok(dev)
    }
}

impl<'de> Deserialize<'de> for DeviceMapping {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DeviceVisitor)
    }
}

impl Serialize for DeviceMapping {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("source", &self.source)?;
        if !self.target.is_empty() {
            m.serialize_entry("target", &self.target)?;
        }
        if !self.permissions.is_empty() {
            m.serialize_entry("permissions", &self.permissions)?;
        }
        fields::serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::fields::test_support::{assert_yaml_errors, load_file};

    fn dev(source: &str, target: &str, permissions: &str) -> DeviceMapping {
        DeviceMapping {
            source: source.into(),
            target: target.into(),
            permissions: permissions.into(),
            extensions: Extensions::new(),
        }
    }

    #[test]
    fn parses_short_syntax() {
        let cases = [
            (
                "/dev/sda:/dev/xvda:rwm",
                dev("/dev/sda", "/dev/xvda", "rwm"),
            ),
            ("/dev/sda:/dev/xvda:r", dev("/dev/sda", "/dev/xvda", "r")),
            ("/dev/sda:/dev/xvda", dev("/dev/sda", "/dev/xvda", "rwm")),
            ("/dev/sda", dev("/dev/sda", "/dev/sda", "rwm")),
            ("/dev/sda:", dev("/dev/sda", "/dev/sda", "rwm")),
            (
                "nvidia.com/gpu=all",
                dev("nvidia.com/gpu=all", "nvidia.com/gpu=all", "rwm"),
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(spec.parse::<DeviceMapping>().as_ref(), Ok(&want), "{spec}");
        }
    }

    #[test]
    fn rejects_bad_short_syntax() {
        let cases = [
            ("/a:/b:rwm:x", "invalid device \"/a:/b:rwm:x\": too many colons, expected HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]] or the long syntax"),
            ("", "invalid device \"\": empty host path, expected HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]"),
            (":/b", "invalid device \":/b\": empty host path, expected HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]"),
        ];
        for (spec, want) in cases {
            assert_eq!(
                spec.parse::<DeviceMapping>(),
                Err(want.to_string()),
                "{spec}"
            );
        }
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Svc {
        devices: Vec<DeviceMapping>,
    }

    #[test]
    fn deserializes_and_serializes_both_syntaxes() {
        let svc: Svc = serde_yaml_ng::from_str(
            "devices:\n- /dev/ttyUSB0:/dev/ttyUSB0\n- {source: /dev/sda, target: /dev/xvda, permissions: r, x-n: 1}\n- source: /dev/fuse\n",
        )
        .unwrap();
        let mut long = dev("/dev/sda", "/dev/xvda", "r");
        long.extensions
            .insert("x-n".into(), serde_yaml_ng::Value::from(1));
        assert_eq!(
            svc.devices,
            vec![
                dev("/dev/ttyUSB0", "/dev/ttyUSB0", "rwm"),
                long,
                dev("/dev/fuse", "", "")
            ]
        );
        assert_eq!(svc.devices[2].target_path(), "/dev/fuse");
        assert_eq!(
            serde_yaml_ng::to_string(&svc).unwrap(),
            "devices:\n\
             - source: /dev/ttyUSB0\n  target: /dev/ttyUSB0\n  permissions: rwm\n\
             - source: /dev/sda\n  target: /dev/xvda\n  permissions: r\n  x-n: 1\n\
             - source: /dev/fuse\n"
        );
    }

    #[test]
    fn rejects_bad_items() {
        let cases: &[(&str, &str)] = &[
            ("devices:\n- {target: /dev/x}\n", "devices[0]: missing field `source`"),
            ("devices:\n- {source: /dev/x, perms: r}\n", "devices[0]: unknown key `perms`, expected one of: source, target, permissions"),
            ("devices:\n- 1\n", "devices[0]: invalid type: integer `1`, expected a string HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]] or a mapping with `source`"),
        ];
        assert_yaml_errors::<Svc, _>(cases.iter().copied());
    }

    #[test]
    fn deserializes_from_node_with_locations() {
        let load = |src: &str| load_file::<Svc>("c.yaml", src);
        assert_eq!(
            load("devices:\n  - /dev/a:/dev/b\n").unwrap().devices,
            vec![dev("/dev/a", "/dev/b", "rwm")]
        );
        let err = load("devices:\n  - /dev/a\n  - a:b:c:d\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:3:5: devices[1]: invalid device \"a:b:c:d\": too many colons, expected HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]] or the long syntax"
        );
    }
}
