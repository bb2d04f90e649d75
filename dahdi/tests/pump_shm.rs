//! Shared-memory rings: records cross intact, late readers start clean,
//! lapped readers count what they lost, bad files are refused with a clear
//! error, and a reader process killed mid-stream disturbs neither the pump nor
//! the other readers.
//!
//! Reader processes are this test binary itself, re-run with `--ignored
//! --exact shm_reader_process` and the ring's path in `PUMP_RING`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dahdi::audio::mixer::Role;
use dahdi::pump::shm::{HEADER_LEN, MAGIC};
use dahdi::pump::{
    Port, PortError, PortStats, Pump, PumpConfig, RingConfig, ShmError, ShmPort, ShmReader,
    ShmWriter, SoftClock, Stream,
};

const BLOCK: usize = 160;

fn ring_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// A frame of `len` samples whose every sample encodes `(n, i)`: a torn or
/// misplaced copy shows as a mismatch.
fn frame_of(n: u64, len: usize) -> Vec<i16> {
    (0..len)
        .map(|i| (n as i16).wrapping_mul(31).wrapping_add(i as i16))
        .collect()
}

fn frame_for(n: u64) -> Vec<i16> {
    frame_of(n, BLOCK)
}

fn check_frame(n: u64, f: &[i16]) -> bool {
    f == frame_of(n, f.len()).as_slice()
}

/// The pump in the process tests ticks every millisecond (a thousand records
/// a second), so its blocks are 8 samples.
const FAST_BLOCK: usize = 8;

#[test]
fn records_cross_intact_and_a_late_reader_starts_at_the_next_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring_path(dir.path(), "r");
    let mut w = ShmWriter::create(&path, RingConfig::frames(BLOCK, 16)).unwrap();
    for n in 0..10 {
        w.write_frame(n * 2, 5, &frame_for(n));
    }
    let mut r = ShmReader::open(&path).unwrap();
    assert_eq!(
        (r.block_samples(), r.slots(), r.position()),
        (BLOCK, 16, 10)
    );
    assert_eq!(r.writer_pid(), std::process::id());
    let mut f = vec![0i16; BLOCK];
    assert_eq!(
        r.try_read_frame(&mut f),
        None,
        "older records are not replayed"
    );
    for n in 10..15 {
        w.write_frame(n * 2, 5, &frame_for(n));
    }
    for n in 10..15 {
        let rec = r.try_read_frame(&mut f).unwrap();
        assert_eq!(
            (rec.seq, rec.tick, rec.tag, rec.len),
            (n, n * 2, 5, BLOCK * 2)
        );
        assert!(check_frame(n, &f), "record {n}");
    }
    assert_eq!(r.try_read_frame(&mut f), None);
    assert_eq!(r.lost(), 0);
    assert!(!r.writer_closed());
    drop(w);
    assert!(r.writer_closed(), "a dropped writer marks the ring closed");
    assert!(!path.exists(), "and removes its file");
}

#[test]
fn a_lapped_reader_counts_what_it_lost_and_resumes_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring_path(dir.path(), "lap");
    let mut w = ShmWriter::create(&path, RingConfig::frames(BLOCK, 8)).unwrap();
    let mut r = ShmReader::open(&path).unwrap();
    for n in 0..20 {
        w.write_frame(n, 0, &frame_for(n));
    }
    // 20 records into 8 slots: 0..12 are gone. The reader resumes in the
    // newer half: at 20 - 8/2 = 16.
    let mut f = vec![0i16; BLOCK];
    let rec = r.try_read_frame(&mut f).unwrap();
    assert_eq!(rec.seq, 16);
    assert_eq!(r.lost(), 16);
    assert!(check_frame(16, &f));
    for n in 17..20 {
        assert_eq!(r.try_read_frame(&mut f).unwrap().seq, n);
        assert!(check_frame(n, &f));
    }
    r.skip_to_latest(0);
    assert_eq!(r.lost(), 16);
    w.write_frame(20, 0, &frame_for(20));
    w.write_frame(21, 0, &frame_for(21));
    r.skip_to_latest(1);
    assert_eq!(r.lost(), 17);
    assert_eq!(r.try_read_frame(&mut f).unwrap().seq, 21);
}

