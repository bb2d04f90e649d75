//! X.509 certificates as the kernel's keyrings hold them: the identifiers a module
//! signature names its signer by, and the public key that checks the signature.
//!
//! When the kernel loads a certificate into a keyring (`x509_cert_parse()`,
//! `x509_key_preparse()`), it identifies the key two ways: by the certificate's serial number
//! followed by its issuer name, both as raw encoded bytes (`asymmetric_key_generate_id()`),
//! and by the subject key identifier extension. A module signature names its signer by one of
//! the two. [`Cert`] keeps both, taken from the bytes as they are in the certificate, so that
//! matching is the byte comparison the kernel makes.
//!
//! The certificate itself is decoded with RustCrypto's `x509-cert` (strict DER: every
//! certificate tool writes DER), and the raw identifiers are read from the same bytes with
//! [`crate::ber`].

use std::fmt;

use der::Decode;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use crate::ber::{self, tag, Reader};

/// Object identifiers used for certificates.
pub mod oid {
    use const_oid::ObjectIdentifier;

    /// rsaEncryption.
    pub const RSA_ENCRYPTION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    /// id-ecPublicKey.
    pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    /// NIST P-192 (secp192r1).
    pub const SECP192R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.1");
    /// NIST P-256 (prime256v1).
    pub const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    /// NIST P-384.
    pub const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    /// NIST P-521.
    pub const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
    /// subjectKeyIdentifier.
    pub const SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
    /// commonName.
    pub const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
}

/// The RSA key sizes the kernel's RSA implementation accepts (`rsa_check_key_length()` in
/// crypto/rsa.c). The kernel measures the modulus in whole 64-bit limbs.
pub const KERNEL_RSA_BITS: [usize; 6] = [512, 1024, 1536, 2048, 3072, 4096];

/// The largest certificate the loader reads (a certificate is a few kilobytes; shim's MOK
/// list and the kernel's keyrings hold nothing larger).
pub const MAX_CERT_BYTES: usize = 64 << 10;

/// A parsed X.509 certificate.
#[derive(Clone)]
pub struct Cert {
    der: Vec<u8>,
    serial: Vec<u8>,
    issuer: Vec<u8>,
    subject: Vec<u8>,
    subject_cn: Option<String>,
    skid: Option<Vec<u8>>,
    key: PublicKey,
}

/// The public key of a certificate, as far as the loader can check signatures with it.
#[derive(Clone, Debug)]
pub enum PublicKey {
    /// RSA, with the size the kernel sees.
    Rsa {
        /// The key, when the `rsa` crate accepts it (it refuses exponents above 2^33 and
        /// moduli above 4096 bits, which the kernel would refuse or never meets).
        key: Option<rsa::RsaPublicKey>,
        /// Modulus size rounded up to whole 64-bit limbs, as `rsa_check_key_length()` sees it.
        kernel_bits: usize,
    },
    /// ECDSA on NIST P-256.
    EcdsaP256(p256::ecdsa::VerifyingKey),
    /// ECDSA on NIST P-384.
    EcdsaP384(p384::ecdsa::VerifyingKey),
    /// ECDSA on a curve the loader does not check (P-192, P-521, others), or a point it
    /// could not decode.
    EcdsaOther {
        /// The curve's object identifier, when there is one.
        curve: Option<String>,
    },
    /// Any other algorithm (the kernel also knows GOST R 34.10-2012, SM2 and ML-DSA).
    Other {
        /// The algorithm's object identifier.
        algorithm: String,
    },
}

impl PublicKey {
    /// The kernel's name for the key's algorithm family, as a signature names it
    /// (`pkcs7_sig_note_pkey_algo()`): "rsa", "ecdsa", or the OID.
    pub fn family(&self) -> &str {
        match self {
            PublicKey::Rsa { .. } => "rsa",
            PublicKey::EcdsaP256(_) | PublicKey::EcdsaP384(_) | PublicKey::EcdsaOther { .. } => {
                "ecdsa"
            }
            PublicKey::Other { algorithm } => algorithm,
        }
    }
}

/// Why bytes are not a certificate the loader can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// Not a DER certificate.
    #[error("it is not a DER X.509 certificate: {0}")]
    NotDer(String),
    /// Looked like PEM, but no certificate block could be decoded.
    #[error("it is not a PEM X.509 certificate: {0}")]
    NotPem(String),
    /// Larger than any certificate.
    #[error("it is {0} bytes long, larger than any certificate ({MAX_CERT_BYTES} bytes at most)")]
    TooLarge(usize),
}

