//! Will DAHDI load on a kernel? Every check the kernel makes at load time that can be made
//! from files: presence, vermagic, `struct module` size, dependencies, symbol CRCs,
//! signatures; plus what the kernel would not notice: stale copies shadowing the DKMS build,
//! an index (modules.dep) that does not match the files, a loaded module that is not the
//! file on disk.
//!
//! [`verify_kernel`] gathers the facts (the DKMS state, the index, each module file) and
//! hands them to one check per concern, each in its own file; findings that repeat across
//! modules are grouped into one.

mod dependencies;
mod files;
mod registration;
mod shadowing;
mod signatures;
mod symbols;
mod vermagic;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use dependencies::wanted_modules;
pub use symbols::parse_symvers;

use crate::dkms::State;
use crate::hw;
use crate::kernel::{self, Kernel, KernelAbi};
use crate::live::Loaded;
use crate::modindex::KernelIndex;
use crate::module_file::{Compression, ModuleInfo};
use crate::names::{ModuleName, Version};
use crate::report::{Code, Finding, Fix, Severity, Verdict};
use crate::system::System;

/// What was found for one DAHDI module on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleReport {
    /// Module name.
    pub name: ModuleName,
    /// The file modprobe would use.
    pub path: Option<PathBuf>,
    /// How that file is compressed, if it is.
    pub compression: Option<Compression>,
    /// That file is the copy of the DKMS build the loader manages for this kernel.
    pub from_dkms: Option<bool>,
    /// Who put that file there.
    pub owner: Option<crate::providers::Owner>,
    /// Other copies of the module on this kernel, with who put them there.
    pub other_copies: Vec<OtherCopy>,
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
    /// The appended signature as `modinfo` describes it (signer, key id, hash), and
    /// what checking it found; `None` if the module is unsigned.
    pub signature: Option<SignatureReport>,
    /// Loaded in the running kernel (only for the running kernel, when known).
    pub loaded: Option<bool>,
    /// The loaded module's srcversion equals the file's.
    pub loaded_matches_file: Option<bool>,
    /// The file could not be used; the reason.
    pub error: Option<String>,
    /// Parsed `.modinfo` etc., kept for callers (aliases, exports); not serialized.
    #[serde(skip)]
    pub info: Option<ModuleInfo>,
}

impl ModuleReport {
    fn new(name: ModuleName) -> Self {
        ModuleReport {
            name,
            path: None,
            compression: None,
            from_dkms: None,
            owner: None,
            other_copies: Vec::new(),
            vermagic: None,
            vermagic_ok: None,
            version: None,
            srcversion: None,
            depends: Vec::new(),
            crcs_checked: 0,
            signature: None,
            loaded: None,
            loaded_matches_file: None,
            error: None,
            info: None,
        }
    }

    /// `depends=` as module names (entries that are not valid names are dropped).
    pub fn dependency_names(&self) -> Vec<ModuleName> {
        self.depends
            .iter()
            .filter_map(|d| ModuleName::new(d).ok())
            .collect()
    }
}

/// A module's signature, read and checked as the kernel does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    /// What `modinfo` prints (`sig_id`, `signer`, `sig_key`, `sig_hashalgo`); `None`
    /// where the signature could not be parsed.
    pub modinfo: Option<crate::module_file::signature::ModinfoSignature>,
    /// What checking it against the keys this kernel trusts found.
    pub check: SignatureCheck,
}

/// What checking a signature found, before the kernel's enforcement settings decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum SignatureCheck {
    /// It verifies with a key the kernel trusts.
    Trusted,
    /// No key the kernel trusts signed it (the kernel's ENOKEY).
    UnknownSigner,
    /// A trusted key's signature does not verify: refused whatever the settings.
    BadSignature {
        /// Why.
        reason: String,
    },
    /// Malformed, or of a kind the kernel refuses before any key is consulted.
    Refused {
        /// What the kernel says.
        reason: String,
        /// The error number it returns.
        #[serde(serialize_with = "crate::report::serialize_errno")]
        errno: nix::errno::Errno,
    },
    /// Crypto the loader cannot check; the kernel may or may not accept it.
    CannotCheck {
        /// Why.
        reason: String,
    },
}

