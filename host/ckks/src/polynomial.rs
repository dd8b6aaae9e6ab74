//! Polynomial evaluation in the Chebyshev basis by baby-step giant-step
//! (Bossuat et al. 2021, as in Lattigo), on top of the [`Evaluator`] only.
//!
//! `p(x) = Σ c_k T_k(x)` on `[-1, 1]` is split recursively at giant steps
//! `T_(2^k)`: with `n = 2^k`, `T_(n+j) = 2·T_n·T_j - T_(n-j)` gives
//! `p = q·T_n + r` (Chebyshev division, [`ChebyshevPoly::divide`]). Leaves
//! of degree `≤ 2^l` are linear combinations of the baby steps
//! `T_1 … T_(2^l)`. Baby steps are computed on demand and memoised, so odd
//! or even polynomials (whose leaves use only odd or even `T_i`) cost fewer
//! products.
//!
//! **Scale management.** Every sub-polynomial is evaluated towards an
//! exact target scale: the leaf is accumulated at `t·q_ℓ` with integer
//! constants `round(c_i · t·q_ℓ / scale(T_i))` (integers of about the size
//! of `q_ℓ`, no rescale per term) and rescaled once by `q_ℓ`; a quotient
//! `q` is evaluated at `t·q_ℓ / scale(T_n)` so that `q·T_n` rescaled by
//! `q_ℓ` lands on `t`. Here `q_ℓ` is the divisor of the rescale at level
//! `ℓ`: one prime, or the product of two with double-prime scaling. The result's scale equals the requested target up to
//! `f64` rounding, whatever the primes.
//!
//! **Depth and cost.** `T_i` costs `ceil(log2 i)` levels and a leaf one
//! more (its real coefficients need a rescale). [`plan`] tries every
//! baby-step bound `2^l` and keeps the least depth, then the fewest
//! products; [`depth`] is the resulting figure, which is the optimal
//! `ceil(log2(d + 1))` for most degrees and one more for some (degrees
//! just below a power of two, where every leaf reaches its top baby step).

use std::collections::HashMap;
use std::rc::Rc;

use crate::ciphertext::Ciphertext;
use crate::error::{Error, Result};
use crate::evaluator::Evaluator;

/// A polynomial in the Chebyshev basis on `[-1, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChebyshevPoly {
    /// `c_0 … c_d`.
    pub coeffs: Vec<f64>,
}

impl ChebyshevPoly {
    /// From coefficients (trailing zeros are dropped).
    pub fn new(mut coeffs: Vec<f64>) -> Self {
        while coeffs.len() > 1 && coeffs[coeffs.len() - 1] == 0.0 {
            coeffs.pop();
        }
        if coeffs.is_empty() {
            coeffs.push(0.0);
        }
        ChebyshevPoly { coeffs }
    }

    /// Chebyshev interpolant of `f` of degree `d` (at the `d + 1`
    /// Chebyshev nodes of the first kind).
    pub fn interpolate(f: impl Fn(f64) -> f64, d: usize) -> Self {
        let n = d + 1;
        let nodes: Vec<f64> = (0..n)
            .map(|j| (std::f64::consts::PI * (j as f64 + 0.5) / n as f64).cos())
            .collect();
        let values: Vec<f64> = nodes.iter().map(|&x| f(x)).collect();
        let coeffs = (0..n)
            .map(|k| {
                let s: f64 = (0..n)
                    .map(|j| {
                        values[j]
                            * (std::f64::consts::PI * k as f64 * (j as f64 + 0.5) / n as f64).cos()
                    })
                    .sum();
                s * if k == 0 { 1.0 } else { 2.0 } / n as f64
            })
            .collect();
        ChebyshevPoly::new(coeffs)
    }

    /// Degree (index of the last non-zero coefficient).
    pub fn degree(&self) -> usize {
        self.coeffs.len() - 1
    }

    /// `p(x)` in `f64` by Clenshaw's recurrence.
    pub fn eval(&self, x: f64) -> f64 {
        let (mut b1, mut b2) = (0.0, 0.0);
        for &c in self.coeffs.iter().skip(1).rev() {
            let b0 = 2.0 * x * b1 - b2 + c;
            b2 = b1;
            b1 = b0;
        }
        x * b1 - b2 + self.coeffs[0]
    }

