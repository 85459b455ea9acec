//! The shader registry: every WGSL kernel family, embedded in the binary with `include_str!`.
//!
//! Each family is one file `shaders/NAME.wgsl`; shared helper functions live in `shaders/lib/`
//! and are prepended to the families that use them. Every entry point is named like the op it
//! implements (`conv2d`, `max_pool2d`, ...), and the uniform parameter block of every file is a
//! struct called `Params`, mirrored by a `#[repr(C)]` struct in `src/ops/`.

/// One WGSL source: a kernel family.
#[derive(Clone, Copy, Debug)]
pub struct Shader {
    /// Registry name: the file stem under `shaders/`, also the pipeline label prefix.
    pub name: &'static str,
    /// Full WGSL source (library snippets included), as the file has it (f32 storage).
    pub source: &'static str,
    /// Whether this is the f16-storage variant ([`Shader::with_storage`]).
    pub f16: bool,
    /// Whether the output is f32 whatever the storage ([`Shader::with_f32_output`]).
    pub f32_output: bool,
}

/// The line by which a kernel family declares that it stores its tensors as `Store`, and so
/// has an f16-storage variant: every tensor it reads or writes through `Store` is converted to
/// and from f32 at the load and the store, and it sums in f32.
pub const STORE_F32: &str = "alias Store = f32;";

/// The line by which a storage-generic family declares its output type separately, so that an
/// f16 kernel can also write f32 ([`Shader::with_f32_output`]: split-K partial sums).
pub const OUT_STORE: &str = "alias Out = Store;";

impl Shader {
    /// Whether the family stores tensors as `Store` (declares [`STORE_F32`]) and so has an
    /// f16 variant.
    pub fn is_storage_generic(&self) -> bool {
        self.source.contains(STORE_F32)
    }

    /// The variant of this family that stores tensors of `dtype` (F32 or F16). Only
    /// storage-generic families have an F16 variant; it needs the device's `SHADER_F16`.
    pub fn with_storage(self, dtype: crate::DType) -> crate::Result<Shader> {
        match dtype {
            crate::DType::F32 => Ok(Shader { f16: false, ..self }),
            crate::DType::F16 if self.is_storage_generic() => Ok(Shader { f16: true, ..self }),
            _ => Err(crate::Error::DType { op: self.name, expected: crate::DType::F32, found: dtype }),
        }
    }

    /// The variant of this family that writes its output (`Out`) as f32 whatever it stores
    /// its inputs as; only families that declare [`OUT_STORE`] have one.
    pub fn with_f32_output(self) -> crate::Result<Shader> {
        if !self.source.contains(OUT_STORE) {
            return Err(crate::Error::arg(self.name, "has no f32-output variant"));
        }
        Ok(Shader { f32_output: true, ..self })
    }

    /// This family in `other`'s variant (its storage and output types): for a kernel that
    /// stands in for another, as conv2d_packed_rows does for conv2d_packed.
    pub fn in_variant_of(self, other: &Shader) -> crate::Result<Shader> {
        let s = self.with_storage(if other.f16 { crate::DType::F16 } else { crate::DType::F32 })?;
        if other.f32_output {
            s.with_f32_output()
        } else {
            Ok(s)
        }
    }

    /// The WGSL text to compile: the source, or for the f16 variant the source with
    /// `enable f16;` in front and `Store` declared as f16; for the f32-output variant, `Out`
    /// declared as f32.
    pub fn wgsl(&self) -> std::borrow::Cow<'static, str> {
        if !self.f16 && !self.f32_output {
            return self.source.into();
        }
        let mut text = self.source.to_string();
        if self.f32_output {
            text = text.replace(OUT_STORE, "alias Out = f32;");
        }
        if self.f16 {
            text = format!("enable f16;\n{}", text.replace(STORE_F32, "alias Store = f16;"));
        }
        text.into()
    }

    /// The name of this variant: the family name, with `_f16` appended for the f16 variant and
    /// `_f32out` for the f32-output variant.
    pub fn variant_name(&self) -> String {
        format!("{}{}{}", self.name, if self.f16 { "_f16" } else { "" }, if self.f32_output { "_f32out" } else { "" })
    }
}

