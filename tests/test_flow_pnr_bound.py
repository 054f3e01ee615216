"""A place-and-route run that never finishes: stopped at its bound, replaced by the next seed,
recorded, and never a failure of the report (multiplier report and engine report).

nextpnr is replaced by a fake (``QSQ_NEXTPNR``, ``QSQ_NEXTPNR_ECP5``): a script that writes a
report with fmax = 100 + seed MHz, or sleeps for a minute for the seeds in ``FAKE_HANG_SEEDS``.
"""

import csv
import io
import sys
import time

import pytest

from golden_model.config import MultiplierConfig
from hw.flow import jobs
from hw.flow.designs import Design
from hw.flow.jobs import Job
from hw.flow.options import PNR_FLOOR_S, FlowOptions, pnr_bound
from hw.flow.report import run_report
from hw.flow.runner import Reseeder, run_jobs
from hw.flow.tools import ToolTimeout, run_tool

CFG = MultiplierConfig(4, True, 4, True)

FAKE = """\
import json, os, sys, time
args = sys.argv[1:]
seed = int(args[args.index("--seed") + 1])
if str(seed) in os.environ.get("FAKE_HANG_SEEDS", "").split(","):
    time.sleep(60)
rep = {"fmax": {"clk": {"achieved": 100.0 + seed, "constraint": 100.0}},
       "utilization": {"ICESTORM_LC": {"used": 10, "available": 5280}}}
with open(args[args.index("--report") + 1], "w") as f:
    json.dump(rep, f)
"""


@pytest.fixture
def fake_nextpnr(tmp_path, monkeypatch):
    """The fake nextpnr for both architectures; returns a setter of the seeds that hang."""
    script = tmp_path / "fake-nextpnr"
    script.write_text(f"#!{sys.executable}\n{FAKE}")
    script.chmod(0o755)
    monkeypatch.setenv("QSQ_NEXTPNR", str(script))
    monkeypatch.setenv("QSQ_NEXTPNR_ECP5", str(script))
    return lambda seeds: monkeypatch.setenv("FAKE_HANG_SEEDS", ",".join(map(str, seeds)))


def test_run_tool_stops_a_hanging_tool(tmp_path, fake_nextpnr):
    fake_nextpnr([5])
    t0 = time.perf_counter()
    with pytest.raises(ToolTimeout, match=r"^nextpnr-ice40 timed out after 1 s in .* \(stopped\)$") as e:
        run_tool("nextpnr-ice40", ["--seed", "5", "--report", "r.json"], tmp_path, "n.log",
                 timeout=1)
    assert time.perf_counter() - t0 < 10 and e.value.bound == 1.0
    assert (tmp_path / "n.log").read_text() == "stopped after 1 s (the bound of this run)\n"


def test_pnr_bound():
    assert pnr_bound([], 180) == 180
    assert pnr_bound([2.0, 3.0, 100.0], 180) == PNR_FLOOR_S          # 5 x 3 s < 60 s
    assert pnr_bound([20.0, 30.0, 40.0], 180) == 150.0               # 5 x the median
    assert pnr_bound([100.0], 180) == 180                            # at most the cap
    assert pnr_bound([100.0], 2) == 2


def _fake_front_steps(monkeypatch):
    """generic and ice40 steps that return at once (only the pnr step runs a tool)."""
    def generic(job, work, verilog, inputs):
        return {"area": {"gates": 1, "flip_flops": 1, "latches": 0, "transistors": 10,
                         "logic_depth": 1, "cells": 2, "by_type": {}},
                "latency": job.design.latency, "verilog": "", "netlist": ""}

    def ice40(job, work, verilog, inputs):
        return {"ice40": {"lut4": 1, "carry": 0, "ff": 1}, "harness": jobs._pack("{}")}

    monkeypatch.setitem(jobs._RUN, "generic", generic)
    monkeypatch.setitem(jobs._RUN, "ice40", ice40)


