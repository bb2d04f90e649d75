//! The crate's one error type.
//!
//! Every failure carries the operation that failed (an [`Op`]: the ioctl,
//! as dahdi-sys's table names it, or `open`, `read`, `write`...), the
//! device or sysfs path it was done on, and the kernel's `errno` when there
//! was one. Cases with a known meaning get their own [`ErrorKind`], whose
//! message says what to do.

use std::fmt;
use std::path::{Path, PathBuf};

use dahdi_sys::{ioctl, Ioctl};
use nix::errno::Errno;

use crate::event::Event;

/// What went wrong, as far as the crate can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A fixed DAHDI node (`/dev/dahdi/ctl`, `pseudo`, ...) does not exist:
    /// the `dahdi` kernel module is not loaded.
    ModuleNotLoaded,
    /// The node exists but this process may not open it.
    PermissionDenied,
    /// There is no channel with this number (`DAHDI_SPECIFY` or a channel
    /// ioctl on `/dev/dahdi/ctl` returned `EINVAL`, or its
    /// `/dev/dahdi/chan/SSS/CCC` node does not exist).
    NoSuchChannel(i32),
    /// The channel exists but has no signalling configured (`ENXIO` on
    /// open): configure it first (dahdi_cfg, or [`crate::Ctl::configure_channel`]).
    ChannelNotConfigured(i32),
    /// The channel is already open elsewhere (a channel may be open on one
    /// file descriptor at a time), or is a slave, a DACS or a network
    /// channel (`EBUSY`).
    ChannelBusy(i32),
    /// The channel's span is not assigned (`ENODEV` on read/write).
    SpanNotAssigned,
    /// There is no span with this number.
    NoSuchSpan(i32),
    /// A block size outside 16..=8192 samples, refused before the call.
    InvalidBlocksize(i64),
    /// A buffer configuration outside the kernel's limits, refused before
    /// the call; the text says which limit.
    InvalidBufferInfo(String),
    /// An argument refused before the call (the text says which), or
    /// `EINVAL` from the kernel where no better explanation is known.
    InvalidArgument(String),
    /// The feature is compiled out of this driver build (`ENOSYS`); the
    /// text names the kernel option.
    NotCompiledIn(&'static str),
    /// The channel's driver does not implement this operation (`ENOTTY`
    /// or `ENOSYS` from a span channel).
    NotSupported,
    /// No tone zone is loaded (`ENODATA` from tone, dial and ring
    /// operations).
    NoToneZone,
    /// The tone zone is loaded but has no such tone (`ENOSYS` from
    /// `DAHDI_SENDTONE`).
    NoSuchTone,
    /// The dynamic span framework (`dahdi_dynamic`) is not loaded.
    DynamicNotLoaded,
    /// A dynamic span with this driver and address already exists.
    SpanExists,
    /// The operation needs exclusive use of something still in use, e.g.
    /// destroying a dynamic span whose channels are open.
    InUse,
    /// Too many pseudo channels are open (`max_pseudo_channels`), or the
    /// kernel is out of memory.
    OutOfResources,
    /// The file descriptor is non-blocking and the operation would block.
    WouldBlock,
    /// A read or write was refused because an event is pending (`ELAST`);
    /// the event was taken from the kernel's queue and is carried here. No
    /// audio was consumed: repeat the read or write.
    Event(Event),
    /// A sysfs file or directory could not be read or parsed.
    Sysfs(String),
    /// The operation needs an audio channel and this one carries data: a
    /// clear channel (dahdi_cfg's `bchan` or `clear`) starts in data mode,
    /// and HDLC channels never carry audio. `EINVAL` from
    /// `DAHDI_SETLINEAR`, `DAHDI_CONFMUTE` and `DAHDI_GETCONFMUTE`.
    NotAudioMode,
    /// DAHDI's timing source did not advance within the wait (no span
    /// provides timing and the core timer is not running, or the system is
    /// stalled); the operation needed it to finish safely.
    TimingStopped,
    /// Any other failure; see [`Error::errno`].
    Other,
}

