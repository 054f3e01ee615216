"""Parameters of the inference engine, validated once (the style of :mod:`golden_model.config`)."""

from __future__ import annotations

from dataclasses import dataclass

from golden_model.config import GATING_STYLES, check_int

__all__ = ["PE_STYLES", "RECODE_STYLES", "ENGINE_GATING", "PRODUCT_STYLES", "POWER_STYLES", "MAX_LANES",
           "FPGA_POWER", "WEIGHT_STORES", "EngineConfig"]

#: Processing-element styles: code-steered bucket adders, decoder + truncated-CSD multiplier (the
#: paper's dataflow), exact multipliers on INT8 weights (the baseline).
PE_STYLES = ("bucket", "multiplier", "int8")
#: Where the multiplier PE gets the CSD digits of a weight: recoded on every ``operation`` (decoder
#: -> ``csd_compact_multiplier``), or once per ``filter`` (the digits of ``S_f >> k`` for every
#: magnitude, held per lane and selected by the code: no recoder on the MAC path).
RECODE_STYLES = ("operation", "filter")
#: Gating of the processing elements' registers (``icg`` is an ASIC form; see README).
ENGINE_GATING = tuple(g for g in GATING_STYLES if g != "icg")
#: How the bucket PE forms the ``M`` products of an output: ``M`` truncated-CSD multipliers in the
#: post-processing unit (one lane per cycle), or one multiplier used ``M`` cycles per lane.
PRODUCT_STYLES = ("parallel", "serial")
#: Most output channels computed in parallel.
MAX_LANES = 64
#: ``lean``: the engine's energy follows its work (read ports read only the words used, pipeline
#: registers load only with valid data, operand isolation); ``fpga``: ``lean`` without the operand
#: isolation of the bucket adders -- on LUT fabric the isolating AND costs a LUT per adder bit
#: (an adder's carry-chain LUT has no input left for it), and clock enables are free there -- and
#: with the lanes' shift-chain hand-off instead of the result multiplexer
#: (:mod:`hw.engine.lanes`): what the FPGA flows build; ``baseline``: the engine as first built
#: (every read port reads every cycle, pipeline registers load every cycle), kept so the report
#: measures what the savings are worth.
POWER_STYLES = ("lean", "fpga", "baseline")
#: The power style of every FPGA build (resources, fmax, lane searches, bitstreams).
FPGA_POWER = "fpga"
#: Where the weight words live: ``rom`` -- a memory initialised with the compiled model (block RAM
#: on an FPGA, the bitstream holds the weights); ``spram`` -- a single-port memory with no initial
#: contents, written through the engine's ``weights`` stream before the first inference and
#: marked for the iCE40 UltraPlus's SPRAM (``ram_style = "huge"``): the bitstream holds no
#: weights, so models larger than the block RAMs fit.
WEIGHT_STORES = ("rom", "spram")


def _check_choice(name: str, value, allowed) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {allowed}, not {value!r}")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
    return value


@dataclass(frozen=True)
class EngineConfig:
    """How an engine is built; the model it runs is compiled separately (:mod:`hw.engine.program`).

    Parameters
    ----------
    lanes : int
        Output channels computed in parallel (1 .. :data:`MAX_LANES`) -- FINN's ``PE``. Every cycle
        one activation is broadcast to all lanes and each lane takes its own weight code from one
        memory word of ``lanes * code_bits`` bits.
    pe : {"bucket", "multiplier", "int8"}
        Processing-element style (:data:`PE_STYLES`).
    recode : {"operation", "filter"}
        Multiplier PE only: where the CSD digits come from (:data:`RECODE_STYLES`).
    gating : {"none", "enable"}
        How PE registers are clocked: ``none`` loads every cycle, ``enable`` through clock enables.
    products : {"parallel", "serial"}
        Bucket PE only: ``M`` post-processing multipliers, or one used ``M`` cycles per lane
        (:data:`PRODUCT_STYLES`).
    power : {"lean", "fpga", "baseline"}
        ``lean`` (default), ``fpga`` (lean without the bucket adders' operand isolation: the
        FPGA builds), or the engine as first built, for comparison (:data:`POWER_STYLES`).
    reuse : {1, 2}
        Output positions each weight word serves in the convolution layers: 1, or 2 -- two
        neighbouring positions of a row per tap (the weight-stationary pair), each lane holding
        two sets of accumulators and the activation memory a second read port.
    weights : {"rom", "spram"}
        Where the weights live (:data:`WEIGHT_STORES`); ``spram`` engines refuse pixels until
        every weight word has been written through their ``weights`` stream.
    """

    lanes: int = 16
    pe: str = "bucket"
    recode: str = "filter"
    gating: str = "enable"
    products: str = "parallel"
    power: str = "lean"
    reuse: int = 1
    weights: str = "rom"

    def __post_init__(self):
        check_int("lanes", self.lanes, 1, MAX_LANES)
        _check_choice("pe", self.pe, PE_STYLES)
        _check_choice("recode", self.recode, RECODE_STYLES)
        _check_choice("gating", self.gating, ENGINE_GATING)
        _check_choice("products", self.products, PRODUCT_STYLES)
        _check_choice("power", self.power, POWER_STYLES)
        if not isinstance(self.reuse, int) or isinstance(self.reuse, bool):
            raise TypeError(f"reuse must be 1 or 2, not {self.reuse!r}")
        if self.reuse not in (1, 2):
            raise ValueError(f"reuse must be 1 or 2, not {self.reuse!r}")
        _check_choice("weights", self.weights, WEIGHT_STORES)

    @property
    def fpga(self) -> bool:
        """The engine as the FPGA flows build it (``power == FPGA_POWER``): shift-chain hand-off,
        buckets sized to the network, DSP products and the FPGA pipelining (:mod:`hw.engine.top`)."""
        return self.power == FPGA_POWER

    def tag(self) -> str:
        """Short identifier for folder names, e.g. ``bucket_l16`` or ``multiplier-filter_l8``."""
        pe = f"{self.pe}-{self.recode}" if self.pe == "multiplier" else self.pe
        if self.pe == "bucket" and self.products != "parallel":
            pe += f"-{self.products}"
        gate = "" if self.gating == "enable" else f"_{self.gating}"
        power = "" if self.power == "lean" else f"_{self.power}"
        reuse = "" if self.reuse == 1 else f"_r{self.reuse}"
        store = "" if self.weights == "rom" else f"_{self.weights}"
        return f"{pe}_l{self.lanes}{gate}{power}{reuse}{store}"
