//! Fixture trees built from the real DKMS build of DAHDI on this machine.
//!
//! Nothing here hard-codes a kernel or DAHDI version: both are discovered by globbing, and
//! expected values are taken from independent tools (modinfo, modprobe, depmod, dkms) run
//! by the tests themselves.

#![allow(dead_code)]

pub mod fake_dkms;

use std::path::{Path, PathBuf};
use std::process::Command;

pub const INSTALL_HINT: &str =
    "no DKMS-built DAHDI modules found under /lib/modules/*/updates/dkms: apt-get install dahdi-dkms linux-headers-amd64";

/// The real build this machine has.
#[derive(Debug, Clone)]
pub struct Real {
    /// Kernel release DKMS built for.
    pub kernel: String,
    /// /lib/modules/K/updates/dkms
    pub dkms_dir: PathBuf,
    /// dahdi's DKMS version.
    pub version: String,
    /// Module files, sorted.
    pub modules: Vec<PathBuf>,
    /// The headers directory, if installed.
    pub headers: Option<PathBuf>,
}

pub fn real() -> Real {
    let mut found = None;
    for entry in std::fs::read_dir("/lib/modules").expect(INSTALL_HINT) {
        let entry = entry.unwrap();
        let d = entry.path().join("updates/dkms");
        if d.join("dahdi.ko").is_file() {
            found = Some((entry.file_name().to_string_lossy().into_owned(), d));
            break;
        }
    }
    let (kernel, dkms_dir) = found.expect(INSTALL_HINT);
    let mut modules: Vec<PathBuf> = std::fs::read_dir(&dkms_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ko"))
        .collect();
    modules.sort();
    let version = std::fs::read_dir("/var/lib/dkms/dahdi")
        .expect(INSTALL_HINT)
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .expect(INSTALL_HINT);
    let headers = std::fs::canonicalize(format!("/lib/modules/{kernel}/build"))
        .ok()
        .filter(|h| h.join("Makefile").is_file());
    Real {
        kernel,
        dkms_dir,
        version,
        modules,
        headers,
    }
}

/// Runs a tool and returns its stdout; panics with the tool's stderr on failure.
pub fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `modinfo -F FIELD FILE`, one value per line.
pub fn modinfo(field: &str, file: &Path) -> Vec<String> {
    tool("modinfo", &["-F", field, file.to_str().unwrap()])
        .lines()
        .map(String::from)
        .collect()
}

pub fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), to.display()));
}

/// A system tree in a temporary directory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub real: Real,
}

