//! `dahdi-loader` on a kernel booted with `module.sig_enforce=1` (initramfs level, one boot).
//!
//! DKMS signs what it builds with its own key (/var/lib/dkms/mok.key), which Debian's kernel
//! does not trust unless it was enrolled as a MOK. With enforcement on, the kernel rejects the
//! module (EKEYREJECTED): first the kernel itself is asked, as the independent proof. The
//! loader must predict that rejection from the kernel's keyrings (/proc/keys) and the key
//! named in the signature, with or without DKMS's certificate on the system, refuse before
//! the kernel is asked, say how to enrol the key, and `verify` must not claim DAHDI loads.
//! Then damaged signatures: the kernel's errno and the loader's prediction agree.

mod common;
mod vm;

use std::os::fd::AsFd;

use dahdi_loader::module_file::compression::{Compression, MAX_IMAGE_BYTES};
use nix::errno::Errno;
use nix::kmod::{finit_module, ModuleInitFlags};
use vm::*;

/// The command line took effect: the kernel reports enforcement in sysfs.
fn kernel_enforces_signatures() {
    let v = std::fs::read_to_string("/sys/module/module/parameters/sig_enforce")
        .expect("sig_enforce parameter");
    assert_eq!(v.trim(), "Y");
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap();
    assert!(cmdline.contains("module.sig_enforce=1"), "{cmdline}");
}

/// dahdi.ko's ELF image (decompressed where the module is stored compressed).
fn dahdi_image() -> Vec<u8> {
    let stored = std::fs::read(Facts::read().dahdi).expect("dahdi module");
    match Compression::from_magic(&stored) {
        Some(c) => c.decompress(&stored, MAX_IMAGE_BYTES).expect("decompress"),
        None => stored,
    }
}

/// Asks the kernel to load `image` (written to a scratch file), returning its answer.
fn kernel_answer(name: &str, image: &[u8]) -> Result<(), Errno> {
    let copy = format!("/tmp/{name}.ko");
    std::fs::write(&copy, image).unwrap();
    let file = std::fs::File::open(&copy).unwrap();
    finit_module(file.as_fd(), c"", ModuleInitFlags::empty())
}

/// The kernel rejects the DKMS-signed dahdi.ko and says why in its log.
fn untrusted_key_is_rejected_by_the_kernel() {
    let before = dmesg();
    assert_eq!(
        kernel_answer("dahdi-as-built", &dahdi_image()),
        Err(Errno::EKEYREJECTED)
    );
    let said = dmesg_since(&before).join("\n");
    assert!(
        said.contains("Loading of module with unavailable key is rejected"),
        "{said}"
    );
    assert_no_dahdi_loaded("after the kernel's refusal");
}

/// What both predictions share: `verify` says DAHDI would not load (exit 2), names the
/// key and how to enrol it; `ensure` refuses without asking the kernel.
fn assert_untrusted_key_predicted() {
    let verify = loader(&["verify"]);
    assert_eq!(verify.code, Some(2), "{verify}");
    assert!(
        verify.stdout.contains("a key the kernel does not hold")
            && verify.stdout.contains("EKEYREJECTED")
            && verify
                .stdout
                .contains("mokutil --import /var/lib/dkms/mok.pub"),
        "{verify}"
    );
    let run = ensure_refuses_without_asking_the_kernel(2);
    assert!(run.stderr.contains("Key was rejected by service"), "{run}");
}

/// Without DKMS's certificate the key identifier in the signature is enough: the kernel's
/// keyrings do not list it.
fn untrusted_key_is_predicted_without_the_certificate() {
    assert!(
        !std::path::Path::new(DKMS_CERT).exists(),
        "{DKMS_CERT} must be absent for this test"
    );
    assert_untrusted_key_predicted();
}

/// With the DKMS certificate present, the same from the certificate's key.
fn untrusted_key_is_predicted_from_the_kernel_keyrings() {
    std::fs::create_dir_all("/var/lib/dkms").unwrap();
    std::fs::copy(CERT_COPY, DKMS_CERT).expect("installing the DKMS certificate");
    assert_untrusted_key_predicted();
}

