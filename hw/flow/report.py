"""``make report``: measure every design of the sweep and write ``build/report/``.

1. Check every input (options, trace archive, tools) before any work starts.
2. Split the sweep into independent jobs (:mod:`hw.flow.jobs`): per design, generic synthesis,
   gate-level activity, iCE40 synthesis, and nextpnr once per placement seed.
3. Run them (:mod:`hw.flow.runner`): on a Dask ``LocalCluster`` by default, on a Dask cluster
   given by its scheduler address, or serially in this process; results are cached per job.
4. Time the two VCD readers on some of this run's waves (:mod:`hw.flow.vcd`).
5. Tables, plots and ``index.md`` (:mod:`hw.flow.tables`, :mod:`hw.flow.plots`).
"""

from __future__ import annotations

import hashlib
import statistics
import time
from pathlib import Path

from golden_model.config import MultiplierConfig, check_int
from golden_model.fileio import atomic_write_text

from .designs import DEFAULT_VARIANTS, VARIANTS, Design, default_designs
from .options import FLOW_VERSION, MIN_PNR_SEEDS, FlowOptions, parse_config_tag
from .text import POWER_PROXY_DOC, num

__all__ = ["FlowOptions", "parse_config_tag", "run_report", "FLOW_VERSION", "POWER_PROXY_DOC",
           "validate", "plan", "work_folder_text", "compare_vcd_readers", "stopped_notes"]

TRACE_STIMULI = ("trace-stream", "trace-ws")


def _decoder_designs() -> list[Design]:
    return [Design("decoder", None, (("code_bits", 3), ("scale_bits", 7), ("lanes", lanes),
                                     ("registered", True)))
            for lanes in (1, 4)]


def sweep_designs(configs: list[MultiplierConfig], *, quick: bool = False,
                  variants=None) -> list[Design]:
    """The designs of the default sweep (``quick``: a few levels per family, no decoder)."""
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
    return designs


# ---------------------------------------------------------------- inputs, checked first
def validate(opts: FlowOptions, designs: list[Design]) -> tuple[FlowOptions, dict, list[str]]:
    """Check every input before any work; return (options, options per configuration, notes).

    The trace archive: an explicit ``opts.traces`` must exist and be a trace archive; without
    one, the default ``build/eval/traces.npz`` is used when it exists. Trace stimuli named in
    ``opts.stimuli`` need an archive.

    Raises
    ------
    ValueError
        For a bad option value, a missing or corrupt trace archive, or trace stimuli without one.
    ToolError
        If a tool the run needs is missing.
    """
    from .runner import check_scheduler_address
    from .stimuli import STIMULI, TRACES_PATH, load_traces, traces_fit
    from .tools import find_tool

    check_int("--ops", opts.ops, 16, 1_000_000)
    check_int("--seed", opts.seed, 0, 2**31 - 1)
    check_int("--jobs", opts.jobs, 1, 256)
    check_int("--pnr-seeds", opts.pnr_seeds, MIN_PNR_SEEDS, 64)
    if (isinstance(opts.pnr_timeout, bool) or not isinstance(opts.pnr_timeout, (int, float))
            or not 1 <= opts.pnr_timeout <= 7200):
        raise ValueError(f"--pnr-timeout must be a number of seconds in [1, 7200], "
                         f"not {opts.pnr_timeout!r}")
    for s in opts.stimuli:
        if s not in STIMULI + TRACE_STIMULI:
            raise ValueError(f"--stimuli must name sets among "
                             f"{', '.join(STIMULI + TRACE_STIMULI)}, not {s!r}")
    if opts.scheduler is not None:
        check_scheduler_address(opts.scheduler)
    if not designs:
        raise ValueError("the sweep has no designs")
    # tools, before anything runs
    find_tool("yosys")
    if opts.ice40 and opts.pnr:
        find_tool("nextpnr-ice40")
    if opts.activity and any(d.is_multiplier for d in designs):
        find_tool("iverilog")
        find_tool("vvp")
    # traces
    notes = []
    explicit = opts.traces is not None
    path = Path(opts.traces) if explicit else TRACES_PATH
    wanted = [s for s in opts.stimuli if s in TRACE_STIMULI]
    traces = None
    if path.is_file():
        traces = load_traces(path)          # a corrupt archive is an error here, not later
    elif explicit:
        raise ValueError(f"--traces: {path} does not exist (write it with `qsq evaluate`, or "
                         f"leave --traces out to skip the trace stimuli)")
    elif wanted:
        raise ValueError(f"--stimuli {','.join(wanted)} needs the network traces, but {path} "
                         f"does not exist (write it with `qsq evaluate`, or give --traces PATH)")
    elif opts.activity:
        notes.append(f"Network operand traces ({path}) not found: the trace-stream and trace-ws "
                     f"stimulus sets are skipped (run `qsq evaluate` first).")
    if traces is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        stimuli = tuple(opts.stimuli) + tuple(s for s in TRACE_STIMULI if s not in opts.stimuli)
        opts = opts.with_(traces=str(path), traces_digest=digest, stimuli=stimuli)
    else:
        opts = opts.with_(traces=None, traces_digest="")
    # per operand configuration: the trace sets only where the traced operands fit its formats
    per_cfg = {}
    base = tuple(s for s in opts.stimuli if s not in TRACE_STIMULI)
    for d in designs:
        if d.cfg is None or d.cfg.tag() in per_cfg:
            continue
        if traces is None or traces_fit(traces, d.cfg):
            per_cfg[d.cfg.tag()] = opts
            continue
        if wanted:
            raise ValueError(f"--stimuli {','.join(wanted)}: the network traces in {path} do not "
                             f"fit {d.cfg.describe()} operands")
        per_cfg[d.cfg.tag()] = opts.with_(stimuli=base, traces=None, traces_digest="")
        notes.append(f"The network traces do not fit {d.cfg.describe()} operands "
                     f"(e.g. unsigned activations above {d.cfg.a.max}): no trace stimuli "
                     f"for {d.cfg.tag()}.")
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o/--out must be a folder, not the file {str(out)!r}")
    return opts, per_cfg, notes


