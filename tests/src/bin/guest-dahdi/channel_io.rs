//! Reading and writing samples on channels, and waiting for what the
//! kernel does: the steps every audio and event test takes.

use std::time::{Duration, Instant};

use dahdi::{BufferInfo, BufferPolicy, ChannelFd, Event, ReadOutcome, Readiness, WriteOutcome};
use dahdi_tests::signal::{amplitude_at, rms, tone, BLOCK};

/// 20 ms blocks, 4 buffers a direction, linear samples.
pub(crate) fn linear(c: &mut impl AsMut<ChannelFd>) {
    let c = c.as_mut();
    c.set_buffer_info(&BufferInfo {
        tx_policy: BufferPolicy::Immediate,
        num_bufs: 4,
        buf_size: BLOCK,
    })
    .expect("set_buffer_info");
    c.set_linear(true).expect("set_linear");
}

/// Reads one block of samples; events met on the way are collected.
pub(crate) fn read_samples(c: &mut impl AsMut<ChannelFd>, events: &mut Vec<Event>) -> Vec<i16> {
    let c = c.as_mut();
    let mut buf = vec![0i16; BLOCK];
    loop {
        match c.read_samples(&mut buf).expect("read") {
            ReadOutcome::Audio(n) => {
                buf.truncate(n);
                return buf;
            }
            ReadOutcome::Event(e) => events.push(e),
        }
    }
}

pub(crate) fn write_samples(c: &mut impl AsMut<ChannelFd>, s: &[i16]) {
    let c = c.as_mut();
    loop {
        match c.write_samples(s).expect("write") {
            WriteOutcome::Written(n) => {
                assert_eq!(n, s.len(), "a write takes one whole block");
                return;
            }
            WriteOutcome::Event(_) => continue,
        }
    }
}

/// What one reader heard, block by block. Levels are medians over the
/// blocks, so that a few blocks lost to a stall of the emulated machine
/// (the host is shared; DAHDI then catches up in a burst and a buffer
/// runs dry) do not decide a test.
pub(crate) struct Heard(Vec<Vec<i16>>);

impl Heard {
    pub(crate) fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    }

    /// Median RMS of the blocks.
    pub(crate) fn rms(&self) -> f64 {
        Self::median(self.0.iter().map(|b| rms(b)).collect())
    }

    /// Median amplitude of `freq` in the blocks (a whole number of
    /// periods per block for 500 and 1000 Hz).
    pub(crate) fn amp(&self, freq: f64) -> f64 {
        Self::median(self.0.iter().map(|b| amplitude_at(b, freq)).collect())
    }
}

/// Runs `blocks` blocks: each writer writes its signal (or silence), each
/// of the first `readers` writers reads; the blocks read after `skip` are
/// returned. Writers keep two blocks ahead of the reads.
pub(crate) fn exchange(
    writers: &mut [(&mut ChannelFd, Option<(f64, f64)>)],
    readers: usize,
    blocks: usize,
    skip: usize,
) -> Vec<Heard> {
    let mut heard: Vec<Heard> = (0..readers).map(|_| Heard(Vec::new())).collect();
    let mut ev = Vec::new();
    const AHEAD: usize = 2;
    for b in 0..blocks + AHEAD {
        for (c, sig) in writers.iter_mut() {
            let s = match sig {
                Some((f, a)) => tone(*f, *a, b * BLOCK, BLOCK),
                None => vec![0; BLOCK],
            };
            write_samples(c, &s);
        }
        if b < AHEAD {
            continue;
        }
        for (k, (c, _)) in writers.iter_mut().enumerate().take(readers) {
            let r = read_samples(c, &mut ev);
            if b - AHEAD >= skip {
                heard[k].0.push(r);
            }
        }
    }
    heard
}

pub(crate) fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Events of a channel within `timeout`, until `until` is seen.
pub(crate) fn events_until(
    c: &impl AsRef<ChannelFd>,
    timeout: Duration,
    until: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let c = c.as_ref();
    let end = Instant::now() + timeout;
    let mut v = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return v;
        }
        let r = c
            .poll_readiness(Readiness::EVENT, Some(left))
            .expect("poll");
        if r.contains(Readiness::EVENT) {
            while let Some(e) = c.event().expect("event") {
                v.push(e);
            }
            if v.iter().any(&until) {
                return v;
            }
        }
    }
}
