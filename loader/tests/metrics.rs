//! `dahdi-loader metrics`: the node_exporter textfile, read back by Prometheus' own
//! text-format parser (the `prometheus_client` Python package,
//! `text_string_to_metric_families`), with every value expected from what the fixture is
//! (which kernels it has and what is wrong with them, what /proc/modules lists, the build
//! the test ran and when), never from the loader's output.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::fake_dkms::*;
use common::*;

/// Debian's python3, where apt installs python3-prometheus-client (a python3 earlier in
/// PATH, such as pyenv's, does not see Debian's packages).
const PYTHON: &str = "/usr/bin/python3";

/// The parser's view of a textfile: family name to (type, help, samples), each sample its
/// name, labels and value.
type Families = BTreeMap<String, (String, String, Vec<(String, BTreeMap<String, String>, f64)>)>;

fn parse(text: &str) -> Families {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = [f.type, f.documentation, [[s.name, s.labels, s.value] for s in f.samples]]
print(json.dumps(out))
"#;
    let mut child = Command::new(PYTHON)
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 is needed (apt-get install python3 python3-prometheus-client)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Prometheus' parser refused the file (apt-get install python3-prometheus-client if it \
         is missing; scripts/install.sh does): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value of the sample of `family` with exactly `pairs` as labels.
fn value(f: &Families, family: &str, pairs: &[(&str, &str)]) -> f64 {
    let want = labels(pairs);
    let (_, _, samples) = f
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    let hits: Vec<f64> = samples
        .iter()
        .filter(|(n, l, _)| n == family && *l == want)
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(hits.len(), 1, "{family}{want:?} in {samples:?}");
    hits[0]
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64
}

#[test]
fn textfile_parses_with_prometheus_and_says_what_the_fixture_is() {
    // Kernel K: DAHDI built by `ensure` (through the dkms stand-in), so the loader has a
    // last build to report.
    let f = Fixture::bare();
    f.depmod();
    let (k, v) = (f.real.kernel.clone(), f.real.version.clone());
    let fake = FakeDkms::new(&f.real.modules);
    let before_build = now();
    let out = ensure_cmd(&f, &fake, "ok").output().unwrap();
    let after_build = now();
    assert!(out.status.success(), "{}", dahdi_tests::output::text(&out));

    // K is the running kernel: two DAHDI modules loaded (with the files' srcversion, as
    // modinfo reads it) beside one that is not DAHDI's, and /dev/dahdi/ctl is there.
    let loaded = ["dahdi", "wcfxo"];
    let mut proc_modules = String::from("snd 1 0 - Live 0x0000000000000000\n");
    for m in loaded {
        proc_modules.push_str(&format!("{m} 1 0 - Live 0x0000000000000000\n"));
        // Only modules with a MODULE_VERSION have one (here dahdi).
        if let Some(src) = modinfo("srcversion", &f.module(m)).first() {
            f.write(&format!("/sys/module/{m}/srcversion"), format!("{src}\n"));
        }
    }
    f.write("/proc/modules", proc_modules);
    f.write("/dev/dahdi/ctl", "");
    // Kernel K2: installed (image and module directory), no DAHDI modules: "needs build"
    // (README's exit codes: modules are missing for a kernel, exit 1).
    let k2 = other_release(&k);
    f.write(&format!("/boot/vmlinuz-{k2}"), "");
    std::fs::create_dir_all(f.path(&format!("/lib/modules/{k2}"))).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dahdi-loader.prom");
    let before = now();
    let out = f.run(&[
        "--running-kernel",
        &k,
        "metrics",
        "--output",
        file.to_str().unwrap(),
    ]);
    let after = now();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        dahdi_tests::output::text(&out)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout with --output");
    // Written by rename: the file and nothing else (no temporary left).
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["dahdi-loader.prom"]);
    let text = std::fs::read_to_string(&file).unwrap();
    let fams = parse(&text);

    let expected = [
        "dahdi_loader_kernel_verdict",
        "dahdi_loader_status_exit_code",
        "dahdi_loader_running_kernel_info",
        "dahdi_loader_modules_loaded",
        "dahdi_loader_modules_wanted",
        "dahdi_loader_dev_dahdi_ctl",
        "dahdi_loader_last_build_result",
        "dahdi_loader_last_build_timestamp_seconds",
        "dahdi_loader_metrics_generated_timestamp_seconds",
    ];
    assert_eq!(
        fams.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut e = expected.to_vec();
            e.sort();
            e
        },
        "{text}"
    );
    for (name, (kind, help, _)) in &fams {
        assert_eq!(kind, "gauge", "{name}");
        assert!(!help.is_empty(), "{name} has no HELP");
    }

    // Each kernel's verdict: 1 on its own word, 0 on every other (the words JSON uses,
    // README "JSON").
    let words = [
        "ok",
        "needs-build",
        "mismatch",
        "build-failed",
        "broken",
        "not-applicable",
    ];
    for (kernel, verdict) in [(k.as_str(), "ok"), (k2.as_str(), "needs-build")] {
        for w in words {
            assert_eq!(
                value(
                    &fams,
                    "dahdi_loader_kernel_verdict",
                    &[("kernel", kernel), ("verdict", w)]
                ),
                if w == verdict { 1.0 } else { 0.0 },
                "{kernel} {w}\n{text}"
            );
        }
    }
    assert_eq!(fams["dahdi_loader_kernel_verdict"].2.len(), 2 * words.len());
    assert_eq!(value(&fams, "dahdi_loader_status_exit_code", &[]), 1.0);
    assert_eq!(
        value(&fams, "dahdi_loader_running_kernel_info", &[("kernel", &k)]),
        1.0
    );
    assert_eq!(
        value(&fams, "dahdi_loader_modules_loaded", &[]),
        loaded.len() as f64
    );
    // No hardware and no configuration: ensure loads dahdi alone.
    assert_eq!(value(&fams, "dahdi_loader_modules_wanted", &[]), 1.0);
    assert_eq!(value(&fams, "dahdi_loader_dev_dahdi_ctl", &[]), 1.0);

    let build = [("kernel", k.as_str()), ("module", "dahdi"), ("version", &v)];
    for (result, expect) in [("ok", 1.0), ("failed", 0.0), ("rejected", 0.0)] {
        let mut l = build.to_vec();
        l.push(("result", result));
        assert_eq!(
            value(&fams, "dahdi_loader_last_build_result", &l),
            expect,
            "{result}"
        );
    }
    let built_at = value(&fams, "dahdi_loader_last_build_timestamp_seconds", &build);
    assert!(
        (before_build..=after_build).contains(&built_at),
        "{built_at} not in {before_build}..={after_build}"
    );
    let made = value(
        &fams,
        "dahdi_loader_metrics_generated_timestamp_seconds",
        &[],
    );
    assert!((before..=after).contains(&made), "{made}");

    // A failed build replaces the record: result failed.
    let g = Fixture::bare();
    g.depmod();
    let fake = FakeDkms::new(&g.real.modules);
    let out = ensure_cmd(&g, &fake, "fail").output().unwrap();
    assert!(!out.status.success());
    let out = g.run(&["--running-kernel", "0.0.0-test", "metrics"]);
    assert_eq!(out.status.code(), Some(0));
    let fams = parse(&String::from_utf8(out.stdout).unwrap());
    let mut l = build.to_vec();
    l.push(("result", "failed"));
    assert_eq!(value(&fams, "dahdi_loader_last_build_result", &l), 1.0);
    // Nothing known about a running kernel that is not installed: no sample, not a zero.
    assert!(fams["dahdi_loader_modules_loaded"].2.is_empty());
}