impl Cert {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Cert, CertError> {
        if der.len() > MAX_CERT_BYTES {
            return Err(CertError::TooLarge(der.len()));
        }
        let bad = |e: &dyn fmt::Display| CertError::NotDer(e.to_string());
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| bad(&e))?;
        let raw = RawIds::read(der).map_err(|e| bad(&e))?;
        let tbs = &cert.tbs_certificate;
        let mut skid = None;
        for ext in tbs.extensions.iter().flatten() {
            if ext.extn_id == oid::SUBJECT_KEY_ID {
                let id = SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| bad(&e))?;
                skid = Some(id.0.as_bytes().to_vec());
            }
        }
        let subject_cn = tbs
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find(|atv| atv.oid == oid::COMMON_NAME)
            .map(|atv| String::from_utf8_lossy(atv.value.value()).into_owned());
        let key = PublicKey::from_spki(&tbs.subject_public_key_info);
        Ok(Cert {
            der: der.to_vec(),
            serial: raw.serial,
            issuer: raw.issuer,
            subject: raw.subject,
            subject_cn,
            skid,
            key,
        })
    }

    /// Parses a certificate file's contents the way the kernel's `sign-file` reads its
    /// certificate argument (`read_x509()`): DER when the data starts like a DER SEQUENCE
    /// with a long-form length, PEM otherwise (the first CERTIFICATE block; a PEM file may
    /// also hold the private key).
    pub fn from_der_or_pem(data: &[u8]) -> Result<Cert, CertError> {
        if let [0x30, 0x81..=0x84, ..] = data {
            return Cert::from_der(data);
        }
        let der = first_pem_certificate(data)?;
        Cert::from_der(&der)
    }

    /// The certificate as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The serial number's content bytes, as encoded (sign byte included).
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// The issuer name's content bytes, as encoded.
    pub fn issuer(&self) -> &[u8] {
        &self.issuer
    }

    /// The subject name's content bytes, as encoded.
    pub fn subject(&self) -> &[u8] {
        &self.subject
    }

    /// The subject's common name.
    pub fn subject_cn(&self) -> Option<&str> {
        self.subject_cn.as_deref()
    }

    /// The subject key identifier, if the certificate has the extension.
    pub fn skid(&self) -> Option<&[u8]> {
        self.skid.as_deref()
    }

    /// The public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The kernel's first key identifier for this certificate: serial number then issuer
    /// (`x509_cert_parse()` via `asymmetric_key_generate_id()`).
    pub fn kernel_id(&self) -> Vec<u8> {
        [self.serial.as_slice(), self.issuer.as_slice()].concat()
    }

    /// Whether the kernel would find this certificate's key under the identifier `id`
    /// (`asymmetric_match_key_ids()` compares against both of the key's identifiers).
    pub fn has_kernel_id(&self, id: &[u8]) -> bool {
        self.kernel_id() == id || self.skid.as_deref() == Some(id)
    }

    /// The hexadecimal identifier that ends the key's description in the kernel's keyrings
    /// (`/proc/keys`): the subject key identifier, or the serial number when there is none
    /// (`x509_key_preparse()`).
    pub fn keyring_id_hex(&self) -> String {
        plain_hex(self.skid.as_deref().unwrap_or(&self.serial))
    }

    /// Whether the certificate names itself as its issuer (a root of its own).
    pub fn is_self_issued(&self) -> bool {
        self.issuer == self.subject
    }
}

impl fmt::Debug for Cert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cert")
            .field("subject_cn", &self.subject_cn)
            .field("serial", &colon_hex(&self.serial))
            .field("skid", &self.skid.as_deref().map(colon_hex))
            .field("key", &self.key.family())
            .finish()
    }
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Cert {}

