//! The lane datapath bit for bit as the RTL computes it: 32-bit wrapping
//! arithmetic and the Barrett pipeline with the *loaded* constant. For
//! reduced inputs and a correct constant this is ordinary modular
//! arithmetic (`ola-arith`); for anything else it is whatever the hardware
//! does, which is what the simulator must return.

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
}
