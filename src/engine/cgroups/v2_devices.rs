//! Device access control on cgroup v2: the kernel has no `devices` controller there; instead a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the cgroup decides every mknod, open for
//! read and open for write of a device node by the cgroup's tasks (runc and crun do the same).
//!
//! The program is assembled here by hand from the rules the v1 backend writes to
//! `devices.deny` / `devices.allow` ([`DEFAULT_DEVICE_RULES`] plus `Resources::device_rules`),
//! with v1's semantics: everything is denied unless a rule allows it; rules with the same type
//! and numbers merge their access; an `a` rule (`a *:* rwm`, privileged) allows everything,
//! whatever its access field says, as the kernel's v1 `devices.allow` does. Since every rule
//! allows, their order does not change the result: the program tests them one after another
//! and returns "allow" at the first that covers the request, "deny" after the last.
//!
//! Loading and attaching go through the `bpf(2)` syscall (libc; rustix has no wrapper). A
//! program attached to a cgroup stays there after its file descriptor is closed, and goes when
//! the cgroup is removed. Attachment uses `BPF_F_ALLOW_MULTI` (programs of ancestors run too,
//! and the request must pass all of them, as with nested v1 cgroups); a new rule set replaces
//! the old program atomically with `BPF_F_REPLACE` (Linux ≥ 5.6), or by attaching the new one
//! and then detaching the others, which are ours: the container's cgroup belongs to us alone.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::convert::{invalid, DeviceRule, DEFAULT_DEVICE_RULES};
use super::Result;
use crate::engine::spec::Resources;

// bpf(2) commands, program and attach types and flags (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: u32 = 5;
const BPF_PROG_ATTACH: u32 = 8;
const BPF_PROG_DETACH: u32 = 9;
const BPF_PROG_GET_FD_BY_ID: u32 = 13;
const BPF_PROG_QUERY: u32 = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
const BPF_F_REPLACE: u32 = 1 << 2;

/// `struct bpf_cgroup_dev_ctx`: `access_type` is `(access << 16) | type`.
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

// Instruction encoding (classes, operations, sources, sizes, modes).
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

/// License declared to the kernel: it only matters for GPL-only helpers, which the program
/// does not call; this is the crate's license.
const LICENSE: &[u8] = b"Apache-2.0\0";
/// Name shown by `bpftool prog` (at most 15 bytes: letters, digits, `_`, `.`).
const PROG_NAME: &[u8] = b"compose_devices";
/// Verifier log size when a load fails and is retried to explain why.
const LOG_SIZE: usize = 64 * 1024;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// Destination register in the low nibble, source in the high one (little-endian layout of
    /// the kernel's bit fields; swapped on big-endian hosts).
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        let regs = if cfg!(target_endian = "little") {
            (src << 4) | (dst & 0x0f)
        } else {
            (dst << 4) | (src & 0x0f)
        };
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    /// `dst = *(u32 *)(src + off)`
    pub const fn load_word(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
    }
    /// `dst = (u32) dst & imm`
    pub const fn and32(dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm)
    }
    /// `dst = (u32) dst >> imm`
    pub const fn rsh32(dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm)
    }
    /// `dst = (u32) src`
    pub const fn mov32_reg(dst: u8, src: u8) -> Insn {
        Insn::new(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
    }
    /// `dst = (u32) imm`
    pub const fn mov32(dst: u8, imm: i32) -> Insn {
        Insn::new(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm)
    }
    /// `if dst != imm goto pc + 1 + off`
    pub const fn jne(dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
    }
    /// `if dst != src goto pc + 1 + off`
    pub const fn jne_reg(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0)
    }
    /// `return r0`
    pub const fn exit() -> Insn {
        Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
    }
}

/// An allowed device class after merging: block or char, numbers (`None` = any) and the
/// allowed accesses (`ACC_*` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allow {
    pub dev_type: u32,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
}

/// What a program enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePolicy {
    /// An `a` rule was given (privileged): every device, every access.
    AllowAll,
    /// Only these, everything else denied (an empty list denies every device).
    AllowOnly(Vec<Allow>),
}

/// A compiled device filter: the policy and the program that enforces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFilter {
    policy: DevicePolicy,
    insns: Vec<Insn>,
}

