//! `dahdi-loader`: status, verify, ensure (see `dahdi-loader --help`).

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode as ProcessExit;
use std::time::Duration;

use clap::{Parser, Subcommand};

use dahdi_loader::ensure::{self, Options};
use dahdi_loader::load::KernelInserter;
use dahdi_loader::verify::{self, Checks, KernelReport, Severity, System};
use dahdi_loader::{hw, modindex, status, validate, Error, ExitCode, Root, EXIT_CODES_HELP};

const CONFIG_HELP: &str = "\
Configuration: /etc/dahdi-loader/*.conf (read in name order; # starts a comment)
  add MODULE...            load these too (echo cancellers, dahdi_dynamic_loc, ...)
  exclude MODULE...        never load these
  alias PATTERN MODULE     devices whose modalias matches PATTERN need MODULE
  dev-timeout SECONDS      wait this long for /dev/dahdi/ctl (default 10)";

#[derive(Debug, Parser)]
#[command(
    name = "dahdi-loader",
    version,
    about = "Checks that DKMS-built DAHDI matches every installed kernel, builds it when needed, and loads it",
    after_help = format!("{EXIT_CODES_HELP}\n\n{CONFIG_HELP}")
)]
struct Cli {
    /// Read the system under DIR instead of / (like depmod -b).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "/",
        env = "DAHDI_LOADER_ROOT"
    )]
    root: PathBuf,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Also show notes and the expected vermagic of each kernel.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Take this as the running kernel's release instead of uname -r (for tests and VMs).
    #[arg(
        long,
        global = true,
        value_name = "KVER",
        env = "DAHDI_LOADER_RUNNING_KERNEL"
    )]
    running_kernel: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show DAHDI's state on every installed kernel (the default).
    Status {
        /// Skip the symbol CRC comparison (faster).
        #[arg(long)]
        no_crcs: bool,
    },
    /// Check that DAHDI will load after booting a kernel (the running one by default).
    Verify {
        /// Kernel release to check.
        #[arg(value_name = "KVER", conflicts_with = "all")]
        kernel: Option<String>,
        /// Check every installed kernel.
        #[arg(long)]
        all: bool,
    },
    /// Build DAHDI for a kernel if needed; for the running kernel, load it and wait for
    /// /dev/dahdi/ctl. Safe to run many times at once.
    Ensure {
        /// Kernel release (default: the running kernel).
        #[arg(short = 'k', long = "kernel", value_name = "KVER")]
        kernel: Option<String>,
        /// Do not load modules, only build and verify.
        #[arg(long)]
        no_load: bool,
        /// Do not build, only verify and load.
        #[arg(long)]
        no_build: bool,
        /// The dkms program to run.
        #[arg(long, value_name = "PATH", default_value = dahdi_loader::build::DEFAULT_DKMS, env = "DAHDI_LOADER_DKMS")]
        dkms: PathBuf,
        /// Seconds to wait for another dahdi-loader to finish.
        #[arg(long, value_name = "SECS", default_value_t = dahdi_loader::lock::DEFAULT_TIMEOUT.as_secs())]
        lock_timeout: u64,
    },
    /// Exit 0 if a DAHDI module (or a configured alias) claims MODALIAS, else 1.
    /// Used by the udev rule; fast and read-only.
    MatchModalias {
        /// The device's modalias (udev's $env{MODALIAS}).
        modalias: String,
    },
}

fn main() -> ProcessExit {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ProcessExit::SUCCESS
                }
                _ => exit(ExitCode::Usage),
            };
        }
    };
    match run(&cli) {
        Ok(code) => exit(code),
        Err(e) => {
            report_error(&cli, &e);
            exit(e.exit_code())
        }
    }
}

fn exit(code: ExitCode) -> ProcessExit {
    ProcessExit::from(code as i32 as u8)
}

