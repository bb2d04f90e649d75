//! Debian's own DAHDI boot files, at the boot level, on Debian 12 and Debian 13: the system
//! an operator has after `apt-get install dahdi` (which depends on dahdi-linux, whose
//! /etc/modules-load.d/dahdi-linux.conf makes systemd-modules-load load `dahdi` and
//! `dahdi_transcode` early at every boot), with DKMS and its kernel hooks.
//!
//! * What systemd-modules-load itself does when the booted kernel's DAHDI is stale or
//!   missing, without the loader (the facts the loader's design rests on, checked on each
//!   release's own systemd and kmod).
//! * With the loader's package installed: a healthy boot (no failed unit, DAHDI loaded
//!   once, the loader's check before systemd-modules-load silent). (A boot where DAHDI is
//!   stale and the boot unit rebuilds it is not here: a DKMS build inside the emulated
//!   guest took over 54 minutes. The check's verdict and deny-list on real stale modules
//!   are tested in tests/dist.rs.)
//! * Never two builds at once: an `ensure` started while an operator's `dkms install`
//!   builds waits for it and does not build a second time (real DKMS, in a chroot of the
//!   same system).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dahdi_tests::chroot::{Stage, StageCache, Workspace};
use dahdi_tests::debian::TestUnit;
use dahdi_tests::platform::trixie_stage;
use dahdi_tests::qemu::QemuRun;
use dahdi_tests::runner::choose_accel;
use dahdi_tests::upgrade::{kernel_pair, system_with_kernel_a};
use dahdi_tests::{KernelUnderTest, Platform};

mod debpkg;
use debpkg::{apt_install_local, DEB_DIR, FIRST};

