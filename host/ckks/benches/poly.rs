//! Chebyshev evaluation of sigmoid(4x) at N = 2^16 (the bar:
//! degree 59 within 2.0 s, single thread), from 20 Q limbs as in the
//! figures of shared/docs/method.md.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-ckks cargo bench -p ola-ckks --bench poly`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ola_ckks::polynomial::plan;
use ola_ckks::{
    ChebyshevPoly, Encoder, Encryptor, EvaluationKeys, Evaluator, KeyGenerator, Params,
    PolynomialEvaluator, Ring, presets,
};

fn bench_poly(c: &mut Criterion) {
    let lit = presets::PN16_QP1747;
    let level = 18;
    let params = Params::new(lit).expect("preset is secure");
    let limbs = params.limbs_at(level);
    let ring = Arc::new(Ring::cpu(params));
    let mut kg = KeyGenerator::from_seed(ring.clone(), [7; 32]);
    let sk = kg.gen_secret_key();
    let pk = kg.gen_public_key(&sk).unwrap();
    let keys = EvaluationKeys {
        relin: Some(kg.gen_relin_key(&sk).unwrap()),
        ..Default::default()
    };
    let eval = Evaluator::new(ring.clone(), keys).unwrap();
    let enc = Encoder::new(&ring);
    let xs: Vec<f64> = (0..enc.slots())
        .map(|i| (i as f64 / enc.slots() as f64) * 2.0 - 1.0)
        .collect();
    let scale = ring.params().default_scale();
    let pt = enc.encode_real(&ring, &xs, level, scale).unwrap();
    let ct = Encryptor::from_seed(ring.clone(), pk, [8; 32])
        .unwrap()
        .encrypt(&pt)
        .unwrap();
    let pe = PolynomialEvaluator::new(&eval);

    let mut group = c.benchmark_group("chebyshev_sigmoid4x");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for d in [7usize, 27, 59] {
        let p = ChebyshevPoly::interpolate(|x| 1.0 / (1.0 + (-4.0 * x).exp()), d);
        let pl = plan(&p);
        let name = format!(
            "N=2^16/limbs={limbs}/d={d}/depth={}/products={}",
            pl.depth, pl.products
        );
        group.bench_function(&name, |b| {
            b.iter(|| black_box(pe.evaluate(&ct, &p, scale).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_poly);
criterion_main!(benches);
