//! G.711 against independent implementations of the algorithms it must reproduce.
//!
//! * The ITU-T G.191 reference encoder/decoder, implemented here from the algorithm
//!   description (segment search by shifting, one's complement for negative samples,
//!   mid-interval reconstruction), in a different style from the library's.
//! * The DAHDI kernel's table construction (`dahdi_conv_init` in dahdi-base.c),
//!   simulated here with C's integer semantics, including the 16-bit `short`
//!   wrap-around.
//!
//! Every one of the 65,536 inputs and 256 codes is checked, on every SIMD path this
//! machine has.

use dahdi::audio::g711::{self, Codec, Law, Variant};
use dahdi::audio::Isa;

// ----------------------------------------------------------------------------------
// ITU-T G.191 reference algorithm.
// ----------------------------------------------------------------------------------

/// mu-law compression: 14-bit magnitude (one's complement for negatives) plus a bias
/// of 33, clipped to 13 bits; the segment is found by shifting `absno >> 6` right until
/// it is zero; the output is the inverted segment and the inverted 4-bit step.
fn g191_ulaw_compress(x: i16) -> u8 {
    let x = x as i32;
    let mut absno = if x < 0 {
        ((!x) >> 2) + 33
    } else {
        (x >> 2) + 33
    };
    if absno > 0x1FFF {
        absno = 0x1FFF;
    }
    let mut i = absno >> 6;
    let mut segno = 1;
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high_nibble = 0x8 - segno;
    let low_nibble = 0xF - ((absno >> segno) & 0xF);
    let mut out = (high_nibble << 4) | low_nibble;
    if x >= 0 {
        out |= 0x80;
    }
    out as u8
}

/// mu-law expansion: middle of the quantisation interval at the 16-bit scale.
fn g191_ulaw_expand(code: u8) -> i16 {
    let sign: i32 = if code < 0x80 { -1 } else { 1 };
    let inv = !(code as i32);
    let exponent = (inv >> 4) & 0x7;
    let segment = exponent + 1;
    let mantissa = inv & 0xF;
    let step = 4 << segment;
    (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33)) as i16
}

/// A-law compression: 12-bit magnitude (one's complement for negatives); above 15 the
/// magnitude is halved until it fits in 5 bits, counting the segment; the leading one
/// is dropped; even bits are inverted.
fn g191_alaw_compress(x: i16) -> u8 {
    let x = x as i32;
    let mut ix = if x < 0 { (!x) >> 4 } else { x >> 4 };
    if ix > 15 {
        let mut iexp = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            iexp += 1;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if x >= 0 {
        ix |= 0x80;
    }
    (ix ^ 0x55) as u8
}

/// A-law expansion: middle of the interval, scaled back to 16 bits.
fn g191_alaw_expand(code: u8) -> i16 {
    let ix = (code as i32 ^ 0x55) & 0x7F;
    let iexp = ix >> 4;
    let mut mant = ix & 0xF;
    if iexp > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 0x8;
    if iexp > 1 {
        mant <<= iexp - 1;
    }
    (if code > 127 { mant } else { -mant }) as i16
}

fn g191_encode(law: Law, x: i16) -> u8 {
    match law {
        Law::Ulaw => g191_ulaw_compress(x),
        Law::Alaw => g191_alaw_compress(x),
    }
}

fn g191_decode(law: Law, c: u8) -> i16 {
    match law {
        Law::Ulaw => g191_ulaw_expand(c),
        Law::Alaw => g191_alaw_expand(c),
    }
}

// ----------------------------------------------------------------------------------
// DAHDI kernel simulation (dahdi-base.c, `dahdi_conv_init` and the helpers it calls).
// `short` is i16 and int is i32; a C conversion of an out-of-range int to short wraps
// (gcc's documented behaviour), which `as i16` reproduces.
// ----------------------------------------------------------------------------------

/// `__dahdi_lineartoulaw`: sign/magnitude by negation, clip at 32635, bias 0x84, the
/// exponent from a 256-entry "floor(log2)" lookup on bits 14..7, ZEROTRAP, never 0xff.
fn kernel_lineartoulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let exp_lut = |i: i32| {
        if i == 0 {
            0
        } else {
            31 - (i as u32).leading_zeros() as i32
        }
    };
    let mut sample = sample;
    let sign = ((sample as i32) >> 8) & 0x80;
    if sign != 0 {
        sample = (-(sample as i32)) as i16;
    }
    if sample as i32 > CLIP {
        sample = CLIP as i16;
    }
    sample = (sample as i32 + BIAS) as i16;
    let exponent = exp_lut(((sample as i32) >> 7) & 0xFF);
    let mantissa = ((sample as i32) >> (exponent + 3)) & 0x0F;
    let mut ulawbyte = (!(sign | (exponent << 4) | mantissa)) as u8;
    if ulawbyte == 0 {
        ulawbyte = 0x02;
    }
    if ulawbyte == 0xff {
        ulawbyte = 0x7f;
    }
    ulawbyte
}

