"""Parameters of a report run: what is measured (:class:`FlowOptions`) and the operand configurations.

Every module of the flow reads its parameters from here, so the CLI, the job runner, the tables and
the tests share one definition (and no module of the flow imports another in a cycle).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

from golden_model.config import MultiplierConfig

__all__ = ["FlowOptions", "FLOW_VERSION", "parse_config_tag", "STEP_FIELDS", "MIN_PNR_SEEDS",
           "pnr_bound", "PNR_FLOOR_S", "PNR_FACTOR", "PNR_CAP_S"]

#: Bumped whenever a change to the flow changes its numbers (invalidates the cache).
FLOW_VERSION = 4

#: fmax is the median over at least this many nextpnr placement seeds.
MIN_PNR_SEEDS = 3

#: A nextpnr run is stopped, and replaced by the next seed, after
#: ``min(cap, max(PNR_FLOOR_S, PNR_FACTOR * median))`` seconds, where ``median`` is the median
#: nextpnr time of the seeds of the same netlist that had finished when it started (the cap alone
#: when none had): see :func:`pnr_bound`.
PNR_FLOOR_S = 60.0
PNR_FACTOR = 5.0
#: The cap of the multiplier report's timing harnesses (a few hundred cells each: seconds per seed).
PNR_CAP_S = 180.0


def pnr_bound(finished_seconds, cap: float) -> float:
    """Seconds a nextpnr run may take before it is stopped and replaced by the next seed.

    Parameters
    ----------
    finished_seconds : iterable of float
        nextpnr times of the seeds of the same netlist that have finished.
    cap : float
        The largest bound (:data:`PNR_CAP_S` for the multiplier harnesses).
    """
    import statistics

    done = [float(t) for t in finished_seconds]
    if not done:
        return float(cap)
    return min(float(cap), max(PNR_FLOOR_S, PNR_FACTOR * statistics.median(done)))


#: The options each flow step depends on (they enter that step's cache key).
STEP_FIELDS = {
    "generic": (),
    "activity": ("ops", "seed", "stimuli", "traces_digest"),
    "ice40": ("dsp",),
    "pnr": ("dsp",),
}


@dataclass(frozen=True)
class FlowOptions:
    """Parameters of a report run.

    Parameters
    ----------
    ops : int
        Operations per stimulus segment in the activity simulation.
    seed : int
        Stimulus seed; the nextpnr seeds are ``seed, seed + 1, ...``.
    pnr_seeds : int
        Number of nextpnr placement seeds (at least :data:`MIN_PNR_SEEDS`); fmax is their median.
    stimuli : tuple of str
        Stimulus sets (:data:`hw.flow.stimuli.STIMULI`, plus the trace sets).
    pnr, ice40, activity, dsp : bool
        Which steps run (``dsp``: let ``synth_ice40`` use the UP5K DSP blocks).
    traces : str or None
        Trace archive to use; None when there is none.
    traces_digest : str
        SHA-256 prefix of the trace archive (enters the activity cache key).
    out : str
        Output folder (``index.md``, tables, plots; ``cache/`` and ``work/`` inside it).
    use_cache : bool
        Read results of unchanged steps from ``out/cache``.
    serial : bool
        Run every job in this process, one after another (no Dask).
    jobs : int
        Worker processes of the Dask ``LocalCluster`` (when ``serial`` is false and no
        ``scheduler`` is given).
    scheduler : str or None
        Address of a running Dask scheduler to use instead of a ``LocalCluster``.
    pnr_timeout : float
        Cap in seconds of one nextpnr run (:func:`pnr_bound`); a run stopped at its bound is
        replaced by the next seed, at most ``pnr_seeds`` times per design.
    """

    ops: int = 1000
    seed: int = 1
    pnr_seeds: int = MIN_PNR_SEEDS
    stimuli: tuple = ("uniform", "stream", "ws")
    pnr: bool = True
    ice40: bool = True
    activity: bool = True
    dsp: bool = False
    traces: str | None = None
    traces_digest: str = ""
    out: str = "build/report"
    use_cache: bool = True
    serial: bool = False
    jobs: int = 2
    scheduler: str | None = None
    pnr_timeout: float = PNR_CAP_S

    def key_fields(self, step: str | None = None) -> dict:
        """The options that decide the numbers (of one ``step``, or of the whole run)."""
        d = asdict(self)
        if step is not None:
            return {k: d[k] for k in STEP_FIELDS[step]}
        return {k: d[k] for k in ("ops", "seed", "pnr_seeds", "stimuli", "pnr", "ice40",
                                  "activity", "dsp", "traces_digest")}

    def with_(self, **changes) -> "FlowOptions":
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    @property
    def seeds(self) -> tuple[int, ...]:
        """The nextpnr placement seeds."""
        return tuple(self.seed + i for i in range(self.pnr_seeds))


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
