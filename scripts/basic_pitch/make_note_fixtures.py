#!/usr/bin/env python3
"""Note-creation fixtures: basic-pitch 0.4.0's own inference and note creation on a piece
synthesised here, so Cadenza's note creation can be checked on the very same posteriorgrams.

Writes models/tests/fixtures/basic_pitch_notes.safetensors (the 22,050 Hz audio, and the
stitched note [T,88], onset [T,88], contour [T,264] that basic-pitch's `run_inference`
produced from it) and
basic_pitch_notes.json: for default settings and for a second setting (thresholds 0.6/0.4,
no melodia, 200-800 Hz), the note events in frames (start, end, pitch, amplitude, bends)
and in seconds, exactly as `model_output_to_notes` makes them.

  python scripts/basic_pitch/make_note_fixtures.py   (with scripts/basic_pitch/requirements.txt)
"""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402
from make_fixtures import SR, tone  # noqa: E402

HERE = os.path.dirname(__file__)
OUT = os.path.join(HERE, "../../models/tests/fixtures")


def piece(seconds=6.0):
    n = int(seconds * SR)
    midi = lambda p: 440.0 * 2 ** ((p - 69) / 12)  # noqa: E731
    y = np.zeros(n)
    melody = [(60, 0.2), (62, 0.6), (64, 1.0), (65, 1.4), (67, 1.8), (69, 2.6), (71, 3.0), (72, 3.4)]
    for p, t in melody:
        y += tone(midi(p), t, 0.5, n, amp=0.25)
    for p in [48, 55, 64]:  # a held chord under the melody
        y += tone(midi(p), 2.2, 2.5, n, amp=0.1)
    for i, p in enumerate([76, 74, 72, 71]):  # fast notes near the end (the dropped tail)
        y += tone(midi(p), 4.6 + 0.3 * i, 0.3, n, amp=0.2)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def main():
    import soundfile

    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, run_inference
    from basic_pitch.note_creation import get_pitch_bends, model_frames_to_time, output_to_notes_polyphonic

    y = piece()
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "piece.wav")
        soundfile.write(wav, y, SR, subtype="FLOAT")
        model = Model(os.path.join(os.path.dirname(ICASSP_2022_MODEL_PATH), "nmp.onnx"))
        output = run_inference(wav, model)
    cases = {
        "default": dict(onset_thresh=0.5, frame_thresh=0.3, min_note_len=11, infer_onsets=True,
                        max_freq=None, min_freq=None, melodia_trick=True),
        "strict_no_melodia_band": dict(onset_thresh=0.6, frame_thresh=0.4, min_note_len=11, infer_onsets=True,
                                       max_freq=800.0, min_freq=200.0, melodia_trick=False),
    }
    expected = {}
    times = model_frames_to_time(output["contour"].shape[0])
    for name, kw in cases.items():
        notes = output_to_notes_polyphonic(output["note"].copy(), output["onset"].copy(), **kw)
        notes = get_pitch_bends(output["contour"], notes)
        expected[name] = {
            "settings": kw,
            "notes": [{"start": int(s), "end": int(e), "pitch": int(p), "amplitude": float(a),
                       "bends": [int(b) for b in bends], "start_s": float(times[s]), "end_s": float(times[e])}
                      for s, e, p, a, bends in notes],
        }
        print(f"{name}: {len(notes)} notes")
    safetensors_io.save(os.path.join(OUT, "basic_pitch_notes.safetensors"),
                        {**{k: output[k].astype(np.float32) for k in ("note", "onset", "contour")}, "audio": y},
                        {"audio_samples": len(y)})
    with open(os.path.join(OUT, "basic_pitch_notes.json"), "w") as f:
        json.dump({"audio_samples": len(y), "cases": expected}, f, indent=1)


if __name__ == "__main__":
    main()
