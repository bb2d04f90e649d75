//! Which copy modprobe would use: a stale copy shadowing the DKMS build, two copies tied
//! for depmod's choice, and a modules.dep that does not say what the files say.

use std::path::Path;

use super::{grouped, subject, ModuleReport};
use crate::kernel::Kernel;
use crate::modindex::KernelIndex;
use crate::names::{KernelRelease, ModuleName};
use crate::providers::{merge_removals, Owner};
use crate::report::{Code, Finding, Fix, Severity};
use crate::root::Root;

/// The directory part of a path relative to the module directory.
fn dir_of(relpath: &str) -> String {
    Path::new(relpath)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// How to take a copy away, by its owner; where no dpkg database tells the owner, the
/// advice is to ask dpkg first, never to delete.
fn removal(
    root: &Root,
    k: &KernelRelease,
    path: &std::path::Path,
    owner: Option<&Owner>,
) -> Option<Fix> {
    let system = root.system_path(path);
    Some(match owner {
        Some(o) => o.removal(&system, k),
        None => Fix::manual(format!(
            "find which package installed {system} (dpkg -S {system}) and purge it; if none did, remove it and run depmod {k}"
        )),
    })
}

/// The owner of a copy, as a word for grouping messages.
fn owner_word(owner: Option<&Owner>) -> String {
    match owner {
        Some(o) => o.to_string(),
        None => "an unknown owner".into(),
    }
}

pub(super) fn check(
    root: &Root,
    kernel: &Kernel,
    index: &KernelIndex,
    modules: &[ModuleReport],
    has_dkms_build: bool,
    findings: &mut Vec<Finding>,
) {
    let k = &kernel.release;
    // (the directory modprobe picks from, DKMS's directory, who put the copy there)
    type ShadowKey = (String, Option<String>, String);
    let mut shadowed: Vec<(ModuleName, ShadowKey)> = Vec::new();
    let mut shadow_fixes: std::collections::BTreeMap<String, Vec<Fix>> = Default::default();
    let mut ties: Vec<(ModuleName, (String, String))> = Vec::new();
    let mut tie_fixes: std::collections::BTreeMap<(String, String), Vec<Fix>> = Default::default();
    let mut unused: Vec<(ModuleName, (String, String))> = Vec::new();
    let mut unused_fixes: std::collections::BTreeMap<(String, String), Vec<Fix>> =
        Default::default();
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
            let who = owner_word(mr.owner.as_ref());
            let key = (dir_of(&chosen.relpath), dkms_copy, who.clone());
            shadow_fixes
                .entry(format!("{key:?}"))
                .or_default()
                .extend(removal(root, k, &chosen.path, mr.owner.as_ref()));
            shadowed.push((mr.name.clone(), key));
        }
        let other_owner = |path: &std::path::Path| {
            mr.other_copies
                .iter()
                .find(|c| c.path == path)
                .and_then(|c| c.owner.clone())
        };
        if pick.tie {
            let key = (dir_of(&chosen.relpath), dir_of(&pick.others[0].relpath));
            // The copy that is not DKMS's is the stale one; with neither DKMS's, both are
            // named.
            let mut fixes = Vec::new();
            for (path, owner) in [
                (&chosen.path, mr.owner.clone()),
                (&pick.others[0].path, other_owner(&pick.others[0].path)),
            ] {
                if !matches!(owner, Some(Owner::Dkms { .. })) {
                    fixes.extend(removal(root, k, path, owner.as_ref()));
                }
            }
            tie_fixes.entry(key.clone()).or_default().extend(fixes);
            ties.push((mr.name.clone(), key));
        } else if !pick.others.is_empty() && mr.from_dkms != Some(false) {
            let others: Vec<String> = pick.others.iter().map(|c| dir_of(&c.relpath)).collect();
            let key = (others.join(", "), dir_of(&chosen.relpath));
            let fixes = pick
                .others
                .iter()
                .filter_map(|c| removal(root, k, &c.path, other_owner(&c.path).as_ref()));
            unused_fixes.entry(key.clone()).or_default().extend(fixes);
            unused.push((mr.name.clone(), key));
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
    findings.extend(grouped(shadowed, |key, mods| {
        let (chosen, dkms, who) = key;
        let f = Finding::new(
            Code::Shadowed,
            Severity::Mismatch,
            match dkms {
                Some(d) => format!(
                    "modprobe would load {} from {chosen}/ on kernel {k} (put there by {who}), not the DKMS build in {d}/: {} shadow{} it",
                    subject(mods),
                    if mods.len() == 1 { "it" } else { "they" },
                    if mods.len() == 1 { "s" } else { "" }
                ),
                None => format!(
                    "modprobe would load {} from {chosen}/ on kernel {k} (put there by {who}), which differs from the DKMS build",
                    subject(mods)
                ),
            },
        );
        match merge_removals(shadow_fixes.remove(&format!("{key:?}")).unwrap_or_default()) {
            Some(fix) => f.fix(fix),
            None => f,
        }
    }));
    findings.extend(grouped(ties, |key, mods| {
        let (a, b) = key;
        let f = Finding::new(
            Code::Tie,
            Severity::Mismatch,
            format!(
                "{} exist{} twice with the same depmod priority on kernel {k} (in {a}/ and {b}/): which copy modprobe uses depends on directory order",
                subject(mods),
                if mods.len() == 1 { "s" } else { "" }
            ),
        );
        match merge_removals(tie_fixes.remove(key).unwrap_or_default()) {
            Some(fix) => f.fix(fix),
            None => f,
        }
    }));
    findings.extend(grouped(unused, |key, mods| {
        let (others, chosen) = key;
        let f = Finding::new(
            Code::OtherCopy,
            Severity::Info,
            format!(
                "{} also exist{} in {others}/ on kernel {k}, but the copies in {chosen}/ take precedence",
                subject(mods),
                if mods.len() == 1 { "s" } else { "" }
            ),
        );
        match merge_removals(unused_fixes.remove(key).unwrap_or_default()) {
            Some(fix) => f.fix(fix),
            None => f,
        }
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
