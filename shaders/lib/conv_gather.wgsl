// gather4, shared by conv2d_direct and conv2d_depthwise (which both bind `x: array<Store>` and
// the `Params` of conv_direct_params.wgsl): the input values under tap offset (dy, dx) for 4
// pixels with window corners (iy0, ix0) in the input planes at offsets `off`, 0 where the tap
// falls in the padding (the address is clamped, the value dropped).
fn gather4(off: vec4<u32>, iy0: vec4<i32>, ix0: vec4<i32>, dy: i32, dx: i32) -> vec4<f32> {
    let iy = iy0 + vec4<i32>(dy);
    let ix = ix0 + vec4<i32>(dx);
    let ok = (iy >= vec4<i32>(0)) & (iy < vec4<i32>(i32(p.h))) & (ix >= vec4<i32>(0)) & (ix < vec4<i32>(i32(p.w)));
    let hi = vec4<i32>(i32(p.h) - 1);
    let wi = vec4<i32>(i32(p.w) - 1);
    let at = off + vec4<u32>(clamp(iy, vec4<i32>(0), hi)) * p.w + vec4<u32>(clamp(ix, vec4<i32>(0), wi));
    let v = vec4<f32>(f32(x[at.x]), f32(x[at.y]), f32(x[at.z]), f32(x[at.w]));
    return select(vec4<f32>(0.0), v, ok);
}
