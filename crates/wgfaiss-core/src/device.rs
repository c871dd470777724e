//! Opening an adapter and a device: [`Gpu`], its [`Capabilities`] and [`GpuOptions`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::kernels::KernelCache;
use crate::tuning::{ConfigSource, Tuning};

/// A cooperative-matrix configuration the adapter supports (`M×N×K`, operand → result type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoopMatrixConfig {
    /// Rows of the result tile.
    pub m: u32,
    /// Columns of the result tile.
    pub n: u32,
    /// Inner dimension.
    pub k: u32,
    /// Type of A and B (`f16`, `f32`, ...).
    pub ab: String,
    /// Type of C and the result.
    pub cr: String,
}

/// What the opened adapter and device can do.
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    /// Backend: `vulkan`, `metal`, `dx12`, `gl` or `webgpu`.
    pub backend: String,
    /// Adapter name, e.g. `NVIDIA H200` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// Driver name.
    pub driver: String,
    /// Driver version text.
    pub driver_info: String,
    /// `discrete`, `integrated`, `virtual`, `cpu` or `other`.
    pub device_type: String,
    /// Smallest subgroup size the driver may use (0 when unknown).
    pub subgroup_min_size: u32,
    /// Largest subgroup size the driver may use (0 when unknown).
    pub subgroup_max_size: u32,
    /// SUBGROUP feature enabled on the device.
    pub subgroups: bool,
    /// SUBGROUP_BARRIER enabled (`subgroupBarrier()` in compute shaders).
    pub subgroup_barrier: bool,
    /// SHADER_F16 feature enabled on the device.
    pub f16: bool,
    /// TIMESTAMP_QUERY enabled (GPU timings available).
    pub timestamps: bool,
    /// TIMESTAMP_QUERY_INSIDE_PASSES enabled.
    pub timestamps_inside_passes: bool,
    /// PIPELINE_CACHE enabled.
    pub pipeline_cache: bool,
    /// Cooperative matrices enabled (only where an f16 configuration exists).
    pub cooperative_matrix: bool,
    /// Cooperative-matrix configurations the adapter lists.
    pub coop_matrix_configs: Vec<CoopMatrixConfig>,
    /// Workgroup (shared) memory in bytes.
    pub workgroup_memory_bytes: u32,
    /// Invocations per workgroup.
    pub max_invocations_per_workgroup: u32,
    /// Workgroups per dispatch dimension.
    pub max_workgroups_per_dimension: u32,
    /// Largest storage buffer binding in bytes.
    pub max_storage_binding_bytes: u64,
    /// Storage buffers per shader stage.
    pub max_storage_buffers_per_stage: u32,
    /// Largest buffer in bytes.
    pub max_buffer_bytes: u64,
}

impl Capabilities {
    /// Capabilities of a typical software adapter, for tests of pure host logic (tuning).
    pub fn example_lavapipe() -> Capabilities {
        Capabilities {
            backend: "vulkan".into(),
            name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            driver: "llvmpipe".into(),
            driver_info: "Mesa 22.3.6".into(),
            device_type: "cpu".into(),
            subgroup_min_size: 8,
            subgroup_max_size: 8,
            subgroups: true,
            subgroup_barrier: true,
            f16: true,
            timestamps: true,
            timestamps_inside_passes: true,
            pipeline_cache: true,
            cooperative_matrix: false,
            coop_matrix_configs: vec![],
            workgroup_memory_bytes: 32 << 10,
            max_invocations_per_workgroup: 1024,
            max_workgroups_per_dimension: 65535,
            max_storage_binding_bytes: 128 << 20,
            max_storage_buffers_per_stage: 8,
            max_buffer_bytes: 1 << 32,
        }
    }
}

/// How to open a [`Gpu`].
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Substring of the adapter name to require (default: `WGFAISS_ADAPTER`).
    pub adapter: Option<String>,
    /// Config file (default: `WGFAISS_CONFIG`, else the shipped one).
    pub config: Option<ConfigSource>,
    /// Tuning settings from code, keyed by variable name (`WGFAISS_REDUCE_PATH` → `shared`).
    /// They win over the environment.
    pub overrides: BTreeMap<String, String>,
    /// Ignore `WGFAISS_*` tuning variables (tests use this for repeatable settings).
    pub ignore_env: bool,
}

impl GpuOptions {
    /// Adds one tuning override (builder style).
    pub fn with_override(mut self, var: &str, value: impl ToString) -> Self {
        self.overrides.insert(var.to_string(), value.to_string());
        self
    }
}

