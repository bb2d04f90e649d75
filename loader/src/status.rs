//! `status`: every kernel at once, as a table for people and JSON for programs.

use serde::Serialize;

use crate::error::Error;
use crate::names::{KernelRelease, ModuleName, Version};
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
    /// dahdi versions registered with DKMS.
    pub dkms_versions: Vec<Version>,
    /// DAHDI modules the loader checks.
    pub modules: Vec<ModuleName>,
    /// One report per kernel, oldest first.
    pub kernels: Vec<KernelReport>,
    /// The worst verdict over all kernels.
    pub verdict: Verdict,
    /// The exit code `status` returns.
    pub exit_code: i32,
}

/// Verifies every kernel.
pub fn system_report(sys: &System, checks: Checks) -> Result<SystemReport, Error> {
    let kernels: Vec<KernelReport> = sys
        .kernels()?
        .iter()
        .map(|k| verify::verify_kernel(sys, k, checks))
        .collect();
    let verdict = kernels
        .iter()
        .map(|k| k.verdict)
        .max()
        .unwrap_or(Verdict::Ok);
    Ok(SystemReport {
        root: sys.root.dir().display().to_string(),
        running: sys.running.clone(),
        loaded_known: sys.loaded != crate::live::Loaded::Unknown,
        dkms_versions: sys
            .dkms
            .iter()
            .flat_map(|m| m.versions.iter().map(|v| v.version.clone()))
            .collect(),
        modules: sys.module_names(),
        kernels,
        verdict,
        exit_code: ExitCode::from(verdict) as i32,
    })
}
