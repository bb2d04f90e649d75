//! The pump with in-memory and file ports, on the host (no DAHDI needed):
//! what each participant hears against a naive mixer written here from the
//! engine's documented semantics, taps, late-tick accounting, WAV files
//! against Python's `wave` module.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dahdi::audio::mixer::Role;
use dahdi::pump::{
    FilePort, LentFrames, MemoryEndpoint, MemoryPort, Port, PortError, PortStats, Pump, PumpConfig,
    SoftClock, Stream, WavReader, WavWriter,
};

const BLOCK: usize = 160;

/// A deterministic generator (64-bit LCG, Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    /// A sample; one in eight is near full scale, so sums clip.
    fn sample(&mut self) -> i16 {
        let r = self.next();
        if r.is_multiple_of(8) {
            if r & 16 == 0 {
                32767 - ((r >> 8) % 100) as i16
            } else {
                -32768 + ((r >> 8) % 100) as i16
            }
        } else {
            ((r >> 8) % 8001) as i16 - 4000
        }
    }
}

/// What each participant hears, from the table in the engine's documentation:
/// T = the sum of every talking role's input (Talker, Both, Monitor); a Talker
/// hears nothing, Both hears T minus its own input, every other role hears T;
/// one saturation at the end.
fn naive_mix(roles: &[Role], inputs: &[Vec<i16>]) -> Vec<Vec<i16>> {
    let talks = |r: Role| matches!(r, Role::Talker | Role::Both | Role::Monitor);
    let len = inputs.first().map_or(BLOCK, Vec::len);
    (0..roles.len())
        .map(|me| {
            (0..len)
                .map(|s| {
                    if roles[me] == Role::Talker {
                        return 0;
                    }
                    let sum: i64 = (0..roles.len())
                        .filter(|&o| talks(roles[o]) && !(o == me && roles[me] == Role::Both))
                        .map(|o| i64::from(inputs[o][s]))
                        .sum();
                    sum.clamp(-32768, 32767) as i16
                })
                .collect()
        })
        .collect()
}

const ROLES: [Role; 5] = [
    Role::Both,
    Role::Talker,
    Role::Listener,
    Role::Muted,
    Role::Monitor,
];

#[test]
fn memory_conference_matches_the_naive_mixer_through_role_changes() {
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let mut rng = Lcg(7);
    let n = 37;
    let mut ids = Vec::new();
    let mut apps: Vec<MemoryEndpoint> = Vec::new();
    let mut roles = Vec::new();
    for i in 0..n {
        let (port, app) = MemoryPort::new(BLOCK, 4);
        let role = ROLES[i % ROLES.len()];
        ids.push(pump.add_port(port, role).unwrap());
        apps.push(app);
        roles.push(role);
    }
    for tick in 0..30 {
        if tick == 10 {
            // Everyone moves to the next role; the pump must follow at once.
            for (i, id) in ids.iter().enumerate() {
                roles[i] = ROLES[(i + 1) % ROLES.len()];
                pump.set_role(*id, roles[i]).unwrap();
            }
        }
        let inputs: Vec<Vec<i16>> = (0..n)
            .map(|_| (0..BLOCK).map(|_| rng.sample()).collect())
            .collect();
        for (app, frame) in apps.iter_mut().zip(&inputs) {
            assert!(app.push(frame));
        }
        pump.tick();
        let want = naive_mix(&roles, &inputs);
        let mut heard = vec![0i16; BLOCK];
        for (i, app) in apps.iter_mut().enumerate() {
            assert!(app.pop(&mut heard), "participant {i} got no frame");
            assert_eq!(
                heard, want[i],
                "tick {tick}, participant {i} ({:?})",
                roles[i]
            );
        }
    }
    let stats = pump.stats();
    assert_eq!(stats.ticks, 30);
    assert!(stats.clipped_ticks > 0, "the inputs were meant to clip");
    let t = stats.port_totals();
    assert_eq!(
        (t.frames_in, t.frames_out, t.underruns, t.overruns, t.drops),
        (30 * n as u64, 30 * n as u64, 0, 0, 0)
    );
}

/// A change made through the handle, as the pump reported applying it.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// Person, role, and the frames queued for it just before it joined (an
    /// index into the list of such batches).
    Join(usize, Role, usize),
    Leave(usize),
    Role(usize, Role),
}

