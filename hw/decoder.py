"""Shift-and-scale weight decoder: ``lanes`` weight codes per cycle to signed weights.

The hardware computes exactly :func:`golden_model.codec.decode`: a code's MSB is the sign ``s``,
its low ``code_bits - 1`` bits the magnitude index ``m``; with ``M = 2**(code_bits - 1) - 1`` the
weight is 0 for ``m = 0`` and ``(-1)**s * (S >> (M - m))`` otherwise. Only constant shifts, a
multiplexer and a negation per lane; no multiplier.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden_model.config import CodecConfig, check_bool, check_int

from ._component import checking_parameters

__all__ = ["ShiftScaleDecoder", "MAX_LANES"]

#: Largest number of lanes (codes per cycle) accepted by the generator.
MAX_LANES = 64


class ShiftScaleDecoder(wiring.Component):
    """Decode ``lanes`` packed weight codes and a per-filter scale into signed weights.

    Parameters
    ----------
    code_bits : int
        Bits per code: 2, 3 or 4 (sign + ``code_bits - 1`` index bits).
    scale_bits : int
        Width of the unsigned per-filter scale, 1 to 15.
    lanes : int
        Codes decoded per cycle, 1 to :data:`MAX_LANES`.
    registered : bool
        Add an output register (with ``in_valid``/``out_valid``); otherwise purely combinational.

    Members
    -------
    codes : In(ArrayLayout(unsigned(code_bits), lanes))
        Packed codes, ``lanes * code_bits`` bits: lane ``j`` at bits
        ``[j*code_bits, (j+1)*code_bits)``, exactly :func:`golden_model.codec.pack_codes`.
        ``codes[j]`` is lane ``j``.
    scale : In(scale_bits)
        The filter scale ``S`` (the golden model requires ``S >= 1``; ``S = 0`` decodes to 0).
    weights : Out(ArrayLayout(signed(scale_bits + 1), lanes))
        Decoded weights; ``weights[j]`` is lane ``j`` (bits ``[j*(scale_bits+1), (j+1)*(scale_bits+1))``
        of the flat Verilog port).
    in_valid : In(1)
        Only if ``registered``: the inputs are valid this cycle.
    out_valid : Out(1)
        Only if ``registered``: ``in_valid`` delayed by one cycle; 0 after reset.

    Raises
    ------
    TypeError, ValueError
        For invalid parameters.

    Notes
    -----
    :attr:`latency` is 0 (combinational) or 1 (``registered``: the weight register loads when
    ``in_valid`` is high and holds otherwise). Throughput ``lanes`` codes per cycle.
    """

    def __init__(self, code_bits: int = 3, scale_bits: int = 7, lanes: int = 1,
                 registered: bool = False):
        with checking_parameters(self):
            self.config = CodecConfig(code_bits, scale_bits)
            self.lanes = check_int("lanes", lanes, 1, MAX_LANES)
            self.registered = check_bool("registered", registered)
        ports = {
            "codes": In(data.ArrayLayout(unsigned(code_bits), self.lanes)),
            "scale": In(unsigned(scale_bits)),
            "weights": Out(data.ArrayLayout(signed(self.config.weight_width), self.lanes)),
        }
        if self.registered:
            ports["in_valid"] = In(1)
            ports["out_valid"] = Out(1)
        super().__init__(ports)

    @property
    def latency(self) -> int:
        """Cycles from input to output: 1 if ``registered`` else 0."""
        return 1 if self.registered else 0

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        big_m = cfg.max_index
        for j in range(self.lanes):
            code = self.codes[j]
            sign = code[cfg.code_bits - 1]
            index = code[:cfg.code_bits - 1]
            mag = Signal(unsigned(cfg.scale_bits), name=f"lane{j}_mag")
            with m.Switch(index):
                for k in range(1, big_m + 1):
                    with m.Case(k):
                        m.d.comb += mag.eq(self.scale >> (big_m - k))
                with m.Default():
                    m.d.comb += mag.eq(0)
            weight = Signal(signed(cfg.weight_width), name=f"lane{j}_weight")
            m.d.comb += weight.eq(Mux(sign, -mag, mag))
            if self.registered:
                with m.If(self.in_valid):
                    m.d.sync += self.weights[j].eq(weight)
            else:
                m.d.comb += self.weights[j].eq(weight)
        if self.registered:
            m.d.sync += self.out_valid.eq(self.in_valid)
        return m
