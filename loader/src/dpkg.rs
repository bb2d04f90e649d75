//! The dpkg database, read from its files: which packages are installed, and who owns a
//! path.
//!
//! DAHDI reaches a system by more than one road: Debian's `dahdi-dkms`, another DKMS
//! package (XiVO's `dahdi-linux-dkms`), old per-kernel `dahdi-linux-modules-KVER`
//! packages whose files sit in `/lib/modules/KVER/extra`, or a manual `make install` that
//! no package owns. Advice must tell these apart: a file that a package owns is removed
//! with `apt purge PACKAGE`, never with `rm`. So the loader asks dpkg's database, and reads
//! it directly instead of running `dpkg -S`: the same code then works under `--root`, in
//! an initramfs without dpkg, and on a database another process holds locked.
//!
//! What is read, all under the [`Root`]:
//! - `/var/lib/dpkg/status` and the journal in `/var/lib/dpkg/updates/` (dpkg applies
//!   those records over the status file until it next rewrites it): each package's name,
//!   architecture, `Multi-Arch`, version and state;
//! - `/var/lib/dpkg/info/PKG.list` (`PKG:ARCH.list` for `Multi-Arch: same` packages,
//!   dpkg's `pkg_infodb_get_file`): the paths each package installed;
//! - `/var/lib/dpkg/diversions`: records of three lines (the diverted path, where the
//!   diverted file lives instead, the diverting package or `:` for a local diversion).
//!
//! Merged /usr: a package may list `/lib/modules/...` while the loader reaches the file
//! as `/usr/lib/modules/...` (or the reverse, as trixie's kernels list it). The root's
//! own top-level symlinks (`/lib -> usr/lib`) decide which spellings name one file;
//! `dpkg -S` compares text and would miss these.
//!
//! A damaged database does not stop the loader: records it cannot read are skipped and
//! described in [`DbNote`]s for the report.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::debversion::DebVersion;
use crate::error::Error;
use crate::names::{ModuleName, PackageName, Version};
use crate::root::{list_dir, read_optional, Root};

/// dpkg's status file.
pub const STATUS_FILE: &str = "/var/lib/dpkg/status";
/// dpkg's journal of status changes not yet merged into the status file.
pub const UPDATES_DIR: &str = "/var/lib/dpkg/updates";
/// Per-package files, `PKG.list` among them.
pub const INFO_DIR: &str = "/var/lib/dpkg/info";
/// dpkg-divert's records.
pub const DIVERSIONS_FILE: &str = "/var/lib/dpkg/diversions";

/// Top-level directories that merged /usr turns into links.
const MERGED_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Something in the database that was skipped, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbNote {
    /// The file (a system path under the root).
    pub path: PathBuf,
    /// 1-based line, 0 when the note concerns the whole file.
    pub line: usize,
    /// What was wrong and what was done about it.
    pub message: String,
}

impl fmt::Display for DbNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

/// What the administrator asked dpkg for (first word of `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Want {
    /// Never selected.
    Unknown,
    /// Selected for installation.
    Install,
    /// Held at its version.
    Hold,
    /// Selected for removal (configuration kept).
    Deinstall,
    /// Selected for purging.
    Purge,
}

/// Where a package is in its life (third word of `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageState {
    /// Not installed; dpkg keeps no files list for it.
    NotInstalled,
    /// Removed, but its configuration files are still on disk.
    ConfigFiles,
    /// Unpacking started and did not finish.
    HalfInstalled,
    /// Unpacked, not configured.
    Unpacked,
    /// Configuration started and did not finish.
    HalfConfigured,
    /// Waiting for another package's triggers.
    TriggersAwaited,
    /// Its triggers are pending.
    TriggersPending,
    /// Installed and configured.
    Installed,
}

impl PackageState {
    /// dpkg's word for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageState::NotInstalled => "not-installed",
            PackageState::ConfigFiles => "config-files",
            PackageState::HalfInstalled => "half-installed",
            PackageState::Unpacked => "unpacked",
            PackageState::HalfConfigured => "half-configured",
            PackageState::TriggersAwaited => "triggers-awaited",
            PackageState::TriggersPending => "triggers-pending",
            PackageState::Installed => "installed",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "not-installed" => PackageState::NotInstalled,
            "config-files" => PackageState::ConfigFiles,
            "half-installed" => PackageState::HalfInstalled,
            "unpacked" => PackageState::Unpacked,
            "half-configured" => PackageState::HalfConfigured,
            "triggers-awaited" => PackageState::TriggersAwaited,
            "triggers-pending" => PackageState::TriggersPending,
            "installed" => PackageState::Installed,
            _ => return None,
        })
    }
}

impl fmt::Display for PackageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One package as the status file records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// The package name.
    pub name: PackageName,
    /// `Architecture` (`amd64`, `all`); `None` when the record has none.
    pub arch: Option<Version>,
    /// `Multi-Arch: same`: several architectures may be installed at once.
    pub multi_arch_same: bool,
    /// `Version`; `None` when absent (not-installed packages) or unreadable (noted).
    pub version: Option<DebVersion>,
    /// The selection.
    pub want: Want,
    /// The state.
    pub state: PackageState,
    /// dpkg's `reinstreq` flag: the package is broken and must be reinstalled.
    pub reinstall_required: bool,
    /// The name as `dpkg -S` and `dpkg-query -f '${binary:Package}'` print it and as apt
    /// takes it: `name:arch` for `Multi-Arch: same` and foreign-architecture packages.
    pub binary_package: String,
}

impl Package {
    /// The files list's name in `/var/lib/dpkg/info` (dpkg's `pkg_infodb_get_file`).
    fn list_file_name(&self) -> String {
        match (&self.arch, self.multi_arch_same) {
            (Some(arch), true) => format!("{}:{arch}.list", self.name),
            _ => format!("{}.list", self.name),
        }
    }
}

/// The packages dpkg knows, from the status file and its update journal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusDb {
    /// Packages sorted by name, then architecture.
    pub packages: Vec<Package>,
    /// Records that were skipped or partly read.
    pub notes: Vec<DbNote>,
}

/// One `Field: value` of a record, with continuation lines joined.
struct Field<'a> {
    name: &'a str,
    value: String,
    line: usize,
}

