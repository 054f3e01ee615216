"""Error metrics: definitions checked against the scalar reference, and the truncation table."""

import numpy as np
import pytest

from golden_model import reference as ref
from golden_model.config import MultiplierConfig
from golden_model.csd import csd_product
from golden_model.metrics import all_pairs, error_metrics, truncation_table


def test_metrics_match_reference_random():
    rng = np.random.default_rng(5)
    exact = rng.integers(-1000, 1000, 500)
    exact[::7] = 0
    approx = exact + rng.integers(-30, 30, 500) * (rng.random(500) < 0.6)
    m = error_metrics(approx, exact)
    r = ref.metrics(list(zip(approx.tolist(), exact.tolist())))
    for key in ("er", "mae", "mred", "nmed", "bias", "mse"):
        assert getattr(m, key) == pytest.approx(r[key], rel=1e-12, abs=1e-15), key
    assert m.wce == r["wce"]


def test_metrics_exhaustive_6x6_all_levels():
    cfg = MultiplierConfig(6, True, 6, True)
    a, b = all_pairs(cfg)
    for row in truncation_table(cfg):
        pairs = [(ref.truncated_product(int(x), int(y), cfg.ndigits, row.t), int(x) * int(y))
                 for x, y in zip(a, b)]
        r = ref.metrics(pairs)
        for key in ("er", "mae", "mred", "nmed", "bias", "mse"):
            assert getattr(row.metrics, key) == pytest.approx(r[key], rel=1e-12, abs=1e-15), key
        assert row.metrics.wce == r["wce"]


def test_weights_equal_repetition():
    """Integer weights are the same as repeating pairs."""
    approx, exact, w = np.array([1, 5, 0]), np.array([2, 5, 3]), np.array([3, 1, 2])
    m1 = error_metrics(approx, exact, w)
    m2 = error_metrics(np.repeat(approx, w), np.repeat(exact, w))
    for key in ("er", "mae", "mred", "nmed", "wce", "bias", "mse"):
        assert getattr(m1, key) == pytest.approx(getattr(m2, key)), key


def test_zero_weight_pairs_excluded():
    m = error_metrics([0, 100], [1, 1], [1, 0])
    assert m.wce == 1 and m.pairs == 1 and m.nmed == 1.0


def test_truncation_table_exhaustive_signed8():
    cfg = MultiplierConfig(8, True, 8, True)
    rows = truncation_table(cfg)
    assert [r.t for r in rows] == list(range(9))
    assert rows[0].metrics.er == 0 and rows[0].metrics.wce == 0
    assert rows[-1].mean_active_rows == 0 and rows[-1].row_reduction == 1
    # Error grows and active rows fall monotonically with t.
    assert all(x.metrics.mae <= y.metrics.mae for x, y in zip(rows, rows[1:]))
    assert all(x.mean_active_rows >= y.mean_active_rows for x, y in zip(rows, rows[1:]))
    # WCE at t: the largest |a| times the largest dropped tail.
    a, b = all_pairs(cfg)
    for r in rows:
        assert r.metrics.wce == np.max(np.abs(csd_product(a, b, cfg, r.t) - a * b))


def test_truncation_table_distribution():
    cfg = MultiplierConfig(8, False, 8, True)
    b = np.array([0, 0, 3, -64])
    a = np.array([10, 0, 200, 5])
    rows = truncation_table(cfg, a, b, levels=[0, 1])
    assert rows[0].mean_active_rows == pytest.approx((0 + 0 + 2 + 1) / 4)
    assert rows[1].mean_active_rows == pytest.approx((0 + 0 + 1 + 1) / 4)
    assert rows[1].metrics.er == pytest.approx(0.25)  # only 200*3 -> 200*4 is off


@pytest.mark.parametrize("args,msg", [
    (([1, 2], [1]), r"^approx and exact must have the same size, not 2 and 1$"),
    (([], []), r"^error_metrics needs at least one pair, not 0$"),
    (([1], [1], [-1]), r"^weights must be finite, non-negative and not all 0$"),
    (([1], [1], [0]), r"^weights must be finite, non-negative and not all 0$"),
    (([1], [1], [1, 2]), r"^weights must have one entry per pair \(1\), not 2$"),
])
def test_bad_metric_inputs(args, msg):
    with pytest.raises(ValueError, match=msg):
        error_metrics(*args)


def test_bad_table_inputs():
    cfg = MultiplierConfig(8, True, 8, True)
    with pytest.raises(ValueError, match=r"^give both a and b operand samples, or neither$"):
        truncation_table(cfg, a=[1])
    with pytest.raises(ValueError, match=r"^a_width \+ b_width must be at most 28 for an exhaustive"):
        truncation_table(MultiplierConfig(16, True, 16, True))
