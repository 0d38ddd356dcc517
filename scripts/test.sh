#!/usr/bin/env bash
# Runs the whole test suite, installing what a fresh Debian/Ubuntu machine lacks first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_rust
# mesa-vulkan-drivers gives a software Vulkan adapter, so the wgpu path is tested without a GPU.
ensure_apt pkg-config libasound2-dev fluid-soundfont-gm python3 python3-venv python3-pip mesa-vulkan-drivers
ensure_python_venv
# The end-to-end tests run the built `cadenza` binary.
cargo build --workspace --locked
cargo test --workspace --locked --no-fail-fast
