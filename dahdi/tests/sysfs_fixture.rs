//! The sysfs reader on fixture trees laid out as dahdi-sysfs.c and
//! dahdi-sysfs-chan.c write them (formats from the kernel source: span
//! `alarms` is "0x%x", channel `alarms` is fill_alarm_string(), `sig` is
//! sigstr(), device span types are "<local>:<type>" lines), with both the
//! old (`dahdi_spantype`) and the new (`spantype`) attribute names.

use std::fs;
use std::path::{Path, PathBuf};

use dahdi::{Alarms, LineConfig, Signalling, Sysfs};

fn write(p: &Path, content: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

struct Fixture(PathBuf);

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn fixture(tag: &str, new_names: bool) -> Fixture {
    let root = std::env::temp_dir().join(format!("dahdi-sysfs-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let dev = root.join("bus/dahdi_devices/devices/dynamic:loc:0");
    write(&dev.join("manufacturer"), "\n");
    write(&dev.join("type"), "DYN/loc/1:0\n");
    write(&dev.join("span_count"), "1\n");
    write(&dev.join("hardware_id"), "DYN/loc/1:0\n");
    write(&dev.join("location"), "\n");
    let (st, rt) = if new_names {
        ("spantype", "registration_time")
    } else {
        ("dahdi_spantype", "dahdi_registration_time")
    };
    write(&dev.join(st), "1:DYNAMIC\n");
    write(&dev.join(rt), "0000000012.345678901\n");
    fs::create_dir_all(dev.join("span-3")).unwrap();
    // An unassigned second device.
    let dev2 = root.join("bus/dahdi_devices/devices/dynamic:loc:1");
    write(&dev2.join("manufacturer"), "\n");
    write(&dev2.join("type"), "DYN/loc/1:1\n");
    write(&dev2.join("span_count"), "1\n");
    write(&dev2.join("hardware_id"), "DYN/loc/1:1\n");
    write(&dev2.join("location"), "\n");
    write(&dev2.join(st), "1:DYNAMIC\n");

    let span = root.join("bus/dahdi_spans/devices/span-3");
    for (a, v) in [
        ("name", "DYN/loc/1:0"),
        ("desc", "Dynamic 'loc' span at '1:0'"),
        ("spantype", "DYNAMIC"),
        ("local_spanno", "1"),
        ("alarms", "0x8"),
        ("lbo", "0"),
        ("syncsrc", "0"),
        ("is_digital", "1"),
        ("is_sync_master", "0"),
        ("basechan", "49"),
        ("channels", "2"),
        ("lineconfig", "B8ZS/ESF"),
        ("linecompat", "D4 ESF AMI B8ZS CCS HDB3 CRC4"),
    ] {
        write(&span.join(a), &format!("{v}\n"));
    }
    for (pos, sig, alarms, in_use) in [(1, "Clear", "RED ", 1), (2, "FXSKS", "", 0)] {
        let c = root.join(format!(
            "bus/dahdi_channels/devices/dahdi!chan!003!{pos:03}"
        ));
        for (a, v) in [
            ("name", format!("DYN/loc/1:0/{pos}")),
            ("channo", format!("{}", 48 + pos)),
            ("chanpos", format!("{pos}")),
            ("sig", sig.into()),
            (
                "sigcap",
                "FXSLS FXSGS FXSKS FXOLS FXOGS FXOKS E&M Clear SF (ToneOnly) CAS DACS+RBS".into(),
            ),
            ("alarms", alarms.into()),
            ("ec_factory", String::new()),
            ("ec_state", String::new()),
            ("blocksize", "1024".into()),
            ("in_use", format!("{in_use}")),
            ("chanmute", "0".into()),
        ] {
            write(&c.join(a), &format!("{v}\n"));
        }
    }
    write(
        &root.join("module/dahdi/parameters/auto_assign_spans"),
        "0\n",
    );
    Fixture(root)
}

fn check(new_names: bool) {
    let fx = fixture(if new_names { "new" } else { "old" }, new_names);
    let s = Sysfs::with_root(&fx.0);
    assert!(s.is_loaded());
    assert_eq!(s.auto_assign_spans(), Some(false));

    let devs = s.devices().unwrap();
    assert_eq!(devs.len(), 2);
    let d = &devs[0];
    assert_eq!(d.name, "dynamic:loc:0");
    assert_eq!(d.hardware_id, "DYN/loc/1:0");
    assert_eq!(d.span_count, 1);
    assert_eq!(d.span_types, vec![(1, "DYNAMIC".to_owned())]);
    assert_eq!(d.registration_time.as_deref(), Some("0000000012.345678901"));
    assert_eq!(d.assigned_spans, vec![3]);
    assert!(devs[1].assigned_spans.is_empty());
    assert_eq!(devs[1].registration_time, None);
    assert_eq!(
        s.device_by_hardware_id("DYN/loc/1:1")
            .unwrap()
            .unwrap()
            .name,
        "dynamic:loc:1"
    );

    let spans = s.spans().unwrap();
    assert_eq!(spans.len(), 1);
    let sp = &spans[0];
    assert_eq!(sp.span, 3);
    assert_eq!(sp.alarms, Alarms::RED);
    assert_eq!(sp.basechan, Some(49));
    assert_eq!(sp.channels, 2);
    assert!(sp.is_digital && !sp.is_sync_master);
    assert_eq!(sp.line_config, LineConfig::B8ZS | LineConfig::ESF);
    assert!(sp.line_compat.contains(LineConfig::CRC4 | LineConfig::D4));

    let chans = s.channels().unwrap();
    assert_eq!(chans.len(), 2);
    assert_eq!(chans[0].channel, 49);
    assert_eq!(chans[0].signalling, Signalling::Clear);
    assert_eq!(chans[0].alarms, Alarms::RED);
    assert!(chans[0].in_use);
    assert_eq!(chans[0].chanmute, Some(false));
    assert_eq!(chans[0].dev_node, Path::new("/dev/dahdi/chan/003/001"));
    assert_eq!(chans[1].signalling, Signalling::FxsKs);
    assert_eq!(chans[1].sigcaps.len(), 11);
    assert_eq!(chans[1].sigcaps[8], "SF (ToneOnly)");
    assert_eq!(s.span_channels(3).unwrap().len(), 2);
    assert!(s.span_channels(4).unwrap().is_empty());
}

#[test]
fn reads_the_old_attribute_names() {
    check(false);
}

#[test]
fn reads_the_new_attribute_names() {
    check(true);
}

#[test]
fn assignment_writes_what_the_kernel_parses() {
    let fx = fixture("assign", false);
    let s = Sysfs::with_root(&fx.0);
    let dev = fx.0.join("bus/dahdi_devices/devices/dynamic:loc:1");
    // The attributes are write-only files in the real tree; create them.
    write(&dev.join("assign_span"), "");
    write(&dev.join("auto_assign"), "");
    write(&dev.join("unassign_span"), "");
    s.assign_span("dynamic:loc:1", 1, 4, 73).unwrap();
    assert_eq!(
        fs::read_to_string(dev.join("assign_span")).unwrap(),
        "1:4:73\n"
    );
    s.auto_assign("dynamic:loc:1").unwrap();
    assert_eq!(fs::read_to_string(dev.join("auto_assign")).unwrap(), "1\n");
    s.unassign_span("dynamic:loc:1", 1).unwrap();
    assert_eq!(
        fs::read_to_string(dev.join("unassign_span")).unwrap(),
        "1\n"
    );
    // The kernel refuses a span number without a base channel: so do we.
    assert!(s.assign_span("dynamic:loc:1", 1, 4, 0).is_err());
    // A missing device is an error naming the path.
    let e = s.auto_assign("nosuch").unwrap_err();
    assert!(e.path().ends_with("nosuch/auto_assign"), "{e}");
}

#[test]
fn an_empty_tree_is_not_loaded() {
    let s = Sysfs::with_root("/nonexistent-sysfs-root");
    assert!(!s.is_loaded());
    assert!(s.devices().unwrap().is_empty());
    assert_eq!(s.auto_assign_spans(), None);
}