impl Fixture {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, system_path: &str) -> PathBuf {
        self.dir.path().join(system_path.trim_start_matches('/'))
    }

    pub fn kdir(&self) -> PathBuf {
        self.path(&format!("/lib/modules/{}", self.real.kernel))
    }

    pub fn write(&self, system_path: &str, contents: impl AsRef<[u8]>) {
        let p = self.path(system_path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }

    /// Builds a complete system: kernel image, a few in-tree modules (the first of
    /// modules.order for the vermagic, usbcore for xpp_usb), headers with Module.symvers,
    /// the DKMS tree with an installed build, the modules in updates/dkms, and modules.dep
    /// written by the real depmod.
    pub fn installed() -> Fixture {
        let f = Self::bare();
        f.install_modules();
        f.depmod();
        f
    }

    /// Kernel, headers and DKMS registration, but nothing built.
    pub fn bare() -> Fixture {
        Self::bare_in(tempfile::tempdir().unwrap())
    }

    /// A complete installation laid out as Debian 13 lays it out: merged /usr (`/lib` a
    /// link to `usr/lib`), and every module, in-tree and DKMS-built (in the DKMS tree too),
    /// compressed with the real `tool` (`xz`, `zstd`, `gzip`), as the kernel package and
    /// DKMS 3.2 install them; modules.dep written by the real depmod.
    pub fn compressed(tool_name: &str, ext: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib", dir.path().join("lib")).unwrap();
        let f = Self::bare_in(dir);
        f.install_modules();
        let v = &f.real.version;
        let tree = f.path(&format!("/var/lib/dkms/dahdi/{v}"));
        for top in [f.kdir(), tree] {
            for ko in find_files(&top, ".ko") {
                // zstd keeps its input unless told; xz and gzip replace it.
                let path = ko.to_str().unwrap();
                if tool_name == "zstd" {
                    tool(tool_name, &["-q", "-f", "--rm", path]);
                } else {
                    tool(tool_name, &["-q", "-f", path]);
                }
                let packed = PathBuf::from(format!("{}{ext}", ko.display()));
                assert!(
                    packed.is_file(),
                    "{tool_name} did not write {}",
                    packed.display()
                );
                assert!(!ko.exists(), "{tool_name} left {}", ko.display());
            }
        }
        f.depmod();
        f
    }

    fn bare_in(dir: tempfile::TempDir) -> Fixture {
        let real = real();
        let f = Fixture { dir, real };
        let k = f.real.kernel.clone();
        let sys_k = PathBuf::from(format!("/lib/modules/{k}"));
        f.write(&format!("/boot/vmlinuz-{k}"), b"");
        // In-tree modules: the kernel's vermagic source and xpp_usb's dependencies.
        let order = std::fs::read_to_string(sys_k.join("modules.order")).unwrap();
        let first = order.lines().next().unwrap();
        let mut wanted = vec![first.to_string()];
        let dep = std::fs::read_to_string(sys_k.join("modules.dep")).unwrap();
        for line in dep.lines() {
            let (p, _) = line.split_once(':').unwrap();
            if p.ends_with("/usbcore.ko") || p.ends_with("/usb-common.ko") {
                wanted.push(p.to_string());
            }
        }
        for rel in &wanted {
            copy(&sys_k.join(rel), &f.kdir().join(rel));
        }
        std::fs::write(f.kdir().join("modules.order"), wanted.join("\n") + "\n").unwrap();
        if let Some(h) = &f.real.headers {
            let hs = format!("/usr/src/linux-headers-{k}");
            for file in [
                "Makefile",
                "Module.symvers",
                ".config",
                "include/generated/utsrelease.h",
            ] {
                copy(&h.join(file), &f.path(&format!("{hs}/{file}")));
            }
            std::os::unix::fs::symlink(&hs, f.kdir().join("build")).unwrap();
        }
        // DKMS registration: source link to a tree holding the real dkms.conf.
        let v = f.real.version.clone();
        let src = format!("/usr/src/dahdi-{v}");
        copy(
            Path::new(&format!("{src}/dkms.conf")),
            &f.path(&format!("{src}/dkms.conf")),
        );
        let vdir = f.path(&format!("/var/lib/dkms/dahdi/{v}"));
        std::fs::create_dir_all(&vdir).unwrap();
        std::os::unix::fs::symlink(&src, vdir.join("source")).unwrap();
        f
    }

    /// What `dkms install` does: the build in the DKMS tree, the active link, and copies
    /// in updates/dkms.
    pub fn install_modules(&self) {
        let (k, v) = (&self.real.kernel, &self.real.version);
        let mdir = self.path(&format!("/var/lib/dkms/dahdi/{v}/{k}/x86_64/module"));
        for m in &self.real.modules {
            let name = m.file_name().unwrap();
            copy(m, &mdir.join(name));
            copy(m, &self.kdir().join("updates/dkms").join(name));
        }
        let link = self.path(&format!("/var/lib/dkms/dahdi/kernel-{k}-x86_64"));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("{v}/{k}/x86_64"), link).unwrap();
    }

    /// Runs the real depmod on the fixture (with depmod.d from the fixture, if any).
    pub fn depmod(&self) {
        let conf = self.path("/etc/depmod.d");
        let mut args = vec!["-b".to_string(), self.root().display().to_string()];
        if conf.is_dir() {
            args.push("-C".into());
            args.push(conf.display().to_string());
        }
        args.push(self.real.kernel.clone());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        tool("depmod", &a);
    }

    /// Which file the real modinfo (kmod's lookup) resolves `name` to on the fixture.
    pub fn modinfo_pick(&self, name: &str) -> PathBuf {
        let out = tool(
            "modinfo",
            &[
                "-b",
                self.root().to_str().unwrap(),
                "-k",
                &self.real.kernel,
                "-n",
                name,
            ],
        );
        PathBuf::from(out.trim())
    }

    pub fn module(&self, name: &str) -> PathBuf {
        self.kdir().join("updates/dkms").join(format!("{name}.ko"))
    }

    /// Runs the binary with `--root` on this fixture.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_dahdi-loader"))
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env_remove("DAHDI_LOADER_RUNNING_KERNEL")
            .env_remove("DAHDI_LOADER_DKMS")
            .output()
            .unwrap()
    }
}

