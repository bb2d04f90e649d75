//! Will DAHDI load on a kernel? Every check the kernel makes at load time that can be made
//! from files: presence, vermagic, `struct module` size, dependencies, symbol CRCs,
//! signatures; plus what the kernel would not notice: stale copies shadowing the DKMS build,
//! an index (modules.dep) that does not match the files, a loaded module that is not the
//! file on disk.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::dkms::{self, State};
use crate::elf::ModuleInfo;
use crate::error::Error;
use crate::hw;
use crate::kernel::{self, Kernel, KernelAbi};
use crate::loaded::{self, Loaded};
use crate::modindex::{DepmodConfig, KernelIndex, Pick};
use crate::root::{read_optional, Root};
use crate::secure::SecureBoot;

/// How bad a finding is. The order matters: a kernel's verdict is its worst finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth knowing, nothing to do.
    Info,
    /// Modules are missing: a DKMS build (maybe after installing headers) fixes it.
    NeedsBuild,
    /// Modules exist but would not load, or the wrong copy would.
    Mismatch,
    /// Damaged files or registration: needs a person.
    Broken,
}

/// The verdict for a kernel, mapped onto exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing to check: the running kernel cannot load modules at all (a
    /// container, or a kernel built without module support). Ordered below
    /// `Ok` so that any real kernel's verdict decides; exits 0.
    NotApplicable,
    /// DAHDI will load.
    Ok,
    /// Needs a build.
    NeedsBuild,
    /// Mismatch.
    Mismatch,
    /// Broken.
    Broken,
}

impl Verdict {
    /// The word shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NotApplicable => "n/a",
            Verdict::Ok => "ok",
            Verdict::NeedsBuild => "needs-build",
            Verdict::Mismatch => "mismatch",
            Verdict::Broken => "broken",
        }
    }
}

/// One problem or remark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// The module concerned, if one.
    pub module: Option<String>,
    /// What is wrong, as a sentence.
    pub message: String,
    /// What to do, as a sentence.
    pub fix: Option<String>,
    /// A DKMS build for this kernel would fix it (what `ensure` acts on).
    pub fixed_by_build: bool,
}

/// What was found for one DAHDI module on one kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModuleReport {
    /// Module name.
    pub name: String,
    /// The file modprobe would use.
    pub path: Option<PathBuf>,
    /// That file is the DKMS build's copy.
    pub from_dkms: Option<bool>,
    /// Other copies of the module on this kernel.
    pub other_copies: Vec<PathBuf>,
    /// `vermagic=` of the file.
    pub vermagic: Option<String>,
    /// vermagic equals the kernel's (`None` when it could not be compared).
    pub vermagic_ok: Option<bool>,
    /// `version=`.
    pub version: Option<String>,
    /// `srcversion=`.
    pub srcversion: Option<String>,
    /// `depends=`.
    pub depends: Vec<String>,
    /// Number of imported symbol CRCs compared.
    pub crcs_checked: usize,
    /// Signature type (`PKCS#7`), or `None` if unsigned.
    pub signature: Option<String>,
    /// Loaded in the running kernel (only for the running kernel, when known).
    pub loaded: Option<bool>,
    /// The loaded module's srcversion equals the file's.
    pub loaded_matches_file: Option<bool>,
    /// The file could not be parsed; the reason.
    pub error: Option<String>,
    /// Parsed `.modinfo` etc., kept for callers (aliases, exports); not serialized.
    #[serde(skip)]
    pub info: Option<ModuleInfo>,
}

/// DKMS's view of this kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkmsKernelState {
    /// dahdi's DKMS version considered.
    pub version: String,
    /// Its state for this kernel.
    pub state: State,
}

/// Everything verified for one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelReport {
    /// The kernel.
    pub kernel: Kernel,
    /// What modules must carry to load on it.
    pub abi: Option<KernelAbi>,
    /// DKMS state of dahdi for it.
    pub dkms: Option<DkmsKernelState>,
    /// Per module.
    pub modules: Vec<ModuleReport>,
    /// Problems and remarks.
    pub findings: Vec<Finding>,
    /// `/dev/dahdi/ctl` exists (running kernel only).
    pub dev_dahdi: Option<bool>,
    /// The modules `ensure` would load on this machine: `dahdi`, drivers for the hardware
    /// found, configured additions, minus exclusions (dependencies not included).
    pub wanted: Vec<String>,
    /// Devices that asked for a driver.
    pub hardware: Vec<hw::Match>,
    /// The overall verdict.
    pub verdict: Verdict,
}

