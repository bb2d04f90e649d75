//! Where the keys a kernel would trust for modules come from, read under a [`Root`].
//!
//! The kernel checks a module's signature against its secondary trusted keyring
//! (`mod_verify_sig()` asks for `VERIFY_USE_SECONDARY_KEYRING`), which holds:
//!
//! - the keys built into the kernel image (the distribution's own; no file holds them, so
//!   the loader sees them only in the running kernel's `/proc/keys`);
//! - on UEFI machines booted through shim, the Machine Owner Keys, when the kernel puts
//!   them in its `.machine` keyring: kernels 5.18 and later built with
//!   `CONFIG_INTEGRITY_MACHINE_KEYRING` (Debian 12's is), when shim says so with
//!   `MokListTrustedRT` (`load_uefi.c`, `machine_keyring.c`). Otherwise they go to the
//!   `.platform` keyring, which upstream does not use for modules (Fedora and Ubuntu carry
//!   a patch that does; whether a given Debian kernel does is not established here);
//! - keys added at run time that a trusted key signed.
//!
//! DKMS signs what it builds with its own key pair, whose certificate is where DKMS's
//! configuration says ([`framework`]); for a kernel to trust it, it must be enrolled as a
//! MOK (`mokutil --import`). So the keys that matter for DAHDI are: DKMS's certificate,
//! the MOK list (`MokListRT`, [`efi`]), and for the running kernel `/proc/keys`
//! ([`proc_keys`]), which is the truth about what it holds now.

pub mod efi;
pub mod framework;
pub mod proc_keys;
pub mod shell;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::ber::Reader;
use crate::certificate::{Cert, CertError};
use crate::error::Error;
use crate::names::KernelRelease;
use crate::root::{is_absent, Root};

pub use framework::DkmsSigning;
pub use proc_keys::KernelKeys;

/// shim's MOK list as the kernel reads it first: the MOK variable configuration table
/// exported by shim 15.3 and later (no attribute bytes).
pub const MOK_LIST_MOKVAR: &str = "/sys/firmware/efi/mok-variables/MokListRT";
/// shim's MOK list as an EFI variable (four attribute bytes, then the data).
pub const MOK_LIST_EFIVAR: &str =
    "/sys/firmware/efi/efivars/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23";
/// shim's flag that MOKs may be trusted in the kernel's machine keyring (table entry).
pub const MOK_TRUSTED_MOKVAR: &str = "/sys/firmware/efi/mok-variables/MokListTrustedRT";
/// The same flag as an EFI variable (older kernels read it this way).
pub const MOK_TRUSTED_EFIVAR: &str =
    "/sys/firmware/efi/efivars/MokListTrustedRT-605dab50-e046-4300-abb6-3dd810dd8b23";
/// The running kernel's keys.
pub const PROC_KEYS: &str = "/proc/keys";

/// The largest EFI variable or MOK table entry the loader reads.
pub const MAX_VARIABLE_BYTES: u64 = 4 << 20;
/// The largest `/proc/keys` the loader reads.
pub const MAX_PROC_KEYS_BYTES: u64 = 4 << 20;

/// `EFI_VARIABLE_NON_VOLATILE`, the first attribute bit of an efivarfs file.
const EFI_VARIABLE_NON_VOLATILE: u32 = 1;

/// The keys a kernel booted on this system would trust for modules, as far as files show.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    /// DKMS's signing configuration.
    pub dkms_signing: DkmsSigning,
    /// DKMS's signing certificate, or why it could not be had.
    pub dkms: Result<DkmsCertificate, KeyProblem>,
    /// shim's MOK list; `None` where there is none (no UEFI, no shim, or a container).
    pub mok: Option<MokList>,
    /// The running kernel's keys; `None` where `/proc/keys` cannot be read.
    pub kernel: Option<KernelKeys>,
}

/// DKMS's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkmsCertificate {
    /// Where it is, as a system path.
    pub path: PathBuf,
    /// The certificate.
    pub cert: Cert,
}

/// shim's Machine Owner Key list.
#[derive(Debug, Clone, Default)]
pub struct MokList {
    /// Where it was read, as a system path.
    pub source: PathBuf,
    /// The X.509 certificates, in list order.
    pub certs: Vec<Cert>,
    /// Entries of other types (hashes of binaries), which sign nothing.
    pub other_entries: usize,
    /// What could not be read: a list cut short (the kernel stops there too), or
    /// certificates the kernel would fail to load.
    pub problems: Vec<String>,
    /// Whether shim lets the kernel trust MOKs in its machine keyring
    /// (`MokListTrustedRT`); `None` if that cannot be read.
    pub trusted_for_modules: Option<bool>,
}

