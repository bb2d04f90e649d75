//! The boot guard through real GRUB: the guest boots from UEFI firmware (OVMF), GRUB
//! reads its own menu and environment block, and the kernel it starts is the answer.
//!
//! A Debian system runs kernel A with dahdi-dkms and dahdi, installed as an operator does
//! (the cached stage of the upgrade scenario, with Debian's boot files: systemd-modules-load
//! loads `dahdi` at every boot); kernel B, newer, is installed without its headers, so DKMS could not build
//! DAHDI for it and DAHDI would not load there. GRUB's packages are installed too. Then
//! three boots of one disk pair (the root filesystem and an EFI system partition):
//!
//! 1. Kernel A, started directly: the guest partitions and formats its ESP, runs
//!    `grub-install --removable` and `update-grub` as an operator does. GRUB's menu now
//!    starts B by default. The guard is off: its path unit runs when the menu changes and
//!    must leave grubenv alone; `guard --dry-run` says what it would do.
//! 2. Through the firmware: GRUB's choice stands (B, where DAHDI is not loaded). The
//!    loader's check before systemd-modules-load warns once, naming B's headers, and
//!    deny-lists DAHDI for the boot; systemd-modules-load succeeds; the loader's boot unit
//!    fails (exit 1, needs build) with the same fix, the one failed unit. The operator turns the guard on and runs `dahdi-loader guard`: grubenv's next_entry
//!    now names A's menu entry.
//! 3. Through the firmware: GRUB starts A, DAHDI is loaded by the loader's unit, and the
//!    loader has armed next_entry again (GRUB clears it when it uses it).
//!
//! What is expected comes from outside the loader: which kernels exist from the archive
//! (kernel_pair), which kernel GRUB starts from `uname -r` after the boot, the
//! environment block from GRUB's own `grub-editenv list`.

use std::path::Path;
use std::time::{Duration, Instant};

use dahdi_tests::chroot::{StageCache, Workspace};
use dahdi_tests::firmware::Ovmf;
use dahdi_tests::qemu::{boot_disks, Finished};
use dahdi_tests::runner::choose_accel;
use dahdi_tests::upgrade::{apt_install_args, kernel_pair, system_with_kernel_a};
use dahdi_tests::KernelUnderTest;
use dahdi_tests::Platform;

/// The ESP the guest partitions: 64 MiB, sparse on the host.
const ESP_BYTES: u64 = 64 << 20;
/// Each boot's deadline (TCG, a loaded host; firmware boots are slower than direct ones).
const BOOT_TIMEOUT: Duration = Duration::from_secs(600);

