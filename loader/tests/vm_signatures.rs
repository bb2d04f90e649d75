//! The kernel's own verdict on module signatures, against the loader's prediction
//! (initramfs level, two boots per platform: without and with `module.sig_enforce=1`).
//! Debian 12's kernel signs its modules with RSA, Debian 13's with ECDSA P-384; DKMS signs
//! DAHDI with its own RSA key on both.
//!
//! On the host, each case is a real module (DKMS's dahdi.ko, signed with DKMS's key, which
//! the guest kernel does not hold; and an in-tree module signed with the kernel's own
//! built-in key) with its signature left alone, damaged, or replaced (sign-file, openssl
//! cms). The loader predicts, for each, what `finit_module` returns: its parse and
//! [`AppendedSignature::check`] give the kernel's signature result, and
//! [`module_sig_check`] what the kernel makes of it with and without enforcement. The
//! trusted certificate is the kernel's built-in one, taken out of its own image. In the
//! guest, each file is offered to the kernel; the test fails on any case where the kernel
//! answers otherwise than predicted, with the whole table.

mod common;
mod signing;

use std::ffi::CString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dahdi_loader::ber::Reader;
use dahdi_loader::certificate::Cert;
use dahdi_loader::module_file::elf::SIGNATURE_MAGIC;
use dahdi_loader::module_file::signature::verify::Trust;
use dahdi_loader::module_file::signature::{
    module_sig_check, AppendedSignature, Enforcement, SignerId,
};
use dahdi_loader::module_file::Compression;
use dahdi_tests::{GuestSuite, KernelUnderTest};
use nix::errno::Errno;
use nix::kmod::{delete_module, finit_module, DeleteModuleFlags, ModuleInitFlags};
use signing::*;

const DIR: &str = "/etc/vm-signatures";
const CASES: &str = "/etc/vm-signatures/cases";

/// The in-tree module used for the kernel's own key: small, no dependencies, no side
/// effects when loaded (without the suffix: Debian 13 compresses it).
const IN_TREE: &str = "kernel/lib/crc-itu-t";

// ---- guest ------------------------------------------------------------------------------

/// Every case offered to the kernel; its answer must be the predicted one.
fn the_kernel_answers_as_predicted() {
    let enforced = std::fs::read_to_string("/sys/module/module/parameters/sig_enforce")
        .expect("sig_enforce parameter")
        .trim()
        == "Y";
    let manifest = std::fs::read_to_string(CASES).unwrap_or_else(|e| panic!("{CASES}: {e}"));
    let mut table = String::new();
    let mut wrong = 0;
    for line in manifest.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, path, module, plain, with_enforcement] = f[..] else {
            panic!("bad line in {CASES}: {line:?}")
        };
        let expected = if enforced { with_enforcement } else { plain };
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let got = match finit_module(&file, &CString::default(), ModuleInitFlags::empty()) {
            Ok(()) => {
                let name = CString::new(module).unwrap();
                delete_module(&name, DeleteModuleFlags::O_NONBLOCK)
                    .unwrap_or_else(|e| panic!("unloading {module}: {e}"));
                "ok".to_string()
            }
            Err(e) => format!("{e:?}"),
        };
        let mark = if got == expected { "" } else { "  <-- differs" };
        wrong += usize::from(got != expected);
        writeln!(
            table,
            "{name:32} predicted {expected:13} kernel {got}{mark}"
        )
        .unwrap();
    }
    println!("sig_enforce={enforced}\n{table}");
    assert_eq!(
        wrong, 0,
        "the kernel disagrees with the prediction:\n{table}"
    );
}

// ---- host -------------------------------------------------------------------------------

