//! One processing lane: a unified NTT butterfly and vector-unit element.
//!
//! The engine has `P` lanes. Each takes `(u, v, w)` and an operation, and
//! returns `(x, y)` [`LANE_LATENCY`] cycles later, one operation per cycle:
//!
//! | op | x | y |
//! |---|---|---|
//! | [`LaneOp::Forward`] (Cooley–Tukey) | `u + v·w` | `u − v·w` |
//! | [`LaneOp::Inverse`] (Gentleman–Sande, halving) | `(u + v)/2` | `(u − v)·w` |
//! | [`LaneOp::Mul`] (pointwise or by a constant) | `v·w` | `v·w` |
//! | [`LaneOp::Mac`] (multiply-accumulate, `u` = accumulator) | `u + v·w` | `u − v·w` |
//! | [`LaneOp::Add`] | `u + v` | `u + v` |
//! | [`LaneOp::Sub`] | `u − v` | `u − v` |
//!
//! All modulo `q`, matching `ola_arith::ntt::{ct_butterfly, gs_half_butterfly}`
//! and `ola_arith::vector`. One [`ModMul`] serves every operation: in the
//! forward butterfly it multiplies `v`, in the inverse one `u − v`, so the
//! lane costs one multiplier whatever the operation.

use rust_hdl::prelude::*;

use crate::modmul::{MODMUL_LATENCY, ModMul};

/// Cycles from inputs to outputs: one to form `u ± v`, the multiplier, one
/// to combine.
pub const LANE_LATENCY: usize = MODMUL_LATENCY + 2;

// The interface's cycle formulas assume this depth.
const _: () = assert!(LANE_LATENCY == ola_spec::config::LANE_LATENCY);

/// Lane operation codes (3 bits), shared with the engine's job descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum LaneOp {
    /// Cooley–Tukey butterfly.
    Forward = 0,
    /// Gentleman–Sande butterfly with halving.
    Inverse = 1,
    /// `v·w`.
    Mul = 2,
    /// `u + v·w`.
    Mac = 3,
    /// `u + v`.
    Add = 4,
    /// `u − v`.
    Sub = 5,
}

impl LaneOp {
    /// Every operation.
    pub const ALL: [LaneOp; 6] = [
        LaneOp::Forward,
        LaneOp::Inverse,
        LaneOp::Mul,
        LaneOp::Mac,
        LaneOp::Add,
        LaneOp::Sub,
    ];

    /// The golden model's `(x, y)` for this operation.
    pub fn golden(self, m: &ola_arith::Modulus, u: u32, v: u32, w: u32) -> (u32, u32) {
        use ola_arith::ntt::{ct_butterfly, gs_half_butterfly};
        match self {
            LaneOp::Forward | LaneOp::Mac => ct_butterfly(m, u, v, w),
            LaneOp::Inverse => gs_half_butterfly(m, u, v, w),
            LaneOp::Mul => (m.mul(v, w), m.mul(v, w)),
            LaneOp::Add => (m.add(u, v), m.add(u, v)),
            LaneOp::Sub => (m.sub(u, v), m.sub(u, v)),
        }
    }
}

