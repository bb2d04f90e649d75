//! The boot guard: keeps GRUB from starting a kernel on which DAHDI would not load.
//!
//! Opt-in (`boot-guard on` in /etc/dahdi-loader); with it off nothing here writes. Each
//! run compares the kernel GRUB would start next, as grub.cfg and the environment block
//! decide it, with the loader's verdict for that kernel. Where DAHDI would not load there
//! (a failed build, an untrusted signature, a stale copy, a CRC mismatch), the next boot
//! goes to the newest kernel in the menu on which DAHDI verifies; as soon as the kernel
//! GRUB would choose verifies again, the guard lets go.
//!
//! How it steers, without changing the operator's settings:
//! - with `GRUB_DEFAULT=saved` (grub.cfg reads `saved_entry`), it sets `saved_entry`, and
//!   puts the operator's value back when it lets go;
//! - otherwise (Debian's default, `GRUB_DEFAULT=0`) it sets `next_entry`, the one-shot
//!   choice `grub-reboot` makes, which GRUB clears when it starts. The loader sets it again
//!   at every boot and whenever grub.cfg changes (dahdi-loader-guard.path) for as long as
//!   the newest kernel is one DAHDI does not load on. A `next_entry` someone else set is
//!   left alone.
//!
//! What the guard set is remembered in /var/lib/dahdi-loader/boot-guard.json, so that it
//! only ever undoes its own change.

pub mod grubcfg;
pub mod grubenv;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::names::KernelRelease;
use crate::report::Verdict;
use crate::root::Root;
use grubcfg::{DefaultSource, GrubMenu, ItemKind};
use grubenv::Grubenv;

/// GRUB's menu.
pub const GRUB_CFG: &str = "/boot/grub/grub.cfg";
/// What the guard remembers of its own change.
pub const STATE: &str = "/var/lib/dahdi-loader/boot-guard.json";

/// The variable of the environment block the guard sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variable {
    /// `GRUB_DEFAULT=saved`: the persistent default.
    SavedEntry,
    /// The one-shot choice (`grub-reboot`).
    NextEntry,
}

impl Variable {
    /// Its name in grubenv.
    pub fn name(self) -> &'static str {
        match self {
            Variable::SavedEntry => "saved_entry",
            Variable::NextEntry => "next_entry",
        }
    }
}

/// The guard's own change, as remembered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The variable it set.
    pub variable: Variable,
    /// The value it wrote (a path of entry identifiers).
    pub value: String,
    /// The value before (for `saved_entry`), to put back.
    pub previous: Option<String>,
    /// The kernel it points at.
    pub kernel: String,
    /// The kernel it keeps GRUB from starting.
    pub avoided: String,
}

/// One kernel of the menu and what the loader says of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    /// The kernel release.
    pub kernel: String,
    /// The path of menu identifiers that names its entry.
    pub entry: String,
    /// The loader's verdict for it (`None`: not installed as far as the loader sees).
    pub verdict: Option<Verdict>,
}

impl Choice {
    /// DAHDI loads there (or the system has no DAHDI to load).
    pub fn verifies(&self) -> bool {
        matches!(self.verdict, Some(Verdict::Ok | Verdict::NotApplicable))
    }
}

/// What the guard did, or would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// Nothing to change.
    Nothing,
    /// Set (or would set) `variable` so the next boot starts `to`.
    Pin {
        /// The change.
        pin: Pin,
    },
    /// Let go of an earlier pin (the kernel GRUB would choose verifies now).
    Release {
        /// The pin let go.
        pin: Pin,
    },
    /// The guard cannot steer this system; why, and what to do.
    Cannot {
        /// In words.
        why: String,
    },
}

/// The guard's view of the next boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardReport {
    /// `boot-guard on` in the configuration.
    pub enabled: bool,
    /// Whether this run wrote (enabled, and something to change).
    pub applied: bool,
    /// The entry GRUB would start without the guard.
    pub grub_would_start: Option<Choice>,
    /// The entry the next boot starts after this run (a dry run: would start).
    pub next_boot: Option<Choice>,
    /// What was (or would be) done.
    pub action: Action,
    /// A pin of the guard's in place before this run.
    pub pinned_before: Option<Pin>,
    /// The situation in one sentence, for the journal and `status`.
    pub message: String,
}

impl GuardReport {
    /// The guard could not even look at the boot: `why` says what stopped it.
    pub fn cannot(enabled: bool, why: String) -> GuardReport {
        GuardReport {
            enabled,
            applied: false,
            grub_would_start: None,
            next_boot: None,
            action: Action::Cannot { why: why.clone() },
            pinned_before: None,
            message: why,
        }
    }
}

