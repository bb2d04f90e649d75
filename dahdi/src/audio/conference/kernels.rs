//! The two per-tick kernels of the conference engine, on every SIMD level.
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
//! When no sample of a tick clips (the common case) `carry` is all zero and the
//! kernels skip the add. The identity is also checked exhaustively over a grid of `T`
//! and `own` values by a unit test below.
//!
//! Frames are laid out at `stride` samples (a multiple of 16); lanes past the block
//! size are padding that is computed and never read by callers.

use crate::audio::isa::Isa;

/// Accumulating `T` in `i32` is exact for up to 65,536 talkers (65,536 x -32768 is
/// `i32::MIN`). The engine refuses more participants than this.
pub(crate) const MAX_TALKERS: usize = 65_536;

/// Computes `hi` and `carry` (each `stride` long) from the rows of `input` listed in
/// `talkers`. Returns whether any lane clipped (i.e. whether `carry` is non-zero).
pub(crate) fn sum(
    isa: Isa,
    input: &[i16],
    stride: usize,
    talkers: &[u32],
    hi: &mut [i16],
    carry: &mut [i16],
) -> bool {
    check_layout(input, stride, talkers);
    assert!(hi.len() == stride && carry.len() == stride);
    assert!(talkers.len() <= MAX_TALKERS);
    match isa {
        Isa::Portable => sum_portable(input, stride, talkers, hi, carry),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(isa.is_available());
            // SAFETY: AVX2 is available; the layout was checked above.
            unsafe { x86::sum_avx2(input, stride, talkers, hi, carry) }
        }
        #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
        Isa::Avx512 => {
            assert!(isa.is_available());
            // SAFETY: AVX-512F/BW and AVX2 are available; the layout was checked above.
            unsafe { x86::avx512::sum(input, stride, talkers, hi, carry) }
        }
        #[allow(unreachable_patterns)]
        _ => panic!("{isa} is not compiled in"),
    }
}

/// The result of [`sum`]: `hi`, `carry` and whether `carry` is non-zero anywhere.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Total<'a> {
    pub(crate) hi: &'a [i16],
    pub(crate) carry: &'a [i16],
    pub(crate) clipped: bool,
}

/// For every row `p` in `rows`: `output[p] = sat16(sat16(hi - input[p]) + carry)`.
pub(crate) fn mix_minus(
    isa: Isa,
    total: Total<'_>,
    input: &[i16],
    output: &mut [i16],
    stride: usize,
    rows: &[u32],
) {
    let Total { hi, carry, clipped } = total;
    check_layout(input, stride, rows);
    assert_eq!(input.len(), output.len());
    assert!(hi.len() == stride && carry.len() == stride);
    match isa {
        Isa::Portable => mix_minus_portable(hi, carry, clipped, input, output, stride, rows),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(isa.is_available());
            // SAFETY: AVX2 is available; the layout was checked above.
            unsafe { x86::mix_minus_avx2(hi, carry, clipped, input, output, stride, rows) }
        }
        #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
        Isa::Avx512 => {
            assert!(isa.is_available());
            // SAFETY: AVX-512F/BW and AVX2 are available; the layout was checked above.
            unsafe { x86::avx512::mix_minus(hi, carry, clipped, input, output, stride, rows) }
        }
        #[allow(unreachable_patterns)]
        _ => panic!("{isa} is not compiled in"),
    }
}

/// The SIMD kernels index rows without bounds checks; this makes that sound.
fn check_layout(input: &[i16], stride: usize, rows: &[u32]) {
    assert!(
        stride > 0 && stride.is_multiple_of(16),
        "stride must be a positive multiple of 16"
    );
    assert_eq!(input.len() % stride, 0);
    let nrows = input.len() / stride;
    assert!(
        rows.iter().all(|&r| (r as usize) < nrows),
        "row index out of range"
    );
}

/// Clamps one lane's total and splits it into (hi, carry).
#[inline(always)]
fn split(total: i32) -> (i16, i16) {
    let t = total.clamp(-65_536, 65_534);
    let h = t.clamp(i16::MIN as i32, i16::MAX as i32);
    (h as i16, (t - h) as i16)
}

