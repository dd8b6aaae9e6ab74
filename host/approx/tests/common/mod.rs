//! Shared helpers for the integration tests (independent of the crate's
//! own numerics where they serve as the truth).
#![allow(dead_code)]
// Dense elimination reads clearest with explicit indices.
#![allow(clippy::needless_range_loop)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` samples of a two-component Gaussian mixture (a ReLU layer's input
/// looks like this), by Box-Muller from a fixed seed.
pub fn mixture_samples(n: usize, seed: u64, sigma: f64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let u1: f64 = rng.random::<f64>().max(1e-300);
            let u2: f64 = rng.random();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            if i % 3 == 0 {
                1.5 + 0.5 * sigma * z
            } else {
                sigma * z - 0.3
            }
        })
        .collect()
}

/// Plain Gaussian elimination with partial pivoting, written here so the
/// brute-force truth does not share code with the crate.
pub fn gauss_solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().partial_cmp(&a[j][c].abs()).unwrap())
            .unwrap();
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..n {
            let m = a[r][c] / a[c][c];
            for k in c..n {
                a[r][k] -= m * a[c][k];
            }
            b[r] -= m * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x
}
