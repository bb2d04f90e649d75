//! Imported symbols against what the kernel and the sibling DAHDI modules export
//! (`check_version()`/`resolve_symbol()` in the kernel): CRCs where modversions apply.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{build_fix, grouped, ModuleReport};
use crate::kernel::Kernel;
use crate::module_file::ModuleInfo;
use crate::names::ModuleName;
use crate::report::{summarize, Code, Finding, Fix, Severity};

/// Reads the CRCs of `needed` symbols from Module.symvers
/// (`0xCRC<TAB>symbol<TAB>module<TAB>export type[<TAB>namespace]`).
///
/// The file has ~25,000 lines of which a few hundred matter, and `status` reads it for
/// every kernel, so lines are split with memchr and looked up with a cheap FNV hash.
pub fn parse_symvers(text: &[u8], needed: &HashSet<&str>) -> HashMap<String, u32> {
    let wanted: HashSet<&[u8], Fnv> = needed.iter().map(|s| s.as_bytes()).collect();
    let mut out = HashMap::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len())) {
        let line = &text[start..end];
        start = end + 1;
        let Some(t1) = memchr::memchr(b'\t', line) else {
            continue;
        };
        let rest = &line[t1 + 1..];
        let sym = &rest[..memchr::memchr(b'\t', rest).unwrap_or(rest.len())];
        if !wanted.contains(sym) {
            continue;
        }
        let crc = &line[..t1];
        let crc = crc
            .strip_prefix(b"0x")
            .or_else(|| crc.strip_prefix(b"0X"))
            .unwrap_or(crc);
        let parsed = std::str::from_utf8(crc)
            .ok()
            .and_then(|c| u64::from_str_radix(c, 16).ok());
        if let (Some(v), Ok(name)) = (parsed, std::str::from_utf8(sym)) {
            out.insert(name.to_string(), v as u32);
        }
    }
    out
}

/// FNV-1a: symbol names are short and come from a root-owned file, so a fast unkeyed
/// hash is enough.
type Fnv = std::hash::BuildHasherDefault<FnvHasher>;

#[derive(Debug)]
struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> Self {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What the CRC comparison found.
#[derive(Debug, Default)]
pub(super) struct Compared {
    /// CRCs could be compared (Module.symvers was found).
    pub checked: bool,
    /// Modules with at least one CRC the kernel disagrees with.
    pub disagreeing: Vec<ModuleName>,
}

/// Adds CRC findings.
pub(super) fn check(
    kernel: &Kernel,
    modules: &[ModuleReport],
    missing_dep: &HashSet<&ModuleName>,
    findings: &mut Vec<Finding>,
) -> Compared {
    let k = &kernel.release;
    let infos: Vec<(&ModuleName, &ModuleInfo)> = modules
        .iter()
        .filter_map(|m| m.info.as_ref().map(|i| (&m.name, i)))
        .filter(|(_, i)| i.vermagic().is_some())
        .collect();
    if infos.iter().all(|(_, i)| i.versions.is_empty()) {
        return Compared::default();
    }
    let symvers_path = kernel.headers.as_ref().map(|h| h.join("Module.symvers"));
    let symvers_text = symvers_path.as_deref().and_then(|p| std::fs::read(p).ok());
    let Some(text) = symvers_text else {
        findings.push(
            Finding::new(
                Code::NoSymvers,
                Severity::Info,
                format!("symbol CRCs were not checked: kernel {k} has no Module.symvers"),
            )
            .fix(Fix::InstallPackage {
                package: format!("linux-headers-{k}"),
            }),
        );
        return Compared::default();
    };
    // Exports of the sibling DAHDI modules, which Module.symvers of the kernel cannot know.
    let mut siblings: BTreeMap<&str, Option<u32>> = BTreeMap::new();
    for (_, info) in &infos {
        for e in &info.exports {
            siblings.insert(e.name.as_str(), e.crc);
        }
    }
    let needed: HashSet<&str> = infos
        .iter()
        .flat_map(|(_, i)| i.versions.iter().map(|v| v.name.as_str()))
        .collect();
    let symvers = parse_symvers(&text, &needed);
    let mut bad: Vec<(ModuleName, ())> = Vec::new();
    let mut bad_detail: Vec<String> = Vec::new();
    let mut unknown: Vec<(ModuleName, ())> = Vec::new();
    let mut unknown_detail: Vec<String> = Vec::new();
    for (name, info) in &infos {
        let mut b = Vec::new();
        let mut u = Vec::new();
        for v in &info.versions {
            let known = siblings.contains_key(v.name.as_str()) || symvers.contains_key(&v.name);
            let expected = match siblings.get(v.name.as_str()) {
                Some(crc) => *crc,
                None => symvers.get(&v.name).copied(),
            };
            match expected {
                Some(c) if c != v.crc => b.push(v.name.clone()),
                None if !known => u.push(v.name.clone()),
                _ => {}
            }
        }
        if !b.is_empty() {
            bad_detail.push(format!("{name} ({}: {})", b.len(), summarize(&b)));
            bad.push(((*name).clone(), ()));
        }
        // Symbols of a missing dependency are already explained by that finding.
        if !u.is_empty() && !missing_dep.contains(name) {
            unknown_detail.push(format!("{name} ({}: {})", u.len(), summarize(&u)));
            unknown.push(((*name).clone(), ()));
        }
    }
    let disagreeing: Vec<ModuleName> = bad.iter().map(|(m, ())| m.clone()).collect();
    findings.extend(grouped(bad, |(), mods| {
        Finding::new(
            Code::CrcMismatch,
            Severity::Mismatch,
            format!(
                "{} disagree{} with kernel {k} about the version of symbols: {}; the kernel would refuse {} (Invalid argument)",
                summarize(mods),
                if mods.len() == 1 { "s" } else { "" },
                bad_detail.join("; "),
                if mods.len() == 1 { "it" } else { "them" }
            ),
        )
        .fix(build_fix(kernel))
    }));
    findings.extend(grouped(unknown, |(), mods| {
        Finding::new(
            Code::UnknownSymbol,
            Severity::Mismatch,
            format!(
                "{} need{} symbols that neither kernel {k} nor the other DAHDI modules export: {}",
                summarize(mods),
                if mods.len() == 1 { "s" } else { "" },
                unknown_detail.join("; ")
            ),
        )
        .fix(build_fix(kernel))
    }));
    Compared {
        checked: true,
        disagreeing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symvers_lines() {
        let needed: HashSet<&str> = ["printk", "kfree"].into_iter().collect();
        let m = parse_symvers(
            b"0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n0xdeadbeef\tother\tvmlinux\tEXPORT_SYMBOL\t\nbad line\n0xzz\tkfree\tvmlinux\tEXPORT_SYMBOL",
            &needed,
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m["printk"], 0x12345678);
    }
}
