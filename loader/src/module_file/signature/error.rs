//! What the kernel does with a signature it cannot accept: the error numbers of
//! `mod_verify_sig()` and its callees, and `module_sig_check()`'s decision on them.

use nix::errno::Errno;
use serde::Serialize;

use super::{ModuleSignatureInfo, PKEY_ID_PGP, PKEY_ID_X509};
use crate::certificate::colon_hex;

/// How the kernel answers a module whose signature check ended with `result`
/// (`module_sig_check()`): ENODATA (unsigned), ENOPKG (unsupported crypto) and ENOKEY
/// (unknown key) refuse the module only where signatures are enforced (EKEYREJECTED) or
/// the kernel is locked down (EPERM); otherwise it loads and taints the kernel. Every
/// other error refuses the module whatever the settings.
pub fn module_sig_check(
    result: Result<(), Errno>,
    enforcement: Enforcement,
) -> Result<Acceptance, Errno> {
    match result {
        Ok(()) => Ok(Acceptance::Verified),
        Err(Errno::ENODATA | Errno::ENOPKG | Errno::ENOKEY) => match enforcement {
            Enforcement::SigEnforce => Err(Errno::EKEYREJECTED),
            Enforcement::Lockdown => Err(Errno::EPERM),
            Enforcement::None => Ok(Acceptance::Tainted),
        },
        Err(e) => Err(e),
    }
}

/// What makes a kernel refuse modules it cannot verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcement {
    /// Nothing: unverifiable modules load and taint the kernel.
    None,
    /// `module.sig_enforce=1` or `CONFIG_MODULE_SIG_FORCE`.
    SigEnforce,
    /// Lockdown (integrity or confidentiality), without `sig_enforce`.
    Lockdown,
}

/// How a module the kernel does not refuse is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Acceptance {
    /// The signature verified against a trusted key.
    Verified,
    /// Loaded, with the "module verification failed" taint.
    Tainted,
}

