//! A guest suite: one boot of the fast (initramfs) level that runs one or
//! more guest programs against the real driver, and the host-side report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::guest::GuestResult;
use crate::initramfs::{ImageContents, BUSYBOX};
use crate::kernel::KernelUnderTest;
use crate::qemu::{Accel, QemuConfig};
use crate::HarnessError;

/// A module the init script loads with busybox's insmod before the tests.
#[derive(Debug, Clone)]
pub struct ModuleLoad {
    pub name: String,
    pub params: Vec<String>,
}

/// Everything one boot needs.  Build it with the methods, then [`run`](Self::run).
#[derive(Debug, Clone)]
pub struct GuestSuite {
    pub name: String,
    programs: Vec<PathBuf>,
    modules: Vec<ModuleLoad>,
    executables: Vec<(PathBuf, String)>,
    files: Vec<(String, u32, Vec<u8>)>,
    setup: Vec<String>,
    kernel_args: Vec<String>,
    pub boot_timeout: Duration,
    pub test_timeout: Duration,
    pub memory_mb: u32,
    /// Guest CPUs (under TCG, one host thread each).
    pub cpus: u32,
}

/// What one boot produced.
#[derive(Debug)]
pub struct SuiteReport {
    pub kernel: String,
    pub results: Vec<GuestResult>,
    pub setup_failures: Vec<String>,
    pub booted: bool,
    pub finished: bool,
    pub timed_out: bool,
    pub wall: Duration,
    pub console: String,
    /// The guest kernel died before /init ran, and the suite was booted again: the first
    /// boot's panic line. (Under TCG a 6.12 guest was once seen to die of a stray int3 in
    /// sched_clock_cpu while the kernel patched its own code during early init: an
    /// emulation fault, before any of the project's code or modules were in the guest's
    /// hands.)
    pub early_crash_retried: Option<String>,
}

/// The kernel's panic line, when the guest died before /init reported `@@BOOTED`: nothing
/// of the project (no DAHDI module, no test program) had run yet.
fn early_kernel_crash(results: &str, console: &str) -> Option<String> {
    if results.lines().any(|l| l.starts_with("@@BOOTED")) {
        return None;
    }
    console
        .lines()
        .find(|l| l.contains("Kernel panic") || l.contains("Oops:"))
        .map(|l| l.trim().to_owned())
}

impl GuestSuite {
    pub fn new(name: &str) -> Self {
        GuestSuite {
            name: name.to_owned(),
            programs: Vec::new(),
            modules: Vec::new(),
            executables: Vec::new(),
            files: Vec::new(),
            setup: Vec::new(),
            kernel_args: Vec::new(),
            boot_timeout: Duration::from_secs(120),
            test_timeout: Duration::from_secs(60),
            memory_mb: 512,
            cpus: 1,
        }
    }

    /// A guest program built with [`crate::guest::guest_main`].
    pub fn program(mut self, host_path: impl Into<PathBuf>) -> Self {
        self.programs.push(host_path.into());
        self
    }

    /// Load a DKMS-built module (by name) before the tests, with parameters.
    pub fn module(mut self, name: &str, params: &[&str]) -> Self {
        self.modules.push(ModuleLoad {
            name: name.to_owned(),
            params: params.iter().map(|s| (*s).to_owned()).collect(),
        });
        self
    }

    /// Another host executable (e.g. a dahdi-tools program) with its libraries.
    pub fn executable(mut self, host: impl Into<PathBuf>, guest: &str) -> Self {
        self.executables.push((host.into(), guest.to_owned()));
        self
    }

    /// A file with the given content.
    pub fn file(mut self, guest: &str, mode: u32, data: impl Into<Vec<u8>>) -> Self {
        self.files.push((guest.to_owned(), mode, data.into()));
        self
    }

    /// A busybox shell line run before the tests; its failure fails the suite.
    pub fn setup(mut self, line: &str) -> Self {
        self.setup.push(line.to_owned());
        self
    }

    /// A word added to the kernel command line (e.g. `module.sig_enforce=1`).
    pub fn kernel_arg(mut self, arg: &str) -> Self {
        self.kernel_args.push(arg.to_owned());
        self
    }

