//! Shared by the benchmarks: a criterion measurement of the benchmark thread's CPU
//! time, and the short configuration they all run with.
//!
//! The machines these run on are shared (2 cores, other builds and VMs running), and
//! wall-clock time then mostly measures how often the scheduler lets the benchmark
//! run. Thread CPU time does not count the time other processes get, so the numbers
//! and, more importantly, the ratios between our code and the C baselines stay
//! comparable from run to run. Contention for caches and memory bandwidth still shows.

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput};

/// The configuration every CPU-time bench runs with: ten samples after a short
/// warm-up, over `measurement` (about a second). The whole `cargo bench -p dahdi-benches`
/// must fit in a few minutes on a 2-core machine; ten samples separate the implementations
/// by the factors at stake, and the machine's other load is the larger source of noise.
pub fn short_config(measurement: Duration) -> Criterion<ThreadCpuTime> {
    Criterion::default()
        .with_measurement(ThreadCpuTime)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(measurement)
        .sample_size(10)
}

/// Criterion measurement: CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
pub struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        dahdi_benches::thread_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        dahdi_benches::thread_cpu_time().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

/// Formats nanosecond values with a readable unit.
struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (divisor, unit) = match typical_ns {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e3, "µs"),
            t if t < 1e9 => (1e6, "ms"),
            _ => (1e9, "s"),
        };
        values.iter_mut().for_each(|v| *v /= divisor);
        unit
    }

    fn scale_throughputs(
        &self,
        _typical_ns: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iteration = match *throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Elements(n) => n,
        } as f64;
        // Millions of elements (or bytes) per CPU-second.
        values
            .iter_mut()
            .for_each(|v| *v = per_iteration * 1e3 / *v);
        "M/s"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
