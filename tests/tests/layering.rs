//! The workspace's one-way layering, checked from `cargo metadata`:
//! the golden arithmetic depends on nothing of ours, the interface crate
//! only on it, the simulator never on the RTL, the firmware never on the
//! host, and nothing below the integration tests on the host side.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn workspace_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let ours: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null()) // normal dependencies only
                .map(|d| d["name"].as_str().unwrap().to_string())
                .filter(|name| ours.contains(name))
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn layers_point_one_way() {
    let deps = workspace_dependencies();
    let allowed: &[(&str, &[&str])] = &[
        ("ola-arith", &[]),
        ("ola-spec", &["ola-arith"]),
        ("ola-hdl", &["ola-arith", "ola-spec"]),
        ("ola-sim", &["ola-arith", "ola-spec"]),
        ("ola-approx", &[]),
        ("ola-ckks", &["ola-arith"]),
        // host → protocol → firmware → bus: the firmware never sees the
        // host, the protocol is data only.
        ("ola-protocol", &["ola-spec"]),
        ("ola-firmware", &["ola-arith", "ola-spec", "ola-protocol"]),
        (
            "ola-device",
            &[
                "ola-arith",
                "ola-spec",
                "ola-sim",
                "ola-protocol",
                "ola-firmware",
            ],
        ),
        ("ola-boards", &["ola-hdl", "ola-spec"]),
        // The device backend: ckks reaches the device only through it.
        (
            "ola-offload",
            &["ola-arith", "ola-spec", "ola-ckks", "ola-device"],
        ),
        (
            "ola",
            &["ola-approx", "ola-spec", "ola-ckks", "ola-offload"],
        ),
    ];
    for (crate_name, may_use) in allowed {
        let Some(actual) = deps.get(*crate_name) else {
            panic!("{crate_name} is missing from the workspace");
        };
        for dep in actual {
            assert!(
                may_use.contains(&dep.as_str()),
                "{crate_name} must not depend on {dep} (allowed: {may_use:?})"
            );
        }
    }
}
