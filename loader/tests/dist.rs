//! The boot integration files in dist/: the kernel hook runs for real against fixtures,
//! the units pass systemd's own checker (man page included), and the udev rule names a unit that exists.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn dist(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dist").join(rel)
}

fn hook(f: &Fixture, args: &[&str]) -> std::process::Output {
    Command::new(dist("kernel/zz-dahdi-loader"))
        .args(args)
        .env("DAHDI_LOADER", env!("CARGO_BIN_EXE_dahdi-loader"))
        .env("DAHDI_LOADER_ROOT", f.root())
        .env("DAHDI_LOADER_RUNNING_KERNEL", "0.0.0-test")
        .output()
        .unwrap()
}

#[test]
fn kernel_hook_warns_loudly_but_never_fails_the_install() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    let image = format!("/boot/vmlinuz-{k}");
    let out = hook(&f, &[&k, &image]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("WARNING"), "{err}");
    assert!(err.contains("DAHDI will load"), "{err}");

    // Headers missing and nothing built: the hook explains and still exits 0.
    std::fs::remove_dir_all(f.kdir().join("updates")).unwrap();
    std::fs::remove_file(f.kdir().join("build")).unwrap();
    std::fs::remove_dir_all(f.path(&format!("/usr/src/linux-headers-{k}"))).ok();
    f.depmod();
    let out = hook(&f, &[&k, &image]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "WARNING: DAHDI will NOT load after booting kernel {k}"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "install linux-headers-{k}, then run dahdi-loader ensure -k {k}"
        )),
        "{err}"
    );

    // No argument, or a hostile one: still exit 0, nothing run with it.
    assert_eq!(hook(&f, &[]).status.code(), Some(0));
    let out = hook(&f, &["--all"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARNING"));
}

#[test]
fn units_pass_systemd_analyze() {
    let dir = tempfile::tempdir().unwrap();
    for (unit, command) in [
        ("dahdi-loader.service", "ensure"),
        ("dahdi-loader@.service", "ensure"),
        ("dahdi-loader-guard.service", "guard"),
        ("dahdi-loader-guard.path", ""),
        (
            "dahdi-loader-metrics.service",
            "metrics --output /var/lib/prometheus/node-exporter/dahdi-loader.prom",
        ),
        ("dahdi-loader-metrics.timer", ""),
    ] {
        let text = std::fs::read_to_string(dist(&format!("systemd/{unit}"))).unwrap();
        assert!(
            command.is_empty()
                || text.contains(&format!("ExecStart=/usr/sbin/dahdi-loader {command}\n")),
            "{unit}"
        );
        // Point ExecStart at the binary just built so the checker can see it.
        let text = text.replace("/usr/sbin/dahdi-loader", env!("CARGO_BIN_EXE_dahdi-loader"));
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    // The man page the units name (Documentation=man:dahdi-loader(8)), the one build.rs
    // wrote, where man finds it: systemd-analyze checks it with man.
    let man = tempfile::tempdir().unwrap();
    std::fs::create_dir(man.path().join("man8")).unwrap();
    std::fs::copy(
        Path::new(env!("OUT_DIR")).join("man8/dahdi-loader.8"),
        man.path().join("man8/dahdi-loader.8"),
    )
    .unwrap();
    for unit in [
        "dahdi-loader.service",
        "dahdi-loader@dev0.service",
        "dahdi-loader-guard.path",
        "dahdi-loader-metrics.timer",
    ] {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .env("MANPATH", man.path())
            .arg(dir.path().join(unit))
            .output()
            .expect("systemd-analyze (systemd) is needed to check the units");
        let err = String::from_utf8_lossy(&out.stderr);
        let own: Vec<&str> = err.lines().filter(|l| l.contains("dahdi-loader")).collect();
        assert!(out.status.success() && own.is_empty(), "{unit}: {err}");
    }
}

#[test]
fn udev_rule_hands_work_to_an_existing_unit() {
    let rule = std::fs::read_to_string(dist("udev/90-dahdi-loader.rules")).unwrap();
    let active: Vec<&str> = rule
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    let program = active.iter().find(|l| l.contains("PROGRAM==")).unwrap();
    assert!(program.contains("\"/usr/sbin/dahdi-loader match-modalias $env{MODALIAS}\""));
    assert!(program.contains("ENV{SYSTEMD_WANTS}+=\"dahdi-loader@%k.service\""));
    assert!(program.contains("TAG+=\"systemd\""));
    assert!(dist("systemd/dahdi-loader@.service").is_file());
    // Nothing long-running inside udev.
    assert!(!active.iter().any(|l| l.contains("RUN")), "{rule}");
    // Every GOTO has its LABEL.
    for l in &active {
        if let Some(i) = l.find("GOTO=\"") {
            let label = &l[i + 6..l[i + 6..].find('"').unwrap() + i + 6];
            assert!(rule.contains(&format!("LABEL=\"{label}\"")), "{label}");
        }
    }
}

/// The drop-in for systemd-modules-load runs the check, which can never fail that unit.
#[test]
fn modules_load_drop_in_runs_the_check_and_cannot_fail_the_unit() {
    let text = std::fs::read_to_string(dist(
        "systemd/systemd-modules-load.service.d/dahdi-loader.conf",
    ))
    .unwrap();
    let active: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(
        active,
        [
            "[Service]",
            "ExecStartPre=-/usr/sbin/dahdi-loader modules-load-check"
        ]
    );
}

fn modules_load_check(f: &Fixture) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dahdi-loader"))
        .arg("modules-load-check")
        .env("DAHDI_LOADER_ROOT", f.root())
        .env("DAHDI_LOADER_RUNNING_KERNEL", &f.real.kernel)
        .output()
        .unwrap()
}

const DEBIANS_MODULES_LOAD: &str = "/etc/modules-load.d/dahdi-linux.conf";
const DENY_LIST: &str = "/run/modprobe.d/dahdi-loader.conf";

/// On the real DKMS-built modules: silent and read-only when DAHDI would load; when it
/// would not, the names of Debian's modules-load.d file are deny-listed for this boot and
/// one warning says what is wrong and what happens next; and nothing at all when DAHDI is
/// not in modules-load.d.
#[test]
fn modules_load_check_denies_only_what_would_not_load() {
    let f = Fixture::installed();
    f.write(
        DEBIANS_MODULES_LOAD,
        "# as dahdi-linux ships it\ndahdi\ndahdi_transcode\n",
    );
    let out = modules_load_check(&f);
    let (code, text) = code_and_text(&out);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text, "", "silent when DAHDI would load");
    assert!(!f.path(DENY_LIST).exists());

    let other = f.break_one_module("dahdi");
    let out = modules_load_check(&f);
    let (code, text) = code_and_text(&out);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text.lines().count(), 1, "one message:\n{text}");
    for words in [
        &format!(
            "DAHDI will not load on the running kernel {}",
            f.real.kernel
        ),
        &other,
        "systemd-modules-load will skip dahdi, dahdi_transcode",
        DENY_LIST,
        "dahdi-loader.service will rebuild DAHDI",
    ] {
        assert!(text.contains(words), "{words:?} not in {text}");
    }
    let deny = std::fs::read_to_string(f.path(DENY_LIST)).unwrap();
    let lines: Vec<&str> = deny.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines, ["blacklist dahdi", "blacklist dahdi_transcode"]);

    // Without the running kernel's headers the boot unit cannot rebuild: the warning
    // says so, and gives the fix instead of promising a build.
    let k = f.real.kernel.clone();
    std::fs::remove_file(f.kdir().join("build")).unwrap();
    std::fs::remove_dir_all(f.path(&format!("/usr/src/linux-headers-{k}"))).ok();
    let out = modules_load_check(&f);
    let (code, text) = code_and_text(&out);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text.lines().count(), 1, "one message:\n{text}");
    assert!(!text.contains("will rebuild"), "{text}");
    for words in [
        &format!(
            "dahdi-loader.service cannot rebuild DAHDI here (the headers of kernel {k} are \
             not installed)"
        ),
        &format!("fix: install linux-headers-{k}, then run dahdi-loader ensure -k {k}"),
    ] {
        assert!(text.contains(words), "{words:?} not in {text}");
    }

    // Not listed: not the check's business, even though DAHDI is broken.
    std::fs::remove_file(f.path(DENY_LIST)).unwrap();
    std::fs::remove_file(f.path(DEBIANS_MODULES_LOAD)).unwrap();
    let out = modules_load_check(&f);
    let (code, text) = code_and_text(&out);
    assert_eq!((code, text.as_str()), (Some(0), ""));
    assert!(!f.path(DENY_LIST).exists());
}
