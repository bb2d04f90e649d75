//! Parsing of synthetic messages built field by field, each case against the kernel
//! function that decides it. Real modules, real keys and the real sign-file and modinfo are
//! in tests/signatures.rs.

use nix::errno::Errno;

use super::verify::Trust;
use super::*;
use crate::ber::tag;

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n @ 0..=0x7f => out.push(n as u8),
        n @ 0x80..=0xff => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

fn cons(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    cons(tag::SEQUENCE, parts)
}

fn oid(o: ObjectIdentifier) -> Vec<u8> {
    tlv(tag::OID, o.as_bytes())
}

fn int(v: &[u8]) -> Vec<u8> {
    tlv(tag::INTEGER, v)
}

fn algorithm(o: ObjectIdentifier) -> Vec<u8> {
    seq(&[oid(o), vec![0x05, 0x00]])
}

fn name(cn: &str) -> Vec<u8> {
    seq(&[cons(
        tag::SET,
        &[seq(&[oid(oid::COMMON_NAME), tlv(0x0c, cn.as_bytes())])],
    )])
}

const SERIAL: [u8; 3] = [0x22, 0xab, 0x43];

/// One SignerInfo, by default as sign-file writes it: version 1, issuer and serial,
/// SHA-256, rsaEncryption, no attributes.
#[derive(Clone)]
struct Signer {
    version: Vec<u8>,
    sid: Vec<u8>,
    digest: Vec<u8>,
    attributes: Option<Vec<u8>>,
    algorithm: Vec<u8>,
    signature: Vec<u8>,
    extra: Vec<Vec<u8>>,
}

impl Default for Signer {
    fn default() -> Self {
        Signer {
            version: int(&[1]),
            sid: seq(&[name("DKMS module signing key"), int(&SERIAL)]),
            digest: algorithm(oid::SHA256),
            attributes: None,
            algorithm: algorithm(oid::RSA_ENCRYPTION),
            signature: tlv(tag::OCTET_STRING, &[0x1d; 256]),
            extra: Vec::new(),
        }
    }
}

impl Signer {
    fn der(&self) -> Vec<u8> {
        let mut parts = vec![self.version.clone(), self.sid.clone(), self.digest.clone()];
        parts.extend(self.attributes.clone());
        parts.extend([self.algorithm.clone(), self.signature.clone()]);
        parts.extend(self.extra.clone());
        seq(&parts)
    }
}

/// A whole message, by default as sign-file writes it.
#[derive(Clone)]
struct Msg {
    outer_type: ObjectIdentifier,
    omit_signed_data: bool,
    version: Vec<u8>,
    digest_algorithms: Vec<u8>,
    content_type: ObjectIdentifier,
    content: Option<Vec<u8>>,
    certificates: Option<Vec<u8>>,
    signer_infos_tag: u8,
    signers: Vec<Signer>,
}

impl Default for Msg {
    fn default() -> Self {
        Msg {
            outer_type: oid::SIGNED_DATA,
            omit_signed_data: false,
            version: int(&[1]),
            digest_algorithms: cons(tag::SET, &[algorithm(oid::SHA256)]),
            content_type: oid::DATA,
            content: None,
            certificates: None,
            signer_infos_tag: tag::SET,
            signers: vec![Signer::default()],
        }
    }
}

impl Msg {
    fn der(&self) -> Vec<u8> {
        let mut content_info = vec![oid(self.content_type)];
        content_info.extend(self.content.clone().map(|c| cons(tag::context(0), &[c])));
        let mut sd = vec![
            self.version.clone(),
            self.digest_algorithms.clone(),
            seq(&content_info),
        ];
        sd.extend(self.certificates.clone());
        let signers: Vec<Vec<u8>> = self.signers.iter().map(Signer::der).collect();
        sd.push(cons(self.signer_infos_tag, &signers));
        let mut outer = vec![oid(self.outer_type)];
        if !self.omit_signed_data {
            outer.push(cons(tag::context(0), &[seq(&sd)]));
        }
        seq(&outer)
    }
}

const MODULE: &[u8] = b"\x7fELF pretend module contents";

fn info_block(id_type: u8, sig_len: usize) -> [u8; MODULE_SIGNATURE_LEN] {
    let mut b = [0u8; MODULE_SIGNATURE_LEN];
    b[2] = id_type;
    b[8..].copy_from_slice(&(sig_len as u32).to_be_bytes());
    b
}

