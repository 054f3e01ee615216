"""Compact truncated-CSD multiplier fed with CSD digits instead of a binary weight.

In the engine a weight is one of only ``M`` magnitudes per filter, ``S_f >> (M - m)``, so their CSD
digits can be formed once per filter (when a lane group starts) and selected by the code on every
operation. :class:`CSDDigitMultiplier` is :class:`hw.csd_compact.CSDCompactMultiplier` with the
recoder removed: the digits arrive on ``dpos``/``dneg`` (bit ``i`` set where digit ``i`` is +1 /
-1; non-adjacent form, as :func:`golden_model.csd.naf_masks` gives them), truncation, row gating,
pipeline and latency are the compact multiplier's.
"""

from __future__ import annotations

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib.wiring import In, Out

from golden_model.config import MultiplierConfig

from .._component import checking_parameters, trunc_width
from ..csd_compact import CSDCompactMultiplier

__all__ = ["CSDDigitMultiplier"]


class CSDDigitMultiplier(CSDCompactMultiplier):
    """Pipelined ``p = a * b_t`` from the CSD digits of ``b``, runtime truncation.

    Parameters
    ----------
    config : MultiplierConfig
        Operand formats; ``b`` is the (absent) weight whose digits arrive on ``dpos``/``dneg``.
    gating : {"none", "enable", "icg"}
        As :class:`~hw.csd_compact.CSDCompactMultiplier`.

    Members
    -------
    a : In(a_width)
    dpos, dneg : In(ndigits)
        Positive and negative digit masks (never both set at one position).
    trunc : In(ceil(log2(ndigits + 1)))
    in_valid : In(1)
    p : Out(a_width + b_width)
    out_valid : Out(1)

    Latency: :attr:`latency` = 2, like the compact multiplier.
    """

    def __init__(self, config: MultiplierConfig, gating: str = "enable"):
        with checking_parameters(self):
            self._check(config.a_width, config.a_signed, config.b_width, config.b_signed,
                        "runtime", gating, "xor")

        def shape(width, is_signed):
            return signed(width) if is_signed else unsigned(width)

        nd = self.config.ndigits
        super(CSDCompactMultiplier, self).__init__({
            "a": In(shape(config.a_width, config.a_signed)),
            "dpos": In(nd), "dneg": In(nd),
            "trunc": In(trunc_width(self.config)),
            "in_valid": In(1),
            "p": Out(shape(config.p_width, config.p_signed)),
            "out_valid": Out(1),
        })

    def _digits(self, m: Module):
        return self.dpos, self.dneg
