//! Turning nutgiao's phase indications into a SUMO traffic light's state string: each
//! controlled connection (link index) takes the indication of the phase that serves its
//! movement, and a state with two conflicting phases green is never produced.

use std::collections::BTreeMap;

use nutgiao_config::{Intersection, MovementRef, Site};

use super::error::SumoError;
use super::net::Net;
use crate::signal::{Indication, PhaseId, PhaseState};

/// One signal of a SUMO traffic light.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSignal {
    /// Phases whose movements include this connection (none: held red).
    pub phases: Vec<PhaseId>,
    /// The connection must yield when green (`g` rather than `G`), as in SUMO's own program.
    pub minor: bool,
}

/// How one intersection's phases map onto its SUMO traffic light.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsMapping {
    pub tls: String,
    /// Indexed by SUMO link index.
    pub links: Vec<LinkSignal>,
    /// Conflicting phase pairs (a < b) from the site file.
    conflicts: Vec<(PhaseId, PhaseId)>,
}

impl TlsMapping {
    /// Maps an intersection onto the traffic light of the same id. Every link of the traffic
    /// light must belong to an approach of the intersection, and every phase movement to a link.
    pub fn new(site: &Site, inter: &Intersection, net: &Net) -> Result<TlsMapping, SumoError> {
        let controlled = net.controlled(&inter.id);
        if controlled.is_empty() {
            return Err(SumoError::Mapping(format!(
                "intersection {}: the SUMO network has no traffic light `{}` (its traffic light ids are: {})",
                inter.id,
                inter.id,
                tl_ids(net).join(", ")
            )));
        }
        let program = net.default_program(&inter.id);
        let n = controlled.iter().map(|(i, _)| i + 1).max().unwrap_or(0);
        let mut links = vec![LinkSignal { phases: Vec::new(), minor: false }; n];
        for (index, conn) in &controlled {
            let Some((_, approach)) = site.approach_of_link(&conn.from).filter(|(i, _)| i.id == inter.id) else {
                return Err(SumoError::Mapping(format!(
                    "traffic light {} link {index}: SUMO edge `{}` is the link of no approach of intersection {}",
                    inter.id, conn.from, inter.id
                )));
            };
            // A connection the site does not model (e.g. a U-turn nobody routes) stays red.
            let Some(turn) = approach.exits.iter().find(|(_, exit)| **exit == conn.to).map(|(t, _)| *t) else {
                continue;
            };
            let movement = MovementRef { approach: approach.id.clone(), turn };
            links[*index].phases =
                inter.phases.iter().filter(|p| p.movements.contains(&movement)).map(|p| p.id).collect();
            // In SUMO's own program a connection that must yield shows 'g' and never 'G'.
            links[*index].minor = program.is_some_and(|p| {
                let shows = |c: char| p.phases.iter().any(|ph| ph.state.chars().nth(*index) == Some(c));
                shows('g') && !shows('G')
            });
        }
        for phase in &inter.phases {
            for m in &phase.movements {
                let Some((_, approach)) = site.approach(&m.approach) else { continue };
                let exit = approach.exits.get(&m.turn);
                let served = controlled.iter().any(|(_, c)| c.from == approach.link && Some(&c.to) == exit);
                if !served {
                    return Err(SumoError::Mapping(format!(
                        "intersection {} phase {}: movement {m} (SUMO edge {} to {}) has no connection controlled by traffic light {}",
                        inter.id,
                        phase.id,
                        approach.link,
                        exit.map_or("?", String::as_str),
                        inter.id
                    )));
                }
            }
        }
        let mut conflicts = Vec::new();
        for p in &inter.phases {
            for c in &p.conflicts {
                let pair = (p.id.min(*c), p.id.max(*c));
                if !conflicts.contains(&pair) {
                    conflicts.push(pair);
                }
            }
        }
        Ok(TlsMapping { tls: inter.id.clone(), links, conflicts })
    }

    /// The state string for these phase indications. Two conflicting phases green together
    /// is refused: the sequencer should never produce it, and SUMO must never show it.
    pub fn state(&self, phases: &[PhaseState], now_s: f64) -> Result<String, SumoError> {
        let shown: BTreeMap<PhaseId, Indication> = phases.iter().map(|p| (p.phase, p.indication)).collect();
        let green = |id: PhaseId| shown.get(&id).is_some_and(|i| i.permits_entry());
        for &(a, b) in &self.conflicts {
            if green(a) && green(b) {
                return Err(SumoError::ConflictingGreens { tls: self.tls.clone(), a, b, now_s });
            }
        }
        Ok(self
            .links
            .iter()
            .map(|link| {
                let mut best: Option<Indication> = None;
                for id in &link.phases {
                    let Some(ind) = shown.get(id).copied() else { continue };
                    // Overlapping phases: the most permissive indication wins.
                    if best.is_none_or(|b| rank(ind) > rank(b)) {
                        best = Some(ind);
                    }
                }
                match best {
                    Some(Indication::Green) if link.minor => 'g',
                    Some(Indication::Green) => 'G',
                    Some(Indication::Yellow) => 'y',
                    Some(Indication::FlashingYellow) => 'o',
                    Some(Indication::FlashingRed) => 's',
                    Some(Indication::Red) | None => 'r',
                }
            })
            .collect())
    }
}

