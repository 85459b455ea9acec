//! ONNX import: a model file into a [`Graph`], with constant shape subgraphs folded at load.
//!
//! Protobuf decoding is prost's, over types generated from the official `onnx.proto`
//! (`onnx_proto.rs`). Opsets 7 to 21 of the default domain are accepted. Every ONNX tensor name
//! of the model becomes a graph tensor name (a tap and a valid CAM layer), except the outputs of
//! convolutions whose batch norm was folded into them at load, which [`OnnxModel::tensor`]
//! explains.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use prost::Message;

use super::consts::{self, Const, BATCH};
use super::onnx_proto as pb;
use crate::graph::{Graph, GraphBuilder, Op, TensorId};
use crate::ops::{
    self, Activation, BinaryOp, Conv2d, ConvTranspose2d, CoordMode, Lrn, NearestCoords, NearestMode, PadMode, Pool2d,
    ReduceOp,
};
use crate::{Error, Gpu, Result, Tensor};

/// An imported ONNX model.
pub struct OnnxModel {
    /// The graph, named with the model's tensor names.
    pub graph: Graph,
    /// The model's opset (default domain).
    pub opset: i64,
    /// `producer_name producer_version` from the file.
    pub producer: String,
    /// The batch size the file fixes, if its input's first dimension is a number (the engine
    /// runs any batch size anyway when the graph allows it).
    pub declared_batch: Option<usize>,
    /// Convolution outputs whose batch norm was folded into the convolution: (conv output, the
    /// batch norm's output that replaces it).
    pub folded: Vec<(String, String)>,
}

impl OnnxModel {
    /// Looks up a tensor by its ONNX name, explaining names that folding removed.
    pub fn tensor(&self, name: &str) -> Result<TensorId> {
        if let Some((_, bn)) = self.folded.iter().find(|(conv, _)| conv == name) {
            return Err(Error::NotFound {
                what: "tensor",
                name: name.to_string(),
                hint: format!(" (its batch norm was folded into the convolution at load; use `{bn}`)"),
            });
        }
        self.graph.tensor(name)
    }
}

/// Loads an ONNX model file onto `gpu`.
pub fn load_onnx(gpu: &Gpu, path: &Path) -> Result<OnnxModel> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    load_onnx_bytes(gpu, &bytes).map_err(|e| match e {
        Error::InvalidArgument { op: "onnx", detail } => Error::arg("onnx", format!("{}: {detail}", path.display())),
        e => e,
    })
}

/// Loads an ONNX model from its bytes.
pub fn load_onnx_bytes(gpu: &Gpu, bytes: &[u8]) -> Result<OnnxModel> {
    let model = pb::ModelProto::decode(bytes).map_err(|e| Error::arg("onnx", format!("not an ONNX model: {e}")))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.as_deref().unwrap_or("").is_empty() || o.domain.as_deref() == Some("ai.onnx"))
        .and_then(|o| o.version)
        .ok_or_else(|| Error::arg("onnx", "the model imports no opset of the default domain"))?;
    if !(7..=21).contains(&opset) {
        return Err(Error::arg("onnx", format!("opset {opset} is not supported (7 to 21 are)")));
    }
    let graph = model.graph.as_ref().ok_or_else(|| Error::arg("onnx", "the model has no graph"))?;
    let producer = format!(
        "{} {}",
        model.producer_name.clone().unwrap_or_default(),
        model.producer_version.clone().unwrap_or_default()
    )
    .trim()
    .to_string();
    let mut imp = Importer::new(gpu, graph, opset)?;
    for (i, node) in graph.node.iter().enumerate() {
        if imp.skip.contains(&i) {
            continue;
        }
        imp.node(node)?;
    }
    let out_name = graph
        .output
        .first()
        .and_then(|o| o.name.clone())
        .ok_or_else(|| Error::arg("onnx", "the graph has no output"))?;
    let out = match imp.values.get(&out_name) {
        Some(Value::Graph(t)) => *t,
        Some(Value::Const(_)) => return Err(Error::arg("onnx", format!("output `{out_name}` is a constant"))),
        None => return Err(Error::arg("onnx", format!("output `{out_name}` is produced by no node"))),
    };
    Ok(OnnxModel { graph: imp.b.build(out)?, opset, producer, declared_batch: imp.declared_batch, folded: imp.folded })
}

/// A named value while importing: a graph tensor or a host constant (shared, not copied).
#[derive(Clone)]
enum Value {
    Graph(TensorId),
    Const(Rc<Const>),
}

struct Importer<'a> {
    gpu: &'a Gpu,
    b: GraphBuilder,
    values: HashMap<String, Value>,
    /// How many nodes read each name (for batch-norm folding).
    readers: HashMap<String, usize>,
    /// The node reading each name, when there is exactly one.
    sole_reader: HashMap<String, usize>,
    graph_outputs: Vec<String>,
    nodes: &'a [pb::NodeProto],
    opset: i64,
    declared_batch: Option<usize>,
    skip: Vec<usize>,
    folded: Vec<(String, String)>,
}

fn node_name(n: &pb::NodeProto) -> String {
    n.name.clone().filter(|s| !s.is_empty()).or_else(|| n.output.first().cloned()).unwrap_or_default()
}

fn attr<'n>(n: &'n pb::NodeProto, name: &str) -> Option<&'n pb::AttributeProto> {
    n.attribute.iter().find(|a| a.name.as_deref() == Some(name))
}
fn attr_i(n: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).and_then(|a| a.i).unwrap_or(default)
}
fn attr_f(n: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(n, name).and_then(|a| a.f).unwrap_or(default)
}
fn attr_ints(n: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}
fn attr_s(n: &pb::NodeProto, name: &str) -> Option<String> {
    attr(n, name).and_then(|a| a.s.as_ref()).map(|s| String::from_utf8_lossy(s).into_owned())
}

/// Decodes a TensorProto into a host constant.
fn tensor_proto(t: &pb::TensorProto) -> std::result::Result<Const, String> {
    if t.data_location == Some(1) {
        return Err("external tensor data is not supported; save the model with its weights inside".into());
    }
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let n: usize = dims.iter().product();
    let raw = t.raw_data.as_deref();
    let dt = t.data_type.unwrap_or(0);
    let c =
        match dt {
            1 => Const::f32(
                dims,
                match raw {
                    Some(r) => r.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
                    None => t.float_data.clone(),
                },
            ),
            11 => Const::f32(
                dims,
                match raw {
                    Some(r) => r.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
                    None => t.double_data.iter().map(|&v| v as f32).collect(),
                },
            ),
            10 | 16 => {
                let bits: Vec<u16> = match raw {
                    Some(r) => r.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect(),
                    None => t.int32_data.iter().map(|&v| v as u16).collect(),
                };
                Const::f32(
                    dims,
                    bits.iter()
                        .map(|&b| {
                            if dt == 10 {
                                half::f16::from_bits(b).to_f32()
                            } else {
                                half::bf16::from_bits(b).to_f32()
                            }
                        })
                        .collect(),
                )
            }
            7 => Const::i64(
                dims,
                match raw {
                    Some(r) => r.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect(),
                    None => t.int64_data.clone(),
                },
            ),
            6 | 5 | 3 | 2 | 4 | 9 => {
                let size = match dt {
                    6 => 4,
                    5 | 4 => 2,
                    _ => 1,
                };
                Const::i64(
                    dims,
                    match raw {
                        Some(r) => r
                            .chunks_exact(size)
                            .map(|b| match (dt, size) {
                                (6, _) => i32::from_le_bytes(b.try_into().unwrap()) as i64,
                                (5, _) => i16::from_le_bytes(b.try_into().unwrap()) as i64,
                                (4, _) => u16::from_le_bytes(b.try_into().unwrap()) as i64,
                                (3, _) => b[0] as i8 as i64,
                                _ => b[0] as i64,
                            })
                            .collect(),
                        None => t.int32_data.iter().map(|&v| v as i64).collect(),
                    },
                )
            }
            other => return Err(format!("tensor data type {other} is not supported")),
        };
    if c.len() != n {
        return Err(format!(
            "tensor `{}` holds {} values for dims {:?}",
            t.name.as_deref().unwrap_or(""),
            c.len(),
            t.dims
        ));
    }
    Ok(c)
}

