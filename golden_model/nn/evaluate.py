"""The network evaluation report (``qsq evaluate``): accuracy per mode and truncation level, memory,
zero weights, product error under the real operand distribution, active rows, file size, plots.

Everything is measured from the checkpoint and the test split at run time; nothing is typed in.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codec import layer_report
from ..config import CodecConfig
from ..csd import active_rows_table
from ..metrics import truncation_table
from ..tables import markdown_table, write_table
from .checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from .data import load_dataset
from .packfile import code_entropy, pack_model
from .quant import (CALIB_IMAGES, PTQ_METHODS, integer_forward, integer_predict,
                    post_training_quantize, quantize_model)
from .traces import DEFAULT_CAP, write_traces
from .train import accuracy

__all__ = ["EvalOptions", "evaluate", "operand_histograms", "choose_per_layer_t"]

#: Paper figures quoted beside ours (Khaliq & Hafiz, 2024).
PAPER_SAVING = 0.8249
PAPER_EXTRA_ZEROS = 0.06


@dataclass
class EvalOptions:
    """Options of :func:`evaluate` (the ``qsq evaluate`` flags)."""

    checkpoint: Path = DEFAULT_CHECKPOINT
    data: str | None = None
    code_bits: int = 3
    levels: list = field(default_factory=lambda: list(range(9)))
    per_layer: list = field(default_factory=list)     # explicit per-layer t lists
    auto_per_layer_budget: float = 0.005               # training-accuracy budget of the auto list
    method: str = "output"
    bias_correction: bool = True
    out: Path = Path("build/eval")
    engine: str = "matmul"
    trace_images: int = 8
    trace_cap: int = DEFAULT_CAP
    plots: bool = True
    quiet: bool = False


class _Progress:
    def __init__(self, total: int, quiet: bool):
        self.total, self.done, self.quiet, self.t0 = total, 0, quiet, time.perf_counter()
        self.times: list[tuple[str, float]] = []

    def step(self, label: str, seconds: float):
        self.done += 1
        self.times.append((label, seconds))
        if not self.quiet:
            width = 24
            fill = round(width * self.done / max(self.total, self.done))
            tty = sys.stderr.isatty()
            lead = "\r" if tty else ""
            print(f"{lead}[{'#' * fill}{'.' * (width - fill)}] "
                  f"{self.done}/{max(self.total, self.done)} {label:<44.44s} {seconds:6.2f} s  "
                  f"(total {time.perf_counter() - self.t0:6.1f} s)",
                  end="\n" if self.done >= self.total or not tty else "", file=sys.stderr, flush=True)


def operand_histograms(qm, x, t=0, batch: int = 250) -> list[np.ndarray]:
    """Joint ``(a, b)`` count matrix ``H[a, b - b.min]`` of every multiplication, per layer.

    Counts every product of integer inference over images ``x`` (activations of the network run
    at truncation ``t``): ``H = sum_k outer(hist of a in column k, hist of b in column k)``.
    """
    mult = qm.mult
    na, nb = mult.a.count, mult.b.count
    hists = [np.zeros((na, nb), np.float64) for _ in qm.layers]
    for i in range(0, len(x), batch):
        rec: dict = {}
        integer_forward(qm, x[i:i + batch], t, record=rec)
        for j, q in enumerate(qm.layers):
            cols, w = rec[q.name]
            k = cols.shape[1]
            ha = np.zeros((k, na))
            np.add.at(ha, (np.broadcast_to(np.arange(k), cols.shape), cols - mult.a.min), 1.0)
            hb = np.zeros((k, nb))
            np.add.at(hb, (np.broadcast_to(np.arange(k), w.shape), w - mult.b.min), 1.0)
            hists[j] += ha.T @ hb
    return hists


def _rows_per_mac(qm, hists, ts) -> float:
    """Mean active partial-product rows per multiplication for per-layer levels ``ts``."""
    tot = rows = 0.0
    for h, t in zip(hists, ts):
        hb = h.sum(axis=0)
        rows += float(hb @ active_rows_table(qm.mult, t))
        tot += float(hb.sum())
    return rows / tot


def choose_per_layer_t(qm, x, y, budget: float, levels, hists, progress=None) -> list[int]:
    """Per-layer truncation levels found greedily on the *training* split (the test split stays
    untouched).

    Start with ``t = 0`` everywhere; in each round try raising each layer to its next level in
    ``levels`` and keep the single change that removes the most active rows per MAC while the
    training accuracy stays within ``budget`` of the exact network; stop when no change fits.
    """
    base = accuracy(integer_predict(qm, x, 0), y)
    n = len(qm.layers)
    levels = sorted(levels)
    cur = [0] * n
    while True:
        best = None
        for j in range(n):
            nxt = [t for t in levels if t > cur[j]]
            if not nxt:
                continue
            ts = list(cur)
            ts[j] = nxt[0]
            t0 = time.perf_counter()
            acc = accuracy(integer_predict(qm, x, ts), y)
            if progress:
                progress.step(f"auto t: try {ts}", time.perf_counter() - t0)
            rows = _rows_per_mac(qm, hists, ts)
            if base - acc <= budget and (best is None or rows < best[0]):
                best = (rows, ts)
        if best is None:
            return cur
        cur = best[1]


def evaluate(opts: EvalOptions) -> dict:
    """Run the whole sweep, print the tables, write ``opts.out``; return the summary dict."""
    t_start = time.perf_counter()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    codec = CodecConfig(opts.code_bits)
    if opts.method not in PTQ_METHODS:
        raise ValueError(f"method must be one of {PTQ_METHODS}, not {opts.method!r}")
    ck = load_checkpoint(opts.checkpoint)
    meta = ck.meta
    data = load_dataset(meta.get("dataset", "digits"), opts.data, meta.get("split_seed", 0))
    # Calibration and the per-layer search use the first CALIB_IMAGES training images (bounded
    # memory and time on MNIST / CIFAR-10; the whole digits training split).
    xtr, ytr = data.x_train[:CALIB_IMAGES], data.y_train[:CALIB_IMAGES]
    xte, yte = data.x_test, data.y_test
    levels = sorted(set(int(t) for t in opts.levels) | {0})  # t = 0 is every comparison's reference
    # Fine-tuned weights only count for the code width they were tuned for.
    qat_bits = meta.get("code_bits", 3)
    has_qat = ck.qat_model is not None and qat_bits == opts.code_bits
    qat_note = None
    if ck.qat_model is not None and not has_qat:
        qat_note = (f"The checkpoint was fine-tuned for {qat_bits}-bit codes; fine-tuned results for "
                    f"{opts.code_bits}-bit codes need `qsq train --code-bits {opts.code_bits}`.")
    elif ck.qat_model is None:
        qat_note = "The checkpoint holds no fine-tuned weights (`qsq train --qat-epochs N`)."
    n_auto = 12 if len(levels) > 1 else 0  # estimate; corrected once the search has run
    # float, MSE (3), PTQ (2), histograms, levels, auto search + lists, QAT (2 + levels), error, traces
    after_auto = len(opts.per_layer) + (n_auto > 0) + (2 + len(levels) if has_qat else 0) + 2
    prog = _Progress(7 + len(levels) + n_auto + after_auto, opts.quiet)
    acc_rows = []   # mode, weights, t, accuracy, delta vs float, rows/MAC, row cut, seconds
    tm = time.perf_counter()
    acc_float = accuracy(ck.float_model.predict(xte), yte)
    prog.step("float", time.perf_counter() - tm)
    acc_rows.append(["float", "float32", "-", acc_float, 0.0, "", "", time.perf_counter() - tm])

    def ptq_rows(model, label, method, bc, exps=None):
        tm = time.perf_counter()
        ptq = post_training_quantize(model, xtr, codec, method, bc)
        acc_wq = accuracy(ptq[0].predict(xte), yte)
        prog.step(f"{label}: weight-quantized", time.perf_counter() - tm)
        acc_rows.append(["weight-quantized (float math)", label, "-", acc_wq, acc_wq - acc_float,
                         "", "", time.perf_counter() - tm])
        tm = time.perf_counter()
        qm = quantize_model(model, xtr, codec, method, bc, exponents=exps, ptq=ptq)
        prog.step(f"{label}: calibrate", time.perf_counter() - tm)
        return qm, acc_wq

    # Plain codec (weight-MSE encoder, no bias correction), then the default post-training method.
    qm_plain, acc_wq_plain = ptq_rows(ck.float_model, f"{opts.code_bits}-bit codec, MSE encoder",
                                      "mse", False)
    tm = time.perf_counter()
    acc_int_plain = accuracy(integer_predict(qm_plain, xte, 0, opts.engine), yte)
    prog.step("MSE encoder: integer t=0", time.perf_counter() - tm)
    acc_rows.append(["integer, exact products", acc_rows[-1][1], 0, acc_int_plain,
                     acc_int_plain - acc_float, "", "", time.perf_counter() - tm])
    ptq_label = f"{opts.code_bits}-bit PTQ ({opts.method}{' + bias corr.' if opts.bias_correction else ''})"
    qm, acc_wq = ptq_rows(ck.float_model, ptq_label, opts.method, opts.bias_correction)

    tm = time.perf_counter()
    hists = operand_histograms(qm, xte, 0)
    prog.step("operand histograms", time.perf_counter() - tm)
    n_layers = len(qm.layers)

    sweep = {}
    def run_levels(qmodel, label, key, hists):
        res = {}
        for t in levels:
            tm = time.perf_counter()
            acc = accuracy(integer_predict(qmodel, xte, t, opts.engine), yte)
            sec = time.perf_counter() - tm
            prog.step(f"{key}: integer t={t}", sec)
            rows_mac = _rows_per_mac(qmodel, hists, [t] * n_layers)
            res[t] = (acc, rows_mac, sec)
        base_rows = _rows_per_mac(qmodel, hists, [0] * n_layers)
        for t in levels:
            acc, rows_mac, sec = res[t]
            mode = "integer, exact products" if t == 0 else "integer, truncated CSD"
            acc_rows.append([mode, label, t, acc, acc - acc_float, rows_mac, 1 - rows_mac / base_rows, sec])
        sweep[key] = res
        return res

    run_levels(qm, ptq_label, "ptq", hists)
    base_rows = _rows_per_mac(qm, hists, [0] * n_layers)

    per_layer_lists = [list(map(int, ts)) for ts in opts.per_layer]
    auto = None
    if n_auto:
        auto = choose_per_layer_t(qm, xtr, ytr, opts.auto_per_layer_budget, levels, hists, prog)
        prog.total = prog.done + after_auto
        per_layer_lists.append(auto)
    per_layer_res = []
    for ts in per_layer_lists:
        tm = time.perf_counter()
        acc = accuracy(integer_predict(qm, xte, ts, opts.engine), yte)
        sec = time.perf_counter() - tm
        prog.step(f"ptq: per-layer t={ts}", sec)
        rows_mac = _rows_per_mac(qm, hists, ts)
        tag = "per-layer t (auto, train split)" if ts is auto else "per-layer t"
        acc_rows.append([f"integer, {tag}", ptq_label, ",".join(map(str, ts)), acc, acc - acc_float,
                         rows_mac, 1 - rows_mac / base_rows, sec])
        per_layer_res.append((ts, acc, rows_mac))

    qm_qat = None
    if has_qat:
        tm = time.perf_counter()
        # Fine-tuning ran with the plain codec encoder and fixed exponents: evaluate it the same way.
        ptq_qat = post_training_quantize(ck.qat_model, xtr, codec, "mse", False)
        acc_wq_qat = accuracy(ptq_qat[0].predict(xte), yte)
        acc_rows.append(["weight-quantized (float math)", f"{opts.code_bits}-bit QAT fine-tuned",
                         "-", acc_wq_qat, acc_wq_qat - acc_float, "", "", time.perf_counter() - tm])
        qm_qat = quantize_model(ck.qat_model, xtr, codec, "mse", False, exponents=ck.qat_exponents,
                                ptq=ptq_qat)
        prog.step("QAT: quantize", time.perf_counter() - tm)
        tm = time.perf_counter()
        hists_qat = operand_histograms(qm_qat, xte, 0)
        prog.step("QAT: operand histograms", time.perf_counter() - tm)
        run_levels(qm_qat, f"{opts.code_bits}-bit QAT fine-tuned", "qat", hists_qat)

    # ---------------------------------------------------------------- product error, rows
    mult = qm.mult
    hsum = sum(hists)
    a_idx, b_idx = np.nonzero(hsum)
    trows = truncation_table(mult, a_idx + mult.a.min, b_idx + mult.b.min, hsum[a_idx, b_idx],
                             levels=levels)
    err_headers = ["t", "ER", "MAE", "MRED", "NMED", "WCE", "bias", "MSE", "active rows/MAC", "row cut",
                   "accuracy (PTQ)", "accuracy (QAT)"]
    err_rows = [[r.t, r.metrics.er, r.metrics.mae, r.metrics.mred, r.metrics.nmed, r.metrics.wce,
                 r.metrics.bias, r.metrics.mse, r.mean_active_rows, r.row_reduction,
                 sweep["ptq"][r.t][0], sweep["qat"][r.t][0] if has_qat else ""] for r in trows]
    macs = int(hsum.sum())
    prog.step("product error metrics", 0.0)

    # ---------------------------------------------------------------- memory and zeros
    mem_headers = ["layer", "shape", "weights", "filters", "code bits", "scale bits", "exp bits",
                   "total bits", "FP32 bits", "INT8 bits", "saving vs FP32", "saving vs INT8",
                   "zeros float", "zeros INT8", "zeros codes", "extra zeros vs INT8", "SQNR dB"]
    mem_rows = []
    tot = dict(n=0, f=0, bc=0, bs=0, be=0, b32=0, b8=0, zf=0.0, z8=0.0, zc=0.0)
    for lay, q in zip(ck.float_model.compute_layers, qm.layers):
        r = layer_report(lay.w, q.encoded)
        mem_rows.append([q.name, "x".join(map(str, q.encoded.shape)), r.weights, r.filters,
                         r.bits_codes, r.bits_scales, r.bits_exponent, r.bits_total, r.bits_fp32,
                         r.bits_int8, r.saving_vs_fp32, r.saving_vs_int8, r.zero_frac_float,
                         r.zero_frac_int8, r.zero_frac_codes, r.zero_frac_codes - r.zero_frac_int8,
                         r.sqnr_db])
        for k, v in (("n", r.weights), ("f", r.filters), ("bc", r.bits_codes), ("bs", r.bits_scales),
                     ("be", r.bits_exponent), ("b32", r.bits_fp32), ("b8", r.bits_int8)):
            tot[k] += v
        tot["zf"] += r.zero_frac_float * r.weights
        tot["z8"] += r.zero_frac_int8 * r.weights
        tot["zc"] += r.zero_frac_codes * r.weights
    bits_total = tot["bc"] + tot["bs"] + tot["be"]
    saving32 = 1 - bits_total / tot["b32"]
    saving8 = 1 - bits_total / tot["b8"]
    zf, z8, zc = tot["zf"] / tot["n"], tot["z8"] / tot["n"], tot["zc"] / tot["n"]
    mem_rows.append(["total", "", tot["n"], tot["f"], tot["bc"], tot["bs"], tot["be"], bits_total,
                     tot["b32"], tot["b8"], saving32, saving8, zf, z8, zc, zc - z8, ""])

    # ---------------------------------------------------------------- packed file
    packed = pack_model(qm)
    (out / "model.qsq").write_bytes(packed)
    all_codes = np.concatenate([q.encoded.codes.reshape(-1) for q in qm.layers])
    h = code_entropy(all_codes, codec.code_bits)
    bias_bytes = 4 * tot["f"]
    file_info = {"file_bytes": len(packed), "weights": tot["n"], "code_bits": codec.code_bits,
                 "entropy_bits_per_code": h, "entropy_code_bytes": math.ceil(h * tot["n"] / 8),
                 "raw_code_bytes": math.ceil(tot["n"] * codec.code_bits / 8),
                 "bias_bytes": bias_bytes, "fp32_weight_bytes": 4 * tot["n"]}

    # ---------------------------------------------------------------- the other MAC engine, timed
    other = "table" if opts.engine == "matmul" else "matmul"
    tm = time.perf_counter()
    logits = np.concatenate([integer_forward(qm, xte[i:i + 500], 0, other)
                             for i in range(0, len(xte), 500)])
    engine_check = {"engine": other, "seconds": time.perf_counter() - tm}
    same = np.array_equal(logits, np.concatenate([integer_forward(qm, xte[i:i + 500], 0, opts.engine)
                                                  for i in range(0, len(xte), 500)]))
    engine_check["identical"] = bool(same)
    if not same:  # both engines implement one contract; a difference is a bug, never a result
        raise RuntimeError("the matmul and table MAC engines disagree")

    # ---------------------------------------------------------------- traces
    tm = time.perf_counter()
    rec: dict = {}
    integer_forward(qm, xte[:opts.trace_images], 0, record=rec)
    write_traces(out / "traces.npz", rec, {"images": int(min(opts.trace_images, len(xte))),
                                           "t": 0, "a": "unsigned 8-bit", "b": "signed 8-bit",
                                           "model": ptq_label}, opts.trace_cap)
    prog.step("traces", time.perf_counter() - tm)

    # ---------------------------------------------------------------- targets
    acc_t0 = sweep["ptq"][0][0]
    targets = []
    bits = f"{opts.code_bits}-bit"
    targets.append((f"{bits} weights, no fine-tuning: integer accuracy within 1 point of float",
                    acc_float - acc_t0 <= 0.01 + 1e-12,
                    f"float {acc_float:.2%}, integer PTQ {acc_t0:.2%} ({100 * (acc_t0 - acc_float):+.2f} "
                    f"points); plain MSE encoder {acc_int_plain:.2%} "
                    f"({100 * (acc_int_plain - acc_float):+.2f})"))
    if has_qat:
        acc_q0 = sweep["qat"][0][0]
        targets.append((f"{bits} weights after fine-tuning: within 0.3 points of float",
                        acc_float - acc_q0 <= 0.003 + 1e-12,
                        f"float {acc_float:.2%}, integer QAT {acc_q0:.2%} "
                        f"({100 * (acc_q0 - acc_float):+.2f} points)"))
    cands = [("same t", t, sweep["ptq"][t][0], sweep["ptq"][t][1]) for t in levels if t > 0]
    cands += [("per-layer t", ",".join(map(str, ts)), a, rw) for ts, a, rw in per_layer_res]
    if has_qat:
        cands += [("same t, QAT", t, sweep["qat"][t][0], sweep["qat"][t][1]) for t in levels if t > 0]
    meets = []
    for kind, t, a, rw in cands:
        key = "qat" if "QAT" in kind else "ptq"
        cut = 1 - rw / sweep[key][0][1]
        ref = sweep[key][0][0]
        if cut >= 0.30 and ref - a <= 0.005 + 1e-12:
            meets.append(f"{kind} {t}: rows/MAC cut {cut:.1%}, accuracy {a:.2%} vs {ref:.2%} at t=0")
    targets.append(("a truncation level cutting active rows/MAC by >= 30 % costs <= 0.5 points",
                    bool(meets), "; ".join(meets) if meets else
                    "no level or per-layer list meets both; see the accuracy table"))

    # ---------------------------------------------------------------- write
    acc_headers = ["mode", "weights", "t", "accuracy", "vs float", "active rows/MAC", "row cut", "seconds"]
    runmeta = {"checkpoint": str(opts.checkpoint), "dataset": data.describe(), "arch": meta.get("arch"),
               "code_bits": codec.code_bits, "method": opts.method, "engine": opts.engine,
               "macs_test_split": macs}
    write_table(out / "accuracy", acc_headers, acc_rows, f"Accuracy per mode and truncation level "
                f"({data.describe()})", runmeta)
    write_table(out / "memory", mem_headers, mem_rows, "Weight memory and zero weights per layer",
                runmeta)
    write_table(out / "product_error", err_headers, err_rows,
                f"Truncated-CSD product error under the real operand distribution ({macs} "
                f"multiplications of the test split, {mult.describe()})", runmeta)
    fheaders = ["quantity", "value"]
    frows = [[k, v] for k, v in file_info.items()]
    write_table(out / "file", fheaders, frows, "Packed model file (model.qsq)", runmeta)
    plots = _plots(out, sweep, acc_float, per_layer_res, base_rows) if opts.plots else []

    elapsed = time.perf_counter() - t_start
    int_times = [s for lbl, s in prog.times if "integer t=" in lbl]
    summary = {
        "float_accuracy": acc_float, "ptq_weight_quantized_accuracy": acc_wq,
        "ptq_integer_accuracy": acc_t0, "mse_integer_accuracy": acc_int_plain,
        "mse_weight_quantized_accuracy": acc_wq_plain,
        "qat_integer_accuracy": sweep["qat"][0][0] if has_qat else None,
        "saving_vs_fp32": saving32, "saving_vs_int8": saving8, "zeros_float": zf, "zeros_int8": z8,
        "zeros_codes": zc, "qat_note": qat_note, "file": file_info, "auto_per_layer_t": auto,
        "targets": [{"target": a, "met": bool(b), "data": c} for a, b, c in targets],
        "seconds_total": elapsed, "engine_check": engine_check,
        "seconds_per_integer_config": {"mean": float(np.mean(int_times)), "max": float(np.max(int_times))}
        if int_times else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    report = _report_md(data, meta, acc_headers, acc_rows, mem_headers, mem_rows, err_headers,
                        err_rows, file_info, targets, summary, plots, macs, mult)
    (out / "report.md").write_text(report)
    if not opts.quiet:
        print(report)
        print(f"wrote {out}/report.md, accuracy/memory/product_error/file .md/.csv/.json, "
              f"summary.json, model.qsq, traces.npz" + (", accuracy_vs_t.png, accuracy_vs_rows.png"
                                                         if plots else ""))
        print(f"total {elapsed:.1f} s")
    return summary


def _plots(out: Path, sweep, acc_float, per_layer_res, base_rows) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    labels = {"ptq": "PTQ (no fine-tuning)", "qat": "QAT fine-tuned"}
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, res in sweep.items():
        ts = sorted(res)
        ax.plot(ts, [100 * res[t][0] for t in ts], "o-", label=labels[key])
    ax.axhline(100 * acc_float, color="k", ls="--", lw=1, label="float")
    ax.set_xlabel("truncation level t (CSD digits dropped)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs truncation level")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_t.png", dpi=120)
    plt.close(fig)
    names.append("accuracy_vs_t.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, res in sweep.items():
        ts = sorted(res)
        ax.plot([res[t][1] for t in ts], [100 * res[t][0] for t in ts], "o-", label=labels[key])
        for t in ts if key == "ptq" else []:
            ax.annotate(f"t={t}", (res[t][1], 100 * res[t][0]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    for ts, acc, rows in per_layer_res:
        ax.plot([rows], [100 * acc], "s", label=f"per-layer t={','.join(map(str, ts))}")
    ax.axhline(100 * acc_float, color="k", ls="--", lw=1, label="float")
    ax.set_xlabel("mean active partial-product rows per MAC")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs active rows (gating proxy)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_rows.png", dpi=120)
    plt.close(fig)
    names.append("accuracy_vs_rows.png")
    return names


def _report_md(data, meta, acc_headers, acc_rows, mem_headers, mem_rows, err_headers, err_rows,
               file_info, targets, summary, plots, macs, mult) -> str:
    s = summary
    lines = [f"# Network evaluation: {meta.get('arch')} on {data.describe()}", ""]
    lines += ["## Headline", "",
              f"* Float accuracy {s['float_accuracy']:.2%}; {file_info['code_bits']}-bit integer "
              f"inference (exact products) {s['ptq_integer_accuracy']:.2%} without fine-tuning"
              + (f", {s['qat_integer_accuracy']:.2%} after QAT fine-tuning" if s['qat_integer_accuracy']
                 is not None else "") + ".",
              f"* Weight memory saving {s['saving_vs_fp32']:.2%} vs FP32 ({s['saving_vs_int8']:.2%} vs "
              f"INT8); paper: up to {PAPER_SAVING:.2%}.",
              f"* Zero weights: {s['zeros_float']:.2%} float, {s['zeros_int8']:.2%} INT8, "
              f"{s['zeros_codes']:.2%} after {file_info['code_bits']}-bit coding "
              f"({100 * (s['zeros_codes'] - s['zeros_int8']):+.2f} points vs INT8, "
              f"{100 * (s['zeros_codes'] - s['zeros_float']):+.2f} vs float); paper: up to "
              f"+{PAPER_EXTRA_ZEROS:.0%}.",
              f"* Packed file {file_info['file_bytes']} bytes for {file_info['weights']} weights "
              f"(FP32 weights alone: {file_info['fp32_weight_bytes']} bytes); code-stream entropy "
              f"{file_info['entropy_bits_per_code']:.3f} bits/code, so entropy coding could shrink "
              f"the {file_info['raw_code_bytes']} code bytes to about {file_info['entropy_code_bytes']}.",
              "", "## Targets", ""]
    for name, met, detail in targets:
        lines.append(f"* **{'met' if met else 'MISSED'}** -- {name}: {detail}.")
    if summary.get("qat_note"):
        lines += ["", summary["qat_note"]]
    lines += ["", f"One test image is {1 / len(data.y_test):.2%} of the test split: differences of "
              "one or two images are within sampling noise.", ""]
    lines += ["", "## Accuracy per mode and truncation level (test split)", "",
              markdown_table(acc_headers, acc_rows),
              "## Weight memory and zero weights", "", markdown_table(mem_headers, mem_rows),
              "## Product error under the real operand distribution", "",
              f"{macs} multiplications of the test split ({mult.describe()}), activations of the "
              "exact (t=0) PTQ network; rows/MAC counts the nonzero CSD digits at positions >= t.", "",
              markdown_table(err_headers, err_rows),
              "## Packed model file", "", markdown_table(["quantity", "value"],
                                                         [[k, v] for k, v in file_info.items()])]
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    if s.get("seconds_per_integer_config"):
        lines += ["## Time", "",
                  f"Whole sweep {s['seconds_total']:.1f} s; integer inference over the test split "
                  f"{s['seconds_per_integer_config']['mean']:.3f} s per configuration on average "
                  f"(max {s['seconds_per_integer_config']['max']:.3f} s, `{s['engine_check']['engine']}` "
                  f"engine excluded); the `{s['engine_check']['engine']}` engine ran t=0 over the test "
                  f"split in {s['engine_check']['seconds']:.3f} s with identical logits.", ""]
    return "\n".join(lines)
