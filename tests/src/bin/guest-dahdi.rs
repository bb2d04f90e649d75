//! Guest suite "dahdi": the safe `dahdi` crate on the real driver, with
//! `dahdi_dynamic` + `dahdi_dynamic_loc` (looped spans, no hardware),
//! `dahdi_echocan_mg2`, and dahdi-tools (dahdi_cfg, dahdi_scan) to
//! cross-check against. The module is loaded with auto_assign_spans=1.
//!
//! Tests run in order, each in its own process, sharing the kernel: every
//! test that creates spans, zones or conferences removes them again.
//! Expected values come from the kernel source (cited), from sysfs,
//! /proc/dahdi and dahdi-tools' output, never from this crate.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use dahdi::{
    Alarms, BufferInfo, BufferPolicy, ChanConfig, Channel, ChannelFd, ConfKind, ConfMode, Ctl,
    DialOp, DynamicSpan, EchoCanParams, ErrorKind, Event, Flush, Gains, Hook, IoMux, Law,
    LineConfig, Pseudo, ReadOutcome, Readiness, RingCadence, Signalling, SpanConfig, Sysfs, Timer,
    Tone, ToneZone, WriteOutcome,
};
use dahdi_sys as sys;

const BLOCK: usize = 160;
const PI: f64 = std::f64::consts::PI;

// ---- signal helpers --------------------------------------------------

fn tone(freq: f64, amp: f64, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / 8000.0).sin()).round() as i16)
        .collect()
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Amplitude of the `freq` component (Goertzel / DFT bin): a sine of
/// amplitude A over whole periods gives A.
fn amplitude_at(x: &[i16], freq: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &s) in x.iter().enumerate() {
        let w = 2.0 * PI * freq * i as f64 / 8000.0;
        re += s as f64 * w.cos();
        im -= s as f64 * w.sin();
    }
    2.0 * (re * re + im * im).sqrt() / x.len() as f64
}

/// 20 ms blocks, 4 buffers a direction, linear samples.
fn linear(c: &mut impl AsMut<ChannelFd>) {
    let c = c.as_mut();
    c.set_buffer_info(&BufferInfo {
        tx_policy: BufferPolicy::Immediate,
        num_bufs: 4,
        buf_size: BLOCK,
    })
    .expect("set_buffer_info");
    c.set_linear(true).expect("set_linear");
}

/// Reads one block of samples; events met on the way are collected.
fn read_samples(c: &mut impl AsMut<ChannelFd>, events: &mut Vec<Event>) -> Vec<i16> {
    let c = c.as_mut();
    let mut buf = vec![0i16; BLOCK];
    loop {
        match c.read_samples(&mut buf).expect("read") {
            ReadOutcome::Audio(n) => {
                buf.truncate(n);
                return buf;
            }
            ReadOutcome::Event(e) => events.push(e),
        }
    }
}

fn write_samples(c: &mut impl AsMut<ChannelFd>, s: &[i16]) {
    let c = c.as_mut();
    loop {
        match c.write_samples(s).expect("write") {
            WriteOutcome::Written(n) => {
                assert_eq!(n, s.len(), "a write takes one whole block");
                return;
            }
            WriteOutcome::Event(_) => continue,
        }
    }
}

/// What one reader heard, block by block. Levels are medians over the
/// blocks, so that a few blocks lost to a stall of the emulated machine
/// (the host is shared; DAHDI then catches up in a burst and a buffer
/// runs dry) do not decide a test.
struct Heard(Vec<Vec<i16>>);

impl Heard {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    }

    /// Median RMS of the blocks.
    fn rms(&self) -> f64 {
        Self::median(self.0.iter().map(|b| rms(b)).collect())
    }

    /// Median amplitude of `freq` in the blocks (a whole number of
    /// periods per block for 500 and 1000 Hz).
    fn amp(&self, freq: f64) -> f64 {
        Self::median(self.0.iter().map(|b| amplitude_at(b, freq)).collect())
    }
}

/// Runs `blocks` blocks: each writer writes its signal (or silence), each
/// of the first `readers` writers reads; the blocks read after `skip` are
/// returned. Writers keep two blocks ahead of the reads.
fn exchange(
    writers: &mut [(&mut ChannelFd, Option<(f64, f64)>)],
    readers: usize,
    blocks: usize,
    skip: usize,
) -> Vec<Heard> {
    let mut heard: Vec<Heard> = (0..readers).map(|_| Heard(Vec::new())).collect();
    let mut ev = Vec::new();
    const AHEAD: usize = 2;
    for b in 0..blocks + AHEAD {
        for (c, sig) in writers.iter_mut() {
            let s = match sig {
                Some((f, a)) => tone(*f, *a, b * BLOCK, BLOCK),
                None => vec![0; BLOCK],
            };
            write_samples(c, &s);
        }
        if b < AHEAD {
            continue;
        }
        for (k, (c, _)) in writers.iter_mut().enumerate().take(readers) {
            let r = read_samples(c, &mut ev);
            if b - AHEAD >= skip {
                heard[k].0.push(r);
            }
        }
    }
    heard
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Events of a channel within `timeout`, until `until` is seen.
fn events_until(
    c: &impl AsRef<ChannelFd>,
    timeout: Duration,
    until: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let c = c.as_ref();
    let end = Instant::now() + timeout;
    let mut v = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return v;
        }
        let r = c
            .poll_readiness(Readiness::EVENT, Some(left))
            .expect("poll");
        if r.contains(Readiness::EVENT) {
            while let Some(e) = c.event().expect("event") {
                v.push(e);
            }
            if v.iter().any(&until) {
                return v;
            }
        }
    }
}

// ---- a looped pair of loc spans -----------------------------------------

struct LoopPair {
    ctl: Ctl,
    spans: [DynamicSpan; 2],
    numbers: [i32; 2],
    base: [i32; 2],
}

impl LoopPair {
    /// Spans `<key>:0` and `<key>:1` with `n` channels, channel `pos`
    /// (from 1) of both given `sig(pos)`: (signalling of side 0, side 1).
    fn create(key: u8, n: i32, sig: impl Fn(i32) -> Option<(Signalling, Signalling)>) -> LoopPair {
        let ctl = Ctl::open().expect("ctl");
        let spans = [
            DynamicSpan::local(key, 0, n).unwrap(),
            DynamicSpan::local(key, 1, n).unwrap(),
        ];
        let sysfs = Sysfs::new();
        let mut numbers = [0; 2];
        let mut base = [0; 2];
        for i in 0..2 {
            numbers[i] = ctl.create_dynamic_span(&spans[i]).expect("create loc span");
            assert!(numbers[i] > 0, "auto_assign_spans=1 assigns at once");
            base[i] = sysfs
                .span(numbers[i] as u32)
                .expect("sysfs span")
                .basechan
                .expect("basechan");
        }
        for pos in 1..=n {
            if let Some(s) = sig(pos) {
                for (i, sg) in [s.0, s.1].into_iter().enumerate() {
                    ctl.configure_channel(&ChanConfig::new(base[i] + pos - 1, sg))
                        .expect("chanconfig");
                }
            }
        }
        LoopPair {
            ctl,
            spans,
            numbers,
            base,
        }
    }

    fn chan(&self, side: usize, pos: i32) -> i32 {
        self.base[side] + pos - 1
    }
}

impl Drop for LoopPair {
    fn drop(&mut self) {
        for s in self.spans.iter().rev() {
            if let Err(e) = self.ctl.destroy_dynamic_span(s) {
                if !std::thread::panicking() {
                    panic!("destroy {}: {e}", s.span_name());
                }
            }
        }
    }
}

fn wait_alarms_clear(ctl: &Ctl, span: i32) -> Alarms {
    let mut a = Alarms::all();
    wait_until(Duration::from_secs(4), || {
        a = ctl.span_info(span).unwrap().alarms;
        a.is_empty()
    });
    a
}

/// dahdi_scan's ini output: span number -> key -> value.
fn dahdi_scan() -> HashMap<i32, HashMap<String, String>> {
    let out = Command::new("/usr/sbin/dahdi_scan")
        .output()
        .expect("run dahdi_scan");
    assert!(out.status.success(), "dahdi_scan failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("dahdi_scan:\n{text}");
    let mut spans = HashMap::new();
    let mut cur = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let n: i32 = n.parse().expect("span number");
            spans.insert(n, HashMap::new());
            cur = Some(n);
        } else if let (Some(n), Some((k, v))) = (cur, line.split_once('=')) {
            spans
                .get_mut(&n)
                .unwrap()
                .insert(k.to_owned(), v.to_owned());
        }
    }
    spans
}

fn test_zone(number: i32) -> ToneZone {
    ToneZone::new(number, "apitest")
        .ring_cadence(&[200, 200])
        .tone(Tone::DialTone, -13.0, &[(350.0, 440.0, 1000)])
        .tone(Tone::Busy, -13.0, &[(480.0, 620.0, 500), (0.0, 0.0, 500)])
        .dtmf(-10.0)
}

// ---- tests -------------------------------------------------------------

/// GETVERSION equals the module's own MODULE_VERSION in sysfs, and the
/// echo cancellers list the loaded dahdi_echocan_mg2 ("MG2").
fn version_and_echo_cancellers() {
    let v = Ctl::open().unwrap().version().unwrap();
    let sysfs = std::fs::read_to_string("/sys/module/dahdi/version").unwrap();
    assert_eq!(v.version, sysfs.trim());
    assert!(std::path::Path::new("/sys/module/dahdi_echocan_mg2").exists());
    assert!(v.echo_cancellers.iter().any(|e| e == "MG2"), "{v:?}");
    assert_eq!(Sysfs::new().auto_assign_spans(), Some(true));
}

/// Missing nodes give the documented errors and instructions.
fn missing_devices_read_as_instructions() {
    let e = Ctl::open_path("/dev/dahdi/no-such-ctl").unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::ModuleNotLoaded);
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOENT));
    assert!(e.to_string().contains("run dahdi-loader ensure"), "{e}");
    let e = Channel::open_by_position(99, 1).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NoSuchChannel(_)), "{e}");
    assert!(e.path().ends_with("chan/099/001"));
    // No span 127 and no channel 1000 on ctl.
    let ctl = Ctl::open().unwrap();
    assert_eq!(
        ctl.span_info(127).unwrap_err().kind(),
        &ErrorKind::NoSuchSpan(127)
    );
    let e = ctl.channel_params(1000).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NoSuchChannel(1000));
    assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL));
    // DAHDI_SPECIFY on a number with no channel: EINVAL in dahdi_prechan_ioctl.
    let e = Channel::open(1000).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NoSuchChannel(1000), "{e}");
    assert_eq!(e.op(), "DAHDI_SPECIFY");
}

/// Pseudo channels: numbered from FIRST_PSEUDO_CHANNEL = 32768, named
/// "Pseudo/<chanpos>", clear signalling, mu-law, no span (dahdi_alloc_pseudo).
fn pseudo_numbers_and_params() {
    let p = Pseudo::open().unwrap();
    let q = Pseudo::open().unwrap();
    let (n, m) = (p.number().unwrap(), q.number().unwrap());
    assert!(n >= 32768 && m >= 32768 && n != m);
    let prm = p.params().unwrap();
    assert_eq!(prm.channel, n);
    assert_eq!(prm.name, format!("Pseudo/{}", n - 32768 + 1));
    assert_eq!(prm.span, 0);
    assert_eq!(prm.signalling, Signalling::Clear);
    assert_eq!(prm.law, Law::Mulaw);
    assert_eq!(
        p.blocksize().unwrap(),
        sys::DAHDI_DEFAULT_BLOCKSIZE as usize
    );
    // SET_PARAMS takes the timing fields (dahdi_ioctl_setparams), which
    // read back; the defaults are the kernel's (kernel.h:
    // DAHDI_DEFAULT_RXFLASHTIME 1250, DAHDI_DEFAULT_PULSEAFTERTIME 750).
    assert_eq!((prm.rx_flash_time, prm.pulse_after_time), (1250, 750));
    let mut t = prm.clone();
    t.rx_flash_time = 900;
    t.pulse_make_time = 40;
    t.signalling = Signalling::FxsKs; // not settable: ignored
                                      // (Pseudo does not offer set_params: the timing fields time hook
                                      // signalling, which a pseudo channel has none of; the kernel takes them
                                      // all the same.)
    p.as_channel_fd().set_params(&t).unwrap();
    let back = p.params().unwrap();
    assert_eq!((back.rx_flash_time, back.pulse_make_time), (900, 40));
    assert_eq!(back.signalling, Signalling::Clear);
    // Global dial parameters: until someone sets them the kernel reports
    // its defaults in samples, DAHDI_MS_TO_SAMPLES(100/68/100).
    let dp = Ctl::open().unwrap().dial_params().unwrap();
    assert_eq!(
        (dp.dtmf_tonelen, dp.mfv1_tonelen, dp.mfr2_tonelen),
        (800, 544, 800)
    );
    // Nothing written: DAHDI_SYNC returns at once.
    p.sync().unwrap();
    // A pseudo channel has no span: SPANSTAT with span 0 is EINVAL (which
    // is why Pseudo does not offer span_info).
    assert_eq!(
        p.as_channel_fd().span_info().unwrap_err().errno(),
        Some(nix::errno::Errno::EINVAL)
    );
    // Span-channel-only ioctls are not there for pseudos (ENOTTY).
    let e = q.as_channel_fd().set_law(Law::Alaw);
    assert!(e.is_ok());
    assert_eq!(q.params().unwrap().law, Law::Alaw);
}

