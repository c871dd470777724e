
// ---- reduce_shared.wgsl: workgroup combine through shared memory only ----

var<workgroup> sh_v: array<f32, WG>;
var<workgroup> sh_i: array<u32, WG>;

// Combines one candidate per invocation; the result is valid in invocation 0.
fn wg_reduce(c: Cand, lid: u32) -> Cand {
    sh_v[lid] = c.v;
    sh_i[lid] = c.i;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if lid < s {
            let r = combine(Cand(sh_v[lid], sh_i[lid]), Cand(sh_v[lid + s], sh_i[lid + s]));
            sh_v[lid] = r.v;
            sh_i[lid] = r.i;
        }
        workgroupBarrier();
    }
    return Cand(sh_v[0], sh_i[0]);
}
