//! Shared by the initramfs-level VM tests (`vm_loader`, `vm_loader_sig`).
//!
//! Each of those test binaries is its own guest program: on the host it declares a
//! [`GuestSuite`] that copies itself, the `dahdi-loader` binary and a few files into the
//! initramfs; inside the VM the harness calls it back with `--guest-run NAME`. Every suite
//! runs on every [`dahdi_tests::Platform`] (Debian 12: DAHDI 2.11, plain `.ko`; Debian 13:
//! DAHDI 3.1 as `.ko.xz` that needs in-tree modules), its facts and files taken from that
//! platform's system.
//!
//! Nothing here preloads DAHDI: the loader under test must load it. Expected values come from
//! sources other than the loader: the host's `modinfo` and `modprobe --dump-modversions` (the
//! [`Facts`] file), the guest kernel's `/proc/modules`, `/proc/devices`, sysfs and `dmesg`,
//! and depmod's `modules.dep`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dahdi_tests::{GuestSuite, KernelUnderTest};

/// Where the guest finds the loader (where the dist files expect it).
pub const LOADER: &str = "/usr/sbin/dahdi-loader";
/// Facts computed on the host with kmod's tools, for the guest to compare against.
pub const FACTS: &str = "/etc/vm-loader/facts";
/// The loader configuration the suites install: one module with dependencies (so the load
/// order is visible) on top of `dahdi`.
pub const CONFIG: &str = "add dahdi_dynamic_loc\n";
/// The module the configuration adds.
pub const ADDED: &str = "dahdi_dynamic_loc";

/// What the host's kmod says about the module files the guest gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Kernel release the suite boots.
    pub release: String,
    /// dahdi.ko, at the same path in the guest as on the host.
    pub dahdi: PathBuf,
    /// `modinfo -F srcversion dahdi.ko`.
    pub srcversion: String,
    /// `modinfo -F vermagic dahdi.ko`, with the trailing space the kernel stores.
    pub vermagic: String,
    /// CRC of `module_layout` in dahdi.ko's `__versions`, per `modprobe --dump-modversions`.
    /// Both platforms have it: Debian 13's 6.12 still exports `module_layout` (its
    /// Module.symvers lists it) and checks it before any other symbol.
    pub module_layout_crc: u64,
}

impl Facts {
    fn encode(&self) -> String {
        format!(
            "release={}\ndahdi={}\nsrcversion={}\nvermagic={}\nmodule_layout_crc={:#x}\n",
            self.release,
            self.dahdi.display(),
            self.srcversion,
            self.vermagic,
            self.module_layout_crc
        )
    }

    /// Reads the facts file in the guest.
    pub fn read() -> Facts {
        let text = std::fs::read_to_string(FACTS).unwrap_or_else(|e| panic!("{FACTS}: {e}"));
        let map: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| {
            map.get(k)
                .unwrap_or_else(|| panic!("{FACTS} has no {k}:\n{text}"))
                .to_string()
        };
        Facts {
            release: get("release"),
            dahdi: PathBuf::from(get("dahdi")),
            srcversion: get("srcversion"),
            vermagic: get("vermagic"),
            module_layout_crc: u64::from_str_radix(
                get("module_layout_crc").trim_start_matches("0x"),
                16,
            )
            .expect("module_layout_crc"),
        }
    }
}

/// Runs a host tool; its stdout, or why it failed.
fn host_tool(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program} (kmod installs it): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The host file of one of the kernel's DKMS-built DAHDI modules (compressed as installed).
fn dkms_module(kernel: &KernelUnderTest, name: &str) -> Result<PathBuf, String> {
    kernel
        .dahdi_modules()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p)
        .ok_or_else(|| {
            format!(
                "no {name} module in {} (kernel {}): is DAHDI built for it (dkms status)?",
                kernel.dahdi_dir.display(),
                kernel.release
            )
        })
}

