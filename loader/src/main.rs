//! `dahdi-loader`: status, verify, ensure (see `dahdi-loader --help`). This file parses the
//! command line (defined in the library's `cli`) and dispatches to the library; every decision and every sentence is there.

use std::io::IsTerminal;
use std::process::ExitCode as ProcessExit;
use std::time::Duration;

use clap::Parser;

use dahdi_loader::cli::{Cli, Command};
use dahdi_loader::ensure::{self, Options};
use dahdi_loader::journal::{self, Lines, Priority};
use dahdi_loader::load::KernelInserter;
use dahdi_loader::names::KernelRelease;
use dahdi_loader::report::Verdict;
use dahdi_loader::system::System;
use dahdi_loader::verify::{self, Checks, KernelReport};
use dahdi_loader::{json, metrics, modalias, render, status, Error, ExitCode, Root};

fn main() -> ProcessExit {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let help = matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            );
            // clap's own printing keeps its colours for people; the journal gets priorities.
            match (
                help,
                journal::stdout_is_journal(),
                journal::stderr_is_journal(),
            ) {
                (true, true, _) => {
                    journal::print(&Lines::of(Priority::Info, &e.render().to_string()))
                }
                (false, _, true) => {
                    journal::eprint(&Lines::of(Priority::Err, &e.render().to_string()))
                }
                _ => {
                    let _ = e.print();
                }
            }
            return if help {
                ProcessExit::SUCCESS
            } else {
                exit(ExitCode::Usage)
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
    journal::eprint(&render::error(e));
    if cli.json {
        journal::print(&Lines::of(
            Priority::Info,
            &json::error_document(cli.command_name(), e),
        ));
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

fn run(cli: &Cli) -> Result<ExitCode, Error> {
    let root = root(cli)?;
    let running = cli.running_kernel.clone();
    match &cli.command {
        None => cmd_status(cli, root, false),
        Some(Command::Status { no_crcs }) => cmd_status(cli, root, *no_crcs),
        Some(Command::Verify { kernel, all }) => cmd_verify(cli, root, kernel.as_ref(), *all),
        Some(Command::Ensure {
            kernel,
            no_load,
            no_build,
            dkms,
            lock_timeout,
            force,
        }) => {
            let opts = Options {
                kernel: kernel.clone(),
                running,
                load: !no_load,
                build: !no_build,
                dkms_program: dkms.clone(),
                lock_timeout: Duration::from_secs(*lock_timeout),
                quiet: cli.json && !std::io::stderr().is_terminal(),
                force: *force,
            };
            let report = ensure::ensure(&root, &opts, &mut KernelInserter)?;
            if cli.json {
                print_json(cli, &report)?;
            } else {
                journal::print(&render::ensure(&report));
            }
            Ok(ExitCode::Ok)
        }
        Some(Command::Guard {
            dry_run,
            lock_timeout,
        }) => {
            let report = dahdi_loader::bootguard::guard_command(
                &root,
                running,
                !dry_run,
                Duration::from_secs(*lock_timeout),
            )?;
            if cli.json {
                print_json(cli, &report)?;
            } else {
                journal::print(&render::guard(&report));
            }
            // No module directory for the kernel the next boot starts: DAHDI needs a build.
            Ok(match &report.next_boot {
                None => ExitCode::Ok,
                Some(c) => c.verdict.map_or(ExitCode::NeedsBuild, ExitCode::from),
            })
        }
        Some(Command::Metrics { output, no_crcs }) => {
            let sys = System::load(root, running)?;
            let text = metrics::generate(&sys, Checks { crcs: !no_crcs })?;
            if let Some(path) = output {
                metrics::write(path, &text)?;
            }
            if cli.json {
                print_json(
                    cli,
                    &serde_json::json!({ "output": output, "textfile": text }),
                )?;
            } else if output.is_none() {
                journal::print(&Lines::of(Priority::Info, &text));
            }
            Ok(ExitCode::Ok)
        }
        Some(Command::ModulesLoadCheck) => {
            let check = dahdi_loader::modules_load::check(&root, running)?;
            dahdi_loader::modules_load::apply(&root, &check)?;
            if cli.json {
                print_json(cli, &check)?;
            } else if let Some(m) = &check.message {
                journal::print(&Lines::of(Priority::Warning, m));
            }
            Ok(ExitCode::Ok)
        }
        Some(Command::MatchModalias { modalias: m }) => {
            let sys = System::load(root, running)?;
            let matches = modalias::match_modalias(&sys, m);
            if cli.json {
                print_json(
                    cli,
                    &serde_json::json!({ "modalias": m.as_str(), "matches": matches }),
                )?;
            } else {
                for m in &matches {
                    journal::print(&Lines::of(
                        Priority::Info,
                        &format!("{} {}", m.module, m.alias),
                    ));
                }
            }
            Ok(if matches.is_empty() {
                ExitCode::NeedsBuild
            } else {
                ExitCode::Ok
            })
        }
    }
}

fn print_json<T: serde::Serialize>(cli: &Cli, body: &T) -> Result<(), Error> {
    journal::print(&Lines::of(
        Priority::Info,
        &json::document(cli.command_name(), body)?,
    ));
    Ok(())
}

fn cmd_status(cli: &Cli, root: Root, no_crcs: bool) -> Result<ExitCode, Error> {
    let sys = System::load(root, cli.running_kernel.clone())?;
    let report = status::system_report(&sys, Checks { crcs: !no_crcs })?;
    if cli.json {
        print_json(cli, &report)?;
    } else {
        journal::print(&render::status(&report, cli.verbose));
    }
    Ok(ExitCode::from(report.verdict))
}

fn cmd_verify(
    cli: &Cli,
    root: Root,
    kernel: Option<&KernelRelease>,
    all: bool,
) -> Result<ExitCode, Error> {
    let sys = System::load(root, cli.running_kernel.clone())?;
    let kernels = if all {
        sys.kernels()?
            .into_iter()
            .filter(|k| !k.is_leftover())
            .collect()
    } else {
        let release = match kernel {
            Some(k) => k.clone(),
            None => sys.running.clone().ok_or_else(|| {
                Error::Usage(
                    "cannot tell which kernel is running; name one: dahdi-loader verify KVER"
                        .into(),
                )
            })?,
        };
        vec![sys.kernel(&release)?]
    };
    let mut reports: Vec<KernelReport> = kernels
        .iter()
        .map(|k| verify::verify_kernel(&sys, k, Checks::default()))
        .collect();
    if reports.iter().any(|r| r.failed_build.is_some()) && !all {
        // "Build failed" names the kernels where DAHDI loads: that takes all of them.
        let mut every: Vec<KernelReport> = sys
            .kernels()?
            .iter()
            .filter(|k| !k.is_leftover())
            .map(|k| verify::verify_kernel(&sys, k, Checks::default()))
            .collect();
        verify::name_kernels_that_load(&mut every);
        for r in &mut reports {
            if let Some(named) = every.iter().find(|e| e.kernel.release == r.kernel.release) {
                r.findings = named.findings.clone();
            }
        }
    } else {
        verify::name_kernels_that_load(&mut reports);
    }
    let verdict = reports
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Ok);
    if cli.json {
        print_json(cli, &serde_json::json!({ "kernels": reports }))?;
    } else {
        for r in &reports {
            journal::print(&render::verify(r, cli.verbose));
        }
    }
    Ok(ExitCode::from(verdict))
}
