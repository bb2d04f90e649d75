//! The signature appended to a module, read the way the kernel reads it before loading.
//!
//! A signed module ends with a PKCS#7 (CMS) `SignedData` message, a 12-byte
//! `struct module_signature` and the marker `~Module signature appended~\n`. The kernel
//! checks it in this order, and so does this module:
//!
//! 1. `module_sig_check()` (kernel/module/signing.c): the marker at the very end; without
//!    it the module is unsigned (ENODATA).
//! 2. `mod_verify_sig()` and `mod_check_sig()` (kernel/module_signature.c): the info block
//!    must fit, its `sig_len` must leave at least one byte of module, `id_type` must be
//!    PKCS#7 (else ENOPKG) and every other field zero (else EBADMSG).
//! 3. `pkcs7_parse_message()` (crypto/asymmetric_keys/pkcs7_parser.c) with the grammar of
//!    pkcs7.asn1 and the checks of its actions (versions, algorithms, attributes).
//!
//! This file holds the types and the information block; the message's grammar walk is in
//! `pkcs7.rs`, the kernel's error numbers and `module_sig_check()` in `error.rs`, the
//! object identifiers in [`oid`]. What comes after parsing (detached content, the rules for
//! module signatures, the cryptographic check against trusted keys) is in [`verify`].
//!
//! # Why a grammar walk and not the `cms` crate
//!
//! The message is walked with [`crate::ber`], element by element in the order of the
//! kernel's pkcs7.asn1, and only its leaves (certificates) are decoded with RustCrypto's
//! `x509-cert`. RustCrypto's `cms` decodes strict DER into typed values, and three things
//! the kernel depends on are lost that way: the signed attributes' bytes as they were signed
//! (`cms` re-sorts every SET OF when it decodes, so its re-encoding is not what was hashed),
//! the alternatives the kernel's grammar accepts beyond CMS (SEQUENCE OF where CMS has
//! SET OF, `[2]` certificate sequences, BER lengths), and the order in which the kernel's
//! checks fail, which decides the error number (ENOPKG lets a module load where signatures
//! are not enforced; EBADMSG never does).
//!
//! Every length is checked before it is used; the message is at most 65535 bytes (the
//! kernel's own limit) and nothing allocated is larger than the module.

mod error;
pub mod oid;
mod pkcs7;
pub mod verify;

pub use error::{module_sig_check, Acceptance, Enforcement, SignatureError};

use const_oid::ObjectIdentifier;
use serde::Serialize;

use super::elf::SIGNATURE_MAGIC;
use crate::certificate::{colon_hex, Cert};

/// Size of `struct module_signature` (include/linux/module_signature.h).
pub const MODULE_SIGNATURE_LEN: usize = 12;

/// `id_type` of a PGP key id (never accepted for modules).
pub const PKEY_ID_PGP: u8 = 0;
/// `id_type` of an X.509 key id (never accepted for modules).
pub const PKEY_ID_X509: u8 = 1;
/// `id_type` of a PKCS#7 message, the only kind the kernel accepts.
pub const PKEY_ID_PKCS7: u8 = 2;

/// The largest message the kernel's ASN.1 decoder reads (`asn1_ber_decoder()` refuses
/// anything longer with EMSGSIZE).
pub const MAX_MESSAGE_BYTES: usize = 65535;

/// `struct module_signature`: the 12 bytes between the PKCS#7 message and the marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModuleSignatureInfo {
    /// Public-key algorithm (zero for PKCS#7).
    pub algo: u8,
    /// Digest algorithm (zero for PKCS#7).
    pub hash: u8,
    /// Key identifier type: [`PKEY_ID_PKCS7`] is the only one the kernel accepts.
    pub id_type: u8,
    /// Length of the signer's name (zero for PKCS#7).
    pub signer_len: u8,
    /// Length of the key identifier (zero for PKCS#7).
    pub key_id_len: u8,
    /// Padding (zero).
    pub pad: [u8; 3],
    /// Length of the PKCS#7 message, big-endian in the file.
    pub sig_len: u32,
}

impl ModuleSignatureInfo {
    /// Reads the block.
    pub fn from_bytes(b: [u8; MODULE_SIGNATURE_LEN]) -> Self {
        ModuleSignatureInfo {
            algo: b[0],
            hash: b[1],
            id_type: b[2],
            signer_len: b[3],
            key_id_len: b[4],
            pad: [b[5], b[6], b[7]],
            sig_len: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }

    /// The name modinfo prints as `sig_id`.
    pub fn id_type_name(&self) -> &'static str {
        match self.id_type {
            PKEY_ID_PGP => "PGP",
            PKEY_ID_X509 => "X509",
            PKEY_ID_PKCS7 => "PKCS#7",
            _ => "unknown",
        }
    }
}

