//! Host-side constants of an ONNX graph and the constant folding of shape subgraphs.
//!
//! Exports from torch.onnx compute reshape targets at run time (`Shape`, `Gather`, `Unsqueeze`,
//! `Concat`, ...). The engine folds them at load: every dimension is known except the batch,
//! which travels through the folded values as the marker [`BATCH`]. A reshape whose target
//! starts with it keeps the batch; arithmetic on it is an error (the model's shapes would then
//! depend on the batch in a way a static graph cannot express).

/// Stands for the run-time batch size in folded shape values.
pub(crate) const BATCH: i64 = i64::MIN / 4;

/// Element data of a constant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

/// A host constant: dimensions and data.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Const {
    pub dims: Vec<usize>,
    pub data: Data,
}

impl Const {
    pub fn f32(dims: Vec<usize>, v: Vec<f32>) -> Const {
        Const { dims, data: Data::F32(v) }
    }
    pub fn i64(dims: Vec<usize>, v: Vec<i64>) -> Const {
        Const { dims, data: Data::I64(v) }
    }
    pub fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
        }
    }
    /// Values as f32 (integers converted; the batch marker is an error).
    pub fn as_f32(&self) -> Result<Vec<f32>, String> {
        match &self.data {
            Data::F32(v) => Ok(v.clone()),
            Data::I64(v) => v
                .iter()
                .map(
                    |&x| if x == BATCH { Err("the batch size is not known at load".to_string()) } else { Ok(x as f32) },
                )
                .collect(),
        }
    }
    /// Values as i64 (floats truncated, as Cast does).
    pub fn as_i64(&self) -> Vec<i64> {
        match &self.data {
            Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I64(v) => v.clone(),
        }
    }
    pub fn is_float(&self) -> bool {
        matches!(self.data, Data::F32(_))
    }
    fn with_data(&self, dims: Vec<usize>, pick: impl Fn(usize) -> usize, n: usize) -> Const {
        match &self.data {
            Data::F32(v) => Const::f32(dims, (0..n).map(|i| v[pick(i)]).collect()),
            Data::I64(v) => Const::i64(dims, (0..n).map(|i| v[pick(i)]).collect()),
        }
    }
}

fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// NumPy broadcasting of two shapes.
pub(crate) fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
        let db = if i + b.len() >= r { b[i + b.len() - r] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        };
    }
    Ok(out)
}

/// The output shape of a broadcast elementwise op, and per output element the indices of its
/// two operands.
type Pairs = (Vec<usize>, Vec<(usize, usize)>);

/// [`Pairs`] of `a` and `b`.
fn broadcast_pairs(a: &Const, b: &Const) -> Result<Pairs, String> {
    let dims = broadcast(&a.dims, &b.dims)?;
    let st = strides(&dims);
    let index = |c: &Const, i: usize| -> usize {
        let cs = strides(&c.dims);
        let off = dims.len() - c.dims.len();
        (0..c.dims.len()).filter(|&d| c.dims[d] != 1).map(|d| (i / st[d + off]) % dims[d + off] * cs[d]).sum()
    };
    let n: usize = dims.iter().product();
    let pairs = (0..n).map(|i| (index(a, i), index(b, i))).collect();
    Ok((dims, pairs))
}

