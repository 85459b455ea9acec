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
    /// Full WGSL source (library snippets included).
    pub source: &'static str,
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
    CONV2D_DIRECT = "conv2d_direct" with ["activation"];
    CONV2D_BACKWARD_INPUT = "conv2d_backward_input";
    CONV2D_BACKWARD_WEIGHT = "conv2d_backward_weight";
    CONV2D_BACKWARD_WEIGHT_DIRECT = "conv2d_backward_weight_direct";
    MAX_POOL2D = "max_pool2d";
    AVG_POOL2D = "avg_pool2d";
    GLOBAL_POOL2D = "global_pool2d";
    POOL_BACKWARD = "pool_backward";
    BATCH_NORM = "batch_norm";
    BATCH_NORM_BACKWARD = "batch_norm_backward";
    LRN = "lrn";
    GEMM = "gemm" with ["activation"];
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
}
