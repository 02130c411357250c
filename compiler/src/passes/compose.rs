//! Composition of linear maps: the one projection equal to `first` then `second` through a relay,
//! and where a relay's constant bias lands after `second`.
//!
//! Only exact compositions are made (weights multiplied out in f64, rounded once to f32); a pair
//! without a single-kind equivalent is left alone. Tensors are changed in place only when the
//! projection being replaced is their sole user, so passes never hold two copies of big weights.

use crate::ir::{self, Handle, HandleMap, Module, ProjectionKind, Shape, Tensor};
use crate::reference::deliver;

/// How many live projections and populations use each tensor.
pub type Uses = HandleMap<Tensor, usize>;

/// Whether `first` (src -> mid) then `second` (mid -> dst) has a single-projection equivalent.
pub fn composable(first: &ProjectionKind, second: &ProjectionKind, mid: &Shape) -> bool {
    use ProjectionKind as K;
    match (first, second) {
        (K::Identity(_) | K::Dropout(_), _) | (_, K::Identity(_) | K::Dropout(_)) => true,
        (K::Scale(s), k) | (k, K::Scale(s)) => scalable(k, s.factor),
        (K::Conv2d(_) | K::Dense(_), K::Affine(_)) => true,
        (K::Affine(_), K::Conv2d(_) | K::Dense(_) | K::Affine(_)) => true,
        (K::Reshape(_), K::Dense(_) | K::Reshape(_)) | (K::Dense(_), K::Reshape(_)) => true,
        // A 1-D pool after a dense layer (the voting layer) sums rows of the dense weight.
        (K::Dense(_), K::SumPool(_)) => mid.rank() == 1,
        _ => false,
    }
}

/// Whether `kind` can absorb a constant factor.
pub fn scalable(kind: &ProjectionKind, factor: f64) -> bool {
    !matches!(kind, ProjectionKind::Reshape(_)) || factor == 1.0
}

/// `kind` times `factor`. Tensors are scaled in place when `uses[t] == 1`, else copied first.
pub fn scale_kind(
    m: &mut Module,
    kind: &ProjectionKind,
    factor: f64,
    uses: &Uses,
) -> ProjectionKind {
    use ProjectionKind as K;
    if factor == 1.0 {
        return kind.clone();
    }
    match kind {
        K::Identity(_) | K::Dropout(_) => K::Scale(ir::Scale { factor }),
        K::Scale(s) => K::Scale(ir::Scale {
            factor: s.factor * factor,
        }),
        K::SumPool(p) => K::SumPool(ir::SumPool {
            scale: p.scale * factor,
            ..p.clone()
        }),
        K::Conv2d(_) | K::Dense(_) | K::Affine(_) => {
            let mut k = kind.clone();
            let t = k.tensor_mut().expect("these kinds hold a tensor");
            *t = map_tensor(m, *t, uses, |_, v| v * factor);
            k
        }
        K::Reshape(_) => unreachable!("checked by scalable()"),
    }
}

/// Apply `f(index, value)` to a tensor: in place when its only user is being replaced, else on
/// a copy pushed as a new tensor. Returns the handle now holding the result.
pub fn map_tensor(
    m: &mut Module,
    t: Handle<Tensor>,
    uses: &Uses,
    f: impl Fn(usize, f64) -> f64,
) -> Handle<Tensor> {
    let in_place = uses.get(t).copied().unwrap_or(0) <= 1;
    if in_place {
        for (i, v) in m.tensors[t].data.iter_mut().enumerate() {
            *v = f(i, f64::from(*v)) as f32;
        }
        t
    } else {
        let old = &m.tensors[t];
        let data = old
            .data
            .iter()
            .enumerate()
            .map(|(i, v)| f(i, f64::from(*v)) as f32)
            .collect();
        let copy = Tensor::new(old.label.clone(), old.shape.clone(), data);
        m.tensors.push(copy)
    }
}

