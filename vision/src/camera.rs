//! What the pipeline needs to know about one camera, from a site file or from `--line`s.

use nutgiao_config::{Camera, DetectorBackend, Homography, LineKind, Site, Zone};

use crate::counting::LineGeometry;
use crate::error::{Result, VisionError};
use crate::movements::Role;

#[derive(Debug, Clone)]
pub struct CameraLine {
    pub geometry: LineGeometry,
    pub kind: LineKind,
    pub approach: Option<String>,
    /// The departure link whose lanes the line crosses (positive: leaving the junction).
    pub departure: Option<String>,
    /// Its part in turning movements.
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct CameraSetup {
    pub camera: String,
    pub intersection: Option<String>,
    pub uri: String,
    /// Processing resolution; `None` keeps the source's.
    pub resolution: Option<[u32; 2]>,
    pub homography: Option<Homography>,
    pub roi: Vec<[f64; 2]>,
    pub lines: Vec<CameraLine>,
    pub zones: Vec<Zone>,
    pub backend: DetectorBackend,
    pub model: Option<String>,
    pub confidence: f64,
    /// (phase, lamp centres red/yellow/green) of signal heads visible in the image.
    pub signal_heads: Vec<(u8, [[f64; 2]; 3])>,
    /// Phases serving each approach, for red-light judgement.
    pub approach_phases: Vec<(String, Vec<u8>)>,
    /// Threads of the software video decoder; `None` leaves it one per core (see
    /// `SourceSpec::decoder_threads`).
    pub decoder_threads: Option<u32>,
}

/// Default travel past a `--line` (pixels) before a crossing counts, without calibration.
pub const PIXEL_HYSTERESIS: f64 = 6.0;

impl CameraSetup {
    pub fn from_site(site: &Site, camera_id: &str) -> Result<Self> {
        let cam: &Camera = site.cameras.iter().find(|c| c.id == camera_id).ok_or_else(|| VisionError::Config {
            camera: camera_id.to_owned(),
            message: format!(
                "no such camera in site {}; cameras are: {}",
                site.site.name,
                site.cameras.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })?;
        let homography = Homography::estimate(&cam.calibration)
            .map_err(|e| VisionError::Config { camera: cam.id.clone(), message: format!("calibration: {e}") })?;
        let lines = cam
            .lines
            .iter()
            .map(|l| CameraLine {
                geometry: LineGeometry::new(&l.id, l.points[0], l.points[1], l.hysteresis_m, Some(&homography)),
                kind: l.kind,
                approach: l.approach.clone(),
                departure: l.departure.clone(),
                role: Role::of(l.kind, true),
            })
            .collect();
        let approach_phases = site
            .intersections
            .iter()
            .filter(|i| i.id == cam.intersection)
            .flat_map(|i| i.approaches.iter().map(move |a| (i, a)))
            .map(|(i, a)| {
                let phases =
                    i.phases.iter().filter(|p| p.movements.iter().any(|m| m.approach == a.id)).map(|p| p.id).collect();
                (a.id.clone(), phases)
            })
            .collect();
        Ok(Self {
            camera: cam.id.clone(),
            intersection: Some(cam.intersection.clone()),
            uri: cam.uri.clone(),
            resolution: Some(cam.resolution),
            homography: Some(homography),
            roi: cam.roi.clone(),
            lines,
            zones: cam.zones.clone(),
            backend: cam.detector.kind,
            model: cam.detector.model.clone(),
            confidence: cam.detector.confidence,
            signal_heads: cam.signal_heads.iter().map(|s| (s.phase, s.lamps)).collect(),
            approach_phases,
            decoder_threads: None,
        })
    }

    /// A quick job without a site file: lines in pixels of the source video.
    pub fn from_pixel_lines(camera: &str, uri: &str, lines: &[[f64; 4]]) -> Self {
        let lines = lines
            .iter()
            .enumerate()
            .map(|(i, l)| CameraLine {
                geometry: LineGeometry::new(
                    &format!("line-{}", i + 1),
                    [l[0], l[1]],
                    [l[2], l[3]],
                    PIXEL_HYSTERESIS,
                    None,
                ),
                kind: LineKind::Count,
                approach: None,
                departure: None,
                role: Role::of(LineKind::Count, false),
            })
            .collect();
        Self {
            camera: camera.to_owned(),
            intersection: None,
            uri: uri.to_owned(),
            resolution: None,
            homography: None,
            roi: Vec::new(),
            lines,
            zones: Vec::new(),
            backend: DetectorBackend::Mog2,
            model: None,
            confidence: 0.4,
            signal_heads: Vec::new(),
            approach_phases: Vec::new(),
            decoder_threads: None,
        }
    }
}

/// Parses `X1,Y1,X2,Y2`.
pub fn parse_pixel_line(text: &str) -> Result<[f64; 4], String> {
    let v: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>().map_err(|_| format!("`{s}` in line `{text}` is not a number")))
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [a, b, c, d] if v.iter().all(|x| x.is_finite()) => {
            if (a - c).abs() + (b - d).abs() < 1.0 {
                Err(format!("line `{text}` has two equal end points"))
            } else {
                Ok([*a, *b, *c, *d])
            }
        }
        _ => Err(format!("line `{text}` must be X1,Y1,X2,Y2 (four numbers), got {} values", v.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_lines_are_parsed_or_rejected_with_the_reason() {
        assert_eq!(parse_pixel_line("0,120, 320,120").unwrap(), [0.0, 120.0, 320.0, 120.0]);
        assert!(parse_pixel_line("0,120,320").unwrap_err().contains("four numbers"));
        assert!(parse_pixel_line("a,1,2,3").unwrap_err().contains("`a`"));
        assert!(parse_pixel_line("5,5,5,5").unwrap_err().contains("equal"));
    }

    #[test]
    fn the_arterial_cameras_load_with_their_lines_and_phases() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/arterial.toml");
        let site = nutgiao_config::load(path).unwrap();
        let setup = CameraSetup::from_site(&site, "cam-J1-W").unwrap();
        assert_eq!(setup.lines.len(), 4);
        let departures: Vec<_> = setup.lines.iter().filter_map(|l| l.departure.as_deref()).collect();
        assert_eq!(departures, ["J1W", "J1W"], "both departure lines name the link they cross");
        assert!(setup.approach_phases.iter().any(|(a, p)| a == "J1-W" && !p.is_empty()));
        let err = CameraSetup::from_site(&site, "cam-nope").unwrap_err().to_string();
        assert!(err.contains("cam-nope") && err.contains("cam-J1-W"), "{err}");
    }
}