impl PublicKey {
    fn from_spki(spki: &spki::SubjectPublicKeyInfoOwned) -> PublicKey {
        let algorithm = spki.algorithm.oid;
        let bits = spki.subject_public_key.raw_bytes();
        if algorithm == oid::RSA_ENCRYPTION {
            let Ok(parsed) = rsa::pkcs1::RsaPublicKey::from_der(bits) else {
                return PublicKey::Other {
                    algorithm: format!("{algorithm} (undecodable RSA key)"),
                };
            };
            let modulus = parsed.modulus.as_bytes();
            let significant = modulus.iter().skip_while(|&&b| b == 0).count();
            let kernel_bits = significant.div_ceil(8) * 64;
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(modulus),
                rsa::BigUint::from_bytes_be(parsed.public_exponent.as_bytes()),
            )
            .ok();
            return PublicKey::Rsa { key, kernel_bits };
        }
        if algorithm == oid::EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok());
            return match curve {
                Some(c) if c == oid::SECP256R1 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::EcdsaP256)
                    .unwrap_or(PublicKey::EcdsaOther {
                        curve: Some(c.to_string()),
                    }),
                Some(c) if c == oid::SECP384R1 => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::EcdsaP384)
                    .unwrap_or(PublicKey::EcdsaOther {
                        curve: Some(c.to_string()),
                    }),
                c => PublicKey::EcdsaOther {
                    curve: c.map(|c| c.to_string()),
                },
            };
        }
        PublicKey::Other {
            algorithm: algorithm.to_string(),
        }
    }
}

/// Serial number, issuer and subject of a certificate, as encoded.
struct RawIds {
    serial: Vec<u8>,
    issuer: Vec<u8>,
    subject: Vec<u8>,
}

impl RawIds {
    /// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
    /// serialNumber INTEGER, signature AlgorithmIdentifier, issuer Name, validity,
    /// subject Name, ... }, ... }
    fn read(der: &[u8]) -> Result<RawIds, ber::BerError> {
        let cert = Reader::new(der).next_tlv()?;
        let tbs = cert.reader().next_tlv()?;
        let mut r = tbs.reader();
        r.next_if(tag::context(0))?;
        let serial = r.next_tlv()?;
        let _signature = r.next_tlv()?;
        let issuer = r.next_tlv()?;
        let _validity = r.next_tlv()?;
        let subject = r.next_tlv()?;
        if serial.tag != tag::INTEGER {
            return Err(ber::BerError("the serial number is not an INTEGER"));
        }
        Ok(RawIds {
            serial: serial.content.to_vec(),
            issuer: issuer.content.to_vec(),
            subject: subject.content.to_vec(),
        })
    }
}

/// The first CERTIFICATE block of PEM text (other blocks, such as a private key, are
/// skipped, as OpenSSL's `PEM_read_bio_X509()` does).
fn first_pem_certificate(data: &[u8]) -> Result<Vec<u8>, CertError> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let mut rest = data;
    let mut last_error = String::from("no BEGIN CERTIFICATE line");
    while let Some(at) = find(rest, BEGIN) {
        let block = &rest[at..];
        let label_end = find(&block[BEGIN.len()..], b"-----").map(|e| e + BEGIN.len());
        let Some(label_end) = label_end else { break };
        let label = &block[BEGIN.len()..label_end];
        let end_marker = [b"-----END ", label, b"-----"].concat();
        let Some(end) = find(block, &end_marker) else {
            last_error = format!("no END line for {}", String::from_utf8_lossy(label));
            break;
        };
        let whole = &block[..end + end_marker.len()];
        if label == b"CERTIFICATE" || label == b"X509 CERTIFICATE" {
            match der::pem::decode_vec(whole) {
                Ok((_, der)) => return Ok(der),
                Err(e) => last_error = e.to_string(),
            }
        }
        rest = &block[end + end_marker.len()..];
    }
    Err(CertError::NotPem(last_error))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Bytes as upper-case hexadecimal pairs joined by colons, as modinfo prints key ids.
pub fn colon_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// Bytes as lower-case hexadecimal, as the kernel writes key ids in key descriptions.
pub fn plain_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        assert_eq!(colon_hex(&[0x22, 0xab, 0x05]), "22:AB:05");
        assert_eq!(colon_hex(&[]), "");
        assert_eq!(plain_hex(&[0x22, 0xab, 0x05]), "22ab05");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        for data in [
            &b""[..],
            b"\x30\x82\x01",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            b"hello",
        ] {
            assert!(Cert::from_der_or_pem(data).is_err(), "{data:?}");
        }
        assert_eq!(
            Cert::from_der(&vec![0x30; MAX_CERT_BYTES + 1]),
            Err(CertError::TooLarge(MAX_CERT_BYTES + 1))
        );
    }
}