impl KernelReport {
    /// Number of DAHDI modules found for this kernel.
    pub fn modules_present(&self) -> usize {
        self.modules.iter().filter(|m| m.path.is_some()).count()
    }

    /// The report for one module.
    pub fn module(&self, name: &str) -> Option<&ModuleReport> {
        self.modules.iter().find(|m| m.name == name)
    }
}

/// Which checks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Compare `__versions` CRCs with Module.symvers and sibling exports.
    pub crcs: bool,
}

impl Default for Checks {
    fn default() -> Self {
        Checks { crcs: true }
    }
}

/// The state of the system that does not depend on the kernel being checked.
#[derive(Debug, Clone)]
pub struct System {
    /// Where everything is read.
    pub root: Root,
    /// The running kernel's release.
    pub running: Option<String>,
    /// dahdi in the DKMS tree.
    pub dkms: Option<dkms::Module>,
    /// depmod.d.
    pub depmod: DepmodConfig,
    /// /etc/dahdi-loader.
    pub config: Config,
    /// /proc/modules.
    pub loaded: Loaded,
    /// Signature enforcement.
    pub secure: SecureBoot,
    /// PCI and USB devices with a modalias.
    pub devices: Vec<hw::Device>,
}

/// The DKMS package whose modules the loader manages.
pub const PACKAGE: &str = "dahdi";

impl System {
    /// Reads the system under `root`. `running` overrides `uname -r` (tests, VM harness).
    pub fn load(root: Root, running: Option<String>) -> Result<Self, Error> {
        let running = running.or_else(kernel::running_release);
        if let Some(r) = &running {
            crate::validate::kernel_release(r)?;
        }
        Ok(System {
            dkms: dkms::read_module(&root, PACKAGE)?,
            depmod: DepmodConfig::load(&root)?,
            config: Config::load(&root)?,
            loaded: Loaded::read(&root)?,
            secure: SecureBoot::read(&root)?,
            devices: hw::scan(&root)?,
            running,
            root,
        })
    }

    /// Every installed kernel (plus the running one).
    pub fn kernels(&self) -> Result<Vec<Kernel>, Error> {
        kernel::installed(&self.root, self.running.as_deref())
    }

    /// One kernel, which must exist under the root.
    pub fn kernel(&self, release: &str) -> Result<Kernel, Error> {
        crate::validate::kernel_release(release)?;
        let k = kernel::describe(
            &self.root,
            release,
            self.running.as_deref() == Some(release),
        );
        if k.modules_dir.is_none() && k.image.is_none() {
            return Err(Error::NoSuchKernel {
                kernel: release.to_string(),
                modules_dir: self.root.join(format!("/lib/modules/{release}")),
            });
        }
        Ok(k)
    }

    /// The DAHDI module names to check: what DKMS builds, or just `dahdi` without DKMS;
    /// plus configured additions.
    pub fn module_names(&self) -> Vec<String> {
        let mut names = self
            .dkms
            .as_ref()
            .map(|m| m.module_names())
            .unwrap_or_default();
        if names.is_empty() {
            names.push("dahdi".into());
        }
        names.extend(self.config.add.iter().cloned());
        names.sort();
        names.dedup();
        names
    }
}

/// The fix sentence for "build DAHDI for this kernel".
pub fn build_fix(kernel: &Kernel) -> String {
    let k = &kernel.release;
    if kernel.headers.is_some() {
        format!("run dahdi-loader ensure -k {k}")
    } else {
        format!("install linux-headers-{k}, then run dahdi-loader ensure -k {k}")
    }
}

