//! `dahdi-loader` on a kernel booted with `module.sig_enforce=1` (initramfs level, one boot).
//!
//! DKMS signs what it builds with its own key (/var/lib/dkms/mok.key), which Debian's kernel
//! does not trust unless it was enrolled as a MOK. With enforcement on, the kernel rejects the
//! module (EKEYREJECTED). First, without the DKMS certificate on the system, the loader cannot
//! know and asks the kernel: the rejection must be explained in words. Then, with the
//! certificate in place, the loader must predict the rejection from the kernel's keyrings
//! (/proc/keys), refuse before the kernel is asked, and `verify` must not claim DAHDI loads.

mod common;
mod vm;

use vm::*;

/// The command line took effect: the kernel reports enforcement in sysfs.
fn kernel_enforces_signatures() {
    let v = std::fs::read_to_string("/sys/module/module/parameters/sig_enforce")
        .expect("sig_enforce parameter");
    assert_eq!(v.trim(), "Y");
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap();
    assert!(cmdline.contains("module.sig_enforce=1"), "{cmdline}");
}

/// The kernel rejects the DKMS-signed dahdi.ko; the loader names the errno, explains it
/// (signatures enforced, key not trusted, how to enrol it) and exits 3.
fn untrusted_key_is_rejected_and_explained() {
    assert!(
        !std::path::Path::new(DKMS_CERT).exists(),
        "{DKMS_CERT} must be absent for this test"
    );
    assert_kernel_refuses(
        "Loading of module with unavailable key is rejected",
        ("EKEYREJECTED", "Key was rejected by service"),
        &["enforces module signatures", "mokutil --import"],
    );
}

/// With the DKMS certificate present, the loader sees that the enforcing kernel does not
/// hold its key (the rejection above is the independent proof that it does not): `verify`
/// says DAHDI would not load (exit 2) and `ensure` refuses without asking the kernel.
fn untrusted_key_is_predicted_from_the_kernel_keyrings() {
    std::fs::create_dir_all("/var/lib/dkms").unwrap();
    std::fs::copy(CERT_COPY, DKMS_CERT).expect("installing the DKMS certificate");
    let verify = loader(&["verify"]);
    assert_eq!(verify.code, Some(2), "{verify}");
    assert!(
        verify.stdout.contains("do not hold the DKMS signing key")
            && verify.stdout.contains("mokutil --import"),
        "{verify}"
    );
    let before = dmesg();
    let run = loader(&["ensure"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("Key was rejected by service"), "{run}");
    let new = dmesg_since(&before);
    assert!(
        new.is_empty(),
        "the kernel was asked anyway:\n{}",
        new.join("\n")
    );
    assert_no_dahdi_loaded("after the predicted rejection");
}

const DKMS_CERT: &str = "/var/lib/dkms/mok.pub";
const CERT_COPY: &str = "/etc/vm-loader/mok.pub";

fn main() {
    if dahdi_tests::guest::is_guest_invocation() {
        dahdi_tests::guest::guest_main(dahdi_tests::guest_tests![
            kernel_enforces_signatures,
            untrusted_key_is_rejected_and_explained,
            untrusted_key_is_predicted_from_the_kernel_keyrings,
        ]);
        return;
    }
    // The certificate DKMS signed the host's build with; the guest installs it itself.
    let cert = std::fs::read(DKMS_CERT).unwrap_or_else(|e| {
        panic!("{DKMS_CERT} on the host: {e}; DKMS creates it when it builds dahdi-dkms")
    });
    run_host(vec![loader_suite("loader-sig-enforce")
        .kernel_arg("module.sig_enforce=1")
        .file(CERT_COPY, 0o644, cert)])
}
