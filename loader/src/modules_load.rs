//! Debian's own boot file and the loader: the check just before systemd-modules-load.
//!
//! dahdi-linux ships /etc/modules-load.d/dahdi-linux.conf (`dahdi`, `dahdi_transcode`), so
//! systemd-modules-load loads DAHDI early at every boot, long before the loader's boot unit
//! (which needs /var and may build for minutes). On a kernel where the installed DAHDI is
//! stale, the kernel refuses the module, systemd-modules-load fails its unit and the boot
//! shows a failed unit and a bare errno; where DAHDI is missing, it logs "not found" at
//! error level and carries on. Neither tells the operator what is wrong or what will happen.
//!
//! So the package adds one command to systemd-modules-load.service (a drop-in,
//! `ExecStartPre=-dahdi-loader modules-load-check`): a fast, read-only verification of the
//! running kernel's DAHDI (the module files, the kernel's symbols; no build, no DKMS run).
//! When DAHDI would load, or DAHDI is not in any modules-load.d file, or it is already
//! loaded, it does nothing and says nothing. When it would not load:
//!
//! * the DAHDI names from modules-load.d are deny-listed in [`DENY_LIST`] (`blacklist
//!   NAME`): systemd-modules-load loads with kmod's deny-list applied, so for a module
//!   whose file exists it logs "deny-listed" at info level and does not fail, instead of
//!   asking the kernel for a module it will refuse (a missing one it reports as not found,
//!   and does not fail either). `ensure` loads exactly these names after its build.
//! * one warning says what is wrong and what happens next (the loader's boot unit
//!   rebuilds and loads, or the fix the operator must apply).
//!
//! The deny-list is on tmpfs, so it never outlives the boot; `ensure` removes it as soon as
//! it has loaded DAHDI ([`lift`]), and the package's postrm removes it too. `blacklist`
//! affects only loads by alias and systemd-modules-load's lookups: `modprobe dahdi` and the
//! loader itself load by name and are not affected. The check can only move DAHDI's load
//! from systemd-modules-load to the loader's boot unit; if it errs, it errs silently towards
//! doing nothing.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::conf_dirs::ConfFiles;
use crate::error::Error;
use crate::names::{KernelRelease, ModuleName};
use crate::report::Verdict;
use crate::root::Root;
use crate::system::System;
use crate::verify::{self, Checks};

/// The deny-list the check writes (tmpfs: gone at the next boot).
pub const DENY_LIST: &str = "/run/modprobe.d/dahdi-loader.conf";

/// Where systemd-modules-load reads `*.conf`, in its order of precedence: a file name in
/// an earlier directory hides the same name in later ones (modules-load.d(5)).
pub const MODULES_LOAD_DIRS: [&str; 5] = [
    "/etc/modules-load.d",
    "/run/modules-load.d",
    "/usr/local/lib/modules-load.d",
    "/usr/lib/modules-load.d",
    "/lib/modules-load.d",
];

/// What the check found and did.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The running kernel.
    pub kernel: Option<KernelRelease>,
    /// DAHDI's names in modules-load.d, in file order.
    pub listed: Vec<ModuleName>,
    /// The running kernel's verdict (when DAHDI is listed and not loaded yet).
    pub verdict: Option<Verdict>,
    /// Names deny-listed for this boot.
    pub denied: Vec<ModuleName>,
    /// Names whose module file is missing.
    pub missing: Vec<ModuleName>,
    /// The one warning, when DAHDI would not load.
    pub message: Option<String>,
}

/// The module names systemd-modules-load will load, from every `*.conf` it reads (hidden
/// files skipped, a link to `/dev/null` masking a name; `#` and `;` start comments), each
/// once, in order.
pub fn listed_names(root: &Root) -> Result<Vec<ModuleName>, Error> {
    let mut files = ConfFiles::new();
    for dir in MODULES_LOAD_DIRS {
        files.add_dir(root, dir)?;
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (_, text) in files.read()? {
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Ok(m) = ModuleName::new(line) {
                if seen.insert(m.clone()) {
                    out.push(m);
                }
            }
        }
    }
    Ok(out)
}