/// What `finit_module` returns for `image`, as the loader predicts it.
fn predict(image: &[u8], trusted: &[Cert], enforcement: Enforcement) -> String {
    let result = match AppendedSignature::parse(image) {
        Ok(None) => Err(Errno::ENODATA),
        Err(e) => Err(e.errno()),
        Ok(Some(sig)) => match sig.check(image, trusted) {
            Trust::Trusted { .. } => Ok(()),
            Trust::CannotCheck { reason } => panic!("a case the loader cannot check: {reason}"),
            t => Err(t.errno().expect("a refusal has an errno")),
        },
    };
    match module_sig_check(result, enforcement) {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

/// The kernel's built-in signing certificate, out of the kernel image: the bzImage
/// payload (its offset and length are in the setup header), decompressed, searched for
/// a certificate with the issuer and serial number that sign `signed`.
fn builtin_certificate(vmlinuz: &Path, signed: &AppendedSignature, work: &Path) -> Cert {
    let data = read(vmlinuz);
    let word = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
    let setup_sects = match data[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let start = (setup_sects + 1) * 512 + word(0x248);
    let payload = &data[start..start + word(0x24c)];
    // The kernel's xz stream uses the x86 BCJ filter, so the real tools decompress it;
    // --single-stream ignores the size the build appends after the stream.
    let kind = Compression::from_magic(payload).unwrap_or_else(|| {
        panic!(
            "{}: payload compressed in an unknown way",
            vmlinuz.display()
        )
    });
    let packed = work.join("payload");
    std::fs::write(&packed, payload).unwrap();
    let (tool, args): (&str, &[&str]) = match kind {
        Compression::Xz => ("xz", &["-dc", "--single-stream"]),
        Compression::Zstd => ("zstd", &["-dcq"]),
        Compression::Gzip => ("gzip", &["-dcq"]),
    };
    let out = std::process::Command::new(tool)
        .args(args)
        .arg(&packed)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): apt-get install xz-utils zstd"));
    assert!(
        !out.stdout.is_empty(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vmlinux = out.stdout;
    let signer = &signed.message.signers[0];
    let SignerId::IssuerAndSerial {
        issuer_display: Some(name),
        ..
    } = &signer.signer
    else {
        panic!("the in-tree module's signer has no name to search for")
    };
    let wanted = signer.kernel_key_id();
    let mut from = 0;
    while let Some(at) = find(&vmlinux[from..], name.as_bytes()).map(|a| a + from) {
        for start in (at.saturating_sub(2048)..at).rev() {
            if vmlinux[start] != 0x30 || vmlinux[start + 1] != 0x82 {
                continue;
            }
            let len = (usize::from(vmlinux[start + 2]) << 8) | usize::from(vmlinux[start + 3]);
            let Some(der) = vmlinux.get(start..start + 4 + len) else {
                continue;
            };
            if let Ok(cert) = Cert::from_der(der) {
                if cert.kernel_id() == wanted {
                    return cert;
                }
            }
        }
        from = at + 1;
    }
    panic!("no certificate for {name:?} in {}", vmlinuz.display())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A case: its name, the image offered to the kernel, and the module's name.
struct Case {
    name: &'static str,
    image: Vec<u8>,
    module: &'static str,
}

/// The offsets and lengths of the SignedData's elements in a sign-file message, and where
/// its contents start: ContentInfo > [0] > SignedData > (version, digestAlgorithms,
/// contentInfo, signerInfos).
fn signed_data_elements(blob: &[u8]) -> (usize, usize, Vec<(usize, usize)>) {
    let ci = Reader::new(blob).next_tlv().unwrap();
    let mut r = ci.reader();
    r.next_tlv().unwrap();
    let sd = r.next_tlv().unwrap().reader().next_tlv().unwrap();
    let mut elements = Vec::new();
    let mut er = sd.reader();
    while !er.is_empty() {
        let t = er.next_tlv().unwrap();
        elements.push((offset_in(blob, t.whole), t.whole.len()));
    }
    (offset_in(blob, sd.content), sd.content.len(), elements)
}

/// A copy of `blob` with one byte changed.
fn with_byte(blob: &[u8], at: usize, value: u8) -> Vec<u8> {
    let mut out = blob.to_vec();
    out[at] = value;
    out
}

fn cases(kernel: &KernelUnderTest, work: &Path) -> Vec<Case> {
    let dahdi = read_module(&kernel.dahdi_dir.join("dahdi"));
    let tree = read_module(&kernel.modules_dir.join(IN_TREE));
    let dahdi_unsigned = strip_signature(&dahdi);
    let tree_unsigned = strip_signature(&tree);
    let dahdi_blob = signature_blob(&dahdi);
    let blob = signature_blob(&tree);
    let mut out = Vec::new();
    let mut add = |name, image, module| {
        out.push(Case {
            name,
            image,
            module,
        })
    };
    let dkms = |blob: &[u8], id_type| append_signature(&dahdi_unsigned, blob, id_type);
    let in_tree = |blob: &[u8]| append_signature(&tree_unsigned, blob, 2);

    // Signatures left alone: DKMS's key is unknown, the kernel's own is trusted.
    add("dkms-signed", dahdi.clone(), "dahdi");
    add("in-tree-signed", tree.clone(), "crc_itu_t");
    add("in-tree-unsigned", tree_unsigned.clone(), "crc_itu_t");
    // A changed module: unchecked under an unknown key, rejected under a known one.
    add("dkms-changed", change_description(&dahdi), "dahdi");
    add("in-tree-changed", change_description(&tree), "crc_itu_t");

    // The information block and the blob as a whole.
    add("zero-length", dkms(b"", 2), "dahdi");
    add("garbage", dkms(&[0x5a; 300], 2), "dahdi");
    add("pgp-id", dkms(&dahdi_blob, 0), "dahdi");
    add("x509-id", dkms(&dahdi_blob, 1), "dahdi");
    add("truncated", dkms(&dahdi_blob[..200], 2), "dahdi");
    add("too-large", dkms(&[0x30; 70000], 2), "dahdi");
    let info = dkms(&dahdi_blob, 2).len() - SIGNATURE_MAGIC.len() - 12;
    add(
        "nonzero-hash-field",
        with_byte(&dkms(&dahdi_blob, 2), info + 1, 1),
        "dahdi",
    );
    let mut overrun = dkms(&dahdi_blob, 2);
    let whole = (dahdi_unsigned.len() + dahdi_blob.len()) as u32;
    overrun[info + 8..info + 12].copy_from_slice(&whole.to_be_bytes());
    add("length-overrun", overrun, "dahdi");

    // What the kernel's decoder reads beyond DER: bytes after the message, BER lengths.
    add(
        "in-tree-trailing-bytes",
        in_tree(&[&blob[..], b"junk"].concat()),
        "crc_itu_t",
    );
    assert_eq!(&blob[..2], &[0x30, 0x82]);
    let indefinite = [&[0x30, 0x80][..], &blob[4..], &[0, 0]].concat();
    add(
        "in-tree-indefinite-length",
        in_tree(&indefinite),
        "crc_itu_t",
    );

    // Fields of the in-tree signature, one at a time.
    let (sd_at, sd_len, elements) = signed_data_elements(&blob);
    let (version_at, _) = elements[0];
    assert_eq!(&blob[version_at..version_at + 3], &[2, 1, 1]);
    add(
        "signeddata-version-2",
        in_tree(&with_byte(&blob, version_at + 2, 2)),
        "crc_itu_t",
    );
    let (infos_at, infos_len) = *elements.last().unwrap();
    // The first SignerInfo's version: SET > SEQUENCE > INTEGER.
    let signer_version_at = infos_at
        + blob[infos_at..infos_at + infos_len]
            .windows(3)
            .position(|w| w == [2, 1, 1])
            .expect("the signer's version");
    add(
        "signerinfo-version-3-in-1",
        in_tree(&with_byte(&blob, signer_version_at + 2, 3)),
        "crc_itu_t",
    );
    // The signer's algorithm named in a way the kernel does not take: RSA named
    // sha256WithRSAEncryption (Debian 12's kernel key is RSA), or an ECDSA OID the kernel
    // does not know (Debian 13's is ECDSA P-384, ecdsa-with-SHA256). Then a digest the
    // kernel does not know.
    let rsa = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    let ecdsa_sha256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    if let Some(at) = find(&blob, &rsa) {
        add(
            "in-tree-sha256WithRSA-signer",
            in_tree(&with_byte(&blob, at + rsa.len() - 1, 0x0b)),
            "crc_itu_t",
        );
    } else {
        let at = find(&blob, &ecdsa_sha256)
            .expect("the signer's algorithm: rsaEncryption or ecdsa-with-SHA256");
        add(
            "in-tree-unknown-ecdsa-signer",
            in_tree(&with_byte(&blob, at + ecdsa_sha256.len() - 1, 0x7f)),
            "crc_itu_t",
        );
    }
    let sha256 = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    let at = blob
        .windows(sha256.len())
        .rposition(|w| w == sha256)
        .expect("sha256 in the signer");
    add(
        "in-tree-unknown-digest",
        in_tree(&with_byte(&blob, at + 10, 0x7f)),
        "crc_itu_t",
    );

    // Empty and missing parts, the SignedData rebuilt around them.
    let rewrap = |parts: &[&[u8]]| {
        let sd = tlv(0x30, &parts.concat());
        tlv(0x30, &[&blob[4..15], &tlv(0xa0, &sd)[..]].concat())
    };
    let sd_end = sd_at + sd_len;
    let (digests_at, digests_len) = elements[1];
    add(
        "no-signer",
        in_tree(&rewrap(&[&blob[sd_at..infos_at], &[0x31, 0]])),
        "crc_itu_t",
    );
    add(
        "empty-digest-algorithms",
        in_tree(&rewrap(&[
            &blob[sd_at..digests_at],
            &[0x31, 0],
            &blob[digests_at + digests_len..sd_end],
        ])),
        "crc_itu_t",
    );
    add(
        "empty-certificate-set",
        in_tree(&rewrap(&[
            &blob[sd_at..infos_at],
            &[0xa0, 0],
            &blob[infos_at..sd_end],
        ])),
        "crc_itu_t",
    );
    add(
        "no-signed-data",
        in_tree(&tlv(0x30, &blob[4..15])),
        "crc_itu_t",
    );

    // Signatures made here, with a key the kernel does not hold.
    let (key, cert) = new_key(work, "vm", "rsa:2048", "/CN=VM test key");
    add(
        "key-id-signer",
        sign(work, &dahdi_unsigned, "sha256", &key, &cert, true),
        "dahdi",
    );
    let cms = |module: &[u8], extra: &[&str]| openssl_cms(work, module, &key, &cert, extra);
    add(
        "signed-attributes",
        dkms(&cms(&dahdi_unsigned, &["-nocerts", "-nosmimecap"]), 2),
        "dahdi",
    );
    add(
        "smime-capabilities",
        dkms(&cms(&dahdi_unsigned, &["-nocerts"]), 2),
        "dahdi",
    );
    // The module itself carried in the message: too large for the decoder (dahdi.ko), or
    // read and refused because module signatures are detached (the small module).
    let attach = ["-nocerts", "-noattr", "-nodetach"];
    add(
        "attached-content-large",
        dkms(&cms(&dahdi_unsigned, &attach), 2),
        "dahdi",
    );
    add(
        "attached-content",
        in_tree(&cms(&tree_unsigned, &attach)),
        "crc_itu_t",
    );
    let carried = dkms(&cms(&dahdi_unsigned, &["-noattr"]), 2);
    add(
        "carried-certificate-changed",
        change_description(&carried),
        "dahdi",
    );
    add("carried-certificate", carried, "dahdi");
    out
}

/// A module's ELF image: the file `stem.ko`, or `stem.ko.xz` / `.ko.zst` / `.ko.gz`
/// decompressed by the tool that made it (the kernel checks the signature of what it
/// decompressed, and the cases are offered uncompressed).
fn read_module(stem: &Path) -> Vec<u8> {
    for suffix in dahdi_tests::kernel::MODULE_SUFFIXES {
        let path = PathBuf::from(format!("{}{suffix}", stem.display()));
        if !path.is_file() {
            continue;
        }
        let tool = match *suffix {
            ".ko" => return read(&path),
            ".ko.xz" => "xz",
            ".ko.zst" => "zstd",
            _ => "gzip",
        };
        let out = std::process::Command::new(tool)
            .arg("-dc")
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): apt-get install xz-utils zstd"));
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "{tool} -dc {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        return out.stdout;
    }
    panic!("no module {}.ko[.xz|.zst|.gz]", stem.display())
}

/// The modules `file` depends on, as modinfo reads them from its .modinfo section.
fn depends(file: &Path) -> Vec<String> {
    let out = std::process::Command::new("modinfo")
        .args(["-F", "depends"])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("modinfo: {e}: apt-get install kmod"));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn suite(name: &str, enforced: bool) -> GuestSuite {
    let suite = GuestSuite::new(name).program(std::env::current_exe().expect("current_exe"));
    if enforced {
        suite.kernel_arg("module.sig_enforce=1")
    } else {
        suite
    }
}

/// The cases for the platform's kernel: its DKMS-built dahdi, its in-tree module, its
/// built-in certificate. dahdi's dependencies (Debian 13's DAHDI needs hdlc and
/// ppp_generic, both in-tree and signed with the kernel's key) are loaded first, so that
/// each case's answer is about its signature.
fn prepare(kernel: &KernelUnderTest, mut suite: GuestSuite) -> Result<GuestSuite, String> {
    let tree = read_module(&kernel.modules_dir.join(IN_TREE));
    let dahdi_file = dahdi_tests::kernel::MODULE_SUFFIXES
        .iter()
        .map(|s| kernel.dahdi_dir.join(format!("dahdi{s}")))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no dahdi module in {}", kernel.dahdi_dir.display()))?;
    for dep in depends(&dahdi_file) {
        suite = suite.module(&dep, &[]);
    }

    let work = tempfile::tempdir().unwrap();
    let signed = AppendedSignature::parse(&tree).unwrap().unwrap();
    let trusted = [builtin_certificate(&kernel.image, &signed, work.path())];
    let mut manifest = String::new();
    for Case {
        name,
        image,
        module,
    } in cases(kernel, work.path())
    {
        let path = format!("{DIR}/{name}.ko");
        let plain = predict(&image, &trusted, Enforcement::None);
        let strict = predict(&image, &trusted, Enforcement::SigEnforce);
        writeln!(manifest, "{name}\t{path}\t{module}\t{plain}\t{strict}").unwrap();
        suite = suite.file(&path, 0o644, image);
    }
    Ok(suite.file(CASES, 0o644, manifest))
}

fn main() {
    if dahdi_tests::guest::is_guest_invocation() {
        dahdi_tests::guest::guest_main(dahdi_tests::guest_tests![the_kernel_answers_as_predicted]);
        return;
    }
    dahdi_tests::runner::run_prepared_suites_on_platforms(
        vec![
            suite("signatures", false),
            suite("signatures-enforced", true),
        ],
        &dahdi_tests::Platform::ALL,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &|_, kernel, suite| prepare(kernel, suite),
    )
}
