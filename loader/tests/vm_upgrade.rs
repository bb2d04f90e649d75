//! The kernel-upgrade scenario the loader exists for, at the boot level.
//!
//! A Debian system runs kernel A with dahdi-dkms (a cached stage built with real apt in a
//! chroot). The loader and its dist files are installed as an operator would. Then, in the
//! chroot, with Debian's real maintainer scripts and kernel hooks:
//!
//! 1. `apt-get install linux-image-B` without headers: DKMS skips B, the loader's kernel
//!    hook warns loudly, dpkg still succeeds, and `dahdi-loader verify B` exits 1 naming
//!    linux-headers-B.
//! 2. `apt-get install linux-headers-B`: DKMS really builds DAHDI for B, the hook is quiet,
//!    `verify B` exits 0.
//!
//! Then kernel B boots (qemu, with a `pci-testdev` device), and a test unit ordered after
//! dahdi-loader.service reports: the boot unit succeeded, dahdi is loaded, /dev/dahdi/pseudo
//! reads, uname is B. The udev path is checked in the same boot: a test-only
//! `/etc/dahdi-loader/test.conf` aliases the pci-testdev to dahdi_dynamic_loc, so the real
//! udev rule asks systemd for `dahdi-loader@DEV.service`. Because dahdi-loader.service also
//! loads what the hardware needs, the boot alone cannot tell which of the two loaded
//! dahdi_dynamic_loc; so the test unit then unloads it and hot-unplugs and rescans the device:
//! only the udev rule can start a new instance of the template unit, and only that instance
//! can load dahdi_dynamic_loc again.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use dahdi_tests::chroot::{StageCache, Workspace};
use dahdi_tests::runner::choose_accel;
use dahdi_tests::upgrade::{apt_install_args, kernel_pair, system_with_kernel_a};
use dahdi_tests::KernelUnderTest;

/// qemu's `pci-testdev` (Red Hat, Inc.): PCI vendor and device IDs, as sysfs shows them.
const TESTDEV_VENDOR: &str = "0x1b36";
const TESTDEV_DEVICE: &str = "0x0005";
/// The test-only loader configuration: the test device counts as DAHDI hardware.
const TEST_CONF: &str = "# test only: qemu's pci-testdev needs dahdi_dynamic_loc\n\
                         alias pci:v00001B36d00000005* dahdi_dynamic_loc\n";
const HW_MODULE: &str = "dahdi_dynamic_loc";

