//! Loading modules into the running kernel with `finit_module(2)`, dependencies first (not
//! to be confused with [`crate::live`], which reads what is loaded).
//!
//! Each file is opened once and judged by [`ModuleFile::open`] (the judgement `verify` makes
//! too); its vermagic is read from the same bytes, and that same descriptor is handed to the
//! kernel, so nothing can be swapped in between. A compressed module goes to the kernel as
//! it is, with `MODULE_INIT_COMPRESSED_FILE`, when the kernel decompresses that format
//! itself (`/sys/module/compression`, Linux 6.4+ as Debian 13 builds it); otherwise the
//! image decompressed here goes to the kernel through a sealed memory file. A module built
//! for another kernel is refused here, with both vermagic strings shown, before the kernel
//! is asked.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde::Serialize;

use crate::error::Error;
use crate::live::{sys_state, SysState};
use crate::modindex::KernelIndex;
use crate::module_file::{Compression, ModuleFile, ModuleImage};
use crate::names::{relative_path, KernelRelease, ModuleName};
use crate::root::{read_optional, Root};

/// `MODULE_INIT_COMPRESSED_FILE` from `include/uapi/linux/module.h` (Linux 5.17+): the fd
/// holds a compressed module for the kernel to decompress.
pub const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

/// One module to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Module name.
    pub name: ModuleName,
    /// Its file.
    pub path: PathBuf,
}

/// What happened to one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// finit_module succeeded.
    Loaded,
    /// It was already loaded (sysfs said so, or the kernel answered EEXIST).
    AlreadyLoaded,
    /// It is compiled into the kernel.
    BuiltIn,
}

/// How a module is handed to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// The file itself, uncompressed.
    File,
    /// The compressed file, for the kernel to decompress (`MODULE_INIT_COMPRESSED_FILE`).
    CompressedFile,
    /// A memory file holding the image decompressed here.
    Decompressed,
}

/// Something that can insert a module: the kernel, or a fake in tests.
pub trait Inserter {
    /// Inserts the module whose file (or image) is open on `fd`, with `params`.
    fn insert(
        &mut self,
        name: &ModuleName,
        fd: BorrowedFd<'_>,
        params: &str,
        handover: Handover,
    ) -> Result<(), Errno>;
}

/// The real thing: `finit_module(fd, params, flags)`.
#[derive(Debug, Default)]
pub struct KernelInserter;

impl Inserter for KernelInserter {
    fn insert(
        &mut self,
        _name: &ModuleName,
        fd: BorrowedFd<'_>,
        params: &str,
        handover: Handover,
    ) -> Result<(), Errno> {
        let params = CString::new(params).map_err(|_| Errno::EINVAL)?;
        let flags = match handover {
            Handover::CompressedFile => MODULE_INIT_COMPRESSED_FILE,
            Handover::File | Handover::Decompressed => 0,
        };
        nix::kmod::finit_module(
            fd,
            &params,
            nix::kmod::ModuleInitFlags::from_bits_retain(flags),
        )
    }
}

/// What an errno from `finit_module` means, in words.
pub fn explain(errno: Errno) -> &'static str {
    match errno {
        Errno::ENOEXEC => "the kernel refused the file's format: its vermagic, its struct module size, its module_layout symbol CRC (built against other kernel headers) or its ELF header does not match this kernel",
        Errno::EINVAL => "the module disagrees with the kernel about the version of a symbol (modversions CRC), needs a symbol namespace it does not import, or was given a bad parameter",
        Errno::ENOENT => "the module needs a symbol that nothing loaded provides: a dependency is missing or was built for another kernel",
        Errno::EKEYREJECTED => "the kernel enforces module signatures (Secure Boot or module.sig_enforce) and the module's signature is missing or from a key it does not trust; enrol the DKMS key with mokutil --import /var/lib/dkms/mok.pub",
        Errno::EPERM => "not permitted: the loader is not root, module loading is disabled (kernel.modules_disabled), the module is blacklisted on the kernel command line, or lockdown refuses it",
        Errno::EBUSY => "another load of the same module is in progress",
        Errno::EBADMSG => "the module's signature is malformed",
        Errno::ENOSYS => "this kernel was built without module support",
        Errno::ETXTBSY => "the module file is open for writing by someone else",
        Errno::EFBIG => "the module file is too large",
        Errno::ENOMEM => "the kernel ran out of memory",
        _ => "the module's own initialisation failed (see dmesg)",
    }
}

/// A module's soft dependencies (modprobe.d `softdep`): loaded before it and after it
/// when the kernel has them, as kmod's probe does.
pub type Softdeps<'a> = &'a dyn Fn(&ModuleName) -> (Vec<ModuleName>, Vec<ModuleName>);

