//! Reads frames that a pump publishes into a shared-memory ring, from another
//! process.
//!
//! ```text
//! cargo run --release -p dahdi --features pump --example conference -- --participants 100 --seconds 30 --ring /dev/shm/conf-mix &
//! cargo run --release -p dahdi --features pump --example tap_reader -- /dev/shm/conf-mix --seconds 10 --wav mix.wav
//! ```
//!
//! Prints, every second, the records read, the records lost (the reader fell
//! more than a ring behind), the last tick and the RMS level; optionally writes
//! the first stream it sees into a WAV file. Any number of readers can run at
//! once; killing one affects nothing else. A reader started late begins with
//! the next record published.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use dahdi::pump::{ShmError, ShmReader, WavWriter};

#[derive(Parser, Debug)]
#[command(about = "Read a DAHDI pump's shared-memory ring")]
struct Args {
    /// The ring file (e.g. /dev/shm/conf-mix).
    ring: PathBuf,
    /// Stop after this many seconds (default: when the writer closes the ring).
    #[arg(long)]
    seconds: Option<f64>,
    /// Write the first stream read into this WAV file.
    #[arg(long)]
    wav: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("tap_reader: {e}");
        std::process::exit(1);
    }
}

fn open(path: &PathBuf) -> Result<ShmReader, ShmError> {
    // The pump may not have created the ring yet: wait up to 10 s for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ShmReader::open(path) {
            Err(ShmError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100))
            }
            other => return other,
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut reader = open(&args.ring)?;
    println!(
        "{}: {} slots of up to {} bytes, {} samples a frame, writer pid {}",
        args.ring.display(),
        reader.slots(),
        reader.payload_capacity(),
        reader.block_samples(),
        reader.writer_pid()
    );
    let mut wav = match &args.wav {
        Some(p) => Some(WavWriter::create(p)?),
        None => None,
    };
    let mut frame = vec![0i16; reader.payload_capacity() / 2];
    let start = Instant::now();
    let end = args.seconds.map(|s| start + Duration::from_secs_f64(s));
    let mut next_report = start + Duration::from_secs(1);
    let (mut count, mut sum_sq, mut samples, mut last_tick) = (0u64, 0f64, 0u64, None);
    let mut wav_tag = None;
    loop {
        if end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
        match reader.read_timeout(bytes_of(&mut frame), Duration::from_millis(100)) {
            Some(rec) => {
                let f = &frame[..rec.len / 2];
                count += 1;
                samples += f.len() as u64;
                sum_sq += f.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
                last_tick = Some(rec.tick);
                if let Some(w) = &mut wav {
                    if *wav_tag.get_or_insert(rec.tag) == rec.tag {
                        w.write(f)?;
                    }
                }
            }
            None if reader.writer_closed() => {
                println!("the writer closed the ring");
                break;
            }
            None => {}
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(1);
            let rms = (sum_sq / samples.max(1) as f64).sqrt();
            println!(
                "{:6.1} s: {count} records, {} lost, last tick {}, RMS {rms:.0}",
                start.elapsed().as_secs_f64(),
                reader.lost(),
                last_tick.map_or("-".into(), |t| t.to_string())
            );
            (sum_sq, samples) = (0.0, 0);
        }
    }
    if let Some(w) = &mut wav {
        w.finish()?;
    }
    println!("{count} records read, {} lost", reader.lost());
    Ok(())
}

fn bytes_of(frame: &mut [i16]) -> &mut [u8] {
    // SAFETY: i16 samples viewed as their bytes; every byte pattern is valid.
    unsafe { std::slice::from_raw_parts_mut(frame.as_mut_ptr().cast(), frame.len() * 2) }
}
