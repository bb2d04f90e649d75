//! A kernel DAHDI cannot build for, as an operator meets it on Debian 13.
//!
//! The cached trixie system (DAHDI 3.1 built by trixie's DKMS for trixie's kernel G, the
//! loader's package installed with apt) gets trixie-backports in its sources, and the
//! kernel metapackages are installed from there (`apt-get install -t trixie-backports
//! linux-image-amd64 linux-headers-amd64`), bringing the newest kernel K the archive
//! offers, with real apt, dpkg, DKMS and Debian's kernel hooks in a chroot. The kernel is chosen at run time, not
//! written down. If DAHDI's own source builds for it (some day every offered kernel may),
//! the kernel is purged, DAHDI's DKMS source is patched to fail (an `#error` line at the top
//! of dahdi-base.c) and the kernel installed again, so the same failure path runs; the test
//! says which source it used. `DAHDI_FAILED_BUILD_PATCHED=1` uses the patched source from
//! the start, to exercise that path on a day when the real source still fails.
//!
//! What the scenario shows, in order:
//! 1. DKMS's build fails and Debian's hooks stop there (`run-parts --exit-on-error`): apt
//!    fails, dpkg leaves packages unconfigured, no initrd exists for the kernel, and the
//!    next apt run fails the same way.
//! 2. `dahdi-loader verify K` gives the failed-build verdict (exit 4, not "needs build"),
//!    quoting the compiler's first error exactly as the make.log has it, naming the log and
//!    the kernel on which DAHDI loads, and the command that gets apt working again.
//! 3. `dahdi-loader ensure -k K` does not try the same build again; `status` says the same.
//! 4. G boots with the loader's units (the bootloader offers no K: its initrd is missing),
//!    DAHDI loads, no unit fails, and the boot does not try K's build again. `verify K` run
//!    as a unit puts its verdict in the journal at warning priority.
//! 5. The advised command, run as printed, gets apt and dpkg working again.
//! 6. The system is never worse: G verifies before and after.

mod debpkg;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use dahdi_tests::archive::mirror;
use dahdi_tests::chroot::{Chroot, StageCache, Workspace};
use dahdi_tests::debian::TestUnit;
use dahdi_tests::output::{tail, text};
use dahdi_tests::platform::trixie_stage;
use dahdi_tests::runner::choose_accel;
use dahdi_tests::upgrade::kernels_offered;
use dahdi_tests::Platform;
use debpkg::{apt_install_local, stage_packages, FIRST};

const BACKPORTS_SOURCES: &str = "/etc/apt/sources.list.d/trixie-backports.sources";
/// A small package to ask apt for, to see whether apt works (downloaded with the stage).
const PROBE_PACKAGE: &str = "less";
/// What the patched source's build fails with: an `#error` line of the test's own.
const PATCH_ERROR: &str = "dahdi-loader test: DAHDI source patched to fail";

/// Which DAHDI source the failed build used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FailingSource {
    /// DAHDI's own source, as Debian's dahdi-dkms ships it.
    Debian,
    /// That source with [`PATCH_ERROR`] at the top of dahdi-base.c.
    Patched,
}

impl std::fmt::Display for FailingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailingSource::Debian => "DAHDI's own source, as dahdi-dkms ships it",
            FailingSource::Patched => "DAHDI's source patched to fail (#error in dahdi-base.c)",
        })
    }
}

/// Puts an `#error` line at the top of dahdi-base.c in every DAHDI source DKMS has under
/// /usr/src, so that no build of it succeeds.
fn patch_source_to_fail(ws: &Workspace) {
    let mut patched = Vec::new();
    for entry in std::fs::read_dir(ws.path("/usr/src")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let base = entry.path().join("drivers/dahdi/dahdi-base.c");
        if name.starts_with("dahdi-") && entry.path().join("dkms.conf").is_file() && base.is_file()
        {
            let old = std::fs::read_to_string(&base).unwrap();
            std::fs::write(&base, format!("#error \"{PATCH_ERROR}\"\n{old}")).unwrap();
            patched.push(base);
        }
    }
    assert!(
        !patched.is_empty(),
        "no /usr/src/dahdi-*/drivers/dahdi/dahdi-base.c with a dkms.conf to patch"
    );
    eprintln!("vm-failed-build: patched to fail: {patched:?}");
}