/// Verifies one kernel.
pub fn verify_kernel(sys: &System, kernel: &Kernel, checks: Checks) -> KernelReport {
    let mut findings = Vec::new();
    let mut report = KernelReport {
        kernel: kernel.clone(),
        abi: None,
        dkms: None,
        modules: Vec::new(),
        findings: Vec::new(),
        dev_dahdi: kernel
            .running
            .then(|| sys.root.join("/dev/dahdi/ctl").exists()),
        wanted: Vec::new(),
        hardware: Vec::new(),
        verdict: Verdict::Ok,
    };
    let k = kernel.release.as_str();
    let rebuild = build_fix(kernel);
    let mut add = |severity, module: Option<&str>, message: String, fix: Option<String>| {
        // Every finding a build cures carries the build command as its fix, so the two
        // cannot drift apart.
        let fixed_by_build = fix.as_deref() == Some(rebuild.as_str());
        findings.push(Finding {
            severity,
            module: module.map(String::from),
            message,
            fix,
            fixed_by_build,
        })
    };

    if kernel.is_leftover() {
        add(
            Severity::Info,
            None,
            format!("/lib/modules/{k} has no kernel image and no in-tree modules: it is left over from a removed kernel and is ignored"),
            Some(format!("remove /lib/modules/{k} if nothing in it is needed")),
        );
        return finish(report, findings);
    }

    if kernel.modules_dir.is_none() {
        if kernel.running && sys.loaded == Loaded::Unknown {
            add(
                Severity::Info,
                None,
                format!("the running kernel {k} has no /lib/modules/{k} and no /proc/modules: it cannot load modules (a container, or a kernel built without module support), so there is nothing to load here"),
                None,
            );
            let mut report = finish(report, findings);
            report.verdict = Verdict::NotApplicable;
            return report;
        } else {
            add(
                Severity::Broken,
                None,
                format!("kernel {k} has no module directory /lib/modules/{k}"),
                Some(format!(
                    "reinstall the kernel package: apt-get install --reinstall linux-image-{k}"
                )),
            );
        }
        return finish(report, findings);
    }

    // DKMS registration.
    match &sys.dkms {
        None => add(
            Severity::Info,
            None,
            "dahdi is not registered with DKMS; modules are checked but cannot be rebuilt".into(),
            Some("apt-get install dahdi-dkms".into()),
        ),
        Some(m) => match m.state_for(k) {
            None => add(
                Severity::Broken,
                None,
                format!(
                    "the DKMS tree {} has no usable version of dahdi",
                    m.dir.display()
                ),
                Some("reinstall the DKMS package: apt-get install --reinstall dahdi-dkms".into()),
            ),
            Some((state, v)) => {
                report.dkms = Some(DkmsKernelState {
                    version: v.version.clone(),
                    state,
                });
                if state == State::Broken {
                    add(
                        Severity::Broken,
                        None,
                        format!(
                            "DKMS's registration of dahdi {} is broken: its source link {} does not lead to a directory",
                            v.version,
                            v.source.as_deref().map_or("(missing)".into(), |p| p.display().to_string())
                        ),
                        Some("reinstall the DKMS package: apt-get install --reinstall dahdi-dkms".into()),
                    );
                }
                if let Some(log) = &v.failed_build_log {
                    add(
                        Severity::Info,
                        None,
                        format!(
                            "a failed or unfinished DKMS build of dahdi {} left {}",
                            v.version,
                            log.display()
                        ),
                        None,
                    );
                }
            }
        },
    }

    let abi = kernel::expected_abi(&sys.root, k);
    if abi.is_none() {
        add(
            Severity::Info,
            None,
            format!("kernel {k} has no in-tree module, headers or /boot/config-{k} to read its vermagic from; only the release part of each module's vermagic is compared"),
            Some(format!("install linux-headers-{k} for a full check")),
        );
    }
    report.abi = abi.clone();

    let names: Vec<String> = sys.module_names();
    let name_set: HashSet<String> = names.iter().cloned().collect();
    let index = match KernelIndex::build(&sys.root, k, &name_set, &sys.depmod) {
        Ok(i) => i,
        Err(e) => {
            add(Severity::Broken, None, e.to_string(), e.fix());
            return finish(report, findings);
        }
    };

    let dkms_build: Option<&dkms::Build> = sys.dkms.as_ref().and_then(|m| {
        m.versions
            .iter()
            .flat_map(|v| v.builds.iter())
            .filter(|b| b.kernel == k)
            .max_by_key(|b| b.state)
    });

    let mut missing = Vec::new();
    let mut missing_deps: Vec<(String, String)> = Vec::new();
    for name in &names {
        let pick = &index.picks[name];
        let mut mr = ModuleReport {
            name: name.clone(),
            other_copies: pick.others.iter().map(|c| c.path.clone()).collect(),
            ..Default::default()
        };
        let Some(chosen) = &pick.chosen else {
            // Configured extra modules may live in the kernel's own tree, which is not
            // walked; modules.dep knowing them is enough.
            if !(sys.config.add.contains(name) && index.known.contains(name)) {
                missing.push(name.clone());
            }
            report.modules.push(mr);
            continue;
        };
        mr.path = Some(chosen.path.clone());
        let data = match std::fs::read(&chosen.path) {
            Ok(d) => d,
            Err(e) => {
                let e = Error::io("read", &chosen.path, e);
                mr.error = Some(e.to_string());
                add(Severity::Broken, Some(name), e.to_string(), e.fix());
                report.modules.push(mr);
                continue;
            }
        };
        mr.from_dkms = dkms_build.map(|b| is_dkms_copy(&data, name, b));
        check_shadowing(
            &mut add,
            kernel,
            pick,
            &mr,
            dkms_build.is_some(),
            index.has_modules_dep,
        );

        let info = match ModuleInfo::parse(&data) {
            Ok(i) => i,
            Err(e) => {
                mr.error = Some(e.to_string());
                add(
                    Severity::Broken,
                    Some(name),
                    format!(
                        "{} is not a usable kernel module: {e}",
                        chosen.path.display()
                    ),
                    Some(build_fix(kernel)),
                );
                report.modules.push(mr);
                continue;
            }
        };
        mr.vermagic = info.vermagic().map(String::from);
        mr.version = info.get("version").map(String::from);
        mr.srcversion = info.srcversion().map(String::from);
        mr.depends = info.depends();
        mr.signature = info
            .signature
            .as_ref()
            .map(|s| s.id_type_name().to_string());
        check_vermagic(&mut add, kernel, abi.as_ref(), &info, &mut mr);

        for dep in &mr.depends {
            let dep = crate::validate::normalize_module_name(dep);
            let have = index.picks.get(&dep).is_some_and(|p| p.chosen.is_some())
                || index.known.contains(&dep);
            if !have {
                missing_deps.push((name.clone(), dep));
            }
        }

        if kernel.running {
            mr.loaded = sys.loaded.is_loaded(name);
            if mr.loaded == Some(true) {
                if let (Ok(Some(live)), Some(file)) =
                    (loaded::srcversion(&sys.root, name), &mr.srcversion)
                {
                    let same = &live == file;
                    mr.loaded_matches_file = Some(same);
                    if !same {
                        add(
                            Severity::Mismatch,
                            Some(name),
                            format!("the loaded {name} is not the file on disk (srcversion {live} loaded, {file} on disk): it was rebuilt or replaced after it was loaded"),
                            Some("reload it (rmmod the DAHDI modules, then dahdi-loader ensure) or reboot".into()),
                        );
                    }
                }
            }
        }
        mr.info = Some(info);
        report.modules.push(mr);
    }

    if !missing.is_empty() {
        let n = missing.len();
        let list = summarize(&missing);
        add(
            Severity::NeedsBuild,
            None,
            format!(
                "{n} of {} DAHDI modules are missing for kernel {k}: {list}",
                names.len()
            ),
            Some(build_fix(kernel)),
        );
    }

    (report.wanted, report.hardware) = wanted_modules(sys, &report.modules);
    let needed = dependency_closure(&report.wanted, &report.modules);
    for (name, dep) in &missing_deps {
        if needed.contains(name) {
            add(
                Severity::Broken,
                Some(name),
                format!("{name} depends on {dep}, which kernel {k} does not have"),
                Some(format!("check that linux-image-{k} is complete (run depmod {k}); if the kernel was built without {dep}, {name} cannot be used with it")),
            );
        } else {
            // A kernel built without a feature (Debian's has no CONFIG_ECHO for oslec)
            // only matters if the module is wanted; otherwise it must not fail the kernel.
            add(
                Severity::Info,
                Some(name),
                format!("{name} cannot load on kernel {k}: it needs {dep}, which that kernel does not have; it is not needed on this machine (no matching hardware, not added in /etc/dahdi-loader)"),
                None,
            );
        }
    }
    let skip_symbols: HashSet<&str> = missing_deps.iter().map(|(m, _)| m.as_str()).collect();

    if checks.crcs && check_crcs(&mut add, kernel, &report.modules, &skip_symbols) {
        for m in &mut report.modules {
            m.crcs_checked = m.info.as_ref().map_or(0, |i| i.versions.len());
        }
    }
    check_signatures(&mut add, sys, kernel, &report.modules);
    finish(report, findings)
}