/// A module's appended signature, parsed as far as the kernel parses it.
#[derive(Debug, Clone)]
pub struct AppendedSignature {
    /// The information block.
    pub info: ModuleSignatureInfo,
    /// How many bytes at the start of the image the signature covers (everything before
    /// the PKCS#7 message).
    pub signed_len: usize,
    /// The PKCS#7 message.
    pub message: Pkcs7Message,
}

/// A PKCS#7 `SignedData` message.
#[derive(Debug, Clone)]
pub struct Pkcs7Message {
    /// `SignedData` version: 1 (PKCS#7) or 3 (CMS).
    pub version: u8,
    /// What the message says it signs.
    pub content_type: ContentType,
    /// The message carries the signed content itself (module signatures must not).
    pub attached_content: bool,
    /// Certificates carried in the message (sign-file carries none).
    pub certificates: Vec<Cert>,
    /// The signers, in message order (sign-file writes one).
    pub signers: Vec<SignerInfo>,
    /// Bytes after the message and before the information block, which the kernel's
    /// decoder ignores.
    pub trailing_bytes: usize,
}

/// The type of the signed content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ContentType {
    /// pkcs7-data: what module signatures are.
    Data,
    /// Authenticode (signed PE files for kexec).
    MsIndirectData,
}

/// One signer of the message (a `SignerInfo`).
#[derive(Debug, Clone)]
pub struct SignerInfo {
    /// `SignerInfo` version: 1 names the signer by issuer and serial number, 3 by subject
    /// key identifier. The kernel goes by the version, not by the form the identifier
    /// takes (`pkcs7_note_signerinfo_version()`).
    pub version: u8,
    /// How the signer's certificate is named.
    pub signer: SignerId,
    /// The digest algorithm.
    pub digest: Digest,
    /// The signature algorithm.
    pub algorithm: SignatureAlgorithm,
    /// The signature value.
    pub signature: Vec<u8>,
    /// Signed ("authenticated") attributes in their `[0] IMPLICIT SET OF` form, the only
    /// form the kernel digests.
    pub signed_attributes: Option<SignedAttributes>,
}

/// How a signer names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId {
    /// The certificate's issuer name and serial number (what sign-file writes by default).
    IssuerAndSerial {
        /// The issuer name's content bytes, as encoded.
        issuer: Vec<u8>,
        /// The serial number's content bytes, as encoded.
        serial: Vec<u8>,
        /// The issuer's name as modinfo prints it (see [`AppendedSignature::modinfo`]).
        issuer_display: Option<String>,
    },
    /// The certificate's subject key identifier (sign-file `-k`).
    SubjectKeyId(Vec<u8>),
}

/// Signed attributes, as the kernel checks and digests them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAttributes {
    /// The bytes that are hashed: the attributes as encoded, with the `[0]` tag replaced
    /// by SET (`pkcs7_digest()`).
    pub digested: Vec<u8>,
    /// The messageDigest attribute's value.
    pub message_digest: Vec<u8>,
}

/// Digest algorithms the kernel's PKCS#7 parser recognises (`pkcs7_sig_note_digest_algo()`;
/// which of them a given kernel can compute depends on its version and configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Digest {
    /// MD4 (older kernels only).
    Md4,
    /// MD5 (older kernels only).
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SHA3-256 (kernels 6.7 and later).
    Sha3_256,
    /// SHA3-384 (kernels 6.7 and later).
    Sha3_384,
    /// SHA3-512 (kernels 6.7 and later).
    Sha3_512,
    /// SM3.
    Sm3,
    /// Streebog-256.
    Streebog256,
    /// Streebog-512.
    Streebog512,
}

impl Digest {
    const ALL: [(ObjectIdentifier, Digest); 13] = [
        (oid::MD4, Digest::Md4),
        (oid::MD5, Digest::Md5),
        (oid::SHA1, Digest::Sha1),
        (oid::SHA224, Digest::Sha224),
        (oid::SHA256, Digest::Sha256),
        (oid::SHA384, Digest::Sha384),
        (oid::SHA512, Digest::Sha512),
        (oid::SHA3_256, Digest::Sha3_256),
        (oid::SHA3_384, Digest::Sha3_384),
        (oid::SHA3_512, Digest::Sha3_512),
        (oid::SM3, Digest::Sm3),
        (oid::STREEBOG256, Digest::Streebog256),
        (oid::STREEBOG512, Digest::Streebog512),
    ];

