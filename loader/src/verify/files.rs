//! The module files themselves: present, trustworthy, readable, parseable; and, on the
//! running kernel, whether what is loaded is what is on disk.

use super::{build_fix, grouped, subject, DkmsCopies, ModuleReport};
use crate::dkms::Build;
use crate::error::Error;
use crate::kernel::Kernel;
use crate::live;
use crate::modindex::KernelIndex;
use crate::module_file::{ModuleFile, MAX_FILE_BYTES};
use crate::names::ModuleName;
use crate::report::{summarize, Code, Finding, Fix, Severity};
use crate::system::System;

/// The modules read for one kernel.
pub(super) struct Read {
    pub modules: Vec<ModuleReport>,
}

/// Why a file could not be used, grouped by the kind of problem.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Problem {
    Untrusted(String),
    Unreadable(String),
    NotAModule(String),
}

/// Reads every module modprobe would pick for `names`, with the same judgement `ensure`
/// makes before loading ([`ModuleFile::open`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn read_all(
    sys: &System,
    kernel: &Kernel,
    trust: &super::signatures::KernelTrust,
    names: &[ModuleName],
    index: &KernelIndex,
    dkms_copies: DkmsCopies<'_>,
    findings: &mut Vec<Finding>,
) -> Read {
    let mut modules = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    let mut problems: Vec<(ModuleName, Problem)> = Vec::new();
    for name in names {
        let pick = &index.picks[name];
        let mut mr = ModuleReport::new(name.clone());
        mr.other_copies = pick
            .others
            .iter()
            .map(|c| super::OtherCopy {
                path: c.path.clone(),
                owner: None,
            })
            .collect();
        let Some(chosen) = &pick.chosen else {
            // Configured extra modules may live in the kernel's own tree, which is not
            // walked; modules.dep knowing them is enough.
            if !(sys.config.add.contains(name) && index.knows(name)) {
                missing.push(name.clone());
            }
            modules.push(mr);
            continue;
        };
        mr.path = Some(chosen.path.clone());
        let image = ModuleFile::open(&chosen.path, &sys.root).and_then(|mut f| f.read());
        let image = match image {
            Ok(i) => i,
            Err(e) => {
                mr.error = Some(e.to_string());
                let problem = match e {
                    Error::UntrustedFile { reason, .. } => Problem::Untrusted(reason),
                    Error::BadModule { reason, .. } => Problem::NotAModule(reason),
                    other => Problem::Unreadable(other.to_string()),
                };
                problems.push((name.clone(), problem));
                modules.push(mr);
                continue;
            }
        };
        mr.compression = image.compression;
        mr.from_dkms = match dkms_copies {
            DkmsCopies::None => None,
            DkmsCopies::Tree(b) => Some(is_dkms_copy(image.file_bytes(), name, b)),
            DkmsCopies::Staged(files) => Some(files.contains(&chosen.path)),
        };
        mr.owner = sys
            .providers
            .dkms_owner(&kernel.release, name, image.file_bytes())
            .map(|(m, v, _)| crate::providers::Owner::Dkms {
                module: m.name.clone(),
                version: v.version.clone(),
            });
        let info = match image.info() {
            Ok(i) => i,
            Err(e) => {
                mr.error = Some(e.to_string());
                problems.push((name.clone(), Problem::NotAModule(e.to_string())));
                modules.push(mr);
                continue;
            }
        };
        mr.vermagic = info.vermagic().map(String::from);
        mr.version = info.get("version").map(String::from);
        mr.srcversion = info.srcversion().map(String::from);
        mr.depends = info.depends();
        mr.signature = trust.check_module(&image.elf);
        mr.info = Some(info);
        modules.push(mr);
    }

    attribute_owners(sys, &kernel.release, &mut modules);
    let k = &kernel.release;
    let path_of = |mods: &[ModuleName]| {
        modules
            .iter()
            .find(|m| Some(&m.name) == mods.first())
            .and_then(|m| m.path.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let made = grouped(problems, |p, mods| match p {
        Problem::Untrusted(reason) => Finding::new(
            Code::Untrusted,
            Severity::Broken,
            format!(
                "{}: the loader will not hand {} to the kernel: {reason}",
                subject(mods),
                if mods.len() == 1 { "it" } else { "them" }
            ),
        )
        .fix(Fix::FixOwnership {
            path: path_of(mods),
        }),
        Problem::Unreadable(reason) => Finding::new(
            Code::Unreadable,
            Severity::Broken,
            format!("{} could not be read: {reason}", subject(mods)),
        ),
        Problem::NotAModule(reason) => Finding::new(
            Code::NotAModule,
            Severity::Broken,
            format!(
                "{} {} not a usable kernel module: {reason}",
                subject(mods),
                if mods.len() == 1 { "is" } else { "are" }
            ),
        )
        .fix(build_fix(kernel)),
    });
    findings.extend(made);

    if !missing.is_empty() {
        findings.push(
            Finding::new(
                Code::ModulesMissing,
                Severity::NeedsBuild,
                format!(
                    "{} of {} DAHDI modules are missing for kernel {k}: {}",
                    missing.len(),
                    names.len(),
                    summarize(&missing)
                ),
            )
            .modules(missing)
            .fix(build_fix(kernel)),
        );
    }
    Read { modules }
}

/// Who put each file there that no DKMS build did: the dpkg package that lists it, or
/// nobody. Other copies too, so that advice about them can name their package.
fn attribute_owners(
    sys: &System,
    kernel: &crate::names::KernelRelease,
    modules: &mut [ModuleReport],
) {
    use crate::providers::Owner;
    let Some(db) = &sys.dpkg else {
        // No dpkg database under this root: ownership cannot be told.
        return;
    };
    let mut paths: Vec<std::path::PathBuf> = Vec::new();
    for m in modules.iter() {
        paths.extend(m.path.clone());
        paths.extend(m.other_copies.iter().map(|c| c.path.clone()));
    }
    if paths.is_empty() {
        return;
    }
    let Ok((owners, _notes)) = crate::dpkg::owners_of_files(&sys.root, db, &paths) else {
        return;
    };
    let owner_of = |p: &std::path::Path| {
        owners
            .iter()
            .find(|o| o.path == p)
            .map(|o| match o.owners.first() {
                Some(pkg) => Owner::of_package(pkg),
                None => Owner::Unowned,
            })
    };
    // A package that lists the file owns it, whatever a DKMS build's copy looks like
    // (modules without a version are the same bytes in every build of them).
    let listed = |p: &std::path::Path| owner_of(p).filter(|o| matches!(o, Owner::Package { .. }));
    for m in modules.iter_mut() {
        if let Some(p) = &m.path {
            m.owner = listed(p).or(m.owner.take()).or_else(|| owner_of(p));
        }
        for c in &mut m.other_copies {
            // A copy DKMS installed is no package's: tell it by its bytes.
            let dkms = std::fs::metadata(&c.path)
                .ok()
                .filter(|md| md.len() <= crate::module_file::MAX_FILE_BYTES)
                .and_then(|_| std::fs::read(&c.path).ok())
                .and_then(|bytes| {
                    sys.providers
                        .dkms_owner(kernel, &m.name, &bytes)
                        .map(|(d, v, _)| Owner::Dkms {
                            module: d.name.clone(),
                            version: v.version.clone(),
                        })
                });
            c.owner = listed(&c.path).or(dkms).or_else(|| owner_of(&c.path));
        }
    }
}

/// On the running kernel: is each loaded module the file on disk (srcversion)?
pub(super) fn compare_loaded(
    sys: &System,
    modules: &mut [ModuleReport],
    findings: &mut Vec<Finding>,
) {
    let mut differ = Vec::new();
    for mr in modules.iter_mut() {
        mr.loaded = sys.loaded.is_loaded(mr.name.as_str());
        if mr.loaded != Some(true) {
            continue;
        }
        if let (Ok(Some(live)), Some(file)) =
            (live::srcversion(&sys.root, &mr.name), &mr.srcversion)
        {
            let same = &live == file;
            mr.loaded_matches_file = Some(same);
            if !same {
                differ.push((mr.name.clone(), (live, file.clone())));
            }
        }
    }
    findings.extend(grouped(differ, |(live, file), mods| {
        Finding::new(
            Code::LoadedDiffers,
            Severity::Mismatch,
            format!("the loaded {} is not the file on disk (srcversion {live} loaded, {file} on disk): it was rebuilt or replaced after it was loaded", subject(mods)),
        )
        .fix(Fix::Reload)
    }));
}

/// The module file equals the copy in the DKMS build of this kernel. Sizes are compared
/// first so that only same-sized files are read. The whole content is compared: a copy
/// edited by hand keeps its old signature, so comparing signatures alone is not enough.
fn is_dkms_copy(file_bytes: &[u8], name: &ModuleName, build: &Build) -> bool {
    let Some(tree) = build
        .modules
        .iter()
        .find(|p| ModuleName::from_file_name(p).as_ref() == Some(name))
    else {
        return false;
    };
    match std::fs::metadata(tree) {
        Ok(m) if m.len() == file_bytes.len() as u64 && m.len() <= MAX_FILE_BYTES => {
            std::fs::read(tree).is_ok_and(|t| t == file_bytes)
        }
        _ => false,
    }
}
