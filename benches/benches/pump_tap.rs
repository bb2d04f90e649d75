//! In-process taps: frames per tick delivered to a subscriber thread, against
//! crossbeam-channel with one frame per message, measured in the same run.
//!
//! Group `pump_tap`, parameter F frames per tick (160 samples, 320 bytes each);
//! one iteration is one tick. What a tap costs the pump is measured on the pump
//! itself:
//!
//! * `untapped`: a [`Pump`] tick with F ports that do not lend (each reads its
//!   input from a frame of its own and writes its output to another, as a
//!   DAHDI channel port copies to and from its kernel buffers), everyone
//!   talking.
//! * `tap_cost`: what one subscriber to every port's output (what a recorder
//!   of the whole conference asks for), in a thread that reads every sample of
//!   every frame, adds to that tick. The pump makes those frames in the
//!   subscriber's batch (the engine writes each output there and the port is
//!   written from there). Each iteration runs one tick of a tapped pump and one
//!   of an identical untapped one, alternating the order, and counts the
//!   difference; divided by F it is the tap's cost per frame. It includes
//!   moving every frame's five cache lines to the subscriber's core and back,
//!   which any consumer on another core costs whatever the queue.
//! * `tap_cost_glance`: the same, with a subscriber that looks at one sample
//!   of each frame, so that most of each frame stays in the pump's cache: the
//!   cost of the tap's own mechanism (the batch, the channel, the bookkeeping).
//!
//! Before each tapped tick the bench waits, untimed, until the subscriber has
//! made room (a pump never waits, it would drop the tick; at 50 ticks a second
//! a subscriber has all the time it needs), then times the ticks alone with the
//! monotonic clock (the median of the samples discards the rare preemption).
//!
//! Baselines, on the publishing side alone, timed the same way:
//!
//! * `per_frame`: a bounded crossbeam channel of `[i16; 160]` messages with
//!   the same buffering (8 ticks' worth), one `try_send` per frame, read by a
//!   subscriber that reads every sample, as for `tap_cost`.
//! * `copied`: [`TapPublisher::publish`] copying F frames into a batch (read
//!   the same way): what a tap costs when the frames lie elsewhere (the mix,
//!   ports that lend).
//! * `memcpy`: copying the F frames into a buffer, nothing else: the floor for
//!   any tap that hands out copies.
//!
//! Target (issue 7): a tap at most 10 ns per frame.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::ThreadCpuTime;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_channel::TryRecvError;
use dahdi::audio::mixer::Role;
use dahdi::pump::{
    Port, PortError, PortStats, Published, Pump, PumpConfig, Stream, TapBatch, TapPublisher,
};

/// The subscribers poll instead of blocking in `recv`: a parked subscriber
/// costs its publisher a futex wake-up per message (for the tap, per tick),
/// a system call of one to a few microseconds here, which would swamp what is
/// measured. (At the pump's 50 ticks a second that is at most 250 us a second
/// per parked subscriber; see the table's notes.)
fn poll_pause() {
    std::hint::spin_loop();
    thread::yield_now();
}

/// Waits until `ready`, spinning a little and then yielding the core (the
/// subscriber may share it).
fn wait_for(mut ready: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while !ready() {
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }
}

/// A subscriber thread: polls `try_recv` (see `poll_pause`), looks at each
/// message (`look` returns how many frames it held), drops it and counts it in
/// `done`, and returns the number of frames seen once the sender is gone.
fn spawn_subscriber<M: 'static>(
    mut try_recv: impl FnMut() -> Result<M, TryRecvError> + Send + 'static,
    look: fn(&M) -> usize,
    done: Arc<AtomicU64>,
) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut seen = 0u64;
        loop {
            match try_recv() {
                Ok(message) => {
                    seen += look(&message) as u64;
                    drop(message);
                    done.fetch_add(1, Ordering::Release);
                }
                Err(TryRecvError::Empty) => poll_pause(),
                Err(TryRecvError::Disconnected) => return seen,
            }
        }
    })
}