/// Participants join, leave, change role and are muted at random, from this
/// thread, while the pump runs on its clock in another; every change's tick
/// comes back with its reply. Replaying the changes tick by tick over a model
/// of each memory port's queues, the naive mixer says what every participant
/// heard at every tick of every stay and what the mix was: a joiner hears the
/// mix of its first tick and nothing older, a leaver is heard by nobody from
/// the tick its removal holds.
#[test]
fn live_joins_leaves_and_role_changes_match_the_naive_mixer_tick_by_tick() {
    // 5 ms ticks, so that a few seconds hold hundreds of ticks.
    const BLK: usize = 40;
    const DEPTH: usize = 64;
    const PEOPLE: usize = 12;
    let mut pump = Pump::new(PumpConfig {
        block_size: BLK,
        ..PumpConfig::default()
    })
    .unwrap();
    let handle = pump.handle();
    let mix = handle.subscribe(&[Stream::Mix], 4096).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut clock = SoftClock::for_block(BLK).unwrap();
            pump.run_until(&mut clock, &stop).unwrap();
            pump
        })
    };

    let mut rng = Lcg(18);
    let mut outside: Vec<Option<Box<dyn Port>>> = Vec::new();
    let mut apps = Vec::new();
    for (port, app) in MemoryPort::bank(PEOPLE, BLK, DEPTH) {
        outside.push(Some(Box::new(port)));
        apps.push(app);
    }
    let mut ids = [None; PEOPLE];
    // The frames queued for a person before each join, and per person
    // everything it heard, popped after each stay.
    let mut batches_queued: Vec<Vec<Vec<i16>>> = Vec::new();
    let mut heard: Vec<Vec<Vec<i16>>> = vec![Vec::new(); PEOPLE];
    let mut changes: Vec<(u64, usize, Change)> = Vec::new();
    let mut seq = 0usize;
    let (mut joins, mut leaves, mut roles_changed) = (0, 0, 0);
    let t0 = std::time::Instant::now();
    let mut finishing = false;
    loop {
        finishing |= t0.elapsed() > Duration::from_millis(2500);
        // A burst of changes queued back to back, then their replies.
        let burst = if finishing {
            PEOPLE
        } else {
            1 + rng.next() as usize % 4
        };
        let mut adds = Vec::new();
        let mut removes = Vec::new();
        let mut sets = Vec::new();
        for _ in 0..burst {
            let k = rng.next() as usize % PEOPLE;
            let role = ROLES[rng.next() as usize % ROLES.len()];
            let leave = finishing || rng.next().is_multiple_of(3);
            if let Some(port) = outside[k].take().filter(|_| !finishing) {
                // Joining: fill its input queue first (the pump consumes one
                // frame per tick of its stay, then it underruns).
                let mut batch = Vec::new();
                while apps[k].input_room() > 0 {
                    let frame: Vec<i16> = (0..BLK).map(|_| rng.sample()).collect();
                    assert!(apps[k].push(&frame));
                    batch.push(frame);
                }
                batches_queued.push(batch);
                let b = batches_queued.len() - 1;
                adds.push((seq, k, role, b, handle.add_boxed(port, role).unwrap()));
            } else if let Some(id) = ids[k].filter(|_| leave) {
                ids[k] = None;
                removes.push((seq, k, handle.remove_port(id).unwrap()));
            } else if let Some(id) = ids[k] {
                sets.push((seq, k, role, handle.set_role(id, role).unwrap()));
            } else {
                continue;
            }
            seq += 1;
        }
        for (s, k, role, b, reply) in adds {
            let (tick, id) = reply.wait_with_tick().unwrap();
            ids[k] = Some(id.unwrap());
            changes.push((tick, s, Change::Join(k, role, b)));
            joins += 1;
        }
        for (s, k, reply) in removes {
            let (tick, port) = reply.wait_with_tick().unwrap();
            outside[k] = Some(port.unwrap());
            changes.push((tick, s, Change::Leave(k)));
            leaves += 1;
            let mut frame = vec![0i16; BLK];
            while apps[k].pop(&mut frame) {
                heard[k].push(frame.clone());
            }
        }
        for (s, k, role, reply) in sets {
            let (tick, done) = reply.wait_with_tick().unwrap();
            done.unwrap();
            changes.push((tick, s, Change::Role(k, role)));
            roles_changed += 1;
        }
        if finishing && ids.iter().all(Option::is_none) {
            break;
        }
        std::thread::sleep(Duration::from_micros(u64::from(rng.next() % 12_000)));
    }
    // A few ticks of an empty conference, then stop.
    std::thread::sleep(Duration::from_millis(30));
    stop.store(true, Ordering::Relaxed);
    let pump = runner.join().unwrap();
    assert!(
        joins > 40 && leaves > 40 && roles_changed > 40,
        "too few changes: {joins} joins, {leaves} leaves, {roles_changed} role changes"
    );

    // Replay, tick by tick, in the order the changes were made.
    changes.sort_by_key(|&(tick, s, _)| (tick, s));
    let mut present: Vec<Option<Role>> = vec![None; PEOPLE];
    // The model of each person's input queue: what it had left from earlier
    // stays, then what was queued before its latest join.
    let mut queued: Vec<VecDeque<Vec<i16>>> = vec![VecDeque::new(); PEOPLE];
    let mut expected: Vec<Vec<(u64, Vec<i16>)>> = vec![Vec::new(); PEOPLE];
    let mut expected_mix = Vec::new();
    let mut next = changes.iter().peekable();
    for tick in 0..pump.ticks() {
        while let Some((_, _, change)) = next.next_if(|&&(t, _, _)| t == tick) {
            match *change {
                Change::Join(k, role, b) => {
                    queued[k].extend(std::mem::take(&mut batches_queued[b]));
                    present[k] = Some(role);
                }
                Change::Role(k, role) => present[k] = Some(role),
                Change::Leave(k) => present[k] = None,
            }
        }
        let members: Vec<usize> = (0..PEOPLE).filter(|&k| present[k].is_some()).collect();
        let mut roles: Vec<Role> = members.iter().map(|&k| present[k].unwrap()).collect();
        let mut inputs: Vec<Vec<i16>> = members
            .iter()
            .map(|&k| queued[k].pop_front().unwrap_or_else(|| vec![0; BLK]))
            .collect();
        // The mix is what a silent listener hears.
        roles.push(Role::Listener);
        inputs.push(vec![0; BLK]);
        let mut out = naive_mix(&roles, &inputs);
        expected_mix.push(out.pop().unwrap());
        for (&k, frame) in members.iter().zip(out) {
            expected[k].push((tick, frame));
        }
    }
    assert!(next.next().is_none(), "changes after the last tick");
    for k in 0..PEOPLE {
        // Each stay's output queue holds DEPTH frames: the rest were dropped.
        // Split the expected frames into stays and keep each stay's first DEPTH.
        let mut kept: Vec<(u64, Vec<i16>)> = Vec::new();
        let mut stay_len = 0;
        for (i, (tick, frame)) in expected[k].iter().enumerate() {
            let new_stay = i == 0 || expected[k][i - 1].0 + 1 != *tick;
            stay_len = if new_stay { 1 } else { stay_len + 1 };
            if stay_len <= DEPTH {
                kept.push((*tick, frame.clone()));
            }
        }
        assert_eq!(heard[k].len(), kept.len(), "person {k}: frames heard");
        for (got, (tick, want)) in heard[k].iter().zip(&kept) {
            assert_eq!(got, want, "person {k} at tick {tick}");
        }
    }
    let mut batches = 0;
    while let Ok(batch) = mix.try_recv() {
        let tick = batch.tick() as usize;
        assert_eq!(
            batch.frame(0),
            &expected_mix[tick][..],
            "the mix at tick {tick}"
        );
        batches += 1;
    }
    assert_eq!(
        batches as u64,
        pump.ticks(),
        "the mix subscriber lost ticks"
    );
}

#[test]
fn ports_count_underruns_overruns_and_drops() {
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let (port, mut app) = MemoryPort::new(BLOCK, 2);
    let id = pump.add_port(port, Role::Both).unwrap();
    // Three pushes into a queue of two: one refused (overrun).
    assert!(app.push(&[1; BLOCK]));
    assert!(app.push(&[2; BLOCK]));
    assert!(!app.push(&[3; BLOCK]));
    // Four ticks: two frames, then two underruns; outputs are never popped, so
    // the last two of four are dropped.
    for _ in 0..4 {
        pump.tick();
    }
    let s = pump.stats();
    let p = &s.ports[0];
    assert_eq!(p.id, id);
    assert_eq!(
        p.stats,
        PortStats {
            frames_in: 2,
            frames_out: 2,
            underruns: 2,
            overruns: 1,
            drops: 2,
            events: 0,
            errors: 0,
            // A memory port adds no latency of its own to measure.
            ..PortStats::default()
        }
    );
}

