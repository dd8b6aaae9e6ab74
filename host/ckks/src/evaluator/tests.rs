//! Precision and bad-input tests of the whole scheme, table-driven over
//! small parameter sets (names encode N, limbs and digit size).

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::encoder::{C64, Encoder};
use crate::encryptor::{Decryptor, Encryptor};
use crate::keys::KeyGenerator;
use crate::params::{Params, ParamsLiteral, presets};

/// One parameter set with keys, encoder, encryptor, decryptor, evaluator
/// (Lattigo's `TestContext`).
struct Ctx {
    name: String,
    ring: Arc<Ring>,
    enc: Encoder,
    encryptor: Encryptor,
    decryptor: Decryptor,
    eval: Evaluator,
    rng: ChaCha20Rng,
}

const ROTATIONS: [i64; 3] = [1, -1, 5];

impl Ctx {
    fn new(params: Params) -> Ctx {
        let lit = *params.literal();
        let name = format!(
            "N=2^{}/limbs={}+{}x{}/logQP={:.0}/P={}/alpha={}",
            lit.log_n,
            lit.base_limbs,
            lit.levels,
            lit.level_primes,
            params.log_qp(),
            lit.special_primes,
            lit.digit_size
        );
        let ring = Arc::new(Ring::cpu(params));
        let mut kg = KeyGenerator::from_seed(ring.clone(), [1; 32]);
        let sk = kg.gen_secret_key();
        let pk = kg.gen_public_key(&sk).unwrap();
        let keys = kg.gen_evaluation_keys(&sk, &ROTATIONS, true).unwrap();
        Ctx {
            name,
            enc: Encoder::new(&ring),
            encryptor: Encryptor::from_seed(ring.clone(), pk, [2; 32]).unwrap(),
            decryptor: Decryptor::new(ring.clone(), sk).unwrap(),
            eval: Evaluator::new(ring.clone(), keys).unwrap(),
            ring,
            rng: ChaCha20Rng::seed_from_u64(3),
        }
    }

    fn values(&mut self, bound: f64) -> Vec<C64> {
        (0..self.enc.slots())
            .map(|_| {
                C64::new(
                    self.rng.random_range(-bound..bound),
                    self.rng.random_range(-bound..bound),
                )
            })
            .collect()
    }

    fn encrypt(&mut self, z: &[C64], level: usize) -> Ciphertext {
        let scale = self.ring.params().default_scale();
        let pt = self.enc.encode(&self.ring, z, level, scale).unwrap();
        self.encryptor.encrypt(&pt).unwrap()
    }

    fn decrypt(&self, ct: &Ciphertext) -> Vec<C64> {
        let pt = self.decryptor.decrypt(ct).unwrap();
        self.enc.decode(&self.ring, &pt).unwrap()
    }

    /// `-log2(max_j |want_j - got_j|)`, with a report of the figure.
    fn precision(&self, what: &str, want: &[C64], ct: &Ciphertext) -> f64 {
        let got = self.decrypt(ct);
        let err = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (*a - *b).abs())
            .fold(0.0, f64::max);
        let bits = -err.log2();
        println!(
            "{}: {what}: {bits:.1} bits (level {})",
            self.name,
            ct.level()
        );
        bits
    }
}

fn small(log_n: u32, levels: usize, alpha: usize) -> Params {
    Params::new_insecure_for_tests(ParamsLiteral {
        log_n,
        base_bits: 30,
        base_limbs: 2,
        limb_bits: 30,
        levels,
        level_primes: 1,
        special_bits: 30,
        special_primes: alpha,
        digit_size: alpha,
        log_scale: 30,
    })
    .unwrap()
}

