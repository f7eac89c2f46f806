//! `compose info` (like `docker info`): this version, what the host gives the engine, what the
//! state root holds, and each missing feature with what it disables.

use std::io::Write;

use clap::{Args, ValueEnum};

use super::GlobalOptions;
use crate::engine::info::{self, CgroupFacts, Counts, HostInfo};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format the output
    #[arg(long, value_enum, default_value_t = InfoFormat::Text)]
    pub format: InfoFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InfoFormat {
    Text,
    Json,
}

pub fn run(global: &GlobalOptions, args: &InfoArgs) -> anyhow::Result<i32> {
    let host = info::gather(&info::Host);
    let counts = info::count(&global.root)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        InfoFormat::Json => writeln!(out, "{}", json(global, &host, &counts))?,
        InfoFormat::Text => text(&mut out, global, &host, &counts)?,
    }
    Ok(0)
}

fn json(global: &GlobalOptions, host: &HostInfo, counts: &Counts) -> serde_json::Value {
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "kernel": host.kernel,
        "cgroup": host.cgroup,
        "overlay": {
            "available": host.overlay.is_some(),
            "options": host.overlay.clone().unwrap_or_default(),
        },
        "idmapped_mounts": host.idmapped_mounts,
        "user_namespaces": host.user_namespaces,
        "seccomp": host.seccomp,
        "nftables": host.nftables,
        "clone3": host.clone3,
        "pidfd": host.pidfd,
        "criu": host.criu,
        "state_root": global.root,
        "projects": counts.projects,
        "containers": counts.containers,
        "running": counts.running,
        "images": counts.images,
        "volumes": counts.volumes,
        "networks": counts.networks,
        "missing": host.missing,
    })
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn text(
    out: &mut impl Write,
    global: &GlobalOptions,
    host: &HostInfo,
    counts: &Counts,
) -> std::io::Result<()> {
    let kernel = host.kernel.as_deref().unwrap_or("unknown");
    let (cg_version, controllers) = match &host.cgroup {
        Some(CgroupFacts {
            version,
            controllers,
        }) => (version.as_str(), controllers.join(" ")),
        None => ("none", String::new()),
    };
    let overlay = match &host.overlay {
        Some(options) if options.is_empty() => "yes".to_string(),
        Some(options) => format!("yes ({})", options.join(", ")),
        None => "no".to_string(),
    };
    writeln!(out, "Version:            {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "Kernel Version:     {kernel}")?;
    writeln!(out, "Cgroup Version:     {cg_version}")?;
    writeln!(out, "Cgroup Controllers: {controllers}")?;
    writeln!(out, "Overlayfs:          {overlay}")?;
    writeln!(out, "Idmapped Mounts:    {}", yes(host.idmapped_mounts))?;
    writeln!(out, "User Namespaces:    {}", yes(host.user_namespaces))?;
    writeln!(out, "Seccomp:            {}", yes(host.seccomp))?;
    writeln!(out, "Nftables:           {}", yes(host.nftables))?;
    writeln!(out, "clone3:             {}", yes(host.clone3))?;
    writeln!(out, "pidfd:              {}", yes(host.pidfd))?;
    writeln!(
        out,
        "CRIU:               {}",
        host.criu.as_deref().unwrap_or("absent")
    )?;
    writeln!(out, "State Root:         {}", global.root.display())?;
    writeln!(out, "Projects:           {}", counts.projects)?;
    writeln!(
        out,
        "Containers:         {} (running {})",
        counts.containers, counts.running
    )?;
    writeln!(out, "Images:             {}", counts.images)?;
    writeln!(out, "Volumes:            {}", counts.volumes)?;
    writeln!(out, "Networks:           {}", counts.networks)?;
    if !host.missing.is_empty() {
        writeln!(out, "Missing:")?;
        for m in &host.missing {
            writeln!(out, " {}: disables {}", m.feature, m.disables)?;
        }
    }
    Ok(())
}
