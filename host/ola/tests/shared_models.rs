//! Against the pretrained models in `../shared` (skipped with a message
//! when that folder is absent).

use std::path::PathBuf;

use ola::accuracy::{Activations, accuracy};
use ola::cifar::Dataset;
use ola::model::ResNet;

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if p.join("models/resnet20.safetensors").exists()
        && p.join("data/cifar10/test_1000.bin").exists()
    {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared (models and CIFAR-10 slices) not found next to the project");
        None
    }
}

/// ResNet-20 with folded BatchNorm reproduces its published score on the
/// first 1,000 test images (91.5 %, shared/README.md), and its
/// normalisation comes from the file's metadata.
#[test]
fn resnet20_reproduces_the_original_accuracy() {
    let Some(s) = shared() else { return };
    let model = ResNet::load(&s.join("models/resnet20.safetensors")).unwrap();
    assert_eq!(model.depth(), 20);
    assert_eq!(model.relu_count(), 19);
    let norm = model.normalization.expect("normalisation in the metadata");
    let data = Dataset::load(&s.join("data/cifar10/test_1000.bin")).unwrap();
    assert_eq!(data.len(), 1000);
    let a = accuracy(
        &model,
        &data,
        &norm,
        Activations::Exact,
        250,
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    let correct = (a.top1 * 1000.0).round() as i64;
    // 915 / 1000; one image may flip with float summation order.
    assert!(
        (correct - 915).abs() <= 1,
        "ResNet-20 top-1 {correct} / 1000"
    );
}
