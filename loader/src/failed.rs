//! A failed build is a verdict, not a to-do.
//!
//! When DKMS could not compile DAHDI for a kernel (Debian 13 with a backports kernel where
//! DAHDI's source no longer builds, say), rebuilding changes nothing until the source, the
//! kernel's headers or the compiler changes. DKMS keeps the failed attempt's make.log in
//! `/var/lib/dkms/M/V/build/make.log` (its first line names the kernel); the loader keeps
//! its own failed attempts, with what they were built from, under
//! `/var/lib/dahdi-loader/failed/`. Either, while its inputs are unchanged, makes the
//! kernel's verdict "build failed", and `ensure` does not try again (unless `--force`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::dkms::Module;
use crate::error::Error;
use crate::kernel::Kernel;
use crate::names::{KernelRelease, PackageName, Version};
use crate::root::{read_optional, Root};

/// Where the loader keeps its failed builds.
pub const FAILED_DIR: &str = "/var/lib/dahdi-loader/failed";

/// The compiler's first error in a make.log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompilerError {
    /// The source file, relative to the build directory when it was inside it.
    pub file: String,
    /// The line.
    pub line: u32,
    /// The message after `error:`.
    pub message: String,
}

impl std::fmt::Display for CompilerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: error: {}", self.file, self.line, self.message)
    }
}

/// Who tried the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Builder {
    /// DKMS, from a package's or the kernel's hook.
    Dkms,
    /// This loader (`ensure`).
    Loader,
}

/// What a build is made from: the same inputs give the same failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// The DKMS module and version, and when its dkms.conf last changed.
    pub source: String,
    /// The headers: their directory and the size and time of .config and Module.symvers.
    pub headers: String,
    /// The compiler the kernel was configured with (`CONFIG_CC_VERSION_TEXT`).
    pub compiler: String,
}

impl Inputs {
    /// The inputs a build of `module` `version` for `kernel` would use now.
    pub fn of(root: &Root, kernel: &Kernel, module: &PackageName, version: &Version) -> Inputs {
        let conf = root.join(format!("/usr/src/{module}-{version}/dkms.conf"));
        let source = format!("{module} {version} {}", stamp(&conf));
        let (headers, compiler) = match &kernel.headers {
            Some(h) => {
                let config = h.join(".config");
                let cc = read_optional(&config)
                    .ok()
                    .flatten()
                    .and_then(|c| {
                        c.lines()
                            .find_map(|l| l.strip_prefix("CONFIG_CC_VERSION_TEXT="))
                            .map(|v| v.trim_matches('"').to_string())
                    })
                    .unwrap_or_default();
                (
                    format!(
                        "{} {} {}",
                        h.display(),
                        stamp(&config),
                        stamp(&h.join("Module.symvers"))
                    ),
                    cc,
                )
            }
            None => (String::new(), String::new()),
        };
        Inputs {
            source,
            headers,
            compiler,
        }
    }
}

fn stamp(p: &Path) -> String {
    match std::fs::metadata(p) {
        Ok(m) => format!(
            "{}@{}",
            m.len(),
            m.modified()
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs())
        ),
        Err(_) => "-".into(),
    }
}

/// A build of DAHDI for a kernel that failed, with inputs that have not changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedBuild {
    /// The DKMS module.
    pub module: PackageName,
    /// Its version.
    pub version: Version,
    /// The kernel.
    pub kernel: KernelRelease,
    /// Who tried.
    pub by: Builder,
    /// The make.log of the attempt.
    pub log: PathBuf,
    /// The compiler's first error, if the log has one.
    pub first_error: Option<CompilerError>,
    /// What it was built from (the loader's own records; DKMS's log is judged by times).
    pub inputs: Option<Inputs>,
}

/// Finds the compiler's first error (`FILE:LINE[:COL]: error: MESSAGE`) in a make.log; the
/// file is named from the build directory (`.../M/V/build/`) when it lies inside it.
pub fn first_error(log: &str, build_dir: Option<&str>) -> Option<CompilerError> {
    log.lines().find_map(|l| {
        let (head, message) = l.split_once(": error: ")?;
        let mut parts = head.rsplitn(3, ':');
        let a = parts.next()?;
        let b = parts.next()?;
        let (file, line) = match (a.parse::<u32>(), b.parse::<u32>()) {
            (Ok(_col), Ok(line)) => (parts.next()?, line),
            (Ok(line), Err(_)) => (head.rsplit_once(':')?.0, line),
            _ => return None,
        };
        let file = file.trim();
        let file = build_dir
            .and_then(|marker| file.split_once(marker))
            .map_or(file, |(_, inside)| inside.trim_start_matches('/'));
        Some(CompilerError {
            file: file.to_string(),
            line,
            message: message.trim().to_string(),
        })
    })
}

/// The kernel a DKMS make.log was for, from its first line (`DKMS make.log for M-V for
/// kernel K (ARCH)` in 3.0, `DKMS (dkms-3.2.2) make.log for M/V for kernel K (ARCH)` in 3.2).
pub fn log_kernel(first_line: &str) -> Option<KernelRelease> {
    let rest = first_line.split(" for kernel ").nth(1)?;
    KernelRelease::new(rest.split_whitespace().next()?).ok()
}

/// The end of DKMS's build directory in any tree (the system's, or a staging one).
fn build_marker(module: &PackageName, version: &Version) -> String {
    format!("/{module}/{version}/build/")
}

