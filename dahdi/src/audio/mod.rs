//! Audio core: G.711 and the conference engine.
//!
//! * [`g711`]: mu-law and A-law, bit-exact with ITU-T G.191, plus a mode that matches
//!   the DAHDI kernel's conversion tables.
//! * [`conference`]: an exact mix-minus conference engine for any number of
//!   participants, in linear or G.711.
//! * [`Isa`]: the SIMD level the kernels run on, detected at run time; every level
//!   gives bit-identical results.

pub(crate) mod aligned;
pub mod conference;
pub mod g711;
mod isa;

pub use isa::Isa;
