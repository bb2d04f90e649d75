//! Which file `modprobe` would pick for a module name on a kernel, and which copies it hides.
//!
//! depmod walks `/lib/modules/KVER`, and when a module name appears twice it keeps the copy
//! from the directory listed earlier in its search list (depmod.d(5): `search`, default
//! `updates built-in`; `override` beats the search list). Old `dahdi-linux-modules-KVER`
//! packages and hand installs left DAHDI in `extra/`, `dahdi/` or `misc/`; DKMS puts it in
//! `updates/dkms/`. A copy that wins over the DKMS build, or ties with it (then readdir
//! order decides), is reported. `modules.dep` is also read, once, here: it is what depmod
//! actually wrote (a difference between it and the files on disk means depmod must be
//! re-run), and [`crate::load::plan`] takes the dependencies of other modules from it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::hw::glob_match;
use crate::names::{relative_path, KernelRelease, ModuleName};
use crate::root::{list_dir, read_optional, Root};

/// Directories (relative to `/lib/modules/KVER`) where DAHDI copies have been seen.
/// `kernel/drivers/telephony` is where dahdi's own dkms.conf asks DKMS to put it.
pub const DAHDI_DIRS: &[&str] = &[
    "updates",
    "extra",
    "dahdi",
    "misc",
    "kernel/drivers/telephony",
];

/// The depmod.d directories, highest precedence first (a file name in an earlier one hides
/// the same name in later ones).
pub const DEPMOD_D: &[&str] = &[
    "/etc/depmod.d",
    "/run/depmod.d",
    "/usr/local/lib/depmod.d",
    "/usr/lib/depmod.d",
    "/lib/depmod.d",
];

/// One entry of depmod's search list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SearchEntry {
    /// A subdirectory of `/lib/modules/KVER`.
    Dir(String),
    /// The `built-in` keyword: every directory not named elsewhere.
    BuiltIn,
}

/// The parts of depmod.d that decide between duplicate module names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepmodConfig {
    /// Search order, earliest wins.
    pub search: Vec<SearchEntry>,
    /// `override MODULE KVER SUBDIR` (KVER may be `*`).
    pub overrides: Vec<(ModuleName, String, String)>,
}

impl Default for DepmodConfig {
    fn default() -> Self {
        DepmodConfig {
            search: vec![SearchEntry::Dir("updates".into()), SearchEntry::BuiltIn],
            overrides: Vec::new(),
        }
    }
}

impl DepmodConfig {
    /// Reads depmod.d under the root.
    pub fn load(root: &Root) -> Result<Self, Error> {
        let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in DEPMOD_D {
            let d = root.join(dir);
            for name in list_dir(&d)? {
                if name.ends_with(".conf") {
                    files.entry(name.clone()).or_insert_with(|| d.join(&name));
                }
            }
        }
        let mut text = String::new();
        for path in files.values() {
            if let Some(t) = read_optional(path)? {
                text.push_str(&t);
                text.push('\n');
            }
        }
        Ok(Self::parse(&text))
    }

    /// Parses the concatenated text of depmod.d files (in file-name order).
    pub fn parse(text: &str) -> Self {
        let mut search = Vec::new();
        let mut overrides = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            match words.next() {
                Some("search") => {
                    for w in words {
                        let entry = if w == "built-in" {
                            SearchEntry::BuiltIn
                        } else {
                            SearchEntry::Dir(w.trim_matches('/').to_string())
                        };
                        if !search.contains(&entry) {
                            search.push(entry);
                        }
                    }
                }
                Some("override") => {
                    let w: Vec<&str> = words.collect();
                    if let [m, k, d] = w[..] {
                        if let Ok(m) = ModuleName::new(m) {
                            overrides.push((m, k.to_string(), d.trim_matches('/').to_string()));
                        }
                    }
                }
                _ => {}
            }
        }
        if search.is_empty() {
            return DepmodConfig {
                overrides,
                ..Default::default()
            };
        }
        if !search.contains(&SearchEntry::BuiltIn) {
            search.push(SearchEntry::BuiltIn);
        }
        DepmodConfig { search, overrides }
    }

    /// Priority of a module file (relative path), lower wins; overrides get -1.
    pub fn priority(&self, name: &ModuleName, kernel: &KernelRelease, relpath: &str) -> i64 {
        for (m, k, d) in &self.overrides {
            if m == name && glob_match(k, kernel.as_str()) && under(relpath, d) {
                return -1;
            }
        }
        let mut builtin = self.search.len() as i64;
        for (i, e) in self.search.iter().enumerate() {
            match e {
                SearchEntry::Dir(d) if under(relpath, d) => return i as i64,
                SearchEntry::BuiltIn => builtin = i as i64,
                SearchEntry::Dir(_) => {}
            }
        }
        builtin
    }
}

