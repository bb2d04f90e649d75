//! Debian root filesystems as directories, changed with real `apt-get` in a
//! chroot on the host and then booted at the boot level.
//!
//! This is how the kernel-upgrade scenarios run at native speed: installing
//! a kernel, its headers and dahdi-dkms inside the chroot runs Debian's real
//! maintainer scripts and kernel hooks (DKMS's among them), exactly as on a
//! real system; only the compile happens on the host's CPU instead of under
//! emulation.  The system is then packed into a disk image and booted with
//! the kernel it installed for itself.
//!
//! Stages are cached under the target directory, keyed by their recipe, so a
//! second run starts from the last cached stage.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::qemu::{Accel, QemuConfig, QemuRun};
use crate::{run_checked, setup_err, HarnessError};

const SUITE: &str = "bookworm";
const INCLUDE: &str = "systemd-sysv,udev,kmod,ca-certificates";
/// Debian 13: the same base, plus the archive keyring apt needs to verify trixie's
/// own sources once the system is its own (the host's keyring verified debootstrap).
const TRIXIE: &str = "trixie";
const TRIXIE_INCLUDE: &str = "systemd-sysv,udev,kmod,ca-certificates,debian-archive-keyring";
/// Bump when the preparation changes, to invalidate caches.
pub(crate) const RECIPE: u32 = 2;

/// A cached, read-only stage: a rootfs directory and how it was made.
#[derive(Debug, Clone)]
pub struct Stage {
    pub dir: PathBuf,
    key: u64,
}

/// Where stages live.
#[derive(Debug, Clone)]
pub struct StageCache {
    root: PathBuf,
}

impl StageCache {
    pub fn new(root: &Path) -> Self {
        StageCache {
            root: root.to_owned(),
        }
    }

    /// The directory the stages live in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The .deb files every stage downloads, kept across stages and runs so that
    /// each package is fetched once (debootstrap's `--cache-dir`, and apt's
    /// /var/cache/apt/archives bind-mounted in the chroot).
    pub fn apt_archives(&self) -> PathBuf {
        self.root.join("apt-archives")
    }