/// `(a + b) mod 2^32`, less `q` when that is `≥ q` (all 32-bit
/// wrapping, for any inputs): the lane's modular sum in one carry chain.
/// The alternative `a + b − q = a + b + !q + 1` goes through one
/// carry-save level and a single adder beside `a + b`; the compare comes
/// from the two adders' carries out of bit 31 (rebuilt from the sum bits)
/// and the carry-save level's: `⌊(a + b + !q + 1) / 2^32⌋` counts the
/// wrap of `a + b` plus `[a + b mod 2^32 ≥ q]`.
///
/// The candidates and the two halves of the select are outputs too, so a
/// user can register them and select a cycle later: `sum` is `alt` when
/// `raw_wrap ^ alt_wrap`, else `raw` (each half is one LUT after a carry
/// chain).
#[derive(LogicBlock, Default)]
pub struct ModSum {
    /// First addend.
    pub a: Signal<In, Bits<32>>,
    /// Second addend.
    pub b: Signal<In, Bits<32>>,
    /// Modulus.
    pub q: Signal<In, Bits<32>>,
    /// The sum.
    pub sum: Signal<Out, Bits<32>>,
    /// `a + b` (wrapping).
    pub raw_sum: Signal<Out, Bits<32>>,
    /// `a + b − q` (wrapping).
    pub alt_sum: Signal<Out, Bits<32>>,
    /// Carry-save level's carry out of bit 31 ⊕ `a + b`'s carry out.
    pub raw_wrap: Signal<Out, Bit>,
    /// `save + shifted`'s carry out of bit 31.
    pub alt_wrap: Signal<Out, Bit>,
    raw: Signal<Local, Bits<32>>,
    not_q: Signal<Local, Bits<32>>,
    save: Signal<Local, Bits<32>>,
    carry: Signal<Local, Bits<32>>,
    shifted: Signal<Local, Bits<32>>,
    alt: Signal<Local, Bits<32>>,
    raw_wrapped: Signal<Local, Bit>,
    alt_wrapped: Signal<Local, Bit>,
}

impl Logic for ModSum {
    #[hdl_gen]
    fn update(&mut self) {
        self.raw.next = self.a.val() + self.b.val();
        self.not_q.next = !self.q.val();
        self.save.next = self.a.val() ^ self.b.val() ^ self.not_q.val();
        self.carry.next = (self.a.val() & self.b.val())
            | (self.a.val() & self.not_q.val())
            | (self.b.val() & self.not_q.val());
        self.shifted.next = (self.carry.val() << 1) | 1;
        self.alt.next = self.save.val() + self.shifted.val();
        // Carry out of bit 31 of x + y = z: x31·y31 + (x31 ⊕ y31)·¬z31.
        self.raw_wrapped.next = (self.a.val().get_bit(31) & self.b.val().get_bit(31))
            | ((self.a.val().get_bit(31) ^ self.b.val().get_bit(31)) & !self.raw.val().get_bit(31));
        self.alt_wrapped.next = (self.save.val().get_bit(31) & self.shifted.val().get_bit(31))
            | ((self.save.val().get_bit(31) ^ self.shifted.val().get_bit(31))
                & !self.alt.val().get_bit(31));
        self.raw_sum.next = self.raw.val();
        self.alt_sum.next = self.alt.val();
        self.raw_wrap.next = self.carry.val().get_bit(31) ^ self.raw_wrapped.val();
        self.alt_wrap.next = self.alt_wrapped.val();
        if self.carry.val().get_bit(31) ^ self.alt_wrapped.val() ^ self.raw_wrapped.val() {
            self.sum.next = self.alt.val();
        } else {
            self.sum.next = self.raw.val();
        }
    }
}

/// `a − b` when `a ≥ b`, else `a + q − b` (32-bit wrapping, any inputs):
/// the lane's modular difference with both candidates from one adder each
/// (`a + q − b = a + !b + q + 1` through a carry-save level) and the
/// compare from `a − b`'s carry out of bit 31. The candidates and the
/// compare are outputs too (`difference` is `raw_difference` when
/// `no_borrow`, else `alt_difference`), to be registered and selected a
/// cycle later.
#[derive(LogicBlock, Default)]
pub struct ModDiff {
    /// Minuend.
    pub a: Signal<In, Bits<32>>,
    /// Subtrahend.
    pub b: Signal<In, Bits<32>>,
    /// Modulus.
    pub q: Signal<In, Bits<32>>,
    /// The difference.
    pub difference: Signal<Out, Bits<32>>,
    /// `a − b` (wrapping).
    pub raw_difference: Signal<Out, Bits<32>>,
    /// `a + q − b` (wrapping).
    pub alt_difference: Signal<Out, Bits<32>>,
    /// `a ≥ b`.
    pub no_borrow: Signal<Out, Bit>,
    raw: Signal<Local, Bits<32>>,
    not_b: Signal<Local, Bits<32>>,
    save: Signal<Local, Bits<32>>,
    carry: Signal<Local, Bits<32>>,
    alt: Signal<Local, Bits<32>>,
    ge: Signal<Local, Bit>,
}

