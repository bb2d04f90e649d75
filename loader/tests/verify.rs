//! Verification on fixture trees made from the real DKMS build, checked against kmod's and
//! dkms's own tools.

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::*;
use dahdi_loader::dkms::{self, State};
use dahdi_loader::module_file::ModuleInfo;
use dahdi_loader::names::{KernelRelease, PackageName};
use dahdi_loader::report::{Code, Fix, Severity, Verdict};
use dahdi_loader::system::System;
use dahdi_loader::verify::{self, Checks, SignatureCheck};
use dahdi_loader::Root;

fn system(f: &Fixture, running: Option<&str>) -> System {
    // A running kernel that is not installed in the fixture unless the test says otherwise.
    let running = KernelRelease::new(running.unwrap_or("0.0.0-not-installed")).unwrap();
    System::load(Root::new(f.root()), Some(running)).unwrap()
}

fn verify_k(f: &Fixture, sys: &System) -> verify::KernelReport {
    let k = sys
        .kernel(&KernelRelease::new(&f.real.kernel).unwrap())
        .unwrap();
    verify::verify_kernel(sys, &k, Checks::default())
}

fn serious(r: &verify::KernelReport) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| format!("{:?}: {}", f.severity, f.message))
        .collect()
}

#[test]
fn elf_reader_agrees_with_modinfo_and_modprobe_on_every_real_module() {
    let real = real();
    assert!(!real.modules.is_empty(), "{INSTALL_HINT}");
    for path in &real.modules {
        let info = ModuleInfo::parse(&std::fs::read(path).unwrap()).unwrap();
        let one = |field: &str| modinfo(field, path).into_iter().next().unwrap_or_default();
        assert_eq!(
            info.vermagic().unwrap(),
            one("vermagic"),
            "{}",
            path.display()
        );
        assert_eq!(
            info.srcversion().unwrap_or(""),
            one("srcversion"),
            "{}",
            path.display()
        );
        assert_eq!(
            info.get("depends").unwrap_or(""),
            one("depends"),
            "{}",
            path.display()
        );
        assert_eq!(info.aliases(), modinfo("alias", path), "{}", path.display());
        assert_eq!(
            info.signature
                .as_ref()
                .map(|s| s.id_type_name().to_string())
                .unwrap_or_default(),
            one("sig_id"),
            "{}",
            path.display()
        );
        // modprobe --dump-modversions prints "0xCRC\tname" for each __versions record.
        let dump = tool("modprobe", &["--dump-modversions", path.to_str().unwrap()]);
        let theirs: Vec<(u32, String)> = dump
            .lines()
            .map(|l| {
                let (crc, name) = l.split_once('\t').unwrap();
                (
                    u32::from_str_radix(crc.trim_start_matches("0x"), 16).unwrap(),
                    name.to_string(),
                )
            })
            .collect();
        let ours: Vec<(u32, String)> = info
            .versions
            .iter()
            .map(|v| (v.crc, v.name.clone()))
            .collect();
        assert_eq!(ours, theirs, "{}", path.display());
    }
}

#[test]
fn exported_crcs_match_what_sibling_modules_were_built_against() {
    // dahdi.ko's exports (read from __kcrctab) must equal the CRCs that other DAHDI modules
    // recorded for those symbols, as modprobe --dump-modversions shows them.
    let real = real();
    let dahdi = ModuleInfo::parse(&std::fs::read(real.dkms_dir.join("dahdi.ko")).unwrap()).unwrap();
    assert!(dahdi.exports.len() > 10);
    let mut compared = 0;
    for path in &real.modules {
        let dump = tool("modprobe", &["--dump-modversions", path.to_str().unwrap()]);
        for l in dump.lines() {
            let (crc, name) = l.split_once('\t').unwrap();
            if let Some(e) = dahdi.exports.iter().find(|e| e.name == name) {
                let crc = u32::from_str_radix(crc.trim_start_matches("0x"), 16).unwrap();
                assert_eq!(e.crc, Some(crc), "{name} in {}", path.display());
                compared += 1;
            }
        }
    }
    assert!(compared > 50, "only {compared} sibling symbols compared");
}

#[test]
fn dkms_tree_reader_agrees_with_dkms_status() {
    let out = tool("dkms", &["status", "dahdi"]);
    let lines = dkms::status_text::parse_status(&out).unwrap();
    assert!(
        !lines.is_empty(),
        "dkms status printed nothing; {INSTALL_HINT}"
    );
    let m = dkms::read_module(&Root::default(), &PackageName::new("dahdi").unwrap())
        .unwrap()
        .unwrap();
    for l in &lines {
        let v = m.versions.iter().find(|v| v.version == l.version).unwrap();
        match &l.kernel {
            Some(k) => assert_eq!(v.state_for(k), l.state, "{l:?}"),
            None => assert!(v.builds.is_empty() || l.state == State::Added),
        }
    }
}

