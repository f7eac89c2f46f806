//! `compose image push REF` (docker's output) and `compose push [SERVICE...]` (Docker
//! Compose's): the work is in [`crate::engine::registry::push`].

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;

use super::GlobalOptions;
use crate::engine::image::ImageStore;
use crate::engine::registry::{
    push_images, DockerConfig, PushEvent, PushOptions, PushProgress, RegistryConfig,
};
use crate::stack::Reporter;

#[derive(Debug, Args)]
pub struct ImagePushArgs {
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG]")]
    pub image: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push what it can and ignores images with push failures
    #[arg(long)]
    pub ignore_push_failures: bool,
    /// Push without printing progress information
    #[arg(short, long)]
    pub quiet: bool,
    /// Services (all when none is given)
    pub services: Vec<String>,
}

pub(super) fn options(progress: Arc<dyn PushProgress>) -> anyhow::Result<PushOptions> {
    Ok(PushOptions {
        config: RegistryConfig::load().context("loading the registry configuration")?,
        credentials: DockerConfig::load().context("loading Docker's credentials")?,
        progress,
    })
}

/// docker's lines: one per layer as it is settled, then `TAG: digest: … size: …`.
struct DockerLines;

impl PushProgress for DockerLines {
    fn event(&self, _image: &str, event: PushEvent) {
        let line = match event {
            PushEvent::Exists { layer } => format!("{layer}: Layer already exists"),
            PushEvent::Mounted { layer, from } => format!("{layer}: Mounted from {from}"),
            PushEvent::Pushed { layer } => format!("{layer}: Pushed"),
            PushEvent::Done { tag, digest, size } => {
                format!("{tag}: digest: {digest} size: {size}")
            }
            PushEvent::Pushing { .. } => return,
        };
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

struct Silent;

impl PushProgress for Silent {
    fn event(&self, _: &str, _: PushEvent) {}
}

/// `compose image push`.
pub fn image_push(store: &ImageStore, args: &ImagePushArgs, dry_run: bool) -> anyhow::Result<i32> {
    // Refused before any output: a name the store lacks, a digest reference.
    let (reference, _) = crate::engine::registry::push::local_image(store, &args.image)?;
    if dry_run {
        let line = format!("The push refers to repository [{}]", reference.name());
        println!("{}", super::progress::dry_line(true, &line));
        return Ok(0);
    }
    let progress: Arc<dyn PushProgress> = if args.quiet {
        Arc::new(Silent)
    } else {
        println!("The push refers to repository [{}]", reference.name());
        Arc::new(DockerLines)
    };
    let opts = options(progress)?;
    let mut results = push_images(store, std::slice::from_ref(&args.image), &opts);
    match results.pop() {
        Some(Ok(pushed)) => {
            if args.quiet {
                println!("{}", pushed.canonical);
            }
            Ok(0)
        }
        Some(Err(e)) => Err(e.into()),
        None => Ok(0),
    }
}

/// Docker Compose's progress events for a push: `Pushing IMAGE: LAYER` with the layer's state.
pub(super) struct ComposeEvents(pub(super) Mutex<Box<dyn Reporter>>);

impl PushProgress for ComposeEvents {
    fn event(&self, image: &str, event: PushEvent) {
        let (layer, action) = match event {
            PushEvent::Exists { layer } => (layer, "Layer already exists".to_string()),
            PushEvent::Mounted { layer, from } => (layer, format!("Mounted from {from}")),
            PushEvent::Pushed { layer } => (layer, "Pushed".to_string()),
            PushEvent::Pushing { .. } | PushEvent::Done { .. } => return,
        };
        let mut rep = self.0.lock().unwrap_or_else(|p| p.into_inner());
        rep.event("Pushing", &format!("{image}: {layer}"), &action);
    }
}

/// `compose push`: the image of every selected service that names one. Unlike Docker
/// Compose, which pushes only services that also have a `build:` section, a service with an
/// `image:` is pushed, whether it was built, loaded or tagged.
pub fn push(global: &GlobalOptions, args: &PushArgs) -> anyhow::Result<i32> {
    let loaded = crate::model::load::load(&super::project::load_options(global, &args.services)?)?;
    let project = loaded.project;
    for s in &args.services {
        if !project.services.contains_key(s) {
            anyhow::bail!("no such service: {s}");
        }
    }
    let store = super::image_store::open_store(global)?;
    let reporter: Box<dyn Reporter> = if args.quiet {
        Box::new(QuietReporter)
    } else {
        super::progress::reporter_titled(global, "Pushing")
    };
    let events = Arc::new(ComposeEvents(Mutex::new(reporter)));
    let mut images: Vec<String> = Vec::new();
    for (name, service) in &project.services {
        if !args.services.is_empty() && !args.services.contains(name) {
            continue;
        }
        match &service.image {
            Some(image) if !images.contains(image) => images.push(image.clone()),
            Some(_) => {}
            None => {
                let mut rep = events.0.lock().unwrap_or_else(|p| p.into_inner());
                rep.event("Service", name, "Skipped");
            }
        }
    }
    if global.dry_run {
        // Each image checked as the push checks it first (in the store, a name to push to).
        let mut rep = events.0.lock().unwrap_or_else(|p| p.into_inner());
        for image in &images {
            match crate::engine::registry::push::local_image(&store, image) {
                Ok(_) => {
                    let steps = &["Pushing", "Pushed"];
                    crate::stack::dry_run::report(&mut **rep, "Image", [image], steps);
                }
                Err(e) if args.ignore_push_failures => rep.warn(&format!("Pushing {image}: {e}")),
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(0);
    }
    let opts = options(events.clone())?;
    let results = push_images(&store, &images, &opts);
    let mut failed = None;
    for (image, result) in images.iter().zip(results) {
        if let Err(e) = result {
            if args.ignore_push_failures {
                let mut rep = events.0.lock().unwrap_or_else(|p| p.into_inner());
                rep.warn(&format!("Pushing {image}: {e}"));
            } else if failed.is_none() {
                failed = Some(e);
            } else {
                eprintln!("Error: {e}");
            }
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(0),
    }
}

struct QuietReporter;

/// `--quiet`: no progress, but warnings (a failure `--ignore-push-failures` let pass) still.
impl Reporter for QuietReporter {
    fn event(&mut self, _: &str, _: &str, _: &str) {}
    fn warn(&mut self, message: &str) {
        eprintln!("WARN[0000] {message}");
    }
}
