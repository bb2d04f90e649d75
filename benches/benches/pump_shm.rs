//! The shared-memory ring between two processes, against a plain memcpy of the
//! same bytes in the same run.
//!
//! Group `pump_shm`; one iteration is one 320-byte frame (160 samples):
//!
//! * `ring_process`: this process writes frames with [`ShmWriter::write_frame`]
//!   into a ring of 4096 slots in `/dev/shm`; a second process (this bench
//!   binary again, started with `PUMP_SHM_BENCH_READER` set) maps the same file
//!   read-only and reads them with [`ShmReader::try_read_frame`], checking the
//!   first and last sample of every frame. The reader reports its progress
//!   through a second, bench-only shared file, and the writer never runs more
//!   than half a ring ahead of it (the pump itself never waits; the bench does,
//!   so that every frame is delivered and the figure is delivered frames per
//!   second). The reader counts lost and garbled frames; both must be zero.
//! * `memcpy`: one thread copies the same frames from a source ring of the
//!   same size into a destination ring of the same size with
//!   `copy_from_slice`.
//!
//! Target (issue 7): `ring_process` at least 10 million frames per second.
//!
//! Times are CPU time (see `common`), because on the shared 2-core machine wall
//! time mostly measures the scheduler. For `ring_process` an iteration's time is
//! the larger of the writer's and the reader's thread CPU time (the reader
//! reports its own through the progress file), both including their waiting
//! for each other (spinning, then yielding): the rate one process can send to
//! another when each has a core. The wall-clock rate is printed as well.

mod common;

use std::fs::OpenOptions;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::ThreadCpuTime;
use criterion::{criterion_group, Criterion, Throughput};
use dahdi::pump::{RingConfig, ShmReader, ShmWriter};
use dahdi_benches::thread_cpu_time;
use memmap2::MmapMut;

const BLOCK: usize = 160;
const SLOTS: usize = 4096;

/// The bench-only progress file: [0] frames consumed, [1] frames lost or
/// garbled, [2] reader ready, [3] the reader's thread CPU time in ns, as of
/// [0].
struct Progress {
    map: MmapMut,
}

impl Progress {
    fn open(path: &Path, create: bool) -> Progress {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(create)
            .open(path)
            .unwrap();
        if create {
            f.set_len(4096).unwrap();
        }
        // SAFETY: a private bench file, accessed only through atomics.
        Progress {
            map: unsafe { MmapMut::map_mut(&f) }.unwrap(),
        }
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        // SAFETY: page-aligned mapping of 4096 bytes; i < 4, 64 bytes apart.
        unsafe { &*(self.map.as_ptr().add(i * 64) as *const AtomicU64) }
    }
}

/// Marks `frame` as frame `n` (its first and last samples), leaving the rest
/// as it is: the writer sends frames it already has, as the pump does, rather
/// than building a new one each time.
fn mark_frame(frame: &mut [i16; BLOCK], n: u64) {
    frame[0] = n as i16;
    frame[BLOCK - 1] = !(n as i16);
}

/// Waits politely: spin a little, then give the core away, so that a writer
/// and a reader that share a core (the machine is busy) still make progress.
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// The reader process.
fn reader(ring: &str, progress: &str) {
    let p = Progress::open(Path::new(progress), false);
    let mut r = ShmReader::open(ring).unwrap();
    p.word(2).store(1, Ordering::Release);
    let mut f = [0i16; BLOCK];
    let mut count = 0u64;
    let mut bad = 0u64;
    let mut spins = 0;
    loop {
        match r.try_read_frame(&mut f) {
            Some(rec) => {
                spins = 0;
                if f[0] != rec.tick as i16 || f[BLOCK - 1] != !(rec.tick as i16) {
                    bad += 1;
                }
                count += 1;
                if count.is_multiple_of(64) {
                    p.word(1).store(bad + r.lost(), Ordering::Relaxed);
                    p.word(3)
                        .store(thread_cpu_time().as_nanos() as u64, Ordering::Relaxed);
                    p.word(0).store(count, Ordering::Release);
                }
            }
            None if r.writer_closed() => break,
            None => backoff(&mut spins),
        }
    }
    p.word(1).store(bad + r.lost(), Ordering::Relaxed);
    p.word(3)
        .store(thread_cpu_time().as_nanos() as u64, Ordering::Relaxed);
    p.word(0).store(count, Ordering::Release);
}