impl SignatureCheck {
    /// The kernel's result of checking, as an errno (`None` when it verifies or cannot
    /// be told).
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        use nix::errno::Errno;
        match self {
            SignatureCheck::Trusted | SignatureCheck::CannotCheck { .. } => None,
            SignatureCheck::UnknownSigner => Some(Errno::ENOKEY),
            SignatureCheck::BadSignature { .. } => Some(Errno::EKEYREJECTED),
            SignatureCheck::Refused { errno, .. } => Some(*errno),
        }
    }
}

/// The parameters a module is loaded with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleOptions {
    /// The module.
    pub module: ModuleName,
    /// The parameter string, as `finit_module` gets it.
    pub params: String,
}

/// A copy of a module that modprobe would not pick (or that ties with the one it picks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherCopy {
    /// The file.
    pub path: PathBuf,
    /// Who put it there.
    pub owner: Option<crate::providers::Owner>,
}

/// DKMS's view of this kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkmsKernelState {
    /// The DKMS module the loader builds with for this kernel.
    pub module: crate::names::PackageName,
    /// Its version considered.
    pub version: Version,
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
    pub wanted: Vec<ModuleName>,
    /// Devices that asked for a driver.
    pub hardware: Vec<hw::Match>,
    /// The parameters each wanted module gets (modprobe.d `options`, then the kernel
    /// command line's `MODULE.param=`), where there are any.
    pub options: Vec<ModuleOptions>,
    /// A build for this kernel that failed, with unchanged inputs.
    pub failed_build: Option<crate::failed::FailedBuild>,
    /// The overall verdict.
    pub verdict: Verdict,
}

impl KernelReport {
    fn new(sys: &System, kernel: &Kernel) -> Self {
        KernelReport {
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
            options: Vec::new(),
            failed_build: None,
            verdict: Verdict::Ok,
        }
    }

    /// Number of DAHDI modules found for this kernel.
    pub fn modules_present(&self) -> usize {
        self.modules.iter().filter(|m| m.path.is_some()).count()
    }

    /// The report for one module.
    pub fn module(&self, name: &str) -> Option<&ModuleReport> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// The file of one module, if present.
    pub fn module_path(&self, name: &str) -> Option<&Path> {
        self.module(name).and_then(|m| m.path.as_deref())
    }

    fn finish(mut self, findings: Vec<Finding>) -> Self {
        self.verdict = Verdict::of(&findings);
        self.findings = findings;
        self
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

/// The fix for "build DAHDI for this kernel": with the loader, after installing the
/// headers if they are missing.
pub fn build_fix(kernel: &Kernel) -> Fix {
    let k = kernel.release.clone();
    if kernel.headers.is_some() {
        Fix::Ensure { kernel: k }
    } else {
        Fix::InstallHeadersThenEnsure { kernel: k }
    }
}

/// The DKMS module `ensure` would build DAHDI from for `kernel` on this system, or why it
/// cannot build here, with the fix: no DKMS module provides DAHDI, or the kernel's
/// headers are not installed. What the boot unit can do by itself, and so what the
/// check before systemd-modules-load may promise.
pub fn buildable<'a>(
    sys: &'a System,
    kernel: &Kernel,
) -> Result<&'a crate::dkms::Module, (String, Fix)> {
    let release = &kernel.release;
    let Some(module) = sys.dkms_for(release) else {
        return Err((
            "no DKMS module provides DAHDI".into(),
            Fix::manual(format!(
                "install dahdi-dkms (apt-get install dahdi-dkms), then run dahdi-loader \
                 ensure -k {release}"
            )),
        ));
    };
    if kernel.headers.is_none() {
        return Err((
            format!("the headers of kernel {release} are not installed"),
            build_fix(kernel),
        ));
    }
    Ok(module)
}

