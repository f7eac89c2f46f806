//! Where things lie under the state root: the one place that spells the names of its
//! directories and files, so that the code writing them, the code reading them and the
//! one-time tightening of an old root (in the parent module) cannot disagree.
//!
//! ```text
//! containers/<id>/        a container: container.json, state.json, stopping, container.log*
//! images/                 the image store (see [`ImageDir`])
//! volumes/<name>/_data    named and anonymous volumes
//! networks/               network definitions and address allocations
//! dns/<network>/          the names running containers publish on a network
//! projects/<name>.lock    serializes commands on one project
//! events.jsonl            the events log
//! build/runs/<id>/        a Dockerfile RUN step while it runs: its overlay work dir, /etc files
//! layout-version          the root's schema version (see `migrate`)
//! migrate.lock            held while a command migrates the root
//! ```
//!
//! The names are those of every root made so far: changing one strands existing roots.

use std::path::{Path, PathBuf};

pub(super) const CONTAINERS: &str = "containers";
pub(super) const IMAGES: &str = "images";
pub(super) const VOLUMES: &str = "volumes";
pub(super) const NETWORKS: &str = "networks";
pub(super) const DNS: &str = "dns";
pub(super) const PROJECTS: &str = "projects";
pub(super) const EVENTS: &str = "events.jsonl";
pub(super) const VERSION: &str = "layout-version";
const MIGRATE_LOCK: &str = "migrate.lock";
const BUILD: &str = "build";
const BUILD_RUNS: &str = "runs";
const BUILD_WORK: &str = "work";
const BUILD_CACHE_MOUNTS: &str = "cache-mounts";

/// A container's record (its spec and configuration), in its directory.
pub(crate) const CONTAINER_RECORD: &str = "container.json";
/// Its run state as its monitor last wrote it.
pub(crate) const CONTAINER_STATE: &str = "state.json";
/// Present while a stop someone asked for is under way (the monitor does not restart it).
pub(crate) const CONTAINER_STOPPING: &str = "stopping";
/// Its log; rotated files add `.1`, `.2`...
pub(crate) const CONTAINER_LOG: &str = "container.log";
/// Its monitor's diagnostics (see [`crate::engine::logging`]); a rotated file adds `.1`.
pub(crate) const CONTAINER_MONITOR_LOG: &str = "monitor.log";

/// The paths of one state root (`--root`).
#[derive(Debug, Clone, Copy)]
pub struct StateRoot<'a> {
    root: &'a Path,
}

impl<'a> StateRoot<'a> {
    pub fn new(root: &'a Path) -> StateRoot<'a> {
        StateRoot { root }
    }

    pub fn path(&self) -> &'a Path {
        self.root
    }

    /// One directory per container, named by its id.
    pub fn containers(&self) -> PathBuf {
        self.root.join(CONTAINERS)
    }

    pub fn container(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }

    /// The image store's directory.
    pub fn images(&self) -> PathBuf {
        self.root.join(IMAGES)
    }

    pub fn volumes(&self) -> PathBuf {
        self.root.join(VOLUMES)
    }

    /// The directory of volume `name` (its data is `_data` below it).
    pub fn volume(&self, name: &str) -> PathBuf {
        self.volumes().join(name)
    }

    pub fn networks(&self) -> PathBuf {
        self.root.join(NETWORKS)
    }

    /// Where running containers publish their names, one directory per network.
    pub fn dns(&self) -> PathBuf {
        self.root.join(DNS)
    }

    /// The names published on network `network`.
    pub fn dns_of(&self, network: &str) -> PathBuf {
        self.dns().join(network)
    }

    /// The directory of the project locks.
    pub fn projects(&self) -> PathBuf {
        self.root.join(PROJECTS)
    }

    /// The lock that serializes commands on project `project`.
    pub fn project_lock(&self, project: &str) -> PathBuf {
        self.projects().join(format!("{project}.lock"))
    }

    pub fn events(&self) -> PathBuf {
        self.root.join(EVENTS)
    }

    /// A build step's directory while it is made (it becomes a layer), beside the image store:
    /// on its filesystem, so it is renamed into it, never copied.
    pub fn build_work(&self) -> PathBuf {
        self.root.join(BUILD).join(BUILD_WORK)
    }

    /// The directories of `RUN --mount=type=cache`, kept between builds.
    pub fn build_cache_mounts(&self) -> PathBuf {
        self.root.join(BUILD).join(BUILD_CACHE_MOUNTS)
    }

    /// One directory per Dockerfile `RUN` step while it runs (see [`crate::build::run`]),
    /// beside the image store: on its filesystem, as the step's overlay work dir must be.
    pub fn build_runs(&self) -> PathBuf {
        self.root.join(BUILD).join(BUILD_RUNS)
    }

    pub(super) fn version(&self) -> PathBuf {
        self.root.join(VERSION)
    }

    /// Taken by the command that migrates the root (see `migrate`).
    pub(super) fn migrate_lock(&self) -> PathBuf {
        self.root.join(MIGRATE_LOCK)
    }
}

/// Where things lie in an image store's directory (`<root>/images`, or any directory a store
/// is opened on):
///
/// ```text
/// lock                    flock(2) taken by every writer
/// tags.json               canonical reference -> image id
/// images/<hex>.json       one record per image, keyed by config digest
/// blobs/sha256/<hex>      manifests, configs, layer blobs
/// layers/<12 hex>/        an unpacked layer (overlayfs lower dir)
/// layers/<12 hex>.json    its marker: written last, so it marks a complete layer
/// tmp/                    staging
/// pulls.json              when each reference was last pulled
/// ```
#[derive(Debug, Clone)]
pub struct ImageDir {
    dir: PathBuf,
}

