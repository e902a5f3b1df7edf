//! SUMO's own static signal programs replayed as a `SignalControl`, for the simulator only.
//!
//! Comparing the simulator with SUMO "under the same fixed plan" only means something when the
//! signal sequence is the same on both sides. The site's plans cannot express SUMO's programs
//! (green + 3 s yellow and no all-red): the site validator rightly refuses phases without red
//! clearance. So, as the car-following model is held fixed, this holds the signal sequence
//! fixed: every site phase shows exactly what SUMO's state string shows its links.
//!
//! **This is a modelling input, not a controller.** Its indications come from SUMO's XML, not
//! from `sequencer`, and they are never checked by `safety::validate_plan`: they may have no red
//! clearance, a yellow shorter than the ITE floor or a green under the minimum, which breaks
//! the contract of `SignalControl` for real control. It is therefore built only by
//! `nutgiao simulate --controller sumo-program:...`; `control::by_name`, `algorithms::planner`
//! and so `central::Central::new` (the Modbus side) do not know the name, and `SumoProgram`
//! implements no `PlanAlgorithm` and yields no `CorridorPlan` that could be sent to a cabinet.
//! The one safety floor it does keep: a program that shows green to two phases the site
//! declares conflicting is refused when loaded.
//!
//! SUMO's semantics reproduced here (MSTLLogicControl / NLJunctionControlBuilder, SUMO 1.15):
//! - Programs come from the network's `<tlLogic>`s, then from each additional file in order.
//!   The program loaded last for a traffic light is the one that runs. A `<tlLogic>` without
//!   phases changes the offset of the already loaded program with the same id and programID
//!   (this is how `tlsCoordinator.py`'s output, e.g. `webster_coord.tls.add.xml`, applies to
//!   `webster.tls.add.xml`); a second program with the same id and programID is an error.
//! - Times are whole milliseconds; the program position at time t is (t - offset) mod cycle.
//! - A phase switch due at T is executed at the first simulation step t with T < t + step
//!   (SUMO's event control), so with 1 s steps the switch at 25.7 s shows from t = 25 s, as
//!   observed in SUMO's own TLS output (docs/validation.md, "Offsets").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nutgiao_config::Site;

use super::error::SumoError;
use super::net::{Net, TlLogic};
use super::signals::TlsMapping;
use crate::signal::{DetectorSnapshot, Indication, PhaseId, PhaseState, SignalControl, SiteSignals};

/// The `--controller` prefix of `nutgiao simulate` that selects a replay.
pub const PREFIX: &str = "sumo-program:";

#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error(transparent)]
    Sumo(#[from] SumoError),
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("`{spec}`: expected sumo-program:NET.xml[,ADDITIONAL.xml...]")]
    Spec { spec: String },
    #[error("simulation step {step_s} s: must be a positive number of seconds")]
    Step { step_s: f64 },
}

fn file_error(path: &Path, message: String) -> ProgramError {
    ProgramError::File { path: path.to_owned(), message }
}

/// A program as SUMO would run it, with the file it was loaded from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedProgram {
    pub logic: TlLogic,
    pub source: PathBuf,
}

/// The program each traffic light runs after loading the network and then the additional
/// files in order, keyed by traffic light id.
pub fn running_programs(
    net: &Net,
    net_path: &Path,
    additional: &[PathBuf],
) -> Result<BTreeMap<String, LoadedProgram>, ProgramError> {
    let mut loaded: Vec<LoadedProgram> = Vec::new();
    let mut running: BTreeMap<String, usize> = BTreeMap::new();
    let mut load = |logic: TlLogic, source: &Path, running: &mut BTreeMap<String, usize>| {
        let existing = loaded.iter().position(|p| p.logic.id == logic.id && p.logic.program_id == logic.program_id);
        match (existing, logic.phases.is_empty()) {
            (Some(k), true) => loaded[k].logic.offset_s = logic.offset_s,
            (None, true) => {
                return Err(file_error(
                    source,
                    format!(
                        "tlLogic `{}` program `{}` has no phases, and there is no earlier program `{}` of `{}` whose offset it could change",
                        logic.id, logic.program_id, logic.program_id, logic.id
                    ),
                ));
            }
            (Some(k), false) => {
                return Err(file_error(
                    source,
                    format!(
                        "tlLogic `{}` program `{}` is already loaded from {}",
                        logic.id,
                        logic.program_id,
                        loaded[k].source.display()
                    ),
                ));
            }
            (None, false) => {
                running.insert(logic.id.clone(), loaded.len());
                loaded.push(LoadedProgram { logic, source: source.to_owned() });
            }
        }
        Ok(())
    };
    for logic in &net.tl_logics {
        load(logic.clone(), net_path, &mut running)?;
    }
    for path in additional {
        for logic in additional_programs(path)? {
            if !net.tl_logics.iter().any(|t| t.id == logic.id) {
                return Err(file_error(
                    path,
                    format!(
                        "tlLogic `{}`: the network {} has no traffic light `{}` (its traffic lights: {})",
                        logic.id,
                        net_path.display(),
                        logic.id,
                        tl_ids(net).join(", ")
                    ),
                ));
            }
            load(logic, path, &mut running)?;
        }
    }
    Ok(running.into_iter().map(|(id, k)| (id, loaded[k].clone())).collect())
}

