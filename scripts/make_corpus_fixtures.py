#!/usr/bin/env python3
"""Converts a few works of the music21 corpus (PyPI package music21==10.5.1) to MIDI.

Writes the demo song (assets/demo/) and the real-file test fixtures (tests/fixtures/corpus/).
Reproducible: `pip install music21==10.5.1 && python3 scripts/make_corpus_fixtures.py`.
Only public-domain works whose encodings music21 ships under its BSD/LGPL terms are used
(no Palestrina, Essen or Josquin encodings, whose terms differ).
"""
import pathlib
import sys

from music21 import corpus, instrument, tempo

ROOT = pathlib.Path(__file__).resolve().parent.parent

# (corpus path, output, instruments per part or None to keep music21's, tempo in BPM or None)
WORKS = [
    ("bach/bwv7.7", ROOT / "assets/demo/bach_bwv7.7.mid",
     [instrument.Violin, instrument.Violin, instrument.Viola, instrument.Violoncello], 76),
    ("bach/bwv66.6", ROOT / "tests/fixtures/corpus/bach_bwv66.6.mid", None, None),
    ("mozart/k80/movement1", ROOT / "tests/fixtures/corpus/mozart_k80_1.mid", None, None),
    ("beethoven/opus18no1/movement2.mxl", ROOT / "tests/fixtures/corpus/beethoven_op18no1_2.mid", None, None),
    ("joplin/maple_leaf_rag", ROOT / "tests/fixtures/corpus/joplin_maple_leaf_rag.mid", None, None),
    ("monteverdi/madrigal.3.1.mxl", ROOT / "tests/fixtures/corpus/monteverdi_madrigal_3_1.mid", None, None),
]


def main() -> int:
    for path, out, instruments, bpm in WORKS:
        score = corpus.parse(path)
        if instruments:
            for part, make in zip(score.parts, instruments):
                for old in part.recurse().getElementsByClass(instrument.Instrument):
                    part.remove(old, recurse=True)
                part.insert(0, make())
        if bpm:
            score.parts[0].insert(0, tempo.MetronomeMark(number=bpm))
        out.parent.mkdir(parents=True, exist_ok=True)
        score.write("midi", fp=str(out))
        print(f"{path} -> {out.relative_to(ROOT)} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
