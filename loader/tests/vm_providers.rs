//! Providers of DAHDI other than Debian's, on the real DKMS and the real driver.
//!
//! The starting point is the cached Debian 12 system of the upgrade scenario: kernel A with
//! Debian's `dahdi-dkms` (DKMS module `dahdi`, DAHDI 2.11) built by DKMS and `dahdi`,
//! installed with Recommends as an operator does (so purging `dahdi-dkms` takes
//! dahdi-linux and dahdi with it: apt's own answer to removing what they depend on). An operator's
//! XiVO-style `dahdi-linux-dkms` package (DKMS module `dahdi-linux`, DAHDI 3.1 source, see
//! `dahdi_tests::provider`) is installed with dpkg:
//!
//! * **replacing** Debian's package (`apt-get purge dahdi-dkms` first), then a leftover
//!   per-kernel `dahdi-linux-modules-A` package with the old 2.11 modules is installed by
//!   dpkg as well;
//! * **beside** Debian's package: two DKMS modules fight over the same files.
//!
//! In each, what `status` and `verify` say is checked against what dpkg and DKMS say
//! themselves (`dpkg -S`, `dkms status`); `ensure` either leaves a system that verifies or
//! changes nothing (every module file's bytes compared before and after); the advice is
//! applied as written; and the system boots kernel A with DAHDI 3.1 up from the loader's
//! unit, every DAHDI module file modules.dep lists loading in the guest.

use dahdi_tests::output::{tail, text};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dahdi_tests::chroot::{Chroot, Stage, StageCache, Workspace};
use dahdi_tests::provider::{
    legacy_modules_package, legacy_package_name, trixie_dahdi_dkms, xivo_style_package,
    XIVO_MODULE, XIVO_VERSION,
};
use dahdi_tests::runner::choose_accel;
use dahdi_tests::upgrade::{kernel_pair, system_with_kernel_a};
use dahdi_tests::KernelUnderTest;
use dahdi_tests::Platform;

/// One scenario at a time: each builds DAHDI with DKMS and boots a guest.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn cache() -> StageCache {
    StageCache::new(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"))
}

fn must<T>(r: Result<T, dahdi_tests::HarnessError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The starting system and the XiVO-style package built for it.
struct Start {
    kernel: String,
    stage: Stage,
    xivo_deb: Vec<u8>,
}

fn start() -> Start {
    let cache = cache();
    let pair = must(kernel_pair(Platform::Debian12, &cache));
    let stage = must(system_with_kernel_a(Platform::Debian12, &cache, &pair));
    let downloads = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-cache/providers");
    let source = must(trixie_dahdi_dkms(&downloads));
    let out = tempfile::tempdir().expect("tempdir");
    let deb = must(xivo_style_package(&source, out.path()));
    Start {
        kernel: pair.a,
        stage,
        xivo_deb: std::fs::read(deb).expect("xivo deb"),
    }
}

/// A scratch copy of the starting system with the loader installed and the operator's
/// package waiting in /root.
fn workspace(s: &Start) -> Workspace {
    let ws = must(Workspace::from_stage(&s.stage));
    install_loader(&ws);
    must(ws.write("/root/xivo.deb", 0o644, &s.xivo_deb));
    ws
}

/// The loader and its boot unit, enabled as loader/README.md says.
fn install_loader(ws: &Workspace) {
    let bin = std::fs::read(env!("CARGO_BIN_EXE_dahdi-loader")).expect("loader binary");
    must(ws.write("/usr/sbin/dahdi-loader", 0o755, &bin));
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/systemd/dahdi-loader.service");
    must(ws.write(
        "/etc/systemd/system/dahdi-loader.service",
        0o644,
        &std::fs::read(unit).expect("unit"),
    ));
    must(ws.symlink(
        "/etc/systemd/system/multi-user.target.wants/dahdi-loader.service",
        "/etc/systemd/system/dahdi-loader.service",
    ));
}

/// Every file under the kernel's module tree that DAHDI could be, with its bytes: what
/// "changes nothing" is checked against.
fn module_files(ws: &Workspace, kernel: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let top = ws.path(&format!("/lib/modules/{kernel}"));
    let mut stack = vec![top.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            let ft = e.file_type().expect("file type");
            if ft.is_dir() && !ft.is_symlink() {
                // The kernel's own tree is large and nobody here touches it.
                if p != top.join("kernel") {
                    stack.push(p);
                }
            } else if ft.is_file() && p.to_string_lossy().contains(".ko") {
                let rel = p.strip_prefix(&top).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).expect("module file"));
            }
        }
    }
    out
}

