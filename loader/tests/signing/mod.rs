//! Keys, certificates and signed modules made with the real tools (OpenSSL, the kernel's
//! sign-file), shared by the signature tests on the host and in the VM.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use dahdi_loader::certificate::Cert;
use dahdi_loader::module_file::elf::SIGNATURE_MAGIC;

pub const OPENSSL_HINT: &str = "openssl is needed to make test keys: apt-get install openssl";

pub const SIGN_FILE_HINT: &str = "the kernel's sign-file is needed: apt-get install linux-headers-amd64 (it brings linux-kbuild-*, which has scripts/sign-file)";

/// DKMS's certificate on this machine, where DKMS's configuration puts it, checked with
/// bash sourcing the same files the way DKMS does.
pub fn dkms_certificate() -> (PathBuf, Cert) {
    let real = crate::common::real();
    let kernel = dahdi_loader::names::KernelRelease::new(&real.kernel).unwrap();
    let keys = dahdi_loader::keys::TrustedKeys::read(&dahdi_loader::Root::default(), Some(&kernel))
        .unwrap();
    let dkms = keys.dkms.unwrap_or_else(|e| panic!("{e}"));
    let by_bash = bash_framework_value("mok_certificate", &real.kernel, "/etc/dkms");
    assert_eq!(
        dkms.path,
        PathBuf::from(if by_bash.is_empty() {
            "/var/lib/dkms/mok.pub".to_string()
        } else {
            by_bash
        })
    );
    (dkms.path, dkms.cert)
}