/// Like [`small`] with double-prime scaling: three base primes, two
/// 30-bit primes per level, scale 2^59.
fn small_double(log_n: u32, levels: usize, alpha: usize) -> Params {
    Params::new_insecure_for_tests(ParamsLiteral {
        log_n,
        base_bits: 30,
        base_limbs: 3,
        limb_bits: 30,
        levels,
        level_primes: 2,
        special_bits: 30,
        special_primes: alpha,
        digit_size: alpha,
        log_scale: 59,
    })
    .unwrap()
}

/// The table of sets: digit sizes 1, 2, 3 (the last with partial digits)
/// at N = 2^10, the secure N = 2^12 preset (scale 2^25, one base prime),
/// and a double-prime set (scale 2^59, digits of 4 over 2-prime levels).
fn all_sets() -> Vec<Params> {
    vec![
        small(10, 4, 1),
        small(10, 5, 2),
        small(11, 5, 3),
        Params::new(presets::PN12_QP109).unwrap(),
        small_double(10, 3, 4),
    ]
}

/// Precision bar (bits of absolute precision on values in the unit disc)
/// from its figure at N = 2^10 and a 2^30 scale: one bit less per bit of
/// scale below 2^30, one bit less per doubling of N (the coefficient
/// noise grows as sqrt(N) through `e·s`, and the slots sum N of them). The
/// figures sit about a bit below what the sets measure (run with
/// `--nocapture` to see them).
fn bar(ctx: &Ctx, bits_at_n10_2_30: f64) -> f64 {
    if std::env::var("CKKS_PROBE").is_ok() {
        return 0.0;
    }
    let params = ctx.ring.params();
    let bits = bits_at_n10_2_30
        - (30.0 - params.default_scale().log2())
        - (params.log_n() as f64 - 10.0) / 2.0;
    // Decoding in f64 (53-bit mantissa, FFT rounding) caps what a 2^59
    // scale can show; operations with a lower reference keep their margin.
    bits.min(F64_CAP_BITS - (19.0 - bits_at_n10_2_30))
}

/// Precision the `f64` decoder reaches at best, with margin.
const F64_CAP_BITS: f64 = 38.0;

#[test]
fn encrypt_decrypt_precision_at_every_level() {
    for params in all_sets() {
        let mut ctx = Ctx::new(params);
        let z = ctx.values(1.0);
        for level in 0..=ctx.ring.params().max_level() {
            let ct = ctx.encrypt(&z, level);
            let bits = ctx.precision("encrypt/decrypt", &z, &ct);
            assert!(bits >= bar(&ctx, 18.0), "{}: {bits}", ctx.name);
        }
    }
}

#[test]
fn add_sub_neg_precision() {
    for params in all_sets() {
        let mut ctx = Ctx::new(params);
        let (x, y) = (ctx.values(1.0), ctx.values(1.0));
        let top = ctx.ring.params().max_level();
        let (a, b) = (ctx.encrypt(&x, top), ctx.encrypt(&y, top - 1));
        let sum = ctx.eval.add_new(&a, &b).unwrap();
        assert_eq!(sum.level(), top - 1, "operands aligned to the lower level");
        let want: Vec<C64> = x.iter().zip(&y).map(|(a, b)| *a + *b).collect();
        assert!(ctx.precision("add", &want, &sum) >= bar(&ctx, 17.5));
        let mut diff = ctx.eval.sub_new(&a, &b).unwrap();
        ctx.eval.neg_assign(&mut diff).unwrap();
        let want: Vec<C64> = x.iter().zip(&y).map(|(a, b)| *b - *a).collect();
        assert!(ctx.precision("sub+neg", &want, &diff) >= bar(&ctx, 17.5));
    }
}