/// The `<tlLogic>`s of an additional file, in file order.
fn additional_programs(path: &Path) -> Result<Vec<TlLogic>, ProgramError> {
    let text = super::error::read_input(path, "cannot read SUMO additional file")?;
    let bad = |message: String| SumoError::Xml { path: path.to_owned(), what: "additional", message };
    let doc = roxmltree::Document::parse(&text).map_err(|e| bad(e.to_string()))?;
    // SUMO reads the top-level elements of an additional file whatever its root is called
    // (`<additional>`, `<routes>`, ...), and so do we.
    let root = doc.root_element();
    let range = root.range();
    let element = &text[range.clone()];
    let Some(close) = element.rfind("</") else { return Ok(Vec::new()) };
    // A `<tlLogic>` reads the same in a network and in an additional file, so the network
    // reader reads it: only the root is renamed, and no line moves, so that its errors' line
    // numbers still point into this file.
    let open = range.start + 1 + root.tag_name().name().len();
    let as_net =
        format!("{}net{}</net>{}", &text[..range.start + 1], &text[open..range.start + close], &text[range.end..]);
    let net = Net::parse(&as_net).map_err(bad)?;
    Ok(net.tl_logics)
}

fn tl_ids(net: &Net) -> Vec<String> {
    let mut ids: Vec<String> = net.tl_logics.iter().map(|t| t.id.clone()).collect();
    ids.dedup();
    ids
}

fn to_ms(s: f64) -> i64 {
    (s * 1000.0).round() as i64
}

/// One intersection's program, resolved to site phases.
#[derive(Debug, Clone, PartialEq)]
struct Replay {
    intersection: String,
    offset_ms: i64,
    cycle_ms: i64,
    /// End of each program step within the cycle, ms.
    ends_ms: Vec<i64>,
    /// Site phase ids, in the order of each step's indications.
    phases: Vec<PhaseId>,
    /// `shown[step][k]`: the indication of `phases[k]` during that step.
    shown: Vec<Vec<Indication>>,
}

impl Replay {
    /// The program step shown during the simulation step starting at `t_ms`: the last switch
    /// executed is the last one due before `t_ms + step_ms`.
    fn step_at(&self, t_ms: i64, step_ms: i64) -> usize {
        let mut x = (t_ms + step_ms - self.offset_ms).rem_euclid(self.cycle_ms);
        if x == 0 {
            x = self.cycle_ms;
        }
        self.ends_ms.partition_point(|&end| end < x)
    }
}

fn indication_of(c: char) -> Indication {
    match c {
        'G' | 'g' => Indication::Green,
        'y' | 'Y' => Indication::Yellow,
        // 'r', 'u' (red-yellow, still red), 's', 'o', 'O': nothing our phases can show that
        // lets traffic in on SUMO's terms, so held red.
        _ => Indication::Red,
    }
}

/// SUMO's programs replayed over the site's phases.
#[derive(Debug, Clone)]
pub struct SumoProgram {
    name: String,
    step_ms: i64,
    replays: Vec<Replay>,
    signals: SiteSignals,
}

