//! Shared helpers for the benchmarks: the C baselines (see `c/baselines.c`) behind a
//! safe interface that owns their scratch buffers, and the conference shapes that both
//! our engine and the baselines run on.

use std::sync::Once;

mod ffi {
    /// `struct bl_conf` of `c/baselines.c`.
    #[repr(C)]
    pub struct Conf {
        pub n: usize,
        pub s: usize,
        pub talking: *const u8,
        pub lin: *mut i16,
        pub out: *mut i16,
        pub out_law: *mut u8,
        pub mix: *mut i16,
        pub shared_law: *mut u8,
        pub main_frame: *mut i32,
        pub conflast: *mut i16,
    }

    extern "C" {
        pub fn bl_thread_cpu_ns() -> u64;
        pub fn bl_g711_init();
        pub fn bl_ulaw_decode(src: *const u8, dst: *mut i16, n: usize);
        pub fn bl_ulaw_encode(src: *const i16, dst: *mut u8, n: usize);
        pub fn bl_alaw_decode(src: *const u8, dst: *mut i16, n: usize);
        pub fn bl_alaw_encode(src: *const i16, dst: *mut u8, n: usize);
        pub fn bl_asterisk_linear(c: *const Conf, input: *const i16);
        pub fn bl_asterisk_ulaw(c: *const Conf, input: *const u8);
        pub fn bl_freeswitch_linear(c: *const Conf, input: *const i16);
        pub fn bl_copy_linear(c: *const Conf, input: *const i16);
        pub fn bl_freeswitch_ulaw(c: *const Conf, input: *const u8);
        pub fn bl_dahdi_linear(c: *const Conf, input: *const i16);
        pub fn bl_dahdi_ulaw(c: *const Conf, input: *const u8);
    }
}

/// CPU time consumed so far by the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_time() -> std::time::Duration {
    // SAFETY: no arguments, no shared state.
    std::time::Duration::from_nanos(unsafe { ffi::bl_thread_cpu_ns() })
}

fn init() {
    static INIT: Once = Once::new();
    // SAFETY: fills the C codec's static tables; `Once` prevents concurrent runs.
    INIT.call_once(|| unsafe { ffi::bl_g711_init() });
}

/// The C G.711 table codec (256-entry decode, 16384-entry encode), the codec baseline.
pub mod c_g711 {
    use super::{ffi, init};

    /// mu-law decode. Panics if the lengths differ.
    pub fn ulaw_decode(src: &[u8], dst: &mut [i16]) {
        init();
        assert_eq!(src.len(), dst.len());
        // SAFETY: both buffers hold `len` elements.
        unsafe { ffi::bl_ulaw_decode(src.as_ptr(), dst.as_mut_ptr(), src.len()) }
    }

    /// mu-law encode. Panics if the lengths differ.
    pub fn ulaw_encode(src: &[i16], dst: &mut [u8]) {
        init();
        assert_eq!(src.len(), dst.len());
        // SAFETY: both buffers hold `len` elements.
        unsafe { ffi::bl_ulaw_encode(src.as_ptr(), dst.as_mut_ptr(), src.len()) }
    }

    /// A-law decode. Panics if the lengths differ.
    pub fn alaw_decode(src: &[u8], dst: &mut [i16]) {
        init();
        assert_eq!(src.len(), dst.len());
        // SAFETY: both buffers hold `len` elements.
        unsafe { ffi::bl_alaw_decode(src.as_ptr(), dst.as_mut_ptr(), src.len()) }
    }

    /// A-law encode. Panics if the lengths differ.
    pub fn alaw_encode(src: &[i16], dst: &mut [u8]) {
        init();
        assert_eq!(src.len(), dst.len());
        // SAFETY: both buffers hold `len` elements.
        unsafe { ffi::bl_alaw_encode(src.as_ptr(), dst.as_mut_ptr(), src.len()) }
    }
}

/// Which participants talk in a benchmark conference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Every participant talks and listens.
    AllTalk,
    /// Three participants (spread over the conference) talk and listen; the rest
    /// only listen. The realistic case: few people speak at once.
    Talk3,
}

impl Shape {
    /// The talking mask for `n` participants.
    pub fn talking(self, n: usize) -> Vec<bool> {
        match self {
            Shape::AllTalk => vec![true; n],
            Shape::Talk3 => {
                let mut t = vec![false; n];
                for k in 0..3.min(n) {
                    t[k * n / 3] = true;
                }
                t
            }
        }
    }

