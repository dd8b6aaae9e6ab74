//! The plan file other tools read: per ReLU (forward order) a Chebyshev
//! polynomial `Σ_k coeffs[k] · T_k(x / bound)`.

use std::path::Path;

use ola_approx::ChebyshevPoly;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One activation layer of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanLayer {
    /// ReLU index in forward order.
    pub index: usize,
    /// Polynomial degree (`coeffs.len() - 1`).
    pub degree: usize,
    /// Input bound `B`: the polynomial's variable is `x / B`.
    pub bound: f64,
    /// Always `"chebyshev"`.
    pub basis: String,
    /// Chebyshev coefficients `c_0 … c_degree`.
    pub coeffs: Vec<f64>,
    /// Approximation family that produced it (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Cycles this layer costs (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycles: Option<u64>,
}

/// A plan (see the module doc).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Model name (file stem).
    pub model: String,
    /// Always `"relu"`.
    pub activation: String,
    /// Cycles of all layers' polynomials.
    pub total_cycles: u64,
    /// The budget the plan was solved for.
    pub budget_cycles: u64,
    /// One entry per ReLU, `index` 0, 1, …
    pub layers: Vec<PlanLayer>,
    /// `"modelled"` or `"measured"`: where the cycles come from (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_source: Option<String>,
}

impl Plan {
    /// Checks the schema's invariants.
    pub fn validate(&self) -> Result<()> {
        if self.activation != "relu" {
            return Err(Error::new(format!(
                "activation {:?} is not supported (only \"relu\")",
                self.activation
            )));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if l.index != i {
                return Err(Error::new(format!(
                    "layer {i} has index {} (indices must be 0, 1, 2, …)",
                    l.index
                )));
            }
            if l.basis != "chebyshev" {
                return Err(Error::new(format!(
                    "layer {i}: basis {:?} is not \"chebyshev\"",
                    l.basis
                )));
            }
            if l.coeffs.len() != l.degree + 1 {
                return Err(Error::new(format!(
                    "layer {i}: degree {} needs {} coefficients, found {}",
                    l.degree,
                    l.degree + 1,
                    l.coeffs.len()
                )));
            }
            if !(l.bound.is_finite() && l.bound > 0.0) || l.coeffs.iter().any(|c| !c.is_finite()) {
                return Err(Error::new(format!(
                    "layer {i}: bound and coefficients must be finite, bound > 0"
                )));
            }
        }
        Ok(())
    }

    /// Reads and validates a plan file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(format!("cannot read plan {}: {e}", path.display())))?;
        let p: Plan = serde_json::from_str(&text).map_err(|e| {
            Error::new(format!(
                "plan {} is not valid plan JSON: {e}",
                path.display()
            ))
        })?;
        p.validate()
            .map_err(|e| Error::new(format!("plan {}: {e}", path.display())))?;
        Ok(p)
    }

    /// Writes the plan as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text)
            .map_err(|e| Error::new(format!("cannot write plan {}: {e}", path.display())))
    }

    /// Each layer's polynomial.
    pub fn polys(&self) -> Result<Vec<ChebyshevPoly>> {
        self.layers
            .iter()
            .map(|l| Ok(ChebyshevPoly::new(l.bound, l.coeffs.clone())?))
            .collect()
    }
}

/// `Σ_k c_k T_k(x / B)` by the three-term recurrence written out directly
/// (the schema's definition, independent of Clenshaw in `ola-approx`).
pub fn eval_schema(coeffs: &[f64], bound: f64, x: f64) -> f64 {
    let t = x / bound;
    let (mut tkm1, mut tk) = (1.0, t);
    let mut s = coeffs.first().copied().unwrap_or(0.0);
    for (k, c) in coeffs.iter().enumerate().skip(1) {
        if k > 1 {
            let next = 2.0 * t * tk - tkm1;
            tkm1 = tk;
            tk = next;
        }
        s += c * tk;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Plan {
        Plan {
            model: "resnet20".into(),
            activation: "relu".into(),
            total_cycles: 123,
            budget_cycles: 456,
            layers: vec![PlanLayer {
                index: 0,
                degree: 2,
                bound: 12.5,
                basis: "chebyshev".into(),
                coeffs: vec![0.1, 0.5, 0.25],
                family: None,
                cycles: None,
            }],
            cost_source: None,
        }
    }

    #[test]
    fn schema_round_trip() {
        let p = sample();
        let text = serde_json::to_string(&p).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        // The fields other tools rely on, with their JSON types.
        assert_eq!(v["model"], "resnet20");
        assert_eq!(v["activation"], "relu");
        assert_eq!(v["total_cycles"], 123);
        assert_eq!(v["budget_cycles"], 456);
        let l = &v["layers"][0];
        assert_eq!(l["index"], 0);
        assert_eq!(l["degree"], 2);
        assert_eq!(l["bound"], 12.5);
        assert_eq!(l["basis"], "chebyshev");
        assert_eq!(l["coeffs"].as_array().unwrap().len(), 3);
        let back: Plan = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
        // A file with only the documented fields parses too.
        let minimal = r#"{"model":"m","activation":"relu","total_cycles":1,"budget_cycles":2,
            "layers":[{"index":0,"degree":1,"bound":2.0,"basis":"chebyshev","coeffs":[0.5,0.5]}]}"#;
        let m: Plan = serde_json::from_str(minimal).unwrap();
        m.validate().unwrap();
    }

    #[test]
    fn validation_names_the_problem() {
        let mut p = sample();
        p.layers[0].coeffs.pop();
        assert!(p.validate().unwrap_err().0.contains("needs 3 coefficients"));
        let mut p = sample();
        p.layers[0].index = 4;
        assert!(p.validate().unwrap_err().0.contains("index"));
        let mut p = sample();
        p.activation = "gelu".into();
        assert!(p.validate().is_err());
    }

    #[test]
    fn schema_evaluation_matches_the_fit() {
        // A real least-squares fit of ReLU, evaluated by the schema's
        // formula and by ola-approx's Clenshaw recurrence.
        let xs: Vec<f64> = (0..4001)
            .map(|i| -10.0 + 20.0 * i as f64 / 4000.0)
            .collect();
        let dist = ola_approx::InputDistribution::from_samples(&xs).unwrap();
        let fit = ola_approx::fit_wls_all_degrees(&dist, &ola_approx::Activation::Relu, 10.0, 31)
            .unwrap();
        for d in [3, 15, 31] {
            let p = fit.poly(d).unwrap();
            for &x in &[-10.0, -3.3, 0.0, 0.7, 9.99, 12.0] {
                let a = eval_schema(p.coeffs(), p.bound(), x);
                assert!(
                    (a - p.eval(x)).abs() < 1e-9 * (1.0 + a.abs()),
                    "d {d} x {x}: {a} vs {}",
                    p.eval(x)
                );
            }
            // And the fit is a ReLU approximation: small mean error.
            let mse: f64 = xs
                .iter()
                .map(|&x| (eval_schema(p.coeffs(), 10.0, x) - x.max(0.0)).powi(2))
                .sum::<f64>()
                / xs.len() as f64;
            assert!(
                (mse - fit.mse(d).unwrap()).abs() < 1e-6 * (1.0 + mse),
                "d {d}: {mse} vs {}",
                fit.mse(d).unwrap()
            );
        }
    }
}
