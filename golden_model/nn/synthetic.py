"""Synthetic integer networks of any shape, for tests and benchmarks of the inference engine.

:func:`random_quantized_model` builds a :class:`~golden_model.nn.quant.QuantizedModel` directly in
the integer format -- random codes (a chosen share of them zero), random per-filter scales and
biases -- and *calibrates* every requantization shift on random images so that activations spread
over the 8-bit range instead of saturating or vanishing. No training and no data set are needed, so
engine shapes that no trained model has (odd sizes, one channel, many lanes) can still be checked
bit for bit.
"""

from __future__ import annotations

import numpy as np

from ..codec import EncodedLayer
from ..config import CodecConfig, check_int
from .int8 import Int8Layer, Int8Model, fixed_point, requantize_fixed
from .quant import QLayer, QuantizedModel, _mac, quantize_input, requantize, run_ops

__all__ = ["random_quantized_model", "random_int8_model", "random_images"]


def random_images(shape, count: int, seed: int = 0) -> np.ndarray:
    """``count`` random float images in ``[0, 1)`` of ``shape`` (C, H, W)."""
    count = check_int("count", count, 1, 1 << 20)
    return np.random.default_rng(seed).random((count,) + tuple(shape))


def _shapes(layers, input_shape):
    """Op list and ``(kind, weight shape, k, pad)`` of every compute layer of a layer spec."""
    ops, out = [], []
    flat = False
    shape = tuple(input_shape)
    specs = list(layers)
    for i, spec in enumerate(specs):
        kind = spec[0]
        if kind == "conv":
            _, f, k, pad, pool = spec
            out.append(("conv", (f, shape[0], k, k), k, pad))
            ops += ["conv", "relu"] + (["pool"] if pool else [])
            ho, wo = shape[1] + 2 * pad - k + 1, shape[2] + 2 * pad - k + 1
            shape = (f, ho // (2 if pool else 1), wo // (2 if pool else 1))
        elif kind == "fc":
            f = spec[1]
            if not flat and "conv" in ops:
                ops.append("flatten")
            flat = True
            out.append(("fc", (f, int(np.prod(shape))), 0, 0))
            ops += ["fc"] + (["relu"] if i < len(specs) - 1 else [])
            shape = (f,)
        else:
            raise ValueError(f"layer kind must be 'conv' or 'fc', not {kind!r}")
    return ops, out


def _calibrate(ops, layers, input_shape, seed, calib, mac, set_requant):
    """Run random images; ``set_requant(li, acc)`` fixes layer ``li``'s requantization from its
    accumulators and returns the requantized activations."""
    x = random_images(input_shape, calib, seed + 1)
    run_ops(ops, layers, quantize_input(x, layers[0].e_in), mac, set_requant)


def random_quantized_model(layers, input_shape, seed: int = 0, codec: CodecConfig = CodecConfig(),
                           zero_share: float = 0.3, calib: int = 16) -> QuantizedModel:
    """A random coded network with calibrated requantization shifts.

    Parameters
    ----------
    layers : list of tuple
        ``("conv", filters, k, pad, pool)`` or ``("fc", outputs)``, in order; the last must be fc.
        A conv stage is conv -> relu (-> pool); fc stages but the last are fc -> relu; a flatten is
        inserted before the first fc that follows a convolution.
    input_shape : tuple of int
        ``(C, H, W)``.
    zero_share : float
        Probability of a zero code.
    calib : int
        Random images used to choose each layer's shift (largest accumulator -> about 255).
    """
    rng = np.random.default_rng(seed)
    ops, shapes = _shapes(layers, input_shape)
    qlayers = []
    for i, (kind, wshape, k, pad) in enumerate(shapes):
        f = wshape[0]
        mag = rng.integers(1, codec.max_index + 1, size=wshape)
        mag[rng.random(wshape) < zero_share] = 0
        sign = (rng.random(wshape) < 0.5) & (mag > 0)
        codes = ((sign.astype(np.int64) << (codec.code_bits - 1)) | mag).astype(np.uint8)
        scales = rng.integers(max(1, codec.scale_max // 4), codec.scale_max + 1, size=f)
        enc = EncodedLayer(codes, scales.astype(np.int64), -7, codec)
        bias = rng.integers(-2000, 2001, size=f).astype(np.int64)
        qlayers.append(QLayer(f"{kind}{i + 1}", kind, enc, bias, -8, None, k, pad))
    qm = QuantizedModel("synthetic", tuple(input_shape), ops, qlayers, codec)
    mult = qm.mult

    def mac(li, cols):
        return _mac(cols.reshape(cols.shape[0], -1), qlayers[li], mult, 0, "matmul") + qlayers[li].bias_q

    def requant(li, acc):
        q = qlayers[li]
        s = max(1, max(1, int(acc.max())).bit_length() - 8)
        q.e_out = q.e_in + q.encoded.exponent + s
        qlayers[li + 1].e_in = q.e_out
        return requantize(acc, s)

    _calibrate(ops, qlayers, input_shape, seed, calib, mac, requant)
    return qm


def random_int8_model(layers, input_shape, seed: int = 0, zero_share: float = 0.2,
                      calib: int = 16) -> Int8Model:
    """A random INT8 network (weights in [-127, 127]) with calibrated fixed-point requantization.

    ``layers`` as :func:`random_quantized_model`; each layer's ``(M, n)`` maps the largest
    accumulator on random images to about 255.
    """
    rng = np.random.default_rng(seed)
    ops, shapes = _shapes(layers, input_shape)
    q8 = []
    for i, (kind, wshape, k, pad) in enumerate(shapes):
        w8 = rng.integers(-127, 128, size=wshape)
        w8[rng.random(wshape) < zero_share] = 0
        bias = rng.integers(-20000, 20001, size=wshape[0]).astype(np.int64)
        q8.append(Int8Layer(f"{kind}{i + 1}", kind, w8.astype(np.int64), 1.0, bias, -8, None, 0, 0,
                            k, pad))
    qm = Int8Model("synthetic", tuple(input_shape), ops, q8)

    def mac(li, cols):
        w = q8[li].weights_2d
        return cols.reshape(cols.shape[0], -1) @ w.T + q8[li].bias_q

    def requant(li, acc):
        q = q8[li]
        q.req_mult, q.req_shift = fixed_point(255.0 / max(1, int(acc.max())))
        q.e_out = q8[li + 1].e_in = -8
        return requantize_fixed(acc, q.req_mult, q.req_shift)

    _calibrate(ops, q8, input_shape, seed, calib, mac, requant)
    return qm
