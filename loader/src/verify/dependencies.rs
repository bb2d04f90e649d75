//! What this machine wants loaded, and whether the kernel has what those modules depend on.

use std::collections::HashSet;

use super::{grouped, ModuleReport};
use crate::hw;
use crate::kernel::Kernel;
use crate::modindex::KernelIndex;
use crate::names::ModuleName;
use crate::report::{summarize, Code, Finding, Fix, Severity};
use crate::system::System;

/// The modules to load on this machine: `dahdi`, drivers whose aliases match the hardware
/// (and configured aliases), what `/etc/dahdi-loader` adds and what `/etc/dahdi/modules`
/// lists; minus exclusions, minus hardware drivers that modprobe.d blacklists (udev and
/// systemd load for devices with kmod's blacklist applied; modules asked for by name are
/// loaded even if blacklisted, as modprobe does), minus what the kernel command line
/// forbids (`module_blacklist=`: the kernel would refuse it).
pub fn wanted_modules(
    sys: &System,
    modules: &[ModuleReport],
    modprobe: &crate::modprobe::ModprobeConfig,
) -> (Vec<ModuleName>, Vec<hw::Match>) {
    let mut aliases: Vec<(String, ModuleName)> = Vec::new();
    for m in modules {
        if let Some(info) = &m.info {
            aliases.extend(info.aliases().into_iter().map(|a| (a, m.name.clone())));
        }
    }
    aliases.extend(sys.config.aliases.iter().cloned());
    let matches = hw::match_devices(&sys.devices, &aliases);
    let mut wanted = vec![ModuleName::new("dahdi").expect("a valid name")];
    wanted.extend(
        matches
            .iter()
            .map(|m| m.module.clone())
            .filter(|m| !modprobe.is_blacklisted(m)),
    );
    wanted.extend(sys.config.add.iter().cloned());
    wanted.extend(
        sys.dahdi_modules
            .iter()
            .flat_map(|d| d.modules.iter().cloned()),
    );
    let mut seen = HashSet::new();
    wanted.retain(|w| {
        seen.insert(w.clone()) && !sys.config.exclude.contains(w) && !modprobe.kernel_refuses(w)
    });
    (wanted, matches)
}

/// `wanted` plus everything they depend on, through `depends=` of the parsed modules.
fn closure(wanted: &[ModuleName], modules: &[ModuleReport]) -> HashSet<ModuleName> {
    let mut out: HashSet<ModuleName> = HashSet::new();
    let mut stack: Vec<ModuleName> = wanted.to_vec();
    while let Some(n) = stack.pop() {
        if !out.insert(n.clone()) {
            continue;
        }
        if let Some(m) = modules.iter().find(|m| m.name == n) {
            stack.extend(m.dependency_names());
        }
    }
    out
}

/// Adds a finding for every module whose dependency the kernel lacks; returns those
/// modules (their unknown symbols are explained by this finding already).
pub(super) fn check(
    kernel: &Kernel,
    index: &KernelIndex,
    modules: &[ModuleReport],
    wanted: &[ModuleName],
    findings: &mut Vec<Finding>,
) -> Vec<ModuleName> {
    let k = &kernel.release;
    let mut lacking: Vec<(ModuleName, ModuleName)> = Vec::new();
    for mr in modules {
        for dep in mr.dependency_names() {
            let have =
                index.picks.get(&dep).is_some_and(|p| p.chosen.is_some()) || index.knows(&dep);
            if !have {
                lacking.push((mr.name.clone(), dep));
            }
        }
    }
    let needed = closure(wanted, modules);
    let (hard, soft): (Vec<_>, Vec<_>) = lacking
        .iter()
        .cloned()
        .partition(|(m, _)| needed.contains(m));
    findings.extend(grouped(hard, |dep, mods| {
        Finding::new(
            Code::MissingDependency,
            Severity::Broken,
            format!(
                "{} depend{} on {dep}, which kernel {k} does not have",
                summarize(mods),
                if mods.len() == 1 { "s" } else { "" }
            ),
        )
        .fix(Fix::manual(format!(
            "check that linux-image-{k} is complete (run depmod {k}); if the kernel was built without {dep}, {} cannot be used with it",
            summarize(mods)
        )))
    }));
    // A kernel built without a feature (Debian's has no CONFIG_ECHO for oslec) only
    // matters if the module is wanted; otherwise it must not fail the kernel.
    findings.extend(grouped(soft, |dep, mods| {
        Finding::new(
            Code::UnusableModule,
            Severity::Info,
            format!(
                "{} cannot load on kernel {k}: {} {dep}, which that kernel does not have; not needed on this machine (no matching hardware, not added in /etc/dahdi-loader)",
                summarize(mods),
                if mods.len() == 1 { "it needs" } else { "they need" }
            ),
        )
    }));
    let mut out: Vec<ModuleName> = lacking.into_iter().map(|(m, _)| m).collect();
    out.sort();
    out.dedup();
    out
}
