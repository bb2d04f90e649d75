//! The per-tick kernel of the mixer, on every SIMD level.
//!
//! **Sum.** `T = sum of all talkers` per sample, in 32 bits. It is stored as two
//! 16-bit frames: `hi = sat16(T)` (what a non-talking listener hears) and
//! `carry = clamp(T, -65536, 65534) - hi`.
//!
//! **Mix-minus.** A talker that also listens hears `sat16(T - own)`, which is computed as
//! `sat16(sat16(hi - own) + carry)` with 16-bit saturating instructions
//! (`vpsubsw`/`vpaddsw`), one load of its own input and one store:
//!
//! * If `T` fits in 16 bits, `carry = 0` and `sat16(hi - own)` is exact.
//! * If `T > 32767`, then `hi = 32767` and `carry = min(T, 65534) - 32767 > 0`. For
//!   `own >= 0`, `hi - own` is exact, and adding `carry` gives `min(T, 65534) - own`
//!   saturated, which equals `sat16(T - own)` because `65534 - own >= 32767`. For
//!   `own < 0` both the first step and the true result saturate to 32767.
//! * `T < -32768` is the mirror image (the clamp at -65536 is exact because
//!   `-65536 - own <= -32768` for every 16-bit `own`).
//!
//! When no sample of a column block clips (the common case) `carry` is zero there and
//! the kernels skip the add. The identity is also checked over a dense grid of `T` and
//! `own` values by a unit test below.
//!
//! **Column blocks.** Both steps run block by block over the frame: the block's sums
//! stay in registers while streaming over the talkers, and the mix-minus of the same
//! block follows at once, while those pieces of the inputs are still in L1/L2. With
//! AVX2 a block is at most 80 samples (ten 32-bit accumulators of 8 lanes, with room
//! left for the operands), and the frame is cut into as few blocks of even width as
//! that allows: a 160-sample frame is two passes over the rows. Past 1 MiB of outputs
//! per tick (the conference no longer fits in L2), AVX2 takes the frame in one block of
//! up to 160 samples instead, the accumulators that do not fit in registers kept in L1:
//! there the tick's time is the bytes that come from beyond L2, and one pass reads each
//! row twice where two passes read it four times. AVX-512, with twice the
//! registers, takes blocks of up to 256 samples, so a 20 ms frame is one pass: each
//! row's frame is read whole by the sum and once more by the mix-minus, which at
//! thousands of rows (more than L2 holds) is what the tick's time is made of. The
//! portable path uses blocks of 32. The mix-minus walks the rows backwards, so that
//! it starts with the rows the sum read last, which are still in L1/L2.
//!
//! **Summing two rows at once.** Interleaving two rows' samples (`vpunpck{l,h}wd`)
//! and multiplying by ones (`vpmaddwd`) adds each pair in 32 bits: one shuffle per
//! row and vector, where widening each row separately (`vpmovsxwd`) takes two.
//!
//! Frames are laid out at `stride` samples (a multiple of 16); lanes past the block
//! size are padding that is computed and never read by callers.

use crate::audio::g711::Codec;
use crate::audio::isa::Isa;

/// Accumulating `T` in `i32` is exact for up to 65,536 talkers (65,536 x -32768 is
/// `i32::MIN`). The engine refuses more participants than this.
pub(crate) const MAX_TALKERS: usize = 65_536;

/// Where each row's frames are: a pointer per row to its input and to its linear
/// output (each `stride` samples), and the G.711 outputs as rows of `stride` bytes.
///
/// The row tables are what lets the engine mix frames it does not own (a port's
/// queue slot, lent for one tick) exactly as it mixes its own buffers.
#[derive(Debug)]
pub(crate) struct Frames<'a> {
    pub(crate) input_rows: &'a [*const i16],
    pub(crate) output_rows: &'a [*mut i16],
    pub(crate) law: &'a mut [u8],
    pub(crate) stride: usize,
}

/// A row that gets a mix-minus output, and the codec to also encode it in, if any.
pub(crate) type Row = (u32, Option<Codec>);

/// Which rows are summed (`talkers`) and which get a mix-minus output (`rows`),
/// with the largest row index pushed so far: the kernels index rows without bounds
/// checks, and this lets `mix` check them all in O(1) per tick instead of scanning
/// both lists every tick.
#[derive(Debug, Default)]
pub(crate) struct RowLists {
    talkers: Vec<u32>,
    rows: Vec<Row>,
    /// One past the largest row index in either list (0 when both are empty).
    end: usize,
}

impl RowLists {
    pub(crate) fn clear(&mut self) {
        self.talkers.clear();
        self.rows.clear();
        self.end = 0;
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        self.talkers.reserve(additional);
        self.rows.reserve(additional);
    }

    /// Adds a talker; returns its place in the list.
    pub(crate) fn push_talker(&mut self, row: u32) -> u32 {
        self.talkers.push(row);
        self.end = self.end.max(row as usize + 1);
        (self.talkers.len() - 1) as u32
    }

    /// A row with a mix-minus output; it must also be pushed as a talker.
    /// Returns its place in the list.
    pub(crate) fn push_row(&mut self, row: u32, codec: Option<Codec>) -> u32 {
        self.rows.push((row, codec));
        self.end = self.end.max(row as usize + 1);
        (self.rows.len() - 1) as u32
    }

