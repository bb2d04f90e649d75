//! AVX2 G.711 kernels: 32 samples per iteration, no tables in memory.
//!
//! Table lookups do not vectorise (a gather costs more than the scalar loop), so both
//! directions are computed. The trick for both is that everything that depends on the
//! segment `e` (0..=7) or the mantissa `m` (0..=15) is a 16-entry byte table, which
//! `vpshufb` looks up 32 lanes at a time, and that every variable shift is a multiply
//! by a power of two taken from such a table. Samples that do not fill a whole
//! iteration go through the scalar tables, which give the same results.

use std::arch::x86_64::*;

use super::{Codec, Law, Variant};

/// Broadcasts a 16-byte table to both 128-bit halves (`vpshufb` looks up per half).
#[inline(always)]
fn table(bytes: [u8; 16]) -> [u8; 32] {
    let mut t = [0u8; 32];
    t[..16].copy_from_slice(&bytes);
    t[16..].copy_from_slice(&bytes);
    t
}

/// Per-codec constants for [`decode`]. With `c = code ^ xor`, `m = c & 15` and
/// `e = (c >> 4) & 7`, the magnitude is `(m_tab[m] + r_tab[e]) * p_tab[e] - k`:
///
/// * mu-law: `(8m + 132) << e - 132`.
/// * G.191 A-law: `16m + 8` in segment 0, `(16m + 264) << (e-1)` above, which is
///   `(8m + 4) * 2` and `(8m + 4 + 128) << e`.
/// * DAHDI A-law (no half step): `(8m) * 2` and `(8m + 128) << e`.
///
/// Every `m_tab + r_tab` fits in a byte (at most 252) and every product in an `i16`
/// (at most 32256), so one byte add and one 16-bit multiply do it.
struct DecodeParams {
    xor: u8,
    /// XOR that makes bit 7 of `c` set exactly for negative codes.
    neg_flip: u8,
    m_tab: [u8; 16],
    r_tab: [u8; 16],
    p_tab: [u8; 16],
    k: i16,
}

fn decode_params(codec: Codec) -> DecodeParams {
    let mut m_tab = [0u8; 16];
    for (m, v) in m_tab.iter_mut().enumerate() {
        *v = 8 * m as u8;
    }
    match (codec.law, codec.variant) {
        (Law::Ulaw, _) => {
            let mut p_tab = [0u8; 16];
            for (e, v) in p_tab.iter_mut().enumerate().take(8) {
                *v = 1 << e;
            }
            let mut r_tab = [0u8; 16];
            r_tab[..8].fill(132);
            // mu-law codes are stored inverted; after inversion bit 7 marks negative.
            DecodeParams {
                xor: 0xFF,
                neg_flip: 0,
                m_tab,
                r_tab,
                p_tab,
                k: 132,
            }
        }
        (Law::Alaw, variant) => {
            if variant == Variant::Itu {
                for v in m_tab.iter_mut() {
                    *v += 4;
                }
            }
            let mut p_tab = [0u8; 16];
            p_tab[0] = 2;
            for (e, v) in p_tab.iter_mut().enumerate().take(8).skip(1) {
                *v = 1 << e;
            }
            let mut r_tab = [0u8; 16];
            r_tab[1..8].fill(128);
            // A-law: after the 0x55 XOR bit 7 marks *positive*, so flip it.
            DecodeParams {
                xor: 0x55,
                neg_flip: 0x80,
                m_tab,
                r_tab,
                p_tab,
                k: 0,
            }
        }
    }
}

