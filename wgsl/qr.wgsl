// QR projection kernels for Gram-Schmidt: c = Q^T v and v <- v - Q c.
//
// Q is m x k, stored column-major: column j is q[j * m .. (j + 1) * m] (each basis vector is
// contiguous). v has m entries, c has k.
//
// - qr_dot_simple: one invocation per column, a sequential f32 sum over the column (each
//   invocation reads its own column: right for short columns, m below the tuning threshold).
// - qr_update: one invocation per row i: v[i] - sum_j q[i + j m] c[j], fma in j order; c is
//   staged through workgroup memory in slices of WG.

override WG: u32 = 256u;

struct Params {
    m: u32,
    k: u32,
    wg_x: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> v_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> c_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_out: array<f32>;

var<workgroup> c_tile: array<f32, WG>;

@compute @workgroup_size(WG)
fn qr_dot_simple(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.k {
        return;
    }
    let base = j * p.m;
    var s = 0.0;
    for (var i = 0u; i < p.m; i++) {
        s = fma(q[base + i], v_in[i], s);
    }
    c[j] = s;
}

@compute @workgroup_size(WG)
fn qr_update(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.wg_x) * WG + lid;
    var acc = 0.0;
    for (var j0 = 0u; j0 < p.k; j0 += WG) {
        // Every invocation takes part in staging, also those past the end of v.
        if j0 + lid < p.k {
            c_tile[lid] = c_in[j0 + lid];
        }
        workgroupBarrier();
        if i < p.m {
            let n = min(WG, p.k - j0);
            // Four independent loads in flight per step; the sum stays in column order.
            var t = 0u;
            for (; t + 4u <= n; t += 4u) {
                let q0 = q[(j0 + t) * p.m + i];
                let q1 = q[(j0 + t + 1u) * p.m + i];
                let q2 = q[(j0 + t + 2u) * p.m + i];
                let q3 = q[(j0 + t + 3u) * p.m + i];
                acc = fma(q0, c_tile[t], acc);
                acc = fma(q1, c_tile[t + 1u], acc);
                acc = fma(q2, c_tile[t + 2u], acc);
                acc = fma(q3, c_tile[t + 3u], acc);
            }
            for (; t < n; t++) {
                acc = fma(q[(j0 + t) * p.m + i], c_tile[t], acc);
            }
        }
        workgroupBarrier();
    }
    if i < p.m {
        v_out[i] = v_in[i] - acc;
    }
}

// qr_normalize (one workgroup): r = |v_in|, rdiag[j] = r, column j of q_out = v_in / r (zero
// when r = 0; the host reports the rank deficiency). p.k holds j.
@group(0) @binding(8) var<storage, read_write> q_out: array<f32>;
@group(0) @binding(9) var<storage, read_write> rdiag: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn qr_normalize(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < p.m; i += WG) {
        let x = v_in[i];
        s = fma(x, x, s);
    }
    partial[lid] = s;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w >>= 1u) {
        if lid < w {
            partial[lid] += partial[lid + w];
        }
        workgroupBarrier();
    }
    let r = sqrt(partial[0]);
    if lid == 0u {
        rdiag[p.k] = r;
    }
    var inv = 0.0;
    if r > 0.0 {
        inv = 1.0 / r;
    }
    for (var i = lid; i < p.m; i += WG) {
        q_out[p.k * p.m + i] = v_in[i] * inv;
    }
}

// qr_chol (one workgroup): the panel step of the blocked QR (CholeskyQR). G = P P^T is the
// b x b Gram matrix of a panel's b columns (b = p.k <= MAXB, row-major); with p._pad != 0 the
// diagonal is first shifted by 11 (m b + b (b + 1)) u trace(G), u = 2^-24 (shifted
// CholeskyQR: the factorisation exists even for an ill-conditioned panel). Writes L (lower,
// G = L L^T, row-major) to chol_l and L^-1 to chol_inv. A pivot <= 0 (a numerically dependent
// column) gives a tiny diagonal entry; the host finds it in R = L^T.
const MAXB: u32 = 32u;

@group(0) @binding(10) var<storage, read> gram: array<f32>;
@group(0) @binding(11) var<storage, read_write> chol_l: array<f32>;
@group(0) @binding(12) var<storage, read_write> chol_inv: array<f32>;
// Per column: its pivot over its diagonal before elimination (near 1 for independent columns
// of an orthonormalised panel, near 0 for a dependent one).
@group(0) @binding(13) var<storage, read_write> chol_ratio: array<f32>;

var<workgroup> ga: array<f32, MAXB * MAXB>;
var<workgroup> la: array<f32, MAXB * MAXB>;
var<workgroup> diag0: array<f32, MAXB>;

@compute @workgroup_size(WG)
fn qr_chol(@builtin(local_invocation_index) lid: u32) {
    let b = p.k;
    for (var t = lid; t < b * b; t += WG) {
        ga[t] = gram[t];
        la[t] = 0.0;
    }
    workgroupBarrier();
    if p._pad != 0u && lid == 0u {
        var tr = 0.0;
        for (var i = 0u; i < b; i++) {
            tr += ga[i * b + i];
        }
        let s = 11.0 * (f32(p.m) * f32(b) + f32(b) * f32(b + 1u)) * 5.9604645e-8 * tr;
        for (var i = 0u; i < b; i++) {
            ga[i * b + i] += s;
        }
    }
    workgroupBarrier();
    for (var t = lid; t < b; t += WG) {
        diag0[t] = ga[t * b + t];
    }
    workgroupBarrier();
    // Right-looking: column j of L, then the trailing update.
    for (var j = 0u; j < b; j++) {
        if lid == 0u {
            let pivot = ga[j * b + j];
            chol_ratio[j] = pivot / max(diag0[j], 1e-30);
            la[j * b + j] = sqrt(max(pivot, 1e-30));
        }
        workgroupBarrier();
        let d = la[j * b + j];
        for (var i = j + 1u + lid; i < b; i += WG) {
            la[i * b + j] = ga[i * b + j] / d;
        }
        workgroupBarrier();
        let rest = b - j - 1u;
        for (var t = lid; t < rest * rest; t += WG) {
            let i = j + 1u + t / rest;
            let c = j + 1u + t % rest;
            if c <= i {
                ga[i * b + c] = ga[i * b + c] - la[i * b + j] * la[c * b + j];
            }
        }
        workgroupBarrier();
    }
    // L^-1 by forward substitution, one column per invocation.
    for (var c = lid; c < b; c += WG) {
        for (var i = 0u; i < b; i++) {
            var x = 0.0;
            if i == c {
                x = 1.0;
            }
            if i >= c {
                var s = x;
                for (var t = c; t < i; t++) {
                    s = s - la[i * b + t] * chol_inv[t * b + c];
                }
                x = s / la[i * b + i];
            }
            chol_inv[i * b + c] = x;
        }
    }
    for (var t = lid; t < b * b; t += WG) {
        chol_l[t] = la[t];
    }
}
