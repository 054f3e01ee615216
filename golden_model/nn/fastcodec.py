"""A faster exact twin of :func:`golden_model.codec.encode_layer`, for quantization-aware training.

QAT re-encodes every layer's weights in every training step. ``encode_layer`` scores each of the
``2**scale_bits - 1`` candidate scales of a filter by mapping all ``K`` weights to their nearest
level (``O(C * K * M)`` work per filter), which dominated a LeNet-5 QAT step (``make bench-train``
times both encoders per layer). Here each filter's
magnitudes are sorted once and prefix sums of ``x`` and ``x**2`` give every candidate's squared
error from the bin boundaries alone (``O(K log K + C * M log K)``):

    SSE(S) = sum over levels m of  sum(x^2) - 2 L_m sum(x) + L_m^2 n   (over the weights in bin m)

where the bin of level ``m`` holds the magnitudes in ``(mid_{m-1}, mid_m]`` (ties to the lower
level, as in the codec). Prefix sums round differently from the codec's direct sums, so every
candidate within a small tolerance of the best is re-scored with the codec's own formula and the
codec's tie rule (least error, then the smaller scale). The result -- exponent, scales and codes --
is identical to ``encode_layer``'s; ``tests/test_nn_fastcodec.py`` checks this on random layers.
"""

from __future__ import annotations

import numpy as np

from ..codec import EncodedLayer, encode_layer
from ..config import CodecConfig

__all__ = ["encode_layer_fast"]

#: Candidates whose fast error lies within this fraction of the filter's ``sum(x**2)`` of the best
#: one are re-scored exactly (prefix-sum rounding is ~1e-16 relative; this is far wider).
_REFINE_TOL = 1e-9


def _levels(config: CodecConfig) -> np.ndarray:
    big_m = config.max_index
    cand = np.arange(1, config.scale_max + 1, dtype=np.int64)
    shifts = big_m - np.arange(1, big_m + 1)
    return np.concatenate([np.zeros((cand.size, 1), np.int64), cand[:, None] >> shifts[None, :]],
                          axis=1).astype(np.float64)                   # (C, M+1)


def encode_layer_fast(weights, config: CodecConfig = CodecConfig()) -> EncodedLayer:
    """Same result as :func:`golden_model.codec.encode_layer` (same arguments, same errors)."""
    w = np.asarray(weights)
    if w.ndim < 2 or w.size == 0 or not np.issubdtype(w.dtype, np.floating):
        return encode_layer(weights, config)  # the codec's own checks and messages
    w = w.astype(np.float64)
    flat = w.reshape(w.shape[0], -1)
    amax = np.max(np.abs(flat)) if np.all(np.isfinite(flat)) else np.nan
    if not np.isfinite(amax) or amax == 0.0:
        return encode_layer(weights, config)
    # The exponent depends on max|W| alone: take it from the codec itself (one source of truth).
    e = encode_layer(np.array([[amax]]), config).exponent
    x = np.abs(np.ldexp(flat, -e))                                      # (F, K)
    f, k = x.shape
    lev = _levels(config)                                               # (C, M+1)
    mid = (lev[:, 1:] + lev[:, :-1]) / 2.0                              # (C, M)
    c, big_m = mid.shape

    xs = np.sort(x, axis=1)
    s1 = np.concatenate([np.zeros((f, 1)), np.cumsum(xs, axis=1)], axis=1)        # (F, K+1)
    s2 = np.concatenate([np.zeros((f, 1)), np.cumsum(xs * xs, axis=1)], axis=1)
    # Boundaries of every bin for every (filter, candidate): one searchsorted over all rows
    # (rows are shifted apart by more than the largest magnitude, so they stay sorted).
    span = float(config.scale_max) * 2 + 2
    off = np.arange(f)[:, None] * span
    pos = np.searchsorted((xs + off).ravel(), (mid.ravel()[None, :] + off).ravel(), side="right")
    pos = pos.reshape(f, c, big_m) - (np.arange(f) * k)[:, None, None]
    bounds = np.concatenate([np.zeros((f, c, 1), np.int64), pos, np.full((f, c, 1), k)], axis=2)
    rows = np.arange(f)[:, None, None]
    p1 = s1[rows, bounds]                                               # (F, C, M+2)
    p2 = s2[rows, bounds]
    n_b = np.diff(bounds, axis=2)
    sum_b, sq_b = np.diff(p1, axis=2), np.diff(p2, axis=2)              # (F, C, M+1)
    sse = np.sum(sq_b - 2.0 * lev[None] * sum_b + lev[None] ** 2 * n_b, axis=2)   # (F, C)

    best = np.argmin(sse, axis=1) + 1
    tol = _REFINE_TOL * (s2[:, -1] + 1.0)
    close = sse <= sse.min(axis=1, keepdims=True) + tol[:, None]
    for i in np.flatnonzero(close.sum(axis=1) > 1):
        near = np.flatnonzero(close[i])
        # Re-score the near-ties exactly as the codec does: nearest level, direct squared sum.
        lv = lev[near]                                                  # (n, M+1)
        idx = np.sum(x[i][None, :, None] > ((lv[:, 1:] + lv[:, :-1]) / 2.0)[:, None, :], axis=-1)
        q = np.take_along_axis(lv, idx, axis=-1)
        exact = np.sum((np.broadcast_to(x[i], q.shape) - q) ** 2, axis=-1)
        best[i] = near[int(np.argmin(exact))] + 1

    flev = lev[best - 1]                                                # (F, M+1)
    m = np.sum(x[:, :, None] > ((flev[:, 1:] + flev[:, :-1]) / 2.0)[:, None, :], axis=-1)
    sign = (flat < 0) & (m > 0)
    codes = (sign.astype(np.int64) << (config.code_bits - 1)) | m
    return EncodedLayer(codes.reshape(w.shape).astype(np.uint8), best, e, config)
