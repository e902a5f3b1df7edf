//! Virtual field signal controllers: one Modbus TCP server per intersection that drives the
//! simulated signals like a real cabinet. (Owned by the control work, issue 4.)
