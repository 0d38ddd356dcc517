#!/usr/bin/env bash
# Builds and opens Cadenza (on the demo song, or on the MIDI file given), installing what a
# fresh Debian/Ubuntu machine lacks first. Extra arguments go to `cadenza`.
# CADENZA_PROFILE=release builds an optimised binary (slower to build, faster to run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_rust
ensure_apt pkg-config libasound2-dev fluid-soundfont-gm \
    libx11-6 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0 libgl1 libegl1 libwayland-client0
profile="${CADENZA_PROFILE:-dev}"
exec cargo run --locked --profile "$profile" -p cadenza -- "$@"
