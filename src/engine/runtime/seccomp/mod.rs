//! Seccomp: Docker's default profile as Rust data, Docker's JSON profile format
//! (`security_opt: ["seccomp=/path/profile.json"]`), and compiling either into a BPF program
//! ([`spec::SeccompFilter`]) for the architecture this binary runs on, plus [`install`].
//!
//! The meaning follows Docker (moby `profiles/seccomp`) and runc:
//! - a rule applies only when its `includes` hold (all of its capabilities are in the
//!   container's bounding set, the architecture is one of its `arches`, the kernel is at least
//!   `minKernel`) and its `excludes` do not (none of its capabilities, not one of its arches,
//!   kernel below `minKernel`); so CAP_SYS_ADMIN enables `mount`, `unshare`, `clone` with
//!   namespace flags..., CAP_SYS_PTRACE enables `ptrace`, and so on;
//! - the conditions of one rule are ANDed, except when two of them test the same argument: then
//!   each becomes a rule of its own (ORed), as runc does;
//! - a rule whose action is the default action is redundant and skipped; a syscall name the
//!   architecture does not have (`chown32` on x86_64) is skipped.
//!
//! seccompiler gives one program one "match" action; a profile has several (ALLOW, and
//! ERRNO(ENOSYS) for `clone3` in the default one). So each action gets its own seccompiler block,
//! whose "no match" return is rewritten into a jump to the next block; the last block falls into
//! the profile's default action. Blocks are in the order their action first appears.
//!
//! Limits: the program is for the native architecture only (x86_64 or aarch64); a 32-bit
//! (x86/x32/arm) syscall from the container kills the process, where Docker's profile would
//! also filter the compat architectures. `SCMP_ACT_NOTIFY` is not supported.
//!
//! Argument comparisons are 64-bit, as libseccomp's, except for the arguments the kernel
//! declares 32-bit ([`arg_width`]): those compare their low 32 bits, the only ones the kernel
//! reads, so that `socket(AF_VSOCK | 1 << 32, ...)` cannot pass a rule refusing AF_VSOCK.
//!
//! The folder holds one stage each: [`profile`] (the JSON format), [`default`] (Docker's
//! profile as data), [`compile`] (rules to BPF), [`install`] (the program into the kernel), with
//! [`syscalls`] (name to number) and `arg_width` (32-bit arguments) as the tables compiling
//! reads.

mod arg_width;
pub mod compile;
pub mod default;
pub mod error;
pub mod install;
pub mod profile;
pub mod syscalls;
#[cfg(test)]
mod tests;

pub use compile::{compile, filter_for, SeccompChoice, Target};
pub use default::default_profile;
pub use error::SeccompError;
pub use install::{install, install_prepared, prepare};
pub use profile::{load_profile, parse_profile, Profile};
pub use syscalls::syscall_number;