#[test]
fn plaintext_and_constant_products_precision() {
    for params in all_sets() {
        let mut ctx = Ctx::new(params);
        let (x, y) = (ctx.values(1.0), ctx.values(1.0));
        let top = ctx.ring.params().max_level();
        let scale = ctx.ring.params().default_scale();
        let a = ctx.encrypt(&x, top);

        // Plaintext product then rescale.
        let pt = ctx.enc.encode(&ctx.ring, &y, top, scale).unwrap();
        let mut p = a.clone();
        ctx.eval.mul_plain_assign(&mut p, &pt).unwrap();
        ctx.eval.rescale_assign(&mut p).unwrap();
        let want: Vec<C64> = x.iter().zip(&y).map(|(a, b)| *a * *b).collect();
        assert!(ctx.precision("mul_plain+rescale", &want, &p) >= bar(&ctx, 17.5));

        // Integer constant: no rescale, level and scale kept.
        let mut k = a.clone();
        ctx.eval.mul_int_assign(&mut k, -7).unwrap();
        assert_eq!((k.level(), k.scale()), (a.level(), a.scale()));
        let want: Vec<C64> = x.iter().map(|v| v.scale(-7.0)).collect();
        assert!(ctx.precision("mul_int(-7)", &want, &k) >= bar(&ctx, 15.0));

        // Real constant then rescale: the scale comes back exactly.
        let mut c = a.clone();
        ctx.eval.mul_const_assign(&mut c, 0.37).unwrap();
        ctx.eval.rescale_assign(&mut c).unwrap();
        assert_eq!(c.scale(), a.scale());
        let want: Vec<C64> = x.iter().map(|v| v.scale(0.37)).collect();
        assert!(ctx.precision("mul_const(0.37)+rescale", &want, &c) >= bar(&ctx, 17.5));

        // Constant addition and plaintext addition.
        let mut s = a.clone();
        ctx.eval.add_const_assign(&mut s, -0.25).unwrap();
        let pt = ctx.enc.encode(&ctx.ring, &y, top, scale).unwrap();
        ctx.eval.add_plain_assign(&mut s, &pt).unwrap();
        let want: Vec<C64> = x
            .iter()
            .zip(&y)
            .map(|(a, b)| *a + *b + C64::new(-0.25, 0.0))
            .collect();
        assert!(ctx.precision("add_const+add_plain", &want, &s) >= bar(&ctx, 17.5));
    }
}

#[test]
fn multiply_relinearise_rescale_precision_down_to_level_zero() {
    for params in all_sets() {
        let mut ctx = Ctx::new(params);
        let top = ctx.ring.params().max_level();
        let (x, y) = (ctx.values(1.0), ctx.values(1.0));
        let (a, b) = (ctx.encrypt(&x, top), ctx.encrypt(&y, top));
        // One product: relinearise and rescale checked separately.
        let mut prod = ctx.eval.mul_new(&a, &b).unwrap();
        assert_eq!(prod.degree(), 2);
        let want: Vec<C64> = x.iter().zip(&y).map(|(a, b)| *a * *b).collect();
        let tensor_bits = ctx.precision("tensor (degree 2)", &want, &prod);
        ctx.eval.relinearize_assign(&mut prod).unwrap();
        assert_eq!(prod.degree(), 1);
        let relin_bits = ctx.precision("relinearise", &want, &prod);
        assert!(relin_bits >= bar(&ctx, 17.0));
        assert!(
            tensor_bits - relin_bits < 1.5,
            "key switching adds < 1.5 bits of error"
        );
        ctx.eval.rescale_assign(&mut prod).unwrap();
        assert_eq!(prod.level(), top - 1);
        assert!(ctx.precision("rescale", &want, &prod) >= bar(&ctx, 17.0));

        // The fused path (one rounding for P and q_ℓ) agrees with the
        // separate relinearise + rescale.
        let fused = ctx.eval.mul_relin_rescale_new(&a, &b).unwrap();
        assert!(matches!(
            ctx.eval.relinearize_rescale_assign(&mut fused.clone()),
            Err(Error::BadDegree { .. })
        ));
        assert_eq!((fused.level(), fused.scale()), (prod.level(), prod.scale()));
        let fused_bits = ctx.precision("mul_relin_rescale (fused)", &want, &fused);
        assert!(fused_bits >= bar(&ctx, 17.0));

        // Repeated products x·y·y·… down to level 0.
        let mut acc = ctx.eval.mul_relin_rescale_new(&a, &b).unwrap();
        let mut want = want;
        while acc.level() > 0 {
            let b_low = {
                let mut t = b.clone();
                ctx.eval.drop_level_assign(&mut t, acc.level()).unwrap();
                t
            };
            // Scales differ after different rescales: multiply anyway (the
            // product's scale is tracked exactly).
            acc = ctx.eval.mul_relin_rescale_new(&acc, &b_low).unwrap();
            want = want.iter().zip(&y).map(|(a, b)| *a * *b).collect();
        }
        let bits = ctx.precision("product chain to level 0", &want, &acc);
        assert!(bits >= bar(&ctx, 15.0), "{}: {bits}", ctx.name);
        let err = ctx.eval.mul_relin_rescale_new(&acc, &acc).unwrap_err();
        assert!(matches!(err, Error::LevelExhausted { .. }), "{err}");
    }
}

