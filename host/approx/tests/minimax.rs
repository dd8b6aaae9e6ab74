//! Composite minimax baseline: Remez checks and the published degrees.

use ola_approx::*;

#[test]
fn degree_one_matches_closed_form() {
    // p(x) = c x on [eps, 1]: c = 2 / (1 + eps), error (1 - eps) / (1 + eps).
    for eps in [0.01, 0.3] {
        let r = odd_sign_minimax(1, eps).unwrap();
        let want = (1.0 - eps) / (1.0 + eps);
        assert!((r.error - want).abs() < 1e-12, "{} vs {want}", r.error);
        assert!((r.poly.coeffs()[1] - 2.0 / (1.0 + eps)).abs() < 1e-12);
    }
}

#[test]
fn remez_error_equioscillates() {
    for (d, eps) in [(7, 0.1), (15, 0.01), (27, 0.2), (13, 2f64.powi(-10))] {
        let r = odd_sign_minimax(d, eps).unwrap();
        let m = d.div_ceil(2);
        // Alternation on m + 1 = (d + 3) / 2 points (dimension m + 1).
        assert_eq!(r.reference.len(), m + 1, "d={d}");
        let mut prev_sign = 0.0;
        for &x in &r.reference {
            let e = r.poly.eval(x) - 1.0;
            assert!(
                (e.abs() - r.error).abs() <= 1e-8 * r.error,
                "d={d} x={x} e={e}"
            );
            assert!(e.signum() != prev_sign, "no alternation at {x}");
            prev_sign = e.signum();
            assert!((eps..=1.0).contains(&x));
        }
        // Independent dense check: nothing exceeds the claimed error,
        // and the polynomial is odd.
        for i in 0..=20_000 {
            let x = eps + (1.0 - eps) * i as f64 / 20_000.0;
            assert!((r.poly.eval(x) - 1.0).abs() <= r.error * (1.0 + 1e-6));
            assert_eq!(r.poly.eval(-x), -r.poly.eval(x));
        }
    }
}

/// Largest |p(x) - 1| on a dense grid of [lo, 1] (geometric near lo).
fn dense_error(s: &CompositeSign, lo: f64) -> f64 {
    let n = 20_000;
    (0..=n)
        .flat_map(|i| {
            let a = lo + (1.0 - lo) * i as f64 / n as f64;
            let b = lo * (1.0 / lo).powf(i as f64 / n as f64);
            [a, b]
        })
        .map(|x| (s.eval(x) - 1.0).abs().max((s.eval(-x) + 1.0).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn published_degrees_reach_two_to_minus_alpha_above_a_measured_gap() {
    // What is checked, honestly: each published triple, composed stage by
    // stage, reaches error <= 2^-alpha on [eps*, 1] for the gap eps*
    // reported here (about 2^-(alpha-4)); on [2^-alpha, 1] itself it does
    // not (no polynomial of degree ~2^alpha can, see the README).
    let expected_log2_gap = [(10, -6.17), (12, -8.08), (13, -9.04), (14, -10.0)];
    for (alpha, want) in expected_log2_gap {
        let degrees = published_sign_degrees(alpha).unwrap();
        let gap = sign_gap_for_precision(degrees, alpha).unwrap();
        eprintln!("alpha {alpha} {degrees:?}: eps* = 2^{:.3}", gap.log2());
        assert!(
            (gap.log2() - want).abs() < 0.35,
            "alpha {alpha}: 2^{}",
            gap.log2()
        );
        let s = CompositeSign::new(degrees, gap).unwrap();
        let target = 2f64.powi(-(alpha as i32));
        assert!(s.error() <= target);
        assert!(dense_error(&s, gap) <= target * (1.0 + 1e-6));
        // At eps = 2^-alpha the published composite is far from 2^-alpha.
        let at_alpha = CompositeSign::published(alpha).unwrap();
        assert!(at_alpha.error() > 0.3 && at_alpha.error() < 0.6);
        assert!((dense_error(&at_alpha, at_alpha.eps()) - at_alpha.error()).abs() < 1e-6);
    }
}

#[test]
fn composite_relu_cost_and_accuracy() {
    let relu = CompositeRelu::new(13, 30.0).unwrap();
    assert_eq!(relu.sign().degrees(), vec![15, 15, 27]);
    // method.md: 7 + 7 + 11 products plus 1 for x * sgn, depth 14.
    assert_eq!(bsgs_products(15), 7);
    assert_eq!(bsgs_products(27), 11);
    assert_eq!(
        relu.cost(),
        CompositeCost {
            products: 26,
            depth: 14
        }
    );
    assert_eq!(CompositeSign::published(10).unwrap().cost().depth, 10);
    // |ReLU error| <= |x| * err(sgn) / 2 wherever |x| >= eps B, and
    // <= |x| (1 + max|p|) / 2 below.
    for i in -3000..=3000 {
        let x = 30.0 * i as f64 / 3000.0;
        let e = (relu.eval(x) - x.max(0.0)).abs();
        if x.abs() >= relu.sign().eps() * 30.0 {
            assert!(
                e <= 0.5 * x.abs() * relu.sign().error() + 1e-12,
                "x={x} e={e}"
            );
        }
        assert!(e <= x.abs() * 1.01);
    }
    assert!(CompositeRelu::new(13, 0.0).is_err());
    assert!(CompositeRelu::new(11, 1.0).is_err());
}

#[test]
fn search_finds_a_composition_no_costlier_than_the_published_one() {
    // At the gap where {7, 7, 13} reaches 2^-10, the cost-minimising search
    // (degrees <= 15, <= 3 stages) must find something at most as costly.
    let published = [7usize, 7, 13];
    let gap = sign_gap_for_precision(&published, 10).unwrap() * 1.01;
    let (found, err) = search_sign_degrees(10, gap, 3, 15).unwrap();
    let cost = |d: &[usize]| d.iter().map(|&x| bsgs_products(x)).sum::<usize>();
    eprintln!("search: {found:?} err {err:e}");
    assert!(err <= 2f64.powi(-10));
    assert!(cost(&found) <= cost(&published));
    assert!(CompositeSign::new(&found, gap).unwrap().error() <= 2f64.powi(-10));
    assert!(matches!(
        search_sign_degrees(13, 2f64.powi(-13), 2, 7),
        Err(ApproxError::NoCompositeFound { alpha: 13 })
    ));
}

#[test]
fn bad_minimax_input_is_refused() {
    assert!(odd_sign_minimax(4, 0.1).is_err());
    assert!(odd_sign_minimax(5, 0.0).is_err());
    assert!(odd_sign_minimax(5, 1.0).is_err());
    assert!(CompositeSign::new(&[], 0.1).is_err());
}
