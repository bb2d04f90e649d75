//! Tone zones (`DAHDI_LOADZONE`): the tones a channel can play with
//! [`send_tone`](crate::ChannelFd::send_tone), the digits it dials, and
//! its ring cadence. dahdi_cfg loads them from libtonezone's tables
//! (`loadzone=us`); this builder makes them from frequencies and levels,
//! with the oscillator coefficients `user.h` prescribes.

use dahdi_sys as sys;

use crate::params::{dtmf_index, Tone};

/// One step of a tone cadence: one or two frequencies for some samples,
/// then step `next`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneStep {
    /// `DAHDI_TONE_*` value of the tone this step belongs to.
    pub tone: i32,
    /// First frequency in Hz (0 for none).
    pub freq1: f64,
    /// Second frequency in Hz (0 for none).
    pub freq2: f64,
    /// Level of each frequency in dBm0.
    pub level_dbm0: f64,
    /// Length in samples (8 per ms); DTMF and MF digits use the global
    /// dial parameters instead.
    pub samples: i32,
    /// Index (in the zone's step list) of the step that follows.
    pub next: usize,
    /// Modulate the first frequency with the second instead of adding.
    pub modulate: bool,
}

/// The level offset of `user.h`'s recipe, in dB: a tone at this many
/// dBm0 has a peak amplitude of 32768 (full scale).
#[allow(clippy::approx_constant)] // 3.14 dB, not pi
pub const LEVEL_OFFSET_DB: f64 = 3.14;

/// Oscillator coefficients of one frequency at `level_dbm0`, as `user.h`
/// gives them: `(fac, init_v2, init_v3)`.
pub fn oscillator(freq: f64, level_dbm0: f64) -> (i32, i32, i32) {
    if freq <= 0.0 {
        return (0, 0, 0);
    }
    let gain = 10f64.powf((level_dbm0 - LEVEL_OFFSET_DB) / 20.0) * 65536.0 / 2.0;
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    (
        (2.0 * w.cos() * 32768.0) as i32,
        ((-2.0 * w).sin() * gain) as i32,
        ((-w).sin() * gain) as i32,
    )
}

/// Peak amplitude (in 16-bit linear units) of one frequency at
/// `level_dbm0` in a generated tone: the `gain` of the recipe.
pub fn tone_amplitude(level_dbm0: f64) -> f64 {
    10f64.powf((level_dbm0 - LEVEL_OFFSET_DB) / 20.0) * 32768.0
}

/// A tone zone to load with [`crate::Ctl::load_tone_zone`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToneZone {
    /// Zone number (0..=255; dahdi_cfg's zones start at 0, `us` is 0).
    pub number: i32,
    /// Informational name (at most 39 bytes).
    pub name: String,
    /// Ring cadence in ms, on/off alternating (at most 16 values).
    pub ring_cadence: Vec<i32>,
    /// The tone steps.
    pub steps: Vec<ToneStep>,
}

/// DTMF row and column frequencies of a digit.
pub fn dtmf_frequencies(digit: char) -> Option<(f64, f64)> {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    let (r, c) = match digit.to_ascii_uppercase() {
        '1' => (0, 0),
        '2' => (0, 1),
        '3' => (0, 2),
        'A' => (0, 3),
        '4' => (1, 0),
        '5' => (1, 1),
        '6' => (1, 2),
        'B' => (1, 3),
        '7' => (2, 0),
        '8' => (2, 1),
        '9' => (2, 2),
        'C' => (2, 3),
        '*' => (3, 0),
        '0' => (3, 1),
        '#' => (3, 2),
        'D' => (3, 3),
        _ => return None,
    };
    Some((ROWS[r], COLS[c]))
}

