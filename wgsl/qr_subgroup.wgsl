// c = Q^T v with one subgroup per column (Q column-major, m x k): the lanes of a subgroup read
// consecutive entries of the column (coalesced) and add them with subgroupAdd. Columns are
// numbered by workgroup and subgroup_id, so nothing assumes how invocations form subgroups.

struct Params {
    m: u32,
    k: u32,
    wg_x: u32,
    _pad: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> v_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG)
fn qr_dot_subgroup(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(subgroup_id) sg: u32,
                   @builtin(num_subgroups) nsg: u32,
                   @builtin(subgroup_invocation_id) lane: u32,
                   @builtin(subgroup_size) size: u32) {
    let j = (wid.x + wid.y * p.wg_x) * nsg + sg;
    // Whole subgroups leave together, so subgroupAdd below sees full subgroups.
    if j >= p.k {
        return;
    }
    let base = j * p.m;
    var s = 0.0;
    for (var i = lane; i < p.m; i += size) {
        s = fma(q[base + i], v_in[i], s);
    }
    let total = subgroupAdd(s);
    if lane == 0u {
        c[j] = total;
    }
}
