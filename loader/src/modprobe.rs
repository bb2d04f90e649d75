//! modprobe's configuration, read as kmod reads it, and dahdi-tools' `/etc/dahdi/modules`.
//!
//! The loader loads DAHDI modules with `finit_module` itself, so whatever an operator put
//! in modprobe.d must reach the kernel the way `modprobe` would have passed it:
//! `options wctdm24xxp latency=6` (what dahdi-tools' documentation tells users to write),
//! `MODULE.param=value` on the kernel command line, `blacklist`, `softdep`. This module
//! answers those questions from the files, under a [`Root`], without running modprobe.
//!
//! What kmod reads, and how (libkmod/libkmod-config.c, libkmod/libkmod-module.c):
//! - **Files.** Every `*.conf` (not starting with `.`, not a directory) in
//!   [`MODPROBE_D`], in that order of precedence; all names sorted together (byte order),
//!   a name in an earlier directory hiding the same name in later ones
//!   (`conf_files_insert_sorted`, `conf_files_filter_out`). The kernel's own
//!   `/lib/modules/KVER/modules.softdep` (written by depmod from the modules' `softdep`
//!   tags) takes part under the name `modules.softdep` (`kmod_config_new`). A link to
//!   `/dev/null` is an empty file: the usual way to mask a file of a later directory.
//!   kmod 30 (Debian 12) does not read `/usr/lib/modprobe.d`, kmod 33 and later do; on a
//!   merged-/usr system it is `/lib/modprobe.d` anyway. kmod 30 also read `*.alias`
//!   files, which later versions dropped; they are not read here.
//! - **Lines** (`kmod_config_parse`, `freadline_wrapped`, `underscores`): a backslash
//!   before a newline joins lines; a backslash before anything else is dropped and the
//!   character kept. A line is a comment only when `#` is its first character; a `#`
//!   later is part of the line (`options m a=1 # x` gives the module the options
//!   `a=1 # x`, as modprobe does). Words are separated by spaces and tabs. Module names
//!   and alias patterns have `-` turned into `_` outside `[...]`; an unbalanced bracket
//!   makes the line invalid. Lines kmod ignores are collected as [`ConfigNote`]s, never
//!   fatal.
//! - **Commands.** `options MODULE PARAMS` (all of a module's lines, in order, joined by
//!   spaces, tabs turned into spaces; `kmod_module_get_options`); `blacklist MODULE`;
//!   `install`/`remove MODULE COMMAND` (the first matching line wins, MODULE a shell
//!   pattern; `kmod_module_get_install_commands`); `softdep MODULE pre: A B post: C`
//!   (the first matching line wins, even one with nothing after `pre:`;
//!   `kmod_module_get_softdeps`); `alias PATTERN MODULE` (every matching line;
//!   `kmod_lookup_alias_from_config`). `weakdep` (kmod 33) names modules userspace never
//!   loads; it is accepted and ignored.
//! - **The kernel command line** (`/proc/cmdline`, `kmod_config_parse_kcmdline`):
//!   `MODULE.param=value` adds `param=value` to MODULE's options after every file's;
//!   `modprobe.blacklist=a,b` adds blacklist entries. Quotes may surround the value or
//!   the whole word (`"m.p=a b"` becomes `p="a b"`, re-quoted as the kernel expects).
//!   kmod reads the words after `--` too. Separately, the kernel's own
//!   `module_blacklist=a,b` makes `finit_module` itself refuse those modules
//!   (kernel/module/main.c `blacklisted`); it is reported in
//!   [`ModprobeConfig::kernel_blacklist`].
//!
//! What the answers mean for the loader:
//! - [`ModprobeConfig::options`] is the parameter string for `finit_module`.
//! - `blacklist` only hides a module's own aliases: `modprobe NAME` still loads it, but a
//!   device's modalias does not (kmod's `KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY`, which
//!   modprobe always sets). udev and systemd-modules-load load with
//!   `KMOD_PROBE_APPLY_BLACKLIST` (systemd's `module_load_and_warn`), so a blacklisted
//!   module is not loaded for its hardware even when named. The loader should do the
//!   same for modules it loads because of detected hardware, and load explicitly
//!   requested ones (its own `add`, `/etc/dahdi/modules`) as `modprobe NAME` would.
//! - `install`/`remove` commands are shell strings that modprobe runs as root instead
//!   of loading. The loader does not run shell strings from configuration at boot; it
//!   reports that one exists (with its file and line) so the operator knows modprobe
//!   would have done something else.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::conf_dirs::{ConfFiles, Entry};
use crate::error::Error;
use crate::hw::glob_match;
use crate::names::{InvalidName, KernelRelease, ModuleName};
use crate::root::{read_optional, Root};

/// modprobe.d directories, highest precedence first.
pub const MODPROBE_D: &[&str] = &[
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d",
    "/lib/modprobe.d",
];

/// The running kernel's command line.
pub const KERNEL_CMDLINE: &str = "/proc/cmdline";

/// dahdi-tools' list of modules to load (`/usr/share/dahdi/dahdi-modules load`).
pub const DAHDI_MODULES_FILE: &str = "/etc/dahdi/modules";

/// kmod reads at most this much of the command line (`KCMD_LINE_SIZE`, with the NUL).
const KCMD_LINE_SIZE: usize = 4096;

/// Where an entry came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The file, as a system path.
    pub path: PathBuf,
    /// 1-based line (the first of joined lines); 0 for the kernel command line.
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path.display())
        } else {
            write!(f, "{}:{}", self.path.display(), self.line)
        }
    }
}

/// A line (or command-line word) that was skipped or only partly used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigNote {
    /// Where.
    pub source: Source,
    /// What was wrong and what was done about it.
    pub message: String,
    /// The module pattern the line is about, when it is about one: a note on another
    /// module's line (the kernel's own modules.softdep naming aliases, say) is not the
    /// operator's concern when checking DAHDI.
    pub about: Option<ModulePattern>,
}

impl fmt::Display for ConfigNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// The MODULE of an `install`, `remove`, `softdep` or `alias` line: a module name or a
/// shell pattern (`snd_*`, `pci:v0000D161d*`), with `-` already turned into `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct ModulePattern(String);

