//! FastConv2d (im2col + GEMM custom op) against Candle's own conv2d: forward, input gradient and
//! weight gradient, over strides, paddings (including asymmetric), odd sizes, kernels, groups and
//! batch sizes.

use crate::common::*;
use candle_core::{CustomOp2, Tensor};
use snnc_search::device::ComputeDevice;
use snnc_search::layers::conv::{ConvSpec, FastConv2d};

#[derive(Debug, Clone, Copy)]
struct Case {
    batch: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    k: (usize, usize),
    stride: usize,
    padding: (usize, usize),
    groups: usize,
}

struct Results {
    y: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
}

impl Case {
    fn x_dims(&self) -> [usize; 4] {
        [self.batch, self.cin, self.h, self.w]
    }
    fn w_dims(&self) -> [usize; 4] {
        [self.cout, self.cin / self.groups, self.k.0, self.k.1]
    }
    fn out_dims(&self) -> [usize; 4] {
        let oh = (self.h + 2 * self.padding.0 - self.k.0) / self.stride + 1;
        let ow = (self.w + 2 * self.padding.1 - self.k.1) / self.stride + 1;
        [self.batch, self.cout, oh, ow]
    }

    /// Forward and both gradients of `sum(c * conv(x, w))`, by the fast op or by Candle.
    fn run(&self, fast: bool, seed: u64) -> Results {
        let x = var(
            &values(&rand_tensor(seed, &self.x_dims(), -1.0, 1.0)),
            &self.x_dims(),
        );
        let w = var(
            &values(&rand_tensor(seed + 1, &self.w_dims(), -1.0, 1.0)),
            &self.w_dims(),
        );
        let c = rand_tensor(seed + 2, &self.out_dims(), -1.0, 1.0);
        let y = if fast {
            FastConv2d(ConvSpec {
                stride: self.stride,
                padding: self.padding,
                groups: self.groups,
            })
            .forward(x.as_tensor(), w.as_tensor())
            .expect("fast conv")
        } else {
            candle_conv(
                x.as_tensor(),
                w.as_tensor(),
                self.padding,
                self.stride,
                self.groups,
            )
        };
        assert_eq!(y.dims(), &self.out_dims(), "{self:?} fast={fast}");
        let loss = (&y * &c).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        Results {
            y: values(&y),
            dx: values(g.get(x.as_tensor()).expect("dx")),
            dw: values(g.get(w.as_tensor()).expect("dw")),
        }
    }
}

/// Candle's conv2d, with asymmetric padding done by explicit zero padding (as the model does).
fn candle_conv(
    x: &Tensor,
    w: &Tensor,
    padding: (usize, usize),
    stride: usize,
    groups: usize,
) -> Tensor {
    let (ph, pw) = padding;
    if ph == pw {
        x.conv2d(w, ph, stride, 1, groups).expect("candle conv2d")
    } else {
        let xp = x
            .pad_with_zeros(2, ph, ph)
            .unwrap()
            .pad_with_zeros(3, pw, pw)
            .unwrap();
        xp.conv2d(w, 0, stride, 1, groups).expect("candle conv2d")
    }
}

