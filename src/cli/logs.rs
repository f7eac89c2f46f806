//! `logs`: the containers' json-file logs, merged in time order.

use anyhow::Context;
use clap::Args;
use indexmap::IndexMap;

use super::lifecycle::project_name;
use super::GlobalOptions;
use crate::stack;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, value_name = "N")]
    pub tail: Option<String>,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Services
    pub services: Vec<String>,
}

pub fn run(global: &GlobalOptions, args: &LogsArgs) -> anyhow::Result<i32> {
    let name = project_name(global)?;
    let mut lines = stack::logs(&global.root, &name, &args.services)?;
    if let Some(t) = args.tail.as_deref().filter(|t| *t != "all") {
        let n: usize = t
            .parse()
            .with_context(|| format!("--tail {t}: expected a number or \"all\""))?;
        // The last n lines of each container.
        let mut count: IndexMap<(String, u32), usize> = IndexMap::new();
        for (s, i, _) in lines.iter().rev() {
            *count.entry((s.clone(), *i)).or_default() += 1;
        }
        let mut seen: IndexMap<(String, u32), usize> = IndexMap::new();
        lines.retain(|(s, i, _)| {
            let total = count[&(s.clone(), *i)];
            let k = seen.entry((s.clone(), *i)).or_default();
            *k += 1;
            *k + n > total
        });
    }
    let width = lines
        .iter()
        .map(|(s, i, _)| s.len() + 1 + i.to_string().len())
        .max()
        .unwrap_or(0);
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (s, i, l) in &lines {
        let text = l.log.strip_suffix('\n').unwrap_or(&l.log);
        let ts = if args.timestamps {
            format!("{} ", l.time)
        } else {
            String::new()
        };
        if args.no_log_prefix {
            writeln!(out, "{ts}{text}")?;
        } else {
            let prefix = format!("{s}-{i}");
            writeln!(out, "{prefix:<width$}  | {ts}{text}")?;
        }
    }
    Ok(0)
}
