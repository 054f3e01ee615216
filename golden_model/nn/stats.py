"""Statistics for accuracy claims: Wilson intervals and exact paired (McNemar) comparisons.

An accuracy measured on ``n`` test images is a binomial proportion; :func:`wilson` gives its 95 %
confidence interval. Two configurations evaluated on the *same* images are compared image by
image (:func:`paired`): only the images that flip -- right under one, wrong under the other --
carry information, and McNemar's exact test asks whether the flips in one direction outnumber
those in the other by more than chance (two-sided binomial test of ``b`` vs ``c`` at 1/2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Z95", "wilson", "mcnemar_exact", "Paired", "paired", "fmt_ci"]

#: Two-sided 95 % standard normal quantile.
Z95 = 1.959963984540054


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` of the proportion ``correct / n``.

    Raises
    ------
    ValueError
        If ``n < 1`` or ``correct`` is outside ``[0, n]``.
    """
    if n < 1:
        raise ValueError(f"n must be an integer >= 1, not {n!r}")
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be an integer in [0, {n}], not {correct!r}")
    p = correct / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo = 0.0 if correct == 0 else max(0.0, centre - half)   # exact bounds at the ends, not
    hi = 1.0 if correct == n else min(1.0, centre + half)   # 1 - 1e-16 from rounding
    return lo, hi


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (1.0 when both are 0)."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, not {(b, c)!r}")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # sum_{i<=k} C(n, i) in exact integers (no overflow for any n), each term from the last one
    term = tail = 1
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return min(1.0, 2 * tail / (1 << n))


@dataclass(frozen=True)
class Paired:
    """Image-by-image comparison of a configuration against a reference on the same images.

    Attributes
    ----------
    n : int
        Images compared.
    lost : int
        Right under the reference, wrong under the configuration.
    gained : int
        Wrong under the reference, right under the configuration.
    p : float
        Exact McNemar p-value of ``lost`` vs ``gained``.
    """

    n: int
    lost: int
    gained: int
    p: float

    @property
    def delta(self) -> float:
        """Accuracy change (configuration minus reference) as a fraction."""
        return (self.gained - self.lost) / self.n

    def describe(self) -> str:
        p = f"= {self.p:.3g}" if self.p > 0 else "< 1e-300"   # below the float range
        return f"lost {self.lost}, gained {self.gained}, McNemar p {p}"


def paired(ref_correct, correct) -> Paired:
    """Compare two boolean "image classified correctly" vectors over the same images."""
    a = np.asarray(ref_correct, bool)
    b = np.asarray(correct, bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired comparison needs two equal-length non-empty 1-D vectors, "
                         f"not shapes {a.shape!r} and {b.shape!r}")
    lost = int(np.sum(a & ~b))
    gained = int(np.sum(~a & b))
    return Paired(int(a.size), lost, gained, mcnemar_exact(lost, gained))


def fmt_ci(correct: int, n: int) -> str:
    """``"97.49 % [95.2, 98.7]"``-style text: accuracy and its Wilson 95 % interval in percent."""
    lo, hi = wilson(correct, n)
    return f"{100 * correct / n:.2f} % [{100 * lo:.2f}, {100 * hi:.2f}]"
