//! OLA weighted least squares against independent truths.

mod common;

use common::{gauss_solve, mixture_samples};
use ola_approx::*;
use proptest::prelude::*;

/// Brute force: normal equations in the monomial basis of u = x / B, in
/// f64, solved by the test's own elimination. Returns (coefficients, mse).
fn normal_equations(xs: &[f64], f: impl Fn(f64) -> f64, bound: f64, d: usize) -> (Vec<f64>, f64) {
    let m = d + 1;
    let n = xs.len() as f64;
    let mut a = vec![vec![0.0; m]; m];
    let mut b = vec![0.0; m];
    for &x in xs {
        let u = x / bound;
        for (j, (row, bj)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
            *bj += f(x) * u.powi(j as i32) / n;
            for (k, ajk) in row.iter_mut().enumerate() {
                *ajk += u.powi((j + k) as i32) / n;
            }
        }
    }
    let c = gauss_solve(a, b);
    let mse = xs
        .iter()
        .map(|&x| {
            let u = x / bound;
            let p: f64 = c.iter().rev().fold(0.0, |s, &cj| s * u + cj);
            (f(x) - p).powi(2) / n
        })
        .sum();
    (c, mse)
}

#[test]
fn wls_equals_brute_force_normal_equations_up_to_degree_6() {
    let xs = mixture_samples(300, 7, 1.0);
    let bound = 3.0;
    let dist = InputDistribution::from_samples(&xs).unwrap();
    for act in Activation::ALL {
        let fit = fit_wls_all_degrees(&dist, &act, bound, 6).unwrap();
        for d in 0..=6 {
            let (c, mse) = normal_equations(&xs, |x| act.eval(x), bound, d);
            let e = fit.mse(d).unwrap();
            assert!(
                (e - mse).abs() <= 1e-9 * mse.max(1e-12),
                "{act:?} d={d}: {e} vs brute force {mse}"
            );
            let p = fit.poly(d).unwrap();
            assert_eq!(p.degree(), d);
            for &x in xs.iter().step_by(17) {
                let u = x / bound;
                let brute: f64 = c.iter().rev().fold(0.0, |s, &cj| s * u + cj);
                assert!((p.eval(x) - brute).abs() < 1e-9, "{act:?} d={d} x={x}");
            }
        }
    }
}

#[test]
fn reported_errors_equal_direct_evaluation_at_high_degree() {
    // 20 000 samples stay below the bin count: the fit is on the exact points.
    let xs = mixture_samples(20_000, 11, 1.0);
    let dist = InputDistribution::from_samples(&xs).unwrap();
    let bound = dist.max_abs();
    let robust =
        fit_wls_all_degrees_with(&dist, &Activation::Relu, bound, 255, &WlsOptions::robust())
            .unwrap();
    assert_eq!(robust.bound(), 1.2 * bound);
    let degrees = [3, 15, 63, 127, 255];
    for (d, p) in degrees.iter().zip(robust.polys(&degrees).unwrap()) {
        let direct = dist.mean_squared_error(&Activation::Relu, &p);
        let e = robust.mse(*d).unwrap();
        assert!(
            (direct - e).abs() <= 1e-6 * e + 1e-12,
            "robust d={d}: {e} vs {direct}"
        );
    }
    let raw = fit_wls_all_degrees(&dist, &Activation::Gelu, bound, 63).unwrap();
    for d in [7, 31, 63] {
        let p = raw.poly(d).unwrap();
        let direct = dist.mean_squared_error(&Activation::Gelu, &p);
        let e = raw.mse(d).unwrap();
        assert!(
            (direct - e).abs() <= 1e-6 * e + 1e-12,
            "raw d={d}: {e} vs {direct}"
        );
    }
}