/// `__dahdi_lineartoalaw`: negation in int, linear search over segment ends
/// 0xFF, 0x1FF, .., 0x7FFF (the loop runs off the end to 8 for 32768).
fn kernel_lineartoalaw(linear: i16) -> u8 {
    let mut pcm_val = linear as i32;
    let mask = if pcm_val >= 0 {
        0x55 | 0x80
    } else {
        pcm_val = -pcm_val;
        0x55
    };
    let mut seg = 0;
    while seg < 8 {
        let seg_end = (0x100 << seg) - 1;
        if pcm_val <= seg_end {
            break;
        }
        seg += 1;
    }
    let shift = if seg != 0 { seg + 3 } else { 4 };
    ((((seg << 4) | ((pcm_val >> shift) & 0x0F)) ^ mask) & 0xFF) as u8
}

/// `__dahdi_mulaw[i]`, with `etab` as quoted in the project's reference notes.
fn kernel_mulaw(i: u8) -> i16 {
    const ETAB: [i32; 8] = [0, 132, 396, 924, 1980, 4092, 8316, 16764];
    let mu = 255 - i as i32;
    let e = (mu & 0x70) / 16;
    let f = mu & 0x0f;
    let mut y = f * (1 << (e + 3));
    y += ETAB[e as usize];
    if mu & 0x80 != 0 {
        y = -y;
    }
    y as i16
}

/// `alaw2linear` as used for `__dahdi_alaw[i]`.
fn kernel_alaw(a: u8) -> i16 {
    let alaw = a as i32 ^ 0x55;
    let mut i = (alaw & 0x0F) << 4;
    let seg = (alaw & 0x70) >> 4;
    if seg != 0 {
        i = (i + 0x100) << (seg - 1);
    }
    (if alaw & 0x80 != 0 { i } else { -i }) as i16
}

/// The kernel's 16384-entry encoding tables, built as `dahdi_conv_init` builds them.
fn kernel_lin2x(law: Law) -> Vec<u8> {
    let mut t = vec![0u8; 16384];
    for i in (-32768i32..32768).step_by(4) {
        let s = i as i16;
        t[((s as u16) >> 2) as usize] = match law {
            Law::Ulaw => kernel_lineartoulaw(s),
            Law::Alaw => kernel_lineartoalaw(s),
        };
    }
    t
}

/// `DAHDI_LIN2MU(x)` / `DAHDI_LIN2A(x)`.
fn kernel_encode(table: &[u8], x: i16) -> u8 {
    table[((x as u16) >> 2) as usize]
}

fn kernel_decode(law: Law, c: u8) -> i16 {
    match law {
        Law::Ulaw => kernel_mulaw(c),
        Law::Alaw => kernel_alaw(c),
    }
}

// ----------------------------------------------------------------------------------

fn all_samples() -> Vec<i16> {
    (i16::MIN..=i16::MAX).collect()
}

fn all_codes() -> Vec<u8> {
    (0..=255u8).collect()
}

#[test]
fn itu_scalar_is_bit_exact_with_g191() {
    for law in [Law::Ulaw, Law::Alaw] {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(law.encode(x), g191_encode(law, x), "{law:?} encode {x}");
            assert_eq!(Codec::new(law, Variant::Itu).encode(x), g191_encode(law, x));
        }
        for c in 0..=255u8 {
            assert_eq!(
                law.decode(c),
                g191_decode(law, c),
                "{law:?} decode {c:#04x}"
            );
        }
    }
    // The free functions are the same codecs.
    for x in [i16::MIN, -12345, -1, 0, 1, 4321, i16::MAX] {
        assert_eq!(g711::ulaw_encode(x), g191_ulaw_compress(x));
        assert_eq!(g711::alaw_encode(x), g191_alaw_compress(x));
    }
    for c in [0u8, 0x55, 0x7f, 0x80, 0xd5, 0xff] {
        assert_eq!(g711::ulaw_decode(c), g191_ulaw_expand(c));
        assert_eq!(g711::alaw_decode(c), g191_alaw_expand(c));
    }
}

