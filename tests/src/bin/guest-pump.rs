//! Guest suite "pump": the channel pump (`dahdi::pump`) on the real driver.
//!
//! N pseudo channels are pumped through one user-space conference, paced by
//! `/dev/dahdi/timer`. Each pump channel has a *far end*: a second pseudo
//! channel joined with it in a two-member kernel conference, played by a
//! "phones" thread that writes a known voice and records what it hears, as a
//! caller would. The test then checks, sample for sample:
//!
//! 1. what the pump read from each channel is exactly the phone's voice
//!    (delayed): the voices use only values that are outputs of DAHDI's mu-law
//!    decoder, which the kernel's companding (it stores audio as mu-law even
//!    in linear mode) reproduces exactly; test
//!    `kernel_round_trip_is_the_dahdi_g711_round_trip` checks that premise on
//!    the kernel itself;
//! 2. what the pump sent each channel is exactly the sum of every other
//!    channel's input that tick, saturated once (computed here, naively, from
//!    the inputs the pump reported);
//! 3. what each phone heard is exactly that output (delayed) after the
//!    kernel's mu-law round trip, computed with `dahdi::audio::g711`'s
//!    DAHDI-compatible tables;
//!
//! and that no port ever underran, overran or dropped a frame.
//! `pump_live_join_and_leave` does the same for a call whose members join and
//! leave through the pump's handle while it runs.
//! `pump_latency` runs small conferences with a few configurations, from the
//! least latency upward, and reports what the pump added (each port's
//! measured input wait and transmit prefill) beside the kernel's own
//! buffering, and whether each configuration lost anything.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use dahdi::audio::g711::Codec;
use dahdi::audio::mixer::Role;
use dahdi::pump::{
    DahdiClock, DahdiPort, DahdiPortConfig, Port, PortId, Pump, PumpConfig, PumpError, PumpStats,
    Removed, Reply, Stream, Subscriber,
};
use dahdi::{
    BufferInfo, BufferPolicy, ConfMode, Ctl, Event, Pseudo, ReadOutcome, Readiness, Tone, ToneZone,
    WriteOutcome,
};
use dahdi_tests::signal::BLOCK;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

const MU: Codec = Codec::DAHDI_ULAW;

/// The kernel's round trip of a linear sample: stored as mu-law, read back
/// decoded.
fn q(v: i16) -> i16 {
    MU.decode(MU.encode(v))
}

/// Codes whose decoded value is non-zero, survives the kernel's round trip
/// unchanged, and is at most 300 in magnitude: 99 of
/// them sum to at most 29,700, so neither the pump's mix nor the kernel's
/// two-member conference (voice + mix, or mix alone, plus the mu-law step of
/// at most 1024 up there) ever reaches 32,767 and saturates.
fn voice_codes() -> Vec<u8> {
    (0..=255u8)
        .filter(|&c| {
            let v = MU.decode(c);
            // q(v) == v: the kernel's companding gives the value back unchanged.
            v != 0 && v.unsigned_abs() <= 300 && q(v) == v
        })
        .collect()
}

