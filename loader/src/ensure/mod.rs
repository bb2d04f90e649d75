//! `ensure`: make DAHDI right for a kernel (build if needed) and, for the running kernel,
//! load it and wait for `/dev/dahdi/ctl`. Idempotent, safe to run many times at once, and
//! never leaves the system worse than it found it ([`transaction`]).

pub mod transaction;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::dkms::run::Target;
use crate::dkms::{Dkms, State};
use crate::error::Error;
use crate::hw;
use crate::journal::{log, Priority};
use crate::load::{self, Expect, Inserter, Outcome};
use crate::lock;
use crate::modindex::KernelIndex;
use crate::names::{KernelRelease, ModuleName};
use crate::notify;
use crate::report::{Fix, Verdict};
use crate::root::Root;
use crate::system::System;
use crate::verify::{self, Checks, KernelReport};

/// What `ensure` should do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Kernel to ensure; the running kernel when `None`.
    pub kernel: Option<KernelRelease>,
    /// Override of `uname -r` (tests and VM harnesses).
    pub running: Option<KernelRelease>,
    /// Load modules when the kernel is the running one.
    pub load: bool,
    /// Build when needed.
    pub build: bool,
    /// The dkms program.
    pub dkms_program: PathBuf,
    /// How long to wait for another loader.
    pub lock_timeout: Duration,
    /// No progress messages on stderr.
    pub quiet: bool,
    /// Build again even if the same build failed before with the same inputs.
    pub force: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kernel: None,
            running: None,
            load: true,
            build: true,
            dkms_program: crate::dkms::run::DEFAULT_DKMS.into(),
            lock_timeout: lock::DEFAULT_TIMEOUT,
            quiet: false,
            force: false,
        }
    }
}

/// `[{"module": "dahdi", "outcome": "loaded"}, ...]`: named fields, not pairs.
fn serialize_loaded<S: serde::Serializer>(
    loaded: &[(ModuleName, Outcome)],
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Entry<'a> {
        module: &'a ModuleName,
        outcome: Outcome,
    }
    s.collect_seq(loaded.iter().map(|(module, outcome)| Entry {
        module,
        outcome: *outcome,
    }))
}

/// What `ensure` did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The kernel.
    pub kernel: KernelRelease,
    /// A DKMS build was run.
    pub built: bool,
    /// Time spent waiting for another loader, in milliseconds.
    pub waited_for_lock_ms: u128,
    /// How long it waited for a dkms it did not start, when one was running as it was
    /// about to build.
    pub waited_for_dkms_ms: Option<u128>,
    /// Hardware that asked for modules.
    pub hardware: Vec<hw::Match>,
    /// Modules loaded or found loaded, in order (in JSON, objects: `module`, `outcome`).
    #[serde(serialize_with = "serialize_loaded")]
    pub loaded: Vec<(ModuleName, Outcome)>,
    /// Milliseconds until /dev/dahdi/ctl was present, when waited for.
    pub dev_ready_ms: Option<u128>,
    /// The kernel's verification after all this.
    pub verification: KernelReport,
    /// What the boot guard did afterwards (when it is on).
    pub boot_guard: Option<crate::bootguard::GuardReport>,
}

