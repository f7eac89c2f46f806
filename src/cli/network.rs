//! `compose network ls|inspect|rm|prune`: our networks under `<--root>/networks`, with
//! `docker network`'s flags and output (Docker Compose itself has no such command).

use std::io::{self, BufRead, BufWriter, Write};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::engine::fsutil;
use crate::engine::network::manager::{NetworkError, NetworkInfo, Networks};
use crate::engine::root::StateRoot;

#[derive(Debug, Args)]
pub struct NetworkArgs {
    #[command(subcommand)]
    pub command: NetworkCommand,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LsFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Format output: table (default) or json (one object per line, like docker)
    #[arg(long, value_enum, default_value_t = LsFormat::Table)]
    pub format: LsFormat,
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Docker's network IDs are random; ours are derived from the name, so they are stable
/// across processes without being stored.
pub fn network_id(name: &str) -> String {
    fsutil::hex(&Sha256::digest(name.as_bytes()))
}

pub fn run(global: &super::GlobalOptions, args: &NetworkArgs) -> anyhow::Result<i32> {
    // Reading commands on a root that has no networks yet create nothing (and need no write
    // access to, say, /var/lib/compose).
    let nets = if StateRoot::new(&global.root).networks().is_dir() {
        Some(
            Networks::open(&global.root)
                .with_context(|| format!("opening the networks under {}", global.root.display()))?,
        )
    } else {
        None
    };
    match &args.command {
        NetworkCommand::Ls(a) => ls(nets.as_ref(), a),
        NetworkCommand::Inspect(a) => inspect(nets.as_ref(), a),
        NetworkCommand::Rm(a) => rm(nets.as_ref(), a, global.dry_run),
        NetworkCommand::Prune(a) => prune(nets.as_ref(), a, global.dry_run),
    }
}

fn list(nets: Option<&Networks>) -> anyhow::Result<Vec<NetworkInfo>> {
    Ok(match nets {
        Some(n) => n.list()?,
        None => Vec::new(),
    })
}

/// One line of `network ls --format json`, with docker's keys and string values.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LsRow {
    created_at: String,
    driver: String,
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "IPv4")]
    ipv4: String,
    #[serde(rename = "IPv6")]
    ipv6: String,
    internal: String,
    labels: String,
    name: String,
    scope: &'static str,
}

fn ls(nets: Option<&Networks>, args: &LsArgs) -> anyhow::Result<i32> {
    let rows: Vec<LsRow> = list(nets)?
        .iter()
        .map(|n| {
            let mut id = network_id(&n.def.name);
            if !args.no_trunc {
                id.truncate(12);
            }
            LsRow {
                created_at: fsutil::format_go_time(n.created),
                driver: n.def.driver.clone(),
                id,
                ipv4: n
                    .addrs
                    .subnets
                    .iter()
                    .any(|s| s.subnet.is_ipv4())
                    .to_string(),
                ipv6: n
                    .addrs
                    .subnets
                    .iter()
                    .any(|s| !s.subnet.is_ipv4())
                    .to_string(),
                internal: n.def.internal.to_string(),
                labels: n
                    .def
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
                name: n.def.name.clone(),
                scope: "local",
            }
        })
        .collect();
    let mut out = BufWriter::new(io::stdout().lock());
    if args.quiet {
        for r in &rows {
            writeln!(out, "{}", r.id)?;
        }
    } else if args.format == LsFormat::Json {
        for r in &rows {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
    } else {
        let table: Vec<[&str; 4]> = rows
            .iter()
            .map(|r| [&*r.id, &*r.name, &*r.driver, r.scope])
            .collect();
        write_table(&mut out, ["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &table)?;
    }
    out.flush()?;
    Ok(0)
}

/// Columns laid out like Docker's tabwriter (min width 10, padding 3).
fn write_table<const N: usize>(
    out: &mut impl Write,
    header: [&str; N],
    rows: &[[&str; N]],
) -> io::Result<()> {
    let all: Vec<&[&str]> = std::iter::once(&header[..])
        .chain(rows.iter().map(|r| &r[..]))
        .collect();
    super::table::write(out, &all, 10, 3)
}

/// `docker network inspect`'s object for one network.
fn inspect_value(n: &NetworkInfo) -> Value {
    let config: Vec<Value> = n
        .addrs
        .subnets
        .iter()
        .map(|s| {
            let mut c = Map::new();
            c.insert("Subnet".into(), json!(s.subnet.to_string()));
            if let Some(r) = s.ip_range {
                c.insert("IPRange".into(), json!(r.to_string()));
            }
            c.insert("Gateway".into(), json!(s.gateway.to_string()));
            if !s.aux_addresses.is_empty() {
                let aux: Map<String, Value> = s
                    .aux_addresses
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v.to_string())))
                    .collect();
                c.insert("AuxiliaryAddresses".into(), Value::Object(aux));
            }
            Value::Object(c)
        })
        .collect();
    let containers: Map<String, Value> = n
        .addrs
        .allocations
        .keys()
        .map(|id| {
            let a = n.addrs.addrs_of(id);
            let fmt = |x: Option<crate::engine::network::ipam::Assigned>| {
                x.map(|x| format!("{}/{}", x.addr, x.subnet.prefix_len()))
                    .unwrap_or_default()
            };
            (
                id.clone(),
                json!({"IPv4Address": fmt(a.ipv4), "IPv6Address": fmt(a.ipv6)}),
            )
        })
        .collect();
    let mut options = Map::new();
    options.insert(
        "com.docker.network.bridge.name".into(),
        json!(n.bridge.clone()),
    );
    if let Some(mtu) = n.def.mtu {
        options.insert(
            "com.docker.network.driver.mtu".into(),
            json!(mtu.to_string()),
        );
    }
    json!({
        "Name": n.def.name,
        "Id": network_id(&n.def.name),
        "Created": fsutil::format_rfc3339(n.created),
        "Scope": "local",
        "Driver": n.def.driver,
        "EnableIPv4": n.addrs.subnets.iter().any(|s| s.subnet.is_ipv4()),
        "EnableIPv6": n.addrs.subnets.iter().any(|s| !s.subnet.is_ipv4()),
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": n.def.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": options,
        "Labels": n.def.labels,
    })
}

