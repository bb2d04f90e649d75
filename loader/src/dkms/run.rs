//! Running DKMS: building into a tree (the system's, or a private staging tree), installing
//! a build, taking a build away.
//!
//! `dkms` is started with an argument vector (never a shell string) made of validated
//! names, so no value is ever re-parsed by a shell. Its output goes to our stderr so the
//! operator sees progress on a terminal and the journal keeps it at boot, while `--json`
//! output on stdout stays clean.
//!
//! The loader's lock is handed down to dkms (the descriptor stays open across `exec`), so a
//! dkms that outlives a killed loader still holds the lock: the next loader waits for it
//! instead of starting a second build beside it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::tree;
use crate::error::Error;
use crate::journal::{log, Priority};
use crate::names::{KernelRelease, PackageName, Version};
use crate::root::Root;

pub use crate::defaults::DEFAULT_DKMS;

/// Lines of make.log shown after a failed build.
pub const LOG_TAIL_LINES: usize = 30;

/// DKMS's exit status for "skipped because of BUILD_EXCLUSIVE_*".
pub const DKMS_EXIT_EXCLUDED: i32 = 77;

/// How to run dkms.
#[derive(Debug, Clone)]
pub struct Dkms {
    /// The dkms program.
    pub program: PathBuf,
    /// Where the system is; with a non-live root, DKMS is pointed at the trees under it.
    pub root: Root,
    /// A descriptor every dkms process inherits (the loader's lock).
    pub inherit: Option<RawFd>,
    /// No progress messages of our own.
    pub quiet: bool,
    /// How long one dkms run may take before it is stopped (with everything it started).
    pub timeout: std::time::Duration,
}

/// Default bound of one dkms run: DAHDI builds in minutes; an hour means it hangs.
pub const DEFAULT_BUILD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// What a boot's `ensure` may still do after a build ran its full time (install it with
/// depmod, verify again, load, wait for /dev/dahdi/ctl): the margin systemd's start timeout
/// gets beyond the build's own bound.
pub const AFTER_BUILD: std::time::Duration = std::time::Duration::from_secs(600);

/// dkms ran longer than its bound and was stopped.
#[derive(Debug)]
struct TimedOutMessage(std::time::Duration);

impl std::fmt::Display for TimedOutMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "it ran longer than {} s and was stopped with everything it started (raise build-timeout in /etc/dahdi-loader if builds are that slow here)",
            self.0.as_secs()
        )
    }
}

impl std::error::Error for TimedOutMessage {}

/// One module version for one kernel: what every dkms action names.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The DKMS module (PACKAGE_NAME).
    pub module: &'a PackageName,
    /// Its version.
    pub version: &'a Version,
    /// The kernel.
    pub kernel: &'a KernelRelease,
}

impl Dkms {
    /// A runner for `program` on the system under `root`.
    pub fn new(program: impl Into<PathBuf>, root: Root) -> Self {
        Dkms {
            program: program.into(),
            root,
            inherit: None,
            quiet: false,
            timeout: DEFAULT_BUILD_TIMEOUT,
        }
    }

    /// The system's DKMS tree.
    pub fn system_tree(&self) -> PathBuf {
        self.root.join("/var/lib/dkms")
    }

    /// The argument vector for `action`; `tree` replaces the system's DKMS tree.
    pub fn args(
        &self,
        action: &str,
        t: &Target<'_>,
        tree: Option<&Path>,
        with_kernel: bool,
    ) -> Vec<String> {
        let mut a: Vec<String> = vec![
            action.into(),
            "-m".into(),
            t.module.to_string(),
            "-v".into(),
            t.version.to_string(),
        ];
        if with_kernel {
            a.push("-k".into());
            a.push(t.kernel.to_string());
        }
        // dkms's own options for alternate trees: a build under --root stays there, a
        // staging build stays in its private tree.
        let tree = tree
            .map(Path::to_path_buf)
            .or_else(|| (!self.root.is_live()).then(|| self.system_tree()));
        if let Some(tree) = tree {
            a.push("--dkmstree".into());
            a.push(tree.to_string_lossy().into_owned());
        }
        if !self.root.is_live() {
            for (opt, path) in [
                ("--sourcetree", "/usr/src"),
                ("--installtree", "/lib/modules"),
            ] {
                a.push(opt.into());
                a.push(self.root.join(path).to_string_lossy().into_owned());
            }
        }
        a
    }

