//! Runs qemu with a deadline and always reaps it.
//!
//! The guest's console (kernel log) goes to one file and the results port
//! (the second serial port, /dev/ttyS1 in the guest) to another, so test
//! results never mix with kernel messages.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::firmware::Ovmf;
use crate::HarnessError;

pub const QEMU: &str = "qemu-system-x86_64";

/// How qemu executes the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Software emulation: slower, but boots on every machine of ours.
    Tcg,
    /// Hardware virtualisation, used only where it was shown to boot.
    Kvm,
}

/// A qemu invocation being built.
#[derive(Debug, Clone)]
pub struct QemuConfig {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub append: String,
    pub memory_mb: u32,
    pub cpus: u32,
    pub accel: Accel,
    pub drives: Vec<PathBuf>,
    pub extra_args: Vec<String>,
    /// Boot through this UEFI firmware and whatever bootloader it finds on the drives;
    /// `kernel`, `initrd` and `append` are then not used.
    pub firmware: Option<Ovmf>,
}

/// What came back from one boot.
#[derive(Debug)]
pub struct QemuRun {
    pub console: String,
    pub results: String,
    pub wall: Duration,
    pub timed_out: bool,
    pub exit: Option<std::process::ExitStatus>,
}

impl QemuRun {
    /// The `RESULT key=value` lines the guest wrote on the results port, values trimmed
    /// (a key written twice keeps its last value).
    pub fn result_values(&self) -> std::collections::BTreeMap<String, String> {
        self.results
            .lines()
            .filter_map(|l| l.strip_prefix("RESULT "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect()
    }

    /// What a failed assertion about the boot prints: everything the guest wrote on the
    /// results port, then the last `console_lines` lines of its console.
    pub fn context(&self, console_lines: usize) -> String {
        format!(
            "results port:\n{}\n---- console (tail) ----\n{}",
            self.results,
            crate::output::tail(&self.console, console_lines)
        )
    }
}

/// A boot that powered off in time with its test unit done: the `RESULT key=value` values
/// and the context a failed assertion about them prints.
#[derive(Debug)]
pub struct Finished {
    values: std::collections::BTreeMap<String, String>,
    /// What a failed assertion prints (see [`QemuRun::context`]).
    pub ctx: String,
}

impl QemuRun {
    /// The boot's results, after asserting (panicking with the context) that the guest
    /// powered off in time and that the test unit reached its end (`@@DONE`, which
    /// [`crate::debian::TestUnit`] writes as it stops).
    pub fn finished(&self, console_lines: usize) -> Finished {
        let ctx = self.context(console_lines);
        assert!(
            !self.timed_out,
            "the guest did not power off in time\n{ctx}"
        );
        assert!(
            self.results.contains("@@DONE"),
            "the test unit did not finish\n{ctx}"
        );
        Finished {
            values: self.result_values(),
            ctx,
        }
    }
}

impl Finished {
    /// The value of `key`, `<missing>` if the guest did not report it.
    pub fn get(&self, key: &str) -> &str {
        self.values
            .get(key)
            .map(String::as_str)
            .unwrap_or("<missing>")
    }

    /// Asserts that `key` is `want`; `what` says what the value is.
    pub fn expect(&self, key: &str, want: &str, what: &str) {
        assert_eq!(self.get(key), want, "{what} ({key})\n{}", self.ctx);
    }
}

/// Kills and reaps qemu however the caller leaves (panic included).
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl QemuConfig {
    pub fn new(kernel: &Path, initrd: &Path) -> Self {
        QemuConfig {
            kernel: kernel.to_owned(),
            initrd: initrd.to_owned(),
            // no_timer_check: under TCG on a loaded host the kernel's boot-time check of
            // the timer interrupt can see a stall and give up on the timer.
            append: "console=ttyS0 quiet panic=-1 no_timer_check".into(),
            memory_mb: 512,
            cpus: 1,
            accel: Accel::Tcg,
            drives: Vec::new(),
            extra_args: Vec::new(),
            firmware: None,
        }
    }

    /// Boots, waits for the guest to power off or for `timeout`, and returns
    /// what the guest wrote to its two serial ports.
    pub fn run(&self, workdir: &Path, timeout: Duration) -> Result<QemuRun, HarnessError> {
        let console = workdir.join("console.log");
        let results = workdir.join("results.log");
        let mut cmd = Command::new(QEMU);
        match self.accel {
            Accel::Tcg => cmd.args(["-accel", "tcg", "-cpu", "max"]),
            Accel::Kvm => cmd.args(["-accel", "kvm", "-cpu", "host"]),
        };
        cmd.args([
            "-m",
            &self.memory_mb.to_string(),
            "-smp",
            &self.cpus.to_string(),
        ])
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-monitor",
            "none",
        ]);
        match &self.firmware {
            Some(ovmf) => cmd.args(ovmf.qemu_args(workdir)?),
            None => cmd
                .arg("-kernel")
                .arg(&self.kernel)
                .arg("-initrd")
                .arg(&self.initrd)
                .args(["-append", &self.append]),
        };
        cmd.arg("-serial")
            .arg(format!("file:{}", console.display()))
            .arg("-serial")
            .arg(format!("file:{}", results.display()));
        for d in &self.drives {
            cmd.arg("-drive")
                .arg(format!("file={},format=raw,if=virtio", d.display()));
        }
        cmd.args(&self.extra_args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let child = cmd.spawn().map_err(|e| {
            HarnessError::Setup(format!(
                "cannot start {QEMU}: {e}; install it with `apt-get install qemu-system-x86` \
                 (scripts/install.sh does)"
            ))
        })?;
        let mut reaper = Reaper(child);
        let mut timed_out = false;
        let exit = loop {
            match reaper.0.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if start.elapsed() >= timeout => {
                    timed_out = true;
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(HarnessError::Setup(format!("waiting for qemu: {e}"))),
            }
        };
        let wall = start.elapsed();
        let mut stderr = String::new();
        if let Some(mut e) = reaper.0.stderr.take() {
            if !timed_out {
                use std::io::Read;
                let _ = e.read_to_string(&mut stderr);
            }
        }
        drop(reaper);
        let read = |p: &Path| {
            String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).replace('\r', "")
        };
        let mut console_text = read(&console);
        if !stderr.is_empty() {
            console_text.push_str("\n[qemu stderr]\n");
            console_text.push_str(&stderr);
        }
        Ok(QemuRun {
            console: console_text,
            results: read(&results),
            wall,
            timed_out,
            exit,
        })
    }
}