/// Orders `wanted` and their dependencies so every module comes after what it needs.
///
/// `known` gives the DAHDI modules already resolved (name → file and its `depends=`);
/// anything else is looked up in the kernel's index (modules.dep).
pub fn plan(
    root: &Root,
    kernel: &KernelRelease,
    index: &KernelIndex,
    wanted: &[ModuleName],
    known: &[(ModuleName, PathBuf, Vec<ModuleName>)],
    softdeps: Softdeps<'_>,
) -> Result<Vec<Step>, Error> {
    let base = root.join(format!("/lib/modules/{kernel}"));
    let mut planner = Planner {
        known,
        index,
        base: &base,
        kernel,
        softdeps,
        order: Vec::new(),
        done: HashSet::new(),
        visiting: HashSet::new(),
    };
    for w in wanted {
        planner.visit(w, 0)?;
    }
    Ok(planner.order)
}

/// Depth-first walk that emits a module after everything it depends on.
struct Planner<'a> {
    known: &'a [(ModuleName, PathBuf, Vec<ModuleName>)],
    index: &'a KernelIndex,
    base: &'a Path,
    kernel: &'a KernelRelease,
    softdeps: Softdeps<'a>,
    order: Vec<Step>,
    done: HashSet<ModuleName>,
    visiting: HashSet<ModuleName>,
}

impl Planner<'_> {
    fn visit(&mut self, name: &ModuleName, depth: usize) -> Result<(), Error> {
        if self.done.contains(name) {
            return Ok(());
        }
        if depth > 64 || !self.visiting.insert(name.clone()) {
            return Err(Error::Usage(format!(
                "module dependencies form a loop through {name}; the module files are inconsistent"
            )));
        }
        let (path, deps): (PathBuf, Vec<ModuleName>) =
            if let Some((_, p, d)) = self.known.iter().find(|(n, _, _)| n == name) {
                (p.clone(), d.clone())
            } else if let Some(e) = self.index.deps.get(name) {
                relative_path(&e.relpath)?;
                // modules.dep lists the whole closure; depmod's order puts the module's own
                // direct needs first and the deepest last, so load from the end.
                let deps = e
                    .deps
                    .iter()
                    .rev()
                    .filter_map(|d| ModuleName::from_file_name(Path::new(d)))
                    .collect();
                (self.base.join(&e.relpath), deps)
            } else {
                return Err(Error::ModuleMissing {
                    module: name.to_string(),
                    kernel: self.kernel.to_string(),
                });
            };
        let (pre, post) = (self.softdeps)(name);
        let have = |m: &ModuleName| {
            self.known.iter().any(|(n, _, _)| n == m) || self.index.deps.contains_key(m)
        };
        let pre: Vec<ModuleName> = pre.into_iter().filter(|m| have(m)).collect();
        let post: Vec<ModuleName> = post.into_iter().filter(|m| have(m)).collect();
        for d in pre.iter().chain(&deps) {
            self.visit(d, depth + 1)?;
        }
        self.visiting.remove(name);
        self.done.insert(name.clone());
        self.order.push(Step {
            name: name.clone(),
            path,
        });
        for d in &post {
            self.visit(d, depth + 1)?;
        }
        Ok(())
    }
}

/// The vermagic the running kernel wants: the full string, or only its release word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Compare the whole vermagic.
    Full(String),
    /// Only the kernel release is known (no in-tree module or headers to read).
    Release(String),
}

/// The format the running kernel decompresses itself (`/sys/module/compression`), if any.
pub fn kernel_decompresses(root: &Root) -> Option<Compression> {
    read_optional(&root.join("/sys/module/compression"))
        .ok()
        .flatten()
        .and_then(|s| Compression::from_kernel_name(&s))
}