fn image_with(module: &[u8], blob: &[u8], info: [u8; MODULE_SIGNATURE_LEN]) -> Vec<u8> {
    [module, blob, &info, SIGNATURE_MAGIC].concat()
}

fn image(blob: &[u8]) -> Vec<u8> {
    image_with(MODULE, blob, info_block(PKEY_ID_PKCS7, blob.len()))
}

fn parse(blob: &[u8]) -> Result<AppendedSignature, SignatureError> {
    AppendedSignature::parse(&image(blob)).map(|s| s.expect("signed"))
}

fn errno_of(r: Result<AppendedSignature, SignatureError>) -> Errno {
    r.expect_err("the kernel refuses this").errno()
}

#[test]
fn a_sign_file_message_reads_as_modinfo_shows_it() {
    let msg = Msg::default();
    let img = image(&msg.der());
    let sig = AppendedSignature::parse(&img).unwrap().unwrap();
    assert_eq!(sig.signed_len, MODULE.len());
    assert_eq!(sig.signed_data(&img), MODULE);
    assert_eq!(sig.info.sig_len as usize, msg.der().len());
    let m = &sig.message;
    assert_eq!(
        (m.version, m.content_type, m.attached_content),
        (1, ContentType::Data, false)
    );
    assert!(m.certificates.is_empty());
    assert_eq!(m.trailing_bytes, 0);
    let s = &m.signers[0];
    assert_eq!(
        (s.version, s.digest, s.algorithm),
        (1, Digest::Sha256, SignatureAlgorithm::Rsa)
    );
    assert_eq!(s.signature, vec![0x1d; 256]);
    // The kernel's key id: serial number then issuer name, both content bytes only.
    let issuer = name("DKMS module signing key");
    assert_eq!(s.kernel_key_id(), [&SERIAL[..], &issuer[2..]].concat());
    assert_eq!(
        sig.modinfo(),
        Some(ModinfoSignature {
            sig_id: "PKCS#7",
            signer: Some("DKMS module signing key".into()),
            sig_key: "22:AB:43".into(),
            sig_hashalgo: "sha256".into(),
            signature: colon_hex(&[0x1d; 256]),
        })
    );
    assert_eq!(s.describe(), "DKMS module signing key (serial 22:AB:43)");
}

#[test]
fn unsigned_images_are_not_signature_errors() {
    assert!(AppendedSignature::parse(MODULE).unwrap().is_none());
    assert!(AppendedSignature::parse(b"").unwrap().is_none());
    // module_sig_check() wants the image longer than the marker.
    assert!(AppendedSignature::parse(SIGNATURE_MAGIC).unwrap().is_none());
}

#[test]
fn the_information_block_is_checked_in_the_kernels_order() {
    let blob = Msg::default().der();
    // mod_verify_sig(): no more than the block itself before the marker.
    for before in [1usize, 12] {
        let img = [&vec![0u8; before][..], SIGNATURE_MAGIC].concat();
        assert_eq!(
            AppendedSignature::parse(&img).unwrap_err(),
            SignatureError::Truncated { len: before }
        );
    }
    // mod_check_sig(): the signature may not take the whole file...
    let whole = image_with(b"", &blob, info_block(PKEY_ID_PKCS7, blob.len()));
    assert_eq!(
        AppendedSignature::parse(&whole).unwrap_err(),
        SignatureError::LengthOverrun {
            sig_len: blob.len() as u32,
            available: blob.len()
        }
    );
    // ...but one byte of module is enough.
    let one = image_with(b"m", &blob, info_block(PKEY_ID_PKCS7, blob.len()));
    assert_eq!(
        AppendedSignature::parse(&one).unwrap().unwrap().signed_len,
        1
    );
    let huge = image_with(MODULE, &blob, info_block(PKEY_ID_PKCS7, u32::MAX as usize));
    assert!(matches!(
        AppendedSignature::parse(&huge),
        Err(SignatureError::LengthOverrun {
            sig_len: u32::MAX,
            ..
        })
    ));
    // The length is checked before the type: a PGP signature that overruns is EBADMSG.
    let pgp_overrun = image_with(b"", &blob, info_block(PKEY_ID_PGP, blob.len()));
    assert_eq!(
        errno_of(AppendedSignature::parse(&pgp_overrun).map(Option::unwrap)),
        Errno::EBADMSG
    );
    for id_type in [PKEY_ID_PGP, PKEY_ID_X509, 3, 0xff] {
        let img = image_with(MODULE, &blob, info_block(id_type, blob.len()));
        let e = AppendedSignature::parse(&img).unwrap_err();
        assert_eq!(e, SignatureError::NotPkcs7 { id_type });
        assert_eq!(e.errno(), Errno::ENOPKG);
        assert!(!e.always_refused());
    }
    for byte in [0usize, 1, 3, 4, 5, 6, 7] {
        let mut info = info_block(PKEY_ID_PKCS7, blob.len());
        info[byte] = 1;
        let e = AppendedSignature::parse(&image_with(MODULE, &blob, info)).unwrap_err();
        assert!(
            matches!(e, SignatureError::NonZeroParams { .. }),
            "byte {byte}: {e}"
        );
        assert_eq!(e.errno(), Errno::EBADMSG);
        assert!(e.always_refused());
    }
}

