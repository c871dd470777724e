// The per-row lists of the tiled fused k-NN kernel (knn.wgsl; the f16 kernel keeps private heaps): its
// workgroup memory, offering values to them, the serial merge and the offer rounds. The
// including kernel declares the constants TM (rows), KB (list slots per row, >= k), CAP
// (candidate slots per row), WG, PAR (1: the parallel merge of list_merge.wgsl, with two copies
// of the lists), METRIC (0: L2) and the uniform p.topk, and the outputs out_v / out_i.

// Two copies of the lists where PAR = 1: a merge reads one and writes the other (lcur says which
// is live).
var<workgroup> best_v: array<f32, (1u + PAR) * TM * KB>;
var<workgroup> best_i: array<u32, (1u + PAR) * TM * KB>;
var<workgroup> cand_v: array<f32, TM * CAP>;
var<workgroup> cand_i: array<u32, TM * CAP>;
var<workgroup> cnt: array<atomic<u32>, TM>;
var<workgroup> overflow: atomic<u32>;
var<workgroup> any_cand: atomic<u32>;
var<workgroup> flags: u32;
var<private> lcur: u32 = 0u;

// Offers (key, id) to local query `r` (values that beat the row's threshold when the tile
// was finished; checked again, since merges since then may have raised the bar). Returns
// false if the value still beats the threshold but found no slot (it stays pending).
fn offer(r: u32, id: u32, key: f32) -> bool {
    let last = lcur * TM * KB + r * KB + p.topk - 1u;
    if !before(key, id, best_v[last], best_i[last]) {
        return true;
    }
    let s = atomicAdd(&cnt[r], 1u);
    if s < CAP {
        cand_v[r * CAP + s] = key;
        cand_i[r * CAP + s] = id;
        atomicStore(&any_cand, 1u);
        return true;
    }
    atomicStore(&overflow, 1u);
    return false;
}

// Inserts every row's candidates into its sorted list in place, one invocation per row.
fn merge_rows_serial(lid: u32) {
    for (var r = lid; r < TM; r += WG) {
        let n = min(atomicLoad(&cnt[r]), CAP);
        let base = r * KB;
        let last = base + p.topk - 1u;
        for (var c = 0u; c < n; c++) {
            let v = cand_v[r * CAP + c];
            let id = cand_i[r * CAP + c];
            if before(v, id, best_v[last], best_i[last]) {
                var j = last;
                loop {
                    if j == base || !before(v, id, best_v[j - 1u], best_i[j - 1u]) {
                        break;
                    }
                    best_v[j] = best_v[j - 1u];
                    best_i[j] = best_i[j - 1u];
                    j -= 1u;
                }
                best_v[j] = v;
                best_i[j] = id;
            }
        }
        atomicStore(&cnt[r], 0u);
    }
    workgroupBarrier();
}

// After a round of offers (all invocations call it): merges the rows that got candidates and
// returns whether some value found no slot (then its invocation offers it again, against the
// new threshold, in another round).
fn merge_offers(tid: u32) -> bool {
    // Bit 0: some row has candidates; bit 1: some value found no slot.
    workgroupBarrier();
    if tid == 0u {
        flags = atomicLoad(&any_cand) | (atomicLoad(&overflow) << 1u);
        atomicStore(&any_cand, 0u);
        atomicStore(&overflow, 0u);
    }
    let f = workgroupUniformLoad(&flags);
    if (f & 1u) != 0u {
        if PAR == 1u {
            merge_rows(tid);
        } else {
            merge_rows_serial(tid);
        }
    }
    return (f & 2u) != 0u;
}

// Empties the first `slots` list entries (+inf, NONE), the candidate counts and the flags; ends
// with a barrier.
fn init_lists(tid: u32, slots: u32) {
    for (var t = tid; t < slots; t += WG) {
        best_v[t] = bitcast<f32>(0x7f800000u);
        best_i[t] = NONE;
    }
    for (var t = tid; t < TM; t += WG) {
        atomicStore(&cnt[t], 0u);
    }
    if tid == 0u {
        atomicStore(&overflow, 0u);
        atomicStore(&any_cand, 0u);
    }
    workgroupBarrier();
}

// Writes local row r's list to out_v / out_i from `out` on: the k' best as (distance, id) for
// L2, (inner product, id) for inner products (keys are their negation).
fn write_list(r: u32, out: u32) {
    for (var t = 0u; t < p.topk; t++) {
        let key = best_v[lcur * TM * KB + r * KB + t];
        var v = -key;
        if METRIC == 0u {
            v = key;
        }
        out_v[out + t] = v;
        out_i[out + t] = best_i[lcur * TM * KB + r * KB + t];
    }
}
