//! One module per command; each only wires the library crates together.

pub mod check;
pub mod control;
pub mod count;
pub mod demo;
pub mod field;
pub mod film;
pub mod import_sumo;
pub mod run;
pub mod score;
pub mod simulate;
pub mod watch;
