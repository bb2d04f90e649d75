//! G.711 throughput: our codec (best SIMD level, portable tables, DAHDI-compatible
//! variant) against a C table codec (256-entry decode, 16384-entry encode), over a
//! buffer of 4096 samples that stays in L1. Groups `g711_{decode|encode}_{ulaw|alaw}`;
//! `scripts/bench-table.py` divides by 4096 to get ns per sample.

use std::hint::black_box;
use std::time::Duration;

mod common;

use common::ThreadCpuTime;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dahdi::audio::g711::{Codec, Law};
use dahdi::audio::Isa;
use dahdi_benches::{c_g711, test_input};

const LEN: usize = 4096;

type Decode = fn(&[u8], &mut [i16]);
type Encode = fn(&[i16], &mut [u8]);

fn g711(c: &mut Criterion<ThreadCpuTime>) {
    // Full-range samples and uniformly spread codes.
    let lin: Vec<i16> = test_input(1, LEN, 3)
        .iter()
        .map(|&x| x.wrapping_mul(4))
        .collect();
    let codes: Vec<u8> = lin.iter().map(|&x| (x >> 3) as u8).collect();
    for law in [Law::Ulaw, Law::Alaw] {
        let lname = match law {
            Law::Ulaw => "ulaw",
            Law::Alaw => "alaw",
        };
        let (c_dec, c_enc): (Decode, Encode) = match law {
            Law::Ulaw => (c_g711::ulaw_decode, c_g711::ulaw_encode),
            Law::Alaw => (c_g711::alaw_decode, c_g711::alaw_encode),
        };
        let mut variants: Vec<(&str, Codec, Isa)> = vec![
            ("ours", law.itu(), Isa::detect()),
            ("ours_dahdi_compat", law.dahdi_compat(), Isa::detect()),
        ];
        if Isa::detect() != Isa::Portable {
            variants.push(("ours_portable", law.itu(), Isa::Portable));
        }

        let mut g = c.benchmark_group(format!("g711_decode_{lname}"));
        g.throughput(Throughput::Elements(LEN as u64));
        let mut out = vec![0i16; LEN];
        for &(name, codec, isa) in &variants {
            g.bench_with_input(BenchmarkId::new(name, LEN), &LEN, |b, _| {
                b.iter(|| codec.decode_slice_with(isa, black_box(&codes), &mut out))
            });
        }
        g.bench_with_input(BenchmarkId::new("c_table", LEN), &LEN, |b, _| {
            b.iter(|| c_dec(black_box(&codes), &mut out))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("g711_encode_{lname}"));
        g.throughput(Throughput::Elements(LEN as u64));
        let mut out = vec![0u8; LEN];
        for &(name, codec, isa) in &variants {
            g.bench_with_input(BenchmarkId::new(name, LEN), &LEN, |b, _| {
                b.iter(|| codec.encode_slice_with(isa, black_box(&lin), &mut out))
            });
        }
        g.bench_with_input(BenchmarkId::new("c_table", LEN), &LEN, |b, _| {
            b.iter(|| c_enc(black_box(&lin), &mut out))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::short_config(Duration::from_millis(800));
    targets = g711
}
criterion_main!(benches);
