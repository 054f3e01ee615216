"""The engine designs the report measures: PE styles, boards, lane searches, energy settings.

One :class:`EngineDesign` is one engine (workload, :class:`~hw.engine.config.EngineConfig`) and
knows its program, Verilog, cycle counts and weight bits, so a report row never re-types a
parameter. :class:`EngineOptions` holds what the engine part of ``qsq report`` measures.

PE styles (:data:`STYLES`): ``bucket`` (parallel products), ``bucket-serial``,
``multiplier-filter``, ``multiplier-operation`` and ``int8``; on the FPGAs the INT8 engine is
built twice, with the hard multipliers and LUT-only (:data:`hw.flow.engine_report.FPGA_STYLES`).

Boards (:data:`BOARDS`): ``up5k`` -- iCE40 UP5K (iCEBreaker), SG48 package, 5,280 logic cells,
30 EBR (4 kbit), 4 SPRAM (256 kbit), 8 DSP (SB_MAC16); ``ecp5`` -- the ULX3S's ECP5 (LFE5U-85F by
default, :attr:`EngineOptions.ecp5_device`), CABGA381.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

from golden_model.config import check_int

__all__ = ["STYLES", "BOARDS", "ECP5_DEVICES", "EngineDesign", "EngineOptions",
           "style_config", "useful_lanes", "TARGET_LUT4"]

#: PE style -> EngineConfig fields (``lanes`` apart).
STYLES = {
    "bucket": {"pe": "bucket", "products": "parallel"},
    "bucket-serial": {"pe": "bucket", "products": "serial"},
    "multiplier-filter": {"pe": "multiplier", "recode": "filter"},
    "multiplier-operation": {"pe": "multiplier", "recode": "operation"},
    "int8": {"pe": "int8"},
}

#: Board -> device facts used by the fit search and the tables.
BOARDS = {
    "up5k": {"name": "iCE40 UP5K (iCEBreaker)", "arch": "ice40",
             "capacity": {"ICESTORM_LC": 5280, "ICESTORM_RAM": 30, "ICESTORM_SPRAM": 4,
                          "ICESTORM_DSP": 8}},
    "ecp5": {"name": "ECP5 (ULX3S)", "arch": "ecp5", "capacity": {}},
}

#: ECP5 parts of the ULX3S -> nextpnr-ecp5 device option.
ECP5_DEVICES = {"12k": "--12k", "25k": "--25k", "45k": "--45k", "85k": "--85k"}

#: The footprint target on the UP5K (the vendor's binary-weight CNN IP), LUT4.
TARGET_LUT4 = 2500
#: Memories of at most this many words are register files in the energy flow (flip-flops).
REGFILE_WORDS = 16


def style_config(style: str, lanes: int, gating: str = "enable", power: str = "lean",
                 reuse: int = 1):
    """The :class:`~hw.engine.config.EngineConfig` of PE style ``style`` with ``lanes`` lanes.

    Raises
    ------
    ValueError
        For an unknown style (or an invalid lane count, from ``EngineConfig``).
    """
    from hw.engine.config import EngineConfig

    if style not in STYLES:
        raise ValueError(f"engine style must be one of {', '.join(STYLES)}, not {style!r}")
    return EngineConfig(lanes=lanes, gating=gating, power=power, reuse=reuse, **STYLES[style])


@dataclass(frozen=True)
class EngineDesign:
    """One engine: ``workload`` compiled for PE style ``style`` with ``lanes`` lanes.

    ``power``: ``lean`` (default) or ``baseline``, the engine as first built
    (:data:`hw.engine.config.POWER_STYLES`); ``reuse``: output positions per weight word in the
    convolutions (1 or 2).
    """

    workload: str
    style: str
    lanes: int
    power: str = "lean"
    reuse: int = 1
    _cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self):
        style_config(self.style, self.lanes, power=self.power, reuse=self.reuse)

    @property
    def key(self) -> str:
        """File-name-safe identifier, e.g. ``digits-bucket-l16`` (``-baseline`` appended for the
        baseline power style)."""
        tail = "" if self.power == "lean" else f"-{self.power}"
        tail += "" if self.reuse == 1 else f"-r{self.reuse}"
        return f"{self.workload}-{self.style}-l{self.lanes}{tail}"

    @property
    def pe(self) -> str:
        return STYLES[self.style]["pe"]

    @property
    def config(self):
        return style_config(self.style, self.lanes, power=self.power, reuse=self.reuse)

    def program(self):
        if "program" not in self._cache:
            from hw.engine.program import compile_program
            from hw.engine.workloads import workload

            self._cache["program"] = compile_program(workload(self.workload).model(self.pe),
                                                     self.config)
        return self._cache["program"]

    def timing(self) -> dict:
        if "timing" not in self._cache:
            from hw.engine.top import engine_timing

            self._cache["timing"] = engine_timing(self.program())
        return self._cache["timing"]

    def verilog(self) -> str:
        from hw.engine.compile import engine_verilog

        return engine_verilog(self.program())

    @property
    def compute_cycles(self) -> int:
        from hw.engine.schedule import compute_cycles

        return compute_cycles(self.program(), self.timing())

    @property
    def inference_cycles(self) -> int:
        """Cycles of one inference with streams that never stall (pixels, compute, logits)."""
        from hw.engine.schedule import inference_cycles

        return inference_cycles(self.program(), self.timing())

    def memory_bits(self) -> dict:
        return self.program().memory_bits()

    def traffic(self) -> dict:
        """Predicted memory accesses per inference (:func:`hw.engine.schedule.memory_traffic`)."""
        from hw.engine.schedule import memory_traffic

        return memory_traffic(self.program(), self.timing())

    def regfiles(self) -> list[str]:
        """Memories built from flip-flops in the energy flow: at most :data:`REGFILE_WORDS` words
        (the descriptor and logit stores; a standard-cell flow builds those as a register file)."""
        if self.power != "lean":
            return []       # the engine as first built was measured with every memory an SRAM
        depth = {"desc_mem": len(self.program().layers), "logit_mem": self.program().classes}
        return sorted(name for name, n in depth.items() if n <= REGFILE_WORDS)

    def int8_weight_bits(self) -> int:
        """Weight-memory bits of the INT8 engine with the same lanes and workload."""
        return EngineDesign(self.workload, "int8", self.lanes).memory_bits()["weights"]


@lru_cache(maxsize=None)
def _cycles(workload: str, style: str, lanes: int) -> int:
    return EngineDesign(workload, style, lanes).inference_cycles


def useful_lanes(workload: str, style: str, cap: int | None = None) -> list[int]:
    """Lane counts worth building: those with fewer cycles per inference than every smaller count.

    More lanes than the widest layer has filters, or a count that leaves the number of filter
    groups of every layer unchanged, only adds idle lanes; the lane search (largest count that
    fits a board) runs over this list.
    """
    from hw.engine.config import MAX_LANES

    cap = MAX_LANES if cap is None else cap
    out, best = [], None
    for lanes in range(1, cap + 1):
        c = _cycles(workload, style, lanes)
        if best is None or c < best:
            out.append(lanes)
            best = c
    return out


@dataclass(frozen=True)
class EngineOptions:
    """What the engine part of ``qsq report`` measures.

    Parameters
    ----------
    enabled : bool
        Measure the engines at all.
    workload : str
        The network of the energy runs and the resource tables (default ``digits``).
    lanes : int
        Lanes of the energy runs (and the reference point of the lane searches).
    images : int
        Test images per truncation setting in the gate-level energy runs (the first ones of the
        test split).
    levels : tuple
        Uniform truncation levels of the energy runs (0 .. the multiplier's digit count); the
        evaluation's recommended per-layer levels are added.
    boards : tuple of str
        Boards of the resource tables (:data:`BOARDS`).
    ecp5_device : str
        ULX3S ECP5 part (:data:`ECP5_DEVICES`).
    energy : bool
        Run the gate-level energy simulations.
    lenet5 : bool
        Check whether a LeNet-5 (28 x 28) engine fits the UP5K.
    mem_pj_per_bit, mul8_pj : float
        Energy per bit read from an 8 KB SRAM and per 8-bit multiply (45 nm figures of
        M. Horowitz, ISSCC 2014: 10 pJ per 64-bit read of an 8 KB SRAM, 0.2 pJ per 8-bit integer
        multiply); their ratio, times the measured power proxy of an exact 8 x 8 multiplier, is
        the memory term's weight per bit (see :func:`hw.flow.engine_report.mem_bit_weight`).
    mem_model : {"sqrt", "flat"}
        Per-bit SRAM energy growing as the square root of the memory's size (``mem_ref_bits``
        costs ``mem_pj_per_bit``), or the same for every memory.
    mem_ref_bits : int
        The size the per-bit figure is quoted for (8 KB).
    styles : tuple of str
        PE styles of the energy runs (``--pe``).
    baseline : bool
        Also measure every PE style as first built (``power="baseline"``, exact), for the
        before/after table.
    reuse : bool
        Also measure every PE style with weight reuse (``reuse=2``, exact).
    """

    enabled: bool = True
    workload: str = "digits"
    lanes: int = 16
    images: int = 16
    levels: tuple = (0, 2, 4)
    boards: tuple = ("up5k", "ecp5")
    ecp5_device: str = "85k"
    energy: bool = True
    lenet5: bool = True
    mem_pj_per_bit: float = 10.0 / 64
    mul8_pj: float = 0.2
    mem_model: str = "sqrt"
    mem_ref_bits: int = 8 * 1024 * 8
    styles: tuple = ("bucket", "multiplier-filter", "int8")
    baseline: bool = True
    reuse: bool = True

    def __post_init__(self):
        from hw.engine.config import MAX_LANES
        from hw.engine.workloads import WORKLOADS

        if self.workload not in WORKLOADS:
            raise ValueError(f"--engine-workload must be one of {', '.join(WORKLOADS)}, "
                             f"not {self.workload!r}")
        check_int("--engine-lanes", self.lanes, 1, MAX_LANES)
        check_int("--engine-images", self.images, 1, 10_000)
        for b in self.boards:
            if b not in BOARDS:
                raise ValueError(f"--engine-boards must name boards among {', '.join(BOARDS)}, "
                                 f"not {b!r}")
        if self.ecp5_device not in ECP5_DEVICES:
            raise ValueError(f"--ecp5-device must be one of {', '.join(ECP5_DEVICES)}, "
                             f"not {self.ecp5_device!r}")
        if not self.levels:
            raise ValueError(f"--engine-levels must name at least one level, not {self.levels!r}")
        for t in self.levels:
            check_int("--engine-levels", t, 0, 64)
        if self.mem_model not in ("sqrt", "flat"):
            raise ValueError(f"mem_model must be 'sqrt' or 'flat', not {self.mem_model!r}")
        if not self.styles:
            raise ValueError(f"--pe must name at least one PE style, not {self.styles!r}")
        for st in self.styles:
            if st not in STYLES:
                raise ValueError(f"--pe must name PE styles among {', '.join(STYLES)}, "
                                 f"not {st!r}")

    def with_(self, **changes) -> "EngineOptions":
        return replace(self, **changes)
