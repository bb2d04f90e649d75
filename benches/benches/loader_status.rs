//! `dahdi-loader status` over every installed kernel (every DAHDI module's ELF parsed,
//! vermagic, CRCs against Module.symvers, DKMS tree, module index) against `dkms status`
//! run as a process, in the same run.
//!
//! Target (issue 6): status at most 20 ms, and at least 30 times faster than dkms status.
//! The summary at the end prints both medians and the ratio.

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use dahdi_loader::status::system_report;
use dahdi_loader::system::System;
use dahdi_loader::verify::Checks;
use dahdi_loader::Root;

/// The full status, as the CLI computes it (minus printing).
fn status_once() -> usize {
    let sys = System::load(Root::default(), None).expect("system readable");
    let report = system_report(&sys, Checks::default()).expect("status");
    report.kernels.iter().map(|k| k.modules_present()).sum()
}

fn dkms_status_once() {
    let st = Command::new("dkms")
        .arg("status")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("dkms is installed (apt-get install dkms dahdi-dkms)");
    assert!(st.success());
}

fn bench(c: &mut Criterion) {
    let modules = status_once();
    assert!(
        modules > 0,
        "no DAHDI modules found: apt-get install dahdi-dkms linux-headers-amd64"
    );
    let mut g = c.benchmark_group("loader_status");
    g.sample_size(30);
    g.bench_function("status_all_kernels", |b| {
        b.iter(|| black_box(status_once()))
    });
    g.finish();

    // dkms status is a shell script taking most of a second: few samples.
    let mut g = c.benchmark_group("dkms_status");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("dkms_status_process", |b| b.iter(dkms_status_once));
    g.finish();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Both medians measured back to back, so they share the machine's current load.
fn summary() {
    let ours = median(
        (0..31)
            .map(|_| {
                let t = Instant::now();
                black_box(status_once());
                t.elapsed()
            })
            .collect(),
    );
    let dkms = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                dkms_status_once();
                t.elapsed()
            })
            .collect(),
    );
    let ratio = dkms.as_secs_f64() / ours.as_secs_f64();
    println!(
        "loader_status summary: status {:.2} ms (target <= 20 ms), dkms status {:.1} ms, {ratio:.0}x faster (target >= 30x): {}",
        ours.as_secs_f64() * 1e3,
        dkms.as_secs_f64() * 1e3,
        if ours <= Duration::from_millis(20) && ratio >= 30.0 {
            "MET"
        } else {
            "MISSED"
        }
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    summary();
}
