//! The SUMO bridge: a TraCI client, a SUMO backend behind `SignalControl`, and the import of
//! SUMO networks into site files. (Owned by the SUMO work, issue 8.)
