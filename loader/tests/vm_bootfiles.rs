//! Debian's own DAHDI boot files, at the boot level, on Debian 12 and Debian 13: the system
//! an operator has after `apt-get install dahdi` (which depends on dahdi-linux, whose
//! /etc/modules-load.d/dahdi-linux.conf makes systemd-modules-load load `dahdi` and
//! `dahdi_transcode` early at every boot), with DKMS and its kernel hooks.
//!
//! * What systemd-modules-load itself does when the booted kernel's DAHDI is stale or
//!   missing, without the loader (the facts the loader's design rests on, checked on each
//!   release's own systemd and kmod).
//! * With the loader's package installed: a healthy boot (no failed unit, DAHDI loaded
//!   once), and a boot where DAHDI is stale (systemd-modules-load succeeds, the loader's
//!   early check says so once, the boot unit rebuilds and loads; and an `ensure` started while
//!   an operator's `dkms install` runs waits for it and does not build a second time).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dahdi_tests::chroot::{Stage, StageCache, Workspace};
use dahdi_tests::debian::TestUnit;
use dahdi_tests::output::tail;
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
/// Debian 12: the upgrade scenario's system with kernel A, its headers and dahdi-dkms,
/// plus `apt-get install dahdi` with Recommends (a stage of its own: the shared stages are
/// not changed). Debian 13: the test bed's trixie system, which already installs `dahdi`.
fn operator_system(platform: Platform) -> (Stage, String) {
    let cache = cache();
    match platform {
        Platform::Debian12 => {
            let pair = kernel_pair(platform, &cache).unwrap_or_else(|e| panic!("{e}"));
            let a = system_with_kernel_a(platform, &cache, &pair).unwrap_or_else(|e| panic!("{e}"));
            let stage = cache
                .derive(
                    &a,
                    "operator-dahdi",
                    &[vec![
                        "apt-get".into(),
                        "install".into(),
                        "-y".into(),
                        "-q".into(),
                        "dahdi".into(),
                    ]],
                )
                .unwrap_or_else(|e| panic!("{e}"));
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

/// Makes the installed dahdi module stale the way a module built against another build of
/// the same kernel ABI is: the CRC it records for one imported symbol (in `__versions`, not
/// `module_layout`) no longer matches the kernel's. The kernel refuses it ("disagrees about
/// version of symbol"). Returns the symbol.
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
    symbol
}

fn boot(ws: &Workspace, release: &str) -> QemuRun {
    let host_kernel = KernelUnderTest::discover().unwrap_or_else(|e| panic!("{e}"));
    let accel = choose_accel(&host_kernel, Path::new(env!("CARGO_TARGET_TMPDIR")));
    ws.boot(release, accel, Duration::from_secs(900), &[])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A report's `RESULT key=value` lines, and the context for a failing assertion.
fn results(r: &QemuRun) -> (std::collections::HashMap<String, String>, String) {
    let map = r
        .results
        .lines()
        .filter_map(|l| l.trim().strip_prefix("RESULT "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    let ctx = format!(
        "results port:\n{}\n---- console (tail) ----\n{}",
        r.results,
        tail(&r.console, 60)
    );
    (map, ctx)
}

/// Journal lines of a unit, one `LOG <tag> p<PRIORITY>: message` line each.
const JOURNAL_FN: &str = r#"
r() { echo "RESULT $1"; }
# journal UNIT TAG [CURSOR]: the unit's lines of this boot, with their syslog priority.
journal() {
    for p in 0 1 2 3 4 5 6 7; do
        if [ -n "${3:-}" ]; then
            journalctl -b --no-pager -o cat -u "$1" -p "$p..$p" --after-cursor="$3"
        else
            journalctl -b --no-pager -o cat -u "$1" -p "$p..$p"
        fi | sed "s/^/LOG $2 p$p: /"
    done
}
# boot_modules TAG: every line of this boot that speaks of modules, unit or not (early
# messages reach the journal from the kernel's log buffer, without a unit).
boot_modules() {
    for p in 0 1 2 3 4 5 6 7; do
        journalctl -b --no-pager -o cat -p "$p..$p" | grep -E "odule|Load Kernel Modules" | sed "s/^/LOG $1 p$p: /"
    done
}
cursor() { journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'; }
sml() { systemctl show -p "$1" --value systemd-modules-load.service; }
"#;

/// Without the loader: what systemd-modules-load does with dahdi-linux.conf when dahdi is
/// stale at boot; then, restarted in the same boot, with the names deny-listed in
/// /run/modprobe.d, and with dahdi missing (with and without the deny-list). And what
/// `modprobe NAME` does with a deny-listed module.
fn facts(platform: Platform) {
    let (stage, release) = operator_system(platform);
    let ws = Workspace::from_stage(&stage).unwrap_or_else(|e| panic!("{e}"));
    assert_debians_boot_files(&ws);
    let symbol = make_stale(&ws, &release);
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
printf 'blacklist dahdi\nblacklist dahdi_transcode\n' > /run/modprobe.d/facts.conf
c=$(cursor)
systemctl restart systemd-modules-load.service
r "denied_result=$(sml Result)"
journal systemd-modules-load.service denied "$c"
modprobe dahdi 2>/tmp/mp.err; r "modprobe_denied_stale=$?"
sed 's/^/LOG modprobe: /' /tmp/mp.err
printf 'blacklist dummy\n' >> /run/modprobe.d/facts.conf
modprobe dummy; r "modprobe_denied_by_name=$? loaded=$(grep -c '^dummy ' /proc/modules)"

rm -f /lib/modules/$(uname -r)/updates/dkms/dahdi.ko*
depmod
c=$(cursor)
systemctl restart systemd-modules-load.service
r "missing_denied_result=$(sml Result)"
journal systemd-modules-load.service missing-denied "$c"
rm /run/modprobe.d/facts.conf
c=$(cursor)
systemctl restart systemd-modules-load.service
r "missing_result=$(sml Result)"
journal systemd-modules-load.service missing "$c"
"#
    );
    TestUnit::new("bootfiles-facts", "systemd-modules-load.service", &script)
        .install(&ws)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = boot(&ws, &release);
    let (res, ctx) = results(&r);
    eprintln!(
        "{} facts (stale symbol {symbol}):\n{}",
        platform.id(),
        r.results
    );
    assert!(!r.timed_out, "the guest did not power off in time\n{ctx}");
    assert_eq!(res.get("kernel"), Some(&release), "{ctx}");
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

/// The words the check before systemd-modules-load starts its one warning with.
const CHECK_SAYS: &str = "DAHDI will not load on the running kernel";

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
r "check_messages=$(journalctl -b --no-pager -o cat | grep -c 'DAHDI will not load on the running kernel')"
journal systemd-modules-load.service sml
journal dahdi-loader.service loader
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
    let r = boot(&ws, &release);
    let (res, ctx) = results(&r);
    let get = |k: &str| res.get(k).map(String::as_str).unwrap_or("<missing>");
    assert!(!r.timed_out, "the guest did not power off in time\n{ctx}");
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
fn stale(platform: Platform) {
    let (stage, release) = operator_system(platform);
    let ws = Workspace::from_stage(&stage).unwrap_or_else(|e| panic!("{e}"));
    assert_debians_boot_files(&ws);
    install_loader(&ws);
    let symbol = make_stale(&ws, &release);
    let script = format!("#!/bin/sh\n{JOURNAL_FN}\n{AFTER_LOADER}");
    TestUnit::new("bootfiles-stale", "dahdi-loader.service", &script)
        .install(&ws)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = boot(&ws, &release);
    let (res, ctx) = results(&r);
    let get = |k: &str| res.get(k).map(String::as_str).unwrap_or("<missing>");
    eprintln!("{} stale ({symbol}):\n{}", platform.id(), r.results);
    assert!(!r.timed_out, "the guest did not power off in time\n{ctx}");
    assert_eq!(get("kernel"), release, "{ctx}");
    assert_eq!(get("failed_units"), "", "a unit failed\n{ctx}");
    assert_eq!(get("sml_result"), "success", "{ctx}");
    assert_eq!(
        get("check_messages"),
        "1",
        "one warning from the check\n{ctx}"
    );
    let warning = r
        .results
        .lines()
        .find(|l| l.contains(CHECK_SAYS))
        .unwrap_or_else(|| panic!("no warning\n{ctx}"));
    assert!(
        warning.starts_with("LOG sml p4: "),
        "the check's warning is not in systemd-modules-load's unit at warning level\n{ctx}"
    );
    for words in [symbol.as_str(), "dahdi-loader.service will rebuild"] {
        assert!(warning.contains(words), "{words:?} not in {warning:?}");
    }
    for m in ["dahdi", "dahdi_transcode"] {
        assert!(
            r.results.contains(&format!("Module '{m}' is deny-listed")),
            "systemd-modules-load did not skip {m}\n{ctx}"
        );
    }
    assert_eq!(get("loader_result"), "success", "{ctx}");
    assert!(
        r.results.contains("verifies; installing it for"),
        "the loader did not rebuild\n{ctx}"
    );
    assert_eq!(get("dahdi"), "1", "{ctx}");
    assert_eq!(get("transcode"), "1", "{ctx}");
    assert_eq!(get("registered"), "1", "{ctx}");
    assert_eq!(get("verify"), "0", "{ctx}");
    assert_eq!(get("deny_list"), "absent", "{ctx}");
}

#[test]
fn debian12_healthy_boot_with_debians_boot_files() {
    healthy(Platform::Debian12);
}

#[test]
fn debian13_healthy_boot_with_debians_boot_files() {
    healthy(Platform::Debian13);
}

#[test]
fn debian12_stale_dahdi_is_skipped_said_once_rebuilt_and_loaded() {
    stale(Platform::Debian12);
}

#[test]
fn debian13_stale_dahdi_is_skipped_said_once_rebuilt_and_loaded() {
    stale(Platform::Debian13);
}

/// DAHDI's DKMS module and version in the workspace (/var/lib/dkms/dahdi/VERSION).
fn dkms_version(ws: &Workspace) -> String {
    let mut v: Vec<String> = std::fs::read_dir(ws.path("/var/lib/dkms/dahdi"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("source").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v.pop().expect("a dahdi version in /var/lib/dkms/dahdi")
}

/// Never two builds at once: DAHDI is missing at boot (DKMS's build for the kernel was
/// removed, as before a kernel hook's build) and, as the boot unit starts, an operator's
/// `dkms install` is building it. The check warns once (systemd-modules-load does not fail
/// on a missing module); the loader waits for that dkms, finds DAHDI built, and loads it
/// without building again; DKMS built once (one make.log, one build of each module).
fn missing_while_dkms_builds(platform: Platform) {
    let (stage, release) = operator_system(platform);
    let ws = Workspace::from_stage(&stage).unwrap_or_else(|e| panic!("{e}"));
    assert_debians_boot_files(&ws);
    install_loader(&ws);
    let version = dkms_version(&ws);
    {
        let root = ws.chroot().unwrap_or_else(|e| panic!("{e}"));
        let target = format!("dahdi/{version}");
        let out = root
            .run(&["dkms", "unbuild", &target, "-k", &release])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "dkms unbuild: {}",
            dahdi_tests::output::text(&out)
        );
    }
    assert!(
        !ws.path(&format!("/lib/modules/{release}/updates/dkms/dahdi.ko"))
            .exists()
            && !ws
                .path(&format!("/lib/modules/{release}/updates/dkms/dahdi.ko.xz"))
                .exists(),
        "dkms unbuild left dahdi installed"
    );
    // The operator's build, started just before the loader's boot unit and still running
    // when it starts (a DAHDI build takes minutes; the unit returns once dkms is seen).
    let operator = format!(
        "[Unit]\nDescription=an operator's dkms install\nDefaultDependencies=no\n\
         After=local-fs.target systemd-modules-load.service\nBefore=dahdi-loader.service\n\n\
         [Service]\nType=oneshot\n\
         ExecStart=/bin/sh -c 'systemd-run --unit=operator-dkms --collect /usr/sbin/dkms install dahdi/{version} -k {release}; \
         for i in $(seq 1 100); do pgrep -f \"^/bin/bash /usr/sbin/dkms\" >/dev/null && exit 0; sleep 0.1; done; exit 1'\n\n\
         [Install]\nWantedBy=multi-user.target\n"
    );
    ws.write(
        "/etc/systemd/system/operator-dkms-start.service",
        0o644,
        operator.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    ws.symlink(
        "/etc/systemd/system/multi-user.target.wants/operator-dkms-start.service",
        "/etc/systemd/system/operator-dkms-start.service",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let script = format!(
        "#!/bin/sh\n{JOURNAL_FN}\n{AFTER_LOADER}\n\
         r \"operator_start=$(systemctl show -p Result --value operator-dkms-start.service)\"\n\
         r \"operator_dkms=$(systemctl show -p Result --value operator-dkms.service)\"\n\
         r \"dkms_running_after_loader=$(pgrep -fc '/usr/sbin/dkms')\"\n\
         r \"make_logs=$(ls /var/lib/dkms/dahdi/{version}/build/make.log 2>/dev/null | wc -l)\"\n\
         journal operator-dkms.service dkms\n"
    );
    TestUnit::new("bootfiles-race", "dahdi-loader.service", &script)
        .install(&ws)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = boot(&ws, &release);
    let (res, ctx) = results(&r);
    let get = |k: &str| res.get(k).map(String::as_str).unwrap_or("<missing>");
    eprintln!("{} race:\n{}", platform.id(), r.results);
    assert!(!r.timed_out, "the guest did not power off in time\n{ctx}");
    assert_eq!(get("kernel"), release, "{ctx}");
    assert_eq!(
        get("operator_start"),
        "success",
        "dkms was not seen running\n{ctx}"
    );
    assert_eq!(get("failed_units"), "", "a unit failed\n{ctx}");
    assert_eq!(get("sml_result"), "success", "{ctx}");
    assert_eq!(
        get("check_messages"),
        "1",
        "one warning from the check\n{ctx}"
    );
    assert!(
        r.results
            .lines()
            .any(|l| l.starts_with("LOG sml p4: ") && l.contains("will not find dahdi")),
        "{ctx}"
    );
    // The loader waited for the operator's dkms, and did not build itself.
    assert!(
        r.results.lines().any(|l| l.starts_with("LOG loader p5: ")
            && l.contains("dkms is running (pid ")
            && l.contains(&format!("dkms install dahdi/{version}"))),
        "the loader did not say it waited for dkms\n{ctx}"
    );
    assert!(
        !r.results.contains("verifies; installing it for"),
        "the loader built although dkms had\n{ctx}"
    );
    assert!(
        r.results.contains("after waiting") && !r.results.contains("(built with DKMS)"),
        "{ctx}"
    );
    assert_eq!(get("operator_dkms"), "success", "{ctx}");
    assert_eq!(get("dkms_running_after_loader"), "0", "{ctx}");
    assert_eq!(get("loader_result"), "success", "{ctx}");
    assert_eq!(get("dahdi"), "1", "{ctx}");
    assert_eq!(get("transcode"), "1", "{ctx}");
    assert_eq!(get("registered"), "1", "{ctx}");
    assert_eq!(get("verify"), "0", "{ctx}");
    assert_eq!(get("deny_list"), "absent", "{ctx}");
}

#[test]
fn debian12_loader_waits_for_a_running_dkms_and_builds_nothing() {
    missing_while_dkms_builds(Platform::Debian12);
}

#[test]
fn debian13_loader_waits_for_a_running_dkms_and_builds_nothing() {
    missing_while_dkms_builds(Platform::Debian13);
}
