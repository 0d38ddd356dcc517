#!/usr/bin/env python3
"""Parity fixtures for Cadenza's Basic Pitch port: model windows synthesised here, with
onnxruntime's posteriorgrams from the published nmp.onnx (basic-pitch 0.4.0).

Writes models/tests/fixtures/basic_pitch_windows.safetensors with
  input   [W, 43844]   the 22,050 Hz model input of each window
  note    [W, 172, 88], onset [W, 172, 88], contour [W, 172, 264]   onnxruntime's outputs
The windows: two consecutive windows of a synthesised piece (harmonic tones with decays,
a chord, a glide; the second window ends in zero padding, as the last window of a file does)
and one window of near-silence (1e-4 white noise), which the per-window normalisation
amplifies.

  python scripts/basic_pitch/make_fixtures.py   (with scripts/basic_pitch/requirements.txt installed)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402

SR = 22050
WINDOW = 43844
HOP = 36164
PRE_PAD = 3840


def tone(freq, start, length, n, amp=0.2, harmonics=6):
    t = np.arange(int(length * SR)) / SR
    env = np.exp(-t * 2.5) * np.minimum(1.0, t / 0.005)
    y = sum(amp / k * np.sin(2 * np.pi * freq * k * t) for k in range(1, harmonics + 1)) * env
    out = np.zeros(n)
    s = int(start * SR)
    out[s:s + len(y)] += y[: max(0, n - s)]
    return out


def piece(seconds=3.2):
    n = int(seconds * SR)
    midi = lambda p: 440.0 * 2 ** ((p - 69) / 12)  # noqa: E731
    y = np.zeros(n)
    for i, p in enumerate([57, 61, 64, 69, 64, 61]):  # A major arpeggio, 8th notes at 120 BPM
        y += tone(midi(p), 0.1 + 0.25 * i, 0.6, n)
    for p in [62, 66, 69]:  # D major chord
        y += tone(midi(p), 1.7, 1.2, n, amp=0.12)
    t = np.arange(n) / SR  # a glide from E5 up a tone, for the contour output
    glide = 0.05 * np.sin(2 * np.pi * np.cumsum(midi(76) * 2 ** ((t - 2.2).clip(0, 0.6) / 0.6 * 2 / 12)) / SR)
    y += glide * ((t > 2.2) & (t < 3.0))
    return y.astype(np.float32)


def windows_of(y):
    padded = np.concatenate([np.zeros(PRE_PAD, np.float32), y])
    out = []
    for start in range(0, len(padded), HOP):
        w = padded[start:start + WINDOW]
        out.append(np.pad(w, (0, WINDOW - len(w))))
    return out


def main():
    import importlib.util

    import onnxruntime as ort

    spec = importlib.util.find_spec("basic_pitch")
    onnx_path = os.path.join(os.path.dirname(spec.origin), "saved_models/icassp_2022/nmp.onnx")
    rng = np.random.default_rng(7)
    wins = windows_of(piece())[:2] + [(1e-4 * rng.standard_normal(WINDOW)).astype(np.float32)]
    x = np.stack(wins).astype(np.float32)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    contour, note, onset = sess.run(["StatefulPartitionedCall:0", "StatefulPartitionedCall:1",
                                     "StatefulPartitionedCall:2"], {"serving_default_input_2:0": x[:, :, None]})
    out = os.path.join(os.path.dirname(__file__), "../../models/tests/fixtures/basic_pitch_windows.safetensors")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    safetensors_io.save(out, {"input": x, "note": note, "onset": onset, "contour": contour},
                        {"model": "basic-pitch 0.4.0 nmp.onnx", "runtime": f"onnxruntime {ort.__version__}"})
    print(f"wrote {x.shape[0]} windows to {os.path.normpath(out)}; note max per window:",
          [float(note[i].max()) for i in range(len(x))])


if __name__ == "__main__":
    main()
