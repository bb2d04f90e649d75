//! The shared-memory ring from C, with the system C compiler: the layout
//! `dahdi/include/dahdi_pump_ring.h` declares is the one the Rust writer and
//! reader use, and the C example `examples/c/ring_reader.c` reads a running
//! conference's frames: exactly what the naive reference mixer says the
//! participants' inputs make.
//!
//! The compiler is `$CC`, else `cc`; without one the tests fail and say what
//! to install.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dahdi::audio::mixer::reference;
use dahdi::audio::mixer::Role;
use dahdi::pump::shm::{
    BOM, HEADER_LEN, MAGIC, OFF_BLOCK, OFF_BOM, OFF_CLOSED, OFF_HEADER_LEN, OFF_MAGIC, OFF_PAYLOAD,
    OFF_PID, OFF_RATE, OFF_SLOT_COUNT, OFF_STRIDE, OFF_VERSION, OFF_WRITE_SEQ, SLOT_HEADER_LEN,
    SLOT_OFF_META, SLOT_OFF_SEQ, SLOT_OFF_TICK, VERSION,
};
use dahdi::pump::{
    MemoryPort, Port, PortError, PortStats, Pump, PumpConfig, RingConfig, ShmWriter, SoftClock,
    Stream,
};

const BLOCK: usize = 160;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles one C file against the ring header, warnings as errors.
fn compile_c(source: &Path, out: &Path) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let result = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I"])
        .arg(manifest_dir().join("include"))
        .arg(source)
        .arg("-o")
        .arg(out)
        .output();
    let output = match result {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run the C compiler `{cc}` ({e}): install one (Debian: apt-get install gcc) \
             or name it in $CC"
        ),
    };
    assert!(
        output.status.success(),
        "{cc} failed on {}:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run(program: &Path, args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(program)
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} exited with {}:\n{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn u32_at(bytes: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(bytes[off..off + 4].try_into().unwrap())
}

#[test]
fn the_c_header_declares_the_rust_layout() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("ring_layout");
    compile_c(&manifest_dir().join("tests/c/ring_layout.c"), &program);
    let printed = run(&program, &[]);
    let c: HashMap<&str, &str> = printed
        .lines()
        .map(|l| l.split_once(' ').expect("`name value`"))
        .collect();
    let num = |name: &str| -> u64 {
        c.get(name)
            .unwrap_or_else(|| panic!("{name} not printed"))
            .parse()
            .unwrap()
    };
    // `offset size` of a field.
    let field = |name: &str| -> (usize, usize) {
        let (o, s) = c[name].split_once(' ').unwrap();
        (o.parse().unwrap(), s.parse().unwrap())
    };

    assert_eq!(c["magic"].as_bytes(), MAGIC);
    assert_eq!(num("version"), u64::from(VERSION));
    assert_eq!(num("bom"), u64::from(BOM));
    assert_eq!(num("header_len"), HEADER_LEN as u64);
    assert_eq!(num("slot_header_len"), SLOT_HEADER_LEN as u64);
    assert_eq!(num("sizeof.dahdi_ring_header"), HEADER_LEN as u64);
    assert_eq!(num("sizeof.dahdi_ring_slot"), SLOT_HEADER_LEN as u64);
    let header = [
        ("magic", OFF_MAGIC, 8),
        ("version", OFF_VERSION, 4),
        ("header_len", OFF_HEADER_LEN, 4),
        ("slot_count", OFF_SLOT_COUNT, 4),
        ("slot_stride", OFF_STRIDE, 4),
        ("payload_capacity", OFF_PAYLOAD, 4),
        ("sample_rate", OFF_RATE, 4),
        ("samples_per_frame", OFF_BLOCK, 4),
        ("bom", OFF_BOM, 4),
        ("writer_pid", OFF_PID, 4),
        ("write_seq", OFF_WRITE_SEQ, 8),
        ("closed", OFF_CLOSED, 8),
    ];
    for (name, off, size) in header {
        assert_eq!(
            field(&format!("dahdi_ring_header.{name}")),
            (off, size),
            "header field {name}: (offset, size) in C vs Rust"
        );
    }
    for (name, off) in [
        ("seq", SLOT_OFF_SEQ),
        ("tick", SLOT_OFF_TICK),
        ("meta", SLOT_OFF_META),
    ] {
        assert_eq!(
            field(&format!("dahdi_ring_slot.{name}")),
            (off, 8),
            "slot field {name}"
        );
    }
    assert_eq!(num("dahdi_ring_slot.payload"), SLOT_HEADER_LEN as u64);

    // The tags name the same streams: port index 5 is the sixth port added.
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let mut ids = Vec::new();
    let mut endpoints = Vec::new();
    for _ in 0..6 {
        let (port, app) = MemoryPort::new(BLOCK, 4);
        ids.push(pump.add_port(port, Role::Both).unwrap());
        endpoints.push(app);
    }
    assert_eq!(ids[5].index(), 5);
    assert_eq!(num("tag.mix"), u64::from(Stream::Mix.tag()));
    assert_eq!(num("tag.input.5"), u64::from(Stream::Input(ids[5]).tag()));
    assert_eq!(num("tag.output.5"), u64::from(Stream::Output(ids[5]).tag()));

    // And a ring the Rust writer made holds its fields where C looks for them.
    let ring = dir.path().join("ring");
    let writer = ShmWriter::create(&ring, RingConfig::frames(BLOCK, 16)).unwrap();
    let bytes = std::fs::read(&ring).unwrap();
    let at = |name: &str| field(&format!("dahdi_ring_header.{name}")).0;
    assert_eq!(&bytes[at("magic")..at("magic") + 8], b"DAHDIRNG");
    assert_eq!(u32_at(&bytes, at("version")), 1);
    assert_eq!(u32_at(&bytes, at("bom")), 0x0102_0304);
    assert_eq!(u32_at(&bytes, at("slot_count")), 16);
    assert_eq!(u32_at(&bytes, at("samples_per_frame")), BLOCK as u32);
    assert_eq!(u32_at(&bytes, at("sample_rate")), 8000);
    assert_eq!(u32_at(&bytes, at("writer_pid")), std::process::id());
    drop(writer);
}