/// Elementwise arithmetic with broadcasting (`op` is Add, Sub, Mul, Div, Pow, Min, Max).
pub(crate) fn arith(op: &str, a: &Const, b: &Const) -> Result<Const, String> {
    let (dims, pairs) = broadcast_pairs(a, b)?;
    if a.is_float() || b.is_float() {
        let (x, y) = (a.as_f32()?, b.as_f32()?);
        let f = |p: f32, q: f32| match op {
            "Add" => p + q,
            "Sub" => p - q,
            "Mul" => p * q,
            "Div" => p / q,
            "Pow" => p.powf(q),
            "Min" => p.min(q),
            _ => p.max(q),
        };
        Ok(Const::f32(dims, pairs.iter().map(|&(i, j)| f(x[i], y[j])).collect()))
    } else {
        let (x, y) = (a.as_i64(), b.as_i64());
        let mut v = Vec::with_capacity(pairs.len());
        for &(i, j) in &pairs {
            let (p, q) = (x[i], y[j]);
            if p == BATCH || q == BATCH {
                return Err(format!(
                    "{op} on the batch dimension (export with a fixed batch, or without this arithmetic)"
                ));
            }
            v.push(match op {
                "Add" => p + q,
                "Sub" => p - q,
                "Mul" => p * q,
                "Div" if q == 0 => return Err("integer division by zero".into()),
                "Div" => p.div_euclid(q),
                "Pow" => p.pow(q.clamp(0, 62) as u32),
                "Min" => p.min(q),
                _ => p.max(q),
            });
        }
        Ok(Const::i64(dims, v))
    }
}

/// Elementwise comparison with broadcasting (`op` is Equal, Greater or Less), as 0 / 1 int64.
/// The symbolic batch equals itself and is compared with nothing else.
pub(crate) fn compare(op: &str, a: &Const, b: &Const) -> Result<Const, String> {
    let (dims, pairs) = broadcast_pairs(a, b)?;
    let test = |o: std::cmp::Ordering| match op {
        "Equal" => o.is_eq(),
        "Greater" => o.is_gt(),
        _ => o.is_lt(),
    };
    let v = if a.is_float() || b.is_float() {
        let (x, y) = (a.as_f32()?, b.as_f32()?);
        // NaN compares as nothing: not equal, not greater, not less.
        pairs.iter().map(|&(i, j)| x[i].partial_cmp(&y[j]).is_some_and(test) as i64).collect()
    } else {
        let (x, y) = (a.as_i64(), b.as_i64());
        let mut v = Vec::with_capacity(pairs.len());
        for &(i, j) in &pairs {
            let (p, q) = (x[i], y[j]);
            if (p == BATCH) != (q == BATCH) {
                return Err(format!("{op} with the batch dimension (export with a fixed batch)"));
            }
            v.push(test(p.cmp(&q)) as i64);
        }
        v
    };
    Ok(Const::i64(dims, v))
}

/// `Gather` along `axis` with integer indices (negative ones count from the end).
pub(crate) fn gather(data: &Const, indices: &Const, axis: usize) -> Result<Const, String> {
    if axis >= data.dims.len() {
        return Err(format!("axis {axis} out of range for {:?}", data.dims));
    }
    let dim = data.dims[axis] as i64;
    let idx: Vec<usize> = indices
        .as_i64()
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim } else { i };
            if j < 0 || j >= dim {
                Err(format!("index {i} out of range for dimension {dim}"))
            } else {
                Ok(j as usize)
            }
        })
        .collect::<Result<_, _>>()?;
    let outer: usize = data.dims[..axis].iter().product();
    let inner: usize = data.dims[axis + 1..].iter().product();
    let mut dims = data.dims[..axis].to_vec();
    dims.extend_from_slice(&indices.dims);
    dims.extend_from_slice(&data.dims[axis + 1..]);
    let n = outer * idx.len() * inner;
    Ok(data.with_data(
        dims,
        |i| {
            let (o, rest) = (i / (idx.len() * inner), i % (idx.len() * inner));
            let (k, r) = (rest / inner, rest % inner);
            (o * data.dims[axis] + idx[k]) * inner + r
        },
        n,
    ))
}