fn dist(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The loader, its boot unit, its check before systemd-modules-load (the drop-in) and the
/// guard's path and service units, enabled as the loader's README says.
fn install_loader(ws: &Workspace) {
    let must = |r: Result<(), dahdi_tests::HarnessError>| r.unwrap_or_else(|e| panic!("{e}"));
    let bin = std::fs::read(env!("CARGO_BIN_EXE_dahdi-loader")).expect("loader binary");
    must(ws.write("/usr/sbin/dahdi-loader", 0o755, &bin));
    for unit in [
        "dahdi-loader.service",
        "dahdi-loader-guard.service",
        "dahdi-loader-guard.path",
    ] {
        must(ws.write(
            &format!("/etc/systemd/system/{unit}"),
            0o644,
            &dist(&format!("systemd/{unit}")),
        ));
    }
    let drop_in = "systemd-modules-load.service.d/dahdi-loader.conf";
    must(ws.write(
        &format!("/etc/systemd/system/{drop_in}"),
        0o644,
        &dist(&format!("systemd/{drop_in}")),
    ));
    must(ws.symlink(
        "/etc/systemd/system/multi-user.target.wants/dahdi-loader.service",
        "/etc/systemd/system/dahdi-loader.service",
    ));
    must(ws.symlink(
        "/etc/systemd/system/paths.target.wants/dahdi-loader-guard.path",
        "/etc/systemd/system/dahdi-loader-guard.path",
    ));
}

/// One script for the three boots; /root/boot-guard-phase counts them.
const CHECK_SCRIPT: &str = r#"#!/bin/sh
r() { echo "RESULT $1"; }
log() { sed "s/^/LOG $1: /"; }
json() { sed "s/^/JSON$1 /"; }
phase=$(( $(cat /root/boot-guard-phase 2>/dev/null || echo 0) + 1 ))
echo $phase > /root/boot-guard-phase
sync
r "phase=$phase"
r "kernel=$(uname -r)"
r "efi=$([ -d /sys/firmware/efi ] && echo yes || echo no)"
r "main_result=$(systemctl show -p Result --value dahdi-loader.service)"
r "main_status=$(systemctl show -p ExecMainStatus --value dahdi-loader.service)"
r "dahdi_loaded=$(grep -c '^dahdi ' /proc/modules)"
# Debian's boot file and the loader's check before systemd-modules-load (its drop-in): the
# check's warnings land in systemd-modules-load's journal.
r "sml_result=$(systemctl show -p Result --value systemd-modules-load.service)"
journalctl --sync
journalctl -b --no-pager -o cat -u systemd-modules-load.service > /tmp/sml
r "check_warnings=$(grep -c 'DAHDI will not load on the running kernel' /tmp/sml)"
r "check_names_headers=$(grep -c "linux-headers-$(uname -r)" /tmp/sml)"
log sml < /tmp/sml
[ -e /run/modprobe.d/dahdi-loader.conf ] && r "deny_list=present" || r "deny_list=absent"
journalctl -b --no-pager -o cat -u dahdi-loader.service > /tmp/main
r "main_names_headers=$(grep -c "linux-headers-$(uname -r)" /tmp/main)"
r "failed_units=$(systemctl list-units --failed --plain --no-legend | awk '{print $1}' | tr '\n' ' ')"
# Waits until the guard's unit has run at least once after $1 (a monotonic timestamp).
guard_ran_after() {
    for i in $(seq 1 240); do
        t=$(systemctl show -p ExecMainExitTimestampMonotonic --value dahdi-loader-guard.service)
        [ "$t" -gt "$1" ] && [ "$(systemctl show -p ActiveState --value dahdi-loader-guard.service)" != activating ] && return 0
        sleep 0.5
    done
    return 1
}
env_line() { grub-editenv list 2>&1 | tr '\n' ' '; }
case $phase in
1)
    printf 'label: gpt\n,,U\n' | sfdisk -q /dev/vdb 2>&1 | log sfdisk
    udevadm settle
    mkfs.vfat /dev/vdb1 2>&1 | log mkfs
    mkdir -p /boot/efi && mount /dev/vdb1 /boot/efi
    r "esp_mounted=$(findmnt -n -o FSTYPE /boot/efi)"
    cat >> /etc/default/grub <<'EOF'
GRUB_TIMEOUT=0
GRUB_CMDLINE_LINUX="console=ttyS0 panic=-1 systemd.show_status=0 no_timer_check"
GRUB_TERMINAL=console
EOF
    grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram > /tmp/gi 2>&1
    r "grub_install=$?"
    log grub-install < /tmp/gi
    r "efi_binary=$(ls /boot/efi/EFI/BOOT/)"
    before=$(systemctl show -p ExecMainExitTimestampMonotonic --value dahdi-loader-guard.service)
    update-grub > /tmp/ug 2>&1
    r "update_grub=$?"
    log update-grub < /tmp/ug
    guard_ran_after "$before" && r "guard_unit_ran=yes" || r "guard_unit_ran=no"
    r "guard_unit_result=$(systemctl show -p Result --value dahdi-loader-guard.service)"
    journalctl -b --no-pager -o cat -u dahdi-loader-guard.service | log guard-unit
    r "env=$(env_line)"
    /usr/sbin/dahdi-loader --json guard --dry-run > /tmp/g.json 2>/tmp/g.err
    r "dry_run_exit=$?"
    json 1 < /tmp/g.json
    log guard-stderr < /tmp/g.err
    umount /boot/efi
    ;;