impl DeviceFilter {
    /// The filter for a container: Docker's default devices plus `resources.device_rules`.
    pub fn for_resources(resources: &Resources) -> Result<DeviceFilter> {
        let mut rules =
            Vec::with_capacity(DEFAULT_DEVICE_RULES.len() + resources.device_rules.len());
        for rule in DEFAULT_DEVICE_RULES.iter().copied() {
            rules.push(DeviceRule::parse(rule)?);
        }
        for rule in &resources.device_rules {
            rules.push(DeviceRule::parse(rule)?);
        }
        DeviceFilter::from_rules(&rules)
    }

    /// The filter allowing exactly `rules` (v1 semantics, see the module docs).
    pub fn from_rules(rules: &[DeviceRule]) -> Result<DeviceFilter> {
        let policy = policy(rules)?;
        let insns = assemble(&policy);
        Ok(DeviceFilter { policy, insns })
    }

    pub fn policy(&self) -> &DevicePolicy {
        &self.policy
    }

    pub fn instructions(&self) -> &[Insn] {
        &self.insns
    }

    /// One line for logs and the test double: `allow all devices` or `allow N rules`.
    pub fn describe(&self) -> String {
        match &self.policy {
            DevicePolicy::AllowAll => "allow all devices".to_string(),
            DevicePolicy::AllowOnly(list) => format!("allow {} rules", list.len()),
        }
    }
}

/// Applies v1 semantics to a list of allow rules: any `a` rule allows all; identical
/// (type, major, minor) merge their access; first occurrence keeps its place.
fn policy(rules: &[DeviceRule]) -> Result<DevicePolicy> {
    let mut list: Vec<Allow> = Vec::new();
    for rule in rules {
        let dev_type = match rule.kind {
            'a' => return Ok(DevicePolicy::AllowAll),
            'b' => DEV_BLOCK,
            'c' => DEV_CHAR,
            _ => return Err(invalid("device rule", rule.to_v1(), "unknown type")),
        };
        // Device numbers are compared as 32-bit immediates, which the jump sign-extends:
        // numbers ≥ 2^31 could never match (the kernel's majors have 12 bits, minors 20).
        for n in [rule.major, rule.minor].into_iter().flatten() {
            if i32::try_from(n).is_err() {
                return Err(invalid(
                    "device rule",
                    rule.to_v1(),
                    "device numbers above 2147483647 do not exist",
                ));
            }
        }
        let mut access = 0;
        for c in rule.access.chars() {
            access |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => return Err(invalid("device rule", rule.to_v1(), "unknown access")),
            };
        }
        if access == 0 {
            continue;
        }
        match list
            .iter_mut()
            .find(|a| a.dev_type == dev_type && a.major == rule.major && a.minor == rule.minor)
        {
            Some(existing) => existing.access |= access,
            None => list.push(Allow {
                dev_type,
                major: rule.major,
                minor: rule.minor,
                access,
            }),
        }
    }
    Ok(DevicePolicy::AllowOnly(list))
}

// Registers: r1 = context on entry; r2 = device type, r3 = requested access, r4 = major,
// r5 = minor; r1 is reused as scratch once read; r0 = verdict (1 allow, 0 deny).
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// The program: a prologue that unpacks the context, one block per allowed class that jumps
/// to the next block on any mismatch and returns 1 at its end, and a final `return 0`.
fn assemble(policy: &DevicePolicy) -> Vec<Insn> {
    let list = match policy {
        DevicePolicy::AllowAll => return vec![Insn::mov32(R0, 1), Insn::exit()],
        DevicePolicy::AllowOnly(list) if list.is_empty() => {
            return vec![Insn::mov32(R0, 0), Insn::exit()]
        }
        DevicePolicy::AllowOnly(list) => list,
    };
    let mut p = vec![
        Insn::load_word(R2, R1, 0),
        Insn::and32(R2, 0xffff),
        Insn::load_word(R3, R1, 0),
        Insn::rsh32(R3, 16),
        Insn::load_word(R4, R1, 4),
        Insn::load_word(R5, R1, 8),
    ];
    for allow in list {
        let mut checks: Vec<(u8, i32)> = Vec::with_capacity(3);
        let partial_access = allow.access != ACC_ALL;
        if let Some(major) = allow.major {
            checks.push((R4, major as i32));
        }
        if let Some(minor) = allow.minor {
            checks.push((R5, minor as i32));
        }
        // The block: type check, [3 access instructions], number checks, mov + exit.
        let len = 1 + if partial_access { 3 } else { 0 } + checks.len() + 2;
        let start = p.len();
        // Offset of the next block from the jump at `pc`.
        let skip = |pc: usize| (start + len - pc - 1) as i16;
        p.push(Insn::jne(R2, allow.dev_type as i32, skip(p.len())));
        if partial_access {
            // Requested ⊆ allowed: (requested & allowed) == requested.
            p.push(Insn::mov32_reg(R1, R3));
            p.push(Insn::and32(R1, allow.access as i32));
            p.push(Insn::jne_reg(R1, R3, skip(p.len())));
        }
        for (reg, value) in checks {
            p.push(Insn::jne(reg, value, skip(p.len())));
        }
        p.push(Insn::mov32(R0, 1));
        p.push(Insn::exit());
        debug_assert_eq!(p.len(), start + len);
    }
    p.push(Insn::mov32(R0, 0));
    p.push(Insn::exit());
    p
}