/// Block sizes and buffer policies: what the kernel accepts is what this
/// crate accepts, checked against raw ioctls.
fn blocksize_and_buffer_policies() {
    use std::os::fd::AsRawFd;
    let p = Pseudo::open().unwrap();
    p.set_blocksize(160).unwrap();
    assert_eq!(p.blocksize().unwrap(), 160);
    for bad in [8usize, 15, 8193] {
        let e = p.set_blocksize(bad).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidBlocksize(bad as i64));
        assert_eq!(e.errno(), None, "refused before the call");
        // The kernel refuses the same values (DAHDI_SET_BLOCKSIZE).
        let v = bad as i32;
        let r = unsafe { sys::dahdi_set_blocksize(p.as_raw_fd(), &v) };
        assert_eq!(r, Err(nix::errno::Errno::EINVAL), "kernel on {bad}");
    }
    for ok in [16usize, 8192] {
        p.set_blocksize(ok).unwrap();
        assert_eq!(p.blocksize().unwrap(), ok);
    }
    for policy in [
        BufferPolicy::Immediate,
        BufferPolicy::WhenFull,
        BufferPolicy::HalfFull,
    ] {
        let bi = BufferInfo {
            tx_policy: policy,
            num_bufs: 8,
            buf_size: 160,
        };
        p.set_buffer_info(&bi).unwrap();
        assert_eq!(p.buffer_info().unwrap(), bi);
        assert_eq!(p.blocksize().unwrap(), 160);
    }
    let too_much = BufferInfo {
        tx_policy: BufferPolicy::Immediate,
        num_bufs: 5,
        buf_size: 8192,
    };
    let e = p.set_buffer_info(&too_much).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidBufferInfo(_)));
    let raw = too_much_raw();
    assert_eq!(
        unsafe { sys::dahdi_set_bufinfo(p.as_raw_fd(), &raw) },
        Err(nix::errno::Errno::EINVAL),
        "the kernel refuses bufsize*numbufs > 32768 too"
    );
    // numbufs 1: the kernel silently makes it 2; this crate refuses it.
    let mut one = sys::dahdi_bufferinfo::zeroed();
    one.bufsize = 160;
    one.numbufs = 1;
    unsafe { sys::dahdi_set_bufinfo(p.as_raw_fd(), &one) }.unwrap();
    assert_eq!(p.buffer_info().unwrap().num_bufs, 2);
    assert!(p
        .set_buffer_info(&BufferInfo {
            num_bufs: 1,
            ..BufferInfo::KERNEL_DEFAULT
        })
        .is_err());
}

fn too_much_raw() -> sys::dahdi_bufferinfo {
    let mut b = sys::dahdi_bufferinfo::zeroed();
    b.bufsize = 8192;
    b.numbufs = 5;
    b
}

/// WHEN_FULL holds written audio back until every buffer is full; the
/// listener hears nothing until then. IMMEDIATE sends at once.
fn when_full_policy_holds_audio_back() {
    let mut talker = Pseudo::open().unwrap();
    let mut listener = Pseudo::open().unwrap();
    linear(&mut talker);
    linear(&mut listener);
    let conf = talker.create_conference(ConfMode::talker()).unwrap();
    listener
        .join_conference(conf, ConfMode::listener())
        .unwrap();
    talker
        .set_buffer_info(&BufferInfo {
            tx_policy: BufferPolicy::WhenFull,
            num_bufs: 4,
            buf_size: BLOCK,
        })
        .unwrap();
    let mut ev = Vec::new();
    // Three blocks into four buffers: held.
    for b in 0..3 {
        write_samples(&mut talker, &tone(1000.0, 8000.0, b * BLOCK, BLOCK));
    }
    listener.flush(Flush::READ).unwrap();
    let mut quiet = Vec::new();
    for _ in 0..4 {
        quiet.extend(read_samples(&mut listener, &mut ev));
    }
    assert!(rms(&quiet) < 50.0, "held audio leaked: RMS {}", rms(&quiet));
    // The fourth fills the buffers: sending starts.
    write_samples(&mut talker, &tone(1000.0, 8000.0, 3 * BLOCK, BLOCK));
    let mut loud = Vec::new();
    for _ in 0..6 {
        loud.extend(read_samples(&mut listener, &mut ev));
    }
    assert!(rms(&loud) > 1000.0, "nothing sent after the buffers filled");
}

/// Law mode reads one byte a sample, linear mode two (dahdi_chan_read).
fn law_and_linear_block_sizes() {
    let mut p = Pseudo::open().unwrap();
    p.set_blocksize(BLOCK).unwrap();
    let mut buf = vec![0u8; 4 * BLOCK];
    let n = match p.read_block(&mut buf).unwrap() {
        ReadOutcome::Audio(n) => n,
        e => panic!("{e:?}"),
    };
    assert_eq!(n, BLOCK);
    assert_eq!(p.block_len().unwrap(), BLOCK);
    p.set_linear(true).unwrap();
    let n = match p.read_block(&mut buf).unwrap() {
        ReadOutcome::Audio(n) => n,
        e => panic!("{e:?}"),
    };
    assert_eq!(n, 2 * BLOCK);
    assert_eq!(p.block_len().unwrap(), 2 * BLOCK);
    // std::io::Read does the same.
    use std::io::Read;
    assert_eq!(p.read(&mut buf).unwrap(), 2 * BLOCK);
}

/// Every conference mode on pseudo channels, with expected levels from
/// the kernel's mixing rules (dahdi-base.c __dahdi_process_getaudio_chunk
/// and putaudio): a 1 kHz tone of amplitude 8000 reads back at RMS
/// 8000/sqrt(2) = 5657 within mu-law's 2 %.
fn conference_modes() {
    let expect = 8000.0 / 2f64.sqrt();
    let loud = |x: &Heard| (x.rms() - expect).abs() / expect < 0.03;
    let quiet = |x: &Heard| x.rms() < 0.01 * expect;

    // confno -1: dahdi_first_empty_conference() counts down from 1023.
    let mut a = Pseudo::open().unwrap();
    let mut b = Pseudo::open().unwrap();
    let mut c = Pseudo::open().unwrap();
    for p in [&mut a, &mut b, &mut c] {
        linear(p);
    }
    let conf = a.create_conference(ConfMode::conference()).unwrap();
    assert_eq!(conf, 1023);
    b.join_conference(conf, ConfMode::conference()).unwrap();
    c.join_conference(conf, ConfMode::conference()).unwrap();
    let info = c.conference().unwrap();
    assert_eq!(info.confno, conf);
    assert_eq!(info.mode, ConfMode::conference());
    assert_eq!(info.channel, c.number().unwrap());
    assert_eq!(a.conference_of(c.number().unwrap()).unwrap(), info);

    // CONF|TALKER|LISTENER: mix minus self.
    let h = exchange(
        &mut [
            (a.as_channel_fd_mut(), Some((1000.0, 8000.0))),
            (b.as_channel_fd_mut(), None),
            (c.as_channel_fd_mut(), None),
        ],
        3,
        40,
        10,
    );
    assert!(quiet(&h[0]), "talker hears itself: {}", h[0].rms());
    assert!(loud(&h[1]) && loud(&h[2]), "{} {}", h[1].rms(), h[2].rms());

    // DAHDI_CONFMUTE is recorded on a pseudo channel but does not silence
    // it: the kernel applies mute only to span channels
    // (`(!ms->confmute && !ms->dialing) || is_pseudo_chan(ms)` in
    // __dahdi_process_getaudio_chunk). Span channels: see
    // real_and_pseudo_conference.
    a.set_conf_mute(true).unwrap();
    assert!(a.conf_muted().unwrap());
    let h = exchange(
        &mut [
            (b.as_channel_fd_mut(), None),
            (a.as_channel_fd_mut(), Some((1000.0, 8000.0))),
        ],
        1,
        30,
        10,
    );
    assert!(loud(&h[0]), "muted pseudo: {}", h[0].rms());
    a.set_conf_mute(false).unwrap();
    assert!(!a.conf_muted().unwrap());

    // CONF|LISTENER: hears, is not heard. CONF|TALKER: heard, hears nothing.
    b.join_conference(conf, ConfMode::listener()).unwrap();
    c.join_conference(conf, ConfMode::talker()).unwrap();
    let h = exchange(
        &mut [
            (b.as_channel_fd_mut(), Some((1000.0, 8000.0))),
            (c.as_channel_fd_mut(), Some((1000.0, 8000.0))),
            (a.as_channel_fd_mut(), None),
        ],
        3,
        40,
        10,
    );
    assert!(
        loud(&h[0]),
        "listener does not hear the talker: {}",
        h[0].rms()
    );
    assert!(quiet(&h[1]), "talker-only hears: {}", h[1].rms());
    assert!(loud(&h[2]), "member hears only the talker: {}", h[2].rms());

    // CONFANN: heard by all, hears nothing; CONFMON|LISTENER hears all.
    b.join_conference(conf, ConfMode::CONFANN).unwrap();
    c.join_conference(conf, ConfMode::conference_monitor())
        .unwrap();
    assert_eq!(b.conference().unwrap().mode.mode(), ConfKind::ConfAnn);
    let h = exchange(
        &mut [
            (b.as_channel_fd_mut(), Some((1000.0, 8000.0))),
            (c.as_channel_fd_mut(), None),
            (a.as_channel_fd_mut(), None),
        ],
        3,
        40,
        10,
    );
    assert!(quiet(&h[0]), "announcer hears: {}", h[0].rms());
    assert!(loud(&h[1]) && loud(&h[2]), "{} {}", h[1].rms(), h[2].rms());

    // CONFANNMON|LISTENER: heard, and hears the others.
    b.join_conference(conf, ConfMode::CONFANNMON | ConfMode::LISTENER)
        .unwrap();
    a.join_conference(conf, ConfMode::conference()).unwrap();
    let h = exchange(
        &mut [
            (b.as_channel_fd_mut(), Some((500.0, 8000.0))),
            (a.as_channel_fd_mut(), Some((1000.0, 8000.0))),
        ],
        2,
        40,
        10,
    );
    assert!(h[0].amp(1000.0) > 6000.0, "annmon does not hear");
    assert!(h[1].amp(500.0) > 6000.0, "annmon not heard");

    // Leaving: GETCONF reads 0/0; joining 0 or 1025 is refused.
    for p in [&a, &b, &c] {
        p.leave_conference().unwrap();
        let i = p.conference().unwrap();
        assert_eq!((i.confno, i.mode), (0, ConfMode::NORMAL));
    }
    assert!(matches!(
        a.join_conference(1025, ConfMode::conference())
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument(_)
    ));
    // The kernel agrees about 1025 (dahdi_ioctl_setconf: confno > DAHDI_MAX_CONF).
    let e = a
        .set_conference_of(a.number().unwrap(), 1025, ConfMode::conference())
        .unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL));
    // With everyone gone the number is free again.
    assert_eq!(a.create_conference(ConfMode::conference()).unwrap(), 1023);
    a.leave_conference().unwrap();

    // Conference links are compiled out of stock DAHDI (ENOSYS).
    let e = a.link_conferences(1, 2).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotCompiledIn("CONFIG_DAHDI_CONFLINK"));
    assert!(
        e.to_string().contains("not compiled into this driver"),
        "{e}"
    );
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOSYS));
}

