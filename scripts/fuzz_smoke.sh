#!/usr/bin/env bash
# A short fuzz run of every importer, for CI: each libFuzzer target replays its seeds and the
# findings kept in tests/fixtures/fuzz/TARGET/ and then mutates for FUZZ_SECONDS (default 45)
# seconds. A crash, a timeout or a leak fails the run and leaves the input in fuzz/artifacts/.
# The long runs (hours) are the README's `cargo fuzz run` commands; this one catches a change
# that breaks an importer on the inputs the fuzzers already know.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-45}"
# cargo-fuzz's flags are nightly-only; RUSTC_BOOTSTRAP lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
target_dir="${CADENZA_FUZZ_TARGET_DIR:-/var/tmp/cadenza-fuzz-target}"
cd fuzz
python3 make_audio_seeds.py seeds/audio >/dev/null
cargo fuzz build -O --target-dir "$target_dir"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
smoke() {
    local target="$1"
    shift
    mkdir -p "$scratch/$target"
    echo "fuzz smoke: $target for ${seconds} s"
    # The first folder receives what the run finds; the seeds and kept findings are only read.
    local status=0
    cargo fuzz run -O --target-dir "$target_dir" "$target" "$scratch/$target" "$@" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3000 -print_final_stats=1 \
        >"$scratch/$target.log" 2>&1 || status=$?
    grep -E "^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+== ERROR|SUMMARY|Done)" "$scratch/$target.log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$scratch/$target.log"
        echo "fuzz smoke: $target failed (the input is in fuzz/artifacts/$target/)" >&2
        return "$status"
    fi
}
smoke import_smf seeds ../tests/fixtures/fuzz/import_smf
smoke import_audio seeds/audio ../tests/fixtures/fuzz/import_audio ../tests/fixtures/audio
smoke import_project seeds/project
