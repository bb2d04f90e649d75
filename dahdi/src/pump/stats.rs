//! Counters and the tick work-time histogram.

use std::fmt;
use std::time::Duration;

use crate::audio::mixer::Role;

use super::PortId;

/// Sub-buckets per power of two: the histogram's relative resolution is 1/16
/// (6.25 %), enough for p50/p99 of a tick's work time.
const SUB: usize = 16;
const SUB_BITS: u32 = 4;
/// Buckets cover every `u64` nanosecond count: 16 exact ones for 0..16, then 16
/// per power of two up to 2^64.
const BUCKETS: usize = SUB * (64 - SUB_BITS as usize + 1);

/// A fixed-size log-linear histogram of durations in nanoseconds.
///
/// Recording is a few integer operations and one increment, with no allocation,
/// so the pump can record every tick. Quantiles are reported as the upper bound of
/// the bucket they fall in (never more than 6.25 % above the true value, and
/// never above the recorded maximum).
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("p50_ns", &self.quantile_ns(0.5))
            .field("max_ns", &self.max)
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < SUB as u64 {
            return v as usize;
        }
        let msb = 63 - v.leading_zeros();
        let shift = msb - SUB_BITS;
        let minor = ((v >> shift) as usize) & (SUB - 1);
        (shift as usize + 1) * SUB + minor
    }

    /// The largest value that falls into bucket `i`.
    fn upper(i: usize) -> u64 {
        if i < SUB {
            return i as u64;
        }
        let shift = (i / SUB - 1) as u32;
        let minor = (i % SUB) as u64;
        // (16 + minor + 1) << shift can reach 2^64 for the top bucket.
        (((SUB as u128 + minor as u128 + 1) << shift) - 1).min(u64::MAX as u128) as u64
    }

    /// Records one value.
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
        self.max = self.max.max(ns);
    }

    /// Records one duration.
    #[inline]
    pub fn record(&mut self, d: Duration) {
        self.record_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest recorded value (exact).
    pub fn max_ns(&self) -> u64 {
        self.max
    }

    /// The `q` quantile (0..=1), as the upper bound of its bucket capped at the
    /// maximum; 0 when empty.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        // The smallest value with at least ceil(q * n) values at or below it.
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::upper(i).min(self.max);
            }
        }
        self.max
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.max = 0;
    }
}

/// What happened at one port. Each port keeps its own; what counts as what:
///
/// * `underruns`: ticks at which the port had no input frame ready (its source
///   was late or had stopped); the conference got silence for it instead.
/// * `overruns`: input frames the port discarded because they arrived faster
///   than the ticks consumed them (its input queue was full, or a shared-memory
///   peer lapped the port's reader).
/// * `drops`: output frames the port's sink could not take (a full DAHDI
///   transmit queue, a full in-memory queue) and that were discarded.
/// * `events`: DAHDI events met while reading or writing (no audio is lost to
///   them).
/// * `errors`: I/O errors, counted by the pump; the frame was treated as silence
///   or discarded, and the port stays in the conference.
///
/// And the latency a [`DahdiPort`](super::DahdiPort) adds (other ports leave
/// these at 0), kept apart from the kernel's own buffering, which they do not
/// include:
///
/// * `input_waits`, `input_wait_sum_ns`, `input_wait_max_ns`: on input, for
///   every block a tick took, how long it waited in the pump: from the moment
///   the port read it from the kernel (`CLOCK_MONOTONIC` when the read
///   returned, in the port's service when epoll reported the channel readable,
///   or in the tick itself if the block was not read yet) to the tick that
///   took it. One count per input frame delivered (`input_waits ==
///   frames_in`); the mean is [`input_wait_mean`](Self::input_wait_mean).
///   Under a [`DahdiClock`](super::DahdiClock) it stays below one tick plus
///   the scheduling delay (see the [module docs](super#choosing-a-latency)).
/// * `tx_prefill`: on output, the blocks of silence the port wrote ahead of
///   its first output block (those the kernel took; a full transmit queue
///   stops the prefill early). The kernel transmits one block per block
///   period and the pump writes one per tick of the same clock, so every
///   block written waits behind this many: it is the output latency the pump
///   adds, in blocks, for as long as no write is dropped (`drops == 0`, and
///   `frames_out` is then every tick since the first write). Each drop takes
///   one block off the queue ahead of the later writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Input frames delivered to the conference.
    pub frames_in: u64,
    /// Output frames taken by the sink.
    pub frames_out: u64,
    /// Ticks without an input frame.
    pub underruns: u64,
    /// Input frames discarded because too many were waiting.
    pub overruns: u64,
    /// Output frames the sink refused.
    pub drops: u64,
    /// DAHDI events met on the way.
    pub events: u64,
    /// I/O errors (counted by the pump).
    pub errors: u64,
    /// Input blocks whose wait in the pump was measured.
    pub input_waits: u64,
    /// Their waits, summed, in nanoseconds.
    pub input_wait_sum_ns: u64,
    /// The longest wait, in nanoseconds.
    pub input_wait_max_ns: u64,
    /// Transmit prefill written, in blocks: the output latency added.
    pub tx_prefill: u64,
}

