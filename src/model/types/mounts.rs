//! Service mounts (`services.*.volumes`): the short syntax `[SOURCE:]TARGET[:MODE]` and the long
//! syntax mapping, both read into one [`ServiceVolume`].
//!
//! The short syntax follows compose-go's `format.ParseVolume`: fields are split on `:` except
//! the colon of a Windows drive letter (`C:\data:/data`) and colons inside `${...}`; a source
//! that looks like a path (`.`, `/`, `~`, `\\`, a drive letter) makes a bind mount, with
//! `bind.create_host_path: true` as docker-compose v1 did, anything else a named volume (or an
//! anonymous one when there is no source). Mode options are `ro`/`rw`, `nocopy`, the bind
//! propagations and SELinux labels `z`/`Z`; other options (`cached`, `delegated`, ...) are
//! accepted and ignored, as Compose does. The short syntax's target is cleaned like Go's
//! `path.Clean`.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::bytes::ByteSize;
use super::fields::{self, Extensions, Scalar};

/// The short syntax, for error messages.
pub const VOLUME_SYNTAX: &str = "[SOURCE:]TARGET[:MODE]";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeType {
    Bind,
    Volume,
    Tmpfs,
    Npipe,
    Cluster,
    Image,
}

impl VolumeType {
    pub const ALL: [VolumeType; 6] = [
        VolumeType::Bind,
        VolumeType::Volume,
        VolumeType::Tmpfs,
        VolumeType::Npipe,
        VolumeType::Cluster,
        VolumeType::Image,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::Bind => "bind",
            VolumeType::Volume => "volume",
            VolumeType::Tmpfs => "tmpfs",
            VolumeType::Npipe => "npipe",
            VolumeType::Cluster => "cluster",
            VolumeType::Image => "image",
        }
    }
}

impl std::str::FromStr for VolumeType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        VolumeType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "invalid volume type {s:?}, expected one of: {}",
                    VolumeType::ALL.map(VolumeType::as_str).join(", ")
                )
            })
    }
}

impl fmt::Display for VolumeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for VolumeType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BindOptions {
    pub propagation: Option<String>,
    /// `Some(true)` for every short-syntax bind and for a long-syntax `bind:` that does not say
    /// otherwise (Compose's default); printed only when true.
    pub create_host_path: Option<bool>,
    /// `z` or `Z`.
    pub selinux: Option<String>,
    /// `enabled`, `disabled`, `writable` or `readonly`.
    pub recursive: Option<String>,
    pub extensions: Extensions,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct VolumeOptions {
    pub labels: IndexMap<String, String>,
    pub nocopy: bool,
    pub subpath: Option<String>,
    pub extensions: Extensions,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TmpfsOptions {
    pub size: Option<ByteSize>,
    /// File mode bits (a string is read as Go reads integers: `"0755"` is octal).
    pub mode: Option<u32>,
    pub extensions: Extensions,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageOptions {
    pub subpath: Option<String>,
    pub extensions: Extensions,
}

/// One mount of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceVolume {
    /// Serialized as `type`.
    pub kind: VolumeType,
    /// Host path, volume name or image; `None` for anonymous volumes and tmpfs.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub consistency: Option<String>,
    pub bind: Option<BindOptions>,
    pub volume: Option<VolumeOptions>,
    pub tmpfs: Option<TmpfsOptions>,
    pub image: Option<ImageOptions>,
    pub extensions: Extensions,
}

impl ServiceVolume {
    /// A mount of `kind` at `target` with nothing else set.
    pub fn new(kind: VolumeType, target: impl Into<String>) -> Self {
        ServiceVolume {
            kind,
            source: None,
            target: target.into(),
            read_only: false,
            consistency: None,
            bind: None,
            volume: None,
            tmpfs: None,
            image: None,
            extensions: Extensions::new(),
        }
    }
}

/// Go's `path.Clean`: drops `.` and empty segments, resolves `..` lexically.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return String::new();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// `C:` at the start of a field: the colon belongs to a Windows drive, not a separator.
fn is_windows_drive(buffer: &[char], c: char) -> bool {
    c == ':' && buffer.len() == 1 && buffer[0].is_alphabetic()
}

/// Whether a short-syntax source names a host path (bind mount) rather than a volume.
fn is_file_path(source: &str) -> bool {
    if source.starts_with(['.', '/', '~']) || source.starts_with("\\\\") {
        return true;
    }
    let mut chars = source.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) => is_windows_drive(&[first], second),
        _ => false,
    }
}