def plan(designs: list[Design], opts: FlowOptions, per_cfg: dict):
    """The jobs of the sweep (see :func:`hw.flow.jobs.plan_jobs`)."""
    from .jobs import plan_jobs

    return plan_jobs(designs, lambda d: per_cfg.get(d.cfg.tag(), opts) if d.cfg else opts)


# ---------------------------------------------------------------- after the sweep
def _assemble(designs, jobs, results) -> tuple[dict, list[str]]:
    """Per design: area, iCE40 figures (fmax median and range over the seeds that finished,
    ``fmax_seeds``; ``pnr_stopped``: the runs stopped at their bound), activity.

    A stopped place-and-route run is not a failure."""
    per: dict[str, dict] = {d.key: {"key": d.key, "cached": True, "seconds": 0.0}
                            for d in designs}
    failures, fmax = [], {}
    for job in jobs:
        r = results[job.id]
        out = per[job.design.key]
        if r.get("timed_out"):
            out.setdefault("ice40", {}).setdefault("pnr_stopped", []).append(
                {"seed": job.seed, "bound_s": r["bound"], "replaced_by": r.get("replaced_by")})
            continue
        if "error" in r:
            if not r.get("skipped"):
                failures.append(f"{job.id}: {r['error']}")
            continue
        out["cached"] = out["cached"] and r.get("cached", False)
        out["seconds"] += r.get("seconds", 0.0)
        if job.step == "generic":
            out["area"], out["latency"] = r["area"], r["latency"]
        elif job.step == "activity":
            out["activity"] = r["activity"]
        elif job.step == "ice40":
            out.setdefault("ice40", {}).update(r["ice40"])
        else:
            fmax.setdefault(job.design.key, []).append((r["seed"], r["pnr"]))
    for key, runs in fmax.items():
        runs.sort()
        f = [p["fmax_mhz"] for _, p in runs]
        per[key]["ice40"].update({"fmax_mhz": statistics.median(f), "fmax_min": min(f),
                                  "fmax_max": max(f), "fmax_seeds": f,
                                  "lc_used": runs[0][1]["lc_used"]})
    return per, failures


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def stopped_notes(per: dict) -> list[str]:
    """One line per place-and-route run stopped at its bound (for the report's notes)."""
    out = []
    for key, r in per.items():
        for st in r.get("ice40", {}).get("pnr_stopped", ()):
            out.append(f"nextpnr seed {st['seed']} of {key} did not finish within its bound of "
                       f"{st['bound_s']:.0f} s and was stopped; "
                       + (f"replaced by {st['replaced_by']}." if st["replaced_by"] else
                          "no replacement seed was left: its fmax is the median over "
                          f"{len(r['ice40'].get('fmax_seeds', []))} seed(s)."))
    return out


def work_folder_text(work: Path, cache: Path) -> str:
    """One sentence: where the work and cache folders are and how big they are."""
    return (f"Work folder `{work}`: {num(_size(work) / 1e6)} MB of intermediate files (Verilog, "
            f"netlists, logs and waves of every design, kept for inspection); cache `{cache}`: "
            f"{num(_size(cache) / 1e6)} MB. `make clean` removes both (they are under `build/`); "
            f"so does deleting the folders.")


