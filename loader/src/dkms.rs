//! DKMS state of a module, read from the DKMS tree directly, and a parser for the text
//! `dkms status` prints (every format from 2.x to 3.x), for cross-checking and tests.
//!
//! Reading `/var/lib/dkms` directly is what makes `status` fast (`dkms status` is a shell
//! script that takes most of a second) and lets it work under `--root`. The rules follow
//! DKMS's own `is_module_added` / `is_module_built` / `_is_module_installed`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::root::{list_dir, read_optional, Root};
use crate::validate;

/// DKMS's state for one module version on one kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The version is registered but not built for this kernel.
    Added,
    /// Built in the DKMS tree, not installed into /lib/modules.
    Built,
    /// Built and installed (the `kernel-KVER-ARCH` link points at it).
    Installed,
    /// The registration is damaged (dangling `source` link).
    Broken,
}

impl State {
    /// The word `dkms status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Added => "added",
            State::Built => "built",
            State::Installed => "installed",
            State::Broken => "broken",
        }
    }
}

/// One build of a version for one kernel and architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Build {
    /// Kernel release.
    pub kernel: String,
    /// Architecture directory (x86_64, ...).
    pub arch: String,
    /// Module files in the build's `module/` directory, sorted.
    pub modules: Vec<PathBuf>,
    /// `installed` when the active link points here, otherwise `built`.
    pub state: State,
    /// `log/make.log` of this build, if kept.
    pub make_log: Option<PathBuf>,
}

/// One registered version of the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    /// PACKAGE_VERSION.
    pub version: String,
    /// Where `source` points (under the root), if it is a link.
    pub source: Option<PathBuf>,
    /// `source` resolves to a directory.
    pub source_ok: bool,
    /// Builds found for this version.
    pub builds: Vec<Build>,
    /// `build/make.log` left by a failed (or running) build.
    pub failed_build_log: Option<PathBuf>,
    /// Module names from dkms.conf (DEST_MODULE_NAME or BUILT_MODULE_NAME), if readable.
    pub conf_modules: Vec<String>,
}

impl Version {
    /// DKMS's state of this version for a kernel (`added` if nothing was built for it).
    pub fn state_for(&self, kernel: &str) -> State {
        if !self.source_ok {
            return State::Broken;
        }
        self.builds
            .iter()
            .filter(|b| b.kernel == kernel)
            .map(|b| b.state)
            .max()
            .unwrap_or(State::Added)
    }
}

/// A module's entry in the DKMS tree (`/var/lib/dkms/NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    /// PACKAGE_NAME.
    pub name: String,
    /// `/var/lib/dkms/NAME` under the root.
    pub dir: PathBuf,
    /// Registered versions, oldest first.
    pub versions: Vec<Version>,
}

impl Module {
    /// The version installed for `kernel`, else the newest version DKMS would autoinstall.
    pub fn version_for(&self, kernel: &str) -> Option<&Version> {
        self.versions
            .iter()
            .find(|v| v.state_for(kernel) == State::Installed)
            .or_else(|| self.versions.iter().rev().find(|v| v.source_ok))
            // With every version broken, report the newest so its state says "broken".
            .or_else(|| self.versions.last())
    }

    /// Every module name the package builds, from dkms.conf or, failing that, from builds.
    pub fn module_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for v in &self.versions {
            names.extend(v.conf_modules.iter().cloned());
            for b in &v.builds {
                names.extend(b.modules.iter().filter_map(|p| module_stem(p)));
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// The DKMS state of the best version for a kernel.
    pub fn state_for(&self, kernel: &str) -> Option<(State, &Version)> {
        self.version_for(kernel).map(|v| (v.state_for(kernel), v))
    }
}

/// `dahdi.ko` / `dahdi.ko.xz` → `dahdi` (normalized: `-` → `_`).
pub fn module_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".ko")
        .or_else(|| name.strip_suffix(".ko.xz"))
        .or_else(|| name.strip_suffix(".ko.zst"))
        .or_else(|| name.strip_suffix(".ko.gz"))?;
    validate::module_name(stem).ok()?;
    Some(validate::normalize_module_name(stem))
}