fn under(relpath: &str, dir: &str) -> bool {
    relpath
        .strip_prefix(dir)
        .is_some_and(|r| r.starts_with('/'))
}

/// A file that provides a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// Path relative to `/lib/modules/KVER`.
    pub relpath: String,
    /// Full path under the root.
    pub path: PathBuf,
    /// Search priority, lower wins.
    pub priority: i64,
}

/// Where a module name resolves on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pick {
    /// Module name.
    pub name: ModuleName,
    /// The file depmod would choose; with a tie, the first in sorted order.
    pub chosen: Option<Candidate>,
    /// Other files with the same name, best first.
    pub others: Vec<Candidate>,
    /// Another file has the same priority as the chosen one: readdir order decides.
    pub tie: bool,
    /// What modules.dep currently says, if it lists the name.
    pub indexed: Option<String>,
}

/// A module's entry in modules.dep: its path and its dependencies (paths, in the order
/// depmod wrote them, which lists the deepest dependency last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepEntry {
    /// Path relative to /lib/modules/KVER (absolute for depmod's `external` directories).
    pub relpath: String,
    /// Dependency paths.
    pub deps: Vec<String>,
}

/// The module index of one kernel: what modules.dep says, and for the names asked about,
/// which file wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KernelIndex {
    /// Picks by module name.
    pub picks: BTreeMap<ModuleName, Pick>,
    /// modules.dep by module name (first entry of a name wins, as in kmod).
    #[serde(skip)]
    pub deps: HashMap<ModuleName, DepEntry>,
    /// Module names compiled into the kernel (modules.builtin).
    #[serde(skip)]
    pub builtin: HashSet<ModuleName>,
    /// modules.dep was present.
    pub has_modules_dep: bool,
}

impl KernelIndex {
    /// Builds the index of `names` for kernel `release`.
    pub fn build(
        root: &Root,
        release: &KernelRelease,
        names: &HashSet<ModuleName>,
        config: &DepmodConfig,
    ) -> Result<Self, Error> {
        let base = root.join(format!("/lib/modules/{release}"));
        let mut found: HashMap<ModuleName, Vec<String>> = HashMap::new();

        let mut dirs: Vec<String> = DAHDI_DIRS.iter().map(|s| s.to_string()).collect();
        for e in &config.search {
            if let SearchEntry::Dir(d) = e {
                if relative_path(d).is_ok() && !dirs.contains(d) {
                    dirs.push(d.clone());
                }
            }
        }
        for (_, _, d) in &config.overrides {
            if relative_path(d).is_ok() && !dirs.contains(d) {
                dirs.push(d.clone());
            }
        }
        let mut seen_dirs: HashSet<PathBuf> = HashSet::new();
        for d in &dirs {
            walk(&base, d, names, &mut found, &mut seen_dirs, 0)?;
        }

        // modules.dep: every entry, and the path it chose for ours.
        let mut deps: HashMap<ModuleName, DepEntry> = HashMap::new();
        let mut indexed: HashMap<ModuleName, String> = HashMap::new();
        let dep = read_optional(&base.join("modules.dep"))?;
        let has_modules_dep = dep.is_some();
        for line in dep.iter().flat_map(|d| d.lines()) {
            let Some((path, rest)) = line.split_once(':') else {
                continue;
            };
            let Some(name) = ModuleName::from_file_name(Path::new(path)) else {
                continue;
            };
            if names.contains(&name) {
                indexed
                    .entry(name.clone())
                    .or_insert_with(|| path.to_string());
                // A file depmod found outside our usual directories is still a candidate.
                if relative_path(path).is_ok() && base.join(path).is_file() {
                    let v = found.entry(name.clone()).or_default();
                    if !v.iter().any(|p| p == path) {
                        v.push(path.to_string());
                    }
                }
            }
            deps.entry(name).or_insert_with(|| DepEntry {
                relpath: path.to_string(),
                deps: rest.split_whitespace().map(String::from).collect(),
            });
        }
        let builtin: HashSet<ModuleName> = read_optional(&base.join("modules.builtin"))?
            .iter()
            .flat_map(|b| b.lines())
            .filter_map(|l| ModuleName::from_file_name(Path::new(l)))
            .collect();

        let mut picks = BTreeMap::new();
        for name in names {
            let mut cands: Vec<Candidate> = found
                .remove(name)
                .unwrap_or_default()
                .into_iter()
                .map(|rel| Candidate {
                    priority: config.priority(name, release, &rel),
                    path: base.join(&rel),
                    relpath: rel,
                })
                .collect();
            cands.sort_by(|a, b| a.priority.cmp(&b.priority).then(a.relpath.cmp(&b.relpath)));
            let tie = cands.len() > 1 && cands[0].priority == cands[1].priority;
            let indexed_path = indexed.remove(name);
            if tie {
                // Between equals, what depmod last wrote is the copy modprobe uses today.
                if let Some(pos) = cands.iter().position(|c| {
                    Some(&c.relpath) == indexed_path.as_ref() && c.priority == cands[0].priority
                }) {
                    let c = cands.remove(pos);
                    cands.insert(0, c);
                }
            }
            let mut it = cands.into_iter();
            let chosen = it.next();
            picks.insert(
                name.clone(),
                Pick {
                    name: name.clone(),
                    chosen,
                    others: it.collect(),
                    tie,
                    indexed: indexed_path,
                },
            );
        }
        Ok(KernelIndex {
            picks,
            deps,
            builtin,
            has_modules_dep,
        })
    }