/// The modules to load on this machine: `dahdi`, drivers whose aliases match the hardware
/// (and configured aliases), configured additions; minus exclusions.
pub fn wanted_modules(sys: &System, modules: &[ModuleReport]) -> (Vec<String>, Vec<hw::Match>) {
    let mut aliases: Vec<(String, String)> = Vec::new();
    for m in modules {
        if let Some(info) = &m.info {
            aliases.extend(info.aliases().into_iter().map(|a| (a, m.name.clone())));
        }
    }
    aliases.extend(sys.config.aliases.iter().cloned());
    let matches = hw::match_devices(&sys.devices, &aliases);
    let mut wanted = vec!["dahdi".to_string()];
    wanted.extend(matches.iter().map(|m| m.module.clone()));
    wanted.extend(sys.config.add.iter().cloned());
    let mut seen = HashSet::new();
    wanted.retain(|w| seen.insert(w.clone()) && !sys.config.exclude.contains(w));
    (wanted, matches)
}

/// `wanted` plus everything they depend on, through `depends=` of the parsed modules.
fn dependency_closure(wanted: &[String], modules: &[ModuleReport]) -> HashSet<String> {
    let mut out: HashSet<String> = HashSet::new();
    let mut stack: Vec<String> = wanted.to_vec();
    while let Some(n) = stack.pop() {
        if !out.insert(n.clone()) {
            continue;
        }
        if let Some(m) = modules.iter().find(|m| m.name == n) {
            stack.extend(
                m.depends
                    .iter()
                    .map(|d| crate::validate::normalize_module_name(d)),
            );
        }
    }
    out
}

