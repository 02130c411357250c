//! Dense reference kernels (f64 accumulation) shared by the IR and network interpreters.
//!
//! Written for clarity, not speed: every output element is a plain loop over its window.
//! Each one *adds* into `out`, because a population sums what its projections deliver.

/// `out[co, oy, ox] += sum w[co, ci', ky, kx] * x[g*cg + ci', oy*s - p + ky, ox*s - p + kx]`
/// (zero padding); `x` is `[cin, h, w]`, `weight` `[cout, cin/groups, kh, kw]`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_add(
    x: &[f64],
    [cin, h, w]: [usize; 3],
    weight: &[f32],
    [cout, cg, kh, kw]: [usize; 4],
    stride: [usize; 2],
    padding: [usize; 2],
    groups: usize,
    out: &mut [f64],
    [oh, ow]: [usize; 2],
) {
    let out_per_group = cout / groups;
    debug_assert_eq!(cg * groups, cin);
    for co in 0..cout {
        let g = co / out_per_group;
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = 0.0f64;
                for ci in 0..cg {
                    let c = g * cg + ci;
                    for ky in 0..kh {
                        let iy = (oy * stride[0] + ky) as isize - padding[0] as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        for kx in 0..kw {
                            let ix = (ox * stride[1] + kx) as isize - padding[1] as isize;
                            if ix < 0 || ix >= w as isize {
                                continue;
                            }
                            let wv = weight[((co * cg + ci) * kh + ky) * kw + kx];
                            acc += f64::from(wv) * x[(c * h + iy as usize) * w + ix as usize];
                        }
                    }
                }
                out[(co * oh + oy) * ow + ox] += acc;
            }
        }
    }
}

/// `out[o] += sum_i w[o, i] * x[i]`; `x` is read flat.
pub fn dense_add(x: &[f64], weight: &[f32], out: &mut [f64]) {
    let n_in = x.len();
    for (o, slot) in out.iter_mut().enumerate() {
        let row = &weight[o * n_in..(o + 1) * n_in];
        *slot += row
            .iter()
            .zip(x)
            .map(|(w, v)| f64::from(*w) * v)
            .sum::<f64>();
    }
}

/// How a pooling window combines its elements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pooling {
    /// Sum of the in-bounds elements times a scale (padding contributes zeros).
    Sum { scale: f64 },
    /// Mean over the in-bounds elements only (avg-pool with `count_include_pad = false`).
    MeanInBounds,
    /// Maximum over the in-bounds elements (padding is -infinity, as in PyTorch).
    Max,
}

/// Pool each plane of `x` (`[c, h, w]`) into `out` (`[c, oh, ow]`), adding.
#[allow(clippy::too_many_arguments)]
pub fn pool_add(
    x: &[f64],
    [c, h, w]: [usize; 3],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    how: Pooling,
    out: &mut [f64],
    [oh, ow]: [usize; 2],
) {
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut sum = 0.0f64;
                let mut max = f64::NEG_INFINITY;
                let mut count = 0usize;
                for ky in 0..kernel[0] {
                    let iy = (oy * stride[0] + ky) as isize - padding[0] as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..kernel[1] {
                        let ix = (ox * stride[1] + kx) as isize - padding[1] as isize;
                        if ix < 0 || ix >= w as isize {
                            continue;
                        }
                        let v = x[(ch * h + iy as usize) * w + ix as usize];
                        sum += v;
                        max = max.max(v);
                        count += 1;
                    }
                }
                out[(ch * oh + oy) * ow + ox] += match how {
                    Pooling::Sum { scale } => scale * sum,
                    Pooling::MeanInBounds => sum / count.max(1) as f64,
                    Pooling::Max => max,
                };
            }
        }
    }
}

/// `out[i] += scale[channel(i)] * x[i]`, channels along the leading axis.
pub fn channel_scale_add(x: &[f64], scale: &[f32], out: &mut [f64]) {
    let plane = x.len() / scale.len().max(1);
    for (i, (o, v)) in out.iter_mut().zip(x).enumerate() {
        *o += f64::from(scale[i / plane]) * v;
    }
}

/// `out[i] += bias[channel(i)]`, channels along the leading axis.
pub fn channel_bias_add(bias: &[f32], out: &mut [f64]) {
    let plane = out.len() / bias.len().max(1);
    for (i, o) in out.iter_mut().enumerate() {
        *o += f64::from(bias[i / plane]);
    }
}

/// Index of the largest value; the first on ties.
pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_by_hand() {
        // 1 channel 3x3 input, 2x2 kernel of ones, stride 1, padding 1 => 4x4 output of window sums.
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        let w = [1.0f32; 4];
        let mut out = vec![0.0; 16];
        conv2d_add(
            &x,
            [1, 3, 3],
            &w,
            [1, 1, 2, 2],
            [1, 1],
            [1, 1],
            1,
            &mut out,
            [4, 4],
        );
        assert_eq!(
            out,
            vec![
                1., 3., 5., 3., 5., 12., 16., 9., 11., 24., 28., 15., 7., 15., 17., 9.
            ]
        );
    }

    #[test]
    fn grouped_conv_keeps_groups_apart() {
        // Two channels, depthwise (groups 2) 1x1 kernels 2 and 3.
        let x = vec![1.0, 2.0, 10.0, 20.0];
        let mut out = vec![0.0; 4];
        conv2d_add(
            &x,
            [2, 1, 2],
            &[2.0, 3.0],
            [2, 1, 1, 1],
            [1, 1],
            [0, 0],
            2,
            &mut out,
            [1, 2],
        );
        assert_eq!(out, vec![2.0, 4.0, 30.0, 60.0]);
    }

    #[test]
    fn pools_by_hand() {
        let x = vec![1.0, 0.0, 0.0, 1.0];
        let mut avg = vec![0.0; 4];
        // 3x3 window, padding 1, count_include_pad: corner windows see all 4 inputs => 2/9.
        pool_add(
            &x,
            [1, 2, 2],
            [3, 3],
            [1, 1],
            [1, 1],
            Pooling::Sum { scale: 1.0 / 9.0 },
            &mut avg,
            [2, 2],
        );
        assert!(avg.iter().all(|v| (v - 2.0 / 9.0).abs() < 1e-15));
        let mut mean = vec![0.0; 4];
        pool_add(
            &x,
            [1, 2, 2],
            [3, 3],
            [1, 1],
            [1, 1],
            Pooling::MeanInBounds,
            &mut mean,
            [2, 2],
        );
        assert!(mean.iter().all(|v| (v - 0.5).abs() < 1e-15));
        let mut max = vec![0.0; 1];
        pool_add(
            &[-1.0, -2.0, -3.0, -4.0],
            [1, 2, 2],
            [2, 2],
            [2, 2],
            [0, 0],
            Pooling::Max,
            &mut max,
            [1, 1],
        );
        assert_eq!(max, vec![-1.0]);
    }

    #[test]
    fn dense_and_channels_by_hand() {
        let mut out = vec![0.0; 2];
        dense_add(&[1.0, 2.0, 3.0], &[1.0, 0.0, -1.0, 0.5, 0.5, 0.5], &mut out);
        assert_eq!(out, vec![-2.0, 3.0]);
        let mut o = vec![0.0; 4];
        channel_scale_add(&[1.0, 1.0, 1.0, 1.0], &[2.0, 3.0], &mut o);
        channel_bias_add(&[1.0, -1.0], &mut o);
        assert_eq!(o, vec![3.0, 3.0, 2.0, 2.0]);
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    }
}
