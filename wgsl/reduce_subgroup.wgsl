
// ---- reduce_subgroup.wgsl: workgroup combine with subgroup operations ----
//
// Right for any subgroup size: the size and lane come from subgroupAdd(1) and
// subgroupExclusiveAdd(1) (all invocations are active here), and each subgroup's result takes a
// slot from an atomic counter, so nothing assumes how invocations are grouped into subgroups.

var<workgroup> sg_v: array<f32, WG>;
var<workgroup> sg_i: array<u32, WG>;
var<workgroup> sg_slots: atomic<u32>;
var<workgroup> sg_count: u32;

fn sg_combine(c: Cand) -> Cand {
    if OP == 0u {
        return Cand(subgroupAdd(c.v), 0u);
    }
    var best: f32;
    if OP == 1u {
        best = subgroupMax(c.v);
    } else {
        best = subgroupMin(c.v);
    }
    // Smallest index among the invocations holding the extreme.
    var mine = NONE;
    if c.v == best {
        mine = c.i;
    }
    return Cand(best, subgroupMin(mine));
}

// Combines one candidate per invocation; the result is valid in every invocation.
fn wg_reduce(c: Cand, lid: u32) -> Cand {
    if lid == 0u {
        atomicStore(&sg_slots, 0u);
    }
    workgroupBarrier();
    let r = sg_combine(c);
    if subgroupExclusiveAdd(1u) == 0u {
        let s = atomicAdd(&sg_slots, 1u);
        sg_v[s] = r.v;
        sg_i[s] = r.i;
    }
    workgroupBarrier();
    if lid == 0u {
        sg_count = atomicLoad(&sg_slots);
    }
    let n = workgroupUniformLoad(&sg_count);
    // Every subgroup folds the slots the same way; all get the same answer.
    let size = subgroupAdd(1u);
    let lane = subgroupExclusiveAdd(1u);
    var acc = identity();
    for (var s = lane; s < n; s += size) {
        acc = combine(acc, Cand(sg_v[s], sg_i[s]));
    }
    let out = sg_combine(acc);
    // The slots are reused by the next call only after every invocation has read them.
    workgroupBarrier();
    return out;
}
