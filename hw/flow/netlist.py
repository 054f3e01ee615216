"""A flat gate-level netlist read from Yosys's ``write_json`` output.

The generic flow (:mod:`hw.flow.yosys`) leaves only Yosys's internal single-bit cells: simple gates
(``$_AND_``, ``$_XOR_``, ``$_MUX_``, ...), ``$_DFF_P_``/``$_DFF_N_`` flip-flops and
``$_DLATCH_P_``/``$_DLATCH_N_`` latches (the latch of an integrated clock gate). This module

* checks that the JSON is what it claims to be (a corrupt file raises :class:`NetlistError`),
* computes fanout per net and logic depth (longest chain of gates between start points — primary
  inputs, flip-flop and latch outputs — and end points), a technology-free delay proxy,
* finds the clock tree (the clock input and every net derived from it through gates, e.g. a gated
  clock) so that activity can be split into data-net toggles and clock-pin events,
* writes the netlist back as plain Verilog with one wire per net bit named ``n<id>``, which the
  activity simulation runs and whose value-change dump maps one-to-one onto the nets here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["NetlistError", "Cell", "Netlist", "load_netlist", "GATES", "SEQUENTIAL"]


class NetlistError(ValueError):
    """The netlist file is not a Yosys JSON netlist this flow understands."""


#: Combinational cells: type -> (input pins, Verilog expression of the output).
GATES = {
    "$_BUF_": (("A",), "{A}"),
    "$_NOT_": (("A",), "~{A}"),
    "$_AND_": (("A", "B"), "{A} & {B}"),
    "$_NAND_": (("A", "B"), "~({A} & {B})"),
    "$_OR_": (("A", "B"), "{A} | {B}"),
    "$_NOR_": (("A", "B"), "~({A} | {B})"),
    "$_XOR_": (("A", "B"), "{A} ^ {B}"),
    "$_XNOR_": (("A", "B"), "~({A} ^ {B})"),
    "$_ANDNOT_": (("A", "B"), "{A} & ~{B}"),
    "$_ORNOT_": (("A", "B"), "{A} | ~{B}"),
    "$_MUX_": (("A", "B", "S"), "{S} ? {B} : {A}"),
    "$_NMUX_": (("A", "B", "S"), "~({S} ? {B} : {A})"),
    "$_AOI3_": (("A", "B", "C"), "~(({A} & {B}) | {C})"),
    "$_OAI3_": (("A", "B", "C"), "~(({A} | {B}) & {C})"),
    "$_AOI4_": (("A", "B", "C", "D"), "~(({A} & {B}) | ({C} & {D}))"),
    "$_OAI4_": (("A", "B", "C", "D"), "~(({A} | {B}) & ({C} | {D}))"),
}

#: Sequential cells: type -> (clock/enable pin, data pin, output pin, Verilog template).
SEQUENTIAL = {
    "$_DFF_P_": ("C", "D", "Q", "always @(posedge {C}) {Q} <= {D};"),
    "$_DFF_N_": ("C", "D", "Q", "always @(negedge {C}) {Q} <= {D};"),
    "$_DLATCH_P_": ("E", "D", "Q", "always @({E} or {D}) if ({E}) {Q} <= {D};"),
    "$_DLATCH_N_": ("E", "D", "Q", "always @({E} or {D}) if (!{E}) {Q} <= {D};"),
}

_IGNORED = {"$scopeinfo"}


@dataclass
class Cell:
    name: str
    type: str
    inputs: dict[str, int | str]   # pin -> net id or constant "0"/"1"/"x"/"z"
    output: int


@dataclass
class Netlist:
    """One flattened module.

    Attributes
    ----------
    top : str
        Module name.
    ports : dict
        Port name -> (direction, list of net ids or constants, LSB first, signed flag).
    cells : list of Cell
    init : dict
        Net id -> initial value (0/1) of flip-flop and latch outputs, from the ``init`` attributes.
    names : dict
        Net id -> a readable name (``signal[bit]``), public names preferred.
    """

    top: str
    ports: dict
    cells: list
    init: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- structure
    def nets(self) -> set[int]:
        out = {c.output for c in self.cells}
        for c in self.cells:
            out.update(v for v in c.inputs.values() if isinstance(v, int))
        for _, bits, _ in self.ports.values():
            out.update(b for b in bits if isinstance(b, int))
        return out

    def fanout(self) -> dict[int, int]:
        """Net id -> number of cell input pins plus output-port bits it drives."""
        fo: dict[int, int] = defaultdict(int)
        for c in self.cells:
            for v in c.inputs.values():
                if isinstance(v, int):
                    fo[v] += 1
        for direction, bits, _ in self.ports.values():
            if direction == "output":
                for b in bits:
                    if isinstance(b, int):
                        fo[b] += 1
        return dict(fo)

    def count_by_type(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for c in self.cells:
            out[c.type] += 1
        return dict(sorted(out.items()))

    def port_net(self, name: str) -> int:
        direction, bits, _ = self.ports[name]
        if len(bits) != 1 or not isinstance(bits[0], int):
            raise NetlistError(f"port {name!r} of {self.top} is not a single-bit net")
        return bits[0]

    def clock_nets(self, clock: str = "clk") -> set[int]:
        """The clock input's net and every net computed from it through gates (gated clocks)."""
        if clock not in self.ports:
            return set()
        root = self.port_net(clock)
        tree = {root}
        readers: dict[int, list[Cell]] = defaultdict(list)
        for c in self.cells:
            if c.type in GATES:
                for v in c.inputs.values():
                    if isinstance(v, int):
                        readers[v].append(c)
        todo = [root]
        while todo:
            n = todo.pop()
            for c in readers[n]:
                if c.output not in tree:
                    tree.add(c.output)
                    todo.append(c.output)
        return tree

    def clock_pins(self, clock: str = "clk") -> dict[int, int]:
        """Clock-tree net id -> number of cell input pins it drives (flip-flop, latch, gate pins)."""
        tree = self.clock_nets(clock)
        pins: dict[int, int] = defaultdict(int)
        for c in self.cells:
            for v in c.inputs.values():
                if isinstance(v, int) and v in tree:
                    pins[v] += 1
        return dict(pins)

    def logic_depth(self) -> int:
        """Most gates on any path from a start point (input, flip-flop/latch output) to an end point.

        Clock-tree gates (a clock gate's AND) are not on data paths and are skipped.
        """
        clock = self.clock_nets()
        driver = {c.output: c for c in self.cells if c.type in GATES and c.output not in clock}
        depth: dict[int, int] = {}

        def level(net) -> int:
            if not isinstance(net, int) or net not in driver:
                return 0
            if net in depth:
                return depth[net]
            # Iterative post-order walk: deep arithmetic chains exceed Python's recursion limit.
            stack = [net]
            while stack:
                n = stack[-1]
                if n in depth:
                    stack.pop()
                    continue
                pending = [v for v in driver[n].inputs.values()
                           if isinstance(v, int) and v in driver and v not in depth]
                if pending:
                    stack.extend(pending)
                    continue
                depth[n] = 1 + max((depth.get(v, 0) for v in driver[n].inputs.values()
                                    if isinstance(v, int) and v in driver), default=0)
                stack.pop()
            return depth[net]

        ends = [v for c in self.cells if c.type in SEQUENTIAL for v in c.inputs.values()]
        ends += [b for d, bits, _ in self.ports.values() if d == "output" for b in bits]
        return max((level(n) for n in ends), default=0)

    # ---------------------------------------------------------------- simulation model
    def to_verilog(self, name: str | None = None) -> str:
        """Plain Verilog of the netlist, one ``wire``/``reg`` per net named ``n<id>``."""
        name = name or self.top
        seq_out = {c.output for c in self.cells if c.type in SEQUENTIAL}

        def ref(v) -> str:
            if isinstance(v, int):
                return f"n{v}"
            return {"0": "1'b0", "1": "1'b1"}.get(v, "1'bx")

        lines = [f"// Gate-level simulation model of {self.top}, written by hw.flow.netlist",
                 f"module {name} ({', '.join(self.ports)});"]
        for pname, (direction, bits, signed) in self.ports.items():
            rng = f"[{len(bits) - 1}:0] " if len(bits) > 1 else ""
            lines.append(f"  {direction} {'signed ' if signed else ''}{rng}{pname};")
        for n in sorted(self.nets()):
            if n in seq_out:
                lines.append(f"  reg n{n} = 1'b{self.init.get(n, 0)};")
            else:
                lines.append(f"  wire n{n};")
        for pname, (direction, bits, _) in self.ports.items():
            for i, b in enumerate(bits):
                sel = f"{pname}[{i}]" if len(bits) > 1 else pname
                if direction == "input":
                    if isinstance(b, int):
                        lines.append(f"  assign n{b} = {sel};")
                else:
                    lines.append(f"  assign {sel} = {ref(b)};")
        for c in self.cells:
            if c.type in GATES:
                pins, expr = GATES[c.type]
                lines.append(f"  assign n{c.output} = "
                             + expr.format(**{p: ref(c.inputs[p]) for p in pins}) + ";")
            else:
                ck, d, q, tmpl = SEQUENTIAL[c.type]
                lines.append("  " + tmpl.format(**{ck: ref(c.inputs[ck]), d: ref(c.inputs[d]),
                                                   q: f"n{c.output}"}))
        lines.append("endmodule")
        return "\n".join(lines) + "\n"


