#!/usr/bin/env python3
"""Times symusic on the files engine/benches/midi_io.rs wrote, reads Cadenza's criterion
estimates for the same files, and prints a table with the ratio (symusic time / Cadenza time:
above 1 means Cadenza is faster). Run through scripts/bench_midi.sh."""
import json
import os
import pathlib
import statistics
import time

import symusic

target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target"))
files = sorted((target / "bench-midi").glob("*.mid"))


def best_of(fn, repeats=15):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cadenza_seconds(group, name):
    est = json.loads((target / "criterion" / group / name / "new" / "estimates.json").read_text())
    return est["median"]["point_estimate"] / 1e9


print(f"symusic {symusic.__version__}; Cadenza figures from criterion (median), symusic median of 15")
print(f"{'file':<20} {'MB':>6} {'notes':>8} | {'op':<6} {'Cadenza MB/s':>12} {'Mnotes/s':>9} {'symusic MB/s':>12} {'ratio':>6}")
for path in files:
    data = path.read_bytes()
    score = symusic.Score.from_midi(data)
    notes = sum(len(t.notes) for t in score.tracks)
    mb = len(data) / 1e6
    ours_in, ours_out = cadenza_seconds("import", path.stem), cadenza_seconds("export", path.stem)
    theirs_in = best_of(lambda: symusic.Score.from_midi(data))
    theirs_out = best_of(lambda: score.dumps_midi())
    for op, ours, theirs in (("import", ours_in, theirs_in), ("export", ours_out, theirs_out)):
        print(f"{path.stem:<20} {mb:>6.2f} {notes:>8} | {op:<6} {mb / ours:>12.1f} {notes / ours / 1e6:>9.2f} {mb / theirs:>12.1f} {theirs / ours:>6.2f}")