pub(super) const IMAGE_LOCK: &str = "lock";
pub(super) const IMAGE_TAGS: &str = "tags.json";
pub(super) const IMAGE_RECORDS: &str = "images";
pub(super) const IMAGE_BLOBS: &str = "blobs";
pub(super) const IMAGE_LAYERS: &str = "layers";
pub(super) const IMAGE_TMP: &str = "tmp";
const IMAGE_PULLS: &str = "pulls.json";
const IMAGE_PINS: &str = "pins";
/// The only digest algorithm the store keeps blobs of.
const SHA256: &str = "sha256";
/// A layer's marker and an image's record end in this.
const JSON: &str = ".json";

impl ImageDir {
    pub fn new(dir: impl Into<PathBuf>) -> ImageDir {
        ImageDir { dir: dir.into() }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn lock(&self) -> PathBuf {
        self.dir.join(IMAGE_LOCK)
    }

    pub fn tags(&self) -> PathBuf {
        self.dir.join(IMAGE_TAGS)
    }

    /// The directory of the image records.
    pub fn records(&self) -> PathBuf {
        self.dir.join(IMAGE_RECORDS)
    }

    /// The record of the image whose config digest is `sha256:<hex>`.
    pub fn record(&self, hex: &str) -> PathBuf {
        self.records().join(format!("{hex}{JSON}"))
    }

    /// The hex digest a file name of [`records`](Self::records) or a layer marker stands for.
    pub fn json_stem(name: &str) -> Option<&str> {
        name.strip_suffix(JSON)
    }

    /// The directory of the sha256 blobs.
    pub fn blobs(&self) -> PathBuf {
        self.dir.join(IMAGE_BLOBS).join(SHA256)
    }

    pub fn blob(&self, hex: &str) -> PathBuf {
        self.blobs().join(hex)
    }

    /// The directory of the unpacked layers and their markers.
    pub fn layers(&self) -> PathBuf {
        self.dir.join(IMAGE_LAYERS)
    }

    /// The unpacked layer `name`.
    pub fn layer(&self, name: &str) -> PathBuf {
        self.layers().join(name)
    }

    /// The marker of layer `name`, written once it is complete.
    pub fn layer_marker(&self, name: &str) -> PathBuf {
        self.layers().join(format!("{name}{JSON}"))
    }

    /// Staging: what is written here is renamed into place or removed by the next writer.
    pub fn tmp(&self) -> PathBuf {
        self.dir.join(IMAGE_TMP)
    }

    /// Pins: records of other users of the store (the build cache) naming layers the garbage
    /// collector keeps although no image refers to them.
    pub fn pins(&self) -> PathBuf {
        self.dir.join(IMAGE_PINS)
    }

    /// The pin `name`.
    pub fn pin(&self, name: &str) -> PathBuf {
        self.pins().join(format!("{name}{JSON}"))
    }

    /// When each reference was last pulled (for the `daily`/`weekly`/`every_<d>` pull policies).
    pub fn pulls(&self) -> PathBuf {
        self.dir.join(IMAGE_PULLS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path a root has ever had: an existing root must keep working.
    #[test]
    fn a_root_lays_out_its_paths_as_every_root_before_it() {
        let r = StateRoot::new(Path::new("/r"));
        let got = [
            r.containers(),
            r.container("abc"),
            r.images(),
            r.volumes(),
            r.volume("p_v"),
            r.networks(),
            r.dns(),
            r.dns_of("p_default"),
            r.projects(),
            r.project_lock("p"),
            r.events(),
            r.version(),
            r.migrate_lock(),
            r.build_runs(),
            r.build_work(),
            r.build_cache_mounts(),
        ];
        let want = [
            "/r/containers",
            "/r/containers/abc",
            "/r/images",
            "/r/volumes",
            "/r/volumes/p_v",
            "/r/networks",
            "/r/dns",
            "/r/dns/p_default",
            "/r/projects",
            "/r/projects/p.lock",
            "/r/events.jsonl",
            "/r/layout-version",
            "/r/migrate.lock",
            "/r/build/runs",
            "/r/build/work",
            "/r/build/cache-mounts",
        ];
        assert_eq!(got, want.map(PathBuf::from));
        assert_eq!(r.path(), Path::new("/r"));
    }

    #[test]
    fn an_image_store_lays_out_its_paths_as_every_store_before_it() {
        let s = ImageDir::new("/r/images");
        let got = [
            s.lock(),
            s.tags(),
            s.records(),
            s.record("ab12"),
            s.blobs(),
            s.blob("ff"),
            s.layers(),
            s.layer("0123456789ab"),
            s.layer_marker("0123456789ab"),
            s.tmp(),
            s.pulls(),
        ];
        let want = [
            "/r/images/lock",
            "/r/images/tags.json",
            "/r/images/images",
            "/r/images/images/ab12.json",
            "/r/images/blobs/sha256",
            "/r/images/blobs/sha256/ff",
            "/r/images/layers",
            "/r/images/layers/0123456789ab",
            "/r/images/layers/0123456789ab.json",
            "/r/images/tmp",
            "/r/images/pulls.json",
        ];
        assert_eq!(got, want.map(PathBuf::from));
        assert_eq!(ImageDir::json_stem("ab12.json"), Some("ab12"));
        assert_eq!(ImageDir::json_stem("ab12"), None);
    }
}