    /// A short name for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Shape::AllTalk => "alltalk",
            Shape::Talk3 => "talk3",
        }
    }
}

/// Deterministic speech-like test input: `n` frames of `s` samples, moderately loud
/// (|x| < 8192), so that a few talkers do not clip but many do.
pub fn test_input(n: usize, s: usize, seed: u64) -> Vec<i16> {
    let mut state = seed | 1;
    (0..n * s)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 32) as i32 % 8192) as i16
        })
        .collect()
}

/// One C-baseline conference of `n` participants and `s` samples per frame, with all
/// scratch buffers preallocated.
#[derive(Debug)]
pub struct CConference {
    n: usize,
    s: usize,
    talking: Vec<u8>,
    lin: Vec<i16>,
    out: Vec<i16>,
    out_law: Vec<u8>,
    mix: Vec<i16>,
    shared_law: Vec<u8>,
    main_frame: Vec<i32>,
    conflast: Vec<i16>,
}

impl CConference {
    /// A conference in which participant `p` contributes audio iff `talking[p]`.
    /// `s` must be a multiple of 8 (DAHDI's chunk).
    pub fn new(s: usize, talking: &[bool]) -> Self {
        init();
        assert!(s.is_multiple_of(8) && s > 0);
        let n = talking.len();
        CConference {
            n,
            s,
            talking: talking.iter().map(|&t| t as u8).collect(),
            lin: vec![0; n * s],
            out: vec![0; n * s],
            out_law: vec![0; n * s],
            mix: vec![0; s],
            shared_law: vec![0; s],
            main_frame: vec![0; s],
            conflast: vec![0; n * 8],
        }
    }

    /// Runs one C baseline on `input` (n*s samples or codes) with this conference's
    /// buffers.
    fn run<T>(&mut self, input: &[T], f: unsafe extern "C" fn(*const ffi::Conf, *const T)) {
        assert_eq!(input.len(), self.n * self.s);
        let conf = ffi::Conf {
            n: self.n,
            s: self.s,
            talking: self.talking.as_ptr(),
            lin: self.lin.as_mut_ptr(),
            out: self.out.as_mut_ptr(),
            out_law: self.out_law.as_mut_ptr(),
            mix: self.mix.as_mut_ptr(),
            shared_law: self.shared_law.as_mut_ptr(),
            main_frame: self.main_frame.as_mut_ptr(),
            conflast: self.conflast.as_mut_ptr(),
        };
        // SAFETY: every buffer has the size `struct bl_conf` documents for n and s
        // (allocated in `new`), and `input` holds n*s elements.
        unsafe { f(&conf, input.as_ptr()) }
    }

    /// Asterisk bridge_softmix, linear.
    pub fn asterisk_linear(&mut self, input: &[i16]) {
        self.run(input, ffi::bl_asterisk_linear)
    }

    /// FreeSWITCH mod_conference, linear.
    pub fn freeswitch_linear(&mut self, input: &[i16]) {
        self.run(input, ffi::bl_freeswitch_linear)
    }

    /// Not a mixer: every input row copied to its output row (the memory floor of
    /// any mix-minus with an output buffer per participant).
    pub fn copy_linear(&mut self, input: &[i16]) {
        self.run(input, ffi::bl_copy_linear)
    }

    /// DAHDI conference (8-sample chunks), linear.
    pub fn dahdi_linear(&mut self, input: &[i16]) {
        self.run(input, ffi::bl_dahdi_linear)
    }

    /// Asterisk, mu-law in and out.
    pub fn asterisk_ulaw(&mut self, input: &[u8]) {
        self.run(input, ffi::bl_asterisk_ulaw)
    }

    /// FreeSWITCH, mu-law in and out.
    pub fn freeswitch_ulaw(&mut self, input: &[u8]) {
        self.run(input, ffi::bl_freeswitch_ulaw)
    }

    /// DAHDI, mu-law in and out.
    pub fn dahdi_ulaw(&mut self, input: &[u8]) {
        self.run(input, ffi::bl_dahdi_ulaw)
    }

    /// Participant `p`'s linear output after a linear run.
    pub fn output(&self, p: usize) -> &[i16] {
        &self.out[p * self.s..(p + 1) * self.s]
    }