/// The projection kind equal to `first` then `second` (call only when [`composable`]).
/// `uses` counts tensor users before the composition; `first`'s tensor may be changed in place.
pub fn compose(
    m: &mut Module,
    first: &ProjectionKind,
    second: &ProjectionKind,
    mid: &Shape,
    uses: &Uses,
) -> ProjectionKind {
    use ProjectionKind as K;
    match (first, second) {
        (K::Identity(_) | K::Dropout(_), k) | (k, K::Identity(_) | K::Dropout(_)) => k.clone(),
        (K::Scale(s), k) | (k, K::Scale(s)) => scale_kind(m, k, s.factor, uses),
        (K::Conv2d(_) | K::Dense(_), K::Affine(a)) => {
            // Scale each output channel (BN folded into the conv or dense before it).
            let a = m.tensors[a.scale].data.clone();
            let mut k = first.clone();
            let t = k.tensor_mut().expect("conv and dense hold a weight");
            let w = &m.tensors[*t];
            // Weight values per output channel: a conv's [C_in/g, kh, kw] block, or for a dense
            // layer into a [C, H, W] relay, H*W rows of `in` values.
            let per_channel = match first {
                K::Conv2d(_) => w.numel() / a.len(),
                _ => w.shape[1] * (mid.numel() / a.len()),
            };
            *t = map_tensor(m, *t, uses, |i, v| v * f64::from(a[i / per_channel]));
            k
        }
        (K::Affine(a), K::Conv2d(c)) => {
            // Scale each input channel of the conv weight [C_out, C_in/g, kh, kw].
            let a = m.tensors[a.scale].data.clone();
            let s = m.tensors[c.weight].shape.clone();
            let (cg, khw) = (s[1], s[2] * s[3]);
            let out_per_group = s[0] / c.groups;
            let mut k = second.clone();
            let t = k.tensor_mut().expect("conv holds a weight");
            *t = map_tensor(m, *t, &shared(uses, *t), |i, v| {
                let co = i / (cg * khw);
                let ci = (i / khw) % cg;
                v * f64::from(a[(co / out_per_group) * cg + ci])
            });
            k
        }
        (K::Affine(a), K::Dense(d)) => {
            // Scale each input column by its channel's factor (the source is read flat).
            let a = m.tensors[a.scale].data.clone();
            let n_in = m.tensors[d.weight].shape[1];
            let plane = n_in / a.len();
            let mut k = second.clone();
            let t = k.tensor_mut().expect("dense holds a weight");
            *t = map_tensor(m, *t, &shared(uses, *t), |i, v| {
                v * f64::from(a[(i % n_in) / plane])
            });
            k
        }
        (K::Affine(a), K::Affine(b)) => {
            let b = m.tensors[b.scale].data.clone();
            let t = map_tensor(m, a.scale, uses, |i, v| v * f64::from(b[i]));
            K::Affine(ir::Affine { scale: t })
        }
        (K::Reshape(_), k @ (K::Dense(_) | K::Reshape(_))) | (k @ K::Dense(_), K::Reshape(_)) => {
            k.clone()
        }
        (K::Dense(d), K::SumPool(p)) => {
            let w = &m.tensors[d.weight];
            let (n_out, n_in) = (w.shape[0], w.shape[1]);
            let windows = pool_windows_1d(n_out, p);
            let mut data = vec![0.0f32; windows.len() * n_in];
            for (q, rows) in windows.iter().enumerate() {
                for i in 0..n_in {
                    let s: f64 = rows.iter().map(|&o| f64::from(w.data[o * n_in + i])).sum();
                    data[q * n_in + i] = (s * p.scale) as f32;
                }
            }
            let label = w.label.clone();
            let t = m
                .tensors
                .push(Tensor::new(label, vec![windows.len(), n_in], data));
            K::Dense(ir::Dense { weight: t })
        }
        _ => unreachable!("compose() is only called on composable() pairs"),
    }
}

