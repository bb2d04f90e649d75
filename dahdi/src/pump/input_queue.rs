//! A DAHDI port's user-space input queue: the samples read from the kernel
//! and not yet taken by a tick, and when each of them was read, so that the
//! port can tell how long its input waited in the pump.

use std::time::{Duration, Instant};

/// A fixed-capacity FIFO of samples.
struct SampleFifo {
    buf: Vec<i16>,
    head: usize,
    len: usize,
    /// Samples ever removed (taken or discarded): the position of `head` in
    /// the stream of every sample ever queued.
    removed: u64,
}

impl SampleFifo {
    fn new(capacity: usize) -> SampleFifo {
        SampleFifo {
            buf: vec![0; capacity],
            head: 0,
            len: 0,
            removed: 0,
        }
    }

    fn cap(&self) -> usize {
        self.buf.len()
    }

    /// The stream position just after the newest queued sample.
    fn end(&self) -> u64 {
        self.removed + self.len as u64
    }

    /// Appends, discarding the oldest samples if needed; returns how many
    /// were discarded.
    fn push(&mut self, s: &[i16]) -> usize {
        let cap = self.cap();
        let skipped = s.len().saturating_sub(cap);
        // Samples too many to fit at all count as queued and discarded at
        // once, so that stream positions stay those of every sample read.
        self.removed += skipped as u64;
        let s = &s[skipped..];
        let over = (self.len + s.len()).saturating_sub(cap);
        self.discard(over);
        let tail = (self.head + self.len) % cap;
        let first = s.len().min(cap - tail);
        self.buf[tail..tail + first].copy_from_slice(&s[..first]);
        self.buf[..s.len() - first].copy_from_slice(&s[first..]);
        self.len += s.len();
        skipped + over
    }

    fn pop(&mut self, out: &mut [i16]) -> bool {
        if self.len < out.len() {
            return false;
        }
        let cap = self.cap();
        let first = out.len().min(cap - self.head);
        out[..first].copy_from_slice(&self.buf[self.head..self.head + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&self.buf[..rest]);
        self.discard(out.len());
        true
    }

    fn discard(&mut self, n: usize) {
        let n = n.min(self.len);
        self.head = (self.head + n) % self.cap();
        self.len -= n;
        self.removed += n as u64;
    }
}

/// When queued samples were read: one entry per read, `(end, at)`: the
/// samples up to stream position `end` (exclusive) had all been read at
/// `at`. Oldest first, in a ring allocated once.
struct ReadTimes {
    ring: Vec<(u64, Instant)>,
    head: usize,
    len: usize,
}

impl ReadTimes {
    fn new(capacity: usize, now: Instant) -> ReadTimes {
        ReadTimes {
            ring: vec![(0, now); capacity.max(1)],
            head: 0,
            len: 0,
        }
    }

    fn get(&self, k: usize) -> (u64, Instant) {
        self.ring[(self.head + k) % self.ring.len()]
    }

    /// Forgets the reads whose samples all lie before stream position `from`.
    fn prune(&mut self, from: u64) {
        while self.len > 0 && self.get(0).0 <= from {
            self.head = (self.head + 1) % self.ring.len();
            self.len -= 1;
        }
    }

    fn push(&mut self, end: u64, at: Instant) {
        if self.len == self.ring.len() {
            // More reads queued than reads of whole blocks can make (the
            // kernel returned short blocks): the newest read joins the one
            // before it, whose earlier time then stands for both, so a wait
            // is never under-reported.
            let last = (self.head + self.len - 1) % self.ring.len();
            self.ring[last].0 = end;
            return;
        }
        let at_end = (self.head + self.len) % self.ring.len();
        self.ring[at_end] = (end, at);
        self.len += 1;
    }

    /// When the samples up to stream position `end` had all been read: the
    /// time of the first read that reached it.
    fn when_read(&self, end: u64) -> Option<Instant> {
        (0..self.len)
            .map(|k| self.get(k))
            .find(|&(e, _)| e >= end)
            .map(|(_, at)| at)
    }
}

/// The input queue: samples read from the kernel, taken one block per tick,
/// each block with the time it waited between the read that completed it and
/// the tick that took it.
pub(super) struct InputQueue {
    fifo: SampleFifo,
    times: ReadTimes,
}

impl InputQueue {
    /// Room for `frames` blocks of `block` samples.
    pub(super) fn new(block: usize, frames: usize) -> InputQueue {
        InputQueue {
            fifo: SampleFifo::new(block * frames),
            // One read per queued block, one more for a block read while the
            // queue is full (it pushes the oldest out).
            times: ReadTimes::new(frames + 1, Instant::now()),
        }
    }

    /// Samples queued.
    pub(super) fn len(&self) -> usize {
        self.fifo.len
    }

    /// Queues samples read at `at`, discarding the oldest if needed; returns
    /// how many were discarded.
    pub(super) fn push(&mut self, s: &[i16], at: Instant) -> usize {
        let dropped = self.fifo.push(s);
        self.times.prune(self.fifo.removed);
        if !s.is_empty() {
            self.times.push(self.fifo.end(), at);
        }
        dropped
    }

    /// Takes the oldest `out.len()` samples at `now`, if there are that many;
    /// returns how long the last of them waited since it was read (never
    /// negative: a read stamped after `now` counts as no wait).
    pub(super) fn pop(&mut self, out: &mut [i16], now: Instant) -> Option<Duration> {
        let end = self.fifo.removed + out.len() as u64;
        let read_at = self.times.when_read(end)?;
        if !self.fifo.pop(out) {
            return None;
        }
        self.times.prune(self.fifo.removed);
        Some(now.saturating_duration_since(read_at))
    }

