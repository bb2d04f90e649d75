//! Turns guest suites into ordinary `cargo test` results (through
//! libtest-mimic), so every guest test shows up as its own line.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::initramfs::{ImageContents, BUSYBOX};
use crate::qemu::{Accel, QemuConfig};
use crate::suite::SuiteReport;
use crate::{GuestSuite, HarnessError, KernelUnderTest, Platform};

/// Chooses the accelerator: `DAHDI_VM_ACCEL`, else KVM only if a probe boot
/// with KVM demonstrably worked on this machine (cached in `cache_dir`).
pub fn choose_accel(kernel: &KernelUnderTest, cache_dir: &Path) -> Accel {
    match std::env::var("DAHDI_VM_ACCEL").as_deref() {
        Ok("tcg") => return Accel::Tcg,
        Ok("kvm") => return Accel::Kvm,
        _ => {}
    }
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return Accel::Tcg;
    }
    let cache = cache_dir.join(format!("kvm-probe-{}", kernel.release));
    if let Ok(v) = std::fs::read_to_string(&cache) {
        return if v.trim() == "kvm" {
            Accel::Kvm
        } else {
            Accel::Tcg
        };
    }
    let verdict = probe_kvm(kernel).unwrap_or(false);
    let _ = std::fs::create_dir_all(cache_dir);
    let _ = std::fs::write(&cache, if verdict { "kvm" } else { "tcg" });
    eprintln!(
        "vm: KVM probe boot {}",
        if verdict {
            "worked; using KVM"
        } else {
            "failed; using TCG"
        }
    );
    if verdict {
        Accel::Kvm
    } else {
        Accel::Tcg
    }
}

fn probe_kvm(kernel: &KernelUnderTest) -> Result<bool, HarnessError> {
    let work = tempfile::tempdir().map_err(|e| HarnessError::Setup(e.to_string()))?;
    let mut image = ImageContents::new();
    image.host_file(Path::new(BUSYBOX), "/bin/busybox")?;
    image.bytes(
        "/init",
        0o755,
        "#!/bin/busybox sh\n/bin/busybox mount -t devtmpfs dev /dev\n\
         /bin/busybox echo @@KVM-OK > /dev/ttyS1\n/bin/busybox poweroff -f\n",
    );
    let initrd = work.path().join("probe.cpio");
    image.write_cpio(
        std::fs::File::create(&initrd).map_err(|e| HarnessError::Setup(e.to_string()))?,
    )?;
    let mut q = QemuConfig::new(&kernel.image, &initrd);
    q.accel = Accel::Kvm;
    let run = q.run(work.path(), Duration::from_secs(10))?;
    Ok(run.results.contains("@@KVM-OK"))
}

/// A guest test: (program, test).
type TestId = (String, String);

/// The `main` of a VM test binary (`harness = false`) whose suites run on
/// Debian 12 only (see [`run_suites_on_platforms`]).
pub fn run_suites_as_tests(suites: Vec<GuestSuite>, cache_dir: &Path) -> ! {
    run_suites_on_platforms(suites, &[Platform::Debian12], cache_dir)
}

/// The `main` of a VM test binary (`harness = false`): lists every guest
/// test of every suite on every platform as a trial named
/// `PLATFORM::SUITE::PROGRAM::TEST`, boots each suite that has a selected
/// test once per platform, and reports.
pub fn run_suites_on_platforms(
    suites: Vec<GuestSuite>,
    platforms: &[Platform],
    cache_dir: &Path,
) -> ! {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let mut listed_suites = Vec::new();
    for suite in suites {
        match suite.list() {
            Ok(l) => listed_suites.push((suite, l)),
            Err(e) => {
                for platform in platforms {
                    let msg = e.to_string();
                    trials.push(Trial::test(
                        format!("{}::{}::list", platform.id(), suite.name),
                        move || Err(Failed::from(msg)),
                    ));
                }
            }
        }
    }

    for &platform in platforms {
        let plans: Vec<(&GuestSuite, &Vec<TestId>, Vec<TestId>)> = listed_suites
            .iter()
            .map(|(suite, listed)| {
                let selected = listed
                    .iter()
                    .filter(|(p, t)| is_selected(&args, &trial_name(platform, &suite.name, p, t)))
                    .cloned()
                    .collect();
                (suite, listed, selected)
            })
            .collect();
        let needs_vm = !args.list && plans.iter().any(|(_, _, sel)| !sel.is_empty());
        let kernel = if needs_vm {
            let t = Instant::now();
            let k = platform.kernel(&cache_dir.join("vm-cache"));
            if t.elapsed() > Duration::from_secs(5) {
                eprintln!(
                    "vm: {} system ready in {:.0} s",
                    platform.id(),
                    t.elapsed().as_secs_f64()
                );
            }
            Some(k)
        } else {
            None
        };
        let accel = match &kernel {
            Some(Ok(k)) => choose_accel(k, cache_dir),
            _ => Accel::Tcg,
        };

        for (suite, listed, selected) in plans {
            let report: Arc<Result<SuiteReport, String>> =
                Arc::new(match (&kernel, selected.is_empty()) {
                    (_, true) | (None, _) => Err("not run".into()),
                    (Some(Err(e)), _) => Err(e.to_string()),
                    (Some(Ok(k)), false) => {
                        eprintln!(
                            "vm: booting suite {} on {} {} ({:?})",
                            suite.name,
                            platform.id(),
                            k.release,
                            accel
                        );
                        let r = suite
                            .run(k, accel, Some(&selected))
                            .map_err(|e| e.to_string());
                        if let Ok(rep) = &r {
                            eprintln!(
                                "vm: suite {} on {}: boot + {} tests took {:.1} s wall (fast \
                                 level, {:?})",
                                suite.name,
                                platform.id(),
                                rep.results.len(),
                                rep.wall.as_secs_f64(),
                                accel
                            );
                        }
                        r
                    }
                });
            for (prog, test) in listed {
                let report = Arc::clone(&report);
                let (p, t) = (prog.clone(), test.clone());
                trials.push(Trial::test(
                    trial_name(platform, &suite.name, prog, test),
                    move || match &*report {
                        Ok(r) => r.verdict(&p, &t).map_err(Failed::from),
                        Err(e) => Err(Failed::from(e.clone())),
                    },
                ));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit()
}

fn trial_name(platform: Platform, suite: &str, program: &str, test: &str) -> String {
    format!("{}::{suite}::{program}::{test}", platform.id())
}

/// libtest's own filter rules, so the VM is booted only when one of its
/// tests would run.
fn is_selected(args: &Arguments, name: &str) -> bool {
    if args.ignored {
        return false;
    }
    let matches = |f: &str| {
        if args.exact {
            name == f
        } else {
            name.contains(f)
        }
    };
    if args.skip.iter().any(|s| matches(s)) {
        return false;
    }
    match &args.filter {
        Some(f) => matches(f),
        None => true,
    }
}