#[test]
fn complete_installation_verifies() {
    let f = Fixture::installed();
    let sys = system(&f, None);
    let r = verify_k(&f, &sys);
    assert_eq!(r.verdict, Verdict::Ok, "{:#?}", serious(&r));
    assert_eq!(r.modules_present(), f.real.modules.len());
    let abi = r.abi.as_ref().unwrap();
    // The kernel's own vermagic, read independently from the in-tree module by modinfo.
    let first = std::fs::read_to_string(f.kdir().join("modules.order")).unwrap();
    let in_tree = f.kdir().join(first.lines().next().unwrap());
    assert_eq!(abi.vermagic, modinfo("vermagic", &in_tree)[0]);
    for m in &r.modules {
        assert_eq!(m.vermagic_ok, Some(true), "{}", m.name);
        assert_eq!(m.from_dkms, Some(true), "{}", m.name);
        // The file verify checked is the one kmod's own lookup resolves to.
        assert_eq!(
            m.path.as_deref().unwrap(),
            f.modinfo_pick(m.name.as_str()),
            "{}",
            m.name
        );
        let deps = modinfo("depends", m.path.as_ref().unwrap());
        let theirs: Vec<String> = deps[0]
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        assert_eq!(m.depends, theirs, "{}", m.name);
    }
    if f.real.headers.is_some() {
        let crcs: usize = r.modules.iter().map(|m| m.crcs_checked).sum();
        assert!(crcs > 100, "{crcs}");
    }
    assert_eq!(r.dkms.as_ref().unwrap().state, State::Installed);
    // No hardware in the fixture: dahdi alone.
    assert_eq!(r.wanted, vec!["dahdi"]);
}

#[test]
fn nothing_built_needs_build_with_the_right_fix() {
    let f = Fixture::bare();
    f.depmod();
    let sys = system(&f, None);
    let r = verify_k(&f, &sys);
    assert_eq!(r.verdict, Verdict::NeedsBuild, "{:#?}", r.findings);
    assert_eq!(r.dkms.as_ref().unwrap().state, State::Added);
    let need = r
        .findings
        .iter()
        .find(|x| x.severity == Severity::NeedsBuild)
        .unwrap();
    let k = &f.real.kernel;
    if f.real.headers.is_some() {
        assert_eq!(
            need.fix.as_ref().map(|f| f.to_string()).as_deref(),
            Some(format!("run dahdi-loader ensure -k {k}").as_str())
        );
    }
    // Without headers, the fix names the package to install first.
    std::fs::remove_dir_all(f.path("/usr/src")).unwrap();
    let sys = system(&f, None);
    let r = verify_k(&f, &sys);
    let need = r
        .findings
        .iter()
        .find(|x| x.severity == Severity::NeedsBuild)
        .unwrap();
    assert_eq!(
        need.fix.as_ref().map(|f| f.to_string()).as_deref(),
        Some(format!("install linux-headers-{k}, then run dahdi-loader ensure -k {k}").as_str())
    );
}

#[test]
fn module_built_for_another_kernel_is_a_mismatch() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    // A DKMS build made against the wrong kernel: both the tree copy and the installed one.
    let other = f.break_one_module("wcb4xxp");
    assert!(modinfo("vermagic", &f.module("wcb4xxp"))[0].starts_with(&format!("{other} ")));
    let sys = system(&f, None);
    let r = verify_k(&f, &sys);
    assert_eq!(r.verdict, Verdict::Mismatch, "{:#?}", r.findings);
    let m = r.module("wcb4xxp").unwrap();
    assert_eq!(m.vermagic_ok, Some(false));
    let finding = r
        .findings
        .iter()
        .find(|x| x.modules.iter().any(|m| m == "wcb4xxp"))
        .unwrap();
    assert!(
        finding.message.contains(&other) && finding.message.contains(&k),
        "{}",
        finding.message
    );
    assert!(finding.fixed_by_build());
    // The other modules are unaffected.
    assert_eq!(r.module("dahdi").unwrap().vermagic_ok, Some(true));
}

/// Rewrites bytes in a module file (same length).
fn patch_bytes(path: &Path, old: &[u8], new: &[u8]) {
    assert_eq!(old.len(), new.len());
    let mut d = std::fs::read(path).unwrap();
    let pos = d
        .windows(old.len())
        .position(|w| w == old)
        .unwrap_or_else(|| {
            panic!(
                "{} has no {:?}",
                path.display(),
                String::from_utf8_lossy(old)
            )
        });
    d[pos..pos + new.len()].copy_from_slice(new);
    std::fs::write(path, d).unwrap();
}