/// Monitoring a pseudo channel is refused before the call: the driver
/// (dahdi_ioctl_setconf -> dahdi_disable_hw_preechocan) dereferences the
/// target's span, NULL for a pseudo channel, and oopses; the first run of
/// this suite saw the test process killed that way. Monitor modes on span
/// channels: monitor_and_digitalmon_on_span_channels.
fn monitoring_a_pseudo_channel_is_refused() {
    let x = Pseudo::open().unwrap();
    let m = Pseudo::open().unwrap();
    let xn = x.number().unwrap();
    assert!(xn >= dahdi::FIRST_PSEUDO_CHANNEL);
    for mode in [
        ConfMode::MONITOR,
        ConfMode::MONITORTX,
        ConfMode::MONITORBOTH,
        ConfMode::DIGITALMON,
        ConfMode::MONITOR_RX_PREECHO,
    ] {
        let e = m.monitor(xn, mode).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)), "{e}");
        assert_eq!(e.errno(), None, "refused before the call");
    }
    // Not a monitor mode at all: refused too.
    assert!(m.monitor(xn, ConfMode::conference()).is_err());
    assert_eq!(m.conference().unwrap().confno, 0);
}

/// Timers: period, POLLPRI, ack, ping/pong (dahdi_timer_unlocked_ioctl,
/// dahdi_timer_poll).
fn timers() {
    use std::os::fd::AsFd;
    let t = Timer::open().unwrap();
    assert!(
        !t.wait(Some(Duration::from_millis(50))).unwrap(),
        "idle timer fired"
    );
    assert_eq!(t.event().unwrap(), None);
    t.set_interval(Duration::from_millis(20)).unwrap();
    // 50 expirations take one second.
    let start = Instant::now();
    for _ in 0..50 {
        assert!(t.wait(Some(Duration::from_millis(500))).unwrap());
        assert_eq!(t.event().unwrap(), Some(Event::TimerExpired));
        t.ack(1).unwrap();
    }
    let took = start.elapsed();
    assert!(
        took > Duration::from_millis(950) && took < Duration::from_millis(1100),
        "50 x 20 ms took {took:?}"
    );
    // POLLPRI as seen by plain poll(2) on the fd.
    let mut fds = [nix::poll::PollFd::new(
        t.as_fd(),
        nix::poll::PollFlags::POLLPRI,
    )];
    nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap();
    assert!(fds[0]
        .revents()
        .unwrap()
        .contains(nix::poll::PollFlags::POLLPRI));
    t.set_interval(Duration::ZERO).unwrap();
    t.ack_all().unwrap();
    assert_eq!(t.event().unwrap(), None);
    assert!(!t.wait(Some(Duration::from_millis(60))).unwrap());
    // Ping: signals at once until pong.
    t.ping().unwrap();
    assert!(t.wait(Some(Duration::from_millis(10))).unwrap());
    assert_eq!(t.event().unwrap(), Some(Event::TimerPing));
    t.pong().unwrap();
    assert_eq!(t.event().unwrap(), None);
    // Samples: 160 samples = 20 ms, as res_timing_dahdi programs 50 Hz.
    t.set_interval_samples(160).unwrap();
    assert!(t.wait(Some(Duration::from_millis(300))).unwrap());
    assert!(t.set_interval(Duration::from_micros(500)).is_err());
}

/// Gains: unity after open, read back as set through the fd and through
/// ctl by number. They act on span channels: the receive table on what
/// the line delivers (putaudio: `rxb[x] = ms->rxgain[rxb[x]]`), the
/// transmit table on what is sent (getaudio: `txb[x] = ms->txgain[..]`);
/// a table mapping every code to mu-law 0xFF (zero) silences that path.
/// (On a pseudo channel in a conference they have no audible effect: the
/// kernel mixes before the tables apply.)
fn gains() {
    let p = Pseudo::open().unwrap();
    assert!(p.gains().unwrap().is_unity());
    let pair = LoopPair::create(13, 1, |_| Some((Signalling::Clear, Signalling::Clear)));
    let mut a = Channel::open(pair.chan(0, 1)).unwrap();
    let mut b = Channel::open(pair.chan(1, 1)).unwrap();
    for c in [&mut a, &mut b] {
        c.set_audio_mode(true).unwrap();
        linear(c);
    }
    let ctl = &pair.ctl;
    let level = |a: &mut Channel, b: &mut Channel| {
        exchange(
            &mut [
                (b.as_channel_fd_mut(), None),
                (a.as_channel_fd_mut(), Some((1000.0, 8000.0))),
            ],
            1,
            30,
            10,
        )[0]
        .rms()
    };
    assert!(level(&mut a, &mut b) > 5000.0);
    let rx_silent = Gains::from_fn(|_| 0xff, |c| c);
    b.set_gains(&rx_silent).unwrap();
    assert_eq!(b.gains().unwrap(), rx_silent);
    assert_eq!(ctl.channel_gains(b.channel_number()).unwrap(), rx_silent);
    assert!(level(&mut a, &mut b) < 10.0, "rx table not applied");
    b.set_gains(&Gains::unity()).unwrap();
    let tx_silent = Gains::from_fn(|c| c, |_| 0xff);
    a.set_gains(&tx_silent).unwrap();
    assert!(level(&mut a, &mut b) < 10.0, "tx table not applied");
    a.set_gains(&Gains::unity()).unwrap();
    assert!(ctl.channel_gains(a.channel_number()).unwrap().is_unity());
    assert!(level(&mut a, &mut b) > 5000.0);
}

/// Tone zones, tones, dialling and events on pseudo channels: with no
/// zone, tones and dialling say so (ENODATA); with a zone loaded through
/// this crate, the pseudo channel plays the dial tone's two frequencies
/// at the level the zone asked for and the DTMF digits dialled. A pseudo
/// channel's tones come back on its own read side (__pseudo_rx_audio:
/// __dahdi_getempty generates them). DIALCOMPLETE arrives as an event on
/// read (ELAST) without losing audio.
fn tones_dialling_and_events() {
    let ctl = Ctl::open().unwrap();
    {
        let p = Pseudo::open().unwrap();
        assert_eq!(p.tone_zone().unwrap(), 0);
        let e = p.send_tone(Tone::DialTone).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NoToneZone, "{e}");
        let e = p.dial(DialOp::Append, "123").unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NoToneZone);
        assert!(p.dial(DialOp::Append, "12x").is_err());
    }
    let zone = 42;
    ctl.load_tone_zone(&test_zone(zone)).unwrap();
    // Loading the same number again is refused (dahdi_register_tone_zone).
    assert!(ctl.load_tone_zone(&test_zone(zone)).is_err());
    let result = std::panic::catch_unwind(|| {
        let mut gen = Pseudo::open().unwrap();
        assert_eq!(
            gen.tone_zone().unwrap(),
            zone,
            "the only zone is the default"
        );
        linear(&mut gen);
        // 32 buffers (640 ms): a stall of the emulated guest on a loaded host must not
        // overrun them, which would splice the tone and lower what a DFT measures.
        gen.set_buffer_info(&BufferInfo {
            tx_policy: BufferPolicy::Immediate,
            num_bufs: 32,
            buf_size: BLOCK,
        })
        .unwrap();
        let mut ev = Vec::new();

        // Dial tone: 350 + 440 Hz, each at the zone's -13 dBm0, measured over windows of
        // five blocks (100 ms: whole periods of both), the median of six windows, so that
        // one window spliced by an overrun does not decide.
        gen.send_tone(Tone::DialTone).unwrap();
        let amp = dahdi::tonezone::tone_amplitude(-13.0);
        let mut blocks = Vec::new();
        for i in 0..40 {
            let r = read_samples(&mut gen, &mut ev);
            if i >= 10 {
                blocks.push(r);
            }
        }
        let windows: Vec<Vec<i16>> = blocks.chunks(5).map(|w| w.concat()).collect();
        for f in [350.0, 440.0, 1000.0] {
            let a = Heard::median(windows.iter().map(|w| amplitude_at(w, f)).collect());
            if f == 1000.0 {
                assert!(a < amp * 0.05, "{f} Hz at {a:.0}, expected silence");
            } else {
                assert!(
                    (a - amp).abs() / amp < 0.05,
                    "{f} Hz at {a:.0}, expected {amp:.0}"
                );
            }
        }
        gen.stop_tone().unwrap();

        // Dial "159": 100 ms of each digit, 100 ms of silence between.
        gen.flush(Flush::ALL).unwrap();
        gen.dial(DialOp::Append, "159").unwrap();
        assert!(gen.is_dialing().unwrap());
        let mut stream = Vec::new();
        let mut gen_events = Vec::new();
        let mut audio_after_event = false;
        for _ in 0..60 {
            let mut e = Vec::new();
            let r = read_samples(&mut gen, &mut e);
            if !gen_events.is_empty() {
                audio_after_event = true;
            }
            gen_events.extend(e);
            stream.extend(r);
        }
        assert_eq!(
            gen_events,
            vec![Event::DialComplete],
            "ELAST carried the event"
        );
        assert!(audio_after_event, "reading went on after the event");
        assert!(!gen.is_dialing().unwrap());
        // Decode: in each 20 ms window, the strongest row and column.
        let mut digits = String::new();
        let mut last = None;
        let strongest = |w: &[i16], fs: [f64; 4]| {
            fs.into_iter()
                .map(|f| (f, amplitude_at(w, f)))
                .fold((0.0, 0.0), |a, b| if b.1 > a.1 { b } else { a })
        };
        for w in stream.chunks(160) {
            let (r, ra) = strongest(w, [697.0, 770.0, 852.0, 941.0]);
            let (c, ca) = strongest(w, [1209.0, 1336.0, 1477.0, 1633.0]);
            let d = if ra > 3000.0 && ca > 3000.0 {
                "123A456B789C*0#D"
                    .chars()
                    .find(|&d| dahdi::tonezone::dtmf_frequencies(d) == Some((r, c)))
            } else {
                None
            };
            if d != last {
                if let Some(d) = d {
                    digits.push(d);
                }
                last = d;
            }
        }
        assert_eq!(digits, "159", "digits heard");
    });
    ctl.free_tone_zone(zone).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// Two looped loc spans built with this crate: the kernel's names
