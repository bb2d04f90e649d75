//! A rebuild that never leaves the system worse than it found it.
//!
//! 1. **Stage.** The new build is made in a private DKMS tree
//!    (`/var/lib/dahdi-loader/stage`, `dkms add` + `dkms build --dkmstree`): the system's
//!    DKMS tree and `/lib/modules` are not touched. A failed compile changes nothing.
//! 2. **Prove.** The staged modules are verified as if installed ([`predict`]): the build's
//!    problems must be gone and no new problem may appear. Otherwise nothing changes and
//!    the caller says why.
//! 3. **Swap**, under a journal (`/var/lib/dahdi-loader/transaction.json`, written before the
//!    first destructive step and removed after the last): the current build is copied
//!    aside, taken out (`dkms unbuild`), the staged build moved into the system's tree and
//!    installed (`dkms install`, which copies it into /lib/modules and runs depmod).
//! 4. **Check** the installed result; commit, or roll back to the copy set aside.
//!
//! If the loader dies anywhere in 3 or 4 (OOM killer, a signal, a timeout), the journal is
//! found by the next `ensure` (which waits for any dkms still running: the lock is handed
//! down to it), which keeps what verifies and rolls back what does not. A dkms install that
//! was cut short (a truncated `dahdi.ko`) therefore never stays.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dkms::run::Target;
use crate::dkms::Dkms;
use crate::error::Error;
use crate::names::{KernelRelease, ModuleName, PackageName, Version};
use crate::report::{Code, Finding, Severity};
use crate::root::{list_dir, Root};
use crate::verify::KernelReport;

/// The loader's own state, beside DKMS's (on the same file system, so builds move by
/// rename).
pub const STATE_DIR: &str = "/var/lib/dahdi-loader";

/// The journal of a swap in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The DKMS module.
    pub module: PackageName,
    /// Its version.
    pub version: Version,
    /// The kernel.
    pub kernel: KernelRelease,
    /// The system's tree had a build for the kernel, now set aside in the backup.
    pub had_build: bool,
    /// That build was installed.
    pub was_installed: bool,
}

/// Where the transaction keeps its things.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The state directory.
    pub dir: PathBuf,
}

impl Paths {
    /// Under `root`.
    pub fn new(root: &Root) -> Self {
        Paths {
            dir: root.join(STATE_DIR),
        }
    }

    /// The private DKMS tree of staged builds.
    pub fn stage(&self) -> PathBuf {
        self.dir.join("stage")
    }

    /// Where the replaced build is kept until the swap commits.
    pub fn backup(&self) -> PathBuf {
        self.dir.join("backup")
    }

    /// The journal.
    pub fn journal(&self) -> PathBuf {
        self.dir.join("transaction.json")
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |e| Error::io(action, path, e)
}

/// Builds `t` in a fresh private tree; returns the staged build's directory
/// (`STAGE/M/V/K/ARCH`) and its module files.
pub fn stage(dkms: &Dkms, paths: &Paths, t: &Target<'_>) -> Result<(PathBuf, Vec<PathBuf>), Error> {
    let stage = paths.stage();
    if stage.exists() {
        std::fs::remove_dir_all(&stage).map_err(io("clear", &stage))?;
    }
    create_private_dir(&paths.dir)?;
    create_private_dir(&stage)?;
    dkms.add_to(&stage, t)?;
    dkms.build(Some(&stage), t)?;
    let kdir = stage.join(t.module).join(t.version).join(t.kernel);
    let arch = list_dir(&kdir)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Build {
            kernel: t.kernel.to_string(),
            version: t.version.to_string(),
            detail: format!(
                "dkms build reported success but left nothing in {}",
                kdir.display()
            ),
            log_tail: None,
            log_path: None,
        })?;
    let build = kdir.join(arch);
    let mdir = build.join("module");
    let files: Vec<PathBuf> = list_dir(&mdir)?
        .into_iter()
        .map(|f| mdir.join(f))
        .filter(|p| ModuleName::from_file_name(p).is_some())
        .collect();
    Ok((build, files))
}

/// Problems of a report that count for "better or worse": its findings above notes, by
/// code.
fn problems(r: &KernelReport) -> Vec<Code> {
    let mut v: Vec<Code> = r
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| f.code)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Whether replacing the build helps: the prediction has no problem a build cures, and no
/// problem the system does not have now. `Err` names the first reason it would not help.
pub fn helps<'a>(now: &KernelReport, predicted: &'a KernelReport) -> Result<(), &'a Finding> {
    let before = problems(now);
    for f in predicted
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
    {
        if f.fixed_by_build() || !before.contains(&f.code) {
            return Err(f);
        }
    }
    Ok(())
}

