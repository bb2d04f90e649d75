//! Building blocks of the kernel-upgrade scenario (the situation the loader
//! exists for): a Debian system running kernel A with dahdi-dkms, onto which
//! a newer kernel B is installed.
//!
//! The kernels are chosen from what the Debian archive offers today, never
//! by a written-down version: A is the second-newest `linux-image-6.x.y-N-amd64`
//! ABI and B the newest.

use std::process::Command;

use crate::chroot::{Stage, StageCache};
use crate::HarnessError;

/// Two kernel releases from the archive, A older than B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPair {
    pub a: String,
    pub b: String,
}

/// Picks A and B from the host's apt lists (the guest uses the same sources).
pub fn kernel_pair() -> Result<KernelPair, HarnessError> {
    let out = Command::new("apt-cache")
        .args([
            "search",
            "--names-only",
            r"^linux-image-[0-9.]+-[0-9]+-amd64$",
        ])
        .output()
        .map_err(|e| HarnessError::Setup(format!("apt-cache: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut releases: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|p| p.strip_prefix("linux-image-"))
        .map(str::to_owned)
        .collect();
    releases.sort_by_key(|r| release_key(r));
    releases.dedup();
    match releases.as_slice() {
        [.., a, b] => Ok(KernelPair { a: a.clone(), b: b.clone() }),
        _ => Err(HarnessError::Setup(format!(
            "the apt lists offer fewer than two linux-image-*-amd64 ABIs ({releases:?}); run apt-get update"
        ))),
    }
}

fn release_key(r: &str) -> Vec<u64> {
    r.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0))
        .collect()
}

fn apt_install(pkgs: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    v.extend(pkgs.iter().map(|s| (*s).to_owned()));
    v
}

/// The system before the upgrade: kernel A, its headers and dahdi-dkms,
/// installed with apt in a chroot, so DKMS's real hooks built DAHDI for A.
pub fn system_with_kernel_a(cache: &StageCache, pair: &KernelPair) -> Result<Stage, HarnessError> {
    let base = cache.base()?;
    let a_image = format!("linux-image-{}", pair.a);
    let a_headers = format!("linux-headers-{}", pair.a);
    cache.derive(
        &base,
        "kernel-a-dahdi-dkms",
        &[
            vec!["apt-get".into(), "update".into(), "-q".into()],
            apt_install(&[&a_image, &a_headers, "initramfs-tools"]),
            apt_install(&["dahdi-dkms"]),
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
    }
}
