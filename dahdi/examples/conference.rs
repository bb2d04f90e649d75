//! A conference of synthetic speakers, mixed by the channel pump in real time.
//!
//! ```text
//! cargo run --release -p dahdi --features pump --example conference -- --participants 1000 --seconds 10
//! cargo run --release -p dahdi --features pump --example conference -- --participants 50 --seconds 10 --dahdi
//! ```
//!
//! Without `--dahdi` (the embedded default) every participant is an in-memory
//! port fed by a "speakers" thread, and a `timerfd` soft clock paces the ticks;
//! nothing of DAHDI is needed. With `--dahdi` every participant is a DAHDI
//! pseudo channel: the speakers thread plays the callers at the far ends of the
//! channels (one more pseudo channel each, joined with the pump's channel in a
//! two-member kernel conference), and `/dev/dahdi/timer` paces the ticks
//! (needs the dahdi module loaded and root, or the group owning /dev/dahdi).
//!
//! The first `--talkers` participants speak (a tone each, at its own pitch);
//! everyone hears everyone else. `--ring /dev/shm/conf-mix` publishes the mix to
//! a shared-memory ring that `tap_reader` can read from another process;
//! `--record mix.wav` records it. At the end the pump's statistics are printed.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use dahdi::audio::mixer::Role;
use dahdi::pump::{
    Clock, DahdiClock, DahdiPort, DahdiPortConfig, FilePort, MemoryEndpoint, MemoryPort, Pump,
    PumpConfig, RingConfig, ShmWriter, SoftClock, Stream,
};
use dahdi::{Pseudo, ReadOutcome, WriteOutcome};

#[derive(Parser, Debug)]
#[command(about = "Mix synthetic speakers with the DAHDI channel pump")]
struct Args {
    /// Number of participants.
    #[arg(long, default_value_t = 10)]
    participants: usize,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// How many participants speak (the others listen).
    #[arg(long, default_value_t = 3)]
    talkers: usize,
    /// Use DAHDI pseudo channels and the DAHDI timer instead of memory ports and
    /// a soft clock.
    #[arg(long)]
    dahdi: bool,
    /// Samples per tick (160 = 20 ms).
    #[arg(long, default_value_t = 160)]
    block: usize,
    /// Publish the mix to a shared-memory ring at this path (e.g. /dev/shm/conf-mix).
    #[arg(long)]
    ring: Option<PathBuf>,
    /// Record the mix into this WAV file.
    #[arg(long)]
    record: Option<PathBuf>,
}

/// Speaker `i`'s voice: a tone at its own pitch, quiet enough that a few
/// speakers never clip.
struct Voice {
    freq: f64,
    amp: f64,
    n: u64,
}

impl Voice {
    fn new(i: usize, talkers: usize) -> Voice {
        Voice {
            freq: 300.0 + 37.0 * i as f64,
            amp: 8000.0 / talkers.max(1) as f64,
            n: 0,
        }
    }

    fn next(&mut self, frame: &mut [i16]) {
        for s in frame.iter_mut() {
            let t = self.n as f64 / 8000.0;
            *s = (self.amp * (2.0 * std::f64::consts::PI * self.freq * t).sin()) as i16;
            self.n += 1;
        }
    }
}

/// What the speakers thread saw.
#[derive(Default, Debug)]
struct Heard {
    frames: u64,
    sum_sq: f64,
    refused: u64,
}