/// (dahdi_dynamic.c), SPANSTAT, sysfs, /proc/dahdi and dahdi_scan agree;
/// the looped pair has no alarms.
fn loc_spans_agree_with_sysfs_proc_and_dahdi_scan() {
    let pair = LoopPair::create(1, 24, |pos| match pos {
        1..=12 => Some((Signalling::Clear, Signalling::Clear)),
        13..=23 => Some((Signalling::FxsKs, Signalling::FxoKs)),
        _ => None, // 24 left unconfigured
    });
    let ctl = &pair.ctl;
    let sysfs = Sysfs::new();
    let scan_before_alarm = wait_alarms_clear(ctl, pair.numbers[0]);
    assert!(scan_before_alarm.is_empty(), "alarms {scan_before_alarm:?}");
    wait_alarms_clear(ctl, pair.numbers[1]);
    let scan = dahdi_scan();
    for side in 0..2 {
        let n = pair.numbers[side];
        let addr = format!("1:{side}");
        let info = ctl.span_info(n).unwrap();
        assert_eq!(info.name, format!("DYN/loc/{addr}"));
        assert_eq!(info.description, format!("Dynamic 'loc' span at '{addr}'"));
        assert_eq!(info.total_channels, 24);
        assert_eq!(info.configured_channels, 23);
        assert_eq!(info.span_type, "DYNAM");
        assert!(info.alarms.is_empty());
        assert!(info.line_compat.contains(LineConfig::D4 | LineConfig::HDB3));
        // sysfs
        let s = sysfs.span(n as u32).unwrap();
        assert_eq!(s.name, info.name);
        assert_eq!(s.description, info.description);
        assert_eq!(s.span_type, "DYNAMIC");
        assert_eq!(s.channels, 24);
        assert_eq!(s.basechan, Some(pair.base[side]));
        assert_eq!(s.alarms, info.alarms);
        // sysfs prints bits 4..=12 only (linecompat_show); SPANSTAT also
        // has NOTOPEN (bit 16), which dahdi_dynamic sets.
        assert!(info.line_compat.contains(LineConfig::NOTOPEN));
        assert_eq!(s.line_compat, info.line_compat - LineConfig::NOTOPEN);
        let dev = sysfs
            .device_by_hardware_id(&info.name)
            .unwrap()
            .expect("device");
        assert!(dev.name.starts_with("dynamic:loc:"), "{}", dev.name);
        assert_eq!(dev.assigned_spans, vec![n as u32]);
        assert_eq!(dev.span_types, vec![(1, "DYNAMIC".to_owned())]);
        assert_eq!(s.device.as_deref(), Some(dev.name.as_str()));
        let chans = sysfs.span_channels(n as u32).unwrap();
        assert_eq!(chans.len(), 24);
        for c in &chans {
            let p = ctl.channel_params(c.channel).unwrap();
            assert_eq!(p.name, c.name);
            assert_eq!(p.name, format!("DYN/loc/{addr}/{}", p.chanpos));
            assert_eq!(p.signalling, c.signalling);
            assert_eq!(p.span, n);
            assert!(
                std::path::Path::new(&c.dev_node).exists(),
                "{:?}",
                c.dev_node
            );
        }
        assert_eq!(chans[0].signalling, Signalling::Clear);
        let want = if side == 0 {
            Signalling::FxsKs
        } else {
            Signalling::FxoKs
        };
        assert_eq!(chans[12].signalling, want);
        assert_eq!(chans[23].signalling, Signalling::None);
        // /proc/dahdi/N: "Span N: <name> "<desc>"" and one line a channel.
        let proc = std::fs::read_to_string(format!("/proc/dahdi/{n}")).unwrap();
        assert!(
            proc.starts_with(&format!("Span {n}: {} \"{}\"", info.name, info.description)),
            "{proc}"
        );
        assert!(proc.contains(&format!("{:4} {} Clear", pair.base[side], chans[0].name)));
        // dahdi_scan
        let d = &scan[&n];
        assert_eq!(d["active"], "yes");
        assert_eq!(d["alarms"], "OK");
        assert_eq!(d["name"], info.name);
        assert_eq!(d["description"], info.description);
        assert_eq!(d["basechan"], pair.base[side].to_string());
        assert_eq!(d["totchans"], "24");
        assert_eq!(d["type"], format!("digital-{}", info.span_type));
        assert_eq!(d["syncsrc"], info.sync_source.to_string());
        assert_eq!(d["lbo"], info.lbo_name);
    }
    // Span list through ctl: both, and nothing else.
    let all = ctl.spans().unwrap();
    assert_eq!(
        all.iter().map(|s| s.span).collect::<Vec<_>>(),
        pair.numbers.to_vec()
    );
    assert!(all.iter().all(|s| s.total_spans == 2));
}

/// Audio crosses the loop: a clear channel carries bytes untouched in
/// data mode, and (after DAHDI_AUDIOMODE) linear audio at its level; a
/// channel opened by number and its peer opened by its /dev/dahdi/chan
/// node.
fn audio_crosses_the_loop() {
    let pair = LoopPair::create(2, 4, |_| Some((Signalling::Clear, Signalling::Clear)));
    let mut a = Channel::open(pair.chan(0, 1)).unwrap();
    let mut b = Channel::open_by_position(pair.numbers[1] as u32, 1).unwrap();
    assert_eq!(b.channel_number(), pair.chan(1, 1));
    for c in [&a, &b] {
        c.set_blocksize(BLOCK).unwrap();
    }
    // Data mode: a pseudo-random byte stream arrives unchanged. Eight
    // buffers and four blocks written ahead keep the transmitter fed
    // through a stall of the (shared, emulated) machine; an underrun would
    // insert idle bytes.
    let bi = BufferInfo {
        tx_policy: BufferPolicy::Immediate,
        num_bufs: 8,
        buf_size: BLOCK,
    };
    a.set_buffer_info(&bi).unwrap();
    b.set_buffer_info(&bi).unwrap();
    let mut x: u32 = 0x1234_5678;
    let pattern: Vec<u8> = (0..BLOCK * 30)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let mut got = Vec::new();
    let mut buf = vec![0u8; BLOCK];
    for (i, blk) in pattern.chunks(BLOCK).enumerate() {
        // An event (an alarm when the emulated machine stalls) is
        // reported instead of writing: write again.
        while let WriteOutcome::Event(e) = a.write_block(blk).unwrap() {
            println!("event while writing: {e:?}");
        }
        if i >= 4 {
            if let ReadOutcome::Audio(n) = b.read_block(&mut buf).unwrap() {
                got.extend_from_slice(&buf[..n]);
            }
        }
    }
    for _ in 0..10 {
        if let ReadOutcome::Audio(n) = b.read_block(&mut buf).unwrap() {
            got.extend_from_slice(&buf[..n]);
        }
    }
    let needle = &pattern[BLOCK * 10..BLOCK * 16];
    assert!(
        got.windows(needle.len()).any(|w| w == needle),
        "6 blocks of the byte stream did not arrive intact"
    );
    // Linear mode is for audio only: refused on a clear channel in data
    // mode (DAHDI_SETLINEAR: EINVAL without DAHDI_FLAG_AUDIO).
    assert!(a.set_linear(true).is_err());
    for c in [&mut a, &mut b] {
        c.set_audio_mode(true).unwrap();
        c.set_linear(true).unwrap();
    }
    let h = exchange(
        &mut [
            (b.as_channel_fd_mut(), None),
            (a.as_channel_fd_mut(), Some((1000.0, 8000.0))),
        ],
        1,
        40,
        10,
    );
    let expect = 8000.0 / 2f64.sqrt();
    assert!(
        (h[0].rms() - expect).abs() / expect < 0.03,
        "RMS {}",
        h[0].rms()
    );
    // Busy: the channel is open.
    let e = Channel::open(pair.chan(0, 1)).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::ChannelBusy(pair.chan(0, 1)), "{e}");
    let e = Channel::open_by_position(pair.numbers[1] as u32, 1).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::ChannelBusy(_)), "{e}");
    // sysfs in_use agrees.
    let s = Sysfs::new();
    let c = s.span_channels(pair.numbers[0] as u32).unwrap();
    assert!(c[0].in_use && !c[1].in_use);
    // A span with open channels cannot be destroyed (dahdi_dynamic: EBUSY).
    let e = pair.ctl.destroy_dynamic_span(&pair.spans[0]).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InUse);
    // Channel-only operations the loc driver lacks.
    let e = a.set_tone_detect(dahdi::ToneDetect::ON).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotSupported, "{e}");
    // Hook operations need analog signalling (EINVAL on clear).
    assert!(matches!(
        a.hook(Hook::OffHook).unwrap_err().kind(),
        ErrorKind::InvalidArgument(_)
    ));
}

/// Monitor modes and DIGITALMON on span channels: MONITOR hears what the
/// channel receives, MONITORTX what it sends, MONITORBOTH both
/// (putaudio: conf_chan->putlin / getlin), and the same for the three
/// PREECHO taps; a channel in DIGITALMON of another sends what that one
/// receives.
fn monitor_and_digitalmon_on_span_channels() {
    let pair = LoopPair::create(3, 4, |_| Some((Signalling::Clear, Signalling::Clear)));
    let mut a1 = Channel::open(pair.chan(0, 1)).unwrap();
    let mut b1 = Channel::open(pair.chan(1, 1)).unwrap();
    for c in [&mut a1, &mut b1] {
        c.set_audio_mode(true).unwrap();
        linear(c);
    }
    let mut m = Pseudo::open().unwrap();
    linear(&mut m);
    let a1n = a1.channel_number();
    // a1 sends 500 Hz; it receives 1000 Hz from b1.
    for (mode, f500, f1000) in [
        (ConfMode::MONITOR, false, true),
        (ConfMode::MONITORTX, true, false),
        (ConfMode::MONITORBOTH, true, true),
        // The pre-echo-canceller taps: the receive side is readchunkpreec,
        // which __dahdi_ec_chunk fills only on a channel with an echo
        // canceller (_dahdi_ec_span skips the others): silent here.
        (ConfMode::MONITOR_RX_PREECHO, false, false),
        (ConfMode::MONITOR_TX_PREECHO, true, false),
        (ConfMode::MONITORBOTH_PREECHO, true, false),
    ] {
        m.monitor(a1n, mode).unwrap();
        let h = exchange(
            &mut [
                (m.as_channel_fd_mut(), None),
                (a1.as_channel_fd_mut(), Some((500.0, 6000.0))),
                (b1.as_channel_fd_mut(), Some((1000.0, 6000.0))),
            ],
            1,
            40,
            10,
        );
        // Which source the tap carries: present (median block amplitude
        // above half of 6000) or absent (below 300), nothing in between.
        let (x, y) = (h[0].amp(500.0), h[0].amp(1000.0));
        let present = |a: f64| {
            assert!(
                !(300.0..=3000.0).contains(&a),
                "{mode:?}: ambiguous level {a:.0}"
            );
            a > 3000.0
        };
        assert_eq!(
            (present(x), present(y)),
            (f500, f1000),
            "{mode:?}: 500 Hz {x:.0}, 1000 Hz {y:.0}"
        );
    }
    // With an echo canceller on a1 the receive tap carries what a1 receives.
    pair.ctl.attach_echocan(a1n, "mg2").unwrap();
    a1.set_echo_cancel(128).unwrap();
    m.monitor(a1n, ConfMode::MONITOR_RX_PREECHO).unwrap();
    let h = exchange(
        &mut [
            (m.as_channel_fd_mut(), None),
            (a1.as_channel_fd_mut(), Some((500.0, 6000.0))),
            (b1.as_channel_fd_mut(), Some((1000.0, 6000.0))),
        ],
        1,
        40,
        10,
    );
    let y = h[0].amp(1000.0);
    assert!(
        y > 5000.0,
        "RX_PREECHO with an echo canceller: 1000 Hz {y:.0}"
    );
    a1.set_echo_cancel(0).unwrap();
    pair.ctl.attach_echocan(a1n, "").unwrap();
    m.leave_conference().unwrap();
    // DIGITALMON: a2 sends what a1 receives; b2 (a2's peer) hears b1.
    let a2 = Channel::open(pair.chan(0, 2)).unwrap();
    a2.set_audio_mode(true).unwrap();
    a2.monitor(a1n, ConfMode::DIGITALMON).unwrap();
    let mut b2 = Channel::open(pair.chan(1, 2)).unwrap();
    b2.set_audio_mode(true).unwrap();
    linear(&mut b2);
    let h = exchange(
        &mut [
            (b2.as_channel_fd_mut(), None),
            (b1.as_channel_fd_mut(), Some((1000.0, 6000.0))),
            (a1.as_channel_fd_mut(), None),
        ],
        1,
        40,
        10,
    );
    assert!(
        h[0].amp(1000.0) > 5000.0,
        "DIGITALMON: {}",
        h[0].amp(1000.0)
    );
    a2.leave_conference().unwrap();
}

/// chan_dahdi's three-way mode: a span channel in REALANDPSEUDO and a
/// pseudo in the same conference hear each other across the loop.
fn real_and_pseudo_conference() {
    let pair = LoopPair::create(4, 2, |_| Some((Signalling::Clear, Signalling::Clear)));
    let a1 = Channel::open(pair.chan(0, 1)).unwrap();
    let mut b1 = Channel::open(pair.chan(1, 1)).unwrap();
    a1.set_audio_mode(true).unwrap();
    b1.set_audio_mode(true).unwrap();
    linear(&mut b1);
    let mut p = Pseudo::open().unwrap();
    linear(&mut p);
    let conf = p.create_conference(ConfMode::conference()).unwrap();
    a1.join_conference(conf, ConfMode::real_and_pseudo())
        .unwrap();
    assert_eq!(
        a1.conference().unwrap().mode.mode(),
        ConfKind::RealAndPseudo
    );
    let h = exchange(
        &mut [
            (b1.as_channel_fd_mut(), Some((1000.0, 6000.0))),
            (p.as_channel_fd_mut(), Some((500.0, 6000.0))),
        ],
        2,
        40,
        12,
    );
    let (far, near) = (h[0].amp(500.0), h[1].amp(1000.0));
    println!("far end hears the pseudo at {far:.0}, the pseudo hears the far end at {near:.0}");
    assert!(far > 5000.0, "far end hears the pseudo: {far:.0}");
    assert!(near > 5000.0, "pseudo hears the far end: {near:.0}");
    // A conference-muted span channel no longer feeds what it receives
    // into the conference (putaudio: `!ms->confmute`).
    a1.set_conf_mute(true).unwrap();
    let h = exchange(
        &mut [
            (p.as_channel_fd_mut(), None),
            (b1.as_channel_fd_mut(), Some((1000.0, 6000.0))),
        ],
        1,
        40,
        12,
    );
    assert!(h[0].amp(1000.0) < 300.0, "muted: {}", h[0].amp(1000.0));
    a1.set_conf_mute(false).unwrap();
    a1.leave_conference().unwrap();
    p.leave_conference().unwrap();
}