/// The sum of every sample of a frame (what a recorder's reading costs).
fn read_all(samples: &[i16]) -> i32 {
    samples
        .iter()
        .fold(0i32, |a, &x| a.wrapping_add(i32::from(x)))
}

/// What a recorder does with a batch: reads every sample of every frame.
fn read_batch(batch: &TapBatch) -> usize {
    black_box(read_all(batch.samples()));
    batch.streams().len()
}

/// A subscriber that only glances at each frame (one sample), so that the
/// frames' cache lines mostly stay with the pump: what the tap's own mechanism
/// costs, without moving the audio to another core.
fn glance_batch(batch: &TapBatch) -> usize {
    let mut glanced = 0i32;
    for (_, frame) in batch.frames() {
        glanced = glanced.wrapping_add(i32::from(frame[0]));
    }
    black_box(glanced);
    batch.streams().len()
}

/// A per-message subscriber reading every sample of its frame.
fn read_frame(frame: &[i16; BLOCK]) -> usize {
    black_box(read_all(frame));
    1
}

/// A port that does not lend, standing for a DAHDI channel: it copies its input
/// from a frame of its own and its output into another.
struct Channel {
    input: [i16; BLOCK],
    output: [i16; BLOCK],
}

impl Port for Channel {
    fn name(&self) -> String {
        "channel".into()
    }
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        frame.copy_from_slice(&self.input);
        Ok(())
    }
    fn write(&mut self, frame: &[i16]) -> Result<(), PortError> {
        self.output.copy_from_slice(frame);
        Ok(())
    }
    fn stats(&self) -> PortStats {
        PortStats::default()
    }
}

/// A pump with `f` [`Channel`] ports, everyone talking.
fn channel_pump(f: usize) -> Pump {
    let mut pump = Pump::new(PumpConfig {
        capacity: f,
        ..PumpConfig::default()
    })
    .unwrap();
    for i in 0..f {
        let port = Channel {
            input: std::array::from_fn(|s| ((i * 31 + s) % 2000) as i16 - 1000),
            output: [0; BLOCK],
        };
        pump.add_port(port, Role::Both).unwrap();
    }
    pump
}

/// Times one tick of `pump` with the monotonic clock.
fn time_tick(pump: &mut Pump) -> Duration {
    let t = Instant::now();
    pump.tick();
    t.elapsed()
}

/// Times `iters` ticks of `pump`.
fn time_ticks(pump: &mut Pump, iters: u64) -> Duration {
    (0..iters).map(|_| time_tick(pump)).sum()
}

const BLOCK: usize = 160;
const DEPTH: usize = 8;
const FRAMES: [usize; 3] = [16, 100, 1000];

fn source(f: usize) -> Vec<[i16; BLOCK]> {
    (0..f)
        .map(|i| std::array::from_fn(|s| (i * 31 + s) as i16))
        .collect()
}

