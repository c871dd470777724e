// Workgroup prefix sum, shared by families that turn counts into offsets (ivf, kmeans).
// Needs the family's `override WG`.

var<workgroup> scan_buf: array<u32, WG>;

// (exclusive prefix sum of `v` over the invocations in local index order, total). Every
// invocation of the workgroup must call it (it has barriers); calls may follow each other.
fn workgroup_scan(lid: u32, v: u32) -> vec2<u32> {
    scan_buf[lid] = v;
    workgroupBarrier();
    // Inclusive Hillis-Steele scan.
    for (var s = 1u; s < WG; s <<= 1u) {
        var add = 0u;
        if lid >= s {
            add = scan_buf[lid - s];
        }
        workgroupBarrier();
        scan_buf[lid] += add;
        workgroupBarrier();
    }
    let out = vec2<u32>(scan_buf[lid] - v, scan_buf[WG - 1u]);
    workgroupBarrier();
    return out;
}
