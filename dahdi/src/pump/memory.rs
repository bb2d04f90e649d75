//! In-memory ports: the embedded default. An application thread (or the same
//! thread, between ticks) exchanges frames with the pump through lock-free
//! single-producer single-consumer frame queues, so a conference runs without
//! DAHDI and without any system call per frame.
//!
//! Ports are made in banks ([`MemoryPort::bank`]): every queue of a bank lives
//! in one page-aligned slab (with transparent huge pages requested when it is
//! large), laid out so that the frames a tick touches are contiguous, and
//! every port's queue positions and counters share one cache line in a second
//! array. A tick then streams through memory instead of chasing one
//! allocation per queue.
//!
//! A memory port [lends](Port::lend) its queue slots to the pump: the engine
//! reads the frame the application queued where it lies and writes what the
//! participant hears straight into the output slot the application pops, so
//! the pump copies no audio for memory ports at all. A memory port is only a
//! handle on its bank, and a pump lends and commits all the ports it holds of
//! a bank in one tight pass over the bank ([`LendGroup`]) instead of two
//! virtual calls per port. A queue's producer fills the slot its consumer freed
//! last, so an exchange that keeps up (a frame in and out per tick) uses the
//! same slot every tick, still in cache, and since the layout puts each slot of
//! every port of a bank side by side, the frames the engine walks in one tick
//! are as contiguous as its own buffers.

use std::alloc::Layout;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use super::port::{LentFrames, Port, PortError};
use super::stats::PortStats;

/// One port's whole state: its two queues' positions and the pump's counters.
/// The pump writes `in_head`, `out_tail`, `lent` and the counters, the
/// application `in_tail`, `out_head` and `refused`; they share a line because in
/// normal use the two sides take turns (the application queues, a tick runs,
/// the application collects), so the line moves twice per tick either way, and
/// a tick touches one line of state per port.
///
/// Positions are counters that wrap at 2^32 (`depth` divides 2^32, and a queue
/// never holds more than `depth`, so wrapping differences are exact).
#[derive(Default)]
#[repr(C, align(64))]
struct Ctl {
    in_head: AtomicU32,
    in_tail: AtomicU32,
    out_head: AtomicU32,
    out_tail: AtomicU32,
    /// What the pump's last lend lent, until its commit: bit 0, an input frame;
    /// bits 8.., the output slot plus one (0: none).
    lent: AtomicU32,
    /// Input frames refused because the queue was full (application side).
    refused: AtomicU64,
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    underruns: AtomicU64,
    drops: AtomicU64,
}

/// Adds one to a counter that only this side writes (no read-modify-write
/// instruction needed).
#[inline]
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl Ctl {
    /// Counts a tick's input: a frame taken, or an underrun.
    #[inline(always)]
    fn count_input(&self, taken: bool) {
        bump(if taken {
            &self.frames_in
        } else {
            &self.underruns
        });
    }

    /// Counts a tick's output: a frame queued, or a drop.
    #[inline(always)]
    fn count_output(&self, queued: bool) {
        bump(if queued {
            &self.frames_out
        } else {
            &self.drops
        });
    }
}

/// The most frames a queue holds: a queue's slots in use fit one `u64` mask.
const MAX_DEPTH: usize = 64;

/// The storage of a bank of ports.
struct Bank {
    slab: *mut i16,
    layout: Layout,
    ctl: Box<[Ctl]>,
    /// Per port, direction and queue position: which slot holds the frame
    /// there. Written by the producer before it publishes the position, read by
    /// the consumer after it has seen it published.
    slot_ids: Box<[AtomicU8]>,
    /// Frames per queue, a power of two.
    depth: usize,
    block: usize,
    /// Samples between frames: the block rounded up to a cache line.
    stride: usize,
}

// SAFETY: a frame slot is written only by its queue's producer while no
// position in head..tail uses it, and read only by the consumer while the
// position at its head does; the Release/Acquire pairs on the indices order
// those accesses (and the slot ids published with them). The silent frame at
// the end of the slab is never written after `new`. The slab is owned by the
// bank and freed once, on drop.
unsafe impl Send for Bank {}
// SAFETY: as above.
unsafe impl Sync for Bank {}