impl Logic for ModDiff {
    #[hdl_gen]
    fn update(&mut self) {
        self.raw.next = self.a.val() - self.b.val();
        self.not_b.next = !self.b.val();
        self.save.next = self.a.val() ^ self.not_b.val() ^ self.q.val();
        self.carry.next = (self.a.val() & self.not_b.val())
            | (self.a.val() & self.q.val())
            | (self.not_b.val() & self.q.val());
        self.alt.next = self.save.val() + ((self.carry.val() << 1) | 1);
        // a ≥ b exactly when a + !b + 1 carries out of bit 31.
        self.ge.next = (self.a.val().get_bit(31) & !self.b.val().get_bit(31))
            | (!(self.a.val().get_bit(31) ^ self.b.val().get_bit(31))
                & !self.raw.val().get_bit(31));
        self.raw_difference.next = self.raw.val();
        self.alt_difference.next = self.alt.val();
        self.no_borrow.next = self.ge.val();
        if self.ge.val() {
            self.difference.next = self.raw.val();
        } else {
            self.difference.next = self.alt.val();
        }
    }
}

/// A processing lane for `b`-bit moduli.
#[derive(LogicBlock)]
pub struct Lane {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// Operation ([`LaneOp`] as 3 bits).
    pub op: Signal<In, Bits<3>>,
    /// First operand.
    pub u: Signal<In, Bits<32>>,
    /// Second operand.
    pub v: Signal<In, Bits<32>>,
    /// Twiddle or multiplier.
    pub w: Signal<In, Bits<32>>,
    /// Modulus (quasi-static, see [`ModMul`]).
    pub q: Signal<In, Bits<32>>,
    /// Barrett constant of `q`.
    pub m: Signal<In, Bits<32>>,
    /// First result.
    pub x: Signal<Out, Bits<32>>,
    /// Second result.
    pub y: Signal<Out, Bits<32>>,
    multiplier: ModMul,
    // Stage A: u + v and u − v as their two candidates each (one carry
    // chain and one LUT from the operands), the select bits, and the
    // operands, registered; the selects are made in stage B (issue 8:
    // the modular select after the chains was the critical path).
    sum_raw: DFF<Bits<32>>,
    sum_alt: DFF<Bits<32>>,
    sum_raw_wrap: DFF<Bit>,
    sum_alt_wrap: DFF<Bit>,
    difference_raw: DFF<Bits<32>>,
    difference_alt: DFF<Bits<32>>,
    difference_ge: DFF<Bit>,
    u_a: DFF<Bits<32>>,
    w_a: DFF<Bits<32>>,
    op_a: DFF<Bits<3>>,
    // The multiplier's first factor (v, or u − v for the inverse) as two
    // candidates chosen by `difference_ge`: one LUT in front of the DSP's
    // input register.
    factor_raw: DFF<Bits<32>>,
    factor_alt: DFF<Bits<32>>,
    // The addend travelling beside the multiplier, and its operation
    // (the inverse's halving happens between addend[0] and addend[1]).
    addend: [DFF<Bits<32>>; 11],
    op_line: [DFF<Bits<3>>; 11],
    x_r: DFF<Bits<32>>,
    y_r: DFF<Bits<32>>,
    // u ± v (stage A) and addend ± product (stage C), each mod q.
    input_sum: ModSum,
    input_difference: ModDiff,
    output_sum: ModSum,
    output_difference: ModDiff,
    // Operation codes as typed constants, so comparisons are 3 bits wide
    // in the Verilog too.
    op_forward: Constant<Bits<3>>,
    op_inverse: Constant<Bits<3>>,
    op_mul: Constant<Bits<3>>,
    op_mac: Constant<Bits<3>>,
    op_add: Constant<Bits<3>>,
    op_sub: Constant<Bits<3>>,
    sum_b: Signal<Local, Bits<32>>,
    difference_b: Signal<Local, Bits<32>>,
    addend_half: Signal<Local, Bits<32>>,
}

