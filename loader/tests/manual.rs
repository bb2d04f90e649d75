//! The man page and shell completions build.rs writes: they render with the real man and
//! bash, and cover what the binary's own clap definition, exit-code table and constants say.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

use dahdi_loader::cli::Cli;
use dahdi_loader::report::EXIT_CODES;

fn generated(rel: &str) -> PathBuf {
    Path::new(env!("OUT_DIR")).join(rel)
}

/// The page as `man` shows it to an operator (plain text: stdout is not a terminal).
fn rendered_page() -> String {
    let out = Command::new("man")
        .arg("-l")
        .arg(generated("man8/dahdi-loader.8"))
        .env("MANWIDTH", "200")
        .output()
        .expect("man (package man-db) is needed to render the page");
    assert!(
        out.status.success(),
        "man -l: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn groff_renders_the_page_without_warnings() {
    // -ww: every warning; -z: no output, only diagnostics.
    let out = Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .arg(generated("man8/dahdi-loader.8"))
        .output()
        .expect("groff is needed to check the man page");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.is_empty(), "{err}");
}

#[test]
fn page_documents_every_command_exit_code_and_file() {
    let page = rendered_page();
    for section in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "COMMANDS",
        "EXIT STATUS",
        "CONFIGURATION",
        "ENVIRONMENT",
        "FILES",
    ] {
        assert!(
            page.lines().any(|l| l == section),
            "no {section} section:\n{page}"
        );
    }
    // Every command and option of the definition the binary parses with.
    let mut cli = Cli::command();
    cli.build();
    for sub in cli.get_subcommands() {
        assert!(
            page.contains(&format!("dahdi-loader {}", sub.get_name())),
            "{} missing:\n{page}",
            sub.get_name()
        );
        for a in sub.get_arguments() {
            if let Some(long) = a.get_long() {
                assert!(page.contains(&format!("--{long}")), "--{long} missing");
            }
        }
    }
    // Every exit code, with its meaning (the words `man` may hyphenate are compared with
    // whitespace squeezed, on a line-joined copy).
    let flat: String = page.split_whitespace().collect::<Vec<_>>().join(" ");
    for (code, meaning) in EXIT_CODES {
        let first_words: String = meaning
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            flat.contains(&format!("{} {first_words}", *code as i32)),
            "exit code {} missing:\n{page}",
            *code as i32
        );
    }
    // The directives the configuration reader takes (loader/README.md lists the same).
    for directive in [
        "add MODULE",
        "exclude MODULE",
        "alias PATTERN MODULE",
        "dev-timeout SECONDS",
        "build-timeout MINUTES",
        "boot-guard on|off",
    ] {
        assert!(page.contains(directive), "{directive} missing");
    }
    // The files the code and dist/ define.
    for path in [
        dahdi_loader::lock::LOCK_PATH.to_string(),
        format!("{}/*.conf", dahdi_loader::config::CONFIG_DIR),
        format!("{}/", dahdi_loader::failed::FAILED_DIR),
        dahdi_loader::bootguard::STATE.to_string(),
        dahdi_loader::modules_load::DENY_LIST.to_string(),
        "/lib/udev/rules.d/90-dahdi-loader.rules".into(),
        "/etc/kernel/postinst.d/zz-dahdi-loader".into(),
    ] {
        assert!(flat.contains(&path), "{path} missing from FILES:\n{page}");
    }
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/systemd");
    for unit in std::fs::read_dir(units).unwrap() {
        let name = unit.unwrap().file_name().into_string().unwrap();
        assert!(
            flat.contains(&format!("/lib/systemd/system/{name}")),
            "{name} missing from FILES"
        );
    }
    // Environment variables clap reads.
    for env in [
        "DAHDI_LOADER_ROOT",
        "DAHDI_LOADER_RUNNING_KERNEL",
        "DAHDI_LOADER_DKMS",
    ] {
        assert!(page.contains(env), "{env} missing");
    }
}

#[test]
fn packaged_copy_is_the_page_this_build_wrote() {
    // cargo-deb packs target/<profile>/dahdi-loader-generated; OUT_DIR is
    // target/<profile>/build/dahdi-loader-HASH/out.
    let profile = Path::new(env!("OUT_DIR")).ancestors().nth(3).unwrap();
    for rel in [
        "man8/dahdi-loader.8",
        "completions/dahdi-loader",
        "completions/_dahdi-loader",
        "completions/dahdi-loader.fish",
    ] {
        let packaged = std::fs::read(profile.join("dahdi-loader-generated").join(rel)).unwrap();
        assert_eq!(packaged, std::fs::read(generated(rel)).unwrap(), "{rel}");
    }
}

#[test]
fn bash_completes_every_command() {
    let script = format!(
        // The function the script registers for dahdi-loader, called as bash calls it.
        "source {}; f=$(complete -p dahdi-loader | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p'); \
         COMP_WORDS=(dahdi-loader ''); COMP_CWORD=1; COMP_LINE='dahdi-loader '; \
         COMP_POINT=13; \"$f\" dahdi-loader '' dahdi-loader; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        generated("completions/dahdi-loader").display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &script])
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for sub in Cli::command().get_subcommands() {
        assert!(
            words.lines().any(|w| w == sub.get_name()),
            "{} not offered: {words}",
            sub.get_name()
        );
    }
    // After `verify`, its own flag is offered.
    let script = script
        .replace("(dahdi-loader '')", "(dahdi-loader verify '')")
        .replace("COMP_CWORD=1", "COMP_CWORD=2")
        .replace("'dahdi-loader '", "'dahdi-loader verify '")
        .replace("COMP_POINT=13", "COMP_POINT=20")
        .replace("dahdi-loader '' dahdi-loader;", "dahdi-loader '' verify;");
    let out = Command::new("bash")
        .args(["--norc", "-c", &script])
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(words.lines().any(|w| w == "--all"), "{words}");
}

#[test]
fn match_modalias_exit_codes_are_in_its_section_of_the_page() {
    let page = rendered_page();
    let section = page
        .split("   match-modalias")
        .nth(1)
        .expect("a match-modalias section")
        .split("\nEXIT STATUS")
        .next()
        .unwrap();
    assert!(
        section.contains("Exit status of match-modalias:"),
        "{section}"
    );
    // One line per code, kept as lines (not filled into a paragraph).
    for (c, what) in [
        (0, "claims MODALIAS"),
        (1, "nothing claims it"),
        (3, "could not be read"),
        (64, "MODALIAS is malformed"),
    ] {
        assert!(
            section
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{c} ")) && l.contains(what)),
            "exit {c} not on its own line:\n{section}"
        );
    }
}