fn finding_for<'a>(
    r: &'a verify::KernelReport,
    code: Code,
    module: &str,
) -> &'a dahdi_loader::report::Finding {
    r.findings
        .iter()
        .find(|x| x.code == code && x.modules.iter().any(|m| m == module))
        .unwrap_or_else(|| panic!("no {code:?} finding about {module}: {:#?}", r.findings))
}

/// Each way vermagic can differ, said as the kernel acts (kernel/module/main.c
/// check_modinfo(), version.c same_magic()); the kernel's own verdicts on these files are
/// checked in the VM (vm_loader).
#[test]
fn vermagic_findings_say_what_the_kernel_would_do() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    // Another release of the same kernel, CRCs untouched: same_magic() ignores the release
    // of a module with __versions, and every CRC agrees.
    let other = other_release(&k);
    patch_vermagic(&f.module("wcb4xxp"), &k, &other);
    // Another release and one CRC changed: refused for the CRC, not the release.
    patch_vermagic(&f.module("wctdm"), &k, &other);
    let crc = dahdi_loader::module_file::read_info(&f.module("wctdm"), &Root::new(f.root()))
        .unwrap()
        .1
        .versions[1]
        .clone();
    // Its __versions record: the 64-bit CRC (little-endian), then the name.
    let mut record = u64::from(crc.crc).to_le_bytes().to_vec();
    record.extend_from_slice(crc.name.as_bytes());
    record.push(0);
    let mut d = std::fs::read(f.module("wctdm")).unwrap();
    let at = d.windows(record.len()).position(|w| w == record).unwrap();
    d[at] ^= 0x5a;
    std::fs::write(f.module("wctdm"), d).unwrap();
    // A flag word changed: ENOEXEC whatever the CRCs.
    patch_bytes(&f.module("wct4xxp"), b" mod_unload ", b" mod_unloaX ");
    // No vermagic at all: Debian's kernel has CONFIG_MODULE_FORCE_LOAD=y.
    patch_bytes(&f.module("wcte12xp"), b"vermagic=", b"vermagix=");
    f.write(
        &format!("/boot/config-{k}"),
        std::fs::read(format!("/boot/config-{k}")).unwrap(),
    );
    let sys = system(&f, None);
    let r = verify_k(&f, &sys);

    let m = &finding_for(&r, Code::VermagicRelease, "wcb4xxp").message;
    assert!(
        m.contains("decides by their symbol CRCs")
            && m.contains("every one agrees: the kernel would load"),
        "{m}"
    );
    assert!(!m.contains("Exec format error"), "{m}");
    let m = &finding_for(&r, Code::VermagicRelease, "wctdm").message;
    assert!(
        m.contains("decides by their symbol CRCs") && m.contains("refuse them (Invalid argument)"),
        "{m}"
    );
    let crcs = r
        .findings
        .iter()
        .find(|x| x.code == Code::CrcMismatch)
        .expect("the CRC finding");
    assert!(crcs.message.contains(&crc.name), "{}", crcs.message);
    let m = &finding_for(&r, Code::VermagicMismatch, "wct4xxp").message;
    assert!(m.contains("Exec format error"), "{m}");
    let nv = r
        .findings
        .iter()
        .find(|x| x.code == Code::NoVermagic)
        .unwrap();
    let forced = std::fs::read_to_string(format!("/boot/config-{k}"))
        .unwrap()
        .lines()
        .any(|l| l == "CONFIG_MODULE_FORCE_LOAD=y");
    if forced {
        assert!(
            nv.message.contains("would still load") && nv.message.contains("tainted"),
            "{}",
            nv.message
        );
    } else {
        assert!(
            nv.message.contains("refuses such modules"),
            "{}",
            nv.message
        );
    }
    // Every one of them is still something a build for this kernel cures.
    for x in r
        .findings
        .iter()
        .filter(|x| x.severity > Severity::Info && x.code != Code::Shadowed)
    {
        assert!(x.fixed_by_build(), "{x:?}");
    }
}

/// Renames one undefined symbol in a module's string table (not in __versions), as a
/// damaged or miscompiled module would carry it; returns the new name.
fn corrupt_import(path: &Path) -> String {
    let mut data = std::fs::read(path).unwrap();
    let bad = corrupt_import_in(&mut data);
    std::fs::write(path, data).unwrap();
    bad
}

