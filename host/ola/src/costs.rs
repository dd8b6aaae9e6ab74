//! The device cost table `T(d)`: cycles to evaluate a degree-`d`
//! Chebyshev polynomial on one ciphertext, and the bootstrapping share per
//! consumed level.
//!
//! The format (`ola-costs/1`, JSON) is what `ola costs` writes from
//! measured device runs; [`CostTable::modelled`] derives the same table
//! from a documented model when no file is given (`source: "modelled"`).
//! A layer with `c` ciphertexts costs
//! `T_i(d) = c · (total_cycles(d) + levels(d) · bootstrap_cycles_per_level)`.

use std::path::Path;

use ola_ckks::polynomial::{ChebyshevPoly as CkksPoly, plan};
use ola_spec::config::Config;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Format tag of cost tables.
pub const FORMAT: &str = "ola-costs/1";

/// Where the built-in measured table lives (under `host/ola`); regenerate
/// it with `ola costs --out host/ola/data/costs-measured.json`.
pub const MEASURED_PATH: &str = "data/costs-measured.json";

/// The built-in measured table ([`CostTable::measured`]).
const MEASURED_JSON: &str = include_str!("../data/costs-measured.json");

/// Largest degree a modelled table covers.
pub const MODEL_MAX_DEGREE: usize = 1023;

/// Cost of evaluating one polynomial on one ciphertext.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostEntry {
    /// Polynomial degree.
    pub degree: usize,
    /// Device cycles spent computing (NTTs and limb-wise jobs).
    pub compute_cycles: u64,
    /// Cycles spent moving words to and from the device.
    pub data_movement_cycles: u64,
    /// `compute_cycles + data_movement_cycles` (bootstrapping not included).
    pub total_cycles: u64,
    /// Levels (multiplicative depth) consumed.
    pub levels: u32,
    /// Ciphertext-ciphertext multiplications (relinearised and rescaled).
    pub ct_mults: u32,
}

/// The CKKS parameters a table was made for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostParams {
    /// `log2 N`.
    pub log_n: u32,
    /// Slots per ciphertext (`N / 2`).
    pub slots: usize,
    /// Rescaling levels of a fresh ciphertext.
    pub levels: usize,
    /// Base limbs.
    pub base_limbs: usize,
    /// Special primes (`α` of hybrid key switching).
    pub special_primes: usize,
    /// Limbs per key-switching digit.
    pub digit_size: usize,
}

/// A cost table (see the module doc).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostTable {
    /// Always [`FORMAT`].
    pub format: String,
    /// `"measured"` (device runs) or `"modelled"`.
    pub source: String,
    /// How the numbers were obtained.
    pub description: String,
    /// Accelerator configuration name (`ola_spec::config::CONFIGS`).
    pub device: String,
    /// CKKS parameters.
    pub params: CostParams,
    /// Cycles of one bootstrap divided by the levels it makes available:
    /// the price of every level a polynomial consumes.
    pub bootstrap_cycles_per_level: f64,
    /// One entry per degree, increasing.
    pub entries: Vec<CostEntry>,
    /// The uniform composite-minimax ReLU (α = 13, degrees {15, 15, 27}
    /// plus `x · sgn`) on one ciphertext: the baseline of budget fractions.
    pub baseline: CostEntry,
}

/// Assumptions of the modelled table, written into its description.
#[derive(Clone, Copy, Debug)]
pub struct CostModel {
    /// Device configuration.
    pub config: Config,
    /// CKKS parameters.
    pub params: ModelParams,
    /// Cost of one bootstrap in ciphertext multiplications at the top level.
    pub bootstrap_mults: f64,
    /// Levels one bootstrap consumes itself (the rest are usable).
    pub bootstrap_depth: usize,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            config: Config::named("p8").expect("p8 exists"),
            params: ModelParams::N16,
            bootstrap_mults: 100.0,
            bootstrap_depth: 12,
        }
    }
}

/// The CKKS parameters the model prices (only what the cost depends on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelParams {
    /// `log2 N`.
    pub log_n: u32,
    /// Base limbs (never rescaled away).
    pub base_limbs: usize,
    /// Rescaling levels of a freshly bootstrapped ciphertext's chain.
    pub levels: usize,
    /// Limbs (30-bit primes) dropped per level (2 for a 2^60 scale).
    pub primes_per_level: usize,
    /// Special primes `α`.
    pub special_primes: usize,
    /// Limbs per key-switching digit.
    pub digit_size: usize,
}

