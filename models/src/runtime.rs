//! Choosing the Burn device: wgpu on a real GPU when one exists, Flex on the CPU otherwise.
//!
//! Software adapters (llvmpipe, lavapipe, SwiftShader, WARP) count as no GPU: Burn on them is
//! an order of magnitude slower than Flex and the GL path can deadlock, so they are reported
//! but never chosen automatically.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::tensor::{Device, DeviceKind, Tensor};
use thiserror::Error;

pub use crate::remote::RemoteAddress;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BackendPreference {
    /// wgpu on a hardware adapter when there is one, else the CPU.
    #[default]
    Auto,
    Cpu,
    Wgpu,
    /// A `cadenza serve` server's device; the CPU when it cannot be reached.
    Remote(RemoteAddress),
}

impl BackendPreference {
    /// Whether choosing needs a look at the graphics drivers.
    pub fn may_use_a_local_gpu(&self) -> bool {
        matches!(self, Self::Auto | Self::Wgpu)
    }
}

impl std::str::FromStr for BackendPreference {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("remote://") {
            return RemoteAddress::parse(s).map(Self::Remote);
        }
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            other => Err(format!("unknown backend '{other}' (expected auto, cpu, wgpu or remote://HOST:PORT)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Wgpu,
    Cpu,
    /// A server's device, through Burn's remote backend.
    Remote,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Wgpu => "wgpu",
            Self::Cpu => "CPU (Flex)",
            Self::Remote => "remote server",
        })
    }
}

/// A graphics adapter wgpu can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterInfo {
    pub name: String,
    pub api: String,
    pub device_type: wgpu::DeviceType,
}

impl AdapterInfo {
    /// A CPU rasteriser posing as a GPU.
    pub fn is_software(&self) -> bool {
        let name = self.name.to_ascii_lowercase();
        self.device_type == wgpu::DeviceType::Cpu
            || ["llvmpipe", "lavapipe", "swiftshader", "softpipe", "microsoft basic render"]
                .iter()
                .any(|s| name.contains(s))
    }

    fn device_kind(&self, index_of_kind: usize) -> DeviceKind {
        match self.device_type {
            wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(index_of_kind),
            wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(index_of_kind),
            wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(index_of_kind),
            wgpu::DeviceType::Cpu | wgpu::DeviceType::Other => DeviceKind::DefaultDevice,
        }
    }
}

/// Lists the adapters on the APIs Burn's wgpu backend uses (Vulkan, Metal, DX12). Never
/// panics: a broken driver counts as no adapter. What the drivers print meanwhile is kept off
/// the terminal but for lines that are not known driver noise (see [`QuietDrivers`]).
pub fn probe_adapters() -> Vec<AdapterInfo> {
    let _quiet = QuietDrivers::start();
    catch_unwind(|| {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::PRIMARY,
            ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
        });
        futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY))
            .into_iter()
            .map(|adapter| {
                let info = adapter.get_info();
                AdapterInfo { name: info.name, api: format!("{:?}", info.backend), device_type: info.device_type }
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Lines graphics drivers print while they are probed that say nothing to a musician: Mesa's
/// drivers ask libwayland for a display, which complains on every run without a desktop.
fn is_driver_noise(line: &str) -> bool {
    line.contains("XDG_RUNTIME_DIR is invalid or not set")
}

/// Holds the process's stderr while the drivers are probed (tens of milliseconds) and then
/// passes on every line but the known noise, so nothing else printed meanwhile is lost.
struct QuietDrivers {
    #[cfg(unix)]
    held: Option<gag::BufferRedirect>,
}

impl QuietDrivers {
    fn start() -> Self {
        // Another redirect already active (or no temporary file) leaves stderr as it is.
        Self {
            #[cfg(unix)]
            held: gag::BufferRedirect::stderr().ok(),
        }
    }
}

impl Drop for QuietDrivers {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(mut held) = self.held.take() {
            use std::io::Read;
            let mut text = String::new();
            let _ = held.read_to_string(&mut text);
            drop(held);
            for line in text.lines().filter(|line| !is_driver_noise(line)) {
                eprintln!("{line}");
            }
        }
    }
}

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("the {backend} backend failed its start-up check: {reason}")]
    SmokeTest { backend: BackendKind, reason: String },
}

/// The device models run on, and why it was chosen.
#[derive(Debug, Clone)]
pub struct MlRuntime {
    pub kind: BackendKind,
    pub device: Device,
    /// The adapter in use, for wgpu.
    pub adapter: Option<String>,
    /// One line for the status bar: what was chosen and why.
    pub reason: String,
}