#[test]
fn a_corrupted_import_is_an_unknown_symbol_with_or_without_module_symvers() {
    let f = Fixture::installed();
    let bad = corrupt_import(&f.module("wcb4xxp"));
    let r = verify_k(&f, &system(&f, None));
    let u = r
        .findings
        .iter()
        .find(|x| x.code == Code::UnknownSymbol)
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert!(
        u.message.contains(&bad) && u.message.contains("Unknown symbol"),
        "{}",
        u.message
    );
    assert_eq!(u.modules, ["wcb4xxp"]);
    assert!(u.fixed_by_build());

    // Without the headers, a real System.map still lists what vmlinux exports (Debian
    // ships a stub in /boot; this one is made from the kernel build's own Module.symvers).
    let k = &f.real.kernel;
    let symvers = std::fs::read_to_string(f.kdir().join("build/Module.symvers")).unwrap();
    let map: String = symvers
        .lines()
        .filter(|l| l.split('\t').nth(2) == Some("vmlinux"))
        .map(|l| {
            format!(
                "ffffffff81000000 r __ksymtab_{}\n",
                l.split('\t').nth(1).unwrap()
            )
        })
        .collect();
    std::fs::remove_file(f.kdir().join("build")).unwrap();
    std::fs::remove_dir_all(f.path(&format!("/usr/src/linux-headers-{k}"))).unwrap();
    f.write(&format!("/boot/System.map-{k}"), &map);
    let r = verify_k(&f, &system(&f, None));
    let u = r
        .findings
        .iter()
        .find(|x| x.code == Code::UnknownSymbol)
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert_eq!(u.modules, ["wcb4xxp"], "{}", u.message);
    assert!(u.message.contains(&bad), "{}", u.message);
    // Debian's own stub System.map lists nothing: then the check says it was not made.
    f.write(
        &format!("/boot/System.map-{k}"),
        std::fs::read(format!("/boot/System.map-{k}")).unwrap(),
    );
    let r = verify_k(&f, &system(&f, None));
    assert!(!r.findings.iter().any(|x| x.code == Code::UnknownSymbol));
    let note = r
        .findings
        .iter()
        .find(|x| x.code == Code::NoSymvers)
        .unwrap();
    assert!(
        note.message.contains("were not checked"),
        "{}",
        note.message
    );
}

#[test]
fn damaged_modules_are_broken_never_a_panic() {
    let f = Fixture::installed();
    let data = std::fs::read(f.module("dahdi")).unwrap();
    let p = f.module("wctdm");
    for cut in [0, 3, 64, data.len() / 3, data.len() / 2, data.len() - 700] {
        std::fs::write(&p, &data[..cut]).unwrap();
        let sys = system(&f, None);
        let r = verify_k(&f, &sys);
        assert_eq!(
            r.verdict,
            Verdict::Broken,
            "cut at {cut}: {:#?}",
            serious(&r)
        );
        let m = r.module("wctdm").unwrap();
        assert!(m.error.is_some(), "cut at {cut}");
    }
    // A text file in place of a module.
    std::fs::write(&p, "#!/bin/sh\necho not a module\n").unwrap();
    let r = verify_k(&f, &system(&f, None));
    assert!(r
        .module("wctdm")
        .unwrap()
        .error
        .as_deref()
        .unwrap()
        .contains("not an ELF"));
}

#[test]
fn parser_survives_every_truncation_and_byte_flips() {
    let real = real();
    let data = std::fs::read(real.dkms_dir.join("dahdi_echocan_mg2.ko")).unwrap();
    // Truncations at many offsets.
    for cut in (0..data.len()).step_by(97) {
        let _ = ModuleInfo::parse(&data[..cut]);
    }
    // Deterministic pseudo-random corruption of the section headers and tables.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..3000 {
        let mut d = data.clone();
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % d.len();
            d[i] = (x >> 32) as u8;
        }
        let _ = ModuleInfo::parse(&d);
    }
}