impl ModulePattern {
    /// Validates a pattern as it appears in a configuration file: at most 1024 printable
    /// ASCII characters without quotes, `$`, `/`, `;` and other shell syntax, brackets
    /// balanced; `-` becomes `_` outside brackets (kmod's `underscores`).
    pub fn new(value: &str) -> Result<Self, InvalidName> {
        let bad = |reason: String| InvalidName {
            what: "module pattern",
            value: value.escape_debug().to_string(),
            reason,
        };
        if value.is_empty() || value.len() > 1024 {
            return Err(bad("it is empty or longer than 1024 characters".into()));
        }
        let shell = |c: char| "\"'`$/;|&<>(){}".contains(c);
        if let Some(c) = value.chars().find(|&c| !c.is_ascii_graphic() || shell(c)) {
            return Err(bad(format!(
                "it contains {c:?}; a module name or shell pattern has no quotes, '/' or shell syntax"
            )));
        }
        underscores(value)
            .map(ModulePattern)
            .ok_or_else(|| bad("it has an unbalanced '[' or ']'".into()))
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a module name matches, as kmod's `fnmatch(pattern, name, 0)`.
    pub fn matches(&self, name: &str) -> bool {
        glob_match(&self.0, name)
    }
}

impl From<ModulePattern> for String {
    fn from(p: ModulePattern) -> String {
        p.0
    }
}

impl fmt::Display for ModulePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `-` to `_` outside `[...]`; `None` for an unbalanced bracket (kmod's `underscores`).
fn underscores(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '-' => out.push('_'),
            ']' => return None,
            '[' => {
                out.push('[');
                // Copied as is up to and including the closing bracket.
                loop {
                    let c = chars.next()?;
                    out.push(c);
                    if c == ']' {
                        break;
                    }
                }
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// At most 60 characters of untrusted text, for a note.
fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

/// One `options` line, or one `MODULE.param=value` of the kernel command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleOptions {
    /// The module (or alias) name.
    pub module: ModuleName,
    /// The parameters as written (tabs turned into spaces, as kmod does).
    pub params: String,
    /// Where.
    pub source: Source,
}

/// One `blacklist` line or `modprobe.blacklist=` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blacklist {
    /// The module.
    pub module: ModuleName,
    /// Where.
    pub source: Source,
}

/// One `install` or `remove` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShellCommand {
    /// The module pattern.
    pub module: ModulePattern,
    /// The shell command modprobe would run instead.
    pub command: String,
    /// Where.
    pub source: Source,
}

/// One `softdep` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Softdep {
    /// The module pattern.
    pub module: ModulePattern,
    /// Modules (or aliases) to load before it, in order.
    pub pre: Vec<ModuleName>,
    /// Modules (or aliases) to load after it, in order.
    pub post: Vec<ModuleName>,
    /// Where.
    pub source: Source,
}

/// One `alias` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alias {
    /// The alias pattern.
    pub pattern: ModulePattern,
    /// The module it names.
    pub module: ModuleName,
    /// Where.
    pub source: Source,
}

/// modprobe's configuration, with the kernel command line's additions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModprobeConfig {
    /// Files read, in the order kmod reads them (system paths).
    pub files: Vec<PathBuf>,
    /// `options`, in order: files first, then the kernel command line.
    pub options: Vec<ModuleOptions>,
    /// `blacklist` lines and `modprobe.blacklist=` entries.
    pub blacklist: Vec<Blacklist>,
    /// `install` lines.
    pub install: Vec<ShellCommand>,
    /// `remove` lines.
    pub remove: Vec<ShellCommand>,
    /// `softdep` lines.
    pub softdeps: Vec<Softdep>,
    /// `alias` lines.
    pub aliases: Vec<Alias>,
    /// The kernel's own `module_blacklist=` (the last one on the command line, as the
    /// kernel keeps): `finit_module` refuses these modules whatever the caller does.
    pub kernel_blacklist: Vec<ModuleName>,
    /// Lines that were skipped or partly used.
    pub notes: Vec<ConfigNote>,
}

impl ModprobeConfig {
    /// Reads modprobe.d, `kernel`'s modules.softdep and the kernel command line
    /// (`/proc/cmdline`, which is the running kernel's) under the root.
    pub fn load(root: &Root, kernel: &KernelRelease) -> Result<Self, Error> {
        let mut files = ConfFiles::new();
        let softdep = format!("/lib/modules/{kernel}/modules.softdep");
        files.insert(
            "modules.softdep".into(),
            PathBuf::from(&softdep),
            Entry::File(root.join(&softdep)),
        );
        for dir in MODPROBE_D {
            let at = root.join(dir);
            if at.is_file() {
                // kmod reads a configuration path that is a file as that one file.
                let name = Path::new(dir)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(name, PathBuf::from(dir), Entry::File(at));
                continue;
            }
            files.add_dir(root, dir)?;
        }
        let mut config = ModprobeConfig::default();
        for (system, text) in files.read()? {
            config.parse_file(&system, &text);
            config.files.push(system);
        }
        if let Some(cmdline) = read_optional(&root.join(KERNEL_CMDLINE))? {
            config.add_kernel_cmdline(&cmdline);
        }
        Ok(config)
    }

    /// Adds the lines of one configuration file (`path` names it in sources and notes).
    pub fn parse_file(&mut self, path: &Path, text: &str) {
        if text.ends_with('\\') {
            self.notes.push(ConfigNote {
                source: Source {
                    path: path.to_path_buf(),
                    line: text.lines().count(),
                },
                message: "the file ends with a backslash: kmod adds a stray byte to the last line"
                    .into(),
                about: None,
            });
        }
        for (line_no, line) in logical_lines(text) {
            let source = Source {
                path: path.to_path_buf(),
                line: line_no,
            };
            if let Err(message) = self.parse_line(&line, &source) {
                self.notes.push(ConfigNote {
                    source,
                    message,
                    about: None,
                });
            }
        }
    }

    /// One logical line; `Err` says why kmod (or the loader, for names it refuses)
    /// skips it.
    fn parse_line(&mut self, line: &str, source: &Source) -> Result<(), String> {
        // strtok's view: a NUL ends the line.
        let line = line.split('\0').next().unwrap_or("");
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let mut rest = line;
        let mut word = || next_word(&mut rest);
        let Some(command) = word() else {
            return Ok(());
        };
        let bad = |why: String| format!("ignoring {command:?} line: {why}");
        let module_name = |w: Option<&str>| -> Result<ModuleName, String> {
            let w = w.ok_or_else(|| bad("the module name is missing".into()))?;
            let u =
                underscores(w).ok_or_else(|| bad(format!("{w:?} has an unbalanced bracket")))?;
            ModuleName::new(&u).map_err(|e| bad(e.to_string()))
        };
        let pattern = |w: Option<&str>| -> Result<ModulePattern, String> {
            let w = w.ok_or_else(|| bad("the module name is missing".into()))?;
            ModulePattern::new(w).map_err(|e| bad(e.to_string()))
        };
        match command {
            "alias" => {
                let (a, m) = (word(), word());
                let pattern = pattern(a)?;
                let module = module_name(m)?;
                self.aliases.push(Alias {
                    pattern,
                    module,
                    source: source.clone(),
                });
            }
            "blacklist" => {
                let module = module_name(word())?;
                self.blacklist.push(Blacklist {
                    module,
                    source: source.clone(),
                });
            }
            "options" | "install" | "remove" | "softdep" => {
                let name = word();
                if name.is_none() {
                    return Err(bad("the module name is missing".into()));
                }
                // The rest of the line after the one separator that ended the name.
                let tail = tail_after_word(line, name).filter(|t| !t.is_empty());
                let Some(tail) = tail else {
                    return Err(bad(format!("nothing after the module name for {command}")));
                };
                match command {
                    "options" => self.options.push(ModuleOptions {
                        module: module_name(name)?,
                        params: tail.replace('\t', " "),
                        source: source.clone(),
                    }),
                    "install" | "remove" => {
                        let cmd = ShellCommand {
                            module: pattern(name)?,
                            command: tail.to_string(),
                            source: source.clone(),
                        };
                        if command == "install" {
                            self.install.push(cmd);
                        } else {
                            self.remove.push(cmd);
                        }
                    }
                    _ => {
                        let module = pattern(name)?;
                        let (pre, post, dropped) = softdep_lists(tail);
                        for d in dropped {
                            self.notes.push(ConfigNote {
                                source: source.clone(),
                                message: format!("softdep {module}: {d}; that entry is skipped"),
                                about: Some(module.clone()),
                            });
                        }
                        self.softdeps.push(Softdep {
                            module,
                            pre,
                            post,
                            source: source.clone(),
                        });
                    }
                }
            }
            "weakdep" => {}
            "include" | "config" => {
                return Err(format!(
                    "the {command:?} command is obsolete and kmod ignores it"
                ))
            }
            other => {
                return Err(format!(
                    "ignoring a line starting with {:?}: not a modprobe.d command",
                    clip(other)
                ))
            }
        }
        Ok(())
    }

