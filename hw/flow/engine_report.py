"""The engine part of the report: resources and timing per board, energy per inference, headline.

``qsq report-engine --out build/report`` (``make report-engine``; ``make report`` runs it too)
writes ``build/report/engine/`` (``engine.md``, CSV/JSON tables, the accuracy-energy plot) and puts
its headline section at the top of ``build/report/index.md``.

Jobs, each a plain function of picklable arguments whose result is cached (JSON, keyed by the
engine's Verilog, the job's parameters and the source of the flow modules that decide the
numbers):

``generic``
    Generic-gate synthesis with the memories kept (:func:`hw.flow.engine_synth.generic_engine_synth`).
``fpga``
    iCE40 UP5K or ECP5 synthesis in the timing harness, packed by nextpnr: resources and whether
    the design fits (:func:`hw.flow.engine_synth.fpga_synth`).
``pnr``
    nextpnr with one placement seed: fmax (median and range over the seeds in the table). A run
    that does not finish within its bound (:func:`hw.flow.options.pnr_bound`: the first seed of a
    build at most ``pnr_timeout``, the others 5x the median time of the seeds of the same build
    that finished, at least 60 s) is stopped and replaced by the next seed (:func:`place_and_route`),
    and the table says so; it never fails the report.
``energy``
    Gate-level simulation over test images at every truncation setting
    (:func:`hw.flow.engine_energy.simulate_engine`), logits checked bit-exact.
``mul8``
    The multiplier report's power proxy of the exact 8 x 8 multiplier (uniform operands): the
    unit that converts a memory bit access into the proxy (:func:`mem_bit_weight`).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from golden_model.fileio import atomic_write_text

from hw.engine.config import FPGA_POWER

from .engine_designs import BOARDS, TARGET_LUT4, EngineDesign, EngineOptions, useful_lanes

__all__ = ["run_engine_report", "mem_bit_weight", "resource_rows", "energy_rows", "SMALL_MEMORIES",
           "ENGINE_FLOW_VERSION", "FPGA_STYLES", "ENERGY_STYLES", "insert_section",
           "place_and_route", "ENGINE_PNR_CAP_S"]

#: Cap in seconds of one nextpnr run of an engine (the first seed of a build; later seeds are
#: bounded by the seeds that finished, :func:`hw.flow.options.pnr_bound`).
ENGINE_PNR_CAP_S = 1800.0

#: Bumped when a change to the engine flow changes its numbers (invalidates the cache).
ENGINE_FLOW_VERSION = 2

#: FPGA builds of the resource table: (style, hard multipliers allowed, label).
FPGA_STYLES = (("bucket", True, "bucket"), ("multiplier-filter", True, "multiplier"),
               ("int8", True, "int8 (hard multipliers)"), ("int8", False, "int8 (LUT only)"))
#: PE styles of the energy runs.
ENERGY_STYLES = ("bucket", "multiplier-filter", "int8")

_TOP = "qsq_engine"
_SECTION_BEGIN = "<!-- engine-report:begin -->"
_SECTION_END = "<!-- engine-report:end -->"


# ---------------------------------------------------------------- caching
@lru_cache(maxsize=1)
def _flow_digest() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256(str(ENGINE_FLOW_VERSION).encode())
    for name in ("engine_synth.py", "memnet.py", "engine_energy.py", "yosys.py", "netlist.py",
                 "tools.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=None)
def _verilog_digest(workload: str, style: str, lanes: int, power: str = "lean",
                    reuse: int = 1) -> str:
    d = EngineDesign(workload, style, lanes, power, reuse)
    return hashlib.sha256(d.verilog().encode()).hexdigest()


def _key(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _cached(cache: Path, name: str, key: str, fn, use_cache: bool = True) -> dict:
    path = cache / f"{name}-{key}.json"
    if use_cache and path.exists():
        try:
            res = json.loads(path.read_text())
            res["cached"] = True
            return res
        except json.JSONDecodeError:
            pass                                    # a corrupt entry is recomputed
    t0 = time.perf_counter()
    res = fn()
    res["seconds"] = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(res) + "\n")
    os.replace(tmp, path)
    res["cached"] = False
    return res


# ---------------------------------------------------------------- jobs (any process)
def _generic_job(d: EngineDesign, work: Path) -> dict:
    from .engine_synth import generic_engine_synth

    area = generic_engine_synth(d.verilog(), _TOP, work / "generic", regfiles=d.regfiles())
    return {"area": area}


def _netlist(d: EngineDesign, work: Path, cache: Path, use_cache: bool):
    from .memnet import load_mem_netlist

    path = work / "generic" / "netlist.json"
    if not path.exists():
        _generic(d, work, cache, use_cache=False)
    # the engine as first built was measured without clock gates (enables as multiplexers)
    return load_mem_netlist(json.loads(path.read_text()), _TOP,
                            **({} if d.power == "lean" else {"min_flops": 1 << 30}))


def _generic(d, work, cache, use_cache=True) -> dict:
    key = _key(_verilog_digest(d.workload, d.style, d.lanes, d.power, d.reuse), _flow_digest(),
               "generic")
    res = _cached(cache, f"{d.key}-generic", key, lambda: _generic_job(d, work), use_cache)
    if not (work / "generic" / "netlist.json").exists():
        res = _cached(cache, f"{d.key}-generic", key, lambda: _generic_job(d, work), False)
    return res


def _fpga_build(workload: str, style: str, lanes: int, board: str, dsp: bool, device: str,
                out: str, step: str, *key_parts) -> tuple:
    """What the FPGA jobs of one build share: the engine as the bitstreams build it
    (``--power fpga``), the cache and work folders, the build's tag (board, DSP use, ECP5
    device) and the cache key of ``step`` (with ``key_parts``, e.g. the placement seed)."""
    d = EngineDesign(workload, style, lanes, FPGA_POWER)
    tag = f"{board}-{'dsp' if dsp else 'lut'}" + (f"-{device}" if board == "ecp5" else "")
    key = _key(_verilog_digest(workload, style, lanes, FPGA_POWER), _flow_digest(), step, tag,
               *key_parts)
    return d, Path(out) / "cache", Path(out) / "work" / d.key, tag, key


def fpga_job(workload: str, style: str, lanes: int, board: str, dsp: bool, device: str,
             out: str, use_cache: bool = True) -> dict:
    """Synthesize and pack one engine for ``board``; cached."""
    from .engine_synth import fpga_synth

    d, cache, work, tag, key = _fpga_build(workload, style, lanes, board, dsp, device, out,
                                           "fpga")

    def run():
        # the ports (same in every power style) from the lean engine's generic netlist
        lean = EngineDesign(workload, style, lanes)
        nl = _netlist(lean, Path(out) / "work" / lean.key, cache, use_cache)
        return fpga_synth(d.verilog(), _TOP, nl.ports, BOARDS[board]["arch"], work / tag,
                          dsp=dsp, device=device)

    res = _cached(cache, f"{d.key}-{tag}", key, run, use_cache)
    if not (work / tag / "harness.json").exists() and res.get("fits"):
        res = _cached(cache, f"{d.key}-{tag}", key, run, False)     # pnr needs the netlist
    return res


def modules_job(workload: str, style: str, lanes: int, board: str, dsp: bool, device: str,
                out: str, use_cache: bool = True) -> dict:
    """Per-module resources of one engine for ``board`` (hierarchical synthesis); cached."""
    from .engine_synth import fpga_modules

    d, cache, work, tag, key = _fpga_build(workload, style, lanes, board, dsp, device, out,
                                           "modules")
    return _cached(cache, f"{d.key}-{tag}-modules", key,
                   lambda: {"modules": fpga_modules(d.verilog(), _TOP, BOARDS[board]["arch"],
                                                    work / f"{tag}-modules", dsp=dsp)},
                   use_cache)


def pnr_job(workload: str, style: str, lanes: int, board: str, dsp: bool, device: str,
            seed: int, out: str, use_cache: bool = True, timeout: float = ENGINE_PNR_CAP_S) -> dict:
    """Place and route a packed engine with one seed; cached. A run longer than ``timeout``
    seconds is stopped: ``{"timed_out": True, "bound": timeout, "seed": seed}`` (not cached)."""
    from .engine_synth import fpga_pnr
    from .tools import ToolTimeout

    d, cache, work, tag, key = _fpga_build(workload, style, lanes, board, dsp, device, out,
                                           "pnr", seed)

    def run():
        fpga_job(workload, style, lanes, board, dsp, device, out, use_cache)
        return fpga_pnr(BOARDS[board]["arch"], work / tag, seed=seed, device=device,
                        timeout=timeout)

    try:
        return _cached(cache, f"{d.key}-{tag}-pnr{seed}", key, run, use_cache)
    except ToolTimeout as exc:
        return {"timed_out": True, "bound": exc.bound, "seed": seed,
                "error": f"ToolTimeout: {exc}"}


def place_and_route(runner, builds: list, seeds_of: dict, seed: int, cap: float, call) -> tuple:
    """Place and route every build with its seeds; replace a run stopped at its bound.

    Round 1 runs the first seed of every build (bound ``cap``); round 2 the other seeds, each
    bounded by :func:`hw.flow.options.pnr_bound` over the seeds of its build that finished; then
    each stopped run is replaced by the build's next unused seed, at most ``seeds_of[board]``
    times per build.

    Parameters
    ----------
    runner : object with ``map(what, calls, tolerate=True)``
    builds : list of tuple
        Build keys; ``key[0]`` is the board.
    seeds_of : dict
        Board -> planned seeds per build.
    seed : int
        First placement seed.
    cap : float
        Bound of a run when no seed of its build has finished (seconds).
    call : callable
        ``call(key, seed, bound)`` -> ``(fn, args)`` for ``runner.map``.

    Returns
    -------
    (dict, dict)
        Key -> results of the runs that finished; key -> stopped runs
        (``{"seed", "bound_s", "replaced_by"}``).
    """
    from .options import pnr_bound

    done: dict = {}
    stopped: dict = {}
    nxt = {k: seed + seeds_of[k[0]] for k in builds}
    spare = {k: seeds_of[k[0]] for k in builds}
    todo = [(k, seed) for k in builds]
    later = [(k, seed + i) for k in builds for i in range(1, seeds_of[k[0]])]
    rnd = 0
    while todo:
        rnd += 1
        calls = [(k, s, pnr_bound([r["seconds"] for r in done.get(k, ()) if "seconds" in r], cap))
                 for k, s in todo]
        res = runner.map(f"place and route, round {rnd}", [call(k, s, b) for k, s, b in calls],
                         tolerate=True) if calls else []
        todo = []
        for (k, s, b), r in zip(calls, res):
            if r.get("timed_out"):
                rec = {"seed": s, "bound_s": b, "replaced_by": None}
                if spare[k] > 0:
                    spare[k] -= 1
                    rec["replaced_by"] = nxt[k]
                    todo.append((k, nxt[k]))
                    nxt[k] += 1
                stopped.setdefault(k, []).append(rec)
            elif "error" not in r:
                done.setdefault(k, []).append(r)
        todo, later = later + todo, []
    return done, stopped


def energy_job(workload: str, style: str, lanes: int, setting: list, images: int, out: str,
               use_cache: bool = True, power: str = "lean", reuse: int = 1) -> dict:
    """Gate-level energy run of one engine at one truncation setting over the first ``images``
    test images; cached."""
    from hw.engine.workloads import golden_logits
    from hw.engine.workloads import workload as get_workload

    from .engine_energy import simulate_engine

    d = EngineDesign(workload, style, lanes, power, reuse)
    cache, work = Path(out) / "cache", Path(out) / "work" / d.key
    setting = [int(v) for v in setting]
    tag = "t" + "-".join(map(str, setting))
    key = _key(_verilog_digest(workload, style, lanes, power, reuse), _flow_digest(), "energy",
               setting, images)

    def run():
        wl = get_workload(workload)
        idx = np.arange(images)
        exp = golden_logits(wl, d.pe, setting, idx)[None]
        nl = _netlist(d, work, cache, use_cache)
        traffic = d.traffic() if power == "lean" else None   # predicted for the lean engine
        rows = simulate_engine(nl, wl.quantized_images(d.pe)[:images], [setting], exp,
                               work / f"energy-{tag}", layer_bits=d.program().widths["layer"],
                               cycles=d.inference_cycles, traffic=traffic)
        return {"row": rows[0], "clock_pins": nl.clock_pin_count(),
                "memories": {m.name: [m.size, m.width] for m in nl.memories},
                "regfiles": d.regfiles(), "traffic": traffic}

    return _cached(cache, f"{d.key}-energy-{tag}-n{images}", key, run, use_cache)


def mul8_job(out: str, use_cache: bool = True) -> dict:
    """Power proxy per operation of the exact signed 8 x 8 multiplier (uniform operands)."""
    from golden_model.config import MultiplierConfig

    from .designs import Design, csd_latency
    from .jobs import Job, execute_job
    from .options import FlowOptions

    cfg = MultiplierConfig(8, True, 8, True)
    d = Design("exact", cfg, (), csd_latency(cfg))
    opts = FlowOptions(stimuli=("uniform",), ops=1000, ice40=False, pnr=False, out=out)
    cache, work = Path(out) / "cache" / "mul8", Path(out) / "work" / "mul8"
    g = execute_job(Job("generic", d, opts), str(cache), str(work))
    if "error" in g:
        raise RuntimeError(f"exact 8 x 8 multiplier: {g['error']}")
    a = execute_job(Job("activity", d, opts), str(cache), str(work), g)
    if "error" in a:
        raise RuntimeError(f"exact 8 x 8 multiplier: {a['error']}")
    seg = a["activity"][0]
    return {"proxy": seg["weighted_toggles"] / 2 + seg["clock_pin_events"],
            "design": d.key, "ops": seg["ops"]}


def mem_bit_weight(mul8_proxy: float, opts: EngineOptions, bits: int | None = None) -> float:
    """Power-proxy units per bit read from or written into an SRAM of ``bits`` bits.

    M. Horowitz (ISSCC 2014, 45 nm) gives 10 pJ per 64-bit access of an 8 KB SRAM, 20 pJ of a
    32 KB one and 100 pJ of a 1 MB one: per bit, about ``opts.mem_pj_per_bit`` (0.156 pJ) times
    the square root of the size over 8 KB (the word and bit lines grow as the square root of the
    array; the law gives 0.31 pJ at 32 KB and 1.77 pJ at 1 MB against the quoted 0.31 and 1.56).
    With ``opts.mem_model == "flat"`` (or ``bits`` None) every memory costs the 8 KB figure.
    An 8-bit multiply costs ``opts.mul8_pj`` (0.2 pJ, same source); the flow measures the exact
    8 x 8 multiplier's proxy per operation, so one bit costs ``mul8_proxy * pJ_per_bit / mul8_pj``
    proxy units.
    """
    pj = opts.mem_pj_per_bit
    if bits is not None and opts.mem_model == "sqrt":
        pj *= (bits / opts.mem_ref_bits) ** 0.5
    return mul8_proxy * pj / opts.mul8_pj


# ---------------------------------------------------------------- running
class _Runner:
    """Runs job calls serially, or on a Dask LocalCluster (``jobs`` > 1), printing progress."""

    def __init__(self, jobs: int, log):
        self.jobs, self.log, self.client, self.done = jobs, log, None, 0
        if jobs > 1:
            from distributed import Client

            from .runner import local_cluster

            self.client = Client(local_cluster(jobs))

    def map(self, what: str, calls: list, tolerate: bool = False) -> list:
        """Run ``calls`` (``(fn, args)`` pairs, independent of each other); results in order.

        ``tolerate``: a job that raises gives ``{"error": message}`` (a tool failure, e.g. a
        design nextpnr cannot route, is a table entry); otherwise the exception propagates (a
        gate-level logit mismatch stops the report).
        """
        t0 = time.perf_counter()
        self.log(f"qsq report-engine: {what}: {len(calls)} job(s)")
        call = _tolerant if tolerate else _plain
        if self.client is None:
            out = []
            for k, (fn, args) in enumerate(calls, 1):
                r = call(fn, *args)
                out.append(r)
                took = ("cached" if r.get("cached") else
                        f"failed: {r['error']}" if "error" in r else f"{r.get('seconds', 0):.0f} s")
                self.log(f"  [{k}/{len(calls)}] {fn.__name__}{tuple(args[:6])}: {took}")
        else:
            futs = [self.client.submit(call, fn, *args, pure=False) for fn, args in calls]
            out = self.client.gather(futs)
        self.log(f"qsq report-engine: {what} done in {time.perf_counter() - t0:.0f} s")
        return out

    def close(self):
        if self.client is not None:
            cluster = self.client.cluster
            self.client.close()
            cluster.close()


def _plain(fn, *args) -> dict:
    return fn(*args)


def _tolerant(fn, *args) -> dict:
    try:
        return fn(*args)
    except Exception as exc:        # reported in the table, with the job's name
        return {"error": f"{type(exc).__name__}: {exc}"}


def _settings(opts: EngineOptions, n_layers: int, rec: list[int], levels_max: int) -> list:
    out = []
    for t in opts.levels:
        if t <= levels_max:
            s = [int(t)] * n_layers
            if s not in out:
                out.append(s)
    if rec not in out:
        out.append(list(rec))
    return out


def _accuracy(wl, pe: str, setting) -> float:
    from hw.engine.workloads import golden_logits

    pred = np.argmax(golden_logits(wl, pe, setting), axis=1)
    return float(np.mean(pred == wl.labels))


def resource_rows(fpga: dict, pnr: dict, opts: EngineOptions, stopped: dict | None = None
                  ) -> list[dict]:
    """Rows of the resource and timing table from the job results (see :func:`run_engine_report`);
    ``stopped``: build key -> place-and-route runs stopped at their bound (:func:`place_and_route`)."""
    rows = []
    stopped = stopped or {}
    for (board, workload, style, lanes, dsp, label), res in fpga.items():
        d = EngineDesign(workload, style, lanes, FPGA_POWER)    # as built: its cycles
        seeds = pnr.get((board, workload, style, lanes, dsp), [])
        f = [r["fmax_mhz"] for r in seeds]
        cells = res["cells"]
        row = {"board": board, "workload": workload, "style": label, "pe_style": style,
               "lanes": lanes, "dsp": dsp, **cells,
               "fits": bool(res.get("fits")), "why": res.get("why", ""),
               "packed_lc": (res.get("packed", {}).get("ICESTORM_LC")
                             or res.get("packed", {}).get("TRELLIS_COMB")),
               "memories": res.get("memories", {}), "cycles": d.inference_cycles,
               "weight_bits": d.memory_bits()["weights"], "int8_weight_bits": d.int8_weight_bits(),
               "fmax_mhz": statistics.median(f) if f else None,
               "fmax_min": min(f) if f else None, "fmax_max": max(f) if f else None,
               "seeds": len(f), "stopped": stopped.get((board, workload, style, lanes, dsp), [])}
        row["images_per_s"] = (row["fmax_mhz"] * 1e6 / row["cycles"]) if f else None
        row["weight_ratio"] = row["weight_bits"] / row["int8_weight_bits"]
        rows.append(row)
    return rows


#: Memories whose traffic the small-memory target counts (descriptors, logits, scales, biases).
SMALL_MEMORIES = ("desc_mem", "logit_mem", "scale_mem", "bias_mem")


def _unit_label(unit: str) -> str:
    from .engine_synth import REGFILE_PREFIX

    if unit.startswith(REGFILE_PREFIX):
        return unit[len(REGFILE_PREFIX):]
    return unit[4:] if unit.startswith("mem:") else unit


def energy_rows(results: list, mul8: float, opts: EngineOptions, accuracy: dict) -> list[dict]:
    """Rows of the energy table (proxy units per inference), relative to the INT8 engine built
    the same way; ``results``: ``(style, power, reuse, energy_job result)`` tuples.

    Per row: ``logic_proxy`` (every unit's fanout-weighted toggles / 2 + clock-pin events),
    ``mem_proxy`` (SRAM accesses, size-dependent weight per bit: :func:`mem_bit_weight`),
    ``mem_proxy_flat`` (every bit at the 8 KB weight), their totals, and ``breakdown``: proxy per
    unit and memory (a memory's row: its accesses plus the activity of its ports and data bus; a
    register file's row: its gates and flip-flops).
    """
    rows = []
    flat = mem_bit_weight(mul8, opts.with_(mem_model="flat"))
    for style, power, reuse, res in results:
        r = res["row"]
        sizes = {name: size * width for name, (size, width) in res["memories"].items()}
        logic = r["weighted_toggles"] / 2 + r["clock_pin_events"]
        rd = sum(r["mem_read_bits"].values())
        wr = sum(r["mem_write_bits"].values())
        access = {name: (r["mem_read_bits"][name] + r["mem_write_bits"][name])
                  * mem_bit_weight(mul8, opts, sizes[name]) for name in r["mem_read_bits"]}
        mem = sum(access.values())
        breakdown: dict = {}
        for unit, u in r["units"].items():
            label = _unit_label(unit)
            e = breakdown.setdefault(label, {"toggles": 0.0, "clock_pin_events": 0.0,
                                             "logic": 0.0, "access": 0.0, "bits": 0.0})
            e["toggles"] += u["toggles"]
            e["clock_pin_events"] += u["clock_pin_events"]
            e["logic"] += u["weighted"] / 2 + u["clock_pin_events"]
        for name, a in access.items():
            e = breakdown.setdefault(name, {"toggles": 0.0, "clock_pin_events": 0.0,
                                            "logic": 0.0, "access": 0.0, "bits": 0.0})
            e["access"] += a
            e["bits"] += r["mem_read_bits"][name] + r["mem_write_bits"][name]
        for e in breakdown.values():
            e["total"] = e["logic"] + e["access"]
        small = sum(breakdown[m]["total"] for m in SMALL_MEMORIES if m in breakdown)
        spread = r.get("per_image", {}).get("logic_proxy", [])
        rows.append({"style": style, "power": power, "reuse": reuse, "trunc": r["trunc"],
                     "images": r["images"],
                     "cycles": r["cycles"], "logic_proxy": logic,
                     "logic_min": min(spread) if spread else logic,
                     "logic_max": max(spread) if spread else logic,
                     "mem_read_bits": rd, "mem_write_bits": wr,
                     "mem_reads": r["mem_read_bits"], "mem_writes": r["mem_write_bits"],
                     "mem_proxy": mem, "total_proxy": logic + mem,
                     "mem_proxy_flat": flat * (rd + wr), "total_flat": logic + flat * (rd + wr),
                     "breakdown": breakdown, "small_memory_share": small / (logic + mem),
                     "regfiles": res.get("regfiles", []), "memory_bits": sizes,
                     "traffic": res.get("traffic", {}),
                     "accuracy": accuracy[(style, tuple(r["trunc"]))]})
    for r in rows:      # against the INT8 engine built the same way (lean or baseline, reuse)
        ref = [x for x in rows if x["style"] == "int8" and x["power"] == r["power"]
               and x["reuse"] == r["reuse"]]
        for key, base_key in (("rel_int8", "total_proxy"), ("rel_int8_logic", "logic_proxy"),
                              ("rel_int8_flat", "total_flat")):
            base = ref[0][base_key] if ref else None
            r[key] = r[base_key] / base if base else None
    return rows


def _lane_search(runner: _Runner, opts: EngineOptions, out: str, board: str, style: str,
                 dsp: bool, use_cache: bool) -> dict:
    """Largest useful lane count whose packed design fits ``board``.

    Powers of two first (from ``opts.lanes`` up while they fit, down while they do not), then a
    bisection over the useful lane counts between the largest power of two that fits and the
    next one; assumes a design with more lanes never needs fewer cells. Useful counts
    (:func:`~hw.flow.engine_designs.useful_lanes`) are those that save cycles; the cap is
    :data:`hw.engine.config.MAX_LANES`.
    """
    cands = useful_lanes(opts.workload, style)
    probes: dict = {}

    def fits(lanes: int) -> bool:
        if lanes not in probes:
            r = runner.map(f"lane search {board} {style} lanes={lanes}",
                           [(fpga_job, (opts.workload, style, lanes, board, dsp, opts.ecp5_device,
                                        out, use_cache))], tolerate=True)[0]
            probes[lanes] = {"fits": bool(r.get("fits")), "why": r.get("why", ""),
                             "lc": (r.get("packed", {}).get("ICESTORM_LC")
                                    or r.get("packed", {}).get("TRELLIS_COMB"))}
        return probes[lanes]["fits"]

    pow2 = [c for c in cands if c & (c - 1) == 0]
    start = opts.lanes if opts.lanes in pow2 else pow2[len(pow2) // 2]
    i = pow2.index(start)
    if fits(pow2[i]):
        while i + 1 < len(pow2) and fits(pow2[i + 1]):
            i += 1
        lo, hi = pow2[i], pow2[i + 1] if i + 1 < len(pow2) else None
    else:
        while i > 0 and not fits(pow2[i - 1]):
            i -= 1
        lo, hi = (pow2[i - 1] if i > 0 else None), pow2[i]
    if lo is not None and hi is not None:          # bisection between the two powers of two
        between = [c for c in cands if lo < c < hi]
        a, b = -1, len(between)                    # between[a] fits, between[b] does not
        while b - a > 1:
            mid = (a + b) // 2
            if fits(between[mid]):
                a = mid
            else:
                b = mid
        if a >= 0:
            lo = between[a]
    return {"board": board, "style": style, "dsp": dsp, "candidates": cands,
            "largest": lo, "probes": probes}


def run_engine_report(opts: EngineOptions, out, *, pnr_seeds=3, seed: int = 1,
                      jobs: int = 1, use_cache: bool = True, lane_search: bool = True,
                      log=print, pnr_timeout: float = ENGINE_PNR_CAP_S,
                      quick: bool = False, command: str | None = None) -> Path:
    """Measure the engines and write ``out/engine/``; put the headline into ``out/index.md``.

    Returns the path of ``out/engine/engine.md``. ``pnr_seeds``: nextpnr placement seeds per
    build (an int, or a dict board -> int). ``pnr_timeout``: cap in seconds of one nextpnr run
    (:func:`place_and_route`). ``quick``: label ``engine.md`` and the headline as a quick run
    (:data:`QUICK_NOTE`). ``command``: the command line, recorded in ``engine.json`` (the
    README block names it).

    Raises
    ------
    hw.flow.engine_energy.EngineEnergyError
        If a gate-level engine differs from the golden model on any image.
    """
    from hw.engine.workloads import recommended_trunc
    from hw.engine.workloads import workload as get_workload

    from .engine_tables import write_engine_outputs

    seeds_of = (dict(pnr_seeds) if isinstance(pnr_seeds, dict)
                else {b: pnr_seeds for b in opts.boards})
    for b in opts.boards:
        if not isinstance(seeds_of.get(b), int) or seeds_of[b] < 1:
            raise ValueError(f"pnr_seeds must give every board at least 1 seed, not {pnr_seeds!r}")
    if (isinstance(pnr_timeout, bool) or not isinstance(pnr_timeout, (int, float))
            or not 1 <= pnr_timeout <= 7200):
        raise ValueError(f"pnr_timeout must be a number of seconds in [1, 7200], "
                         f"not {pnr_timeout!r}")
    out = Path(out)
    eout = out / "engine"
    eout.mkdir(parents=True, exist_ok=True)
    wdir = str(eout)
    t_start = time.perf_counter()
    runner = _Runner(jobs, log)
    try:
        wl = get_workload(opts.workload)
        # 1. resources and timing per board and PE style
        builds = [(b, opts.workload, s, opts.lanes, dsp, label) for b in opts.boards
                  for s, dsp, label in FPGA_STYLES if s in opts.styles]
        if opts.lenet5 and "up5k" in opts.boards and "bucket" in opts.styles:
            builds.append(("up5k", "lenet5-random", "bucket", opts.lanes, True, "bucket (LeNet-5)"))
        fres = runner.map("FPGA synthesis + packing", [
            (fpga_job, (w, s, ln, b, dsp, opts.ecp5_device, wdir, use_cache))
            for b, w, s, ln, dsp, _ in builds], tolerate=True)
        # area by module: the UP5K builds of the network itself (hierarchical synthesis)
        mkeys = [(b, w, s, ln, dsp, label) for b, w, s, ln, dsp, label in builds
                 if b == "up5k" and w == opts.workload]
        mres = runner.map("FPGA synthesis by module", [
            (modules_job, (w, s, ln, b, dsp, opts.ecp5_device, wdir, use_cache))
            for b, w, s, ln, dsp, _ in mkeys],
            tolerate=True)
        modules = {f"{b} {label}": r["modules"] for (b, w, s, ln, dsp, label), r
                   in zip(mkeys, mres) if "modules" in r}
        fpga = {}
        for b, r in zip(builds, fres):
            fpga[b] = r if "error" not in r else {"cells": {}, "memories": {}, "fits": False,
                                                 "why": r["error"].splitlines()[0][:200]}
        pkeys = [(b, w, s, ln, dsp) for (b, w, s, ln, dsp, label), r in fpga.items()
                 if r.get("fits") and w == opts.workload]
        log(f"qsq report-engine: place and route, seeds per board {seeds_of}")
        pnr, stopped = place_and_route(
            runner, pkeys, seeds_of, seed, pnr_timeout,
            lambda k, sd, bound: (pnr_job, (k[1], k[2], k[3], k[0], k[4], opts.ecp5_device, sd,
                                            wdir, use_cache, bound)))
        for k, recs in stopped.items():
            for rec in recs:
                log(f"qsq report-engine: {'/'.join(map(str, k))} seed {rec['seed']} stopped "
                    f"after {rec['bound_s']:.0f} s, "
                    + (f"replaced by seed {rec['replaced_by']}" if rec["replaced_by"] else
                       "no replacement seed left"))
        resources = resource_rows(fpga, pnr, opts, stopped)

        # 2. energy per inference
        energy, mul8, acc = [], None, {}
        if opts.energy:
            rec = [int(v) for v in recommended_trunc(wl)]
            coded = wl.model("bucket")
            settings = _settings(opts, len(coded.layers), rec, coded.mult.ndigits)
            n_int8 = len(wl.model("int8").layers)
            calls, styles = [], []
            for s in [st for st in ENERGY_STYLES if st in opts.styles] + [
                    st for st in opts.styles if st not in ENERGY_STYLES]:
                exact = [0] * (n_int8 if s == "int8" else len(coded.layers))
                runs = [(st, "lean", 1) for st in ([exact] if s == "int8" else settings)]
                if opts.baseline:               # the engine as first built, exact
                    runs.append((exact, "baseline", 1))
                if opts.reuse:                  # weight reuse, exact
                    runs.append((exact, "lean", 2))
                for st, power, reuse in runs:
                    calls.append((energy_job, (opts.workload, s, opts.lanes, st, opts.images,
                                               wdir, use_cache, power, reuse)))
                    styles.append((s, power, reuse))
            calls.append((mul8_job, (wdir, use_cache)))
            res = runner.map(f"gate-level energy ({opts.images} images, settings {settings})",
                             calls)
            mul8 = res[-1]["proxy"]
            eres = [(s, power, reuse, r) for (s, power, reuse), r in zip(styles, res[:-1])]
            for s, _, _, r in eres:
                pe = EngineDesign(opts.workload, s, opts.lanes).pe
                acc[(s, tuple(r["row"]["trunc"]))] = _accuracy(wl, pe, r["row"]["trunc"])
            energy = energy_rows(eres, mul8, opts, acc)
            float_acc = float(np.mean(_float_model(opts.workload).predict(wl.images) == wl.labels))
        else:
            rec, settings, float_acc = [], [], None

        # 3. the largest lane count per board (bucket engine)
        searches = []
        if lane_search and "bucket" in opts.styles:
            for b in opts.boards:
                searches.append(_lane_search(runner, opts, wdir, b, "bucket", True, use_cache))
    finally:
        runner.close()
    info = {"elapsed": time.perf_counter() - t_start, "pnr_seeds": seeds_of, "seed": seed,
            "mul8_proxy": mul8, "mem_bit_weight": mem_bit_weight(mul8, opts) if mul8 else None,
            "recommended": rec, "settings": settings, "float_accuracy": float_acc,
            "target_lut4": TARGET_LUT4, "jobs": jobs, "pnr_timeout": pnr_timeout,
            "command": command, "modules": modules}
    info["quick"] = quick
    path = write_engine_outputs(eout, opts, resources, energy, searches, info)
    if quick:
        _label_quick(path, opts, seeds_of)
        _label_quick(eout / "section.md", opts, seeds_of)
    insert_section(out / "index.md", (eout / "section.md").read_text())
    log(f"qsq report-engine: wrote {path} in {info['elapsed']:.0f} s")
    return path


#: What a quick engine report leaves out (``qsq report-engine --quick``, the one ``make`` runs).
QUICK_NOTE = ("**Quick run** (`qsq report-engine --quick`, as `make` runs it): {boards} only, PE "
              "styles {styles}, {seeds} placement seed(s) per build, {images} test image(s) per "
              "energy run, truncation levels {levels} plus the recommended ones; no lane search, "
              "no LeNet-5 fit check, no before/after or weight-reuse runs. `make full` (or "
              "`make report-engine`) measures everything.")


def _label_quick(path: Path, opts: EngineOptions, seeds_of: dict) -> None:
    """Put :data:`QUICK_NOTE` under the first heading of ``path``."""
    note = QUICK_NOTE.format(boards=", ".join(opts.boards), styles=", ".join(opts.styles),
                             seeds=", ".join(f"{b}: {n}" for b, n in seeds_of.items()),
                             images=opts.images, levels=", ".join(map(str, opts.levels)))
    lines = Path(path).read_text().split("\n")
    at = next((i + 1 for i, ln in enumerate(lines) if ln.startswith("#")), 0)
    atomic_write_text(path, "\n".join(lines[:at] + ["", note] + lines[at:]))


def _float_model(workload: str):
    from golden_model.nn.checkpoint import load_checkpoint

    if workload != "digits":
        raise ValueError(f"float accuracy is known for the digits workload only, not {workload!r}")
    return load_checkpoint().float_model


def insert_section(index: Path, section: str) -> None:
    """Put ``section`` at the top of ``index`` (after its title), replacing an earlier one."""
    block = f"{_SECTION_BEGIN}\n{section.rstrip()}\n{_SECTION_END}\n"
    index = Path(index)
    text = index.read_text() if index.exists() else "# qsq report\n"
    if _SECTION_BEGIN in text and _SECTION_END in text:
        a = text.index(_SECTION_BEGIN)
        b = text.index(_SECTION_END) + len(_SECTION_END)
        text = text[:a] + block.rstrip("\n") + text[b:]
    else:
        lines = text.split("\n")
        at = 1 if lines and lines[0].startswith("# ") else 0
        text = "\n".join(lines[:at] + ["", block] + lines[at:])
    atomic_write_text(index, text)


# ---------------------------------------------------------------- README section
#: The README's markers around the engine report's results (``qsq readme-engine``).
README_BEGIN = "<!-- engine-readme:begin -->"
README_END = "<!-- engine-readme:end -->"


def readme_block(report: Path) -> str:
    """The README's engine-results block from a finished report folder ``report`` (the ``-o``
    of ``qsq report-engine``): its headline and targets (``engine/section.md``), headings one
    level down, links pointing into ``report``, and a first line saying how it was measured.

    Raises
    ------
    FileNotFoundError
        If ``report`` holds no finished engine report.
    ValueError
        If the report is a quick run (``--quick``): its figures are not the README's.
    """
    report = Path(report)
    section, meta = report / "engine" / "section.md", report / "engine" / "engine.json"
    if not (section.is_file() and meta.is_file()):
        raise FileNotFoundError(f"{report}: no finished engine report (engine/section.md and "
                                f"engine/engine.json); run `make report-engine` first")
    try:
        info = json.loads(meta.read_text())["info"]
    except (ValueError, KeyError) as e:
        raise ValueError(f"{meta}: not an engine report's engine.json ({e})") from None
    if info.get("quick"):
        raise ValueError(f"{report}: the engine report there is a quick run (--quick); the "
                         f"README takes a full one (`make report-engine`)")
    how = f"Measured by `{info.get('command') or 'qsq report-engine'}`"
    seeds = ", ".join(f"{b}: {n}" for b, n in info.get("pnr_seeds", {}).items())
    if seeds:
        how += f" (nextpnr seeds per board: {seeds})"
    how += "; copied here from its output by `qsq readme-engine` (`make readme-engine`)."
    lines = []
    for ln in section.read_text().splitlines():
        if ln.startswith("#"):
            ln = "#" + ln
        lines.append(ln.replace("](engine/", f"]({report.as_posix()}/engine/"))
    return "\n".join([lines[0], "", how, *lines[1:]]).rstrip() + "\n"


def update_readme(readme: Path, report: Path) -> None:
    """Replace the block between :data:`README_BEGIN` and :data:`README_END` of ``readme`` with
    :func:`readme_block` of ``report`` (written atomically).

    Raises
    ------
    ValueError
        If ``readme`` lacks the two markers (in that order), or see :func:`readme_block`.
    """
    readme = Path(readme)
    text = readme.read_text()
    a, b = text.find(README_BEGIN), text.find(README_END)
    if a < 0 or b < a:
        raise ValueError(f"{readme}: no {README_BEGIN} ... {README_END} markers (in that order) "
                         f"to put the engine report between")
    block = readme_block(report)
    atomic_write_text(readme, text[:a + len(README_BEGIN)] + "\n" + block + text[b:])
