//! Signatures where the kernel enforces them (Secure Boot, lockdown, `sig_enforce`,
//! `CONFIG_MODULE_SIG_FORCE`), and whether the kernel trusts the DKMS signing key.

use super::{build_fix, ModuleReport};
use crate::kernel::{Kernel, KernelConfig};
use crate::names::ModuleName;
use crate::report::{summarize, Code, Finding, Fix, Severity};
use crate::signing::DKMS_MOK_CERT;
use crate::system::System;

pub(super) fn check(
    sys: &System,
    kernel: &Kernel,
    modules: &[ModuleReport],
    findings: &mut Vec<Finding>,
) {
    let k = &kernel.release;
    let config = KernelConfig::read(&sys.root, kernel);
    let enforced = if kernel.running {
        sys.secure.running_enforces()
    } else {
        sys.secure
            .kernel_enforces(config.as_ref().is_some_and(|c| c.sig_force))
    };
    let present: Vec<&ModuleReport> = modules.iter().filter(|m| m.info.is_some()).collect();
    if present.is_empty() {
        return;
    }
    let unsigned: Vec<ModuleName> = present
        .iter()
        .filter(|m| m.signature.is_none())
        .map(|m| m.name.clone())
        .collect();
    let signed = present.len() - unsigned.len();
    let enrol = || Fix::EnrolKey {
        certificate: DKMS_MOK_CERT.into(),
    };
    if !enforced {
        findings.push(Finding::new(
            Code::Signatures,
            Severity::Info,
            format!(
                "{signed} of {} DAHDI modules are signed; kernel {k} does not enforce signatures here",
                present.len()
            ),
        ));
        return;
    }
    if !unsigned.is_empty() {
        findings.push(
            Finding::new(
                Code::Unsigned,
                Severity::Broken,
                format!("kernel {k} enforces module signatures (Secure Boot or sig_enforce) but {} DAHDI module(s) are unsigned: {}; they would be rejected (Key was rejected by service); DKMS signs what it builds with /var/lib/dkms/mok.key", unsigned.len(), summarize(&unsigned)),
            )
            .modules(unsigned)
            .fix(build_fix(kernel)),
        );
    }
    if kernel.running && signed > 0 && sys.secure.dkms_key_in_kernel == Some(false) {
        // The running kernel's own keyrings are the truth; the MOK list only says what the
        // next boot through shim may add.
        findings.push(
            Finding::new(
                Code::KeyNotTrusted,
                Severity::Mismatch,
                format!("kernel {k} enforces module signatures and its keyrings (/proc/keys) do not hold the DKMS signing key ({DKMS_MOK_CERT}) that signs DAHDI: it would reject {signed} signed DAHDI module(s) (Key was rejected by service)"),
            )
            .fix(enrol()),
        );
    } else if sys.secure.dkms_key_enrolled == Some(false) {
        findings.push(
            Finding::new(
                Code::KeyNotEnrolled,
                Severity::Mismatch,
                format!("kernel {k} enforces module signatures but the DKMS signing key is not enrolled: DAHDI would be rejected (Key was rejected by service)"),
            )
            .fix(enrol()),
        );
    }
}
