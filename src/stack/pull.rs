//! Pulling the images a command needs: `up`/`create`/`run` (what each service's pull policy
//! asks for, before anything is created), `compose pull` and `compose image pull`.
//!
//! Every pull of one command goes into one [`registry::pull_images`] call, so images are
//! fetched in parallel and a layer two services share is fetched once. A failed pull stops
//! `up` before its first change: a stack half made of new images and half of old ones, or
//! with a service missing, is not what its author asked for.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::build::BuildMode;
use super::{invalid, start_order, Reporter, StackError};
use crate::engine::image::{ImageError, ImageStore};
use crate::engine::registry::{
    self, DockerConfig, PullEvent, PullOptions, PullProgress, PullRequest, Pulled, RegistryConfig,
};
use crate::engine::root::StateRoot;
use crate::model::types::resources::Project;
use crate::planner::pull_policy::{
    decide, decide_pull_command, Decision, ImageFacts, PullCommandDecision, PullPolicy,
};
use crate::planner::support;

/// Progress that shows nothing (`--quiet`, and reporters without a pull display).
pub struct SilentPull;

impl PullProgress for SilentPull {
    fn event(&self, _: &str, _: PullEvent) {}
}

/// Renames each request (its reference) to what the user knows it as (the services that use
/// it), as Docker Compose labels its pull lines with service names.
struct Labelled {
    labels: HashMap<String, String>,
    inner: Arc<dyn PullProgress>,
}

impl PullProgress for Labelled {
    fn event(&self, image: &str, event: PullEvent) {
        let label = self.labels.get(image).map_or(image, String::as_str);
        self.inner.event(label, event);
    }
}

/// One image to pull and who wants it.
struct Wanted {
    request: PullRequest,
    services: Vec<String>,
}

/// The platform a service's image is pulled for: its `platform:`, else
/// `DOCKER_DEFAULT_PLATFORM` (as Docker Compose), else this machine's.
fn platform_of(
    svc: &crate::model::types::service::ServiceConfig,
    default: Option<&str>,
) -> Option<String> {
    svc.platform
        .as_deref()
        .or(default)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

/// What the store has of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    Absent,
    /// Stored, but not of the platform asked for: as good as missing for a pull.
    OtherPlatform,
    Present,
}

/// What the store has of `reference`, for `platform` when one is asked for; an error other
/// than "not there" (a damaged store, an invalid reference) is one.
fn stored(
    store: &ImageStore,
    service: &str,
    reference: &str,
    platform: Option<&str>,
) -> Result<Stored, StackError> {
    match store.resolve(reference) {
        Ok(image) if platform.is_none_or(|p| support::platform_matches(p, &image.config)) => {
            Ok(Stored::Present)
        }
        Ok(_) => Ok(Stored::OtherPlatform),
        Err(ImageError::NotFound(_)) => Ok(Stored::Absent),
        Err(error) => Err(StackError::ServiceImage {
            service: service.to_string(),
            reference: reference.to_string(),
            error: Box::new(error),
            hint: "",
        }),
    }
}

/// Adds `service`'s image to `wanted`, merging requests for the same image and platform.
fn want(wanted: &mut Vec<Wanted>, service: &str, reference: &str, platform: Option<String>) {
    match wanted
        .iter_mut()
        .find(|w| w.request.reference == reference && w.request.platform == platform)
    {
        Some(w) => w.services.push(service.to_string()),
        None => wanted.push(Wanted {
            request: PullRequest {
                reference: reference.to_string(),
                platform,
            },
            services: vec![service.to_string()],
        }),
    }
}

/// Pulls `requests` in one call, records the pull time of each success, and returns one
/// result per request. `labels` maps a request's reference to its name in the progress.
pub fn pull_references(
    store: &ImageStore,
    requests: &[PullRequest],
    labels: HashMap<String, String>,
    progress: Arc<dyn PullProgress>,
) -> Result<Vec<Result<Pulled, registry::RegistryError>>, StackError> {
    let config = RegistryConfig::load().map_err(|error| StackError::RegistryConfig { error })?;
    let credentials = DockerConfig::load().map_err(|error| StackError::Credentials { error })?;
    let opts = PullOptions {
        config,
        credentials,
        progress: Arc::new(Labelled {
            labels,
            inner: progress,
        }),
    };
    let results = registry::pull_images(store, requests, &opts);
    let done: Vec<&str> = requests
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(q, _)| q.reference.as_str())
        .collect();
    if !done.is_empty() {
        store
            .record_pulls(&done, SystemTime::now())
            .map_err(|error| StackError::RecordPulls { error })?;
    }
    Ok(results)
}