impl PortStats {
    /// Field-wise sum; the maxima (`input_wait_max_ns`, `tx_prefill`) are the
    /// larger of the two.
    pub fn add(&mut self, o: &PortStats) {
        self.frames_in += o.frames_in;
        self.frames_out += o.frames_out;
        self.underruns += o.underruns;
        self.overruns += o.overruns;
        self.drops += o.drops;
        self.events += o.events;
        self.errors += o.errors;
        self.input_waits += o.input_waits;
        self.input_wait_sum_ns += o.input_wait_sum_ns;
        self.input_wait_max_ns = self.input_wait_max_ns.max(o.input_wait_max_ns);
        self.tx_prefill = self.tx_prefill.max(o.tx_prefill);
    }

    /// Counts one input block's wait in the pump (no allocation: three
    /// integer updates).
    #[inline]
    pub(super) fn note_input_wait(&mut self, wait: Duration) {
        let ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.input_waits += 1;
        self.input_wait_sum_ns = self.input_wait_sum_ns.saturating_add(ns);
        self.input_wait_max_ns = self.input_wait_max_ns.max(ns);
    }

    /// The mean wait of an input block in the pump (zero if none measured).
    pub fn input_wait_mean(&self) -> Duration {
        Duration::from_nanos(
            self.input_wait_sum_ns
                .checked_div(self.input_waits)
                .unwrap_or(0),
        )
    }

    /// The longest wait of an input block in the pump.
    pub fn input_wait_max(&self) -> Duration {
        Duration::from_nanos(self.input_wait_max_ns)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl fmt::Display for PortStats {
    /// The counters on one line, then the latency added if measured.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frames in {}, out {}; underruns {}, overruns {}, drops {}, events {}, errors {}",
            self.frames_in,
            self.frames_out,
            self.underruns,
            self.overruns,
            self.drops,
            self.events,
            self.errors
        )?;
        if self.input_waits > 0 || self.tx_prefill > 0 {
            write!(
                f,
                "; input wait mean {:.2} ms, max {:.2} ms ({} blocks); transmit prefill {} blocks",
                ms(self.input_wait_mean()),
                ms(self.input_wait_max()),
                self.input_waits,
                self.tx_prefill
            )?;
        }
        Ok(())
    }
}

/// One port in a [`PumpStats`].
#[derive(Clone, Debug)]
pub struct PortReport {
    /// Its handle.
    pub id: PortId,
    /// What the port calls itself.
    pub name: String,
    /// Its role in the conference.
    pub role: Role,
    /// Its counters.
    pub stats: PortStats,
    /// The last I/O error, if any.
    pub last_error: Option<String>,
}

