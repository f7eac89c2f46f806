//! Running code inside another network namespace, and opening or creating namespaces, without
//! ever moving the calling thread.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use super::error::{fail, nl_err, NetlinkFailure, NetlinkResult};

/// Runs `f` on a dedicated thread that first joins the network namespace `ns` (`setns` with
/// `CLONE_NEWNET`, which is per thread), and returns its result. The calling thread's namespace
/// never changes; sockets created by `f` stay bound to `ns` wherever they are used afterwards.
/// A panic in `f` is resumed in the caller.
pub fn in_netns<R, F>(ns: BorrowedFd<'_>, f: F) -> NetlinkResult<R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("netns".into())
            .spawn_scoped(s, move || -> NetlinkResult<R> {
                rustix::thread::move_into_link_name_space(
                    ns,
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(|e| {
                    nl_err(
                        &format!("enter netns fd {}", ns.as_raw_fd()),
                        io::Error::from(e),
                    )
                })?;
                Ok(f())
            })
            .map_err(|e| nl_err("spawn netns thread", e))?;
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Opens the network namespace of process (or thread) `pid`, for [`in_netns`],
/// [`Netlink::new_in`] and [`Netlink::move_to_netns_fd`].
pub fn open_netns(pid: u32) -> NetlinkResult<OwnedFd> {
    let path = format!("/proc/{pid}/ns/net");
    rustix::fs::open(
        path.as_str(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| nl_err(&format!("open {path}"), io::Error::from(e)))
}

/// Creates a new, empty network namespace (only `lo`, down) held by nothing but the returned fd:
/// it vanishes, with every interface in it, once the fd and every socket made in it are closed.
/// Made on a short-lived thread (`unshare(CLONE_NEWNET)`), so the caller stays where it is —
/// this is how tests get a stand-in host that cannot disturb the real one.
pub fn create_netns() -> NetlinkResult<OwnedFd> {
    std::thread::Builder::new()
        .name("netns-new".into())
        .spawn(|| -> NetlinkResult<OwnedFd> {
            // SAFETY: only CLONE_NEWNET is unshared, not the fd table, and only on this thread,
            // which ends right after.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
                .map_err(|e| nl_err("unshare network namespace", io::Error::from(e)))?;
            rustix::fs::open(
                "/proc/thread-self/ns/net",
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| nl_err("open /proc/thread-self/ns/net", io::Error::from(e)))
        })
        .map_err(|e| nl_err("spawn netns thread", e))?
        .join()
        .map_err(|_| fail("create network namespace", NetlinkFailure::ThreadPanicked))?
}
