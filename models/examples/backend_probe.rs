//! Prints the adapters wgpu sees, the backend Cadenza would choose, and (with `--software`)
//! runs the start-up check on a software adapter too, to exercise the wgpu path without a GPU.

use cadenza_models::runtime::{BackendKind, MlRuntime, smoke_test};
use cadenza_models::{BackendPreference, probe_adapters, select_backend};

fn main() {
    let adapters = probe_adapters();
    for a in &adapters {
        println!("adapter: {} on {} ({:?}, software: {})", a.name, a.api, a.device_type, a.is_software());
    }
    let chosen = select_backend(BackendPreference::Auto, &adapters);
    println!("chosen: {} — {}", chosen.kind, chosen.reason);
    if std::env::args().any(|a| a == "--software") && !adapters.is_empty() {
        let runtime = MlRuntime {
            kind: BackendKind::Wgpu,
            device: burn::tensor::Device::wgpu(burn::tensor::DeviceKind::Cpu),
            adapter: Some(adapters[0].name.clone()),
            reason: "forced".into(),
        };
        let start = std::time::Instant::now();
        println!("wgpu on {}: {:?} in {:.1?}", adapters[0].name, smoke_test(&runtime), start.elapsed());
    }
}
