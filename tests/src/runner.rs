//! Turns guest suites into ordinary `cargo test` results (through
//! libtest-mimic), so every guest test shows up as its own line.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::initramfs::{ImageContents, BUSYBOX};
use crate::qemu::{Accel, QemuConfig};
use crate::suite::SuiteReport;
use crate::{GuestSuite, HarnessError, KernelUnderTest};

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

/// The `main` of a VM test binary (`harness = false`): lists every guest
/// test of every suite as a trial, boots each suite that has a selected
/// test once, and reports.
pub fn run_suites_as_tests(suites: Vec<GuestSuite>, cache_dir: &Path) -> ! {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let mut plans = Vec::new();
    for suite in suites {
        let listed = match suite.list() {
            Ok(l) => l,
            Err(e) => {
                let msg = e.to_string();
                trials.push(Trial::test(format!("{}::list", suite.name), move || {
                    Err(Failed::from(msg))
                }));
                continue;
            }
        };
        let selected: Vec<(String, String)> = listed
            .iter()
            .filter(|(p, t)| is_selected(&args, &trial_name(&suite.name, p, t)))
            .cloned()
            .collect();
        plans.push((suite, listed, selected));
    }

    let needs_vm = !args.list && plans.iter().any(|(_, _, sel)| !sel.is_empty());
    let kernel = if needs_vm {
        Some(KernelUnderTest::discover())
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
                        "vm: booting suite {} on {} ({:?})",
                        suite.name, k.release, accel
                    );
                    let r = suite
                        .run(k, accel, Some(&selected))
                        .map_err(|e| e.to_string());
                    if let Ok(rep) = &r {
                        eprintln!(
                            "vm: suite {}: boot + {} tests took {:.1} s wall (fast level, {:?})",
                            suite.name,
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
                trial_name(&suite.name, &prog, &test),
                move || match &*report {
                    Ok(r) => r.verdict(&p, &t).map_err(Failed::from),
                    Err(e) => Err(Failed::from(e.clone())),
                },
            ));
        }
    }
    libtest_mimic::run(&args, trials).exit()
}

fn trial_name(suite: &str, program: &str, test: &str) -> String {
    format!("{suite}::{program}::{test}")
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
