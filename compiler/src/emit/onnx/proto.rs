//! A thin builder over onnx-protobuf's generated structs: SSA names, nodes, initializers, types.
//!
//! Every value name in a model (outer graph and Scan body alike) comes from one [`Names`]
//! registry, so no name is ever defined twice: the checker rejects a body value that reuses an
//! outer name ("single static assignment", toolchain-notes.md §4).

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{Dimension, dimension};
use onnx_protobuf::{
    AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, type_proto,
};
use std::collections::{HashMap, HashSet};

/// The symbolic batch dimension of every input, output and state.
pub const BATCH: &str = "N";

/// Element types the emitted graphs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F32,
    I64,
}

impl Elem {
    fn code(self) -> i32 {
        match self {
            Elem::F32 => DataType::FLOAT as i32,
            Elem::I64 => DataType::INT64 as i32,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Elem::F32 => "float32",
            Elem::I64 => "int64",
        }
    }
}

/// One dimension of a declared type: a fixed size or a symbol (`N`, the batch).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(usize),
    Symbol(String),
}

impl Dim {
    pub fn batch() -> Dim {
        Dim::Symbol(BATCH.into())
    }
}

/// `[N, dims...]`.
pub fn batched(dims: &[usize]) -> Vec<Dim> {
    std::iter::once(Dim::batch())
        .chain(dims.iter().map(|&d| Dim::Fixed(d)))
        .collect()
}

/// Value names, unique across the whole model.
#[derive(Debug, Default)]
pub struct Names {
    used: HashSet<String>,
}

impl Names {
    /// `base` if it is free, else `base.1`, `base.2`, ...; the name is taken from then on.
    pub fn fresh(&mut self, base: &str) -> String {
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        let name = (1..)
            .map(|k| format!("{base}.{k}"))
            .find(|n| !self.used.contains(n))
            .unwrap_or_default();
        self.used.insert(name.clone());
        name
    }
    /// Take `name` for an interface value; false if it was already taken.
    pub fn reserve(&mut self, name: &str) -> bool {
        self.used.insert(name.to_string())
    }
}

/// State shared by all graphs of one model: the names and the initializers (which live in the
/// outer graph; a Scan body reads them as outer-scope values).
#[derive(Debug, Default)]
pub struct Builder {
    pub names: Names,
    pub initializers: Vec<TensorProto>,
    /// Initializers made from module tensors, by (tensor index, dims), so each is stored once.
    tensor_cache: HashMap<(usize, Vec<i64>), String>,
    /// Small constants by (label, values), so e.g. the reduction axes of rank 3 exist once while
    /// constants with other roles keep their own readable names.
    const_cache: HashMap<(String, Vec<i64>), String>,
}

impl Builder {
    /// An f32 initializer holding a module tensor's values under `dims` (same element count).
    pub fn tensor(
        &mut self,
        index: usize,
        label: &str,
        dims: Vec<i64>,
        data: &[f32],
        doc: &str,
    ) -> String {
        if let Some(n) = self.tensor_cache.get(&(index, dims.clone())) {
            return n.clone();
        }
        let name = self.names.fresh(label);
        let mut raw = Vec::with_capacity(data.len() * 4);
        for v in data {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: dims.clone(),
            data_type: Elem::F32.code(),
            raw_data: raw,
            doc_string: doc.to_string(),
            ..Default::default()
        });
        self.tensor_cache.insert((index, dims), name.clone());
        name
    }

    /// A rank-0 f32 initializer named after what it is (`lif1.beta`).
    pub fn scalar(&mut self, base: &str, value: f32) -> String {
        let name = self.names.fresh(base);
        self.initializers.push(TensorProto {
            name: name.clone(),
            data_type: Elem::F32.code(),
            float_data: vec![value],
            ..Default::default()
        });
        name
    }

    /// A shared 1-D int64 initializer (shapes, axes, indices): one per label and values.
    pub fn ints(&mut self, base: &str, values: &[i64]) -> String {
        let key = (format!("{base}[]"), values.to_vec());
        if let Some(n) = self.const_cache.get(&key) {
            return n.clone();
        }
        let name = self.names.fresh(base);
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: vec![values.len() as i64],
            data_type: Elem::I64.code(),
            int64_data: values.to_vec(),
            ..Default::default()
        });
        self.const_cache.insert(key, name.clone());
        name
    }

    /// A rank-0 int64 initializer, shared by label and value.
    pub fn int_scalar(&mut self, base: &str, value: i64) -> String {
        let key = (base.to_string(), vec![value]);
        if let Some(n) = self.const_cache.get(&key) {
            return n.clone();
        }
        let name = self.names.fresh(base);
        self.initializers.push(TensorProto {
            name: name.clone(),
            data_type: Elem::I64.code(),
            int64_data: vec![value],
            ..Default::default()
        });
        self.const_cache.insert(key, name.clone());
        name
    }

    /// A 1-D int64 initializer that is not shared (the time steps of a Scan).
    pub fn int_range(&mut self, base: &str, n: usize, doc: &str) -> String {
        let name = self.names.fresh(base);
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: vec![n as i64],
            data_type: Elem::I64.code(),
            int64_data: (0..n as i64).collect(),
            doc_string: doc.to_string(),
            ..Default::default()
        });
        name
    }
}

