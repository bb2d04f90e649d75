//! Finds the Debian kernel the tests boot: the one whose DKMS-built DAHDI
//! modules are installed.  The version is discovered, never written down,
//! because Debian publishes new kernel ABIs all the time.

use std::path::{Path, PathBuf};

use crate::HarnessError;

/// A bootable kernel with DAHDI modules built for it.
#[derive(Debug, Clone)]
pub struct KernelUnderTest {
    /// `uname -r` of the kernel, e.g. `6.1.0-56-amd64`.
    pub release: String,
    /// `/boot/vmlinuz-<release>`.
    pub image: PathBuf,
    /// `/boot/initrd.img-<release>` if Debian generated one (used by the
    /// full-boot level, which needs the virtio and ext4 drivers from it).
    pub initrd: Option<PathBuf>,
    /// `/lib/modules/<release>`.
    pub modules_dir: PathBuf,
    /// The directory holding the DKMS-built DAHDI modules.
    pub dahdi_dir: PathBuf,
    /// The root of the system the kernel belongs to: `/` for the host's own,
    /// a stage's rootfs for another Debian release. Guest paths are host paths
    /// with this prefix taken off.
    pub root: PathBuf,
}

/// The suffixes of module files: plain, and as kmod reads them compressed.
pub const MODULE_SUFFIXES: &[&str] = &[".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

/// The module name of a module file name (`dahdi.ko.xz` -> `dahdi`).
pub fn module_name(file_name: &str) -> Option<&str> {
    MODULE_SUFFIXES
        .iter()
        .find_map(|s| file_name.strip_suffix(s))
}

impl KernelUnderTest {
    /// Picks the newest installed kernel that has both an image in /boot and
    /// a DKMS-built dahdi.ko.  `DAHDI_TEST_KERNEL` selects one explicitly.
    pub fn discover() -> Result<Self, HarnessError> {
        Self::discover_in(
            Path::new("/"),
            std::env::var("DAHDI_TEST_KERNEL").ok().as_deref(),
        )
    }

    pub fn discover_in(root: &Path, wanted: Option<&str>) -> Result<Self, HarnessError> {
        let modules_root = root.join("lib/modules");
        let mut candidates = Vec::new();
        let mut seen = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&modules_root) {
            for e in entries.flatten() {
                let release = e.file_name().to_string_lossy().into_owned();
                seen.push(release.clone());
                if wanted.is_some_and(|w| w != release) {
                    continue;
                }
                if let Some(k) = Self::probe(root, &release) {
                    candidates.push(k);
                }
            }
        }
        candidates.sort_by_key(|k| version_key(&k.release));
        match candidates.pop() {
            Some(k) => Ok(k),
            None => Err(HarnessError::Setup(match wanted {
                Some(w) => format!(
                    "DAHDI_TEST_KERNEL={w}: no /boot/vmlinuz-{w} with DKMS-built DAHDI modules \
                     under /lib/modules/{w}/updates/dkms (kernels seen: {seen:?}); install \
                     linux-image-{w} linux-headers-{w} dahdi-dkms"
                ),
                None => format!(
                    "no installed kernel has DKMS-built DAHDI modules (kernels under {}: {seen:?}); \
                     run `sudo scripts/install.sh` (it installs linux-image-amd64, \
                     linux-headers-amd64 and dahdi-dkms and checks that DKMS built dahdi.ko)",
                    modules_root.display()
                ),
            })),
        }
    }

    fn probe(root: &Path, release: &str) -> Option<Self> {
        let image = root.join(format!("boot/vmlinuz-{release}"));
        let modules_dir = root.join("lib/modules").join(release);
        if !image.is_file() {
            return None;
        }
        // DKMS installs into updates/dkms on Debian; older layouts used extra/.
        let dahdi_dir = ["updates/dkms", "updates", "extra", "extra/dahdi", "dahdi"]
            .iter()
            .map(|d| modules_dir.join(d))
            .find(|d| {
                MODULE_SUFFIXES
                    .iter()
                    .any(|s| d.join(format!("dahdi{s}")).is_file())
            })?;
        let initrd = root.join(format!("boot/initrd.img-{release}"));
        Some(KernelUnderTest {
            release: release.to_owned(),
            image,
            initrd: initrd.is_file().then_some(initrd),
            modules_dir,
            dahdi_dir,
            root: root.to_owned(),
        })
    }

    /// Where a file of this kernel's system appears in a guest that has the
    /// system's layout (`/lib/modules/...`).
    pub fn guest_path(&self, host: &Path) -> String {
        match host.strip_prefix(&self.root) {
            Ok(rel) => format!("/{}", rel.display()),
            Err(_) => host.to_string_lossy().into_owned(),
        }
    }

    /// The DKMS-built module files, by module name (compressed or not, as installed).
    pub fn dahdi_modules(&self) -> Vec<(String, PathBuf)> {
        let mut out: Vec<_> = std::fs::read_dir(&self.dahdi_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let name = module_name(p.file_name()?.to_str()?)?.to_owned();
                Some((name, p))
            })
            .collect();
        out.sort();
        out
    }
}

