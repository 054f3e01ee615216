"""``make report``: measure every design of the sweep and write ``build/report/``.

Per design (in parallel worker processes, cached per configuration):

1. Verilog from the Amaranth module (:mod:`hw.flow.designs`);
2. generic gate-level synthesis: cells by type, transistors, logic depth (:mod:`hw.flow.yosys`);
3. iCE40 UP5K: ``synth_ice40`` LUT4/carry/FF counts, nextpnr fmax on the timing harness;
4. gate-level switching activity of the generic netlist under every stimulus set
   (:mod:`hw.flow.activity`), after checking the netlist's products against the golden model;

then error metrics from the golden model, tables (Markdown/CSV/JSON), plots and ``index.md``.

The cache key of a design is the SHA-256 of its generated Verilog, the flow parameters, the source
of the flow steps that produce numbers and :data:`FLOW_VERSION`; a re-run with nothing changed only
reads the cache.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from golden_model.config import MultiplierConfig, check_int

from .designs import DEFAULT_VARIANTS, Design, default_designs

__all__ = ["FlowOptions", "parse_config_tag", "measure_design", "run_report", "FLOW_VERSION",
           "POWER_PROXY_DOC"]

#: Bumped whenever a change to the flow changes its numbers (invalidates the cache).
FLOW_VERSION = 3

POWER_PROXY_DOC = (
    "power proxy = fanout-weighted data-net toggles / 2 + clock-pin rising edges, per operation: "
    "both in units of one full charge-discharge cycle of one cell input pin (a data net toggling "
    "twice, 0->1->0, charges and discharges its fanout once; a clock pin does so every cycle)")


@dataclass(frozen=True)
class FlowOptions:
    """Parameters of a report run (all of them enter the cache key, except ``jobs``/``out``)."""

    ops: int = 1000
    seed: int = 1
    stimuli: tuple = ("uniform", "stream", "ws")
    pnr: bool = True
    ice40: bool = True
    activity: bool = True
    dsp: bool = False
    traces: str | None = None        # path of the trace archive, if it exists
    traces_digest: str = ""
    jobs: int = 2
    out: str = "build/report"
    use_cache: bool = True

    def key_fields(self) -> dict:
        d = asdict(self)
        for k in ("jobs", "out", "use_cache", "traces"):
            d.pop(k)
        return d


_TAG = re.compile(r"^([su])(\d+)x([su])(\d+)$")


def parse_config_tag(tag: str) -> MultiplierConfig:
    """``s8xs8`` -> signed 8-bit a x signed 8-bit b, ``u8xs8`` -> unsigned a x signed b.

    Raises
    ------
    ValueError
        If the tag does not match ``[su]<width>x[su]<width>`` (or a width is out of range).
    """
    m = _TAG.match(str(tag))
    if not m:
        raise ValueError(f"config must look like s8xs8 or u8xs8 ([su]<a width>x[su]<b width>), "
                         f"not {tag!r}")
    return MultiplierConfig(int(m[2]), m[1] == "s", int(m[4]), m[3] == "s")


# ---------------------------------------------------------------- one design (worker process)
def _segments(design: Design, opts: FlowOptions):
    from .activity import Segment
    from .stimuli import load_traces, make_stimulus

    traces = load_traces(opts.traces) if opts.traces else None
    segs = []
    for s in opts.stimuli:
        a, b = make_stimulus(s, design.cfg, opts.ops, opts.seed, traces)
        for t in design.levels_measured():
            segs.append(Segment(s, t, a, b, design.golden(a, b, t)))
    return segs


def measure_design(design: Design, opts: FlowOptions, cache_dir: Path) -> dict:
    """Run the flow on one design (or read its cache entry); return a JSON-able result."""
    from .yosys import generic_synth, ice40_synth_pnr

    t_start = time.perf_counter()
    verilog = design.verilog()
    h = hashlib.sha256()
    h.update(verilog.encode())
    h.update(json.dumps([FLOW_VERSION, design.key, design.latency, opts.key_fields()],
                        sort_keys=True).encode())
    h.update(_flow_digest().encode())
    digest = h.hexdigest()[:16]
    cache_file = Path(cache_dir) / f"{design.key}-{digest}.json"
    if opts.use_cache and cache_file.exists():
        try:
            res = json.loads(cache_file.read_text())
            res["cached"] = True
            res["seconds"] = time.perf_counter() - t_start
            return res
        except json.JSONDecodeError:
            pass  # a corrupt cache entry is recomputed
    work = Path(cache_dir).parent / "work" / design.key
    res: dict = {"key": design.key, "digest": digest, "notes": []}
    timings = {}
    t0 = time.perf_counter()
    area, nl = generic_synth(verilog, design.top, work / "generic")
    timings["generic"] = time.perf_counter() - t0
    res["area"] = area
    res["latency"] = design.latency
    icg = design.p.get("gating") == "icg"
    if opts.ice40 and not icg:
        # (ICG designs are an ASIC style: iCE40 has no latches and synth_ice40 rejects them.)
        t0 = time.perf_counter()
        res["ice40"] = ice40_synth_pnr(verilog, design.top, nl.ports, work / "ice40",
                                       dsp=opts.dsp, pnr=opts.pnr, seed=opts.seed)
        timings["ice40"] = time.perf_counter() - t0
    if opts.activity and design.is_multiplier:
        from .activity import simulate_activity
        t0 = time.perf_counter()
        res["activity"] = simulate_activity(nl, _segments(design, opts), work / "activity",
                                            design.latency)
        timings["activity"] = time.perf_counter() - t0
    res["timings"] = timings
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps(res, indent=1) + "\n")
    res["cached"] = False
    res["seconds"] = time.perf_counter() - t_start
    return res


def _flow_digest() -> str:
    """Hash of the flow steps that decide the numbers (scripts, simulation, parsing, stimuli)."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in ("yosys.py", "netlist.py", "activity.py", "vcd.py", "stimuli.py", "tools.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def _worker(args):
    design, opts, cache_dir = args
    try:
        return design, measure_design(design, opts, cache_dir), None
    except Exception as exc:  # reported by the parent, with the design's name
        return design, None, f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- the sweep
