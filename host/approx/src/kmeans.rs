//! The intermediate-data method (Nam, Joo, Ha, Paek): k-means on the
//! `(x, f(x))` pairs a layer produces, then the degree-d polynomial
//! through the `k = d + 1` cluster means.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::activation::Target;
use crate::chebyshev::{ChebyshevPoly, MAX_DEGREE, chebyshev_nodes, coeffs_from_node_values};
use crate::distribution::InputDistribution;
use crate::error::{ApproxError, Result, check_bound};

/// Weighted k-means on 2-D points: k-means++ seeding from a ChaCha8 RNG
/// seeded with `seed` (so results are reproducible), then Lloyd iterations
/// until no point changes cluster or `max_iter` is reached.
///
/// Returns the `k` centroids sorted by their first coordinate. Empty
/// clusters are re-seeded at the point farthest from its centroid.
pub fn kmeans(
    points: &[[f64; 2]],
    weights: &[f64],
    k: usize,
    seed: u64,
    max_iter: usize,
) -> Result<Vec<[f64; 2]>> {
    if points.is_empty() {
        return Err(ApproxError::NoSamples);
    }
    if points.len() != weights.len() {
        return Err(ApproxError::LengthMismatch {
            samples: points.len(),
            weights: weights.len(),
        });
    }
    if let Some((index, p)) = points
        .iter()
        .enumerate()
        .find(|(_, p)| !(p[0].is_finite() && p[1].is_finite()))
    {
        let value = if p[0].is_finite() { p[1] } else { p[0] };
        return Err(ApproxError::NonFiniteSample { index, value });
    }
    if let Some((index, &value)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
    {
        return Err(ApproxError::InvalidWeight { index, value });
    }
    let distinct = {
        let mut v: Vec<[u64; 2]> = points
            .iter()
            .zip(weights)
            .filter(|(_, w)| **w > 0.0)
            .map(|(p, _)| [p[0].to_bits(), p[1].to_bits()])
            .collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    ApproxError::reject_if(
        k == 0 || distinct < k,
        "k",
        k as f64,
        "1 <= k <= number of distinct weighted points",
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d2 = |a: &[f64; 2], b: &[f64; 2]| (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);

    // k-means++ seeding: first centre with probability ~ w, then ~ w D^2.
    let mut centres: Vec<[f64; 2]> = Vec::with_capacity(k);
    let pick = |rng: &mut ChaCha8Rng, score: &[f64]| -> usize {
        let total: f64 = score.iter().sum();
        let mut u = rng.random::<f64>() * total;
        for (i, s) in score.iter().enumerate() {
            if *s > 0.0 {
                if u < *s {
                    return i;
                }
                u -= s;
            }
        }
        score
            .iter()
            .rposition(|s| *s > 0.0)
            .expect("positive score")
    };
    centres.push(points[pick(&mut rng, weights)]);
    let mut best_d2: Vec<f64> = points.iter().map(|p| d2(p, &centres[0])).collect();
    while centres.len() < k {
        let score: Vec<f64> = best_d2.iter().zip(weights).map(|(d, w)| d * w).collect();
        let c = points[pick(&mut rng, &score)];
        centres.push(c);
        for (bd, p) in best_d2.iter_mut().zip(points) {
            *bd = bd.min(d2(p, &c));
        }
    }

    // Lloyd iterations.
    let mut assign = vec![usize::MAX; points.len()];
    for _ in 0..max_iter.max(1) {
        let mut changed = false;
        for (a, p) in assign.iter_mut().zip(points) {
            let j = (0..k)
                .min_by(|&i, &j| d2(p, &centres[i]).total_cmp(&d2(p, &centres[j])))
                .expect("k >= 1");
            if *a != j {
                *a = j;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let mut sum = vec![[0.0f64; 3]; k];
        for ((a, p), w) in assign.iter().zip(points).zip(weights) {
            sum[*a][0] += w * p[0];
            sum[*a][1] += w * p[1];
            sum[*a][2] += w;
        }
        for (j, s) in sum.iter().enumerate() {
            if s[2] > 0.0 {
                centres[j] = [s[0] / s[2], s[1] / s[2]];
            } else {
                // Empty cluster: move it to the worst-served point.
                let far = (0..points.len())
                    .filter(|&i| weights[i] > 0.0)
                    .max_by(|&a, &b| {
                        (weights[a] * d2(&points[a], &centres[assign[a]]))
                            .total_cmp(&(weights[b] * d2(&points[b], &centres[assign[b]])))
                    })
                    .expect("a weighted point");
                centres[j] = points[far];
            }
        }
    }
    centres.sort_by(|a, b| a[0].total_cmp(&b[0]));
    Ok(centres)
}

/// The k-means interpolation of one layer.
#[derive(Debug, Clone)]
pub struct KmeansFit {
    /// The degree-d polynomial through the centroids.
    pub poly: ChebyshevPoly,
    /// The `d + 1` centroids `(x, f(x))`, sorted by `x`.
    pub centroids: Vec<[f64; 2]>,
}

/// k-means on the layer's `(x, f(x))` pairs with `k = degree + 1`
/// (k-means++ seeding with `seed`, at most 100 Lloyd iterations), then the
/// polynomial of degree `degree` through the centroids, built in the
/// barycentric form and converted to Chebyshev coefficients on
/// `[-bound, bound]` (never a Vandermonde solve).
///
/// Fails with [`ApproxError::DuplicateNode`] when two centroids share an
/// abscissa (to 1e-12 relative).
pub fn kmeans_interpolation(
    dist: &InputDistribution,
    f: &impl Target,
    bound: f64,
    degree: usize,
    seed: u64,
) -> Result<KmeansFit> {
    check_bound(bound)?;
    if degree > MAX_DEGREE {
        return Err(ApproxError::DegreeOutOfRange {
            degree,
            max: MAX_DEGREE,
        });
    }
    let points: Vec<[f64; 2]> = dist.xs().iter().map(|&x| [x, f.eval(x)]).collect();
    let centroids = kmeans(&points, dist.weights(), degree + 1, seed, 100)?;
    let poly = interpolate_points(&centroids, bound)?;
    Ok(KmeansFit { poly, centroids })
}

/// The polynomial of degree `nodes.len() - 1` through the points `nodes`
/// `(x, y)`, as Chebyshev coefficients on `[-bound, bound]`: barycentric
/// evaluation at Chebyshev points, then a DCT (exact for a polynomial of
/// that degree, and stable where a Vandermonde solve is not).
///
/// Fails with [`ApproxError::DuplicateNode`] when two abscissae coincide
/// (to 1e-12 relative).
pub fn interpolate_points(nodes: &[[f64; 2]], bound: f64) -> Result<ChebyshevPoly> {
    check_bound(bound)?;
    if nodes.is_empty() {
        return Err(ApproxError::NoSamples);
    }
    if nodes.len() > MAX_DEGREE + 1 {
        return Err(ApproxError::DegreeOutOfRange {
            degree: nodes.len() - 1,
            max: MAX_DEGREE,
        });
    }
    if let Some((index, p)) = nodes
        .iter()
        .enumerate()
        .find(|(_, p)| !(p[0].is_finite() && p[1].is_finite()))
    {
        let value = if p[0].is_finite() { p[1] } else { p[0] };
        return Err(ApproxError::NonFiniteSample { index, value });
    }
    let mut nodes = nodes.to_vec();
    nodes.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let t: Vec<f64> = nodes.iter().map(|p| p[0] / bound).collect();
    let scale = t.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for w in t.windows(2) {
        if (w[1] - w[0]).abs() <= 1e-12 * scale {
            return Err(ApproxError::DuplicateNode { x: w[1] * bound });
        }
    }
    // Barycentric weights 1 / prod (t_i - t_j), each factor rescaled by the
    // node spread so the product neither overflows nor underflows.
    let n = t.len();
    let mut w = vec![1.0f64; n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                w[i] *= 2.0 / (scale * (t[i] - t[j]));
            }
        }
    }
    let values: Vec<f64> = chebyshev_nodes(n)
        .iter()
        .map(|&z| {
            if let Some(i) = t.iter().position(|&ti| ti == z) {
                return nodes[i][1];
            }
            let (mut num, mut den) = (0.0, 0.0);
            for i in 0..n {
                let c = w[i] / (z - t[i]);
                num += c * nodes[i][1];
                den += c;
            }
            num / den
        })
        .collect();
    ChebyshevPoly::new(bound, coeffs_from_node_values(&values))
}