/// Computes the facts on the host, with kmod's own tools (which read compressed modules
/// as the kernel's module tools do).
pub fn host_facts(kernel: &KernelUnderTest) -> Result<Facts, String> {
    let host = dkms_module(kernel, "dahdi")?;
    let path = host.to_string_lossy().into_owned();
    let field = |f: &str| -> Result<String, String> {
        Ok(host_tool("modinfo", &["-F", f, &path])?
            .trim_end_matches('\n')
            .to_string())
    };
    let dump = host_tool("modprobe", &["--dump-modversions", &path])?;
    let crc = dump
        .lines()
        .find_map(|l| {
            let (crc, sym) = l.split_once(char::is_whitespace)?;
            (sym.trim() == "module_layout").then(|| crc.trim_start_matches("0x").to_string())
        })
        .ok_or_else(|| {
            format!("{path} has no module_layout in __versions (modprobe --dump-modversions)")
        })?;
    // modinfo prints vermagic without the trailing space; the kernel's string has it.
    let mut vermagic = field("vermagic")?;
    if !vermagic.ends_with(' ') {
        vermagic.push(' ');
    }
    Ok(Facts {
        release: kernel.release.clone(),
        dahdi: PathBuf::from(kernel.guest_path(&host)),
        srcversion: field("srcversion")?,
        vermagic,
        module_layout_crc: u64::from_str_radix(&crc, 16)
            .map_err(|e| format!("CRC {crc:?} from modprobe: {e}"))?,
    })
}

/// The host's xz, which the guest uses to compress an edited module again as DKMS does.
const HOST_XZ: &str = "/usr/bin/xz";
/// Where the guest finds it (apart from busybox's applets, which only decompress).
pub const GUEST_XZ: &str = "/usr/lib/vm-loader/xz";
/// DKMS's options for xz (`compress_xz_opts` in /usr/sbin/dkms), the same as kbuild's for
/// the kernel's own modules: the kernel's decoder checks CRC32 and needs at most this
/// dictionary.
const DKMS_XZ_OPTIONS: &[&str] = &["--check=crc32", "--lzma2=dict=1MiB"];

/// The suite every initramfs-level loader test binary boots, as far as it is the same on
/// every platform: this test binary as the guest program, the loader at /usr/sbin and the
/// configuration. [`for_kernel`] adds the rest once the platform's kernel is known. DAHDI is
/// not loaded beforehand.
pub fn loader_suite(name: &str) -> GuestSuite {
    GuestSuite::new(name)
        .program(std::env::current_exe().expect("current_exe"))
        .executable(env!("CARGO_BIN_EXE_dahdi-loader"), LOADER)
        .file("/etc/dahdi-loader/vm.conf", 0o644, CONFIG)
}

/// Completes a loader suite for `kernel`: the facts its modules give kmod's tools on the
/// host; one in-tree module of the kernel (the first in modules.order), so the loader reads
/// the kernel's full vermagic from the module tree as it does on a real system; the in-tree
/// modules that modules.dep says DAHDI needs (Debian 13's dahdi.ko needs `slhc`,
/// `ppp_generic` and `hdlc`), at their installed paths and compressed as installed, for the
/// loader to load itself; and xz where the modules are xz-compressed.
pub fn for_kernel(kernel: &KernelUnderTest, suite: GuestSuite) -> Result<GuestSuite, String> {
    let facts = host_facts(kernel)?;
    let mut suite = suite.file(FACTS, 0o644, facts.encode());

    let order_file = kernel.modules_dir.join("modules.order");
    let order = std::fs::read_to_string(&order_file)
        .map_err(|e| format!("{}: {e}", order_file.display()))?;
    let first = order.lines().next().ok_or("modules.order is empty")?;
    // modules.order names the file kbuild built (`.ko`); the installed one may be compressed.
    let stem = first.strip_suffix(".ko").unwrap_or(first);
    let in_tree = dahdi_tests::kernel::MODULE_SUFFIXES
        .iter()
        .map(|s| kernel.modules_dir.join(format!("{stem}{s}")))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{first} of modules.order is not installed"))?;
    let mut extra = vec![in_tree];
    for load in
        dahdi_tests::moddep::load_order(kernel, &["dahdi", ADDED]).map_err(|e| e.to_string())?
    {
        // The DKMS-built modules are in every image already.
        if !load.host.starts_with(&kernel.dahdi_dir) && !extra.contains(&load.host) {
            extra.push(load.host);
        }
    }
    for host in extra {
        let data = std::fs::read(&host).map_err(|e| format!("{}: {e}", host.display()))?;
        suite = suite.file(&kernel.guest_path(&host), 0o644, data);
    }

    let compressed = std::fs::read(dkms_module(kernel, "dahdi")?)
        .map_err(|e| e.to_string())
        .map(|d| dahdi_loader::module_file::compression::Compression::from_magic(&d))?;
    if compressed.is_some() {
        if !Path::new(HOST_XZ).is_file() {
            return Err(format!(
                "{HOST_XZ} is missing: apt-get install xz-utils (the tests compress edited \
                 modules with it as DKMS does)"
            ));
        }
        suite = suite.executable(HOST_XZ, GUEST_XZ);
    }
    Ok(suite)
}