fn dist(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Installs the loader and its dist files as the README says, plus the test-only config.
fn install_loader(ws: &Workspace) {
    let must = |r: Result<(), dahdi_tests::HarnessError>| r.unwrap_or_else(|e| panic!("{e}"));
    let bin = std::fs::read(env!("CARGO_BIN_EXE_dahdi-loader")).expect("loader binary");
    must(ws.write("/usr/sbin/dahdi-loader", 0o755, &bin));
    let hook = dist("kernel/zz-dahdi-loader");
    must(ws.write("/etc/kernel/postinst.d/zz-dahdi-loader", 0o755, &hook));
    must(ws.write(
        "/etc/kernel/header_postinst.d/zz-dahdi-loader",
        0o755,
        &hook,
    ));
    for unit in ["dahdi-loader.service", "dahdi-loader@.service"] {
        must(ws.write(
            &format!("/etc/systemd/system/{unit}"),
            0o644,
            &dist(&format!("systemd/{unit}")),
        ));
    }
    must(ws.symlink(
        "/etc/systemd/system/multi-user.target.wants/dahdi-loader.service",
        "/etc/systemd/system/dahdi-loader.service",
    ));
    must(ws.write(
        "/etc/udev/rules.d/90-dahdi-loader.rules",
        0o644,
        &dist("udev/90-dahdi-loader.rules"),
    ));
    must(ws.write("/etc/dahdi-loader/test.conf", 0o644, TEST_CONF.as_bytes()));
}

/// Nothing but the loader may load DAHDI at boot, or the boot would prove nothing.
fn assert_nothing_else_loads_dahdi(ws: &Workspace) {
    for dir in [
        "/etc/modules-load.d",
        "/usr/lib/modules-load.d",
        "/lib/modules-load.d",
        "/usr/local/lib/modules-load.d",
    ] {
        for e in std::fs::read_dir(ws.path(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let t = std::fs::read_to_string(e.path()).unwrap_or_default();
            assert!(
                !t.lines().any(|l| l.trim_start().starts_with("dahdi")),
                "{}/{:?} loads DAHDI at boot; the test could not tell who loaded it",
                dir,
                e.file_name()
            );
        }
    }
    let modules = std::fs::read_to_string(ws.path("/etc/modules")).unwrap_or_default();
    assert!(
        !modules.lines().any(|l| l.trim_start().starts_with("dahdi")),
        "/etc/modules loads DAHDI:\n{modules}"
    );
}

/// The test unit: after dahdi-loader.service, reports `RESULT key=value` lines and journal
/// excerpts (`LOG`) on the results port, then powers the guest off.
fn install_check_unit(ws: &Workspace) {
    let script = format!(
        r#"#!/bin/sh
r() {{ echo "RESULT $1"; }}
r "kernel=$(uname -r)"
r "main_active=$(systemctl is-active dahdi-loader.service)"
r "main_result=$(systemctl show -p Result --value dahdi-loader.service)"
r "main_status=$(systemctl show -p ExecMainStatus --value dahdi-loader.service)"
r "dahdi_loaded=$(grep -c '^dahdi ' /proc/modules)"
if timeout 20 dd if=/dev/dahdi/pseudo of=/tmp/pseudo bs=1024 count=1 2>/tmp/dd.err; then
    r "pseudo_bytes=$(stat -c %s /tmp/pseudo)"
else
    r "pseudo_bytes=failed"; sed 's/^/LOG dd: /' /tmp/dd.err
fi
dev=""
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat $d/vendor)" = "{vendor}" ] && [ "$(cat $d/device)" = "{device}" ]; then
        dev=$(basename $d)
    fi
done
r "dev=$dev"
unit="dahdi-loader@$dev.service"
r "udev_wants=$(udevadm info --query=property --property=SYSTEMD_WANTS --value /sys/bus/pci/devices/$dev)"
show() {{ systemctl show -p "$1" --value "$unit"; }}
# The instance started by coldplug is ordered after dahdi-loader.service, like this unit:
# wait until it has run.
for i in $(seq 1 240); do
    st=$(show ActiveState)
    [ "$st" != activating ] && [ "$(show ExecMainExitTimestampMonotonic)" != 0 ] && break
    sleep 0.5
done
r "boot_instance_state=$(show ActiveState)"
r "boot_instance_result=$(show Result)"
r "boot_instance_status=$(show ExecMainStatus)"
r "hw_loaded_at_boot=$(grep -c '^{hw} ' /proc/modules)"
journalctl -b --no-pager -o cat -u dahdi-loader.service | sed 's/^/LOG main: /'
journalctl -b --no-pager -o cat -u "$unit" | sed 's/^/LOG instance: /'
# Hotplug: unload the module only the hardware asks for, then unplug and rescan the device.
inv0=$(show InvocationID)
exit0=$(show ExecMainExitTimestampMonotonic)
rmmod {hw} && r "rmmod=ok" || r "rmmod=failed"
r "hw_loaded_after_rmmod=$(grep -c '^{hw} ' /proc/modules)"
echo 1 > /sys/bus/pci/devices/$dev/remove
echo 1 > /sys/bus/pci/rescan
# Wait for a new run to have finished: a new main process exit, and not running.
for i in $(seq 1 240); do
    ex=$(show ExecMainExitTimestampMonotonic)
    [ "$ex" != 0 ] && [ "$ex" != "$exit0" ] && [ "$(show ActiveState)" != activating ] && break
    sleep 0.5
done
[ "$(show InvocationID)" != "$inv0" ] && r "hotplug_new_invocation=yes" || r "hotplug_new_invocation=no"
r "hotplug_result=$(show Result)"
r "hotplug_status=$(show ExecMainStatus)"
r "hw_loaded_after_hotplug=$(grep -c '^{hw} ' /proc/modules)"
journalctl -b --no-pager -o cat -u "$unit" | sed 's/^/LOG instance: /' | tail -n 5
"#,
        vendor = TESTDEV_VENDOR,
        device = TESTDEV_DEVICE,
        hw = HW_MODULE,
    );
    let unit = "[Unit]\nDescription=dahdi-loader upgrade check\nAfter=dahdi-loader.service\n\n\
                [Service]\nType=oneshot\nStandardOutput=file:/dev/ttyS1\nStandardError=file:/dev/ttyS1\n\
                ExecStartPre=/bin/sh -c 'echo @@BOOTED > /dev/ttyS1'\n\
                ExecStart=/usr/local/sbin/upgrade-check\n\
                ExecStopPost=/bin/sh -c 'echo @@DONE > /dev/ttyS1; systemctl --no-block poweroff'\n\n\
                [Install]\nWantedBy=multi-user.target\n";
    let must = |r: Result<(), dahdi_tests::HarnessError>| r.unwrap_or_else(|e| panic!("{e}"));
    must(ws.write("/usr/local/sbin/upgrade-check", 0o755, script.as_bytes()));
    must(ws.write(
        "/etc/systemd/system/upgrade-check.service",
        0o644,
        unit.as_bytes(),
    ));
    must(ws.symlink(
        "/etc/systemd/system/multi-user.target.wants/upgrade-check.service",
        "/etc/systemd/system/upgrade-check.service",
    ));
}

#[test]
fn kernel_upgrade_is_warned_verified_built_and_loaded_at_boot() {
    let started = Instant::now();
    let mut times: Vec<(&str, Duration)> = Vec::new();
    let mut lap = Instant::now();
    let mut mark = |what: &'static str, times: &mut Vec<(&str, Duration)>| {
        times.push((what, lap.elapsed()));
        eprintln!("vm-upgrade: {what}: {:.1} s", lap.elapsed().as_secs_f64());
        lap = Instant::now();
    };

    let pair = kernel_pair().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (pair.a.clone(), pair.b.clone());
    eprintln!("vm-upgrade: kernel A = {a}, kernel B = {b}");
    let cache = StageCache::new(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"));
    let stage_a = system_with_kernel_a(&cache, &pair).unwrap_or_else(|e| panic!("{e}"));
    // Only the download of B's packages is cached (apt's archive in a derived stage); the
    // installs below run every time, with every hook.
    let image_b = format!("linux-image-{b}");
    let headers_b = format!("linux-headers-{b}");
    let mut download = apt_install_args(&[&image_b, &headers_b]);
    download.insert(2, "--download-only".into());
    let stage = cache
        .derive(
            &stage_a,
            "kernel-b-debs",
            &[
                vec!["apt-get".into(), "update".into(), "-q".into()],
                download,
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    mark("stages (cached after the first run)", &mut times);

    let ws = Workspace::from_stage(&stage).unwrap_or_else(|e| panic!("{e}"));
    install_loader(&ws);
    assert_nothing_else_loads_dahdi(&ws);
    mark("workspace copy + loader install", &mut times);

    {
        let root = ws.chroot().unwrap_or_else(|e| panic!("{e}"));
        let run = |args: &[&str]| root.run(args).unwrap_or_else(|e| panic!("{e}"));
        // apt-get install in the chroot; dpkg must succeed. Returns apt's output.
        let install = |pkg: &str| {
            let args = apt_install_args(&[pkg]);
            let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
            let apt = text(&out);
            assert!(
                out.status.success(),
                "apt-get install {pkg} failed:\n{}",
                tail(&apt, 60)
            );
            apt
        };

        // 1. Kernel B without its headers.
        let apt = install(&image_b);
        let dpkg = text(&run(&["dpkg-query", "-W", "-f=${Status}", &image_b]));
        assert_eq!(dpkg, "install ok installed", "dpkg's view of {image_b}");
        let warning = format!("WARNING: DAHDI will NOT load after booting kernel {b}.");
        assert!(
            apt.contains(&warning),
            "the kernel hook did not warn in apt's output:\n{}",
            tail(&apt, 60)
        );
        assert!(
            !ws.path(&format!("/lib/modules/{b}/updates/dkms/dahdi.ko"))
                .exists(),
            "DKMS built for {b} without headers?"
        );
        let verify = run(&["/usr/sbin/dahdi-loader", "verify", &b]);
        let v = text(&verify);
        assert_eq!(verify.status.code(), Some(1), "verify {b}:\n{v}");
        assert!(
            v.contains(&format!("install {headers_b}")),
            "the fix does not name {headers_b}:\n{v}"
        );
        mark(
            "apt-get install linux-image-B (initramfs, hooks)",
            &mut times,
        );

        // 2. B's headers: DKMS builds DAHDI for B in the chroot.
        let apt = install(&headers_b);
        // The header_postinst.d copy of the hook ran after DKMS, and found B good.
        assert!(
            apt.contains(&format!("kernel {b}: DAHDI will load")),
            "the headers' kernel hook did not run:\n{}",
            tail(&apt, 60)
        );
        assert!(
            !apt.contains("WARNING: DAHDI will NOT load"),
            "the hook still warns after DKMS built for {b}:\n{}",
            tail(&apt, 60)
        );
        let dkms = text(&run(&["dkms", "status", "-m", "dahdi", "-k", &b]));
        assert!(
            dkms.contains(&format!(", {b}, x86_64: installed")),
            "dkms status for {b}: {dkms}"
        );
        let ko = format!("/lib/modules/{b}/updates/dkms/dahdi.ko");
        let vermagic = text(&run(&["modinfo", "-F", "vermagic", &ko]));
        assert!(
            vermagic.starts_with(&format!("{b} ")),
            "modinfo vermagic of the new build: {vermagic}"
        );
        let verify = run(&["/usr/sbin/dahdi-loader", "verify", &b]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "verify {b}:\n{}",
            text(&verify)
        );
        mark("apt-get install linux-headers-B (DKMS build)", &mut times);
    } // the chroot's mounts go away before the rootfs is packed

    install_check_unit(&ws);
    let host_kernel = KernelUnderTest::discover().unwrap_or_else(|e| panic!("{e}"));
    let accel = choose_accel(&host_kernel, Path::new(env!("CARGO_TARGET_TMPDIR")));
    let report = ws
        .boot(
            &b,
            accel,
            Duration::from_secs(480),
            &["-device", "pci-testdev"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    mark("pack image + boot B + checks", &mut times);

    let results: BTreeMap<String, String> = report
        .results
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    let ctx = format!(
        "results port:\n{}\n---- console (tail) ----\n{}",
        report.results,
        tail(&report.console, 80)
    );
    let get = |k: &str| results.get(k).map(String::as_str).unwrap_or("<missing>");
    assert!(
        !report.timed_out,
        "the guest did not power off in time\n{ctx}"
    );
    assert!(
        report.results.contains("@@DONE"),
        "check unit did not finish\n{ctx}"
    );
    let pseudo: usize = get("pseudo_bytes").parse().unwrap_or(0);
    assert!(pseudo > 0, "reading /dev/dahdi/pseudo\n{ctx}");
    let dev = get("dev");
    assert!(
        !dev.is_empty() && dev != "<missing>",
        "no pci-testdev\n{ctx}"
    );
    let instance = format!("dahdi-loader@{dev}.service");
    assert!(
        get("udev_wants").split_whitespace().any(|w| w == instance),
        "udev did not attach {instance} to the device\n{ctx}"
    );
    // (key on the results port, expected value, what it is)
    let expected = [
        ("kernel", b.as_str(), "the booted kernel"),
        ("main_active", "active", "dahdi-loader.service"),
        ("main_result", "success", "dahdi-loader.service"),
        ("main_status", "0", "dahdi-loader.service exit"),
        ("dahdi_loaded", "1", "dahdi in /proc/modules"),
        ("boot_instance_result", "success", "coldplug instance"),
        ("boot_instance_status", "0", "coldplug instance exit"),
        ("hw_loaded_at_boot", "1", "hardware module at boot"),
        ("rmmod", "ok", "unloading the hardware module"),
        ("hw_loaded_after_rmmod", "0", "hardware module after rmmod"),
        (
            "hotplug_new_invocation",
            "yes",
            "re-added device starts one",
        ),
        ("hotplug_result", "success", "hotplug instance"),
        ("hotplug_status", "0", "hotplug instance exit"),
        (
            "hw_loaded_after_hotplug",
            "1",
            "udev-started loader loads it",
        ),
    ];
    for (key, want, what) in expected {
        assert_eq!(
            get(key),
            want,
            "{what} ({key}; {instance}, {HW_MODULE})\n{ctx}"
        );
    }

    eprintln!("vm-upgrade: results port:\n{}", report.results);
    for (what, d) in &times {
        eprintln!("vm-upgrade: {:>6.1} s  {what}", d.as_secs_f64());
    }
    eprintln!(
        "vm-upgrade: total {:.1} s ({accel:?})",
        started.elapsed().as_secs_f64()
    );
}
