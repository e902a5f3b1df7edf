//! Vehicle counts in one-minute bins, re-binned on demand into the 15-minute intervals
//! that count surveys use.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CountKey {
    pub camera: String,
    pub line: String,
    pub direction: String,
}

/// Classes in the column order of the CSV.
pub const CLASSES: [&str; 4] = ["motorbike", "car", "bus", "truck"];

#[derive(Debug, Default)]
pub struct CountBins {
    /// Per key, per minute index (floor(time / 60)), per class.
    bins: BTreeMap<CountKey, BTreeMap<i64, [u64; 5]>>,
}

fn class_index(class: &str) -> usize {
    CLASSES.iter().position(|c| *c == class).unwrap_or(4)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountPoint {
    pub start_s: i64,
    pub end_s: i64,
    pub camera: String,
    pub line: String,
    pub direction: String,
    pub by_class: BTreeMap<String, u64>,
    pub total: u64,
}

impl CountBins {
    pub fn add(&mut self, key: CountKey, class: &str, time_s: f64) {
        let minute = (time_s / 60.0).floor() as i64;
        self.bins.entry(key).or_default().entry(minute).or_insert([0; 5])[class_index(class)] += 1;
    }

    pub fn total(&self) -> u64 {
        self.bins.values().flat_map(|m| m.values()).flat_map(|c| c.iter()).sum()
    }

    /// Series re-binned to `bin_s` (a multiple of 60), optionally filtered.
    pub fn series(&self, bin_s: i64, camera: Option<&str>, line: Option<&str>) -> Vec<CountPoint> {
        let per = (bin_s / 60).max(1);
        let mut out = Vec::new();
        for (key, minutes) in &self.bins {
            if camera.is_some_and(|c| c != key.camera) || line.is_some_and(|l| l != key.line) {
                continue;
            }
            let mut grouped: BTreeMap<i64, [u64; 5]> = BTreeMap::new();
            for (m, c) in minutes {
                let b = grouped.entry(m.div_euclid(per)).or_insert([0; 5]);
                for i in 0..5 {
                    b[i] += c[i];
                }
            }
            for (b, c) in grouped {
                let mut by_class: BTreeMap<String, u64> =
                    CLASSES.iter().zip(c.iter()).map(|(n, v)| ((*n).to_owned(), *v)).collect();
                if c[4] > 0 {
                    by_class.insert("other".to_owned(), c[4]);
                }
                out.push(CountPoint {
                    start_s: b * per * 60,
                    end_s: (b + 1) * per * 60,
                    camera: key.camera.clone(),
                    line: key.line.clone(),
                    direction: key.direction.clone(),
                    total: c.iter().sum(),
                    by_class,
                });
            }
        }
        out.sort_by(|a, b| {
            (a.start_s, &a.camera, &a.line, &a.direction).cmp(&(b.start_s, &b.camera, &b.line, &b.direction))
        });
        out
    }

    /// The survey CSV: one row per interval, line and direction, one column per class.
    pub fn csv(&self, bin_s: i64) -> String {
        let mut s =
            String::from("interval_start_s,interval_end_s,camera,line,direction,motorbike,car,bus,truck,total\n");
        for p in self.series(bin_s, None, None) {
            let c = |k: &str| p.by_class.get(k).copied().unwrap_or(0);
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{}",
                p.start_s,
                p.end_s,
                p.camera,
                p.line,
                p.direction,
                c("motorbike"),
                c("car"),
                c("bus"),
                c("truck"),
                p.total
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &str) -> CountKey {
        CountKey { camera: "cam".into(), line: "stop".into(), direction: dir.into() }
    }

    #[test]
    fn fifteen_minute_bins_add_up_the_minutes() {
        let mut b = CountBins::default();
        for t in [0.0, 59.0, 60.0, 899.0, 900.0, 1799.5] {
            b.add(key("positive"), "car", t);
        }
        b.add(key("positive"), "motorbike", 30.0);
        b.add(key("negative"), "bus", 30.0);
        insta::assert_snapshot!(b.csv(900), @r"
        interval_start_s,interval_end_s,camera,line,direction,motorbike,car,bus,truck,total
        0,900,cam,stop,negative,0,0,1,0,1
        0,900,cam,stop,positive,1,4,0,0,5
        900,1800,cam,stop,positive,0,2,0,0,2
        ");
        assert_eq!(b.total(), 8);
        assert_eq!(b.series(60, None, None).iter().map(|p| p.total).sum::<u64>(), 8);
    }

    proptest::proptest! {
        #[test]
        fn rebinning_never_loses_a_vehicle(times in proptest::collection::vec(0.0f64..7200.0, 0..200), bin in 1i64..30) {
            let mut b = CountBins::default();
            for t in &times {
                b.add(key("positive"), "car", *t);
            }
            let total: u64 = b.series(bin * 60, None, None).iter().map(|p| p.total).sum();
            proptest::prop_assert_eq!(total, times.len() as u64);
        }
    }
}
