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
    // With no module file to read, "will load" would claim a check that was not made; the
    // notes then are the answer, so they are shown without -v.
    let nothing_read = r.modules.is_empty();
    let verdict = match r.verdict {
        Verdict::Ok if nothing_read => "no DAHDI module file to check here".to_string(),
        Verdict::Ok => "DAHDI will load".to_string(),
        Verdict::NotApplicable => {
            "nothing to check (this kernel cannot load modules here)".to_string()
        }
        v => format!("DAHDI would NOT load ({})", v.as_str()),
    };
    head.push_str(&format!("kernel {}: {verdict}; ", r.kernel.release));
    // Which DAHDI, as dahdi.ko's own `version=` says: after a release upgrade DKMS has
    // replaced the build, and "will load" alone does not say it is the new one.
    if let Some(version) = r.module("dahdi").and_then(|m| m.version.as_deref()) {
        head.push_str(&format!("DAHDI {version}, "));
    }
    head.push_str(&format!(
        "{present}/{} modules present, {crcs} symbol CRCs checked",
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
        if f.severity == Severity::Info && !verbose && !nothing_read {
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
    if let Some(ms) = r.waited_for_dkms_ms {
        s.push_str(&format!(
            " after waiting {:.0} s for a dkms already running",
            ms as f64 / 1000.0
        ));
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

/// Where a kernel's expected vermagic came from, in words, with the system's path.
fn vermagic_source(root: &crate::root::Root, source: &crate::kernel::VermagicSource) -> String {
    use crate::kernel::VermagicSource;
    match source {
        VermagicSource::InTreeModule(p) => {
            format!("read from the in-tree module {}", root.system_path(p))
        }
        VermagicSource::Headers(p) => format!(
            "composed from the headers in {} (utsrelease.h and .config)",
            root.system_path(p)
        ),
        VermagicSource::BootConfig(p) => {
            format!("composed from the release and {}", root.system_path(p))
        }
    }
}

/// The DAHDI cards: address, IDs, driver, whether it is loaded, and the names udev's
/// hardware database gives them.
fn hardware(report: &SystemReport, out: &mut String) {
    out.push_str("\nHARDWARE\n");
    if report.cards.is_empty() {
        out.push_str("  no DAHDI card found (no PCI or USB device a DAHDI driver claims)\n");
        return;
    }
    let rows: Vec<[String; 5]> = report
        .cards
        .iter()
        .map(|c| {
            let name = match (&c.vendor, &c.model) {
                (Some(v), Some(m)) => format!("{v} {m}"),
                (Some(v), None) => v.clone(),
                (None, Some(m)) => m.clone(),
                (None, None) => "-".into(),
            };
            [
                format!("{} {}", c.bus, c.address),
                c.id.clone().unwrap_or_else(|| "-".into()),
                c.driver.to_string(),
                c.loaded.map_or("unknown", yes_no).to_string(),
                name,
            ]
        })
        .collect();
    table(
        "  ",
        &["CARD", "ID", "DRIVER", "LOADED", "NAME"],
        &rows,
        out,
    );
}

/// Columns padded to their widest cell, the last one as it is; each line after `indent`.
fn table<const N: usize>(indent: &str, header: &[&str; N], rows: &[[String; N]], out: &mut String) {
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.len());
        }
    }
    let mut line = |cells: Vec<&str>| {
        let mut l = indent.to_string();
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
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
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
    let mut out = String::new();
    table("", &header, &rows, &mut out);
    if report.kernels.iter().any(|k| k.kernel.running) {
        out.push_str("(* = running kernel)\n");
    }
    providers(report, &mut out);
    hardware(report, &mut out);
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
                        "{} expects vermagic {:?} ({})",
                        k.kernel.release,
                        abi.vermagic,
                        vermagic_source(&crate::root::Root::new(&report.root), &abi.source)
                    ),
                );
            }
        }
    }
    lines
}