    /// `(q, r)` with `p = q·T_n + r`, `deg r < n`, for `n ≤ deg p ≤ 2n`.
    pub fn divide(&self, n: usize) -> (ChebyshevPoly, ChebyshevPoly) {
        let d = self.degree();
        assert!(n >= 1 && n <= d && d <= 2 * n, "divide needs n ≤ deg ≤ 2n");
        let mut q = vec![0.0; d - n + 1];
        let mut r = self.coeffs[..n].to_vec();
        q[0] = self.coeffs[n];
        for j in 1..=d - n {
            let c = self.coeffs[n + j];
            q[j] = 2.0 * c;
            // T_(n+j) = 2·T_n·T_j - T_(n-j), and 1 ≤ j ≤ n.
            r[n - j] -= c;
        }
        (ChebyshevPoly::new(q), ChebyshevPoly::new(r))
    }

    /// Whether only odd (`Some(true)`) or only even (`Some(false)`)
    /// coefficients are non-zero.
    pub fn parity(&self) -> Option<bool> {
        let nz = |parity: usize| {
            self.coeffs
                .iter()
                .enumerate()
                .any(|(k, &c)| k % 2 == parity && c != 0.0)
        };
        match (nz(0), nz(1)) {
            (false, _) => Some(true),
            (true, false) => Some(false),
            _ => None,
        }
    }
}

/// Levels a baby step `T_i` costs: `ceil(log2 i)`.
fn power_depth(i: usize) -> usize {
    if i <= 1 {
        0
    } else {
        (usize::BITS - (i - 1).leading_zeros()) as usize
    }
}

/// Smallest power of two strictly below `d` (the giant step a node of
/// degree `d > 2^l` splits at).
fn giant_for(d: usize) -> usize {
    debug_assert!(d >= 2);
    1 << (usize::BITS - 1 - (d - 1).leading_zeros())
}

/// Levels the evaluation of `p` consumes with baby steps up to `2^l`.
fn depth_with(p: &ChebyshevPoly, l: u32) -> usize {
    let d = p.degree();
    if d == 0 {
        return 0;
    }
    if d <= 1 << l {
        return power_depth(d) + 1;
    }
    let n = giant_for(d);
    let (q, r) = p.divide(n);
    (depth_with(&q, l).max(power_depth(n)) + 1).max(depth_with(&r, l))
}

/// Adds the Chebyshev powers `T_i` needs (and `i` itself) to `set`.
fn need_power(i: usize, set: &mut std::collections::BTreeSet<usize>) {
    if i <= 1 || !set.insert(i) {
        return;
    }
    let a = giant_for(i);
    need_power(a, set);
    need_power(i - a, set);
    if 2 * a != i {
        need_power(a - (i - a), set);
    }
}

/// Collects the powers and counts the giant-step products of `p`.
fn plan_products(p: &ChebyshevPoly, l: u32, set: &mut std::collections::BTreeSet<usize>) -> usize {
    let d = p.degree();
    if d == 0 {
        return 0;
    }
    if d <= 1 << l {
        for i in (1..=d).filter(|&i| p.coeffs[i] != 0.0) {
            need_power(i, set);
        }
        return 0;
    }
    let n = giant_for(d);
    need_power(n, set);
    let (q, r) = p.divide(n);
    1 + plan_products(&q, l, set) + plan_products(&r, l, set)
}

/// The evaluation plan of `p`: baby-step bound `2^l`, levels consumed and
/// ciphertext-ciphertext products (baby and giant steps plus the products
/// of the recursion). `l` is chosen for the least depth first, then the
/// fewest products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// `log2` of the baby-step bound.
    pub baby_log: u32,
    /// Levels consumed.
    pub depth: usize,
    /// Ciphertext-ciphertext products (each relinearised and rescaled).
    pub products: usize,
}

fn all_plans(p: &ChebyshevPoly) -> impl Iterator<Item = Plan> + '_ {
    let d = p.degree();
    let m = (usize::BITS - d.leading_zeros()).max(1);
    (1..=m).map(move |l| {
        let mut set = std::collections::BTreeSet::new();
        let giants = plan_products(p, l, &mut set);
        Plan {
            baby_log: l,
            depth: depth_with(p, l),
            products: giants + set.len(),
        }
    })
}

/// The least-depth plan of `p` (fewest products among those): the depth is
/// `ceil(log2(d + 1))`, at the price of up to about `d / 2` products for
/// degrees just below a power of two.
pub fn plan(p: &ChebyshevPoly) -> Plan {
    all_plans(p)
        .min_by_key(|plan| (plan.depth, plan.products))
        .expect("m ≥ 1")
}

