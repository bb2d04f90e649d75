//! Where trusted keys come from, on fixture roots built from real certificates: DKMS's
//! configuration (checked against bash sourcing the same files), shim's MOK list in its
//! efivarfs and MOK-table forms, and `/proc/keys`.

mod common;
mod signing;

use std::path::{Path, PathBuf};
use std::process::Command;

use dahdi_loader::certificate::Cert;
use dahdi_loader::keys::efi::{build_signature_list, EFI_CERT_SHA256_GUID, EFI_CERT_X509_GUID};
use dahdi_loader::keys::framework::DkmsSigning;
use dahdi_loader::keys::{
    KeyProblem, TrustedKeys, MOK_LIST_EFIVAR, MOK_LIST_MOKVAR, MOK_TRUSTED_EFIVAR,
};
use dahdi_loader::names::KernelRelease;
use dahdi_loader::Root;

const SHIM_OWNER: [u8; 16] = [
    0x50, 0xab, 0x5d, 0x60, 0x46, 0xe0, 0x00, 0x43, 0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23,
];

/// A self-signed certificate made by openssl: (DER, PEM text).
fn make_cert(dir: &Path, name: &str, extra: &[&str]) -> (Vec<u8>, String) {
    let (_, der) = signing::new_key_with(dir, name, "rsa:2048", "/CN=Keys test", extra);
    let pem = signing::pem(&der);
    (std::fs::read(der).unwrap(), pem)
}

struct Tree(tempfile::TempDir);

impl Tree {
    fn new() -> Tree {
        Tree(tempfile::tempdir().unwrap())
    }

