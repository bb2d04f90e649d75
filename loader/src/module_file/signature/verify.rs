//! Deciding a parsed module signature against the certificates the kernel would trust, as
//! `verify_pkcs7_signature()` (certs/system_keyring.c) does after parsing:
//!
//! 1. the signature must not carry its own content (`pkcs7_supply_detached_data()`);
//! 2. `pkcs7_verify()` with `VERIFYING_MODULE_SIGNATURE`: the content type must be data and
//!    there must be no signed attributes (both EKEYREJECTED); each signer's digest is
//!    computed, and a signer whose certificate the message carries is verified with it;
//! 3. `pkcs7_validate_trust()`: each signer is looked up among the trusted keys by the
//!    identifier it names (serial number and issuer, or subject key identifier, compared as
//!    bytes with both identifiers of every key); a match whose key does not verify the
//!    signature is EKEYREJECTED, no match at all is ENOKEY.
//!
//! The cryptography is RustCrypto's: RSA PKCS#1 v1.5 (`rsa`) and ECDSA on P-256 and P-384
//! (`p256`, `p384`) over SHA-1, SHA-2 and SHA-3 digests (`sha1`, `sha2`, `sha3`), which is
//! what kernels accept for module signatures (`software_key_determine_akcipher()` in
//! crypto/asymmetric_keys/public_key.c). What the loader cannot compute (SM3, Streebog,
//! MD4/MD5, other curves, GOST, SM2, ML-DSA) is reported as such, never as trusted.

use nix::errno::Errno;
use rsa::pkcs1v15::Pkcs1v15Sign;
use sha2::Digest as _;

use super::{
    AppendedSignature, ContentType, Digest, SignatureAlgorithm, SignatureError, SignerInfo,
};
use crate::certificate::{Cert, PublicKey, KERNEL_RSA_BITS};

/// The outcome of checking a module's signature against trusted certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// A trusted certificate names a signer and the signature verifies with its key: the
    /// kernel accepts the module.
    Trusted {
        /// Which signer (index into the message's signers).
        signer: usize,
        /// Which certificate (index into the trusted certificates given).
        cert: usize,
    },
    /// No trusted certificate names any signer (the kernel's ENOKEY: refused where
    /// signatures are enforced, loaded tainted elsewhere).
    UnknownSigner,
    /// A certificate names the signer but the signature does not verify with its key (the
    /// kernel's EKEYREJECTED: refused whatever the settings).
    BadSignature {
        /// Which signer.
        signer: usize,
        /// The trusted certificate, or `None` for a certificate carried in the message.
        cert: Option<usize>,
        /// Why it does not verify.
        reason: String,
    },
    /// The message breaks a rule the kernel applies before any key is consulted.
    Refused(SignatureError),
    /// The signature needs crypto the loader does not implement, so it cannot say; the
    /// kernel may accept, reject, or lack the crypto itself (ENOPKG).
    CannotCheck {
        /// What the loader lacks.
        reason: String,
    },
}

impl Trust {
    /// The error number the kernel's signature check would end with, `None` when it
    /// succeeds or cannot be predicted.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Trust::Trusted { .. } | Trust::CannotCheck { .. } => None,
            Trust::UnknownSigner => Some(Errno::ENOKEY),
            Trust::BadSignature { .. } => Some(Errno::EKEYREJECTED),
            Trust::Refused(e) => Some(e.errno()),
        }
    }
}

/// Why one signer's signature does not check out with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature is wrong for this key and data (the kernel's EKEYREJECTED).
    Mismatch(String),
    /// The messageDigest attribute has the wrong size (the kernel's EBADMSG).
    BadDigestSize {
        /// The attribute's length.
        found: usize,
        /// The digest's length.
        expected: usize,
    },
    /// The loader cannot compute this.
    Unsupported(String),
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::Mismatch(why) | VerifyError::Unsupported(why) => f.write_str(why),
            VerifyError::BadDigestSize { found, expected } => write!(
                f,
                "the messageDigest attribute is {found} bytes where the digest is {expected}"
            ),
        }
    }
}

