//! Chebyshev algebra in `f64`, then encrypted evaluation against `f64`
//! for degrees 3 … 1023 (the issue's bar: error ≤ 2^-12 · max|p| on
//! [-1, 1]), odd and even cases, exact landing scale and level, and the
//! refusal of degrees the levels cannot afford.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::encoder::{C64, Encoder};
use crate::encryptor::{Decryptor, Encryptor};
use crate::keys::{EvaluationKeys, KeyGenerator};
use crate::params::{Params, ParamsLiteral};
use crate::ring::Ring;

/// Random coefficients decaying like `1/(1+k)^2`, as the expansion of a
/// function with a bounded second derivative does. (With `1/(1+k)` decay
/// `|p'|` reaches `d^2/2` and the input's own encryption noise, about
/// 2^-18 here, is amplified past 2^-12 at degree 1023: a limit of the
/// polynomial, not of the evaluation.)
fn random_poly(rng: &mut ChaCha20Rng, d: usize) -> ChebyshevPoly {
    let mut c: Vec<f64> = (0..=d)
        .map(|k| rng.random_range(-1.0..1.0) / (1.0 + k as f64).powi(2))
        .collect();
    c[d] = 0.5 / (1.0 + d as f64).powi(2);
    ChebyshevPoly::new(c)
}

fn max_abs_on_interval(p: &ChebyshevPoly) -> f64 {
    (0..=4000)
        .map(|i| p.eval(-1.0 + i as f64 / 2000.0).abs())
        .fold(0.0, f64::max)
}

#[test]
fn division_and_clenshaw_agree_with_the_definition() {
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    for d in [2usize, 5, 8, 17, 64, 100] {
        let p = random_poly(&mut rng, d);
        let n = giant_for(d);
        let (q, r) = p.divide(n);
        assert!(r.degree() < n);
        let tn = ChebyshevPoly::new((0..=n).map(|k| if k == n { 1.0 } else { 0.0 }).collect());
        for _ in 0..20 {
            let x: f64 = rng.random_range(-1.0..1.0);
            let want = p.eval(x);
            let got = q.eval(x) * tn.eval(x) + r.eval(x);
            assert!((want - got).abs() < 1e-12, "d {d}");
            // T_n(cos θ) = cos(nθ).
            assert!((tn.eval(x) - (n as f64 * x.acos()).cos()).abs() < 1e-9);
        }
    }
    let f = |x: f64| 1.0 / (1.0 + (-4.0 * x).exp());
    let p = ChebyshevPoly::interpolate(f, 31);
    for i in 0..=100 {
        let x = -1.0 + i as f64 / 50.0;
        assert!(
            (p.eval(x) - f(x)).abs() < 1e-9,
            "sigmoid(4x) interpolant at {x}"
        );
    }
    assert_eq!(
        ChebyshevPoly::new(vec![0.0, 1.0, 0.0, 2.0]).parity(),
        Some(true)
    );
    assert_eq!(
        ChebyshevPoly::new(vec![1.0, 0.0, 2.0]).parity(),
        Some(false)
    );
}

#[test]
fn depth_is_at_most_one_above_optimal() {
    let mut optimal = 0;
    // Generic coefficients: no cancellation in the Chebyshev divisions.
    let generic = |d: usize| ChebyshevPoly::new((0..=d).map(|k| 1.0 / (1.0 + k as f64)).collect());
    for d in 1..=1023usize {
        let p = generic(d);
        // ceil(log2(d + 1)) = bitlen(d).
        let m = (usize::BITS - d.leading_zeros()) as usize;
        let got = depth(&p);
        assert!(
            got == m || got == m + 1,
            "degree {d}: depth {got}, optimal {m}"
        );
        optimal += usize::from(got == m);
    }
    println!("depth-optimal for {optimal} of the degrees 1..=1023");
    for d in [
        1usize, 2, 3, 4, 7, 8, 15, 27, 31, 59, 63, 119, 127, 247, 255, 511, 1023,
    ] {
        let pl = plan(&generic(d));
        println!("degree {d}: {pl:?}");
    }
}

struct PolyCtx {
    ring: Arc<Ring>,
    enc: Encoder,
    encryptor: Encryptor,
    decryptor: Decryptor,
    eval: Evaluator,
}

fn ctx(levels: usize) -> PolyCtx {
    ctx_for(
        Params::new_insecure_for_tests(ParamsLiteral {
            log_n: 11,
            base_bits: 30,
            base_limbs: 2,
            limb_bits: 30,
            levels,
            level_primes: 1,
            special_bits: 30,
            special_primes: 4,
            digit_size: 4,
            log_scale: 30,
        })
        .unwrap(),
    )
}

fn ctx_for(params: Params) -> PolyCtx {
    let ring = Arc::new(Ring::cpu(params));
    let mut kg = KeyGenerator::from_seed(ring.clone(), [11; 32]);
    let sk = kg.gen_secret_key();
    let pk = kg.gen_public_key(&sk).unwrap();
    let keys = EvaluationKeys {
        relin: Some(kg.gen_relin_key(&sk).unwrap()),
        ..Default::default()
    };
    PolyCtx {
        enc: Encoder::new(&ring),
        encryptor: Encryptor::from_seed(ring.clone(), pk, [12; 32]).unwrap(),
        decryptor: Decryptor::new(ring.clone(), sk).unwrap(),
        eval: Evaluator::new(ring.clone(), keys).unwrap(),
        ring,
    }
}

