//! Whether a point lies in a polygon: the one test behind regions of interest, zones and
//! no-stopping stretches, in pixels or on the ground, for the vision pipeline and the
//! simulator's ground truth alike (they must agree on what is inside).

/// Even-odd rule; a polygon of fewer than three points contains nothing.
pub fn contains(poly: &[[f64; 2]], p: [f64; 2]) -> bool {
    let mut odd = false;
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]) {
            odd = !odd;
        }
    }
    odd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_outside_and_concave() {
        let square = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        assert!(contains(&square, [5.0, 5.0]));
        assert!(!contains(&square, [15.0, 5.0]));
        // A U shape: the notch is outside.
        let u = [[0.0, 0.0], [9.0, 0.0], [9.0, 9.0], [6.0, 9.0], [6.0, 3.0], [3.0, 3.0], [3.0, 9.0], [0.0, 9.0]];
        assert!(contains(&u, [1.5, 6.0]));
        assert!(!contains(&u, [4.5, 6.0]));
        assert!(!contains(&[], [0.0, 0.0]));
        assert!(!contains(&[[0.0, 0.0], [1.0, 1.0]], [0.5, 0.5]));
    }
}
