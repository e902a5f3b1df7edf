//! One virtual field controller's logic, free of I/O: the register file, plan commit with
//! checksum and validation, heartbeat fallback, remote enable, flash, and the conflict monitor
//! over the sequencer's outputs. The Modbus server and the simulator share it.

use nutgiao_config::{Intersection, RegisterMap, Site};
use nutgiao_controller::algorithms::greenwave;
use nutgiao_controller::modbus::map::{
    self, ControlMode, FieldStatus, MAP_REVISION, MAP_VERSION, coil, command_reg, detector_reg, discrete, fault_flag,
    plan_reg, status_reg,
};
use nutgiao_controller::{
    CorridorPlan, DetectorReading, DetectorSnapshot, Indication, IntersectionPlan, Mode, PhaseState, Sequencer,
    validate_plan,
};
use tokio_modbus::ExceptionCode;

use super::monitor::{ConflictMonitor, MonitorFault};

/// Fault code for a commit whose checksum does not match the plan block.
pub const FAULT_CHECKSUM: u16 = 11;
/// Fault code for a commit while remote control is disabled.
pub const FAULT_REMOTE_DISABLED: u16 = 12;

#[derive(Debug, thiserror::Error)]
pub enum CabinetError {
    #[error("intersection {0} has no [intersection.field_controller]")]
    NoFieldController(String),
    #[error("intersection {intersection}: local plan `{plan}` is neither `actuated` nor a plan of the site")]
    LocalPlan { intersection: String, plan: String },
    #[error(transparent)]
    Plan(#[from] nutgiao_controller::PlanError),
}

#[derive(Debug)]
pub struct Cabinet {
    inter: Intersection,
    map: RegisterMap,
    backup_time_s: f64,
    local: Mode,
    sequencer: Sequencer,
    monitor: ConflictMonitor,
    staging: Vec<u16>,
    central: Option<IntersectionPlan>,
    mode: ControlMode,
    now_s: f64,
    last_heartbeat_s: f64,
    heartbeat: u16,
    committed_crc: u16,
    plan_fault: u16,
    remote_enable: bool,
    flash_request: bool,
    /// The heads show the flash logic's indications, not the sequencer's: clearing to
    /// flash, flashing, or clearing out of an aborted entry.
    clearing: bool,
    detectors: Vec<DetectorReading>,
    states: Vec<PhaseState>,
}

impl Cabinet {
    pub fn new(site: &Site, inter: &Intersection) -> Result<Cabinet, CabinetError> {
        let fc = inter.field_controller.as_ref().ok_or_else(|| CabinetError::NoFieldController(inter.id.clone()))?;
        let local = if fc.local_plan == "actuated" {
            Mode::Actuated
        } else {
            let plan = CorridorPlan::named(site, &fc.local_plan)
                .and_then(|p| p.for_intersection(&inter.id).cloned())
                .ok_or_else(|| CabinetError::LocalPlan {
                intersection: inter.id.clone(),
                plan: fc.local_plan.clone(),
            })?;
            Mode::Fixed(plan)
        };
        let mut sequencer = Sequencer::new(inter, local.clone())?;
        // As in the central controller: at the ends of the corridor only the platoons from
        // the next signal hold the arterial past its yield point, not the entry's arrivals.
        sequencer.set_platoon_phases(&greenwave::platoon_phases(site, inter));
        Ok(Cabinet {
            map: site.modbus_map.clone(),
            backup_time_s: fc.backup_time_s,
            monitor: ConflictMonitor::new(inter),
            staging: vec![0; usize::from(plan_reg::LEN)],
            central: None,
            mode: ControlMode::LocalFallback,
            now_s: 0.0,
            last_heartbeat_s: f64::NEG_INFINITY,
            heartbeat: 0,
            committed_crc: 0,
            plan_fault: 0,
            remote_enable: true,
            flash_request: false,
            clearing: false,
            detectors: vec![DetectorReading::default(); inter.detectors.len()],
            states: sequencer.states().to_vec(),
            sequencer,
            local,
            inter: inter.clone(),
        })
    }

