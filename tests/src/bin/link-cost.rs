//! What moving data over the SPI link costs, in accelerator cycles, as the
//! simulator's cycle-exact model of the link (`ola_sim::SpiLink`, proven
//! equal to the RTL bridge in `tests/tests/link_cosim.rs`) counts it:
//! burst throughput at a controller timing, and one N = 4096 NTT on the
//! full-size `p8` done through the link, data movement against compute.
//!
//! `cargo run --release -p ola-tests --bin link-cost [-- RATIO]`

use ola_arith::{Modulus, NttPlan, prime::ntt_primes};
use ola_sim::{Device, SpiLink};
use ola_spec::config::Config;
use ola_spec::link::{ControllerTiming, WordBus, transaction_bits};
use ola_spec::{JobOp, map};

/// Accelerator clock of the reference board.
const CLOCK_MHZ: f64 = 125.0;

fn main() -> Result<(), String> {
    let ratio: u32 = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|_| format!("ratio {a:?} is not a number"))?,
        None => ControllerTiming::DEFAULT.ratio,
    };
    let timing = ControllerTiming {
        ratio,
        cs_high_cycles: 2 * ratio,
    };
    if !timing.is_valid() {
        return Err(format!("unsupported timing {timing:?}"));
    }
    println!(
        "SPI link, ratio {ratio} (SCK = {:.3} MHz at {CLOCK_MHZ} MHz), CS_N high {} cycles\n",
        CLOCK_MHZ / ratio as f64,
        timing.cs_high_cycles
    );
    println!(
        "| burst (words) | write cycles/word | write µs/word | read cycles/word | read µs/word | read MB/s |"
    );
    println!("|---|---|---|---|---|---|");
    for n in [1usize, 16, 256, 4096] {
        let w = timing.transaction_cycles(transaction_bits(false, n)) as f64 / n as f64;
        let r = timing.transaction_cycles(transaction_bits(true, n)) as f64 / n as f64;
        println!(
            "| {n} | {w:.1} | {:.3} | {r:.1} | {:.3} | {:.2} |",
            w / CLOCK_MHZ,
            r / CLOCK_MHZ,
            4.0 * CLOCK_MHZ / r
        );
    }

    // One NTT of N = 4096 on p8 through the link, measured by the model.
    let config = Config::named("p8").ok_or("no p8 configuration")?;
    let q = ntt_primes(config.word_bits, config.log_max_n)
        .next()
        .ok_or("no NTT prime")?;
    let m = Modulus::new(q).map_err(|e| e.to_string())?;
    let plan = NttPlan::new(config.max_n(), m).map_err(|e| e.to_string())?;
    let mut link = SpiLink::new(Device::new(config), timing).map_err(|e| e.to_string())?;
    let n = config.max_n();
    let data: Vec<u32> = (0..n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761) % q as u32)
        .collect();

    let setup = measure(&mut link, |l| {
        l.write(map::MOD_SLOT, &[0, m.value(), m.barrett_m() as u32, 1])?;
        for (address, words) in ola_tests::twiddle_bursts(&config, 0, &plan, usize::MAX) {
            l.write(address, &words)?;
        }
        Ok(())
    });
    let upload = measure(&mut link, |l| l.write(map::DATA, &data));
    let jobs_before = link.device().trace().len();
    let run = measure(&mut link, |l| {
        l.write(
            map::DESC_OP,
            &[JobOp::Ntt as u32, config.log_max_n, 0, 0, 0, n as u32],
        )?;
        l.write(map::CONTROL, &[3])?;
        let mut status = [1];
        while status[0] & 1 == 1 {
            l.read(map::STATUS, &mut status)?;
        }
        Ok(())
    });
    let mut out = vec![0; n];
    let download = measure(&mut link, |l| l.read(map::DATA | n as u32, &mut out));
    let mut expected = data.clone();
    plan.fwd(&mut expected);
    if out != expected {
        return Err("the NTT read back differs from ola-arith's".into());
    }
    let job = link.device().trace()[jobs_before];
    let compute = job.end.ok_or("job did not end")? - job.start;

    println!(
        "\nOne NTT, N = {n}, p8 (P = {}), through the link:\n",
        config.lanes
    );
    println!("| phase | transactions | words | cycles | µs at {CLOCK_MHZ} MHz |");
    println!("|---|---|---|---|---|");
    for (name, (tx, words, cycles)) in [
        ("load modulus + twiddles (once per modulus)", setup),
        ("write data (movement)", upload),
        ("descriptor, start, poll until done", run),
        ("read result (movement)", download),
    ] {
        println!(
            "| {name} | {tx} | {words} | {cycles} | {:.1} |",
            cycles as f64 / CLOCK_MHZ
        );
    }
    let movement = upload.2 + download.2;
    println!(
        "\ncompute (job cycles, start to done): {compute} ({:.1} µs)",
        compute as f64 / CLOCK_MHZ
    );
    println!(
        "movement (data in + out): {movement} ({:.1} µs), {:.1}x the compute",
        movement as f64 / CLOCK_MHZ,
        movement as f64 / compute as f64
    );
    println!(
        "per NTT with twiddles resident, elapsed: {} cycles ({:.1} µs); link total since power-on: {} of {} cycles",
        upload.2 + run.2 + download.2,
        (upload.2 + run.2 + download.2) as f64 / CLOCK_MHZ,
        link.stats().link_cycles,
        link.elapsed()
    );
    Ok(())
}

/// Runs `f`; returns the transactions, words moved and elapsed cycles.
fn measure(
    link: &mut SpiLink,
    f: impl FnOnce(&mut SpiLink) -> Result<(), core::convert::Infallible>,
) -> (u64, u64, u64) {
    let (before, at) = (link.stats(), link.elapsed());
    let Ok(()) = f(link);
    let after = link.stats();
    (
        after.transactions - before.transactions,
        after.words_written + after.words_read - before.words_written - before.words_read,
        link.elapsed() - at,
    )
}