fn record_dir(root: &Root, module: &PackageName, version: &Version) -> PathBuf {
    root.join(FAILED_DIR).join(module).join(version)
}

/// Keeps the loader's failed attempt: its make.log and what it was built from.
pub fn record(
    root: &Root,
    kernel: &Kernel,
    module: &PackageName,
    version: &Version,
    log: &Path,
) -> Result<FailedBuild, Error> {
    let dir = record_dir(root, module, version);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let kept = dir.join(format!("{}.make.log", kernel.release));
    std::fs::copy(log, &kept).map_err(|e| Error::io("copy", log, e))?;
    let text = read_optional(&kept)?.unwrap_or_default();
    let f = FailedBuild {
        module: module.clone(),
        version: version.clone(),
        kernel: kernel.release.clone(),
        by: Builder::Loader,
        first_error: first_error(&text, Some(&build_marker(module, version))),
        log: kept,
        inputs: Some(Inputs::of(root, kernel, module, version)),
    };
    let json = dir.join(format!("{}.json", kernel.release));
    let body = serde_json::to_vec_pretty(&f).expect("a record serializes");
    std::fs::write(&json, body).map_err(|e| Error::io("write", &json, e))?;
    Ok(f)
}

/// Forgets the loader's failed attempts for a kernel (after a build that worked).
pub fn forget(root: &Root, module: &PackageName, version: &Version, kernel: &KernelRelease) {
    let dir = record_dir(root, module, version);
    for ext in ["json", "make.log"] {
        let _ = std::fs::remove_file(dir.join(format!("{kernel}.{ext}")));
    }
}

/// The failed build of `module` for `kernel` whose inputs are unchanged, if there is one:
/// the loader's own record first, else DKMS's make.log when it names the kernel, no build
/// for the kernel exists, and neither the source nor the headers changed since.
pub fn find(root: &Root, kernel: &Kernel, module: &Module) -> Option<FailedBuild> {
    for v in module.versions.iter().rev() {
        let json =
            record_dir(root, &module.name, &v.version).join(format!("{}.json", kernel.release));
        if let Some(f) = read_optional(&json)
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str::<FailedBuild>(&t).ok())
        {
            if f.inputs.as_ref() == Some(&Inputs::of(root, kernel, &module.name, &v.version)) {
                return Some(f);
            }
        }
        let Some(log) = &v.failed_build_log else {
            continue;
        };
        if v.builds.iter().any(|b| b.kernel == kernel.release) {
            continue;
        }
        let text = read_optional(log).ok().flatten()?;
        if log_kernel(text.lines().next().unwrap_or("")).as_ref() != Some(&kernel.release) {
            continue;
        }
        let when = std::fs::metadata(log).and_then(|m| m.modified()).ok()?;
        let changed_since = |p: PathBuf| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > when)
        };
        let conf = root.join(format!("/usr/src/{}-{}/dkms.conf", module.name, v.version));
        let newer_headers = kernel.headers.as_ref().is_some_and(|h| {
            changed_since(h.join(".config")) || changed_since(h.join("Module.symvers"))
        });
        if changed_since(conf) || newer_headers {
            continue;
        }
        let marker = build_marker(&module.name, &v.version);
        return Some(FailedBuild {
            module: module.name.clone(),
            version: v.version.clone(),
            kernel: kernel.release.clone(),
            by: Builder::Dkms,
            first_error: first_error(&text, Some(&marker)),
            log: log.clone(),
            inputs: None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compilers_first_error_is_found() {
        // As gcc-14 printed it for DAHDI 3.1 on Linux 7.3 (debian-13-and-providers.md).
        let log = "DKMS (dkms-3.2.2) make.log for dahdi/3.1.0+git20230717 for kernel 7.3.4+deb13-amd64 (x86_64)\n\
                   Sat Dec  5 10:00:00 UTC 2026\n\
                   make -C /lib/modules/7.3.4+deb13-amd64/build M=/var/lib/dkms/dahdi/3.1.0+git20230717/build\n\
                   /var/lib/dkms/dahdi/3.1.0+git20230717/build/drivers/dahdi/dahdi-base.c: In function 'dahdi_ppp_xmit':\n\
                   /var/lib/dkms/dahdi/3.1.0+git20230717/build/drivers/dahdi/dahdi-base.c:9338:25: error: too many arguments to function 'ppp_input_error'\n\
                   /var/lib/dkms/dahdi/3.1.0+git20230717/build/drivers/dahdi/dahdi-base.c:10460:9: error: implicit declaration of function 'del_timer_sync'\n";
        let e = first_error(log, Some("/dahdi/3.1.0+git20230717/build/")).unwrap();
        assert_eq!(e.file, "drivers/dahdi/dahdi-base.c");
        assert_eq!(e.line, 9338);
        assert_eq!(
            e.message,
            "too many arguments to function 'ppp_input_error'"
        );
        assert_eq!(
            log_kernel(log.lines().next().unwrap()).unwrap(),
            "7.3.4+deb13-amd64"
        );
        assert_eq!(
            log_kernel("DKMS make.log for dahdi-2.11.1 for kernel 6.1.0-9-amd64 (x86_64)").unwrap(),
            "6.1.0-9-amd64"
        );
        // Without a column.
        assert_eq!(first_error("x.c:12: error: boom", None).unwrap().line, 12);
        assert_eq!(
            first_error("warning: nothing\nmake: *** Error 2\n", None),
            None
        );
        assert_eq!(log_kernel("garbage"), None);
    }
}
