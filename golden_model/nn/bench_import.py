"""Time ``qsq import`` + ``qsq pack`` of a LeNet-5-sized ONNX network (``make bench-import``).

Writes LeNet-5 (1 x 28 x 28: conv 5x5 1->6 pad 2, conv 5x5 6->16, fc 400->120->84->10, 61,470
weights; He-initialised, with BatchNorm pairs and an exporter-style reshape) as an ONNX file and
2,048 calibration images (:data:`~golden_model.nn.quant.CALIB_IMAGES`, random in ``[0, 1)``: the
time does not depend on the pixel values), then runs the two commands in this process and prints
their wall-clock times. Target: import + pack <= 30 s on the project's 2-core machine. Nothing is
asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m golden_model.nn.bench_import", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None, help="folder for the files (default: a temporary one)")
    args = p.parse_args(argv)
    from ..cli import main as qsq
    from .model import build_model
    from .onnx_example import export_onnx
    from .quant import CALIB_IMAGES

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(args.out or tmp)
        d.mkdir(parents=True, exist_ok=True)
        model = build_model("lenet5")
        n_weights = sum(lay.w.size for lay in model.compute_layers)
        export_onnx(model, d / "lenet5.onnx")
        np.save(d / "calib.npy", np.random.default_rng(0).random((CALIB_IMAGES, 1, 28, 28),
                                                                  dtype=np.float32))
        times = {}
        for name, cmd in (("import", ["import", str(d / "lenet5.onnx"), "-o", str(d / "lenet5.npz")]),
                          ("pack", ["pack", str(d / "lenet5.npz"), "--calib", str(d / "calib.npy"),
                                    "-o", str(d / "lenet5.qsq")])):
            t0 = time.perf_counter()
            if qsq(cmd) != 0:
                raise SystemExit(f"bench_import: qsq {name} failed")
            times[name] = time.perf_counter() - t0
    total = sum(times.values())
    print(f"\nbench_import: LeNet-5-sized ONNX ({n_weights:,} weights), {CALIB_IMAGES} calibration images: "
          f"import {times['import']:.2f} s + pack {times['pack']:.2f} s = {total:.2f} s "
          f"(target <= 30 s: {'met' if total <= 30 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
