//! The file operations the cgroup backends perform, behind a trait so that the v2 backend can be
//! run against a temporary directory that imitates the kernel (tests), and so that every write the
//! backend makes can be recorded and asserted.

use std::fmt::Debug;
use std::io;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::v2_devices::{self, DeviceFilter, DeviceFilterError};

/// What a backend does to a cgroup filesystem. Implementations must keep the kernel's
/// semantics: `write` never creates a file (an interface file the kernel lacks is `ENOENT`), and
/// each call is exactly one `write(2)` (the kernel parses one value per write: `cgroup.procs`
/// takes one pid, `io.max` one device).
pub trait CgroupFs: Send + Sync + Debug {
    fn read(&self, path: &Path) -> io::Result<String>;
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    fn exists(&self, path: &Path) -> bool;
    /// Makes `filter` the device program of the cgroup2 directory `dir`, replacing the one
    /// attached before (cgroup v2 has no devices controller; see [`v2_devices`]).
    fn set_device_filter(&self, dir: &Path, filter: &DeviceFilter)
        -> Result<(), DeviceFilterError>;
}

/// The real filesystem, through direct syscalls.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl CgroupFs for RealFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        // O_TRUNC is accepted by cgroupfs and makes a plain file (tests) hold the last value.
        let fd = rustix::fs::open(
            path,
            OFlags::WRONLY | OFlags::CLOEXEC | OFlags::TRUNC,
            Mode::empty(),
        )?;
        let written = rustix::io::write(&fd, value.as_bytes())?;
        if written != value.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {written} of {} bytes", value.len()),
            ));
        }
        Ok(())
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        rustix::fs::mkdir(path, Mode::from_raw_mode(0o755))?;
        Ok(())
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        rustix::fs::rmdir(path)?;
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        rustix::fs::access(path, rustix::fs::Access::EXISTS).is_ok()
    }

    fn set_device_filter(
        &self,
        dir: &Path,
        filter: &DeviceFilter,
    ) -> Result<(), DeviceFilterError> {
        v2_devices::install(dir, filter)
    }
}
