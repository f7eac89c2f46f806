//! What an idle monitor gives back to the kernel: its resident memory is the engine's
//! per-container overhead (see BENCHMARKS.md, "Monitor memory").

use std::time::Duration;

/// How often an idle monitor gives back the code pages its work touched.
pub(super) const SHED_EVERY: Duration = Duration::from_secs(10);

/// Gives back what the start needed and the running container does not: free heap (the
/// record's JSON text, the set-up's buffers) and the mapped pages of the binary and libraries
/// that only the start ran (argument handling, cgroup, netlink and handshake code). Pages a
/// mapping has written (relocations, data) are anonymous and stay; clean file pages come back
/// from the page cache when the loop touches them again, so only what the loop uses stays
/// resident. This is the difference between a ~5 MiB and a sub-MiB monitor (BENCHMARKS.md).
pub(super) fn shed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    // The mapping being read: (start, end, clean so far).
    let mut current: Option<(usize, usize, bool)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        let range = first.split_once('-').and_then(|(a, b)| {
            Some((
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            ))
        });
        if let Some((start, end)) = range {
            if let Some((s, e, true)) = current.take() {
                ranges.push((s, e));
            }
            let perms = fields.next().unwrap_or_default();
            let path = fields.nth(3).unwrap_or_default();
            let clean_file = perms.starts_with('r')
                && perms.as_bytes().get(1) == Some(&b'-')
                && perms.ends_with('p')
                && path.starts_with('/');
            current = Some((start, end, clean_file));
        } else if first == "Anonymous:" && fields.next() != Some("0") {
            if let Some(c) = current.as_mut() {
                c.2 = false;
            }
        }
    }
    if let Some((s, e, true)) = current {
        ranges.push((s, e));
    }
    // Everything that allocates or frees is done before the pages go: what runs after the
    // first madvise (the rest of the loop, then the caller's way to poll) touches as little
    // code as possible, each fault bringing back a 64 KiB window of it.
    let mut list = [(0usize, 0usize); 64];
    let n = ranges.len().min(list.len());
    list[..n].copy_from_slice(&ranges[..n]);
    drop(ranges);
    drop(smaps);
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    for &(start, end) in &list[..n] {
        // SAFETY: private, read-only file mappings without a private (anonymous) page: dropping
        // them only unmaps page-cache pages, which fault back in unchanged. rustix makes the
        // system call itself, so no libc code is faulted back in by it.
        unsafe {
            let _ = rustix::mm::madvise(
                start as *mut std::ffi::c_void,
                end - start,
                rustix::mm::Advice::LinuxDontNeed,
            );
        }
    }
}
