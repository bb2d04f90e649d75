//! DKMS's signing settings: which certificate, key and sign-file it signs modules with.
//!
//! DKMS reads `mok_certificate`, `mok_signing_key` and `sign_file` from
//! `/etc/dkms/framework.conf` and then `/etc/dkms/framework.conf.d/*.conf`, a later file
//! overriding an earlier one (`read_framework_conf()`; each file is sourced in a subshell of
//! its own, which sees only DKMS's variables and the signing variables set so far). Values
//! may use `$kernelver`, expanded for the kernel being built. When a setting is unset or
//! empty, DKMS's `prepare_signing()` and `prepare_mok()` choose (the same in Debian 12's
//! 3.0.10 and upstream 3.2.2):
//!
//! - key and certificate: on Ubuntu and its derivatives, when no key is set,
//!   `/var/lib/shim-signed/mok/MOK.priv` and `MOK.der` (both replaced together);
//!   otherwise `/var/lib/dkms/mok.key` and `/var/lib/dkms/mok.pub`. DKMS generates the pair
//!   with `openssl req ... -outform DER` when either is missing, so its own certificate is
//!   DER; one set by hand may be PEM (sign-file reads both).
//! - sign-file: on Debian and its derivatives
//!   `/usr/lib/linux-kbuild-${kernelver%.*}/scripts/sign-file`; on Ubuntu `kmodsign` or the
//!   headers' `scripts/sign-file`; where that file is missing,
//!   `/lib/modules/$kernelver/build/scripts/sign-file`.
//!
//! The distribution is DKMS's `distro_version()`: `ubuntu` when `ID=ubuntu`, else
//! `ID_LIKE` when set, else `ID`, from `/etc/os-release` (3.2.2 also `/usr/lib/os-release`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::shell::{parse_line, Line, Part, Value};
use crate::error::Error;
use crate::names::KernelRelease;
use crate::root::{list_dir, read_optional, Root};

/// DKMS's main configuration file.
pub const FRAMEWORK_CONF: &str = "/etc/dkms/framework.conf";
/// DKMS's configuration directory, whose `*.conf` files are read after the main file.
pub const FRAMEWORK_CONF_DIR: &str = "/etc/dkms/framework.conf.d";
/// DKMS's default signing certificate.
pub const DEFAULT_CERTIFICATE: &str = "/var/lib/dkms/mok.pub";
/// DKMS's default signing key.
pub const DEFAULT_KEY: &str = "/var/lib/dkms/mok.key";
/// The certificate DKMS uses on Ubuntu when no key is configured.
pub const UBUNTU_CERTIFICATE: &str = "/var/lib/shim-signed/mok/MOK.der";
/// The key DKMS uses on Ubuntu when no key is configured.
pub const UBUNTU_KEY: &str = "/var/lib/shim-signed/mok/MOK.priv";

/// The variables DKMS takes from framework.conf for signing
/// (`dkms_framework_signing_variables`).
pub const SIGNING_VARIABLES: [&str; 3] = ["sign_file", "mok_signing_key", "mok_certificate"];

/// DKMS's own variables, visible to framework.conf while it is sourced, with their
/// defaults.
const DKMS_GLOBALS: [(&str, &str); 3] = [
    ("dkms_tree", "/var/lib/dkms"),
    ("source_tree", "/usr/src"),
    ("install_tree", "/lib/modules"),
];

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, as a system path.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One signing variable as the configuration leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// Not set (or set empty, which DKMS treats the same).
    Unset,
    /// Set to a value (variables other than `$kernelver` already substituted where the
    /// file defined them).
    Set {
        /// The value.
        value: Value,
        /// Where.
        origin: Origin,
    },
    /// Set in a way the loader does not evaluate (it would have to run shell code).
    Unreadable {
        /// Why.
        reason: &'static str,
        /// Where.
        origin: Origin,
    },
}