/// Writes the journal, durably, before the first destructive step.
fn write_journal(paths: &Paths, j: &Journal) -> Result<(), Error> {
    let path = paths.journal();
    let tmp = paths.dir.join("transaction.json.new");
    let text = serde_json::to_vec_pretty(j).expect("a journal serializes");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io("write", &tmp))?;
        f.write_all(&text).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
    sync_dir(&paths.dir)
}

/// The journal of an interrupted swap, if there is one.
pub fn pending(paths: &Paths) -> Result<Option<Journal>, Error> {
    let path = paths.journal();
    match crate::root::read_optional(&path)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::BadState {
                path: path.clone(),
                reason: e.to_string(),
            }),
    }
}

/// Replaces the system's build of `t` by the staged one: sets the current build aside,
/// takes it out, moves the staged build in and installs it.
pub fn swap(
    dkms: &Dkms,
    paths: &Paths,
    t: &Target<'_>,
    staged: &Path,
    had_build: bool,
    was_installed: bool,
) -> Result<Journal, Error> {
    let journal = Journal {
        module: t.module.clone(),
        version: t.version.clone(),
        kernel: t.kernel.clone(),
        had_build,
        was_installed,
    };
    let real = dkms
        .system_tree()
        .join(t.module)
        .join(t.version)
        .join(t.kernel);
    let backup = paths.backup();
    if backup.exists() {
        std::fs::remove_dir_all(&backup).map_err(io("clear", &backup))?;
    }
    if had_build {
        copy_tree(&real, &backup)?;
        sync_dir(&paths.dir)?;
    }
    write_journal(paths, &journal)?;
    if had_build {
        dkms.unbuild(t)?;
    }
    let arch = staged
        .file_name()
        .expect("a staged build is STAGE/M/V/K/ARCH");
    std::fs::create_dir_all(&real).map_err(io("create", &real))?;
    move_tree(staged, &real.join(arch))?;
    dkms.install(t)?;
    Ok(journal)
}

/// Ends a transaction that verified: the journal, the copy set aside and the staging
/// tree go.
pub fn commit(paths: &Paths) -> Result<(), Error> {
    let j = paths.journal();
    if j.exists() {
        std::fs::remove_file(&j).map_err(io("remove", &j))?;
        sync_dir(&paths.dir)?;
    }
    clean(paths);
    Ok(())
}

/// Removes staging leftovers (nothing of value is there once no journal names them).
pub fn clean(paths: &Paths) {
    for d in [paths.stage(), paths.backup()] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Puts back what the journal set aside: takes out whatever the swap installed, restores
/// the previous build into the system's tree and, if it was installed, installs it again.
pub fn roll_back(dkms: &Dkms, paths: &Paths, j: &Journal) -> Result<(), Error> {
    let t = Target {
        module: &j.module,
        version: &j.version,
        kernel: &j.kernel,
    };
    let real = dkms
        .system_tree()
        .join(t.module)
        .join(t.version)
        .join(t.kernel);
    if real.exists() {
        // Whatever state the interrupted swap left, DKMS takes it out.
        dkms.unbuild(&t)?;
    }
    if j.had_build {
        move_tree(&paths.backup(), &real)?;
        if j.was_installed {
            dkms.install(&t)?;
        }
    }
    commit(paths)
}

fn create_private_dir(d: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("create", d, e)),
    }
}

fn sync_dir(d: &Path) -> Result<(), Error> {
    std::fs::File::open(d)
        .and_then(|f| f.sync_all())
        .map_err(io("sync", d))
}

/// Moves a directory tree, by rename where it can (same file system), else by copy.
fn move_tree(from: &Path, to: &Path) -> Result<(), Error> {
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(io("replace", to))?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            copy_tree(from, to)?;
            std::fs::remove_dir_all(from).map_err(io("remove", from))
        }
        Err(e) => Err(Error::io("move", from, e)),
    }
}

/// Copies a directory tree: files with their modes, directories, symlinks as links.
fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    let meta = std::fs::symlink_metadata(from).map_err(io("inspect", from))?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from).map_err(io("read", from))?;
        std::os::unix::fs::symlink(target, to).map_err(io("link", to))
    } else if meta.is_dir() {
        std::fs::create_dir_all(to).map_err(io("create", to))?;
        std::fs::set_permissions(to, meta.permissions()).map_err(io("chmod", to))?;
        for name in list_dir(from)? {
            copy_tree(&from.join(&name), &to.join(&name))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to).map_err(io("copy", from))?;
        Ok(())
    }
}
