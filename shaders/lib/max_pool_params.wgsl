// The `Params` block of max_pool2d and max_pool2d_rows (MaxPool2dParams in src/ops/pool.rs):
// output element count, input and output plane sizes, and the window's size, stride, padding
// and dilation.
struct Params {
    len: u32, h: u32, w: u32, oh: u32,
    ow: u32, kh: u32, kw: u32, stride_h: u32,
    stride_w: u32, pad_top: u32, pad_left: u32, dil_h: u32,
    dil_w: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}
