//! The VM suite of the safe `dahdi` crate on the real driver: dahdi.ko with
//! auto_assign_spans=1, the dynamic span framework with its local loopback
//! driver (two looped spans need no hardware), the MG2 echo canceller, and
//! dahdi-tools' dahdi_cfg and dahdi_scan to cross-check against.

use dahdi_tests::GuestSuite;

fn main() {
    let mut suite = GuestSuite::new("dahdi")
        .program(env!("CARGO_BIN_EXE_guest-dahdi"))
        .module("dahdi", &["auto_assign_spans=1"])
        .module("dahdi_dynamic", &[])
        .module("dahdi_dynamic_loc", &[])
        .module("dahdi_echocan_mg2", &[])
        .executable("/usr/sbin/dahdi_cfg", "/usr/sbin/dahdi_cfg")
        .executable("/usr/sbin/dahdi_scan", "/usr/sbin/dahdi_scan");
    suite.test_timeout = std::time::Duration::from_secs(90);
    suite.boot_timeout = std::time::Duration::from_secs(900);
    dahdi_tests::runner::run_suites_as_tests(
        vec![suite],
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
    )
}
