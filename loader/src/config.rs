//! The loader's own configuration: `/etc/dahdi-loader/*.conf`.
//!
//! Format (one directive per line, `#` starts a comment, files read in name order):
//!
//! ```text
//! # load these even without matching hardware (echo canceller, timing-only setups)
//! add dahdi_echocan_oslec dahdi_dynamic_loc
//! # never load these, even if hardware matches
//! exclude wctdm
//! # treat devices whose modalias matches PATTERN as needing MODULE
//! alias pci:v0000D161d0000BEEFsv*sd*bc*sc*i* wct4xxp
//! # seconds to wait for /dev/dahdi/ctl after loading (default 10, at most 600)
//! dev-timeout 20
//! # how long one DKMS build may take before it is stopped: minutes, or seconds with an
//! # s suffix (default 60 minutes)
//! build-timeout 90
//! # keep GRUB from starting a kernel on which DAHDI would not load (default off)
//! boot-guard on
//! ```
//!
//! Unknown directives are errors, so a typo does not silently drop a module.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::names::{Modalias, ModuleName};
use crate::root::{list_dir, read_optional, Root};

/// Where configuration files live (each `*.conf` in it is read, in name order).
pub const CONFIG_DIR: &str = "/etc/dahdi-loader";

/// Default wait for `/dev/dahdi/ctl`.
pub const DEFAULT_DEV_TIMEOUT_SECS: u64 = 10;

/// Parsed configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// Modules to load in addition to `dahdi` and detected hardware.
    pub add: Vec<ModuleName>,
    /// Modules never to load.
    pub exclude: Vec<ModuleName>,
    /// Extra `(modalias pattern, module)` pairs.
    pub aliases: Vec<(String, ModuleName)>,
    /// Seconds to wait for the control device.
    pub dev_timeout_secs: u64,
    /// Seconds one DKMS run may take.
    pub build_timeout_secs: u64,
    /// The boot guard may steer GRUB ([`crate::bootguard`]).
    pub boot_guard: bool,
    /// Files that were read.
    pub files: Vec<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            add: Vec::new(),
            exclude: Vec::new(),
            aliases: Vec::new(),
            dev_timeout_secs: DEFAULT_DEV_TIMEOUT_SECS,
            build_timeout_secs: 3600,
            boot_guard: false,
            files: Vec::new(),
        }
    }
}

impl Config {
    /// Reads every `*.conf` under `ROOT/etc/dahdi-loader`; no directory means defaults.
    pub fn load(root: &Root) -> Result<Self, Error> {
        let dir = root.join(CONFIG_DIR);
        let mut cfg = Config::default();
        for name in list_dir(&dir)? {
            if !name.ends_with(".conf") || name.starts_with('.') {
                continue;
            }
            let path = dir.join(&name);
            if let Some(text) = read_optional(&path)? {
                cfg.parse_into(&path, &text)?;
                cfg.files.push(path);
            }
        }
        Ok(cfg)
    }