/// DAHDI's own names: `dahdi` and `dahdi_*`, and every module the verification reports on.
fn is_dahdi(name: &ModuleName, reported: &BTreeSet<String>) -> bool {
    let n = name.as_str();
    n == "dahdi" || n.starts_with("dahdi_") || reported.contains(n)
}

/// The check, read-only: what would systemd-modules-load do with DAHDI on the running
/// kernel, and what should be deny-listed.
pub fn check(root: &Root, running: Option<KernelRelease>) -> Result<Check, Error> {
    let sys = System::load(root.clone(), running)?;
    let mut out = Check {
        kernel: sys.running.clone(),
        listed: Vec::new(),
        verdict: None,
        denied: Vec::new(),
        missing: Vec::new(),
        message: None,
    };
    let Some(release) = sys.running.clone() else {
        return Ok(out);
    };
    let all_listed = listed_names(root)?;
    // Cheap first: nothing of DAHDI's listed means nothing to do, not even a verification.
    if !all_listed.iter().any(|n| is_dahdi(n, &BTreeSet::new())) {
        return Ok(out);
    }
    let kernel = sys.kernel(&release)?;
    let report = verify::verify_kernel(&sys, &kernel, Checks::default());
    let reported: BTreeSet<String> = report.modules.iter().map(|m| m.name.to_string()).collect();
    out.listed = all_listed
        .into_iter()
        .filter(|n| is_dahdi(n, &reported))
        .collect();
    // Already loaded (by an initramfs, or an earlier run): nothing left to protect.
    if out
        .listed
        .iter()
        .any(|n| sys.loaded.is_loaded(n.as_str()) == Some(true))
    {
        return Ok(out);
    }
    out.verdict = Some(report.verdict);
    if report.verdict <= Verdict::Ok {
        return Ok(out);
    }
    // Every listed name is deny-listed, a missing one too: systemd-modules-load skips the
    // ones whose files exist instead of failing on them, and `ensure` later loads exactly
    // what the deny-list holds, as modules-load.d asked.
    out.denied = out.listed.clone();
    out.missing = out
        .listed
        .iter()
        .filter(|n| {
            !report
                .modules
                .iter()
                .any(|m| &m.name == *n && m.path.is_some())
        })
        .cloned()
        .collect();
    let worst = report
        .findings
        .iter()
        .filter(|f| f.severity > crate::report::Severity::Info)
        .max_by_key(|f| f.severity);
    let what = worst.map_or_else(
        || format!("verdict {}", report.verdict.as_str()),
        |f| f.message.clone(),
    );
    let present: Vec<ModuleName> = out
        .denied
        .iter()
        .filter(|n| !out.missing.contains(n))
        .cloned()
        .collect();
    let mut parts = Vec::new();
    if !present.is_empty() {
        parts.push(format!(
            "systemd-modules-load will skip {} (deny-listed for this boot in {DENY_LIST}, \
             so the kernel is not asked for a module it would refuse)",
            join(&present)
        ));
    }
    if !out.missing.is_empty() {
        parts.push(format!(
            "systemd-modules-load will not find {}",
            join(&out.missing)
        ));
    }
    let skipped = parts.join("; ");
    let next = match worst.and_then(|f| f.fix.as_ref()) {
        // Promise a rebuild only where the boot unit can run one by itself.
        Some(fix) if fix.is_build() => match verify::buildable(&sys, &kernel) {
            Ok(_) => "dahdi-loader.service will rebuild DAHDI with DKMS and load it later in \
                      this boot (journalctl -u dahdi-loader.service)"
                .to_string(),
            Err((why, fix)) => {
                format!("dahdi-loader.service cannot rebuild DAHDI here ({why}); fix: {fix}")
            }
        },
        Some(fix) => format!("fix: {fix}"),
        None => format!("see dahdi-loader verify {release}"),
    };
    out.message = Some(format!(
        "DAHDI will not load on the running kernel {release} as installed: {what}; {skipped}; \
         {next}"
    ));
    Ok(out)
}