/// Decodes `src` into `dst` (equal lengths).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn decode(codec: Codec, src: &[u8], dst: &mut [i16]) {
    debug_assert_eq!(src.len(), dst.len());
    let p = decode_params(codec);
    let m_tab = table(p.m_tab);
    let r_tab = table(p.r_tab);
    let p_tab = table(p.p_tab);
    let n = src.len() / 32 * 32;
    // SAFETY: AVX2 is enabled for this function; every load reads src[i..i + 32] and
    // every store writes dst[i..i + 32] with i + 32 <= n <= both lengths.
    unsafe {
        let m_tab = _mm256_loadu_si256(m_tab.as_ptr().cast());
        let r_tab = _mm256_loadu_si256(r_tab.as_ptr().cast());
        let p_tab = _mm256_loadu_si256(p_tab.as_ptr().cast());
        let xor = _mm256_set1_epi8(p.xor as i8);
        let neg_flip = _mm256_set1_epi8(p.neg_flip as i8);
        let low4 = _mm256_set1_epi8(0x0F);
        let low3 = _mm256_set1_epi8(0x07);
        let k = _mm256_set1_epi16(p.k);
        let one = _mm256_set1_epi16(1);
        let mut i = 0;
        while i < n {
            let c = _mm256_xor_si256(_mm256_loadu_si256(src.as_ptr().add(i).cast()), xor);
            let m = _mm256_and_si256(c, low4);
            // A 16-bit shift moves bits between bytes; the mask removes them.
            let e = _mm256_and_si256(_mm256_srli_epi16(c, 4), low3);
            let base =
                _mm256_add_epi8(_mm256_shuffle_epi8(m_tab, m), _mm256_shuffle_epi8(r_tab, e));
            let pow = _mm256_shuffle_epi8(p_tab, e);
            let sign = _mm256_xor_si256(c, neg_flip);
            // Widen the byte lanes in order: first the low 16, then the high 16.
            for half in 0..2 {
                let (b, q, s) = if half == 0 {
                    (
                        _mm256_castsi256_si128(base),
                        _mm256_castsi256_si128(pow),
                        _mm256_castsi256_si128(sign),
                    )
                } else {
                    (
                        _mm256_extracti128_si256(base, 1),
                        _mm256_extracti128_si256(pow, 1),
                        _mm256_extracti128_si256(sign, 1),
                    )
                };
                let mag = _mm256_sub_epi16(
                    _mm256_mullo_epi16(_mm256_cvtepu8_epi16(b), _mm256_cvtepu8_epi16(q)),
                    k,
                );
                // vpsignw negates where the sign operand is negative and zeroes where it
                // is zero; OR-ing in 1 rules out zero.
                let s = _mm256_or_si256(_mm256_cvtepi8_epi16(s), one);
                let out = _mm256_sign_epi16(mag, s);
                _mm256_storeu_si256(dst.as_mut_ptr().add(i + 16 * half).cast(), out);
            }
            i += 32;
        }
    }
    let table = codec.decode_table();
    for (d, &c) in dst[n..].iter_mut().zip(&src[n..]) {
        *d = table[c as usize];
    }
}

