use super::*;

const NEW: &str = "6.1.0-58-amd64";
const OLD: &str = "6.1.0-57-amd64";
const OLD_ENTRY: &str = "gnulinux-advanced-0b1c>gnulinux-6.1.0-57-amd64-advanced-0b1c";

struct Boot {
    dir: tempfile::TempDir,
}

impl Boot {
    fn new(cfg: &str) -> Boot {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("boot/grub")).unwrap();
        std::fs::write(dir.path().join("boot/grub/grub.cfg"), cfg).unwrap();
        Boot { dir }
    }
    fn root(&self) -> Root {
        Root::new(self.dir.path())
    }
    fn env(&self) -> Grubenv {
        match std::fs::read(self.dir.path().join("boot/grub/grubenv")) {
            Ok(d) => Grubenv::parse(Path::new("/g"), &d).unwrap(),
            Err(_) => Grubenv::default(),
        }
    }
    fn set_env(&self, f: impl FnOnce(&mut Grubenv)) {
        let mut env = self.env();
        f(&mut env);
        env.write(&self.dir.path().join("boot/grub/grubenv"))
            .unwrap();
    }
    fn state(&self) -> Option<Pin> {
        read_state(&self.root())
    }
    fn run(&self, enabled: bool, broken: &[&str]) -> GuardReport {
        let broken: Vec<String> = broken.iter().map(|s| s.to_string()).collect();
        run(&self.root(), enabled, true, |k: &KernelRelease| {
            Some(if broken.iter().any(|b| b == k.as_str()) {
                Verdict::BuildFailed
            } else {
                Verdict::Ok
            })
        })
        .unwrap()
    }
}

fn debian() -> String {
    grubcfg::tests::DEBIAN.to_string()
}

fn saved() -> String {
    debian().replace("set default=\"0\"", "set default=\"${saved_entry}\"")
}

#[test]
fn nothing_is_written_while_the_next_kernel_verifies() {
    let b = Boot::new(&debian());
    let r = b.run(true, &[]);
    assert_eq!(r.action, Action::Nothing);
    assert!(!r.applied);
    assert_eq!(r.next_boot.unwrap().kernel, NEW);
    assert!(!b.dir.path().join("boot/grub/grubenv").exists());
}

#[test]
fn next_entry_holds_the_verified_kernel_until_the_newest_verifies() {
    let b = Boot::new(&debian());
    let r = b.run(true, &[NEW]);
    assert!(r.applied, "{r:#?}");
    assert_eq!(r.grub_would_start.as_ref().unwrap().kernel, NEW);
    assert_eq!(r.next_boot.as_ref().unwrap().kernel, OLD);
    assert!(r.message.contains("build-failed"), "{}", r.message);
    assert_eq!(b.env().get("next_entry"), Some(OLD_ENTRY));
    assert_eq!(b.state().unwrap().avoided, NEW);
    // Again, with nothing changed: nothing to write.
    let r = b.run(true, &[NEW]);
    assert_eq!(r.action, Action::Nothing, "{r:#?}");
    assert!(!r.applied);
    // GRUB used and cleared it at boot: it is set again.
    b.set_env(|e| e.set("next_entry", "").unwrap());
    let r = b.run(true, &[NEW]);
    assert!(r.applied);
    assert_eq!(b.env().get("next_entry"), Some(OLD_ENTRY));
    // The newest kernel verifies now: the guard lets go, and says so.
    let r = b.run(true, &[]);
    assert!(matches!(r.action, Action::Release { .. }), "{r:#?}");
    assert!(r.message.contains("lets go"), "{}", r.message);
    assert_eq!(b.env().get("next_entry"), None);
    assert_eq!(b.state(), None);
    assert_eq!(r.next_boot.unwrap().kernel, NEW);
}