/// Splits deb822 text into records: `Field: value` lines, continuation lines starting
/// with a blank, records separated by blank lines. Lines that fit none of these are
/// noted and skipped.
fn records<'a>(path: &Path, text: &'a str, notes: &mut Vec<DbNote>) -> Vec<Vec<Field<'a>>> {
    let mut out = Vec::new();
    let mut current: Vec<Field<'a>> = Vec::new();
    let mut note = |line: usize, message: String| {
        notes.push(DbNote {
            path: path.to_path_buf(),
            line,
            message,
        })
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match current.last_mut() {
                Some(f) => {
                    f.value.push('\n');
                    f.value.push_str(line.trim());
                }
                None => note(n, "continuation line outside a record; skipped".into()),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            note(
                n,
                format!("{:?} is not a 'Field: value' line; skipped", clip(line)),
            );
            continue;
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            note(
                n,
                format!("{:?} is not a field name; line skipped", clip(name)),
            );
            continue;
        }
        if current.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
            note(n, format!("field {name} repeated; the first is used"));
            continue;
        }
        current.push(Field {
            name,
            value: value.trim().to_string(),
            line: n,
        });
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// At most 60 characters of untrusted text, for a note.
fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

impl StatusDb {
    /// Reads the status file and the update journal under the root; `Ok(None)` when the
    /// root has no dpkg database (not a Debian system, or an initramfs without one).
    pub fn load(root: &Root) -> Result<Option<Self>, Error> {
        let Some(text) = read_optional(&root.join(STATUS_FILE))? else {
            return Ok(None);
        };
        let mut db = StatusDb::default();
        db.merge(Path::new(STATUS_FILE), &text);
        // dpkg applies the journal in name order; its entries are all-digit names.
        let updates = root.join(UPDATES_DIR);
        for name in list_dir(&updates)? {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Some(text) = read_optional(&updates.join(&name))? {
                db.merge(&Path::new(UPDATES_DIR).join(&name), &text);
            }
        }
        db.finish();
        Ok(Some(db))
    }

    /// Parses the text of a status file (`path` names it in notes).
    pub fn parse(path: &Path, text: &str) -> Self {
        let mut db = StatusDb::default();
        db.merge(path, text);
        db.finish();
        db
    }

    /// Adds the records of one file; a record for a package already known replaces it,
    /// as a journal entry replaces the status file's record. Packages are told apart by
    /// name, and by architecture too when several may be installed (`Multi-Arch: same`).
    fn merge(&mut self, path: &Path, text: &str) {
        let key = |p: &Package| (p.name.clone(), p.arch.clone().filter(|_| p.multi_arch_same));
        let mut known: HashMap<(PackageName, Option<Version>), usize> = self
            .packages
            .iter()
            .enumerate()
            .map(|(i, p)| (key(p), i))
            .collect();
        let mut notes = Vec::new();
        for record in records(path, text, &mut notes) {
            if let Some(p) = package_from(path, &record, &mut notes) {
                match known.get(&key(&p)) {
                    Some(&i) => self.packages[i] = p,
                    None => {
                        known.insert(key(&p), self.packages.len());
                        self.packages.push(p);
                    }
                }
            }
        }
        self.notes.extend(notes);
    }

    /// Sorts, and spells each package as dpkg prints it: qualified by architecture when
    /// `Multi-Arch: same`, or when not of the native architecture (dpkg's
    /// `pkgbin_name_needs_arch`). The native architecture is dpkg's own package's.
    fn finish(&mut self) {
        self.packages
            .sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
        let native = self
            .packages
            .iter()
            .find(|p| p.name == "dpkg" && p.state != PackageState::NotInstalled)
            .and_then(|p| p.arch.clone());
        for p in &mut self.packages {
            let qualify = match &p.arch {
                None => false,
                Some(a) if a.as_str().is_empty() => false,
                Some(_) if p.multi_arch_same => true,
                Some(a) => a != "all" && native.as_ref().is_some_and(|n| n != a),
            };
            p.binary_package = match (&p.arch, qualify) {
                (Some(a), true) => format!("{}:{a}", p.name),
                _ => p.name.to_string(),
            };
        }
    }

    /// Every record of a package name (one per architecture).
    pub fn get(&self, name: &PackageName) -> &[Package] {
        let start = self.packages.partition_point(|p| p.name < *name);
        let len = self.packages[start..].partition_point(|p| p.name == *name);
        &self.packages[start..start + len]
    }
}

/// One record as a package, or `None` (noted) when it names none or its state is
/// unreadable.
fn package_from(path: &Path, record: &[Field<'_>], notes: &mut Vec<DbNote>) -> Option<Package> {
    let field = |name: &str| record.iter().find(|f| f.name.eq_ignore_ascii_case(name));
    let first_line = record.first().map_or(0, |f| f.line);
    let mut note = |line: usize, message: String| {
        notes.push(DbNote {
            path: path.to_path_buf(),
            line,
            message,
        })
    };
    let Some(name_field) = field("Package") else {
        note(first_line, "record without a Package field; skipped".into());
        return None;
    };
    let name = match PackageName::new(&name_field.value) {
        Ok(n) => n,
        Err(e) => {
            note(name_field.line, format!("{e}; record skipped"));
            return None;
        }
    };
    let Some(status) = field("Status") else {
        note(
            first_line,
            format!("package {name} has no Status field; skipped"),
        );
        return None;
    };
    let words: Vec<&str> = status.value.split_whitespace().collect();
    let parsed = match words[..] {
        [want, flag, state] => {
            let want = match want {
                "unknown" => Some(Want::Unknown),
                "install" => Some(Want::Install),
                "hold" => Some(Want::Hold),
                "deinstall" => Some(Want::Deinstall),
                "purge" => Some(Want::Purge),
                _ => None,
            };
            let reinstall = match flag {
                "ok" => Some(false),
                "reinstreq" => Some(true),
                _ => None,
            };
            want.zip(reinstall)
                .zip(PackageState::parse(state))
                .map(|((w, r), s)| (w, r, s))
        }
        _ => None,
    };
    let Some((want, reinstall_required, state)) = parsed else {
        note(
            status.line,
            format!(
                "package {name}: Status {:?} is not 'WANT FLAG STATE'; skipped",
                clip(&status.value)
            ),
        );
        return None;
    };
    let arch = match field("Architecture") {
        None => None,
        Some(f) => match Version::new_as("architecture", &f.value) {
            Ok(a) => Some(a),
            Err(e) => {
                note(f.line, format!("package {name}: {e}; architecture ignored"));
                None
            }
        },
    };
    let version = match field("Version") {
        None => None,
        Some(f) => match DebVersion::parse_lenient(&f.value) {
            Ok(v) => Some(v),
            Err(e) => {
                note(f.line, format!("package {name}: {e}; version ignored"));
                None
            }
        },
    };
    let multi_arch_same = field("Multi-Arch").is_some_and(|f| f.value == "same");
    Some(Package {
        binary_package: name.to_string(),
        name,
        arch,
        multi_arch_same,
        version,
        want,
        state,
        reinstall_required,
    })
}

/// A `dpkg-divert` record: `from` is not where packages put it, `to` is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diversion {
    /// The path packages list.
    pub from: String,
    /// Where other packages' copies of it are put instead.
    pub to: String,
    /// The diverting package, whose own copy stays at `from`; `None` for a local
    /// diversion (made by the administrator), which moves every package's copy.
    pub by: Option<PackageName>,
}