pub(crate) struct GpuInner {
    pub(crate) adapter: wgpu::Adapter,
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) caps: Capabilities,
    pub(crate) tuning: Tuning,
    pub(crate) kernels: KernelCache,
    /// First uncaptured device error, if any; later calls report it.
    pub(crate) fault: Arc<Mutex<Option<String>>>,
    /// The thread that polls the device for asynchronous readbacks.
    pub(crate) poller: crate::poller::Poller,
    /// Staging buffers kept for reuse.
    pub(crate) staging: crate::staging::StagingPool,
}

/// An open GPU: adapter, device, queue, capabilities, tuning, and the kernel cache.
///
/// Cheap to clone (an `Arc`), `Send + Sync`; clones share the device and the cache.
///
/// ```no_run
/// let gpu = wgfaiss_core::Gpu::new()?;
/// println!("{} ({})", gpu.capabilities().name, gpu.capabilities().backend);
/// # Ok::<(), wgfaiss_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Gpu {
    pub(crate) inner: Arc<GpuInner>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.inner.caps.name)
            .field("backend", &self.inner.caps.backend)
            .finish()
    }
}

fn backend_name(b: wgpu::Backend) -> &'static str {
    match b {
        wgpu::Backend::Vulkan => "vulkan",
        wgpu::Backend::Metal => "metal",
        wgpu::Backend::Dx12 => "dx12",
        wgpu::Backend::Gl => "gl",
        wgpu::Backend::BrowserWebGpu => "webgpu",
        _ => "other",
    }
}

fn device_type_name(t: wgpu::DeviceType) -> &'static str {
    match t {
        wgpu::DeviceType::DiscreteGpu => "discrete",
        wgpu::DeviceType::IntegratedGpu => "integrated",
        wgpu::DeviceType::VirtualGpu => "virtual",
        wgpu::DeviceType::Cpu => "cpu",
        wgpu::DeviceType::Other => "other",
    }
}

fn scalar_name(t: wgpu::CooperativeScalarType) -> String {
    format!("{t:?}").to_ascii_lowercase()
}

