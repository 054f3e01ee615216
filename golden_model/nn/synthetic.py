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
from .quant import QLayer, QuantizedModel, _mac, quantize_input, requantize, run_ops

__all__ = ["random_quantized_model", "random_images"]


def random_images(shape, count: int, seed: int = 0) -> np.ndarray:
    """``count`` random float images in ``[0, 1)`` of ``shape`` (C, H, W)."""
    count = check_int("count", count, 1, 1 << 20)
    return np.random.default_rng(seed).random((count,) + tuple(shape))


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
    c, h, w = input_shape
    ops, qlayers = [], []
    flat = False
    shape = (c, h, w)
    specs = list(layers)
    for i, spec in enumerate(specs):
        kind = spec[0]
        if kind == "conv":
            _, f, k, pad, pool = spec
            wshape = (f, shape[0], k, k)
            ops += ["conv", "relu"] + (["pool"] if pool else [])
            ho, wo = shape[1] + 2 * pad - k + 1, shape[2] + 2 * pad - k + 1
            nxt = (f, ho // (2 if pool else 1), wo // (2 if pool else 1))
        elif kind == "fc":
            f = spec[1]
            pad, k = 0, 0
            if not flat and len(shape) == 3 and any(op == "conv" for op in ops):
                ops.append("flatten")
            flat = True
            wshape = (f, int(np.prod(shape)))
            ops += ["fc"] + (["relu"] if i < len(specs) - 1 else [])
            nxt = (f,)
        else:
            raise ValueError(f"layer kind must be 'conv' or 'fc', not {kind!r}")
        mag = rng.integers(1, codec.max_index + 1, size=wshape)
        mag[rng.random(wshape) < zero_share] = 0
        sign = (rng.random(wshape) < 0.5) & (mag > 0)
        codes = ((sign.astype(np.int64) << (codec.code_bits - 1)) | mag).astype(np.uint8)
        scales = rng.integers(max(1, codec.scale_max // 4), codec.scale_max + 1, size=f)
        enc = EncodedLayer(codes, scales.astype(np.int64), -7, codec)
        bias = rng.integers(-2000, 2001, size=f).astype(np.int64)
        qlayers.append(QLayer(f"{kind}{i + 1}", kind, enc, bias, -8, None, k, pad))
        shape = nxt
    qm = QuantizedModel("synthetic", tuple(input_shape), ops, qlayers, codec)
    mult = qm.mult
    # Calibrate: choose each shift so that the largest accumulator on random images maps near 255.
    def mac(li, cols):
        return _mac(cols.reshape(cols.shape[0], -1), qlayers[li], mult, 0, "matmul") + qlayers[li].bias_q

    def requant(li, acc):
        q = qlayers[li]
        s = max(1, max(1, int(acc.max())).bit_length() - 8)
        q.e_out = q.e_in + q.encoded.exponent + s
        qlayers[li + 1].e_in = q.e_out
        return requantize(acc, s)

    x = random_images(input_shape, calib, seed + 1)
    run_ops(ops, qlayers, quantize_input(x, qlayers[0].e_in), mac, requant)
    return qm
