#!/usr/bin/env bash
# MIDI import/export benchmark: criterion for Cadenza, then symusic on the same files, as a table.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
venv="$CADENZA_CACHE/bench-venv"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/python" -m pip install -q symusic==0.6.0; }
# The benchmark needs no ML runtime; leaving it out keeps Burn out of the release build.
cargo bench --locked -p cadenza-engine --no-default-features --bench midi_io -- --noplot
"$venv/bin/python" scripts/bench_midi.py