/// Runs the pulls of `wanted`; returns each failure with the services that wanted the image.
fn pull_wanted<'w>(
    store: &ImageStore,
    wanted: &'w [Wanted],
    progress: Arc<dyn PullProgress>,
) -> Result<Vec<(&'w [String], String)>, StackError> {
    let requests: Vec<PullRequest> = wanted.iter().map(|w| w.request.clone()).collect();
    let labels = wanted
        .iter()
        .map(|w| (w.request.reference.clone(), w.services.join(", ")))
        .collect();
    let results = pull_references(store, &requests, labels, progress)?;
    Ok(wanted
        .iter()
        .zip(results)
        .filter_map(|(w, r)| {
            r.err().map(|e| {
                (
                    w.services.as_slice(),
                    format!(
                        "service {}: pulling {}: {e}",
                        w.services.join(", "),
                        w.request.reference
                    ),
                )
            })
        })
        .collect())
}

/// Whether `service`'s image can be built by this command: it has a `build:` section, or
/// another service builds the image it names (Docker Compose's `isServiceImageToBuild`), and
/// `--no-build` was not given.
fn buildable(project: &Project, service: &str, build: BuildMode) -> bool {
    if build == BuildMode::Never {
        return false;
    }
    let svc = &project.services[service];
    svc.build.is_some()
        || svc.image.as_deref().is_some_and(|image| {
            project
                .services
                .values()
                .any(|o| o.build.is_some() && o.image.as_deref() == Some(image))
        })
}

