//! One lock so that concurrent `ensure` runs (many udev events at boot, the boot unit, an
//! operator) do one build: the first takes the lock and builds, the others wait, then find
//! the work done and succeed.
//!
//! `flock(2)` is used because the kernel drops it when the holder dies, so a crashed or
//! killed loader never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::Error;
use crate::root::Root;

/// The lock file, on tmpfs so it never outlives a boot.
pub const LOCK_PATH: &str = "/run/dahdi-loader.lock";

pub use crate::defaults::DEFAULT_LOCK_TIMEOUT as DEFAULT_TIMEOUT;

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _flock: Flock<File>,
    /// Where the lock is.
    pub path: PathBuf,
    /// How long we waited for another holder.
    pub waited: Duration,
}

impl Lock {
    /// The lock's descriptor, for handing down to a child that must keep the lock while it
    /// lives (dkms: see [`crate::dkms::Dkms::inherit`]).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self._flock.as_raw_fd()
    }
}

/// Takes the loader's lock under `root`, waiting up to `timeout`. `on_wait` is called once
/// if the lock is busy, so the caller can say why it is waiting.
pub fn acquire(root: &Root, timeout: Duration, on_wait: impl FnOnce()) -> Result<Lock, Error> {
    acquire_at(&root.join(LOCK_PATH), timeout, on_wait)
}

/// Takes an exclusive flock on `path` (created 0600 if needed).
pub fn acquire_at(path: &Path, timeout: Duration, on_wait: impl FnOnce()) -> Result<Lock, Error> {
    if let Some(parent) = path.parent() {
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
    }
    let start = Instant::now();
    let mut on_wait = Some(on_wait);
    let mut file = open(path)?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(flock) => {
                return Ok(Lock {
                    _flock: flock,
                    path: path.to_path_buf(),
                    waited: start.elapsed(),
                })
            }
            Err((f, Errno::EWOULDBLOCK)) | Err((f, Errno::EINTR)) => {
                if let Some(cb) = on_wait.take() {
                    cb();
                }
                if start.elapsed() >= timeout {
                    return Err(Error::LockTimeout {
                        path: path.to_path_buf(),
                        secs: timeout.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
                file = f;
            }
            Err((_, errno)) => {
                return Err(Error::io("lock", path, std::io::Error::from(errno)));
            }
        }
    }
}

fn open(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        // Refuse a symlink planted at the lock path: we run as root.
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io("open", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn second_taker_waits_then_gets_it() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        let first = acquire(&root, Duration::from_secs(5), || {}).unwrap();
        let waited = Arc::new(AtomicUsize::new(0));
        let w = waited.clone();
        let root2 = root.clone();
        let h = std::thread::spawn(move || {
            let l = acquire(&root2, Duration::from_secs(5), || {
                w.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
            l.waited
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
        let waited_for = h.join().unwrap();
        assert_eq!(waited.load(Ordering::SeqCst), 1);
        assert!(waited_for >= Duration::from_millis(200), "{waited_for:?}");
    }

    #[test]
    fn times_out_with_a_clear_error() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        let _held = acquire(&root, Duration::from_secs(5), || {}).unwrap();
        let e = acquire(&root, Duration::from_millis(250), || {}).unwrap_err();
        assert!(matches!(e, Error::LockTimeout { .. }), "{e}");
        assert_eq!(e.exit_code(), crate::ExitCode::TempFail);
    }

    #[test]
    fn refuses_symlinked_lock() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("run")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.path().join("run/dahdi-loader.lock")).unwrap();
        let e = acquire(&Root::new(t.path()), Duration::from_millis(10), || {}).unwrap_err();
        assert!(e.to_string().contains("could not open"), "{e}");
    }
}
