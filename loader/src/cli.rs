//! The command line: every command, option and help text, in one clap definition.
//!
//! The binary parses with it, and the build script compiles this same file to write the man
//! page and the shell completions (see build.rs): one definition, so the three cannot drift.
//! That is why it names nothing of the library but `names`, `exit_codes` and `defaults`,
//! which the build script compiles too.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::defaults::{DEFAULT_DKMS, DEFAULT_LOCK_TIMEOUT};
use crate::exit_codes::exit_codes_help;
use crate::names::{KernelRelease, Modalias};

/// The configuration file's directives, as `--help` and the man page show them.
pub const CONFIG_HELP: &str = "\
Configuration: /etc/dahdi-loader/*.conf (read in name order; # starts a comment)
  add MODULE...            load these too (echo cancellers, dahdi_dynamic_loc, ...)
  exclude MODULE...        never load these
  alias PATTERN MODULE     devices whose modalias matches PATTERN need MODULE
  dev-timeout SECONDS      wait this long for /dev/dahdi/ctl (default 10)
  build-timeout MINUTES    stop a DKMS build that takes longer (default 60; 90s = seconds)
  boot-guard on|off        keep GRUB off kernels where DAHDI would not load (default off)";

/// match-modalias answers a question, so its exit codes are its own (not the verdicts of
/// the other commands), as its --help and the man page say.
pub const MATCH_MODALIAS_EXIT: &str = "\
Exit status of match-modalias:
  0   a DAHDI module's alias= (or an alias line in /etc/dahdi-loader) claims MODALIAS;
      the udev rule then starts dahdi-loader@.service for the device
  1   nothing claims it: not a DAHDI device, nothing to do
  3   the module files or DKMS tree could not be read
  64  MODALIAS is malformed, or a configuration line is wrong";

/// How the loader lives with Debian's boot files, as `modules-load-check --help` and the man
/// page say it.
pub const MODULES_LOAD_CHECK_HELP: &str = "\
Debian's dahdi-linux ships /etc/modules-load.d/dahdi-linux.conf, so systemd-modules-load
loads dahdi and dahdi_transcode early at every boot, before dahdi-loader.service. When the
running kernel's DAHDI is stale, the kernel refuses it and systemd-modules-load.service
fails; when it is missing, systemd-modules-load logs an error (or nothing) and goes on.
The package's drop-in
/lib/systemd/system/systemd-modules-load.service.d/dahdi-loader.conf runs this command
first (ExecStartPre=-, so it can never fail that unit). When DAHDI would not load, it
writes /run/modprobe.d/dahdi-loader.conf, deny-listing the DAHDI names of modules-load.d
(systemd-modules-load then logs \"deny-listed\" for those whose files exist, and
succeeds; modprobe NAME and the loader load by name and are not affected), and logs one
warning: what is wrong, and that dahdi-loader.service will rebuild and load DAHDI, or,
where it cannot (no headers for the running kernel, no DKMS module), why and the fix. dahdi-loader ensure loads those names and removes the file once DAHDI is loaded; it
is on tmpfs, so it never outlives the boot.

DKMS takes no lock around its builds: before building, ensure waits for any dkms it did
not start that works on this system (a kernel hook in an apt run, an operator's dkms
install; not one in a chroot), then judges what that dkms left, so two builds never run
at once.";

// The whole command line (a plain comment: clap would take a doc comment for help text).
#[derive(Debug, Parser)]
#[command(
    name = "dahdi-loader",
    version,
    about = "Checks that DKMS-built DAHDI matches every installed kernel, builds it when needed, and loads it",
    after_help = format!("{}\n\n{CONFIG_HELP}", exit_codes_help())
)]
pub struct Cli {
    /// Read the system under DIR instead of / (like depmod -b).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "/",
        env = "DAHDI_LOADER_ROOT"
    )]
    pub root: PathBuf,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also show notes and the expected vermagic of each kernel.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Take this as the running kernel's release instead of uname -r (for tests and VMs).
    #[arg(
        long,
        global = true,
        value_name = "KVER",
        env = "DAHDI_LOADER_RUNNING_KERNEL",
        value_parser = parse_release
    )]
    pub running_kernel: Option<KernelRelease>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command's name as typed (`status` when none was).
    pub fn command_name(&self) -> &'static str {
        match &self.command {
            None | Some(Command::Status { .. }) => "status",
            Some(Command::Verify { .. }) => "verify",
            Some(Command::Ensure { .. }) => "ensure",
            Some(Command::Guard { .. }) => "guard",
            Some(Command::MatchModalias { .. }) => "match-modalias",
            Some(Command::Metrics { .. }) => "metrics",
            Some(Command::ModulesLoadCheck) => "modules-load-check",
        }
    }
}