/// Why the kernel would not accept a module's signature, each with the error number the
/// kernel returns. Display says what is wrong and what the kernel does about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The marker is there but nothing fits before it.
    #[error("the signature marker is preceded by only {len} bytes, less than its 12-byte information block; the kernel refuses the module (EBADMSG)")]
    Truncated {
        /// Bytes before the marker.
        len: usize,
    },
    /// `sig_len` claims more than the file holds.
    #[error("the signature information claims a {sig_len}-byte signature but only {available} bytes precede it, and at least one byte of module must remain; the kernel refuses the module (EBADMSG)")]
    LengthOverrun {
        /// The claimed length.
        sig_len: u32,
        /// Bytes before the information block.
        available: usize,
    },
    /// Not a PKCS#7 signature (PGP or X.509 key id, or garbage).
    #[error("the signature is of type {id_type} ({}), not PKCS#7; the kernel counts it as unsupported crypto (ENOPKG): it refuses the module where signatures are enforced and loads it tainted elsewhere", type_name(*id_type))]
    NotPkcs7 {
        /// `id_type`.
        id_type: u8,
    },
    /// A field PKCS#7 signatures leave zero is not.
    #[error("the signature information has non-zero fields that PKCS#7 signatures leave zero (algo {}, hash {}, signer_len {}, key_id_len {}); the kernel refuses the module (EBADMSG)", info.algo, info.hash, info.signer_len, info.key_id_len)]
    NonZeroParams {
        /// The block.
        info: ModuleSignatureInfo,
    },
    /// Larger than the kernel's ASN.1 decoder reads.
    #[error("the PKCS#7 message is {len} bytes, more than the 65535 the kernel's ASN.1 decoder reads; the kernel refuses the module (EMSGSIZE)")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// Not a PKCS#7 message the kernel can decode.
    #[error("the PKCS#7 message is malformed: {reason}; the kernel refuses the module (EBADMSG)")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// A PKCS#7 message of another type than signed data.
    #[error("the PKCS#7 message is of type {oid}, not signed data; the kernel refuses the module (EINVAL)")]
    NotSignedData {
        /// Its content type.
        oid: String,
    },
    /// A version the kernel does not support.
    #[error("the {what} version is {}, where the kernel supports 1 and 3; it refuses the module (EINVAL)", colon_hex(version))]
    UnsupportedVersion {
        /// "SignedData" or "SignerInfo".
        what: &'static str,
        /// The version's content bytes.
        version: Vec<u8>,
    },
    /// PKCS#7 and CMS versions mixed.
    #[error("a version {signer_info} SignerInfo sits in a version {signed_data} SignedData; the kernel refuses the module (EBADMSG)")]
    VersionMismatch {
        /// SignedData version.
        signed_data: u8,
        /// SignerInfo version.
        signer_info: u8,
    },
    /// Signs something other than data or Authenticode content.
    #[error("the message signs content of type {oid}; the kernel refuses the module (EINVAL)")]
    UnsupportedContentType {
        /// The content type.
        oid: String,
    },
    /// A digest algorithm the kernel does not know.
    #[error("the signature uses digest algorithm {oid}, which the kernel does not know (ENOPKG): it refuses the module where signatures are enforced and loads it tainted elsewhere")]
    UnsupportedDigest {
        /// The algorithm.
        oid: String,
    },
    /// A signature algorithm the kernel does not know (this includes
    /// sha256WithRSAEncryption, which the kernel accepts in certificates but not here).
    #[error("the signature uses signature algorithm {oid}, which the kernel does not accept in a signer (ENOPKG): it refuses the module where signatures are enforced and loads it tainted elsewhere")]
    UnsupportedKeyAlgorithm {
        /// The algorithm.
        oid: String,
    },
    /// No SignedData, so no signer at all (an empty set of signers is
    /// [`SignatureError::Malformed`], as the kernel's decoder has it).
    #[error("the PKCS#7 message has no signed data and so no signer; the kernel refuses the module (EINVAL)")]
    NoSigner,
    /// Some signers have signed attributes and some do not.
    #[error("some signers of the PKCS#7 message have signed attributes and some do not; the kernel refuses the module (EINVAL)")]
    InconsistentAttributes,
    /// Signed attributes the kernel's parser rejects.
    #[error("{reason}; the kernel refuses the module (EKEYREJECTED)")]
    AttributesRejected {
        /// What is wrong.
        reason: &'static str,
    },
    /// Signed attributes the kernel's parser finds malformed.
    #[error("{reason}; the kernel refuses the module (EBADMSG)")]
    AttributesMalformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The message carries the content it signs (`verify_pkcs7_signature()`).
    #[error("the PKCS#7 message carries its own content instead of signing the module detached; the kernel refuses the module (EBADMSG)")]
    AttachedContent,
    /// Module signatures must sign plain data (`pkcs7_verify()`).
    #[error("the PKCS#7 message is an Authenticode signature, not a signature of data; the kernel refuses it for a module (EKEYREJECTED)")]
    NotData,
    /// Module signatures must not have signed attributes (`pkcs7_verify()`; only ML-DSA
    /// signatures on the newest kernels are excused).
    #[error("the PKCS#7 message has signed attributes, which kernels refuse in module signatures (EKEYREJECTED); sign modules with the kernel's sign-file, which leaves them out")]
    SignedAttributes,
}

fn type_name(id_type: u8) -> &'static str {
    match id_type {
        PKEY_ID_PGP => "PGP",
        PKEY_ID_X509 => "X.509",
        _ => "unknown",
    }
}

impl SignatureError {
    /// The error number the kernel returns.
    pub fn errno(&self) -> Errno {
        use SignatureError::*;
        match self {
            Truncated { .. }
            | LengthOverrun { .. }
            | NonZeroParams { .. }
            | Malformed { .. }
            | VersionMismatch { .. }
            | AttributesMalformed { .. }
            | AttachedContent => Errno::EBADMSG,
            NotPkcs7 { .. } | UnsupportedDigest { .. } | UnsupportedKeyAlgorithm { .. } => {
                Errno::ENOPKG
            }
            TooLarge { .. } => Errno::EMSGSIZE,
            NotSignedData { .. }
            | UnsupportedVersion { .. }
            | UnsupportedContentType { .. }
            | NoSigner
            | InconsistentAttributes => Errno::EINVAL,
            AttributesRejected { .. } | NotData | SignedAttributes => Errno::EKEYREJECTED,
        }
    }

    /// Whether the kernel refuses the module even where signatures are not enforced.
    pub fn always_refused(&self) -> bool {
        module_sig_check(Err(self.errno()), Enforcement::None).is_err()
    }
}