#[test]
fn empty_garbage_and_oversized_messages() {
    assert_eq!(errno_of(parse(b"")), Errno::EBADMSG);
    assert_eq!(errno_of(parse(b"\xde\xad\xbe\xef garbage")), Errno::EBADMSG);
    assert_eq!(errno_of(parse(&[0x30, 0x00])), Errno::EBADMSG);
    let big = vec![0x30; MAX_MESSAGE_BYTES + 1];
    assert_eq!(
        parse(&big).unwrap_err(),
        SignatureError::TooLarge {
            len: MAX_MESSAGE_BYTES + 1
        }
    );
    assert_eq!(errno_of(parse(&big)), Errno::EMSGSIZE);
}

#[test]
fn every_truncation_of_a_message_is_refused() {
    let blob = Msg::default().der();
    for end in 0..blob.len() {
        let e = parse(&blob[..end]).unwrap_err();
        assert_eq!(e.errno(), Errno::EBADMSG, "cut at {end}: {e}");
    }
}

#[test]
fn message_level_checks_and_their_errnos() {
    let cases: Vec<(Msg, Errno)> = vec![
        // pkcs7_check_content_type()
        (
            Msg {
                outer_type: oid::DATA,
                ..Msg::default()
            },
            Errno::EINVAL,
        ),
        // No SignedData, so no signer: pkcs7_check_authattrs().
        (
            Msg {
                omit_signed_data: true,
                ..Msg::default()
            },
            Errno::EINVAL,
        ),
        // pkcs7_note_signeddata_version(): 1 and 3 only, in one byte.
        (
            Msg {
                version: int(&[2]),
                ..Msg::default()
            },
            Errno::EINVAL,
        ),
        (
            Msg {
                version: int(&[0, 1]),
                ..Msg::default()
            },
            Errno::EINVAL,
        ),
        // pkcs7_note_content(): data and Authenticode only.
        (
            Msg {
                content_type: oid::SIGNED_DATA,
                ..Msg::default()
            },
            Errno::EINVAL,
        ),
        // Empty sets of signers and of digest algorithms: the decoder's EBADMSG (seen on
        // 6.1 by tests/vm_signatures.rs); an empty certificate set is fine.
        (
            Msg {
                signers: vec![],
                ..Msg::default()
            },
            Errno::EBADMSG,
        ),
        (
            Msg {
                digest_algorithms: cons(tag::SET, &[]),
                ..Msg::default()
            },
            Errno::EBADMSG,
        ),
        // A certificate list holding something that is not a certificate.
        (
            Msg {
                certificates: Some(cons(tag::context(0), &[int(&[1])])),
                ..Msg::default()
            },
            Errno::EBADMSG,
        ),
        (
            Msg {
                certificates: Some(cons(tag::context(0), &[seq(&[int(&[1])])])),
                ..Msg::default()
            },
            Errno::EBADMSG,
        ),
        // Authenticode without signed attributes: pkcs7_note_signed_info().
        (
            Msg {
                content_type: oid::MS_INDIRECT_DATA,
                ..Msg::default()
            },
            Errno::EBADMSG,
        ),
    ];
    for (i, (msg, errno)) in cases.into_iter().enumerate() {
        let e = parse(&msg.der()).unwrap_err();
        assert_eq!(e.errno(), errno, "case {i}: {e}");
        assert!(e.always_refused(), "case {i}");
    }
}