/// What participant `p` says in its `k`-th frame: sample 0 is `k` (so that a
/// printed frame says which it is), the others loud enough that three
/// talkers together clip.
fn voice(p: usize, k: u64) -> Vec<i16> {
    (0..BLOCK)
        .map(|i| {
            if i == 0 {
                k as i16
            } else {
                // A hash of (p, k, i), so that participants do not move together.
                let mut x = (p as u64) << 40 ^ k << 16 ^ i as u64;
                x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                x ^= x >> 31;
                (x % 30_001) as i16 - 15_000
            }
        })
        .collect()
}

/// A participant that says `voice(p, 0)`, `voice(p, 1)`, ... one frame a tick.
struct Voice {
    p: usize,
    k: u64,
}

impl Port for Voice {
    fn name(&self) -> String {
        format!("voice {}", self.p)
    }
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        frame.copy_from_slice(&voice(self.p, self.k));
        self.k += 1;
        Ok(())
    }
    fn write(&mut self, _: &[i16]) -> Result<(), PortError> {
        Ok(())
    }
    fn stats(&self) -> PortStats {
        PortStats::default()
    }
}

/// What a tick's records carry, as the C reader printed them.
#[derive(Default)]
struct Tick {
    mix: Option<Vec<i16>>,
    inputs: BTreeMap<usize, Vec<i16>>,
    outputs: BTreeMap<usize, Vec<i16>>,
}