/// Why DKMS's certificate is not available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// The configuration does not say where it is in a way the loader can read.
    NotConfigured(framework::Unresolved),
    /// The file does not exist (DKMS creates it at its first signed build).
    Missing(PathBuf),
    /// The file cannot be read.
    Unreadable {
        /// The file, as a system path.
        path: PathBuf,
        /// The error.
        error: String,
    },
    /// The file is not a certificate.
    Invalid {
        /// The file, as a system path.
        path: PathBuf,
        /// What is wrong with it.
        error: CertError,
    },
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyProblem::NotConfigured(why) => write!(f, "DKMS's signing certificate cannot be located: {why}"),
            KeyProblem::Missing(path) => write!(
                f,
                "DKMS's signing certificate {} does not exist (DKMS creates it when it first signs a module)",
                path.display()
            ),
            KeyProblem::Unreadable { path, error } => write!(
                f,
                "DKMS's signing certificate {} cannot be read: {error}",
                path.display()
            ),
            KeyProblem::Invalid { path, error } => write!(
                f,
                "DKMS's signing certificate {} is unusable: {error}",
                path.display()
            ),
        }
    }
}

impl TrustedKeys {
    /// Reads everything under `root`. `kernel` expands `$kernelver` in DKMS's settings;
    /// without it such a setting leaves the certificate unknown.
    pub fn read(root: &Root, kernel: Option<&KernelRelease>) -> Result<TrustedKeys, Error> {
        let dkms_signing = DkmsSigning::read(root)?;
        let dkms = match dkms_signing.certificate(kernel) {
            Err(why) => Err(KeyProblem::NotConfigured(why)),
            Ok(path) => read_certificate(root, path)?,
        };
        let mok = MokList::read(root)?;
        let kernel_keys = match read_bounded(&root.join(PROC_KEYS), MAX_PROC_KEYS_BYTES) {
            Ok(Some(bytes)) => Some(KernelKeys::parse(&String::from_utf8_lossy(&bytes))),
            // Hidden (a container) or absent: unknown rather than empty.
            Ok(None) | Err(_) => None,
        };
        Ok(TrustedKeys {
            dkms_signing,
            dkms,
            mok,
            kernel: kernel_keys,
        })
    }

    /// Every certificate found: DKMS's first, then the MOK list's, each once. Which of
    /// them a given kernel trusts is described in the module documentation.
    pub fn certs(&self) -> Vec<Cert> {
        let mut out: Vec<Cert> = Vec::new();
        let dkms = self.dkms.as_ref().ok().map(|d| &d.cert);
        let mok = self.mok.iter().flat_map(|m| m.certs.iter());
        for c in dkms.into_iter().chain(mok) {
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
        out
    }

    /// Whether the MOK list holds `cert`; `None` without a MOK list.
    pub fn mok_enrolled(&self, cert: &Cert) -> Option<bool> {
        self.mok.as_ref().map(|m| m.certs.contains(cert))
    }

    /// Whether the running kernel holds `cert`'s key; `None` without `/proc/keys`.
    pub fn kernel_holds(&self, cert: &Cert) -> Option<bool> {
        self.kernel.as_ref().map(|k| k.holds(cert))
    }
}

fn read_certificate(
    root: &Root,
    path: PathBuf,
) -> Result<Result<DkmsCertificate, KeyProblem>, Error> {
    let bytes = match read_bounded(&root.join(&path), crate::certificate::MAX_CERT_BYTES as u64) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(Err(KeyProblem::Missing(path))),
        Err(ReadError::TooLarge(len)) => {
            return Ok(Err(KeyProblem::Invalid {
                path,
                error: CertError::TooLarge(len as usize),
            }))
        }
        Err(ReadError::Io(e)) => {
            return Ok(Err(KeyProblem::Unreadable {
                path,
                error: e.to_string(),
            }))
        }
    };
    Ok(match Cert::from_der_or_pem(&bytes) {
        Ok(cert) => Ok(DkmsCertificate { path, cert }),
        Err(error) => Err(KeyProblem::Invalid { path, error }),
    })
}

