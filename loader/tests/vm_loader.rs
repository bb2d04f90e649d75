//! `dahdi-loader` on the real DAHDI driver, in the initramfs-level VM (one boot).
//!
//! Nothing loads DAHDI before the tests; they run in declaration order and share the
//! kernel's state, so the refusals come first (the kernel must still be clean afterwards),
//! then the loads. Every expected value comes from the kernel (/proc/modules, /proc/devices,
//! sysfs, dmesg), from depmod's modules.dep, or from kmod's tools run on the host (the facts
//! file), never from what the loader printed.

mod common;
mod vm;

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use vm::*;

/// The harness really left DAHDI unloaded, and the loader sees it that way too.
fn starts_without_dahdi() {
    let facts = Facts::read();
    assert_eq!(
        running_release(),
        facts.release,
        "booted the kernel the facts describe"
    );
    assert_no_dahdi_loaded("before any loader run");
    assert!(
        !std::path::Path::new("/dev/dahdi").exists(),
        "/dev/dahdi exists before DAHDI was loaded"
    );
    let status = loader(&["--json", "status"]);
    let json = status.json();
    let running = running_report(&json);
    let dahdi = module_report(running, "dahdi");
    assert_eq!(dahdi["loaded"], false, "{status}");
    // The modules as installed do load (the tests below load them for real), so the
    // loader must not call this system broken (on Debian 13 it once did: every .ko.xz
    // was "unreadable").
    assert_eq!(running["verdict"], "ok", "{status}");
}

/// A dahdi.ko whose vermagic names another kernel (same length, so nothing else moves) is
/// refused by the loader itself: exit 2, both vermagic strings in the message, and the
/// kernel never sees a load attempt. (With modversions the kernel would not even refuse it:
/// it skips the release word when CRCs are present, so only the loader's check stops it.)
fn foreign_vermagic_is_refused_before_the_kernel_is_asked() {
    let facts = Facts::read();
    let other = other_release(&facts.release);
    let foreign = facts.vermagic.replacen(&facts.release, &other, 1);
    let _swap = Swapped::module(&facts.dahdi, |data| {
        replace_once(
            data,
            format!("vermagic={}", facts.vermagic).as_bytes(),
            format!("vermagic={foreign}").as_bytes(),
        )
    });
    let run = ensure_refuses_without_asking_the_kernel(2);
    assert!(
        run.stderr.contains(&format!("{foreign:?}")),
        "the module's vermagic {foreign:?} is not in the message\n{run}"
    );
    assert!(
        run.stderr.contains(&format!("{:?}", facts.vermagic)),
        "the running kernel's vermagic {:?} is not in the message\n{run}",
        facts.vermagic
    );

    let verify = loader(&["verify"]);
    assert_eq!(verify.code, Some(2), "verify must agree\n{verify}");
    assert!(verify.stdout.contains(&other), "{verify}");
}

/// A dahdi.ko whose `module_layout` CRC was corrupted passes the loader's offline checks
/// here (the initramfs has no Module.symvers to compare with), so the kernel is asked and
/// refuses it with ENOEXEC; the loader says so in words and exits 3.
fn kernel_refusal_enoexec_is_explained() {
    let facts = Facts::read();
    let mut good = facts.module_layout_crc.to_le_bytes().to_vec();
    good.extend_from_slice(b"module_layout\0");
    let mut bad = (facts.module_layout_crc ^ 0x5a5a_5a5a)
        .to_le_bytes()
        .to_vec();
    bad.extend_from_slice(b"module_layout\0");
    let _swap = Swapped::module(&facts.dahdi, |data| replace_once(data, &good, &bad));
    // The kernel's reason is the module_layout CRC; the words must cover it, and point to
    // dmesg for the kernel's own message.
    assert_kernel_refuses(
        "disagrees about version of symbol module_layout",
        ("ENOEXEC", "Exec format error"),
        &["refused the file's format", "module_layout", "dmesg"],
    );
}

