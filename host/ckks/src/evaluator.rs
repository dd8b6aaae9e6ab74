//! The CKKS evaluator: additions, plaintext / constant / ciphertext
//! products, relinearisation and rotations by hybrid key switching,
//! rescale and level management.
//!
//! Naming follows the workspace rule: `op_new(&in) -> out` allocates,
//! `op_assign(&mut x, …)` works in place. Binary operations bring both
//! operands to the lower level first (dropping limbs is exact).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::ciphertext::{Ciphertext, Plaintext, check_id};
use crate::error::{Error, Result};
use crate::keys::{
    EvaluationKeys, SwitchingKey, galois_element_conjugate, galois_element_for_rotation,
};
use crate::ring::{Ring, RnsPoly, f64_int_mod};

/// Largest relative difference between scales that still count as equal
/// for additions: far below any precision CKKS delivers.
const SCALE_TOLERANCE: f64 = 1e-9;

/// Largest integer constant (`2^500`) an addition or product by a real
/// constant may use: far above any `c · scale` that can still decrypt
/// (with double-prime scaling a leaf of the polynomial evaluator sits at
/// about 2^120), so only nonsense is refused.
const MAX_INT_CONST: f64 = 3.273_390_607_896_142e150;

/// Homomorphic operations on ciphertexts of one parameter set.
pub struct Evaluator {
    ring: Arc<Ring>,
    keys: EvaluationKeys,
    /// NTT-slot permutation of each Galois key's element.
    perms: HashMap<usize, Vec<u32>>,
}

impl Evaluator {
    /// Evaluator with the given evaluation keys (which must belong to the
    /// ring's parameter set).
    pub fn new(ring: Arc<Ring>, keys: EvaluationKeys) -> Result<Self> {
        let id = ring.params().id();
        if let Some(rlk) = &keys.relin {
            check_id(id, rlk.0.params_id)?;
        }
        let mut perms = HashMap::new();
        for (&g, key) in &keys.galois {
            check_id(id, key.key.params_id)?;
            perms.insert(g, ring.automorphism_permutation(g));
        }
        Ok(Evaluator { ring, keys, perms })
    }

    /// The ring.
    pub fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    fn check(&self, ct: &Ciphertext) -> Result<()> {
        check_id(self.ring.params().id(), ct.params_id)
    }

    fn check_degree(ct: &Ciphertext, expected: usize) -> Result<()> {
        if ct.degree() == expected {
            Ok(())
        } else {
            Err(Error::BadDegree {
                degree: ct.degree(),
                expected,
            })
        }
    }

    fn check_scales(a: f64, b: f64) -> Result<()> {
        if ((a - b) / a).abs() <= SCALE_TOLERANCE {
            Ok(())
        } else {
            Err(Error::ScaleMismatch { a, b })
        }
    }

    /// Drops `ct` to `level` (exact: the value modulo a divisor of `Q`).
    pub fn drop_level_assign(&self, ct: &mut Ciphertext, level: usize) -> Result<()> {
        self.check(ct)?;
        if level > ct.level {
            return Err(Error::BadLevel {
                level,
                max: ct.level,
            });
        }
        let limbs = self.ring.params().limbs_at(level);
        for c in &mut ct.c {
            c.truncate_q(limbs);
        }
        ct.level = level;
        Ok(())
    }