fn inspect(nets: Option<&Networks>, args: &InspectArgs) -> anyhow::Result<i32> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &args.networks {
        match nets.map(|n| n.get(name)).transpose()?.flatten() {
            Some(info) => found.push(inspect_value(&info)),
            None => errors.push(format!("network {name} not found")),
        }
    }
    let mut out = io::stdout().lock();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    Value::Array(found).serialize(&mut ser)?;
    writeln!(out)?;
    for e in &errors {
        eprintln!("Error: {e}");
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}

/// Docker's wording for a network that still has containers, which scripts grep for.
fn remove_error(e: &NetworkError) -> String {
    match e {
        NetworkError::InUse { .. } => format!("error while removing network: {e}"),
        _ => e.to_string(),
    }
}

/// `network rm`; a dry run checks each network as the removal would and prints the names it
/// would remove, prefixed.
fn rm(nets: Option<&Networks>, args: &RmArgs, dry_run: bool) -> anyhow::Result<i32> {
    let mut code = 0;
    for name in &args.networks {
        let result = match nets {
            Some(n) if dry_run => n.check_remove(name),
            Some(n) => n.remove(name),
            None => Ok(false),
        };
        match result {
            Ok(true) => println!("{}", super::progress::dry_line(dry_run, name)),
            Ok(false) => {
                eprintln!("Error: network {name} not found");
                code = 1;
            }
            Err(e) => {
                eprintln!("Error: {}", remove_error(&e));
                code = 1;
            }
        }
    }
    Ok(code)
}

/// Asks on standard input, like docker: anything but `y`/`yes` (or end of input) is no.
fn confirm(prompt: &str) -> anyhow::Result<bool> {
    let mut out = io::stdout().lock();
    write!(out, "{prompt} [y/N] ")?;
    out.flush()?;
    let stdin = io::stdin();
    let mut line = String::new();
    if stdin.lock().read_line(&mut line)? == 0 {
        writeln!(out)?; // end of input: finish the prompt's line
    }
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// `network prune`; a dry run lists the networks it would delete, prefixed.
fn prune(nets: Option<&Networks>, args: &PruneArgs, dry_run: bool) -> anyhow::Result<i32> {
    if !args.force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.\n\
             Are you sure you want to continue?",
        )?
    {
        return Ok(0);
    }
    let Some(nets) = nets else {
        return Ok(0);
    };
    let mut deleted = Vec::new();
    let mut code = 0;
    for info in nets.list()? {
        if !info.addrs.allocations.is_empty() {
            continue;
        }
        if dry_run {
            deleted.push(info.def.name);
            continue;
        }
        match nets.remove(&info.def.name) {
            Ok(true) => deleted.push(info.def.name),
            Ok(false) | Err(NetworkError::InUse { .. }) => {} // gone or taken meanwhile
            Err(e) => {
                eprintln!("Error: {}", remove_error(&e));
                code = 1;
            }
        }
    }
    if !deleted.is_empty() {
        let mut out = io::stdout().lock();
        writeln!(
            out,
            "{}",
            super::progress::dry_line(dry_run, "Deleted Networks:")
        )?;
        for name in deleted {
            writeln!(out, "{}", super::progress::dry_line(dry_run, &name))?;
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_like_docker() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            ["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
            &[["0123456789ab", "myproj_default", "bridge", "local"]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NETWORK ID     NAME             DRIVER    SCOPE\n\
             0123456789ab   myproj_default   bridge    local\n"
        );
        assert_eq!(network_id("x").len(), 64);
    }
}