fn rank(i: Indication) -> u8 {
    match i {
        Indication::Red => 0,
        Indication::FlashingRed => 1,
        Indication::Yellow => 2,
        Indication::FlashingYellow => 3,
        Indication::Green => 4,
    }
}

fn tl_ids(net: &Net) -> Vec<String> {
    let mut ids: Vec<String> = net.tl_logics.iter().map(|t| t.id.clone()).collect();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arterial() -> Option<(Site, Net)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let net_path = root.join("../shared/data/sumo-arterial/arterial_static.net.xml");
        if !net_path.is_file() {
            eprintln!("skipping: ../shared/data/sumo-arterial is not beside the checkout");
            return None;
        }
        let site = nutgiao_config::load(root.join("config/examples/arterial.toml")).unwrap();
        Some((site, Net::load(&net_path).unwrap()))
    }

    fn states(green: &[PhaseId], yellow: &[PhaseId]) -> Vec<PhaseState> {
        [2u8, 4, 6, 8]
            .iter()
            .map(|&phase| PhaseState {
                phase,
                indication: if green.contains(&phase) {
                    Indication::Green
                } else if yellow.contains(&phase) {
                    Indication::Yellow
                } else {
                    Indication::Red
                },
                since_s: 0.0,
            })
            .collect()
    }

    #[test]
    fn arterial_stages_reproduce_sumos_own_program_except_u_turns() {
        let Some((site, net)) = arterial() else { return };
        let inter = site.intersection("J1").unwrap();
        let m = TlsMapping::new(&site, inter, &net).unwrap();
        // SUMO: rrrrGGGggrrrrGGGgg; the U-turns (links 8 and 17) are not site movements.
        assert_eq!(m.state(&states(&[2, 6], &[]), 0.0).unwrap(), "rrrrGGGgrrrrrGGGgr");
        assert_eq!(m.state(&states(&[4, 8], &[]), 0.0).unwrap(), "GGgrrrrrrGGgrrrrrr");
        assert_eq!(m.state(&states(&[], &[2, 6]), 0.0).unwrap(), "rrrryyyyrrrrryyyyr");
        assert_eq!(m.state(&states(&[2], &[]), 0.0).unwrap(), "rrrrrrrrrrrrrGGGgr");
    }

    #[test]
    fn conflicting_greens_are_refused() {
        let Some((site, net)) = arterial() else { return };
        let m = TlsMapping::new(&site, site.intersection("J2").unwrap(), &net).unwrap();
        let err = m.state(&states(&[2, 4], &[]), 17.0).unwrap_err();
        assert!(matches!(err, SumoError::ConflictingGreens { a: 2, b: 4, .. }), "{err}");
        assert!(err.to_string().contains("J2"));
    }

    fn any_indication() -> impl proptest::strategy::Strategy<Value = Indication> {
        proptest::prop_oneof![
            proptest::strategy::Just(Indication::Red),
            proptest::strategy::Just(Indication::Yellow),
            proptest::strategy::Just(Indication::Green),
            proptest::strategy::Just(Indication::FlashingRed),
            proptest::strategy::Just(Indication::FlashingYellow),
        ]
    }

    proptest::proptest! {
        /// Whatever the controller asks for, SUMO never receives a state in which links of two
        /// conflicting phases may both enter, and a link only shows green when its phase does.
        #[test]
        fn no_state_lets_conflicting_phases_enter_together(
            shown in proptest::collection::vec(any_indication(), 4),
            inter in 0usize..3,
        ) {
            let Some((site, net)) = arterial() else { return Ok(()) };
            let inter = &site.intersections[inter];
            let m = TlsMapping::new(&site, inter, &net).unwrap();
            let phases: Vec<PhaseState> = [2u8, 4, 6, 8]
                .iter()
                .zip(&shown)
                .map(|(&phase, &indication)| PhaseState { phase, indication, since_s: 0.0 })
                .collect();
            let enters = |id: PhaseId| phases.iter().any(|p| p.phase == id && p.indication.permits_entry());
            let conflict = inter.phases.iter().any(|p| enters(p.id) && p.conflicts.iter().any(|c| enters(*c)));
            match m.state(&phases, 0.0) {
                Err(SumoError::ConflictingGreens { .. }) => proptest::prop_assert!(conflict),
                Err(e) => proptest::prop_assert!(false, "unexpected error {e}"),
                Ok(state) => {
                    proptest::prop_assert!(!conflict);
                    for (link, c) in m.links.iter().zip(state.chars()) {
                        if matches!(c, 'G' | 'g') {
                            proptest::prop_assert!(link.phases.iter().any(|id| phases.iter().any(|p| p.phase == *id && p.indication == Indication::Green)));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn an_intersection_missing_from_the_net_is_named() {
        let Some((mut site, net)) = arterial() else { return };
        site.intersections[0].id = "J9".into();
        let inter = site.intersections[0].clone();
        let err = TlsMapping::new(&site, &inter, &net).unwrap_err().to_string();
        assert!(err.contains("J9") && err.contains("J1, J2, J3"), "{err}");
    }
}