fn report_error(cli: &Cli, e: &Error) {
    eprintln!("dahdi-loader: {e}");
    if let Error::Build {
        log_tail: Some(tail),
        log_path,
        ..
    } = e
    {
        let from = log_path
            .as_ref()
            .map_or(String::new(), |p| format!(" ({})", p.display()));
        eprintln!("--- last lines of make.log{from} ---\n{tail}\n---");
    }
    if let Some(fix) = e.fix() {
        eprintln!("dahdi-loader: to fix: {fix}");
    }
    if cli.json {
        let v = serde_json::json!({
            "error": e.to_string(),
            "fix": e.fix(),
            "exit_code": e.exit_code() as i32,
        });
        println!("{v}");
    }
}

fn root(cli: &Cli) -> Result<Root, Error> {
    if !cli.root.is_dir() {
        return Err(Error::Usage(format!(
            "--root {} is not a directory",
            cli.root.display()
        )));
    }
    Ok(Root::new(&cli.root))
}

fn running(cli: &Cli) -> Result<Option<String>, Error> {
    if let Some(r) = &cli.running_kernel {
        validate::kernel_release(r)?;
    }
    Ok(cli.running_kernel.clone())
}

fn run(cli: &Cli) -> Result<ExitCode, Error> {
    let root = root(cli)?;
    match &cli.command {
        None => cmd_status(cli, root, false),
        Some(Command::Status { no_crcs }) => cmd_status(cli, root, *no_crcs),
        Some(Command::Verify { kernel, all }) => cmd_verify(cli, root, kernel.as_deref(), *all),
        Some(Command::Ensure {
            kernel,
            no_load,
            no_build,
            dkms,
            lock_timeout,
        }) => {
            if let Some(k) = kernel {
                validate::kernel_release(k)?;
            }
            let opts = Options {
                kernel: kernel.clone(),
                running: running(cli)?,
                load: !no_load,
                build: !no_build,
                dkms_program: dkms.clone(),
                lock_timeout: Duration::from_secs(*lock_timeout),
                quiet: cli.json && !std::io::stderr().is_terminal(),
            };
            let report = ensure::ensure(&root, &opts, &mut KernelInserter)?;
            if cli.json {
                print_json(&report)?;
            } else {
                println!("{}", describe_ensure(&report));
            }
            Ok(ExitCode::Ok)
        }
        Some(Command::MatchModalias { modalias }) => cmd_match(cli, root, modalias),
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), Error> {
    let s = serde_json::to_string_pretty(v)
        .map_err(|e| Error::Usage(format!("could not encode JSON: {e}")))?;
    println!("{s}");
    Ok(())
}

fn cmd_status(cli: &Cli, root: Root, no_crcs: bool) -> Result<ExitCode, Error> {
    let sys = System::load(root, running(cli)?)?;
    let report = status::system_report(&sys, Checks { crcs: !no_crcs })?;
    if cli.json {
        print_json(&report)?;
    } else {
        print!("{}", status::render(&report, cli.verbose));
    }
    Ok(ExitCode::from(report.verdict))
}

fn cmd_verify(cli: &Cli, root: Root, kernel: Option<&str>, all: bool) -> Result<ExitCode, Error> {
    let sys = System::load(root, running(cli)?)?;
    let kernels = if all {
        sys.kernels()?
            .into_iter()
            .filter(|k| !k.is_leftover())
            .collect()
    } else {
        let release = match kernel {
            Some(k) => k.to_string(),
            None => sys.running.clone().ok_or_else(|| {
                Error::Usage(
                    "cannot tell which kernel is running; name one: dahdi-loader verify KVER"
                        .into(),
                )
            })?,
        };
        vec![sys.kernel(&release)?]
    };
    let reports: Vec<KernelReport> = kernels
        .iter()
        .map(|k| verify::verify_kernel(&sys, k, Checks::default()))
        .collect();
    let verdict = reports
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(verify::Verdict::Ok);
    if cli.json {
        print_json(&reports)?;
    } else {
        for r in &reports {
            print!("{}", describe_verify(r, cli.verbose));
        }
    }
    Ok(ExitCode::from(verdict))
}

fn describe_verify(r: &KernelReport, verbose: bool) -> String {
    let mut s = String::new();
    let present = r.modules_present();
    let crcs: usize = r.modules.iter().map(|m| m.crcs_checked).sum();
    let verdict = match r.verdict {
        verify::Verdict::Ok => "DAHDI will load".to_string(),
        verify::Verdict::NotApplicable => {
            "nothing to check (this kernel cannot load modules here)".to_string()
        }
        v => format!("DAHDI would NOT load ({})", v.as_str()),
    };
    s.push_str(&format!(
        "kernel {}: {verdict}; {present}/{} modules present, {crcs} symbol CRCs checked",
        r.kernel.release,
        r.modules.len()
    ));
    if let Some(a) = &r.abi {
        s.push_str(&format!(", vermagic {:?}", a.vermagic));
    }
    s.push('\n');
    for f in &r.findings {
        if f.severity == Severity::Info && !verbose {
            continue;
        }
        s.push_str(&format!("  {}\n", f.message));
        if let Some(fix) = &f.fix {
            s.push_str(&format!("    fix: {fix}\n"));
        }
    }
    s
}

fn describe_ensure(r: &ensure::Report) -> String {
    let mut s = format!("kernel {}: DAHDI verified", r.kernel);
    if r.built {
        s.push_str(" (built with DKMS)");
    }
    if !r.loaded.is_empty() {
        let names: Vec<String> = r
            .loaded
            .iter()
            .map(|(n, o)| match o {
                dahdi_loader::load::Outcome::Loaded => n.clone(),
                dahdi_loader::load::Outcome::AlreadyLoaded => format!("{n} (already loaded)"),
                dahdi_loader::load::Outcome::BuiltIn => format!("{n} (built in)"),
            })
            .collect();
        s.push_str(&format!("; modules: {}", names.join(", ")));
    }
    if let Some(ms) = r.dev_ready_ms {
        s.push_str(&format!("; /dev/dahdi/ctl ready after {ms} ms"));
    }
    s
}

fn cmd_match(cli: &Cli, root: Root, modalias: &str) -> Result<ExitCode, Error> {
    validate::modalias(modalias)?;
    let sys = System::load(root, running(cli)?)?;
    let names: HashSet<String> = sys.module_names().into_iter().collect();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    // The running kernel's modules first; if DAHDI is not built for it yet (the case the
    // loader exists for), any DKMS build has the same aliases.
    if let Some(r) = &sys.running {
        if let Ok(index) = modindex::KernelIndex::build(&sys.root, r, &names, &sys.depmod) {
            for (n, p) in index.picks {
                if let Some(c) = p.chosen {
                    files.push((n, c.path));
                }
            }
        }
    }
    if files.is_empty() {
        if let Some(m) = &sys.dkms {
            if let Some(b) = m.versions.iter().rev().flat_map(|v| v.builds.iter()).next() {
                files.extend(
                    b.modules
                        .iter()
                        .filter_map(|p| Some((dahdi_loader::dkms::module_stem(p)?, p.clone()))),
                );
            }
        }
    }
    let mut aliases = sys.config.aliases.clone();
    for (name, path) in files {
        if let Ok(info) = dahdi_loader::elf::read_module_file(&path) {
            aliases.extend(info.aliases().into_iter().map(|a| (a, name.clone())));
        }
    }
    let device = hw::Device {
        bus: modalias.split(':').next().unwrap_or("").to_string(),
        sysname: String::new(),
        modalias: modalias.to_string(),
    };
    let matches = hw::match_devices(&[device], &aliases);
    if cli.json {
        print_json(&matches)?;
    } else {
        for m in &matches {
            println!("{} {}", m.module, m.alias);
        }
    }
    Ok(if matches.is_empty() {
        ExitCode::NeedsBuild
    } else {
        ExitCode::Ok
    })
}
