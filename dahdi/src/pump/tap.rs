//! In-process taps: subscribers that receive frames of every tick through a
//! crossbeam channel, one message per tick.
//!
//! A subscription names the [`Stream`]s it wants (the conference mix, a port's
//! input, a port's output). Each tick the pump copies those frames back to back
//! into one buffer and sends it as one [`TapBatch`]: the channel cost is paid
//! once per tick, not once per frame. Buffers come from a pool of `depth`
//! buffers allocated at subscription; a batch returns its buffer to the pool
//! when the subscriber drops it, so steady state allocates nothing.
//!
//! The pump never waits for a subscriber. If every buffer is still held (the
//! subscriber is `depth` ticks behind), that tick is not delivered: the
//! subscriber's drop counters go up, and the next batch it gets says how many
//! ticks it lost before it ([`TapBatch::ticks_lost_before`]). A subscriber that
//! never reads therefore costs the pump one failed `try_recv` per tick and
//! nothing else.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{
    Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError, TrySendError,
};

use super::PortId;

/// A frame source a subscriber can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The full conference mix: every talker (what a pure listener hears).
    Mix,
    /// What a port delivered to the conference this tick.
    Input(PortId),
    /// What a port's participant heard this tick.
    Output(PortId),
}

impl Stream {
    /// The 32-bit tag that names this stream in a shared-memory ring record:
    /// bits 31..30 are the kind (0 mix, 1 input, 2 output) and bits 29..0 the
    /// port's index ([`PortId::index`]).
    pub fn tag(self) -> u32 {
        match self {
            Stream::Mix => 0,
            Stream::Input(p) => (1 << 30) | (p.index() as u32 & 0x3FFF_FFFF),
            Stream::Output(p) => (2 << 30) | (p.index() as u32 & 0x3FFF_FFFF),
        }
    }
}

/// Counters shared between the pump and a subscriber.
#[derive(Debug, Default)]
struct Shared {
    ticks_dropped: AtomicU64,
    frames_dropped: AtomicU64,
}

/// One tick's frames for one subscriber. Dropping it returns its buffer to the
/// pump's pool.
pub struct TapBatch {
    tick: u64,
    lost_before: u64,
    block: usize,
    samples: Vec<i16>,
    /// One shared handle per tick (one atomic increment, not two).
    pool: Arc<Pool>,
}

/// What every batch of a tap shares: where its buffer goes back to, and what
/// its frames are.
struct Pool {
    home: Sender<Vec<i16>>,
    streams: Arc<[Stream]>,
}

impl std::fmt::Debug for TapBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapBatch")
            .field("tick", &self.tick)
            .field("lost_before", &self.lost_before)
            .field("frames", &self.pool.streams.len())
            .finish()
    }
}

impl TapBatch {
    /// The tick number (the pump's count of ticks before this one).
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Ticks this subscriber lost between the previous batch it received and
    /// this one.
    pub fn ticks_lost_before(&self) -> u64 {
        self.lost_before
    }

    /// The streams, in subscription order.
    pub fn streams(&self) -> &[Stream] {
        &self.pool.streams
    }

    /// Samples per frame.
    pub fn block_size(&self) -> usize {
        self.block
    }

    /// The frame of the `i`th stream.
    pub fn frame(&self, i: usize) -> &[i16] {
        &self.samples[i * self.block..(i + 1) * self.block]
    }

    /// Every stream with its frame.
    pub fn frames(&self) -> impl Iterator<Item = (Stream, &[i16])> {
        self.pool
            .streams
            .iter()
            .copied()
            .zip(self.samples.chunks_exact(self.block))
    }

    /// All frames back to back.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }
}

impl Drop for TapBatch {
    fn drop(&mut self) {
        // The pool channel has room for every buffer there is, so this never
        // fails for lack of room; if the pump is gone the buffer is just freed.
        let _ = self.pool.home.try_send(std::mem::take(&mut self.samples));
    }
}

/// The receiving end of a tap.
pub struct Subscriber {
    rx: Receiver<TapBatch>,
    streams: Arc<[Stream]>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("streams", &self.streams.len())
            .field("ticks_dropped", &self.ticks_dropped())
            .finish()
    }
}

impl Subscriber {
    /// Waits for the next batch; fails once the pump dropped the tap (and
    /// everything sent was received).
    pub fn recv(&self) -> Result<TapBatch, RecvError> {
        self.rx.recv()
    }

    /// Waits up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<TapBatch, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }

    /// Takes a batch if one is waiting.
    pub fn try_recv(&self) -> Result<TapBatch, TryRecvError> {
        self.rx.try_recv()
    }

    /// The channel, for `crossbeam_channel::select!`.
    pub fn receiver(&self) -> &Receiver<TapBatch> {
        &self.rx
    }

    /// The streams subscribed to.
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    /// Ticks this subscriber lost because it held every buffer.
    pub fn ticks_dropped(&self) -> u64 {
        self.shared.ticks_dropped.load(Ordering::Relaxed)
    }

    /// Frames lost (ticks lost times streams).
    pub fn frames_dropped(&self) -> u64 {
        self.shared.frames_dropped.load(Ordering::Relaxed)
    }
}

