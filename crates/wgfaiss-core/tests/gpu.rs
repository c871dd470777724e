//! Opening adapters, capabilities, buffers and batches on the test adapter.

mod common;

use wgfaiss_core::ops::reduce::{ReduceOp, ReduceOptions, Reduction};
use wgfaiss_core::{Error, Gpu, GpuOptions};

#[test]
fn test_adapter_reports_capabilities() {
    let gpu = common::gpu();
    let c = gpu.capabilities();
    eprintln!(
        "test adapter: {} ({}), subgroups {}..{}",
        c.name, c.backend, c.subgroup_min_size, c.subgroup_max_size
    );
    assert!(!c.name.is_empty());
    assert!(c.max_storage_binding_bytes >= 128 << 20);
    assert!(c.workgroup_memory_bytes >= 16 << 10);
    assert!(c.max_invocations_per_workgroup >= 256);
    if c.subgroups {
        assert!(c.subgroup_min_size >= 1 && c.subgroup_min_size <= c.subgroup_max_size);
    }
    // CI's second run asks lavapipe for subgroup size 4: make sure it got it, so that run
    // really covers size 4 (the first covers 8).
    if c.name.contains("llvmpipe") {
        let want = match std::env::var("LP_NATIVE_VECTOR_WIDTH").as_deref() {
            Ok("128") => 4,
            _ => 8,
        };
        assert_eq!((c.subgroup_min_size, c.subgroup_max_size), (want, want));
    }
    // Cooperative matrices are enabled only where an f16 configuration is listed.
    assert_eq!(
        c.cooperative_matrix,
        c.coop_matrix_configs.iter().any(|m| m.ab == "f16")
    );
    assert!(gpu.tuning().matched_entry.is_some());
}

