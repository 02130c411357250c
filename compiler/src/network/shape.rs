//! Per-sample tensor shapes (no batch axis) and the shape rule of every op.

use super::ops::{Op, Pair, Pool};
use std::fmt;
use thiserror::Error;

/// Why an op's input shape does not fit the op.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ShapeError {
    #[error("expects a [C, H, W] input, got {input}")]
    NotPlanar { input: Shape },
    #[error(
        "window {}x{} (stride {}x{}, padding {}x{}) does not fit input {input}",
        kernel.0, kernel.1, stride.0, stride.1, padding.0, padding.1
    )]
    WindowDoesNotFit {
        kernel: Pair,
        stride: Pair,
        padding: Pair,
        input: Shape,
    },
    #[error("padding must be at most half the kernel")]
    PoolPadding,
    #[error("in_channels is {in_channels} but the input {input} has {found} channels")]
    InChannels {
        in_channels: usize,
        input: Shape,
        found: usize,
    },
    #[error(
        "groups {groups} must divide in_channels {in_channels} and out_channels {out_channels}"
    )]
    Groups {
        groups: usize,
        in_channels: usize,
        out_channels: usize,
    },
    #[error("in_features is {in_features} but the input has {found}")]
    InFeatures { in_features: usize, found: usize },
    #[error("expects a flat [N] input (add a flatten node), got {input}")]
    NeedsFlatten { input: Shape },
    #[error("expects [C] or [C, H, W], got {input}")]
    BatchNormRank { input: Shape },
    #[error("group {group} does not divide the {inputs} inputs")]
    VoteGroup { group: usize, inputs: usize },
    #[error("expects a flat [N] input, got {input}")]
    NotFlat { input: Shape },
}

/// A sample shape without the batch axis: `[C, H, W]` or `[N]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    /// The element count, saturating at `usize::MAX` (validators refuse anything above
    /// `MAX_ELEMENTS`, so a validated shape's count is exact).
    pub fn numel(&self) -> usize {
        self.0.iter().fold(1usize, |acc, &d| acc.saturating_mul(d))
    }
    pub fn rank(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

/// Output length of a sliding window, PyTorch's floor convention; `None` if the window does not fit.
pub fn window_out(size: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    let padded = padding.checked_mul(2).and_then(|p| p.checked_add(size))?;
    if kernel == 0 || stride == 0 || padded < kernel {
        return None;
    }
    Some((padded - kernel) / stride + 1)
}

fn spatial(
    input: &Shape,
    channels: usize,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
) -> Result<Shape, ShapeError> {
    let [_, h, w] = input.dims() else {
        return Err(ShapeError::NotPlanar {
            input: input.clone(),
        });
    };
    let oh = window_out(*h, kernel.0, stride.0, padding.0);
    let ow = window_out(*w, kernel.1, stride.1, padding.1);
    match (oh, ow) {
        (Some(oh), Some(ow)) => Ok(Shape(vec![channels, oh, ow])),
        _ => Err(ShapeError::WindowDoesNotFit {
            kernel,
            stride,
            padding,
            input: input.clone(),
        }),
    }
}

fn pool_shape(p: &Pool, input: &Shape) -> Result<Shape, ShapeError> {
    if p.padding.0.saturating_mul(2) > p.kernel.0 || p.padding.1.saturating_mul(2) > p.kernel.1 {
        return Err(ShapeError::PoolPadding);
    }
    let c = input.dims().first().copied().unwrap_or(0);
    spatial(input, c, p.kernel, p.stride(), p.padding)
}

/// The output shape of `op` on `input`, or why the input does not fit.
pub fn output_shape(op: &Op, input: &Shape) -> Result<Shape, ShapeError> {
    match op {
        Op::Input(_) => Ok(input.clone()),
        Op::Conv2d(c) => {
            let cin = input.dims().first().copied().unwrap_or(0);
            if input.rank() == 3 && cin != c.in_channels {
                return Err(ShapeError::InChannels {
                    in_channels: c.in_channels,
                    input: input.clone(),
                    found: cin,
                });
            }
            if c.groups == 0 || c.in_channels % c.groups != 0 || c.out_channels % c.groups != 0 {
                return Err(ShapeError::Groups {
                    groups: c.groups,
                    in_channels: c.in_channels,
                    out_channels: c.out_channels,
                });
            }
            spatial(input, c.out_channels, c.kernel, c.stride, c.padding)
        }
        Op::Linear(l) => match input.dims() {
            [n] if *n == l.in_features => Ok(Shape(vec![l.out_features])),
            [n] => Err(ShapeError::InFeatures {
                in_features: l.in_features,
                found: *n,
            }),
            _ => Err(ShapeError::NeedsFlatten {
                input: input.clone(),
            }),
        },
        Op::BatchNorm(_) => match input.rank() {
            1 | 3 => Ok(input.clone()),
            _ => Err(ShapeError::BatchNormRank {
                input: input.clone(),
            }),
        },
        Op::AvgPool(p) | Op::MaxPool(p) => pool_shape(p, input),
        Op::Flatten(_) => Ok(Shape(vec![input.numel()])),
        Op::Vote(v) => match input.dims() {
            [n] if v.group > 0 && n % v.group == 0 => Ok(Shape(vec![n / v.group])),
            [n] => Err(ShapeError::VoteGroup {
                group: v.group,
                inputs: *n,
            }),
            _ => Err(ShapeError::NotFlat {
                input: input.clone(),
            }),
        },
        Op::Lif(_)
        | Op::Plif(_)
        | Op::If(_)
        | Op::CubaLif(_)
        | Op::Li(_)
        | Op::CubaLi(_)
        | Op::Dropout(_)
        | Op::Sum(_)
        | Op::Scale(_) => Ok(input.clone()),
    }
}
