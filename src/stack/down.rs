//! `down`: stops and removes the project's containers wave by wave (dependents first), then
//! its networks, and on request its volumes and images.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{
    dry_run, first_error, forget_container, hooks, invalid, lock, stop_waves, Ctx, DownOptions,
    Reporter, Shared, StackError,
};
use crate::engine::anon_volumes;
use crate::engine::container::remove::AnonymousVolumes;
use crate::engine::container::Container;
use crate::engine::image::ImageStore;
use crate::engine::network::manager::Networks;
use crate::engine::root::StateRoot;
use crate::engine::state::{self, Observed};
use crate::model::types::resources::Project;

/// `down`: stops and removes the project's containers, then its networks (not external ones),
/// and with `volumes` its named volumes and its containers' anonymous ones.
pub fn down(
    ctx: &Ctx,
    name: &str,
    project: Option<&Project>,
    opts: &DownOptions,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    let _lock = state::lock_project(&ctx.root, name)?;
    let nets = Networks::open(&ctx.root)?;
    let all = state::list(&ctx.root, Some(name))?;
    let (ours, orphans): (Vec<&Observed>, Vec<&Observed>) = all.iter().partition(|o| {
        o.record.one_off || project.is_none_or(|p| p.services.contains_key(&o.record.service))
    });
    let targets: Vec<&Observed> = if opts.remove_orphans || project.is_none() {
        all.iter().collect()
    } else {
        if !orphans.is_empty() {
            let names: Vec<&str> = orphans.iter().map(|o| o.record.name.as_str()).collect();
            rep.warn(&format!(
                "Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
                names.join(", ")
            ));
        }
        ours
    };
    if ctx.dry_run {
        return dry_run(ctx, name, project, opts, &targets, &nets, rep);
    }
    let anonymous = match opts.volumes {
        true => AnonymousVolumes::Remove,
        false => AnonymousVolumes::Keep,
    };
    // Dependents before their dependencies: wave by wave, the containers of one wave
    // signalled first, then waited for (and removed) together.
    let shared = std::sync::Mutex::new(rep);
    let nets = &nets;
    for wave in stop_waves(project, &targets) {
        let mut stopping = Vec::new();
        for o in wave {
            let rec = &o.record;
            let running = o.state.pid.is_some() || o.state.live_monitor().is_some();
            if running {
                lock(&shared).event("Container", &rec.name, "Stopping");
                hooks::pre_stop(&ctx.root, o, &mut Shared(&shared));
            }
            let c = Container::of(&ctx.root, rec);
            let sig = c.stop_signal().map_err(invalid)?;
            let grace = Duration::from_secs(opts.timeout.unwrap_or(rec.stop_grace_period));
            stopping.push((o, running, c.begin_stop(sig, grace)?));
        }
        std::thread::scope(|sc| {
            let handles: Vec<_> = stopping
                .into_iter()
                .map(|(o, running, s)| {
                    let shared = &shared;
                    sc.spawn(move || -> Result<(), StackError> {
                        let mut rep = Shared(shared);
                        s.finish()?;
                        crate::engine::fault::point("down.container.after-stop");
                        if running {
                            crate::engine::events::emit(&ctx.root, &o.record, "stop", &[]);
                            rep.event("Container", &o.record.name, "Stopped");
                        }
                        rep.event("Container", &o.record.name, "Removing");
                        forget_container(ctx, nets, &o.record, anonymous)?;
                        crate::engine::fault::point("down.container.after-remove");
                        rep.event("Container", &o.record.name, "Removed");
                        Ok(())
                    })
                })
                .collect();
            first_error(handles.into_iter().map(|h| h.join()))
        })?;
    }
    let rep: &mut dyn Reporter = match shared.into_inner() {
        Ok(r) => r,
        Err(p) => p.into_inner(),
    };
    // Containers whose creation was cut short (no record): their directories only.
    // A directory that cannot be removed does not stop `down`: it is a warning, like Docker
    // Compose's for what it cannot take away.
    for id in state::incomplete(&ctx.root) {
        // Its anonymous volumes, named only by its id now.
        if opts.volumes {
            if let Err(e) = anon_volumes::remove_named_after(&ctx.root, &id) {
                rep.warn(&e.to_string());
            }
        }
        let dir = StateRoot::new(&ctx.root).container(&id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                rep.warn(&format!("removing {}: {e}", dir.display()));
            }
            _ => {}
        }
    }
    for info in nets.list()? {
        if info.def.project.as_deref() != Some(name) {
            continue;
        }
        // Addresses of containers whose creation was cut short (a killed `up`): no record, so
        // nothing else will ever give them back.
        for id in info.addrs.allocations.keys() {
            if state::read_record(&ctx.root, id)?.is_none() {
                nets.release(&info.def.name, id)?;
            }
        }
        rep.event("Network", &info.def.name, "Removing");
        nets.remove(&info.def.name)?;
        rep.event("Network", &info.def.name, "Removed");
    }
    if let (Some(which), Some(p)) = (opts.rmi.as_deref(), project) {
        let store = ImageStore::open(StateRoot::new(&ctx.root).images())
            .map_err(|error| StackError::ImageStore { error })?;
        for image in removable_images(ctx, name, p, which, &[])? {
            if store.resolve(&image).is_ok() {
                rep.event("Image", &image, "Removing");
                store
                    .remove(&image, false)
                    .map_err(|error| StackError::RemoveImage {
                        image: image.clone(),
                        error,
                    })?;
                rep.event("Image", &image, "Removed");
            }
        }
    }
    if opts.volumes {
        for (vname, dir) in project
            .map(|p| named_volumes(ctx, name, p))
            .unwrap_or_default()
        {
            rep.event("Volume", &vname, "Removing");
            std::fs::remove_dir_all(&dir).map_err(|error| StackError::RemoveVolume {
                volume: vname.clone(),
                path: dir.clone(),
                error,
            })?;
            rep.event("Volume", &vname, "Removed");
            crate::engine::fault::point("down.volume.after-remove");
        }
    }
    Ok(())
}