/// `Concat` of constants along `axis`.
pub(crate) fn concat(parts: &[&Const], axis: usize) -> Result<Const, String> {
    let first = parts.first().ok_or("no inputs")?;
    if axis >= first.dims.len() {
        return Err(format!("axis {axis} out of range for {:?}", first.dims));
    }
    let outer: usize = first.dims[..axis].iter().product();
    let inner: usize = first.dims[axis + 1..].iter().product();
    let float = parts.iter().any(|p| p.is_float());
    let mut dims = first.dims.clone();
    dims[axis] = parts.iter().map(|p| p.dims[axis]).sum();
    let (mut f, mut i) = (Vec::new(), Vec::new());
    for o in 0..outer {
        for p in parts {
            if p.dims.len() != first.dims.len() {
                return Err("inputs of different ranks".into());
            }
            let block = p.dims[axis] * inner;
            if float {
                f.extend_from_slice(&p.as_f32()?[o * block..(o + 1) * block]);
            } else {
                i.extend_from_slice(&p.as_i64()[o * block..(o + 1) * block]);
            }
        }
    }
    Ok(if float { Const::f32(dims, f) } else { Const::i64(dims, i) })
}

/// `Slice` of a constant along the given axes with positive or negative steps.
pub(crate) fn slice(
    data: &Const,
    starts: &[i64],
    ends: &[i64],
    axes: &[usize],
    steps: &[i64],
) -> Result<Const, String> {
    let mut ranges: Vec<Vec<usize>> = data.dims.iter().map(|&d| (0..d).collect()).collect();
    for (k, &ax) in axes.iter().enumerate() {
        let d = data.dims[ax] as i64;
        let step = steps[k];
        if step == 0 {
            return Err("slice step 0".into());
        }
        let clamp = |v: i64, lo: i64, hi: i64| v.clamp(lo, hi);
        let norm = |v: i64| if v < 0 { v + d } else { v };
        let mut sel = Vec::new();
        if step > 0 {
            let (s, e) = (clamp(norm(starts[k]), 0, d), clamp(norm(ends[k]), 0, d));
            let mut i = s;
            while i < e {
                sel.push(i as usize);
                i += step;
            }
        } else {
            let (s, e) = (clamp(norm(starts[k]), -1, d - 1), clamp(norm(ends[k]), -1, d - 1));
            let mut i = s;
            while i > e {
                sel.push(i as usize);
                i += step;
            }
        }
        ranges[ax] = sel;
    }
    let dims: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
    let n: usize = dims.iter().product();
    let (st_out, st_in) = (strides(&dims), strides(&data.dims));
    Ok(data.with_data(
        dims.clone(),
        |i| (0..dims.len()).map(|d| ranges[d][(i / st_out[d]) % dims[d]] * st_in[d]).sum(),
        n,
    ))
}

/// `Transpose` of a constant by `perm`.
pub(crate) fn transpose(data: &Const, perm: &[usize]) -> Result<Const, String> {
    let r = data.dims.len();
    if perm.len() != r || (0..r).any(|i| !perm.contains(&i)) {
        return Err(format!("perm {perm:?} is not a permutation of {r} axes"));
    }
    let dims: Vec<usize> = perm.iter().map(|&p| data.dims[p]).collect();
    let (st_out, st_in) = (strides(&dims), strides(&data.dims));
    let n: usize = dims.iter().product();
    Ok(data.with_data(dims.clone(), |i| (0..r).map(|d| ((i / st_out[d]) % dims[d]) * st_in[perm[d]]).sum(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_do_not_subtract() {
        // i64::MAX is a common Slice end; a subtraction would overflow.
        let a = Const::i64(vec![3], vec![i64::MAX, -1, 5]);
        let b = Const::i64(vec![1], vec![i64::MIN + 1]);
        assert_eq!(compare("Greater", &a, &b).unwrap().as_i64(), vec![1, 1, 1]);
        assert_eq!(compare("Less", &b, &a).unwrap().as_i64(), vec![1, 1, 1]);
        let inf = Const::f32(vec![2], vec![f32::INFINITY, f32::NAN]);
        assert_eq!(compare("Equal", &inf, &inf).unwrap().as_i64(), vec![1, 0]);
        let batch = Const::i64(vec![1], vec![BATCH]);
        assert_eq!(compare("Equal", &batch, &batch).unwrap().as_i64(), vec![1]);
        assert!(compare("Equal", &batch, &Const::i64(vec![1], vec![1])).is_err());
    }
}
