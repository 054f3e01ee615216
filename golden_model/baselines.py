"""Bit-exact models of the baseline multipliers the reports compare the truncated-CSD multiplier with.

All functions are vectorized over NumPy integer arrays and range-check their operands with the
formats of a :class:`~golden_model.config.MultiplierConfig`.

Definitions
-----------
Write the operands as bits, ``a = sum(sa_i * a_i * 2**i)`` and ``b = sum(sb_j * b_j * 2**j)``, where
the sign weight ``sa_i`` is ``-1`` for the MSB of a signed operand and ``+1`` otherwise. The exact
product is the sum of the partial-product bits ``sa_i * sb_j * a_i * b_j * 2**(i + j)`` of the
array multiplier, bit ``(i, j)`` sitting in column ``i + j``.

*Broken-array multiplier* ``BAM(vbl, hbl)`` (Mahdiani et al., 2010): the carry-save cells of the
array below the vertical break level ``vbl`` (columns ``i + j < vbl``) and of the rows below the
horizontal break level ``hbl`` (rows ``j < hbl``) are removed, so their partial-product bits are
dropped, without any compensation constant::

    p = sum over i + j >= vbl and j >= hbl of sa_i * sb_j * a_i * b_j * 2**(i + j)

*Truncated-array multiplier* with level ``k``: ``BAM(k, 0)``, every partial-product bit below
column ``k`` dropped. ``k = 0`` is the exact product.

``BAM(0, hbl)`` drops the rows of the ``hbl`` low bits of ``b``: the binary analogue of CSD
truncation (which drops low *signed digits* instead).

Row ``j`` of the array is ``sb_j * b_j * 2**j * ((a >> s) << s)`` with ``s = max(0, vbl - j)``:
clearing the low ``s`` bits of ``a`` (an arithmetic shift keeps the MSB's negative weight) drops
exactly the bits ``i < vbl - j``; the hardware in ``hw/baselines.py`` builds the same rows.
"""

from __future__ import annotations

import numpy as np

from .config import MultiplierConfig, check_int

__all__ = [
    "broken_array_product",
    "truncated_array_product",
    "broken_array_levels",
    "truncated_array_levels",
]


def _check_levels(config: MultiplierConfig, vbl, hbl) -> tuple[int, int]:
    vbl = check_int("vbl", vbl, 0, config.p_width)
    hbl = check_int("hbl", hbl, 0, config.b_width)
    return vbl, hbl


def broken_array_product(a, b, config: MultiplierConfig, vbl: int, hbl: int = 0) -> np.ndarray:
    """Product of the broken-array multiplier ``BAM(vbl, hbl)`` (``int64``).

    Parameters
    ----------
    a, b : array_like of int
        Operands in the formats of ``config`` (broadcast against each other).
    config : MultiplierConfig
    vbl : int
        Vertical break level: partial-product bits in columns below ``vbl`` are dropped,
        0 to ``a_width + b_width``.
    hbl : int
        Horizontal break level: the rows of the ``hbl`` low bits of ``b`` are dropped,
        0 to ``b_width``.

    Raises
    ------
    TypeError, ValueError
        For out-of-range operands or levels.
    """
    vbl, hbl = _check_levels(config, vbl, hbl)
    a = config.a.check(a)
    b = config.b.check(b)
    a, b = np.broadcast_arrays(a, b)
    out = np.zeros(a.shape, np.int64)
    nb = config.b_width
    for j in range(hbl, nb):
        s = max(0, vbl - j)
        if s >= config.a_width:
            continue  # every bit of this row is below the break
        bit = (b >> j) & 1
        if config.b_signed and j == nb - 1:
            bit = -bit
        out += bit * (((a >> s) << s) << j)
    return out


def truncated_array_product(a, b, config: MultiplierConfig, k: int) -> np.ndarray:
    """Product of the truncated-array multiplier: partial-product bits below column ``k`` dropped.

    ``k`` is 0 (exact) to ``a_width + b_width``; see :func:`broken_array_product`.
    """
    k = check_int("k", k, 0, config.p_width)
    return broken_array_product(a, b, config, k, 0)


def truncated_array_levels(config: MultiplierConfig) -> range:
    """Every valid truncated-array level ``k``."""
    return range(config.p_width + 1)


def broken_array_levels(config: MultiplierConfig) -> list[tuple[int, int]]:
    """Every valid ``(vbl, hbl)`` pair."""
    return [(v, h) for v in range(config.p_width + 1) for h in range(config.b_width + 1)]