    /// Whether the kernel has a module by this name, as a file depmod indexed or built in.
    pub fn knows(&self, name: &ModuleName) -> bool {
        self.deps.contains_key(name) || self.builtin.contains(name)
    }
}

/// Collects module files named in `names` under `base/rel`, recursively.
fn walk(
    base: &Path,
    rel: &str,
    names: &HashSet<ModuleName>,
    found: &mut HashMap<ModuleName, Vec<String>>,
    seen: &mut HashSet<PathBuf>,
    depth: u32,
) -> Result<(), Error> {
    // Depth bound and the seen-set guard against symlink loops in a damaged tree.
    if depth > 8 {
        return Ok(());
    }
    let dir = base.join(rel);
    if !seen.insert(dir.clone()) {
        return Ok(());
    }
    for entry in list_dir(&dir)? {
        let child_rel = format!("{rel}/{entry}");
        let child = dir.join(&entry);
        if let Some(stem) = ModuleName::from_file_name(&child) {
            if names.contains(&stem) && child.is_file() {
                let v = found.entry(stem).or_default();
                if !v.contains(&child_rel) {
                    v.push(child_rel);
                }
            }
        } else if child.is_dir() {
            walk(base, &child_rel, names, found, seen, depth + 1)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(n: &str) -> ModuleName {
        ModuleName::new(n).unwrap()
    }

    fn k(r: &str) -> KernelRelease {
        KernelRelease::new(r).unwrap()
    }

    #[test]
    fn default_search_prefers_updates() {
        let c = DepmodConfig::default();
        let (dahdi, k) = (&m("dahdi"), &k("k"));
        assert!(
            c.priority(dahdi, k, "updates/dkms/dahdi.ko") < c.priority(dahdi, k, "extra/dahdi.ko")
        );
        assert_eq!(
            c.priority(dahdi, k, "extra/dahdi.ko"),
            c.priority(dahdi, k, "dahdi/dahdi.ko")
        );
        // "updatesx" is not "updates".
        assert_eq!(
            c.priority(dahdi, k, "updatesx/dahdi.ko"),
            c.priority(dahdi, k, "kernel/dahdi.ko")
        );
    }

    #[test]
    fn search_and_override_lines() {
        let c = DepmodConfig::parse(
            "# ubuntu style\nsearch updates ubuntu built-in\noverride dahdi 6.1.* extra\nbogus line\n",
        );
        assert_eq!(
            c.search,
            vec![
                SearchEntry::Dir("updates".into()),
                SearchEntry::Dir("ubuntu".into()),
                SearchEntry::BuiltIn
            ]
        );
        assert_eq!(
            c.priority(&m("dahdi"), &k("6.1.0-1-amd64"), "extra/dahdi.ko"),
            -1
        );
        assert!(c.priority(&m("dahdi"), &k("6.2.0-1-amd64"), "extra/dahdi.ko") > 0);
        assert_eq!(
            c.priority(&m("wct4xxp"), &k("6.1.0-1-amd64"), "ubuntu/wct4xxp.ko"),
            1
        );
        let c = DepmodConfig::parse("search extra\n");
        assert_eq!(
            c.search,
            vec![SearchEntry::Dir("extra".into()), SearchEntry::BuiltIn]
        );
        assert!(
            c.priority(&m("dahdi"), &k("k"), "extra/dahdi.ko")
                < c.priority(&m("dahdi"), &k("k"), "updates/dkms/dahdi.ko")
        );
    }
}