/// Orders `6.1.0-9-amd64` before `6.1.0-56-amd64`: numeric runs compare as numbers.
fn version_key(release: &str) -> Vec<(u64, String)> {
    let mut key = Vec::new();
    let mut num = String::new();
    let mut text = String::new();
    for c in release.chars() {
        if c.is_ascii_digit() {
            if !text.is_empty() {
                key.push((0, std::mem::take(&mut text)));
            }
            num.push(c);
        } else {
            if !num.is_empty() {
                key.push((num.parse().unwrap_or(u64::MAX), String::new()));
                num.clear();
            }
            text.push(c);
        }
    }
    if !num.is_empty() {
        key.push((num.parse().unwrap_or(u64::MAX), String::new()));
    }
    if !text.is_empty() {
        key.push((0, text));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_root(kernels: &[(&str, bool, bool)]) -> tempdir::TempRoot {
        let t = tempdir::TempRoot::new();
        for (rel, image, ko) in kernels {
            std::fs::create_dir_all(t.0.join(format!("lib/modules/{rel}/updates/dkms"))).unwrap();
            std::fs::create_dir_all(t.0.join("boot")).unwrap();
            if *image {
                std::fs::write(t.0.join(format!("boot/vmlinuz-{rel}")), b"k").unwrap();
            }
            if *ko {
                std::fs::write(
                    t.0.join(format!("lib/modules/{rel}/updates/dkms/dahdi.ko")),
                    b"m",
                )
                .unwrap();
            }
        }
        t
    }

    mod tempdir {
        pub struct TempRoot(pub std::path::PathBuf);
        impl TempRoot {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "kut-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                TempRoot(p)
            }
        }
        impl Drop for TempRoot {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn picks_newest_kernel_with_image_and_module() {
        let t = fake_root(&[
            ("6.1.0-9-amd64", true, true),
            ("6.1.0-56-amd64", true, true),
            ("6.1.0-60-amd64", true, false), // no DAHDI build
            ("6.1.0-61-amd64", false, true), // no image
        ]);
        let k = KernelUnderTest::discover_in(&t.0, None).unwrap();
        assert_eq!(k.release, "6.1.0-56-amd64");
        let k = KernelUnderTest::discover_in(&t.0, Some("6.1.0-9-amd64")).unwrap();
        assert_eq!(k.release, "6.1.0-9-amd64");
    }

    #[test]
    fn missing_kernel_says_what_to_install() {
        let t = fake_root(&[("6.1.0-60-amd64", true, false)]);
        let e = KernelUnderTest::discover_in(&t.0, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("install.sh") && e.contains("dahdi-dkms"), "{e}");
    }
}
