// The `Params` block of the row-chunked weight-gradient kernels, conv2d_backward_weight_direct,
// _packed and _depthwise (WeightRowsParams in src/ops/conv2d.rs): the convolution's geometry,
// the weight columns each output channel has (the kernel's own unit), and the output rows
// [row_begin, row_end) of N * H_out this dispatch reduces, in chunks of rows_per_chunk.
struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, stride_h: u32, stride_w: u32,
    pad_top: u32, pad_left: u32, dil_h: u32, dil_w: u32,
    cin_g: u32, cout_g: u32, cols: u32, rows: u32,
    row_begin: u32, row_end: u32, rows_per_chunk: u32, _pad0: u32,
}
