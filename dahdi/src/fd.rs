//! Private plumbing shared by the devices: opening nodes, issuing ioctls
//! with errno mapping and EINTR retry, polling, C strings.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use dahdi_sys::Ioctl;
use libc::{c_char, c_int};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::error::{classify, Error, ErrorKind, Op, Result};

/// `AsFd`, `AsRawFd` and `IntoRawFd` for a device type, through its field
/// that owns (or wraps) the descriptor: every device hands out its fd the same way.
macro_rules! fd_traits {
    ($t:ty, $field:ident) => {
        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.$field)
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.$field)
            }
        }

        impl std::os::fd::IntoRawFd for $t {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                std::os::fd::IntoRawFd::into_raw_fd(self.$field)
            }
        }
    };
}
pub(crate) use fd_traits;

/// What a missing node means, for the error message.
#[derive(Clone, Copy)]
pub(crate) enum NodeKind {
    /// One of the fixed nodes (ctl, pseudo, timer, channel).
    Fixed,
    /// A per-channel node of that channel number (0 when unknown).
    Channel(i32),
}

pub(crate) fn open_node(path: &Path, nonblocking: bool, kind: NodeKind) -> Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument("path contains a NUL byte".into()),
            Op::Open,
            path,
        )
    })?;
    let mut flags = libc::O_RDWR | libc::O_CLOEXEC;
    if nonblocking {
        flags |= libc::O_NONBLOCK;
    }
    loop {
        // SAFETY: a valid NUL-terminated path and plain flags.
        let fd = unsafe { libc::open(c.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: open just returned this descriptor, owned by nobody else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let errno = Errno::last();
        if errno == Errno::EINTR {
            continue;
        }
        let kind = match (errno, kind) {
            (Errno::ENOENT, NodeKind::Fixed) => ErrorKind::ModuleNotLoaded,
            (Errno::ENOENT, NodeKind::Channel(n)) => ErrorKind::NoSuchChannel(n),
            (_, NodeKind::Channel(n)) => classify(Op::Open, errno, Some(n)),
            _ => classify(Op::Open, errno, None),
        };
        return Err(Error::new(kind, Op::Open, path).with_errno(errno));
    }
}

/// Issues one ioctl, retrying on EINTR, mapping errno for `op`, which
/// names the ioctl that `call` issues (`dahdi_sys::ioctl::NAME` with
/// `dahdi_sys::name`). `subject` is the channel or span number the call is
/// about, for the message.
pub(crate) fn ioctl(
    path: &Path,
    op: Ioctl,
    subject: Option<i32>,
    mut call: impl FnMut() -> nix::Result<c_int>,
) -> Result<c_int> {
    loop {
        match call() {
            Ok(r) => return Ok(r),
            Err(Errno::EINTR) => continue,
            Err(e) => {
                return Err(Error::new(classify(op.into(), e, subject), op, path).with_errno(e));
            }
        }
    }
}

bitflags::bitflags! {
    /// What a channel or timer fd is ready for, from `poll`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Readiness: u8 {
        /// A full block can be read (`POLLIN`).
        const READ = 1;
        /// A block can be written (`POLLOUT`).
        const WRITE = 2;
        /// An event is queued, or a timer expired or was pinged
        /// (`POLLPRI`).
        const EVENT = 4;
    }
}

pub(crate) fn poll_fd(
    fd: &impl AsFd,
    path: &Path,
    interest: Readiness,
    timeout: Option<Duration>,
) -> Result<Readiness> {
    let mut events = PollFlags::empty();
    if interest.contains(Readiness::READ) {
        events |= PollFlags::POLLIN;
    }
    if interest.contains(Readiness::WRITE) {
        events |= PollFlags::POLLOUT;
    }
    if interest.contains(Readiness::EVENT) {
        events |= PollFlags::POLLPRI;
    }
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let t = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up so a short wait is not a busy loop.
                let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd.as_fd(), events)];
        match nix::poll::poll(&mut fds, t) {
            Ok(_) => {
                let r = fds[0].revents().unwrap_or(PollFlags::empty());
                let mut out = Readiness::empty();
                if r.contains(PollFlags::POLLIN) {
                    out |= Readiness::READ;
                }
                if r.contains(PollFlags::POLLOUT) {
                    out |= Readiness::WRITE;
                }
                if r.contains(PollFlags::POLLPRI) {
                    out |= Readiness::EVENT;
                }
                return Ok(out);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::new(ErrorKind::Other, Op::Poll, path).with_errno(e)),
        }
    }
}

pub(crate) fn set_nonblocking(fd: RawFd, path: &Path, on: bool) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let err = |e: Errno| Error::new(ErrorKind::Other, Op::Fcntl, path).with_errno(e);
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL).map_err(err)?);
    let flags = if on {
        flags | OFlag::O_NONBLOCK
    } else {
        flags & !OFlag::O_NONBLOCK
    };
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(err)?;
    Ok(())
}

pub(crate) fn is_nonblocking(fd: &impl AsRawFd) -> bool {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)
        .map(|f| OFlag::from_bits_retain(f).contains(OFlag::O_NONBLOCK))
        .unwrap_or(false)
}

/// A NUL-terminated C `char` array as a String (lossy UTF-8).
pub(crate) fn c_string(field: &[c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Copies `s` into a C `char` array, refusing what would not fit with its
/// terminator.
pub(crate) fn put_c_string(
    field: &mut [c_char],
    s: &str,
    what: &str,
    op: Ioctl,
    path: &Path,
) -> Result<()> {
    if s.len() >= field.len() || s.as_bytes().contains(&0) {
        return Err(Error::new(
            ErrorKind::InvalidArgument(format!(
                "{what} {s:?} must be at most {} bytes without NUL",
                field.len() - 1
            )),
            op,
            path,
        ));
    }
    dahdi_sys::dahdi_copy_string(field, s.as_bytes());
    Ok(())
}