#[test]
fn stale_copy_in_extra_is_reported_as_shadowed_or_not_like_depmod_decides() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    // An old binary package's copy: different content (vermagic of another kernel).
    let stale = f.kdir().join("extra/dahdi.ko");
    copy(&f.module("dahdi"), &stale);
    patch_vermagic(&stale, &k, &other_release(&k));
    f.depmod();

    // Default search order: updates/ beats extra/, as kmod's lookup confirms.
    assert_eq!(f.modinfo_pick("dahdi"), f.module("dahdi"));
    let r = verify_k(&f, &system(&f, None));
    assert_eq!(r.verdict, Verdict::Ok, "{:#?}", serious(&r));
    let m = r.module("dahdi").unwrap();
    assert_eq!(m.path.as_deref(), Some(f.module("dahdi").as_path()));
    assert_eq!(
        m.other_copies
            .iter()
            .map(|c| c.path.clone())
            .collect::<Vec<_>>(),
        vec![stale.clone()]
    );

    // An admin's depmod.d that prefers extra/: now the stale copy wins.
    f.write(
        "/etc/depmod.d/local.conf",
        "search extra updates built-in\n",
    );
    f.depmod();
    assert_eq!(f.modinfo_pick("dahdi"), stale);
    let r = verify_k(&f, &system(&f, None));
    assert_eq!(r.verdict, Verdict::Mismatch, "{:#?}", r.findings);
    let m = r.module("dahdi").unwrap();
    assert_eq!(m.path.as_deref(), Some(stale.as_path()));
    assert_eq!(m.from_dkms, Some(false));
    let shadow = r
        .findings
        .iter()
        .find(|x| x.code == Code::Shadowed)
        .expect("a shadowing finding");
    assert!(shadow.message.contains("shadow"), "{}", shadow.message);
    assert!(shadow.fix.as_ref().unwrap().to_string().contains("extra/"));
}

#[test]
fn same_priority_copies_are_a_tie_and_stale_index_is_reported() {
    let f = Fixture::installed();
    // No DKMS copy at all for xpp: an old package left it in both dahdi/ and misc/.
    let xpp = f.module("xpp");
    for d in ["dahdi", "misc"] {
        copy(&xpp, &f.kdir().join(d).join("xpp.ko"));
    }
    std::fs::remove_file(&xpp).unwrap();
    f.depmod();
    let r = verify_k(&f, &system(&f, None));
    assert!(
        r.findings.iter().any(|x| x.severity == Severity::Mismatch && x.message.contains("same depmod priority")),
        "{:#?}",
        r.findings
    );
    // Whatever kmod picked, we report the same file as in use.
    assert_eq!(
        r.module("xpp").unwrap().path.as_deref(),
        Some(f.modinfo_pick("xpp").as_path())
    );

    // A module file added after depmod ran is not in the index: modprobe cannot find it.
    let f = Fixture::installed();
    let extra = f.kdir().join("updates/dkms/dahdi_dummy.ko");
    std::fs::remove_file(&extra).unwrap();
    f.depmod();
    copy(&f.real.dkms_dir.join("dahdi_dummy.ko"), &extra);
    let r = verify_k(&f, &system(&f, None));
    assert!(
        r.findings
            .iter()
            .any(|x| x.message.contains("not in modules.dep")),
        "{:#?}",
        r.findings
    );
}

#[test]
fn broken_dkms_registration_and_garbage_files() {
    let f = Fixture::installed();
    std::fs::remove_dir_all(f.path(&format!("/usr/src/dahdi-{}", f.real.version))).unwrap();
    let r = verify_k(&f, &system(&f, None));
    assert_eq!(r.verdict, Verdict::Broken);
    assert!(r
        .findings
        .iter()
        .any(|x| x.message.contains("registration")));

    // Garbage in modules.dep, depmod.d, proc/modules and sysfs must not stop verification.
    let f = Fixture::installed();
    let dep = f.kdir().join("modules.dep");
    let mut text = std::fs::read_to_string(&dep).unwrap();
    text.push_str("\n\0\0garbage without colon\n../../../etc/passwd.ko: x\n:\n");
    std::fs::write(&dep, text).unwrap();
    f.write("/etc/depmod.d/junk.conf", "search\noverride\n\u{1}\u{2}\n");
    f.write("/proc/modules", "\u{0}\u{ff} junk\n");
    f.write("/sys/bus/pci/devices/x/modalias", "pci:$(reboot)\n");
    let r = verify_k(&f, &system(&f, None));
    assert_eq!(r.verdict, Verdict::Ok, "{:#?}", serious(&r));
}

#[test]
fn missing_dependency_fails_only_when_the_module_is_wanted() {
    // Remove usbcore from the fixture: xpp_usb depends on it.
    let f = Fixture::installed();
    let dep = std::fs::read_to_string(f.kdir().join("modules.dep")).unwrap();
    for line in dep.lines() {
        let p = line.split_once(':').unwrap().0;
        if p.ends_with("/usbcore.ko") {
            std::fs::remove_file(f.kdir().join(p)).unwrap();
        }
    }
    f.depmod();
    let r = verify_k(&f, &system(&f, None));
    let note = r
        .findings
        .iter()
        .find(|x| x.modules.iter().any(|m| m == "xpp_usb") && x.message.contains("usbcore"))
        .expect("finding about usbcore");
    assert_eq!(note.severity, Severity::Info);
    // Once configured as wanted, the same gap fails the kernel.
    f.write("/etc/dahdi-loader/10-usb.conf", "add xpp_usb\n");
    let r = verify_k(&f, &system(&f, None));
    assert_eq!(r.verdict, Verdict::Broken, "{:#?}", r.findings);
}

