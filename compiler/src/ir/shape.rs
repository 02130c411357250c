//! Shape rules of projections: what a projection's target must look like given its source.

use super::{Arena, Handle, ProjectionKind, Shape, Tensor};
use crate::network::window_out;
use thiserror::Error;

/// Why a projection cannot map its source's shape (the `from` shape) to any target.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TargetShapeError {
    #[error("conv2d needs a [C, H, W] source, got {from}")]
    ConvSource { from: Shape },
    #[error("conv2d weight {weight} must be 4-D, got {shape:?}")]
    ConvWeightRank {
        weight: Handle<Tensor>,
        shape: Vec<usize>,
    },
    #[error(
        "conv2d weight {weight} has shape {shape:?}; with {groups} groups the {channels}-channel source needs [C_out, {}, kh, kw] and C_out divisible by the groups",
        channels.checked_div(*groups).unwrap_or(0)
    )]
    ConvGroups {
        weight: Handle<Tensor>,
        shape: Vec<usize>,
        groups: usize,
        channels: usize,
    },
    #[error("conv2d window {}x{} does not fit the source {from}", kernel[0], kernel[1])]
    ConvWindow { kernel: [usize; 2], from: Shape },
    #[error("dense weight {weight} has shape {shape:?}; the source {from} needs [out, {}]", from.numel())]
    DenseWeight {
        weight: Handle<Tensor>,
        shape: Vec<usize>,
        from: Shape,
    },
    #[error("sum_pool needs a [C, H, W] or [N] source, got {from}")]
    SumPoolSource { from: Shape },
    #[error("sum_pool over a [N] source needs kernel [1, k], stride [1, s], padding [0, p]")]
    SumPoolFlat,
    #[error("sum_pool padding must be at most half the kernel")]
    SumPoolPadding,
    #[error("sum_pool window {kernel:?} does not fit the source {from}")]
    SumPoolWindow { kernel: [usize; 2], from: Shape },
    #[error(
        "affine scale {scale} has shape {shape:?}; the source {from} needs [{channels}] (or [{timesteps}, {channels}], one row per step)"
    )]
    AffineScale {
        scale: Handle<Tensor>,
        shape: Vec<usize>,
        from: Shape,
        channels: usize,
        timesteps: usize,
    },
}

/// What a projection requires of its target's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetShape {
    /// Exactly this shape.
    Exact(Shape),
    /// Any shape with this many elements (dense and reshape targets).
    Numel(usize),
}

impl TargetShape {
    pub fn accepts(&self, s: &Shape) -> bool {
        match self {
            TargetShape::Exact(e) => e == s,
            TargetShape::Numel(n) => s.numel() == *n,
        }
    }
}

impl std::fmt::Display for TargetShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetShape::Exact(s) => write!(f, "{s}"),
            TargetShape::Numel(n) => write!(f, "{n} elements"),
        }
    }
}

/// `[C, H, W]` as is; `[N]` as one row `[1, 1, N]` (pools only).
fn as_planes(s: &Shape) -> Option<[usize; 3]> {
    match *s.dims() {
        [c, h, w] => Some([c, h, w]),
        [n] => Some([1, 1, n]),
        _ => None,
    }
}

/// The target shape a projection of `kind` from a `source`-shaped population needs, or why the
/// combination is invalid. Tensor handles must already be known to exist in `tensors`.
pub fn target_shape(
    kind: &ProjectionKind,
    source: &Shape,
    tensors: &Arena<Tensor>,
    timesteps: usize,
) -> Result<TargetShape, TargetShapeError> {
    match kind {
        ProjectionKind::Conv2d(c) => {
            let [cin, h, w] = match *source.dims() {
                [c, h, w] => [c, h, w],
                _ => {
                    return Err(TargetShapeError::ConvSource {
                        from: source.clone(),
                    });
                }
            };
            let wt = &tensors[c.weight];
            let [cout, cg, kh, kw] = match wt.shape[..] {
                [a, b, c, d] => [a, b, c, d],
                _ => {
                    return Err(TargetShapeError::ConvWeightRank {
                        weight: c.weight,
                        shape: wt.shape.clone(),
                    });
                }
            };
            if c.groups == 0 || cin % c.groups != 0 || cout % c.groups != 0 || cin / c.groups != cg
            {
                return Err(TargetShapeError::ConvGroups {
                    weight: c.weight,
                    shape: wt.shape.clone(),
                    groups: c.groups,
                    channels: cin,
                });
            }
            window(h, w, [kh, kw], c.stride, c.padding)
                .map(|(oh, ow)| TargetShape::Exact(Shape(vec![cout, oh, ow])))
                .ok_or_else(|| TargetShapeError::ConvWindow {
                    kernel: [kh, kw],
                    from: source.clone(),
                })
        }
        ProjectionKind::Dense(d) => {
            let wt = &tensors[d.weight];
            match wt.shape[..] {
                [out, inp] if inp == source.numel() => Ok(TargetShape::Numel(out)),
                _ => Err(TargetShapeError::DenseWeight {
                    weight: d.weight,
                    shape: wt.shape.clone(),
                    from: source.clone(),
                }),
            }
        }
        ProjectionKind::SumPool(p) => {
            let Some([c, h, w]) = as_planes(source) else {
                return Err(TargetShapeError::SumPoolSource {
                    from: source.clone(),
                });
            };
            if source.rank() == 1 && (p.kernel[0] != 1 || p.stride[0] != 1 || p.padding[0] != 0) {
                return Err(TargetShapeError::SumPoolFlat);
            }
            if p.padding[0].saturating_mul(2) > p.kernel[0]
                || p.padding[1].saturating_mul(2) > p.kernel[1]
            {
                return Err(TargetShapeError::SumPoolPadding);
            }
            let (oh, ow) = window(h, w, p.kernel, p.stride, p.padding).ok_or_else(|| {
                TargetShapeError::SumPoolWindow {
                    kernel: p.kernel,
                    from: source.clone(),
                }
            })?;
            Ok(TargetShape::Exact(if source.rank() == 1 {
                Shape(vec![ow])
            } else {
                Shape(vec![c, oh, ow])
            }))
        }
        ProjectionKind::Identity(_) | ProjectionKind::Scale(_) | ProjectionKind::Dropout(_) => {
            Ok(TargetShape::Exact(source.clone()))
        }
        ProjectionKind::Affine(a) => {
            let c = source.dims().first().copied().unwrap_or(0);
            let wt = &tensors[a.scale];
            if wt.shape != [c] && wt.shape != [timesteps, c] {
                return Err(TargetShapeError::AffineScale {
                    scale: a.scale,
                    shape: wt.shape.clone(),
                    from: source.clone(),
                    channels: c,
                    timesteps,
                });
            }
            Ok(TargetShape::Exact(source.clone()))
        }
        ProjectionKind::Reshape(_) => Ok(TargetShape::Numel(source.numel())),
    }
}

fn window(
    h: usize,
    w: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
) -> Option<(usize, usize)> {
    Some((
        window_out(h, k[0], s[0], p[0])?,
        window_out(w, k[1], s[1], p[1])?,
    ))
}

/// The shape a population's bias tensor has when it is the same at every step: one value per
/// leading-axis entry. A per-step bias is `[T, ..this]`.
pub fn bias_shape(population: &Shape) -> Vec<usize> {
    vec![population.dims().first().copied().unwrap_or(1)]
}