    pub fn intersection(&self) -> &Intersection {
        &self.inter
    }

    pub fn mode(&self) -> ControlMode {
        self.mode
    }

    /// The sequencer behind the heads (what it runs, what is pending).
    pub fn sequencer(&self) -> &Sequencer {
        &self.sequencer
    }

    pub fn monitor_fault(&self) -> Option<&(MonitorFault, String)> {
        self.monitor.fault()
    }

    /// Advances the cabinet to `snap.now_s`: heartbeat watchdog, sequencer, conflict monitor.
    pub fn tick(&mut self, snap: &DetectorSnapshot) -> &[PhaseState] {
        self.now_s = snap.now_s.max(self.now_s);
        for (i, d) in self.inter.detectors.iter().enumerate() {
            if let Some(r) = snap.detectors.get(&d.id) {
                self.detectors[i] = *r;
            }
        }
        if self.mode == ControlMode::Central && self.now_s - self.last_heartbeat_s > self.backup_time_s {
            tracing::warn!(intersection = %self.inter.id, backup_time_s = self.backup_time_s,
                "central heartbeat lost: falling back to the local plan");
            self.go_local();
        }
        let outputs = self.sequencer.update(snap).to_vec();
        let shown = if self.monitor.fault().is_some() {
            self.all_flashing()
        } else if self.flash_request || self.clearing {
            self.clear_to_flash(snap)
        } else {
            outputs
        };
        // The monitor watches what the heads show, flash entry and exit included.
        if let Some((fault, why)) = self.monitor.observe(self.now_s, &shown) {
            tracing::error!(intersection = %self.inter.id, ?fault, "conflict monitor: {why}; latched flash");
        }
        if self.monitor.fault().is_some() {
            // Like a malfunction management unit: flash at once, whatever is showing.
            self.clearing = true;
            self.states = self.all_flashing();
            self.mode = ControlMode::Flash;
        } else {
            self.states = shown;
            if self.clearing || self.flash_request {
                self.mode = ControlMode::Flash;
            } else if self.mode == ControlMode::Flash {
                self.mode = if self.central.is_some() { ControlMode::Central } else { ControlMode::LocalFallback };
            }
        }
        &self.states
    }

    fn all_flashing(&self) -> Vec<PhaseState> {
        let now = self.now_s;
        self.states
            .iter()
            .map(|old| PhaseState {
                phase: old.phase,
                indication: Indication::FlashingRed,
                since_s: if old.indication == Indication::FlashingRed { old.since_s } else { now },
            })
            .collect()
    }

    /// Flash entry on request: every green ends in its full yellow and red clearance
    /// (counted from what the heads have shown), then all phases flash red. If the request
    /// is withdrawn meanwhile the clearance still completes, and the sequencer then starts
    /// over from all red, so that no head goes from yellow or a short red back to a green.
    fn clear_to_flash(&mut self, snap: &DetectorSnapshot) -> Vec<PhaseState> {
        let now = self.now_s;
        self.clearing = true;
        let mut shown = self.states.clone();
        let mut cleared = true;
        for s in &mut shown {
            let Some(ph) = self.inter.phases.iter().find(|p| p.id == s.phase) else { continue };
            let elapsed = now - s.since_s;
            let next = match s.indication {
                Indication::Green => Some(Indication::Yellow),
                Indication::Yellow if elapsed + 1e-6 >= ph.yellow_s => Some(Indication::Red),
                _ => None,
            };
            if let Some(ind) = next {
                *s = PhaseState { phase: s.phase, indication: ind, since_s: now };
            }
            let done = match s.indication {
                Indication::Red => now - s.since_s + 1e-6 >= ph.red_clearance_s,
                Indication::FlashingRed | Indication::FlashingYellow => true,
                _ => false,
            };
            cleared &= done;
        }
        if !cleared {
            return shown;
        }
        if self.flash_request {
            self.states = shown;
            return self.all_flashing();
        }
        tracing::info!(intersection = %self.inter.id, "flash ended: the sequencer starts over from all red");
        self.clearing = false;
        let was_flashing =
            shown.iter().any(|s| matches!(s.indication, Indication::FlashingRed | Indication::FlashingYellow));
        self.sequencer.restart(was_flashing);
        self.sequencer.update(snap).to_vec()
    }

