//! Installed kernels, the running kernel, their headers and their expected vermagic.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::module_file::{self, Compression, ModuleInfo};
use crate::names::{relative_path, KernelRelease, ModuleName};
use crate::root::{list_dir, read_optional, Root};

/// One kernel known to the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kernel {
    /// `uname -r` of that kernel.
    pub release: KernelRelease,
    /// It is the kernel this process runs on.
    pub running: bool,
    /// `/lib/modules/RELEASE`, if it exists.
    pub modules_dir: Option<PathBuf>,
    /// `/boot/vmlinuz-RELEASE`, if it exists.
    pub image: Option<PathBuf>,
    /// The headers' directory (it has a Makefile), if installed.
    pub headers: Option<PathBuf>,
}

impl Kernel {
    /// A `/lib/modules` directory with neither an image nor any in-tree module is what
    /// package removal leaves behind when other files (DKMS output) were still in it.
    pub fn is_leftover(&self) -> bool {
        self.image.is_none()
            && !self.running
            && !self
                .modules_dir
                .as_ref()
                .is_some_and(|d| d.join("kernel").is_dir() || d.join("modules.dep").is_file())
    }
}

/// The release of the kernel this process runs on (`uname -r`).
pub fn running_release() -> Option<KernelRelease> {
    let u = nix::sys::utsname::uname().ok()?;
    KernelRelease::new(u.release().to_str()?).ok()
}

/// Finds the headers of `release`: `/lib/modules/R/build` or `/usr/src/linux-headers-R`,
/// whichever has a Makefile (the same test akmods and DKMS make).
pub fn find_headers(root: &Root, release: &KernelRelease) -> Option<PathBuf> {
    let build = root.join(format!("/lib/modules/{release}/build"));
    let build = match root.read_link(&build) {
        Ok(Some(target)) => target,
        _ => build,
    };
    let usr_src = root.join(format!("/usr/src/linux-headers-{release}"));
    [build, usr_src]
        .into_iter()
        .find(|d| d.join("Makefile").is_file())
}

/// Every kernel that has a module directory or a boot image, plus the running one.
/// Sorted oldest to newest by version.
pub fn installed(root: &Root, running: Option<&KernelRelease>) -> Result<Vec<Kernel>, Error> {
    let mut releases: Vec<KernelRelease> = Vec::new();
    for name in list_dir(&root.join("/lib/modules"))? {
        if let Ok(r) = KernelRelease::new(&name) {
            if root.join("/lib/modules").join(&name).is_dir() {
                releases.push(r);
            }
        }
    }
    for name in list_dir(&root.join("/boot"))? {
        if let Some(r) = name.strip_prefix("vmlinuz-") {
            if let Ok(r) = KernelRelease::new(r) {
                releases.push(r);
            }
        }
    }
    if let Some(r) = running {
        releases.push(r.clone());
    }
    releases.sort_by(|a, b| compare_versions(a.as_str(), b.as_str()));
    releases.dedup();
    Ok(releases
        .into_iter()
        .map(|r| {
            let is_running = running == Some(&r);
            describe(root, &r, is_running)
        })
        .collect())
}

/// Describes one kernel release.
pub fn describe(root: &Root, release: &KernelRelease, running: bool) -> Kernel {
    let modules_dir = root.join(format!("/lib/modules/{release}"));
    let image = root.join(format!("/boot/vmlinuz-{release}"));
    Kernel {
        release: release.clone(),
        running,
        modules_dir: modules_dir.is_dir().then_some(modules_dir),
        image: image.exists().then_some(image),
        headers: find_headers(root, release),
    }
}

/// Orders kernel releases the way people read them: digit runs compare as numbers, so
/// 6.1.0-9 < 6.1.0-56 < 6.10.0-1.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let ord = match (x, y) {
            ((true, p), (true, q)) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                p.len().cmp(&q.len()).then(p.cmp(q))
            }
            ((_, p), (_, q)) => p.cmp(q),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