/// Slabs from this size up ask for transparent huge pages: fewer TLB misses
/// when a tick walks megabytes of queues.
const HUGE: usize = 2 << 20;

impl Bank {
    fn new(ports: usize, block: usize, depth: usize) -> Bank {
        let depth = depth.clamp(1, MAX_DEPTH).next_power_of_two();
        let stride = block.div_ceil(32) * 32;
        // Every queue's slots, then one silent frame.
        let samples = (ports * 2 * depth + 1) * stride;
        let align = if samples * 2 >= HUGE { HUGE } else { 4096 };
        let layout = Layout::from_size_align(samples * 2, align).expect("slab layout");
        // SAFETY: a non-zero size.
        let slab = unsafe { std::alloc::alloc_zeroed(layout) } as *mut i16;
        if slab.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        if layout.size() >= HUGE {
            // SAFETY: our own allocation; advice only, failure is harmless.
            unsafe {
                libc::madvise(slab.cast(), layout.size(), libc::MADV_HUGEPAGE);
            }
        }
        Bank {
            slab,
            layout,
            ctl: (0..ports).map(|_| Ctl::default()).collect(),
            slot_ids: (0..ports * 2 * depth).map(|_| AtomicU8::new(0)).collect(),
            depth,
            block,
            stride,
        }
    }

    /// Where the slot id of queue position `pos` is kept.
    #[inline]
    fn slot_id(&self, port: usize, output: bool, pos: u32) -> &AtomicU8 {
        &self.slot_ids
            [(port * 2 + output as usize) * self.depth + (pos as usize & (self.depth - 1))]
    }

    /// The frame in slot `slot` (`< depth`) of port `port`'s queue (`output` or
    /// not).
    ///
    /// Layout: all input queues, then all output queues; within each, slot
    /// major, port minor. Ports of a bank normally move in step (one frame each
    /// per tick, and each reusing the slot it freed last), so a tick's pass over
    /// the ports reads (or writes) one contiguous run of frames, which the
    /// hardware prefetcher streams; a port-major layout makes every port a
    /// separate, cold jump.
    #[inline]
    fn frame(&self, port: usize, output: bool, slot: u8) -> *mut i16 {
        let ports = self.ctl.len();
        let q = output as usize * self.depth + (slot as usize & (self.depth - 1));
        let off = (q * ports + port) * self.stride;
        debug_assert!(off + self.block <= self.layout.size() / 2);
        // SAFETY: port < ports and the masked slot < depth: inside the slab.
        unsafe { self.slab.add(off) }
    }

    /// A frame of silence (never written after `new`).
    #[inline]
    fn silence(&self) -> *const i16 {
        // SAFETY: the slab ends with one frame after every queue's slots.
        unsafe { self.slab.add(self.ctl.len() * 2 * self.depth * self.stride) }
    }

    /// A queue's (head, tail) positions.
    #[inline]
    fn positions(&self, port: usize, output: bool) -> (&AtomicU32, &AtomicU32) {
        let ctl = &self.ctl[port];
        if output {
            (&ctl.out_head, &ctl.out_tail)
        } else {
            (&ctl.in_head, &ctl.in_tail)
        }
    }

