//! Whole ciphertexts through the device backend: the same fixed-seed
//! encryption evaluated on a CPU ring and on a device ring (simulated
//! board) gives identical ciphertexts after multiply + relinearise +
//! rescale, a rotation and a Chebyshev polynomial; and a device that stops
//! answering is reported by `check`, not by a hang or a panic.

use std::sync::Arc;
use std::time::Duration;

use ola_ckks::{
    Backend, ChebyshevPoly, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Params,
    PolynomialEvaluator, Ring, presets,
};
use ola_device::DeviceConfig;
use ola_offload::{DeviceBackend, Error, sim_channel};

#[test]
fn ciphertexts_are_identical_on_cpu_and_device() {
    // N = 2^13 > N_max: every NTT is the split one. 30-bit primes only
    // (the device's word), 128-bit secure, depth 4.
    let params = Params::new(presets::PN13_QP218).unwrap();
    let cpu_ring = Arc::new(Ring::cpu(params.clone()));
    let (device, _board) = sim_channel(DeviceConfig::default()).unwrap();
    let dev = Arc::new(DeviceBackend::new(device, params.n(), &params.all_moduli()).unwrap());
    let dev_ring = Arc::new(Ring::new(params.clone(), dev.clone() as Arc<dyn Backend>));

    let mut kg = KeyGenerator::from_seed(cpu_ring.clone(), [3; 32]);
    let sk = kg.gen_secret_key();
    let pk = kg.gen_public_key(&sk).unwrap();
    let keys = kg.gen_evaluation_keys(&sk, &[1], false).unwrap();
    let enc = Encoder::new(&cpu_ring);
    let xs: Vec<f64> = (0..enc.slots())
        .map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0)
        .collect();
    let level = params.max_level();
    let scale = params.default_scale();
    let pt = enc.encode_real(&cpu_ring, &xs, level, scale).unwrap();
    let ct = Encryptor::from_seed(cpu_ring.clone(), pk, [4; 32])
        .unwrap()
        .encrypt(&pt)
        .unwrap();

    let cpu_eval = Evaluator::new(cpu_ring.clone(), keys.clone()).unwrap();
    let dev_eval = Evaluator::new(dev_ring.clone(), keys).unwrap();
    let before = dev.costs();
    let want = cpu_eval.mul_relin_rescale_new(&ct, &ct).unwrap();
    let got = dev_eval.mul_relin_rescale_new(&ct, &ct).unwrap();
    dev.check().unwrap();
    assert!(want == got, "multiply + relinearise + rescale differs");
    let mul_cost = dev.costs().since(&before);
    assert!(mul_cost.ntts > 0 && mul_cost.compute_cycles > 0);

    let want_rot = cpu_eval.rotate_new(&want, 1).unwrap();
    let got_rot = dev_eval.rotate_new(&got, 1).unwrap();
    dev.check().unwrap();
    assert!(want_rot == got_rot, "rotation differs");

    let p = ChebyshevPoly::interpolate(|x| x.max(0.0), 3);
    let want_p = PolynomialEvaluator::new(&cpu_eval)
        .evaluate(&ct, &p, scale)
        .unwrap();
    let got_p = PolynomialEvaluator::new(&dev_eval)
        .evaluate(&ct, &p, scale)
        .unwrap();
    dev.check().unwrap();
    assert!(want_p == got_p, "Chebyshev evaluation differs");

    // And the device's result decrypts to the polynomial.
    let dec = Decryptor::new(cpu_ring.clone(), sk).unwrap();
    let vals = enc
        .decode(&cpu_ring, &dec.decrypt(&got_p).unwrap())
        .unwrap();
    let err = xs
        .iter()
        .zip(&vals)
        .map(|(&x, v)| (v.re - p.eval(x)).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-4, "decrypted error {err}");
}

#[test]
fn a_mute_device_is_an_error_not_a_hang() {
    let (device, board) = sim_channel(DeviceConfig::default()).unwrap();
    let moduli: Vec<ola_arith::Modulus> = ola_arith::prime::ntt_primes(30, 12)
        .take(2)
        .map(|q| ola_arith::Modulus::new(q).unwrap())
        .collect();
    let dev = DeviceBackend::new(device, 1 << 12, &moduli).unwrap();
    let mut a: Vec<u32> = (0..1 << 12).collect();
    dev.ntt_fwd(0, &mut a);
    dev.check().unwrap();
    // Impatient from now on (a loaded machine still answered the first
    // call under the default timeout).
    dev.with_device(|d| {
        d.set_config(DeviceConfig {
            timeout: Duration::from_millis(100),
            retries: 1,
            max_restarts: 0,
        })
    });
    board.set_mute(true);
    let before = a.clone();
    dev.ntt_inv(0, &mut a);
    dev.mul_const_assign(1, &mut a, 3);
    match dev.check() {
        Err(Error::Device(e)) => assert!(
            matches!(*e, ola_device::Error::Timeout { .. }),
            "expected a timeout, got {e}"
        ),
        other => panic!("expected a device error, got {other:?}"),
    }
    assert_eq!(a, before, "operations after the failure change nothing");
    // Sticky: the board answering again does not make results trustworthy.
    board.set_mute(false);
    dev.add_assign(0, &mut a, &before);
    assert!(dev.check().is_err());
}
