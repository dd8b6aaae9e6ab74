//! 32 × 32 → 64-bit unsigned multiplier built from 16 × 16 partial products.
//!
//! RustHDL only multiplies 16 × 16 → 32, and ECP5 DSP slices are 18 × 18, so
//! a word product is four partial products. Each is a [`DspMul16`]: its
//! factors and its product are registered inside the DSP block (on ECP5;
//! fabric registers elsewhere), so no fabric path crosses the multiplier
//! array. The partial products are then combined into the high and low
//! words in one registered stage, every intermediate kept within 32 bits so
//! the RustHDL simulator and the emitted Verilog wrap alike.
//!
//! Latency: [`MUL32_LATENCY`] cycles, one result per cycle.

use rust_hdl::prelude::*;

/// Cycles from `a`, `b` to `lo`, `hi`: the DSP's input and output
/// registers, then the combine.
pub const MUL32_LATENCY: usize = DSP_MUL16_LATENCY + 1;

/// Cycles from `a`, `b` to `p` in [`DspMul16`].
pub const DSP_MUL16_LATENCY: usize = 2;

/// The Verilog macro that selects the ECP5 `MULT18X18D` instance in
/// [`DspMul16`]'s Verilog; without it (simulators, other FPGAs) the
/// behavioural model with the same registers is used. The board flow
/// defines it for ECP5 (`read_verilog -DOLA_ECP5`).
pub const ECP5_DEFINE: &str = "OLA_ECP5";

/// `p = a · b` (16 × 16 → 32), [`DSP_MUL16_LATENCY`] cycles later: the
/// factors are registered, then the product.
///
/// On ECP5 (with [`ECP5_DEFINE`] defined) the Verilog is one `MULT18X18D`
/// with its input and output registers clocked, which nextpnr times as
/// register to register inside the block; yosys alone maps a product to a
/// combinational `MULT18X18D` (3.9 ns) between fabric flip-flops, whose
/// routing in and out is what limited Fmax (docs/BENCHMARKS.md, issue 8).
#[derive(LogicBlock, Default)]
pub struct DspMul16 {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// First factor.
    pub a: Signal<In, Bits<16>>,
    /// Second factor.
    pub b: Signal<In, Bits<16>>,
    /// The product of the factors of [`DSP_MUL16_LATENCY`] cycles ago.
    pub p: Signal<Out, Bits<32>>,
    a_r: Signal<Local, Bits<16>>,
    b_r: Signal<Local, Bits<16>>,
    p_r: Signal<Local, Bits<32>>,
}

impl Logic for DspMul16 {
    fn update(&mut self) {
        // Registers by hand (not DFF children): the Verilog below is a
        // wrapper, which emits no sub-module instances.
        if self.clock.pos_edge() {
            self.p_r.next = self.a_r.val() * self.b_r.val();
            self.a_r.next = self.a.val();
            self.b_r.next = self.b.val();
        }
        self.p.next = self.p_r.val();
    }

    fn connect(&mut self) {
        self.a_r.connect();
        self.b_r.connect();
        self.p_r.connect();
        self.p.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Wrapper(Wrapper {
            code: dsp_mul16_verilog(),
            cores: String::new(),
        })
    }
}