/// A line of the configuration that the loader did not evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// Where.
    pub origin: Origin,
    /// Why.
    pub reason: &'static str,
}

/// DKMS's signing configuration as read from the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkmsSigning {
    /// The files read, in DKMS's order.
    pub files: Vec<PathBuf>,
    /// `mok_certificate`.
    pub mok_certificate: Setting,
    /// `mok_signing_key`.
    pub mok_signing_key: Setting,
    /// `sign_file`.
    pub sign_file: Setting,
    /// The distribution as DKMS names it (`distro_version()`), empty if unknown.
    pub distribution: String,
    /// Lines not evaluated (shell code other than plain assignments). A signing variable
    /// set inside such code (an `if`, say) would be missed, so callers should show them.
    pub ignored: Vec<Ignored>,
}

/// Why a path could not be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    /// A variable other than `$kernelver`, or `$kernelver` without a kernel.
    #[error("{setting} ({origin}) uses ${variable}, which the loader cannot expand{}", if variable == "kernelver" { " without a kernel release" } else { "" })]
    Variable {
        /// The setting.
        setting: &'static str,
        /// Where it is set.
        origin: Origin,
        /// The variable.
        variable: String,
    },
    /// Set by shell code the loader does not run.
    #[error("{setting} ({origin}) is set in a way the loader does not evaluate: {reason}")]
    Unreadable {
        /// The setting.
        setting: &'static str,
        /// Where.
        origin: Origin,
        /// Why.
        reason: &'static str,
    },
    /// Not an absolute path (DKMS would use it relative to wherever it runs).
    #[error("{setting} ({origin}) is {value:?}, not an absolute path")]
    Relative {
        /// The setting.
        setting: &'static str,
        /// Where.
        origin: Origin,
        /// The value.
        value: String,
    },
}

impl DkmsSigning {
    /// Reads the configuration under `root`.
    pub fn read(root: &Root) -> Result<DkmsSigning, Error> {
        let mut files = vec![PathBuf::from(FRAMEWORK_CONF)];
        for name in list_dir(&root.join(FRAMEWORK_CONF_DIR))? {
            // bash's glob: names ending in .conf, hidden files excluded.
            if name.ends_with(".conf") && !name.starts_with('.') {
                files.push(Path::new(FRAMEWORK_CONF_DIR).join(name));
            }
        }
        let mut texts = Vec::new();
        for file in files {
            if let Some(text) = read_optional(&root.join(&file))? {
                texts.push((file, text));
            }
        }
        let mut signing = DkmsSigning::from_texts(&texts);
        signing.distribution = distribution(root)?;
        Ok(signing)
    }

    /// The configuration from file texts given in DKMS's order.
    pub fn from_texts(texts: &[(PathBuf, String)]) -> DkmsSigning {
        let mut carried: BTreeMap<&'static str, Setting> = SIGNING_VARIABLES
            .iter()
            .map(|&v| (v, Setting::Unset))
            .collect();
        let mut ignored = Vec::new();
        for (file, text) in texts {
            // Each file runs in a fresh subshell that sees DKMS's variables and the
            // signing variables carried out of the files before it.
            let mut env: BTreeMap<String, Value> = DKMS_GLOBALS
                .iter()
                .map(|(n, v)| (n.to_string(), Value(vec![Part::Literal(v.to_string())])))
                .collect();
            for (name, setting) in &carried {
                if let Setting::Set { value, .. } = setting {
                    env.insert(name.to_string(), value.clone());
                }
            }
            for (i, line) in text.lines().enumerate() {
                let origin = Origin {
                    file: file.clone(),
                    line: i + 1,
                };
                match parse_line(line) {
                    Line::Nothing => {}
                    Line::Assignment { name, value } => {
                        let value = substitute(&value, &env);
                        if let Some(slot) = carried.get_mut(name.as_str()) {
                            *slot = if value.0.is_empty() {
                                Setting::Unset
                            } else {
                                Setting::Set {
                                    value: value.clone(),
                                    origin,
                                }
                            };
                        }
                        env.insert(name, value);
                    }
                    Line::UnreadableAssignment { name, reason } => {
                        if let Some(slot) = carried.get_mut(name.as_str()) {
                            *slot = Setting::Unreadable { reason, origin };
                        } else {
                            ignored.push(Ignored { origin, reason });
                        }
                        env.remove(&name);
                    }
                    Line::Code { reason } => ignored.push(Ignored { origin, reason }),
                }
            }
        }
        let mut take = |v: &str| carried.remove(v).unwrap_or(Setting::Unset);
        DkmsSigning {
            files: texts.iter().map(|(f, _)| f.clone()).collect(),
            mok_certificate: take("mok_certificate"),
            mok_signing_key: take("mok_signing_key"),
            sign_file: take("sign_file"),
            distribution: String::new(),
            ignored,
        }
    }