    /// Holds the shared package cache for one stage build: apt and debootstrap
    /// in two test processes must not write the same files at once.
    fn lock_apt_archives(&self) -> Result<nix::fcntl::Flock<std::fs::File>, HarnessError> {
        let dir = self.apt_archives();
        std::fs::create_dir_all(dir.join("partial")).map_err(setup_err("apt archives"))?;
        let f = std::fs::File::create(dir.join(".harness-lock")).map_err(setup_err("apt lock"))?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| HarnessError::Setup(format!("apt archives lock: {e}")))
    }

    /// The debootstrapped Debian 12 base system with apt sources copied from the host.
    pub fn base(&self) -> Result<Stage, HarnessError> {
        let mut h = DefaultHasher::new();
        (RECIPE, SUITE, INCLUDE).hash(&mut h);
        self.debootstrapped(h.finish(), "base", SUITE, INCLUDE, copy_apt_sources)
    }

    /// The debootstrapped Debian 13 base system, its apt reading trixie from the
    /// mirror the host uses.
    pub fn trixie_base(&self) -> Result<Stage, HarnessError> {
        let mut h = DefaultHasher::new();
        (RECIPE, TRIXIE, TRIXIE_INCLUDE, TRIXIE_SOURCES).hash(&mut h);
        self.debootstrapped(
            h.finish(),
            "trixie-base",
            TRIXIE,
            TRIXIE_INCLUDE,
            trixie_apt_sources,
        )
    }

    fn debootstrapped(
        &self,
        key: u64,
        label: &str,
        suite: &str,
        include: &str,
        sources: fn(&Path) -> Result<(), HarnessError>,
    ) -> Result<Stage, HarnessError> {
        self.cached(key, label, |dir| {
            eprintln!("vm: debootstrap {suite} into a stage (cached afterwards)");
            let archives = self.apt_archives();
            let _held = self.lock_apt_archives()?;
            run_checked(
                Command::new("debootstrap")
                    .args(["--variant=minbase", &format!("--include={include}")])
                    .arg(format!("--cache-dir={}", archives.display()))
                    .arg(suite)
                    .arg(dir)
                    .arg(crate::archive::mirror()?),
                "debootstrap",
            )?;
            sources(dir)?;
            quiet_boot(dir)
        })
    }

    /// A stage made from `parent` by running `steps` (argument vectors) in a
    /// chroot.  `label` names it in the cache for humans.
    pub fn derive(
        &self,
        parent: &Stage,
        label: &str,
        steps: &[Vec<String>],
    ) -> Result<Stage, HarnessError> {
        let mut h = DefaultHasher::new();
        (parent.key, label, steps).hash(&mut h);
        let key = h.finish();
        self.cached(key, label, |dir| {
            copy_tree(&parent.dir, dir)?;
            let _held = self.lock_apt_archives()?;
            let root = Chroot::enter_with_archives(dir, &self.apt_archives())?;
            for s in steps {
                let args: Vec<&str> = s.iter().map(String::as_str).collect();
                let out = root.run(&args)?;
                if !out.status.success() {
                    return Err(HarnessError::Setup(format!(
                        "stage {label}: `{}` failed:\n{}{}",
                        s.join(" "),
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    )));
                }
            }
            Ok(())
        })
    }

    fn cached(
        &self,
        key: u64,
        label: &str,
        build: impl FnOnce(&Path) -> Result<(), HarnessError>,
    ) -> Result<Stage, HarnessError> {
        let dir = self.root.join(format!("stage-{label}-{key:016x}"));
        let done = dir.join(".stage-complete");
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&dir).map_err(setup_err("stage cache"))?;
        let lock = std::fs::File::create(dir.join("lock")).map_err(setup_err("stage lock"))?;
        let held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| HarnessError::Setup(format!("stage lock: {e}")))?;
        if !done.exists() {
            if rootfs.exists() {
                run_checked(
                    Command::new("rm").arg("-rf").arg(&rootfs),
                    "removing a half-built stage",
                )?;
            }
            std::fs::create_dir_all(&rootfs).map_err(setup_err("stage dir"))?;
            let t = Instant::now();
            build(&rootfs)?;
            std::fs::write(&done, b"").map_err(setup_err("stage marker"))?;
            eprintln!(
                "vm: stage {label} built in {:.0} s",
                t.elapsed().as_secs_f64()
            );
        }
        drop(held);
        Ok(Stage { dir: rootfs, key })
    }
}

pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<(), HarnessError> {
    // cp -a keeps owners, modes, links and device nodes; "from/." copies the content.
    run_checked(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(to),
        "copying a stage",
    )?;
    Ok(())
}

/// Debian 13's archive on the host's mirror (deb822, as trixie writes it itself).
const TRIXIE_SOURCES: &str = "Types: deb\nURIs: {MIRROR}\nSuites: trixie trixie-updates\n\
     Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

fn trixie_apt_sources(dir: &Path) -> Result<(), HarnessError> {
    let _ = std::fs::remove_file(dir.join("etc/apt/sources.list"));
    let d = dir.join("etc/apt/sources.list.d");
    std::fs::create_dir_all(&d).map_err(setup_err("apt sources dir"))?;
    std::fs::write(
        d.join("debian.sources"),
        TRIXIE_SOURCES.replace("{MIRROR}", &crate::archive::mirror()?),
    )
    .map_err(setup_err("debian.sources"))
}