    /// Takes the talker at `place` out, the last talker taking its place (the
    /// sum is exact in any order); returns the row that moved there, if any.
    /// `end` stays an upper bound.
    pub(crate) fn swap_remove_talker(&mut self, place: u32) -> Option<u32> {
        self.talkers.swap_remove(place as usize);
        self.talkers.get(place as usize).copied()
    }

    /// Likewise for the row at `place` of the mix-minus list.
    pub(crate) fn swap_remove_row(&mut self, place: u32) -> Option<u32> {
        self.rows.swap_remove(place as usize);
        self.rows.get(place as usize).map(|&(r, _)| r)
    }

    pub(crate) fn talker_count(&self) -> usize {
        self.talkers.len()
    }

    /// The rows whose input the kernels read: the talkers (a row with a
    /// mix-minus output is a talker too).
    pub(crate) fn input_rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.talkers.iter().map(|&r| r as usize)
    }

    /// The rows whose linear output the kernels write.
    pub(crate) fn output_rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.rows
            .iter()
            .filter(|(_, codec)| codec.is_none())
            .map(|&(r, _)| r as usize)
    }
}

/// One tick: `hi`/`carry` (each `stride` long) from the input rows in
/// `lists.talkers`, and for every row `(p, codec)` in `lists.rows`,
/// `sat16(sat16(hi - input[p]) + carry)`, stored in `output[p]` when `codec` is
/// `None` and otherwise only encoded into `law[p]` (fused, while the block is still
/// in registers). Returns whether any lane clipped (whether `carry` is non-zero
/// anywhere).
///
/// # Panics
/// If a listed row has no entry in the row tables (`lists.end` past their
/// length): the kernels index the tables without bounds checks, and this O(1)
/// check, made before anything is read, is what keeps a slip in the lists'
/// bookkeeping from becoming a read through a pointer that is not in the table.
///
/// # Safety
/// For every row in `lists` (each of which is a talker), its
/// `frames.input_rows` entry must be valid for reads of `stride` samples, and
/// for every row in `lists.rows` without a codec its `frames.output_rows` entry
/// valid for writes of `stride` samples, for the whole call; no output frame may
/// overlap any input frame or another output frame. (Entries of other rows are
/// not read.)
pub(crate) unsafe fn mix(
    isa: Isa,
    frames: Frames<'_>,
    lists: &RowLists,
    hi: &mut [i16],
    carry: &mut [i16],
) -> bool {
    let Frames {
        input_rows,
        output_rows,
        law,
        stride,
    } = frames;
    let RowLists { talkers, rows, end } = lists;
    assert!(
        stride > 0 && stride.is_multiple_of(16),
        "stride must be a positive multiple of 16"
    );
    let nrows = input_rows.len();
    assert!(output_rows.len() == nrows && law.len() >= nrows * stride);
    assert!(hi.len() == stride && carry.len() == stride);
    assert!(talkers.len() <= MAX_TALKERS);
    // The kernels index rows without bounds checks; this makes that sound.
    assert!(*end <= nrows, "row out of range");
    let f = Flat {
        input_rows: input_rows.as_ptr(),
        output_rows: output_rows.as_ptr(),
        law: law.as_mut_ptr(),
        stride,
    };
    // SAFETY (all arms): the tables were checked above and their pointers are the
    // caller's contract; the SIMD arms check the CPU.
    match isa {
        Isa::Portable => unsafe { portable::mix(f, talkers, rows, hi, carry) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(isa.is_available());
            unsafe { x86::mix_avx2(f, talkers, rows, hi, carry) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(isa.is_available());
            unsafe { x86::avx512::mix(f, talkers, rows, hi, carry) }
        }
        #[allow(unreachable_patterns)]
        _ => panic!("{isa} is not compiled in"),
    }
}

/// The frames as raw pointers, so that one column block of a row can be read from
/// its input and written to its output without re-slicing (checked in `mix`).
#[derive(Clone, Copy)]
struct Flat {
    input_rows: *const *const i16,
    output_rows: *const *mut i16,
    law: *mut u8,
    stride: usize,
}

impl Flat {
    /// Samples `c..c + n` of row `r`, as (input, output, law) pointers.
    ///
    /// # Safety
    /// Row `r` must exist and `c + n <= stride`.
    #[inline(always)]
    unsafe fn at(self, r: u32, c: usize) -> (*const i16, *mut i16, *mut u8) {
        let r = r as usize;
        // SAFETY: row r exists (its table entries too) and the samples are within
        // the row, by the caller's contract. The output entry of a row encoded
        // instead is not valid (nor used): `wrapping_add` keeps that defined.
        unsafe {
            (
                (*self.input_rows.add(r)).add(c),
                (*self.output_rows.add(r)).wrapping_add(c),
                self.law.add(r * self.stride + c),
            )
        }
    }
}

/// Clamps one lane's total and splits it into (hi, carry).
#[inline(always)]
fn split(total: i32) -> (i16, i16) {
    let t = total.clamp(-65_536, 65_534);
    let h = t.clamp(i16::MIN as i32, i16::MAX as i32);
    (h as i16, (t - h) as i16)
}

mod portable {
    use super::{split, Flat, Row};

    /// # Safety
    /// The layout must have been checked by `super::mix`.
    pub(super) unsafe fn mix(
        f: Flat,
        talkers: &[u32],
        rows: &[Row],
        hi: &mut [i16],
        carry: &mut [i16],
    ) -> bool {
        let mut clipped = false;
        let mut c = 0;
        // SAFETY: blocks stay within the stride (a multiple of 16).
        unsafe {
            while c < f.stride {
                // 32 i32 accumulators fill the 16 SSE registers.
                if f.stride - c >= 32 {
                    clipped |= block::<32>(f, talkers, rows, c, hi, carry);
                    c += 32;
                } else {
                    clipped |= block::<16>(f, talkers, rows, c, hi, carry);
                    c += 16;
                }
            }
        }
        clipped
    }

    #[inline(always)]
    unsafe fn block<const W: usize>(
        f: Flat,
        talkers: &[u32],
        rows: &[Row],
        c: usize,
        hi: &mut [i16],
        carry: &mut [i16],
    ) -> bool {
        let mut acc = [0i32; W];
        for &t in talkers {
            // SAFETY: row t exists and c + W <= stride (checked by the callers).
            let x: &[i16; W] = unsafe { &*f.at(t, c).0.cast::<[i16; W]>() };
            for (a, &x) in acc.iter_mut().zip(x) {
                *a += x as i32;
            }
        }
        let mut h = [0i16; W];
        let mut k = [0i16; W];
        let mut clipped = false;
        for i in 0..W {
            (h[i], k[i]) = split(acc[i]);
            clipped |= k[i] != 0;
        }
        hi[c..c + W].copy_from_slice(&h);
        carry[c..c + W].copy_from_slice(&k);
        for &(p, codec) in rows {
            // SAFETY: as above; input, output and law are distinct buffers.
            let (own, out, law) = unsafe { f.at(p, c) };
            let own = unsafe { &*own.cast::<[i16; W]>() };
            let mut d = [0i16; W];
            if clipped {
                for i in 0..W {
                    d[i] = h[i].saturating_sub(own[i]).saturating_add(k[i]);
                }
            } else {
                for i in 0..W {
                    d[i] = h[i].saturating_sub(own[i]);
                }
            }
            match codec {
                // SAFETY: as above.
                None => unsafe { *out.cast::<[i16; W]>() = d },
                Some(codec) => {
                    let law = unsafe { &mut *law.cast::<[u8; W]>() };
                    for (l, &x) in law.iter_mut().zip(&d) {
                        *l = codec.encode(x);
                    }
                }
            }
        }
        clipped
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Flat, Row};
    use crate::audio::g711::avx2::encode_store;

    /// Adds the rows `a` and `b` (pointers to this block of each, `b` may be a block
    /// of zeros) into the accumulators, two rows at once: interleaving their samples
    /// (`vpunpck{l,h}wd`) and multiplying by ones (`vpmaddwd`) sums each pair in 32
    /// bits with one shuffle per row and vector, where widening each row
    /// (`vpmovsxwd`) takes two.
    ///
    /// `acc[m][0]` gets samples 0-3 and 8-11 of vector `m`, `acc[m][1]` samples 4-7
    /// and 12-15 (the unpacks work within 128-bit lanes); `vpackssdw` of the two
    /// restores sample order.
    ///
    /// # Safety
    /// AVX2; `16 * M` samples readable at `a` and `b`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn add_pair<const M: usize>(acc: &mut [[__m256i; 2]; M], a: *const i16, b: *const i16) {
        let ones = _mm256_set1_epi16(1);
        for (m, acc) in acc.iter_mut().enumerate() {
            // SAFETY: within the block by the caller's contract.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_si256(a.add(16 * m).cast()),
                    _mm256_loadu_si256(b.add(16 * m).cast()),
                )
            };
            let lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(x, y), ones);
            let hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(x, y), ones);
            acc[0] = _mm256_add_epi32(acc[0], lo);
            acc[1] = _mm256_add_epi32(acc[1], hi);
        }
    }

    /// One column block of `16 * M` samples from sample `c`: sums over all talkers,
    /// stores hi/carry, then the mix-minus (and encoding) of this block for every row.
    /// With M <= 5 the 2M accumulators, and then the M `hi` and M `carry` vectors, stay
    /// in the 16 registers; wider blocks (see `mix_avx2`) keep what does not fit in
    /// L1, one sweep over the rows instead of two.
    ///
    /// The mix-minus walks the rows backwards, starting with those the sum read last,
    /// still in the caches. Where `stream` says (a conference past L2, see
    /// [`WIDE_ABOVE`]), the sum walks two streams through memory (the first and the
    /// second half of the talkers, a row of each per step: twice the misses in
    /// flight), the mix-minus both halves backwards, and outputs are streamed
    /// (`vmovntdq`) where the row is 32-byte aligned; below, one stream each (two cost
    /// 1-3% at N = 100 to 1,000, where the rows come from L1 and L2).
    ///
    /// # Safety
    /// AVX2; `c + 16 * M <= stride`; every row in `talkers` and `rows` exists;
    /// `hi`/`carry` hold `stride` samples.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn block<const M: usize>(
        f: Flat,
        talkers: &[u32],
        rows: &[Row],
        (c, stream): (usize, bool),
        hi: *mut i16,
        carry: *mut i16,
    ) -> bool {
        let mut acc = [[_mm256_setzero_si256(); 2]; M];
        let mut hv = [_mm256_setzero_si256(); M];
        let mut cv = [_mm256_setzero_si256(); M];
        let mut any = _mm256_setzero_si256();
        const ZEROS: [i16; 160] = [0; 160];
        // SAFETY: see the function's contract.
        unsafe {
            if stream {
                let (front, back) = talkers.split_at(talkers.len() / 2);
                for (&a, &b) in front.iter().zip(back) {
                    add_pair(&mut acc, f.at(a, c).0, f.at(b, c).0);
                }
                if back.len() > front.len() {
                    add_pair(&mut acc, f.at(back[back.len() - 1], c).0, ZEROS.as_ptr());
                }
            } else {
                let mut pairs = talkers.chunks_exact(2);
                for pair in pairs.by_ref() {
                    add_pair(&mut acc, f.at(pair[0], c).0, f.at(pair[1], c).0);
                }
                if let [last] = pairs.remainder() {
                    add_pair(&mut acc, f.at(*last, c).0, ZEROS.as_ptr());
                }
            }
            let lo_t = _mm256_set1_epi32(-65_536);
            let hi_t = _mm256_set1_epi32(65_534);
            let lo_h = _mm256_set1_epi32(-32_768);
            let hi_h = _mm256_set1_epi32(32_767);
            for m in 0..M {
                let ta = _mm256_min_epi32(_mm256_max_epi32(acc[m][0], lo_t), hi_t);
                let tb = _mm256_min_epi32(_mm256_max_epi32(acc[m][1], lo_t), hi_t);
                let ha = _mm256_min_epi32(_mm256_max_epi32(ta, lo_h), hi_h);
                let hb = _mm256_min_epi32(_mm256_max_epi32(tb, lo_h), hi_h);
                // Both halves are in 16-bit range now, so the saturating pack is a
                // plain narrowing, and it puts the samples back in order.
                hv[m] = _mm256_packs_epi32(ha, hb);
                cv[m] = _mm256_packs_epi32(_mm256_sub_epi32(ta, ha), _mm256_sub_epi32(tb, hb));
                _mm256_storeu_si256(hi.add(c + 16 * m).cast(), hv[m]);
                _mm256_storeu_si256(carry.add(c + 16 * m).cast(), cv[m]);
                any = _mm256_or_si256(any, cv[m]);
            }
            let clipped = _mm256_testz_si256(any, any) == 0;
            // A macro, not a closure: a closure's call is not always inlined, and then
            // `hv` and `cv` are reloaded from memory for every row.
            macro_rules! minus_row {
                ($row:expr) => {{
                    let (p, codec): Row = $row;
                    let (own, out, law) = f.at(p, c);
                    let minus = |m: usize| {
                        let d =
                            _mm256_subs_epi16(hv[m], _mm256_loadu_si256(own.add(16 * m).cast()));
                        if clipped {
                            _mm256_adds_epi16(d, cv[m])
                        } else {
                            d
                        }
                    };
                    match codec {
                        // Straight from registers to the output row (streaming stores
                        // need 32-byte alignment, which a lent frame may lack).
                        None if stream && (out as usize).is_multiple_of(32) => {
                            for m in 0..M {
                                _mm256_stream_si256(out.add(16 * m).cast(), minus(m));
                            }
                        }
                        None => {
                            for m in 0..M {
                                _mm256_storeu_si256(out.add(16 * m).cast(), minus(m));
                            }
                        }
                        // A participant gets its output in its own format only: encoding
                        // from registers saves storing (and reloading) a linear copy.
                        Some(codec) => {
                            encode_store(codec, &std::array::from_fn::<_, M, _>(minus), law)
                        }
                    }
                }};
            }
            if stream {
                let (front, back) = rows.split_at(rows.len() / 2);
                if back.len() > front.len() {
                    minus_row!(back[back.len() - 1]);
                }
                for (&p, &q) in front.iter().zip(back).rev() {
                    minus_row!(q);
                    minus_row!(p);
                }
            } else {
                for &row in rows.iter().rev() {
                    minus_row!(row);
                }
            }
            clipped
        }
    }

    /// Past this many bytes of mix-minus output in a tick the conference no longer fits
    /// in L2 with its inputs, and what a tick costs is the bytes that come from beyond
    /// it: the frame is then one column block (up to `WIDE` vectors, the accumulators
    /// that do not fit in the 16 registers kept in L1), so the rows are swept twice, not
    /// four times, and the outputs are streamed. Below, blocks of at most five vectors
    /// keep everything in registers. 1 MiB, as for AVX-512 (benches/RESULTS.md).
    const WIDE_ABOVE: usize = 1 << 20;
    /// The widest block of the large case: a 20 ms frame (160 samples) whole.
    const WIDE: usize = 10;

    /// The column blocks: as few passes over the rows as the 16 registers allow
    /// (blocks of at most five vectors), of even widths (a 160-sample frame is two
    /// blocks of 80); for large conferences (see [`WIDE_ABOVE`]) blocks of up to
    /// [`WIDE`] vectors, outputs streamed.
    ///
    /// # Safety
    /// AVX2 must be available; the layout must have been checked by `super::mix`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mix_avx2(
        f: Flat,
        talkers: &[u32],
        rows: &[Row],
        hi: &mut [i16],
        carry: &mut [i16],
    ) -> bool {
        let (h, k) = (hi.as_mut_ptr(), carry.as_mut_ptr());
        let vectors = f.stride / 16;
        let wide = rows.len() * f.stride * size_of::<i16>() > WIDE_ABOVE;
        let passes = vectors.div_ceil(if wide { WIDE } else { 5 });
        let mut clipped = false;
        let mut c = 0;
        // SAFETY: the blocks tile `0..stride`; rows were checked by the caller.
        unsafe {
            for i in 0..passes {
                let m = vectors * (i + 1) / passes - vectors * i / passes;
                let at = (c, wide);
                clipped |= match m {
                    1 => block::<1>(f, talkers, rows, at, h, k),
                    2 => block::<2>(f, talkers, rows, at, h, k),
                    3 => block::<3>(f, talkers, rows, at, h, k),
                    4 => block::<4>(f, talkers, rows, at, h, k),
                    5 => block::<5>(f, talkers, rows, at, h, k),
                    6 => block::<6>(f, talkers, rows, at, h, k),
                    7 => block::<7>(f, talkers, rows, at, h, k),
                    8 => block::<8>(f, talkers, rows, at, h, k),
                    9 => block::<9>(f, talkers, rows, at, h, k),
                    _ => block::<10>(f, talkers, rows, at, h, k),
                };
                c += 16 * m;
            }
            if wide {
                // Non-temporal stores are weakly ordered: make them visible before
                // whatever the caller does next.
                _mm_sfence();
            }
        }
        clipped
    }

    /// AVX-512 versions: 32 i16 / 16 i32 lanes per register, and 32 registers.
    ///
    /// With 32 registers a whole 20 ms frame (160 samples, five vectors) is one
    /// column block: ten 32-bit accumulators while summing, five `hi` and five
    /// `carry` vectors during the mix-minus. So a tick is two sweeps over the rows,
    /// the sum reading every talker's frame once, whole, in address order, and the
    /// mix-minus reading it once more and writing the output. Narrower blocks would
    /// cost two more sweeps per extra block, each over a few cache lines of every
    /// row, which at thousands of rows come from beyond L2 every time.
    pub(super) mod avx512 {
        use std::arch::x86_64::*;

        use super::super::{Flat, Row};
        use crate::audio::g711::avx2::encode_store;

        /// The most 32-sample vectors in one column block: 2 x 8 accumulators plus
        /// the operands, or 8 `hi` and 8 `carry` vectors plus the operands, stay
        /// within the 32 registers. Blocks up to 256 samples (32 ms) take one pass.
        const MAX_VECTORS: usize = 8;

        /// Past this many bytes of mix-minus output in a tick, the outputs are
        /// written with non-temporal stores (`vmovntdq`, where a row is 64-byte
        /// aligned). Ordinary stores first read every output line in (the line is
        /// owned before it is written) and then push the rows the sum has just
        /// read out of L2, so the mix-minus, which reads them again backwards,
        /// finds fewer of them there. Streaming saves both, but leaves the outputs
        /// in memory rather than in the caches: worth it only where they would not
        /// have stayed in L2 anyway (at N = 10,000 all talking, 3.2 MB of outputs
        /// besides 3.2 MB of inputs), not for conferences that fit. 1 MiB is half
        /// the L2 of the machines measured (benches/RESULTS.md).
        const STREAM_ABOVE: usize = 1 << 20;

        /// Where a column block lies and how its outputs are stored: from sample
        /// `c`, the last vector cut to the lanes of `tail`, streamed or not (see
        /// [`STREAM_ABOVE`]).
        #[derive(Clone, Copy)]
        struct Columns {
            c: usize,
            tail: __mmask32,
            stream: bool,
        }

        /// Vector `m` of the block at `p`: the last one (`m == M - 1`) loads only
        /// the lanes in `tail` (all 32, or 16 for a stride that ends half-way
        /// through a vector), the others load whole.
        ///
        /// # Safety
        /// AVX-512F/BW; the loaded lanes are readable.
        #[target_feature(enable = "avx512f,avx512bw,avx2")]
        #[inline]
        unsafe fn load<const M: usize>(p: *const i16, m: usize, tail: __mmask32) -> __m512i {
            // SAFETY: the caller's contract.
            unsafe {
                if m + 1 == M {
                    _mm512_maskz_loadu_epi16(tail, p.add(32 * m))
                } else {
                    _mm512_loadu_si512(p.add(32 * m).cast())
                }
            }
        }

        /// Stores vector `m` at `p`, the last one only in the lanes of `tail`.
        ///
        /// # Safety
        /// AVX-512F/BW; the stored lanes are writable.
        #[target_feature(enable = "avx512f,avx512bw,avx2")]
        #[inline]
        unsafe fn store<const M: usize>(p: *mut i16, m: usize, tail: __mmask32, v: __m512i) {
            // SAFETY: the caller's contract.
            unsafe {
                if m + 1 == M {
                    _mm512_mask_storeu_epi16(p.add(32 * m), tail, v)
                } else {
                    _mm512_storeu_si512(p.add(32 * m).cast(), v)
                }
            }
        }

        /// Adds the block of rows `a` and `b` (or zeros) into the accumulators, as
        /// the AVX2 `add_pair` does: `acc[m][0]` gets samples 0-3 of each 128-bit
        /// lane of vector `m`, `acc[m][1]` samples 4-7.
        ///
        /// # Safety
        /// AVX-512F/BW; the block's lanes are readable at `a` and `b`.
        #[target_feature(enable = "avx512f,avx512bw,avx2")]
        #[inline]
        unsafe fn add_pair<const M: usize>(
            acc: &mut [[__m512i; 2]; M],
            a: *const i16,
            b: Option<*const i16>,
            tail: __mmask32,
        ) {
            let ones = _mm512_set1_epi16(1);
            for (m, acc) in acc.iter_mut().enumerate() {
                // SAFETY: the caller's contract.
                let (x, y) = unsafe {
                    let y = match b {
                        Some(b) => load::<M>(b, m, tail),
                        None => _mm512_setzero_si512(),
                    };
                    (load::<M>(a, m, tail), y)
                };
                let lo = _mm512_madd_epi16(_mm512_unpacklo_epi16(x, y), ones);
                let hi = _mm512_madd_epi16(_mm512_unpackhi_epi16(x, y), ones);
                acc[0] = _mm512_add_epi32(acc[0], lo);
                acc[1] = _mm512_add_epi32(acc[1], hi);
            }
        }

        /// The mix-minus of one row for the block in `cols`, from `hi`/`carry` in
        /// registers: stored (streamed if `cols.stream` and the row is 64-byte
        /// aligned) or encoded.
        ///
        /// # Safety
        /// As for `block`; the row exists.
        #[target_feature(enable = "avx512f,avx512bw,avx2")]
        #[inline]
        unsafe fn minus_row<const M: usize>(
            f: Flat,
            (p, codec): Row,
            cols: Columns,
            clipped: bool,
            hv: &[__m512i; M],
            cv: &[__m512i; M],
        ) {
            let Columns { c, tail, stream } = cols;
            // SAFETY: the caller's contract.
            unsafe {
                let (own, out, law) = f.at(p, c);
                // Streaming stores need 64-byte alignment (a lent frame may lack it).
                let stream = stream && (out as usize).is_multiple_of(64);
                for m in 0..M {
                    let mut d = _mm512_subs_epi16(hv[m], load::<M>(own, m, tail));
                    if clipped {
                        d = _mm512_adds_epi16(d, cv[m]);
                    }
                    match codec {
                        None if stream && (m + 1 < M || tail == !0) => {
                            _mm512_stream_si512(out.add(32 * m).cast(), d)
                        }
                        None => store::<M>(out, m, tail, d),
                        // Encoded from registers, a vector at a time (16 codes
                        // only for a half vector).
                        Some(codec) => {
                            let halves =
                                [_mm512_castsi512_si256(d), _mm512_extracti64x4_epi64(d, 1)];
                            let n = if m + 1 == M && tail != !0 { 1 } else { 2 };
                            encode_store(codec, &halves[..n], law.add(32 * m));
                        }
                    }
                }
            }
        }

        /// One column block of `M` vectors where `cols` says: the sum over all talkers, two rows per shuffle
        /// (see the AVX2 `add_pair`; the unpacks and `vpackssdw` work within
        /// 128-bit lanes here too, so the pack restores sample order), `hi`/`carry`
        /// stored, then the mix-minus of every row from registers, walking the rows
        /// backwards so that it starts with those the sum read last, which are
        /// still in the caches.
        ///
        /// # Safety
        /// AVX-512F/BW and AVX2; the block's lanes lie within `stride`; every row in
        /// `talkers` and `rows` exists; `hi`/`carry` hold `stride` samples.
        #[target_feature(enable = "avx512f,avx512bw,avx2")]
        #[inline]
        unsafe fn block<const M: usize>(
            f: Flat,
            talkers: &[u32],
            rows: &[Row],
            cols: Columns,
            hi: *mut i16,
            carry: *mut i16,
        ) -> bool {
            let Columns { c, tail, .. } = cols;
            let zero = _mm512_setzero_si512();
            let mut acc = [[zero; 2]; M];
            let mut hv = [zero; M];
            let mut cv = [zero; M];
            let mut any = zero;
            // SAFETY: see the function's contract.
            unsafe {
                // Two streams through memory, the first and the second half of
                // the talkers, each pair one row of each: twice the cache misses
                // in flight of one stream, where thousands of rows come from L3.
                let (front, back) = talkers.split_at(talkers.len() / 2);
                for (&a, &b) in front.iter().zip(back) {
                    add_pair::<M>(&mut acc, f.at(a, c).0, Some(f.at(b, c).0), tail);
                }
                if back.len() > front.len() {
                    add_pair::<M>(&mut acc, f.at(back[back.len() - 1], c).0, None, tail);
                }
                let lo_t = _mm512_set1_epi32(-65_536);
                let hi_t = _mm512_set1_epi32(65_534);
                let lo_h = _mm512_set1_epi32(-32_768);
                let hi_h = _mm512_set1_epi32(32_767);
                for m in 0..M {
                    let ta = _mm512_min_epi32(_mm512_max_epi32(acc[m][0], lo_t), hi_t);
                    let tb = _mm512_min_epi32(_mm512_max_epi32(acc[m][1], lo_t), hi_t);
                    let ha = _mm512_min_epi32(_mm512_max_epi32(ta, lo_h), hi_h);
                    let hb = _mm512_min_epi32(_mm512_max_epi32(tb, lo_h), hi_h);
                    // In 16-bit range: the saturating pack only narrows.
                    hv[m] = _mm512_packs_epi32(ha, hb);
                    cv[m] = _mm512_packs_epi32(_mm512_sub_epi32(ta, ha), _mm512_sub_epi32(tb, hb));
                    store::<M>(hi.add(c), m, tail, hv[m]);
                    store::<M>(carry.add(c), m, tail, cv[m]);
                    // Lanes outside `tail` summed zeros: their carry is zero.
                    any = _mm512_or_si512(any, cv[m]);
                }
                let clipped = _mm512_test_epi16_mask(any, any) != 0;
                // Backwards through both halves at once (the rows each half of
                // the sum read last first), so two streams here too.
                let (front, back) = rows.split_at(rows.len() / 2);
                if back.len() > front.len() {
                    minus_row::<M>(f, back[back.len() - 1], cols, clipped, &hv, &cv);
                }
                for (&p, &q) in front.iter().zip(back).rev() {
                    minus_row::<M>(f, q, cols, clipped, &hv, &cv);
                    minus_row::<M>(f, p, cols, clipped, &hv, &cv);
                }
                clipped
            }
        }

        /// # Safety
        /// AVX-512F/BW and AVX2 must be available; layout checked by `super::mix`.
        #[target_feature(enable = "avx512f,avx512bw,avx2")]
        pub(crate) unsafe fn mix(
            f: Flat,
            talkers: &[u32],
            rows: &[Row],
            hi: &mut [i16],
            carry: &mut [i16],
        ) -> bool {
            let (h, k) = (hi.as_mut_ptr(), carry.as_mut_ptr());
            // The stride is a multiple of 16: whole vectors, and perhaps a half one.
            let vectors = f.stride.div_ceil(32);
            let half_tail = !f.stride.is_multiple_of(32);
            let passes = vectors.div_ceil(MAX_VECTORS);
            let stream = rows.len() * f.stride * size_of::<i16>() > STREAM_ABOVE;
            let mut clipped = false;
            let mut c = 0;
            // SAFETY: the blocks tile `0..stride` (only the last may end in a half
            // vector, loaded and stored under its mask); rows were checked by the
            // caller.
            unsafe {
                for i in 0..passes {
                    let m = vectors * (i + 1) / passes - vectors * i / passes;
                    let tail = if half_tail && i + 1 == passes {
                        0xFFFF
                    } else {
                        !0
                    };
                    let cols = Columns { c, tail, stream };
                    clipped |= match m {
                        1 => block::<1>(f, talkers, rows, cols, h, k),
                        2 => block::<2>(f, talkers, rows, cols, h, k),
                        3 => block::<3>(f, talkers, rows, cols, h, k),
                        4 => block::<4>(f, talkers, rows, cols, h, k),
                        5 => block::<5>(f, talkers, rows, cols, h, k),
                        6 => block::<6>(f, talkers, rows, cols, h, k),
                        7 => block::<7>(f, talkers, rows, cols, h, k),
                        _ => block::<8>(f, talkers, rows, cols, h, k),
                    };
                    c += 32 * m;
                }
                if stream {
                    // Non-temporal stores are weakly ordered: make them visible
                    // before whatever the caller does next (handing the frames to
                    // another thread with a release store, say).
                    _mm_sfence();
                }
            }
            clipped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (hi, carry) identity against the definition, over every `own` and a grid of
    /// totals that covers both clamp points and both saturation edges densely.
    #[test]
    fn split_identity_is_exact() {
        let mut totals: Vec<i32> = (-70_000..=70_000).step_by(97).collect();
        for edge in [
            -65_536, -65_535, -32_769, -32_768, -1, 0, 32_767, 32_768, 65_534, 65_535,
        ] {
            totals.extend(edge - 3..=edge + 3);
        }
        totals.extend([i32::MIN / 2, i32::MAX / 2]);
        for &t in &totals {
            let (h, k) = split(t);
            for own in (i16::MIN..=i16::MAX)
                .step_by(7)
                .chain([i16::MIN, -1, 0, 1, i16::MAX])
            {
                let want = (t as i64 - own as i64).clamp(-32_768, 32_767) as i16;
                let got = h.saturating_sub(own).saturating_add(k);
                assert_eq!(got, want, "total {t} own {own}");
            }
        }
    }

    fn run_all_isas(stride: usize, rows: usize, data: &[i16], talkers: &[u32]) {
        // Straight from the definition.
        let total: Vec<i64> = (0..stride)
            .map(|s| {
                talkers
                    .iter()
                    .map(|&t| data[t as usize * stride + s] as i64)
                    .sum()
            })
            .collect();
        let sat = |v: i64| v.clamp(-32_768, 32_767) as i16;
        // Alternate rows are also encoded, to cover the fused encoder.
        let codecs = [None, Some(Codec::ULAW), Some(Codec::DAHDI_ALAW)];
        let out_rows: Vec<Row> = talkers
            .iter()
            .map(|&t| (t, codecs[t as usize % 3]))
            .collect();
        for isa in Isa::available() {
            let mut hi = vec![0; stride];
            let mut carry = vec![0; stride];
            let mut out = vec![0; rows * stride];
            let mut law = vec![0; rows * stride];
            let input_rows: Vec<*const i16> =
                data.chunks_exact(stride).map(|r| r.as_ptr()).collect();
            let output_rows: Vec<*mut i16> = out
                .chunks_exact_mut(stride)
                .map(|r| r.as_mut_ptr())
                .collect();
            let frames = Frames {
                input_rows: &input_rows,
                output_rows: &output_rows,
                law: &mut law,
                stride,
            };
            let mut lists = RowLists::default();
            talkers.iter().for_each(|&t| {
                lists.push_talker(t);
            });
            out_rows.iter().for_each(|&(r, c)| {
                lists.push_row(r, c);
            });
            // SAFETY: every row points into `data` or `out`, `stride` samples each.
            let clipped = unsafe { mix(isa, frames, &lists, &mut hi, &mut carry) };
            assert_eq!(clipped, total.iter().any(|&t| sat(t) as i64 != t), "{isa}");
            for s in 0..stride {
                assert_eq!(hi[s], sat(total[s]), "{isa} hi[{s}]");
                for &(t, codec) in &out_rows {
                    let i = t as usize * stride + s;
                    let want = sat(total[s] - data[i] as i64);
                    match codec {
                        None => assert_eq!(out[i], want, "{isa} row {t} [{s}]"),
                        Some(codec) => {
                            assert_eq!(law[i], codec.encode(want), "{isa} row {t} [{s}] law")
                        }
                    }
                }
            }
        }
    }

    /// A listed row past the row tables, as a talker or as a mix-minus row, is
    /// refused before anything is read.
    #[test]
    fn rows_past_the_tables_are_refused() {
        let stride = 16;
        let data = vec![1i16; 4 * stride];
        let input_rows: Vec<*const i16> = data.chunks_exact(stride).map(|r| r.as_ptr()).collect();
        let output_rows = vec![std::ptr::null_mut(); 4];
        let mut law = vec![0u8; 4 * stride];
        let mut past_as_talker = RowLists::default();
        past_as_talker.push_talker(0);
        past_as_talker.push_talker(7);
        let mut past_as_row = RowLists::default();
        past_as_row.push_talker(1);
        past_as_row.push_row(4, Some(Codec::ULAW));
        for lists in [&past_as_talker, &past_as_row] {
            for isa in Isa::available() {
                let frames = Frames {
                    input_rows: &input_rows,
                    output_rows: &output_rows,
                    law: &mut law,
                    stride,
                };
                let (mut hi, mut carry) = (vec![0; stride], vec![0; stride]);
                // SAFETY: the rows within the tables point into `data`; the check
                // refuses the call before any row is read.
                let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
                    mix(isa, frames, lists, &mut hi, &mut carry)
                }));
                let message = refused.expect_err("a row past the tables was accepted");
                assert_eq!(
                    message.downcast_ref::<&str>(),
                    Some(&"row out of range"),
                    "{isa}"
                );
            }
        }
    }

    #[test]
    fn kernels_agree_across_isas_on_extremes() {
        for stride in [16, 32, 48, 64, 80, 160, 176, 240, 256, 272, 1024] {
            let rows = 9;
            let data: Vec<i16> = (0..rows * stride)
                .map(|i| match i % 5 {
                    0 => i16::MAX,
                    1 => i16::MIN,
                    2 => (i as i16).wrapping_mul(31),
                    3 => 30_000,
                    _ => -20_000,
                })
                .collect();
            run_all_isas(stride, rows, &data, &[0, 2, 3, 5, 8]);
            run_all_isas(stride, rows, &data, &[]);
        }
    }

    /// Enough rows that the SIMD kernels stream their outputs (more than 1 MiB of
    /// them: AVX-512's `STREAM_ABOVE`, AVX2's `WIDE_ABOVE`, where AVX2 also takes the
    /// frame in one block of up to ten vectors), with loud inputs that clip. Strides
    /// where every row is 64-byte aligned (128, 160) and where rows are not (112, 144,
    /// 176, 304); AVX2 blocks of 7, 8, 9 and 10 vectors, and two blocks (5 + 6,
    /// 9 + 10).
    #[test]
    fn kernels_agree_across_isas_with_streamed_outputs() {
        let rows = 6_000;
        for stride in [112, 128, 144, 160, 176, 304] {
            let mut x = 0x2545_f491_4f6c_dd1du64;
            let data: Vec<i16> = (0..rows * stride)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 48) as i16
                })
                .collect();
            let talkers: Vec<u32> = (0..rows as u32).filter(|r| r % 5 != 1).collect();
            run_all_isas(stride, rows, &data, &talkers);
        }
    }
}