/// A port whose input is its tick number in every sample, which stalls once.
struct Counter {
    n: i16,
    stall_at: i16,
    stall: Duration,
}

impl Port for Counter {
    fn name(&self) -> String {
        "counter".into()
    }
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        if self.n == self.stall_at {
            std::thread::sleep(self.stall);
        }
        frame.fill(self.n);
        self.n = self.n.wrapping_add(1);
        Ok(())
    }
    fn write(&mut self, _: &[i16]) -> Result<(), PortError> {
        Ok(())
    }
    fn stats(&self) -> PortStats {
        PortStats::default()
    }
}

#[test]
fn tap_batches_a_tick_per_message_and_counts_what_a_slow_subscriber_loses() {
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let a = pump
        .add_port(
            Counter {
                n: 0,
                stall_at: -1,
                stall: Duration::ZERO,
            },
            Role::Talker,
        )
        .unwrap();
    let (port, mut app) = MemoryPort::new(BLOCK, 4);
    let b = pump.add_port(port, Role::Listener).unwrap();
    let sub = pump.subscribe(&[Stream::Input(a), Stream::Mix, Stream::Output(b)], 3);
    for _ in 0..10 {
        pump.tick();
        let mut f = [0i16; BLOCK];
        while app.pop(&mut f) {}
    }
    // Three buffers: ticks 0..3 were sent, the seven after were lost.
    assert_eq!(sub.ticks_dropped(), 7);
    assert_eq!(sub.frames_dropped(), 21);
    for t in 0..3u64 {
        let batch = sub.try_recv().expect("a batch per tick");
        assert_eq!(batch.tick(), t);
        assert_eq!(batch.ticks_lost_before(), 0);
        assert_eq!(
            batch.streams(),
            &[Stream::Input(a), Stream::Mix, Stream::Output(b)]
        );
        // The counter talks t, alone: its input, the mix and the listener's
        // output are all t.
        for i in 0..3 {
            assert!(
                batch.frame(i).iter().all(|&x| x == t as i16),
                "tick {t} stream {i}"
            );
        }
    } // each batch returns its buffer here
    assert!(
        sub.try_recv().is_err(),
        "one message per tick, nothing else"
    );
    pump.tick();
    let batch = sub.try_recv().unwrap();
    assert_eq!(batch.tick(), 10);
    assert_eq!(batch.ticks_lost_before(), 7);
    assert!(batch.frame(1).iter().all(|&x| x == 10));
    let report = &pump.stats().taps[0];
    assert_eq!((report.frames_sent, report.frames_dropped), (12, 21));
}

#[test]
fn a_subscriber_that_never_reads_costs_the_pump_nothing_but_its_own_drops() {
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let mut apps = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..8 {
        let (port, app) = MemoryPort::new(BLOCK, 4);
        ids.push(pump.add_port(port, Role::Both).unwrap());
        apps.push(app);
    }
    let streams: Vec<Stream> = ids.iter().map(|&i| Stream::Output(i)).collect();
    let stuck = pump.subscribe(&streams, 2);
    let live = pump.subscribe(&[Stream::Mix], 2);
    let ticks = 500u64;
    let mut f = [0i16; BLOCK];
    for t in 0..ticks {
        for app in &mut apps {
            assert!(app.push(&[t as i16; BLOCK]));
        }
        pump.tick();
        for app in &mut apps {
            assert!(app.pop(&mut f));
        }
        let b = live
            .try_recv()
            .expect("the live subscriber gets every tick");
        assert_eq!((b.tick(), b.ticks_lost_before()), (t, 0));
        assert_eq!(b.frame(0)[0], (8 * t as i64).clamp(-32768, 32767) as i16);
    }
    // The stuck subscriber holds the first two ticks, untouched; every later
    // tick was dropped for it alone.
    assert_eq!(stuck.ticks_dropped(), ticks - 2);
    assert_eq!(stuck.frames_dropped(), (ticks - 2) * 8);
    let first = stuck.try_recv().unwrap();
    assert_eq!(first.tick(), 0);
    let second = stuck.try_recv().unwrap();
    assert_eq!(second.tick(), 1);
    assert!(second.frame(3).iter().all(|&x| x == 7));
    let stats = pump.stats();
    assert_eq!(stats.ticks, ticks);
    let t = stats.port_totals();
    assert_eq!((t.underruns, t.overruns, t.drops), (0, 0, 0));
    assert_eq!(stats.taps[1].frames_dropped, 0);

    // Dropping the stuck subscriber releases it; the pump keeps going.
    drop((first, second, stuck));
    pump.tick();
    assert_eq!(pump.stats().taps.len(), 1, "a disconnected tap is removed");
}

#[test]
fn late_ticks_are_run_and_counted_and_a_long_stall_is_skipped_and_counted() {
    // 5 ms ticks; the port stalls 40 ms at its 10th read: at least 7 more
    // ticks fall due during the stall. With a catch-up limit of 3, three run
    // late and the rest are skipped; nothing disappears uncounted.
    let mut pump = Pump::new(PumpConfig {
        block_size: 40, // 5 ms
        max_catch_up: 3,
        ..PumpConfig::default()
    })
    .unwrap();
    let id = pump
        .add_port(
            Counter {
                n: 0,
                stall_at: 10,
                stall: Duration::from_millis(40),
            },
            Role::Both,
        )
        .unwrap();
    let sub = pump.subscribe(&[Stream::Input(id)], 64);
    let mut clock = SoftClock::for_block(40).unwrap();
    pump.run_for(&mut clock, 30).unwrap();
    let s = pump.stats();
    assert_eq!(s.ticks, 30);
    assert!(s.late_ticks >= 3, "{s}");
    assert!(s.skipped_ticks >= 7 - 3, "{s}");
    // Every tick that ran read exactly one frame: inputs 0..30 in order.
    let got: Vec<i16> = sub
        .try_iter_ticks()
        .map(|(t, f)| {
            assert_eq!(f as u64, t);
            f
        })
        .collect();
    assert_eq!(got, (0..30).collect::<Vec<i16>>());
    assert_eq!(s.period, Duration::from_millis(5));
    assert!(
        s.work_max >= Duration::from_millis(40),
        "the stall is in the work time"
    );
}

