//! The fast-level VM suite on the real driver: dahdi.ko loaded by insmod,
//! then the guest-driver program's tests.

use dahdi_tests::GuestSuite;

fn main() {
    let suite = GuestSuite::new("driver")
        .program(env!("CARGO_BIN_EXE_guest-driver"))
        .module("dahdi", &[]);
    dahdi_tests::runner::run_suites_on_platforms(
        vec![suite],
        &dahdi_tests::Platform::ALL,
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
    )
}