    fn go_local(&mut self) {
        if let Err(e) = self.sequencer.set_mode(self.local.clone()) {
            tracing::error!(intersection = %self.inter.id, "local plan refused: {e}");
        }
        self.mode = ControlMode::LocalFallback;
    }

    pub fn status(&self) -> FieldStatus {
        let seq = self.sequencer.status();
        let of = |ind: Indication| map::bitmap(self.states.iter().filter(|s| s.indication == ind).map(|s| s.phase));
        let mut faults = 0;
        if self.monitor.fault().is_some() {
            faults |= fault_flag::MONITOR_FLASH;
        }
        if self.plan_fault != 0 {
            faults |= fault_flag::PLAN_REJECTED;
        }
        if self.central.is_some() && self.mode == ControlMode::LocalFallback {
            faults |= fault_flag::HEARTBEAT_LOST;
        }
        if self.flash_request {
            faults |= fault_flag::FLASH_REQUESTED;
        }
        FieldStatus {
            version: MAP_VERSION,
            green: of(Indication::Green),
            yellow: of(Indication::Yellow),
            red: of(Indication::Red) | of(Indication::FlashingRed),
            cycle_timer_s: seq.cycle_timer_s,
            plan_id: seq.plan_id,
            mode: Some(self.mode),
            faults,
            plan_fault: self.plan_fault,
            stage: seq.stage as u16 + 1,
            committed_crc: self.committed_crc,
            heartbeat: self.heartbeat,
            monitor_fault: self.monitor.fault().map_or(0, |f| f.0.code()),
            pending_plan: self.sequencer.pending().and_then(|m| m.plan()).map_or(0, |p| p.plan_id),
            detector_count: self.inter.detectors.len() as u16,
            revision: MAP_REVISION,
        }
    }

    fn block(base: u16, len: u16, addr: u16, cnt: u16) -> Option<std::ops::Range<usize>> {
        let start = addr.checked_sub(base)?;
        let end = start.checked_add(cnt)?;
        (cnt > 0 && end <= len).then(|| usize::from(start)..usize::from(end))
    }

    pub fn read_input_registers(&self, addr: u16, cnt: u16) -> Result<Vec<u16>, ExceptionCode> {
        let status = self.status().encode(&self.map);
        if let Some(r) = Self::block(self.map.status_base, status_reg::LEN, addr, cnt) {
            return Ok(status[r].to_vec());
        }
        let det_len = detector_reg::LEN * self.detectors.len() as u16;
        if let Some(r) = Self::block(self.map.detector_base, det_len, addr, cnt) {
            let all: Vec<u16> = self.detectors.iter().flat_map(|d| map::encode_detector(&self.map, d)).collect();
            return Ok(all[r].to_vec());
        }
        Err(ExceptionCode::IllegalDataAddress)
    }

    pub fn read_holding_registers(&self, addr: u16, cnt: u16) -> Result<Vec<u16>, ExceptionCode> {
        if let Some(r) = Self::block(self.map.plan_base, plan_reg::LEN, addr, cnt) {
            return Ok(self.staging[r].to_vec());
        }
        if let Some(r) = Self::block(self.map.command_base, command_reg::LEN, addr, cnt) {
            return Ok([self.committed_crc, self.heartbeat][r].to_vec());
        }
        Err(ExceptionCode::IllegalDataAddress)
    }

    pub fn read_coils(&self, addr: u16, cnt: u16) -> Result<Vec<bool>, ExceptionCode> {
        Self::block(self.map.coil_base, coil::LEN, addr, cnt)
            .map(|r| [self.remote_enable, self.flash_request][r].to_vec())
            .ok_or(ExceptionCode::IllegalDataAddress)
    }

