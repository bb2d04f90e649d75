//! The lsdahdi example against dahdi-tools' lsdahdi and dahdi_scan, and its
//! command line.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use dahdi::{Alarms, Channel, Ctl, DynamicSpan, Signalling};

use crate::channel_io::wait_until;
use crate::dahdi_tools::{dahdi_cfg, dahdi_scan, run};
use crate::fixtures::{wait_alarms_clear, LoopPair};

/// Bundles (clear=, fcshdlc=), signalling of several kinds, unconfigured
/// channels, an echo canceller, and a third span without a peer (in alarm).
const LSDAHDI_CONF: &str = "\
dynamic=loc,0:0,24,0
dynamic=loc,0:1,24,0
dynamic=loc,9:0,2,0
clear=1-4
fxsks=5-8
bchan=9-24
fcshdlc=25-27
fxoks=28-31
echocanceller=mg2,28-31
bchan=49-50
";

/// The spans of LSDAHDI_CONF, removed (with the zone dahdi_cfg loads) when
/// dropped.
struct LsdahdiSpans<'a>(&'a Ctl);

impl Drop for LsdahdiSpans<'_> {
    fn drop(&mut self) {
        for (key, id, n) in [(9, 0, 2), (0, 1, 24), (0, 0, 24)] {
            let r = self
                .0
                .destroy_dynamic_span(&DynamicSpan::local(key, id, n).unwrap());
            if !std::thread::panicking() {
                r.unwrap();
            }
        }
        let _ = self.0.free_tone_zone(0);
    }
}

/// One channel line of dahdi-tools' lsdahdi (`%3d %-10s %-10s %s %s %s`:
/// number, type, signalling, remarks in parentheses, battery, alarms), read
/// back with the words of its own parser (Dahdi::Chans).
#[derive(Debug)]
struct PerlChannel {
    signalling: String,
    remarks: String,
    alarms: Alarms,
}