    /// The tests each program declares, as `(program, test)`, asked of the
    /// program itself on the host so the host knows what must come back.
    pub fn list(&self) -> Result<Vec<(String, String)>, HarnessError> {
        let mut all = Vec::new();
        for p in &self.programs {
            let out = std::process::Command::new(p)
                .arg("--guest-list")
                .output()
                .map_err(|e| HarnessError::Setup(format!("{} --guest-list: {e}", p.display())))?;
            if !out.status.success() {
                return Err(HarnessError::Setup(format!(
                    "{} --guest-list failed",
                    p.display()
                )));
            }
            let prog = program_name(p);
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                all.push((prog.clone(), l.trim().to_owned()));
            }
        }
        Ok(all)
    }

    /// The modules to insmod, dependencies first, each with its guest path
    /// in `image` and its parameters.
    fn module_loads(
        &self,
        kernel: &KernelUnderTest,
        image: &mut ImageContents,
    ) -> Result<Vec<(String, String, Vec<String>)>, HarnessError> {
        let names: Vec<&str> = self.modules.iter().map(|m| m.name.as_str()).collect();
        let mut loads = Vec::new();
        for l in crate::moddep::load_order(kernel, &names)? {
            let guest = image.insmod_file(kernel, &l.host)?;
            let params = self
                .modules
                .iter()
                .find(|m| m.name.replace('-', "_") == l.name.replace('-', "_"))
                .map(|m| m.params.clone())
                .unwrap_or_default();
            loads.push((l.name, guest, params));
        }
        Ok(loads)
    }

    fn init_script(
        &self,
        loads: &[(String, String, Vec<String>)],
        only: Option<&[(String, String)]>,
    ) -> String {
        let mut s = String::from(
            "#!/bin/busybox sh\n\
             /bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin\n\
             /bin/busybox --install -s\n\
             export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin\n\
             mount -t proc proc /proc\n\
             mount -t sysfs sys /sys\n\
             mount -t devtmpfs dev /dev\n\
             mkdir -p /dev/shm /dev/pts\n\
             mount -t tmpfs shm /dev/shm\n\
             mount -t tmpfs tmp /tmp\n\
             R=/dev/ttyS1\n\
             stty -F $R raw -echo 2>/dev/null\n\
             echo \"@@BOOTED $(uname -r)\" > $R\n",
        );
        for (name, path, params) in loads {
            s.push_str(&format!(
                "insmod {path} {} || echo \"@@SETUP-FAILED insmod {name} $(dmesg | tail -n 3)\" > $R\n",
                params.join(" "),
            ));
        }
        for line in &self.setup {
            s.push_str(&format!(
                "( {line} ) > /tmp/setup.out 2>&1 || echo \"@@SETUP-FAILED {} : $(tail -n 5 /tmp/setup.out)\" > $R\n",
                line.replace('"', "'")
            ));
        }
        for p in &self.programs {
            let prog = program_name(p);
            let mut cmd = format!(
                "/usr/bin/{prog} --guest-run-all --results $R --timeout {}",
                self.test_timeout.as_secs()
            );
            if let Some(only) = only {
                let names: Vec<&str> = only
                    .iter()
                    .filter(|(p, _)| *p == prog)
                    .map(|(_, t)| t.as_str())
                    .collect();
                if names.is_empty() {
                    continue;
                }
                cmd.push_str(&format!(" --only {}", names.join(",")));
            }
            s.push_str(&cmd);
            s.push('\n');
        }
        s.push_str(
            "echo @@DONE > $R\n\
             echo '---- guest dmesg ----'\n\
             dmesg\n\
             sync\n\
             poweroff -f\n",
        );
        s
    }

    /// Builds the image, boots it and collects the results.  `only` limits
    /// the run to some tests (all when `None`).
    pub fn run(
        &self,
        kernel: &KernelUnderTest,
        accel: Accel,
        only: Option<&[(String, String)]>,
    ) -> Result<SuiteReport, HarnessError> {
        if !Path::new(BUSYBOX).is_file() {
            return Err(HarnessError::Setup(format!(
                "{BUSYBOX} is missing: apt-get install busybox-static (scripts/install.sh does)"
            )));
        }
        let work = tempfile::Builder::new()
            .prefix(&format!("dahdi-vm-{}-", self.name))
            .tempdir()
            .map_err(|e| HarnessError::Setup(format!("temporary directory: {e}")))?;
        let mut image = ImageContents::new();
        image.host_file(Path::new(BUSYBOX), "/bin/busybox")?;
        image.dahdi_modules(kernel)?;
        for p in &self.programs {
            image.executable(p, &format!("/usr/bin/{}", program_name(p)))?;
        }
        for (host, guest) in &self.executables {
            image.executable(host, guest)?;
        }
        for (guest, mode, data) in &self.files {
            image.bytes(guest, *mode, data.clone());
        }
        let loads = self.module_loads(kernel, &mut image)?;
        image.bytes("/init", 0o755, self.init_script(&loads, only));
        let initrd = work.path().join("initramfs.cpio");
        let f = std::fs::File::create(&initrd)
            .map_err(|e| HarnessError::Setup(format!("{}: {e}", initrd.display())))?;
        image.write_cpio(f)?;

        let mut q = QemuConfig::new(&kernel.image, &initrd);
        q.accel = accel;
        q.memory_mb = self.memory_mb;
        q.cpus = self.cpus;
        for a in &self.kernel_args {
            q.append.push(' ');
            q.append.push_str(a);
        }
        let start = Instant::now();
        let mut run = q.run(work.path(), self.boot_timeout)?;
        // Booted again once, only when the kernel died before /init: see
        // SuiteReport::early_crash_retried. A crash after that (a module load, a test)
        // is the suite's failure and is reported as such.
        let early_crash_retried = early_kernel_crash(&run.results, &run.console);
        if let Some(line) = &early_crash_retried {
            eprintln!(
                "vm: suite {}: the guest kernel died before /init ran ({line}); booting again",
                self.name
            );
            run = q.run(work.path(), self.boot_timeout)?;
        }
        let wall = start.elapsed();

        let mut report = SuiteReport {
            kernel: kernel.release.clone(),
            results: Vec::new(),
            setup_failures: Vec::new(),
            booted: false,
            finished: false,
            timed_out: run.timed_out,
            wall,
            console: run.console,
            early_crash_retried,
        };
        for line in run.results.lines() {
            if line.starts_with("@@BOOTED") {
                report.booted = true;
            } else if line.starts_with("@@DONE") {
                report.finished = true;
            } else if let Some(f) = line.strip_prefix("@@SETUP-FAILED ") {
                report.setup_failures.push(f.to_owned());
            } else if line.starts_with('{') {
                match serde_json::from_str::<GuestResult>(line) {
                    Ok(r) => report.results.push(r),
                    Err(e) => report
                        .setup_failures
                        .push(format!("garbled result line ({e}): {line}")),
                }
            }
        }
        Ok(report)
    }
}