impl SumoProgram {
    /// From the argument of `--controller sumo-program:NET.xml[,ADD.xml...]` (without the prefix).
    pub fn from_spec(site: &Site, files: &str, step_s: f64) -> Result<SumoProgram, ProgramError> {
        let mut paths = files.split(',').map(str::trim).map(PathBuf::from);
        let Some(net) = paths.next().filter(|p| !p.as_os_str().is_empty()) else {
            return Err(ProgramError::Spec { spec: format!("{PREFIX}{files}") });
        };
        let additional: Vec<PathBuf> = paths.collect();
        if additional.iter().any(|p| p.as_os_str().is_empty()) {
            return Err(ProgramError::Spec { spec: format!("{PREFIX}{files}") });
        }
        let mut program = SumoProgram::load(site, &net, &additional, step_s)?;
        program.name = format!("{PREFIX}{files}");
        Ok(program)
    }

    /// Every site intersection replays the program its traffic light (same id) runs after
    /// loading `net` and then `additional` in order; `step_s` is the simulation step, which
    /// decides when a switch shows (see the module comment).
    pub fn load(
        site: &Site,
        net_path: &Path,
        additional: &[PathBuf],
        step_s: f64,
    ) -> Result<SumoProgram, ProgramError> {
        if !(step_s.is_finite() && step_s > 0.0) {
            return Err(ProgramError::Step { step_s });
        }
        let net = Net::load(net_path)?;
        let running = running_programs(&net, net_path, additional)?;
        let mut replays = Vec::new();
        for inter in &site.intersections {
            let mapping = TlsMapping::new(site, inter, &net)?;
            let Some(program) = running.get(&inter.id) else {
                return Err(file_error(
                    net_path,
                    format!("intersection {}: traffic light `{}` has no program", inter.id, inter.id),
                ));
            };
            replays.push(resolve(inter, &mapping, program)?);
        }
        let signals = replays
            .iter()
            .map(|r| {
                let states = r
                    .phases
                    .iter()
                    .map(|&phase| PhaseState { phase, indication: Indication::Red, since_s: 0.0 })
                    .collect();
                (r.intersection.clone(), states)
            })
            .collect();
        let name = format!("{PREFIX}{}", net_path.display());
        Ok(SumoProgram { name, step_ms: to_ms(step_s), replays, signals })
    }
}

/// Site phase indications for every step of `program`, checked against the site's phases.
fn resolve(
    inter: &nutgiao_config::Intersection,
    mapping: &TlsMapping,
    program: &LoadedProgram,
) -> Result<Replay, ProgramError> {
    let LoadedProgram { logic, source } = program;
    let what = format!("traffic light `{}` program `{}`", logic.id, logic.program_id);
    if logic.kind != "static" {
        return Err(file_error(source, format!("{what} is `{}`: only static programs can be replayed", logic.kind)));
    }
    let links: Vec<(PhaseId, Vec<usize>)> = inter
        .phases
        .iter()
        .map(|p| (p.id, (0..mapping.links.len()).filter(|&i| mapping.links[i].phases.contains(&p.id)).collect()))
        .collect();
    if let Some((phase, _)) = links.iter().find(|(_, l)| l.is_empty()) {
        return Err(file_error(
            source,
            format!(
                "intersection {} phase {phase}: no link of traffic light `{}` serves its movements, so SUMO's program cannot say what it shows",
                inter.id, logic.id
            ),
        ));
    }
    let mut ends_ms = Vec::new();
    let mut shown = Vec::new();
    let mut end = 0;
    for (k, step) in logic.phases.iter().enumerate() {
        let state: Vec<char> = step.state.chars().collect();
        if state.len() < mapping.links.len() {
            return Err(file_error(
                source,
                format!(
                    "{what} phase {k} `{}`: {} signals, but the traffic light controls {} links",
                    step.state,
                    state.len(),
                    mapping.links.len()
                ),
            ));
        }
        let mut row = Vec::with_capacity(links.len());
        for (phase, phase_links) in &links {
            let first = phase_links[0];
            let ind = indication_of(state[first]);
            if let Some(&other) = phase_links.iter().find(|&&i| indication_of(state[i]) != ind) {
                return Err(file_error(
                    source,
                    format!(
                        "{what} phase {k} `{}`: site phase {phase} of {} has link {first} `{}` and link {other} `{}`; its movements do not switch together in this program, so the site's phases cannot replay it",
                        step.state, inter.id, state[first], state[other]
                    ),
                ));
            }
            row.push(ind);
        }
        for (a, (pa, _)) in links.iter().enumerate() {
            for (b, (pb, _)) in links.iter().enumerate().skip(a + 1) {
                let conflicting = inter.phases.iter().any(|p| p.id == *pa && p.conflicts.contains(pb))
                    || inter.phases.iter().any(|p| p.id == *pb && p.conflicts.contains(pa));
                if conflicting && row[a] == Indication::Green && row[b] == Indication::Green {
                    return Err(file_error(
                        source,
                        format!(
                            "{what} phase {k} `{}` shows green to phases {pa} and {pb} of {}, which the site declares conflicting",
                            step.state, inter.id
                        ),
                    ));
                }
            }
        }
        end += to_ms(step.duration_s);
        ends_ms.push(end);
        shown.push(row);
    }
    if end <= 0 {
        return Err(file_error(source, format!("{what}: no phase with a positive duration")));
    }
    Ok(Replay {
        intersection: inter.id.clone(),
        offset_ms: to_ms(logic.offset_s),
        cycle_ms: end,
        ends_ms,
        phases: links.iter().map(|(p, _)| *p).collect(),
        shown,
    })
}

