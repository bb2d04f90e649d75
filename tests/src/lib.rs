//! VM test harness (placeholder).