#[test]
fn label_values_survive_prometheus_parser_whatever_they_hold() {
    // The loader's names cannot hold these (src/metrics.rs says why); the escaping must
    // still be the text format's, checked by its own parser.
    let hostile = [
        r#"6.1.0 "quoted""#,
        r"back\slash",
        "new\nline",
        r#"all\"three\n"#,
    ];
    let mut text = String::from("# HELP x a test\n# TYPE x gauge\n");
    for (i, h) in hostile.iter().enumerate() {
        text.push_str(&format!(
            "x{{kernel=\"{}\",i=\"{i}\"}} 1\n",
            dahdi_loader::metrics::escape_label_value(h)
        ));
    }
    let fams = parse(&text);
    for (i, h) in hostile.iter().enumerate() {
        assert_eq!(
            value(&fams, "x", &[("kernel", h), ("i", &i.to_string())]),
            1.0,
            "{h:?}"
        );
    }
}

#[test]
fn an_unwritable_output_is_an_error_and_leaves_nothing() {
    let f = Fixture::installed();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/dahdi-loader.prom");
    let out = f.run(&[
        "--running-kernel",
        "0.0.0-test",
        "metrics",
        "-o",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "an I/O error is exit 3");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-dir"));
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    assert!(!Path::new(&missing).exists());
}