    /// Copies of `a` and `b` at their common (lower) level.
    /// `a` and `b` at their common (lower) level, copying only the one
    /// that has to drop limbs.
    fn aligned<'c>(
        &self,
        a: &'c Ciphertext,
        b: &'c Ciphertext,
    ) -> Result<(Cow<'c, Ciphertext>, Cow<'c, Ciphertext>)> {
        self.check(a)?;
        self.check(b)?;
        let level = a.level.min(b.level);
        let at = |x: &'c Ciphertext| -> Result<Cow<'c, Ciphertext>> {
            if x.level == level {
                Ok(Cow::Borrowed(x))
            } else {
                // Copy only the limbs that stay.
                let limbs = self.ring.params().limbs_at(level);
                Ok(Cow::Owned(Ciphertext {
                    c: x.c.iter().map(|c| c.restrict_q(limbs)).collect(),
                    scale: x.scale,
                    level,
                    params_id: x.params_id,
                }))
            }
        };
        Ok((at(a)?, at(b)?))
    }

    fn add_sub(&self, a: &Ciphertext, b: &Ciphertext, sub: bool) -> Result<Ciphertext> {
        Self::check_degree(b, a.degree())?;
        Self::check_scales(a.scale, b.scale)?;
        let (out, b) = self.aligned(a, b)?;
        let mut out = out.into_owned();
        for (x, y) in out.c.iter_mut().zip(&b.c) {
            if sub {
                self.ring.sub_assign(x, y);
            } else {
                self.ring.add_assign(x, y);
            }
        }
        Ok(out)
    }

    /// `a + b` (same degree and scale).
    pub fn add_new(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.add_sub(a, b, false)
    }

    /// `a += b` (same degree and scale; `a` at `b`'s level or below, so
    /// nothing is copied: `b`'s extra limbs are ignored, which is exact).
    pub fn add_assign(&self, a: &mut Ciphertext, b: &Ciphertext) -> Result<()> {
        self.check(a)?;
        self.check(b)?;
        Self::check_degree(b, a.degree())?;
        Self::check_scales(a.scale, b.scale)?;
        if b.level < a.level {
            return Err(Error::LevelExhausted {
                op: "addition in place",
                level: b.level,
                needed: a.level,
            });
        }
        let be = self.ring.backend();
        for (x, y) in a.c.iter_mut().zip(&b.c) {
            for i in 0..x.q_limbs() {
                be.add_assign(i, x.limb_mut(i), y.limb(i));
            }
        }
        Ok(())
    }

    /// `a - b` (same degree and scale).
    pub fn sub_new(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.add_sub(a, b, true)
    }

    /// `ct = -ct`.
    pub fn neg_assign(&self, ct: &mut Ciphertext) -> Result<()> {
        self.check(ct)?;
        for c in &mut ct.c {
            self.ring.neg_assign(c);
        }
        Ok(())
    }

    /// Truncated copy of a plaintext's polynomial at `level`.
    fn plain_at(&self, pt: &Plaintext, level: usize) -> Result<RnsPoly> {
        check_id(self.ring.params().id(), pt.params_id)?;
        if pt.level < level {
            return Err(Error::LevelExhausted {
                op: "plaintext operand",
                level: pt.level,
                needed: level,
            });
        }
        let mut p = pt.poly.clone();
        p.truncate_q(self.ring.params().limbs_at(level));
        Ok(p)
    }

    /// `ct += pt` (same scale; the plaintext must be at the ciphertext's
    /// level or above).
    pub fn add_plain_assign(&self, ct: &mut Ciphertext, pt: &Plaintext) -> Result<()> {
        self.check(ct)?;
        Self::check_scales(ct.scale, pt.scale)?;
        let p = self.plain_at(pt, ct.level)?;
        self.ring.add_assign(&mut ct.c[0], &p);
        Ok(())
    }

    /// `ct ·= pt`; the scale becomes the product of the scales (rescale
    /// afterwards).
    pub fn mul_plain_assign(&self, ct: &mut Ciphertext, pt: &Plaintext) -> Result<()> {
        self.check(ct)?;
        let p = self.plain_at(pt, ct.level)?;
        for c in &mut ct.c {
            self.ring.mul_assign(c, &p);
        }
        ct.scale *= pt.scale;
        Ok(())
    }

    /// Adds the real constant `c` to every slot: `round(c · scale)` added to
    /// the constant coefficient, which in the NTT domain is the same value
    /// in every evaluation.
    pub fn add_const_assign(&self, ct: &mut Ciphertext, c: f64) -> Result<()> {
        self.check(ct)?;
        let v = (c * ct.scale).round();
        if !v.is_finite() || v.abs() >= MAX_INT_CONST {
            return Err(Error::Encoding(format!("constant {c} × scale overflows")));
        }
        let be = self.ring.backend();
        for i in 0..ct.c[0].q_limbs() {
            let r = f64_int_mod(v, be.moduli()[i].value());
            be.add_const_assign(i, ct.c[0].limb_mut(i), r);
        }
        Ok(())
    }

    /// Multiplies by an integer constant: no rescale, scale and level kept.
    pub fn mul_int_assign(&self, ct: &mut Ciphertext, k: i64) -> Result<()> {
        self.check(ct)?;
        for c in &mut ct.c {
            self.ring.mul_int_assign(c, k.into());
        }
        Ok(())
    }

    /// Multiplies by a real constant encoded as `round(c · D_ℓ)` with `D_ℓ`
    /// the divisor of the next rescale ([`crate::Params::rescale_factor`]),
    /// so that after [`Evaluator::rescale_assign`] the scale is back exactly
    /// where it was. Needs a level to rescale.
    pub fn mul_const_assign(&self, ct: &mut Ciphertext, c: f64) -> Result<()> {
        self.check(ct)?;
        if ct.level == 0 {
            return Err(Error::LevelExhausted {
                op: "constant multiplication",
                level: 0,
                needed: 1,
            });
        }
        let q_l = self.ring.params().rescale_factor(ct.level);
        let v = (c * q_l).round();
        if !v.is_finite() || v.abs() >= MAX_INT_CONST {
            return Err(Error::Encoding(format!("constant {c} too large")));
        }
        for p in &mut ct.c {
            self.ring.mul_f64_int_assign(p, v);
        }
        ct.scale *= q_l;
        Ok(())
    }

    /// Tensor product `(a_0 b_0, a_0 b_1 + a_1 b_0, a_1 b_1)`: a degree-2
    /// ciphertext at the common level, scale the product of the scales.
    pub fn mul_new(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        Self::check_degree(a, 1)?;
        Self::check_degree(b, 1)?;
        self.check(a)?;
        self.check(b)?;
        // At the common level, reading only the limbs that stay (no copy of
        // the higher operand).
        let level = a.level.min(b.level);
        let limbs = self.ring.params().limbs_at(level);
        let be = self.ring.backend();
        // Every limb of the three is written below.
        let mut d = [0, 1, 2].map(|_| self.ring.uninit(limbs, 0, true));
        for i in 0..limbs {
            let (a0, a1, b0, b1) = (
                a.c[0].limb(i),
                a.c[1].limb(i),
                b.c[0].limb(i),
                b.c[1].limb(i),
            );
            be.mul(i, a0, b0, d[0].limb_mut(i));
            be.mul(i, a0, b1, d[1].limb_mut(i));
            be.mac(i, a1, b0, d[1].limb_mut(i));
            be.mul(i, a1, b1, d[2].limb_mut(i));
        }
        Ok(Ciphertext {
            c: d.into(),
            scale: a.scale * b.scale,
            level,
            params_id: a.params_id,
        })
    }

    /// Hybrid key switching of `d` (NTT form, `Q_ℓ`): digits extended to
    /// `Q_ℓ ∪ P`, inner product with the key, division by `P`.
    fn key_switch(&self, d: &RnsPoly, key: &SwitchingKey) -> (RnsPoly, RnsPoly) {
        let (mut k0, mut k1) = self.ring.decompose_mac(d, &key.digits);
        self.ring.mod_down(&mut k0);
        self.ring.mod_down(&mut k1);
        (k0, k1)
    }

    /// Degree 2 → degree 1 with the relinearisation key.
    pub fn relinearize_assign(&self, ct: &mut Ciphertext) -> Result<()> {
        self.check(ct)?;
        Self::check_degree(ct, 2)?;
        let rlk = self.keys.relin.as_ref().ok_or(Error::InvalidParams(
            "no relinearisation key was given to the evaluator".into(),
        ))?;
        let d2 = ct.c.pop().expect("degree 2");
        let (k0, k1) = self.key_switch(&d2, &rlk.0);
        self.ring.add_assign(&mut ct.c[0], &k0);
        self.ring.add_assign(&mut ct.c[1], &k1);
        Ok(())
    }

    /// Divides by the level's primes (their product `D_ℓ`, rounding):
    /// level − 1, scale / `D_ℓ`.
    pub fn rescale_assign(&self, ct: &mut Ciphertext) -> Result<()> {
        self.check(ct)?;
        if ct.level == 0 {
            return Err(Error::LevelExhausted {
                op: "rescale",
                level: 0,
                needed: 1,
            });
        }
        let q_l = self.ring.params().rescale_factor(ct.level);
        for c in &mut ct.c {
            self.ring.rescale(c);
        }
        ct.level -= 1;
        ct.scale /= q_l;
        Ok(())
    }

    /// `a · b`, relinearised and rescaled: the unit of multiplicative
    /// depth ([`Evaluator::mul_new`] then
    /// [`Evaluator::relinearize_rescale_assign`]).
    pub fn mul_relin_rescale_new(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        let level = a.level.min(b.level);
        if level == 0 {
            return Err(Error::LevelExhausted {
                op: "multiplication",
                level,
                needed: 1,
            });
        }
        let mut prod = self.mul_new(a, b)?;
        self.relinearize_rescale_assign(&mut prod)?;
        Ok(prod)
    }

    /// Relinearises a degree-2 ciphertext and rescales it, with the
    /// division by `P` of the key switching and the rescale fused
    /// ([`Ring::mod_down_rescale`]): `(d_i·P + k_i) / (P·D_ℓ)` in one
    /// rounding, which saves `ℓ + 1` NTTs per polynomial against
    /// [`Evaluator::relinearize_assign`] then [`Evaluator::rescale_assign`]
    /// (the results agree to one unit of rounding).
    pub fn relinearize_rescale_assign(&self, ct: &mut Ciphertext) -> Result<()> {
        self.check(ct)?;
        Self::check_degree(ct, 2)?;
        if ct.level == 0 {
            return Err(Error::LevelExhausted {
                op: "rescale",
                level: 0,
                needed: 1,
            });
        }
        let rlk = self.keys.relin.as_ref().ok_or(Error::InvalidParams(
            "no relinearisation key was given to the evaluator".into(),
        ))?;
        let d2 = ct.c.pop().expect("degree 2");
        let (mut k0, mut k1) = self.ring.decompose_mac(&d2, &rlk.0.digits);
        self.ring.add_times_p(&mut k0, &ct.c[0]);
        self.ring.add_times_p(&mut k1, &ct.c[1]);
        self.ring.mod_down_rescale(&mut k0);
        self.ring.mod_down_rescale(&mut k1);
        let q_l = self.ring.params().rescale_factor(ct.level);
        ct.c = vec![k0, k1];
        ct.scale /= q_l;
        ct.level -= 1;
        Ok(())
    }

    /// `acc += c · x` without a rescale: `x` (at `acc`'s level or above,
    /// degree at most `acc`'s) is multiplied by the integer
    /// `round(c · scale(acc) / scale(x))`. Exact up to that rounding, whose
    /// relative size is `scale(x) / (2·scale(acc))`: use it when `acc`'s
    /// scale is a prime or more above `x`'s (Lattigo's `MulThenAdd`).
    pub fn add_scaled_assign(&self, acc: &mut Ciphertext, x: &Ciphertext, c: f64) -> Result<()> {
        self.check(acc)?;
        self.check(x)?;
        if x.degree() > acc.degree() {
            return Err(Error::BadDegree {
                degree: x.degree(),
                expected: acc.degree(),
            });
        }
        if x.level < acc.level {
            return Err(Error::LevelExhausted {
                op: "scaled addition",
                level: x.level,
                needed: acc.level,
            });
        }
        let k = (c * acc.scale / x.scale).round();
        if !k.is_finite() || k.abs() >= MAX_INT_CONST {
            return Err(Error::Encoding(format!(
                "coefficient {c} needs the integer {k:e}, beyond 2^500"
            )));
        }
        for (a, xp) in acc.c.iter_mut().zip(&x.c) {
            self.ring.mac_f64_int(a, xp, k);
        }
        Ok(())
    }

    /// `Σ c_i · x_i` at scale `scale`, without a rescale, at the lowest
    /// level of the terms: the result of [`Evaluator::add_scaled_assign`]
    /// of every term onto a zero ciphertext (the same words), computed in
    /// one pass per limb over all the terms ([`crate::Backend::lincomb`])
    /// instead of one read and write of the accumulator per term.
    pub fn weighted_sum_new(&self, terms: &[(&Ciphertext, f64)], scale: f64) -> Result<Ciphertext> {
        let Some(&(first, _)) = terms.first() else {
            return Err(Error::Encoding("a weighted sum needs a term".into()));
        };
        for &(x, _) in terms {
            self.check(x)?;
        }
        let level = terms.iter().map(|(x, _)| x.level).min().expect("non-empty");
        let degree = terms
            .iter()
            .map(|(x, _)| x.degree())
            .max()
            .expect("non-empty");
        let ks = terms
            .iter()
            .map(|&(x, c)| {
                let k = (c * scale / x.scale).round();
                if !k.is_finite() || k.abs() >= MAX_INT_CONST {
                    Err(Error::Encoding(format!(
                        "coefficient {c} needs the integer {k:e}, beyond 2^500"
                    )))
                } else {
                    Ok(k)
                }
            })
            .collect::<Result<Vec<f64>>>()?;
        let limbs = self.ring.params().limbs_at(level);
        let be = self.ring.backend();
        let mut c = Vec::with_capacity(degree + 1);
        for part in 0..=degree {
            // Every limb is written by its lincomb (zero for no term).
            let mut acc = self.ring.uninit(limbs, 0, true);
            let (xs, kv): (Vec<&RnsPoly>, Vec<f64>) = terms
                .iter()
                .zip(&ks)
                .filter(|((x, _), _)| x.degree() >= part)
                .map(|((x, _), &k)| (&x.c[part], k))
                .unzip();
            for i in 0..limbs {
                let q = be.moduli()[i].value();
                let inputs: Vec<&[u32]> = xs.iter().map(|x| x.limb(i)).collect();
                let consts: Vec<u32> = kv.iter().map(|&k| f64_int_mod(k, q)).collect();
                be.lincomb(i, &inputs, &consts, acc.limb_mut(i));
            }
            c.push(acc);
        }
        Ok(Ciphertext {
            c,
            scale,
            level,
            params_id: first.params_id,
        })
    }

    /// Applies `X ↦ X^g` and switches back to `s` with the Galois key of `g`.
    pub fn automorphism_new(&self, ct: &Ciphertext, g: usize) -> Result<Ciphertext> {
        self.check(ct)?;
        Self::check_degree(ct, 1)?;
        if g == 1 {
            return Ok(ct.clone());
        }
        let key = self
            .keys
            .galois
            .get(&g)
            .ok_or(Error::MissingGaloisKey { galois_element: g })?;
        let perm = &self.perms[&g];
        let c0 = self.ring.automorphism(&ct.c[0], perm);
        let c1 = self.ring.automorphism(&ct.c[1], perm);
        let (mut k0, k1) = self.key_switch(&c1, &key.key);
        self.ring.add_assign(&mut k0, &c0);
        Ok(Ciphertext {
            c: vec![k0, k1],
            scale: ct.scale,
            level: ct.level,
            params_id: ct.params_id,
        })
    }

    /// Rotates the slots left by `k` (right for negative `k`).
    pub fn rotate_new(&self, ct: &Ciphertext, k: i64) -> Result<Ciphertext> {
        let g = galois_element_for_rotation(self.ring.params().n(), k);
        self.automorphism_new(ct, g)
    }

    /// Complex conjugate of every slot.
    pub fn conjugate_new(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        self.automorphism_new(ct, galois_element_conjugate(self.ring.params().n()))
    }
}

#[cfg(test)]
mod tests;
