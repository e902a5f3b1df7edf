//! End-to-end tests of `nutgiao` for this area.
