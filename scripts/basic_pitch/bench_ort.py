#!/usr/bin/env python3
"""Times onnxruntime (1 thread) on one Basic Pitch window, the signal the Rust bench uses;
prints the median ms on the last line (read by models/benches/basic_pitch_window.rs)."""
import importlib.util
import os
import time

import numpy as np
import onnxruntime as ort

spec = importlib.util.find_spec("basic_pitch")
path = os.path.join(os.path.dirname(spec.origin), "saved_models/icassp_2022/nmp.onnx")
so = ort.SessionOptions()
so.intra_op_num_threads = 1
so.inter_op_num_threads = 1
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
t = np.arange(43844, dtype=np.float32) / 22050
x = (0.2 * np.sin(t * 440 * 2 * np.pi) + 0.1 * np.sin(t * 659.3 * 2 * np.pi)).astype(np.float32)[None, :, None]
times = []
for run in range(32):
    start = time.perf_counter()
    sess.run(None, {"serving_default_input_2:0": x})
    if run >= 2:
        times.append((time.perf_counter() - start) * 1000)
print(sorted(times)[len(times) // 2])