/// A kernel without /lib/modules/RELEASE: what can and cannot be checked, and a fix that
/// names a package only when dpkg says the kernel came from one.
fn no_module_dir(sys: &System, kernel: &Kernel) -> Finding {
    use crate::system::KernelPackage;
    let k = &kernel.release;
    let package = sys.kernel_package(k);
    if let KernelPackage::Debian(p) = package {
        return Finding::new(
            Code::NoModuleDir,
            Severity::Broken,
            format!("kernel {k} has no module directory /lib/modules/{k}, though {p} is installed"),
        )
        .fix(Fix::ReinstallPackage { package: p });
    }
    let origin = match package {
        KernelPackage::None => {
            format!("is not from a Debian package (dpkg has no linux-image-{k})")
        }
        _ => "is not known to dpkg (there is no dpkg database here)".to_string(),
    };
    let cannot = "the loader cannot check DAHDI's module files, vermagic, dependencies, symbol CRCs or signatures for it, and DKMS cannot build DAHDI for it";
    let fix = Fix::manual(format!(
        "install this kernel's modules and build tree where DKMS finds them (make modules_install puts them in /lib/modules/{k}, with /lib/modules/{k}/build pointing at the kernel's build tree), then run dahdi-loader ensure; or boot a Debian kernel (apt-get install linux-image-amd64, or your architecture's flavour)"
    ));
    if kernel.running {
        let dahdi = sys.loaded.is_loaded("dahdi") == Some(true);
        Finding::new(
            Code::NoModuleDir,
            if dahdi {
                Severity::Info
            } else {
                Severity::NeedsBuild
            },
            format!(
                "the running kernel {k} {origin} and has no /lib/modules/{k}: {cannot}; it can only see what is loaded: {}",
                if dahdi {
                    "dahdi is loaded (from elsewhere), so DAHDI is up on this boot"
                } else {
                    "dahdi is not loaded, so DAHDI is not up"
                }
            ),
        )
        .fix(fix)
    } else {
        Finding::new(
            Code::NoModuleDir,
            Severity::Broken,
            format!(
                "kernel {k} {origin} and has no /lib/modules/{k}: {cannot}; DAHDI will not load after booting it"
            ),
        )
        .fix(fix)
    }
}

/// Verifies one kernel.
pub fn verify_kernel(sys: &System, kernel: &Kernel, checks: Checks) -> KernelReport {
    let mut report = KernelReport::new(sys, kernel);
    let mut findings = Vec::new();
    let k = &kernel.release;

    if kernel.is_leftover() {
        findings.push(
            Finding::new(
                Code::LeftoverKernel,
                Severity::Info,
                format!("/lib/modules/{k} has no kernel image and no in-tree modules: it is left over from a removed kernel and is ignored"),
            )
            .fix(Fix::manual(format!("remove /lib/modules/{k} if nothing in it is needed"))),
        );
        return report.finish(findings);
    }

    if kernel.modules_dir.is_none() {
        if kernel.running && sys.loaded == Loaded::Unknown {
            let origin = match sys.kernel_package(k) {
                crate::system::KernelPackage::None => {
                    format!("; it is not from a Debian package (dpkg has no linux-image-{k})")
                }
                _ => String::new(),
            };
            findings.push(Finding::new(
                Code::NoModuleSupport,
                Severity::Info,
                format!("the running kernel {k} has no /lib/modules/{k} and no /proc/modules: it cannot load modules (a container, or a kernel built without module support), so there is nothing to load here{origin}"),
            ));
            let mut report = report.finish(findings);
            report.verdict = Verdict::NotApplicable;
            return report;
        }
        findings.push(no_module_dir(sys, kernel));
        return report.finish(findings);
    }

    report.dkms = registration::check(sys, kernel, &mut findings);

    let abi = kernel::expected_abi(&sys.root, k);
    if abi.is_none() {
        findings.push(
            Finding::new(
                Code::NoAbiSource,
                Severity::Info,
                format!("kernel {k} has no in-tree module, headers or /boot/config-{k} to read its vermagic from; only the release part of each module's vermagic is compared"),
            )
            .fix(Fix::InstallPackage {
                package: format!("linux-headers-{k}"),
            }),
        );
    }
    report.abi = abi.clone();
    let names: Vec<ModuleName> = sys.module_names();
    let name_set: HashSet<ModuleName> = names.iter().cloned().collect();
    let index = match index_of(sys, k, &name_set, &mut findings) {
        Some(i) => i,
        None => return report.finish(findings),
    };

    let dkms_build = sys.dkms_for(k).and_then(|m| {
        m.versions
            .iter()
            .flat_map(|v| v.builds.iter())
            .filter(|b| &b.kernel == k)
            .max_by_key(|b| b.state)
    });
    let copies = dkms_build.map_or(DkmsCopies::None, DkmsCopies::Tree);
    let mut report = check_modules(
        sys,
        kernel,
        abi,
        &index,
        &names,
        copies,
        checks,
        report,
        Vec::new(),
    );
    findings.append(&mut report.findings);
    mixed_providers(kernel, &report.modules, &mut findings);
    blame_copies_dkms_did_not_make(&sys.root, kernel, &report.modules, &mut findings);
    report.failed_build = failed_build(sys, kernel, &mut findings);
    // While providers fight, no rebuild helps: every finding a build would otherwise cure
    // points at the choice instead.
    if let Some(fix) = findings
        .iter()
        .find(|f| f.code == Code::ProvidersConflict)
        .and_then(|f| f.fix.clone())
    {
        for f in findings.iter_mut().filter(|f| f.fixed_by_build()) {
            f.fix = Some(fix.clone());
        }
    }
    report.finish(findings)
}

