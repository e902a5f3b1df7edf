//! One camera's renderer: the pre-drawn background, then per frame the vehicles back to
//! front, the signal lamps, and the sensor's noise and shake.

use nutgiao_config::pose::Pinhole;
use nutgiao_config::{Camera, Site};
use nutgiao_controller::{Indication, PhaseState};

use super::CameraError;
use super::lighting::{Conditions, Noise};
use super::raster::{Blend, Frame};
use super::scene;
use super::vehicles;
use super::view::View;
use crate::VehicleView;
use crate::network::Network;

/// A vehicle as one camera saw it in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct InView {
    pub vehicle: VehicleView,
    /// x, y, w, h in pixels, including this frame's shake.
    pub bbox: [f64; 4],
    /// The box's bottom centre without the shake: where a perfect detector's ground point is.
    pub foot_px: [f64; 2],
}

pub struct CameraRenderer {
    pub id: String,
    pub index: usize,
    pub intersection: String,
    pub width: usize,
    pub height: usize,
    pub fps: f64,
    view: View,
    background: Frame,
    light: Conditions,
    heads: Vec<(u8, [[f64; 2]; 3])>,
    seed: u64,
}

impl CameraRenderer {
    pub fn new(site: &Site, camera: &Camera, index: usize, light: Conditions, seed: u64) -> Result<Self, CameraError> {
        let pose = camera.pose.as_ref().ok_or_else(|| CameraError::NoPose(camera.id.clone()))?;
        let [w, h] = camera.resolution;
        if w < 16 || h < 16 || w % 2 != 0 || h % 2 != 0 {
            return Err(CameraError::Resolution(camera.id.clone(), w, h));
        }
        if !(camera.fps.is_finite() && camera.fps > 0.0 && camera.fps <= 120.0) {
            return Err(CameraError::Fps(camera.id.clone(), camera.fps));
        }
        let net = Network::build(site).map_err(|e| CameraError::Site(e.to_string()))?;
        let view = View::new(Pinhole::new(pose, camera.resolution));
        let background = scene::background(site, &net, camera, &view, &light);
        Ok(CameraRenderer {
            id: camera.id.clone(),
            index,
            intersection: camera.intersection.clone(),
            width: w as usize,
            height: h as usize,
            fps: camera.fps,
            view,
            background,
            light,
            heads: camera.signal_heads.iter().map(|s| (s.phase, s.lamps)).collect(),
            seed,
        })
    }

    pub fn blank(&self) -> Frame {
        self.background.clone()
    }

    /// Draws frame `frame_no` into `out` and returns the vehicles in the picture.
    pub fn render(
        &self,
        out: &mut Frame,
        vehicles: &[VehicleView],
        phases: &[PhaseState],
        frame_no: u64,
    ) -> Vec<InView> {
        let mut rng = Noise::new(self.seed, self.index, frame_no);
        let shake = [rng.shake(self.light.jitter_px), rng.shake(self.light.jitter_px)];
        let mut view = self.view;
        view.shift = [f64::from(shake[0]), f64::from(shake[1])];
        out.copy_shifted(&self.background, shake[0], shake[1]);

        let mut seen: Vec<(f64, InView)> = vehicles
            .iter()
            .filter_map(|v| {
                let bbox = vehicles::image_box(v, &view, self.width, self.height)?;
                let c = vehicles::centre(v);
                let depth = view.pinhole.depth([c[0], c[1], 0.0]);
                let foot_px = [bbox[0] + bbox[2] / 2.0 - view.shift[0], bbox[1] + bbox[3] - view.shift[1]];
                Some((depth, InView { vehicle: v.clone(), bbox, foot_px }))
            })
            .collect();
        seen.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.vehicle.id.cmp(&b.1.vehicle.id)));
        for (_, s) in &seen {
            vehicles::draw_headlight_pool(out, &s.vehicle, &view, &self.light);
        }
        for (_, s) in &seen {
            vehicles::draw_shadow(out, &s.vehicle, &view, &self.light);
        }
        for (_, s) in &seen {
            vehicles::draw_body(out, &s.vehicle, &view, &self.light, self.seed);
        }
        for (phase, lamps) in &self.heads {
            let indication = phases.iter().find(|p| p.phase == *phase).map(|p| p.indication);
            draw_lamps(out, lamps, indication, frame_no, self.fps, view.shift, &self.light);
        }
        rng.apply(&mut out.data, self.light.noise_sigma);
        seen.into_iter().map(|(_, s)| s).collect()
    }
}

fn draw_lamps(
    f: &mut Frame,
    lamps: &[[f64; 2]; 3],
    indication: Option<Indication>,
    frame_no: u64,
    fps: f64,
    shift: [f64; 2],
    light: &Conditions,
) {
    let r = scene::lamp_pitch(lamps) * 0.4;
    let flash_on = ((frame_no as f64 / fps) % 1.0) < 0.5;
    let lit = match indication {
        Some(Indication::Red) => Some(0),
        Some(Indication::Yellow) => Some(1),
        Some(Indication::Green) => Some(2),
        Some(Indication::FlashingRed) => flash_on.then_some(0),
        Some(Indication::FlashingYellow) => flash_on.then_some(1),
        None => None,
    };
    let colours = [[255, 40, 30], [255, 190, 20], [40, 255, 120]];
    for (i, c) in lamps.iter().enumerate() {
        let c = [c[0] + shift[0], c[1] + shift[1]];
        if lit == Some(i) {
            let glow = (60.0 * (1.2 - light.ambient).max(0.2)) as u8;
            let col = colours[i];
            f.fill_disc(c, r * 2.2, Blend::Add(col.map(|v| ((u16::from(v) * u16::from(glow)) / 255) as u8)));
            f.fill_disc(c, r, Blend::Replace(col));
        } else {
            f.fill_disc(c, r, Blend::Replace([45, 42, 40]));
        }
    }
}
