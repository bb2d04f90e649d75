//! The channel pump's VM suite on the real driver: dahdi.ko loaded by insmod,
//! then guest-pump's tests (100 pseudo channels pumped through one user-space
//! conference for 10 s, checked sample for sample).

use dahdi_tests::GuestSuite;

fn main() {
    let mut suite = GuestSuite::new("pump")
        .program(env!("CARGO_BIN_EXE_guest-pump"))
        .module("dahdi", &[]);
    // The 100-channel test keeps 10 s of every stream for its checks, and runs
    // slowly when the VM has no KVM.
    suite.memory_mb = 1024;
    // Under TCG one guest CPU was all but saturated by the 100-channel test
    // (96% busy, ticks up to 19 late at once on a quiet host), so a loud host
    // stalled it past what the kernel's buffers hold; with two it has room
    // (about 74% busy, no late tick on a quiet host).
    suite.cpus = 2;
    suite.test_timeout = std::time::Duration::from_secs(300);
    // The whole boot, every test in turn: about 90 s under TCG before
    // pump_latency, which adds about 40 s (seven conferences), and on a loaded
    // host all of it slows down; the default 120 s killed pump_latency
    // mid-run there.
    suite.boot_timeout = std::time::Duration::from_secs(600);
    dahdi_tests::runner::run_suites_on_platforms(
        vec![suite],
        &dahdi_tests::Platform::ALL,
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
    )
}