/// Hook signalling crosses the loop (RBS bits, dahdi_rbsbits and
/// __dahdi_hooksig_pvt): FXS-signalled side off hook -> the FXO side gets
/// RINGOFFHOOK and sees rxisoffhook; pulse dialling "P5" -> PULSE_START and
/// PULSEDIGIT '5'; on hook -> ONHOOK; ringing with a cadence -> RINGERON /
/// RINGEROFF on the ringing side, RINGOFFHOOK (ring detected) on the other.
fn hook_signalling_crosses_the_loop() {
    let ctl = Ctl::open().unwrap();
    let zone = 43;
    ctl.load_tone_zone(&test_zone(zone)).unwrap();
    let result = std::panic::catch_unwind(|| {
        let pair = LoopPair::create(5, 2, |_| Some((Signalling::FxsKs, Signalling::FxoKs)));
        let fxs = Channel::open(pair.chan(0, 1)).unwrap();
        let fxo = Channel::open(pair.chan(1, 1)).unwrap();
        assert_eq!(fxs.params().unwrap().signalling, Signalling::FxsKs);
        // Let the initial hook states settle, then start clean.
        std::thread::sleep(Duration::from_millis(1600));
        fxs.flush(Flush::EVENT).unwrap();
        fxo.flush(Flush::EVENT).unwrap();
        assert!(!fxo.params().unwrap().rx_is_offhook);

        fxs.hook(Hook::OffHook).unwrap();
        let ev = events_until(&fxo, Duration::from_secs(2), |e| *e == Event::RingOffHook);
        assert!(ev.contains(&Event::RingOffHook), "fxo events {ev:?}");
        assert!(wait_until(Duration::from_secs(1), || fxo
            .params()
            .unwrap()
            .rx_is_offhook));

        fxs.dial(DialOp::Append, "P5").unwrap();
        let ev = events_until(&fxo, Duration::from_secs(4), |e| {
            matches!(e, Event::PulseDigit(_))
        });
        assert!(ev.contains(&Event::PulseStart), "fxo events {ev:?}");
        assert!(ev.contains(&Event::PulseDigit('5')), "fxo events {ev:?}");
        let ev = events_until(&fxs, Duration::from_secs(3), |e| *e == Event::DialComplete);
        assert!(
            ev.contains(&Event::DialComplete),
            "fxs events {ev:?}, dialing {:?}, params {:?}",
            fxs.is_dialing(),
            fxs.params()
        );

        // Flash, non-blocking: DAHDI_HOOK returns at once (EINPROGRESS),
        // HOOKCOMPLETE follows on this side; the FXO side sees an on-hook
        // of flashtime (750 ms), longer than a dial pulse: WINKFLASH.
        fxs.set_nonblocking(true).unwrap();
        let t = Instant::now();
        fxs.hook(Hook::Flash).unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "non-blocking flash waited"
        );
        let ev = events_until(&fxs, Duration::from_secs(3), |e| *e == Event::HookComplete);
        assert!(ev.contains(&Event::HookComplete), "fxs events {ev:?}");
        let ev = events_until(&fxo, Duration::from_secs(2), |e| *e == Event::WinkFlash);
        assert!(ev.contains(&Event::WinkFlash), "fxo events {ev:?}");
        fxs.set_nonblocking(false).unwrap();

        fxs.hook(Hook::OnHook).unwrap();
        let ev = events_until(&fxo, Duration::from_secs(3), |e| *e == Event::OnHook);
        assert!(ev.contains(&Event::OnHook), "fxo events {ev:?}");

        // An FXS channel ignores ringing for RING_DEBOUNCE_TIME (2000 ms)
        // after it hung up (dahdi_hangup sets ringdebtimer).
        std::thread::sleep(Duration::from_millis(2100));
        fxo.set_ring_cadence(&RingCadence(vec![200, 200])).unwrap();
        fxo.hook(Hook::Ring).unwrap();
        let ev = events_until(&fxo, Duration::from_secs(2), |e| *e == Event::RingerOn);
        assert!(
            ev.contains(&Event::RingerOff) && ev.contains(&Event::RingerOn),
            "{ev:?}"
        );
        fxo.hook(Hook::RingOff).unwrap();
        // The ringing side sees RINGBEGIN, then RINGOFFHOOK ("ring
        // detected") once the ring trailer (50 ms) after the ring ran out.
        let ev = events_until(&fxs, Duration::from_secs(3), |e| *e == Event::RingOffHook);
        assert!(ev.contains(&Event::RingBegin), "fxs events {ev:?}");
        assert!(ev.contains(&Event::RingOffHook), "fxs events {ev:?}");
        fxo.reset_ring_cadence().unwrap();
    });
    ctl.free_tone_zone(zone).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// E&M wink, blocking: DAHDI_HOOK waits until the wink is over (prewink
/// 50 ms + wink 150 ms); the far E&M side sees an off-hook shorter than
/// rxwinktime (300 ms): WINKFLASH.
fn em_wink_crosses_the_loop() {
    let pair = LoopPair::create(15, 1, |_| Some((Signalling::Em, Signalling::Em)));
    let a = Channel::open(pair.chan(0, 1)).unwrap();
    let b = Channel::open(pair.chan(1, 1)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    b.flush(Flush::EVENT).unwrap();
    let t = Instant::now();
    a.hook(Hook::Wink).unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(190),
        "blocking wink returned after {took:?}"
    );
    let ev = events_until(&b, Duration::from_secs(2), |e| *e == Event::WinkFlash);
    assert!(ev.contains(&Event::WinkFlash), "{ev:?}");
}

/// CAS bits cross the loop: SETTXBITS on one side, BITSCHANGED and
/// GETRXBITS on the other; idle bits as configured.
fn cas_bits_cross_the_loop() {
    let idle = sys::DAHDI_ABIT | sys::DAHDI_DBIT;
    let pair = LoopPair::create(6, 1, |_| None);
    for side in 0..2 {
        let mut cfg = ChanConfig::new(pair.chan(side, 1), Signalling::Cas);
        cfg.idle_bits = idle;
        pair.ctl.configure_channel(&cfg).unwrap();
    }
    let a = Channel::open(pair.chan(0, 1)).unwrap();
    let b = Channel::open(pair.chan(1, 1)).unwrap();
    assert_eq!(
        pair.ctl.channel_params(pair.chan(0, 1)).unwrap().idle_bits,
        idle
    );
    assert!(wait_until(Duration::from_secs(1), || b.rx_bits().unwrap()
        as i32
        == idle));
    b.flush(Flush::EVENT).unwrap();
    let bits = (sys::DAHDI_BBIT | sys::DAHDI_CBIT) as u8;
    a.set_tx_bits(bits).unwrap();
    let ev = events_until(&b, Duration::from_secs(1), |e| *e == Event::BitsChanged);
    assert!(ev.contains(&Event::BitsChanged), "{ev:?}");
    assert_eq!(b.rx_bits().unwrap(), bits);
    assert_eq!(a.params().unwrap().tx_bits, Some(bits as i32));
    // Hook operations are not for CAS channels (EINVAL).
    assert!(a.hook(Hook::OffHook).is_err());
}

/// Alarms follow the peer: destroy one span of a pair and the other goes
/// RED within about a second (check_for_red_alarm), its open channel gets
/// an ALARM event, and sysfs, dahdi_scan and the channel parameters agree;
/// recreate it and the alarm clears with NOALARM.
fn alarms_follow_the_peer() {
    let pair = LoopPair::create(7, 2, |_| Some((Signalling::Clear, Signalling::Clear)));
    let ctl = &pair.ctl;
    assert!(wait_alarms_clear(ctl, pair.numbers[0]).is_empty());
    let a = Channel::open(pair.chan(0, 1)).unwrap();
    a.flush(Flush::EVENT).unwrap();
    ctl.destroy_dynamic_span(&pair.spans[1]).unwrap();
    let red = wait_until(Duration::from_secs(4), || {
        ctl.span_info(pair.numbers[0])
            .unwrap()
            .alarms
            .contains(Alarms::RED)
    });
    assert!(red, "no red alarm");
    let ev = events_until(&a, Duration::from_secs(1), |e| *e == Event::Alarm);
    assert!(ev.contains(&Event::Alarm), "{ev:?}");
    assert!(a.params().unwrap().alarms.contains(Alarms::RED));
    let s = Sysfs::new();
    assert!(s
        .span(pair.numbers[0] as u32)
        .unwrap()
        .alarms
        .contains(Alarms::RED));
    assert!(s.span_channels(pair.numbers[0] as u32).unwrap()[0]
        .alarms
        .contains(Alarms::RED));
    let scan = dahdi_scan();
    assert_eq!(scan[&pair.numbers[0]]["alarms"], "RED");
    // The peer comes back.
    let n = ctl.create_dynamic_span(&pair.spans[1]).unwrap();
    assert!(wait_alarms_clear(ctl, pair.numbers[0]).is_empty());
    let ev = events_until(&a, Duration::from_secs(1), |e| *e == Event::NoAlarm);
    assert!(ev.contains(&Event::NoAlarm), "{ev:?}");
    assert!(n > 0);
}

/// `DAHDI_SIMULATE_ALARM` (Debian 13's DAHDI 3.1 only). On 3.1: a simulated
/// RED alarm shows in the span's status, sysfs and dahdi_scan, the open
/// channel gets ALARM, the peer span goes YELLOW as a line's far end does
/// (a span in RED sets the yellow flag of every frame it sends:
/// dahdi_dynamic_sendmessage(); the receiver turns it into YELLOW:
/// dahdi_dynamic_receive()), the receive path and the periodic red-alarm
/// check keep the simulated alarm (both OR the simulated alarms back in), and
/// an empty set clears both spans, with NOALARM; a span number that is no dynamic span
/// is ENODEV. Destroying the spans afterwards waits for an RCU grace period
/// (dahdi_dynamic's destroy_dynamic), which the driver's unbalanced
/// rcu_read_lock would block if the calling thread kept it. On 2.11 (no such
/// ioctl in its header or driver) the ctl device answers ENOTTY.
fn simulated_alarms_on_a_loc_span() {
    let version = std::fs::read_to_string("/sys/module/dahdi/version").unwrap();
    let ctl = Ctl::open().unwrap();
    if version.starts_with("2.") {
        let e = ctl.simulate_alarm(1, Alarms::RED).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NotSupported, "{e}");
        assert_eq!(e.errno(), Some(nix::errno::Errno::ENOTTY), "{e}");
        return;
    }
    assert!(
        version.starts_with("3."),
        "unexpected DAHDI version {version}"
    );
    let e = ctl.simulate_alarm(127, Alarms::RED).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NoSuchSpan(127), "{e}");
    // loc keys are one hex digit and all are taken; 7's spans
    // (alarms_follow_the_peer) are gone again.
    let pair = LoopPair::create(7, 2, |_| Some((Signalling::Clear, Signalling::Clear)));
    let ctl = &pair.ctl;
    let (span, peer) = (pair.numbers[0], pair.numbers[1]);
    assert!(wait_alarms_clear(ctl, span).is_empty());
    assert!(wait_alarms_clear(ctl, peer).is_empty());
    let a = Channel::open(pair.chan(0, 1)).unwrap();
    a.flush(Flush::EVENT).unwrap();

    ctl.simulate_alarm(span, Alarms::RED).unwrap();
    assert_eq!(ctl.span_info(span).unwrap().alarms, Alarms::RED);
    let ev = events_until(&a, Duration::from_secs(2), |e| *e == Event::Alarm);
    assert!(ev.contains(&Event::Alarm), "{ev:?}");
    assert!(a.params().unwrap().alarms.contains(Alarms::RED));
    let s = Sysfs::new();
    assert!(s.span(span as u32).unwrap().alarms.contains(Alarms::RED));
    assert_eq!(dahdi_scan()[&span]["alarms"], "RED");
    // The red-alarm check runs about once a second; the alarm outlives it.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(ctl.span_info(span).unwrap().alarms, Alarms::RED);
    assert_eq!(ctl.span_info(peer).unwrap().alarms, Alarms::YELLOW);

    ctl.simulate_alarm(span, Alarms::empty()).unwrap();
    assert!(wait_alarms_clear(ctl, span).is_empty());
    assert!(wait_alarms_clear(ctl, peer).is_empty());
    let ev = events_until(&a, Duration::from_secs(2), |e| *e == Event::NoAlarm);
    assert!(ev.contains(&Event::NoAlarm), "{ev:?}");
    drop(a);
    // LoopPair's drop destroys both spans (a grace period each).
}

