//! In-process taps: subscribers that receive frames of every tick through a
//! crossbeam channel, one message per tick.
//!
//! A subscription names the [`Stream`]s it wants (the conference mix, a port's
//! input, a port's output). Each tick the pump makes those frames back to back
//! in one buffer and sends it as one [`TapBatch`]: the channel cost is paid
//! once per tick, not once per frame. A tap owns `depth` buffers, allocated at
//! subscription; a batch hands its buffer back when the subscriber drops it,
//! so steady state allocates nothing.
//!
//! The hand-back is one atomic store and one atomic `or` into a word of
//! returned-buffer bits, and the buffer carries its own handle on what it
//! returns to, so a tick's hand-over moves as few cache lines between the
//! pump's core and the subscriber's as there can be: the channel's message,
//! and, once every `depth` ticks, the word the publisher reads to take back
//! what was returned. The publisher uses its buffers in turn rather than the
//! one returned last: that one's lines are still in the subscriber's cache,
//! and taking each back for writing cost two to three times as much
//! (pump_tap bench) as writing memory that has gone cold on both cores.
//!
//! The pump never waits for a subscriber. If every buffer is still held (the
//! subscriber is `depth` ticks behind), that tick is not delivered: the
//! subscriber's drop counters go up, and the next batch it gets says how many
//! ticks it lost before it ([`TapBatch::ticks_lost_before`]). A subscriber that
//! never reads therefore costs the pump a look at a word per tick and nothing
//! else.

use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{
    Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError, TrySendError,
};
use crossbeam_utils::CachePadded;

use super::PortId;
use crate::audio::aligned::AlignedI16;

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

/// Buffers per word of [`Pool::returned_bits`]; the word's top bit is
/// [`CLOSED`].
const PER_WORD: usize = 63;

/// In every word of [`Pool::returned_bits`]: the publisher is gone, so a
/// returning buffer frees itself.
const CLOSED: u64 = 1 << 63;

/// What a tap's publisher, subscriber and batches share.
struct Pool {
    streams: Arc<[Stream]>,
    /// Per buffer: the buffer, once a batch handed it back and until the
    /// publisher takes it; null otherwise.
    returned: Box<[AtomicPtr<Buffer>]>,
    /// Bit `i` of word `w`: buffer `63 w + i` is in `returned`. Each word on a
    /// cache line of its own, as the subscriber's core writes it.
    returned_bits: Box<[CachePadded<AtomicU64>]>,
    /// Written only by the publisher; read by the subscriber too.
    ticks_dropped: AtomicU64,
    frames_dropped: AtomicU64,
}

impl Pool {
    /// Takes the buffers whose bits are set in `bits`, taken from word `word`
    /// of `returned_bits`, highest index first.
    ///
    /// # Safety
    ///
    /// Only the publisher calls this, once per bit it took from the word (each
    /// set bit says a batch parked its buffer in `returned`, the store ordered
    /// before the bit).
    unsafe fn take_parked(&self, word: usize, mut bits: u64, mut each: impl FnMut(Box<Buffer>)) {
        while bits != 0 {
            let top = 63 - bits.leading_zeros() as usize;
            bits &= !(1 << top);
            let raw = self.returned[word * PER_WORD + top].swap(ptr::null_mut(), Ordering::Relaxed);
            // SAFETY: the caller's contract: a parked buffer that nobody else
            // takes.
            each(unsafe { Box::from_raw(raw) });
        }
    }
}

/// A batch buffer: one tick's frames, back to back. It moves as one box from
/// the publisher into a [`TapBatch`] and back, holding its own handle on the
/// pool, so a hand-over touches no reference count.
struct Buffer {
    /// 64-byte aligned, as the engine's own buffers: the engine writes tapped
    /// outputs straight into batches with the same SIMD stores, and with
    /// frames of a multiple of 32 samples none of them straddles a cache line.
    samples: AlignedI16,
    index: usize,
    pool: Arc<Pool>,
}

