"""Parameters of the baseline RTL (bit-exactness: tests/test_flow_baselines_sim.py)."""

import pytest
from amaranth.hdl import Fragment

from hw.baselines import BrokenArrayMultiplier, ExactMultiplier, TruncatedArrayMultiplier


def test_ports_and_latency():
    for lat in (1, 2, 5):
        m = TruncatedArrayMultiplier(3, latency=lat)
        Fragment.get(m, None)
        assert m.latency == lat and m.k == 3
    m = ExactMultiplier(a_signed=False, b_width=12)
    Fragment.get(m, None)
    assert set(m.signature.members) == {"a", "b", "in_valid", "p", "out_valid"}
    assert m.signature.members["p"].shape.width == 20 and m.signature.members["p"].shape.signed


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"^k must be an integer in \[0, 16\], not 17$"):
        TruncatedArrayMultiplier(17)
    with pytest.raises(ValueError, match=r"^hbl must be an integer in \[0, 8\], not 9$"):
        BrokenArrayMultiplier(0, 9)
    with pytest.raises(ValueError, match=r"^latency must be an integer in \[1, 8\], not 0$"):
        ExactMultiplier(latency=0)
    with pytest.raises(TypeError, match=r"^a_signed must be True or False, not 1$"):
        ExactMultiplier(a_signed=1)
    with pytest.raises(ValueError, match=r"^b_width must be an integer in \[1, 24\], not 0$"):
        BrokenArrayMultiplier(b_width=0)
