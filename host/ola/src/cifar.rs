//! CIFAR-10 binary batches: records of 1 label byte (0–9) and 3,072 pixel
//! bytes (red, green, blue planes of 32 × 32, row-major).

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};

/// Bytes of one record.
pub const RECORD: usize = 1 + PIXELS;
/// Pixel bytes of one image.
pub const PIXELS: usize = 3 * 32 * 32;
/// Class names in label order.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// A set of labelled 32 × 32 RGB images.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Labels, one per image, each `< 10`.
    pub labels: Vec<u8>,
    /// Pixels, `PIXELS` bytes per image (CHW order).
    pub pixels: Vec<u8>,
}

/// Per-channel input normalisation: `(pixel / 255 - mean) / std`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalization {
    /// Channel means (R, G, B).
    pub mean: [f32; 3],
    /// Channel standard deviations (R, G, B), each `> 0`.
    pub std: [f32; 3],
}

impl Normalization {
    /// The ImageNet statistics the shared CIFAR models were trained with.
    pub const IMAGENET: Normalization = Normalization {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };

    /// Parses `"a,b,c"` triples (as on the command line and in safetensors
    /// metadata).
    pub fn parse(mean: &str, std: &str) -> Result<Self> {
        let triple = |s: &str, what: &str| -> Result<[f32; 3]> {
            let v: Vec<f32> = s
                .split(',')
                .map(|t| t.trim().parse::<f32>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| {
                    Error::new(format!("{what} {s:?} is not three comma-separated numbers"))
                })?;
            <[f32; 3]>::try_from(v)
                .map_err(|_| Error::new(format!("{what} {s:?} must have exactly three values")))
        };
        let n = Normalization {
            mean: triple(mean, "normalisation mean")?,
            std: triple(std, "normalisation std")?,
        };
        if n.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || n.mean.iter().any(|m| !m.is_finite())
        {
            return Err(Error::new(format!(
                "normalisation std must be finite and > 0 and mean finite (got mean {:?}, std {:?})",
                n.mean, n.std
            )));
        }
        Ok(n)
    }
}

impl Dataset {
    /// Parses a CIFAR-10 binary batch, refusing empty or truncated files
    /// and labels above 9.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::new(format!(
                "{name}: empty file, expected CIFAR-10 records"
            )));
        }
        if !bytes.len().is_multiple_of(RECORD) {
            return Err(Error::new(format!(
                "{name}: {} bytes is not a whole number of CIFAR-10 records of {RECORD} bytes \
                 (truncated file? {} complete records and {} bytes left over)",
                bytes.len(),
                bytes.len() / RECORD,
                bytes.len() % RECORD
            )));
        }
        let n = bytes.len() / RECORD;
        let mut labels = Vec::with_capacity(n);
        let mut pixels = Vec::with_capacity(n * PIXELS);
        for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
            if rec[0] > 9 {
                return Err(Error::new(format!(
                    "{name}: record {i} has label {} (CIFAR-10 labels are 0-9): not a CIFAR-10 file?",
                    rec[0]
                )));
            }
            labels.push(rec[0]);
            pixels.extend_from_slice(&rec[1..]);
        }
        Ok(Dataset { labels, pixels })
    }

    /// Reads a CIFAR-10 binary batch from a file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::new(format!("cannot read dataset {}: {e}", path.display())))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// The records as bytes (the inverse of [`Self::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * RECORD);
        for (l, p) in self.labels.iter().zip(self.pixels.chunks_exact(PIXELS)) {
            out.push(*l);
            out.extend_from_slice(p);
        }
        out
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Images `start..start + len` (clamped to the set).
    pub fn slice(&self, start: usize, len: usize) -> Dataset {
        let s = start.min(self.len());
        let e = (start + len).min(self.len());
        Dataset {
            labels: self.labels[s..e].to_vec(),
            pixels: self.pixels[s * PIXELS..e * PIXELS].to_vec(),
        }
    }

    /// Images `start..start + len` as a normalised `(n, 3, 32, 32)` f32
    /// tensor and their labels as a `(n,)` u32 tensor.
    pub fn batch(
        &self,
        start: usize,
        len: usize,
        norm: &Normalization,
    ) -> Result<(Tensor, Tensor)> {
        let e = (start + len).min(self.len());
        let n = e - start;
        let mut x = Vec::with_capacity(n * PIXELS);
        for img in self.pixels[start * PIXELS..e * PIXELS].chunks_exact(PIXELS) {
            for (c, plane) in img.chunks_exact(1024).enumerate() {
                let (m, s) = (norm.mean[c], norm.std[c]);
                x.extend(plane.iter().map(|&p| (p as f32 / 255.0 - m) / s));
            }
        }
        let labels: Vec<u32> = self.labels[start..e].iter().map(|&l| l as u32).collect();
        Ok((
            Tensor::from_vec(x, (n, 3, 32, 32), &Device::Cpu)?,
            Tensor::from_vec(labels, n, &Device::Cpu)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let d = Dataset {
            labels: vec![3, 9],
            pixels: (0..2 * PIXELS).map(|i| (i % 251) as u8).collect(),
        };
        let bytes = d.to_bytes();
        assert_eq!(Dataset::from_bytes(&bytes, "x").unwrap(), d);
        let err = Dataset::from_bytes(&bytes[..bytes.len() - 5], "x").unwrap_err();
        assert!(err.0.contains("truncated"), "{err}");
        let mut bad = bytes.clone();
        bad[RECORD] = 10;
        assert!(
            Dataset::from_bytes(&bad, "x")
                .unwrap_err()
                .0
                .contains("label 10")
        );
        assert!(
            Dataset::from_bytes(&[], "x")
                .unwrap_err()
                .0
                .contains("empty")
        );
    }

    #[test]
    fn normalisation_is_applied_per_channel() {
        let mut pixels = vec![0u8; PIXELS];
        pixels[1024] = 255; // green plane, first pixel
        let d = Dataset {
            labels: vec![0],
            pixels,
        };
        let (x, _) = d.batch(0, 1, &Normalization::IMAGENET).unwrap();
        let v = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!((v[0] - (-0.485 / 0.229)).abs() < 1e-6);
        assert!((v[1024] - (1.0 - 0.456) / 0.224).abs() < 1e-6);
        assert!(Normalization::parse("1,2", "1,1,1").is_err());
        assert!(Normalization::parse("0,0,0", "1,0,1").is_err());
    }
}
