//! Signal helpers shared by the guest programs: the tones they write into
//! channels and the levels they measure in what they read back. Kept in one
//! place so that every guest suite measures a level the same way.

use std::f64::consts::PI;

/// DAHDI's sample rate: 8000 samples a second on every channel.
pub const RATE: f64 = 8000.0;

/// The block the guest programs read and write: 20 ms at [`RATE`], a whole
/// number of periods of the 500 Hz and 1 kHz test tones.
pub const BLOCK: usize = 160;

/// `n` samples of a sine of `freq` Hz and amplitude `amp`, from sample
/// `start` on: consecutive calls with `start` advancing by the block length
/// continue one unbroken tone across blocks.
pub fn tone(freq: f64, amp: f64, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / RATE).sin()).round() as i16)
        .collect()
}

/// Root mean square of the samples: a sine of amplitude A over whole
/// periods gives A/sqrt(2).
pub fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Amplitude of the `freq` component (Goertzel / DFT bin): a sine of
/// amplitude A over whole periods gives A.
pub fn amplitude_at(x: &[i16], freq: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &s) in x.iter().enumerate() {
        let w = 2.0 * PI * freq * i as f64 / RATE;
        re += s as f64 * w.cos();
        im -= s as f64 * w.sin();
    }
    2.0 * (re * re + im * im).sqrt() / x.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from the sine itself: amplitude A, RMS A/sqrt(2); the
    // rounding to whole samples moves them by less than one.

    #[test]
    fn a_block_of_1khz_holds_whole_periods_at_its_level() {
        let t = tone(1000.0, 8000.0, 0, BLOCK);
        assert_eq!(&t[..8], &[0, 5657, 8000, 5657, 0, -5657, -8000, -5657]);
        assert!((rms(&t) - 8000.0 / 2f64.sqrt()).abs() < 1.0, "{}", rms(&t));
        assert!((amplitude_at(&t, 1000.0) - 8000.0).abs() < 1.0);
        // Another whole number of periods a block: orthogonal, not heard.
        assert!(amplitude_at(&t, 500.0) < 1.0);
    }

    #[test]
    fn a_tone_continues_across_blocks() {
        let whole = tone(500.0, 3000.0, 0, 2 * BLOCK);
        let second = tone(500.0, 3000.0, BLOCK, BLOCK);
        assert_eq!(&whole[BLOCK..], &second[..]);
    }

    #[test]
    fn rms_of_a_constant_is_its_magnitude() {
        assert_eq!(rms(&[-300; BLOCK]), 300.0);
        assert_eq!(rms(&[0; BLOCK]), 0.0);
    }

    #[test]
    fn two_tones_are_measured_apart() {
        let a = tone(500.0, 2000.0, 0, BLOCK);
        let b = tone(1000.0, 6000.0, 0, BLOCK);
        let sum: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert!((amplitude_at(&sum, 500.0) - 2000.0).abs() < 2.0);
        assert!((amplitude_at(&sum, 1000.0) - 6000.0).abs() < 2.0);
    }
}
