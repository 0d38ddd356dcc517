#!/usr/bin/env bash
# Transcription benchmarks, each next to basic-pitch 0.4.0 in the same run: the model per 2-s
# window vs onnxruntime (1 thread), live transcription at real-time pace, and note F1 + whole
# command time on corpus pieces rendered with two SoundFonts (FluidR3 and TimGM6mb; TimGM6mb is
# GPL and used here as test data only, never shipped).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_rust
ensure_apt pkg-config libasound2-dev python3 python3-venv fluid-soundfont-gm timgm6mb-soundfont
venv="$CADENZA_CACHE/basic-pitch-venv"
if [ ! -x "$venv/bin/python" ] || ! cmp -s scripts/basic_pitch/requirements.txt "$venv/.requirements"; then
    echo "cadenza setup: creating the basic-pitch environment in $venv"
    rm -rf "$venv" && python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r scripts/basic_pitch/requirements.txt
    cp scripts/basic_pitch/requirements.txt "$venv/.requirements"
fi
export CADENZA_BP_PYTHON="$venv/bin/python"
cargo build --release -p cadenza --locked
cargo bench -p cadenza-models --locked --bench basic_pitch_window
cargo bench -p cadenza-models --locked --bench live_transcription -- 30
out="${TMPDIR:-/tmp}/cadenza-transcription-eval"
"$CADENZA_BP_PYTHON" scripts/basic_pitch/eval_transcription.py --cadenza "$CARGO_TARGET_DIR/release/cadenza" \
    --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2 --soundfont /usr/share/sounds/sf2/TimGM6mb.sf2 \
    --out "$out" tests/fixtures/corpus/*.mid
