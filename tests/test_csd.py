"""CSD recoding and truncated product: vectorized model == scalar reference, NAF properties."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden_model import reference as ref
from golden_model.config import MultiplierConfig, OperandFormat
from golden_model.csd import (active_rows, active_rows_table, csd_digits, csd_nonzero_count,
                              csd_product, csd_truncate, csd_value, exact_product, naf_masks,
                              product_table)

FORMATS_8 = [OperandFormat(8, True, "b"), OperandFormat(8, False, "b")]


@pytest.mark.parametrize("fmt", FORMATS_8, ids=lambda f: f.describe())
def test_digits_equal_reference_exhaustive(fmt):
    vals = fmt.values()
    got = csd_digits(vals, fmt)
    want = np.array([ref.naf(int(v), fmt.ndigits) for v in vals])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("width,signed", [(12, True), (12, False), (16, True), (16, False),
                                          (24, True), (24, False)])
def test_digits_equal_reference_random(width, signed):
    fmt = OperandFormat(width, signed, "b")
    rng = np.random.default_rng(width * 2 + signed)
    vals = np.concatenate([[fmt.min, fmt.max, 0, 1, -1 if signed else 2],
                           rng.integers(fmt.min, fmt.max + 1, 2000)])
    got = csd_digits(vals, fmt)
    want = np.array([ref.naf(int(v), fmt.ndigits) for v in vals])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fmt", FORMATS_8, ids=lambda f: f.describe())
def test_naf_properties_exhaustive(fmt):
    vals = fmt.values()
    d = csd_digits(vals, fmt).astype(np.int64)
    assert set(np.unique(d)) <= {-1, 0, 1}
    np.testing.assert_array_equal(csd_value(d), vals)                  # value preserved
    assert not np.any((d[:, 1:] != 0) & (d[:, :-1] != 0))              # non-adjacent
    np.testing.assert_array_equal(csd_nonzero_count(vals, fmt), np.count_nonzero(d, axis=1))


def _all_signed_digit_forms(ndigits):
    return np.array(list(itertools.product((-1, 0, 1), repeat=ndigits)), dtype=np.int64)


def test_naf_minimal_and_unique_small():
    """Against every signed-digit string of 6 digits: NAF has the fewest nonzeros, and it is the
    only non-adjacent string with its value."""
    fmt = OperandFormat(5, False, "b")  # 6 digit positions
    forms = _all_signed_digit_forms(fmt.ndigits)
    values = csd_value(forms)
    weight = np.count_nonzero(forms, axis=1)
    nonadj = ~np.any((forms[:, 1:] != 0) & (forms[:, :-1] != 0), axis=1)
    for v in fmt.values():
        same = values == v
        assert csd_nonzero_count(v, fmt) == weight[same].min()
        assert np.count_nonzero(same & nonadj) == 1
        np.testing.assert_array_equal(forms[same & nonadj][0], csd_digits(v, fmt))


@pytest.mark.parametrize("a_signed,b_signed", [(True, True), (False, True), (True, False),
                                               (False, False)])
def test_product_equals_reference_exhaustive_8x8(a_signed, b_signed):
    cfg = MultiplierConfig(8, a_signed, 8, b_signed)
    av, bv = cfg.a.values(), cfg.b.values()
    # Scalar reference per (b, t) truncated value; product checked over every pair.
    for t in cfg.truncation_levels:
        bt_ref = np.array([ref.truncated_product(1, int(b), cfg.ndigits, t) for b in bv])
        np.testing.assert_array_equal(csd_truncate(bv, cfg.b, t), bt_ref)
        table = product_table(cfg, t)
        np.testing.assert_array_equal(table, np.multiply.outer(av, bt_ref))
        rows_ref = np.array([ref.active_rows(int(b), cfg.ndigits, t) for b in bv])
        np.testing.assert_array_equal(active_rows_table(cfg, t), rows_ref)
    # A direct spot check of the scalar product itself on a grid of pairs.
    for a, b in itertools.product(av[::17], bv[::13]):
        for t in (0, 3, cfg.ndigits):
            assert csd_product(a, b, cfg, t) == ref.truncated_product(int(a), int(b), cfg.ndigits, t)


@pytest.mark.parametrize("width", [12, 16])
def test_product_equals_reference_random_wide(width):
    cfg = MultiplierConfig(width, True, width, True)
    rng = np.random.default_rng(width)
    a = rng.integers(cfg.a.min, cfg.a.max + 1, 3000)
    b = rng.integers(cfg.b.min, cfg.b.max + 1, 3000)
    t = rng.integers(0, cfg.ndigits + 1, 3000)
    got = csd_product(a, b, cfg, t)
    want = [ref.truncated_product(int(x), int(y), cfg.ndigits, int(k)) for x, y, k in zip(a, b, t)]
    np.testing.assert_array_equal(got, want)
    rows = active_rows(b, cfg.b, t)
    np.testing.assert_array_equal(rows, [ref.active_rows(int(y), cfg.ndigits, int(k))
                                         for y, k in zip(b, t)])


@pytest.mark.parametrize("a_signed,b_signed", [(True, True), (False, True), (True, False),
                                               (False, False)])
def test_product_fits_declared_width(a_signed, b_signed):
    cfg = MultiplierConfig(8, a_signed, 8, b_signed)
    lo = -(1 << (cfg.p_width - 1)) if cfg.p_signed else 0
    hi = (1 << (cfg.p_width - 1)) - 1 if cfg.p_signed else (1 << cfg.p_width) - 1
    for t in cfg.truncation_levels:
        table = product_table(cfg, t)
        assert table.min() >= lo and table.max() <= hi


def test_truncation_extremes():
    cfg = MultiplierConfig(8, True, 8, True)
    a, b = np.meshgrid(cfg.a.values(), cfg.b.values())
    np.testing.assert_array_equal(csd_product(a, b, cfg, 0), exact_product(a, b, cfg))
    assert not np.any(csd_product(a, b, cfg, cfg.ndigits))
    assert not np.any(active_rows(b, cfg.b, cfg.ndigits))


@settings(max_examples=300, deadline=None)
@given(width=st.integers(1, 24), signed=st.booleans(), data=st.data())
def test_naf_hypothesis(width, signed, data):
    fmt = OperandFormat(width, signed, "b")
    v = data.draw(st.integers(fmt.min, fmt.max))
    t = data.draw(st.integers(0, fmt.ndigits))
    d = csd_digits(v, fmt)
    assert d.tolist() == ref.naf(v, fmt.ndigits)
    assert int(csd_value(d)) == v
    assert int(csd_truncate(v, fmt, t)) == sum(int(x) << i for i, x in enumerate(d) if i >= t)
    pos, neg = naf_masks(np.array([v]))
    assert not (int(pos[0]) & int(neg[0]))


# ------------------------------------------------------------------------------- bad input
def test_bad_operands():
    cfg = MultiplierConfig(8, True, 8, True)
    with pytest.raises(ValueError, match=r"^a must lie in \[-128, 127\] \(signed 8-bit\), not 128$"):
        csd_product(128, 0, cfg, 0)
    with pytest.raises(ValueError, match=r"^b must lie in \[-128, 127\] \(signed 8-bit\), not -129$"):
        csd_product(0, [-129, 3], cfg, 0)
    with pytest.raises(TypeError, match=r"^a must be integers, not an array of float64$"):
        csd_product(1.5, 0, cfg, 0)
    with pytest.raises(TypeError, match=r"^b must be integers, not an array of bool$"):
        csd_digits(True, cfg.b)


def test_bad_truncation():
    cfg = MultiplierConfig(8, True, 8, True)
    with pytest.raises(ValueError, match=r"^truncation must be an integer in \[0, 8\], not 9$"):
        csd_product(1, 1, cfg, 9)
    with pytest.raises(ValueError, match=r"^truncation must be an integer in \[0, 8\], not -1$"):
        csd_truncate([1, 2], cfg.b, np.array([0, -1]))
    with pytest.raises(TypeError, match=r"^truncation must be an integer in \[0, 8\], not 1.0$"):
        csd_product(1, 1, cfg, 1.0)
    ucfg = MultiplierConfig(8, True, 8, False)
    with pytest.raises(ValueError, match=r"^truncation must be an integer in \[0, 9\], not 10$"):
        product_table(ucfg, 10)


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(a_width=0), ValueError, r"^a_width must be an integer in \[1, 24\], not 0$"),
    (dict(b_width=25), ValueError, r"^b_width must be an integer in \[1, 24\], not 25$"),
    (dict(a_width=8.0), TypeError, r"^a_width must be an integer in \[1, 24\], not 8.0$"),
    (dict(b_signed=1), TypeError, r"^b_signed must be True or False, not 1$"),
])
def test_bad_config(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        MultiplierConfig(**kwargs)


def test_table_too_large():
    with pytest.raises(ValueError, match=r"^a_width \+ b_width must be at most 28 for a full "
                                         r"product table, not 32$"):
        product_table(MultiplierConfig(16, True, 16, True), 0)
