"""Wilson intervals, exact McNemar p-values and paired counts against values computed by hand."""

import math

import numpy as np
import pytest

from golden_model.nn.stats import fmt_ci, mcnemar_exact, paired, wilson


def test_wilson_known_values():
    # 5/10: centre 0.5, half-width z*sqrt(0.025 + z^2/400)/(1 + z^2/10)
    lo, hi = wilson(5, 10)
    z = 1.959963984540054
    half = z * math.sqrt(0.25 / 10 + z * z / 400) / (1 + z * z / 10)
    assert lo == pytest.approx(0.5 - half) and hi == pytest.approx(0.5 + half)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and round(hi, 4) == 0.2775
    lo, hi = wilson(10, 10)
    assert hi == 1.0 and round(lo, 4) == 0.7225
    assert fmt_ci(350, 359) == "97.49 % [95.30, 98.68]"


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError, match=r"^n must be an integer >= 1, not 0$"):
        wilson(0, 0)
    with pytest.raises(ValueError, match=r"^correct must be an integer in \[0, 5\], not 6$"):
        wilson(6, 5)


def test_mcnemar_exact():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(1, 1) == 1.0
    assert mcnemar_exact(3, 0) == 0.25                 # 2 * (1/2)^3
    assert mcnemar_exact(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    # thousands of discordant pairs (a whole 10,000-image test set flipping): no overflow
    assert mcnemar_exact(5000, 0) == 0.0 and mcnemar_exact(3000, 3000) == 1.0
    assert 0.0 < mcnemar_exact(560, 440) < 0.001
    with pytest.raises(ValueError, match=r"^discordant counts must be >= 0, not \(-1, 2\)$"):
        mcnemar_exact(-1, 2)


def test_paired_counts_flips_each_way():
    ref = np.array([1, 1, 1, 0, 0, 1, 1], bool)
    new = np.array([1, 0, 0, 1, 0, 1, 0], bool)
    p = paired(ref, new)
    assert (p.n, p.lost, p.gained) == (7, 3, 1)
    assert p.p == mcnemar_exact(3, 1) and p.delta == pytest.approx(-2 / 7)
    assert p.describe() == "lost 3, gained 1, McNemar p = 0.625"
    assert paired(np.ones(2000, bool), np.zeros(2000, bool)).describe() == \
        "lost 2000, gained 0, McNemar p < 1e-300"
    with pytest.raises(ValueError, match="equal-length non-empty 1-D vectors"):
        paired(ref, new[:3])


def test_evidence_rule_for_truncation_choices():
    """Within the budget *and* not significantly worse: a loss of 17 images out of 5,000 (0.34
    points, inside a 0.5-point budget) with 33 lost vs 16 gained is significant and refused."""
    from golden_model.nn.evaluate import acceptable
    from golden_model.nn.stats import Paired
    assert acceptable(Paired(1000, 12, 10, mcnemar_exact(12, 10)), 0.005)
    assert not acceptable(Paired(1000, 30, 10, mcnemar_exact(30, 10)), 0.005)     # over budget
    sig = Paired(5000, 33, 16, mcnemar_exact(33, 16))
    assert sig.p < 0.05 and -sig.delta < 0.005 and not acceptable(sig, 0.005)
    assert acceptable(Paired(5000, 0, 40, mcnemar_exact(0, 40)), 0.0)               # a gain
