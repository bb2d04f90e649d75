//! The last DKMS build `ensure` ran, and how it ended: what the metrics report as the last
//! build's result and time (a fleet asks "did the last build on this PBX work, and when?").
//!
//! One small JSON file, `/var/lib/dahdi-loader/last-build.json`, replaced whole at the end
//! of every build `ensure` runs. Builds DKMS ran on its own (from a package's or the
//! kernel's hook) are not here; a failed one shows as the kernel's `build-failed` verdict.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::names::{KernelRelease, PackageName, Version};
use crate::root::{read_optional, Root};

/// Where the record is kept.
pub const LAST_BUILD: &str = "/var/lib/dahdi-loader/last-build.json";

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Built, verified, installed.
    Ok,
    /// DKMS failed (the compiler, a timeout) or the install did.
    Failed,
    /// Built, but the result did not verify or cure what was wrong; nothing was changed.
    Rejected,
}

impl Outcome {
    /// Every outcome, in the order the metrics list them.
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Failed, Outcome::Rejected];

    /// The word, as in JSON and the metrics' `result` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Rejected => "rejected",
        }
    }
}

/// The last build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastBuild {
    /// The DKMS module.
    pub module: PackageName,
    /// Its version.
    pub version: Version,
    /// The kernel it was built for.
    pub kernel: KernelRelease,
    /// How it ended.
    pub outcome: Outcome,
    /// When it ended, in seconds since the Unix epoch.
    pub finished: u64,
}

/// Keeps `build` as the last one (replacing the file whole).
pub fn record(root: &Root, build: &LastBuild) -> std::io::Result<()> {
    let path = root.join(LAST_BUILD);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let body = serde_json::to_vec_pretty(build).expect("a record serializes");
    crate::atomic_file::replace(&path, &body)
}

/// The last build, if the loader ran one (a record it cannot read counts as none).
pub fn read(root: &Root) -> Option<LastBuild> {
    let text = read_optional(&root.join(LAST_BUILD)).ok()??;
    serde_json::from_str(&text).ok()
}

/// Now, in seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
