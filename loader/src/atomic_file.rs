//! Writing a file so that a reader sees the old content or the new, never half of either:
//! the new content goes to a hidden file in the same directory (same file system, so the
//! rename is atomic), is synced, and is renamed over the old; then the directory is synced.
//! node_exporter's textfile collector reads `*.prom` files at any moment, and a record read
//! at boot after a power cut must not be a torn one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Replaces `path` with `content` atomically. The temporary name starts with `.` and does
/// not end in the target's extension, so a collector that reads `*.prom` never sees it.
pub fn replace(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let tmp = temporary(path);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `DIR/.NAME.PID.tmp`: beside the target, unique to this process.
fn temporary(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.prom");
        replace(&p, b"one\n").unwrap();
        replace(&p, b"two\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x.prom"]);
        // A directory that does not exist: an error, and nothing written anywhere.
        assert!(replace(&dir.path().join("no/x.prom"), b"x").is_err());
    }
}
