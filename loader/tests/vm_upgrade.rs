//! The kernel-upgrade scenario the loader exists for, at the boot level, on Debian 12 and
//! on Debian 13 (each release's own apt, dpkg, DKMS and kernel hooks; its two newest
//! kernel ABIs as A and B).
//!
//! A Debian system runs kernel A with dahdi-dkms and dahdi, installed as an operator
//! installs them, Recommends included (a cached stage built with real apt in a chroot:
//! `dahdi_tests::upgrade::system_with_kernel_a`), so Debian's own boot files are there:
//! dahdi-linux's modules-load.d file, the udev rules, DKMS's kernel hooks. The loader's
//! Debian package, built from this tree (tests/debpkg), is installed as an operator
//! installs it: `apt-get install ./dahdi-loader_VERSION_amd64.deb`, its maintainer scripts
//! enabling the units. Then, in the chroot, with Debian's real
//! maintainer scripts and kernel hooks:
//!
//! 1. `apt-get install linux-image-B` without headers: DKMS skips B, the loader's kernel
//!    hook warns loudly, dpkg still succeeds, and `dahdi-loader verify B` exits 1 naming
//!    linux-headers-B.
//! 2. `apt-get install linux-headers-B`: DKMS really builds DAHDI for B, the hook is quiet,
//!    `verify B` exits 0.
//!
//! Then kernel B boots (qemu, with a `pci-testdev` device), and a test unit ordered after
//! dahdi-loader.service reports: systemd-modules-load inserted dahdi (Debian's boot file)
//! and succeeded, the boot unit succeeded, dahdi is loaded, /dev/dahdi/pseudo reads, uname
//! is B, no unit failed. The udev path is checked in the same boot: a test-only
//! `/etc/dahdi-loader/test.conf` aliases the pci-testdev to dahdi_dynamic_loc, so the real
//! udev rule asks systemd for `dahdi-loader@DEV.service`. Because dahdi-loader.service also
//! loads what the hardware needs, the boot alone cannot tell which of the two loaded
//! dahdi_dynamic_loc; so the test unit then unloads it and hot-unplugs and rescans the device:
//! only the udev rule can start a new instance of the template unit, and only that instance
//! can load dahdi_dynamic_loc again. Both units must be the packaged ones (/lib/systemd).
//!
//! Then the package's life goes on in the chroot, with real apt and dpkg: an upgrade to a
//! newer build (an operator's edit of the conffile stays), remove (conffiles stay, the kept
//! kernel hooks do nothing, no unit, link or rule stays), purge (nothing stays).

use dahdi_tests::output::{tail, text};
use std::path::Path;
use std::time::{Duration, Instant};

use dahdi_tests::chroot::{Chroot, StageCache, Workspace};
use dahdi_tests::debian::TestUnit;
use dahdi_tests::runner::choose_accel;
use dahdi_tests::upgrade::{apt_install_args, kernel_pair, system_with_kernel_a};
use dahdi_tests::{KernelUnderTest, Platform};

mod debpkg;
use debpkg::{apt_install_local, stage_packages, FIRST, NEWER};

/// qemu's `pci-testdev` (Red Hat, Inc.): PCI vendor and device IDs, as sysfs shows them.
const TESTDEV_VENDOR: &str = "0x1b36";
const TESTDEV_DEVICE: &str = "0x0005";
/// The test-only loader configuration: the test device counts as DAHDI hardware.
const TEST_CONF: &str = "# test only: qemu's pci-testdev needs dahdi_dynamic_loc\n\
                         alias pci:v00001B36d00000005* dahdi_dynamic_loc\n";
const HW_MODULE: &str = "dahdi_dynamic_loc";