    fn from_oid_bytes(bytes: &[u8]) -> Option<Digest> {
        Self::ALL
            .iter()
            .find(|(o, _)| o.as_bytes() == bytes)
            .map(|(_, d)| *d)
    }

    /// The kernel's crypto name for it.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Digest::Md4 => "md4",
            Digest::Md5 => "md5",
            Digest::Sha1 => "sha1",
            Digest::Sha224 => "sha224",
            Digest::Sha256 => "sha256",
            Digest::Sha384 => "sha384",
            Digest::Sha512 => "sha512",
            Digest::Sha3_256 => "sha3-256",
            Digest::Sha3_384 => "sha3-384",
            Digest::Sha3_512 => "sha3-512",
            Digest::Sm3 => "sm3",
            Digest::Streebog256 => "streebog256",
            Digest::Streebog512 => "streebog512",
        }
    }

    /// The name modinfo prints as `sig_hashalgo`: OpenSSL's long name for the object
    /// (kmod's `fill_pkcs7()` uses `OBJ_obj2txt()`, which prefers it).
    pub fn openssl_name(self) -> &'static str {
        match self {
            Digest::Streebog256 => "GOST R 34.11-2012 with 256 bit hash",
            Digest::Streebog512 => "GOST R 34.11-2012 with 512 bit hash",
            d => d.kernel_name(),
        }
    }
}

/// Signature algorithms the kernel's PKCS#7 parser recognises in a `SignerInfo`
/// (`pkcs7_sig_note_pkey_algo()`). Note that RSA must be named `rsaEncryption`: a signer
/// that names `sha256WithRSAEncryption` is refused as unsupported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureAlgorithm {
    /// RSA with PKCS#1 v1.5 padding.
    Rsa,
    /// ECDSA, signature in X9.62 (DER) form; the digest is the signer's digest algorithm.
    Ecdsa,
    /// GOST R 34.10-2012.
    EcRdsa,
    /// SM2 (kernels 5.10 to 6.5).
    Sm2,
    /// ML-DSA (the newest kernels).
    MlDsa,
}

impl SignatureAlgorithm {
    fn from_oid_bytes(bytes: &[u8]) -> Option<SignatureAlgorithm> {
        let is = |o: ObjectIdentifier| o.as_bytes() == bytes;
        if is(oid::RSA_ENCRYPTION) {
            Some(SignatureAlgorithm::Rsa)
        } else if [
            oid::ECDSA_SHA1,
            oid::ECDSA_SHA224,
            oid::ECDSA_SHA256,
            oid::ECDSA_SHA384,
            oid::ECDSA_SHA512,
            oid::ECDSA_SHA3_256,
            oid::ECDSA_SHA3_384,
            oid::ECDSA_SHA3_512,
        ]
        .into_iter()
        .any(is)
        {
            Some(SignatureAlgorithm::Ecdsa)
        } else if is(oid::GOST2012_PKEY256) || is(oid::GOST2012_PKEY512) {
            Some(SignatureAlgorithm::EcRdsa)
        } else if is(oid::SM2_WITH_SM3) {
            Some(SignatureAlgorithm::Sm2)
        } else if [oid::ML_DSA_44, oid::ML_DSA_65, oid::ML_DSA_87]
            .into_iter()
            .any(is)
        {
            Some(SignatureAlgorithm::MlDsa)
        } else {
            None
        }
    }

    /// The kernel's name for the algorithm family.
    pub fn kernel_name(self) -> &'static str {
        match self {
            SignatureAlgorithm::Rsa => "rsa",
            SignatureAlgorithm::Ecdsa => "ecdsa",
            SignatureAlgorithm::EcRdsa => "ecrdsa",
            SignatureAlgorithm::Sm2 => "sm2",
            SignatureAlgorithm::MlDsa => "ml-dsa",
        }
    }
}

/// What `modinfo` prints about a module's signature (kmod's `kmod_module_signature_info()`
/// and `fill_pkcs7()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModinfoSignature {
    /// `sig_id`: "PKCS#7".
    pub sig_id: &'static str,
    /// `signer`: the issuer's common name.
    pub signer: Option<String>,
    /// `sig_key`: the serial number, as colon-separated hexadecimal.
    pub sig_key: String,
    /// `sig_hashalgo`.
    pub sig_hashalgo: String,
    /// `signature`, as colon-separated hexadecimal on one line (modinfo wraps it).
    pub signature: String,
}

