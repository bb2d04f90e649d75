//! `ensure` on fixture trees: builds through a stand-in for dkms (the real one cannot build
//! inside a temporary directory), loads through a stand-in for finit_module (this host
//! cannot load modules), and the lock under concurrent runs.

mod common;

use dahdi_tests::output::text;
use std::cell::RefCell;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use common::fake_dkms::*;
use common::*;
use dahdi_loader::ensure::{self, Options};
use dahdi_loader::load::{self, Expect, Handover, Inserter, Outcome, Step};
use dahdi_loader::names::{KernelRelease, ModuleName, PackageName};
use dahdi_loader::{Error, ExitCode, Root};
use nix::errno::Errno;

fn dkms_files(f: &Fixture) -> usize {
    std::fs::read_dir(f.kdir().join("updates/dkms")).map_or(0, |d| d.count())
}

fn dkms_state(f: &Fixture) -> Option<dahdi_loader::dkms::State> {
    dahdi_loader::dkms::read_module(&Root::new(f.root()), &PackageName::new("dahdi").unwrap())
        .unwrap()
        .map(|m| m.versions[0].state_for(&KernelRelease::new(&f.real.kernel).unwrap()))
}

/// Every file under the module directory and the DKMS tree, with its content: what "left
/// as it was found" is checked against.
fn snapshot(f: &Fixture) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for top in [f.kdir(), f.path("/var/lib/dkms")] {
        for p in find_files(&top, "") {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    // The active links too.
    for e in std::fs::read_dir(f.path("/var/lib/dkms/dahdi"))
        .unwrap()
        .flatten()
    {
        if let Ok(t) = std::fs::read_link(e.path()) {
            out.push((e.path(), t.to_string_lossy().into_owned().into_bytes()));
        }
    }
    out.sort();
    out
}

#[test]
fn builds_when_missing_then_is_idempotent() {
    let f = Fixture::bare();
    f.depmod();
    let fake = FakeDkms::new(&f.real.modules);
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("built with DKMS"));
    // Staged in a private tree first, then installed into the system's.
    let log = fake.log();
    let (v, k) = (&f.real.version, &f.real.kernel);
    let stage = f.path("/var/lib/dahdi-loader/stage");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(
        lines[0].starts_with(&format!(
            "add -m dahdi -v {v} --dkmstree {}",
            stage.display()
        )),
        "{log}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "build -m dahdi -v {v} -k {k} --dkmstree {}",
            stage.display()
        )),
        "{log}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "install -m dahdi -v {v} -k {k} --dkmstree {}",
            f.path("/var/lib/dkms").display()
        )),
        "{log}"
    );
    assert_eq!(dkms_files(&f), f.real.modules.len());
    // Nothing of the transaction is left behind.
    assert!(!f.path("/var/lib/dahdi-loader/transaction.json").exists());
    assert!(!stage.exists());
    // Second run: everything verifies, dkms is not called again.
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    assert!(out.status.success());
    assert_eq!(fake.log().lines().count(), 3, "{}", fake.log());
    // And the independent check: dkms's own view of the tree is installed.
    assert_eq!(dkms_state(&f), Some(dahdi_loader::dkms::State::Installed));
}

#[test]
fn failed_build_shows_make_log_and_changes_nothing() {
    let f = Fixture::bare();
    f.depmod();
    let before = snapshot(&f);
    let fake = FakeDkms::new(&f.real.modules);
    let out = ensure_cmd(&f, &fake, "fail").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(ExitCode::BuildFailed as i32),
        "{stderr}"
    );
    assert!(stderr.contains("fake compiler failure"), "{stderr}");
    assert!(stderr.contains("dkms exited with status 10"), "{stderr}");
    assert!(stderr.contains("make.log"), "{stderr}");
    // The failed build happened in the private tree: the system's is as it was.
    assert_eq!(fake.actions(), ["add", "build"], "{}", fake.log());
    assert_eq!(snapshot(&f), before);
    assert_eq!(dkms_files(&f), 0);
    assert_eq!(dkms_state(&f), Some(dahdi_loader::dkms::State::Added));
}