    fn write(&self, system_path: &str, contents: impl AsRef<[u8]>) {
        let p = self.0.path().join(system_path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }

    fn root(&self) -> Root {
        Root::new(self.0.path())
    }
}

fn efivar(attributes: u32, data: &[u8]) -> Vec<u8> {
    [&attributes.to_le_bytes()[..], data].concat()
}

fn kernel() -> KernelRelease {
    KernelRelease::new("6.1.0-57-amd64").unwrap()
}

#[test]
fn a_system_with_dkms_key_enrolled_and_held_by_the_kernel() {
    let t = Tree::new();
    let (dkms_der, dkms_pem) = make_cert(t.0.path(), "dkms", &[]);
    let (other_der, _) = make_cert(t.0.path(), "other", &[]);
    let dkms = Cert::from_der(&dkms_der).unwrap();
    // DKMS configured by hand to a PEM certificate per kernel, as framework.conf allows.
    t.write("/etc/os-release", "ID=debian\n");
    t.write(
        "/etc/dkms/framework.conf",
        "# mok_certificate=/var/lib/dkms/mok.pub\n",
    );
    t.write(
        "/etc/dkms/framework.conf.d/keys.conf",
        "mok_signing_key=/etc/keys/$kernelver/dkms.key\nmok_certificate=\"/etc/keys/${kernelver}/dkms.pem\"\n",
    );
    t.write(&format!("/etc/keys/{}/dkms.pem", kernel()), &dkms_pem);
    // shim's list: another certificate, a hash, and DKMS's certificate, with padding as a
    // fixed entry size leaves it.
    let longest = dkms_der.len().max(other_der.len());
    let mut padded = dkms_der.clone();
    padded.resize(longest, 0);
    let list = [
        build_signature_list(EFI_CERT_X509_GUID, SHIM_OWNER, &[&other_der, &padded]),
        build_signature_list(EFI_CERT_SHA256_GUID, SHIM_OWNER, &[&[0x11; 32]]),
    ]
    .concat();
    t.write(MOK_LIST_EFIVAR, efivar(0x06, &list));
    // Volatile (set by shim at boot): the kernel trusts MOKs in its machine keyring.
    t.write(MOK_TRUSTED_EFIVAR, efivar(0x06, &[1]));
    t.write(
        "/proc/keys",
        format!(
            "3588d4ca I------     1 perm 1f030000     0     0 asymmetri Keys test: {}: X509.rsa 0badf00d []\n",
            dkms.keyring_id_hex()
        ),
    );
    let keys = TrustedKeys::read(&t.root(), Some(&kernel())).unwrap();
    let found = keys.dkms.as_ref().unwrap();
    assert_eq!(
        found.path,
        PathBuf::from(format!("/etc/keys/{}/dkms.pem", kernel()))
    );
    assert_eq!(found.cert, dkms);
    let mok = keys.mok.as_ref().unwrap();
    assert_eq!(mok.source, PathBuf::from(MOK_LIST_EFIVAR));
    assert_eq!(mok.certs.len(), 2);
    assert_eq!(mok.other_entries, 1);
    assert!(mok.problems.is_empty(), "{:?}", mok.problems);
    assert_eq!(mok.trusted_for_modules, Some(true));
    assert_eq!(keys.mok_enrolled(&dkms), Some(true));
    assert_eq!(keys.kernel_holds(&dkms), Some(true));
    let other = Cert::from_der(&other_der).unwrap();
    assert_eq!(keys.kernel_holds(&other), Some(false));
    // DKMS's certificate first, each certificate once.
    assert_eq!(keys.certs(), vec![dkms.clone(), other.clone()]);
    // Without a kernel release, $kernelver leaves the certificate unknown.
    let keys = TrustedKeys::read(&t.root(), None).unwrap();
    assert!(
        matches!(keys.dkms, Err(KeyProblem::NotConfigured(_))),
        "{:?}",
        keys.dkms
    );
    assert!(keys.dkms.unwrap_err().to_string().contains("kernelver"));
}

#[test]
fn shims_mok_table_comes_first_and_damage_is_named() {
    let t = Tree::new();
    let (a, _) = make_cert(t.0.path(), "a", &[]);
    let (b, _) = make_cert(t.0.path(), "b", &[]);
    t.write(
        MOK_LIST_EFIVAR,
        efivar(
            0x06,
            &build_signature_list(EFI_CERT_X509_GUID, SHIM_OWNER, &[&a]),
        ),
    );
    // The MOK table entry has no attribute bytes; a second list in it is cut short.
    let mut table = build_signature_list(EFI_CERT_X509_GUID, SHIM_OWNER, &[&b]);
    table.extend_from_slice(&build_signature_list(EFI_CERT_X509_GUID, SHIM_OWNER, &[&a])[..40]);
    t.write(MOK_LIST_MOKVAR, &table);
    let keys = TrustedKeys::read(&t.root(), None).unwrap();
    let mok = keys.mok.unwrap();
    assert_eq!(mok.source, PathBuf::from(MOK_LIST_MOKVAR));
    assert_eq!(mok.certs, vec![Cert::from_der(&b).unwrap()]);
    assert_eq!(mok.problems.len(), 1, "{:?}", mok.problems);
    // The table exists without MokListTrustedRT: MOKs stay out of the machine keyring.
    assert_eq!(mok.trusted_for_modules, Some(false));
    // No /proc/keys: unknown, not empty.
    assert_eq!(keys.kernel, None);
    // A non-volatile MokListTrustedRT was set by someone after boot, not by shim.
    let t = Tree::new();
    t.write(
        MOK_LIST_EFIVAR,
        efivar(
            0x07,
            &build_signature_list(EFI_CERT_X509_GUID, SHIM_OWNER, &[b"not a cert"]),
        ),
    );
    t.write(MOK_TRUSTED_EFIVAR, efivar(0x07, &[1]));
    let mok = TrustedKeys::read(&t.root(), None).unwrap().mok.unwrap();
    assert_eq!(mok.trusted_for_modules, Some(false));
    assert!(mok.certs.is_empty());
    assert_eq!(mok.problems.len(), 1);
    // No EFI at all: no MOK list.
    assert!(TrustedKeys::read(&Tree::new().root(), None)
        .unwrap()
        .mok
        .is_none());
}

#[test]
fn the_dkms_certificate_missing_or_not_a_certificate() {
    let t = Tree::new();
    let keys = TrustedKeys::read(&t.root(), None).unwrap();
    assert_eq!(
        keys.dkms,
        Err(KeyProblem::Missing(PathBuf::from("/var/lib/dkms/mok.pub")))
    );
    t.write(
        "/var/lib/dkms/mok.pub",
        b"\x30\x82\x01\x00 not a certificate",
    );
    let keys = TrustedKeys::read(&t.root(), None).unwrap();
    assert!(
        matches!(keys.dkms, Err(KeyProblem::Invalid { .. })),
        "{:?}",
        keys.dkms
    );
    // A PEM file holding the key before the certificate, as Gentoo's setup writes it.
    let (der, pem) = make_cert(t.0.path(), "both", &[]);
    let key = std::fs::read_to_string(t.0.path().join("both.key")).unwrap();
    t.write("/var/lib/dkms/mok.pub", format!("{key}{pem}"));
    let keys = TrustedKeys::read(&t.root(), None).unwrap();
    assert_eq!(keys.dkms.unwrap().cert, Cert::from_der(&der).unwrap());
}

#[test]
fn a_certificate_without_subject_key_identifier_is_known_by_its_serial() {
    let t = Tree::new();
    let (der, _) = make_cert(
        t.0.path(),
        "noskid",
        &["-addext", "subjectKeyIdentifier=none"],
    );
    let cert = Cert::from_der(&der).unwrap();
    assert_eq!(cert.skid(), None);
    let serial = signing::openssl_serial(&t.0.path().join("noskid.der")).to_ascii_lowercase();
    assert_eq!(cert.keyring_id_hex(), serial);
    assert!(cert.has_kernel_id(&cert.kernel_id()));
}

/// DKMS's framework files as bash sources them, against the loader's reading.
#[test]
fn framework_conf_reads_as_bash_sources_it() {
    let cases: [&[(&str, &str)]; 7] = [
        // A file saved with CR LF line ends: DKMS 3.2 drops the CR from the value.
        &[("framework.conf", "mok_certificate=/crlf.der\r\n")],
        &[("framework.conf", "mok_certificate=/a/b.der\n")],
        &[(
            "framework.conf",
            "  export mok_certificate='/a b/$c.der'  # quoted\n",
        )],
        &[
            ("framework.conf", "mok_certificate=/first.der\n"),
            (
                "framework.conf.d/10-x.conf",
                "mok_certificate=\"/k/$kernelver/x.der\"\n",
            ),
        ],
        &[(
            "framework.conf",
            "base=/etc/k\nmok_certificate=${base}/\"${kernelver}\"\\ z.pem\n",
        )],
        &[("framework.conf", "mok_certificate=${dkms_tree}/mine.der\n")],
        &[
            ("framework.conf", "mok_certificate=/x.der\n"),
            ("framework.conf.d/a.conf", "mok_certificate=\n"),
        ],
    ];
    let kernel = kernel();
    for files in cases {
        let t = tempfile::tempdir().unwrap();
        let mut texts = Vec::new();
        for (name, text) in files {
            let p = t.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            texts.push((PathBuf::from("/etc/dkms").join(name), text.to_string()));
        }
        let script = format!(
            "kernelver='{kernel}'; dkms_tree=/var/lib/dkms; source_tree=/usr/src; install_tree=/lib/modules
             for f in {d}/framework.conf {d}/framework.conf.d/*.conf; do [ -e \"$f\" ] && . \"$f\" >/dev/null; done
             printf %s \"${{mok_certificate%$'\\r'}}\"",
            d = t.path().display()
        );
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        let by_bash = String::from_utf8(out.stdout).unwrap();
        let expected = if by_bash.is_empty() {
            "/var/lib/dkms/mok.pub".to_string()
        } else {
            by_bash
        };
        let mut mine = DkmsSigning::from_texts(&texts);
        mine.distribution = "debian".into();
        assert_eq!(
            mine.certificate(Some(&kernel)).unwrap(),
            PathBuf::from(&expected),
            "{files:?}"
        );
    }
}
