//! The status report as Prometheus metrics, in the text format node_exporter's textfile
//! collector reads (`dahdi-loader metrics --output DIR/dahdi-loader.prom`): a fleet of PBXs
//! is watched with the tools its operators already run.
//!
//! Designed for PromQL alerts: each verdict is a series of its own whose value is 1 when it
//! holds (`dahdi_loader_kernel_verdict{verdict!~"ok|not-applicable"} == 1` fires for any kernel where DAHDI
//! would not load), the worst verdict is also one number (`dahdi_loader_status_exit_code >
//! 0`), and the last build's result works the same way. Every family has HELP and TYPE.
//!
//! Label values are escaped as the text format says (`\\`, `\"`, `\n`). The values the
//! loader puts there today (kernel releases, DKMS module names, versions) cannot hold any
//! of those characters: [`crate::names`] accepts only letters, digits and `. _ - + ~ :`.
//! The escaping is there for what the validation may accept one day, and tested against
//! Prometheus' own parser.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::Error;
use crate::last_build::{LastBuild, Outcome};
use crate::report::Verdict;
use crate::status::SystemReport;

/// Every verdict word, in the order each kernel's series are listed.
const VERDICTS: [Verdict; 6] = [
    Verdict::Ok,
    Verdict::NeedsBuild,
    Verdict::Mismatch,
    Verdict::BuildFailed,
    Verdict::Broken,
    Verdict::NotApplicable,
];

/// A verdict as JSON writes it (`not-applicable`, where the table says `n/a`): one
/// vocabulary for programs.
fn word(v: Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|w| w.as_str().map(String::from))
        .unwrap_or_else(|| v.as_str().to_string())
}

/// A label value as the text format writes it between quotes.
pub fn escape_label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP text as the text format writes it (backslash and newline escaped).
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// One family being written: its HELP and TYPE, then its samples.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn gauge(out: &'a mut String, name: &'static str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(out, "# TYPE {name} gauge");
        Family { out, name }
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: u64) {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
                .collect();
            let _ = write!(self.out, "{{{}}}", pairs.join(","));
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// The textfile for `report`, with the last build the loader ran and the time it was made
/// (`now`, Unix seconds).
pub fn textfile(report: &SystemReport, last: Option<&LastBuild>, now: u64) -> String {
    let mut out = String::new();

    let mut f = Family::gauge(
        &mut out,
        "dahdi_loader_kernel_verdict",
        "DAHDI's verdict on each installed kernel: 1 on the series whose verdict label is the \
         kernel's (ok, needs-build, mismatch, build-failed, broken, not-applicable), 0 on the others.",
    );
    for k in &report.kernels {
        for v in VERDICTS {
            f.sample(
                &[("kernel", k.kernel.release.as_str()), ("verdict", &word(v))],
                u64::from(k.verdict == v),
            );
        }
    }

    let mut f = Family::gauge(
        &mut out,
        "dahdi_loader_status_exit_code",
        "The exit code of dahdi-loader status, the worst verdict over all kernels: 0 ok, \
         1 needs build, 2 mismatch, 3 broken, 4 build failed.",
    );
    f.sample(&[], report.exit_code.max(0) as u64);

    let running = report.kernels.iter().find(|k| k.kernel.running);
    let mut f = Family::gauge(
        &mut out,
        "dahdi_loader_running_kernel_info",
        "The running kernel's release (uname -r) as the kernel label; value always 1.",
    );
    if let Some(r) = &report.running {
        f.sample(&[("kernel", r.as_str())], 1);
    }

    let mut f = Family::gauge(
        &mut out,
        "dahdi_loader_modules_loaded",
        "DAHDI modules loaded in the running kernel (absent when /proc/modules could not be read).",
    );
    if let Some(k) = running.filter(|_| report.loaded_known) {
        f.sample(
            &[],
            k.modules.iter().filter(|m| m.loaded == Some(true)).count() as u64,
        );
    }

    let mut f = Family::gauge(
        &mut out,
        "dahdi_loader_modules_wanted",
        "DAHDI modules ensure loads on the running kernel: dahdi, the drivers of the hardware \
         found, configured additions.",
    );
    if let Some(k) = running {
        f.sample(&[], k.wanted.len() as u64);
    }

    let mut f = Family::gauge(
        &mut out,
        "dahdi_loader_dev_dahdi_ctl",
        "1 when /dev/dahdi/ctl exists (DAHDI is up), 0 when it does not.",
    );
    if let Some(present) = running.and_then(|k| k.dev_dahdi) {
        f.sample(&[], u64::from(present));
    }

    let mut f = Family::gauge(
        &mut out,
        "dahdi_loader_last_build_result",
        "How the last DKMS build dahdi-loader ensure ran ended: 1 on the series whose result \
         label is its outcome (ok, failed, rejected: built but did not verify), 0 on the others.",
    );
    if let Some(b) = last {
        for o in Outcome::ALL {
            f.sample(
                &[
                    ("kernel", b.kernel.as_str()),
                    ("module", b.module.as_str()),
                    ("version", b.version.as_str()),
                    ("result", o.as_str()),
                ],
                u64::from(b.outcome == o),
            );
        }
    }
    let mut f = Family::gauge(
        &mut out,
        "dahdi_loader_last_build_timestamp_seconds",
        "When the last DKMS build dahdi-loader ensure ran ended, in Unix time.",
    );
    if let Some(b) = last {
        f.sample(
            &[
                ("kernel", b.kernel.as_str()),
                ("module", b.module.as_str()),
                ("version", b.version.as_str()),
            ],
            b.finished,
        );
    }

    let mut f = Family::gauge(
        &mut out,
        "dahdi_loader_metrics_generated_timestamp_seconds",
        "When this file was written, in Unix time (a stale file means its timer stopped).",
    );
    f.sample(&[], now);
    out
}

/// The textfile for the system as it is now.
pub fn generate(
    sys: &crate::system::System,
    checks: crate::verify::Checks,
) -> Result<String, Error> {
    let report = crate::status::system_report(sys, checks)?;
    let last = crate::last_build::read(&sys.root);
    Ok(textfile(&report, last.as_ref(), crate::last_build::now()))
}

/// Writes `text` to `path` atomically (a collector never reads half a file).
pub fn write(path: &Path, text: &str) -> Result<(), Error> {
    crate::atomic_file::replace(path, text.as_bytes()).map_err(|e| Error::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_as_the_text_format_says() {
        assert_eq!(escape_label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label_value("a\nb"), r"a\nb");
        assert_eq!(escape_label_value("6.1.0-57-amd64"), "6.1.0-57-amd64");
        assert_eq!(escape_help("x\\y\nz"), r"x\\y\nz");
    }

    #[test]
    fn names_cannot_carry_what_would_need_escaping() {
        use crate::names::{KernelRelease, PackageName, Version};
        for bad in ["6.1\"x", "6.1\\x", "6.1\nx", "6.1 x"] {
            assert!(KernelRelease::new(bad).is_err(), "{bad:?}");
            assert!(PackageName::new(bad).is_err(), "{bad:?}");
            assert!(Version::new(bad).is_err(), "{bad:?}");
        }
    }
}
