//! Turns the safetensors file that `scripts/basic_pitch/convert_weights.py` extracts from the
//! basic-pitch 0.4.0 wheel into the Burn record Cadenza ships and loads.
//!
//!   cargo run -p cadenza-models --bin convert-basic-pitch -- IN.safetensors OUT.bpk

use std::process::ExitCode;

use burn::module::Module;
use burn::tensor::Device;
use cadenza_models::basic_pitch::load_safetensors;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: convert-basic-pitch IN.safetensors OUT.bpk");
        return ExitCode::from(2);
    };
    let device = Device::flex();
    let result = std::fs::read(input)
        .map_err(|e| format!("{input}: {e}"))
        .and_then(|bytes| load_safetensors(&bytes, &device).map_err(|e| format!("{input}: {e}")))
        .and_then(|model| model.save_file(output).map_err(|e| format!("{output}: {e}")));
    match result {
        Ok(()) => {
            println!("wrote {output}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("convert-basic-pitch: error: {err}");
            ExitCode::FAILURE
        }
    }
}
