// Sorted per-row top-k lists in workgroup memory, shared by the fused k-NN kernels
// (knn.wgsl, knn_stream.wgsl). The including kernel declares TM rows, KB list
// slots per row, CAP candidate slots per row, WG invocations and the uniform p.topk (k); the
// streaming kernel also declares, and list_offer.wgsl does for the tiled ones: best_v/best_i
// (two copies of TM x KB, `lcur` says which is live), cand_v/cand_i (TM x CAP), cnt (atomic
// candidate counts, at least TM).

// (key, id) order: smaller key first, equal keys by the smaller id.
fn before(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
    return av < bv || (av == bv && ai < bi);
}

// Merges every row's candidates into its sorted list, all invocations at once: WG / TM of
// them per row (at least one), each placing some list entries and some candidates at their
// rank in the union (list entries: their index plus the candidates before them; candidates:
// the list entries before them, by binary search, plus the candidates before them), written
// into the other copy of the lists. Ranks past k fall out. Ends with a barrier.
fn merge_rows(lid: u32) {
    let src = lcur * TM * KB;
    let dst = (1u - lcur) * TM * KB;
    let lanes = max(1u, WG / TM);
    for (var t = lid; t < TM * lanes; t += WG) {
        let r = t / lanes;
        let lane = t % lanes;
        let n = min(atomicLoad(&cnt[r]), CAP);
        let base = r * KB;
        let cb = r * CAP;
        for (var i = lane; i < p.topk; i += lanes) {
            let v = best_v[src + base + i];
            let id = best_i[src + base + i];
            var pos = i;
            for (var c = 0u; c < n; c++) {
                if before(cand_v[cb + c], cand_i[cb + c], v, id) {
                    pos += 1u;
                }
            }
            if pos < p.topk {
                best_v[dst + base + pos] = v;
                best_i[dst + base + pos] = id;
            }
        }
        for (var j = lane; j < n; j += lanes) {
            let v = cand_v[cb + j];
            let id = cand_i[cb + j];
            var lo = 0u;
            var hi = p.topk;
            loop {
                if lo >= hi {
                    break;
                }
                let mid = (lo + hi) / 2u;
                if before(best_v[src + base + mid], best_i[src + base + mid], v, id) {
                    lo = mid + 1u;
                } else {
                    hi = mid;
                }
            }
            var pos = lo;
            for (var c = 0u; c < n; c++) {
                if before(cand_v[cb + c], cand_i[cb + c], v, id) {
                    pos += 1u;
                }
            }
            if pos < p.topk {
                best_v[dst + base + pos] = v;
                best_i[dst + base + pos] = id;
            }
        }
    }
    workgroupBarrier();
    for (var r = lid; r < TM; r += WG) {
        atomicStore(&cnt[r], 0u);
    }
    lcur = 1u - lcur;
}

