//! A plain streaming read over device data: the bandwidth yardstick benchmarks compare
//! kernels with (what a memory-bound kernel can hope for on this adapter through WGSL).

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::buffer::{GpuBuffer, SplitBuffer};
use crate::device::Gpu;
use crate::error::Result;
use crate::kernels::{Kernel, STREAM_READ};
use crate::submit::Batch;

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct Params {
    n4: u32,
    threads: u32,
    per_group: u32,
    _pad: u32,
}

/// How the workgroups of a [`StreamRead`] share the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// All workgroups sweep the data together (grid stride).
    GridStride,
    /// Each workgroup reads one contiguous block.
    Blocks,
}

/// A planned streaming read of every chunk of a split buffer.
pub struct StreamRead {
    kernel: Arc<Kernel>,
    steps: Vec<(wgpu::BindGroup, (u32, u32, u32))>,
    _sink: GpuBuffer<f32>,
    bytes: u64,
}

impl StreamRead {
    /// Plans a read of `data` with `workgroups` workgroups of `workgroup_size` per chunk.
    pub fn new(
        gpu: &Gpu,
        data: &SplitBuffer<f32>,
        workgroup_size: u32,
        workgroups: u32,
        pattern: Pattern,
    ) -> Result<StreamRead> {
        let entry = match pattern {
            Pattern::GridStride => "stream_read",
            Pattern::Blocks => "stream_read_blocks",
        };
        let kernel = gpu.kernel(&STREAM_READ, entry, &[("WG", workgroup_size)])?;
        let sink = gpu.alloc::<f32>(1)?;
        let groups = workgroups.clamp(1, gpu.capabilities().max_workgroups_per_dimension);
        let steps = data
            .chunks()
            .iter()
            .map(|c| {
                let n4 = (c.len() / 4) as u32;
                let params = gpu.uniform(&Params {
                    n4,
                    threads: groups * workgroup_size,
                    per_group: n4.div_ceil(groups),
                    _pad: 0,
                });
                let bg = gpu.bind(
                    &kernel,
                    &[
                        (0, params.as_entire_binding()),
                        (1, c.binding()),
                        (2, sink.binding()),
                    ],
                );
                (bg, (groups, 1, 1))
            })
            .collect();
        Ok(StreamRead {
            kernel,
            steps,
            _sink: sink,
            bytes: data
                .chunks()
                .iter()
                .map(|c| (c.len() / 4 * 16) as u64)
                .sum(),
        })
    }

    /// Bytes one run reads.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records one read of every chunk.
    pub fn record(&self, batch: &mut Batch<'_>) {
        for (bg, groups) in &self.steps {
            batch.dispatch(&self.kernel, bg, *groups);
        }
    }
}