#[test]
fn a_c_reader_hears_exactly_what_the_running_pump_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let reader = dir.path().join("ring_reader");
    compile_c(&manifest_dir().join("examples/c/ring_reader.c"), &reader);

    let roles = [Role::Both, Role::Both, Role::Talker, Role::Listener];
    let mut pump = Pump::new(PumpConfig {
        block_size: BLOCK,
        ..PumpConfig::default()
    })
    .unwrap();
    let ids: Vec<_> = roles
        .iter()
        .enumerate()
        .map(|(p, &role)| pump.add_port(Voice { p, k: 0 }, role).unwrap())
        .collect();
    let mut streams = vec![Stream::Mix];
    streams.extend(ids.iter().map(|&id| Stream::Input(id)));
    streams.extend(ids.iter().map(|&id| Stream::Output(id)));
    let per_tick = streams.len();
    let ring = dir.path().join("conference.ring");
    pump.add_ring(
        ShmWriter::create(&ring, RingConfig::frames(BLOCK, 4096)).unwrap(),
        &streams,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let stop_pump = stop.clone();
    let pump_thread = std::thread::spawn(move || {
        // 20 ms ticks, as on the real driver.
        let mut clock = SoftClock::for_block(BLOCK).unwrap();
        pump.run_until(&mut clock, &stop_pump).unwrap();
        pump
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ring.exists() {
        assert!(Instant::now() < deadline, "the pump made no ring");
        std::thread::sleep(Duration::from_millis(5));
    }

    // 40 ticks' worth of records (0.8 s), read while the pump runs.
    let ticks_wanted = 40;
    let count = (ticks_wanted * per_tick).to_string();
    let printed = run(&reader, &[ring.as_os_str(), count.as_ref()]);
    stop.store(true, Ordering::Relaxed);
    let pump = pump_thread.join().unwrap();
    assert!(pump.stats().ticks >= ticks_wanted as u64);

    let mut lines = printed.lines();
    let first: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(
        first,
        ["ring", "160", "4096", &std::process::id().to_string()],
        "ring line"
    );
    let index_of = |port: usize| ids.iter().position(|id| id.index() == port).unwrap();
    let mut ticks: BTreeMap<u64, Tick> = BTreeMap::new();
    let mut records = 0;
    let mut lost = None;
    let mut last_seq = None;
    for line in lines {
        let words: Vec<&str> = line.split(' ').collect();
        match words[0] {
            "record" => {
                let seq: u64 = words[1].parse().unwrap();
                if let Some(last) = last_seq {
                    assert_eq!(seq, last + 1, "records in sequence");
                }
                last_seq = Some(seq);
                let tick: u64 = words[2].parse().unwrap();
                let samples: Vec<i16> = words[5..].iter().map(|s| s.parse().unwrap()).collect();
                assert_eq!(samples.len(), BLOCK, "{line}");
                let port: usize = words[4].parse().unwrap();
                let t = ticks.entry(tick).or_default();
                match words[3] {
                    "mix" => t.mix = Some(samples),
                    "input" => {
                        t.inputs.insert(index_of(port), samples);
                    }
                    "output" => {
                        t.outputs.insert(index_of(port), samples);
                    }
                    kind => panic!("record of kind {kind}"),
                }
                records += 1;
            }
            "lost" => lost = Some(words[1].parse::<u64>().unwrap()),
            _ => panic!("unexpected line {line}"),
        }
    }
    assert_eq!(records, ticks_wanted * per_tick);
    assert_eq!(lost, Some(0), "the C reader lost records");

    // Every tick the reader saw whole (the first and last may be cut).
    let mut checked = 0;
    let mut clipped = false;
    for (tick, t) in &ticks {
        if t.mix.is_none() || t.inputs.len() < roles.len() || t.outputs.len() < roles.len() {
            continue;
        }
        // Sample 0 of a frame says which frame it is; every participant
        // reads one a tick, so all say the same.
        let k = t.inputs[&0][0] as u64;
        let said: Vec<Vec<i16>> = (0..roles.len()).map(|p| voice(p, k)).collect();
        for (p, frame) in &t.inputs {
            assert_eq!(frame, &said[*p], "tick {tick}: input of participant {p}");
        }
        let frames: Vec<(Role, &[i16])> = roles
            .iter()
            .zip(&said)
            .map(|(&r, f)| (r, f.as_slice()))
            .collect();
        let heard = reference::mix(&frames);
        for (p, frame) in &t.outputs {
            assert_eq!(frame, &heard[*p], "tick {tick}: what participant {p} heard");
        }
        // The mix: every talker's input, saturated once.
        let full: Vec<i16> = (0..BLOCK)
            .map(|s| {
                let sum: i32 = roles
                    .iter()
                    .zip(&said)
                    .filter(|(r, _)| r.talks())
                    .map(|(_, f)| i32::from(f[s]))
                    .sum();
                sum.clamp(i16::MIN.into(), i16::MAX.into()) as i16
            })
            .collect();
        assert_eq!(t.mix.as_ref().unwrap(), &full, "tick {tick}: the mix");
        clipped |= full.iter().any(|&s| s == i16::MAX || s == i16::MIN);
        checked += 1;
    }
    assert!(checked >= ticks_wanted - 2, "only {checked} whole ticks");
    assert!(clipped, "no tick clipped: the saturation went untested");
}
