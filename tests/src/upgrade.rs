//! Building blocks of the kernel-upgrade scenario (the situation the loader
//! exists for): a Debian system running kernel A with dahdi-dkms, onto which
//! a newer kernel B is installed.
//!
//! The kernels are chosen from what the Debian archive offers today, never
//! by a written-down version: A is the second-newest kernel ABI of the
//! platform's release (`linux-image-6.1.0-N-amd64` on Debian 12,
//! `linux-image-6.12.N+deb13-amd64` on Debian 13) and B the newest.

use std::path::Path;
use std::process::Command;

use crate::chroot::{Stage, StageCache};
use crate::platform::{dahdi_built_check, Platform};
use crate::HarnessError;

/// Two kernel releases from the archive, A older than B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPair {
    pub a: String,
    pub b: String,
}

/// The release's own kernel packages. On Debian 12 the backports kernels are named
/// `6.12.N+deb12-amd64` (and DAHDI 2.11 does not build for them): another scenario. On
/// Debian 13 the release's are `6.12.N+deb13-amd64`; the test bed's trixie system reads
/// no backports.
fn kernel_packages(platform: Platform) -> &'static str {
    match platform {
        Platform::Debian12 => r"^linux-image-[0-9.]+-[0-9]+-amd64$",
        Platform::Debian13 => r"^linux-image-[0-9.]+\+deb13-amd64$",
    }
}

/// Picks A and B from the platform's apt lists: the host's for Debian 12, the cached
/// trixie system's for Debian 13.
pub fn kernel_pair(platform: Platform, cache: &StageCache) -> Result<KernelPair, HarnessError> {
    let root = platform.system_root(cache.root())?;
    let releases = kernels_offered(&root, kernel_packages(platform))?;
    match releases.as_slice() {
        [.., a, b] => Ok(KernelPair {
            a: a.clone(),
            b: b.clone(),
        }),
        _ => Err(HarnessError::Setup(format!(
            "the {} apt lists under {} offer fewer than two kernel ABIs ({releases:?}); \
             run apt-get update there",
            platform.id(),
            root.display()
        ))),
    }
}

/// The kernel releases whose `linux-image-RELEASE` package names match `pattern` in the apt
/// lists of the system at `root` (read by the host's apt-cache with that root), oldest
/// first.
pub fn kernels_offered(root: &Path, pattern: &str) -> Result<Vec<String>, HarnessError> {
    let mut cmd = Command::new("apt-cache");
    if root != Path::new("/") {
        cmd.arg(format!("-o=Dir={}", root.display()));
        cmd.arg(format!(
            "-o=Dir::State::status={}",
            root.join("var/lib/dpkg/status").display()
        ));
    }
    let out = cmd
        .args(["search", "--names-only", pattern])
        .output()
        .map_err(|e| HarnessError::Setup(format!("apt-cache: {e}")))?;
    if !out.status.success() {
        return Err(HarnessError::Setup(format!(
            "apt-cache search in {}: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut releases: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|p| p.strip_prefix("linux-image-"))
        .map(str::to_owned)
        .collect();
    releases.sort_by_key(|r| release_key(r));
    releases.dedup();
    Ok(releases)
}

fn release_key(r: &str) -> Vec<u64> {
    r.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0))
        .collect()
}

fn apt_install(pkgs: &[&str]) -> Vec<String> {
    let mut v = strings(&["apt-get", "install", "-y", "-q", "--no-install-recommends"]);
    v.extend(strings(pkgs));
    v
}

/// `apt-get install PKGS` as an operator runs it: apt's default, Recommends installed, with
/// one exception: the headers metapackage dkms recommends (`linux-headers-amd64`) is kept
/// out (`linux-headers-amd64-`). It would bring the newest headers, B's; the operator of
/// the scenario installed the running kernel's headers by name (`linux-headers-$(uname
/// -r)`, as DKMS's own message advises), which is how a later kernel arrives without its
/// headers (the upgrade scenario's first step).
fn operator_install(pkgs: &[String]) -> Vec<String> {
    let mut v = strings(&["apt-get", "install", "-y", "-q"]);
    v.extend(pkgs.iter().cloned());
    v.push("linux-headers-amd64-".into());
    v
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// The system before the upgrade, installed as an operator installs it (see
/// [`operator_install`]): kernel A with its headers and initramfs-tools (named, so apt
/// does not choose another initramfs generator), then `dahdi-dkms` and `dahdi`, with apt in
/// a chroot. DKMS's real hooks built DAHDI for A, and Debian's DAHDI boot files are in
/// place: dahdi-linux's /etc/modules-load.d/dahdi-linux.conf (systemd-modules-load loads
/// `dahdi` and `dahdi_transcode` at every boot), the udev rules of dahdi-linux and
/// dahdi-tools, DKMS's kernel hooks. The stage is complete only if DKMS really built
/// dahdi.ko for A, the boot file is there and B's headers are not.
pub fn system_with_kernel_a(
    platform: Platform,
    cache: &StageCache,
    pair: &KernelPair,
) -> Result<Stage, HarnessError> {
    let base = match platform {
        Platform::Debian12 => cache.base()?,
        Platform::Debian13 => cache.trixie_base()?,
    };
    let check = format!(
        "{}; \
         test -f /etc/modules-load.d/dahdi-linux.conf || {{ echo no dahdi-linux.conf; exit 1; }}; \
         ! ls -d /usr/src/linux-headers-{}",
        dahdi_built_check(&pair.a),
        pair.b
    );
    cache.derive(
        &base,
        "kernel-a-operator",
        &[
            vec!["apt-get".into(), "update".into(), "-q".into()],
            operator_install(&[
                format!("linux-image-{}", pair.a),
                format!("linux-headers-{}", pair.a),
                "initramfs-tools".into(),
            ]),
            operator_install(&["dahdi-dkms".into(), "dahdi".into()]),
            vec!["sh".into(), "-c".into(), check],
        ],
    )
}

/// `apt-get install` argument vector, for steps a test runs itself.
pub fn apt_install_args(pkgs: &[&str]) -> Vec<String> {
    apt_install(pkgs)
}

#[cfg(test)]
mod tests {
    use super::release_key;

    #[test]
    fn releases_order_numerically() {
        let mut v = vec!["6.1.0-56-amd64", "6.1.0-9-amd64", "6.1.0-55-amd64"];
        v.sort_by_key(|r| release_key(r));
        assert_eq!(v, ["6.1.0-9-amd64", "6.1.0-55-amd64", "6.1.0-56-amd64"]);
        let mut v = vec![
            "6.12.117+deb13-amd64",
            "6.12.107+deb13-amd64",
            "6.12.9+deb13-amd64",
        ];
        v.sort_by_key(|r| release_key(r));
        assert_eq!(
            v,
            [
                "6.12.9+deb13-amd64",
                "6.12.107+deb13-amd64",
                "6.12.117+deb13-amd64"
            ]
        );
    }
}
