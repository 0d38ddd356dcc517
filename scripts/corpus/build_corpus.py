#!/usr/bin/env python3
"""Converts the corpus inside the music21 package (PyPI, pinned in requirements.txt beside this
file) into standard MIDI files plus a manifest, once. Cadenza's Rust code reads only the MIDI
files and the manifest.

  python3 -m venv venv && venv/bin/pip install --no-deps -r scripts/corpus/requirements.txt
  venv/bin/python scripts/corpus/build_corpus.py --out data/corpus [--jobs 2] [--limit N]
  venv/bin/python scripts/corpus/build_corpus.py --out data/corpus --merge DIR... (join conversions
                                        of different --collections into one corpus)

Writes, under --out (git-ignored):
  midi/<collection>/<file>[-<n>].mid   one file per work (an ABC/Humdrum collection file holds many)
  manifest.jsonl                        one line per work: id, collection, terms, composer, title,
                                        parts, GM programs, time signature, key, bars, notes,
                                        quarter length, split, midi path
  failed.jsonl                          works music21 could not read or write, with the reason
  SUMMARY.md                            counts per collection and split, size, time taken
The split is by work and deterministic: a hash of the work's id, 80/10/10, so it never mixes
windows of one work across splits and does not move when other works are added.
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import pathlib
import sys
import time
import traceback

# Each collection's terms, recorded per work and repeated in the model cards of models trained
# on it. The music21 corpus is BSD-licensed as a whole, but some encodings carry their own terms.
TERMS = {
    "essenFolksong": "Essen Folksong Collection (EsAC): non-commercial use only",
    "palestrina": "Palestrina encodings: copyrighted by their encoders; research use only",
    "josquin": "Josquin encodings (JRP): GPL-2",
}
DEFAULT_TERMS = "music21 corpus (BSD-3-Clause; the music is in the public domain)"
# Collections of single-line tunes (a "traditional" style for conditioning).
FOLK = {"essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "nottingham-dataset", "miscFolk"}
# Not music to learn from: Roman-numeral analyses and exercise sheets.
SKIP_SUFFIXES = {".rntxt"}
SKIP_COLLECTIONS = {"theoryExercises", "demos"}


def split_of(work_id):
    bucket = int(hashlib.sha256(work_id.encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < 80 else "valid" if bucket < 90 else "test"


def describe(score):
    """Manifest fields of one parsed score."""
    from music21 import instrument, key, meter

    parts = list(score.parts) or [score]
    programs = []
    for part in parts:
        inst = part.getInstrument(returnDefault=True)
        programs.append(inst.midiProgram if inst.midiProgram is not None else 0)
    time_sigs = list(score.recurse().getElementsByClass(meter.TimeSignature))
    keys = list(score.recurse().getElementsByClass(key.KeySignature))
    first_key = keys[0] if keys else None
    if isinstance(first_key, key.Key):
        key_name = f"{first_key.tonic.name} {first_key.mode}"
    elif first_key is not None:
        key_name = f"{first_key.sharps} sharps"
    else:
        key_name = None
    notes = sum(len(n.pitches) for n in score.recurse().notes)
    measures = len(parts[0].getElementsByClass("Measure")) if parts else 0
    md = score.metadata
    return {
        "composer": (md.composer if md and md.composer else None),
        "title": (md.title if md and md.title else None),
        "parts": len(parts),
        "programs": programs,
        "time_signature": time_sigs[0].ratioString if time_sigs else None,
        "key": key_name,
        "bars": measures,
        "notes": notes,
        "quarter_length": float(score.highestTime),
    }


def unshare_signatures(score):
    """Gives every time and key signature its own object. After repeat expansion music21 can
    leave one TimeSignature in two places, and its MIDI writer then fails with "... is already
    found in this Stream" (about 1,000 Essen, O'Neill and Aird tunes)."""
    import copy
    from music21 import key, meter

    for cls in (meter.TimeSignature, key.KeySignature):
        for element in list(score.recurse().getElementsByClass(cls)):
            for site in list(element.sites.get()):
                if hasattr(site, "replace") and element in site:
                    site.replace(element, copy.deepcopy(element))


def write_midi(score, target):
    """Writes `score` as MIDI, working around the shared-signature fault when it strikes."""
    from music21.exceptions21 import StreamException

    try:
        score.write("midi", fp=str(target))
    except StreamException as e:
        if "already found in this Stream" not in str(e):
            raise
        unshare_signatures(score)
        score.write("midi", fp=str(target))