/// Runs the guard on a system: each kernel GRUB's menu names is verified when the guard
/// needs its verdict (the one GRUB would start, then the menu in order until one verifies).
pub fn guard_system(sys: &crate::system::System, apply: bool) -> Result<GuardReport, Error> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    let verdicts: RefCell<HashMap<KernelRelease, Option<Verdict>>> = RefCell::default();
    let verdict = |k: &KernelRelease| {
        if let Some(v) = verdicts.borrow().get(k) {
            return *v;
        }
        let v = sys.kernel(k).ok().map(|kernel| {
            crate::verify::verify_kernel(sys, &kernel, crate::verify::Checks::default()).verdict
        });
        verdicts.borrow_mut().insert(k.clone(), v);
        v
    };
    run(&sys.root, sys.config.boot_guard, apply, verdict)
}

/// `dahdi-loader guard`: under the loader's lock when it may write (so that it never
/// writes beside an `ensure` or another guard), reading the system once the lock is held.
pub fn guard_command(
    root: &Root,
    running: Option<KernelRelease>,
    apply: bool,
    lock_timeout: std::time::Duration,
) -> Result<GuardReport, Error> {
    let _lock = if apply {
        Some(crate::lock::acquire(root, lock_timeout, || {
            crate::journal::log(
                crate::journal::Priority::Info,
                "another dahdi-loader is running; waiting for it",
            );
        })?)
    } else {
        None
    };
    let sys = crate::system::System::load(root.clone(), running)?;
    guard_system(&sys, apply)
}

/// Everything the guard reads, gathered once.
struct Inputs {
    menu: GrubMenu,
    env: Grubenv,
    env_path: PathBuf,
    state: Option<Pin>,
}

fn read_inputs(root: &Root) -> Result<Result<Inputs, String>, Error> {
    let cfg_path = root.join(GRUB_CFG);
    let text = match std::fs::read_to_string(&cfg_path) {
        Ok(t) => t,
        Err(e) if crate::root::is_absent(&e) => {
            return Ok(Err(format!(
                "there is no GRUB menu at {GRUB_CFG}; the boot guard knows GRUB only (for systemd-boot, see the loader's documentation)"
            )))
        }
        Err(e) => return Err(Error::io("reading", &cfg_path, e)),
    };
    let menu = GrubMenu::parse(&text);
    let env_path = root.join(grubenv::GRUBENV);
    let env = match std::fs::read(&env_path) {
        Ok(data) => match Grubenv::parse(Path::new(grubenv::GRUBENV), &data) {
            Ok(env) => env,
            Err(e) => return Ok(Err(e.to_string())),
        },
        Err(e) if crate::root::is_absent(&e) => Grubenv::default(),
        Err(e) => return Err(Error::io("reading", &env_path, e)),
    };
    let state = read_state(root);
    Ok(Ok(Inputs {
        menu,
        env,
        env_path,
        state,
    }))
}

/// The remembered pin; a damaged record counts as none (the guard then never undoes
/// anything it cannot prove it did).
fn read_state(root: &Root) -> Option<Pin> {
    let data = std::fs::read(root.join(STATE)).ok()?;
    serde_json::from_slice(&data).ok()
}

fn write_state(root: &Root, pin: Option<&Pin>) -> Result<(), Error> {
    let path = root.join(STATE);
    match pin {
        None => match std::fs::remove_file(&path) {
            Err(e) if !crate::root::is_absent(&e) => Err(Error::io("removing", &path, e)),
            _ => Ok(()),
        },
        Some(p) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
            }
            let tmp = path.with_extension("json.new");
            let text = serde_json::to_vec_pretty(p).expect("a pin serializes");
            std::fs::write(&tmp, text).map_err(|e| Error::io("writing", &tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io("renaming into place", &path, e))
        }
    }
}

/// Decides (and, when `apply`, writes) the next boot's kernel. `verdict` gives the
/// loader's verdict for a kernel release (`None` when it is not installed).
pub fn run(
    root: &Root,
    enabled: bool,
    apply: bool,
    verdict: impl Fn(&KernelRelease) -> Option<Verdict>,
) -> Result<GuardReport, Error> {
    let inputs = match read_inputs(root)? {
        Ok(i) => i,
        Err(why) => return Ok(GuardReport::cannot(enabled, why)),
    };
    let mut report = decide(&inputs, enabled, &verdict);
    if enabled && apply {
        report.applied = write(root, &inputs, &report.action)?;
    }
    Ok(report)
}

fn choice(
    kernel: Option<&str>,
    entry: String,
    verdict: &impl Fn(&KernelRelease) -> Option<Verdict>,
) -> Option<Choice> {
    let kernel = kernel?;
    Some(Choice {
        kernel: kernel.to_string(),
        entry,
        verdict: KernelRelease::new(kernel).ok().and_then(|k| verdict(&k)),
    })
}