impl Buffer {
    /// Hands the buffer back to its publisher, or frees it if the publisher is
    /// gone.
    fn go_home(self: Box<Buffer>) {
        let index = self.index;
        let pool: *const Pool = Arc::as_ptr(&self.pool);
        let raw = Box::into_raw(self);
        // SAFETY: the buffer at `raw` holds a reference to the pool, and nobody
        // takes it from `returned` before its bit is set below, so the pool
        // lives at least until then.
        let pool = unsafe { &*pool };
        pool.returned[index].store(raw, Ordering::Relaxed);
        let bit = 1u64 << (index % PER_WORD);
        // Release: the publisher that sees the bit sees the pointer (and is done
        // with this batch's reads before it writes the buffer again).
        let before = pool.returned_bits[index / PER_WORD].fetch_or(bit, Ordering::AcqRel);
        // Past this point the publisher may own the buffer (and drop the last
        // reference to the pool), unless it had already closed: then it took
        // only the buffers returned before, and this one is still parked, the
        // pool alive through it.
        if before & CLOSED != 0 {
            let raw = pool.returned[index].swap(ptr::null_mut(), Ordering::Acquire);
            // SAFETY: the pointer stored above, which nobody else takes.
            drop(unsafe { Box::from_raw(raw) });
        }
    }
}

/// The publisher's handle on a free buffer, between
/// [`TapPublisher::take_buffer`] and [`TapPublisher::send`].
pub(crate) struct BatchBuffer(Box<Buffer>);

impl BatchBuffer {
    /// The buffer: one frame per stream, in subscription order.
    pub(crate) fn samples_mut(&mut self) -> &mut [i16] {
        self.0.samples.as_mut_slice()
    }
}

/// One tick's frames for one subscriber. Dropping it hands its buffer back to
/// the publisher.
pub struct TapBatch {
    tick: u64,
    lost_before: u64,
    block: usize,
    /// Taken only by `drop`.
    buf: ManuallyDrop<Box<Buffer>>,
}

impl std::fmt::Debug for TapBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapBatch")
            .field("tick", &self.tick)
            .field("lost_before", &self.lost_before)
            .field("frames", &self.buf.pool.streams.len())
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
        &self.buf.pool.streams
    }

    /// Samples per frame.
    pub fn block_size(&self) -> usize {
        self.block
    }

    /// The frame of the `i`th stream.
    pub fn frame(&self, i: usize) -> &[i16] {
        &self.buf.samples.as_slice()[i * self.block..(i + 1) * self.block]
    }

    /// Every stream with its frame.
    pub fn frames(&self) -> impl Iterator<Item = (Stream, &[i16])> {
        self.buf
            .pool
            .streams
            .iter()
            .copied()
            .zip(self.buf.samples.as_slice().chunks_exact(self.block))
    }

    /// All frames back to back.
    pub fn samples(&self) -> &[i16] {
        self.buf.samples.as_slice()
    }
}

impl Drop for TapBatch {
    fn drop(&mut self) {
        // SAFETY: taken once, here; `self` is not used again.
        let buf = unsafe { ManuallyDrop::take(&mut self.buf) };
        buf.go_home();
    }
}

/// The receiving end of a tap.
pub struct Subscriber {
    rx: Receiver<TapBatch>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("streams", &self.pool.streams.len())
            .field("ticks_dropped", &self.ticks_dropped())
            .finish()
    }
}

impl Subscriber {
    /// Waits for the next batch; fails once the pump dropped the tap (and
    /// everything sent was received).
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the pump that published the stream is gone.
    pub fn recv(&self) -> Result<TapBatch, RecvError> {
        self.rx.recv()
    }

    /// Waits up to `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError`] on timeout, or once the pump is gone.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<TapBatch, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }

    /// Takes a batch if one is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError`] when no batch is waiting, or once the pump is gone.
    pub fn try_recv(&self) -> Result<TapBatch, TryRecvError> {
        self.rx.try_recv()
    }

    /// The channel, for `crossbeam_channel::select!`.
    pub fn receiver(&self) -> &Receiver<TapBatch> {
        &self.rx
    }

