//! `status`: every kernel at once, as a table for people and JSON for programs.

use std::fmt::Write as _;

use serde::Serialize;

use crate::error::Error;
use crate::verify::{self, Checks, KernelReport, Severity, System, Verdict};
use crate::ExitCode;

/// The state of DAHDI across all kernels of a system.
#[derive(Debug, Clone, Serialize)]
pub struct SystemReport {
    /// The root that was read.
    pub root: String,
    /// The running kernel.
    pub running: Option<String>,
    /// Whether /proc/modules could be read.
    pub loaded_known: bool,
    /// dahdi versions registered with DKMS.
    pub dkms_versions: Vec<String>,
    /// DAHDI modules the loader checks.
    pub modules: Vec<String>,
    /// One report per kernel, oldest first.
    pub kernels: Vec<KernelReport>,
    /// The worst verdict over all kernels.
    pub verdict: Verdict,
    /// The exit code `status` returns.
    pub exit_code: i32,
}

/// Verifies every kernel.
pub fn system_report(sys: &System, checks: Checks) -> Result<SystemReport, Error> {
    let kernels: Vec<KernelReport> = sys
        .kernels()?
        .iter()
        .map(|k| verify::verify_kernel(sys, k, checks))
        .collect();
    let verdict = kernels
        .iter()
        .map(|k| k.verdict)
        .max()
        .unwrap_or(Verdict::Ok);
    Ok(SystemReport {
        root: sys.root.dir().display().to_string(),
        running: sys.running.clone(),
        loaded_known: sys.loaded != crate::loaded::Loaded::Unknown,
        dkms_versions: sys
            .dkms
            .iter()
            .flat_map(|m| m.versions.iter().map(|v| v.version.clone()))
            .collect(),
        modules: sys.module_names(),
        kernels,
        verdict,
        exit_code: ExitCode::from(verdict) as i32,
    })
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// One row of the kernel table.
fn row(k: &KernelReport, total: usize) -> [String; 8] {
    let vermagic = {
        let checked: Vec<_> = k.modules.iter().filter_map(|m| m.vermagic_ok).collect();
        if checked.is_empty() {
            "-".to_string()
        } else if checked.iter().all(|ok| *ok) {
            "ok".to_string()
        } else {
            format!("{} bad", checked.iter().filter(|ok| !**ok).count())
        }
    };
    let source = {
        let dkms = k
            .modules
            .iter()
            .filter(|m| m.from_dkms == Some(true))
            .count();
        let other = k
            .modules
            .iter()
            .filter(|m| m.from_dkms == Some(false))
            .count();
        match (dkms, other) {
            (0, 0) if k.modules_present() > 0 => "files".to_string(),
            (0, 0) => "-".to_string(),
            (_, 0) => "dkms".to_string(),
            (d, o) => format!("{d} dkms, {o} other"),
        }
    };
    let loaded = if k.kernel.running {
        let n = k.modules.iter().filter(|m| m.loaded == Some(true)).count();
        if k.modules.iter().all(|m| m.loaded.is_none()) {
            "unknown".to_string()
        } else {
            let dev = if k.dev_dahdi == Some(true) {
                ", /dev/dahdi"
            } else {
                ""
            };
            format!("{n}{dev}")
        }
    } else {
        "-".to_string()
    };
    [
        format!(
            "{}{}",
            k.kernel.release,
            if k.kernel.running { " *" } else { "" }
        ),
        yes_no(k.kernel.headers.is_some()).to_string(),
        k.dkms.as_ref().map_or("-".into(), |d| {
            format!("{} {}", d.state.as_str(), d.version)
        }),
        if k.kernel.modules_dir.is_some() {
            format!("{}/{}", k.modules_present(), total)
        } else {
            "-".into()
        },
        vermagic,
        source,
        loaded,
        k.verdict.as_str().to_string(),
    ]
}

/// Renders the human table, followed by the findings with their fixes.
pub fn render(report: &SystemReport, verbose: bool) -> String {
    let header = [
        "KERNEL", "HEADERS", "DKMS", "MODULES", "VERMAGIC", "FILES", "LOADED", "VERDICT",
    ];
    let rows: Vec<[String; 8]> = report
        .kernels
        .iter()
        .map(|k| row(k, report.modules.len()))
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths.iter()).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in &rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    if report.kernels.iter().any(|k| k.kernel.running) {
        out.push_str("(* = running kernel)\n");
    }
    for k in &report.kernels {
        let shown: Vec<_> = k
            .findings
            .iter()
            .filter(|f| verbose || f.severity > Severity::Info)
            .collect();
        if shown.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}:", k.kernel.release);
        for f in shown {
            let tag = match f.severity {
                Severity::Info => "note",
                Severity::NeedsBuild => "needs build",
                Severity::Mismatch => "mismatch",
                Severity::Broken => "broken",
            };
            let _ = writeln!(out, "  [{tag}] {}", f.message);
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "      fix: {fix}");
            }
        }
    }
    if verbose {
        for k in &report.kernels {
            if let Some(abi) = &k.abi {
                let _ = writeln!(
                    out,
                    "\n{} expects vermagic {:?} ({:?})",
                    k.kernel.release, abi.vermagic, abi.source
                );
            }
        }
    }
    out
}
