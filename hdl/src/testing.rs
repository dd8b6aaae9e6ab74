//! Helpers for driving RustHDL blocks cycle by cycle from ordinary Rust:
//! set inputs with `.next`, call [`tick`], read outputs with `.val()`.

use rust_hdl::prelude::*;

/// A block with a single clock input named `clock`.
pub trait Clocked: Block {
    /// The block's clock input.
    fn clock_input(&mut self) -> &mut Signal<In, Clock>;
}

/// Settles combinational logic, or panics on a loop that never settles.
pub fn settle<B: Block>(uut: &mut B) {
    assert!(simulate(uut, 10_000), "logic did not settle");
}

/// One full clock cycle: a rising edge (registers capture the inputs set
/// since the last tick), then the falling edge. Outputs read afterwards are
/// what the registers hold after that edge.
pub fn tick<B: Clocked>(uut: &mut B) {
    settle(uut);
    uut.clock_input().next = true.into();
    settle(uut);
    uut.clock_input().next = false.into();
    settle(uut);
}

/// Implements [`Clocked`] for blocks whose clock input is the `clock` field.
#[macro_export]
macro_rules! impl_clocked {
    ($($block:ty),+ $(,)?) => {
        $(impl $crate::testing::Clocked for $block {
            fn clock_input(&mut self) -> &mut rust_hdl::prelude::Signal<rust_hdl::prelude::In, rust_hdl::prelude::Clock> {
                &mut self.clock
            }
        })+
    };
}

/// SplitMix64: small, seedable, reproducible test vectors.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..bound` (bound > 0; bias is negligible for test use).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}
