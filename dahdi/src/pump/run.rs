//! Running on a clock: the epoll loop that services ports between ticks,
//! primes and aligns them before the first tick, and catches up late ticks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use crate::fd::Readiness;

use super::clock::Clock;
use super::port::Port;
use super::{PortId, Pump, PumpError};

const CLOCK_TOKEN: u64 = u64::MAX;

fn epoll_flags(r: Readiness) -> EpollFlags {
    let mut f = EpollFlags::empty();
    if r.contains(Readiness::READ) {
        f |= EpollFlags::EPOLLIN;
    }
    if r.contains(Readiness::WRITE) {
        f |= EpollFlags::EPOLLOUT;
    }
    if r.contains(Readiness::EVENT) {
        f |= EpollFlags::EPOLLPRI;
    }
    f
}

fn readiness(f: EpollFlags) -> Readiness {
    let mut r = Readiness::empty();
    if f.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP) {
        r |= Readiness::READ;
    }
    if f.contains(EpollFlags::EPOLLOUT) {
        r |= Readiness::WRITE;
    }
    if f.contains(EpollFlags::EPOLLPRI) {
        r |= Readiness::EVENT;
    }
    r
}

fn epoll_error(op: &'static str, e: Errno) -> crate::Error {
    crate::Error::new(crate::ErrorKind::Other, crate::Op::Syscall(op), "epoll").with_errno(e)
}

impl Pump {
    /// Runs `ticks` ticks paced by `clock` (see the [module docs](super)).
    ///
    /// # Errors
    ///
    /// [`PumpError::ClockMismatch`] when the clock's period is not one block;
    /// [`PumpError::Dahdi`] when the clock or epoll fails. (A port that fails is counted in
    /// its statistics, not an error of the run.)
    pub fn run_for(&mut self, clock: &mut dyn Clock, ticks: u64) -> Result<(), PumpError> {
        self.run_inner(clock, Some(ticks), None)
    }

    /// Runs until `stop` is set (checked at least every 100 ms).
    ///
    /// # Errors
    ///
    /// As [`run_for`](Self::run_for).
    pub fn run_until(&mut self, clock: &mut dyn Clock, stop: &AtomicBool) -> Result<(), PumpError> {
        self.run_inner(clock, None, Some(stop))
    }

    fn run_inner(
        &mut self,
        clock: &mut dyn Clock,
        ticks: Option<u64>,
        stop: Option<&AtomicBool>,
    ) -> Result<(), PumpError> {
        let epoll = Arc::new(
            Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
                .map_err(|e| epoll_error("epoll_create1", e))?,
        );
        // Ports that join while the pump runs are watched by the same set.
        self.epoll = Some(epoll.clone());
        let run = self.run_loop(&epoll, clock, ticks, stop);
        self.epoll = None;
        for slot in self.slots.iter_mut().flatten() {
            slot.watched = false;
        }
        run
    }

