//! A zero-initialised `i16` buffer aligned to 64 bytes.
//!
//! The mixer lays every participant's frame out at a stride that is a
//! multiple of 16 samples (32 bytes). With a 64-byte aligned base no 256-bit load or
//! store ever straddles a cache line, which keeps the SIMD loops at full speed.

/// One cache line of samples; only used as the allocation unit.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([i16; 32]);

const ZERO_LINE: Line = Line([0; 32]);

#[derive(Clone, Default)]
pub(crate) struct AlignedI16 {
    lines: Vec<Line>,
    len: usize,
}

impl std::fmt::Debug for AlignedI16 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedI16")
            .field("len", &self.len)
            .finish()
    }
}

impl AlignedI16 {
    pub(crate) fn zeroed(len: usize) -> Self {
        let mut buf = Self::default();
        buf.resize_zeroed(len);
        buf
    }

    /// Grows or shrinks to `len` samples; new samples are zero.
    pub(crate) fn resize_zeroed(&mut self, len: usize) {
        self.lines.resize(len.div_ceil(32), ZERO_LINE);
        if len > self.len {
            // Lines kept from before may hold old samples past the old length.
            let old = self.len;
            self.len = len;
            self.as_mut_slice()[old..].fill(0);
        }
        self.len = len;
    }

    pub(crate) fn as_slice(&self) -> &[i16] {
        // SAFETY: `Line` is `repr(C)` around `[i16; 32]` with size 64, so the vector is
        // a contiguous, initialised run of `32 * lines.len() >= len` samples.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<i16>(), self.len) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [i16] {
        // SAFETY: as in `as_slice`, and `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<i16>(), self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_zeroed_and_regrown_clean() {
        let mut b = AlignedI16::zeroed(100);
        assert_eq!(b.as_slice().len(), 100);
        assert_eq!(b.as_slice().as_ptr() as usize % 64, 0);
        assert!(b.as_slice().iter().all(|&x| x == 0));
        b.as_mut_slice().fill(7);
        b.resize_zeroed(40);
        b.resize_zeroed(90);
        assert!(b.as_slice()[..40].iter().all(|&x| x == 7));
        assert!(b.as_slice()[40..].iter().all(|&x| x == 0));
    }
}
