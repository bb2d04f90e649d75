//! The boot level: a Debian rootfs with systemd and udev, booted with
//! Debian's kernel and initrd, with the real DKMS-built DAHDI modules.

use std::path::Path;

use dahdi_tests::debian::{DebianBoot, DebianImage};
use dahdi_tests::runner::choose_accel;
use dahdi_tests::KernelUnderTest;

fn cache_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// Proves the level: systemd boots, a oneshot unit runs `modprobe dahdi`
/// (kmod resolving the DKMS module through depmod's index), and the device
/// node appears through devtmpfs/udev.
#[test]
fn systemd_unit_modprobes_dahdi() {
    let kernel = KernelUnderTest::discover().unwrap_or_else(|e| panic!("{e}"));
    let accel = choose_accel(&kernel, cache_dir());
    let t = std::time::Instant::now();
    let image = DebianImage::ensure(&kernel, &cache_dir().join("vm-cache"))
        .unwrap_or_else(|e| panic!("{e}"));
    let prepared = t.elapsed();
    let mut boot = DebianBoot::new(&image).unwrap();
    boot.test_unit(
        "dahdi-modprobe-test",
        "systemd-udevd.service",
        "if [ -e /sys/module/dahdi ]; then echo 'RESULT preloaded=yes'; else echo 'RESULT preloaded=no'; fi\n\
         modprobe dahdi && echo 'RESULT modprobe=ok' || echo \"RESULT modprobe=failed:$?\"\n\
         for i in 1 2 3 4 5 6 7 8 9 10; do [ -c /dev/dahdi/pseudo ] && break; sleep 0.2; done\n\
         [ -c /dev/dahdi/pseudo ] && echo 'RESULT pseudo=present' || echo 'RESULT pseudo=missing'\n\
         echo \"RESULT kernel=$(uname -r)\"",
    )
    .unwrap();
    let r = boot.boot(accel).unwrap();
    eprintln!(
        "vm: boot level: image ready in {:.1} s, boot + test {:.1} s wall ({accel:?})",
        prepared.as_secs_f64(),
        r.wall.as_secs_f64()
    );
    let has = |s: &str| r.results.lines().any(|l| l.trim() == s);
    let ctx = format!(
        "results port:\n{}\n---- console ----\n{}",
        r.results, r.console
    );
    assert!(!r.timed_out, "the guest did not power off in time\n{ctx}");
    assert!(
        has("RESULT preloaded=no"),
        "dahdi must not be loaded before the test\n{ctx}"
    );
    assert!(has("RESULT modprobe=ok"), "{ctx}");
    assert!(has("RESULT pseudo=present"), "{ctx}");
    assert!(has(&format!("RESULT kernel={}", kernel.release)), "{ctx}");
}