/// Phone `j`'s voice at sample `n`: a pseudo-random pick of those codes
/// (splitmix64 of (j, n)), decoded.
fn voice(codes: &[u8], j: usize, n: usize) -> i16 {
    let mut z = ((j as u64) << 40 ^ n as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    MU.decode(codes[(z % codes.len() as u64) as usize])
}

fn set_linear_buffers(p: &mut Pseudo, bufs: usize, block: usize) {
    p.set_buffer_info(&BufferInfo {
        tx_policy: BufferPolicy::Immediate,
        num_bufs: bufs,
        buf_size: block,
    })
    .expect("DAHDI_SET_BUFINFO");
    p.set_linear(true).expect("DAHDI_SETLINEAR");
}

fn read_block(p: &mut Pseudo) -> Vec<i16> {
    let mut buf = vec![0i16; BLOCK];
    loop {
        match p.read_samples(&mut buf).expect("read") {
            ReadOutcome::Audio(n) => {
                assert_eq!(n, BLOCK);
                return buf;
            }
            ReadOutcome::Event(_) => continue,
        }
    }
}

fn write_block(p: &mut Pseudo, s: &[i16]) {
    loop {
        match p.write_samples(s).expect("write") {
            WriteOutcome::Written(n) => {
                assert_eq!(n, s.len());
                return;
            }
            WriteOutcome::Event(_) => continue,
        }
    }
}

/// The premise of the exactness checks, on the kernel itself: a value written
/// linear into one member of a two-member conference is read from the other
/// as `decode(encode(value))` with DAHDI's tables, and that round trip is
/// idempotent.
fn kernel_round_trip_is_the_dahdi_g711_round_trip() {
    let mut a = Pseudo::open().expect("open pseudo");
    let mut b = Pseudo::open().expect("open pseudo");
    // 32 buffers a side, 16 blocks (320 ms) written ahead: a stall of the emulated guest
    // on a loaded host neither drains the talker (which would put silence into the
    // stream) nor overruns the listener.
    set_linear_buffers(&mut a, 32, BLOCK);
    set_linear_buffers(&mut b, 32, BLOCK);
    let conf = a
        .create_conference(ConfMode::conference())
        .expect("conference");
    b.join_conference(conf, ConfMode::conference())
        .expect("join");
    // Every 16-bit value once would take 410 blocks; a stride of 7 covers
    // every mu-law segment and step with 9363 values, in 59 blocks.
    let values: Vec<i16> = (0..65536u32).step_by(7).map(|v| v as u16 as i16).collect();
    let mut sent = Vec::new();
    let mut got = Vec::new();
    let blocks = values.len().div_ceil(BLOCK);
    let mut padded = values.clone();
    padded.resize(blocks * BLOCK, 0);
    // Write 16 blocks ahead, then one per block read, until everything sent has come
    // back.
    let mut chunks = padded.chunks(BLOCK);
    for _ in 0..16 {
        let c = chunks.next().unwrap();
        write_block(&mut a, c);
        sent.extend_from_slice(c);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < sent.len() + 4 * BLOCK && Instant::now() < deadline {
        got.extend(read_block(&mut b));
        if let Some(c) = chunks.next() {
            write_block(&mut a, c);
            sent.extend_from_slice(c);
        }
    }
    a.leave_conference().ok();
    b.leave_conference().ok();
    // The stream starts with silence until the first block crosses; align
    // on the first sample whose round trip is non-zero.
    let first_sent = sent.iter().position(|&v| q(v) != 0).unwrap();
    let first_got = got.iter().position(|&v| v != 0).expect("heard something");
    let delay = first_got - first_sent;
    assert!(
        got.len() >= sent.len() + delay,
        "only {} samples came back",
        got.len()
    );
    let mut checked = 0;
    for (n, &v) in sent.iter().enumerate() {
        let heard = got[n + delay];
        assert_eq!(heard, q(v), "value {v} (sample {n}) read back as {heard}");
        checked += 1;
    }
    println!("{checked} samples crossed the kernel as DAHDI's mu-law round trip");
    // What crosses twice (the pump's output: into the pump's channel, then out
    // of the phone's) is changed only once. (Not every decoder output is
    // stable: code 0x00 decodes to -32124, which DAHDI's encoder, with its
    // zero trap, turns into 0x02.)
    for v in i16::MIN..=i16::MAX {
        assert_eq!(q(q(v)), q(v), "{v}: the round trip is not idempotent");
    }
}

/// A pump channel and its far end speaking a known voice continuously (in a
/// thread, blocking writes paced by the kernel), with a tone zone loaded so
/// the channel can dial; plus a second handle on the channel to dial through
/// while the port is in use (DAHDI keeps a channel's state per open file, which
/// a duplicated descriptor shares).
struct Dialling {
    port: DahdiPort,
    dialer: std::os::fd::OwnedFd,
    voice: Arc<Vec<i16>>,
    stop: Arc<AtomicBool>,
    speaker: thread::JoinHandle<()>,
}

/// `config.block` is the pump's and the far end's block, and the speaker's unit.
fn dialling_channel(config: &DahdiPortConfig) -> Dialling {
    // Loading a zone number that is already loaded fails; the two tests that
    // use it run in separate processes of the same kernel.
    let zone = ToneZone::new(7, "pumptest")
        .ring_cadence(&[200, 200])
        .tone(Tone::DialTone, -13.0, &[(350.0, 440.0, 1000)])
        .dtmf(-10.0);
    let ctl = Ctl::open().unwrap();
    if ctl.load_tone_zone(&zone).is_err() {
        ctl.free_tone_zone(7).unwrap();
        ctl.load_tone_zone(&zone).expect("load a tone zone");
    }
    let codes = voice_codes();
    let voice: Arc<Vec<i16>> = Arc::new((0..600 * BLOCK).map(|k| voice(&codes, 0, k)).collect());
    let (port, mut phone) = DahdiPort::with_far_end(config).unwrap();
    let block = config.block;
    let dialer = port.channel_fd().as_fd().try_clone_to_owned().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let speaker = {
        let (stop, voice) = (stop.clone(), voice.clone());
        thread::spawn(move || {
            for chunk in voice.chunks(block) {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                write_block(&mut phone, chunk);
            }
        })
    };
    Dialling {
        port,
        dialer,
        voice,
        stop,
        speaker,
    }
}

fn dial(fd: &std::os::fd::OwnedFd, digits: &[u8]) {
    let mut op = dahdi_sys::dahdi_dialoperation::zeroed();
    op.op = dahdi_sys::DAHDI_DIAL_OP_APPEND;
    dahdi_sys::dahdi_copy_string(&mut op.dialstr, digits);
    // SAFETY: a valid descriptor of a DAHDI channel and a filled-in struct.
    unsafe { dahdi_sys::dahdi_dial(fd.as_raw_fd(), &op) }.expect("DAHDI_DIAL");
}

/// What was read is the far end's voice without a gap or a shift, except
/// for one short stretch after `dialled_at` where the digit's tone was added
/// to it (the kernel compands the sum, so those samples are not compared).
fn assert_voice_intact(input: &[i16], voice: &[i16], dialled_at: usize) {
    // The far end may have started speaking before the port started
    // reading: find where in its voice the first non-silent block is.
    let d = input
        .iter()
        .position(|&v| v != 0)
        .expect("the far end was heard");
    let m = (0..voice.len() - BLOCK)
        .find(|&m| input[d..d + BLOCK] == voice[m..m + BLOCK])
        .expect("the far end's voice in what was read");
    let differs: Vec<usize> = (d..input.len())
        .filter(|&k| input[k] != voice[k - d + m])
        .collect();
    let (first, last) = (differs[0], *differs.last().unwrap());
    println!(
        "the digit changed samples {first}..={last} ({} of them)",
        differs.len()
    );
    assert!(
        first + 2 * BLOCK >= dialled_at,
        "voice changed before the dial: {first}"
    );
    assert!(
        last - first < 2000,
        "the voice differs from sample {first} to {last}: audio was lost or shifted"
    );
    assert!(
        input.len() - last > 20 * BLOCK,
        "too little voice after the event to judge"
    );
}

/// An event on a pump channel costs no audio: the channel, in a two-member
/// conference with a far end that speaks continuously, dials a DTMF digit
/// while the pump runs; when dialling completes the kernel queues
/// DIALCOMPLETE, which the port takes (on POLLPRI, or on a read refused with
/// ELAST) and passes on, and what the pump reads stays the far end's voice
/// around it, sample for sample.
///
/// The pump runs as the 100-channel test's does, so that a loaded host's stalls of the
/// emulated guest (seen: 460 ms) lose nothing: 80 ms blocks, the kernel's 32 buffers
/// (2.56 s), a real-time pump thread that catches up on every late tick.
fn a_dahdi_event_loses_no_audio() {
    const PUMP_BLOCK: usize = 640;
    let config = DahdiPortConfig {
        block: PUMP_BLOCK,
        kernel_buffers: 32,
        queue_frames: 64,
        tx_prefill: 2,
    };
    let Dialling {
        port,
        dialer,
        voice,
        stop,
        speaker,
    } = dialling_channel(&config);
    let events = port.events();
    let mut pump = Pump::new(PumpConfig {
        block_size: PUMP_BLOCK,
        max_catch_up: 50,
        ..PumpConfig::default()
    })
    .unwrap();
    let id = pump.add_port(port, Role::Talker).unwrap();
    let sub = pump.subscribe(&[Stream::Input(id)], 250);
    let runner = {
        let stop = stop.clone();
        thread::spawn(move || {
            realtime();
            let mut clock = DahdiClock::new(PUMP_BLOCK).unwrap();
            pump.run_until(&mut clock, &stop).unwrap();
            pump
        })
    };
    let mut input = Vec::new();
    let take = |ticks: usize, input: &mut Vec<i16>| {
        for _ in 0..ticks {
            let b = sub.recv_timeout(Duration::from_secs(5)).expect("a tick");
            input.extend_from_slice(b.frame(0));
        }
    };
    // 10 ticks (0.8 s) of voice, the dial, 15 more ticks (1.2 s).
    take(10, &mut input);
    dial(&dialer, b"T5");
    take(15, &mut input);
    stop.store(true, Ordering::Release);
    let pump = runner.join().unwrap();
    speaker.join().unwrap();
    let stats = pump.stats();
    println!("{stats}");
    let got: Vec<Event> = events.try_iter().collect();
    assert_eq!(
        got,
        vec![Event::DialComplete],
        "the port passed the event on"
    );
    let s = stats.ports[0].stats;
    assert_eq!((s.events, s.underruns, s.overruns), (1, 0, 0), "{s:?}");
    assert_voice_intact(&input, &voice, 10 * PUMP_BLOCK);
}

/// The ELAST path itself, without epoll (whose POLLPRI usually gets to the
/// event first): the port is read only when its channel polls readable
/// (POLLIN, which a pending event does not raise), so the read after
/// dialling completes is refused with ELAST; the port must take the event and
/// read the block after all.
///
/// The channels get the kernel's 32 buffers (640 ms of 20 ms blocks) rather than
/// the default 8 (160 ms), and the reader runs at real-time priority: a loaded
/// host stalls the emulated guest for longer than 160 ms, which drained the far
/// end's transmit queue and lost voice that this test must find intact.
fn a_read_refused_with_elast_is_repeated() {
    let Dialling {
        mut port,
        dialer,
        voice,
        stop,
        speaker,
    } = dialling_channel(&DahdiPortConfig {
        kernel_buffers: 32,
        queue_frames: 64,
        ..DahdiPortConfig::default()
    });
    realtime();
    let events = port.events();
    port.start().unwrap();
    let mut input = Vec::new();
    let mut frame = vec![0i16; BLOCK];
    for i in 0..100 {
        if i == 40 {
            dial(&dialer, b"T5");
        }
        let ready = port
            .channel_fd()
            .poll_readiness(Readiness::READ, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(ready.contains(Readiness::READ), "no block within 5 s");
        port.read(&mut frame).unwrap();
        input.extend_from_slice(&frame);
    }
    stop.store(true, Ordering::Release);
    speaker.join().unwrap();
    let got: Vec<Event> = events.try_iter().collect();
    assert_eq!(got, vec![Event::DialComplete], "the read took the event");
    let s = port.stats();
    assert_eq!((s.events, s.underruns, s.frames_in), (1, 0, 100), "{s:?}");
    assert_voice_intact(&input, &voice, 40 * BLOCK);
}

/// Samples per block on the phones' side. The far ends are test equipment,
/// not pump ports: with 100 ms blocks the phones thread makes one read and one
/// write per phone per 100 ms instead of per 20 ms, which matters under TCG
/// emulation, where every system call is slow and the CPU is shared with the
/// pump and with the kernel's 1 kHz processing of 200 pseudo channels.
const FAR_BLOCK: usize = 1024;

/// Far-end kernel buffers: 32 x 128 ms, the most the kernel takes (32 KiB per
/// direction, DAHDI_MAX_BUF_SPACE), so a phone may go unscheduled for seconds
/// without losing audio.
const FAR_BUFFERS: usize = 32;

/// One read from phone `j`: a block it heard, appended to `heard`, or an event
/// (skipped). False if it had nothing to read.
fn hear(phone: &mut Pseudo, j: usize, buf: &mut [i16], heard: &mut Vec<i16>) -> bool {
    match phone.read_samples(buf) {
        Ok(ReadOutcome::Audio(got)) => {
            assert_eq!(got, FAR_BLOCK, "a read is one block");
            heard.extend_from_slice(buf);
            true
        }
        Ok(ReadOutcome::Event(_)) => true,
        Err(e) if e.is_would_block() => false,
        Err(e) => panic!("phone {j} read: {e}"),
    }
}

/// What the phones thread produced.
struct Phones {
    heard: Vec<Vec<i16>>,
    /// Writes refused because the transmit queue was full (the steady state:
    /// each phone writes until refused).
    refused: u64,
    /// The longest the phones thread went between two looks at its channels:
    /// how long the emulated machine kept it from running.
    longest_gap: Duration,
}

/// Runs the pump thread (this one) at real-time priority, as a pump serving
/// live calls should run: under emulation the phones and the collector
/// would otherwise take the single CPU for long stretches.
fn realtime() {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: plain system call on this thread with a valid parameter block.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    assert_eq!(r, 0, "SCHED_FIFO: {}", std::io::Error::last_os_error());
}

/// The phones, on a thread of their own: each far end in `far` speaks
/// `voices[j]` and records what it hears, until `done` is set (and then
/// `tail` more).
///
/// Silent until the pump's first tick (`ticks_seen` above 0), then each keeps its
/// transmit queue full of its voice (32 blocks of 128 ms, 4 s ahead of the
/// kernel), writing until the kernel refuses (EAGAIN writes nothing; the
/// block is offered again later). A full queue is the most any phone can
/// lead by, and it needs no model of how the kernel moves the channel: a
/// phone paced by the wall clock overflowed (under emulation on a loaded
/// host DAHDI's core processed 10 s of audio in 12.3 s of wall time), and
/// one paced by what it had heard ran dry when the host stalled the guest.
/// Reads are driven by epoll, one read per readiness; a phone writes when
/// it has heard a block (the kernel moved its channel, so its queue has
/// room), and every phone is offered a write at least every 200 ms.
fn spawn_phones(
    mut far: Vec<Pseudo>,
    voices: Arc<Vec<Vec<i16>>>,
    voice_len: usize,
    ticks_seen: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    tail: Duration,
) -> thread::JoinHandle<Phones> {
    let n = far.len();
    thread::spawn(move || {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
        for (j, p) in far.iter().enumerate() {
            epoll
                .add(p.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, j as u64))
                .unwrap();
        }
        // The phones answer the kernel's clock, like the pump: real-time, below it.
        let param = libc::sched_param { sched_priority: 5 };
        // SAFETY: plain system call on this thread with a valid parameter block.
        let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
        assert_eq!(r, 0, "SCHED_FIFO: {}", std::io::Error::last_os_error());
        let mut events = vec![EpollEvent::empty(); n];
        let mut heard: Vec<Vec<i16>> = vec![Vec::with_capacity(voice_len); n];
        let mut spoken = vec![0usize; n];
        let mut speaking = false;
        let mut refused = 0u64;
        let mut buf = vec![0i16; FAR_BLOCK];
        let mut stop_at = None;
        let mut due = vec![false; n];
        let mut next_sweep = Instant::now();
        let mut last = Instant::now();
        let mut longest_gap = Duration::ZERO;
        loop {
            if !speaking && ticks_seen.load(Ordering::Acquire) > 0 {
                speaking = true;
            }
            if stop_at.is_none() && done.load(Ordering::Acquire) {
                // Keep listening: the last outputs are still on their way.
                stop_at = Some(Instant::now() + tail);
            }
            if stop_at.is_some_and(|t| Instant::now() >= t) {
                break;
            }
            let k = match epoll.wait(&mut events, EpollTimeout::from(20u16)) {
                Ok(k) => k,
                Err(nix::errno::Errno::EINTR) => 0,
                Err(e) => panic!("epoll_wait: {e}"),
            };
            let now = Instant::now();
            longest_gap = longest_gap.max(now - last);
            last = now;
            for ev in &events[..k] {
                let j = ev.data() as usize;
                hear(&mut far[j], j, &mut buf, &mut heard[j]);
                due[j] = true;
            }
            if !speaking {
                continue;
            }
            if now >= next_sweep {
                due.fill(true);
                next_sweep = now + Duration::from_millis(200);
            }
            for (j, p) in far.iter_mut().enumerate() {
                if !std::mem::take(&mut due[j]) {
                    continue;
                }
                // Until its queue refuses, a phone stays due.
                due[j] = true;
                // At most four blocks a look, so that filling every queue at the
                // start (3,200 writes, each a slow system call under emulation)
                // does not keep the thread from reading for seconds.
                let mut budget = 4;
                while budget > 0 && spoken[j] + FAR_BLOCK <= voice_len {
                    budget -= 1;
                    let chunk = &voices[j][spoken[j]..spoken[j] + FAR_BLOCK];
                    match p.write_samples(chunk) {
                        Ok(WriteOutcome::Written(k)) => {
                            assert_eq!(k, FAR_BLOCK);
                            spoken[j] += FAR_BLOCK;
                        }
                        Ok(WriteOutcome::Event(_)) => {}
                        Err(e) if e.is_would_block() => {
                            refused += 1;
                            due[j] = false;
                            break;
                        }
                        Err(e) => panic!("phone {j} write: {e}"),
                    }
                }
            }
        }
        Phones {
            heard,
            refused,
            longest_gap,
        }
    })
}

/// Every phone's voice for a run of `ticks` ticks of `block` samples,
/// computed before the clock starts (with a margin for the phones' full
/// transmit queues and for the phones going on after the last tick); and its
/// length.
fn phone_voices(n: usize, ticks: u64, block: usize) -> (Arc<Vec<Vec<i16>>>, usize) {
    let codes = voice_codes();
    let voice_len = (ticks as usize + 100) * block + (FAR_BUFFERS + 2) * FAR_BLOCK;
    let voices = (0..n)
        .map(|j| (0..voice_len).map(|k| voice(&codes, j, k)).collect())
        .collect();
    (Arc::new(voices), voice_len)
}

/// The pump's channels in the conference tests.
///
/// The emulated machine stalls now and then, for hundreds of
/// milliseconds when the host is busy; DAHDI's core timer then catches up
/// in one burst, and no user-space thread runs in between. So the pump's
/// channels get as many kernel buffers as there are (32), 28 of them
/// prefilled on the transmit side so that a burst does not drain them (the
/// pump writes one block a tick after the kernel took one, so at most 30
/// are ever queued), 64 queued frames on the receive side, and the pump
/// catches up to 50 late ticks (all of which the channels' buffers hold,
/// see [`stall_proof_pump_config`]) instead of skipping them. How long a
/// stall that survives is depends on the block: 28 blocks of 20 ms are
/// 560 ms, of 80 ms 2.24 s.
fn stall_proof_port_config(block: usize) -> DahdiPortConfig {
    DahdiPortConfig {
        block,
        kernel_buffers: 32,
        queue_frames: 64,
        tx_prefill: 28,
    }
}

/// The pump of the conference tests: `block`-sample ticks, room for `n`
/// ports, up to 50 late ticks caught up (see [`stall_proof_port_config`]).
fn stall_proof_pump_config(block: usize, n: usize) -> PumpConfig {
    PumpConfig {
        block_size: block,
        capacity: n,
        max_catch_up: 50,
        ..PumpConfig::default()
    }
}

/// A pump channel and its phone: the far end, in linear mode with
/// [`FAR_BUFFERS`] blocks of [`FAR_BLOCK`], non-blocking.
fn phone_pair(cfg: &DahdiPortConfig) -> (DahdiPort, Pseudo) {
    let (port, mut phone) = DahdiPort::with_far_end(cfg).expect("pseudo pair");
    set_linear_buffers(&mut phone, FAR_BUFFERS, FAR_BLOCK);
    phone.set_nonblocking(true).unwrap();
    (port, phone)
}

/// What one conference run ([`run_conference`]) produced: the pump's counters
/// and every stream, for the checks of [`ConferenceRun::faults`].
struct ConferenceRun {
    block: usize,
    ticks: u64,
    stats: PumpStats,
    /// Ticks the tap delivered.
    collected: u64,
    /// Per channel, what the pump read, every tick.
    inputs: Vec<Vec<i16>>,
    /// Per channel, what the pump sent, every tick.
    outputs: Vec<Vec<i16>>,
    /// Per phone, what it heard.
    heard: Vec<Vec<i16>>,
    voices: Arc<Vec<Vec<i16>>>,
    wall: Duration,
    busy: f64,
    phones_longest_gap: Duration,
    phones_refused: u64,
}

/// `n` channels with their phones in one conference, pumped for `ticks`
/// ticks of `port.block` samples by a pump configured as `pump_config`, on
/// `/dev/dahdi/timer`; the phones listen on for `tail` after the last tick.
/// Everything is closed again when it returns (the next run may need no other
/// conference open: see [`dahdi_tests::slots::leave_stale_sums`]).
fn run_conference(
    n: usize,
    ticks: u64,
    port: &DahdiPortConfig,
    pump_config: PumpConfig,
    tail: Duration,
) -> ConferenceRun {
    let block = port.block;
    assert_eq!(pump_config.block_size, block);
    let (voices, voice_len) = phone_voices(n, ticks, block);
    let mut pump = Pump::new(pump_config).unwrap();
    // Every kernel conference slot the far ends get (one each) first holds
    // an ended conference's sums, which the raw kernel would replay into the
    // first chunk a phone hears: the exactness checks then prove that
    // with_far_end hears none of them.
    dahdi_tests::slots::leave_stale_sums(n);
    let mut ids = Vec::new();
    let mut far = Vec::new();
    for _ in 0..n {
        let (p, phone) = phone_pair(port);
        ids.push(pump.add_port(p, Role::Both).unwrap());
        far.push(phone);
    }
    let streams: Vec<Stream> = ids
        .iter()
        .map(|&i| Stream::Input(i))
        .chain(ids.iter().map(|&i| Stream::Output(i)))
        .collect();
    // Five seconds of batches: the collector does not run at real-time
    // priority.
    let sub = pump.subscribe(&streams, 250);
    let ticks_seen = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));

    let phones = spawn_phones(
        far,
        voices.clone(),
        voice_len,
        ticks_seen.clone(),
        done.clone(),
        tail,
    );

    // The collector: every tick's inputs and outputs, from the tap.
    let collector = {
        let (done, ticks_seen) = (done.clone(), ticks_seen.clone());
        thread::spawn(move || {
            let mut inputs: Vec<Vec<i16>> = vec![Vec::new(); n];
            let mut outputs: Vec<Vec<i16>> = vec![Vec::new(); n];
            let mut next_tick = 0;
            loop {
                match sub.recv_timeout(Duration::from_millis(100)) {
                    Ok(b) => {
                        assert_eq!(b.tick(), next_tick, "the tap lost ticks");
                        next_tick += 1;
                        for j in 0..n {
                            inputs[j].extend_from_slice(b.frame(j));
                            outputs[j].extend_from_slice(b.frame(n + j));
                        }
                        ticks_seen.store(next_tick, Ordering::Release);
                    }
                    Err(_) if done.load(Ordering::Acquire) => break,
                    Err(_) => {}
                }
            }
            (inputs, outputs, next_tick)
        })
    };

    realtime();
    let mut clock = DahdiClock::new(block).expect("/dev/dahdi/timer");
    let cpu0 = cpu_times();
    let t0 = Instant::now();
    pump.run_for(&mut clock, ticks).expect("pump run");
    let wall = t0.elapsed();
    let cpu1 = cpu_times();
    done.store(true, Ordering::Release);
    let (inputs, outputs, collected) = collector.join().expect("collector");
    let Phones {
        heard,
        refused,
        longest_gap,
    } = phones.join().expect("phones");
    let stats = pump.stats();
    drop(pump);
    ConferenceRun {
        block,
        ticks,
        stats,
        collected,
        inputs,
        outputs,
        heard,
        voices,
        wall,
        busy: busy_percent(cpu0, cpu1),
        phones_longest_gap: longest_gap,
        phones_refused: refused,
    }
}

