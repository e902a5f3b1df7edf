//! Modbus TCP: the register map (version 1) and the central controller's client.

pub mod client;
pub mod map;