#[test]
fn binning_changes_errors_negligibly() {
    let xs = mixture_samples(200_000, 3, 1.0);
    let dist = InputDistribution::from_samples(&xs).unwrap();
    let bound = dist.max_abs();
    let exact = WlsOptions {
        bins: None,
        ..WlsOptions::robust()
    };
    let a = fit_wls_all_degrees_with(&dist, &Activation::Relu, bound, 127, &exact).unwrap();
    let b = fit_wls_all_degrees_with(&dist, &Activation::Relu, bound, 127, &WlsOptions::robust())
        .unwrap();
    assert!(b.points() < a.points() / 4);
    for d in [1, 7, 31, 63, 127] {
        let (ea, eb) = (a.mse(d).unwrap(), b.mse(d).unwrap());
        assert!(
            (ea - eb).abs() <= 1e-3 * ea,
            "d={d}: exact {ea} binned {eb}"
        );
    }
}

#[test]
fn scaled_variant_fits_the_widened_distribution() {
    let xs = mixture_samples(5_000, 5, 0.8);
    let dist = InputDistribution::from_samples(&xs).unwrap();
    let bound = 6.0;
    let r = 1.5;
    let s = fit_wls_all_degrees_with(&dist, &Activation::Silu, bound, 31, &WlsOptions::scaled(r))
        .unwrap();
    // The minimised objective is the raw fit to the samples times r.
    let widened =
        fit_wls_all_degrees(&dist.scaled(r).unwrap(), &Activation::Silu, bound, 31).unwrap();
    for d in 0..=31 {
        let (a, b) = (s.fit_mse_all()[d], widened.mse_all()[d]);
        assert!((a - b).abs() <= 1e-9 * b + 1e-15, "d={d}");
    }
    // The reported E(d) is on the unscaled samples.
    for d in [3, 15, 31] {
        let p = s.poly(d).unwrap();
        let direct = dist.mean_squared_error(&Activation::Silu, &p);
        assert!((direct - s.mse(d).unwrap()).abs() <= 1e-7 * direct + 1e-14);
    }
    let raw = fit_wls_all_degrees(&dist, &Activation::Silu, bound, 31).unwrap();
    for d in 0..=31 {
        assert!(s.mse(d).unwrap() >= raw.mse(d).unwrap() * (1.0 - 1e-9));
    }
    // r = 1 is the raw fit.
    let one = fit_wls_all_degrees_with(
        &dist,
        &Activation::Silu,
        bound,
        31,
        &WlsOptions::scaled(1.0),
    )
    .unwrap();
    assert_eq!(one.mse_all(), raw.mse_all());
}

#[test]
fn robust_mixture_tames_the_tails() {
    // A narrow layer: samples only in about [-0.4 B, 0.4 B].
    let xs: Vec<f64> = mixture_samples(50_000, 9, 0.25)
        .into_iter()
        .map(|x| x * 2.0)
        .collect();
    let dist = InputDistribution::from_samples(&xs).unwrap();
    let bound = 10.0;
    let raw = fit_wls_all_degrees(&dist, &Activation::Relu, bound, 63).unwrap();
    let robust =
        fit_wls_all_degrees_with(&dist, &Activation::Relu, bound, 63, &WlsOptions::robust())
            .unwrap();
    let p_raw = raw.poly(63);
    let p_rob = robust.poly(63).unwrap();
    // Robust: close to ReLU over the whole widened interval.
    assert!(p_rob.max_abs_on_interval(2001) < 2.0 * 1.2 * bound);
    // Raw: astronomically large away from the samples (or not even finite).
    if let Ok(p) = p_raw {
        assert!(p.max_abs_on_interval(2001) > 1e6 * bound);
    }
    // The price in-distribution is real but bounded: the robust degree-63
    // fit still beats the raw degree-8 fit on the samples and keeps
    // improving with the degree (measured: 9.5e-5 vs 5.4e-4).
    assert!(robust.mse(63).unwrap() < raw.mse(8).unwrap());
    assert!(robust.mse(63).unwrap() < 0.5 * robust.mse(15).unwrap());
}

