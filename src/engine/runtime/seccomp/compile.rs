//! Compiling a profile into a classic BPF program for the native architecture: which rules
//! apply to the container (capabilities, architecture, kernel), how conditions compare (64 or
//! 32 bits), and how seccompiler's one-action blocks are chained into one program.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::arg_width;
use super::default::default_profile;
use super::error::SeccompError;
use super::install::BPF_MAXINSNS;
use super::profile::{load_profile, ArgCondition, Profile, SyscallRule};
use super::syscalls::syscall_number;
use crate::engine::spec;

/// What a profile is compiled for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The container's bounding set, names with or without `CAP_`.
    pub capabilities: Vec<String>,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

impl Target {
    /// For the running kernel.
    pub fn running(capabilities: &[String]) -> Target {
        let uname = rustix::system::uname();
        let release = uname.release().to_string_lossy();
        Target {
            capabilities: capabilities.to_vec(),
            kernel: parse_kernel(&release).unwrap_or((0, 0)),
        }
    }
}

/// `5.15.0-91-generic` -> (5, 15).
fn parse_kernel(text: &str) -> Option<(u32, u32)> {
    let mut it = text.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next().unwrap_or("0").parse().unwrap_or(0);
    Some((major, minor))
}

/// Docker's name for the architecture this binary runs on.
pub(super) fn native_arch() -> Result<(&'static str, TargetArch), SeccompError> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(("amd64", TargetArch::x86_64)),
        "aarch64" => Ok(("arm64", TargetArch::aarch64)),
        other => Err(SeccompError::Arch(other)),
    }
}

