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

/// What the kernel exports, as far as the files tell.
enum Exports {
    /// Module.symvers of the headers: vmlinux's and every in-tree module's exports, with
    /// their CRCs.
    Symvers(HashMap<String, u32>),
    /// A symbol map (`/proc/kallsyms` of the running kernel, or a real
    /// `/boot/System.map-RELEASE`; Debian ships a one-line stub there): vmlinux's exports
    /// (`__ksymtab_` entries), no CRCs.
    SymbolMap(HashSet<String>),
}

impl Exports {
    fn knows(&self, name: &str) -> bool {
        match self {
            Exports::Symvers(m) => m.contains_key(name),
            Exports::SymbolMap(s) => s.contains(name),
        }
    }

    fn crc(&self, name: &str) -> Option<u32> {
        match self {
            Exports::Symvers(m) => m.get(name).copied(),
            Exports::SymbolMap(_) => None,
        }
    }
}

/// Exported names in a symbol map (`ADDRESS TYPE __ksymtab_NAME`, as System.map and
/// /proc/kallsyms write them); `None` when it lists no export (Debian's stub System.map).
fn symbol_map_exports(text: &str) -> Option<HashSet<String>> {
    let set: HashSet<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2)?.strip_prefix("__ksymtab_"))
        .filter(|n| *n != "strings")
        .map(String::from)
        .collect();
    (!set.is_empty()).then_some(set)
}

/// The running kernel's /proc/kallsyms, else a real System.map of the kernel.
fn symbol_map(sys: &crate::system::System, kernel: &Kernel) -> Option<(String, HashSet<String>)> {
    let k = &kernel.release;
    let mut sources = Vec::new();
    if kernel.running {
        sources.push("/proc/kallsyms".to_string());
    }
    sources.push(format!("/boot/System.map-{k}"));
    sources.into_iter().find_map(|src| {
        let text = crate::root::read_optional(&sys.root.join(&src))
            .ok()
            .flatten()?;
        Some((src, symbol_map_exports(&text)?))
    })
}

/// Checks every symbol each module imports (what `simplify_symbols()` resolves: "Unknown
/// symbol" otherwise) and, where modversions apply, every CRC it was built against (what
/// `check_version()` compares: "disagrees about version of symbol" otherwise), against
/// the kernel's exports (Module.symvers, else System.map without CRCs) and the exports of
/// the other DAHDI modules and of the kernel's own modules they depend on.
pub(super) fn check(
    sys: &crate::system::System,
    kernel: &Kernel,
    index: &crate::modindex::KernelIndex,
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
    if infos.is_empty() {
        return Compared::default();
    }
    let needed: HashSet<&str> = infos
        .iter()
        .flat_map(|(_, i)| {
            i.versions
                .iter()
                .map(|v| v.name.as_str())
                .chain(i.imports.iter().map(String::as_str))
        })
        .collect();
    let symvers = kernel
        .headers
        .as_ref()
        .and_then(|h| std::fs::read(h.join("Module.symvers")).ok());
    let exports = match symvers {
        Some(text) => Exports::Symvers(parse_symvers(&text, &needed)),
        None => {
            let Some((source, map)) = symbol_map(sys, kernel) else {
                findings.push(
                    Finding::new(
                        Code::NoSymvers,
                        Severity::Info,
                        format!("imported symbols and their CRCs were not checked: kernel {k} has no Module.symvers (its headers are not installed) and no symbol map"),
                    )
                    .fix(Fix::InstallPackage {
                        package: format!("linux-headers-{k}"),
                    }),
                );
                return Compared::default();
            };
            findings.push(
                Finding::new(
                    Code::NoSymvers,
                    Severity::Info,
                    format!("symbol CRCs were not checked (kernel {k} has no Module.symvers); imported symbols were checked against {source}"),
                )
                .fix(Fix::InstallPackage {
                    package: format!("linux-headers-{k}"),
                }),
            );
            Exports::SymbolMap(map)
        }
    };
    // Exports of the sibling DAHDI modules, which the kernel's lists cannot know.
    let mut siblings: BTreeMap<String, Option<u32>> = BTreeMap::new();
    for (_, info) in &infos {
        for e in &info.exports {
            siblings.insert(e.name.clone(), e.crc);
        }
    }
    // Without Module.symvers, the kernel's own modules that DAHDI depends on (slhc,
    // ppp_generic, hdlc on Debian 13) export what System.map cannot list.
    if matches!(exports, Exports::SymbolMap(_)) {
        for (_, info) in &infos {
            for dep in info.depends() {
                let Ok(dep) = ModuleName::new(&dep) else {
                    continue;
                };
                if siblings_have(&infos, &dep) {
                    continue;
                }
                let Some(entry) = index.deps.get(&dep) else {
                    continue;
                };
                if crate::names::relative_path(&entry.relpath).is_err() {
                    continue;
                }
                let path = sys
                    .root
                    .join(format!("/lib/modules/{k}"))
                    .join(&entry.relpath);
                if let Ok((_, dinfo)) = crate::module_file::read_info(&path, &sys.root) {
                    for e in dinfo.exports {
                        siblings.entry(e.name).or_insert(e.crc);
                    }
                }
            }
        }
    }
    let mut bad: Vec<(ModuleName, ())> = Vec::new();
    let mut bad_detail: Vec<String> = Vec::new();
    let mut unknown: Vec<(ModuleName, ())> = Vec::new();
    let mut unknown_detail: Vec<String> = Vec::new();
    for (name, info) in &infos {
        let mut b = Vec::new();
        for v in &info.versions {
            let expected = match siblings.get(v.name.as_str()) {
                Some(crc) => *crc,
                None => exports.crc(&v.name),
            };
            if let Some(c) = expected {
                if c != v.crc {
                    b.push(v.name.clone());
                }
            }
        }
        let u: Vec<String> = info
            .imports
            .iter()
            .filter(|s| !siblings.contains_key(s.as_str()) && !exports.knows(s))
            .cloned()
            .collect();
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
                "{} import{} symbols that neither kernel {k} nor the other DAHDI modules export: {}; the kernel would refuse {} (Unknown symbol)",
                summarize(mods),
                if mods.len() == 1 { "s" } else { "" },
                unknown_detail.join("; "),
                if mods.len() == 1 { "it" } else { "them" }
            ),
        )
        .fix(build_fix(kernel))
    }));
    Compared {
        checked: matches!(exports, Exports::Symvers(_)),
        disagreeing,
    }
}

fn siblings_have(infos: &[(&ModuleName, &ModuleInfo)], name: &ModuleName) -> bool {
    infos.iter().any(|(n, _)| *n == name)
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