/// Parses `/var/lib/dpkg/diversions` text: records of three lines. A truncated last
/// record, or one naming an invalid package, is noted and skipped.
pub fn parse_diversions(path: &Path, text: &str, notes: &mut Vec<DbNote>) -> Vec<Diversion> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, rec) in lines.chunks(3).enumerate() {
        let line = i * 3 + 1;
        let [from, to, by] = rec else {
            notes.push(DbNote {
                path: path.to_path_buf(),
                line,
                message: "a diversion record needs three lines (from, to, package); the last one is cut short and was skipped".into(),
            });
            break;
        };
        let by = if *by == ":" {
            None
        } else {
            match PackageName::new(by) {
                Ok(p) => Some(p),
                Err(e) => {
                    notes.push(DbNote {
                        path: path.to_path_buf(),
                        line: line + 2,
                        message: format!("{e}; diversion skipped"),
                    });
                    continue;
                }
            }
        };
        if !from.starts_with('/') || !to.starts_with('/') {
            notes.push(DbNote {
                path: path.to_path_buf(),
                line,
                message: format!(
                    "diversion {:?} -> {:?} is not between absolute paths; skipped",
                    clip(from),
                    clip(to)
                ),
            });
            continue;
        }
        out.push(Diversion {
            from: from.to_string(),
            to: to.to_string(),
            by,
        });
    }
    out
}

/// The spellings of one path: the root's top-level links (`/lib -> usr/lib`) mapped to
/// their targets, so `/lib/modules/k/x.ko` and `/usr/lib/modules/k/x.ko` are one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathSpelling {
    /// `("/lib", "/usr/lib")` for each top-level link into the root.
    links: Vec<(String, String)>,
}

impl PathSpelling {
    /// Reads the root's top-level merged-/usr links.
    pub fn of(root: &Root) -> Self {
        let mut links = Vec::new();
        for dir in MERGED_DIRS {
            let at = root.dir().join(dir);
            let Ok(Some(target)) = root.read_link(&at) else {
                continue;
            };
            let Ok(rel) = target.strip_prefix(root.dir()) else {
                continue;
            };
            let Some(rel) = rel.to_str() else { continue };
            // A link to the root itself, or to itself, would map every path or loop.
            if rel.is_empty() || rel == *dir || !target.is_dir() {
                continue;
            }
            links.push((format!("/{dir}"), format!("/{rel}")));
        }
        PathSpelling { links }
    }

    /// The one spelling of a path: absolute, no `.` or empty components, no trailing
    /// `/`, top-level links replaced by their targets.
    pub fn canonical(&self, path: &str) -> String {
        self.canonical_cow(path).into_owned()
    }

    /// [`PathSpelling::canonical`] without a copy for the common case: a files list's
    /// line is already clean and outside the linked directories.
    fn canonical_cow<'a>(&self, path: &'a str) -> Cow<'a, str> {
        let clean = path.starts_with('/')
            && (path.len() == 1 || !path.ends_with('/'))
            && !path.ends_with("/.")
            && !path.contains("//")
            && !path.contains("/./");
        let clean: Cow<'a, str> = if clean {
            Cow::Borrowed(path)
        } else {
            let mut out = String::with_capacity(path.len() + 1);
            for c in Path::new(path).components() {
                match c {
                    Component::Normal(n) => {
                        out.push('/');
                        out.push_str(&n.to_string_lossy());
                    }
                    Component::ParentDir => out.push_str("/.."),
                    Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                }
            }
            if out.is_empty() {
                out.push('/');
            }
            Cow::Owned(out)
        };
        for (from, to) in &self.links {
            if let Some(rest) = clean.strip_prefix(from.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return Cow::Owned(format!("{to}{rest}"));
                }
            }
        }
        clean
    }
}

/// Who owns paths, from the files lists of every package, read once.
#[derive(Debug, Clone)]
pub struct OwnerIndex {
    /// Packages with at least one path in the index.
    packages: Vec<Package>,
    /// The packages listing each canonical path.
    listed: HashMap<String, Vec<Listing>>,
    /// Diversions by canonical `from` and by canonical `to`.
    diverted_from: HashMap<String, Diversion>,
    diverted_to: HashMap<String, Diversion>,
    spelling: PathSpelling,
    /// Files lists that were missing or damaged.
    pub notes: Vec<DbNote>,
}

/// One package's line for a path in its files list.
#[derive(Debug, Clone)]
struct Listing {
    /// Index into [`OwnerIndex::packages`].
    package: u32,
    /// The path as listed, when it is spelled otherwise than the canonical key.
    as_listed: Option<Box<str>>,
}

/// A package that owns a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner<'a> {
    /// The package.
    pub package: &'a Package,
    /// The path as the package lists it (another spelling under merged /usr, or the
    /// diverted path when the file was moved by a diversion).
    pub listed_as: &'a str,
}