// The commands (a plain comment, for the same reason).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show DAHDI's state on every installed kernel (the default), and the DAHDI cards
    /// found with their drivers and names.
    Status {
        /// Skip the symbol CRC comparison (faster).
        #[arg(long)]
        no_crcs: bool,
    },
    /// Check that DAHDI will load after booting a kernel (the running one by default).
    Verify {
        /// Kernel release to check.
        #[arg(value_name = "KVER", conflicts_with = "all", value_parser = parse_release)]
        kernel: Option<KernelRelease>,
        /// Check every installed kernel.
        #[arg(long)]
        all: bool,
    },
    /// Build DAHDI for a kernel if needed; for the running kernel, load it and wait for
    /// /dev/dahdi/ctl. Safe to run many times at once.
    Ensure {
        /// Kernel release (default: the running kernel).
        #[arg(short = 'k', long = "kernel", value_name = "KVER", value_parser = parse_release)]
        kernel: Option<KernelRelease>,
        /// Do not load modules, only build and verify.
        #[arg(long)]
        no_load: bool,
        /// Do not build, only verify and load.
        #[arg(long)]
        no_build: bool,
        /// The dkms program to run.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_DKMS, env = "DAHDI_LOADER_DKMS")]
        dkms: PathBuf,
        /// Seconds to wait for another dahdi-loader to finish.
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_LOCK_TIMEOUT.as_secs())]
        lock_timeout: u64,
        /// Build again even though the same build failed before with the same source,
        /// headers and compiler.
        #[arg(long)]
        force: bool,
    },
    /// Point GRUB's next boot at the newest kernel where DAHDI verifies, when the kernel
    /// it would start is one where DAHDI will not load (only with `boot-guard on`).
    /// Exits with the verdict of the kernel the next boot starts.
    Guard {
        /// Show what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait for another dahdi-loader to finish.
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_LOCK_TIMEOUT.as_secs())]
        lock_timeout: u64,
    },
    /// Write the status as Prometheus metrics for node_exporter's textfile collector: each
    /// kernel's verdict, the modules loaded, the running kernel, the last build's result
    /// and time. Exits 0 once written, whatever the verdict (the verdict is in the metrics).
    #[command(after_help = "dahdi-loader-metrics.timer (off by default) runs \
        `dahdi-loader metrics --output /var/lib/prometheus/node-exporter/dahdi-loader.prom` \
        every 5 minutes: systemctl enable --now dahdi-loader-metrics.timer")]
    Metrics {
        /// Write to FILE atomically (a temporary file in its directory renamed over it), not
        /// read under --root; without it, print on stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Skip the symbol CRC comparison (faster).
        #[arg(long)]
        no_crcs: bool,
    },
    /// Run just before systemd-modules-load (the package's drop-in for its unit): when DAHDI
    /// is in modules-load.d but would not load on the running kernel, deny-list it for this
    /// boot and say once what is wrong and what happens next. Fast and read-only otherwise;
    /// silent when DAHDI would load.
    #[command(after_help = MODULES_LOAD_CHECK_HELP)]
    ModulesLoadCheck,
    /// Exit 0 if a DAHDI module (or a configured alias) claims MODALIAS, else 1.
    /// Used by the udev rule; fast and read-only.
    #[command(after_help = MATCH_MODALIAS_EXIT)]
    MatchModalias {
        /// The device's modalias (udev's $env{MODALIAS}).
        #[arg(value_parser = parse_modalias)]
        modalias: Modalias,
    },
}

/// A kernel release from the command line, validated.
pub fn parse_release(s: &str) -> Result<KernelRelease, String> {
    KernelRelease::new(s).map_err(|e| e.to_string())
}

/// A modalias from the command line, validated.
pub fn parse_modalias(s: &str) -> Result<Modalias, String> {
    Modalias::new(s).map_err(|e| e.to_string())
}
