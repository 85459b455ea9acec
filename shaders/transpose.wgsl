// PLACEHOLDER: to be written.
struct Params { len: u32, }
@group(0) @binding(0) var<uniform> p: Params;
@compute @workgroup_size(1)
fn placeholder_transpose() {}