#[test]
fn g191_reference_sanity() {
    // Properties of G.711 that do not depend on either implementation, so that a bug
    // in the reference above cannot hide a matching bug in the library.
    assert_eq!(g191_ulaw_expand(0x00), -32124);
    assert_eq!(g191_ulaw_expand(0x80), 32124);
    assert_eq!(g191_ulaw_expand(0xFF), 0);
    assert_eq!(g191_ulaw_expand(0x7F), 0);
    assert_eq!(g191_alaw_expand(0xAA), 32256);
    assert_eq!(g191_alaw_expand(0x2A), -32256);
    assert_eq!(g191_alaw_expand(0xD5), 8);
    assert_eq!(g191_alaw_expand(0x55), -8);
    for law in [Law::Ulaw, Law::Alaw] {
        for c in 0..=255u8 {
            // Every code except mu-law's negative zero survives a round trip.
            if law == Law::Ulaw && c == 0x7F {
                continue;
            }
            assert_eq!(g191_encode(law, g191_decode(law, c)), c, "{law:?} {c:#04x}");
        }
        // Encoding is monotonic in the decoded value.
        let mut prev = i16::MIN;
        for x in i16::MIN..=i16::MAX {
            let y = g191_decode(law, g191_encode(law, x));
            assert!(y >= prev, "{law:?} not monotonic at {x}");
            prev = y;
        }
    }
}

#[test]
fn every_simd_path_matches_g191_for_every_input() {
    let xs = all_samples();
    let codes = all_codes();
    for isa in Isa::available() {
        for codec in Codec::ALL {
            let law = codec.law;
            let want_enc: Vec<u8> = match codec.variant {
                Variant::Itu => xs.iter().map(|&x| g191_encode(law, x)).collect(),
                Variant::DahdiCompat => {
                    let t = kernel_lin2x(law);
                    xs.iter().map(|&x| kernel_encode(&t, x)).collect()
                }
            };
            let want_dec: Vec<i16> = match codec.variant {
                Variant::Itu => codes.iter().map(|&c| g191_decode(law, c)).collect(),
                Variant::DahdiCompat => codes.iter().map(|&c| kernel_decode(law, c)).collect(),
            };
            let mut enc = vec![0u8; xs.len()];
            codec.encode_slice_with(isa, &xs, &mut enc);
            assert!(enc == want_enc, "{isa} {codec:?} encode differs");
            let mut dec = vec![0i16; codes.len()];
            codec.decode_slice_with(isa, &codes, &mut dec);
            assert_eq!(dec, want_dec, "{isa} {codec:?} decode");

            // Odd lengths and offsets exercise the scalar tails and unaligned loads.
            for (start, len) in [(0, 0), (1, 31), (3, 33), (5, 100), (7, 161), (65000, 536)] {
                let src = &xs[start..start + len];
                let mut out = vec![0u8; len];
                codec.encode_slice_with(isa, src, &mut out);
                assert_eq!(
                    out,
                    &want_enc[start..start + len],
                    "{isa} {codec:?} encode tail"
                );
                let csrc: Vec<u8> = src.iter().map(|&x| x as u8).collect();
                let mut dout = vec![0i16; len];
                codec.decode_slice_with(isa, &csrc, &mut dout);
                let dwant: Vec<i16> = csrc.iter().map(|&c| want_dec[c as usize]).collect();
                assert_eq!(dout, dwant, "{isa} {codec:?} decode tail");
            }
        }
    }
    // The default-dispatch wrappers agree too.
    let mut enc = vec![0u8; xs.len()];
    g711::ulaw_encode_slice(&xs, &mut enc);
    assert!(enc
        .iter()
        .zip(&xs)
        .all(|(&c, &x)| c == g191_ulaw_compress(x)));
    g711::alaw_encode_slice(&xs, &mut enc);
    assert!(enc
        .iter()
        .zip(&xs)
        .all(|(&c, &x)| c == g191_alaw_compress(x)));
    let mut dec = vec![0i16; 256];
    g711::ulaw_decode_slice(&codes, &mut dec);
    assert!(dec
        .iter()
        .zip(&codes)
        .all(|(&y, &c)| y == g191_ulaw_expand(c)));
    g711::alaw_decode_slice(&codes, &mut dec);
    assert!(dec
        .iter()
        .zip(&codes)
        .all(|(&y, &c)| y == g191_alaw_expand(c)));
}