    /// A free slot for the producer's next position, if the queue has room: the
    /// one the consumer freed last if that is free, else the lowest free one.
    /// The consumer does not touch it until [`publish`](Self::publish). Only the
    /// queue's producer calls this.
    ///
    /// Queue positions are counters; which of the `depth` slots holds the frame
    /// at a position is chosen by the producer when it fills it. A queue that is
    /// drained every tick therefore reuses one slot, still in cache, instead of
    /// rotating through all of them (which at thousands of ports means memory
    /// last touched `depth` ticks ago).
    #[inline(always)]
    fn back(&self, port: usize, output: bool) -> Option<u8> {
        let (head, tail) = self.positions(port, output);
        let head = head.load(Ordering::Acquire);
        let tail = tail.load(Ordering::Relaxed);
        let queued = tail.wrapping_sub(head);
        if queued as usize == self.depth {
            return None;
        }
        // The slot ids of positions head - 1 .. tail are the producer's own
        // writes, still in place: position tail reuses the entry of
        // tail - depth <= head - 1 only when it is published. (Before the first
        // frame, "head - 1" names an entry still at its initial slot 0.)
        let slot_at = |p: u32| self.slot_id(port, output, p).load(Ordering::Relaxed);
        let used = (0..queued).fold(0u64, |m, k| m | 1 << slot_at(head.wrapping_add(k)));
        let last_freed = slot_at(head.wrapping_sub(1));
        Some(if used & 1 << last_freed == 0 {
            last_freed
        } else {
            // Fewer than `depth` slots are in use, so one below `depth` is free.
            (!used).trailing_zeros() as u8
        })
    }

    /// Publishes the frame the producer wrote into `slot` at its position.
    #[inline(always)]
    fn publish(&self, port: usize, output: bool, slot: u8) {
        let tail = self.positions(port, output).1;
        let pos = tail.load(Ordering::Relaxed);
        // Ordered before the consumer's reading by the Release store of the tail.
        self.slot_id(port, output, pos)
            .store(slot, Ordering::Relaxed);
        tail.store(pos.wrapping_add(1), Ordering::Release);
    }

    /// The oldest published frame at the consumer's position, if any. The
    /// producer does not reuse its slot until [`consume`](Self::consume). Only the
    /// queue's consumer calls this.
    #[inline(always)]
    fn front(&self, port: usize, output: bool) -> Option<*mut i16> {
        let (head, tail) = self.positions(port, output);
        let head = head.load(Ordering::Relaxed);
        if head == tail.load(Ordering::Acquire) {
            return None;
        }
        // Written before the tail that published this position (Acquired above).
        let slot = self.slot_id(port, output, head).load(Ordering::Relaxed);
        Some(self.frame(port, output, slot))
    }

    /// Hands the frame from [`front`](Self::front) back to the producer.
    #[inline(always)]
    fn consume(&self, port: usize, output: bool) {
        let head = self.positions(port, output).0;
        head.store(
            head.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Release,
        );
    }

    /// Pushes `frame` (padded with silence) into a queue.
    #[inline]
    fn push(&self, port: usize, output: bool, frame: &[i16]) -> bool {
        let Some(slot) = self.back(port, output) else {
            return false;
        };
        let dst = self.frame(port, output, slot);
        let n = frame.len().min(self.block);
        // SAFETY: the slot from `back` holds `block` samples and is ours until
        // `publish` (its Release store orders these writes before it).
        unsafe {
            std::ptr::copy_nonoverlapping(frame.as_ptr(), dst, n);
            if n < self.block {
                std::ptr::write_bytes(dst.add(n), 0, self.block - n);
            }
        }
        self.publish(port, output, slot);
        true
    }

    /// Pops into `frame` (extra samples zeroed) from a queue.
    #[inline]
    fn pop(&self, port: usize, output: bool, frame: &mut [i16]) -> bool {
        let Some(src) = self.front(port, output) else {
            return false;
        };
        let n = frame.len().min(self.block);
        // SAFETY: the frame from `front` holds `block` samples, published by the
        // producer (Acquire in `front`) and not reused before `consume`.
        unsafe { std::ptr::copy_nonoverlapping(src, frame.as_mut_ptr(), n) };
        if n < frame.len() {
            frame[n..].fill(0);
        }
        self.consume(port, output);
        true
    }

    /// The pump's side of a tick, first half: port `port`'s queued input frame
    /// (if any) and a free output slot (if any), remembered for
    /// [`commit`](Self::commit).
    #[inline(always)]
    fn lend(&self, port: usize) -> (Option<*const i16>, Option<*mut i16>) {
        let input = self.front(port, false);
        let slot = self.back(port, true);
        let lent = u32::from(input.is_some()) | slot.map_or(0, |s| (u32::from(s) + 1) << 8);
        self.ctl[port].lent.store(lent, Ordering::Relaxed);
        (
            input.map(<*mut i16>::cast_const),
            slot.map(|s| self.frame(port, true, s)),
        )
    }