fn run(root: &Chroot, args: &[&str]) -> std::process::Output {
    must(root.run(args))
}

fn run_ok(root: &Chroot, args: &[&str]) -> String {
    let out = run(root, args);
    let t = text(&out);
    assert!(
        out.status.success(),
        "`{}` failed:\n{}",
        args.join(" "),
        tail(&t, 60)
    );
    t
}

fn loader(root: &Chroot, args: &[&str]) -> (Option<i32>, String) {
    let mut v = vec!["/usr/sbin/dahdi-loader"];
    v.extend_from_slice(args);
    let out = run(root, &v);
    (out.status.code(), text(&out))
}

/// The DKMS modules the loader's `status --json` names as providers, with their versions.
fn providers(root: &Chroot) -> BTreeMap<String, Vec<String>> {
    let out = run(root, &["/usr/sbin/dahdi-loader", "--json", "status"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}):\n{}", text(&out)));
    v["providers"]
        .as_array()
        .expect("providers array")
        .iter()
        .map(|p| {
            (
                p["module"].as_str().expect("module").to_owned(),
                p["versions"]
                    .as_array()
                    .expect("versions")
                    .iter()
                    .map(|x| x.as_str().expect("version").to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// Nothing the loader advises deletes a file: files are a package's or DKMS's to remove.
fn assert_no_rm_advice(what: &str, out: &str) {
    assert!(
        !out.lines()
            .any(|l| l.contains("rm ") && l.contains("/lib/modules")),
        "{what} advises deleting module files:\n{out}"
    );
}

/// The check unit: after dahdi-loader.service, reports on the results port what the
/// kernel says (the loaded DAHDI's version, whether every DAHDI module file loads).
fn install_check_unit(ws: &Workspace) {
    let script = r#"#!/bin/sh
r() { echo "RESULT $1"; }
r "kernel=$(uname -r)"
r "main_result=$(systemctl show -p Result --value dahdi-loader.service)"
r "dahdi_version=$(cat /sys/module/dahdi/version 2>/dev/null)"
ok=0; failed=""
for f in $(find /lib/modules/$(uname -r)/updates/dkms -name '*.ko*'); do
    m=$(basename "$f"); m=${m%%.ko*}
    if modprobe "$m" 2>/tmp/mp.err; then ok=$((ok + 1)); else failed="$failed $m"; sed "s/^/LOG modprobe $m: /" /tmp/mp.err; fi
done
r "modules_loaded=$ok"
r "modules_failed=$failed"
journalctl -b --no-pager -o cat -u dahdi-loader.service | tail -n 15 | sed 's/^/LOG main: /'
"#;
    must(ws.write("/usr/local/sbin/providers-check", 0o755, script.as_bytes()));
    let unit = "[Unit]\nAfter=dahdi-loader.service\n\n[Service]\nType=oneshot\n\
                ExecStart=/bin/sh -c '/usr/local/sbin/providers-check > /dev/ttyS1 2>&1; systemctl poweroff'\n\n\
                [Install]\nWantedBy=multi-user.target\n";
    must(ws.write(
        "/etc/systemd/system/providers-check.service",
        0o644,
        unit.as_bytes(),
    ));
    must(ws.symlink(
        "/etc/systemd/system/multi-user.target.wants/providers-check.service",
        "/etc/systemd/system/providers-check.service",
    ));
}

/// Boots kernel A and checks that the loader brought DAHDI 3.1 up and every DAHDI module
/// file loads.
fn boot_and_check(ws: &Workspace, kernel: &str, scenario: &str) {
    install_check_unit(ws);
    let host = must(KernelUnderTest::discover());
    let accel = choose_accel(&host, Path::new(env!("CARGO_TARGET_TMPDIR")));
    let report = must(ws.boot(kernel, accel, Duration::from_secs(600), &[]));
    let results = report.result_values();
    let context = format!(
        "{scenario}: guest results:\n{}\nconsole tail:\n{}",
        report.results,
        tail(&report.console, 40)
    );
    assert!(!report.timed_out, "{context}");
    assert_eq!(
        results.get("kernel").map(String::as_str),
        Some(kernel),
        "{context}"
    );
    assert_eq!(
        results.get("main_result").map(String::as_str),
        Some("success"),
        "{context}"
    );
    let version = results.get("dahdi_version").cloned().unwrap_or_default();
    assert!(
        version.starts_with(XIVO_VERSION),
        "the loaded DAHDI is {version:?}, not the {XIVO_MODULE} provider's {XIVO_VERSION}\n{context}"
    );
    assert_eq!(
        results.get("modules_failed").map(String::as_str),
        Some(""),
        "{context}"
    );
    let loaded: usize = results
        .get("modules_loaded")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        loaded >= 20,
        "only {loaded} DAHDI modules loaded\n{context}"
    );
    eprintln!(
        "vm-providers: {scenario}: booted {kernel} in {:.0} s, DAHDI {version}, {loaded} modules load",
        report.wall.as_secs_f64()
    );
}

#[test]
fn operator_package_replacing_debians_and_a_leftover_per_kernel_package() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = Instant::now();
    let s = start();
    let k = s.kernel.as_str();
    let ws = workspace(&s);
    // The old 2.11 modules, for the leftover package, from the starting system.
    let old: Vec<(String, Vec<u8>)> = module_files(&ws, k)
        .into_iter()
        .filter_map(|(rel, bytes)| {
            let name = rel.strip_prefix("updates/dkms/")?.to_owned();
            Some((name, bytes))
        })
        .collect();
    assert!(
        old.len() >= 20,
        "the starting system has {} DKMS modules",
        old.len()
    );
    let debs = tempfile::tempdir().expect("tempdir");
    let legacy = must(legacy_modules_package(k, &old, debs.path()));
    must(ws.write("/root/legacy.deb", 0o644, &std::fs::read(legacy).unwrap()));
    let legacy_pkg = legacy_package_name(k);
    {
        let root = must(ws.chroot());
        // (a) The operator replaces Debian's package by their own.
        run_ok(&root, &["apt-get", "purge", "-y", "-q", "dahdi-dkms"]);
        let dpkg = run_ok(&root, &["dpkg", "-i", "/root/xivo.deb"]);
        let dkms = run_ok(&root, &["dkms", "status", "-k", k]);
        assert!(
            dkms.contains(&format!(
                "{XIVO_MODULE}/{XIVO_VERSION}, {k}, x86_64: installed"
            )),
            "DKMS did not install {XIVO_MODULE} for {k}:\n{dkms}\n{}",
            tail(&dpkg, 40)
        );
        let p = providers(&root);
        assert_eq!(
            p.keys().collect::<Vec<_>>(),
            [XIVO_MODULE],
            "status names these providers: {p:?} (DKMS says:\n{dkms})"
        );
        assert_eq!(p[XIVO_MODULE], [XIVO_VERSION]);
        let (code, out) = loader(&root, &["verify", k]);
        assert_eq!(code, Some(0), "verify {k} with {XIVO_MODULE} alone:\n{out}");
        let before = module_files(&ws, k);
        let (code, out) = loader(&root, &["ensure", "-k", k]);
        assert_eq!(code, Some(0), "ensure -k {k}:\n{out}");
        assert!(
            before == module_files(&ws, k),
            "ensure changed module files of a system that verified:\n{out}"
        );

        // (c) A leftover per-kernel package of the old modules, installed by dpkg.
        run_ok(&root, &["dpkg", "-i", "/root/legacy.deb"]);
        let owner = run_ok(
            &root,
            &[
                "dpkg",
                "-S",
                &format!("/lib/modules/{k}/extra/dahdi/dahdi.ko"),
            ],
        );
        assert!(
            owner.starts_with(&format!("{legacy_pkg}:")),
            "dpkg -S: {owner}"
        );
        let (_, status) = loader(&root, &["status"]);
        assert!(
            status.contains(&legacy_pkg),
            "status does not name the leftover package {legacy_pkg}:\n{status}"
        );
        let (code, out) = loader(&root, &["-v", "verify", k]);
        // depmod prefers updates/ (the DKMS build) to extra/: DAHDI still loads, and the
        // leftover is a note (shown with -v) whose fix is the package manager's.
        assert_eq!(
            code,
            Some(0),
            "verify {k} with the leftover package:\n{out}"
        );
        let advice = format!("apt purge {legacy_pkg}");
        assert!(
            out.contains(&advice),
            "verify does not advise `{advice}`:\n{out}"
        );
        assert_no_rm_advice("verify", &out);
        let before = module_files(&ws, k);
        let (code, out) = loader(&root, &["ensure", "-k", k]);
        assert_eq!(
            code,
            Some(0),
            "ensure -k {k} with the leftover package:\n{out}"
        );
        assert!(
            before == module_files(&ws, k),
            "ensure changed module files:\n{out}"
        );
        // The advice, as written (apt-get: apt's CLI warns when scripted).
        run_ok(&root, &["apt-get", "purge", "-y", "-q", &legacy_pkg]);
        assert!(!ws
            .path(&format!("/lib/modules/{k}/extra/dahdi/dahdi.ko"))
            .exists());
        let (code, out) = loader(&root, &["-v", "verify", k]);
        assert_eq!(code, Some(0), "verify {k} after the purge:\n{out}");
        assert!(
            !out.contains(&legacy_pkg),
            "the purged package is still named:\n{out}"
        );
    }
    boot_and_check(&ws, k, "replaced, leftover purged");
    eprintln!(
        "vm-providers: replacing scenario in {:.0} s",
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn operator_package_beside_debians_is_a_conflict_with_a_fix_that_works() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = Instant::now();
    let s = start();
    let k = s.kernel.as_str();
    let ws = workspace(&s);
    {
        let root = must(ws.chroot());
        let dpkg = run_ok(&root, &["dpkg", "-i", "/root/xivo.deb"]);
        let dkms = run_ok(&root, &["dkms", "status", "-k", k]);
        for m in ["dahdi/", &format!("{XIVO_MODULE}/{XIVO_VERSION}")] {
            assert!(
                dkms.lines()
                    .any(|l| l.starts_with(m) && l.contains(&format!(", {k}, x86_64: installed"))),
                "DKMS does not list {m} as installed for {k}:\n{dkms}\n{}",
                tail(&dpkg, 40)
            );
        }
        let p = providers(&root);
        assert_eq!(
            p.keys().map(String::as_str).collect::<Vec<_>>(),
            ["dahdi", XIVO_MODULE],
            "status names these providers: {p:?}"
        );
        let (code, out) = loader(&root, &["verify", k]);
        assert_ne!(
            code,
            Some(0),
            "verify {k} with two providers installed:\n{out}"
        );
        for name in ["dahdi", XIVO_MODULE] {
            assert!(
                out.contains(&format!("dkms remove -m {name} ")) || out.contains(name),
                "verify does not name provider {name}:\n{out}"
            );
        }
        assert!(
            out.contains("dkms remove -m") || out.contains("apt purge"),
            "verify does not say how to remove one provider:\n{out}"
        );
        assert_no_rm_advice("verify", &out);
        // No rebuild can settle two providers: ensure changes nothing.
        let before = module_files(&ws, k);
        let (code, out) = loader(&root, &["ensure", "-k", k]);
        assert_ne!(code, Some(0), "ensure -k {k} with two providers:\n{out}");
        assert!(
            before == module_files(&ws, k),
            "ensure changed module files while two providers fight:\n{out}"
        );
        assert_eq!(
            run_ok(&root, &["dkms", "status", "-k", k]),
            dkms,
            "ensure changed DKMS's registrations"
        );
        // The operator chooses their own package and follows the advice.
        run_ok(&root, &["apt-get", "purge", "-y", "-q", "dahdi-dkms"]);
        let (code, out) = loader(&root, &["ensure", "-k", k]);
        assert_eq!(
            code,
            Some(0),
            "ensure -k {k} once one provider is left:\n{out}"
        );
        let (code, out) = loader(&root, &["verify", k]);
        assert_eq!(
            code,
            Some(0),
            "verify {k} once one provider is left:\n{out}"
        );
        assert_eq!(providers(&root).keys().collect::<Vec<_>>(), [XIVO_MODULE]);
    }
    boot_and_check(&ws, k, "beside, then Debian's purged");
    eprintln!(
        "vm-providers: beside scenario in {:.0} s",
        t.elapsed().as_secs_f64()
    );
}