/// Where an expected vermagic came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "kebab-case")]
pub enum VermagicSource {
    /// `vermagic=` of a module shipped with the kernel (the most reliable source).
    InTreeModule(PathBuf),
    /// Composed from the headers' `utsrelease.h` and `.config`.
    Headers(PathBuf),
    /// Composed from the release name and `/boot/config-RELEASE`.
    BootConfig(PathBuf),
}

/// What a module must carry to load on a kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelAbi {
    /// The full vermagic string, trailing space included.
    pub vermagic: String,
    /// Where it was read or composed from.
    pub source: VermagicSource,
    /// `sizeof(struct module)` as seen in an in-tree module, when one was read.
    pub this_module_size: Option<u64>,
    /// ELF machine of in-tree modules, when one was read (by name in JSON: `x86-64`).
    #[serde(serialize_with = "crate::json::serialize_elf_machine")]
    pub machine: Option<u16>,
}

/// Finds the vermagic `release` expects: from an in-tree module if there is one, else from
/// its headers, else from `/boot/config-RELEASE`.
pub fn expected_abi(root: &Root, release: &KernelRelease) -> Option<KernelAbi> {
    let dir = root.join(format!("/lib/modules/{release}"));
    if let Some((path, info)) = first_in_tree_module(root, &dir) {
        if let Some(v) = info.vermagic() {
            return Some(KernelAbi {
                vermagic: v.to_string(),
                source: VermagicSource::InTreeModule(path),
                this_module_size: info.this_module_size,
                machine: Some(info.machine),
            });
        }
    }
    if let Some(h) = find_headers(root, release) {
        let uts = read_optional(&h.join("include/generated/utsrelease.h"))
            .ok()
            .flatten();
        let config = read_optional(&h.join(".config")).ok().flatten();
        if let (Some(uts), Some(config)) = (uts, config) {
            if let Some(uts_release) = parse_uts_release(&uts) {
                let randstruct = read_optional(&h.join("include/generated/randstruct_hash.h"))
                    .ok()
                    .flatten();
                return Some(KernelAbi {
                    vermagic: compose_vermagic(&uts_release, &config, randstruct.as_deref()),
                    source: VermagicSource::Headers(h),
                    this_module_size: None,
                    machine: None,
                });
            }
        }
    }
    let boot_config = root.join(format!("/boot/config-{release}"));
    if let Ok(Some(config)) = read_optional(&boot_config) {
        return Some(KernelAbi {
            vermagic: compose_vermagic(release.as_str(), &config, None),
            source: VermagicSource::BootConfig(boot_config),
            this_module_size: None,
            machine: None,
        });
    }
    None
}

/// Reads the first in-tree module named in modules.order (or, without it, found under
/// `kernel/`). Any one will do: every in-tree module carries the kernel's own vermagic.
fn first_in_tree_module(root: &Root, dir: &Path) -> Option<(PathBuf, ModuleInfo)> {
    // modules.order names `kernel/x/y.ko` even where the files are compressed.
    let order = read_optional(&dir.join("modules.order")).ok().flatten();
    let listed = order
        .iter()
        .flat_map(|o| o.lines())
        .filter(|l| relative_path(l).is_ok())
        .filter_map(|l| with_any_suffix(&dir.join(l)))
        .take(8);
    let mut candidates: Vec<PathBuf> = listed.collect();
    if candidates.is_empty() {
        candidates.extend(find_ko(&dir.join("kernel"), 6));
    }
    candidates
        .into_iter()
        .find_map(|p| module_file::read_info(&p, root).ok().map(|(_, i)| (p, i)))
}

/// The file a `.ko` path names, as installed: itself or its compressed form.
fn with_any_suffix(ko: &Path) -> Option<PathBuf> {
    ["", ".xz", ".zst", ".gz"].iter().find_map(|ext| {
        let mut p = ko.as_os_str().to_owned();
        p.push(ext);
        let p = PathBuf::from(p);
        p.is_file().then_some(p)
    })
}

