//! The system root every path is read under (`--root DIR`, like `depmod -b`).
//!
//! All system paths go through [`Root::join`], so a test or a VM harness can point the
//! loader at a copy of a system and get the same answers the real system would give.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::error::Error;

/// A system root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    dir: PathBuf,
    /// Top-level symlinks of a non-live root (merged /usr: `lib -> usr/lib`), resolved
    /// inside the root, so that an absolute link target never leads out of it.
    top_links: Vec<(std::ffi::OsString, PathBuf)>,
}

impl Default for Root {
    fn default() -> Self {
        Root::new("/")
    }
}

impl Root {
    /// A root at `dir` (`/` for the live system).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let mut root = Root {
            dir: dir.into(),
            top_links: Vec::new(),
        };
        if !root.is_live() {
            // Merged /usr makes /lib, /bin, /sbin and /lib64 links into /usr. Debian writes
            // them relative, but an absolute one must still resolve under the root.
            if let Ok(rd) = std::fs::read_dir(&root.dir) {
                for e in rd.flatten() {
                    if let Ok(Some(target)) = root.read_link(&e.path()) {
                        root.top_links.push((e.file_name(), target));
                    }
                }
            }
        }
        root
    }

    /// The root directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when this is the live system, where loading modules and running dkms make sense.
    pub fn is_live(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// A system path (written as on the live system) under this root.
    pub fn join(&self, system_path: impl AsRef<Path>) -> PathBuf {
        let rel = system_path
            .as_ref()
            .strip_prefix("/")
            .unwrap_or(system_path.as_ref());
        let mut parts = rel.components();
        if let Some(Component::Normal(first)) = parts.next() {
            if let Some((_, target)) = self.top_links.iter().find(|(n, _)| n == first) {
                return target.join(parts.as_path());
            }
        }
        self.dir.join(rel)
    }

    /// The system path (as the system under this root spells it) of a path under the root:
    /// the inverse of [`join`](Self::join), up to merged-/usr spellings.
    pub fn system_path(&self, path: &Path) -> String {
        let rel = if self.is_live() {
            path
        } else {
            path.strip_prefix(&self.dir).unwrap_or(path)
        };
        let s = rel.to_string_lossy();
        if s.starts_with('/') {
            s.into_owned()
        } else {
            format!("/{s}")
        }
    }

    /// Resolves a symlink found at `link` as the system under this root would: an absolute
    /// target is taken relative to the root, a relative one relative to the link's directory.
    /// `..` components are folded lexically and never leave the root. Returns `None` when
    /// `link` is not a symlink.
    pub fn read_link(&self, link: &Path) -> io::Result<Option<PathBuf>> {
        let meta = std::fs::symlink_metadata(link)?;
        if !meta.file_type().is_symlink() {
            return Ok(None);
        }
        let target = std::fs::read_link(link)?;
        let base = if target.is_absolute() {
            self.dir.clone()
        } else {
            link.parent().unwrap_or(&self.dir).to_path_buf()
        };
        Ok(Some(self.fold(&base, &target)))
    }

    fn fold(&self, base: &Path, target: &Path) -> PathBuf {
        let mut out = base.to_path_buf();
        for c in target.components() {
            match c {
                Component::Normal(n) => out.push(n),
                Component::ParentDir => {
                    // Never climb above the root: ".." at the root stays at the root, as
                    // the kernel's path walk does for "/..".
                    if out != self.dir {
                        out.pop();
                    }
                }
                Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            }
        }
        out
    }
}

/// Reads a small text file, `Ok(None)` if it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read(path) {
        // Valid UTF-8 (the normal case) is taken without a copy; only damaged text pays
        // for the lossy conversion.
        Ok(b) => Ok(Some(String::from_utf8(b).unwrap_or_else(|e| {
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }))),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// "Does not exist" in any of the ways a missing path shows up.
pub fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound) || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// Lists a directory's entry names, sorted so results do not depend on readdir order;
/// `Ok(vec![])` if it does not exist.
pub fn list_dir(path: &Path) -> Result<Vec<String>, Error> {
    let rd = match std::fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) if is_absent(&e) => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", path, e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("list", path, e))?;
        if let Some(n) = entry.file_name().to_str() {
            names.push(n.to_string());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_strips_leading_slash() {
        let r = Root::new("/tmp/x");
        assert_eq!(r.join("/lib/modules"), Path::new("/tmp/x/lib/modules"));
        assert_eq!(r.join("lib"), Path::new("/tmp/x/lib"));
        assert!(Root::default().is_live());
        assert!(!r.is_live());
    }

    #[test]
    fn merged_usr_links_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("usr/lib/modules/k")).unwrap();
        // An absolute target, as a hand-made merged /usr might have.
        std::os::unix::fs::symlink("/usr/lib", t.path().join("lib")).unwrap();
        std::os::unix::fs::symlink("usr/sbin", t.path().join("sbin")).unwrap();
        let r = Root::new(t.path());
        assert_eq!(r.join("/lib/modules/k"), t.path().join("usr/lib/modules/k"));
        assert!(r.join("/lib/modules/k").is_dir());
        assert_eq!(r.join("/sbin/depmod"), t.path().join("usr/sbin/depmod"));
        assert_eq!(r.join("/etc/x"), t.path().join("etc/x"));
    }

    #[test]
    fn symlinks_stay_inside_root() {
        let t = tempfile::tempdir().unwrap();
        let r = Root::new(t.path());
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        std::os::unix::fs::symlink("/usr/src/x", t.path().join("a/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../etc", t.path().join("a/b/up")).unwrap();
        std::os::unix::fs::symlink("c/d", t.path().join("a/rel")).unwrap();
        assert_eq!(
            r.read_link(&t.path().join("a/abs")).unwrap().unwrap(),
            t.path().join("usr/src/x")
        );
        assert_eq!(
            r.read_link(&t.path().join("a/b/up")).unwrap().unwrap(),
            t.path().join("etc")
        );
        assert_eq!(
            r.read_link(&t.path().join("a/rel")).unwrap().unwrap(),
            t.path().join("a/c/d")
        );
        assert_eq!(r.read_link(&t.path().join("a")).unwrap(), None);
        assert!(r.read_link(&t.path().join("nope")).is_err());
    }
}