fn finish(mut report: KernelReport, findings: Vec<Finding>) -> KernelReport {
    report.verdict = findings
        .iter()
        .map(|f| match f.severity {
            Severity::Info => Verdict::Ok,
            Severity::NeedsBuild => Verdict::NeedsBuild,
            Severity::Mismatch => Verdict::Mismatch,
            Severity::Broken => Verdict::Broken,
        })
        .max()
        .unwrap_or(Verdict::Ok);
    report.findings = findings;
    report
}

fn summarize(names: &[String]) -> String {
    if names.len() <= 6 {
        names.join(", ")
    } else {
        format!("{}, and {} more", names[..5].join(", "), names.len() - 5)
    }
}

/// The module file equals the copy in the DKMS build of this kernel. Sizes are compared
/// first so that only same-sized files are read. The whole content is compared: a copy
/// edited by hand keeps its old signature, so comparing signatures alone is not enough.
fn is_dkms_copy(data: &[u8], name: &str, build: &dkms::Build) -> bool {
    let Some(tree) = build
        .modules
        .iter()
        .find(|p| dkms::module_stem(p).as_deref() == Some(name))
    else {
        return false;
    };
    match std::fs::metadata(tree) {
        Ok(m) if m.len() == data.len() as u64 => std::fs::read(tree).is_ok_and(|t| t == data),
        _ => false,
    }
}

type Add<'a> = dyn FnMut(Severity, Option<&str>, String, Option<String>) + 'a;