    /// The certificate DKMS signs with, as a system path, for `kernel` (needed only when
    /// the setting uses `$kernelver`).
    pub fn certificate(&self, kernel: Option<&KernelRelease>) -> Result<PathBuf, Unresolved> {
        if self.ubuntu_default_key() {
            return Ok(PathBuf::from(UBUNTU_CERTIFICATE));
        }
        resolve("mok_certificate", &self.mok_certificate, kernel)
            .map(|p| p.unwrap_or_else(|| PathBuf::from(DEFAULT_CERTIFICATE)))
    }

    /// The signing key: a system path, or a `pkcs11:` URI (kept as a path).
    pub fn signing_key(&self, kernel: Option<&KernelRelease>) -> Result<PathBuf, Unresolved> {
        if self.ubuntu_default_key() {
            return Ok(PathBuf::from(UBUNTU_KEY));
        }
        if let Setting::Set { value, .. } = &self.mok_signing_key {
            if let Some(v) = value.literal().filter(|v| v.starts_with("pkcs11:")) {
                return Ok(PathBuf::from(v));
            }
        }
        resolve("mok_signing_key", &self.mok_signing_key, kernel)
            .map(|p| p.unwrap_or_else(|| PathBuf::from(DEFAULT_KEY)))
    }

    /// The sign-file program DKMS runs for `kernel`, as a system path.
    pub fn sign_file(&self, root: &Root, kernel: &KernelRelease) -> Result<PathBuf, Unresolved> {
        if let Some(p) = resolve("sign_file", &self.sign_file, Some(kernel))? {
            return Ok(p);
        }
        let k = kernel.as_str();
        let candidate = if self.distribution.starts_with("debian") {
            let series = k.rfind('.').map_or(k, |dot| &k[..dot]);
            Some(PathBuf::from(format!(
                "/usr/lib/linux-kbuild-{series}/scripts/sign-file"
            )))
        } else if self.distribution.starts_with("ubuntu") {
            let kmodsign = PathBuf::from("/usr/bin/kmodsign");
            Some(if root.join(&kmodsign).is_file() {
                kmodsign
            } else {
                PathBuf::from(format!("/usr/src/linux-headers-{k}/scripts/sign-file"))
            })
        } else {
            None
        };
        Ok(candidate
            .filter(|c| root.join(c).is_file())
            .unwrap_or_else(|| PathBuf::from(format!("/lib/modules/{k}/build/scripts/sign-file"))))
    }

    /// DKMS on Ubuntu uses shim-signed's key pair when no key is configured.
    fn ubuntu_default_key(&self) -> bool {
        self.distribution.starts_with("ubuntu") && self.mok_signing_key == Setting::Unset
    }
}

/// Replaces variables the file defined before (or DKMS provides) by their values; the
/// others (`$kernelver` above all) stay for later.
fn substitute(value: &Value, env: &BTreeMap<String, Value>) -> Value {
    let mut parts = Vec::new();
    for part in &value.0 {
        match part {
            Part::Variable(n) if n != "kernelver" => match env.get(n) {
                Some(v) => parts.extend(v.0.iter().cloned()),
                None => parts.push(part.clone()),
            },
            p => parts.push(p.clone()),
        }
    }
    Value(parts)
}