    pub fn read_discrete_inputs(&self, addr: u16, cnt: u16) -> Result<Vec<bool>, ExceptionCode> {
        let fallback = self.central.is_some() && self.mode == ControlMode::LocalFallback;
        Self::block(self.map.discrete_base, discrete::LEN, addr, cnt)
            .map(|r| [self.monitor.fault().is_some(), fallback][r].to_vec())
            .ok_or(ExceptionCode::IllegalDataAddress)
    }

    /// A register write from an allow-listed client. Plan-block writes only stage; a write
    /// to the commit register validates and applies the staged plan as a whole or not at all.
    pub fn write_registers(&mut self, addr: u16, words: &[u16]) -> Result<(), ExceptionCode> {
        let cnt = u16::try_from(words.len()).map_err(|_| ExceptionCode::IllegalDataValue)?;
        if let Some(r) = Self::block(self.map.plan_base, plan_reg::LEN, addr, cnt) {
            self.staging[r].copy_from_slice(words);
            return Ok(());
        }
        let Some(r) = Self::block(self.map.command_base, command_reg::LEN, addr, cnt) else {
            return Err(ExceptionCode::IllegalDataAddress);
        };
        for (reg, value) in r.zip(words) {
            match reg as u16 {
                command_reg::COMMIT => self.commit(*value)?,
                command_reg::HEARTBEAT => self.on_heartbeat(*value),
                _ => return Err(ExceptionCode::IllegalDataAddress),
            }
        }
        Ok(())
    }

    fn on_heartbeat(&mut self, value: u16) {
        self.heartbeat = value;
        self.last_heartbeat_s = self.now_s;
        if self.mode == ControlMode::LocalFallback
            && self.remote_enable
            && let Some(plan) = self.central.clone()
        {
            tracing::info!(intersection = %self.inter.id, plan = plan.plan_id, "central heartbeat back: resuming the central plan");
            if self.sequencer.set_mode(Mode::for_plan(plan)).is_ok() {
                self.mode = ControlMode::Central;
            }
        }
    }

    fn reject(&mut self, code: u16, why: &str) -> ExceptionCode {
        self.plan_fault = code;
        tracing::warn!(intersection = %self.inter.id, fault = code, "plan refused: {why}");
        ExceptionCode::IllegalDataValue
    }

    fn commit(&mut self, crc: u16) -> Result<(), ExceptionCode> {
        if !self.remote_enable {
            self.plan_fault = FAULT_REMOTE_DISABLED;
            return Err(ExceptionCode::ServerDeviceFailure);
        }
        let expected = map::crc16(&self.staging);
        if crc != expected {
            return Err(self.reject(
                FAULT_CHECKSUM,
                &format!("checksum {crc:#06x} does not match the plan block's {expected:#06x}"),
            ));
        }
        let plan = match map::decode_plan(&self.map, &self.inter, &self.staging) {
            Ok(p) => p,
            Err(e) => return Err(self.reject(e.fault_code(), &e.to_string())),
        };
        if let Err(e) = validate_plan(&self.inter, &plan) {
            return Err(self.reject(e.fault_code(), &e.to_string()));
        }
        if let Err(e) = self.sequencer.set_mode(Mode::for_plan(plan.clone())) {
            return Err(self.reject(e.fault_code(), &e.to_string()));
        }
        tracing::info!(intersection = %self.inter.id, plan = plan.number(), cycle_s = plan.cycle_s, offset_s = plan.offset_s,
            coordination = ?plan.coordination(), "central plan committed; runs from the next stage end");
        self.plan_fault = 0;
        self.committed_crc = crc;
        self.central = Some(plan);
        self.last_heartbeat_s = self.now_s;
        self.mode = ControlMode::Central;
        Ok(())
    }