    /// Parses one file's text into `self` (later files add to earlier ones).
    pub fn parse_into(&mut self, path: &Path, text: &str) -> Result<(), Error> {
        for (i, raw) in text.lines().enumerate() {
            let err = |message: String| Error::Config {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            };
            let line = raw.split('#').next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            let Some(directive) = words.next() else {
                continue;
            };
            let args: Vec<&str> = words.collect();
            let module_list = |args: &[&str]| -> Result<Vec<ModuleName>, Error> {
                if args.is_empty() {
                    return Err(err(format!("'{directive}' needs at least one module name")));
                }
                args.iter()
                    .map(|a| ModuleName::new(a).map_err(|e| err(e.to_string())))
                    .collect()
            };
            match directive {
                "add" => self.add.extend(module_list(&args)?),
                "exclude" => self.exclude.extend(module_list(&args)?),
                "alias" => {
                    let [pattern, module] = args[..] else {
                        return Err(err(
                            "'alias' takes a modalias pattern and one module name".into()
                        ));
                    };
                    Modalias::new(pattern).map_err(|e| err(e.to_string()))?;
                    if !(pattern.starts_with("pci:") || pattern.starts_with("usb:")) {
                        return Err(err("an alias pattern must start with pci: or usb:".into()));
                    }
                    let module = ModuleName::new(module).map_err(|e| err(e.to_string()))?;
                    self.aliases.push((pattern.to_string(), module));
                }
                "dev-timeout" => {
                    let [secs] = args[..] else {
                        return Err(err("'dev-timeout' takes one number of seconds".into()));
                    };
                    let secs: u64 = secs
                        .parse()
                        .map_err(|_| err(format!("{secs:?} is not a whole number of seconds")))?;
                    if secs > 600 {
                        return Err(err("dev-timeout is at most 600 seconds".into()));
                    }
                    self.dev_timeout_secs = secs;
                }
                "build-timeout" => {
                    let [value] = args[..] else {
                        return Err(err("'build-timeout' takes one duration (minutes, or seconds with an s suffix)".into()));
                    };
                    let (number, unit) = match value.strip_suffix('s') {
                        Some(n) => (n, 1),
                        None => (value, 60),
                    };
                    let n: u64 = number.parse().map_err(|_| {
                        err(format!("{value:?} is not minutes (90) or seconds (90s)"))
                    })?;
                    let secs = n * unit;
                    if !(1..=86_400).contains(&secs) {
                        return Err(err("build-timeout is between 1 second and 24 hours".into()));
                    }
                    self.build_timeout_secs = secs;
                }
                "boot-guard" => {
                    self.boot_guard = match args[..] {
                        ["on"] => true,
                        ["off"] => false,
                        _ => return Err(err("'boot-guard' takes on or off".into())),
                    };
                }
                other => {
                    return Err(err(format!(
                        "unknown directive {other:?}; expected add, exclude, alias, dev-timeout, build-timeout or boot-guard"
                    )))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        let mut c = Config::default();
        c.parse_into(Path::new("/etc/dahdi-loader/t.conf"), text)?;
        Ok(c)
    }

    #[test]
    fn directives() {
        let c = parse(
            "# c\n\nadd dahdi_echocan_oslec xpp-usb # trailing\nexclude wctdm\nalias pci:v0000D161d0000BEEF* wct4xxp\ndev-timeout 3\n",
        )
        .unwrap();
        assert_eq!(c.add, ["dahdi_echocan_oslec", "xpp_usb"]);
        assert_eq!(c.exclude, ["wctdm"]);
        assert_eq!(c.aliases.len(), 1);
        assert_eq!(c.aliases[0].0, "pci:v0000D161d0000BEEF*");
        assert_eq!(c.aliases[0].1, "wct4xxp");
        assert_eq!(c.dev_timeout_secs, 3);
        assert!(!c.boot_guard);
        assert!(parse("boot-guard on\n").unwrap().boot_guard);
        assert!(!parse("boot-guard on\nboot-guard off\n").unwrap().boot_guard);
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        for (text, line, needle) in [
            ("add\n", 1, "at least one"),
            ("\nadd ../../etc/x\n", 2, "module name"),
            ("ad dahdi\n", 1, "unknown directive"),
            ("dev-timeout soon\n", 1, "whole number"),
            ("dev-timeout 99999\n", 1, "at most 600"),
            ("alias dahdi_dummy dahdi\n", 1, "pci: or usb:"),
            ("alias pci:x\n", 1, "one module name"),
            ("alias pci:$(x) dahdi\n", 1, "modalias"),
            ("boot-guard yes\n", 1, "on or off"),
        ] {
            let e = parse(text).unwrap_err();
            let s = e.to_string();
            assert!(
                s.starts_with(&format!("/etc/dahdi-loader/t.conf:{line}:")),
                "{s}"
            );
            assert!(s.contains(needle), "{s}");
        }
    }

    #[test]
    fn missing_directory_means_defaults() {
        let t = tempfile::tempdir().unwrap();
        let c = Config::load(&Root::new(t.path())).unwrap();
        assert_eq!(c, Config::default());
    }
}
