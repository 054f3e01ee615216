"""Quality-scalable weight codes: shift-and-scale decoding, the encoder and its per-layer report.

A layer's float weights ``W`` (output channel first) are stored as

* one power-of-two exponent ``E`` for the layer (signed, :data:`~golden_model.config.EXPONENT_BITS`),
* one unsigned integer scale ``S_f`` per filter (output channel), ``1 <= S_f < 2**scale_bits``,
* one ``code_bits``-bit code per weight (see :class:`~golden_model.config.CodecConfig`),

so that ``W[f, ...] ~= decode(code, S_f) * 2**E``. Decoding needs only a shift, a negation and a
multiplexer: ``(-1)**s * (S >> (M - m))`` or 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import EXPONENT_BITS, CodecConfig, check_int

__all__ = [
    "decode",
    "levels",
    "EncodedLayer",
    "encode_layer",
    "LayerReport",
    "layer_report",
    "pack_codes",
    "unpack_codes",
]

_EXP_MIN = -(1 << (EXPONENT_BITS - 1))
_EXP_MAX = (1 << (EXPONENT_BITS - 1)) - 1


def decode(codes, scales, config: CodecConfig = CodecConfig()) -> np.ndarray:
    """Decode weight codes to signed integers (``int64``).

    Parameters
    ----------
    codes : array_like of int
        Codes in ``[0, 2**code_bits)``.
    scales : array_like of int
        Per-filter scales in ``[1, 2**scale_bits)``, broadcast against ``codes`` (for a layer,
        shape ``(filters, 1, ..., 1)``).
    config : CodecConfig

    Raises
    ------
    TypeError, ValueError
        For non-integer or out-of-range codes or scales.
    """
    c = config.check_codes(codes)
    s = config.check_scales(scales)
    big_m = config.max_index
    m = c & big_m
    neg = (c >> (config.code_bits - 1)) & 1
    mag = np.where(m == 0, 0, s >> np.maximum(big_m - m, 0))
    return np.where(neg == 1, -mag, mag)


def levels(scale: int, config: CodecConfig = CodecConfig()) -> np.ndarray:
    """The ``M + 1`` magnitude levels of one scale, indexed by ``m`` (``levels[0] == 0``)."""
    s = int(config.check_scales(np.asarray(scale)))
    big_m = config.max_index
    return np.array([0] + [s >> (big_m - m) for m in range(1, big_m + 1)], dtype=np.int64)


@dataclass(frozen=True)
class EncodedLayer:
    """One compressed layer.

    Attributes
    ----------
    codes : numpy.ndarray of uint8
        One code per weight, same shape as the float weights.
    scales : numpy.ndarray of int64, shape ``(filters,)``
    exponent : int
        ``E``: the real weight is ``decode(code, S_f) * 2**E``.
    config : CodecConfig
    """

    codes: np.ndarray
    scales: np.ndarray
    exponent: int
    config: CodecConfig

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    def _scales_bcast(self) -> np.ndarray:
        return self.scales.reshape((-1,) + (1,) * (self.codes.ndim - 1))

    def decoded(self) -> np.ndarray:
        """Integer weights ``decode(code, S_f)`` (``int64``, same shape as the codes)."""
        return decode(self.codes, self._scales_bcast(), self.config)

    def dequantized(self) -> np.ndarray:
        """Approximate float weights ``decoded() * 2**exponent`` (``float64``)."""
        return np.ldexp(self.decoded().astype(np.float64), self.exponent)


def _check_weights(weights) -> np.ndarray:
    w = np.asarray(weights)
    if not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)) \
            or w.dtype == np.bool_:
        raise TypeError(f"weights must be a real-valued array, not an array of {w.dtype}")
    if w.ndim < 2:
        raise ValueError(
            f"weights must have at least 2 dimensions (output channel first), not shape {w.shape!r}")
    if w.size == 0:
        raise ValueError(f"weights must not be empty, not shape {w.shape!r}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite, not containing NaN or Inf")
    return w


def _nearest_index(x: np.ndarray, lev: np.ndarray) -> np.ndarray:
    """Index of the nearest of the ascending levels ``lev[..., :]`` for magnitudes ``x``.

    ``x`` has shape ``(..., K)``, ``lev`` shape ``(..., L)`` (same leading axes). Ties go to the
    lower level, so a weight half-way between 0 and the first level becomes 0.
    """
    mid = (lev[..., 1:] + lev[..., :-1]) / 2.0
    return np.sum(x[..., :, None] > mid[..., None, :], axis=-1)


def encode_layer(weights, config: CodecConfig = CodecConfig()) -> EncodedLayer:
    """Compress float filters to codes, per-filter scales and a layer exponent.

    The exponent is the smallest ``E`` with ``max|W| / 2**E <= 2**scale_bits - 1``, so the largest
    weight is representable with full scale resolution (clamped to the bottom of the signed 8-bit
    field for layers of tiny weights, which then round towards zero). For every filter, every scale
    ``S in [1, 2**scale_bits)`` is tried and the one with the least squared reconstruction error
    (each weight mapped to its nearest level, ties to the smaller magnitude) is kept; ties between
    scales go to the smaller scale. Weights that map to level 0 get code 0 (never the reserved code).

    Parameters
    ----------
    weights : array_like of float, shape ``(filters, ...)``
        At least two dimensions, output channel first; finite; not empty.
    config : CodecConfig

    Raises
    ------
    TypeError
        If ``weights`` is not a real-valued array.
    ValueError
        If ``weights`` is empty, has fewer than 2 dimensions, or holds NaN or Inf, or if its largest
        magnitude needs an exponent above the signed 8-bit field (about 2e40).
    """
    w = _check_weights(weights)
    filters = w.shape[0]
    flat = w.reshape(filters, -1)
    wmax = float(np.max(np.abs(flat)))
    if wmax == 0.0:
        return EncodedLayer(np.zeros(w.shape, np.uint8), np.ones(filters, np.int64), 0, config)

    smax = config.scale_max
    # log2 of each side: wmax / smax underflows to 0 for a subnormal wmax (log2(0) fails)
    e = math.ceil(math.log2(wmax) - math.log2(smax))
    while math.ldexp(smax, e) < wmax:  # guard against log2 rounding
        e += 1
    while math.ldexp(smax, e - 1) >= wmax:
        e -= 1
    # Weights too small for the field are encoded at the smallest exponent (they round towards 0);
    # weights too large for it cannot be represented.
    e = max(e, _EXP_MIN)
    if e > _EXP_MAX:
        raise ValueError(
            f"weights need exponent {e}, outside the {EXPONENT_BITS}-bit range "
            f"[{_EXP_MIN}, {_EXP_MAX}] (largest magnitude {wmax!r})")
    x = np.abs(np.ldexp(flat, -e))  # (F, K), magnitudes in scale units, <= smax

    big_m = config.max_index
    cand = np.arange(1, smax + 1, dtype=np.int64)                     # (C,)
    shifts = big_m - np.arange(1, big_m + 1)                          # (M,)
    lev = np.concatenate([np.zeros((cand.size, 1), np.int64),
                          cand[:, None] >> shifts[None, :]], axis=1)  # (C, M+1)
    levf = lev.astype(np.float64)

    # Search every candidate scale per filter, in chunks that keep memory bounded.
    k = x.shape[1]
    per_filter = cand.size * k * (big_m + 1)
    chunk = max(1, int(4_000_000 // per_filter))
    best = np.empty(filters, np.int64)
    for f0 in range(0, filters, chunk):
        xf = x[f0:f0 + chunk]                                         # (f, K)
        xb = np.broadcast_to(xf[:, None, :], (xf.shape[0], cand.size, k))
        idx = _nearest_index(xb, np.broadcast_to(levf, (xf.shape[0],) + levf.shape))
        q = np.take_along_axis(np.broadcast_to(levf, (xf.shape[0],) + levf.shape), idx, axis=-1)
        sse = np.sum((xb - q) ** 2, axis=-1)                          # (f, C)
        best[f0:f0 + chunk] = cand[np.argmin(sse, axis=1)]

    flev = lev[best - 1].astype(np.float64)                           # (F, M+1)
    m = _nearest_index(x, flev)                                       # (F, K)
    sign = (flat < 0) & (m > 0)
    codes = (sign.astype(np.int64) << (config.code_bits - 1)) | m
    return EncodedLayer(codes.reshape(w.shape).astype(np.uint8), best, e, config)


@dataclass(frozen=True)
class LayerReport:
    """Memory, sparsity and error figures of one encoded layer.

    Bits are counted as stored: codes (``code_bits`` per weight), scales (``scale_bits`` per filter)
    and the exponent (:data:`~golden_model.config.EXPONENT_BITS`). The INT8 baseline is symmetric
    per-layer quantization, ``round(W / (max|W| / 127))``, with one FP32 scale per layer.
    """

    weights: int
    filters: int
    bits_codes: int
    bits_scales: int
    bits_exponent: int
    bits_fp32: int
    bits_int8: int
    zero_frac_float: float
    zero_frac_int8: float
    zero_frac_codes: float
    rmse: float
    rel_l2_error: float
    sqnr_db: float

    @property
    def bits_total(self) -> int:
        return self.bits_codes + self.bits_scales + self.bits_exponent

    @property
    def saving_vs_fp32(self) -> float:
        return 1.0 - self.bits_total / self.bits_fp32

    @property
    def saving_vs_int8(self) -> float:
        return 1.0 - self.bits_total / self.bits_int8


def int8_baseline(weights) -> np.ndarray:
    """Symmetric per-layer INT8 quantization of ``weights`` (integers in [-127, 127])."""
    w = _check_weights(weights)
    wmax = np.max(np.abs(w))
    if wmax == 0:
        return np.zeros(w.shape, np.int64)
    return np.clip(np.rint(w / (wmax / 127.0)), -127, 127).astype(np.int64)


def layer_report(weights, encoded: EncodedLayer) -> LayerReport:
    """Compare float ``weights`` with their encoding."""
    w = _check_weights(weights)
    if w.shape != encoded.shape:
        raise ValueError(f"weights shape {w.shape!r} does not match the encoded shape {encoded.shape!r}")
    cfg = encoded.config
    n = w.size
    filters = w.shape[0]
    err = w - encoded.dequantized()
    power = float(np.sum(w ** 2))
    noise = float(np.sum(err ** 2))
    return LayerReport(
        weights=n,
        filters=filters,
        bits_codes=n * cfg.code_bits,
        bits_scales=filters * cfg.scale_bits,
        bits_exponent=EXPONENT_BITS,
        bits_fp32=32 * n,
        bits_int8=8 * n + 32,
        zero_frac_float=float(np.mean(w == 0)),
        zero_frac_int8=float(np.mean(int8_baseline(w) == 0)),
        zero_frac_codes=float(np.mean((encoded.codes & cfg.max_index) == 0)),
        rmse=math.sqrt(noise / n),
        rel_l2_error=math.sqrt(noise / power) if power else 0.0,
        sqnr_db=10 * math.log10(power / noise) if noise and power else math.inf,
    )


def pack_codes(codes, config: CodecConfig, lanes: int) -> np.ndarray:
    """Pack a flat code stream into words of ``lanes`` codes, the hardware decoder's input.

    Code ``j`` of a word occupies bits ``[j*code_bits, (j+1)*code_bits)`` (first code in the least
    significant bits). A stream whose length is not a multiple of ``lanes`` is padded with code 0.
    Returns Python-int-safe ``uint64`` words (``lanes * code_bits <= 64``).
    """
    lanes = check_int("lanes", lanes, 1, 64 // config.code_bits)
    c = config.check_codes(np.asarray(codes).reshape(-1)).astype(np.uint64)
    pad = (-c.size) % lanes
    c = np.concatenate([c, np.zeros(pad, np.uint64)]).reshape(-1, lanes)
    shifts = (np.arange(lanes, dtype=np.uint64) * np.uint64(config.code_bits))
    return np.bitwise_or.reduce(c << shifts, axis=1) if lanes > 1 else c[:, 0]


def unpack_codes(words, config: CodecConfig, lanes: int, count: int | None = None) -> np.ndarray:
    """Inverse of :func:`pack_codes`; ``count`` drops the padding."""
    lanes = check_int("lanes", lanes, 1, 64 // config.code_bits)
    w = np.asarray(words, dtype=np.uint64).reshape(-1)
    shifts = (np.arange(lanes, dtype=np.uint64) * np.uint64(config.code_bits))
    mask = np.uint64((1 << config.code_bits) - 1)
    c = ((w[:, None] >> shifts[None, :]) & mask).reshape(-1).astype(np.int64)
    if count is not None:
        count = check_int("count", count, 0, c.size)
        c = c[:count]
    return c