2)
    r "env=$(env_line)"
    journalctl -b --no-pager -o cat -u dahdi-loader.service | tail -n 20 | log main
    mkdir -p /etc/dahdi-loader
    echo 'boot-guard on' > /etc/dahdi-loader/boot-guard.conf
    /usr/sbin/dahdi-loader --json guard > /tmp/g.json 2>/tmp/g.err
    r "guard_exit=$?"
    json 2 < /tmp/g.json
    log guard-stderr < /tmp/g.err
    r "env_after=$(env_line)"
    ;;
3)
    r "env=$(env_line)"
    journalctl -b --no-pager -o cat -u dahdi-loader.service | tail -n 20 | log main
    /usr/sbin/dahdi-loader status 2>&1 | log status
    ;;
esac
sync
"#;

const CHECK_UNIT: &str = "[Unit]\nDescription=boot guard check\nAfter=dahdi-loader.service\n\n\
    [Service]\nType=oneshot\nStandardOutput=file:/dev/ttyS1\nStandardError=file:/dev/ttyS1\n\
    ExecStartPre=/bin/sh -c 'echo @@BOOTED > /dev/ttyS1'\n\
    ExecStart=/usr/local/sbin/boot-guard-check\n\
    ExecStopPost=/bin/sh -c 'echo @@DONE > /dev/ttyS1; systemctl --no-block poweroff'\n\n\
    [Install]\nWantedBy=multi-user.target\n";

fn install_check_unit(ws: &Workspace) {
    let must = |r: Result<(), dahdi_tests::HarnessError>| r.unwrap_or_else(|e| panic!("{e}"));
    must(ws.write(
        "/usr/local/sbin/boot-guard-check",
        0o755,
        CHECK_SCRIPT.as_bytes(),
    ));
    must(ws.write(
        "/etc/systemd/system/boot-guard-check.service",
        0o644,
        CHECK_UNIT.as_bytes(),
    ));
    must(ws.symlink(
        "/etc/systemd/system/multi-user.target.wants/boot-guard-check.service",
        "/etc/systemd/system/boot-guard-check.service",
    ));
}

/// What one boot reported: its results (`RESULT k=v` lines, checked to have come from a
/// boot that finished) and the `JSONn` document.
struct Phase {
    fin: Finished,
    json: Option<serde_json::Value>,
}

impl Phase {
    fn from(n: u32, report: &dahdi_tests::qemu::QemuRun) -> Phase {
        let mut fin = report.finished(60);
        fin.ctx = format!("boot {n}: {}", fin.ctx);
        let prefix = format!("JSON{n} ");
        let json_text: Vec<&str> = report
            .results
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect();
        let json = serde_json::from_str(&json_text.join("\n")).ok();
        let p = Phase { fin, json };
        assert_eq!(p.get("phase"), n.to_string(), "{}", p.fin.ctx);
        p
    }

    fn get(&self, k: &str) -> &str {
        self.fin.get(k)
    }

    fn expect(&self, key: &str, want: &str, what: &str) {
        self.fin.expect(key, want, what);
    }

    /// A boot on a kernel where DAHDI loads, with Debian's boot file and the loader's check:
    /// DAHDI loaded, systemd-modules-load and the loader's unit succeeded, the check said
    /// nothing and deny-listed nothing, no unit failed.
    fn healthy_boot(&self) {
        self.expect("dahdi_loaded", "1", "DAHDI loaded");
        self.expect("sml_result", "success", "systemd-modules-load");
        self.expect("main_result", "success", "dahdi-loader.service");
        self.expect("check_warnings", "0", "the check's warnings");
        self.expect("deny_list", "absent", "the deny-list");
        self.expect("failed_units", "", "the failed units");
    }

