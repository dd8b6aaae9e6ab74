//! Pipelined Barrett modular multiplier: one `x · y mod q` per cycle.
//!
//! Implements exactly the reduction of `ola_arith::modulus` (HAC 14.42,
//! base 2, `k = b`) for moduli of a fixed bit size `b` (the configuration's
//! word width, `b ≤ 30` so that the remainder `r < 3q` fits 32 bits):
//!
//! | cycle (`L` = [`MUL32_LATENCY`] = 3) | work |
//! |---|---|
//! | 0–L | `z = x·y` ([`Mul32`]) |
//! | L–2L | `z1 = z >> (b−1)`, `z1·m` ([`Mul32`]) |
//! | 2L–3L | `t = (z1·m) >> (b+1)`, `t·q` ([`MulLow32`]: only the low word matters) |
//! | 3L–3L+1 | `r = (z − t·q) mod 2^(b+2)` |
//! | 3L+1–3L+2 | subtract `q` or `2q` |
//!
//! `q` and `m` are quasi-static: they must not change while products are in
//! flight (the engine switches modulus only between jobs, after a drain).

use rust_hdl::prelude::*;

use crate::mul32::{MUL32_LATENCY, Mul32, MulLow32};

/// Cycles from `x`, `y` to `result`.
pub const MODMUL_LATENCY: usize = 3 * MUL32_LATENCY + 2;

// The z_low line below is 2 · MUL32_LATENCY long.
const _: () = assert!(MUL32_LATENCY == 3);

/// Largest modulus bit size the 32-bit datapath supports.
pub const MAX_WORD_BITS: usize = 30;
/// Smallest modulus bit size (the shifts below need `b ≥ 2`).
pub const MIN_WORD_BITS: usize = 4;

/// Barrett multiplier for `b`-bit moduli.
#[derive(LogicBlock)]
pub struct ModMul {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// First factor, `< q`.
    pub x: Signal<In, Bits<32>>,
    /// Second factor, `< q`.
    pub y: Signal<In, Bits<32>>,
    /// The modulus, `2^(b−1) < q < 2^b`.
    pub q: Signal<In, Bits<32>>,
    /// Barrett constant `floor(2^(2b) / q)`.
    pub m: Signal<In, Bits<32>>,
    /// `x · y mod q`, [`MODMUL_LATENCY`] cycles after the inputs.
    pub result: Signal<Out, Bits<32>>,
    product: Mul32,
    estimate: Mul32,
    correction: MulLow32,
    // Low word of z, delayed to meet t·q (2 · MUL32_LATENCY long).
    z_low: [DFF<Bits<32>>; 6],
    remainder: DFF<Bits<32>>,
    reduced: DFF<Bits<32>>,
    twice_q: Signal<Local, Bits<32>>,
    // z >> (b − 1) = z_hi << (33 − b) | z_lo >> (b − 1)
    z1_hi_shift: Constant<Bits<32>>,
    z1_lo_shift: Constant<Bits<32>>,
    // (z1·m) >> (b + 1) = p_hi << (31 − b) | p_lo >> (b + 1)
    t_hi_shift: Constant<Bits<32>>,
    t_lo_shift: Constant<Bits<32>>,
    // 2^(b + 2) − 1
    remainder_mask: Constant<Bits<32>>,
}

impl ModMul {
    /// A multiplier for moduli of exactly `word_bits` bits.
    pub fn new(word_bits: usize) -> Self {
        assert!(
            (MIN_WORD_BITS..=MAX_WORD_BITS).contains(&word_bits),
            "word width {word_bits} outside {MIN_WORD_BITS}..={MAX_WORD_BITS}"
        );
        let b = word_bits as u64;
        Self {
            clock: Default::default(),
            x: Default::default(),
            y: Default::default(),
            q: Default::default(),
            m: Default::default(),
            result: Default::default(),
            product: Default::default(),
            estimate: Default::default(),
            correction: Default::default(),
            z_low: Default::default(),
            remainder: Default::default(),
            reduced: Default::default(),
            twice_q: Default::default(),
            z1_hi_shift: Constant::new((33 - b).into()),
            z1_lo_shift: Constant::new((b - 1).into()),
            t_hi_shift: Constant::new((31 - b).into()),
            t_lo_shift: Constant::new((b + 1).into()),
            remainder_mask: Constant::new(((1u64 << (b + 2)) - 1).into()),
        }
    }
}