/// What the package installs outside /etc: gone after remove.
const PACKAGED: &[&str] = &[
    "/usr/sbin/dahdi-loader",
    "/lib/systemd/system/dahdi-loader.service",
    "/lib/systemd/system/dahdi-loader@.service",
    "/lib/systemd/system/dahdi-loader-guard.path",
    "/lib/systemd/system/dahdi-loader-guard.service",
    "/lib/systemd/system/dahdi-loader-metrics.service",
    "/lib/systemd/system/dahdi-loader-metrics.timer",
    "/lib/systemd/system/systemd-modules-load.service.d/dahdi-loader.conf",
    "/lib/udev/rules.d/90-dahdi-loader.rules",
    "/usr/share/man/man8/dahdi-loader.8.gz",
];
/// Its conffiles: kept on remove (dpkg's rule), gone after purge. The kernel hooks are
/// among them; the test checks that a hook kept after remove does nothing.
const CONFFILES: &[&str] = &[
    "/etc/kernel/postinst.d/zz-dahdi-loader",
    "/etc/kernel/header_postinst.d/zz-dahdi-loader",
    "/etc/dahdi-loader/dahdi-loader.conf",
];
/// The links postinst makes (deb-systemd-helper enable, from the units' [Install]).
const ENABLED: &[&str] = &[
    "/etc/systemd/system/multi-user.target.wants/dahdi-loader.service",
    "/etc/systemd/system/paths.target.wants/dahdi-loader-guard.path",
];

/// Where the package's state may be, in the package's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Lifecycle {
    Installed(&'static str),
    Removed,
    Purged,
}

/// deb-systemd-helper's record of what it enabled (kept while installed, for upgrades).
const HELPER_STATE: &str = "/var/lib/systemd/deb-systemd-helper-enabled/";

