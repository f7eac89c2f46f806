//! `volumes` (Docker Compose's: the project's volumes) and `volume ls|inspect|rm|create|prune`
//! (`docker volume`'s flags and output) over the volume store in [`crate::engine::volumes`].
//! Only the `local` driver exists: volumes are directories under the state root.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufWriter, Write};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::template::{object_json, Output, Schema, Template};
use super::GlobalOptions;
use crate::engine::fsutil;
use crate::engine::volumes::{self, Volume};

#[derive(Debug, Args)]
pub struct VolumesArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go
    /// template such as '{{.Name}}'
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only the volumes these services' containers mount
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeArgs {
    #[command(subcommand)]
    pub command: VolumeCommand,
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Specify volume driver name (only "local")
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume (KEY=VALUE or KEY)
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Set driver specific options (the local driver's type/device/o mounts are not supported
    /// yet: any option is refused)
    #[arg(short = 'o', long = "opt", value_name = "OPT")]
    pub opts: Vec<String>,
    /// The volume's name (default: 64 random hex digits)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json' or a Go template such as '{{.Mountpoint}}'
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Provide filter values (dangling=true|false, driver=local, label=KEY[=VALUE], name=NAME)
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go
    /// template such as '{{.Name}}'
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Do not fail when a volume does not exist (one in use is still refused, as with Docker)
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (label=KEY[=VALUE], label!=KEY[=VALUE])
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// One `--filter` of `volume ls` / `volume prune`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    Dangling(bool),
    Driver(String),
    Label { key: String, value: Option<String> },
    NotLabel { key: String, value: Option<String> },
    Name(String),
}

fn parse_filter(f: &str, allowed: &[&str]) -> anyhow::Result<Filter> {
    let (key, value) = f
        .split_once('=')
        .with_context(|| format!("bad format of filter (expected name=value): {f}"))?;
    let (key, negated) = match key.strip_suffix('!') {
        Some(k) => (k, true),
        None => (key, false),
    };
    let shown = if negated {
        format!("{key}!")
    } else {
        key.to_string()
    };
    if !allowed.contains(&shown.as_str()) {
        bail!("invalid filter '{shown}'");
    }
    let label = || match value.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (value.to_string(), None),
    };
    Ok(match (key, negated) {
        ("dangling", _) => Filter::Dangling(match value {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => bail!("invalid filter 'dangling={value}'"),
        }),
        ("driver", _) => Filter::Driver(value.to_string()),
        ("name", _) => Filter::Name(value.to_string()),
        ("label", false) => {
            let (key, value) = label();
            Filter::Label { key, value }
        }
        _ => {
            let (key, value) = label();
            Filter::NotLabel { key, value }
        }
    })
}

fn has_label(v: &Volume, key: &str, value: Option<&str>) -> bool {
    v.labels
        .get(key)
        .is_some_and(|have| value.is_none_or(|want| have == want))
}

/// Whether `v` passes every filter (Docker: every kind must match; several values of one kind
/// match when any does, except labels, which must all match).
fn matches(v: &Volume, used: bool, filters: &[Filter]) -> bool {
    let any_of = |pick: &dyn Fn(&Filter) -> Option<bool>| {
        let results: Vec<bool> = filters.iter().filter_map(pick).collect();
        results.is_empty() || results.contains(&true)
    };
    any_of(&|f| match f {
        Filter::Dangling(d) => Some(*d != used),
        _ => None,
    }) && any_of(&|f| match f {
        Filter::Driver(d) => Some(d == "local"),
        _ => None,
    }) && any_of(&|f| match f {
        Filter::Name(n) => Some(v.name.contains(n.as_str())),
        _ => None,
    }) && filters.iter().all(|f| match f {
        Filter::Label { key, value } => has_label(v, key, value.as_deref()),
        Filter::NotLabel { key, value } => !has_label(v, key, value.as_deref()),
        _ => true,
    })
}