trait TickFrames {
    fn try_iter_ticks(&self) -> Box<dyn Iterator<Item = (u64, i16)> + '_>;
}

impl TickFrames for dahdi::pump::Subscriber {
    fn try_iter_ticks(&self) -> Box<dyn Iterator<Item = (u64, i16)> + '_> {
        Box::new(std::iter::from_fn(move || {
            self.try_recv().ok().map(|b| (b.tick(), b.frame(0)[0]))
        }))
    }
}

#[test]
fn a_clock_at_another_rate_than_the_blocks_is_refused() {
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let mut clock = SoftClock::for_block(320).unwrap();
    let e = pump.run_for(&mut clock, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the clock ticks every 40ms, but the pump's blocks last 20ms"
    );
    assert_eq!(pump.ticks(), 0);
}

#[test]
fn run_until_stops_on_the_flag() {
    // 2 ms ticks of 16 samples, so the test is quick.
    let mut pump = Pump::new(PumpConfig {
        block_size: 16,
        ..PumpConfig::default()
    })
    .unwrap();
    let (port, _app) = MemoryPort::new(16, 4);
    pump.add_port(port, Role::Both).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let h = std::thread::spawn(move || {
        let mut clock = SoftClock::for_block(16).unwrap();
        pump.run_until(&mut clock, &s2).unwrap();
        pump
    });
    std::thread::sleep(Duration::from_millis(60));
    stop.store(true, Ordering::Relaxed);
    let pump = h.join().unwrap();
    let s = pump.stats();
    assert!(s.ticks > 0, "{s}");
    // The application never pushed: every tick was an underrun, each counted.
    assert_eq!(s.ports[0].stats.underruns, s.ticks);
}

// ---- WAV, checked against Python's wave module -------------------------

fn python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed for the WAV cross-checks (scripts/install.sh installs it)");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn wav_writer_output_reads_back_in_python() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.wav");
    let samples: Vec<i16> = (0..1001)
        .map(|i| ((i * 37) % 65536 - 32768) as i16)
        .collect();
    {
        let mut w = WavWriter::create(&path).unwrap();
        w.write(&samples[..500]).unwrap();
        w.write(&samples[500..]).unwrap();
        w.finish().unwrap();
    }
    let got = python(
        "import sys, wave, struct\n\
         w = wave.open(sys.argv[1], 'rb')\n\
         print(w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes())\n\
         d = w.readframes(w.getnframes())\n\
         print(' '.join(str(x) for x in struct.unpack('<%dh' % (len(d) // 2), d)))\n",
        &[&path],
    );
    let mut lines = got.lines();
    assert_eq!(lines.next().unwrap(), "1 2 8000 1001");
    let read: Vec<i16> = lines
        .next()
        .unwrap()
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(read, samples);
}

#[test]
fn wav_reader_takes_python_files_with_extra_chunks_and_rejects_others() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = dir.path().join("p.wav");
    // Python writes the file; then a LIST chunk (odd length, padded) is
    // inserted before "data", which a reader must skip.
    python(
        "import sys, wave, struct\n\
         w = wave.open(sys.argv[1], 'wb')\n\
         w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)\n\
         w.writeframes(struct.pack('<5h', 1, -2, 300, -32768, 32767))\n\
         w.close()\n\
         b = open(sys.argv[1], 'rb').read()\n\
         i = b.index(b'data')\n\
         extra = b'LIST' + struct.pack('<I', 5) + b'abcde' + b'\\0'\n\
         b = b[:i] + extra + b[i:]\n\
         b = b[:4] + struct.pack('<I', len(b) - 8) + b[8:]\n\
         open(sys.argv[1], 'wb').write(b)\n",
        &[&pcm],
    );
    let mut r = WavReader::open(&pcm).unwrap();
    assert_eq!(r.len_samples(), 5);
    let mut buf = [0i16; 8];
    assert_eq!(r.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], &[1, -2, 300, -32768, 32767]);
    assert_eq!(r.read(&mut buf).unwrap(), 0);

    // Python writes 16-bit files in formats the pump does not take.
    let unsupported = |name: &str, channels: u32, rate: u32| {
        let path = dir.path().join(name);
        let (c, r) = (channels.to_string(), rate.to_string());
        python(
            "import sys, wave\n\
             w = wave.open(sys.argv[1], 'wb')\n\
             w.setnchannels(int(sys.argv[2])); w.setsampwidth(2)\n\
             w.setframerate(int(sys.argv[3]))\n\
             w.writeframes(bytes(8)); w.close()\n",
            &[&path, Path::new(&c), Path::new(&r)],
        );
        WavReader::open(&path).unwrap_err().to_string()
    };
    let e = unsupported("s.wav", 2, 8000);
    assert!(e.contains("2 channels") && e.contains("unsupported"), "{e}");
    let e = unsupported("r.wav", 1, 16000);
    assert!(e.contains("16000 Hz"), "{e}");
    let junk = dir.path().join("j.wav");
    std::fs::write(&junk, b"RIFX\0\0\0\0WAVE").unwrap();
    let e = WavReader::open(&junk).unwrap_err().to_string();
    assert!(e.contains("not a valid WAV file"), "{e}");
}