    /// Participant `p`'s encoded output after a mu-law run (for Asterisk, non-talkers
    /// read the shared frame).
    pub fn output_law(&self, p: usize, shared_for_listeners: bool) -> &[u8] {
        if shared_for_listeners && self.talking[p] == 0 {
            &self.shared_law
        } else {
            &self.out_law[p * self.s..(p + 1) * self.s]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dahdi::audio::g711::Codec;

    /// The worked example of mixing-perf.md: A=+30000, B=+10000, C=-20000. The
    /// expected numbers are the ones the notes give for each system's algorithm, so
    /// this checks that the baselines implement what was described.
    #[test]
    fn baselines_reproduce_the_worked_example() {
        let s = 8;
        let input: Vec<i16> = [30_000i16, 10_000, -20_000]
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, s))
            .collect();
        let mut c = CConference::new(s, &[true, true, true]);
        let heard = |c: &CConference| [c.output(0)[0], c.output(1)[0], c.output(2)[0]];
        c.asterisk_linear(&input);
        assert_eq!(heard(&c), [-17_233, 2_767, 32_767]);
        c.dahdi_linear(&input);
        assert_eq!(heard(&c), [-17_233, 10_000, 32_767]);
        c.freeswitch_linear(&input);
        assert_eq!(heard(&c), [-10_000, 10_000, 32_767]);
    }

    #[test]
    fn thread_cpu_time_advances_with_work_not_with_sleep() {
        let t0 = thread_cpu_time();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let slept = thread_cpu_time() - t0;
        let t1 = thread_cpu_time();
        let mut x = 1u64;
        while thread_cpu_time() - t1 < std::time::Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        assert!(
            slept < std::time::Duration::from_millis(20),
            "sleep counted: {slept:?}"
        );
    }

    #[test]
    fn c_codec_matches_g191_codec() {
        let xs: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let mut enc = vec![0u8; xs.len()];
        c_g711::ulaw_encode(&xs, &mut enc);
        assert!(xs
            .iter()
            .zip(&enc)
            .all(|(&x, &c)| Codec::ULAW.encode(x) == c));
        c_g711::alaw_encode(&xs, &mut enc);
        assert!(xs
            .iter()
            .zip(&enc)
            .all(|(&x, &c)| Codec::ALAW.encode(x) == c));
        let codes: Vec<u8> = (0..=255).collect();
        let mut dec = vec![0i16; 256];
        c_g711::ulaw_decode(&codes, &mut dec);
        assert!(codes
            .iter()
            .zip(&dec)
            .all(|(&c, &y)| Codec::ULAW.decode(c) == y));
        c_g711::alaw_decode(&codes, &mut dec);
        assert!(codes
            .iter()
            .zip(&dec)
            .all(|(&c, &y)| Codec::ALAW.decode(c) == y));
    }

    /// Without clipping all three systems compute the same mix-minus; the mu-law runs
    /// must then equal the linear runs on decoded input, encoded.
    #[test]
    fn law_runs_match_linear_runs_without_clipping() {
        for shape in [Shape::AllTalk, Shape::Talk3] {
            let (n, s) = (7, 160);
            let talking = shape.talking(n);
            // Quiet input: no sum clips.
            let lin: Vec<i16> = test_input(n, s, 9).iter().map(|&x| x / 8).collect();
            let law: Vec<u8> = lin.iter().map(|&x| Codec::ULAW.encode(x)).collect();
            let decoded: Vec<i16> = law.iter().map(|&c| Codec::ULAW.decode(c)).collect();
            let mut c = CConference::new(s, &talking);
            type Pair = (
                fn(&mut CConference, &[i16]),
                fn(&mut CConference, &[u8]),
                bool,
            );
            let runs: [Pair; 3] = [
                (
                    CConference::asterisk_linear,
                    CConference::asterisk_ulaw,
                    true,
                ),
                (
                    CConference::freeswitch_linear,
                    CConference::freeswitch_ulaw,
                    false,
                ),
                (CConference::dahdi_linear, CConference::dahdi_ulaw, false),
            ];
            for (linear, ulaw, shared) in runs {
                linear(&mut c, &decoded);
                let want: Vec<Vec<u8>> = (0..n)
                    .map(|p| c.output(p).iter().map(|&x| Codec::ULAW.encode(x)).collect())
                    .collect();
                ulaw(&mut c, &law);
                for (p, w) in want.iter().enumerate() {
                    assert_eq!(c.output_law(p, shared), &w[..], "{shape:?} participant {p}");
                }
            }
        }
    }
}
