//! The in-place upgrade from Debian 12 to Debian 13, as an operator does it, at the boot
//! level on the real driver.
//!
//! The system before: Debian 12 with kernel O, its headers, `dahdi-dkms` and `dahdi`
//! installed as an operator installs them, Recommends included, so dahdi-linux's
//! modules-load.d file and udev rules are there (the shared stage of the kernel-upgrade
//! scenario, `dahdi_tests::upgrade::system_with_kernel_a`, O being its kernel A), DKMS
//! having built DAHDI 2.11 for O. The loader's package, built from this tree, is installed
//! with apt. Its apt sources then read trixie instead of bookworm (as Debian 13's release
//! notes have it). That system, the new apt lists and the downloaded packages are cached
//! stages; the upgrade itself runs every time, with real apt, dpkg, DKMS and Debian's
//! kernel hooks in a chroot (the loader's own hooks among them): `apt-get full-upgrade`,
//! then the kernel metapackages (`linux-image-amd64 linux-headers-amd64`), which this
//! operator had not installed, as the release notes advise for such a system.
//!
//! What the scenario shows, in order:
//! 1. Before: `dahdi-loader verify O` says DAHDI loads (exit 0), and DKMS and modinfo show
//!    DAHDI 2.11 for O.
//! 2. `apt-get full-upgrade` succeeds non-interactively and brings Debian 13's kernel N;
//!    DKMS replaces DAHDI 2.11 by 3.1 and builds it for both kernels (O uncompressed, N
//!    `.ko.xz`), as `dkms status` and modinfo show, read independently of the loader.
//! 3. Before the reboot: `dahdi-loader verify N` says DAHDI will load (exit 0) and names
//!    the DAHDI version DKMS built; `verify O` says the same of O's new build.
//! 4. N boots with the packaged units: dahdi-loader.service succeeds, DAHDI 3.1 is loaded
//!    (/sys/module/dahdi/version), /dev/dahdi/pseudo reads, no unit failed, and `verify O`
//!    run in the booted system gives the same verdict as before the reboot.
//! 5. Never worse: every kernel on which DAHDI loaded before still verifies, and DAHDI is
//!    loaded at the end. (Driver by driver it is not quite so: DAHDI 3 no longer has some
//!    of 2.11's card drivers, which upstream removed; the test prints which.)

mod debpkg;

use std::path::Path;
use std::time::{Duration, Instant};

use dahdi_tests::chroot::{Chroot, StageCache, Workspace};
use dahdi_tests::debian::TestUnit;
use dahdi_tests::output::{tail, text};
use dahdi_tests::runner::choose_accel;
use dahdi_tests::upgrade::{kernel_pair, system_with_kernel_a};
use dahdi_tests::Platform;
use debpkg::{apt_install_local, stage_packages, FIRST};

/// The release notes' advice to a system without a kernel metapackage: install one, so
/// that the new release's kernel comes (with its headers, so DKMS builds for it).
const KERNEL_METAPACKAGES: &[&str] = &[
    "apt-get",
    "install",
    "-y",
    "-q",
    "linux-image-amd64",
    "linux-headers-amd64",
];
/// The release notes' step: every `bookworm` in apt's sources becomes `trixie`
/// (bookworm-updates and bookworm-security with it).
const SOURCES_TO_TRIXIE: &str = "sed -i 's/bookworm/trixie/g' /etc/apt/sources.list.d/*.sources; \
     [ ! -f /etc/apt/sources.list ] || sed -i 's/bookworm/trixie/g' /etc/apt/sources.list; \
     ! grep -rq bookworm /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null";
/// Non-interactive as an unattended upgrade must be: dpkg keeps a conffile the system has
/// changed (the test bed's initramfs-tools modules list) rather than asking.
const FULL_UPGRADE: &[&str] = &[
    "apt-get",
    "full-upgrade",
    "-y",
    "-q",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
];

fn must<T>(r: Result<T, dahdi_tests::HarnessError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_string()).collect()
}