/// Encrypts random `x ∈ [-1, 1]`, evaluates, and returns
/// `max|error| / max|p|` as bits (`-log2`).
fn relative_precision(c: &mut PolyCtx, p: &ChebyshevPoly, rng: &mut ChaCha20Rng) -> f64 {
    relative_precision_with(c, p, rng, plan(p))
}

fn relative_precision_with(
    c: &mut PolyCtx,
    p: &ChebyshevPoly,
    rng: &mut ChaCha20Rng,
    pl: Plan,
) -> f64 {
    let slots = c.enc.slots();
    let xs: Vec<f64> = (0..slots).map(|_| rng.random_range(-1.0..1.0)).collect();
    let top = c.ring.params().max_level();
    let scale = c.ring.params().default_scale();
    let pt = c.enc.encode_real(&c.ring, &xs, top, scale).unwrap();
    let ct = c.encryptor.encrypt(&pt).unwrap();
    let pe = PolynomialEvaluator::new(&c.eval);
    let out = pe.evaluate_with(&ct, p, scale, pl).unwrap();
    assert!(
        ((out.scale() - scale) / scale).abs() < 1e-12,
        "lands on the target scale"
    );
    assert_eq!(
        out.level(),
        top - pl.depth,
        "consumes exactly the planned levels"
    );
    let got = c
        .enc
        .decode(&c.ring, &c.decryptor.decrypt(&out).unwrap())
        .unwrap();
    let err = xs
        .iter()
        .zip(&got)
        .map(|(&x, g)| (*g - C64::new(p.eval(x), 0.0)).abs())
        .fold(0.0, f64::max);
    -(err / max_abs_on_interval(p)).log2()
}

#[test]
fn encrypted_chebyshev_evaluation_meets_the_issue_bar() {
    // Degree 1023 needs depth 11 here: 2 base + 11 rescaling primes.
    let mut c = ctx(11);
    let mut rng = ChaCha20Rng::seed_from_u64(32);
    for d in [3usize, 7, 15, 27, 59, 63, 119, 247, 511, 1023] {
        let p = random_poly(&mut rng, d);
        let bits = relative_precision(&mut c, &p, &mut rng);
        println!(
            "N=2^11 degree {d}: depth {}, {bits:.1} bits relative to max|p|",
            depth(&p)
        );
        assert!(bits >= 12.0, "degree {d}: {bits:.1} bits");
    }
    // sigmoid(4x), the accelerator's reference workload, and odd / even
    // polynomials (fewer baby steps).
    let sig = ChebyshevPoly::interpolate(|x| 1.0 / (1.0 + (-4.0 * x).exp()), 59);
    let mut odd = random_poly(&mut rng, 63);
    let mut even = random_poly(&mut rng, 64);
    for (k, c) in odd.coeffs.iter_mut().enumerate() {
        if k % 2 == 0 {
            *c = 0.0;
        }
    }
    for (k, c) in even.coeffs.iter_mut().enumerate() {
        if k % 2 == 1 {
            *c = 0.0;
        }
    }
    assert_eq!((odd.parity(), even.parity()), (Some(true), Some(false)));
    for (name, p) in [
        ("sigmoid(4x) d59", sig),
        ("odd d63", odd),
        ("even d64", even),
    ] {
        let bits = relative_precision(&mut c, &p, &mut rng);
        println!(
            "N=2^11 {name}: depth {}, {bits:.1} bits relative to max|p|",
            depth(&p)
        );
        assert!(bits >= 12.0, "{name}: {bits:.1} bits");
    }
    // With one level to spare, degree 1023 takes far fewer products.
    let p = random_poly(&mut rng, 1023);
    let cheap = plan_within(&p, 11).unwrap();
    assert!(cheap.depth == 11 && cheap.products < 100, "{cheap:?}");
    let bits = relative_precision_with(&mut c, &p, &mut rng, cheap);
    println!("N=2^11 degree 1023 with {cheap:?}: {bits:.1} bits");
    assert!(bits >= 12.0);
    // Constant and linear polynomials.
    for p in [
        ChebyshevPoly::new(vec![0.75]),
        ChebyshevPoly::new(vec![0.1, -0.5]),
    ] {
        assert!(relative_precision(&mut c, &p, &mut rng) >= 12.0);
    }
}