fn check_shadowing(
    add: &mut Add<'_>,
    kernel: &Kernel,
    pick: &Pick,
    mr: &ModuleReport,
    has_dkms_build: bool,
    has_modules_dep: bool,
) {
    let k = &kernel.release;
    let name = pick.name.as_str();
    let Some(chosen) = &pick.chosen else { return };
    if has_dkms_build && mr.from_dkms == Some(false) {
        let dkms_copy = pick
            .others
            .iter()
            .find(|c| c.relpath.starts_with("updates/dkms/"));
        add(
            Severity::Mismatch,
            Some(name),
            match dkms_copy {
                Some(d) => format!(
                    "modprobe would load {} on kernel {k}, a copy that is not the DKMS build ({}); it shadows it",
                    chosen.relpath, d.relpath
                ),
                None => format!(
                    "modprobe would load {} on kernel {k}, which differs from the DKMS build of {name}",
                    chosen.relpath
                ),
            },
            Some(format!(
                "remove /lib/modules/{k}/{} (left by an old dahdi-linux-modules package or a manual make install), then run depmod {k}",
                chosen.relpath
            )),
        );
    }
    if pick.tie {
        let other = &pick.others[0];
        add(
            Severity::Mismatch,
            Some(name),
            format!(
                "{name} exists twice with the same depmod priority on kernel {k} ({} and {}): which one modprobe uses depends on directory order",
                chosen.relpath, other.relpath
            ),
            Some(format!("remove the stale copy, then run depmod {k}")),
        );
    } else if !pick.others.is_empty() && mr.from_dkms != Some(false) {
        add(
            Severity::Info,
            Some(name),
            format!(
                "{name} also exists at {} on kernel {k}, but {} takes precedence",
                pick.others
                    .iter()
                    .map(|c| c.relpath.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                chosen.relpath
            ),
            Some("remove the unused copies to avoid confusion".into()),
        );
    }
    if has_modules_dep {
        match &pick.indexed {
            None => add(
                Severity::Mismatch,
                Some(name),
                format!("{} is not in modules.dep of kernel {k}, so modprobe cannot find it", chosen.relpath),
                Some(format!("run depmod {k}")),
            ),
            Some(i) if i != &chosen.relpath && !pick.tie => add(
                Severity::Mismatch,
                Some(name),
                format!("modules.dep of kernel {k} points {name} at {i}, but the files say {} should win", chosen.relpath),
                Some(format!("run depmod {k}")),
            ),
            _ => {}
        }
    }
}

fn check_vermagic(
    add: &mut Add<'_>,
    kernel: &Kernel,
    abi: Option<&KernelAbi>,
    info: &ModuleInfo,
    mr: &mut ModuleReport,
) {
    let k = &kernel.release;
    let name = mr.name.clone();
    let Some(found) = info.vermagic() else {
        mr.vermagic_ok = Some(false);
        add(
            Severity::Mismatch,
            Some(&name),
            format!("{name} has no vermagic; the kernel refuses such modules"),
            Some(build_fix(kernel)),
        );
        return;
    };
    let ok = match abi {
        Some(a) => found == a.vermagic,
        None => found.split(' ').next() == Some(k.as_str()),
    };
    mr.vermagic_ok = Some(ok);
    if !ok {
        let expected = abi.map_or(format!("{k} ..."), |a| a.vermagic.clone());
        add(
            Severity::Mismatch,
            Some(&name),
            format!("{name} was built for {found:?} but kernel {k} expects {expected:?}: the kernel would refuse it (Exec format error)"),
            Some(build_fix(kernel)),
        );
        return;
    }
    if let Some(a) = abi {
        if let (Some(want), Some(have)) = (a.this_module_size, info.this_module_size) {
            if want != have {
                add(
                    Severity::Mismatch,
                    Some(&name),
                    format!("{name} was built with a struct module of {have} bytes but kernel {k} has {want}: built against other headers"),
                    Some(build_fix(kernel)),
                );
            }
        }
        if let Some(m) = a.machine {
            if m != info.machine {
                add(
                    Severity::Mismatch,
                    Some(&name),
                    format!(
                        "{name} is for ELF machine {} but kernel {k} is for {m}",
                        info.machine
                    ),
                    Some(build_fix(kernel)),
                );
            }
        }
    }
}

/// Reads the CRCs of `needed` symbols from Module.symvers
/// (`0xCRC<TAB>symbol<TAB>module<TAB>export type[<TAB>namespace]`).
///
/// The file has ~25,000 lines of which a few hundred matter, and `status` reads it for
/// every kernel, so lines are split with memchr and looked up with a cheap FNV hash.
pub fn parse_symvers(text: &[u8], needed: &HashSet<&str>) -> HashMap<String, u32> {
    let wanted: HashSet<&[u8], Fnv> = needed.iter().map(|s| s.as_bytes()).collect();
    let mut out = HashMap::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len())) {
        let line = &text[start..end];
        start = end + 1;
        let Some(t1) = memchr::memchr(b'\t', line) else {
            continue;
        };
        let rest = &line[t1 + 1..];
        let sym = &rest[..memchr::memchr(b'\t', rest).unwrap_or(rest.len())];
        if !wanted.contains(sym) {
            continue;
        }
        let crc = &line[..t1];
        let crc = crc
            .strip_prefix(b"0x")
            .or_else(|| crc.strip_prefix(b"0X"))
            .unwrap_or(crc);
        let parsed = std::str::from_utf8(crc)
            .ok()
            .and_then(|c| u64::from_str_radix(c, 16).ok());
        if let (Some(v), Ok(name)) = (parsed, std::str::from_utf8(sym)) {
            out.insert(name.to_string(), v as u32);
        }
    }
    out
}

