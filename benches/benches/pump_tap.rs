//! In-process taps: frames per tick delivered to a subscriber thread, batched
//! (one crossbeam message per tick, pooled buffers) against crossbeam-channel
//! with one frame per message, measured in the same run.
//!
//! Group `pump_tap`, parameter F frames per tick (160 samples, 320 bytes each);
//! one iteration is one tick: F frames go from the publishing thread (the
//! bench's, playing the pump) to a subscriber thread that looks at one sample
//! of every frame and polls for more (see `poll_pause` for why it does not
//! block). Measured is what the publisher spends per tick when the
//! subscriber keeps up, which is what a tap costs the pump: before each tick
//! the bench waits, untimed, until the subscriber has made room (a pump never
//! waits, it would drop; at 50 ticks a second a subscriber has all the time it
//! needs), then times the publishing alone with the monotonic clock (a window
//! of a microsecond or two; the median of the samples discards the rare
//! preemption).
//!
//! * `batched`: [`TapPublisher::publish`], the pump's own tap, with a pool of 8
//!   batches.
//! * `per_frame`: a bounded crossbeam channel of `[i16; 160]` messages with
//!   the same buffering (8 ticks' worth), one `try_send` per frame.
//! * `memcpy`: copying the F frames into a buffer, nothing else: the floor for
//!   any tap that hands out copies.
//!
//! Target (issue 7): `batched` at most 10 ns per frame; the table divides by F.

mod common;

use std::hint::black_box;
use std::thread;
use std::time::Duration;

use common::ThreadCpuTime;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dahdi::pump::{Published, Stream, TapPublisher};
use std::time::Instant;

use crossbeam_channel::TryRecvError;

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

/// A subscriber thread: polls `try_recv` (see `poll_pause`), looks at one
/// sample of every frame of each message (`look` returns how many frames it
/// held), and returns the number of frames seen once the sender is gone.
fn spawn_subscriber<M: 'static>(
    mut try_recv: impl FnMut() -> Result<M, TryRecvError> + Send + 'static,
    look: fn(&M) -> usize,
) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut seen = 0u64;
        loop {
            match try_recv() {
                Ok(message) => seen += look(&message) as u64,
                Err(TryRecvError::Empty) => poll_pause(),
                Err(TryRecvError::Disconnected) => return seen,
            }
        }
    })
}

const BLOCK: usize = 160;
const DEPTH: usize = 8;
const FRAMES: [usize; 3] = [16, 100, 1000];

fn source(f: usize) -> Vec<[i16; BLOCK]> {
    (0..f)
        .map(|i| std::array::from_fn(|s| (i * 31 + s) as i16))
        .collect()
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("pump_tap");
    for &f in &FRAMES {
        g.throughput(Throughput::Elements(f as u64));
        let frames = source(f);
        // The pump tags streams by port; here the streams are only labels.
        let streams = vec![Stream::Mix; f];

        let (mut publisher, sub) = TapPublisher::new(&streams, BLOCK, DEPTH);
        let consumer = spawn_subscriber(
            move || sub.try_recv(),
            |batch| {
                batch
                    .frames()
                    .inspect(|(_, frame)| {
                        black_box(frame[0]);
                    })
                    .count()
            },
        );
        let mut tick = 0u64;
        g.bench_with_input(BenchmarkId::new("batched", f), &f, |b, _| {
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
            |frame| {
                black_box(frame[0]);
                1
            },
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
