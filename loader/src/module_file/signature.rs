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
//! What comes after parsing (detached content, the rules for module signatures, the
//! cryptographic check against trusted keys) is in [`verify`].
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

pub mod verify;

use const_oid::ObjectIdentifier;
use nix::errno::Errno;
use serde::Serialize;

use super::elf::SIGNATURE_MAGIC;
use crate::ber::{self, one_byte_integer, tag, tag_matches, Reader, Tlv};
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

/// Object identifiers of PKCS#7 messages, as the kernel's OID registry knows them.
pub mod oid {
    use const_oid::ObjectIdentifier as Oid;

    /// pkcs7-signedData.
    pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
    /// pkcs7-data.
    pub const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
    /// Microsoft Authenticode SpcIndirectDataContent.
    pub const MS_INDIRECT_DATA: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.4");

    /// MD4.
    pub const MD4: Oid = Oid::new_unwrap("1.2.840.113549.2.4");
    /// MD5.
    pub const MD5: Oid = Oid::new_unwrap("1.2.840.113549.2.5");
    /// SHA-1.
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    /// SHA-224.
    pub const SHA224: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.4");
    /// SHA-256.
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    /// SHA-384.
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    /// SHA-512.
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    /// SHA3-256.
    pub const SHA3_256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.8");
    /// SHA3-384.
    pub const SHA3_384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.9");
    /// SHA3-512.
    pub const SHA3_512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.10");
    /// SM3.
    pub const SM3: Oid = Oid::new_unwrap("1.2.156.10197.1.401");
    /// GOST R 34.11-2012 (Streebog), 256 bits.
    pub const STREEBOG256: Oid = Oid::new_unwrap("1.2.643.7.1.1.2.2");
    /// GOST R 34.11-2012 (Streebog), 512 bits.
    pub const STREEBOG512: Oid = Oid::new_unwrap("1.2.643.7.1.1.2.3");

    /// rsaEncryption.
    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    /// ecdsa-with-SHA1.
    pub const ECDSA_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
    /// ecdsa-with-SHA224.
    pub const ECDSA_SHA224: Oid = Oid::new_unwrap("1.2.840.10045.4.3.1");
    /// ecdsa-with-SHA256.
    pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    /// ecdsa-with-SHA384.
    pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    /// ecdsa-with-SHA512.
    pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    /// id-ecdsa-with-sha3-256.
    pub const ECDSA_SHA3_256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.10");
    /// id-ecdsa-with-sha3-384.
    pub const ECDSA_SHA3_384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.11");
    /// id-ecdsa-with-sha3-512.
    pub const ECDSA_SHA3_512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.12");
    /// GOST R 34.10-2012, 256 bits.
    pub const GOST2012_PKEY256: Oid = Oid::new_unwrap("1.2.643.7.1.1.1.1");
    /// GOST R 34.10-2012, 512 bits.
    pub const GOST2012_PKEY512: Oid = Oid::new_unwrap("1.2.643.7.1.1.1.2");
    /// SM2 with SM3 (accepted by kernels 5.10 to 6.5).
    pub const SM2_WITH_SM3: Oid = Oid::new_unwrap("1.2.156.10197.1.501");
    /// ML-DSA-44.
    pub const ML_DSA_44: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.17");
    /// ML-DSA-65.
    pub const ML_DSA_65: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.18");
    /// ML-DSA-87.
    pub const ML_DSA_87: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.19");

    /// contentType attribute.
    pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
    /// messageDigest attribute.
    pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
    /// signingTime attribute.
    pub const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
    /// smimeCapabilities attribute.
    pub const SMIME_CAPABILITIES: Oid = Oid::new_unwrap("1.2.840.113549.1.9.15");
    /// Microsoft SpOpusInfo attribute.
    pub const MS_SP_OPUS_INFO: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.12");
    /// Microsoft StatementType attribute.
    pub const MS_STATEMENT_TYPE: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.11");

    /// commonName.
    pub const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
}

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