/// Loads the steps in order, each with its parameters (`params`: modprobe.d's options
/// and the kernel command line's). Already-loaded and built-in modules are skipped; EEXIST
/// counts as success. Stops at the first failure.
pub fn execute(
    root: &Root,
    steps: &[Step],
    expect: &Expect,
    params: &dyn Fn(&ModuleName) -> String,
    inserter: &mut dyn Inserter,
) -> Result<Vec<(ModuleName, Outcome)>, Error> {
    let decompresses = kernel_decompresses(root);
    let mut out = Vec::new();
    for step in steps {
        match sys_state(root, &step.name)? {
            SysState::BuiltIn => {
                out.push((step.name.clone(), Outcome::BuiltIn));
                continue;
            }
            SysState::Module(s) if s == "live" => {
                out.push((step.name.clone(), Outcome::AlreadyLoaded));
                continue;
            }
            _ => {}
        }
        let mut file = ModuleFile::open(&step.path, root)?;
        let image = file.read()?;
        let info = image.info().map_err(|e| Error::BadModule {
            path: step.path.clone(),
            reason: e.to_string(),
        })?;
        let found = info.vermagic().unwrap_or("").to_string();
        let ok = match expect {
            Expect::Full(v) => &found == v,
            Expect::Release(r) => found.split(' ').next() == Some(r.as_str()),
        };
        if !ok {
            return Err(Error::VermagicRefused {
                module: step.name.to_string(),
                path: step.path.clone(),
                found,
                expected: match expect {
                    Expect::Full(v) => v.clone(),
                    Expect::Release(r) => format!("{r} ..."),
                },
            });
        }
        let result = hand_over(
            &step.name,
            &file,
            &image,
            &params(&step.name),
            decompresses,
            inserter,
        )
        .map_err(|e| Error::io("prepare", &step.path, e))?;
        match result {
            Ok(()) => out.push((step.name.clone(), Outcome::Loaded)),
            Err(Errno::EEXIST) => out.push((step.name.clone(), Outcome::AlreadyLoaded)),
            Err(errno) => {
                return Err(Error::Load {
                    module: step.name.to_string(),
                    path: step.path.clone(),
                    errno,
                    explanation: explain(errno).to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// Gives one module to the inserter in the form the kernel takes.
fn hand_over(
    name: &ModuleName,
    file: &ModuleFile,
    image: &ModuleImage,
    params: &str,
    decompresses: Option<Compression>,
    inserter: &mut dyn Inserter,
) -> std::io::Result<Result<(), Errno>> {
    match image.compression {
        None => Ok(inserter.insert(name, file.file().as_fd(), params, Handover::File)),
        Some(c) if decompresses == Some(c) => {
            Ok(inserter.insert(name, file.file().as_fd(), params, Handover::CompressedFile))
        }
        Some(_) => {
            let mem = sealed_memory_file(name, &image.elf)?;
            Ok(inserter.insert(name, mem.as_fd(), params, Handover::Decompressed))
        }
    }
}

/// A read-only descriptor of an in-memory file holding `data`, sealed against any change.
///
/// `finit_module` refuses a file that is open for writing (ETXTBSY), so the writable
/// descriptor is closed and the file reopened read-only through /proc/self/fd.
fn sealed_memory_file(name: &ModuleName, data: &[u8]) -> std::io::Result<File> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let label = CString::new(format!("dahdi-loader:{name}")).expect("no NUL in a module name");
    let fd = memfd_create(
        &label,
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )?;
    let mut w = File::from(fd);
    w.write_all(data)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&w),
        nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_retain(seals)),
    )?;
    let ro = File::open(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&w)
    ))?;
    drop(w);
    Ok(ro)
}

/// Waits until `path` exists, polling, for at most `timeout`.
pub fn wait_for(path: &Path, timeout: Duration) -> Result<Duration, Error> {
    let start = Instant::now();
    loop {
        if path.exists() {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return Err(Error::DeviceTimeout {
                path: path.to_path_buf(),
                secs: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_errno_has_its_own_words() {
        let all = [
            Errno::ENOEXEC,
            Errno::EINVAL,
            Errno::ENOENT,
            Errno::EKEYREJECTED,
            Errno::EPERM,
        ];
        let texts: HashSet<&str> = all.iter().map(|e| explain(*e)).collect();
        assert_eq!(texts.len(), all.len());
        assert!(explain(Errno::ENOEXEC).contains("vermagic"));
        assert!(explain(Errno::EKEYREJECTED).contains("mokutil"));
    }

    #[test]
    fn compressed_file_flag_is_the_kernel_headers() {
        // linux-libc-dev's copy of include/uapi/linux/module.h, an independent source.
        let header = std::fs::read_to_string("/usr/include/linux/module.h")
            .expect("/usr/include/linux/module.h (linux-libc-dev) is needed for this test");
        let line = header
            .lines()
            .find(|l| l.contains("MODULE_INIT_COMPRESSED_FILE"))
            .expect("the header defines MODULE_INIT_COMPRESSED_FILE");
        let value: u32 = line.split_whitespace().last().unwrap().parse().unwrap();
        assert_eq!(value, MODULE_INIT_COMPRESSED_FILE);
    }

    #[test]
    fn memory_file_is_read_only_and_sealed() {
        let m = ModuleName::new("dahdi").unwrap();
        let f = sealed_memory_file(&m, b"\x7fELF image").unwrap();
        let mut back = Vec::new();
        use std::io::Read;
        (&f).read_to_end(&mut back).unwrap();
        assert_eq!(back, b"\x7fELF image");
        assert!((&f).write_all(b"x").is_err(), "read-only");
        let flags = nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&f),
            nix::fcntl::FcntlArg::F_GET_SEALS,
        )
        .unwrap();
        assert_ne!(flags & libc::F_SEAL_WRITE, 0);
    }

    #[test]
    fn waits_bounded() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("ctl");
        let e = wait_for(&p, Duration::from_millis(120)).unwrap_err();
        assert!(e.to_string().contains("did not appear"), "{e}");
        let p2 = p.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(p2, b"").unwrap();
        });
        assert!(wait_for(&p, Duration::from_secs(5)).is_ok());
        h.join().unwrap();
    }
}