/// What modprobe's configuration means for loading DAHDI here: hardware drivers it
/// blacklists, modules the kernel command line forbids, `install` commands the loader does
/// not run, lines it could not use.
fn modprobe_findings(
    sys: &System,
    modprobe: &crate::modprobe::ModprobeConfig,
    wanted: &[ModuleName],
    hardware: &[hw::Match],
    findings: &mut Vec<Finding>,
) {
    for m in hardware {
        if let Some(b) = modprobe.blacklist.iter().find(|b| b.module == m.module) {
            findings.push(
                Finding::new(
                    Code::Blacklisted,
                    Severity::Info,
                    format!(
                        "{} is blacklisted ({}): it is not loaded for device {} ({}), as udev would not load it either",
                        m.module, b.source, m.device.sysname, m.device.modalias
                    ),
                )
                .module(&m.module),
            );
        }
    }
    let mut asked: Vec<&ModuleName> = sys.config.add.iter().collect();
    asked.extend(sys.dahdi_modules.iter().flat_map(|d| d.modules.iter()));
    for m in asked {
        if modprobe.kernel_refuses(m) {
            findings.push(
                Finding::new(
                    Code::Blacklisted,
                    Severity::Info,
                    format!("{m} is wanted, but the kernel command line forbids it (module_blacklist=): the kernel would refuse it, so it is not loaded"),
                )
                .module(m),
            );
        }
    }
    for m in wanted {
        if let Some(c) = modprobe.install_command(m) {
            findings.push(
                Finding::new(
                    Code::InstallCommand,
                    Severity::Info,
                    format!(
                        "modprobe would run `{}` ({}) instead of loading {m}; dahdi-loader loads {m} itself and runs no shell command from modprobe.d (it runs as root at boot, before the system is up)",
                        c.command, c.source
                    ),
                )
                .module(m)
                .fix(Fix::manual(format!(
                    "if that command does more than load {m}, run it from a unit ordered after dahdi-loader.service"
                ))),
            );
        }
    }
    let dahdi = sys.module_names();
    let concerns_dahdi = |n: &&crate::modprobe::ConfigNote| {
        n.about
            .as_ref()
            .is_none_or(|p| dahdi.iter().any(|m| p.matches(m.as_str())))
    };
    for n in modprobe.notes.iter().filter(concerns_dahdi) {
        findings.push(Finding::new(
            Code::ConfigNote,
            Severity::Info,
            n.to_string(),
        ));
    }
    for n in sys.dahdi_modules.iter().flat_map(|d| d.notes.iter()) {
        findings.push(Finding::new(
            Code::ConfigNote,
            Severity::Info,
            n.to_string(),
        ));
    }
}

/// What a copy DKMS did not make causes (a leftover package's module shadowing the DKMS
/// build, and the CRC mismatches it brings), a rebuild cannot cure: those findings point at
/// the copy's owner instead (purge the package, or remove the unowned file).
fn blame_copies_dkms_did_not_make(
    root: &crate::root::Root,
    kernel: &Kernel,
    modules: &[ModuleReport],
    findings: &mut [Finding],
) {
    for f in findings
        .iter_mut()
        .filter(|f| f.fixed_by_build() && !f.modules.is_empty())
    {
        let removals: Option<Vec<Fix>> = f
            .modules
            .iter()
            .map(|name| {
                let m = modules.iter().find(|m| &m.name == name)?;
                if m.from_dkms != Some(false) {
                    return None;
                }
                Some(
                    m.owner
                        .as_ref()?
                        .removal(&root.system_path(m.path.as_ref()?), &kernel.release),
                )
            })
            .collect();
        if let Some(fix) = removals.and_then(crate::providers::merge_removals) {
            f.fix = Some(fix);
        }
    }
}