#[test]
fn signer_level_checks_and_their_errnos() {
    let with = |f: &dyn Fn(&mut Signer)| {
        let mut s = Signer::default();
        f(&mut s);
        Msg {
            signers: vec![s],
            ..Msg::default()
        }
    };
    let cases: Vec<(Msg, Errno, bool)> = vec![
        // pkcs7_note_signerinfo_version(): a CMS signer in a PKCS#7 message and back.
        (with(&|s| s.version = int(&[3])), Errno::EBADMSG, true),
        (
            Msg {
                version: int(&[3]),
                ..Msg::default()
            },
            Errno::EBADMSG,
            true,
        ),
        (with(&|s| s.version = int(&[2])), Errno::EINVAL, true),
        // pkcs7_sig_note_digest_algo(): unknown digests are unsupported crypto.
        (
            with(&|s| s.digest = algorithm(oid::RSA_ENCRYPTION)),
            Errno::ENOPKG,
            false,
        ),
        // pkcs7_sig_note_pkey_algo(): RSA must be named rsaEncryption.
        (
            with(&|s| {
                s.algorithm = algorithm(ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11"))
            }),
            Errno::ENOPKG,
            false,
        ),
        // A signature that is not an OCTET STRING, an unknown trailing element.
        (with(&|s| s.signature = int(&[1])), Errno::EBADMSG, true),
        (with(&|s| s.extra = vec![int(&[1])]), Errno::EBADMSG, true),
        // A signer named neither way.
        (with(&|s| s.sid = int(&[1])), Errno::EBADMSG, true),
    ];
    for (i, (msg, errno, always)) in cases.into_iter().enumerate() {
        let e = parse(&msg.der()).unwrap_err();
        assert_eq!(e.errno(), errno, "case {i}: {e}");
        assert_eq!(e.always_refused(), always, "case {i}");
    }
    let empty_certificates = Msg {
        certificates: Some(cons(tag::context(0), &[])),
        ..Msg::default()
    };
    assert!(parse(&empty_certificates.der()).is_ok());
    // Unsigned attributes are read and do not matter.
    let m = with(&|s| {
        s.extra = vec![cons(
            tag::context(1),
            &[seq(&[
                oid(oid::SIGNING_TIME),
                cons(tag::SET, &[tlv(0x17, b"260101000000Z")]),
            ])],
        )]
    });
    assert!(parse(&m.der()).is_ok());
}

#[test]
fn the_kernels_grammar_beyond_der_is_accepted() {
    let reference = parse(&Msg::default().der()).unwrap();
    let same = |a: &AppendedSignature| {
        let (x, y) = (&a.message.signers[0], &reference.message.signers[0]);
        assert_eq!(x.kernel_key_id(), y.kernel_key_id());
        assert_eq!(x.signature, y.signature);
        assert_eq!(a.modinfo(), reference.modinfo());
    };
    // SEQUENCE OF where CMS has SET OF.
    let m = Msg {
        digest_algorithms: seq(&[algorithm(oid::SHA256)]),
        signer_infos_tag: tag::SEQUENCE,
        ..Msg::default()
    };
    same(&parse(&m.der()).unwrap());
    // Bytes after the message are never read (ASN1_OP_COMPLETE).
    let mut blob = Msg::default().der();
    blob.extend_from_slice(b"junk");
    let a = parse(&blob).unwrap();
    assert_eq!(a.message.trailing_bytes, 4);
    same(&a);
    // BER: the outer SEQUENCE with an indefinite length, a non-minimal length inside.
    let der = Msg::default().der();
    let body = &der[4..]; // 0x30 0x82 hi lo
    let ber = [&[0x30, 0x80][..], body, &[0, 0]].concat();
    same(&parse(&ber).unwrap());
    let version_long_form = Msg {
        version: vec![0x02, 0x81, 0x01, 0x01],
        ..Msg::default()
    };
    assert_eq!(parse(&version_long_form.der()).unwrap().message.version, 1);
}

#[test]
fn a_cms_signer_named_by_key_identifier() {
    let skid = vec![0xa3, 0x73, 0x9b, 0x5e];
    let msg = Msg {
        version: int(&[3]),
        signers: vec![Signer {
            version: int(&[3]),
            sid: tlv(tag::context_primitive(0), &skid),
            ..Signer::default()
        }],
        ..Msg::default()
    };
    let sig = parse(&msg.der()).unwrap();
    let s = &sig.message.signers[0];
    assert_eq!(s.signer, SignerId::SubjectKeyId(skid.clone()));
    assert_eq!(s.kernel_key_id(), skid);
    assert_eq!(s.describe(), "subject key identifier A3:73:9B:5E");
    // kmod reads the message as PKCS#7 and shows nothing for such a signer.
    assert_eq!(sig.modinfo(), None);
    // The kernel goes by the version: a version 3 signer named by issuer and serial
    // number gets an empty key id, which no key has.
    let msg = Msg {
        version: int(&[3]),
        signers: vec![Signer {
            version: int(&[3]),
            ..Signer::default()
        }],
        ..Msg::default()
    };
    assert!(parse(&msg.der()).unwrap().message.signers[0]
        .kernel_key_id()
        .is_empty());
    // A constructed [0] is not an OCTET STRING.
    let msg = Msg {
        version: int(&[3]),
        signers: vec![Signer {
            version: int(&[3]),
            sid: tlv(tag::context(0), &skid),
            ..Signer::default()
        }],
        ..Msg::default()
    };
    assert_eq!(errno_of(parse(&msg.der())), Errno::EBADMSG);
}

#[test]
fn modinfo_mirrors_kmods_reading_of_names_and_serials() {
    let with_sid = |sid: Vec<u8>| {
        let msg = Msg {
            signers: vec![Signer {
                sid,
                ..Signer::default()
            }],
            ..Msg::default()
        };
        parse(&msg.der()).unwrap().modinfo().unwrap()
    };
    // No common name: kmod's loop ends on the last attribute and prints its value.
    let org = |o: &str, v: &str| {
        cons(
            tag::SET,
            &[seq(&[
                oid(ObjectIdentifier::new_unwrap(o)),
                tlv(0x0c, v.as_bytes()),
            ])],
        )
    };
    let m = with_sid(seq(&[
        seq(&[org("2.5.4.6", "DE"), org("2.5.4.10", "Example Org")]),
        int(&[5]),
    ]));
    assert_eq!(m.signer.as_deref(), Some("Example Org"));
    // A common name wins wherever it is.
    let m = with_sid(seq(&[
        seq(&[org("2.5.4.3", "The CN"), org("2.5.4.10", "Example Org")]),
        int(&[5]),
    ]));
    assert_eq!(m.signer.as_deref(), Some("The CN"));
    // An empty name: no signer line.
    let m = with_sid(seq(&[seq(&[]), int(&[5])]));
    assert_eq!(m.signer, None);
    // BN_bn2bin(): the magnitude, without a sign byte or leading zeros.
    let m = with_sid(seq(&[name("x"), int(&[0x00, 0x80, 0x01])]));
    assert_eq!(m.sig_key, "80:01");
    let m = with_sid(seq(&[name("x"), int(&[0xff, 0x7f])]));
    assert_eq!(m.sig_key, "81");
    let m = with_sid(seq(&[name("x"), int(&[0x00])]));
    assert_eq!(m.sig_key, "");
}

fn attribute(kind: ObjectIdentifier, values: &[Vec<u8>]) -> Vec<u8> {
    seq(&[oid(kind), cons(tag::SET, values)])
}

fn content_type_attr() -> Vec<u8> {
    attribute(oid::CONTENT_TYPE, &[oid(oid::DATA)])
}

fn digest_attr() -> Vec<u8> {
    attribute(oid::MESSAGE_DIGEST, &[tlv(tag::OCTET_STRING, &[7; 32])])
}

fn with_attributes(attributes: Vec<u8>) -> Msg {
    Msg {
        signers: vec![Signer {
            attributes: Some(attributes),
            ..Signer::default()
        }],
        ..Msg::default()
    }
}

#[test]
fn signed_attributes_are_read_and_checked_as_the_parser_does() {
    let set = cons(tag::context(0), &[content_type_attr(), digest_attr()]);
    let sig = parse(&with_attributes(set.clone()).der()).unwrap();
    let attrs = sig.message.signers[0].signed_attributes.clone().unwrap();
    assert_eq!(attrs.message_digest, vec![7; 32]);
    // The digested form is the encoded attributes with the [0] tag made a SET.
    assert_eq!(attrs.digested[0], tag::SET);
    assert_eq!(attrs.digested[1..], set[1..]);
    let time = |t: &[u8]| attribute(oid::SIGNING_TIME, &[tlv(tag::UTC_TIME, t)]);
    assert!(parse(
        &with_attributes(cons(
            tag::context(0),
            &[content_type_attr(), digest_attr(), time(b"260101120000Z")]
        ))
        .der()
    )
    .is_ok());

    let cases: Vec<(Vec<Vec<u8>>, Errno)> = vec![
        // pkcs7_sig_note_set_of_authattrs(): contentType and messageDigest are required.
        (vec![content_type_attr()], Errno::EBADMSG),
        (vec![digest_attr()], Errno::EBADMSG),
        // pkcs7_sig_note_authenticated_attr(): no repeats, no second values.
        (
            vec![content_type_attr(), content_type_attr(), digest_attr()],
            Errno::EKEYREJECTED,
        ),
        (
            vec![
                content_type_attr(),
                attribute(oid::MESSAGE_DIGEST, &[tlv(4, &[1]), tlv(4, &[2])]),
            ],
            Errno::EKEYREJECTED,
        ),
        (
            vec![
                attribute(oid::MESSAGE_DIGEST, &[int(&[1])]),
                content_type_attr(),
            ],
            Errno::EBADMSG,
        ),
        (
            vec![
                attribute(oid::CONTENT_TYPE, &[oid(oid::SIGNED_DATA)]),
                digest_attr(),
            ],
            Errno::EBADMSG,
        ),
        (
            vec![
                content_type_attr(),
                digest_attr(),
                attribute(oid::SMIME_CAPABILITIES, &[seq(&[])]),
            ],
            Errno::EKEYREJECTED,
        ),
        (
            vec![
                content_type_attr(),
                digest_attr(),
                attribute(oid::MS_SP_OPUS_INFO, &[seq(&[])]),
            ],
            Errno::EKEYREJECTED,
        ),
        (
            vec![content_type_attr(), digest_attr(), time(b"2601011200Z")],
            Errno::EBADMSG,
        ),
        (
            vec![content_type_attr(), digest_attr(), time(b"26010112000aZ")],
            Errno::EBADMSG,
        ),
    ];
    for (i, (attrs, errno)) in cases.into_iter().enumerate() {
        let e = parse(&with_attributes(cons(tag::context(0), &attrs)).der()).unwrap_err();
        assert_eq!(e.errno(), errno, "case {i}: {e}");
    }
    // The [2] EXPLICIT SEQUENCE form is checked value by value but, having no action
    // that records it, is never digested.
    let explicit = cons(
        tag::context(2),
        &[seq(&[content_type_attr(), digest_attr()])],
    );
    let sig = parse(&with_attributes(explicit).der()).unwrap();
    assert_eq!(sig.message.signers[0].signed_attributes, None);
    let explicit = cons(
        tag::context(2),
        &[seq(&[content_type_attr(), content_type_attr()])],
    );
    assert_eq!(
        errno_of(parse(&with_attributes(explicit).der())),
        Errno::EKEYREJECTED
    );
    // pkcs7_check_authattrs(): all signers or none.
    let mut msg = with_attributes(cons(tag::context(0), &[content_type_attr(), digest_attr()]));
    msg.signers.push(Signer::default());
    assert_eq!(
        parse(&msg.der()).unwrap_err(),
        SignatureError::InconsistentAttributes
    );
}

#[test]
fn refusals_before_any_key_is_consulted() {
    let check = |msg: &Msg| {
        let img = image(&msg.der());
        AppendedSignature::parse(&img)
            .unwrap()
            .unwrap()
            .check(&img, &[])
    };
    // verify_pkcs7_signature(): the module is the detached content.
    let attached = Msg {
        content: Some(tlv(tag::OCTET_STRING, b"x")),
        ..Msg::default()
    };
    assert_eq!(
        check(&attached),
        Trust::Refused(SignatureError::AttachedContent)
    );
    assert_eq!(check(&attached).errno(), Some(Errno::EBADMSG));
    // pkcs7_verify(VERIFYING_MODULE_SIGNATURE): data only, no signed attributes.
    let mut authenticode = with_attributes(cons(
        tag::context(0),
        &[
            attribute(oid::CONTENT_TYPE, &[oid(oid::MS_INDIRECT_DATA)]),
            digest_attr(),
        ],
    ));
    authenticode.content_type = oid::MS_INDIRECT_DATA;
    assert_eq!(
        check(&authenticode),
        Trust::Refused(SignatureError::NotData)
    );
    let attributes = with_attributes(cons(tag::context(0), &[content_type_attr(), digest_attr()]));
    assert_eq!(
        check(&attributes),
        Trust::Refused(SignatureError::SignedAttributes)
    );
    assert_eq!(check(&attributes).errno(), Some(Errno::EKEYREJECTED));
    // With nothing trusted, a well-formed signature has an unknown signer (ENOKEY).
    assert_eq!(check(&Msg::default()), Trust::UnknownSigner);
    assert_eq!(Trust::UnknownSigner.errno(), Some(Errno::ENOKEY));
}

#[test]
fn module_sig_check_decides_by_errno_and_enforcement() {
    use Enforcement::*;
    assert_eq!(
        module_sig_check(Ok(()), SigEnforce),
        Ok(Acceptance::Verified)
    );
    for soft in [Errno::ENODATA, Errno::ENOPKG, Errno::ENOKEY] {
        assert_eq!(module_sig_check(Err(soft), None), Ok(Acceptance::Tainted));
        assert_eq!(
            module_sig_check(Err(soft), SigEnforce),
            Err(Errno::EKEYREJECTED)
        );
        assert_eq!(module_sig_check(Err(soft), Lockdown), Err(Errno::EPERM));
    }
    for hard in [
        Errno::EBADMSG,
        Errno::EKEYREJECTED,
        Errno::EINVAL,
        Errno::EMSGSIZE,
    ] {
        for e in [None, SigEnforce, Lockdown] {
            assert_eq!(module_sig_check(Err(hard), e), Err(hard));
        }
    }
}

#[test]
fn every_error_names_its_errno() {
    let info = ModuleSignatureInfo::from_bytes([1; MODULE_SIGNATURE_LEN]);
    let errors = [
        SignatureError::Truncated { len: 3 },
        SignatureError::LengthOverrun {
            sig_len: 9,
            available: 3,
        },
        SignatureError::NotPkcs7 { id_type: 0 },
        SignatureError::NonZeroParams { info },
        SignatureError::TooLarge { len: 70000 },
        SignatureError::Malformed { reason: "x".into() },
        SignatureError::NotSignedData { oid: "1.2".into() },
        SignatureError::UnsupportedVersion {
            what: "SignedData",
            version: vec![2],
        },
        SignatureError::VersionMismatch {
            signed_data: 1,
            signer_info: 3,
        },
        SignatureError::UnsupportedContentType { oid: "1.2".into() },
        SignatureError::UnsupportedDigest { oid: "1.2".into() },
        SignatureError::UnsupportedKeyAlgorithm { oid: "1.2".into() },
        SignatureError::NoSigner,
        SignatureError::InconsistentAttributes,
        SignatureError::AttributesRejected { reason: "x" },
        SignatureError::AttributesMalformed { reason: "x" },
        SignatureError::AttachedContent,
        SignatureError::NotData,
        SignatureError::SignedAttributes,
    ];
    for e in errors {
        let text = e.to_string();
        assert!(text.contains(&format!("{:?}", e.errno())), "{text}");
        // The soft errors say what happens with and without enforcement.
        assert_eq!(
            text.contains("where signatures are enforced"),
            !e.always_refused(),
            "{text}"
        );
    }
}

#[test]
fn mutated_messages_never_panic() {
    let mut attrs = with_attributes(cons(tag::context(0), &[content_type_attr(), digest_attr()]));
    attrs.signers.push(Signer {
        attributes: Some(cons(tag::context(0), &[content_type_attr(), digest_attr()])),
        ..Signer::default()
    });
    for msg in [Msg::default(), attrs] {
        let blob = msg.der();
        for i in 0..blob.len() {
            for v in [0x00, 0x01, 0x30, 0x7f, 0x80, 0x81, 0x82, 0xa0, 0xff] {
                let mut b = blob.clone();
                b[i] = v;
                let img = image(&b);
                if let Ok(Some(s)) = AppendedSignature::parse(&img) {
                    let _ = s.modinfo();
                    let _ = s.check(&img, &[]);
                }
            }
        }
    }
}