fn find_ko(dir: &Path, depth: u32) -> Option<PathBuf> {
    let names = list_dir(dir).ok()?;
    for n in &names {
        if ModuleName::from_file_name(Path::new(n)).is_some() {
            return Some(dir.join(n));
        }
    }
    if depth == 0 {
        return None;
    }
    names.iter().find_map(|n| find_ko(&dir.join(n), depth - 1))
}

/// `#define UTS_RELEASE "6.1.0-56-amd64"` → `6.1.0-56-amd64`.
pub fn parse_uts_release(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("#define")?.trim_start();
        let rest = rest.strip_prefix("UTS_RELEASE")?.trim();
        let v = rest.strip_prefix('"')?.strip_suffix('"')?;
        Some(v.to_string())
    })
}

/// Rebuilds `VERMAGIC_STRING` (include/linux/vermagic.h) from a kernel config.
///
/// Only the generic words are composed; architectures that add their own words (32-bit
/// x86, ARM) are not covered, which is why an in-tree module is preferred as a source.
pub fn compose_vermagic(uts_release: &str, config: &str, randstruct_hash: Option<&str>) -> String {
    let enabled = |opt: &str| {
        config
            .lines()
            .any(|l| l.strip_prefix(opt).is_some_and(|r| r == "=y"))
    };
    let mut v = format!("{uts_release} ");
    if enabled("CONFIG_SMP") {
        v.push_str("SMP ");
    }
    if enabled("CONFIG_PREEMPT_BUILD") || enabled("CONFIG_PREEMPT") && !enabled("CONFIG_PREEMPT_RT")
    {
        v.push_str("preempt ");
    } else if enabled("CONFIG_PREEMPT_RT") {
        v.push_str("preempt_rt ");
    }
    if enabled("CONFIG_MODULE_UNLOAD") {
        v.push_str("mod_unload ");
    }
    if enabled("CONFIG_MODVERSIONS") {
        v.push_str("modversions ");
    }
    if let Some(h) = randstruct_hash.and_then(|t| {
        t.lines().find_map(|l| {
            let r = l
                .trim()
                .strip_prefix("#define RANDSTRUCT_HASHED_SEED")?
                .trim();
            Some(r.trim_matches('"').to_string())
        })
    }) {
        v.push_str(&format!("RANDSTRUCT_{h}"));
    }
    v
}

/// The `CONFIG_X=y` options of a kernel config text that are set.
pub fn config_enabled(config: &str, option: &str) -> bool {
    config
        .lines()
        .any(|l| l.strip_prefix(option).is_some_and(|r| r == "=y"))
}

/// What a kernel's build configuration says about loading modules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KernelConfig {
    /// Where it was read (`/boot/config-R` or the headers' `.config`).
    pub source: Option<PathBuf>,
    /// `CONFIG_MODULE_DECOMPRESS`: `finit_module` takes compressed files
    /// (`MODULE_INIT_COMPRESSED_FILE`) in the format below.
    pub decompresses: Option<Compression>,
    /// `CONFIG_MODVERSIONS`: imported symbols carry CRCs the kernel compares.
    pub modversions: bool,
    /// `CONFIG_MODULE_SIG_FORCE`: unsigned or untrusted modules are refused.
    pub sig_force: bool,
    /// `CONFIG_MODULE_FORCE_LOAD`: a module without vermagic taints but loads.
    pub force_load: bool,
}

impl KernelConfig {
    /// Parses a kernel `.config`.
    pub fn parse(text: &str, source: Option<PathBuf>) -> Self {
        let on = |o: &str| config_enabled(text, o);
        // The kernel decompresses the one format its own modules are compressed with
        // (kernel/module/decompress.c is built for CONFIG_MODULE_COMPRESS_{GZIP,XZ,ZSTD}).
        let format = [
            ("CONFIG_MODULE_COMPRESS_XZ", Compression::Xz),
            ("CONFIG_MODULE_COMPRESS_ZSTD", Compression::Zstd),
            ("CONFIG_MODULE_COMPRESS_GZIP", Compression::Gzip),
        ]
        .into_iter()
        .find(|(o, _)| on(o))
        .map(|(_, c)| c);
        KernelConfig {
            source,
            decompresses: if on("CONFIG_MODULE_DECOMPRESS") {
                format
            } else {
                None
            },
            modversions: on("CONFIG_MODVERSIONS"),
            sig_force: on("CONFIG_MODULE_SIG_FORCE"),
            force_load: on("CONFIG_MODULE_FORCE_LOAD"),
        }
    }