impl AppendedSignature {
    /// Decides the signature of `image` (the module image it was parsed from) against the
    /// certificates the kernel would trust.
    pub fn check(&self, image: &[u8], trusted: &[Cert]) -> Trust {
        let message = &self.message;
        let data = self.signed_data(image);
        // verify_pkcs7_signature(): the module is supplied as detached data.
        if message.attached_content {
            return Trust::Refused(SignatureError::AttachedContent);
        }
        // pkcs7_verify(), VERIFYING_MODULE_SIGNATURE.
        if message.content_type != ContentType::Data {
            return Trust::Refused(SignatureError::NotData);
        }
        if message
            .signers
            .iter()
            .any(|s| s.signed_attributes.is_some())
        {
            return Trust::Refused(SignatureError::SignedAttributes);
        }
        // pkcs7_verify_one(): a signer whose certificate the message carries must verify
        // with that certificate, whatever the trusted keys.
        for (i, signer) in message.signers.iter().enumerate() {
            let id = signer.kernel_key_id();
            if let Some(carried) = message.certificates.iter().find(|c| c.kernel_id() == id) {
                match signer.verify(data, carried) {
                    Ok(()) => {}
                    Err(VerifyError::Unsupported(reason)) => return Trust::CannotCheck { reason },
                    Err(e) => {
                        return Trust::BadSignature {
                            signer: i,
                            cert: None,
                            reason: format!("the certificate the signature carries: {e}"),
                        }
                    }
                }
            }
        }
        // pkcs7_validate_trust(): the first refusal ends it; else any trusted signer wins.
        let mut outcome = Trust::UnknownSigner;
        for (i, signer) in message.signers.iter().enumerate() {
            match self.trust_one(i, signer, data, trusted) {
                Trust::UnknownSigner => {}
                t @ (Trust::BadSignature { .. } | Trust::Refused(_)) => return t,
                t @ Trust::Trusted { .. } => outcome = t,
                t @ Trust::CannotCheck { .. } => {
                    if outcome == Trust::UnknownSigner {
                        outcome = t;
                    }
                }
            }
        }
        outcome
    }

    /// `pkcs7_validate_trust_one()` for one signer.
    fn trust_one(&self, index: usize, signer: &SignerInfo, data: &[u8], trusted: &[Cert]) -> Trust {
        let id = signer.kernel_key_id();
        // A certificate carried in the message and known to the keyring counts as the
        // signer's key; an unknown self-issued one ends the search; one issued by a
        // trusted certificate would need the chain checked, which the loader does not do.
        if let Some(carried) = self
            .message
            .certificates
            .iter()
            .find(|c| c.kernel_id() == id)
        {
            if let Some((j, key)) = trusted.iter().enumerate().find(|(_, k)| {
                k.has_kernel_id(&carried.kernel_id())
                    || carried.skid().is_some_and(|s| k.has_kernel_id(s))
            }) {
                return verified(index, j, signer.verify(data, key));
            }
            if carried.is_self_issued() {
                return Trust::UnknownSigner;
            }
            if trusted.iter().any(|k| k.subject() == carried.issuer()) {
                return Trust::CannotCheck {
                    reason: "the signature carries a certificate issued by a trusted certificate; the loader does not check certificate chains".into(),
                };
            }
        }
        // The last resort, and the only path for sign-file's signatures (which carry no
        // certificate): a trusted key with the identifier the signer names.
        match trusted.iter().position(|k| k.has_kernel_id(&id)) {
            Some(j) => verified(index, j, signer.verify(data, &trusted[j])),
            None => Trust::UnknownSigner,
        }
    }
}

fn verified(signer: usize, cert: usize, result: Result<(), VerifyError>) -> Trust {
    match result {
        Ok(()) => Trust::Trusted { signer, cert },
        Err(VerifyError::Unsupported(reason)) => Trust::CannotCheck { reason },
        // Any failure with a matched key is EKEYREJECTED (pkcs7_validate_trust_one()).
        Err(e) => Trust::BadSignature {
            signer,
            cert: Some(cert),
            reason: e.to_string(),
        },
    }
}

impl SignerInfo {
    /// Checks this signer's signature over `data` with `cert`'s key, with or without
    /// signed attributes (`pkcs7_digest()`, then `public_key_verify_signature()`).
    pub fn verify(&self, data: &[u8], cert: &Cert) -> Result<(), VerifyError> {
        let digest = hash(self.digest, data)?;
        let signed_digest = match &self.signed_attributes {
            None => digest,
            Some(attributes) => {
                if attributes.message_digest.len() != digest.len() {
                    return Err(VerifyError::BadDigestSize {
                        found: attributes.message_digest.len(),
                        expected: digest.len(),
                    });
                }
                if attributes.message_digest != digest {
                    return Err(VerifyError::Mismatch(
                        "the messageDigest attribute is not the digest of the module".into(),
                    ));
                }
                hash(self.digest, &attributes.digested)?
            }
        };
        verify_digest(
            self.algorithm,
            self.digest,
            &signed_digest,
            &self.signature,
            cert.key(),
        )
    }
}

