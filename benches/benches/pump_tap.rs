//! In-process taps: frames per tick delivered to a subscriber thread, batched
//! (one crossbeam message per tick, pooled buffers) against crossbeam-channel
//! with one frame per message, measured in the same run.
//!
//! Group `pump_tap`, parameter F frames per tick (160 samples, 320 bytes each);
//! one iteration is one tick: F frames go from the publishing thread (the
//! bench's) to a subscriber thread that looks at one sample of every frame.
//! Both sides run continuously, so the figure is sustained throughput:
//!
//! * `batched`: [`TapPublisher::publish`], the pump's own tap, with a pool of 8
//!   batches. If the subscriber still holds all 8, the bench waits for one to
//!   come back (the pump would count a drop instead), so every frame is
//!   delivered and counted.
//! * `per_frame`: a bounded crossbeam channel of `[i16; 160]` messages with
//!   the same buffering (8 ticks' worth), blocking `send`.
//!
//! Target (issue 7): `batched` at most 10 ns per frame; the table divides by F.

use std::hint::black_box;
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dahdi::pump::{Published, Stream, TapPublisher};

const BLOCK: usize = 160;
const DEPTH: usize = 8;
const FRAMES: [usize; 2] = [16, 100];

fn source(f: usize) -> Vec<[i16; BLOCK]> {
    (0..f)
        .map(|i| std::array::from_fn(|s| (i * 31 + s) as i16))
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pump_tap");
    for &f in &FRAMES {
        g.throughput(Throughput::Elements(f as u64));
        let frames = source(f);
        // The pump tags streams by port; here the streams are only labels.
        let streams = vec![Stream::Mix; f];

        let (mut publisher, sub) = TapPublisher::new(&streams, BLOCK, DEPTH);
        let consumer = thread::spawn(move || {
            let mut seen = 0u64;
            while let Ok(batch) = sub.recv() {
                for (_, frame) in batch.frames() {
                    black_box(frame[0]);
                    seen += 1;
                }
            }
            seen
        });
        let mut tick = 0u64;
        g.bench_with_input(BenchmarkId::new("batched", f), &f, |b, _| {
            b.iter(|| {
                let mut spins = 0u32;
                loop {
                    let mut i = 0;
                    let r = publisher.publish(tick, |_, dst| {
                        dst.copy_from_slice(&frames[i]);
                        i += 1;
                    });
                    match r {
                        Published::Sent => break,
                        // Wait for a buffer; give the core away if the
                        // subscriber shares it (a busy machine).
                        Published::Dropped if spins < 64 => {
                            spins += 1;
                            std::hint::spin_loop()
                        }
                        Published::Dropped => std::thread::yield_now(),
                        Published::Disconnected => panic!("subscriber gone"),
                    }
                }
                tick += 1;
            })
        });
        let sent = publisher.frames_sent();
        drop(publisher);
        assert_eq!(
            consumer.join().unwrap(),
            sent,
            "every batch sent was received"
        );

        let (tx, rx) = crossbeam_channel::bounded::<[i16; BLOCK]>(DEPTH * f);
        let consumer = thread::spawn(move || {
            let mut seen = 0u64;
            while let Ok(frame) = rx.recv() {
                black_box(frame[0]);
                seen += 1;
            }
            seen
        });
        let mut sent = 0u64;
        g.bench_with_input(BenchmarkId::new("per_frame", f), &f, |b, _| {
            b.iter(|| {
                for fr in &frames {
                    tx.send(*fr).unwrap();
                }
                sent += f as u64;
            })
        });
        drop(tx);
        assert_eq!(consumer.join().unwrap(), sent);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(10);
    targets = bench
}
criterion_main!(benches);
