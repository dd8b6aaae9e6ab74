//! SVG plots: the Pareto front, and per layer the input histogram with
//! the chosen polynomial against ReLU.

use std::path::Path;

use ola_approx::ChebyshevPoly;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

fn perr<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> Error + '_ {
    move |e| Error::new(format!("cannot draw {}: {e}", path.display()))
}
/// Draws the chart's legend and writes the SVG file.
fn legend_and_save<'a, CT: CoordTranslate>(
    c: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    path: &Path,
) -> Result<()> {
    c.configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(perr(path))?;
    root.present().map_err(perr(path))?;
    Ok(())
}

/// The Pareto front: cycles (fraction of the baseline) against the
/// objective and, where measured, top-1 accuracy; reference lines for the
/// original network and the baseline.
pub fn pareto(
    path: &Path,
    points: &[(f64, f64, Option<f64>)],
    original: Option<f64>,
    baseline: Option<f64>,
) -> Result<()> {
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(perr(path))?;
    let (left, right) = root.split_horizontally(450);
    let xmax = points.iter().map(|p| p.0).fold(0.0, f64::max).max(0.05) * 1.05;
    let objs: Vec<f64> = points.iter().map(|p| p.1.max(1e-30).log10()).collect();
    let (ymin, ymax) = objs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (ymin, ymax) = if ymin.is_finite() {
        (ymin - 0.2, ymax + 0.2)
    } else {
        (0.0, 1.0)
    };
    let mut c = ChartBuilder::on(&left)
        .caption("predicted: log10 sum A_i E_i(d_i)", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..xmax, ymin..ymax)
        .map_err(perr(path))?;
    c.configure_mesh()
        .x_desc("cycles / uniform-minimax cycles")
        .draw()
        .map_err(perr(path))?;
    c.draw_series(LineSeries::new(
        points.iter().map(|p| p.0).zip(objs.iter().copied()),
        &BLUE,
    ))
    .map_err(perr(path))?;
    c.draw_series(
        points
            .iter()
            .zip(&objs)
            .map(|(p, &o)| Circle::new((p.0, o), 3, BLUE.filled())),
    )
    .map_err(perr(path))?;
    let measured: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| p.2.map(|a| (p.0, 100.0 * a)))
        .collect();
    let refs: Vec<f64> = [original, baseline]
        .iter()
        .flatten()
        .map(|a| 100.0 * a)
        .collect();
    let lo = measured
        .iter()
        .map(|m| m.1)
        .chain(refs.iter().copied())
        .fold(100.0, f64::min);
    let mut c = ChartBuilder::on(&right)
        .caption("measured top-1 % (held-out)", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..xmax, (lo - 2.0).max(0.0)..100.0)
        .map_err(perr(path))?;
    c.configure_mesh()
        .x_desc("cycles / uniform-minimax cycles")
        .draw()
        .map_err(perr(path))?;
    c.draw_series(LineSeries::new(measured.clone(), &RED))
        .map_err(perr(path))?;
    c.draw_series(measured.iter().map(|&m| Circle::new(m, 3, RED.filled())))
        .map_err(perr(path))?;
    if let Some(o) = original {
        c.draw_series(LineSeries::new(
            [(0.0, 100.0 * o), (xmax, 100.0 * o)],
            BLACK.stroke_width(1),
        ))
        .map_err(perr(path))?
        .label("original")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], BLACK));
    }
    if let Some(b) = baseline {
        c.draw_series([Circle::new(
            (1.0f64.min(xmax), 100.0 * b),
            4,
            GREEN.filled(),
        )])
        .map_err(perr(path))?
        .label("uniform minimax")
        .legend(|(x, y)| Circle::new((x + 7, y), 4, GREEN.filled()));
    }
    legend_and_save(&mut c, &root, path)
}

/// One layer: normalised histogram of the calibration inputs (grey), ReLU
/// (black) and the chosen polynomial (red) over the samples' range.
pub fn layer(path: &Path, title: &str, samples: &[f64], poly: &ChebyshevPoly) -> Result<()> {
    let b = poly.bound();
    let (lo, hi) = (-b, b);
    let bins = 80usize;
    let mut hist = vec![0f64; bins];
    for &x in samples {
        let k = (((x - lo) / (hi - lo)) * bins as f64).floor();
        if (0.0..bins as f64).contains(&k) {
            hist[k as usize] += 1.0;
        }
    }
    let hmax = hist.iter().copied().fold(0.0, f64::max).max(1.0);
    let xs: Vec<f64> = (0..=400)
        .map(|i| lo + (hi - lo) * i as f64 / 400.0)
        .collect();
    let ys: Vec<f64> = xs.iter().map(|&x| poly.eval(x)).collect();
    let ymax = hi
        .max(ys.iter().copied().fold(f64::NEG_INFINITY, f64::max))
        .min(3.0 * hi);
    let ymin = ys.iter().copied().fold(0.0, f64::min).max(-hi);
    let root = SVGBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(perr(path))?;
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(lo..hi, ymin..ymax)
        .map_err(perr(path))?;
    c.configure_mesh()
        .x_desc("ReLU input x")
        .draw()
        .map_err(perr(path))?;
    let w = (hi - lo) / bins as f64;
    let scale = (ymax - ymin) * 0.9 / hmax;
    c.draw_series(hist.iter().enumerate().map(|(k, &h)| {
        let x0 = lo + k as f64 * w;
        Rectangle::new(
            [(x0, ymin), (x0 + w, ymin + h * scale)],
            RGBColor(190, 190, 190).filled(),
        )
    }))
    .map_err(perr(path))?
    .label("input histogram (scaled)")
    .legend(|(x, y)| {
        Rectangle::new(
            [(x, y - 4), (x + 12, y + 4)],
            RGBColor(190, 190, 190).filled(),
        )
    });
    c.draw_series(LineSeries::new(
        xs.iter().map(|&x| (x, x.max(0.0))),
        BLACK.stroke_width(2),
    ))
    .map_err(perr(path))?
    .label("ReLU")
    .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], BLACK));
    c.draw_series(LineSeries::new(
        xs.iter()
            .copied()
            .zip(ys.iter().copied())
            .filter(|p| p.1 >= ymin && p.1 <= ymax),
        RED.stroke_width(2),
    ))
    .map_err(perr(path))?
    .label(format!("degree {} polynomial", poly.degree()))
    .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], RED));
    legend_and_save(&mut c, &root, path)
}