    /// The pump's side of a tick, second half: the lent input consumed, the lent
    /// output published, and both counted.
    #[inline(always)]
    fn commit(&self, port: usize) {
        let ctl = &self.ctl[port];
        // Only the pump writes `lent`: no read-modify-write instruction needed.
        let lent = ctl.lent.load(Ordering::Relaxed);
        ctl.lent.store(0, Ordering::Relaxed);
        if lent & 1 != 0 {
            self.consume(port, false);
        }
        ctl.count_input(lent & 1 != 0);
        if let Some(slot) = (lent >> 8).checked_sub(1) {
            self.publish(port, true, slot as u8);
        }
        ctl.count_output(lent >> 8 != 0);
    }

    /// Lends the frames of every `(port, row)` of `members` for one tick, into
    /// the pump's loan tables indexed by row: the queued input, or a frame of
    /// silence (an underrun), and the free output slot, or null (a drop).
    /// [`Bank::commit_all`] ends the tick.
    fn lend_all(
        &self,
        members: &[(u32, u32)],
        loan_in: &mut [*const i16],
        loan_out: &mut [*mut i16],
    ) {
        let silence = self.silence();
        for &(port, row) in members {
            let (input, output) = self.lend(port as usize);
            loan_in[row as usize] = input.unwrap_or(silence);
            loan_out[row as usize] = output.unwrap_or(std::ptr::null_mut());
        }
    }

    /// Commits every port of `members` (see [`Bank::lend_all`]).
    fn commit_all(&self, members: &[(u32, u32)]) {
        for &(port, _) in members {
            self.commit(port as usize);
        }
    }
}

impl Drop for Bank {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.slab.cast(), self.layout) }
    }
}

/// The pump's side of an in-memory participant: input frames come from the
/// paired [`MemoryEndpoint`], output frames go back to it.
///
/// Counters: an underrun is a tick with no frame queued by the endpoint; an
/// overrun is a frame the endpoint could not queue because the pump had not
/// consumed the earlier ones (the endpoint's push returned false); a drop is an
/// output frame the endpoint had no room for because it did not pop.
///
/// A memory port is a handle: its queues and counters live in its bank, and a
/// [`Pump`](super::Pump) lends every port of a bank it holds in one pass over
/// the bank (the pump knows memory ports by their type).
pub struct MemoryPort {
    bank: Arc<Bank>,
    port: usize,
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
    bank: Arc<Bank>,
    port: usize,
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
    /// power of two, at most 64) of `block` samples each way. All memory is allocated here.
    pub fn new(block: usize, depth: usize) -> (MemoryPort, MemoryEndpoint) {
        Self::bank(1, block, depth).pop().expect("one port")
    }

    /// `count` ports with their endpoints, sharing one allocation. Use this for
    /// many participants: every queue of the bank lives in one page-aligned
    /// slab (transparent huge pages requested when large), laid out so that
    /// the frames one tick touches are contiguous (queue position major, port
    /// minor), and each port's state is one cache line. A tick then
    /// streams through memory instead of visiting one allocation per queue,
    /// and a pump lends the whole bank in one pass.
    pub fn bank(count: usize, block: usize, depth: usize) -> Vec<(MemoryPort, MemoryEndpoint)> {
        let bank = Arc::new(Bank::new(count, block, depth));
        (0..count)
            .map(|port| {
                (
                    MemoryPort {
                        bank: bank.clone(),
                        port,
                    },
                    MemoryEndpoint {
                        bank: bank.clone(),
                        port,
                    },
                )
            })
            .collect()
    }
}

/// The ports of one bank that a pump holds, lent and committed together in one
/// pass per tick instead of a [`Port::lend`] and a [`Port::commit`] call per
/// port. The pump finds a memory port's group by the port's type
/// ([`MemoryPort::lend_group`]), so the [`Port`] trait carries nothing that only
/// memory ports use.
#[derive(Clone)]
pub(crate) struct LendGroup(Arc<Bank>);

