//! What `check_modinfo()` and the ELF checks of the kernel compare: vermagic, the size of
//! `struct module`, the ELF machine; said as the kernel would act
//! (kernel/module/main.c and version.c):
//!
//! * a module without vermagic goes through `try_to_force_load()`: refused (ENOEXEC) unless
//!   the kernel has `CONFIG_MODULE_FORCE_LOAD`, which loads it and taints itself;
//! * `same_magic()` skips the release word of both strings when the module carries symbol
//!   versions (`__versions`), so a module built for another release of a modversions
//!   kernel is decided by its symbol CRCs, not refused for the release;
//! * any other difference is "version magic ... should be ..." (ENOEXEC).

use std::collections::HashSet;

use super::symbols::Compared;
use super::{build_fix, grouped, subject, were, ModuleReport};
use crate::kernel::{Kernel, KernelAbi, KernelConfig};
use crate::module_file::ModuleInfo;
use crate::names::ModuleName;
use crate::report::{Code, Finding, Severity};

/// Whether a module's vermagic is the kernel's, word for word.
pub(super) fn matches(info: &ModuleInfo, abi: &KernelAbi, _kernel: &Kernel) -> bool {
    info.vermagic() == Some(abi.vermagic.as_str())
}

/// The words after the release (`SMP preempt mod_unload modversions `).
fn flags(vermagic: &str) -> &str {
    vermagic.find(' ').map_or("", |i| &vermagic[i..])
}

/// Adds the findings for vermagic, `struct module` and ELF machine; returns the modules
/// whose vermagic differs only in the release word where the kernel would then decide by
/// CRCs (see [`release_only`]), with their vermagic.
pub(super) fn check(
    kernel: &Kernel,
    abi: Option<&KernelAbi>,
    config: Option<&KernelConfig>,
    modules: &[ModuleReport],
    findings: &mut Vec<Finding>,
) -> Vec<(ModuleName, String)> {
    let k = &kernel.release;
    let mut none: Vec<ModuleName> = Vec::new();
    let mut wrong: Vec<(ModuleName, String)> = Vec::new();
    let mut release_only: Vec<(ModuleName, String)> = Vec::new();
    let mut size: Vec<(ModuleName, (u64, u64))> = Vec::new();
    let mut machine: Vec<(ModuleName, (u16, u16))> = Vec::new();
    for mr in modules {
        let Some(info) = &mr.info else { continue };
        let Some(found) = info.vermagic() else {
            none.push(mr.name.clone());
            continue;
        };
        match abi {
            Some(a) if found == a.vermagic => {}
            Some(a) if !info.versions.is_empty() && flags(found) == flags(&a.vermagic) => {
                release_only.push((mr.name.clone(), found.to_string()));
            }
            Some(_) => {
                wrong.push((mr.name.clone(), found.to_string()));
                continue;
            }
            None if found.split(' ').next() == Some(k.as_str()) => {}
            None => {
                wrong.push((mr.name.clone(), found.to_string()));
                continue;
            }
        }
        if let Some(a) = abi {
            if let (Some(want), Some(have)) = (a.this_module_size, info.this_module_size) {
                if want != have {
                    size.push((mr.name.clone(), (have, want)));
                }
            }
            if let Some(m) = a.machine {
                if m != info.machine {
                    machine.push((mr.name.clone(), (info.machine, m)));
                }
            }
        }
    }
    if !none.is_empty() {
        let mods = none;
        let forced = config.is_some_and(|c| c.force_load);
        let consequence = if forced {
            format!("kernel {k} (built with CONFIG_MODULE_FORCE_LOAD) would still load them, marking itself tainted by a forced module")
        } else {
            format!("kernel {k} refuses such modules (Exec format error)")
        };
        findings.push(
            Finding::new(
                Code::NoVermagic,
                Severity::Mismatch,
                format!(
                    "{} {} no vermagic; {consequence}",
                    subject(&mods),
                    if mods.len() == 1 { "has" } else { "have" }
                ),
            )
            .modules(mods)
            .fix(build_fix(kernel)),
        );
    }
    let expected = abi.map_or(format!("{k} ..."), |a| a.vermagic.clone());
    findings.extend(grouped(wrong, |found, mods| {
        Finding::new(
            Code::VermagicMismatch,
            Severity::Mismatch,
            format!(
                "{} {} built for {found:?} but kernel {k} expects {expected:?}: the kernel would refuse {} (Exec format error)",
                subject(mods),
                were(mods),
                if mods.len() == 1 { "it" } else { "them" }
            ),
        )
        .fix(build_fix(kernel))
    }));
    findings.extend(grouped(size, |(have, want), mods| {
        Finding::new(
            Code::StructModuleSize,
            Severity::Mismatch,
            format!(
                "{} {} built with a struct module of {have} bytes but kernel {k} has {want}: built against other headers; the kernel would refuse {} (Exec format error)",
                subject(mods),
                were(mods),
                if mods.len() == 1 { "it" } else { "them" }
            ),
        )
        .fix(build_fix(kernel))
    }));
    findings.extend(grouped(machine, |(have, want), mods| {
        Finding::new(
            Code::ElfMachine,
            Severity::Mismatch,
            format!(
                "{} {} for ELF machine {have} but kernel {k} is for {want}; the kernel would refuse {} (Exec format error)",
                subject(mods),
                if mods.len() == 1 { "is" } else { "are" },
                if mods.len() == 1 { "it" } else { "them" }
            ),
        )
        .fix(build_fix(kernel))
    }));
    release_only
}

/// The findings for modules built for another release of the kernel, once the CRCs were
/// compared: the kernel accepts or refuses them by their CRCs.
pub(super) fn release_only(
    kernel: &Kernel,
    abi: Option<&KernelAbi>,
    modules: Vec<(ModuleName, String)>,
    compared: &Compared,
    findings: &mut Vec<Finding>,
) {
    let k = &kernel.release;
    let expected = abi.map_or(String::new(), |a| a.vermagic.clone());
    let disagree: HashSet<&ModuleName> = compared.disagreeing.iter().collect();
    let keyed = modules.into_iter().map(|(m, found)| {
        let verdict = if !compared.checked {
            0u8
        } else if disagree.contains(&m) {
            1
        } else {
            2
        };
        (m, (found, verdict))
    });
    findings.extend(grouped(keyed, |(found, verdict), mods| {
        let then = match verdict {
            1 => "and some of those disagree (see the symbol finding): the kernel would refuse them (Invalid argument)",
            2 => "and every one agrees: the kernel would load them, but they belong to another kernel's build",
            _ => "which could not be compared here (no Module.symvers)",
        };
        Finding::new(
            Code::VermagicRelease,
            Severity::Mismatch,
            format!(
                "{} {} built for another release ({found:?}; kernel {k} is {expected:?}); on a modversions kernel only the words after the release must match, so the kernel decides by their symbol CRCs, {then}",
                subject(mods),
                were(mods),
            ),
        )
        .fix(build_fix(kernel))
    }));
}