fn cache() -> StageCache {
    StageCache::new(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"))
}

/// The system as an operator installs it, and the kernel it boots.
///
/// Debian 12: the upgrade scenario's system with kernel A, dahdi-dkms and dahdi, installed
/// with Recommends (`dahdi_tests::upgrade::system_with_kernel_a`). Debian 13: the test
/// bed's trixie system, which installs `dahdi` (and so dahdi-linux) too.
fn operator_system(platform: Platform) -> (Stage, String) {
    let cache = cache();
    match platform {
        Platform::Debian12 => {
            let pair = kernel_pair(platform, &cache).unwrap_or_else(|e| panic!("{e}"));
            let stage =
                system_with_kernel_a(platform, &cache, &pair).unwrap_or_else(|e| panic!("{e}"));
            (stage, pair.a)
        }
        Platform::Debian13 => {
            let kernel = platform
                .kernel(cache.root())
                .unwrap_or_else(|e| panic!("{e}"));
            let stage = trixie_stage(cache.root()).unwrap_or_else(|e| panic!("{e}"));
            (stage, kernel.release)
        }
    }
}

/// Debian's boot file, as dahdi-linux ships it in both releases.
const MODULES_LOAD: &str = "/etc/modules-load.d/dahdi-linux.conf";

fn assert_debians_boot_files(ws: &Workspace) {
    let conf = std::fs::read_to_string(ws.path(MODULES_LOAD))
        .unwrap_or_else(|e| panic!("{MODULES_LOAD}: {e}: is dahdi-linux installed?"));
    let names: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(names, ["dahdi", "dahdi_transcode"], "{MODULES_LOAD}");
}

/// The installed dahdi module of `release` (DKMS's updates/dkms, `.ko` or `.ko.xz`).
fn installed_dahdi(ws: &Workspace, release: &str) -> std::path::PathBuf {
    let dir = ws.path(&format!("/lib/modules/{release}/updates/dkms"));
    ["dahdi.ko", "dahdi.ko.xz"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no dahdi.ko(.xz) in {}", dir.display()))
}

/// Makes DKMS's build of dahdi for `release` stale the way a build against another build
/// of the same kernel ABI is: the CRC it records for one imported symbol (in `__versions`,
/// not `module_layout`) no longer matches the kernel's. The kernel refuses it ("disagrees
/// about version of symbol"). The installed file and DKMS's own copy in its tree get the
/// same bytes, so the file is still DKMS's build (a stale one), not a stray copy. Returns
/// the symbol.
fn make_stale(ws: &Workspace, release: &str) -> String {
    use object::{Object, ObjectSection};
    let path = installed_dahdi(ws, release);
    let xz = path.extension().is_some_and(|e| e == "xz");
    let mut data = if xz {
        let out = Command::new("xz").arg("-dc").arg(&path).output().unwrap();
        assert!(out.status.success(), "xz -dc {}", path.display());
        out.stdout
    } else {
        std::fs::read(&path).unwrap()
    };
    let (start, len) = {
        let obj = object::File::parse(&*data).unwrap();
        let s = obj
            .section_by_name("__versions")
            .expect("dahdi has __versions (modversions)");
        let (o, l) = s.file_range().unwrap();
        (o as usize, l as usize)
    };
    // struct modversion_info: an 8-byte CRC, then a 56-byte name.
    let symbol = (start..start + len)
        .step_by(64)
        .find_map(|at| {
            let name = &data[at + 8..at + 64];
            let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(56)];
            let name = String::from_utf8_lossy(name).into_owned();
            (name != "module_layout" && !name.is_empty()).then(|| {
                data[at] ^= 0x5a;
                name
            })
        })
        .expect("an imported symbol in __versions");
    if xz {
        let tmp = path.with_extension("stale");
        std::fs::write(&tmp, &data).unwrap();
        // As DKMS compresses modules (kernel-side decompression needs CRC32 checks).
        let st = Command::new("xz")
            .args(["-f", "--check=crc32", "--lzma2=dict=1MiB"])
            .arg(&tmp)
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::rename(tmp.with_extension("stale.xz"), &path).unwrap();
    } else {
        std::fs::write(&path, &data).unwrap();
    }
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let version = dkms_version(ws);
    let tree = ws.path(&format!(
        "/var/lib/dkms/dahdi/{version}/{release}/x86_64/module/{name}"
    ));
    assert!(tree.is_file(), "DKMS's copy {} is missing", tree.display());
    std::fs::copy(&path, &tree).unwrap();
    symbol
}

/// Boots the workspace's kernel `release`; `timeout` bounds the whole boot.
fn boot(ws: &Workspace, release: &str, timeout: Duration) -> QemuRun {
    let host_kernel = KernelUnderTest::discover().unwrap_or_else(|e| panic!("{e}"));
    let accel = choose_accel(&host_kernel, Path::new(env!("CARGO_TARGET_TMPDIR")));
    ws.boot(release, accel, timeout, &[])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A boot without a build (the test bed's guests are emulated: TCG where KVM does not
/// work), and one in which the loader's boot unit builds DAHDI with DKMS.
const BOOT: Duration = Duration::from_secs(900);

/// Shell functions that read this boot's journal.
///
/// Every read (`boot_journal`) first waits for journald to have written what it has
/// received (`journalctl --sync`): it stores a message some time after the sender sent it.
///
/// systemd-modules-load's own words are selected by its syslog identifier (`-t`), not its
/// unit: journald gives a message its unit from the sender's cgroup, and
/// systemd-modules-load often exits before journald reads its messages, which then have no
/// unit. (A unit's standard output names the unit in its stream header and keeps it.)
///
/// What a step logged is told by counting before and after it, never with
/// `--after-cursor` and a match: journalctl then skips the first matching entry when the
/// cursor's own entry does not match (seen here: the first of systemd-modules-load's two
/// lines went missing).
const JOURNAL_FN: &str = r#"
r() { echo "RESULT $1"; }
# boot_journal ARGS...: this boot's journal, after journald has written what it has
# received. Every read below goes through it.
boot_journal() { journalctl --sync; journalctl -b --no-pager "$@"; }
# count SELECTOR NAME PRIORITIES PATTERN: how many of this boot's lines of a unit
# (-u UNIT) or a program (-t NAME), at syslog priorities PRIORITIES (as -p takes them),
# contain PATTERN.
count() { boot_journal -o cat "$1" "$2" -p "$3" | grep -c -F -- "$4"; }
# journal SELECTOR NAME TAG: those lines, with their syslog priority, one
# `LOG TAG pPRIORITY: message` line each.
journal() {
    for p in 0 1 2 3 4 5 6 7; do
        boot_journal -o cat "$1" "$2" -p "$p..$p" | sed "s/^/LOG $3 p$p: /"
    done
}
# mark, then since MARK TAG: every journal line of this boot after the mark (for the log).
mark() { boot_journal -o short-monotonic | wc -l; }
since() { boot_journal -o short-monotonic | tail -n +$(($1 + 1)) | sed "s/^/LOG $2: /"; }
# boot_modules TAG: every line of this boot that speaks of modules, unit or not (early
# messages reach the journal from the kernel's log buffer, without a unit).
boot_modules() {
    for p in 0 1 2 3 4 5 6 7; do
        boot_journal -o cat -p "$p..$p" | grep -E "odule|Load Kernel Modules" | sed "s/^/LOG $1 p$p: /"
    done
}
sml() { systemctl show -p "$1" --value systemd-modules-load.service; }
"#;

/// Without the loader: what systemd-modules-load does with dahdi-linux.conf when dahdi is
/// stale at boot; then, restarted in the same boot, with the names deny-listed in
/// /run/modprobe.d, and with dahdi missing (with and without the deny-list). And what
/// `modprobe NAME` does with a deny-listed module. Between those, one restart with the
/// loader's check (its drop-in added at run time) on the stale DAHDI: one warning, the
/// deny-list, no failed unit.
fn facts(platform: Platform) {
    let (stage, release) = operator_system(platform);
    let ws = Workspace::from_stage(&stage).unwrap_or_else(|e| panic!("{e}"));
    assert_debians_boot_files(&ws);
    let symbol = make_stale(&ws, &release);
    // The loader's binary and its drop-in's text, for the one restart with the check; no
    // unit of the loader's is installed, so the boot itself is without the loader.
    let bin = std::fs::read(env!("CARGO_BIN_EXE_dahdi-loader")).expect("loader binary");
    let drop_in = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dist/systemd/systemd-modules-load.service.d/dahdi-loader.conf");
    ws.write("/usr/sbin/dahdi-loader", 0o755, &bin)
        .and_then(|()| {
            ws.write(
                "/root/check-drop-in.conf",
                0o644,
                &std::fs::read(drop_in).expect("drop-in"),
            )
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let script = format!(
        r#"#!/bin/sh
{JOURNAL_FN}
r "kernel=$(uname -r)"
r "boot_result=$(sml Result)"
r "boot_status=$(sml ExecMainStatus)"
r "boot_dahdi=$(grep -c '^dahdi ' /proc/modules)"
boot_modules boot
r "dkms_units=$(systemctl list-unit-files --no-legend --plain | grep -c dkms)"
dmesg | grep -i 'dahdi' | sed 's/^/LOG dmesg: /'

mkdir -p /run/modprobe.d
deny() {{ printf 'blacklist dahdi\nblacklist dahdi_transcode\n' > /run/modprobe.d/facts.conf; }}
# denied NAME: systemd-modules-load's lines, at info level, saying it skipped NAME.
denied() {{ count -t systemd-modules-load 6..6 "Module '$1' is deny-listed"; }}
deny
m=$(mark); d0=$(denied dahdi); t0=$(denied dahdi_transcode)
systemctl restart systemd-modules-load.service
r "denied_result=$(sml Result)"
r "denied_info=$(( $(denied dahdi) - d0 )) $(( $(denied dahdi_transcode) - t0 ))"
since "$m" denied
modprobe dahdi 2>/tmp/mp.err; r "modprobe_denied_stale=$?"
sed 's/^/LOG modprobe: /' /tmp/mp.err
printf 'blacklist dummy\n' >> /run/modprobe.d/facts.conf
modprobe dummy; r "modprobe_denied_by_name=$? loaded=$(grep -c '^dummy ' /proc/modules)"

# The loader's check before systemd-modules-load (its drop-in, added for this run only)
# on the same stale DAHDI: one warning, the deny-list, the unit succeeds.
rm /run/modprobe.d/facts.conf
mkdir -p /run/systemd/system/systemd-modules-load.service.d
cp /root/check-drop-in.conf /run/systemd/system/systemd-modules-load.service.d/dahdi-loader.conf
systemctl daemon-reload
warnings() {{ count -u systemd-modules-load.service 0..7 'DAHDI will not load on the running kernel'; }}
m=$(mark); w0=$(warnings)
systemctl restart systemd-modules-load.service
r "checked_result=$(sml Result)"
r "checked_warnings=$(( $(warnings) - w0 ))"
[ -e /run/modprobe.d/dahdi-loader.conf ] && r "checked_deny=present" || r "checked_deny=absent"
since "$m" checked
rm -f /run/modprobe.d/dahdi-loader.conf /run/systemd/system/systemd-modules-load.service.d/dahdi-loader.conf
systemctl daemon-reload

rm -f /lib/modules/$(uname -r)/updates/dkms/dahdi.ko*
depmod
deny
m=$(mark)
systemctl restart systemd-modules-load.service
r "missing_denied_result=$(sml Result)"
since "$m" missing-denied
rm /run/modprobe.d/facts.conf
m=$(mark)
systemctl restart systemd-modules-load.service
r "missing_result=$(sml Result)"
since "$m" missing
"#
    );
    TestUnit::new("bootfiles-facts", "systemd-modules-load.service", &script)
        .install(&ws)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = boot(&ws, &release, BOOT);
    let fin = r.finished(60);
    let ctx = &fin.ctx;
    eprintln!(
        "{} facts (stale symbol {symbol}):\n{}",
        platform.id(),
        r.results
    );
    let get = |k: &str| fin.get(k);
    assert_eq!(get("kernel"), release, "{ctx}");
    // What the loader's design rests on, as each release's systemd and kmod do it:
    // a module the kernel refuses fails the unit,
    assert_eq!(get("boot_result"), "exit-code", "{ctx}");
    assert_eq!(get("boot_status"), "1", "{ctx}");
    assert_eq!(get("boot_dahdi"), "0", "{ctx}");
    assert!(
        r.results
            .contains("Failed to insert module 'dahdi': Invalid argument"),
        "{ctx}"
    );
    // a deny-listed one is skipped at info level and does not,
    assert_eq!(get("denied_result"), "success", "{ctx}");
    // (systemd-modules-load's "Module 'dahdi' is deny-listed" and the same of
    // dahdi_transcode, once each, at info level)
    assert_eq!(get("denied_info"), "1 1", "{ctx}");
    // `modprobe NAME` ignores the deny-list,
    assert_eq!(get("modprobe_denied_stale"), "1", "{ctx}");
    assert_eq!(get("modprobe_denied_by_name"), "0 loaded=1", "{ctx}");
    // the loader's check turns the stale boot's failed unit into one warning and a
    // deny-list, and the unit succeeds,
    assert_eq!(get("checked_result"), "success", "{ctx}");
    assert_eq!(get("checked_warnings"), "1", "{ctx}");
    assert_eq!(get("checked_deny"), "present", "{ctx}");
    // a missing module never fails the unit, deny-listed or not,
    assert_eq!(get("missing_denied_result"), "success", "{ctx}");
    assert_eq!(get("missing_result"), "success", "{ctx}");
    // and DKMS has no unit of its own at boot.
    assert_eq!(get("dkms_units"), "0", "{ctx}");
}

#[test]
fn debian12_facts() {
    facts(Platform::Debian12);
}

#[test]
fn debian13_facts() {
    facts(Platform::Debian13);
}

/// The loader's package, installed as an operator installs it (apt, from the file), into
/// the workspace; its maintainer scripts enable the units and ship the drop-in for
/// systemd-modules-load.
fn install_loader(ws: &Workspace) {
    let out = tempfile::tempdir().unwrap();
    let deb = debpkg::build(FIRST, out.path());
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    ws.write(
        &format!("{DEB_DIR}/{name}"),
        0o644,
        &std::fs::read(&deb).unwrap(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let root = ws.chroot().unwrap_or_else(|e| panic!("{e}"));
    apt_install_local(&root, FIRST);
}

/// The report after the loader's boot unit: units, modules, the journal.
const AFTER_LOADER: &str = r#"
r "kernel=$(uname -r)"
r "sml_result=$(sml Result)"
r "loader_result=$(systemctl show -p Result --value dahdi-loader.service)"
r "loader_active=$(systemctl is-active dahdi-loader.service)"
r "dahdi=$(grep -c '^dahdi ' /proc/modules)"
r "transcode=$(grep -c '^dahdi_transcode ' /proc/modules)"
r "registered=$(dmesg | grep -c 'Telephony Interface Registered')"
[ -e /run/modprobe.d/dahdi-loader.conf ] && r "deny_list=present" || r "deny_list=absent"
r "failed_units=$(systemctl list-units --failed --plain --no-legend | awk '{print $1}' | tr '\n' ' ')"
/usr/sbin/dahdi-loader verify >/dev/null 2>&1; r "verify=$?"
r "check_messages=$(boot_journal -o cat | grep -c 'DAHDI will not load on the running kernel')"
journal -t systemd-modules-load sml
boot_modules bootmods
journal -u dahdi-loader.service loader
"#;

/// The healthy system an operator has: Debian's boot files and the loader. No unit fails,
/// systemd-modules-load loads DAHDI once, the loader finds it loaded, nothing is
/// deny-listed, and the check says nothing.
fn healthy(platform: Platform) {
    let (stage, release) = operator_system(platform);
    let ws = Workspace::from_stage(&stage).unwrap_or_else(|e| panic!("{e}"));
    assert_debians_boot_files(&ws);
    install_loader(&ws);
    let script = format!("#!/bin/sh\n{JOURNAL_FN}\n{AFTER_LOADER}");
    TestUnit::new("bootfiles-healthy", "dahdi-loader.service", &script)
        .install(&ws)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = boot(&ws, &release, BOOT);
    let fin = r.finished(60);
    let ctx = &fin.ctx;
    let get = |k: &str| fin.get(k);
    assert_eq!(get("kernel"), release, "{ctx}");
    assert_eq!(get("failed_units"), "", "a unit failed\n{ctx}");
    assert_eq!(get("sml_result"), "success", "{ctx}");
    assert_eq!(get("loader_result"), "success", "{ctx}");
    assert_eq!(get("loader_active"), "active", "{ctx}");
    assert_eq!(get("dahdi"), "1", "{ctx}");
    assert_eq!(get("transcode"), "1", "{ctx}");
    assert_eq!(get("registered"), "1", "dahdi must initialise once\n{ctx}");
    assert_eq!(get("deny_list"), "absent", "{ctx}");
    assert_eq!(get("check_messages"), "0", "{ctx}");
    assert_eq!(get("verify"), "0", "{ctx}");
    // systemd-modules-load loaded both itself (its own words, kmod's "Inserted module").
    for m in ["dahdi", "dahdi_transcode"] {
        assert!(
            r.results.contains(&format!("Inserted module '{m}'")),
            "systemd-modules-load did not insert {m}\n{ctx}"
        );
    }
}

/// The stale boot: DAHDI as installed would be refused by the booted kernel. The check
/// deny-lists it and warns once, systemd-modules-load succeeds, the loader's boot unit
/// rebuilds and loads DAHDI and dahdi_transcode, and lifts the deny-list; no unit fails.
#[test]
fn debian12_healthy_boot_with_debians_boot_files() {
    healthy(Platform::Debian12);
}

#[test]
fn debian13_healthy_boot_with_debians_boot_files() {
    healthy(Platform::Debian13);
}

fn dkms_version(ws: &Workspace) -> String {
    let mut v: Vec<String> = std::fs::read_dir(ws.path("/var/lib/dkms/dahdi"))
        .unwrap()
        .flatten()
        // DKMS's `source` is an absolute link into the guest's /usr/src: not followed here.
        .filter(|e| e.path().join("source").symlink_metadata().is_ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v.pop().expect("a dahdi version in /var/lib/dkms/dahdi")
}

/// Never two builds at once, with each release's real DKMS in a chroot of the operator's
/// system (at the host's speed: a DAHDI build in an emulated guest takes too long to be
/// run as often as a test must). DKMS's build for the kernel is removed, as before a kernel
/// hook's build; an operator's `dkms install` starts building it; while it runs,
/// `dahdi-loader ensure -k KVER --no-load` starts. The loader says it waits for that dkms,
/// waits until it has finished, finds DAHDI built and verified, and builds nothing itself.
fn ensure_waits_for_a_running_dkms(platform: Platform) {
    let (stage, release) = operator_system(platform);
    let ws = Workspace::from_stage(&stage).unwrap_or_else(|e| panic!("{e}"));
    install_loader(&ws);
    let version = dkms_version(&ws);
    let target = format!("dahdi/{version}");
    let root = ws.chroot().unwrap_or_else(|e| panic!("{e}"));
    let run = |args: &[&str]| {
        let out = root.run(args).unwrap_or_else(|e| panic!("{e}"));
        let text = dahdi_tests::output::text(&out);
        (out.status.code(), text)
    };
    let (code, text) = run(&["dkms", "unbuild", &target, "-k", &release]);
    assert_eq!(code, Some(0), "dkms unbuild: {text}");
    let (code, text) = run(&["dahdi-loader", "verify", &release]);
    assert_eq!(code, Some(1), "DAHDI must need a build now:\n{text}");

    // The operator's build, in the background; its exit status and end time are recorded.
    let (code, text) = run(&[
        "sh",
        "-c",
        &format!(
            "(dkms install {target} -k {release} >/tmp/operator-dkms.log 2>&1; \
             echo $? > /tmp/operator-dkms.status; date +%s.%N > /tmp/operator-dkms.end) \
             </dev/null >/dev/null 2>&1 &"
        ),
    ]);
    assert_eq!(code, Some(0), "{text}");
    // The operator's dkms is visible, as the loader in the chroot will see it (its root
    // is the workspace; /proc is the host's, mounted in the chroot).
    let seen = (0..200).any(|_| {
        let found = dahdi_loader::dkms::others::running(&dahdi_loader::Root::new(&ws.rootfs))
            .iter()
            .any(|r| {
                r.command
                    .contains(&format!("dkms install {target} -k {release}"))
            });
        if !found {
            std::thread::sleep(Duration::from_millis(100));
        }
        found
    });
    assert!(seen, "the operator's dkms did not start");

    let (code, text) = run(&[
        "sh",
        "-c",
        &format!(
            "dahdi-loader ensure -k {release} --no-load; echo \"ensure-exit=$?\"; \
             date +%s.%N > /tmp/ensure.end"
        ),
    ]);
    let ctx = format!(
        "ensure:\n{text}\noperator's dkms:\n{}",
        std::fs::read_to_string(ws.path("/tmp/operator-dkms.log")).unwrap_or_default()
    );
    assert_eq!(code, Some(0), "{ctx}");
    assert!(text.contains("ensure-exit=0"), "{ctx}");
    assert!(
        text.contains("dkms is running (pid ")
            && text.contains(&format!("dkms install {target} -k {release}")),
        "the loader did not say it waited for the operator's dkms\n{ctx}"
    );
    assert!(text.contains("after waiting"), "{ctx}");
    assert!(
        !text.contains("(built with DKMS)") && !text.contains("verifies; installing it for"),
        "the loader built beside or after the operator's dkms\n{ctx}"
    );
    let read = |p: &str| {
        std::fs::read_to_string(ws.path(p))
            .unwrap_or_else(|e| panic!("{p}: {e}\n{ctx}"))
            .trim()
            .to_string()
    };
    assert_eq!(read("/tmp/operator-dkms.status"), "0", "{ctx}");
    let ended = |p: &str| read(p).parse::<f64>().unwrap();
    assert!(
        ended("/tmp/operator-dkms.end") <= ended("/tmp/ensure.end"),
        "ensure ended before the operator's dkms\n{ctx}"
    );
    let (code, text) = run(&["dahdi-loader", "verify", &release]);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn debian12_ensure_waits_for_a_running_dkms_and_builds_nothing() {
    ensure_waits_for_a_running_dkms(Platform::Debian12);
}

#[test]
fn debian13_ensure_waits_for_a_running_dkms_and_builds_nothing() {
    ensure_waits_for_a_running_dkms(Platform::Debian13);
}