#[test]
fn file_ports_play_into_the_conference_and_record_what_they_hear() {
    let dir = tempfile::tempdir().unwrap();
    let voice = dir.path().join("voice.wav");
    let rec = dir.path().join("rec.wav");
    // 2.5 blocks of a ramp, written by Python: the last tick plays half a
    // block and then silence.
    let n = BLOCK * 5 / 2;
    let voice_samples: Vec<i16> = (0..n as i16).map(|i| i * 3 - 500).collect();
    python(
        "import sys, wave, struct\n\
         n = int(sys.argv[2])\n\
         w = wave.open(sys.argv[1], 'wb')\n\
         w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)\n\
         w.writeframes(struct.pack('<%dh' % n, *[i * 3 - 500 for i in range(n)]))\n\
         w.close()\n",
        &[&voice, Path::new(&n.to_string())],
    );
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    pump.add_port(FilePort::playback(&voice).unwrap(), Role::Talker)
        .unwrap();
    let (port, mut app) = MemoryPort::new(BLOCK, 8);
    pump.add_port(port, Role::Both).unwrap();
    let recorder = pump
        .add_port(FilePort::record(&rec).unwrap(), Role::Listener)
        .unwrap();
    let other: Vec<i16> = (0..BLOCK as i16).map(|i| 7 * i).collect();
    for _ in 0..4 {
        assert!(app.push(&other));
        pump.tick();
    }
    // Dropping the port finishes the recording's header.
    drop(pump.remove_port(recorder).unwrap());
    let mut want = Vec::new();
    for t in 0..4 {
        for (s, o) in other.iter().enumerate() {
            let v = voice_samples.get(t * BLOCK + s).copied().unwrap_or(0);
            want.push(v + o);
        }
    }
    let got = python(
        "import sys, wave, struct\n\
         w = wave.open(sys.argv[1], 'rb')\n\
         d = w.readframes(w.getnframes())\n\
         print(' '.join(str(x) for x in struct.unpack('<%dh' % (len(d) // 2), d)))\n",
        &[&rec],
    );
    let got: Vec<i16> = got.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert_eq!(got, want);
}

/// Memory ports lend their queue slots to the engine; other ports (and memory
/// ports whose frames are not one block) are copied. Both kinds mix together,
/// and taps see the lent frames.
#[test]
fn lent_and_copied_ports_mix_together_and_taps_see_lent_frames() {
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let counter = pump
        .add_port(
            Counter {
                n: 100,
                stall_at: -1,
                stall: Duration::ZERO,
            },
            Role::Talker,
        )
        .unwrap();
    let (port, mut lent_app) = MemoryPort::new(BLOCK, 4);
    let lent = pump.add_port(port, Role::Both).unwrap();
    // Half-block frames: this port cannot lend, so it is copied (and padded).
    let (port, mut short_app) = MemoryPort::new(BLOCK / 2, 4);
    let short = pump.add_port(port, Role::Both).unwrap();
    let sub = pump.subscribe(
        &[
            Stream::Input(lent),
            Stream::Output(lent),
            Stream::Input(short),
            Stream::Output(counter),
        ],
        4,
    );
    for t in 0..3i16 {
        let mine: Vec<i16> = (0..BLOCK as i16).map(|s| s * 10 + t).collect();
        assert!(lent_app.push(&mine));
        assert!(short_app.push(&[7; BLOCK / 2]));
        pump.tick();
        let mut heard = vec![0i16; BLOCK];
        assert!(lent_app.pop(&mut heard));
        // The counter talks 100 + t; the short port 7 in its first half only.
        let want: Vec<i16> = (0..BLOCK)
            .map(|s| 100 + t + if s < BLOCK / 2 { 7 } else { 0 })
            .collect();
        assert_eq!(heard, want, "tick {t}: the lent port hears the others");
        let mut half = vec![0i16; BLOCK / 2];
        assert!(short_app.pop(&mut half));
        let want_half: Vec<i16> = (0..BLOCK / 2).map(|s| 100 + t + mine[s]).collect();
        assert_eq!(
            half, want_half,
            "tick {t}: the copied port hears the lent one"
        );
        let batch = sub.try_recv().unwrap();
        assert_eq!(
            batch.frame(0),
            &mine[..],
            "the lent input, as the tap sees it"
        );
        assert_eq!(
            batch.frame(1),
            &want[..],
            "the lent output, as the tap sees it"
        );
        assert_eq!(batch.frame(2)[..BLOCK / 2], [7; BLOCK / 2]);
        assert!(batch.frame(2)[BLOCK / 2..].iter().all(|&x| x == 0));
        assert!(
            batch.frame(3).iter().all(|&x| x == 0),
            "a talker hears silence"
        );
    }
    let t = pump.stats().port_totals();
    assert_eq!((t.underruns, t.overruns, t.drops), (0, 0, 0));
}

/// A port that lends frames of the wrong size breaks the lending contract: the
/// pump does not use them (silence in, nothing out), counts an error on that
/// port, and the rest of the conference carries on.
struct BadLender {
    input: Vec<i16>,
    output: Vec<i16>,
    commits: Arc<AtomicUsize>,
}

impl Port for BadLender {
    fn name(&self) -> String {
        "bad lender".into()
    }
    fn read(&mut self, _: &mut [i16]) -> Result<(), PortError> {
        unreachable!("a lending port is not read")
    }
    fn write(&mut self, _: &[i16]) -> Result<(), PortError> {
        unreachable!("a lending port is not written")
    }
    fn stats(&self) -> PortStats {
        PortStats::default()
    }
    fn lends(&self, _: usize) -> bool {
        true
    }
    fn lend(&mut self) -> LentFrames<'_> {
        LentFrames {
            input: Some(&self.input),
            output: Some(&mut self.output),
        }
    }
    fn commit(&mut self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_port_lending_wrong_sized_frames_is_counted_and_ignored() {
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let commits = Arc::new(AtomicUsize::new(0));
    let bad = pump
        .add_port(
            BadLender {
                input: vec![9_999; BLOCK - 1],
                output: vec![0; BLOCK - 1],
                commits: commits.clone(),
            },
            Role::Both,
        )
        .unwrap();
    let (port, mut app) = MemoryPort::new(BLOCK, 4);
    pump.add_port(port, Role::Both).unwrap();
    for _ in 0..3 {
        assert!(app.push(&[5; BLOCK]));
        pump.tick();
        let mut heard = [1i16; BLOCK];
        assert!(app.pop(&mut heard));
        assert_eq!(heard, [0; BLOCK], "the bad port's frame is silence");
    }
    let report = pump.stats();
    let bad_report = report.ports.iter().find(|p| p.id == bad).unwrap();
    assert_eq!(bad_report.stats.errors, 3);
    assert!(bad_report.last_error.as_deref().unwrap().contains("159"));
    assert_eq!(
        commits.load(Ordering::Relaxed),
        0,
        "its frames were not used"
    );
}

/// What a [`Scripted`] port read and heard, tick by tick.
#[derive(Default)]
struct Script {
    /// The input it gave each tick (silence when its read failed).
    said: Vec<Vec<i16>>,
    /// Every frame written to it.
    heard: Vec<Vec<i16>>,
}

/// A port that does not lend (so the pump reads and writes it, and makes its
/// tapped streams in the taps' batches): random input from its own generator,
/// a failing read every `fail_every` ticks (after scribbling over the frame,
/// which the pump must replace by silence).
struct Scripted {
    rng: Lcg,
    fail_every: usize,
    script: Arc<std::sync::Mutex<Script>>,
}

impl Port for Scripted {
    fn name(&self) -> String {
        "scripted".into()
    }
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        let mut script = self.script.lock().unwrap();
        if (script.said.len() + 1).is_multiple_of(self.fail_every) {
            frame.fill(12345);
            script.said.push(vec![0; frame.len()]);
            return Err(std::io::Error::other("scripted read failure").into());
        }
        for s in frame.iter_mut() {
            *s = self.rng.sample();
        }
        script.said.push(frame.to_vec());
        Ok(())
    }
    fn write(&mut self, frame: &[i16]) -> Result<(), PortError> {
        self.script.lock().unwrap().heard.push(frame.to_vec());
        Ok(())
    }
    fn stats(&self) -> PortStats {
        PortStats::default()
    }
}

