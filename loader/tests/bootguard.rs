//! The boot guard on a fixture system made from the real DKMS build: GRUB's menu names a
//! newer kernel that has no DAHDI, and the real one, where DAHDI verifies.

mod common;

use std::process::Command;

use common::*;

const NEWER: &str = "9.9.9-1-amd64";

fn run(f: &Fixture, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dahdi-loader"))
        .arg("--root")
        .arg(f.root())
        .args(["--running-kernel", &f.real.kernel])
        .args(args)
        .output()
        .unwrap();
    code_and_text(&out)
}

/// Debian's menu (the unit tests' copy of grub-mkconfig's output) for NEWER and the real
/// kernel, NEWER first as grub-mkconfig sorts them.
fn menu(f: &Fixture, kernels: &[&str]) {
    let entry = |k: &str| {
        format!(
            "\tmenuentry 'Debian GNU/Linux, with Linux {k}' --class debian $menuentry_id_option 'gnulinux-{k}-advanced-0b1c' {{\n\t\tlinux\t/boot/vmlinuz-{k} root=UUID=0b1c ro quiet\n\t}}\n"
        )
    };
    let mut cfg = String::from(
        "if [ -s $prefix/grubenv ]; then\n  load_env\nfi\nif [ \"${next_entry}\" ] ; then\n   set default=\"${next_entry}\"\n   set next_entry=\n   save_env next_entry\nelse\n   set default=\"0\"\nfi\n",
    );
    cfg.push_str(&format!(
        "menuentry 'Debian GNU/Linux' $menuentry_id_option 'gnulinux-simple-0b1c' {{\n\tlinux\t/boot/vmlinuz-{} root=UUID=0b1c ro quiet\n}}\n",
        kernels[0]
    ));
    cfg.push_str("submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-0b1c' {\n");
    for k in kernels {
        cfg.push_str(&entry(k));
    }
    cfg.push_str("}\n");
    f.write("/boot/grub/grub.cfg", cfg);
}

fn next_entry(f: &Fixture) -> Option<String> {
    let data = std::fs::read(f.path("/boot/grub/grubenv")).ok()?;
    assert_eq!(data.len(), 1024, "GRUB's environment block is 1024 bytes");
    let text = String::from_utf8_lossy(&data).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("next_entry="))
        .map(String::from)
}

#[test]
fn the_guard_holds_the_next_boot_on_the_kernel_where_dahdi_verifies() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    menu(&f, &[NEWER, &k]);

    // Off (the default): nothing is written, but status and guard tell the risk.
    let (code, text) = run(&f, &["guard"]);
    assert_eq!(code, Some(1), "the next boot has no DAHDI: {text}");
    assert!(text.contains("boot guard is off"), "{text}");
    assert_eq!(next_entry(&f), None);
    let (_, text) = run(&f, &["status"]);
    assert!(
        text.contains("boot guard (off)") && text.contains(NEWER),
        "{text}"
    );

    // On: a dry run changes nothing; a run points the next boot at the real kernel.
    f.write("/etc/dahdi-loader/guard.conf", "boot-guard on\n");
    let (_, text) = run(&f, &["guard", "--dry-run"]);
    assert!(text.contains("instead"), "{text}");
    assert_eq!(next_entry(&f), None);
    let (code, text) = run(&f, &["guard"]);
    assert_eq!(code, Some(0), "the next boot has DAHDI: {text}");
    let held = format!("gnulinux-advanced-0b1c>gnulinux-{k}-advanced-0b1c");
    assert_eq!(next_entry(&f).as_deref(), Some(held.as_str()), "{text}");
    let (_, text) = run(&f, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status["boot"]["next_boot"]["kernel"], k.as_str());
    assert_eq!(status["boot"]["grub_would_start"]["kernel"], NEWER);

    // ensure runs the guard after itself: GRUB used next_entry at boot, ensure sets it
    // again.
    f.write("/boot/grub/grubenv", {
        let mut b = b"# GRUB Environment Block\n".to_vec();
        b.resize(1024, b'#');
        b
    });
    let (code, text) = run(
        &f,
        &[
            "--json",
            "ensure",
            "--no-load",
            "-k",
            &k,
            "--dkms",
            "/nonexistent/dkms",
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("\"boot_guard\""), "{text}");
    assert_eq!(next_entry(&f).as_deref(), Some(held.as_str()));

    // The newer kernel removed from the menu: the guard lets go of its hold.
    menu(&f, &[&k]);
    let (code, text) = run(&f, &["guard"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("lets go"), "{text}");
    assert_eq!(next_entry(&f), None);
}