fn speak_memory(
    mut eps: Vec<MemoryEndpoint>,
    talkers: usize,
    block: usize,
    stop: Arc<AtomicBool>,
) -> Heard {
    let mut voices: Vec<Option<Voice>> = (0..eps.len())
        .map(|i| (i < talkers).then(|| Voice::new(i, talkers)))
        .collect();
    let mut frame = vec![0i16; block];
    let silence = vec![0i16; block];
    let mut heard = Heard::default();
    while !stop.load(Ordering::Relaxed) {
        for (ep, voice) in eps.iter_mut().zip(&mut voices) {
            // Keep three frames queued: 60 ms of slack for this thread.
            while ep.queued_input() < 3 {
                let ok = match voice {
                    Some(v) => {
                        v.next(&mut frame);
                        ep.push(&frame)
                    }
                    None => ep.push(&silence),
                };
                if !ok {
                    heard.refused += 1;
                    break;
                }
            }
            while ep.pop(&mut frame) {
                heard.frames += 1;
                heard.sum_sq += frame.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
    heard
}

fn speak_dahdi(mut far: Vec<Pseudo>, talkers: usize, block: usize, stop: Arc<AtomicBool>) -> Heard {
    let mut voices: Vec<Option<Voice>> = (0..far.len())
        .map(|i| (i < talkers).then(|| Voice::new(i, talkers)))
        .collect();
    let mut frame = vec![0i16; block];
    let mut heard = Heard::default();
    for p in &far {
        p.set_nonblocking(true).expect("non-blocking far end");
    }
    // Two blocks ahead, so the far end's transmit queue never runs dry; after
    // that one block out for every block in, as a phone would.
    let mut owed: Vec<usize> = vec![2; far.len()];
    while !stop.load(Ordering::Relaxed) {
        for ((p, voice), owed) in far.iter_mut().zip(&mut voices).zip(&mut owed) {
            loop {
                match p.read_samples(&mut frame) {
                    Ok(ReadOutcome::Audio(n)) if n > 0 => {
                        heard.frames += 1;
                        heard.sum_sq += frame.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
                        *owed += 1;
                    }
                    Ok(ReadOutcome::Event(_)) => continue,
                    _ => break,
                }
            }
            while *owed > 0 {
                match voice {
                    Some(v) => v.next(&mut frame),
                    None => frame.fill(0),
                }
                match p.write_samples(&frame) {
                    Ok(WriteOutcome::Written(_)) => *owed -= 1,
                    Ok(WriteOutcome::Event(_)) => continue,
                    Err(_) => {
                        heard.refused += 1;
                        break;
                    }
                }
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
    heard
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("conference: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let block = args.block;
    let mut pump = Pump::new(PumpConfig {
        block_size: block,
        capacity: args.participants + 1,
        ..PumpConfig::default()
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let talkers = args.talkers.min(args.participants);
    let (speakers, mut clock): (thread::JoinHandle<Heard>, Box<dyn Clock>) = if args.dahdi {
        let config = DahdiPortConfig {
            block,
            ..DahdiPortConfig::default()
        };
        let mut far = Vec::new();
        for _ in 0..args.participants {
            let (port, far_end) = DahdiPort::with_far_end(&config)?;
            pump.add_port(port, Role::Both)?;
            far.push(far_end);
        }
        let clock = DahdiClock::new(block)?;
        println!(
            "{} DAHDI pseudo channels (first {}), paced by /dev/dahdi/timer (fd {})",
            args.participants,
            far.first().map(|p| p.number().unwrap_or(0)).unwrap_or(0),
            clock.timer().as_raw_fd()
        );
        let s = stop.clone();
        (
            thread::spawn(move || speak_dahdi(far, talkers, block, s)),
            Box::new(clock),
        )
    } else {
        let mut eps = Vec::new();
        for (port, ep) in MemoryPort::bank(args.participants, block, MemoryPort::DEFAULT_DEPTH) {
            pump.add_port(port, Role::Both)?;
            eps.push(ep);
        }
        println!(
            "{} in-memory participants, paced by a timerfd soft clock",
            args.participants
        );
        let s = stop.clone();
        (
            thread::spawn(move || speak_memory(eps, talkers, block, s)),
            Box::new(SoftClock::for_block(block)?),
        )
    };
    if let Some(path) = &args.ring {
        pump.add_ring(
            ShmWriter::create(path, RingConfig::frames(block, 1024))?,
            &[Stream::Mix],
        );
        println!("publishing the mix to {}", path.display());
    }
    if let Some(path) = &args.record {
        pump.add_port(FilePort::record(path)?, Role::Listener)?;
        println!("recording the mix into {}", path.display());
    }
    let ticks = (args.seconds * 8000.0 / block as f64).round() as u64;
    // Let the speakers queue their first frames before the clock starts.
    thread::sleep(Duration::from_millis(30));
    let t0 = Instant::now();
    pump.run_for(clock.as_mut(), ticks)?;
    let wall = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let heard = speakers.join().expect("speakers thread");
    let stats = pump.stats();
    println!("{stats}");
    println!(
        "{} ticks in {:.2} s of wall time; p99 work is {:.2}% of the tick period",
        stats.ticks,
        wall.as_secs_f64(),
        100.0 * stats.work_p99.as_secs_f64() / stats.period.as_secs_f64().max(1e-9)
    );
    let rms = (heard.sum_sq / (heard.frames.max(1) * block as u64) as f64).sqrt();
    println!(
        "speakers: {} frames heard, RMS level {:.0}, {} frames refused",
        heard.frames, rms, heard.refused
    );
    Ok(())
}
