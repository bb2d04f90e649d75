//! Several providers of DAHDI on fixture trees made from the real DKMS build: a second DKMS
//! module (an operator's `dahdi-linux`, as XiVO packages upstream DAHDI) beside Debian's
//! `dahdi`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use dahdi_loader::names::KernelRelease;
use dahdi_loader::report::{Code, ExitCode, Severity, Verdict};
use dahdi_loader::system::System;
use dahdi_loader::verify::{self, Checks};
use dahdi_loader::Root;

const OTHER: &str = "dahdi-linux";
const OTHER_VERSION: &str = "3.4.0";

/// Registers a second DKMS module that builds the same modules, with its own build for the
/// fixture's kernel (copies whose srcversion differs, as another DAHDI release's would),
/// and installs `installed` of its files over Debian's, as DKMS does when it replaces some
/// files and refuses the others ("exactly matches ... will not replace").
fn second_provider(f: &Fixture, installed: &[&str]) {
    let k = &f.real.kernel;
    let src = format!("/usr/src/{OTHER}-{OTHER_VERSION}");
    let conf = std::fs::read_to_string(format!("/usr/src/dahdi-{}/dkms.conf", f.real.version))
        .unwrap()
        .replace(
            "PACKAGE_NAME=\"dahdi\"",
            &format!("PACKAGE_NAME=\"{OTHER}\""),
        );
    f.write(&format!("{src}/dkms.conf"), conf);
    let vdir = f.path(&format!("/var/lib/dkms/{OTHER}/{OTHER_VERSION}"));
    std::fs::create_dir_all(&vdir).unwrap();
    std::os::unix::fs::symlink(&src, vdir.join("source")).unwrap();
    let mdir = vdir.join(format!("{k}/x86_64/module"));
    for m in &f.real.modules {
        let to = mdir.join(m.file_name().unwrap());
        copy(m, &to);
        other_srcversion(&to);
    }
    std::os::unix::fs::symlink(
        format!("{OTHER_VERSION}/{k}/x86_64"),
        f.path(&format!("/var/lib/dkms/{OTHER}/kernel-{k}-x86_64")),
    )
    .unwrap();
    for name in installed {
        std::fs::copy(mdir.join(format!("{name}.ko")), f.module(name)).unwrap();
    }
    f.depmod();
}

/// Changes one character of a module's srcversion (a different source, same ABI).
fn other_srcversion(path: &Path) {
    let mut d = std::fs::read(path).unwrap();
    let needle = b"srcversion=";
    if let Some(pos) = d.windows(needle.len()).position(|w| w == needle) {
        let i = pos + needle.len();
        d[i] = if d[i] == b'0' { b'1' } else { b'0' };
        std::fs::write(path, d).unwrap();
    }
}

fn verify_k(f: &Fixture) -> verify::KernelReport {
    let k = KernelRelease::new(&f.real.kernel).unwrap();
    let sys = System::load(Root::new(f.root()), Some(k.clone())).unwrap();
    verify::verify_kernel(&sys, &sys.kernel(&k).unwrap(), Checks::default())
}