/// The digest of `data`, for the algorithms the loader computes.
fn hash(digest: Digest, data: &[u8]) -> Result<Vec<u8>, VerifyError> {
    Ok(match digest {
        Digest::Sha1 => sha1::Sha1::digest(data).to_vec(),
        Digest::Sha224 => sha2::Sha224::digest(data).to_vec(),
        Digest::Sha256 => sha2::Sha256::digest(data).to_vec(),
        Digest::Sha384 => sha2::Sha384::digest(data).to_vec(),
        Digest::Sha512 => sha2::Sha512::digest(data).to_vec(),
        Digest::Sha3_256 => sha3::Sha3_256::digest(data).to_vec(),
        Digest::Sha3_384 => sha3::Sha3_384::digest(data).to_vec(),
        Digest::Sha3_512 => sha3::Sha3_512::digest(data).to_vec(),
        d @ (Digest::Md4
        | Digest::Md5
        | Digest::Sm3
        | Digest::Streebog256
        | Digest::Streebog512) => {
            return Err(VerifyError::Unsupported(format!(
                "the signature uses the {} digest, which the loader does not compute",
                d.kernel_name()
            )))
        }
    })
}

/// `public_key_verify_signature()`: the signature's algorithm must be the key's (else
/// EKEYREJECTED), then the key checks the digest.
fn verify_digest(
    algorithm: SignatureAlgorithm,
    digest: Digest,
    hashed: &[u8],
    signature: &[u8],
    key: &PublicKey,
) -> Result<(), VerifyError> {
    let mismatch = |why: String| Err(VerifyError::Mismatch(why));
    if algorithm.kernel_name() != key.family() {
        return mismatch(format!(
            "the signature is {} but the certificate's key is {}",
            algorithm.kernel_name(),
            key.family()
        ));
    }
    match key {
        PublicKey::Rsa { key, kernel_bits } => {
            // rsa_check_key_length() refuses other sizes when the key is set up.
            if !KERNEL_RSA_BITS.contains(kernel_bits) {
                return mismatch(format!(
                    "the kernel's RSA accepts 512 to 4096-bit keys of set sizes, not {kernel_bits} bits"
                ));
            }
            let Some(key) = key else {
                return Err(VerifyError::Unsupported(
                    "the certificate's RSA key has parameters the loader's RSA does not take"
                        .into(),
                ));
            };
            let scheme = match digest {
                Digest::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
                Digest::Sha224 => Pkcs1v15Sign::new::<sha2::Sha224>(),
                Digest::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
                Digest::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
                Digest::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
                Digest::Sha3_256 => Pkcs1v15Sign::new::<sha3::Sha3_256>(),
                Digest::Sha3_384 => Pkcs1v15Sign::new::<sha3::Sha3_384>(),
                Digest::Sha3_512 => Pkcs1v15Sign::new::<sha3::Sha3_512>(),
                d => {
                    return Err(VerifyError::Unsupported(format!(
                        "RSA with the {} digest",
                        d.kernel_name()
                    )))
                }
            };
            key.verify(scheme, hashed, signature).map_err(|_| {
                VerifyError::Mismatch("the RSA signature does not match the module".into())
            })
        }
        PublicKey::EcdsaP256(key) => {
            let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| {
                VerifyError::Mismatch("the ECDSA signature is not an X9.62 signature".into())
            })?;
            ecdsa_prehash(key, &pad_prehash(hashed, 32), &sig)
        }
        PublicKey::EcdsaP384(key) => {
            let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| {
                VerifyError::Mismatch("the ECDSA signature is not an X9.62 signature".into())
            })?;
            ecdsa_prehash(key, &pad_prehash(hashed, 48), &sig)
        }
        PublicKey::EcdsaOther { curve } => Err(VerifyError::Unsupported(format!(
            "ECDSA on curve {}, which the loader does not check",
            curve.as_deref().unwrap_or("(unnamed)")
        ))),
        PublicKey::Other { algorithm } => Err(VerifyError::Unsupported(format!(
            "keys of algorithm {algorithm}, which the loader does not check"
        ))),
    }
}

fn ecdsa_prehash<K, S>(key: &K, prehash: &[u8], signature: &S) -> Result<(), VerifyError>
where
    K: p256::ecdsa::signature::hazmat::PrehashVerifier<S>,
{
    key.verify_prehash(prehash, signature)
        .map_err(|_| VerifyError::Mismatch("the ECDSA signature does not match the module".into()))
}

/// A digest shorter than the curve's order, left-padded to its size: the same integer, in
/// the length the verifier wants (the kernel converts digests of any length to an integer;
/// the `ecdsa` crate refuses digests shorter than half the field).
fn pad_prehash(hashed: &[u8], field_bytes: usize) -> Vec<u8> {
    if hashed.len() >= field_bytes {
        return hashed.to_vec();
    }
    let mut padded = vec![0u8; field_bytes - hashed.len()];
    padded.extend_from_slice(hashed);
    padded
}
