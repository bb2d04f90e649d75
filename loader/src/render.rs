//! Text for people: the status table, a kernel's verdict, what `ensure` did. JSON for
//! programs is the reports themselves (serde).

use std::fmt::Write as _;

use crate::ensure;
use crate::error::Error;
use crate::journal::{message, Lines, Priority};
use crate::load::Outcome;
use crate::report::{Severity, Verdict};
use crate::status::SystemReport;
use crate::verify::KernelReport;

/// An error as the command line prints it on stderr: the problem, the tail of make.log
/// after a failed build, and the fix; all of it at the journal's error priority.
pub fn error(e: &Error) -> Lines {
    let mut s = message(Priority::Err, &e.to_string());
    if let Error::Build {
        log_tail: Some(tail),
        log_path,
        ..
    } = e
    {
        let from = log_path
            .as_ref()
            .map_or(String::new(), |p| format!(" ({})", p.display()));
        s.push(
            Priority::Err,
            &format!("--- last lines of make.log{from} ---\n{tail}\n---"),
        );
    }
    if let Some(fix) = e.fix() {
        s.append(message(Priority::Err, &format!("to fix: {fix}")));
    }
    s
}

/// The journal's priority of a finding: information, or a warning that DAHDI will not load
/// (or not as it should).
fn finding_priority(severity: Severity) -> Priority {
    if severity == Severity::Info {
        Priority::Info
    } else {
        Priority::Warning
    }
}

/// One kernel's verdict and findings, as `verify` prints them.
pub fn verify(r: &KernelReport, verbose: bool) -> Lines {
    let mut head = String::new();
    let present = r.modules_present();
    let crcs: usize = r.modules.iter().map(|m| m.crcs_checked).sum();
    let verdict = match r.verdict {
        Verdict::Ok => "DAHDI will load".to_string(),
        Verdict::NotApplicable => {
            "nothing to check (this kernel cannot load modules here)".to_string()
        }
        v => format!("DAHDI would NOT load ({})", v.as_str()),
    };
    head.push_str(&format!(
        "kernel {}: {verdict}; {present}/{} modules present, {crcs} symbol CRCs checked",
        r.kernel.release,
        r.modules.len()
    ));
    if let Some(a) = &r.abi {
        head.push_str(&format!(", vermagic {:?}", a.vermagic));
    }
    let mut s = Lines::of(
        if r.verdict > Verdict::Ok {
            Priority::Warning
        } else {
            Priority::Info
        },
        &head,
    );
    for f in &r.findings {
        if f.severity == Severity::Info && !verbose {
            continue;
        }
        let p = finding_priority(f.severity);
        s.push(p, &format!("  {}", f.message));
        if let Some(fix) = &f.fix {
            s.push(p, &format!("    fix: {fix}"));
        }
    }
    s
}

/// What `ensure` did, in one line.
pub fn ensure(r: &ensure::Report) -> Lines {
    Lines::of(
        if r.built {
            Priority::Notice
        } else {
            Priority::Info
        },
        &ensure_summary(r),
    )
}

/// What `ensure` did, as one sentence (also systemd's last STATUS=).
pub fn ensure_summary(r: &ensure::Report) -> String {
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

/// What `guard` did, for people: a warning when it holds GRUB off a kernel, a notice when
/// it lets go.
pub fn guard(g: &crate::bootguard::GuardReport) -> Lines {
    Lines::of(guard_priority(g), &guard_text(g))
}

fn guard_priority(g: &crate::bootguard::GuardReport) -> Priority {
    use crate::bootguard::Action;
    match (&g.action, g.applied) {
        (Action::Pin { .. }, _) | (Action::Cannot { .. }, _) => Priority::Warning,
        (Action::Release { .. }, true) => Priority::Notice,
        _ if g.pinned_before.is_some() => Priority::Warning,
        _ => Priority::Info,
    }
}

fn guard_text(g: &crate::bootguard::GuardReport) -> String {
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

/// Renders the human table, followed by the findings with their fixes. The table is
/// information; a finding that DAHDI will not load is a warning.
pub fn status(report: &SystemReport, verbose: bool) -> Lines {
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
    let mut lines = Lines::of(Priority::Info, &out);
    let mut guard = String::new();
    boot(&report.boot, &mut guard);
    if !guard.is_empty() {
        lines.push(guard_priority(&report.boot), guard.trim_end());
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
        lines.push(Priority::Info, "");
        lines.push(Priority::Info, &format!("{}:", k.kernel.release));
        for f in shown {
            let p = finding_priority(f.severity);
            lines.push(p, &format!("  [{}] {}", f.severity.label(), f.message));
            if let Some(fix) = &f.fix {
                lines.push(p, &format!("      fix: {fix}"));
            }
        }
    }
    if verbose {
        for k in &report.kernels {
            if let Some(abi) = &k.abi {
                lines.push(Priority::Info, "");
                lines.push(
                    Priority::Info,
                    &format!(
                        "{} expects vermagic {:?} ({:?})",
                        k.kernel.release, abi.vermagic, abi.source
                    ),
                );
            }
        }
    }
    lines
}
