//! A parser for the text `dkms status` prints, in every format from 2.x to 3.x, for
//! cross-checking the tree reader against DKMS itself (the loader reads the tree directly).

use serde::Serialize;

use super::State;
use crate::names::{KernelRelease, PackageName, Version};

/// One line of `dkms status` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusLine {
    /// The DKMS module's name (PACKAGE_NAME).
    pub module: PackageName,
    /// Module version.
    pub version: Version,
    /// Kernel release (absent on `added` / `broken` lines).
    pub kernel: Option<KernelRelease>,
    /// Architecture (absent on `added` / `broken` lines).
    pub arch: Option<Version>,
    /// The state word.
    pub state: State,
    /// `installed-weak from KVER`: the kernel whose build is used.
    pub weak_from: Option<KernelRelease>,
    /// Parenthesised warnings after the state, in order.
    pub notes: Vec<String>,
}

/// A line of `dkms status` output that matches none of the known formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line_no} of dkms status output is not in any known format: {line:?}")]
pub struct StatusParseError {
    /// 1-based line number.
    pub line_no: usize,
    /// The line.
    pub line: String,
}

/// Parses the whole output of `dkms status`; blank lines are skipped.
pub fn parse_status(text: &str) -> Result<Vec<StatusLine>, StatusParseError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_status_line(l).ok_or_else(|| StatusParseError {
                line_no: i + 1,
                line: l.to_string(),
            })
        })
        .collect()
}

/// Parses one line in any of the formats of dkms 2.x and 3.x:
///
/// * `name, ver: added` (≤ 2.8.6) / `name/ver: added` (≥ 2.8.7) / `name/ver: broken` (≥ 3.0.13)
/// * `name, ver, kver, arch: state` (≤ 2.8.5) / `name/ver, kver, arch: state` (≥ 2.8.6)
/// * `name, ver, kver, arch: installed-weak from KVER`
/// * followed by zero or more ` (note)` suffixes.
pub fn parse_status_line(line: &str) -> Option<StatusLine> {
    let line = line.trim_end();
    // The state follows the last ": " that precedes the first '(' of the notes.
    let head_end = line.find(" (").unwrap_or(line.len());
    let colon = line[..head_end].rfind(": ")?;
    let (ident, rest) = (&line[..colon], &line[colon + 2..]);

    let (state_part, notes_part) = rest.split_at(rest.find(" (").unwrap_or(rest.len()));
    let notes = parse_notes(notes_part)?;
    let (state, weak_from) = if let Some(k) = state_part.strip_prefix("installed-weak from ") {
        (State::Installed, Some(KernelRelease::new(k).ok()?))
    } else {
        let s = match state_part {
            "added" => State::Added,
            "built" => State::Built,
            "installed" => State::Installed,
            "broken" => State::Broken,
            _ => return None,
        };
        (s, None)
    };

    let fields: Vec<&str> = ident.split(", ").collect();
    let (module, version, rest) = match fields.first()?.split_once('/') {
        Some((m, v)) => (m, v, &fields[1..]),
        None => (*fields.first()?, *fields.get(1)?, fields.get(2..)?),
    };
    let (kernel, arch) = match rest {
        [] => (None, None),
        [k, a] => (
            Some(KernelRelease::new(k).ok()?),
            Some(Version::new_as("architecture", a).ok()?),
        ),
        _ => return None,
    };
    let module = PackageName::new(module).ok()?;
    let version = Version::new(version).ok()?;
    // "added" and "broken" are per version; built and installed are per kernel.
    let per_kernel = matches!(state, State::Built | State::Installed);
    if per_kernel != kernel.is_some() && !(state == State::Added && kernel.is_some()) {
        return None;
    }
    Some(StatusLine {
        module,
        version,
        kernel,
        arch,
        state,
        weak_from,
        notes,
    })
}

fn parse_notes(mut s: &str) -> Option<Vec<String>> {
    let mut notes = Vec::new();
    while !s.is_empty() {
        s = s.strip_prefix(" (")?;
        let end = s.find(')')?;
        notes.push(s[..end].to_string());
        s = &s[end + 1..];
    }
    Some(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> StatusLine {
        parse_status_line(s).unwrap_or_else(|| panic!("did not parse {s:?}"))
    }

    #[test]
    fn every_documented_format() {
        // <= 2.8.5
        let l = line("dahdi, 2.11.1: added");
        assert_eq!(
            (l.module.as_str(), l.version.as_str(), l.state),
            ("dahdi", "2.11.1", State::Added)
        );
        assert_eq!(l.kernel, None);
        let l = line("dahdi, 2.11.1, 6.1.0-18-amd64, x86_64: installed");
        assert_eq!(
            l.kernel.as_ref().map(|k| k.as_str()),
            Some("6.1.0-18-amd64")
        );
        assert_eq!(l.arch.as_ref().map(|a| a.as_str()), Some("x86_64"));
        assert_eq!(l.state, State::Installed);
        // 2.8.6 mixed, >= 2.8.7
        let l = line("dahdi/2.11.1, 6.1.0-18-amd64, x86_64: built");
        assert_eq!((l.version.as_str(), l.state), ("2.11.1", State::Built));
        assert_eq!(line("dahdi/2.11.1: added").state, State::Added);
        assert_eq!(line("dahdi/2.11.1: broken").state, State::Broken);
        // weak modules
        let l = line("dahdi, 2.11.1, 6.1.0-20-amd64, x86_64: installed-weak from 6.1.0-18-amd64");
        assert_eq!(
            l.weak_from.as_ref().map(|k| k.as_str()),
            Some("6.1.0-18-amd64")
        );
        assert_eq!(
            l.kernel.as_ref().map(|k| k.as_str()),
            Some("6.1.0-20-amd64")
        );
    }

    #[test]
    fn suffixes_old_and_new() {
        let l = line("dahdi/2.11.1, 6.1.0-18-amd64, x86_64: installed (original_module exists) (WARNING! Diff between built and installed module!) (WARNING! Diff between built and installed module!)");
        assert_eq!(l.notes.len(), 3);
        assert_eq!(l.notes[0], "original_module exists");
        let l = line("dahdi/2.11.1, 6.1.0-18-amd64, x86_64: installed (Original modules exist) (Built modules are missing in the kernel modules folder)");
        assert_eq!(
            l.notes,
            vec![
                "Original modules exist",
                "Built modules are missing in the kernel modules folder"
            ]
        );
        let l = line(
            "dahdi/2.11.1, 6.1.0-18-amd64, x86_64: built (WARNING! Missing some built modules!)",
        );
        assert_eq!(l.state, State::Built);
        assert_eq!(l.notes, vec!["WARNING! Missing some built modules!"]);
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "dahdi",
            "dahdi: installed",
            "dahdi/2.11: exploded",
            "dahdi/2.11, 6.1.0-1-amd64: installed",
            "dahdi/2.11: installed",
            "dahdi/2.11, 6.1.0-1-amd64, x86_64, extra: installed",
            "Error! Could not locate dkms.conf file.",
            "dahdi/2.11, 6.1.0-1-amd64, x86_64: installed (unterminated",
            "../x/2.11: added",
            "dahdi/2.11, ../../etc, x86_64: installed",
        ] {
            assert!(parse_status_line(bad).is_none(), "{bad:?}");
        }
        let e = parse_status("dahdi/1: added\n\nwhat is this\n").unwrap_err();
        assert_eq!(e.line_no, 3);
        assert!(e.to_string().contains("what is this"));
    }
}
