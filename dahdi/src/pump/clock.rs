//! Clocks: what paces the pump's ticks.
//!
//! A clock is a file descriptor that becomes ready when ticks are due, plus a
//! non-blocking call that says how many are due. The pump puts the clock's fd
//! into the same epoll set as its ports, so one thread waits for both.
//!
//! * [`SoftClock`]: a `timerfd` on `CLOCK_MONOTONIC` with a fixed interval.
//!   The kernel keeps the grid absolute (expiry k is at start + k * period,
//!   whatever the wake-up latency) and its read returns how many expiries
//!   passed, so a late wake-up is seen as several ticks, never lost or merged.
//! * [`DahdiClock`]: a `/dev/dahdi/timer` armed for one block. It runs off
//!   DAHDI's own timing (the span hardware's interrupt, or the core timer
//!   without hardware), the same timing that moves audio through DAHDI
//!   channels, so a pump on DAHDI channels neither drifts from them nor needs
//!   resynchronising. Each expiry increments a count in the kernel
//!   (`tripped`); [`DahdiClock::due`] acknowledges them one by one.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use crate::event::Event;
use crate::fd::Readiness;
use crate::timer::Timer;

/// Something that paces ticks.
pub trait Clock {
    /// The fd the pump waits on, and what it signals when ticks are due.
    fn fd(&self) -> (BorrowedFd<'_>, Readiness);

    /// Ticks that became due since the last call; 0 if none. Never blocks.
    ///
    /// # Errors
    ///
    /// A failure of the clock's descriptor.
    fn due(&mut self) -> crate::Result<u64>;

    /// The tick period.
    fn period(&self) -> Duration;
}

/// A `timerfd` soft clock on `CLOCK_MONOTONIC`.
#[derive(Debug)]
pub struct SoftClock {
    fd: TimerFd,
    period: Duration,
}

fn timerfd_error(op: &'static str, e: Errno) -> crate::Error {
    crate::Error::new(crate::ErrorKind::Other, crate::Op::Syscall(op), "timerfd").with_errno(e)
}

impl SoftClock {
    /// A clock ticking every `period`, first one `period` from now.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for a zero period;
    /// a failure of `timerfd_create` or `timerfd_settime`.
    pub fn new(period: Duration) -> crate::Result<SoftClock> {
        if period.is_zero() {
            return Err(crate::Error::new(
                crate::ErrorKind::InvalidArgument("a zero tick period".into()),
                crate::Op::Syscall("timerfd_settime"),
                "timerfd",
            ));
        }
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(|e| timerfd_error("timerfd_create", e))?;
        fd.set(
            Expiration::Interval(TimeSpec::from_duration(period)),
            TimerSetTimeFlags::empty(),
        )
        .map_err(|e| timerfd_error("timerfd_settime", e))?;
        Ok(SoftClock { fd, period })
    }

    /// A clock for `block` samples at 8 kHz (160 samples: 20 ms).
    ///
    /// # Errors
    ///
    /// As [`SoftClock::new`].
    pub fn for_block(block: usize) -> crate::Result<SoftClock> {
        Self::new(Duration::from_nanos(block as u64 * 125_000))
    }
}

impl Clock for SoftClock {
    fn fd(&self) -> (BorrowedFd<'_>, Readiness) {
        (self.fd.as_fd(), Readiness::READ)
    }

    fn due(&mut self) -> crate::Result<u64> {
        let mut buf = [0u8; 8];
        loop {
            match nix::unistd::read(self.fd.as_fd().as_raw_fd(), &mut buf) {
                // The kernel returns the number of expiries since the last read.
                Ok(8) => return Ok(u64::from_ne_bytes(buf)),
                Ok(_) => return Err(timerfd_error("read", Errno::EIO)),
                Err(Errno::EAGAIN) => return Ok(0),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(timerfd_error("read", e)),
            }
        }
    }

    fn period(&self) -> Duration {
        self.period
    }
}

/// A clock on a DAHDI timer (`/dev/dahdi/timer`).
#[derive(Debug)]
pub struct DahdiClock {
    timer: Timer,
    block: usize,
}

impl DahdiClock {
    /// Opens a timer that expires every `block` samples (8 per ms).
    ///
    /// # Errors
    ///
    /// As [`Timer::open`] and
    /// [`Timer::set_interval_samples`].
    pub fn new(block: usize) -> crate::Result<DahdiClock> {
        let timer = Timer::open()?;
        timer.set_interval_samples(block as u32)?;
        Ok(DahdiClock { timer, block })
    }

    /// The timer.
    pub fn timer(&self) -> &Timer {
        &self.timer
    }
}

impl Clock for DahdiClock {
    fn fd(&self) -> (BorrowedFd<'_>, Readiness) {
        // dahdi_timer_poll signals POLLPRI while `tripped` is non-zero.
        (self.timer.as_fd(), Readiness::EVENT)
    }

    fn due(&mut self) -> crate::Result<u64> {
        // The kernel keeps a count of expiries but has no call to read it:
        // DAHDI_GETEVENT says whether it is non-zero, DAHDI_TIMERACK with 1
        // takes one off. So count by acknowledging one at a time; normally
        // that is one or two calls per tick.
        let mut n = 0;
        while self.timer.event()? == Some(Event::TimerExpired) {
            self.timer.ack(1)?;
            n += 1;
        }
        Ok(n)
    }

    fn period(&self) -> Duration {
        Duration::from_nanos(self.block as u64 * 125_000)
    }
}
