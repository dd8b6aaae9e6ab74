//! The correctness path of the `sim-speed-large` benchmark (no timing, no
//! Verilator): the benchmark-only `p8n16` configuration stays out of the
//! named list every CI loop iterates, matches the RTL's type parameters,
//! and one round of its NTT-heavy script runs on the simulator with the
//! golden model's memory, skipped idle cycles changing nothing.

use ola_hdl::accelerator::Accelerator;
use ola_spec::config::{BENCH_CONFIGS, CONFIGS, Config};
use ola_tests::speed::{self, Mix};

fn p8n16() -> Config {
    Config::named_any("p8n16").expect("p8n16 is a benchmark configuration")
}

#[test]
fn bench_configuration_is_separate_and_instantiable() {
    let config = p8n16();
    assert_eq!((config.lanes, config.log_max_n), (8, 16));
    assert!(Config::named("p8n16").is_none(), "not in CONFIGS");
    for c in BENCH_CONFIGS {
        assert!(CONFIGS.iter().all(|named| named.name != c.name));
    }
    assert_eq!(Config::named_any("p8"), Config::named("p8"));
    assert_eq!(Config::named_any("nope"), None);
    // Panics if the type parameters used by the benchmark do not match.
    let _ = Accelerator::<8, 14, 14, 3, 1>::new(&config);
}

#[test]
fn one_round_matches_the_golden_model() {
    let config = p8n16();
    let script = speed::script(&config, 12, Mix::Product, 1).unwrap();
    assert_eq!(script.jobs.len(), 4, "one round: NTT, Mul, INTT, Mac");
    let reference = speed::reference(&config, &script).unwrap();
    assert_eq!(reference.cycles, script.cycles());
    // The counter read in the check phase is the device's own count.
    assert!(reference.counter_read > script.phase_cycles()[..2].iter().sum::<u64>());
    assert!(reference.counter_read < reference.cycles);
    let (device, _) = speed::run_simulator(&config, &script);
    assert_eq!(device.cycle_count(), reference.cycles);
    assert_eq!(device.trace().len(), 4);
    assert!(device.trace().iter().all(|job| job.flags == 0));
}

#[test]
fn the_reference_check_catches_a_wrong_memory() {
    let config = p8n16();
    let mut script = speed::script(&config, 12, Mix::Product, 1).unwrap();
    // The golden model now starts from other data than the device.
    script.initial_memory[5] ^= 1;
    let error = speed::reference(&config, &script).err().unwrap();
    assert!(error.contains("golden"), "{error}");
}

#[test]
fn sizes_outside_the_configuration_are_refused() {
    let config = p8n16();
    assert!(speed::script(&config, 17, Mix::Product, 1).is_err());
    assert!(speed::script(&config, 3, Mix::Transforms, 1).is_err());
    let p8 = Config::named("p8").unwrap();
    assert!(speed::script(&p8, 13, Mix::Transforms, 1).is_err());
}
