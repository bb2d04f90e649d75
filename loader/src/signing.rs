//! Signature enforcement: whether a kernel would refuse a module it cannot verify
//! (Secure Boot's lockdown, `module.sig_enforce`, `CONFIG_MODULE_SIG_FORCE`). Which keys
//! it verifies with is [`crate::keys`]' concern.

use serde::Serialize;

use crate::error::Error;
use crate::module_file::signature::Enforcement;
use crate::root::{read_optional, Root};

/// The EFI variable holding Secure Boot's state (GUID of EFI_GLOBAL_VARIABLE).
pub const SECURE_BOOT_VAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e08f00ee6c8c";
/// The running kernel's `module.sig_enforce`.
pub const SIG_ENFORCE: &str = "/sys/module/module/parameters/sig_enforce";
/// The running kernel's lockdown modes, the selected one in brackets.
pub const LOCKDOWN: &str = "/sys/kernel/security/lockdown";

/// Signature enforcement as far as it can be read from this system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecureBoot {
    /// `module.sig_enforce` of the running kernel.
    pub sig_enforce: Option<bool>,
    /// The selected lockdown mode of the running kernel (`none`, `integrity`, ...).
    pub lockdown: Option<String>,
    /// Firmware Secure Boot is on (EFI variable).
    pub efi_secure_boot: Option<bool>,
}

impl SecureBoot {
    /// Reads the state under the root.
    pub fn read(root: &Root) -> Result<Self, Error> {
        let sig_enforce = read_optional(&root.join(SIG_ENFORCE))?.map(|s| s.trim() == "Y");
        let lockdown = read_optional(&root.join(LOCKDOWN))?.and_then(|s| selected_word(&s));
        // efivarfs content: 4 bytes of attributes, then the value (one byte here).
        let efi_secure_boot = std::fs::read(root.join(SECURE_BOOT_VAR))
            .ok()
            .and_then(|b| b.get(4).map(|v| *v == 1));
        Ok(SecureBoot {
            sig_enforce,
            lockdown,
            efi_secure_boot,
        })
    }

    /// How the running kernel treats a module it cannot verify. `sig_enforce` wins over
    /// lockdown because the kernel checks it first (and answers EKEYREJECTED, not EPERM).
    pub fn running_enforcement(&self) -> Enforcement {
        if self.sig_enforce == Some(true) {
            Enforcement::SigEnforce
        } else if self
            .lockdown
            .as_deref()
            .is_some_and(|l| l == "integrity" || l == "confidentiality")
        {
            Enforcement::Lockdown
        } else {
            Enforcement::None
        }
    }

    /// How a kernel built with `CONFIG_MODULE_SIG_FORCE` = `sig_force` would treat a
    /// module it cannot verify after booting here. Debian's kernels lock down when booted
    /// with Secure Boot on, so firmware state counts.
    pub fn boot_enforcement(&self, sig_force: bool) -> Enforcement {
        if sig_force {
            Enforcement::SigEnforce
        } else if self.efi_secure_boot == Some(true) {
            Enforcement::Lockdown
        } else {
            Enforcement::None
        }
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
        std::fs::write(p(LOCKDOWN), "none [integrity] confidentiality\n").unwrap();
        std::fs::create_dir_all(p("/sys/firmware/efi/efivars")).unwrap();
        std::fs::write(p(SECURE_BOOT_VAR), [6, 0, 0, 0, 1]).unwrap();
        let s = SecureBoot::read(&r).unwrap();
        assert_eq!(s.lockdown.as_deref(), Some("integrity"));
        assert_eq!(s.running_enforcement(), Enforcement::Lockdown);
        assert_eq!(s.efi_secure_boot, Some(true));
        assert_eq!(s.boot_enforcement(false), Enforcement::Lockdown);

        std::fs::create_dir_all(p("/sys/module/module/parameters")).unwrap();
        std::fs::write(p(SIG_ENFORCE), "Y\n").unwrap();
        let s = SecureBoot::read(&r).unwrap();
        assert_eq!(s.running_enforcement(), Enforcement::SigEnforce);

        std::fs::write(p(LOCKDOWN), "[none] integrity confidentiality\n").unwrap();
        std::fs::write(p(SIG_ENFORCE), "N\n").unwrap();
        std::fs::write(p(SECURE_BOOT_VAR), [6, 0, 0, 0, 0]).unwrap();
        let s = SecureBoot::read(&r).unwrap();
        assert_eq!(s.running_enforcement(), Enforcement::None);
        assert_eq!(s.boot_enforcement(false), Enforcement::None);
    }

    #[test]
    fn config_force() {
        let s = SecureBoot::default();
        assert_eq!(s.running_enforcement(), Enforcement::None);
        assert_eq!(s.boot_enforcement(false), Enforcement::None);
        assert_eq!(s.boot_enforcement(true), Enforcement::SigEnforce);
    }
}
