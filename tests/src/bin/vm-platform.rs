//! `vm-platform include-dir|kernel PLATFORM`: prints the directory holding the
//! platform's `dahdi/user.h`, or its kernel release, building the platform's
//! cached stage first if needed (Debian 13 needs root and a Debian mirror).
//! The cache is the one the VM tests use: `<target>/tmp/vm-cache`.

use dahdi_tests::Platform;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: vm-platform include-dir|kernel debian12|debian13";
    let (Some(what), Some(platform)) = (args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let Some(platform) = Platform::from_id(platform) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    // The binary lives in <target>/<profile>/; tests use <target>/tmp.
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("vm-platform runs from <target>/<profile>/");
    let cache = target.join("tmp/vm-cache");
    let result = match what.as_str() {
        "include-dir" => platform
            .include_dir(&cache)
            .map(|d| d.display().to_string()),
        "kernel" => platform.kernel(&cache).map(|k| k.release),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    match result {
        Ok(s) => println!("{s}"),
        Err(e) => {
            eprintln!("vm-platform: {e}");
            std::process::exit(1);
        }
    }
}