impl Pkcs7Message {
    /// Parses a message as `pkcs7_parse_message()` does.
    pub fn parse(blob: &[u8]) -> Result<Pkcs7Message, SignatureError> {
        if blob.len() > MAX_MESSAGE_BYTES {
            return Err(SignatureError::TooLarge { len: blob.len() });
        }
        let mut top = Reader::new(blob);
        // PKCS7ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT SignedData
        // OPTIONAL }. Bytes after it are never looked at (ASN1_OP_COMPLETE).
        let content_info = expect(&mut top, tag::SEQUENCE, "ContentInfo")?;
        let trailing_bytes = top.rest().len();
        let mut r = content_info.reader();
        let content_type = expect(&mut r, tag::OID, "the content type")?;
        if content_type.content != oid::SIGNED_DATA.as_bytes() {
            return Err(SignatureError::NotSignedData {
                oid: oid_text(content_type.content),
            });
        }
        let Some(content) = next_if(&mut r, tag::context(0))? else {
            finish(&r, "ContentInfo")?;
            // No SignedData, so no signer: pkcs7_check_authattrs().
            return Err(SignatureError::NoSigner);
        };
        finish(&r, "ContentInfo")?;
        let mut explicit = content.reader();
        let signed_data = expect(&mut explicit, tag::SEQUENCE, "SignedData")?;
        finish(&explicit, "the [0] content of ContentInfo")?;
        let mut message = parse_signed_data(&signed_data)?;
        message.trailing_bytes = trailing_bytes;
        // pkcs7_check_authattrs(): the signers agree on whether they have signed
        // attributes (there is one: an empty set was refused above).
        let Some(first) = message.signers.first() else {
            return Err(SignatureError::NoSigner);
        };
        let want = first.signed_attributes.is_some();
        if message
            .signers
            .iter()
            .any(|s| s.signed_attributes.is_some() != want)
        {
            return Err(SignatureError::InconsistentAttributes);
        }
        Ok(message)
    }
}

/// SignedData ::= SEQUENCE { version, digestAlgorithms, contentInfo, certificates
/// OPTIONAL, crls OPTIONAL, signerInfos }
fn parse_signed_data(sd: &Tlv<'_>) -> Result<Pkcs7Message, SignatureError> {
    let mut r = sd.reader();
    // pkcs7_note_signeddata_version(): one content byte, 1 or 3.
    let version_tlv = expect(&mut r, tag::INTEGER, "the SignedData version")?;
    let version = match one_byte_integer(&version_tlv) {
        Some(v @ (1 | 3)) => v,
        _ => {
            return Err(SignatureError::UnsupportedVersion {
                what: "SignedData",
                version: version_tlv.content.to_vec(),
            })
        }
    };
    // digestAlgorithms: SET OF or SEQUENCE OF AlgorithmIdentifier. Their OIDs are only
    // noted; the signer's own digestAlgorithm decides.
    let algorithms = expect_set_or_sequence(&mut r, "digestAlgorithms")?;
    not_empty(&algorithms, "the set of digest algorithms")?;
    let mut ar = algorithms.reader();
    while !ar.is_empty() {
        algorithm_identifier(&mut ar, "a digest algorithm")?;
    }
    // contentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT ANY OPTIONAL }.
    let content_info = expect(&mut r, tag::SEQUENCE, "the signed content's ContentInfo")?;
    let mut cr = content_info.reader();
    let content_oid = expect(&mut cr, tag::OID, "the signed content's type")?;
    let attached_content = next_if(&mut cr, tag::context(0))?.is_some();
    finish(&cr, "the signed content's ContentInfo")?;
    // pkcs7_note_content(): data or Authenticode only.
    let content_type = if content_oid.content == oid::DATA.as_bytes() {
        ContentType::Data
    } else if content_oid.content == oid::MS_INDIRECT_DATA.as_bytes() {
        ContentType::MsIndirectData
    } else {
        return Err(SignatureError::UnsupportedContentType {
            oid: oid_text(content_oid.content),
        });
    };
    // certificates: [0] IMPLICIT SET OF or [2] IMPLICIT SEQUENCE OF Certificate.
    let mut certificates = Vec::new();
    if let Some(certs) = next_if_any(&mut r, &[tag::context(0), tag::context(2)])? {
        let mut cr = certs.reader();
        while !cr.is_empty() {
            certificates.push(extract_cert(&mut cr)?);
        }
    }
    // crls: [1] IMPLICIT SET OF or [3] IMPLICIT SEQUENCE OF CertificateList, where the
    // kernel's grammar reads each CertificateList as a SEQUENCE OF Certificate and so
    // parses every entry as a certificate.
    if let Some(crls) = next_if_any(&mut r, &[tag::context(1), tag::context(3)])? {
        let mut lists = crls.reader();
        while !lists.is_empty() {
            let list = expect(&mut lists, tag::SEQUENCE, "a CRL")?;
            let mut entries = list.reader();
            while !entries.is_empty() {
                extract_cert(&mut entries)?;
            }
        }
    }
    let infos = expect_set_or_sequence(&mut r, "signerInfos")?;
    not_empty(&infos, "the set of signers")?;
    finish(&r, "SignedData")?;
    let mut signers = Vec::new();
    let mut ir = infos.reader();
    while !ir.is_empty() {
        let info = expect(&mut ir, tag::SEQUENCE, "a SignerInfo")?;
        signers.push(parse_signer_info(&info, version, content_type)?);
    }
    Ok(Pkcs7Message {
        version,
        content_type,
        attached_content,
        certificates,
        signers,
        trailing_bytes: 0,
    })
}

/// SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, authenticatedAttributes
/// OPTIONAL, digestEncryptionAlgorithm, encryptedDigest, unauthenticatedAttributes
/// OPTIONAL }
fn parse_signer_info(
    info: &Tlv<'_>,
    message_version: u8,
    content_type: ContentType,
) -> Result<SignerInfo, SignatureError> {
    let mut r = info.reader();
    // pkcs7_note_signerinfo_version()
    let version_tlv = expect(&mut r, tag::INTEGER, "the SignerInfo version")?;
    let version = match one_byte_integer(&version_tlv) {
        Some(1) if message_version != 1 => {
            return Err(SignatureError::VersionMismatch {
                signed_data: message_version,
                signer_info: 1,
            })
        }
        Some(3) if message_version == 1 => {
            return Err(SignatureError::VersionMismatch {
                signed_data: message_version,
                signer_info: 3,
            })
        }
        Some(v @ (1 | 3)) => v,
        _ => {
            return Err(SignatureError::UnsupportedVersion {
                what: "SignerInfo",
                version: version_tlv.content.to_vec(),
            })
        }
    };
    // sid: IssuerAndSerialNumber or [0] IMPLICIT SubjectKeyIdentifier (an OCTET STRING,
    // so primitive).
    let signer = if let Some(ias) = next_if(&mut r, tag::SEQUENCE)? {
        let mut ir = ias.reader();
        let issuer = expect(&mut ir, tag::SEQUENCE, "the signer's issuer name")?;
        let issuer_display = walk_name(&issuer)?;
        let serial = expect(&mut ir, tag::INTEGER, "the signer's serial number")?;
        finish(&ir, "IssuerAndSerialNumber")?;
        SignerId::IssuerAndSerial {
            issuer: issuer.content.to_vec(),
            serial: serial.content.to_vec(),
            issuer_display,
        }
    } else if let Some(skid) = next_if(&mut r, tag::context_primitive(0))? {
        SignerId::SubjectKeyId(skid.content.to_vec())
    } else {
        return Err(malformed(
            "the signer is named neither by issuer and serial number nor by key identifier",
        ));
    };
    // pkcs7_sig_note_digest_algo()
    let digest_oid = algorithm_identifier(&mut r, "the signer's digest algorithm")?;
    let digest = Digest::from_oid_bytes(digest_oid).ok_or(SignatureError::UnsupportedDigest {
        oid: oid_text(digest_oid),
    })?;
    // authenticatedAttributes: [0] IMPLICIT SET OF, digested; or [2] EXPLICIT SEQUENCE OF,
    // checked value by value but never digested (the grammar has no action recording it).
    let mut signed_attributes = None;
    if let Some(set) = next_if(&mut r, tag::context(0))? {
        let seen = check_attributes(&set, content_type)?;
        // pkcs7_sig_note_set_of_authattrs()
        let Some(message_digest) = seen.message_digest.filter(|_| seen.content_type) else {
            return Err(SignatureError::AttributesMalformed {
                reason: "the signed attributes lack contentType or messageDigest",
            });
        };
        let mut digested = Vec::with_capacity(set.header.len() + set.content.len());
        digested.push(tag::SET);
        digested.extend_from_slice(&set.header[1..]);
        digested.extend_from_slice(set.content);
        signed_attributes = Some(SignedAttributes {
            digested,
            message_digest,
        });
    } else if let Some(explicit) = next_if(&mut r, tag::context(2))? {
        let mut er = explicit.reader();
        let sequence = expect(&mut er, tag::SEQUENCE, "the signed attributes")?;
        finish(&er, "the [2] signed attributes")?;
        check_attributes(&sequence, content_type)?;
    }
    // pkcs7_sig_note_pkey_algo()
    let algorithm_oid = algorithm_identifier(&mut r, "the signer's signature algorithm")?;
    let algorithm = SignatureAlgorithm::from_oid_bytes(algorithm_oid).ok_or(
        SignatureError::UnsupportedKeyAlgorithm {
            oid: oid_text(algorithm_oid),
        },
    )?;
    // pkcs7_sig_note_signature()
    let signature = expect(&mut r, tag::OCTET_STRING, "the signature value")?;
    // unauthenticatedAttributes: [1] IMPLICIT SET OF or [3] IMPLICIT SEQUENCE OF
    // SEQUENCE { type, SET OF ANY }.
    if let Some(unsigned) = next_if_any(&mut r, &[tag::context(1), tag::context(3)])? {
        let mut ur = unsigned.reader();
        while !ur.is_empty() {
            let attribute = expect(&mut ur, tag::SEQUENCE, "an unsigned attribute")?;
            let mut ar = attribute.reader();
            expect(&mut ar, tag::OID, "an unsigned attribute's type")?;
            let values = expect(&mut ar, tag::SET, "an unsigned attribute's values")?;
            finish(&ar, "an unsigned attribute")?;
            let mut vr = values.reader();
            while !vr.is_empty() {
                vr.next_tlv().map_err(ber_error)?;
            }
        }
    }
    finish(&r, "SignerInfo")?;
    // pkcs7_note_signed_info()
    if content_type == ContentType::MsIndirectData && signed_attributes.is_none() {
        return Err(SignatureError::AttributesMalformed {
            reason: "Authenticode requires signed attributes",
        });
    }
    Ok(SignerInfo {
        version,
        signer,
        digest,
        algorithm,
        signature: signature.content.to_vec(),
        signed_attributes,
    })
}

