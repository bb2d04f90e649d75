//! GRUB's environment block (`/boot/grub/grubenv`): where `grub-reboot` leaves
//! `next_entry` and `grub-set-default` leaves `saved_entry`, and which GRUB itself reads at
//! every boot (`load_env`) and writes (`save_env`).
//!
//! The file is exactly 1024 bytes: the line `# GRUB Environment Block`, then `name=value`
//! lines, then `#` up to the end. In a value a backslash is written `\\` and a newline
//! `\n`. GRUB writes the file in place, block by block, so it must stay 1024 bytes and
//! must not be sparse; `grub-editenv` writes a whole new file and renames it over the old
//! one, and so does this module.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's fixed size.
pub const BLOCK_SIZE: usize = 1024;
/// Its first line.
pub const HEADER: &str = "# GRUB Environment Block\n";
/// Where Debian's GRUB keeps it.
pub const GRUBENV: &str = "/boot/grub/grubenv";

/// Why a block cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrubenvError {
    /// The header line is not there: not an environment block.
    #[error("{path} does not start with {HEADER:?}: it is not a GRUB environment block (recreate it with grub-editenv {path} create)")]
    NoHeader {
        /// The file.
        path: String,
    },
    /// GRUB only reads and writes a block of exactly 1024 bytes.
    #[error("{path} is {len} bytes where GRUB expects {BLOCK_SIZE}; recreate it with grub-editenv {path} create")]
    WrongSize {
        /// The file.
        path: String,
        /// Its size.
        len: usize,
    },
    /// The variables do not fit in the block.
    #[error("the GRUB environment would take {needed} bytes, more than the block's {BLOCK_SIZE}")]
    TooLarge {
        /// Bytes the contents need.
        needed: usize,
    },
    /// A name GRUB would not read back.
    #[error("{name:?} is not a GRUB environment variable name")]
    BadName {
        /// The name.
        name: String,
    },
}

/// The variables of one environment block, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grubenv {
    vars: Vec<(String, String)>,
}

impl Grubenv {
    /// Parses a block. Lines without `=` are skipped, as GRUB skips them.
    pub fn parse(path: &Path, data: &[u8]) -> Result<Grubenv, GrubenvError> {
        let shown = path.display().to_string();
        if !data.starts_with(HEADER.as_bytes()) {
            return Err(GrubenvError::NoHeader { path: shown });
        }
        if data.len() != BLOCK_SIZE {
            return Err(GrubenvError::WrongSize {
                path: shown,
                len: data.len(),
            });
        }
        let mut vars = Vec::new();
        let mut rest = &data[HEADER.len()..];
        while !rest.is_empty() {
            let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let eq = rest[..line_end].iter().position(|&b| b == b'=');
            match eq {
                // Padding, a comment, or a line without a variable: skipped, as GRUB does.
                _ if rest[0] == b'#' => rest = &rest[(line_end + 1).min(rest.len())..],
                None => rest = &rest[(line_end + 1).min(rest.len())..],
                Some(eq) => {
                    let name = String::from_utf8_lossy(&rest[..eq]).into_owned();
                    let mut value = Vec::new();
                    let mut i = eq + 1;
                    while i < rest.len() && rest[i] != b'\n' {
                        if rest[i] == b'\\' && i + 1 < rest.len() {
                            i += 1;
                        }
                        value.push(rest[i]);
                        i += 1;
                    }
                    vars.push((name, String::from_utf8_lossy(&value).into_owned()));
                    rest = &rest[(i + 1).min(rest.len())..];
                }
            }
        }
        Ok(Grubenv { vars })
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `name` (in place if present, else at the end).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), GrubenvError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(GrubenvError::BadName { name: name.into() });
        }
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value.to_string(),
            None => self.vars.push((name.to_string(), value.to_string())),
        }
        Ok(())
    }

    /// Removes `name`.
    pub fn unset(&mut self, name: &str) {
        self.vars.retain(|(n, _)| n != name);
    }

    /// The 1024-byte block.
    pub fn to_block(&self) -> Result<Vec<u8>, GrubenvError> {
        let mut out = HEADER.as_bytes().to_vec();
        for (n, v) in &self.vars {
            out.extend_from_slice(n.as_bytes());
            out.push(b'=');
            out.extend_from_slice(escape(v).as_bytes());
            out.push(b'\n');
        }
        if out.len() > BLOCK_SIZE {
            return Err(GrubenvError::TooLarge { needed: out.len() });
        }
        out.resize(BLOCK_SIZE, b'#');
        Ok(out)
    }

    /// Writes the block to `path` the way `grub-editenv` does: a whole new file beside
    /// it, synced, renamed over it; the directory synced after.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let block = self
            .to_block()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let tmp = sibling(path, ".new");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&block)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_the_block_size_and_the_escapes() {
        let mut env = Grubenv::default();
        env.set(
            "saved_entry",
            "gnulinux-advanced-x>gnulinux-6.1.0-57-amd64-advanced-x",
        )
        .unwrap();
        env.set("odd", "a\\b\nc").unwrap();
        let block = env.to_block().unwrap();
        assert_eq!(block.len(), BLOCK_SIZE);
        assert!(block.ends_with(b"###"));
        let back = Grubenv::parse(Path::new("/g"), &block).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.get("odd"), Some("a\\b\nc"));
        env.unset("odd");
        assert_eq!(env.get("odd"), None);
        assert!(env.set("bad name", "x").is_err());
        assert!(env.set("", "x").is_err());
    }

    #[test]
    fn damaged_blocks_are_refused_with_the_fix() {
        let e = Grubenv::parse(Path::new("/boot/grub/grubenv"), b"hello").unwrap_err();
        assert!(
            e.to_string()
                .contains("grub-editenv /boot/grub/grubenv create"),
            "{e}"
        );
        let mut short = HEADER.as_bytes().to_vec();
        short.extend_from_slice(b"a=b\n");
        let e = Grubenv::parse(Path::new("/g"), &short).unwrap_err();
        assert!(matches!(e, GrubenvError::WrongSize { len, .. } if len == short.len()));
        let mut big = Grubenv::default();
        big.set("x", &"y".repeat(2000)).unwrap();
        assert!(matches!(big.to_block(), Err(GrubenvError::TooLarge { .. })));
    }
}