/// One subscriber (in-process tap or shared-memory ring) in a [`PumpStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TapReport {
    /// `"tap"` (in-process) or the ring's file name.
    pub name: String,
    /// Frames delivered (for a ring: written; a ring never refuses).
    pub frames_sent: u64,
    /// Frames lost because the subscriber had not returned its buffers.
    pub frames_dropped: u64,
    /// Ticks whose batch was lost.
    pub ticks_dropped: u64,
}

/// A snapshot of the pump's counters ([`Pump::stats`](super::Pump::stats)).
#[derive(Clone, Debug, Default)]
pub struct PumpStats {
    /// Ticks run (including late ones).
    pub ticks: u64,
    /// Ticks that ran late: the clock reported them due together with an
    /// earlier one, so they ran back to back to catch up.
    pub late_ticks: u64,
    /// Ticks not run at all because more were due than the catch-up limit
    /// ([`PumpConfig::max_catch_up`](super::PumpConfig::max_catch_up)).
    pub skipped_ticks: u64,
    /// Clock ticks spent waiting for every port to deliver its first frame
    /// before the first tick (not run, not late).
    pub priming_ticks: u64,
    /// Ticks whose conference sum left the 16-bit range somewhere.
    pub clipped_ticks: u64,
    /// The most ticks the clock reported due at one wake-up (1 when the
    /// pump always kept up): the longest stall, in ticks.
    pub max_due: u64,
    /// Work time of one tick (reading ports, mixing, writing ports, taps), median.
    pub work_p50: Duration,
    /// 99th percentile of the work time.
    pub work_p99: Duration,
    /// Longest work time.
    pub work_max: Duration,
    /// The tick period of the clock last run (zero if never run by a clock).
    pub period: Duration,
    /// Every port.
    pub ports: Vec<PortReport>,
    /// Every subscriber.
    pub taps: Vec<TapReport>,
}