impl ModelParams {
    /// N = 2^16 with 30-bit words, a 2^60 scale from two primes per level,
    /// 19 levels, 3 base and 15 special primes, digits of 14 (ola-ckks's
    /// `PN16_QP1747` shape, 128-bit secure).
    pub const N16: ModelParams = ModelParams {
        log_n: 16,
        base_limbs: 3,
        levels: 19,
        primes_per_level: 2,
        special_primes: 15,
        digit_size: 14,
    };
}

/// Per-operation device cycles (compute, bus words) at ring size `2^log_n`.
#[derive(Clone, Copy, Debug)]
struct OpCost {
    compute: f64,
    words: f64,
}

impl std::ops::Add for OpCost {
    type Output = OpCost;
    fn add(self, o: OpCost) -> OpCost {
        OpCost {
            compute: self.compute + o.compute,
            words: self.words + o.words,
        }
    }
}

impl std::ops::Mul<f64> for OpCost {
    type Output = OpCost;
    fn mul(self, k: f64) -> OpCost {
        OpCost {
            compute: self.compute * k,
            words: self.words * k,
        }
    }
}

impl CostModel {
    /// One NTT (or INTT) of one limb: on the device directly when
    /// `N ≤ N_max`, else split four-step as `N = N1 · N2` (both ≤ N_max;
    /// `N2` transforms of `N1`, `N1` of `N2`, a twiddle multiply), with the
    /// cheapest split. Words: each device job's buffers in and out.
    fn ntt(&self) -> OpCost {
        let c = &self.config;
        let log_n = self.params.log_n;
        if log_n <= c.log_max_n {
            let n = (1usize << log_n) as f64;
            return OpCost {
                compute: c.ntt_cycles(log_n) as f64,
                words: 2.0 * n,
            };
        }
        let n = (1usize << log_n) as f64;
        (c.min_log_n()..=c.log_max_n)
            .filter(|&a| log_n - a >= c.min_log_n() && log_n - a <= c.log_max_n)
            .map(|a| {
                let b = log_n - a;
                let jobs_a = (1usize << b) as f64;
                let jobs_b = (1usize << a) as f64;
                let twiddle_jobs = n / c.max_n() as f64;
                OpCost {
                    compute: jobs_a * c.ntt_cycles(a) as f64
                        + jobs_b * c.ntt_cycles(b) as f64
                        + twiddle_jobs * c.vector_cycles(c.log_max_n, 2) as f64,
                    // Two transforms (in + out each) and the twiddle product
                    // (data in, twiddles in, out).
                    words: 2.0 * 2.0 * n + 3.0 * n,
                }
            })
            .min_by(|x, y| (x.compute + x.words).total_cmp(&(y.compute + y.words)))
            .expect("a split exists for log_n ≤ 2·log_max_n")
    }

    /// One limb-wise vector job of `operands` memory operands over `N`.
    fn vector(&self, operands: usize) -> OpCost {
        let c = &self.config;
        let log_n = self.params.log_n;
        let n = (1usize << log_n) as f64;
        let (log_job, jobs) = if log_n <= c.log_max_n {
            (log_n, 1.0)
        } else {
            (c.log_max_n, n / c.max_n() as f64)
        };
        OpCost {
            compute: jobs * c.vector_cycles(log_job, operands) as f64,
            words: (operands as f64 + 1.0) * n,
        }
    }

    /// Multiply + relinearise + rescale at `limbs` active limbs (method.md):
    /// `(β + 5)·L' + 2α` NTTs, `2β(L' + α)` multiply-accumulates, the
    /// tensor product (4 multiplies, 1 add per limb) and the rescale
    /// (subtract, multiply by a constant, per limb and polynomial).
    fn mult(&self, limbs: usize) -> OpCost {
        let alpha = self.params.special_primes;
        let beta = limbs.div_ceil(self.params.digit_size);
        let ntts = ((beta + 5) * limbs + 2 * alpha) as f64;
        let macs = (2 * beta * (limbs + alpha)) as f64;
        let l = limbs as f64;
        self.ntt() * ntts
            + self.vector(3) * macs
            + self.vector(2) * (5.0 * l)
            + (self.vector(2) + self.vector(1)) * (2.0 * l)
    }

    /// Average active limbs while a layer's polynomial is evaluated: half
    /// way through the usable levels.
    fn working_limbs(&self) -> usize {
        let usable = self.params.levels.saturating_sub(self.bootstrap_depth);
        self.params.base_limbs + self.params.primes_per_level * usable.div_ceil(2)
    }

    /// Cost of a polynomial with the given products, depth and
    /// plaintext-constant terms on one ciphertext.
    fn poly_cost(&self, degree: usize, products: usize, depth: usize, terms: usize) -> CostEntry {
        let l = self.working_limbs();
        // Each term: constant multiply and add on both ciphertext polynomials.
        let scalar = (self.vector(1) + self.vector(2)) * (2.0 * terms as f64 * l as f64);
        let c = self.mult(l) * products as f64 + scalar;
        let compute = c.compute.round() as u64;
        let data = c.words.round() as u64;
        CostEntry {
            degree,
            compute_cycles: compute,
            data_movement_cycles: data,
            total_cycles: compute + data,
            levels: depth as u32,
            ct_mults: products as u32,
        }
    }

