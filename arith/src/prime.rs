//! NTT-friendly primes.
//!
//! A negacyclic NTT of size `N` modulo `q` needs a primitive `2N`-th root of
//! unity, which exists exactly when `q ≡ 1 (mod 2N)`. The accelerator's
//! Barrett unit wants every modulus to fill its word: a `b`-bit word holds
//! primes in `(2^(b-1), 2^b)`.

/// `a * b mod m` without overflow.
#[inline]
pub(crate) fn mul_mod_u64(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

/// `base^exp mod m` by square-and-multiply.
pub fn pow_mod_u64(mut base: u64, mut exp: u64, m: u64) -> u64 {
    let mut acc = 1 % m;
    base %= m;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul_mod_u64(acc, base, m);
        }
        base = mul_mod_u64(base, base, m);
        exp >>= 1;
    }
    acc
}

/// Deterministic primality test for every `u64`: Miller–Rabin with the
/// first twelve prime bases, which has no counterexample below 2^64.
pub fn is_prime(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in BASES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let mut d = n - 1;
    let mut s = 0;
    while d.is_multiple_of(2) {
        d /= 2;
        s += 1;
    }
    'bases: for a in BASES {
        let mut x = pow_mod_u64(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul_mod_u64(x, x, n);
            if x == n - 1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

/// Iterator over the primes `q ≡ 1 (mod 2^(log_n + 1))` with exactly `bits`
/// bits, largest first.
///
/// Every prime it yields supports negacyclic NTTs of every size
/// `N ≤ 2^log_n`. The order is deterministic, so a parameter set names its
/// primes reproducibly by their position.
pub fn ntt_primes(bits: u32, log_n: u32) -> impl Iterator<Item = u64> {
    assert!((2..=62).contains(&bits), "prime size must be 2..=62 bits");
    let step = 1u64 << (log_n + 1);
    let low = 1u64 << (bits - 1);
    let high = (1u64 << bits) - 1;
    // Largest candidate ≡ 1 (mod step) not above `high`.
    let start = if high >= 1 {
        (high - 1) / step * step + 1
    } else {
        0
    };
    let mut next = Some(start);
    core::iter::from_fn(move || {
        while let Some(candidate) = next {
            if candidate <= low {
                next = None;
                return None;
            }
            next = candidate.checked_sub(step);
            if is_prime(candidate) {
                return Some(candidate);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial_division(n: u64) -> bool {
        n >= 2
            && (2..)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
    }

    #[test]
    fn miller_rabin_agrees_with_trial_division() {
        for n in 0..20_000u64 {
            assert_eq!(is_prime(n), trial_division(n), "n = {n}");
        }
        for n in (1u64 << 31) - 2000..(1u64 << 31) {
            assert_eq!(is_prime(n), trial_division(n), "n = {n}");
        }
    }

    #[test]
    fn known_large_primes_and_composites() {
        assert!(is_prime(0xffff_ffff_ffff_ffc5)); // largest prime below 2^64
        assert!(is_prime((1 << 61) - 1));
        assert!(!is_prime(3_215_031_751)); // strong pseudoprime to 2, 3, 5, 7
        assert!(!is_prime(3_825_123_056_546_413_051)); // spsp to bases up to 23
    }

    #[test]
    fn ntt_primes_have_the_asked_shape() {
        for (bits, log_n) in [(18, 10), (30, 12), (30, 16), (31, 16), (50, 16)] {
            let primes: std::vec::Vec<u64> = ntt_primes(bits, log_n).take(8).collect();
            assert_eq!(primes.len(), 8, "bits {bits} log_n {log_n}");
            let mut previous = u64::MAX;
            for &q in primes.iter() {
                assert!(trial_or_mr(q));
                assert_eq!(q % (1 << (log_n + 1)), 1);
                assert_eq!(64 - q.leading_zeros(), bits);
                assert!(q < previous, "descending and distinct");
                previous = q;
            }
        }
    }

    fn trial_or_mr(q: u64) -> bool {
        if q < (1 << 40) {
            trial_division(q)
        } else {
            is_prime(q)
        }
    }
}
