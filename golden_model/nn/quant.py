"""Bit-exact integer inference of a compressed CNN through the truncated-CSD multiplier.

Number formats (all integer; the hardware computes exactly this)
----------------------------------------------------------------
* **Weights** of every conv and fc layer: the golden-model codec
  (:func:`golden_model.codec.encode_layer`): ``code_bits``-bit codes, one unsigned per-filter scale
  ``S_f`` and one layer exponent ``E``. The multiplier operand ``b`` is the *decoded* weight
  ``decode(code, S_f)``, a signed ``scale_bits + 1``-bit integer (signed 8-bit by default); the real
  weight is ``b * 2**E``. :func:`post_training_quantize` chooses the codes and scales either with the
  codec's encoder (least weight error) or with :func:`encode_output_aware` (least output error on
  calibration inputs, same format), optionally with bias correction.
* **Activations** entering a layer: unsigned 8-bit ``a`` with a per-layer power-of-two scale
  ``2**e_in`` (real value ``a * 2**e_in``). ``e_in`` is calibrated on training images as the smallest
  exponent with ``max(activation) <= 256 * 2**e_in`` (values above ``255 * 2**e_in`` saturate, by
  less than one step). The network input is quantized as ``clip(floor(x * 2**-e_in + 1/2), 0, 255)``.
* **Products** ``p = a * b_t`` where ``b_t`` keeps the CSD digits of ``b`` at positions ``>= t``
  (:func:`golden_model.csd.csd_product`); ``t = 0`` is the exact product. ``t`` is one level for
  every layer or one per compute layer.
* **Accumulation** in a signed 32-bit accumulator, in units of ``2**(e_in + E)``:
  ``acc = bias_q + sum_k p_k``, with the integer bias ``bias_q = round(bias * 2**-(e_in + E))``.
  :func:`quantize_model` proves statically that no sum can leave the int32 range
  (``K * 255 * 128 + |bias_q| < 2**31``).
* **Requantization** of a layer followed by ReLU, to the next layer's exponent ``e_out``, with
  ``s = e_out - (e_in + E)``: ``a_out = clip((acc + 2**(s-1)) >> s, 0, 255)`` for ``s > 0``
  (arithmetic shift: round half up), ``clip(acc << -s, 0, 255)`` for ``s <= 0``. The clip at 0 *is*
  the ReLU. 2x2 max pooling then runs on the unsigned 8-bit values (it commutes with the monotone
  requantization).
* **Output**: the last layer's int32 accumulators are the logits; the prediction is their argmax
  (first maximum on ties).

Three MAC engines compute the same numbers: ``"table"`` gathers every product from the golden model's
:func:`~golden_model.csd.product_table` and sums them (what a multiplier processing element does,
product by product); ``"matmul"`` multiplies by the truncated weights ``b_t`` in float64 BLAS, exact
because every partial sum is an integer below ``2**53``; ``"bucket"`` adds the activations into one
bucket per code magnitude and multiplies each bucket once by its truncated constant
(:mod:`golden_model.nn.bucket`, what the bucket processing element does). Tests check them against a
scalar reference and against each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..codec import EncodedLayer, encode_layer
from ..config import CodecConfig, MultiplierConfig, check_bool
from ..csd import csd_truncate, product_table
from .model import Conv2D, Dense, Flatten, MaxPool2, ReLU, Sequential, im2col

__all__ = ["ACT_BITS", "QLayer", "QuantizedModel", "quantize_model", "calibrate_exponents",
           "integer_forward", "integer_predict", "weight_quantized_model", "requantize",
           "quantize_input", "check_truncations", "multiplier_config", "encode_output_aware",
           "post_training_quantize", "PTQ_METHODS", "CALIB_IMAGES", "ENGINES", "run_ops",
           "layer_exponents"]

#: Activation width (unsigned).
ACT_BITS = 8
#: Training images used for calibration (the first ones of the training split; all of the digits).
CALIB_IMAGES = 2048
_ACT_MAX = (1 << ACT_BITS) - 1
#: MAC engines of :func:`integer_forward` (identical results).
ENGINES = ("matmul", "table", "bucket")
_ACC_MAX = (1 << 31) - 1


def multiplier_config(codec: CodecConfig) -> MultiplierConfig:
    """The multiplier the network needs: unsigned 8-bit activations x signed decoded weights."""
    return MultiplierConfig(ACT_BITS, False, codec.weight_width, True)


@dataclass
class QLayer:
    """One compressed compute layer and its integer parameters.

    Attributes
    ----------
    name : str
    kind : str
        ``"conv"`` or ``"fc"``.
    encoded : EncodedLayer
        Codes, per-filter scales and exponent ``E`` of the weights.
    bias_q : numpy.ndarray of int64
        Integer bias in accumulator units ``2**(e_in + E)``.
    e_in : int
        Exponent of the unsigned 8-bit input activations.
    e_out : int or None
        Exponent of the requantized output; ``None`` for the last layer (int32 logits).
    k, pad : int
        Kernel size and zero padding (conv only; 0 for fc).
    """

    name: str
    kind: str
    encoded: EncodedLayer
    bias_q: np.ndarray
    e_in: int
    e_out: int | None
    k: int = 0
    pad: int = 0
    _w2d: np.ndarray | None = field(default=None, repr=False)

    @property
    def weights_int(self) -> np.ndarray:
        """Decoded weights as a ``(filters, K)`` int64 matrix (``K`` = fan-in, im2col order)."""
        if self._w2d is None:
            self._w2d = self.encoded.decoded().reshape(self.encoded.shape[0], -1)
        return self._w2d

    @property
    def fan_in(self) -> int:
        return int(np.prod(self.encoded.shape[1:]))

    @property
    def shift(self) -> int | None:
        """Requantization shift ``s = e_out - (e_in + E)`` (``None`` for the last layer)."""
        return None if self.e_out is None else self.e_out - (self.e_in + self.encoded.exponent)


@dataclass
class QuantizedModel:
    """A compressed network ready for integer inference.

    Attributes
    ----------
    arch : str
    input_shape : tuple of int
    ops : list of str
        The layer sequence: ``"conv"``/``"fc"`` (the next :class:`QLayer`), ``"relu"``, ``"pool"``,
        ``"flatten"``.
    layers : list of QLayer
    codec : CodecConfig
    """

    arch: str
    input_shape: tuple
    ops: list
    layers: list
    codec: CodecConfig

    @property
    def mult(self) -> MultiplierConfig:
        return multiplier_config(self.codec)

    @property
    def names(self) -> list[str]:
        return [q.name for q in self.layers]


def _ops_of(model: Sequential) -> list[str]:
    kinds = {Conv2D: "conv", Dense: "fc", ReLU: "relu", MaxPool2: "pool", Flatten: "flatten"}
    ops = [kinds[type(lay)] for lay in model.layers]
    for i, op in enumerate(ops):
        if op in ("conv", "fc") and i != len(ops) - 1 and ops[i + 1] != "relu":
            raise ValueError(f"layer {i} ({op}) must be followed by relu for integer inference")
    if ops[-1] != "fc":
        raise ValueError(f"the last layer must be fc for integer inference, not {ops[-1]!r}")
    return ops


def _act_exponent(vmax: float) -> int:
    """Smallest ``e`` with ``vmax <= 256 * 2**e`` (``-126`` for an all-zero activation)."""
    if vmax <= 0:
        return -126
    e = math.ceil(math.log2(vmax / 256.0))
    while math.ldexp(256.0, e) < vmax:
        e += 1
    while math.ldexp(256.0, e - 1) >= vmax:
        e -= 1
    return e


def calibrate_exponents(model: Sequential, x: np.ndarray, batch: int = 512) -> list[int]:
    """Input-activation exponent of every compute layer from the float activations on ``x``.

    ``model`` should already carry the weights that will be used (e.g. weight-quantized ones).
    """
    maxima = np.zeros(len(model.compute_layers))
    for i in range(0, len(x), batch):
        h = x[i:i + batch]
        j = 0
        for lay in model.layers:
            if isinstance(lay, (Conv2D, Dense)):
                maxima[j] = max(maxima[j], float(h.max()))
                j += 1
            h = lay.forward(h)
    return [_act_exponent(v) for v in maxima]


def encode_output_aware(weights, moment: np.ndarray, codec: CodecConfig = CodecConfig()) -> EncodedLayer:
    """Encode a layer choosing each filter's scale for the least *output* error.

    Same format, same layer exponent and same nearest-level code assignment as
    :func:`golden_model.codec.encode_layer`; only the per-filter scale search differs: instead of
    the weight error ``|e|**2`` it minimises ``e^T C e``, the mean squared error of the filter's
    output over the calibration inputs, where ``C = E[x x^T]`` (``moment``, ``K x K``) is the second
    moment of the layer's input patches and ``e`` the weight error. Candidates within a relative
    ``1e-9`` of the least output error count as tied and are separated by the weight error, then by
    the smaller scale (so weights that only meet always-zero inputs are still encoded sensibly).
    """
    base = encode_layer(weights, codec)
    w = np.asarray(weights, np.float64)
    f = w.shape[0]
    flat = w.reshape(f, -1)
    k = flat.shape[1]
    c = np.asarray(moment, np.float64)
    if c.shape != (k, k):
        raise ValueError(f"moment must have shape {(k, k)!r}, not {c.shape!r}")
    if not np.any(flat):
        return base
    e = base.exponent
    x = np.ldexp(flat, -e)
    mag = np.abs(x)
    big_m = codec.max_index
    cand = np.arange(1, codec.scale_max + 1, dtype=np.int64)
    lev = np.concatenate([np.zeros((cand.size, 1), np.int64),
                          cand[:, None] >> (big_m - np.arange(1, big_m + 1))[None, :]], axis=1)
    levf = lev.astype(np.float64)
    mid = (levf[:, 1:] + levf[:, :-1]) / 2.0                           # (C, M)
    best = np.empty(f, np.int64)
    for i in range(f):
        idx = np.sum(mag[i][None, :, None] > mid[:, None, :], axis=-1)  # (C, K), ties to lower
        q = np.take_along_axis(levf, idx, axis=1) * np.sign(x[i])[None, :]
        err = x[i][None, :] - q
        cost = np.sum((err @ c) * err, axis=1)
        # Candidates whose output errors agree to rounding (e.g. through inputs that are always 0)
        # are told apart by the weight error, then by the smaller scale: stable across BLAS builds.
        near = cost <= cost.min() + 1e-9 * max(float(cost.max()), 1e-300)
        mse = np.where(near, np.sum(err * err, axis=1), np.inf)
        best[i] = cand[int(np.argmin(mse))]
    flev = levf[best - 1]
    m = np.sum(mag[:, :, None] > ((flev[:, 1:] + flev[:, :-1]) / 2.0)[:, None, :], axis=-1)
    sign = (flat < 0) & (m > 0)
    codes = (sign.astype(np.int64) << (codec.code_bits - 1)) | m
    return EncodedLayer(codes.reshape(w.shape).astype(np.uint8), best, e, codec)


#: Post-training quantization methods of :func:`post_training_quantize`.
PTQ_METHODS = ("mse", "output")


def _input_moments(model: Sequential, target, x: np.ndarray, batch: int = 256):
    """Second moment ``E[x x^T]`` and mean of layer ``target``'s input patches over images ``x``.

    Accumulated in batches (im2col rows for conv), so memory stays bounded for large inputs.
    """
    k = int(np.prod(target.w.shape[1:]))
    c = np.zeros((k, k))
    total = np.zeros(k)
    n = 0
    for i in range(0, len(x), batch):
        h = x[i:i + batch]
        for lay in model.layers:
            if lay is target:
                break
            h = lay.forward(h)
        if isinstance(target, Conv2D):
            h = im2col(h, target.k, target.pad)[0]
        h = h.reshape(h.shape[0], -1).astype(np.float64)
        c += h.T @ h
        total += h.sum(axis=0)
        n += h.shape[0]
    return c / n, total / n


def post_training_quantize(model: Sequential, calib_x: np.ndarray, codec: CodecConfig = CodecConfig(),
                           method: str = "output", bias_correction: bool = True):
    """Encode every compute layer; return ``(weight-quantized float model, encoded layers)``.

    Layers are processed in order; layer ``j``'s calibration inputs are computed through the
    already-quantized layers ``< j`` (float arithmetic).

    Parameters
    ----------
    method : {"output", "mse"}
        ``"mse"``: the golden-model encoder (:func:`~golden_model.codec.encode_layer`, least weight
        error). ``"output"``: :func:`encode_output_aware` (least output error on the calibration
        inputs).
    bias_correction : bool
        Add ``(W - W_q) @ mean(input)`` to each bias, cancelling the mean output shift that weight
        quantization causes on the calibration inputs.
    """
    if method not in PTQ_METHODS:
        raise ValueError(f"method must be one of {PTQ_METHODS}, not {method!r}")
    check_bool("bias_correction", bias_correction)
    wq = model.copy()
    encoded = []
    for lf, lq in zip(model.compute_layers, wq.compute_layers):
        need_inputs = method == "output" or bias_correction
        moment, mean = _input_moments(wq, lq, calib_x) if need_inputs else (None, None)
        if method == "output":
            enc = encode_output_aware(lf.w, moment, codec)
        else:
            enc = encode_layer(lf.w, codec)
        lq.w = enc.dequantized().astype(np.float32)
        if bias_correction:
            dw = (lf.w.astype(np.float64) - lq.w).reshape(lq.w.shape[0], -1)
            lq.b = (lf.b + dw @ mean).astype(np.float32)
        encoded.append(enc)
    return wq, encoded


def weight_quantized_model(model: Sequential, calib_x: np.ndarray, codec: CodecConfig = CodecConfig(),
                           method: str = "output", bias_correction: bool = True) -> Sequential:
    """A copy of ``model`` with dequantized weights (float arithmetic): the weight-quantized mode."""
    return post_training_quantize(model, calib_x, codec, method, bias_correction)[0]


def quantize_model(model: Sequential, calib_x: np.ndarray, codec: CodecConfig = CodecConfig(),
                   method: str = "output", bias_correction: bool = True,
                   exponents: list[int] | None = None, ptq=None) -> QuantizedModel:
    """Compress ``model`` and derive every integer parameter of :func:`integer_forward`.

    Parameters
    ----------
    model : Sequential
        Float model (conv/fc layers each followed by ReLU, except the last fc).
    calib_x : numpy.ndarray
        Images used for calibration (training images): activation exponents, and the statistics
        of ``method`` and ``bias_correction`` (see :func:`post_training_quantize`).
    codec : CodecConfig
    exponents : list of int, optional
        Input-activation exponents to use instead of calibrating them.
    ptq : tuple, optional
        A result of :func:`post_training_quantize` for the same arguments, to avoid recomputing it.

    Raises
    ------
    ValueError
        If the layer sequence is not supported, or a bias or accumulator could overflow int32.
    """
    ops = _ops_of(model)
    if ptq is None:
        ptq = post_training_quantize(model, calib_x, codec, method, bias_correction)
    wq, encoded = ptq
    exponents = layer_exponents(wq, calib_x, exponents)
    comp = wq.compute_layers
    mult = multiplier_config(codec)
    layers = []
    for i, (lay, enc) in enumerate(zip(comp, encoded)):
        e_acc = exponents[i] + enc.exponent
        bias_q = np.rint(np.ldexp(lay.b.astype(np.float64), -e_acc)).astype(np.int64)
        k_in = int(np.prod(lay.w.shape[1:]))
        worst = k_in * _ACT_MAX * max(-mult.b.min, mult.b.max) + int(np.abs(bias_q).max())
        if worst > _ACC_MAX:
            raise ValueError(f"layer {lay.name}: accumulator could reach {worst}, beyond int32")
        e_out = exponents[i + 1] if i + 1 < len(comp) else None
        kind = "conv" if isinstance(lay, Conv2D) else "fc"
        layers.append(QLayer(lay.name, kind, enc, bias_q, int(exponents[i]), e_out,
                             lay.k if kind == "conv" else 0, lay.pad if kind == "conv" else 0))
    return QuantizedModel(model.arch, model.input_shape, ops, layers, codec)


def layer_exponents(wq: Sequential, calib_x: np.ndarray, exponents=None) -> list:
    """``exponents`` checked against ``wq``'s compute layers, or calibrated on ``calib_x``."""
    if exponents is None:
        exponents = calibrate_exponents(wq, calib_x)
    n = len(wq.compute_layers)
    if len(exponents) != n:
        raise ValueError(f"exponents must have one entry per compute layer ({n}), not {len(exponents)}")
    return list(exponents)