/// A dahdi.ko asking for a symbol nothing exports: the kernel refuses it (ENOENT, and its
/// log names the symbol); the loader finds the same offline, against /proc/kallsyms, and
/// refuses before the kernel is asked.
fn corrupted_import_is_predicted_and_the_kernel_agrees() {
    use dahdi_loader::module_file::compression::{Compression, MAX_IMAGE_BYTES};
    use std::os::fd::AsFd;
    let facts = Facts::read();
    let stored = std::fs::read(&facts.dahdi).unwrap();
    let mut image = match Compression::from_magic(&stored) {
        Some(c) => c.decompress(&stored, MAX_IMAGE_BYTES).unwrap(),
        None => stored,
    };
    let bad = common::corrupt_import_in(&mut image);
    std::fs::write("/tmp/dahdi-bad-import.ko", &image).unwrap();
    let file = std::fs::File::open("/tmp/dahdi-bad-import.ko").unwrap();
    let before = dmesg();
    let answer = nix::kmod::finit_module(file.as_fd(), c"", nix::kmod::ModuleInitFlags::empty());
    assert_eq!(
        answer,
        Err(nix::errno::Errno::ENOENT),
        "the kernel's answer"
    );
    let said = dmesg_since(&before).join("\n");
    assert!(said.contains(&format!("Unknown symbol {bad}")), "{said}");
    assert_no_dahdi_loaded("after the kernel's refusal");

    let _swap = Swapped::module(&facts.dahdi, |d| {
        assert_eq!(common::corrupt_import_in(d), bad);
    });
    let verify = loader(&["verify"]);
    assert_eq!(verify.code, Some(2), "{verify}");
    assert!(
        verify.stdout.contains(&bad) && verify.stdout.contains("Unknown symbol"),
        "{verify}"
    );
    let run = ensure_refuses_without_asking_the_kernel(2);
    assert!(run.stderr.contains(&bad), "{run}");
}