fn action(name: &str, errno: Option<u32>) -> Result<SeccompAction, SeccompError> {
    let eperm = libc::EPERM as u32;
    Ok(match name {
        "SCMP_ACT_ALLOW" => SeccompAction::Allow,
        "SCMP_ACT_ERRNO" => SeccompAction::Errno(errno.unwrap_or(eperm)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction::Trap,
        "SCMP_ACT_TRACE" => SeccompAction::Trace(errno.unwrap_or(eperm)),
        "SCMP_ACT_LOG" => SeccompAction::Log,
        other => return Err(SeccompError::Action(other.to_string())),
    })
}

fn condition(c: &ArgCondition, syscall: &str) -> Result<SeccompCondition, SeccompError> {
    let op = match c.op.as_str() {
        "SCMP_CMP_EQ" => SeccompCmpOp::Eq,
        "SCMP_CMP_NE" => SeccompCmpOp::Ne,
        "SCMP_CMP_LT" => SeccompCmpOp::Lt,
        "SCMP_CMP_LE" => SeccompCmpOp::Le,
        "SCMP_CMP_GE" => SeccompCmpOp::Ge,
        "SCMP_CMP_GT" => SeccompCmpOp::Gt,
        "SCMP_CMP_MASKED_EQ" => SeccompCmpOp::MaskedEq(c.value),
        other => return Err(SeccompError::Op(other.to_string())),
    };
    let value = if c.op == "SCMP_CMP_MASKED_EQ" {
        c.value_two
    } else {
        c.value
    };
    let rule_err = |message: String| SeccompError::Rule {
        name: syscall.to_string(),
        message,
    };
    if !arg_width::is_32bit(syscall, c.index) {
        return SeccompCondition::new(c.index, SeccompCmpArgLen::Qword, op, value)
            .map_err(|e| rule_err(e.to_string()));
    }
    // The kernel reads only the low 32 bits: so does the comparison. A value must say something
    // about those bits alone: it fits in 32 bits, or is a negative int sign-extended to 64.
    let low = |v: u64, what: &str| {
        low_32_bits(v).ok_or_else(|| {
            rule_err(format!(
                "argument {} is 32 bits wide, but the {what} {v:#x} has bits above the low 32",
                c.index
            ))
        })
    };
    let op = match op {
        SeccompCmpOp::MaskedEq(mask) => SeccompCmpOp::MaskedEq(low(mask, "mask")?),
        other => other,
    };
    SeccompCondition::new(c.index, SeccompCmpArgLen::Dword, op, low(value, "value")?)
        .map_err(|e| rule_err(e.to_string()))
}

/// `v` as a 32-bit value: itself when it fits, its low half when it is a sign-extended negative
/// int (`0xffff_ffff_8000_0000` and above), `None` otherwise.
fn low_32_bits(v: u64) -> Option<u64> {
    if v <= u64::from(u32::MAX) {
        Some(v)
    } else if v >= 0xffff_ffff_8000_0000 {
        Some(v & u64::from(u32::MAX))
    } else {
        None
    }
}

fn cap_name(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// Whether a rule applies to `target` on `arch` (see the module documentation).
pub(super) fn applies(
    rule: &SyscallRule,
    target: &Target,
    arch: &str,
) -> Result<bool, SeccompError> {
    let caps: Vec<String> = target.capabilities.iter().map(|c| cap_name(c)).collect();
    let has = |c: &String| caps.contains(&cap_name(c));
    let kernel_at_least = |v: &str| -> Result<bool, SeccompError> {
        let min = parse_kernel(v).ok_or_else(|| SeccompError::Kernel(v.to_string()))?;
        Ok(target.kernel >= min)
    };
    let inc = &rule.includes;
    if !inc.caps.iter().all(has)
        || (!inc.arches.is_empty() && !inc.arches.iter().any(|a| a == arch))
    {
        return Ok(false);
    }
    if let Some(v) = &inc.min_kernel {
        if !kernel_at_least(v)? {
            return Ok(false);
        }
    }
    let exc = &rule.excludes;
    if exc.caps.iter().any(has) || exc.arches.iter().any(|a| a == arch) {
        return Ok(false);
    }
    if let Some(v) = &exc.min_kernel {
        if kernel_at_least(v)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A syscall's rules within one action block; `None` allows it whatever its arguments.
type Chain = Option<Vec<SeccompRule>>;

/// Compiles `profile` for the native architecture and `target`.
pub fn compile(profile: &Profile, target: &Target) -> Result<spec::SeccompFilter, SeccompError> {
    let (arch_name, arch) = native_arch()?;
    let default = action(&profile.default_action, profile.default_errno_ret)?;

    // Action blocks in order of first appearance.
    let mut blocks: Vec<(SeccompAction, BTreeMap<i64, Chain>)> = Vec::new();
    for rule in &profile.syscalls {
        let act = action(&rule.action, rule.errno_ret)?;
        if act == default || !applies(rule, target, arch_name)? {
            continue;
        }
        let block = match blocks.iter().position(|(a, _)| *a == act) {
            Some(i) => &mut blocks[i].1,
            None => {
                blocks.push((act, BTreeMap::new()));
                &mut blocks.last_mut().expect("just pushed").1
            }
        };
        let all_names = rule.names.iter().chain(rule.name.iter());
        for name in all_names {
            let Some(nr) = syscall_number(name) else {
                continue;
            };
            let conds = rule
                .args
                .iter()
                .map(|c| condition(c, name))
                .collect::<Result<Vec<_>, _>>()?;
            let mut indexes: Vec<u8> = rule.args.iter().map(|c| c.index).collect();
            indexes.sort_unstable();
            let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
            let new_rules: Chain = if conds.is_empty() {
                None
            } else if repeated {
                Some(
                    conds
                        .into_iter()
                        .map(|c| SeccompRule::new(vec![c]))
                        .collect::<Result<_, _>>()
                        .map_err(|e| SeccompError::Compile(e.to_string()))?,
                )
            } else {
                Some(vec![
                    SeccompRule::new(conds).map_err(|e| SeccompError::Compile(e.to_string()))?
                ])
            };
            match (block.get_mut(&nr), new_rules) {
                (None, chain) => {
                    block.insert(nr, chain);
                }
                (Some(existing), None) => *existing = None,
                (Some(Some(existing)), Some(more)) => existing.extend(more),
                (Some(None), Some(_)) => {}
            }
        }
    }

    // The "no match" return of a block, rewritten into a jump to the next block. It must differ
    // from every real action.
    let sentinel = (0xF000u32..)
        .map(SeccompAction::Trace)
        .find(|s| *s != default && blocks.iter().all(|(a, _)| a != s))
        .expect("fewer actions than sentinel candidates");
    let sentinel_k = u32::from(sentinel.clone());
    let ret_k = BPF_RET | BPF_K;

    let mut program: Vec<(u16, u8, u8, u32)> = Vec::new();
    for (i, (act, rules)) in blocks.into_iter().enumerate() {
        let rules: BTreeMap<i64, Vec<SeccompRule>> = rules
            .into_iter()
            .map(|(nr, chain)| (nr, chain.unwrap_or_default()))
            .collect();
        let filter = SeccompFilter::new(rules, sentinel.clone(), act, arch)
            .map_err(|e| SeccompError::Compile(e.to_string()))?;
        let bpf: BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| SeccompError::Compile(e.to_string()))?;
        // Every block starts with the same 3-instruction architecture check: keep the first.
        let skip = if i == 0 { 0 } else { ARCH_CHECK_LEN };
        let block: Vec<_> = bpf[skip..]
            .iter()
            .map(|f| (f.code, f.jt, f.jf, f.k))
            .collect();
        let start = program.len();
        let end = start + block.len();
        for (j, mut ins) in block.into_iter().enumerate() {
            if ins.0 == ret_k && ins.3 == sentinel_k {
                let pc = start + j;
                ins = (BPF_JMP | BPF_JA, 0, 0, (end - pc - 1) as u32);
            }
            program.push(ins);
        }
    }
    if program.is_empty() {
        // No rule applies: the architecture check, then the default action.
        let bpf: BpfProgram = SeccompFilter::new(BTreeMap::new(), default.clone(), sentinel, arch)
            .and_then(|f| f.try_into())
            .map_err(|e| SeccompError::Compile(e.to_string()))?;
        program.extend(
            bpf.iter()
                .take(ARCH_CHECK_LEN)
                .map(|f| (f.code, f.jt, f.jf, f.k)),
        );
    }
    program.push((ret_k, 0, 0, u32::from(default)));
    if program.len() > BPF_MAXINSNS {
        return Err(SeccompError::Compile(format!(
            "{} instructions, the kernel accepts at most {BPF_MAXINSNS}",
            program.len()
        )));
    }
    Ok(spec::SeccompFilter {
        instructions: program,
    })
}

/// Docker's `security_opt` seccomp choice.
#[derive(Debug, Clone, PartialEq)]
pub enum SeccompChoice {
    /// No `seccomp=` option: Docker's default profile (none when privileged).
    Default,
    /// `seccomp=unconfined`.
    Unconfined,
    /// `seccomp=/path/profile.json`.
    File(std::path::PathBuf),
}

/// The filter for a container: `None` when unconfined or privileged (Docker applies no seccomp
/// to a privileged container, whatever profile is given).
pub fn filter_for(
    choice: &SeccompChoice,
    privileged: bool,
    target: &Target,
) -> Result<Option<spec::SeccompFilter>, SeccompError> {
    if privileged {
        return Ok(None);
    }
    let profile = match choice {
        SeccompChoice::Unconfined => return Ok(None),
        SeccompChoice::Default => default_profile(),
        SeccompChoice::File(path) => load_profile(path)?,
    };
    compile(&profile, target).map(Some)
}

pub(super) const BPF_RET: u16 = 0x06;
pub(super) const BPF_K: u16 = 0x00;
const BPF_JMP: u16 = 0x05;
const BPF_JA: u16 = 0x00;
/// seccompiler's architecture check: load arch, compare, kill.
const ARCH_CHECK_LEN: usize = 3;
