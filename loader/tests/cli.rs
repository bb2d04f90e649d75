//! The binary: exit codes, JSON, messages, and input validation.

mod common;

use common::*;
use dahdi_loader::ExitCode;
use dahdi_tests::output::text;

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("exited normally, not by a signal")
}

#[test]
fn exit_codes_follow_the_verdict() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    let run = |args: &[&str]| {
        let mut a = vec!["--running-kernel", "0.0.0-test"];
        a.extend_from_slice(args);
        f.run(&a)
    };
    let out = run(&["status"]);
    assert_eq!(code(&out), ExitCode::Ok as i32, "{}", text(&out));
    assert!(text(&out).contains(&k));
    let out = run(&["verify", &k]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("DAHDI will load"), "{}", text(&out));

    // Mismatch: one module stamped for another kernel.
    patch_vermagic(&f.module("wcfxo"), &k, &other_release(&k));
    let out = run(&["verify", &k]);
    assert_eq!(code(&out), ExitCode::Mismatch as i32, "{}", text(&out));
    assert!(text(&out).contains("wcfxo"));
    assert!(
        text(&out).contains(&format!("fix: run dahdi-loader ensure -k {k}")),
        "{}",
        text(&out)
    );

    // Broken: a damaged module.
    std::fs::write(f.module("wcfxo"), b"\x7fELF\x02\x01\x01").unwrap();
    let out = run(&["status"]);
    assert_eq!(code(&out), ExitCode::Broken as i32, "{}", text(&out));

    // Needs build: the module is gone.
    std::fs::remove_file(f.module("wcfxo")).unwrap();
    f.depmod();
    let out = run(&["verify", "--all"]);
    assert_eq!(code(&out), ExitCode::NeedsBuild as i32, "{}", text(&out));
}

