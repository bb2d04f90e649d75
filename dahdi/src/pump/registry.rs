//! The pump's registry: its ports (each in a [`Slot`]), taps and rings, how
//! they are added and removed, and the statistics read from them.

use std::any::Any;
use std::time::Duration;

use crate::audio::mixer::{reserve_total, Format, Role};

use super::memory::MemoryPort;
use super::port::{Port, PortError};
use super::shm::ShmWriter;
use super::stats::{Histogram, PortReport, PortStats, PumpStats, TapReport};
use super::tap::{Stream, Subscriber, TapPublisher};
use super::tick::NO_CLAIM;
use super::{PortId, Pump, PumpError};

/// One port of the pump, with what the pump keeps about it.
pub(super) struct Slot {
    pub(super) id: PortId,
    pub(super) port: Box<dyn Port>,
    pub(super) role: Role,
    pub(super) errors: u64,
    pub(super) last_error: Option<String>,
    /// Whether the port's fd is in the epoll set of the current run.
    pub(super) watched: bool,
    /// Whether the port lends its frames ([`Port::lends`], asked once, and
    /// only where the engine can use lent frames in place).
    pub(super) lends: bool,
    /// Whether its group lends its frames (a memory port of a bank, see `LendGroup`): the tick
    /// then never visits the port itself.
    pub(super) grouped: bool,
    /// This tick, the port lent frames of the wrong size: they are not used,
    /// and the port is not committed.
    pub(super) refused: bool,
    /// Where the port is listed: its index in `Pump::loose`, or in its
    /// group's member list (so that leaving costs the same at any size).
    pub(super) place: u32,
    /// While a port that joined a running pump primes (see
    /// `Pump::join_running`): how many more ticks it may wait for its first
    /// frame. `None`: the port is read.
    pub(super) priming: Option<u64>,
}

impl Slot {
    /// Reads this tick's input into `frame`: silence, and the error counted,
    /// if the port fails.
    #[inline]
    pub(super) fn read(&mut self, frame: &mut [i16]) {
        if self.priming.is_some() && self.prime(frame) {
            return;
        }
        if let Err(e) = self.port.read(frame) {
            frame.fill(0);
            self.fail(e);
        }
    }

    /// A tick of a port that joined a running pump and is not yet primed: as
    /// at the start of a run, it is not read (its input is silence, not an
    /// underrun) until it is [primed](Port::primed); then it is
    /// [aligned](Port::align) and read from the next tick on, so that it has
    /// one tick of input in hand and does not underrun while its source
    /// keeps pace. Past [`PumpConfig::max_priming_ticks`](super::PumpConfig)
    /// it is read anyway. True when this tick's input is the silence made
    /// here.
    #[cold]
    fn prime(&mut self, frame: &mut [i16]) -> bool {
        let Some(left) = self.priming.as_mut() else {
            return false;
        };
        if self.port.primed() {
            self.port.align();
            self.priming = None;
        } else if *left == 0 {
            self.priming = None;
            return false;
        } else {
            *left -= 1;
        }
        frame.fill(0);
        true
    }

    #[cold]
    pub(super) fn fail(&mut self, e: PortError) {
        self.errors += 1;
        self.last_error = Some(e.to_string());
    }
}

/// A shared-memory ring and the streams published into it.
pub(super) struct Ring {
    pub(super) writer: ShmWriter,
    pub(super) streams: Vec<Stream>,
}

impl Pump {
    /// Adds a participant backed by `port`.
    ///
    /// # Errors
    ///
    /// [`PumpError::Mixer`] when the mixer is full.
    pub fn add_port(&mut self, port: impl Port + 'static, role: Role) -> Result<PortId, PumpError> {
        self.add_boxed(Box::new(port), role)
    }