#[test]
fn a_build_for_the_wrong_kernel_is_never_installed() {
    let f = Fixture::bare();
    f.depmod();
    let before = snapshot(&f);
    let fake = FakeDkms::new(&f.real.modules);
    // The "build" produces modules stamped for another kernel, like a Makefile using uname -r.
    let other = other_release(&f.real.kernel);
    for m in std::fs::read_dir(fake.stash()).unwrap() {
        patch_vermagic(&m.unwrap().path(), &f.real.kernel, &other);
    }
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(ExitCode::Mismatch as i32),
        "{stderr}"
    );
    assert!(stderr.contains("still does not verify"), "{stderr}");
    assert!(stderr.contains(&other), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(fake.actions(), ["add", "build"], "{}", fake.log());
    assert_eq!(snapshot(&f), before);
}

#[test]
fn a_build_that_cannot_fix_the_problem_leaves_the_system_as_it_was() {
    let f = Fixture::installed();
    let other = f.break_one_module("wcb4xxp");
    let before = snapshot(&f);
    // The rebuild would produce the same wrong vermagic (a Makefile that asks uname -r).
    let fake = FakeDkms::new(&f.real.modules);
    for m in std::fs::read_dir(fake.stash()).unwrap() {
        patch_vermagic(&m.unwrap().path(), &f.real.kernel, &other);
    }
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(ExitCode::Mismatch as i32),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("nothing was changed"), "{}", text(&out));
    // Only the private tree was used; the 31 working modules and the DKMS registration are
    // exactly as they were.
    assert_eq!(fake.actions(), ["add", "build"], "{}", fake.log());
    assert_eq!(snapshot(&f), before);
    assert_eq!(dkms_state(&f), Some(dahdi_loader::dkms::State::Installed));
}

