//! Shape rules of projections: what a projection's target must look like given its source.

use super::{Arena, ProjectionKind, Shape, Tensor};
use crate::network::window_out;

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
) -> Result<TargetShape, String> {
    match kind {
        ProjectionKind::Conv2d(c) => {
            let [cin, h, w] = match *source.dims() {
                [c, h, w] => [c, h, w],
                _ => return Err(format!("conv2d needs a [C, H, W] source, got {source}")),
            };
            let wt = &tensors[c.weight];
            let [cout, cg, kh, kw] = match wt.shape[..] {
                [a, b, c, d] => [a, b, c, d],
                _ => {
                    return Err(format!(
                        "conv2d weight {} must be 4-D, got {:?}",
                        c.weight, wt.shape
                    ));
                }
            };
            if c.groups == 0 || cin % c.groups != 0 || cout % c.groups != 0 || cin / c.groups != cg
            {
                return Err(format!(
                    "conv2d weight {} has shape {:?}; with {} groups the {cin}-channel source needs [C_out, {}, kh, kw] and C_out divisible by the groups",
                    c.weight,
                    wt.shape,
                    c.groups,
                    cin.checked_div(c.groups).unwrap_or(0)
                ));
            }
            window(h, w, [kh, kw], c.stride, c.padding)
                .map(|(oh, ow)| TargetShape::Exact(Shape(vec![cout, oh, ow])))
                .ok_or_else(|| format!("conv2d window {kh}x{kw} does not fit the source {source}"))
        }
        ProjectionKind::Dense(d) => {
            let wt = &tensors[d.weight];
            match wt.shape[..] {
                [out, inp] if inp == source.numel() => Ok(TargetShape::Numel(out)),
                _ => Err(format!(
                    "dense weight {} has shape {:?}; the source {source} needs [out, {}]",
                    d.weight,
                    wt.shape,
                    source.numel()
                )),
            }
        }
        ProjectionKind::SumPool(p) => {
            let Some([c, h, w]) = as_planes(source) else {
                return Err(format!(
                    "sum_pool needs a [C, H, W] or [N] source, got {source}"
                ));
            };
            if source.rank() == 1 && (p.kernel[0] != 1 || p.stride[0] != 1 || p.padding[0] != 0) {
                return Err(
                    "sum_pool over a [N] source needs kernel [1, k], stride [1, s], padding [0, p]"
                        .into(),
                );
            }
            if p.padding[0].saturating_mul(2) > p.kernel[0]
                || p.padding[1].saturating_mul(2) > p.kernel[1]
            {
                return Err("sum_pool padding must be at most half the kernel".into());
            }
            let (oh, ow) = window(h, w, p.kernel, p.stride, p.padding).ok_or_else(|| {
                format!(
                    "sum_pool window {:?} does not fit the source {source}",
                    p.kernel
                )
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
                return Err(format!(
                    "affine scale {} has shape {:?}; the source {source} needs [{c}] (or \
                     [{timesteps}, {c}], one row per step)",
                    a.scale, wt.shape
                ));
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