/// The kernel releases with an installed `linux-image-RELEASE` package, as dpkg lists them.
fn installed_kernels(root: &Chroot) -> Vec<String> {
    let out = must(root.run(&[
        "dpkg-query",
        "-W",
        "-f=${db:Status-Abbrev} ${Package}\\n",
        "linux-image-*",
    ]));
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("ii "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|p| p.strip_prefix("linux-image-"))
        .filter(|r| r.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// DKMS's own view of dahdi on `kernel`: the version of the line saying `installed`.
fn dkms_installed_version(root: &Chroot, kernel: &str) -> Option<String> {
    let out = text(&must(
        root.run(&["dkms", "status", "-m", "dahdi", "-k", kernel]),
    ));
    // DKMS 3: "dahdi/VERSION, KERNEL, x86_64: installed"
    out.lines()
        .find(|l| l.contains(kernel) && l.trim_end().ends_with(": installed"))
        .and_then(|l| l.split(',').next())
        .and_then(|m| m.strip_prefix("dahdi/"))
        .map(str::to_owned)
}

/// The DKMS-installed dahdi module for `kernel`, whichever compression DKMS used.
fn dkms_dahdi_ko(ws: &Workspace, kernel: &str) -> Option<String> {
    ["ko", "ko.xz", "ko.zst", "ko.gz"]
        .iter()
        .map(|ext| format!("/lib/modules/{kernel}/updates/dkms/dahdi.{ext}"))
        .find(|p| ws.path(p).is_file())
}

/// modinfo's `version` field of a module file (kmod reads compressed modules itself).
fn modinfo_version(root: &Chroot, file: &str) -> String {
    let out = must(root.run(&["modinfo", "-F", "version", file]));
    assert!(out.status.success(), "modinfo {file}:\n{}", text(&out));
    text(&out).trim().to_string()
}

/// The DAHDI modules DKMS installed for `kernel` (names without the extension).
fn dkms_modules(ws: &Workspace, kernel: &str) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(ws.path(&format!("/lib/modules/{kernel}/updates/dkms")))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.split_once(".ko").map(|(m, _)| m.to_string()))
            .collect();
    v.sort();
    v
}