impl AppendedSignature {
    /// Finds and parses the signature at the end of a module image (decompressed, as the
    /// kernel checks it). `Ok(None)`: the module is unsigned (the kernel's ENODATA).
    pub fn parse(image: &[u8]) -> Result<Option<AppendedSignature>, SignatureError> {
        // module_sig_check(): the marker counts only when the image is longer than it.
        let Some(rest) = image.strip_suffix(SIGNATURE_MAGIC) else {
            return Ok(None);
        };
        if rest.is_empty() {
            return Ok(None);
        }
        // mod_verify_sig(): there must be more than the information block.
        if rest.len() <= MODULE_SIGNATURE_LEN {
            return Err(SignatureError::Truncated { len: rest.len() });
        }
        let info_at = rest.len() - MODULE_SIGNATURE_LEN;
        let mut block = [0u8; MODULE_SIGNATURE_LEN];
        block.copy_from_slice(&rest[info_at..]);
        let info = ModuleSignatureInfo::from_bytes(block);
        // mod_check_sig(): at least one byte of module must remain, then the type, then
        // the fields PKCS#7 leaves zero.
        let sig_len = info.sig_len as usize;
        if sig_len >= info_at {
            return Err(SignatureError::LengthOverrun {
                sig_len: info.sig_len,
                available: info_at,
            });
        }
        if info.id_type != PKEY_ID_PKCS7 {
            return Err(SignatureError::NotPkcs7 {
                id_type: info.id_type,
            });
        }
        if info.algo != 0
            || info.hash != 0
            || info.signer_len != 0
            || info.key_id_len != 0
            || info.pad != [0; 3]
        {
            return Err(SignatureError::NonZeroParams { info });
        }
        let signed_len = info_at - sig_len;
        let message = Pkcs7Message::parse(&rest[signed_len..info_at])?;
        Ok(Some(AppendedSignature {
            info,
            signed_len,
            message,
        }))
    }

    /// The bytes the signature covers, out of the image it was parsed from.
    pub fn signed_data<'a>(&self, image: &'a [u8]) -> &'a [u8] {
        &image[..self.signed_len.min(image.len())]
    }

    /// What `modinfo` prints about this signature, or `None` where it prints nothing: kmod
    /// decodes the message with OpenSSL's PKCS#7 (not CMS) reader and shows the first
    /// signer only when it names an issuer and serial number, so a signature made with
    /// `sign-file -k` (subject key identifier) shows no signature fields at all. This is
    /// kmod 32 and later; kmod 30 and 31 (Debian 12 has 30) know only the digests up to
    /// SM3 and print no signature fields for SHA-3.
    pub fn modinfo(&self) -> Option<ModinfoSignature> {
        let first = self.message.signers.first()?;
        let SignerId::IssuerAndSerial {
            serial,
            issuer_display,
            ..
        } = &first.signer
        else {
            return None;
        };
        Some(ModinfoSignature {
            sig_id: self.info.id_type_name(),
            signer: issuer_display.clone(),
            sig_key: colon_hex(&integer_magnitude(serial)),
            sig_hashalgo: first.digest.openssl_name().to_string(),
            signature: colon_hex(&first.signature),
        })
    }
}

impl SignerInfo {
    /// The identifier the kernel looks the signer's key up by (`pkcs7_note_signed_info()`):
    /// for version 1 the serial number followed by the issuer, for version 3 the subject key
    /// identifier. A version that does not match the identifier's form gives an empty
    /// identifier, which no real key has.
    pub fn kernel_key_id(&self) -> Vec<u8> {
        match (self.version, &self.signer) {
            (1, SignerId::IssuerAndSerial { issuer, serial, .. }) => {
                [serial.as_slice(), issuer.as_slice()].concat()
            }
            (3, SignerId::SubjectKeyId(skid)) => skid.clone(),
            _ => Vec::new(),
        }
    }

    /// The signer as a person reads it: "CN, serial XX:XX" or "key id XX:XX".
    pub fn describe(&self) -> String {
        match &self.signer {
            SignerId::IssuerAndSerial {
                serial,
                issuer_display,
                ..
            } => format!(
                "{} (serial {})",
                issuer_display
                    .as_deref()
                    .unwrap_or("an issuer without a name"),
                colon_hex(&integer_magnitude(serial))
            ),
            SignerId::SubjectKeyId(skid) => format!("subject key identifier {}", colon_hex(skid)),
        }
    }
}

/// The magnitude of a two's-complement INTEGER without leading zero bytes, as OpenSSL's
/// `BN_bn2bin(ASN1_INTEGER_to_BN())` gives it to kmod.
fn integer_magnitude(content: &[u8]) -> Vec<u8> {
    let mut bytes = content.to_vec();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        // Negative: the magnitude is the two's complement.
        for b in bytes.iter_mut() {
            *b = !*b;
        }
        for b in bytes.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
    }
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.split_off(start)
}

#[cfg(test)]
mod tests;
