"""Canonical signed digit (non-adjacent form) recoding and the truncated-CSD product.

All functions are vectorized over NumPy integer arrays.

Definitions
-----------
The canonical signed digit (CSD) form of an integer ``x`` is its non-adjacent form (NAF): digits
``d_i`` in ``{-1, 0, +1}``, least significant first, with ``x = sum(d_i * 2**i)`` and no two adjacent
nonzero digits. It is unique and has the fewest nonzero digits of any signed-digit form. A signed
``w``-bit operand needs ``w`` digit positions, an unsigned one ``w + 1``
(:attr:`~golden_model.config.OperandFormat.ndigits`).

Truncation level ``t`` drops the digits at positions ``i < t``:
``b_t = sum_{i >= t} d_i * 2**i`` and the product is ``p = a * b_t``, exact, which fits
``a_width + b_width`` bits. ``t = 0`` is the exact product; ``t = ndigits`` gives 0.
The *active rows* of an operation are the nonzero digits at ``i >= t``: the partial-product rows a
clock-gated multiplier actually loads.

Implementation
--------------
For ``x >= 0`` the NAF is read off ``3x`` and ``x``: with ``h = (3x) ^ x``, the positive digits are
the bits of ``(h & 3x) >> 1`` and the negative digits the bits of ``(h & x) >> 1``. The NAF of
``-x`` is the NAF of ``x`` with every digit negated.
"""

from __future__ import annotations

import numpy as np

from .config import MultiplierConfig, OperandFormat

__all__ = [
    "naf_masks",
    "csd_digits",
    "csd_value",
    "csd_nonzero_count",
    "csd_truncate",
    "active_rows",
    "csd_product",
    "exact_product",
    "product_table",
    "active_rows_table",
]


def naf_masks(x) -> tuple[np.ndarray, np.ndarray]:
    """Bit masks of the positive and of the negative NAF digits of every element of ``x``.

    Bit ``i`` of the first mask is set where ``d_i = +1``, of the second where ``d_i = -1``.
    ``x`` must be an integer array with ``|x| < 2**61`` (not range-checked here).
    """
    x = np.asarray(x, dtype=np.int64)
    mag = np.abs(x)
    three = 3 * mag
    h = three ^ mag
    up = (h & three) >> 1
    down = (h & mag) >> 1
    neg = x < 0
    return np.where(neg, down, up), np.where(neg, up, down)


def csd_digits(values, fmt: OperandFormat) -> np.ndarray:
    """CSD digits of ``values`` in format ``fmt``, least significant first.

    Returns
    -------
    numpy.ndarray of int8, shape ``values.shape + (fmt.ndigits,)``.

    Raises
    ------
    TypeError, ValueError
        If ``values`` are not integers of format ``fmt``.
    """
    x = fmt.check(values)
    pos, neg = naf_masks(x)
    shifts = np.arange(fmt.ndigits, dtype=np.int64)
    d = ((pos[..., None] >> shifts) & 1) - ((neg[..., None] >> shifts) & 1)
    return d.astype(np.int8)


def csd_value(digits) -> np.ndarray:
    """Integer value ``sum(d_i * 2**i)`` of digit arrays (last axis = digit position)."""
    d = np.asarray(digits, dtype=np.int64)
    return d @ (np.int64(1) << np.arange(d.shape[-1], dtype=np.int64))


def csd_nonzero_count(values, fmt: OperandFormat) -> np.ndarray:
    """Number of nonzero CSD digits of each value (the minimum over all signed-digit forms)."""
    pos, neg = naf_masks(fmt.check(values))
    return np.bitwise_count(pos | neg).astype(np.int64)


def csd_truncate(values, fmt: OperandFormat, t) -> np.ndarray:
    """``b_t``: the value of the CSD digits of ``values`` at positions ``>= t``.

    ``t`` is an int or an integer array broadcastable with ``values``, each in ``[0, fmt.ndigits]``.
    """
    x = fmt.check(values)
    t = _check_t(fmt, t)
    pos, neg = naf_masks(x)
    return ((pos >> t) << t) - ((neg >> t) << t)


def active_rows(values, fmt: OperandFormat, t) -> np.ndarray:
    """Number of nonzero CSD digits of ``values`` at positions ``>= t`` (rows a gated multiplier loads)."""
    x = fmt.check(values)
    t = _check_t(fmt, t)
    pos, neg = naf_masks(x)
    return np.bitwise_count((pos | neg) >> t).astype(np.int64)


def csd_product(a, b, config: MultiplierConfig, t) -> np.ndarray:
    """Truncated-CSD product ``a * b_t`` (``int64``), the function the multiplier hardware computes.

    Parameters
    ----------
    a, b : array_like of int
        Operands in the formats of ``config`` (broadcast against each other).
    config : MultiplierConfig
    t : int or array_like of int
        Truncation level(s) in ``[0, config.ndigits]``, broadcast with the operands.
    """
    a = config.a.check(a)
    return a * csd_truncate(b, config.b, t)


def exact_product(a, b, config: MultiplierConfig) -> np.ndarray:
    """Exact product ``a * b`` (``int64``) with the operands range-checked."""
    return config.a.check(a) * config.b.check(b)


def product_table(config: MultiplierConfig, t: int) -> np.ndarray:
    """Every truncated product: ``table[config.a.index(a), config.b.index(b)] == a * b_t``.

    The table has ``2**a_width x 2**b_width`` entries (``int32`` when the product fits, else
    ``int64``); it is the fast path of network inference.
    """
    t = config.check_truncation(t)
    if config.a_width + config.b_width > 28:
        raise ValueError(
            f"a_width + b_width must be at most 28 for a full product table, not "
            f"{config.a_width + config.b_width!r}")
    bt = csd_truncate(config.b.values(), config.b, t)
    table = np.multiply.outer(config.a.values(), bt)
    return table.astype(np.int32 if config.p_width <= 32 else np.int64)


def active_rows_table(config: MultiplierConfig, t: int) -> np.ndarray:
    """Active rows for every ``b``, indexed by ``config.b.index(b)``."""
    return active_rows(config.b.values(), config.b, config.check_truncation(t))


def _check_t(fmt: OperandFormat, t):
    if isinstance(t, np.ndarray) or isinstance(t, (list, tuple)):
        t = np.asarray(t)
    # Reuse the multiplier's validation (same message everywhere).
    cfg = MultiplierConfig(1, False, fmt.width, fmt.signed)
    return cfg.check_truncation(t)
