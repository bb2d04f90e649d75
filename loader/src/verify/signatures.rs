//! Signatures, decided as the kernel decides them (`module_sig_check()`): a malformed
//! signature, or one a trusted key does not verify, is refused whatever the settings; an
//! unsigned module, or one signed by a key the kernel does not hold, is refused where
//! signatures are enforced (Secure Boot's lockdown, `sig_enforce`,
//! `CONFIG_MODULE_SIG_FORCE`) and loads tainted elsewhere.

use std::path::PathBuf;

use nix::errno::Errno;

use super::{build_fix, grouped, subject, ModuleReport, SignatureCheck, SignatureReport};
use crate::certificate::Cert;
use crate::kernel::{Kernel, KernelConfig};
use crate::keys::TrustedKeys;
use crate::module_file::signature::verify::Trust;
use crate::module_file::signature::{module_sig_check, Acceptance, AppendedSignature, Enforcement};
use crate::names::ModuleName;
use crate::report::{summarize, Code, Finding, Fix, Severity};
use crate::system::System;

/// What one kernel would trust, read once per kernel.
pub(super) struct KernelTrust {
    /// Certificates whose keys the kernel verifies module signatures with: for the
    /// running kernel, those its keyrings hold (`/proc/keys`); for another, those
    /// enrolled as Machine Owner Keys, which shim hands to the kernel at boot.
    trusted: Vec<Cert>,
    /// Certificates found here (DKMS's, the MOK list's) whose standing with the kernel
    /// cannot be read: no `/proc/keys` and no MOK list.
    undetermined: Vec<Cert>,
    /// Whether the kernel's keys can be told at all: `/proc/keys` for the running
    /// kernel, the MOK list for another. Without them an unknown signer is unknown, not
    /// refused.
    keys_known: bool,
    /// DKMS's signing certificate, the one to enrol.
    dkms_certificate: Option<PathBuf>,
    enforcement: Enforcement,
}

impl KernelTrust {
    pub(super) fn read(sys: &System, kernel: &Kernel) -> KernelTrust {
        let enforcement = enforcement(sys, kernel);
        let Ok(keys) = TrustedKeys::read(&sys.root, Some(&kernel.release)) else {
            return KernelTrust {
                trusted: Vec::new(),
                undetermined: Vec::new(),
                keys_known: false,
                dkms_certificate: None,
                enforcement,
            };
        };
        let (mut trusted, mut undetermined) = (Vec::new(), Vec::new());
        for cert in keys.certs() {
            let held = if kernel.running {
                keys.kernel_holds(&cert)
            } else {
                None
            };
            match held.or_else(|| keys.mok_enrolled(&cert)) {
                Some(true) => trusted.push(cert),
                Some(false) => {}
                None => undetermined.push(cert),
            }
        }
        let keys_known = (kernel.running && keys.kernel.is_some()) || keys.mok.is_some();
        KernelTrust {
            trusted,
            undetermined,
            keys_known,
            dkms_certificate: keys.dkms.ok().map(|d| d.path),
            enforcement,
        }
    }

    /// Parses a module's signature and checks it against the certificates the kernel
    /// trusts; `None` for an unsigned module.
    pub(super) fn check_module(&self, image: &[u8]) -> Option<SignatureReport> {
        let sig = match AppendedSignature::parse(image) {
            Ok(None) => return None,
            Ok(Some(s)) => s,
            Err(e) => {
                return Some(SignatureReport {
                    modinfo: None,
                    check: SignatureCheck::Refused {
                        errno: e.errno(),
                        reason: e.to_string(),
                    },
                })
            }
        };
        let check = match sig.check(image, &self.trusted) {
            Trust::UnknownSigner => match sig.check(image, &self.undetermined) {
                Trust::Trusted { .. } => SignatureCheck::CannotCheck {
                    reason: "its signer's certificate is here but whether the kernel holds it cannot be read (no /proc/keys, no MOK list)".into(),
                },
                _ if !self.keys_known => SignatureCheck::CannotCheck {
                    reason: "the kernel's keys cannot be read (no /proc/keys, no MOK list)".into(),
                },
                _ => SignatureCheck::UnknownSigner,
            },
            Trust::Trusted { .. } => SignatureCheck::Trusted,
            Trust::BadSignature { reason, .. } => SignatureCheck::BadSignature { reason },
            Trust::Refused(e) => SignatureCheck::Refused {
                errno: e.errno(),
                reason: e.to_string(),
            },
            Trust::CannotCheck { reason } => SignatureCheck::CannotCheck { reason },
        };
        Some(SignatureReport {
            modinfo: sig.modinfo(),
            check,
        })
    }
}

/// How `kernel` would treat signatures after booting here.
fn enforcement(sys: &System, kernel: &Kernel) -> Enforcement {
    if kernel.running {
        sys.secure.running_enforcement()
    } else {
        let sig_force = KernelConfig::read(&sys.root, kernel).is_some_and(|c| c.sig_force);
        sys.secure.boot_enforcement(sig_force)
    }
}

/// What the kernel would do with one module's signature, as a grouping key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Verified,
    Tainted,
    /// Loads, verified or tainted: which cannot be told here, and nothing refuses it.
    Loads,
    /// Whether the kernel accepts it cannot be told, and it matters.
    Unknown {
        why: String,
    },
    Refused {
        code: Code,
        why: String,
        errno: String,
    },
}

