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