def convert(task):
    """Parses one corpus file and writes each work in it; returns (rows, failures)."""
    path, root, out = task
    from music21 import converter, stream

    rel = pathlib.Path(path).relative_to(root)
    collection = rel.parts[0]
    base = str(rel.with_suffix("")).replace(os.sep, "/")
    rows, failures = [], []
    try:
        parsed = converter.parse(path)
    except Exception as e:  # music21 raises many kinds; the file is reported and skipped
        return rows, [{"file": str(rel), "reason": f"parse: {type(e).__name__}: {e}"}]
    works = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    for n, score in enumerate(works):
        work_id = base if len(works) == 1 else f"{base}#{n + 1}"
        midi_rel = pathlib.Path("midi") / (base + ("" if len(works) == 1 else f"-{n + 1:04d}") + ".mid")
        try:
            info = describe(score)
            if info["notes"] == 0:
                failures.append({"file": str(rel), "work": work_id, "reason": "no notes"})
                continue
            target = out / midi_rel
            target.parent.mkdir(parents=True, exist_ok=True)
            write_midi(score, target)
        except Exception as e:
            failures.append({"file": str(rel), "work": work_id, "reason": f"{type(e).__name__}: {e}"})
            continue
        rows.append({
            "id": work_id,
            "collection": collection,
            "terms": TERMS.get(collection, DEFAULT_TERMS),
            "style": "traditional" if collection in FOLK else collection,
            **info,
            "split": split_of(work_id),
            "midi": str(midi_rel),
        })
    return rows, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, default=None, help="convert only the first N corpus files (a smoke test)")
    parser.add_argument("--collections", nargs="*", help="only these collections")
    parser.add_argument("--merge", nargs="*", type=pathlib.Path,
                        help="join these converted corpora into --out instead of converting")
    args = parser.parse_args()
    if args.merge:
        return merge(args.out, args.merge)

    import music21
    from music21 import corpus

    started = time.time()
    paths = sorted(str(p) for p in corpus.getPaths())
    root = os.path.commonpath(paths)
    paths = [p for p in paths
             if pathlib.Path(p).suffix not in SKIP_SUFFIXES
             and pathlib.Path(p).relative_to(root).parts[0] not in SKIP_COLLECTIONS
             and (not args.collections or pathlib.Path(p).relative_to(root).parts[0] in args.collections)]
    # A work encoded twice (bach/bwv281.krn and .mxl) would share one id and one MIDI path:
    # keep the first encoding and report the other.
    duplicates, stems = [], set()
    for p in list(paths):
        stem = str(pathlib.Path(p).relative_to(root).with_suffix(""))
        if stem in stems:
            paths.remove(p)
            duplicates.append({"file": str(pathlib.Path(p).relative_to(root)), "reason": "another encoding of this work"})
        stems.add(stem)
    if args.limit:
        paths = paths[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    tasks = [(p, root, args.out) for p in paths]
    rows, failures = [], duplicates
    with multiprocessing.Pool(max(1, args.jobs)) as pool:
        for done, (r, f) in enumerate(pool.imap_unordered(convert, tasks, chunksize=4), 1):
            rows.extend(r)
            failures.extend(f)
            if done % 50 == 0 or done == len(tasks):
                print(f"\r{done}/{len(tasks)} files, {len(rows)} works, {len(failures)} failed, "
                      f"{time.time() - started:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    digest = write_manifest(args.out, rows, failures)
    write_summary(args.out, rows, failures, time.time() - started, music21.__version__, digest, args.jobs)
    print(f"{len(rows)} works, {len(failures)} failed, manifest sha256 {digest}", file=sys.stderr)


def write_manifest(out, rows, failures):
    """Writes manifest.jsonl, failed.jsonl and manifest.sha256; returns the digest."""
    rows.sort(key=lambda r: r["id"])
    failures.sort(key=lambda f: (f["file"], f.get("work", "")))
    manifest = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
    (out / "manifest.jsonl").write_text(manifest, encoding="utf-8")
    (out / "failed.jsonl").write_text(
        "".join(json.dumps(f, sort_keys=True, ensure_ascii=False) + "\n" for f in failures), encoding="utf-8")
    digest = hashlib.sha256(manifest.encode("utf-8")).hexdigest()
    (out / "manifest.sha256").write_text(digest + "\n")
    return digest


def merge(out, sources):
    """Joins corpora converted separately (each from its own --collections) into `out`, linking
    their MIDI files rather than copying them. A work id must not appear in two sources."""
    import music21
    import shutil

    rows, failures, seen, seconds = [], [], set(), 0.0
    for source in sources:
        for line in (source / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["id"] in seen:
                # Conversions made before duplicate encodings were skipped list such a work twice.
                print(f"{row['id']} appears twice; kept its first row", file=sys.stderr)
                continue
            seen.add(row["id"])
            target = out / row["midi"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                try:
                    os.link(source / row["midi"], target)
                except OSError:
                    shutil.copyfile(source / row["midi"], target)
            rows.append(row)
        failed = source / "failed.jsonl"
        if failed.exists():
            failures.extend(json.loads(l) for l in failed.read_text(encoding="utf-8").splitlines())
        summary = (source / "SUMMARY.md").read_text(encoding="utf-8") if (source / "SUMMARY.md").exists() else ""
        if " min " in summary:
            seconds += 60 * float(summary.split("Converted in ")[1].split(" min")[0])
    digest = write_manifest(out, rows, failures)
    write_summary(out, rows, failures, seconds, music21.__version__, digest, "the sources'")
    print(f"{len(rows)} works from {len(sources)} corpora, manifest sha256 {digest}", file=sys.stderr)


def write_summary(out, rows, failures, seconds, version, digest, jobs):
    from collections import Counter, defaultdict

    per = defaultdict(Counter)
    notes = Counter()
    for r in rows:
        per[r["collection"]][r["split"]] += 1
        notes[r["collection"]] += r["notes"]
    size = sum(f.stat().st_size for f in (out / "midi").rglob("*.mid"))
    lines = [
        f"# music21 {version} corpus as MIDI",
        "",
        f"{len(rows)} works, {sum(notes.values()):,} notes, {size / 1e6:.1f} MB of MIDI; "
        f"{len(failures)} works or files skipped (failed.jsonl). Converted in {seconds / 60:.1f} min "
        f"with {jobs} processes. manifest.jsonl sha256 `{digest}`.",
        "",
        "| collection | works | train | valid | test | notes | terms |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in sorted(per):
        s = per[c]
        lines.append(f"| {c} | {sum(s.values())} | {s['train']} | {s['valid']} | {s['test']} | {notes[c]:,} | "
                     f"{TERMS.get(c, DEFAULT_TERMS)} |")
    (out / "SUMMARY.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