impl ToneZone {
    /// An empty zone.
    pub fn new(number: i32, name: &str) -> ToneZone {
        ToneZone {
            number,
            name: name.to_owned(),
            ring_cadence: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// Adds `tone` as a cadence of `(freq1, freq2, ms)` steps played in a
    /// loop (a single step plays continuously).
    pub fn tone(mut self, tone: Tone, level_dbm0: f64, cadence: &[(f64, f64, u32)]) -> ToneZone {
        let raw = tone.to_raw().unwrap_or(-1);
        let first = self.steps.len();
        for (i, &(f1, f2, ms)) in cadence.iter().enumerate() {
            let next = if i + 1 == cadence.len() {
                first
            } else {
                first + i + 1
            };
            self.steps.push(ToneStep {
                tone: raw,
                freq1: f1,
                freq2: f2,
                level_dbm0,
                samples: (ms * 8) as i32,
                next,
                modulate: false,
            });
        }
        self
    }

    /// Adds the 16 DTMF digits at `level_dbm0` (their lengths come from
    /// the dial parameters).
    pub fn dtmf(mut self, level_dbm0: f64) -> ToneZone {
        for d in "0123456789*#ABCD".chars() {
            let (f1, f2) = dtmf_frequencies(d).expect("digit");
            let idx = dtmf_index(d).expect("digit");
            let me = self.steps.len();
            self.steps.push(ToneStep {
                tone: sys::DAHDI_TONE_DTMF_BASE + idx,
                freq1: f1,
                freq2: f2,
                level_dbm0,
                samples: 0,
                next: me,
                modulate: false,
            });
        }
        self
    }

    /// Sets the ring cadence.
    pub fn ring_cadence(mut self, cadence: &[i32]) -> ToneZone {
        self.ring_cadence = cadence.to_vec();
        self
    }

    /// The `DAHDI_LOADZONE` request: a header and its tone records in
    /// 8-byte-aligned storage; checks what the kernel would refuse.
    pub(crate) fn to_request(&self) -> std::result::Result<Vec<u64>, String> {
        if !(0..=255).contains(&self.number) {
            return Err(format!("zone number {} is outside 0..=255", self.number));
        }
        if self.steps.len() > 128 {
            return Err(format!("{} tone steps, at most 128", self.steps.len()));
        }
        if self.ring_cadence.len() > sys::DAHDI_MAX_CADENCE as usize {
            return Err("ring cadence longer than 16 values".into());
        }
        if self.name.len() >= 40 || self.name.contains('\0') {
            return Err(format!("zone name {:?} longer than 39 bytes", self.name));
        }
        let mut head = sys::dahdi_tone_def_header::zeroed();
        head.count = self.steps.len() as i32;
        head.zone = self.number;
        head.ringcadence[..self.ring_cadence.len()].copy_from_slice(&self.ring_cadence);
        sys::dahdi_copy_string(&mut head.name, self.name.as_bytes());
        let mut defs = Vec::with_capacity(self.steps.len());
        for (i, s) in self.steps.iter().enumerate() {
            if s.next >= self.steps.len() {
                return Err(format!("step {i} continues with missing step {}", s.next));
            }
            let (fac1, v2_1, v3_1) = oscillator(s.freq1, s.level_dbm0);
            let (fac2, v2_2, v3_2) = oscillator(s.freq2, s.level_dbm0);
            defs.push(sys::dahdi_tone_def {
                tone: s.tone,
                next: s.next as i32,
                samples: s.samples,
                shift: 0,
                fac1,
                init_v2_1: v2_1,
                init_v3_1: v3_1,
                fac2,
                init_v2_2: v2_2,
                init_v3_2: v3_2,
                modulate: s.modulate as i32,
            });
        }
        let hsize = std::mem::size_of::<sys::dahdi_tone_def_header>();
        let dsize = std::mem::size_of::<sys::dahdi_tone_def>();
        let total = hsize + dsize * defs.len();
        let mut buf = vec![0u64; total.div_ceil(8)];
        // SAFETY: the buffer has `total` bytes; the structs are plain old
        // data copied byte for byte into it, the header first and the
        // records right after (no padding between: the header's size is a
        // multiple of the records' alignment).
        unsafe {
            let dst = buf.as_mut_ptr().cast::<u8>();
            std::ptr::copy_nonoverlapping(&head as *const _ as *const u8, dst, hsize);
            std::ptr::copy_nonoverlapping(
                defs.as_ptr().cast::<u8>(),
                dst.add(hsize),
                dsize * defs.len(),
            );
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_follow_the_header_recipe() {
        // 1000 Hz: w = pi/4; fac = 2 cos(pi/4) * 32768 = 46340.95
        let (fac, v2, v3) = oscillator(1000.0, LEVEL_OFFSET_DB);
        assert_eq!(fac, 46340);
        // gain 32768 at 3.14 dBm0: sin(-pi/2) * 32768, sin(-pi/4) * 32768
        assert_eq!(v2, -32768);
        assert_eq!(v3, -23170);
        assert_eq!(oscillator(0.0, -10.0), (0, 0, 0));
        assert!((tone_amplitude(-13.0) - 32768.0 * 10f64.powf(-16.14 / 20.0)).abs() < 1e-9);
    }

    #[test]
    fn the_oscillator_makes_the_frequency() {
        // Run the kernel's recursion (dahdi_tone_nextsample) in floating
        // point on our coefficients and count zero crossings.
        let (fac, v2, v3) = oscillator(400.0, -10.0);
        let (mut a, mut b) = (v2 as i64, v3 as i64);
        let mut crossings = 0;
        let mut last = b;
        let mut peak = 0i64;
        for _ in 0..8000 {
            let c = ((fac as i64 * b) >> 15) - a;
            a = b;
            b = c;
            if (last < 0) != (c < 0) {
                crossings += 1;
            }
            last = c;
            peak = peak.max(c.abs());
        }
        assert!((799..=801).contains(&crossings), "{crossings}");
        let expect = tone_amplitude(-10.0);
        assert!(
            (peak as f64 - expect).abs() / expect < 0.01,
            "{peak} vs {expect}"
        );
    }

    #[test]
    fn request_layout() {
        let z = ToneZone::new(7, "test")
            .ring_cadence(&[2000, 4000])
            .tone(Tone::DialTone, -13.0, &[(350.0, 440.0, 1000)])
            .tone(Tone::Busy, -13.0, &[(480.0, 620.0, 500), (0.0, 0.0, 500)])
            .dtmf(-10.0);
        assert_eq!(z.steps.len(), 1 + 2 + 16);
        assert_eq!(z.steps[0].next, 0);
        assert_eq!((z.steps[1].next, z.steps[2].next), (2, 1));
        let buf = z.to_request().unwrap();
        let bytes = buf.len() * 8;
        assert!(bytes >= 112 + 19 * 44);
        // SAFETY: the buffer starts with a header.
        let head = unsafe { &*(buf.as_ptr() as *const sys::dahdi_tone_def_header) };
        assert_eq!((head.count, head.zone), (19, 7));
        assert_eq!(&head.ringcadence[..3], &[2000, 4000, 0]);
        let mut bad = z.clone();
        bad.steps[0].next = 99;
        assert!(bad.to_request().is_err());
        assert!(ToneZone::new(300, "x").to_request().is_err());
    }
}
