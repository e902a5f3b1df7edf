//! `nutgiao check` on the example and on broken site files.