/// The second projection's tensor serves every composition through the relay, so it is never
/// changed in place: mark it as shared.
fn shared(uses: &Uses, t: Handle<Tensor>) -> Uses {
    let mut u = uses.clone();
    if let Some(x) = u.get_mut(t) {
        *x = usize::MAX;
    }
    u
}

/// Input indices of each output of a 1-D sum-pool over `n` values (padding contributes nothing).
fn pool_windows_1d(n: usize, p: &ir::SumPool) -> Vec<Vec<usize>> {
    let (k, s, pad) = (p.kernel[1], p.stride[1], p.padding[1]);
    let out = (n + 2 * pad - k) / s + 1;
    (0..out)
        .map(|q| {
            (0..k)
                .filter_map(|j| (q * s + j).checked_sub(pad).filter(|&i| i < n))
                .collect()
        })
        .collect()
}

/// Where a relay's constant output `bias` (per leading channel of `mid`) lands after `second`:
/// the per-channel constant it becomes in `dst`, or `None` when the result is not constant per
/// channel (e.g. a padded conv sees zeros at the borders).
pub fn map_bias(
    m: &Module,
    second: &ProjectionKind,
    bias: &[f32],
    mid: &Shape,
    dst: &Shape,
) -> Option<Vec<f32>> {
    let plane = mid.numel() / bias.len().max(1);
    let x: Vec<f64> = (0..mid.numel())
        .map(|i| f64::from(bias[i / plane]))
        .collect();
    let mut y = vec![0.0f64; dst.numel()];
    // Step 0 stands for every step: relays with per-step tensors are never dissolved.
    deliver(&m.tensors, second, 0, &x, mid.dims(), &mut y, dst.dims());
    let channels = dst.dims()[0];
    let dplane = dst.numel() / channels;
    let mut out = Vec::with_capacity(channels);
    for c in 0..channels {
        let vals = &y[c * dplane..(c + 1) * dplane];
        // Exact equality: a constant map through an unpadded window sums the same terms in the
        // same order at every position, so a real constant is bit-identical.
        if vals.iter().any(|v| *v != vals[0]) {
            return None;
        }
        out.push(vals[0] as f32);
    }
    Some(out)
}

/// Add `extra` (`[C]`) to the bias of population `p` (to every row of a per-step one), creating
/// or copying the tensor as needed.
pub fn add_bias(m: &mut Module, p: Handle<ir::Population>, extra: &[f32]) {
    let current = m.populations[p].kind.bias();
    let data: Vec<f32> = match current {
        Some(b) => m.tensors[b]
            .data
            .iter()
            .zip(extra.iter().cycle())
            .map(|(a, b)| (f64::from(*a) + f64::from(*b)) as f32)
            .collect(),
        None => extra.to_vec(),
    };
    set_bias(m, p, data);
}

/// Give population `p` a new bias tensor holding `data` (the old one, if unused, is dropped
/// later). A per-step bias keeps its `[T, C]` shape when `data` has as many values.
pub fn set_bias(m: &mut Module, p: Handle<ir::Population>, data: Vec<f32>) {
    let (label, shape) = match m.populations[p].kind.bias() {
        Some(b) if m.tensors[b].data.len() == data.len() => {
            (m.tensors[b].label.clone(), m.tensors[b].shape.clone())
        }
        Some(b) => (m.tensors[b].label.clone(), vec![data.len()]),
        None => (format!("{}.bias", m.populations[p].name), vec![data.len()]),
    };
    let t = m.tensors.push(Tensor::new(label, shape, data));
    if let Some(slot) = m.populations[p].kind.bias_mut() {
        *slot = Some(t);
    }
}

/// A bias that is absent or all zeros contributes nothing.
pub fn has_bias(m: &Module, p: Handle<ir::Population>) -> bool {
    m.populations[p]
        .kind
        .bias()
        .is_some_and(|b| m.tensors[b].data.iter().any(|v| *v != 0.0))
}