#[test]
fn too_few_distinct_points_is_a_clear_error() {
    let xs = [0.1, 0.5, 0.5, -0.7, 0.9, -0.2];
    let dist = InputDistribution::from_samples(&xs).unwrap();
    assert_eq!(
        fit_wls_all_degrees(&dist, &Activation::Relu, 1.0, 5).unwrap_err(),
        ApproxError::TooFewSupportPoints {
            distinct: 5,
            degree: 5
        }
    );
    // Degree 4 through 5 distinct points interpolates: zero error.
    let fit = fit_wls_all_degrees(&dist, &Activation::Relu, 1.0, 4).unwrap();
    assert!(fit.mse(4).unwrap() < 1e-20);
    // The mixture supplies support everywhere.
    let fit = fit_wls_all_degrees_with(&dist, &Activation::Relu, 1.0, 40, &WlsOptions::robust());
    assert!(fit.is_ok());
}

#[test]
fn bad_input_is_refused_with_clear_errors() {
    let dist = InputDistribution::from_samples(&[0.1, 0.2, 0.3, 0.4]).unwrap();
    let f = Activation::Relu;
    assert_eq!(
        fit_wls_all_degrees(&dist, &f, 0.0, 2).unwrap_err(),
        ApproxError::InvalidBound(0.0)
    );
    assert_eq!(
        fit_wls_all_degrees(&dist, &f, -1.0, 2).unwrap_err(),
        ApproxError::InvalidBound(-1.0)
    );
    assert!(matches!(
        fit_wls_all_degrees(&dist, &f, f64::NAN, 2),
        Err(ApproxError::InvalidBound(_))
    ));
    assert_eq!(
        fit_wls_all_degrees(&dist, &f, 1.0, 1024).unwrap_err(),
        ApproxError::DegreeOutOfRange {
            degree: 1024,
            max: 1023
        }
    );
    let fit = fit_wls_all_degrees(&dist, &f, 1.0, 2).unwrap();
    assert!(matches!(
        fit.poly(3),
        Err(ApproxError::DegreeOutOfRange { degree: 3, max: 2 })
    ));
    assert_eq!(fit.mse(3), None);
    for o in [
        WlsOptions {
            scale: 0.0,
            ..WlsOptions::raw()
        },
        WlsOptions {
            chebyshev_mix: 1.0,
            ..WlsOptions::raw()
        },
        WlsOptions {
            chebyshev_mix: -0.1,
            ..WlsOptions::raw()
        },
        WlsOptions {
            bound_factor: 0.0,
            ..WlsOptions::raw()
        },
        WlsOptions {
            bins: Some(1),
            ..WlsOptions::raw()
        },
    ] {
        let e = fit_wls_all_degrees_with(&dist, &f, 1.0, 2, &o).unwrap_err();
        assert!(matches!(e, ApproxError::InvalidParameter { .. }), "{o:?}");
        assert!(e.to_string().contains("expected"), "{e}");
    }
    assert_eq!(
        InputDistribution::from_samples(&[]),
        Err(ApproxError::NoSamples)
    );
    assert!(InputDistribution::from_samples(&[f64::NEG_INFINITY]).is_err());
}

/// Modified Bessel function I_k(1) by its power series (independent of
/// any Chebyshev code).
fn bessel_i(k: usize, x: f64) -> f64 {
    let mut term = (x / 2.0).powi(k as i32) / (1..=k).map(|i| i as f64).product::<f64>();
    let mut sum = 0.0;
    for m in 0..60 {
        sum += term;
        term *= (x / 2.0).powi(2) / ((m + 1) as f64 * (m + 1 + k) as f64);
    }
    sum
}

#[test]
fn chebyshev_expansion_of_exp_matches_bessel_coefficients() {
    // e^t = I_0(1) + 2 sum_k I_k(1) T_k(t).
    let p = ChebyshevPoly::interpolate(f64::exp, 1.0, 20).unwrap();
    for k in 0..=14 {
        let truth = if k == 0 {
            bessel_i(0, 1.0)
        } else {
            2.0 * bessel_i(k, 1.0)
        };
        assert!(
            (p.coeffs()[k] - truth).abs() <= 1e-15 + 1e-12 * truth,
            "k={k}: {} vs {truth}",
            p.coeffs()[k]
        );
    }
}