impl Logic for ModMul {
    #[hdl_gen]
    fn update(&mut self) {
        self.product.clock.next = self.clock.val();
        self.estimate.clock.next = self.clock.val();
        self.correction.clock.next = self.clock.val();
        dff_setup!(self, clock, remainder, reduced);
        for i in 0..6 {
            self.z_low[i].clock.next = self.clock.val();
        }
        // z = x·y
        self.product.a.next = self.x.val();
        self.product.b.next = self.y.val();
        // z1·m
        self.estimate.a.next = (self.product.hi.val() << self.z1_hi_shift.val())
            | (self.product.lo.val() >> self.z1_lo_shift.val());
        self.estimate.b.next = self.m.val();
        self.z_low[0].d.next = self.product.lo.val();
        for i in 1..6 {
            self.z_low[i].d.next = self.z_low[i - 1].q.val();
        }
        // t·q
        self.correction.a.next = (self.estimate.hi.val() << self.t_hi_shift.val())
            | (self.estimate.lo.val() >> self.t_lo_shift.val());
        self.correction.b.next = self.q.val();
        // r = z − t·q in [0, 3q)
        self.remainder.d.next =
            (self.z_low[5].q.val() - self.correction.lo.val()) & self.remainder_mask.val();
        self.twice_q.next = self.q.val() << 1;
        if self.remainder.q.val() >= self.twice_q.val() {
            self.reduced.d.next = self.remainder.q.val() - self.twice_q.val();
        } else if self.remainder.q.val() >= self.q.val() {
            self.reduced.d.next = self.remainder.q.val() - self.q.val();
        } else {
            self.reduced.d.next = self.remainder.q.val();
        }
        self.result.next = self.reduced.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, tick};
    use ola_arith::{Modulus, prime::ntt_primes};

    pub(crate) fn drive(uut: &mut ModMul, m: &Modulus, pairs: &[(u32, u32)]) -> Vec<u32> {
        uut.q.next = (m.value() as u64).into();
        uut.m.next = m.barrett_m().into();
        let mut out = Vec::new();
        for cycle in 0..pairs.len() + MODMUL_LATENCY - 1 {
            let (x, y) = pairs.get(cycle).copied().unwrap_or((0, 0));
            uut.x.next = (x as u64).into();
            uut.y.next = (y as u64).into();
            tick(uut);
            if cycle + 1 >= MODMUL_LATENCY {
                out.push(uut.result.val().to_u32());
            }
        }
        out
    }

    #[test]
    fn modmul_matches_golden_for_several_word_widths() {
        let mut rng = Rng::new(7);
        for bits in [17usize, 18, 24, 29, 30] {
            let mut uut = ModMul::new(bits);
            uut.connect_all();
            for q in ntt_primes(bits as u32, 10).take(2) {
                let m = Modulus::new(q).unwrap();
                let qq = m.value();
                let mut pairs = vec![(0, 0), (qq - 1, qq - 1), (1, qq - 1), (qq / 2, 2)];
                pairs.extend((0..1500).map(|_| (rng.below(q) as u32, rng.below(q) as u32)));
                let got = drive(&mut uut, &m, &pairs);
                let expect: Vec<u32> = pairs.iter().map(|&(x, y)| m.mul(x, y)).collect();
                assert_eq!(got, expect, "bits {bits} q {q}");
            }
        }
    }
}