#[test]
fn rotations_and_conjugation_precision() {
    for params in all_sets() {
        let mut ctx = Ctx::new(params);
        let slots = ctx.enc.slots() as i64;
        let x = ctx.values(1.0);
        let top = ctx.ring.params().max_level();
        for level in [top, 0] {
            let a = ctx.encrypt(&x, level);
            for k in ROTATIONS {
                let r = ctx.eval.rotate_new(&a, k).unwrap();
                let want: Vec<C64> = (0..slots)
                    .map(|j| x[(j + k).rem_euclid(slots) as usize])
                    .collect();
                assert!(ctx.precision(&format!("rotate({k})"), &want, &r) >= bar(&ctx, 16.0));
            }
            let c = ctx.eval.conjugate_new(&a).unwrap();
            let want: Vec<C64> = x.iter().map(|v| v.conj()).collect();
            assert!(ctx.precision("conjugate", &want, &c) >= bar(&ctx, 16.0));
        }
        let a = ctx.encrypt(&x, top);
        assert!(matches!(
            ctx.eval.rotate_new(&a, 2),
            Err(Error::MissingGaloisKey { .. })
        ));
        let r0 = ctx.eval.rotate_new(&a, slots).unwrap();
        assert_eq!(r0, a, "rotation by a multiple of N/2 is the identity");
    }
}

