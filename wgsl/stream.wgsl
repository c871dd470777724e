// A plain streaming read: the bandwidth yardstick that benchmarks compare kernels against.
// Each invocation sums a grid-strided share of the vec4s; the sum is stored only if it equals a
// value that random data never produces, so the loads cannot be optimised away.

override WG: u32 = 256u;

struct Params {
    n4: u32,
    threads: u32,
    per_group: u32, // vec4s per workgroup (stream_read_blocks)
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> sink: array<f32>;

@compute @workgroup_size(WG)
fn stream_read(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc = vec4<f32>(0.0);
    for (var k = gid.x; k < p.n4; k += p.threads) {
        acc += x4[k];
    }
    let s = acc.x + acc.y + acc.z + acc.w;
    if s == 1.0e38 {
        sink[0] = s;
    }
}

// The same read, but each workgroup reads one contiguous block (the access pattern of a kernel
// that gives each workgroup its own row or list), to compare with the grid-strided sweep.
@compute @workgroup_size(WG)
fn stream_read_blocks(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let start = wid.x * p.per_group;
    let end = min(p.n4, start + p.per_group);
    var acc = vec4<f32>(0.0);
    for (var k = start + lid; k < end; k += WG) {
        acc += x4[k];
    }
    let s = acc.x + acc.y + acc.z + acc.w;
    if s == 1.0e38 {
        sink[0] = s;
    }
}
