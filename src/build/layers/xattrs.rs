//! Reading the xattrs a copy carries over. Overlayfs keeps its own metadata in
//! `trusted.overlay.*` and `user.overlay.*` (opaque, redirect, origin...): copied into a new
//! layer they would change what the merged view shows, so they are never read as content.

use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use rustix::io::Errno;

/// Xattr namespaces overlayfs reads its metadata from.
const OVERLAY_PREFIXES: [&[u8]; 2] = [b"trusted.overlay.", b"user.overlay."];

/// One xattr: its name and value.
pub type Xattr = (OsString, Vec<u8>);

/// The xattrs of the open file or directory `fd`, overlay ones left out. A file system without
/// xattrs has none.
pub(crate) fn read_xattrs<Fd: AsFd>(fd: Fd) -> Result<Vec<Xattr>, Errno> {
    let size = match rustix::fs::flistxattr_query(&fd) {
        Ok(size) => size,
        Err(Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut list = vec![0u8; size];
    let len = rustix::fs::flistxattr(&fd, &mut list[..])?;
    let mut out = Vec::new();
    for name in list[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if OVERLAY_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let name = OsStr::from_bytes(name);
        let size = match rustix::fs::fgetxattr_query(&fd, name) {
            Ok(size) => size,
            // Removed since listed, or a namespace this process may not read.
            Err(Errno::NODATA | Errno::PERM | Errno::ACCESS) => continue,
            Err(e) => return Err(e),
        };
        let mut value = vec![0u8; size];
        let len = rustix::fs::fgetxattr(&fd, name, &mut value[..])?;
        value.truncate(len);
        out.push((name.to_os_string(), value));
    }
    Ok(out)
}

/// Whether the directory `fd` is opaque in overlayfs terms (either namespace's xattr is `y`).
pub(crate) fn is_opaque<Fd: AsFd>(fd: Fd) -> bool {
    use crate::engine::image::layer::{OPAQUE_XATTR_TRUSTED, OPAQUE_XATTR_USER};
    [OPAQUE_XATTR_TRUSTED, OPAQUE_XATTR_USER]
        .iter()
        .any(|name| {
            let mut value = [0u8; 2];
            matches!(rustix::fs::fgetxattr(&fd, *name, &mut value[..]), Ok(1) if value[0] == b'y')
        })
}
