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

/// Per-codec constants for [`decode`]. With `c = code ^ xor`, `m = c & 15` and
/// `e = (c >> 4) & 7`, the magnitude is `(m_tab[m] + r_tab[e]) * p_tab[e] - k`:
///
/// * mu-law: `(8m + 132) << e - 132`.
/// * G.191 A-law: `16m + 8` in segment 0, `(16m + 264) << (e-1)` above, which is
///   `(8m + 4) * 2` and `(8m + 4 + 128) << e`.
/// * DAHDI A-law (no half step): `(8m) * 2` and `(8m + 128) << e`.
///
/// Every `m_tab + r_tab` fits in a byte (at most 252) and every product in an `i16`
/// (at most 32256), so one byte add and one 16-bit multiply do it. The 16-entry tables
/// are stored twice because `vpshufb` looks up within each 128-bit half; they live in
/// statics built at compile time, so a call on a 160-sample frame costs no set-up.
struct DecodeParams {
    xor: u8,
    /// XOR that makes bit 7 of `c` set exactly for negative codes.
    neg_flip: u8,
    m_tab: [u8; 32],
    r_tab: [u8; 32],
    p_tab: [u8; 32],
    k: i16,
}

const fn decode_params(codec: Codec) -> DecodeParams {
    let alaw = matches!(codec.law, Law::Alaw);
    let itu = matches!(codec.variant, Variant::Itu);
    let mut p = DecodeParams {
        // mu-law codes are stored inverted, and then bit 7 marks negative; A-law codes
        // have their even bits inverted, and then bit 7 marks *positive*.
        xor: if alaw { 0x55 } else { 0xFF },
        neg_flip: if alaw { 0x80 } else { 0 },
        m_tab: [0; 32],
        r_tab: [0; 32],
        p_tab: [0; 32],
        k: if alaw { 0 } else { 132 },
    };
    let mut i = 0;
    while i < 32 {
        let j = (i % 16) as u8;
        p.m_tab[i] = 8 * j + if alaw && itu { 4 } else { 0 };
        if j < 8 {
            p.r_tab[i] = if !alaw {
                132
            } else if j == 0 {
                0
            } else {
                128
            };
            p.p_tab[i] = if alaw && j == 0 { 2 } else { 1 << j };
        }
        i += 1;
    }
    p
}

static DECODE_PARAMS: [DecodeParams; 4] = [
    decode_params(Codec::ALL[0]),
    decode_params(Codec::ALL[1]),
    decode_params(Codec::ALL[2]),
    decode_params(Codec::ALL[3]),
];

/// Decodes `src` into `dst` (equal lengths).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn decode(codec: Codec, src: &[u8], dst: &mut [i16]) {
    debug_assert_eq!(src.len(), dst.len());
    let p = &DECODE_PARAMS[codec.index()];
    let n = src.len() / 32 * 32;
    // SAFETY: AVX2 is enabled for this function; every load reads src[i..i + 32] and
    // every store writes dst[i..i + 32] with i + 32 <= n <= both lengths.
    unsafe {
        let m_tab = _mm256_loadu_si256(p.m_tab.as_ptr().cast());
        let r_tab = _mm256_loadu_si256(p.r_tab.as_ptr().cast());
        let p_tab = _mm256_loadu_si256(p.p_tab.as_ptr().cast());
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

/// Encodes the `16 * v.len()` samples held in `v` and stores as many codes at `dst`.
/// The conference kernel uses this to encode a mix-minus block while it is still in
/// registers.
///
/// # Safety
/// AVX2 must be available; `dst` must be valid for `16 * v.len()` bytes.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn encode_store(codec: Codec, v: &[__m256i], dst: *mut u8) {
    // SAFETY (all four): same contract as this function.
    match (codec.law, codec.variant) {
        (Law::Ulaw, Variant::Itu) => unsafe { encode_store_as::<true, false>(v, dst) },
        (Law::Alaw, Variant::Itu) => unsafe { encode_store_as::<false, false>(v, dst) },
        (Law::Ulaw, Variant::DahdiCompat) => unsafe { encode_store_as::<true, true>(v, dst) },
        (Law::Alaw, Variant::DahdiCompat) => unsafe { encode_store_as::<false, true>(v, dst) },
    }
}

#[target_feature(enable = "avx2")]
#[inline]
unsafe fn encode_store_as<const ULAW: bool, const DAHDI: bool>(v: &[__m256i], dst: *mut u8) {
    let mut j = 0;
    // SAFETY: the caller guarantees 16 * v.len() writable bytes at dst.
    unsafe {
        while j + 2 <= v.len() {
            let ca = encode16(v[j], ULAW, DAHDI);
            let cb = encode16(v[j + 1], ULAW, DAHDI);
            let packed = _mm256_permute4x64_epi64(_mm256_packus_epi16(ca, cb), 0b11_01_10_00);
            _mm256_storeu_si256(dst.add(16 * j).cast(), packed);
            j += 2;
        }
        if j < v.len() {
            let c = encode16(v[j], ULAW, DAHDI);
            // Packed with itself, the low 128 bits hold the 16 codes in order.
            let packed = _mm256_permute4x64_epi64(_mm256_packus_epi16(c, c), 0b11_01_10_00);
            _mm_storeu_si128(dst.add(16 * j).cast(), _mm256_castsi256_si128(packed));
        }
    }
}