/// The guest uses the same archive as the host's apt (only enabled source files).
fn copy_apt_sources(dir: &Path) -> Result<(), HarnessError> {
    let dst = dir.join("etc/apt/sources.list.d");
    std::fs::create_dir_all(&dst).map_err(setup_err("apt sources dir"))?;
    let _ = std::fs::remove_file(dir.join("etc/apt/sources.list"));
    if let Ok(s) = std::fs::read_to_string("/etc/apt/sources.list") {
        std::fs::write(dir.join("etc/apt/sources.list"), s).map_err(setup_err("sources.list"))?;
    }
    for e in std::fs::read_dir("/etc/apt/sources.list.d")
        .map_err(setup_err("host apt sources"))?
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "list" || x == "sources") {
            std::fs::copy(&p, dst.join(e.file_name())).map_err(setup_err("copying apt sources"))?;
        }
    }
    Ok(())
}

fn quiet_boot(dir: &Path) -> Result<(), HarnessError> {
    std::fs::write(dir.join("etc/hostname"), "dahdi-guest\n").map_err(setup_err("hostname"))?;
    std::fs::write(dir.join("etc/fstab"), "/dev/vda / ext4 rw 0 1\n")
        .map_err(setup_err("fstab"))?;
    for unit in [
        "serial-getty@ttyS0.service",
        "serial-getty@ttyS1.service",
        "getty@tty1.service",
    ] {
        let _ = std::os::unix::fs::symlink("/dev/null", dir.join("etc/systemd/system").join(unit));
    }
    // initramfs-tools: only what a virtio guest needs, so kernel installs
    // in the chroot stay quick.
    let conf = dir.join("etc/initramfs-tools/conf.d");
    std::fs::create_dir_all(&conf).map_err(setup_err("initramfs conf"))?;
    std::fs::write(conf.join("dahdi-tests"), "MODULES=list\n")
        .map_err(setup_err("initramfs conf"))?;
    let modules = dir.join("etc/initramfs-tools/modules");
    std::fs::write(modules, "virtio_pci\nvirtio_blk\next4\n")
        .map_err(setup_err("initramfs modules"))?;
    Ok(())
}

/// A chroot with /proc, /sys and /dev available, torn down on drop.
#[derive(Debug)]
pub struct Chroot {
    dir: PathBuf,
    mounts: Vec<PathBuf>,
}

impl Chroot {
    pub fn enter(dir: &Path) -> Result<Self, HarnessError> {
        Self::enter_inner(dir, None)
    }

    /// Like [`Chroot::enter`], with `archives` as apt's package cache in the chroot.
    pub fn enter_with_archives(dir: &Path, archives: &Path) -> Result<Self, HarnessError> {
        Self::enter_inner(dir, Some(archives))
    }

    fn enter_inner(dir: &Path, archives: Option<&Path>) -> Result<Self, HarnessError> {
        let mut c = Chroot {
            dir: dir.to_owned(),
            mounts: Vec::new(),
        };
        for (what, fstype, target) in [
            ("proc", Some("proc"), "proc"),
            ("sysfs", Some("sysfs"), "sys"),
            ("/dev", None, "dev"),
            ("/dev/pts", None, "dev/pts"),
        ] {
            let t = dir.join(target);
            std::fs::create_dir_all(&t).map_err(setup_err("chroot mount point"))?;
            let mut cmd = Command::new("mount");
            match fstype {
                Some(fs) => cmd.args(["-t", fs, what]),
                None => cmd.args(["--bind", what]),
            };
            run_checked(cmd.arg(&t), "mounting for the chroot")?;
            c.mounts.push(t);
        }
        if let Some(a) = archives {
            let t = dir.join("var/cache/apt/archives");
            std::fs::create_dir_all(&t).map_err(setup_err("chroot mount point"))?;
            run_checked(
                Command::new("mount").arg("--bind").arg(a).arg(&t),
                "mounting the shared apt archives",
            )?;
            c.mounts.push(t);
        }
        std::fs::copy("/etc/resolv.conf", dir.join("etc/resolv.conf")).ok();
        // No daemons start inside the chroot during package installs.
        let policy = dir.join("usr/sbin/policy-rc.d");
        std::fs::write(&policy, "#!/bin/sh\nexit 101\n").map_err(setup_err("policy-rc.d"))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o755))
            .map_err(setup_err("policy-rc.d"))?;
        Ok(c)
    }

    /// Runs a command in the chroot and returns its output, whatever its status.
    pub fn run(&self, args: &[&str]) -> Result<Output, HarnessError> {
        Command::new("chroot")
            .arg(&self.dir)
            .args(args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("LANG", "C.UTF-8")
            .output()
            .map_err(setup_err("chroot"))
    }
}

