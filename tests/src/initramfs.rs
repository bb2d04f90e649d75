//! Builds the initramfs the fast level boots: busybox as the shell, the
//! DKMS-built DAHDI modules, the guest programs with the shared libraries
//! they need, and an init script that loads modules, runs the programs and
//! powers off.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cpio::CpioWriter;
use crate::kernel::KernelUnderTest;
use crate::HarnessError;

/// Where busybox-static installs its binary on Debian.
pub const BUSYBOX: &str = "/bin/busybox";

/// Where decompressed copies of compressed modules go in the guest, for insmod.
pub const INSMOD_DIR: &str = "/lib/dahdi-tests/insmod";

/// Files to put into the image, by guest path.
#[derive(Debug, Default)]
pub struct ImageContents {
    dirs: BTreeSet<String>,
    files: Vec<(String, u32, FileSource)>,
    symlinks: Vec<(String, String)>,
}

#[derive(Debug)]
enum FileSource {
    Host(PathBuf),
    Bytes(Vec<u8>),
}

impl ImageContents {
    pub fn new() -> Self {
        Self::default()
    }

    fn parents(&mut self, guest: &str) {
        let mut p = Path::new(guest).parent();
        while let Some(d) = p {
            let s = d.to_string_lossy().into_owned();
            if s == "/" || s.is_empty() {
                break;
            }
            self.dirs.insert(s);
            p = d.parent();
        }
    }

    pub fn dir(&mut self, guest: &str) {
        self.parents(&format!("{guest}/x"));
    }

    /// Adds a host file at a guest path, keeping the host file's mode.
    pub fn host_file(&mut self, host: &Path, guest: &str) -> Result<(), HarnessError> {
        use std::os::unix::fs::PermissionsExt;
        if self.has(guest) {
            return Ok(());
        }
        let meta = std::fs::metadata(host)
            .map_err(|e| HarnessError::Setup(format!("{}: {e}", host.display())))?;
        self.parents(guest);
        self.files.push((
            guest.to_owned(),
            meta.permissions().mode() & 0o7777,
            FileSource::Host(host.to_owned()),
        ));
        Ok(())
    }

    /// Whether a file is already at `guest`.
    pub fn has(&self, guest: &str) -> bool {
        self.files.iter().any(|(p, _, _)| p == guest)
    }

    pub fn bytes(&mut self, guest: &str, mode: u32, data: impl Into<Vec<u8>>) {
        self.parents(guest);
        self.files
            .push((guest.to_owned(), mode, FileSource::Bytes(data.into())));
    }

    pub fn symlink(&mut self, guest: &str, target: &str) {
        self.parents(guest);
        self.symlinks.push((guest.to_owned(), target.to_owned()));
    }

    /// Adds a dynamically linked executable together with every shared
    /// library `ldd` says it needs, at the same paths as on the host.
    pub fn executable(&mut self, host: &Path, guest: &str) -> Result<(), HarnessError> {
        self.host_file(host, guest)?;
        for lib in shared_libraries(host)? {
            let g = lib.to_string_lossy().into_owned();
            if !self.has(&g) {
                // Libraries are usually symlinks; copy the target's content.
                self.host_file(&std::fs::canonicalize(&lib).unwrap_or(lib.clone()), &g)?;
            }
        }
        Ok(())
    }

    /// Adds the kernel's module metadata and every DKMS-built DAHDI module at
    /// the paths they have on their system (compressed as installed), so
    /// modprobe-style lookups in the guest see the real layout.
    pub fn dahdi_modules(&mut self, kernel: &KernelUnderTest) -> Result<(), HarnessError> {
        for (_, path) in kernel.dahdi_modules() {
            self.host_file(&path, &kernel.guest_path(&path))?;
        }
        for entry in std::fs::read_dir(&kernel.modules_dir)
            .map_err(|e| HarnessError::Setup(format!("{}: {e}", kernel.modules_dir.display())))?
            .flatten()
        {
            let p = entry.path();
            let is_meta = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("modules."));
            if is_meta && p.is_file() {
                self.host_file(&p, &kernel.guest_path(&p))?;
            }
        }
        Ok(())
    }

    /// Adds a module file that busybox's insmod can load, and returns its guest
    /// path: an uncompressed module where it is installed, a compressed one
    /// decompressed on the host (with the format's own tool) into
    /// [`INSMOD_DIR`], leaving the installed layout as it is.
    pub fn insmod_file(
        &mut self,
        kernel: &KernelUnderTest,
        host: &Path,
    ) -> Result<String, HarnessError> {
        let file = host.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let tool = if file.ends_with(".ko.xz") {
            "xz"
        } else if file.ends_with(".ko.zst") {
            "zstd"
        } else if file.ends_with(".ko.gz") {
            "gzip"
        } else {
            let guest = kernel.guest_path(host);
            self.host_file(host, &guest)?;
            return Ok(guest);
        };
        let name = crate::kernel::module_name(file).unwrap_or(file);
        let guest = format!("{INSMOD_DIR}/{name}.ko");
        if !self.has(&guest) {
            let out = std::process::Command::new(tool)
                .arg("-dc")
                .arg(host)
                .output()
                .map_err(|e| {
                    HarnessError::Setup(format!(
                        "running {tool} to decompress {}: {e} (scripts/install.sh installs \
                         xz-utils and zstd)",
                        host.display()
                    ))
                })?;
            if !out.status.success() {
                return Err(HarnessError::Setup(format!(
                    "{tool} -dc {} failed: {}",
                    host.display(),
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
            self.bytes(&guest, 0o644, out.stdout);
        }
        Ok(guest)
    }

    /// Writes the archive.  Parents always precede children.
    pub fn write_cpio(&self, out: impl Write) -> Result<(), HarnessError> {
        let io = |e: std::io::Error| HarnessError::Setup(format!("writing initramfs: {e}"));
        let mut w = CpioWriter::new(std::io::BufWriter::new(out));
        for d in ["/dev", "/proc", "/sys", "/tmp", "/run", "/root", "/etc"] {
            w.dir(d, 0o755).map_err(io)?;
        }
        w.char_dev("/dev/console", 0o600, 5, 1).map_err(io)?;
        for d in &self.dirs {
            if !["/dev", "/proc", "/sys", "/tmp", "/run", "/root", "/etc"].contains(&d.as_str()) {
                w.dir(d, 0o755).map_err(io)?;
            }
        }
        for (guest, mode, src) in &self.files {
            let data = match src {
                FileSource::Host(p) => std::fs::read(p)
                    .map_err(|e| HarnessError::Setup(format!("{}: {e}", p.display())))?,
                FileSource::Bytes(b) => b.clone(),
            };
            w.file(guest, *mode, &data).map_err(io)?;
        }
        for (guest, target) in &self.symlinks {
            w.symlink(guest, target).map_err(io)?;
        }
        w.finish().map_err(io)?.flush().map_err(io)
    }
}

/// The shared libraries (and the dynamic loader) an executable needs,
/// according to ldd.  A static executable needs none.
pub fn shared_libraries(exe: &Path) -> Result<Vec<PathBuf>, HarnessError> {
    let out = std::process::Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|e| HarnessError::Setup(format!("running ldd (from libc-bin): {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.contains("not found") {
            return Err(HarnessError::Setup(format!(
                "{} needs a library that is not installed: {line}",
                exe.display()
            )));
        }
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
        // "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = match line.split_once("=>") {
            Some((_, rhs)) => rhs.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}
