// The per-query bounds that the segments of the f16 k-NN kernel share (knn_half.wgsl): a
// segment whose list of the query's best is full proves that that many keys are at most its
// last one, so no key above that can be among the query's best in any other segment. Each
// bound is an atomic u32 zeroed before the search (no bound), raised with atomicMax. (Tried
// in the exact kernel too: its per-tile loads cost more than the merges they saved.)

// Order-preserving map of a key to u32 (negative keys below positive ones), complemented so
// that zero is the worst bound and atomicMax keeps the best.
fn bound_code(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    return ~select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// The key a bound code stands for (+inf for zero: no bound yet).
fn bound_key(c: u32) -> f32 {
    if c == 0u {
        return bitcast<f32>(0x7f800000u);
    }
    let b = ~c;
    return bitcast<f32>(select(~b, b & 0x7fffffffu, (b & 0x80000000u) != 0u));
}
