"""The network evaluation report (``qsq evaluate``): accuracy per mode and truncation level, memory,
zero weights, product error under the real operand distribution, active rows, file size, plots.

Everything is measured from the checkpoint and the data at run time; nothing is typed in except the
paper's figures quoted beside ours (:data:`PAPER`, labelled as quotes wherever they appear).

Statistics (:mod:`golden_model.nn.stats`): every accuracy carries its Wilson 95 % interval; every
comparison of two configurations is paired on the same test images -- images lost and gained
against the reference and McNemar's exact p-value -- instead of a difference of two accuracies.
Every choice (the automatic per-layer truncation list, the recommended uniform level, the
configuration of the row-cut target) is made on the *validation* split alone, by
:func:`golden_model.nn.selection.select` (search fold, then one comparison per choice on a second,
confirmation fold); the test split is read only for the report.
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
from .userdata import data_for
from .packfile import code_entropy, pack_model
from .quant import (CALIB_IMAGES, PTQ_METHODS, integer_forward, integer_predict,
                    post_training_quantize, quantize_model)
from .selection import (ALPHA, ROW_CUT_TARGET, TARGET_BUDGET, acceptable, choose_per_layer_t,
                        operand_histograms, rows_per_mac, select)
from .stats import fmt_ci, paired, wilson
from .traces import DEFAULT_CAP, write_traces
from .train import blas_threads
from ..fileio import atomic_open, atomic_write_bytes, atomic_write_text

__all__ = ["EvalOptions", "evaluate", "operand_histograms", "choose_per_layer_t", "acceptable",
           "PAPER"]

#: The paper's figures (Khaliq & Hafiz, 2024), quoted -- never measured here. Only figures the
#: paper states as numbers are quoted; the others are shown as "not quoted".
PAPER = {"saving_vs_fp32": 0.8249, "extra_zeros": 0.06}
PAPER_SAVING = PAPER["saving_vs_fp32"]
PAPER_EXTRA_ZEROS = PAPER["extra_zeros"]


@dataclass
class EvalOptions:
    """Options of :func:`evaluate` (the ``qsq evaluate`` flags)."""

    checkpoint: Path = DEFAULT_CHECKPOINT
    data: str | None = None
    dataset: str | None = None                         # default: the checkpoint's own
    code_bits: int = 3
    levels: list = field(default_factory=lambda: list(range(9)))
    per_layer: list = field(default_factory=list)     # explicit per-layer t lists
    auto_per_layer_budget: float = 0.005               # validation-accuracy budget of the auto list
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


def evaluate(opts: EvalOptions) -> dict:
    """Run the whole sweep, print the tables, write ``opts.out``; return the summary dict.

    BLAS runs single-threaded (:func:`~golden_model.nn.train.blas_threads`): the products are
    small, and spinning worker threads slow them down badly on a shared machine.
    """
    with blas_threads(1):
        return _evaluate(opts)


def _evaluate(opts: EvalOptions) -> dict:
    t_start = time.perf_counter()
    out = Path(opts.out)
    codec = CodecConfig(opts.code_bits)
    if opts.method not in PTQ_METHODS:
        raise ValueError(f"method must be one of {PTQ_METHODS}, not {opts.method!r}")
    ck = load_checkpoint(opts.checkpoint)
    meta = ck.meta
    data = data_for(meta, opts.data, opts.dataset, ck.float_model.input_shape)
    out.mkdir(parents=True, exist_ok=True)
    # Calibration uses the first CALIB_IMAGES training images (bounded memory and time on MNIST /
    # CIFAR-10); the per-layer search uses the validation split; everything reported is test.
    xtr = data.x_train[:CALIB_IMAGES]
    xva, yva = data.x_val, data.y_val
    xte, yte = data.x_test, data.y_test
    n_test = len(yte)
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
    search = len(levels) > 1 and len(yva) >= 2   # two validation folds of >= 1 image
    n_auto = 12 if search else 0  # estimate; corrected once the search has run
    # float, MSE (3), PTQ (2), histograms, levels, auto search + lists, QAT (2 + levels), error, traces
    after_auto = len(opts.per_layer) + search + (2 + len(levels) if has_qat else 0) + 2
    prog = _Progress(7 + len(levels) + n_auto + after_auto, opts.quiet)

    correct: dict[str, np.ndarray] = {}   # configuration key -> per-test-image "right" vector
    acc_rows = []
    acc_headers = ["mode", "weights", "t", "accuracy", "95 % CI", "vs float", "reference", "lost",
                   "gained", "McNemar p", "active rows/MAC", "row cut", "seconds"]

    def add_row(mode, label, t, key, ref_key, seconds, rows_mac="", cut=""):
        c = correct[key]
        k = int(c.sum())
        lo, hi = wilson(k, n_test)
        acc = k / n_test
        cells = [mode, label, t, acc, f"{100 * lo:.2f}-{100 * hi:.2f} %",
                 acc - correct_float.mean() if key != "float" else 0.0]
        if ref_key is None:
            cells += ["", "", "", ""]
        else:
            pr = paired(correct[ref_key], c)
            cells += [_REF_NAMES.get(ref_key, ref_key), pr.lost, pr.gained, pr.p]
        acc_rows.append(cells + [rows_mac, cut, seconds])
        return acc

    tm = time.perf_counter()
    correct["float"] = ck.float_model.predict(xte) == yte
    correct_float = correct["float"]
    acc_float = float(correct_float.mean())
    prog.step("float", time.perf_counter() - tm)
    add_row("float", "float32", "-", "float", None, time.perf_counter() - tm)

    def ptq(model, label, key, method, bc, exps=None):
        tm = time.perf_counter()
        res = post_training_quantize(model, xtr, codec, method, bc)
        correct[f"{key}-wq"] = res[0].predict(xte) == yte
        prog.step(f"{label}: weight-quantized", time.perf_counter() - tm)
        add_row("weight-quantized (float math)", label, "-", f"{key}-wq", "float",
                time.perf_counter() - tm)
        tm = time.perf_counter()
        qmodel = quantize_model(model, xtr, codec, method, bc, exponents=exps, ptq=res)
        prog.step(f"{label}: calibrate", time.perf_counter() - tm)
        return qmodel

    # Plain codec (weight-MSE encoder, no bias correction), then the default post-training method.
    mse_label = f"{opts.code_bits}-bit codec, MSE encoder"
    qm_plain = ptq(ck.float_model, mse_label, "mse", "mse", False)
    tm = time.perf_counter()
    correct["mse-0"] = integer_predict(qm_plain, xte, 0, opts.engine) == yte
    prog.step("MSE encoder: integer t=0", time.perf_counter() - tm)
    acc_int_plain = add_row("integer, exact products", mse_label, 0, "mse-0", "float",
                            time.perf_counter() - tm)
    ptq_label = f"{opts.code_bits}-bit PTQ ({opts.method}{' + bias corr.' if opts.bias_correction else ''})"
    qm = ptq(ck.float_model, ptq_label, "ptq", opts.method, opts.bias_correction)
    acc_wq = float(correct["ptq-wq"].mean())

    qm_qat = ptq_qat = None
    if has_qat:
        tm = time.perf_counter()
        # Fine-tuning ran with the plain codec encoder and fixed exponents: evaluate it the same way.
        ptq_qat = post_training_quantize(ck.qat_model, xtr, codec, "mse", False)
        qm_qat = quantize_model(ck.qat_model, xtr, codec, "mse", False, exponents=ck.qat_exponents,
                                ptq=ptq_qat)
        prog.step("QAT: quantize", time.perf_counter() - tm)

    # Every choice (per-layer levels, uniform level, the row-cut target's configuration) is made
    # here, on the validation split alone: search fold, then one comparison per choice on the
    # confirmation fold (golden_model.nn.selection). The test split is only reported.
    selection = None
    if search:
        models = {"ptq": qm, **({"qat": qm_qat} if has_qat else {})}
        selection = select(models, xva, yva, levels, opts.auto_per_layer_budget, opts.per_layer,
                           opts.engine, prog)
        prog.total = prog.done + after_auto

    tm = time.perf_counter()
    hists = operand_histograms(qm, xte, 0)
    prog.step("operand histograms", time.perf_counter() - tm)
    n_layers = len(qm.layers)

    sweep = {}

    def run_levels(qmodel, label, key, hists):
        res = {}
        for t in levels:
            tm = time.perf_counter()
            correct[f"{key}-{t}"] = integer_predict(qmodel, xte, t, opts.engine) == yte
            sec = time.perf_counter() - tm
            prog.step(f"{key}: integer t={t}", sec)
            res[t] = (float(correct[f"{key}-{t}"].mean()), rows_per_mac(qmodel, hists, [t] * n_layers),
                      sec)
        base_rows = res[0][1]
        for t in levels:
            acc, rows_mac, sec = res[t]
            if t == 0:
                add_row("integer, exact products", label, 0, f"{key}-0", "float", sec, rows_mac, 0.0)
            else:
                add_row("integer, truncated CSD", label, t, f"{key}-{t}", f"{key}-0", sec, rows_mac,
                        1 - rows_mac / base_rows)
        sweep[key] = res
        return res

    run_levels(qm, ptq_label, "ptq", hists)
    base_rows = sweep["ptq"][0][1]

    per_layer_lists = [list(map(int, ts)) for ts in opts.per_layer]
    auto = selection.per_layer.config if selection else None
    if auto is not None:
        per_layer_lists.append(auto)
    per_layer_res = []
    for i, ts in enumerate(per_layer_lists):
        tm = time.perf_counter()
        key = f"ptq-L{i}"
        correct[key] = integer_predict(qm, xte, ts, opts.engine) == yte
        sec = time.perf_counter() - tm
        prog.step(f"ptq: per-layer t={ts}", sec)
        rows_mac = rows_per_mac(qm, hists, ts)
        is_auto = auto is not None and i == len(per_layer_lists) - 1
        tag = "per-layer t (auto, validation split)" if is_auto else "per-layer t"
        acc = add_row(f"integer, {tag}", ptq_label, ",".join(map(str, ts)), key, "ptq-0", sec,
                      rows_mac, 1 - rows_mac / base_rows)
        per_layer_res.append((ts, acc, rows_mac, key))

    if has_qat:
        tm = time.perf_counter()
        correct["qat-wq"] = ptq_qat[0].predict(xte) == yte
        add_row("weight-quantized (float math)", f"{opts.code_bits}-bit QAT fine-tuned", "-",
                "qat-wq", "float", time.perf_counter() - tm)
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
    atomic_write_bytes(out / "model.qsq", packed)
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

    # ---------------------------------------------------------------- targets (paired evidence)
    acc_t0 = sweep["ptq"][0][0]
    targets = []
    bits = f"{opts.code_bits}-bit"
    pf = paired(correct["float"], correct["ptq-0"])
    targets.append((f"{bits} weights, no fine-tuning: integer accuracy within 1 point of float",
                    acc_float - acc_t0 <= 0.01 + 1e-12,
                    f"float {fmt_ci(int(correct['float'].sum()), n_test)}, integer PTQ "
                    f"{fmt_ci(int(correct['ptq-0'].sum()), n_test)} ({100 * (acc_t0 - acc_float):+.2f} "
                    f"points; {pf.describe()}); plain MSE encoder {acc_int_plain:.2%} "
                    f"({100 * (acc_int_plain - acc_float):+.2f})"))
    if has_qat:
        acc_q0 = sweep["qat"][0][0]
        pq = paired(correct["float"], correct["qat-0"])
        targets.append((f"{bits} weights after fine-tuning: within 0.3 points of float",
                        acc_float - acc_q0 <= 0.003 + 1e-12,
                        f"float {acc_float:.2%}, integer QAT "
                        f"{fmt_ci(int(correct['qat-0'].sum()), n_test)} "
                        f"({100 * (acc_q0 - acc_float):+.2f} points; {pq.describe()})"))
    # The row-cut target: its configuration was chosen on the validation split (the largest cut
    # >= ROW_CUT_TARGET acceptable on the search fold); here it is read on test, once.
    tgt_name = (f"the configuration chosen on the validation split (largest active-row cut >= "
                f"{ROW_CUT_TARGET:.0%} within {TARGET_BUDGET:.1%} of t=0 on the search fold) "
                f"keeps its accuracy on the test images: loss <= {TARGET_BUDGET:.1%} against t=0, "
                f"not significant (McNemar p >= {ALPHA})")
    tgt = selection.target if selection else None
    if tgt is None or tgt.config is None:
        why = ("no validation split" if selection is None else
               f"no candidate of {tgt.tried} passes on the search fold")
        targets.append((tgt_name, False, why))
    else:
        kind, fam = tgt.label.split("|")
        ts = tgt.config
        if isinstance(ts, list):
            key = next(k for t_, _, _, k in per_layer_res if t_ == ts)
            rw = rows_per_mac(qm, hists, ts)
        else:
            key, rw = f"{fam}-{ts}", sweep[fam][ts][1]
        cut = 1 - rw / sweep[fam][0][1]
        pr = paired(correct[f"{fam}-0"], correct[key])
        shown = ",".join(map(str, ts)) if isinstance(ts, list) else ts
        c = tgt.confirm
        targets.append((tgt_name, cut >= ROW_CUT_TARGET and acceptable(pr, TARGET_BUDGET),
                        f"{kind} {shown} (chosen among {tgt.tried} candidates; confirmation fold: "
                        f"lost {c['lost']}, gained {c['gained']}, "
                        f"{'confirmed' if tgt.confirmed else 'NOT confirmed'}); on test: rows/MAC "
                        f"cut {cut:.1%}, {100 * pr.delta:+.2f} points vs t=0 ({pr.describe()})"))

    # The recommended uniform level: chosen on the search fold, confirmed on the confirmation
    # fold, then reported on test.
    recommended = None
    uni = selection.uniform if selection else None
    if uni is not None and uni.config is not None:
        t = uni.config
        pt = paired(correct["ptq-0"], correct[f"ptq-{t}"])
        recommended = {"t": t, "search": uni.search, "confirm": uni.confirm,
                       "confirmed": uni.confirmed, "tried": uni.tried, "test": pt.__dict__,
                       "row_cut": 1 - sweep["ptq"][t][1] / sweep["ptq"][0][1]}

    # ---------------------------------------------------------------- write
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
    paper_rows = _paper_rows(correct, n_test, sweep, levels, has_qat, saving32, zc - z8, zc - zf)
    write_table(out / "paper", PAPER_HEADERS, paper_rows,
                f"{meta.get('arch')} on {data.name}: this run beside the paper", runmeta)
    plots = _plots(out, sweep, acc_float, per_layer_res, base_rows) if opts.plots else []

    elapsed = time.perf_counter() - t_start
    int_times = [s for lbl, s in prog.times if "integer t=" in lbl]
    ci = {k: wilson(int(v.sum()), n_test) for k, v in correct.items()}
    summary = {
        "float_accuracy": acc_float, "ptq_weight_quantized_accuracy": acc_wq,
        "ptq_integer_accuracy": acc_t0, "mse_integer_accuracy": acc_int_plain,
        "mse_weight_quantized_accuracy": float(correct["mse-wq"].mean()),
        "qat_integer_accuracy": sweep["qat"][0][0] if has_qat else None,
        "test_images": n_test, "validation_images": int(len(yva)), "data": data.describe(),
        "ci95": {k: list(v) for k, v in ci.items()},
        "paired_vs_float": {k: paired(correct["float"], v).__dict__ for k, v in correct.items()
                            if k != "float"},
        "saving_vs_fp32": saving32, "saving_vs_int8": saving8, "zeros_float": zf, "zeros_int8": z8,
        "zeros_codes": zc, "qat_note": qat_note, "file": file_info, "auto_per_layer_t": auto,
        "auto_per_layer_validation": selection.per_layer.search if auto is not None else None,
        "auto_per_layer_confirm": selection.per_layer.confirm if auto is not None else None,
        "auto_per_layer_confirmed": selection.per_layer.confirmed if auto is not None else None,
        "selection": selection.as_dict() if selection else None,
        "auto_per_layer_test": paired(correct["ptq-0"], correct[per_layer_res[-1][3]]).__dict__
        if auto is not None else None,
        "recommended_t": recommended, "levels": levels,
        "targets": [{"target": a, "met": bool(b), "data": c} for a, b, c in targets],
        "seconds_total": elapsed, "engine_check": engine_check,
        "seconds_per_integer_config": {"mean": float(np.mean(int_times)), "max": float(np.max(int_times))}
        if int_times else None,
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    report = _report_md(data, meta, acc_headers, acc_rows, mem_headers, mem_rows, err_headers,
                        err_rows, file_info, targets, summary, plots, macs, mult, paper_rows, opts)
    atomic_write_text(out / "report.md", report)
    if not opts.quiet:
        print(report)
        print(f"wrote {out}/report.md, accuracy/memory/product_error/file/paper .md/.csv/.json, "
              f"summary.json, model.qsq, traces.npz" + (", accuracy_vs_t.png, accuracy_vs_rows.png"
                                                         if plots else ""))
        print(f"total {elapsed:.1f} s")
    return summary


_REF_NAMES = {"float": "float", "ptq-0": "PTQ t=0", "qat-0": "QAT t=0"}

PAPER_HEADERS = ["quantity", "this run (measured)", "95 % CI / paired", "paper (quoted)"]


def _paper_rows(correct, n, sweep, levels, has_qat, saving32, extra_vs_int8, extra_vs_float):
    """The paper's LeNet table, side by side: our measured figure, its interval or paired test,
    and the paper's figure where the paper states one (labelled as a quote)."""
    def acc(key):
        k = int(correct[key].sum())
        lo, hi = wilson(k, n)
        return f"{100 * k / n:.2f} %", f"{100 * lo:.2f}-{100 * hi:.2f} %"

    nq = "not quoted"
    rows = [["float accuracy", *acc("float"), nq],
            ["3-bit accuracy, no fine-tuning (integer, t=0)", *acc("ptq-0"), nq]]
    if has_qat:
        rows.append(["3-bit accuracy, fine-tuned (integer, t=0)", *acc("qat-0"), nq])
    rows += [["memory saving vs FP32", f"{100 * saving32:.2f} %", "",
              f"up to {100 * PAPER['saving_vs_fp32']:.2f} % (quoted)"],
             ["increase in zero weights vs INT8", f"{100 * extra_vs_int8:+.2f} points", "",
              f"up to {100 * PAPER['extra_zeros']:.0f} % (quoted)"],
             ["increase in zero weights vs float", f"{100 * extra_vs_float:+.2f} points", "", nq]]
    for fam, label in (("ptq", "no fine-tuning"), ("qat", "fine-tuned")):
        if fam == "qat" and not has_qat:
            continue
        for t in levels[1:]:
            a, _ = acc(f"{fam}-{t}")
            pr = paired(correct[f"{fam}-0"], correct[f"{fam}-{t}"])
            rows.append([f"accuracy at t={t}, {label}", a, f"vs t=0: {pr.describe()}", nq])
    return rows


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
    with atomic_open(out / "accuracy_vs_t.png", "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    names.append("accuracy_vs_t.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, res in sweep.items():
        ts = sorted(res)
        ax.plot([res[t][1] for t in ts], [100 * res[t][0] for t in ts], "o-", label=labels[key])
        for t in ts if key == "ptq" else []:
            ax.annotate(f"t={t}", (res[t][1], 100 * res[t][0]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    for ts, acc, rows, _ in per_layer_res:
        ax.plot([rows], [100 * acc], "s", label=f"per-layer t={','.join(map(str, ts))}")
    ax.axhline(100 * acc_float, color="k", ls="--", lw=1, label="float")
    ax.set_xlabel("mean active partial-product rows per MAC")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs active rows (gating proxy)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_open(out / "accuracy_vs_rows.png", "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    names.append("accuracy_vs_rows.png")
    return names


def _report_md(data, meta, acc_headers, acc_rows, mem_headers, mem_rows, err_headers, err_rows,
               file_info, targets, summary, plots, macs, mult, paper_rows, opts) -> str:
    s = summary
    n = s["test_images"]
    ci = s["ci95"]

    def acc_ci(key, value):
        lo, hi = ci[key]
        return f"{value:.2%} (95 % CI {lo:.2%}-{hi:.2%})"

    lines = [f"# Network evaluation: {meta.get('arch')} on {data.describe()}", ""]
    lines += ["## Headline", "",
              f"* Float accuracy {acc_ci('float', s['float_accuracy'])}; "
              f"{file_info['code_bits']}-bit integer inference (exact products) "
              f"{acc_ci('ptq-0', s['ptq_integer_accuracy'])} without fine-tuning"
              + (f", {acc_ci('qat-0', s['qat_integer_accuracy'])} after QAT fine-tuning"
                 if s['qat_integer_accuracy'] is not None else "") + f", on {n} test images.",
              f"* Weight memory saving {s['saving_vs_fp32']:.2%} vs FP32 ({s['saving_vs_int8']:.2%} vs "
              f"INT8); paper (quoted): up to {PAPER_SAVING:.2%}.",
              f"* Zero weights: {s['zeros_float']:.2%} float, {s['zeros_int8']:.2%} INT8, "
              f"{s['zeros_codes']:.2%} after {file_info['code_bits']}-bit coding "
              f"({100 * (s['zeros_codes'] - s['zeros_int8']):+.2f} points vs INT8, "
              f"{100 * (s['zeros_codes'] - s['zeros_float']):+.2f} vs float); paper (quoted): up to "
              f"+{PAPER_EXTRA_ZEROS:.0%}.",
              f"* Packed file {file_info['file_bytes']} bytes for {file_info['weights']} weights "
              f"(FP32 weights alone: {file_info['fp32_weight_bytes']} bytes); code-stream entropy "
              f"{file_info['entropy_bits_per_code']:.3f} bits/code, so entropy coding could shrink "
              f"the {file_info['raw_code_bytes']} code bytes to about {file_info['entropy_code_bytes']}."]
    sel = s.get("selection")
    budget = f"within {opts.auto_per_layer_budget:.1%} of t=0 and not significantly worse"

    def folds(c):
        v, k = c["search"], c["confirm"]
        return (f"search fold: lost {v['lost']}, gained {v['gained']}; confirmation fold: lost "
                f"{k['lost']}, gained {k['gained']} (McNemar p = {k['p']:.3g}, 95 % upper bound "
                f"of the loss {k['loss_upper_bound']:.2%}), "
                f"{'confirmed' if c['confirmed'] else 'NOT confirmed'}")
    rec = s.get("recommended_t")
    if rec:
        t = rec["test"]
        word = "Recommended" if rec["confirmed"] else "Chosen (not confirmed, so not recommended)"
        lines.append(
            f"* {word} uniform truncation level (the highest t {budget} on the search fold, "
            f"{rec['tried']} levels compared): **t = {rec['t']}**, {rec['row_cut']:.1%} fewer "
            f"active rows per MAC; {folds(rec)}; test: lost {t['lost']}, gained {t['gained']} "
            f"(McNemar p = {t['p']:.3g}).")
    elif sel and len(s["levels"]) > 1:
        lines.append(f"* No uniform truncation level t >= 1 passes on the search fold ({budget}): "
                     "none is recommended.")
    if s.get("auto_per_layer_t") is not None:
        t = s["auto_per_layer_test"]
        c = dict(sel["per_layer"], confirmed=s["auto_per_layer_confirmed"])
        lines.append(
            f"* Per-layer levels searched greedily on the search fold ({budget}; "
            f"{sel['per_layer']['tried']} candidates compared): t = "
            f"{','.join(map(str, s['auto_per_layer_t']))}; {folds(c)}; test vs t=0: lost "
            f"{t['lost']}, gained {t['gained']} (McNemar p = {t['p']:.3g}).")
    elif sel is None:
        lines.append("* No validation split of at least 2 images: the per-layer search and the "
                     "recommended level were skipped.")
    if sel:
        lines += ["", "**Method of every choice.** The validation split (held out from training) "
                  f"is split once, stratified by label (seed {sel['seed']}), into a search fold "
                  f"of {sel['search_images']} and a confirmation fold of {sel['confirm_images']} "
                  "images. Every choice -- the per-layer levels, the uniform level, the "
                  "configuration of the row-cut target -- is made on the search fold "
                  f"({sel['candidates_tried']} candidate configurations compared with t=0 there "
                  "in all, the per-layer search ranking them by the search fold's active rows); "
                  "each choice is then compared with t=0 once on the confirmation fold, which "
                  "the search never saw, so that comparison is free of the selection among the "
                  "candidates; its one-sided 95 % upper bound of the accuracy loss is the "
                  "union of two one-sided 97.5 % Wilson bounds (images lost, images gained). "
                  "The test split is read only for this report, after every choice is made; "
                  "every row of the accuracy table is a test-split figure, none is chosen from "
                  "them."]
    lines += ["", "## Targets", ""]
    for name, met, detail in targets:
        lines.append(f"* **{'met' if met else 'MISSED'}** -- {name}: {detail}.")
    if summary.get("qat_note"):
        lines += ["", summary["qat_note"]]
    lines += ["", f"One test image is {1 / n:.2%} of the test split. Intervals are Wilson 95 % "
              "intervals; comparisons are paired on the same images: *lost* = right under the "
              "reference, wrong here; *gained* = the reverse; McNemar's exact p-value tests whether "
              "the two counts differ by more than chance."]
    if data.name == "digits":
        lines += ["The spread over data splits (5-fold cross-validation, one model per fold) is "
                  "in the separate report of `make spread` (`qsq spread`)."]
    lines += ["", "## The paper's table, side by side", "",
              "Figures marked *quoted* are the paper's (Khaliq & Hafiz, 2024), typed in; everything "
              "else is measured by this run.", "",
              markdown_table(PAPER_HEADERS, paper_rows)]
    lines += ["## Accuracy per mode and truncation level (test split)", "",
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
