//! Whatever provides DAHDI: every DKMS module whose build contains `dahdi.ko` (Debian's
//! `dahdi`, an operator's `dahdi-linux` built from upstream DAHDI 3.x, several at once),
//! and, per module file, who put it there (a DKMS build, a dpkg package such as a leftover
//! `dahdi-linux-modules-KVER`, or nobody: a manual `make install`).
//!
//! The loader builds with one DKMS provider per kernel ([`Providers::managed_for`]): the one
//! installed for the kernel; with none installed, the newest. When two are installed for
//! the same kernel they fight (DKMS refuses to replace files that "exactly match" and
//! leaves a mixed set), and no rebuild can settle that: the operator must choose one.

use std::path::Path;

use serde::Serialize;

use crate::dkms::{self, Build, Module, Registered, State};
use crate::error::Error;
use crate::names::{KernelRelease, ModuleName, PackageName, Version};
use crate::root::{list_dir, Root};

/// The module every DAHDI provider builds: the core the others depend on.
pub const CORE: &str = "dahdi";

/// Every DKMS module that provides DAHDI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Providers {
    /// The DKMS modules whose dkms.conf or builds contain `dahdi.ko`, by name.
    pub dkms: Vec<Module>,
}

/// Who put a module file where it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Owner {
    /// A DKMS module's build for this kernel (the file equals the tree's copy).
    Dkms {
        /// The DKMS module.
        module: PackageName,
        /// Its version.
        version: Version,
    },
    /// A dpkg package lists the file.
    Package {
        /// The package.
        package: PackageName,
        /// Its installed version.
        version: Option<Version>,
    },
    /// Nothing claims it: a manual `make install`, or a package's leftover after removal.
    Unowned,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Dkms { module, version } => write!(f, "DKMS module {module} {version}"),
            Owner::Package {
                package,
                version: Some(v),
            } => write!(f, "package {package} {v}"),
            Owner::Package {
                package,
                version: None,
            } => write!(f, "package {package}"),
            Owner::Unowned => f.write_str("no package (a manual install)"),
        }
    }
}

impl Owner {
    /// How to take this owner's copy of a module away, never by deleting a file a
    /// package owns: purge the package, remove the unowned file, or remove the other
    /// DKMS module.
    pub fn removal(&self, system_path: &str, kernel: &KernelRelease) -> crate::report::Fix {
        use crate::report::Fix;
        match self {
            Owner::Package { package, .. } => Fix::PurgePackage {
                package: package.to_string(),
            },
            Owner::Unowned => Fix::RemoveFilesThenDepmod {
                paths: vec![system_path.to_string()],
                kernel: kernel.clone(),
            },
            Owner::Dkms { module, version } => Fix::manual(format!(
                "remove the other DKMS module: dkms remove -m {module} -v {version} --all (or apt purge the package that ships it)"
            )),
        }
    }

    /// The owner of a file a dpkg package lists.
    pub fn of_package(p: &crate::dpkg::Package) -> Owner {
        Owner::Package {
            package: PackageName::new(&p.binary_package).unwrap_or_else(|_| p.name.clone()),
            version: p
                .version
                .as_ref()
                .and_then(|v| Version::new(v.as_str()).ok()),
        }
    }
}

/// Merges removal fixes of several copies into one: the packages to purge, the unowned
/// files to remove.
pub fn merge_removals(fixes: Vec<crate::report::Fix>) -> Option<crate::report::Fix> {
    use crate::report::Fix;
    let mut packages: Vec<String> = Vec::new();
    let mut files: Vec<String> = Vec::new();
    let mut kernel = None;
    let mut others: Vec<Fix> = Vec::new();
    for f in fixes {
        match f {
            Fix::PurgePackage { package } => packages.push(package),
            Fix::RemoveFilesThenDepmod { paths, kernel: k } => {
                files.extend(paths);
                kernel = Some(k);
            }
            other => {
                if !others.contains(&other) {
                    others.push(other);
                }
            }
        }
    }
    packages.sort();
    packages.dedup();
    files.sort();
    files.dedup();
    match (packages.is_empty(), files.is_empty(), others.is_empty()) {
        (false, true, true) => Some(Fix::PurgePackage {
            package: packages.join(" "),
        }),
        (true, false, true) => Some(Fix::RemoveFilesThenDepmod {
            paths: files,
            kernel: kernel.expect("set with the files"),
        }),
        (true, true, false) => others.into_iter().next(),
        (true, true, true) => None,
        _ => {
            let mut parts = Vec::new();
            if !packages.is_empty() {
                parts.push(format!("apt purge {}", packages.join(" ")));
            }
            if !files.is_empty() {
                parts.push(format!(
                    "remove {} (no package owns {})",
                    files.join(" "),
                    if files.len() == 1 { "it" } else { "them" }
                ));
            }
            parts.extend(others.iter().map(ToString::to_string));
            let k = kernel
                .map(|k| format!(", then run depmod {k}"))
                .unwrap_or_default();
            Some(Fix::manual(format!("{}{k}", parts.join("; "))))
        }
    }
}