/// Runs the suites as `cargo test` trials on every platform (the host side of `main`);
/// `extra` adds what a test binary needs from the platform's system besides
/// [`for_kernel`]'s.
pub fn run_host(
    suites: Vec<GuestSuite>,
    extra: impl Fn(&KernelUnderTest, GuestSuite) -> Result<GuestSuite, String>,
) -> ! {
    dahdi_tests::runner::run_prepared_suites_on_platforms(
        suites,
        &dahdi_tests::Platform::ALL,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &|_, kernel, suite| extra(kernel, for_kernel(kernel, suite)?),
    )
}

// ---- guest side -------------------------------------------------------------------------

/// A finished loader run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("loader stdout is not JSON ({e}):\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the loader with `args` and the environment of a boot (no overrides).
pub fn loader(args: &[&str]) -> Run {
    let out = Command::new(LOADER)
        .args(args)
        .env_remove("DAHDI_LOADER_ROOT")
        .env_remove("DAHDI_LOADER_RUNNING_KERNEL")
        .output()
        .unwrap_or_else(|e| panic!("cannot start {LOADER}: {e}"));
    let run = Run::from(out);
    println!("$ dahdi-loader {}\n{run}", args.join(" "));
    run
}

/// One line of /proc/modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub name: String,
    pub size: u64,
    pub refcount: u64,
    pub used_by: Vec<String>,
    pub state: String,
}

/// /proc/modules in the kernel's order (most recently loaded first).
pub fn proc_modules() -> Vec<Live> {
    let text = std::fs::read_to_string("/proc/modules").expect("/proc/modules");
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 5, "odd /proc/modules line {l:?}");
            Live {
                name: f[0].to_string(),
                size: f[1].parse().expect("size"),
                refcount: f[2].parse().expect("refcount"),
                used_by: f[3]
                    .split(',')
                    .filter(|s| !s.is_empty() && *s != "-")
                    .map(String::from)
                    .collect(),
                state: f[4].to_string(),
            }
        })
        .collect()
}

pub fn loaded_names() -> Vec<String> {
    proc_modules().into_iter().map(|m| m.name).collect()
}

/// The kernel log as lines.
pub fn dmesg() -> Vec<String> {
    let out = Command::new("dmesg").output().expect("busybox dmesg");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Kernel log lines written after `before` was taken.
pub fn dmesg_since(before: &[String]) -> Vec<String> {
    let now = dmesg();
    // The ring buffer only grows in these short runs; if it wrapped, compare by content.
    match now.get(..before.len()) {
        Some(head) if head == before => now[before.len()..].to_vec(),
        _ => now.into_iter().filter(|l| !before.contains(l)).collect(),
    }
}

/// depmod's modules.dep of the running kernel: module name → names of its dependencies.
pub fn modules_dep(release: &str) -> BTreeMap<String, Vec<String>> {
    let path = format!("/lib/modules/{release}/modules.dep");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let stem = |p: &str| {
        Path::new(p)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('.').next())
            .map(|n| n.replace('-', "_"))
            .unwrap_or_default()
    };
    text.lines()
        .filter_map(|l| {
            let (m, deps) = l.split_once(':')?;
            Some((stem(m), deps.split_whitespace().map(stem).collect()))
        })
        .collect()
}

/// `wanted` and everything modules.dep says they need.
pub fn dep_closure(dep: &BTreeMap<String, Vec<String>>, wanted: &[&str]) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut stack: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
    while let Some(n) = stack.pop() {
        if out.insert(n.clone()) {
            stack.extend(dep.get(&n).cloned().unwrap_or_default());
        }
    }
    out
}

/// Swaps a module file for other bytes until dropped, then puts the original back.
pub struct Swapped {
    path: PathBuf,
    original: Vec<u8>,
}

