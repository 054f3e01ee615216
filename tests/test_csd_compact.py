"""Parameters and structure of the compact CSD variant (bit-exactness: tests/test_flow_baselines_sim.py)."""

import pytest
from amaranth.hdl import Fragment

from hw.csd_compact import CSDCompactMultiplier


def used(**kw):
    """A multiplier, elaborated (Amaranth warns about components that are never elaborated)."""
    m = CSDCompactMultiplier(**kw)
    Fragment.get(m, None)
    return m


def test_rows_pair_the_digit_positions():
    assert used().rows == [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert used(truncation=3).rows == [(3,), (4, 5), (6, 7)]
    assert used(a_signed=False, b_signed=False).rows == \
        [(0, 1), (2, 3), (4, 5), (6, 7), (8,)]
    assert used(truncation=8).rows == []
    assert used().latency == 2
    assert used(gating="icg").uses_icg
    assert not used(gating="icg", truncation=8).uses_icg


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"^truncation must be 'runtime' or an integer in \[0, 8\], not 9$"):
        CSDCompactMultiplier(truncation=9)
    with pytest.raises(TypeError, match=r"^truncation must be 'runtime' or an integer in \[0, 8\], not 2\.0$"):
        CSDCompactMultiplier(truncation=2.0)
    with pytest.raises(ValueError, match=r"^truncation must be 'runtime' or an integer in \[0, 8\], not 'fast'$"):
        CSDCompactMultiplier(truncation="fast")
    with pytest.raises(ValueError, match=r"^gating must be one of \('none', 'enable', 'icg'\), not 'clock'$"):
        CSDCompactMultiplier(gating="clock")
    with pytest.raises(TypeError, match=r"^sign must be one of \('xor', 'split'\), not 1$"):
        CSDCompactMultiplier(sign=1)
    with pytest.raises(ValueError, match=r"^a_width must be an integer in \[1, 24\], not 0$"):
        CSDCompactMultiplier(a_width=0)
