//! Multiply + relinearise + rescale (the unit of CKKS depth) on the CPU
//! backend, single thread, in thread CPU time. Names encode N, Q limbs,
//! digit size and logQP.
//!
//! Run: `cargo bench -p ola-ckks --bench mul`

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use common::CpuTime;
use criterion::{Criterion, criterion_group, criterion_main};
use ola_ckks::{
    C64, Ciphertext, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Params, Ring, presets,
};

struct Fixture {
    name: String,
    eval: Evaluator,
    a: Ciphertext,
    b: Ciphertext,
    ring: Arc<Ring>,
}

fn fixture(lit: ola_ckks::ParamsLiteral, level: usize) -> Fixture {
    let params = Params::new(lit).expect("preset is secure");
    let name = format!(
        "N=2^{}/limbs={}/alpha={}/logQP={:.0}",
        lit.log_n,
        params.limbs_at(level),
        params.digit_size(),
        params.log_qp()
    );
    let ring = Arc::new(Ring::cpu(params));
    let mut kg = KeyGenerator::from_seed(ring.clone(), [7; 32]);
    let sk = kg.gen_secret_key();
    let pk = kg.gen_public_key(&sk).unwrap();
    let rlk = kg.gen_relin_key(&sk).unwrap();
    let keys = ola_ckks::EvaluationKeys {
        relin: Some(rlk),
        ..Default::default()
    };
    let enc = Encoder::new(&ring);
    let mut encryptor = Encryptor::from_seed(ring.clone(), pk, [8; 32]).unwrap();
    let z: Vec<C64> = (0..enc.slots())
        .map(|i| C64::new((i as f64 * 0.001).sin(), 0.0))
        .collect();
    let scale = ring.params().default_scale();
    let pt = enc.encode(&ring, &z, level, scale).unwrap();
    let a = encryptor.encrypt(&pt).unwrap();
    let b = encryptor.encrypt(&pt).unwrap();
    let eval = Evaluator::new(ring.clone(), keys).unwrap();
    // The decrypted precision of one product, printed with the timing.
    let dec = Decryptor::new(ring.clone(), sk).unwrap();
    let prod = eval.mul_relin_rescale_new(&a, &b).unwrap();
    let got = enc.decode(&ring, &dec.decrypt(&prod).unwrap()).unwrap();
    let err = z
        .iter()
        .zip(&got)
        .map(|(x, g)| (*x * *x - *g).abs())
        .fold(0.0, f64::max);
    println!("{name}: mul_relin_rescale max error 2^{:.1}", err.log2());
    Fixture {
        name,
        eval,
        a,
        b,
        ring,
    }
}

fn bench_mul(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("mul_relin_rescale");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (lit, level) in [
        (presets::PN14_QP438, presets::PN14_QP438.levels),
        // Depth 19 from the top, as the 20-limb chain of 50-bit primes
        // shared/docs/method.md quotes for Lattigo, OpenFHE and SEAL: here
        // 41 limbs of 30 bits (two per level, scale 2^59).
        (presets::PN16_QP1747, presets::PN16_QP1747.levels),
    ] {
        let f = fixture(lit, level);
        group.bench_function(&f.name, |bench| {
            bench.iter(|| black_box(f.eval.mul_relin_rescale_new(&f.a, &f.b).unwrap()))
        });
        let n = f.ring.params().n();
        let limbs = f.a.polys()[0].q_limbs();
        group.bench_function(format!("{}/ntt_fwd_inv_one_limb", f.name), |bench| {
            let mut limb = f.a.polys()[0].limb(limbs - 1).to_vec();
            let be = f.ring.backend();
            bench.iter(|| {
                be.ntt_inv(limbs - 1, &mut limb);
                be.ntt_fwd(limbs - 1, &mut limb);
            });
            assert_eq!(limb.len(), n);
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench_mul
}
criterion_main!(benches);
