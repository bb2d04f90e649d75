//! Module signing: whether a kernel would refuse an unsigned or untrusted module (Secure Boot, lockdown,
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
    /// The running kernel holds the DKMS certificate's key: `/proc/keys` lists an
    /// asymmetric key described by the certificate's subject key identifier. `None` if
    /// either cannot be read.
    pub dkms_key_in_kernel: Option<bool>,
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
        // /proc/keys may be hidden (containers); then it is simply unknown.
        let keys = read_optional(&root.join("/proc/keys")).ok().flatten();
        let dkms_key_in_kernel = match (cert.as_deref().and_then(subject_key_id), keys) {
            (Some(id), Some(k)) => Some(kernel_holds_key(&k, &id)),
            _ => None,
        };
        let dkms_key_enrolled = match (cert, mok) {
            (Some(c), Some(m)) if !c.is_empty() => Some(m.windows(c.len()).any(|w| w == c)),
            _ => None,
        };
        Ok(SecureBoot {
            sig_enforce,
            lockdown,
            efi_secure_boot,
            dkms_key_enrolled,
            dkms_key_in_kernel,
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

    /// Would a kernel built with `CONFIG_MODULE_SIG_FORCE` = `sig_force` refuse an unsigned
    /// module after booting here? Debian's kernels lock down when booted with Secure Boot
    /// on, so firmware state counts.
    pub fn kernel_enforces(&self, sig_force: bool) -> bool {
        sig_force || self.efi_secure_boot == Some(true)
    }
}

/// The subject key identifier of a DER certificate, as lower-case hex: the value of the
/// extension 2.5.29.14, an OCTET STRING inside the extension's OCTET STRING. The kernel
/// names an X.509 key `SUBJECT: SKID` in its keyrings, so this is how to find it there.
pub fn subject_key_id(der: &[u8]) -> Option<String> {
    const OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0e];
    let at = der.windows(OID.len()).position(|w| w == OID)? + OID.len();
    let mut rest = der.get(at..)?;
    if rest.starts_with(&[0x01, 0x01]) {
        // The optional "critical" BOOLEAN.
        rest = rest.get(3..)?;
    }
    let (outer_tag, outer_len) = (*rest.first()?, *rest.get(1)? as usize);
    if outer_tag != 0x04 || outer_len >= 0x80 {
        return None;
    }
    let inner = rest.get(2..2 + outer_len)?;
    let (tag, len) = (*inner.first()?, *inner.get(1)? as usize);
    if tag != 0x04 || len == 0 || len + 2 != inner.len() {
        return None;
    }
    Some(inner[2..].iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `/proc/keys` text lists an asymmetric key whose description carries `skid`.
pub fn kernel_holds_key(proc_keys: &str, skid: &str) -> bool {
    proc_keys.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // serial flags usage expiry perm uid gid type description...
        f.len() > 8 && f[7].starts_with("asymmetri") && f[8..].iter().any(|w| w.contains(skid))
    })
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
        assert!(s.kernel_enforces(false));
        std::fs::write(p(MOK_LIST_VAR), b"\x07\0\0\0other").unwrap();
        assert_eq!(SecureBoot::read(&r).unwrap().dkms_key_enrolled, Some(false));
    }

    #[test]
    fn dkms_key_found_in_proc_keys_by_its_subject_key_id() {
        // A certificate's extension list with a SKID (as openssl writes it for DKMS).
        let mut der = vec![
            0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04, 0x14,
        ];
        der.extend((1..=20u8).collect::<Vec<_>>());
        let id = subject_key_id(&der).unwrap();
        assert_eq!(id, "0102030405060708090a0b0c0d0e0f1011121314");
        let keys = "3588d4ca I------     1 perm 1f030000     0     0 asymmetri Build time autogenerated kernel key: 8963f707e289edc09df337a240938134371a5bb8: X509.rsa 371a5bb8 []\n\
                    37b1354e I------     2 perm 1f0b0000     0     0 keyring   .builtin_trusted_keys: 1\n";
        assert!(!kernel_holds_key(keys, &id));
        assert!(kernel_holds_key(
            keys,
            "8963f707e289edc09df337a240938134371a5bb8"
        ));
        // A keyring's name is not a key.
        assert!(!kernel_holds_key(keys, ".builtin_trusted_keys"));
        // Truncated or SKID-less certificates give no identifier rather than garbage.
        assert_eq!(subject_key_id(&der[..15]), None);
        assert_eq!(subject_key_id(b"no extension here"), None);

        let t = tempfile::tempdir().unwrap();
        let p = |s: &str| t.path().join(s.trim_start_matches('/'));
        std::fs::create_dir_all(p("/var/lib/dkms")).unwrap();
        std::fs::create_dir_all(p("/proc")).unwrap();
        std::fs::write(p(DKMS_MOK_CERT), &der).unwrap();
        std::fs::write(p("/proc/keys"), keys).unwrap();
        let r = Root::new(t.path());
        assert_eq!(
            SecureBoot::read(&r).unwrap().dkms_key_in_kernel,
            Some(false)
        );
        std::fs::write(
            p("/proc/keys"),
            keys.replace("8963f707e289edc09df337a240938134371a5bb8", &id),
        )
        .unwrap();
        assert_eq!(SecureBoot::read(&r).unwrap().dkms_key_in_kernel, Some(true));
    }

    #[test]
    fn config_force() {
        let s = SecureBoot::default();
        assert!(!s.running_enforces());
        assert!(!s.kernel_enforces(false));
        assert!(s.kernel_enforces(true));
    }
}
