//! `status`: every kernel at once, as a table for people and JSON for programs.

use serde::Serialize;

use crate::error::Error;
use crate::names::{KernelRelease, ModuleName, PackageName, Version};
use crate::report::{ExitCode, Verdict};
use crate::system::System;
use crate::verify::{self, Checks, KernelReport};

/// The state of DAHDI across all kernels of a system.
#[derive(Debug, Clone, Serialize)]
pub struct SystemReport {
    /// The root that was read.
    pub root: String,
    /// The running kernel.
    pub running: Option<KernelRelease>,
    /// Whether /proc/modules could be read.
    pub loaded_known: bool,
    /// Every DKMS module that provides DAHDI, with its registered versions.
    pub providers: Vec<ProviderSummary>,
    /// DAHDI modules the loader checks.
    pub modules: Vec<ModuleName>,
    /// One report per kernel, oldest first.
    pub kernels: Vec<KernelReport>,
    /// The worst verdict over all kernels.
    pub verdict: Verdict,
    /// The exit code `status` returns.
    pub exit_code: i32,
}

/// One DKMS provider of DAHDI.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderSummary {
    /// The DKMS module (PACKAGE_NAME).
    pub module: PackageName,
    /// Its registered versions, oldest first.
    pub versions: Vec<Version>,
    /// The kernels it is installed for.
    pub installed_for: Vec<KernelRelease>,
}

/// Verifies every kernel.
pub fn system_report(sys: &System, checks: Checks) -> Result<SystemReport, Error> {
    let mut kernels: Vec<KernelReport> = sys
        .kernels()?
        .iter()
        .map(|k| verify::verify_kernel(sys, k, checks))
        .collect();
    verify::name_kernels_that_load(&mut kernels);
    let verdict = kernels
        .iter()
        .map(|k| k.verdict)
        .max()
        .unwrap_or(Verdict::Ok);
    Ok(SystemReport {
        root: sys.root.dir().display().to_string(),
        running: sys.running.clone(),
        loaded_known: sys.loaded != crate::live::Loaded::Unknown,
        providers: sys
            .providers
            .dkms
            .iter()
            .map(|m| ProviderSummary {
                module: m.name.clone(),
                versions: m.versions.iter().map(|v| v.version.clone()).collect(),
                installed_for: sys
                    .kernels()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|k| {
                        m.versions
                            .iter()
                            .any(|v| v.state_for(&k.release) == crate::dkms::State::Installed)
                    })
                    .map(|k| k.release)
                    .collect(),
            })
            .collect(),
        modules: sys.module_names(),
        kernels,
        verdict,
        exit_code: ExitCode::from(verdict) as i32,
    })
}