/// What a signer's attributes held that matters afterwards.
#[derive(Default)]
struct SeenAttributes {
    content_type: bool,
    message_digest: Option<Vec<u8>>,
    signing_time: bool,
    smime_capabilities: bool,
    opus_info: bool,
    statement_type: bool,
}

/// Walks SET OF / SEQUENCE OF AuthenticatedAttribute with the checks of
/// `pkcs7_sig_note_authenticated_attr()`, which runs once per value.
fn check_attributes(
    attributes: &Tlv<'_>,
    content_type: ContentType,
) -> Result<SeenAttributes, SignatureError> {
    let mut seen = SeenAttributes::default();
    let authenticode = content_type == ContentType::MsIndirectData;
    let repeated = || SignatureError::AttributesRejected {
        reason: "a signed attribute is repeated or has several values",
    };
    let mut r = attributes.reader();
    while !r.is_empty() {
        let attribute = expect(&mut r, tag::SEQUENCE, "a signed attribute")?;
        let mut ar = attribute.reader();
        let kind = expect(&mut ar, tag::OID, "a signed attribute's type")?;
        let values = expect(&mut ar, tag::SET, "a signed attribute's values")?;
        finish(&ar, "a signed attribute")?;
        let is = |o: ObjectIdentifier| kind.content == o.as_bytes();
        let mut vr = values.reader();
        while !vr.is_empty() {
            let value = vr.next_tlv().map_err(ber_error)?;
            if is(oid::CONTENT_TYPE) {
                if std::mem::replace(&mut seen.content_type, true) {
                    return Err(repeated());
                }
                let wanted = match content_type {
                    ContentType::Data => oid::DATA,
                    ContentType::MsIndirectData => oid::MS_INDIRECT_DATA,
                };
                if value.content != wanted.as_bytes() {
                    return Err(SignatureError::AttributesMalformed {
                        reason: "the contentType attribute differs from the message's content type",
                    });
                }
            } else if is(oid::SIGNING_TIME) {
                if std::mem::replace(&mut seen.signing_time, true) {
                    return Err(repeated());
                }
                check_time(&value)?;
            } else if is(oid::MESSAGE_DIGEST) {
                if seen.message_digest.is_some() {
                    return Err(repeated());
                }
                if value.tag != tag::OCTET_STRING {
                    return Err(SignatureError::AttributesMalformed {
                        reason: "the messageDigest attribute is not an OCTET STRING",
                    });
                }
                seen.message_digest = Some(value.content.to_vec());
            } else if is(oid::SMIME_CAPABILITIES) {
                if std::mem::replace(&mut seen.smime_capabilities, true) {
                    return Err(repeated());
                }
                if !authenticode {
                    return Err(SignatureError::AttributesRejected {
                        reason: "S/MIME capabilities are allowed only in Authenticode signatures",
                    });
                }
            } else if is(oid::MS_SP_OPUS_INFO) || is(oid::MS_STATEMENT_TYPE) {
                let flag = if is(oid::MS_SP_OPUS_INFO) {
                    &mut seen.opus_info
                } else {
                    &mut seen.statement_type
                };
                if std::mem::replace(flag, true) {
                    return Err(repeated());
                }
                if !authenticode {
                    return Err(SignatureError::AttributesRejected {
                        reason:
                            "Authenticode attributes are allowed only in Authenticode signatures",
                    });
                }
            }
        }
    }
    Ok(seen)
}

