// Elementwise helpers. Each entry point uses its own bindings (layouts are per entry).
//
// add_rows: x[i * n + j] += v[j] for an m x n row-major matrix (a bias added to every row).
// fill_lists: m x n (value, NONE) pairs, value = bitcast(p.value) (padding of result lists).

override WG: u32 = 256u;

const NONE: u32 = 0xffffffffu;

struct Params {
    m: u32,
    n: u32,
    wg_x: u32,
    value: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;

@compute @workgroup_size(WG)
fn add_rows(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.wg_x) * WG + lid;
    if i < p.m * p.n {
        x[i] = x[i] + v[i % p.n];
    }
}

@group(0) @binding(8) var<storage, read_write> f_v: array<f32>;
@group(0) @binding(9) var<storage, read_write> f_i: array<u32>;

@compute @workgroup_size(WG)
fn fill_lists(@builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.wg_x) * WG + lid;
    if i < p.m * p.n {
        f_v[i] = bitcast<f32>(p.value);
        f_i[i] = NONE;
    }
}

// map_ids: out[i] = table[ids[i]] (64-bit ids as (lo, hi) pairs), or -1 where ids[i] is NONE
//   (result ids mapped on the device, so the host reads them ready).
@group(0) @binding(10) var<storage, read> m_ids: array<u32>;
@group(0) @binding(11) var<storage, read> m_table: array<vec2<u32>>;
@group(0) @binding(12) var<storage, read_write> m_out: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn map_ids(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.wg_x) * WG + lid;
    if i < p.m {
        let id = m_ids[i];
        var v = vec2<u32>(NONE, NONE);
        if id != NONE && id < p.n {
            v = m_table[id];
        }
        m_out[i] = v;
    }
}