impl SignalControl for SumoProgram {
    fn name(&self) -> &str {
        &self.name
    }

    fn update(&mut self, snapshot: &DetectorSnapshot) -> &SiteSignals {
        let now = snapshot.now_s;
        let t_ms = to_ms(now);
        for r in &self.replays {
            let row = &r.shown[r.step_at(t_ms, self.step_ms)];
            if let Some(states) = self.signals.get_mut(&r.intersection) {
                for (state, &ind) in states.iter_mut().zip(row) {
                    if state.indication != ind {
                        *state = PhaseState { phase: state.phase, indication: ind, since_s: now };
                    }
                }
            }
        }
        &self.signals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(offset_s: f64, durations_s: &[f64]) -> Replay {
        let mut end = 0;
        let ends_ms: Vec<i64> = durations_s
            .iter()
            .map(|d| {
                end += to_ms(*d);
                end
            })
            .collect();
        Replay {
            intersection: "J".into(),
            offset_ms: to_ms(offset_s),
            cycle_ms: end,
            ends_ms,
            phases: Vec::new(),
            shown: Vec::new(),
        }
    }

    fn steps(r: &Replay, times_s: &[f64], step_s: f64) -> Vec<usize> {
        times_s.iter().map(|t| r.step_at(to_ms(*t), to_ms(step_s))).collect()
    }

    #[test]
    fn a_switch_shows_from_the_simulation_step_in_which_it_falls_due() {
        let fixed90: &[f64] = &[42.0, 3.0, 42.0, 3.0];
        let webster: &[f64] = &[23.0, 3.0, 11.0, 3.0];
        // (offset s, durations s, simulation step s, times s, program steps shown then).
        type Case<'a> = (f64, &'a [f64], f64, &'a [f64], &'a [usize]);
        let cases: [Case<'_>; 4] = [
            (
                0.0,
                fixed90,
                1.0,
                &[0.0, 41.0, 42.0, 44.0, 45.0, 86.0, 87.0, 89.0, 90.0, 132.0, 3600.0],
                &[0, 0, 1, 1, 2, 2, 3, 3, 0, 1, 0],
            ),
            (0.0, fixed90, 0.5, &[41.5, 42.0, 44.5, 45.0], &[0, 1, 1, 2]),
            // webster_coord's J1: offset 25.7 s in a 40 s cycle; SUMO shows the arterial
            // green from t = 25 s (the switch due at 25.7 s runs in the step from 25 s to 26 s).
            (
                25.7,
                webster,
                1.0,
                &[0.0, 8.0, 9.0, 11.0, 12.0, 22.0, 24.0, 25.0, 47.0, 48.0, 65.0],
                &[0, 1, 1, 2, 2, 3, 3, 0, 0, 1, 0],
            ),
            (25.7, webster, 0.5, &[25.0, 25.5], &[3, 0]),
        ];
        for (offset, durations, step, times, want) in cases {
            assert_eq!(steps(&replay(offset, durations), times, step), want, "offset {offset} s, step {step} s");
        }
        let r = replay(25.7, webster);
        // A negative offset advances the program: -14.3 s is the same as 25.7 s here.
        let back = replay(-14.3, &[23.0, 3.0, 11.0, 3.0]);
        let times: Vec<f64> = (0..200).map(f64::from).collect();
        assert_eq!(steps(&back, &times, 1.0), steps(&r, &times, 1.0));
    }

