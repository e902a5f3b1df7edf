//! Light and sensor conditions: time of day, sun for shading and cast shadows, headlights,
//! sensor noise and mount jitter. Everything random is drawn from a per-frame generator, so
//! a seed fixes every pixel.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeOfDay {
    Day,
    Dusk,
    Night,
}

impl TimeOfDay {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeOfDay::Day => "day",
            TimeOfDay::Dusk => "dusk",
            TimeOfDay::Night => "night",
        }
    }
}

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "day" => Ok(TimeOfDay::Day),
            "dusk" => Ok(TimeOfDay::Dusk),
            "night" => Ok(TimeOfDay::Night),
            other => Err(format!("time of day `{other}`: expected day, dusk or night")),
        }
    }
}

/// What the renderer needs to know about light and the sensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    pub time_of_day: TimeOfDay,
    /// Multiplier on every surface colour (1 = full daylight).
    pub ambient: f64,
    /// Per-channel tint of the ambient light (dusk is orange).
    pub tint: [f64; 3],
    /// Unit vector towards the sun (x east, y north, z up).
    pub sun: [f64; 3],
    /// How dark a cast shadow is (fraction of light kept); 1 = no shadows.
    pub shadow_keep: f32,
    pub headlights: bool,
    /// Standard deviation of the sensor noise, in 8-bit levels (0 = none).
    pub noise_sigma: f64,
    /// Largest whole-pixel shake of the mount in each axis (0 = rigid).
    pub jitter_px: i32,
}

impl Conditions {
    pub fn for_time(t: TimeOfDay) -> Conditions {
        // Mid-morning sun from the south-east, low dusk sun from the west.
        let sun = |az_deg: f64, el_deg: f64| {
            let (a, e) = (az_deg.to_radians(), el_deg.to_radians());
            [a.sin() * e.cos(), a.cos() * e.cos(), e.sin()]
        };
        match t {
            TimeOfDay::Day => Conditions {
                time_of_day: t,
                ambient: 1.0,
                tint: [1.0, 1.0, 1.0],
                sun: sun(135.0, 50.0),
                shadow_keep: 0.55,
                headlights: false,
                noise_sigma: 3.0,
                jitter_px: 1,
            },
            TimeOfDay::Dusk => Conditions {
                time_of_day: t,
                ambient: 0.55,
                tint: [1.1, 0.9, 0.75],
                sun: sun(260.0, 8.0),
                shadow_keep: 0.8,
                headlights: true,
                noise_sigma: 5.0,
                jitter_px: 1,
            },
            TimeOfDay::Night => Conditions {
                time_of_day: t,
                ambient: 0.22,
                tint: [0.9, 0.9, 1.05],
                sun: [0.0, 0.0, 1.0],
                shadow_keep: 1.0,
                headlights: true,
                noise_sigma: 7.0,
                jitter_px: 1,
            },
        }
    }

    /// No noise, jitter or shadows: for tests that compare pixels with geometry.
    pub fn clean(t: TimeOfDay) -> Conditions {
        Conditions { noise_sigma: 0.0, jitter_px: 0, shadow_keep: 1.0, ..Conditions::for_time(t) }
    }

    /// Colour of a surface with the given albedo and (unit) normal under this light.
    pub fn lit(&self, albedo: [u8; 3], normal: [f64; 3]) -> [u8; 3] {
        let lambert = (normal[0] * self.sun[0] + normal[1] * self.sun[1] + normal[2] * self.sun[2]).max(0.0);
        let k = self.ambient * (0.55 + 0.45 * lambert);
        std::array::from_fn(|i| (f64::from(albedo[i]) * k * self.tint[i]).round().clamp(0.0, 255.0) as u8)
    }
}

/// xorshift64*: tiny, fast and good enough for sensor noise; seeded per camera and frame.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64, camera: usize, frame: u64) -> Noise {
        let mut s =
            seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(camera as u64 + 1) ^ frame.wrapping_mul(0xD1B5_4A32_D192_ED03);
        // splitmix64 so that neighbouring seeds do not start correlated.
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        s = (s ^ (s >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        s = (s ^ (s >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Noise((s ^ (s >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Integer shake in -max..=max.
    pub fn shake(&mut self, max: i32) -> i32 {
        if max <= 0 {
            return 0;
        }
        (self.next_u64() % (2 * max as u64 + 1)) as i32 - max
    }

    /// Adds zero-mean noise to every byte: the sum of two uniform bytes approximates a bell
    /// (triangular) shape, scaled so that its standard deviation is `sigma`.
    pub fn apply(&mut self, data: &mut [u8], sigma: f64) {
        if sigma <= 0.0 {
            return;
        }
        // Triangular on [-255, 255] has sd 255 / sqrt(6) ~ 104.
        let scale = ((sigma / 104.1) * 256.0).round() as i32;
        for chunk in data.chunks_mut(4) {
            let r = self.next_u64();
            for (i, v) in chunk.iter_mut().enumerate() {
                let a = ((r >> (16 * i)) & 0xFF) as i32;
                let b = ((r >> (16 * i + 8)) & 0xFF) as i32;
                let n = ((a - b) * scale + 128) >> 8;
                *v = (i32::from(*v) + n).clamp(0, 255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_has_the_asked_spread_and_no_bias() {
        let mut data = vec![128u8; 200_000];
        Noise::new(7, 0, 3).apply(&mut data, 6.0);
        let n = data.len() as f64;
        let mean = data.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let sd = (data.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!((mean - 128.0).abs() < 0.2, "mean {mean}");
        assert!((sd - 6.0).abs() < 0.6, "sd {sd}");
    }

    #[test]
    fn same_seed_same_noise_other_frame_other_noise() {
        let mut a = vec![100u8; 1000];
        let mut b = vec![100u8; 1000];
        let mut c = vec![100u8; 1000];
        Noise::new(1, 0, 5).apply(&mut a, 4.0);
        Noise::new(1, 0, 5).apply(&mut b, 4.0);
        Noise::new(1, 0, 6).apply(&mut c, 4.0);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