def quantize_input(x: np.ndarray, e_in: int) -> np.ndarray:
    """``clip(floor(x * 2**-e_in + 1/2), 0, 255)`` as int64."""
    return np.clip(np.floor(np.ldexp(np.asarray(x, np.float64), -e_in) + 0.5), 0, _ACT_MAX).astype(np.int64)


def requantize(acc: np.ndarray, shift: int) -> np.ndarray:
    """ReLU + requantization of int accumulators to unsigned 8-bit (see the module notes)."""
    acc = np.asarray(acc, np.int64)
    if shift > 0:
        v = (acc + (1 << (shift - 1))) >> shift
    else:
        v = acc << (-shift)
    return np.clip(v, 0, _ACT_MAX)


def check_truncations(t, qm: QuantizedModel) -> list[int]:
    """One truncation level per compute layer, from an int (same everywhere) or a sequence."""
    mult = qm.mult
    n = len(qm.layers)
    if isinstance(t, (list, tuple, np.ndarray)):
        if len(t) != n:
            raise ValueError(f"truncation list must have one level per layer ({n}), not {len(t)}")
        return [mult.check_truncation(int(v) if isinstance(v, np.integer) else v, "truncation")
                for v in t]
    return [mult.check_truncation(t, "truncation")] * n


_TABLES: dict = {}


