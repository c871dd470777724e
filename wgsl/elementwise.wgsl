// Elementwise helpers.
//
// add_row_vector: x[i * n + j] += v[j] for an m x n row-major matrix (the database norms
// added to a distance tile of -2 <q, x> in the unfused k-NN path).

override WG: u32 = 256u;

struct Params {
    m: u32,
    n: u32,
    wg_x: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;

@compute @workgroup_size(WG)
fn add_row_vector(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.wg_x) * WG + lid;
    if i < p.m * p.n {
        x[i] += v[i % p.n];
    }
}
