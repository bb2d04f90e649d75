//! Configuration directories as kmod and systemd read them (modprobe.d(5),
//! modules-load.d(5)): `NAME.conf` files gathered from several directories in order of
//! precedence. A name in an earlier directory hides the same name in later ones; hidden
//! files (a leading dot) are skipped; a link to `/dev/null` masks a name (an empty file);
//! the files are then read in name order, whichever directory each came from.
//!
//! Links are resolved inside the root, so a system under `--root` is read as itself, never
//! through links into the host's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::root::{is_absent, list_dir, read_optional, Root};

/// What a directory entry turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A file to read (its path under the root, links resolved).
    File(PathBuf),
    /// A link to `/dev/null`: an empty file that hides later ones.
    Masked,
}

/// The files gathered so far, by name: the first directory to have a name keeps it.
#[derive(Debug, Default)]
pub struct ConfFiles {
    by_name: BTreeMap<String, (PathBuf, Entry)>,
}

impl ConfFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one file under `name` (`system` is its path on the system, for messages),
    /// unless an earlier one has that name.
    pub fn insert(&mut self, name: String, system: PathBuf, entry: Entry) {
        self.by_name.entry(name).or_insert((system, entry));
    }

    /// Adds every `*.conf` of directory `dir` (a system path, read under `root`) whose name
    /// no earlier directory had. A missing directory adds nothing; one that cannot be
    /// listed is an error (what it would have hidden is unknown).
    pub fn add_dir(&mut self, root: &Root, dir: &str) -> Result<(), Error> {
        let at = root.join(dir);
        for name in list_dir(&at)? {
            if name.starts_with('.') || !name.ends_with(".conf") {
                continue;
            }
            if self.by_name.contains_key(&name) {
                continue;
            }
            if let Some(entry) = classify(root, &at.join(&name)) {
                let system = Path::new(dir).join(&name);
                self.by_name.insert(name, (system, entry));
            }
        }
        Ok(())
    }

    /// The files in name order with their text (a masked one as empty text); a file that
    /// went away since it was listed is left out.
    pub fn read(self) -> Result<Vec<(PathBuf, String)>, Error> {
        let mut out = Vec::with_capacity(self.by_name.len());
        for (system, entry) in self.by_name.into_values() {
            let text = match entry {
                Entry::Masked => String::new(),
                Entry::File(path) => match read_optional(&path)? {
                    Some(t) => t,
                    None => continue,
                },
            };
            out.push((system, text));
        }
        Ok(out)
    }
}

/// Decides what an entry is: a file (through links, resolved inside the root), a mask (a
/// link to `/dev/null`), or nothing either reader would read (a directory, a dangling link,
/// a loop of links).
fn classify(root: &Root, path: &Path) -> Option<Entry> {
    let mut at = path.to_path_buf();
    for _ in 0..16 {
        match root.read_link(&at) {
            Ok(Some(target)) => {
                if target == root.join("/dev/null") {
                    return Some(Entry::Masked);
                }
                at = target;
            }
            Ok(None) => {
                let meta = std::fs::metadata(&at).ok()?;
                return (!meta.is_dir()).then_some(Entry::File(at));
            }
            Err(e) if is_absent(&e) => return None,
            Err(_) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_files::write;

    fn gathered(root: &Root, dirs: &[&str]) -> Vec<(String, String)> {
        let mut files = ConfFiles::new();
        for d in dirs {
            files.add_dir(root, d).unwrap();
        }
        files
            .read()
            .unwrap()
            .into_iter()
            .map(|(p, t)| (p.to_string_lossy().into_owned(), t))
            .collect()
    }

    #[test]
    fn earlier_directories_hide_names_and_files_come_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        write(dir.path(), "/etc/x.d/b.conf", "etc b");
        write(dir.path(), "/usr/lib/x.d/b.conf", "vendor b");
        write(dir.path(), "/usr/lib/x.d/a.conf", "vendor a");
        write(dir.path(), "/usr/lib/x.d/c.txt", "not conf");
        write(dir.path(), "/usr/lib/x.d/.hidden.conf", "hidden");
        write(dir.path(), "/usr/lib/x.d/.conf", "hidden too");
        std::fs::create_dir_all(dir.path().join("usr/lib/x.d/d.conf")).unwrap();
        assert_eq!(
            gathered(&root, &["/etc/x.d", "/run/x.d", "/usr/lib/x.d"]),
            [
                ("/usr/lib/x.d/a.conf".to_string(), "vendor a".to_string()),
                ("/etc/x.d/b.conf".to_string(), "etc b".to_string()),
            ]
        );
    }

    #[test]
    fn a_link_to_dev_null_masks_and_links_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        write(dir.path(), "/usr/lib/x.d/a.conf", "vendor a");
        write(dir.path(), "/usr/lib/x.d/b.conf", "vendor b");
        write(dir.path(), "/srv/real.conf", "linked b");
        std::fs::create_dir_all(dir.path().join("etc/x.d")).unwrap();
        // Absolute targets: resolved under the root, not on the host.
        std::os::unix::fs::symlink("/dev/null", dir.path().join("etc/x.d/a.conf")).unwrap();
        std::os::unix::fs::symlink("/srv/real.conf", dir.path().join("etc/x.d/b.conf")).unwrap();
        std::os::unix::fs::symlink("/nowhere.conf", dir.path().join("etc/x.d/c.conf")).unwrap();
        assert_eq!(
            gathered(&root, &["/etc/x.d", "/usr/lib/x.d"]),
            [
                ("/etc/x.d/a.conf".to_string(), String::new()),
                ("/etc/x.d/b.conf".to_string(), "linked b".to_string()),
            ]
        );
    }

    #[test]
    fn a_directory_that_cannot_be_listed_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        // A file where a directory should be lists as nothing, as kmod and systemd skip it.
        write(dir.path(), "/etc/x.d", "a file");
        let mut files = ConfFiles::new();
        files.add_dir(&root, "/etc/x.d").unwrap();
        // A link loop (ELOOP) cannot be listed, by root either: reported, since what it
        // would have hidden is unknown.
        std::os::unix::fs::symlink("loop.d", dir.path().join("loop.d")).unwrap();
        let err = files.add_dir(&root, "/loop.d").unwrap_err();
        assert!(err.to_string().contains("loop.d"), "{err}");
    }
}
