// k-means centroid update on the device, from each point's assigned centroid:
//
// km_clear:   counts and cursors zero.
// km_count:   counts[c] = points assigned to c (atomic).
// km_offsets: one workgroup: offsets = exclusive scan of counts.
// km_scatter: order[offsets[c] + cursor[c]++] = point (points grouped by centroid).
// km_means:   one workgroup per centroid, invocations over dimensions: the mean of its points
//             with compensated (Kahan) f32 sums; centroids without points keep their value
//             (the host repairs them).
//
// The scatter order within a centroid varies run to run, so sums can differ in the last bit
// between runs (the compensation keeps that at about one rounding).

override WG: u32 = 256u;

const NONE: u32 = 0xffffffffu;

struct Params {
    n: u32,      // points
    k: u32,      // centroids
    d: u32,
    wg_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> assign: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> cursor: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> offsets: array<u32>;
@group(0) @binding(5) var<storage, read_write> order: array<u32>;
@group(0) @binding(6) var<storage, read> points: array<f32>;
@group(0) @binding(7) var<storage, read_write> centroids: array<f32>;

fn gid(wid: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * p.wg_x) * WG + lid;
}

@compute @workgroup_size(WG)
fn km_clear(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = gid(wid, lid);
    if i < p.k {
        atomicStore(&counts[i], 0u);
        atomicStore(&cursor[i], 0u);
    }
}

@compute @workgroup_size(WG)
fn km_count(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = gid(wid, lid);
    if i < p.n {
        let c = assign[i];
        if c < p.k {
            atomicAdd(&counts[c], 1u);
        }
    }
}

@compute @workgroup_size(WG)
fn km_offsets(@builtin(local_invocation_index) lid: u32) {
    let per = (p.k + WG - 1u) / WG;
    let c0 = min(lid * per, p.k);
    let c1 = min(c0 + per, p.k);
    var mine = 0u;
    for (var c = c0; c < c1; c++) {
        mine += atomicLoad(&counts[c]);
    }
    var at = workgroup_scan(lid, mine).x;
    for (var c = c0; c < c1; c++) {
        offsets[c] = at;
        at += atomicLoad(&counts[c]);
    }
}

@compute @workgroup_size(WG)
fn km_scatter(@builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = gid(wid, lid);
    if i < p.n {
        let c = assign[i];
        if c < p.k {
            order[offsets[c] + atomicAdd(&cursor[c], 1u)] = i;
        }
    }
}

@compute @workgroup_size(WG)
fn km_means(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let c = wid.x + wid.y * p.wg_x;
    if c >= p.k {
        return;
    }
    let n = atomicLoad(&counts[c]);
    if n == 0u {
        return;
    }
    let start = offsets[c];
    for (var j = lid; j < p.d; j += WG) {
        var sum = 0.0;
        var comp = 0.0;
        for (var t = 0u; t < n; t++) {
            let y = points[order[start + t] * p.d + j] - comp;
            let s = sum + y;
            comp = (s - sum) - y;
            sum = s;
        }
        centroids[c * p.d + j] = sum / f32(n);
    }
}
