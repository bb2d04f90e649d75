//! Raw DAHDI ABI (placeholder; filled in by the foundation work).
