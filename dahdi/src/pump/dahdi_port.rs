//! DAHDI channel ports: a pseudo channel or a span channel, non-blocking,
//! serviced from the pump's epoll loop.
//!
//! Nothing older than the port reaches the pump: making a port sets the
//! channel's buffers (`DAHDI_SET_BUFINFO`), which reallocates them and drops
//! whatever the kernel had queued. A far end made by
//! [`DahdiPort::with_far_end`] joins its kernel conference through
//! [`ChannelFd::create_conference`] and [`ChannelFd::join_conference`], so
//! neither side hears a conference that used the kernel's slot before
//! (see [`crate::conference`]).

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use crate::channel::{Channel, ChannelFd, Pseudo, ReadOutcome, WriteOutcome};
use crate::conference::ConfMode;
use crate::event::Event;
use crate::fd::Readiness;
use crate::params::{BufferInfo, BufferPolicy, Flush};

use super::input_queue::InputQueue;
use super::port::{Port, PortError};
use super::stats::PortStats;

/// How a [`DahdiPort`] sets up its channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DahdiPortConfig {
    /// Samples per block: the pump's block size.
    pub block: usize,
    /// Kernel buffers per direction (`DAHDI_SET_BUFINFO` `numbufs`, 2..=32):
    /// how much the kernel holds while the pump thread is not scheduled.
    pub kernel_buffers: usize,
    /// Input frames the port queues in user space before it starts discarding
    /// the oldest (overruns). After a stall the pump reads everything the
    /// kernel holds before it runs the late ticks, so keep this above
    /// [`PumpConfig::max_catch_up`](super::PumpConfig::max_catch_up) and
    /// `kernel_buffers`.
    pub queue_frames: usize,
    /// Blocks of silence written ahead of the first output block, so the
    /// kernel's transmit queue does not run dry when a tick is a little late.
    /// This is the output latency added, in blocks; at least one, or a tick
    /// that is late at all leaves a gap in what the channel sends (see
    /// [Choosing a latency](super#choosing-a-latency)).
    pub tx_prefill: usize,
}

impl Default for DahdiPortConfig {
    /// 160-sample blocks, 8 kernel buffers (160 ms), 16 queued frames, 2
    /// blocks of transmit prefill (40 ms).
    fn default() -> Self {
        DahdiPortConfig {
            block: 160,
            kernel_buffers: 8,
            queue_frames: 16,
            tx_prefill: 2,
        }
    }
}

enum Device {
    Pseudo(Pseudo),
    Channel(Channel),
}

impl Device {
    fn fd(&self) -> &ChannelFd {
        match self {
            Device::Pseudo(p) => p.as_channel_fd(),
            Device::Channel(c) => c.as_channel_fd(),
        }
    }

    fn fd_mut(&mut self) -> &mut ChannelFd {
        match self {
            Device::Pseudo(p) => p.as_channel_fd_mut(),
            Device::Channel(c) => c.as_channel_fd_mut(),
        }
    }
}

/// A DAHDI channel as a conference participant, in linear mode.
///
/// The channel is non-blocking. The pump watches its fd with epoll
/// (`POLLIN`, and `POLLPRI` for events) and calls [`Port::service`], which reads
/// every complete block the kernel has into a user-space queue; a tick takes
/// one block from that queue. A pending DAHDI event makes the kernel refuse a
/// read or write with `ELAST` before it touches any audio; the port then takes
/// the event off the queue, counts it, passes it on to
/// [`events`](Self::events), and repeats the read or write, so no audio is lost
/// to events.
///
/// Writes go straight to the kernel, one block per tick, after
/// [`tx_prefill`](DahdiPortConfig::tx_prefill) blocks of silence; a write the
/// kernel refuses because its buffers are full is a drop.
///
/// DAHDI moves every channel's audio on the same 1 ms schedule, but each
/// channel's blocks end at a different point of it (wherever its buffers were
/// last reset). Run the pump from a [`DahdiClock`](super::DahdiClock): then
/// every channel delivers exactly one block per tick, the pump's priming step
/// waits for the last channel's first block and one tick more, and no tick
/// ever finds a channel empty. The latency a port adds is one to two blocks
/// on input (the block it holds in hand for that, and its phase against the
/// clock) and the transmit prefill on output; the port measures both
/// ([`PortStats`]'s `input_wait_*` and `tx_prefill`), and the [pump's
/// docs](super#choosing-a-latency) say how to choose them.
pub struct DahdiPort {
    dev: Device,
    name: String,
    block: usize,
    input: InputQueue,
    scratch: Vec<i16>,
    tx_prefill: usize,
    tx_started: bool,
    stats: PortStats,
    events_tx: Sender<Event>,
    events_rx: Receiver<Event>,
}