impl Swapped {
    pub fn new(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> Swapped {
        let original = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut data = original.clone();
        edit(&mut data);
        assert_ne!(data, original, "the edit changed nothing");
        std::fs::write(path, &data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Swapped {
            path: path.to_owned(),
            original,
        }
    }

    /// Like [`Swapped::new`], but `edit` sees the module's ELF image: a compressed
    /// module (`.ko.xz`) is decompressed first and compressed again after, with xz and
    /// DKMS's options, as a DKMS rebuild would install it (the kernel itself decompresses
    /// what the loader hands it, so the stream must be one the kernel's decoder takes).
    pub fn module(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> Swapped {
        use dahdi_loader::module_file::compression::{Compression, MAX_IMAGE_BYTES};
        Swapped::new(path, |data| match Compression::from_magic(data) {
            None => edit(data),
            Some(Compression::Xz) => {
                let mut image = Compression::Xz
                    .decompress(data, MAX_IMAGE_BYTES)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                edit(&mut image);
                *data = xz_compress(&image);
            }
            Some(other) => panic!("{}: {other:?} modules are not edited here", path.display()),
        })
    }
}

impl Drop for Swapped {
    fn drop(&mut self) {
        std::fs::write(&self.path, &self.original).expect("restoring the module file");
    }
}

/// `image` compressed by xz with DKMS's options (the guest's copy of the host's xz).
fn xz_compress(image: &[u8]) -> Vec<u8> {
    let scratch = "/tmp/vm-loader-edited.ko";
    std::fs::write(scratch, image).expect("writing the edited module");
    let mut args = DKMS_XZ_OPTIONS.to_vec();
    args.extend(["-c", "--", scratch]);
    let out = Command::new(GUEST_XZ)
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {GUEST_XZ}: {e}"));
    assert!(
        out.status.success(),
        "{GUEST_XZ} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Replaces the only occurrence of `from` in `data` with `to` (same length).
pub fn replace_once(data: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len(), "replacement must keep the length");
    let hits: Vec<usize> = data
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected exactly one occurrence of {:?}",
        String::from_utf8_lossy(from)
    );
    data[hits[0]..hits[0] + to.len()].copy_from_slice(to);
}

/// Another kernel's release of the same length: the last digit of the ABI number changed
/// (`6.1.0-56-amd64` → `6.1.0-57-amd64`); the flavour after the last `-` is kept.
pub fn other_release(release: &str) -> String {
    let abi_end = release.rfind('-').unwrap_or(release.len());
    let i = release[..abi_end]
        .rfind(|c: char| c.is_ascii_digit())
        .expect("a release has digits");
    let d = release.as_bytes()[i] - b'0';
    let mut s = release.to_string();
    s.replace_range(i..=i, &((d + 1) % 10).to_string());
    s
}

/// No DAHDI module is loaded (the state before the loader ran, or after a refusal).
pub fn assert_no_dahdi_loaded(context: &str) {
    let names = loaded_names();
    assert!(
        !names.iter().any(|n| n.starts_with("dahdi")),
        "{context}: DAHDI is in /proc/modules: {names:?}"
    );
}

/// Runs `ensure` when the loader must refuse before the kernel is asked: it exits
/// `exit`, the kernel logs nothing, and DAHDI stays unloaded. Returns the run for the
/// caller's checks of the words.
pub fn ensure_refuses_without_asking_the_kernel(exit: i32) -> Run {
    let before = dmesg();
    let run = loader(&["ensure"]);
    assert_eq!(run.code, Some(exit), "{run}");
    let new = dmesg_since(&before);
    assert!(
        new.is_empty(),
        "the kernel logged something, so it was asked:\n{}",
        new.join("\n")
    );
    assert_no_dahdi_loaded("after the loader's refusal");
    run
}

/// Runs `ensure` when the kernel itself must refuse dahdi.ko: the kernel's log says
/// `kernel_says`, the loader exits 3 (broken), names the errno (`errno`: name and text) and
/// explains it with all of `words`, and DAHDI stays unloaded.
pub fn assert_kernel_refuses(kernel_says: &str, errno: (&str, &str), words: &[&str]) {
    let before = dmesg();
    let run = loader(&["ensure"]);
    let kernel_said = dmesg_since(&before).join("\n");
    assert!(
        kernel_said.contains(kernel_says),
        "the kernel did not say {kernel_says:?} (dmesg):\n{kernel_said}\n{run}"
    );
    assert_eq!(run.code, Some(3), "a failed load is 'broken'\n{run}");
    assert!(
        run.stderr.contains(errno.0) && run.stderr.contains(errno.1),
        "errno not named\n{run}"
    );
    for w in words {
        assert!(
            run.stderr.contains(w),
            "not explained in words: no {w:?}\n{run}"
        );
    }
    assert_no_dahdi_loaded("after the kernel's refusal");
}

/// The report of the running kernel in `status --json`.
pub fn running_report(status: &serde_json::Value) -> &serde_json::Value {
    status["kernels"]
        .as_array()
        .expect("kernels array")
        .iter()
        .find(|k| k["kernel"]["running"] == serde_json::Value::Bool(true))
        .unwrap_or_else(|| panic!("no running kernel in status --json: {status:#}"))
}

/// One module's report in a kernel report.
pub fn module_report<'a>(kernel: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    kernel["modules"]
        .as_array()
        .expect("modules array")
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no module {name} in {kernel:#}"))
}