/// Damaged signatures on dahdi.ko: the kernel's own answer (finit_module of the damaged
/// image) and the loader's prediction (`verify` on the same damage in place) name the same
/// errno. Garbage where the PKCS#7 message should be is malformed (EBADMSG, refused whatever
/// the settings, so "broken"); a PGP signature is one the kernel cannot use (ENOPKG), which
/// enforcement turns into EKEYREJECTED ("mismatch": a DKMS rebuild signs it again).
fn damaged_signatures_are_refused_as_the_kernel_refuses_them() {
    let facts = Facts::read();
    let image = dahdi_image();
    const MARKER: &[u8] = b"~Module signature appended~\n";
    assert!(image.ends_with(MARKER), "dahdi.ko is not signed");
    let info_at = image.len() - MARKER.len() - 12;
    let sig_len = u32::from_be_bytes(image[info_at + 8..info_at + 12].try_into().unwrap()) as usize;
    let sig_at = info_at - sig_len;
    let garbage = |d: &mut Vec<u8>| d[sig_at..info_at].fill(0x5a);
    let pgp = |d: &mut Vec<u8>| d[info_at + 2] = 0; // id_type: PKEY_ID_PGP
    type Edit<'a> = &'a dyn Fn(&mut Vec<u8>);
    let cases: [(&str, Edit, Errno, i32); 2] = [
        ("garbage", &garbage, Errno::EBADMSG, 3),
        ("pgp", &pgp, Errno::EKEYREJECTED, 2),
    ];
    for (what, edit, errno, exit) in cases {
        // The kernel's answer, asked directly.
        let mut damaged = image.clone();
        edit(&mut damaged);
        let copy = format!("/tmp/dahdi-{what}.ko");
        std::fs::write(&copy, &damaged).unwrap();
        let file = std::fs::File::open(&copy).unwrap();
        let answer =
            nix::kmod::finit_module(file.as_fd(), c"", nix::kmod::ModuleInitFlags::empty());
        assert_eq!(answer, Err(errno), "{what}: the kernel's answer");
        // The loader's prediction, on the same damage where modprobe would find it.
        let _swap = Swapped::module(&facts.dahdi, |d| edit(d));
        let run = loader(&["verify", "--json"]);
        assert_eq!(run.code, Some(exit), "{what}\n{run}");
        let report = run.json()["kernels"][0].clone();
        let findings = report["findings"].as_array().expect("findings");
        assert!(
            findings
                .iter()
                .any(|f| f["modules"] == serde_json::json!(["dahdi"])
                    && f["message"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("({errno:?}"))),
            "{what}: no finding names dahdi and {errno:?}\n{run}"
        );
    }
    assert_no_dahdi_loaded("after the damaged signatures");
}

const DKMS_CERT: &str = "/var/lib/dkms/mok.pub";
const CERT_COPY: &str = "/etc/vm-loader/mok.pub";

fn main() {
    if dahdi_tests::guest::is_guest_invocation() {
        dahdi_tests::guest::guest_main(dahdi_tests::guest_tests![
            kernel_enforces_signatures,
            untrusted_key_is_rejected_by_the_kernel,
            untrusted_key_is_predicted_without_the_certificate,
            untrusted_key_is_predicted_from_the_kernel_keyrings,
            damaged_signatures_are_refused_as_the_kernel_refuses_them,
        ]);
        return;
    }
    run_host(
        vec![loader_suite("loader-sig-enforce").kernel_arg("module.sig_enforce=1")],
        |kernel, suite| {
            // The certificate the platform's DKMS signed its build with; the guest
            // installs it itself.
            let host = kernel.root.join(DKMS_CERT.trim_start_matches('/'));
            let cert = std::fs::read(&host).map_err(|e| {
                format!(
                    "{}: {e}; DKMS creates it when it builds dahdi-dkms",
                    host.display()
                )
            })?;
            Ok(suite.file(CERT_COPY, 0o644, cert))
        },
    )
}