/// A build that failed with the inputs a new one would have: what a build would cure
/// stays uncured, and the kernel's verdict says so.
fn failed_build(
    sys: &System,
    kernel: &Kernel,
    findings: &mut Vec<Finding>,
) -> Option<crate::failed::FailedBuild> {
    if !findings.iter().any(Finding::fixed_by_build) {
        return None;
    }
    let module = sys.dkms_for(&kernel.release)?;
    let failed = crate::failed::find(&sys.root, kernel, module)?;
    let k = &kernel.release;
    let fix = Fix::BuildFailed {
        kernel: k.clone(),
        log: failed.log.display().to_string(),
        loads_on: Vec::new(),
        module: failed.module.to_string(),
    };
    for f in findings.iter_mut().filter(|f| f.fixed_by_build()) {
        f.fix = Some(fix.clone());
    }
    let who = match failed.by {
        crate::failed::Builder::Dkms => "DKMS",
        crate::failed::Builder::Loader => "dahdi-loader",
    };
    let cause = failed
        .first_error
        .as_ref()
        .map_or("(no compiler error line in the log)".to_string(), |e| {
            e.to_string()
        });
    findings.push(
        Finding::new(
            Code::BuildFailed,
            Severity::BuildFailed,
            format!(
                "DAHDI will not load on kernel {k}: {who} could not build {} {} for it: {cause}; log: {}. Nothing has changed since (the source, the kernel's headers, the compiler), so building again would fail the same way",
                failed.module,
                failed.version,
                failed.log.display()
            ),
        )
        .fix(fix),
    );
    Some(failed)
}

/// Names, in every "build failed" fix, the kernels on which DAHDI loads: a verdict needs
/// all kernels verified, so this runs once they are.
pub fn name_kernels_that_load(reports: &mut [KernelReport]) {
    let good: Vec<crate::names::KernelRelease> = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Ok && !r.kernel.is_leftover() && r.modules_present() > 0)
        .map(|r| r.kernel.release.clone())
        .collect();
    for r in reports.iter_mut() {
        for f in &mut r.findings {
            if let Some(Fix::BuildFailed { loads_on, .. }) = &mut f.fix {
                *loads_on = good.clone();
            }
        }
    }
}

/// The files modprobe would pick come from more than one DKMS module: the mixed set DKMS
/// leaves when two providers are installed (reported once, by registration, when DKMS
/// itself says both are installed).
fn mixed_providers(kernel: &Kernel, modules: &[ModuleReport], findings: &mut Vec<Finding>) {
    use crate::providers::Owner;
    if findings.iter().any(|f| f.code == Code::ProvidersConflict) {
        return;
    }
    let mut by: BTreeMap<String, Vec<ModuleName>> = BTreeMap::new();
    for m in modules {
        if let Some(Owner::Dkms { module, version }) = &m.owner {
            by.entry(format!("{module} {version}"))
                .or_default()
                .push(m.name.clone());
        }
    }
    if by.len() < 2 {
        return;
    }
    let parts: Vec<String> = by
        .iter()
        .map(|(p, mods)| format!("{} from {p}", subject(mods)))
        .collect();
    findings.push(
        Finding::new(
            Code::ProvidersConflict,
            Severity::Broken,
            format!(
                "the DAHDI modules modprobe would load on kernel {} come from different DKMS modules: {}; their symbol versions need not agree, and no rebuild of one settles it",
                kernel.release,
                parts.join("; ")
            ),
        )
        .fix(Fix::manual(format!(
            "choose one provider and remove the other (dkms remove -m NAME -v VERSION --all, or apt purge the package that ships it); then run dahdi-loader ensure -k {}",
            kernel.release
        ))),
    );
}

