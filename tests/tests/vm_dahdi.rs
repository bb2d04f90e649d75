//! The VM suite of the safe `dahdi` crate on the real driver: dahdi.ko with
//! auto_assign_spans=1, the dynamic span framework with its local loopback
//! driver (two looped spans need no hardware), the MG2 echo canceller, and
//! dahdi-tools' dahdi_cfg, dahdi_scan and lsdahdi to cross-check against,
//! next to the crate's own lsdahdi example.

use dahdi_tests::GuestSuite;

fn main() {
    let mut suite = GuestSuite::new("dahdi")
        .program(env!("CARGO_BIN_EXE_guest-dahdi"))
        .module("dahdi", &["auto_assign_spans=1"])
        .module("dahdi_dynamic", &[])
        .module("dahdi_dynamic_loc", &[])
        .module("dahdi_echocan_mg2", &[])
        .executable("/usr/sbin/dahdi_cfg", "/usr/sbin/dahdi_cfg")
        .executable("/usr/sbin/dahdi_scan", "/usr/sbin/dahdi_scan")
        .executable(env!("CARGO_BIN_EXE_lsdahdi"), "/usr/bin/lsdahdi-rs");
    suite = with_perl_script(suite, "/usr/sbin/lsdahdi");
    suite.test_timeout = std::time::Duration::from_secs(90);
    suite.boot_timeout = std::time::Duration::from_secs(900);
    dahdi_tests::runner::run_suites_on_platforms(
        vec![suite],
        &dahdi_tests::Platform::ALL,
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
    )
}

/// A Perl script of dahdi-tools (lsdahdi) with what it needs to run in the
/// guest: perl, every module the script loads, as perl on this host reports
/// them (`%INC` after compiling it), and their XS libraries
/// (`auto/<Module>/<Module>.so` beside them). Found, not listed, so that it
/// follows the installed Perl's version and paths. If perl or the script is
/// missing, the suite fails to build its image and says so.
fn with_perl_script(mut suite: GuestSuite, script: &str) -> GuestSuite {
    let out = std::process::Command::new("/usr/bin/perl")
        .arg("-e")
        .arg(format!(
            "do '{script}'; die $@ if $@; print \"$_\\t$INC{{$_}}\\n\" for sort keys %INC"
        ))
        .output()
        .expect("run /usr/bin/perl (scripts/install.sh installs dahdi-tools and perl)");
    let inc = String::from_utf8_lossy(&out.stdout);
    suite = suite
        .executable("/usr/bin/perl", "/usr/bin/perl")
        .executable(script, script);
    for line in inc.lines() {
        let Some((module, path)) = line.split_once('\t') else {
            continue;
        };
        if path == script {
            continue;
        }
        suite = suite.executable(path, path);
        // An XS module's library: <root>/auto/<A/B>/<B>.so for <root>/<A/B>.pm.
        let stem = module.trim_end_matches(".pm");
        let root = path.strip_suffix(module).unwrap_or_default();
        let last = stem.rsplit('/').next().unwrap_or(stem);
        let xs = format!("{root}auto/{stem}/{last}.so");
        if std::path::Path::new(&xs).is_file() {
            suite = suite.executable(&xs, &xs);
        }
    }
    suite
}
