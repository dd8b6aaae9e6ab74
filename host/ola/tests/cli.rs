//! The binary on bad input: every case is a clear message on stderr and a
//! non-zero exit. Inputs are made here (a tiny random ResNet-8 and
//! synthetic images), so the tests need nothing from `../shared`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ola::demo;
use ola::model::write_safetensors;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ola-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A tiny model and data set; returns (model, calib, test) paths.
fn inputs(d: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let m = demo::init_resnet(1, 4, 3).unwrap();
    let mp = d.join("m.safetensors");
    m.save(&mp).unwrap();
    let c = d.join("calib.bin");
    std::fs::write(&c, demo::synthetic(24, 1).to_bytes()).unwrap();
    let t = d.join("test.bin");
    std::fs::write(&t, demo::synthetic(10, 2).to_bytes()).unwrap();
    (mp, c, t)
}

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ola"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn optimize(model: &Path, calib: &Path, test: &Path, extra: &[&str]) -> (bool, String) {
    let d = model.parent().unwrap();
    let plan = d.join("plan.json");
    let mut a = vec![
        "optimize",
        "--quiet",
        "--model",
        model.to_str().unwrap(),
        "--calib",
        calib.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--out",
        plan.to_str().unwrap(),
        "--max-degree",
        "15",
        "--sweep",
        "0.5",
    ];
    a.extend_from_slice(extra);
    run(&a)
}

fn assert_fails(r: (bool, String), needle: &str) {
    assert!(!r.0, "expected failure mentioning {needle:?}");
    assert!(
        r.1.contains(needle),
        "stderr {:?} does not mention {needle:?}",
        r.1
    );
    assert!(r.1.starts_with("error: "), "{:?}", r.1);
}

#[test]
fn good_inputs_succeed_and_write_a_valid_plan() {
    let d = dir("ok");
    let (m, c, t) = inputs(&d);
    let r = optimize(&m, &c, &t, &["--budget", "0.3"]);
    assert!(r.0, "{}", r.1);
    let plan = ola::plan::Plan::load(&d.join("plan.json")).unwrap();
    assert_eq!(plan.layers.len(), 7, "ResNet-8 has 7 ReLUs");
    assert!(plan.total_cycles <= plan.budget_cycles);
    let r = run(&[
        "accuracy",
        "--quiet",
        "--model",
        m.to_str().unwrap(),
        "--data",
        t.to_str().unwrap(),
        "--plan",
        d.join("plan.json").to_str().unwrap(),
    ]);
    assert!(r.0, "{}", r.1);
    // `ola tune` on that plan writes a plan of the same degrees and bounds.
    let tuned_path = d.join("tuned.json");
    let tune = |plan: &Path, extra: &[&str]| {
        let mut a = vec![
            "tune",
            "--quiet",
            "--model",
            m.to_str().unwrap(),
            "--calib",
            c.to_str().unwrap(),
            "--test",
            t.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
            "--out",
            tuned_path.to_str().unwrap(),
            "--tune-steps",
            "3",
            "--tune-batch",
            "8",
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let r = tune(&d.join("plan.json"), &["--tune-clip", "3"]);
    assert!(r.0, "{}", r.1);
    let tuned = ola::plan::Plan::load(&tuned_path).unwrap();
    for (a, b) in plan.layers.iter().zip(&tuned.layers) {
        assert_eq!((a.degree, a.bound), (b.degree, b.bound));
    }
    assert_eq!(tuned.total_cycles, plan.total_cycles);
    // Bad input: a clipping factor below 1, a plan of another network.
    assert_fails(
        tune(&d.join("plan.json"), &["--tune-clip", "0.5"]),
        "clipping factor",
    );
    let mut short = plan.clone();
    short.layers.pop();
    short.save(&d.join("short.json")).unwrap();
    assert_fails(tune(&d.join("short.json"), &[]), "7 ReLUs");
}

#[test]
fn truncated_dataset() {
    let d = dir("trunc");
    let (m, c, t) = inputs(&d);
    let bytes = std::fs::read(&c).unwrap();
    std::fs::write(&c, &bytes[..bytes.len() - 100]).unwrap();
    assert_fails(optimize(&m, &c, &t, &[]), "truncated");
    assert_fails(
        optimize(&m, &d.join("nope.bin"), &t, &[]),
        "cannot read dataset",
    );
}

#[test]
fn missing_and_misshapen_tensors() {
    let d = dir("tensors");
    let (m, c, t) = inputs(&d);
    let model = ola::model::ResNet::load(&m).unwrap();
    let sd = model.state_dict().unwrap();
    let meta: HashMap<String, String> = [
        ("normalize_mean".into(), "0.5,0.5,0.5".into()),
        ("normalize_std".into(), "0.25,0.25,0.25".into()),
    ]
    .into();

    let missing: Vec<_> = sd
        .iter()
        .filter(|(k, _)| k != "layer2.0.bn1.running_var")
        .cloned()
        .collect();
    write_safetensors(&missing, meta.clone(), &m).unwrap();
    assert_fails(
        optimize(&m, &c, &t, &[]),
        "missing tensor \"layer2.0.bn1.running_var\"",
    );

    let mut bad = sd.clone();
    for (k, v) in bad.iter_mut() {
        if k == "layer3.0.conv2.weight" {
            *v = candle_core::Tensor::zeros(
                (16, 16, 3, 1),
                candle_core::DType::F32,
                &candle_core::Device::Cpu,
            )
            .unwrap();
        }
    }
    write_safetensors(&bad, meta.clone(), &m).unwrap();
    assert_fails(
        optimize(&m, &c, &t, &[]),
        "\"layer3.0.conv2.weight\" has shape [16, 16, 3, 1]",
    );

    std::fs::write(&m, b"not a safetensors file").unwrap();
    assert_fails(optimize(&m, &c, &t, &[]), "safetensors");

    // No metadata and no --mean/--std.
    write_safetensors(&sd, HashMap::new(), &m).unwrap();
    assert_fails(optimize(&m, &c, &t, &[]), "--mean and --std");
}

#[test]
fn infeasible_budget() {
    let d = dir("budget");
    let (m, c, t) = inputs(&d);
    assert_fails(
        optimize(&m, &c, &t, &["--budget", "0.001"]),
        "infeasible budget",
    );
    assert_fails(
        optimize(&m, &c, &t, &["--budget", "1000"]),
        "infeasible budget",
    );
}

#[test]
fn unreadable_cost_table() {
    let d = dir("costs");
    let (m, c, t) = inputs(&d);
    let missing = d.join("missing.json");
    assert_fails(
        optimize(&m, &c, &t, &["--costs", missing.to_str().unwrap()]),
        "cannot read cost table",
    );
    let garbage = d.join("garbage.json");
    std::fs::write(&garbage, "{\"format\": \"ola-costs/1\", \"entries\": 3}").unwrap();
    assert_fails(
        optimize(&m, &c, &t, &["--costs", garbage.to_str().unwrap()]),
        "not a valid ola-costs/1",
    );
    // A well-formed table whose sums do not add up.
    let mut table = ola::costs::CostTable::modelled(&Default::default(), 31).unwrap();
    table.entries[3].total_cycles += 1;
    let bad = d.join("bad.json");
    std::fs::write(&bad, serde_json::to_string(&table).unwrap()).unwrap();
    assert_fails(
        optimize(&m, &c, &t, &["--costs", bad.to_str().unwrap()]),
        "total_cycles",
    );
}