/// Runs `ensure` under `root`, inserting modules with `inserter`. Afterwards, whatever
/// the outcome and under the same lock, the boot guard (when on) points the next boot at a
/// kernel where DAHDI verifies: a kernel DAHDI failed on is exactly when it matters.
pub fn ensure(root: &Root, opts: &Options, inserter: &mut dyn Inserter) -> Result<Report, Error> {
    let lock = lock::acquire(root, opts.lock_timeout, || {
        let waiting = "another dahdi-loader is running (maybe building); waiting for it";
        if !opts.quiet {
            log(Priority::Info, waiting);
        }
        notify::status(waiting);
    })?;
    let result = ensure_locked(root, opts, inserter, &lock);
    let guard = boot_guard(root, opts);
    drop(lock);
    match result {
        Ok(mut r) => {
            r.boot_guard = guard;
            // DAHDI is loaded: the deny-list the check before systemd-modules-load wrote
            // for this boot has done its work (crate::modules_load).
            if !r.loaded.is_empty() {
                match crate::modules_load::lift(root) {
                    Ok(true) if !opts.quiet => log(
                        Priority::Info,
                        &format!(
                            "DAHDI is loaded; removed {}",
                            crate::modules_load::DENY_LIST
                        ),
                    ),
                    Ok(_) => {}
                    Err(e) => log(Priority::Warning, &e.to_string()),
                }
            }
            // The boot's work is done: units ordered after the loader's may start.
            notify::ready(&crate::render::ensure_summary(&r));
            Ok(r)
        }
        Err(e) => {
            // No READY=1: the exit status fails the unit's start, and with it what
            // requires DAHDI. The status says why meanwhile.
            notify::status(&format!("failed: {e}"));
            Err(e)
        }
    }
}

/// The boot guard's run after `ensure`, when the configuration turns it on. It never
/// fails `ensure`: its own trouble is reported as what it could not do.
fn boot_guard(root: &Root, opts: &Options) -> Option<crate::bootguard::GuardReport> {
    use crate::bootguard::{Action, GuardReport};
    let config = crate::config::Config::load(root).ok()?;
    if !config.boot_guard {
        return None;
    }
    let report = System::load(root.clone(), opts.running.clone())
        .and_then(|sys| crate::bootguard::guard_system(&sys, true))
        .unwrap_or_else(|e| {
            GuardReport::cannot(true, format!("the boot guard could not run: {e}"))
        });
    let priority = match (&report.action, report.applied) {
        (Action::Pin { .. }, true) | (Action::Cannot { .. }, _) => Some(Priority::Warning),
        (Action::Release { .. }, true) => Some(Priority::Notice),
        // A hold already in place is still worth a line at every boot.
        _ if report.pinned_before.is_some() => Some(Priority::Warning),
        _ => None,
    };
    if let Some(p) = priority {
        log(p, &format!("boot guard: {}", report.message));
    }
    Some(report)
}