/// The nodes of one graph under construction (the outer graph or a Scan body).
#[derive(Debug, Default)]
pub struct Nodes {
    pub nodes: Vec<NodeProto>,
    /// Values whose names are final (interface names): never renamed again.
    fixed: HashSet<String>,
    /// Values renamed by [`Nodes::publish`]: old name -> interface name.
    renamed: HashMap<String, String>,
}

impl Nodes {
    /// Add a node with one output named after `out` (made unique); returns that name.
    pub fn op(
        &mut self,
        b: &mut Builder,
        op: &str,
        inputs: &[&str],
        out: &str,
        attrs: Vec<AttributeProto>,
        doc: &str,
    ) -> String {
        let output = b.names.fresh(out);
        self.nodes.push(NodeProto {
            op_type: op.to_string(),
            name: output.clone(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            attribute: attrs,
            doc_string: doc.to_string(),
            ..Default::default()
        });
        output
    }

    /// Add a node with several outputs, named exactly as given (the caller reserved them).
    pub fn op_multi(
        &mut self,
        name: &str,
        op: &str,
        inputs: &[String],
        outputs: &[String],
        attrs: Vec<AttributeProto>,
        doc: &str,
    ) {
        self.nodes.push(NodeProto {
            op_type: op.to_string(),
            name: name.to_string(),
            input: inputs.to_vec(),
            output: outputs.to_vec(),
            attribute: attrs,
            doc_string: doc.to_string(),
            ..Default::default()
        });
    }

    /// Make `value` available under the reserved interface name `name`: rename the node that
    /// produced it (and its uses here) when it is an ordinary value of this graph, otherwise
    /// (a graph input, an outer value, or a value already given another interface name) copy
    /// it with an Identity.
    pub fn publish(&mut self, value: &str, name: &str, doc: &str) {
        let value = self
            .renamed
            .get(value)
            .cloned()
            .unwrap_or_else(|| value.to_string());
        let value = value.as_str();
        let producer = self
            .nodes
            .iter()
            .position(|n| n.output.iter().any(|o| o == value));
        match producer {
            Some(i) if !self.fixed.contains(value) => {
                for node in &mut self.nodes {
                    for s in node.input.iter_mut().chain(node.output.iter_mut()) {
                        if s == value {
                            *s = name.to_string();
                        }
                    }
                }
                let node = &mut self.nodes[i];
                if node.output.len() == 1 {
                    node.name = name.to_string();
                }
                if !doc.is_empty() && node.doc_string.is_empty() {
                    node.doc_string = doc.to_string();
                }
                self.renamed.insert(value.to_string(), name.to_string());
            }
            _ => self.nodes.push(NodeProto {
                op_type: "Identity".into(),
                name: name.to_string(),
                input: vec![value.to_string()],
                output: vec![name.to_string()],
                doc_string: doc.to_string(),
                ..Default::default()
            }),
        }
        self.fixed.insert(name.to_string());
    }
}

pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INT.into(),
        i: v,
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INTS.into(),
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn attr_graph(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::GRAPH.into(),
        g: Some(g).into(),
        ..Default::default()
    }
}

/// A tensor-valued attribute holding one f32 (ConstantOfShape's fill value).
pub fn attr_f32_tensor(name: &str, v: f32) -> AttributeProto {
    let t = TensorProto {
        dims: vec![1],
        data_type: Elem::F32.code(),
        float_data: vec![v],
        ..Default::default()
    };
    AttributeProto {
        name: name.into(),
        type_: AttributeType::TENSOR.into(),
        t: Some(t).into(),
        ..Default::default()
    }
}

/// A typed value declaration (graph input or output).
pub fn value_info(name: &str, elem: Elem, shape: &[Dim], doc: &str) -> ValueInfoProto {
    let dim = shape
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => dimension::Value::DimValue(*n as i64),
                Dim::Symbol(s) => dimension::Value::DimParam(s.clone()),
            }),
            ..Default::default()
        })
        .collect();
    let tt = type_proto::Tensor {
        elem_type: elem.code(),
        shape: Some(TensorShapeProto {
            dim,
            ..Default::default()
        })
        .into(),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.to_string(),
        type_: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tt)),
            ..Default::default()
        })
        .into(),
        doc_string: doc.to_string(),
        ..Default::default()
    }
}

/// Dims as ONNX's int64.
pub fn i64s(dims: &[usize]) -> Vec<i64> {
    dims.iter().map(|&d| d as i64).collect()
}
