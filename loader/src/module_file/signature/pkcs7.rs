//! The grammar walk of `pkcs7_parse_message()`: the message element by element in the
//! order of the kernel's pkcs7.asn1, with the checks its actions make.

use const_oid::ObjectIdentifier;

use super::{
    oid, ContentType, Digest, Pkcs7Message, SignatureAlgorithm, SignatureError, SignedAttributes,
    SignerId, SignerInfo, MAX_MESSAGE_BYTES,
};
use crate::ber::{self, one_byte_integer, tag, tag_matches, Reader, Tlv};
use crate::certificate::{colon_hex, Cert};

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