/// A direct f64 convolution and its adjoints for `loss = sum(c * y)`: (y, dx, dw).
fn naive(case: &Case, seed: u64) -> Results {
    let x = values(&rand_tensor(seed, &case.x_dims(), -1.0, 1.0));
    let w = values(&rand_tensor(seed + 1, &case.w_dims(), -1.0, 1.0));
    let c = values(&rand_tensor(seed + 2, &case.out_dims(), -1.0, 1.0));
    let [b, cin, h, wd] = case.x_dims();
    let [cout, cg, kh, kw] = case.w_dims();
    let [_, _, oh, ow] = case.out_dims();
    let og = cout / case.groups;
    let (mut y, mut dx, mut dw) = (
        vec![0f64; c.len()],
        vec![0f64; x.len()],
        vec![0f64; w.len()],
    );
    for bi in 0..b {
        for o in 0..cout {
            let g = o / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((bi * cout + o) * oh + oy) * ow + ox;
                    for ci in 0..cg {
                        let xc = g * cg + ci;
                        for i in 0..kh {
                            for j in 0..kw {
                                let yy = (oy * case.stride + i) as isize - case.padding.0 as isize;
                                let xx = (ox * case.stride + j) as isize - case.padding.1 as isize;
                                if yy < 0 || xx < 0 || yy >= h as isize || xx >= wd as isize {
                                    continue;
                                }
                                let xi = ((bi * cin + xc) * h + yy as usize) * wd + xx as usize;
                                let wi = ((o * cg + ci) * kh + i) * kw + j;
                                y[yi] += x[xi] as f64 * w[wi] as f64;
                                dx[xi] += c[yi] as f64 * w[wi] as f64;
                                dw[wi] += c[yi] as f64 * x[xi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    Results {
        y: f(y),
        dx: f(dx),
        dw: f(dw),
    }
}

/// Candle 0.11's conv2d backward takes the transposed conv's output padding from the height
/// alone, so it fails when height and width leave different remainders under the stride.
fn candle_backward_works(case: &Case) -> bool {
    let rem = |n: usize, k: usize, p: usize| (n + 2 * p - k) % case.stride;
    rem(case.h, case.k.0, case.padding.0) == rem(case.w, case.k.1, case.padding.1)
}

fn check(case: Case, seed: u64) {
    let fast = case.run(true, seed);
    let exact = naive(&case, seed);
    assert_close_rel(&fast.y, &exact.y, 1e-5, &format!("forward vs f64 {case:?}"));
    assert_close_rel(
        &fast.dx,
        &exact.dx,
        1e-5,
        &format!("input gradient vs f64 {case:?}"),
    );
    assert_close_rel(
        &fast.dw,
        &exact.dw,
        1e-5,
        &format!("weight gradient vs f64 {case:?}"),
    );
    if !candle_backward_works(&case) {
        return;
    }
    let reference = case.run(false, seed);
    // Forward: each output is one dot product of length C/g*kh*kw; GEMM and Candle may sum in
    // different orders, so agreement is to f32 rounding of that sum.
    assert_close_rel(&fast.y, &reference.y, 1e-5, &format!("forward {case:?}"));
    assert_close_rel(
        &fast.dx,
        &reference.dx,
        1e-5,
        &format!("input gradient {case:?}"),
    );
    // The weight gradient sums over batch * output pixels (up to a few hundred terms of mixed sign),
    // so its rounding is relatively larger; 2e-5 of the largest entry still catches any indexing error.
    assert_close_rel(
        &fast.dw,
        &reference.dw,
        2e-5,
        &format!("weight gradient {case:?}"),
    );
}

#[allow(clippy::too_many_arguments)] // one positional shorthand per case keeps the case lists readable
fn case(
    batch: usize,
    cin: usize,
    hw: (usize, usize),
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    groups: usize,
) -> Case {
    Case {
        batch,
        cin,
        h: hw.0,
        w: hw.1,
        cout,
        k: (k, k),
        stride,
        padding: (pad, pad),
        groups,
    }
}

#[test]
fn stride_one_kernels_and_paddings() {
    check(case(1, 3, (7, 9), 4, 3, 1, 1, 1), 1);
    check(case(3, 3, (7, 9), 5, 3, 1, 0, 1), 2);
    check(case(3, 2, (7, 9), 4, 5, 1, 2, 1), 3);
    check(case(1, 4, (6, 6), 6, 5, 1, 0, 2), 4);
    check(case(3, 4, (9, 7), 4, 3, 1, 2, 4), 5);
}

#[test]
fn stride_two() {
    check(case(1, 3, (7, 9), 4, 3, 2, 1, 1), 10);
    check(case(3, 4, (7, 9), 8, 3, 2, 1, 2), 11);
    check(case(3, 4, (8, 8), 4, 5, 2, 2, 4), 12);
    check(case(1, 8, (7, 9), 4, 3, 2, 0, 4), 13);
    // Rows left over by the stride (10 + 4 - 3 = 11 is odd): their input gradient is zero.
    check(case(3, 2, (10, 10), 4, 3, 2, 2, 1), 14);
    // Height and width leave different remainders: checked against the f64 convolution only.
    check(case(3, 2, (9, 8), 6, 5, 2, 1, 2), 15);
}

#[test]
fn pointwise_kernels() {
    // 1x1 stride 1 no padding is the borrowed-columns fast path, also with groups.
    check(case(1, 6, (5, 5), 6, 1, 1, 0, 1), 20);
    check(case(3, 4, (5, 7), 8, 1, 1, 0, 2), 21);
    check(case(3, 8, (7, 9), 4, 1, 1, 0, 4), 22);
    // 1x1 but strided or padded goes through im2col.
    check(case(3, 2, (9, 7), 4, 1, 2, 0, 1), 23);
    check(case(1, 4, (5, 5), 4, 1, 1, 1, 2), 24);
}

#[test]
fn asymmetric_padding_and_rectangular_kernels() {
    let mut c = case(3, 4, (7, 9), 4, 3, 1, 0, 2);
    c.padding = (1, 2);
    check(c, 30);
    c.padding = (2, 0);
    c.stride = 2;
    check(c, 31);
    let c = Case {
        batch: 3,
        cin: 2,
        h: 8,
        w: 7,
        cout: 4,
        k: (3, 1),
        stride: 1,
        padding: (1, 0),
        groups: 1,
    };
    check(c, 32);
    let c = Case {
        batch: 1,
        cin: 4,
        h: 7,
        w: 9,
        cout: 8,
        k: (1, 5),
        stride: 2,
        padding: (0, 2),
        groups: 4,
    };
    check(c, 33);
}

#[test]
fn a_hand_computed_convolution() {
    // 1 channel 3x3 input 1..9, 2x2 kernel [[1, 0], [0, -1]], stride 1, no padding:
    // y[i][j] = x[i][j] - x[i+1][j+1] = -4 everywhere.
    let x = var(&[1., 2., 3., 4., 5., 6., 7., 8., 9.], &[1, 1, 3, 3]);
    let w = var(&[1., 0., 0., -1.], &[1, 1, 2, 2]);
    let y = FastConv2d(ConvSpec {
        stride: 1,
        padding: (0, 0),
        groups: 1,
    })
    .forward(x.as_tensor(), w.as_tensor())
    .unwrap();
    assert_eq!(values(&y), vec![-4.0; 4]);
    let g = y.sum_all().unwrap().backward().unwrap();
    // dL/dx: +1 on the top-left 2x2 block, -1 on the bottom-right 2x2 block.
    assert_eq!(
        values(g.get(x.as_tensor()).unwrap()),
        vec![1., 1., 0., 1., 0., -1., 0., -1., -1.]
    );
    // dL/dw[a][b] = sum of the 2x2 block of x starting at (a, b): 12, 16, 24, 28.
    assert_eq!(
        values(g.get(w.as_tensor()).unwrap()),
        vec![12., 16., 24., 28.]
    );
    // Padding 1, stride 2: a 2x2 output, y[i][j] = x[2i-1][2j-1] - x[2i][2j] with zeros outside.
    let y = FastConv2d(ConvSpec {
        stride: 2,
        padding: (1, 1),
        groups: 1,
    })
    .forward(x.as_tensor(), w.as_tensor())
    .unwrap();
    // That is [0 - 1, 0 - 3, 0 - 7, 5 - 9].
    assert_eq!(values(&y), vec![-1., -3., -7., -4.]);
}

#[test]
fn input_gradient_is_skipped_for_a_plain_input() {
    let case = case(3, 4, (7, 9), 6, 3, 2, 1, 2);
    let x = rand_tensor(40, &case.x_dims(), -1.0, 1.0);
    let w = var(
        &values(&rand_tensor(41, &case.w_dims(), -1.0, 1.0)),
        &case.w_dims(),
    );
    let c = rand_tensor(42, &case.out_dims(), -1.0, 1.0);
    let op = FastConv2d(ConvSpec {
        stride: 2,
        padding: (1, 1),
        groups: 2,
    });
    let y = op.forward(&x, w.as_tensor()).unwrap();
    let grads = (&y * &c).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(
        grads.get(&x).is_none(),
        "the plain input must get no gradient"
    );
    let dw = values(grads.get(w.as_tensor()).expect("weight gradient"));
    // Candle's weight gradient is the oracle.
    let yc = x.conv2d(w.as_tensor(), 1, 2, 1, 2).unwrap();
    let gc = (&yc * &c).unwrap().sum_all().unwrap().backward().unwrap();
    assert_close_rel(
        &dw,
        &values(gc.get(w.as_tensor()).unwrap()),
        2e-5,
        "weight gradient with a plain input",
    );

    // The op's backward itself returns no input gradient for a plain input, one for a variable.
    let g = Tensor::ones(y.dims(), candle_core::DType::F32, &ComputeDevice::cpu()).unwrap();
    let (dx, dw) = op.bwd(&x, w.as_tensor(), &y, &g).unwrap();
    assert!(dx.is_none());
    assert_eq!(dw.expect("dw").dims(), &case.w_dims());
    let xv = candle_core::Var::from_tensor(&x).unwrap();
    let (dx, _) = op.bwd(xv.as_tensor(), w.as_tensor(), &y, &g).unwrap();
    assert_eq!(dx.expect("dx for a variable").dims(), &case.x_dims());
}

#[test]
fn strided_operands() {
    // Transposed (non-contiguous) input and weight give the same as their contiguous copies.
    let x = rand_tensor(50, &[2, 3, 9, 7], -1.0, 1.0)
        .transpose(2, 3)
        .unwrap();
    let w = rand_tensor(51, &[4, 3, 3, 2], -1.0, 1.0)
        .transpose(2, 3)
        .unwrap();
    assert!(!x.is_contiguous() && !w.is_contiguous());
    let op = FastConv2d(ConvSpec {
        stride: 1,
        padding: (1, 0),
        groups: 1,
    });
    let a = values(&op.forward(&x, &w).unwrap());
    let b = values(
        &op.forward(&x.contiguous().unwrap(), &w.contiguous().unwrap())
            .unwrap(),
    );
    assert_eq!(a, b);
}

#[test]
fn mismatched_shapes_are_errors() {
    let op = FastConv2d(ConvSpec {
        stride: 1,
        padding: (0, 0),
        groups: 2,
    });
    let x = rand_tensor(60, &[1, 3, 5, 5], -1.0, 1.0);
    let w = rand_tensor(61, &[4, 1, 3, 3], -1.0, 1.0);
    assert!(
        op.forward(&x, &w).is_err(),
        "3 channels cannot split into 2 groups"
    );
    let op = FastConv2d(ConvSpec {
        stride: 1,
        padding: (0, 0),
        groups: 1,
    });
    let w = rand_tensor(62, &[4, 3, 7, 7], -1.0, 1.0);
    assert!(
        op.forward(&x, &w).is_err(),
        "a 7x7 kernel does not fit a 5x5 input"
    );
}