    /// Reads the configuration of `kernel`: its headers' `.config`, else
    /// `/boot/config-RELEASE`; `None` when neither exists.
    pub fn read(root: &Root, kernel: &Kernel) -> Option<Self> {
        let candidates = kernel
            .headers
            .iter()
            .map(|h| h.join(".config"))
            .chain(std::iter::once(
                root.join(format!("/boot/config-{}", kernel.release)),
            ));
        for path in candidates {
            if let Ok(Some(text)) = read_optional(&path) {
                return Some(Self::parse(&text, Some(path)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        let mut v = vec![
            "6.10.0-1-amd64",
            "6.1.0-56-amd64",
            "6.1.0-9-amd64",
            "5.10.0-30-amd64",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            vec![
                "5.10.0-30-amd64",
                "6.1.0-9-amd64",
                "6.1.0-56-amd64",
                "6.10.0-1-amd64"
            ]
        );
        assert_eq!(compare_versions("6.1", "6.1.0"), Ordering::Less);
    }

    #[test]
    fn config_of_debian_13_kernels() {
        // The options Debian 13's 6.12 kernel is built with (its /boot/config).
        let c = KernelConfig::parse(
            "CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_COMPRESS_ALL=y\n\
             CONFIG_MODULE_DECOMPRESS=y\nCONFIG_MODVERSIONS=y\nCONFIG_MODULE_SIG=y\n\
             CONFIG_MODULE_FORCE_LOAD=y\n# CONFIG_MODULE_SIG_FORCE is not set\n",
            None,
        );
        assert_eq!(c.decompresses, Some(Compression::Xz));
        assert!(c.modversions && c.force_load && !c.sig_force);
        // Debian 12's 6.1: nothing compressed, nothing decompressed.
        let c = KernelConfig::parse(
            "CONFIG_MODULE_COMPRESS_NONE=y\nCONFIG_MODVERSIONS=y\n",
            None,
        );
        assert_eq!(c.decompresses, None);
        // Compressing without in-kernel decompression (5.x kernels, or the option off).
        let c = KernelConfig::parse("CONFIG_MODULE_COMPRESS_ZSTD=y\n", None);
        assert_eq!(c.decompresses, None);
    }

    #[test]
    fn uts_release() {
        assert_eq!(
            parse_uts_release("/* x */\n#define UTS_RELEASE \"6.1.0-56-amd64\"\n").as_deref(),
            Some("6.1.0-56-amd64")
        );
        assert_eq!(parse_uts_release("#define UTS_VERSION \"x\""), None);
        assert_eq!(parse_uts_release(""), None);
    }

    #[test]
    fn compose_from_config_words() {
        let cfg = "CONFIG_SMP=y\nCONFIG_PREEMPT_BUILD=y\nCONFIG_MODULE_UNLOAD=y\n# CONFIG_MODVERSIONS is not set\n";
        assert_eq!(
            compose_vermagic("6.1.0-1-amd64", cfg, None),
            "6.1.0-1-amd64 SMP preempt mod_unload "
        );
        let rt = "CONFIG_SMP=y\nCONFIG_PREEMPT_RT=y\nCONFIG_MODVERSIONS=y\n";
        assert_eq!(
            compose_vermagic("6.1.0-1-rt-amd64", rt, None),
            "6.1.0-1-rt-amd64 SMP preempt_rt modversions "
        );
        // A prefix of an option name must not count as the option.
        assert_eq!(compose_vermagic("x", "CONFIG_SMPX=y\n", None), "x ");
    }
}
