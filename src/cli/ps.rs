//! `ps`: flags and output as Docker Compose has them (cmd/compose/ps.go and
//! cmd/formatter/container.go), so that scripts written against `docker compose ps` read the
//! same table, JSON and templates here. The listing itself is [`crate::stack::ps`].

use std::io::Write;

use anyhow::bail;
use clap::{ArgAction, Args};
use serde_json::{json, Map, Value};

use super::project::load_options;
use super::template::{object_json, Output, Schema, Template};
use super::GlobalOptions;
use crate::model::load::load;
use crate::stack::{self, PsEntry};

/// Docker Compose's default `ps` table (cmd/formatter/container.go).
const DEFAULT_TABLE: &str = r"table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";

/// Docker's container lists align columns at least this wide (docker/cli's formatter).
const MIN_WIDTH: usize = 10;

/// The fields of a `ps` row, in the order Docker's JSON lists them (its objects are Go maps,
/// marshalled with sorted keys), with their table headers. Docker's header map names only some
/// of them (the others head their column with `<no value>`); those get their name in capitals.
pub const SCHEMA: Schema = Schema {
    type_name: "*formatter.ContainerContext",
    fields: &[
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("ExitCode", "EXIT CODE"),
        ("Health", "HEALTH"),
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Labels", "LABELS"),
        ("LocalVolumes", "LOCAL VOLUMES"),
        ("Mounts", "MOUNTS"),
        ("Name", "NAME"),
        ("Names", "NAMES"),
        ("Networks", "NETWORKS"),
        ("Ports", "PORTS"),
        ("Project", "PROJECT"),
        ("Publishers", "PUBLISHERS"),
        ("RunningFor", "CREATED"),
        ("Service", "SERVICE"),
        ("Size", "SIZE"),
        ("State", "STATE"),
        ("Status", "STATUS"),
    ],
    maps: &[],
};

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all stopped containers (including those created by the run command)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display services
    #[arg(long)]
    pub services: bool,
    /// Filter services by status. Values: [paused | restarting | removing | running | dead |
    /// created | exited]
    #[arg(long, value_name = "STATUS")]
    pub status: Vec<String>,
    /// Filter services by a property (supported filters: status)
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// Format output using a custom template: 'table' (default), 'table TEMPLATE' (a table
    /// with headers), 'json' (one object per line), or a Go template ('{{.Name}} {{.State}}',
    /// '{{json .}}')
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: String,
    /// Don't truncate output (full IDs, commands and mount names)
    #[arg(long)]
    pub no_trunc: bool,
    /// Include orphaned services (not declared by project); `--orphans=false` leaves them out
    #[arg(
        long,
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_value_t = true,
        default_missing_value = "true"
    )]
    pub orphans: bool,
    /// Services
    pub service_names: Vec<String>,
}

/// `--filter KEY=VAL` as Docker Compose reads it: only `status` is supported.
fn filter_status(filter: &str) -> anyhow::Result<String> {
    let Some((key, val)) = filter.split_once('=') else {
        bail!("arguments to --filter should be in form KEY=VAL");
    };
    match key {
        "status" => Ok(val.to_string()),
        "source" => bail!("--filter source is not implemented (supported filters: status)"),
        _ => bail!("unknown filter {key}"),
    }
}

pub fn ps(global: &GlobalOptions, args: &PsArgs) -> anyhow::Result<i32> {
    let mut statuses = args.status.clone();
    if let Some(f) = &args.filter {
        statuses.push(filter_status(f)?);
    }
    let output: Output = args.format.parse()?;
    if let Output::Template(t) = &output {
        t.check(&SCHEMA)?;
    }
    // With a Compose file: the named services must be the project's, and `--orphans=false`
    // keeps to the services it declares.
    let (name, declared) = match load(&load_options(global, &args.service_names)?) {
        Ok(l) => {
            for s in &args.service_names {
                if !l.project.services.contains_key(s) {
                    bail!("no such service: {s}");
                }
            }
            let declared: Vec<String> = l.project.services.keys().cloned().collect();
            (l.project.name.unwrap_or_default(), Some(declared))
        }
        Err(e) => match (&global.project_name, &e.kind) {
            (Some(n), crate::model::ErrorKind::NoConfigFile { .. }) => (n.clone(), None),
            _ => return Err(e.into()),
        },
    };
    let services = match declared {
        Some(declared) if args.service_names.is_empty() && !args.orphans => declared,
        _ => args.service_names.clone(),
    };
    let all = args.all || !statuses.is_empty();
    let mut entries: Vec<PsEntry> = stack::ps(&global.root, &name, all)?
        .into_iter()
        .filter(|e| statuses.is_empty() || statuses.contains(&e.state))
        .filter(|e| services.is_empty() || services.contains(&e.service))
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = std::io::stdout().lock();
    if args.quiet {
        // Docker Compose prints the full IDs here, whatever --no-trunc says.
        for e in &entries {
            writeln!(out, "{}", e.id)?;
        }
        return Ok(0);
    }
    if args.services {
        let mut seen: Vec<&str> = Vec::new();
        for e in &entries {
            if !seen.contains(&e.service.as_str()) {
                writeln!(out, "{}", e.service)?;
                seen.push(&e.service);
            }
        }
        return Ok(0);
    }
    let now = crate::engine::fsutil::now_secs();
    let rows: Vec<Map<String, Value>> = entries
        .iter()
        .map(|e| row(e, !args.no_trunc, now))
        .collect();
    match output {
        // One object per line, as Docker Compose v2.21 and later print it.
        Output::Json => {
            for r in &rows {
                writeln!(out, "{}", object_json(r))?;
            }
        }
        Output::Table => {
            let t: Template = DEFAULT_TABLE.parse()?;
            t.render(&mut out, &SCHEMA, &rows, MIN_WIDTH)?;
        }
        Output::Template(t) => t.render(&mut out, &SCHEMA, &rows, MIN_WIDTH)?,
    }
    out.flush()?;
    Ok(0)
}