/// FNV-1a: symbol names are short and come from a root-owned file, so a fast unkeyed
/// hash is enough.
type Fnv = std::hash::BuildHasherDefault<FnvHasher>;

#[derive(Debug)]
struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> Self {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Returns whether CRCs could be compared (Module.symvers was found).
fn check_crcs(
    add: &mut Add<'_>,
    kernel: &Kernel,
    modules: &[ModuleReport],
    missing_dep: &HashSet<&str>,
) -> bool {
    let k = &kernel.release;
    let infos: Vec<(&str, &ModuleInfo)> = modules
        .iter()
        .filter_map(|m| m.info.as_ref().map(|i| (m.name.as_str(), i)))
        .filter(|(_, i)| i.vermagic().is_some())
        .collect();
    if infos.iter().all(|(_, i)| i.versions.is_empty()) {
        return false;
    }
    let symvers_path = kernel.headers.as_ref().map(|h| h.join("Module.symvers"));
    let symvers_text = symvers_path.as_deref().and_then(|p| std::fs::read(p).ok());
    let Some(text) = symvers_text else {
        add(
            Severity::Info,
            None,
            format!("symbol CRCs were not checked: kernel {k} has no Module.symvers"),
            Some(format!("install linux-headers-{k} for a full check")),
        );
        return false;
    };
    // Exports of the sibling DAHDI modules, which Module.symvers of the kernel cannot know.
    let mut siblings: BTreeMap<&str, (Option<u32>, &str)> = BTreeMap::new();
    for (name, info) in &infos {
        for e in &info.exports {
            siblings.insert(e.name.as_str(), (e.crc, name));
        }
    }
    let needed: HashSet<&str> = infos
        .iter()
        .flat_map(|(_, i)| i.versions.iter().map(|v| v.name.as_str()))
        .collect();
    let symvers = parse_symvers(&text, &needed);
    for (name, info) in &infos {
        let mut bad = Vec::new();
        let mut unknown = Vec::new();
        for v in &info.versions {
            let expected = match siblings.get(v.name.as_str()) {
                Some((crc, _)) => *crc,
                None => symvers.get(&v.name).copied(),
            };
            let known = siblings.contains_key(v.name.as_str()) || symvers.contains_key(&v.name);
            match expected {
                Some(c) if c != v.crc => bad.push(v.name.clone()),
                None if !known => unknown.push(v.name.clone()),
                _ => {}
            }
        }
        if !bad.is_empty() {
            add(
                Severity::Mismatch,
                Some(name),
                format!(
                    "{name} disagrees with kernel {k} about the version of {} symbol(s): {}; the kernel would refuse it (Invalid argument)",
                    bad.len(),
                    summarize(&bad)
                ),
                Some(build_fix(kernel)),
            );
        }
        // Symbols of a missing dependency are already explained by that finding.
        if !unknown.is_empty() && !missing_dep.contains(name) {
            add(
                Severity::Mismatch,
                Some(name),
                format!(
                    "{name} needs {} symbol(s) that neither kernel {k} nor the other DAHDI modules export: {}",
                    unknown.len(),
                    summarize(&unknown)
                ),
                Some(build_fix(kernel)),
            );
        }
    }
    true
}

fn check_signatures(add: &mut Add<'_>, sys: &System, kernel: &Kernel, modules: &[ModuleReport]) {
    let k = &kernel.release;
    let config = kernel
        .headers
        .as_ref()
        .and_then(|h| read_optional(&h.join(".config")).ok().flatten())
        .or_else(|| {
            read_optional(&sys.root.join(format!("/boot/config-{k}")))
                .ok()
                .flatten()
        });
    let enforced = if kernel.running {
        sys.secure.running_enforces()
    } else {
        sys.secure.kernel_enforces(config.as_deref())
    };
    let present: Vec<&ModuleReport> = modules.iter().filter(|m| m.info.is_some()).collect();
    let unsigned: Vec<String> = present
        .iter()
        .filter(|m| m.signature.is_none())
        .map(|m| m.name.clone())
        .collect();
    if present.is_empty() {
        return;
    }
    if enforced {
        if !unsigned.is_empty() {
            add(
                Severity::Broken,
                None,
                format!("kernel {k} enforces module signatures (Secure Boot or sig_enforce) but {} DAHDI module(s) are unsigned: {}; they would be rejected (Key was rejected by service); DKMS signs what it builds with /var/lib/dkms/mok.key", unsigned.len(), summarize(&unsigned)),
                Some(build_fix(kernel)),
            );
        }
        let signed = present.len() - unsigned.len();
        if kernel.running && signed > 0 && sys.secure.dkms_key_in_kernel == Some(false) {
            // The running kernel's own keyrings are the truth; the MOK list only says what
            // the next boot through shim may add.
            add(
                Severity::Mismatch,
                None,
                format!("kernel {k} enforces module signatures and its keyrings (/proc/keys) do not hold the DKMS signing key ({}) that signs DAHDI: it would reject {signed} signed DAHDI module(s) (Key was rejected by service)", crate::secure::DKMS_MOK_CERT),
                Some("run mokutil --import /var/lib/dkms/mok.pub, then reboot and enrol the key in MokManager".into()),
            );
        } else if sys.secure.dkms_key_enrolled == Some(false) {
            add(
                Severity::Mismatch,
                None,
                format!("kernel {k} enforces module signatures but the DKMS signing key is not enrolled: DAHDI would be rejected (Key was rejected by service)"),
                Some("run mokutil --import /var/lib/dkms/mok.pub, then reboot and enrol the key in MokManager".into()),
            );
        }
    } else {
        let signed = present.len() - unsigned.len();
        add(
            Severity::Info,
            None,
            format!("{signed} of {} DAHDI modules are signed; kernel {k} does not enforce signatures here", present.len()),
            None,
        );
    }
}

/// Path of the module file for `name`, if present, from a report.
pub fn module_path<'a>(report: &'a KernelReport, name: &str) -> Option<&'a Path> {
    report.module(name).and_then(|m| m.path.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symvers_lines() {
        let needed: HashSet<&str> = ["printk", "kfree"].into_iter().collect();
        let m = parse_symvers(
            b"0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n0xdeadbeef\tother\tvmlinux\tEXPORT_SYMBOL\t\nbad line\n0xzz\tkfree\tvmlinux\tEXPORT_SYMBOL",
            &needed,
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m["printk"], 0x12345678);
    }

    #[test]
    fn verdict_is_worst_finding() {
        let k = Kernel {
            release: "x".into(),
            running: false,
            modules_dir: None,
            image: None,
            headers: None,
        };
        let base = KernelReport {
            kernel: k,
            abi: None,
            dkms: None,
            modules: vec![],
            findings: vec![],
            dev_dahdi: None,
            wanted: vec![],
            hardware: vec![],
            verdict: Verdict::Ok,
        };
        let f = |s| Finding {
            severity: s,
            module: None,
            message: String::new(),
            fix: None,
            fixed_by_build: false,
        };
        assert_eq!(finish(base.clone(), vec![]).verdict, Verdict::Ok);
        assert_eq!(
            finish(base.clone(), vec![f(Severity::Info)]).verdict,
            Verdict::Ok
        );
        assert_eq!(
            finish(
                base.clone(),
                vec![f(Severity::Mismatch), f(Severity::NeedsBuild)]
            )
            .verdict,
            Verdict::Mismatch
        );
        assert_eq!(
            finish(base, vec![f(Severity::Broken), f(Severity::Info)]).verdict,
            Verdict::Broken
        );
    }
}