/// A failed step of loading or attaching a device program.
#[derive(Debug, thiserror::Error)]
pub enum DeviceFilterError {
    #[error("{step}: {source}")]
    Sys {
        step: &'static str,
        source: io::Error,
    },
    #[error("BPF_PROG_LOAD of the device program: {source}; verifier log: {log}")]
    Load { source: io::Error, log: String },
}

fn sys(step: &'static str) -> impl FnOnce(io::Error) -> DeviceFilterError {
    move |source| DeviceFilterError::Sys { step, source }
}

// Prefixes of `union bpf_attr` for each command; every byte is a named field, so no padding of
// unknown content reaches the kernel (which rejects non-zero bytes it does not expect).
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

#[repr(C)]
struct GetIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`; the kernel zero-fills the rest of its `union bpf_attr`.
fn bpf<T>(cmd: u32, attr: &mut T) -> io::Result<i64> {
    // SAFETY: `attr` is a live, fully initialised #[repr(C)] prefix of `union bpf_attr` for
    // `cmd`; the kernel reads and writes at most `size_of::<T>()` bytes of it, and any pointer
    // inside points to memory that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            libc::c_long::from(cmd),
            attr as *mut T,
            std::mem::size_of::<T>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn fd_result(r: i64) -> OwnedFd {
    // SAFETY: bpf(2) commands that create a file descriptor return a new one that nothing
    // else owns.
    unsafe { OwnedFd::from_raw_fd(r as RawFd) }
}

fn raw(fd: &OwnedFd) -> u32 {
    fd.as_raw_fd() as u32
}

/// Loads the program; on failure loads it again with the verifier's log for the error.
fn load(filter: &DeviceFilter) -> std::result::Result<OwnedFd, DeviceFilterError> {
    let mut name = [0u8; 16];
    name[..PROG_NAME.len()].copy_from_slice(PROG_NAME);
    let attr = |log: &mut [u8]| ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: filter.insns.len() as u32,
        insns: filter.insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
    };
    let source = match bpf(BPF_PROG_LOAD, &mut attr(&mut [])) {
        Ok(fd) => return Ok(fd_result(fd)),
        Err(e) => e,
    };
    // EPERM/ENOSYS/EINVAL for the program type need no log; the verifier's reasons do.
    let mut log = vec![0u8; LOG_SIZE];
    let retried = bpf(BPF_PROG_LOAD, &mut attr(&mut log));
    if let Ok(fd) = retried {
        return Ok(fd_result(fd));
    }
    let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
    Err(DeviceFilterError::Load {
        source,
        log: if text.is_empty() {
            "(empty)".to_string()
        } else {
            text
        },
    })
}

fn open_cgroup(dir: &Path) -> std::result::Result<OwnedFd, DeviceFilterError> {
    rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| DeviceFilterError::Sys {
        step: "opening the cgroup directory",
        source: e.into(),
    })
}

/// Ids of the device programs attached directly to the cgroup (not those inherited).
fn query(cgroup: &OwnedFd) -> std::result::Result<Vec<u32>, DeviceFilterError> {
    let mut ids = vec![0u32; 8];
    loop {
        let mut attr = QueryAttr {
            target_fd: raw(cgroup),
            attach_type: BPF_CGROUP_DEVICE,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            pad: 0,
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // More programs than room: the kernel says how many.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() =>
            {
                ids = vec![0; attr.prog_cnt as usize];
            }
            Err(e) => return Err(sys("BPF_PROG_QUERY on the cgroup")(e)),
        }
    }
}

/// A descriptor of an attached program; `None` if it is gone already.
fn prog_by_id(id: u32) -> std::result::Result<Option<OwnedFd>, DeviceFilterError> {
    let mut attr = GetIdAttr {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    match bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) {
        Ok(fd) => Ok(Some(fd_result(fd))),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(sys("BPF_PROG_GET_FD_BY_ID for the old device program")(e)),
    }
}

fn attach(cgroup: &OwnedFd, prog: &OwnedFd, replace: Option<&OwnedFd>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: raw(cgroup),
        attach_bpf_fd: raw(prog),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI | if replace.is_some() { BPF_F_REPLACE } else { 0 },
        replace_bpf_fd: replace.map_or(0, raw),
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

fn detach(cgroup: &OwnedFd, prog: &OwnedFd) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: raw(cgroup),
        attach_bpf_fd: raw(prog),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
        replace_bpf_fd: 0,
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// Makes `filter` the only device program attached to the cgroup directory `dir` (a cgroup2
/// directory), replacing any earlier one.
pub fn install(dir: &Path, filter: &DeviceFilter) -> std::result::Result<(), DeviceFilterError> {
    let cgroup = open_cgroup(dir)?;
    let old = query(&cgroup)?;
    let prog = load(filter)?;
    if let [only] = old.as_slice() {
        if let Some(old_fd) = prog_by_id(*only)? {
            match attach(&cgroup, &prog, Some(&old_fd)) {
                Ok(()) => return Ok(()),
                // Kernels before 5.6 know no BPF_F_REPLACE: attach, then detach below.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                Err(e) => return Err(sys("BPF_PROG_ATTACH replacing the device program")(e)),
            }
        }
    }
    // Until the old programs are detached both run, and a request must pass both: for a
    // moment only what both rule sets allow is allowed, never more than either.
    attach(&cgroup, &prog, None).map_err(sys("BPF_PROG_ATTACH of the device program"))?;
    for id in old {
        let Some(fd) = prog_by_id(id)? else {
            continue;
        };
        match detach(&cgroup, &fd) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(sys("BPF_PROG_DETACH of the old device program")(e)),
        }
    }
    Ok(())
}

/// Ids of the device programs attached directly to the cgroup directory `dir`.
pub fn attached(dir: &Path) -> std::result::Result<Vec<u32>, DeviceFilterError> {
    query(&open_cgroup(dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[&str]) -> Vec<DeviceRule> {
        list.iter().map(|r| DeviceRule::parse(r).unwrap()).collect()
    }

    #[test]
    fn encoding_matches_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(std::mem::size_of::<AttachAttr>(), 20);
        assert_eq!(std::mem::size_of::<QueryAttr>(), 32);
        // Opcodes as the kernel's headers compose them.
        assert_eq!(Insn::load_word(2, 1, 0).code, 0x61);
        assert_eq!(Insn::and32(2, 0xffff).code, 0x54);
        assert_eq!(Insn::rsh32(3, 16).code, 0x74);
        assert_eq!(Insn::mov32_reg(1, 3).code, 0xbc);
        assert_eq!(Insn::mov32(0, 1).code, 0xb4);
        assert_eq!(Insn::jne(2, 2, 5).code, 0x55);
        assert_eq!(Insn::jne_reg(1, 3, 5).code, 0x5d);
        assert_eq!(Insn::exit().code, 0x95);
        if cfg!(target_endian = "little") {
            assert_eq!(Insn::load_word(2, 1, 0).regs, 0x12);
            assert_eq!(Insn::mov32_reg(1, 3).regs, 0x31);
        }
    }

    #[test]
    fn small_rule_set_exact_program() {
        // c 1:3 rwm: no access check; b 8:* r: access check, no minor check.
        let f = DeviceFilter::from_rules(&rules(&["c 1:3 rwm", "b 8:* r"])).unwrap();
        let want = vec![
            Insn::load_word(R2, R1, 0),
            Insn::and32(R2, 0xffff),
            Insn::load_word(R3, R1, 0),
            Insn::rsh32(R3, 16),
            Insn::load_word(R4, R1, 4),
            Insn::load_word(R5, R1, 8),
            // Block 1 (6..=10): type, major, minor, allow.
            Insn::jne(R2, DEV_CHAR as i32, 4),
            Insn::jne(R4, 1, 3),
            Insn::jne(R5, 3, 2),
            Insn::mov32(R0, 1),
            Insn::exit(),
            // Block 2 (11..=17): type, access ⊆ r, major, allow.
            Insn::jne(R2, DEV_BLOCK as i32, 6),
            Insn::mov32_reg(R1, R3),
            Insn::and32(R1, ACC_READ as i32),
            Insn::jne_reg(R1, R3, 3),
            Insn::jne(R4, 8, 2),
            Insn::mov32(R0, 1),
            Insn::exit(),
            // Nothing matched.
            Insn::mov32(R0, 0),
            Insn::exit(),
        ];
        assert_eq!(f.instructions(), want.as_slice());
        assert_eq!(f.describe(), "allow 2 rules");
        // Every jump lands inside the program, on a block start or the final deny.
        for (pc, insn) in f.instructions().iter().enumerate() {
            if insn.code & 0x07 == BPF_JMP && insn.code != Insn::exit().code {
                let target = pc as i64 + 1 + i64::from(insn.off);
                assert!([11, 18].contains(&target), "pc {pc} jumps to {target}");
            }
        }
    }

    #[test]
    fn v1_semantics() {
        // An `a` rule anywhere allows everything, whatever its access field.
        for list in [&["c 1:3 rwm", "a *:* rwm"][..], &["a *:* r"], &["a"]] {
            let f = DeviceFilter::from_rules(&rules(list)).unwrap();
            assert_eq!(f.policy(), &DevicePolicy::AllowAll, "{list:?}");
            assert_eq!(f.instructions(), &[Insn::mov32(R0, 1), Insn::exit()]);
        }
        // No rule denies everything.
        let f = DeviceFilter::from_rules(&[]).unwrap();
        assert_eq!(f.policy(), &DevicePolicy::AllowOnly(vec![]));
        assert_eq!(f.instructions(), &[Insn::mov32(R0, 0), Insn::exit()]);
        // Identical classes merge their access, in first-seen order.
        let f = DeviceFilter::from_rules(&rules(&["c 1:3 r", "c *:* m", "c 1:3 w"])).unwrap();
        assert_eq!(
            f.policy(),
            &DevicePolicy::AllowOnly(vec![
                Allow {
                    dev_type: DEV_CHAR,
                    major: Some(1),
                    minor: Some(3),
                    access: ACC_READ | ACC_WRITE
                },
                Allow {
                    dev_type: DEV_CHAR,
                    major: None,
                    minor: None,
                    access: ACC_MKNOD
                },
            ])
        );
        // Numbers no device can have are refused rather than silently never matching.
        assert!(DeviceFilter::from_rules(&rules(&["c 4294967295:1 rwm"])).is_err());
    }

    #[test]
    fn resources_add_to_the_defaults_deterministically() {
        let plain = DeviceFilter::for_resources(&Resources::default()).unwrap();
        // 12 default rules, all distinct classes.
        assert_eq!(plain.describe(), "allow 12 rules");
        // 6 prologue + per block (type + numbers + 2) + access checks + 2 final.
        let len = plain.instructions().len();
        // c *:* m and b *:* m: 1 + 3 + 0 + 2 = 6 each; c 136:* rwm: 1 + 1 + 2 = 4;
        // 9 exact rwm rules: 1 + 2 + 2 = 5 each.
        assert_eq!(len, 6 + 2 * 6 + 4 + 9 * 5 + 2);
        assert_eq!(
            plain,
            DeviceFilter::for_resources(&Resources::default()).unwrap()
        );
        let more = Resources {
            device_rules: vec!["c 10:229 rwm".into(), "c 1:3 rwm".into()],
            ..Resources::default()
        };
        assert_eq!(
            DeviceFilter::for_resources(&more).unwrap().describe(),
            "allow 13 rules"
        );
        let privileged = Resources {
            device_rules: vec!["a *:* rwm".into()],
            ..Resources::default()
        };
        assert_eq!(
            DeviceFilter::for_resources(&privileged).unwrap().policy(),
            &DevicePolicy::AllowAll
        );
        let bad = Resources {
            device_rules: vec!["q 1:1 rwm".into()],
            ..Resources::default()
        };
        assert!(DeviceFilter::for_resources(&bad).is_err());
    }
}
