//! DKMS's registration of DAHDI for a kernel: registered at all, intact, a failed build.

use super::DkmsKernelState;
use crate::dkms::State;
use crate::kernel::Kernel;
use crate::report::{Code, Finding, Fix, Severity};
use crate::system::System;

fn reinstall() -> Fix {
    Fix::ReinstallPackage {
        package: "dahdi-dkms".into(),
    }
}

/// Adds what is wrong with the registration; returns DKMS's state for the kernel.
pub(super) fn check(
    sys: &System,
    kernel: &Kernel,
    findings: &mut Vec<Finding>,
) -> Option<DkmsKernelState> {
    let Some(m) = &sys.dkms else {
        findings.push(
            Finding::new(
                Code::DkmsNotRegistered,
                Severity::Info,
                "dahdi is not registered with DKMS; modules are checked but cannot be rebuilt",
            )
            .fix(Fix::InstallPackage {
                package: "dahdi-dkms".into(),
            }),
        );
        return None;
    };
    let Some((state, v)) = m.state_for(&kernel.release) else {
        findings.push(
            Finding::new(
                Code::DkmsBroken,
                Severity::Broken,
                format!(
                    "the DKMS tree {} has no usable version of dahdi",
                    m.dir.display()
                ),
            )
            .fix(reinstall()),
        );
        return None;
    };
    if state == State::Broken {
        findings.push(
            Finding::new(
                Code::DkmsBroken,
                Severity::Broken,
                format!(
                    "DKMS's registration of dahdi {} is broken: its source link {} does not lead to a directory",
                    v.version,
                    v.source
                        .as_deref()
                        .map_or("(missing)".into(), |p| p.display().to_string())
                ),
            )
            .fix(reinstall()),
        );
    }
    if let Some(log) = &v.failed_build_log {
        findings.push(Finding::new(
            Code::DkmsBuildLog,
            Severity::Info,
            format!(
                "a failed or unfinished DKMS build of dahdi {} left {}",
                v.version,
                log.display()
            ),
        ));
    }
    Some(DkmsKernelState {
        version: v.version.clone(),
        state,
    })
}
