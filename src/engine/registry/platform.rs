//! Platforms (`os/arch[/variant]`) as image indexes describe them, and which index entry a
//! platform picks, the way containerd's platform matcher does for the common cases: the
//! architecture aliases Docker accepts, and `arm64` meaning `arm64/v8`.
use std::fmt;

use serde::Deserialize;

use super::error::RegistryError;
use crate::engine::image::host_arch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

/// `platform` of an index entry, as the OCI image spec writes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IndexPlatform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant
        .map(str::to_ascii_lowercase)
        .filter(|v| !v.is_empty());
    match arch.as_str() {
        "x86_64" | "x86-64" => ("amd64".into(), None),
        "i386" => ("386".into(), None),
        // arm64's only variant is v8: an entry without one is v8.
        "aarch64" | "arm64" => (
            "arm64".into(),
            match variant.as_deref() {
                None | Some("8" | "v8") => None,
                Some(v) => Some(v.to_string()),
            },
        ),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => (
            "arm".into(),
            Some(match variant.as_deref() {
                None | Some("7" | "v7") => "v7".to_string(),
                Some("5" | "v5") => "v5".to_string(),
                Some("6" | "v6") => "v6".to_string(),
                Some("8" | "v8") => "v8".to_string(),
                Some(v) => v.to_string(),
            }),
        ),
        _ => (arch, variant),
    }
}

impl Platform {
    /// This machine's platform.
    pub fn host() -> Platform {
        let (architecture, variant) = normalize_arch(host_arch(), None);
        Platform {
            os: "linux".into(),
            architecture,
            variant,
        }
    }

    /// Parses `os/arch[/variant]` (`linux/arm64`, `linux/arm/v7`); `arch` alone means Linux.
    pub fn parse(s: &str) -> Result<Platform, RegistryError> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let bad = || RegistryError::Platform(s.to_string());
        let (os, arch, variant) = match parts.as_slice() {
            [arch] if !arch.is_empty() && *arch != "linux" => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] if !variant.is_empty() => (*os, *arch, Some(*variant)),
            _ => return Err(bad()),
        };
        if os.is_empty() || arch.is_empty() {
            return Err(bad());
        }
        let (architecture, variant) = normalize_arch(arch, variant);
        Ok(Platform {
            os: os.to_ascii_lowercase(),
            architecture,
            variant,
        })
    }

    /// Whether an index entry's platform is this one.
    pub fn matches(&self, p: &IndexPlatform) -> bool {
        let (arch, variant) = normalize_arch(&p.architecture, p.variant.as_deref());
        p.os.eq_ignore_ascii_case(&self.os)
            && arch == self.architecture
            && (self.variant.is_none() && self.architecture != "arm" || variant == self.variant)
    }

    fn from_index(p: &IndexPlatform) -> Platform {
        let (architecture, variant) = normalize_arch(&p.architecture, p.variant.as_deref());
        Platform {
            os: p.os.clone(),
            architecture,
            variant,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Picks the entry for `want` among `(platform, item)` pairs: an exact variant first, then (when
/// `want` names none) the entry without a variant. `Err` lists the platforms there are, for the
/// error message (attestation manifests, `unknown/unknown`, left out).
pub fn select<'a, T>(
    want: &Platform,
    entries: &'a [(Option<IndexPlatform>, T)],
) -> Result<&'a T, String> {
    if let Some((_, t)) = entries
        .iter()
        .find(|(p, _)| p.as_ref().is_some_and(|p| want.matches(p)))
    {
        return Ok(t);
    }
    let mut available: Vec<String> = entries
        .iter()
        .filter_map(|(p, _)| p.as_ref())
        .filter(|p| p.os != "unknown" && !p.os.is_empty())
        .map(|p| Platform::from_index(p).to_string())
        .collect();
    available.dedup();
    Err(if available.is_empty() {
        "none".to_string()
    } else {
        available.join(", ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(os: &str, arch: &str, variant: Option<&str>) -> Option<IndexPlatform> {
        Some(IndexPlatform {
            os: os.into(),
            architecture: arch.into(),
            variant: variant.map(str::to_string),
        })
    }

    #[test]
    fn parses_docker_spellings() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(Platform::parse("arm64").unwrap().to_string(), "linux/arm64");
        for bad in ["", "linux", "linux/", "/amd64", "a/b/c/d", "linux/arm/"] {
            assert!(Platform::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn selects_by_arch_and_variant() {
        let entries = vec![
            (ip("linux", "amd64", None), 1),
            (ip("linux", "arm", Some("v6")), 2),
            (ip("linux", "arm", Some("v7")), 3),
            (ip("linux", "arm64", Some("v8")), 4),
            (ip("unknown", "unknown", None), 5),
        ];
        let pick = |s: &str| *select(&Platform::parse(s).unwrap(), &entries).unwrap();
        assert_eq!(pick("linux/amd64"), 1);
        assert_eq!(pick("linux/arm/v6"), 2);
        assert_eq!(pick("linux/arm"), 3);
        assert_eq!(pick("linux/arm64"), 4);
        let err = select(&Platform::parse("linux/s390x").unwrap(), &entries).unwrap_err();
        assert_eq!(err, "linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64");
    }
}
