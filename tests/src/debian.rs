//! The boot level: a real Debian (systemd, udev, kmod) on a disk image,
//! booted with Debian's own kernel and initrd.  This is where udev rules,
//! systemd units and kernel hooks are tested for real.
//!
//! The base image is built once with debootstrap and cached under the
//! target directory, keyed by everything that goes into it (suite, package
//! list, kernel release and its module tree), so later runs only copy it.
//! Each boot works on a sparse copy into which the test injects files with
//! `debugfs` (from e2fsprogs): nothing is mounted on the host.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::kernel::KernelUnderTest;
use crate::qemu::{Accel, QemuConfig, QemuRun};
use crate::{run_checked, setup_err, HarnessError};

/// Bump when the way the image is prepared changes, to invalidate caches.
const RECIPE: u32 = 2;
const IMAGE_SIZE: &str = "3G";

/// A cached base image for one kernel.
#[derive(Debug, Clone)]
pub struct DebianImage {
    pub path: PathBuf,
    pub kernel: KernelUnderTest,
}

impl DebianImage {
    /// Returns the cached image for `kernel`, building it if needed.
    pub fn ensure(kernel: &KernelUnderTest, cache_root: &Path) -> Result<Self, HarnessError> {
        if kernel.initrd.is_none() {
            return Err(HarnessError::Setup(format!(
                "/boot/initrd.img-{} is missing; reinstall linux-image-{} (initramfs-tools generates it)",
                kernel.release, kernel.release
            )));
        }
        let key = cache_key(kernel);
        let dir = cache_root.join(format!("debian-image-{key:016x}"));
        let image = dir.join("root.img");
        if image.is_file() {
            return Ok(DebianImage {
                path: image,
                kernel: kernel.clone(),
            });
        }
        std::fs::create_dir_all(&dir).map_err(setup_err("cache directory"))?;
        // One builder at a time; a second test process waits for the first.
        let lock = std::fs::File::create(dir.join("lock")).map_err(setup_err("cache lock"))?;
        nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map(|held| {
                let r = if image.is_file() {
                    Ok(())
                } else {
                    build(kernel, &dir, &image)
                };
                drop(held);
                r
            })
            .map_err(|(_, e)| HarnessError::Setup(format!("cache lock: {e}")))??;
        Ok(DebianImage {
            path: image,
            kernel: kernel.clone(),
        })
    }
}

fn cache_key(kernel: &KernelUnderTest) -> u64 {
    let mut h = DefaultHasher::new();
    (RECIPE, crate::chroot::RECIPE, &kernel.release).hash(&mut h);
    // The module tree's identity: names, sizes and mtimes of the DAHDI build.
    for (name, path) in kernel.dahdi_modules() {
        name.hash(&mut h);
        if let Ok(m) = std::fs::metadata(&path) {
            m.len().hash(&mut h);
            m.modified().ok().hash(&mut h);
        }
    }
    h.finish()
}