/// Benches what one subscriber to every port's output, reading each batch with
/// `look`, adds to a tick of [`channel_pump`]`(f)`, as `name`: every iteration
/// runs one tick of a tapped pump and one of an identical untapped pump,
/// alternating which goes first, and counts the tapped tick's time minus the
/// untapped one's. Measured side by side, the two see the same machine (the
/// difference of two separately measured benches drowns in the shared
/// machine's drift), and each finds its memory as cold as the other has left
/// it.
fn bench_tap_cost(
    g: &mut criterion::BenchmarkGroup<'_, ThreadCpuTime>,
    name: &str,
    f: usize,
    look: fn(&TapBatch) -> usize,
) {
    let mut plain = channel_pump(f);
    let mut tapped = channel_pump(f);
    let outputs: Vec<Stream> = tapped.port_ids().into_iter().map(Stream::Output).collect();
    let sub = tapped.subscribe(&outputs, DEPTH);
    let done = Arc::new(AtomicU64::new(0));
    let consumer = spawn_subscriber(move || sub.try_recv(), look, done.clone());
    g.bench_with_input(BenchmarkId::new(name, f), &f, |b, _| {
        b.iter_custom(|iters| {
            let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
            for i in 0..iters {
                // The pump has a free buffer once the subscriber is fewer than
                // DEPTH ticks behind.
                let ticks = tapped.ticks();
                wait_for(|| ticks - done.load(Ordering::Acquire) < DEPTH as u64);
                if i % 2 == 0 {
                    without += time_tick(&mut plain);
                    with += time_tick(&mut tapped);
                } else {
                    with += time_tick(&mut tapped);
                    without += time_tick(&mut plain);
                }
            }
            with.saturating_sub(without)
        })
    });
    let stats = tapped.stats();
    assert_eq!(stats.taps[0].frames_dropped, 0, "the bench waited for room");
    let sent = stats.taps[0].frames_sent;
    drop(tapped);
    assert_eq!(consumer.join().unwrap(), sent, "every batch was received");
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("pump_tap");
    for &f in &FRAMES {
        g.throughput(Throughput::Elements(f as u64));
        let frames = source(f);
        // The pump tags streams by port; here the streams are only labels.
        let streams = vec![Stream::Mix; f];

        let mut pump = channel_pump(f);
        g.bench_with_input(BenchmarkId::new("untapped", f), &f, |b, _| {
            b.iter_custom(|iters| time_ticks(&mut pump, iters))
        });
        drop(pump);
        bench_tap_cost(&mut g, "tap_cost", f, read_batch);
        bench_tap_cost(&mut g, "tap_cost_glance", f, glance_batch);

        let (mut publisher, sub) = TapPublisher::new(&streams, BLOCK, DEPTH);
        let consumer = spawn_subscriber(
            move || sub.try_recv(),
            read_batch,
            Arc::new(AtomicU64::new(0)),
        );
        let mut tick = 0u64;
        g.bench_with_input(BenchmarkId::new("copied", f), &f, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    wait_for(|| publisher.has_room());
                    let t = Instant::now();
                    let mut i = 0;
                    let r = publisher.publish(tick, |_, dst| {
                        dst.copy_from_slice(&frames[i]);
                        i += 1;
                    });
                    total += t.elapsed();
                    assert_eq!(r, Published::Sent);
                    tick += 1;
                }
                total
            })
        });
        let sent = publisher.frames_sent();
        assert_eq!(publisher.frames_dropped(), 0);
        drop(publisher);
        assert_eq!(
            consumer.join().unwrap(),
            sent,
            "every batch sent was received"
        );

        let (tx, rx) = crossbeam_channel::bounded::<[i16; BLOCK]>(DEPTH * f);
        let consumer = spawn_subscriber(
            move || rx.try_recv(),
            read_frame,
            Arc::new(AtomicU64::new(0)),
        );
        let mut sent = 0u64;
        g.bench_with_input(BenchmarkId::new("per_frame", f), &f, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    wait_for(|| DEPTH * f - tx.len() >= f);
                    let t = Instant::now();
                    for fr in &frames {
                        tx.try_send(*fr).expect("room was there");
                    }
                    total += t.elapsed();
                    sent += f as u64;
                }
                total
            })
        });
        drop(tx);
        assert_eq!(consumer.join().unwrap(), sent);

        let mut dst = vec![[0i16; BLOCK]; f];
        g.bench_with_input(BenchmarkId::new("memcpy", f), &f, |b, _| {
            b.iter(|| {
                for (d, s) in dst.iter_mut().zip(&frames) {
                    d.copy_from_slice(black_box(s));
                }
                black_box(&mut dst);
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::short_config(Duration::from_millis(1000));
    targets = bench
}
criterion_main!(benches);