def _bits(obj, what: str) -> list:
    bits = obj.get("bits")
    if not isinstance(bits, list) or not all(
            isinstance(b, int) or b in ("0", "1", "x", "z") for b in bits):
        raise NetlistError(f"{what} has no valid 'bits' list")
    return bits


def load_netlist(path_or_dict, top: str | None = None) -> Netlist:
    """Read a Yosys JSON netlist (a path or the parsed dict) of one flattened module.

    Raises
    ------
    NetlistError
        If the file is not valid JSON, has no (or not exactly the named) module, or contains a
        cell type this flow cannot simulate (run the generic flow, which maps to simple gates).
    """
    if isinstance(path_or_dict, dict):
        data, where = path_or_dict, "netlist"
    else:
        where = str(path_or_dict)
        try:
            data = json.loads(Path(path_or_dict).read_text())
        except json.JSONDecodeError as exc:
            raise NetlistError(f"{where} is not valid JSON: {exc}") from None
    modules = data.get("modules") if isinstance(data, dict) else None
    if not isinstance(modules, dict) or not modules:
        raise NetlistError(f"{where} is not a Yosys JSON netlist (no 'modules')")
    if top is None:
        tops = [n for n, m in modules.items()
                if str(m.get("attributes", {}).get("top", "0")).strip("0") != ""]
        if len(modules) == 1:
            top = next(iter(modules))
        elif len(tops) == 1:
            top = tops[0]
        else:
            raise NetlistError(f"{where} holds {len(modules)} modules; name the top one")
    if top not in modules:
        raise NetlistError(f"{where} has no module {top!r} (has {', '.join(sorted(modules))})")
    mod = modules[top]
    try:
        ports = {n: (p["direction"], _bits(p, f"port {n!r}"), bool(p.get("signed", 0)))
                 for n, p in mod["ports"].items()}
        cells = []
        for cname, c in mod["cells"].items():
            t = c["type"]
            if t in _IGNORED:
                continue
            if t not in GATES and t not in SEQUENTIAL:
                raise NetlistError(
                    f"{where}: cell {cname!r} has type {t!r}, which the gate-level flow cannot "
                    f"simulate (expected simple gates, $_DFF_P_/N_, $_DLATCH_P_/N_)")
            conn = c["connections"]
            outs = [p for p, d in c["port_directions"].items() if d == "output"]
            if len(outs) != 1 or len(conn[outs[0]]) != 1 or not isinstance(conn[outs[0]][0], int):
                raise NetlistError(f"{where}: cell {cname!r} does not drive exactly one net")
            ins = {}
            for p, d in c["port_directions"].items():
                if d == "input":
                    if len(conn[p]) != 1:
                        raise NetlistError(f"{where}: pin {p} of cell {cname!r} is not one bit")
                    ins[p] = conn[p][0]
            cells.append(Cell(cname, t, ins, conn[outs[0]][0]))
        init, names = {}, {}
        for nname, net in sorted(mod.get("netnames", {}).items(),
                                 key=lambda kv: kv[1].get("hide_name", 0), reverse=True):
            bits = _bits(net, f"net {nname!r}")
            iv = net.get("attributes", {}).get("init")
            for i, b in enumerate(bits):
                if not isinstance(b, int):
                    continue
                names[b] = f"{nname}[{i}]" if len(bits) > 1 else nname
                if isinstance(iv, str) and len(iv) == len(bits) and iv[len(bits) - 1 - i] in "01":
                    init[b] = int(iv[len(bits) - 1 - i])
    except (KeyError, TypeError, AttributeError) as exc:
        raise NetlistError(f"{where}: malformed Yosys JSON netlist ({type(exc).__name__}: {exc})") \
            from None
    return Netlist(top, ports, cells, init, names)
