//! What the tests create in the kernel and remove again: a looped pair of
//! loc spans, and the tone zone they load.

use std::time::Duration;

use dahdi::{Alarms, ChanConfig, Ctl, DynamicSpan, Signalling, Sysfs, Tone, ToneZone};

use crate::channel_io::wait_until;

pub(crate) struct LoopPair {
    pub(crate) ctl: Ctl,
    pub(crate) spans: [DynamicSpan; 2],
    pub(crate) numbers: [i32; 2],
    pub(crate) base: [i32; 2],
}

impl LoopPair {
    /// Spans `<key>:0` and `<key>:1` with `n` channels, channel `pos`
    /// (from 1) of both given `sig(pos)`: (signalling of side 0, side 1).
    pub(crate) fn create(
        key: u8,
        n: i32,
        sig: impl Fn(i32) -> Option<(Signalling, Signalling)>,
    ) -> LoopPair {
        let ctl = Ctl::open().expect("ctl");
        let spans = [
            DynamicSpan::local(key, 0, n).unwrap(),
            DynamicSpan::local(key, 1, n).unwrap(),
        ];
        let sysfs = Sysfs::new();
        let mut numbers = [0; 2];
        let mut base = [0; 2];
        for i in 0..2 {
            numbers[i] = ctl.create_dynamic_span(&spans[i]).expect("create loc span");
            assert!(numbers[i] > 0, "auto_assign_spans=1 assigns at once");
            base[i] = sysfs
                .span(numbers[i] as u32)
                .expect("sysfs span")
                .basechan
                .expect("basechan");
        }
        for pos in 1..=n {
            if let Some(s) = sig(pos) {
                for (i, sg) in [s.0, s.1].into_iter().enumerate() {
                    ctl.configure_channel(&ChanConfig::new(base[i] + pos - 1, sg))
                        .expect("chanconfig");
                }
            }
        }
        LoopPair {
            ctl,
            spans,
            numbers,
            base,
        }
    }

    pub(crate) fn chan(&self, side: usize, pos: i32) -> i32 {
        self.base[side] + pos - 1
    }
}

impl Drop for LoopPair {
    fn drop(&mut self) {
        for s in self.spans.iter().rev() {
            if let Err(e) = self.ctl.destroy_dynamic_span(s) {
                if !std::thread::panicking() {
                    panic!("destroy {}: {e}", s.span_name());
                }
            }
        }
    }
}

pub(crate) fn wait_alarms_clear(ctl: &Ctl, span: i32) -> Alarms {
    let mut a = Alarms::all();
    wait_until(Duration::from_secs(4), || {
        a = ctl.span_info(span).unwrap().alarms;
        a.is_empty()
    });
    a
}

pub(crate) fn test_zone(number: i32) -> ToneZone {
    ToneZone::new(number, "apitest")
        .ring_cadence(&[200, 200])
        .tone(Tone::DialTone, -13.0, &[(350.0, 440.0, 1000)])
        .tone(Tone::Busy, -13.0, &[(480.0, 620.0, 500), (0.0, 0.0, 500)])
        .dtmf(-10.0)
}
