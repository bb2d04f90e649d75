//! Which SIMD code path the audio kernels run on.
//!
//! Every kernel has a portable implementation in plain Rust and, on x86-64, explicit
//! AVX2 (and optionally AVX-512) implementations. All paths produce bit-identical
//! output; the tests force each available path and compare it with a naive reference.
//! The best path is chosen at run time with `is_x86_feature_detected!`, so one binary
//! runs everywhere.

use std::sync::atomic::{AtomicU8, Ordering};

/// A SIMD instruction-set level that a kernel can be forced to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust; the compiler auto-vectorises it for the build target (SSE2 on x86-64).
    Portable,
    /// Explicit AVX2 intrinsics, selected at run time.
    Avx2,
    /// Explicit AVX-512 (F + BW) intrinsics for the conference sums and mix-minus; the
    /// G.711 kernels use their AVX2 versions on this level. Chosen at run time where
    /// the CPU has AVX-512 F and BW (the intrinsics are why the crate needs Rust 1.89).
    Avx512,
}

impl Isa {
    /// Every level, best last.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// Whether this level was compiled in and the running CPU supports it.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Portable => true,
            Isa::Avx2 => avx2_detected(),
            Isa::Avx512 => avx512_detected(),
        }
    }

    /// All levels usable on this machine, worst first (always starts with `Portable`).
    pub fn available() -> impl Iterator<Item = Isa> {
        Self::ALL.into_iter().filter(|isa| isa.is_available())
    }

    /// The best level usable on this machine. Detected once and cached, because the
    /// G.711 slice functions consult it on every call.
    pub fn detect() -> Isa {
        static CACHE: AtomicU8 = AtomicU8::new(0);
        match CACHE.load(Ordering::Relaxed) {
            1 => Isa::Portable,
            2 => Isa::Avx2,
            3 => Isa::Avx512,
            _ => {
                let best = Self::available().last().unwrap_or(Isa::Portable);
                let code = match best {
                    Isa::Portable => 1,
                    Isa::Avx2 => 2,
                    Isa::Avx512 => 3,
                };
                CACHE.store(code, Ordering::Relaxed);
                best
            }
        }
    }

    /// A short lowercase name ("portable", "avx2", "avx512").
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_detected() -> bool {
    std::is_x86_feature_detected!("avx2")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_detected() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn avx512_detected() -> bool {
    // The AVX-512 kernels also use AVX2 for 16-lane tails.
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx2")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_detected() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_is_always_available_and_detect_is_available() {
        assert!(Isa::Portable.is_available());
        assert_eq!(Isa::available().next(), Some(Isa::Portable));
        assert!(Isa::detect().is_available());
        // Cached value agrees with a fresh scan.
        assert_eq!(Isa::detect(), Isa::available().last().unwrap());
    }
}