    /// The streams subscribed to.
    pub fn streams(&self) -> &[Stream] {
        &self.pool.streams
    }

    /// Ticks this subscriber lost because it held every buffer.
    pub fn ticks_dropped(&self) -> u64 {
        self.pool.ticks_dropped.load(Ordering::Relaxed)
    }

    /// Frames lost (ticks lost times streams).
    pub fn frames_dropped(&self) -> u64 {
        self.pool.frames_dropped.load(Ordering::Relaxed)
    }
}

/// The publishing end of a tap: what the [`Pump`](super::Pump) holds for each
/// subscriber, usable on its own by any producer of per-tick frames
/// ([`TapPublisher::new`]).
pub struct TapPublisher {
    tx: Sender<TapBatch>,
    pool: Arc<Pool>,
    /// Free buffers at hand. Boxed: a buffer moves between the stock, the
    /// batches and `Pool::returned` as one pointer.
    #[allow(clippy::vec_box)]
    stock: Vec<Box<Buffer>>,
    block: usize,
    lost_since_sent: u64,
    frames_sent: u64,
    connected: bool,
}

impl std::fmt::Debug for TapPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapPublisher")
            .field("streams", &self.streams().len())
            .field("frames_sent", &self.frames_sent)
            .field("frames_dropped", &self.frames_dropped())
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
    /// subscriber, with `depth` batch buffers (all allocated here).
    pub fn new(streams: &[Stream], block: usize, depth: usize) -> (TapPublisher, Subscriber) {
        let depth = depth.max(1);
        let streams: Arc<[Stream]> = streams.into();
        // The channel is bounded by the number of buffers, so it never blocks
        // or allocates after this point.
        let (tx, rx) = crossbeam_channel::bounded(depth);
        let pool = Arc::new(Pool {
            streams: streams.clone(),
            returned: (0..depth).map(|_| AtomicPtr::default()).collect(),
            returned_bits: (0..depth.div_ceil(PER_WORD))
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
            ticks_dropped: AtomicU64::new(0),
            frames_dropped: AtomicU64::new(0),
        });
        let stock = (0..depth)
            .rev()
            .map(|index| {
                Box::new(Buffer {
                    samples: AlignedI16::zeroed(streams.len() * block),
                    index,
                    pool: pool.clone(),
                })
            })
            .collect();
        let tap = TapPublisher {
            tx,
            pool: pool.clone(),
            stock,
            block,
            lost_since_sent: 0,
            frames_sent: 0,
            connected: true,
        };
        (tap, Subscriber { rx, pool })
    }

    /// Frames delivered so far.
    pub fn frames_sent(&self) -> u64 {
        self.frames_sent
    }

    /// Frames lost because the subscriber held every buffer.
    pub fn frames_dropped(&self) -> u64 {
        self.pool.frames_dropped.load(Ordering::Relaxed)
    }

    /// Ticks lost because the subscriber held every buffer.
    pub fn ticks_dropped(&self) -> u64 {
        self.pool.ticks_dropped.load(Ordering::Relaxed)
    }

    /// Whether a buffer is free, i.e. whether a publish now would be delivered
    /// rather than dropped.
    pub fn has_room(&self) -> bool {
        !self.stock.is_empty()
            || self
                .pool
                .returned_bits
                .iter()
                .any(|w| w.load(Ordering::Relaxed) & !CLOSED != 0)
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
        for (s, frame) in self
            .pool
            .streams
            .iter()
            .zip(buf.samples_mut().chunks_exact_mut(self.block))
        {
            fill(*s, frame);
        }
        self.send(tick, buf)
    }

    /// Takes back the buffers that batches returned since the last look,
    /// stacked so that they are used in index order.
    fn restock(&mut self) {
        for (w, bits) in self.pool.returned_bits.iter().enumerate().rev() {
            // A plain load first: a word with nothing in it is not written,
            // so its cache line stays shared with the subscriber's core.
            if bits.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let taken = bits.swap(0, Ordering::Acquire);
            let stock = &mut self.stock;
            // SAFETY: the publisher, with the bits it took from word `w`.
            unsafe { self.pool.take_parked(w, taken, |buf| stock.push(buf)) };
        }
    }

    /// The first half of [`publish`](Self::publish), for a producer that writes
    /// frames straight into the batch while it makes them (the pump does): a
    /// free buffer of `streams × block` samples, one frame per stream in
    /// subscription order, to be handed to [`send`](Self::send) within the same
    /// tick. When every buffer is with the subscriber the tick is counted as
    /// lost and `Err(Published::Dropped)` comes back.
    pub(crate) fn take_buffer(&mut self) -> Result<BatchBuffer, Published> {
        if !self.connected {
            return Err(Published::Disconnected);
        }
        // Only when the stock runs out (see the module docs).
        if self.stock.is_empty() {
            self.restock();
        }
        match self.stock.pop() {
            Some(buf) => Ok(BatchBuffer(buf)),
            None => {
                // Every buffer is with the subscriber: lose this tick.
                self.drop_tick();
                Err(Published::Dropped)
            }
        }
    }

    /// Sends a buffer from [`take_buffer`](Self::take_buffer), filled, as tick
    /// `tick`.
    pub(crate) fn send(&mut self, tick: u64, buf: BatchBuffer) -> Published {
        let batch = TapBatch {
            tick,
            lost_before: self.lost_since_sent,
            block: self.block,
            buf: ManuallyDrop::new(buf.0),
        };
        // A batch that is not sent goes home as it drops.
        match self.tx.try_send(batch) {
            Ok(()) => {
                self.lost_since_sent = 0;
                self.frames_sent += self.streams().len() as u64;
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
        &self.pool.streams
    }

    fn drop_tick(&mut self) {
        let n = self.streams().len() as u64;
        self.lost_since_sent += 1;
        self.pool.ticks_dropped.fetch_add(1, Ordering::Relaxed);
        self.pool.frames_dropped.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for TapPublisher {
    fn drop(&mut self) {
        // Close every word, taking the buffers returned before; any returned
        // after sees the mark and frees itself. (Those in the stock drop with
        // it.)
        for (w, bits) in self.pool.returned_bits.iter().enumerate() {
            let taken = bits.fetch_or(CLOSED, Ordering::AcqRel) & !CLOSED;
            // SAFETY: the publisher, with the bits it took from word `w`.
            unsafe { self.pool.take_parked(w, taken, drop) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool, and every buffer through its handle on it, hold the streams;
    /// once everything is dropped only the test's own handle is left, whatever
    /// the order: no buffer leaked, none freed twice.
    #[test]
    fn buffers_are_freed_whoever_goes_first() {
        for order in 0..4 {
            let streams: Arc<[Stream]> = vec![Stream::Mix; 3].into();
            let (mut publisher, sub) = TapPublisher::new(&streams, 4, 5);
            let handle = publisher.pool.streams.clone();
            for t in 0..3 {
                let r = publisher.publish(t, |_, f| f.fill(t as i16));
                assert_eq!(r, Published::Sent);
            }
            let first = sub.try_recv().unwrap();
            assert_eq!(first.frame(2), &[0; 4]);
            let second = sub.try_recv().unwrap();
            drop(first); // returned while the publisher lives
            match order {
                0 => {
                    drop(publisher);
                    drop(second); // returned after: frees itself
                    drop(sub); // the third batch is still in the channel
                }
                1 => {
                    drop(sub);
                    drop(second);
                    drop(publisher);
                }
                2 => {
                    drop(second);
                    drop(publisher);
                    let third = sub.try_recv().unwrap();
                    assert_eq!(third.frame(0), &[2; 4]);
                    drop(sub);
                    drop(third);
                }
                _ => {
                    drop(publisher);
                    drop(sub);
                    drop(second);
                }
            }
            assert_eq!(Arc::strong_count(&handle), 1, "order {order}");
        }
    }

    /// Buffers are used in turn and taken back once the stock runs out, and a
    /// subscriber holding every buffer loses ticks, counted, until it drops
    /// one; more than one word of bits works the same.
    #[test]
    fn returned_buffers_are_taken_back_when_the_stock_runs_out() {
        for depth in [1, 2, 63, 64, 130] {
            let (mut publisher, sub) = TapPublisher::new(&[Stream::Mix], 2, depth);
            // Returned at once: every buffer in turn, then again.
            for t in 0..2 * depth {
                assert_eq!(
                    publisher.publish(t as u64, |_, f| f.fill(1)),
                    Published::Sent
                );
                let got = sub.try_recv().unwrap();
                assert_eq!(got.buf.index, t % depth, "depth {depth}, tick {t}");
            }
            // Held: the stock runs out, ticks are lost.
            let mut held = Vec::new();
            for t in 0..depth as u64 {
                assert_eq!(
                    publisher.publish(t, |_, f| f.fill(t as i16)),
                    Published::Sent
                );
                held.push(sub.try_recv().unwrap());
            }
            assert!(!publisher.has_room());
            assert_eq!(publisher.publish(99, |_, _| {}), Published::Dropped);
            assert_eq!(sub.ticks_dropped(), 1);
            assert_eq!(publisher.frames_dropped(), 1);
            let last = held.pop().unwrap();
            let index = last.buf.index;
            drop(last);
            assert!(publisher.has_room());
            assert_eq!(publisher.publish(7, |_, f| f.fill(7)), Published::Sent);
            let got = sub.try_recv().unwrap();
            assert_eq!(got.buf.index, index, "depth {depth}");
            assert_eq!(got.ticks_lost_before(), 1);
            assert_eq!((got.tick(), got.frame(0)), (7, &[7, 7][..]));
            // The others still hold what they were sent.
            for (k, b) in held.iter().enumerate() {
                assert_eq!(b.frame(0)[0], k as i16);
            }
        }
    }

    /// Batches are 64-byte aligned like the engine's buffers, so 160-sample
    /// frames start on cache lines.
    #[test]
    fn batch_frames_start_on_cache_lines() {
        let (mut publisher, sub) = TapPublisher::new(&[Stream::Mix; 7], 160, 3);
        for t in 0..3 {
            publisher.publish(t, |_, _| {});
            let b = sub.try_recv().unwrap();
            for i in 0..7 {
                assert_eq!(b.frame(i).as_ptr() as usize % 64, 0, "tick {t}, frame {i}");
            }
        }
    }

    /// Publisher and subscriber on two threads, the subscriber holding a
    /// varying number of batches and the publisher going away mid-stream:
    /// every batch received holds exactly the tick it says, ticks arrive in
    /// order with the losses counted, and nothing leaks.
    #[test]
    fn concurrent_hand_backs_lose_and_leak_nothing() {
        for round in 0..20u64 {
            let streams: Arc<[Stream]> = vec![Stream::Mix; 2].into();
            let (mut publisher, sub) = TapPublisher::new(&streams, 8, 3);
            let handle = publisher.pool.streams.clone();
            let reader = std::thread::spawn(move || {
                let mut held = std::collections::VecDeque::new();
                let (mut next, mut got) = (0u64, 0u64);
                while let Ok(b) = sub.recv() {
                    assert_eq!(b.tick(), next + b.ticks_lost_before());
                    next = b.tick() + 1;
                    assert!(b.samples().iter().all(|&v| v == b.tick() as i16));
                    got += 1;
                    held.push_back(b);
                    // Hold zero to two batches, varying.
                    while held.len() > ((got + round) % 3) as usize {
                        held.pop_front();
                    }
                }
                got
            });
            let ticks = 2000 + round * 37;
            let mut sent = 0;
            for t in 0..ticks {
                if publisher.publish(t, |_, f| f.fill(t as i16)) == Published::Sent {
                    sent += 1;
                }
            }
            assert_eq!(sent + publisher.ticks_dropped(), ticks);
            drop(publisher);
            assert_eq!(reader.join().unwrap(), sent);
            assert_eq!(Arc::strong_count(&handle), 1, "round {round}");
        }
    }
}
