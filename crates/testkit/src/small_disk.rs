//! A small tmpfs mounted for one test: the full-disk tests (issue 15 point 1) put a database on
//! it, fill it to the last byte while the code under test writes, and give the space back.
//! Mounting needs root (CI and the PostgreSQL harness run as root here); the file system is
//! unmounted when the value is dropped.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a small disk could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SmallDiskError {
    /// Creating the mount point or the filler file failed.
    #[error("small disk: {0}")]
    Io(#[from] std::io::Error),
    /// `mount -t tmpfs` failed (not root, no tmpfs).
    #[error("mounting a {size} tmpfs failed (needs root): {stderr}")]
    Mount {
        /// The size asked for.
        size: String,
        /// What `mount` said.
        stderr: String,
    },
}

/// A size-limited tmpfs, unmounted on drop.
#[derive(Debug)]
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mount a tmpfs of `size` (`mount -o size=`, e.g. `2m`, `64m`) on a fresh directory.
    pub fn mount(size: &str) -> Result<Self, SmallDiskError> {
        let dir = tempfile::Builder::new()
            .prefix("gaia-small-disk-")
            .tempdir()?;
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0777"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()?;
        if !out.status.success() {
            return Err(SmallDiskError::Mount {
                size: size.into(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().into(),
            });
        }
        Ok(Self { dir })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fill the remaining space with one file (`filler`), to the last 512 bytes the file
    /// system grants; returns its path. Removing it gives the space back.
    pub fn fill(&self) -> Result<PathBuf, SmallDiskError> {
        let path = self.dir.path().join("filler");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        while f.write_all(&block[..512]).is_ok() {}
        Ok(path)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_disk_refuses_writes_until_the_filler_goes() {
        let disk = SmallDisk::mount("1m").expect("root mounts a tmpfs");
        let probe = disk.path().join("probe");
        std::fs::write(&probe, b"fits").unwrap();
        let filler = disk.fill().unwrap();
        let err = std::fs::write(disk.path().join("more"), vec![0u8; 64 * 1024]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENOSPC), "{err}");
        std::fs::remove_file(filler).unwrap();
        std::fs::write(disk.path().join("more"), vec![0u8; 64 * 1024]).unwrap();
        let path = disk.path().to_path_buf();
        drop(disk);
        assert!(!path.join("probe").exists(), "unmounted and removed");
    }

    #[test]
    fn a_bad_size_is_a_named_mount_error() {
        match SmallDisk::mount("lots") {
            Err(e @ SmallDiskError::Mount { .. }) => assert!(e.to_string().contains("lots"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