impl OwnerIndex {
    /// Reads the files lists of the packages in `db` that have one, keeping the paths
    /// under any of `scope` (system paths, any spelling; empty keeps everything).
    pub fn build(root: &Root, db: &StatusDb, scope: &[&str]) -> Result<Self, Error> {
        let spelling = PathSpelling::of(root);
        let scope: Vec<String> = scope.iter().map(|s| spelling.canonical(s)).collect();
        let in_scope = |p: &str| {
            scope.is_empty()
                || scope.iter().any(|s| {
                    s == "/"
                        || p.strip_prefix(s.as_str())
                            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
                })
        };
        let mut notes = Vec::new();
        let mut diversions = Vec::new();
        if let Some(text) = read_optional(&root.join(DIVERSIONS_FILE))? {
            diversions = parse_diversions(Path::new(DIVERSIONS_FILE), &text, &mut notes);
        }
        let mut index = OwnerIndex {
            packages: Vec::new(),
            listed: HashMap::new(),
            diverted_from: HashMap::new(),
            diverted_to: HashMap::new(),
            spelling,
            notes: Vec::new(),
        };
        for d in diversions {
            let from = index.spelling.canonical(&d.from);
            let to = index.spelling.canonical(&d.to);
            index.diverted_to.insert(to, d.clone());
            index.diverted_from.insert(from, d);
        }
        // A diverted file lives at the diversion's target: keep the original's listers
        // whenever either end is in scope.
        let scope_from: Vec<String> = index
            .diverted_to
            .iter()
            .filter(|(to, _)| in_scope(to))
            .map(|(_, d)| index.spelling.canonical(&d.from))
            .collect();

        let info = root.join(INFO_DIR);
        for pkg in &db.packages {
            if pkg.state == PackageState::NotInstalled {
                continue;
            }
            let primary = info.join(pkg.list_file_name());
            let text = match read_optional(&primary)? {
                Some(t) => Some(t),
                // An architecture-qualified list for a package whose record lost its
                // Multi-Arch field, or the reverse.
                None => {
                    let other = match &pkg.arch {
                        Some(a) if !pkg.multi_arch_same => format!("{}:{a}.list", pkg.name),
                        _ => format!("{}.list", pkg.name),
                    };
                    read_optional(&info.join(other))?
                }
            };
            let list_path = Path::new(INFO_DIR).join(pkg.list_file_name());
            let Some(text) = text else {
                if pkg.state != PackageState::ConfigFiles {
                    notes.push(DbNote {
                        path: list_path,
                        line: 0,
                        message: format!(
                            "the files list of {} ({}) is missing; dpkg assumes it has no files",
                            pkg.binary_package, pkg.state
                        ),
                    });
                }
                continue;
            };
            if !text.is_empty() && !text.ends_with('\n') {
                notes.push(DbNote {
                    path: list_path.clone(),
                    line: text.lines().count(),
                    message: "the files list has no final newline (dpkg refuses it); its last line was read anyway".into(),
                });
            }
            let id = index.packages.len() as u32;
            let mut used = false;
            for (i, raw) in text.lines().enumerate() {
                let listed = raw.strip_suffix('/').unwrap_or(raw);
                if listed.is_empty() || !listed.starts_with('/') {
                    notes.push(DbNote {
                        path: list_path.clone(),
                        line: i + 1,
                        message: format!("{:?} is not an absolute path; skipped", clip(raw)),
                    });
                    continue;
                }
                let key = index.spelling.canonical_cow(listed);
                if !in_scope(&key) && !scope_from.iter().any(|f| *f == key) {
                    continue;
                }
                let as_listed = (key != listed).then(|| Box::<str>::from(listed));
                let key = key.into_owned();
                index.listed.entry(key).or_default().push(Listing {
                    package: id,
                    as_listed,
                });
                used = true;
            }
            if used {
                index.packages.push(pkg.clone());
            }
        }
        index.notes = notes;
        Ok(index)
    }

    /// The packages whose file is at `system_path` (any spelling), as the file system
    /// has it after diversions: a diverted path belongs only to the diverting package
    /// (if it lists it), and a diversion's target to the packages whose copy was moved
    /// there. Empty when no package owns it.
    pub fn owners(&self, system_path: &str) -> Vec<Owner<'_>> {
        let key = self.spelling.canonical(system_path);
        let listers = |path: &str| {
            self.listed
                .get_key_value(path)
                .into_iter()
                .flat_map(|(k, entries)| {
                    entries.iter().map(move |l| Owner {
                        package: &self.packages[l.package as usize],
                        listed_as: l.as_listed.as_deref().unwrap_or(k),
                    })
                })
        };
        let mut out: Vec<Owner<'_>> = match self.diverted_from.get(&key) {
            // Only the diverting package's own copy stays at a diverted path.
            Some(d) => listers(&key)
                .filter(|o| d.by.as_ref() == Some(&o.package.name))
                .collect(),
            None => listers(&key).collect(),
        };
        if let Some(d) = self.diverted_to.get(&key) {
            let from = self.spelling.canonical(&d.from);
            out.extend(listers(&from).filter(|o| d.by.as_ref() != Some(&o.package.name)));
        }
        out
    }

    /// The packages listing a module file (`NAME.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`) of one
    /// of `names`, with those files as listed, sorted: how per-kernel DAHDI packages
    /// (`dahdi-linux-modules-KVER`) are found whichever kernels they were built for, and
    /// whether or not their files are still on disk. Build the index with the module
    /// directories in scope (`/lib/modules`).
    pub fn packages_with_modules(&self, names: &HashSet<ModuleName>) -> Vec<PackageModules<'_>> {
        let mut by_package: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
        for (key, listings) in &self.listed {
            let is_wanted = ModuleName::from_file_name(Path::new(key.as_str()))
                .is_some_and(|m| names.contains(&m));
            if !is_wanted {
                continue;
            }
            for l in listings {
                let as_listed = l.as_listed.as_deref().unwrap_or(key);
                by_package.entry(l.package).or_default().push(as_listed);
            }
        }
        let mut out: Vec<PackageModules<'_>> = by_package
            .into_iter()
            .map(|(id, mut files)| {
                files.sort_unstable();
                PackageModules {
                    package: &self.packages[id as usize],
                    files,
                }
            })
            .collect();
        out.sort_by(|a, b| a.package.binary_package.cmp(&b.package.binary_package));
        out
    }

    /// The diversion involving `system_path`, as its source or its target.
    pub fn diversion(&self, system_path: &str) -> Option<&Diversion> {
        let key = self.spelling.canonical(system_path);
        self.diverted_from
            .get(&key)
            .or_else(|| self.diverted_to.get(&key))
    }
}

/// A package and the module files it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageModules<'a> {
    /// The package, with its state and version.
    pub package: &'a Package,
    /// The module files, as the package lists them.
    pub files: Vec<&'a str>,
}

/// The owners of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileOwners {
    /// The file, as it was given.
    pub path: PathBuf,
    /// Packages owning it (with state and version); empty when no package does, as for
    /// a DKMS build or a manual `make install`.
    pub owners: Vec<Package>,
}

/// Who owns each of `files` (module files, typically): paths under the root as
/// [`Root::join`] gives them (on the live system, plain system paths). The files lists
/// are read once, keeping only the directories of these files.
pub fn owners_of_files(
    root: &Root,
    db: &StatusDb,
    files: &[PathBuf],
) -> Result<(Vec<FileOwners>, Vec<DbNote>), Error> {
    let system: Vec<String> = files.iter().map(|f| system_path(root, f)).collect();
    let mut dirs: BTreeMap<String, ()> = BTreeMap::new();
    for s in &system {
        let parent = Path::new(s).parent().unwrap_or(Path::new("/"));
        dirs.insert(parent.to_string_lossy().into_owned(), ());
    }
    let scope: Vec<&str> = dirs.keys().map(String::as_str).collect();
    let index = OwnerIndex::build(root, db, &scope)?;
    let owners = files
        .iter()
        .zip(&system)
        .map(|(path, s)| FileOwners {
            path: path.clone(),
            owners: index
                .owners(s)
                .into_iter()
                .map(|o| o.package.clone())
                .collect(),
        })
        .collect();
    Ok((owners, index.notes))
}

