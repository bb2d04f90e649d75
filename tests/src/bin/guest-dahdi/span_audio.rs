//! Audio across a looped pair of loc spans: clear data, linear audio, and
//! the monitor modes on span channels.

use dahdi::{
    BufferInfo, BufferPolicy, Channel, ConfMode, ErrorKind, Hook, Pseudo, ReadOutcome, Signalling,
    Sysfs, WriteOutcome,
};
use dahdi_tests::signal::BLOCK;

use crate::channel_io::{exchange, linear};
use crate::fixtures::LoopPair;

/// Audio crosses the loop: a clear channel carries bytes untouched in
/// data mode, and (after DAHDI_AUDIOMODE) linear audio at its level; a
/// channel opened by number and its peer opened by its /dev/dahdi/chan
/// node.
pub(crate) fn audio_crosses_the_loop() {
    let pair = LoopPair::create(2, 4, |_| Some((Signalling::Clear, Signalling::Clear)));
    let mut a = Channel::open(pair.chan(0, 1)).unwrap();
    let mut b = Channel::open_by_position(pair.numbers[1] as u32, 1).unwrap();
    assert_eq!(b.channel_number(), pair.chan(1, 1));
    for c in [&a, &b] {
        c.set_blocksize(BLOCK).unwrap();
    }
    // Data mode: a pseudo-random byte stream arrives unchanged. The whole
    // stream (30 blocks) is queued before reading, in 32 kernel buffers, so
    // the transmitter cannot run dry mid-stream (an underrun inserts idle
    // bytes): when the emulated machine stalls, the kernel catches up by
    // sending several blocks at once, faster than a writer could refill a
    // short queue. The receiver's 32 buffers hold 640 ms of a stalled reader.
    let bi = BufferInfo {
        tx_policy: BufferPolicy::Immediate,
        num_bufs: 32,
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
    for blk in pattern.chunks(BLOCK) {
        // An event (an alarm when the emulated machine stalls) is
        // reported instead of writing: write again.
        while let WriteOutcome::Event(e) = a.write_block(blk).unwrap() {
            println!("event while writing: {e:?}");
        }
    }
    let mut got = Vec::new();
    let mut buf = vec![0u8; BLOCK];
    // Idle bytes come before the stream (the receiver was open before it
    // was sent) and after it; 80 blocks are 1.6 s of the channel.
    let arrived = |got: &[u8]| got.windows(pattern.len()).any(|w| w == pattern);
    for _ in 0..80 {
        if let ReadOutcome::Audio(n) = b.read_block(&mut buf).unwrap() {
            got.extend_from_slice(&buf[..n]);
        }
        if arrived(&got) {
            break;
        }
    }
    assert!(
        arrived(&got),
        "the 30-block byte stream did not arrive intact in {} bytes read",
        got.len()
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
pub(crate) fn monitor_and_digitalmon_on_span_channels() {
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