fn must<T>(r: Result<T, dahdi_tests::HarnessError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The compiler's first error in a make.log, as gcc prints it (`FILE:LINE:COL: error: MSG`),
/// FILE named from DKMS's build directory: the test's own reading of gcc's format.
fn first_gcc_error(log: &str) -> Option<(String, String, String)> {
    let line = log.lines().find(|l| l.contains(": error: "))?;
    let (place, message) = line.split_once(": error: ")?;
    let mut fields = place.split(':');
    let file = fields.next()?;
    let lineno = fields.next()?.to_string();
    let file = file
        .split_once("/build/")
        .map_or(file, |(_, f)| f)
        .to_string();
    Some((file, lineno, message.trim().to_string()))
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `apt-get install` of the probe package: whether apt works on this system.
fn apt_probe(root: &Chroot) -> (bool, String) {
    let out = must(root.run(&[
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        PROBE_PACKAGE,
    ]));
    (out.status.success(), text(&out))
}

#[test]
fn debian13_backports_kernel_dahdi_cannot_build_for() {
    let started = Instant::now();
    let cache_root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-cache");
    let cache = StageCache::new(&cache_root);
    let good = must(Platform::Debian13.kernel(&cache_root)).release;
    let trixie = must(trixie_stage(&cache_root));
    let sources = format!(
        "Types: deb\nURIs: {}\nSuites: trixie-backports\nComponents: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        must(mirror())
    );
    let lists = must(cache.derive(
        &trixie,
        "trixie-backports-lists",
        &[
            vec![
                "sh".into(),
                "-c".into(),
                format!("printf '%s' \"$1\" > {BACKPORTS_SOURCES}"),
                "sh".into(),
                sources,
            ],
            vec!["apt-get".into(), "update".into(), "-q".into()],
        ],
    ));
    // The generic flavour (not -rt-amd64, -cloud-amd64), of trixie or trixie-backports.
    let offered = must(kernels_offered(
        &lists.dir,
        r"^linux-image-[0-9.]+\+deb13-amd64$",
    ));
    let k = offered
        .last()
        .unwrap_or_else(|| panic!("no kernel offered in trixie and trixie-backports"))
        .clone();
    assert_ne!(
        k, good,
        "trixie-backports offers no kernel newer than {good}"
    );
    eprintln!("vm-failed-build: kernel G = {good} (DAHDI built), K = {k} (newest offered)");
    let (image, headers) = (format!("linux-image-{k}"), format!("linux-headers-{k}"));
    // As the backports instructions have it: the metapackages from trixie-backports, which
    // bring the newest kernel, its headers and what they need (a newer linux-base).
    let install_k: Vec<String> = [
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "-t",
        "trixie-backports",
        "linux-image-amd64",
        "linux-headers-amd64",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    let mut download = install_k.clone();
    download.insert(2, "--download-only".into());
    let mut probe = vec![
        "apt-get".to_string(),
        "install".into(),
        "--download-only".into(),
        "-y".into(),
        "-q".into(),
        PROBE_PACKAGE.into(),
    ];
    let stage = must(cache.derive(
        &lists,
        "backports-kernel-debs",
        &[download, std::mem::take(&mut probe)],
    ));
    eprintln!(
        "vm-failed-build: stages ready in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let ws = must(Workspace::from_stage(&stage));
    stage_packages(&ws);
    let make_log;
    let mut source = FailingSource::Debian;
    {
        let root = must(ws.chroot());
        let run = |args: &[&str]| must(root.run(args));
        apt_install_local(&root, FIRST);
        let verify_good = run(&["/usr/sbin/dahdi-loader", "verify", &good]);
        assert_eq!(
            verify_good.status.code(),
            Some(0),
            "before: verify {good}:\n{}",
            text(&verify_good)
        );

        // 1. DKMS fails, and Debian's hooks stop with it.
        let args: Vec<&str> = install_k.iter().map(String::as_str).collect();
        if std::env::var_os("DAHDI_FAILED_BUILD_PATCHED").is_some() {
            patch_source_to_fail(&ws);
            source = FailingSource::Patched;
        }
        let mut apt = run(&args);
        if apt.status.success() && source == FailingSource::Debian {
            // DAHDI's own source builds for the newest kernel: take the kernel away again
            // (its prerm hooks remove DKMS's build for it), patch the source, and install
            // the kernel once more, so that the same hooks meet a failing build.
            eprintln!(
                "vm-failed-build: DAHDI's own source builds for {k}; using a source patched \
                 to fail"
            );
            let purge = run(&[
                "apt-get",
                "purge",
                "-y",
                "-q",
                "linux-image-amd64",
                "linux-headers-amd64",
                &image,
                &headers,
            ]);
            assert!(
                purge.status.success(),
                "purging {image} {headers}:\n{}",
                tail(&text(&purge), 40)
            );
            patch_source_to_fail(&ws);
            source = FailingSource::Patched;
            apt = run(&args);
        }
        eprintln!("vm-failed-build: the failing build uses {source}");
        let apt_text = text(&apt);
        let kernel_installed = text(&run(&["dpkg-query", "-W", "-f=${Status}", &image]));
        assert!(
            kernel_installed.starts_with("install ok"),
            "the backports metapackage did not bring {image} ({kernel_installed}):\n{}",
            tail(&apt_text, 40)
        );
        let dkms = text(&run(&["dkms", "status", "-m", "dahdi", "-k", &k]));
        assert!(
            !apt.status.success(),
            "DAHDI built for {k} ({dkms}) from {source}\n{}",
            tail(&apt_text, 40)
        );
        assert!(!dkms.contains("installed"), "dkms status for {k}: {dkms}");
        let audit = text(&run(&["dpkg", "--audit"]));
        assert!(
            audit.contains(&image) || audit.contains(&headers),
            "dpkg --audit does not name the half-set-up kernel:\n{audit}\napt:\n{}",
            tail(&apt_text, 40)
        );
        assert!(
            !ws.path(&format!("/boot/initrd.img-{k}")).exists(),
            "an initrd for {k} exists: the hooks after DKMS's ran"
        );
        let (probe_ok, probe_text) = apt_probe(&root);
        assert!(
            !probe_ok,
            "apt works although {k} is half set up:\n{}",
            tail(&probe_text, 30)
        );
        eprintln!("vm-failed-build: dpkg --audit:\n{audit}");

        // 2. The verdict.
        let logs: Vec<_> = std::fs::read_dir(ws.path("/var/lib/dkms/dahdi"))
            .unwrap()
            .flatten()
            .map(|e| e.path().join("build/make.log"))
            .filter(|p| p.is_file())
            .collect();
        let [log] = logs.as_slice() else {
            panic!("expected one DKMS make.log for dahdi, found {logs:?}")
        };
        make_log = log.clone();
        let log_text = std::fs::read_to_string(log).unwrap();
        assert!(
            log_text.lines().next().unwrap_or("").contains(&k),
            "the make.log is not {k}'s:\n{}",
            tail(&log_text, 10)
        );
        let (file, line, message) = first_gcc_error(&log_text).unwrap_or_else(|| {
            panic!(
                "no compiler error in the make.log:\n{}",
                tail(&log_text, 40)
            )
        });
        if source == FailingSource::Patched {
            assert!(
                log_text.contains(PATCH_ERROR),
                "the make.log does not show the patched source's error:\n{}",
                tail(&log_text, 40)
            );
        }
        let guest_log = format!("/{}", log.strip_prefix(&ws.rootfs).unwrap().display());
        let verify = run(&["/usr/sbin/dahdi-loader", "verify", &k]);
        let v = text(&verify);
        assert_eq!(verify.status.code(), Some(4), "verify {k}:\n{v}");
        for want in [
            format!("{file}:{line}: error: {message}"),
            guest_log.clone(),
            format!("keep booting a kernel where DAHDI loads ({good})"),
            format!("apt-get remove {image} {headers}"),
        ] {
            assert!(v.contains(&want), "verify {k} does not say {want:?}:\n{v}");
        }
        assert!(
            !v.contains("needs build"),
            "a failed build is not a to-do:\n{v}"
        );

        // 3. No second try, and status says the same.
        let before = mtime(log);
        let ensure = run(&["/usr/sbin/dahdi-loader", "ensure", "-k", &k]);
        let e = text(&ensure);
        assert_eq!(ensure.status.code(), Some(4), "ensure -k {k}:\n{e}");
        assert_eq!(mtime(log), before, "ensure built again:\n{e}");
        let status = run(&["/usr/sbin/dahdi-loader", "status"]);
        let s = text(&status);
        assert_eq!(status.status.code(), Some(4), "status:\n{s}");
        assert!(s.contains(&k) && s.contains(&message), "status:\n{s}");
    }

    // 4. G boots with the loader's units and DAHDI loads; nothing failed, nothing rebuilt.
    let script = format!(
        "#!/bin/sh\n\
         r() {{ echo \"RESULT $1\"; }}\n\
         r \"kernel=$(uname -r)\"\n\
         r \"main_result=$(systemctl show -p Result --value dahdi-loader.service)\"\n\
         r \"dahdi_loaded=$(grep -c '^dahdi ' /proc/modules)\"\n\
         r \"failed_units=$(systemctl list-units --failed --plain --no-legend | awk '{{print $1}}' | tr '\\n' ' ')\"\n\
         r \"make_log_mtime=$(stat -c %Y {log})\"\n\
         systemctl start verify-k.service\n\
         journalctl --sync\n\
         r \"journal_warnings=$(journalctl -b -u verify-k -p warning -o cat | grep -c 'will not load on kernel {k}')\"\n\
         r \"journal_raw_prefixes=$(journalctl -b -u verify-k -o cat | grep -c '^<[0-7]>')\"\n\
         journalctl -b --no-pager -o cat -u dahdi-loader.service | sed 's/^/LOG loader: /'\n",
        log = make_log.strip_prefix(&ws.rootfs).map(|p| format!("/{}", p.display())).unwrap()
    );
    must(TestUnit::new("failed-build-check", "dahdi-loader.service", &script).install(&ws));
    // `verify K` as systemd runs a service: its output is the journal's stream. (A unit
    // file, since the minimal system has no D-Bus for systemd-run.) Exit 4 is its verdict.
    must(
        ws.write(
            "/etc/systemd/system/verify-k.service",
            0o644,
            format!(
                "[Service]\nType=oneshot\nExecStart=/usr/sbin/dahdi-loader verify {k}\n\
             SuccessExitStatus=4\n"
            )
            .as_bytes(),
        ),
    );
    let kernel = must(Platform::Debian13.kernel(&cache_root));
    let accel = choose_accel(&kernel, Path::new(env!("CARGO_TARGET_TMPDIR")));
    let log_mtime = mtime(&make_log)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let report = must(ws.boot(&good, accel, Duration::from_secs(300), &[]));
    let fin = report.finished(60);
    let ctx = &fin.ctx;
    let get = |k: &str| fin.get(k);
    assert_eq!(get("kernel"), good, "{ctx}");
    assert_eq!(get("main_result"), "success", "{ctx}");
    assert_eq!(get("dahdi_loaded"), "1", "{ctx}");
    assert_eq!(get("failed_units"), "", "{ctx}");
    // Under systemd the loader's lines carry syslog priorities: the verdict is a warning
    // in the journal (not info), and no raw <N> prefix is left in the text.
    assert_ne!(get("journal_warnings"), "0", "{ctx}");
    assert_eq!(get("journal_raw_prefixes"), "0", "{ctx}");
    assert_eq!(
        get("make_log_mtime"),
        log_mtime.to_string(),
        "the boot touched the failed build's log\n{ctx}"
    );
    {
        let root = must(ws.chroot());
        let run = |args: &[&str]| must(root.run(args));
        // 5. The advised command, as printed, gets apt working again.
        let remove = run(&["apt-get", "remove", "-y", "-q", &image, &headers]);
        assert!(
            remove.status.success(),
            "apt-get remove {image} {headers}:\n{}",
            tail(&text(&remove), 40)
        );
        let audit = text(&run(&["dpkg", "--audit"]));
        assert!(
            audit.trim().is_empty(),
            "dpkg --audit after the remove:\n{audit}"
        );
        let (probe_ok, probe_text) = apt_probe(&root);
        assert!(probe_ok, "apt after the remove:\n{}", tail(&probe_text, 30));

        // 6. Never worse: G as before.
        let verify_good = run(&["/usr/sbin/dahdi-loader", "verify", &good]);
        assert_eq!(
            verify_good.status.code(),
            Some(0),
            "after: verify {good}:\n{}",
            text(&verify_good)
        );
    }
    eprintln!(
        "vm-failed-build: total {:.0} s ({accel:?}); kernel {k}, {source}",
        started.elapsed().as_secs_f64()
    );
}