/// One tick of the model: every port's input, what everyone heard, the full
/// mix.
type Heard = (Vec<Vec<i16>>, Vec<Vec<i16>>, Vec<i16>);

/// Taps on ports that do not lend get their frames made in their batches, not
/// copied; this checks every frame every subscriber receives, and everything
/// every port hears, against the naive mixer, with lending and non-lending
/// ports, failing reads, streams tapped twice (in one tap and across taps), a
/// first tap that keeps losing ticks (so the second makes the shared frames),
/// a subscriber that goes away, role changes and a removed port.
#[test]
fn taps_made_in_place_match_the_naive_mixer() {
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let mut rng = Lcg(99);
    // Ports 0, 2, 4, ... are scripted (copy path), 1, 3, 5, ... memory (lent).
    let n = 12;
    let mut ids = Vec::new();
    let mut roles = Vec::new();
    let mut scripts = Vec::new();
    let mut apps = Vec::new();
    for i in 0..n {
        let role = ROLES[(i / 2) % ROLES.len()];
        if i % 2 == 0 {
            let script = Arc::new(std::sync::Mutex::new(Script::default()));
            let port = Scripted {
                rng: Lcg(1000 + i as u64),
                fail_every: 5 + i,
                script: script.clone(),
            };
            ids.push(pump.add_port(port, role).unwrap());
            scripts.push(Some(script));
            apps.push(None);
        } else {
            let (port, app) = MemoryPort::new(BLOCK, 4);
            ids.push(pump.add_port(port, role).unwrap());
            scripts.push(None);
            apps.push(Some(app));
        }
        roles.push(role);
    }
    let pick = |rng: &mut Lcg| {
        let p = ids[rng.next() as usize % n];
        match rng.next() % 5 {
            0 => Stream::Mix,
            1 | 2 => Stream::Input(p),
            _ => Stream::Output(p),
        }
    };
    let streams_of = |rng: &mut Lcg, k: usize| {
        let mut v: Vec<Stream> = (0..k).map(|_| pick(rng)).collect();
        v.push(v[0]); // the same stream twice in one tap
        v
    };
    let stalling_streams = streams_of(&mut rng, 14);
    // The live tap shares the stalling tap's streams and adds its own, and
    // watches every scripted port both ways.
    let mut live_streams = stalling_streams.clone();
    live_streams.extend(streams_of(&mut rng, 6));
    for i in (0..n).step_by(2) {
        live_streams.push(Stream::Input(ids[i]));
        live_streams.push(Stream::Output(ids[i]));
    }
    let leaving_streams = streams_of(&mut rng, 4);
    let stalling = pump.subscribe(&stalling_streams, 2);
    let live = pump.subscribe(&live_streams, 3);
    let mut leaving = Some(pump.subscribe(&leaving_streams, 3));

    // Per tick: every port's input, what everyone heard, the full mix.
    let mut history: Vec<Heard> = Vec::new();
    let mut removed = None;
    let mut stalled_batches = 0;
    let check =
        |batch: &dahdi::pump::TapBatch, history: &[Heard], removed: Option<(usize, u64)>| {
            let (inputs, outputs, mix) = &history[batch.tick() as usize];
            for (k, (s, frame)) in batch.frames().enumerate() {
                let index = |p: dahdi::pump::PortId| {
                    let i = ids.iter().position(|&id| id == p).unwrap();
                    // A removed port's streams are silence from then on.
                    match removed {
                        Some((r, at)) if r == i && batch.tick() >= at => None,
                        _ => Some(i),
                    }
                };
                let silence = vec![0i16; BLOCK];
                let want = match s {
                    Stream::Mix => mix,
                    Stream::Input(p) => index(p).map_or(&silence, |i| &inputs[i]),
                    Stream::Output(p) => index(p).map_or(&silence, |i| &outputs[i]),
                };
                assert_eq!(frame, &want[..], "tick {}, frame {k} ({s:?})", batch.tick());
            }
        };
    for tick in 0..60u64 {
        if tick == 20 {
            for (i, &id) in ids.iter().enumerate() {
                roles[i] = ROLES[(i / 2 + 1) % ROLES.len()];
                pump.set_role(id, roles[i]).unwrap();
            }
        }
        if tick == 30 {
            leaving = None;
        }
        if tick == 40 {
            // A scripted port leaves; its tapped streams become silence.
            pump.remove_port(ids[4]).unwrap();
            removed = Some((4, tick));
            roles[4] = Role::Muted; // (no input counted from now on)
        }
        let mut inputs = vec![vec![0i16; BLOCK]; n];
        for (i, app) in apps.iter_mut().enumerate() {
            if let Some(app) = app {
                // One frame in seven never comes: an underrun, silence.
                if !rng.next().is_multiple_of(7) {
                    inputs[i] = (0..BLOCK).map(|_| rng.sample()).collect();
                    assert!(app.push(&inputs[i]));
                }
            }
        }
        pump.tick();
        for (i, script) in scripts.iter().enumerate() {
            if let Some(script) = script {
                if removed.is_some_and(|(r, _)| r == i) {
                    continue;
                }
                inputs[i] = script.lock().unwrap().said.last().unwrap().clone();
            }
        }
        let mut active_roles = roles.clone();
        if let Some((r, _)) = removed {
            active_roles[r] = Role::Muted;
            inputs[r].fill(0);
        }
        let outputs = naive_mix(&active_roles, &inputs);
        let mix: Vec<i16> = (0..BLOCK)
            .map(|s| {
                let sum: i64 = (0..n)
                    .filter(|&o| {
                        matches!(active_roles[o], Role::Talker | Role::Both | Role::Monitor)
                    })
                    .map(|o| i64::from(inputs[o][s]))
                    .sum();
                sum.clamp(-32768, 32767) as i16
            })
            .collect();
        for i in 0..n {
            if removed.is_some_and(|(r, _)| r == i) {
                continue;
            }
            let heard = match (&scripts[i], &mut apps[i]) {
                (Some(script), _) => script.lock().unwrap().heard.last().unwrap().clone(),
                (None, Some(app)) => {
                    let mut f = vec![0i16; BLOCK];
                    assert!(app.pop(&mut f));
                    f
                }
                _ => unreachable!(),
            };
            assert_eq!(heard, outputs[i], "tick {tick}: port {i} ({:?})", roles[i]);
        }
        history.push((inputs, outputs, mix));

        let batch = live.try_recv().expect("the live tap gets every tick");
        assert_eq!(batch.tick(), tick);
        check(&batch, &history, removed);
        // The stalling tap reads two ticks in every seven, so it holds both of
        // its buffers most of the time and loses ticks.
        if tick % 7 >= 5 {
            while let Ok(batch) = stalling.try_recv() {
                check(&batch, &history, removed);
                stalled_batches += 1;
            }
        }
        if let Some(leaving) = &leaving {
            if tick % 2 == 1 {
                while let Ok(batch) = leaving.try_recv() {
                    check(&batch, &history, removed);
                }
            }
        }
    }
    assert!(stalled_batches > 0 && stalling.ticks_dropped() > 20);
    assert_eq!(live.ticks_dropped(), 0);
    assert_eq!(pump.stats().taps.len(), 2, "the tap that left is gone");
}

