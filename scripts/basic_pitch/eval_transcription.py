#!/usr/bin/env python3
"""Transcription quality and whole-command speed: Cadenza vs basic-pitch 0.4.0 on audio rendered
from corpus MIDI with several SoundFonts.

For every MIDI file and SoundFont: `cadenza render` makes the audio; basic-pitch (its own
`predict`, on onnxruntime) and `cadenza transcribe` (default mode and --compat) transcribe it;
mir_eval scores each against the MIDI's notes: note F1 by onset (pitch right, onset within
50 ms) and with offsets (mir_eval's default 20 % / 50 ms rule). Then both command-line tools are
timed end to end (process start to MIDI written) on the first 60 s of the longest render.

  python scripts/basic_pitch/eval_transcription.py --cadenza target/release/cadenza \
      --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2 --soundfont /usr/share/sounds/sf2/TimGM6mb.sf2 \
      --out /tmp/cadenza-eval tests/fixtures/corpus/*.mid

Needs scripts/basic_pitch/requirements.txt (basic-pitch, onnxruntime, mir_eval, pretty_midi).
Prints a Markdown table; exits non-zero if a tool fails.
"""
import argparse
import pathlib
import subprocess
import sys
import time

import mir_eval
import numpy as np
import pretty_midi
import soundfile

ONSET_TOLERANCE = 0.05


def reference_notes(midi_path):
    midi = pretty_midi.PrettyMIDI(str(midi_path))
    notes = [n for inst in midi.instruments if not inst.is_drum for n in inst.notes if n.end > n.start]
    return to_arrays([(n.start, n.end, n.pitch) for n in notes])


def to_arrays(notes):
    notes = sorted(notes)
    intervals = np.array([[s, max(e, s + 1e-3)] for s, e, _ in notes]).reshape(-1, 2)
    pitches = np.array([pretty_midi.note_number_to_hz(p) for _, _, p in notes])
    return intervals, pitches


def midi_notes(path):
    midi = pretty_midi.PrettyMIDI(str(path))
    return to_arrays([(n.start, n.end, n.pitch) for inst in midi.instruments for n in inst.notes])


def scores(reference, estimate):
    (ri, rp), (ei, ep) = reference, estimate
    if len(ei) == 0:
        return 0.0, 0.0
    _, _, onset_f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=ONSET_TOLERANCE, offset_ratio=None)
    _, _, full_f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=ONSET_TOLERANCE)
    return onset_f1, full_f1


def run(cmd):
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{done.stderr}")
    return time.perf_counter() - started


def basic_pitch_notes(wav):
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import predict
    onnx = pathlib.Path(ICASSP_2022_MODEL_PATH).with_suffix(".onnx")
    _, _, events = predict(str(wav), str(onnx))
    return to_arrays([(s, e, p) for s, e, p, _, _ in events])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cadenza", required=True, type=pathlib.Path)
    parser.add_argument("--soundfont", action="append", required=True, type=pathlib.Path)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--no-f1", action="store_true", help="only render and time the command lines")
    parser.add_argument("midi", nargs="+", type=pathlib.Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    systems = ["basic-pitch 0.4.0", "Cadenza", "Cadenza --compat"]
    rows, totals = [], {s: [] for s in systems}
    renders = []
    for soundfont in args.soundfont:
        for midi in args.midi:
            wav = args.out / f"{midi.stem}__{soundfont.stem}.wav"
            run([args.cadenza, "--soundfont", soundfont, "render", midi, wav])
            renders.append(wav)
            if args.no_f1:
                continue
            reference = reference_notes(midi)
            estimates = {"basic-pitch 0.4.0": basic_pitch_notes(wav)}
            for name, extra in [("Cadenza", []), ("Cadenza --compat", ["--compat"])]:
                out = args.out / f"{wav.stem}{'_compat' if extra else ''}.mid"
                run([args.cadenza, "transcribe", wav, "-o", out, *extra])
                estimates[name] = midi_notes(out)
            cells = []
            for name in systems:
                onset_f1, full_f1 = scores(reference, estimates[name])
                totals[name].append((onset_f1, full_f1))
                cells.append(f"{onset_f1:.3f} / {full_f1:.3f}")
            seconds = soundfile.info(str(wav)).duration
            rows.append(f"| {midi.stem} | {soundfont.stem} | {seconds:.0f} s | {len(reference[0])} | " + " | ".join(cells) + " |")
    if not args.no_f1:
        print(f"Note F1 (onset only / with offsets), onset tolerance {ONSET_TOLERANCE * 1000:.0f} ms\n")
        print("| piece | SoundFont | length | notes | " + " | ".join(systems) + " |")
        print("|---|---|---|---|" + "---|" * len(systems))
        print("\n".join(rows))
        means = [f"**{np.mean([o for o, _ in totals[s]]):.3f} / {np.mean([f for _, f in totals[s]]):.3f}**"
                 for s in systems]
        print("| mean | | | | " + " | ".join(means) + " |")

    # Whole command line, process start to MIDI file, on 60 s of audio.
    longest = max(renders, key=lambda w: soundfile.info(str(w)).duration)
    audio, rate = soundfile.read(str(longest))
    clip = args.out / "clip60.wav"
    soundfile.write(str(clip), audio[: 60 * rate], rate)
    bp_cli = pathlib.Path(sys.executable).parent / "basic-pitch"
    bp_dir = args.out / "bp_cli"
    bp_dir.mkdir(exist_ok=True)
    bp_times, cadenza_times = [], []
    for _ in range(3):
        for old in bp_dir.glob("*"):
            old.unlink()
        bp_times.append(run([bp_cli, bp_dir, clip]))
        cadenza_times.append(run([args.cadenza, "transcribe", clip, "-o", args.out / "clip60.mid"]))
    bp, ours = min(bp_times), min(cadenza_times)
    seconds = len(audio[: 60 * rate]) / rate
    print(f"\nWhole command on {seconds:.0f} s of {longest.stem} (best of 3): basic-pitch CLI {bp:.2f} s, "
          f"cadenza transcribe {ours:.2f} s, ratio {ours / bp:.3f} (goal <= 0.1)")


if __name__ == "__main__":
    main()