fn decide(
    i: &Inputs,
    enabled: bool,
    verdict: &impl Fn(&KernelRelease) -> Option<Verdict>,
) -> GuardReport {
    let variable = match i.menu.default {
        Some(DefaultSource::Saved) => Variable::SavedEntry,
        _ => Variable::NextEntry,
    };
    let current = i.env.get(variable.name()).filter(|v| !v.is_empty());
    // Our pin is in place when the variable still holds what we wrote.
    let ours = i
        .state
        .as_ref()
        .filter(|p| p.variable == variable && current == Some(p.value.as_str()));
    // The operator's own saved_entry, under our pin.
    let saved = match ours {
        Some(p) if variable == Variable::SavedEntry => p.previous.as_deref(),
        _ => i.env.get("saved_entry"),
    };
    let next = match (variable, ours) {
        (Variable::NextEntry, Some(_)) => None,
        _ => i.env.get("next_entry"),
    };
    let natural = i
        .menu
        .starts(next, saved)
        .and_then(|(item, path)| match &item.kind {
            ItemKind::Entry { kernel, .. } => choice(kernel.as_deref(), path, verdict),
            ItemKind::Submenu(_) => None,
        });
    let mut report = GuardReport {
        enabled,
        applied: false,
        grub_would_start: natural.clone(),
        next_boot: natural.clone(),
        action: Action::Nothing,
        pinned_before: ours.cloned(),
        message: String::new(),
    };
    let Some(natural) = natural else {
        return cannot(
            report,
            "GRUB's menu starts no Linux kernel the guard can name; nothing to guard".into(),
        );
    };
    let off = if enabled {
        ""
    } else {
        " (the boot guard is off: nothing is changed; `boot-guard on` in /etc/dahdi-loader enables it)"
    };
    if natural.verifies() {
        report.message = format!(
            "GRUB starts kernel {} next, where DAHDI verifies",
            natural.kernel
        );
        if let Some(pin) = ours {
            report.message.push_str(&format!(
                "; the guard lets go of its hold on kernel {} (set while {} would not load DAHDI)",
                pin.kernel, pin.avoided
            ));
            report.action = Action::Release { pin: pin.clone() };
        }
        report.message.push_str(off);
        return report;
    }
    let why_bad = match natural.verdict {
        Some(v) => format!("DAHDI will not load there ({})", v.as_str()),
        None => "the loader finds no module directory for it".into(),
    };
    if variable == Variable::NextEntry && !i.menu.reads_next_entry {
        return cannot(report, format!(
            "GRUB starts kernel {} next, where {why_bad}; grub.cfg does not read next_entry from {}, so the guard cannot steer it: set GRUB_DEFAULT=saved in /etc/default/grub and run update-grub",
            natural.kernel, grubenv::GRUBENV
        ));
    }
    if variable == Variable::NextEntry && ours.is_none() {
        if let Some(other) = i.env.get("next_entry").filter(|v| !v.is_empty()) {
            return cannot(report, format!(
                "GRUB starts kernel {} next, where {why_bad}; next_entry ({other}) was set by someone else (grub-reboot), so the guard leaves it",
                natural.kernel
            ));
        }
    }
    let best = i
        .menu
        .kernel_entries()
        .into_iter()
        .filter_map(|(k, path)| choice(Some(&k), path, verdict))
        .find(Choice::verifies);
    let Some(best) = best else {
        return cannot(report, format!(
            "GRUB starts kernel {} next, where {why_bad}; DAHDI verifies on no kernel in GRUB's menu, so the guard leaves GRUB's choice",
            natural.kernel
        ));
    };
    let pin = Pin {
        variable,
        value: best.entry.clone(),
        previous: match variable {
            Variable::SavedEntry => ours
                .and_then(|p| p.previous.clone())
                .or_else(|| current.map(String::from)),
            Variable::NextEntry => None,
        },
        kernel: best.kernel.clone(),
        avoided: natural.kernel.clone(),
    };
    report.message = format!(
        "GRUB would start kernel {}, where {why_bad}; the next boot {} kernel {} instead, the newest in the menu where DAHDI verifies{off}",
        natural.kernel,
        if enabled { "starts" } else { "would start, with the guard on," },
        best.kernel
    );
    if enabled {
        report.next_boot = Some(best);
    }
    if ours.map(|p| &p.value) != Some(&pin.value) {
        report.action = Action::Pin { pin };
    }
    report
}

/// The guard cannot steer this boot: `why` is both the action and the message.
fn cannot(mut report: GuardReport, why: String) -> GuardReport {
    report.action = Action::Cannot { why: why.clone() };
    report.message = why;
    report
}

/// Writes the environment block and the record; true when something was written.
fn write(root: &Root, i: &Inputs, action: &Action) -> Result<bool, Error> {
    let mut env = i.env.clone();
    let record = match action {
        Action::Nothing | Action::Cannot { .. } => return Ok(false),
        Action::Pin { pin } => {
            env.set(pin.variable.name(), &pin.value)
                .expect("saved_entry and next_entry are valid names");
            Some(pin)
        }
        Action::Release { pin } => {
            match (&pin.variable, &pin.previous) {
                (Variable::SavedEntry, Some(prev)) => env
                    .set("saved_entry", prev)
                    .expect("saved_entry is a valid name"),
                (v, _) => env.unset(v.name()),
            }
            None
        }
    };
    if let Some(dir) = i.env_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    }
    env.write(&i.env_path)
        .map_err(|e| Error::io("writing", &i.env_path, e))?;
    write_state(root, record)?;
    Ok(true)
}

#[cfg(test)]
mod tests;