    /// The bootstrapping share per level (see [`CostModel::bootstrap_mults`]).
    fn bootstrap_per_level(&self) -> f64 {
        let top = self.params.base_limbs + self.params.primes_per_level * self.params.levels;
        let m = self.mult(top);
        let usable = self
            .params
            .levels
            .saturating_sub(self.bootstrap_depth)
            .max(1);
        self.bootstrap_mults * (m.compute + m.words) / usable as f64
    }
}

impl CostTable {
    /// The modelled table for degrees `1..=max_degree` (see README
    /// "Cost tables"): BSGS products and depth of `ola_ckks::polynomial::plan`
    /// for a dense polynomial × per-operation cycles from the `ola-spec`
    /// formulas; words cross the bus at one per cycle with nothing
    /// resident; a bootstrap costs `bootstrap_mults` top-level products.
    pub fn modelled(model: &CostModel, max_degree: usize) -> Result<Self> {
        let max_degree = max_degree.clamp(1, MODEL_MAX_DEGREE);
        let entries = (1..=max_degree)
            .map(|d| {
                let p = plan(&CkksPoly::new(vec![1.0; d + 1]));
                model.poly_cost(d, p.products, p.depth, d + 1)
            })
            .collect();
        let sign = ola_approx::CompositeSign::published_relu(13)?;
        let (mut products, mut depth, mut terms) = (1usize, 1usize, 0usize);
        for s in sign.stages() {
            let p = plan(&CkksPoly::new(s.coeffs().to_vec()));
            products += p.products;
            depth += p.depth;
            terms += s.coeffs().iter().filter(|c| **c != 0.0).count();
        }
        let baseline = model.poly_cost(0, products, depth, terms);
        let p = &model.params;
        Ok(CostTable {
            format: FORMAT.into(),
            source: "modelled".into(),
            description: format!(
                "modelled, not measured: ola-ckks BSGS plan (products, depth) per degree x \
                 ola-spec cycle formulas of config {} at N = 2^{}, {} working limbs, \
                 four-step NTT split above N_max, 1 bus word per cycle, no residency; \
                 bootstrap = {} top-level products, {} of {} levels consumed by it",
                model.config.name,
                p.log_n,
                model.working_limbs(),
                model.bootstrap_mults,
                model.bootstrap_depth,
                p.levels
            ),
            device: model.config.name.into(),
            params: CostParams {
                log_n: p.log_n,
                slots: 1 << (p.log_n - 1),
                levels: p.levels,
                base_limbs: p.base_limbs,
                special_primes: p.special_primes,
                digit_size: p.digit_size,
            },
            bootstrap_cycles_per_level: model.bootstrap_per_level().round(),
            entries,
            baseline,
        })
    }

    /// The measured table the optimizer uses by default:
    /// [`MEASURED_PATH`], generated by `ola costs` (priced on the
    /// simulated p8 board at the modelled table's parameters, N = 2^16)
    /// and compiled in.
    pub fn measured() -> Result<Self> {
        let t: CostTable = serde_json::from_str(MEASURED_JSON).map_err(|e| {
            Error::new(format!(
                "the built-in cost table {MEASURED_PATH} is not valid: {e}"
            ))
        })?;
        t.validate()
            .map_err(|e| Error::new(format!("the built-in cost table {MEASURED_PATH}: {e}")))?;
        Ok(t)
    }