struct Pair {
    writer: ShmWriter,
    progress: Progress,
    child: Child,
    written: u64,
    _dir: PathBuf,
}

fn shm_dir() -> PathBuf {
    let d = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    d.join(format!("dahdi-pump-bench-{}", std::process::id()))
}

fn start_pair() -> Pair {
    let dir = shm_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let ring = dir.join("ring");
    let prog = dir.join("progress");
    let writer = ShmWriter::create(&ring, RingConfig::frames(BLOCK, SLOTS)).unwrap();
    let progress = Progress::open(&prog, true);
    let child = Command::new(std::env::current_exe().unwrap())
        .env(
            "PUMP_SHM_BENCH_READER",
            format!("{}\n{}", ring.display(), prog.display()),
        )
        .spawn()
        .unwrap();
    let t = Instant::now();
    while progress.word(2).load(Ordering::Acquire) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "reader did not start"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    Pair {
        writer,
        progress,
        child,
        written: 0,
        _dir: dir,
    }
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("pump_shm");
    g.throughput(Throughput::Elements(1));
    let mut pair = start_pair();
    let ahead = (SLOTS / 2) as u64;
    let mut wall = Duration::ZERO;
    let mut frame: [i16; BLOCK] = std::array::from_fn(|s| (s as i16) * 101);
    g.bench_function("ring_process", |b| {
        b.iter_custom(|iters| {
            let p = &mut pair;
            let start = Instant::now();
            let writer0 = thread_cpu_time();
            let reader0 = p.progress.word(3).load(Ordering::Relaxed);
            for _ in 0..iters {
                let mut spins = 0;
                while p.written - p.progress.word(0).load(Ordering::Acquire) >= ahead {
                    backoff(&mut spins);
                }
                let n = p.written;
                mark_frame(&mut frame, n);
                p.writer.write_frame(n, 0, &frame);
                p.written += 1;
            }
            // Delivered means read: wait for the reader to have them all
            // (it reports every 64 frames).
            let target = p.written - p.written % 64;
            let mut spins = 0;
            while p.progress.word(0).load(Ordering::Acquire) < target {
                backoff(&mut spins);
            }
            wall += start.elapsed();
            let writer = thread_cpu_time() - writer0;
            let reader = p.progress.word(3).load(Ordering::Relaxed) - reader0;
            writer.max(Duration::from_nanos(reader))
        })
    });
    pair.writer.close();
    pair.child.wait().unwrap();
    let consumed = pair.progress.word(0).load(Ordering::Acquire);
    let bad = pair.progress.word(1).load(Ordering::Acquire);
    assert_eq!(consumed, pair.written, "the reader got every frame");
    assert_eq!(bad, 0, "no frame was lost or garbled");
    eprintln!(
        "pump_shm/ring_process: {} frames, wall-clock rate {:.1} M frames/s on this (shared) machine",
        pair.written,
        pair.written as f64 / wall.as_secs_f64() / 1e6
    );
    let _ = std::fs::remove_dir_all(&pair._dir);

    let src: Vec<i16> = (0..SLOTS * BLOCK).map(|i| i as i16).collect();
    let mut dst = vec![0i16; SLOTS * BLOCK];
    let mut n = 0usize;
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            let s = (n % SLOTS) * BLOCK;
            dst[s..s + BLOCK].copy_from_slice(black_box(&src[s..s + BLOCK]));
            n += 1;
        });
        black_box(&dst);
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::short_config(Duration::from_millis(1500));
    targets = bench
}

fn main() {
    if let Ok(args) = std::env::var("PUMP_SHM_BENCH_READER") {
        let (ring, progress) = args.split_once('\n').expect("ring\\nprogress");
        reader(ring, progress);
        return;
    }
    benches();
    Criterion::default()
        .with_measurement(ThreadCpuTime)
        .configure_from_args()
        .final_summary();
}