impl Lane {
    /// A lane for moduli of exactly `word_bits` bits.
    pub fn new(word_bits: usize) -> Self {
        assert_eq!(MODMUL_LATENCY, 11, "the addend line below is 11 long");
        Self {
            clock: Default::default(),
            op: Default::default(),
            u: Default::default(),
            v: Default::default(),
            w: Default::default(),
            q: Default::default(),
            m: Default::default(),
            x: Default::default(),
            y: Default::default(),
            multiplier: ModMul::new(word_bits),
            sum_raw: Default::default(),
            sum_alt: Default::default(),
            sum_raw_wrap: Default::default(),
            sum_alt_wrap: Default::default(),
            difference_raw: Default::default(),
            difference_alt: Default::default(),
            difference_ge: Default::default(),
            u_a: Default::default(),
            w_a: Default::default(),
            op_a: Default::default(),
            factor_raw: Default::default(),
            factor_alt: Default::default(),
            addend: Default::default(),
            op_line: Default::default(),
            x_r: Default::default(),
            y_r: Default::default(),
            input_sum: Default::default(),
            input_difference: Default::default(),
            output_sum: Default::default(),
            output_difference: Default::default(),
            op_forward: Constant::new((LaneOp::Forward as u64).into()),
            op_inverse: Constant::new((LaneOp::Inverse as u64).into()),
            op_mul: Constant::new((LaneOp::Mul as u64).into()),
            op_mac: Constant::new((LaneOp::Mac as u64).into()),
            op_add: Constant::new((LaneOp::Add as u64).into()),
            op_sub: Constant::new((LaneOp::Sub as u64).into()),
            sum_b: Default::default(),
            difference_b: Default::default(),
            addend_half: Default::default(),
        }
    }
}