def test_a_hanging_seed_is_stopped_and_replaced(tmp_path, monkeypatch, fake_nextpnr):
    """Seed 2 of 3 hangs: stopped at the 1.5 s cap, replaced by seed 4 (the next unused one);
    the fmax is the median of seeds 1, 3 and 4; nothing fails; the job list shows seed 4."""
    _fake_front_steps(monkeypatch)
    fake_nextpnr([2])
    opts = FlowOptions(out=str(tmp_path), serial=True, use_cache=False, activity=False,
                       pnr_timeout=1.5)
    d = Design("exact", CFG)
    planned = [Job("generic", d, opts), Job("ice40", d, opts)] + [
        Job("pnr", d, opts, s) for s in opts.seeds]
    logs = []
    from hw.flow.runner import Progress

    t0 = time.perf_counter()
    res = run_jobs(planned, opts, tmp_path / "cache", tmp_path / "work",
                   Progress(5, log=logs.append, bar=False))
    assert time.perf_counter() - t0 < 30
    assert [j.id for j in planned][-4:] == [f"{d.key}/pnr{s}" for s in (1, 2, 4, 3)]
    stuck = res[f"{d.key}/pnr2"]
    assert stuck["timed_out"] and stuck["bound"] == 1.5
    assert stuck["replaced_by"] == f"{d.key}/pnr4"
    assert res[f"{d.key}/pnr4"]["pnr"]["fmax_mhz"] == 104.0
    assert any(f"{d.key}/pnr2 stopped after 2 s, replaced by {d.key}/pnr4" in ln for ln in logs)


def test_the_report_records_a_stopped_run_and_does_not_fail(tmp_path, monkeypatch,
                                                           fake_nextpnr):
    """End to end through run_report: the stopped run is in the notes, the area table says over
    how many seeds the fmax is the median, and the report is written."""
    _fake_front_steps(monkeypatch)
    monkeypatch.setattr(Design, "verilog", lambda self: "module top; endmodule\n")
    fake_nextpnr([1, 3])
    d = Design("exact", CFG)
    opts = FlowOptions(out=str(tmp_path), serial=True, use_cache=False, activity=False,
                       pnr_timeout=1.0)
    index = run_report([CFG], opts, designs=[d], log=lambda s: None, progress_bar=False)
    text = index.read_text()
    assert (f"nextpnr seed 1 of {d.key} did not finish within its bound of 1 s and was stopped; "
            f"replaced by {d.key}/pnr4.") in text
    assert f"nextpnr seed 3 of {d.key} did not finish" in text
    (row,) = csv.DictReader(io.StringIO((tmp_path / "area.csv").read_text()))
    assert row["fmax seeds"] == "3"
    assert float(row["fmax MHz"]) == 104.0                       # seeds 2, 4, 5
    assert not (tmp_path / "failures.txt").exists()


def test_replacements_are_limited_to_the_planned_seed_count(tmp_path, monkeypatch, fake_nextpnr):
    """Every seed hangs: 3 planned + 3 replacements, then the design has no fmax, and still no
    failure."""
    _fake_front_steps(monkeypatch)
    fake_nextpnr(range(1, 10))
    opts = FlowOptions(out=str(tmp_path), serial=True, use_cache=False, activity=False,
                       pnr_timeout=1.0)
    d = Design("exact", CFG)
    planned = [Job("generic", d, opts), Job("ice40", d, opts)] + [
        Job("pnr", d, opts, s) for s in opts.seeds]
    res = run_jobs(planned, opts, tmp_path / "cache", tmp_path / "work")
    pnr = [j for j in planned if j.step == "pnr"]
    assert sorted(j.seed for j in pnr) == [1, 2, 3, 4, 5, 6]
    assert all(res[j.id]["timed_out"] for j in pnr)
    assert [res[j.id].get("replaced_by") is None for j in pnr].count(True) == 3
    from hw.flow.report import _assemble

    per, failures = _assemble([d], planned, res)
    assert failures == [] and "fmax_mhz" not in per[d.key]["ice40"]
    assert len(per[d.key]["ice40"]["pnr_stopped"]) == 6