/// DKMS only considers kernel directories that match the glob `+([0-9]).*`.
fn looks_like_kernel_dir(name: &str) -> bool {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && name.as_bytes().get(digits) == Some(&b'.')
}

/// Reads `/var/lib/dkms/NAME` under the root; `Ok(None)` if the module is not registered.
pub fn read_module(root: &Root, name: &str) -> Result<Option<Module>, Error> {
    validate::module_name(name)?;
    let dir = root.join("/var/lib/dkms").join(name);
    if !dir.is_dir() {
        return Ok(None);
    }
    let entries = list_dir(&dir)?;

    // Active links: kernel-KVER-ARCH -> VERSION/KVER/ARCH.
    let mut active: Vec<PathBuf> = Vec::new();
    for e in entries.iter().filter(|e| e.starts_with("kernel-")) {
        if let Ok(Some(target)) = root.read_link(&dir.join(e)) {
            active.push(target);
        }
    }

    let mut versions = Vec::new();
    for v in &entries {
        if v.starts_with("kernel-") || v == "original_module" {
            continue;
        }
        let vdir = dir.join(v);
        if validate::release("DKMS version", v).is_err() || !vdir.is_dir() {
            continue;
        }
        let source = root.read_link(&vdir.join("source")).ok().flatten();
        let source_ok = source.as_ref().is_some_and(|s| s.is_dir());
        let conf_modules = match &source {
            Some(s) if source_ok => read_optional(&s.join("dkms.conf"))?
                .map(|c| conf_module_names(&c))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut builds = Vec::new();
        for k in list_dir(&vdir)? {
            if !looks_like_kernel_dir(&k) || validate::kernel_release(&k).is_err() {
                continue;
            }
            for arch in list_dir(&vdir.join(&k))? {
                let adir = vdir.join(&k).join(&arch);
                let mdir = adir.join("module");
                if !mdir.is_dir() {
                    continue;
                }
                let modules: Vec<PathBuf> = list_dir(&mdir)?
                    .into_iter()
                    .map(|m| mdir.join(m))
                    .filter(|p| module_stem(p).is_some())
                    .collect();
                let installed = active.iter().any(|a| a == &adir);
                let log = adir.join("log/make.log");
                builds.push(Build {
                    kernel: k.clone(),
                    arch,
                    modules,
                    state: if installed {
                        State::Installed
                    } else {
                        State::Built
                    },
                    make_log: log.is_file().then_some(log),
                });
            }
        }
        let failed = vdir.join("build/make.log");
        versions.push(Version {
            version: v.clone(),
            source,
            source_ok,
            builds,
            failed_build_log: failed.is_file().then_some(failed),
            conf_modules,
        });
    }
    versions.sort_by(|a, b| crate::kernel::compare_versions(&a.version, &b.version));
    Ok(Some(Module {
        name: name.to_string(),
        dir,
        versions,
    }))
}

/// Module names declared in a dkms.conf: `DEST_MODULE_NAME[i]`, else `BUILT_MODULE_NAME[i]`.
///
/// dkms.conf is a shell fragment; only plain `NAME[i]="value"` assignments are understood,
/// which is what every DAHDI dkms.conf uses. Anything fancier is ignored, not executed.
pub fn conf_module_names(conf: &str) -> Vec<String> {
    let mut built: Vec<(usize, String)> = Vec::new();
    let mut dest: Vec<(usize, String)> = Vec::new();
    for line in conf.lines() {
        let line = line.trim();
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let (key, idx) = match lhs.split_once('[') {
            Some((k, rest)) => (k, rest.strip_suffix(']').and_then(|i| i.parse().ok())),
            None => (lhs, Some(0)),
        };
        let Some(idx) = idx else { continue };
        let value = rhs.trim().trim_matches(|c| c == '"' || c == '\'');
        let value = value.strip_suffix(".ko").unwrap_or(value);
        if validate::module_name(value).is_err() {
            continue;
        }
        match key {
            "BUILT_MODULE_NAME" => built.push((idx, value.to_string())),
            "DEST_MODULE_NAME" => dest.push((idx, value.to_string())),
            _ => {}
        }
    }
    let mut names: Vec<String> = built
        .iter()
        .map(|(i, b)| {
            dest.iter()
                .find(|(j, _)| j == i)
                .map_or(b.clone(), |(_, d)| d.clone())
        })
        .map(|n| validate::normalize_module_name(&n))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// One line of `dkms status` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusLine {
    /// Module name.
    pub module: String,
    /// Module version.
    pub version: String,
    /// Kernel release (absent on `added` / `broken` lines).
    pub kernel: Option<String>,
    /// Architecture (absent on `added` / `broken` lines).
    pub arch: Option<String>,
    /// The state word.
    pub state: State,
    /// `installed-weak from KVER`: the kernel whose build is used.
    pub weak_from: Option<String>,
    /// Parenthesised warnings after the state, in order.
    pub notes: Vec<String>,
}

/// A line of `dkms status` output that matches none of the known formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line_no} of dkms status output is not in any known format: {line:?}")]
pub struct StatusParseError {
    /// 1-based line number.
    pub line_no: usize,
    /// The line.
    pub line: String,
}

/// Parses the whole output of `dkms status`; blank lines are skipped.
pub fn parse_status(text: &str) -> Result<Vec<StatusLine>, StatusParseError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_status_line(l).ok_or_else(|| StatusParseError {
                line_no: i + 1,
                line: l.to_string(),
            })
        })
        .collect()
}