#[test]
fn bad_inputs_give_clear_errors() {
    let mut ctx = Ctx::new(small(10, 2, 1));
    let mut other = Ctx::new(small(10, 3, 1));
    let z = ctx.values(1.0);
    let a = ctx.encrypt(&z, 2);
    let foreign = other.encrypt(&z, 2);
    // Ciphertexts, plaintexts and keys of another parameter set.
    let err = ctx.eval.add_new(&a, &foreign).unwrap_err();
    assert!(matches!(err, Error::ParamsMismatch { .. }));
    assert!(err.to_string().contains("different parameter sets"));
    assert!(matches!(
        ctx.decryptor.decrypt(&foreign),
        Err(Error::ParamsMismatch { .. })
    ));
    let foreign_pt = other
        .enc
        .encode(&other.ring, &z, 1, other.ring.params().default_scale())
        .unwrap();
    assert!(matches!(
        ctx.encryptor.encrypt(&foreign_pt),
        Err(Error::ParamsMismatch { .. })
    ));
    let mut kg = KeyGenerator::from_seed(other.ring.clone(), [9; 32]);
    let foreign_sk = kg.gen_secret_key();
    let foreign_keys = kg.gen_evaluation_keys(&foreign_sk, &[1], false).unwrap();
    assert!(matches!(
        Evaluator::new(ctx.ring.clone(), foreign_keys),
        Err(Error::ParamsMismatch { .. })
    ));
    // Exhausted levels.
    let mut low = a.clone();
    ctx.eval.drop_level_assign(&mut low, 0).unwrap();
    let err = ctx.eval.rescale_assign(&mut low).unwrap_err();
    assert!(err.to_string().contains("levels exhausted"), "{err}");
    assert!(matches!(
        ctx.eval.mul_const_assign(&mut low, 0.5),
        Err(Error::LevelExhausted { .. })
    ));
    assert!(matches!(
        ctx.eval.drop_level_assign(&mut low, 1),
        Err(Error::BadLevel { .. })
    ));
    // Plaintext below the ciphertext's level.
    let pt = ctx
        .enc
        .encode(&ctx.ring, &z, 0, ctx.ring.params().default_scale())
        .unwrap();
    let mut b = a.clone();
    assert!(matches!(
        ctx.eval.mul_plain_assign(&mut b, &pt),
        Err(Error::LevelExhausted { .. })
    ));
    // Degree and scale mismatches.
    let d2 = ctx.eval.mul_new(&a, &a).unwrap();
    assert!(matches!(
        ctx.eval.add_new(&a, &d2),
        Err(Error::BadDegree { .. })
    ));
    assert!(matches!(
        ctx.eval.rotate_new(&d2, 1),
        Err(Error::BadDegree { .. })
    ));
    assert!(matches!(
        ctx.eval.mul_new(&d2, &a),
        Err(Error::BadDegree { .. })
    ));
    let mut c = a.clone();
    ctx.eval.mul_const_assign(&mut c, 2.0).unwrap();
    assert!(matches!(
        ctx.eval.add_new(&a, &c),
        Err(Error::ScaleMismatch { .. })
    ));
    // No relinearisation key.
    let bare = Evaluator::new(ctx.ring.clone(), EvaluationKeys::default()).unwrap();
    let mut d2 = d2;
    assert!(bare.relinearize_assign(&mut d2).is_err());
}

#[test]
fn public_key_ciphertexts_are_fresh_randomness() {
    // Two encryptions of one plaintext differ (the encryptor draws new
    // randomness) yet decrypt alike.
    let mut ctx = Ctx::new(small(10, 1, 1));
    let z = ctx.values(1.0);
    let (a, b) = (ctx.encrypt(&z, 1), ctx.encrypt(&z, 1));
    assert_ne!(a.polys()[1], b.polys()[1]);
    assert!(ctx.precision("fresh a", &z, &a) >= bar(&ctx, 18.0));
    assert!(ctx.precision("fresh b", &z, &b) >= bar(&ctx, 18.0));
}

/// The default N = 2^16 preset end to end (slow: run with
/// `cargo test -p ola-ckks --release -- --ignored --nocapture`).
#[test]
#[ignore = "N = 2^16: tens of seconds"]
fn default_n16_preset_precision() {
    let mut ctx = Ctx::new(Params::new(presets::PN16_QP1747).unwrap());
    let top = ctx.ring.params().max_level();
    let (x, y) = (ctx.values(1.0), ctx.values(1.0));
    let (a, b) = (ctx.encrypt(&x, top), ctx.encrypt(&y, top));
    assert!(ctx.precision("encrypt/decrypt", &x, &a) >= bar(&ctx, 19.0));
    let want: Vec<C64> = x.iter().zip(&y).map(|(a, b)| *a * *b).collect();
    let mut prod = ctx.eval.mul_new(&a, &b).unwrap();
    ctx.eval.relinearize_assign(&mut prod).unwrap();
    assert!(ctx.precision("relinearise", &want, &prod) >= bar(&ctx, 19.0));
    ctx.eval.rescale_assign(&mut prod).unwrap();
    assert!(ctx.precision("rescale", &want, &prod) >= bar(&ctx, 19.0));
    let fused = ctx.eval.mul_relin_rescale_new(&a, &b).unwrap();
    assert!(ctx.precision("mul_relin_rescale (fused)", &want, &fused) >= bar(&ctx, 19.0));
    let r = ctx.eval.rotate_new(&a, 1).unwrap();
    let slots = ctx.enc.slots();
    let want: Vec<C64> = (0..slots).map(|j| x[(j + 1) % slots]).collect();
    assert!(ctx.precision("rotate(1)", &want, &r) >= bar(&ctx, 19.0));
    // sigmoid(4x), degree 59, on real inputs.
    let xs: Vec<f64> = x.iter().map(|z| z.re).collect();
    let p = crate::polynomial::ChebyshevPoly::interpolate(|t| 1.0 / (1.0 + (-4.0 * t).exp()), 59);
    let pt = ctx
        .enc
        .encode_real(&ctx.ring, &xs, top, ctx.ring.params().default_scale())
        .unwrap();
    let ct = ctx.encryptor.encrypt(&pt).unwrap();
    let out = crate::polynomial::PolynomialEvaluator::new(&ctx.eval)
        .evaluate(&ct, &p, ct.scale())
        .unwrap();
    let want: Vec<C64> = xs.iter().map(|&t| C64::new(p.eval(t), 0.0)).collect();
    // Six levels of products: a few bits below the single operations.
    assert!(ctx.precision("sigmoid(4x) degree 59", &want, &out) >= bar(&ctx, 15.0));
}

