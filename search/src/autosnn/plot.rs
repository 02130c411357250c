//! `pareto.svg`: every evaluated architecture's accuracy against spikes and against energy, with
//! each Pareto front drawn as a line.

use super::evolution::Candidate;
use crate::error::{Result, SearchError};
use plotters::prelude::*;
use std::path::Path;

type Axis = (&'static str, fn(&Candidate) -> f64);

/// The SVG text of the plot destined for `path` (named in errors).
fn draw(
    path: &Path,
    all: &[Candidate],
    fronts: [&[&Candidate]; 2],
    target: &str,
) -> Result<String> {
    let axes: [Axis; 2] = [
        ("spikes per sample", |c| c.scores.spikes),
        ("energy per sample (µJ)", |c| c.scores.energy_j * 1e6),
    ];
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1100, 460)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| SearchError::Plot {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        root.fill(&WHITE).map_err(e)?;
        let panels = root.split_evenly((1, 2));
        for ((panel, (label, cost)), front) in panels.iter().zip(axes).zip(fronts) {
            let xs = all.iter().map(cost);
            let x_max = xs.clone().fold(0.0f64, f64::max).max(1e-12) * 1.05;
            let x_min = xs.fold(f64::INFINITY, f64::min).min(x_max) * 0.95;
            let y_min = all
                .iter()
                .map(|c| c.scores.accuracy * 100.0)
                .fold(100.0f64, f64::min)
                .min(99.0);
            let caption = if label.starts_with("energy") {
                format!("accuracy vs energy ({target})")
            } else {
                "accuracy vs spikes".to_string()
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(x_min..x_max, (y_min - 1.0).max(0.0)..100f64)
                .map_err(e)?;
            chart
                .configure_mesh()
                .x_desc(label)
                .y_desc("held-out accuracy (%)")
                .draw()
                .map_err(e)?;
            chart
                .draw_series(all.iter().map(|c| {
                    Circle::new(
                        (cost(c), c.scores.accuracy * 100.0),
                        3,
                        BLACK.mix(0.35).filled(),
                    )
                }))
                .map_err(e)?
                .label("evaluated")
                .legend(|(x, y)| Circle::new((x + 8, y), 3, BLACK.mix(0.35).filled()));
            let points: Vec<(f64, f64)> = front
                .iter()
                .map(|c| (cost(c), c.scores.accuracy * 100.0))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), RED.stroke_width(2)))
                .map_err(e)?
                .label("Pareto front")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED.stroke_width(2)));
            chart
                .draw_series(points.into_iter().map(|p| Circle::new(p, 4, RED.filled())))
                .map_err(e)?;
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(e)?;
        }
        root.present().map_err(e)?;
    }
    Ok(buf)
}

/// Write the two-panel Pareto plot to `path` (atomically).
pub fn pareto_svg(
    path: &Path,
    all: &[Candidate],
    spikes_front: &[&Candidate],
    energy_front: &[&Candidate],
    target: &str,
) -> Result<()> {
    let svg = draw(path, all, [spikes_front, energy_front], target)?;
    snnc_compiler::atomic::write(path, svg.as_bytes()).map_err(|e| SearchError::io(path, e))
}
