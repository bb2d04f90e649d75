//! Defaults the command line can override. They live apart from the code that uses them
//! because the build script compiles the command-line definition (`cli.rs`) for the man page
//! and completions, and that definition shows them; this file uses nothing but std.

use std::time::Duration;

/// Where dkms lives on Debian; overridable for tests and other layouts.
pub const DEFAULT_DKMS: &str = "/usr/sbin/dkms";

/// How long to wait for another dahdi-loader: a DKMS build of DAHDI takes minutes on small
/// machines.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(1800);
