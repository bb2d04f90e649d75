//! Other dkms runs on the machine, and waiting for them.
//!
//! DKMS takes no lock around a build (neither Debian 12's DKMS 3.0.10 nor Debian 13's
//! 3.2.2: their only lock files are the rpm-safe-upgrade markers of `dkms remove`), and
//! it builds each module version in one directory shared by every kernel
//! (/var/lib/dkms/MODULE/VERSION/build). Its kernel hooks (`dkms autoinstall` or
//! `dkms kernel_postinst` from /etc/kernel/postinst.d and header_postinst.d) and an
//! operator's `dkms install` can therefore run at any moment, beside each other and beside
//! the loader. The loader's own builds are serialised by its lock ([`crate::lock`]); a dkms
//! it did not start is found here, in /proc, and waited for before the loader reads the
//! system, so that it judges what that dkms left and never builds beside it.
//!
//! A dkms is recognised by its command line: the `dkms` script run directly (argv[0]) or
//! through a shell (argv[1]). Its children (make, gcc) need not be found: the dkms process
//! lives until its build and install are over. Only a dkms working on this system counts:
//! its root directory (/proc/PID/root) is the loader's root. A dkms in a chroot or
//! container on the same machine (an image being built, say) works on another DKMS tree,
//! and waiting for it would only delay the boot.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::Error;
use crate::root::Root;

/// A dkms process the loader did not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Running {
    /// Its process id.
    pub pid: u32,
    /// Its command line, words joined by spaces.
    pub command: String,
}

/// Whether a command line (NUL-separated, as /proc/PID/cmdline has it) runs dkms.
pub fn is_dkms(cmdline: &[u8]) -> Option<String> {
    let words: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let base = |w: &String| {
        Path::new(w)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let shells = ["bash", "sh", "dash"];
    let runs_dkms = match words.as_slice() {
        [first, ..] if base(first) == "dkms" => true,
        [first, second, ..] if shells.contains(&base(first).as_str()) => base(second) == "dkms",
        _ => false,
    };
    runs_dkms.then(|| words.join(" "))
}

/// The dkms processes under `root`'s /proc, but this process.
pub fn running(root: &Root) -> Vec<Running> {
    let me = std::process::id();
    let ours = identity(&root.join("/"));
    let mut out: Vec<Running> = std::fs::read_dir(root.join("/proc"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            if pid == me {
                return None;
            }
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let command = is_dkms(&cmdline)?;
            same_root(&e.path(), ours.as_ref()).then_some(Running { pid, command })
        })
        .collect();
    out.sort_by_key(|r| r.pid);
    out
}

/// A directory's identity: its device and inode.
fn identity(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether the process whose /proc entry is `entry` has `ours` as its root directory. When
/// either cannot be read, it counts: waiting needlessly is safer than building beside it.
fn same_root(entry: &Path, ours: Option<&(u64, u64)>) -> bool {
    match (identity(&entry.join("root")), ours) {
        (Some(theirs), Some(ours)) => theirs == *ours,
        _ => true,
    }
}

/// Waits until no dkms runs under `root`, at most `timeout`. `on_wait` is called once, with
/// what runs, if there is anything to wait for. Returns how long it waited.
pub fn wait_for_none(
    root: &Root,
    timeout: Duration,
    on_wait: impl FnOnce(&[Running]),
) -> Result<Duration, Error> {
    let start = Instant::now();
    let mut on_wait = Some(on_wait);
    loop {
        let now = running(root);
        if now.is_empty() {
            return Ok(start.elapsed());
        }
        if let Some(cb) = on_wait.take() {
            cb(&now);
        }
        if start.elapsed() >= timeout {
            return Err(Error::DkmsBusy {
                running: now
                    .iter()
                    .map(|r| format!("pid {}: {}", r.pid, r.command))
                    .collect::<Vec<_>>()
                    .join("; "),
                secs: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkms_is_recognised_directly_and_through_a_shell() {
        assert_eq!(
            is_dkms(b"/bin/bash\0/usr/sbin/dkms\0autoinstall\0--kernelver\x006.1.0-57-amd64\0")
                .as_deref(),
            Some("/bin/bash /usr/sbin/dkms autoinstall --kernelver 6.1.0-57-amd64")
        );
        assert!(is_dkms(b"dkms\0install\0dahdi/3.1.0\0").is_some());
        assert!(is_dkms(b"/usr/bin/make\0-C\0/var/lib/dkms/dahdi\0").is_none());
        assert!(is_dkms(b"/bin/sh\0-c\0dkms status\0").is_none());
        assert!(is_dkms(b"/usr/sbin/dahdi-loader\0ensure\0").is_none());
        assert!(is_dkms(b"").is_none());
    }

    #[test]
    fn waits_for_a_fake_proc_entry_to_go() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        let entry = t.path().join("proc/4242");
        std::fs::create_dir_all(&entry).unwrap();
        std::fs::write(entry.join("cmdline"), b"/bin/bash\0/usr/sbin/dkms\0build\0").unwrap();
        let gone = entry.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            std::fs::remove_dir_all(gone).unwrap();
        });
        let mut seen = Vec::new();
        let waited = wait_for_none(&root, Duration::from_secs(10), |r| seen = r.to_vec()).unwrap();
        h.join().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].pid, 4242);
        assert!(waited >= Duration::from_millis(500), "{waited:?}");
    }

    #[test]
    fn a_dkms_under_another_root_is_not_waited_for() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path().join("system"));
        std::fs::create_dir_all(t.path().join("system")).unwrap();
        std::fs::create_dir_all(t.path().join("elsewhere")).unwrap();
        for (pid, its_root) in [(10, "system"), (11, "elsewhere")] {
            let entry = t.path().join(format!("system/proc/{pid}"));
            std::fs::create_dir_all(&entry).unwrap();
            std::fs::write(
                entry.join("cmdline"),
                b"/bin/bash\0/usr/sbin/dkms\0autoinstall\0",
            )
            .unwrap();
            std::os::unix::fs::symlink(t.path().join(its_root), entry.join("root")).unwrap();
        }
        let found: Vec<u32> = running(&root).iter().map(|r| r.pid).collect();
        assert_eq!(found, [10]);
    }

    #[test]
    fn gives_up_after_the_timeout_with_what_runs() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        let entry = t.path().join("proc/77");
        std::fs::create_dir_all(&entry).unwrap();
        std::fs::write(entry.join("cmdline"), b"dkms\0autoinstall\0").unwrap();
        let e = wait_for_none(&root, Duration::from_millis(100), |_| {}).unwrap_err();
        assert!(e.to_string().contains("pid 77: dkms autoinstall"), "{e}");
        assert_eq!(e.exit_code(), crate::ExitCode::TempFail);
    }
}
