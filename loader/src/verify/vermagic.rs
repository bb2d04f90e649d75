//! What `check_modinfo()` and the ELF checks of the kernel compare: vermagic, the size of
//! `struct module`, the ELF machine.

use super::{build_fix, grouped, subject, were, ModuleReport};
use crate::kernel::{Kernel, KernelAbi};
use crate::module_file::ModuleInfo;
use crate::names::ModuleName;
use crate::report::{Code, Finding, Severity};

/// Whether a module's vermagic is the kernel's, word for word.
pub(super) fn matches(info: &ModuleInfo, abi: &KernelAbi, _kernel: &Kernel) -> bool {
    info.vermagic() == Some(abi.vermagic.as_str())
}

pub(super) fn check(
    kernel: &Kernel,
    abi: Option<&KernelAbi>,
    modules: &[ModuleReport],
    findings: &mut Vec<Finding>,
) {
    let k = &kernel.release;
    let mut none: Vec<ModuleName> = Vec::new();
    let mut wrong: Vec<(ModuleName, String)> = Vec::new();
    let mut size: Vec<(ModuleName, (u64, u64))> = Vec::new();
    let mut machine: Vec<(ModuleName, (u16, u16))> = Vec::new();
    for mr in modules {
        let Some(info) = &mr.info else { continue };
        let Some(found) = info.vermagic() else {
            none.push(mr.name.clone());
            continue;
        };
        let ok = match abi {
            Some(a) => found == a.vermagic,
            None => found.split(' ').next() == Some(k.as_str()),
        };
        if !ok {
            wrong.push((mr.name.clone(), found.to_string()));
            continue;
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
        findings.push(
            Finding::new(
                Code::NoVermagic,
                Severity::Mismatch,
                format!(
                    "{} {} no vermagic; the kernel refuses such modules",
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
                "{} {} built with a struct module of {have} bytes but kernel {k} has {want}: built against other headers",
                subject(mods),
                were(mods)
            ),
        )
        .fix(build_fix(kernel))
    }));
    findings.extend(grouped(machine, |(have, want), mods| {
        Finding::new(
            Code::ElfMachine,
            Severity::Mismatch,
            format!(
                "{} {} for ELF machine {have} but kernel {k} is for {want}",
                subject(mods),
                if mods.len() == 1 { "is" } else { "are" }
            ),
        )
        .fix(build_fix(kernel))
    }));
}