/// Unconfigured channels, non-blocking reads, buffer events.
fn unconfigured_nonblocking_and_buffer_events() {
    let pair = LoopPair::create(8, 2, |pos| {
        (pos == 1).then_some((Signalling::Clear, Signalling::Clear))
    });
    // Position 2 has no signalling: ENXIO on open (dahdi_specchan_open).
    let e = Channel::open(pair.chan(0, 2)).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::ChannelNotConfigured(pair.chan(0, 2)),
        "{e}"
    );
    assert!(e.to_string().contains("configure it"), "{e}");
    let e = Channel::open_by_position(pair.numbers[0] as u32, 2).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::ChannelNotConfigured(_)),
        "{e}"
    );
    // Non-blocking: nothing to read yet right after a flush.
    let mut a = Channel::open_nonblocking(pair.chan(0, 1)).unwrap();
    assert!(a.is_nonblocking());
    a.set_blocksize(BLOCK).unwrap();
    a.flush(Flush::ALL).unwrap();
    let mut buf = vec![0u8; BLOCK];
    let e = a.read_block(&mut buf).unwrap_err();
    assert!(e.is_would_block(), "{e}");
    // poll says when a block is there (20 ms later).
    let r = a
        .poll_readiness(Readiness::READ, Some(Duration::from_millis(200)))
        .unwrap();
    assert!(r.contains(Readiness::READ));
    assert!(matches!(
        a.read_block(&mut buf).unwrap(),
        ReadOutcome::Audio(BLOCK)
    ));
    let m = a.iomux(IoMux::READ | IoMux::WRITE | IoMux::NOWAIT).unwrap();
    assert!(m.contains(IoMux::WRITE));
    // Buffer events: stop reading, the receive buffers overrun.
    a.set_nonblocking(false).unwrap();
    a.set_buffer_events(true).unwrap();
    // The span's clock fills the buffers in a few hundred milliseconds of its own
    // time; a loaded host stalls the emulated guest for seconds, so the wait is long.
    let ev = events_until(&a, Duration::from_secs(10), |e| *e == Event::ReadOverrun);
    assert!(ev.contains(&Event::ReadOverrun), "{ev:?}");
    a.set_buffer_events(false).unwrap();
}

/// SPANCONFIG, STARTUP and SHUTDOWN read back through SPANSTAT and sysfs.
fn spanconfig_startup_shutdown() {
    let pair = LoopPair::create(9, 4, |_| Some((Signalling::Clear, Signalling::Clear)));
    let ctl = &pair.ctl;
    let n = pair.numbers[0];
    let lc = LineConfig::ESF | LineConfig::B8ZS;
    ctl.configure_span(&SpanConfig {
        span: n,
        sync: 0,
        lbo: 0,
        line_config: lc,
    })
    .unwrap();
    // The loc driver has no spanconfig operation, so lineconfig is only
    // stored when the driver has one (dahdi_ioctl_spanconfig).
    let info = ctl.span_info(n).unwrap();
    println!("lineconfig after SPANCONFIG: {:?}", info.line_config);
    // Framing outside linecompat is refused (EINVAL).
    let e = ctl
        .configure_span(&SpanConfig {
            span: n,
            sync: 0,
            lbo: 0,
            line_config: LineConfig::NTTE,
        })
        .unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL));
    assert_eq!(
        ctl.configure_span(&SpanConfig {
            span: 120,
            sync: 0,
            lbo: 0,
            line_config: lc
        })
        .unwrap_err()
        .kind(),
        &ErrorKind::NoSuchSpan(120)
    );
    ctl.startup(n).unwrap();
    assert_eq!(ctl.span_info(n).unwrap().configured_channels, 4);
    ctl.shutdown(n).unwrap();
    // SHUTDOWN unconfigures every channel (dahdi_shutdown_span: sig = 0).
    assert_eq!(ctl.span_info(n).unwrap().configured_channels, 0);
    let s = Sysfs::new();
    assert!(s
        .span_channels(n as u32)
        .unwrap()
        .iter()
        .all(|c| c.signalling == Signalling::None));
    assert_eq!(
        ctl.startup(120).unwrap_err().kind(),
        &ErrorKind::NoSuchSpan(120)
    );
}

/// Echo canceller: attach mg2 through ctl, enable on an open channel; the
/// sysfs ec_factory and ec_state attributes follow.
fn echo_canceller() {
    let pair = LoopPair::create(10, 2, |_| Some((Signalling::FxsKs, Signalling::FxoKs)));
    let ch = pair.chan(0, 1);
    pair.ctl.attach_echocan(ch, "mg2").unwrap();
    assert!(pair.ctl.attach_echocan(ch, "nosuchec").is_err());
    let c = Channel::open(ch).unwrap();
    let s = Sysfs::new();
    let entry = |s: &Sysfs| s.span_channels(pair.numbers[0] as u32).unwrap()[0].clone();
    assert_eq!(entry(&s).ec_factory, "MG2");
    assert_eq!(entry(&s).ec_state, "INACTIVE");
    c.set_echo_cancel(128).unwrap();
    assert_eq!(entry(&s).ec_state, "ACTIVE");
    c.set_echo_cancel(0).unwrap();
    assert_eq!(entry(&s).ec_state, "INACTIVE");
    c.set_echo_cancel_params(&EchoCanParams {
        tap_length: 256,
        params: vec![],
    })
    .unwrap();
    assert_eq!(entry(&s).ec_state, "ACTIVE");
    c.echo_train(100).unwrap();
    let too_many = EchoCanParams {
        tap_length: 128,
        params: (0..9).map(|i| (format!("p{i}"), i)).collect(),
    };
    assert!(matches!(
        c.set_echo_cancel_params(&too_many).unwrap_err().kind(),
        ErrorKind::InvalidArgument(_)
    ));
    c.set_echo_cancel(0).unwrap();
    drop(c);
    pair.ctl.attach_echocan(ch, "").unwrap();
    assert_eq!(entry(&s).ec_factory, "");
}

/// Span assignment through sysfs: unassign a span, then assign it with an
/// explicit span number and base channel; SPANSTAT, sysfs and the
/// /dev/dahdi/chan nodes follow.
fn span_assignment_through_sysfs() {
    let ctl = Ctl::open().unwrap();
    let span = DynamicSpan::local(11, 0, 3).unwrap();
    let n = ctl.create_dynamic_span(&span).unwrap();
    let s = Sysfs::new();
    let result = std::panic::catch_unwind(|| {
        let dev = s.device_by_hardware_id(&span.span_name()).unwrap().unwrap();
        assert_eq!(dev.assigned_spans, vec![n as u32]);
        s.unassign_span(&dev.name, 1).unwrap();
        assert!(s.device(&dev.name).unwrap().assigned_spans.is_empty());
        assert_eq!(
            ctl.span_info(n).unwrap_err().kind(),
            &ErrorKind::NoSuchSpan(n)
        );
        s.assign_span(&dev.name, 1, 100, 900).unwrap();
        assert_eq!(s.device(&dev.name).unwrap().assigned_spans, vec![100]);
        let info = ctl.span_info(100).unwrap();
        assert_eq!(info.name, span.span_name());
        assert_eq!(s.span(100).unwrap().basechan, Some(900));
        assert!(std::path::Path::new("/dev/dahdi/chan/100/001").exists());
        ctl.configure_channel(&ChanConfig::new(902, Signalling::Clear))
            .unwrap();
        let c = Channel::open_by_position(100, 3).unwrap();
        assert_eq!(c.channel_number(), 902);
        drop(c);
        s.unassign_span(&dev.name, 1).unwrap();
        s.auto_assign(&dev.name).unwrap();
        assert_eq!(s.device(&dev.name).unwrap().assigned_spans.len(), 1);
    });
    ctl.destroy_dynamic_span(&span).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// With auto_assign_spans=0 (Debian's default) a new span waits,
/// unassigned, on dahdi_devices: DAHDI_DYNAMIC_CREATE returns span 0,
/// SPANSTAT and sysfs know no span and no channel, until user space
/// writes the device's auto_assign.
fn unassigned_until_assigned_with_auto_assign_off() {
    let s = Sysfs::new();
    s.set_auto_assign_spans(false).unwrap();
    assert_eq!(s.auto_assign_spans(), Some(false));
    let ctl = Ctl::open().unwrap();
    let span = DynamicSpan::local(14, 0, 2).unwrap();
    let created = ctl.create_dynamic_span(&span);
    let result = std::panic::catch_unwind(|| {
        assert_eq!(created.clone().unwrap(), 0, "not assigned yet");
        let dev = s.device_by_hardware_id(&span.span_name()).unwrap().unwrap();
        assert!(dev.assigned_spans.is_empty());
        assert_eq!(dev.span_count, 1);
        assert!(ctl.spans().unwrap().is_empty());
        assert!(s.spans().unwrap().is_empty());
        assert!(s.channels().unwrap().is_empty());
        s.auto_assign(&dev.name).unwrap();
        let n = s.device(&dev.name).unwrap().assigned_spans;
        assert_eq!(n.len(), 1);
        assert_eq!(ctl.span_info(n[0] as i32).unwrap().name, span.span_name());
        assert_eq!(s.span_channels(n[0]).unwrap().len(), 2);
    });
    if created.is_ok() {
        ctl.destroy_dynamic_span(&span).unwrap();
    }
    s.set_auto_assign_spans(true).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

const SYSTEM_CONF: &str = "\
# spans and channels for the dahdi_cfg cross-check
dynamic=loc,c:0,8,0
dynamic=loc,c:1,8,0
fxsks=1-4
bchan=5-6
cas=7-8:1101
fxoks=9-12
bchan=13-14
alaw=13-14
cas=15-16:0101
loadzone=us
defaultzone=us
";

/// Spans configured by dahdi_cfg from a system.conf are read back by this
/// crate as the file says (and the tone zone it loads becomes the
/// default); then removed again.
fn dahdi_cfg_configuration_reads_back() {
    let ctl = Ctl::open().unwrap();
    assert!(ctl.spans().unwrap().is_empty(), "start with no spans");
    std::fs::write("/tmp/system.conf", SYSTEM_CONF).unwrap();
    let out = Command::new("/usr/sbin/dahdi_cfg")
        .args(["-vv", "-c", "/tmp/system.conf"])
        .output()
        .expect("run dahdi_cfg");
    println!(
        "dahdi_cfg: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result = std::panic::catch_unwind(|| {
        assert!(out.status.success());
        let spans = ctl.spans().unwrap();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["DYN/loc/c:0", "DYN/loc/c:1"]);
        let bits = |s: &str| {
            s.chars()
                .zip([
                    sys::DAHDI_ABIT,
                    sys::DAHDI_BBIT,
                    sys::DAHDI_CBIT,
                    sys::DAHDI_DBIT,
                ])
                .filter(|(c, _)| *c == '1')
                .map(|(_, b)| b)
                .sum::<i32>()
        };
        let want = |ch: i32| -> (Signalling, Law, i32) {
            match ch {
                1..=4 => (Signalling::FxsKs, Law::Mulaw, 0),
                5..=6 => (Signalling::Clear, Law::Mulaw, 0),
                7..=8 => (Signalling::Cas, Law::Mulaw, bits("1101")),
                9..=12 => (Signalling::FxoKs, Law::Mulaw, 0),
                13..=14 => (Signalling::Clear, Law::Alaw, 0),
                _ => (Signalling::Cas, Law::Mulaw, bits("0101")),
            }
        };
        for ch in 1..=16 {
            let (p, master) = ctl.channel_params_and_master(ch).unwrap();
            let (sig, law, idle) = want(ch);
            assert_eq!(p.signalling, sig, "channel {ch}");
            assert_eq!(p.idle_bits, idle, "channel {ch}");
            assert_eq!(master, ch, "channel {ch} is its own master");
            if sig != Signalling::Clear && law == Law::Alaw {
                assert_eq!(p.law, law, "channel {ch}");
            }
            assert_eq!(
                p.span,
                if ch <= 8 {
                    spans[0].span
                } else {
                    spans[1].span
                }
            );
        }
        // A-law as deflaw: a freshly opened channel uses it.
        let c = Channel::open(13).unwrap();
        assert_eq!(c.params().unwrap().law, Law::Alaw);
        // dahdi_cfg loaded the "us" zone (zone 0) and made it the default.
        let p = Pseudo::open().unwrap();
        assert_eq!(p.tone_zone().unwrap(), 0);
        assert!(p.send_tone(Tone::DialTone).is_ok());
        drop((c, p));
        // dahdi_scan and this crate agree on the configured count.
        let scan = dahdi_scan();
        for s in &spans {
            assert_eq!(s.configured_channels, 8);
            assert_eq!(scan[&s.span]["alarms"], "OK");
        }
    });
    for id in [1, 0] {
        ctl.destroy_dynamic_span(&DynamicSpan::local(12, id, 8).unwrap())
            .unwrap();
    }
    ctl.free_tone_zone(0).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

// ---- the spans example of the crate docs, against dahdi_cfg -------------

/// The two loc spans of the crate docs' spans example (key 0).
const EXAMPLE_SPANS: &str = "dynamic=loc,0:0,24,0\ndynamic=loc,0:1,24,0\n";

/// Runs dahdi_cfg on `conf`; it must succeed.
fn dahdi_cfg(conf: &str) {
    std::fs::write("/tmp/system.conf", conf).unwrap();
    let out = Command::new("/usr/sbin/dahdi_cfg")
        .args(["-c", "/tmp/system.conf"])
        .output()
        .expect("run dahdi_cfg");
    assert!(
        out.status.success(),
        "dahdi_cfg {conf:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes the example's spans (and the tone zone dahdi_cfg loads when a
/// system.conf names none) when dropped.
struct ExampleSpans<'a>(&'a Ctl);

impl ExampleSpans<'_> {
    fn spans() -> [DynamicSpan; 2] {
        [0, 1].map(|id| DynamicSpan::local(0, id, 24).unwrap())
    }
}

impl Drop for ExampleSpans<'_> {
    fn drop(&mut self) {
        for s in Self::spans().iter().rev() {
            let r = self.0.destroy_dynamic_span(s);
            if !std::thread::panicking() {
                r.unwrap();
            }
        }
        let _ = self.0.free_tone_zone(0);
    }
}

