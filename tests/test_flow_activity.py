"""Toggle counting: exact counts on a hand-written VCD and on tiny hand-checked netlists."""

import json
import re

import numpy as np
import pytest

from hw.flow.activity import ActivityError, Segment, simulate_activity
from hw.flow.netlist import NetlistError, load_netlist
from hw.flow.vcd import READERS, VcdError, count_toggles

VCD = """$timescale 1ns $end
$scope module tb $end
$var wire 1 ! clk $end
$scope module u $end
$var wire 1 " x $end
$var wire 1 # y $end
$var wire 4 $ bus [3:0] $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
0!
0"
x#
b0000 $
$end
#5
1!
1"
0"
1"
1#
#10
0!
0"
0#
b1111 $
#15
1!
1"
#20
0!
"""


@pytest.mark.parametrize("reader", READERS)
def test_vcd_counts_by_hand(tmp_path, reader):
    p = tmp_path / "t.vcd"
    p.write_text(VCD)
    tg = count_toggles(p, scope="u", reader=reader)
    # x: 0 -> (1,0,1 within #5 = settled 1) -> 0 @10 -> 1 @15: three toggles, two rising.
    assert tg.toggles == {"x": [3], "y": [1]}          # y: x -> 1 not counted, 1 -> 0 counted
    assert tg.rises == {"x": [2], "y": [0]}
    every = count_toggles(p, reader=reader)
    assert every.toggles["clk"] == [4] and every.rises["clk"] == [2]
    win = count_toggles(p, scope="u", bounds=[10, 15], reader=reader)
    assert win.toggles["x"] == [1, 1, 1] and win.toggles["y"] == [0, 1, 0]


# The hand-written reader's messages, and the library's (wrapped in VcdError with the path).
BAD = {"python": ("no \\$enddefinitions", "bad timestamp '#1x5'", "unexpected line"),
       "wellen": ("I/O operation failed", "failed to parse an integer", "unexpected token")}


@pytest.mark.parametrize("reader", READERS)
def test_vcd_errors(tmp_path, reader):
    p = tmp_path / "bad.vcd"
    header, stamp, line = BAD[reader]
    p.write_text("$scope module u $end\n$var wire 1 ! x $end\n")
    with pytest.raises(VcdError, match=f"^{re.escape(str(p))}: .*{header}"):
        count_toggles(p, reader=reader)
    p.write_text(VCD.replace("#15", "#1x5"))
    with pytest.raises(VcdError, match=stamp):
        count_toggles(p, reader=reader)
    p.write_text(VCD.replace("1!\n1\"\n#20", "1!\n?\"\n#20"))
    with pytest.raises(VcdError, match=line):
        count_toggles(p, reader=reader)
    with pytest.raises(VcdError, match=f"^{re.escape(str(tmp_path / 'none.vcd'))}: no such file$"):
        count_toggles(tmp_path / "none.vcd", reader=reader)
    p.write_text(VCD)
    with pytest.raises(ValueError, match=r"^bounds must be strictly ascending times, not \[5, 5\]$"):
        count_toggles(p, bounds=[5, 5], reader=reader)
    with pytest.raises(ValueError, match=r"^reader must be one of 'wellen', 'python', not 'vcdvcd'$"):
        count_toggles(p, reader="vcdvcd")


def _cell(t, **conn):
    dirs = {k: ("output" if k in ("Y", "Q") else "input") for k in conn}
    return {"type": t, "port_directions": dirs, "connections": {k: [v] for k, v in conn.items()}}


def tiny_netlist(icg: bool) -> dict:
    """p[0] = registered a & b, out_valid = registered in_valid (latency 1).

    With ``icg`` the p register is clocked by clk & latch(b), the latch transparent while clk is low.
    """
    ports = {"a": {"direction": "input", "bits": [2]}, "b": {"direction": "input", "bits": [3]},
             "in_valid": {"direction": "input", "bits": [4]},
             "clk": {"direction": "input", "bits": [5]}, "rst": {"direction": "input", "bits": [6]},
             "p": {"direction": "output", "bits": [11, "0"]},
             "out_valid": {"direction": "output", "bits": [12]}}
    cells = {"and": _cell("$_AND_", A=2, B=3, Y=10),
             "ffv": _cell("$_DFF_P_", C=5, D=4, Q=12)}
    if icg:
        cells["lat"] = _cell("$_DLATCH_N_", E=5, D=3, Q=13)
        cells["gate"] = _cell("$_AND_", A=5, B=13, Y=14)
        cells["ffp"] = _cell("$_DFF_P_", C=14, D=10, Q=11)
    else:
        cells["ffp"] = _cell("$_DFF_P_", C=5, D=10, Q=11)
    return {"modules": {"tiny": {"ports": ports, "cells": cells, "netnames": {}}}}