/// One participant of [`banked_ports_are_lent_by_group_through_removals`] and
/// the model of its output queue.
struct Member {
    id: dahdi::pump::PortId,
    role: Role,
    side: Side,
}

enum Side {
    /// A memory port of a bank: its endpoint, the frames the model says its
    /// output queue holds, and the drops and underruns the model counted.
    Banked {
        app: MemoryEndpoint,
        queue: std::collections::VecDeque<Vec<i16>>,
        drops: u64,
        underruns: u64,
    },
    /// A port that does not lend.
    Loose(Arc<std::sync::Mutex<Script>>),
    /// Removed from the pump.
    Gone,
}

/// The ports of a bank are lent and committed by their group, in one pass per
/// tick, not one by one. This checks everything each participant hears, every
/// tap frame and every counter against the naive mixer and a model of the
/// queues, with two banks whose ports are interleaved with each other and with
/// a port that does not lend, underruns, an application that stops popping (so
/// its queue fills and drops), a banked port removed and its slot reused by a
/// port that does not lend, and a whole bank removed, dropped, and its slots
/// reused by a new bank.
#[test]
fn banked_ports_are_lent_by_group_through_removals() {
    const DEPTH: usize = 2;
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let mut rng = Lcg(4242);
    let mut members: Vec<Member> = Vec::new();
    let add = |pump: &mut Pump, members: &mut Vec<Member>, port: Box<dyn Port>, side| {
        let role = ROLES[members.len() % ROLES.len()];
        let id = pump.add_boxed(port, role).unwrap();
        members.push(Member { id, role, side });
    };
    let banked = |(port, app): (MemoryPort, MemoryEndpoint)| {
        let side = Side::Banked {
            app,
            queue: Default::default(),
            drops: 0,
            underruns: 0,
        };
        (Box::new(port) as Box<dyn Port>, side)
    };
    let loose = |seed: u64| {
        let script = Arc::new(std::sync::Mutex::new(Script::default()));
        let port = Scripted {
            rng: Lcg(seed),
            fail_every: 1000,
            script: script.clone(),
        };
        (Box::new(port) as Box<dyn Port>, Side::Loose(script))
    };
    let mut a = MemoryPort::bank(5, BLOCK, DEPTH).into_iter();
    let mut b = MemoryPort::bank(3, BLOCK, DEPTH).into_iter();
    // Rows: A0 L B0 A1 B1 A2 B2 A3 A4.
    for k in 0..9 {
        let (port, side) = match k {
            1 => loose(1),
            2 | 4 | 6 => banked(b.next().unwrap()),
            _ => banked(a.next().unwrap()),
        };
        add(&mut pump, &mut members, port, side);
    }
    let watched: Vec<Stream> = vec![
        Stream::Mix,
        Stream::Input(members[0].id),
        Stream::Output(members[0].id),
        Stream::Output(members[4].id),
        Stream::Input(members[6].id),
        Stream::Output(members[3].id),
    ];
    let tap = pump.subscribe(&watched, 64);
    let silence = vec![0i16; BLOCK];

    for tick in 0..40u64 {
        match tick {
            15 => {
                // A1 leaves; a port that does not lend takes its slot, which
                // must not see A1's frames.
                let gone = members[3].id;
                pump.remove_port(gone).unwrap();
                members[3].side = Side::Gone;
                let (port, side) = loose(2);
                add(&mut pump, &mut members, port, side);
                assert_eq!(members.last().unwrap().id.index(), gone.index());
            }
            25 => {
                // Bank B leaves and its memory is freed; bank C takes its slots.
                for i in [2, 4, 6] {
                    pump.remove_port(members[i].id).unwrap();
                    members[i].side = Side::Gone;
                }
                for (port, side) in MemoryPort::bank(3, BLOCK, DEPTH).into_iter().map(banked) {
                    add(&mut pump, &mut members, port, side);
                }
            }
            _ => {}
        }
        let n = members.len();
        let mut inputs = vec![vec![0i16; BLOCK]; n];
        for (m, input) in members.iter_mut().zip(&mut inputs) {
            if let Side::Banked { app, underruns, .. } = &mut m.side {
                if rng.next().is_multiple_of(6) {
                    *underruns += 1;
                } else {
                    *input = (0..BLOCK).map(|_| rng.sample()).collect();
                    assert!(app.push(input));
                }
            }
        }
        pump.tick();
        for (m, input) in members.iter().zip(&mut inputs) {
            if let Side::Loose(script) = &m.side {
                *input = script.lock().unwrap().said.last().unwrap().clone();
            }
        }
        let roles: Vec<Role> = members
            .iter()
            .map(|m| match m.side {
                Side::Gone => Role::Muted,
                _ => m.role,
            })
            .collect();
        let heard = naive_mix(&roles, &inputs);
        // The full mix: what one more, purely listening, participant hears.
        let mix = {
            let (mut all, mut ins) = (roles.clone(), inputs.clone());
            all.push(Role::Listener);
            ins.push(silence.clone());
            naive_mix(&all, &ins).pop().unwrap()
        };
        for (i, m) in members.iter_mut().enumerate() {
            match &mut m.side {
                Side::Banked {
                    app, queue, drops, ..
                } => {
                    if queue.len() < DEPTH {
                        queue.push_back(heard[i].clone());
                    } else {
                        *drops += 1;
                    }
                    // Member 5 (A2) stops collecting for a while.
                    if i == 5 && (5..12).contains(&tick) {
                        continue;
                    }
                    let mut f = vec![0i16; BLOCK];
                    assert!(app.pop(&mut f), "tick {tick}: member {i} has a frame");
                    assert_eq!(Some(f), queue.pop_front(), "tick {tick}: member {i}");
                }
                Side::Loose(script) => {
                    let got = script.lock().unwrap().heard.last().unwrap().clone();
                    assert_eq!(got, heard[i], "tick {tick}: member {i} (loose)");
                }
                Side::Gone => {}
            }
        }
        let batch = tap.try_recv().expect("a batch every tick");
        for (k, (s, frame)) in batch.frames().enumerate() {
            let of = |p: dahdi::pump::PortId, what: &Vec<Vec<i16>>| {
                let i = members.iter().position(|m| m.id == p).unwrap();
                match members[i].side {
                    Side::Gone => silence.clone(),
                    _ => what[i].clone(),
                }
            };
            let want = match s {
                Stream::Mix => mix.clone(),
                Stream::Input(p) => of(p, &inputs),
                Stream::Output(p) => of(p, &heard),
            };
            assert_eq!(frame, &want[..], "tick {tick}: tap frame {k} ({s:?})");
        }
    }
    let report = pump.stats();
    for m in &members {
        if let Side::Banked {
            drops, underruns, ..
        } = &m.side
        {
            let r = report.ports.iter().find(|r| r.id == m.id).unwrap();
            assert_eq!((r.stats.drops, r.stats.underruns), (*drops, *underruns));
            assert_eq!(r.stats.overruns, 0);
        }
    }
    let dropped = match &members[5].side {
        Side::Banked { drops, .. } => *drops,
        _ => unreachable!(),
    };
    assert!(dropped >= 5, "A2's queue filled and dropped ({dropped})");
}

