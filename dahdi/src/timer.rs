//! Timers (`/dev/dahdi/timer`): every open is an independent timer driven
//! by DAHDI's timing source, 1 ms resolution, signalled by `POLLPRI`.
//! This is what Asterisk's `res_timing_dahdi` uses.
//!
//! A timer carries no audio: the kernel refuses `read` and `write` on it,
//! so [`Timer`] has no `Read`/`Write`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dahdi_sys::{self as sys, ioctl, Ioctl};
use libc::c_int;

use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::fd::{ioctl, open_node, poll_fd, NodeKind, Readiness};

/// Samples per millisecond (8 kHz).
pub const SAMPLES_PER_MS: u32 = 8;

/// A DAHDI timer.
#[derive(Debug)]
pub struct Timer {
    fd: OwnedFd,
    path: PathBuf,
}

impl Timer {
    /// Opens a new timer (stopped).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ModuleNotLoaded`] when
    /// `/dev/dahdi/timer` is missing,
    /// [`ErrorKind::PermissionDenied`].
    pub fn open() -> Result<Timer> {
        let path = PathBuf::from(sys::DAHDI_TIMER_PATH);
        let fd = open_node(&path, false, NodeKind::Fixed)?;
        Ok(Timer { fd, path })
    }

    /// The node it was opened through.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn set_int(
        &self,
        op: Ioctl,
        f: unsafe fn(c_int, *const c_int) -> nix::Result<c_int>,
        v: i32,
    ) -> Result<()> {
        let raw = self.fd.as_raw_fd();
        // SAFETY: valid fd and int pointer.
        ioctl(&self.path, op, None, || unsafe { f(raw, &v) })?;
        Ok(())
    }

    /// Arms the timer to expire every `samples` samples at 8 kHz
    /// (`DAHDI_TIMERCONFIG`; 8 samples = 1 ms; 0 stops it). Asterisk uses
    /// 160 for 50 Hz.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] before the call
    /// for an interval beyond `i32::MAX` samples; any refusal of `DAHDI_TIMERCONFIG`.
    #[doc(alias = "DAHDI_TIMERCONFIG")]
    pub fn set_interval_samples(&self, samples: u32) -> Result<()> {
        if samples > i32::MAX as u32 {
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!("{samples} samples is too long")),
                ioctl::DAHDI_TIMERCONFIG,
                &self.path,
            ));
        }
        self.set_int(
            ioctl::DAHDI_TIMERCONFIG,
            sys::dahdi_timerconfig,
            samples as i32,
        )
    }

    /// Arms the timer with a period in whole milliseconds (the timer's
    /// resolution); `Duration::ZERO` stops it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a period below
    /// 1 ms (other than zero); as [`set_interval_samples`](Self::set_interval_samples).
    #[doc(alias = "DAHDI_TIMERCONFIG")]
    pub fn set_interval(&self, period: Duration) -> Result<()> {
        let ms = period.as_millis();
        if ms == 0 && !period.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "{period:?} is below the timer's 1 ms resolution"
                )),
                ioctl::DAHDI_TIMERCONFIG,
                &self.path,
            ));
        }
        self.set_interval_samples((ms as u32).saturating_mul(SAMPLES_PER_MS))
    }

    /// Acknowledges `n` expirations (`DAHDI_TIMERACK`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_TIMERACK`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_TIMERACK")]
    pub fn ack(&self, n: u32) -> Result<()> {
        self.set_int(ioctl::DAHDI_TIMERACK, sys::dahdi_timerack, n.max(1) as i32)
    }

    /// Acknowledges every pending expiration.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_TIMERACK`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_TIMERACK")]
    pub fn ack_all(&self) -> Result<()> {
        self.set_int(ioctl::DAHDI_TIMERACK, sys::dahdi_timerack, -1)
    }

    /// Makes the timer signal at once (`DAHDI_TIMERPING`), until
    /// [`pong`](Self::pong): Asterisk's "continuous" mode.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_TIMERPING`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_TIMERPING")]
    pub fn ping(&self) -> Result<()> {
        let raw = self.fd.as_raw_fd();
        // SAFETY: valid fd, no argument.
        ioctl(&self.path, ioctl::DAHDI_TIMERPING, None, || unsafe {
            sys::dahdi_timerping(raw)
        })?;
        Ok(())
    }

    /// Ends a ping (`DAHDI_TIMERPONG`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_TIMERPONG`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_TIMERPONG")]
    pub fn pong(&self) -> Result<()> {
        let raw = self.fd.as_raw_fd();
        // SAFETY: valid fd, no argument.
        ioctl(&self.path, ioctl::DAHDI_TIMERPONG, None, || unsafe {
            sys::dahdi_timerpong(raw)
        })?;
        Ok(())
    }

    /// What the timer signals now (`DAHDI_GETEVENT`): a ping takes
    /// precedence over expirations; `None` when neither. Unlike a
    /// channel's, this does not consume anything: acknowledge expirations
    /// with [`ack`](Self::ack) and end a ping with [`pong`](Self::pong).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GETEVENT`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_GETEVENT")]
    pub fn event(&self) -> Result<Option<Event>> {
        let mut v: c_int = 0;
        let raw = self.fd.as_raw_fd();
        // SAFETY: valid fd and int pointer.
        ioctl(&self.path, ioctl::DAHDI_GETEVENT, None, || unsafe {
            sys::dahdi_getevent(raw, &mut v)
        })?;
        Ok(Event::from_raw(v))
    }

    /// Waits up to `timeout` (forever with `None`) for the timer to
    /// signal (`POLLPRI`); true if it did.
    ///
    /// # Errors
    ///
    /// `poll(2)` failed: [`ErrorKind::Other`] with its errno.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        Ok(poll_fd(&self.fd, &self.path, Readiness::EVENT, timeout)?.contains(Readiness::EVENT))
    }
}

crate::fd::fd_traits!(Timer, fd);