impl ConferenceRun {
    /// Everything the run lost or got wrong: the first problem each check
    /// found; empty when every counter is clean and every input, mix and
    /// heard sample exact.
    fn faults(&self) -> Vec<String> {
        let (block, ticks, stats) = (self.block, self.ticks, &self.stats);
        let mut faults = Vec::new();
        // ---- counters -------------------------------------------------
        if stats.ticks != ticks {
            faults.push(format!("{} ticks run of {ticks}", stats.ticks));
        }
        if self.collected != ticks {
            faults.push(format!(
                "the tap delivered {} ticks of {ticks}",
                self.collected
            ));
        }
        for p in &stats.ports {
            let s = &p.stats;
            if (s.underruns, s.overruns, s.drops, s.errors) != (0, 0, 0, 0)
                || (s.frames_in, s.frames_out) != (ticks, ticks)
            {
                faults.push(format!(
                    "port {} ({}): {s} {:?}",
                    p.id.index(),
                    p.name,
                    p.last_error
                ));
            }
        }
        if stats.taps[0].frames_dropped != 0 {
            faults.push(format!(
                "the tap dropped {} frames",
                stats.taps[0].frames_dropped
            ));
        }

        // ---- 1. the pump read each phone's voice, exactly ---------------
        let total = ticks as usize * block;
        'phones: for (j, r) in self.inputs.iter().enumerate() {
            if r.len() != total {
                faults.push(format!("input {j}: {} samples of {total}", r.len()));
                continue;
            }
            let Some(d) = r.iter().position(|&v| v != 0) else {
                faults.push(format!("nothing from phone {j}"));
                continue;
            };
            if d >= 50 * block {
                faults.push(format!("phone {j} first heard after {d} samples"));
            }
            for (k, &v) in r[d..].iter().enumerate() {
                if v != self.voices[j][k] {
                    faults.push(format!(
                        "phone {j}: sample {k} of its voice is {v}, not {}",
                        self.voices[j][k]
                    ));
                    continue 'phones;
                }
            }
        }