/// Parses one line in any of the formats of dkms 2.x and 3.x:
///
/// * `name, ver: added` (≤ 2.8.6) / `name/ver: added` (≥ 2.8.7) / `name/ver: broken` (≥ 3.0.13)
/// * `name, ver, kver, arch: state` (≤ 2.8.5) / `name/ver, kver, arch: state` (≥ 2.8.6)
/// * `name, ver, kver, arch: installed-weak from KVER`
/// * followed by zero or more ` (note)` suffixes.
pub fn parse_status_line(line: &str) -> Option<StatusLine> {
    let line = line.trim_end();
    // The state follows the last ": " that precedes the first '(' of the notes.
    let head_end = line.find(" (").unwrap_or(line.len());
    let colon = line[..head_end].rfind(": ")?;
    let (ident, rest) = (&line[..colon], &line[colon + 2..]);

    let (state_part, notes_part) = rest.split_at(rest.find(" (").unwrap_or(rest.len()));
    let notes = parse_notes(notes_part)?;
    let (state, weak_from) = if let Some(k) = state_part.strip_prefix("installed-weak from ") {
        validate::kernel_release(k).ok()?;
        (State::Installed, Some(k.to_string()))
    } else {
        let s = match state_part {
            "added" => State::Added,
            "built" => State::Built,
            "installed" => State::Installed,
            "broken" => State::Broken,
            _ => return None,
        };
        (s, None)
    };

    let fields: Vec<&str> = ident.split(", ").collect();
    let (module, version, rest) = match fields.first()?.split_once('/') {
        Some((m, v)) => (m, v, &fields[1..]),
        None => (*fields.first()?, *fields.get(1)?, fields.get(2..)?),
    };
    let (kernel, arch) = match rest {
        [] => (None, None),
        [k, a] => (Some(k.to_string()), Some(a.to_string())),
        _ => return None,
    };
    validate::module_name(module).ok()?;
    validate::release("version", version).ok()?;
    if let Some(k) = &kernel {
        validate::kernel_release(k).ok()?;
    }
    if let Some(a) = &arch {
        validate::release("arch", a).ok()?;
    }
    // "added" and "broken" are per version; built and installed are per kernel.
    let per_kernel = matches!(state, State::Built | State::Installed);
    if per_kernel != kernel.is_some() && !(state == State::Added && kernel.is_some()) {
        return None;
    }
    Some(StatusLine {
        module: module.to_string(),
        version: version.to_string(),
        kernel,
        arch,
        state,
        weak_from,
        notes,
    })
}

fn parse_notes(mut s: &str) -> Option<Vec<String>> {
    let mut notes = Vec::new();
    while !s.is_empty() {
        s = s.strip_prefix(" (")?;
        let end = s.find(')')?;
        notes.push(s[..end].to_string());
        s = &s[end + 1..];
    }
    Some(notes)
}

