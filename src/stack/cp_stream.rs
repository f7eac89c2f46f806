//! `cp SERVICE:PATH -` and `cp - SERVICE:PATH`: a container's files as a tar stream, as
//! `docker cp` writes and reads them. Both sides work on descriptors as the rest of `cp` does
//! (SECURITY.md): the source tree is walked one component at a time with `O_NOFOLLOW`, and
//! each archive entry is created beneath its parent directory, which is resolved inside the
//! container's root; `..` and hard links are refused.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::cp::{cp_err, reopen, split_path, Side};
use super::{invalid, StackError};

/// Writes `src` on side `from` (a file, a directory with everything under it, or a symlink,
/// itself unless `follow_link`) to `out` as a tar archive whose entries are named after
/// `src`'s last component (`.` for `dir/.`, as `docker cp` names them).
pub fn archive(
    from: &Side,
    src: &str,
    follow_link: bool,
    out: &mut dyn Write,
) -> Result<(), StackError> {
    let contents_only = src.ends_with("/.");
    let mut flags = OFlags::PATH;
    if !follow_link && !contents_only {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = from.open(src, flags).map_err(|e| match (from, e.kind()) {
        (Side::Container { name, .. }, io::ErrorKind::NotFound) => {
            invalid(format!("Could not find the file {src} in container {name}"))
        }
        _ => cp_err(from.describe(src), e),
    })?;
    let name = if contents_only {
        ".".to_string()
    } else {
        let (_, base) = split_path(src, matches!(from, Side::Container { .. }));
        if base.is_empty() {
            ".".to_string()
        } else {
            base
        }
    };
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    append(&mut tar, &fd, &name, &from.describe(src), None)?;
    tar.into_inner()
        .and_then(|w| w.flush())
        .map_err(|e| cp_err("writing the archive".into(), e))?;
    Ok(())
}

fn header_for(st: &rustix::fs::Stat, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(size);
    h
}

/// The mount `fd` lies on (statx's mount id).
pub(super) fn mount_id(fd: &OwnedFd, what: &str) -> Result<u64, StackError> {
    use rustix::fs::{statx, StatxFlags};
    statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)
        .map(|s| s.stx_mnt_id)
        .map_err(|e| cp_err(what.to_string(), e))
}

/// Appends the file, directory (recursively) or symlink `fd` (an `O_PATH` descriptor) as
/// `path`; devices, FIFOs and sockets are left out. With `mount`, only what lies on that mount
/// is read: a mount point found below (a volume, `/proc`, a bound `/etc/hosts`) is written as
/// an empty directory or file, as `docker export` leaves a container's mounts out.
pub(super) fn append(
    tar: &mut tar::Builder<&mut dyn Write>,
    fd: &OwnedFd,
    path: &str,
    what: &str,
    mount: Option<u64>,
) -> Result<(), StackError> {
    let st = rustix::fs::fstat(fd).map_err(|e| cp_err(what.to_string(), e))?;
    let werr = |e: io::Error| cp_err("writing the archive".into(), e);
    let foreign = match mount {
        Some(id) => mount_id(fd, what)? != id,
        None => false,
    };
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            let mut h = header_for(&st, tar::EntryType::Directory, 0);
            let dir_path = if path == "." {
                "./".to_string()
            } else {
                format!("{path}/")
            };
            // The empty path is an export's root: its entries are named from the top.
            if !path.is_empty() {
                tar.append_data(&mut h, &dir_path, io::empty())
                    .map_err(werr)?;
            }
            if foreign {
                return Ok(());
            }
            let dir = reopen(fd.as_fd(), OFlags::RDONLY | OFlags::DIRECTORY)
                .map_err(|e| cp_err(what.to_string(), e))?;
            let mut names = Vec::new();
            for entry in
                rustix::fs::Dir::read_from(&dir).map_err(|e| cp_err(what.to_string(), e))?
            {
                let entry = entry.map_err(|e| cp_err(what.to_string(), e))?;
                let n = entry.file_name().to_bytes();
                if n != b"." && n != b".." {
                    names.push(entry.file_name().to_owned());
                }
            }
            names.sort();
            for n in names {
                let shown = String::from_utf8_lossy(n.to_bytes()).into_owned();
                // One component, not followed: nothing leads out of the tree.
                let child = rustix::fs::openat(
                    &dir,
                    n.as_c_str(),
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| cp_err(format!("{what}/{shown}"), e))?;
                let child_path = match path {
                    "" => shown.clone(),
                    p => format!("{p}/{shown}"),
                };
                append(tar, &child, &child_path, &format!("{what}/{shown}"), mount)?;
            }
        }
        FileType::RegularFile if foreign => {
            let mut h = header_for(&st, tar::EntryType::Regular, 0);
            tar.append_data(&mut h, path, io::empty()).map_err(werr)?;
        }
        FileType::RegularFile => {
            let size = u64::try_from(st.st_size).unwrap_or(0);
            let mut h = header_for(&st, tar::EntryType::Regular, size);
            let input =
                reopen(fd.as_fd(), OFlags::RDONLY).map_err(|e| cp_err(what.to_string(), e))?;
            // Exactly the size the header says, should the file change meanwhile.
            let data = std::fs::File::from(input)
                .take(size)
                .chain(io::repeat(0))
                .take(size);
            tar.append_data(&mut h, path, data).map_err(werr)?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(fd, "", Vec::new())
                .map_err(|e| cp_err(what.to_string(), e))?;
            let target = String::from_utf8_lossy(target.to_bytes()).into_owned();
            let mut h = header_for(&st, tar::EntryType::Symlink, 0);
            tar.append_link(&mut h, path, target).map_err(werr)?;
        }
        _ => {}
    }
    Ok(())
}

