"""Helpers shared by the hardware components.

Amaranth warns about every elaboratable that is created but never elaborated. Two kinds of object
are legitimately never elaborated: one whose constructor rejected its parameters, and one built only
to read its properties (latency, rows, ports). :func:`checking_parameters` and :func:`not_elaborated`
say so, in one place that knows Amaranth's private flag. Also the port signature that every
multiplier (CSD, compact CSD, baselines) shares.
"""

from __future__ import annotations

from contextlib import contextmanager

from amaranth.hdl import signed, unsigned
from amaranth.lib.wiring import In, Out

from golden_model.config import MultiplierConfig


def not_elaborated(*components) -> None:
    """Mark components that are built only for their properties as not to be elaborated."""
    for c in components:
        c._MustUse__silence = True


@contextmanager
def checking_parameters(component):
    """Run a constructor's parameter checks; if one raises, the half-built object is not reported
    as an unused design, and the ``TypeError``/``ValueError`` propagates unchanged."""
    try:
        yield
    except (TypeError, ValueError):
        not_elaborated(component)
        raise


def first_row(truncation) -> int:
    """Lowest digit position that is built: 0 for runtime truncation, else the static level."""
    return 0 if truncation == "runtime" else truncation


def trunc_width(cfg: MultiplierConfig) -> int:
    """Width of the runtime ``trunc`` port: enough bits for 0 .. ``cfg.ndigits``."""
    return max(1, cfg.ndigits.bit_length())


def multiplier_ports(cfg: MultiplierConfig, truncation=0, *, pipelined: bool) -> dict:
    """Signature of every multiplier: ``a``, ``b``, ``trunc`` (runtime truncation only),
    ``in_valid`` (pipelined), ``p`` (``a_width + b_width`` bits, signed if either operand is),
    ``out_valid`` (pipelined)."""
    def shape(width, is_signed):
        return signed(width) if is_signed else unsigned(width)

    ports = {"a": In(shape(cfg.a_width, cfg.a_signed)), "b": In(shape(cfg.b_width, cfg.b_signed))}
    if truncation == "runtime":
        ports["trunc"] = In(trunc_width(cfg))
    if pipelined:
        ports["in_valid"] = In(1)
    ports["p"] = Out(shape(cfg.p_width, cfg.p_signed))
    if pipelined:
        ports["out_valid"] = Out(1)
    return ports