impl Logic for Lane {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            sum_raw,
            sum_alt,
            sum_raw_wrap,
            sum_alt_wrap,
            difference_raw,
            difference_alt,
            difference_ge,
            u_a,
            w_a,
            op_a,
            factor_raw,
            factor_alt,
            x_r,
            y_r
        );
        for i in 0..11 {
            self.addend[i].clock.next = self.clock.val();
            self.op_line[i].clock.next = self.clock.val();
        }
        self.multiplier.clock.next = self.clock.val();
        self.multiplier.q.next = self.q.val();
        self.multiplier.m.next = self.m.val();

        // Stage A: u + v and u − v mod q (exact on any words, as the
        // simulator's datapath models them) up to their final select, and
        // the multiplier's factor candidates.
        self.input_sum.a.next = self.u.val();
        self.input_sum.b.next = self.v.val();
        self.input_sum.q.next = self.q.val();
        self.sum_raw.d.next = self.input_sum.raw_sum.val();
        self.sum_alt.d.next = self.input_sum.alt_sum.val();
        self.sum_raw_wrap.d.next = self.input_sum.raw_wrap.val();
        self.sum_alt_wrap.d.next = self.input_sum.alt_wrap.val();
        self.input_difference.a.next = self.u.val();
        self.input_difference.b.next = self.v.val();
        self.input_difference.q.next = self.q.val();
        self.difference_raw.d.next = self.input_difference.raw_difference.val();
        self.difference_alt.d.next = self.input_difference.alt_difference.val();
        self.difference_ge.d.next = self.input_difference.no_borrow.val();
        self.u_a.d.next = self.u.val();
        self.w_a.d.next = self.w.val();
        self.op_a.d.next = self.op.val();
        if self.op.val() == self.op_inverse.val() {
            self.factor_raw.d.next = self.input_difference.raw_difference.val();
            self.factor_alt.d.next = self.input_difference.alt_difference.val();
        } else {
            self.factor_raw.d.next = self.v.val();
            self.factor_alt.d.next = self.v.val();
        }

        // Stage B: the selects, the multiplier, with the addend beside it.
        if self.sum_raw_wrap.q.val() ^ self.sum_alt_wrap.q.val() {
            self.sum_b.next = self.sum_alt.q.val();
        } else {
            self.sum_b.next = self.sum_raw.q.val();
        }
        if self.difference_ge.q.val() {
            self.difference_b.next = self.difference_raw.q.val();
            self.multiplier.x.next = self.factor_raw.q.val();
        } else {
            self.difference_b.next = self.difference_alt.q.val();
            self.multiplier.x.next = self.factor_alt.q.val();
        }
        self.multiplier.y.next = self.w_a.q.val();
        self.addend[0].d.next = self.u_a.q.val();
        if (self.op_a.q.val() == self.op_inverse.val()) | (self.op_a.q.val() == self.op_add.val()) {
            self.addend[0].d.next = self.sum_b.val();
        }
        if self.op_a.q.val() == self.op_sub.val() {
            self.addend[0].d.next = self.difference_b.val();
        }
        self.op_line[0].d.next = self.op_a.q.val();
        // The inverse's (u + v)/2, one cycle down the addend line: a
        // shift, after adding q when odd.
        if self.addend[0].q.val().get_bit(0) {
            self.addend_half.next = (self.addend[0].q.val() + self.q.val()) >> 1;
        } else {
            self.addend_half.next = self.addend[0].q.val() >> 1;
        }
        for i in 1..11 {
            self.addend[i].d.next = self.addend[i - 1].q.val();
            self.op_line[i].d.next = self.op_line[i - 1].q.val();
        }
        if self.op_line[0].q.val() == self.op_inverse.val() {
            self.addend[1].d.next = self.addend_half.val();
        }

        // Stage C: combine.
        self.output_sum.a.next = self.addend[10].q.val();
        self.output_sum.b.next = self.multiplier.result.val();
        self.output_sum.q.next = self.q.val();
        self.output_difference.a.next = self.addend[10].q.val();
        self.output_difference.b.next = self.multiplier.result.val();
        self.output_difference.q.next = self.q.val();
        self.x_r.d.next = self.addend[10].q.val();
        self.y_r.d.next = self.addend[10].q.val();
        if (self.op_line[10].q.val() == self.op_forward.val())
            | (self.op_line[10].q.val() == self.op_mac.val())
        {
            self.x_r.d.next = self.output_sum.sum.val();
            self.y_r.d.next = self.output_difference.difference.val();
        }
        if self.op_line[10].q.val() == self.op_inverse.val() {
            self.y_r.d.next = self.multiplier.result.val();
        }
        if self.op_line[10].q.val() == self.op_mul.val() {
            self.x_r.d.next = self.multiplier.result.val();
            self.y_r.d.next = self.multiplier.result.val();
        }
        self.x.next = self.x_r.q.val();
        self.y.next = self.y_r.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, settle, tick};
    use ola_arith::{Modulus, prime::ntt_primes};

    #[test]
    fn mod_sum_and_difference_match_the_compare_forms_on_any_word() {
        let edges = [
            0u32,
            1,
            2,
            12289,
            0x3FFF_FFFF,
            0x4000_0000,
            0x7FFF_FFFF,
            0x8000_0000,
            0x8000_0001,
            0xC000_0000,
            0xFFFF_FFFE,
            0xFFFF_FFFF,
        ];
        let mut rng = Rng::new(5);
        let mut cases: Vec<(u32, u32, u32)> = Vec::new();
        for &a in &edges {
            for &b in &edges {
                for &q in &edges {
                    cases.push((a, b, q));
                }
            }
        }
        cases.extend((0..20_000).map(|_| (rng.next_u32(), rng.next_u32(), rng.next_u32())));
        let mut sum = ModSum::default();
        let mut difference = ModDiff::default();
        sum.connect_all();
        difference.connect_all();
        for (a, b, q) in cases {
            let raw = a.wrapping_add(b);
            let want_sum = if raw >= q { raw.wrapping_sub(q) } else { raw };
            let want_difference = if a >= b {
                a.wrapping_sub(b)
            } else {
                a.wrapping_add(q).wrapping_sub(b)
            };
            sum.a.next = (a as u64).into();
            sum.b.next = (b as u64).into();
            sum.q.next = (q as u64).into();
            difference.a.next = (a as u64).into();
            difference.b.next = (b as u64).into();
            difference.q.next = (q as u64).into();
            settle(&mut sum);
            settle(&mut difference);
            assert_eq!(
                sum.sum.val().to_u32(),
                want_sum,
                "{a:#x} + {b:#x} mod {q:#x}"
            );
            assert_eq!(
                difference.difference.val().to_u32(),
                want_difference,
                "{a:#x} - {b:#x} mod {q:#x}"
            );
            // The split form: candidates and selects, as the lane
            // registers them in stage A and selects in stage B.
            assert_eq!(sum.raw_sum.val().to_u32(), raw);
            assert_eq!(sum.alt_sum.val().to_u32(), raw.wrapping_sub(q));
            let pick_alt = sum.raw_wrap.val() ^ sum.alt_wrap.val();
            assert_eq!(pick_alt, raw >= q, "{a:#x} + {b:#x} vs {q:#x}");
            assert_eq!(difference.raw_difference.val().to_u32(), a.wrapping_sub(b));
            assert_eq!(
                difference.alt_difference.val().to_u32(),
                a.wrapping_add(q).wrapping_sub(b)
            );
            assert_eq!(difference.no_borrow.val(), a >= b, "{a:#x} >= {b:#x}");
        }
    }

    #[test]
    fn lane_matches_golden_for_every_operation_interleaved() {
        let mut rng = Rng::new(11);
        for bits in [18usize, 30] {
            let mut uut = Lane::new(bits);
            uut.connect_all();
            for q in ntt_primes(bits as u32, 10).take(2) {
                let m = Modulus::new(q).unwrap();
                uut.q.next = q.into();
                uut.m.next = m.barrett_m().into();
                let jobs: Vec<(LaneOp, u32, u32, u32)> = (0..3000)
                    .map(|i| {
                        let op = LaneOp::ALL[if i < 600 {
                            i / 100
                        } else {
                            rng.below(6) as usize
                        }];
                        let mut pick = || match rng.below(8) {
                            0 => 0,
                            1 => m.value() - 1,
                            _ => rng.below(q) as u32,
                        };
                        (op, pick(), pick(), pick())
                    })
                    .collect();
                for cycle in 0..jobs.len() + LANE_LATENCY - 1 {
                    let (op, u, v, w) = jobs.get(cycle).copied().unwrap_or((LaneOp::Add, 0, 0, 0));
                    uut.op.next = (op as u64).into();
                    uut.u.next = (u as u64).into();
                    uut.v.next = (v as u64).into();
                    uut.w.next = (w as u64).into();
                    tick(&mut uut);
                    if cycle + 1 >= LANE_LATENCY {
                        let (op, u, v, w) = jobs[cycle + 1 - LANE_LATENCY];
                        let got = (uut.x.val().to_u32(), uut.y.val().to_u32());
                        assert_eq!(
                            got,
                            op.golden(&m, u, v, w),
                            "{op:?} u {u} v {v} w {w} q {q}"
                        );
                    }
                }
            }
        }
    }
}
