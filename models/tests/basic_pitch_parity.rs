//! Parity of the Burn port with onnxruntime running the published nmp.onnx, on windows
//! synthesised by `scripts/basic_pitch/make_fixtures.py`: every output of every window within
//! 1e-4 (the bound): Cadenza's CPU kernels, and the Burn module on Flex and on wgpu.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use cadenza_models::basic_pitch::{BasicPitch, WINDOW_SAMPLES, read_f32};

fn repo_file(relative: &str) -> PathBuf {
    // Found at run time: a shared target directory may hold a test built in another checkout.
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(relative)
}

struct Fixture {
    input: Vec<f32>,
    windows: usize,
    outputs: Vec<(&'static str, Vec<f32>, usize)>,
}

fn fixture() -> Fixture {
    let bytes = std::fs::read(repo_file("tests/fixtures/basic_pitch_windows.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let floats = |name: &str| read_f32(&st, name).unwrap();
    let (input, shape) = floats("input");
    assert_eq!(shape[1], WINDOW_SAMPLES);
    let outputs = ["note", "onset", "contour"]
        .into_iter()
        .map(|name| {
            let (values, shape) = floats(name);
            (name, values, shape[2])
        })
        .collect();
    Fixture { input, windows: shape[0], outputs }
}

/// The weights built into the library (the same file the notes test loads from disk).
fn model(device: &Device) -> BasicPitch {
    BasicPitch::shipped(device).unwrap()
}

/// The Burn module on `device`: note, onset and contour of every window, concatenated.
fn burn_outputs(device: &Device, f: &Fixture) -> [Vec<f32>; 3] {
    let audio = Tensor::<2>::from_data(TensorData::new(f.input.clone(), [f.windows, WINDOW_SAMPLES]), device);
    let out = model(device).forward(audio);
    [out.note, out.onset, out.contour].map(|t| t.into_data().try_to_vec::<f32>().unwrap())
}

fn check(label: &str, f: &Fixture, ours: [Vec<f32>; 3]) {
    for ((name, reference, bins), mine) in f.outputs.iter().zip(ours) {
        assert_eq!(mine.len(), reference.len(), "{name}: output size");
        let per_window = reference.len() / f.windows;
        for w in 0..f.windows {
            let range = w * per_window..(w + 1) * per_window;
            let worst =
                mine[range.clone()].iter().zip(&reference[range]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            println!("{label}: {name:8} window {w} ({bins} bins): max |cadenza - onnxruntime| = {worst:.2e}");
            assert!(worst <= 1e-4, "{label}: {name} window {w}: max difference {worst:e} > 1e-4");
        }
    }
}

/// Cadenza's CPU path (the SIMD kernels `run_windows` uses on the CPU).
#[test]
fn cpu_kernels_match_onnxruntime() {
    let f = fixture();
    let cpu = model(&Device::flex()).cpu();
    let mut ours: [Vec<f32>; 3] = Default::default();
    for window in f.input.chunks_exact(WINDOW_SAMPLES) {
        let frames = cpu.forward(window);
        ours[0].extend(frames.note);
        ours[1].extend(frames.onset);
        ours[2].extend(frames.contour);
    }
    check("cpu kernels", &f, ours);
}

/// Computing only some frames (what stitching keeps, or the few a live step needs) gives
/// exactly the full pass's values there.
#[test]
fn cpu_kernels_on_some_frames_equal_the_full_pass_there() {
    use cadenza_models::basic_pitch::{CONTOUR_BINS, NOTE_BINS, stitch::KEPT};
    let f = fixture();
    let cpu = model(&Device::flex()).cpu();
    let window = &f.input[..WINDOW_SAMPLES];
    let full = cpu.forward(window);
    for frames in [KEPT, 0..3, 100..172, 170..172] {
        let part = cpu.forward_frames(window, frames.clone());
        for (name, bins, a, b) in [
            ("note", NOTE_BINS, &part.note, &full.note),
            ("onset", NOTE_BINS, &part.onset, &full.onset),
            ("contour", CONTOUR_BINS, &part.contour, &full.contour),
        ] {
            let rows = frames.start * bins..frames.end * bins;
            assert!(a[rows.clone()] == b[rows], "{name} differs in frames {frames:?}");
            assert_eq!(a.len(), b.len());
        }
    }
}

#[test]
fn burn_module_matches_onnxruntime_on_flex() {
    let f = fixture();
    check("burn flex", &f, burn_outputs(&Device::flex(), &f));
}

/// The wgpu path on whatever adapter exists: a GPU, or Mesa's lavapipe (software Vulkan,
/// installed by scripts/test.sh) on machines without one.
#[test]
fn matches_onnxruntime_on_wgpu() {
    use cadenza_models::{AdapterInfo, probe_adapters};
    let adapters = probe_adapters();
    let Some(adapter) =
        adapters.iter().find(|a| !a.is_software()).or_else(|| adapters.iter().find(|a| a.is_software()))
    else {
        eprintln!("skipped: no wgpu adapter");
        return;
    };
    let kind = if AdapterInfo::is_software(adapter) {
        burn::tensor::DeviceKind::Cpu
    } else {
        burn::tensor::DeviceKind::DefaultDevice
    };
    println!("wgpu adapter: {} ({})", adapter.name, adapter.api);
    let f = fixture();
    check("burn wgpu", &f, burn_outputs(&Device::wgpu(kind), &f));
}
