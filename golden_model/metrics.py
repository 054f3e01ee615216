"""Error metrics of approximate products, and the per-truncation-level table of the CSD multiplier.

Definitions, with ``e = approx - exact`` over the evaluated pairs, each pair weighted by its
probability ``w`` (uniform when no weights are given):

=======  ==================================================================================
ER       error rate: ``P(e != 0)``
MAE      mean absolute error, also called MED (mean error distance): ``E|e|``
MRED     mean relative error distance: ``E[|e| / |exact|]`` over the pairs with ``exact != 0``
         (re-weighted to their own total probability)
NMED     normalised MED: ``MAE / max|exact|``, the maximum over the evaluated pairs (with
         nonzero weight); for an exhaustive evaluation that is the largest product magnitude
WCE      worst-case error: ``max |e|`` over the evaluated pairs
bias     mean error: ``E[e]`` (negative: the approximation under-estimates on average)
MSE      mean squared error: ``E[e**2]``
=======  ==================================================================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .config import MultiplierConfig
from .csd import active_rows, naf_masks

__all__ = ["ErrorMetrics", "error_metrics", "TruncationRow", "truncation_table", "all_pairs"]


@dataclass(frozen=True)
class ErrorMetrics:
    er: float
    mae: float
    mred: float
    nmed: float
    wce: int
    bias: float
    mse: float
    pairs: int

    def as_dict(self) -> dict:
        return asdict(self)


def error_metrics(approx, exact, weights=None) -> ErrorMetrics:
    """Error metrics of ``approx`` against ``exact`` (integer arrays of one shape).

    Parameters
    ----------
    approx, exact : array_like of int
    weights : array_like of float, optional
        Non-negative probability (or count) of each pair; normalised internally.

    Raises
    ------
    ValueError
        If the shapes differ, there are no pairs, or the weights are negative, not finite or all 0.
    """
    ap = np.asarray(approx, dtype=np.int64).reshape(-1)
    ex = np.asarray(exact, dtype=np.int64).reshape(-1)
    if ap.shape != ex.shape:
        raise ValueError(f"approx and exact must have the same size, not {ap.size} and {ex.size}")
    if ex.size == 0:
        raise ValueError("error_metrics needs at least one pair, not 0")
    if weights is None:
        p = np.full(ex.size, 1.0 / ex.size)
    else:
        p = np.asarray(weights, dtype=np.float64).reshape(-1)
        if p.shape != ex.shape:
            raise ValueError(f"weights must have one entry per pair ({ex.size}), not {p.size}")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all 0")
        p = p / p.sum()
    support = p > 0
    e = ap - ex
    ae = np.abs(e).astype(np.float64)
    aex = np.abs(ex).astype(np.float64)
    mae = float(p @ ae)
    nz = support & (ex != 0)
    mred = float((p[nz] @ (ae[nz] / aex[nz])) / p[nz].sum()) if nz.any() else 0.0
    top = float(aex[support].max())
    return ErrorMetrics(
        er=float(p @ (e != 0)),
        mae=mae,
        mred=mred,
        nmed=mae / top if top else 0.0,
        wce=int(np.abs(e[support]).max()),
        bias=float(p @ e.astype(np.float64)),
        mse=float(p @ (e.astype(np.float64) ** 2)),
        pairs=int(support.sum()),
    )


#: Largest ``a_width + b_width`` that :func:`all_pairs` enumerates (2**28 pairs).
EXHAUSTIVE_MAX_BITS = 28


def all_pairs(config: MultiplierConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every operand pair ``(a, b)`` of ``config``, as two flat ``int64`` arrays."""
    if config.a_width + config.b_width > EXHAUSTIVE_MAX_BITS:
        raise ValueError(
            f"a_width + b_width must be at most {EXHAUSTIVE_MAX_BITS} for an exhaustive evaluation, not "
            f"{config.a_width + config.b_width!r}; pass sampled operands instead")
    a, b = np.meshgrid(config.a.values(), config.b.values(), indexing="ij")
    return a.reshape(-1), b.reshape(-1)


@dataclass(frozen=True)
class TruncationRow:
    """One truncation level: its error metrics and its mean active partial-product rows."""

    t: int
    metrics: ErrorMetrics
    mean_active_rows: float
    row_reduction: float  # 1 - mean_active_rows / mean_active_rows at t = 0


def truncation_table(config: MultiplierConfig, a=None, b=None, weights=None,
                     levels=None) -> list[TruncationRow]:
    """Error metrics and mean active rows of the truncated-CSD product at each truncation level.

    Without operands every pair of ``config`` is evaluated once (exhaustive); otherwise the given
    operand samples ``a``, ``b`` (with optional per-pair ``weights``) are the distribution.
    """
    if (a is None) != (b is None):
        raise ValueError("give both a and b operand samples, or neither")
    if a is None:
        a, b = all_pairs(config)
    else:
        a = config.a.check(a).reshape(-1)
        b = config.b.check(b).reshape(-1)
        if a.shape != b.shape:
            raise ValueError(f"a and b samples must have the same size, not {a.size} and {b.size}")
    levels = config.truncation_levels if levels is None else [config.check_truncation(t) for t in levels]
    exact = a * b
    pos, neg = naf_masks(b)  # recode once; each level only shifts the digit masks
    p = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    # Rows depend on b only: evaluate on the distinct b values with their total weights.
    bu, inv = np.unique(b, return_inverse=True)
    bw = np.bincount(inv, weights=p, minlength=bu.size)
    bw = bw / bw.sum()
    base = float(bw @ active_rows(bu, config.b, 0))
    rows = []
    for t in levels:
        m = error_metrics(a * (((pos >> t) << t) - ((neg >> t) << t)), exact, p)
        mean_rows = float(bw @ active_rows(bu, config.b, t))
        rows.append(TruncationRow(t, m, mean_rows, 1.0 - mean_rows / base if base else 0.0))
    return rows
