//! The one integration-test binary: end-to-end behaviour through the `nutgiao` command and
//! real peers (SUMO, mbpoll, pymodbus, Prometheus, Mosquitto, Chromium). Each area has a
//! module of its own.

mod cameras;
mod check;
mod control;
mod demo;
mod durability;
mod ops;
mod scaleout;
mod simulate;
mod sumo;
mod vision;

mod support;
