//! `featuremap inspect MODEL`: one row per node.

use std::path::PathBuf;

use featuremap::graph::{Graph, Op};
use featuremap::{Gpu, Result};

#[derive(clap::Args)]
pub struct Args {
    #[arg(help = crate::model::MODEL_HELP)]
    model: PathBuf,
    /// Print JSON (one object per node) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Receptive field (in input pixels) and stride (jump) of every tensor, and whether the tensor
/// sees the whole input (after global pooling).
fn receptive_fields(g: &Graph) -> Vec<(usize, usize, bool)> {
    let mut rf = vec![(1usize, 1usize, false); g.tensor_count()];
    let input_hw = g.item_shape(g.input()).iter().skip(1).copied().max().unwrap_or(1);
    for n in g.nodes().iter().skip(1) {
        let ins: Vec<(usize, usize, bool)> = n.inputs.iter().map(|t| rf[t.index()]).collect();
        let (r, j, global) = ins.iter().fold((1, 1, false), |a, b| (a.0.max(b.0), a.1.max(b.1), a.2 || b.2));
        let window = |k: usize, s: usize, d: usize| (r + (d * (k - 1)) * j, j * s, global);
        rf[n.output.index()] = match &n.op {
            Op::Conv2d { weight, cfg, .. } => {
                window(weight.dims()[2].max(weight.dims()[3]), cfg.stride[0], cfg.dilation[0])
            }
            Op::MaxPool2d(c) | Op::AvgPool2d(c) => window(c.kernel[0].max(c.kernel[1]), c.stride[0], c.dilation[0]),
            Op::GlobalAvgPool2d | Op::GlobalMaxPool2d | Op::Reduce { .. } => (input_hw, j, true),
            Op::ConvTranspose2d { weight, cfg, .. } => {
                (r + (weight.dims()[2] - 1) * j, (j / cfg.stride[0]).max(1), global)
            }
            _ => (r, j, global),
        };
    }
    rf
}

/// FLOPs of node `i` for one image (a multiply-add counts 2), as the table shows them.
pub fn flops(g: &Graph, i: usize) -> u64 {
    let n = &g.nodes()[i];
    let out: usize = g.item_shape(n.output).iter().product();
    match &n.op {
        Op::Input | Op::Flatten | Op::Reshape { .. } => 0,
        Op::Conv2d { weight, .. } => {
            let d = weight.dims();
            2 * (out * d[1] * d[2] * d[3]) as u64
        }
        Op::ConvTranspose2d { weight, .. } => {
            let d = weight.dims();
            let inp: usize = g.item_shape(n.inputs[0]).iter().product();
            2 * (inp * d[1] * d[2] * d[3]) as u64
        }
        Op::Linear { weight, .. } => 2 * weight.numel() as u64,
        Op::MaxPool2d(c) | Op::AvgPool2d(c) => (out * c.kernel[0] * c.kernel[1]) as u64,
        Op::GlobalAvgPool2d | Op::GlobalMaxPool2d => g.item_shape(n.inputs[0]).iter().product::<usize>() as u64,
        _ => out as u64,
    }
}

fn human(v: u64) -> String {
    match v {
        0 => "-".into(),
        v if v >= 1_000_000_000 => format!("{:.2}G", v as f64 / 1e9),
        v if v >= 1_000_000 => format!("{:.2}M", v as f64 / 1e6),
        v if v >= 1_000 => format!("{:.1}k", v as f64 / 1e3),
        v => v.to_string(),
    }
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let m = crate::model::load(gpu, &args.model)?;
    print!("{}", table(m.graph(), args.json, &m.onnx.producer, m.onnx.opset));
    Ok(())
}

/// The per-node table as text, one line per node (JSON lines with `json`), ending in a newline;
/// shared with `demo`, which writes it to a file. `opset` 0 means the graph did not come from
/// ONNX (the embedded model) and is left out.
pub fn table(g: &Graph, json: bool, producer: &str, opset: i64) -> String {
    use std::fmt::Write;
    let rf = receptive_fields(g);
    let mut rows = Vec::new();
    let (mut total_params, mut total_flops) = (0u64, 0u64);
    for (i, n) in g.nodes().iter().enumerate() {
        let shape = g.shape(n.output, 1);
        let (r, j, global) = rf[n.output.index()];
        let p = n.op.parameters() as u64;
        let f = flops(g, i);
        total_params += p;
        total_flops += f;
        rows.push((
            n.name.clone(),
            n.op.kind(),
            shape,
            p,
            f,
            if global { "global".to_string() } else { r.to_string() },
            j,
        ));
    }
    let mut out = String::new();
    if json {
        for (name, op, shape, p, f, r, j) in &rows {
            let obj = serde_json::json!({"name": name, "op": op, "shape": shape, "parameters": p, "flops": f, "receptive_field": r, "stride": j});
            let _ = writeln!(out, "{obj}");
        }
        return out;
    }
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).clamp(4, 60);
    let _ = writeln!(
        out,
        "{:<w$}  {:<17} {:<20} {:>9} {:>9} {:>7} {:>6}",
        "name", "op", "output (batch 1)", "params", "FLOPs", "RF", "stride"
    );
    for (name, op, shape, p, f, r, j) in &rows {
        let name = if name.len() > w { format!("...{}", &name[name.len() - (w - 3)..]) } else { name.clone() };
        let _ = writeln!(
            out,
            "{name:<w$}  {op:<17} {:<20} {:>9} {:>9} {r:>7} {j:>6}",
            format!("{shape:?}"),
            human(*p),
            human(*f)
        );
    }
    let opset = if opset > 0 { format!(", opset {opset}") } else { String::new() };
    let _ = writeln!(
        out,
        "{} nodes, {} parameters, {} FLOPs per image (batch 1); producer `{producer}`{opset}",
        rows.len(),
        human(total_params),
        human(total_flops)
    );
    out
}
