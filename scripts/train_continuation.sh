#!/usr/bin/env bash
# Reproduces the shipped continuation model from a fresh clone: converts the music21 corpus
# (PyPI, pinned; all collections but Palestrina and Josquin), trains the transformer, scores it
# on the test split against the n-gram baseline and the style classifier, and copies it into
# assets/models/continuation/. Training resumes where an interrupted run stopped.
#
# The shipped model was first trained 4,000 steps on the first style vocabulary (one style per
# composer), then moved to the current styles (composers with a handful of works grouped into
# "classical") and trained on. This script does the same: the first model's weights come
# from the git history (they are what this script made at commit 566fa3b), so it needs a git
# clone. FROM_SCRATCH=1 trains the current vocabulary from nothing instead (about two hours).
#
#   scripts/train_continuation.sh              # the shipped recipe
#   STEPS=4100 scripts/train_continuation.sh   # a quick trial (100 steps after the move)
#   DEVICE=auto scripts/train_continuation.sh   # on a GPU through wgpu when there is one (cpu by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_rust
WHOLE=1 ensure_corpus
cargo build -p cadenza-models --locked --bin train-continuation
train="$CARGO_TARGET_DIR/debug/train-continuation"
run=data/runs/continuation_v2
if [[ -z "${FROM_SCRATCH:-}" && ! -f "$run/training.json" ]]; then
    v1=data/runs/continuation_v1
    mkdir -p "$v1"
    for file in model.bpk config.json training.json; do
        git show "566fa3b:assets/models/continuation/$file" > "$v1/$file"
    done
    "$train" regroup --from "$v1" --out "$run"
fi
"$train" train --corpus data/corpus --out "$run" --steps "${STEPS:-5500}" --validate-every 250 --device "${DEVICE:-cpu}"
"$train" evaluate --corpus data/corpus --model "$run" --samples 32
"$train" evaluate --corpus data/corpus --model "$run" --samples 32 --validation
mkdir -p assets/models/continuation
cp "$run"/{model.bpk,config.json,training.json,evaluation.json,evaluation-valid.json} assets/models/continuation/
echo "shipped model updated in assets/models/continuation/"
