//! Module files: opened once, judged trustworthy, read with bounded memory, decompressed.
//!
//! `verify` and `ensure` judge a module file through the same [`ModuleFile::open`], so the
//! two can never disagree: whatever `ensure` would refuse to hand to the kernel, `verify`
//! reports. The judgement is made on the open file (fstat), so the file cannot be swapped
//! between the check and the load, and on every directory above it up to the system root
//! (both the path as written and the path its symlinks lead to): a module in a directory
//! someone else could write is as replaceable as a module that someone else owns.

pub mod compression;
pub mod elf;
pub mod signature;

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use compression::{Compression, MAX_IMAGE_BYTES};
pub use elf::{ElfError, ModuleInfo};

use crate::error::Error;
use crate::root::Root;

/// The largest module file the loader reads. The kernel itself refuses files over 2 GiB - 1
/// (`kernel_read_file`); anything near this bound is not a kernel module.
pub const MAX_FILE_BYTES: u64 = 128 << 20;

/// The largest file the kernel's `finit_module` accepts (`INT_MAX`).
pub const KERNEL_MAX_FILE_BYTES: u64 = i32::MAX as u64;

/// A module file opened for reading and judged trustworthy.
#[derive(Debug)]
pub struct ModuleFile {
    /// The path it was opened by.
    pub path: PathBuf,
    file: File,
    len: u64,
}

/// A module's ELF image, decompressed if the file was compressed.
#[derive(Debug, Clone)]
pub struct ModuleImage {
    /// How the file was compressed, if it was.
    pub compression: Option<Compression>,
    /// Size of the file on disk.
    pub file_len: u64,
    /// The ELF bytes (signature trailer included).
    pub elf: Vec<u8>,
    /// The file's bytes when they differ from `elf` (compressed files).
    compressed: Option<Vec<u8>>,
}

impl ModuleImage {
    /// The file's bytes as they are on disk.
    pub fn file_bytes(&self) -> &[u8] {
        self.compressed.as_deref().unwrap_or(&self.elf)
    }

    /// Parses the ELF image.
    pub fn info(&self) -> Result<ModuleInfo, ElfError> {
        ModuleInfo::parse(&self.elf)
    }
}