/// Verifies a build that is not installed (a staging build) as if DKMS had installed it:
/// the `files` take the place of DKMS's copies in `updates/dkms`, depmod's choice is made
/// again among them and the other copies on the kernel (a stale copy that wins stays
/// chosen, and is found wrong), and everything the kernel checks at load time is checked
/// on what would be picked. modules.dep is not compared (DKMS's install rewrites it).
pub fn verify_build(sys: &System, kernel: &Kernel, files: &[PathBuf]) -> KernelReport {
    use crate::modindex::{Candidate, Pick};
    let mut report = KernelReport::new(sys, kernel);
    report.dev_dahdi = None;
    let mut findings = Vec::new();
    let k = &kernel.release;
    let abi = kernel::expected_abi(&sys.root, k);
    report.abi = abi.clone();
    let staged: Vec<(ModuleName, PathBuf)> = files
        .iter()
        .filter_map(|p| Some((ModuleName::from_file_name(p)?, p.clone())))
        .collect();
    let mut names: Vec<ModuleName> = sys.module_names();
    names.extend(staged.iter().map(|(n, _)| n.clone()));
    names.sort();
    names.dedup();
    let name_set: HashSet<ModuleName> = names.iter().cloned().collect();
    let mut index = match index_of(sys, k, &name_set, &mut findings) {
        Some(i) => i,
        None => return report.finish(findings),
    };
    for (name, path) in &staged {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let relpath = format!("updates/dkms/{file}");
        let candidate = Candidate {
            priority: sys.depmod.priority(name, k, &relpath),
            relpath,
            path: path.clone(),
        };
        let pick = index.picks.entry(name.clone()).or_insert_with(|| Pick {
            name: name.clone(),
            chosen: None,
            others: Vec::new(),
            tie: false,
            indexed: None,
        });
        // DKMS's install replaces its own copy in updates/dkms.
        let mut all: Vec<Candidate> = pick
            .chosen
            .take()
            .into_iter()
            .chain(pick.others.drain(..))
            .filter(|c| !c.relpath.starts_with("updates/dkms/"))
            .collect();
        all.push(candidate);
        all.sort_by(|a, b| a.priority.cmp(&b.priority).then(a.relpath.cmp(&b.relpath)));
        pick.tie = all.len() > 1 && all[0].priority == all[1].priority;
        let mut it = all.into_iter();
        pick.chosen = it.next();
        pick.others = it.collect();
    }
    index.has_modules_dep = false;
    let mut staged_kernel = kernel.clone();
    staged_kernel.running = false;
    check_modules(
        sys,
        &staged_kernel,
        abi,
        &index,
        &names,
        DkmsCopies::Staged(files),
        Checks::default(),
        report,
        findings,
    )
}

/// The kernel's module index for `names`; an unreadable index is a finding.
fn index_of(
    sys: &System,
    k: &crate::names::KernelRelease,
    names: &HashSet<ModuleName>,
    findings: &mut Vec<Finding>,
) -> Option<KernelIndex> {
    match KernelIndex::build(&sys.root, k, names, &sys.depmod) {
        Ok(i) => Some(i),
        Err(e) => {
            let mut f = Finding::new(Code::Unreadable, Severity::Broken, e.to_string());
            f.fix = e.fix();
            findings.push(f);
            None
        }
    }
}