/// What the kernel shows of its spans and channels, by every source the
/// example's documentation names: /proc/dahdi, sysfs, dahdi_scan, and
/// DAHDI_GET_PARAMS with each channel's master.
#[derive(Debug, PartialEq)]
struct SpanView {
    proc: Vec<String>,
    sysfs_spans: Vec<dahdi::sysfs::SpanSysfs>,
    sysfs_channels: Vec<dahdi::sysfs::ChannelSysfs>,
    params: Vec<(dahdi::ChannelParams, i32)>,
    scan: String,
}

impl SpanView {
    /// Once the loc spans' alarms have cleared.
    fn now(ctl: &Ctl) -> SpanView {
        let spans = ctl.spans().unwrap();
        for s in &spans {
            assert!(wait_alarms_clear(ctl, s.span).is_empty());
        }
        let sysfs = Sysfs::new();
        let scan = Command::new("/usr/sbin/dahdi_scan").output().unwrap();
        assert!(scan.status.success());
        let channels = sysfs.channels().unwrap();
        SpanView {
            proc: spans
                .iter()
                .map(|s| std::fs::read_to_string(format!("/proc/dahdi/{}", s.span)).unwrap())
                .collect(),
            sysfs_spans: sysfs
                .spans()
                .unwrap()
                .into_iter()
                // The device's name counts dynamic devices ever made.
                .map(|s| dahdi::sysfs::SpanSysfs { device: None, ..s })
                .collect(),
            params: channels
                .iter()
                .map(|c| ctl.channel_params_and_master(c.channel).unwrap())
                .collect(),
            sysfs_channels: channels,
            scan: String::from_utf8(scan.stdout).unwrap(),
        }
    }

    /// Lines on which the two views differ, for the failure message.
    fn differences(&self, other: &SpanView) -> Vec<String> {
        let a = format!("{self:#?}");
        let b = format!("{other:#?}");
        a.lines()
            .zip(b.lines())
            .filter(|(x, y)| x != y)
            .map(|(x, y)| format!("dahdi_cfg: {x}\n     API: {y}"))
            .take(20)
            .collect()
    }
}

/// The crate docs' spans example, both ways it offers: `bchan=1-48` (every
/// channel clear, on its own: `Ctl::configure_channels`) and `clear=1-48`
/// (one bundle, channel 1 the master of 2..=48: `Ctl::configure_bundle`).
/// For each, dahdi_cfg configures the spans from a system.conf and the API
/// configures them again from scratch; /proc/dahdi, sysfs, dahdi_scan and
/// every channel's parameters and master read the same. Then what the
/// bundle means, from the kernel: 2..=48 have master 1 and cannot be
/// opened, /proc marks 1 as Master; and a clear channel takes linear mode
/// only after audio mode, the error saying so.
fn spans_example_matches_dahdi_cfg() {
    let ctl = Ctl::open().unwrap();
    assert!(ctl.spans().unwrap().is_empty(), "start with no spans");
    for keyword in ["bchan", "clear"] {
        let by_dahdi_cfg = {
            let _spans = ExampleSpans(&ctl);
            dahdi_cfg(&format!("{EXAMPLE_SPANS}{keyword}=1-48\n"));
            SpanView::now(&ctl)
        };
        let _spans = ExampleSpans(&ctl);
        let mut ranges = Vec::new();
        for span in ExampleSpans::spans() {
            let spanno = ctl.create_dynamic_span(&span).unwrap();
            let first = Sysfs::new().span(spanno as u32).unwrap().basechan.unwrap();
            ranges.push(first..=first + ctl.span_info(spanno).unwrap().total_channels - 1);
        }
        assert_eq!(ranges, [1..=24, 25..=48]);
        if keyword == "bchan" {
            for r in &ranges {
                ctl.configure_channels(r.clone(), Signalling::Clear)
                    .unwrap();
            }
        } else {
            ctl.configure_bundle(1..=48, Signalling::Clear).unwrap();
        }
        // dahdi_cfg then opens every channel once (apply_fiftysix(), to set
        // its HDLC rate; slaves refuse, EBUSY, and it goes on), and an open
        // sets a channel's timing parameters to the kernel's defaults
        // (initialize_channel()): before it they read 0. Do the same.
        for ch in 1..=48 {
            let _ = Channel::open(ch);
        }
        let by_api = SpanView::now(&ctl);
        println!("{keyword}=1-48:\n{}", by_api.proc.join(""));
        assert!(
            by_dahdi_cfg == by_api,
            "{keyword}=1-48: dahdi_cfg and the API differ:\n{}",
            by_dahdi_cfg.differences(&by_api).join("\n")
        );

        let bundled = keyword == "clear";
        for (p, master) in &by_api.params {
            assert_eq!(p.signalling, Signalling::Clear, "channel {}", p.channel);
            assert_eq!(*master, if bundled { 1 } else { p.channel });
        }
        let first_line = by_api.proc[0]
            .lines()
            .find(|l| l.trim_start().starts_with("1 "))
            .unwrap();
        assert_eq!(first_line.contains("Clear Master"), bundled, "{first_line}");
        for slave in [2, 30] {
            let opened = Channel::open(slave);
            if bundled {
                assert_eq!(
                    opened.unwrap_err().kind(),
                    &ErrorKind::ChannelBusy(slave),
                    "a slave cannot be opened"
                );
            } else {
                opened.unwrap();
            }
        }

        // set_linear on a clear channel: audio mode first.
        let mut chan = Channel::open(1).unwrap();
        let e = chan.set_linear(true).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NotAudioMode);
        assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL));
        assert_eq!(e.op(), "DAHDI_SETLINEAR");
        assert!(e.to_string().contains("set_audio_mode(true)"), "{e}");
        assert!(!chan.is_linear());
        chan.set_audio_mode(true).unwrap();
        chan.set_linear(true).unwrap();
        assert!(chan.is_linear());
    }
}

// ---- the lsdahdi example against dahdi-tools' lsdahdi and dahdi_scan ---

/// Bundles (clear=, fcshdlc=), signalling of several kinds, unconfigured
/// channels, an echo canceller, and a third span without a peer (in alarm).
const LSDAHDI_CONF: &str = "\
dynamic=loc,0:0,24,0
dynamic=loc,0:1,24,0
dynamic=loc,9:0,2,0
clear=1-4
fxsks=5-8
bchan=9-24
fcshdlc=25-27
fxoks=28-31
echocanceller=mg2,28-31
bchan=49-50
";

/// The spans of LSDAHDI_CONF, removed (with the zone dahdi_cfg loads) when
/// dropped.
struct LsdahdiSpans<'a>(&'a Ctl);

impl Drop for LsdahdiSpans<'_> {
    fn drop(&mut self) {
        for (key, id, n) in [(9, 0, 2), (0, 1, 24), (0, 0, 24)] {
            let r = self
                .0
                .destroy_dynamic_span(&DynamicSpan::local(key, id, n).unwrap());
            if !std::thread::panicking() {
                r.unwrap();
            }
        }
        let _ = self.0.free_tone_zone(0);
    }
}

/// Runs a program of the guest; its output and exit status.
fn run(program: &str, args: &[&str]) -> (String, String, std::process::ExitStatus) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status,
    )
}

/// One channel line of dahdi-tools' lsdahdi (`%3d %-10s %-10s %s %s %s`:
/// number, type, signalling, remarks in parentheses, battery, alarms), read
/// back with the words of its own parser (Dahdi::Chans).
#[derive(Debug)]
struct PerlChannel {
    signalling: String,
    remarks: String,
    alarms: Alarms,
}

