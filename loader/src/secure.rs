//! Whether a kernel would refuse an unsigned or untrusted module (Secure Boot, lockdown,
//! `module.sig_enforce`), and whether the DKMS signing key is enrolled as a MOK.

use serde::Serialize;

use crate::error::Error;
use crate::root::{read_optional, Root};

/// The EFI variable holding Secure Boot's state (GUID of EFI_GLOBAL_VARIABLE).
pub const SECURE_BOOT_VAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e08f00ee6c8c";
/// The runtime copy of shim's Machine Owner Key list.
pub const MOK_LIST_VAR: &str =
    "/sys/firmware/efi/efivars/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23";
/// DKMS's default signing certificate (DER).
pub const DKMS_MOK_CERT: &str = "/var/lib/dkms/mok.pub";

/// Signature enforcement as far as it can be read from this system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecureBoot {
    /// `/sys/module/module/parameters/sig_enforce` of the running kernel.
    pub sig_enforce: Option<bool>,
    /// The selected lockdown mode of the running kernel (`none`, `integrity`, ...).
    pub lockdown: Option<String>,
    /// Firmware Secure Boot is on (EFI variable).
    pub efi_secure_boot: Option<bool>,
    /// The DKMS certificate appears in the MOK list; `None` if either cannot be read.
    pub dkms_key_enrolled: Option<bool>,
}

impl SecureBoot {
    /// Reads the state under the root.
    pub fn read(root: &Root) -> Result<Self, Error> {
        let sig_enforce = read_optional(&root.join("/sys/module/module/parameters/sig_enforce"))?
            .map(|s| s.trim() == "Y");
        let lockdown = read_optional(&root.join("/sys/kernel/security/lockdown"))?
            .and_then(|s| selected_word(&s));
        // efivarfs content: 4 bytes of attributes, then the value (one byte here).
        let efi_secure_boot = std::fs::read(root.join(SECURE_BOOT_VAR))
            .ok()
            .and_then(|b| b.get(4).map(|v| *v == 1));
        let cert = std::fs::read(root.join(DKMS_MOK_CERT)).ok();
        let mok = std::fs::read(root.join(MOK_LIST_VAR)).ok();
        let dkms_key_enrolled = match (cert, mok) {
            (Some(c), Some(m)) if !c.is_empty() => Some(m.windows(c.len()).any(|w| w == c)),
            _ => None,
        };
        Ok(SecureBoot {
            sig_enforce,
            lockdown,
            efi_secure_boot,
            dkms_key_enrolled,
        })
    }

    /// Would the running kernel refuse an unsigned module?
    pub fn running_enforces(&self) -> bool {
        self.sig_enforce == Some(true)
            || self
                .lockdown
                .as_deref()
                .is_some_and(|l| l == "integrity" || l == "confidentiality")
    }

    /// Would a kernel with this config refuse an unsigned module after booting here?
    /// Debian's kernels lock down when booted with Secure Boot on, so firmware state counts.
    pub fn kernel_enforces(&self, config: Option<&str>) -> bool {
        let forced =
            config.is_some_and(|c| crate::kernel::config_enabled(c, "CONFIG_MODULE_SIG_FORCE"));
        forced || self.efi_secure_boot == Some(true)
    }
}

/// `none [integrity] confidentiality` → `integrity`.
fn selected_word(s: &str) -> Option<String> {
    let start = s.find('[')?;
    let end = s[start..].find(']')? + start;
    Some(s[start + 1..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixture_state() {
        let t = tempfile::tempdir().unwrap();
        let r = Root::new(t.path());
        assert_eq!(SecureBoot::read(&r).unwrap(), SecureBoot::default());
        let p = |s: &str| t.path().join(s.trim_start_matches('/'));
        std::fs::create_dir_all(p("/sys/kernel/security")).unwrap();
        std::fs::write(
            p("/sys/kernel/security/lockdown"),
            "none [integrity] confidentiality\n",
        )
        .unwrap();
        std::fs::create_dir_all(p("/sys/firmware/efi/efivars")).unwrap();
        std::fs::write(p(SECURE_BOOT_VAR), [6, 0, 0, 0, 1]).unwrap();
        std::fs::create_dir_all(p("/var/lib/dkms")).unwrap();
        std::fs::write(p(DKMS_MOK_CERT), b"CERTBYTES").unwrap();
        std::fs::write(p(MOK_LIST_VAR), b"\x07\0\0\0....CERTBYTES....").unwrap();
        let s = SecureBoot::read(&r).unwrap();
        assert_eq!(s.lockdown.as_deref(), Some("integrity"));
        assert!(s.running_enforces());
        assert_eq!(s.efi_secure_boot, Some(true));
        assert_eq!(s.dkms_key_enrolled, Some(true));
        assert!(s.kernel_enforces(None));
        std::fs::write(p(MOK_LIST_VAR), b"\x07\0\0\0other").unwrap();
        assert_eq!(SecureBoot::read(&r).unwrap().dkms_key_enrolled, Some(false));
    }

    #[test]
    fn config_force() {
        let s = SecureBoot::default();
        assert!(!s.running_enforces());
        assert!(!s.kernel_enforces(Some("# CONFIG_MODULE_SIG_FORCE is not set\n")));
        assert!(s.kernel_enforces(Some("CONFIG_MODULE_SIG_FORCE=y\n")));
    }
}
