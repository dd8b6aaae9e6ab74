//! Fitting every degree 0..=1023 for one layer from 10^6 samples (the
//! issue's bar: at most 1 s on one core).

use criterion::{Criterion, criterion_group, criterion_main};
use ola_approx::{Activation, InputDistribution, WlsOptions, fit_wls_all_degrees_with};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn samples(n: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    (0..n)
        .map(|_| {
            let u1: f64 = rng.random::<f64>().max(1e-300);
            let u2: f64 = rng.random();
            3.0 * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let xs = samples(1_000_000);
    let mut g = c.benchmark_group("fit_wls_n1e6_d1023");
    g.sample_size(10);
    for (name, opts) in [("raw", WlsOptions::raw()), ("robust", WlsOptions::robust())] {
        g.bench_function(name, |b| {
            b.iter(|| {
                // Validation and binning are part of the measured work.
                let dist = InputDistribution::from_samples(&xs).unwrap();
                let bound = dist.max_abs();
                fit_wls_all_degrees_with(&dist, &Activation::Relu, bound, 1023, &opts).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