#[test]
fn dahdi_compat_tables_equal_the_kernel_construction() {
    for law in [Law::Ulaw, Law::Alaw] {
        let codec = law.dahdi_compat();
        assert_eq!(
            codec.encode_table().as_slice(),
            kernel_lin2x(law).as_slice(),
            "{law:?}"
        );
        for c in 0..=255u8 {
            assert_eq!(codec.decode(c), kernel_decode(law, c), "{law:?} {c:#04x}");
        }
    }
}

#[test]
#[should_panic(expected = "lengths differ")]
fn slice_length_mismatch_panics() {
    g711::ulaw_encode_slice(&[0i16; 4], &mut [0u8; 3]);
}

// ----------------------------------------------------------------------------------
// The documented differences between DAHDI and G.191 (see the module docs of
// `dahdi::audio::g711`). Each test predicts the exact set of differing inputs from
// the explanation and checks it against both simulations above.
// ----------------------------------------------------------------------------------

/// Segment of a 13-bit mu-law `absno` (0..=7) and the quantisation step in it.
fn ulaw_step(absno: i32) -> i32 {
    let mut e = 0;
    while (absno >> 6) >> e != 0 {
        e += 1;
    }
    2 << e
}

#[test]
fn dahdi_ulaw_encode_differences() {
    let table = kernel_lin2x(Law::Ulaw);
    let mut differing = 0;
    for x in i16::MIN..=i16::MAX {
        let k = kernel_encode(&table, x);
        let g = g191_ulaw_compress(x);
        let q = (x as i32) >> 2;
        let expected = if (0..=3).contains(&x) {
            // Positive zero is never returned.
            (0x7F, 0xFF)
        } else if x <= -32765 {
            // -(-32768) wraps in a short: negative zero.
            (0x7F, 0x00)
        } else if x <= -31609 {
            // ZEROTRAP.
            (0x02, if x <= -31613 { 0x00 } else { 0x01 })
        } else if x < 0 {
            // Negation gives a 14-bit magnitude one above G.191's one's complement;
            // the code moves one step up in magnitude iff that crosses a boundary.
            let absno = -q + 33;
            if absno % ulaw_step(absno) == 0 {
                (g - 1, g)
            } else {
                (g, g)
            }
        } else {
            (g, g)
        };
        assert_eq!((k, g), expected, "x = {x}");
        if k != g {
            differing += 1;
        }
    }
    // 126 boundaries outside the ZEROTRAP range (15 in segment 0 above absno 33, 16 in
    // each of segments 1..=6, 15 in segment 7 below 7936) of 4 inputs each, the
    // ZEROTRAP range -32764..=-31609, and the two 4-input blocks at 0 and -32768.
    assert_eq!(differing, 126 * 4 + (32764 - 31609 + 1) + 4 + 4);
}

#[test]
fn dahdi_alaw_encode_differences() {
    let table = kernel_lin2x(Law::Alaw);
    let mut differing = 0;
    for x in i16::MIN..=i16::MAX {
        let k = kernel_encode(&table, x);
        let g = g191_alaw_compress(x);
        let n = -((x as i32) >> 2);
        let differs = if x >= 0 {
            false
        } else if n == 8192 {
            assert_eq!((k, g), (0xD5, 0x2A), "x = {x}");
            true
        } else if n % 4 != 0 {
            false
        } else {
            // The kernel's 12-bit magnitude is one above G.191's: does it start a new
            // quantisation interval?
            let ix = n / 4;
            if ix < 32 {
                true
            } else {
                let mut e = 0;
                while (ix >> 4) >> e != 0 {
                    e += 1;
                }
                ix % (1 << (e - 1)) == 0
            }
        };
        assert_eq!(k != g, differs, "x = {x}: kernel {k:#04x} g191 {g:#04x}");
        if differs {
            differing += 1;
        }
    }
    // 127 interval starts (15 + 16 + 6 * 16) of 4 inputs each, plus -32768..=-32765.
    assert_eq!(differing, 127 * 4 + 4);
}

#[test]
fn dahdi_decode_differences() {
    for c in 0..=255u8 {
        // mu-law: identical.
        assert_eq!(kernel_mulaw(c), g191_ulaw_expand(c));
        // A-law: the kernel returns the lower edge of the interval, half a step below
        // G.191's middle: 8 in segments 0 and 1, 8 << (e - 1) above.
        let e = ((c ^ 0x55) >> 4) & 7;
        let half = if e <= 1 { 8 } else { 8 << (e - 1) };
        let g = g191_alaw_expand(c) as i32;
        let k = kernel_alaw(c) as i32;
        assert_eq!(g.abs() - k.abs(), half, "{c:#04x}");
        assert!(g.signum() * k.signum() >= 0);
    }
}
