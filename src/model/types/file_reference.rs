//! A service's (or a build's) reference to a secret or config, and the file mode it is given.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fields::Extensions;
use super::syntax::{none_or_default, ser_extensions, ShortSyntax};

/// A `secrets` or `configs` reference of a service (or a build's `secrets`). A plain name is
/// `{source: name}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FileReferenceConfig {
    pub source: String,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_default")]
    pub gid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<FileMode>,
    #[serde(
        rename = "x-*",
        default,
        serialize_with = "ser_extensions",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub extensions: Extensions,
}

/// A file permission mode. A number is taken as is (YAML `0o440`); a string is read as octal
/// (`"0440"`), as Compose does. Printed as an octal string (`"0440"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileMode(pub u32);

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0{:o}", self.0))
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fn in_range<E: de::Error, N: Copy + fmt::Display>(v: N) -> Result<FileMode, E>
        where
            u32: TryFrom<N>,
        {
            u32::try_from(v)
                .map(FileMode)
                .map_err(|_| E::custom(format!("file mode {v} is out of range")))
        }
        struct V;
        impl Visitor<'_> for V {
            type Value = FileMode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a file mode (a number, or an octal string like \"0440\")")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FileMode, E> {
                in_range(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FileMode, E> {
                in_range(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileMode, E> {
                let digits = v.strip_prefix("0o").unwrap_or(v);
                u32::from_str_radix(digits, 8).map(FileMode).map_err(|_| {
                    E::custom(format!(
                        "invalid file mode {v:?}: expected an octal number like \"0440\""
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl ShortSyntax for FileReferenceConfig {
    fn from_short(source: String) -> Result<Self, String> {
        Ok(FileReferenceConfig {
            source,
            ..Default::default()
        })
    }
    fn extensions_mut(&mut self) -> Option<&mut Extensions> {
        Some(&mut self.extensions)
    }
}
