//! DKMS state of a module, read from the DKMS tree directly.
//!
//! Reading `/var/lib/dkms` directly is what makes `status` fast (`dkms status` is a shell
//! script that takes most of a second) and lets it work under `--root`. The rules follow
//! DKMS's own `is_module_added` / `is_module_built` / `_is_module_installed`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::names::{KernelRelease, ModuleName, PackageName, Version};
use crate::root::{list_dir, read_optional, Root};

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
    pub kernel: KernelRelease,
    /// Architecture directory (x86_64, ...).
    pub arch: Version,
    /// Module files in the build's `module/` directory, sorted.
    pub modules: Vec<PathBuf>,
    /// `installed` when the active link points here, otherwise `built`.
    pub state: State,
    /// `log/make.log` of this build, if kept.
    pub make_log: Option<PathBuf>,
}

/// One registered version of the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    /// PACKAGE_VERSION.
    pub version: Version,
    /// Where `source` points (under the root), if it is a link.
    pub source: Option<PathBuf>,
    /// `source` resolves to a directory.
    pub source_ok: bool,
    /// Builds found for this version.
    pub builds: Vec<Build>,
    /// `build/make.log` left by a failed (or running) build.
    pub failed_build_log: Option<PathBuf>,
    /// Module names from dkms.conf (DEST_MODULE_NAME or BUILT_MODULE_NAME), if readable.
    pub conf_modules: Vec<ModuleName>,
}

impl Registered {
    /// DKMS's state of this version for a kernel (`added` if nothing was built for it).
    pub fn state_for(&self, kernel: &KernelRelease) -> State {
        if !self.source_ok {
            return State::Broken;
        }
        self.builds
            .iter()
            .filter(|b| &b.kernel == kernel)
            .map(|b| b.state)
            .max()
            .unwrap_or(State::Added)
    }
}

/// A module's entry in the DKMS tree (`/var/lib/dkms/NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    /// PACKAGE_NAME.
    pub name: PackageName,
    /// `/var/lib/dkms/NAME` under the root.
    pub dir: PathBuf,
    /// Registered versions, oldest first.
    pub versions: Vec<Registered>,
}

impl Module {
    /// The version installed for `kernel`, else the newest version DKMS would autoinstall.
    pub fn version_for(&self, kernel: &KernelRelease) -> Option<&Registered> {
        self.versions
            .iter()
            .find(|v| v.state_for(kernel) == State::Installed)
            .or_else(|| self.versions.iter().rev().find(|v| v.source_ok))
            // With every version broken, report the newest so its state says "broken".
            .or_else(|| self.versions.last())
    }

    /// Every module name the package builds, from dkms.conf or, failing that, from builds.
    pub fn module_names(&self) -> Vec<ModuleName> {
        let mut names: Vec<ModuleName> = Vec::new();
        for v in &self.versions {
            names.extend(v.conf_modules.iter().cloned());
            for b in &v.builds {
                names.extend(
                    b.modules
                        .iter()
                        .filter_map(|p| ModuleName::from_file_name(p)),
                );
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// The DKMS state of the best version for a kernel.
    pub fn state_for(&self, kernel: &KernelRelease) -> Option<(State, &Registered)> {
        self.version_for(kernel).map(|v| (v.state_for(kernel), v))
    }
}

/// DKMS only considers kernel directories that match the glob `+([0-9]).*`.
fn looks_like_kernel_dir(name: &str) -> bool {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && name.as_bytes().get(digits) == Some(&b'.')
}

/// Reads `/var/lib/dkms/NAME` under the root; `Ok(None)` if the module is not registered.
pub fn read_module(root: &Root, name: &PackageName) -> Result<Option<Module>, Error> {
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
        let Ok(version) = Version::new_as("DKMS version", v) else {
            continue;
        };
        if !vdir.is_dir() {
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
            if !looks_like_kernel_dir(&k) {
                continue;
            }
            let Ok(kernel) = KernelRelease::new(&k) else {
                continue;
            };
            for arch in list_dir(&vdir.join(&k))? {
                let Ok(arch_name) = Version::new_as("architecture", &arch) else {
                    continue;
                };
                let adir = vdir.join(&k).join(&arch);
                let mdir = adir.join("module");
                if !mdir.is_dir() {
                    continue;
                }
                let modules: Vec<PathBuf> = list_dir(&mdir)?
                    .into_iter()
                    .map(|m| mdir.join(m))
                    .filter(|p| ModuleName::from_file_name(p).is_some())
                    .collect();
                let installed = active.iter().any(|a| a == &adir);
                let log = adir.join("log/make.log");
                builds.push(Build {
                    kernel: kernel.clone(),
                    arch: arch_name,
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
        versions.push(Registered {
            version,
            source,
            source_ok,
            builds,
            failed_build_log: failed.is_file().then_some(failed),
            conf_modules,
        });
    }
    versions
        .sort_by(|a, b| crate::debversion::compare_lenient(a.version.as_str(), b.version.as_str()));
    Ok(Some(Module {
        name: name.clone(),
        dir,
        versions,
    }))
}

/// Module names declared in a dkms.conf: `DEST_MODULE_NAME[i]`, else `BUILT_MODULE_NAME[i]`.
///
/// dkms.conf is a shell fragment; only plain `NAME[i]="value"` assignments are understood,
/// which is what every DAHDI dkms.conf uses. Anything fancier is ignored, not executed.
pub fn conf_module_names(conf: &str) -> Vec<ModuleName> {
    let mut built: Vec<(usize, ModuleName)> = Vec::new();
    let mut dest: Vec<(usize, ModuleName)> = Vec::new();
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
        let Ok(name) = ModuleName::new(value) else {
            continue;
        };
        match key {
            "BUILT_MODULE_NAME" => built.push((idx, name)),
            "DEST_MODULE_NAME" => dest.push((idx, name)),
            _ => {}
        }
    }
    let mut names: Vec<ModuleName> = built
        .iter()
        .map(|(i, b)| {
            dest.iter()
                .find(|(j, _)| j == i)
                .map_or(b.clone(), |(_, d)| d.clone())
        })
        .collect();
    names.sort();
    names.dedup();
    names
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
    fn versions_are_ordered_as_dpkg_orders_them() {
        // A release candidate comes before its release (dpkg, DKMS and apt agree).
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        for v in ["3.4.0", "3.4.0~rc1", "2.11.1.0.20170917", "1:1.0"] {
            let d = t.path().join("var/lib/dkms/dahdi-linux").join(v);
            std::fs::create_dir_all(&d).unwrap();
        }
        let m = read_module(&root, &PackageName::new("dahdi-linux").unwrap())
            .unwrap()
            .unwrap();
        let order: Vec<&str> = m.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(order, ["2.11.1.0.20170917", "3.4.0~rc1", "3.4.0", "1:1.0"]);
    }

    #[test]
    fn kernel_dir_glob() {
        assert!(looks_like_kernel_dir("6.1.0-56-amd64"));
        assert!(!looks_like_kernel_dir("source"));
        assert!(!looks_like_kernel_dir("build"));
        assert!(!looks_like_kernel_dir("6"));
    }
}