/// The plan with the fewest products among those consuming at most
/// `max_depth` levels (`None` if even the least depth is more), for
/// callers with levels to spare: degree 1023 takes 520 products at depth
/// 10 but about 70 at depth 11.
pub fn plan_within(p: &ChebyshevPoly, max_depth: usize) -> Option<Plan> {
    all_plans(p)
        .filter(|plan| plan.depth <= max_depth)
        .min_by_key(|plan| (plan.products, plan.depth))
}

/// Levels [`PolynomialEvaluator::evaluate`] consumes for `p`.
pub fn depth(p: &ChebyshevPoly) -> usize {
    plan(p).depth
}

/// Evaluates Chebyshev polynomials on ciphertexts.
pub struct PolynomialEvaluator<'a> {
    eval: &'a Evaluator,
}

/// Memoised Chebyshev powers `T_i(x)` of one input (shared, not copied:
/// a ciphertext at N = 2^16 is megabytes).
struct Powers {
    t: HashMap<usize, Rc<Ciphertext>>,
}

impl<'a> PolynomialEvaluator<'a> {
    /// Wraps an evaluator (which needs a relinearisation key).
    pub fn new(eval: &'a Evaluator) -> Self {
        PolynomialEvaluator { eval }
    }

    /// `p(ct)` at scale `target_scale` (exactly, up to `f64` rounding) with
    /// the least-depth [`plan`]. Fails with [`Error::LevelExhausted`] if
    /// `ct` has fewer than [`depth`]`(p)` levels left.
    pub fn evaluate(
        &self,
        ct: &Ciphertext,
        p: &ChebyshevPoly,
        target_scale: f64,
    ) -> Result<Ciphertext> {
        self.evaluate_with(
            ct,
            p,
            target_scale,
            plan(&ChebyshevPoly::new(p.coeffs.clone())),
        )
    }