fn error_of(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad");
    std::fs::write(&p, bytes).unwrap();
    match ShmReader::open(&p) {
        Ok(_) => panic!("{} bytes accepted", bytes.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn corrupt_and_short_files_are_refused_with_clear_errors() {
    assert!(
        error_of(b"").contains("ring file is 0 bytes"),
        "{}",
        error_of(b"")
    );
    assert!(error_of(&[0u8; 4096]).contains("bad magic"));

    // A real header, then damage one field at a time.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("good");
    let w = ShmWriter::create(&p, RingConfig::frames(BLOCK, 4))
        .unwrap()
        .keep_file(true);
    drop(w);
    let good = std::fs::read(&p).unwrap();
    assert_eq!(&good[..8], &MAGIC);
    assert_eq!(good.len(), HEADER_LEN + 4 * 384);

    let e = error_of(&good[..good.len() - 1]);
    assert!(
        e.contains(&format!(
            "is {} bytes, its layout needs {}",
            good.len() - 1,
            good.len()
        )),
        "{e}"
    );
    let e = error_of(&good[..HEADER_LEN]);
    assert!(e.contains("truncated"), "{e}");

    let mut v2 = good.clone();
    v2[8..12].copy_from_slice(&2u32.to_ne_bytes());
    let e = error_of(&v2);
    assert!(
        e.contains("version 2") && e.contains("reads version 1"),
        "{e}"
    );

    let mut slots = good.clone();
    slots[16..20].copy_from_slice(&3u32.to_ne_bytes());
    let e = error_of(&slots);
    assert!(e.contains("corrupt ring header: slot count 3"), "{e}");

    let mut stride = good.clone();
    stride[20..24].copy_from_slice(&100u32.to_ne_bytes());
    assert!(error_of(&stride).contains("slot stride 100"));

    let mut bom = good.clone();
    bom[36..40].copy_from_slice(&0x0403_0201u32.to_ne_bytes());
    assert!(error_of(&bom).contains("byte order"));

    match ShmReader::open(dir.path().join("missing")) {
        Err(ShmError::Io {
            op: "open", source, ..
        }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ShmWriter::create(dir.path().join("x"), RingConfig::frames(0, 4)),
        Err(ShmError::Config(_))
    ));
}

// ---- processes ---------------------------------------------------------

/// Input = the tick number, encoded as in `frame_for`.
struct Ticker(u64);

impl Port for Ticker {
    fn name(&self) -> String {
        "ticker".into()
    }
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        frame.copy_from_slice(&frame_of(self.0, frame.len()));
        self.0 += 1;
        Ok(())
    }
    fn write(&mut self, _: &[i16]) -> Result<(), PortError> {
        Ok(())
    }
    fn stats(&self) -> PortStats {
        PortStats::default()
    }
}

/// The reader process: reads the ring in `PUMP_RING` until the writer closes
/// it, checking every record, and appends "first count lost bad" to the
/// file in `PUMP_READER_OUT` every 50 records.
#[test]
#[ignore = "the reader process of the shm tests, started by them"]
fn shm_reader_process() {
    let ring = std::env::var("PUMP_RING").expect("started by the shm tests");
    let out = std::env::var("PUMP_READER_OUT").unwrap();
    let mut r = ShmReader::open(&ring).unwrap();
    let mut f = vec![0i16; BLOCK];
    let (mut first, mut count, mut bad, mut last) = (None, 0u64, 0u64, None);
    let report = |first: Option<u64>, count, lost, bad| {
        let mut o = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&out)
            .unwrap();
        writeln!(
            o,
            "{} {count} {lost} {bad}",
            first.map_or(-1, |x: u64| x as i64)
        )
        .unwrap();
    };
    loop {
        match r.try_read_frame(&mut f) {
            Some(rec) => {
                // The tick is the record's frame number (one stream).
                let got = &f[..rec.len / 2];
                if got.len() != FAST_BLOCK
                    || !check_frame(rec.tick, got)
                    || last.is_some_and(|l| rec.seq != l + 1)
                {
                    bad += 1;
                }
                last = Some(rec.seq);
                first.get_or_insert(rec.tick);
                count += 1;
                if count.is_multiple_of(50) {
                    report(first, count, r.lost(), bad);
                }
            }
            None if r.writer_closed() => break,
            None => std::thread::sleep(Duration::from_micros(200)),
        }
    }
    report(first, count, r.lost(), bad);
}

fn spawn_reader(ring: &Path, out: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "shm_reader_process", "--nocapture"])
        .env("PUMP_RING", ring)
        .env("PUMP_READER_OUT", out)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// The last report of a reader: (first tick, count, lost, bad).
