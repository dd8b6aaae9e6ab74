//! Chebyshev evaluation of sigmoid(4x) at N = 2^16 (the bar:
//! degree 59 within 2.0 s, single thread), from the top of the depth-19
//! `PN16_QP1747` chain (as the peers' 20-limb chain in
//! shared/docs/method.md), in thread CPU time. The decrypted precision of
//! each degree is printed before its timing.
//!
//! Run: `cargo bench -p ola-ckks --bench poly`

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use common::CpuTime;
use criterion::{Criterion, criterion_group, criterion_main};
use ola_ckks::polynomial::plan;
use ola_ckks::{
    ChebyshevPoly, Decryptor, Encoder, Encryptor, EvaluationKeys, Evaluator, KeyGenerator, Params,
    PolynomialEvaluator, Ring, presets,
};

fn bench_poly(c: &mut Criterion<CpuTime>) {
    let lit = presets::PN16_QP1747;
    let level = lit.levels;
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
    let dec = Decryptor::new(ring.clone(), sk).unwrap();

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
        let out = pe.evaluate(&ct, &p, scale).unwrap();
        let got = enc.decode(&ring, &dec.decrypt(&out).unwrap()).unwrap();
        let err = xs
            .iter()
            .zip(&got)
            .map(|(&x, g)| (g.re - p.eval(x)).abs())
            .fold(0.0, f64::max);
        println!("{name}: max error 2^{:.1} against p(x) in f64", err.log2());
        group.bench_function(&name, |b| {
            b.iter(|| black_box(pe.evaluate(&ct, &p, scale).unwrap()))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench_poly
}
criterion_main!(benches);
