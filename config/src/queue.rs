//! What a queue is, on the ground: one definition for the vision pipeline that measures
//! queues and for the synthetic cameras' ground truth that scores them.

/// A vehicle slower than this (km/h) is standing in a queue: slow enough that the box jitter
/// of a stopped car stays under it, fast enough that creeping up the queue still counts.
pub const QUEUED_KMH: f64 = 5.0;

/// Largest gap (metres) between standing vehicles that still makes one queue: a stopped car
/// takes about 7 m, so this bridges one vehicle the detector missed, while a vehicle
/// standing alone far up the lane (parked, or a ghost) is not the back of the queue.
pub const QUEUE_GAP_M: f64 = 15.0;

/// The back of the queue: the farthest of the standing vehicles (their distances from the
/// stop line) that is chained to the stop line by gaps of at most `QUEUE_GAP_M`; 0 for none.
pub fn back_of_queue(mut standing: Vec<f64>) -> f64 {
    standing.sort_by(f64::total_cmp);
    let mut back = 0.0;
    for d in standing {
        if d - back > QUEUE_GAP_M {
            break;
        }
        back = d;
    }
    back
}

/// Distance from `p` to the segment a-b (a stop line on the ground).
pub fn distance_to_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = (d[0] * d[0] + d[1] * d[1]).max(1e-12);
    let s = (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / len2).clamp(0.0, 1.0);
    ((p[0] - a[0] - s * d[0]).powi(2) + (p[1] - a[1] - s * d[1]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_ends_at_the_first_gap_too_long_for_a_missed_vehicle() {
        assert_eq!(back_of_queue(vec![]), 0.0);
        assert_eq!(back_of_queue(vec![14.0, 3.0, 9.0]), 14.0);
        // A car standing alone 60 m up the lane is not the back of a 9 m queue.
        assert_eq!(back_of_queue(vec![3.0, 60.0, 9.0]), 9.0);
        // Nothing near the stop line: no queue, whatever stands farther up.
        assert_eq!(back_of_queue(vec![40.0, 46.0]), 0.0);
    }

    #[test]
    fn distance_to_a_stop_line_is_to_its_nearest_point() {
        assert_eq!(distance_to_segment([-20.0, 1.0], [0.0, -5.0], [0.0, 5.0]), 20.0);
        assert_eq!(distance_to_segment([-3.0, 9.0], [0.0, -5.0], [0.0, 5.0]), 5.0);
    }
}