fn join(names: &[ModuleName]) -> String {
    names
        .iter()
        .map(ModuleName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the deny-list for the check's names (nothing when there are none).
pub fn apply(root: &Root, check: &Check) -> Result<(), Error> {
    if check.denied.is_empty() {
        return Ok(());
    }
    let path = root.join(DENY_LIST);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    let mut text = String::from(
        "# Written by dahdi-loader modules-load-check at boot: DAHDI would not load on this\n\
         # kernel as installed. Removed by dahdi-loader ensure once DAHDI is loaded; on tmpfs,\n\
         # so gone at the next boot in any case.\n",
    );
    for name in &check.denied {
        text.push_str(&format!("blacklist {name}\n"));
    }
    crate::atomic_file::replace(&path, text.as_bytes()).map_err(|e| Error::io("write", &path, e))
}

/// The names the deny-list of this boot holds (none when there is no deny-list).
pub fn denied_names(root: &Root) -> Vec<ModuleName> {
    std::fs::read_to_string(root.join(DENY_LIST))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("blacklist "))
        .filter_map(|n| ModuleName::new(n.trim()).ok())
        .collect()
}

/// Removes the deny-list; true if there was one.
pub fn lift(root: &Root) -> Result<bool, Error> {
    let path = root.join(DENY_LIST);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("remove", &path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Root) {
        let t = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let path = t.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, c).unwrap();
        }
        let root = Root::new(t.path());
        (t, root)
    }

    #[test]
    fn names_follow_modules_load_d_precedence_and_comments() {
        let (_t, root) = root_with(&[
            (
                "/usr/lib/modules-load.d/dahdi-linux.conf",
                "# vendor copy\ndahdi\ndahdi_transcode\n",
            ),
            // Same name in /etc hides the vendor file.
            ("/etc/modules-load.d/dahdi-linux.conf", "; local\ndahdi\n"),
            (
                "/etc/modules-load.d/modules.conf",
                "loop\n\n# x\ndahdi-dummy\n",
            ),
            ("/etc/modules-load.d/notes.txt", "dahdi_echocan_mg2\n"),
        ]);
        let names: Vec<String> = listed_names(&root)
            .unwrap()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, ["dahdi", "loop", "dahdi_dummy"]);
    }

    #[test]
    fn a_masked_boot_file_and_hidden_files_list_nothing() {
        // The operator masks Debian's boot file (`ln -s /dev/null` in /etc, as
        // modules-load.d(5) says) and keeps the old one as a hidden file beside it.
        let (t, root) = root_with(&[
            (
                "/usr/lib/modules-load.d/dahdi-linux.conf",
                "dahdi\ndahdi_transcode\n",
            ),
            ("/etc/modules-load.d/.dahdi-old.conf", "dahdi\n"),
            ("/etc/modules-load.d/local.conf", "loop\n"),
        ]);
        std::os::unix::fs::symlink(
            "/dev/null",
            t.path().join("etc/modules-load.d/dahdi-linux.conf"),
        )
        .unwrap();
        let names: Vec<String> = listed_names(&root)
            .unwrap()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, ["loop"]);
    }

    #[test]
    fn deny_list_is_written_and_lifted() {
        let (_t, root) = root_with(&[]);
        let check = Check {
            kernel: None,
            listed: vec![ModuleName::new("dahdi").unwrap()],
            verdict: Some(Verdict::Mismatch),
            denied: vec![
                ModuleName::new("dahdi").unwrap(),
                ModuleName::new("dahdi_transcode").unwrap(),
            ],
            missing: Vec::new(),
            message: None,
        };
        apply(&root, &check).unwrap();
        assert_eq!(denied_names(&root), check.denied);
        let text = std::fs::read_to_string(root.join(DENY_LIST)).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines, ["blacklist dahdi", "blacklist dahdi_transcode"]);
        assert!(lift(&root).unwrap());
        assert!(!root.join(DENY_LIST).exists());
        assert!(!lift(&root).unwrap());
    }
}
