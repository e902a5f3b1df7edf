//! Minimum-cost assignment (Kuhn-Munkres with potentials, O(n^2 m)).

/// Assigns rows to columns minimising total cost; returns, per row, its column or `None`.
/// Pairs whose cost is not below `reject` are left unassigned (the gate).
pub fn assign(cost: &[Vec<f64>], reject: f64) -> Vec<Option<usize>> {
    let rows = cost.len();
    let cols = cost.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }
    // The algorithm needs rows <= cols; pad with columns that cost `reject` (= unassigned).
    let n = rows;
    let m = cols.max(rows);
    let c = |i: usize, j: usize| if j < cols { cost[i][j].min(reject) } else { reject };
    let inf = f64::INFINITY;
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = inf;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let cur = c(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![None; rows];
    for j in 1..=m {
        if p[j] != 0 && j - 1 < cols && cost[p[j] - 1][j - 1] < reject {
            out[p[j] - 1] = Some(j - 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute_force(cost: &[Vec<f64>], reject: f64) -> f64 {
        fn go(cost: &[Vec<f64>], reject: f64, i: usize, used: &mut Vec<bool>) -> f64 {
            if i == cost.len() {
                return 0.0;
            }
            let mut best = reject + go(cost, reject, i + 1, used);
            for j in 0..used.len() {
                if !used[j] && cost[i][j] < reject {
                    used[j] = true;
                    best = best.min(cost[i][j] + go(cost, reject, i + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        go(cost, reject, 0, &mut vec![false; cost[0].len()])
    }

    #[test]
    fn picks_the_cheaper_global_assignment_not_the_greedy_one() {
        // Greedy would give row 0 column 0 (cost 1) and row 1 column 1 (cost 10).
        let cost = vec![vec![1.0, 2.0], vec![2.0, 10.0]];
        assert_eq!(assign(&cost, 100.0), vec![Some(1), Some(0)]);
    }

    proptest! {
        #[test]
        fn optimal_against_brute_force(rows in 1usize..5, cols in 1usize..5, seed in proptest::collection::vec(0.0f64..1.0, 25)) {
            let cost: Vec<Vec<f64>> = (0..rows).map(|i| (0..cols).map(|j| seed[i * 5 + j]).collect()).collect();
            let reject = 0.7;
            let a = assign(&cost, reject);
            let mut used = std::collections::HashSet::new();
            let mut total = 0.0;
            for (i, j) in a.iter().enumerate() {
                match j {
                    Some(j) => { prop_assert!(used.insert(*j)); prop_assert!(cost[i][*j] < reject); total += cost[i][*j]; }
                    None => total += reject,
                }
            }
            prop_assert!((total - brute_force(&cost, reject)).abs() < 1e-9);
        }
    }
}
