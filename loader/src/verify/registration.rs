//! DKMS's registration of DAHDI for a kernel: registered at all, intact, a failed build,
//! and two providers installed for the same kernel.

use super::DkmsKernelState;
use crate::dkms::{Module, Registered, State};
use crate::kernel::Kernel;
use crate::report::{Code, Finding, Fix, Severity};
use crate::system::System;

fn reinstall(m: &Module) -> Fix {
    Fix::manual(format!(
        "reinstall the package that registered DKMS module {} (for Debian's: apt-get install --reinstall dahdi-dkms)",
        m.name
    ))
}

/// How to take a DKMS provider away: `dkms remove` of every version, for every kernel.
/// (The package that ships its source, when one does, is the better handle; see
/// [`crate::providers`].)
pub(crate) fn removal(m: &Module, v: &Registered) -> String {
    format!("dkms remove -m {} -v {} --all", m.name, v.version)
}

/// Adds what is wrong with the registration; returns DKMS's state for the kernel.
pub(super) fn check(
    sys: &System,
    kernel: &Kernel,
    findings: &mut Vec<Finding>,
) -> Option<DkmsKernelState> {
    let k = &kernel.release;
    let installed = sys.providers.installed_for(k);
    if installed.len() > 1 {
        let names: Vec<String> = installed
            .iter()
            .map(|(m, v)| format!("{} {}", m.name, v.version))
            .collect();
        let choices: Vec<String> = installed
            .iter()
            .map(|(keep, _)| {
                let others: Vec<String> = installed
                    .iter()
                    .filter(|(m, _)| m.name != keep.name)
                    .map(|(m, v)| removal(m, v))
                    .collect();
                format!("to keep {}, run {}", keep.name, others.join(" and "))
            })
            .collect();
        findings.push(
            Finding::new(
                Code::ProvidersConflict,
                Severity::Broken,
                format!(
                    "two DKMS modules provide DAHDI for kernel {k}: {}; DKMS installed both, so the module files are a mix of the two (it will not replace a file whose version it finds equal), and no rebuild can settle that",
                    names.join(" and ")
                ),
            )
            .fix(Fix::manual(format!("choose one provider: {}; then run dahdi-loader ensure -k {k}", choices.join("; ")))),
        );
    }
    let Some(m) = sys.dkms_for(k).or(installed.first().map(|(m, _)| *m)) else {
        findings.push(
            Finding::new(
                Code::DkmsNotRegistered,
                Severity::Info,
                "no DKMS module provides DAHDI; modules are checked but cannot be rebuilt",
            )
            .fix(Fix::InstallPackage {
                package: "dahdi-dkms".into(),
            }),
        );
        return None;
    };
    let Some((state, v)) = m.state_for(k) else {
        findings.push(
            Finding::new(
                Code::DkmsBroken,
                Severity::Broken,
                format!(
                    "the DKMS tree {} has no usable version of {}",
                    m.dir.display(),
                    m.name
                ),
            )
            .fix(reinstall(m)),
        );
        return None;
    };
    if state == State::Broken {
        findings.push(
            Finding::new(
                Code::DkmsBroken,
                Severity::Broken,
                format!(
                    "DKMS's registration of {} {} is broken: its source link {} does not lead to a directory",
                    m.name,
                    v.version,
                    v.source
                        .as_deref()
                        .map_or("(missing)".into(), |p| p.display().to_string())
                ),
            )
            .fix(reinstall(m)),
        );
    }
    if let Some(log) = &v.failed_build_log {
        findings.push(Finding::new(
            Code::DkmsBuildLog,
            Severity::Info,
            format!(
                "a failed or unfinished DKMS build of {} {} left {}",
                m.name,
                v.version,
                log.display()
            ),
        ));
    }
    Some(DkmsKernelState {
        module: m.name.clone(),
        version: v.version.clone(),
        state,
    })
}