/// The body of [`DspMul16`]'s Verilog module (ports `clock`, `a`, `b`, `p`).
fn dsp_mul16_verilog() -> String {
    let port = |name: &str, bits: usize, value: &dyn Fn(usize) -> String| {
        (0..bits)
            .map(|i| format!(".{name}{i}({})", value(i)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let zero = |_: usize| "1'b0".to_string();
    let a = port("A", 18, &|i| {
        if i < 16 {
            format!("a[{i}]")
        } else {
            "1'b0".into()
        }
    });
    let b = port("B", 18, &|i| {
        if i < 16 {
            format!("b[{i}]")
        } else {
            "1'b0".into()
        }
    });
    let c = port("C", 18, &zero);
    let p = port("P", 36, &|i| format!("dsp_p[{i}]"));
    format!(
        r#"
`ifdef {ECP5_DEFINE}
wire [35:0] dsp_p;
MULT18X18D #(
    .REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_OUTPUT_CLK("CLK0"),
    .GSR("DISABLED")
) dsp (
    {a},
    {b},
    {c},
    .SIGNEDA(1'b0), .SIGNEDB(1'b0), .SOURCEA(1'b0), .SOURCEB(1'b0),
    .CLK0(clock), .CLK1(1'b0), .CLK2(1'b0), .CLK3(1'b0),
    .CE0(1'b1), .CE1(1'b0), .CE2(1'b0), .CE3(1'b0),
    .RST0(1'b0), .RST1(1'b0), .RST2(1'b0), .RST3(1'b0),
    {p}
);
assign p = dsp_p[31:0];
`else
reg [15:0] a_r;
reg [15:0] b_r;
reg [31:0] p_r;
initial begin
    a_r = 16'h0;
    b_r = 16'h0;
    p_r = 32'h0;
end
always @(posedge clock) begin
    a_r <= a;
    b_r <= b;
    p_r <= {{16'h0, a_r}} * {{16'h0, b_r}};
end
assign p = p_r;
`endif
"#
    )
}

/// Pipelined 32 × 32 multiplier: `hi:lo = a * b`, [`MUL32_LATENCY`] cycles later.
#[derive(LogicBlock)]
pub struct Mul32 {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// First factor.
    pub a: Signal<In, Bits<32>>,
    /// Second factor.
    pub b: Signal<In, Bits<32>>,
    /// Low word of the product.
    pub lo: Signal<Out, Bits<32>>,
    /// High word of the product.
    pub hi: Signal<Out, Bits<32>>,
    p00: DspMul16,
    p01: DspMul16,
    p10: DspMul16,
    p11: DspMul16,
    lo_r: DFF<Bits<32>>,
    hi_r: DFF<Bits<32>>,
    // Sum of the three contributions to bits 16..32 (at most 18 bits):
    // its bits above 15 (0, 1 or 2) carry into the high word.
    middle: Signal<Local, Bits<32>>,
    // The low word p00 + (p01 << 16) + (p10 << 16) as carry-save terms.
    lo_save: Signal<Local, Bits<32>>,
    lo_carry: Signal<Local, Bits<32>>,
    // The high word without that carry, as carry-save terms, and with a
    // carry of 2 folded in: the candidates add in parallel with `middle`,
    // which only selects.
    hi_save: Signal<Local, Bits<32>>,
    hi_carry: Signal<Local, Bits<32>>,
    hi_save_two: Signal<Local, Bits<32>>,
    hi_carry_two: Signal<Local, Bits<32>>,
    p01_high: Signal<Local, Bits<32>>,
    p10_high: Signal<Local, Bits<32>>,
    p01_shifted: Signal<Local, Bits<32>>,
    p10_shifted: Signal<Local, Bits<32>>,
    two: Constant<Bits<32>>,
    low_half_mask: Constant<Bits<32>>,
    half_shift: Constant<Bits<32>>,
}

impl Default for Mul32 {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            a: Default::default(),
            b: Default::default(),
            lo: Default::default(),
            hi: Default::default(),
            p00: Default::default(),
            p01: Default::default(),
            p10: Default::default(),
            p11: Default::default(),
            lo_r: Default::default(),
            hi_r: Default::default(),
            middle: Default::default(),
            lo_save: Default::default(),
            lo_carry: Default::default(),
            hi_save: Default::default(),
            hi_carry: Default::default(),
            hi_save_two: Default::default(),
            hi_carry_two: Default::default(),
            p01_high: Default::default(),
            p10_high: Default::default(),
            p01_shifted: Default::default(),
            p10_shifted: Default::default(),
            two: Constant::new(2.into()),
            low_half_mask: Constant::new(0xFFFF.into()),
            half_shift: Constant::new(16.into()),
        }
    }
}

impl Logic for Mul32 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, lo_r, hi_r);
        self.p00.clock.next = self.clock.val();
        self.p01.clock.next = self.clock.val();
        self.p10.clock.next = self.clock.val();
        self.p11.clock.next = self.clock.val();
        self.p00.a.next = self.a.val().get_bits::<16>(0);
        self.p00.b.next = self.b.val().get_bits::<16>(0);
        self.p01.a.next = self.a.val().get_bits::<16>(0);
        self.p01.b.next = self.b.val().get_bits::<16>(16);
        self.p10.a.next = self.a.val().get_bits::<16>(16);
        self.p10.b.next = self.b.val().get_bits::<16>(0);
        self.p11.a.next = self.a.val().get_bits::<16>(16);
        self.p11.b.next = self.b.val().get_bits::<16>(16);
        // One adder deep each (ECP5 timing): three-operand sums go through
        // a carry-save level (x ^ y ^ z, majority << 1) first.
        self.middle.next = (self.p00.p.val() >> self.half_shift.val())
            + (self.p01.p.val() & self.low_half_mask.val())
            + (self.p10.p.val() & self.low_half_mask.val());
        self.p01_shifted.next = self.p01.p.val() << self.half_shift.val();
        self.p10_shifted.next = self.p10.p.val() << self.half_shift.val();
        self.lo_save.next = self.p00.p.val() ^ self.p01_shifted.val() ^ self.p10_shifted.val();
        self.lo_carry.next = ((self.p00.p.val() & self.p01_shifted.val())
            | (self.p00.p.val() & self.p10_shifted.val())
            | (self.p01_shifted.val() & self.p10_shifted.val()))
            << 1;
        self.lo_r.d.next = self.lo_save.val() + self.lo_carry.val();
        self.p01_high.next = self.p01.p.val() >> self.half_shift.val();
        self.p10_high.next = self.p10.p.val() >> self.half_shift.val();
        self.hi_save.next = self.p11.p.val() ^ self.p01_high.val() ^ self.p10_high.val();
        self.hi_carry.next = ((self.p11.p.val() & self.p01_high.val())
            | (self.p11.p.val() & self.p10_high.val())
            | (self.p01_high.val() & self.p10_high.val()))
            << 1;
        self.hi_save_two.next = self.hi_save.val() ^ self.hi_carry.val() ^ self.two.val();
        self.hi_carry_two.next = ((self.hi_save.val() & self.hi_carry.val())
            | (self.hi_save.val() & self.two.val())
            | (self.hi_carry.val() & self.two.val()))
            << 1;
        if self.middle.val().get_bit(17) {
            self.hi_r.d.next = self.hi_save_two.val() + self.hi_carry_two.val();
        } else if self.middle.val().get_bit(16) {
            self.hi_r.d.next = self.hi_save.val() + (self.hi_carry.val() | 1);
        } else {
            self.hi_r.d.next = self.hi_save.val() + self.hi_carry.val();
        }
        self.lo.next = self.lo_r.q.val();
        self.hi.next = self.hi_r.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, tick};

    #[test]
    fn mul32_matches_u64_product_every_cycle() {
        let mut uut = Mul32::default();
        uut.connect_all();
        let mut rng = Rng::new(1);
        let edge = [
            0u32,
            1,
            0xFFFF,
            0x1_0000,
            0xFFFF_FFFF,
            0x8000_0000,
            0x3FFF_FFFF,
        ];
        let mut inputs: Vec<(u32, u32)> = Vec::new();
        for &x in &edge {
            for &y in &edge {
                inputs.push((x, y));
            }
        }
        inputs.extend((0..5000).map(|_| (rng.next_u32(), rng.next_u32())));
        for (cycle, &(x, y)) in inputs.iter().enumerate() {
            uut.a.next = (x as u64).into();
            uut.b.next = (y as u64).into();
            tick(&mut uut);
            if cycle >= MUL32_LATENCY {
                let (ex, ey) = inputs[cycle - MUL32_LATENCY + 1];
                let product = ex as u64 * ey as u64;
                let got = (uut.hi.val().to_u64() << 32) | uut.lo.val().to_u64();
                assert_eq!(got, product, "{ex:#x} * {ey:#x} at cycle {cycle}");
            }
        }
    }

    #[test]
    fn mul_low32_matches_wrapping_product() {
        let mut uut = MulLow32::default();
        uut.connect_all();
        let mut rng = Rng::new(2);
        let inputs: Vec<(u32, u32)> = (0..3000)
            .map(|_| (rng.next_u32(), rng.next_u32()))
            .collect();
        for (cycle, &(x, y)) in inputs.iter().enumerate() {
            uut.a.next = (x as u64).into();
            uut.b.next = (y as u64).into();
            tick(&mut uut);
            if cycle >= MUL32_LATENCY {
                let (ex, ey) = inputs[cycle - MUL32_LATENCY + 1];
                assert_eq!(uut.lo.val().to_u32(), ex.wrapping_mul(ey));
            }
        }
    }

    #[test]
    fn mul32_generates_verilog() {
        let mut uut = Mul32::default();
        uut.connect_all();
        let verilog = generate_verilog(&uut);
        assert!(verilog.contains("module top"));
    }
}

/// Pipelined low-word multiplier: `lo = (a * b) mod 2^32`, [`MUL32_LATENCY`]
/// cycles later. Three partial products: `a_hi·b_hi` only reaches bit 32.
#[derive(LogicBlock)]
pub struct MulLow32 {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// First factor.
    pub a: Signal<In, Bits<32>>,
    /// Second factor.
    pub b: Signal<In, Bits<32>>,
    /// Low word of the product.
    pub lo: Signal<Out, Bits<32>>,
    p00: DspMul16,
    p01: DspMul16,
    p10: DspMul16,
    lo_r: DFF<Bits<32>>,
    p01_shifted: Signal<Local, Bits<32>>,
    p10_shifted: Signal<Local, Bits<32>>,
    half_shift: Constant<Bits<32>>,
}

impl Default for MulLow32 {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            a: Default::default(),
            b: Default::default(),
            lo: Default::default(),
            p00: Default::default(),
            p01: Default::default(),
            p10: Default::default(),
            lo_r: Default::default(),
            p01_shifted: Default::default(),
            p10_shifted: Default::default(),
            half_shift: Constant::new(16.into()),
        }
    }
}

impl Logic for MulLow32 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, lo_r);
        self.p00.clock.next = self.clock.val();
        self.p01.clock.next = self.clock.val();
        self.p10.clock.next = self.clock.val();
        self.p00.a.next = self.a.val().get_bits::<16>(0);
        self.p00.b.next = self.b.val().get_bits::<16>(0);
        self.p01.a.next = self.a.val().get_bits::<16>(0);
        self.p01.b.next = self.b.val().get_bits::<16>(16);
        self.p10.a.next = self.a.val().get_bits::<16>(16);
        self.p10.b.next = self.b.val().get_bits::<16>(0);
        // p00 + (p01 << 16) + (p10 << 16) through a carry-save level.
        self.p01_shifted.next = self.p01.p.val() << self.half_shift.val();
        self.p10_shifted.next = self.p10.p.val() << self.half_shift.val();
        self.lo_r.d.next = (self.p00.p.val() ^ self.p01_shifted.val() ^ self.p10_shifted.val())
            + (((self.p00.p.val() & self.p01_shifted.val())
                | (self.p00.p.val() & self.p10_shifted.val())
                | (self.p01_shifted.val() & self.p10_shifted.val()))
                << 1);
        self.lo.next = self.lo_r.q.val();
    }
}