    /// Adds the kernel command line's `MODULE.param=value` options, `modprobe.blacklist=`
    /// entries and the kernel's own `module_blacklist=`.
    pub fn add_kernel_cmdline(&mut self, cmdline: &str) {
        let source = Source {
            path: PathBuf::from(KERNEL_CMDLINE),
            line: 0,
        };
        for (module, param) in kcmdline_params(cmdline) {
            let mut note = |message: String| {
                self.notes.push(ConfigNote {
                    source: source.clone(),
                    message,
                    about: None,
                })
            };
            if module == "modprobe" && param.starts_with("blacklist=") {
                let value = &param["blacklist=".len()..];
                for name in value.split(',').filter(|n| !n.is_empty()) {
                    if name.contains('-') {
                        // kmod compares this entry with module names as written; a
                        // module name never contains '-', so the entry matches nothing.
                        note(format!(
                            "modprobe.blacklist entry {:?} has no effect: kmod compares it with module names, which are written with '_'",
                            clip(name)
                        ));
                        continue;
                    }
                    match ModuleName::new(name) {
                        Ok(module) => self.blacklist.push(Blacklist {
                            module,
                            source: source.clone(),
                        }),
                        Err(e) => note(format!("modprobe.blacklist: {e}; entry skipped")),
                    }
                }
                continue;
            }
            let Some(u) = underscores(&module) else {
                note(format!(
                    "{:?}: the module name has an unbalanced bracket; skipped",
                    clip(&module)
                ));
                continue;
            };
            match ModuleName::new(&u) {
                Ok(module) => self.options.push(ModuleOptions {
                    module,
                    params: param,
                    source: source.clone(),
                }),
                Err(e) => note(format!("{e}; the option {:?} is skipped", clip(&param))),
            }
        }
        if let Some(value) = kernel_module_blacklist(cmdline) {
            self.kernel_blacklist.clear();
            for name in value.split(',').filter(|n| !n.is_empty()) {
                match ModuleName::new(name) {
                    Ok(m) if !name.contains('-') => self.kernel_blacklist.push(m),
                    Ok(_) => self.notes.push(ConfigNote {
                        source: source.clone(),
                        message: format!(
                            "module_blacklist entry {name:?} has no effect: the kernel compares it with module names, which are written with '_'"
                        ),
                        about: None,
                    }),
                    Err(e) => self.notes.push(ConfigNote {
                        source: source.clone(),
                        message: format!("module_blacklist: {e}; entry skipped"),
                        about: None,
                    }),
                }
            }
        }
    }

    /// The parameter string modprobe would give `finit_module` for `module`: every
    /// `options` line for it, in file order, then the kernel command line's, joined by
    /// spaces (`kmod_module_get_options`). Empty when there are none. Options written
    /// for an alias name apply only when modprobe is asked for that alias; the loader
    /// loads by module name.
    pub fn options(&self, module: &ModuleName) -> String {
        let parts: Vec<&str> = self
            .options
            .iter()
            .filter(|o| o.module == *module && !o.params.is_empty())
            .map(|o| o.params.as_str())
            .collect();
        parts.join(" ")
    }

    /// Whether `module` is blacklisted in modprobe.d or by `modprobe.blacklist=`. See the
    /// module documentation for what that means: its aliases are hidden; loading it by
    /// name still works with modprobe, not with udev.
    pub fn is_blacklisted(&self, module: &ModuleName) -> bool {
        self.blacklist.iter().any(|b| b.module == *module)
    }

    /// Whether the kernel itself refuses to load `module` (`module_blacklist=`).
    pub fn kernel_refuses(&self, module: &ModuleName) -> bool {
        self.kernel_blacklist.contains(module)
    }

    /// The soft dependencies of `module`: the first `softdep` line whose pattern matches.
    pub fn softdep(&self, module: &ModuleName) -> Option<&Softdep> {
        self.softdeps
            .iter()
            .find(|s| s.module.matches(module.as_str()))
    }

    /// The `install` command modprobe would run instead of loading `module`.
    pub fn install_command(&self, module: &ModuleName) -> Option<&ShellCommand> {
        self.install
            .iter()
            .find(|c| c.module.matches(module.as_str()))
    }

    /// The `remove` command modprobe would run instead of unloading `module`.
    pub fn remove_command(&self, module: &ModuleName) -> Option<&ShellCommand> {
        self.remove
            .iter()
            .find(|c| c.module.matches(module.as_str()))
    }

    /// The modules modprobe.d's `alias` lines give for a name modprobe is asked to load
    /// (every matching line, in order). These come before the kernel's own module names
    /// and aliases in kmod's lookup.
    pub fn resolve_alias(&self, name: &str) -> Vec<&ModuleName> {
        let Some(name) = underscores(name) else {
            return Vec::new();
        };
        self.aliases
            .iter()
            .filter(|a| a.pattern.matches(&name))
            .map(|a| &a.module)
            .collect()
    }
}

/// Logical lines with the number of their first physical line: a backslash before a
/// newline joins, a backslash before another character is dropped (kmod's
/// `freadline_wrapped`).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut line = String::new();
    let (mut physical, mut start) = (1usize, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                out.push((start, std::mem::take(&mut line)));
                physical += 1;
                start = physical;
            }
            '\\' => match chars.next() {
                Some('\n') => physical += 1,
                Some(next) => line.push(next),
                // kmod stores the end-of-file marker as a byte (0xff) after a final
                // backslash; the replacement character stands for that byte.
                None => line.push('\u{fffd}'),
            },
            c => line.push(c),
        }
    }
    if !line.is_empty() {
        out.push((start, line));
    }
    out
}

