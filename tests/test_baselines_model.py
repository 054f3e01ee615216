"""Golden models of the baseline multipliers against a scalar bit-by-bit reference."""

import itertools

import numpy as np
import pytest

from golden_model.baselines import (broken_array_levels, broken_array_product,
                                    truncated_array_levels, truncated_array_product)
from golden_model.config import MultiplierConfig
from golden_model.metrics import all_pairs


def ref_bam(a: int, b: int, cfg: MultiplierConfig, vbl: int, hbl: int) -> int:
    """Sum of the kept partial-product bits, each with its two's-complement sign weight."""
    ua, ub = a & ((1 << cfg.a_width) - 1), b & ((1 << cfg.b_width) - 1)
    total = 0
    for i, j in itertools.product(range(cfg.a_width), range(cfg.b_width)):
        if i + j < vbl or j < hbl:
            continue
        sa = -1 if cfg.a_signed and i == cfg.a_width - 1 else 1
        sb = -1 if cfg.b_signed and j == cfg.b_width - 1 else 1
        total += sa * sb * ((ua >> i) & 1) * ((ub >> j) & 1) << (i + j)
    return total


@pytest.mark.parametrize("a_signed,b_signed", [(True, True), (False, True), (True, False), (False, False)])
def test_bam_matches_reference_exhaustive_4x4(a_signed, b_signed):
    cfg = MultiplierConfig(4, a_signed, 4, b_signed)
    a, b = all_pairs(cfg)
    for vbl, hbl in broken_array_levels(cfg):
        got = broken_array_product(a, b, cfg, vbl, hbl)
        want = [ref_bam(int(x), int(y), cfg, vbl, hbl) for x, y in zip(a, b)]
        assert got.tolist() == want, (vbl, hbl)


def test_truncated_array_8x8_sampled_levels():
    cfg = MultiplierConfig(8, True, 8, True)
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, 300)
    b = rng.integers(-128, 128, 300)
    a[:4], b[:4] = [-128, -128, 127, 0], [-128, 127, -128, -1]
    for k in truncated_array_levels(cfg):
        got = truncated_array_product(a, b, cfg, k)
        assert got.tolist() == [ref_bam(int(x), int(y), cfg, k, 0) for x, y in zip(a, b)]


def test_level_zero_is_exact_and_full_break_is_zero():
    cfg = MultiplierConfig(8, False, 8, True)
    a, b = all_pairs(cfg)
    assert np.array_equal(truncated_array_product(a, b, cfg, 0), a * b)
    assert not truncated_array_product(a, b, cfg, 16).any()
    assert not broken_array_product(a, b, cfg, 0, 8).any()


def test_low_columns_only_lose_their_bits():
    # Below column a_width - 1 every dropped bit has positive weight: the error is -(dropped sum),
    # always <= 0 and > -(2**k) * min(k, ...); check the bound 0 >= e > -k * 2**k.
    cfg = MultiplierConfig(8, True, 8, True)
    a, b = all_pairs(cfg)
    for k in range(1, 8):
        e = truncated_array_product(a, b, cfg, k) - a * b
        assert e.max() == 0 and e.min() > -k * (1 << k) and e.min() < 0


def test_bad_levels_and_operands():
    cfg = MultiplierConfig(8, True, 8, True)
    with pytest.raises(ValueError, match=r"^k must be an integer in \[0, 16\], not 17$"):
        truncated_array_product(1, 1, cfg, 17)
    with pytest.raises(TypeError, match=r"^k must be an integer in \[0, 16\], not 2\.0$"):
        truncated_array_product(1, 1, cfg, 2.0)
    with pytest.raises(ValueError, match=r"^hbl must be an integer in \[0, 8\], not 9$"):
        broken_array_product(1, 1, cfg, 0, 9)
    with pytest.raises(ValueError, match=r"^vbl must be an integer in \[0, 16\], not -1$"):
        broken_array_product(1, 1, cfg, -1, 0)
    with pytest.raises(ValueError, match=r"^a must lie in \[-128, 127\] \(signed 8-bit\), not 128$"):
        truncated_array_product(128, 1, cfg, 3)
