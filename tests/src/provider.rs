//! DAHDI providers other than Debian 12's `dahdi-dkms`, made the way operators make them,
//! for the providers scenarios of the loader.
//!
//! * An XiVO-style `dahdi-linux-dkms` package: DKMS module `dahdi-linux`, version
//!   [`XIVO_VERSION`], built from DAHDI 3.x source. The source is the one Debian 13's
//!   `dahdi-dkms` package carries under /usr/src (a DAHDI 3.1 snapshot with its dkms.conf);
//!   the package is found in trixie's index at run time, checked against the index's
//!   SHA-256, and repackaged with dpkg-deb under the operator's names, with maintainer
//!   scripts that register, build and install it with DKMS for every kernel that has its
//!   headers (what such packages do) and remove it on removal.
//! * A leftover per-kernel `dahdi-linux-modules-KVER` package: module files for one kernel
//!   under /lib/modules/KVER/extra, owned by dpkg, that runs depmod like such packages did.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run_checked, setup_err, HarnessError};

/// The XiVO-style package's name, DKMS module name and version.
pub const XIVO_PACKAGE: &str = "dahdi-linux-dkms";
pub const XIVO_MODULE: &str = "dahdi-linux";
pub const XIVO_VERSION: &str = "3.1.0";

/// The Debian release whose dahdi-dkms carries the DAHDI 3.x source.
const SOURCE_SUITE: &str = "trixie";

/// Downloads (once, into `cache`) Debian 13's `dahdi-dkms` .deb: its name and checksum
/// come from trixie's package index, fetched from the host's Debian mirror.
pub fn trixie_dahdi_dkms(cache: &Path) -> Result<PathBuf, HarnessError> {
    std::fs::create_dir_all(cache).map_err(setup_err("provider cache"))?;
    let mirror = crate::archive::mirror()?;
    let index = cache.join(format!("{SOURCE_SUITE}-binary-all-Packages.xz"));
    if !index.is_file() {
        fetch(
            &format!("{mirror}/dists/{SOURCE_SUITE}/main/binary-all/Packages.xz"),
            &index,
        )?;
    }
    let text = run_checked(
        Command::new("xz").arg("-dc").arg(&index),
        "decompressing trixie's package index",
    )?;
    let text = String::from_utf8_lossy(&text.stdout);
    let (filename, sha256) = find_package(&text, "dahdi-dkms").ok_or_else(|| {
        HarnessError::Setup(format!(
            "trixie's index ({}) has no dahdi-dkms with Filename and SHA256; remove it to fetch again",
            index.display()
        ))
    })?;
    let name = Path::new(&filename)
        .file_name()
        .ok_or_else(|| HarnessError::Setup(format!("odd Filename {filename:?} in the index")))?;
    let deb = cache.join(name);
    if !deb.is_file() || sha256_of(&deb)? != sha256 {
        let part = deb.with_extension("part");
        fetch(&format!("{mirror}/{filename}"), &part)?;
        let got = sha256_of(&part)?;
        if got != sha256 {
            return Err(HarnessError::Setup(format!(
                "{filename}: SHA-256 {got}, the index says {sha256}"
            )));
        }
        std::fs::rename(&part, &deb).map_err(setup_err("provider cache"))?;
    }
    Ok(deb)
}

/// `Filename` and `SHA256` of package `name` in a Packages index (the highest version
/// when several stanzas name it, by dpkg's order).
fn find_package(index: &str, name: &str) -> Option<(String, String)> {
    let mut best: Option<(String, String, String)> = None;
    for stanza in index.split("\n\n") {
        let field = |f: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(f)?.strip_prefix(':'))
                .map(|v| v.trim().to_owned())
        };
        if field("Package").as_deref() != Some(name) {
            continue;
        }
        let (Some(v), Some(f), Some(s)) = (field("Version"), field("Filename"), field("SHA256"))
        else {
            continue;
        };
        let newer = match &best {
            None => true,
            Some((bv, _, _)) => Command::new("dpkg")
                .args(["--compare-versions", &v, "gt", bv])
                .status()
                .map(|s| s.success())
                .unwrap_or(false),
        };
        if newer {
            best = Some((v, f, s));
        }
    }
    best.map(|(_, f, s)| (f, s))
}