/// What bash makes of DKMS's framework files for `variable` (DKMS's read_framework_conf():
/// framework.conf, then framework.conf.d/*.conf).
pub fn bash_framework_value(variable: &str, kernel: &str, etc_dkms: &str) -> String {
    let script = format!(
        "kernelver='{kernel}'; dkms_tree=/var/lib/dkms; source_tree=/usr/src; install_tree=/lib/modules
         for f in {etc_dkms}/framework.conf {etc_dkms}/framework.conf.d/*.conf; do [ -e \"$f\" ] && . \"$f\" >/dev/null; done
         printf %s \"${variable}\""
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn tool_in(dir: &Path, program: &str, args: &[&str], hint: &str) {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): {hint}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key pair made by `openssl req`: (private key PEM, certificate DER).
pub fn new_key(dir: &Path, name: &str, key: &str, subject: &str) -> (PathBuf, PathBuf) {
    new_key_with(dir, name, key, subject, &[])
}

/// [`new_key`] with more `openssl req` arguments.
pub fn new_key_with(
    dir: &Path,
    name: &str,
    key: &str,
    subject: &str,
    extra: &[&str],
) -> (PathBuf, PathBuf) {
    let (k, c) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.der")),
    );
    let (ks, cs) = (k.to_str().unwrap(), c.to_str().unwrap());
    let mut args = vec![
        "req", "-new", "-x509", "-nodes", "-days", "2", "-subj", subject, "-newkey", key,
        "-keyout", ks, "-outform", "DER", "-out", cs,
    ];
    args.extend_from_slice(extra);
    tool_in(dir, "openssl", &args, OPENSSL_HINT);
    (k, c)
}

/// The certificate in PEM, converted by openssl.
pub fn pem(cert_der: &Path) -> String {
    let out = cert_der.with_extension("pem");
    tool_in(
        cert_der.parent().unwrap(),
        "openssl",
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            cert_der.to_str().unwrap(),
            "-out",
            out.to_str().unwrap(),
        ],
        OPENSSL_HINT,
    );
    std::fs::read_to_string(out).unwrap()
}

/// The certificate's serial number as openssl prints it (upper-case hexadecimal).
pub fn openssl_serial(cert_der: &Path) -> String {
    let out = Command::new("openssl")
        .args([
            "x509",
            "-inform",
            "DER",
            "-noout",
            "-serial",
            "-in",
            cert_der.to_str().unwrap(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}): {OPENSSL_HINT}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .trim_start_matches("serial=")
        .to_string()
}

pub fn cert(path: &Path) -> Cert {
    Cert::from_der_or_pem(&read(path)).unwrap()
}

pub fn sign_file() -> PathBuf {
    let mut found: Vec<PathBuf> = Vec::new();
    for base in ["/usr/lib", "/usr/src"] {
        for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let p = e.path().join("scripts/sign-file");
            if (n.starts_with("linux-kbuild-") || n.starts_with("linux-headers-")) && p.is_file() {
                found.push(p);
            }
        }
    }
    found.sort();
    found.into_iter().next().expect(SIGN_FILE_HINT)
}

/// The module without its signature, cut where its own information block says (the
/// layout sign-file writes, read here independently of the code under test).
pub fn strip_signature(image: &[u8]) -> Vec<u8> {
    let rest = image.strip_suffix(SIGNATURE_MAGIC).expect("signed");
    let info = &rest[rest.len() - 12..];
    let sig_len = u32::from_be_bytes(info[8..12].try_into().unwrap()) as usize;
    rest[..rest.len() - 12 - sig_len].to_vec()
}

/// Appends a PKCS#7 blob the way sign-file does.
pub fn append_signature(module: &[u8], blob: &[u8], id_type: u8) -> Vec<u8> {
    let mut info = [0u8; 12];
    info[2] = id_type;
    info[8..].copy_from_slice(&(blob.len() as u32).to_be_bytes());
    [module, blob, &info, SIGNATURE_MAGIC].concat()
}

/// Signs an unsigned copy of a real module with sign-file; returns the signed image.
pub fn sign(
    dir: &Path,
    module: &[u8],
    hash: &str,
    key: &Path,
    cert: &Path,
    keyid: bool,
) -> Vec<u8> {
    let unsigned = dir.join("unsigned.ko");
    std::fs::write(&unsigned, module).unwrap();
    let mut args = vec![];
    if keyid {
        args.push("-k");
    }
    args.extend([
        hash,
        key.to_str().unwrap(),
        cert.to_str().unwrap(),
        unsigned.to_str().unwrap(),
    ]);
    tool_in(dir, sign_file().to_str().unwrap(), &args, SIGN_FILE_HINT);
    read(&unsigned)
}

/// A detached CMS signature of `module` made by `openssl cms` with extra options.
pub fn openssl_cms(dir: &Path, module: &[u8], key: &Path, cert: &Path, extra: &[&str]) -> Vec<u8> {
    let input = dir.join("module.bin");
    let out = dir.join("sig.p7s");
    std::fs::write(&input, module).unwrap();
    pem(cert);
    let signer = cert.with_extension("pem");
    let mut args = vec![
        "cms",
        "-sign",
        "-binary",
        "-outform",
        "DER",
        "-md",
        "sha256",
        "-in",
        input.to_str().unwrap(),
        "-signer",
        signer.to_str().unwrap(),
        "-inkey",
        key.to_str().unwrap(),
        "-out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    tool_in(dir, "openssl", &args, OPENSSL_HINT);
    read(&out)
}

/// One DER element (definite length).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n @ 0..=0x7f => out.push(n as u8),
        n @ 0x80..=0xff => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// Where `part` (a sub-slice of `whole`) starts in it.
pub fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    let at = part.as_ptr() as usize - whole.as_ptr() as usize;
    assert!(at + part.len() <= whole.len(), "not a sub-slice");
    at
}

/// The PKCS#7 blob of a signed image.
pub fn signature_blob(image: &[u8]) -> Vec<u8> {
    let module = strip_signature(image);
    image[module.len()..image.len() - SIGNATURE_MAGIC.len() - 12].to_vec()
}

/// The image with one letter of its `.modinfo` description changed: the signature no
/// longer matches, and the module still loads if the signature is not checked.
pub fn change_description(image: &[u8]) -> Vec<u8> {
    let at = image
        .windows(12)
        .position(|w| w == b"description=")
        .expect("the module has a description")
        + 12;
    let mut out = image.to_vec();
    out[at] ^= 0x20;
    out
}
