//! Running DKMS to build and install DAHDI for a kernel.
//!
//! `dkms` is started with an argument vector (never a shell string): the version and kernel
//! are validated, and even so no value is ever re-parsed by a shell. Its output goes to our
//! stderr so the operator sees progress on a terminal and the journal keeps it at boot,
//! while `--json` output on stdout stays clean. On failure the tail of make.log is shown,
//! and anything DKMS left built or installed for that kernel is removed again, so the
//! system is never left half-installed.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::tree::{self, State};
use crate::error::Error;
use crate::names::{KernelRelease, PackageName, Version};
use crate::root::Root;

/// Where dkms lives on Debian; overridable for tests and other layouts.
pub const DEFAULT_DKMS: &str = "/usr/sbin/dkms";

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
}

impl Dkms {
    /// The argument vector for one dkms action on `module`/`version`/`kernel`.
    pub fn args(
        &self,
        action: &str,
        module: &PackageName,
        version: &Version,
        kernel: &KernelRelease,
    ) -> Vec<String> {
        let mut a: Vec<String> = vec![
            action.into(),
            "-m".into(),
            module.to_string(),
            "-v".into(),
            version.to_string(),
            "-k".into(),
            kernel.to_string(),
        ];
        if !self.root.is_live() {
            // dkms's own options for alternate trees, so a build under --root stays there.
            for (opt, path) in [
                ("--dkmstree", "/var/lib/dkms"),
                ("--sourcetree", "/usr/src"),
                ("--installtree", "/lib/modules"),
            ] {
                a.push(opt.into());
                a.push(self.root.join(path).to_string_lossy().into_owned());
            }
        }
        a
    }

    fn run(&self, args: &[String]) -> Result<std::process::ExitStatus, std::io::Error> {
        // dkms's stdout goes to our stderr: stdout is reserved for our own (JSON) output.
        let err_fd = std::io::stderr().as_fd().try_clone_to_owned()?;
        Command::new(&self.program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(err_fd))
            .stderr(Stdio::inherit())
            .status()
    }

    /// Builds and installs `version` of `module` for `kernel`. On failure, shows make.log's
    /// tail (in the error) and removes whatever the failed attempt left for that kernel.
    pub fn install(
        &self,
        module: &PackageName,
        version: &Version,
        kernel: &KernelRelease,
        quiet: bool,
    ) -> Result<(), Error> {
        if !quiet {
            eprintln!(
                "dahdi-loader: building {module} {version} for kernel {kernel} with DKMS; this takes a few minutes"
            );
        }
        let start = Instant::now();
        let args = self.args("install", module, version, kernel);
        let status = self.run(&args).map_err(|e| Error::Build {
            kernel: kernel.to_string(),
            version: version.to_string(),
            detail: format!("could not start {}: {e}", self.program.display()),
            log_tail: None,
            log_path: None,
        })?;
        if status.success() {
            if !quiet {
                eprintln!(
                    "dahdi-loader: DKMS finished in {} s",
                    start.elapsed().as_secs()
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
        let log_path = self.make_log(module, version, kernel);
        let log_tail = log_path
            .as_deref()
            .and_then(|p| tree::log_tail(p, LOG_TAIL_LINES));
        self.roll_back(module, version, kernel, quiet);
        Err(Error::Build {
            kernel: kernel.to_string(),
            version: version.to_string(),
            detail,
            log_tail,
            log_path,
        })
    }

    /// Removes `version` of `module` from `kernel` (built and installed files), keeping the
    /// version registered for other kernels.
    pub fn remove(
        &self,
        module: &PackageName,
        version: &Version,
        kernel: &KernelRelease,
    ) -> Result<(), Error> {
        let args = self.args("remove", module, version, kernel);
        match self.run(&args) {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(Error::Build {
                kernel: kernel.to_string(),
                version: version.to_string(),
                detail: format!("dkms remove exited with {s}"),
                log_tail: None,
                log_path: None,
            }),
            Err(e) => Err(Error::Build {
                kernel: kernel.to_string(),
                version: version.to_string(),
                detail: format!("could not start {}: {e}", self.program.display()),
                log_tail: None,
                log_path: None,
            }),
        }
    }

    /// A failed build leaves make.log in `build/`; a failure after the build in the
    /// per-kernel `log/` directory.
    fn make_log(
        &self,
        module: &PackageName,
        version: &Version,
        kernel: &KernelRelease,
    ) -> Option<PathBuf> {
        let vdir = self.root.join("/var/lib/dkms").join(module).join(version);
        let failed = vdir.join("build/make.log");
        if failed.is_file() {
            return Some(failed);
        }
        crate::root::list_dir(&vdir.join(kernel))
            .ok()?
            .into_iter()
            .map(|arch| vdir.join(kernel).join(arch).join("log/make.log"))
            .find(|p| p.is_file())
    }

    /// Leaves nothing half-installed: if the failed attempt got as far as built or
    /// installed for this kernel, remove it for this kernel.
    fn roll_back(
        &self,
        module: &PackageName,
        version: &Version,
        kernel: &KernelRelease,
        quiet: bool,
    ) {
        let state = tree::read_module(&self.root, module)
            .ok()
            .flatten()
            .and_then(|m| {
                m.versions
                    .iter()
                    .find(|v| &v.version == version)
                    .map(|v| v.state_for(kernel))
            });
        if matches!(state, Some(State::Built) | Some(State::Installed)) {
            if !quiet {
                eprintln!("dahdi-loader: removing the incomplete DKMS build of {module} {version} for {kernel}");
            }
            if let Err(e) = self.remove(module, version, kernel) {
                eprintln!("dahdi-loader: could not roll back: {e}");
            }
        }
    }
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
        let d = Dkms {
            program: "/usr/sbin/dkms".into(),
            root: Root::default(),
        };
        let (m, v, k) = names("dahdi", "2.11.1", "6.1.0-56-amd64");
        assert_eq!(
            d.args("install", &m, &v, &k),
            vec![
                "install",
                "-m",
                "dahdi",
                "-v",
                "2.11.1",
                "-k",
                "6.1.0-56-amd64"
            ]
        );
        let d = Dkms {
            program: "/usr/sbin/dkms".into(),
            root: Root::new("/tmp/r"),
        };
        let (m, v, k) = names("dahdi", "1", "k");
        let a = d.args("remove", &m, &v, &k);
        assert!(a
            .windows(2)
            .any(|w| w == ["--dkmstree", "/tmp/r/var/lib/dkms"]));
        assert!(a
            .windows(2)
            .any(|w| w == ["--installtree", "/tmp/r/lib/modules"]));
    }
}