#[test]
fn chebyshev_coefficients_of_runge_decay_at_the_bernstein_rate() {
    // f = 1 / (1 + 25 t^2) has poles at +-i/5: coefficients decay like
    // rho^-k with rho = (1 + sqrt 26) / 5.
    let rho = (1.0 + 26f64.sqrt()) / 5.0;
    let p = ChebyshevPoly::interpolate(|t| 1.0 / (1.0 + 25.0 * t * t), 1.0, 400).unwrap();
    let c = p.coeffs();
    for k in [40usize, 80, 120] {
        let ratio = c[k] / c[k + 2];
        assert!(
            (ratio.abs() - rho * rho).abs() < 0.02 * rho * rho,
            "k={k}: {ratio}"
        );
    }
    // And the error of the degree-d least-squares fit under the Chebyshev
    // measure shrinks at the same rate, rho^-d per degree.
    let nodes = chebyshev_nodes(4000);
    let dist = InputDistribution::from_samples(&nodes).unwrap();
    let f = |t: f64| 1.0 / (1.0 + 25.0 * t * t);
    let fit = fit_wls_all_degrees_with(
        &dist,
        &f,
        1.0,
        120,
        &WlsOptions {
            bins: None,
            ..WlsOptions::raw()
        },
    )
    .unwrap();
    let rate = (fit.mse(60).unwrap() / fit.mse(100).unwrap()).powf(1.0 / 80.0);
    assert!((rate - rho).abs() < 0.02 * rho, "rate {rate} vs {rho}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn errors_are_non_increasing_and_consistent(
        xs in prop::collection::vec(-5.0f64..5.0, 40..200),
        act in prop::sample::select(Activation::ALL.to_vec()),
        mix in prop::sample::select(vec![0.0, 0.01, 0.2]),
    ) {
        let dist = InputDistribution::from_samples(&xs).unwrap();
        let opts = WlsOptions { chebyshev_mix: mix, ..WlsOptions::raw() };
        let max_d = if mix > 0.0 { 30 } else { (dist.distinct_support() - 1).min(12) };
        let fit = fit_wls_all_degrees_with(&dist, &act, 5.0, max_d, &opts).unwrap();
        let e = fit.fit_mse_all();
        for w in e.windows(2) {
            prop_assert!(w[1] <= w[0] * (1.0 + 1e-9) + 1e-15);
        }
        prop_assert!(e.iter().all(|v| *v >= 0.0 && v.is_finite()));
        let d = max_d / 2;
        let p = fit.poly(d).unwrap();
        let direct = dist.mean_squared_error(&act, &p);
        prop_assert!((direct - fit.mse(d).unwrap()).abs() <= 1e-7 * direct + 1e-12);
    }
}

