//! The deterministic printer of the `.snnir` text form and the writer of its sidecar.

use super::lex::quote;
use super::{INLINE_LIMIT, VERSION};
use crate::ir::{
    Compare, Encoding, Module, PopulationKind, ProjectionKind, ReadoutKind, Reset, Shape, Tensor,
};
use std::fmt::Write;

/// How to print: the sidecar's file name (as the `weights` line names it) and the inline limit.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintOptions {
    pub sidecar: String,
    pub inline_limit: usize,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            sidecar: "weights.safetensors".into(),
            inline_limit: INLINE_LIMIT,
        }
    }
}

fn dims(s: &[usize]) -> String {
    let inner: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", inner.join(", "))
}

fn shape(s: &Shape) -> String {
    dims(s.dims())
}

/// Print `m`. Output depends only on the module, so equal modules print equal text.
pub fn print(m: &Module, opts: &PrintOptions) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "snnir {VERSION}");
    let _ = writeln!(
        w,
        "module {} timesteps={} classes={}",
        quote(&m.name),
        m.timesteps,
        m.num_classes
    );
    let external = m
        .tensors
        .iter()
        .any(|(_, t)| t.data.len() > opts.inline_limit);
    if external {
        let _ = writeln!(w, "weights {}", quote(&opts.sidecar));
    }
    if !m.tensors.is_empty() {
        w.push('\n');
    }
    for (h, t) in m.tensors.iter() {
        let _ = write!(w, "{h} = tensor {} {}", quote(&t.label), dims(&t.shape));
        if t.data.len() > opts.inline_limit {
            let _ = writeln!(w, " external hash={:016x}", crate::hash::f32s(&t.data));
        } else {
            let values: Vec<String> = t.data.iter().map(|v| format!("{v:?}")).collect();
            let _ = writeln!(w, " [{}]", values.join(", "));
        }
    }
    w.push('\n');
    for (h, p) in m.populations.iter() {
        let _ = write!(
            w,
            "{h} = {} {} {}",
            p.kind.name(),
            quote(&p.name),
            shape(&p.shape)
        );
        match &p.kind {
            PopulationKind::Input(i) => {
                let _ = write!(w, " {}", encoding_name(i.encoding));
            }
            PopulationKind::Spiking(s) => {
                let _ = write!(
                    w,
                    " beta={} gain={} threshold={} v_reset={} reset={} fire={}",
                    s.beta,
                    s.gain,
                    s.threshold,
                    s.v_reset,
                    reset_name(s.reset),
                    compare_name(s.fire)
                );
                if let Some(v) = s.v_leak {
                    let _ = write!(w, " v_leak={v}");
                }
                if let Some(v) = s.v_min {
                    let _ = write!(w, " v_min={v}");
                }
                if let Some(syn) = s.synapse {
                    let _ = write!(w, " alpha={} w_in={}", syn.alpha, syn.w_in);
                }
                if let Some(b) = s.bias {
                    let _ = write!(w, " bias={b}");
                }
            }
            PopulationKind::Analog(a) => {
                if let Some(b) = a.bias {
                    let _ = write!(w, " bias={b}");
                }
                if a.constant {
                    w.push_str(" const");
                }
            }
            PopulationKind::Readout(r) => {
                let _ = write!(w, " {}", readout_name(r.mode));
                if let Some(i) = r.integrator {
                    let _ = write!(w, " beta={} gain={} rest={}", i.beta, i.gain, i.rest);
                    if let Some(syn) = i.synapse {
                        let _ = write!(w, " alpha={} w_in={}", syn.alpha, syn.w_in);
                    }
                }
                if let Some(b) = r.bias {
                    let _ = write!(w, " bias={b}");
                }
            }
        }
        w.push('\n');
    }
    if !m.projections.is_empty() {
        w.push('\n');
    }
    for (h, e) in m.projections.iter() {
        let events = m
            .populations
            .get(e.source)
            .map_or("graded", |p| p.kind.events().name());
        let _ = write!(
            w,
            "{h} = {} {} -> {} {events}",
            e.kind.name(),
            e.source,
            e.target
        );
        if e.delay != 0 {
            let _ = write!(w, " delay={}", e.delay);
        }
        match &e.kind {
            ProjectionKind::Conv2d(c) => {
                let _ = write!(
                    w,
                    " weight={} stride={} padding={} groups={}",
                    c.weight,
                    dims(&c.stride),
                    dims(&c.padding),
                    c.groups
                );
            }
            ProjectionKind::Dense(d) => {
                let _ = write!(w, " weight={}", d.weight);
            }
            ProjectionKind::SumPool(p) => {
                let _ = write!(
                    w,
                    " kernel={} stride={} padding={} scale={:?}",
                    dims(&p.kernel),
                    dims(&p.stride),
                    dims(&p.padding),
                    p.scale
                );
            }
            ProjectionKind::Scale(s) => {
                let _ = write!(w, " factor={:?}", s.factor);
            }
            ProjectionKind::Affine(a) => {
                let _ = write!(w, " scale={}", a.scale);
            }
            ProjectionKind::Dropout(d) => {
                let _ = write!(w, " p={:?}", d.p);
            }
            ProjectionKind::Identity(_) | ProjectionKind::Reshape(_) => {}
        }
        w.push('\n');
    }
    out
}

/// The sidecar bytes (safetensors, keys `t<index>`) for the tensors `print` leaves external;
/// `None` when every tensor is inline.
pub fn sidecar(m: &Module, opts: &PrintOptions) -> Option<Vec<u8>> {
    let views: Vec<(String, TensorView<'_>)> = m
        .tensors
        .iter()
        .filter(|(_, t)| t.data.len() > opts.inline_limit)
        .map(|(h, t)| (h.to_string(), TensorView(t)))
        .collect();
    if views.is_empty() {
        return None;
    }
    Some(safetensors::serialize(views, None).expect("f32 tensors with consistent shapes serialise"))
}

/// Serialises a module tensor in place, without copying it into a `Weights` first.
struct TensorView<'a>(&'a Tensor);

impl safetensors::View for TensorView<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Owned(self.0.data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
    fn data_len(&self) -> usize {
        self.0.data.len() * 4
    }
}

pub fn encoding_name(e: Encoding) -> &'static str {
    match e {
        Encoding::Direct => "direct",
        Encoding::EventFrames => "event_frames",
    }
}
pub fn reset_name(r: Reset) -> &'static str {
    match r {
        Reset::Hard => "hard",
        Reset::Subtract => "subtract",
        Reset::SubtractNext => "subtract_next",
        Reset::ZeroNext => "zero_next",
        Reset::None => "none",
    }
}
pub fn compare_name(c: Compare) -> &'static str {
    match c {
        Compare::Ge => "ge",
        Compare::Gt => "gt",
    }
}
pub fn readout_name(r: ReadoutKind) -> &'static str {
    match r {
        ReadoutKind::TimeMean => "time_mean",
        ReadoutKind::SpikeCount => "spike_count",
        ReadoutKind::MembraneLast => "membrane_last",
        ReadoutKind::MembraneMean => "membrane_mean",
        ReadoutKind::MembraneMax => "membrane_max",
    }
}