        // ---- 2. each output is the exact mix of the others' inputs ------
        if self
            .inputs
            .iter()
            .chain(&self.outputs)
            .all(|r| r.len() == total)
        {
            'mix: for s in 0..total {
                let sum: i64 = self.inputs.iter().map(|r| i64::from(r[s])).sum();
                for (i, o) in self.outputs.iter().enumerate() {
                    let want = (sum - i64::from(self.inputs[i][s])).clamp(-32768, 32767) as i16;
                    if o[s] != want {
                        faults.push(format!(
                            "tick {}, channel {i}, sample {}: output {}, mix {want}",
                            s / block,
                            s % block,
                            o[s]
                        ));
                        break 'mix;
                    }
                }
            }
        }

        // ---- 3. each phone heard its output, through mu-law, exactly ----
        'heard: for (i, (y, o)) in self.heard.iter().zip(&self.outputs).enumerate() {
            let qo: Vec<i16> = o.iter().map(|&v| q(v)).collect();
            let Some(a) = qo.iter().position(|&v| v != 0) else {
                faults.push(format!("channel {i}: a silent mix"));
                continue;
            };
            let Some(b) = y.iter().position(|&v| v != 0) else {
                faults.push(format!("phone {i} heard nothing"));
                continue;
            };
            if b < a {
                faults.push(format!("phone {i} heard sound before the pump made any"));
                continue;
            }
            let e = b - a;
            if y.len() < e + qo.len() {
                faults.push(format!(
                    "phone {i} heard {} samples, needs {}",
                    y.len(),
                    e + qo.len()
                ));
                continue;
            }
            for (k, &v) in qo.iter().enumerate() {
                if y[e + k] != v {
                    faults.push(format!(
                        "phone {i}: output sample {k} (tick {}) heard as {}, sent {v}",
                        k / block,
                        y[e + k]
                    ));
                    continue 'heard;
                }
            }
        }
        faults
    }
}

