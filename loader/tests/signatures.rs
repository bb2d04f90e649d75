//! Module signatures against the real things: the modules DKMS built and signed on this
//! machine, Debian's signed in-tree modules, `modinfo` (kmod) as the reference for what a
//! signature says, the kernel's own `sign-file` and OpenSSL for signatures made here, and
//! DKMS's certificate for verification.

mod common;
mod signing;

use std::path::PathBuf;

use dahdi_loader::certificate::colon_hex;
use dahdi_loader::module_file::elf::SIGNATURE_MAGIC;
use dahdi_loader::module_file::signature::verify::{Trust, VerifyError};
use dahdi_loader::module_file::signature::{
    AppendedSignature, ModinfoSignature, SignatureError, SignerId,
};
use nix::errno::Errno;
use signing::*;

fn parse(image: &[u8]) -> AppendedSignature {
    AppendedSignature::parse(image)
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("signed")
}

/// What `modinfo` prints about each file's signature, one call for many files.
fn modinfo_signatures(files: &[PathBuf]) -> Vec<Option<ModinfoSignature>> {
    let mut out = Vec::new();
    for chunk in files.chunks(500) {
        let args: Vec<&str> = chunk.iter().map(|p| p.to_str().unwrap()).collect();
        let text = common::tool("modinfo", &args);
        let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
        for line in text.lines() {
            if let Some(cont) = line.strip_prefix('\t') {
                let last = blocks.last_mut().unwrap().last_mut().unwrap();
                last.1.push_str(cont.trim());
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k == "filename" {
                blocks.push(Vec::new());
            }
            blocks
                .last_mut()
                .unwrap()
                .push((k.to_string(), v.trim().to_string()));
        }
        assert_eq!(
            blocks.len(),
            chunk.len(),
            "modinfo printed {} modules",
            blocks.len()
        );
        for b in blocks {
            let get = |k: &str| b.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            out.push(get("sig_id").map(|_| ModinfoSignature {
                sig_id: "PKCS#7",
                signer: get("signer"),
                sig_key: get("sig_key").unwrap_or_default(),
                sig_hashalgo: get("sig_hashalgo").unwrap_or_default(),
                signature: get("signature").unwrap_or_default().replace(' ', ""),
            }));
            if let Some(id) = get("sig_id") {
                assert_eq!(id, "PKCS#7");
            }
        }
    }
    out
}

fn dkms_modules() -> Vec<PathBuf> {
    let real = common::real();
    assert!(!real.modules.is_empty(), "{}", common::INSTALL_HINT);
    real.modules
}

#[test]
fn dkms_modules_read_as_modinfo_shows_them_and_verify_with_dkms_certificate() {
    let modules = dkms_modules();
    let (cert_path, dkms) = dkms_certificate();
    let t = tempfile::tempdir().unwrap();
    let (_, other) = new_key(t.path(), "other", "rsa:2048", "/CN=DKMS module signing key");
    let other = cert(&other);
    // openssl's own reading of the certificate, for the serial modinfo shows.
    let serial = openssl_serial(&cert_path);
    let expected = modinfo_signatures(&modules);
    for (path, modinfo) in modules.iter().zip(expected) {
        let image = read(path);
        let sig = parse(&image);
        assert_eq!(sig.modinfo(), modinfo, "{}", path.display());
        assert_eq!(
            sig.modinfo().unwrap().sig_key.replace(':', ""),
            serial,
            "{}",
            path.display()
        );
        assert_eq!(
            sig.check(&image, std::slice::from_ref(&dkms)),
            Trust::Trusted { signer: 0, cert: 0 },
            "{}",
            path.display()
        );
        // The right certificate anywhere in the list is found.
        assert_eq!(
            sig.check(&image, &[other.clone(), dkms.clone()]),
            Trust::Trusted { signer: 0, cert: 1 }
        );
        // A key with the same name but another serial number is not the signer.
        assert_eq!(
            sig.check(&image, std::slice::from_ref(&other)),
            Trust::UnknownSigner
        );
        assert_eq!(sig.check(&image, &[]), Trust::UnknownSigner);
    }
}

#[test]
fn a_flipped_byte_in_a_dkms_module_is_a_bad_signature() {
    let (_, dkms) = dkms_certificate();
    let image = read(&common::real().dkms_dir.join("dahdi.ko"));
    let sig = parse(&image);
    for at in [0, sig.signed_len / 2, sig.signed_len - 1] {
        let mut bad = image.clone();
        bad[at] ^= 0x01;
        let trust = parse(&bad).check(&bad, std::slice::from_ref(&dkms));
        assert!(
            matches!(
                trust,
                Trust::BadSignature {
                    signer: 0,
                    cert: Some(0),
                    ..
                }
            ),
            "byte {at}: {trust:?}"
        );
        assert_eq!(trust.errno(), Some(Errno::EKEYREJECTED));
    }
    // A flipped bit in the signature value itself, likewise.
    let value_at = sig.signed_len + sig.info.sig_len as usize - 10;
    let mut bad = image.clone();
    bad[value_at] ^= 0x80;
    assert!(matches!(
        parse(&bad).check(&bad, std::slice::from_ref(&dkms)),
        Trust::BadSignature { .. }
    ));
}

/// Every signed module of every installed kernel's own tree.
fn in_tree_modules() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for k in std::fs::read_dir("/lib/modules").unwrap().flatten() {
        out.extend(common::find_files(&k.path().join("kernel"), ".ko"));
    }
    out.sort();
    out
}

