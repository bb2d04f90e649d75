//! dahdi-loader library (placeholder).
