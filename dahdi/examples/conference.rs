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
//!
//! `--churn` (memory ports) shows participants joining and leaving while the
//! pump runs: a guest joins through a [`PumpHandle`](dahdi::pump::PumpHandle)
//! from another thread, speaks for half a second at its own pitch, and leaves
//! again, over and over; each join and leave is printed with the tick from
//! which it held and what it changed (the mix's level before, during and after
//! the stay, what the guest heard).
//!
//! ```text
//! cargo run --release -p dahdi --features pump --example conference -- --participants 100 --seconds 5 --churn
//! ```

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use dahdi::audio::mixer::Role;
use dahdi::pump::{
    Clock, DahdiClock, DahdiPort, DahdiPortConfig, FilePort, MemoryEndpoint, MemoryPort, Port,
    Pump, PumpConfig, PumpHandle, RingConfig, ShmWriter, SoftClock, Stream, Subscriber,
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
    /// A guest joins and leaves over and over while the pump runs, through the
    /// pump's handle; each change and its effect is printed (memory ports).
    #[arg(long)]
    churn: bool,
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

/// Root mean square of a frame's samples.
fn rms(frames: &[f64]) -> f64 {
    if frames.is_empty() {
        return 0.0;
    }
    (frames.iter().sum::<f64>() / frames.len() as f64).sqrt()
}

/// The guest of `--churn`: joins through `handle`, speaks for `stay`, leaves,
/// waits `stay`, and again, until `stop`; prints every join and leave with its
/// tick and its effect on the mix (read from `mix`, a subscriber to it).
fn churn(handle: PumpHandle, mix: Subscriber, talkers: usize, block: usize, stop: Arc<AtomicBool>) {
    let answer = Duration::from_secs(1);
    let stay = Duration::from_millis(500);
    let (port, mut guest) = MemoryPort::new(block, 8);
    let mut port: Option<Box<dyn Port>> = Some(Box::new(port));
    // A voice at a pitch no speaker has, as loud as all the speakers together.
    let mut voice = Voice::new(0, 1);
    voice.freq = 1900.0;
    voice.amp = 8000.0;
    let mut frame = vec![0i16; block];
    // Mean square of the mix per tick, with its tick.
    let mut levels: Vec<(u64, f64)> = Vec::new();
    let drain_mix = |levels: &mut Vec<(u64, f64)>| {
        while let Ok(batch) = mix.try_recv() {
            let f = batch.frame(0);
            let ms = f.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / f.len() as f64;
            levels.push((batch.tick(), ms));
        }
    };
    let mut left_at = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Ok(Ok((joined, id))) = handle
            .add_boxed(port.take().expect("the guest is outside"), Role::Both)
            .map(|r| r.wait_timeout(answer))
        else {
            return;
        };
        let id = id.expect("room for the guest");
        println!("tick {joined}: guest joined as participant {}", id.index());
        let (mut heard, mut heard_sq) = (0u64, 0f64);
        let t0 = Instant::now();
        while t0.elapsed() < stay && !stop.load(Ordering::Relaxed) {
            while guest.queued_input() < 3 {
                voice.next(&mut frame);
                guest.push(&frame);
            }
            while guest.pop(&mut frame) {
                heard += 1;
                heard_sq += frame.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
            }
            drain_mix(&mut levels);
            thread::sleep(Duration::from_millis(5));
        }
        let Ok(Ok((left, back))) = handle.remove_port(id).map(|r| r.wait_timeout(answer)) else {
            return;
        };
        // The port is given back, and the last frames it heard are in its queue.
        let back = back.expect("the guest was in");
        while guest.pop(&mut frame) {
            heard += 1;
            heard_sq += frame.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        }
        // Its input queue still holds what it did not say: the next stay starts
        // with a fresh port.
        drop(back);
        let (fresh, endpoint) = MemoryPort::new(block, 8);
        port = Some(Box::new(fresh));
        guest = endpoint;
        thread::sleep(stay);
        drain_mix(&mut levels);
        let level = |from: u64, to: u64| {
            let ms: Vec<f64> = levels
                .iter()
                .filter(|&&(t, _)| (from..to).contains(&t))
                .map(|&(_, ms)| ms)
                .collect();
            rms(&ms)
        };
        let per_sample = (heard * block as u64).max(1) as f64;
        println!(
            "tick {left}: guest left after {} ticks; the mix's RMS was {:.0} before it joined, \
             {:.0} while it spoke, {:.0} after it left; it heard {heard} frames at RMS {:.0} \
             (the {talkers} speakers, not itself)",
            left - joined,
            level(left_at, joined),
            level(joined, left),
            level(left, left + (left - joined)),
            (heard_sq / per_sample).sqrt(),
        );
        left_at = left;
    }
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
    let churner = if args.churn {
        if args.dahdi {
            return Err("--churn works with memory ports (leave out --dahdi)".into());
        }
        let handle = pump.handle();
        let mix = pump.subscribe(&[Stream::Mix], 256);
        let s = stop.clone();
        println!("a guest joins and leaves every half second, through the pump's handle");
        Some(thread::spawn(move || churn(handle, mix, talkers, block, s)))
    } else {
        None
    };
    let ticks = (args.seconds * 8000.0 / block as f64).round() as u64;
    // Let the speakers queue their first frames before the clock starts.
    thread::sleep(Duration::from_millis(30));
    let t0 = Instant::now();
    pump.run_for(clock.as_mut(), ticks)?;
    let wall = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let heard = speakers.join().expect("speakers thread");
    if let Some(churner) = churner {
        churner.join().expect("churn thread");
    }
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
