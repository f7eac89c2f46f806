//! Attached `up` from the top: which services are stopped, watched and shown (Docker Compose's
//! `--attach`, `--no-attach`, `attach: false`, `--no-deps`), starting them as `up -d` does,
//! then following them ([`super::attach::attached_up`]) to Docker Compose's exit code.

use std::io::Write;

use super::attach::{
    attached_up, catch_interrupts, now_nanos, AttachOptions, Cascade, FormatOptions,
};
use super::{
    expectations, invalid, service_levels, start_order, up, Ctx, Reporter, StackError, UpOptions,
};
use crate::model::types::resources::Project;

/// The flags of an attached `up`, beside those of `up` itself ([`UpOptions`]).
#[derive(Debug, Clone, Default)]
pub struct AttachRequest {
    /// `--attach`: only these services' output is shown.
    pub attach: Vec<String>,
    /// `--no-attach`: these services' output is not shown.
    pub no_attach: Vec<String>,
    /// `--attach-dependencies`: the named services' dependencies are shown too.
    pub attach_dependencies: bool,
    /// `--exit-code-from`: implies `--abort-on-container-exit`.
    pub exit_code_from: Option<String>,
    pub abort_on_container_exit: bool,
    pub abort_on_container_failure: bool,
    pub format: FormatOptions,
}

/// The attached `up` (no `-d`): starts the project as `up -d` does (reporting to `rep`), then
/// streams the attached services' output to `out` until they have all exited and returns
/// Docker Compose's exit code.
pub fn up_attached(
    ctx: &Ctx,
    project: &Project,
    opts: &UpOptions,
    req: &AttachRequest,
    rep: &mut dyn Reporter,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, StackError> {
    if req.abort_on_container_exit && req.abort_on_container_failure {
        return Err(invalid(
            "--abort-on-container-failure and --abort-on-container-exit are incompatible",
        ));
    }
    let known = |s: &String| project.services.contains_key(s);
    for s in req
        .attach
        .iter()
        .chain(&req.no_attach)
        .chain(&req.exit_code_from)
    {
        if !known(s) {
            return Err(invalid(format!("no such service: {s}")));
        }
    }
    let name = project.name.clone().unwrap_or_default();
    // The services `up` starts: stopped on Ctrl-C or an abort.
    let mut scope = start_order(project, &opts.services)?;
    if opts.no_deps && !opts.services.is_empty() {
        scope.retain(|s| opts.services.contains(s));
    }
    // Attached: `--attach`, else the services asked for (their dependencies too with
    // `--attach-dependencies`), else every service that does not say `attach: false`; minus
    // `--no-attach`.
    let mut attached: Vec<String> = if !req.attach.is_empty() {
        req.attach.clone()
    } else if !opts.services.is_empty() && !req.attach_dependencies {
        opts.services.clone()
    } else {
        scope
            .iter()
            .filter(|s| project.services[s.as_str()].attach != Some(false))
            .cloned()
            .collect()
    };
    attached.retain(|s| !req.no_attach.contains(s));
    let cascade = if req.abort_on_container_exit || req.exit_code_from.is_some() {
        Cascade::Exit
    } else if req.abort_on_container_failure {
        Cascade::Failure
    } else {
        Cascade::Ignore
    };
    // Caught before the containers start, so an interrupt during start-up stops them too.
    let interrupts = catch_interrupts()?;
    let since = now_nanos();
    let started = up(ctx, project, opts, rep);
    // The progress view ends before the containers' output begins, as Docker Compose's does.
    rep.finish();
    match started {
        // `attached_up` sees the interrupt and stops what was started.
        Ok(()) | Err(StackError::Interrupted) => {}
        Err(e) => return Err(e),
    }
    let one_shots = expectations(project, &scope).one_shots;
    let aopts = AttachOptions {
        attach: attached,
        scope,
        cascade,
        exit_code_from: req.exit_code_from.clone(),
        one_shots,
        timeout: opts.timeout,
        levels: service_levels(project),
        since,
        format: req.format,
    };
    Ok(attached_up(&ctx.root, &name, &aopts, interrupts, out, err)?)
}