impl Providers {
    /// Reads every DKMS module under `/var/lib/dkms` and keeps those that build `dahdi.ko`.
    pub fn read(root: &Root) -> Result<Self, Error> {
        let core = ModuleName::new(CORE).expect("a valid name");
        let mut dkms = Vec::new();
        for name in list_dir(&root.join("/var/lib/dkms"))? {
            let Ok(name) = PackageName::new(&name) else {
                continue;
            };
            if !root.join("/var/lib/dkms").join(&name).is_dir() {
                continue;
            }
            if let Some(m) = dkms::read_module(root, &name)? {
                if m.module_names().contains(&core) {
                    dkms.push(m);
                }
            }
        }
        Ok(Providers { dkms })
    }

    /// The DKMS modules installed (DKMS's `installed` state) for `kernel`, with the
    /// version installed.
    pub fn installed_for(&self, kernel: &KernelRelease) -> Vec<(&Module, &Registered)> {
        self.dkms
            .iter()
            .filter_map(|m| {
                let v = m
                    .versions
                    .iter()
                    .find(|v| v.state_for(kernel) == State::Installed)?;
                Some((m, v))
            })
            .collect()
    }

    /// The DKMS module the loader builds with for `kernel`: the one installed for it, else
    /// the one with the newest usable version; `None` when none is registered, or when
    /// several are installed for the kernel (a conflict the operator must settle).
    pub fn managed_for(&self, kernel: &KernelRelease) -> Option<&Module> {
        let installed = self.installed_for(kernel);
        match installed.as_slice() {
            [(m, _)] => return Some(m),
            [] => {}
            _ => return None,
        }
        self.dkms
            .iter()
            .filter_map(|m| Some((m, m.versions.iter().rev().find(|v| v.source_ok)?)))
            .max_by(|(a, va), (b, vb)| {
                crate::debversion::compare_lenient(va.version.as_str(), vb.version.as_str())
                    .then_with(|| b.name.cmp(&a.name))
            })
            .map(|(m, _)| m)
            .or_else(|| self.dkms.first())
    }

    /// Every module name any provider builds.
    pub fn module_names(&self) -> Vec<ModuleName> {
        let mut names: Vec<ModuleName> = self.dkms.iter().flat_map(Module::module_names).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The DKMS build (module, version, build) whose copy of `name` for `kernel` has
    /// exactly these bytes.
    pub fn dkms_owner(
        &self,
        kernel: &KernelRelease,
        name: &ModuleName,
        file_bytes: &[u8],
    ) -> Option<(&Module, &Registered, &Build)> {
        for m in &self.dkms {
            for v in &m.versions {
                for b in v.builds.iter().filter(|b| &b.kernel == kernel) {
                    if let Some(copy) = b
                        .modules
                        .iter()
                        .find(|p| ModuleName::from_file_name(p).as_ref() == Some(name))
                    {
                        if same_bytes(copy, file_bytes) {
                            return Some((m, v, b));
                        }
                    }
                }
            }
        }
        None
    }
}

/// The file has exactly these bytes. Sizes are compared first so that only same-sized
/// files are read; the whole content is compared, since a copy edited by hand keeps its old
/// signature.
fn same_bytes(path: &Path, bytes: &[u8]) -> bool {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == bytes.len() as u64 && m.len() <= crate::module_file::MAX_FILE_BYTES => {
            std::fs::read(path).is_ok_and(|t| t == bytes)
        }
        _ => false,
    }
}