#[test]
fn debian_in_tree_modules_read_as_modinfo_shows_them() {
    let modules = in_tree_modules();
    assert!(
        modules.len() > 100,
        "expected the signed modules of Debian's kernel under /lib/modules/*/kernel: apt-get install linux-image-amd64"
    );
    let (_, dkms) = dkms_certificate();
    let expected = modinfo_signatures(&modules);
    let mut signers = std::collections::BTreeSet::new();
    for (path, modinfo) in modules.iter().zip(expected) {
        let image = read(path);
        let Some(modinfo) = modinfo else {
            assert!(
                AppendedSignature::parse(&image).unwrap().is_none(),
                "{}",
                path.display()
            );
            continue;
        };
        let sig = parse(&image);
        assert_eq!(sig.modinfo(), Some(modinfo.clone()), "{}", path.display());
        signers.insert(modinfo.signer.clone());
        // Debian's key is not DKMS's.
        assert_eq!(
            sig.check(&image, std::slice::from_ref(&dkms)),
            Trust::UnknownSigner
        );
    }
    assert!(!signers.is_empty(), "no in-tree module is signed");
}

#[test]
fn sign_file_signatures_verify_with_their_certificate_only() {
    let t = tempfile::tempdir().unwrap();
    let module = strip_signature(&read(&common::real().dkms_dir.join("dahdi_dummy.ko")));
    let (_, dkms) = dkms_certificate();
    for (key, hash) in [
        ("rsa:2048", "sha256"),
        ("rsa:2048", "sha1"),
        ("rsa:2048", "sha224"),
        ("rsa:3072", "sha384"),
        ("rsa:4096", "sha512"),
        ("rsa:2048", "sha3-256"),
        ("ec:{p256}", "sha256"),
        ("ec:{p384}", "sha384"),
        ("ec:{p256}", "sha512"),
        ("ec:{p384}", "sha1"),
    ] {
        for keyid in [false, true] {
            let dir = t.path().join(format!(
                "{}-{hash}-{keyid}",
                key.replace([':', '{', '}'], "")
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let key = match key {
                "ec:{p256}" | "ec:{p384}" => {
                    let curve = if key.contains("256") {
                        "prime256v1"
                    } else {
                        "secp384r1"
                    };
                    let params = dir.join("ec.pem");
                    tool_in(
                        &dir,
                        "openssl",
                        &["ecparam", "-name", curve, "-out", params.to_str().unwrap()],
                        OPENSSL_HINT,
                    );
                    format!("ec:{}", params.display())
                }
                k => k.to_string(),
            };
            let (k, c) = new_key(&dir, "test", &key, "/CN=Loader test key/O=dahdi-rs");
            let image = sign(&dir, &module, hash, &k, &c, keyid);
            let case = format!("{key} {hash} keyid={keyid}");
            let sig = parse(&image);
            let mine = cert(&c);
            assert_eq!(sig.signed_data(&image), module.as_slice(), "{case}");
            assert_eq!(
                sig.check(&image, &[dkms.clone(), mine.clone()]),
                Trust::Trusted { signer: 0, cert: 1 },
                "{case}"
            );
            assert_eq!(
                sig.check(&image, std::slice::from_ref(&dkms)),
                Trust::UnknownSigner,
                "{case}"
            );
            let signer = &sig.message.signers[0];
            assert_eq!(signer.digest.kernel_name(), hash, "{case}");
            if keyid {
                assert_eq!(
                    signer.signer,
                    SignerId::SubjectKeyId(mine.skid().unwrap().to_vec())
                );
            } else {
                assert_eq!(signer.kernel_key_id(), mine.kernel_id(), "{case}");
            }
            // modinfo, the reference: it shows nothing for a signer named by key id, and
            // before kmod 32 nothing for a digest outside its own table (no SHA-3).
            let printed = modinfo_signatures(&[dir.join("unsigned.ko")]).remove(0);
            if hash.starts_with("sha3-") && kmod_version() < 32 {
                assert_eq!(printed, None, "{case}");
            } else {
                assert_eq!(sig.modinfo(), printed, "{case}");
            }
            // The same signature with the module changed is rejected.
            let mut bad = image.clone();
            bad[module.len() / 3] ^= 0x40;
            assert!(
                matches!(
                    parse(&bad).check(&bad, std::slice::from_ref(&mine)),
                    Trust::BadSignature { .. }
                ),
                "{case}"
            );
        }
    }
}

/// The major version of the installed kmod.
fn kmod_version() -> u32 {
    let text = common::tool("kmod", &["--version"]);
    text.split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("kmod --version names a version")
}

#[test]
fn signed_attributes_verify_but_the_kernel_refuses_them_in_modules() {
    let t = tempfile::tempdir().unwrap();
    let module = strip_signature(&read(&common::real().dkms_dir.join("dahdi_dummy.ko")));
    let (k, c) = new_key(t.path(), "attrs", "rsa:2048", "/CN=Attribute signer");
    let mine = cert(&c);
    // openssl cms signs with attributes (contentType, signingTime, messageDigest, ...)
    // unless told -noattr; sign-file always tells it.
    let blob = openssl_cms(t.path(), &module, &k, &c, &["-nocerts", "-nosmimecap"]);
    let image = append_signature(&module, &blob, 2);
    let sig = parse(&image);
    let signer = &sig.message.signers[0];
    assert!(signer.signed_attributes.is_some());
    // The signature is good (over the attributes, which hold the module's digest)...
    assert_eq!(signer.verify(&module, &mine), Ok(()));
    let mut changed = module.clone();
    changed[100] ^= 1;
    assert!(matches!(
        signer.verify(&changed, &mine),
        Err(VerifyError::Mismatch(_))
    ));
    // ...but pkcs7_verify() refuses signed attributes in a module signature.
    assert_eq!(
        sig.check(&image, std::slice::from_ref(&mine)),
        Trust::Refused(SignatureError::SignedAttributes)
    );
    // S/MIME capabilities among them are refused already by the parser.
    let blob = openssl_cms(t.path(), &module, &k, &c, &["-nocerts"]);
    let e = AppendedSignature::parse(&append_signature(&module, &blob, 2)).unwrap_err();
    assert_eq!(e.errno(), Errno::EKEYREJECTED, "{e}");

    // Without attributes, and with the certificate carried in the message.
    let blob = openssl_cms(t.path(), &module, &k, &c, &["-noattr"]);
    let image = append_signature(&module, &blob, 2);
    let sig = parse(&image);
    assert_eq!(sig.message.certificates, vec![mine.clone()]);
    assert_eq!(
        sig.check(&image, std::slice::from_ref(&mine)),
        Trust::Trusted { signer: 0, cert: 0 }
    );
    // A carried self-signed certificate is not trust by itself.
    assert_eq!(sig.check(&image, &[]), Trust::UnknownSigner);
    // A changed module fails against the carried certificate, trusted or not.
    let mut bad = image.clone();
    bad[10] ^= 1;
    assert!(matches!(
        parse(&bad).check(&bad, &[]),
        Trust::BadSignature { cert: None, .. }
    ));
}

#[test]
fn damaged_signatures_of_a_real_module_get_the_kernels_errno() {
    let image = read(&common::real().dkms_dir.join("dahdi.ko"));
    let module = strip_signature(&image);
    let blob = &image[module.len()..image.len() - SIGNATURE_MAGIC.len() - 12];
    let errno = |img: Vec<u8>| AppendedSignature::parse(&img).unwrap_err().errno();
    // A zero-length blob, garbage, a PGP and an X.509 id type.
    assert_eq!(errno(append_signature(&module, b"", 2)), Errno::EBADMSG);
    assert_eq!(
        errno(append_signature(&module, &[0x5a; 300], 2)),
        Errno::EBADMSG
    );
    assert_eq!(errno(append_signature(&module, blob, 0)), Errno::ENOPKG);
    assert_eq!(errno(append_signature(&module, blob, 1)), Errno::ENOPKG);
    // A truncated blob, and one with its last byte dropped but the length kept.
    assert_eq!(
        errno(append_signature(&module, &blob[..blob.len() / 2], 2)),
        Errno::EBADMSG
    );
    let mut short = append_signature(&module, blob, 2);
    short.remove(module.len() + blob.len() - 1);
    assert_eq!(errno(short), Errno::EBADMSG);
    // A length that claims the whole file.
    let mut whole = append_signature(&module, blob, 2);
    let at = whole.len() - SIGNATURE_MAGIC.len() - 4;
    let len = (module.len() + blob.len()) as u32;
    whole[at..at + 4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(errno(whole), Errno::EBADMSG);
}

/// A small deterministic generator for the mutation test.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn thousands_of_mutated_real_signatures_never_panic_nor_trust_what_changed() {
    let (_, dkms) = dkms_certificate();
    let mut sources = vec![common::real().dkms_dir.join("dahdi.ko")];
    sources.extend(in_tree_modules().into_iter().take(2));
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for source in sources {
        let image = read(&source);
        let module = strip_signature(&image);
        // Keep the crypto cheap: a short module, signed region only what the checks need.
        let original = parse(&image);
        let blob = image[module.len()..image.len() - SIGNATURE_MAGIC.len() - 12].to_vec();
        let key_id = original.message.signers[0].kernel_key_id();
        let value = original.message.signers[0].signature.clone();
        for _ in 0..2500 {
            let mut b = blob.clone();
            match rng.below(5) {
                0 => {
                    for _ in 0..=rng.below(4) {
                        let i = rng.below(b.len());
                        b[i] = rng.next() as u8;
                    }
                }
                1 => b.truncate(rng.below(b.len())),
                2 => {
                    let i = rng.below(b.len());
                    b.insert(i, rng.next() as u8);
                }
                3 => {
                    // Lengths: a byte after a tag-looking byte.
                    let i = rng.below(b.len().saturating_sub(1)) + 1;
                    b[i] = [0x00, 0x7f, 0x80, 0x81, 0x82, 0x83, 0xff][rng.below(7)];
                }
                _ => {
                    let i = rng.below(b.len());
                    let n = rng.below(16);
                    let copy: Vec<u8> = b[i..(i + n).min(b.len())].to_vec();
                    let j = rng.below(b.len());
                    b.splice(j..j, copy);
                }
            }
            let mut info_type = 2;
            if rng.below(50) == 0 {
                info_type = rng.next() as u8;
            }
            let img = append_signature(&module, &b, info_type);
            match AppendedSignature::parse(&img) {
                Ok(Some(sig)) => {
                    parsed += 1;
                    let _ = sig.modinfo();
                    let trust = sig.check(&img, std::slice::from_ref(&dkms));
                    if let Trust::Trusted { signer, .. } = trust {
                        // Trusted only when what the kernel checks is what was signed.
                        let s = &sig.message.signers[signer];
                        assert_eq!(s.kernel_key_id(), key_id);
                        assert_eq!(s.signature, value);
                    }
                }
                Ok(None) => panic!("a signed image read as unsigned"),
                Err(e) => {
                    let _ = (e.errno(), e.to_string());
                }
            }
        }
    }
    assert!(
        parsed > 100,
        "only {parsed} mutations parsed: the mutations are too coarse to test much"
    );
}

#[test]
fn colon_hex_is_modinfos_format() {
    let image = read(&common::real().dkms_dir.join("dahdi.ko"));
    let sig = parse(&image);
    let printed = common::modinfo("signature", &common::real().dkms_dir.join("dahdi.ko"));
    let printed: String = printed.iter().map(|l| l.trim()).collect();
    assert_eq!(colon_hex(&sig.message.signers[0].signature), printed);
}
