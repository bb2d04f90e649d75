//! The names that reach the loader from outside, validated once at the edge.
//!
//! The loader runs as root at boot and may be started by udev for a device event, so module
//! names, kernel releases, versions and modaliases are untrusted input: they end up in paths
//! under `/lib/modules` and in the argument vector given to `dkms`. Anything that could climb
//! out of a directory (`..`, `/`) or be taken for an option (leading `-`) is refused when a
//! value becomes one of these types; code that holds a [`KernelRelease`] or a [`ModuleName`]
//! never checks it again.

use std::borrow::Borrow;
use std::fmt;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

/// A name or path from the command line, a configuration file or udev that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct InvalidName {
    /// Which kind of value ("module name", "kernel release").
    pub what: &'static str,
    /// The value, escaped for printing.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

/// Longest module name the kernel accepts (`MODULE_NAME_LEN` is 64 - sizeof(long), with NUL).
pub const MODULE_NAME_MAX: usize = 55;

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(into = "String", try_from = "String")]
        pub struct $name(String);

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        /// Read back from JSON, validated like any other input.
        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(s: String) -> Result<Self, InvalidName> {
                Self::new(&s)
            }
        }

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<Path> for $name {
            fn as_ref(&self) -> &Path {
                Path::new(&self.0)
            }
        }

        impl AsRef<std::ffi::OsStr> for $name {
            fn as_ref(&self) -> &std::ffi::OsStr {
                std::ffi::OsStr::new(&self.0)
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidName;
            fn from_str(s: &str) -> Result<Self, InvalidName> {
                Self::new(s)
            }
        }
    };
}

string_newtype!(
    /// A kernel release (`uname -r`), e.g. `6.1.0-56-amd64`: one safe path component.
    KernelRelease
);

string_newtype!(
    /// A kernel module name in the kernel's own spelling (`-` written as `_`).
    ModuleName
);

string_newtype!(
    /// A package or DKMS version (`2.11.1.0.20170917`, `1:3.1.0-2`), or an architecture
    /// name: one safe path component that cannot be taken for an option.
    Version
);

string_newtype!(
    /// A Debian package name or a DKMS module name (`PACKAGE_NAME`, e.g. `dahdi-linux`):
    /// one safe path component that cannot be taken for an option. Unlike a
    /// [`ModuleName`] it is kept as written: DKMS names its directories by it.
    PackageName
);

string_newtype!(
    /// A device's modalias from sysfs or udev (`pci:v0000D161d00001220...`).
    Modalias
);

impl KernelRelease {
    /// Validates a kernel release.
    pub fn new(value: &str) -> Result<Self, InvalidName> {
        check_component("kernel release", value)?;
        Ok(KernelRelease(value.to_string()))
    }
}

impl Version {
    /// Validates a version (or architecture) string; `what` names it in errors.
    pub fn new_as(what: &'static str, value: &str) -> Result<Self, InvalidName> {
        check_component(what, value)?;
        Ok(Version(value.to_string()))
    }

    /// Validates a version string.
    pub fn new(value: &str) -> Result<Self, InvalidName> {
        Self::new_as("version", value)
    }
}

impl PackageName {
    /// Validates a package or DKMS module name.
    pub fn new(value: &str) -> Result<Self, InvalidName> {
        check_component("package name", value)?;
        if value.contains(':') || value.contains('~') {
            return Err(InvalidName {
                what: "package name",
                value: value.escape_debug().to_string(),
                reason: "a package name has no ':' or '~'".into(),
            });
        }
        Ok(PackageName(value.to_string()))
    }
}

impl ModuleName {
    /// Validates a module name and normalizes `-` to `_`.
    ///
    /// `[a-z0-9_-]`, 1 to 55 characters, not starting with `-`. Upper case is refused
    /// although the kernel would take it, because no DAHDI module uses it and module names
    /// reach us from udev and configuration files, where a stricter set is safer.
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        let bad = |reason: &str| InvalidName {
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
        Ok(ModuleName(name.replace('-', "_")))
    }