def compare_vcd_readers(paths: list[Path], scope: str = "u") -> dict | None:
    """Time the two VCD readers on ``paths``; check they count the same toggles.

    Returns
    -------
    dict or None
        ``files``, ``mbytes``, ``python_s``, ``wellen_s``, ``ratio`` (wellen time / python
        time) and ``used`` (the reader the flow uses); None without files.

    Raises
    ------
    RuntimeError
        If the readers disagree on any count.
    """
    from .vcd import count_toggles

    paths = [Path(p) for p in paths]
    if not paths:
        return None
    times = {"python": 0.0, "wellen": 0.0}
    for p in paths:
        got = {}
        for reader in ("python", "wellen"):
            t0 = time.perf_counter()
            got[reader] = count_toggles(p, scope=scope, bounds=(), reader=reader)
            times[reader] += time.perf_counter() - t0
        if got["python"] != got["wellen"]:
            raise RuntimeError(f"the VCD readers disagree on {p}")
    return {"files": len(paths), "mbytes": sum(p.stat().st_size for p in paths) / 1e6,
            "python_s": times["python"], "wellen_s": times["wellen"],
            "ratio": times["wellen"] / times["python"] if times["python"] else float("nan"),
            "used": "pywellen"}


def _median_waves(work: Path, designs, n: int = 3) -> list[Path]:
    """``n`` of this run's activity waves around the median size (representative, not the
    longest runtime-design waves, which would make the timing itself slow)."""
    waves = sorted((p for d in designs for p in [work / d.key / "activity" / "activity.vcd"]
                    if p.is_file()), key=lambda p: (p.stat().st_size, str(p)))
    if len(waves) <= n:
        return waves
    mid = len(waves) // 2
    lo = max(0, mid - n // 2)
    return waves[lo:lo + n]


# ---------------------------------------------------------------- the report
def run_report(configs: list[MultiplierConfig], opts: FlowOptions, *, quick: bool = False,
               designs: list[Design] | None = None, variants=None, budgets=None, log=print,
               progress_bar: bool | None = None) -> Path:
    """Measure the sweep and write ``opts.out``; return the path of ``index.md``.

    Raises
    ------
    ValueError, ToolError
        For bad inputs (:func:`validate`), before any work.
    RuntimeError
        If any job fails; the message names the first failure and the file listing all of them
        (the other results are cached).
    """
    from .plots import write_plots
    from .runner import Progress, run_jobs
    from .tables import DEFAULT_BUDGETS, ReportData, write_outputs

    for v in variants or ():
        if v not in VARIANTS:
            raise ValueError(f"--variants must name variants among {', '.join(VARIANTS)}, "
                             f"not {v!r}")
    budgets = tuple(DEFAULT_BUDGETS if budgets is None else budgets)
    for b in budgets:
        if not (isinstance(b, (int, float)) and 0 <= b <= 1):
            raise ValueError(f"--budgets must be MRED values in [0, 1], not {b!r}")
    if designs is None:
        designs = sweep_designs(configs, quick=quick, variants=variants)
    opts, per_cfg, notes = validate(opts, designs)
    jobs = plan(designs, opts, per_cfg)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    cache_dir, work_dir = out / "cache", out / "work"
    how = ("serially in this process" if opts.serial else
           f"on the Dask scheduler at {opts.scheduler}" if opts.scheduler else
           f"on a Dask LocalCluster of {opts.jobs} worker process(es)")
    counts = {s: sum(1 for j in jobs if j.step == s) for s in ("generic", "activity", "ice40", "pnr")}
    log(f"qsq report: {len(designs)} designs, {len(jobs)} jobs ("
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + f") {how}; "
        f"{opts.ops} operations per stimulus segment, stimuli {', '.join(opts.stimuli)}; "
        f"work folder {work_dir}, cache {cache_dir}")
    t_start = time.perf_counter()
    progress = Progress(len(jobs), log=log, bar=progress_bar)
    try:
        results = run_jobs(jobs, opts, cache_dir, work_dir, progress)
    finally:
        progress.close()
    elapsed = time.perf_counter() - t_start
    per, failures = _assemble(designs, jobs, results)
    notes = notes + stopped_notes(per)
    if failures:
        listing = out / "failures.txt"
        atomic_write_text(listing, "\n".join(failures) + "\n")
        raise RuntimeError(f"{len(failures)} of {len(jobs)} job(s) failed, the first: "
                           f"{failures[0].splitlines()[0]} (all of them: {listing})")
    vcd = compare_vcd_readers(_median_waves(work_dir, designs)) if opts.activity else None
    work_text = work_folder_text(work_dir, cache_dir)
    n_cached = sum(1 for j in jobs if results[j.id].get("cached"))
    sweep = (f"{len(jobs)} jobs ({n_cached} from the cache) ran {how} in {elapsed:.1f} s. "
             f"`make report` also times a fixed sub-sweep serially and on the LocalCluster "
             f"(`python -m hw.flow.bench`).")
    data = ReportData(designs, per, opts, notes,
                      {"elapsed": elapsed, "vcd": vcd, "sweep": sweep, "work": work_text,
                       "budgets": budgets, "quick": quick})
    index = write_outputs(data, out, write_plots(data, out))
    log(f"qsq report: {len(jobs)} jobs in {elapsed:.1f} s ({n_cached} from the cache); "
        f"wrote {index}")
    log(f"qsq report: {work_text}")
    return index