/// The shape `x509_decode_time()` requires of a signing time: UTCTime of 13 characters or
/// GeneralizedTime of 15, digits then "Z".
fn check_time(value: &Tlv<'_>) -> Result<(), SignatureError> {
    let digits = match value.tag {
        tag::UTC_TIME => 12,
        tag::GENERALIZED_TIME => 14,
        _ => 0,
    };
    let ok = digits > 0
        && value.content.len() == digits + 1
        && value.content[..digits].iter().all(u8::is_ascii_digit)
        && value.content[digits] == b'Z';
    if ok {
        Ok(())
    } else {
        Err(SignatureError::AttributesMalformed {
            reason: "the signingTime attribute is not a time the kernel reads",
        })
    }
}

/// Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }. Returns what kmod prints
/// as the signer: the first common name, or, where there is none, the value of the last
/// attribute (its `x509_name_to_str()` leaves the loop on the last entry), or nothing for
/// an empty name.
fn walk_name(name: &Tlv<'_>) -> Result<Option<String>, SignatureError> {
    let mut common_name = None;
    let mut last = None;
    let mut r = name.reader();
    while !r.is_empty() {
        let rdn = expect(&mut r, tag::SET, "a part of the issuer name")?;
        let mut rr = rdn.reader();
        while !rr.is_empty() {
            let ava = expect(&mut rr, tag::SEQUENCE, "an attribute of the issuer name")?;
            let mut ar = ava.reader();
            let kind = expect(&mut ar, tag::OID, "an attribute type of the issuer name")?;
            let value = ar.next_tlv().map_err(ber_error)?;
            finish(&ar, "an attribute of the issuer name")?;
            let text = printable(value.content);
            if common_name.is_none() && kind.content == oid::COMMON_NAME.as_bytes() {
                common_name = Some(text.clone());
            }
            last = Some(text);
        }
    }
    Ok(common_name.or(last))
}

