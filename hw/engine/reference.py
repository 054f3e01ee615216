"""Memory-level model of the engine: the compiled program run the way the hardware runs it.

It reads the *memory images* of an :class:`~hw.engine.program.EngineProgram` (packed weight words,
scale and bias entries, the two activation regions) and walks the same loops as the sequencer --
group, output position (pooling-window order), channel, kernel row, kernel column, skipping padding
taps -- forming each lane's accumulator with its processing element's arithmetic, then the
post-processing unit's bias, requantization, pooling and write. So three levels can be told apart
when something disagrees:

* golden network (:func:`golden_model.nn.quant.integer_forward` / :func:`golden_model.nn.int8.
  int8_forward`) vs this model: the compiler (memory images, plans) or the PE arithmetic is wrong;
* this model vs the RTL: the RTL (sequencer, PE or post-processing) is wrong; :func:`run_program`
  returns every layer's activation region, which the testbench can compare with the RTL's memory.
"""

from __future__ import annotations

import numpy as np

from golden_model.csd import csd_truncate
from golden_model.nn.bucket import bucket_constants
from golden_model.nn.int8 import requantize_fixed
from golden_model.nn.quant import ACT_BITS, requantize

from .program import EngineProgram, LayerPlan, positions, tap_ranges

__all__ = ["run_program", "unpack_words", "classify"]


def unpack_words(prog: EngineProgram) -> np.ndarray:
    """The weight memory as ``(words, lanes)`` signed lane values (codes, or INT8 weights)."""
    lanes = prog.config.lanes
    bits = prog.weight_bits // lanes
    mask = (1 << bits) - 1
    out = np.empty((len(prog.weight_words), lanes), np.int64)
    for i, word in enumerate(prog.weight_words):
        for j in range(lanes):
            out[i, j] = (word >> (j * bits)) & mask
    if prog.config.pe == "int8":
        out = np.where(out >= 128, out - 256, out)
    return out


def _tap_addresses(p: LayerPlan, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
    """Activation and weight-word offsets of output (y, x)'s issued taps, in issue order."""
    ky_lo, ky_hi, kx_lo, kx_hi = tap_ranges(p, y, x)
    c = np.arange(p.C)[:, None, None]
    ky = np.arange(ky_lo, ky_hi + 1)[None, :, None]
    kx = np.arange(kx_lo, kx_hi + 1)[None, None, :]
    act = c * p.H * p.W + (y + ky - p.pad) * p.W + (x + kx - p.pad)
    wgt = c * p.k * p.k + ky * p.k + kx
    return act.reshape(-1), wgt.reshape(-1)


def run_program(prog: EngineProgram, image_q, trunc=None) -> tuple[np.ndarray, dict]:
    """Run one quantized image; return ``(logits, regions)``.

    Parameters
    ----------
    prog : EngineProgram
    image_q : array_like of int
        The image's unsigned 8-bit pixels (:func:`golden_model.nn.quant.quantize_input`), any shape
        with ``C * H * W`` elements in C x H x W order.
    trunc : list of int, optional
        Truncation level of every compute layer (coded engines); default the program's reset values.

    Returns
    -------
    logits : numpy.ndarray of int64, shape ``(classes,)``
    regions : dict
        ``regions[name]`` is the activation memory content written by layer ``name`` (its output
        region, ``F * out_plane`` bytes), for every layer but the last.
    """
    cfg = prog.config
    ts = list(prog.default_trunc if trunc is None else trunc)
    px = np.asarray(image_q, np.int64).reshape(-1)
    if px.size != prog.input_size or px.min() < 0 or px.max() > (1 << ACT_BITS) - 1:
        raise ValueError(f"image_q must hold {prog.input_size} unsigned {ACT_BITS}-bit pixels")
    act = np.zeros(prog.act_depth, np.int64)
    act[:px.size] = px
    words = unpack_words(prog)
    lanes = cfg.lanes
    regions: dict = {}
    logits = None
    for p in prog.layers:
        scales = np.asarray(prog.scales[p.f_base:p.f_base + p.G * lanes], np.int64)
        biases = np.asarray(prog.biases[p.f_base:p.f_base + p.G * lanes], np.int64)
        acc_out = np.zeros((p.G * lanes, p.outputs), np.int64)
        for g in range(p.G):
            lane_f = slice(g * lanes, (g + 1) * lanes)
            for n, (y, x, _, _, _) in enumerate(positions(p)):
                a_off, w_off = _tap_addresses(p, y, x)
                a = act[p.in_base + a_off]                                   # (taps,)
                v = words[p.w_base + g * p.K + w_off]                        # (taps, lanes)
                acc_out[lane_f, n] = _lanes(prog, p, a, v, scales[lane_f], ts[p.index] if ts else 0)
        acc_out += biases[:, None]
        if p.last:
            logits = acc_out[:p.F, 0]
            break
        if cfg.pe == "int8":
            q = requantize_fixed(acc_out, p.req_mult, p.req_shift)
        else:
            q = requantize(acc_out, p.shift)
        q = q[:p.F].reshape(p.F, p.PH * p.PW, p.win * p.win).max(axis=2)      # window order
        act[p.out_base:p.out_base + p.F * p.out_plane] = q.reshape(-1)
        regions[p.name] = q.reshape(-1).copy()
    return logits, regions


def _lanes(prog: EngineProgram, p: LayerPlan, a: np.ndarray, v: np.ndarray, scales: np.ndarray,
           t: int) -> np.ndarray:
    """Every lane's accumulator (without bias) for one output: taps ``a`` x lane values ``v``."""
    if prog.config.pe == "int8":
        return a @ v
    codec = prog.codec
    big_m = codec.max_index
    m = v & big_m
    sign = np.where(m == 0, 0, 1 - 2 * ((v >> (codec.code_bits - 1)) & 1))
    if prog.config.pe == "bucket":
        # Bucket sums per magnitude, then one truncated-CSD multiply per bucket (post-processing).
        buckets = np.stack([(a[:, None] * np.where(m == idx, sign, 0)).sum(axis=0)
                            for idx in range(1, big_m + 1)], axis=1)         # (lanes, M)
        const = bucket_constants(np.maximum(scales, 1), codec, t) * (scales > 0)[:, None]
        return (buckets * const).sum(axis=1)
    # Multiplier PE: decode each code with its lane's scale, truncate, multiply, accumulate.
    level = np.where(m == 0, 0, scales[None, :] >> np.maximum(big_m - m, 0))
    w = sign * level
    return (a[:, None] * csd_truncate(w, codec.weight_format, t)).sum(axis=0)


def classify(logits: np.ndarray) -> int:
    """The class the engine reports: the first maximum."""
    return int(np.argmax(logits))
