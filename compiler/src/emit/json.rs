//! The module as one JSON document, field for field what the text form says.

use crate::ir::{Module, PopulationKind, ProjectionKind};
use serde_json::{Map, Value, json};

/// Render `m`; tensors with at most `inline_limit` values carry them, larger ones their hash
/// (their values go to the sidecar named `sidecar`, as for the text form).
pub fn json(m: &Module, sidecar: &str, inline_limit: usize) -> Value {
    let tensors: Vec<Value> = m
        .tensors
        .iter()
        .map(|(h, t)| {
            let mut o = json!({ "handle": h.to_string(), "label": t.label, "shape": t.shape });
            if t.data.len() > inline_limit {
                o["hash"] = json!(format!("{:016x}", crate::hash::f32s(&t.data)));
            } else {
                o["values"] = json!(t.data);
            }
            o
        })
        .collect();
    let populations: Vec<Value> = m
        .populations
        .iter()
        .map(|(h, p)| {
            let mut o = json!({ "handle": h.to_string(), "kind": p.kind.name(), "name": p.name, "shape": p.shape.dims() });
            let extra: Value = match &p.kind {
                PopulationKind::Input(i) => json!({ "encoding": crate::text::encoding_name(i.encoding) }),
                PopulationKind::Spiking(s) => json!({
                    "beta": s.beta, "gain": s.gain, "threshold": s.threshold, "v_reset": s.v_reset,
                    "reset": crate::text::reset_name(s.reset), "fire": crate::text::compare_name(s.fire)
                }),
                PopulationKind::Analog(a) => json!({ "const": a.constant }),
                PopulationKind::Readout(r) => json!({ "mode": crate::text::readout_name(r.mode) }),
            };
            merge(&mut o, extra);
            if let PopulationKind::Spiking(s) = &p.kind
            {
                if let Some(v) = s.v_leak {
                    o["v_leak"] = json!(v);
                }
                if let Some(v) = s.v_min {
                    o["v_min"] = json!(v);
                }
                if let Some(syn) = s.synapse {
                    o["alpha"] = json!(syn.alpha);
                    o["w_in"] = json!(syn.w_in);
                }
            }
            if let PopulationKind::Readout(r) = &p.kind
                && let Some(i) = r.integrator
            {
                o["integrator"] = json!({ "beta": i.beta, "gain": i.gain, "rest": i.rest });
                if let Some(syn) = i.synapse {
                    o["integrator"]["alpha"] = json!(syn.alpha);
                    o["integrator"]["w_in"] = json!(syn.w_in);
                }
            }
            if let Some(b) = p.kind.bias() {
                o["bias"] = json!(b.to_string());
            }
            o
        })
        .collect();
    let projections: Vec<Value> = m
        .projections
        .iter()
        .map(|(h, e)| {
            let mut o = json!({
                "handle": h.to_string(), "kind": e.kind.name(), "source": e.source.to_string(),
                "target": e.target.to_string(), "delay": e.delay, "events": m.events(h).name(),
            });
            let extra = match &e.kind {
                ProjectionKind::Conv2d(c) => json!({ "weight": c.weight.to_string(), "stride": c.stride, "padding": c.padding, "groups": c.groups }),
                ProjectionKind::Dense(d) => json!({ "weight": d.weight.to_string() }),
                ProjectionKind::SumPool(p) => json!({ "kernel": p.kernel, "stride": p.stride, "padding": p.padding, "scale": p.scale }),
                ProjectionKind::Scale(s) => json!({ "factor": s.factor }),
                ProjectionKind::Affine(a) => json!({ "scale": a.scale.to_string() }),
                ProjectionKind::Dropout(d) => json!({ "p": d.p }),
                ProjectionKind::Identity(_) | ProjectionKind::Reshape(_) => json!({}),
            };
            merge(&mut o, extra);
            o
        })
        .collect();
    let external = m.tensors.iter().any(|(_, t)| t.data.len() > inline_limit);
    json!({
        "snnir": crate::text::VERSION,
        "module": m.name,
        "timesteps": m.timesteps,
        "classes": m.num_classes,
        "weights": if external { json!(sidecar) } else { Value::Null },
        "tensors": tensors,
        "populations": populations,
        "projections": projections,
    })
}

fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, extra) {
        let b: Map<String, Value> = b;
        a.extend(b);
    }
}
