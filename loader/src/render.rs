//! Text for people: the status table, a kernel's verdict, what `ensure` did. JSON for
//! programs is the reports themselves (serde).

use std::fmt::Write as _;

use crate::ensure;
use crate::error::Error;
use crate::load::Outcome;
use crate::report::{Severity, Verdict};
use crate::status::SystemReport;
use crate::verify::KernelReport;

/// An error as the command line prints it on stderr: the problem, the tail of make.log
/// after a failed build, and the fix.
pub fn error(e: &Error) -> String {
    let mut s = format!("dahdi-loader: {e}\n");
    if let Error::Build {
        log_tail: Some(tail),
        log_path,
        ..
    } = e
    {
        let from = log_path
            .as_ref()
            .map_or(String::new(), |p| format!(" ({})", p.display()));
        let _ = writeln!(s, "--- last lines of make.log{from} ---\n{tail}\n---");
    }
    if let Some(fix) = e.fix() {
        let _ = writeln!(s, "dahdi-loader: to fix: {fix}");
    }
    s
}

/// One kernel's verdict and findings, as `verify` prints them.
pub fn verify(r: &KernelReport, verbose: bool) -> String {
    let mut s = String::new();
    let present = r.modules_present();
    let crcs: usize = r.modules.iter().map(|m| m.crcs_checked).sum();
    let verdict = match r.verdict {
        Verdict::Ok => "DAHDI will load".to_string(),
        Verdict::NotApplicable => {
            "nothing to check (this kernel cannot load modules here)".to_string()
        }
        v => format!("DAHDI would NOT load ({})", v.as_str()),
    };
    s.push_str(&format!(
        "kernel {}: {verdict}; {present}/{} modules present, {crcs} symbol CRCs checked",
        r.kernel.release,
        r.modules.len()
    ));
    if let Some(a) = &r.abi {
        s.push_str(&format!(", vermagic {:?}", a.vermagic));
    }
    s.push('\n');
    for f in &r.findings {
        if f.severity == Severity::Info && !verbose {
            continue;
        }
        s.push_str(&format!("  {}\n", f.message));
        if let Some(fix) = &f.fix {
            s.push_str(&format!("    fix: {fix}\n"));
        }
    }
    s
}

/// What `ensure` did, in one line.
pub fn ensure(r: &ensure::Report) -> String {
    let mut s = format!("kernel {}: DAHDI verified", r.kernel);
    if r.built {
        s.push_str(" (built with DKMS)");
    }
    if !r.loaded.is_empty() {
        let names: Vec<String> = r
            .loaded
            .iter()
            .map(|(n, o)| match o {
                Outcome::Loaded => n.to_string(),
                Outcome::AlreadyLoaded => format!("{n} (already loaded)"),
                Outcome::BuiltIn => format!("{n} (built in)"),
            })
            .collect();
        s.push_str(&format!("; modules: {}", names.join(", ")));
    }
    if let Some(ms) = r.dev_ready_ms {
        s.push_str(&format!("; /dev/dahdi/ctl ready after {ms} ms"));
    }
    s
}

/// Who provides DAHDI: DKMS modules, dpkg packages listing module files, files nobody owns.
fn providers(report: &SystemReport, out: &mut String) {
    out.push_str("\nPROVIDERS\n");
    if report.providers.is_empty() && report.packages.is_empty() && report.unowned.is_empty() {
        out.push_str("  none: no DKMS module, no package and no file provides DAHDI\n");
    }
    for p in &report.providers {
        let versions: Vec<String> = p.versions.iter().map(ToString::to_string).collect();
        let kernels: Vec<String> = p.installed_for.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  DKMS module {} {}: {}",
            p.module,
            versions.join(", "),
            if kernels.is_empty() {
                "installed for no kernel".to_string()
            } else {
                format!("installed for {}", kernels.join(", "))
            }
        );
    }
    for p in &report.packages {
        let _ = writeln!(
            out,
            "  package {} {} ({}): {} module files for {}",
            p.package,
            p.version.as_deref().unwrap_or("(no version)"),
            p.state,
            p.module_files,
            p.kernels.join(", ")
        );
    }
    for u in &report.unowned {
        let _ = writeln!(
            out,
            "  no package ({}): {} file(s), e.g. {}",
            u.kernel,
            u.files.len(),
            u.files[0]
        );
    }
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

/// The boot guard's line, where there is something to say: it is on, it holds the next
/// boot, or it would if it were on.
fn boot(g: &crate::bootguard::GuardReport, out: &mut String) {
    use crate::bootguard::Action;
    let worth = g.enabled
        || g.pinned_before.is_some()
        || matches!(g.action, Action::Pin { .. } | Action::Release { .. });
    if worth {
        let _ = writeln!(
            out,
            "boot guard ({}): {}",
            if g.enabled { "on" } else { "off" },
            g.message
        );
    }
}

/// What `guard` did, for people.
pub fn guard(g: &crate::bootguard::GuardReport) -> String {
    use crate::bootguard::Action;
    let mut out = format!(
        "boot guard ({}): {}\n",
        if g.enabled { "on" } else { "off" },
        g.message
    );
    match (&g.action, g.applied) {
        (Action::Pin { pin }, true) => {
            let _ = writeln!(
                out,
                "set {}={} in /boot/grub/grubenv",
                pin.variable.name(),
                pin.value
            );
        }
        (Action::Release { pin }, true) => {
            let _ = writeln!(
                out,
                "{} in /boot/grub/grubenv is the operator's again",
                pin.variable.name()
            );
        }
        _ => {}
    }
    out
}

/// Renders the human table, followed by the findings with their fixes.
pub fn status(report: &SystemReport, verbose: bool) -> String {
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
    providers(report, &mut out);
    boot(&report.boot, &mut out);
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
            let _ = writeln!(out, "  [{}] {}", f.severity.label(), f.message);
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
