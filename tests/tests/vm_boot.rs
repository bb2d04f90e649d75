//! The boot level, on both platforms: a Debian system with systemd and udev, booted with
//! its own Debian kernel and initrd, with the real DKMS-built DAHDI modules.
//!
//! * Debian 12: a debootstrapped system with the host's kernel and the host's DKMS build of
//!   DAHDI 2.11 (no DAHDI package in the guest, so nothing loads DAHDI before the test).
//! * Debian 13: the cached trixie system itself (tests/src/platform.rs), as apt left it:
//!   DAHDI 3.1 built by trixie's DKMS (`.ko.xz`), and Debian's own boot files, installed
//!   with `dahdi` (dahdi-linux's /etc/modules-load.d/dahdi-linux.conf, and the udev rules
//!   of dahdi-linux and dahdi-tools).

use std::path::Path;
use std::time::Duration;

use dahdi_tests::chroot::Workspace;
use dahdi_tests::debian::{DebianBoot, DebianImage, TestUnit};
use dahdi_tests::platform::trixie_stage;
use dahdi_tests::qemu::QemuRun;
use dahdi_tests::runner::choose_accel;
use dahdi_tests::{KernelUnderTest, Platform};

fn cache_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// What the test unit reports, after systemd-udevd and systemd-modules-load.
const SCRIPT: &str = "\
if [ -e /sys/module/dahdi ]; then echo 'RESULT preloaded=yes'; else echo 'RESULT preloaded=no'; fi
echo \"RESULT modules_load=$(systemctl show -p Result --value systemd-modules-load.service)\"
modprobe dahdi && echo 'RESULT modprobe=ok' || echo \"RESULT modprobe=failed:$?\"
for i in 1 2 3 4 5 6 7 8 9 10; do [ -c /dev/dahdi/pseudo ] && break; sleep 0.2; done
[ -c /dev/dahdi/pseudo ] && echo 'RESULT pseudo=present' || echo 'RESULT pseudo=missing'
echo \"RESULT pseudo_group=$(stat -c %G /dev/dahdi/pseudo)\"
echo \"RESULT transcode=$(grep -c '^dahdi_transcode ' /proc/modules)\"
echo \"RESULT kernel=$(uname -r)\"
echo \"RESULT failed_units=$(systemctl list-units --failed --plain --no-legend | awk '{print $1}' | tr '\\n' ' ')\"
journalctl -b --no-pager -o cat -u systemd-modules-load.service | sed 's/^/LOG modules-load: /'";

const AFTER: &str = "systemd-udevd.service systemd-modules-load.service";

fn results(r: &QemuRun) -> (impl Fn(&str) -> bool + '_, String) {
    let ctx = r.context(60);
    (move |s: &str| r.results.lines().any(|l| l.trim() == s), ctx)
}

/// Debian 12: systemd boots, a oneshot unit runs `modprobe dahdi` (kmod resolving the DKMS
/// module through depmod's index), and the device node appears through devtmpfs/udev.
#[test]
fn debian12_systemd_unit_modprobes_dahdi() {
    let kernel = KernelUnderTest::discover().unwrap_or_else(|e| panic!("{e}"));
    let accel = choose_accel(&kernel, cache_dir());
    let t = std::time::Instant::now();
    let image = DebianImage::ensure(&kernel, &cache_dir().join("vm-cache"))
        .unwrap_or_else(|e| panic!("{e}"));
    let prepared = t.elapsed();
    let mut boot = DebianBoot::new(&image).unwrap();
    boot.test_unit("dahdi-modprobe-test", AFTER, SCRIPT)
        .unwrap();
    let r = boot.boot(accel).unwrap();
    eprintln!(
        "vm: debian12 boot level: image ready in {:.1} s, boot + test {:.1} s wall ({accel:?})",
        prepared.as_secs_f64(),
        r.wall.as_secs_f64()
    );
    let (has, ctx) = results(&r);
    assert!(!r.timed_out, "the guest did not power off in time\n{ctx}");
    assert!(
        has("RESULT preloaded=no"),
        "dahdi must not be loaded before the test\n{ctx}"
    );
    assert!(has("RESULT modprobe=ok"), "{ctx}");
    assert!(has("RESULT pseudo=present"), "{ctx}");
    assert!(has(&format!("RESULT kernel={}", kernel.release)), "{ctx}");
    assert!(has("RESULT failed_units="), "a unit failed\n{ctx}");
}

/// Debian 13, the system as apt installed it: systemd-modules-load loads `dahdi` and
/// `dahdi_transcode` at boot (dahdi-linux's modules-load.d file; modprobe pulls in the
/// in-tree slhc, ppp_generic and hdlc that trixie's dahdi.ko needs), udev creates
/// /dev/dahdi/pseudo, and no unit fails.
#[test]
fn debian13_boots_with_debians_own_dahdi_boot_files() {
    let cache = cache_dir().join("vm-cache");
    let kernel = Platform::Debian13
        .kernel(&cache)
        .unwrap_or_else(|e| panic!("{e}"));
    let accel = choose_accel(&kernel, cache_dir());
    let t = std::time::Instant::now();
    let stage = trixie_stage(&cache).unwrap_or_else(|e| panic!("{e}"));
    let ws = Workspace::from_stage(&stage).unwrap_or_else(|e| panic!("{e}"));
    TestUnit::new("dahdi-modprobe-test", AFTER, SCRIPT)
        .install(&ws)
        .unwrap_or_else(|e| panic!("{e}"));
    let prepared = t.elapsed();
    let r = ws
        .boot(&kernel.release, accel, Duration::from_secs(240), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "vm: debian13 boot level: workspace ready in {:.1} s, pack + boot + test {:.1} s wall ({accel:?})",
        prepared.as_secs_f64(),
        r.wall.as_secs_f64()
    );
    let (has, ctx) = results(&r);
    assert!(!r.timed_out, "the guest did not power off in time\n{ctx}");
    assert!(
        has("RESULT preloaded=yes"),
        "systemd-modules-load did not load dahdi (dahdi-linux's modules-load.d)\n{ctx}"
    );
    assert!(has("RESULT modules_load=success"), "{ctx}");
    assert!(
        has("RESULT transcode=1"),
        "dahdi_transcode not loaded\n{ctx}"
    );
    assert!(has("RESULT modprobe=ok"), "{ctx}");
    assert!(has("RESULT pseudo=present"), "{ctx}");
    assert!(has(&format!("RESULT kernel={}", kernel.release)), "{ctx}");
    assert!(has("RESULT failed_units="), "a unit failed\n{ctx}");
}