fn ensure_locked(
    root: &Root,
    opts: &Options,
    inserter: &mut dyn Inserter,
    lock: &lock::Lock,
) -> Result<Report, Error> {
    let mut dkms = Dkms::new(opts.dkms_program.clone(), root.clone());
    dkms.inherit = Some(lock.raw_fd());
    dkms.quiet = opts.quiet;
    dkms.timeout =
        std::time::Duration::from_secs(crate::config::Config::load(root)?.build_timeout_secs);
    let paths = transaction::Paths::new(root);
    if let Some(j) = transaction::pending(&paths)? {
        recover(root, opts, &dkms, &paths, &j)?;
    }
    transaction::clean(&paths);

    // Read the system only once the lock is held: whoever held it may have just built.
    let mut judged = judge(root, opts)?;
    // DKMS takes no lock of its own: a dkms someone else started (a kernel hook in an apt
    // run, an operator) may be building DAHDI right now. Wait for it before building, then
    // judge what it left; a healthy system never waits here.
    let mut waited_for_dkms = None;
    if judged.wants_build && opts.build {
        waited_for_dkms = wait_for_other_dkms(root, opts)?;
        if waited_for_dkms.is_some() {
            judged = judge(root, opts)?;
        }
    }
    let Judged {
        sys,
        release,
        kernel,
        mut report,
        wants_build,
    } = judged;
    let mut built = false;
    if wants_build && opts.build {
        // When no build can happen, still say what is wrong: "install dahdi-dkms" alone
        // would hide that the module on disk was built for another kernel.
        let cannot_build = |why: String, fix: Fix| {
            let worst = report
                .findings
                .iter()
                .filter(|f| f.fixed_by_build())
                .max_by_key(|f| f.severity);
            Error::NotReady {
                kernel: release.to_string(),
                verdict: report.verdict,
                message: match worst {
                    Some(f) => format!("{}; it cannot be rebuilt here: {why}", f.message),
                    None => why,
                },
                fix: Some(Box::new(fix)),
            }
        };
        let module =
            verify::buildable(&sys, &kernel).map_err(|(why, fix)| cannot_build(why, fix))?;
        let version = module
            .version_for(&release)
            .ok_or_else(|| Error::NoDkms {
                dkms_dir: root.join("/var/lib/dkms"),
            })?
            .version
            .clone();
        let package = module.name.clone();
        let target = Target {
            module: &package,
            version: &version,
            kernel: &release,
        };
        let result = rebuild(&sys, &kernel, &dkms, &paths, &target, report, opts.quiet);
        remember_build(root, &target, &result, opts.quiet);
        report = result?;
        built = true;
    }
    if let Some(worst) = report
        .findings
        .iter()
        .max_by_key(|f| f.severity)
        .filter(|_| report.verdict > Verdict::Ok)
    {
        return Err(Error::NotReady {
            kernel: release.to_string(),
            verdict: report.verdict,
            message: worst.message.clone(),
            fix: worst.fix.clone().map(Box::new),
        });
    }

    let mut out = Report {
        kernel: release.clone(),
        built,
        waited_for_lock_ms: lock.waited.as_millis(),
        waited_for_dkms_ms: waited_for_dkms.map(|d| d.as_millis()),
        hardware: Vec::new(),
        loaded: Vec::new(),
        dev_ready_ms: None,
        verification: report.clone(),
        boot_guard: None,
    };
    if !(kernel.running && opts.load) {
        return Ok(out);
    }

    let mut wanted = report.wanted.clone();
    // What the check before systemd-modules-load kept from it this boot (dahdi_transcode,
    // say) is loaded here instead, as modules-load.d asked.
    for name in crate::modules_load::denied_names(root) {
        if !wanted.contains(&name) && report.modules.iter().any(|m| m.name == name) {
            wanted.push(name);
        }
    }
    out.hardware = report.hardware.clone();
    let known: Vec<(ModuleName, PathBuf, Vec<ModuleName>)> = report
        .modules
        .iter()
        .filter_map(|m| {
            m.info.as_ref()?;
            Some((m.name.clone(), m.path.clone()?, m.dependency_names()))
        })
        .collect();
    let names: std::collections::HashSet<ModuleName> = sys.module_names().into_iter().collect();
    let index = KernelIndex::build(root, &release, &names, &sys.depmod)?;
    let modprobe = crate::modprobe::ModprobeConfig::load(root, &release)?;
    let softdeps = |m: &ModuleName| {
        modprobe.softdep(m).map_or((Vec::new(), Vec::new()), |s| {
            (s.pre.clone(), s.post.clone())
        })
    };
    let steps = load::plan(root, &release, &index, &wanted, &known, &softdeps)?;
    notify::status(&format!("loading the DAHDI modules for kernel {release}"));
    let expect = match &report.abi {
        Some(a) => Expect::Full(a.vermagic.clone()),
        None => Expect::Release(release.to_string()),
    };
    let params = |m: &ModuleName| modprobe.options(m);
    out.loaded = load::execute(root, &steps, &expect, &params, inserter)?;
    if out.loaded.iter().any(|(n, _)| n == "dahdi") {
        let ctl = root.join("/dev/dahdi/ctl");
        notify::status("waiting for /dev/dahdi/ctl");
        let waited = load::wait_for(&ctl, Duration::from_secs(sys.config.dev_timeout_secs))?;
        out.dev_ready_ms = Some(waited.as_millis());
    }
    Ok(out)
}

/// The system as read under the lock, the kernel `ensure` is about, its verification, and
/// whether a build would cure what is wrong.
struct Judged {
    sys: System,
    release: KernelRelease,
    kernel: crate::kernel::Kernel,
    report: KernelReport,
    wants_build: bool,
}

