//! Safe DAHDI API (placeholder).
