//! `--plot FILE.svg`: spikes per layer over time (lines) above energy per layer (bars).

use super::Report;
use crate::error::RuntimeError;
use plotters::prelude::*;
use snnc_compiler::atomic::write_named;
use std::path::Path;

/// plotters' drawing failure, in its own words (its error types are generic over the backend).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct DrawError(pub String);

fn draw_error(e: impl std::fmt::Display) -> DrawError {
    DrawError(e.to_string())
}

/// Draw the report into an SVG string.
pub fn svg(r: &Report) -> Result<String, DrawError> {
    let spiking: Vec<_> = r
        .layers
        .iter()
        .filter(|l| l.firing_rate.is_some())
        .collect();
    let costly: Vec<_> = r.layers.iter().filter(|l| l.energy.total_j > 0.0).collect();
    let bar_h = 22u32;
    let height = 420 + 80 + bar_h * costly.len().max(1) as u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (960, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let (top, bottom) = root.split_vertically(420);
        let e = |e: DrawingAreaErrorKind<_>| draw_error(e);

        let t_max = r.timesteps.max(1);
        let y_max = spiking
            .iter()
            .flat_map(|l| l.spikes_per_timestep.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.1;
        let mut chart = ChartBuilder::on(&top)
            .caption(
                format!(
                    "{}: spikes per sample by step ({} samples)",
                    r.module, r.samples
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..(t_max as f64 - 1.0).max(1.0), 0f64..y_max)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("timestep")
            .y_desc("spikes")
            .x_labels(t_max.min(20))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(e)?;
        for (i, l) in spiking.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = l
                .spikes_per_timestep
                .iter()
                .enumerate()
                .map(|(t, v)| (t as f64, *v))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(e)?
                .label(l.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(e)?;
        }
        if !spiking.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(e)?;
        }

        let to_uj = 1e6;
        let x_max = costly
            .iter()
            .map(|l| l.energy.total_j * to_uj)
            .fold(0.0f64, f64::max)
            .max(1e-12)
            * 1.1;
        let n = costly.len().max(1);
        let names: Vec<String> = costly.iter().map(|l| l.name.clone()).collect();
        let mut bars = ChartBuilder::on(&bottom)
            .caption(format!("energy per sample by layer on {} (uJ; dark: arithmetic, light: memory and other)", r.target.name), ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(180)
            .build_cartesian_2d(0f64..x_max, 0f64..n as f64)
            .map_err(e)?;
        bars.configure_mesh()
            .disable_y_mesh()
            .x_desc("uJ per sample")
            .y_labels(n)
            .y_label_formatter(&|y| {
                let i = (y - 0.5).round();
                if i >= 0.0 && (i as usize) < names.len() && (y - 0.5 - i).abs() < 1e-6 {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(e)?;
        let arith = RGBColor(0x2b, 0x59, 0xc3);
        let rest = RGBColor(0x9e, 0xc1, 0xff);
        for (i, l) in costly.iter().enumerate() {
            let (y0, y1) = (i as f64 + 0.15, i as f64 + 0.85);
            let a = l.energy.arithmetic_j * to_uj;
            let total = l.energy.total_j * to_uj;
            bars.draw_series([
                Rectangle::new([(0.0, y0), (a, y1)], arith.filled()),
                Rectangle::new([(a, y0), (total, y1)], rest.filled()),
            ])
            .map_err(e)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(buf)
}

/// Write the plot atomically.
pub fn write_svg(r: &Report, path: &Path) -> Result<(), RuntimeError> {
    let text = svg(r).map_err(|source| RuntimeError::Plot {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(write_named(path, text.as_bytes())?)
}