const PROPAGATIONS: &[&str] = &[
    "rprivate", "private", "rshared", "shared", "rslave", "slave",
];

/// Places one `:`-separated field: source, then target, then the mode options.
fn populate_field(
    at_end: bool,
    field: String,
    vol: &mut ServiceVolume,
) -> Result<(), &'static str> {
    if field.is_empty() {
        return Err("empty section between colons");
    }
    if vol.source.is_none() && at_end {
        vol.target = field;
        return Ok(());
    }
    if vol.source.is_none() {
        vol.source = Some(field);
        return Ok(());
    }
    if vol.target.is_empty() {
        vol.target = field;
        return Ok(());
    }
    if !at_end {
        return Err("too many colons");
    }
    for option in field.split(',') {
        match option {
            "ro" => vol.read_only = true,
            "rw" => vol.read_only = false,
            "nocopy" => {
                vol.volume = Some(VolumeOptions {
                    nocopy: true,
                    ..VolumeOptions::default()
                })
            }
            "z" | "Z" => {
                vol.bind.get_or_insert_with(Default::default).selinux = Some(option.into())
            }
            p if PROPAGATIONS.contains(&p) => {
                vol.bind.get_or_insert_with(Default::default).propagation = Some(p.into())
            }
            // Compose ignores options it does not know (consistency hints and the like).
            _ => {}
        }
    }
    Ok(())
}

fn populate_type(vol: &mut ServiceVolume) {
    if vol.source.as_deref().is_some_and(is_file_path) {
        vol.kind = VolumeType::Bind;
        vol.bind
            .get_or_insert_with(Default::default)
            .create_host_path = Some(true);
    } else {
        vol.kind = VolumeType::Volume;
        vol.volume.get_or_insert_with(Default::default);
    }
}

/// Parses the short syntax `[SOURCE:]TARGET[:MODE]`.
pub fn parse_short(spec: &str) -> Result<ServiceVolume, String> {
    let mut vol = ServiceVolume::new(VolumeType::Volume, "");
    match spec.len() {
        0 => {
            return Err(format!(
                "invalid volume \"\": empty spec, expected {VOLUME_SYNTAX}"
            ))
        }
        // Too short to hold a separator: a target only (Compose adds no `volume: {}` here).
        1 | 2 => {
            vol.target = clean_path(spec);
            return Ok(vol);
        }
        _ => {}
    }
    let fail =
        |detail: &str| format!("invalid volume {spec:?}: {detail}, expected {VOLUME_SYNTAX}");
    let mut buffer: Vec<char> = Vec::new();
    let mut in_var = 0usize;
    let mut chars = spec.chars().peekable();
    loop {
        let c = chars.next();
        match c {
            Some('$') if chars.peek() == Some(&'{') => {
                in_var += 1;
                buffer.push('$');
            }
            Some('}') if in_var > 0 => {
                in_var -= 1;
                buffer.push('}');
            }
            Some(c) if is_windows_drive(&buffer, c) => buffer.push(c),
            Some(':') if in_var == 0 => {
                populate_field(false, buffer.drain(..).collect(), &mut vol).map_err(fail)?;
            }
            None => {
                populate_field(true, buffer.drain(..).collect(), &mut vol).map_err(fail)?;
                break;
            }
            Some(c) => buffer.push(c),
        }
    }
    populate_type(&mut vol);
    vol.target = clean_path(&vol.target);
    Ok(vol)
}