    /// `p((2x - a - b) / (b - a))` for `x` in `[a, b]`: the affine change
    /// of variable to `[-1, 1]` costs one level (a real constant multiply
    /// and a rescale) before the least-depth plan.
    pub fn evaluate_on(
        &self,
        ct: &Ciphertext,
        p: &ChebyshevPoly,
        (a, b): (f64, f64),
        target_scale: f64,
    ) -> Result<Ciphertext> {
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(Error::Encoding(format!(
                "interval [{a}, {b}] is empty or not finite"
            )));
        }
        let needed = depth(&ChebyshevPoly::new(p.coeffs.clone())) + 1;
        if ct.level() < needed {
            return Err(Error::LevelExhausted {
                op: "polynomial evaluation on an interval",
                level: ct.level(),
                needed,
            });
        }
        let mut y = ct.clone();
        self.eval.mul_const_assign(&mut y, 2.0 / (b - a))?;
        self.eval.rescale_assign(&mut y)?;
        self.eval.add_const_assign(&mut y, -(a + b) / (b - a))?;
        self.evaluate(&y, p, target_scale)
    }

    /// Like [`PolynomialEvaluator::evaluate`] with a given plan (from
    /// [`plan`] or [`plan_within`] of the same polynomial).
    pub fn evaluate_with(
        &self,
        ct: &Ciphertext,
        p: &ChebyshevPoly,
        target_scale: f64,
        plan: Plan,
    ) -> Result<Ciphertext> {
        let p = ChebyshevPoly::new(p.coeffs.clone());
        if p.coeffs.iter().any(|c| !c.is_finite()) {
            return Err(Error::Encoding("non-finite polynomial coefficient".into()));
        }
        let l = plan.baby_log;
        let needed = depth_with(&p, l);
        if ct.level() < needed {
            return Err(Error::LevelExhausted {
                op: "polynomial evaluation",
                level: ct.level(),
                needed,
            });
        }
        if p.degree() == 0 {
            // A constant: 0·ct + c_0 at the target scale.
            let mut out = ct.clone();
            self.eval.mul_int_assign(&mut out, 0)?;
            out.set_scale(target_scale);
            self.eval.add_const_assign(&mut out, p.coeffs[0])?;
            return Ok(out);
        }
        let mut powers = Powers {
            t: HashMap::from([(1, Rc::new(ct.clone()))]),
        };
        self.eval_node(&mut powers, &p, l, ct.level(), target_scale)
    }

    /// `T_i`, computing and memoising it (and what it needs) on demand:
    /// `T_(2a) = 2·T_a² - 1`, otherwise `T_i = 2·T_a·T_b - T_(a-b)` with
    /// `a` the largest power of two below `i` and `b = i - a`.
    fn power(&self, powers: &mut Powers, i: usize) -> Result<Rc<Ciphertext>> {
        if let Some(t) = powers.t.get(&i) {
            return Ok(Rc::clone(t));
        }
        let a = giant_for(i);
        let b = i - a;
        let ta = self.power(powers, a)?;
        let tb = self.power(powers, b)?;
        let mut prod = self.eval.mul_new(&ta, &tb)?;
        self.eval.mul_int_assign(&mut prod, 2)?;
        if a == b {
            // - T_0 = -1 at the product's scale.
            self.eval.add_const_assign(&mut prod, -1.0)?;
        } else {
            let tc = self.power(powers, a - b)?;
            self.eval.add_scaled_assign(&mut prod, &tc, -1.0)?;
        }
        self.eval.relinearize_rescale_assign(&mut prod)?;
        let prod = Rc::new(prod);
        powers.t.insert(i, Rc::clone(&prod));
        Ok(prod)
    }

    /// Level of a node's result given the input level.
    fn node_level(input_level: usize, p: &ChebyshevPoly, l: u32) -> usize {
        input_level - depth_with(p, l)
    }

    /// What a rescale at `level` divides by (one prime, or two with
    /// double-prime scaling).
    fn prime_at(&self, level: usize) -> f64 {
        self.eval.ring().params().rescale_factor(level)
    }

    fn eval_node(
        &self,
        powers: &mut Powers,
        p: &ChebyshevPoly,
        l: u32,
        input_level: usize,
        target: f64,
    ) -> Result<Ciphertext> {
        let d = p.degree();
        if d <= 1 << l {
            return self.eval_leaf(powers, p, target);
        }
        let n = giant_for(d);
        let (q, r) = p.divide(n);
        let giant = self.power(powers, n)?;
        // The product q·T_n sits at the lower of the two levels and is
        // rescaled by that level's prime.
        let prod_level = Self::node_level(input_level, &q, l).min(giant.level());
        let q_target = target * self.prime_at(prod_level) / giant.scale();
        let qc = self.eval_node(powers, &q, l, input_level, q_target)?;
        let mut res = self.eval.mul_relin_rescale_new(&qc, &giant)?;
        if r.degree() == 0 {
            self.eval.add_const_assign(&mut res, r.coeffs[0])?;
            return Ok(res);
        }
        let mut rc = self.eval_node(powers, &r, l, input_level, res.scale())?;
        // Add into whichever is at the lower level (no copy).
        if rc.level() <= res.level() {
            self.eval.add_assign(&mut rc, &res)?;
            // The sum carries `res`'s scale, as `add_new(&res, &rc)` would.
            rc.set_scale(res.scale());
            Ok(rc)
        } else {
            self.eval.add_assign(&mut res, &rc)?;
            Ok(res)
        }
    }

    /// `Σ c_i T_i` accumulated at scale `target · q_ℓ` and rescaled once.
    fn eval_leaf(&self, powers: &mut Powers, p: &ChebyshevPoly, target: f64) -> Result<Ciphertext> {
        let terms: Vec<usize> = (1..=p.degree()).filter(|&i| p.coeffs[i] != 0.0).collect();
        let Some(&top) = terms.last() else {
            return Err(Error::Encoding("constant leaf has no ciphertext".into()));
        };
        let ts = terms
            .iter()
            .map(|&i| self.power(powers, i))
            .collect::<Result<Vec<_>>>()?;
        let level = ts.iter().map(|t| t.level()).min().expect("non-empty");
        debug_assert_eq!(level, powers.t[&top].level());
        let tau = target * self.prime_at(level);
        // Σ c_i T_i at scale `tau`, in one pass per limb.
        let weighted: Vec<(&Ciphertext, f64)> = terms
            .iter()
            .zip(&ts)
            .map(|(&i, t)| (&**t, p.coeffs[i]))
            .collect();
        let mut acc = self.eval.weighted_sum_new(&weighted, tau)?;
        self.eval.add_const_assign(&mut acc, p.coeffs[0])?;
        self.eval.rescale_assign(&mut acc)?;
        Ok(acc)
    }
}

#[cfg(test)]
mod tests;