impl LendGroup {
    /// Whether `self` and `other` are the same bank.
    pub(crate) fn same(&self, other: &LendGroup) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// See [`Bank::lend_all`].
    #[inline]
    pub(crate) fn lend_all(
        &self,
        members: &[(u32, u32)],
        loan_in: &mut [*const i16],
        loan_out: &mut [*mut i16],
    ) {
        self.0.lend_all(members, loan_in, loan_out);
    }

    /// See [`Bank::commit_all`].
    #[inline]
    pub(crate) fn commit_all(&self, members: &[(u32, u32)]) {
        self.0.commit_all(members);
    }
}

impl MemoryPort {
    /// The bank this port belongs to, as a lending group, and its place in it.
    pub(crate) fn lend_group(&self) -> (LendGroup, u32) {
        (LendGroup(self.bank.clone()), self.port as u32)
    }
}

impl Port for MemoryPort {
    fn name(&self) -> String {
        "memory".into()
    }

    /// Lends the input queue's oldest frame and the output queue's free slot,
    /// where they lie in the bank: the pump mixes without copying either.
    fn lends(&self, block: usize) -> bool {
        block == self.bank.block
    }

    #[inline]
    fn lend(&mut self) -> LentFrames<'_> {
        let block = self.bank.block;
        let (input, output) = self.bank.lend(self.port);
        // SAFETY: each pointer is a slot of `block` samples that the other side
        // does not touch until `commit` moves the index past it (see `front` and
        // `back`); the two are distinct slots of the bank, and the slices borrow
        // `self`, so they end before `commit` can run.
        LentFrames {
            input: input.map(|p| unsafe { std::slice::from_raw_parts(p, block) }),
            output: output.map(|p| unsafe { std::slice::from_raw_parts_mut(p, block) }),
        }
    }

    #[inline]
    fn commit(&mut self) {
        self.bank.commit(self.port);
    }

    #[inline]
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        let taken = self.bank.pop(self.port, false, frame);
        if !taken {
            frame.fill(0);
        }
        self.bank.ctl[self.port].count_input(taken);
        Ok(())
    }

    #[inline]
    fn write(&mut self, frame: &[i16]) -> Result<(), PortError> {
        let queued = self.bank.push(self.port, true, frame);
        self.bank.ctl[self.port].count_output(queued);
        Ok(())
    }

    fn stats(&self) -> PortStats {
        let ctl = &self.bank.ctl[self.port];
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PortStats {
            frames_in: get(&ctl.frames_in),
            frames_out: get(&ctl.frames_out),
            underruns: get(&ctl.underruns),
            overruns: get(&ctl.refused),
            drops: get(&ctl.drops),
            ..PortStats::default()
        }
    }
}

impl MemoryEndpoint {
    /// Queues one input frame for the pump (shorter frames are padded with
    /// silence). False if the queue is full: the frame is refused and the port
    /// counts an overrun.
    pub fn push(&mut self, frame: &[i16]) -> bool {
        let ok = self.bank.push(self.port, false, frame);
        if !ok {
            bump(&self.bank.ctl[self.port].refused);
        }
        ok
    }

    /// Takes the oldest output frame, if any.
    pub fn pop(&mut self, frame: &mut [i16]) -> bool {
        self.bank.pop(self.port, true, frame)
    }

    /// Input frames the pump has not taken yet.
    pub fn queued_input(&self) -> usize {
        let (head, tail) = self.bank.positions(self.port, false);
        tail.load(Ordering::Relaxed)
            .wrapping_sub(head.load(Ordering::Acquire)) as usize
    }

    /// Room for this many more input frames.
    pub fn input_room(&self) -> usize {
        self.bank.depth - self.queued_input()
    }

    /// Output frames waiting to be popped.
    pub fn queued_output(&self) -> usize {
        let (head, tail) = self.bank.positions(self.port, true);
        tail.load(Ordering::Acquire)
            .wrapping_sub(head.load(Ordering::Relaxed)) as usize
    }

