//! What the running kernel has live: `/proc/modules` and `/sys/module/NAME` (not to be
//! confused with [`crate::load`], which puts modules there).
//!
//! What the running kernel has loaded: `/proc/modules` and `/sys/module/NAME`.
//!
//! A kernel built without module support, or a container that hides /proc/modules, gives
//! [`Loaded::Unknown`] rather than an error, so `status` still reports everything else.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Error;
use crate::names::ModuleName;
use crate::root::{read_optional, Root};

/// One line of /proc/modules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedModule {
    /// Module name.
    pub name: String,
    /// Live, Loading or Unloading.
    pub state: String,
    /// Modules that use this one.
    pub used_by: Vec<String>,
}

/// The set of loaded modules, if it can be known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "modules", rename_all = "kebab-case")]
pub enum Loaded {
    /// /proc/modules was read.
    Known(BTreeMap<String, LoadedModule>),
    /// /proc/modules does not exist (no module support, or hidden).
    Unknown,
}

impl Loaded {
    /// Reads `ROOT/proc/modules`.
    pub fn read(root: &Root) -> Result<Self, Error> {
        match read_optional(&root.join("/proc/modules"))? {
            Some(text) => Ok(Loaded::Known(parse_proc_modules(&text))),
            None => Ok(Loaded::Unknown),
        }
    }

    /// Whether `name` is loaded; `None` when that cannot be known.
    pub fn is_loaded(&self, name: &str) -> Option<bool> {
        match self {
            Loaded::Known(m) => Some(m.contains_key(name)),
            Loaded::Unknown => None,
        }
    }
}

/// Parses /proc/modules: `name size refcount used_by,... state address`.
/// Malformed lines are skipped; the kernel writes this file, so they mean a fixture typo.
pub fn parse_proc_modules(text: &str) -> BTreeMap<String, LoadedModule> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || ModuleName::new(f[0]).is_err() {
            continue;
        }
        let used_by = f[3]
            .split(',')
            .filter(|s| !s.is_empty() && *s != "-")
            .map(String::from)
            .collect();
        out.insert(
            f[0].to_string(),
            LoadedModule {
                name: f[0].to_string(),
                state: f[4].to_string(),
                used_by,
            },
        );
    }
    out
}

/// State of a module in sysfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SysState {
    /// No /sys/module/NAME.
    Absent,
    /// /sys/module/NAME without `initstate`: compiled into the kernel.
    BuiltIn,
    /// `initstate` is live, coming or going.
    Module(String),
}

/// Reads `/sys/module/NAME/initstate`.
pub fn sys_state(root: &Root, name: &ModuleName) -> Result<SysState, Error> {
    let dir = root.join("/sys/module").join(name);
    if !dir.is_dir() {
        return Ok(SysState::Absent);
    }
    Ok(match read_optional(&dir.join("initstate"))? {
        Some(s) => SysState::Module(s.trim().to_string()),
        None => SysState::BuiltIn,
    })
}

/// Reads `/sys/module/NAME/srcversion` of a loaded module.
pub fn srcversion(root: &Root, name: &ModuleName) -> Result<Option<String>, Error> {
    Ok(
        read_optional(&root.join("/sys/module").join(name).join("srcversion"))?
            .map(|s| s.trim().to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_modules_lines() {
        let m = parse_proc_modules(
            "wcb4xxp 53248 0 - Live 0x0000000000000000 (OE)\n\
             dahdi 311296 2 wcb4xxp,xpp, Live 0x0000000000000000 (OE)\n\
             garbage\n\
             ../x 1 0 - Live 0x0\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m["dahdi"].used_by, vec!["wcb4xxp", "xpp"]);
        assert!(m["wcb4xxp"].used_by.is_empty());
        assert_eq!(m["dahdi"].state, "Live");
    }

    #[test]
    fn absent_proc_modules_is_unknown() {
        let t = tempfile::tempdir().unwrap();
        let r = Root::new(t.path());
        assert_eq!(Loaded::read(&r).unwrap(), Loaded::Unknown);
        assert_eq!(Loaded::Unknown.is_loaded("dahdi"), None);
        std::fs::create_dir_all(t.path().join("sys/module/dahdi")).unwrap();
        let m = |n: &str| ModuleName::new(n).unwrap();
        assert_eq!(sys_state(&r, &m("dahdi")).unwrap(), SysState::BuiltIn);
        std::fs::write(t.path().join("sys/module/dahdi/initstate"), "live\n").unwrap();
        assert_eq!(
            sys_state(&r, &m("dahdi")).unwrap(),
            SysState::Module("live".into())
        );
        assert_eq!(sys_state(&r, &m("wct4xxp")).unwrap(), SysState::Absent);
    }
}
