//! Roots of unity and twiddle factors one entry at a time, without tables
//! (`no_std`, no `alloc`): what a small firmware needs to load the device's
//! twiddle memories from the primes alone. The entries are exactly those of
//! [`NttPlan`](crate::NttPlan)'s tables (tested in `ntt`).

use crate::modulus::Modulus;

/// Reverses the low `bits` bits of `x`.
#[inline]
pub fn bit_reverse(x: usize, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        x.reverse_bits() >> (usize::BITS - bits)
    }
}

/// The canonical primitive `two_n`-th root of unity modulo `q`, or `None`
/// when `two_n` does not divide `q - 1` (or is not a power of two).
///
/// Canonical means: with `q - 1 = 2^e · odd` and `g` the smallest quadratic
/// non-residue, `ζ = g^odd` has order exactly `2^e`, and the root is
/// `ζ^(2^e / two_n)`. Roots of different orders are thus powers of one
/// another, which is what lets twiddle tables of different sizes nest.
pub fn canonical_root(modulus: &Modulus, two_n: u64) -> Option<u32> {
    let q = modulus.value() as u64;
    let e = (q - 1).trailing_zeros();
    if !two_n.is_power_of_two() || two_n.trailing_zeros() > e {
        return None;
    }
    let non_residue = (2..q)
        .find(|&g| modulus.pow(g as u32, (q - 1) / 2) as u64 == q - 1)
        .expect("every odd prime has a quadratic non-residue");
    let zeta = modulus.pow(non_residue as u32, (q - 1) >> e);
    Some(modulus.pow(zeta, 1u64 << (e - two_n.trailing_zeros())))
}

/// Largest `log2 N` a [`TwiddleGen`] serves.
pub const MAX_TWIDDLE_LOG_N: u32 = 20;

/// The entries of the bit-reversed twiddle tables of size `N`,
/// `ψ^rev(k)` and `ψ^(-rev(k)) / 2`, computed on demand from the
/// `log2 N` repeated squares of `ψ` and `ψ^-1` (at most `log2 N`
/// multiplications per entry).
#[derive(Clone, Debug)]
pub struct TwiddleGen {
    modulus: Modulus,
    log_n: u32,
    /// `ψ^(2^j)` for `j < log_n`.
    squares: [u32; MAX_TWIDDLE_LOG_N as usize],
    /// `ψ^(-2^j)` for `j < log_n`.
    inverse_squares: [u32; MAX_TWIDDLE_LOG_N as usize],
}

impl TwiddleGen {
    /// The generator for size `n` modulo `modulus`, or `None` when `n` is
    /// not a power of two in `2 ..= 2^MAX_TWIDDLE_LOG_N` or `modulus` has
    /// no primitive `2n`-th root of unity.
    pub fn new(modulus: Modulus, n: usize) -> Option<Self> {
        if !n.is_power_of_two() || !(1..=MAX_TWIDDLE_LOG_N).contains(&n.trailing_zeros()) {
            return None;
        }
        let log_n = n.trailing_zeros();
        let psi = canonical_root(&modulus, 2 * n as u64)?;
        let psi_inv = modulus.inv(psi)?;
        let mut squares = [0; MAX_TWIDDLE_LOG_N as usize];
        let mut inverse_squares = [0; MAX_TWIDDLE_LOG_N as usize];
        let (mut x, mut y) = (psi, psi_inv);
        for j in 0..log_n as usize {
            squares[j] = x;
            inverse_squares[j] = y;
            x = modulus.mul(x, x);
            y = modulus.mul(y, y);
        }
        Some(TwiddleGen {
            modulus,
            log_n,
            squares,
            inverse_squares,
        })
    }

    /// Table size `N`.
    pub fn n(&self) -> usize {
        1 << self.log_n
    }

    /// The root `ψ` (as [`NttPlan::psi`](crate::NttPlan::psi)).
    pub fn psi(&self) -> u32 {
        self.squares[0]
    }

    /// `base^rev(k)` from the squares of `base`: bit `j` of `rev(k)` is bit
    /// `log_n − 1 − j` of `k`.
    fn power(&self, squares: &[u32], k: usize) -> u32 {
        let mut acc = 1;
        for (j, &square) in squares[..self.log_n as usize].iter().enumerate() {
            if (k >> (self.log_n as usize - 1 - j)) & 1 == 1 {
                acc = self.modulus.mul(acc, square);
            }
        }
        acc
    }

    /// Forward table entry `ψ^rev(k)` (`k < N`; higher bits are ignored).
    pub fn forward(&self, k: usize) -> u32 {
        self.power(&self.squares, k)
    }

    /// Inverse table entry `ψ^(-rev(k)) / 2` (`k < N`; higher bits are
    /// ignored).
    pub fn inverse_half(&self, k: usize) -> u32 {
        self.modulus.half(self.power(&self.inverse_squares, k))
    }
}