#[test]
fn hardware_selects_drivers_by_their_own_aliases() {
    let f = Fixture::installed();
    // Make a concrete modalias from wct4xxp's first PCI alias, as modinfo reports it.
    let alias = modinfo("alias", &f.module("wct4xxp"))
        .into_iter()
        .find(|a| a.starts_with("pci:"))
        .unwrap();
    let concrete = alias
        .replace("sv*", "sv00000000")
        .replace("sd*", "sd00000000")
        .replace("bc*", "bc02")
        .replace("sc*", "sc00")
        .replace("i*", "i00");
    f.write(
        "/sys/bus/pci/devices/0000:03:00.0/modalias",
        format!("{concrete}\n"),
    );
    let r = verify_k(&f, &system(&f, None));
    assert_eq!(r.wanted, vec!["dahdi", "wct4xxp"]);
    assert_eq!(r.hardware[0].device.sysname, "0000:03:00.0");

    f.write(
        "/etc/dahdi-loader/local.conf",
        "exclude wct4xxp\nadd dahdi_echocan_mg2\n",
    );
    let r = verify_k(&f, &system(&f, None));
    assert_eq!(r.wanted, vec!["dahdi", "dahdi_echocan_mg2"]);

    // A blacklisted driver is not loaded for its device (udev applies kmod's blacklist);
    // asked for by name, it would be.
    std::fs::remove_file(f.path("/etc/dahdi-loader/local.conf")).unwrap();
    f.write("/etc/modprobe.d/no-wct4.conf", "blacklist wct4xxp\n");
    let r = verify_k(&f, &system(&f, None));
    assert_eq!(r.wanted, vec!["dahdi"]);
    let b = r
        .findings
        .iter()
        .find(|x| x.code == Code::Blacklisted)
        .unwrap();
    assert!(
        b.message.contains("/etc/modprobe.d/no-wct4.conf:1"),
        "{}",
        b.message
    );
    f.write("/etc/dahdi-loader/local.conf", "add wct4xxp\n");
    let r = verify_k(&f, &system(&f, None));
    assert_eq!(r.wanted, vec!["dahdi", "wct4xxp"]);
}

#[test]
fn loaded_module_is_compared_with_the_file() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    let src = modinfo("srcversion", &f.module("dahdi"))[0].clone();
    f.write(
        "/proc/modules",
        "dahdi 311296 0 - Live 0x0000000000000000 (OE)\n",
    );
    f.write("/sys/module/dahdi/initstate", "live\n");
    f.write("/sys/module/dahdi/srcversion", format!("{src}\n"));
    f.write("/dev/dahdi/ctl", "");
    let sys = system(&f, Some(&k));
    let r = verify_k(&f, &sys);
    let m = r.module("dahdi").unwrap();
    assert_eq!((m.loaded, m.loaded_matches_file), (Some(true), Some(true)));
    assert_eq!(r.dev_dahdi, Some(true));
    assert_eq!(r.verdict, Verdict::Ok, "{:#?}", serious(&r));

    f.write("/sys/module/dahdi/srcversion", "0123456789ABCDEF0123456\n");
    let r = verify_k(&f, &system(&f, Some(&k)));
    assert_eq!(r.verdict, Verdict::Mismatch);
    assert_eq!(r.module("dahdi").unwrap().loaded_matches_file, Some(false));
}

/// The subject key identifier of a DER certificate as openssl prints it (lower-case hex,
/// no colons): how the kernel names the key in /proc/keys.
fn openssl_skid(der: &Path) -> String {
    let out = tool(
        "openssl",
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            der.to_str().unwrap(),
            "-noout",
            "-ext",
            "subjectKeyIdentifier",
        ],
    );
    out.lines()
        .nth(1)
        .expect("openssl prints the extension on its second line")
        .trim()
        .replace(':', "")
        .to_lowercase()
}

/// The module's bytes without its appended signature, found the way the kernel finds it:
/// the marker, the 12-byte header whose last 4 bytes are the signature length, and the
/// signature itself.
fn strip_signature(data: &[u8]) -> &[u8] {
    let marker = b"~Module signature appended~\n";
    assert!(data.ends_with(marker));
    let hdr = &data[data.len() - marker.len() - 12..data.len() - marker.len()];
    let sig_len = u32::from_be_bytes(hdr[8..12].try_into().unwrap()) as usize;
    &data[..data.len() - marker.len() - 12 - sig_len]
}