/// docker/cli's `formatter.Ellipsis`: at most `max` characters, the last one `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Go's `strconv.Quote`: double quotes, `"` and `\` escaped, control characters as Go escapes
/// them, printable Unicode as it is.
pub fn go_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\x07' => q.push_str("\\a"),
            '\x08' => q.push_str("\\b"),
            '\x0c' => q.push_str("\\f"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            '\x0b' => q.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => q.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// One container as Docker Compose's `ContainerContext` presents it: truncated (IDs to 12
/// characters, the command to 20, mount names to 15) unless `--no-trunc`.
pub fn row(e: &PsEntry, trunc: bool, now: i64) -> Map<String, Value> {
    use crate::engine::fsutil::{format_go_time, human_duration};
    let command = if trunc {
        ellipsis(&e.command, 20)
    } else {
        e.command.clone()
    };
    let id = if trunc {
        e.id.chars().take(12).collect()
    } else {
        e.id.clone()
    };
    let mounts: Vec<String> = (e.mounts.iter())
        .map(|m| if trunc { ellipsis(m, 15) } else { m.clone() })
        .collect();
    let labels: Vec<String> = (e.labels.iter()).map(|(k, v)| format!("{k}={v}")).collect();
    let publishers: Vec<Value> = (e.publishers.iter())
        .map(|p| {
            json!({"URL": p.url, "TargetPort": p.target_port,
                   "PublishedPort": p.published_port, "Protocol": p.protocol})
        })
        .collect();
    let v = json!({
        "Command": go_quote(&command),
        "CreatedAt": format_go_time(e.created),
        "ExitCode": e.exit_code,
        "Health": e.health,
        "ID": id,
        "Image": e.image,
        "Labels": labels.join(","),
        "LocalVolumes": e.local_volumes.to_string(),
        "Mounts": mounts.join(","),
        "Name": e.name,
        "Names": e.name,
        "Networks": e.networks.join(","),
        "Ports": e.ports,
        "Project": e.project,
        // `null` when none, as the Docker Compose the issue was checked against prints (its
        // `var publishers []PortPublisher` marshals so; v2.27.2 and later print `[]`). Scripts
        // reading `.Publishers[]?` take either.
        "Publishers": if publishers.is_empty() { Value::Null } else { Value::Array(publishers) },
        "RunningFor": format!("{} ago", human_duration(now - e.created)),
        "Service": e.service,
        // Docker Compose never asks the daemon for sizes in `ps`, so it shows 0B too.
        "Size": "0B",
        "State": e.state,
        "Status": e.status,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn entry() -> PsEntry {
        let mut labels = indexmap::IndexMap::new();
        labels.insert("com.docker.compose.project".into(), "p".into());
        labels.insert("com.docker.compose.service".into(), "web".into());
        PsEntry {
            id: "0123456789abcdef".repeat(4),
            name: "p-web-1".into(),
            image: "busybox".into(),
            command: crate::stack::docker_command(&[
                "sh".into(),
                "-c".into(),
                "echo hello && sleep 1000".into(),
            ]),
            project: "p".into(),
            service: "web".into(),
            created: 1_700_000_000,
            state: "running".into(),
            status: "Up 3 seconds (health: starting)".into(),
            health: "starting".into(),
            exit_code: 0,
            publishers: vec![],
            ports: String::new(),
            labels,
            mounts: vec!["p_data".into(), "/srv/some/long/bind/source".into()],
            local_volumes: 1,
            networks: vec!["p_default".into()],
        }
    }

    #[test]
    fn the_json_row_has_docker_s_keys_in_docker_s_order() {
        // Docker Compose v2.27+: `docker compose ps --format json`, one object per line, keys
        // sorted (Go marshals its map), `Publishers` `null` when none (issue 17; `[]` from v2.27.2,
        // see docker/compose 250c3112b).
        let r = row(&entry(), true, 1_700_000_003);
        let keys: Vec<&str> = r.keys().map(String::as_str).collect();
        let expected: Vec<&str> = SCHEMA.fields.iter().map(|(f, _)| *f).collect();
        assert_eq!(keys, expected);
        let line = object_json(&r);
        assert_eq!(
            line,
            "{\"Command\":\"\\\"sh -c 'echo hello \\u0026…\\\"\",\
             \"CreatedAt\":\"2023-11-14 22:13:20 +0000 UTC\",\"ExitCode\":0,\
             \"Health\":\"starting\",\"ID\":\"0123456789ab\",\"Image\":\"busybox\",\
             \"Labels\":\"com.docker.compose.project=p,com.docker.compose.service=web\",\
             \"LocalVolumes\":\"1\",\"Mounts\":\"p_data,/srv/some/long…\",\"Name\":\"p-web-1\",\
             \"Names\":\"p-web-1\",\"Networks\":\"p_default\",\"Ports\":\"\",\"Project\":\"p\",\
             \"Publishers\":null,\"RunningFor\":\"3 seconds ago\",\"Service\":\"web\",\
             \"Size\":\"0B\",\"State\":\"running\",\
             \"Status\":\"Up 3 seconds (health: starting)\"}"
        );
    }

    #[test]
    fn no_trunc_keeps_the_full_id_command_and_mounts() {
        let r = row(&entry(), false, 1_700_000_003);
        assert_eq!(r["ID"], "0123456789abcdef".repeat(4));
        assert_eq!(r["Command"], "\"sh -c 'echo hello && sleep 1000'\"");
        assert_eq!(r["Mounts"], "p_data,/srv/some/long/bind/source");
    }

    #[test]
    fn the_command_is_cut_at_twenty_characters_then_quoted_as_docker_does() {
        // docker/cli: strconv.Quote(formatter.Ellipsis(command, 20)).
        assert_eq!(go_quote(&ellipsis("sleep 1000", 20)), "\"sleep 1000\"");
        assert_eq!(
            go_quote(&ellipsis(
                "/docker-entrypoint.sh nginx -g 'daemon off;'",
                20
            )),
            "\"/docker-entrypoint.…\""
        );
        assert_eq!(go_quote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\x01\"");
    }

    #[test]
    fn the_default_table_is_docker_s() {
        let rows = vec![row(&entry(), true, 1_700_000_003)];
        let t: Template = DEFAULT_TABLE.parse().expect("parses");
        let mut out = Vec::new();
        t.render(&mut out, &SCHEMA, &rows, MIN_WIDTH)
            .expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        let mut lines = text.lines();
        assert_eq!(
            lines.next().expect("header").trim_end(),
            "NAME      IMAGE     COMMAND                  SERVICE   CREATED         STATUS                            PORTS"
        );
        assert_eq!(
            lines.next().expect("row").trim_end(),
            "p-web-1   busybox   \"sh -c 'echo hello &…\"   web       3 seconds ago   Up 3 seconds (health: starting)"
        );
    }

    fn parse(args: &[&str]) -> PsArgs {
        let cli = Cli::try_parse_from(std::iter::once("compose").chain(args.iter().copied()))
            .expect("parses");
        match cli.command {
            Command::Ps(a) => a,
            other => panic!("not ps: {other:?}"),
        }
    }

    #[test]
    fn flags_parse_as_docker_compose_s() {
        let a = parse(&["ps"]);
        assert!(a.orphans && !a.no_trunc && a.format == "table");
        let a = parse(&[
            "ps",
            "--orphans=false",
            "--no-trunc",
            "--format",
            "{{.ID}}",
            "-a",
        ]);
        assert!(!a.orphans && a.no_trunc && a.all && a.format == "{{.ID}}");
        assert!(parse(&["ps", "--orphans"]).orphans);
        let a = parse(&[
            "ps",
            "-q",
            "--status",
            "running",
            "--filter",
            "status=exited",
            "web",
        ]);
        assert!(a.quiet);
        assert_eq!(a.status, ["running"]);
        assert_eq!(a.service_names, ["web"]);
    }

    #[test]
    fn filters_are_docker_compose_s() {
        assert_eq!(filter_status("status=running").expect("status"), "running");
        let err = filter_status("status").expect_err("no value").to_string();
        assert_eq!(err, "arguments to --filter should be in form KEY=VAL");
        let err = filter_status("name=web").expect_err("unknown").to_string();
        assert_eq!(err, "unknown filter name");
    }
}