    /// Runs dkms in a process group of its own, bounded by [`Dkms::timeout`]: past it the
    /// whole group (dkms, make, the compilers) is stopped.
    fn run(&self, args: &[String]) -> Result<std::process::ExitStatus, std::io::Error> {
        // dkms's stdout goes to our stderr: stdout is reserved for our own (JSON) output.
        let err_fd = std::io::stderr().as_fd().try_clone_to_owned()?;
        let mut cmd = Command::new(&self.program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(err_fd))
            .stderr(Stdio::inherit())
            .process_group(0);
        if let Some(fd) = self.inherit {
            // SAFETY: only fcntl(2), which is async-signal-safe, runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || keep_open_across_exec(fd));
            }
        }
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let group = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
                let grace = Instant::now() + std::time::Duration::from_secs(10);
                while child.try_wait()?.is_none() && Instant::now() < grace {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    TimedOutMessage(self.timeout),
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn fail(&self, t: &Target<'_>, detail: String, log_path: Option<PathBuf>) -> Error {
        let log_tail = log_path
            .as_deref()
            .and_then(|p| tree::log_tail(p, LOG_TAIL_LINES));
        Error::Build {
            kernel: t.kernel.to_string(),
            version: t.version.to_string(),
            detail,
            log_tail,
            log_path,
        }
    }

    fn could_not_start(&self, t: &Target<'_>, e: std::io::Error) -> Error {
        self.fail(
            t,
            format!("could not start {}: {e}", self.program.display()),
            None,
        )
    }

    /// Runs one action that must succeed.
    fn must(
        &self,
        action: &str,
        t: &Target<'_>,
        tree: Option<&Path>,
        with_kernel: bool,
    ) -> Result<(), Error> {
        let args = self.args(action, t, tree, with_kernel);
        match self.run(&args) {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(self.fail(t, format!("dkms {action} exited with {s}"), None)),
            Err(e) => Err(self.could_not_start(t, e)),
        }
    }

    /// Registers the version in a private tree (`dkms add --dkmstree TREE`), linking the
    /// system's source.
    pub fn add_to(&self, tree: &Path, t: &Target<'_>) -> Result<(), Error> {
        self.must("add", t, Some(tree), false)
    }

    /// Builds in `tree` (the system's when `None`): compiles, signs and compresses as DKMS
    /// does, without installing anything. On failure the error carries make.log's tail.
    pub fn build(&self, tree: Option<&Path>, t: &Target<'_>) -> Result<(), Error> {
        if !self.quiet {
            log(
                Priority::Notice,
                &format!(
                    "building {} {} for kernel {} with DKMS; this takes a few minutes",
                    t.module, t.version, t.kernel
                ),
            );
        }
        // The unit may be waiting for this at boot: systemctl status says so, and the
        // unit's start timeout lasts at least as long as the build may (and the install
        // after it).
        crate::notify::status_for(
            &format!(
                "building {} {} for kernel {} with DKMS (may take minutes)",
                t.module, t.version, t.kernel
            ),
            self.timeout + AFTER_BUILD,
        );
        let start = Instant::now();
        let args = self.args("build", t, tree, true);
        let status = match self.run(&args) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                let tree = tree.map_or_else(|| self.system_tree(), Path::to_path_buf);
                return Err(self.fail(t, format!("dkms build: {e}"), make_log(&tree, t)));
            }
            Err(e) => return Err(self.could_not_start(t, e)),
        };
        if status.success() {
            if !self.quiet {
                log(
                    Priority::Info,
                    &format!("DKMS finished in {} s", start.elapsed().as_secs()),
                );
            }
            return Ok(());
        }
        let detail = match status.code() {
            Some(DKMS_EXIT_EXCLUDED) => format!(
                "dkms skipped it (exit {DKMS_EXIT_EXCLUDED}): the package's dkms.conf excludes this kernel (BUILD_EXCLUSIVE_*)"
            ),
            Some(c) => format!("dkms exited with status {c}"),
            None => "dkms was killed by a signal".into(),
        };
        let tree = tree.map_or_else(|| self.system_tree(), Path::to_path_buf);
        Err(self.fail(t, detail, make_log(&tree, t)))
    }

    /// Installs a build that is already in the system's tree (`dkms install`: copies the
    /// modules into /lib/modules, runs depmod).
    pub fn install(&self, t: &Target<'_>) -> Result<(), Error> {
        self.must("install", t, None, true)
    }

    /// Takes the build for one kernel out of the system's tree and /lib/modules, keeping
    /// the version registered (`dkms unbuild`, DKMS 3.0 and later). Unlike `dkms remove`,
    /// which deletes the version from the tree when no other kernel has a build of it.
    pub fn unbuild(&self, t: &Target<'_>) -> Result<(), Error> {
        self.must("unbuild", t, None, true)
    }
}

