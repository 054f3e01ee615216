"""``qsq spread`` (``make spread``): how much the digits results move with the data split.

The digits test split holds 359 images, so one image is 0.28 points and a single split cannot tell
a real half-point effect from the luck of the split. This runs stratified k-fold cross-validation
(:data:`~golden_model.nn.data.DIGITS_FOLDS` = 5 folds; fold 0 is the default split): for each fold
a fresh model is trained on that fold's training images (same seed and hyper-parameters as
``make train``), quantized exactly as ``qsq evaluate`` does, and evaluated on the fold's test
images at every truncation level. Because the test folds are disjoint and cover all 1,797 images,
the folds also give a *pooled* accuracy over every image with a 4x-5x narrower interval, and pooled
paired comparisons against ``t = 0``.

Why folds rather than training seeds: the choice of the 359 test images is what a single small
split leaves to chance; a fresh model per fold varies the training run as well; and the folds use
every image for testing exactly once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..config import CodecConfig, check_int
from ..tables import markdown_table, write_table
from .data import DIGITS_FOLDS, load_digits
from .quant import CALIB_IMAGES, calibrate_exponents, integer_predict, quantize_model
from .quant import weight_quantized_model
from .stats import paired, wilson
from .train import TrainConfig, blas_threads, finetune_qat, train
from ..fileio import atomic_write_text

__all__ = ["run_spread"]


def run_spread(out, folds=DIGITS_FOLDS, epochs: int = 60, qat_epochs: int = 8, levels=range(9),
               code_bits: int = 3, quiet: bool = False) -> dict:
    """Cross-validate the digits flow over ``folds`` folds; write ``out``; return the summary."""
    folds = check_int("folds", folds, 2, DIGITS_FOLDS)
    epochs = check_int("epochs", epochs, 1, 100_000)
    qat_epochs = check_int("qat_epochs", qat_epochs, 0, 100_000)
    codec = CodecConfig(code_bits)
    levels = sorted(set(int(t) for t in levels) | {0})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    keys = ["float"] + [f"ptq-{t}" for t in levels] + ([f"qat-{t}" for t in levels] if qat_epochs else [])
    right = {k: [] for k in keys}
    fold_rows = []
    with blas_threads(1):
        for k in range(folds):
            tf = time.perf_counter()
            d = load_digits(fold=k)
            cfg = TrainConfig(epochs=epochs, qat_epochs=qat_epochs)
            model = train(d.x_train, d.y_train, "lenet-digits", cfg, quiet=True)
            calib = d.x_train[:CALIB_IMAGES]
            res = {"float": model.predict(d.x_test) == d.y_test}
            qm = quantize_model(model, calib, codec)
            for t in levels:
                res[f"ptq-{t}"] = integer_predict(qm, d.x_test, t) == d.y_test
            if qat_epochs:
                wq = weight_quantized_model(model, calib, codec, "mse", False)
                exps = calibrate_exponents(wq, calib)
                tuned = finetune_qat(model, d.x_train, d.y_train, exps, codec, cfg, quiet=True)
                qq = quantize_model(tuned, calib, codec, "mse", False, exponents=exps)
                for t in levels:
                    res[f"qat-{t}"] = integer_predict(qq, d.x_test, t) == d.y_test
            for key in keys:
                right[key].append(res[key])
            fold_rows.append([k, len(d.y_test)] + [float(res[key].mean()) for key in keys]
                             + [time.perf_counter() - tf])
            if not quiet:
                print(f"fold {k + 1}/{folds}: {len(d.y_test)} test images, float "
                      f"{res['float'].mean():.2%}, PTQ t=0 {res['ptq-0'].mean():.2%}"
                      + (f", QAT t=0 {res['qat-0'].mean():.2%}" if qat_epochs else "")
                      + f" ({time.perf_counter() - tf:.1f} s)", flush=True)

    pooled = {key: np.concatenate(v) for key, v in right.items()}
    n = len(pooled["float"])
    headers = ["configuration", "mean over folds", "sd", "min", "max", "pooled accuracy",
               "pooled 95 % CI", "reference", "pooled lost", "pooled gained", "McNemar p"]
    rows = []
    for key in keys:
        per = np.array([r.mean() for r in right[key]])
        c = int(pooled[key].sum())
        lo, hi = wilson(c, n)
        ref = None if key == "float" else ("float" if key.endswith("-0") else key.split("-")[0] + "-0")
        cells = [key, float(per.mean()), float(per.std(ddof=1)), float(per.min()), float(per.max()),
                 c / n, f"{100 * lo:.2f}-{100 * hi:.2f} %"]
        if ref is None:
            cells += ["", "", "", ""]
        else:
            pr = paired(pooled[ref], pooled[key])
            cells += [ref, pr.lost, pr.gained, pr.p]
        rows.append(cells)
    fold_headers = ["fold", "test images"] + keys + ["seconds"]
    meta = {"folds": folds, "epochs": epochs, "qat_epochs": qat_epochs, "code_bits": codec.code_bits,
            "images": n}
    write_table(out / "spread", headers, rows, f"Digits, {folds}-fold cross-validation", meta)
    write_table(out / "folds", fold_headers, fold_rows, "Accuracy of every fold", meta)
    elapsed = time.perf_counter() - t_start
    report = "\n".join([
        f"# Spread over data splits: digits, {folds}-fold cross-validation", "",
        f"Each fold trains a fresh model ({epochs} float epochs"
        + (f", {qat_epochs} QAT epochs" if qat_epochs else "") + ", seed 0) on its own training "
        f"images and tests on its own test fold; the {folds} test folds are disjoint and cover all "
        f"{n} images. *mean/sd/min/max* describe the spread over folds; *pooled* counts every image "
        "once (Wilson 95 % interval; paired comparisons on the same images against the reference "
        "with McNemar's exact test). Configurations: float, PTQ (output-aware scales + bias "
        "correction, as `qsq evaluate`) and QAT at each truncation level t.", "",
        markdown_table(headers, rows), "## Folds", "", markdown_table(fold_headers, fold_rows),
        f"Total {elapsed:.1f} s.", ""])
    atomic_write_text(out / "report.md", report)
    summary = {"folds": folds, "images": n, "rows": rows, "seconds": elapsed}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    if not quiet:
        print(report)
        print(f"wrote {out}/report.md, spread.md/.csv/.json, folds.md/.csv/.json, summary.json")
    return summary