/// Which files are DKMS's own, to tell them from other copies.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DkmsCopies<'a> {
    /// No DKMS build for this kernel.
    None,
    /// The build in DKMS's tree: a file is DKMS's when its bytes equal the tree's copy.
    Tree(&'a crate::dkms::Build),
    /// A staged build: these files are DKMS's.
    Staged(&'a [PathBuf]),
}

/// The checks on the module files of one kernel, installed or staged.
#[allow(clippy::too_many_arguments)]
fn check_modules(
    sys: &System,
    kernel: &Kernel,
    abi: Option<KernelAbi>,
    index: &KernelIndex,
    names: &[ModuleName],
    dkms_copies: DkmsCopies<'_>,
    checks: Checks,
    mut report: KernelReport,
    mut findings: Vec<Finding>,
) -> KernelReport {
    let k = &kernel.release;
    let findings_ref = &mut findings;
    let trust = signatures::KernelTrust::read(sys, kernel);
    let read = files::read_all(sys, kernel, &trust, names, index, dkms_copies, findings_ref);
    report.modules = read.modules;
    let has_dkms = !matches!(dkms_copies, DkmsCopies::None);
    shadowing::check(
        &sys.root,
        kernel,
        index,
        &report.modules,
        has_dkms,
        findings_ref,
    );
    let config = kernel::KernelConfig::read(&sys.root, kernel);
    let release_only = vermagic::check(
        kernel,
        abi.as_ref(),
        config.as_ref(),
        &report.modules,
        findings_ref,
    );
    for m in &mut report.modules {
        if let (Some(info), Some(a)) = (&m.info, abi.as_ref()) {
            m.vermagic_ok = Some(vermagic::matches(info, a, kernel));
        } else if let Some(info) = &m.info {
            m.vermagic_ok = Some(
                info.vermagic()
                    .is_some_and(|v| v.split(' ').next() == Some(k.as_str())),
            );
        }
    }
    if kernel.running {
        files::compare_loaded(sys, &mut report.modules, findings_ref);
    }

    let modprobe = match crate::modprobe::ModprobeConfig::load(&sys.root, k) {
        Ok(m) => m,
        Err(e) => {
            let mut f = Finding::new(Code::Unreadable, Severity::Broken, e.to_string());
            f.fix = e.fix();
            findings_ref.push(f);
            crate::modprobe::ModprobeConfig::default()
        }
    };
    (report.wanted, report.hardware) = wanted_modules(sys, &report.modules, &modprobe);
    modprobe_findings(
        sys,
        &modprobe,
        &report.wanted,
        &report.hardware,
        findings_ref,
    );
    report.options = report
        .wanted
        .iter()
        .map(|m| ModuleOptions {
            module: m.clone(),
            params: modprobe.options(m),
        })
        .filter(|o| !o.params.is_empty())
        .collect();
    let missing_deps =
        dependencies::check(kernel, index, &report.modules, &report.wanted, findings_ref);
    // Symbols a module imports from a DAHDI module that could not be read are explained
    // by that module's finding, as are those of a missing dependency.
    let unread: HashSet<&ModuleName> = report
        .modules
        .iter()
        .filter(|m| m.path.is_some() && m.info.is_none())
        .map(|m| &m.name)
        .collect();
    let mut skip_symbols: HashSet<&ModuleName> = missing_deps.iter().collect();
    for m in &report.modules {
        if m.dependency_names().iter().any(|d| unread.contains(d)) {
            skip_symbols.insert(&m.name);
        }
    }

    let compared = if checks.crcs {
        symbols::check(
            sys,
            kernel,
            index,
            &report.modules,
            &skip_symbols,
            findings_ref,
        )
    } else {
        symbols::Compared::default()
    };
    if compared.checked {
        for m in &mut report.modules {
            m.crcs_checked = m.info.as_ref().map_or(0, |i| i.versions.len());
        }
    }
    vermagic::release_only(kernel, abi.as_ref(), release_only, &compared, findings_ref);
    signatures::check(&trust, kernel, &report.modules, findings_ref);
    report.abi = abi;
    report.finish(findings)
}

/// One finding per distinct key, naming every module that had it: findings that repeat
/// across modules (the same vermagic on 33 modules) are read once, not 33 times.
fn grouped<K: Ord>(
    items: impl IntoIterator<Item = (ModuleName, K)>,
    mut make: impl FnMut(&K, &[ModuleName]) -> Finding,
) -> Vec<Finding> {
    let mut groups: BTreeMap<K, Vec<ModuleName>> = BTreeMap::new();
    for (m, k) in items {
        groups.entry(k).or_default().push(m);
    }
    groups
        .into_iter()
        .map(|(k, mut mods)| {
            mods.sort();
            make(&k, &mods).modules(mods)
        })
        .collect()
}

/// "dahdi" or "3 modules (dahdi, wct4xxp, xpp)".
fn subject(mods: &[ModuleName]) -> String {
    match mods {
        [one] => one.to_string(),
        _ => format!(
            "{} modules ({})",
            mods.len(),
            crate::report::summarize(mods)
        ),
    }
}

/// "was" or "were", for [`subject`].
fn were(mods: &[ModuleName]) -> &'static str {
    if mods.len() == 1 {
        "was"
    } else {
        "were"
    }
}