/// Encodes 16 samples into 16 codes held in the low byte of each 16-bit lane.
///
/// Lane-wise this is `ulaw_from_magnitude` / `alaw_from_magnitude` from the parent
/// module, with the DAHDI post-processing when `dahdi` is set.
#[target_feature(enable = "avx2")]
#[inline]
fn encode16(x: __m256i, ulaw: bool, dahdi: bool) -> __m256i {
    let q = _mm256_srai_epi16(x, 2);
    let neg = _mm256_srai_epi16(x, 15);
    let mag = if dahdi {
        // |x >> 2|; -8192 stays 8192 (fits), its lanes are overwritten below.
        _mm256_abs_epi16(q)
    } else {
        // One's complement of negative samples: !(x >> 2).
        _mm256_xor_si256(q, neg)
    };
    let a = if ulaw {
        _mm256_min_epi16(
            _mm256_add_epi16(mag, _mm256_set1_epi16(33)),
            _mm256_set1_epi16(0x1FFF),
        )
    } else {
        mag
    };
    // Segment: the bit length of a >> 6 (0..=127), from two nibble lookups. In each
    // 16-bit lane the high byte is zero, so vpshufb reads entry 0 (= 0) for it.
    let hi = _mm256_srli_epi16(a, 6);
    let bl_lo = _mm256_setr_epi8(
        0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, //
        0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4,
    );
    let bl_hi = _mm256_setr_epi8(
        0, 5, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8, //
        0, 5, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8,
    );
    let e = _mm256_max_epi16(
        _mm256_shuffle_epi8(bl_lo, hi),
        _mm256_shuffle_epi8(bl_hi, _mm256_srli_epi16(hi, 4)),
    );
    // Mantissa: a >> s, as the high half of a * 2^(16 - s). The multiplier's low byte
    // is zero, so a byte lookup shifted into the high byte builds it (that shift also
    // discards what vpshufb put in the high byte). mu-law: s = e + 1; A-law: s = 2 + max(e-1, 0)
    // (the 2 takes the 14-bit magnitude to the 12-bit one).
    let mul_tab = if ulaw {
        _mm256_setr_epi8(
            -128, 64, 32, 16, 8, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, //
            -128, 64, 32, 16, 8, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        )
    } else {
        _mm256_setr_epi8(
            64, 64, 32, 16, 8, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, //
            64, 64, 32, 16, 8, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        )
    };
    let mul = _mm256_slli_epi16(_mm256_shuffle_epi8(mul_tab, e), 8);
    let mant = _mm256_and_si256(_mm256_mulhi_epu16(a, mul), _mm256_set1_epi16(0x0F));
    let v = _mm256_or_si256(_mm256_slli_epi16(e, 4), mant);
    // Sign and bit inversion: v ^ 0xFF (mu) or v ^ 0xD5 (A) for non-negative samples,
    // with bit 7 cleared again for negative ones.
    let c = _mm256_set1_epi16(if ulaw { 0xFF } else { 0xD5 });
    let mut code = _mm256_xor_si256(
        _mm256_xor_si256(v, c),
        _mm256_and_si256(neg, _mm256_set1_epi16(0x80)),
    );
    if dahdi {
        let special = _mm256_cmpeq_epi16(q, _mm256_set1_epi16(-8192));
        if ulaw {
            // ZEROTRAP: 0x00 -> 0x02; "never return 0xff": 0xff -> 0x7f.
            let zero = _mm256_cmpeq_epi16(code, _mm256_setzero_si256());
            code = _mm256_or_si256(code, _mm256_and_si256(zero, _mm256_set1_epi16(0x02)));
            let ff = _mm256_cmpeq_epi16(code, _mm256_set1_epi16(0xFF));
            code = _mm256_xor_si256(code, _mm256_and_si256(ff, _mm256_set1_epi16(0x80)));
            code = _mm256_blendv_epi8(code, _mm256_set1_epi16(0x7F), special);
        } else {
            code = _mm256_blendv_epi8(code, _mm256_set1_epi16(0xD5), special);
        }
    }
    code
}

/// Encodes `src` into `dst` (equal lengths).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn encode(codec: Codec, src: &[i16], dst: &mut [u8]) {
    match (codec.law, codec.variant) {
        // Monomorphic loops so the per-codec branches in `encode16` fold away.
        // SAFETY (all four): same contract as this function.
        (Law::Ulaw, Variant::Itu) => unsafe { encode_loop::<true, false>(src, dst) },
        (Law::Alaw, Variant::Itu) => unsafe { encode_loop::<false, false>(src, dst) },
        (Law::Ulaw, Variant::DahdiCompat) => unsafe { encode_loop::<true, true>(src, dst) },
        (Law::Alaw, Variant::DahdiCompat) => unsafe { encode_loop::<false, true>(src, dst) },
    }
    let n = src.len() / 32 * 32;
    let table = codec.encode_table();
    for (d, &x) in dst[n..].iter_mut().zip(&src[n..]) {
        *d = table[(x as u16 >> 2) as usize];
    }
}

#[target_feature(enable = "avx2")]
unsafe fn encode_loop<const ULAW: bool, const DAHDI: bool>(src: &[i16], dst: &mut [u8]) {
    let n = src.len().min(dst.len()) / 32 * 32;
    let mut i = 0;
    // SAFETY: AVX2 is enabled; loads read src[i..i + 32] and the store writes
    // dst[i..i + 32] with i + 32 <= n.
    unsafe {
        while i < n {
            let a = _mm256_loadu_si256(src.as_ptr().add(i).cast());
            let b = _mm256_loadu_si256(src.as_ptr().add(i + 16).cast());
            let ca = encode16(a, ULAW, DAHDI);
            let cb = encode16(b, ULAW, DAHDI);
            // vpackuswb packs per 128-bit half: [a0-7 b0-7 | a8-15 b8-15]; the
            // permute puts the quarters back in sample order.
            let packed = _mm256_permute4x64_epi64(_mm256_packus_epi16(ca, cb), 0b11_01_10_00);
            _mm256_storeu_si256(dst.as_mut_ptr().add(i).cast(), packed);
            i += 32;
        }
    }
}