/// Every path whose name mentions dahdi-loader, and everything below such a directory, in
/// /etc and where systemd, udev and deb-systemd-helper read (links too, dangling or not).
/// /lib is walked, not /usr/lib: on merged /usr they are one directory.
fn loader_traces(ws: &Workspace) -> Vec<String> {
    let mut found = Vec::new();
    let mut walk: Vec<(String, bool)> = [
        "/etc",
        "/lib/systemd",
        "/lib/udev",
        "/var/lib/systemd",
        "/var/lib/dahdi-loader",
    ]
    .iter()
    .map(|d| (d.to_string(), d.contains("dahdi-loader")))
    .collect();
    if ws.path("/var/lib/dahdi-loader").exists() {
        found.push("/var/lib/dahdi-loader".to_string());
    }
    while let Some((dir, inside)) = walk.pop() {
        for e in std::fs::read_dir(ws.path(&dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let guest = format!("{dir}/{name}");
            let mine = inside || name.contains("dahdi-loader");
            if mine {
                found.push(guest.clone());
            }
            if e.file_type().unwrap().is_dir() {
                walk.push((guest, mine));
            }
        }
    }
    found.sort();
    found
}

/// dpkg's leftovers of conffile handling (*.dpkg-old, -new, -dist) anywhere in /etc.
fn dpkg_leftovers(root: &Chroot) -> String {
    let out = root
        .run(&["find", "/etc", "-name", "*.dpkg-*"])
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the system is consistent for `state`: dpkg's status, the files, the enablement
/// links, and nothing else of the loader's: no stale unit, mask, link, rule or hook.
fn assert_lifecycle(ws: &Workspace, root: &Chroot, state: Lifecycle) {
    let q = root
        .run(&[
            "dpkg-query",
            "-W",
            "-f=${Status} ${Version}",
            "dahdi-loader",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    let status = String::from_utf8_lossy(&q.stdout).into_owned();
    let traces = loader_traces(ws);
    let ctx = format!("{state:?}: dpkg says {status:?}; loader files:\n{traces:#?}");
    let exists = |p: &str| ws.path(p).exists() || ws.path(p).is_symlink();
    // What may exist besides the package's own files: the operator's configuration until
    // purge, deb-systemd-helper's record while installed.
    let config_dir = ["/etc/dahdi-loader", "/etc/dahdi-loader/test.conf"];
    let allowed: Vec<&str> = match state {
        Lifecycle::Installed(version) => {
            assert_eq!(status, format!("install ok installed {version}"), "{ctx}");
            for p in PACKAGED.iter().chain(CONFFILES).chain(ENABLED) {
                assert!(exists(p), "{p} missing\n{ctx}");
            }
            for link in ENABLED {
                let target = std::fs::read_link(ws.path(link)).unwrap();
                // deb-systemd-helper names the unit where it found it: /lib on Debian 12,
                // /usr/lib on Debian 13 (merged /usr, one directory either way).
                assert!(
                    target.starts_with("/lib/systemd/system/")
                        || target.starts_with("/usr/lib/systemd/system/"),
                    "{link} -> {}\n{ctx}",
                    target.display()
                );
            }
            let mut a: Vec<&str> = PACKAGED
                .iter()
                .chain(CONFFILES)
                .chain(ENABLED)
                .copied()
                .collect();
            a.extend(config_dir);
            a
        }
        Lifecycle::Removed => {
            assert_eq!(
                status,
                format!("deinstall ok config-files {NEWER}"),
                "{ctx}"
            );
            for p in PACKAGED.iter().chain(ENABLED) {
                assert!(!exists(p), "{p} stays after remove\n{ctx}");
            }
            for p in CONFFILES {
                assert!(
                    exists(p),
                    "conffile {p} went on remove (only purge removes it)\n{ctx}"
                );
            }
            let mut a: Vec<&str> = CONFFILES.to_vec();
            a.extend(config_dir);
            a
        }
        Lifecycle::Purged => {
            assert!(
                status.is_empty() || status.starts_with("unknown ok not-installed"),
                "{ctx}"
            );
            Vec::new()
        }
    };
    let stray: Vec<&String> = traces
        .iter()
        .filter(|t| !allowed.contains(&t.as_str()))
        .filter(|t| !(matches!(state, Lifecycle::Installed(_)) && t.starts_with(HELPER_STATE)))
        .filter(|t| !(state != Lifecycle::Purged && t.starts_with("/var/lib/dahdi-loader")))
        .collect();
    assert!(stray.is_empty(), "stray loader files: {stray:#?}\n{ctx}");
    let leftovers = dpkg_leftovers(root);
    assert!(
        leftovers.trim().is_empty(),
        "dpkg's conffile leftovers:\n{leftovers}\n{ctx}"
    );
}

/// The test-only configuration, written as an operator would after installing.
fn install_test_conf(ws: &Workspace) {
    ws.write("/etc/dahdi-loader/test.conf", 0o644, TEST_CONF.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Debian's own boot file is there, as on an operator's system: systemd-modules-load loads
/// `dahdi` early at every boot, before the loader's unit. The boot then shows the two
/// together (systemd-modules-load inserts dahdi, the loader's unit finds it loaded and
/// succeeds, no unit fails); the hardware module only the loader loads, which is what the
/// udev path is checked with.
fn assert_debians_boot_file(ws: &Workspace) {
    let f = "/etc/modules-load.d/dahdi-linux.conf";
    let t = std::fs::read_to_string(ws.path(f))
        .unwrap_or_else(|e| panic!("{f}: {e}: the stage should hold dahdi-linux"));
    assert!(
        t.lines().any(|l| l.trim() == "dahdi"),
        "{f} does not load dahdi:\n{t}"
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
r "main_fragment=$(systemctl show -p FragmentPath --value dahdi-loader.service)"
r "main_type=$(systemctl show -p Type --value dahdi-loader.service)"
r "main_status_text=$(systemctl show -p StatusText --value dahdi-loader.service)"
r "dahdi_loaded=$(grep -c '^dahdi ' /proc/modules)"
r "sml_result=$(systemctl show -p Result --value systemd-modules-load.service)"
# systemd-modules-load's own words, selected by its syslog identifier: journald gives a
# message its unit from the sender's cgroup, and systemd-modules-load often exits before
# an early-boot journald reads its messages, which then have no unit (`-u` misses them).
# journalctl --sync: what journald has received is written before it is read.
journalctl --sync
journalctl -b --no-pager -o cat -t systemd-modules-load > /tmp/sml
r "sml_inserted_dahdi=$(grep -c "Inserted module 'dahdi'" /tmp/sml)"
sed 's/^/LOG sml: /' /tmp/sml
r "failed_units=$(systemctl list-units --failed --plain --no-legend | awk '{{print $1}}' | tr '\n' ' ')"
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
# The device's coldplug event may still be in udev's hands (its rules run programs, slow
# under emulation): the database holds the rule's result only once the event is done.
udevadm settle --timeout=120 || r "settle=timeout"
r "udev_wants=$(udevadm info --query=property /sys/bus/pci/devices/$dev | sed -n 's/^SYSTEMD_WANTS=//p')"
udevadm info --query=property /sys/bus/pci/devices/$dev | sed 's/^/LOG udev: /'
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
r "instance_fragment=$(show FragmentPath)"
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
    TestUnit::new("upgrade-check", "dahdi-loader.service", &script)
        .install(ws)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn debian12_kernel_upgrade_is_warned_verified_built_and_loaded_at_boot() {
    kernel_upgrade(Platform::Debian12);
}

/// The same on Debian 13: trixie's own apt, dpkg, DKMS 3.2 and kernel hooks, DAHDI 3.1
/// built `.ko.xz` for trixie's two newest 6.12 ABIs, the boot into B from the packaged
/// units.
#[test]
fn debian13_kernel_upgrade_is_warned_verified_built_and_loaded_at_boot() {
    kernel_upgrade(Platform::Debian13);
}

/// Where DKMS installs `dahdi` for `kernel`, as the platform compresses it.
fn dkms_dahdi_ko(platform: Platform, kernel: &str) -> String {
    let suffix = match platform {
        Platform::Debian12 => "ko",
        Platform::Debian13 => "ko.xz",
    };
    format!("/lib/modules/{kernel}/updates/dkms/dahdi.{suffix}")
}

/// Where systemd finds the packaged units: /lib on Debian 12; on Debian 13 (merged /usr,
/// systemd built without split-usr) /usr/lib, the same directory.
fn unit_dir(platform: Platform) -> &'static str {
    match platform {
        Platform::Debian12 => "/lib/systemd/system",
        Platform::Debian13 => "/usr/lib/systemd/system",
    }
}

fn kernel_upgrade(platform: Platform) {
    let id = platform.id();
    let started = Instant::now();
    let mut times: Vec<(&str, Duration)> = Vec::new();
    let mut lap = Instant::now();
    let mut mark = |what: &'static str, times: &mut Vec<(&str, Duration)>| {
        times.push((what, lap.elapsed()));
        eprintln!(
            "vm-upgrade {id}: {what}: {:.1} s",
            lap.elapsed().as_secs_f64()
        );
        lap = Instant::now();
    };

    let cache = StageCache::new(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"));
    let pair = kernel_pair(platform, &cache).unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (pair.a.clone(), pair.b.clone());
    eprintln!("vm-upgrade {id}: kernel A = {a}, kernel B = {b}");
    let stage_a = system_with_kernel_a(platform, &cache, &pair).unwrap_or_else(|e| panic!("{e}"));
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
    stage_packages(&ws);
    assert_debians_boot_file(&ws);
    mark("workspace copy + packages built", &mut times);

    {
        let root = ws.chroot().unwrap_or_else(|e| panic!("{e}"));
        let run = |args: &[&str]| root.run(args).unwrap_or_else(|e| panic!("{e}"));
        // 0. The loader, as an operator installs it: apt with the downloaded package.
        assert_lifecycle(&ws, &root, Lifecycle::Purged);
        apt_install_local(&root, FIRST);
        assert_lifecycle(&ws, &root, Lifecycle::Installed(FIRST));
        install_test_conf(&ws);
        mark("apt-get install ./dahdi-loader.deb", &mut times);
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
            !ws.path(&dkms_dahdi_ko(platform, &b)).exists(),
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
        let ko = dkms_dahdi_ko(platform, &b);
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

    let fin = report.finished(80);
    let ctx = &fin.ctx;
    let get = |k: &str| fin.get(k);
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
        // Type=notify: systemd saw READY=1, or the unit would still be starting.
        ("main_type", "notify", "dahdi-loader.service type"),
        ("dahdi_loaded", "1", "dahdi in /proc/modules"),
        ("sml_result", "success", "systemd-modules-load.service"),
        (
            "sml_inserted_dahdi",
            "1",
            "systemd-modules-load loading dahdi (dahdi-linux.conf)",
        ),
        ("failed_units", "", "failed units"),
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

    // The last STATUS= the loader sent with READY=1: what `systemctl status` shows.
    assert!(
        get("main_status_text").contains(b.as_str()),
        "dahdi-loader.service's status text does not name kernel {b}\n{ctx}"
    );
    let units = unit_dir(platform);
    assert_eq!(
        get("main_fragment"),
        format!("{units}/dahdi-loader.service"),
        "the boot unit is not the packaged one\n{ctx}"
    );
    assert_eq!(
        get("instance_fragment"),
        format!("{units}/dahdi-loader@.service"),
        "the udev-started unit is not the packaged one\n{ctx}"
    );
    mark("boot checks", &mut times);

    // The rest of the package's life, on the same system (the rootfs as it was packed).
    {
        let root = ws.chroot().unwrap_or_else(|e| panic!("{e}"));
        upgrade_remove_purge(&ws, &root, &b);
        mark("upgrade, remove, purge", &mut times);
    }

    eprintln!("vm-upgrade {id}: results port:\n{}", report.results);
    for (what, d) in &times {
        eprintln!("vm-upgrade {id}: {:>6.1} s  {what}", d.as_secs_f64());
    }
    eprintln!(
        "vm-upgrade {id}: total {:.1} s ({accel:?})",
        started.elapsed().as_secs_f64()
    );
}

/// After FIRST was installed: upgrade to NEWER (the operator's edit of an unchanged
/// conffile stays, without a prompt), remove (conffiles stay, and the kernel hooks among
/// them then do nothing), purge (nothing of the loader stays). `kernel` is one the hooks are
/// run for.
fn upgrade_remove_purge(ws: &Workspace, root: &Chroot, kernel: &str) {
    let run = |args: &[&str]| root.run(args).unwrap_or_else(|e| panic!("{e}"));
    let conf = "/etc/dahdi-loader/dahdi-loader.conf";
    let edited = format!(
        "{}dev-timeout 20\n",
        std::fs::read_to_string(ws.path(conf)).unwrap()
    );
    ws.write(conf, 0o644, edited.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));

    apt_install_local(root, NEWER);
    assert_lifecycle(ws, root, Lifecycle::Installed(NEWER));
    assert_eq!(std::fs::read_to_string(ws.path(conf)).unwrap(), edited);

    let out = run(&["apt-get", "remove", "-y", "-q", "dahdi-loader"]);
    assert!(out.status.success(), "apt-get remove:\n{}", text(&out));
    assert_lifecycle(ws, root, Lifecycle::Removed);
    let image = format!("/boot/vmlinuz-{kernel}");
    for hook in &CONFFILES[..2] {
        let out = run(&[hook, kernel, image.as_str()]);
        assert!(
            out.status.success() && text(&out).is_empty(),
            "{hook} kept after remove is not inert: {:?} {}",
            out.status,
            text(&out)
        );
    }

    let out = run(&["apt-get", "purge", "-y", "-q", "dahdi-loader"]);
    assert!(out.status.success(), "apt-get purge:\n{}", text(&out));
    assert_lifecycle(ws, root, Lifecycle::Purged);
}