    const NET: &str = r#"<net version="1.9">
    <edge id="AX" from="A" to="X"><lane id="AX_0" index="0" speed="13.89" length="100"/></edge>
    <edge id="XB" from="X" to="B"><lane id="XB_0" index="0" speed="13.89" length="100"/></edge>
    <tlLogic id="X" type="static" programID="0" offset="0">
        <phase duration="30" state="G"/>
        <phase duration="3" state="y"/>
        <phase duration="20" state="r"/>
    </tlLogic>
    <junction id="X" type="traffic_light" x="0" y="0"/>
    <connection from="AX" to="XB" fromLane="0" toLane="0" tl="X" linkIndex="0" dir="s" state="O"/>
</net>"#;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn additional(body: &str) -> String {
        format!("<?xml version=\"1.0\"?>\n<additional>\n{body}\n</additional>\n")
    }

    #[test]
    fn later_files_replace_programs_and_offset_only_entries_change_the_running_one() {
        let dir = tempfile::tempdir().unwrap();
        let net_path = write(dir.path(), "x.net.xml", NET);
        let net = Net::load(&net_path).unwrap();
        let a = write(
            dir.path(),
            "a.add.xml",
            &additional(
                r#"<tlLogic id="X" type="static" programID="a" offset="0"><phase duration="10" state="G"/><phase duration="3" state="y"/></tlLogic>"#,
            ),
        );
        let offset = write(dir.path(), "o.add.xml", &additional(r#"<tlLogic id="X" programID="a" offset="4.50"/>"#));
        let run = running_programs(&net, &net_path, &[]).unwrap();
        assert_eq!((run["X"].logic.program_id.as_str(), run["X"].logic.phases.len()), ("0", 3));
        let run = running_programs(&net, &net_path, &[a.clone(), offset.clone()]).unwrap();
        let x = &run["X"];
        assert_eq!((x.logic.program_id.as_str(), x.logic.offset_s, x.source.as_path()), ("a", 4.5, a.as_path()));
        assert_eq!(x.logic.phases.iter().map(|p| p.duration_s).collect::<Vec<_>>(), [10.0, 3.0]);
        // The offset alone, before its program exists, is what SUMO refuses too.
        let err = running_programs(&net, &net_path, &[offset, a.clone()]).unwrap_err().to_string();
        assert!(err.contains("no earlier program `a`"), "{err}");
        let err = running_programs(&net, &net_path, &[a.clone(), a]).unwrap_err().to_string();
        assert!(err.contains("already loaded from"), "{err}");
    }

    #[test]
    fn errors_name_the_file_and_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let net_path = write(dir.path(), "x.net.xml", NET);
        let net = Net::load(&net_path).unwrap();
        let unknown = write(dir.path(), "u.add.xml", &additional(r#"<tlLogic id="J9" programID="a" offset="3"/>"#));
        let err = running_programs(&net, &net_path, &[unknown]).unwrap_err().to_string();
        let dir_name = dir.path().display().to_string();
        insta::assert_snapshot!(err.replace(&dir_name, "DIR"),
            @"DIR/u.add.xml: tlLogic `J9`: the network DIR/x.net.xml has no traffic light `J9` (its traffic lights: X)");
        let missing = dir.path().join("missing.add.xml");
        let err = running_programs(&net, &net_path, &[missing]).unwrap_err().to_string();
        assert!(err.starts_with("cannot read SUMO additional file") && err.contains("missing.add.xml"), "{err}");
        // Line numbers point into the additional file itself.
        let bad = write(
            dir.path(),
            "b.add.xml",
            &additional("<tlLogic id=\"X\" programID=\"a\">\n<phase duration=\"long\" state=\"G\"/></tlLogic>"),
        );
        let err = running_programs(&net, &net_path, &[bad]).unwrap_err().to_string();
        assert!(err.contains("b.add.xml") && err.contains("line 4") && err.contains("`duration`"), "{err}");
        let not_xml = write(dir.path(), "r.add.xml", "<additional>\n<tlLogic id=\"X\">\n</additional>");
        let err = running_programs(&net, &net_path, &[not_xml]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: not a valid SUMO additional file", dir.path().join("r.add.xml").display())),
            "{err}"
        );
        // Routes and programs may share a file, as SUMO allows.
        let routes = write(
            dir.path(),
            "v.rou.xml",
            "<routes><vType id=\"car\"/><tlLogic id=\"X\" programID=\"0\" offset=\"7\"/></routes>",
        );
        assert_eq!(running_programs(&net, &net_path, &[routes]).unwrap()["X"].logic.offset_s, 7.0);
    }

    fn shared() -> Option<(Site, PathBuf)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = root.join("../shared/data/sumo-arterial");
        if !dir.join("arterial_static.net.xml").is_file() {
            eprintln!("skipping: ../shared/data/sumo-arterial is not beside the checkout");
            return None;
        }
        Some((nutgiao_config::load(root.join("config/examples/arterial.toml")).unwrap(), dir))
    }

    fn shown(p: &mut SumoProgram, t: f64, inter: &str) -> Vec<(PhaseId, Indication)> {
        let snap = DetectorSnapshot { now_s: t, ..DetectorSnapshot::default() };
        p.update(&snap)[inter].iter().map(|s| (s.phase, s.indication)).collect()
    }

    #[test]
    fn the_shared_net_maps_site_phases_onto_sumos_links() {
        use Indication::{Green as G, Red as R, Yellow as Y};
        let Some((site, dir)) = shared() else { return };
        let net = dir.join("arterial_static.net.xml");
        let mut p = SumoProgram::load(&site, &net, &[], 1.0).unwrap();
        // Site phases in file order: 2, 6 (arterial), 4, 8 (side street).
        for (t, want) in [(0.0, [G, G, R, R]), (41.0, [G, G, R, R]), (42.0, [Y, Y, R, R]), (45.0, [R, R, G, G])] {
            assert_eq!(shown(&mut p, t, "J2").iter().map(|s| s.1).collect::<Vec<_>>(), want, "at {t} s");
        }
        assert_eq!(shown(&mut p, 87.0, "J3"), [(2, R), (6, R), (4, Y), (8, Y)]);
        assert_eq!(p.signals["J3"][2].since_s, 87.0);
        let adds = [dir.join("webster.tls.add.xml"), dir.join("webster_coord.tls.add.xml")];
        let mut w = SumoProgram::load(&site, &net, &adds, 1.0).unwrap();
        assert_eq!(shown(&mut w, 24.0, "J1"), [(2, R), (6, R), (4, Y), (8, Y)], "side yellow before the offset");
        assert_eq!(shown(&mut w, 25.0, "J1"), [(2, G), (6, G), (4, R), (8, R)], "J1 offset 25.7 s");
        assert_eq!(shown(&mut w, 23.0, "J2")[0].1, Y, "J2 (offset 0): arterial yellow from 22 s");
        assert_eq!(shown(&mut w, 25.0, "J2"), [(2, R), (6, R), (4, G), (8, G)]);
    }

    /// The error for the shared net plus one program of J1 with a single phase `state`.
    fn refused(site: &Site, net: &Path, state: &str) -> String {
        let tmp = tempfile::tempdir().unwrap();
        let text = format!(r#"<tlLogic id="J1" programID="t"><phase duration="30" state="{state}"/></tlLogic>"#);
        let add = write(tmp.path(), "t.add.xml", &additional(&text));
        let err = SumoProgram::load(site, net, &[add], 1.0).unwrap_err().to_string();
        assert!(err.contains("t.add.xml"), "{err}");
        err
    }

    #[test]
    fn programs_the_site_cannot_replay_are_refused() {
        let Some((site, dir)) = shared() else { return };
        let net = dir.join("arterial_static.net.xml");
        let err = refused(&site, &net, "GGggGGGggGGggGGGgg");
        assert!(err.contains("which the site declares conflicting"), "{err}");
        // Through green, left red on the westbound approach (links 4..7): one site phase.
        let err = refused(&site, &net, "rrrrGGGrrrrrrrrrrr");
        assert!(err.contains("do not switch together"), "{err}");
        let actuated = SumoProgram::load(&site, &dir.join("arterial_actuated.net.xml"), &[], 1.0).unwrap_err();
        assert!(actuated.to_string().contains("only static programs"), "{actuated}");
        let missing = SumoProgram::from_spec(&site, "nowhere.net.xml", 1.0).unwrap_err().to_string();
        assert!(missing.contains("nowhere.net.xml") && missing.contains("cannot read"), "{missing}");
    }

    #[test]
    fn real_control_does_not_accept_a_replay() {
        let site = crate::testing::arterial();
        let name = format!("{PREFIX}arterial_static.net.xml");
        assert!(crate::control::by_name(&site, &name).is_err());
        assert!(crate::algorithms::planner(&site, &name).is_err());
        assert!(crate::central::Central::new(&site, &name).is_err());
    }
}