fn last_report(out: &Path) -> Option<(i64, u64, u64, u64)> {
    let text = std::fs::read_to_string(out).ok()?;
    // Only complete lines: the reader may be writing the next one now
    // (`writeln!` to a file makes several write calls), and what follows
    // the last newline can be part of a line.
    let (complete, _) = text.rsplit_once('\n')?;
    let line = complete.lines().last()?;
    let v: Vec<i64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
    Some((v[0], v[1] as u64, v[2] as u64, v[3] as u64))
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_killed_reader_leaves_the_pump_and_other_readers_running_and_a_late_reader_starts_clean() {
    let dir = tempfile::tempdir().unwrap();
    let ring = dir.path().join("mix");
    let mut pump = Pump::new(PumpConfig {
        block_size: FAST_BLOCK,
        ..PumpConfig::default()
    })
    .unwrap();
    let id = pump.add_port(Ticker(0), Role::Talker).unwrap();
    pump.add_ring(
        ShmWriter::create(&ring, RingConfig::frames(FAST_BLOCK, 1024)).unwrap(),
        &[Stream::Input(id)],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let pump_thread = std::thread::spawn(move || {
        // 1 ms ticks: a thousand records a second.
        let mut clock = SoftClock::for_block(FAST_BLOCK).unwrap();
        pump.run_until(&mut clock, &s2).unwrap();
        pump
    });
    wait_for("the ring", Duration::from_secs(10), || ring.exists());
    let (out_a, out_b, out_c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let mut a = spawn_reader(&ring, &out_a);
    let mut b = spawn_reader(&ring, &out_b);
    wait_for("both readers reading", Duration::from_secs(30), || {
        last_report(&out_a).is_some_and(|r| r.1 >= 200)
            && last_report(&out_b).is_some_and(|r| r.1 >= 200)
    });
    a.kill().unwrap();
    a.wait().unwrap();
    let killed_at = ShmReader::open(&ring).unwrap().position();
    let b_at_kill = last_report(&out_b).unwrap().1;
    wait_for("reader B to go on", Duration::from_secs(30), || {
        last_report(&out_b).is_some_and(|r| r.1 >= b_at_kill + 500)
    });
    // A late reader: what it sees must start at or after the sequence that
    // was current when it was started, and be whole from there.
    let before_c = ShmReader::open(&ring).unwrap().position();
    let mut c = spawn_reader(&ring, &out_c);
    wait_for("reader C", Duration::from_secs(30), || {
        last_report(&out_c).is_some_and(|r| r.1 >= 300)
    });
    stop.store(true, Ordering::Relaxed);
    let pump = pump_thread.join().unwrap();
    let ticks = pump.stats().ticks;
    drop(pump); // closes the ring: B and C finish
    assert!(b.wait().unwrap().success());
    assert!(c.wait().unwrap().success());

    assert!(
        ticks > killed_at + 500,
        "the pump went on after the kill: {ticks} ticks, kill at {killed_at}"
    );
    let (b_first, b_count, b_lost, b_bad) = last_report(&out_b).unwrap();
    assert_eq!((b_lost, b_bad), (0, 0), "reader B lost or garbled records");
    assert!(b_first >= 0 && b_count >= b_at_kill + 500);
    assert_eq!(
        b_first as u64 + b_count,
        ticks,
        "B read everything from its start to the end"
    );
    let (c_first, c_count, c_lost, c_bad) = last_report(&out_c).unwrap();
    assert_eq!((c_lost, c_bad), (0, 0), "reader C lost or garbled records");
    assert!(
        c_first as u64 >= before_c,
        "C started at {c_first}, before {before_c}"
    );
    assert_eq!(c_first as u64 + c_count, ticks);
    let (_, a_count, _, a_bad) = last_report(&out_a).unwrap();
    assert!(a_count >= 200 && a_bad == 0);
}

#[test]
fn shm_port_exchanges_frames_with_a_peer_and_survives_its_restart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("to-peer");
    let inp = dir.path().join("from-peer");
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let port = ShmPort::new(
        ShmWriter::create(&out, RingConfig::frames(BLOCK, 64)).unwrap(),
        Some(inp.clone()),
        4,
    );
    let id = pump.add_port(port, Role::Both).unwrap();
    let (mem, mut other) = dahdi::pump::MemoryPort::new(BLOCK, 64);
    pump.add_port(mem, Role::Both).unwrap();
    // No peer yet: silence, no underruns.
    pump.tick();
    assert_eq!(pump.stats().ports[0].stats.underruns, 0);
    // The peer appears; the port looks for it every 25 ticks.
    let mut peer_w = ShmWriter::create(&inp, RingConfig::frames(BLOCK, 64)).unwrap();
    let mut peer_r = ShmReader::open(&out).unwrap();
    for _ in 0..30 {
        pump.tick();
    }
    assert!(
        pump.port(id).map(|p| p.name()).unwrap().contains("to-peer"),
        "named after its ring"
    );
    // Now every peer frame is heard by the other participant, in order, and
    // the other participant's voice reaches the peer.
    // Connected, but the peer has not spoken: those ticks were underruns.
    let s0 = pump.stats().ports[0].stats;
    assert!(s0.underruns > 0 && s0.underruns < 30, "{s0:?}");
    let mut f = vec![0i16; BLOCK];
    while other.pop(&mut f) {}
    while peer_r.try_read_frame(&mut f).is_some() {}
    for n in 0..10u64 {
        peer_w.write_frame(n, 0, &frame_for(n));
        assert!(other.push(&[n as i16; BLOCK]));
        pump.tick();
        assert!(other.pop(&mut f));
        assert!(
            check_frame(n, &f),
            "tick {n}: the memory side hears the peer"
        );
        assert!(peer_r.try_read_frame(&mut f).is_some());
        assert!(
            f.iter().all(|&x| x == n as i16),
            "the peer hears the memory side"
        );
    }
    let s = pump.stats().ports[0].stats;
    assert_eq!((s.underruns, s.overruns), (s0.underruns, 0));
    // A tick without a peer frame is an underrun; a burst beyond the backlog
    // limit (4) is cut down to the newest 4, the rest counted as overruns.
    pump.tick();
    for n in 10..20u64 {
        peer_w.write_frame(n, 0, &frame_for(n));
    }
    pump.tick();
    while other.pop(&mut f) {}
    let s = pump.stats().ports[0].stats;
    assert_eq!((s.underruns, s.overruns), (s0.underruns + 1, 6));
    // The peer restarts: its old ring closes, a new one replaces it.
    drop(peer_w);
    pump.tick(); // consumes a backlog frame
    let mut peer_w = ShmWriter::create(&inp, RingConfig::frames(BLOCK, 64)).unwrap();
    for _ in 0..60 {
        pump.tick();
    }
    while other.pop(&mut f) {}
    peer_w.write_frame(99, 0, &frame_for(99));
    pump.tick();
    assert!(other.pop(&mut f));
    assert!(check_frame(99, &f), "heard from the restarted peer");
}
