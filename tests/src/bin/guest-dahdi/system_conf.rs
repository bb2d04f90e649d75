//! Spans configured by dahdi_cfg from a system.conf, read back through this
//! crate; and the crate docs' spans example against what dahdi_cfg builds
//! from the same spans.

use std::process::Command;

use dahdi::{Channel, Ctl, DynamicSpan, ErrorKind, Law, Pseudo, Signalling, Sysfs, Tone};
use dahdi_sys as sys;

use crate::dahdi_tools::{dahdi_cfg, dahdi_scan};
use crate::fixtures::wait_alarms_clear;

const SYSTEM_CONF: &str = "\
# spans and channels for the dahdi_cfg cross-check
dynamic=loc,c:0,8,0
dynamic=loc,c:1,8,0
fxsks=1-4
bchan=5-6
cas=7-8:1101
fxoks=9-12
bchan=13-14
alaw=13-14
cas=15-16:0101
loadzone=us
defaultzone=us
";

/// Spans configured by dahdi_cfg from a system.conf are read back by this
/// crate as the file says (and the tone zone it loads becomes the
/// default); then removed again.
pub(crate) fn dahdi_cfg_configuration_reads_back() {
    let ctl = Ctl::open().unwrap();
    assert!(ctl.spans().unwrap().is_empty(), "start with no spans");
    std::fs::write("/tmp/system.conf", SYSTEM_CONF).unwrap();
    let out = Command::new("/usr/sbin/dahdi_cfg")
        .args(["-vv", "-c", "/tmp/system.conf"])
        .output()
        .expect("run dahdi_cfg");
    println!(
        "dahdi_cfg: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result = std::panic::catch_unwind(|| {
        assert!(out.status.success());
        let spans = ctl.spans().unwrap();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["DYN/loc/c:0", "DYN/loc/c:1"]);
        let bits = |s: &str| {
            s.chars()
                .zip([
                    sys::DAHDI_ABIT,
                    sys::DAHDI_BBIT,
                    sys::DAHDI_CBIT,
                    sys::DAHDI_DBIT,
                ])
                .filter(|(c, _)| *c == '1')
                .map(|(_, b)| b)
                .sum::<i32>()
        };
        let want = |ch: i32| -> (Signalling, Law, i32) {
            match ch {
                1..=4 => (Signalling::FxsKs, Law::Mulaw, 0),
                5..=6 => (Signalling::Clear, Law::Mulaw, 0),
                7..=8 => (Signalling::Cas, Law::Mulaw, bits("1101")),
                9..=12 => (Signalling::FxoKs, Law::Mulaw, 0),
                13..=14 => (Signalling::Clear, Law::Alaw, 0),
                _ => (Signalling::Cas, Law::Mulaw, bits("0101")),
            }
        };
        for ch in 1..=16 {
            let (p, master) = ctl.channel_params_and_master(ch).unwrap();
            let (sig, law, idle) = want(ch);
            assert_eq!(p.signalling, sig, "channel {ch}");
            assert_eq!(p.idle_bits, idle, "channel {ch}");
            assert_eq!(master, ch, "channel {ch} is its own master");
            if sig != Signalling::Clear && law == Law::Alaw {
                assert_eq!(p.law, law, "channel {ch}");
            }
            assert_eq!(
                p.span,
                if ch <= 8 {
                    spans[0].span
                } else {
                    spans[1].span
                }
            );
        }
        // A-law as deflaw: a freshly opened channel uses it.
        let c = Channel::open(13).unwrap();
        assert_eq!(c.params().unwrap().law, Law::Alaw);
        // dahdi_cfg loaded the "us" zone (zone 0) and made it the default.
        let p = Pseudo::open().unwrap();
        assert_eq!(p.tone_zone().unwrap(), 0);
        assert!(p.send_tone(Tone::DialTone).is_ok());
        drop((c, p));
        // dahdi_scan and this crate agree on the configured count.
        let scan = dahdi_scan();
        for s in &spans {
            assert_eq!(s.configured_channels, 8);
            assert_eq!(scan[&s.span]["alarms"], "OK");
        }
    });
    for id in [1, 0] {
        ctl.destroy_dynamic_span(&DynamicSpan::local(12, id, 8).unwrap())
            .unwrap();
    }
    ctl.free_tone_zone(0).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// The two loc spans of the crate docs' spans example (key 0).
const EXAMPLE_SPANS: &str = "dynamic=loc,0:0,24,0\ndynamic=loc,0:1,24,0\n";

/// Removes the example's spans (and the tone zone dahdi_cfg loads when a
/// system.conf names none) when dropped.
struct ExampleSpans<'a>(&'a Ctl);

impl ExampleSpans<'_> {
    fn spans() -> [DynamicSpan; 2] {
        [0, 1].map(|id| DynamicSpan::local(0, id, 24).unwrap())
    }
}

impl Drop for ExampleSpans<'_> {
    fn drop(&mut self) {
        for s in Self::spans().iter().rev() {
            let r = self.0.destroy_dynamic_span(s);
            if !std::thread::panicking() {
                r.unwrap();
            }
        }
        let _ = self.0.free_tone_zone(0);
    }
}

/// What the kernel shows of its spans and channels, by every source the
/// example's documentation names: /proc/dahdi, sysfs, dahdi_scan, and
/// DAHDI_GET_PARAMS with each channel's master.
#[derive(Debug, PartialEq)]
struct SpanView {
    proc: Vec<String>,
    sysfs_spans: Vec<dahdi::sysfs::SpanSysfs>,
    sysfs_channels: Vec<dahdi::sysfs::ChannelSysfs>,
    params: Vec<(dahdi::ChannelParams, i32)>,
    scan: String,
}