fn fetch(url: &str, to: &Path) -> Result<(), HarnessError> {
    run_checked(
        Command::new("curl")
            .args(["-sSfL", "--retry", "3", "-o"])
            .arg(to)
            .arg(url),
        &format!("downloading {url}"),
    )
    .map(drop)
}

fn sha256_of(p: &Path) -> Result<String, HarnessError> {
    let out = run_checked(Command::new("sha256sum").arg(p), "sha256sum")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// Builds the XiVO-style package from Debian 13's dahdi-dkms .deb into `out_dir`.
pub fn xivo_style_package(source_deb: &Path, out_dir: &Path) -> Result<PathBuf, HarnessError> {
    let work = tempfile::tempdir().map_err(setup_err("tempdir"))?;
    let tree = work.path().join("tree");
    run_checked(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(source_deb)
            .arg(&tree),
        "unpacking dahdi-dkms",
    )?;
    let src_root = tree.join("usr/src");
    let original = std::fs::read_dir(&src_root)
        .map_err(setup_err("usr/src of dahdi-dkms"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("dkms.conf").is_file())
        .ok_or_else(|| HarnessError::Setup("dahdi-dkms has no /usr/src/*/dkms.conf".into()))?;
    let renamed = src_root.join(format!("{XIVO_MODULE}-{XIVO_VERSION}"));
    std::fs::rename(&original, &renamed).map_err(setup_err("renaming the source"))?;
    // The operator's names in dkms.conf; everything else (what is built, how) stays.
    let conf_path = renamed.join("dkms.conf");
    let conf = std::fs::read_to_string(&conf_path).map_err(setup_err("dkms.conf"))?;
    let conf: String = conf
        .lines()
        .map(|l| {
            if l.starts_with("PACKAGE_NAME=") {
                format!("PACKAGE_NAME=\"{XIVO_MODULE}\"")
            } else if l.starts_with("PACKAGE_VERSION=") {
                format!("PACKAGE_VERSION=\"{XIVO_VERSION}\"")
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(&conf_path, conf).map_err(setup_err("dkms.conf"))?;
    // Debian's packaging around the source is not the operator's.
    for dir in ["usr/share/doc", "usr/share/lintian"] {
        let _ = std::fs::remove_dir_all(tree.join(dir));
    }
    let control = format!(
        "Package: {XIVO_PACKAGE}\nVersion: {XIVO_VERSION}-1\nArchitecture: all\n\
         Maintainer: DAHDI loader test bed <root@localhost>\nDepends: dkms, make\n\
         Section: kernel\nPriority: optional\n\
         Description: DAHDI {XIVO_VERSION} kernel modules (DKMS), packaged as an operator does\n"
    );
    // Register, build and install for each kernel that has headers; a failed build for
    // one kernel does not fail the package (DKMS's own autoinstall behaves so too).
    let postinst = format!(
        "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n\
         \tdkms status -m {m} -v {v} | grep -q . || dkms add -m {m} -v {v}\n\
         \tfor b in /lib/modules/*/build; do\n\
         \t\t[ -e \"$b/Makefile\" ] || continue\n\
         \t\tk=$(basename \"$(dirname \"$b\")\")\n\
         \t\tdkms install -m {m} -v {v} -k \"$k\" || echo \"{m}: DKMS failed for $k\" >&2\n\
         \tdone\nfi\n",
        m = XIVO_MODULE,
        v = XIVO_VERSION
    );
    let prerm = format!(
        "#!/bin/sh\nset -e\nif [ \"$1\" = remove ] || [ \"$1\" = upgrade ]; then\n\
         \tdkms remove -m {m} -v {v} --all || true\nfi\n",
        m = XIVO_MODULE,
        v = XIVO_VERSION
    );
    build_deb(
        &tree,
        &control,
        &[("postinst", &postinst), ("prerm", &prerm)],
        &out_dir.join(format!("{XIVO_PACKAGE}_{XIVO_VERSION}-1_all.deb")),
    )
}

/// The name of the leftover per-kernel package for `kernel`.
pub fn legacy_package_name(kernel: &str) -> String {
    format!("dahdi-linux-modules-{kernel}")
}

/// Builds a per-kernel package holding `modules` (file name and bytes) under
/// /lib/modules/KERNEL/extra/dahdi, as the packages DKMS replaced did.
pub fn legacy_modules_package(
    kernel: &str,
    modules: &[(String, Vec<u8>)],
    out_dir: &Path,
) -> Result<PathBuf, HarnessError> {
    let work = tempfile::tempdir().map_err(setup_err("tempdir"))?;
    let tree = work.path().join("tree");
    let dir = tree.join(format!("lib/modules/{kernel}/extra/dahdi"));
    std::fs::create_dir_all(&dir).map_err(setup_err("legacy package tree"))?;
    for (name, bytes) in modules {
        std::fs::write(dir.join(name), bytes).map_err(setup_err("legacy package tree"))?;
    }
    let package = legacy_package_name(kernel);
    let control = format!(
        "Package: {package}\nVersion: 2.11.1-1\nArchitecture: amd64\n\
         Maintainer: DAHDI loader test bed <root@localhost>\n\
         Section: kernel\nPriority: optional\n\
         Description: DAHDI kernel modules for {kernel} (an old per-kernel package)\n"
    );
    let postinst =
        format!("#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then depmod -a {kernel}; fi\n");
    let postrm = format!(
        "#!/bin/sh\nset -e\n[ -d /lib/modules/{kernel}/kernel ] && depmod -a {kernel} || true\n"
    );
    build_deb(
        &tree,
        &control,
        &[("postinst", &postinst), ("postrm", &postrm)],
        &out_dir.join(format!("{package}_2.11.1-1_amd64.deb")),
    )
}

fn build_deb(
    tree: &Path,
    control: &str,
    scripts: &[(&str, &str)],
    out: &Path,
) -> Result<PathBuf, HarnessError> {
    use std::os::unix::fs::PermissionsExt;
    let debian = tree.join("DEBIAN");
    std::fs::create_dir_all(&debian).map_err(setup_err("DEBIAN"))?;
    std::fs::write(debian.join("control"), control).map_err(setup_err("control"))?;
    for (name, text) in scripts {
        let p = debian.join(name);
        std::fs::write(&p, text).map_err(setup_err("maintainer script"))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .map_err(setup_err("maintainer script"))?;
    }
    run_checked(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(tree)
            .arg(out),
        "dpkg-deb --build",
    )?;
    Ok(out.to_owned())
}

#[cfg(test)]
mod tests {
    use super::find_package;

    #[test]
    fn the_index_gives_the_highest_version_of_the_package() {
        let index = "Package: dahdi-dkms\nVersion: 1:3.1.0-1\nFilename: pool/a.deb\nSHA256: aa\n\n\
                     Package: dahdi-dkmsx\nVersion: 9\nFilename: pool/x.deb\nSHA256: xx\n\n\
                     Package: dahdi-dkms\nVersion: 1:3.1.0-10\nFilename: pool/b.deb\nSHA256: bb\n\n\
                     Package: dahdi-dkms\nVersion: 1:3.1.0~rc1-12\nFilename: pool/c.deb\nSHA256: cc\n";
        assert_eq!(
            find_package(index, "dahdi-dkms"),
            Some(("pool/b.deb".into(), "bb".into()))
        );
        assert_eq!(find_package(index, "dahdi"), None);
    }
}
