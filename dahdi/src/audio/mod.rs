//! Audio core: G.711 and the mixer (feature `audio`).
//!
//! * [`g711`]: mu-law and A-law, bit-exact with ITU-T G.191, plus a mode that matches
//!   the DAHDI kernel's conversion tables.
//! * [`mixer`]: an exact mix-minus mixer for any number of participants, in linear or
//!   G.711: a conference mixed in user space, where DAHDI's own conferences
//!   ([`ConfMode`](crate::ConfMode), `DAHDI_SETCONF`) are mixed in the kernel.
//! * [`Isa`]: the SIMD level the kernels run on, detected at run time; every level
//!   gives bit-identical results.

pub(crate) mod aligned;
pub mod g711;
mod isa;
pub mod mixer;

pub use isa::Isa;