fn build(kernel: &KernelUnderTest, dir: &Path, image: &Path) -> Result<(), HarnessError> {
    let started = Instant::now();
    // The debootstrapped system is shared with the chroot scenarios.
    let base = crate::chroot::StageCache::new(dir.parent().unwrap_or(dir)).base()?;
    let rootfs = dir.join("rootfs");
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs).map_err(setup_err("removing a stale rootfs"))?;
    }
    std::fs::create_dir_all(&rootfs).map_err(setup_err("rootfs dir"))?;
    crate::chroot::copy_tree(&base.dir, &rootfs)?;
    // The kernel's module tree (in-tree and DKMS-built), without the
    // build/source links into the host's headers.
    let dst = rootfs.join("lib/modules").join(&kernel.release);
    std::fs::create_dir_all(&dst).map_err(setup_err("modules dir"))?;
    for e in std::fs::read_dir(&kernel.modules_dir)
        .map_err(setup_err("reading modules dir"))?
        .flatten()
    {
        let n = e.file_name();
        if n == "build" || n == "source" {
            continue;
        }
        run_checked(
            Command::new("cp").arg("-a").arg(e.path()).arg(&dst),
            "copying kernel modules",
        )?;
    }
    run_checked(
        Command::new("depmod")
            .arg("-b")
            .arg(&rootfs)
            .arg(&kernel.release),
        "depmod",
    )?;
    let tmp_image = image.with_extension("img.partial");
    run_checked(
        Command::new("mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-d"])
            .arg(&rootfs)
            .arg(&tmp_image)
            .arg(IMAGE_SIZE),
        "mke2fs",
    )?;
    std::fs::rename(&tmp_image, image).map_err(setup_err("publishing the image"))?;
    std::fs::remove_dir_all(&rootfs).map_err(setup_err("removing the rootfs"))?;
    eprintln!(
        "vm: boot-level image built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One boot of a copy of the base image with files injected.
#[derive(Debug)]
pub struct DebianBoot {
    work: tempfile::TempDir,
    disk: PathBuf,
    image: DebianImage,
    debugfs: Vec<String>,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub extra_append: String,
}

impl DebianBoot {
    pub fn new(image: &DebianImage) -> Result<Self, HarnessError> {
        let work = tempfile::Builder::new()
            .prefix("dahdi-boot-")
            .tempdir()
            .map_err(setup_err("tempdir"))?;
        let disk = work.path().join("disk.img");
        run_checked(
            Command::new("cp")
                .arg("--sparse=always")
                .arg(&image.path)
                .arg(&disk),
            "copying the cached image",
        )?;
        Ok(DebianBoot {
            work,
            disk,
            image: image.clone(),
            debugfs: Vec::new(),
            timeout: Duration::from_secs(120),
            memory_mb: 1024,
            extra_append: String::new(),
        })
    }

    fn mkdirs(&mut self, guest: &str) {
        let mut acc = String::new();
        for part in guest
            .trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
        {
            acc.push('/');
            acc.push_str(part);
            // debugfs reports an error for existing dirs and goes on.
            self.debugfs.push(format!("mkdir {acc}"));
        }
    }

    /// Puts `data` at `guest` with `mode` (owner root).
    pub fn file(&mut self, guest: &str, mode: u32, data: &[u8]) -> Result<&mut Self, HarnessError> {
        let n = self.debugfs.len();
        let host = self.work.path().join(format!("inject-{n}"));
        std::fs::write(&host, data).map_err(setup_err("staging a file"))?;
        self.host_file(&host, guest, mode)
    }

    /// Copies a host file to `guest` with `mode` (owner root).
    pub fn host_file(
        &mut self,
        host: &Path,
        guest: &str,
        mode: u32,
    ) -> Result<&mut Self, HarnessError> {
        if !host.is_file() {
            return Err(HarnessError::Setup(format!(
                "{} does not exist",
                host.display()
            )));
        }
        if let Some(parent) = Path::new(guest).parent() {
            self.mkdirs(&parent.to_string_lossy());
        }
        self.debugfs.push(format!("rm {guest}"));
        self.debugfs
            .push(format!("write {} {guest}", host.display()));
        self.debugfs.push(format!(
            "sif {guest} mode 0{:o}",
            0o100000 | (mode & 0o7777)
        ));
        self.debugfs.push(format!("sif {guest} uid 0"));
        self.debugfs.push(format!("sif {guest} gid 0"));
        Ok(self)
    }

    pub fn symlink(&mut self, guest: &str, target: &str) -> &mut Self {
        if let Some(parent) = Path::new(guest).parent() {
            self.mkdirs(&parent.to_string_lossy());
        }
        self.debugfs.push(format!("symlink {guest} {target}"));
        self
    }

    /// A oneshot unit, enabled in multi-user.target, that runs `script`
    /// (a shell script) with its output on the results port, then powers off.
    pub fn test_unit(
        &mut self,
        name: &str,
        after: &str,
        script: &str,
    ) -> Result<&mut Self, HarnessError> {
        let unit = TestUnit::new(name, after, script);
        self.file(&unit.script_path, 0o755, unit.script.as_bytes())?;
        self.file(&unit.unit_path, 0o644, unit.unit.as_bytes())?;
        self.symlink(&unit.wants_link, &unit.unit_path);
        Ok(self)
    }

    /// Applies the injected files and boots.
    pub fn boot(&mut self, accel: Accel) -> Result<QemuRun, HarnessError> {
        if !self.debugfs.is_empty() {
            let cmds = self.work.path().join("debugfs.cmds");
            std::fs::write(&cmds, self.debugfs.join("\n") + "\n")
                .map_err(setup_err("debugfs script"))?;
            run_checked(
                Command::new("debugfs")
                    .arg("-w")
                    .arg("-f")
                    .arg(&cmds)
                    .arg(&self.disk),
                "injecting files with debugfs",
            )?;
            self.debugfs.clear();
        }
        let initrd = self.image.kernel.initrd.clone().expect("checked in ensure");
        let mut q = QemuConfig::new(&self.image.kernel.image, &initrd);
        q.accel = accel;
        q.memory_mb = self.memory_mb;
        q.cpus = 2;
        q.drives.push(self.disk.clone());
        q.append = format!(
            "console=ttyS0 root=/dev/vda rw quiet panic=-1 no_timer_check systemd.show_status=0 {}",
            self.extra_append
        );
        q.run(self.work.path(), self.timeout)
    }
}

/// The files of a boot-level test: a oneshot unit, wanted by multi-user.target and ordered
/// after `after`, that runs a shell script with its output on the results port (ttyS1),
/// marks the start (`@@BOOTED`) and the end (`@@DONE`) there, then powers the guest off.
#[derive(Debug, Clone)]
pub struct TestUnit {
    pub script_path: String,
    pub script: String,
    pub unit_path: String,
    pub unit: String,
    /// The enabling symlink, pointing at `unit_path`.
    pub wants_link: String,
}

impl TestUnit {
    pub fn new(name: &str, after: &str, script: &str) -> TestUnit {
        let script_path = format!("/usr/local/sbin/{name}");
        let unit = format!(
            "[Unit]\nDescription=dahdi test {name}\nAfter={after}\n\n\
             [Service]\nType=oneshot\nStandardOutput=file:/dev/ttyS1\nStandardError=file:/dev/ttyS1\n\
             ExecStartPre=/bin/sh -c 'echo @@BOOTED > /dev/ttyS1'\nExecStart={script_path}\n\
             ExecStopPost=/bin/sh -c 'echo @@DONE > /dev/ttyS1; systemctl --no-block poweroff'\n\n\
             [Install]\nWantedBy=multi-user.target\n"
        );
        let script = if script.starts_with("#!") {
            script.to_owned()
        } else {
            format!("#!/bin/sh\n{script}\n")
        };
        TestUnit {
            script_path,
            script,
            unit_path: format!("/etc/systemd/system/{name}.service"),
            unit,
            wants_link: format!("/etc/systemd/system/multi-user.target.wants/{name}.service"),
        }
    }

    /// Writes the files into a chroot workspace.
    pub fn install(&self, ws: &crate::chroot::Workspace) -> Result<(), HarnessError> {
        ws.write(&self.script_path, 0o755, self.script.as_bytes())?;
        ws.write(&self.unit_path, 0o644, self.unit.as_bytes())?;
        ws.symlink(&self.wants_link, &self.unit_path)
    }
}