/// `body` with a signature block appended: `id_type` (2 = PKCS#7, 0 = PGP), then the
/// signature bytes, as `struct module_signature` lays them out.
fn with_signature(body: &[u8], id_type: u8, sig: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(sig);
    out.extend_from_slice(&[0, 0, id_type, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&(sig.len() as u32).to_be_bytes());
    out.extend_from_slice(b"~Module signature appended~\n");
    out
}

fn finding(r: &verify::KernelReport, code: Code) -> &dahdi_loader::report::Finding {
    r.findings
        .iter()
        .find(|x| x.code == code)
        .unwrap_or_else(|| panic!("no {code:?} finding in {:#?}", r.findings))
}

#[test]
fn signatures_are_judged_as_the_kernel_judges_them() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    f.write("/sys/module/module/parameters/sig_enforce", "Y\n");
    // Without the kernel's keys nothing can be said against a signed module.
    let r = verify_k(&f, &system(&f, Some(&k)));
    assert_eq!(r.verdict, Verdict::Ok, "{:#?}", serious(&r));

    // The running kernel's keyrings hold DKMS's key: every module verifies.
    let cert = Path::new("/var/lib/dkms/mok.pub");
    assert!(cert.is_file(), "{INSTALL_HINT}");
    f.write(cert.to_str().unwrap(), std::fs::read(cert).unwrap());
    let skid = openssl_skid(cert);
    let keys = format!(
        "3588d4ca I------     1 perm 1f030000     0     0 asymmetri Build time autogenerated kernel key: 8963f707e289edc09df337a240938134371a5bb8: X509.rsa 371a5bb8 []\n\
         1d6c3ff2 I------     1 perm 1f010000     0     0 asymmetri DKMS module signing key: {skid}: X509.rsa {} []\n",
        &skid[skid.len() - 8..]
    );
    f.write("/proc/keys", &keys);
    let r = verify_k(&f, &system(&f, Some(&k)));
    assert_eq!(r.verdict, Verdict::Ok, "{:#?}", serious(&r));
    let n = r.modules.iter().filter(|m| m.info.is_some()).count();
    let summary = finding(&r, Code::Signatures);
    assert!(
        summary
            .message
            .contains(&format!("of {n} DAHDI modules, {n} verify")),
        "{}",
        summary.message
    );
    assert!(r.modules.iter().filter(|m| m.info.is_some()).all(|m| m
        .signature
        .as_ref()
        .map(|s| &s.check)
        == Some(&SignatureCheck::Trusted)));

    // Keyrings without DKMS's key: refused, and enrolling the key is the cure.
    f.write("/proc/keys", keys.replace(&skid, &"0".repeat(40)));
    let r = verify_k(&f, &system(&f, Some(&k)));
    assert_eq!(r.verdict, Verdict::Mismatch, "{:#?}", serious(&r));
    let untrusted = finding(&r, Code::KeyNotTrusted);
    assert!(
        untrusted.message.contains("EKEYREJECTED"),
        "{}",
        untrusted.message
    );
    assert_eq!(untrusted.modules.len(), n);
    assert!(
        matches!(&untrusted.fix, Some(Fix::EnrolKey { certificate }) if certificate == "/var/lib/dkms/mok.pub"),
        "{:?}",
        untrusted.fix
    );
    // Without enforcement the same modules load, marking the kernel tainted.
    f.write("/sys/module/module/parameters/sig_enforce", "N\n");
    let r = verify_k(&f, &system(&f, Some(&k)));
    assert_eq!(r.verdict, Verdict::Ok, "{:#?}", serious(&r));
    assert!(finding(&r, Code::Signatures)
        .message
        .contains(&format!("{n} would load marking the kernel tainted")));
    f.write("/sys/module/module/parameters/sig_enforce", "Y\n");
    f.write("/proc/keys", &keys);

    // dahdi_dummy unsigned (modinfo agrees): refused under sig_enforce; a DKMS build
    // signs it again.
    let p = f.module("dahdi_dummy");
    let signed = std::fs::read(&p).unwrap();
    let body = strip_signature(&signed).to_vec();
    std::fs::write(&p, &body).unwrap();
    assert_eq!(
        modinfo("sig_id", &p),
        Vec::<String>::new(),
        "modinfo agrees it is unsigned"
    );
    let r = verify_k(&f, &system(&f, Some(&k)));
    assert_eq!(r.verdict, Verdict::Mismatch, "{:#?}", serious(&r));
    let unsigned = finding(&r, Code::Unsigned);
    assert_eq!(unsigned.modules, vec!["dahdi_dummy"]);
    assert!(
        matches!(unsigned.fix, Some(Fix::Ensure { .. })),
        "{:?}",
        unsigned.fix
    );

    // Damaged signatures are refused whatever the settings: garbage where the PKCS#7
    // message should be, and an empty one, both EBADMSG; a signature byte flipped, so the
    // trusted key does not verify it, EKEYREJECTED.
    f.write("/sys/module/module/parameters/sig_enforce", "N\n");
    let sig = &signed[body.len()..signed.len() - 40];
    let mut flipped = signed.clone();
    let last_sig_byte = signed.len() - 41;
    flipped[last_sig_byte] ^= 0x01;
    for (what, image, errno) in [
        (
            "garbage",
            with_signature(&body, 2, &vec![0x5a; sig.len()]),
            "EBADMSG",
        ),
        ("empty", with_signature(&body, 2, &[]), "EBADMSG"),
        ("flipped", flipped, "EKEYREJECTED"),
    ] {
        std::fs::write(&p, &image).unwrap();
        let r = verify_k(&f, &system(&f, Some(&k)));
        assert_eq!(r.verdict, Verdict::Broken, "{what}: {:#?}", serious(&r));
        let bad = finding(&r, Code::BadSignature);
        assert_eq!(bad.modules, vec!["dahdi_dummy"], "{what}");
        assert!(bad.message.contains(errno), "{what}: {}", bad.message);
    }

    // A PGP signature (id_type 0) is one the kernel cannot use (ENOPKG): tainted where
    // nothing is enforced, refused where signatures are.
    // (The file differs from DKMS's tree, so the verdicts here are at least a mismatch;
    // what is asserted is what the signature check says.)
    std::fs::write(&p, with_signature(&body, 0, sig)).unwrap();
    let r = verify_k(&f, &system(&f, Some(&k)));
    assert!(
        finding(&r, Code::Signatures)
            .message
            .contains("1 would load marking the kernel tainted (dahdi_dummy)"),
        "{:#?}",
        r.findings
    );
    assert!(!r
        .findings
        .iter()
        .any(|x| x.message.contains("would refuse")));
    f.write("/sys/module/module/parameters/sig_enforce", "Y\n");
    let r = verify_k(&f, &system(&f, Some(&k)));
    assert!(r.findings.iter().any(|x| x.modules == ["dahdi_dummy"]
        && x.message
            .contains("would refuse dahdi_dummy (EKEYREJECTED: Key was rejected by service)")));
}

