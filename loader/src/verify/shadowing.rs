//! Which copy modprobe would use: a stale copy shadowing the DKMS build, two copies tied
//! for depmod's choice, and a modules.dep that does not say what the files say.

use std::path::Path;

use super::{grouped, subject, ModuleReport};
use crate::kernel::Kernel;
use crate::modindex::KernelIndex;
use crate::names::ModuleName;
use crate::report::{Code, Finding, Fix, Severity};

/// The directory part of a path relative to the module directory.
fn dir_of(relpath: &str) -> String {
    Path::new(relpath)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

pub(super) fn check(
    kernel: &Kernel,
    index: &KernelIndex,
    modules: &[ModuleReport],
    has_dkms_build: bool,
    findings: &mut Vec<Finding>,
) {
    let k = &kernel.release;
    let mut shadowed: Vec<(ModuleName, (String, Option<String>))> = Vec::new();
    let mut ties: Vec<(ModuleName, (String, String))> = Vec::new();
    let mut unused: Vec<(ModuleName, (String, String))> = Vec::new();
    let mut unindexed: Vec<(ModuleName, String)> = Vec::new();
    let mut stale: Vec<(ModuleName, (String, String))> = Vec::new();
    for mr in modules {
        let pick = &index.picks[&mr.name];
        let Some(chosen) = &pick.chosen else { continue };
        if has_dkms_build && mr.from_dkms == Some(false) {
            let dkms_copy = pick
                .others
                .iter()
                .find(|c| c.relpath.starts_with("updates/dkms/"))
                .map(|c| dir_of(&c.relpath));
            shadowed.push((mr.name.clone(), (dir_of(&chosen.relpath), dkms_copy)));
        }
        if pick.tie {
            ties.push((
                mr.name.clone(),
                (dir_of(&chosen.relpath), dir_of(&pick.others[0].relpath)),
            ));
        } else if !pick.others.is_empty() && mr.from_dkms != Some(false) {
            let others: Vec<String> = pick.others.iter().map(|c| dir_of(&c.relpath)).collect();
            unused.push((
                mr.name.clone(),
                (others.join(", "), dir_of(&chosen.relpath)),
            ));
        }
        if index.has_modules_dep {
            match &pick.indexed {
                None => unindexed.push((mr.name.clone(), dir_of(&chosen.relpath))),
                Some(i) if i != &chosen.relpath && !pick.tie => {
                    stale.push((mr.name.clone(), (dir_of(i), dir_of(&chosen.relpath))))
                }
                _ => {}
            }
        }
    }
    findings.extend(grouped(shadowed, |(chosen, dkms), mods| {
        Finding::new(
            Code::Shadowed,
            Severity::Mismatch,
            match dkms {
                Some(d) => format!(
                    "modprobe would load {} from {chosen}/ on kernel {k}, copies that are not the DKMS build in {d}/: they shadow it",
                    subject(mods)
                ),
                None => format!(
                    "modprobe would load {} from {chosen}/ on kernel {k}, which differs from the DKMS build",
                    subject(mods)
                ),
            },
        )
        .fix(Fix::manual(format!(
            "remove the copies in /lib/modules/{k}/{chosen}/ (left by an old dahdi-linux-modules package or a manual make install), then run depmod {k}"
        )))
    }));
    findings.extend(grouped(ties, |(a, b), mods| {
        Finding::new(
            Code::Tie,
            Severity::Mismatch,
            format!(
                "{} exist{} twice with the same depmod priority on kernel {k} (in {a}/ and {b}/): which copy modprobe uses depends on directory order",
                subject(mods),
                if mods.len() == 1 { "s" } else { "" }
            ),
        )
        .fix(Fix::manual(format!(
            "remove the stale copies, then run depmod {k}"
        )))
    }));
    findings.extend(grouped(unused, |(others, chosen), mods| {
        Finding::new(
            Code::OtherCopy,
            Severity::Info,
            format!(
                "{} also exist{} in {others}/ on kernel {k}, but the copies in {chosen}/ take precedence",
                subject(mods),
                if mods.len() == 1 { "s" } else { "" }
            ),
        )
        .fix(Fix::manual("remove the unused copies to avoid confusion"))
    }));
    findings.extend(grouped(unindexed, |dir, mods| {
        Finding::new(
            Code::IndexMissing,
            Severity::Mismatch,
            format!(
                "{} in {dir}/ {} not in modules.dep of kernel {k}, so modprobe cannot find {}",
                subject(mods),
                if mods.len() == 1 { "is" } else { "are" },
                if mods.len() == 1 { "it" } else { "them" }
            ),
        )
        .fix(Fix::Depmod { kernel: k.clone() })
    }));
    findings.extend(grouped(stale, |(indexed, files), mods| {
        Finding::new(
            Code::IndexStale,
            Severity::Mismatch,
            format!(
                "modules.dep of kernel {k} points {} at {indexed}/, but the files say {files}/ should win",
                subject(mods)
            ),
        )
        .fix(Fix::Depmod { kernel: k.clone() })
    }));
}
