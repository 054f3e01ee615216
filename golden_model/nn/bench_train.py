"""``make bench-train``: measured training speed of LeNet-5 on MNIST (prints times, asserts nothing).

Target (issue): one quantization-aware epoch over MNIST's 60,000 training images in at most
3 minutes on 2 cores. Prints, from one run on this machine:

* the time of one convolution weight gradient of a mini-batch (LeNet-5's first layer) with BLAS's
  default thread count and single-threaded, as training runs it;
* the per-layer encoding time of the golden-model codec and of the exact fast twin QAT uses
  (same results, checked here as well);
* one float epoch and one QAT epoch over ``--images`` training images (default 60,000: the whole
  training file, training and validation rows), with the time extrapolated to 60,000 when fewer
  images are used.

Needs ``make mnist`` (the IDX files in ``build/mnist``) or ``--data DIR``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m golden_model.nn.bench_train", description=__doc__)
    p.add_argument("--data", default="build/mnist", help="MNIST IDX directory (default build/mnist)")
    p.add_argument("--images", type=int, default=60000, help="training images per epoch (default 60000)")
    args = p.parse_args(argv)

    from ..codec import encode_layer
    from ..config import CodecConfig, check_int
    from .data import load_mnist
    from .fastcodec import encode_layer_fast
    from .model import build_model
    from .quant import calibrate_exponents, weight_quantized_model
    from .train import TrainConfig, blas_threads, finetune_qat, train

    n = check_int("--images", args.images, 32, 60000)
    d = load_mnist(args.data)
    x = np.concatenate([d.x_train, d.x_val])[:n]
    y = np.concatenate([d.y_train, d.y_val])[:n]
    codec = CodecConfig()
    model = build_model("lenet5")
    print(f"LeNet-5, {n} MNIST training images, batch 32, BLAS single-threaded while training")

    rng = np.random.default_rng(0)
    g = rng.standard_normal((32 * 28 * 28, 6)).astype(np.float32)      # conv1 output gradient
    cols = rng.standard_normal((32 * 28 * 28, 25)).astype(np.float32)   # conv1 im2col patches

    def grad_time(reps=20):
        g.T @ cols
        t0 = time.perf_counter()
        for _ in range(reps):
            g.T @ cols
        return (time.perf_counter() - t0) / reps

    t_default = grad_time()
    with blas_threads(1):
        t_single = grad_time()
    print(f"  conv1 weight gradient (6x25088 @ 25088x25, float32): default BLAS threads "
          f"{1e3 * t_default:.2f} ms, single-threaded {1e3 * t_single:.2f} ms "
          f"({t_default / t_single:.1f}x)")

    with blas_threads(1):
        for lay in model.compute_layers:
            reps = 5
            t0 = time.perf_counter()
            for _ in range(reps):
                ref = encode_layer(lay.w, codec)
            t_ref = (time.perf_counter() - t0) / reps
            t0 = time.perf_counter()
            for _ in range(reps):
                fast = encode_layer_fast(lay.w, codec)
            t_fast = (time.perf_counter() - t0) / reps
            same = np.array_equal(ref.codes, fast.codes) and np.array_equal(ref.scales, fast.scales)
            print(f"  encode {lay.name:5s} {'x'.join(map(str, lay.w.shape)):>10s}: codec "
                  f"{1e3 * t_ref:7.2f} ms, fast {1e3 * t_fast:6.2f} ms ({t_ref / t_fast:5.1f}x), "
                  f"identical: {same}")
            if not same:
                raise RuntimeError(f"fast encoder differs from the codec on {lay.name}")

    cfg = TrainConfig(epochs=1, qat_epochs=1)
    t0 = time.perf_counter()
    model = train(x, y, "lenet5", cfg, quiet=True)
    t_float = time.perf_counter() - t0
    calib = x[:2048]
    exps = calibrate_exponents(weight_quantized_model(model, calib, codec, "mse", False), calib)
    t0 = time.perf_counter()
    finetune_qat(model, x, y, exps, codec, cfg, quiet=True)
    t_qat = time.perf_counter() - t0
    scale = 60000 / n
    note = "" if n == 60000 else f" (x{scale:.2f} = {{:.1f}} s per 60,000 images, extrapolated)"
    print(f"float epoch: {t_float:.1f} s" + note.format(t_float * scale))
    print(f"QAT epoch:   {t_qat:.1f} s" + note.format(t_qat * scale)
          + "; target <= 180 s per 60,000 images: "
          + ("met" if t_qat * scale <= 180 else "MISSED") + " on this run")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