/// Paired data: least squares of `ys` on polynomials in `xs` equals the
/// brute-force normal equations on the pairs (unbinned), and with binning
/// the reported error still is the mean squared error on the pairs,
/// including the noise no polynomial can remove.
#[test]
fn paired_fit_matches_normal_equations_and_reports_pair_error() {
    let xs = mixture_samples(400, 11, 1.0);
    let bound = 3.0;
    // A target that is not a function of x: ReLU plus deterministic noise.
    let ys: Vec<f64> = xs
        .iter()
        .enumerate()
        .map(|(k, &x)| x.max(0.0) + 0.3 * ((k as f64) * 1.7).sin())
        .collect();
    let exact = WlsOptions {
        bins: None,
        ..WlsOptions::raw()
    };
    let fit =
        fit_wls_pairs_all_degrees_with(&xs, &ys, &Activation::Relu, bound, 5, &exact).unwrap();
    for d in 0..=5 {
        // Normal equations on the pairs: the target looked up by position.
        let m = d + 1;
        let n = xs.len() as f64;
        let mut a = vec![vec![0.0; m]; m];
        let mut b = vec![0.0; m];
        for (&x, &y) in xs.iter().zip(&ys) {
            let u = x / bound;
            for (j, (row, bj)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
                *bj += y * u.powi(j as i32) / n;
                for (k, ajk) in row.iter_mut().enumerate() {
                    *ajk += u.powi((j + k) as i32) / n;
                }
            }
        }
        let c = gauss_solve(a, b);
        let p = fit.poly(d).unwrap();
        let mut mse = 0.0;
        for (&x, &y) in xs.iter().zip(&ys) {
            let u = x / bound;
            let q: f64 = c.iter().rev().fold(0.0, |s, &cj| s * u + cj);
            assert!((p.eval(x) - q).abs() < 1e-8, "degree {d} at {x}");
            mse += (y - q).powi(2) / n;
        }
        let got = fit.mse(d).unwrap();
        assert!(
            (got - mse).abs() < 1e-10 * (1.0 + mse),
            "degree {d}: {got} vs {mse}"
        );
    }
    // Binned into few bins: the error is still the pair error of the
    // returned polynomial (within-bin noise added back), up to the binning
    // of x.
    let binned = WlsOptions {
        bins: Some(64),
        ..WlsOptions::raw()
    };
    let many: Vec<f64> = mixture_samples(20_000, 12, 1.0);
    let ys: Vec<f64> = many
        .iter()
        .enumerate()
        .map(|(k, &x)| x.max(0.0) + 0.3 * ((k as f64) * 1.7).sin())
        .collect();
    let fit =
        fit_wls_pairs_all_degrees_with(&many, &ys, &Activation::Relu, bound, 7, &binned).unwrap();
    let p = fit.poly(7).unwrap();
    let direct: f64 = many
        .iter()
        .zip(&ys)
        .map(|(&x, &y)| (y - p.eval(x)).powi(2))
        .sum::<f64>()
        / many.len() as f64;
    let got = fit.mse(7).unwrap();
    assert!(direct > 0.04, "the noise (variance 0.045) is in the error");
    assert!((got - direct).abs() < 0.02 * direct, "{got} vs {direct}");
    // With ys = f(xs) it is the ordinary fit.
    let fx: Vec<f64> = many.iter().map(|x| x.max(0.0)).collect();
    let paired = fit_wls_pairs_all_degrees_with(
        &many,
        &fx,
        &Activation::Relu,
        bound,
        9,
        &WlsOptions::robust(),
    )
    .unwrap();
    let dist = InputDistribution::from_samples(&many).unwrap();
    let plain = fit_wls_all_degrees_with(&dist, &Activation::Relu, bound, 9, &WlsOptions::robust())
        .unwrap();
    for d in 0..=9 {
        let (a, b) = (paired.mse(d).unwrap(), plain.mse(d).unwrap());
        assert!((a - b).abs() < 1e-9 * (1.0 + b), "degree {d}: {a} vs {b}");
    }
}

#[test]
fn paired_fit_refuses_bad_input() {
    let o = WlsOptions::raw();
    let r = Activation::Relu;
    assert!(matches!(
        fit_wls_pairs_all_degrees_with(&[1.0, 2.0], &[1.0], &r, 2.0, 1, &o),
        Err(ApproxError::LengthMismatch { .. })
    ));
    assert!(matches!(
        fit_wls_pairs_all_degrees_with(&[1.0, 2.0], &[1.0, f64::NAN], &r, 2.0, 1, &o),
        Err(ApproxError::NonFiniteSample { index: 1, .. })
    ));
    assert!(matches!(
        fit_wls_pairs_all_degrees_with(
            &[1.0, 2.0],
            &[1.0, 2.0],
            &r,
            2.0,
            1,
            &WlsOptions::scaled(1.2)
        ),
        Err(ApproxError::InvalidParameter { name: "scale", .. })
    ));
    assert_eq!(
        fit_wls_pairs_all_degrees_with(&[], &[], &r, 2.0, 1, &o).unwrap_err(),
        ApproxError::NoSamples
    );
}