    /// Samples per frame.
    pub fn block_size(&self) -> usize {
        self.bank.block
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
        assert_eq!(ep.queued_input(), 4);
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
        // Short frames are padded with silence.
        assert!(ep.push(&[3; 5]));
        port.read(&mut f).unwrap();
        assert_eq!(f, [3, 3, 3, 3, 3, 0, 0, 0]);
    }

    #[test]
    fn ports_of_a_bank_do_not_mix() {
        let mut bank = MemoryPort::bank(3, 160, 2);
        for (i, (_, ep)) in bank.iter_mut().enumerate() {
            assert!(ep.push(&[i as i16 + 1; 160]));
            assert!(ep.push(&[i as i16 + 10; 160]));
        }
        let mut f = [0i16; 160];
        for (i, (port, ep)) in bank.iter_mut().enumerate() {
            port.read(&mut f).unwrap();
            assert_eq!(f, [i as i16 + 1; 160]);
            port.write(&[-(i as i16); 160]).unwrap();
            assert!(ep.pop(&mut f));
            assert_eq!(f, [-(i as i16); 160]);
            port.read(&mut f).unwrap();
            assert_eq!(f, [i as i16 + 10; 160]);
        }
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

    /// A queue drained every tick reuses one slot each way (the memory a tick
    /// touches stays the same), and lent frames carry the right audio.
    #[test]
    fn a_drained_queue_reuses_one_slot() {
        let (mut port, mut ep) = MemoryPort::new(8, 4);
        let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
        for t in 0..10i16 {
            assert!(ep.push(&[t; 8]));
            let f = port.lend();
            let (input, output) = (f.input.unwrap(), f.output.unwrap());
            assert_eq!(input, &[t; 8]);
            inputs.push(input.as_ptr() as usize);
            outputs.push(output.as_ptr() as usize);
            output.fill(-t);
            port.commit();
            let mut o = [0i16; 8];
            assert!(ep.pop(&mut o));
            assert_eq!(o, [-t; 8]);
        }
        inputs.dedup();
        outputs.dedup();
        assert_eq!((inputs.len(), outputs.len()), (1, 1), "one slot each way");
    }

    /// Random pushes and pops on both queues against a model: FIFO order, room
    /// and emptiness exactly as a queue of `depth` frames, whichever slots the
    /// producer picks.
    #[test]
    fn queues_behave_as_fifos_of_their_depth() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for depth in [1usize, 2, 4, 8] {
            let (mut port, mut ep) = MemoryPort::new(16, depth);
            let (mut model_in, mut model_out) = (
                std::collections::VecDeque::new(),
                std::collections::VecDeque::new(),
            );
            let mut v = 0i16;
            for _ in 0..4000 {
                let mut f = [0i16; 16];
                match next() % 4 {
                    0 => {
                        v = v.wrapping_add(1);
                        let ok = ep.push(&[v; 16]);
                        assert_eq!(ok, model_in.len() < depth, "input room");
                        if ok {
                            model_in.push_back(v);
                        }
                    }
                    1 => {
                        let before = port.stats().frames_in;
                        port.read(&mut f).unwrap();
                        match model_in.pop_front() {
                            Some(want) => {
                                assert_eq!(port.stats().frames_in, before + 1);
                                assert_eq!(f, [want; 16]);
                            }
                            None => assert_eq!(f, [0; 16]),
                        }
                    }
                    2 => {
                        v = v.wrapping_add(1);
                        let before = port.stats().drops;
                        port.write(&[v; 16]).unwrap();
                        if model_out.len() < depth {
                            model_out.push_back(v);
                        } else {
                            assert_eq!(port.stats().drops, before + 1);
                        }
                    }
                    _ => {
                        let ok = ep.pop(&mut f);
                        assert_eq!(ok, !model_out.is_empty());
                        if let Some(want) = model_out.pop_front() {
                            assert_eq!(f, [want; 16]);
                        }
                    }
                }
            }
        }
    }
}