fn labels_joined(v: &Volume) -> String {
    v.labels
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A volume as `docker volume ls --format json` prints it, one object a line.
fn ls_json(v: &Volume) -> Value {
    json!({
        "Availability": "N/A",
        "Driver": "local",
        "Group": "N/A",
        "Labels": labels_joined(v),
        "Links": "N/A",
        "Mountpoint": v.mountpoint.display().to_string(),
        "Name": v.name,
        "Scope": "local",
        "Size": "N/A",
        "Status": "N/A",
    })
}

/// A volume as `docker volume inspect` prints it.
fn inspect_json(v: &Volume) -> Value {
    json!({
        "CreatedAt": fsutil::format_rfc3339(v.created_at),
        "Driver": "local",
        "Labels": if v.labels.is_empty() { Value::Null } else { json!(v.labels) },
        "Mountpoint": v.mountpoint.display().to_string(),
        "Name": v.name,
        "Options": Value::Null,
        "Scope": "local",
    })
}

/// `docker volume ls`'s fields and headers, in its JSON's order (docker/cli's volume formatter).
const LS_SCHEMA: Schema = Schema {
    type_name: "*formatter.volumeContext",
    fields: &[
        ("Availability", "AVAILABILITY"),
        ("Driver", "DRIVER"),
        ("Group", "GROUP"),
        ("Labels", "LABELS"),
        ("Links", "LINKS"),
        ("Mountpoint", "MOUNTPOINT"),
        ("Name", "VOLUME NAME"),
        ("Scope", "SCOPE"),
        ("Size", "SIZE"),
        ("Status", "STATUS"),
    ],
    maps: &[],
};

/// `docker volume inspect`'s fields (a `volume.Volume`, whose labels and options are maps).
const INSPECT_SCHEMA: Schema = Schema {
    type_name: "volume.Volume",
    fields: &[
        ("CreatedAt", "CREATED"),
        ("Driver", "DRIVER"),
        ("Labels", "LABELS"),
        ("Mountpoint", "MOUNTPOINT"),
        ("Name", "VOLUME NAME"),
        ("Options", "OPTIONS"),
        ("Scope", "SCOPE"),
    ],
    maps: &["Labels", "Options"],
};

/// Docker's default `volume ls` table.
const LS_TABLE: &str = "table {{.Driver}}\t{{.Name}}";

fn row(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Prints `vols` as `--format` asks, through the template subset every listing shares
/// ([`super::template`]): `table` (Docker's DRIVER / VOLUME NAME), `table TEMPLATE`, `json` (one
/// object a line) or a template a line each.
fn print_list(vols: &[Volume], format: &str, quiet: bool) -> anyhow::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if quiet {
        for v in vols {
            writeln!(out, "{}", v.name)?;
        }
        return Ok(out.flush()?);
    }
    let rows: Vec<Map<String, Value>> = vols.iter().map(|v| row(ls_json(v))).collect();
    let template = match format.trim().parse::<Output>()? {
        Output::Json => {
            for r in &rows {
                writeln!(out, "{}", object_json(r))?;
            }
            return Ok(out.flush()?);
        }
        Output::Table => LS_TABLE.parse::<Template>()?,
        Output::Template(t) => t,
    };
    // Docker's tables: columns at least 10 wide, 3 apart.
    template.render(&mut out, &LS_SCHEMA, &rows, 10)?;
    Ok(out.flush()?)
}

/// Names of the volumes the project uses: those its Compose file declares (when it loads),
/// those `volume create` labelled for it, and the named ones its containers mount.
fn project_volumes(
    global: &GlobalOptions,
    services: &[String],
) -> anyhow::Result<(String, BTreeSet<String>)> {
    use crate::model::load::load;
    let loaded = match load(&super::project::load_options(global, services)?) {
        Ok(l) => Some(l.project),
        Err(e) => match (&global.project_name, &e.kind) {
            (Some(_), crate::model::ErrorKind::NoConfigFile { .. }) => None,
            _ => return Err(e.into()),
        },
    };
    let name = match (&loaded, &global.project_name) {
        (Some(p), _) => p.name.clone().unwrap_or_default(),
        (None, Some(n)) => n.clone(),
        (None, None) => bail!("no project name"),
    };
    if let Some(p) = &loaded {
        for s in services {
            if !p.services.contains_key(s) {
                bail!("no such service: {s}");
            }
        }
    }
    let containers = crate::engine::state::list(&global.root, Some(&name))?;
    let volumes_dir = crate::engine::root::StateRoot::new(&global.root).volumes();
    let mut mounted = BTreeSet::new();
    for o in &containers {
        if !services.is_empty() && !services.contains(&o.record.service) {
            continue;
        }
        let anonymous: Vec<&std::path::PathBuf> = o.record.anonymous_volumes.values().collect();
        for m in &o.record.spec.mounts {
            if let crate::engine::spec::MountKind::Volume { volume, .. } = &m.kind {
                if volume.parent() == Some(volumes_dir.as_path())
                    && !anonymous.contains(&volume)
                    && !crate::engine::anon_volumes::is_own_anonymous_volume(volume, &o.record.id)
                {
                    if let Some(n) = volume.file_name().and_then(|n| n.to_str()) {
                        mounted.insert(n.to_string());
                    }
                }
            }
        }
    }
    // With services named, Docker Compose lists the project's volumes those mount.
    if !services.is_empty() {
        return Ok((name, mounted));
    }
    let mut names = mounted;
    if let Some(p) = &loaded {
        for (key, v) in &p.volumes {
            if v.external.is_not_external() {
                names.insert(crate::planner::volume_name::volume_name(
                    &name,
                    key,
                    Some(v),
                ));
            }
        }
    }
    for v in volumes::list(&global.root)? {
        if v.labels.get("com.docker.compose.project") == Some(&name) {
            names.insert(v.name);
        }
    }
    Ok((name, names))
}

/// `volumes`: the project's volumes that exist.
pub fn volumes_cmd(global: &GlobalOptions, args: &VolumesArgs) -> anyhow::Result<i32> {
    let (_, names) = project_volumes(global, &args.services)?;
    let vols: Vec<Volume> = volumes::list(&global.root)?
        .into_iter()
        .filter(|v| names.contains(&v.name))
        .collect();
    print_list(&vols, &args.format, args.quiet)?;
    Ok(0)
}

/// `volume ...`.
pub fn run(global: &GlobalOptions, args: &VolumeArgs) -> anyhow::Result<i32> {
    match &args.command {
        VolumeCommand::Create(a) => create(global, a),
        VolumeCommand::Inspect(a) => inspect(global, a),
        VolumeCommand::Ls(a) => ls(global, a),
        VolumeCommand::Prune(a) => prune(global, a),
        VolumeCommand::Rm(a) => rm(global, a),
    }
}

fn parse_labels(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn create(global: &GlobalOptions, args: &CreateArgs) -> anyhow::Result<i32> {
    if args.driver != "local" {
        bail!(
            "error looking up volume plugin {}: only the \"local\" driver is supported",
            args.driver
        );
    }
    if let Some(o) = args.opts.first() {
        bail!("volume option {o:?}: driver options (type, device, o) are not supported yet");
    }
    let name = args.name.clone().unwrap_or_else(volumes::random_name);
    if global.dry_run {
        if !volumes::valid_name(&name) {
            return Err(volumes::VolumeError::InvalidName(name).into());
        }
        println!(
            "{}",
            super::progress::dry_line(true, &format!("Volume {name} Created"))
        );
        return Ok(0);
    }
    let v = volumes::create(&global.root, &name, parse_labels(&args.labels))?;
    println!("{}", v.name);
    Ok(0)
}

fn inspect(global: &GlobalOptions, args: &InspectArgs) -> anyhow::Result<i32> {
    let mut found = Vec::new();
    let mut code = 0;
    for n in &args.names {
        match volumes::get(&global.root, n) {
            Ok(v) => found.push(v),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    let mut out = BufWriter::new(io::stdout().lock());
    match args.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => {
            let all: Vec<Value> = found.iter().map(inspect_json).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        }
        Some(t) => {
            let rows: Vec<Map<String, Value>> =
                found.iter().map(|v| row(inspect_json(v))).collect();
            t.parse::<Template>()?
                .render(&mut out, &INSPECT_SCHEMA, &rows, 10)?;
        }
    }
    out.flush()?;
    Ok(code)
}

fn ls(global: &GlobalOptions, args: &LsArgs) -> anyhow::Result<i32> {
    let filters = args
        .filters
        .iter()
        .map(|f| parse_filter(f, &["dangling", "driver", "label", "label!", "name"]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let users = volumes::users(&global.root)?;
    let vols: Vec<Volume> = volumes::list(&global.root)?
        .into_iter()
        .filter(|v| matches(v, users.contains_key(&v.name), &filters))
        .collect();
    print_list(&vols, &args.format, args.quiet)?;
    Ok(0)
}

fn rm(global: &GlobalOptions, args: &RmArgs) -> anyhow::Result<i32> {
    let mut code = 0;
    for n in &args.names {
        let result = if global.dry_run {
            dry_run_remove(global, n, args.force)
        } else {
            volumes::remove(&global.root, n, args.force).map(|()| println!("{n}"))
        };
        if let Err(e) = result {
            eprintln!("Error response from daemon: {e}");
            code = 1;
        }
    }
    Ok(code)
}

/// What `rm` would do: the same refusals, nothing removed.
fn dry_run_remove(
    global: &GlobalOptions,
    name: &str,
    force: bool,
) -> Result<(), volumes::VolumeError> {
    let v = match volumes::get(&global.root, name) {
        Ok(v) => v,
        Err(volumes::VolumeError::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    if let Some(users) = volumes::users(&global.root)?.remove(&v.name) {
        return Err(volumes::VolumeError::InUse {
            name: v.name,
            containers: users.into_iter().collect(),
        });
    }
    println!(
        "{}",
        super::progress::dry_line(true, &format!("Volume {} Removed", v.name))
    );
    Ok(())
}

/// Bytes under `dir`, links not followed (the volume's content is a container's).
fn disk_usage(dir: &std::path::Path) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut total = md.len();
    if md.is_dir() {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            total += disk_usage(&e.path());
        }
    }
    total
}

/// Docker's prompt: the answer is read from standard input whatever it is; none is "no".
fn confirm(prompt: &str) -> anyhow::Result<bool> {
    eprint!("{prompt} [y/N] ");
    io::stderr().flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes"))
}

fn prune(global: &GlobalOptions, args: &PruneArgs) -> anyhow::Result<i32> {
    let filters = args
        .filters
        .iter()
        .map(|f| parse_filter(f, &["label", "label!"]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !args.force && !global.dry_run {
        // Docker's warning, word for word.
        let what = if args.all {
            "all local volumes"
        } else {
            "anonymous local volumes"
        };
        let prompt = format!(
            "WARNING! This will remove {what} not used by at least one container.\nAre you sure you want to continue?"
        );
        if !confirm(&prompt)? {
            return Ok(0);
        }
    }
    let users = volumes::users(&global.root)?;
    let doomed: Vec<Volume> = volumes::list(&global.root)?
        .into_iter()
        .filter(|v| !users.contains_key(&v.name) && (args.all || v.anonymous))
        .filter(|v| matches(v, false, &filters))
        .collect();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut reclaimed = 0;
    let mut deleted = Vec::new();
    for v in &doomed {
        let size = disk_usage(&v.mountpoint);
        if global.dry_run {
            writeln!(
                out,
                "{}",
                super::progress::dry_line(true, &format!("Volume {} Removed", v.name))
            )?;
            continue;
        }
        match volumes::remove(&global.root, &v.name, false) {
            Ok(()) => {
                reclaimed += size;
                deleted.push(v.name.clone());
            }
            // A container made meanwhile mounts it: kept, as Docker keeps it.
            Err(volumes::VolumeError::InUse { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !global.dry_run {
        if !deleted.is_empty() {
            writeln!(out, "Deleted Volumes:")?;
            for n in &deleted {
                writeln!(out, "{n}")?;
            }
            writeln!(out)?;
        }
        writeln!(
            out,
            "Total reclaimed space: {}",
            fsutil::human_size(reclaimed)
        )?;
    }
    out.flush()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn vol(name: &str, labels: &[(&str, &str)]) -> Volume {
        Volume {
            name: name.into(),
            mountpoint: format!("/r/volumes/{name}/_data").into(),
            created_at: 0,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            anonymous: false,
        }
    }

    #[test]
    fn docker_volume_flags_parse() {
        let cli = Cli::try_parse_from([
            "compose", "volume", "create", "--label", "a=1", "-d", "local", "v1",
        ])
        .expect("create");
        let Command::Volume(VolumeArgs {
            command: VolumeCommand::Create(c),
        }) = cli.command
        else {
            panic!("not volume create");
        };
        assert_eq!(
            (c.labels, c.name.as_deref()),
            (vec!["a=1".to_string()], Some("v1"))
        );
        // `rm -f` is --force and `ls -f` is --filter, as in docker volume.
        let cli = Cli::try_parse_from(["compose", "volume", "rm", "-f", "v1"]).expect("rm");
        assert!(matches!(
            cli.command,
            Command::Volume(VolumeArgs {
                command: VolumeCommand::Rm(RmArgs { force: true, .. })
            })
        ));
        let cli =
            Cli::try_parse_from(["compose", "volume", "ls", "-q", "-f", "name=x"]).expect("ls");
        assert!(matches!(
            cli.command,
            Command::Volume(VolumeArgs {
                command: VolumeCommand::Ls(LsArgs { quiet: true, .. })
            })
        ));
        let cli = Cli::try_parse_from(["compose", "volume", "prune", "-a", "-f"]).expect("prune");
        assert!(matches!(
            cli.command,
            Command::Volume(VolumeArgs {
                command: VolumeCommand::Prune(PruneArgs {
                    all: true,
                    force: true,
                    ..
                })
            })
        ));
        assert!(Cli::try_parse_from(["compose", "volume", "rm"]).is_err());
        let cli = Cli::try_parse_from(["compose", "volumes", "-q", "web"]).expect("volumes");
        assert!(matches!(
            cli.command,
            Command::Volumes(VolumesArgs { quiet: true, .. })
        ));
    }

    #[test]
    fn filters_as_docker_applies_them() {
        let f = |s: &[&str]| -> Vec<Filter> {
            s.iter()
                .map(|x| {
                    parse_filter(x, &["dangling", "driver", "label", "label!", "name"]).expect(x)
                })
                .collect()
        };
        let v = vol("p_data", &[("env", "prod")]);
        assert!(matches(&v, false, &f(&["dangling=true"])));
        assert!(!matches(&v, true, &f(&["dangling=true"])));
        assert!(matches(&v, false, &f(&["name=data", "name=zzz"])));
        assert!(!matches(&v, false, &f(&["name=zzz"])));
        assert!(matches(&v, false, &f(&["label=env"])));
        assert!(matches(&v, false, &f(&["label=env=prod"])));
        assert!(!matches(&v, false, &f(&["label=env=dev"])));
        assert!(!matches(&v, false, &f(&["label!=env"])));
        assert!(matches(&v, false, &f(&["driver=local"])));
        assert!(parse_filter("bogus=1", &["label"]).is_err());
        assert!(parse_filter("dangling=maybe", &["dangling"]).is_err());
    }

    fn rendered(template: &str, schema: &Schema, v: Value) -> anyhow::Result<String> {
        let mut out = Vec::new();
        template
            .parse::<Template>()?
            .render(&mut out, schema, &[row(v)], 10)?;
        Ok(String::from_utf8(out)?)
    }

    #[test]
    fn templates_and_json_as_docker_prints_them() {
        let v = vol("p_data", &[("b", "2"), ("a", "1")]);
        assert_eq!(
            rendered("{{.Name}}\\t{{.Driver}}", &LS_SCHEMA, ls_json(&v)).expect("r"),
            "p_data\tlocal\n"
        );
        assert_eq!(
            rendered("{{.Labels}}", &LS_SCHEMA, ls_json(&v)).expect("r"),
            "a=1,b=2\n"
        );
        // Docker's inspect objects hold maps: Go prints them `map[k:v]`, keys sorted.
        assert_eq!(
            rendered("{{.Labels}}", &INSPECT_SCHEMA, inspect_json(&v)).expect("r"),
            "map[a:1 b:2]\n"
        );
        assert_eq!(
            rendered("{{json .Labels}}", &INSPECT_SCHEMA, inspect_json(&v)).expect("r"),
            "{\"a\":\"1\",\"b\":\"2\"}\n"
        );
        assert!(rendered("{{.Nope}}", &LS_SCHEMA, ls_json(&v)).is_err());
        assert_eq!(
            rendered(LS_TABLE, &LS_SCHEMA, ls_json(&v)).expect("r"),
            "DRIVER    VOLUME NAME\nlocal     p_data\n"
        );
        let i = inspect_json(&vol("x", &[]));
        // Docker prints null for a volume without labels or options.
        assert_eq!(i["Labels"], Value::Null);
        assert_eq!(i["Scope"], "local");
        assert_eq!(i["CreatedAt"], "1970-01-01T00:00:00Z");
    }
}
