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

/// DKMS's view of this kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkmsKernelState {
    /// dahdi's DKMS version considered.
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
            findings.push(Finding::new(
                Code::NoModuleSupport,
                Severity::Info,
                format!("the running kernel {k} has no /lib/modules/{k} and no /proc/modules: it cannot load modules (a container, or a kernel built without module support), so there is nothing to load here"),
            ));
            let mut report = report.finish(findings);
            report.verdict = Verdict::NotApplicable;
            return report;
        }
        findings.push(
            Finding::new(
                Code::NoModuleDir,
                Severity::Broken,
                format!("kernel {k} has no module directory /lib/modules/{k}"),
            )
            .fix(Fix::ReinstallPackage {
                package: format!("linux-image-{k}"),
            }),
        );
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
    let index = match KernelIndex::build(&sys.root, k, &name_set, &sys.depmod) {
        Ok(i) => i,
        Err(e) => {
            let mut f = Finding::new(Code::Unreadable, Severity::Broken, e.to_string());
            f.fix = e.fix();
            findings.push(f);
            return report.finish(findings);
        }
    };

    let dkms_build = sys.dkms.as_ref().and_then(|m| {
        m.versions
            .iter()
            .flat_map(|v| v.builds.iter())
            .filter(|b| &b.kernel == k)
            .max_by_key(|b| b.state)
    });

    let read = files::read_all(sys, kernel, &names, &index, dkms_build, &mut findings);
    report.modules = read.modules;
    shadowing::check(
        kernel,
        &index,
        &report.modules,
        dkms_build.is_some(),
        &mut findings,
    );
    vermagic::check(kernel, abi.as_ref(), &report.modules, &mut findings);
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
        files::compare_loaded(sys, &mut report.modules, &mut findings);
    }

    (report.wanted, report.hardware) = wanted_modules(sys, &report.modules);
    let missing_deps = dependencies::check(
        kernel,
        &index,
        &report.modules,
        &report.wanted,
        &mut findings,
    );
    let skip_symbols: HashSet<&ModuleName> = missing_deps.iter().collect();

    if checks.crcs {
        let checked = symbols::check(kernel, &report.modules, &skip_symbols, &mut findings);
        if checked {
            for m in &mut report.modules {
                m.crcs_checked = m.info.as_ref().map_or(0, |i| i.versions.len());
            }
        }
    }
    signatures::check(sys, kernel, &report.modules, &mut findings);
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
