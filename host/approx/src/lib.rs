//! Polynomial approximation of neural-network activations for CKKS.
//!
//! Every polynomial is a [`ChebyshevPoly`]: `f(x) ~ sum_k c_k T_k(x / B)`
//! with a per-layer input bound `B`, evaluated by Clenshaw's recurrence in
//! f64 up to degree [`MAX_DEGREE`] = 1023. The methods (see
//! `shared/docs/method.md`):
//!
//! * [`fit_wls_all_degrees`] / [`fit_wls_all_degrees_with`]: OLA's
//!   distribution-aware least squares, every degree `0..=D` in one
//!   O(n D) Stieltjes sweep, giving `E(d)` for the optimizer, with the
//!   scaled (`r`) and robust (Chebyshev mixture) variants ([`WlsOptions`]).
//! * [`CompositeSign`] / [`CompositeRelu`]: the composite minimax baseline
//!   (odd Remez components, e.g. {15, 15, 27} for alpha = 13).
//! * [`optimal_sign_degrees`] / [`relu_sign_degrees`]: Lee et al.'s
//!   component-degree search under their convention (sign error
//!   `2^(1 - alpha)` on `[max_factor 2^-alpha, 1]`), which reproduces the
//!   published triples for alpha = 10, 12, 13, 14.
//! * [`kmeans_interpolation`]: the intermediate-data method (k-means on
//!   `(x, f(x))`, interpolate through the `d + 1` centroids).
//! * [`fit_power_of_two`]: Faster CryptoNets' low-degree polynomials with
//!   coefficients `0` or `+-2^k`.
//!
//! Inputs are validated once, in [`InputDistribution`]; every failure is an
//! [`ApproxError`] that names the offending value.

mod activation;
mod chebyshev;
mod distribution;
mod error;
mod kmeans;
mod linalg;
mod minimax;
mod pow2;
mod sign_degrees;
mod wls;

pub use activation::{Activation, Target};
pub use chebyshev::{ChebyshevPoly, MAX_DEGREE, add_scaled_basis, chebyshev_nodes, clenshaw};
pub use distribution::InputDistribution;
pub use error::{ApproxError, Result};
pub use kmeans::{KmeansFit, interpolate_points, kmeans, kmeans_interpolation};
pub use minimax::{
    CompositeCost, CompositeRelu, CompositeSign, RemezResult, bsgs_products, odd_sign_minimax,
    published_relu_max_factor, published_sign_degrees, search_sign_degrees, sign_gap_for_precision,
};
pub use pow2::{POW2_MAX_DEGREE, PowerOfTwoFit, PowerOfTwoOptions, fit_power_of_two};
pub use sign_degrees::{
    InverseErrorTable, LEE_MAX_DEGREE, OptimalSignDegrees, ReluSignDegrees, lee_depth,
    lee_products, optimal_sign_degrees, relu_error_dense, relu_sign_degrees, sign_error_dense,
};
pub use wls::{
    DEFAULT_BINS, WlsFit, WlsOptions, fit_wls_all_degrees, fit_wls_all_degrees_with,
    fit_wls_pairs_all_degrees_with,
};