#[test]
fn leftover_and_unknown_kernels() {
    let f = Fixture::installed();
    // A directory left by a removed kernel: only DKMS output in it.
    std::fs::create_dir_all(f.path("/lib/modules/5.10.0-1-amd64/updates/dkms")).unwrap();
    let sys = system(&f, None);
    let kernels = sys.kernels().unwrap();
    let left = kernels
        .iter()
        .find(|k| k.release == "5.10.0-1-amd64")
        .unwrap();
    assert!(left.is_leftover());
    let r = verify::verify_kernel(&sys, left, Checks::default());
    assert_eq!(r.verdict, Verdict::Ok);
    // Naming a kernel that is not there is an error with the fix.
    let e = sys
        .kernel(&KernelRelease::new("9.9.9-none").unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("not installed"), "{e}");
    assert!(KernelRelease::new("../../etc").is_err());
}

#[test]
fn status_report_covers_every_kernel_quickly() {
    let f = Fixture::installed();
    let sys = system(&f, None);
    let rep = dahdi_loader::status::system_report(&sys, Checks::default()).unwrap();
    let names: HashSet<&str> = rep
        .kernels
        .iter()
        .map(|k| k.kernel.release.as_str())
        .collect();
    assert!(names.contains(f.real.kernel.as_str()));
    assert!(names.contains("0.0.0-not-installed"));
    let text = dahdi_loader::render::status(&rep, true).to_string();
    assert!(text.contains(&f.real.kernel), "{text}");
    assert!(Path::new(&rep.root).is_dir());
}

#[test]
fn only_configuration_about_dahdi_is_noted() {
    // Debian's kernels ship modules.softdep lines whose targets are aliases
    // ("platform:idma64"); kmod resolves them, the loader cannot use them. Such a line
    // about another module is not DAHDI's business; the same on a DAHDI module is.
    let f = Fixture::installed();
    f.write(
        "/etc/modprobe.d/softdeps.conf",
        "softdep intel_lpss pre: platform:idma64\nsoftdep wct4xxp pre: platform:dahdi_helper\n",
    );
    let r = verify_k(&f, &system(&f, None));
    let notes: Vec<&str> = r
        .findings
        .iter()
        .filter(|x| x.code == Code::ConfigNote)
        .map(|x| x.message.as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("softdeps.conf:2") && n.contains("platform:dahdi_helper")),
        "{notes:#?}"
    );
    assert!(!notes.iter().any(|n| n.contains("idma64")), "{notes:#?}");
}