/// A string value as a C program prints its bytes with `%s`: up to the first NUL.
fn printable(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }; returns
/// the OID's content bytes.
fn algorithm_identifier<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<&'a [u8], SignatureError> {
    let seq = expect(r, tag::SEQUENCE, what)?;
    let mut sr = seq.reader();
    let algorithm = expect(&mut sr, tag::OID, what)?;
    if !sr.is_empty() {
        sr.next_tlv().map_err(ber_error)?;
    }
    finish(&sr, what)?;
    Ok(algorithm.content)
}

/// `pkcs7_extract_cert()`: a universal SEQUENCE, parsed as an X.509 certificate.
fn extract_cert(r: &mut Reader<'_>) -> Result<Cert, SignatureError> {
    let element = r.next_tlv().map_err(ber_error)?;
    if element.tag != tag::SEQUENCE {
        return Err(malformed("a certificate in the message is not a SEQUENCE"));
    }
    Cert::from_der(element.whole).map_err(|e| SignatureError::Malformed {
        reason: format!("a certificate in the message cannot be parsed: {e}"),
    })
}

fn expect<'a>(
    r: &mut Reader<'a>,
    expected: u8,
    what: &'static str,
) -> Result<Tlv<'a>, SignatureError> {
    match r.peek_tag() {
        None => Err(SignatureError::Malformed {
            reason: format!("{what} is missing"),
        }),
        Some(t) if !tag_matches(t, expected) => Err(SignatureError::Malformed {
            reason: format!("{what} has tag {t:#04x} where {expected:#04x} belongs"),
        }),
        Some(_) => r.next_tlv().map_err(ber_error),
    }
}

fn expect_set_or_sequence<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<Tlv<'a>, SignatureError> {
    match r.peek_tag() {
        Some(t) if tag_matches(t, tag::SET) || tag_matches(t, tag::SEQUENCE) => {
            r.next_tlv().map_err(ber_error)
        }
        _ => expect(r, tag::SET, what),
    }
}

fn next_if<'a>(r: &mut Reader<'a>, expected: u8) -> Result<Option<Tlv<'a>>, SignatureError> {
    r.next_if(expected).map_err(ber_error)
}

fn next_if_any<'a>(r: &mut Reader<'a>, choices: &[u8]) -> Result<Option<Tlv<'a>>, SignatureError> {
    for &c in choices {
        if let Some(t) = next_if(r, c)? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// The kernel's decoder refuses digestAlgorithms and signerInfos (each a CHOICE of SET OF
/// and SEQUENCE OF) when they are empty, though it takes an empty certificate set: seen
/// on Debian 12's 6.1 kernel by tests/vm_signatures.rs.
fn not_empty(tlv: &Tlv<'_>, what: &'static str) -> Result<(), SignatureError> {
    if tlv.content.is_empty() {
        Err(SignatureError::Malformed {
            reason: format!("{what} is empty"),
        })
    } else {
        Ok(())
    }
}

/// A constructed element must be read to its end (the decoder's "Cons length error").
fn finish(r: &Reader<'_>, what: &'static str) -> Result<(), SignatureError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(SignatureError::Malformed {
            reason: format!("{what} has {} unexpected bytes at its end", r.rest().len()),
        })
    }
}

fn ber_error(e: ber::BerError) -> SignatureError {
    SignatureError::Malformed {
        reason: e.to_string(),
    }
}

fn malformed(reason: &str) -> SignatureError {
    SignatureError::Malformed {
        reason: reason.to_string(),
    }
}

/// An OID's content bytes as dotted text, or as hexadecimal when they are not an OID.
fn oid_text(bytes: &[u8]) -> String {
    ObjectIdentifier::from_bytes(bytes)
        .map(|o| o.to_string())
        .unwrap_or_else(|_| format!("(undecodable OID {})", colon_hex(bytes)))
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

#[cfg(test)]
mod tests;