/// Parses Go integer syntax with base prefixes, as compose-go reads a string where a number is
/// expected: `0x1ff`, `0o755`, `0b1`, and a leading `0` for octal (`0755`).
fn parse_go_uint(s: &str) -> Option<u32> {
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(h) = lower.strip_prefix("0x") {
        (h, 16)
    } else if let Some(o) = lower.strip_prefix("0o") {
        (o, 8)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (b, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// Deserializes a long-syntax sub-mapping (`bind:`, `volume:`, ...); null means all defaults.
macro_rules! options_deserialize {
    ($ty:ident, $what:literal, $keys:expr, |$key:ident, $map:ident, $opts:ident| $body:block) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<$ty, E> {
                        Ok($ty::default())
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        let mut $opts = $ty::default();
                        $opts.extensions = fields::read_map(&mut map, $keys, |$key, $map| $body)?;
                        Ok($opts)
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
    };
}

options_deserialize!(
    BindOptions,
    "a mapping of bind options",
    &["propagation", "create_host_path", "selinux", "recursive"],
    |key, map, opts| {
        let value: Scalar = map.next_value()?;
        match key {
            "propagation" => opts.propagation = value.into_string(key)?,
            "create_host_path" => opts.create_host_path = value.into_bool(key)?,
            "selinux" => {
                opts.selinux = value.into_string(key)?;
                if let Some(s) = opts.selinux.as_deref().filter(|s| !matches!(*s, "z" | "Z")) {
                    return Err(de::Error::custom(format!(
                        "invalid selinux {s:?}, expected z or Z"
                    )));
                }
            }
            "recursive" => {
                opts.recursive = value.into_string(key)?;
                if let Some(r) = opts
                    .recursive
                    .as_deref()
                    .filter(|r| !matches!(*r, "enabled" | "disabled" | "writable" | "readonly"))
                {
                    return Err(de::Error::custom(format!(
                    "invalid recursive {r:?}, expected one of: enabled, disabled, writable, readonly"
                )));
                }
            }
            _ => unreachable!("read_map only passes known keys"),
        }
        Ok(())
    }
);

options_deserialize!(
    VolumeOptions,
    "a mapping of volume options",
    &["labels", "nocopy", "subpath"],
    |key, map, opts| {
        match key {
            "labels" => opts.labels = map.next_value::<Labels>()?.0,
            "nocopy" => opts.nocopy = map.next_value::<Scalar>()?.into_bool(key)?.unwrap_or(false),
            "subpath" => opts.subpath = map.next_value::<Scalar>()?.into_string(key)?,
            _ => unreachable!("read_map only passes known keys"),
        }
        Ok(())
    }
);

options_deserialize!(
    TmpfsOptions,
    "a mapping of tmpfs options",
    &["size", "mode"],
    |key, map, opts| {
        match key {
            "size" => opts.size = map.next_value::<Option<ByteSize>>()?,
            "mode" => {
                opts.mode = match map.next_value::<Scalar>()? {
                    Scalar::Null => None,
                    Scalar::Int(i) => Some(u32::try_from(i).map_err(|_| {
                        de::Error::custom(format!(
                            "invalid tmpfs mode {i}: expected file mode bits such as 1777"
                        ))
                    })?),
                    Scalar::Str(s) => Some(parse_go_uint(&s).ok_or_else(|| {
                        de::Error::custom(format!(
                            "invalid tmpfs mode {s:?}: expected file mode bits such as \"01777\""
                        ))
                    })?),
                    other => {
                        return Err(de::Error::custom(format!(
                            "invalid tmpfs mode {}: expected file mode bits such as 1777",
                            other.describe()
                        )))
                    }
                }
            }
            _ => unreachable!("read_map only passes known keys"),
        }
        Ok(())
    }
);

options_deserialize!(
    ImageOptions,
    "a mapping of image options",
    &["subpath"],
    |key, map, opts| {
        opts.subpath = map.next_value::<Scalar>()?.into_string(key)?;
        Ok(())
    }
);

/// Volume labels: a mapping, or a list of `KEY=VALUE` strings (a key without `=` is empty).
struct Labels(IndexMap<String, String>);

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expecting = "a mapping of labels or a list of KEY=VALUE strings";
        fields::de_list_or_dict::<D, Scalar, _, _>(
            deserializer,
            expecting,
            Option::unwrap_or_default,
        )
        .map(Labels)
    }
}

const LONG_KEYS: &[&str] = &[
    "type",
    "source",
    "target",
    "read_only",
    "consistency",
    "bind",
    "volume",
    "tmpfs",
    "image",
];

fn volume_from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<ServiceVolume, A::Error> {
    let mut vol = ServiceVolume::new(VolumeType::Volume, "");
    let (mut kind, mut target) = (None, None);
    vol.extensions = fields::read_map(&mut map, LONG_KEYS, |key, map| {
        match key {
            "type" => {
                let t = map
                    .next_value::<Scalar>()?
                    .into_string(key)?
                    .unwrap_or_default();
                kind = Some(t.parse::<VolumeType>().map_err(de::Error::custom)?);
            }
            "source" => {
                vol.source = map
                    .next_value::<Scalar>()?
                    .into_string(key)?
                    .filter(|s| !s.is_empty())
            }
            "target" => target = map.next_value::<Scalar>()?.into_string(key)?,
            "read_only" => {
                vol.read_only = map.next_value::<Scalar>()?.into_bool(key)?.unwrap_or(false)
            }
            "consistency" => vol.consistency = map.next_value::<Scalar>()?.into_string(key)?,
            "bind" => {
                let mut bind: BindOptions = map.next_value()?;
                // Compose's default for a long-syntax bind that does not say.
                bind.create_host_path.get_or_insert(true);
                vol.bind = Some(bind);
            }
            "volume" => vol.volume = Some(map.next_value()?),
            "tmpfs" => vol.tmpfs = Some(map.next_value()?),
            "image" => vol.image = Some(map.next_value()?),
            _ => unreachable!("read_map only passes known keys"),
        }
        Ok(())
    })?;
    vol.kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
    vol.target = target
        .filter(|t| !t.is_empty())
        .ok_or_else(|| de::Error::missing_field("target"))?;
    Ok(vol)
}

impl<'de> Deserialize<'de> for ServiceVolume {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ServiceVolume;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a string {VOLUME_SYNTAX} or a mapping with `type` and `target`"
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ServiceVolume, E> {
                parse_short(v).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ServiceVolume, A::Error> {
                volume_from_map(map)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Serialize for ServiceVolume {
    /// The long syntax in `docker compose config`'s key order, empty values left out.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("type", &self.kind)?;
        if let Some(s) = &self.source {
            m.serialize_entry("source", s)?;
        }
        if !self.target.is_empty() {
            m.serialize_entry("target", &self.target)?;
        }
        if self.read_only {
            m.serialize_entry("read_only", &true)?;
        }
        if let Some(c) = &self.consistency {
            m.serialize_entry("consistency", c)?;
        }
        if let Some(b) = &self.bind {
            m.serialize_entry("bind", b)?;
        }
        if let Some(v) = &self.volume {
            m.serialize_entry("volume", v)?;
        }
        if let Some(t) = &self.tmpfs {
            m.serialize_entry("tmpfs", t)?;
        }
        if let Some(i) = &self.image {
            m.serialize_entry("image", i)?;
        }
        fields::serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

impl Serialize for BindOptions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        if let Some(s) = &self.selinux {
            m.serialize_entry("selinux", s)?;
        }
        if let Some(p) = &self.propagation {
            m.serialize_entry("propagation", p)?;
        }
        if self.create_host_path == Some(true) {
            m.serialize_entry("create_host_path", &true)?;
        }
        if let Some(r) = &self.recursive {
            m.serialize_entry("recursive", r)?;
        }
        fields::serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

impl Serialize for VolumeOptions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        if !self.labels.is_empty() {
            m.serialize_entry("labels", &self.labels)?;
        }
        if self.nocopy {
            m.serialize_entry("nocopy", &true)?;
        }
        if let Some(s) = &self.subpath {
            m.serialize_entry("subpath", s)?;
        }
        fields::serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

impl Serialize for TmpfsOptions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        if let Some(size) = self.size.filter(|s| s.0 != 0) {
            m.serialize_entry("size", &size)?;
        }
        if let Some(mode) = self.mode.filter(|m| *m != 0) {
            m.serialize_entry("mode", &mode)?;
        }
        fields::serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

impl Serialize for ImageOptions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        if let Some(s) = &self.subpath {
            m.serialize_entry("subpath", s)?;
        }
        fields::serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;