impl Fixture {
    /// Stamps one installed module (and the DKMS tree's copy) with another kernel's
    /// release, as a build against the wrong headers would; returns that release.
    pub fn break_one_module(&self, name: &str) -> String {
        let k = self.real.kernel.clone();
        let other = other_release(&k);
        let v = self.real.version.clone();
        let tree = self.path(&format!(
            "/var/lib/dkms/dahdi/{v}/{k}/x86_64/module/{name}.ko"
        ));
        for p in [self.module(name), tree] {
            patch_vermagic(&p, &k, &other);
        }
        other
    }
}

/// Every file under `dir` whose name ends with `suffix`, recursively (symlinks not followed).
pub fn find_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            out.extend(find_files(&p, suffix));
        } else if ft.is_file() && p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Replaces the kernel release inside a module's vermagic with another string of the same
/// length, as a module built for another kernel would carry.
pub fn other_release(release: &str) -> String {
    // Change the first digit run after the first '-': 6.1.0-56-amd64 -> 6.1.0-57-amd64 etc.
    let mut chars: Vec<char> = release.chars().collect();
    let pos = chars.iter().position(|c| *c == '-').map_or(0, |i| i + 1);
    let i = (pos..chars.len())
        .find(|i| chars[*i].is_ascii_digit())
        .unwrap_or(0);
    chars[i] = if chars[i] == '9' {
        '1'
    } else {
        ((chars[i] as u8) + 1) as char
    };
    chars.into_iter().collect()
}

/// Rewrites `vermagic=<old release>` into `vermagic=<new>` in a file's bytes.
pub fn patch_vermagic(path: &Path, old: &str, new: &str) {
    assert_eq!(old.len(), new.len());
    let mut data = std::fs::read(path).unwrap();
    let needle = format!("vermagic={old}");
    let pos = data
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .expect("vermagic string in module");
    data[pos + 9..pos + 9 + new.len()].copy_from_slice(new.as_bytes());
    std::fs::write(path, data).unwrap();
}

/// Renames the first imported symbol (longer than 4 bytes) of a module image in its string
/// table only, its first letter becoming `Q`: the symbol the module asks the kernel for no
/// longer exists, while `__versions` still names the original. Returns the new name, the
/// one the kernel reports as "Unknown symbol".
pub fn corrupt_import_in(data: &mut [u8]) -> String {
    use object::{Object, ObjectSection, ObjectSymbol};
    let (name, strtab) = {
        let obj = object::File::parse(&*data).unwrap();
        let sym = obj
            .symbols()
            .find(|s| s.is_undefined() && s.name().is_ok_and(|n| n.len() > 4))
            .unwrap();
        let strtab = obj
            .section_by_name(".strtab")
            .unwrap()
            .file_range()
            .unwrap();
        (sym.name().unwrap().to_string(), strtab)
    };
    let range = strtab.0 as usize..(strtab.0 + strtab.1) as usize;
    let needle = format!("\0{name}\0");
    let at = data[range.clone()]
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap()
        + range.start
        + 1;
    data[at] = b'Q';
    format!("Q{}", &name[1..])
}

/// A finished command's exit code and everything it printed (stdout, then stderr).
pub fn code_and_text(out: &std::process::Output) -> (Option<i32>, String) {
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