impl MokList {
    /// Reads the MOK list the way the kernel does at boot (`load_moklist_certs()`): from
    /// shim's MOK variable table when there is one, else from the EFI variable.
    pub fn read(root: &Root) -> Result<Option<MokList>, Error> {
        let (source, data) = match read_variable(root, MOK_LIST_MOKVAR, false)? {
            Some(d) => (MOK_LIST_MOKVAR, d),
            None => match read_variable(root, MOK_LIST_EFIVAR, true)? {
                Some(d) => (MOK_LIST_EFIVAR, d),
                None => return Ok(None),
            },
        };
        let mut list = MokList::from_signature_lists(&data);
        list.source = PathBuf::from(source);
        list.trusted_for_modules = mok_trusted(root)?;
        Ok(Some(list))
    }

    /// The certificates of a signature-list blob (without efivarfs's attribute bytes).
    pub fn from_signature_lists(data: &[u8]) -> MokList {
        let lists = efi::parse_signature_lists(data);
        let mut list = MokList::default();
        for (i, entry) in lists.entries.iter().enumerate() {
            match entry {
                efi::Entry::X509 { data, .. } => {
                    // The kernel's X.509 parser reads the first element and ignores the
                    // padding a list's fixed entry size may leave after it.
                    let parsed = Reader::new(data)
                        .next_tlv()
                        .map_err(|e| e.to_string())
                        .and_then(|tlv| Cert::from_der(tlv.whole).map_err(|e| e.to_string()));
                    match parsed {
                        Ok(cert) => list.certs.push(cert),
                        Err(e) => list.problems.push(format!(
                            "entry {} is not a certificate the kernel can load: {e}",
                            i + 1
                        )),
                    }
                }
                efi::Entry::Other { .. } => list.other_entries += 1,
            }
        }
        if let Some(e) = lists.error {
            list.problems.push(format!(
                "the list is damaged and the kernel stops reading it there: {e}"
            ));
        }
        list
    }
}

/// Whether shim told the kernel to trust MOKs in its machine keyring: the table entry
/// exists (`uefi_check_trust_mok_keys()` today), or, for kernels that read the EFI
/// variable, it exists and is volatile (set by shim at boot, not by a user).
fn mok_trusted(root: &Root) -> Result<Option<bool>, Error> {
    if root.join("/sys/firmware/efi/mok-variables").is_dir() {
        return Ok(Some(root.join(MOK_TRUSTED_MOKVAR).exists()));
    }
    match read_bounded(&root.join(MOK_TRUSTED_EFIVAR), MAX_VARIABLE_BYTES) {
        Ok(Some(bytes)) => Ok(attributes(&bytes).map(|a| a & EFI_VARIABLE_NON_VOLATILE == 0)),
        Ok(None) => Ok(root
            .join("/sys/firmware/efi/efivars")
            .is_dir()
            .then_some(false)),
        Err(ReadError::TooLarge(_)) => Ok(None),
        Err(ReadError::Io(e)) => Err(Error::io("read", &root.join(MOK_TRUSTED_EFIVAR), e)),
    }
}

fn attributes(efivar: &[u8]) -> Option<u32> {
    let a: [u8; 4] = efivar.get(..4)?.try_into().ok()?;
    Some(u32::from_le_bytes(a))
}

/// An EFI variable's data; `efivarfs` files start with four attribute bytes.
fn read_variable(root: &Root, system_path: &str, efivarfs: bool) -> Result<Option<Vec<u8>>, Error> {
    let path = root.join(system_path);
    match read_bounded(&path, MAX_VARIABLE_BYTES) {
        Ok(Some(mut bytes)) => {
            if efivarfs {
                if bytes.len() < 4 {
                    return Ok(Some(Vec::new()));
                }
                bytes.drain(..4);
            }
            Ok(Some(bytes))
        }
        Ok(None) => Ok(None),
        Err(ReadError::TooLarge(len)) => Err(Error::io(
            "read",
            &path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("it is {len} bytes, more than any MOK list ({MAX_VARIABLE_BYTES} at most)"),
            ),
        )),
        Err(ReadError::Io(e)) => Err(Error::io("read", &path, e)),
    }
}

enum ReadError {
    TooLarge(u64),
    Io(std::io::Error),
}

/// Reads a file of at most `max` bytes; `Ok(None)` if it does not exist. The size is
/// checked before reading and the read itself is bounded (sysfs files report no size).
fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(ReadError::Io(e)),
    };
    let len = file.metadata().map_err(ReadError::Io)?.len();
    if len > max {
        return Err(ReadError::TooLarge(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(Some(bytes))
}
