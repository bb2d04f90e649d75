//! The channel pump: moves 8 kHz frames between ports and the conference
//! engine, once per tick, in real time.
//!
//! # Pieces
//!
//! * A [`Pump`] owns one [`crate::audio::mixer::Mixer`]
//!   and one [`Port`] per participant. A port is where a participant's audio
//!   comes from and goes to:
//!   [`MemoryPort`] (an application thread, through lock-free queues: the
//!   embedded default, no DAHDI needed), [`DahdiPort`] (a pseudo or span
//!   channel, non-blocking, epoll-driven), [`FilePort`] (WAV playback and
//!   recording) and [`ShmPort`] (a participant in another process, through
//!   shared memory).
//! * A [`Clock`] paces the ticks: [`DahdiClock`] (`/dev/dahdi/timer`, DAHDI's
//!   own timing, the one to use with DAHDI ports) or [`SoftClock`] (a
//!   `timerfd` when there is no DAHDI).
//! * Subscribers watch [`Stream`]s (the mix, a port's input or output):
//!   in-process through [`Pump::subscribe`] (a crossbeam channel, one message
//!   per tick), out-of-process through [`Pump::add_ring`] (a shared-memory ring
//!   read by [`ShmReader`]s; layout in [`shm`]).
//! * [`Pump::stats`] returns a [`PumpStats`]: ticks, late and skipped ticks,
//!   work time per tick (p50/p99/max), and every port's and subscriber's
//!   counters.
//!
//! # A tick
//!
//! [`Pump::tick`] gets one frame from every port, mixes, gives every port its
//! output, then feeds the subscribers. Ports that can [lend](Port::lend) their
//! frames in place (a [`MemoryPort`] lends its queue slots) are mixed without a
//! copy: the engine reads the input where the application queued it and
//! writes the output straight into the slot the application will pop. The
//! memory ports of one [bank](MemoryPort::bank) are lent together, in one pass
//! over the bank per tick ([`LendGroup`]), not through a call per port. Other
//! ports read straight into the engine's input buffers and are written from its
//! output buffers. Nothing in a tick allocates or blocks:
//! ports deliver silence and count an underrun when they have nothing, drop
//! and count what their sinks refuse, and subscribers that fall behind lose
//! whole ticks, counted.
//!
//! # Running on a clock
//!
//! [`Pump::run_for`] and [`Pump::run_until`] wait in one epoll set for the clock
//! and every port that has a file descriptor; ports are serviced as their fds
//! become ready, and ticks run as the clock makes them due. Before the first
//! tick the pump calls [`Port::start`] on every port and waits until every port
//! is [primed](Port::primed) (has its first frame; bounded by
//! [`PumpConfig::max_priming_ticks`]), then [aligns](Port::align) them and
//! starts with the clock's next tick: with DAHDI ports this is what makes a
//! tick never find a channel empty.
//!
//! **Late ticks are run, and counted.** When the clock reports several ticks
//! due at once (the thread was not scheduled in time), the pump runs them all,
//! back to back, so that ports that are paced by the same clock keep one frame
//! per tick; all but the first count as [`late_ticks`](PumpStats::late_ticks).
//! Beyond [`PumpConfig::max_catch_up`] late ticks in one go (a stall of
//! hundreds of milliseconds), the excess is not run and is counted as
//! [`skipped_ticks`](PumpStats::skipped_ticks) instead. No tick is ever merged
//! silently: `ticks + skipped_ticks + priming_ticks` is every tick the clock
//! produced while the pump ran.
//!
//! # Example: an embedded conference
//!
//! ```
//! use dahdi::audio::mixer::Role;
//! use dahdi::pump::{MemoryPort, Pump, PumpConfig, Stream};
//!
//! let mut pump = Pump::new(PumpConfig::default()).unwrap();
//! let (alice, mut alice_app) = MemoryPort::new(160, 4);
//! let (bob, mut bob_app) = MemoryPort::new(160, 4);
//! let a = pump.add_port(alice, Role::Both).unwrap();
//! pump.add_port(bob, Role::Both).unwrap();
//! let mix = pump.subscribe(&[Stream::Mix, Stream::Output(a)], 8);
//!
//! alice_app.push(&[1000; 160]);
//! bob_app.push(&[-300; 160]);
//! pump.tick(); // normally driven by pump.run_for(&mut clock, n)
//!
//! let mut heard = [0i16; 160];
//! assert!(bob_app.pop(&mut heard));
//! assert_eq!(heard[0], 1000); // Bob hears Alice
//! assert!(alice_app.pop(&mut heard));
//! assert_eq!(heard[0], -300); // and Alice hears Bob
//! let batch = mix.recv().unwrap();
//! assert_eq!(batch.frame(0)[0], 700); // the mix of both
//! assert_eq!(batch.frame(1)[0], -300); // Alice's output
//! ```

