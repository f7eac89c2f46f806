//! Regression tests for the container-to-host escapes closed in the security review (issue 9).
//! Each test performs the attack it is named after, against real containers where the attack
//! needs them, and fails if the attack succeeds. Engine tests need root and busybox (they print
//! why they skip otherwise); each has its own state root, project, cgroup parent and stand-in
//! host network namespace, and the shared fixture checks that nothing is left behind.
//!
//! One module per class of attack:
//! - `volumes`: volume pre-fill through symlinks, volume `subpath` redirection;
//! - `process`: the host binary reached from a container (CVE-2019-5736), leaked descriptors
//!   (CVE-2024-21626 class), sysctls, the masking device (CVE-2025-31133);
//! - `state_root`: other local users reading or executing what lies under `--root`;
//! - `cp`: `compose cp` racing a container's symlink swap (CVE-2018-15664 class);
//! - `seccomp`: io_uring and 32-bit argument comparison;
//! - `network`: loopback-published ports and the host's 127.0.0.1 (CVE-2020-8558 pattern);
//! - `layers`: hostile image layers (whiteouts, overlay xattrs, symlinked parents).

mod support {
    #[path = "../support/engine.rs"]
    pub mod engine;
}

#[path = "security/cp.rs"]
mod cp;
#[path = "security/layers.rs"]
mod layers;
#[path = "security/network.rs"]
mod network;
#[path = "security/process.rs"]
mod process;
#[path = "security/seccomp.rs"]
mod seccomp;
#[path = "security/state_root.rs"]
mod state_root;
#[path = "security/volumes.rs"]
mod volumes;