def _table(mult: MultiplierConfig, t: int) -> np.ndarray:
    key = (mult, t)
    if key not in _TABLES:
        _TABLES[key] = product_table(mult, t)
    return _TABLES[key]


def _mac(cols: np.ndarray, q: QLayer, mult: MultiplierConfig, t: int, engine: str) -> np.ndarray:
    """``acc[r, f] = sum_k table[a[r, k], b[f, k]]`` (int64, without the bias)."""
    if engine == "bucket":
        from .bucket import bucket_mac
        return bucket_mac(cols, q.encoded, t)
    w = q.weights_int
    if engine == "matmul":
        wt = csd_truncate(w, mult.b, t).astype(np.float64)
        return (cols.astype(np.float64) @ wt.T).astype(np.int64)
    tab = _table(mult, t)
    bi = w - mult.b.min                                             # (F, K)
    ai = cols - mult.a.min                                          # (R, K)
    out = np.empty((cols.shape[0], w.shape[0]), np.int64)
    step = max(1, 2_000_000 // max(1, w.size))
    for r in range(0, cols.shape[0], step):
        out[r:r + step] = tab[ai[r:r + step, None, :], bi[None, :, :]].sum(axis=-1, dtype=np.int64)
    return out


def integer_forward(qm: QuantizedModel, x: np.ndarray, t=0, engine: str = "matmul",
                    record: dict | None = None) -> np.ndarray:
    """Integer logits (int64, values within int32) of images ``x`` (float, ``(N, C, H, W)``).

    Parameters
    ----------
    qm : QuantizedModel
    x : numpy.ndarray
        Float images in the model's input scale (the data loaders' ``[0, 1]``).
    t : int or sequence of int
        Truncation level of every layer, or one per compute layer.
    engine : {"matmul", "table", "bucket"}
        How the products are summed (identical results; see the module notes).
    record : dict, optional
        If given, ``record[name] = (a, b)`` receives each compute layer's unsigned 8-bit input
        patches ``a`` (``(positions, K)``, im2col order) and decoded weights ``b`` (``(F, K)``).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    ts = check_truncations(t, qm)
    x = np.asarray(x)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(qm.input_shape):
        raise ValueError(f"images must have shape (N,) + {tuple(qm.input_shape)!r}, not {x.shape!r}")
    mult = qm.mult

    def mac(li, cols):
        q = qm.layers[li]
        if record is not None:
            record[q.name] = (cols, q.weights_int)
        return _mac(cols, q, mult, ts[li], engine) + q.bias_q

    return run_ops(qm.ops, qm.layers, quantize_input(x, qm.layers[0].e_in), mac,
                   lambda li, acc: requantize(acc, qm.layers[li].shift))


def run_ops(ops, layers, h: np.ndarray, mac, requant) -> np.ndarray:
    """The integer layer sequence shared by every integer inference path.

    ``h`` is the quantized input batch ``(N, C, H, W)``; ``mac(li, cols)`` returns the int64
    accumulators ``(rows, filters)`` of compute layer ``li`` for its input patches ``cols``
    (im2col rows for conv, the flattened input for fc), bias included; ``requant(li, acc)`` maps
    layer ``li``'s accumulators to unsigned 8-bit activations (ReLU included). Layers need ``k`` and
    ``pad`` attributes (conv). Returns the last compute layer's accumulators (the logits).
    """
    li = 0
    acc = None
    for op in ops:
        if op in ("conv", "fc"):
            q = layers[li]
            n = h.shape[0]
            if op == "conv":
                cols, ho, wo = im2col(h, q.k, q.pad)
            else:
                cols = h
            acc = mac(li, cols)
            if op == "conv":
                acc = acc.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2)
            h = acc
            li += 1
        elif op == "relu":
            h = requant(li - 1, acc)
        elif op == "pool":
            n, c, hh, ww = h.shape
            h = h[:, :, :hh // 2 * 2, :ww // 2 * 2].reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))
        elif op == "flatten":
            h = h.reshape(h.shape[0], -1)
    return h


def integer_predict(qm: QuantizedModel, x: np.ndarray, t=0, engine: str = "matmul",
                    batch: int = 500) -> np.ndarray:
    """Predicted classes of ``x`` under integer inference, in batches."""
    return np.concatenate([integer_forward(qm, x[i:i + batch], t, engine).argmax(axis=1)
                           for i in range(0, len(x), batch)])
