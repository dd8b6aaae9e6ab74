//! k-means interpolation (the intermediate-data method).

mod common;

use common::mixture_samples;
use ola_approx::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn kmeans_recovers_well_separated_clusters() {
    let centres = [[-5.0, 0.0], [0.0, 5.0], [5.0, -2.0], [9.0, 9.0]];
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut pts = Vec::new();
    for (i, c) in centres.iter().enumerate() {
        for _ in 0..(200 + 100 * i) {
            pts.push([
                c[0] + 0.3 * (rng.random::<f64>() - 0.5),
                c[1] + 0.3 * (rng.random::<f64>() - 0.5),
            ]);
        }
    }
    let w = vec![1.0; pts.len()];
    for seed in 0..5 {
        let got = kmeans(&pts, &w, 4, seed, 100).unwrap();
        for (g, c) in got.iter().zip(&centres) {
            assert!(
                (g[0] - c[0]).abs() < 0.05 && (g[1] - c[1]).abs() < 0.05,
                "{got:?}"
            );
        }
    }
}

#[test]
fn kmeans_interpolation_passes_through_centroids_and_is_reproducible() {
    let xs = mixture_samples(20_000, 2, 1.0);
    let dist = InputDistribution::from_samples(&xs).unwrap();
    let bound = dist.max_abs();
    let a = kmeans_interpolation(&dist, &Activation::Relu, bound, 2, 42).unwrap();
    let b = kmeans_interpolation(&dist, &Activation::Relu, bound, 2, 42).unwrap();
    assert_eq!(a.centroids, b.centroids);
    assert_eq!(a.poly.degree(), 2);
    assert_eq!(a.centroids.len(), 3);
    for c in &a.centroids {
        assert!((a.poly.eval(c[0]) - c[1]).abs() < 1e-12);
    }
    // Least squares is optimal in mean squared error at the same degree.
    let wls = fit_wls_all_degrees(&dist, &Activation::Relu, bound, 2).unwrap();
    let km = dist.mean_squared_error(&Activation::Relu, &a.poly);
    assert!(wls.mse(2).unwrap() <= km);
}

#[test]
fn duplicate_abscissae_and_bad_k_are_refused() {
    assert_eq!(
        interpolate_points(&[[0.5, 1.0], [0.5, 2.0]], 1.0).unwrap_err(),
        ApproxError::DuplicateNode { x: 0.5 }
    );
    assert!(interpolate_points(&[], 1.0).is_err());
    assert!(interpolate_points(&[[0.0, 1.0]], 0.0).is_err());
    let pts = [[0.0, 0.0], [1.0, 1.0]];
    assert!(kmeans(&pts, &[1.0, 1.0], 3, 0, 10).is_err());
    assert!(kmeans(&pts, &[1.0, 1.0], 0, 0, 10).is_err());
    assert!(kmeans(&pts, &[1.0], 1, 0, 10).is_err());
    assert!(kmeans(&[[f64::NAN, 0.0]], &[1.0], 1, 0, 10).is_err());
    let dist = InputDistribution::from_samples(&[1.0, 2.0]).unwrap();
    assert!(kmeans_interpolation(&dist, &Activation::Relu, 1.0, 2, 0).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn interpolation_reproduces_its_nodes(
        mut xs in prop::collection::vec(-4.0f64..4.0, 1..20),
        ys in prop::collection::vec(-3.0f64..3.0, 20),
    ) {
        xs.sort_by(f64::total_cmp);
        xs.dedup_by(|a, b| (*a - *b).abs() < 0.05);
        let nodes: Vec<[f64; 2]> = xs.iter().zip(&ys).map(|(&x, &y)| [x, y]).collect();
        let p = interpolate_points(&nodes, 4.0).unwrap();
        prop_assert_eq!(p.degree(), nodes.len() - 1);
        for n in &nodes {
            prop_assert!((p.eval(n[0]) - n[1]).abs() < 1e-6 * (1.0 + p.max_abs_on_interval(200)));
        }
    }
}
