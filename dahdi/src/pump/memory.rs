//! In-memory ports: the embedded default. An application thread (or the same
//! thread, between ticks) exchanges frames with the pump through a pair of
//! lock-free single-producer single-consumer frame queues, so a conference runs
//! without DAHDI and without any system call per frame.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::port::{Port, PortError};
use super::stats::PortStats;

/// Keeps the producer's and the consumer's index on separate cache lines, so the
/// two sides do not invalidate each other's line on every frame.
#[repr(align(64))]
struct Padded<T>(T);

/// A bounded SPSC queue of fixed-size frames, storage allocated once.
struct FrameRing {
    /// Next frame to read; written only by the consumer.
    head: Padded<AtomicUsize>,
    /// Next frame to write; written only by the producer.
    tail: Padded<AtomicUsize>,
    /// Pushes refused because the queue was full (producer side).
    refused: Padded<AtomicU64>,
    mask: usize,
    block: usize,
    buf: Box<[UnsafeCell<i16>]>,
}

// SAFETY: a slot is written only by the producer while it is outside
// head..tail, and read only by the consumer while it is inside; the
// Release/Acquire pairs on head and tail order those accesses.
unsafe impl Sync for FrameRing {}
// SAFETY: as above; the ring owns its storage.
unsafe impl Send for FrameRing {}

impl FrameRing {
    fn new(capacity: usize, block: usize) -> FrameRing {
        let cap = capacity.max(1).next_power_of_two();
        FrameRing {
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            refused: Padded(AtomicU64::new(0)),
            mask: cap - 1,
            block,
            buf: (0..cap * block).map(|_| UnsafeCell::new(0)).collect(),
        }
    }

    fn slot(&self, index: usize) -> *mut i16 {
        let off = (index & self.mask) * self.block;
        // UnsafeCell<i16> has the layout of i16, and the cells are contiguous.
        UnsafeCell::raw_get(self.buf[off..].as_ptr())
    }
}

/// The producing half of a [`FrameRing`], with a cached copy of the consumer's
/// index so that a push reads the shared one only when the queue looks full.
struct Producer {
    ring: Arc<FrameRing>,
    tail: usize,
    head_cache: usize,
}

impl Producer {
    fn push(&mut self, frame: &[i16]) -> bool {
        let r = &*self.ring;
        let cap = r.mask + 1;
        if self.tail - self.head_cache == cap {
            self.head_cache = r.head.0.load(Ordering::Acquire);
            if self.tail - self.head_cache == cap {
                r.refused.0.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        let n = frame.len().min(r.block);
        // SAFETY: the slot at `tail` is outside head..tail, so the consumer does
        // not touch it until the Release store below publishes it.
        unsafe {
            std::ptr::copy_nonoverlapping(frame.as_ptr(), r.slot(self.tail), n);
            if n < r.block {
                std::ptr::write_bytes(r.slot(self.tail).add(n), 0, r.block - n);
            }
        }
        self.tail += 1;
        r.tail.0.store(self.tail, Ordering::Release);
        true
    }

    fn free(&self) -> usize {
        let head = self.ring.head.0.load(Ordering::Acquire);
        self.ring.mask + 1 - (self.tail - head)
    }
}

/// The consuming half, with a cached copy of the producer's index.
struct Consumer {
    ring: Arc<FrameRing>,
    head: usize,
    tail_cache: usize,
}

impl Consumer {
    fn pop(&mut self, frame: &mut [i16]) -> bool {
        let r = &*self.ring;
        if self.head == self.tail_cache {
            self.tail_cache = r.tail.0.load(Ordering::Acquire);
            if self.head == self.tail_cache {
                return false;
            }
        }
        let n = frame.len().min(r.block);
        // SAFETY: the slot at `head` is inside head..tail: published by the
        // producer (Acquire above) and not reused until head moves past it.
        unsafe { std::ptr::copy_nonoverlapping(r.slot(self.head), frame.as_mut_ptr(), n) };
        frame[n..].fill(0);
        self.head += 1;
        r.head.0.store(self.head, Ordering::Release);
        true
    }

    fn len(&self) -> usize {
        self.ring.tail.0.load(Ordering::Acquire) - self.head
    }
}

/// The pump's side of an in-memory participant: input frames come from the
/// paired [`MemoryEndpoint`], output frames go back to it.
///
/// Counters: an underrun is a tick with no frame queued by the endpoint; an
/// overrun is a frame the endpoint could not queue because the pump had not
/// consumed the earlier ones (the endpoint's push returned false); a drop is an
/// output frame the endpoint had no room for because it did not pop.
pub struct MemoryPort {
    input: Consumer,
    output: Producer,
    stats: PortStats,
}

impl std::fmt::Debug for MemoryPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryPort")
            .field("stats", &self.stats())
            .finish()
    }
}

/// The application's side of an in-memory participant.
pub struct MemoryEndpoint {
    input: Producer,
    output: Consumer,
}