/// The last `n` lines of a log file, for showing why a build failed.
pub fn log_tail(path: &Path, n: usize) -> Option<String> {
    let text = read_optional(path).ok().flatten()?;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    Some(lines[start..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> StatusLine {
        parse_status_line(s).unwrap_or_else(|| panic!("did not parse {s:?}"))
    }

    #[test]
    fn every_documented_format() {
        // <= 2.8.5
        let l = line("dahdi, 2.11.1: added");
        assert_eq!(
            (l.module.as_str(), l.version.as_str(), l.state),
            ("dahdi", "2.11.1", State::Added)
        );
        assert_eq!(l.kernel, None);
        let l = line("dahdi, 2.11.1, 6.1.0-18-amd64, x86_64: installed");
        assert_eq!(l.kernel.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(l.arch.as_deref(), Some("x86_64"));
        assert_eq!(l.state, State::Installed);
        // 2.8.6 mixed, >= 2.8.7
        let l = line("dahdi/2.11.1, 6.1.0-18-amd64, x86_64: built");
        assert_eq!((l.version.as_str(), l.state), ("2.11.1", State::Built));
        assert_eq!(line("dahdi/2.11.1: added").state, State::Added);
        assert_eq!(line("dahdi/2.11.1: broken").state, State::Broken);
        // weak modules
        let l = line("dahdi, 2.11.1, 6.1.0-20-amd64, x86_64: installed-weak from 6.1.0-18-amd64");
        assert_eq!(l.weak_from.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(l.kernel.as_deref(), Some("6.1.0-20-amd64"));
    }

    #[test]
    fn suffixes_old_and_new() {
        let l = line("dahdi/2.11.1, 6.1.0-18-amd64, x86_64: installed (original_module exists) (WARNING! Diff between built and installed module!) (WARNING! Diff between built and installed module!)");
        assert_eq!(l.notes.len(), 3);
        assert_eq!(l.notes[0], "original_module exists");
        let l = line("dahdi/2.11.1, 6.1.0-18-amd64, x86_64: installed (Original modules exist) (Built modules are missing in the kernel modules folder)");
        assert_eq!(
            l.notes,
            vec![
                "Original modules exist",
                "Built modules are missing in the kernel modules folder"
            ]
        );
        let l = line(
            "dahdi/2.11.1, 6.1.0-18-amd64, x86_64: built (WARNING! Missing some built modules!)",
        );
        assert_eq!(l.state, State::Built);
        assert_eq!(l.notes, vec!["WARNING! Missing some built modules!"]);
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "dahdi",
            "dahdi: installed",
            "dahdi/2.11: exploded",
            "dahdi/2.11, 6.1.0-1-amd64: installed",
            "dahdi/2.11: installed",
            "dahdi/2.11, 6.1.0-1-amd64, x86_64, extra: installed",
            "Error! Could not locate dkms.conf file.",
            "dahdi/2.11, 6.1.0-1-amd64, x86_64: installed (unterminated",
            "../x/2.11: added",
            "dahdi/2.11, ../../etc, x86_64: installed",
        ] {
            assert!(parse_status_line(bad).is_none(), "{bad:?}");
        }
        let e = parse_status("dahdi/1: added\n\nwhat is this\n").unwrap_err();
        assert_eq!(e.line_no, 3);
        assert!(e.to_string().contains("what is this"));
    }

    #[test]
    fn conf_names_prefer_dest_and_skip_junk() {
        let conf = r#"
PACKAGE_NAME="dahdi"
BUILT_MODULE_NAME[0]="dahdi"
BUILT_MODULE_NAME[1]="wct4xxp"
DEST_MODULE_NAME[1]="wct4xxp_renamed"
BUILT_MODULE_NAME[2]="$(rm -rf /)"
BUILT_MODULE_NAME[3]='xpp_usb'
"#;
        assert_eq!(
            conf_module_names(conf),
            vec!["dahdi", "wct4xxp_renamed", "xpp_usb"]
        );
    }

    #[test]
    fn kernel_dir_glob() {
        assert!(looks_like_kernel_dir("6.1.0-56-amd64"));
        assert!(!looks_like_kernel_dir("source"));
        assert!(!looks_like_kernel_dir("build"));
        assert!(!looks_like_kernel_dir("6"));
    }
}