#[test]
fn json_is_parseable_and_carries_the_exit_code() {
    let f = Fixture::installed();
    let out = f.run(&["--running-kernel", "0.0.0-test", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit_code"].as_i64(), Some(code(&out) as i64));
    let kernels = v["kernels"].as_array().unwrap();
    let ours = kernels
        .iter()
        .find(|x| x["kernel"]["release"] == f.real.kernel.as_str())
        .unwrap();
    assert_eq!(ours["verdict"], "ok");
    assert_eq!(
        ours["modules"].as_array().unwrap().len(),
        f.real.modules.len()
    );

    // Errors come as JSON too, with the same code as the process.
    let out = f.run(&["--json", "verify", "9.9.9-missing"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit_code"].as_i64(), Some(code(&out) as i64));
    assert!(v["error"].as_str().unwrap().contains("not installed"));
}

#[test]
fn usage_errors_are_64_and_hostile_input_is_refused() {
    let f = Fixture::installed();
    for args in [
        vec!["frobnicate"],
        vec!["verify", "../../etc"],
        vec!["verify", "--all", "6.1.0-1-amd64"],
        vec!["ensure", "-k", "6.1;reboot"],
        vec!["--running-kernel", "$(reboot)", "status"],
        vec!["match-modalias", "pci:v0000$(reboot)"],
    ] {
        let out = f.run(&args);
        assert_eq!(
            code(&out),
            ExitCode::Usage as i32,
            "{args:?}: {}",
            text(&out)
        );
    }
    let out = f.run(&["--root", "/nonexistent/dir", "status"]);
    assert_eq!(code(&out), 64, "{}", text(&out));

    f.write("/etc/dahdi-loader/bad.conf", "add dahdi\nlaod wct4xxp\n");
    let out = f.run(&["status"]);
    assert_eq!(code(&out), 64, "{}", text(&out));
    assert!(
        text(&out).contains("bad.conf:2: unknown directive"),
        "{}",
        text(&out)
    );
}

#[test]
fn help_documents_exit_codes_and_config() {
    let f = Fixture::installed();
    let out = f.run(&["--help"]);
    assert_eq!(code(&out), 0);
    let t = text(&out);
    for needle in [
        "Exit codes:",
        "needs build",
        "mismatch",
        "broken",
        "64",
        "--root",
        "/etc/dahdi-loader",
    ] {
        assert!(t.contains(needle), "--help lacks {needle:?}:\n{t}");
    }
}

#[test]
fn match_modalias_uses_the_modules_aliases() {
    let f = Fixture::installed();
    let alias = modinfo("alias", &f.module("wcb4xxp"))
        .into_iter()
        .find(|a| a.starts_with("pci:"))
        .unwrap();
    let concrete = alias.replace('*', "0");
    let out = f.run(&[
        "--running-kernel",
        &f.real.kernel,
        "match-modalias",
        &concrete,
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("wcb4xxp "));
    let out = f.run(&[
        "match-modalias",
        "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    // A configured alias makes any device count (what a VM test uses for qemu's devices).
    f.write(
        "/etc/dahdi-loader/test.conf",
        "alias pci:v00001AF4d00001000* dahdi_dummy\n",
    );
    let out = f.run(&[
        "match-modalias",
        "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn this_host_status_does_not_fail_on_a_kernel_without_modules() {
    // The host runs a kernel that has no /lib/modules and no /proc/modules; status must say
    // so and still judge the installed kernels.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dahdi-loader"))
        .arg("--json")
        .env_remove("DAHDI_LOADER_RUNNING_KERNEL")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit_code"].as_i64(), Some(code(&out) as i64));
    let running = v["running"].as_str().unwrap().to_string();
    let has_modules = std::path::Path::new("/lib/modules").join(&running).is_dir();
    let k = v["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kernel"]["release"] == running.as_str())
        .unwrap()
        .clone();
    assert_eq!(k["kernel"]["running"], true);
    if !has_modules && !std::path::Path::new("/proc/modules").exists() {
        // Nothing can be loaded on such a kernel: "n/a", not a claim that DAHDI will load,
        // and not a failure either (exit 0 unless an installed kernel has a problem).
        assert_eq!(k["verdict"], "not-applicable", "{k}");
        let table = std::process::Command::new(env!("CARGO_BIN_EXE_dahdi-loader"))
            .env_remove("DAHDI_LOADER_RUNNING_KERNEL")
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&table.stdout)
            .lines()
            .find(|l| l.starts_with(&running))
            .map(str::to_owned)
            .unwrap_or_default();
        assert!(line.trim_end().ends_with("n/a"), "{line}");
    }
}

#[test]
fn the_readme_exit_code_table_is_the_one_in_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Exit codes")
        .nth(1)
        .expect("an exit code section")
        .split("\n## ")
        .next()
        .unwrap();
    let rows: Vec<(i32, String)> = section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split(" | ").collect();
            Some((
                cells.first()?.trim().parse().ok()?,
                cells.get(1)?.trim().to_string(),
            ))
        })
        .collect();
    let code: Vec<(i32, String)> = dahdi_loader::report::EXIT_CODES
        .iter()
        .map(|(c, m)| (*c as i32, m.to_string()))
        .collect();
    assert_eq!(rows, code);
}

/// A package record in the fixture's dpkg database (installed).
fn dpkg_knows(f: &Fixture, package: &str) {
    let mut status = std::fs::read_to_string(f.path("/var/lib/dpkg/status")).unwrap_or_default();
    status.push_str(&format!(
        "Package: {package}\nStatus: install ok installed\nPriority: optional\nSection: admin\nMaintainer: x <x@example.org>\nArchitecture: amd64\nVersion: 1.0\nDescription: a package\n\n"
    ));
    f.write("/var/lib/dpkg/status", status);
    f.write(&format!("/var/lib/dpkg/info/{package}.list"), "/.\n");
}

#[test]
fn verify_on_a_running_kernel_no_package_installed_says_what_it_can_check() {
    // A kernel built and booted by hand: nothing of it under /lib/modules or /boot, and no
    // linux-image package in dpkg's database (which knows other packages).
    let f = Fixture::installed();
    dpkg_knows(&f, "dkms");
    let custom = "9.9.9-custom";
    let verify = |extra: &[&str]| {
        let mut a = vec!["--running-kernel", custom];
        a.extend_from_slice(extra);
        a.push("verify");
        f.run(&a)
    };
    f.write("/proc/modules", "snd 1 0 - Live 0x0000000000000000\n");
    let out = verify(&[]);
    let t = text(&out);
    // Modules missing for the kernel: needs build (README's exit codes), not "broken".
    assert_eq!(code(&out), ExitCode::NeedsBuild as i32, "{t}");
    assert!(t.contains("is not from a Debian package"), "{t}");
    assert!(t.contains("cannot check DAHDI's module files"), "{t}");
    assert!(t.contains("dahdi is not loaded"), "{t}");
    // No package that does not exist.
    assert!(
        !t.contains(&format!("linux-image-{custom}"))
            || t.contains(&format!("dpkg has no linux-image-{custom}")),
        "{t}"
    );
    assert!(!t.contains(&format!("install linux-image-{custom}")), "{t}");
    let out = verify(&["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = &v["kernels"][0]["findings"][0];
    assert_eq!(finding["code"], "no-module-dir", "{v:#}");
    assert_eq!(finding["fix"]["kind"], "manual", "{v:#}");

    // DAHDI loaded from elsewhere: it is up on this boot, which is all that can be seen.
    f.write(
        "/proc/modules",
        "snd 1 0 - Live 0x0000000000000000\ndahdi 1 0 - Live 0x0000000000000000\n",
    );
    let out = verify(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("dahdi is loaded"), "{}", text(&out));

    // No /proc/modules either (a container, or no module support): nothing to check.
    std::fs::remove_file(f.path("/proc/modules")).unwrap();
    let out = verify(&["-v"]);
    let t = text(&out);
    assert_eq!(code(&out), 0, "{t}");
    assert!(t.contains("nothing to check"), "{t}");
    assert!(t.contains("not from a Debian package"), "{t}");

    // When dpkg does have the kernel's package, naming it is right: it exists.
    f.write("/proc/modules", "snd 1 0 - Live 0x0000000000000000\n");
    dpkg_knows(&f, &format!("linux-image-{custom}"));
    let out = verify(&[]);
    let t = text(&out);
    assert_eq!(code(&out), ExitCode::Broken as i32, "{t}");
    assert!(
        t.contains(&format!("linux-image-{custom} is installed")),
        "{t}"
    );
}

#[test]
fn status_verbose_speaks_words_not_rust() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    let out = f.run(&["--running-kernel", &k, "status", "-v"]);
    let t = text(&out);
    let line = t
        .lines()
        .find(|l| l.starts_with(&format!("{k} expects vermagic")))
        .unwrap_or_else(|| panic!("no vermagic line:\n{t}"));
    // The source in words, with the path as the system spells it (not under --root).
    let path = line
        .split("(read from the in-tree module ")
        .nth(1)
        .and_then(|p| p.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        path.starts_with(&format!("/lib/modules/{k}/kernel/")),
        "{line}"
    );
    assert!(f.path(path).is_file(), "{line}");
    // Nothing of Rust's Debug output anywhere: no variant names, no Some/None, no
    // tuple-struct parentheses around quoted paths.
    for rust in [
        "InTreeModule",
        "BootConfig",
        "Headers(",
        "Some(",
        "None",
        "(\"/",
        "NeedsBuild",
        "NotApplicable",
    ] {
        assert!(!t.contains(rust), "{rust:?} in:\n{t}");
    }
}

#[test]
fn match_modalias_documents_and_keeps_its_own_exit_codes() {
    let f = Fixture::installed();
    let help = f.run(&["match-modalias", "--help"]);
    let h = String::from_utf8_lossy(&help.stdout);
    assert!(h.contains("Exit status of match-modalias:"), "{h}");
    for (c, what) in [
        (0, "claims MODALIAS"),
        (1, "nothing claims it"),
        (3, "could not be read"),
        (64, "MODALIAS is malformed"),
    ] {
        assert!(
            h.lines()
                .any(|l| l.trim_start().starts_with(&format!("{c} ")) && l.contains(what)),
            "exit {c} ({what}) not documented:\n{h}"
        );
    }
    // And those are the codes it exits with.
    let alias = modinfo("alias", &f.module("wct4xxp"))
        .into_iter()
        .find(|a| a.starts_with("pci:"))
        .unwrap()
        .replace('*', "0");
    let run = |m: &str| code(&f.run(&["--running-kernel", "0.0.0-test", "match-modalias", m]));
    assert_eq!(run(&alias), 0);
    assert_eq!(run("pci:v0000FFFFd0000FFFFsv0sd0bc0sc0i0"), 1);
    assert_eq!(run("pci:v 'bad"), 64);
}

/// What `systemd-hwdb query MODALIAS` says KEY is (udev's hardware database, read by
/// systemd's own tool).
fn hwdb(modalias: &str, key: &str) -> Option<String> {
    tool("systemd-hwdb", &["query", modalias])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(String::from))
}

#[test]
fn status_shows_the_cards_their_drivers_and_names() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    let pci = |m: &str| {
        modinfo("alias", &f.module(m))
            .into_iter()
            .find(|a| a.starts_with("pci:v0000D161"))
            .unwrap()
            .replace('*', "0")
    };
    // Two Digium cards whose drivers' aliases claim them, and one only a configured alias
    // claims (a device ID the hardware database has no model for).
    let cards = [
        ("0000:03:00.0", pci("wct4xxp"), "wct4xxp", true),
        ("0000:04:00.0", pci("wctdm24xxp"), "wctdm24xxp", false),
        (
            "0000:05:00.0",
            "pci:v0000D161d0000BEEFsv0sd0bc0sc0i0".to_string(),
            "wcfxo",
            false,
        ),
    ];
    f.write(
        "/etc/dahdi-loader/local.conf",
        "alias pci:v0000D161d0000BEEF* wcfxo\n",
    );
    for (addr, modalias, _, _) in &cards {
        f.write(
            &format!("/sys/bus/pci/devices/{addr}/modalias"),
            format!("{modalias}\n"),
        );
    }
    f.write(
        "/proc/modules",
        "dahdi 1 1 wct4xxp, Live 0x0000000000000000\nwct4xxp 1 0 - Live 0x0000000000000000\n",
    );
    let out = f.run(&["--running-kernel", &k, "status"]);
    let t = String::from_utf8_lossy(&out.stdout).into_owned();
    let table: Vec<&str> = t
        .split("\nHARDWARE\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no HARDWARE section:\n{t}"))
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(
        table[0]
            .split_whitespace()
            .eq(["CARD", "ID", "DRIVER", "LOADED", "NAME"]),
        "{t}"
    );
    for (addr, modalias, driver, loaded) in &cards {
        let row = table
            .iter()
            .find(|l| l.contains(addr) && l.split_whitespace().any(|w| w == *driver))
            .unwrap_or_else(|| panic!("no row for {addr} {driver}:\n{t}"));
        // IDs as lspci prints them: the modalias's vendor and device, low 16 bits, lower case.
        let id = format!(
            "{}:{}",
            &modalias[9..13].to_lowercase(),
            &modalias[18..22].to_lowercase()
        );
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells[..5],
            ["pci", addr, &id, driver, if *loaded { "yes" } else { "no" }],
            "{row}"
        );
        let name = match (
            hwdb(modalias, "ID_VENDOR_FROM_DATABASE"),
            hwdb(modalias, "ID_MODEL_FROM_DATABASE"),
        ) {
            (Some(v), Some(m)) => format!("{v} {m}"),
            (Some(v), None) => v,
            (None, Some(m)) => m,
            (None, None) => "-".into(),
        };
        assert!(
            row.trim_end().ends_with(&name),
            "{row:?} does not end with {name:?}"
        );
    }
    // The JSON has them too, as fields.
    let out = f.run(&["--running-kernel", &k, "--json", "status", "--no-crcs"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = v["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "0000:03:00.0" && c["driver"] == "wct4xxp")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(c["loaded"], true);
    assert_eq!(c["bus"], "pci");
    assert_eq!(
        c["vendor"].as_str(),
        hwdb(&cards[0].1, "ID_VENDOR_FROM_DATABASE").as_deref()
    );
}