fn perl_channel(line: &str) -> (i32, PerlChannel) {
    let mut rest = line.trim().to_owned();
    let mut remarks = String::new();
    while let (Some(a), Some(b)) = (rest.find('('), rest.find(')')) {
        remarks.push_str(&rest[a..=b]);
        rest.replace_range(a..=b, " ");
    }
    let mut words = rest.split_whitespace();
    let num: i32 = words.next().unwrap().parse().unwrap();
    let _type = words.next().unwrap();
    let rest: Vec<&str> = words.collect();
    let alarms = Alarms::from_kernel_string(&rest.join(" "));
    let signalling = rest
        .iter()
        .copied()
        .filter(|w| Alarms::from_kernel_string(w).is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (
        num,
        PerlChannel {
            signalling,
            remarks,
            alarms,
        },
    )
}

/// The lsdahdi example and dahdi-tools agree on the real driver, for spans
/// dahdi_cfg configured: every span's name, description, timing master,
/// channel count, base channel and state (dahdi_scan's alarms= line), and
/// every channel's signalling, use, alarms and echo canceller as dahdi-tools'
/// lsdahdi prints them (from /proc/dahdi). Bundles are what the system.conf
/// asked for, and the masters are the channels /proc marks "Master" (which
/// dahdi-tools' lsdahdi does not parse: it warns about them). The text
/// shows the same.
pub(crate) fn lsdahdi_agrees_with_dahdi_tools() {
    let ctl = Ctl::open().unwrap();
    assert!(ctl.spans().unwrap().is_empty(), "start with no spans");
    let _spans = LsdahdiSpans(&ctl);
    dahdi_cfg(LSDAHDI_CONF);
    assert!(wait_alarms_clear(&ctl, 1).is_empty());
    assert!(wait_alarms_clear(&ctl, 2).is_empty());
    assert!(
        wait_until(Duration::from_secs(4), || ctl
            .span_info(3)
            .unwrap()
            .alarms
            .contains(Alarms::RED)),
        "the span without a peer goes RED"
    );
    let _in_use = Channel::open(9).unwrap();

    let (json, err, status) = run("/usr/bin/lsdahdi-rs", &["--json"]);
    assert!(status.success(), "lsdahdi --json: {status}: {err}");
    let listing: serde_json::Value = serde_json::from_str(&json).unwrap();
    let (text, err, status) = run("/usr/bin/lsdahdi-rs", &[]);
    assert!(status.success(), "lsdahdi: {status}: {err}");
    println!("lsdahdi example:\n{text}");
    let (perl, perl_err, status) = run("/usr/sbin/lsdahdi", &[]);
    assert!(
        status.success(),
        "dahdi-tools' lsdahdi: {status}: {perl_err}"
    );
    println!("dahdi-tools' lsdahdi:\n{perl}{perl_err}");
    let scan = dahdi_scan();

    assert_eq!(listing["ctl"], true);
    let spans = listing["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    // dahdi-tools' lsdahdi: "### Span %2d: NAME DESCRIPTION", then channels.
    let mut perl_spans: Vec<(String, String)> = Vec::new();
    let mut perl_chans: HashMap<i32, PerlChannel> = HashMap::new();
    for line in perl.lines() {
        if let Some(head) = line.strip_prefix("### Span ") {
            let (_, rest) = head.split_once(": ").unwrap();
            let (name, desc) = rest.split_once(' ').unwrap();
            perl_spans.push((name.to_owned(), desc.to_owned()));
        } else if !line.trim().is_empty() {
            let (n, c) = perl_channel(line);
            perl_chans.insert(n, c);
        }
    }
    assert_eq!(perl_spans.len(), 3, "{perl}");
    let mut masters_seen = Vec::new();
    for (s, (perl_name, perl_desc)) in spans.iter().zip(&perl_spans) {
        let n = s["span"].as_i64().unwrap() as i32;
        let scan = &scan[&n];
        assert_eq!(s["name"], scan["name"].as_str());
        assert_eq!(s["name"], perl_name.as_str());
        assert_eq!(s["description"], scan["description"].as_str());
        let desc = s["description"].as_str().unwrap();
        assert!(perl_desc.starts_with(&format!("\"{desc}\"")), "{perl_desc}");
        assert_eq!(
            s["is_sync_master"].as_bool().unwrap(),
            perl_desc.contains("(MASTER)")
        );
        assert_eq!(s["state"], scan["alarms"].as_str(), "span {n}");
        assert_eq!(
            s["status"]["total_channels"].to_string(),
            scan["totchans"],
            "span {n}"
        );
        assert_eq!(s["basechan"].to_string(), scan["basechan"], "span {n}");
        let head = text
            .lines()
            .find(|l| l.starts_with(&format!("### Span {n:2}:")))
            .unwrap();
        assert!(head.contains(&format!(" {}, ", scan["alarms"])), "{head}");
        for c in s["channel_list"].as_array().unwrap() {
            let num = c["channel"].as_i64().unwrap() as i32;
            let perl = &perl_chans[&num];
            let sig = if perl.signalling.is_empty() {
                "Unconfigured"
            } else {
                &perl.signalling
            };
            let sig = Signalling::from_kernel_name(sig).unwrap();
            assert_eq!(c["signalling"], format!("{sig:?}"), "channel {num}");
            assert_eq!(
                c["in_use"].as_bool().unwrap(),
                perl.remarks.contains("(In use)"),
                "channel {num}"
            );
            let alarms = c["alarms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| Alarms::from_name(a.as_str().unwrap()).unwrap())
                .fold(Alarms::empty(), |x, y| x | y);
            assert_eq!(alarms, perl.alarms, "channel {num}");
            let ec = c["ec_factory"].as_str().unwrap();
            assert_eq!(
                !ec.is_empty(),
                perl.remarks
                    .contains(&format!("(EC: {ec} - {})", c["ec_state"].as_str().unwrap())),
                "channel {num}: {}",
                perl.remarks
            );
            // The bundle, as LSDAHDI_CONF asks for it.
            let (master, slaves): (i32, Vec<i32>) = match num {
                1 => (1, vec![2, 3, 4]),
                2..=4 => (1, vec![]),
                25 => (25, vec![26, 27]),
                26..=27 => (25, vec![]),
                n => (n, vec![]),
            };
            assert_eq!(c["master"], master, "channel {num}");
            assert_eq!(c["slaves"], serde_json::json!(slaves), "channel {num}");
            let line = text
                .lines()
                .find(|l| l.split_whitespace().next() == Some(num.to_string().as_str()))
                .unwrap();
            if !slaves.is_empty() {
                masters_seen.push(c["name"].as_str().unwrap().to_owned());
                assert!(line.contains("Master of "), "{line}");
            }
            if master != num {
                assert!(line.contains(&format!("Slave of {master}")), "{line}");
            }
        }
    }
    assert_eq!(perl_chans.len(), 50);
    // /proc marks a master "Master", which dahdi-tools' parser calls garbage.
    let mut marked: Vec<String> = perl_err
        .lines()
        .filter(|l| {
            l.starts_with("Unrecognized garbage")
                && l.split('\'').nth(1).map(str::trim) == Some("Master")
        })
        .map(|l| l.rsplit(" in ").next().unwrap().trim().to_owned())
        .collect();
    marked.sort();
    masters_seen.sort();
    assert_eq!(marked, masters_seen, "{perl_err}");
    assert!(text.contains("(In use)"));
    assert!(text.contains("(EC: MG2 - INACTIVE)"));
}

/// The lsdahdi example as a command: --help, JSON errors under --json (a
/// missing sysfs, bad arguments), and a reader that is gone before the
/// listing is written (`lsdahdi | head`): no panic, a quiet exit.
pub(crate) fn lsdahdi_command_line() {
    let (out, _, status) = run("/usr/bin/lsdahdi-rs", &["--help"]);
    assert!(status.success());
    assert!(
        out.contains("Usage: lsdahdi") && out.contains("--json"),
        "{out}"
    );

    let (out, err, status) = run(
        "/usr/bin/lsdahdi-rs",
        &["--json", "--sysfs-root", "/nonexistent"],
    );
    assert_eq!(status.code(), Some(1));
    assert!(err.is_empty(), "{err}");
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["error"]["kind"], "ModuleNotLoaded");
    assert_eq!(e["error"]["path"], "/nonexistent/bus/dahdi_devices");
    let (out, _, status) = run("/usr/bin/lsdahdi-rs", &["--json", "--bogus"]);
    assert_eq!(status.code(), Some(2));
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["error"]["kind"], "Usage");

    let pair = LoopPair::create(0, 24, |_| Some((Signalling::Clear, Signalling::Clear)));
    for args in [&[][..], &["--json"][..]] {
        // A pipe whose reader is gone: the first write fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new("/usr/bin/lsdahdi-rs")
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {}: {err}", out.status);
        assert!(err.is_empty(), "{args:?}: {err}");
    }
    let out = Command::new("sh")
        .args(["-c", "/usr/bin/lsdahdi-rs | head -n 1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("DAHDI "));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(pair);
}
