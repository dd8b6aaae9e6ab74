//! The vector unit's pointwise operations over one limb.
//!
//! Each takes one modulus; a multi-limb (RNS) operation is one call per limb
//! with that limb's modulus, which is how the device's job batches run them.
//! All inputs must be reduced (`< q`); outputs are reduced.

use crate::modulus::Modulus;

fn check_lengths(lengths: &[usize]) {
    assert!(
        lengths.windows(2).all(|w| w[0] == w[1]),
        "vector operands must have equal lengths"
    );
}

/// `out[i] = a[i] + b[i] mod q`.
pub fn add(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    check_lengths(&[a.len(), b.len(), out.len()]);
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.add(x, y);
    }
}

/// `out[i] = a[i] - b[i] mod q`.
pub fn sub(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    check_lengths(&[a.len(), b.len(), out.len()]);
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.sub(x, y);
    }
}

/// `out[i] = a[i] · b[i] mod q`.
pub fn mul(m: &Modulus, a: &[u32], b: &[u32], out: &mut [u32]) {
    check_lengths(&[a.len(), b.len(), out.len()]);
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = m.mul(x, y);
    }
}

/// `out[i] = a[i] · c mod q` for a reduced constant `c`.
pub fn mul_const(m: &Modulus, a: &[u32], c: u32, out: &mut [u32]) {
    check_lengths(&[a.len(), out.len()]);
    for (o, &x) in out.iter_mut().zip(a) {
        *o = m.mul(x, c);
    }
}

/// Multiply-accumulate: `acc[i] = acc[i] + a[i] · b[i] mod q`.
pub fn mac(m: &Modulus, a: &[u32], b: &[u32], acc: &mut [u32]) {
    check_lengths(&[a.len(), b.len(), acc.len()]);
    for ((o, &x), &y) in acc.iter_mut().zip(a).zip(b) {
        *o = m.add(*o, m.mul(x, y));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prime::ntt_primes;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    proptest! {
        #[test]
        fn pointwise_ops_match_bigint(bits in 17u32..=31, values in prop::collection::vec(any::<(u32, u32, u32)>(), 1..64), c: u32) {
            let q = ntt_primes(bits, 4).next().unwrap();
            let m = Modulus::new(q).unwrap();
            let a: Vec<u32> = values.iter().map(|v| (v.0 as u64 % q) as u32).collect();
            let b: Vec<u32> = values.iter().map(|v| (v.1 as u64 % q) as u32).collect();
            let d: Vec<u32> = values.iter().map(|v| (v.2 as u64 % q) as u32).collect();
            let c = (c as u64 % q) as u32;
            let n = a.len();
            let (mut s, mut t, mut p, mut k) = (vec![0; n], vec![0; n], vec![0; n], vec![0; n]);
            add(&m, &a, &b, &mut s);
            sub(&m, &a, &b, &mut t);
            mul(&m, &a, &b, &mut p);
            mul_const(&m, &a, c, &mut k);
            let mut acc = d.clone();
            mac(&m, &a, &b, &mut acc);
            for i in 0..n {
                let (x, y, z) = (a[i] as u128, b[i] as u128, d[i] as u128);
                let q = q as u128;
                prop_assert_eq!(s[i] as u128, (x + y) % q);
                prop_assert_eq!(t[i] as u128, (x + q - y) % q);
                prop_assert_eq!(p[i] as u128, x * y % q);
                prop_assert_eq!(k[i] as u128, x * c as u128 % q);
                prop_assert_eq!(acc[i] as u128, (z + x * y) % q);
            }
        }
    }
}