impl SuiteReport {
    /// The verdict for one test: `Err` carries everything needed to see why.
    pub fn verdict(&self, program: &str, test: &str) -> Result<(), String> {
        let tail = |s: &str| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(60)..].join("\n")
        };
        if !self.setup_failures.is_empty() {
            return Err(format!(
                "guest setup failed: {:?}\n---- console (tail) ----\n{}",
                self.setup_failures,
                tail(&self.console)
            ));
        }
        match self
            .results
            .iter()
            .find(|r| r.program == program && r.test == test)
        {
            Some(r) if r.passed => {
                // The margins a passing test had (late ticks, stalls) are
                // worth seeing when tuning a test for a slow host.
                if std::env::var_os("DAHDI_VM_SHOW_OUTPUT").is_some() {
                    eprintln!(
                        "---- {program}::{test} ({} ms) ----\n{}",
                        r.millis, r.output
                    );
                }
                Ok(())
            }
            Some(r) => Err(format!(
                "guest test {program}::{test} failed after {} ms:\n{}",
                r.millis, r.output
            )),
            None => Err(format!(
                "guest test {program}::{test} reported no result (booted: {}, finished: {}, \
                 timed out: {}, wall {:.1?}); the guest console ends with:\n{}",
                self.booted,
                self.finished,
                self.timed_out,
                self.wall,
                tail(&self.console)
            )),
        }
    }
}

pub(crate) fn program_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::early_kernel_crash;

    #[test]
    fn only_a_death_before_init_is_an_early_crash() {
        let panic = "[ 1.58] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n\
                     [ 1.59] Kernel panic - not syncing: Fatal exception in interrupt";
        assert_eq!(
            early_kernel_crash("", panic).as_deref(),
            Some("[ 1.58] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI")
        );
        // After /init reported, a crash is the suite's (a module, a test): not retried.
        assert_eq!(
            early_kernel_crash("@@BOOTED 6.12.117+deb13-amd64\n", panic),
            None
        );
        // A guest that never booted but did not crash (a timeout, a missing kernel).
        assert_eq!(early_kernel_crash("", "[ 0.1] Linux version 6.1.0\n"), None);
    }
}