#[test]
fn two_installed_providers_are_named_and_the_fix_is_to_choose_one() {
    let f = Fixture::installed();
    second_provider(
        &f,
        &[
            "dahdi",
            "wct4xxp",
            "wcb4xxp",
            "xpp",
            "xpp_usb",
            "dahdi_transcode",
        ],
    );
    let r = verify_k(&f);
    assert_eq!(r.verdict, Verdict::Broken, "{:#?}", r.findings);
    let c = r
        .findings
        .iter()
        .find(|x| x.code == Code::ProvidersConflict)
        .expect("a provider conflict");
    assert!(
        c.message.contains(&format!("dahdi {}", f.real.version)),
        "{}",
        c.message
    );
    assert!(
        c.message.contains(&format!("{OTHER} {OTHER_VERSION}")),
        "{}",
        c.message
    );
    let fix = c.fix.as_ref().unwrap().to_string();
    assert!(
        fix.contains(&format!("dkms remove -m {OTHER} -v {OTHER_VERSION} --all")),
        "{fix}"
    );
    assert!(
        fix.contains(&format!("dkms remove -m dahdi -v {} --all", f.real.version)),
        "{fix}"
    );
    // Nothing tells the operator to rebuild: a build cannot settle it.
    for x in r.findings.iter().filter(|x| x.severity > Severity::Info) {
        assert!(!x.fixed_by_build(), "{:?}", x);
    }
    // Both providers are listed by status.
    let out = f.run(&["--running-kernel", &f.real.kernel, "--json", "status"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["module"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dahdi", OTHER]);
}

#[test]
fn ensure_refuses_to_rebuild_while_providers_fight_and_changes_nothing() {
    let f = Fixture::installed();
    second_provider(&f, &["dahdi", "wcb4xxp"]);
    let before = std::fs::read_dir(f.kdir().join("updates/dkms"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.clone(), std::fs::read(&p).unwrap())
        })
        .collect::<std::collections::BTreeMap<_, _>>();
    let out = Command::new(env!("CARGO_BIN_EXE_dahdi-loader"))
        .arg("--root")
        .arg(f.root())
        .args([
            "--running-kernel",
            "0.0.0-test",
            "ensure",
            "-k",
            &f.real.kernel,
        ])
        .args(["--dkms", "/nonexistent/dkms"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(ExitCode::Broken as i32), "{text}");
    assert!(text.contains("choose one provider"), "{text}");
    let after = std::fs::read_dir(f.kdir().join("updates/dkms"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.clone(), std::fs::read(&p).unwrap())
        })
        .collect::<std::collections::BTreeMap<_, _>>();
    assert_eq!(before, after);
}

#[test]
fn a_mixed_set_is_a_conflict_even_when_dkms_thinks_one_provider_is_gone() {
    let f = Fixture::installed();
    second_provider(&f, &["dahdi", "wcb4xxp"]);
    // DKMS no longer calls dahdi-linux installed (its link is gone), but its files stay.
    std::fs::remove_file(f.path(&format!(
        "/var/lib/dkms/{OTHER}/kernel-{}-x86_64",
        f.real.kernel
    )))
    .unwrap();
    let r = verify_k(&f);
    let c = r
        .findings
        .iter()
        .find(|x| x.code == Code::ProvidersConflict)
        .unwrap_or_else(|| panic!("a mixed set: {:#?}", r.findings));
    // wcb4xxp has no srcversion (no MODULE_VERSION), so its two builds are the same bytes;
    // dahdi.ko is the one that differs.
    assert!(
        c.message.contains("dahdi from dahdi-linux 3.4.0"),
        "{}",
        c.message
    );
    assert!(c.message.contains("from dahdi 2.11"), "{}", c.message);
    assert_eq!(r.verdict, Verdict::Broken);
}

/// Writes a dpkg database in the fixture that knows `package` (installed, version
/// `version`) as the owner of `files` (system paths).
fn dpkg_package(f: &Fixture, package: &str, version: &str, files: &[String]) {
    let status = format!(
        "Package: {package}\nStatus: install ok installed\nPriority: optional\nSection: kernel\nMaintainer: x <x@example.org>\nArchitecture: amd64\nVersion: {version}\nDescription: DAHDI modules for one kernel\n\n"
    );
    let mut old = std::fs::read_to_string(f.path("/var/lib/dpkg/status")).unwrap_or_default();
    old.push_str(&status);
    f.write("/var/lib/dpkg/status", old);
    let mut list = String::from("/.\n/lib\n/lib/modules\n");
    for file in files {
        list.push_str(file);
        list.push('\n');
    }
    f.write(&format!("/var/lib/dpkg/info/{package}.list"), list);
}

/// A leftover per-kernel package's copies of every module in `dir`, as an older build
/// (another srcversion, and one imported CRC changed in each, as another DAHDI release
/// built against the same kernel would have), owned by that package in dpkg's database.
fn leftover_package(f: &Fixture, dir: &str) -> String {
    let package = format!("dahdi-linux-modules-{}", f.real.kernel);
    let mut files = Vec::new();
    for m in &f.real.modules {
        let to = f.kdir().join(dir).join(m.file_name().unwrap());
        copy(m, &to);
        other_srcversion(&to);
        files.push(format!(
            "/lib/modules/{}/{dir}/{}",
            f.real.kernel,
            m.file_name().unwrap().to_string_lossy()
        ));
    }
    dpkg_package(f, &package, "1:2.10.0-1", &files);
    package
}

#[test]
fn a_leftover_per_kernel_package_is_named_and_purged_never_deleted() {
    let f = Fixture::installed();
    let package = leftover_package(&f, "dahdi");
    f.depmod();
    // depmod's default order puts updates/ first: the leftover is only noted, with the
    // package to purge.
    let r = verify_k(&f);
    assert_eq!(r.verdict, Verdict::Ok, "{:#?}", r.findings);
    let note = r
        .findings
        .iter()
        .find(|x| x.code == Code::OtherCopy)
        .expect("a note about the leftover copies");
    assert_eq!(
        note.fix.as_ref().unwrap().to_string(),
        format!("apt purge {package}")
    );
    assert_eq!(note.modules.len(), f.real.modules.len());
    // status lists the package as a provider, with its version and state.
    let out = f.run(&["--running-kernel", &f.real.kernel, "--json", "status"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["packages"][0];
    assert_eq!(p["package"], package.as_str());
    assert_eq!(p["version"], "1:2.10.0-1");
    assert_eq!(p["state"], "installed");
    assert_eq!(p["module_files"], f.real.modules.len());
    let text = String::from_utf8(
        f.run(&["--running-kernel", &f.real.kernel, "status"])
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains(&format!("package {package} 1:2.10.0-1 (installed)")),
        "{text}"
    );

    // A depmod.d that prefers dahdi/ (as such packages sometimes shipped): now the
    // leftover shadows the DKMS build, and every finding it causes says to purge it.
    f.write(
        "/etc/depmod.d/dahdi.conf",
        "search dahdi updates built-in\n",
    );
    f.depmod();
    let r = verify_k(&f);
    assert_eq!(r.verdict, Verdict::Mismatch, "{:#?}", r.findings);
    let shadow = r
        .findings
        .iter()
        .find(|x| x.code == Code::Shadowed)
        .unwrap();
    assert!(
        shadow.message.contains(&format!("package {package}")),
        "{}",
        shadow.message
    );
    assert_eq!(
        shadow.fix.as_ref().unwrap().to_string(),
        format!("apt purge {package}")
    );
    for x in r.findings.iter().filter(|x| x.severity > Severity::Info) {
        let fix = x.fix.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(!x.fixed_by_build(), "a rebuild cannot cure {x:?}");
        assert!(
            !fix.contains("remove /lib/modules"),
            "advice deletes an owned file: {fix}"
        );
    }
}

#[test]
fn files_nobody_owns_are_the_ones_advice_may_remove() {
    let f = Fixture::installed();
    // A dpkg database that owns nothing here (the fixture's packages are elsewhere).
    dpkg_package(
        &f,
        "unrelated",
        "1.0",
        &["/usr/share/doc/unrelated".to_string()],
    );
    let stale = f.kdir().join("extra/dahdi.ko");
    copy(&f.module("dahdi"), &stale);
    other_srcversion(&stale);
    f.write(
        "/etc/depmod.d/local.conf",
        "search extra updates built-in\n",
    );
    f.depmod();
    let r = verify_k(&f);
    let shadow = r
        .findings
        .iter()
        .find(|x| x.code == Code::Shadowed)
        .unwrap();
    let fix = shadow.fix.as_ref().unwrap().to_string();
    assert!(
        fix.starts_with(&format!(
            "remove /lib/modules/{}/extra/dahdi.ko (no package owns it",
            f.real.kernel
        )),
        "{fix}"
    );
    let out = f.run(&["--running-kernel", &f.real.kernel, "--json", "status"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["unowned"][0]["files"][0],
        format!("/lib/modules/{}/extra/dahdi.ko", f.real.kernel)
    );
}
