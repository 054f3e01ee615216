"""The bucket formulation of integer inference: fan-in additions, then a few multiplies per output.

Why it is exact
---------------
With ``n``-bit codes a decoded weight is ``w = (-1)**s * (S_f >> (M - m))`` for ``m >= 1`` (0 for
``m = 0``), ``M = 2**(n-1) - 1``, and ``S_f`` is fixed for filter ``f``. CSD recoding is
sign-symmetric (the non-adjacent form of ``-x`` is the digit-wise negation of that of ``x``), so the
truncated weight is ``trunc_t(w) = (-1)**s * trunc_t(S_f >> (M - m))`` for every level ``t``. Grouping
the fan-in by magnitude index ``m`` gives, exactly and for every ``t``::

    sum_j a_j * trunc_t(w_j) = sum_{m=1..M} C_t[f, m] * B[f, m]
    B[f, m]   = sum_{j : m_j = m} (-1)**s_j * a_j          (the "bucket" sums: adds and subtracts)
    C_t[f, m] = trunc_t(S_f >> (M - m))                    (the bucket constants: one per filter)

So an output needs ``fan_in`` additions or subtractions of activations into ``M`` buckets (codes with
``m = 0`` -- zero weights -- touch nothing) and then ``M`` multiplies by a truncated-CSD constant,
instead of ``fan_in`` multiplies. For 3-bit codes ``M = 3``.

This module is the golden model of the engine's ``pe="bucket"`` processing element: the
:func:`bucket_sums` are what its accumulators hold at the end of an output, :func:`bucket_constants`
what its post-processing multiplies them by. :func:`golden_model.nn.quant.integer_forward` with
``engine="bucket"`` runs a whole network this way; tests prove it equal to the product-table engine
bit for bit.
"""

from __future__ import annotations

import numpy as np

from ..codec import EncodedLayer
from ..config import CodecConfig, MultiplierConfig
from ..csd import csd_truncate

__all__ = ["bucket_constants", "bucket_sums", "bucket_mac", "bucket_width", "bucket_widths",
           "bucket_op_counts"]