fn judge(root: &Root, opts: &Options) -> Result<Judged, Error> {
    let sys = System::load(root.clone(), opts.running.clone())?;
    let release = match (&opts.kernel, &sys.running) {
        (Some(k), _) => k.clone(),
        (None, Some(r)) => r.clone(),
        (None, None) => {
            return Err(Error::Usage(
                "cannot tell which kernel is running; name one with -k KVER".into(),
            ))
        }
    };
    let kernel = match sys.kernel(&release) {
        Ok(k) => k,
        Err(Error::NoSuchKernel { .. })
            if sys.running.as_ref() == Some(&release)
                && sys.loaded == crate::live::Loaded::Unknown =>
        {
            return Err(Error::ModulesUnsupported {
                kernel: release.to_string(),
            });
        }
        Err(e) => return Err(e),
    };
    if kernel.modules_dir.is_none() && kernel.running && sys.loaded == crate::live::Loaded::Unknown
    {
        return Err(Error::ModulesUnsupported {
            kernel: release.to_string(),
        });
    }

    notify::status(&format!("checking DAHDI for kernel {release}"));
    let report = verify::verify_kernel(&sys, &kernel, Checks::default());
    let dkms_state = report.dkms.as_ref().map(|d| d.state);
    // Build only for problems a build cures: a kernel that verifies is left alone even if
    // its modules came from somewhere other than DKMS.
    // A broken DKMS registration cannot build anything; its finding is reported below.
    // Nor can a build settle two providers fighting over the files.
    // A build that failed with the same inputs is not tried again unless asked (its
    // findings then point at the failure instead of at a build).
    let retry = opts.force
        && report
            .findings
            .iter()
            .any(|f| f.code == crate::report::Code::BuildFailed);
    let wants_build = (retry || report.findings.iter().any(|f| f.fixed_by_build()))
        && dkms_state != Some(State::Broken)
        // And a module file someone else could have written needs a person, not a
        // rebuild over it.
        && !report.findings.iter().any(|f| {
            matches!(
                f.code,
                crate::report::Code::ProvidersConflict | crate::report::Code::Untrusted
            )
        });
    Ok(Judged {
        sys,
        release,
        kernel,
        report,
        wants_build,
    })
}

/// Waits for every dkms this loader did not start ([`crate::dkms::others`]); how long, if
/// there was one. Says once what it waits for, in the journal and in the unit's status.
fn wait_for_other_dkms(root: &Root, opts: &Options) -> Result<Option<Duration>, Error> {
    let mut seen = false;
    let waited = crate::dkms::others::wait_for_none(root, opts.lock_timeout, |running| {
        seen = true;
        let what = running
            .iter()
            .map(|r| format!("pid {}: {}", r.pid, r.command))
            .collect::<Vec<_>>()
            .join("; ");
        let waiting = format!(
            "dkms is running ({what}); waiting for it to finish before building, so that \
             two builds never run at once"
        );
        if !opts.quiet {
            log(Priority::Notice, &waiting);
        }
        notify::status(&waiting);
    })?;
    Ok(seen.then_some(waited))
}

