//! OLA step 6: the multiple-choice knapsack
//! `min Σ_i A_i E_i(c_i)` subject to `Σ_i T_i(c_i) ≤ K`, one choice `c_i`
//! per layer, by dynamic programming over layers and discretised cycles.
//!
//! Time is cut into `units` steps of `ν = K / units`; every choice's cost
//! is rounded **up** to whole steps, so a solution is always feasible in
//! real cycles, and it is optimal for the rounded costs (within
//! `layers · ν` of the budget for the real ones). Time
//! `O(layers · units · choices)`, memory `O(layers · units)` for the
//! backtracking table. One table answers every budget up to `K`: the
//! Pareto sweep backtracks from each step.

use crate::error::{Error, Result};

/// One option of one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// Cycles it costs (`T_i(d)`).
    pub cost: f64,
    /// Its contribution to the objective (`A_i · E_i(d)`).
    pub err: f64,
}

/// A solved table (see the module doc).
#[derive(Clone, Debug)]
pub struct Solution {
    /// Rounded cost of every choice, per layer.
    units: Vec<Vec<usize>>,
    /// `best[k]`: least objective with at most `k` steps.
    best: Vec<f64>,
    /// `pick[l * (steps + 1) + k]`: choice of layer `l` at `k` steps.
    pick: Vec<u16>,
    /// Cycles per step.
    pub step: f64,
    steps: usize,
}

