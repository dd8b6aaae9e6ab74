//! The emitted Verilog of each arithmetic unit: lint-clean, compiles with
//! Icarus, and, simulated by Verilator, matches the golden model on the same
//! random stimulus the RustHDL tests use.

use ola_arith::{Modulus, prime::ntt_primes};
use ola_hdl::lane::{LANE_LATENCY, Lane, LaneOp};
use ola_hdl::modmul::{MODMUL_LATENCY, ModMul};
use ola_hdl::mul32::{MUL32_LATENCY, Mul32};
use ola_hdl::rtl_sim::{self, Port, Simulator};
use ola_hdl::testing::Rng;
use rust_hdl::prelude::*;

fn checked_verilog<B: Block>(mut uut: B, label: &str) -> String {
    uut.connect_all();
    let verilog = generate_verilog(&uut);
    let dir = rtl_sim::scratch_dir(label);
    let file = dir.join(format!("{label}.v"));
    std::fs::write(&file, &verilog).unwrap();
    if rtl_sim::tool_or_skip(Simulator::Verilator, label) {
        let diagnostics = rtl_sim::lint(&file).unwrap();
        assert!(
            !diagnostics.contains("%Warning") && !diagnostics.contains("%Error"),
            "{label}: verilator -Wall:\n{diagnostics}"
        );
    }
    if rtl_sim::tool_or_skip(Simulator::Icarus, label) {
        rtl_sim::icarus_compile(&file).unwrap();
    }
    verilog
}

#[test]
fn mul32_verilog_matches_u64_product() {
    let verilog = checked_verilog(Mul32::default(), "mul32");
    if !rtl_sim::tool_or_skip(Simulator::Verilator, "mul32") {
        return;
    }
    let mut rng = Rng::new(3);
    let pairs: Vec<(u32, u32)> = [(u32::MAX, u32::MAX), (0, 5), (0xFFFF, 0x1_0000)]
        .into_iter()
        .chain((0..4000).map(|_| (rng.next_u32(), rng.next_u32())))
        .collect();
    let stimulus: Vec<Vec<u64>> = pairs
        .iter()
        .chain(std::iter::repeat_n(&(0, 0), MUL32_LATENCY))
        .map(|&(a, b)| vec![a as u64, b as u64])
        .collect();
    let out = rtl_sim::run_cycles(
        Simulator::Verilator,
        "mul32",
        &verilog,
        "clock",
        &[Port::new("a", 32), Port::new("b", 32)],
        &[Port::new("lo", 32), Port::new("hi", 32)],
        &stimulus,
    )
    .unwrap();
    for (i, &(a, b)) in pairs.iter().enumerate() {
        let row = &out[i + MUL32_LATENCY - 1];
        assert_eq!(
            (row[1] << 32) | row[0],
            a as u64 * b as u64,
            "{a:#x} * {b:#x}"
        );
    }
}

#[test]
fn modmul_verilog_matches_golden() {
    let mut rng = Rng::new(5);
    for bits in [18usize, 30] {
        let verilog = checked_verilog(ModMul::new(bits), "modmul");
        if !rtl_sim::tool_or_skip(Simulator::Verilator, "modmul") {
            return;
        }
        let q = ntt_primes(bits as u32, 12).nth(1).unwrap();
        let m = Modulus::new(q).unwrap();
        let pairs: Vec<(u32, u32)> = [(m.value() - 1, m.value() - 1), (0, 1)]
            .into_iter()
            .chain((0..3000).map(|_| (rng.below(q) as u32, rng.below(q) as u32)))
            .collect();
        let stimulus: Vec<Vec<u64>> = pairs
            .iter()
            .chain(std::iter::repeat_n(&(0, 0), MODMUL_LATENCY))
            .map(|&(x, y)| vec![x as u64, y as u64, q, m.barrett_m()])
            .collect();
        let out = rtl_sim::run_cycles(
            Simulator::Verilator,
            "modmul",
            &verilog,
            "clock",
            &[
                Port::new("x", 32),
                Port::new("y", 32),
                Port::new("q", 32),
                Port::new("m", 32),
            ],
            &[Port::new("result", 32)],
            &stimulus,
        )
        .unwrap();
        for (i, &(x, y)) in pairs.iter().enumerate() {
            assert_eq!(
                out[i + MODMUL_LATENCY - 1][0],
                m.mul(x, y) as u64,
                "bits {bits}: {x} * {y} mod {q}"
            );
        }
    }
}

#[test]
fn lane_verilog_matches_golden_for_every_operation() {
    let mut rng = Rng::new(9);
    for bits in [17usize, 30] {
        let verilog = checked_verilog(Lane::new(bits), "lane");
        if !rtl_sim::tool_or_skip(Simulator::Verilator, "lane") {
            return;
        }
        let q = ntt_primes(bits as u32, 10).next().unwrap();
        let m = Modulus::new(q).unwrap();
        let jobs: Vec<(LaneOp, u32, u32, u32)> = (0..4000)
            .map(|_| {
                let op = LaneOp::ALL[rng.below(6) as usize];
                let mut pick = || match rng.below(8) {
                    0 => 0,
                    1 => m.value() - 1,
                    _ => rng.below(q) as u32,
                };
                (op, pick(), pick(), pick())
            })
            .collect();
        let stimulus: Vec<Vec<u64>> = jobs
            .iter()
            .chain(std::iter::repeat_n(&(LaneOp::Add, 0, 0, 0), LANE_LATENCY))
            .map(|&(op, u, v, w)| vec![op as u64, u as u64, v as u64, w as u64, q, m.barrett_m()])
            .collect();
        let out = rtl_sim::run_cycles(
            Simulator::Verilator,
            "lane",
            &verilog,
            "clock",
            &[
                Port::new("op", 3),
                Port::new("u", 32),
                Port::new("v", 32),
                Port::new("w", 32),
                Port::new("q", 32),
                Port::new("m", 32),
            ],
            &[Port::new("x", 32), Port::new("y", 32)],
            &stimulus,
        )
        .unwrap();
        for (i, &(op, u, v, w)) in jobs.iter().enumerate() {
            let row = &out[i + LANE_LATENCY - 1];
            let (x, y) = op.golden(&m, u, v, w);
            assert_eq!(
                (row[0], row[1]),
                (x as u64, y as u64),
                "{op:?} {u} {v} {w} mod {q}"
            );
        }
    }
}
