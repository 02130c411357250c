//! Weight initialisation schemes of the seeds, driven by a seeded generator for determinism.

use crate::error::SearchError;
use candle_core::{Device, Result, Tensor};
use serde::{Deserialize, Serialize};
use snnc_datasets::transform::Rng;

/// How conv and linear weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InitScheme {
    /// PyTorch's defaults (AutoSNN): weights and biases U(±1/sqrt(fan_in)).
    #[default]
    Pytorch,
    /// SNASNet (snasnet.md §3.3): conv kaiming_uniform(a=2), i.e. U(±sqrt(1.2/fan_in));
    /// linear N(0, 0.01²), bias 0.
    Snasnet,
}

pub fn uniform(rng: &mut Rng, shape: &[usize], bound: f64, device: &Device) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|_| ((rng.next_f32() as f64 * 2.0 - 1.0) * bound) as f32)
        .collect();
    Tensor::from_vec(data, shape, device)
}

pub fn normal(rng: &mut Rng, shape: &[usize], std: f64, device: &Device) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let mut data = Vec::with_capacity(n);
    while data.len() < n {
        // Box-Muller on two uniforms in (0, 1].
        let u1 = 1.0 - rng.next_f32() as f64;
        let u2 = rng.next_f32() as f64;
        let r = (-2.0 * u1.ln()).sqrt();
        let th = 2.0 * std::f64::consts::PI * u2;
        data.push((r * th.cos() * std) as f32);
        if data.len() < n {
            data.push((r * th.sin() * std) as f32);
        }
    }
    Tensor::from_vec(data, shape, device)
}

/// Initial conv weight `[out, in/groups, kh, kw]`.
pub fn conv_weight(
    scheme: InitScheme,
    rng: &mut Rng,
    shape: &[usize],
    device: &Device,
) -> Result<Tensor> {
    let fan_in = (shape[1] * shape[2] * shape[3]) as f64;
    match scheme {
        InitScheme::Pytorch => uniform(rng, shape, 1.0 / fan_in.sqrt(), device),
        InitScheme::Snasnet => uniform(rng, shape, (1.2 / fan_in).sqrt(), device),
    }
}

pub fn linear_weight(
    scheme: InitScheme,
    rng: &mut Rng,
    shape: &[usize],
    device: &Device,
) -> Result<Tensor> {
    match scheme {
        InitScheme::Pytorch => uniform(rng, shape, 1.0 / (shape[1] as f64).sqrt(), device),
        InitScheme::Snasnet => normal(rng, shape, 0.01, device),
    }
}

/// Bias of a layer with `fan_in` inputs.
pub fn bias(
    scheme: InitScheme,
    rng: &mut Rng,
    n: usize,
    fan_in: usize,
    device: &Device,
) -> Result<Tensor> {
    match scheme {
        InitScheme::Pytorch => uniform(rng, &[n], 1.0 / (fan_in as f64).sqrt(), device),
        InitScheme::Snasnet => Tensor::zeros(n, candle_core::DType::F32, device),
    }
}

impl std::str::FromStr for InitScheme {
    type Err = SearchError;
    fn from_str(s: &str) -> std::result::Result<Self, SearchError> {
        match s {
            "pytorch" => Ok(InitScheme::Pytorch),
            "snasnet" => Ok(InitScheme::Snasnet),
            _ => Err(SearchError::UnknownName {
                what: "init scheme",
                given: s.to_string(),
                choices: "`pytorch` or `snasnet`",
            }),
        }
    }
}