def _decoder_designs() -> list[Design]:
    return [Design("decoder", None, (("code_bits", 3), ("scale_bits", 7), ("lanes", lanes),
                                     ("registered", True)))
            for lanes in (1, 4)]


def run_report(configs: list[MultiplierConfig], opts: FlowOptions, *, quick: bool = False,
               designs: list[Design] | None = None, variants=None, log=print) -> Path:
    """Measure the sweep and write ``opts.out``; return the path of ``index.md``.

    Raises
    ------
    RuntimeError
        If any design fails; the message lists each failure (the other results are still cached).
    """
    from .stimuli import TRACES_PATH

    check_int("jobs", opts.jobs, 1, 64)
    check_int("ops", opts.ops, 16, 1_000_000)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    notes = []
    trace_path = Path(opts.traces) if opts.traces else TRACES_PATH
    stimuli = tuple(opts.stimuli)
    if trace_path.exists():
        digest = hashlib.sha256(trace_path.read_bytes()).hexdigest()[:16]
        stimuli = stimuli + tuple(s for s in ("trace-stream", "trace-ws") if s not in stimuli)
        opts = FlowOptions(**{**asdict(opts), "traces": str(trace_path), "traces_digest": digest,
                              "stimuli": stimuli})
    else:
        notes.append(f"Network operand traces ({trace_path}) not found: the trace-stream and "
                     f"trace-ws stimulus sets are skipped (run the network evaluation first).")
        opts = FlowOptions(**{**asdict(opts), "traces": None, "stimuli": stimuli})
    if designs is None:
        designs = []
        for cfg in configs:
            if quick:
                nd = cfg.ndigits
                designs += default_designs(
                    cfg, variants=variants or DEFAULT_VARIANTS,
                    static_levels=sorted({0, nd // 4, nd // 2}),
                    tam_levels=[cfg.p_width // 4, cfg.p_width // 2],
                    bam_levels=[(0, max(1, cfg.b_width // 4))])
            else:
                designs += default_designs(cfg, variants=variants or DEFAULT_VARIANTS)
        if not quick:
            designs += _decoder_designs()
    # Per operand configuration: the trace sets only where the traced operands fit its formats.
    cfg_opts = {}
    if opts.traces:
        from .stimuli import load_traces, traces_fit
        traces = load_traces(opts.traces)
        base = tuple(s for s in opts.stimuli if not s.startswith("trace-"))
        for d in designs:
            if d.cfg is None or d.cfg.tag() in cfg_opts:
                continue
            if traces_fit(traces, d.cfg):
                cfg_opts[d.cfg.tag()] = opts
            else:
                cfg_opts[d.cfg.tag()] = FlowOptions(**{**asdict(opts), "stimuli": base,
                                                       "traces": None, "traces_digest": ""})
                notes.append(f"The network traces do not fit {d.cfg.describe()} operands "
                             f"(e.g. unsigned activations above {d.cfg.a.max}): no trace stimuli "
                             f"for {d.cfg.tag()}.")
    cache_dir = out / "cache"
    log(f"qsq report: {len(designs)} designs, {opts.jobs} worker(s), {opts.ops} operations per "
        f"stimulus segment, stimuli {', '.join(opts.stimuli)}; cache {cache_dir}")
    t_start = time.perf_counter()
    results: dict[str, dict] = {}
    failures = []
    jobs = [(d, cfg_opts.get(d.cfg.tag() if d.cfg else None, opts), cache_dir) for d in designs]
    done = 0
    if opts.jobs == 1:
        it = (_worker(j) for j in jobs)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=opts.jobs, mp_context=multiprocessing.get_context("spawn"))
        it = (f.result() for f in as_completed([pool.submit(_worker, j) for j in jobs]))
    try:
        for design, res, err in it:
            done += 1
            el = time.perf_counter() - t_start
            if err:
                failures.append(f"{design.key}: {err}")
                log(f"[{done:3d}/{len(designs)}] {design.key:28s} FAILED {err.splitlines()[0]}")
                continue
            results[design.key] = res
            how = "cached" if res["cached"] else f"{res['seconds']:.1f} s"
            log(f"[{done:3d}/{len(designs)}] {design.key:28s} {how:>8s}   (elapsed {el:.0f} s)")
            sys.stdout.flush()
    finally:
        if pool is not None:
            pool.shutdown()
    elapsed = time.perf_counter() - t_start
    if failures:
        listing = Path(opts.out) / "failures.txt"
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text("\n".join(failures) + "\n")
        raise RuntimeError(f"{len(failures)} of {len(designs)} design(s) failed, the first: "
                           f"{failures[0].splitlines()[0]} (all of them: {listing})")
    from .tables import write_outputs
    index = write_outputs(designs, results, opts, out, notes, elapsed)
    log(f"qsq report: measured {len(designs)} designs in {elapsed:.1f} s "
        f"({sum(1 for r in results.values() if r['cached'])} from cache); wrote {index}")
    return index