/// `up`/`create`/`run`: decides every service in `services` by its pull policy (`flag`, the
/// `--pull` option, replaces it) and pulls what must be pulled, all at once. Returns when every
/// image is there or will be built; an image that is missing and may be neither pulled nor
/// built, or a failed pull of one that cannot be built, is an error, and nothing has been
/// created. As Docker Compose: a service with `build:` is not pulled under `--build` or
/// `pull_policy: build`, and its failed pull is only a warning, since it can be built instead.
pub fn ensure_images(
    store: &ImageStore,
    project: &Project,
    services: &[String],
    flag: Option<PullPolicy>,
    default_platform: Option<&str>,
    build: BuildMode,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let now = SystemTime::now();
    let mut wanted = Vec::new();
    for s in services {
        let Some(svc) = project.services.get(s) else {
            return Err(invalid(format!("no such service: {s}")));
        };
        // Without `image:` the image is built (named after project and service): there is
        // nothing to pull, and a missing one is reported where it is resolved.
        let Some(reference) = svc.image.as_deref().filter(|i| !i.is_empty()) else {
            continue;
        };
        let policy = PullPolicy::of_service(svc.pull_policy.as_deref())
            .map_err(|e| invalid(format!("service {s}: pull_policy: {e}")))?;
        let can_build = buildable(project, s, build);
        let builds_here = svc.build.is_some() && can_build;
        if builds_here
            && (build == BuildMode::Always || flag.unwrap_or(policy) == PullPolicy::Build)
        {
            continue;
        }
        let platform = platform_of(svc, default_platform);
        let found = stored(store, s, reference, platform.as_deref())?;
        let is_stored = found == Stored::Present;
        let last_pulled = match (flag.unwrap_or(policy), is_stored) {
            (PullPolicy::Every(_), true) => {
                store
                    .last_pulled(reference)
                    .map_err(|error| StackError::LastPulled {
                        service: s.clone(),
                        error,
                    })?
            }
            _ => None,
        };
        let facts = ImageFacts {
            stored: is_stored,
            last_pulled,
        };
        match decide(policy, flag, facts, now) {
            Decision::UseStored => {}
            Decision::Pull => want(
                &mut wanted,
                s,
                reference,
                platform_of(svc, default_platform),
            ),
            // Missing, not to be pulled: built next.
            Decision::Fail(_) if can_build => {}
            // The planner's text for this case predates builds.
            Decision::Fail(_) if flag.unwrap_or(policy) == PullPolicy::Build => {
                return Err(StackError::ImageUnavailable {
                    service: s.clone(),
                    reference: reference.to_string(),
                    why: "not found and pull_policy is build, but it is not built here \
                          (`--no-build`, or the service has no `build:` section)"
                        .to_string(),
                })
            }
            // The image of another platform is there: the platform check says so, more
            // precisely than "not found" would.
            Decision::Fail(_) if found == Stored::OtherPlatform => {}
            Decision::Fail(why) => {
                return Err(StackError::ImageUnavailable {
                    service: s.clone(),
                    reference: reference.to_string(),
                    why,
                })
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let progress = rep.pull_progress().unwrap_or_else(|| Arc::new(SilentPull));
    let mut failures = Vec::new();
    for (services, failure) in pull_wanted(store, &wanted, progress)? {
        if services.iter().all(|s| buildable(project, s, build)) {
            rep.warn(&failure);
        } else {
            failures.push(failure);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(StackError::Pull { failures })
    }
}

/// Options of `compose pull`.
#[derive(Debug, Clone, Default)]
pub struct PullCommandOptions {
    /// These services (all when empty).
    pub services: Vec<String>,
    /// `--include-deps`: and the services they depend on.
    pub include_deps: bool,
    /// `--ignore-pull-failures`: warn about a failed pull and go on.
    pub ignore_failures: bool,
    /// `--policy`: replaces every service's `pull_policy`.
    pub policy: Option<PullPolicy>,
    /// `DOCKER_DEFAULT_PLATFORM`.
    pub default_platform: Option<String>,
    /// `--dry-run`: decides as it would, reports each pull, pulls nothing.
    pub dry_run: bool,
}

/// `compose pull`: pulls the services' images (skipping what Docker Compose skips), all at once.
pub fn pull_command(
    root: &std::path::Path,
    project: &Project,
    opts: &PullCommandOptions,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let services: Vec<String> = if opts.services.is_empty() {
        project.services.keys().cloned().collect()
    } else if opts.include_deps {
        start_order(project, &opts.services)?
    } else {
        for s in &opts.services {
            if !project.services.contains_key(s) {
                return Err(invalid(format!("no such service: {s}")));
            }
        }
        opts.services.clone()
    };
    let store = ImageStore::open(StateRoot::new(root).images())
        .map_err(|error| StackError::ImageStore { error })?;
    let mut wanted = Vec::new();
    for s in &services {
        let svc = &project.services[s];
        let Some(reference) = svc.image.as_deref().filter(|i| !i.is_empty()) else {
            rep.event("Image", s, "Skipped - No image to be pulled");
            continue;
        };
        let policy = match svc.pull_policy.as_deref() {
            None | Some("") => None,
            Some(p) => Some(
                PullPolicy::parse(p)
                    .map_err(|e| invalid(format!("service {s}: pull_policy: {e}")))?,
            ),
        };
        let platform = platform_of(svc, opts.default_platform.as_deref());
        let is_stored = stored(&store, s, reference, platform.as_deref())? == Stored::Present;
        match decide_pull_command(policy, opts.policy, is_stored) {
            PullCommandDecision::Skip(why) => rep.event("Image", s, why),
            PullCommandDecision::Pull if opts.dry_run => {
                super::dry_run::report(rep, "Image", [reference], &["Pulling", "Pulled"]);
            }
            PullCommandDecision::Pull => want(&mut wanted, s, reference, platform),
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let progress = rep.pull_progress().unwrap_or_else(|| Arc::new(SilentPull));
    let failures: Vec<String> = pull_wanted(&store, &wanted, progress)?
        .into_iter()
        .map(|(_, failure)| failure)
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    if opts.ignore_failures {
        for f in &failures {
            rep.warn(f);
        }
        return Ok(());
    }
    Err(StackError::Pull { failures })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Recorder(Mutex<Vec<(String, PullEvent)>>);

    impl PullProgress for Recorder {
        fn event(&self, image: &str, event: PullEvent) {
            self.0
                .lock()
                .expect("lock")
                .push((image.to_string(), event));
        }
    }

    #[test]
    fn progress_is_labelled_with_the_services_of_a_request() {
        let rec = Arc::new(Recorder(Mutex::new(Vec::new())));
        let l = Labelled {
            labels: HashMap::from([("busybox".to_string(), "web, worker".to_string())]),
            inner: rec.clone(),
        };
        l.event("busybox", PullEvent::Resolving);
        l.event("other", PullEvent::Resolving);
        let got = rec.0.lock().expect("lock").clone();
        assert_eq!(
            got,
            vec![
                ("web, worker".to_string(), PullEvent::Resolving),
                ("other".to_string(), PullEvent::Resolving)
            ]
        );
    }

    #[test]
    fn requests_for_one_image_and_platform_are_merged() {
        let mut w = Vec::new();
        want(&mut w, "web", "busybox", None);
        want(&mut w, "worker", "busybox", None);
        want(&mut w, "arm", "busybox", Some("linux/arm64".into()));
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].services, ["web", "worker"]);
        assert_eq!(w[1].request.platform.as_deref(), Some("linux/arm64"));
    }

    /// A stored image counts for a service only when it is of the platform asked for: one of
    /// another platform is pulled again (Docker Compose pulls the platform it needs).
    #[test]
    fn a_stored_image_of_another_platform_is_not_stored_for_it() {
        use crate::engine::image::testimage::{ArchiveFormat, TestImage};
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ImageStore::open(dir.path()).expect("store");
        let archive = TestImage::default()
            .archive(ArchiveFormat::Oci)
            .expect("test image");
        store.load_archive(&archive[..]).expect("load");
        let host = format!("linux/{}", crate::engine::image::host_arch());
        let other = if crate::engine::image::host_arch() == "arm64" {
            "linux/amd64"
        } else {
            "linux/arm64"
        };
        let got = |p: Option<&str>| stored(&store, "web", "busybox", p).expect("store");
        assert_eq!(got(None), Stored::Present);
        assert_eq!(got(Some(&host)), Stored::Present);
        assert_eq!(got(Some(other)), Stored::OtherPlatform);
        assert_eq!(
            stored(&store, "web", "nothere:1", None).expect("store"),
            Stored::Absent
        );
    }

    /// As Docker Compose's `isServiceImageToBuild`: a service with `build:`, or one whose
    /// `image:` another service builds, can be built; nothing can with `--no-build`.
    #[test]
    fn which_services_can_be_built() {
        let p: Project = crate::model::types::fields::test_support::load(
            "services:\n  web: {image: app:1, build: /s}\n  worker: {image: app:1}\n  db: {image: postgres}\n",
        )
        .expect("project");
        assert!(buildable(&p, "web", BuildMode::Missing));
        assert!(buildable(&p, "worker", BuildMode::Missing));
        assert!(!buildable(&p, "db", BuildMode::Missing));
        assert!(!buildable(&p, "web", BuildMode::Never));
    }

    /// A missing image that may not be pulled is no error when it will be built, and one with
    /// `pull_policy: build` is not looked for in a registry; under `--no-build` both are errors.
    #[test]
    fn a_missing_image_that_will_be_built_is_not_pulled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ImageStore::open(dir.path()).expect("store");
        let p: Project = crate::model::types::fields::test_support::load(
            "services:\n  a: {image: 'nothere:1', build: /s, pull_policy: never}\n  \
             b: {image: 'nothere:2', build: /s, pull_policy: build}\n",
        )
        .expect("project");
        let services = ["a".to_string(), "b".to_string()];
        let mut rep = crate::stack::PlainReporter;
        ensure_images(
            &store,
            &p,
            &services,
            None,
            None,
            BuildMode::Missing,
            &mut rep,
        )
        .expect("nothing to pull");
        let err = ensure_images(
            &store,
            &p,
            &services[..1],
            None,
            None,
            BuildMode::Never,
            &mut rep,
        )
        .expect_err("never, not built");
        assert!(err.to_string().contains("pull_policy is never"), "{err}");
        let err = ensure_images(
            &store,
            &p,
            &services[1..],
            None,
            None,
            BuildMode::Never,
            &mut rep,
        )
        .expect_err("build, not built");
        assert!(err.to_string().contains("--no-build"), "{err}");
    }
}