fn sum_portable(
    input: &[i16],
    stride: usize,
    talkers: &[u32],
    hi: &mut [i16],
    carry: &mut [i16],
) -> bool {
    let mut clipped = false;
    let mut c = 0;
    while c < stride {
        // 32 i32 accumulators fill the 16 SSE registers; stride is a multiple of 16.
        if stride - c >= 32 {
            clipped |= sum_cols_portable::<32>(input, stride, talkers, c, hi, carry);
            c += 32;
        } else {
            clipped |= sum_cols_portable::<16>(input, stride, talkers, c, hi, carry);
            c += 16;
        }
    }
    clipped
}

#[inline(always)]
fn sum_cols_portable<const W: usize>(
    input: &[i16],
    stride: usize,
    talkers: &[u32],
    c: usize,
    hi: &mut [i16],
    carry: &mut [i16],
) -> bool {
    let mut acc = [0i32; W];
    for &t in talkers {
        let start = t as usize * stride + c;
        let row: &[i16; W] = input[start..start + W].try_into().expect("W lanes");
        for (a, &x) in acc.iter_mut().zip(row) {
            *a += x as i32;
        }
    }
    let mut clipped = false;
    for ((a, h), k) in acc.iter().zip(&mut hi[c..c + W]).zip(&mut carry[c..c + W]) {
        (*h, *k) = split(*a);
        clipped |= *k != 0;
    }
    clipped
}

