//! The Debian archive the test bed installs from: the mirror the host's apt already uses.

use std::path::PathBuf;

use crate::HarnessError;

/// The Debian mirror apt on this machine already uses (so the harness needs
/// no address of its own); `DAHDI_DEBIAN_MIRROR` overrides.
pub fn mirror() -> Result<String, HarnessError> {
    if let Ok(m) = std::env::var("DAHDI_DEBIAN_MIRROR") {
        return Ok(m);
    }
    let mut text = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = dir
            .flatten()
            .map(|e| e.path())
            // Only what apt itself reads: disabled or backup files are not sources.
            .filter(|p| p.extension().is_some_and(|x| x == "list" || x == "sources"))
            .collect();
        paths.sort();
        for p in paths {
            text.push('\n');
            text.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
    for line in text.lines() {
        let line = line.trim();
        let uri = if let Some(rest) = line.strip_prefix("URIs:") {
            rest.split_whitespace().next()
        } else if line.starts_with("deb ") {
            line.split_whitespace().find(|w| w.starts_with("http"))
        } else {
            None
        };
        if let Some(u) = uri.filter(|u| u.starts_with("http") && !u.contains("security")) {
            return Ok(u.to_owned());
        }
    }
    Err(HarnessError::Setup(
        "no Debian mirror found in /etc/apt/sources.list{,.d}; set DAHDI_DEBIAN_MIRROR".into(),
    ))
}