    /// Reads and validates a table.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(format!("cannot read cost table {}: {e}", path.display())))?;
        let t: CostTable = serde_json::from_str(&text).map_err(|e| {
            Error::new(format!(
                "cost table {} is not a valid {FORMAT} JSON table: {e}",
                path.display()
            ))
        })?;
        t.validate()
            .map_err(|e| Error::new(format!("cost table {}: {e}", path.display())))?;
        Ok(t)
    }

    /// Checks the format tag, increasing degrees, sums and finiteness.
    pub fn validate(&self) -> Result<()> {
        if self.format != FORMAT {
            return Err(Error::new(format!(
                "format is {:?}, expected {FORMAT:?}",
                self.format
            )));
        }
        if self.entries.is_empty() {
            return Err(Error::new("no entries"));
        }
        if !(self.bootstrap_cycles_per_level.is_finite() && self.bootstrap_cycles_per_level >= 0.0)
        {
            return Err(Error::new(
                "bootstrap_cycles_per_level must be finite and >= 0",
            ));
        }
        if self.params.slots == 0 {
            return Err(Error::new("params.slots must be > 0"));
        }
        for w in self.entries.windows(2) {
            if w[1].degree <= w[0].degree {
                return Err(Error::new(format!(
                    "degrees must increase (entry {} after {})",
                    w[1].degree, w[0].degree
                )));
            }
        }
        for e in self.entries.iter().chain([&self.baseline]) {
            if e.compute_cycles + e.data_movement_cycles != e.total_cycles {
                return Err(Error::new(format!(
                    "degree {}: total_cycles {} != compute {} + data movement {}",
                    e.degree, e.total_cycles, e.compute_cycles, e.data_movement_cycles
                )));
            }
        }
        Ok(())
    }

    /// The entry of `degree`, if the table has it.
    pub fn entry(&self, degree: usize) -> Option<&CostEntry> {
        self.entries
            .binary_search_by_key(&degree, |e| e.degree)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Cycles of one entry on one ciphertext, bootstrapping share included.
    pub fn cycles(&self, e: &CostEntry) -> f64 {
        e.total_cycles as f64 + e.levels as f64 * self.bootstrap_cycles_per_level
    }

    /// Ciphertexts a layer of `elements` values per image needs.
    pub fn ciphertexts(&self, elements: usize) -> usize {
        elements.div_ceil(self.params.slots).max(1)
    }

    /// The candidate degree set: for each distinct per-ciphertext cost,
    /// the largest degree with that cost (method.md step 7), up to
    /// `max_degree`, degree ≥ `min_degree`.
    pub fn candidate_degrees(&self, min_degree: usize, max_degree: usize) -> Vec<usize> {
        let es: Vec<&CostEntry> = self
            .entries
            .iter()
            .filter(|e| e.degree >= min_degree && e.degree <= max_degree)
            .collect();
        let mut out: Vec<usize> = Vec::new();
        for (k, e) in es.iter().enumerate() {
            let c = self.cycles(e);
            // Keep d if no higher degree costs the same or less.
            if !es[k + 1..].iter().any(|f| self.cycles(f) <= c) {
                out.push(e.degree);
            }
        }
        out
    }

    /// The table as CSV (one row per degree, then the baseline).
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "degree,compute_cycles,data_movement_cycles,total_cycles,levels,ct_mults,bootstrap_share_cycles,cycles_with_bootstrap\n",
        );
        for e in self.entries.iter().chain([&self.baseline]) {
            let name = if std::ptr::eq(e, &self.baseline) {
                "baseline".to_string()
            } else {
                e.degree.to_string()
            };
            s += &format!(
                "{name},{},{},{},{},{},{:.0},{:.0}\n",
                e.compute_cycles,
                e.data_movement_cycles,
                e.total_cycles,
                e.levels,
                e.ct_mults,
                e.levels as f64 * self.bootstrap_cycles_per_level,
                self.cycles(e)
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modelled_table_is_valid_and_consistent() {
        let t = CostTable::modelled(&CostModel::default(), 127).unwrap();
        t.validate().unwrap();
        assert_eq!(t.source, "modelled");
        assert!(t.description.contains("modelled"));
        // Depth of the BSGS plan: ceil(log2(d + 1)) for these degrees.
        for (d, depth) in [(3, 2), (7, 3), (15, 4), (31, 5), (63, 6)] {
            assert_eq!(t.entry(d).unwrap().levels, depth, "degree {d}");
        }
        // The composite baseline: 15, 15, 27 (depth 4 + 4 + 5) plus x·sgn.
        assert_eq!(t.baseline.levels, 14);
        // Candidates: each is the largest degree of its cost, costs increase.
        let s = t.candidate_degrees(2, 127);
        assert!(s.contains(&127) && s.contains(&63) && s.contains(&15));
        let c: Vec<f64> = s.iter().map(|&d| t.cycles(t.entry(d).unwrap())).collect();
        assert!(c.windows(2).all(|w| w[0] < w[1]), "{c:?}");
        for (&d, &cd) in s.iter().zip(&c) {
            assert!(
                t.entries
                    .iter()
                    .filter(|e| e.degree > d && e.degree <= 127)
                    .all(|e| t.cycles(e) > cd)
            );
        }
        // The JSON round-trips.
        let back: CostTable = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert_eq!(t.to_csv().lines().count(), 1 + 127 + 1);
    }

    #[test]
    fn ciphertext_counts() {
        let t = CostTable::modelled(&CostModel::default(), 7).unwrap();
        assert_eq!(t.ciphertexts(16 * 32 * 32), 1);
        assert_eq!(t.ciphertexts(t.params.slots + 1), 2);
    }
}