    fn run_loop(
        &mut self,
        epoll: &Epoll,
        clock: &mut dyn Clock,
        ticks: Option<u64>,
        stop: Option<&AtomicBool>,
    ) -> Result<(), PumpError> {
        let block = Duration::from_nanos(self.block as u64 * 125_000);
        if clock.period() != block {
            return Err(PumpError::ClockMismatch {
                clock: clock.period(),
                block,
            });
        }
        let (cfd, cready) = clock.fd();
        epoll
            .add(cfd, EpollEvent::new(epoll_flags(cready), CLOCK_TOKEN))
            .map_err(|e| epoll_error("epoll_ctl", e))?;
        for slot in self.slots.iter_mut().flatten() {
            if let Err(e) = slot.port.start() {
                slot.fail(e);
            }
            slot.watched = false;
            if let Some((fd, ready)) = slot.port.fd() {
                epoll
                    .add(
                        fd,
                        EpollEvent::new(epoll_flags(ready), slot.id.index() as u64),
                    )
                    .map_err(|e| epoll_error("epoll_ctl", e))?;
                slot.watched = true;
            }
        }
        self.period = clock.period();
        // Ticks that fell due before the run are not the run's.
        self.priming += clock.due()?;
        let end = ticks.map(|n| self.tick + n);
        let mut primed = false;
        let mut waited = 0u64;
        let mut events = [EpollEvent::empty(); 64];
        loop {
            if end.is_some_and(|e| self.tick >= e)
                || stop.is_some_and(|s| s.load(Ordering::Relaxed))
            {
                break;
            }
            let n = match epoll.wait(&mut events, EpollTimeout::from(100u16)) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(epoll_error("epoll_wait", e).into()),
            };
            let mut due: u64 = 0;
            for ev in &events[..n] {
                if ev.data() == CLOCK_TOKEN {
                    due += clock.due()?;
                    continue;
                }
                let Some(slot) = self
                    .slots
                    .get_mut(ev.data() as usize)
                    .and_then(Option::as_mut)
                else {
                    continue;
                };
                if let Err(e) = slot.port.service(readiness(ev.events())) {
                    slot.fail(e);
                    // A port whose fd keeps failing would make epoll spin;
                    // from now on it is only read at ticks.
                    if let Some((fd, _)) = slot.port.fd() {
                        let _ = epoll.delete(fd);
                    }
                    slot.watched = false;
                }
            }
            if due == 0 {
                continue;
            }
            if !primed {
                let all = self.slots.iter().flatten().all(|s| s.port.primed());
                waited += due;
                if !all && waited <= self.config.max_priming_ticks {
                    self.priming += due;
                    continue;
                }
                for slot in self.slots.iter_mut().flatten() {
                    slot.port.align();
                }
                primed = true;
                // The first tick runs at the next clock tick, not now: by
                // then every port has its newest frame plus one more period's
                // worth, whatever the phase of its blocks against the clock
                // (and even if the clock's wake-up overtook a channel's
                // block of the same millisecond). That one period of input
                // latency is what makes underruns impossible while the
                // sources keep pace.
                self.priming += due;
                continue;
            }
            self.max_due = self.max_due.max(due);
            let late = (due - 1).min(self.config.max_catch_up);
            self.skipped += due - 1 - late;
            let mut run = 1 + late;
            if let Some(e) = end {
                run = run.min(e - self.tick);
            }
            self.late += late.min(run.saturating_sub(1));
            for _ in 0..run {
                self.tick();
            }
            self.answer_stats();
        }
        Ok(())
    }

    /// Starts a port that joined while the pump runs (a no-op between runs:
    /// `run` starts every port): started, its fd watched, and aligned if it is
    /// primed; if not (a DAHDI channel, whose queued audio `start` just
    /// dropped), it primes as every port does before a run's first tick: its
    /// input is silence until it is primed and one tick more (see
    /// `Slot::prime`), which is what keeps it from underrunning later.
    pub(super) fn join_running(&mut self, id: PortId) {
        let Some(epoll) = self.epoll.clone() else {
            return;
        };
        let max_priming = self.config.max_priming_ticks;
        let Some(slot) = self.slots.get_mut(id.index()).and_then(Option::as_mut) else {
            return;
        };
        if let Err(e) = slot.port.start() {
            slot.fail(e);
        }
        if slot.port.primed() {
            slot.port.align();
        } else {
            slot.priming = Some(max_priming);
        }
        if let Some((fd, ready)) = slot.port.fd() {
            let event = EpollEvent::new(epoll_flags(ready), slot.id.index() as u64);
            match epoll.add(fd, event) {
                Ok(()) => slot.watched = true,
                Err(e) => slot.fail(epoll_error("epoll_ctl", e).into()),
            }
        }
    }

    /// Takes a leaving port's fd out of the running pump's epoll set.
    pub(super) fn unwatch(&self, port: &dyn Port) {
        if let (Some(epoll), Some((fd, _))) = (&self.epoll, port.fd()) {
            let _ = epoll.delete(fd);
        }
    }
}
