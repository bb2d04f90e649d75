//! Loading modules into the running kernel with `finit_module(2)`, dependencies first.
//!
//! Each file is opened once; ownership and mode are checked on that open file, its vermagic
//! is read from the same bytes, and that same descriptor is handed to the kernel, so nothing
//! can be swapped in between. A module built for another kernel is refused here, with both
//! vermagic strings shown, before the kernel is asked.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde::Serialize;

use crate::elf::ModuleInfo;
use crate::error::Error;
use crate::loaded::{sys_state, SysState};
use crate::root::{read_optional, Root};
use crate::validate;

/// One module to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Module name.
    pub name: String,
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

/// Something that can insert a module: the kernel, or a fake in tests.
pub trait Inserter {
    /// Inserts the module open on `file`.
    fn insert(&mut self, name: &str, file: &File) -> Result<(), Errno>;
}

/// The real thing: `finit_module(fd, "", 0)`.
#[derive(Debug, Default)]
pub struct KernelInserter;

impl Inserter for KernelInserter {
    fn insert(&mut self, _name: &str, file: &File) -> Result<(), Errno> {
        nix::kmod::finit_module(file, c"", nix::kmod::ModuleInitFlags::empty())
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

/// A module's entry in modules.dep: its path and its dependencies (paths, in the order
/// depmod wrote them, which lists the deepest dependency last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepEntry {
    /// Path relative to /lib/modules/KVER.
    pub relpath: String,
    /// Dependency paths.
    pub deps: Vec<String>,
}

/// Reads modules.dep of `kernel` into name → entry (first entry of a name wins, as kmod).
pub fn read_modules_dep(root: &Root, kernel: &str) -> Result<HashMap<String, DepEntry>, Error> {
    validate::kernel_release(kernel)?;
    let mut out = HashMap::new();
    let path = root.join(format!("/lib/modules/{kernel}/modules.dep"));
    for line in read_optional(&path)?.iter().flat_map(|t| t.lines()) {
        let Some((p, deps)) = line.split_once(':') else {
            continue;
        };
        let Some(name) = crate::dkms::module_stem(Path::new(p)) else {
            continue;
        };
        out.entry(name).or_insert_with(|| DepEntry {
            relpath: p.to_string(),
            deps: deps.split_whitespace().map(String::from).collect(),
        });
    }
    Ok(out)
}

/// Orders `wanted` and their dependencies so every module comes after what it needs.
///
/// `known` gives the DAHDI modules already resolved (name → file and parsed info, whose
/// `depends=` is used); anything else is looked up in modules.dep.
pub fn plan(
    root: &Root,
    kernel: &str,
    wanted: &[String],
    known: &HashMap<String, (PathBuf, ModuleInfo)>,
) -> Result<Vec<Step>, Error> {
    let dep = read_modules_dep(root, kernel)?;
    let base = root.join(format!("/lib/modules/{kernel}"));
    let mut planner = Planner {
        known,
        dep: &dep,
        base: &base,
        kernel,
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
    known: &'a HashMap<String, (PathBuf, ModuleInfo)>,
    dep: &'a HashMap<String, DepEntry>,
    base: &'a Path,
    kernel: &'a str,
    order: Vec<Step>,
    done: HashSet<String>,
    visiting: HashSet<String>,
}

impl Planner<'_> {
    fn visit(&mut self, name: &str, depth: usize) -> Result<(), Error> {
        let name = validate::normalize_module_name(name);
        validate::module_name(&name)?;
        if self.done.contains(&name) {
            return Ok(());
        }
        if depth > 64 || !self.visiting.insert(name.clone()) {
            return Err(Error::Usage(format!(
                "module dependencies form a loop through {name}; the module files are inconsistent"
            )));
        }
        let (path, deps): (PathBuf, Vec<String>) = if let Some((p, info)) = self.known.get(&name) {
            (p.clone(), info.depends())
        } else if let Some(e) = self.dep.get(&name) {
            validate::relative_path(&e.relpath)?;
            // modules.dep lists the whole closure; depmod's order puts the module's own
            // direct needs first and the deepest last, so load from the end.
            let deps = e
                .deps
                .iter()
                .rev()
                .filter_map(|d| crate::dkms::module_stem(Path::new(d)))
                .collect();
            (self.base.join(&e.relpath), deps)
        } else {
            return Err(Error::ModuleMissing {
                module: name.clone(),
                kernel: self.kernel.to_string(),
            });
        };
        for d in deps {
            self.visit(&d, depth + 1)?;
        }
        self.visiting.remove(&name);
        self.done.insert(name.clone());
        self.order.push(Step { name, path });
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

/// Loads the steps in order. Already-loaded and built-in modules are skipped; EEXIST counts
/// as success. Stops at the first failure.
pub fn execute(
    root: &Root,
    steps: &[Step],
    expect: &Expect,
    inserter: &mut dyn Inserter,
) -> Result<Vec<(String, Outcome)>, Error> {
    let mut out = Vec::new();
    for step in steps {
        validate::module_name(&step.name)?;
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
        let mut file = File::open(&step.path).map_err(|e| Error::io("open", &step.path, e))?;
        validate::trusted_module_file(&file, &step.path)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| Error::io("read", &step.path, e))?;
        let info = ModuleInfo::parse(&data).map_err(|e| Error::BadModule {
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
                module: step.name.clone(),
                path: step.path.clone(),
                found,
                expected: match expect {
                    Expect::Full(v) => v.clone(),
                    Expect::Release(r) => format!("{r} ..."),
                },
            });
        }
        match inserter.insert(&step.name, &file) {
            Ok(()) => out.push((step.name.clone(), Outcome::Loaded)),
            Err(Errno::EEXIST) => out.push((step.name.clone(), Outcome::AlreadyLoaded)),
            Err(errno) => {
                return Err(Error::Load {
                    module: step.name.clone(),
                    path: step.path.clone(),
                    errno,
                    explanation: explain(errno).to_string(),
                })
            }
        }
    }
    Ok(out)
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