/// Picks the backend for `preference` given the adapters found, then checks it computes.
/// A wgpu device that fails its check falls back to the CPU with the failure in `reason`.
pub fn select_backend(preference: BackendPreference, adapters: &[AdapterInfo]) -> MlRuntime {
    let hardware = adapters.iter().find(|a| !a.is_software());
    let runtime = match (preference, hardware) {
        (BackendPreference::Cpu, _) => cpu("CPU requested".into()),
        (BackendPreference::Remote(address), _) => {
            match crate::remote::connect(&address, crate::remote::CONNECT_TIMEOUT) {
                Ok(device) => MlRuntime {
                    kind: BackendKind::Remote,
                    device,
                    adapter: Some(address.to_string()),
                    reason: format!("the server at {address}"),
                },
                Err(err) => cpu(format!("{err}; running models on the CPU")),
            }
        }
        (_, Some(adapter)) => {
            let index = adapters
                .iter()
                .filter(|a| a.device_type == adapter.device_type && !a.is_software())
                .position(|a| a == adapter)
                .unwrap_or(0);
            MlRuntime {
                kind: BackendKind::Wgpu,
                device: Device::wgpu(adapter.device_kind(index)),
                adapter: Some(format!("{} ({})", adapter.name, adapter.api)),
                reason: format!("GPU adapter {} on {}", adapter.name, adapter.api),
            }
        }
        (BackendPreference::Wgpu, None) => cpu(no_gpu_reason(adapters, "wgpu requested but ")),
        (BackendPreference::Auto, None) => cpu(no_gpu_reason(adapters, "")),
    };
    match smoke_test(&runtime) {
        Ok(()) => runtime,
        Err(err) if runtime.kind != BackendKind::Cpu => cpu(format!("{err}; using the CPU")),
        Err(err) => MlRuntime { reason: format!("{} ({err})", runtime.reason), ..runtime },
    }
}

fn cpu(reason: String) -> MlRuntime {
    MlRuntime { kind: BackendKind::Cpu, device: Device::flex(), adapter: None, reason }
}

fn no_gpu_reason(adapters: &[AdapterInfo], prefix: &str) -> String {
    match adapters.first() {
        None => format!("{prefix}no GPU adapter found; running models on the CPU"),
        Some(a) => format!("{prefix}only a software adapter ({}) found; running models on the CPU", a.name),
    }
}

/// Runs a tiny computation on the device so a broken driver shows up at start, not mid-job.
pub fn smoke_test(runtime: &MlRuntime) -> Result<(), RuntimeError> {
    let device = runtime.device.clone();
    let result = catch_unwind(AssertUnwindSafe(move || {
        let a = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &device);
        let b = Tensor::<2>::from_floats([[0.5, -1.0], [2.0, 0.25]], &device);
        let total: f32 = a.matmul(b).sum().into_scalar();
        total
    }));
    match result {
        // [[1,2],[3,4]] × [[.5,-1],[2,.25]] = [[4.5,-.5],[9.5,-2]] → sum 11.5
        Ok(total) if (total - 11.5).abs() < 1e-4 => Ok(()),
        Ok(total) => Err(RuntimeError::SmokeTest {
            backend: runtime.kind,
            reason: format!("2×2 matmul gave {total}, not 11.5"),
        }),
        Err(panic) => Err(RuntimeError::SmokeTest { backend: runtime.kind, reason: panic_message(&panic) }),
    }
}

/// The text of a caught panic.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with no message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, device_type: wgpu::DeviceType) -> AdapterInfo {
        AdapterInfo { name: name.into(), api: "Vulkan".into(), device_type }
    }

    #[test]
    fn cpu_is_chosen_without_adapters_and_computes() {
        let rt = select_backend(BackendPreference::Auto, &[]);
        assert_eq!(rt.kind, BackendKind::Cpu);
        assert!(rt.reason.contains("no GPU adapter"), "{}", rt.reason);
        smoke_test(&rt).unwrap();
    }

    #[test]
    fn software_adapters_are_not_gpus() {
        let lavapipe = adapter("llvmpipe (LLVM 15.0.6, 256 bits)", wgpu::DeviceType::Cpu);
        assert!(lavapipe.is_software());
        let rt = select_backend(BackendPreference::Auto, std::slice::from_ref(&lavapipe));
        assert_eq!(rt.kind, BackendKind::Cpu);
        assert!(rt.reason.contains("software adapter (llvmpipe"), "{}", rt.reason);
        let rt = select_backend(BackendPreference::Wgpu, &[lavapipe]);
        assert!(rt.reason.starts_with("wgpu requested but"), "{}", rt.reason);
        assert!(!adapter("NVIDIA GeForce RTX 4070", wgpu::DeviceType::DiscreteGpu).is_software());
    }

    #[test]
    fn cpu_preference_wins_over_a_gpu() {
        let gpu = adapter("Radeon", wgpu::DeviceType::DiscreteGpu);
        assert_eq!(select_backend(BackendPreference::Cpu, &[gpu]).kind, BackendKind::Cpu);
    }

    /// Keeps the wgpu path honest without a GPU: on a software Vulkan adapter (Mesa's lavapipe,
    /// which scripts/test.sh installs) the start-up check must compute the right answer.
    #[test]
    fn wgpu_path_computes_on_a_software_adapter() {
        let Some(software) = probe_adapters().into_iter().find(AdapterInfo::is_software) else {
            eprintln!("skipped: no software wgpu adapter (install mesa-vulkan-drivers)");
            return;
        };
        let runtime = MlRuntime {
            kind: BackendKind::Wgpu,
            device: Device::wgpu(DeviceKind::Cpu),
            adapter: Some(software.name.clone()),
            reason: "test".into(),
        };
        smoke_test(&runtime).unwrap_or_else(|e| panic!("wgpu on {}: {e}", software.name));
    }

    #[test]
    fn preference_parses() {
        assert_eq!("CPU".parse::<BackendPreference>(), Ok(BackendPreference::Cpu));
        assert!("tpu".parse::<BackendPreference>().is_err());
    }
}