#[test]
fn debian12_to_debian13_upgrade_dahdi_verified_before_reboot_and_loaded_after() {
    let started = Instant::now();
    let mut lap = Instant::now();
    let mut times: Vec<(&str, f64)> = Vec::new();
    let mut mark = |what: &'static str| {
        let s = lap.elapsed().as_secs_f64();
        eprintln!("vm-release-upgrade: {what}: {s:.0} s");
        times.push((what, s));
        lap = Instant::now();
    };
    let cache_root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-cache");
    let cache = StageCache::new(&cache_root);
    let pair = must(kernel_pair(Platform::Debian12, &cache));
    let bookworm = must(system_with_kernel_a(Platform::Debian12, &cache, &pair));
    let mut download = strings(FULL_UPGRADE);
    download.insert(2, "--download-only".into());
    let mut metapackages = strings(KERNEL_METAPACKAGES);
    metapackages.insert(2, "--download-only".into());
    let stage = must(cache.derive(
        &bookworm,
        "trixie-upgrade-debs",
        &[
            strings(&["sh", "-c", SOURCES_TO_TRIXIE]),
            strings(&["apt-get", "update", "-q"]),
            download,
            metapackages,
        ],
    ));
    mark("stages (cached after the first run)");

    let ws = must(Workspace::from_stage(&stage));
    stage_packages(&ws);
    mark("workspace copy + loader packages");
    let (old, new, version_new);
    {
        let root = must(ws.chroot());
        let run = |args: &[&str]| must(root.run(args));
        apt_install_local(&root, FIRST);
        for f in [
            "/etc/modules-load.d/dahdi-linux.conf",
            "/etc/os-release",
            "/usr/sbin/dahdi-loader",
        ] {
            assert!(ws.path(f).exists(), "{f} missing before the upgrade");
        }
        let os = std::fs::read_to_string(ws.path("/etc/debian_version")).unwrap();
        assert!(os.starts_with("12."), "not Debian 12 before: {os}");

        // 1. Before: DAHDI 2.11 on O, and the loader agrees.
        let before = installed_kernels(&root);
        let [o] = before.as_slice() else {
            panic!("expected one kernel before the upgrade, dpkg has {before:?}")
        };
        old = o.clone();
        let version_before = dkms_installed_version(&root, &old)
            .unwrap_or_else(|| panic!("DKMS has no dahdi installed for {old}"));
        let ko = dkms_dahdi_ko(&ws, &old).expect("dahdi.ko for O");
        let modinfo_before = modinfo_version(&root, &ko);
        assert!(
            version_before.starts_with("2.11"),
            "Debian 12's dahdi-dkms is 2.11: dkms says {version_before}"
        );
        let modules_before = dkms_modules(&ws, &old);
        let verify = run(&["/usr/sbin/dahdi-loader", "verify", &old]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "before: verify {old}:\n{}",
            text(&verify)
        );
        eprintln!(
            "vm-release-upgrade: before: kernel O = {old}, dkms dahdi {version_before}, \
             modinfo {modinfo_before}, {} modules",
            modules_before.len()
        );
        mark("apt-get install ./dahdi-loader.deb + checks before");

        // 2. The upgrade.
        let apt = run(FULL_UPGRADE);
        let mut apt_text = text(&apt);
        mark("apt-get full-upgrade (DKMS builds 3.1 for O)");
        assert!(
            apt.status.success(),
            "apt-get full-upgrade failed:\n{}",
            tail(&apt_text, 60)
        );
        let apt = run(KERNEL_METAPACKAGES);
        apt_text.push_str(&text(&apt));
        mark("apt-get install linux-image-amd64 linux-headers-amd64 (DKMS builds for N)");
        assert!(
            apt.status.success(),
            "apt-get install of the kernel metapackages failed:\n{}",
            tail(&apt_text, 60)
        );
        let audit = text(&run(&["dpkg", "--audit"]));
        assert!(audit.trim().is_empty(), "dpkg --audit:\n{audit}");
        let os = std::fs::read_to_string(ws.path("/etc/debian_version")).unwrap();
        assert!(os.starts_with("13."), "not Debian 13 after: {os}");
        let after = installed_kernels(&root);
        assert!(after.contains(&old), "{old} went away: {after:?}");
        let added: Vec<&String> = after.iter().filter(|k| **k != old).collect();
        let [n] = added.as_slice() else {
            panic!("expected one new kernel, dpkg has {after:?}")
        };
        new = (*n).clone();
        assert!(
            new.contains("+deb13"),
            "the new kernel {new} is not Debian 13's"
        );
        let dahdi_dkms = text(&run(&["dpkg-query", "-W", "-f=${Version}", "dahdi-dkms"]));
        let mut versions = Vec::new();
        for (k, ext) in [(&old, "ko"), (&new, "ko.xz")] {
            let dkms = dkms_installed_version(&root, k).unwrap_or_else(|| {
                panic!(
                    "DKMS has no dahdi installed for {k} after the upgrade:\n{}\n{}",
                    text(&run(&["dkms", "status"])),
                    tail(&apt_text, 60)
                )
            });
            assert!(
                dkms.starts_with("3.1"),
                "dkms dahdi for {k} after the upgrade: {dkms} (dahdi-dkms {dahdi_dkms})"
            );
            let ko = dkms_dahdi_ko(&ws, k).expect("dahdi module file");
            assert!(ko.ends_with(&format!(".{ext}")), "{k}: DKMS installed {ko}");
            let vermagic = text(&run(&["modinfo", "-F", "vermagic", &ko]));
            assert!(vermagic.starts_with(&format!("{k} ")), "{ko}: {vermagic}");
            versions.push((k.clone(), dkms, modinfo_version(&root, &ko)));
        }
        eprintln!(
            "vm-release-upgrade: after: kernel N = {new}, dahdi-dkms {dahdi_dkms}, \
             (kernel, dkms, modinfo): {versions:?}"
        );
        assert_eq!(
            versions[0].2, versions[1].2,
            "modinfo's versions differ between the kernels"
        );
        version_new = versions[1].2.clone();
        assert_ne!(
            version_new, modinfo_before,
            "modinfo's version did not change"
        );

        // 3. The verdicts before the reboot.
        for k in [&new, &old] {
            let verify = run(&["/usr/sbin/dahdi-loader", "verify", k]);
            let v = text(&verify);
            assert_eq!(verify.status.code(), Some(0), "after: verify {k}:\n{v}");
            assert!(
                v.contains(&version_new),
                "verify {k} does not name DAHDI {version_new}:\n{v}"
            );
            assert!(
                !v.contains(&modinfo_before),
                "verify {k} still names {modinfo_before}:\n{v}"
            );
        }
        // 5. (in the chroot) Never fewer modules on O than before.
        let modules_after = dkms_modules(&ws, &old);
        let lost: Vec<&String> = modules_before
            .iter()
            .filter(|m| !modules_after.contains(m))
            .collect();
        eprintln!("vm-release-upgrade: modules on {old} lost in 3.1: {lost:?}");
        mark("checks after the upgrade");
    }

    // 4. The boot into N.
    let script = format!(
        "#!/bin/sh\n\
         r() {{ echo \"RESULT $1\"; }}\n\
         r \"kernel=$(uname -r)\"\n\
         r \"main_result=$(systemctl show -p Result --value dahdi-loader.service)\"\n\
         r \"main_status=$(systemctl show -p ExecMainStatus --value dahdi-loader.service)\"\n\
         r \"main_fragment=$(systemctl show -p FragmentPath --value dahdi-loader.service)\"\n\
         r \"modules_load_result=$(systemctl show -p Result --value systemd-modules-load.service)\"\n\
         r \"dahdi_loaded=$(grep -c '^dahdi ' /proc/modules)\"\n\
         r \"sys_version=$(cat /sys/module/dahdi/version)\"\n\
         if timeout 20 dd if=/dev/dahdi/pseudo of=/tmp/pseudo bs=1024 count=1 2>/tmp/dd.err; then\n\
             r \"pseudo_bytes=$(stat -c %s /tmp/pseudo)\"\n\
         else\n\
             r \"pseudo_bytes=failed\"; sed 's/^/LOG dd: /' /tmp/dd.err\n\
         fi\n\
         r \"failed_units=$(systemctl list-units --failed --plain --no-legend | awk '{{print $1}}' | tr '\\n' ' ')\"\n\
         /usr/sbin/dahdi-loader verify {old} > /tmp/verify-old 2>&1\n\
         r \"verify_old_exit=$?\"\n\
         grep -q -F '{version_new}' /tmp/verify-old && r verify_old_names_version=yes\n\
         sed 's/^/LOG verify-old: /' /tmp/verify-old\n\
         journalctl -b --no-pager -o cat -u dahdi-loader.service | sed 's/^/LOG loader: /'\n\
         systemctl list-units --failed --plain --no-legend | sed 's/^/LOG failed: /'\n"
    );
    must(TestUnit::new("release-upgrade-check", "dahdi-loader.service", &script).install(&ws));
    let host_kernel = must(Platform::Debian12.kernel(&cache_root));
    let accel = choose_accel(&host_kernel, Path::new(env!("CARGO_TARGET_TMPDIR")));
    let report = must(ws.boot(&new, accel, Duration::from_secs(480), &[]));
    mark("pack image + boot N + checks");
    let fin = report.finished(80);
    let ctx = &fin.ctx;
    let get = |k: &str| fin.get(k);
    let expected = [
        ("kernel", new.as_str(), "the booted kernel"),
        ("main_result", "success", "dahdi-loader.service"),
        ("main_status", "0", "dahdi-loader.service exit"),
        (
            "main_fragment",
            "/usr/lib/systemd/system/dahdi-loader.service",
            "the packaged unit (merged /usr)",
        ),
        ("modules_load_result", "success", "systemd-modules-load"),
        ("dahdi_loaded", "1", "dahdi in /proc/modules"),
        ("sys_version", version_new.as_str(), "the loaded DAHDI"),
        ("failed_units", "", "systemctl --failed"),
        ("verify_old_exit", "0", "verify O in the booted system"),
        (
            "verify_old_names_version",
            "yes",
            "verify O names the version",
        ),
    ];
    for (key, want, what) in expected {
        assert_eq!(get(key), want, "{what} ({key})\n{ctx}");
    }
    let pseudo: usize = get("pseudo_bytes").parse().unwrap_or(0);
    assert!(pseudo > 0, "reading /dev/dahdi/pseudo\n{ctx}");

    eprintln!("vm-release-upgrade: results port:\n{}", report.results);
    for (what, s) in &times {
        eprintln!("vm-release-upgrade: {s:>6.0} s  {what}");
    }
    eprintln!(
        "vm-release-upgrade: total {:.0} s ({accel:?})",
        started.elapsed().as_secs_f64()
    );
}
