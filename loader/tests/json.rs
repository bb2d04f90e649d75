//! The `--json` format as loader/README.md documents it: every command's document carries
//! the schema version and its command, has words rather than internals (no lists of pairs,
//! no ELF numbers), and has the fields the README's example for it shows; the README's
//! table of finding codes is the set of codes the loader has, and each one is emitted
//! somewhere in the source.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory;
use serde_json::Value;

use common::*;
use dahdi_loader::cli::Cli;
use dahdi_loader::json::SCHEMA_VERSION;
use dahdi_loader::report::Code;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The README's "## JSON" section.
fn json_section(readme: &str) -> &str {
    let start = readme
        .find("\n## JSON\n")
        .expect("README has a JSON section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The ```json examples of the JSON section.
fn examples(readme: &str) -> Vec<Value> {
    json_section(readme)
        .split("```json\n")
        .skip(1)
        .map(|block| {
            let text = &block[..block.find("```").unwrap()];
            serde_json::from_str(text).unwrap_or_else(|e| panic!("README example: {e}\n{text}"))
        })
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Fails on what the README promises JSON does not have: a list of lists (tuples), or an ELF
/// machine as a number.
fn assert_words_not_internals(v: &Value, at: &str) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert!(!item.is_array(), "{at}[{i}] is a list of lists: {v}");
                assert_words_not_internals(item, &format!("{at}[{i}]"));
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                assert!(
                    !(k == "machine" && item.is_number()),
                    "{at}.machine is a raw ELF number"
                );
                assert_words_not_internals(item, &format!("{at}.{k}"));
            }
        }
        _ => {}
    }
}

/// Each command's document on a fixture of this machine's real DKMS build.
fn documents(f: &Fixture) -> Vec<(String, Value)> {
    let k = f.real.kernel.clone();
    let alias = modinfo("alias", &f.module("wcb4xxp"))
        .into_iter()
        .find(|a| a.starts_with("pci:"))
        .unwrap()
        .replace('*', "0");
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("status", vec!["--json"]),
        ("status", vec!["--json", "status", "--no-crcs"]),
        ("verify", vec!["--json", "verify", "--all"]),
        ("verify", vec!["--json", "verify", &k]),
        (
            "ensure",
            vec!["--json", "ensure", "--no-build", "--no-load", "-k", &k],
        ),
        ("guard", vec!["--json", "guard", "--dry-run"]),
        ("match-modalias", vec!["--json", "match-modalias", &alias]),
        ("metrics", vec!["--json", "metrics", "--no-crcs"]),
        ("modules-load-check", vec!["--json", "modules-load-check"]),
        // An error: a kernel that is not installed.
        ("verify", vec!["--json", "verify", "9.9.9-missing"]),
    ];
    runs.into_iter()
        .map(|(command, args)| {
            let mut all = vec!["--running-kernel", k.as_str()];
            all.extend(args.iter().copied());
            let out = f.run(&all);
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{all:?}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&out.stdout)
                )
            });
            (command.to_string(), v)
        })
        .collect()
}

#[test]
fn every_command_writes_a_versioned_document_of_words() {
    let f = Fixture::installed();
    let docs = documents(&f);
    for (command, v) in &docs {
        assert_eq!(v["schema_version"], SCHEMA_VERSION, "{command}: {v:#}");
        assert_eq!(v["command"], command.as_str(), "{v:#}");
        assert_words_not_internals(v, command);
    }
    // Every command of the command line is among them.
    let covered: BTreeSet<&str> = docs.iter().map(|(c, _)| c.as_str()).collect();
    for sub in Cli::command().get_subcommands() {
        assert!(covered.contains(sub.get_name()), "{}", sub.get_name());
    }
    // The machine is named (the fixture's in-tree modules are this machine's).
    let status = &docs[0].1;
    let machine = &status["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kernel"]["release"] == f.real.kernel.as_str())
        .unwrap()["abi"]["machine"];
    if cfg!(target_arch = "x86_64") {
        assert_eq!(machine, "x86-64");
    }
    // ensure's loaded modules are objects with named fields (empty here: --no-load).
    assert!(docs[4].1["loaded"].is_array());
}

#[test]
fn readme_examples_have_the_fields_the_commands_write() {
    let f = Fixture::installed();
    let docs = documents(&f);
    let readme = readme();
    let examples = examples(&readme);
    let mut documented = BTreeSet::new();
    for ex in &examples {
        assert_eq!(ex["schema_version"], SCHEMA_VERSION, "{ex:#}");
        let command = ex["command"].as_str().expect("example names its command");
        let is_error = ex.get("error").is_some();
        // The real document of the same command and kind (error or not).
        let (_, real) = docs
            .iter()
            .find(|(c, v)| c == command && v.get("error").is_some() == is_error)
            .unwrap_or_else(|| panic!("no run of {command} to compare with"));
        assert_eq!(keys(ex), keys(real), "README example of {command}");
        assert_words_not_internals(ex, command);
        documented.insert(command.to_string());
        // Codes in examples are real codes.
        for k in ex["kernels"].as_array().into_iter().flatten() {
            for finding in k["findings"].as_array().into_iter().flatten() {
                let code = finding["code"].as_str().unwrap();
                assert!(code_names().contains(code), "example code {code}");
            }
        }
    }
    for sub in Cli::command().get_subcommands() {
        assert!(
            documented.contains(sub.get_name()),
            "README has no JSON example of {}",
            sub.get_name()
        );
    }
}

/// The codes as JSON spells them.
fn code_names() -> BTreeSet<String> {
    Code::ALL
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn readme_finding_codes_are_the_codes_the_loader_emits() {
    let readme = readme();
    let section = json_section(&readme);
    let table = &section[section.find("### Finding codes").expect("codes table")..];
    let documented: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l[..l.find('`').unwrap()].to_string())
        .collect();
    assert_eq!(documented, code_names());

    // Each code is constructed somewhere outside the file that declares it.
    let mut source = String::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("src/report.rs")
            {
                source.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    for c in Code::ALL {
        let variant = format!("Code::{c:?}");
        let emitted = source.match_indices(&variant).any(|(i, _)| {
            // Not a longer name that starts the same (Code::Unsigned vs Code::UnsignedX).
            !source[i + variant.len()..].starts_with(|ch: char| ch.is_alphanumeric())
        });
        assert!(emitted, "{variant} is never emitted");
    }
}