/// Rank for choosing among adapters: discrete first, then integrated, virtual, cpu.
fn preference(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

impl Gpu {
    /// Opens the preferred adapter with default options (see [`Gpu::with_options`]).
    pub fn new() -> Result<Gpu> {
        Gpu::with_options(GpuOptions::default())
    }

    /// Opens an adapter: the one whose name contains `options.adapter` (or `WGFAISS_ADAPTER`),
    /// else a discrete GPU, else any. `WGPU_BACKEND` limits the backends searched.
    ///
    /// The device gets the adapter's full limits and, where present, SUBGROUP, SHADER_F16,
    /// TIMESTAMP_QUERY (+INSIDE_PASSES), PIPELINE_CACHE, and EXPERIMENTAL_COOPERATIVE_MATRIX
    /// (only when an f16 configuration is listed).
    pub fn with_options(options: GpuOptions) -> Result<Gpu> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let wanted = options.adapter.clone().or_else(|| {
            std::env::var("WGFAISS_ADAPTER")
                .ok()
                .filter(|s| !s.is_empty())
        });
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        let mut candidates: Vec<wgpu::Adapter> = adapters
            .into_iter()
            .filter(|a| {
                let info = a.get_info();
                // Compute needs a real backend; wgpu's GL path lacks what the kernels use.
                info.backend != wgpu::Backend::Noop
                    && wanted
                        .as_ref()
                        .is_none_or(|w| info.name.contains(w.as_str()))
            })
            .collect();
        candidates.sort_by_key(|a| preference(a.get_info().device_type));
        let adapter = candidates
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoAdapter {
                detail: match &wanted {
                    Some(w) => format!(" whose name contains {w:?} (adapters seen: {names:?})"),
                    None if names.is_empty() => String::new(),
                    None => format!(" (adapters seen but unusable: {names:?})"),
                },
            })?;
        Gpu::from_adapter(adapter, options)
    }

    fn from_adapter(adapter: wgpu::Adapter, options: GpuOptions) -> Result<Gpu> {
        let info = adapter.get_info();
        let available = adapter.features();
        let coop: Vec<CoopMatrixConfig> = adapter
            .cooperative_matrix_properties()
            .into_iter()
            .map(|p| CoopMatrixConfig {
                m: p.m_size,
                n: p.n_size,
                k: p.k_size,
                ab: scalar_name(p.ab_type),
                cr: scalar_name(p.cr_type),
            })
            .collect();
        let coop_f16 = coop.iter().any(|c| c.ab == "f16");
        let mut wanted = wgpu::Features::SUBGROUP
            | wgpu::Features::SUBGROUP_BARRIER
            | wgpu::Features::SHADER_F16
            | wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
            | wgpu::Features::PIPELINE_CACHE;
        if coop_f16 {
            wanted |= wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
        }
        let features = available & wanted;
        let limits = adapter.limits();
        let experimental = if features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX) {
            // SAFETY: wgpu requires opting in to experimental features; the cooperative matrix
            // kernels are validated by naga and checked against CPU references.
            unsafe { wgpu::ExperimentalFeatures::enabled() }
        } else {
            wgpu::ExperimentalFeatures::disabled()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("wgfaiss"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: experimental,
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        }))
        .map_err(|e| Error::RequestDevice {
            adapter: info.name.clone(),
            message: e.to_string(),
        })?;
        let fault: Arc<Mutex<Option<String>>> = Arc::default();
        {
            let fault = fault.clone();
            // wgpu's default handler panics; record the first error instead and report it.
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                let mut f = fault.lock().unwrap_or_else(|p| p.into_inner());
                f.get_or_insert_with(|| e.to_string());
            }));
        }
        {
            let fault = fault.clone();
            device.set_device_lost_callback(move |reason, msg| {
                let mut f = fault.lock().unwrap_or_else(|p| p.into_inner());
                f.get_or_insert_with(|| format!("device lost ({reason:?}): {msg}"));
            });
        }
        let caps = Capabilities {
            backend: backend_name(info.backend).to_string(),
            name: info.name.clone(),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            device_type: device_type_name(info.device_type).to_string(),
            subgroup_min_size: info.subgroup_min_size,
            subgroup_max_size: info.subgroup_max_size,
            subgroups: features.contains(wgpu::Features::SUBGROUP),
            subgroup_barrier: features.contains(wgpu::Features::SUBGROUP_BARRIER),
            f16: features.contains(wgpu::Features::SHADER_F16),
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            timestamps_inside_passes: features
                .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES),
            pipeline_cache: features.contains(wgpu::Features::PIPELINE_CACHE),
            cooperative_matrix: features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX),
            coop_matrix_configs: coop,
            workgroup_memory_bytes: limits.max_compute_workgroup_storage_size,
            max_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            max_storage_binding_bytes: limits.max_storage_buffer_binding_size,
            max_storage_buffers_per_stage: limits.max_storage_buffers_per_shader_stage,
            max_buffer_bytes: limits.max_buffer_size,
        };
        let config = options
            .config
            .clone()
            .unwrap_or_else(ConfigSource::from_env);
        let env = |k: &str| {
            if options.ignore_env {
                None
            } else {
                std::env::var(k).ok().filter(|s| !s.is_empty())
            }
        };
        let tuning = Tuning::resolve(&caps, &config, &env, &options.overrides)?;
        Ok(Gpu {
            inner: Arc::new(GpuInner {
                adapter,
                device,
                queue,
                caps,
                tuning,
                kernels: KernelCache::default(),
                fault,
                poller: Default::default(),
                staging: Default::default(),
            }),
        })
    }

    /// What the adapter and device can do.
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.caps
    }

    /// The resolved tuning entry.
    pub fn tuning(&self) -> &Tuning {
        &self.inner.tuning
    }

    /// The wgpu device, for callers that record their own work.
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// The wgpu adapter.
    pub fn adapter(&self) -> &wgpu::Adapter {
        &self.inner.adapter
    }

    /// Largest storage binding wgfaiss uses: the tuning value capped by the adapter's limit,
    /// rounded down to a multiple of 16 bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        let caps = &self.inner.caps;
        let limit = caps.max_storage_binding_bytes.min(caps.max_buffer_bytes);
        self.inner
            .tuning
            .int("buffers.max_binding_bytes")
            .min(limit)
            & !15
    }

    /// Returns the first device error seen (validation failure, out of memory, device lost).
    /// Once a device has failed, every later operation reports the same error.
    pub fn check_fault(&self) -> Result<()> {
        let f = self.inner.fault.lock().unwrap_or_else(|p| p.into_inner());
        match &*f {
            Some(msg) => Err(Error::Gpu(msg.clone())),
            None => Ok(()),
        }
    }
}
