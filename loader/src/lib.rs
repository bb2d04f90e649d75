//! dahdi-loader: DKMS-built DAHDI that matches every kernel, verified before reboot, loaded
//! at boot.
//!
//! DKMS says "installed" once a `.ko` file landed in the tree; it never checks that the
//! module would load. This crate checks, from files alone, what the kernel checks at load
//! time (vermagic, `struct module` size, symbol CRCs, dependencies, signatures) plus what
//! modprobe would pick (stale copies shadowing the DKMS build), for the running kernel and
//! every installed one. It can build with DKMS when something is missing and load the
//! modules in dependency order.
//!
//! Every function reads the system under a [`root::Root`] (`--root DIR` on the command
//! line), so the same code runs on the live system, on a copy of one in a test, and in a
//! VM's initramfs.
//!
//! # Modules
//!
//! | module | responsibility |
//! |---|---|
//! | [`exit_codes`] | the process exit codes and their meanings |
//! | [`defaults`] | defaults the command line can override |
//! | [`report`] | severities, verdicts, findings and fixes (the bottom layer) |
//! | [`error`] | errors, each a sentence with a fix |
//! | [`names`] | kernel releases, module and package names, versions: validated once |
//! | [`debversion`] | Debian versions in dpkg's order (epochs, `~`, revisions) |
//! | [`root`] | the system root every path is read under |
//! | [`kernel`] | installed kernels, running kernel, headers, expected vermagic, config |
//! | [`module_file`] | opening, judging, reading and decompressing a `.ko`; its ELF contents and signature |
//! | [`conf_dirs`] | `*.conf` directories as kmod and systemd read them: precedence, masks, hidden files |
//! | [`modprobe`] | modprobe.d and the kernel command line as kmod reads them; /etc/dahdi/modules |
//! | [`modindex`] | modules.dep and depmod.d: which file modprobe picks, stale copies |
//! | [`dpkg`] | the dpkg database: installed packages, who owns a path (merged /usr, diversions) |
//! | [`dkms`] | the DKMS tree, the text `dkms status` prints, running dkms |
//! | [`last_build`] | the last build `ensure` ran and how it ended |
//! | [`failed`] | builds DKMS or the loader tried that failed, while their inputs are unchanged |
//! | [`providers`] | every DKMS module that provides DAHDI; who put each module file there |
//! | [`live`] | what the running kernel has loaded (`/proc/modules`, `/sys/module`) |
//! | [`ber`] | the BER subset the kernel's ASN.1 decoder reads |
//! | [`certificate`] | X.509 certificates as the kernel's keyrings identify them |
//! | [`keys`] | where the keys the kernel trusts come from: DKMS's certificate, the MOK list, `/proc/keys` |
//! | [`signing`] | signature enforcement, MOK enrolment |
//! | [`hw`] | PCI/USB modaliases matched against module aliases |
//! | [`hwdb`] | vendor and model names from udev's hardware database |
//! | [`config`] | `/etc/dahdi-loader/*.conf` |
//! | [`system`] | the snapshot of a root that every command starts from |
//! | [`verify`] | all checks for one kernel, with verdict and fixes |
//! | [`lock`] | one flock so concurrent `ensure` runs do one build |
//! | [`load`] | `finit_module` in dependency order, errors explained |
//! | [`ensure`] | build if needed, then load and wait for `/dev/dahdi/ctl` |
//! | [`status`] | the whole system as one report |
//! | [`modalias`] | the udev rule's question: does DAHDI claim this device? |
//! | [`journal`] | output lines with the journal's priorities when systemd logs them |
//! | [`notify`] | `sd_notify`: STATUS while a long step runs, READY=1 when `ensure` is done |
//! | [`metrics`] | the status as Prometheus metrics for node_exporter's textfile collector |
//! | [`atomic_file`] | replacing a file so readers never see half of it |
//! | [`render`] | the reports as text for people |
//! | [`json`] | the reports as versioned JSON documents for programs |
//! | [`cli`] | the command line, also compiled by the build script for the man page and completions |
//!
//! # Exit codes
//!
//! See [`report::EXIT_CODES`], the one table `--help` and the README are made from.

pub mod atomic_file;
pub mod ber;
pub mod bootguard;
pub mod certificate;
pub mod cli;
pub mod conf_dirs;
pub mod config;
pub mod debversion;
pub mod defaults;
pub mod dkms;
pub mod dpkg;
pub mod ensure;
pub mod error;
pub mod exit_codes;
pub mod failed;
pub mod hw;
pub mod hwdb;
pub mod journal;
pub mod json;
pub mod kernel;
pub mod keys;
pub mod last_build;
pub mod live;
pub mod load;
pub mod lock;
pub mod metrics;
pub mod modalias;
pub mod modindex;
pub mod modprobe;
pub mod module_file;
pub mod modules_load;
pub mod names;
pub mod notify;
pub mod providers;
pub mod render;
pub mod report;
pub mod root;
pub mod signing;
pub mod status;
pub mod system;
#[cfg(test)]
mod test_files;
pub mod verify;

pub use error::Error;
pub use report::ExitCode;
pub use root::Root;
