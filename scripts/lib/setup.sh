# Shared set-up for scripts/run.sh and scripts/test.sh: installs what a fresh Debian/Ubuntu
# machine lacks, idempotently. Sourced, not run.

CADENZA_CACHE="${CADENZA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cadenza}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "cadenza setup: need root to run: $*" >&2; return 1; fi
}

# ensure_apt PKG...: installs the Debian packages that are not installed yet.
ensure_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        echo "cadenza setup: please install: ${missing[*]}" >&2
        return 1
    fi
    echo "cadenza setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
    if ! command -v cargo >/dev/null; then
        echo "cadenza setup: Rust is missing. Install it with rustup (https://rustup.rs), Rust 1.95 or newer." >&2
        return 1
    fi
}

# ensure_python_venv: a virtualenv with the pinned packages the tests use (pretty_midi and mido
# read and write MIDI files for the interop tests). Sets CADENZA_PYTHON.
ensure_python_venv() {
    local venv="$CADENZA_CACHE/venv" want
    want="$(cat scripts/requirements-test.txt)"
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$want" ]; then
        echo "cadenza setup: creating the Python test environment in $venv"
        rm -rf "$venv"
        mkdir -p "$CADENZA_CACHE"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
        printf '%s' "$want" > "$venv/.requirements"
    fi
    export CADENZA_PYTHON="$venv/bin/python"
}

# ensure_corpus: the music21 corpus converted to MIDI (scripts/corpus/build_corpus.py, music21
# pinned) in data/corpus-melody (the tune collections and the Bach chorales, for MusicVAE) and,
# with WHOLE=1, also data/corpus (those plus the composers' collections, for continuation).
# Palestrina (copyrighted encodings) and Josquin (GPL-2) are left out of both.
ensure_corpus() {
    ensure_apt python3 python3-venv
    local venv="$CADENZA_CACHE/corpus-venv"
    if [ ! -x "$venv/bin/python" ] || ! cmp -s scripts/corpus/requirements.txt "$venv/.requirements"; then
        rm -rf "$venv" && python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r scripts/corpus/requirements.txt
        cp scripts/corpus/requirements.txt "$venv/.requirements"
    fi
    local build="$venv/bin/python scripts/corpus/build_corpus.py --jobs $(nproc)"
    if [ ! -f data/corpus-melody/manifest.jsonl ]; then
        $build --out data/corpus-melody \
            --collections airdsAirs bach essenFolksong oneills1850 ryansMammoth nottingham-dataset miscFolk
    fi
    if [ "${WHOLE:-0}" = 1 ] && [ ! -f data/corpus/manifest.jsonl ]; then
        [ -f data/corpus-extra/manifest.jsonl ] || $build --out data/corpus-extra \
            --collections beach beethoven chopin ciconia corelli cpebach handel haydn johnson_j_r joplin \
            leadSheet liliuokalani luca lusitano monteverdi mozart schoenberg schubert schumann_clara \
            schumann_robert trecento verdi weber webern
        $build --out data/corpus --merge data/corpus-melody data/corpus-extra
    fi
}