fn perl_channel(line: &str) -> (i32, PerlChannel) {
    let mut rest = line.trim().to_owned();
    let mut remarks = String::new();
    while let (Some(a), Some(b)) = (rest.find('('), rest.find(')')) {
        remarks.push_str(&rest[a..=b]);
        rest.replace_range(a..=b, " ");
    }
    let mut words = rest.split_whitespace();
    let num: i32 = words.next().unwrap().parse().unwrap();
    let _type = words.next().unwrap();
    let rest: Vec<&str> = words.collect();
    let alarms = Alarms::from_kernel_string(&rest.join(" "));
    let signalling = rest
        .iter()
        .copied()
        .filter(|w| Alarms::from_kernel_string(w).is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (
        num,
        PerlChannel {
            signalling,
            remarks,
            alarms,
        },
    )
}

/// The lsdahdi example and dahdi-tools agree on the real driver, for spans
/// dahdi_cfg configured: every span's name, description, timing master,
/// channel count, base channel and state (dahdi_scan's alarms= line), and
/// every channel's signalling, use, alarms and echo canceller as dahdi-tools'
/// lsdahdi prints them (from /proc/dahdi). Bundles are what the system.conf
/// asked for, and the masters are the channels /proc marks "Master" (which
/// dahdi-tools' lsdahdi does not parse: it warns about them). The text
/// shows the same.
fn lsdahdi_agrees_with_dahdi_tools() {
    let ctl = Ctl::open().unwrap();
    assert!(ctl.spans().unwrap().is_empty(), "start with no spans");
    let _spans = LsdahdiSpans(&ctl);
    dahdi_cfg(LSDAHDI_CONF);
    assert!(wait_alarms_clear(&ctl, 1).is_empty());
    assert!(wait_alarms_clear(&ctl, 2).is_empty());
    assert!(
        wait_until(Duration::from_secs(4), || ctl
            .span_info(3)
            .unwrap()
            .alarms
            .contains(Alarms::RED)),
        "the span without a peer goes RED"
    );
    let _in_use = Channel::open(9).unwrap();

    let (json, err, status) = run("/usr/bin/lsdahdi-rs", &["--json"]);
    assert!(status.success(), "lsdahdi --json: {status}: {err}");
    let listing: serde_json::Value = serde_json::from_str(&json).unwrap();
    let (text, err, status) = run("/usr/bin/lsdahdi-rs", &[]);
    assert!(status.success(), "lsdahdi: {status}: {err}");
    println!("lsdahdi example:\n{text}");
    let (perl, perl_err, status) = run("/usr/sbin/lsdahdi", &[]);
    assert!(
        status.success(),
        "dahdi-tools' lsdahdi: {status}: {perl_err}"
    );
    println!("dahdi-tools' lsdahdi:\n{perl}{perl_err}");
    let scan = dahdi_scan();

    assert_eq!(listing["ctl"], true);
    let spans = listing["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    // dahdi-tools' lsdahdi: "### Span %2d: NAME DESCRIPTION", then channels.
    let mut perl_spans: Vec<(String, String)> = Vec::new();
    let mut perl_chans: HashMap<i32, PerlChannel> = HashMap::new();
    for line in perl.lines() {
        if let Some(head) = line.strip_prefix("### Span ") {
            let (_, rest) = head.split_once(": ").unwrap();
            let (name, desc) = rest.split_once(' ').unwrap();
            perl_spans.push((name.to_owned(), desc.to_owned()));
        } else if !line.trim().is_empty() {
            let (n, c) = perl_channel(line);
            perl_chans.insert(n, c);
        }
    }
    assert_eq!(perl_spans.len(), 3, "{perl}");
    let mut masters_seen = Vec::new();
    for (s, (perl_name, perl_desc)) in spans.iter().zip(&perl_spans) {
        let n = s["span"].as_i64().unwrap() as i32;
        let scan = &scan[&n];
        assert_eq!(s["name"], scan["name"].as_str());
        assert_eq!(s["name"], perl_name.as_str());
        assert_eq!(s["description"], scan["description"].as_str());
        let desc = s["description"].as_str().unwrap();
        assert!(perl_desc.starts_with(&format!("\"{desc}\"")), "{perl_desc}");
        assert_eq!(
            s["is_sync_master"].as_bool().unwrap(),
            perl_desc.contains("(MASTER)")
        );
        assert_eq!(s["state"], scan["alarms"].as_str(), "span {n}");
        assert_eq!(
            s["status"]["total_channels"].to_string(),
            scan["totchans"],
            "span {n}"
        );
        assert_eq!(s["basechan"].to_string(), scan["basechan"], "span {n}");
        let head = text
            .lines()
            .find(|l| l.starts_with(&format!("### Span {n:2}:")))
            .unwrap();
        assert!(head.contains(&format!(" {}, ", scan["alarms"])), "{head}");
        for c in s["channel_list"].as_array().unwrap() {
            let num = c["channel"].as_i64().unwrap() as i32;
            let perl = &perl_chans[&num];
            let sig = if perl.signalling.is_empty() {
                "Unconfigured"
            } else {
                &perl.signalling
            };
            let sig = Signalling::from_kernel_name(sig).unwrap();
            assert_eq!(c["signalling"], format!("{sig:?}"), "channel {num}");
            assert_eq!(
                c["in_use"].as_bool().unwrap(),
                perl.remarks.contains("(In use)"),
                "channel {num}"
            );
            let alarms = c["alarms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| Alarms::from_name(a.as_str().unwrap()).unwrap())
                .fold(Alarms::empty(), |x, y| x | y);
            assert_eq!(alarms, perl.alarms, "channel {num}");
            let ec = c["ec_factory"].as_str().unwrap();
            assert_eq!(
                !ec.is_empty(),
                perl.remarks
                    .contains(&format!("(EC: {ec} - {})", c["ec_state"].as_str().unwrap())),
                "channel {num}: {}",
                perl.remarks
            );
            // The bundle, as LSDAHDI_CONF asks for it.
            let (master, slaves): (i32, Vec<i32>) = match num {
                1 => (1, vec![2, 3, 4]),
                2..=4 => (1, vec![]),
                25 => (25, vec![26, 27]),
                26..=27 => (25, vec![]),
                n => (n, vec![]),
            };
            assert_eq!(c["master"], master, "channel {num}");
            assert_eq!(c["slaves"], serde_json::json!(slaves), "channel {num}");
            let line = text
                .lines()
                .find(|l| l.split_whitespace().next() == Some(num.to_string().as_str()))
                .unwrap();
            if !slaves.is_empty() {
                masters_seen.push(c["name"].as_str().unwrap().to_owned());
                assert!(line.contains("Master of "), "{line}");
            }
            if master != num {
                assert!(line.contains(&format!("Slave of {master}")), "{line}");
            }
        }
    }
    assert_eq!(perl_chans.len(), 50);
    // /proc marks a master "Master", which dahdi-tools' parser calls garbage.
    let mut marked: Vec<String> = perl_err
        .lines()
        .filter(|l| {
            l.starts_with("Unrecognized garbage")
                && l.split('\'').nth(1).map(str::trim) == Some("Master")
        })
        .map(|l| l.rsplit(" in ").next().unwrap().trim().to_owned())
        .collect();
    marked.sort();
    masters_seen.sort();
    assert_eq!(marked, masters_seen, "{perl_err}");
    assert!(text.contains("(In use)"));
    assert!(text.contains("(EC: MG2 - INACTIVE)"));
}

/// The lsdahdi example as a command: --help, JSON errors under --json (a
/// missing sysfs, bad arguments), and a reader that is gone before the
/// listing is written (`lsdahdi | head`): no panic, a quiet exit.
fn lsdahdi_command_line() {
    let (out, _, status) = run("/usr/bin/lsdahdi-rs", &["--help"]);
    assert!(status.success());
    assert!(
        out.contains("Usage: lsdahdi") && out.contains("--json"),
        "{out}"
    );

    let (out, err, status) = run(
        "/usr/bin/lsdahdi-rs",
        &["--json", "--sysfs-root", "/nonexistent"],
    );
    assert_eq!(status.code(), Some(1));
    assert!(err.is_empty(), "{err}");
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["error"]["kind"], "ModuleNotLoaded");
    assert_eq!(e["error"]["path"], "/nonexistent/bus/dahdi_devices");
    let (out, _, status) = run("/usr/bin/lsdahdi-rs", &["--json", "--bogus"]);
    assert_eq!(status.code(), Some(2));
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["error"]["kind"], "Usage");

    let pair = LoopPair::create(0, 24, |_| Some((Signalling::Clear, Signalling::Clear)));
    for args in [&[][..], &["--json"][..]] {
        // A pipe whose reader is gone: the first write fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new("/usr/bin/lsdahdi-rs")
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {}: {err}", out.status);
        assert!(err.is_empty(), "{args:?}: {err}");
    }
    let out = Command::new("sh")
        .args(["-c", "/usr/bin/lsdahdi-rs | head -n 1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("DAHDI "));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(pair);
}

/// The kernel is left as found: no spans, no devices.
fn nothing_left_behind() {
    let ctl = Ctl::open().unwrap();
    assert!(ctl.spans().unwrap().is_empty());
    assert!(Sysfs::new().devices().unwrap().is_empty());
    let p = Pseudo::open().unwrap();
    assert_eq!(p.tone_zone().unwrap(), 0);
    assert_eq!(
        p.send_tone(Tone::Busy).unwrap_err().kind(),
        &ErrorKind::NoToneZone
    );
}

// ---- conferences: nothing of an earlier conference is heard ---------

/// The samples a new member read that were not silent, over `blocks`
/// blocks (the new conference has no talker: anything heard is stale).
fn not_silent(member: &mut Pseudo, blocks: usize) -> Vec<i16> {
    let mut ev = Vec::new();
    let mut loud = Vec::new();
    for _ in 0..blocks {
        loud.extend(
            read_samples(member, &mut ev)
                .into_iter()
                .filter(|&v| v != 0),
        );
    }
    loud
}

/// create_conference, join_conference (into an empty number) and
/// set_conference_of, in a listening mode each, after the highest slot was
/// left holding another conference's sums (guest-driver's
/// `reused_conference_slot_replays_the_last_conference` shows the raw
/// kernel replaying them in every cycle of the same setup): every sample
/// heard is silent, in every cycle.
fn reused_conference_slot_is_heard_silent() {
    type Join = fn(&Pseudo) -> i32;
    let joins: [(&str, Join); 5] = [
        ("create_conference(conference)", |m| {
            m.create_conference(ConfMode::conference()).unwrap()
        }),
        ("create_conference(listener)", |m| {
            m.create_conference(ConfMode::listener()).unwrap()
        }),
        ("create_conference(conference_monitor)", |m| {
            m.create_conference(ConfMode::conference_monitor()).unwrap()
        }),
        ("join_conference(700, conference)", |m| {
            m.join_conference(700, ConfMode::conference()).unwrap()
        }),
        ("set_conference_of(self, 701, conference)", |m| {
            let me = m.number().unwrap();
            m.set_conference_of(me, 701, ConfMode::conference())
                .unwrap()
        }),
    ];
    for cycle in 0..4 {
        for (what, join) in &joins {
            dahdi_tests::slots::leave_stale_sums(1);
            let mut member = Pseudo::open().unwrap();
            linear(&mut member);
            let confno = join(&member);
            assert_eq!(member.conference().unwrap().confno, confno);
            let heard = not_silent(&mut member, 6);
            assert!(
                heard.is_empty(),
                "cycle {cycle}, {what}: a new member heard {} samples of the last conference: \
                 {heard:?}",
                heard.len()
            );
            member.leave_conference().unwrap();
        }
    }
}

/// A pseudo channel that moves from conference X to Y hears nothing of X:
/// what X mixed into its read queue before the move is discarded.
fn moving_to_another_conference_hears_nothing_of_the_first() {
    let mut talker = Pseudo::open().unwrap();
    let mut mover = Pseudo::open().unwrap();
    linear(&mut talker);
    linear(&mut mover);
    let x = talker.create_conference(ConfMode::talker()).unwrap();
    mover.join_conference(x, ConfMode::listener()).unwrap();
    // The talker talks while the mover does not read: its four buffers fill
    // with X's mix (a blocking write paces at one block per 20 ms).
    for b in 0..8 {
        write_samples(&mut talker, &tone(1000.0, 8000.0, b * BLOCK, BLOCK));
    }
    let y = mover.create_conference(ConfMode::conference()).unwrap();
    assert_ne!(x, y);
    // The talker goes on talking in X.
    for b in 8..12 {
        write_samples(&mut talker, &tone(1000.0, 8000.0, b * BLOCK, BLOCK));
    }
    let heard = not_silent(&mut mover, 6);
    assert!(
        heard.is_empty(),
        "after the move, {} samples of the first conference were heard",
        heard.len()
    );
}

fn main() {
    dahdi_tests::guest::guest_main(dahdi_tests::guest_tests![
        version_and_echo_cancellers,
        missing_devices_read_as_instructions,
        pseudo_numbers_and_params,
        blocksize_and_buffer_policies,
        when_full_policy_holds_audio_back,
        law_and_linear_block_sizes,
        conference_modes,
        reused_conference_slot_is_heard_silent,
        moving_to_another_conference_hears_nothing_of_the_first,
        monitoring_a_pseudo_channel_is_refused,
        timers,
        gains,
        tones_dialling_and_events,
        loc_spans_agree_with_sysfs_proc_and_dahdi_scan,
        audio_crosses_the_loop,
        monitor_and_digitalmon_on_span_channels,
        real_and_pseudo_conference,
        hook_signalling_crosses_the_loop,
        em_wink_crosses_the_loop,
        cas_bits_cross_the_loop,
        alarms_follow_the_peer,
        simulated_alarms_on_a_loc_span,
        unconfigured_nonblocking_and_buffer_events,
        spanconfig_startup_shutdown,
        echo_canceller,
        span_assignment_through_sysfs,
        unassigned_until_assigned_with_auto_assign_off,
        dahdi_cfg_configuration_reads_back,
        spans_example_matches_dahdi_cfg,
        lsdahdi_agrees_with_dahdi_tools,
        lsdahdi_command_line,
        nothing_left_behind,
    ]);
}