/// Solves the knapsack for every budget up to `budget` cycles with
/// `units` steps. Fails when even the cheapest choices exceed the budget
/// or a layer has no choice.
pub fn solve(layers: &[Vec<Choice>], budget: f64, units: usize) -> Result<Solution> {
    if layers.is_empty() {
        return Err(Error::new("no layers to optimise"));
    }
    if !(budget.is_finite() && budget > 0.0) {
        return Err(Error::new(format!(
            "budget {budget} cycles must be finite and > 0"
        )));
    }
    for (i, l) in layers.iter().enumerate() {
        if l.is_empty() || l.len() > u16::MAX as usize {
            return Err(Error::new(format!(
                "layer {i} has {} choices (need 1 to 65535)",
                l.len()
            )));
        }
        if l.iter()
            .any(|c| !(c.cost.is_finite() && c.cost >= 0.0 && c.err.is_finite()))
        {
            return Err(Error::new(format!(
                "layer {i} has a non-finite cost or error"
            )));
        }
    }
    let min_total: f64 = layers
        .iter()
        .map(|l| l.iter().map(|c| c.cost).fold(f64::INFINITY, f64::min))
        .sum();
    if min_total > budget {
        return Err(Error::new(format!(
            "infeasible budget: {budget:.0} cycles, but the cheapest choice in every layer \
             already costs {min_total:.0} cycles"
        )));
    }
    let steps = units.max(1);
    let step = budget / steps as f64;
    let units: Vec<Vec<usize>> = layers
        .iter()
        .map(|l| {
            l.iter()
                .map(|c| {
                    let u = (c.cost / step * (1.0 - 1e-12)).ceil();
                    if u > steps as f64 {
                        steps + 1
                    } else {
                        u as usize
                    }
                })
                .collect()
        })
        .collect();
    let width = steps + 1;
    let mut prev = vec![0.0f64; width];
    let mut cur = vec![f64::INFINITY; width];
    let mut pick = vec![u16::MAX; layers.len() * width];
    for (l, layer) in layers.iter().enumerate() {
        cur.iter_mut().for_each(|v| *v = f64::INFINITY);
        let row = &mut pick[l * width..(l + 1) * width];
        for (j, (c, &u)) in layer.iter().zip(&units[l]).enumerate() {
            if u > steps {
                continue;
            }
            for k in u..width {
                let v = prev[k - u] + c.err;
                if v < cur[k] {
                    cur[k] = v;
                    row[k] = j as u16;
                }
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    if !prev[steps].is_finite() {
        return Err(Error::new(format!(
            "infeasible budget after rounding costs up to steps of {step:.0} cycles: \
             use more DP steps or a larger budget"
        )));
    }
    Ok(Solution {
        units,
        best: prev,
        pick,
        step,
        steps,
    })
}

impl Solution {
    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Least objective within `k` steps (`∞` if infeasible).
    pub fn objective(&self, k: usize) -> f64 {
        self.best[k.min(self.steps)]
    }

    /// The choices (one index per layer) of the optimum within `k` steps,
    /// or `None` if infeasible.
    pub fn choices(&self, k: usize) -> Option<Vec<usize>> {
        let width = self.steps + 1;
        let mut k = k.min(self.steps);
        if !self.best[k].is_finite() {
            return None;
        }
        let n = self.units.len();
        let mut out = vec![0; n];
        for l in (0..n).rev() {
            let j = self.pick[l * width + k];
            if j == u16::MAX {
                return None;
            }
            out[l] = j as usize;
            k -= self.units[l][j as usize];
        }
        Some(out)
    }
}

/// Exhaustive search (for tests): the least objective with real costs
/// `≤ budget`, and its choices.
pub fn brute_force(layers: &[Vec<Choice>], budget: f64) -> Option<(f64, Vec<usize>)> {
    fn rec(
        layers: &[Vec<Choice>],
        l: usize,
        cost: f64,
        err: f64,
        budget: f64,
        cur: &mut Vec<usize>,
        best: &mut Option<(f64, Vec<usize>)>,
    ) {
        if l == layers.len() {
            if cost <= budget && best.as_ref().is_none_or(|b| err < b.0) {
                *best = Some((err, cur.clone()));
            }
            return;
        }
        for (j, c) in layers[l].iter().enumerate() {
            cur.push(j);
            rec(layers, l + 1, cost + c.cost, err + c.err, budget, cur, best);
            cur.pop();
        }
    }
    let mut best = None;
    rec(layers, 0, 0.0, 0.0, budget, &mut Vec::new(), &mut best);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_problem(
        rng: &mut ChaCha8Rng,
        layers: usize,
        choices: usize,
        integer: bool,
    ) -> Vec<Vec<Choice>> {
        (0..layers)
            .map(|_| {
                (0..choices)
                    .map(|_| {
                        let cost = if integer {
                            rng.random_range(1..20) as f64
                        } else {
                            rng.random_range(1.0..20.0)
                        };
                        Choice {
                            cost,
                            err: rng.random_range(0.0..10.0),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn integer_costs_match_brute_force_exactly() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let (nl, nc) = (rng.random_range(1..6), rng.random_range(1..5));
            let layers = random_problem(&mut rng, nl, nc, true);
            let budget = rng.random_range(5..60) as f64;
            let bf = brute_force(&layers, budget);
            // One step per cycle: rounding is exact.
            match solve(&layers, budget, budget as usize) {
                Ok(sol) => {
                    let (err, _) = bf.expect("DP found a solution, brute force must too");
                    let got = sol.objective(sol.steps());
                    assert!((got - err).abs() < 1e-9, "dp {got} vs brute force {err}");
                    let ch = sol.choices(sol.steps()).unwrap();
                    let cost: f64 = ch.iter().zip(&layers).map(|(&j, l)| l[j].cost).sum();
                    let e: f64 = ch.iter().zip(&layers).map(|(&j, l)| l[j].err).sum();
                    assert!(cost <= budget);
                    assert!((e - got).abs() < 1e-9);
                }
                Err(e) => {
                    assert!(
                        bf.is_none(),
                        "DP said infeasible ({e}) but brute force found {bf:?}"
                    );
                    assert!(e.0.contains("infeasible"));
                }
            }
        }
    }

    #[test]
    fn real_costs_are_feasible_and_near_optimal() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..100 {
            let n = rng.random_range(1..6);
            let nc = rng.random_range(2..5);
            let layers = random_problem(&mut rng, n, nc, false);
            let budget = rng.random_range(10.0..80.0);
            let units = 400;
            let Ok(sol) = solve(&layers, budget, units) else {
                continue;
            };
            let ch = sol.choices(units).unwrap();
            let cost: f64 = ch.iter().zip(&layers).map(|(&j, l)| l[j].cost).sum();
            assert!(
                cost <= budget * (1.0 + 1e-9),
                "rounding up keeps solutions feasible"
            );
            let got = sol.objective(units);
            let (opt, _) = brute_force(&layers, budget).unwrap();
            assert!(got >= opt - 1e-9, "cannot beat the real optimum");
            // Rounding loses at most one step per layer of budget.
            if let Some((opt_tight, _)) = brute_force(&layers, budget - n as f64 * sol.step) {
                assert!(
                    got <= opt_tight + 1e-9,
                    "dp {got} worse than optimum {opt_tight} of the tightened budget"
                );
            }
        }
    }

    #[test]
    fn every_budget_of_the_sweep_is_optimal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let layers = random_problem(&mut rng, 4, 4, true);
        let sol = solve(&layers, 60.0, 60).unwrap();
        for k in 0..=60 {
            let bf = brute_force(&layers, k as f64)
                .map(|b| b.0)
                .unwrap_or(f64::INFINITY);
            assert_eq!(sol.objective(k), bf, "budget {k}");
        }
    }

    #[test]
    fn infeasible_budget_is_an_error() {
        let layers = vec![
            vec![Choice {
                cost: 10.0,
                err: 1.0
            }];
            3
        ];
        let e = solve(&layers, 29.0, 100).unwrap_err();
        assert!(e.0.contains("infeasible budget"), "{e}");
        assert!(solve(&layers, 30.0, 30).is_ok());
    }
}