/// The next space- or tab-separated word (strtok with `" \t"`).
fn next_word<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = rest.trim_start_matches([' ', '\t']);
    if s.is_empty() {
        *rest = s;
        return None;
    }
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    let (w, after) = s.split_at(end);
    // strtok consumes the one separator that ends the word.
    *rest = after.get(1..).unwrap_or("");
    Some(w)
}

/// What kmod takes as the rest of a line after a word: everything after the single
/// separator following it, leading blanks included (strtok with an empty delimiter
/// set). `None` when the word is missing or ends the line.
fn tail_after_word<'a>(line: &'a str, word: Option<&'a str>) -> Option<&'a str> {
    let word = word?;
    // `word` is a slice of `line`: its end is an offset into it.
    let end = word.as_ptr() as usize - line.as_ptr() as usize + word.len();
    line.get(end + 1..)
}

/// The `pre:` and `post:` lists of a softdep line, as kmod splits them: words end at
/// any white space; a word is `pre:`/`post:` only when exactly that (kmod keeps leading
/// blanks on the first word, so `softdep m  pre: a`, with two spaces, has no lists);
/// words before the first of them are ignored. Names the loader refuses are returned
/// as the third list, to be noted.
fn softdep_lists(tail: &str) -> (Vec<ModuleName>, Vec<ModuleName>, Vec<String>) {
    #[derive(PartialEq)]
    enum Mode {
        None,
        Pre,
        Post,
    }
    let (mut pre, mut post, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
    let mut mode = Mode::None;
    let bytes = tail.as_bytes();
    let (mut start, mut was_space) = (0usize, false);
    for i in 0..=bytes.len() {
        let at_end = i == bytes.len();
        if !at_end {
            if !bytes[i].is_ascii_whitespace() {
                was_space = false;
                continue;
            }
            if was_space {
                start = i + 1;
                continue;
            }
            was_space = true;
            if start >= i {
                continue;
            }
        }
        let word = &tail[start.min(i)..i];
        if word == "pre:" {
            mode = Mode::Pre;
        } else if word == "post:" {
            mode = Mode::Post;
        } else if (!at_end || !was_space) && mode != Mode::None {
            match ModuleName::new(word) {
                Ok(m) if mode == Mode::Pre => pre.push(m),
                Ok(m) => post.push(m),
                Err(e) => dropped.push(e.to_string()),
            }
        }
        start = i + 1;
    }
    (pre, post, dropped)
}

/// `(module, "param=value")` pairs of the kernel command line, as kmod's
/// `kmod_config_parse_kcmdline` finds them: words `MODULE.PARAM[=VALUE]` (one dot before
/// any `=`), quotes allowed around the value or the whole word, and a word quoted whole
/// re-quoted around its value.
fn kcmdline_params(cmdline: &str) -> Vec<(String, String)> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Ignore,
        Module,
        Param,
        Value,
    }
    // kmod reads at most KCMD_LINE_SIZE - 1 bytes and stops at a NUL.
    let mut bytes = cmdline.as_bytes();
    bytes = &bytes[..bytes.len().min(KCMD_LINE_SIZE - 1)];
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        bytes = &bytes[..nul];
    }
    let mut out = Vec::new();
    let mut state = State::Module;
    let mut quoted = false;
    let (mut module_start, mut module_end, mut param_start) = (0usize, 0usize, 0usize);
    let mut value_start = 0usize;
    let mut quote_start: Option<usize> = None;
    for i in 0..=bytes.len() {
        let c = bytes.get(i).copied().unwrap_or(0);
        let mut complete = false;
        match c {
            b'"' => {
                quoted = !quoted;
                // A quote may open a word; anywhere else outside a value it spoils it.
                if quoted && state == State::Module && i == module_start {
                    quote_start = Some(i);
                    module_start = i + 1;
                } else if state != State::Value {
                    state = State::Ignore;
                }
            }
            0 | b' ' | b'\n' | b'\t' | 0x0b | 0x0c | b'\r' => {
                if quoted && state == State::Value {
                    // A blank inside a quoted value belongs to it.
                } else if quoted {
                    state = State::Ignore;
                } else if state == State::Value || state == State::Param {
                    complete = true;
                } else {
                    module_start = i + 1;
                    state = State::Module;
                    quote_start = None;
                }
            }
            b'.' => {
                if state == State::Module {
                    module_end = i;
                    param_start = i + 1;
                    state = State::Param;
                } else if state == State::Param {
                    state = State::Ignore;
                }
            }
            b'=' => {
                if state == State::Param {
                    value_start = i + 1;
                    state = State::Value;
                } else if state == State::Module {
                    state = State::Ignore;
                }
            }
            _ => {}
        }
        if complete {
            let text = |a: usize, b: usize| String::from_utf8_lossy(&bytes[a..b]).into_owned();
            let module = text(module_start, module_end);
            let param = match quote_start {
                // `"m.p=v w"` becomes `p="v w"`: the opening quote moves to the value.
                Some(_) if state == State::Value => format!(
                    "{}\"{}",
                    text(param_start, value_start),
                    text(value_start, i)
                ),
                _ => text(param_start, i),
            };
            out.push((module, param));
            module_start = i + 1;
            state = State::Module;
            quote_start = None;
        }
    }
    out
}

/// The value of the kernel's `module_blacklist=` parameter: the last one before `--`
/// (kernel parameters end there), quotes removed, as the kernel's `next_arg` reads it.
fn kernel_module_blacklist(cmdline: &str) -> Option<String> {
    let mut last = None;
    let mut rest = cmdline.trim_start();
    while !rest.is_empty() {
        let mut in_quote = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    in_quote = !in_quote;
                }
                c.is_whitespace() && !in_quote
            })
            .map_or(rest.len(), |(i, _)| i);
        let word = &rest[..end];
        rest = rest[end..].trim_start();
        if word == "--" {
            break;
        }
        let word = word
            .strip_prefix('"')
            .map_or(word, |w| w.strip_suffix('"').unwrap_or(w));
        if let Some(value) = word.strip_prefix("module_blacklist=") {
            let value = value
                .strip_prefix('"')
                .map_or(value, |v| v.strip_suffix('"').unwrap_or(v));
            last = Some(value.to_string());
        }
    }
    last
}

/// `/etc/dahdi/modules`: the modules dahdi-tools' init script loads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DahdiModules {
    /// Module names in file order, each once.
    pub modules: Vec<ModuleName>,
    /// Words that are not module names.
    pub notes: Vec<ConfigNote>,
}

impl DahdiModules {
    /// Reads the file under the root; `Ok(None)` when there is none.
    pub fn load(root: &Root) -> Result<Option<Self>, Error> {
        let text = read_optional(&root.join(DAHDI_MODULES_FILE))?;
        Ok(text.map(|t| Self::parse(Path::new(DAHDI_MODULES_FILE), &t)))
    }