    pub fn write_coils(&mut self, addr: u16, values: &[bool]) -> Result<(), ExceptionCode> {
        let cnt = u16::try_from(values.len()).map_err(|_| ExceptionCode::IllegalDataValue)?;
        let r = Self::block(self.map.coil_base, coil::LEN, addr, cnt).ok_or(ExceptionCode::IllegalDataAddress)?;
        for (c, v) in r.zip(values) {
            match c as u16 {
                coil::REMOTE_ENABLE => {
                    self.remote_enable = *v;
                    if !v && self.mode == ControlMode::Central {
                        tracing::info!(intersection = %self.inter.id, "remote control disabled: local plan");
                        self.go_local();
                    }
                }
                coil::FLASH_REQUEST => {
                    if *v != self.flash_request {
                        tracing::warn!(intersection = %self.inter.id, flash = v, "flash request");
                    }
                    self.flash_request = *v;
                }
                _ => return Err(ExceptionCode::IllegalDataAddress),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nutgiao_controller::modbus::map::encode_plan;

    fn site() -> Site {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/arterial.toml");
        nutgiao_config::load(p).unwrap()
    }

    fn tick(c: &mut Cabinet, now: f64) {
        c.tick(&DetectorSnapshot { now_s: now, ..Default::default() });
    }

    #[test]
    fn commit_applies_whole_plan_and_falls_back_without_heartbeat() {
        let site = site();
        let j1 = site.intersection("J1").unwrap();
        let mut c = Cabinet::new(&site, j1).unwrap();
        tick(&mut c, 0.0);
        assert_eq!(c.status().mode, Some(ControlMode::LocalFallback));
        let plan = CorridorPlan::named(&site, "webster").unwrap().intersections[0].clone();
        let words = encode_plan(&site.modbus_map, j1, &plan).unwrap();
        c.write_registers(0, &words).unwrap();
        assert_eq!(c.write_registers(200, &[map::crc16(&words) ^ 1]), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(c.status().plan_fault, FAULT_CHECKSUM);
        c.write_registers(200, &[map::crc16(&words)]).unwrap();
        assert_eq!(c.status().mode, Some(ControlMode::Central));
        for k in 1..=200 {
            tick(&mut c, f64::from(k) * 0.5);
            if k % 4 == 0 {
                c.write_registers(201, &[k as u16]).unwrap();
            }
        }
        assert_eq!(c.status().plan_id, 2, "webster runs after the stage end");
        for k in 201..=300 {
            tick(&mut c, f64::from(k) * 0.5);
        }
        assert_eq!(c.status().mode, Some(ControlMode::LocalFallback), "30 s without heartbeat");
        assert_ne!(c.status().faults & fault_flag::HEARTBEAT_LOST, 0);
        c.write_registers(201, &[1]).unwrap();
        assert_eq!(c.status().mode, Some(ControlMode::Central));
        assert!(c.monitor_fault().is_none());
    }

    #[test]
    fn unsafe_plan_is_refused_and_nothing_changes() {
        let site = site();
        let j1 = site.intersection("J1").unwrap();
        let mut c = Cabinet::new(&site, j1).unwrap();
        tick(&mut c, 0.0);
        let mut plan = CorridorPlan::named(&site, "webster").unwrap().intersections[0].clone();
        plan.splits_s = vec![33.0, 7.0]; // 1.5 s of side-street green
        let words = encode_plan(&site.modbus_map, j1, &plan).unwrap();
        c.write_registers(0, &words).unwrap();
        assert_eq!(c.write_registers(200, &[map::crc16(&words)]), Err(ExceptionCode::IllegalDataValue));
        let st = c.status();
        assert_eq!((st.plan_fault, st.mode, st.committed_crc), (6, Some(ControlMode::LocalFallback), 0));
        assert!(c.sequencer.pending().is_none());
    }

    /// Indications of J1's phases 2, 6, 4, 8 (its phase order) at `now`.
    fn shown(c: &mut Cabinet, now: f64) -> Vec<Indication> {
        c.tick(&DetectorSnapshot { now_s: now, ..Default::default() }).iter().map(|s| s.indication).collect()
    }

    #[test]
    fn flash_request_ends_the_green_in_yellow_and_red_clearance_then_flashes() {
        use Indication::{FlashingRed as F, Green as G, Red as R, Yellow as Y};
        let site = site();
        let j1 = site.intersection("J1").unwrap();
        let mut c = Cabinet::new(&site, j1).unwrap();
        assert_eq!(shown(&mut c, 0.0), [G, G, R, R], "actuated: the arterial rests in green");
        c.write_coils(1, &[true]).unwrap();
        assert_eq!(c.status().faults & fault_flag::FLASH_REQUESTED, fault_flag::FLASH_REQUESTED);
        assert_eq!(shown(&mut c, 5.0), [Y, Y, R, R]);
        assert_eq!(c.status().mode, Some(ControlMode::Flash));
        assert_eq!(shown(&mut c, 8.2), [Y, Y, R, R], "yellow 3.3 s");
        assert_eq!(shown(&mut c, 8.3), [R, R, R, R]);
        assert_eq!(shown(&mut c, 9.7), [R, R, R, R], "red clearance 1.5 s");
        assert_eq!(shown(&mut c, 9.8), [F, F, F, F]);
        assert_eq!(shown(&mut c, 60.0), [F, F, F, F]);
        assert!(c.monitor_fault().is_none());

        // Leaving flash: a steady start-up red of the longest red clearance (2.5 s) first.
        c.write_coils(1, &[false]).unwrap();
        assert_eq!(shown(&mut c, 61.0), [R, R, R, R]);
        assert_eq!(shown(&mut c, 63.4), [R, R, R, R], "start-up red 2.5 s");
        assert_eq!(shown(&mut c, 63.5), [G, G, R, R]);
        // Withdrawn during the entry: the clearance completes, then the sequencer starts over
        // (the heads never flashed, so no start-up red on top of the clearance).
        c.write_coils(1, &[true]).unwrap();
        assert_eq!(shown(&mut c, 64.0), [Y, Y, R, R]);
        c.write_coils(1, &[false]).unwrap();
        assert_eq!(shown(&mut c, 65.0), [Y, Y, R, R], "no yellow back to green");
        assert_eq!(shown(&mut c, 67.3), [R, R, R, R]);
        assert_eq!(c.status().mode, Some(ControlMode::Flash));
        assert_eq!(shown(&mut c, 68.8), [G, G, R, R]);
        assert_eq!(c.status().mode, Some(ControlMode::LocalFallback));
        assert!(c.monitor_fault().is_none());
    }

    #[test]
    fn a_conflict_monitor_fault_flashes_at_once() {
        let site = site();
        let j1 = site.intersection("J1").unwrap();
        let mut c = Cabinet::new(&site, j1).unwrap();
        shown(&mut c, 0.0);
        // A green straight to red, as a failed load switch would show it.
        let mut bad = c.states.clone();
        bad[0].indication = Indication::Red;
        assert!(c.monitor.observe(1.0, &bad).is_some());
        assert_eq!(shown(&mut c, 1.0), [Indication::FlashingRed; 4]);
        assert_eq!(c.status().mode, Some(ControlMode::Flash));
    }

    #[test]
    fn flash_request_and_remote_disable() {
        let site = site();
        let j1 = site.intersection("J1").unwrap();
        let mut c = Cabinet::new(&site, j1).unwrap();
        tick(&mut c, 0.0);
        c.write_coils(1, &[true]).unwrap();
        for now in [1.0, 5.0] {
            tick(&mut c, now);
        }
        let out = c.tick(&DetectorSnapshot { now_s: 7.0, ..Default::default() }).to_vec();
        assert!(out.iter().all(|s| s.indication == Indication::FlashingRed));
        assert_eq!(c.status().mode, Some(ControlMode::Flash));
        c.write_coils(1, &[false]).unwrap();
        tick(&mut c, 8.0);
        assert!(c.states.iter().all(|s| s.indication == Indication::Red), "a start-up red after flashing");
        tick(&mut c, 10.5);
        assert_eq!(c.status().mode, Some(ControlMode::LocalFallback));
        assert!(c.states.iter().any(|s| s.indication == Indication::Green), "back to the sequencer");
        c.write_coils(0, &[false]).unwrap();
        assert_eq!(c.write_registers(200, &[0]), Err(ExceptionCode::ServerDeviceFailure));
        assert_eq!(c.read_input_registers(0, 99), Err(ExceptionCode::IllegalDataAddress));
    }
}