/// Unpacks the tar archive read from `input` into the existing directory `dest` on side `to`,
/// as `docker cp - CONTAINER:DEST` does: directories, files and symlinks, with their modes;
/// an entry replaces a non-directory of the same name. Entry paths are relative to `dest`
/// (a leading `/` is dropped); `..` and hard links are refused.
pub fn extract(to: &Side, dest: &str, input: &mut dyn Read) -> Result<(), StackError> {
    // Checked once for the error Docker gives; every entry's parent is resolved again below.
    to.open(dest, OFlags::PATH | OFlags::DIRECTORY)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTDIR) => invalid(format!(
                "destination \"{}\" must be a directory",
                to.describe(dest)
            )),
            _ => cp_err(to.describe(dest), e),
        })?;
    let mut archive = tar::Archive::new(input);
    let entries = archive
        .entries()
        .map_err(|e| cp_err("reading the archive".into(), e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| cp_err("reading the archive".into(), e))?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let mut parts: Vec<&[u8]> = Vec::new();
        for c in raw.split(|b| *b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    return Err(invalid(format!(
                        "archive entry {shown:?} leads out of the destination"
                    )))
                }
                c => parts.push(c),
            }
        }
        let Some((last, parents)) = parts.split_last() else {
            continue; // `./`: the destination itself.
        };
        // The parent, resolved inside the container's root like any other cp path.
        let mut parent_path = dest.trim_end_matches('/').to_string();
        for p in parents {
            parent_path.push('/');
            parent_path.push_str(&String::from_utf8_lossy(p));
        }
        let parent = to
            .open(&parent_path, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|e| cp_err(to.describe(&parent_path), e))?;
        let name = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(last);
        let target = to.describe(&format!("{parent_path}/{}", String::from_utf8_lossy(last)));
        let mode = Mode::from_raw_mode(entry.header().mode().unwrap_or(0o644) & 0o7777);
        let existing = rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW).ok();
        let existing_dir = existing
            .as_ref()
            .is_some_and(|e| FileType::from_raw_mode(e.st_mode).is_dir());
        let kind = entry.header().entry_type();
        let replace = |what: &str| -> Result<(), StackError> {
            if existing_dir {
                return Err(invalid(format!(
                    "cannot overwrite directory {target} with a {what}"
                )));
            }
            if existing.is_some() {
                rustix::fs::unlinkat(&parent, name, AtFlags::empty())
                    .map_err(|e| cp_err(target.clone(), e))?;
            }
            Ok(())
        };
        match kind {
            tar::EntryType::Directory => {
                if existing.is_some() && !existing_dir {
                    rustix::fs::unlinkat(&parent, name, AtFlags::empty())
                        .map_err(|e| cp_err(target.clone(), e))?;
                }
                if !existing_dir {
                    rustix::fs::mkdirat(&parent, name, mode)
                        .map_err(|e| cp_err(target.clone(), e))?;
                }
                let d = rustix::fs::openat(
                    &parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| cp_err(target.clone(), e))?;
                rustix::fs::fchmod(&d, mode).map_err(|e| cp_err(target.clone(), e))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                replace("file")?;
                let out = rustix::fs::openat(
                    &parent,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    mode,
                )
                .map_err(|e| cp_err(target.clone(), e))?;
                let mut out = std::fs::File::from(out);
                io::copy(&mut entry, &mut out).map_err(|e| cp_err(target.clone(), e))?;
                rustix::fs::fchmod(&out, mode).map_err(|e| cp_err(target.clone(), e))?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .ok_or_else(|| {
                        invalid(format!("archive entry {shown:?}: symlink without a target"))
                    })?
                    .into_owned();
                replace("symlink")?;
                rustix::fs::symlinkat(link.as_slice(), &parent, name)
                    .map_err(|e| cp_err(target.clone(), e))?;
            }
            tar::EntryType::Link => {
                return Err(invalid(format!(
                    "archive entry {shown:?}: hard links are not supported"
                )))
            }
            // Devices, FIFOs and sockets are not created; PAX and GNU headers are read by
            // the tar crate itself.
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_unpacks_to_the_same_tree_and_dotdot_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let src = dir.path().join("d");
        std::fs::create_dir_all(src.join("sub")).expect("mkdir");
        std::fs::write(src.join("sub/f"), "inside\n").expect("write");
        std::os::unix::fs::symlink("f", src.join("sub/l")).expect("symlink");
        let mut tarball = Vec::new();
        archive(
            &Side::Host,
            src.to_str().expect("utf-8"),
            false,
            &mut tarball,
        )
        .expect("archive");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        extract(
            &Side::Host,
            out.to_str().expect("utf-8"),
            &mut tarball.as_slice(),
        )
        .expect("extract");
        assert_eq!(
            std::fs::read_to_string(out.join("d/sub/f")).expect("read"),
            "inside\n"
        );
        assert_eq!(
            std::fs::read_link(out.join("d/sub/l")).expect("link"),
            std::path::Path::new("f")
        );

        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..9].copy_from_slice(b"../esc.tx");
        h.set_mode(0o644);
        h.set_size(0);
        h.set_cksum();
        let mut evil = h.as_bytes().to_vec();
        evil.resize(512 * 3, 0);
        let err = extract(
            &Side::Host,
            out.to_str().expect("utf-8"),
            &mut evil.as_slice(),
        )
        .expect_err("refused");
        assert!(err.to_string().contains("leads out"), "{err}");
        assert!(!dir.path().join("esc.tx").exists());
        // Not a directory: Docker's error.
        let file = out.join("d/sub/f");
        let err = extract(
            &Side::Host,
            file.to_str().expect("utf-8"),
            &mut tarball.as_slice(),
        )
        .expect_err("not a directory");
        assert!(err.to_string().contains("must be a directory"), "{err}");
    }
}
