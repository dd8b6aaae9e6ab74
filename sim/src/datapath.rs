//! The lane datapath bit for bit as the RTL computes it: 32-bit wrapping
//! arithmetic and the Barrett pipeline with the *loaded* constant. For
//! reduced inputs and a correct constant this is ordinary modular
//! arithmetic (`ola-arith`); for anything else it is whatever the hardware
//! does, which is what the simulator must return.
//!
//! [`LoadedModulus::lane`] is the reference, one element at a time;
//! [`LoadedModulus::vector`] computes whole vector jobs with the same
//! results for every input (tested against `lane`), compiled per
//! instruction set ([`ola_arith::simd`]) so that it runs at software speed.

use ola_arith::simd::Isa;
use ola_spec::JobOp;

/// A loaded modulus slot as the datapath sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadedModulus {
    /// The modulus register.
    pub q: u32,
    /// The Barrett-constant register.
    pub m: u32,
    /// The configuration's word bits `b`.
    pub bits: u32,
}

impl LoadedModulus {
    /// The RTL's Barrett multiplier (`hdl/src/modmul.rs`).
    #[inline(always)]
    pub fn mul(&self, x: u32, y: u32) -> u32 {
        let b = self.bits;
        let z = x as u64 * y as u64;
        let (z_lo, z_hi) = (z as u32, (z >> 32) as u32);
        let z1 = (z_hi << (33 - b)) | (z_lo >> (b - 1));
        let p = z1 as u64 * self.m as u64;
        let (p_lo, p_hi) = (p as u32, (p >> 32) as u32);
        let t = (p_hi << (31 - b)) | (p_lo >> (b + 1));
        let mask = ((1u64 << (b + 2)) - 1) as u32;
        let r = z_lo.wrapping_sub(t.wrapping_mul(self.q)) & mask;
        let twice_q = self.q << 1;
        if r >= twice_q {
            r.wrapping_sub(twice_q)
        } else if r >= self.q {
            r - self.q
        } else {
            r
        }
    }

    /// One lane operation (`hdl/src/lane.rs`): `(x, y)` for operation code
    /// `op` (0 forward, 1 inverse, 2 mul, 3 mac, 4 add, 5 sub).
    pub fn lane(&self, op: u32, u: u32, v: u32, w: u32) -> (u32, u32) {
        let q = self.q;
        let raw_sum = u.wrapping_add(v);
        let sum = if raw_sum >= q {
            raw_sum.wrapping_sub(q)
        } else {
            raw_sum
        };
        let difference = if u >= v {
            u - v
        } else {
            u.wrapping_add(q).wrapping_sub(v)
        };
        let sum_half = if sum & 1 == 1 {
            sum.wrapping_add(q) >> 1
        } else {
            sum >> 1
        };
        let (multiplicand, addend) = match op {
            1 => (difference, sum_half),
            4 => (v, sum),
            5 => (v, difference),
            _ => (v, u),
        };
        let product = self.mul(multiplicand, w);
        match op {
            0 | 3 => {
                let product_sum = addend.wrapping_add(product);
                let x = if product_sum >= q {
                    product_sum.wrapping_sub(q)
                } else {
                    product_sum
                };
                let y = if addend >= product {
                    addend - product
                } else {
                    addend.wrapping_add(q).wrapping_sub(product)
                };
                (x, y)
            }
            1 => (addend, product),
            2 => (product, product),
            _ => (addend, addend),
        }
    }

    /// The result of vector job `op` (not `Ntt` / `Intt`, which leave `out`
    /// alone) on whole operands `[a, b, acc]`: `out[i]` is the `x` output of
    /// [`LoadedModulus::lane`] for element `i`, exactly as the RTL feeds
    /// its lanes — `Add`, `Sub`: `a ± b`; `Mul`: `a · b`; `MulConst`:
    /// `a · constant`; `Mac`: `acc + a · b` (`acc` is the destination's old
    /// contents). Any inputs, reduced or not, give the lane's bits.
    ///
    /// # Panics
    /// If the operands used by `op` are shorter than `out`.
    pub fn vector(
        &self,
        isa: Isa,
        op: JobOp,
        [a, b, acc]: [&[u32]; 3],
        constant: u32,
        out: &mut [u32],
    ) {
        let n = out.len();
        let m = *self;
        match op {
            JobOp::Add => add_k(isa, m, &a[..n], &b[..n], out),
            JobOp::Sub => sub_k(isa, m, &a[..n], &b[..n], out),
            JobOp::Mul => mul_k(isa, m, &a[..n], &b[..n], out),
            JobOp::MulConst => mul_const_k(isa, m, &a[..n], constant, out),
            JobOp::Mac => mac_k(isa, m, &acc[..n], &a[..n], &b[..n], out),
            JobOp::Ntt | JobOp::Intt => {}
        }
    }

    /// The lane's modular sum `u + v` (wrapping, one conditional `- q`).
    #[inline(always)]
    fn sum(&self, u: u32, v: u32) -> u32 {
        let raw = u.wrapping_add(v);
        if raw >= self.q {
            raw.wrapping_sub(self.q)
        } else {
            raw
        }
    }