@pytest.mark.slow
def test_a_hanging_seed_is_replaced_on_the_local_cluster(tmp_path, fake_nextpnr):
    """The same on a Dask LocalCluster (real generic and iCE40 synthesis of a 4 x 4 multiplier;
    the workers inherit the fake nextpnr through the environment)."""
    fake_nextpnr([2])
    d = Design("exact", CFG)
    opts = FlowOptions(out=str(tmp_path), use_cache=False, activity=False, pnr_timeout=3.0,
                       jobs=2)
    planned = [Job("generic", d, opts), Job("ice40", d, opts)] + [
        Job("pnr", d, opts, s) for s in opts.seeds]
    res = run_jobs(planned, opts, tmp_path / "cache", tmp_path / "work")
    assert res[f"{d.key}/pnr2"]["timed_out"] and res[f"{d.key}/pnr2"]["bound"] == 3.0
    assert res[f"{d.key}/pnr2"]["replaced_by"] == f"{d.key}/pnr4"
    assert sorted(r["pnr"]["fmax_mhz"] for j, r in res.items() if "pnr" in r) == [101.0, 103.0,
                                                                                  104.0]


def test_reseeder_bounds_later_seeds_by_the_finished_ones():
    opts = FlowOptions(pnr_timeout=600.0)
    d = Design("exact", CFG)
    planned = [Job("pnr", d, opts, s) for s in (1, 2, 3)]
    r = Reseeder(planned)
    assert r.bounded(planned[0]).timeout == 600.0
    r.record(planned[0], {"tool_seconds": 30.0})
    r.record(planned[1], {"tool_seconds": 20.0, "cached": True})    # measured when it ran
    assert r.bounded(planned[2]).timeout == 125.0
    new = r.record(planned[2], {"timed_out": True, "bound": 125.0})
    assert new.seed == 4 and new.timeout == 125.0


# ---------------------------------------------------------------- engine report
def test_engine_pnr_stopped_and_replaced(tmp_path, monkeypatch, fake_nextpnr):
    """The engine report's place and route: a hanging seed is stopped at its bound, replaced,
    and the resource table says how many seeds the median is over and that one was stopped."""
    from hw.flow import engine_report
    from hw.flow.engine_designs import EngineOptions
    from hw.flow.engine_tables import _fmax

    monkeypatch.setattr(engine_report, "fpga_job", lambda *a, **k: {})
    monkeypatch.setattr(engine_report, "_verilog_digest", lambda *a, **k: "v")
    fake_nextpnr([2])
    runner = engine_report._Runner(1, lambda s: None)
    key = ("up5k", "digits", "bucket", 16, True)
    t0 = time.perf_counter()
    done, stopped = engine_report.place_and_route(
        runner, [key], {"up5k": 3}, 1, 1.0,
        lambda k, sd, b: (engine_report.pnr_job, ("digits", "bucket", 16, "up5k", True, "85k",
                                                  sd, str(tmp_path), False, b)))
    assert time.perf_counter() - t0 < 30
    assert sorted(r["fmax_mhz"] for r in done[key]) == [101.0, 103.0, 104.0]
    assert stopped == {key: [{"seed": 2, "bound_s": 1.0, "replaced_by": 4}]}
    fpga = {(*key, "bucket"): {"cells": {}, "fits": True}}
    (row,) = engine_report.resource_rows(fpga, done, EngineOptions(), stopped)
    assert row["seeds"] == 3 and row["fmax_mhz"] == 103.0
    # the FPGA build's cycles (two set-up cycles per position, ...), not the ASIC engine's
    from hw.engine.config import FPGA_POWER
    from hw.flow.engine_designs import EngineDesign

    fpga_cycles = EngineDesign("digits", "bucket", 16, FPGA_POWER).inference_cycles
    assert row["cycles"] == fpga_cycles != EngineDesign("digits", "bucket", 16).inference_cycles
    assert row["images_per_s"] == 103.0e6 / fpga_cycles
    assert _fmax(row) == "103.0 (101.0–104.0, 3 seeds; 1 run(s) stopped at the bound)"


def test_engine_report_pnr_timeout_checked():
    from hw.flow.engine_designs import EngineOptions
    from hw.flow.engine_report import run_engine_report

    with pytest.raises(ValueError, match=r"^pnr_timeout must be a number of seconds in "
                                         r"\[1, 7200\], not 0$"):
        run_engine_report(EngineOptions(), "unused", pnr_timeout=0)


def test_report_pnr_timeout_checked(tmp_path):
    with pytest.raises(ValueError, match=r"^--pnr-timeout must be a number of seconds in "
                                         r"\[1, 7200\], not -1$"):
        run_report([CFG], FlowOptions(out=str(tmp_path), pnr_timeout=-1),
                   designs=[Design("exact", CFG)])