fn resolve(
    setting: &'static str,
    value: &Setting,
    kernel: Option<&KernelRelease>,
) -> Result<Option<PathBuf>, Unresolved> {
    match value {
        Setting::Unset => Ok(None),
        Setting::Unreadable { reason, origin } => Err(Unresolved::Unreadable {
            setting,
            origin: origin.clone(),
            reason,
        }),
        Setting::Set { value, origin } => {
            let text = value
                .expand(|n| {
                    (n == "kernelver")
                        .then(|| kernel.map(|k| k.to_string()))
                        .flatten()
                })
                .map_err(|variable| Unresolved::Variable {
                    setting,
                    origin: origin.clone(),
                    variable,
                })?;
            if !text.starts_with('/') {
                return Err(Unresolved::Relative {
                    setting,
                    origin: origin.clone(),
                    value: text,
                });
            }
            Ok(Some(PathBuf::from(text)))
        }
    }
}

/// DKMS's `distro_version()`.
fn distribution(root: &Root) -> Result<String, Error> {
    for file in ["/etc/os-release", "/usr/lib/os-release"] {
        let Some(text) = read_optional(&root.join(file))? else {
            continue;
        };
        let mut id = String::new();
        let mut id_like = String::new();
        for line in text.lines() {
            if let Line::Assignment { name, value } = parse_line(line) {
                let v = value.literal().unwrap_or_default();
                match name.as_str() {
                    "ID" => id = v,
                    "ID_LIKE" => id_like = v,
                    _ => {}
                }
            }
        }
        return Ok(if id == "ubuntu" || id_like.is_empty() {
            id
        } else {
            id_like
        });
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(files: &[(&str, &str)]) -> DkmsSigning {
        let texts: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(f, t)| (PathBuf::from(f), t.to_string()))
            .collect();
        let mut s = DkmsSigning::from_texts(&texts);
        s.distribution = "debian".into();
        s
    }

    fn k(s: &str) -> KernelRelease {
        KernelRelease::new(s).unwrap()
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        // Debian 12's framework.conf: everything commented out.
        let s = conf(&[(FRAMEWORK_CONF, "# mok_signing_key=/var/lib/dkms/mok.key\n# mok_certificate=/var/lib/dkms/mok.pub\n# sign_file=\"/path/to/sign-file\"\n")]);
        assert_eq!(s.certificate(None), Ok(PathBuf::from(DEFAULT_CERTIFICATE)));
        assert_eq!(s.signing_key(None), Ok(PathBuf::from(DEFAULT_KEY)));
        assert!(s.ignored.is_empty());
    }

    #[test]
    fn later_files_override_and_kernelver_expands() {
        let s = conf(&[
            (FRAMEWORK_CONF, "mok_certificate=/etc/keys/a.der\n"),
            (
                "/etc/dkms/framework.conf.d/local.conf",
                "base=/etc/keys\nmok_certificate=\"$base/$kernelver/b.pem\"\nmok_signing_key=pkcs11:token=x\n",
            ),
        ]);
        assert_eq!(
            s.certificate(Some(&k("6.1.0-57-amd64"))),
            Ok(PathBuf::from("/etc/keys/6.1.0-57-amd64/b.pem"))
        );
        assert!(matches!(
            s.certificate(None),
            Err(Unresolved::Variable { ref variable, .. }) if variable == "kernelver"
        ));
        assert_eq!(s.signing_key(None), Ok(PathBuf::from("pkcs11:token=x")));
        let Setting::Set { origin, .. } = &s.mok_certificate else {
            panic!()
        };
        assert_eq!(origin.line, 2);
    }

    #[test]
    fn a_files_own_variables_do_not_reach_the_next_file() {
        let s = conf(&[
            (FRAMEWORK_CONF, "base=/etc/keys\n"),
            (
                "/etc/dkms/framework.conf.d/a.conf",
                "mok_certificate=$base/c.der\n",
            ),
        ]);
        assert!(matches!(
            s.certificate(None),
            Err(Unresolved::Variable { ref variable, .. }) if variable == "base"
        ));
        // DKMS's own variables are there in every file.
        let s = conf(&[(FRAMEWORK_CONF, "mok_certificate=${dkms_tree}/other.der\n")]);
        assert_eq!(
            s.certificate(None),
            Ok(PathBuf::from("/var/lib/dkms/other.der"))
        );
    }

    #[test]
    fn empty_is_unset_and_shell_code_is_named_not_run() {
        let s = conf(&[(
            FRAMEWORK_CONF,
            "mok_certificate=/x.der\nmok_certificate=\"\"\nif true; then\nsign_file=$(which sign-file)\n",
        )]);
        assert_eq!(s.certificate(None), Ok(PathBuf::from(DEFAULT_CERTIFICATE)));
        assert_eq!(s.ignored.len(), 1);
        assert_eq!(s.ignored[0].origin.line, 3);
        assert!(matches!(
            s.sign_file(&Root::new("/nonexistent"), &k("6.1.0-57-amd64")),
            Err(Unresolved::Unreadable { .. })
        ));
        let s = conf(&[(FRAMEWORK_CONF, "mok_certificate=keys/x.der\n")]);
        assert!(matches!(
            s.certificate(None),
            Err(Unresolved::Relative { .. })
        ));
    }

    #[test]
    fn ubuntu_without_a_key_uses_shim_signed_whatever_the_certificate_says() {
        let mut s = conf(&[(FRAMEWORK_CONF, "mok_certificate=/x.der\n")]);
        s.distribution = "ubuntu".into();
        assert_eq!(s.certificate(None), Ok(PathBuf::from(UBUNTU_CERTIFICATE)));
        let mut s = conf(&[(
            FRAMEWORK_CONF,
            "mok_signing_key=/k.key\nmok_certificate=/x.der\n",
        )]);
        s.distribution = "ubuntu debian".into();
        assert_eq!(s.certificate(None), Ok(PathBuf::from("/x.der")));
    }

    #[test]
    fn sign_file_default_follows_the_distribution() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        let s = conf(&[]);
        let kernel = k("6.1.0-57-amd64");
        // Debian's kbuild path only when it exists; the build tree's otherwise.
        assert_eq!(
            s.sign_file(&root, &kernel),
            Ok(PathBuf::from(
                "/lib/modules/6.1.0-57-amd64/build/scripts/sign-file"
            ))
        );
        let kbuild = t.path().join("usr/lib/linux-kbuild-6.1/scripts");
        std::fs::create_dir_all(&kbuild).unwrap();
        std::fs::write(kbuild.join("sign-file"), "").unwrap();
        assert_eq!(
            s.sign_file(&root, &kernel),
            Ok(PathBuf::from("/usr/lib/linux-kbuild-6.1/scripts/sign-file"))
        );
    }

    #[test]
    fn distribution_as_dkms_names_it() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        assert_eq!(distribution(&root).unwrap(), "");
        std::fs::create_dir_all(t.path().join("usr/lib")).unwrap();
        std::fs::write(t.path().join("usr/lib/os-release"), "ID=debian\n").unwrap();
        assert_eq!(distribution(&root).unwrap(), "debian");
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/os-release"),
            "NAME=\"Linux Mint\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\n",
        )
        .unwrap();
        assert_eq!(distribution(&root).unwrap(), "ubuntu debian");
        std::fs::write(
            t.path().join("etc/os-release"),
            "ID=ubuntu\nID_LIKE=debian\n",
        )
        .unwrap();
        assert_eq!(distribution(&root).unwrap(), "ubuntu");
    }
}
