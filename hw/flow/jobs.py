"""The report sweep as independent jobs: one flow step of one design (and one placement seed).

Steps, and what each needs:

``generic``
    Verilog from the Amaranth module, generic gate-level synthesis (:func:`hw.flow.yosys.generic_synth`):
    area figures and the netlist.
``activity`` (needs ``generic``)
    Gate-level switching activity of that netlist under every stimulus set
    (:func:`hw.flow.activity.simulate_activity`), after checking its products.
``ice40`` (needs ``generic``, for the port list of the timing harness)
    ``synth_ice40`` of the design and of its timing harness (:func:`hw.flow.yosys.ice40_synth`).
``pnr`` (needs ``ice40``), once per placement seed
    nextpnr-ice40 on the harness netlist (:func:`hw.flow.yosys.ice40_pnr`).

A job is a plain function call, :func:`execute_job`, on picklable arguments, so the runner
(:mod:`hw.flow.runner`) can run it in this process or hand it to Dask. A job never raises: it
returns ``{"error": ...}``, and the jobs that need it return a "skipped" error.

Every result is cached in ``cache/`` under a key made of the SHA-256 of the design's Verilog, the
design parameters, :data:`~hw.flow.options.FLOW_VERSION`, the source of the flow modules that
produce numbers, and the options of that step (:data:`~hw.flow.options.STEP_FIELDS`); a
re-run with nothing changed only reads the cache. The inputs a later step needs (netlists) travel
inside the results, compressed, so jobs share no files and may run on other machines.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .designs import Design
from .options import FLOW_VERSION, FlowOptions

__all__ = ["Job", "STEPS", "plan_jobs", "execute_job"]

#: Flow steps in the order they depend on each other.
STEPS = ("generic", "activity", "ice40", "pnr")


@dataclass(frozen=True)
class Job:
    """One flow step of one design (``seed``: the placement seed of a ``pnr`` step; ``timeout``:
    its bound in seconds, None for ``opts.pnr_timeout``)."""

    step: str
    design: Design
    opts: FlowOptions
    seed: int | None = None
    timeout: float | None = None

    def __post_init__(self):
        if self.step not in STEPS:
            raise ValueError(f"step must be one of {', '.join(map(repr, STEPS))}, "
                             f"not {self.step!r}")

    @property
    def id(self) -> str:
        """Unique name, e.g. ``s8xs8-exact/pnr2``."""
        return f"{self.design.key}/{self.step}{'' if self.seed is None else self.seed}"

    @property
    def needs(self) -> tuple[str, ...]:
        """Ids of the jobs whose results this one takes as inputs."""
        key = self.design.key
        return {"generic": (), "activity": (f"{key}/generic",), "ice40": (f"{key}/generic",),
                "pnr": (f"{key}/ice40",)}[self.step]


def plan_jobs(designs: list[Design], opts_of) -> list[Job]:
    """Every job of the sweep, each after the jobs it needs.

    ``opts_of(design)`` gives the :class:`FlowOptions` of a design (they may differ per operand
    configuration, e.g. in the stimulus sets).
    """
    jobs = []
    for d in designs:
        o = opts_of(d)
        jobs.append(Job("generic", d, o))
        if o.activity and d.is_multiplier:
            jobs.append(Job("activity", d, o))
        # ICG designs are an ASIC style: iCE40 has no latches and synth_ice40 rejects them.
        if o.ice40 and d.p.get("gating") != "icg":
            jobs.append(Job("ice40", d, o))
            if o.pnr:
                jobs += [Job("pnr", d, o, s) for s in o.seeds]
    return jobs


# ---------------------------------------------------------------- execution (any process)
def execute_job(job: Job, cache_dir: str, work_dir: str, *inputs: dict) -> dict:
    """Run ``job`` (or read its cached result); ``inputs`` are the results of ``job.needs``.

    Returns a JSON-able dict with the step's figures, ``digest``, ``cached``, ``seconds``, or
    ``{"error": message}`` (with ``timed_out`` and ``bound`` when a tool ran into its bound and
    was stopped; such a result is not cached).
    """
    from .tools import ToolTimeout

    t0 = time.perf_counter()
    for inp in inputs:
        if "error" in inp:
            return {"job": job.id, "error": f"skipped: {inp['job']} failed", "skipped": True}
    try:
        res = _cached_or_run(job, Path(cache_dir), Path(work_dir), inputs)
    except ToolTimeout as exc:
        return {"job": job.id, "error": f"ToolTimeout: {exc}", "timed_out": True,
                "bound": exc.bound, "seed": job.seed}
    except Exception as exc:  # reported by the runner, with the job's name
        return {"job": job.id, "error": f"{type(exc).__name__}: {exc}"}
    res["job"] = job.id
    res["seconds"] = time.perf_counter() - t0
    return res


@lru_cache(maxsize=1)
def _flow_digest() -> str:
    """Hash of the flow steps that decide the numbers (scripts, simulation, parsing, stimuli)."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in ("yosys.py", "netlist.py", "activity.py", "vcd.py", "stimuli.py", "tools.py",
                 "jobs.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else json.dumps(p, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _cached_or_run(job: Job, cache_dir: Path, work_dir: Path, inputs) -> dict:
    d = job.design
    if job.step == "generic":
        verilog = d.verilog()
        base = _digest(verilog, [FLOW_VERSION, d.key, d.latency], _flow_digest())
    else:
        verilog, base = None, inputs[0]["base"]
    key = _digest(base, job.step, job.seed if job.seed is not None else "",
                  job.opts.key_fields(job.step))
    cache_file = cache_dir / f"{d.key}-{job.step}{'' if job.seed is None else job.seed}-{key}.json"
    if job.opts.use_cache and cache_file.exists():
        try:
            res = json.loads(cache_file.read_text())
            res["cached"] = True
            return res
        except json.JSONDecodeError:
            pass  # a corrupt cache entry is recomputed
    res = _RUN[job.step](job, work_dir / d.key, verilog, inputs)
    res["base"] = base
    _write_atomic(cache_file, json.dumps(res) + "\n")
    res["cached"] = False
    return res


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _pack(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()


def _unpack(blob: str) -> str:
    return gzip.decompress(base64.b64decode(blob)).decode()


def _generic(job, work, verilog, inputs) -> dict:
    from .yosys import generic_synth

    area, nl = generic_synth(verilog, job.design.top, work / "generic")
    return {"area": area, "latency": job.design.latency, "verilog": _pack(verilog),
            "netlist": _pack((work / "generic" / "netlist.json").read_text())}


def _netlist(job, generic: dict):
    from .netlist import load_netlist

    return load_netlist(json.loads(_unpack(generic["netlist"])), job.design.top)


def _activity(job, work, verilog, inputs) -> dict:
    from .activity import simulate_activity
    from .stimuli import design_segments

    d, o = job.design, job.opts
    segs = design_segments(d, o.stimuli, o.ops, o.seed, o.traces)
    return {"activity": simulate_activity(_netlist(job, inputs[0]), segs, work / "activity",
                                          d.latency)}


def _ice40(job, work, verilog, inputs) -> dict:
    from .yosys import ice40_synth

    d, generic = job.design, inputs[0]
    res = ice40_synth(_unpack(generic["verilog"]), d.top, _netlist(job, generic).ports,
                      work / "ice40", dsp=job.opts.dsp)
    return {"ice40": res, "harness": _pack((work / "ice40" / "harness.json").read_text())}


def _pnr(job, work, verilog, inputs) -> dict:
    from .yosys import ice40_pnr

    folder = work / f"pnr-seed{job.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    harness = folder / "harness.json"
    harness.write_text(_unpack(inputs[0]["harness"]))
    bound = job.opts.pnr_timeout if job.timeout is None else job.timeout
    t0 = time.perf_counter()
    try:
        res = ice40_pnr(folder, seed=job.seed, timeout=bound)
    finally:
        harness.unlink()        # the same netlist as ../ice40/harness.json: keep the work folder small
    return {"pnr": res, "seed": job.seed, "tool_seconds": time.perf_counter() - t0}


_RUN = {"generic": _generic, "activity": _activity, "ice40": _ice40, "pnr": _pnr}