fn pump_conference(n: usize, seconds: u64, block: usize) {
    let ticks = seconds * 8000 / block as u64;
    // Keep listening after the last tick: the last outputs are still on their
    // way (28 blocks of the pump's transmit prefill, up to 2.24 s, then a
    // far-end block to fill), and the emulated machine may stall on the way.
    let run = run_conference(
        n,
        ticks,
        &stall_proof_port_config(block),
        stall_proof_pump_config(block, n),
        Duration::from_millis(5000),
    );
    let stats = &run.stats;
    println!("{stats}");
    println!(
        "{ticks} ticks in {:.2} s; the guest's CPUs were {:.0}% busy; the phones \
         thread waited at most {:?} between looks, writes refused by full \
         queues {}",
        run.wall.as_secs_f64(),
        run.busy,
        run.phones_longest_gap,
        run.phones_refused
    );
    let faults = run.faults();
    assert!(faults.is_empty(), "{faults:#?}");
    println!(
        "{n} channels x {ticks} ticks: inputs, mixes and what the phones heard all exact; \
         late ticks {}, work p99 {:?}",
        stats.late_ticks, stats.work_p99
    );
}

/// The guest's CPU time so far, all CPUs: (busy, total) in clock ticks, from
/// /proc/stat. How busy the guest was tells how close to its limit a run
/// came; under emulation the pump test is mostly CPU.
fn cpu_times() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let line = stat.lines().next().expect("the cpu line");
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().expect("a /proc/stat counter"))
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = v[3] + v[4];
    let total: u64 = v.iter().take(8).sum();
    (total - idle, total)
}

fn busy_percent(a: (u64, u64), b: (u64, u64)) -> f64 {
    100.0 * (b.0 - a.0) as f64 / (b.1 - a.1).max(1) as f64
}

/// A short run first: ten channels, two seconds, 20 ms ticks.
fn pump_10_channels_2_seconds() {
    pump_conference(10, 2, 160);
}

/// The test: one hundred channels, ten seconds, with 80 ms ticks.
/// Under TCG the guest's two CPUs are about three quarters busy with it (the
/// kernel's 1 kHz processing of 200 pseudo channels and 100 two-member
/// conferences, the pump's and the phones' system calls), and when the host
/// is loud the guest stalls now and then for longer than the kernel's 32
/// buffers of 20 ms (seen: 680 ms) or even of 40 ms (seen in CI with one
/// guest CPU: about 1.8 s), after which the kernel has dropped audio; 80 ms
/// blocks ride out 2.24 s (the transmit prefill), close to the 3 s after which
/// DAHDI's core timer gives up catching up anyway. Longer blocks also mean
/// fewer system calls a second, which under emulation is what the CPU goes to.
fn pump_100_channels_10_seconds() {
    pump_conference(100, 10, 640);
}

/// One configuration of [`pump_latency`]: the port's knobs, whether it is a
/// stall-proof one of the conference tests (run with their pump
/// configuration), and whether the test asserts that it lost nothing.
struct LatencyRow {
    port: DahdiPortConfig,
    stall_proof: bool,
    asserted: bool,
}

/// The configurations [`pump_latency`] measures, from least latency upward:
/// 5, 10 and 20 ms blocks with one block of transmit prefill (and two for 10
/// and 20 ms; 160/8/16/2 is `DahdiPortConfig::default()`), then the
/// conference tests' stall-proof configurations, with 20 ms blocks (as
/// `pump_10_channels_2_seconds`: it rides out stalls of 560 ms) and with 80
/// ms blocks (as `pump_100_channels_10_seconds`: 2.24 s). Eight kernel
/// buffers are enough for every low one (the transmit queue never holds more
/// than the prefill and two blocks) and cost no latency: the kernel hands a
/// block over as soon as it is full, and transmits only what the pump wrote.
///
/// Only the last is asserted to lose nothing: on a busy host the emulated
/// guest has stalled for over a second (63 ticks of 20 ms due at once, seen
/// with the host's load average at 12 on its 2 cores), which the others do
/// not survive and no real machine does to a real-time pump thread.
fn latency_rows() -> Vec<LatencyRow> {
    let low = |block, tx_prefill| LatencyRow {
        port: DahdiPortConfig {
            block,
            kernel_buffers: 8,
            queue_frames: 16,
            tx_prefill,
        },
        stall_proof: false,
        asserted: false,
    };
    let stall_proof = |block, asserted| LatencyRow {
        port: stall_proof_port_config(block),
        stall_proof: true,
        asserted,
    };
    vec![
        low(40, 1),
        low(80, 1),
        low(80, 2),
        low(160, 1),
        low(160, 2),
        stall_proof(160, false),
        stall_proof(640, true),
    ]
}

/// Phones in each of [`pump_latency`]'s conferences, and how long each runs.
const LATENCY_PHONES: usize = 4;
const LATENCY_SECONDS: u64 = 2;

fn ms_of(samples: usize) -> f64 {
    samples as f64 / 8.0
}

