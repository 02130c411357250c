//! Per-sample tensor shapes (no batch axis) and the shape rule of every op.

use super::ops::{Op, Pair, Pool};
use std::fmt;

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
) -> Result<Shape, String> {
    let [_, h, w] = input.dims() else {
        return Err(format!("expects a [C, H, W] input, got {input}"));
    };
    let oh = window_out(*h, kernel.0, stride.0, padding.0);
    let ow = window_out(*w, kernel.1, stride.1, padding.1);
    match (oh, ow) {
        (Some(oh), Some(ow)) => Ok(Shape(vec![channels, oh, ow])),
        _ => Err(format!(
            "window {}x{} (stride {}x{}, padding {}x{}) does not fit input {input}",
            kernel.0, kernel.1, stride.0, stride.1, padding.0, padding.1
        )),
    }
}

fn pool_shape(p: &Pool, input: &Shape) -> Result<Shape, String> {
    if p.padding.0.saturating_mul(2) > p.kernel.0 || p.padding.1.saturating_mul(2) > p.kernel.1 {
        return Err("padding must be at most half the kernel".into());
    }
    let c = input.dims().first().copied().unwrap_or(0);
    spatial(input, c, p.kernel, p.stride(), p.padding)
}

/// The output shape of `op` on `input`, or why the input does not fit.
pub fn output_shape(op: &Op, input: &Shape) -> Result<Shape, String> {
    match op {
        Op::Input(_) => Ok(input.clone()),
        Op::Conv2d(c) => {
            let cin = input.dims().first().copied().unwrap_or(0);
            if input.rank() == 3 && cin != c.in_channels {
                return Err(format!(
                    "in_channels is {} but the input {input} has {cin} channels",
                    c.in_channels
                ));
            }
            if c.groups == 0 || c.in_channels % c.groups != 0 || c.out_channels % c.groups != 0 {
                return Err(format!(
                    "groups {} must divide in_channels {} and out_channels {}",
                    c.groups, c.in_channels, c.out_channels
                ));
            }
            spatial(input, c.out_channels, c.kernel, c.stride, c.padding)
        }
        Op::Linear(l) => match input.dims() {
            [n] if *n == l.in_features => Ok(Shape(vec![l.out_features])),
            [n] => Err(format!(
                "in_features is {} but the input has {n}",
                l.in_features
            )),
            _ => Err(format!(
                "expects a flat [N] input (add a flatten node), got {input}"
            )),
        },
        Op::BatchNorm(_) => match input.rank() {
            1 | 3 => Ok(input.clone()),
            _ => Err(format!("expects [C] or [C, H, W], got {input}")),
        },
        Op::AvgPool(p) | Op::MaxPool(p) => pool_shape(p, input),
        Op::Flatten(_) => Ok(Shape(vec![input.numel()])),
        Op::Vote(v) => match input.dims() {
            [n] if v.group > 0 && n % v.group == 0 => Ok(Shape(vec![n / v.group])),
            [n] => Err(format!("group {} does not divide the {n} inputs", v.group)),
            _ => Err(format!("expects a flat [N] input, got {input}")),
        },
        Op::Lif(_) | Op::Plif(_) | Op::Dropout(_) | Op::Sum(_) | Op::Scale(_) => Ok(input.clone()),
    }
}
