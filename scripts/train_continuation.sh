#!/usr/bin/env bash
# Reproduces the shipped continuation model from a fresh clone: converts the music21 corpus
# (PyPI, pinned; all collections but Palestrina and Josquin), trains the transformer, scores it
# on the test split against the n-gram baseline and the style classifier, and copies it into
# assets/models/continuation/. Training resumes where an interrupted run stopped.
#
#   scripts/train_continuation.sh              # the shipped settings (hours on 2 cores)
#   STEPS=100 scripts/train_continuation.sh    # a quick trial
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_rust
WHOLE=1 ensure_corpus
cargo build -p cadenza-models --locked --bin train-continuation
train="$CARGO_TARGET_DIR/debug/train-continuation"
run=data/runs/continuation
"$train" train --corpus data/corpus --out "$run" --steps "${STEPS:-4000}" --validate-every 250
"$train" evaluate --corpus data/corpus --model "$run" --samples 32
mkdir -p assets/models/continuation
cp "$run"/{model.bpk,config.json,training.json,evaluation.json} assets/models/continuation/
echo "shipped model updated in assets/models/continuation/"
