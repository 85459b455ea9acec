//! The crate's one error type.

/// Everything that can go wrong in `featuremap`, with enough context to act on.
///
/// The library never panics on user input; it returns one of these instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter (hardware or software) could be found.
    #[error(
        "no GPU adapter found{detail}; install a Vulkan driver, or Mesa's software one \
         (`apt-get install mesa-vulkan-drivers`), or set FEATUREMAP_ADAPTER to one of the listed adapters"
    )]
    NoAdapter {
        /// What was searched for and what was seen.
        detail: String,
    },
    /// The adapter refused to create a device.
    #[error("could not create a device on adapter `{adapter}`: {source}")]
    RequestDevice {
        /// The adapter's name.
        adapter: String,
        /// The underlying wgpu error.
        source: wgpu::RequestDeviceError,
    },
    /// Two shapes that must agree do not.
    #[error("{op}: shape mismatch: {detail}")]
    Shape {
        /// The operation that checked the shapes (`conv2d`, `add`, ...).
        op: &'static str,
        /// What was expected and what was found.
        detail: String,
    },
    /// An argument is outside the range the operation accepts.
    #[error("{op}: invalid argument: {detail}")]
    InvalidArgument {
        /// The operation that rejected the argument.
        op: &'static str,
        /// What was wrong and what is allowed.
        detail: String,
    },
    /// A tensor does not fit in one storage-buffer binding on this device.
    #[error("{op}: tensor of {bytes} bytes exceeds this device's max_storage_buffer_binding_size of {limit} bytes")]
    TooLarge {
        /// The operation that needed the buffer.
        op: &'static str,
        /// Requested size in bytes.
        bytes: u64,
        /// The device limit in bytes.
        limit: u64,
    },
    /// The operation needs more workgroups than the device can dispatch.
    #[error("{op}: dispatch of {groups} workgroups exceeds the device limit of {limit} per dimension")]
    DispatchTooLarge {
        /// The operation being dispatched.
        op: &'static str,
        /// Workgroups requested in the largest dimension.
        groups: u64,
        /// The device limit.
        limit: u32,
    },
    /// A tensor has a dtype the operation does not take.
    #[error("{op}: expected dtype {expected:?}, found {found:?}")]
    DType {
        /// The operation.
        op: &'static str,
        /// What it takes.
        expected: crate::DType,
        /// What it got.
        found: crate::DType,
    },
    /// An error inside one node of a graph: which node, and what went wrong there.
    #[error("node `{node}`: {source}")]
    Node {
        /// The node's name.
        node: String,
        /// The error the op reported.
        source: Box<Error>,
    },
    /// An ONNX model that cannot be imported: which node, of which op type, and why.
    #[error("ONNX node `{node}` ({op_type}): {detail}")]
    Onnx {
        /// The node's name (or its first output's, when the node has none).
        node: String,
        /// The ONNX op type.
        op_type: String,
        /// What was expected and what was found.
        detail: String,
    },
    /// A name that the graph does not know.
    #[error("{what} `{name}` not found{hint}")]
    NotFound {
        /// What kind of thing (tensor, node, layer).
        what: &'static str,
        /// The name asked for.
        name: String,
        /// A hint listing some valid names.
        hint: String,
    },
    /// The device reported an error (validation, out of memory, lost device).
    #[error("GPU error in {op}: {message}")]
    Gpu {
        /// The operation or stage where it happened.
        op: String,
        /// The device's message.
        message: String,
    },
    /// Mapping a buffer for readback failed.
    #[error("readback failed: {0}")]
    Readback(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Encoding or decoding an image failed.
    #[error("image {path}: {message}")]
    Image {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Shorthand for `std::result::Result<T, featuremap::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A [`Error::Shape`] for `op`.
    pub fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Shape { op, detail: detail.into() }
    }
    /// Wraps an error with the graph node it happened in.
    pub fn in_node(self, node: &str) -> Self {
        match self {
            Error::Node { .. } => self,
            e => Error::Node { node: node.to_string(), source: Box::new(e) },
        }
    }
    /// An [`Error::InvalidArgument`] for `op`.
    pub fn arg(op: &'static str, detail: impl Into<String>) -> Self {
        Error::InvalidArgument { op, detail: detail.into() }
    }
}