mod clock;
mod dahdi_port;
mod memory;
mod port;
pub mod shm;
mod stats;
mod tap;
pub mod wav;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use crate::audio::mixer::{
    reserve_total, Format, Mixer, MixerConfig, MixerError, ParticipantId, Role,
};
use crate::audio::Isa;
use crate::fd::Readiness;

pub use clock::{Clock, DahdiClock, SoftClock};
pub use dahdi_port::{DahdiPort, DahdiPortConfig};
pub use memory::{MemoryEndpoint, MemoryPort};
pub use port::{LendGroup, LentFrames, Port, PortError};
pub use shm::{RingConfig, ShmError, ShmPort, ShmReader, ShmWriter};
pub use stats::{Histogram, PortReport, PortStats, PumpStats, TapReport};
pub use tap::{Published, Stream, Subscriber, TapBatch, TapPublisher};
pub use wav::{FilePort, WavError, WavReader, WavWriter};

/// A port's handle: the same as its participant's in the mixer, so
/// [`PortId::index`] is dense from 0.
pub type PortId = ParticipantId;

/// How a [`Pump`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PumpConfig {
    /// Samples per tick (160 = 20 ms).
    pub block_size: usize,
    /// Most late ticks run back to back after one wake-up; more are skipped.
    pub max_catch_up: u64,
    /// Most clock ticks to wait for every port to be primed before starting
    /// anyway (ports not primed then start with underruns).
    pub max_priming_ticks: u64,
    /// Participants to reserve room for.
    pub capacity: usize,
    /// Force a SIMD level for the engine (tests, benchmarks); `None` detects.
    pub isa: Option<Isa>,
}

impl Default for PumpConfig {
    /// 160-sample ticks, up to 10 late ticks caught up (200 ms), up to 50
    /// ticks (1 s) of priming.
    fn default() -> Self {
        PumpConfig {
            block_size: 160,
            max_catch_up: 10,
            max_priming_ticks: 50,
            capacity: 0,
            isa: None,
        }
    }
}

