//! Spans: loc spans as sysfs, /proc/dahdi and dahdi_scan see them, alarms,
//! unconfigured channels, span configuration, the echo canceller and span
//! assignment.

use std::time::Duration;

use dahdi::{
    Alarms, ChanConfig, Channel, Ctl, DynamicSpan, EchoCanParams, ErrorKind, Event, Flush, IoMux,
    LineConfig, ReadOutcome, Readiness, Signalling, SpanConfig, Sysfs,
};
use dahdi_tests::signal::BLOCK;

use crate::channel_io::{events_until, wait_until};
use crate::dahdi_tools::dahdi_scan;
use crate::fixtures::{wait_alarms_clear, LoopPair};

/// Two looped loc spans built with this crate: the kernel's names
/// (dahdi_dynamic.c), SPANSTAT, sysfs, /proc/dahdi and dahdi_scan agree;
/// the looped pair has no alarms.
pub(crate) fn loc_spans_agree_with_sysfs_proc_and_dahdi_scan() {
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

/// Alarms follow the peer: destroy one span of a pair and the other goes
/// RED within about a second (check_for_red_alarm), its open channel gets
/// an ALARM event, and sysfs, dahdi_scan and the channel parameters agree;
/// recreate it and the alarm clears with NOALARM.
pub(crate) fn alarms_follow_the_peer() {
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
pub(crate) fn simulated_alarms_on_a_loc_span() {
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
pub(crate) fn unconfigured_nonblocking_and_buffer_events() {
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
pub(crate) fn spanconfig_startup_shutdown() {
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
pub(crate) fn echo_canceller() {
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
pub(crate) fn span_assignment_through_sysfs() {
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
pub(crate) fn unassigned_until_assigned_with_auto_assign_off() {
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