/// What the pump adds between a sample entering a DAHDI channel and the mix
/// leaving on another, on the real driver, for a few configurations: the
/// input wait each port measured (from the read of a block to the tick that
/// mixed it) and the transmit prefill it keeps, beside the kernel's own
/// buffering, and whether the configuration lost anything.
///
/// No figure is asserted against a time: the guest is emulated, and its
/// timing is the host's. What is asserted is that the measurements agree with
/// the configuration and with the counters (one wait per input frame, the
/// prefill written as configured, every tick accounted for), and, for the
/// configuration that survives the longest stall (see [`latency_rows`]),
/// that nothing was lost and every input, mix and heard sample is exact. The
/// others are reported, not asserted: under emulation the guest stalls now
/// and then for longer than their prefill or kernel buffers hold (hundreds
/// of milliseconds when the host is busy, over a second when it is very
/// busy), which on real hardware, with the pump at real-time priority, does
/// not happen; asserting them would make the test fail with the host's load,
/// not with the code.
fn pump_latency() {
    let n = LATENCY_PHONES;
    let mut table = Vec::new();
    for row in latency_rows() {
        let cfg = row.port;
        let block = cfg.block;
        let block_ms = ms_of(block);
        let ticks = LATENCY_SECONDS * 8000 / block as u64;
        let pump_config = if row.stall_proof {
            stall_proof_pump_config(block, n)
        } else {
            PumpConfig {
                block_size: block,
                capacity: n,
                ..PumpConfig::default()
            }
        };
        // The phones listen on for the prefill and a far-end block after the
        // last tick, with room for a stall (more where it is asserted).
        let margin = if row.asserted { 2000 } else { 1000 };
        let tail = Duration::from_millis(margin + (cfg.tx_prefill * block) as u64 / 8);
        let run = run_conference(n, ticks, &cfg, pump_config, tail);
        let stats = &run.stats;
        println!("---- {cfg:?}\n{stats}");

        // ---- the measurements agree with the configuration --------------
        assert_eq!(stats.ticks, ticks);
        assert_eq!(stats.ports.len(), n);
        for p in &stats.ports {
            let s = &p.stats;
            assert_eq!(
                s.frames_in + s.underruns,
                ticks,
                "{}: one read a tick: {s}",
                p.name
            );
            assert_eq!(
                s.frames_out + s.drops + s.errors,
                ticks,
                "{}: one write a tick: {s}",
                p.name
            );
            assert_eq!(
                s.input_waits, s.frames_in,
                "{}: one wait measured per input frame: {s}",
                p.name
            );
            assert!(
                s.input_wait_sum_ns <= s.input_waits * s.input_wait_max_ns,
                "{}: no wait above the longest: {s}",
                p.name
            );
            // The kernel had room for the whole prefill: it holds
            // `kernel_buffers` blocks, the prefill and one more.
            assert_eq!(
                s.tx_prefill, cfg.tx_prefill as u64,
                "{}: the transmit prefill written: {s}",
                p.name
            );
        }
        let t = stats.port_totals();
        assert_eq!(t.input_waits, t.frames_in, "the totals add up");

        let faults = run.faults();
        if row.asserted {
            assert!(faults.is_empty(), "{cfg:?} lost: {faults:#?}");
        }
        let lost = if faults.is_empty() {
            "nothing".to_string()
        } else {
            // The details go above the table; the row says how much.
            println!("lost with {cfg:?}:");
            for f in &faults {
                println!("  {f}");
            }
            format!(
                "underruns {}, overruns {}, drops {}; {} checks failed",
                t.underruns,
                t.overruns,
                t.drops,
                faults.len()
            )
        };
        let mean = t.input_wait_mean().as_secs_f64() * 1e3;
        let max = t.input_wait_max().as_secs_f64() * 1e3;
        let prefill_ms = cfg.tx_prefill as f64 * block_ms;
        table.push(format!(
            "{:>5} {:>6.0} {:>6} {:>7} | {:>6.2} {:>5.2} {:>7.2} {:>5.2} | {:>7} {:>6.0} | {:>7.2} | {:>6.0} {:>4} | {:>4} {:>3} {:>4} | {}",
            block,
            block_ms,
            cfg.kernel_buffers,
            cfg.tx_prefill,
            mean,
            mean / block_ms,
            max,
            max / block_ms,
            t.tx_prefill,
            prefill_ms,
            mean + prefill_ms,
            block_ms,
            1,
            stats.late_ticks,
            stats.max_due,
            stats.skipped_ticks,
            lost
        ));
    }
    println!(
        "\npump_latency: {n} DAHDI channels with phones, {LATENCY_SECONDS} s per configuration, \
         on /dev/dahdi/timer\n\
         block: samples and ms; kern: kernel buffers per direction; pre: transmit prefill \
         configured (blocks)\n\
         input wait: what the pump adds on input, from the read of a block (epoll said the \
         channel was readable) to the tick that mixed it, mean and max over every port and \
         block, in ms and blocks\n\
         prefill: what the pump adds on output, the blocks of silence the ports wrote ahead \
         of their first output (measured, every port the same) and their ms\n\
         pump: mean input wait + prefill, ms\n\
         kernel (not the pump's, counted apart): rx fill: a block is readable only once its \
         last sample arrived, so its first sample waited one block (ms); chunk: DAHDI moves \
         audio in 1 ms chunks, one on each side of the conference. The far ends (test \
         equipment, not a caller's path) add their own {FAR_BLOCK}-sample blocks ({} ms) and \
         transmit queues (up to {FAR_BUFFERS} blocks)\n\
         late/due/skip: late ticks, most ticks due at once (the longest stall, in ticks), \
         ticks skipped\n\
         {:>5} {:>6} {:>6} {:>7} | {:>6} {:>5} {:>7} {:>5} | {:>7} {:>6} | {:>7} | {:>6} {:>4} | {:>4} {:>3} {:>4} | lost\n{}",
        ms_of(FAR_BLOCK),
        "block",
        "ms",
        "kern",
        "pre",
        "in ms",
        "blk",
        "max ms",
        "blk",
        "prefill",
        "ms",
        "pump ms",
        "rx ms",
        "chk",
        "late",
        "due",
        "skip",
        table.join("\n")
    );
}

/// Who takes part in [`pump_live_join_and_leave`], by phone: which are in the
/// call when the pump starts, and the changes made while it runs, each made
/// once the tap has shown the tick given and the change before has taken
/// effect (and a joiner's own tap has started).
const LIVE_PHONES: usize = 6;
const LIVE_FROM_START: [usize; 3] = [0, 1, 2];
const LIVE_PLAN: [(u64, LiveChange); 5] = [
    (20, LiveChange::Join(3)),
    (35, LiveChange::Join(4)),
    (50, LiveChange::Leave(2)),
    // Joins after phone 2 left: may take the engine row phone 2 had, whose
    // streams the first tap still asks for (and must find silent).
    (65, LiveChange::Join(5)),
    (80, LiveChange::Leave(4)),
];
/// Ticks the pump runs after the last change took effect: the leaver's last
/// outputs reach its phone (28 blocks of transmit prefill) well before then.
const LIVE_TAIL_TICKS: u64 = 40;

#[derive(Clone, Copy, Debug)]
enum LiveChange {
    Join(usize),
    Leave(usize),
}

/// A tapped stream of the live test, by phone.
#[derive(Clone, Copy)]
enum Seen {
    Mix,
    Input(usize),
    Output(usize),
}

/// Every tapped frame of the live test, by tick (`None`: no tap had it).
struct Recorded {
    mix: Vec<Option<Vec<i16>>>,
    input: Vec<Vec<Option<Vec<i16>>>>,
    output: Vec<Vec<Option<Vec<i16>>>>,
}

impl Recorded {
    fn new(phones: usize) -> Recorded {
        Recorded {
            mix: Vec::new(),
            input: vec![Vec::new(); phones],
            output: vec![Vec::new(); phones],
        }
    }

    fn put(list: &mut Vec<Option<Vec<i16>>>, tick: usize, frame: &[i16]) {
        if list.len() <= tick {
            list.resize(tick + 1, None);
        }
        assert!(list[tick].is_none(), "tick {tick} tapped twice");
        list[tick] = Some(frame.to_vec());
    }

    fn record(&mut self, seen: &[Seen], b: &dahdi::pump::TapBatch) {
        let t = b.tick() as usize;
        for (k, s) in seen.iter().enumerate() {
            let list = match *s {
                Seen::Mix => &mut self.mix,
                Seen::Input(p) => &mut self.input[p],
                Seen::Output(p) => &mut self.output[p],
            };
            Self::put(list, t, b.frame(k));
        }
    }
}

/// One tap of the live test: what it asks for, and the next tick it owes.
struct LiveTap {
    seen: Vec<Seen>,
    sub: Subscriber,
    first: Option<u64>,
    next: u64,
}

impl LiveTap {
    /// Takes one batch: the tap never loses a tick, and goes on from where it
    /// started.
    fn take(&mut self, b: &dahdi::pump::TapBatch, rec: &mut Recorded) {
        assert_eq!(b.ticks_lost_before(), 0, "a tap lost ticks");
        if self.first.is_none() {
            self.first = Some(b.tick());
            self.next = b.tick();
        }
        assert_eq!(b.tick(), self.next, "a tap skipped a tick");
        self.next += 1;
        rec.record(&self.seen, b);
    }

    fn drain(&mut self, rec: &mut Recorded) {
        while let Ok(b) = self.sub.try_recv() {
            self.take(&b, rec);
        }
    }
}

/// A change sent through the handle, not yet complete.
enum InFlight {
    Join(usize, u64, Reply<Result<PortId, PumpError>>),
    Leave(usize, u64, Reply<Removed>),
    /// The joiner's tap has been asked for and has not delivered yet.
    TapStarting(usize),
}