/// What a [`PrimingPort`] was asked, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Start,
    Align,
    Read,
    Write,
}

/// A port whose source is paced elsewhere (as a DAHDI channel's is): not
/// primed until it has been written `primed_after` times (one a tick), or
/// never. It logs every call the pump makes.
struct PrimingPort {
    primed_after: Option<usize>,
    writes: usize,
    log: Arc<std::sync::Mutex<Vec<Call>>>,
}

impl Port for PrimingPort {
    fn name(&self) -> String {
        "priming".into()
    }
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        self.log.lock().unwrap().push(Call::Read);
        frame.fill(1);
        Ok(())
    }
    fn write(&mut self, _frame: &[i16]) -> Result<(), PortError> {
        self.log.lock().unwrap().push(Call::Write);
        self.writes += 1;
        Ok(())
    }
    fn stats(&self) -> PortStats {
        PortStats::default()
    }
    fn start(&mut self) -> Result<(), PortError> {
        self.log.lock().unwrap().push(Call::Start);
        Ok(())
    }
    fn primed(&self) -> bool {
        self.primed_after.is_some_and(|n| self.writes >= n)
    }
    fn align(&mut self) {
        self.log.lock().unwrap().push(Call::Align);
    }
}

/// The calls a [`PrimingPort`] gets when it joins a running pump, from its
/// join until it has been written `ticks` times.
fn calls_of_a_priming_join(
    primed_after: Option<usize>,
    max_priming: u64,
    ticks: usize,
) -> Vec<Call> {
    let mut pump = Pump::new(PumpConfig {
        block_size: 40,
        max_priming_ticks: max_priming,
        ..PumpConfig::default()
    })
    .unwrap();
    let handle = pump.handle();
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut clock = SoftClock::for_block(40).unwrap();
            pump.run_until(&mut clock, &stop).unwrap();
        })
    };
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let port = PrimingPort {
        primed_after,
        writes: 0,
        log: log.clone(),
    };
    // Applied at a tick boundary of the running pump (its first tick at the
    // earliest), so the port joins a running pump.
    let (_, id) = handle
        .add_port(port, Role::Both)
        .unwrap()
        .wait_timeout(Duration::from_secs(10))
        .unwrap();
    id.unwrap();
    while log
        .lock()
        .unwrap()
        .iter()
        .filter(|&&c| c == Call::Write)
        .count()
        < ticks
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    runner.join().unwrap();
    let mut calls = log.lock().unwrap().clone();
    let end = calls
        .iter()
        .enumerate()
        .filter(|(_, &c)| c == Call::Write)
        .nth(ticks - 1)
        .unwrap()
        .0;
    calls.truncate(end + 1);
    calls
}

/// A port that joins a running pump unprimed (a DAHDI channel whose queued
/// audio its start dropped) primes as at the start of a run: it is not read
/// until it is primed and one tick more, it is aligned once, just before that
/// tick, and from then on it is read every tick (it still hears the mix, written
/// to it, from its first tick). A port that never primes is read after
/// `max_priming_ticks` ticks, as at the start of a run.
#[test]
fn a_port_joining_a_running_pump_primes_before_it_is_read() {
    use Call::*;
    // Primed once written twice: silent at its join tick and the next (not
    // primed), aligned and still silent at the third (the tick in hand), read
    // from the fourth.
    assert_eq!(
        calls_of_a_priming_join(Some(2), 50, 5),
        [Start, Write, Write, Align, Write, Read, Write, Read, Write]
    );
    // Already primed when it joins: aligned at once and read at its first tick.
    assert_eq!(
        calls_of_a_priming_join(Some(0), 50, 2),
        [Start, Align, Read, Write, Read, Write]
    );
    // Never primed: two ticks of silence at most, then read anyway, never aligned.
    assert_eq!(
        calls_of_a_priming_join(None, 2, 4),
        [Start, Write, Write, Read, Write, Read, Write]
    );
}
