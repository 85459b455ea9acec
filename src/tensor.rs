//! [`Tensor`]: a GPU buffer with a shape and a dtype.

use std::sync::Arc;

use crate::gpu::{Gpu, PooledBuffer};
use crate::{Error, Result};

/// Element type of a tensor's storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float: the public type of every feature map.
    F32,
    /// 16-bit float storage (needs `SHADER_F16` in kernels that use it).
    F16,
    /// 32-bit unsigned integer (argmax indices of max pooling).
    U32,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::U32 => 4,
            DType::F16 => 2,
        }
    }
}

/// A tensor shape: a list of dimensions, outermost first (NCHW for feature maps).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// Creates a shape from dimensions.
    pub fn new(dims: impl Into<Vec<usize>>) -> Shape {
        Shape(dims.into())
    }
    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
    /// The four dimensions of an NCHW feature-map stack, or an error naming `op`.
    pub fn nchw(&self, op: &'static str) -> Result<[usize; 4]> {
        match self.0[..] {
            [n, c, h, w] => Ok([n, c, h, w]),
            _ => Err(Error::shape(op, format!("expected a 4-D NCHW tensor, got {self}"))),
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Shape {
        Shape(d.to_vec())
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Shape {
        Shape(d.to_vec())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Shape {
        Shape(d)
    }
}

/// A tensor on the GPU: a pooled storage buffer, a shape and a dtype.
///
/// Cloning is cheap and shares the buffer; ops never write into their inputs, so shared
/// buffers are safe. [`Tensor::reshape`] shares the buffer too (no copy). When the last clone
/// is dropped, the buffer returns to the pool for reuse.
#[derive(Clone)]
pub struct Tensor {
    buf: Arc<PooledBuffer>,
    shape: Shape,
    dtype: DType,
}

impl Tensor {
    /// Allocates an uninitialised tensor (contents undefined until a kernel writes it).
    pub fn empty(gpu: &Gpu, shape: impl Into<Shape>, dtype: DType) -> Result<Tensor> {
        let shape = shape.into();
        let bytes = Self::check_size(gpu, &shape, dtype)?;
        let buf = gpu.pool().alloc(bytes);
        Ok(Tensor { buf: Arc::new(buf), shape, dtype })
    }

    /// Checks a byte size against the device's binding limit.
    pub(crate) fn check_size(gpu: &Gpu, shape: &Shape, dtype: DType) -> Result<u64> {
        let bytes = (shape.numel() * dtype.size()) as u64;
        let limits = gpu.limits();
        let limit = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        if bytes > limit {
            return Err(Error::TooLarge { op: "alloc", bytes, limit });
        }
        Ok(bytes)
    }

    /// A tensor over an existing pooled buffer (which must hold at least its bytes).
    pub(crate) fn from_pooled(buf: Arc<PooledBuffer>, shape: Shape, dtype: DType) -> Tensor {
        debug_assert!(buf.capacity() >= (shape.numel() * dtype.size()) as u64);
        Tensor { buf, shape, dtype }
    }

    /// The pooled buffer behind this tensor.
    pub(crate) fn pooled(&self) -> &Arc<PooledBuffer> {
        &self.buf
    }

    /// Uploads `data` as an f32 tensor of `shape`.
    pub fn from_f32(gpu: &Gpu, shape: impl Into<Shape>, data: &[f32]) -> Result<Tensor> {
        Self::from_bytes(gpu, shape.into(), DType::F32, bytemuck::cast_slice(data), data.len())
    }

    /// Uploads `data` as a u32 tensor of `shape`.
    pub fn from_u32(gpu: &Gpu, shape: impl Into<Shape>, data: &[u32]) -> Result<Tensor> {
        Self::from_bytes(gpu, shape.into(), DType::U32, bytemuck::cast_slice(data), data.len())
    }

    /// Uploads `data` (f32 on the host) into f16 storage.
    pub fn from_f32_as_f16(gpu: &Gpu, shape: impl Into<Shape>, data: &[f32]) -> Result<Tensor> {
        let h: Vec<half::f16> = data.iter().map(|&x| half::f16::from_f32(x)).collect();
        Self::from_bytes(gpu, shape.into(), DType::F16, bytemuck::cast_slice(&h), data.len())
    }

    fn from_bytes(gpu: &Gpu, shape: Shape, dtype: DType, bytes: &[u8], len: usize) -> Result<Tensor> {
        if len != shape.numel() {
            return Err(Error::shape(
                "upload",
                format!("{} values given for shape {shape} ({} elements)", len, shape.numel()),
            ));
        }
        let t = Tensor::empty(gpu, shape, dtype)?;
        if !bytes.is_empty() {
            // write_buffer needs a multiple of 4 bytes; pad f16 data of odd length.
            let mut padded;
            let data = if bytes.len().is_multiple_of(4) {
                bytes
            } else {
                padded = bytes.to_vec();
                padded.resize(bytes.len().div_ceil(4) * 4, 0);
                &padded
            };
            gpu.queue().write_buffer(t.buffer(), 0, data);
            t.mark_written();
        }
        Ok(t)
    }

    /// A tensor of zeros.
    pub fn zeros(gpu: &Gpu, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        let n = shape.numel();
        Tensor::from_f32(gpu, shape, &vec![0.0; n])
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.shape.0
    }
    /// The dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }
    /// Size of the data in bytes.
    pub fn bytes(&self) -> u64 {
        (self.numel() * self.dtype.size()) as u64
    }
    /// The underlying GPU buffer (may be larger than [`Tensor::bytes`]). Writing it directly
    /// (`queue.write_buffer`, a copy recorded on [`crate::gpu::Recorder::encoder`]) must be
    /// followed by [`Tensor::mark_written`], so that values derived from the old contents (a
    /// convolution's packed weights) are made again.
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buf.buffer()
    }

    /// Notes that this tensor's buffer was written outside the engine's ops (see
    /// [`Tensor::buffer`]). Ops, uploads and [`crate::graph::Graph::load_parameters`] note their own
    /// writes.
    pub fn mark_written(&self) {
        self.buf.mark_written();
    }

    /// The same data seen with another shape of equal element count (no copy).
    /// One dimension may be given as `usize::MAX` to be inferred.
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let mut dims = shape.into().0;
        let known: usize = dims.iter().filter(|&&d| d != usize::MAX).product();
        let unknown = dims.iter().filter(|&&d| d == usize::MAX).count();
        if unknown > 1 {
            return Err(Error::arg("reshape", "at most one dimension may be inferred"));
        }
        if unknown == 1 {
            if known == 0 || !self.numel().is_multiple_of(known) {
                return Err(Error::shape(
                    "reshape",
                    format!("cannot infer a dimension of {:?} from {}", dims, self.shape),
                ));
            }
            for d in dims.iter_mut() {
                if *d == usize::MAX {
                    *d = self.numel() / known;
                }
            }
        }
        let shape = Shape(dims);
        if shape.numel() != self.numel() {
            return Err(Error::shape(
                "reshape",
                format!("{} has {} elements, {} has {}", self.shape, self.numel(), shape, shape.numel()),
            ));
        }
        Ok(Tensor { buf: self.buf.clone(), shape, dtype: self.dtype })
    }

    /// Flattens all dimensions from `axis` on into one (no copy): `[N, C, H, W]` with axis 1
    /// becomes `[N, C*H*W]`.
    pub fn flatten(&self, axis: usize) -> Result<Tensor> {
        if axis > self.shape.rank() {
            return Err(Error::arg("flatten", format!("axis {axis} out of range for {}", self.shape)));
        }
        let outer: usize = self.dims()[..axis].iter().product();
        let inner: usize = self.dims()[axis..].iter().product();
        self.reshape([outer, inner])
    }

    /// Reads the tensor back as f32 values (f16 storage is widened), waiting for the device.
    pub async fn to_f32_async(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        let bytes = gpu.read_bytes_async(self.buffer(), self.bytes()).await?;
        Ok(match self.dtype {
            DType::F32 => bytemuck::pod_collect_to_vec(&bytes),
            DType::F16 => {
                let h: Vec<half::f16> = bytemuck::pod_collect_to_vec(&bytes);
                h.iter().map(|x| x.to_f32()).collect()
            }
            DType::U32 => return Err(Error::DType { op: "to_f32", expected: DType::F32, found: DType::U32 }),
        })
    }

    /// Blocking form of [`Tensor::to_f32_async`].
    pub fn to_f32(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        pollster::block_on(self.to_f32_async(gpu))
    }

    /// Reads a u32 tensor back, waiting for the device.
    pub fn to_u32(&self, gpu: &Gpu) -> Result<Vec<u32>> {
        if self.dtype != DType::U32 {
            return Err(Error::DType { op: "to_u32", expected: DType::U32, found: self.dtype });
        }
        let bytes = gpu.read_bytes(self.buffer(), self.bytes())?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Checks that the tensor has `dtype`, for `op`.
    pub(crate) fn expect_dtype(&self, op: &'static str, dtype: DType) -> Result<()> {
        if self.dtype != dtype {
            return Err(Error::DType { op, expected: dtype, found: self.dtype });
        }
        Ok(())
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({}, {:?})", self.shape, self.dtype)
    }
}