impl std::fmt::Debug for MemoryEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryEndpoint")
            .field("queued_input", &self.queued_input())
            .field("queued_output", &self.queued_output())
            .finish()
    }
}

impl MemoryPort {
    /// The default queue depth in frames, each way: 4 frames (80 ms at 20 ms
    /// blocks) absorb an application thread's scheduling jitter.
    pub const DEFAULT_DEPTH: usize = 4;

    /// A port and its endpoint, with queues of `depth` frames (rounded up to a
    /// power of two) of `block` samples each way. All memory is allocated here.
    pub fn new(block: usize, depth: usize) -> (MemoryPort, MemoryEndpoint) {
        let to_pump = Arc::new(FrameRing::new(depth, block));
        let from_pump = Arc::new(FrameRing::new(depth, block));
        let port = MemoryPort {
            input: Consumer {
                ring: to_pump.clone(),
                head: 0,
                tail_cache: 0,
            },
            output: Producer {
                ring: from_pump.clone(),
                tail: 0,
                head_cache: 0,
            },
            stats: PortStats::default(),
        };
        let endpoint = MemoryEndpoint {
            input: Producer {
                ring: to_pump,
                tail: 0,
                head_cache: 0,
            },
            output: Consumer {
                ring: from_pump,
                head: 0,
                tail_cache: 0,
            },
        };
        (port, endpoint)
    }
}

impl Port for MemoryPort {
    fn name(&self) -> String {
        "memory".into()
    }

    #[inline]
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        if self.input.pop(frame) {
            self.stats.frames_in += 1;
        } else {
            frame.fill(0);
            self.stats.underruns += 1;
        }
        Ok(())
    }

    #[inline]
    fn write(&mut self, frame: &[i16]) -> Result<(), PortError> {
        if self.output.push(frame) {
            self.stats.frames_out += 1;
        } else {
            self.stats.drops += 1;
        }
        Ok(())
    }

    fn stats(&self) -> PortStats {
        PortStats {
            overruns: self.input.ring.refused.0.load(Ordering::Relaxed),
            ..self.stats
        }
    }
}

impl MemoryEndpoint {
    /// Queues one input frame for the pump (shorter frames are padded with
    /// silence). False if the queue is full: the frame is refused and the port
    /// counts an overrun.
    pub fn push(&mut self, frame: &[i16]) -> bool {
        self.input.push(frame)
    }

    /// Takes the oldest output frame, if any.
    pub fn pop(&mut self, frame: &mut [i16]) -> bool {
        self.output.pop(frame)
    }

    /// Input frames the pump has not taken yet.
    pub fn queued_input(&self) -> usize {
        self.input.ring.mask + 1 - self.input.free()
    }

    /// Room for this many more input frames.
    pub fn input_room(&self) -> usize {
        self.input.free()
    }

    /// Output frames waiting to be popped.
    pub fn queued_output(&self) -> usize {
        self.output.len()
    }

    /// Samples per frame.
    pub fn block_size(&self) -> usize {
        self.input.ring.block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_pass_in_order_and_full_queues_count() {
        let (mut port, mut ep) = MemoryPort::new(8, 3); // rounded up to 4
        for v in 1..=4 {
            assert!(ep.push(&[v; 8]));
        }
        assert!(!ep.push(&[9; 8]), "a fifth frame does not fit");
        assert_eq!(port.stats().overruns, 1);
        let mut f = [0i16; 8];
        for v in 1..=4 {
            port.read(&mut f).unwrap();
            assert_eq!(f, [v; 8]);
        }
        f = [7; 8];
        port.read(&mut f).unwrap();
        assert_eq!(f, [0; 8], "an underrun reads silence");
        let s = port.stats();
        assert_eq!((s.frames_in, s.underruns), (4, 1));

        for v in 0..5 {
            port.write(&[v; 8]).unwrap();
        }
        assert_eq!(port.stats().drops, 1);
        assert_eq!(ep.queued_output(), 4);
        let mut out = [0i16; 8];
        assert!(ep.pop(&mut out));
        assert_eq!(out, [0; 8]);
        assert!(ep.pop(&mut out));
        assert_eq!(out, [1; 8]);
    }

    #[test]
    fn crosses_threads_without_loss() {
        let (mut port, mut ep) = MemoryPort::new(160, 4);
        let n = 20_000i32;
        let producer = std::thread::spawn(move || {
            let mut v = 0;
            while v < n {
                if ep.push(&[v as i16; 160]) {
                    v += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        let mut f = [0i16; 160];
        let mut next = 0;
        while next < n {
            let before = port.stats().frames_in;
            port.read(&mut f).unwrap();
            if port.stats().frames_in > before {
                assert!(f.iter().all(|&x| x == next as i16), "frame {next}");
                next += 1;
            }
        }
        producer.join().unwrap();
    }
}