/// Why a module would be refused or tainted, in words, and the finding's code.
fn describe(signature: Option<&SignatureReport>) -> (Code, String, Option<Errno>) {
    let Some(s) = signature else {
        return (
            Code::Unsigned,
            "it is unsigned".into(),
            Some(Errno::ENODATA),
        );
    };
    let errno = s.check.errno();
    match &s.check {
        SignatureCheck::Trusted => (Code::Signatures, "its signature verifies".into(), errno),
        SignatureCheck::UnknownSigner => {
            let info = s.modinfo.as_ref();
            let signer = info
                .and_then(|i| i.signer.clone())
                .unwrap_or_else(|| "an unnamed signer".into());
            let key = info.map_or(String::new(), |i| format!(" (key {})", i.sig_key));
            (
                Code::KeyNotTrusted,
                format!("it is signed by {signer}{key}, a key the kernel does not hold"),
                errno,
            )
        }
        SignatureCheck::BadSignature { reason } => (
            Code::BadSignature,
            format!("its signature does not verify with the signer's key: {reason}"),
            errno,
        ),
        // Crypto the kernel does not support counts as no signature at all.
        SignatureCheck::Refused {
            reason,
            errno: Errno::ENOPKG,
        } => (Code::UnusableSignature, reason.clone(), errno),
        SignatureCheck::Refused { reason, .. } => (Code::BadSignature, reason.clone(), errno),
        SignatureCheck::CannotCheck { reason } => (
            Code::Signatures,
            format!("its signature could not be checked here: {reason}"),
            errno,
        ),
    }
}

pub(super) fn check(
    trust: &KernelTrust,
    kernel: &Kernel,
    modules: &[ModuleReport],
    findings: &mut Vec<Finding>,
) {
    let k = &kernel.release;
    let present: Vec<&ModuleReport> = modules.iter().filter(|m| m.info.is_some()).collect();
    if present.is_empty() {
        return;
    }
    let mut outcomes: Vec<(ModuleName, Outcome)> = Vec::new();
    for m in &present {
        let (code, why, errno) = describe(m.signature.as_ref());
        let cannot_tell = matches!(
            m.signature.as_ref().map(|s| &s.check),
            Some(SignatureCheck::CannotCheck { .. })
        );
        let outcome = match module_sig_check(errno.map_or(Ok(()), Err), trust.enforcement) {
            Ok(_) if cannot_tell && trust.enforcement == Enforcement::None => Outcome::Loads,
            Ok(_) if cannot_tell => Outcome::Unknown { why },
            Ok(Acceptance::Verified) => Outcome::Verified,
            Ok(Acceptance::Tainted) => Outcome::Tainted,
            Err(errno) => Outcome::Refused {
                code,
                why,
                errno: format!("{errno:?}: {}", errno.desc()),
            },
        };
        outcomes.push((m.name.clone(), outcome));
    }
    let setting = match trust.enforcement {
        Enforcement::SigEnforce => {
            "enforces module signatures (sig_enforce or CONFIG_MODULE_SIG_FORCE)"
        }
        Enforcement::Lockdown => "is locked down (Secure Boot), which refuses unverified modules",
        Enforcement::None => "does not enforce signatures",
    };
    let enrol = Fix::EnrolKey {
        certificate: trust.dkms_certificate.as_ref().map_or_else(
            || crate::keys::framework::DEFAULT_CERTIFICATE.to_string(),
            |p| p.display().to_string(),
        ),
    };
    let refused = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Refused { .. }))
        .cloned();
    findings.extend(grouped(refused, |o, mods| {
        let Outcome::Refused { code, why, errno } = o else {
            unreachable!("only refusals are grouped here")
        };
        // An untrusted key is cured by enrolling DKMS's; a bad or missing signature by a
        // build that DKMS signs again.
        let fix = if *code == Code::KeyNotTrusted {
            enrol.clone()
        } else {
            build_fix(kernel)
        };
        let severity = if *code == Code::BadSignature {
            Severity::Broken
        } else {
            Severity::Mismatch
        };
        Finding::new(
            *code,
            severity,
            format!(
                "kernel {k} {setting}: it would refuse {} ({errno}): {why}",
                subject(mods)
            ),
        )
        .fix(fix)
    }));
    let unknown = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Unknown { .. }))
        .cloned();
    findings.extend(grouped(unknown, |o, mods| {
        let Outcome::Unknown { why } = o else {
            unreachable!("only unknowns are grouped here")
        };
        Finding::new(
            Code::Signatures,
            Severity::Info,
            format!(
                "kernel {k} {setting}: whether it accepts {} is not known: {why}",
                subject(mods)
            ),
        )
    }));
    let verified = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Verified)
        .count();
    let tainted: Vec<ModuleName> = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Tainted)
        .map(|(m, _)| m.clone())
        .collect();
    let unchecked = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Loads)
        .count();
    findings.push(Finding::new(
        Code::Signatures,
        Severity::Info,
        format!(
            "kernel {k} {setting}; of {} DAHDI modules, {verified} verify with a key it trusts{}{}",
            present.len(),
            if unchecked == 0 {
                String::new()
            } else {
                format!(", {unchecked} load whether or not their signer's key is held (it cannot be read here)")
            },
            if tainted.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} would load marking the kernel tainted ({})",
                    tainted.len(),
                    summarize(&tainted)
                )
            }
        ),
    ));
}