    fn json(&self, pointer: &str) -> &serde_json::Value {
        let doc = self
            .json
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON from the guard\n{}", self.fin.ctx));
        doc.pointer(pointer).unwrap_or_else(|| {
            panic!(
                "the guard's JSON has no {pointer}: {doc:#}\n{}",
                self.fin.ctx
            )
        })
    }
}

/// `next_entry=VALUE` out of grub-editenv's listing (space-joined lines).
fn next_entry(env: &str) -> Option<&str> {
    env.split_whitespace()
        .find_map(|kv| kv.strip_prefix("next_entry="))
        .filter(|v| !v.is_empty())
}

#[test]
fn boot_guard_keeps_grub_on_the_last_kernel_where_dahdi_loads() {
    let started = Instant::now();
    let ovmf = Ovmf::find().unwrap_or_else(|e| panic!("{e}"));
    let cache = StageCache::new(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"));
    let pair = kernel_pair(Platform::Debian12, &cache).unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (pair.a.clone(), pair.b.clone());
    eprintln!("vm-bootguard: kernel A = {a} (DAHDI built), kernel B = {b} (no headers)");
    let stage_a =
        system_with_kernel_a(Platform::Debian12, &cache, &pair).unwrap_or_else(|e| panic!("{e}"));
    let image_b = format!("linux-image-{b}");
    let stage = cache
        .derive(
            &stage_a,
            "boot-guard-grub",
            &[
                vec!["apt-get".into(), "update".into(), "-q".into()],
                apt_install_args(&[
                    &image_b,
                    "grub-efi-amd64-bin",
                    "grub2-common",
                    "dosfstools",
                    "fdisk",
                ]),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let ws = Workspace::from_stage(&stage).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        ws.path(&format!("/boot/vmlinuz-{b}")).is_file()
            && !ws
                .path(&format!("/lib/modules/{b}/updates/dkms/dahdi.ko"))
                .exists(),
        "the stage should hold kernel {b} without a DAHDI build"
    );
    install_loader(&ws);
    install_check_unit(&ws);
    // GRUB's entries say `ro`: the root filesystem must be in fstab to be remounted
    // read-write, as on an installed system.
    ws.write("/etc/fstab", 0o644, b"/dev/vda / ext4 defaults 0 0\n")
        .unwrap_or_else(|e| panic!("{e}"));
    // Beside the root image, in the workspace's scratch directory.
    let esp = ws.disk_image().with_file_name("esp.img");
    let f = std::fs::File::create(&esp).expect("creating the ESP image");
    f.set_len(ESP_BYTES).expect("sizing the ESP image");
    let host_kernel = KernelUnderTest::discover().unwrap_or_else(|e| panic!("{e}"));
    let accel = choose_accel(&host_kernel, Path::new(env!("CARGO_TARGET_TMPDIR")));
    let esp_drive = format!("file={},format=raw,if=virtio", esp.display());

    // 1. Kernel A directly; GRUB installed; the guard is off.
    let report = ws
        .boot(&a, accel, BOOT_TIMEOUT, &["-drive", &esp_drive])
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("vm-bootguard: boot 1 in {:.0} s", report.wall.as_secs_f64());
    let p1 = Phase::from(1, &report);
    p1.expect("kernel", &a, "the directly started kernel");
    p1.healthy_boot();
    p1.expect("esp_mounted", "vfat", "the ESP");
    p1.expect("grub_install", "0", "grub-install's exit");
    p1.expect(
        "efi_binary",
        "BOOTX64.EFI",
        "the removable-media bootloader",
    );
    p1.expect("update_grub", "0", "update-grub's exit");
    p1.expect("guard_unit_ran", "yes", "the path unit started the guard");
    p1.expect("guard_unit_result", "success", "the guard's unit");
    assert_eq!(
        next_entry(p1.get("env")),
        None,
        "with the guard off, grubenv must stay untouched\n{}",
        p1.fin.ctx
    );
    // The dry run names GRUB's choice (B, the newest) and the kernel it would pick (A).
    assert_eq!(
        p1.json("/grub_would_start/kernel"),
        &serde_json::json!(b),
        "{}",
        p1.fin.ctx
    );
    assert_eq!(
        p1.json("/applied"),
        &serde_json::json!(false),
        "{}",
        p1.fin.ctx
    );
    assert_eq!(
        p1.json("/action/kind"),
        &serde_json::json!("pin"),
        "{}",
        p1.fin.ctx
    );
    assert_eq!(
        p1.json("/action/pin/kernel"),
        &serde_json::json!(a),
        "{}",
        p1.fin.ctx
    );

    // 2. Through GRUB, guard off: GRUB's choice stands.
    let disks = [ws.disk_image(), esp.clone()];
    let workdir = esp.parent().expect("the scratch directory").to_path_buf();
    let report =
        boot_disks(&ovmf, &disks, &workdir, accel, BOOT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("vm-bootguard: boot 2 in {:.0} s", report.wall.as_secs_f64());
    let p2 = Phase::from(2, &report);
    p2.expect("efi", "yes", "booted through the firmware");
    p2.expect("kernel", &b, "GRUB's own choice with the guard off");
    p2.expect("dahdi_loaded", "0", "DAHDI on the kernel without a build");
    // DAHDI is missing on B and cannot be built there (no headers). Debian's boot file
    // lists it; the loader's check warns once, with the fix, before systemd-modules-load
    // (which then succeeds); the boot unit fails with the same fix and exit 1 (needs build):
    // the one failed unit, and the operator's pointer to what is wrong.
    p2.expect("sml_result", "success", "systemd-modules-load");
    p2.expect("check_warnings", "1", "the check's warning");
    p2.expect("deny_list", "present", "the deny-list for this boot");
    p2.expect("main_result", "exit-code", "dahdi-loader.service");
    p2.expect(
        "main_status",
        "1",
        "dahdi-loader.service's exit (needs build)",
    );
    for key in ["check_names_headers", "main_names_headers"] {
        assert_ne!(
            p2.get(key),
            "0",
            "the loader does not name linux-headers-{b} ({key})\n{}",
            p2.fin.ctx
        );
    }
    assert_eq!(
        p2.get("failed_units").trim(),
        "dahdi-loader.service",
        "the failed units\n{}",
        p2.fin.ctx
    );
    p2.expect(
        "guard_exit",
        "0",
        "the guard once it has steered the boot to A",
    );
    assert_eq!(
        p2.json("/applied"),
        &serde_json::json!(true),
        "{}",
        p2.fin.ctx
    );
    assert_eq!(
        p2.json("/next_boot/kernel"),
        &serde_json::json!(a),
        "{}",
        p2.fin.ctx
    );
    let pinned = next_entry(p2.get("env_after"))
        .unwrap_or_else(|| panic!("the guard did not set next_entry\n{}", p2.fin.ctx));
    assert!(
        pinned.contains(&a),
        "next_entry {pinned:?} does not name kernel {a}'s entry\n{}",
        p2.fin.ctx
    );

    // 3. Through GRUB, guard on: A starts, DAHDI loads, the pin is armed again.
    let report =
        boot_disks(&ovmf, &disks, &workdir, accel, BOOT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("vm-bootguard: boot 3 in {:.0} s", report.wall.as_secs_f64());
    let p3 = Phase::from(3, &report);
    p3.expect("efi", "yes", "booted through the firmware");
    p3.expect("kernel", &a, "the kernel the guard chose");
    p3.expect("dahdi_loaded", "1", "DAHDI loaded on the guarded kernel");
    p3.healthy_boot();
    assert_eq!(
        next_entry(p3.get("env")),
        Some(pinned),
        "the loader did not arm next_entry again at boot (GRUB clears it)\n{}",
        p3.fin.ctx
    );
    eprintln!(
        "vm-bootguard: total {:.0} s ({accel:?})",
        started.elapsed().as_secs_f64()
    );
}