/// The live conference on the real driver: DAHDI channels join and
/// leave a running pump through its [`PumpHandle`](dahdi::pump::PumpHandle),
/// from this thread, while the pump runs on a real-time thread of its own,
/// paced by `/dev/dahdi/timer`. Phones 0 and 1 are in the call from the start
/// and stay, 2 is there from the start and leaves, 3 joins and stays, 4 joins
/// and later leaves, 5 joins after 2 left. Every phone speaks from the first
/// tick on, joined or not, as a caller does while waiting to be bridged.
///
/// The ticks of the changes are the pump's own: each reply carries the first
/// tick that saw its change ([`Reply::try_get`]). With the membership those
/// ticks give, the test checks, as `pump_conference` does, sample for sample:
///
/// 1. what the pump read from each phone while it was a member is, after a
///    few silent samples, the phone's voice without a gap: for a joiner, the
///    silence is exactly the ticks in which it primed (its channel flushed as
///    it joined, then one tick in hand, as at the start of a run) and was not
///    read, and no port ever underran;
/// 2. every member's output is exactly the sum of the other members' inputs
///    that tick, the mix is the sum of every member's input, and the streams
///    of a port that is not (or no longer) a member are silent: nobody hears a
///    phone before its join or from the tick its leave took effect;
/// 3. each phone heard nothing but silence, then exactly its outputs from
///    its join to its leave (or the end), through mu-law, then silence: no
///    sample of an earlier conference or of the mix before its join (its
///    first sample heard is its join tick's mix), and nothing from the pump
///    after its last member tick.
///
/// A joiner's streams are tapped from a tap asked for once its id is known,
/// so a tick or two after its join; in those ticks its input is the tapped
/// mix less the other members' tapped inputs (check 1 then holds it to its
/// voice) and its output is not tapped (check 3 holds what its phone heard to
/// the sum of the others' inputs). One change is in flight at a time, so no
/// tick has two untapped members.
fn pump_live_join_and_leave() {
    let n = LIVE_PHONES;
    let most_ticks = LIVE_PLAN.last().unwrap().0 + 3 * LIVE_TAIL_TICKS;
    let (voices, voice_len) = phone_voices(n, most_ticks, BLOCK);
    let cfg = stall_proof_port_config(BLOCK);
    let mut pump = Pump::new(stall_proof_pump_config(BLOCK, n)).unwrap();
    let handle = pump.handle();
    // As in pump_conference: the far ends' kernel conferences get slots that
    // hold an ended conference's sums.
    dahdi_tests::slots::leave_stale_sums(n);
    let mut waiting = Vec::new();
    let mut far = Vec::new();
    for _ in 0..n {
        let (port, phone) = phone_pair(&cfg);
        waiting.push(Some(port));
        far.push(phone);
    }
    let mut ids: Vec<Option<PortId>> = vec![None; n];
    let mut joined: Vec<Option<u64>> = vec![None; n];
    let mut left: Vec<Option<u64>> = vec![None; n];
    for &p in &LIVE_FROM_START {
        let port = waiting[p].take().unwrap();
        ids[p] = Some(pump.add_port(port, Role::Both).unwrap());
        joined[p] = Some(0);
    }
    let mut seen = vec![Seen::Mix];
    let mut streams = vec![Stream::Mix];
    for &p in &LIVE_FROM_START {
        seen.extend([Seen::Input(p), Seen::Output(p)]);
        let id = ids[p].unwrap();
        streams.extend([Stream::Input(id), Stream::Output(id)]);
    }
    // Depth for the whole run: this thread does not run at real-time priority.
    let depth = most_ticks as usize + 10;
    let mut taps = vec![LiveTap {
        seen,
        sub: pump.subscribe(&streams, depth),
        first: None,
        next: 0,
    }];

    let ticks_seen = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // The phones listen on after the pump stops, as long as in pump_conference:
    // the last outputs are behind 28 blocks of transmit prefill.
    let phones = spawn_phones(
        far,
        voices.clone(),
        voice_len,
        ticks_seen.clone(),
        done.clone(),
        Duration::from_millis(5000),
    );
    let runner = {
        let stop = stop.clone();
        thread::spawn(move || {
            realtime();
            let mut clock = DahdiClock::new(BLOCK).expect("/dev/dahdi/timer");
            pump.run_until(&mut clock, &stop).expect("pump run");
            pump
        })
    };

    // ---- the call: changes made while the pump runs --------------------
    let mut rec = Recorded::new(n);
    let mut removed: Vec<(usize, Box<dyn Port>)> = Vec::new();
    let mut step = 0;
    let mut in_flight: Option<InFlight> = None;
    let mut stop_after: Option<u64> = None;
    loop {
        let b = taps[0]
            .sub
            .recv_timeout(Duration::from_secs(10))
            .expect("a tick within 10 s");
        taps[0].take(&b, &mut rec);
        drop(b);
        let now = taps[0].next;
        ticks_seen.store(now, Ordering::Release);
        for tap in &mut taps[1..] {
            tap.drain(&mut rec);
        }
        in_flight = match in_flight.take() {
            None if step < LIVE_PLAN.len() && now >= LIVE_PLAN[step].0 => {
                Some(match LIVE_PLAN[step].1 {
                    LiveChange::Join(p) => {
                        let port = waiting[p].take().expect("a phone joins once");
                        InFlight::Join(p, now, handle.add_port(port, Role::Both).unwrap())
                    }
                    LiveChange::Leave(p) => {
                        let id = ids[p].expect("a member leaves");
                        InFlight::Leave(p, now, handle.remove_port(id).unwrap())
                    }
                })
            }
            None => None,
            Some(InFlight::Join(p, sent, reply)) => match reply.try_get() {
                None => Some(InFlight::Join(p, sent, reply)),
                Some((tick, id)) => {
                    let id = id.expect("the pump took the port");
                    // The tap had shown ticks up to `sent - 1` when the join was
                    // sent: it cannot take effect before tick `sent`.
                    assert!(
                        tick >= sent,
                        "phone {p} joined at tick {tick}, sent at {sent}"
                    );
                    println!("tick {tick}: phone {p} joined as row {}", id.index());
                    ids[p] = Some(id);
                    joined[p] = Some(tick);
                    taps.push(LiveTap {
                        seen: vec![Seen::Input(p), Seen::Output(p)],
                        sub: handle
                            .subscribe(&[Stream::Input(id), Stream::Output(id)], depth)
                            .unwrap(),
                        first: None,
                        next: 0,
                    });
                    Some(InFlight::TapStarting(p))
                }
            },
            Some(InFlight::TapStarting(p)) => {
                if taps.last().unwrap().first.is_some() {
                    step += 1;
                    None
                } else {
                    Some(InFlight::TapStarting(p))
                }
            }
            Some(InFlight::Leave(p, sent, reply)) => match reply.try_get() {
                None => Some(InFlight::Leave(p, sent, reply)),
                Some((tick, port)) => {
                    assert!(
                        tick >= sent,
                        "phone {p} left at tick {tick}, sent at {sent}"
                    );
                    println!("tick {tick}: phone {p} left");
                    removed.push((p, port.expect("the pump gave the port back")));
                    left[p] = Some(tick);
                    step += 1;
                    None
                }
            },
        };
        if step == LIVE_PLAN.len() && stop_after.is_none() {
            let last = joined.iter().chain(&left).flatten().max().unwrap();
            stop_after = Some(last + LIVE_TAIL_TICKS);
        }
        if stop_after.is_some_and(|t| now >= t) {
            break;
        }
        assert!(
            now < most_ticks,
            "the changes took too long: step {step} at tick {now}"
        );
    }
    stop.store(true, Ordering::Release);
    let pump = runner.join().expect("pump thread");
    for tap in &mut taps {
        tap.drain(&mut rec);
    }
    done.store(true, Ordering::Release);
    let Phones {
        heard,
        refused,
        longest_gap,
    } = phones.join().expect("phones");
    let stats = pump.stats();
    println!("{stats}");
    println!(
        "the phones thread waited at most {longest_gap:?} between looks, writes refused by \
         full queues {refused}"
    );
    let ticks = stats.ticks;
    let total = ticks as usize;
    for (k, tap) in taps.iter().enumerate() {
        assert_eq!(tap.next, ticks, "tap {k} delivered every tick to the end");
    }
    assert_eq!(taps[0].first, Some(0));
    let window = |p: usize| -> (usize, usize) {
        let j = joined[p].expect("every phone joined") as usize;
        (j, left[p].map_or(total, |l| l as usize))
    };
    let member = |p: usize, t: usize| {
        let (j, l) = window(p);
        j <= t && t < l
    };

    // ---- counters -----------------------------------------------------
    let mut port_stats = vec![None; n];
    for r in &stats.ports {
        let p = ids
            .iter()
            .position(|&i| i == Some(r.id))
            .expect("a phone's port");
        assert!(
            left[p].is_none(),
            "phone {p} left, but its port is in the pump"
        );
        assert_eq!(r.last_error, None, "phone {p}");
        port_stats[p] = Some(r.stats);
    }
    for (p, port) in &removed {
        port_stats[*p] = Some(port.stats());
    }
    for (p, s) in port_stats.iter().enumerate() {
        let s = s.unwrap_or_else(|| panic!("phone {p}'s port neither in the pump nor back"));
        let (j, l) = window(p);
        assert_eq!(
            (s.overruns, s.drops, s.errors),
            (0, 0, 0),
            "phone {p}: {s:?}"
        );
        // Not one underrun, joiners included: a joiner primes first (and is
        // not read, which check 1 counts).
        assert_eq!(s.underruns, 0, "phone {p}: {s:?}");
        assert!(s.frames_in <= (l - j) as u64, "phone {p}: {s:?}");
        if j == 0 {
            assert_eq!(s.frames_in, (l - j) as u64, "phone {p}: {s:?}");
        }
        assert_eq!(s.frames_out, (l - j) as u64, "phone {p}: {s:?}");
        println!("phone {p}: member for ticks {j}..{l}, {s:?}");
    }

    // ---- the members' inputs, tapped or (just after a join) derived ----
    let mix: Vec<&Vec<i16>> = (0..total)
        .map(|t| rec.mix[t].as_ref().expect("the mix of every tick"))
        .collect();
    let mut input: Vec<Vec<Vec<i16>>> = vec![vec![Vec::new(); total]; n];
    let mut derived = 0;
    for t in 0..total {
        let members: Vec<usize> = (0..n).filter(|&p| member(p, t)).collect();
        let untapped: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&p| rec.input[p].get(t).is_none_or(Option::is_none))
            .collect();
        assert!(untapped.len() <= 1, "tick {t}: {untapped:?} not tapped");
        for &p in &members {
            if let Some(f) = rec.input[p].get(t).and_then(Option::as_ref) {
                input[p][t] = f.clone();
            }
        }
        if let [u] = untapped[..] {
            derived += 1;
            input[u][t] = (0..BLOCK)
                .map(|s| {
                    let others: i32 = members
                        .iter()
                        .filter(|&&p| p != u)
                        .map(|&p| i32::from(input[p][t][s]))
                        .sum();
                    i16::try_from(i32::from(mix[t][s]) - others).expect("an input sample")
                })
                .collect();
        }
    }

    // ---- 1. the pump read each member's voice, exactly -----------------
    for p in 0..n {
        let (j, l) = window(p);
        let r: Vec<i16> = input[p][j..l].concat();
        let d = r
            .iter()
            .position(|&v| v != 0)
            .unwrap_or_else(|| panic!("nothing from phone {p}"));
        let m = if j == 0 {
            // Silent until the first tick, as in pump_conference.
            0
        } else {
            // Speaking since the first tick: somewhere in its voice.
            (0..voice_len - BLOCK)
                .find(|&m| r[d..d + BLOCK] == voices[p][m..m + BLOCK])
                .unwrap_or_else(|| panic!("phone {p}'s voice is not what the pump read"))
        };
        if j == 0 {
            assert!(d < 50 * BLOCK, "phone {p} first heard after {d} samples");
        } else {
            // A joiner had been speaking all along: its only silence is the
            // ticks it primed, at least its join tick (its channel flushed)
            // and the tick in hand, in which the pump did not read it.
            let read = port_stats[p].map_or(0, |s| s.frames_in) as usize;
            assert_eq!(
                d,
                (l - j - read) * BLOCK,
                "phone {p}: silent samples after its join, {read} of its {} ticks read",
                l - j
            );
            assert!(
                (2..=10).contains(&(d / BLOCK)),
                "phone {p} primed for {} ticks",
                d / BLOCK
            );
        }
        for (k, &v) in r[d..].iter().enumerate() {
            assert_eq!(
                v,
                voices[p][m + k],
                "phone {p}: sample {k} of its voice from {m}"
            );
        }
        println!("phone {p}: the pump read its voice from sample {m} on, after {d} silent");
    }

    // ---- 2. each output is the exact mix of the other members ----------
    for t in 0..total {
        let members: Vec<usize> = (0..n).filter(|&p| member(p, t)).collect();
        for s in 0..BLOCK {
            let sum: i64 = members.iter().map(|&p| i64::from(input[p][t][s])).sum();
            assert_eq!(i64::from(mix[t][s]), sum, "tick {t}, sample {s}: the mix");
            for (p, own) in input.iter().enumerate() {
                let out = rec.output[p].get(t).and_then(Option::as_ref);
                let inp = rec.input[p].get(t).and_then(Option::as_ref);
                if member(p, t) {
                    if let Some(o) = out {
                        let want = sum - i64::from(own[t][s]);
                        assert_eq!(i64::from(o[s]), want, "tick {t}, phone {p}, sample {s}");
                    }
                } else {
                    for (what, f) in [("input", inp), ("output", out)] {
                        if let Some(f) = f {
                            assert_eq!(f[s], 0, "tick {t}: phone {p} not a member, its {what}");
                        }
                    }
                }
            }
        }
    }

    // ---- 3. each phone heard its outputs, then nothing -----------------
    for (p, y) in heard.iter().enumerate() {
        let (j, l) = window(p);
        let qo: Vec<i16> = (j..l)
            .flat_map(|t| {
                let own = &input[p][t];
                let others: Vec<i16> = match rec.output[p].get(t).and_then(Option::as_ref) {
                    Some(o) => o.clone(),
                    None => (0..BLOCK)
                        .map(|s| {
                            let sum: i32 = (0..n)
                                .filter(|&o| member(o, t))
                                .map(|o| i32::from(input[o][t][s]))
                                .sum();
                            (sum - i32::from(own[s])) as i16
                        })
                        .collect(),
                };
                others.into_iter().map(q)
            })
            .collect();
        let a = qo.iter().position(|&v| v != 0).expect("a non-silent mix");
        if j > 0 {
            // (Not necessarily its first sample: the others' sum may round
            // to silence through mu-law.)
            assert!(
                a < BLOCK,
                "phone {p} joined a call in progress: its first tick is silent"
            );
        }
        let b = y
            .iter()
            .position(|&v| v != 0)
            .unwrap_or_else(|| panic!("phone {p} heard nothing"));
        assert!(b >= a, "phone {p} heard sound before the pump made any");
        let e = b - a;
        let end = e + qo.len();
        assert!(
            y.len() >= end,
            "phone {p} heard {} samples, needs {end}",
            y.len()
        );
        for (k, &v) in qo.iter().enumerate() {
            assert_eq!(
                y[e + k],
                v,
                "phone {p}: output sample {k} (tick {})",
                j + k / BLOCK
            );
        }
        if let Some(k) = y[end..].iter().position(|&v| v != 0) {
            panic!(
                "phone {p} heard {} from the pump {k} samples after its last tick {}",
                y[end + k],
                l - 1
            );
        }
        println!(
            "phone {p}: heard {b} silent samples, its {} ticks exactly, then {} silent",
            l - j,
            y.len() - end
        );
        if left[p].is_some() {
            assert!(
                y.len() - end >= 8000,
                "phone {p}: too little heard after it left"
            );
        }
    }
    println!(
        "{n} phones x {ticks} ticks, joins and leaves through the handle: inputs \
         ({derived} ticks' joiner input from the mix), mixes and what the phones heard \
         all exact; late ticks {}",
        stats.late_ticks
    );
}

fn main() {
    dahdi_tests::guest::guest_main(dahdi_tests::guest_tests![
        kernel_round_trip_is_the_dahdi_g711_round_trip,
        a_dahdi_event_loses_no_audio,
        a_read_refused_with_elast_is_repeated,
        pump_10_channels_2_seconds,
        pump_100_channels_10_seconds,
        pump_live_join_and_leave,
        pump_latency,
    ]);
}