/// Clears `FD_CLOEXEC` on `fd` (in the child, before exec).
fn keep_open_across_exec(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: the descriptor is the caller's lock file, open for the life of the process.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    nix::fcntl::fcntl(
        fd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map(drop)
    .map_err(std::io::Error::from)
}

/// Where a build left make.log: `build/` after a failure, the per-kernel `log/` after a
/// failure past the compiler.
pub fn make_log(tree: &Path, t: &Target<'_>) -> Option<PathBuf> {
    let vdir = tree.join(t.module).join(t.version);
    let failed = vdir.join("build/make.log");
    if failed.is_file() {
        return Some(failed);
    }
    crate::root::list_dir(&vdir.join(t.kernel))
        .ok()?
        .into_iter()
        .map(|arch| vdir.join(t.kernel).join(arch).join("log/make.log"))
        .find(|p| p.is_file())
}

/// Whether `path` exists and is executable, for a clear error before trying.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: &str, v: &str, k: &str) -> (PackageName, Version, KernelRelease) {
        (
            PackageName::new(m).unwrap(),
            Version::new(v).unwrap(),
            KernelRelease::new(k).unwrap(),
        )
    }

    #[test]
    fn argument_vector_has_no_shell() {
        let d = Dkms::new("/usr/sbin/dkms", Root::default());
        let (m, v, k) = names("dahdi", "2.11.1", "6.1.0-56-amd64");
        let t = Target {
            module: &m,
            version: &v,
            kernel: &k,
        };
        assert_eq!(
            d.args("install", &t, None, true),
            [
                "install",
                "-m",
                "dahdi",
                "-v",
                "2.11.1",
                "-k",
                "6.1.0-56-amd64"
            ]
        );
        assert_eq!(
            d.args(
                "add",
                &t,
                Some(Path::new("/var/lib/dahdi-loader/stage")),
                false
            ),
            [
                "add",
                "-m",
                "dahdi",
                "-v",
                "2.11.1",
                "--dkmstree",
                "/var/lib/dahdi-loader/stage"
            ]
        );
        let d = Dkms::new("/usr/sbin/dkms", Root::new("/tmp/r"));
        let a = d.args("unbuild", &t, None, true);
        assert!(a
            .windows(2)
            .any(|w| w == ["--dkmstree", "/tmp/r/var/lib/dkms"]));
        assert!(a
            .windows(2)
            .any(|w| w == ["--installtree", "/tmp/r/lib/modules"]));
    }

    #[test]
    fn the_lock_descriptor_reaches_dkms() {
        let t = tempfile::tempdir().unwrap();
        let lock = std::fs::File::create(t.path().join("lock")).unwrap();
        let fd = lock.as_raw_fd();
        // A stand-in dkms that reports whether descriptor `fd` is the lock file in it (not
        // merely open: the shell may hold its script on that number when tests run in
        // parallel and descriptors are numbered differently).
        let prog = t.path().join("dkms");
        let path = t.path().join("lock");
        std::fs::write(
            &prog,
            format!(
                "#!/bin/sh\n[ \"$(readlink /proc/$$/fd/{fd})\" = \"{}\" ] && exit 0\nexit 9\n",
                path.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (m, v, k) = names("dahdi", "1", "6.1.0-1-amd64");
        let tg = Target {
            module: &m,
            version: &v,
            kernel: &k,
        };
        let mut d = Dkms::new(&prog, Root::new(t.path()));
        d.quiet = true;
        assert!(d.install(&tg).is_err(), "not inherited unless asked");
        d.inherit = Some(fd);
        d.install(&tg).expect("inherited");
    }
}