impl Drop for Chroot {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join("usr/sbin/policy-rc.d"));
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

/// A private, writable copy of a stage for one test; removed on drop.
#[derive(Debug)]
pub struct Workspace {
    work: tempfile::TempDir,
    pub rootfs: PathBuf,
}

impl Workspace {
    pub fn from_stage(stage: &Stage) -> Result<Self, HarnessError> {
        let work = tempfile::Builder::new()
            .prefix("dahdi-rootfs-")
            .tempdir()
            .map_err(setup_err("tempdir"))?;
        let rootfs = work.path().join("rootfs");
        std::fs::create_dir_all(&rootfs).map_err(setup_err("workspace"))?;
        copy_tree(&stage.dir, &rootfs)?;
        Ok(Workspace { work, rootfs })
    }

    pub fn path(&self, guest: &str) -> PathBuf {
        self.rootfs.join(guest.trim_start_matches('/'))
    }

    /// Writes a file owned by root with `mode`.
    pub fn write(&self, guest: &str, mode: u32, data: &[u8]) -> Result<(), HarnessError> {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path(guest);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(setup_err("workspace dir"))?;
        }
        std::fs::write(&p, data).map_err(setup_err("workspace file"))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(setup_err("workspace mode"))?;
        Ok(())
    }

    pub fn symlink(&self, guest: &str, target: &str) -> Result<(), HarnessError> {
        let p = self.path(guest);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(setup_err("workspace dir"))?;
        }
        let _ = std::fs::remove_file(&p);
        std::os::unix::fs::symlink(target, &p).map_err(setup_err("workspace symlink"))
    }

    /// Enters the workspace as a chroot (mounts until the value is dropped).
    pub fn chroot(&self) -> Result<Chroot, HarnessError> {
        Chroot::enter(&self.rootfs)
    }

    /// The disk image the last [`Workspace::boot`] packed and booted: it keeps what the
    /// guest wrote, for a later boot of the same disk.
    pub fn disk_image(&self) -> PathBuf {
        self.work.path().join("root.img")
    }

    /// Packs the rootfs into an ext4 image and boots it with the kernel
    /// `release` that the rootfs itself installed (its /boot).
    pub fn boot(
        &self,
        release: &str,
        accel: Accel,
        timeout: Duration,
        extra_qemu: &[&str],
    ) -> Result<QemuRun, HarnessError> {
        let kernel = self.path(&format!("/boot/vmlinuz-{release}"));
        let initrd = self.path(&format!("/boot/initrd.img-{release}"));
        for f in [&kernel, &initrd] {
            if !f.is_file() {
                return Err(HarnessError::Setup(format!(
                    "{} is missing in the guest rootfs",
                    f.display()
                )));
            }
        }
        let image = self.disk_image();
        run_checked(
            Command::new("mke2fs")
                .args(["-q", "-F", "-t", "ext4", "-d"])
                .arg(&self.rootfs)
                .arg(&image)
                .arg("4G"),
            "mke2fs",
        )?;
        let mut q = QemuConfig::new(&kernel, &initrd);
        q.accel = accel;
        q.memory_mb = 1024;
        q.cpus = 2;
        q.drives.push(image);
        q.append =
            "console=ttyS0 root=/dev/vda rw quiet panic=-1 no_timer_check systemd.show_status=0"
                .into();
        q.extra_args = extra_qemu.iter().map(|s| (*s).to_owned()).collect();
        q.run(self.work.path(), timeout)
    }
}
