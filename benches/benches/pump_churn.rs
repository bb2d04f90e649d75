//! What participants joining and leaving cost a running conference.
//!
//! Group `pump_churn`, N = 1,000 in-memory participants (one bank, all
//! `Role::Both`, all talking, 160-sample blocks). Every iteration runs one tick
//! of each of two pumps built alike, alternating which goes first, so that the
//! machine's drift cannot move their ratio:
//!
//! * `steady`: a tick of the pump nobody joins or leaves;
//! * `churn_K`: a tick of the pump where, before every tick, K guests join and
//!   the K longest-present guests leave through its [`PumpHandle`], from a
//!   pool of guests of the same bank: the tick applies the 2K changes (the
//!   engine's lists and the bank's member list updated) and then mixes. Its
//!   conference holds `N - GUESTS / 2` members and `GUESTS / 2` guests: `N`,
//!   like the steady one.
//!
//! Only the ticks are timed; queuing the changes, collecting the replies and the
//! application's side (queueing inputs, taking outputs) run between timed ticks,
//! as other threads would. Target (issue 18): `churn` at most 1.2x `steady`.
//!
//! [`PumpHandle`]: dahdi::pump::PumpHandle

mod common;

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use common::ThreadCpuTime;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dahdi::audio::mixer::Role;
use dahdi::pump::{MemoryEndpoint, MemoryPort, Port, PortId, Pump, PumpConfig, PumpHandle};
use dahdi_benches::thread_cpu_time;

const BLOCK: usize = 160;
const N: usize = 1000;
/// Guests waiting outside, per pump.
const GUESTS: usize = 64;

/// Speech-like levels, different for every participant and sample.
fn frame(p: usize) -> Vec<i16> {
    (0..BLOCK)
        .map(|s| (((p * 7919 + s * 104_729) % 4001) as i32 - 2000) as i16)
        .collect()
}

/// A conference of `members` and, outside it, `GUESTS` ports of the same bank.
struct Conference {
    pump: Pump,
    handle: PumpHandle,
    apps: Vec<MemoryEndpoint>,
    frames: Vec<Vec<i16>>,
    outside: Vec<Box<dyn Port>>,
    guests_in: VecDeque<PortId>,
}

impl Conference {
    fn new(members: usize) -> Conference {
        let mut pump = Pump::new(PumpConfig {
            capacity: N + GUESTS,
            ..PumpConfig::default()
        })
        .unwrap();
        let handle = pump.handle();
        let mut apps = Vec::new();
        let mut outside: Vec<Box<dyn Port>> = Vec::new();
        for (i, (port, app)) in MemoryPort::bank(N + GUESTS, BLOCK, 4)
            .into_iter()
            .enumerate()
        {
            if i < members {
                pump.add_port(port, Role::Both).unwrap();
            } else {
                outside.push(Box::new(port));
            }
            apps.push(app);
        }
        let frames = (0..N + GUESTS).map(frame).collect();
        Conference {
            pump,
            handle,
            apps,
            frames,
            outside,
            guests_in: VecDeque::new(),
        }
    }

    /// One tick, timed, after `k` joins and `k` leaves queued (untimed), with
    /// the application's side around it (untimed).
    fn tick(&mut self, k: usize) -> Duration {
        for (app, f) in self.apps.iter_mut().zip(&self.frames) {
            app.push(f);
        }
        let mut joins = Vec::with_capacity(k);
        let mut leaves = Vec::with_capacity(k);
        for _ in 0..k {
            if let Some(port) = self.outside.pop() {
                joins.push(self.handle.add_boxed(port, Role::Both).unwrap());
            }
            // The longest present leave once the guests have filled in.
            if self.guests_in.len() + joins.len() > GUESTS / 2 {
                if let Some(id) = self.guests_in.pop_front() {
                    leaves.push(self.handle.remove_port(id).unwrap());
                }
            }
        }
        let t = thread_cpu_time();
        self.pump.tick();
        let spent = thread_cpu_time() - t;
        for join in joins {
            self.guests_in.push_back(join.wait().unwrap().unwrap());
        }
        for leave in leaves {
            self.outside.insert(0, leave.wait().unwrap().unwrap());
        }
        let mut out = [0i16; BLOCK];
        for app in &mut self.apps {
            while app.pop(&mut out) {}
            black_box(out[0]);
        }
        spent
    }
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("pump_churn");
    g.throughput(Throughput::Elements(N as u64));
    for k in [1usize, 4] {
        let mut steady = Conference::new(N);
        let mut churn = Conference::new(N - GUESTS / 2);
        // Fill the churning conference with its first guests.
        for _ in 0..GUESTS {
            churn.tick(k);
        }
        assert_eq!(churn.pump.stats().ports.len(), N, "guests present");
        let mut side_by_side = |iters: u64| {
            let (mut steady_time, mut churn_time) = (Duration::ZERO, Duration::ZERO);
            for i in 0..iters {
                if i % 2 == 0 {
                    steady_time += steady.tick(0);
                    churn_time += churn.tick(k);
                } else {
                    churn_time += churn.tick(k);
                    steady_time += steady.tick(0);
                }
            }
            (steady_time, churn_time)
        };
        g.bench_with_input(BenchmarkId::new(format!("steady_vs_{k}"), N), &N, |b, _| {
            b.iter_custom(|iters| side_by_side(iters).0)
        });
        g.bench_with_input(BenchmarkId::new(format!("churn_{k}"), N), &N, |b, _| {
            b.iter_custom(|iters| side_by_side(iters).1)
        });
        let present = churn.pump.stats().ports.len();
        assert_eq!(present, N, "the churning conference changed size");
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::short_config(Duration::from_millis(1000));
    targets = bench
}
criterion_main!(benches);
