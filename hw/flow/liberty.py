"""A Liberty (``.lib``) reader for what the ASIC flow needs: area, leakage, pin capacitances and
internal-power tables of a standard-cell library.

The grammar read is the subset the OSU 0.18 um library uses (and most open libraries): groups
``name (args) { ... }``, simple attributes ``name : value ;`` and complex attributes
``name (v, v, ...) ;``, with ``/* */`` comments and backslash line continuations. Timing arcs are
skipped: delays come from OpenSTA, which reads the same file.

Power tables are evaluated the way OpenSTA 2.0.17 evaluates them (``search/Power.cc``), so the
flow's power agrees with ``report_power`` for the same pin activities (a test checks it): a table is
looked up by the variables its template names (``input_transition_time`` = the slew at the pin of
the group's ``related_pin``, ``total_output_net_capacitance`` = the load of the output), linearly
inter- and extrapolated between the two nearest index points of each axis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["LibertyError", "Table", "InternalPower", "LibPin", "LibCell", "Library",
           "read_liberty"]


class LibertyError(ValueError):
    """The file is not a Liberty library this reader understands."""


_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([A-Za-z0-9_.+\-!\[\]\'$]+)|([(){}:;,]))')


def _tokens(text: str):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = text.replace("\\\n", " ").replace("\\\r\n", " ")
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                return
            raise LibertyError(f"unexpected text at character {pos}: {text[pos:pos + 30]!r}")
        pos = m.end()
        s, w, p = m.groups()
        if s is not None:
            yield ("str", s[1:-1])
        elif w is not None:
            yield ("word", w)
        elif p is not None:
            yield ("p", p)


@dataclass
class _Group:
    kind: str
    args: list
    attrs: dict = field(default_factory=dict)       # simple and complex attributes (last wins)
    groups: list = field(default_factory=list)

    def sub(self, kind: str) -> list["_Group"]:
        return [g for g in self.groups if g.kind == kind]


def _parse(text: str) -> _Group:
    toks = list(_tokens(text))
    i = 0

    def expect(p):
        nonlocal i
        if i >= len(toks) or toks[i] != ("p", p):
            got = toks[i][1] if i < len(toks) else "end of file"
            raise LibertyError(f"expected {p!r}, got {got!r} (token {i})")
        i += 1

    def statements(group: _Group):
        nonlocal i
        while i < len(toks) and toks[i] != ("p", "}"):
            kind, name = toks[i]
            if kind == "p" and name == ";":
                i += 1
                continue
            if kind == "p":
                raise LibertyError(f"unexpected {name!r} (token {i})")
            i += 1
            if i < len(toks) and toks[i] == ("p", ":"):
                i += 1
                vals = []
                while i < len(toks) and toks[i][0] != "p":
                    vals.append(toks[i][1])
                    i += 1
                group.attrs[name] = " ".join(vals)
                if i < len(toks) and toks[i] == ("p", ";"):
                    i += 1
                continue
            expect("(")
            args = []
            while i < len(toks) and toks[i] != ("p", ")"):
                if toks[i] != ("p", ","):
                    args.append(toks[i][1])
                i += 1
            expect(")")
            if i < len(toks) and toks[i] == ("p", "{"):
                i += 1
                g = _Group(name, args)
                statements(g)
                expect("}")
                group.groups.append(g)
            else:
                group.attrs[name] = args
                if i < len(toks) and toks[i] == ("p", ";"):
                    i += 1

    root = _Group("root", [])
    statements(root)
    libs = root.sub("library")
    if len(libs) != 1:
        raise LibertyError("expected exactly one library group")
    return libs[0]


def _floats(v) -> np.ndarray:
    parts = v if isinstance(v, list) else [v]
    out = []
    for p in parts:
        out += [float(x) for x in str(p).replace(",", " ").split()]
    return np.asarray(out, dtype=float)


def _axis_pos(axis: np.ndarray, x: float) -> tuple[int, float]:
    """Index ``i`` and fraction of ``x`` between ``axis[i]`` and ``axis[i+1]`` (may lie outside
    [0, 1]: linear extrapolation beyond the ends, as OpenSTA does)."""
    if axis.size == 1:
        return 0, 0.0
    i = int(np.searchsorted(axis, x, side="right")) - 1
    i = min(max(i, 0), axis.size - 2)
    return i, (x - axis[i]) / (axis[i + 1] - axis[i])


@dataclass
class Table:
    """A lookup table: ``variables`` (template names), ``indices`` and ``values``."""

    variables: tuple
    indices: tuple
    values: np.ndarray

    def lookup(self, **x: float) -> float:
        """Value at the given variables (e.g. ``input_transition_time=0.1,
        total_output_net_capacitance=0.02``); a variable the table lacks is ignored."""
        if not self.variables:
            return float(self.values.reshape(-1)[0])
        pos = [_axis_pos(ax, float(x.get(v, 0.0))) for v, ax in zip(self.variables, self.indices)]
        vals = self.values.reshape(tuple(ax.size for ax in self.indices))
        if len(pos) == 1:
            (i, f), = pos
            if vals.size == 1:
                return float(vals[0])
            return float(vals[i] + f * (vals[i + 1] - vals[i]))
        (i, f), (j, g) = pos
        a = vals[i] if vals.shape[0] == 1 else vals[i] + f * (vals[i + 1] - vals[i])
        if vals.shape[1] == 1:
            return float(a[0])
        return float(a[j] + g * (a[j + 1] - a[j]))


@dataclass
class InternalPower:
    """One ``internal_power`` group of a pin: energies (library units, pJ here) per transition."""

    related_pin: str | None
    rise: Table | None
    fall: Table | None


@dataclass
class LibPin:
    name: str
    direction: str
    capacitance: float = 0.0
    rise_capacitance: float | None = None
    function: str | None = None
    clock: bool = False
    power: list = field(default_factory=list)

    @property
    def load(self) -> float:
        """The capacitance OpenSTA charges to a driver for this load pin (rise, else plain)."""
        return self.capacitance if self.rise_capacitance is None else self.rise_capacitance


@dataclass
class LibCell:
    name: str
    area: float
    leakage: float            # library leakage unit (nW here)
    pins: dict
    sequential: bool


@dataclass
class Library:
    """A standard-cell library: ``cells`` by name and the units of its numbers."""

    name: str
    cells: dict
    voltage: float            # V
    time_unit: float          # s
    cap_unit: float           # F
    leakage_unit: float       # W

    @property
    def energy_unit(self) -> float:
        """J per unit of an internal-power table (voltage unit x capacitance unit, 1 V x 1 pF)."""
        return self.cap_unit  # the voltage unit is 1 V (checked on reading)


_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0}


def _unit(text: str, base: str) -> float:
    m = re.fullmatch(r"\s*([0-9.]+)\s*([fpnum]?)" + base + r"\s*", str(text))
    if not m:
        raise LibertyError(f"unit {text!r} is not a multiple of {base}")
    return float(m[1]) * _SCALE[m[2]]


def _table(g: _Group, templates: dict) -> Table:
    tmpl = templates.get(g.args[0] if g.args else "", {})
    variables = tuple(tmpl.get(f"variable_{k}") for k in (1, 2, 3) if tmpl.get(f"variable_{k}"))
    idx = []
    for k, v in enumerate(variables, start=1):
        src = g.attrs.get(f"index_{k}", tmpl.get(f"index_{k}"))
        idx.append(_floats(src))
    vals = _floats(g.attrs.get("values", []))
    if variables and vals.size != int(np.prod([a.size for a in idx])):
        raise LibertyError(f"table {g.kind}({g.args}) has {vals.size} values for axes "
                           f"{[a.size for a in idx]}")
    return Table(variables, tuple(idx), vals)


def read_liberty(path) -> Library:
    """Read a Liberty file.

    Raises
    ------
    LibertyError
        If it cannot be parsed or lacks units this flow needs.
    OSError
        If it cannot be read.
    """
    lib = _parse(Path(path).read_text())
    a = lib.attrs
    if _unit(a.get("voltage_unit", "1V"), "V") != 1.0:
        raise LibertyError(f"{path}: only a voltage unit of 1V is supported")
    templates = {g.args[0]: {**g.attrs} for g in lib.groups
                 if g.kind in ("lu_table_template", "power_lut_template") and g.args}
    cells = {}
    for c in lib.sub("cell"):
        pins = {}
        for p in c.sub("pin"):
            power = [InternalPower(ip.attrs.get("related_pin"),
                                   next((_table(t, templates) for t in ip.sub("rise_power")), None),
                                   next((_table(t, templates) for t in ip.sub("fall_power")), None))
                     for ip in p.sub("internal_power")]
            rc = p.attrs.get("rise_capacitance")
            for name in p.args:
                pins[name] = LibPin(name, p.attrs.get("direction", ""),
                                    float(p.attrs.get("capacitance", 0.0)),
                                    None if rc is None else float(rc), p.attrs.get("function"),
                                    p.attrs.get("clock") == "true", power)
        cells[c.args[0]] = LibCell(c.args[0], float(c.attrs.get("area", 0.0)),
                                   float(c.attrs.get("cell_leakage_power", 0.0)), pins,
                                   bool(c.sub("ff") or c.sub("latch")))
    cap = lib.attrs.get("capacitive_load_unit")
    if not isinstance(cap, list) or len(cap) != 2:
        raise LibertyError(f"{path}: no capacitive_load_unit")
    cap_unit = float(cap[0]) * {"ff": 1e-15, "pf": 1e-12, "nf": 1e-9}[cap[1].lower()]
    return Library(lib.args[0] if lib.args else "?", cells, float(a.get("nom_voltage", 0.0)),
                   _unit(a.get("time_unit", "1ns"), "s"), cap_unit,
                   _unit(a.get("leakage_power_unit", "1nW"), "W"))
