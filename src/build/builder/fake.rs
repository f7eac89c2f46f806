//! A recording backend: bases and layers are made-up records, RUNs "run" by recording their
//! spec (a command `exit N` exits N), COPY keys come from a table the test sets, and the cache
//! is a map — enough to check what the orchestrator decides.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use super::backend::{Backend, Base, BaseResolver, CacheHit, CopySpec, RunSpec};
use super::image_config::ImageConfig;
use super::key::Key;
use crate::build::BuildError;
use crate::engine::image::{BlobRef, LayerRef, Reference};

/// The base images there are, by reference.
#[derive(Default)]
pub struct FakeBases(pub BTreeMap<String, ImageConfig>);

impl BaseResolver for FakeBases {
    fn base(&mut self, reference: &str, _pull: bool) -> Result<Base, BuildError> {
        let config = self
            .0
            .get(reference)
            .cloned()
            .ok_or_else(|| BuildError::BaseImage {
                build: "fake".into(),
                reference: reference.into(),
                message: "not found".into(),
            })?;
        Ok(Base {
            id: format!("sha256:{reference}"),
            layers: vec![layer(1000)],
            on_build: config.on_build.clone(),
            config: ImageConfig {
                on_build: Vec::new(),
                ..config
            },
        })
    }
}

#[derive(Default, Clone)]
pub struct Recorded {
    /// What each COPY source reads, by source text: its part of the key.
    pub content: BTreeMap<String, u8>,
    pub cache: BTreeMap<Key, CacheHit>,
    /// What ran: `RUN script` / `COPY sources`, with the number of lower layers.
    pub ran: Vec<(String, usize)>,
    pub runs: Vec<RunSpec>,
    pub committed: Vec<(Value, Vec<LayerRef>, Vec<Reference>)>,
    next: u32,
}

#[derive(Default)]
pub struct Fake(Mutex<Recorded>);

impl Fake {
    pub fn state(&self) -> MutexGuard<'_, Recorded> {
        self.0.lock().unwrap()
    }

    /// A copy of what was recorded (a guard held across a build would deadlock it).
    pub fn snapshot(&self) -> Recorded {
        self.state().clone()
    }
}

fn layer(n: u32) -> LayerRef {
    let hex = format!("{n:064x}");
    LayerRef {
        diff_id: format!("sha256:{hex}"),
        blob: BlobRef {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            digest: format!("sha256:{hex}"),
            size: 1,
        },
        dir: hex[52..].to_string(),
    }
}

impl Recorded {
    fn new_layer(&mut self) -> LayerRef {
        self.next += 1;
        layer(self.next)
    }
}

impl Backend for Fake {
    fn cached(&self, key: &Key) -> Option<CacheHit> {
        self.state().cache.get(key).cloned()
    }

    fn remember(
        &self,
        key: &Key,
        layer: Option<&LayerRef>,
        created: i64,
    ) -> Result<(), BuildError> {
        self.state().cache.insert(
            *key,
            CacheHit {
                layer: layer.cloned(),
                created: Some(created),
            },
        );
        Ok(())
    }

    fn run(
        &self,
        lowers: &[LayerRef],
        spec: &RunSpec,
        output: &mut dyn FnMut(&[u8]),
    ) -> Result<(i32, Option<LayerRef>), BuildError> {
        let script = spec.argv.last().cloned().unwrap_or_default();
        output(format!("ran {script}\n").as_bytes());
        let mut st = self.state();
        st.ran.push((format!("RUN {script}"), lowers.len()));
        st.runs.push(spec.clone());
        if let Some(code) = script.strip_prefix("exit ") {
            return Ok((code.trim().parse().unwrap_or(1), None));
        }
        Ok((0, Some(st.new_layer())))
    }

    fn copy_key(&self, spec: &CopySpec) -> Result<[u8; 32], BuildError> {
        let st = self.state();
        let mut key = [0u8; 32];
        for (i, s) in spec.copy.sources.iter().enumerate() {
            if let crate::build::dockerfile::Source::Path(p) = s {
                key[i % 32] ^= st.content.get(p).copied().unwrap_or(0);
            }
        }
        Ok(key)
    }

    fn copy(&self, lowers: &[LayerRef], spec: &CopySpec) -> Result<Option<LayerRef>, BuildError> {
        let sources: Vec<String> = spec.copy.sources.iter().map(|s| format!("{s:?}")).collect();
        let mut st = self.state();
        st.ran
            .push((format!("COPY {}", sources.join(" ")), lowers.len()));
        Ok(Some(st.new_layer()))
    }

    fn commit(
        &self,
        config: Value,
        layers: &[LayerRef],
        names: &[Reference],
    ) -> Result<String, BuildError> {
        let mut st = self.state();
        st.committed.push((config, layers.to_vec(), names.to_vec()));
        Ok(format!("sha256:{:064x}", st.committed.len()))
    }
}