/// Every degree of `degrees` (and odd / even cases of degree `odd_even`)
/// against the issue's bar `2^-12 · max|p|`, at `params` from its top
/// level.
fn degrees_meet_the_bar(params: Params, name: &str, degrees: &[usize], odd_even: usize) {
    let mut c = ctx_for(params);
    let mut rng = ChaCha20Rng::seed_from_u64(33);
    let mut worst = f64::INFINITY;
    for &d in degrees {
        let p = random_poly(&mut rng, d);
        let bits = relative_precision(&mut c, &p, &mut rng);
        println!(
            "{name} degree {d}: depth {}, {bits:.1} bits relative to max|p|",
            depth(&p)
        );
        assert!(bits >= 12.0, "degree {d}: {bits:.1} bits");
        worst = worst.min(bits);
    }
    let mut odd = random_poly(&mut rng, odd_even | 1);
    odd.coeffs.iter_mut().step_by(2).for_each(|c| *c = 0.0);
    let mut even = random_poly(&mut rng, odd_even & !1);
    even.coeffs
        .iter_mut()
        .skip(1)
        .step_by(2)
        .for_each(|c| *c = 0.0);
    for (kind, p) in [("odd", odd), ("even", even)] {
        let bits = relative_precision(&mut c, &p, &mut rng);
        println!("{name} {kind}: depth {}, {bits:.1} bits", depth(&p));
        assert!(bits >= 12.0, "{kind}: {bits:.1} bits");
        worst = worst.min(bits);
    }
    println!("{name}: worst {worst:.1} bits");
}

#[test]
fn double_prime_scale_meets_the_bar_for_degrees_3_to_1023() {
    // N = 2^10, depth 11 of two 30-bit primes each (scale 2^59).
    let params = Params::new_insecure_for_tests(ParamsLiteral {
        log_n: 10,
        base_bits: 30,
        base_limbs: 3,
        limb_bits: 30,
        levels: 11,
        level_primes: 2,
        special_bits: 30,
        special_primes: 7,
        digit_size: 7,
        log_scale: 59,
    })
    .unwrap();
    // The full list runs at N = 2^16 below; here the ends and the middle.
    degrees_meet_the_bar(params, "N=2^10 double-prime", &[3, 7, 59, 1023], 63);
}

/// The default N = 2^16 set (depth 19, scale 2^59). Slow: run with
/// `cargo test -p ola-ckks --release -- --ignored --nocapture`.
#[test]
#[ignore = "N = 2^16: a minute or more"]
fn default_n16_preset_meets_the_bar_for_degrees_3_to_1023() {
    let params = Params::new(crate::params::presets::PN16_QP1747).unwrap();
    degrees_meet_the_bar(
        params,
        "PN16_QP1747",
        &[3, 7, 15, 31, 59, 63, 127, 255, 511, 1023],
        255,
    );
}

#[test]
fn degrees_beyond_the_remaining_levels_are_refused() {
    let c = ctx(4);
    let scale = c.ring.params().default_scale();
    let pt = c.enc.encode_real(&c.ring, &[0.5], 4, scale).unwrap();
    let mut encryptor = c.encryptor;
    let ct = encryptor.encrypt(&pt).unwrap();
    let pe = PolynomialEvaluator::new(&c.eval);
    let p = ChebyshevPoly::new((0..32).map(|k| 1.0 / (1.0 + k as f64)).collect());
    assert_eq!(depth(&p), 5, "degree 31");
    let err = pe.evaluate(&ct, &p, scale).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LevelExhausted {
                needed: 5,
                level: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        pe.evaluate(&ct, &ChebyshevPoly::new(vec![0.5; 8]), scale)
            .is_ok()
    );
}

#[test]
fn evaluation_on_an_interval_costs_one_more_level() {
    let c = ctx(8);
    let scale = c.ring.params().default_scale();
    let (a, b) = (-6.0, 6.0);
    let xs: Vec<f64> = (0..c.enc.slots())
        .map(|i| a + (b - a) * i as f64 / c.enc.slots() as f64)
        .collect();
    let pt = c.enc.encode_real(&c.ring, &xs, 8, scale).unwrap();
    let mut encryptor = c.encryptor;
    let ct = encryptor.encrypt(&pt).unwrap();
    // GELU-like target on [-6, 6]: x · sigmoid(1.702 x), degree 31.
    let f = |x: f64| x / (1.0 + (-1.702 * x).exp());
    let p = ChebyshevPoly::interpolate(|t| f(6.0 * t), 31);
    let pe = PolynomialEvaluator::new(&c.eval);
    let out = pe.evaluate_on(&ct, &p, (a, b), scale).unwrap();
    assert_eq!(out.level(), 8 - depth(&p) - 1);
    let got = c
        .enc
        .decode(&c.ring, &c.decryptor.decrypt(&out).unwrap())
        .unwrap();
    let max = xs.iter().map(|&x| f(x).abs()).fold(0.0, f64::max);
    let err = xs
        .iter()
        .zip(&got)
        .map(|(&x, g)| (g.re - p.eval((2.0 * x - a - b) / (b - a))).abs())
        .fold(0.0, f64::max);
    let bits = -(err / max).log2();
    println!("N=2^11 x·sigmoid(1.702x) on [-6, 6], degree 31: {bits:.1} bits relative");
    assert!(bits >= 12.0);
    assert!(matches!(
        pe.evaluate_on(&ct, &p, (1.0, 1.0), scale),
        Err(Error::Encoding(_))
    ));
}