/// Errors of the pump itself (port I/O errors are counted, not returned).
#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    /// The mixer refused.
    #[error(transparent)]
    Mixer(#[from] MixerError),
    /// The clock or the epoll set failed.
    #[error(transparent)]
    Dahdi(#[from] crate::Error),
    /// No such port.
    #[error("no such port")]
    UnknownPort,
    /// The clock ticks at another rate than one block of the pump's: every
    /// port would overrun or underrun.
    #[error("the clock ticks every {clock:?}, but the pump's blocks last {block:?}")]
    ClockMismatch {
        /// The clock's period.
        clock: Duration,
        /// The pump's block, as a duration at 8 kHz.
        block: Duration,
    },
}

struct Slot {
    id: PortId,
    port: Box<dyn Port>,
    role: Role,
    errors: u64,
    last_error: Option<String>,
    /// Whether the port's fd is in the epoll set of the current run.
    watched: bool,
    /// Whether the port lends its frames ([`Port::lends`], asked once, and
    /// only where the engine can use lent frames in place).
    lends: bool,
    /// Whether its group lends its frames ([`Port::lend_group`]): the tick
    /// then never visits the port itself.
    grouped: bool,
    /// This tick, the port lent frames of the wrong size: they are not used,
    /// and the port is not committed.
    refused: bool,
}

impl Slot {
    /// Reads this tick's input into `frame`: silence, and the error counted,
    /// if the port fails.
    #[inline]
    fn read(&mut self, frame: &mut [i16]) {
        if let Err(e) = self.port.read(frame) {
            frame.fill(0);
            self.fail(e);
        }
    }

    #[cold]
    fn fail(&mut self, e: PortError) {
        self.errors += 1;
        self.last_error = Some(e.to_string());
    }
}

struct Ring {
    writer: ShmWriter,
    streams: Vec<Stream>,
}

/// The channel pump. See the [module docs](self).
pub struct Pump {
    conf: Mixer,
    block: usize,
    config: PumpConfig,
    slots: Vec<Option<Slot>>,
    taps: Vec<TapPublisher>,
    rings: Vec<Ring>,
    silence: Vec<i16>,
    tick: u64,
    late: u64,
    skipped: u64,
    priming: u64,
    clipped: u64,
    max_due: u64,
    work: Histogram,
    period: Duration,
    /// Per slot (= engine row), the frames lent to the engine this tick: by
    /// ports that lend, and tap frames standing in for other ports' streams.
    loans: Loans,
    /// The slots of ports that are not in a group, which the tick visits one
    /// by one.
    loose: Vec<u32>,
    /// The lending groups, each with its members: (place in the group, slot).
    groups: Vec<(LendGroup, Vec<(u32, u32)>)>,
    /// Per slot, the address of its port object (0: none), to prefetch.
    port_addrs: Vec<usize>,
    /// Per tap, this tick's batch buffer (`None`: the tap loses this tick).
    pending: Vec<Option<tap::BatchBuffer>>,
    /// The tick's tap frames, one per stream of every tap that has a buffer
    /// (pointers into `pending`'s buffers): null once the pump lent it to the
    /// engine or a port (empty between ticks; kept for its allocation).
    tap_frames: Scratch<*mut i16>,
    /// Per tap frame: its stream.
    tap_frame_streams: Vec<Stream>,
    /// Per slot, the tap frame its port reads its input into this tick, or
    /// [`NO_CLAIM`] (only ports that do not lend; see [`Pump::tick`]).
    claim_in: Vec<u32>,
    /// Per slot, the tap frame the engine writes its output into this tick, or
    /// [`NO_CLAIM`].
    claim_out: Vec<u32>,
}

/// In `claim_in` and `claim_out`: no tap frame.
const NO_CLAIM: u32 = u32::MAX;

/// A vector of frame pointers that are only dereferenced inside one
/// [`Pump::tick`], which sets them from borrows that outlive their use; between
/// ticks every entry is null or dead and never read.
#[derive(Default)]
struct Scratch<T>(Vec<T>);

// SAFETY: see `Scratch`: no pointer in it is dereferenced outside the tick that
// set it, on the thread running that tick.
unsafe impl<T> Send for Scratch<T> {}
// SAFETY: `&Scratch` gives access to no frame.
unsafe impl<T> Sync for Scratch<T> {}

/// Per slot, the frames lent to the engine for this tick's
/// [`Mixer::mix_rows`]. Between ticks the entries of loose ports and of
/// empty slots are null; those of grouped ports keep last tick's frames, which
/// their group rewrites at every tick before any use (and which are nulled when
/// the port is removed).
#[derive(Default)]
struct Loans {
    input: Scratch<*const i16>,
    output: Scratch<*mut i16>,
}

impl Loans {
    fn resize(&mut self, slots: usize) {
        self.input.0.resize(slots, std::ptr::null());
        self.output.0.resize(slots, std::ptr::null_mut());
    }

    /// The frame lent for stream `s` of the live port `p` this tick, if any
    /// (the mix is never lent).
    ///
    /// # Safety
    ///
    /// Within a tick, between the loans and the port's commit.
    unsafe fn frame(&self, s: Stream, block: usize) -> Option<&[i16]> {
        let ptr = match s {
            Stream::Mix => return None,
            Stream::Input(p) => *self.input.0.get(p.index())?,
            Stream::Output(p) => self.output.0.get(p.index())?.cast_const(),
        };
        // SAFETY: a non-null entry is a lent frame of `block` samples, valid
        // until the port commits (the caller's contract).
        (!ptr.is_null()).then(|| unsafe { std::slice::from_raw_parts(ptr, block) })
    }
}

/// How many ports ahead the tick's loops prefetch: every port is its own
/// allocation, which with thousands of ports and an application touching
/// megabytes between ticks is out of cache by the next tick.
const PREFETCH_PORTS: usize = 8;

/// Prefetches the port object of the loose port `PREFETCH_PORTS` places after
/// the `k`th.
#[inline(always)]
fn prefetch_loose(port_addrs: &[usize], loose: &[u32], k: usize) {
    prefetch_port(
        loose
            .get(k + PREFETCH_PORTS)
            .and_then(|&i| port_addrs.get(i as usize)),
    );
}

/// Starts loading the first two cache lines of the port object at `addr` (0:
/// none). The address is only prefetched, never dereferenced.
#[inline(always)]
fn prefetch_port(addr: Option<&usize>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(&addr) = addr {
        let p = addr as *const i8;
        // SAFETY: prefetching never faults, whatever the address.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

impl std::fmt::Debug for Pump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump")
            .field("ports", &self.conf.len())
            .field("tick", &self.tick)
            .finish()
    }
}

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
    /// A pump with no port yet.
    ///
    /// # Errors
    ///
    /// [`PumpError::Mixer`] for a block size or forced SIMD level the mixer refuses.
    pub fn new(config: PumpConfig) -> Result<Pump, PumpError> {
        let conf = Mixer::new(MixerConfig {
            block_size: config.block_size,
            capacity: config.capacity,
            isa: config.isa,
        })?;
        Ok(Pump {
            conf,
            block: config.block_size,
            config,
            slots: Vec::with_capacity(config.capacity),
            taps: Vec::new(),
            rings: Vec::new(),
            silence: vec![0; config.block_size],
            tick: 0,
            late: 0,
            skipped: 0,
            priming: 0,
            clipped: 0,
            max_due: 0,
            work: Histogram::new(),
            period: Duration::ZERO,
            loans: Loans::default(),
            loose: Vec::with_capacity(config.capacity),
            groups: Vec::new(),
            port_addrs: Vec::with_capacity(config.capacity),
            pending: Vec::new(),
            tap_frames: Scratch::default(),
            tap_frame_streams: Vec::new(),
            claim_in: Vec::with_capacity(config.capacity),
            claim_out: Vec::with_capacity(config.capacity),
        })
    }

    /// Samples per tick.
    pub fn block_size(&self) -> usize {
        self.block
    }

    /// Ticks run so far.
    pub fn ticks(&self) -> u64 {
        self.tick
    }

    /// The mixer (read-only: what everyone heard last tick). The
    /// engine's own buffers do not hold the frames the pump lent it: those of
    /// ports that lend them ([`Port::lends`], e.g. memory ports), whose audio is
    /// in the ports, and the tapped streams of other ports, which are made in
    /// the subscribers' batches (see [`Pump::tick`]). A [`Stream`]
    /// subscription sees them all.
    pub fn mixer(&self) -> &Mixer {
        &self.conf
    }

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
        let group = port.lend_group().filter(|_| lends);
        let grouped = group.is_some();
        match group {
            Some((group, place)) => {
                let member = (place, i as u32);
                match self.groups.iter_mut().find(|(g, _)| g.same(&group)) {
                    Some((_, members)) => members.push(member),
                    None => self.groups.push((group, vec![member])),
                }
            }
            None => self.loose.push(i as u32),
        }
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
        if slot.grouped {
            for (_, members) in &mut self.groups {
                members.retain(|&(_, row)| row as usize != i);
            }
            self.groups.retain(|(_, members)| !members.is_empty());
        } else {
            self.loose.retain(|&row| row as usize != i);
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
        self.taps.push(tap);
        // Room for every tap's frames, so that ticks do not allocate.
        let frames: usize = self.taps.iter().map(|t| t.streams().len()).sum();
        reserve_total(&mut self.pending, self.taps.len());
        reserve_total(&mut self.tap_frames.0, frames);
        reserve_total(&mut self.tap_frame_streams, frames);
        sub
    }

    /// Publishes `streams` into a shared-memory ring every tick, one record per
    /// stream (tagged with [`Stream::tag`], stamped with the tick).
    pub fn add_ring(&mut self, writer: ShmWriter, streams: &[Stream]) {
        self.rings.push(Ring {
            writer,
            streams: streams.to_vec(),
        });
    }

    /// Runs one tick now: read every port, mix, write every port, feed the
    /// subscribers. See the [module docs](self).
    ///
    /// Ports that [lend](Port::lend) their frames are mixed in place (no copy in
    /// or out) and [committed](Port::commit) at the end (the ports of a
    /// [`LendGroup`] by their group, in one pass each); the others are
    /// [read](Port::read) into the engine's buffers and [written](Port::write)
    /// from them. Subscribers' frames are made where they are delivered: each
    /// tap takes a free batch buffer first, and a port that does not lend reads
    /// a tapped input straight into it, the engine writes a tapped output
    /// straight into it, and the port is written from there. Only frames that
    /// lie elsewhere (the mix, a lending port's frames, a stream two taps share)
    /// are copied into a batch.
    pub fn tick(&mut self) {
        let t0 = Instant::now();
        let block = self.block;
        let tick = self.tick;
        // Tap frames stand in for a port's streams only where lent frames can.
        let in_place = self.conf.lends_in_place();

        let mut disconnected = false;
        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        for tap in &mut self.taps {
            pending.push(match tap.take_buffer() {
                Ok(buf) => Some(buf),
                Err(r) => {
                    disconnected |= r == Published::Disconnected;
                    None
                }
            });
        }
        let tap_frames = &mut self.tap_frames.0;
        tap_frames.clear();
        self.tap_frame_streams.clear();
        for (tap, buf) in self.taps.iter().zip(&mut pending) {
            let Some(buf) = buf else { continue };
            for (&s, frame) in tap
                .streams()
                .iter()
                .zip(buf.samples_mut().chunks_exact_mut(block))
            {
                let g = tap_frames.len() as u32;
                let (p, claims) = match s {
                    Stream::Mix => (None, &mut self.claim_in),
                    Stream::Input(p) => (Some(p), &mut self.claim_in),
                    Stream::Output(p) => (Some(p), &mut self.claim_out),
                };
                // The first tap frame of a stream of a port that does not lend
                // is where that frame is made; the others are copies of it.
                if let Some(p) = p.filter(|_| in_place) {
                    let copy_path = self.slots.get(p.index()).and_then(Option::as_ref);
                    if copy_path.is_some_and(|slot| slot.id == p && !slot.lends)
                        && claims[p.index()] == NO_CLAIM
                    {
                        claims[p.index()] = g;
                    }
                }
                tap_frames.push(frame.as_mut_ptr());
                self.tap_frame_streams.push(s);
            }
        }

        let (loan_in, loan_out) = (&mut self.loans.input.0, &mut self.loans.output.0);
        for (group, members) in &self.groups {
            group.0.lend_all(members, loan_in, loan_out);
        }
        for (k, &i) in self.loose.iter().enumerate() {
            let i = i as usize;
            prefetch_loose(&self.port_addrs, &self.loose, k);
            let Some(slot) = &mut self.slots[i] else {
                continue;
            };
            if slot.lends {
                let frames = slot.port.lend();
                let lens = (
                    frames.input.map(<[i16]>::len),
                    frames.output.as_ref().map(|f| f.len()),
                );
                let wrong = |n: Option<usize>| n.is_some_and(|n| n != block);
                let refused = wrong(lens.0) || wrong(lens.1);
                if refused || frames.input.is_none() {
                    // An underrun, or frames the pump cannot use: silence, from
                    // the engine's own buffer.
                    if let Ok(f) = self.conf.input_mut(slot.id) {
                        f.fill(0);
                    }
                }
                if refused {
                    // A port breaking the lending contract: its frames are not
                    // used this tick (output lost too), and it is counted
                    // (by hand: `Slot::fail` needs the whole slot, which the lent
                    // frames still borrow).
                    slot.errors += 1;
                    slot.last_error = Some(format!(
                        "lent frames of {:?}/{:?} samples, the block is {block}",
                        lens.0, lens.1
                    ));
                    slot.refused = true;
                    continue;
                }
                // The frames stay valid until the port's commit (the `Port`
                // contract), after every use of the loans below.
                if let Some(f) = frames.input {
                    loan_in[i] = f.as_ptr();
                }
                if let Some(f) = frames.output {
                    loan_out[i] = f.as_mut_ptr();
                }
                continue;
            }
            let mut claimed = |g: u32| {
                tap_frames
                    .get_mut(g as usize)
                    .map_or(std::ptr::null_mut(), |f| {
                        std::mem::replace(f, std::ptr::null_mut())
                    })
            };
            let tapped_in = claimed(self.claim_in[i]);
            let tapped_out = claimed(self.claim_out[i]);
            if tapped_in.is_null() {
                if let Ok(f) = self.conf.input_mut(slot.id) {
                    slot.read(f);
                }
            } else {
                // SAFETY: a tap frame is `block` samples of a buffer in
                // `pending`, claimed by this port alone, and nothing else refers
                // to it while the port reads into it.
                slot.read(unsafe { std::slice::from_raw_parts_mut(tapped_in, block) });
                loan_in[i] = tapped_in;
            }
            // The engine mixes this port's output into its tap frame.
            loan_out[i] = tapped_out;
        }
        // SAFETY: every non-null loan is one block (checked above for lent
        // frames; tap frames are blocks) valid until the commits and writes
        // below; loans exist only when `lends_in_place`; a lent output is a
        // port's own output slot or a tap frame claimed once, neither of which
        // overlaps any other frame or the engine's buffers.
        unsafe { self.conf.mix_rows(loan_in, loan_out) };
        if self.conf.clipped() {
            self.clipped += 1;
        }

        let conf = &self.conf;
        let silence = &self.silence[..];
        let loans = &self.loans;
        let resolve = |s: Stream| -> &[i16] {
            // SAFETY: within the tick, before any port commits.
            let lent = || unsafe { loans.frame(s, block) };
            match s {
                Stream::Mix => conf.full_mix(),
                Stream::Input(p) | Stream::Output(p) if !conf.contains(p) => silence,
                Stream::Input(p) => lent().unwrap_or_else(|| conf.input(p).unwrap_or(silence)),
                Stream::Output(p) => lent().unwrap_or_else(|| conf.output(p).unwrap_or(silence)),
            }
        };
        // The tap frames not made in place: copies.
        for (&frame, &s) in self.tap_frames.0.iter().zip(&self.tap_frame_streams) {
            if !frame.is_null() {
                // SAFETY: an unclaimed tap frame: `block` samples of a buffer in
                // `pending` that nothing else refers to (the frame copied from is
                // another tap frame, the engine's, or a port's).
                unsafe { std::slice::from_raw_parts_mut(frame, block) }.copy_from_slice(resolve(s));
            }
        }
        for ring in &mut self.rings {
            for &s in &ring.streams {
                ring.writer.write_frame(tick, s.tag(), resolve(s));
            }
        }
        self.tap_frames.0.clear();

        for (group, members) in &self.groups {
            group.0.commit_all(members);
        }
        let (loan_in, loan_out) = (&mut self.loans.input.0, &mut self.loans.output.0);
        for (k, &i) in self.loose.iter().enumerate() {
            let i = i as usize;
            prefetch_loose(&self.port_addrs, &self.loose, k);
            let Some(slot) = &mut self.slots[i] else {
                continue;
            };
            loan_in[i] = std::ptr::null();
            let lent_out = std::mem::replace(&mut loan_out[i], std::ptr::null_mut());
            if slot.lends {
                if !std::mem::take(&mut slot.refused) {
                    slot.port.commit();
                }
                continue;
            }
            let frame = if lent_out.is_null() {
                match self.conf.output(slot.id) {
                    Ok(f) => f,
                    Err(_) => continue,
                }
            } else {
                // SAFETY: this port's claimed tap frame, which the engine wrote.
                unsafe { std::slice::from_raw_parts(lent_out.cast_const(), block) }
            };
            if let Err(e) = slot.port.write(frame) {
                slot.fail(e);
            }
        }
        for &s in &self.tap_frame_streams {
            let claim = match s {
                Stream::Mix => None,
                Stream::Input(p) => self.claim_in.get_mut(p.index()),
                Stream::Output(p) => self.claim_out.get_mut(p.index()),
            };
            if let Some(claim) = claim {
                *claim = NO_CLAIM;
            }
        }

        for (tap, buf) in self.taps.iter_mut().zip(&mut pending) {
            if let Some(buf) = buf.take() {
                disconnected |= tap.send(tick, buf) == Published::Disconnected;
            }
        }
        self.pending = pending;
        if disconnected {
            self.taps.retain(|t| t.is_connected());
        }
        self.tick += 1;
        self.work.record(t0.elapsed());
    }

    /// Runs `ticks` ticks paced by `clock` (see the [module docs](self)).
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
        let block = Duration::from_nanos(self.block as u64 * 125_000);
        if clock.period() != block {
            return Err(PumpError::ClockMismatch {
                clock: clock.period(),
                block,
            });
        }
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|e| epoll_error("epoll_create1", e))?;
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
        }
        Ok(())
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
