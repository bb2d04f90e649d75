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
//! over the bank per tick (the pump knows its memory ports by their type), not through a call per port. Other
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
//! tick never find a channel empty. A port that joins while the pump runs
//! primes the same way on its own (silent, not read, until primed and one
//! tick more; see [`PumpHandle`]).
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
//! # Choosing a latency
//!
//! What the pump adds between a sample entering one DAHDI channel and the mix
//! leaving on another is two waits, both measured by every [`DahdiPort`] in
//! its [`PortStats`]:
//!
//! * **Input wait** (`input_wait_*`): from the read of a block (the port's
//!   service, when epoll reported the channel readable) to the tick that
//!   mixed it. A channel's blocks end wherever its buffers were last reset,
//!   anywhere within the clock's period, so a block waits up to one block for
//!   its tick; and the priming step (above) may leave each port a block in
//!   hand, which keeps a tick from finding a channel empty when the clock's
//!   wake-up overtakes a block of the same millisecond. So 0 to 2 blocks,
//!   plus the lateness of late ticks (measured means: 1.0 to 1.4 blocks in
//!   runs without a late tick). It is set by the block size alone.
//! * **Transmit prefill** (`tx_prefill`): the blocks of silence written ahead
//!   of the first output, so that every output block waits behind that many
//!   in the kernel's transmit queue. That queue is what bridges the time
//!   between the kernel taking a block and the pump writing the next one: a
//!   tick may be late by up to the prefill, less the kernel's own
//!   burstiness, before the channel runs dry and transmits silence in the
//!   middle of the mix (heard as a gap, the rest of the output shifted by
//!   it). The kernel reports no such gap, so no port counter sees it
//!   (`drops` counts writes a full queue refused, the opposite); what warns
//!   of it is a tick about as late as the prefill lasts, or later:
//!   [`max_due`](PumpStats::max_due) above `tx_prefill`.
//!
//! The kernel's own buffering is not the pump's and is counted apart: a block
//! is readable only when its last sample has arrived (its first sample has
//! then waited one block in the kernel), and DAHDI moves audio in 1 ms chunks
//! (`_process_masterspan`), one on each side of a kernel conference.
//!
//! What each knob costs ([`DahdiPortConfig`]):
//!
//! * `block` (and [`PumpConfig::block_size`], the same): latency on both
//!   sides (the input wait and every block of prefill scale with it) against
//!   work: two system calls per port and a tick per block, so halving it
//!   doubles the pump's system calls per second.
//! * `tx_prefill`: output latency, one block each, against tolerance of a late
//!   tick. Zero leaves none: the next block must reach the kernel within the
//!   millisecond in which it finished the last one.
//! * `kernel_buffers`: no latency (the kernel hands a block over as soon as it
//!   is full, and transmits only what was written); memory, and how long a
//!   stall of the pump thread the kernel holds the input for. At least
//!   `tx_prefill + 2`: the transmit queue holds the prefill, the block in
//!   flight and the one just written.
//! * `queue_frames`: no latency either ([`Port::align`] trims the input to the
//!   newest block before the first tick); room to catch up after a stall.
//!
//! **The least latency that loses nothing with real timing: 80-sample (10
//! ms) blocks and one block of transmit prefill** (`block: 80, tx_prefill: 1`,
//! `kernel_buffers: 8`, `queue_frames: 16`; run the pump thread at real-time
//! priority). The pump then adds up to two blocks on input and one on
//! output: 10 to 30 ms, against 20 to 80 ms with the 160-sample
//! [default](DahdiPortConfig::default). The reasoning: the [`DahdiClock`] ticks from
//! the same 1 ms processing that moves the channels, so with real timing the
//! only variance between a tick and its channels is the pump thread's wake-up
//! and work (well under a millisecond at real-time priority); but without a
//! card, DAHDI's core timer runs that processing from a kernel timer every 4
//! ms or so (a jiffy at `HZ=250`, as in Debian's kernels), several
//! milliseconds at once. One block of prefill must cover that burst and the
//! wake-up: 10 ms leaves 6 ms to spare, 5 ms (40-sample blocks) only one, so
//! 40-sample blocks with one block of prefill are for systems timed by a card
//! (1 ms interrupts). Fewer blocks than one of prefill leave no margin at all.
//!
//! Measured on the real driver by the guest test `pump_latency` (4 DAHDI
//! channels with phones, 2 or 3 s per configuration; `DAHDI_VM_SHOW_OUTPUT=1
//! cargo test --release -p dahdi-tests --test vm_pump -- pump_latency` prints
//! its table), 16 runs (Debian 12 and 13), in a VM emulated by qemu TCG on 2
//! vCPUs of an Intel Xeon (Sapphire Rapids class) shared with other work (load
//! average 7 to 13 on its 2 cores). "Lost" is anything the exactness checks
//! found (gaps heard, underruns, drops):
//!
//! | block | kernel buffers | prefill | input wait, mean (runs that lost nothing) | input wait, mean (all runs) | pump adds, mean (lost nothing) | lost nothing in | most ticks due at once, runs that lost |
//! |---|---|---|---|---|---|---|---|
//! | 40 (5 ms) | 8 | 1 | 10.9 ms | 1.0 to 38.5 ms | 16 ms | 1 of 16 runs | 4, 5, 6, 7, 7, 9, 9, 9, 16, 44, 45, 46, 47, 50, 283 |
//! | 80 (10 ms) | 8 | 1 | - | 3.4 to 10.1 ms | - | 0 of 16 runs | 2, 2, 3, 4, 6, 6, 7, 9, 9, 15, 18, 18, 23, 24, 41, 64 |
//! | 80 (10 ms) | 8 | 2 | 10.1 ms | 2.1 to 26.3 ms | 30 ms | 1 of 16 runs | 3, 3, 4, 4, 5, 8, 17, 18, 21, 21, 22, 30, 35, 35, 38 |
//! | 160 (20 ms) | 8 | 1 | 20.0 to 31.7 ms | 13.4 to 32.7 ms | 40 to 52 ms | 5 of 16 runs | 2, 2, 4, 4, 6, 6, 7, 7, 10, 13, 39 |
//! | 160 (20 ms) | 8 | 2 | 20.1 to 28.4 ms | 10.1 to 42.4 ms | 60 to 68 ms | 5 of 16 runs | 3, 5, 9, 11, 12, 12, 13, 16, 26, 28, 41 |
//! | 160 (20 ms) | 32 | 28 | 19.8 to 97.1 ms | 19.8 to 97.1 ms | 580 to 657 ms | 16 of 16 runs | - |
//! | 640 (80 ms) | 32 | 28 | 80.4 to 117.2 ms | 80.4 to 117.2 ms | 2320 to 2357 ms | 4 of 4 runs | - |
//!
//! (The 20 ms stall-proof row lost once more, at a host load of 12, in a run
//! whose table that loss cut short while the row was still asserted.)
//!
//! The losses are the emulation's: the emulated guest stalls for tens to
//! hundreds of milliseconds at a time when the host is busy, which is why the
//! conference tests run with 28 blocks of prefill and 32 kernel buffers, a
//! configuration for emulators, not for real hardware. Every run that lost
//! had a tick later than its prefill lasts (`max_due` above `tx_prefill`; in
//! some, every counter was clean and only what the phones heard showed the
//! gap): the loss the prefill exists to prevent, at stalls no real machine
//! with a real-time pump thread has. The means show the input wait: about
//! one block when no tick was late (1.0 to 1.4 blocks), more after late ticks.
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