fn mix_minus_portable(
    hi: &[i16],
    carry: &[i16],
    clipped: bool,
    input: &[i16],
    output: &mut [i16],
    stride: usize,
    rows: &[u32],
) {
    for &p in rows {
        let start = p as usize * stride;
        let own = &input[start..start + stride];
        let out = &mut output[start..start + stride];
        if clipped {
            for (((o, &h), &k), &x) in out.iter_mut().zip(hi).zip(carry).zip(own) {
                *o = h.saturating_sub(x).saturating_add(k);
            }
        } else {
            for ((o, &h), &x) in out.iter_mut().zip(hi).zip(own) {
                *o = h.saturating_sub(x);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Sums the 8*K columns starting at `c` over all talkers into `hi`/`carry`.
    ///
    /// Column blocks keep the K accumulators in registers while streaming over the
    /// talkers; each talker contributes one contiguous 16*K-byte piece per block.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn sum_cols<const K: usize>(
        base: *const i16,
        stride: usize,
        talkers: &[u32],
        hi: *mut i16,
        carry: *mut i16,
    ) -> __m256i {
        let mut acc = [_mm256_setzero_si256(); K];
        // SAFETY: the caller guarantees that every talker row holds 8*K samples at
        // `base + row * stride` and that `hi`/`carry` hold 8*K samples.
        unsafe {
            for &t in talkers {
                let p = base.add(t as usize * stride);
                for (k, a) in acc.iter_mut().enumerate() {
                    let x = _mm256_cvtepi16_epi32(_mm_loadu_si128(p.add(8 * k).cast()));
                    *a = _mm256_add_epi32(*a, x);
                }
            }
            let lo_t = _mm256_set1_epi32(-65_536);
            let hi_t = _mm256_set1_epi32(65_534);
            let lo_h = _mm256_set1_epi32(-32_768);
            let hi_h = _mm256_set1_epi32(32_767);
            let mut any = _mm256_setzero_si256();
            for k in (0..K).step_by(2) {
                let ta = _mm256_min_epi32(_mm256_max_epi32(acc[k], lo_t), hi_t);
                let tb = _mm256_min_epi32(_mm256_max_epi32(acc[k + 1], lo_t), hi_t);
                let ha = _mm256_min_epi32(_mm256_max_epi32(ta, lo_h), hi_h);
                let hb = _mm256_min_epi32(_mm256_max_epi32(tb, lo_h), hi_h);
                // Both halves are in 16-bit range now, so the saturating pack is a
                // plain narrowing; it interleaves 128-bit halves, the permute undoes it.
                let h = _mm256_permute4x64_epi64(_mm256_packs_epi32(ha, hb), 0b11_01_10_00);
                let cy = _mm256_permute4x64_epi64(
                    _mm256_packs_epi32(_mm256_sub_epi32(ta, ha), _mm256_sub_epi32(tb, hb)),
                    0b11_01_10_00,
                );
                _mm256_storeu_si256(hi.add(8 * k).cast(), h);
                _mm256_storeu_si256(carry.add(8 * k).cast(), cy);
                any = _mm256_or_si256(any, cy);
            }
            any
        }
    }

    /// # Safety
    /// AVX2 must be available; `input` rows of `stride` samples (a multiple of 16) must
    /// contain every index in `talkers`; `hi` and `carry` are `stride` long.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum_avx2(
        input: &[i16],
        stride: usize,
        talkers: &[u32],
        hi: &mut [i16],
        carry: &mut [i16],
    ) -> bool {
        let base = input.as_ptr();
        let mut any = _mm256_setzero_si256();
        let mut c = 0;
        // SAFETY: column blocks stay within `stride`; rows are checked by the caller.
        unsafe {
            while c + 64 <= stride {
                let hp = hi.as_mut_ptr().add(c);
                let cp = carry.as_mut_ptr().add(c);
                any = _mm256_or_si256(any, sum_cols::<8>(base.add(c), stride, talkers, hp, cp));
                c += 64;
            }
            while c < stride {
                let hp = hi.as_mut_ptr().add(c);
                let cp = carry.as_mut_ptr().add(c);
                any = _mm256_or_si256(any, sum_cols::<2>(base.add(c), stride, talkers, hp, cp));
                c += 16;
            }
        }
        _mm256_testz_si256(any, any) == 0
    }

    /// # Safety
    /// As for [`sum_avx2`], and `output` has the same layout as `input`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mix_minus_avx2(
        hi: &[i16],
        carry: &[i16],
        clipped: bool,
        input: &[i16],
        output: &mut [i16],
        stride: usize,
        rows: &[u32],
    ) {
        let (h, k) = (hi.as_ptr(), carry.as_ptr());
        // SAFETY: each row p has `stride` samples at p * stride in both buffers (checked
        // by the caller), and hi/carry are `stride` long; offsets step by 16 < stride.
        unsafe {
            for &p in rows {
                let own = input.as_ptr().add(p as usize * stride);
                let out = output.as_mut_ptr().add(p as usize * stride);
                let mut i = 0;
                if clipped {
                    while i < stride {
                        let d = _mm256_subs_epi16(
                            _mm256_loadu_si256(h.add(i).cast()),
                            _mm256_loadu_si256(own.add(i).cast()),
                        );
                        let d = _mm256_adds_epi16(d, _mm256_loadu_si256(k.add(i).cast()));
                        _mm256_storeu_si256(out.add(i).cast(), d);
                        i += 16;
                    }
                } else {
                    while i < stride {
                        let d = _mm256_subs_epi16(
                            _mm256_loadu_si256(h.add(i).cast()),
                            _mm256_loadu_si256(own.add(i).cast()),
                        );
                        _mm256_storeu_si256(out.add(i).cast(), d);
                        i += 16;
                    }
                }
            }
        }
    }

    /// AVX-512 versions: the same algorithm with 16 i32 / 32 i16 lanes per register.
    /// The intrinsics need Rust 1.89, newer than the workspace's minimum, hence the
    /// opt-in crate feature and the lint exception.
    #[cfg(feature = "avx512")]
    #[allow(clippy::incompatible_msrv)]
    pub(super) mod avx512 {
        use std::arch::x86_64::*;

        #[target_feature(enable = "avx512f,avx512bw,avx2")]
        #[inline]
        unsafe fn sum_cols<const K: usize>(
            base: *const i16,
            stride: usize,
            talkers: &[u32],
            hi: *mut i16,
            carry: *mut i16,
        ) -> __m512i {
            let mut acc = [_mm512_setzero_si512(); K];
            // SAFETY: as in the AVX2 `sum_cols`, with 16*K samples per block.
            unsafe {
                for &t in talkers {
                    let p = base.add(t as usize * stride);
                    for (k, a) in acc.iter_mut().enumerate() {
                        let x = _mm512_cvtepi16_epi32(_mm256_loadu_si256(p.add(16 * k).cast()));
                        *a = _mm512_add_epi32(*a, x);
                    }
                }
                let lo_t = _mm512_set1_epi32(-65_536);
                let hi_t = _mm512_set1_epi32(65_534);
                let lo_h = _mm512_set1_epi32(-32_768);
                let hi_h = _mm512_set1_epi32(32_767);
                let mut any = _mm512_setzero_si512();
                for (k, a) in acc.iter().enumerate() {
                    let t = _mm512_min_epi32(_mm512_max_epi32(*a, lo_t), hi_t);
                    let h = _mm512_min_epi32(_mm512_max_epi32(t, lo_h), hi_h);
                    let cy = _mm512_sub_epi32(t, h);
                    // vpmovdw truncates in order; both values are in 16-bit range.
                    _mm256_storeu_si256(hi.add(16 * k).cast(), _mm512_cvtepi32_epi16(h));
                    _mm256_storeu_si256(carry.add(16 * k).cast(), _mm512_cvtepi32_epi16(cy));
                    any = _mm512_or_si512(any, cy);
                }
                any
            }
        }

        /// # Safety
        /// AVX-512F/BW and AVX2 must be available; layout as for `sum_avx2`.
        #[target_feature(enable = "avx512f,avx512bw,avx2")]
        pub(crate) unsafe fn sum(
            input: &[i16],
            stride: usize,
            talkers: &[u32],
            hi: &mut [i16],
            carry: &mut [i16],
        ) -> bool {
            let base = input.as_ptr();
            let mut any = _mm512_setzero_si512();
            let mut c = 0;
            // SAFETY: column blocks stay within `stride`; rows are checked by the caller.
            unsafe {
                while c + 128 <= stride {
                    let hp = hi.as_mut_ptr().add(c);
                    let cp = carry.as_mut_ptr().add(c);
                    let a = sum_cols::<8>(base.add(c), stride, talkers, hp, cp);
                    any = _mm512_or_si512(any, a);
                    c += 128;
                }
                while c < stride {
                    let hp = hi.as_mut_ptr().add(c);
                    let cp = carry.as_mut_ptr().add(c);
                    let a = sum_cols::<1>(base.add(c), stride, talkers, hp, cp);
                    any = _mm512_or_si512(any, a);
                    c += 16;
                }
            }
            _mm512_test_epi32_mask(any, any) != 0
        }

        /// # Safety
        /// As for [`sum`], and `output` has the same layout as `input`.
        #[target_feature(enable = "avx512f,avx512bw,avx2")]
        pub(crate) unsafe fn mix_minus(
            hi: &[i16],
            carry: &[i16],
            clipped: bool,
            input: &[i16],
            output: &mut [i16],
            stride: usize,
            rows: &[u32],
        ) {
            let (h, k) = (hi.as_ptr(), carry.as_ptr());
            // SAFETY: as in `mix_minus_avx2`; 32-lane steps while they fit, then one
            // 16-lane step (stride is a multiple of 16).
            unsafe {
                for &p in rows {
                    let own = input.as_ptr().add(p as usize * stride);
                    let out = output.as_mut_ptr().add(p as usize * stride);
                    let mut i = 0;
                    while i + 32 <= stride {
                        let mut d = _mm512_subs_epi16(
                            _mm512_loadu_si512(h.add(i).cast()),
                            _mm512_loadu_si512(own.add(i).cast()),
                        );
                        if clipped {
                            d = _mm512_adds_epi16(d, _mm512_loadu_si512(k.add(i).cast()));
                        }
                        _mm512_storeu_si512(out.add(i).cast(), d);
                        i += 32;
                    }
                    if i < stride {
                        let mut d = _mm256_subs_epi16(
                            _mm256_loadu_si256(h.add(i).cast()),
                            _mm256_loadu_si256(own.add(i).cast()),
                        );
                        if clipped {
                            d = _mm256_adds_epi16(d, _mm256_loadu_si256(k.add(i).cast()));
                        }
                        _mm256_storeu_si256(out.add(i).cast(), d);
                    }
                }
            }
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
        let mut results = Vec::new();
        for isa in Isa::available() {
            let mut hi = vec![0; stride];
            let mut carry = vec![0; stride];
            let clipped = sum(isa, data, stride, talkers, &mut hi, &mut carry);
            let mut out = vec![0; rows * stride];
            let total = Total {
                hi: &hi,
                carry: &carry,
                clipped,
            };
            mix_minus(isa, total, data, &mut out, stride, talkers);
            results.push((isa, hi, carry, clipped, out));
        }
        for (isa, hi, carry, clipped, out) in &results[1..] {
            let (_, hi0, carry0, clipped0, out0) = &results[0];
            assert_eq!(hi, hi0, "{isa} hi");
            assert_eq!(carry, carry0, "{isa} carry");
            assert_eq!(clipped, clipped0, "{isa} clipped");
            assert_eq!(out, out0, "{isa} out");
        }
    }

    #[test]
    fn kernels_agree_across_isas_on_extremes() {
        for stride in [16, 32, 48, 64, 80, 160, 176, 1024] {
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
}