def _fields(codes: np.ndarray, codec: CodecConfig) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude index ``m`` and sign (+1/-1; 0 where ``m == 0``) of every code."""
    c = codec.check_codes(codes)
    m = c & codec.max_index
    neg = (c >> (codec.code_bits - 1)) & 1
    sign = np.where(m == 0, 0, 1 - 2 * neg)
    return m, sign


def bucket_constants(scales, codec: CodecConfig, t) -> np.ndarray:
    """``C_t[f, m - 1] = trunc_t(S_f >> (M - m))`` for ``m = 1 .. M``: shape ``(filters, M)``, int64.

    ``t`` is a truncation level of the network's multiplier (:func:`~golden_model.nn.quant.
    multiplier_config`: signed ``scale_bits + 1``-bit weights).
    """
    s = codec.check_scales(np.asarray(scales).reshape(-1))
    big_m = codec.max_index
    shifted = s[:, None] >> (big_m - np.arange(1, big_m + 1))[None, :]
    return csd_truncate(shifted, codec.weight_format, t)


def bucket_sums(cols, codes, codec: CodecConfig) -> np.ndarray:
    """``B[r, f, m - 1] = sum_{k : m_fk = m} sign_fk * a_rk``: shape ``(rows, filters, M)``, int64.

    Parameters
    ----------
    cols : array_like of int, shape ``(rows, K)``
        Activations (unsigned 8-bit in the network; any integers here), im2col order.
    codes : array_like of int, shape ``(filters, K)``
        The filters' codes in the same order.
    """
    a = np.asarray(cols, np.int64)
    m, sign = _fields(np.asarray(codes).reshape(np.shape(codes)[0], -1), codec)
    if a.ndim != 2 or a.shape[1] != m.shape[1]:
        raise ValueError(f"cols must have shape (rows, {m.shape[1]}), not {a.shape!r}")
    out = np.empty((a.shape[0], m.shape[0], codec.max_index), np.int64)
    af = a.astype(np.float64)  # BLAS; exact: every partial sum is an integer far below 2**53
    for idx in range(1, codec.max_index + 1):
        steer = np.where(m == idx, sign, 0).astype(np.float64)        # (F, K) in {-1, 0, +1}
        out[:, :, idx - 1] = np.rint(af @ steer.T).astype(np.int64)
    return out


def bucket_mac(cols, encoded: EncodedLayer, t) -> np.ndarray:
    """``acc[r, f] = sum_k a_rk * trunc_t(w_fk)`` computed the bucket way (without the bias)."""
    codec = encoded.config
    codes = encoded.codes.reshape(encoded.shape[0], -1)
    b = bucket_sums(cols, codes, codec)                                # (R, F, M)
    c = bucket_constants(encoded.scales, codec, t)                     # (F, M)
    return np.einsum("rfm,fm->rf", b, c)


def bucket_width(fan_in: int, act_max: int = 255) -> int:
    """Bits of a signed bucket accumulator that holds any ``+-`` sum of ``fan_in`` activations."""
    return (fan_in * act_max).bit_length() + 1


def bucket_widths(layers, act_max: int = 255) -> list[int]:
    """Bits of each signed bucket ``m = 1 .. M`` that holds every sum ``layers`` can form.

    ``layers``: the network's :class:`~golden_model.codec.EncodedLayer` s (one codec). Bucket ``m``
    of filter ``f`` lies in ``[-n_minus * act_max, n_plus * act_max]``, with ``n_plus`` /
    ``n_minus`` the filter's positive / negative codes of magnitude ``m``; the width covers the
    largest of these ranges over every filter of every layer (at least 1 bit). Tighter than
    :func:`bucket_width` of the largest fan-in, which assumes every weight in one bucket with one
    sign -- an engine built for one compiled network may use these.
    """
    layers = list(layers)
    if not layers:
        raise ValueError("layers must hold at least one EncodedLayer")
    codec = layers[0].config
    big_m = codec.max_index
    hi, lo = np.zeros(big_m, np.int64), np.zeros(big_m, np.int64)
    for layer in layers:
        m, sign = _fields(layer.codes.reshape(layer.codes.shape[0], -1), codec)
        for idx in range(1, big_m + 1):
            hit = m == idx
            hi[idx - 1] = max(hi[idx - 1], int((hit & (sign > 0)).sum(axis=1).max()))
            lo[idx - 1] = max(lo[idx - 1], int((hit & (sign < 0)).sum(axis=1).max()))
    return [max((int(p) * act_max).bit_length(), (int(n) * act_max - 1).bit_length()) + 1
            for p, n in zip(hi, lo)]


def bucket_op_counts(encoded: EncodedLayer, rows: int) -> dict:
    """Operations of one layer over ``rows`` output positions, the bucket way vs one multiply per MAC.

    Returns ``macs`` (rows x filters x fan-in), ``adds`` (bucket updates: nonzero codes x rows),
    ``skipped`` (zero codes x rows: no bucket switches) and ``multiplies`` (rows x filters x M).
    """
    codec = encoded.config
    codes = encoded.codes.reshape(encoded.shape[0], -1)
    nonzero = int(np.count_nonzero(codes & codec.max_index))
    macs = codes.size * rows
    return {"macs": macs, "adds": nonzero * rows, "skipped": macs - nonzero * rows,
            "multiplies": rows * codes.shape[0] * codec.max_index}


def check_multiplier(mult: MultiplierConfig, codec: CodecConfig) -> None:
    """The bucket identity needs the weight operand to be the decoded-weight format."""
    if (mult.b_width, mult.b_signed) != (codec.weight_width, True):
        raise ValueError(f"the bucket formulation needs b to be signed {codec.weight_width}-bit "
                         f"(the decoded weights), not {mult.b.describe()}")