#[test]
fn weighted_sum_and_in_place_addition_match_their_reference_forms() {
    for params in [small(10, 4, 1), small_double(10, 3, 4)] {
        let mut ctx = Ctx::new(params);
        let top = ctx.ring.params().max_level();
        let xs: Vec<Vec<C64>> = (0..3).map(|_| ctx.values(1.0)).collect();
        // Terms at different levels, and one at a different scale.
        let mut cts: Vec<Ciphertext> = xs
            .iter()
            .enumerate()
            .map(|(k, z)| ctx.encrypt(z, top - k.min(1)))
            .collect();
        ctx.eval.mul_int_assign(&mut cts[2], 3).unwrap();
        let tripled = cts[2].scale() * 3.0;
        cts[2].set_scale(tripled);
        let cs = [0.25, -1.5, 0.75];
        let scale = cts[0].scale() * ctx.ring.params().rescale_factor(top - 1);
        let terms: Vec<(&Ciphertext, f64)> = cts.iter().zip(cs).collect();
        let sum = ctx.eval.weighted_sum_new(&terms, scale).unwrap();
        // The same words as add_scaled_assign of each term onto a zero
        // ciphertext at the lowest level.
        let mut want = cts[1].clone();
        ctx.eval.mul_int_assign(&mut want, 0).unwrap();
        want.set_scale(scale);
        for &(x, c) in &terms {
            ctx.eval.add_scaled_assign(&mut want, x, c).unwrap();
        }
        assert_eq!(sum, want, "{}", ctx.name);
        assert_eq!(sum.level(), top - 1);
        let mut sum = sum;
        ctx.eval.rescale_assign(&mut sum).unwrap();
        let expect: Vec<C64> = (0..xs[0].len())
            .map(|j| (0..3).fold(C64::default(), |acc, k| acc + xs[k][j].scale(cs[k])))
            .collect();
        assert!(ctx.precision("weighted sum", &expect, &sum) >= bar(&ctx, 17.0));
        assert!(matches!(
            ctx.eval.weighted_sum_new(&[], scale),
            Err(Error::Encoding(_))
        ));
        // In-place addition: the words of add_new, the lower operand kept.
        let mut low = cts[1].clone();
        ctx.eval.add_assign(&mut low, &cts[0]).unwrap();
        assert_eq!(low, ctx.eval.add_new(&cts[0], &cts[1]).unwrap());
        let mut high = cts[0].clone();
        assert!(matches!(
            ctx.eval.add_assign(&mut high, &cts[1]),
            Err(Error::LevelExhausted { .. })
        ));
    }
}
