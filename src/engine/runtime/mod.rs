//! Creating and running containers: the process that sets a container up inside its new
//! namespaces, its root filesystem and mounts, and what is applied just before the user's
//! command starts (user, capabilities, seccomp).
pub mod caps;
pub mod container;
pub mod error;
pub mod etc;
pub mod exec;
pub mod fds;
pub mod host_devices;
pub mod host_files;
pub mod init;
pub mod masks;
pub mod mounter;
#[cfg(test)]
mod mounter_fake;
pub mod namespaces;
pub mod net;
pub mod process;
pub mod pty;
pub mod rootfs;
pub mod seccomp;
pub mod security;
pub mod signals;
pub mod stdio;
pub mod sysctl;
pub mod tmpfs;
pub mod user;
pub mod volume;
pub mod written_files;