    /// Discards the oldest `n` samples (all with `usize::MAX`).
    pub(super) fn discard(&mut self, n: usize) {
        self.fifo.discard(n);
        self.times.prune(self.fifo.removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_wraps_and_drops_oldest() {
        let mut f = SampleFifo::new(8);
        assert_eq!(f.push(&[1, 2, 3, 4, 5]), 0);
        let mut o = [0i16; 3];
        assert!(f.pop(&mut o));
        assert_eq!(o, [1, 2, 3]);
        assert_eq!(f.push(&[6, 7, 8, 9, 10]), 0); // wraps: 4..=10
        assert_eq!(f.push(&[11, 12, 13]), 2); // 4 and 5 go
        let mut all = [0i16; 8];
        assert!(f.pop(&mut all));
        assert_eq!(all, [6, 7, 8, 9, 10, 11, 12, 13]);
        assert!(!f.pop(&mut o));
        assert_eq!(f.push(&(0..20).collect::<Vec<i16>>()), 12);
        assert!(f.pop(&mut all));
        assert_eq!(all, [12, 13, 14, 15, 16, 17, 18, 19]);
        // 5 + 5 + 3 + 20 samples queued, none left: every one removed.
        assert_eq!((f.removed, f.end()), (33, 33));
    }

    const MS: Duration = Duration::from_millis(1);

    /// Blocks of 4 samples read at known times and taken at known times: each
    /// block's wait is from its own read to its tick.
    #[test]
    fn each_block_waits_from_its_read_to_its_tick() {
        let t0 = Instant::now();
        let mut q = InputQueue::new(4, 3);
        let mut out = [0i16; 4];
        assert_eq!(q.pop(&mut out, t0), None, "nothing queued");
        q.push(&[1; 4], t0);
        q.push(&[2; 4], t0 + 3 * MS);
        assert_eq!(q.pop(&mut out, t0 + 5 * MS), Some(5 * MS));
        assert_eq!(out, [1; 4]);
        assert_eq!(q.pop(&mut out, t0 + 5 * MS), Some(2 * MS));
        assert_eq!(out, [2; 4]);
        assert_eq!(q.pop(&mut out, t0 + 6 * MS), None);
        // A block read in the tick that takes it waited nothing.
        q.push(&[3; 4], t0 + 7 * MS);
        assert_eq!(q.pop(&mut out, t0 + 7 * MS), Some(Duration::ZERO));
        // A read stamped after the tick (another thread's clock, say) counts
        // as no wait, not a negative one.
        q.push(&[4; 4], t0 + 9 * MS);
        assert_eq!(q.pop(&mut out, t0 + 8 * MS), Some(Duration::ZERO));
    }

    /// A block that two reads made is readable at the second read.
    #[test]
    fn a_block_made_of_two_reads_waits_from_the_later() {
        let t0 = Instant::now();
        let mut q = InputQueue::new(4, 3);
        let mut out = [0i16; 4];
        q.push(&[1, 2], t0);
        assert_eq!(q.pop(&mut out, t0 + MS), None, "half a block");
        q.push(&[3, 4, 5, 6], t0 + 2 * MS);
        assert_eq!(q.pop(&mut out, t0 + 10 * MS), Some(8 * MS));
        assert_eq!(out, [1, 2, 3, 4]);
        q.push(&[7, 8], t0 + 11 * MS);
        // 5 and 6 were read at 2 ms, 7 and 8 at 11 ms: the block is whole at 11.
        assert_eq!(q.pop(&mut out, t0 + 12 * MS), Some(MS));
        assert_eq!(out, [5, 6, 7, 8]);
    }

    /// Overruns and discards take the reads' times with their samples: the
    /// next block taken is timed from its own read, not an older one.
    #[test]
    fn discarded_blocks_take_their_times_along() {
        let t0 = Instant::now();
        let mut q = InputQueue::new(2, 2);
        let mut out = [0i16; 2];
        assert_eq!(q.push(&[1; 2], t0), 0);
        assert_eq!(q.push(&[2; 2], t0 + MS), 0);
        assert_eq!(q.push(&[3; 2], t0 + 2 * MS), 2, "the oldest block goes");
        assert_eq!(q.pop(&mut out, t0 + 4 * MS), Some(3 * MS));
        assert_eq!(out, [2; 2]);
        q.push(&[4; 2], t0 + 5 * MS);
        q.discard(2);
        assert_eq!(q.pop(&mut out, t0 + 6 * MS), Some(MS));
        assert_eq!(out, [4; 2]);
        q.push(&[5; 2], t0 + 7 * MS);
        q.discard(usize::MAX);
        assert_eq!(q.len(), 0);
        assert_eq!(q.pop(&mut out, t0 + 8 * MS), None);
        // More reads than the ring holds (short reads): the newest share the
        // time of the one before, so a wait is over-reported, never under.
        for k in 0..4u32 {
            q.push(&[6], t0 + (10 + k) * MS);
        }
        // (the last block's samples were read at 12 and 13 ms: it counts 12).
        assert_eq!(q.pop(&mut out, t0 + 20 * MS), Some(9 * MS));
        assert_eq!(q.pop(&mut out, t0 + 20 * MS), Some(8 * MS));
    }
}
