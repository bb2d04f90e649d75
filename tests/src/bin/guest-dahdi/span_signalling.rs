//! Signalling across a looped pair of loc spans: FXS/FXO hook states and
//! ringing, E&M wink, CAS bits.

use std::time::{Duration, Instant};

use dahdi::{ChanConfig, Channel, Ctl, DialOp, Event, Flush, Hook, RingCadence, Signalling};
use dahdi_sys as sys;

use crate::channel_io::{events_until, wait_until};
use crate::fixtures::{test_zone, LoopPair};

/// Hook signalling crosses the loop (RBS bits, dahdi_rbsbits and
/// __dahdi_hooksig_pvt): FXS-signalled side off hook -> the FXO side gets
/// RINGOFFHOOK and sees rxisoffhook; pulse dialling "P5" -> PULSE_START and
/// PULSEDIGIT '5'; on hook -> ONHOOK; ringing with a cadence -> RINGERON /
/// RINGEROFF on the ringing side, RINGOFFHOOK (ring detected) on the other.
pub(crate) fn hook_signalling_crosses_the_loop() {
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
pub(crate) fn em_wink_crosses_the_loop() {
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
pub(crate) fn cas_bits_cross_the_loop() {
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
