//! Conferences: every mode on pseudo channels, real and pseudo channels in
//! one, monitoring refused on a pseudo channel, and nothing of an earlier
//! conference heard in a new one.

use dahdi::{Channel, ConfKind, ConfMode, ErrorKind, Pseudo, Signalling};
use dahdi_tests::signal::{tone, BLOCK};

use crate::channel_io::{exchange, linear, read_samples, write_samples, Heard};
use crate::fixtures::LoopPair;

/// Every conference mode on pseudo channels, with expected levels from
/// the kernel's mixing rules (dahdi-base.c __dahdi_process_getaudio_chunk
/// and putaudio): a 1 kHz tone of amplitude 8000 reads back at RMS
/// 8000/sqrt(2) = 5657 within mu-law's 2 %.
pub(crate) fn conference_modes() {
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
pub(crate) fn monitoring_a_pseudo_channel_is_refused() {
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

/// chan_dahdi's three-way mode: a span channel in REALANDPSEUDO and a
/// pseudo in the same conference hear each other across the loop.
pub(crate) fn real_and_pseudo_conference() {
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
pub(crate) fn reused_conference_slot_is_heard_silent() {
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
pub(crate) fn moving_to_another_conference_hears_nothing_of_the_first() {
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
