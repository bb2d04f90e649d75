//! The driver's version, missing device nodes, pseudo channels' parameters,
//! block sizes and buffer policies, timers, gains, tones and dialling.

use std::time::{Duration, Instant};

use dahdi::{
    BufferInfo, BufferPolicy, Channel, ConfMode, Ctl, DialOp, ErrorKind, Event, Flush, Gains, Law,
    Pseudo, ReadOutcome, Signalling, Sysfs, Timer, Tone,
};
use dahdi_sys as sys;
use dahdi_tests::signal::{amplitude_at, rms, tone, BLOCK};

use crate::channel_io::{exchange, linear, read_samples, write_samples, Heard};
use crate::fixtures::{test_zone, LoopPair};

/// GETVERSION equals the module's own MODULE_VERSION in sysfs, and the
/// echo cancellers list the loaded dahdi_echocan_mg2 ("MG2").
pub(crate) fn version_and_echo_cancellers() {
    let v = Ctl::open().unwrap().version().unwrap();
    let sysfs = std::fs::read_to_string("/sys/module/dahdi/version").unwrap();
    assert_eq!(v.version, sysfs.trim());
    assert!(std::path::Path::new("/sys/module/dahdi_echocan_mg2").exists());
    assert!(v.echo_cancellers.iter().any(|e| e == "MG2"), "{v:?}");
    assert_eq!(Sysfs::new().auto_assign_spans(), Some(true));
}

/// Missing nodes give the documented errors and instructions.
pub(crate) fn missing_devices_read_as_instructions() {
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
/// `"Pseudo/<chanpos>"`, clear signalling, mu-law, no span (dahdi_alloc_pseudo).
pub(crate) fn pseudo_numbers_and_params() {
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
pub(crate) fn blocksize_and_buffer_policies() {
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
pub(crate) fn when_full_policy_holds_audio_back() {
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
pub(crate) fn law_and_linear_block_sizes() {
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

/// Timers: period, POLLPRI, ack, ping/pong (dahdi_timer_unlocked_ioctl,
/// dahdi_timer_poll).
pub(crate) fn timers() {
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
pub(crate) fn gains() {
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
pub(crate) fn tones_dialling_and_events() {
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