/// Rebuilds `t` for `kernel` through the [`transaction`]: staged, proven, swapped, checked;
/// returns the kernel's verification afterwards. Nothing changes unless the new build
/// verifies and cures what the current one lacks.
fn rebuild(
    sys: &System,
    kernel: &crate::kernel::Kernel,
    dkms: &Dkms,
    paths: &transaction::Paths,
    t: &Target<'_>,
    before: KernelReport,
    quiet: bool,
) -> Result<KernelReport, Error> {
    let say = |p: Priority, m: String| {
        if !quiet {
            log(p, &m);
        }
    };
    let (staged, files) = match transaction::stage(dkms, paths, t) {
        Ok(s) => s,
        Err(e) => {
            // Remembered, with what it was built from, so that neither the next ensure
            // nor the next boot repeats it while nothing has changed.
            if let Error::Build {
                log_path: Some(log),
                ..
            } = &e
            {
                if let Err(r) = crate::failed::record(&sys.root, kernel, t.module, t.version, log) {
                    say(
                        Priority::Warning,
                        format!("could not keep the failed build's record: {r}"),
                    );
                }
            }
            return Err(e);
        }
    };
    let predicted = verify::verify_build(sys, kernel, &files);
    if let Err(f) = transaction::helps(&before, &predicted) {
        transaction::clean(paths);
        return Err(Error::BuildDidNotHelp {
            kernel: t.kernel.to_string(),
            detail: format!(
                "{}; the new build was not installed and nothing was changed",
                f.message
            ),
        });
    }
    let state = before.dkms.as_ref().map(|d| d.state);
    let had_build = matches!(state, Some(State::Built) | Some(State::Installed));
    let installing = format!(
        "the new build of {} {} verifies; installing it for {}",
        t.module, t.version, t.kernel
    );
    notify::status(&installing);
    say(Priority::Notice, installing);
    let journal = match transaction::swap(
        dkms,
        paths,
        t,
        &staged,
        had_build,
        state == Some(State::Installed),
    ) {
        Ok(j) => j,
        Err(e) => {
            if let Some(j) = transaction::pending(paths)? {
                say(
                    Priority::Warning,
                    "the swap failed; putting the previous build back".into(),
                );
                transaction::roll_back(dkms, paths, &j)?;
            }
            return Err(e);
        }
    };
    let sys = System::load(sys.root.clone(), sys.running.clone())?;
    let kernel = sys.kernel(t.kernel)?;
    let after = verify::verify_kernel(&sys, &kernel, Checks::default());
    if let Err(f) = transaction::helps(&before, &after) {
        let detail = f.message.clone();
        say(
            Priority::Warning,
            "the installed build does not verify; putting the previous build back".into(),
        );
        transaction::roll_back(dkms, paths, &journal)?;
        return Err(Error::BuildDidNotHelp {
            kernel: t.kernel.to_string(),
            detail: format!("{detail}; the previous build was put back"),
        });
    }
    transaction::commit(paths)?;
    crate::failed::forget(&sys.root, t.module, t.version, t.kernel);
    Ok(after)
}

/// Keeps how the build ended as the last build (for the metrics); a record that cannot be
/// written is said, never an error of the build's.
fn remember_build(root: &Root, t: &Target<'_>, result: &Result<KernelReport, Error>, quiet: bool) {
    use crate::last_build::{LastBuild, Outcome};
    let outcome = match result {
        Ok(_) => Outcome::Ok,
        Err(Error::BuildDidNotHelp { .. }) => Outcome::Rejected,
        Err(_) => Outcome::Failed,
    };
    let build = LastBuild {
        module: t.module.clone(),
        version: t.version.clone(),
        kernel: t.kernel.clone(),
        outcome,
        finished: crate::last_build::now(),
    };
    if let Err(e) = crate::last_build::record(root, &build) {
        if !quiet {
            log(
                Priority::Warning,
                &format!(
                    "could not keep the build's record in {}: {e}",
                    crate::last_build::LAST_BUILD
                ),
            );
        }
    }
}

/// Finishes a swap an earlier loader did not: keeps the new build if the kernel verifies
/// without anything a build would cure, else puts the previous one back.
fn recover(
    root: &Root,
    opts: &Options,
    dkms: &Dkms,
    paths: &transaction::Paths,
    j: &transaction::Journal,
) -> Result<(), Error> {
    let sys = System::load(root.clone(), opts.running.clone())?;
    let kernel = sys.kernel(&j.kernel)?;
    let r = verify::verify_kernel(&sys, &kernel, Checks::default());
    let good = !r.findings.iter().any(|f| f.fixed_by_build());
    if !opts.quiet {
        log(
            Priority::Warning,
            &format!(
                "an earlier rebuild of {} {} for {} was interrupted; {}",
                j.module,
                j.version,
                j.kernel,
                if good {
                    "its result verifies and is kept"
                } else {
                    "its result does not verify; putting the previous build back"
                }
            ),
        );
    }
    if good {
        transaction::commit(paths)
    } else {
        transaction::roll_back(dkms, paths, j)
    }
}
