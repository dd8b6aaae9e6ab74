//! Slow, obviously-correct oracles for tests (here and in the crates above).

use alloc::vec;
use alloc::vec::Vec;

use crate::modulus::Modulus;
use crate::ntt::bit_reverse;

/// Schoolbook product in `Z_q[X]/(X^N + 1)`, with 128-bit accumulation.
pub fn negacyclic_schoolbook(m: &Modulus, a: &[u32], b: &[u32]) -> Vec<u32> {
    assert_eq!(a.len(), b.len());
    let n = a.len();
    let q = m.value() as u128;
    // Separate positive and wrapped (negated) sums avoid signed arithmetic.
    let mut pos = vec![0u128; n];
    let mut neg = vec![0u128; n];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            let p = x as u128 * y as u128;
            if i + j < n {
                pos[i + j] += p;
            } else {
                neg[i + j - n] += p;
            }
        }
    }
    pos.iter()
        .zip(&neg)
        .map(|(&p, &g)| ((p % q + q - g % q) % q) as u32)
        .collect()
}

/// Evaluates `a` at `ψ^(2·rev(k) + 1)` for every `k` by Horner's rule:
/// the definition of the forward transform, in `O(N^2)`.
pub fn naive_negacyclic_ntt(m: &Modulus, psi: u32, a: &[u32]) -> Vec<u32> {
    let n = a.len();
    let log_n = n.trailing_zeros();
    (0..n)
        .map(|k| {
            let point = m.pow(psi, 2 * bit_reverse(k, log_n) as u64 + 1);
            a.iter()
                .rev()
                .fold(0u32, |acc, &c| m.add(m.mul(acc, point), c))
        })
        .collect()
}
