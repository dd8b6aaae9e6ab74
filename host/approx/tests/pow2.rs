//! Power-of-two coefficients (Faster CryptoNets).

mod common;

use common::mixture_samples;
use ola_approx::*;

fn is_pow2_or_zero(c: f64) -> bool {
    c == 0.0 || (c.abs().log2().fract() == 0.0)
}

#[test]
fn exact_power_of_two_polynomial_is_recovered() {
    let xs = mixture_samples(3000, 4, 1.0);
    let dist = InputDistribution::from_samples(&xs).unwrap();
    let f = |x: f64| 0.125 * x * x - 0.5 * x + 2.0;
    let fit =
        fit_power_of_two(&dist, &f, dist.max_abs(), 2, &PowerOfTwoOptions::default()).unwrap();
    assert_eq!(fit.coeffs, vec![2.0, -0.5, 0.125]);
    assert_eq!(
        fit.exponents,
        vec![Some((1, 1)), Some((-1, -1)), Some((1, -3))]
    );
    assert!(fit.mse < 1e-20);
}

#[test]
fn matches_exhaustive_brute_force_on_a_small_space() {
    let xs: Vec<f64> = mixture_samples(2000, 8, 1.2);
    let dist = InputDistribution::from_samples(&xs).unwrap();
    let opts = PowerOfTwoOptions {
        min_exp: -6,
        max_exp: 2,
        exhaustive_limit: 200_000,
    };
    let f = Activation::Relu;
    let fit = fit_power_of_two(&dist, &f, dist.max_abs(), 2, &opts).unwrap();
    // Every (c0, c1, c2) in {0, +-2^k : -6 <= k <= 2}^3, evaluated directly.
    let cand: Vec<f64> = std::iter::once(0.0)
        .chain((-6..=2).flat_map(|k| [2f64.powi(k), -(2f64.powi(k))]))
        .collect();
    let mut best = f64::INFINITY;
    for &a in &cand {
        for &b in &cand {
            for &c in &cand {
                let e: f64 = xs
                    .iter()
                    .map(|&x| (f.eval(x) - (a + b * x + c * x * x)).powi(2))
                    .sum::<f64>()
                    / xs.len() as f64;
                best = best.min(e);
            }
        }
    }
    assert!(
        fit.mse <= best * (1.0 + 1e-9),
        "{} vs brute force {best}",
        fit.mse
    );
    assert!(fit.coeffs.iter().all(|&c| is_pow2_or_zero(c)));
    assert!(fit.mse >= fit.wls_mse * (1.0 - 1e-9));
}

#[test]
fn larger_degrees_use_coordinate_descent_and_stay_valid() {
    let xs = mixture_samples(5000, 6, 1.0);
    let dist = InputDistribution::from_samples(&xs).unwrap();
    let b = dist.max_abs();
    let fit = fit_power_of_two(
        &dist,
        &Activation::Gelu,
        b,
        6,
        &PowerOfTwoOptions::default(),
    )
    .unwrap();
    assert!(!fit.exhaustive);
    assert!(fit.coeffs.iter().all(|&c| is_pow2_or_zero(c)));
    assert!(fit.mse >= fit.wls_mse * (1.0 - 1e-9));
    // Restricting coefficients costs accuracy but not absurdly much.
    let zero = dist
        .xs()
        .iter()
        .zip(dist.weights())
        .map(|(&x, &w)| w * Activation::Gelu.eval(x).powi(2))
        .sum::<f64>();
    assert!(fit.mse < 0.05 * zero);
    let p = fit.to_chebyshev(b).unwrap();
    for &x in xs.iter().take(50) {
        assert!((p.eval(x) - fit.eval(x)).abs() < 1e-9 * (1.0 + fit.eval(x).abs()));
    }
    assert!(matches!(
        fit_power_of_two(
            &dist,
            &Activation::Gelu,
            b,
            9,
            &PowerOfTwoOptions::default()
        ),
        Err(ApproxError::DegreeOutOfRange { degree: 9, max: 8 })
    ));
    assert!(
        fit_power_of_two(
            &dist,
            &Activation::Gelu,
            -1.0,
            2,
            &PowerOfTwoOptions::default()
        )
        .is_err()
    );
}
