//! The content hash of one context file: the layer cache keys a COPY on what the files hold,
//! never on their times, so this is sha256 over the bytes, read in a stream.

use std::fmt;
use std::io::Read;
use std::path::Path;

use rustix::fs::{FileType, OFlags};
use sha2::{Digest, Sha256};

use super::error::ContextError;
use super::source::ContextDir;

/// The sha256 of a file's content. Shown as `sha256:<hex>`, as OCI digests are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileDigest([u8; 32]);

impl FileDigest {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for FileDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Bytes read at a time: large enough to keep syscalls few, small enough for any file size.
const CHUNK: usize = 64 * 1024;

impl ContextDir {
    /// Hashes the regular file at `rel` (relative to the root), opened without following any
    /// symlink. Anything but a regular file is refused; `O_NONBLOCK` keeps a FIFO swapped in
    /// after the walk from hanging the open.
    pub fn digest(&self, rel: &Path) -> Result<FileDigest, ContextError> {
        let fd = self.open_beneath(rel, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY)?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| self.entry_error(rel, "stat", e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(ContextError::NotAFile {
                root: self.dir().to_path_buf(),
                path: rel.to_path_buf(),
            });
        }
        let mut file = std::fs::File::from(fd);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ContextError::Read {
                        root: self.dir().to_path_buf(),
                        path: rel.to_path_buf(),
                        source,
                    })
                }
            };
            hasher.update(&buf[..n]);
        }
        Ok(FileDigest(hasher.finalize().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn hashes_content_streamed_and_refuses_non_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/empty"), b"").expect("write");
        // Larger than one chunk, so the stream is read in pieces.
        let big: Vec<u8> = (0..CHUNK * 2 + 7).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("big"), &big).expect("write");
        symlink("big", dir.path().join("link")).expect("symlink");
        let ctx = ContextDir::open(dir.path()).expect("open");
        assert_eq!(
            ctx.digest(Path::new("sub/empty"))
                .expect("hash")
                .to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let want: [u8; 32] = Sha256::digest(&big).into();
        assert_eq!(
            ctx.digest(Path::new("big")).expect("hash").as_bytes(),
            &want
        );
        assert!(matches!(
            ctx.digest(Path::new("sub")),
            Err(ContextError::NotAFile { .. })
        ));
        assert!(matches!(
            ctx.digest(Path::new("link")),
            Err(ContextError::Entry {
                source: rustix::io::Errno::LOOP,
                ..
            })
        ));
    }
}
