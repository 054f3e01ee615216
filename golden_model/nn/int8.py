"""The INT8 baseline network: 8-bit weights, exact multiplies, fixed-point requantization.

This is the golden model of the engine's ``pe="int8"`` processing element, the baseline every engine
figure is compared with. It follows common INT8 inference practice, in the same activation format as
the coded network (:mod:`golden_model.nn.quant`), so the two differ only in the weights and in how a
product is formed:

* **Weights**: symmetric per-layer INT8 from :func:`golden_model.codec.int8_baseline`,
  ``w8 = round(W / sigma)`` in ``[-127, 127]`` with ``sigma = max|W| / 127`` (a real number).
* **Activations**: unsigned 8-bit with power-of-two exponents ``e_in``, calibrated on the training
  images through the INT8-weight float model, exactly as for the coded network.
* **Accumulator**: int32, ``acc = bias_q + sum a * w8`` with ``bias_q = round(b / (sigma * 2**e_in))``;
  overflow is ruled out statically (``K * 255 * 127 + |bias_q| < 2**31``).
* **Requantization + ReLU** with a fixed-point multiplier, as INT8 accelerators do (the real rescale
  ``r = sigma * 2**(e_in - e_out)`` is not a power of two): ``r ~= M * 2**-n`` with a
  :data:`REQ_MULT_BITS`-bit mantissa ``2**(REQ_MULT_BITS-1) <= M < 2**REQ_MULT_BITS``, and
  ``a_out = clip((acc * M + 2**(n-1)) >> n, 0, 255)`` (round half up, arithmetic shift).
* **Output**: the last layer's int32 accumulators are the logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..codec import int8_baseline
from .model import Conv2D, Sequential
from .quant import ACT_BITS, _ops_of, layer_exponents, quantize_input, run_ops

__all__ = ["REQ_MULT_BITS", "Int8Layer", "Int8Model", "quantize_int8", "int8_forward", "int8_predict",
           "requantize_fixed", "fixed_point"]

#: Width of the requantization multiplier's mantissa ``M`` (unsigned).
REQ_MULT_BITS = 15
_ACT_MAX = (1 << ACT_BITS) - 1
_ACC_MAX = (1 << 31) - 1


def fixed_point(r: float) -> tuple[int, int]:
    """``(M, n)`` with ``M * 2**-n`` the nearest :data:`REQ_MULT_BITS`-bit approximation of ``r > 0``."""
    if not (r > 0 and math.isfinite(r)):
        raise ValueError(f"requantization scale must be a positive finite number, not {r!r}")
    mant, ex = math.frexp(r)                       # r = mant * 2**ex, 0.5 <= mant < 1
    m = round(mant * (1 << REQ_MULT_BITS))
    n = REQ_MULT_BITS - ex
    if m == 1 << REQ_MULT_BITS:
        m, n = m >> 1, n - 1
    if n < 1:
        raise ValueError(f"requantization scale {r!r} is too large (shift {n} < 1)")
    return m, n


def requantize_fixed(acc, mult: int, shift: int) -> np.ndarray:
    """``clip((acc * mult + 2**(shift-1)) >> shift, 0, 255)`` (int64; ``shift >= 1``)."""
    acc = np.asarray(acc, np.int64)
    # acc * mult < 2**31 * 2**15: exact in int64.
    return np.clip((acc * mult + (1 << (shift - 1))) >> shift, 0, _ACT_MAX)


@dataclass
class Int8Layer:
    """One INT8 compute layer.

    Attributes
    ----------
    name, kind : str
        Layer name; ``"conv"`` or ``"fc"``.
    weights : numpy.ndarray of int64
        ``w8`` in ``[-127, 127]``, shape of the float weights (filters first).
    sigma : float
        Real weight of one INT8 step.
    bias_q : numpy.ndarray of int64
        Integer bias in accumulator units ``sigma * 2**e_in``.
    e_in, e_out : int, int or None
        Activation exponents (``e_out`` None for the last layer).
    req_mult, req_shift : int
        Fixed-point requantization ``(M, n)`` (0, 0 for the last layer).
    k, pad : int
        Kernel size and padding (conv only).
    """

    name: str
    kind: str
    weights: np.ndarray
    sigma: float
    bias_q: np.ndarray
    e_in: int
    e_out: int | None
    req_mult: int
    req_shift: int
    k: int = 0
    pad: int = 0

    @property
    def weights_2d(self) -> np.ndarray:
        return self.weights.reshape(self.weights.shape[0], -1)

    @property
    def fan_in(self) -> int:
        return int(np.prod(self.weights.shape[1:]))


@dataclass
class Int8Model:
    """An INT8 network ready for integer inference (``arch``, ``input_shape``, ``ops``, ``layers``)."""

    arch: str
    input_shape: tuple
    ops: list
    layers: list

    @property
    def names(self) -> list[str]:
        return [q.name for q in self.layers]


def quantize_int8(model: Sequential, calib_x: np.ndarray, exponents: list[int] | None = None) -> Int8Model:
    """INT8 weights, biases, activation exponents and requantization constants of ``model``.

    Raises
    ------
    ValueError
        If the layer sequence is not supported, or a bias or accumulator could overflow int32.
    """
    ops = _ops_of(model)
    wq = model.copy()
    q8, sigmas = [], []
    for lay in wq.compute_layers:
        w8 = int8_baseline(lay.w)
        wmax = float(np.max(np.abs(lay.w)))
        sigma = wmax / 127.0 if wmax > 0 else 1.0
        lay.w = (w8 * sigma).astype(np.float32)
        q8.append(w8)
        sigmas.append(sigma)
    exponents = layer_exponents(wq, calib_x, exponents)
    comp = wq.compute_layers
    layers = []
    for i, (lay, w8, sigma) in enumerate(zip(comp, q8, sigmas)):
        e_in = int(exponents[i])
        bias_q = np.rint(lay.b.astype(np.float64) / math.ldexp(sigma, e_in)).astype(np.int64)
        worst = int(np.prod(lay.w.shape[1:])) * _ACT_MAX * 127 + int(np.abs(bias_q).max())
        if worst > _ACC_MAX:
            raise ValueError(f"layer {lay.name}: accumulator could reach {worst}, beyond int32")
        e_out = int(exponents[i + 1]) if i + 1 < len(comp) else None
        mult, shift = fixed_point(math.ldexp(sigma, e_in - e_out)) if e_out is not None else (0, 0)
        conv = isinstance(lay, Conv2D)
        layers.append(Int8Layer(lay.name, "conv" if conv else "fc", w8, sigma, bias_q, e_in, e_out,
                                mult, shift, lay.k if conv else 0, lay.pad if conv else 0))
    return Int8Model(model.arch, model.input_shape, ops, layers)


def int8_forward(qm: Int8Model, x: np.ndarray) -> np.ndarray:
    """INT8 logits (int64, within int32) of float images ``x`` ``(N, C, H, W)``."""
    x = np.asarray(x)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(qm.input_shape):
        raise ValueError(f"images must have shape (N,) + {tuple(qm.input_shape)!r}, not {x.shape!r}")

    def mac(li, cols):
        q = qm.layers[li]
        return (cols.astype(np.float64) @ q.weights_2d.T.astype(np.float64)).astype(np.int64) + q.bias_q

    def requant(li, acc):
        q = qm.layers[li]
        return requantize_fixed(acc, q.req_mult, q.req_shift)

    return run_ops(qm.ops, qm.layers, quantize_input(x, qm.layers[0].e_in), mac, requant)


def int8_predict(qm: Int8Model, x: np.ndarray, batch: int = 500) -> np.ndarray:
    """Predicted classes under INT8 inference, in batches."""
    return np.concatenate([int8_forward(qm, x[i:i + batch]).argmax(axis=1)
                           for i in range(0, len(x), batch)])
