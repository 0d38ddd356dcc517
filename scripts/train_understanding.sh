#!/usr/bin/env bash
# Reproduces the understanding encoder's style rows from a fresh clone: converts the music21
# corpus (PyPI, pinned; all collections but Palestrina and Josquin), pre-trains the encoder
# twice (random and adversarial masking), fine-tunes the style task four ways (no
# pre-training; random; adversarial; adversarial + mask fine-tuning), and scores all four on
# the test split beside the baselines, into data/runs/understanding/style-evaluation.json.
# Every run resumes where an interrupted one stopped. Two runs go at a time (one per core).
#
#   scripts/train_understanding.sh                                # the recorded recipe
#   PRETRAIN_STEPS=100 STYLE_STEPS=50 scripts/train_understanding.sh   # a quick trial
#   DEVICE=auto scripts/train_understanding.sh    # on a GPU through wgpu when there is one
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_rust
WHOLE=1 ensure_corpus
cargo build -p cadenza-models --locked --bin train-understanding
train="$CARGO_TARGET_DIR/debug/train-understanding"
runs=data/runs/understanding
size=(--d-model "${D_MODEL:-128}" --layers "${LAYERS:-4}" --heads 4 --max-notes 256 --device "${DEVICE:-cpu}")
pretrain() {
    "$train" pretrain --corpus data/corpus --masking "$1" --out "$runs/pretrain-$1" \
        --steps "${PRETRAIN_STEPS:-1200}" --validate-every 200 "${size[@]}" > "$runs/pretrain-$1.log" 2>&1
}
style() {
    local name=$1
    shift
    "$train" style --corpus data/corpus --out "$runs/style-$name" --steps "${STYLE_STEPS:-500}" \
        --validate-every 100 "${size[@]}" "$@" > "$runs/style-$name.log" 2>&1
}
mkdir -p "$runs"
pretrain random & pretrain adversarial & wait
style scratch & style random --pretrained "$runs/pretrain-random" & wait
style adversarial --pretrained "$runs/pretrain-adversarial" &
style adversarial-maskft --pretrained "$runs/pretrain-adversarial" --mask-fraction 0.15 &
wait
"$train" evaluate-style --corpus data/corpus --json "$runs/style-evaluation.json" \
    --model "$runs/style-scratch" --model "$runs/style-random" \
    --model "$runs/style-adversarial" --model "$runs/style-adversarial-maskft" | tee "$runs/style-evaluation.md"