@pytest.mark.parametrize("icg", [False, True])
def test_activity_exact_on_hand_checked_netlist(tmp_path, icg):
    nl = load_netlist(tiny_netlist(icg))
    a, b = np.array([1, 0, 1, 1]), np.array([1, 1, 0, 1])
    res = simulate_activity(nl, [Segment("hand", None, a, b, a * b)], tmp_path, latency=1)[0]
    # Worked out by hand in the window of the four operations (see the module's test notes):
    # a 3, b 3, in_valid 1, a&b 3, p register 3, out_valid register 1 (+ latch output 3 with icg).
    if not icg:
        assert res["net_toggles"] == 14 / 4
        assert res["weighted_toggles"] == 14 / 4
        assert res["ff_clock_events"] == 8 / 4       # 2 flip-flops x 4 rising edges
        assert res["clock_pin_events"] == 8 / 4
    else:
        assert res["net_toggles"] == 17 / 4
        assert res["weighted_toggles"] == 20 / 4     # b drives the AND and the latch
        assert res["ff_clock_events"] == (4 + 3) / 4   # gated clock rises only when b was 1
        assert res["clock_pin_events"] == (4 * 3 + 3) / 4  # clk: latch, AND, valid FF pins


def test_activity_rejects_a_wrong_netlist(tmp_path):
    nl = load_netlist(tiny_netlist(False))
    a, b = np.array([1, 0, 1, 1]), np.array([1, 1, 0, 1])
    with pytest.raises(ActivityError, match=r"gate-level product 3 is 0x1, golden model 0x0"):
        simulate_activity(nl, [Segment("hand", None, a, b, np.array([1, 0, 0, 0]))], tmp_path, 1)


def test_netlist_errors(tmp_path):
    p = tmp_path / "n.json"
    p.write_text("{not json")
    with pytest.raises(NetlistError, match="is not valid JSON"):
        load_netlist(p)
    p.write_text(json.dumps({"creator": "x"}))
    with pytest.raises(NetlistError, match="not a Yosys JSON netlist"):
        load_netlist(p)
    bad = tiny_netlist(False)
    bad["modules"]["tiny"]["cells"]["and"]["type"] = "$mul"
    with pytest.raises(NetlistError, match="type '\\$mul', which the gate-level flow cannot simulate"):
        load_netlist(bad)
    with pytest.raises(NetlistError, match="has no module 'other'"):
        load_netlist(tiny_netlist(False), "other")
    del bad["modules"]["tiny"]["ports"]["a"]["bits"]
    with pytest.raises(NetlistError, match="port 'a' has no valid 'bits' list"):
        load_netlist(bad)


def test_netlist_structure():
    nl = load_netlist(tiny_netlist(True))
    assert nl.clock_nets() == {5, 14}
    assert nl.clock_pins() == {5: 3, 14: 1}
    assert nl.fanout()[3] == 2 and nl.fanout()[11] == 1
    assert nl.logic_depth() == 1


def test_compact_icg_clocks_nothing_for_zero_operands(tmp_path):
    """Gate-level check of the compact CSD variant's clock gating: with a == 0 only the
    always-clocked flip-flops (valid, zero flag, product, out_valid) see clock edges."""
    from golden_model.config import MultiplierConfig
    from hw.flow.designs import Design
    from hw.flow.yosys import generic_synth

    cfg = MultiplierConfig(4, True, 4, True)
    d = Design("csdc", cfg, (("t", 0), ("gating", "icg"), ("sign", "xor")))
    area, nl = generic_synth(d.verilog(), d.top, tmp_path / "g")
    gated = 4 + 2 * 3                                 # a register + (active, neg, sel) x 2 rows
    assert area["flip_flops"] == gated + 1 + 1 + 8 + 1 and area["latches"] == 1
    rng = np.random.default_rng(2)
    b = rng.integers(-8, 8, 200)
    zero = np.zeros(200, np.int64)
    a = rng.integers(1, 8, 200)
    res = simulate_activity(nl, [Segment("zero", None, zero, b, zero * b),
                                 Segment("busy", None, a, b, d.golden(a, b))], tmp_path, 2)
    assert res[0]["ff_clock_events"] == 11.0
    loads = np.count_nonzero(b)                       # a != 0: the operation loads iff b != 0
    assert res[1]["ff_clock_events"] == (11 * 200 + gated * loads) / 200
