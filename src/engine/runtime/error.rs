//! Errors of container setup. The setup runs in a separate process inside the container's
//! namespaces; when a step fails there, it sends this error back to the parent over a pipe so the
//! user reads which step, which path and which errno — never a bare "exit status 1".

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The setup step that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Spawn,
    Handshake,
    Namespaces,
    Hostname,
    Rootfs,
    Mounts,
    Devices,
    PivotRoot,
    MaskedPaths,
    ReadonlyPaths,
    Network,
    Sysctl,
    Rlimits,
    WorkingDir,
    User,
    Capabilities,
    Seccomp,
    Exec,
    Cgroups,
    State,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Step::Spawn => "starting the container process",
            Step::Handshake => "handing the configuration to the container",
            Step::Namespaces => "entering namespaces",
            Step::Hostname => "setting the hostname",
            Step::Rootfs => "mounting the root filesystem",
            Step::Mounts => "mounting",
            Step::Devices => "creating devices",
            Step::PivotRoot => "switching to the container root",
            Step::MaskedPaths => "masking paths",
            Step::ReadonlyPaths => "making paths read-only",
            Step::Network => "setting up the network",
            Step::Sysctl => "setting sysctls",
            Step::Rlimits => "setting ulimits",
            Step::WorkingDir => "entering the working directory",
            Step::User => "switching user",
            Step::Capabilities => "setting capabilities",
            Step::Seccomp => "installing the seccomp filter",
            Step::Exec => "starting the command",
            Step::Cgroups => "setting up cgroups",
            Step::State => "recording container state",
        };
        f.write_str(s)
    }
}

/// A failed setup step: what, where, and the OS error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct InitError {
    pub step: Step,
    pub path: Option<String>,
    pub errno: Option<i32>,
    pub message: String,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.step)?;
        if let Some(p) = &self.path {
            write!(f, " {p}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl InitError {
    /// The exit status a failed start gives, as Docker's: 127 when the command cannot be found,
    /// 126 when it cannot be executed, 125 when the container could not be set up.
    pub fn exit_code(&self) -> i32 {
        match (self.step, self.errno) {
            (Step::Exec, Some(libc::ENOENT)) => 127,
            (Step::Exec, _) => 126,
            _ => 125,
        }
    }

    pub fn sys(step: Step, path: Option<&Path>, err: rustix::io::Errno) -> Self {
        InitError {
            step,
            path: path.map(|p| p.display().to_string()),
            errno: Some(err.raw_os_error()),
            message: std::io::Error::from(err).to_string(),
        }
    }

    pub fn io(step: Step, path: Option<&Path>, err: &std::io::Error) -> Self {
        InitError {
            step,
            path: path.map(|p| p.display().to_string()),
            errno: err.raw_os_error(),
            message: err.to_string(),
        }
    }

    pub fn msg(step: Step, path: Option<&Path>, message: impl Into<String>) -> Self {
        InitError {
            step,
            path: path.map(|p| p.display().to_string()),
            errno: None,
            message: message.into(),
        }
    }
}
