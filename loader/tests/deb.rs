//! The Debian package as dpkg sees it (`dpkg-deb -c` and `-I`, dpkg's own readers): every
//! file an operator needs at the path Debian's tools look in, with its mode; /etc files as
//! conffiles and nothing else; maintainer scripts that are valid sh and enable, reload and
//! purge what the package installs. Installing it for real is vm_upgrade's job.

mod debpkg;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const VERSION: &str = "0.1.0-1";

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("dpkg-deb (dpkg) is needed");
    assert!(
        out.status.success(),
        "dpkg-deb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `dpkg-deb -c`: path (without the leading `.`) to mode string, regular files and links.
fn contents(deb: &Path) -> BTreeMap<String, String> {
    dpkg_deb(&["-c"], deb)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let path = f.get(5)?.trim_start_matches('.');
            (!f[0].starts_with('d')).then(|| (path.to_string(), f[0].to_string()))
        })
        .collect()
}

#[test]
fn package_holds_the_files_conffiles_and_scripts_an_operator_needs() {
    let dir = tempfile::tempdir().unwrap();
    let deb = debpkg::build(VERSION, dir.path());
    let files = contents(&deb);

    // Where Debian 12's dpkg, systemd, udev, run-parts (kernel hooks), man and the three
    // shells look, and the mode each needs (hooks run by run-parts must be executable).
    let expected = [
        ("/usr/sbin/dahdi-loader", "-rwxr-xr-x"),
        ("/lib/udev/rules.d/90-dahdi-loader.rules", "-rw-r--r--"),
        ("/lib/systemd/system/dahdi-loader.service", "-rw-r--r--"),
        ("/lib/systemd/system/dahdi-loader@.service", "-rw-r--r--"),
        ("/lib/systemd/system/dahdi-loader-guard.path", "-rw-r--r--"),
        (
            "/lib/systemd/system/dahdi-loader-guard.service",
            "-rw-r--r--",
        ),
        (
            "/lib/systemd/system/dahdi-loader-metrics.service",
            "-rw-r--r--",
        ),
        (
            "/lib/systemd/system/dahdi-loader-metrics.timer",
            "-rw-r--r--",
        ),
        (
            "/lib/systemd/system/systemd-modules-load.service.d/dahdi-loader.conf",
            "-rw-r--r--",
        ),
        ("/etc/kernel/postinst.d/zz-dahdi-loader", "-rwxr-xr-x"),
        (
            "/etc/kernel/header_postinst.d/zz-dahdi-loader",
            "-rwxr-xr-x",
        ),
        ("/etc/dahdi-loader/dahdi-loader.conf", "-rw-r--r--"),
        ("/usr/share/man/man8/dahdi-loader.8.gz", "-rw-r--r--"),
        (
            "/usr/share/bash-completion/completions/dahdi-loader",
            "-rw-r--r--",
        ),
        (
            "/usr/share/zsh/vendor-completions/_dahdi-loader",
            "-rw-r--r--",
        ),
        (
            "/usr/share/fish/vendor_completions.d/dahdi-loader.fish",
            "-rw-r--r--",
        ),
        ("/usr/share/doc/dahdi-loader/copyright", "-rw-r--r--"),
        (
            "/usr/share/doc/dahdi-loader/changelog.Debian.gz",
            "-rw-r--r--",
        ),
        ("/usr/share/lintian/overrides/dahdi-loader", "-rw-r--r--"),
    ];
    for (path, mode) in expected {
        assert_eq!(
            files.get(path).map(String::as_str),
            Some(mode),
            "{path} in the package:\n{files:#?}"
        );
    }
    // The man page is gzip (Debian's man reads it so), and it is the page build.rs wrote.
    let gz = std::fs::read(Path::new(env!("OUT_DIR")).join("man8/dahdi-loader.8.gz")).unwrap();
    assert_eq!(&gz[..2], b"\x1f\x8b", "man page not gzip");

    // Control fields (dpkg-deb -f).
    let field = |name: &str| {
        dpkg_deb(&["-f"], &deb)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
    };
    assert_eq!(field("Package").as_deref(), Some("dahdi-loader"));
    assert_eq!(field("Version").as_deref(), Some(VERSION));
    assert_eq!(field("Architecture").as_deref(), Some("amd64"));
    let depends = field("Depends").unwrap_or_default();
    for dep in ["dkms", "kmod", "udev", "libc6"] {
        assert!(
            depends.split(", ").any(|d| d.starts_with(dep)),
            "Depends lacks {dep}: {depends}"
        );
    }

    // conffiles: exactly the files under /etc, so dpkg keeps an operator's edits across
    // upgrades and removes them only on purge.
    let info = dpkg_deb(&["-I"], &deb);
    let ctrl = tempfile::tempdir().unwrap();
    let out = Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(ctrl.path())
        .status()
        .unwrap();
    assert!(out.success());
    let mut listed: Vec<String> = std::fs::read_to_string(ctrl.path().join("conffiles"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    listed.sort();
    let mut in_etc: Vec<String> = files
        .keys()
        .filter(|p| p.starts_with("/etc/"))
        .cloned()
        .collect();
    in_etc.sort();
    assert_eq!(listed, in_etc, "conffiles");

    // Maintainer scripts: present, executable (-I marks them with `*`), valid sh.
    for script in ["postinst", "prerm", "postrm"] {
        // `dpkg-deb -I` lists members as "SIZE bytes, N lines [*] NAME [#!INTERPRETER]",
        // the `*` marking an executable one.
        assert!(
            info.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.windows(2).any(|p| p == ["*", script])
            }),
            "{script} is not an executable member:\n{info}"
        );
        let path = ctrl.path().join(script);
        let sh = Command::new("sh").arg("-n").arg(&path).output().unwrap();
        assert!(
            sh.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&sh.stderr)
        );
    }
    let read = |s: &str| std::fs::read_to_string(ctrl.path().join(s)).unwrap();
    let (postinst, postrm) = (read("postinst"), read("postrm"));
    // Units with an [Install] section are the ones enabled; the template is started by udev.
    for unit in ["dahdi-loader.service", "dahdi-loader-guard.path"] {
        assert!(postinst.contains(unit), "postinst does not enable {unit}");
        assert!(
            postrm.contains(unit),
            "postrm does not purge {unit}'s state"
        );
    }
    // The metrics timer is the operator's to enable (where node_exporter runs); if they
    // did, removing the package takes its enablement away.
    assert!(!postinst.contains("dahdi-loader-metrics"), "{postinst}");
    assert!(postrm.contains("dahdi-loader-metrics.timer"), "{postrm}");
    assert!(postinst.contains("deb-systemd-helper enable"));
    assert!(postinst.contains("udevadm control --reload-rules"));
    assert!(postrm.contains("udevadm control --reload-rules"));
    assert!(postrm.contains("deb-systemd-helper purge"));
    assert!(postrm.contains("rm -rf /var/lib/dahdi-loader"));
}