mod answer;
mod clock;
mod control;
mod dahdi_port;
mod input_queue;
mod memory;
mod port;
mod registry;
mod run;
pub mod shm;
mod stats;
mod tap;
mod tick;
pub mod wav;

use std::time::Duration;

use crate::audio::mixer::{Mixer, MixerConfig, MixerError, ParticipantId};
use crate::audio::Isa;
use control::Controls;
use memory::LendGroup;
use registry::{Ring, Slot};
use tick::{Loans, Scratch};

pub use clock::{Clock, DahdiClock, SoftClock};
pub use control::{ControlError, PumpHandle, Removed, Reply};
pub use dahdi_port::{DahdiPort, DahdiPortConfig};
pub use memory::{MemoryEndpoint, MemoryPort};
pub use port::{LentFrames, Port, PortError};
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
    /// Member lists of groups that emptied, kept for the next group.
    spare_members: Vec<Vec<(u32, u32)>>,
    /// The queues of the pump's handles.
    controls: Controls,
    /// While the pump runs on a clock, its epoll set.
    epoll: Option<std::sync::Arc<nix::sys::epoll::Epoll>>,
}

impl std::fmt::Debug for Pump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump")
            .field("ports", &self.conf.len())
            .field("tick", &self.tick)
            .finish()
    }
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
            spare_members: Vec::new(),
            controls: Controls::new(config.block_size),
            epoll: None,
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
}
