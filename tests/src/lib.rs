//! Shared pieces of the cross-crate tests and tools: bus stimulus helpers.
//! (The tests themselves live in `tests/`.)

use ola_arith::{Modulus, NttPlan};
use ola_spec::config::Config;
use ola_spec::{BusInputs, map, twiddle_image};

/// A bus write.
pub fn write(address: u32, write_data: u32) -> BusInputs {
    BusInputs {
        address,
        write_data,
        write: true,
        read: false,
    }
}

/// A bus read.
pub fn read(address: u32) -> BusInputs {
    BusInputs {
        address,
        read: true,
        ..Default::default()
    }
}

/// The bus writes that load `modulus` into `slot` with the Barrett
/// constant `barrett` (normally `modulus.barrett_m()`), then its twiddle
/// tables, each passed through `corrupt(value)` (identity for a clean load).
pub fn load_slot_writes(
    config: &Config,
    slot: u32,
    modulus: &Modulus,
    barrett: u32,
    mut corrupt: impl FnMut(u32) -> u32,
) -> Vec<BusInputs> {
    let mut out = vec![
        write(map::MOD_SLOT, slot),
        write(map::MOD_Q, modulus.value()),
        write(map::MOD_M, barrett),
        write(map::MOD_COMMIT, 1),
    ];
    let plan = NttPlan::new(config.max_n(), *modulus).expect("an NTT-friendly modulus");
    for (address, value, early) in twiddle_image(config, slot, &plan) {
        let region = if early {
            map::TWIDDLE_EARLY
        } else {
            map::TWIDDLE
        };
        out.push(write(region | address, corrupt(value)));
    }
    out
}