    /// The module a file provides: `dahdi.ko`, `dahdi.ko.xz`, `.ko.zst`, `.ko.gz` →
    /// `dahdi`; `None` for anything else.
    pub fn from_file_name(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?;
        let stem = ["", ".xz", ".zst", ".gz"]
            .iter()
            .find_map(|ext| name.strip_suffix(ext)?.strip_suffix(".ko"))?;
        Self::new(stem).ok()
    }
}

impl Modalias {
    /// Validates a modalias: letters, digits and `: _ - . *`, at most 1024 characters.
    pub fn new(value: &str) -> Result<Self, InvalidName> {
        let ok = !value.is_empty()
            && value.len() <= 1024
            && !value.starts_with('-')
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.' | '*'));
        if ok {
            Ok(Modalias(value.to_string()))
        } else {
            Err(InvalidName {
                what: "modalias",
                value: value.escape_debug().to_string(),
                reason: "a modalias is made of letters, digits and : _ - . *".into(),
            })
        }
    }

    /// The bus part (`pci`, `usb`).
    pub fn bus(&self) -> &str {
        self.0.split(':').next().unwrap_or("")
    }
}

/// Checks a value that becomes a single path component and a program argument: printable
/// ASCII from a conservative set, no `/`, not `.` or `..`, not starting with `-` or `.`.
fn check_component(what: &'static str, value: &str) -> Result<(), InvalidName> {
    let bad = |reason: &str| InvalidName {
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
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~' | ':')))
    {
        return Err(bad(&format!(
            "it contains {c:?}; only letters, digits and . _ - + ~ : are allowed"
        )));
    }
    Ok(())
}

/// Checks that a path relative to a module directory stays inside it.
pub fn relative_path(value: &str) -> Result<(), InvalidName> {
    let p = Path::new(value);
    let ok = !value.is_empty()
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && !value.contains('\0');
    if ok {
        Ok(())
    } else {
        Err(InvalidName {
            what: "module path",
            value: value.escape_debug().to_string(),
            reason: "it must be a relative path without '..'".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        for ok in ["dahdi", "wct4xxp", "dahdi_echocan_mg2", "xpp-usb", "a"] {
            assert!(ModuleName::new(ok).is_ok(), "{ok}");
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
            let e = ModuleName::new(bad).unwrap_err().to_string();
            assert!(e.contains("module name"), "{bad:?}: {e}");
        }
        assert_eq!(ModuleName::new("xpp-usb").unwrap(), "xpp_usb");
    }

    #[test]
    fn module_files() {
        for (file, name) in [
            ("dahdi.ko", Some("dahdi")),
            ("/x/wct4xxp.ko.xz", Some("wct4xxp")),
            ("xpp-usb.ko.zst", Some("xpp_usb")),
            ("a.ko.gz", Some("a")),
            ("dahdi.o", None),
            ("dahdi.ko.bz2", None),
            (".ko", None),
            ("x.ko.xz.xz", None),
        ] {
            assert_eq!(
                ModuleName::from_file_name(Path::new(file))
                    .as_ref()
                    .map(ModuleName::as_str),
                name,
                "{file}"
            );
        }
    }

    #[test]
    fn releases() {
        for ok in [
            "6.1.0-56-amd64",
            "6.1.0-56-cloud-amd64",
            "6.12.117+deb13-amd64",
            "2.11.1.0.20170917",
            "3.0.0+rc1~x",
        ] {
            assert!(KernelRelease::new(ok).is_ok(), "{ok}");
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
            assert!(KernelRelease::new(bad).is_err(), "{bad:?}");
        }
        // Debian versions carry epochs.
        assert!(Version::new("1:3.1.0-2.1").is_ok());
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
        assert!(Modalias::new("pci:v0000D161d00001220sv0000D161sd00000000bc02sc80i00").is_ok());
        assert!(Modalias::new("usb:v0BE4p1162d0000dc00dsc00dp00icFFisc00ip00in00").is_ok());
        for bad in ["", "pci:v$(reboot)", "a b", "-x", "x/y"] {
            assert!(Modalias::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Modalias::new("pci:v1").unwrap().bus(), "pci");
    }
}