#[test]
fn saved_entry_is_pinned_and_the_operators_value_put_back() {
    let b = Boot::new(&saved());
    b.set_env(|e| e.set("saved_entry", "gnulinux-simple-0b1c").unwrap());
    let r = b.run(true, &[NEW]);
    assert!(r.applied, "{r:#?}");
    assert_eq!(b.env().get("saved_entry"), Some(OLD_ENTRY));
    assert_eq!(b.env().get("next_entry"), None);
    assert_eq!(
        b.state().unwrap().previous.as_deref(),
        Some("gnulinux-simple-0b1c")
    );
    let r = b.run(true, &[]);
    assert!(matches!(r.action, Action::Release { .. }), "{r:#?}");
    assert_eq!(b.env().get("saved_entry"), Some("gnulinux-simple-0b1c"));
    assert_eq!(b.state(), None);
}

#[test]
fn what_others_set_is_left_alone() {
    // The operator's grub-reboot.
    let b = Boot::new(&debian());
    b.set_env(|e| e.set("next_entry", "1>0").unwrap());
    let r = b.run(true, &[OLD]);
    assert!(matches!(r.action, Action::Nothing), "{r:#?}");
    let r = b.run(true, &[NEW]);
    // 1>0 is the newest kernel's advanced entry: broken, but someone chose it.
    assert!(matches!(r.action, Action::Cannot { .. }), "{r:#?}");
    assert!(r.message.contains("grub-reboot"), "{}", r.message);
    assert_eq!(b.env().get("next_entry"), Some("1>0"));
    // The operator changed saved_entry after the guard set it: not ours to undo.
    let b = Boot::new(&saved());
    b.run(true, &[NEW]);
    b.set_env(|e| e.set("saved_entry", "gnulinux-simple-0b1c").unwrap());
    let r = b.run(true, &[]);
    assert_eq!(r.action, Action::Nothing, "{r:#?}");
    assert_eq!(b.env().get("saved_entry"), Some("gnulinux-simple-0b1c"));
}

#[test]
fn with_the_guard_off_nothing_is_written_but_the_risk_is_told() {
    let b = Boot::new(&debian());
    let r = b.run(false, &[NEW]);
    assert!(!r.applied);
    assert!(matches!(r.action, Action::Pin { .. }));
    assert!(r.message.contains("boot guard is off"), "{}", r.message);
    assert!(!b.dir.path().join("boot/grub/grubenv").exists());
    assert_eq!(b.state(), None);
}

#[test]
fn where_it_cannot_steer_it_says_why_and_writes_nothing() {
    // No kernel verifies.
    let b = Boot::new(&debian());
    let r = b.run(true, &[NEW, OLD]);
    assert!(matches!(r.action, Action::Cannot { .. }), "{r:#?}");
    assert!(!r.applied);
    // A damaged environment block.
    let b = Boot::new(&debian());
    std::fs::write(b.dir.path().join("boot/grub/grubenv"), b"garbage").unwrap();
    let r = b.run(true, &[NEW]);
    assert!(matches!(r.action, Action::Cannot { .. }), "{r:#?}");
    assert!(r.message.contains("grub-editenv"), "{}", r.message);
    assert_eq!(
        std::fs::read(b.dir.path().join("boot/grub/grubenv")).unwrap(),
        b"garbage"
    );
    // A grub.cfg that never reads next_entry.
    let b = Boot::new(&debian().replace("  load_env\n", ""));
    let r = b.run(true, &[NEW]);
    assert!(r.message.contains("GRUB_DEFAULT=saved"), "{}", r.message);
    assert!(!r.applied);
    // No GRUB at all.
    let t = tempfile::tempdir().unwrap();
    let r = run(&Root::new(t.path()), true, true, |_| Some(Verdict::Broken)).unwrap();
    assert!(r.message.contains("systemd-boot"), "{}", r.message);
}

#[test]
fn a_damaged_record_is_never_taken_as_the_guards_own_change() {
    let b = Boot::new(&saved());
    b.set_env(|e| e.set("saved_entry", OLD_ENTRY).unwrap());
    std::fs::create_dir_all(b.dir.path().join("var/lib/dahdi-loader")).unwrap();
    std::fs::write(
        b.dir.path().join(STATE.trim_start_matches('/')),
        "{ not json",
    )
    .unwrap();
    let r = b.run(true, &[]);
    assert_eq!(r.action, Action::Nothing, "{r:#?}");
    assert_eq!(b.env().get("saved_entry"), Some(OLD_ENTRY));
}