/// `down --dry-run`: the lines `down` would print, from what it would stop and remove (the
/// same targets, waves, networks, images and volumes), changing nothing.
fn dry_run(
    ctx: &Ctx,
    name: &str,
    project: Option<&Project>,
    opts: &DownOptions,
    targets: &[&Observed],
    nets: &Networks,
    rep: &mut dyn Reporter,
) -> Result<(), StackError> {
    for wave in stop_waves(project, targets) {
        for o in &wave {
            if o.state.pid.is_some() || o.state.live_monitor().is_some() {
                dry_run::report(rep, "Container", [&o.record.name], &["Stopping", "Stopped"]);
            }
        }
        let names = wave.iter().map(|o| &o.record.name);
        dry_run::report(rep, "Container", names, &["Removing", "Removed"]);
    }
    let ours = nets
        .list()?
        .into_iter()
        .filter(|i| i.def.project.as_deref() == Some(name))
        .map(|i| i.def.name);
    dry_run::report(rep, "Network", ours, &["Removing", "Removed"]);
    if let (Some(which), Some(p)) = (opts.rmi.as_deref(), project) {
        let store = ImageStore::open(StateRoot::new(&ctx.root).images())
            .map_err(|error| StackError::ImageStore { error })?;
        // The targets are still there: their images count as free, as they would be then.
        let gone: Vec<&str> = targets.iter().map(|o| o.record.id.as_str()).collect();
        let images = removable_images(ctx, name, p, which, &gone)?;
        let present = images.into_iter().filter(|i| store.resolve(i).is_ok());
        dry_run::report(rep, "Image", present, &["Removing", "Removed"]);
    }
    if opts.volumes {
        let volumes = project
            .map(|p| named_volumes(ctx, name, p))
            .unwrap_or_default();
        let names = volumes.into_iter().map(|(v, _)| v);
        dry_run::report(rep, "Volume", names, &["Removing", "Removed"]);
    }
    Ok(())
}

/// The images `--rmi` (`local` or `all`) removes: the services' (built ones only with `local`),
/// each once, less those a container other than `gone` still uses.
fn removable_images(
    ctx: &Ctx,
    name: &str,
    p: &Project,
    which: &str,
    gone: &[&str],
) -> Result<Vec<String>, StackError> {
    let in_use: BTreeSet<String> = state::list(&ctx.root, None)?
        .into_iter()
        .filter(|o| !gone.contains(&o.record.id.as_str()))
        .map(|o| o.record.image)
        .collect();
    let mut done = BTreeSet::new();
    let mut images = Vec::new();
    for (s, svc) in &p.services {
        let image = match (&svc.image, which) {
            (Some(i), "all") => i.clone(),
            (Some(_), _) => continue,
            (None, _) => format!("{name}-{s}"),
        };
        if in_use.contains(&image) || !done.insert(image.clone()) {
            continue;
        }
        images.push(image);
    }
    Ok(images)
}

/// The project's own (not external) named volumes that exist, with their directories: what
/// `down -v` removes.
fn named_volumes(ctx: &Ctx, name: &str, p: &Project) -> Vec<(String, std::path::PathBuf)> {
    p.volumes
        .iter()
        .filter(|(_, v)| v.external.is_not_external())
        .map(|(key, v)| {
            let vname = crate::planner::volume_name::volume_name(name, key, Some(v));
            let dir = StateRoot::new(&ctx.root).volume(&vname);
            (vname, dir)
        })
        .filter(|(_, dir)| dir.exists())
        .collect()
}