    /// The lane's modular difference `u - v`.
    #[inline(always)]
    fn difference(&self, u: u32, v: u32) -> u32 {
        if u >= v {
            u - v
        } else {
            u.wrapping_add(self.q).wrapping_sub(v)
        }
    }
}

// The vector jobs' element loops, compiled per instruction set. Each
// element is the lane's own formula for that operation (the `x` output).
ola_arith::multiversion! {
    fn add_k(m: LoadedModulus, a: &[u32], b: &[u32], out: &mut [u32]) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = m.sum(x, y);
        }
    }
    fn sub_k(m: LoadedModulus, a: &[u32], b: &[u32], out: &mut [u32]) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = m.difference(x, y);
        }
    }
    fn mul_k(m: LoadedModulus, a: &[u32], b: &[u32], out: &mut [u32]) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = m.mul(x, y);
        }
    }
    fn mul_const_k(m: LoadedModulus, a: &[u32], c: u32, out: &mut [u32]) {
        for (o, &x) in out.iter_mut().zip(a) {
            *o = m.mul(x, c);
        }
    }
    fn mac_k(m: LoadedModulus, acc: &[u32], a: &[u32], b: &[u32], out: &mut [u32]) {
        for (((o, &s), &x), &y) in out.iter_mut().zip(acc).zip(a).zip(b) {
            *o = m.sum(s, m.mul(x, y));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ola_arith::ntt::{ct_butterfly, gs_half_butterfly};
    use ola_arith::{Modulus, prime::ntt_primes};

    #[test]
    fn reduced_inputs_give_modular_arithmetic() {
        for bits in [18u32, 30] {
            let q = ntt_primes(bits, 10).next().unwrap();
            let m = Modulus::new(q).unwrap();
            let loaded = LoadedModulus {
                q: m.value(),
                m: m.barrett_m() as u32,
                bits,
            };
            let mut state = 1u64;
            for _ in 0..20_000 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let (u, v, w) = (
                    ((state >> 5) % q) as u32,
                    ((state >> 17) % q) as u32,
                    ((state >> 29) % q) as u32,
                );
                assert_eq!(loaded.mul(u, v), m.mul(u, v));
                assert_eq!(loaded.lane(0, u, v, w), ct_butterfly(&m, u, v, w));
                assert_eq!(loaded.lane(1, u, v, w), gs_half_butterfly(&m, u, v, w));
                assert_eq!(loaded.lane(4, u, v, w).0, m.add(u, v));
                assert_eq!(loaded.lane(5, u, v, w).0, m.sub(u, v));
            }
        }
    }

    #[test]
    fn vector_jobs_equal_the_lane_at_every_instruction_set() {
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 32) as u32
        };
        // Odd lengths exercise the vector loops' tails.
        let n = 1000;
        for bits in [18u32, 24, 30] {
            let prime = ntt_primes(bits, 10).next().unwrap() as u32;
            let correct_m = Modulus::new(prime as u64).unwrap().barrett_m() as u32;
            // A canonical slot with reduced data, then what a bus can load:
            // any b-bit q, any Barrett constant, any data word.
            for trial in 0..4 {
                let (q, m) = match trial {
                    0 | 1 => (prime, correct_m),
                    2 => ((next() >> (32 - bits)) | 1 << (bits - 1), correct_m),
                    _ => ((next() >> (32 - bits)) | 1 << (bits - 1), next()),
                };
                let loaded = LoadedModulus { q, m, bits };
                let word = |x: u32| if trial == 0 { x % q } else { x };
                let a: Vec<u32> = (0..n).map(|_| word(next())).collect();
                let b: Vec<u32> = (0..n).map(|_| word(next())).collect();
                let acc: Vec<u32> = (0..n).map(|_| word(next())).collect();
                let constant = word(next());
                for op in [
                    JobOp::Add,
                    JobOp::Sub,
                    JobOp::Mul,
                    JobOp::MulConst,
                    JobOp::Mac,
                ] {
                    // How the RTL feeds each operation to a lane.
                    let lane_op = if op == JobOp::MulConst { 2 } else { op as u32 };
                    let want: Vec<u32> = (0..n)
                        .map(|i| {
                            let (x, y, z) = (a[i], b[i], acc[i]);
                            match op {
                                JobOp::Add | JobOp::Sub => loaded.lane(lane_op, x, y, y).0,
                                JobOp::Mul => loaded.lane(lane_op, x, x, y).0,
                                JobOp::MulConst => loaded.lane(lane_op, 0, x, constant).0,
                                _ => loaded.lane(lane_op, z, x, y).0,
                            }
                        })
                        .collect();
                    for isa in Isa::all_supported() {
                        let mut out = vec![0; n];
                        loaded.vector(isa, op, [&a, &b, &acc], constant, &mut out);
                        assert_eq!(out, want, "{op:?} q {q} m {m} {isa:?}");
                    }
                }
            }
        }
    }
}
