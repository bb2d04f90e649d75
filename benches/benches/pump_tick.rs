//! The pump's overhead over the bare mixer.
//!
//! Group `pump_tick`, parameter N participants (all `Role::Both`, all talking,
//! 160-sample blocks); one iteration is one tick of the whole conference:
//!
//! * `engine`: `Mixer::mix` alone, inputs already in the engine's buffers:
//!   the bare engine cost, the baseline.
//! * `pump`: `Pump::tick` with N in-memory ports (one `MemoryPort::bank` with
//!   the default queue depth): the bank lends every port's queued input frame
//!   and free output slot in one pass, the engine mixes from the one into the
//!   other, and a second pass commits (queue positions and counters). Only the
//!   tick is timed; the application's side (queueing the next inputs, taking
//!   the outputs) runs between timed ticks, as another thread would.
//! * `pump_depth1`: the same with queues one frame deep, so that exactly one
//!   slot per port and direction exists, as the engine has one buffer. The
//!   queues reuse the slot freed last, so with an exchange that keeps up the
//!   default depth should cost the same; this shows whether it does.
//! * `pump_with_app`: the same, with the application's side timed too.
//! * `engine_io`: what an application using the engine directly pays for the
//!   same exchange: copy every participant's frame in (`write_input`), mix,
//!   copy every output out. Not the target's baseline (that is `engine`), but
//!   the one `pump_with_app` compares to like for like: the pump's cost for an
//!   embedding application over doing without it.
//!
//! * `side_by_side_engine` and `side_by_side_overhead`: the target's ratio
//!   measured so that the shared machine's drift between two benches cannot
//!   move it. Every iteration queues the application's frames (untimed), runs
//!   one `Mixer::mix` of the bare engine and one `Pump::tick` (as in
//!   `pump`), alternating which goes first, and collects the outputs
//!   (untimed). `side_by_side_engine` counts the engine's time,
//!   `side_by_side_overhead` the pump's time minus the engine's, within the
//!   same iterations; the table divides `engine + overhead` by `engine`.
//!
//! Target (issue 7): `pump` at most 2x `engine` at N = 10,000.
//!
//! Times are the benchmark thread's CPU time (see `common`), so other processes
//! on the shared machine do not count. `pump` reads that clock around every
//! tick (a system call, about 0.3 us, included in its figure).

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::ThreadCpuTime;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dahdi::audio::mixer::{Format, Mixer, MixerConfig, Role};
use dahdi::pump::{MemoryEndpoint, MemoryPort, Pump, PumpConfig};
use dahdi_benches::thread_cpu_time;

const BLOCK: usize = 160;
const SIZES: [usize; 3] = [100, 1000, 10_000];

/// Speech-like levels, different for every participant and sample.
fn frame(p: usize) -> Vec<i16> {
    (0..BLOCK)
        .map(|s| (((p * 7919 + s * 104_729) % 4001) as i32 - 2000) as i16)
        .collect()
}

fn engine(n: usize) -> Mixer {
    let mut c = Mixer::new(MixerConfig {
        block_size: BLOCK,
        capacity: n,
        isa: None,
    })
    .unwrap();
    for p in 0..n {
        let id = c.add_participant(Role::Both, Format::Linear).unwrap();
        c.write_input(id, &frame(p)).unwrap();
    }
    c.mix();
    c
}

fn pump(n: usize, depth: usize) -> (Pump, Vec<MemoryEndpoint>, Vec<Vec<i16>>) {
    let mut pump = Pump::new(PumpConfig {
        capacity: n,
        ..PumpConfig::default()
    })
    .unwrap();
    let mut apps = Vec::with_capacity(n);
    for (port, app) in MemoryPort::bank(n, BLOCK, depth) {
        pump.add_port(port, Role::Both).unwrap();
        apps.push(app);
    }
    let frames = (0..n).map(frame).collect();
    (pump, apps, frames)
}

