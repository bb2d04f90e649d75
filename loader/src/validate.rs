//! Validation of every name and path that reaches the loader from outside.
//!
//! The loader runs as root at boot and may be started by udev for a device event, so module
//! names, kernel releases and DKMS versions are untrusted input: they end up in paths under
//! `/lib/modules` and in the argument vector given to `dkms`. Anything that could climb out
//! of a directory (`..`, `/`) or be taken for an option (leading `-`) is refused here, once,
//! instead of being escaped in many places.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

use crate::error::Error;

/// Longest module name the kernel accepts (`MODULE_NAME_LEN` is 64 - sizeof(long), with NUL).
pub const MODULE_NAME_MAX: usize = 55;

/// Checks a kernel module name: `[a-z0-9_-]`, 1 to 55 characters, not starting with `-`.
///
/// Upper case is refused although the kernel would take it, because no DAHDI module uses it
/// and module names reach us from udev and config files where a stricter set is safer.
pub fn module_name(name: &str) -> Result<(), Error> {
    let bad = |reason: &str| Error::InvalidInput {
        what: "module name",
        value: name.escape_debug().to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.len() > MODULE_NAME_MAX {
        return Err(bad("it is longer than the kernel's 55-character limit"));
    }
    if name.starts_with('-') {
        return Err(bad(
            "it starts with '-', which a program would take for an option",
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Err(bad(&format!(
            "it contains {c:?}; only a-z, 0-9, '_' and '-' are allowed"
        )));
    }
    Ok(())
}

/// The kernel's own spelling of a module name: `-` and `_` are the same to it.
pub fn normalize_module_name(name: &str) -> String {
    name.replace('-', "_")
}

/// Checks a kernel release (`uname -r`) or a DKMS version string.
///
/// Both become a single path component (`/lib/modules/KVER`, `/var/lib/dkms/dahdi/VER`) and
/// an argument to `dkms`, so: printable ASCII from a conservative set, no `/`, not `.` or
/// `..`, not starting with `-` or `.`.
pub fn release(what: &'static str, value: &str) -> Result<(), Error> {
    let bad = |reason: &str| Error::InvalidInput {
        what,
        value: value.escape_debug().to_string(),
        reason: reason.to_string(),
    };
    if value.is_empty() {
        return Err(bad("it is empty"));
    }
    if value.len() > 128 {
        return Err(bad("it is longer than 128 characters"));
    }
    if value.starts_with('-') || value.starts_with('.') {
        return Err(bad("it starts with '-' or '.'"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~')))
    {
        return Err(bad(&format!(
            "it contains {c:?}; only letters, digits and . _ - + ~ are allowed"
        )));
    }
    Ok(())
}

/// Checks a kernel release.
pub fn kernel_release(value: &str) -> Result<(), Error> {
    release("kernel release", value)
}

/// Checks that a path relative to a module directory stays inside it.
pub fn relative_path(value: &str) -> Result<(), Error> {
    let p = Path::new(value);
    let ok = !value.is_empty()
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && !value.contains('\0');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "module path",
            value: value.escape_debug().to_string(),
            reason: "it must be a relative path without '..'".into(),
        })
    }
}

/// Checks a modalias string from sysfs or udev (`pci:v...`, `usb:v...`).
pub fn modalias(value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 1024
        && !value.starts_with('-')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.' | '*'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "modalias",
            value: value.escape_debug().to_string(),
            reason: "a modalias is made of letters, digits and : _ - . *".into(),
        })
    }
}

/// Refuses a module file that someone other than root could have written.
///
/// The kernel runs a module's code with full privilege; a file that a non-root user could
/// replace is as good as giving that user root. The check is made on the open file (fstat),
/// so the file cannot be swapped between the check and the load.
pub fn trusted_module_file(file: &File, path: &Path) -> Result<(), Error> {
    let meta = file.metadata().map_err(|e| Error::io("inspect", path, e))?;
    let untrusted = |reason: String| Error::UntrustedFile {
        path: path.to_path_buf(),
        reason,
    };
    if !meta.file_type().is_file() {
        return Err(untrusted("it is not a regular file".into()));
    }
    if !trusted_owner(meta.uid()) {
        return Err(untrusted(format!(
            "it is owned by uid {}, not root",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(format!(
            "its mode {:o} lets group or others write it",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Root owns trusted files. When the loader itself is not root (tests, `verify` by a user),
/// the user's own files are accepted too: such a process cannot load modules anyway, and
/// refusing its own fixture files would make verification impossible without root.
pub fn trusted_owner(uid: u32) -> bool {
    let me = nix::unistd::geteuid().as_raw();
    uid == 0 || (me != 0 && uid == me)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        for ok in ["dahdi", "wct4xxp", "dahdi_echocan_mg2", "xpp-usb", "a"] {
            assert!(module_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../dahdi",
            "dahdi/../../x",
            "-rf",
            "Dahdi",
            "dah di",
            "dahdi.ko",
            "dahdi\0",
            &"a".repeat(56),
        ] {
            let e = module_name(bad).unwrap_err().to_string();
            assert!(e.contains("module name"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn releases() {
        for ok in [
            "6.1.0-56-amd64",
            "6.1.0-56-cloud-amd64",
            "2.11.1.0.20170917",
            "3.0.0+rc1~x",
        ] {
            assert!(kernel_release(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "..",
            ".",
            "../../etc",
            "6.1/../x",
            "-k",
            "a b",
            "6.1;rm",
            "$(x)",
        ] {
            assert!(kernel_release(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn relative_paths() {
        assert!(relative_path("updates/dkms/dahdi.ko").is_ok());
        for bad in ["", "/etc/passwd", "../x.ko", "updates/../../x.ko", "./x"] {
            assert!(relative_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modaliases() {
        assert!(modalias("pci:v0000D161d00001220sv0000D161sd00000000bc02sc80i00").is_ok());
        assert!(modalias("usb:v0BE4p1162d0000dc00dsc00dp00icFFisc00ip00in00").is_ok());
        for bad in ["", "pci:v$(reboot)", "a b", "-x", "x/y"] {
            assert!(modalias(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn normalizes_dashes() {
        assert_eq!(normalize_module_name("xpp-usb"), "xpp_usb");
    }
}
