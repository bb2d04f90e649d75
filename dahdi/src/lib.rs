//! Safe DAHDI API (placeholder).

pub mod audio;
