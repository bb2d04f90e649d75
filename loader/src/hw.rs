//! Which DAHDI drivers the machine's hardware needs.
//!
//! Each PCI and USB device publishes a `modalias` in sysfs; each driver lists the patterns it
//! serves as `alias=` lines in its `.modinfo` (the same glob patterns depmod copies into
//! modules.alias). Matching the two finds the drivers without a hand-kept list of card IDs.
//! sysfs is read directly rather than through libudev so that the same code works under
//! `--root` on a fixture tree and in an initramfs where udevd is not running.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::Error;
use crate::names::{Modalias, ModuleName};
use crate::root::{list_dir, read_optional, Root};

/// Buses whose devices DAHDI drivers claim.
pub const BUSES: &[&str] = &["pci", "usb"];

/// A device found in sysfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// `pci` or `usb`.
    pub bus: String,
    /// sysfs name (`0000:03:00.0`, `1-1:1.0`).
    pub sysname: String,
    /// Its modalias.
    pub modalias: Modalias,
}

/// A device and the DAHDI module whose alias matches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The device.
    pub device: Device,
    /// Module name.
    pub module: ModuleName,
    /// The alias pattern that matched.
    pub alias: String,
}

/// Lists PCI and USB devices with a modalias under `ROOT/sys/bus/*/devices`.
/// Devices with an unreadable or malformed modalias are skipped: one odd device must not
/// stop DAHDI from loading for the others.
pub fn scan(root: &Root) -> Result<Vec<Device>, Error> {
    let mut out = Vec::new();
    for bus in BUSES {
        let dir = root.join(format!("/sys/bus/{bus}/devices"));
        for name in list_dir(&dir)? {
            let path: PathBuf = dir.join(&name).join("modalias");
            let Ok(Some(text)) = read_optional(&path) else {
                continue;
            };
            let Ok(modalias) = Modalias::new(text.trim()) else {
                continue;
            };
            out.push(Device {
                bus: bus.to_string(),
                sysname: name,
                modalias,
            });
        }
    }
    Ok(out)
}

/// A device's `VENDOR:DEVICE` IDs in lspci's and lsusb's spelling (`d161:0220`), read from its
/// modalias (`pci:v0000D161d00000220...`, `usb:v1234p5678...`).
pub fn ids(modalias: &Modalias) -> Option<String> {
    let m = modalias.as_str();
    let hex = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_hexdigit())
            .then(|| s.to_ascii_lowercase())
    };
    if let Some(rest) = m.strip_prefix("pci:v") {
        // 8 hex digits each; the IDs are the low 16 bits.
        let vendor = hex(rest.get(4..8)?)?;
        let device = hex(rest.get(8..).and_then(|r| r.strip_prefix('d'))?.get(4..8)?)?;
        return Some(format!("{vendor}:{device}"));
    }
    if let Some(rest) = m.strip_prefix("usb:v") {
        let vendor = hex(rest.get(0..4)?)?;
        let product = hex(rest.get(4..).and_then(|r| r.strip_prefix('p'))?.get(0..4)?)?;
        return Some(format!("{vendor}:{product}"));
    }
    None
}

/// Matches devices against `(pattern, module)` pairs; only `pci:` and `usb:` patterns count,
/// since DAHDI modules also carry plain-name aliases (`alias=dahdi_dummy`).
pub fn match_devices(devices: &[Device], aliases: &[(String, ModuleName)]) -> Vec<Match> {
    let mut out = Vec::new();
    for d in devices {
        for (pattern, module) in aliases {
            let bus_pattern = pattern.starts_with("pci:") || pattern.starts_with("usb:");
            if bus_pattern && glob_match(pattern, d.modalias.as_str()) {
                out.push(Match {
                    device: d.clone(),
                    module: module.clone(),
                    alias: pattern.clone(),
                });
            }
        }
    }
    out
}

/// fnmatch(3) without flags, as modprobe uses for aliases: `*`, `?`, `[set]`, `[!set]`,
/// ranges, and `\` escapes. Iterative with one backtrack point, so it is linear-ish and
/// cannot blow the stack on hostile patterns.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        // An unterminated '[' is an ordinary character, as in fnmatch.
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == t[ti] {
                        pi += 2;
                        ti += 1;
                        continue;
                    }
                }
                c => {
                    if c == t[ti] {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the bracket expression starting at `p[start] == '['`.
/// Returns (matched, index after `]`), or None if the bracket is not closed.
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = p[i];
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if lo <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_fnmatch() {
        let pat = "pci:v0000D161d00001220sv*sd*bc*sc*i*";
        assert!(glob_match(
            pat,
            "pci:v0000D161d00001220sv0000D161sd00000000bc02sc80i00"
        ));
        assert!(!glob_match(
            pat,
            "pci:v0000D161d00001221sv0000D161sd00000000bc02sc80i00"
        ));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[!a-c]x", "bx"));
        assert!(glob_match("[!a-c]x", "dx"));
        assert!(glob_match("[]]", "]"));
        assert!(glob_match("a[", "a["));
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("\\*", "x"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("", "x"));
        assert!(glob_match("6.1.*", "6.1.0-56-amd64"));
        // Pathological patterns finish quickly.
        let long = "a".repeat(2000);
        assert!(!glob_match(
            &"*a".repeat(50).to_string().replace("a", "a*b"),
            &long
        ));
    }

    #[test]
    fn ids_as_lspci_and_lsusb_write_them() {
        let id = |m: &str| ids(&Modalias::new(m).unwrap());
        assert_eq!(
            id("pci:v0000D161d00000220sv0000D161sd00000000bc02sc80i00").as_deref(),
            Some("d161:0220")
        );
        assert_eq!(
            id("usb:v0B6Cp0001d0100dc00dsc00dp00icFFiscFFipFFin00").as_deref(),
            Some("0b6c:0001")
        );
        assert_eq!(id("pci:vXYZ"), None);
        assert_eq!(id("platform:dahdi_dummy"), None);
    }

    #[test]
    fn only_bus_aliases_match_devices() {
        let dev = Device {
            bus: "pci".into(),
            sysname: "0000:00:01.0".into(),
            modalias: Modalias::new("pci:v0000D161d00000220sv00sd00bc02sc80i00").unwrap(),
        };
        let m = |n: &str| ModuleName::new(n).unwrap();
        let aliases = vec![
            ("dahdi_dummy".into(), m("dahdi")),
            ("*".into(), m("evil")),
            ("pci:v0000D161d00000220sv*sd*bc*sc*i*".into(), m("wct4xxp")),
        ];
        let m = match_devices(&[dev], &aliases);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].module, "wct4xxp");
    }
}