/// A path under the root (or a system path) as the system under the root names it.
fn system_path(root: &Root, path: &Path) -> String {
    root.system_path(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_files::write;
    use std::collections::BTreeSet;
    use std::process::Command;

    /// A status record from "NAME ARCH MULTI-ARCH VERSION" (`-`: no Multi-Arch field).
    fn record(fields: &str, status: &str) -> String {
        let [name, arch, ma, version] = fields.split(' ').collect::<Vec<_>>()[..] else {
            panic!("{fields}")
        };
        let ma = if ma == "-" {
            String::new()
        } else {
            format!("Multi-Arch: {ma}\n")
        };
        format!(
            "Package: {name}\nStatus: {status}\nPriority: optional\nArchitecture: {arch}\n{ma}Version: {version}\nDescription: test\n long text\n .\n more\n\n"
        )
    }

    #[test]
    fn status_records_and_names() {
        let text = [
            record("dpkg amd64 foreign 1.21.22", "install ok installed"),
            record("libacl1 amd64 same 2.3.1-3", "install ok installed"),
            record("libacl1 i386 same 2.3.1-3", "install ok installed"),
            record("zlib-tool i386 - 1:1.2-1", "install ok installed"),
            record(
                "dahdi-dkms all - 1:2.11.1.0.20170917~dfsg-8.4",
                "install ok installed",
            ),
            record(
                "dahdi-linux-modules-6.1.0-1-amd64 amd64 - 1:2.10-1",
                "deinstall reinstreq half-configured",
            ),
            record("old amd64 - 1.0", "purge ok config-files"),
        ]
        .concat();
        let db = StatusDb::parse(Path::new(STATUS_FILE), &text);
        assert!(db.notes.is_empty(), "{:?}", db.notes);
        let names: Vec<&str> = db
            .packages
            .iter()
            .map(|p| p.binary_package.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "dahdi-dkms",
                "dahdi-linux-modules-6.1.0-1-amd64",
                "dpkg",
                "libacl1:amd64",
                "libacl1:i386",
                "old",
                "zlib-tool:i386"
            ]
        );
        let leftover = &db.packages[1];
        assert_eq!(leftover.state, PackageState::HalfConfigured);
        assert_eq!(leftover.want, Want::Deinstall);
        assert!(leftover.reinstall_required);
        assert_eq!(leftover.version.as_ref().unwrap().as_str(), "1:2.10-1");
        assert_eq!(
            leftover.list_file_name(),
            "dahdi-linux-modules-6.1.0-1-amd64.list"
        );
        assert_eq!(db.packages[3].list_file_name(), "libacl1:amd64.list");
        let acl = PackageName::new("libacl1").unwrap();
        assert_eq!(db.get(&acl).len(), 2);
        assert!(db.get(&PackageName::new("nope").unwrap()).is_empty());
    }

    #[test]
    fn damaged_status_is_read_around_the_damage() {
        let text = format!(
            " leading continuation\n{}garbage without colon\nPackage: ../etc\nStatus: install ok installed\n\nVersion: 1.0\nStatus: install ok installed\n\nPackage: nostatus\n\nPackage: badstatus\nStatus: install maybe installed\n\nPackage: badversion\nStatus: install ok installed\nVersion: 1:\nArchitecture: am d64\n\nPackage: twice\nPackage: again\nStatus: install ok unpacked\n\0\u{fffd}\n\nPackage: last\nStatus: install ok installed\nVersion: 2.0",
            record("good amd64 - 1.0", "install ok installed")
        );
        let db = StatusDb::parse(Path::new("/s"), &text);
        let names: Vec<&str> = db.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["badversion", "good", "last", "twice"]);
        assert_eq!(db.packages[0].version, None);
        assert_eq!(db.packages[0].arch, None);
        assert_eq!(db.packages[3].state, PackageState::Unpacked);
        assert_eq!(db.packages[2].version.as_ref().unwrap().as_str(), "2.0");
        let notes: Vec<String> = db.notes.iter().map(|n| n.to_string()).collect();
        for needle in [
            "/s:1: continuation line outside a record",
            "/s:12: \"garbage without colon\" is not a 'Field: value' line",
            "/s:13: invalid package name \"../etc\"",
            "/s:16: record without a Package field",
            "/s:19: package nostatus has no Status field",
            "/s:22: package badstatus: Status \"install maybe installed\"",
            "/s:26: package badversion: invalid Debian version \"1:\"",
            "/s:27: package badversion: invalid architecture \"am d64\"",
            "/s:30: field Package repeated",
            &format!("/s:32: {:?} is not a 'Field: value' line", "\0\u{fffd}"),
        ] {
            assert!(
                notes.iter().any(|n| n.starts_with(needle)),
                "{needle} not in {notes:#?}"
            );
        }
    }

    #[test]
    fn journal_entries_replace_status_records() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            STATUS_FILE,
            &[
                record("dpkg amd64 - 1.21", "install ok installed"),
                record("dahdi-dkms all - 1:2.11-1", "install ok installed"),
            ]
            .concat(),
        );
        // dpkg was interrupted while removing dahdi-dkms: the journal has the newer state.
        write(
            t.path(),
            "/var/lib/dpkg/updates/0001",
            &record("dahdi-dkms all - 1:2.11-1", "deinstall ok half-installed"),
        );
        write(
            t.path(),
            "/var/lib/dpkg/updates/0002",
            &record("dahdi-dkms all - 1:2.11-1", "deinstall ok config-files"),
        );
        write(t.path(), "/var/lib/dpkg/updates/tmp.i", "Package: junk\n");
        let db = StatusDb::load(&Root::new(t.path())).unwrap().unwrap();
        let p = &db.get(&PackageName::new("dahdi-dkms").unwrap())[0];
        assert_eq!(p.state, PackageState::ConfigFiles);
        assert_eq!(db.packages.len(), 2);
        assert!(StatusDb::load(&Root::new(t.path().join("nothing")))
            .unwrap()
            .is_none());
    }

    /// A fixture root: a merged or split /usr, three packages, a leftover per-kernel
    /// DAHDI package, and a diversion.
    fn fixture(merged: bool) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("usr/lib/modules/6.1.0-1-amd64")).unwrap();
        if merged {
            std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
        } else {
            std::fs::create_dir_all(r.join("lib/modules/6.1.0-1-amd64")).unwrap();
        }
        write(
            r,
            STATUS_FILE,
            &[
                record("dpkg amd64 - 1.21", "install ok installed"),
                record(
                    "dahdi-linux-modules-6.1.0-1-amd64 amd64 - 1:2.10.2-1",
                    "install ok installed",
                ),
                record(
                    "linux-image-6.1.0-1-amd64 amd64 - 6.1.1-1",
                    "install ok installed",
                ),
                record("trixie-style amd64 same 1.0", "install ok installed"),
                record("nolist amd64 - 1.0", "install ok installed"),
                record("gone amd64 - 1.0", "deinstall ok config-files"),
                record("diverter all - 1.0", "install ok installed"),
            ]
            .concat(),
        );
        write(
            r,
            "/var/lib/dpkg/info/dahdi-linux-modules-6.1.0-1-amd64.list",
            "/.\n/lib\n/lib/modules\n/lib/modules/6.1.0-1-amd64\n/lib/modules/6.1.0-1-amd64/extra/\n/lib/modules/6.1.0-1-amd64/extra/dahdi.ko\n/lib/modules/6.1.0-1-amd64/extra/wct4xxp.ko\n",
        );
        write(
            r,
            "/var/lib/dpkg/info/linux-image-6.1.0-1-amd64.list",
            "/.\n/lib\n/lib/modules/6.1.0-1-amd64/kernel/drivers/net/dummy.ko\n/lib/modules/6.1.0-1-amd64/modules.order\n",
        );
        // Lists /usr/lib/..., as packages built for merged /usr do.
        write(
            r,
            "/var/lib/dpkg/info/trixie-style:amd64.list",
            "/usr/lib/modules/6.1.0-1-amd64/extra/xpp.ko\n/usr/lib/modules/6.1.0-1-amd64/modules.order\n",
        );
        write(
            r,
            "/var/lib/dpkg/info/diverter.list",
            "/lib/modules/6.1.0-1-amd64/modules.order\n/lib/modules/6.1.0-1-amd64/modules.order.real\n",
        );
        write(
            r,
            DIVERSIONS_FILE,
            "/lib/modules/6.1.0-1-amd64/modules.order\n/lib/modules/6.1.0-1-amd64/modules.order.real\ndiverter\n/usr/lib/modules/6.1.0-1-amd64/extra/local.ko\n/usr/lib/modules/6.1.0-1-amd64/extra/local.ko.orig\n:\n/truncated\n",
        );
        t
    }

    /// The fixture and the index of all its files lists.
    fn fixture_index(merged: bool) -> (tempfile::TempDir, OwnerIndex) {
        let t = fixture(merged);
        let root = Root::new(t.path());
        let db = StatusDb::load(&root).unwrap().unwrap();
        let index = OwnerIndex::build(&root, &db, &[]).unwrap();
        (t, index)
    }

    fn owner_names(index: &OwnerIndex, path: &str) -> Vec<String> {
        let mut v: Vec<String> = index
            .owners(path)
            .iter()
            .map(|o| o.package.binary_package.clone())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn merged_usr_both_directions() {
        let (_t, index) = fixture_index(true);
        let leftover = ["dahdi-linux-modules-6.1.0-1-amd64"];
        for p in [
            "/lib/modules/6.1.0-1-amd64/extra/dahdi.ko",
            "/usr/lib/modules/6.1.0-1-amd64/extra/dahdi.ko",
            "/usr/lib//modules/6.1.0-1-amd64/./extra/dahdi.ko",
        ] {
            assert_eq!(owner_names(&index, p), leftover, "{p}");
        }
        for p in [
            "/lib/modules/6.1.0-1-amd64/extra/xpp.ko",
            "/usr/lib/modules/6.1.0-1-amd64/extra/xpp.ko",
        ] {
            assert_eq!(owner_names(&index, p), ["trixie-style:amd64"], "{p}");
        }
        let o = index.owners("/usr/lib/modules/6.1.0-1-amd64/extra/dahdi.ko");
        assert_eq!(o[0].listed_as, "/lib/modules/6.1.0-1-amd64/extra/dahdi.ko");
        // A directory is owned by every package that lists it, in either spelling.
        assert_eq!(
            owner_names(&index, "/usr/lib/modules/6.1.0-1-amd64/extra"),
            leftover
        );
        assert!(owner_names(
            &index,
            "/usr/lib/modules/6.1.0-1-amd64/updates/dkms/dahdi.ko"
        )
        .is_empty());
        let notes: Vec<String> = index.notes.iter().map(|n| n.to_string()).collect();
        assert!(
            notes
                .iter()
                .any(|n| n.contains("files list of nolist (installed) is missing")),
            "{notes:?}"
        );
        assert!(!notes.iter().any(|n| n.contains("gone")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("three lines")), "{notes:?}");
    }

    #[test]
    fn split_usr_keeps_spellings_apart() {
        let (_t, index) = fixture_index(false);
        assert_eq!(
            owner_names(&index, "/lib/modules/6.1.0-1-amd64/extra/dahdi.ko"),
            ["dahdi-linux-modules-6.1.0-1-amd64"]
        );
        assert!(owner_names(&index, "/usr/lib/modules/6.1.0-1-amd64/extra/dahdi.ko").is_empty());
        assert!(owner_names(&index, "/lib/modules/6.1.0-1-amd64/extra/xpp.ko").is_empty());
    }

    #[test]
    fn diversions_move_ownership() {
        let (_t, index) = fixture_index(true);
        // The diverter keeps its own copy at the diverted path; the kernel's and the
        // other package's copies were moved to the target.
        let order = "/usr/lib/modules/6.1.0-1-amd64/modules.order";
        assert_eq!(owner_names(&index, order), ["diverter"]);
        assert_eq!(
            owner_names(&index, &format!("{order}.real")),
            [
                "diverter",
                "linux-image-6.1.0-1-amd64",
                "trixie-style:amd64"
            ]
        );
        assert_eq!(
            index.diversion(order).unwrap().by.as_ref().unwrap(),
            "diverter"
        );
        assert_eq!(
            index
                .diversion("/lib/modules/6.1.0-1-amd64/extra/local.ko.orig")
                .unwrap()
                .by,
            None
        );
    }

    #[test]
    fn module_file_owners_with_state_and_version() {
        let t = fixture(true);
        let root = Root::new(t.path());
        let db = StatusDb::load(&root).unwrap().unwrap();
        let files: Vec<PathBuf> = [
            "/lib/modules/6.1.0-1-amd64/extra/dahdi.ko",
            "/lib/modules/6.1.0-1-amd64/updates/dkms/dahdi.ko",
        ]
        .iter()
        .map(|p| root.join(p))
        .collect();
        let (owners, _notes) = owners_of_files(&root, &db, &files).unwrap();
        assert_eq!(owners.len(), 2);
        assert_eq!(owners[0].path, files[0]);
        let p = &owners[0].owners[0];
        assert_eq!(p.name, "dahdi-linux-modules-6.1.0-1-amd64");
        assert_eq!(p.state, PackageState::Installed);
        assert_eq!(p.version.as_ref().unwrap().as_str(), "1:2.10.2-1");
        assert!(owners[1].owners.is_empty());
    }

    #[test]
    fn packages_listing_module_files() {
        let t = fixture(true);
        let root = Root::new(t.path());
        let db = StatusDb::load(&root).unwrap().unwrap();
        let index = OwnerIndex::build(&root, &db, &["/lib/modules"]).unwrap();
        let names: HashSet<ModuleName> = ["dahdi", "wct4xxp", "xpp"]
            .iter()
            .map(|n| ModuleName::new(n).unwrap())
            .collect();
        let found: Vec<(String, Vec<&str>)> = index
            .packages_with_modules(&names)
            .into_iter()
            .map(|p| (p.package.binary_package.clone(), p.files))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "dahdi-linux-modules-6.1.0-1-amd64".to_string(),
                    vec![
                        "/lib/modules/6.1.0-1-amd64/extra/dahdi.ko",
                        "/lib/modules/6.1.0-1-amd64/extra/wct4xxp.ko"
                    ]
                ),
                (
                    "trixie-style:amd64".to_string(),
                    vec!["/usr/lib/modules/6.1.0-1-amd64/extra/xpp.ko"]
                ),
            ]
        );
    }

    // ---- the real database of this machine, against dpkg's own tools ----

    fn run(cmd: &mut Command) -> std::process::Output {
        cmd.output().unwrap_or_else(|e| {
            panic!("{cmd:?}: {e}; dpkg must be installed (every Debian system has it)")
        })
    }

    #[test]
    fn real_status_agrees_with_dpkg_query() {
        let db = StatusDb::load(&Root::default())
            .unwrap()
            .expect("this machine has a dpkg database");
        assert!(db.notes.is_empty(), "{:?}", db.notes);
        let out = run(Command::new("dpkg-query").args([
            "-W",
            "-f",
            "${binary:Package}\\t${Version}\\t${Status}\\t${Multi-Arch}\\n",
        ]));
        assert!(out.status.success());
        let theirs: BTreeSet<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        // dpkg-query -W without a pattern leaves out not-installed packages.
        let ours: BTreeSet<String> = db
            .packages
            .iter()
            .filter(|p| p.state != PackageState::NotInstalled)
            .map(|p| {
                let want = match p.want {
                    Want::Unknown => "unknown",
                    Want::Install => "install",
                    Want::Hold => "hold",
                    Want::Deinstall => "deinstall",
                    Want::Purge => "purge",
                };
                let flag = if p.reinstall_required {
                    "reinstreq"
                } else {
                    "ok"
                };
                format!(
                    "{}\t{}\t{want} {flag} {}\t{}",
                    p.binary_package,
                    p.version.as_ref().map_or("", |v| v.as_str()),
                    p.state,
                    if p.multi_arch_same { "same" } else { "" }
                )
            })
            .collect();
        // dpkg-query prints the Multi-Arch value as written; ours only knows "same".
        let normalize = |s: &String| {
            let mut f: Vec<&str> = s.split('\t').collect();
            if f[3] != "same" {
                f[3] = "";
            }
            f.join("\t")
        };
        let theirs: BTreeSet<String> = theirs.iter().map(normalize).collect();
        assert!(ours.len() > 100, "{} packages", ours.len());
        let missing: Vec<_> = theirs.difference(&ours).collect();
        let extra: Vec<_> = ours.difference(&theirs).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing {missing:#?}\nextra {extra:#?}"
        );
    }

    /// A diversion as `dpkg -S` reports it: from, to, and the diverting package.
    type Reported = (String, String, Option<String>);

    /// What `dpkg -S` answers for each path: the packages listing exactly that text,
    /// and the diversions involved (`diversion by PKG from: P`, `... to: Q`, or
    /// `local diversion from: P`).
    fn dpkg_search(paths: &[String]) -> (HashMap<String, Vec<String>>, BTreeSet<Reported>) {
        let mut listers: HashMap<String, Vec<String>> = HashMap::new();
        let mut diversions = BTreeSet::new();
        let mut from: Option<(String, Option<String>)> = None;
        for chunk in paths.chunks(1500) {
            let out = run(Command::new("dpkg").arg("-S").args(chunk));
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let by = |head: &str| head.strip_prefix("diversion by ").map(String::from);
                if line.starts_with("diversion by ") || line.starts_with("local diversion ") {
                    if let Some((head, path)) = line.split_once(" from: ") {
                        from = Some((path.to_string(), by(head)));
                    } else if let Some((_, to)) = line.split_once(" to: ") {
                        let (f, by) = from.take().expect("dpkg -S prints from: before to:");
                        diversions.insert((f, to.to_string(), by));
                    }
                    continue;
                }
                let (pkgs, path) = line.split_once(": /").expect("a dpkg -S line");
                listers
                    .entry(format!("/{path}"))
                    .or_default()
                    .extend(pkgs.split(", ").map(String::from));
            }
        }
        (listers, diversions)
    }

    #[test]
    fn real_ownership_agrees_with_dpkg_search() {
        let root = Root::default();
        let db = StatusDb::load(&root).unwrap().unwrap();
        // The merged-/usr links, read here without the code under test: `/lib` ->
        // `/usr/lib` when /lib is a link to usr/lib.
        let links: Vec<(String, String)> = MERGED_DIRS
            .iter()
            .filter_map(|d| {
                let target = std::fs::read_link(format!("/{d}")).ok()?;
                let target = target.to_str()?.trim_start_matches('/');
                Some((format!("/{d}"), format!("/{target}")))
            })
            .collect();
        assert!(!links.is_empty(), "Debian 12 and later have a merged /usr");
        let canonical = |p: &str| -> String {
            for (from, to) in &links {
                if let Some(rest) = p.strip_prefix(from.as_str()) {
                    if rest.is_empty() || rest.starts_with('/') {
                        return format!("{to}{rest}");
                    }
                }
            }
            p.to_string()
        };
        // A sample: every 53rd path of every files list, every 40th kernel module of
        // the kernel packages, the diversions, and files no package owns.
        let mut sample: BTreeSet<String> = BTreeSet::new();
        let mut n = 0usize;
        for p in &db.packages {
            let Ok(text) = std::fs::read_to_string(Path::new(INFO_DIR).join(p.list_file_name()))
            else {
                continue;
            };
            let kernel = p.name.as_str().starts_with("linux-image-");
            let mut k = 0usize;
            for line in text.lines() {
                n += 1;
                let is_module = kernel && line.contains("/kernel/") && line.ends_with(".ko");
                k += usize::from(is_module);
                if n.is_multiple_of(53) || (is_module && k % 40 == 1) {
                    sample.insert(line.to_string());
                }
            }
        }
        let kernel_modules = sample
            .iter()
            .filter(|p| p.contains("/kernel/") && p.ends_with(".ko"))
            .count();
        assert!(
            kernel_modules >= 20,
            "linux-image-* modules in the sample: {kernel_modules}"
        );
        let diversions = std::fs::read_to_string(DIVERSIONS_FILE).unwrap_or_default();
        for (i, line) in diversions.lines().enumerate() {
            if i % 3 != 2 {
                sample.insert(line.to_string());
            }
        }
        let mut unowned = vec![
            "/var/lib/dpkg/status".to_string(),
            "/etc/nothing-owns-this".into(),
        ];
        for k in list_dir(Path::new("/lib/modules")).unwrap() {
            unowned.push(format!("/lib/modules/{k}/modules.dep"));
            for m in list_dir(Path::new(&format!("/lib/modules/{k}/updates/dkms"))).unwrap() {
                unowned.push(format!("/lib/modules/{k}/updates/dkms/{m}"));
            }
        }
        sample.extend(unowned.iter().cloned());
        // dpkg -S takes these as patterns, not paths.
        sample.retain(|p| {
            !p.contains(['*', '[', '?', '\\']) && p.starts_with('/') && p != "/" && p != "/."
        });
        // Every spelling of each path, since dpkg -S compares text.
        let mut asked: BTreeSet<String> = sample.clone();
        for p in &sample {
            for (from, to) in &links {
                for (a, b) in [(from, to), (to, from)] {
                    if let Some(rest) = p.strip_prefix(a.as_str()) {
                        if rest.starts_with('/') {
                            asked.insert(format!("{b}{rest}"));
                        }
                    }
                }
            }
        }
        let asked: Vec<String> = asked.into_iter().collect();
        let (listers, dpkg_diversions) = dpkg_search(&asked);

        let index = OwnerIndex::build(&root, &db, &[]).unwrap();
        // dpkg -S names packages as name:arch, diversions by name alone.
        let base = |o: &String| o.split(':').next().unwrap_or_default().to_string();
        // The listers of every spelling of a path.
        let mut by_key: HashMap<String, HashSet<String>> = HashMap::new();
        for a in &asked {
            let entry = by_key.entry(canonical(a)).or_default();
            entry.extend(listers.get(a).cloned().unwrap_or_default());
        }
        let literal = |q: &str| by_key.get(&canonical(q)).cloned().unwrap_or_default();
        let mut checked = 0;
        let (mut owned_by_nobody, mut respelled, mut diverted) = (0, 0, 0);
        // Each path in every spelling: a package listing /lib/modules/... owns the file
        // asked for as /usr/lib/modules/..., which dpkg -S would not find.
        for p in &asked {
            let key = canonical(p);
            let mut want = literal(p);
            // dpkg -S reports the diversions; apply them as the file system has them.
            for (from, to, by) in &dpkg_diversions {
                if canonical(from) == key {
                    want.retain(|o| Some(base(o)) == *by);
                }
                if canonical(to) == key {
                    want.extend(literal(from).into_iter().filter(|o| Some(base(o)) != *by));
                }
            }
            let got: HashSet<String> = index
                .owners(p)
                .iter()
                .map(|o| o.package.binary_package.clone())
                .collect();
            assert_eq!(got, want, "{p}");
            owned_by_nobody += usize::from(got.is_empty());
            respelled += usize::from(index.owners(p).iter().any(|o| o.listed_as != p));
            diverted += usize::from(index.diversion(p).is_some());
            checked += 1;
        }
        assert!(checked > 1000, "{checked} paths checked");
        assert!(
            respelled > 100,
            "{respelled} paths listed in another spelling"
        );
        assert!(diverted >= 2, "{diverted} diverted paths");
        assert!(
            owned_by_nobody >= 2,
            "{owned_by_nobody} paths owned by nobody"
        );
    }

    /// The kernel packages found by module name, against `dpkg -S '*/NAME.ko'`.
    #[test]
    fn real_packages_with_modules_agree_with_dpkg_search() {
        let root = Root::default();
        let db = StatusDb::load(&root).unwrap().unwrap();
        let index = OwnerIndex::build(&root, &db, &["/lib/modules"]).unwrap();
        let names = ["dummy", "loop", "e1000", "virtio_net"];
        let wanted: HashSet<ModuleName> =
            names.iter().map(|n| ModuleName::new(n).unwrap()).collect();
        let mut ours: BTreeSet<(String, String)> = BTreeSet::new();
        for p in index.packages_with_modules(&wanted) {
            for f in p.files {
                ours.insert((p.package.binary_package.clone(), f.to_string()));
            }
        }
        let patterns: Vec<String> = names
            .iter()
            .flat_map(|n| ["", ".xz", ".zst", ".gz"].map(|ext| format!("*/modules/*/{n}.ko{ext}")))
            .collect();
        let out = run(Command::new("dpkg").arg("-S").args(&patterns));
        let mut theirs: BTreeSet<(String, String)> = BTreeSet::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let (pkgs, path) = line.split_once(": /").expect("a dpkg -S line");
            for p in pkgs.split(", ") {
                theirs.insert((p.to_string(), format!("/{path}")));
            }
        }
        assert!(
            theirs.iter().any(|(p, _)| p.starts_with("linux-image-")),
            "no installed kernel package lists {names:?}: apt-get install linux-image-amd64"
        );
        assert_eq!(ours, theirs);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]

        /// Random text and random mutations of a valid status file never panic.
        #[test]
        fn parsers_never_panic(
            text in "\\PC{0,400}",
            lines in proptest::collection::vec("(Package|Status|Version|Architecture|Multi-Arch|X)?:? ?[a-z0-9 .:~+-]{0,20}|[ \t]+[a-z]*|", 0..40),
        ) {
            let _ = StatusDb::parse(Path::new("/s"), &text);
            let joined = lines.join("\n");
            let db = StatusDb::parse(Path::new("/s"), &joined);
            for p in &db.packages {
                proptest::prop_assert!(!p.binary_package.is_empty());
            }
            let mut notes = Vec::new();
            let _ = parse_diversions(Path::new("/d"), &text, &mut notes);
            let _ = parse_diversions(Path::new("/d"), &joined, &mut notes);
            let spelling = PathSpelling { links: vec![("/lib".into(), "/usr/lib".into())] };
            let c = spelling.canonical(&text);
            proptest::prop_assert!(c.starts_with('/'));
        }
    }
}