impl SpanView {
    /// Once the loc spans' alarms have cleared.
    fn now(ctl: &Ctl) -> SpanView {
        let spans = ctl.spans().unwrap();
        for s in &spans {
            assert!(wait_alarms_clear(ctl, s.span).is_empty());
        }
        let sysfs = Sysfs::new();
        let scan = Command::new("/usr/sbin/dahdi_scan").output().unwrap();
        assert!(scan.status.success());
        let channels = sysfs.channels().unwrap();
        SpanView {
            proc: spans
                .iter()
                .map(|s| std::fs::read_to_string(format!("/proc/dahdi/{}", s.span)).unwrap())
                .collect(),
            sysfs_spans: sysfs
                .spans()
                .unwrap()
                .into_iter()
                // The device's name counts dynamic devices ever made.
                .map(|s| dahdi::sysfs::SpanSysfs { device: None, ..s })
                .collect(),
            params: channels
                .iter()
                .map(|c| ctl.channel_params_and_master(c.channel).unwrap())
                .collect(),
            sysfs_channels: channels,
            scan: String::from_utf8(scan.stdout).unwrap(),
        }
    }

    /// Lines on which the two views differ, for the failure message.
    fn differences(&self, other: &SpanView) -> Vec<String> {
        let a = format!("{self:#?}");
        let b = format!("{other:#?}");
        a.lines()
            .zip(b.lines())
            .filter(|(x, y)| x != y)
            .map(|(x, y)| format!("dahdi_cfg: {x}\n     API: {y}"))
            .take(20)
            .collect()
    }
}

/// The crate docs' spans example, both ways it offers: `bchan=1-48` (every
/// channel clear, on its own: `Ctl::configure_channels`) and `clear=1-48`
/// (one bundle, channel 1 the master of 2..=48: `Ctl::configure_bundle`).
/// For each, dahdi_cfg configures the spans from a system.conf and the API
/// configures them again from scratch; /proc/dahdi, sysfs, dahdi_scan and
/// every channel's parameters and master read the same. Then what the
/// bundle means, from the kernel: 2..=48 have master 1 and cannot be
/// opened, /proc marks 1 as Master; and a clear channel takes linear mode
/// only after audio mode, the error saying so.
pub(crate) fn spans_example_matches_dahdi_cfg() {
    let ctl = Ctl::open().unwrap();
    assert!(ctl.spans().unwrap().is_empty(), "start with no spans");
    for keyword in ["bchan", "clear"] {
        let by_dahdi_cfg = {
            let _spans = ExampleSpans(&ctl);
            dahdi_cfg(&format!("{EXAMPLE_SPANS}{keyword}=1-48\n"));
            SpanView::now(&ctl)
        };
        let _spans = ExampleSpans(&ctl);
        let mut ranges = Vec::new();
        for span in ExampleSpans::spans() {
            let spanno = ctl.create_dynamic_span(&span).unwrap();
            let first = Sysfs::new().span(spanno as u32).unwrap().basechan.unwrap();
            ranges.push(first..=first + ctl.span_info(spanno).unwrap().total_channels - 1);
        }
        assert_eq!(ranges, [1..=24, 25..=48]);
        if keyword == "bchan" {
            for r in &ranges {
                ctl.configure_channels(r.clone(), Signalling::Clear)
                    .unwrap();
            }
        } else {
            ctl.configure_bundle(1..=48, Signalling::Clear).unwrap();
        }
        // dahdi_cfg then opens every channel once (apply_fiftysix(), to set
        // its HDLC rate; slaves refuse, EBUSY, and it goes on), and an open
        // sets a channel's timing parameters to the kernel's defaults
        // (initialize_channel()): before it they read 0. Do the same.
        for ch in 1..=48 {
            let _ = Channel::open(ch);
        }
        let by_api = SpanView::now(&ctl);
        println!("{keyword}=1-48:\n{}", by_api.proc.join(""));
        assert!(
            by_dahdi_cfg == by_api,
            "{keyword}=1-48: dahdi_cfg and the API differ:\n{}",
            by_dahdi_cfg.differences(&by_api).join("\n")
        );

        let bundled = keyword == "clear";
        for (p, master) in &by_api.params {
            assert_eq!(p.signalling, Signalling::Clear, "channel {}", p.channel);
            assert_eq!(*master, if bundled { 1 } else { p.channel });
        }
        let first_line = by_api.proc[0]
            .lines()
            .find(|l| l.trim_start().starts_with("1 "))
            .unwrap();
        assert_eq!(first_line.contains("Clear Master"), bundled, "{first_line}");
        for slave in [2, 30] {
            let opened = Channel::open(slave);
            if bundled {
                assert_eq!(
                    opened.unwrap_err().kind(),
                    &ErrorKind::ChannelBusy(slave),
                    "a slave cannot be opened"
                );
            } else {
                opened.unwrap();
            }
        }

        // set_linear on a clear channel: audio mode first.
        let mut chan = Channel::open(1).unwrap();
        let e = chan.set_linear(true).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NotAudioMode);
        assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL));
        assert_eq!(e.op(), "DAHDI_SETLINEAR");
        assert!(e.to_string().contains("set_audio_mode(true)"), "{e}");
        assert!(!chan.is_linear());
        chan.set_audio_mode(true).unwrap();
        chan.set_linear(true).unwrap();
        assert!(chan.is_linear());
    }
}