/// Negative axes count from the end.
fn norm_axis(axis: i64, rank: usize) -> std::result::Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        return Err(format!("axis {axis} out of range for rank {rank}"));
    }
    Ok(a as usize)
}

impl<'a> Importer<'a> {
    fn new(gpu: &'a Gpu, graph: &'a pb::GraphProto, opset: i64) -> Result<Self> {
        let mut values = HashMap::new();
        for t in &graph.initializer {
            let name = t.name.clone().unwrap_or_default();
            let c = tensor_proto(t).map_err(|d| Error::arg("onnx", format!("initializer `{name}`: {d}")))?;
            values.insert(name, Value::Const(Rc::new(c)));
        }
        let data_inputs: Vec<&pb::ValueInfoProto> =
            graph.input.iter().filter(|i| !values.contains_key(i.name.as_deref().unwrap_or(""))).collect();
        let [input] = data_inputs[..] else {
            return Err(Error::arg(
                "onnx",
                format!("the graph has {} data inputs; one image input is supported", data_inputs.len()),
            ));
        };
        let name = input.name.clone().unwrap_or_default();
        let dims: Vec<Option<i64>> = input
            .r#type
            .as_ref()
            .and_then(|t| match &t.value {
                Some(pb::type_proto::Value::TensorType(tt)) => tt.shape.as_ref(),
                _ => None,
            })
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) if v > 0 => Some(v),
                        _ => None,
                    })
                    .collect()
            })
            .ok_or_else(|| Error::arg("onnx", format!("input `{name}` has no tensor shape")))?;
        if dims.len() < 2 || dims[1..].iter().any(|d| d.is_none()) {
            return Err(Error::arg(
                "onnx",
                format!(
                    "input `{name}` must have a fixed shape after the batch, e.g. [N, 3, 224, 224]; it is {dims:?}"
                ),
            ));
        }
        let item: Vec<usize> = dims[1..].iter().map(|d| d.unwrap() as usize).collect();
        let declared_batch = dims[0].map(|v| v as usize);
        let b = GraphBuilder::new(&name, item);
        values.insert(name, Value::Graph(b.input()));
        let mut readers: HashMap<String, usize> = HashMap::new();
        let mut sole_reader = HashMap::new();
        for (i, n) in graph.node.iter().enumerate() {
            count_reads(n, i, &mut readers, &mut sole_reader);
        }
        let graph_outputs = graph.output.iter().filter_map(|o| o.name.clone()).collect();
        Ok(Importer {
            gpu,
            b,
            values,
            readers,
            sole_reader,
            graph_outputs,
            nodes: &graph.node,
            opset,
            declared_batch,
            skip: Vec::new(),
            folded: Vec::new(),
        })
    }

    fn upload(&self, c: &Const) -> Result<Tensor> {
        let v = c.as_f32().map_err(|d| Error::arg("onnx", d))?;
        Tensor::from_f32(self.gpu, c.dims.clone(), &v)
    }

    fn node(&mut self, n: &pb::NodeProto) -> Result<()> {
        let op = n.op_type.clone().unwrap_or_default();
        let domain = n.domain.as_deref().unwrap_or("");
        let err = |detail: String| Error::Onnx { node: node_name(n), op_type: op.clone(), detail };
        if !(domain.is_empty() || domain == "ai.onnx") {
            return Err(err(format!("operators of domain `{domain}` are not supported")));
        }
        // Inputs: None for an omitted optional input.
        let mut ins: Vec<Option<Value>> = Vec::with_capacity(n.input.len());
        for name in &n.input {
            if name.is_empty() {
                ins.push(None);
                continue;
            }
            match self.values.get(name) {
                Some(v) => ins.push(Some(v.clone())),
                None => {
                    return Err(err(format!(
                        "input `{name}` is neither an initializer nor the output of an earlier node"
                    )))
                }
            }
        }
        if op == "If" {
            return self.inline_if(n, &ins).map_err(|e| match e {
                Error::InvalidArgument { op: "onnx-map", detail } => err(detail),
                other => other,
            });
        }
        let all_const = ins.iter().all(|v| !matches!(v, Some(Value::Graph(_))));
        let out_name = n.output.first().cloned().unwrap_or_default();
        let folded = if all_const || op == "Shape" { self.fold(n, &op, &ins).map_err(err)? } else { None };
        if let Some(c) = folded {
            self.values.insert(out_name, Value::Const(Rc::new(c)));
            return Ok(());
        }
        let result = self.map(n, &op, &ins).map_err(|e| match e {
            Error::Onnx { .. } => e,
            Error::InvalidArgument { op: "onnx-map", detail } => err(detail),
            other => err(other.to_string()),
        })?;
        match result {
            Mapped::Tensor(t) => {
                self.values.insert(out_name, Value::Graph(t));
            }
            Mapped::Alias(t) => {
                self.b.alias(&out_name, t).map_err(|e| err(e.to_string()))?;
                self.values.insert(out_name, Value::Graph(t));
            }
            Mapped::Many(ts) => {
                for (name, t) in n.output.iter().zip(ts) {
                    self.values.insert(name.clone(), Value::Graph(t));
                }
            }
        }
        // Every other output must be unused (MaxPool's indices, Dropout's mask, ...).
        if !matches!(op.as_str(), "Split") {
            for extra in n.output.iter().skip(1).filter(|s| !s.is_empty()) {
                if self.readers.get(extra).copied().unwrap_or(0) > 0 || self.graph_outputs.contains(extra) {
                    return Err(Error::Onnx {
                        node: node_name(n),
                        op_type: op,
                        detail: format!("output `{extra}` is used; only the first output is supported"),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Counts the names `n` reads, and those its subgraphs (an `If`'s branches) read, as reads by
/// the top-level node `top`: a branch that reads a tensor keeps it from being folded away.
fn count_reads(
    n: &pb::NodeProto,
    top: usize,
    readers: &mut HashMap<String, usize>,
    sole_reader: &mut HashMap<String, usize>,
) {
    for inp in n.input.iter().filter(|s| !s.is_empty()) {
        *readers.entry(inp.clone()).or_default() += 1;
        sole_reader.insert(inp.clone(), top);
    }
    for a in &n.attribute {
        for g in a.g.iter().chain(&a.graphs) {
            for inner in &g.node {
                count_reads(inner, top, readers, sole_reader);
            }
        }
    }
}

impl Importer<'_> {
    /// An `If` whose condition folded to a constant: the chosen branch's nodes are imported in
    /// place (they read the enclosing graph's names) and its outputs become the `If`'s.
    fn inline_if(&mut self, n: &pb::NodeProto, ins: &[Option<Value>]) -> Result<()> {
        let cond = match get_const(ins, 0) {
            Some(c) => c.as_i64().first().copied().unwrap_or(0) != 0,
            None => return fail("the condition must be known at load (a run-time branch is not supported)"),
        };
        let branch = attr(n, if cond { "then_branch" } else { "else_branch" })
            .and_then(|a| a.g.as_ref())
            .ok_or_else(|| Error::arg("onnx-map", "the branch graph is missing"))?;
        for t in &branch.initializer {
            let name = t.name.clone().unwrap_or_default();
            let c = tensor_proto(t).map_err(|d| Error::arg("onnx-map", d))?;
            self.values.insert(name, Value::Const(Rc::new(c)));
        }
        for inner in &branch.node {
            self.node(inner)?;
        }
        for (out, b) in n.output.iter().zip(&branch.output) {
            let name = b.name.clone().unwrap_or_default();
            let v = self
                .values
                .get(&name)
                .cloned()
                .ok_or_else(|| Error::arg("onnx-map", format!("branch output `{name}` was not produced")))?;
            if let Value::Graph(t) = v {
                if !out.is_empty() && self.b.tensor(out).is_none() {
                    self.b.alias(out, t)?;
                }
            }
            self.values.insert(out.clone(), v);
        }
        Ok(())
    }
}

enum Mapped {
    Tensor(TensorId),
    Alias(TensorId),
    Many(Vec<TensorId>),
}

fn fail<T>(detail: impl Into<String>) -> Result<T> {
    Err(Error::InvalidArgument { op: "onnx-map", detail: detail.into() })
}

fn get_const(ins: &[Option<Value>], i: usize) -> Option<&Const> {
    match ins.get(i) {
        Some(Some(Value::Const(c))) => Some(c),
        _ => None,
    }
}

/// The input `i`, if present.
fn input(ins: &[Option<Value>], i: usize) -> Option<&Value> {
    ins.get(i).and_then(|v| v.as_ref())
}

impl Importer<'_> {
    /// Evaluates a node on constants at load, or returns `None` when the op is not folded.
    fn fold(&self, n: &pb::NodeProto, op: &str, ins: &[Option<Value>]) -> std::result::Result<Option<Const>, String> {
        let c = |i: usize| get_const(ins, i).ok_or_else(|| format!("input {i} must be a constant"));
        Ok(Some(match op {
            "Constant" => {
                if let Some(t) = attr(n, "value").and_then(|a| a.t.as_ref()) {
                    tensor_proto(t)?
                } else if let Some(f) = attr(n, "value_float").and_then(|a| a.f) {
                    Const::f32(vec![], vec![f])
                } else if let Some(i) = attr(n, "value_int").and_then(|a| a.i) {
                    Const::i64(vec![], vec![i])
                } else if let Some(a) = attr(n, "value_floats") {
                    Const::f32(vec![a.floats.len()], a.floats.clone())
                } else if let Some(a) = attr(n, "value_ints") {
                    Const::i64(vec![a.ints.len()], a.ints.clone())
                } else {
                    return Err("a Constant without a supported value attribute".into());
                }
            }
            "Shape" => {
                let dims: Vec<i64> = match input(ins, 0) {
                    Some(Value::Graph(t)) => {
                        let mut d = vec![BATCH];
                        d.extend(self.b.item_shape(*t).iter().map(|&x| x as i64));
                        d
                    }
                    Some(Value::Const(k)) => k.dims.iter().map(|&x| x as i64).collect(),
                    None => return Err("Shape needs an input".into()),
                };
                let r = dims.len() as i64;
                let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
                let (s, e) = (clampi(attr_i(n, "start", 0)), clampi(attr_i(n, "end", r)));
                let v = dims[s..e.max(s)].to_vec();
                Const::i64(vec![v.len()], v)
            }
            "Identity" | "Dropout" => c(0)?.clone(),
            "Cast" => {
                let x = c(0)?;
                match attr_i(n, "to", 1) {
                    1 | 10 | 11 | 16 => Const::f32(x.dims.clone(), x.as_f32()?),
                    _ => Const::i64(x.dims.clone(), x.as_i64()),
                }
            }
            "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Min" | "Max" => consts::arith(op, c(0)?, c(1)?)?,
            "Gather" => {
                let x = c(0)?;
                consts::gather(x, c(1)?, norm_axis(attr_i(n, "axis", 0), x.dims.len())?)?
            }
            "Unsqueeze" | "Squeeze" => {
                let x = c(0)?;
                let axes = if self.opset >= 13 { get_const(ins, 1).map(|a| a.as_i64()) } else { attr_ints(n, "axes") };
                let mut dims = x.dims.clone();
                if op == "Unsqueeze" {
                    let axes = axes.ok_or("Unsqueeze needs axes")?;
                    let r = dims.len() + axes.len();
                    let mut ax: Vec<usize> =
                        axes.iter().map(|&a| norm_axis(a, r)).collect::<std::result::Result<_, _>>()?;
                    ax.sort();
                    for a in ax {
                        dims.insert(a, 1);
                    }
                } else {
                    let r = dims.len();
                    let ax: Vec<usize> = match axes {
                        Some(a) => a.iter().map(|&a| norm_axis(a, r)).collect::<std::result::Result<_, _>>()?,
                        None => (0..r).filter(|&i| dims[i] == 1).collect(),
                    };
                    dims = dims.iter().enumerate().filter(|(i, _)| !ax.contains(i)).map(|(_, &d)| d).collect();
                }
                Const { dims, data: x.data.clone() }
            }
            "Concat" => {
                let parts: Vec<&Const> = (0..ins.len()).map(c).collect::<std::result::Result<_, _>>()?;
                let rank = parts.first().map_or(1, |p| p.dims.len());
                consts::concat(&parts, norm_axis(attr_i(n, "axis", 0), rank)?)?
            }
            "ConstantOfShape" => {
                let dims: Vec<usize> = c(0)?.as_i64().iter().map(|&d| d.max(0) as usize).collect();
                let num: usize = dims.iter().product();
                match attr(n, "value").and_then(|a| a.t.as_ref()) {
                    Some(t) => {
                        let v = tensor_proto(t)?;
                        match v.data {
                            consts::Data::F32(x) => Const::f32(dims, vec![x[0]; num]),
                            consts::Data::I64(x) => Const::i64(dims, vec![x[0]; num]),
                        }
                    }
                    None => Const::f32(dims, vec![0.0; num]),
                }
            }
            "Reshape" => {
                let x = c(0)?;
                let target = c(1)?.as_i64();
                let total = x.len() as i64;
                let known: i64 = target
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| {
                        if d == 0 {
                            x.dims[i] as i64
                        } else if d == -1 {
                            1
                        } else {
                            d
                        }
                    })
                    .product();
                let dims = target
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| {
                        if d == 0 {
                            x.dims[i]
                        } else if d == -1 {
                            (total / known.max(1)) as usize
                        } else {
                            d as usize
                        }
                    })
                    .collect();
                Const { dims, data: x.data.clone() }
            }
            "Slice" => {
                let x = c(0)?;
                let r = x.dims.len();
                let (starts, ends) = if self.opset >= 10 {
                    (c(1)?.as_i64(), c(2)?.as_i64())
                } else {
                    (attr_ints(n, "starts").unwrap_or_default(), attr_ints(n, "ends").unwrap_or_default())
                };
                let axes_raw =
                    if self.opset >= 10 { get_const(ins, 3).map(|a| a.as_i64()) } else { attr_ints(n, "axes") };
                let axes: Vec<usize> = match axes_raw {
                    Some(a) => a.iter().map(|&a| norm_axis(a, r)).collect::<std::result::Result<_, _>>()?,
                    None => (0..starts.len()).collect(),
                };
                let steps = get_const(ins, 4).map(|s| s.as_i64()).unwrap_or(vec![1; axes.len()]);
                consts::slice(x, &starts, &ends, &axes, &steps)?
            }
            "Equal" | "Greater" | "Less" => consts::compare(op, c(0)?, c(1)?)?,
            "Not" => {
                let x = c(0)?;
                Const::i64(x.dims.clone(), x.as_i64().iter().map(|&v| (v == 0) as i64).collect())
            }
            "Transpose" => {
                let x = c(0)?;
                let r = x.dims.len();
                let perm: Vec<usize> = match attr_ints(n, "perm") {
                    Some(p) => p.iter().map(|&a| norm_axis(a, r)).collect::<std::result::Result<_, _>>()?,
                    None => (0..r).rev().collect(),
                };
                consts::transpose(x, &perm)?
            }
            "Range" => {
                let (s, l, d) = (c(0)?.as_i64()[0], c(1)?.as_i64()[0], c(2)?.as_i64()[0]);
                if d == 0 {
                    return Err("Range with delta 0".into());
                }
                let v: Vec<i64> = std::iter::successors(Some(s), |&x| Some(x + d))
                    .take_while(|&x| if d > 0 { x < l } else { x > l })
                    .collect();
                Const::i64(vec![v.len()], v)
            }
            "Sqrt" | "Neg" | "Floor" | "Ceil" | "Reciprocal" | "Relu" | "Abs" => {
                let x = c(0)?;
                let v = x.as_f32()?;
                let f = |p: f32| match op {
                    "Sqrt" => p.sqrt(),
                    "Neg" => -p,
                    "Floor" => p.floor(),
                    "Ceil" => p.ceil(),
                    "Reciprocal" => 1.0 / p,
                    "Relu" => p.max(0.0),
                    _ => p.abs(),
                };
                let out: Vec<f32> = v.into_iter().map(f).collect();
                if x.is_float() {
                    Const::f32(x.dims.clone(), out)
                } else {
                    Const::i64(x.dims.clone(), out.iter().map(|&p| p as i64).collect())
                }
            }
            _ => return Ok(None),
        }))
    }
}

/// `[top, left, bottom, right]` pads of a 2-D window op, honouring `auto_pad`.
fn window_pads(
    n: &pb::NodeProto,
    hw: [usize; 2],
    k: [usize; 2],
    stride: [usize; 2],
    dil: [usize; 2],
) -> Result<[usize; 4]> {
    let auto = attr_s(n, "auto_pad").unwrap_or_else(|| "NOTSET".into());
    match auto.as_str() {
        "NOTSET" => {
            let p = attr_ints(n, "pads").unwrap_or(vec![0; 4]);
            if p.len() != 4 || p.iter().any(|&v| v < 0) {
                return fail(format!("pads {p:?}: expected four non-negative values [top, left, bottom, right]"));
            }
            Ok([p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize])
        }
        "VALID" => Ok([0; 4]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut pads = [0; 4];
            for d in 0..2 {
                let out = hw[d].div_ceil(stride[d]);
                let span = dil[d] * (k[d] - 1) + 1;
                let total = ((out - 1) * stride[d] + span).saturating_sub(hw[d]);
                let (small, big) = (total / 2, total - total / 2);
                if auto == "SAME_UPPER" {
                    pads[d] = small;
                    pads[d + 2] = big;
                } else {
                    pads[d] = big;
                    pads[d + 2] = small;
                }
            }
            Ok(pads)
        }
        other => fail(format!("auto_pad `{other}` is not supported")),
    }
}

fn pair(n: &pb::NodeProto, name: &str, default: usize) -> Result<[usize; 2]> {
    match attr_ints(n, name) {
        None => Ok([default; 2]),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x > 0) => Ok([v[0] as usize, v[1] as usize]),
        Some(v) => fail(format!("{name} {v:?}: expected two positive values (2-D ops only)")),
    }
}

impl Importer<'_> {
    fn graph_in(&self, ins: &[Option<Value>], i: usize) -> Result<TensorId> {
        match input(ins, i) {
            Some(Value::Graph(t)) => Ok(*t),
            Some(Value::Const(_)) => fail(format!("input {i} is a constant; a graph tensor is expected there")),
            None => fail(format!("input {i} is missing")),
        }
    }

    fn const_in<'v>(&self, ins: &'v [Option<Value>], i: usize, what: &str) -> Result<&'v Const> {
        match input(ins, i) {
            Some(Value::Const(c)) => Ok(c),
            Some(Value::Graph(_)) => {
                fail(format!("{what} (input {i}) must be a constant (an initializer), not computed at run time"))
            }
            None => fail(format!("{what} (input {i}) is missing")),
        }
    }

    fn f32s(&self, c: &Const) -> Result<Vec<f32>> {
        c.as_f32().or_else(fail)
    }

    /// Maps a node with at least one graph-tensor input onto graph nodes.
    fn map(&mut self, n: &pb::NodeProto, op: &str, ins: &[Option<Value>]) -> Result<Mapped> {
        let name = n.output.first().cloned().unwrap_or_default();
        let x0 = match input(ins, 0) {
            Some(Value::Graph(t)) => Some(*t),
            _ => None,
        };
        let x = || x0.ok_or_else(|| Error::arg("onnx-map", "input 0 must be a graph tensor"));
        let act = |b: &mut GraphBuilder, a: Activation| -> Result<Mapped> {
            Ok(Mapped::Tensor(b.activation(&name, x()?, a)?))
        };
        match op {
            "Identity" | "Dropout" => Ok(Mapped::Alias(x()?)),
            "Cast" => match attr_i(n, "to", 1) {
                1 => Ok(Mapped::Alias(x()?)),
                t => fail(format!("Cast of a feature map to type {t}; only float is supported")),
            },
            "Relu" => act(&mut self.b, Activation::Relu),
            "Sigmoid" => act(&mut self.b, Activation::Sigmoid),
            "Tanh" => act(&mut self.b, Activation::Tanh),
            "HardSwish" => act(&mut self.b, Activation::HardSwish),
            "LeakyRelu" => act(&mut self.b, Activation::LeakyRelu(attr_f(n, "alpha", 0.01))),
            "HardSigmoid" => act(&mut self.b, Activation::HardSigmoid(attr_f(n, "alpha", 0.2), attr_f(n, "beta", 0.5))),
            "Erf" => act(&mut self.b, Activation::Erf),
            "Gelu" => match attr_s(n, "approximate").as_deref() {
                Some("tanh") => act(&mut self.b, Activation::GeluTanh),
                _ => act(&mut self.b, Activation::Gelu),
            },
            "Clip" => {
                let (lo, hi) = if self.opset < 11 {
                    (attr_f(n, "min", f32::MIN), attr_f(n, "max", f32::MAX))
                } else {
                    let lo = match get_const(ins, 1) {
                        Some(c) => self.f32s(c)?[0],
                        None if input(ins, 1).is_none() => f32::MIN,
                        None => return fail("min must be a constant"),
                    };
                    let hi = match get_const(ins, 2) {
                        Some(c) => self.f32s(c)?[0],
                        None if input(ins, 2).is_none() => f32::MAX,
                        None => return fail("max must be a constant"),
                    };
                    (lo, hi)
                };
                act(&mut self.b, Activation::Clip(lo, hi))
            }
            "Conv" => self.conv(n, ins),
            "BatchNormalization" => {
                let eps = attr_f(n, "epsilon", 1e-5);
                let p: Vec<Tensor> = (1..5)
                    .map(|i| self.const_in(ins, i, "batch-norm parameter").and_then(|c| self.upload(c)))
                    .collect::<Result<_>>()?;
                let [scale, bias, mean, var] = <[Tensor; 4]>::try_from(p).expect("four parameters");
                Ok(Mapped::Tensor(self.b.batch_norm(&name, x()?, scale, bias, mean, var, eps)?))
            }
            "MaxPool" | "AveragePool" => {
                let xi = x()?;
                let s = self.b.item_shape(xi).to_vec();
                let &[_, h, w] = &s[..] else {
                    return fail(format!("2-D pooling needs an [N, C, H, W] input, got [N, {s:?}]"));
                };
                let k = pair(n, "kernel_shape", 0)?;
                let stride = pair(n, "strides", 1)?;
                let dil = pair(n, "dilations", 1)?;
                let cfg = Pool2d {
                    kernel: k,
                    stride,
                    padding: window_pads(n, [h, w], k, stride, dil)?,
                    dilation: dil,
                    ceil_mode: attr_i(n, "ceil_mode", 0) != 0,
                    count_include_pad: attr_i(n, "count_include_pad", 0) != 0,
                };
                Ok(Mapped::Tensor(if op == "MaxPool" {
                    self.b.max_pool2d(&name, xi, cfg)?
                } else {
                    self.b.avg_pool2d(&name, xi, cfg)?
                }))
            }
            "GlobalAveragePool" => Ok(Mapped::Tensor(self.b.global_avg_pool2d(&name, x()?)?)),
            "GlobalMaxPool" => Ok(Mapped::Tensor(self.b.global_max_pool2d(&name, x()?)?)),
            "ReduceMean" | "ReduceSum" | "ReduceMax" => {
                let xi = x()?;
                let rank = self.b.item_shape(xi).len() + 1;
                // Axes moved from an attribute to an input in opset 13 (ReduceSum) and 18 (the rest).
                let axes_as_input = if op == "ReduceSum" { self.opset >= 13 } else { self.opset >= 18 };
                let axes = if axes_as_input { get_const(ins, 1).map(|a| a.as_i64()) } else { attr_ints(n, "axes") };
                let mut axes: Vec<usize> = match axes.filter(|a| !a.is_empty()) {
                    Some(a) => {
                        a.iter().map(|&a| norm_axis(a, rank)).collect::<std::result::Result<_, _>>().or_else(fail)?
                    }
                    None if attr_i(n, "noop_with_empty_axes", 0) != 0 => return Ok(Mapped::Alias(xi)),
                    None => (0..rank).collect(),
                };
                axes.sort();
                let keep = attr_i(n, "keepdims", 1) != 0;
                if axes.contains(&0) {
                    return fail(format!("{op} over the batch axis is not supported"));
                }
                if op != "ReduceMean" || rank != 4 || axes != [2, 3] {
                    let rop = match op {
                        "ReduceMean" => ReduceOp::Mean,
                        "ReduceSum" => ReduceOp::Sum,
                        _ => ReduceOp::Max,
                    };
                    return Ok(Mapped::Tensor(self.b.push(
                        &name,
                        Op::Reduce { axes, keepdims: keep, op: rop },
                        &[xi],
                    )?));
                }
                if keep {
                    Ok(Mapped::Tensor(self.b.global_avg_pool2d(&name, xi)?))
                } else {
                    let g = self.b.global_avg_pool2d(&format!("{name}::pooled"), xi)?;
                    let c = self.b.item_shape(g)[0];
                    Ok(Mapped::Tensor(self.b.push(&name, Op::Reshape { shape: vec![c] }, &[g])?))
                }
            }
            "Gemm" | "MatMul" => self.gemm(n, op, ins),
            "Add" | "Sub" | "Mul" | "Div" => {
                let bop = match op {
                    "Add" => BinaryOp::Add,
                    "Sub" => BinaryOp::Sub,
                    "Mul" => BinaryOp::Mul,
                    _ => BinaryOp::Div,
                };
                match (input(ins, 0), input(ins, 1)) {
                    (Some(Value::Graph(a)), Some(Value::Graph(b))) => {
                        Ok(Mapped::Tensor(self.b.binary(&name, *a, *b, bop)?))
                    }
                    (Some(Value::Graph(a)), Some(Value::Const(c))) => {
                        let value = self.upload(c)?;
                        Ok(Mapped::Tensor(self.b.push(
                            &name,
                            Op::BinaryConst { op: bop, value, value_first: false },
                            &[*a],
                        )?))
                    }
                    (Some(Value::Const(c)), Some(Value::Graph(b))) => {
                        let value = self.upload(c)?;
                        Ok(Mapped::Tensor(self.b.push(
                            &name,
                            Op::BinaryConst { op: bop, value, value_first: true },
                            &[*b],
                        )?))
                    }
                    _ => fail("needs two inputs"),
                }
            }
            "Sum" => {
                let ts: Vec<TensorId> = (0..ins.len()).map(|i| self.graph_in(ins, i)).collect::<Result<_>>()?;
                let mut acc = *ts.first().ok_or_else(|| Error::arg("onnx-map", "Sum of nothing"))?;
                for (i, t) in ts.iter().enumerate().skip(1) {
                    let nm = if i + 1 == ts.len() { name.clone() } else { format!("{name}::partial{i}") };
                    acc = self.b.add(&nm, acc, *t)?;
                }
                if ts.len() == 1 {
                    Ok(Mapped::Alias(acc))
                } else {
                    Ok(Mapped::Tensor(acc))
                }
            }
            "Concat" => {
                let ts: Vec<TensorId> = (0..ins.len()).map(|i| self.graph_in(ins, i)).collect::<Result<_>>()?;
                let rank = self.b.item_shape(ts[0]).len() + 1;
                let axis = norm_axis(attr_i(n, "axis", 1), rank).or_else(fail)?;
                if axis == 0 {
                    return fail("concatenation along the batch axis is not supported");
                }
                Ok(Mapped::Tensor(self.b.concat(&name, &ts, axis)?))
            }
            "Flatten" => {
                let xi = x()?;
                let item = self.b.item_shape(xi).to_vec();
                let axis = norm_axis(attr_i(n, "axis", 1), item.len() + 1).or_else(fail)?;
                match axis {
                    0 => fail("Flatten with axis 0 merges the batch; not supported"),
                    1 => Ok(Mapped::Tensor(self.b.flatten(&name, xi)?)),
                    a => {
                        let shape = vec![item[..a - 1].iter().product(), item[a - 1..].iter().product()];
                        Ok(Mapped::Tensor(self.b.push(&name, Op::Reshape { shape }, &[xi])?))
                    }
                }
            }
            "Reshape" => {
                let xi = x()?;
                let target = self.const_in(ins, 1, "the target shape")?.as_i64();
                let item = self.b.item_shape(xi).to_vec();
                let first_is_batch = match target.first() {
                    Some(&BATCH) | Some(&0) => true,
                    Some(&v) => self.declared_batch == Some(v as usize) && v == 1,
                    None => false,
                };
                if !first_is_batch {
                    return fail(format!("Reshape to {target:?} does not keep the batch as the first dimension"));
                }
                let numel: usize = item.iter().product();
                let mut shape = Vec::new();
                let mut infer = None;
                for (i, &d) in target.iter().enumerate().skip(1) {
                    match d {
                        0 if attr_i(n, "allowzero", 0) == 0 => shape.push(
                            *item.get(i - 1).ok_or_else(|| Error::arg("onnx-map", "0 refers past the input's rank"))?,
                        ),
                        -1 => {
                            infer = Some(shape.len());
                            shape.push(1);
                        }
                        d if d > 0 => shape.push(d as usize),
                        d => return fail(format!("target dimension {d} is not supported (batch-dependent?)")),
                    }
                }
                if let Some(i) = infer {
                    let known: usize = shape.iter().product();
                    shape[i] = numel / known.max(1);
                }
                Ok(Mapped::Tensor(self.b.push(&name, Op::Reshape { shape }, &[xi])?))
            }
            "Squeeze" | "Unsqueeze" => {
                let xi = x()?;
                let item = self.b.item_shape(xi).to_vec();
                let axes = if self.opset >= 13 { get_const(ins, 1).map(|a| a.as_i64()) } else { attr_ints(n, "axes") };
                let mut full = vec![1usize];
                full.extend_from_slice(&item);
                let shape: Vec<usize> = if op == "Unsqueeze" {
                    let axes = axes.ok_or_else(|| Error::arg("onnx-map", "Unsqueeze needs axes"))?;
                    let r = full.len() + axes.len();
                    let mut ax: Vec<usize> =
                        axes.iter().map(|&a| norm_axis(a, r)).collect::<std::result::Result<_, _>>().or_else(fail)?;
                    ax.sort();
                    for &a in &ax {
                        if a == 0 {
                            return fail("a new leading axis would move the batch");
                        }
                        full.insert(a, 1);
                    }
                    full[1..].to_vec()
                } else {
                    let r = full.len();
                    let ax: Vec<usize> = match axes {
                        Some(a) => {
                            a.iter().map(|&a| norm_axis(a, r)).collect::<std::result::Result<_, _>>().or_else(fail)?
                        }
                        None => (1..r).filter(|&i| full[i] == 1).collect(),
                    };
                    if ax.contains(&0) {
                        return fail("squeezing the batch axis is not supported");
                    }
                    full.iter().enumerate().skip(1).filter(|(i, _)| !ax.contains(i)).map(|(_, &d)| d).collect()
                };
                Ok(Mapped::Tensor(self.b.push(&name, Op::Reshape { shape }, &[xi])?))
            }
            "Transpose" => {
                let xi = x()?;
                let rank = self.b.item_shape(xi).len() + 1;
                let perm: Vec<usize> = match attr_ints(n, "perm") {
                    Some(p) => {
                        p.iter().map(|&a| norm_axis(a, rank)).collect::<std::result::Result<_, _>>().or_else(fail)?
                    }
                    None => (0..rank).rev().collect(),
                };
                Ok(Mapped::Tensor(self.b.push(&name, Op::Transpose { perm }, &[xi])?))
            }
            "Softmax" | "LogSoftmax" => {
                let xi = x()?;
                let rank = self.b.item_shape(xi).len() + 1;
                let default = if self.opset >= 13 { -1 } else { 1 };
                let axis = norm_axis(attr_i(n, "axis", default), rank).or_else(fail)?;
                if self.opset < 13 && axis != rank - 1 {
                    return fail("opset < 13 softmax over several trailing axes is not supported");
                }
                let o = if op == "Softmax" { Op::Softmax { axis } } else { Op::LogSoftmax { axis } };
                Ok(Mapped::Tensor(self.b.push(&name, o, &[xi])?))
            }
            "LRN" => {
                let cfg = Lrn {
                    size: attr_i(n, "size", 1).max(1) as usize,
                    alpha: attr_f(n, "alpha", 1e-4),
                    beta: attr_f(n, "beta", 0.75),
                    k: attr_f(n, "bias", 1.0),
                };
                Ok(Mapped::Tensor(self.b.push(&name, Op::Lrn(cfg), &[x()?])?))
            }
            "Pad" => {
                let xi = x()?;
                let mode = attr_s(n, "mode").unwrap_or_else(|| "constant".into());
                let (pads, value) = if self.opset >= 11 {
                    let p = self.const_in(ins, 1, "pads")?.as_i64();
                    let v = match get_const(ins, 2) {
                        Some(c) => self.f32s(c)?.first().copied().unwrap_or(0.0),
                        None => 0.0,
                    };
                    if ins.len() > 3 && ins[3].is_some() {
                        return fail("Pad with an `axes` input is not supported");
                    }
                    (p, v)
                } else {
                    (attr_ints(n, "pads").unwrap_or_default(), attr_f(n, "value", 0.0))
                };
                if pads.iter().any(|&p| p < 0) {
                    return fail(format!("negative pads {pads:?} (cropping) are not supported"));
                }
                let mode = match mode.as_str() {
                    "constant" => PadMode::Constant(value),
                    "reflect" => PadMode::Reflect,
                    "edge" => PadMode::Edge,
                    m => return fail(format!("pad mode `{m}` is not supported")),
                };
                let pads = pads.iter().map(|&p| p as usize).collect();
                Ok(Mapped::Tensor(self.b.push(&name, Op::Pad { pads, mode }, &[xi])?))
            }
            "Resize" | "Upsample" => self.resize(n, op, ins),
            "Slice" => {
                let xi = x()?;
                let item = self.b.item_shape(xi).to_vec();
                let rank = item.len() + 1;
                let (starts, ends, axes, steps) = if self.opset >= 10 {
                    let st = self.const_in(ins, 1, "starts")?.as_i64();
                    let en = self.const_in(ins, 2, "ends")?.as_i64();
                    let ax = get_const(ins, 3).map(|a| a.as_i64());
                    let sp = get_const(ins, 4).map(|a| a.as_i64());
                    (st, en, ax, sp)
                } else {
                    (
                        attr_ints(n, "starts").unwrap_or_default(),
                        attr_ints(n, "ends").unwrap_or_default(),
                        attr_ints(n, "axes"),
                        None,
                    )
                };
                let axes: Vec<usize> = match axes {
                    Some(a) => {
                        a.iter().map(|&a| norm_axis(a, rank)).collect::<std::result::Result<_, _>>().or_else(fail)?
                    }
                    None => (0..starts.len()).collect(),
                };
                let steps = steps.unwrap_or(vec![1; axes.len()]);
                let mut cur = xi;
                let mut cuts = Vec::new();
                for (k, &ax) in axes.iter().enumerate() {
                    let dim = if ax == 0 { usize::MAX } else { item[ax - 1] } as i64;
                    if steps[k] <= 0 {
                        return fail(format!("slice step {} (only positive steps are supported)", steps[k]));
                    }
                    let norm = |v: i64| if v < 0 { (v + dim).max(0) } else { v.min(dim) };
                    let (st, en) = (norm(starts[k]), norm(ends[k]));
                    if ax == 0 {
                        if st == 0 && (ends[k] >= i32::MAX as i64 || ends[k] == BATCH) {
                            continue; // the whole batch
                        }
                        return fail("slicing the batch axis is not supported");
                    }
                    if st == 0 && en >= dim && steps[k] == 1 {
                        continue; // whole axis
                    }
                    cuts.push((ax, st as usize, en.max(st) as usize, steps[k] as usize));
                }
                if cuts.is_empty() {
                    return Ok(Mapped::Alias(xi));
                }
                let last = cuts.len() - 1;
                for (i, (axis, start, end, step)) in cuts.into_iter().enumerate() {
                    let nm = if i == last { name.clone() } else { format!("{name}::axis{axis}") };
                    cur = self.b.push(&nm, Op::Slice { axis, start, end, step }, &[cur])?;
                }
                Ok(Mapped::Tensor(cur))
            }
            "Split" => {
                let xi = x()?;
                let item = self.b.item_shape(xi).to_vec();
                let axis = norm_axis(attr_i(n, "axis", 0), item.len() + 1).or_else(fail)?;
                if axis == 0 {
                    return fail("splitting the batch axis is not supported");
                }
                let dim = item[axis - 1];
                let outs = n.output.len();
                let sizes: Vec<usize> = match if self.opset >= 13 {
                    get_const(ins, 1).map(|c| c.as_i64())
                } else {
                    attr_ints(n, "split")
                } {
                    Some(v) => v.iter().map(|&x| x.max(0) as usize).collect(),
                    None => {
                        let per = dim.div_ceil(outs.max(1));
                        (0..outs).map(|i| per.min(dim.saturating_sub(i * per))).collect()
                    }
                };
                if sizes.len() != outs || sizes.iter().sum::<usize>() != dim {
                    return fail(format!("split sizes {sizes:?} do not cut {dim} into {outs} outputs"));
                }
                let mut ts = Vec::with_capacity(outs);
                let mut at = 0;
                for (o, &sz) in n.output.iter().zip(&sizes) {
                    ts.push(self.b.push(o, Op::Slice { axis, start: at, end: at + sz, step: 1 }, &[xi])?);
                    at += sz;
                }
                Ok(Mapped::Many(ts))
            }
            "ConvTranspose" => {
                let xi = x()?;
                let w = self.const_in(ins, 1, "the weights")?;
                if w.dims.len() != 4 {
                    return fail(format!("weights {:?}: only 2-D transposed convolutions are supported", w.dims));
                }
                if attr(n, "output_shape").is_some() || attr_s(n, "auto_pad").is_some_and(|a| a != "NOTSET") {
                    return fail("output_shape and auto_pad are not supported; give pads and output_padding");
                }
                let p = attr_ints(n, "pads").unwrap_or(vec![0; 4]);
                if p.len() != 4 || p.iter().any(|&v| v < 0) {
                    return fail(format!("pads {p:?}: expected four non-negative values"));
                }
                let cfg = ConvTranspose2d {
                    stride: pair(n, "strides", 1)?,
                    padding: [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize],
                    output_padding: match attr_ints(n, "output_padding") {
                        Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 0) => [v[0] as usize, v[1] as usize],
                        None => [0, 0],
                        Some(v) => return fail(format!("output_padding {v:?}")),
                    },
                    dilation: pair(n, "dilations", 1)?,
                    groups: attr_i(n, "group", 1).max(1) as usize,
                };
                let weight = self.upload(w)?;
                let bias = get_const(ins, 2).map(|c| self.upload(c)).transpose()?;
                Ok(Mapped::Tensor(self.b.push(&name, Op::ConvTranspose2d { weight, bias, cfg }, &[xi])?))
            }
            "PRelu" => {
                let slope = self.upload(self.const_in(ins, 1, "the slope")?)?;
                Ok(Mapped::Tensor(self.b.push(&name, Op::PRelu { slope }, &[x()?])?))
            }
            "LayerNormalization" => {
                let xi = x()?;
                let rank = self.b.item_shape(xi).len() + 1;
                let axis = norm_axis(attr_i(n, "axis", -1), rank).or_else(fail)?;
                let scale = self.upload(self.const_in(ins, 1, "the scale")?)?;
                let bias = get_const(ins, 2).map(|c| self.upload(c)).transpose()?;
                let eps = attr_f(n, "epsilon", 1e-5);
                Ok(Mapped::Tensor(self.b.push(&name, Op::LayerNorm { axis, scale, bias, eps }, &[xi])?))
            }
            other => fail(format!("op `{other}` is not supported")),
        }
    }

    fn conv(&mut self, n: &pb::NodeProto, ins: &[Option<Value>]) -> Result<Mapped> {
        let name = n.output.first().cloned().unwrap_or_default();
        let xi = self.graph_in(ins, 0)?;
        let w = self.const_in(ins, 1, "the weights")?;
        let &[_, _, kh, kw] = &w.dims[..] else {
            return fail(format!("weights {:?}: only 2-D convolutions are supported", w.dims));
        };
        let item = self.b.item_shape(xi).to_vec();
        let &[_, h, wd] = &item[..] else { return fail(format!("input [N, {item:?}] is not NCHW")) };
        let stride = pair(n, "strides", 1)?;
        let dil = pair(n, "dilations", 1)?;
        let cfg = Conv2d {
            stride,
            padding: window_pads(n, [h, wd], [kh, kw], stride, dil)?,
            dilation: dil,
            groups: attr_i(n, "group", 1).max(1) as usize,
            activation: Activation::None,
        };
        let mut wv = self.f32s(w)?;
        let mut bias = match get_const(ins, 2) {
            Some(c) => Some(self.f32s(c)?),
            None if input(ins, 2).is_some() => return fail("the bias must be a constant"),
            None => None,
        };
        // Fold a batch norm that is this conv's only reader.
        let mut out_name = name.clone();
        if self.readers.get(&name) == Some(&1) && !self.graph_outputs.contains(&name) {
            let j = self.sole_reader[&name];
            let bn = &self.nodes[j];
            let params: Option<Vec<Rc<Const>>> = (1..5)
                .map(|i| {
                    bn.input.get(i).and_then(|s| match self.values.get(s) {
                        Some(Value::Const(c)) => Some(c.clone()),
                        _ => None,
                    })
                })
                .collect();
            if bn.op_type.as_deref() == Some("BatchNormalization") && bn.input.first() == Some(&name) {
                if let Some(p) = params {
                    let v: Vec<Vec<f32>> = p.iter().map(|c| self.f32s(c)).collect::<Result<_>>()?;
                    let dims = [w.dims[0], w.dims[1], kh, kw];
                    let (fw, fb) = ops::fold_batch_norm(
                        &wv,
                        dims,
                        bias.as_deref(),
                        &v[0],
                        &v[1],
                        &v[2],
                        &v[3],
                        attr_f(bn, "epsilon", 1e-5),
                    )?;
                    wv = fw;
                    bias = Some(fb);
                    out_name = bn.output[0].clone();
                    self.skip.push(j);
                    self.folded.push((name.clone(), out_name.clone()));
                }
            }
        }
        let weight = Tensor::from_f32(self.gpu, w.dims.clone(), &wv)?;
        let bias = bias.map(|b| Tensor::from_f32(self.gpu, [b.len()], &b)).transpose()?;
        let t = self.b.conv2d(&out_name, xi, weight, bias, cfg)?;
        if out_name != name {
            // Folded: the batch norm's output names the result; the conv's own output is gone.
            self.values.insert(out_name, Value::Graph(t));
            return Ok(Mapped::Many(vec![]));
        }
        Ok(Mapped::Tensor(t))
    }

    /// Gemm and MatMul with a constant right-hand side, as a linear layer.
    fn gemm(&mut self, n: &pb::NodeProto, op: &str, ins: &[Option<Value>]) -> Result<Mapped> {
        let name = n.output.first().cloned().unwrap_or_default();
        let xi = self.graph_in(ins, 0)?;
        let &[k] = self.b.item_shape(xi) else {
            return fail(format!("{op} needs a [N, K] input, got [N, {:?}]", self.b.item_shape(xi)));
        };
        let bc = self.const_in(ins, 1, "the right-hand matrix")?;
        let &[r, c] = &bc.dims[..] else { return fail(format!("right-hand matrix {:?} is not 2-D", bc.dims)) };
        let (alpha, beta, trans_a, trans_b) = if op == "Gemm" {
            (attr_f(n, "alpha", 1.0), attr_f(n, "beta", 1.0), attr_i(n, "transA", 0) != 0, attr_i(n, "transB", 0) != 0)
        } else {
            (1.0, 0.0, false, false)
        };
        if trans_a {
            return fail("transA = 1 with a feature-map input is not supported");
        }
        let b = self.f32s(bc)?;
        // Linear weights are [M, K].
        let (m, kk) = if trans_b { (r, c) } else { (c, r) };
        if kk != k {
            return fail(format!("input has {k} features, the matrix {:?} expects {kk}", bc.dims));
        }
        let mut w = vec![0.0f32; m * k];
        for i in 0..m {
            for j in 0..k {
                w[i * k + j] = alpha * if trans_b { b[i * k + j] } else { b[j * m + i] };
            }
        }
        // The bias stays on the host until it is known whether the layer is split.
        let bias: Option<Vec<f32>> = match get_const(ins, 2) {
            Some(cc) if beta != 0.0 => {
                let v = self.f32s(cc)?;
                Some(match (v.len(), &cc.dims[..]) {
                    (1, _) => vec![v[0] * beta; m],
                    (len, _) if len == m => v.iter().map(|x| x * beta).collect(),
                    _ => return fail(format!("C {:?} must broadcast as a row of {m} values", cc.dims)),
                })
            }
            Some(_) | None => None,
        };
        // Weights larger than one storage binding are split by rows into several linear layers
        // whose outputs are concatenated.
        let limits = self.gpu.limits();
        let limit = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size) as usize;
        let rows_per = (limit / (4 * k)).max(1);
        if m <= rows_per {
            let weight = Tensor::from_f32(self.gpu, [m, k], &w)?;
            let bias = bias.map(|b| Tensor::from_f32(self.gpu, [m], &b)).transpose()?;
            return Ok(Mapped::Tensor(self.b.linear(&name, xi, weight, bias)?));
        }
        let mut parts = Vec::new();
        for (i, r0) in (0..m).step_by(rows_per).enumerate() {
            let r1 = (r0 + rows_per).min(m);
            let wt = Tensor::from_f32(self.gpu, [r1 - r0, k], &w[r0 * k..r1 * k])?;
            let bt = bias.as_ref().map(|b| Tensor::from_f32(self.gpu, [r1 - r0], &b[r0..r1])).transpose()?;
            parts.push(self.b.linear(&format!("{name}::rows{i}"), xi, wt, bt)?);
        }
        Ok(Mapped::Tensor(self.b.concat(&name, &parts, 1)?))
    }

    fn resize(&mut self, n: &pb::NodeProto, op: &str, ins: &[Option<Value>]) -> Result<Mapped> {
        let name = n.output.first().cloned().unwrap_or_default();
        let xi = self.graph_in(ins, 0)?;
        let item = self.b.item_shape(xi).to_vec();
        let &[_, h, w] = &item[..] else { return fail(format!("resize of [N, {item:?}]: only NCHW is supported")) };
        let mode = attr_s(n, "mode").unwrap_or_else(|| "nearest".into());
        // Output size from `sizes` (input 3) or `scales` (input 2; input 1 for Upsample and opset 10).
        let (scales_i, sizes_i) = if op == "Upsample" || self.opset < 11 { (1, usize::MAX) } else { (2, 3) };
        let size = if let Some(s) = get_const(ins, sizes_i).filter(|c| c.len() > 0) {
            let v = s.as_i64();
            [v[v.len() - 2] as usize, v[v.len() - 1] as usize]
        } else if let Some(s) = get_const(ins, scales_i).filter(|c| c.len() > 0) {
            let v = self.f32s(s)?;
            [(h as f32 * v[v.len() - 2]).floor() as usize, (w as f32 * v[v.len() - 1]).floor() as usize]
        } else if let Some(v) = attr(n, "scales").map(|a| a.floats.clone()) {
            [(h as f32 * v[v.len() - 2]).floor() as usize, (w as f32 * v[v.len() - 1]).floor() as usize]
        } else {
            return fail("needs constant `scales` or `sizes`");
        };
        let coords = attr_s(n, "coordinate_transformation_mode").unwrap_or_else(|| {
            if self.opset >= 11 {
                "half_pixel".into()
            } else {
                "asymmetric".into()
            }
        });
        match mode.as_str() {
            "linear" | "bilinear" => {
                let cm = match coords.as_str() {
                    "half_pixel" | "pytorch_half_pixel" => CoordMode::HalfPixel,
                    "align_corners" => CoordMode::AlignCorners,
                    c => return fail(format!("linear resize with coordinate mode `{c}` is not supported")),
                };
                if coords == "pytorch_half_pixel" && (size[0] == 1 || size[1] == 1) {
                    return fail("pytorch_half_pixel to an output of size 1 is not supported");
                }
                Ok(Mapped::Tensor(self.b.push(&name, Op::ResizeBilinear { size, mode: cm }, &[xi])?))
            }
            "nearest" => {
                let nc = match coords.as_str() {
                    "asymmetric" => NearestCoords::Asymmetric,
                    "half_pixel" | "pytorch_half_pixel" => NearestCoords::HalfPixel,
                    "align_corners" => NearestCoords::AlignCorners,
                    c => return fail(format!("nearest resize with coordinate mode `{c}` is not supported")),
                };
                let default_mode = if op == "Upsample" || self.opset < 11 { "floor" } else { "round_prefer_floor" };
                let nm = match attr_s(n, "nearest_mode").as_deref().unwrap_or(default_mode) {
                    "floor" => NearestMode::Floor,
                    "ceil" => NearestMode::Ceil,
                    "round_prefer_ceil" => NearestMode::RoundPreferCeil,
                    _ => NearestMode::RoundPreferFloor,
                };
                Ok(Mapped::Tensor(self.b.push(&name, Op::ResizeNearest { size, coords: nc, mode: nm }, &[xi])?))
            }
            m => fail(format!("resize mode `{m}` is not supported")),
        }
    }
}