impl std::fmt::Debug for DahdiPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DahdiPort")
            .field("name", &self.name)
            .field("queued", &self.input.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// Events kept for [`DahdiPort::events`]; older ones are discarded once this
/// many wait (still counted).
const EVENT_QUEUE: usize = 64;

fn configure(ch: &mut ChannelFd, config: &DahdiPortConfig) -> crate::Result<()> {
    ch.set_nonblocking(true)?;
    ch.set_buffer_info(&BufferInfo {
        tx_policy: BufferPolicy::Immediate,
        num_bufs: config.kernel_buffers,
        buf_size: config.block,
    })?;
    ch.set_linear(true)
}

impl DahdiPort {
    fn new(dev: Device, name: String, config: &DahdiPortConfig) -> DahdiPort {
        let (events_tx, events_rx) = crossbeam_channel::bounded(EVENT_QUEUE);
        DahdiPort {
            dev,
            name,
            block: config.block,
            input: InputQueue::new(config.block, config.queue_frames.max(2)),
            scratch: vec![0; config.block],
            tx_prefill: config.tx_prefill,
            tx_started: false,
            stats: PortStats::default(),
            events_tx,
            events_rx,
        }
    }

    /// Opens a new pseudo channel (MeetMe's way of joining a conference from
    /// user space).
    ///
    /// # Errors
    ///
    /// As [`Pseudo::open_nonblocking`], then the channel's
    /// set-up (buffers and linear mode) as [`from_pseudo`](Self::from_pseudo).
    pub fn pseudo(config: &DahdiPortConfig) -> crate::Result<DahdiPort> {
        Self::from_pseudo(Pseudo::open_nonblocking()?, config)
    }

    /// Uses an open pseudo channel (made non-blocking and linear here).
    ///
    /// # Errors
    ///
    /// The set-up of the channel: non-blocking mode, `DAHDI_SET_BUFINFO` (a
    /// `kernel_buffers` outside 2..=32 is refused before the call), linear mode.
    pub fn from_pseudo(mut p: Pseudo, config: &DahdiPortConfig) -> crate::Result<DahdiPort> {
        configure(p.as_channel_fd_mut(), config)?;
        let name = format!("pseudo {}", p.number()?);
        Ok(Self::new(Device::Pseudo(p), name, config))
    }

    /// Uses an open span channel (made non-blocking and linear here). The
    /// channel must carry audio (clear or voice signalling).
    ///
    /// # Errors
    ///
    /// As [`from_pseudo`](Self::from_pseudo); linear mode fails with
    /// [`ErrorKind::NotAudioMode`](crate::ErrorKind::NotAudioMode) on a clear channel not
    /// in audio mode.
    pub fn from_channel(mut c: Channel, config: &DahdiPortConfig) -> crate::Result<DahdiPort> {
        configure(c.as_channel_fd_mut(), config)?;
        let name = format!("channel {}", c.channel_number());
        Ok(Self::new(Device::Channel(c), name, config))
    }

    /// Opens span channel `number`.
    ///
    /// # Errors
    ///
    /// As [`Channel::open_nonblocking`], then as
    /// [`from_channel`](Self::from_channel).
    pub fn channel(number: i32, config: &DahdiPortConfig) -> crate::Result<DahdiPort> {
        Self::from_channel(Channel::open_nonblocking(number)?, config)
    }

    /// A pseudo-channel port plus its *far end*: a second pseudo channel (linear,
    /// blocking, same block size) joined with the port's channel in a two-member
    /// kernel conference, so what one writes the other reads. The far end
    /// stands in for a caller: a test or demo writes a voice into it and reads
    /// back what the pump sends.
    ///
    /// # Errors
    ///
    /// As [`pseudo`](Self::pseudo) for both ends, and joining the two-member conference as
    /// [`ChannelFd::create_conference`] and
    /// [`ChannelFd::join_conference`].
    pub fn with_far_end(config: &DahdiPortConfig) -> crate::Result<(DahdiPort, Pseudo)> {
        let mut far = Pseudo::open()?;
        far.set_buffer_info(&BufferInfo {
            tx_policy: BufferPolicy::Immediate,
            num_bufs: config.kernel_buffers,
            buf_size: config.block,
        })?;
        far.set_linear(true)?;
        let near = Pseudo::open_nonblocking()?;
        let conf = far.create_conference(ConfMode::conference())?;
        near.join_conference(conf, ConfMode::conference())?;
        Ok((Self::from_pseudo(near, config)?, far))
    }

    /// The channel.
    pub fn channel_fd(&self) -> &ChannelFd {
        self.dev.fd()
    }

    /// Events met on the channel, in order (the newest 64 at most).
    pub fn events(&self) -> Receiver<Event> {
        self.events_rx.clone()
    }

    fn note_event(&mut self, e: Event) {
        self.stats.events += 1;
        if self.events_tx.try_send(e).is_err() {
            // Full: keep the newest. Another receiver may race us; either way
            // the count above stays right.
            let _ = self.events_rx.try_recv();
            let _ = self.events_tx.try_send(e);
        }
    }

    /// Reads one block if the kernel has one (events met on the way are taken
    /// and counted). One read per call, not a loop until `EAGAIN`: under epoll
    /// (level-triggered) a channel with more blocks is reported again at once,
    /// and the `EAGAIN` read that a loop ends with would double the system
    /// calls per block.
    fn read_one(&mut self) -> Result<(), PortError> {
        loop {
            match self.dev.fd_mut().read_samples(&mut self.scratch) {
                Ok(ReadOutcome::Audio(n)) => {
                    // When the block became the pump's: what its wait in the
                    // pump is counted from.
                    let dropped = self.input.push(&self.scratch[..n], Instant::now());
                    self.stats.overruns += dropped.div_ceil(self.block) as u64;
                    return Ok(());
                }
                Ok(ReadOutcome::Event(e)) => self.note_event(e),
                Err(e) if e.is_would_block() => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn drain_events(&mut self) -> Result<(), PortError> {
        while let Some(e) = self.dev.fd().event()? {
            self.note_event(e);
        }
        Ok(())
    }

    /// Writes one block; false if the kernel's buffers are full.
    fn put(&mut self, frame: &[i16]) -> Result<bool, PortError> {
        loop {
            match self.dev.fd_mut().write_samples(frame) {
                Ok(WriteOutcome::Written(_)) => return Ok(true),
                Ok(WriteOutcome::Event(e)) => self.note_event(e),
                Err(e) if e.is_would_block() => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Port for DahdiPort {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        if self.input.len() < frame.len() {
            // The readiness may not have been serviced yet this round.
            self.read_one()?;
        }
        if let Some(wait) = self.input.pop(frame, Instant::now()) {
            self.stats.frames_in += 1;
            self.stats.note_input_wait(wait);
        } else {
            frame.fill(0);
            self.stats.underruns += 1;
        }
        Ok(())
    }

    fn write(&mut self, frame: &[i16]) -> Result<(), PortError> {
        if !self.tx_started {
            self.tx_started = true;
            let silence = vec![0i16; frame.len()];
            self.stats.tx_prefill = 0;
            for _ in 0..self.tx_prefill {
                if !self.put(&silence)? {
                    break;
                }
                self.stats.tx_prefill += 1;
            }
        }
        if self.put(frame)? {
            self.stats.frames_out += 1;
        } else {
            self.stats.drops += 1;
        }
        Ok(())
    }

    fn stats(&self) -> PortStats {
        self.stats
    }

    fn fd(&self) -> Option<(BorrowedFd<'_>, Readiness)> {
        Some((self.dev.fd().as_fd(), Readiness::READ | Readiness::EVENT))
    }

    fn service(&mut self, ready: Readiness) -> Result<(), PortError> {
        if ready.contains(Readiness::EVENT) {
            self.drain_events()?;
        }
        if ready.contains(Readiness::READ) {
            self.read_one()?;
        }
        Ok(())
    }

    fn start(&mut self) -> Result<(), PortError> {
        // Audio queued before the pump ran is stale.
        self.dev.fd().flush(Flush::READ)?;
        self.input.discard(usize::MAX);
        self.tx_started = false;
        Ok(())
    }

    fn primed(&self) -> bool {
        self.input.len() >= self.block
    }

    fn align(&mut self) {
        let whole = self.input.len() / self.block;
        if whole > 1 {
            self.input.discard((whole - 1) * self.block);
        }
    }
}
