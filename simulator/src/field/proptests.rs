//! Random detector inputs and random plan sequences, written through the cabinet's register
//! interface (valid and unsafe plans, fixed-time and actuated-coordinated, bad checksums,
//! heartbeats that stop and resume, remote-enable toggles, flash requests set and withdrawn):
//! the independent conflict monitor, watching what the heads show, must never see conflicting
//! greens, a short green-to-red, a short yellow or a skipped red clearance (flash entry
//! included), and refused commits must change nothing.

use nutgiao_controller::modbus::map::{ControlMode, crc16, encode_plan};
use nutgiao_controller::plan::Coordination;
use nutgiao_controller::{DetectorReading, DetectorSnapshot, IntersectionPlan, Mode, validate_plan};
use proptest::prelude::*;
use tokio_modbus::ExceptionCode;

use super::cabinet::Cabinet;

#[derive(Debug, Clone)]
enum Act {
    Nothing,
    Plan { cycle: f64, share: f64, offset: f64, good_crc: bool, coordinated: bool },
    Heartbeat,
    Remote(bool),
    Flash(bool),
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        8 => Just(Act::Nothing),
        2 => (20.0f64..160.0, 0.05f64..0.95, 0.0f64..1.0, proptest::bool::weighted(0.8), any::<bool>())
            .prop_map(|(cycle, share, offset, good_crc, coordinated)| Act::Plan { cycle, share, offset, good_crc, coordinated }),
        3 => Just(Act::Heartbeat),
        1 => any::<bool>().prop_map(Act::Remote),
        // Mostly withdrawn, so that flash is entered and left many times.
        1 => proptest::bool::weighted(0.3).prop_map(Act::Flash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn cabinet_outputs_stay_safe_under_random_plans_and_detectors(
        which in 0usize..3,
        steps in proptest::collection::vec((prop_oneof![Just(0.5), Just(1.0), 0.1f64..3.0], act(),
            proptest::collection::vec((any::<bool>(), 0.0f64..8.0, 0u32..3), 12)), 100..500),
    ) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/arterial.toml");
        let site = nutgiao_config::load(path).unwrap();
        let inter = &site.intersections[which];
        let mut cab = Cabinet::new(&site, inter).unwrap();
        let mut counts = vec![0u32; inter.detectors.len()];
        let mut now = 0.0;
        let mut plan_id = 10u16;
        for (dt, action, dets) in &steps {
            match action {
                Act::Nothing => {}
                Act::Heartbeat => cab.write_registers(site.modbus_map.command_base + 1, &[1]).unwrap(),
                Act::Remote(on) => cab.write_coils(site.modbus_map.coil_base, &[*on]).unwrap(),
                Act::Flash(on) => cab.write_coils(site.modbus_map.coil_base + 1, &[*on]).unwrap(),
                Act::Plan { cycle, share, offset, good_crc, coordinated } => {
                    plan_id += 1;
                    let cycle = cycle.round();
                    let s0 = (cycle * share).round();
                    let plan = IntersectionPlan { plan_id, intersection: inter.id.clone(), cycle_s: cycle,
                        offset_s: (cycle * offset).floor().min(cycle - 1.0), splits_s: vec![s0, cycle - s0] }
                        .with_coordination(if *coordinated { Coordination::ActuatedCoordinated } else { Coordination::FixedTime });
                    let words = encode_plan(&site.modbus_map, inter, &plan).unwrap();
                    cab.write_registers(site.modbus_map.plan_base, &words).unwrap();
                    let before = cab.status();
                    let crc = if *good_crc { crc16(&words) } else { crc16(&words) ^ 0x5a5a };
                    let got = cab.write_registers(site.modbus_map.command_base, &[crc]);
                    let remote = cab.read_coils(site.modbus_map.coil_base, 1).unwrap()[0];
                    match (remote, *good_crc, validate_plan(inter, &plan)) {
                        (false, _, _) => prop_assert_eq!(got, Err(ExceptionCode::ServerDeviceFailure)),
                        (true, true, Ok(())) => {
                            prop_assert_eq!(got, Ok(()));
                            prop_assert_ne!(cab.status().mode, Some(ControlMode::LocalFallback));
                            let seq = cab.sequencer();
                            let runs = seq.pending().unwrap_or(seq.mode());
                            prop_assert_eq!(matches!(runs, Mode::Coordinated(_)), *coordinated, "{:?}", runs);
                            prop_assert_eq!(runs.plan(), Some(&plan));
                        }
                        (true, _, _) => {
                            prop_assert_eq!(got, Err(ExceptionCode::IllegalDataValue));
                            let after = cab.status();
                            prop_assert_eq!(after.committed_crc, before.committed_crc);
                            prop_assert_eq!(after.pending_plan, before.pending_plan);
                            prop_assert_eq!(after.plan_id, before.plan_id);
                        }
                    }
                }
            }
            let mut snap = DetectorSnapshot { now_s: now, ..Default::default() };
            for (i, d) in inter.detectors.iter().enumerate() {
                let (presence, gap, arrivals) = dets[i];
                counts[i] += arrivals;
                snap.detectors.insert(d.id.clone(), DetectorReading { count: counts[i], occupancy: 0.0, presence, gap_s: gap });
            }
            cab.tick(&snap);
            if let Some((fault, why)) = cab.monitor_fault() {
                prop_assert!(false, "conflict monitor latched {:?}: {}", fault, why);
            }
            now += dt;
        }
    }
}
