//! Mixing: our engine against the C baselines, on the same conferences.
//!
//! Group names: `mix_{linear|ulaw}_{alltalk|talk3}`; functions: `ours` (best SIMD
//! level of this machine), `ours_avx2` (on a machine with AVX-512: the AVX2 kernels that
//! machines without it run), `ours_portable`, `asterisk`, `freeswitch`, `dahdi`, and
//! for linear `copy` (not a mixer: each input row memcpy'd to its output row, the
//! memory floor of any mix-minus with an output buffer per participant);
//! parameter: the number of participants N. One iteration is one 160-sample tick of
//! the whole conference; `scripts/bench-table.py` divides by N to get ns per
//! participant-frame.
//!
//! What one iteration covers, for everyone: inputs are already in memory (linear) or
//! arrive as mu-law bytes that must be decoded (ulaw); the tick computes every
//! participant's output frame (linear) or encoded output frame (ulaw), which the
//! caller can then read. For our engine that includes writing the talkers' mu-law
//! input (`write_input_law`, which decodes) and walking every participant's output
//! slice (`Mixer::outputs` / `outputs_law`).

use std::hint::black_box;
use std::time::Duration;

mod common;

use common::ThreadCpuTime;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dahdi::audio::g711::Codec;
use dahdi::audio::mixer::{Format, Mixer, MixerConfig, ParticipantId, Role};
use dahdi::audio::Isa;
use dahdi_benches::{test_input, CConference, Shape};

const BLOCK: usize = 160;
const SIZES: [usize; 5] = [3, 10, 100, 1000, 10_000];

struct Ours {
    conf: Mixer,
    talkers: Vec<(ParticipantId, usize)>,
}

fn ours(isa: Isa, format: Format, talking: &[bool], input: &[i16]) -> Ours {
    let n = talking.len();
    let config = MixerConfig {
        block_size: BLOCK,
        capacity: n,
        isa: Some(isa),
    };
    let mut conf = Mixer::new(config).unwrap();
    let mut talkers = Vec::new();
    for (p, &t) in talking.iter().enumerate() {
        let id = conf.add_participant(if t { Role::Both } else { Role::Listener }, format);
        let id = id.unwrap();
        conf.write_input(id, &input[p * BLOCK..(p + 1) * BLOCK])
            .unwrap();
        if t {
            talkers.push((id, p));
        }
    }
    conf.mix();
    Ours { conf, talkers }
}

fn isas() -> Vec<(&'static str, Isa)> {
    let mut v = vec![("ours", Isa::detect())];
    if Isa::detect() == Isa::Avx512 && Isa::Avx2.is_available() {
        v.push(("ours_avx2", Isa::Avx2));
    }
    if Isa::detect() != Isa::Portable {
        v.push(("ours_portable", Isa::Portable));
    }
    v
}

fn bench_linear(c: &mut Criterion<ThreadCpuTime>, shape: Shape) {
    let mut g = c.benchmark_group(format!("mix_linear_{}", shape.name()));
    for &n in &SIZES {
        if shape == Shape::Talk3 && n == 3 {
            continue; // the same conference as all-talk
        }
        g.throughput(Throughput::Elements(n as u64));
        let talking = shape.talking(n);
        let input = test_input(n, BLOCK, 1);
        for (name, isa) in isas() {
            let mut o = ours(isa, Format::Linear, &talking, &input);
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    o.conf.mix();
                    for (id, frame) in o.conf.outputs() {
                        black_box((id, frame.as_ptr()));
                    }
                })
            });
        }
        let mut cc = CConference::new(BLOCK, &talking);
        g.bench_with_input(BenchmarkId::new("asterisk", n), &n, |b, _| {
            b.iter(|| cc.asterisk_linear(black_box(&input)))
        });
        g.bench_with_input(BenchmarkId::new("freeswitch", n), &n, |b, _| {
            b.iter(|| cc.freeswitch_linear(black_box(&input)))
        });
        g.bench_with_input(BenchmarkId::new("dahdi", n), &n, |b, _| {
            b.iter(|| cc.dahdi_linear(black_box(&input)))
        });
        g.bench_with_input(BenchmarkId::new("copy", n), &n, |b, _| {
            b.iter(|| cc.copy_linear(black_box(&input)))
        });
    }
    g.finish();
}

fn bench_ulaw(c: &mut Criterion<ThreadCpuTime>, shape: Shape) {
    let mut g = c.benchmark_group(format!("mix_ulaw_{}", shape.name()));
    for &n in &SIZES {
        if shape == Shape::Talk3 && n == 3 {
            continue;
        }
        g.throughput(Throughput::Elements(n as u64));
        let talking = shape.talking(n);
        let lin = test_input(n, BLOCK, 2);
        let law: Vec<u8> = lin.iter().map(|&x| Codec::ULAW.encode(x)).collect();
        for (name, isa) in isas() {
            let mut o = ours(isa, Format::ULAW, &talking, &lin);
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    for &(id, p) in &o.talkers {
                        let frame = &law[p * BLOCK..(p + 1) * BLOCK];
                        o.conf.write_input_law(id, black_box(frame)).unwrap();
                    }
                    o.conf.mix();
                    for (id, frame) in o.conf.outputs_law() {
                        black_box((id, frame.as_ptr()));
                    }
                })
            });
        }
        let mut cc = CConference::new(BLOCK, &talking);
        g.bench_with_input(BenchmarkId::new("asterisk", n), &n, |b, _| {
            b.iter(|| cc.asterisk_ulaw(black_box(&law)))
        });
        g.bench_with_input(BenchmarkId::new("freeswitch", n), &n, |b, _| {
            b.iter(|| cc.freeswitch_ulaw(black_box(&law)))
        });
        g.bench_with_input(BenchmarkId::new("dahdi", n), &n, |b, _| {
            b.iter(|| cc.dahdi_ulaw(black_box(&law)))
        });
    }
    g.finish();
}

fn mix(c: &mut Criterion<ThreadCpuTime>) {
    for shape in [Shape::Talk3, Shape::AllTalk] {
        bench_linear(c, shape);
        bench_ulaw(c, shape);
    }
}

criterion_group! {
    name = benches;
    config = common::short_config(Duration::from_millis(900));
    targets = mix
}
criterion_main!(benches);
