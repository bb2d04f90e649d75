//! The real-time tick: one frame from every port, the mix, one frame to every
//! port, the subscribers fed; and the loan bookkeeping that lets the engine mix
//! straight from and into frames that lie elsewhere (ports' queue slots,
//! subscribers' batches).

use std::time::Instant;

use super::tap::{Published, Stream};
use super::Pump;

/// In `claim_in` and `claim_out`: no tap frame.
pub(super) const NO_CLAIM: u32 = u32::MAX;

/// A vector of frame pointers that are only dereferenced inside one
/// [`Pump::tick`], which sets them from borrows that outlive their use; between
/// ticks every entry is null or dead and never read.
#[derive(Default)]
pub(super) struct Scratch<T>(pub(super) Vec<T>);

// SAFETY: see `Scratch`: no pointer in it is dereferenced outside the tick that
// set it, on the thread running that tick.
unsafe impl<T> Send for Scratch<T> {}
// SAFETY: `&Scratch` gives access to no frame.
unsafe impl<T> Sync for Scratch<T> {}

/// Per slot, the frames lent to the engine for this tick's
/// [`Mixer::mix_rows`](crate::audio::mixer::Mixer::mix_rows). Between ticks the entries of loose ports and of
/// empty slots are null; those of grouped ports keep last tick's frames, which
/// their group rewrites at every tick before any use (and which are nulled when
/// the port is removed).
#[derive(Default)]
pub(super) struct Loans {
    pub(super) input: Scratch<*const i16>,
    pub(super) output: Scratch<*mut i16>,
}

impl Loans {
    pub(super) fn resize(&mut self, slots: usize) {
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

impl Pump {
    /// Runs one tick now: read every port, mix, write every port, feed the
    /// subscribers. See the [module docs](super).
    ///
    /// Ports that [lend](super::Port::lend) their frames are mixed in place (no copy in
    /// or out) and [committed](super::Port::commit) at the end (the ports of a
    /// bank together, in one pass each); the others are
    /// [read](super::Port::read) into the engine's buffers and [written](super::Port::write)
    /// from them. Subscribers' frames are made where they are delivered: each
    /// tap takes a free batch buffer first, and a port that does not lend reads
    /// a tapped input straight into it, the engine writes a tapped output
    /// straight into it, and the port is written from there. Only frames that
    /// lie elsewhere (the mix, a lending port's frames, a stream two taps share)
    /// are copied into a batch.
    pub fn tick(&mut self) {
        let t0 = Instant::now();
        // The tick boundary: changes queued through handles take effect now.
        self.apply_commands();
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
            group.lend_all(members, loan_in, loan_out);
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
            group.commit_all(members);
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
}
