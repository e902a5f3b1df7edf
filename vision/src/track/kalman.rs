//! Constant-velocity Kalman filter of a box centre in image pixels.

use nalgebra::{Matrix2, Matrix2x4, Matrix4, Vector2, Vector4};

#[derive(Debug, Clone)]
pub struct ConstantVelocity {
    /// x, y, vx, vy (pixels, pixels per second).
    pub state: Vector4<f64>,
    pub cov: Matrix4<f64>,
    /// Acceleration noise (pixels / s^2): how abruptly vehicles may change speed.
    accel_noise: f64,
    measurement_noise: f64,
}

const H: Matrix2x4<f64> = Matrix2x4::new(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0);

impl ConstantVelocity {
    pub fn new(position: [f64; 2], accel_noise: f64, measurement_noise: f64) -> Self {
        let state = Vector4::new(position[0], position[1], 0.0, 0.0);
        let m2 = measurement_noise * measurement_noise;
        // Velocity unknown at birth: a wide prior lets the first matches set it.
        let cov = Matrix4::from_diagonal(&Vector4::new(m2, m2, 200.0 * 200.0, 200.0 * 200.0));
        Self { state, cov, accel_noise, measurement_noise }
    }

    pub fn predict(&mut self, dt: f64) {
        let f = Matrix4::new(1.0, 0.0, dt, 0.0, 0.0, 1.0, 0.0, dt, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
        let q = self.accel_noise * self.accel_noise;
        let (dt2, dt3, dt4) = (dt * dt, dt * dt * dt / 2.0, dt * dt * dt * dt / 4.0);
        let qm = Matrix4::new(
            dt4 * q,
            0.0,
            dt3 * q,
            0.0,
            0.0,
            dt4 * q,
            0.0,
            dt3 * q,
            dt3 * q,
            0.0,
            dt2 * q,
            0.0,
            0.0,
            dt3 * q,
            0.0,
            dt2 * q,
        );
        self.state = f * self.state;
        self.cov = f * self.cov * f.transpose() + qm;
    }

    pub fn update(&mut self, z: [f64; 2]) {
        let r = Matrix2::from_diagonal_element(self.measurement_noise * self.measurement_noise);
        let innovation = Vector2::new(z[0], z[1]) - H * self.state;
        let s = H * self.cov * H.transpose() + r;
        let Some(s_inv) = s.try_inverse() else { return };
        let k = self.cov * H.transpose() * s_inv;
        self.state += k * innovation;
        self.cov = (Matrix4::identity() - k * H) * self.cov;
    }

    pub fn position(&self) -> [f64; 2] {
        [self.state[0], self.state[1]]
    }

    pub fn velocity(&self) -> [f64; 2] {
        [self.state[2], self.state[3]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_constant_velocity_and_coasts_through_a_gap() {
        let mut kf = ConstantVelocity::new([0.0, 100.0], 50.0, 2.0);
        for i in 1..=20 {
            kf.predict(0.04);
            kf.update([i as f64 * 4.0, 100.0 - i as f64 * 2.0]);
        }
        let v = kf.velocity();
        assert!((v[0] - 100.0).abs() < 5.0 && (v[1] + 50.0).abs() < 5.0, "velocity {v:?}");
        for _ in 0..5 {
            kf.predict(0.04);
        }
        let p = kf.position();
        assert!((p[0] - 100.0).abs() < 3.0 && (p[1] - 50.0).abs() < 3.0, "coasted to {p:?}");
    }
}