impl PumpStats {
    /// The sum of every port's counters.
    pub fn port_totals(&self) -> PortStats {
        let mut t = PortStats::default();
        for p in &self.ports {
            t.add(&p.stats);
        }
        t
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

impl fmt::Display for PumpStats {
    /// A summary: totals, then the ports that had trouble (at most 20 listed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ticks {} (late {}, skipped {}, priming {}, clipped {}; at most {} due at once)",
            self.ticks,
            self.late_ticks,
            self.skipped_ticks,
            self.priming_ticks,
            self.clipped_ticks,
            self.max_due
        )?;
        let budget = if self.period.is_zero() {
            String::new()
        } else {
            format!(" of a {:.0} us period", self.period.as_secs_f64() * 1e6)
        };
        writeln!(
            f,
            "tick work p50 {:.1} us, p99 {:.1} us, max {:.1} us{budget}",
            us(self.work_p50),
            us(self.work_p99),
            us(self.work_max)
        )?;
        let t = self.port_totals();
        writeln!(
            f,
            "{} ports: frames in {}, out {}; underruns {}, overruns {}, drops {}, events {}, errors {}",
            self.ports.len(),
            t.frames_in,
            t.frames_out,
            t.underruns,
            t.overruns,
            t.drops,
            t.events,
            t.errors
        )?;
        if t.input_waits > 0 || t.tx_prefill > 0 {
            let block_ms = ms(self.period);
            let blocks = |d: Duration| {
                if block_ms > 0.0 {
                    format!(" = {:.2} blocks", ms(d) / block_ms)
                } else {
                    String::new()
                }
            };
            writeln!(
                f,
                "latency added by the pump: input wait mean {:.2} ms{}, max {:.2} ms{} \
                 ({} blocks); transmit prefill up to {} blocks{}",
                ms(t.input_wait_mean()),
                blocks(t.input_wait_mean()),
                ms(t.input_wait_max()),
                blocks(t.input_wait_max()),
                t.input_waits,
                t.tx_prefill,
                if block_ms > 0.0 {
                    format!(" = {:.0} ms", t.tx_prefill as f64 * block_ms)
                } else {
                    String::new()
                }
            )?;
        }
        let troubled: Vec<&PortReport> = self
            .ports
            .iter()
            .filter(|p| {
                let s = &p.stats;
                s.underruns + s.overruns + s.drops + s.errors > 0
            })
            .collect();
        for p in troubled.iter().take(20) {
            let s = &p.stats;
            writeln!(
                f,
                "  port {} {}: underruns {}, overruns {}, drops {}, errors {}{}",
                p.id.index(),
                p.name,
                s.underruns,
                s.overruns,
                s.drops,
                s.errors,
                p.last_error
                    .as_ref()
                    .map(|e| format!(" (last: {e})"))
                    .unwrap_or_default()
            )?;
        }
        if troubled.len() > 20 {
            writeln!(f, "  ... and {} more", troubled.len() - 20)?;
        }
        for t in &self.taps {
            writeln!(
                f,
                "subscriber {}: frames sent {}, dropped {} ({} ticks)",
                t.name, t.frames_sent, t.frames_dropped, t.ticks_dropped
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        // Every value falls in a bucket whose upper bound is >= it and within 1/16.
        let mut prev_upper = None;
        for i in 0..BUCKETS {
            let up = Histogram::upper(i);
            if let Some(p) = prev_upper {
                assert!(up > p, "bucket {i}");
                assert_eq!(Histogram::index(p + 1), i, "first value of bucket {i}");
            }
            assert_eq!(Histogram::index(up), i);
            prev_upper = Some(up);
            if up == u64::MAX {
                break;
            }
        }
        for v in [17u64, 1000, 123_456, 20_000_000, u64::MAX / 3] {
            let up = Histogram::upper(Histogram::index(v));
            assert!(up >= v && (up - v) as f64 <= v as f64 / 16.0, "{v} -> {up}");
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        // 1..=1000 us: the median is 500 us, p99 990 us (to bucket precision).
        let mut h = Histogram::new();
        for v in 1..=1000u64 {
            h.record_ns(v * 1000);
        }
        let p50 = h.quantile_ns(0.5);
        let p99 = h.quantile_ns(0.99);
        assert!((500_000..=500_000 + 500_000 / 16).contains(&p50), "{p50}");
        assert!((990_000..=1_000_000).contains(&p99), "{p99}");
        assert_eq!(h.quantile_ns(1.0), 1_000_000);
        assert_eq!(h.max_ns(), 1_000_000);
        assert_eq!(h.count(), 1000);
        h.clear();
        assert_eq!(h.quantile_ns(0.5), 0);
    }

    #[test]
    fn input_waits_add_up_and_show() {
        let mut a = PortStats::default();
        assert_eq!(a.input_wait_mean(), Duration::ZERO, "none measured");
        for ms in [2u64, 10, 6] {
            a.note_input_wait(Duration::from_millis(ms));
        }
        assert_eq!(a.input_waits, 3);
        assert_eq!(a.input_wait_mean(), Duration::from_millis(6));
        assert_eq!(a.input_wait_max(), Duration::from_millis(10));
        a.tx_prefill = 2;
        let mut b = PortStats {
            tx_prefill: 1,
            ..PortStats::default()
        };
        b.note_input_wait(Duration::from_millis(14));
        let mut t = a;
        t.add(&b);
        assert_eq!(t.input_waits, 4);
        assert_eq!(t.input_wait_sum_ns, 32_000_000);
        assert_eq!(t.input_wait_max(), Duration::from_millis(14));
        assert_eq!(t.tx_prefill, 2, "the most any port keeps");
        let shown = a.to_string();
        assert!(
            shown.ends_with(
                "input wait mean 6.00 ms, max 10.00 ms (3 blocks); transmit prefill 2 blocks"
            ),
            "{shown}"
        );
        let quiet = PortStats::default().to_string();
        assert!(!quiet.contains("input wait"), "{quiet}");
    }
}