/// The operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// An ioctl, as dahdi-sys's table names it.
    Ioctl(Ioctl),
    /// `open(2)` of a device node.
    Open,
    /// `read(2)` of a block.
    Read,
    /// `write(2)` of a block.
    Write,
    /// `poll(2)`.
    Poll,
    /// `fcntl(2)` (blocking mode).
    Fcntl,
    /// Another system call, by name (the pump's `timerfd_create`...).
    Syscall(&'static str),
    /// A sysfs access: what was being done (`read`, `parse`, an attribute
    /// written...).
    Sysfs(&'static str),
}

impl Op {
    /// Its name: the ioctl's C name, or the system call's or sysfs
    /// action's.
    pub fn name(self) -> &'static str {
        match self {
            Op::Ioctl(i) => i.name,
            Op::Open => "open",
            Op::Read => "read",
            Op::Write => "write",
            Op::Poll => "poll",
            Op::Fcntl => "fcntl",
            Op::Syscall(name) => name,
            Op::Sysfs(what) => what,
        }
    }
}

impl From<Ioctl> for Op {
    fn from(i: Ioctl) -> Op {
        Op::Ioctl(i)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed DAHDI operation: what, on which device, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    op: Op,
    path: PathBuf,
    errno: Option<Errno>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of a given kind (used by the crate; public for tests and
    /// for code that wraps this crate).
    pub fn new(kind: ErrorKind, op: impl Into<Op>, path: impl AsRef<Path>) -> Self {
        Error {
            kind,
            op: op.into(),
            path: path.as_ref().to_owned(),
            errno: None,
        }
    }

    /// Attach the kernel's errno.
    pub fn with_errno(mut self, errno: Errno) -> Self {
        self.errno = Some(errno);
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The operation's name: an ioctl's C name (`"DAHDI_SPECIFY"`) or
    /// `open`, `read`, `write`, `poll`, or a sysfs action.
    pub fn op(&self) -> &'static str {
        self.op.name()
    }

    /// The operation.
    pub fn operation(&self) -> Op {
        self.op
    }

    /// The ioctl that failed, if an ioctl did.
    pub fn ioctl(&self) -> Option<Ioctl> {
        match self.op {
            Op::Ioctl(i) => Some(i),
            _ => None,
        }
    }

    /// The device node or sysfs path the operation was done on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kernel's errno, if the kernel refused (validation errors have
    /// none).
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    /// The event carried by an [`ErrorKind::Event`].
    pub fn event(&self) -> Option<Event> {
        match self.kind {
            ErrorKind::Event(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this is [`ErrorKind::WouldBlock`].
    pub fn is_would_block(&self) -> bool {
        self.kind == ErrorKind::WouldBlock
    }

    fn describe(&self) -> String {
        let p = self.path.display();
        let op = self.op.name();
        let errno = match self.errno {
            Some(e) => format!(" ({e})"),
            None => String::new(),
        };
        match &self.kind {
            ErrorKind::ModuleNotLoaded => format!(
                "{p} is missing: the dahdi module is not loaded; run dahdi-loader ensure \
                 (or modprobe dahdi){errno}"
            ),
            ErrorKind::PermissionDenied => format!(
                "{op} on {p}: permission denied; run as root or as a member of the group \
                 owning {p} (dialout or asterisk on Debian){errno}"
            ),
            ErrorKind::NoSuchChannel(0) => {
                format!("{op} on {p}: no such DAHDI channel (is its span assigned?){errno}")
            }
            ErrorKind::NoSuchChannel(c) => {
                format!("{op} on {p}: there is no DAHDI channel {c}{errno}")
            }
            ErrorKind::ChannelNotConfigured(c) => format!(
                "{op} on {p}: channel {c} has no signalling configured; configure it with \
                 dahdi_cfg or Ctl::configure_channel first{errno}"
            ),
            ErrorKind::ChannelBusy(c) => format!(
                "{op} on {p}: channel {c} is busy: it is open on another file descriptor \
                 (or it is a slave, DACS or network channel){errno}"
            ),
            ErrorKind::SpanNotAssigned => format!(
                "{op} on {p}: the channel's span is not assigned; assign it through sysfs \
                 (dahdi_span_assignments auto) or load dahdi with auto_assign_spans=1{errno}"
            ),
            ErrorKind::NoSuchSpan(s) => format!("{op} on {p}: there is no span {s}{errno}"),
            ErrorKind::InvalidBlocksize(b) => {
                format!("{op} on {p}: block size {b} is outside 16..=8192 samples{errno}")
            }
            ErrorKind::InvalidBufferInfo(why) => {
                format!("{op} on {p}: invalid buffer configuration: {why}{errno}")
            }
            ErrorKind::InvalidArgument(why) => format!("{op} on {p}: {why}{errno}"),
            ErrorKind::NotCompiledIn(opt) => format!(
                "{op} on {p}: not compiled into this driver (the DAHDI kernel was built \
                 without {opt}){errno}"
            ),
            ErrorKind::NotSupported => {
                format!("{op} on {p}: not supported by this channel or its driver{errno}")
            }
            ErrorKind::NoToneZone => format!(
                "{op} on {p}: no tone zone is loaded; load one (dahdi_cfg with loadzone=, or \
                 Ctl::load_tone_zone) before opening the channel{errno}"
            ),
            ErrorKind::NoSuchTone => {
                format!("{op} on {p}: the channel's tone zone has no such tone{errno}")
            }
            ErrorKind::DynamicNotLoaded => format!(
                "{op} on {p}: dynamic spans are not available: load the dahdi_dynamic module \
                 and its driver (e.g. dahdi_dynamic_loc){errno}"
            ),
            ErrorKind::SpanExists => format!(
                "{op} on {p}: a dynamic span with this driver and address already exists{errno}"
            ),
            ErrorKind::InUse => {
                format!("{op} on {p}: still in use (close the span's channels first){errno}")
            }
            ErrorKind::OutOfResources => format!(
                "{op} on {p}: out of resources (too many pseudo channels for the module's \
                 max_pseudo_channels, or no memory){errno}"
            ),
            ErrorKind::WouldBlock => {
                format!("{op} on {p} would block (non-blocking mode){errno}")
            }
            ErrorKind::Event(e) => {
                format!("{op} on {p}: event {e:?} was pending; no audio was lost, repeat the {op}")
            }
            ErrorKind::Sysfs(why) => format!("sysfs {op} at {p}: {why}{errno}"),
            ErrorKind::NotAudioMode => format!(
                "{op} on {p}: the channel carries data, not audio: a clear channel (bchan, clear) \
                 must be switched to audio first with Channel::set_audio_mode(true) \
                 (DAHDI_AUDIOMODE); HDLC channels cannot carry audio{errno}"
            ),
            ErrorKind::TimingStopped => format!(
                "{op} on {p}: DAHDI's timing did not advance (no span provides timing and \
                 the core timer did not tick); check dmesg for the dahdi module{errno}"
            ),
            ErrorKind::Other => format!("{op} on {p} failed{errno}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errno
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind {
            ErrorKind::WouldBlock => K::WouldBlock,
            ErrorKind::ModuleNotLoaded | ErrorKind::NoSuchChannel(_) | ErrorKind::NoSuchSpan(_) => {
                K::NotFound
            }
            ErrorKind::PermissionDenied => K::PermissionDenied,
            ErrorKind::InvalidBlocksize(_)
            | ErrorKind::InvalidBufferInfo(_)
            | ErrorKind::InvalidArgument(_)
            | ErrorKind::NotAudioMode => K::InvalidInput,
            ErrorKind::NotCompiledIn(_) | ErrorKind::NotSupported => K::Unsupported,
            // Not Interrupted: std's retry loops would swallow the event.
            _ => K::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// How an errno reads for one operation: the crate's mapping table.
pub(crate) fn classify(op: Op, errno: Errno, subject: Option<i32>) -> ErrorKind {
    use ioctl::*;
    let n = subject.unwrap_or(0);
    let on = |i: Ioctl| Op::Ioctl(i);
    match (op, errno) {
        (_, Errno::EAGAIN) => ErrorKind::WouldBlock,
        (_, Errno::EACCES) | (_, Errno::EPERM) => ErrorKind::PermissionDenied,
        (o, Errno::EINVAL) if o == on(DAHDI_SPECIFY) => ErrorKind::NoSuchChannel(n),
        (o, Errno::ENXIO) if o == on(DAHDI_SPECIFY) || o == Op::Open => {
            ErrorKind::ChannelNotConfigured(n)
        }
        (o, Errno::EBUSY) if o == on(DAHDI_SPECIFY) || o == Op::Open => ErrorKind::ChannelBusy(n),
        (Op::Open, Errno::ENOMEM) => ErrorKind::OutOfResources,
        (Op::Read | Op::Write, Errno::ENODEV) => ErrorKind::SpanNotAssigned,
        (Op::Ioctl(i), Errno::ENOSYS) if i == DAHDI_CONFLINK => {
            ErrorKind::NotCompiledIn("CONFIG_DAHDI_CONFLINK")
        }
        (Op::Ioctl(i), Errno::ENOSYS) if i == DAHDI_CHANCONFIG => {
            ErrorKind::NotCompiledIn("CONFIG_DAHDI_NET")
        }
        (Op::Ioctl(i), Errno::EINVAL) if i == DAHDI_CHANCONFIG && subject.is_some() => {
            ErrorKind::InvalidArgument(format!(
                "channel {n} does not exist or cannot take this signalling"
            ))
        }
        (Op::Ioctl(i), Errno::EINVAL)
            if i == DAHDI_SETLINEAR || i == DAHDI_CONFMUTE || i == DAHDI_GETCONFMUTE =>
        {
            ErrorKind::NotAudioMode
        }
        (Op::Ioctl(i), Errno::ENOSYS)
            if i == DAHDI_DYNAMIC_CREATE
                || i == DAHDI_DYNAMIC_DESTROY
                || i == DAHDI_SIMULATE_ALARM =>
        {
            ErrorKind::DynamicNotLoaded
        }
        (Op::Ioctl(i), Errno::EEXIST) if i == DAHDI_DYNAMIC_CREATE => ErrorKind::SpanExists,
        (Op::Ioctl(i), Errno::EBUSY) if i == DAHDI_DYNAMIC_DESTROY => ErrorKind::InUse,
        (Op::Ioctl(i), Errno::ENODEV) if i == DAHDI_SIMULATE_ALARM => ErrorKind::NoSuchSpan(n),
        (Op::Ioctl(i), Errno::EINVAL) if i == DAHDI_DYNAMIC_DESTROY => {
            ErrorKind::InvalidArgument("no dynamic span with this driver and address".into())
        }
        (Op::Ioctl(i), Errno::ENODATA)
            if [DAHDI_SENDTONE, DAHDI_DIAL, DAHDI_HOOK, DAHDI_SETTONEZONE].contains(&i) =>
        {
            ErrorKind::NoToneZone
        }
        (Op::Ioctl(i), Errno::ENOSYS) if i == DAHDI_SENDTONE => ErrorKind::NoSuchTone,
        (Op::Ioctl(i), Errno::EINVAL) if i == DAHDI_SPANSTAT && subject.is_some() => {
            ErrorKind::NoSuchSpan(n)
        }
        (Op::Ioctl(i), Errno::ENXIO)
            if [DAHDI_SPANCONFIG, DAHDI_STARTUP, DAHDI_SHUTDOWN].contains(&i) =>
        {
            ErrorKind::NoSuchSpan(n)
        }
        (Op::Ioctl(i), Errno::EINVAL)
            if subject.is_some()
                && [
                    DAHDI_GET_PARAMS,
                    DAHDI_SET_PARAMS,
                    DAHDI_GETGAINS,
                    DAHDI_SETGAINS,
                    DAHDI_ATTACH_ECHOCAN,
                    DAHDI_GETCONF,
                    DAHDI_SETCONF,
                ]
                .contains(&i) =>
        {
            ErrorKind::NoSuchChannel(n)
        }
        (_, Errno::ENOTTY) => ErrorKind::NotSupported,
        (_, Errno::ENOMEM) => ErrorKind::OutOfResources,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_instructions() {
        let e = Error::new(ErrorKind::ModuleNotLoaded, Op::Open, "/dev/dahdi/ctl")
            .with_errno(Errno::ENOENT);
        let s = e.to_string();
        assert!(
            s.starts_with("/dev/dahdi/ctl is missing: the dahdi module is not loaded; run dahdi-loader ensure"),
            "{s}"
        );
        assert_eq!(e.errno(), Some(Errno::ENOENT));
        assert_eq!(e.op(), "open");
        let e = Error::new(
            ErrorKind::ChannelBusy(5),
            ioctl::DAHDI_SPECIFY,
            "/dev/dahdi/channel",
        );
        assert!(e.to_string().contains("channel 5 is busy"));
        assert_eq!(e.op(), "DAHDI_SPECIFY");
        assert_eq!(e.ioctl(), Some(ioctl::DAHDI_SPECIFY));
    }

    #[test]
    fn errno_table() {
        assert_eq!(
            classify(ioctl::DAHDI_SPECIFY.into(), Errno::EINVAL, Some(9)),
            ErrorKind::NoSuchChannel(9)
        );
        assert_eq!(
            classify(ioctl::DAHDI_SPECIFY.into(), Errno::ENXIO, Some(9)),
            ErrorKind::ChannelNotConfigured(9)
        );
        assert_eq!(
            classify(ioctl::DAHDI_SPECIFY.into(), Errno::EBUSY, Some(9)),
            ErrorKind::ChannelBusy(9)
        );
        assert_eq!(
            classify(ioctl::DAHDI_CONFLINK.into(), Errno::ENOSYS, None),
            ErrorKind::NotCompiledIn("CONFIG_DAHDI_CONFLINK")
        );
        assert_eq!(
            classify(Op::Read, Errno::EAGAIN, None),
            ErrorKind::WouldBlock
        );
        assert_eq!(
            classify(Op::Read, Errno::ENODEV, None),
            ErrorKind::SpanNotAssigned
        );
        assert_eq!(
            classify(ioctl::DAHDI_DIAL.into(), Errno::ENODATA, None),
            ErrorKind::NoToneZone
        );
        assert_eq!(
            classify(ioctl::DAHDI_HOOK.into(), Errno::ENOTTY, None),
            ErrorKind::NotSupported
        );
        assert_eq!(
            classify(ioctl::DAHDI_SETLINEAR.into(), Errno::EINVAL, None),
            ErrorKind::NotAudioMode
        );
        assert_eq!(
            classify(ioctl::DAHDI_SETLAW.into(), Errno::EINVAL, None),
            ErrorKind::Other
        );
    }

    #[test]
    fn io_error_keeps_the_event() {
        let e = Error::new(
            ErrorKind::Event(Event::DialComplete),
            Op::Read,
            "/dev/dahdi/pseudo",
        );
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::Other);
        let inner = io.into_inner().unwrap().downcast::<Error>().unwrap();
        assert_eq!(inner.event(), Some(Event::DialComplete));
    }
}