impl ModuleFile {
    /// Opens `path` and judges it: a regular file, owned by root, writable by nobody else,
    /// in directories owned by root and writable by nobody else, up to `root`.
    ///
    /// When the loader itself is not root (tests, `verify` by a user), the user's own files
    /// and directories are accepted too: such a process cannot load modules anyway, and
    /// refusing its own fixture files would make verification impossible without root.
    pub fn open(path: &Path, root: &Root) -> Result<ModuleFile, Error> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let meta = file.metadata().map_err(|e| Error::io("inspect", path, e))?;
        let untrusted = |reason: String| Error::UntrustedFile {
            path: path.to_path_buf(),
            reason,
        };
        if !meta.file_type().is_file() {
            return Err(untrusted("it is not a regular file".into()));
        }
        if !trusted_owner(meta.uid()) {
            return Err(untrusted(format!(
                "it is owned by uid {}, not root",
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(untrusted(format!(
                "its mode {:o} lets group or others write it",
                meta.mode() & 0o7777
            )));
        }
        check_directories(path, root)?;
        Ok(ModuleFile {
            path: path.to_path_buf(),
            len: meta.len(),
            file,
        })
    }

    /// The open file (for `finit_module`).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Size on disk.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the whole file (at most [`MAX_FILE_BYTES`]) and decompresses it (at most
    /// [`MAX_IMAGE_BYTES`]).
    pub fn read(&mut self) -> Result<ModuleImage, Error> {
        let bad = |reason: String| Error::BadModule {
            path: self.path.clone(),
            reason,
        };
        if self.len > MAX_FILE_BYTES {
            let kernel = if self.len > KERNEL_MAX_FILE_BYTES {
                "the kernel refuses files over 2 GiB - 1 (EFBIG)"
            } else {
                "no kernel module is that large"
            };
            return Err(bad(format!(
                "it is {} bytes long; {kernel}, so it was not read",
                self.len
            )));
        }
        let mut data = Vec::with_capacity(self.len as usize);
        (&self.file)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| Error::io("read", &self.path, e))?;
        if data.len() as u64 > MAX_FILE_BYTES {
            return Err(bad("it grew past the size limit while being read".into()));
        }
        let compression = Compression::from_magic(&data);
        let (elf, compressed) = match compression {
            Some(c) => (
                c.decompress(&data, MAX_IMAGE_BYTES).map_err(bad)?,
                Some(data),
            ),
            None => (data, None),
        };
        Ok(ModuleImage {
            compression,
            file_len: self.len,
            elf,
            compressed,
        })
    }
}

/// Opens, judges, reads and parses a module file in one go.
pub fn read_info(path: &Path, root: &Root) -> Result<(ModuleImage, ModuleInfo), Error> {
    let image = ModuleFile::open(path, root)?.read()?;
    let info = image.info().map_err(|e| Error::BadModule {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok((image, info))
}

/// Root owns trusted files; a loader that is not root also trusts its own user's files.
pub fn trusted_owner(uid: u32) -> bool {
    let me = nix::unistd::geteuid().as_raw();
    uid == 0 || (me != 0 && uid == me)
}

/// Every directory above `path`, as written and as its symlinks resolve, up to the root
/// directory (the root itself included when it is `/`), must be owned by a trusted owner
/// and writable by nobody else, unless it is sticky.
fn check_directories(path: &Path, root: &Root) -> Result<(), Error> {
    let stop = root.dir();
    let mut chains = vec![path.to_path_buf()];
    if let Ok(real) = std::fs::canonicalize(path) {
        if real != path {
            chains.push(real);
        }
    }
    for chain in &chains {
        let mut dir = chain.parent();
        while let Some(d) = dir {
            if d.as_os_str().is_empty() {
                break;
            }
            let inside = d.starts_with(stop) && (d != stop || root.is_live());
            if !inside {
                break;
            }
            // A symlink's own mode means nothing (its directory guards it); where it leads
            // is judged on the resolved chain.
            let meta = std::fs::symlink_metadata(d).map_err(|e| Error::io("inspect", d, e))?;
            let reason = if meta.file_type().is_symlink() {
                None
            } else if !trusted_owner(meta.uid()) {
                Some(format!(
                    "the directory {} is owned by uid {}, not root",
                    d.display(),
                    meta.uid()
                ))
            } else if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
                // With the sticky bit (/tmp, an initramfs's /), others may add entries but
                // not replace ours, and every entry on the path is judged in turn.
                Some(format!(
                    "the directory {} (mode {:o}) lets group or others replace the files in it",
                    d.display(),
                    meta.mode() & 0o7777
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Error::UntrustedFile {
                    path: path.to_path_buf(),
                    reason,
                });
            }
            if d == stop {
                break;
            }
            dir = d.parent();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn writable_files_and_directories_are_refused_symlinks_included() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        let dir = t.path().join("lib/modules/k/updates/dkms");
        std::fs::create_dir_all(&dir).unwrap();
        let ko = dir.join("dahdi.ko");
        std::fs::write(&ko, b"\x7fELF").unwrap();
        chmod(&ko, 0o644);
        for d in [
            "lib",
            "lib/modules",
            "lib/modules/k",
            "lib/modules/k/updates",
        ] {
            chmod(&t.path().join(d), 0o755);
        }
        chmod(&dir, 0o755);
        assert!(ModuleFile::open(&ko, &root).is_ok());

        chmod(&ko, 0o666);
        let e = ModuleFile::open(&ko, &root).unwrap_err().to_string();
        assert!(e.contains("mode 666"), "{e}");
        chmod(&ko, 0o644);

        chmod(&dir, 0o777);
        let e = ModuleFile::open(&ko, &root).unwrap_err().to_string();
        assert!(e.contains("updates/dkms") && e.contains("777"), "{e}");
        chmod(&dir, 0o755);

        // updates/dkms as a symlink to a world-writable directory elsewhere in the root.
        let elsewhere = t.path().join("var/tmp/stash");
        std::fs::create_dir_all(&elsewhere).unwrap();
        chmod(&t.path().join("var"), 0o755);
        chmod(&t.path().join("var/tmp"), 0o1777);
        std::fs::write(elsewhere.join("dahdi.ko"), b"\x7fELF").unwrap();
        chmod(&elsewhere.join("dahdi.ko"), 0o644);
        chmod(&elsewhere, 0o777);
        let linkdir = t.path().join("lib/modules/k/updates/dkms2");
        std::os::unix::fs::symlink(&elsewhere, &linkdir).unwrap();
        let e = ModuleFile::open(&linkdir.join("dahdi.ko"), &root)
            .unwrap_err()
            .to_string();
        assert!(e.contains("var/tmp/stash"), "{e}");
        // A sticky world-writable directory (var/tmp here) is not a hole in itself.
        chmod(&elsewhere, 0o755);
        assert!(ModuleFile::open(&linkdir.join("dahdi.ko"), &root).is_ok());
    }

    #[test]
    fn size_bounds_are_kept_without_reading() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        let ko = t.path().join("huge.ko");
        let f = File::create(&ko).unwrap();
        // Sparse: costs nothing on disk, and must cost nothing in memory.
        f.set_len(2u64 << 30).unwrap();
        chmod(&ko, 0o644);
        chmod(t.path(), 0o755);
        let e = ModuleFile::open(&ko, &root)
            .unwrap()
            .read()
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 GiB - 1"), "{e}");
    }
}