macro_rules! shaders {
    ($($id:ident = $name:literal $(with [$($lib:literal),*])?;)*) => {
        $(
            #[doc = concat!("`shaders/", $name, ".wgsl`")]
            pub const $id: Shader = Shader {
                name: $name,
                source: concat!(
                    $($(include_str!(concat!("../shaders/lib/", $lib, ".wgsl")), "\n",)*)?
                    include_str!(concat!("../shaders/", $name, ".wgsl"))
                ),
                f16: false,
                f32_output: false,
            };
        )*
        /// Every registered shader.
        pub const ALL: &[Shader] = &[$($id),*];
    };
}

shaders! {
    ACTIVATION = "activation" with ["activation"];
    ACTIVATION_BACKWARD = "activation_backward" with ["activation"];
    CONV2D = "conv2d" with ["activation"];
    CONV2D_DIRECT = "conv2d_direct" with ["activation", "conv_direct_params", "conv_gather"];
    CONV2D_DEPTHWISE = "conv2d_depthwise" with ["activation", "conv_direct_params", "conv_gather"];
    CONV2D_PACKED = "conv2d_packed" with ["activation", "conv_direct_params"];
    CONV2D_PACKED_ROWS = "conv2d_packed_rows" with ["activation", "conv_direct_params"];
    CONV2D_PACKED_ROWS_SG4 = "conv2d_packed_rows_sg4" with ["activation", "conv_direct_params"];
    CONV2D_PACKED_1X1 = "conv2d_packed_1x1" with ["activation", "conv_direct_params"];
    CONV2D_DEPTHWISE_3X3 = "conv2d_depthwise_3x3" with ["activation", "conv_direct_params"];
    CONV2D_DEPTHWISE_3X3_SCALAR = "conv2d_depthwise_3x3_scalar" with ["activation", "conv_direct_params"];
    CONV2D_PACK = "conv2d_pack";
    CONV2D_PLANES = "conv2d_planes";
    CONV2D_BACKWARD_INPUT = "conv2d_backward_input";
    CONV2D_BACKWARD_WEIGHT = "conv2d_backward_weight";
    CONV2D_BACKWARD_WEIGHT_DIRECT = "conv2d_backward_weight_direct" with ["conv_weight_params"];
    CONV2D_BACKWARD_WEIGHT_PACKED = "conv2d_backward_weight_packed" with ["conv_weight_params"];
    CONV2D_BACKWARD_WEIGHT_DEPTHWISE = "conv2d_backward_weight_depthwise" with ["conv_weight_params"];
    MAX_POOL2D = "max_pool2d" with ["max_pool_params"];
    MAX_POOL2D_ROWS = "max_pool2d_rows" with ["max_pool_params"];
    AVG_POOL2D = "avg_pool2d";
    GLOBAL_POOL2D = "global_pool2d";
    POOL_BACKWARD = "pool_backward";
    BATCH_NORM = "batch_norm";
    BATCH_NORM_BACKWARD = "batch_norm_backward";
    LRN = "lrn";
    GEMM = "gemm" with ["activation"];
    LINEAR_ROWS = "linear_rows";
    BINARY = "binary";
    BINARY_BACKWARD = "binary_backward";
    CONCAT = "concat";
    CONCAT_BACKWARD = "concat_backward";
    TRANSPOSE = "transpose";
    SOFTMAX = "softmax";
    SOFTMAX_BACKWARD = "softmax_backward";
    PAD = "pad";
    RESIZE = "resize";
    RESIZE_NEAREST = "resize_nearest";
    SLICE = "slice";
    LAYER_NORM = "layer_norm";
    PRELU = "prelu";
    REDUCE = "reduce";
    CEILING = "ceiling";
    CAM_WEIGHTS = "cam_weights";
    CAM_COMBINE = "cam_combine";
    CAM_NORMALIZE = "cam_normalize";
    CAM_PROJECTION = "cam_projection";
    CAM_TARGET = "cam_target";
    COLORMAP = "colormap";
    BATCH_NORM_TRAIN = "batch_norm_train";
    CROSS_ENTROPY = "cross_entropy";
    OPTIMIZER = "optimizer";
    CAST = "cast";
}
