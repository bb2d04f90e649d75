//! Output with the journal's priorities.
//!
//! Under systemd, a service's stdout and stderr are a stream into the journal, and a line
//! that starts with `<N>` is logged at syslog priority N (`SyslogLevelPrefix=`, on by
//! default; the sd-daemon convention). The prefix is added only when the stream really is
//! the journal: systemd sets `JOURNAL_STREAM=DEVICE:INODE` to the stream's identity, and a
//! terminal or a pipe has another one (so a person running the loader by hand never sees
//! `<4>`). stdout and stderr are checked each on its own: systemd names stderr's stream
//! when both go to the journal, and usually both are the same socket.
//!
//! Everything the loader prints is [`Lines`]: each line carries the priority of what it
//! says (an error or refusal, a warning that DAHDI will not load somewhere, a notice of
//! something done, progress and tables as information).

use std::fmt;
use std::io::Write as _;
use std::os::fd::AsFd;

/// Syslog priorities the loader uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Something failed, or the loader refused to go on.
    Err = 3,
    /// DAHDI will not load somewhere, or the loader acted to prevent it.
    Warning = 4,
    /// A normal but significant event (a build, a change to the boot menu).
    Notice = 5,
    /// Progress, tables, results.
    Info = 6,
    /// Detail only a developer wants.
    Debug = 7,
}

/// Text for one stream, each line with its priority.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lines(Vec<(Priority, String)>);

impl Lines {
    /// No lines.
    pub fn new() -> Lines {
        Lines::default()
    }

    /// `text` (one line or several) at `priority`.
    pub fn of(priority: Priority, text: &str) -> Lines {
        let mut l = Lines::new();
        l.push(priority, text);
        l
    }

    /// Adds `text` at `priority`; each of its lines becomes a line (an empty text, an
    /// empty line).
    pub fn push(&mut self, priority: Priority, text: &str) {
        if text.is_empty() {
            self.0.push((priority, String::new()));
        }
        for line in text.lines() {
            self.0.push((priority, line.to_string()));
        }
    }

    /// Adds every line of `other`.
    pub fn append(&mut self, other: Lines) {
        self.0.extend(other.0);
    }

    /// The lines with their priorities.
    pub fn iter(&self) -> impl Iterator<Item = (Priority, &str)> {
        self.0.iter().map(|(p, l)| (*p, l.as_str()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text as written on a stream: every line ends with a newline and, when the stream
    /// is the journal, starts with its `<N>`.
    pub fn render(&self, journal: bool) -> String {
        let mut out = String::new();
        for (p, l) in &self.0 {
            if journal {
                out.push_str(&format!("<{}>", *p as u8));
            }
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Lines {
    /// The text for people: no priorities.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// Whether stderr is the journal's stream, as `JOURNAL_STREAM` names it.
pub fn stderr_is_journal() -> bool {
    is_journal(std::io::stderr().as_fd())
}

/// Whether stdout is the journal's stream.
pub fn stdout_is_journal() -> bool {
    is_journal(std::io::stdout().as_fd())
}

fn is_journal(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    std::env::var("JOURNAL_STREAM").is_ok_and(|v| is_stream(&v, fd))
}

/// Whether `fd` is the file `journal_stream` (`DEVICE:INODE`) names.
pub fn is_stream(journal_stream: &str, fd: std::os::fd::BorrowedFd<'_>) -> bool {
    let Some((dev, ino)) = journal_stream.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    use std::os::fd::AsRawFd;
    match nix::sys::stat::fstat(fd.as_raw_fd()) {
        Ok(st) => st.st_dev == dev && st.st_ino == ino,
        Err(_) => false,
    }
}

/// A message as one line of the loader's own (`dahdi-loader: MESSAGE`, each line of a
/// multi-line message so named).
pub fn message(priority: Priority, text: &str) -> Lines {
    let mut l = Lines::new();
    for line in text.lines() {
        l.push(priority, &format!("dahdi-loader: {line}"));
    }
    l
}

/// Writes `message` on stderr at `priority`, as `dahdi-loader: MESSAGE`.
pub fn log(priority: Priority, text: &str) {
    eprint(&message(priority, text));
}

/// Writes `lines` on stdout (a closed stdout is not worth a panic).
pub fn print(lines: &Lines) {
    let _ = std::io::stdout()
        .lock()
        .write_all(lines.render(stdout_is_journal()).as_bytes());
}

/// Writes `lines` on stderr.
pub fn eprint(lines: &Lines) {
    let _ = std::io::stderr()
        .lock()
        .write_all(lines.render(stderr_is_journal()).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_only_for_the_journal() {
        let m = message(Priority::Warning, "a\nb");
        assert_eq!(m.render(false), "dahdi-loader: a\ndahdi-loader: b\n");
        assert_eq!(m.render(true), "<4>dahdi-loader: a\n<4>dahdi-loader: b\n");
        let mut l = Lines::of(Priority::Info, "table");
        l.push(Priority::Err, "x\ny");
        assert_eq!(l.render(true), "<6>table\n<3>x\n<3>y\n");
        assert_eq!(l.to_string(), "table\nx\ny\n");
    }

    #[test]
    fn the_stream_is_recognised_by_device_and_inode() {
        use std::os::unix::fs::MetadataExt;
        let f = tempfile::tempfile().unwrap();
        let m = f.metadata().unwrap();
        assert!(is_stream(&format!("{}:{}", m.dev(), m.ino()), f.as_fd()));
        assert!(!is_stream(
            &format!("{}:{}", m.dev(), m.ino() + 1),
            f.as_fd()
        ));
        assert!(!is_stream("garbage", f.as_fd()));
        assert!(!is_stream("1:", f.as_fd()));
    }
}