    /// Parses the file as dahdi-tools' `dahdi-modules load` reads it: `#` to the end of
    /// a line is a comment, and what remains is split into words at white space, each
    /// word a name given to `modprobe`.
    pub fn parse(path: &Path, text: &str) -> Self {
        let mut out = DahdiModules::default();
        // The shell splits words at spaces, tabs and newlines only (its default IFS).
        for (i, line) in text.split('\n').enumerate() {
            let line = line.split('#').next().unwrap_or("");
            for word in line.split([' ', '\t']).filter(|w| !w.is_empty()) {
                match ModuleName::new(word) {
                    Ok(m) if !out.modules.contains(&m) => out.modules.push(m),
                    Ok(_) => {}
                    Err(e) => out.notes.push(ConfigNote {
                        source: Source {
                            path: path.to_path_buf(),
                            line: i + 1,
                        },
                        message: format!("{e}; skipped"),
                        about: None,
                    }),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_files::write;
    use std::process::Command;

    fn m(name: &str) -> ModuleName {
        ModuleName::new(name).unwrap()
    }

    fn parsed(text: &str) -> ModprobeConfig {
        let mut c = ModprobeConfig::default();
        c.parse_file(Path::new("/etc/modprobe.d/t.conf"), text);
        c
    }

    fn notes(c: &ModprobeConfig) -> Vec<String> {
        c.notes.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn commands_as_kmod_reads_them() {
        let c = parsed(concat!(
            "# comment\n",
            "options wctdm24xxp latency=6\n",
            "options wctdm24xxp\topermode=FCC\tfxshonormode=1\n",
            "options wct4xxp t1e1override=0xFF # not a comment\n",
            "install wcb4xxp /sbin/modprobe --ignore-install wcb4xxp \\\n && echo done\n",
            "install wc* /bin/false\n",
            "softdep wct4xxp pre: dahdi-echocan-mg2 oslec post: dahdi_transcode\n",
            "softdep wct4xxp pre: ignored\n",
            "blacklist wcte12xp\n",
            "alias my-card wct4xxp\n",
            "alias card-* wctdm24xxp\n",
            "weakdep dahdi dahdi_dummy\n",
        ));
        assert!(c.notes.is_empty(), "{:?}", notes(&c));
        assert_eq!(
            c.options(&m("wctdm24xxp")),
            "latency=6 opermode=FCC fxshonormode=1"
        );
        assert_eq!(
            c.options(&m("wct4xxp")),
            "t1e1override=0xFF # not a comment"
        );
        assert_eq!(c.options(&m("dahdi")), "");
        let install = c.install_command(&m("wcb4xxp")).unwrap();
        assert_eq!(
            install.command,
            "/sbin/modprobe --ignore-install wcb4xxp  && echo done"
        );
        assert_eq!(install.source.to_string(), "/etc/modprobe.d/t.conf:5");
        assert_eq!(
            c.install_command(&m("wctc4xxp")).unwrap().command,
            "/bin/false"
        );
        assert!(c.install_command(&m("dahdi")).is_none());
        let sd = c.softdep(&m("wct4xxp")).unwrap();
        assert_eq!(sd.pre, [m("dahdi_echocan_mg2"), m("oslec")]);
        assert_eq!(sd.post, [m("dahdi_transcode")]);
        assert_eq!(sd.source.line, 8);
        assert!(c.is_blacklisted(&m("wcte12xp")));
        assert!(!c.is_blacklisted(&m("wct4xxp")));
        assert_eq!(c.resolve_alias("my-card"), [&m("wct4xxp")]);
        assert_eq!(c.resolve_alias("card-2"), [&m("wctdm24xxp")]);
        assert!(c.resolve_alias("wct4xxp").is_empty());
    }

    #[test]
    fn lines_kmod_skips_are_noted() {
        let c = parsed(concat!(
            "  # an indented comment is a command named '#'\n",
            "blacklist\n",
            "options dahdi\n",
            "options dahdi \n",
            "install wcb4xxp\n",
            "softdep\n",
            "alias onlyone\n",
            "alias broken[ wct4xxp\n",
            "alias a] wct4xxp\n",
            "frobnicate dahdi\n",
            "include /etc/other.conf\n",
            "options Dahdi debug=1\n",
            "blacklist ../../etc\n",
            "alias x $(reboot)\n",
            "softdep wct4xxp pre: ok BAD post: fine\n",
        ));
        let n = notes(&c);
        for (line, needle) in [
            (1, "starting with \"#\""),
            (2, "\"blacklist\" line: the module name is missing"),
            (3, "nothing after the module name"),
            (4, "nothing after the module name"),
            (5, "nothing after the module name"),
            (6, "\"softdep\" line: the module name is missing"),
            (7, "\"alias\" line: the module name is missing"),
            (8, "unbalanced"),
            (9, "unbalanced"),
            (10, "not a modprobe.d command"),
            (11, "obsolete"),
            (12, "invalid module name \"Dahdi\""),
            (13, "invalid module name"),
            (14, "invalid module name \"$(reboot)\""),
            (15, "softdep wct4xxp: invalid module name \"BAD\""),
        ] {
            let prefix = format!("/etc/modprobe.d/t.conf:{line}: ");
            assert!(
                n.iter()
                    .any(|s| s.starts_with(&prefix) && s.contains(needle)),
                "line {line}: {needle} not in {n:#?}"
            );
        }
        assert_eq!(n.len(), 15, "{n:#?}");
        // The softdep line itself is kept without the refused name.
        let sd = c.softdep(&m("wct4xxp")).unwrap();
        assert_eq!((sd.pre.len(), sd.post.len()), (1, 1));
        assert!(c.options.is_empty() && c.blacklist.is_empty() && c.aliases.is_empty());
        let c = parsed("options dahdi a=1 \\");
        assert_eq!(c.options(&m("dahdi")), "a=1 \u{fffd}");
        assert!(
            notes(&c)[0].contains("ends with a backslash"),
            "{:?}",
            notes(&c)
        );
    }

    #[test]
    fn patterns_keep_brackets_and_refuse_shell_syntax() {
        assert_eq!(
            ModulePattern::new("a-[x-y]-b").unwrap().as_str(),
            "a_[x-y]_b"
        );
        assert!(ModulePattern::new("snd_*")
            .unwrap()
            .matches("snd_hda_intel"));
        assert!(ModulePattern::new("pci:v0000D161d0000[0-9]*")
            .unwrap()
            .matches("pci:v0000D161d00001220"));
        for bad in ["", "a/b", "x;y", "`x`", "a[", "a]b", "é"] {
            let e = ModulePattern::new(bad).unwrap_err().to_string();
            assert!(e.contains("module pattern"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn kernel_cmdline_entries() {
        let mut c = ModprobeConfig::default();
        c.add_kernel_cmdline(
            "BOOT_IMAGE=/vmlinuz ro dahdi.debug=1 modprobe.blacklist=wct4xxp,xpp-usb,,Bad BOOT.x=1 .y=2 module_blacklist=a,b module_blacklist=wcte12xp,x-y -- module_blacklist=after\n",
        );
        assert_eq!(c.options(&m("dahdi")), "debug=1");
        assert!(c.is_blacklisted(&m("wct4xxp")));
        assert!(!c.is_blacklisted(&m("xpp_usb")));
        assert_eq!(c.kernel_blacklist, [m("wcte12xp")]);
        assert!(c.kernel_refuses(&m("wcte12xp")) && !c.kernel_refuses(&m("a")));
        let n = notes(&c);
        for needle in [
            "/proc/cmdline: modprobe.blacklist entry \"xpp-usb\" has no effect",
            "/proc/cmdline: modprobe.blacklist: invalid module name \"Bad\"",
            "/proc/cmdline: invalid module name \"BOOT\"",
            // kmod would give a module named "" the option y=2.
            "/proc/cmdline: invalid module name \"\": it is empty; the option \"y=2\" is skipped",
            "/proc/cmdline: module_blacklist entry \"x-y\" has no effect",
        ] {
            assert!(
                n.iter().any(|s| s.starts_with(needle)),
                "{needle} not in {n:#?}"
            );
        }
        assert_eq!(
            kernel_module_blacklist("\"module_blacklist=a,b\" x"),
            Some("a,b".into())
        );
        assert_eq!(
            kernel_module_blacklist("module_blacklist=\"c\""),
            Some("c".into())
        );
        assert_eq!(kernel_module_blacklist("quiet"), None);
    }

    #[test]
    fn dahdi_modules_words() {
        let d = DahdiModules::parse(
            Path::new(DAHDI_MODULES_FILE),
            "# Digium\nwct4xxp\n  wctdm24xxp # comment\n#wcte12xp\nxpp-usb dahdi_echocan_mg2\twct4xxp\nbad/name\nwcb4xxp\r\n",
        );
        assert_eq!(
            d.modules,
            [
                m("wct4xxp"),
                m("wctdm24xxp"),
                m("xpp_usb"),
                m("dahdi_echocan_mg2")
            ]
        );
        let n: Vec<String> = d.notes.iter().map(|n| n.to_string()).collect();
        assert_eq!(n.len(), 2, "{n:?}");
        assert!(n[0].starts_with("/etc/dahdi/modules:6: invalid module name \"bad/name\""));
        assert!(n[1].starts_with("/etc/dahdi/modules:7: invalid module name \"wcb4xxp"));
        let t = tempfile::tempdir().unwrap();
        assert_eq!(DahdiModules::load(&Root::new(t.path())).unwrap(), None);
    }

    #[test]
    fn links_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r, "/srv/abs.conf", "options dahdi from=abs\n");
        write(r, "/lib/modprobe.d/abs.conf", "options dahdi hidden=1\n");
        std::fs::create_dir_all(r.join("etc/modprobe.d")).unwrap();
        // An absolute link target is taken inside the root, never on the host.
        std::os::unix::fs::symlink("/srv/abs.conf", r.join("etc/modprobe.d/abs.conf")).unwrap();
        std::os::unix::fs::symlink("/srv/none.conf", r.join("etc/modprobe.d/dangling.conf"))
            .unwrap();
        write(
            r,
            "/lib/modprobe.d/dangling.conf",
            "options dahdi shown=1\n",
        );
        let c = ModprobeConfig::load(&Root::new(r), &KernelRelease::new("k").unwrap()).unwrap();
        assert_eq!(c.options(&m("dahdi")), "from=abs shown=1");
        assert_eq!(
            c.files,
            [
                Path::new("/etc/modprobe.d/abs.conf"),
                Path::new("/lib/modprobe.d/dangling.conf")
            ]
        );
    }

    // ---- against the real kmod ----

    /// Runs a program to the end; its output, or a failure saying what to install or why
    /// it failed.
    fn run(cmd: &mut Command, needs: &str) -> String {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}; {needs}"));
        assert!(
            out.status.success(),
            "{cmd:?} failed ({needs}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `sh -c SCRIPT ROOT ARGS...` in a private mount namespace, where the script
    /// may mount fixture files over system paths without touching the machine's.
    fn in_mount_namespace(script: &str, root: &Path, args: &[&str]) -> String {
        run(
            Command::new("unshare")
                .args(["-m", "sh", "-c", script])
                .arg(root)
                .args(args),
            "needs root and util-linux's unshare",
        )
    }

    /// Runs modprobe with `ROOT/proc/cmdline` mounted over `/proc/cmdline`: kmod reads
    /// the kernel command line only from there.
    fn modprobe(root: &Path, args: &[&str]) -> String {
        in_mount_namespace(
            "mount --bind \"$0/proc/cmdline\" /proc/cmdline && exec modprobe \"$@\"",
            root,
            args,
        )
    }

    /// modprobe's arguments for a configuration read from the root's directories, in
    /// the loader's order, and modules of kernel `kver` under the root.
    fn config_args(root: &Path, kver: &str) -> Vec<String> {
        let mut args = Vec::new();
        for d in MODPROBE_D {
            args.push("-C".to_string());
            args.push(root.join(d.trim_start_matches('/')).display().to_string());
        }
        args.extend([
            "-d".into(),
            root.display().to_string(),
            "-S".into(),
            kver.into(),
        ]);
        args
    }

    /// Our configuration printed as `modprobe -c` prints its own (modprobe.c
    /// `show_config`): each kind in turn, softdep lists as `softdep_to_char` joins them.
    fn as_modprobe_c(c: &ModprobeConfig) -> String {
        let mut s = String::new();
        for b in &c.blacklist {
            s += &format!("blacklist {}\n", b.module);
        }
        for (kind, list) in [("install", &c.install), ("remove", &c.remove)] {
            for i in list {
                s += &format!("{kind} {} {}\n", i.module, i.command);
            }
        }
        for a in &c.aliases {
            s += &format!("alias {} {}\n", a.pattern, a.module);
        }
        for o in &c.options {
            s += &format!("options {} {}\n", o.module, o.params);
        }
        for d in &c.softdeps {
            let join =
                |v: &[ModuleName]| v.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" ");
            let pre = if d.pre.is_empty() {
                String::new()
            } else {
                format!("pre: {}", join(&d.pre))
            };
            let post = if d.post.is_empty() {
                String::new()
            } else {
                format!("post: {}", join(&d.post))
            };
            s += &format!("softdep {} {pre}{post}\n", d.module);
        }
        s
    }

    const KVER: &str = "0.0-fixture";

    /// modprobe.d spread over the five directories, with hidden and masked names, links,
    /// continuation lines, and lines kmod refuses.
    fn config_tree(r: &Path) {
        write(
            r,
            "/etc/modprobe.d/00-first.conf",
            concat!(
                "options dahdi debug=1\n",
                "options dahdi  auto_assign_spans=0\n",
                "options wctdm24xxp\tlatency=6\topermode=FCC\n",
                "options wct4xxp # not a comment\n",
                "  # indented: a bad line\n",
                "#real comment\n",
                "\n",
                "blacklist wcte12xp\n",
                "blacklist\n",
                "blacklist pciradio extra words\n",
                "install wcb4xxp /sbin/modprobe --ignore-install wcb4xxp && echo \\\n  continued\n",
                "install wcb4xxp second\n",
                "remove wcb4xxp /bin/true\n",
                "softdep wct4xxp pre: dahdi_echocan_mg2 dahdi_echocan_kb1 post: dahdi_transcode\n",
                "softdep wct4xxp pre: other\n",
                "softdep xpp  pre: dahdi_dummy\n",
                "softdep xpp_usb gcm\n",
                "softdep tor2 post:\tx\ty pre: z\n",
                "alias wcaex* wctdm24xxp\n",
                "alias my-card wct4xxp\n",
                "alias a-[x-y]-b wct4xxp\n",
                "alias broken[ wct4xxp\n",
                "alias onlyone\n",
                "frobnicate x\n",
                "include /etc/foo\n",
                "options\n",
                "options dahdi\n",
                "options dahdi \n",
                "options oct612x  \n",
                "options x\\y a=1\n",
                "options dahdi crlf=1\r\n",
                "options dahdi nul=1\0junk\n",
                "options dahdi-dummy dash=1\n",
                "install\n",
                "softdep wct4xxp\n",
                "options dahdi last=1 \\",
            ),
        );
        write(
            r,
            "/etc/modprobe.d/05-shadowed.conf",
            "options shadowed from=etc\n",
        );
        write(
            r,
            "/run/modprobe.d/05-shadowed.conf",
            "options shadowed from=run\n",
        );
        write(r, "/run/modprobe.d/10-run.conf", "options dahdi from=run\n");
        write(
            r,
            "/usr/local/lib/modprobe.d/10-run.conf",
            "options dahdi hidden=local\n",
        );
        write(
            r,
            "/usr/local/lib/modprobe.d/20-local.conf",
            "blacklist wctc4xxp\n",
        );
        write(
            r,
            "/usr/lib/modprobe.d/30-usr.conf",
            "options dahdi from=usr\n",
        );
        write(
            r,
            "/usr/lib/modprobe.d/.hidden.conf",
            "options dahdi dot=1\n",
        );
        write(r, "/usr/lib/modprobe.d/notes.txt", "options dahdi txt=1\n");
        write(
            r,
            "/usr/lib/modprobe.d/dir.conf/x.conf",
            "options dahdi dir=1\n",
        );
        write(
            r,
            "/lib/modprobe.d/30-usr.conf",
            "options dahdi hidden=lib\n",
        );
        write(r, "/lib/modprobe.d/40-lib.conf", "options dahdi from=lib\n");
        write(r, "/lib/modprobe.d/masked.conf", "options dahdi masked=1\n");
        std::os::unix::fs::symlink("/dev/null", r.join("etc/modprobe.d/masked.conf")).unwrap();
        write(r, "/srv/real.conf", "options dahdi linked=1\n");
        std::os::unix::fs::symlink("../../srv/real.conf", r.join("etc/modprobe.d/linked.conf"))
            .unwrap();
        write(
            r,
            &format!("/lib/modules/{KVER}/modules.softdep"),
            "# from depmod\nsoftdep dahdi pre: dahdi_dummy\n",
        );
    }

    /// Command lines that exercise kmod's parser: quotes around a value or a whole
    /// word, malformed words, `--`, blanks of every kind, the read limit.
    fn cmdlines() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            "BOOT_IMAGE=/vmlinuz root=UUID=0f0e ro quiet dahdi.debug=1 wct4xxp.t1e1override=0xFF\n",
            "\"wctdm24xxp.opermode=FCC x\" a.b.c=1 m.=2 m.p a=b.c=d =x\n",
            "dahdi.x=\"a b\" \"xpp.y=c d\" d\"ah.z=1 tail.q=\"unterminated\n",
            "modprobe.blacklist=wct4xxp,wcte12xp,oct612x foo.bar=1 modprobe.blacklist=tor2\n",
            "\tdahdi.a=1\n\x0bdahdi.b=2\rdahdi.c=3\x0cdahdi.d=4",
            "-- dahdi.after=1 \"quoted\".x=1 dahdi-dummy.dash=1",
            "dahdi.p=\"x\" dahdi.q=\"\" dahdi.r= \"dahdi.s\" dahdi.\"t=1\" \"dahdi.u=v\"w",
            "x\"y dahdi.hidden=1 z\"w dahdi.shown=1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A parameter across kmod's 4095-byte read limit.
        let mut long = "filler.x=".to_string() + &"y".repeat(4070);
        long += " dahdi.cut=123456789 dahdi.gone=1";
        v.push(long);
        v
    }

    #[test]
    fn configuration_agrees_with_modprobe_c() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        config_tree(r);
        let root = Root::new(r);
        let kernel = KernelRelease::new(KVER).unwrap();
        let args = config_args(r, KVER);
        for cmdline in cmdlines() {
            write(r, KERNEL_CMDLINE, &cmdline);
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            a.push("-c");
            let theirs = modprobe(r, &a);
            let theirs = theirs
                .split("\n# End of configuration files.")
                .next()
                .unwrap()
                .to_string();
            let ours = ModprobeConfig::load(&root, &kernel).unwrap();
            assert_eq!(as_modprobe_c(&ours), theirs, "command line {cmdline:?}");
        }
        // What was read, in kmod's order, and what it hid.
        write(r, KERNEL_CMDLINE, "");
        let ours = ModprobeConfig::load(&root, &kernel).unwrap();
        let files: Vec<String> = ours.files.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            files,
            [
                "/etc/modprobe.d/00-first.conf",
                "/etc/modprobe.d/05-shadowed.conf",
                "/run/modprobe.d/10-run.conf",
                "/usr/local/lib/modprobe.d/20-local.conf",
                "/usr/lib/modprobe.d/30-usr.conf",
                "/lib/modprobe.d/40-lib.conf",
                "/etc/modprobe.d/linked.conf",
                "/etc/modprobe.d/masked.conf",
                &format!("/lib/modules/{KVER}/modules.softdep"),
            ]
        );
        assert_eq!(
            ours.options(&m("dahdi")),
            "debug=1  auto_assign_spans=0 crlf=1\r nul=1 last=1 \u{fffd} from=run from=usr from=lib linked=1"
        );
    }

    /// The real DKMS-built DAHDI modules of this machine, copied into a fixture kernel
    /// tree and indexed with depmod, so modprobe can plan loads from it.
    fn module_tree(r: &Path) {
        let dkms = std::fs::read_dir("/lib/modules")
            .unwrap()
            .map(|e| e.unwrap().path().join("updates/dkms"))
            .find(|d| d.join("dahdi.ko").is_file())
            .expect("no DKMS-built DAHDI under /lib/modules/*/updates/dkms: apt-get install dahdi-dkms linux-headers-amd64");
        let dest = r.join(format!("lib/modules/{KVER}/updates"));
        std::fs::create_dir_all(&dest).unwrap();
        for name in [
            "dahdi",
            "oct612x",
            "wct4xxp",
            "wctdm24xxp",
            "wcb4xxp",
            "dahdi_echocan_mg2",
            "dahdi_echocan_kb1",
            "dahdi_transcode",
            "xpp",
            "xpp_usb",
        ] {
            std::fs::copy(
                dkms.join(format!("{name}.ko")),
                dest.join(format!("{name}.ko")),
            )
            .unwrap();
        }
        run(
            Command::new("depmod").arg("-b").arg(r).arg(KVER),
            "depmod comes with kmod",
        );
    }

    /// `modprobe -D` (the load plan, loaded or not): `(module, options)` per `insmod`
    /// line, `("install", command)` per install line.
    fn plan(r: &Path, name: &str) -> Vec<(String, String)> {
        let args = config_args(r, KVER);
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend(["-D", name]);
        modprobe(r, &a)
            .lines()
            .map(|l| {
                let (kind, rest) = l.split_once(' ').unwrap();
                if kind == "install" {
                    return ("install".to_string(), rest.trim_end().to_string());
                }
                let (path, opts) = rest.split_once(' ').unwrap_or((rest, ""));
                let module = ModuleName::from_file_name(Path::new(path)).unwrap();
                (module.to_string(), opts.trim_end().to_string())
            })
            .collect()
    }

    #[test]
    fn load_plans_agree_with_modprobe() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        module_tree(r);
        write(
            r,
            "/etc/modprobe.d/dahdi.conf",
            concat!(
                "options dahdi debug=1\n",
                "options wct4xxp t1e1override=0xff\n",
                "options dahdi  auto_assign_spans=0\n",
                "softdep wct4xxp pre: dahdi-echocan-mg2 post: dahdi_transcode\n",
                "install wcb4xxp /bin/echo hi $CMDLINE_OPTS\n",
                "blacklist wctdm24xxp\n",
                "alias my-card wct4xxp\n",
            ),
        );
        let kernel = KernelRelease::new(KVER).unwrap();
        for (cmdline, blacklisted) in [
            ("wct4xxp.latency=4 modprobe.blacklist=xpp_usb", true),
            ("dahdi.x=\"a b\" modprobe.blacklist=xpp-usb", false),
        ] {
            write(r, KERNEL_CMDLINE, cmdline);
            let ours = ModprobeConfig::load(&Root::new(r), &kernel).unwrap();

            // Options of every module loaded, softdeps around the module.
            let p = plan(r, "wct4xxp");
            for (module, opts) in &p {
                assert_eq!(&ours.options(&m(module)), opts, "{module} with {cmdline:?}");
            }
            let at = |name: &str| p.iter().position(|(x, _)| x == name).unwrap();
            let sd = ours.softdep(&m("wct4xxp")).unwrap();
            assert!(
                sd.pre.iter().all(|x| at(x.as_str()) < at("wct4xxp")),
                "{p:?}"
            );
            assert!(
                sd.post.iter().all(|x| at(x.as_str()) > at("wct4xxp")),
                "{p:?}"
            );
            assert!(p.iter().any(|(x, _)| x == "dahdi_echocan_mg2"));

            // An install command replaces the load.
            let p = plan(r, "wcb4xxp");
            assert_eq!(
                p.last().unwrap(),
                &(
                    "install".into(),
                    ours.install_command(&m("wcb4xxp")).unwrap().command.clone()
                )
            );

            // An alias from modprobe.d.
            let p = plan(r, "my-card");
            assert_eq!(ours.resolve_alias("my-card"), [&m("wct4xxp")]);
            assert_eq!(p.iter().filter(|(x, _)| x == "wct4xxp").count(), 1, "{p:?}");

            // Blacklist: the module's own aliases are hidden, its name is not.
            assert!(ours.is_blacklisted(&m("wctdm24xxp")));
            assert!(plan(r, "wctdm24xxp").iter().any(|(x, _)| x == "wctdm24xxp"));
            assert!(
                plan(r, "wcaex4xx").is_empty(),
                "wcaex4xx is wctdm24xxp's own alias"
            );
            // modprobe.blacklist= from the command line, spelled with '_' or '-'.
            assert_eq!(ours.is_blacklisted(&m("xpp_usb")), blacklisted);
            let usb = plan(r, "usb:vE4E4p1162d0000dc00dsc00dp00ic00isc00ip00in00");
            assert_eq!(
                !usb.iter().any(|(x, _)| x == "xpp_usb"),
                blacklisted,
                "{cmdline}: {usb:?}"
            );
        }
    }

    /// dahdi-tools' own `dahdi-modules load`, run with /etc/dahdi/modules replaced and a
    /// `modprobe` that only prints its argument: the names it would load.
    #[test]
    fn dahdi_modules_agree_with_dahdi_tools_script() {
        let script = Path::new("/usr/share/dahdi/dahdi-modules");
        assert!(
            script.is_file(),
            "{} is missing: apt-get install dahdi-linux",
            script.display()
        );
        let t = tempfile::tempdir().unwrap();
        let text = "# Digium\nwct4xxp\n  wctdm24xxp # comment\n#wcte12xp\nxpp_usb dahdi_echocan_mg2\twcb4xxp\n\n";
        write(t.path(), "etc-dahdi/modules", text);
        write(t.path(), "bin/modprobe", "#!/bin/sh\necho \"$1\"\n");
        let bin = t.path().join("bin");
        std::fs::set_permissions(
            bin.join("modprobe"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let out = in_mount_namespace(
            "mount --bind \"$0/etc-dahdi\" /etc/dahdi && PATH=\"$0/bin:$PATH\" exec sh /usr/share/dahdi/dahdi-modules load",
            t.path(),
            &[],
        );
        let theirs: Vec<&str> = out.lines().collect();
        let ours = DahdiModules::parse(Path::new(DAHDI_MODULES_FILE), text);
        let ours: Vec<String> = ours.modules.iter().map(|m| m.to_string()).collect();
        assert_eq!(ours, theirs);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]

        /// Random text and garbled configuration lines never panic any parser.
        #[test]
        fn parsers_never_panic(
            text in "\\PC{0,300}",
            lines in proptest::collection::vec(
                "(options|blacklist|install|remove|softdep|alias|weakdep|#)?[ \t]{0,2}[a-z_\\-\\[\\]*.=\"\\\\ \t:]{0,30}",
                0..20,
            ),
        ) {
            let joined = lines.join("\n");
            for input in [&text, &joined] {
                let mut c = ModprobeConfig::default();
                c.parse_file(Path::new("/t.conf"), input);
                c.add_kernel_cmdline(input);
                let name = m("dahdi");
                let _ = (c.options(&name), c.softdep(&name), c.install_command(&name));
                let _ = c.resolve_alias(input);
                let _ = DahdiModules::parse(Path::new("/m"), input);
            }
        }
    }
}
