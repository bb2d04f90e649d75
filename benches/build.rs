//! Compiles the C baselines with the flags Asterisk builds with by default
//! (`-O3`, `-march=native`), so they get the same auto-vectorisation chance.

fn main() {
    println!("cargo:rerun-if-changed=c/baselines.c");
    cc::Build::new()
        .file("c/baselines.c")
        .opt_level(3)
        .flag("-march=native")
        .flag("-std=c11")
        .warnings(true)
        .extra_warnings(true)
        .compile("dahdi_bench_baselines");
}