    /// [`add_port`](Self::add_port) for a boxed port.
    ///
    /// # Errors
    ///
    /// As [`add_port`](Self::add_port).
    pub fn add_boxed(&mut self, port: Box<dyn Port>, role: Role) -> Result<PortId, PumpError> {
        let id = self.conf.add_participant(role, Format::Linear)?;
        let i = id.index();
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
            self.port_addrs.resize(i + 1, 0);
            self.claim_in.resize(i + 1, NO_CLAIM);
            self.claim_out.resize(i + 1, NO_CLAIM);
            self.loans.resize(i + 1);
        }
        self.port_addrs[i] = (&*port as *const dyn Port).cast::<u8>() as usize;
        let lends = port.lends(self.block) && self.conf.lends_in_place();
        // A memory port is lent with the rest of its bank (see `LendGroup`).
        let group = (&*port as &dyn Any)
            .downcast_ref::<MemoryPort>()
            .map(MemoryPort::lend_group)
            .filter(|_| lends);
        let grouped = group.is_some();
        let place = match group {
            Some((group, in_bank)) => {
                let member = (in_bank, i as u32);
                match self.groups.iter_mut().find(|(g, _)| g.same(&group)) {
                    Some((_, members)) => {
                        members.push(member);
                        members.len() - 1
                    }
                    None => {
                        // A member list of an earlier group, if any: a bank
                        // that leaves and comes back costs no allocation.
                        let mut members = self.spare_members.pop().unwrap_or_default();
                        members.push(member);
                        self.groups.push((group, members));
                        0
                    }
                }
            }
            None => {
                self.loose.push(i as u32);
                self.loose.len() - 1
            }
        } as u32;
        self.slots[i] = Some(Slot {
            id,
            lends,
            grouped,
            refused: false,
            port,
            role,
            errors: 0,
            last_error: None,
            watched: false,
            place,
            priming: None,
        });
        Ok(id)
    }

    fn slot(&self, id: PortId) -> Option<&Slot> {
        self.slots
            .get(id.index())
            .and_then(Option::as_ref)
            .filter(|s| s.id == id)
    }

    fn slot_mut(&mut self, id: PortId) -> Option<&mut Slot> {
        self.slots
            .get_mut(id.index())
            .and_then(Option::as_mut)
            .filter(|s| s.id == id)
    }

    /// Removes a port and gives it back.
    ///
    /// # Errors
    ///
    /// [`PumpError::UnknownPort`] for a handle of no present port.
    pub fn remove_port(&mut self, id: PortId) -> Result<Box<dyn Port>, PumpError> {
        self.slot(id).ok_or(PumpError::UnknownPort)?;
        self.conf.remove(id)?;
        let i = id.index();
        let slot = self.slots[i].take().expect("checked above");
        self.port_addrs[i] = 0;
        self.loans.input.0[i] = std::ptr::null();
        self.loans.output.0[i] = std::ptr::null_mut();
        // Out of its list in O(1): the list's last entry takes its place.
        let place = slot.place as usize;
        let moved = if slot.grouped {
            let (group, _) = (&*slot.port as &dyn Any)
                .downcast_ref::<MemoryPort>()
                .map(MemoryPort::lend_group)
                .expect("only memory ports are grouped");
            let k = self
                .groups
                .iter()
                .position(|(g, _)| g.same(&group))
                .expect("a grouped port's group is listed");
            let members = &mut self.groups[k].1;
            members.swap_remove(place);
            let moved = members.get(place).map(|&(_, row)| row);
            if members.is_empty() {
                let (_, members) = self.groups.swap_remove(k);
                self.spare_members.push(members);
            }
            moved
        } else {
            self.loose.swap_remove(place);
            self.loose.get(place).copied()
        };
        if let Some(row) = moved {
            if let Some(other) = self.slots[row as usize].as_mut() {
                other.place = place as u32;
            }
        }
        if slot.watched {
            self.unwatch(&*slot.port);
        }
        Ok(slot.port)
    }

    /// Changes a port's role from the next tick on.
    ///
    /// # Errors
    ///
    /// [`PumpError::Mixer`] for a handle of no present port.
    pub fn set_role(&mut self, id: PortId, role: Role) -> Result<(), PumpError> {
        self.conf.set_role(id, role)?;
        self.slot_mut(id).ok_or(PumpError::UnknownPort)?.role = role;
        Ok(())
    }

    /// The port behind `id`.
    pub fn port(&self, id: PortId) -> Option<&dyn Port> {
        self.slot(id).map(|s| &*s.port)
    }

    /// The port behind `id`, mutably.
    pub fn port_mut(&mut self, id: PortId) -> Option<&mut (dyn Port + 'static)> {
        self.slot_mut(id).map(|s| &mut *s.port)
    }

    /// Every port's handle, in index order.
    pub fn port_ids(&self) -> Vec<PortId> {
        self.slots.iter().flatten().map(|s| s.id).collect()
    }

    /// An in-process subscriber to `streams`, with `depth` buffers: it may
    /// hold up to `depth` ticks before it starts losing ticks.
    pub fn subscribe(&mut self, streams: &[Stream], depth: usize) -> Subscriber {
        let (tap, sub) = TapPublisher::new(streams, self.block, depth);
        self.add_tap(tap);
        sub
    }

    /// Feeds `tap` from the next tick on.
    pub(super) fn add_tap(&mut self, tap: TapPublisher) {
        self.taps.push(tap);
        // Room for every tap's frames, so that ticks do not allocate.
        let frames: usize = self.taps.iter().map(|t| t.streams().len()).sum();
        reserve_total(&mut self.pending, self.taps.len());
        reserve_total(&mut self.tap_frames.0, frames);
        reserve_total(&mut self.tap_frame_streams, frames);
    }

    /// Publishes `streams` into a shared-memory ring every tick, one record per
    /// stream (tagged with [`Stream::tag`], stamped with the tick).
    pub fn add_ring(&mut self, writer: ShmWriter, streams: &[Stream]) {
        self.add_ring_streams(writer, streams.to_vec());
    }

    /// [`add_ring`](Self::add_ring) with the stream list already made.
    pub(super) fn add_ring_streams(&mut self, writer: ShmWriter, streams: Vec<Stream>) {
        self.rings.push(Ring { writer, streams });
    }

    /// Forgets the work-time histogram and the tick counters (not the ports').
    pub fn reset_stats(&mut self) {
        self.work.clear();
        self.late = 0;
        self.skipped = 0;
        self.priming = 0;
        self.clipped = 0;
        self.max_due = 0;
    }

    /// A snapshot of every counter.
    pub fn stats(&self) -> PumpStats {
        let ns = |v: u64| Duration::from_nanos(v);
        let mut taps: Vec<TapReport> = self
            .taps
            .iter()
            .map(|t| TapReport {
                name: "tap".into(),
                frames_sent: t.frames_sent(),
                frames_dropped: t.frames_dropped(),
                ticks_dropped: t.ticks_dropped(),
            })
            .collect();
        taps.extend(self.rings.iter().map(|r| TapReport {
            name: r.writer.path().display().to_string(),
            frames_sent: r.writer.written(),
            frames_dropped: 0,
            ticks_dropped: 0,
        }));
        PumpStats {
            ticks: self.tick,
            late_ticks: self.late,
            skipped_ticks: self.skipped,
            priming_ticks: self.priming,
            clipped_ticks: self.clipped,
            max_due: self.max_due,
            work_p50: ns(self.work.quantile_ns(0.5)),
            work_p99: ns(self.work.quantile_ns(0.99)),
            work_max: ns(self.work.max_ns()),
            period: self.period,
            ports: self
                .slots
                .iter()
                .flatten()
                .map(|s| PortReport {
                    id: s.id,
                    name: s.port.name(),
                    role: s.role,
                    stats: PortStats {
                        errors: s.errors,
                        ..s.port.stats()
                    },
                    last_error: s.last_error.clone(),
                })
                .collect(),
            taps,
        }
    }

    /// The work-time histogram.
    pub fn work_histogram(&self) -> &Histogram {
        &self.work
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pump::PumpConfig;

    /// Memory ports are known by their type, whether added as themselves or
    /// boxed: a bank's ports form one group and are never visited one by one.
    #[test]
    fn memory_ports_of_a_bank_form_one_group() {
        let mut pump = Pump::new(PumpConfig::default()).unwrap();
        let mut bank = MemoryPort::bank(3, 160, 4).into_iter();
        let (a, _ea) = bank.next().unwrap();
        let (b, _eb) = bank.next().unwrap();
        let (c, _ec) = bank.next().unwrap();
        let ia = pump.add_port(a, Role::Both).unwrap();
        pump.add_boxed(Box::new(b), Role::Both).unwrap();
        pump.add_port(c, Role::Listener).unwrap();
        assert!(pump.loose.is_empty(), "a memory port was left loose");
        assert_eq!(pump.groups.len(), 1);
        assert_eq!(pump.groups[0].1.len(), 3);
        let back = pump.remove_port(ia).unwrap();
        assert!(
            (&*back as &dyn Any).is::<MemoryPort>(),
            "not given back as itself"
        );
        assert_eq!(pump.groups[0].1.len(), 2);
    }
}
