//! Booting the way a real machine does: UEFI firmware (OVMF, from Debian's `ovmf`)
//! finds a bootloader on an EFI system partition, and the bootloader picks the kernel.
//!
//! The other boots of the test bed hand qemu a kernel directly, which is faster but
//! skips the bootloader. Tests of what the bootloader will start next (GRUB's menu,
//! its environment block) boot through the firmware instead.

use std::path::{Path, PathBuf};

use crate::{setup_err, HarnessError};

/// Where Debian's `ovmf` package puts the firmware.
const OVMF_DIR: &str = "/usr/share/OVMF";

/// OVMF's code (read-only) and the pristine variable store each boot starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ovmf {
    pub code: PathBuf,
    pub vars: PathBuf,
}

impl Ovmf {
    /// Finds the firmware without Secure Boot (the 4 MiB build Debian 12 and 13 ship, or
    /// the older 2 MiB one).
    pub fn find() -> Result<Ovmf, HarnessError> {
        for (code, vars) in [
            ("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"),
            ("OVMF_CODE.fd", "OVMF_VARS.fd"),
        ] {
            let (code, vars) = (
                Path::new(OVMF_DIR).join(code),
                Path::new(OVMF_DIR).join(vars),
            );
            if code.is_file() && vars.is_file() {
                return Ok(Ovmf { code, vars });
            }
        }
        Err(HarnessError::Setup(format!(
            "no UEFI firmware in {OVMF_DIR}; install it with `apt-get install ovmf` \
             (scripts/install.sh does)"
        )))
    }

    /// qemu arguments for this firmware; the variable store is copied into `workdir`
    /// (the firmware writes to it), so every boot starts with no boot entries and finds
    /// the bootloader at the removable-media path.
    pub fn qemu_args(&self, workdir: &Path) -> Result<Vec<String>, HarnessError> {
        let vars = workdir.join("ovmf-vars.fd");
        std::fs::copy(&self.vars, &vars).map_err(setup_err("copying OVMF's variable store"))?;
        Ok(vec![
            "-drive".into(),
            format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={}",
                self.code.display()
            ),
            "-drive".into(),
            format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
        ])
    }
}
