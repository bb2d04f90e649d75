//! Messages on stderr with the journal's priorities.
//!
//! Under systemd, a service's stderr is a stream into the journal, and a line that starts
//! with `<N>` is logged at syslog priority N (`SyslogLevelPrefix=`, on by default). The
//! prefix is added only when stderr really is that stream: systemd sets
//! `JOURNAL_STREAM=DEVICE:INODE` to the stream's identity, and a terminal or a pipe has
//! another one (so a person running the loader by hand never sees `<4>`).

use std::os::fd::AsFd;

/// Syslog priorities the loader uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Something failed.
    Err = 3,
    /// DAHDI will not load somewhere, or the loader acted to prevent it.
    Warning = 4,
    /// A normal but significant event (a build, a change to the boot menu).
    Notice = 5,
    /// Progress.
    Info = 6,
}

/// Whether stderr is the journal's stream, as `JOURNAL_STREAM` names it.
pub fn stderr_is_journal() -> bool {
    std::env::var("JOURNAL_STREAM").is_ok_and(|v| is_stream(&v, std::io::stderr().as_fd()))
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

/// The line as it should be written on stderr: `dahdi-loader: MESSAGE`, with the
/// priority prefix when stderr is the journal.
pub fn format(priority: Priority, journal: bool, message: &str) -> String {
    if journal {
        // Every line of a multi-line message needs its own prefix.
        message
            .lines()
            .map(|l| format!("<{}>dahdi-loader: {l}", priority as u8))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        format!("dahdi-loader: {message}")
    }
}

/// Writes `message` on stderr at `priority`.
pub fn log(priority: Priority, message: &str) {
    eprintln!("{}", format(priority, stderr_is_journal(), message));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_only_for_the_journal() {
        assert_eq!(format(Priority::Warning, false, "x"), "dahdi-loader: x");
        assert_eq!(
            format(Priority::Warning, true, "a\nb"),
            "<4>dahdi-loader: a\n<4>dahdi-loader: b"
        );
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