fn feed(apps: &mut [MemoryEndpoint], frames: &[Vec<i16>]) {
    for (app, f) in apps.iter_mut().zip(frames) {
        app.push(f);
    }
}

fn drain(apps: &mut [MemoryEndpoint], out: &mut [i16]) {
    for app in apps.iter_mut() {
        app.pop(out);
        black_box(out[0]);
    }
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("pump_tick");
    for &n in &SIZES {
        g.throughput(Throughput::Elements(n as u64));
        let mut e = engine(n);
        g.bench_with_input(BenchmarkId::new("engine", n), &n, |b, _| {
            b.iter(|| {
                e.mix();
                black_box(e.full_mix().as_ptr());
            })
        });
        let ids: Vec<_> = e.participants().map(|(id, _, _)| id).collect();
        let frames: Vec<Vec<i16>> = (0..n).map(frame).collect();
        let mut outs = vec![vec![0i16; BLOCK]; n];
        g.bench_with_input(BenchmarkId::new("engine_io", n), &n, |b, _| {
            b.iter(|| {
                for (id, f) in ids.iter().zip(&frames) {
                    e.write_input(*id, f).unwrap();
                }
                e.mix();
                for (id, o) in ids.iter().zip(outs.iter_mut()) {
                    o.copy_from_slice(e.output(*id).unwrap());
                }
                black_box(&mut outs);
            })
        });
        drop(e);

        let mut out = vec![0i16; BLOCK];
        for (name, depth) in [("pump_depth1", 1), ("pump", MemoryPort::DEFAULT_DEPTH)] {
            let (mut p, mut apps, frames) = pump(n, depth);
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        feed(&mut apps, &frames);
                        let t = thread_cpu_time();
                        p.tick();
                        total += thread_cpu_time() - t;
                        drain(&mut apps, &mut out);
                    }
                    total
                })
            });
        }
        // Side by side: (engine time, pump time minus engine time) per iteration.
        let mut e = engine(n);
        let (mut p, mut apps, frames) = pump(n, MemoryPort::DEFAULT_DEPTH);
        let mut side_by_side = |iters: u64| {
            let (mut engine_time, mut pump_time) = (Duration::ZERO, Duration::ZERO);
            for i in 0..iters {
                feed(&mut apps, &frames);
                let mut time_engine = || {
                    let t = thread_cpu_time();
                    e.mix();
                    black_box(e.full_mix().as_ptr());
                    engine_time += thread_cpu_time() - t;
                };
                if i % 2 == 0 {
                    time_engine();
                }
                let t = thread_cpu_time();
                p.tick();
                pump_time += thread_cpu_time() - t;
                if i % 2 == 1 {
                    time_engine();
                }
                drain(&mut apps, &mut out);
            }
            (engine_time, pump_time.saturating_sub(engine_time))
        };
        g.bench_with_input(BenchmarkId::new("side_by_side_engine", n), &n, |b, _| {
            b.iter_custom(|iters| side_by_side(iters).0)
        });
        g.bench_with_input(BenchmarkId::new("side_by_side_overhead", n), &n, |b, _| {
            b.iter_custom(|iters| side_by_side(iters).1)
        });
        let s = p.stats().port_totals();
        assert_eq!(
            (s.underruns, s.overruns, s.drops),
            (0, 0, 0),
            "every side-by-side tick had every frame"
        );
        drop(e);

        let (mut p, mut apps, frames) = pump(n, MemoryPort::DEFAULT_DEPTH);
        g.bench_with_input(BenchmarkId::new("pump_with_app", n), &n, |b, _| {
            b.iter(|| {
                feed(&mut apps, &frames);
                p.tick();
                drain(&mut apps, &mut out);
            })
        });
        let s = p.stats().port_totals();
        assert_eq!(
            (s.underruns, s.overruns, s.drops),
            (0, 0, 0),
            "every tick had every frame"
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::short_config(Duration::from_millis(1000));
    targets = bench
}
criterion_main!(benches);