/// Boots `disks` (virtio, in order: the first is /dev/vda) through the firmware, with
/// the results port and console as in every other boot; waits for power-off or `timeout`.
pub fn boot_disks(
    ovmf: &Ovmf,
    disks: &[PathBuf],
    workdir: &Path,
    accel: Accel,
    timeout: Duration,
) -> Result<QemuRun, HarnessError> {
    let mut q = QemuConfig::new(Path::new(""), Path::new(""));
    q.firmware = Some(ovmf.clone());
    q.accel = accel;
    q.memory_mb = 1024;
    q.cpus = 2;
    q.drives = disks.to_vec();
    q.run(workdir, timeout)
}

#[cfg(test)]
mod tests {
    use super::QemuRun;

    #[test]
    fn result_values_are_the_result_lines() {
        let run = QemuRun {
            console: String::new(),
            results: "@@BOOTED\nRESULT kernel=6.1.0-57-amd64\nLOG x: RESULT no=1\n\
                      RESULT units= \nRESULT a=b=c\nRESULT kernel=again\n"
                .into(),
            wall: std::time::Duration::ZERO,
            timed_out: false,
            exit: None,
        };
        let v = run.result_values();
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v["kernel"], "again");
        assert_eq!(v["units"], "");
        assert_eq!(v["a"], "b=c");
    }

    #[test]
    fn context_is_the_results_and_the_console_tail() {
        let run = QemuRun {
            console: "one\ntwo\nthree\nfour\n".into(),
            results: "RESULT kernel=k\n".into(),
            wall: std::time::Duration::ZERO,
            timed_out: false,
            exit: None,
        };
        let c = run.context(2);
        assert!(c.starts_with("results port:\nRESULT kernel=k\n"), "{c}");
        assert!(c.contains("three") && c.contains("four"), "{c}");
        assert!(!c.contains("two"), "{c}");
    }

    fn run(results: &str, timed_out: bool) -> QemuRun {
        QemuRun {
            console: "console line\n".into(),
            results: results.into(),
            wall: std::time::Duration::ZERO,
            timed_out,
            exit: None,
        }
    }

    #[test]
    fn finished_gives_the_values_of_a_boot_that_ended() {
        let f = run("@@BOOTED\nRESULT kernel=k\nRESULT units=\n@@DONE\n", false).finished(5);
        assert_eq!(f.get("kernel"), "k");
        assert_eq!(f.get("units"), "");
        assert_eq!(f.get("absent"), "<missing>");
        f.expect("kernel", "k", "the kernel");
        assert!(f.ctx.contains("console line"), "{}", f.ctx);
    }

    #[test]
    #[should_panic(expected = "did not power off in time")]
    fn finished_refuses_a_boot_that_timed_out() {
        run("RESULT kernel=k\n@@DONE\n", true).finished(5);
    }

    #[test]
    #[should_panic(expected = "the test unit did not finish")]
    fn finished_refuses_a_boot_whose_unit_did_not_end() {
        run("@@BOOTED\nRESULT kernel=k\n", false).finished(5);
    }

    #[test]
    #[should_panic(expected = "the kernel (kernel)")]
    fn expect_names_what_differs() {
        run("RESULT kernel=k\n@@DONE\n", false)
            .finished(5)
            .expect("kernel", "other", "the kernel");
    }
}