/// The publishing end of a tap: what the [`Pump`](super::Pump) holds for each
/// subscriber, usable on its own by any producer of per-tick frames
/// ([`TapPublisher::new`]).
pub struct TapPublisher {
    tx: Sender<TapBatch>,
    free: Receiver<Vec<i16>>,
    pool: Arc<Pool>,
    streams: Arc<[Stream]>,
    shared: Arc<Shared>,
    block: usize,
    lost_since_sent: u64,
    frames_sent: u64,
    frames_dropped: u64,
    ticks_dropped: u64,
    connected: bool,
}

impl std::fmt::Debug for TapPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapPublisher")
            .field("streams", &self.streams.len())
            .field("frames_sent", &self.frames_sent)
            .field("frames_dropped", &self.frames_dropped)
            .finish()
    }
}

/// What [`TapPublisher::publish`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// The tick's batch is on its way.
    Sent,
    /// The subscriber holds every buffer: this tick is lost for it (counted).
    Dropped,
    /// The subscriber is gone.
    Disconnected,
}

impl TapPublisher {
    /// A publisher of `streams` in frames of `block` samples, and its
    /// subscriber, with a pool of `depth` batch buffers (all allocated here).
    pub fn new(streams: &[Stream], block: usize, depth: usize) -> (TapPublisher, Subscriber) {
        let depth = depth.max(1);
        let streams: Arc<[Stream]> = streams.into();
        // Both channels are bounded by the number of buffers, so neither ever
        // blocks or allocates after this point.
        let (tx, rx) = crossbeam_channel::bounded(depth);
        let (home, free) = crossbeam_channel::bounded(depth);
        for _ in 0..depth {
            home.send(vec![0i16; streams.len() * block])
                .expect("the pool has room for its own buffers");
        }
        let shared = Arc::new(Shared::default());
        let tap = TapPublisher {
            tx,
            free,
            pool: Arc::new(Pool {
                home,
                streams: streams.clone(),
            }),
            streams: streams.clone(),
            shared: shared.clone(),
            block,
            lost_since_sent: 0,
            frames_sent: 0,
            frames_dropped: 0,
            ticks_dropped: 0,
            connected: true,
        };
        (
            tap,
            Subscriber {
                rx,
                streams,
                shared,
            },
        )
    }

    /// Frames delivered so far.
    pub fn frames_sent(&self) -> u64 {
        self.frames_sent
    }

    /// Frames lost because the subscriber held every buffer.
    pub fn frames_dropped(&self) -> u64 {
        self.frames_dropped
    }

    /// Ticks lost because the subscriber held every buffer.
    pub fn ticks_dropped(&self) -> u64 {
        self.ticks_dropped
    }

    /// Whether a buffer is free, i.e. whether a publish now would be delivered
    /// rather than dropped.
    pub fn has_room(&self) -> bool {
        !self.free.is_empty()
    }

    /// Whether the subscriber still exists (as far as the last publish knew).
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Sends one tick, never blocking: `fill(stream, frame)` writes each
    /// stream's frame into the batch.
    #[inline]
    pub fn publish(&mut self, tick: u64, mut fill: impl FnMut(Stream, &mut [i16])) -> Published {
        let mut buf = match self.take_buffer() {
            Ok(buf) => buf,
            Err(r) => return r,
        };
        for (s, frame) in self.streams.iter().zip(buf.chunks_exact_mut(self.block)) {
            fill(*s, frame);
        }
        self.send(tick, buf)
    }

    /// The first half of [`publish`](Self::publish), for a producer that writes
    /// frames straight into the batch while it makes them (the pump does): a
    /// free buffer of `streams × block` samples, one frame per stream in
    /// subscription order, to be handed to [`send`](Self::send) within the same
    /// tick. When every buffer is with the subscriber the tick is counted as
    /// lost and `Err(Published::Dropped)` comes back.
    pub(crate) fn take_buffer(&mut self) -> Result<Vec<i16>, Published> {
        if !self.connected {
            return Err(Published::Disconnected);
        }
        match self.free.try_recv() {
            Ok(mut buf) => {
                buf.resize(self.streams.len() * self.block, 0);
                Ok(buf)
            }
            Err(_) => {
                // Every buffer is with the subscriber: lose this tick.
                self.drop_tick();
                Err(Published::Dropped)
            }
        }
    }

    /// Sends a buffer from [`take_buffer`](Self::take_buffer), filled, as tick
    /// `tick`.
    pub(crate) fn send(&mut self, tick: u64, buf: Vec<i16>) -> Published {
        let batch = TapBatch {
            tick,
            lost_before: self.lost_since_sent,
            block: self.block,
            samples: buf,
            pool: self.pool.clone(),
        };
        match self.tx.try_send(batch) {
            Ok(()) => {
                self.lost_since_sent = 0;
                self.frames_sent += self.streams.len() as u64;
                Published::Sent
            }
            Err(TrySendError::Full(_)) => {
                // Cannot happen while the queue is as deep as the pool, but a
                // full queue must never block the pump either.
                self.drop_tick();
                Published::Dropped
            }
            Err(TrySendError::Disconnected(_)) => {
                self.connected = false;
                Published::Disconnected
            }
        }
    }

    /// The streams published, in subscription order.
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    fn drop_tick(&mut self) {
        let n = self.streams.len() as u64;
        self.lost_since_sent += 1;
        self.ticks_dropped += 1;
        self.frames_dropped += n;
        self.shared.ticks_dropped.fetch_add(1, Ordering::Relaxed);
        self.shared.frames_dropped.fetch_add(n, Ordering::Relaxed);
    }
}