#[test]
fn a_missing_adapter_is_an_error_that_says_how_to_get_one() {
    let e = Gpu::with_options(GpuOptions {
        adapter: Some("no adapter is called this".into()),
        ..common::options()
    })
    .unwrap_err();
    assert!(matches!(e, Error::NoAdapter { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("mesa-vulkan-drivers") && msg.contains("no adapter is called this"),
        "{msg}"
    );
}

#[test]
fn bad_tuning_options_are_errors() {
    let e = Gpu::with_options(common::options().with_override("WGFAISS_REDUCE_PATH", "fastest"))
        .unwrap_err();
    assert!(e.to_string().contains("WGFAISS_REDUCE_PATH"), "{e}");
}

#[test]
fn upload_and_readback_round_trip() {
    let gpu = common::gpu();
    for n in [0usize, 1, 3, 4, 5, 1001] {
        let data: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect();
        let buf = gpu.upload(&data).unwrap();
        assert_eq!(gpu.read(&buf).unwrap(), data);
    }
    let buf = gpu.alloc::<f32>(10).unwrap();
    gpu.write(&buf, &[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(&gpu.read(&buf).unwrap()[..4], &[1.0, 2.0, 3.0, 0.0]);
    assert!(gpu.write(&buf, &[0.0; 11]).is_err());
    let too_big = gpu.capabilities().max_buffer_bytes / 4 + 1;
    assert!(gpu.alloc::<f32>(too_big as usize).is_err());
    // Beyond one staging chunk, uploads and writes stream in chunks (2.3 chunks here, the
    // last one partial, into a buffer with an odd tail).
    let chunk = wgfaiss_core::buffer::STREAM_CHUNK / 4;
    let n = 2 * chunk + chunk / 3 + 1;
    let data: Vec<u32> = (0..n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    let buf = gpu.upload(&data).unwrap();
    assert_eq!(gpu.read(&buf).unwrap(), data);
    let other: Vec<u32> = data.iter().map(|v| v ^ 0x5555_5555).collect();
    gpu.write(&buf, &other).unwrap();
    assert_eq!(gpu.read(&buf).unwrap(), other);
    // write_at across chunk boundaries, the rest untouched.
    gpu.write_at(&buf, 7, &data[..chunk + 5]).unwrap();
    let back = gpu.read(&buf).unwrap();
    assert_eq!(&back[..7], &other[..7]);
    assert_eq!(&back[7..chunk + 12], &data[..chunk + 5]);
    assert_eq!(&back[chunk + 12..], &other[chunk + 12..]);
}

#[test]
fn staging_buffers_are_reused_and_released() {
    use wgfaiss_core::staging::{POOL_BYTES, POOL_MIN};
    // A device of its own: the shared one's pool changes under other tests.
    let gpu = common::gpu_with_binding_limit(1 << 30);
    assert_eq!(gpu.staging_bytes(), 0);
    // 1.5 MiB: above the pool's floor, one upload chunk.
    let n = (POOL_MIN as usize * 3 / 2) / 4 + 3;
    let data: Vec<f32> = (0..n).map(|i| (i as f32).sin()).collect();
    for round in 0..3 {
        let buf = gpu.upload(&data).unwrap();
        assert_eq!(gpu.read(&buf).unwrap(), data, "round {round}");
        let kept = gpu.staging_bytes();
        // One readback buffer of 2 MiB (and the small ones), at most the ring of upload chunks.
        assert!((2 * POOL_MIN..=POOL_BYTES).contains(&kept), "kept {kept}");
    }
    gpu.release_staging();
    assert_eq!(gpu.staging_bytes(), 0);
    let buf = gpu.upload(&data).unwrap();
    assert_eq!(gpu.read(&buf).unwrap(), data);
    // Readback bytes become typed vectors only in whole values.
    let mut reads = gpu.read_bytes(&[(buf.raw(), 0, 12)]).unwrap();
    let r = reads.pop().unwrap();
    assert_eq!(r.len(), 12);
    assert!(r.clone().into_vec::<u64>().is_err());
    assert_eq!(r.into_vec::<f32>().unwrap(), &data[..3]);
}

#[test]
fn split_buffers_respect_the_binding_limit_and_rows() {
    let gpu = common::gpu_with_binding_limit(1000);
    // 1000 bytes round down to 992: 8 rows of 30 floats = 960 bytes per chunk.
    let data: Vec<f32> = (0..30 * 17).map(|i| i as f32).collect();
    let split = gpu.upload_split(&data, 30).unwrap();
    assert_eq!(split.chunks().len(), 3);
    assert_eq!(split.starts(), &[0, 240, 480]);
    let mut back = Vec::new();
    for c in split.chunks() {
        assert!(c.len() * 4 <= 992);
        back.extend(gpu.read(c).unwrap());
    }
    assert_eq!(back, data);
}

#[test]
fn batches_submit_every_max_dispatches_and_time_passes() {
    let gpu = Gpu::with_options(
        common::options().with_override("WGFAISS_SUBMIT_MAX_DISPATCHES_PER_SUBMIT", 3),
    )
    .unwrap();
    let data: Vec<f32> = (0..5000).map(|i| (i % 97) as f32).collect();
    let split = gpu.upload_split(&data, 4).unwrap();
    let plan = Reduction::new(&gpu, &split, ReduceOp::Sum, &ReduceOptions::default()).unwrap();
    plan.poison(&gpu).unwrap();
    let mut batch = gpu.batch(true);
    for _ in 0..5 {
        plan.record(&mut batch); // 3 dispatches each: first pass, chunk pass, final pass
    }
    let report = batch.finish().unwrap();
    assert_eq!(report.dispatches, 15);
    // Five full command buffers of 3, plus one that resolves the timestamps.
    let timed = u64::from(gpu.capabilities().timestamps);
    assert_eq!(report.submits, 5 + timed);
    if gpu.capabilities().timestamps {
        let t = report
            .gpu_seconds
            .expect("timestamps were requested and supported");
        assert!(t > 0.0 && t < 60.0, "{t}");
    }
    let want: f64 = data.iter().map(|&v| f64::from(v)).sum();
    assert_eq!(f64::from(plan.read(&gpu).unwrap().value), want);
}