/// Three `ensure` at once (as udev events at boot would start them): all succeed, DAHDI
/// initialises once, exactly the configured modules and their modules.dep dependencies are
/// loaded, each after what it depends on, and the device nodes appear.
fn concurrent_ensures_load_once_in_dependency_order() {
    let facts = Facts::read();
    let before = dmesg();
    let handles: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(|| loader(&["--json", "ensure"])))
        .collect();
    let runs: Vec<Run> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for r in &runs {
        assert_eq!(r.code, Some(0), "{r}");
    }
    let registered = dmesg_since(&before)
        .iter()
        .filter(|l| l.contains("Telephony Interface Registered"))
        .count();
    assert_eq!(registered, 1, "dahdi must initialise exactly once");

    let dep = modules_dep(&facts.release);
    let expected = dep_closure(&dep, &["dahdi", ADDED]);
    let live = proc_modules();
    let mut loaded: Vec<String> = live.iter().map(|m| m.name.clone()).collect();
    // /proc/modules lists the newest first.
    loaded.reverse();
    let got: std::collections::HashSet<String> = loaded.iter().cloned().collect();
    assert_eq!(got, expected, "loaded modules vs modules.dep closure");
    let pos = |n: &str| {
        loaded
            .iter()
            .position(|l| l == n)
            .unwrap_or_else(|| panic!("{n} not loaded: {loaded:?}"))
    };
    // Every dependency depmod recorded was loaded before the module that needs it.
    for m in &loaded {
        for d in &dep[m] {
            assert!(
                pos(d) < pos(m),
                "{d} was loaded after {m}: order {loaded:?}"
            );
        }
    }
    // The kernel's own links (a user holds a reference on what it uses) agree, and the
    // module with dependencies really uses them: dahdi_dynamic_loc pins the chain.
    for holder in &live {
        for user in &holder.used_by {
            assert!(
                dep[user].contains(&holder.name),
                "the kernel says {user} uses {}, modules.dep does not",
                holder.name
            );
        }
    }
    assert!(
        live.iter()
            .any(|l| dep[ADDED].contains(&l.name) && l.used_by.iter().any(|u| u == ADDED)),
        "the kernel lists {ADDED} as a user of none of its dependencies: {live:?}"
    );
    let devices = std::fs::read_to_string("/proc/devices").unwrap();
    let major: u32 = devices
        .lines()
        .find_map(|l| {
            let (n, name) = l.trim().split_once(' ')?;
            (name == "dahdi").then(|| n.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no dahdi in /proc/devices:\n{devices}"));
    for node in ["/dev/dahdi/ctl", "/dev/dahdi/pseudo"] {
        let m = std::fs::metadata(node).unwrap_or_else(|e| panic!("{node}: {e}"));
        assert!(m.file_type().is_char_device(), "{node}");
        assert_eq!(libc::major(m.rdev()), major, "{node} major");
    }
}

/// A second `ensure` changes nothing: exit 0, same /proc/modules, nothing in dmesg.
fn second_ensure_is_a_no_op() {
    let before_modules = proc_modules();
    let before = dmesg();
    let run = loader(&["--json", "ensure"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(proc_modules(), before_modules, "/proc/modules changed");
    let new = dmesg_since(&before);
    assert!(new.is_empty(), "the kernel logged:\n{}", new.join("\n"));
    let json = run.json();
    for entry in json["loaded"].as_array().expect("loaded") {
        assert_eq!(entry["outcome"], "already-loaded", "{json:#}");
    }
}

/// `status --json` says dahdi is loaded and is the file on disk; the kernel's own
/// srcversion (sysfs) equals what the host's modinfo read from the same file.
fn status_reports_the_loaded_module_is_the_file() {
    let facts = Facts::read();
    let live = std::fs::read_to_string("/sys/module/dahdi/srcversion").unwrap();
    assert_eq!(live.trim(), facts.srcversion, "sysfs vs host modinfo");
    let run = loader(&["--json", "status"]);
    assert_eq!(run.code, Some(0), "{run}");
    let json = run.json();
    let k = running_report(&json);
    assert_eq!(k["kernel"]["release"], facts.release.as_str());
    assert_eq!(k["dev_dahdi"], true, "{k:#}");
    let dahdi = module_report(k, "dahdi");
    assert_eq!(dahdi["loaded"], true, "{dahdi:#}");
    assert_eq!(dahdi["loaded_matches_file"], true, "{dahdi:#}");
    assert_eq!(dahdi["srcversion"], facts.srcversion.as_str(), "{dahdi:#}");
    let verify = loader(&["verify"]);
    assert_eq!(verify.code, Some(0), "{verify}");
}

/// modprobe's configuration reaches the kernel as kmod would apply it: an `options` line
/// from /etc/modprobe.d and a `dahdi.PARAM=` word from the kernel command line both show
/// in /sys/module/dahdi/parameters (the kernel's own view; their defaults differ), and a
/// hardware driver that modprobe.d blacklists is not loaded for a device that matches it.
fn modprobe_options_and_blacklist_reach_the_kernel() {
    let param = |p: &str| {
        std::fs::read_to_string(format!("/sys/module/dahdi/parameters/{p}"))
            .unwrap_or_else(|e| panic!("/sys/module/dahdi/parameters/{p}: {e}"))
            .trim()
            .to_string()
    };
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap();
    assert!(
        cmdline.split_whitespace().any(|w| w == CMDLINE_OPTION),
        "the harness did not boot with {CMDLINE_OPTION}: {cmdline}"
    );
    assert_eq!(param("max_pseudo_channels"), "77", "from {MODPROBE_CONF}");
    assert_eq!(param("deftaps"), "128", "from the kernel command line");
    // The device the test alias matches is really there, so only the blacklist kept the
    // driver out.
    let device_present = std::fs::read_dir("/sys/bus/pci/devices")
        .unwrap()
        .flatten()
        .any(|d| {
            std::fs::read_to_string(d.path().join("modalias"))
                .is_ok_and(|m| m.starts_with(BLACKLISTED_DEVICE))
        });
    assert!(
        device_present,
        "no PCI device with modalias {BLACKLISTED_DEVICE}*"
    );
    assert!(
        !proc_modules().iter().any(|m| m.name == BLACKLISTED),
        "{BLACKLISTED} was loaded although modprobe.d blacklists it"
    );
    let verify = loader(&["--json", "verify"]);
    assert_eq!(verify.code, Some(0), "{verify}");
    assert!(
        verify
            .stdout
            .contains(&format!("{BLACKLISTED} is blacklisted")),
        "verify does not say why {BLACKLISTED} is not loaded: {verify}"
    );
}

/// What the suite adds to modprobe's configuration (see the test above).
const MODPROBE_CONF: &str = "/etc/modprobe.d/dahdi-vm-test.conf";
const CMDLINE_OPTION: &str = "dahdi.deftaps=128";
/// qemu's i440FX host bridge, present in every guest of the initramfs level.
const BLACKLISTED_DEVICE: &str = "pci:v00008086d00001237";
const BLACKLISTED: &str = "dahdi_dynamic_eth";

fn running_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string()
}

fn main() {
    if dahdi_tests::guest::is_guest_invocation() {
        dahdi_tests::guest::guest_main(dahdi_tests::guest_tests![
            starts_without_dahdi,
            foreign_vermagic_is_refused_before_the_kernel_is_asked,
            kernel_refusal_enoexec_is_explained,
            corrupted_import_is_predicted_and_the_kernel_agrees,
            concurrent_ensures_load_once_in_dependency_order,
            second_ensure_is_a_no_op,
            status_reports_the_loaded_module_is_the_file,
            modprobe_options_and_blacklist_reach_the_kernel,
        ]);
        return;
    }
    let suite = loader_suite("loader")
        .file(
            MODPROBE_CONF,
            0o644,
            format!("options dahdi max_pseudo_channels=77\nblacklist {BLACKLISTED}\n"),
        )
        .file(
            "/etc/dahdi-loader/vm-hardware.conf",
            0o644,
            format!("alias {BLACKLISTED_DEVICE}* {BLACKLISTED}\n"),
        )
        .kernel_arg(CMDLINE_OPTION);
    run_host(vec![suite], |_, suite| Ok(suite))
}