#[test]
fn a_wrong_build_is_replaced_only_by_one_that_verifies() {
    let f = Fixture::installed();
    f.break_one_module("wcb4xxp");
    let fake = FakeDkms::new(&f.real.modules);
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // Staged and proven before the system's build was touched.
    assert_eq!(
        fake.actions(),
        ["add", "build", "unbuild", "install"],
        "{}",
        fake.log()
    );
    assert_eq!(dkms_state(&f), Some(dahdi_loader::dkms::State::Installed));
    let out = f.run(&["--running-kernel", "0.0.0-test", "verify", &f.real.kernel]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_killed_ensure_never_lets_a_second_build_start_beside_its_dkms() {
    let f = Fixture::bare();
    f.depmod();
    let fake = FakeDkms::new(&f.real.modules);
    let mut first = ensure_cmd(&f, &fake, "ok");
    first.env("FAKE_DKMS_SLEEP", "3");
    let mut first = first.spawn().unwrap();
    // Wait until its dkms is building, then kill the loader alone (as the OOM killer or
    // `systemctl kill` of the main process would); its dkms goes on.
    let running = fake.dir.path().join("running");
    let t0 = std::time::Instant::now();
    while !running.exists() {
        assert!(t0.elapsed().as_secs() < 20, "the build never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("waiting for it"), "{}", text(&out));
    assert!(!fake.log().contains("CONCURRENT"), "{}", fake.log());
    assert_eq!(dkms_files(&f), f.real.modules.len());
}

#[test]
fn an_install_cut_short_is_rolled_back_by_the_next_ensure() {
    let f = Fixture::installed();
    f.break_one_module("wcb4xxp");
    let fake = FakeDkms::new(&f.real.modules);
    let mut first = ensure_cmd(&f, &fake, "ok");
    first.env("FAKE_DKMS_INSTALL_SLEEP", "30");
    let mut first = first.spawn().unwrap();
    let dahdi = f.module("dahdi");
    let t0 = std::time::Instant::now();
    while std::fs::metadata(&dahdi).map_or(true, |m| m.len() != 300) {
        assert!(
            t0.elapsed().as_secs() < 30,
            "the install never started: {}",
            fake.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The loader and its dkms (with what dkms started) die together, as a unit's timeout
    // kills its whole cgroup.
    let dkms: i32 = std::fs::read_to_string(fake.dir.path().join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(dkms),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // Half-installed: a truncated dahdi.ko, and the journal says a swap was under way.
    assert_eq!(std::fs::metadata(&dahdi).unwrap().len(), 300);
    assert!(f.path("/var/lib/dahdi-loader/transaction.json").exists());
    // verify sees the damage.
    let out = f.run(&["--running-kernel", "0.0.0-test", "verify", &f.real.kernel]);
    assert_eq!(
        out.status.code(),
        Some(ExitCode::Broken as i32),
        "{}",
        text(&out)
    );
    // The next ensure puts the previous build back, then rebuilds properly.
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("was interrupted"), "{}", text(&out));
    assert!(!f.path("/var/lib/dahdi-loader/transaction.json").exists());
    let out = f.run(&["--running-kernel", "0.0.0-test", "verify", &f.real.kernel]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_failed_build_is_a_verdict_and_is_not_repeated_until_something_changes() {
    let f = Fixture::bare();
    f.depmod();
    let fake = FakeDkms::new(&f.real.modules);
    let k = f.real.kernel.clone();
    let out = ensure_cmd(&f, &fake, "fail").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(ExitCode::BuildFailed as i32),
        "{}",
        text(&out)
    );
    // verify now says the build failed, quotes the compiler and the log, and does not
    // tell the operator to run ensure.
    let out = f.run(&["--running-kernel", "0.0.0-test", "verify", &k]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(ExitCode::BuildFailed as i32), "{t}");
    assert!(t.contains("DAHDI will not load on kernel"), "{t}");
    assert!(
        t.contains("base.c:123: error: fake compiler failure"),
        "{t}"
    );
    assert!(t.contains("/var/lib/dahdi-loader/failed/dahdi/"), "{t}");
    assert!(
        t.contains(&format!("apt-get remove linux-image-{k} linux-headers-{k}")),
        "{t}"
    );
    assert!(
        !t.contains(&format!("fix: run dahdi-loader ensure -k {k}")),
        "{t}"
    );
    // ensure does not try the same build again...
    let calls = fake.log().lines().count();
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(ExitCode::BuildFailed as i32),
        "{}",
        text(&out)
    );
    assert_eq!(fake.log().lines().count(), calls, "{}", fake.log());
    // ...unless forced,
    let out = ensure_cmd(&f, &fake, "fail")
        .arg("--force")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(ExitCode::BuildFailed as i32),
        "{}",
        text(&out)
    );
    assert!(fake.log().lines().count() > calls);
    // or the headers change (a new headers package for the same kernel).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let config = f.path(&format!("/usr/src/linux-headers-{k}/.config"));
    let c = std::fs::read(&config).unwrap();
    std::fs::write(&config, c).unwrap();
    let out = f.run(&["--running-kernel", "0.0.0-test", "verify", &k]);
    assert_eq!(
        out.status.code(),
        Some(ExitCode::NeedsBuild as i32),
        "{}",
        text(&out)
    );
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!f
        .path(&format!(
            "/var/lib/dahdi-loader/failed/dahdi/{}/{k}.json",
            f.real.version
        ))
        .exists());
}

#[test]
fn dkms_own_failed_build_is_read_from_its_make_log() {
    let f = Fixture::bare();
    f.depmod();
    let (k, v) = (f.real.kernel.clone(), f.real.version.clone());
    // What DKMS's kernel hook leaves after a failed compile (dkms 3.2.2's first line).
    f.write(
        &format!("/var/lib/dkms/dahdi/{v}/build/make.log"),
        format!(
            "DKMS (dkms-3.2.2) make.log for dahdi/{v} for kernel {k} (x86_64)\nSat Dec  5 10:00:00 UTC 2026\n\
             /var/lib/dkms/dahdi/{v}/build/drivers/dahdi/dahdi-base.c:9338:25: error: too many arguments to function 'ppp_input_error'\n"
        ),
    );
    let out = f.run(&["--running-kernel", "0.0.0-test", "--json", "verify", &k]);
    assert_eq!(
        out.status.code(),
        Some(ExitCode::BuildFailed as i32),
        "{}",
        text(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = &v["kernels"][0]["failed_build"];
    assert_eq!(failed["by"], "dkms");
    assert_eq!(failed["first_error"]["file"], "drivers/dahdi/dahdi-base.c");
    assert_eq!(failed["first_error"]["line"], 9338);
    // A log about another kernel says nothing about this one.
    f.write(
        &format!("/var/lib/dkms/dahdi/{}/build/make.log", f.real.version),
        "DKMS make.log for dahdi-1 for kernel 9.9.9-other (x86_64)\nx.c:1:1: error: e\n",
    );
    let out = f.run(&["--running-kernel", "0.0.0-test", "verify", &k]);
    assert_eq!(
        out.status.code(),
        Some(ExitCode::NeedsBuild as i32),
        "{}",
        text(&out)
    );
}

#[test]
fn a_build_that_hangs_is_stopped_with_everything_it_started() {
    let f = Fixture::bare();
    f.depmod();
    f.write("/etc/dahdi-loader/timeout.conf", "build-timeout 2s\n");
    let before = snapshot(&f);
    let fake = FakeDkms::new(&f.real.modules);
    let t0 = std::time::Instant::now();
    let out = ensure_cmd(&f, &fake, "ok")
        .env("FAKE_DKMS_SLEEP", "600")
        .output()
        .unwrap();
    assert!(
        t0.elapsed().as_secs() < 60,
        "not stopped: {:?}",
        t0.elapsed()
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("ran longer than 2 s"), "{}", text(&out));
    // Nothing of the build goes on (the fake's sleep was in dkms's process group), and the
    // system is as it was.
    let sleeping = Command::new("pgrep")
        .args(["-f", "sleep 600"])
        .output()
        .unwrap();
    assert!(
        sleeping.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&sleeping.stdout)
    );
    assert_eq!(snapshot(&f), before);
}

#[test]
fn missing_headers_is_needs_build_with_the_package_to_install() {
    let f = Fixture::bare();
    f.depmod();
    std::fs::remove_file(f.kdir().join("build")).unwrap();
    std::fs::remove_dir_all(f.path(&format!("/usr/src/linux-headers-{}", f.real.kernel))).ok();
    let fake = FakeDkms::new(&f.real.modules);
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(ExitCode::NeedsBuild as i32),
        "{stderr}"
    );
    let k = &f.real.kernel;
    assert!(
        stderr.contains(&format!(
            "install linux-headers-{k}, then run dahdi-loader ensure -k {k}"
        )),
        "{stderr}"
    );
    assert_eq!(fake.log(), "");
}

#[test]
fn concurrent_ensures_do_one_build_and_all_succeed() {
    let f = Fixture::bare();
    f.depmod();
    let fake = FakeDkms::new(&f.real.modules);
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut c = ensure_cmd(&f, &fake, "ok");
            c.env("FAKE_DKMS_SLEEP", "1");
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(!fake.log().contains("CONCURRENT"), "{}", fake.log());
    let builds = fake.actions().iter().filter(|a| *a == "build").count();
    assert_eq!(builds, 1, "{}", fake.log());
}

/// Records what would be inserted; creates /dev/dahdi/ctl when dahdi goes in, as the
/// kernel's devtmpfs would; can be told to fail one module with an errno.
struct FakeKernel {
    root: PathBuf,
    inserted: Rc<RefCell<Vec<String>>>,
    fail: Option<(String, Errno)>,
    /// Each insert's parameters, by module.
    params: Rc<RefCell<Vec<(String, String)>>>,
}

impl Inserter for FakeKernel {
    fn insert(
        &mut self,
        name: &ModuleName,
        _fd: BorrowedFd<'_>,
        params: &str,
        _handover: Handover,
    ) -> Result<(), Errno> {
        let name = name.as_str();
        self.params
            .borrow_mut()
            .push((name.to_string(), params.to_string()));
        if let Some((n, e)) = &self.fail {
            if n == name {
                return Err(*e);
            }
        }
        self.inserted.borrow_mut().push(name.to_string());
        if name == "dahdi" {
            let ctl = self.root.join("dev/dahdi/ctl");
            std::fs::create_dir_all(ctl.parent().unwrap()).unwrap();
            std::fs::write(ctl, "").unwrap();
        }
        Ok(())
    }
}

fn fake_kernel(f: &Fixture) -> (FakeKernel, Rc<RefCell<Vec<String>>>) {
    let inserted = Rc::new(RefCell::new(Vec::new()));
    (
        FakeKernel {
            root: f.root().to_path_buf(),
            inserted: inserted.clone(),
            fail: None,
            params: Rc::default(),
        },
        inserted,
    )
}

fn loaded(rep: &ensure::Report) -> Vec<(String, Outcome)> {
    rep.loaded
        .iter()
        .map(|(n, o)| (n.to_string(), *o))
        .collect()
}

fn running_opts(f: &Fixture) -> Options {
    Options {
        running: Some(KernelRelease::new(&f.real.kernel).unwrap()),
        dkms_program: "/nonexistent/dkms".into(),
        quiet: true,
        ..Default::default()
    }
}

/// The dependency lines depmod wrote, by module name.
fn depmod_deps(f: &Fixture) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(f.kdir().join("modules.dep")).unwrap();
    let stem = |p: &str| {
        Path::new(p)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".ko")
            .replace('-', "_")
    };
    text.lines()
        .map(|l| {
            let (p, d) = l.split_once(':').unwrap();
            (stem(p), d.split_whitespace().map(stem).collect())
        })
        .collect()
}

#[test]
fn loads_dahdi_alone_without_hardware_and_waits_for_ctl() {
    let f = Fixture::installed();
    let (mut k, inserted) = fake_kernel(&f);
    let rep = ensure::ensure(&Root::new(f.root()), &running_opts(&f), &mut k).unwrap();
    assert_eq!(*inserted.borrow(), vec!["dahdi"]);
    assert_eq!(loaded(&rep), vec![("dahdi".to_string(), Outcome::Loaded)]);
    assert!(rep.dev_ready_ms.is_some());
    assert!(!rep.built);
}

/// modprobe.d and the kernel command line, as kmod reads them, reach the kernel: options
/// (files first, then `MODULE.param=`), softdeps around the module, and /etc/dahdi/modules
/// adds to what is loaded; an install command is reported, not run.
#[test]
fn modprobe_configuration_reaches_the_kernel() {
    let f = Fixture::installed();
    f.write(
        "/etc/modprobe.d/dahdi.conf",
        "options dahdi max_pseudo_channels=77\n\
         softdep dahdi_dynamic_loc pre: dahdi_echocan_mg2\n\
         install dahdi_echocan_kb1 /bin/echo would-not-load\n",
    );
    f.write("/proc/cmdline", "quiet dahdi.deftaps=64 root=/dev/vda\n");
    f.write(
        "/etc/dahdi/modules",
        "# dahdi-tools' list\ndahdi_dynamic_loc\ndahdi_echocan_kb1\n",
    );
    let (mut k, inserted) = fake_kernel(&f);
    let params = k.params.clone();
    ensure::ensure(&Root::new(f.root()), &running_opts(&f), &mut k).unwrap();
    let order = inserted.borrow().clone();
    let pos = |m: &str| {
        order
            .iter()
            .position(|x| x == m)
            .unwrap_or_else(|| panic!("{m} not loaded: {order:?}"))
    };
    assert!(pos("dahdi") < pos("dahdi_dynamic") && pos("dahdi_dynamic") < pos("dahdi_dynamic_loc"));
    assert!(
        pos("dahdi_echocan_mg2") < pos("dahdi_dynamic_loc"),
        "softdep pre: {order:?}"
    );
    pos("dahdi_echocan_kb1");
    let dahdi_params = params
        .borrow()
        .iter()
        .find(|(m, _)| m == "dahdi")
        .map(|(_, p)| p.clone())
        .unwrap();
    // The options of the files first, then the command line's: kmod's order (the
    // modprobe module's own tests check that order against modprobe itself).
    assert_eq!(dahdi_params, "max_pseudo_channels=77 deftaps=64");
    // verify reports the install command it will not run.
    let out = f.run(&["--running-kernel", &f.real.kernel, "--json", "verify"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["kernels"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"install-command"), "{codes:?}");
    assert_eq!(v["kernels"][0]["options"][0]["module"], "dahdi");
}

#[test]
fn loads_in_dependency_order_matching_depmod() {
    let f = Fixture::installed();
    f.write(
        "/etc/dahdi-loader/x.conf",
        "add xpp_usb wcb4xxp dahdi_echocan_mg2\n",
    );
    let (mut k, inserted) = fake_kernel(&f);
    ensure::ensure(&Root::new(f.root()), &running_opts(&f), &mut k).unwrap();
    let order = inserted.borrow().clone();
    for w in [
        "dahdi",
        "xpp_usb",
        "wcb4xxp",
        "dahdi_echocan_mg2",
        "xpp",
        "usbcore",
    ] {
        assert!(order.contains(&w.to_string()), "{w} missing from {order:?}");
    }
    // Every dependency depmod computed comes before the module that needs it.
    for (name, deps) in depmod_deps(&f) {
        let Some(pos) = order.iter().position(|n| *n == name) else {
            continue;
        };
        for d in deps {
            let dpos = order
                .iter()
                .position(|n| *n == d)
                .unwrap_or_else(|| panic!("{d} (needed by {name}) not loaded: {order:?}"));
            assert!(dpos < pos, "{d} must load before {name}: {order:?}");
        }
    }
}

#[test]
fn already_loaded_and_eexist_are_success() {
    let f = Fixture::installed();
    f.write("/sys/module/dahdi/initstate", "live\n");
    f.write("/dev/dahdi/ctl", "");
    f.write("/etc/dahdi-loader/x.conf", "add dahdi_echocan_mg2\n");
    let (mut k, inserted) = fake_kernel(&f);
    k.fail = Some(("dahdi_echocan_mg2".into(), Errno::EEXIST));
    let rep = ensure::ensure(&Root::new(f.root()), &running_opts(&f), &mut k).unwrap();
    assert!(inserted.borrow().is_empty(), "{:?}", inserted.borrow());
    assert_eq!(
        loaded(&rep),
        vec![
            ("dahdi".to_string(), Outcome::AlreadyLoaded),
            ("dahdi_echocan_mg2".to_string(), Outcome::AlreadyLoaded)
        ]
    );
}

#[test]
fn kernel_errors_are_explained() {
    for (errno, words) in [
        (Errno::ENOEXEC, "vermagic"),
        (Errno::EINVAL, "version of a symbol"),
        (Errno::ENOENT, "symbol that nothing loaded provides"),
        (Errno::EKEYREJECTED, "signature"),
        (Errno::EPERM, "not permitted"),
    ] {
        let f = Fixture::installed();
        let (mut k, _) = fake_kernel(&f);
        k.fail = Some(("dahdi".into(), errno));
        let e = ensure::ensure(&Root::new(f.root()), &running_opts(&f), &mut k).unwrap_err();
        assert!(matches!(e, Error::Load { .. }), "{e}");
        let s = e.to_string();
        assert!(s.contains(words) && s.contains("dahdi"), "{errno}: {s}");
        assert_eq!(e.exit_code(), ExitCode::Broken);
    }
}

#[test]
fn module_for_another_kernel_is_refused_before_the_kernel_is_asked() {
    let f = Fixture::installed();
    let p = f.module("dahdi");
    let other = other_release(&f.real.kernel);
    patch_vermagic(&p, &f.real.kernel, &other);
    let expected = modinfo("vermagic", &f.real.dkms_dir.join("dahdi.ko"))[0].clone();
    let (mut k, inserted) = fake_kernel(&f);
    let steps = vec![Step {
        name: ModuleName::new("dahdi").unwrap(),
        path: p.clone(),
    }];
    for expect in [
        Expect::Full(expected.clone()),
        Expect::Release(f.real.kernel.clone()),
    ] {
        let e = load::execute(
            &Root::new(f.root()),
            &steps,
            &expect,
            &|_| String::new(),
            &mut k,
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(matches!(e, Error::VermagicRefused { .. }), "{s}");
        assert!(
            s.contains(&other) && s.contains("was built for another kernel"),
            "{s}"
        );
    }
    assert!(inserted.borrow().is_empty());
}

#[test]
fn module_files_writable_by_others_or_not_owned_by_root_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::installed();
    let p = f.module("dahdi");
    let steps = vec![Step {
        name: ModuleName::new("dahdi").unwrap(),
        path: p.clone(),
    }];
    let expect = Expect::Release(f.real.kernel.clone());
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (mut k, inserted) = fake_kernel(&f);
    let e = load::execute(
        &Root::new(f.root()),
        &steps,
        &expect,
        &|_| String::new(),
        &mut k,
    )
    .unwrap_err();
    assert!(matches!(e, Error::UntrustedFile { .. }), "{e}");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(&p, Some(4242), None).unwrap();
        let e = load::execute(
            &Root::new(f.root()),
            &steps,
            &expect,
            &|_| String::new(),
            &mut k,
        )
        .unwrap_err();
        assert!(e.to_string().contains("owned by uid 4242"), "{e}");
    }
    assert!(inserted.borrow().is_empty());
}
