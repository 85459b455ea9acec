//! Ceiling microbenchmarks (placeholder).
