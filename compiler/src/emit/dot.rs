//! The module as a Graphviz digraph: populations as nodes (shape by kind), projections as edges
//! (dashed and labelled with the delay when delayed, bold when they carry binary spikes).

use crate::ir::{Events, Module, PopulationKind, ProjectionKind, Shape};
use std::fmt::Write;

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dims(s: &Shape) -> String {
    s.dims()
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// Render `m` as DOT.
pub fn dot(m: &Module) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape(&m.name));
    let _ = writeln!(
        out,
        "  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];"
    );
    for (h, p) in m.populations.iter() {
        let (shape, style) = match &p.kind {
            PopulationKind::Input(_) => ("invhouse", "filled\", fillcolor=\"#dddddd"),
            PopulationKind::Spiking(_) => ("ellipse", "filled\", fillcolor=\"#ffe0b0"),
            PopulationKind::Analog(a) if a.constant => {
                ("box", "filled,dashed\", fillcolor=\"#e8f0ff")
            }
            PopulationKind::Analog(_) => ("box", "filled\", fillcolor=\"#e8f0ff"),
            PopulationKind::Readout(_) => ("house", "filled\", fillcolor=\"#d0f0d0"),
        };
        let _ = writeln!(
            out,
            "  {h} [label=\"{h} {}\\n{}\\n{}\", shape={shape}, style=\"{style}\"];",
            p.kind.name(),
            escape(&p.name),
            dims(&p.shape)
        );
    }
    for (h, e) in m.projections.iter() {
        let detail = match &e.kind {
            ProjectionKind::Conv2d(c) => {
                let s = &m
                    .tensors
                    .get(c.weight)
                    .map(|t| t.shape.clone())
                    .unwrap_or_default();
                if s.len() == 4 {
                    format!(" {}x{}", s[2], s[3])
                } else {
                    String::new()
                }
            }
            ProjectionKind::SumPool(p) => format!(" {}x{}", p.kernel[0], p.kernel[1]),
            ProjectionKind::Scale(s) => format!(" x{}", s.factor),
            _ => String::new(),
        };
        let delay = if e.delay > 0 {
            format!("\\nd={}", e.delay)
        } else {
            String::new()
        };
        let mut attrs = format!("label=\"{h} {}{detail}{delay}\"", e.kind.name());
        if e.delay > 0 {
            attrs.push_str(", style=dashed, constraint=false");
        }
        if m.populations.get(e.source).map(|p| p.kind.events()) == Some(Events::Binary) {
            attrs.push_str(", penwidth=2");
        }
        let _ = writeln!(out, "  {} -> {} [{attrs}];", e.source, e.target);
    }
    out.push_str("}\n");
    out
}
