"""A gate-level netlist that keeps its memories as memories, with in-simulation activity counters.

The multiplier flow (:mod:`hw.flow.netlist`) maps everything to simple gates and flip-flops. An
inference engine holds kilobits of memory (weights, activations, ...); mapped to flip-flops and
multiplexers they would swamp the netlist (and no chip builds them so). The engine flow therefore
stops Yosys before ``memory_map`` (:func:`hw.flow.engine_synth.generic_engine_synth`): every
memory of the design stays one ``$mem_v2`` cell, the rest becomes the same simple gates as in the
multiplier flow. This module

* reads such a netlist (:func:`load_mem_netlist`): the ``$mem_v2`` cells become :class:`Memory`
  records, the rest a :class:`~hw.flow.netlist.Netlist` (checked as there);
* gives the fanout of every net including the memories' input pins, and the clock pins
  (flip-flops and memory ports) of the one clock;
* writes the netlist back as Verilog (:meth:`MemNetlist.to_verilog`) with a behavioural model of
  every memory (synchronous read, old data on a read/write collision, as Yosys's cell defines it
  for these parameters) and, if asked, **activity counters** inside the module.

Activity counters (the engine is too big for a value change dump: tens of thousands of nets over
thousands of cycles per image) -- at every rising clock edge the module samples every data net
(every net except the clock) and adds, to 64-bit registers the testbench reads by hierarchical
name:

``qsq_act_toggles``
    Nets whose value differs from the previous edge's sample.
``qsq_act_weighted``
    The same, each net weighted by its fanout (:meth:`MemNetlist.fanout`).
``qsq_rd_<k>`` / ``qsq_wr_<k>``
    Bits read from / written into memory ``k`` (a read port enabled at the edge reads ``width``
    bits; a write counts its enabled bits).

``qsq_tg_<unit>`` / ``qsq_wt_<unit>``
    The same two counts for the nets driven by one unit (:meth:`MemNetlist.net_units`).
``qsq_ck_<unit>``
    Clock-pin events of the unit's gated flip-flops (below): at every edge, the flip-flops behind
    each clock gate whose latched enable is 1.

When every input changes only at rising clock edges (the engine testbench drives them so), each
net settles once per cycle, so comparing consecutive edge samples counts exactly the settled
transitions that :func:`hw.flow.vcd.count_toggles` counts from a dump (a test checks the two on a
small engine).

Clock gating
------------
The generic netlist keeps clock enables (``$_DFFE_PP_``). :func:`load_mem_netlist` does what an
ASIC flow's clock-gating insertion does: the enable flip-flops of one unit that share an enable
net, :data:`ICG_MIN_FLOPS` or more of them, get one clock gate -- the structure of the project's
``qsq_icg`` cell, a latch transparent while the clock is low holding the enable and an AND of the
clock with it -- and become plain flip-flops on the gated clock; smaller groups become a
multiplexer in front of a plain flip-flop (the enable recirculates Q). Clock-pin events are then
``cycles x`` the pins on the free-running clock (ungated flip-flops, clock-gate latches and ANDs,
memory ports: :meth:`MemNetlist.clock_pins`) plus the gated events the ``qsq_ck_`` counters count.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field

from .netlist import GATES, SEQUENTIAL, Netlist, NetlistError, load_netlist

__all__ = ["Memory", "MemNetlist", "load_mem_netlist", "unit_of", "COUNTER_BITS", "ICG_MIN_FLOPS"]

#: Width of the activity counters.
COUNTER_BITS = 64
#: Nets per sampled vector of the activity counters (keeps Verilog lines and vectors short).
_CHUNK = 64
#: Enable flip-flops sharing one enable in one unit that get a clock gate (fewer: a multiplexer).
ICG_MIN_FLOPS = 4
#: Unit of the cells at the top of the hierarchy (control FSM, stream handshakes, glue).
TOP_UNIT = "control"
_FLAT = "$flatten\\"


def unit_of(cell_name: str) -> str:
    """The unit (first-level submodule instance) a flattened cell came from, or :data:`TOP_UNIT`.

    Yosys's ``flatten`` names a submodule's cells ``$flatten\\<instance>.<name>``.
    """
    if cell_name.startswith(_FLAT):
        return cell_name[len(_FLAT):].split(".", 1)[0]
    return TOP_UNIT


def _int(v) -> int:
    """A Yosys JSON parameter (binary string or int) as an int."""
    if isinstance(v, int):
        return v
    s = str(v)
    if s and set(s) <= {"0", "1"}:
        return int(s, 2)
    raise NetlistError(f"parameter value {v!r} is not a binary constant")


@dataclass
class Memory:
    """One ``$mem_v2`` cell: ``size`` words of ``width`` bits, synchronous read ports.

    ``init`` holds the initial words (word 0 first; 0 where Yosys has ``x``). Each read port is a
    dict ``{addr, data, en, clk}`` and each write port ``{addr, data, en, clk}`` of net ids or
    constants (``en`` of a write port: one per data bit).
    """

    name: str
    width: int
    size: int
    abits: int
    init: list
    rd: list = field(default_factory=list)
    wr: list = field(default_factory=list)

    @property
    def ident(self) -> str:
        """Verilog-safe identifier for the memory's counters."""
        return _ident(self.name)

    def input_nets(self):
        """Every net the memory reads (address, data, enable pins), clocks excluded."""
        for port in self.rd + self.wr:
            for key in ("addr", "data", "en"):
                if key == "data" and port in self.rd:
                    continue
                vals = port[key] if isinstance(port[key], list) else [port[key]]
                for v in vals:
                    if isinstance(v, int):
                        yield v

    def output_nets(self):
        for port in self.rd:
            for v in port["data"]:
                yield v


@dataclass
class MemNetlist(Netlist):
    """A :class:`~hw.flow.netlist.Netlist` plus memories (see the module notes)."""

    memories: list = field(default_factory=list)

    def nets(self) -> set[int]:
        out = super().nets()
        for m in self.memories:
            out.update(m.input_nets())
            out.update(v for v in m.output_nets() if isinstance(v, int))
        return out

    def fanout(self) -> dict[int, int]:
        """Net id -> cell input pins (gates, flip-flops, memory address/data/enable pins) plus
        output-port bits it drives."""
        fo = defaultdict(int, super().fanout())
        for m in self.memories:
            for v in m.input_nets():
                fo[v] += 1
        return dict(fo)

    def clock_pins(self, clock: str = "clk") -> tuple[dict, list]:
        """Clock pins: ``(free, gated)``.

        ``free`` maps a unit (or ``mem:<name>``) to its pins on the free-running clock:
        flip-flops, clock-gate latches and ANDs, memory ports. ``gated`` lists one
        ``(enable_net, unit, pins)`` per clock gate: the latched enable and the flip-flops behind
        the gate.

        Raises
        ------
        NetlistError
            If a flip-flop, latch or memory port is clocked by a net that is neither the clock nor
            a clock gate's output, or the clock reaches gates other than clock-gate ANDs.
        """
        root = self.port_net(clock)
        tree = self.clock_nets(clock)
        driver = {c.output: c for c in self.cells}
        free: dict[str, int] = defaultdict(int)
        gated: dict[int, list] = {}
        for net in tree - {root}:
            g = driver.get(net)
            other = [v for v in (g.inputs.values() if g else []) if v != root]
            latch = driver.get(other[0]) if len(other) == 1 and isinstance(other[0], int) else None
            if (g is None or g.type != "$_AND_" or root not in g.inputs.values() or latch is None
                    or latch.type != "$_DLATCH_N_" or latch.inputs["E"] != root):
                raise NetlistError(f"{self.top}: the clock {clock!r} reaches a gate that is not a "
                                   f"clock gate ({g.name if g else net!r})")
            gated[net] = [latch.output, unit_of(g.name), 0]
        for c in self.cells:
            if c.type in SEQUENTIAL:
                ck = c.inputs[SEQUENTIAL[c.type][0]]
                if ck == root:
                    free[unit_of(c.name)] += 1
                elif ck in gated:
                    gated[ck][2] += 1
                else:
                    raise NetlistError(f"{self.top}: {c.type} {c.name!r} is not clocked by "
                                       f"{clock!r} or a clock gate")
            elif c.type in GATES and root in c.inputs.values():
                free[unit_of(c.name)] += 1
        for m in self.memories:
            for port in m.rd + m.wr:
                if port["clk"] != root:
                    raise NetlistError(f"{self.top}: memory {m.name!r} has a port not clocked "
                                       f"by {clock!r}")
                free[f"mem:{m.name}"] += 1
        return dict(free), [tuple(v) for _, v in sorted(gated.items())]

    def clock_pin_count(self, clock: str = "clk") -> int:
        """Pins on the free-running clock (see :meth:`clock_pins`)."""
        return sum(self.clock_pins(clock)[0].values())

    def net_units(self) -> dict[int, str]:
        """Net id -> the unit whose cell drives it (:func:`unit_of`), ``mem:<name>`` for memory
        read data, ``io`` for primary inputs."""
        out = {}
        for _, (direction, bits, _) in self.ports.items():
            if direction == "input":
                out.update((b, "io") for b in bits if isinstance(b, int))
        for c in self.cells:
            out[c.output] = unit_of(c.name)
        for m in self.memories:
            out.update((v, f"mem:{m.name}") for v in m.output_nets() if isinstance(v, int))
        return out

    def units(self) -> list[str]:
        """Every unit that drives a net or holds a clock pin, sorted."""
        free, gated = self.clock_pins() if "clk" in self.ports else ({}, [])
        return sorted(set(self.net_units().values()) | set(free) | {u for _, u, _ in gated})

    def counter_names(self) -> list[tuple[str, str, str]]:
        """The activity counters, in the order a testbench reads them: ``(kind, key, name)`` with
        kind ``toggles``/``weighted`` (key: unit or ``*`` for all), ``clock`` (key: a unit with
        clock gates),
        ``read``/``write`` (key: memory name)."""
        out = [("toggles", "*", "qsq_act_toggles"), ("weighted", "*", "qsq_act_weighted")]
        gated = {u for _, u, _ in self.clock_pins()[1]} if "clk" in self.ports else set()
        for u in self.units():
            i = _ident(u)
            out += [("toggles", u, f"qsq_tg_{i}"), ("weighted", u, f"qsq_wt_{i}")]
            if u in gated:
                out.append(("clock", u, f"qsq_ck_{i}"))
        for m in self.memories:
            out += [("read", m.name, f"qsq_rd_{m.ident}"), ("write", m.name, f"qsq_wr_{m.ident}")]
        return out

    def data_nets(self, clock: str = "clk") -> list[int]:
        """Every net except the clock, sorted."""
        clk = self.clock_nets(clock) if clock in self.ports else set()
        return sorted(n for n in self.nets() if n not in clk)

    # ---------------------------------------------------------------- simulation model
    def to_verilog(self, name: str | None = None, counters: bool = False,
                   clock: str = "clk") -> str:
        """Verilog of the netlist with behavioural memories; ``counters``: with the activity
        counters of the module notes."""
        base = super().to_verilog(name)
        if not base.rstrip().endswith("endmodule"):
            raise NetlistError("unexpected netlist text")     # pragma: no cover
        body = base.rstrip()[:-len("endmodule")].rstrip("\n").split("\n")

        def ref(v) -> str:
            if isinstance(v, int):
                return f"n{v}"
            return {"0": "1'b0", "1": "1'b1"}.get(v, "1'b0")

        def vec(bits) -> str:
            return "{" + ", ".join(ref(b) for b in reversed(bits)) + "}"

        clk = ref(self.port_net(clock)) if clock in self.ports else None
        out = body
        for m in self.memories:
            mid = f"qsq_mem_{m.ident}"
            out.append(f"  // memory {m.name}: {m.size} x {m.width} bits")
            out.append(f"  reg [{m.width - 1}:0] {mid} [0:{m.size - 1}];")
            out.append("  integer qsq_i_" + m.ident + ";")
            out.append("  initial begin")
            out.append(f"    for (qsq_i_{m.ident} = 0; qsq_i_{m.ident} < {m.size}; "
                       f"qsq_i_{m.ident} = qsq_i_{m.ident} + 1) {mid}[qsq_i_{m.ident}] = 0;")
            for i, w in enumerate(m.init):
                if w:
                    out.append(f"    {mid}[{i}] = {m.width}'h{w:x};")
            out.append("  end")
            for k, p in enumerate(m.rd):
                q = f"{mid}_rd{k}"
                out.append(f"  reg [{m.width - 1}:0] {q} = 0;")
                out.append(f"  always @(posedge {ref(p['clk'])}) if ({ref(p['en'])}) "
                           f"{q} <= {mid}[{vec(p['addr'])}];")
                for i, b in enumerate(p["data"]):
                    if isinstance(b, int):
                        out.append(f"  assign n{b} = {q}[{i}];")
            for k, p in enumerate(m.wr):
                out.append(f"  always @(posedge {ref(p['clk'])}) begin")
                for i, (d, e) in enumerate(zip(p["data"], p["en"])):
                    if e == "0":
                        continue
                    out.append(f"    if ({ref(e)}) {mid}[{vec(p['addr'])}][{i}] <= {ref(d)};")
                out.append("  end")
        if counters:
            if clk is None:
                raise NetlistError(f"{self.top}: activity counters need the clock port {clock!r}")
            out += self._counter_lines(clk, clock)
        out.append("endmodule")
        return "\n".join(out) + "\n"

    def _counter_lines(self, clk: str, clock: str) -> list[str]:
        # Each chunk's count of changed nets is a continuous 32-bit $countones (short chunks keep
        # its re-evaluation at every net change cheap); the 64-bit sums are taken at the edge.
        w = COUNTER_BITS
        fo = self.fanout()
        where = self.net_units()
        groups: dict[tuple, list[int]] = defaultdict(list)
        for n in self.data_nets(clock):
            groups[(where.get(n, "io"), fo.get(n, 0))].append(n)
        names = {(k, key): name for k, key, name in self.counter_names()}
        lines = ["  // activity counters (hw.flow.memnet)"]
        lines += [f"  reg [{w - 1}:0] {name} = 0;" for (k, _), name in names.items()
                  if k in ("toggles", "weighted", "clock")]
        tog: dict[str, list] = defaultdict(list)
        wtd: dict[str, list] = defaultdict(list)
        for (unit, f), nets in sorted(groups.items()):
            for k in range(0, len(nets), _CHUNK):
                part = nets[k:k + _CHUNK]
                g = f"qsq_g_{_ident(unit)}_{f}_{k // _CHUNK}"
                lines.append(f"  wire [{len(part) - 1}:0] {g}_now = {{")
                for j in range(0, len(part), 16):
                    sep = "," if j + 16 < len(part) else ""
                    lines.append("    " + ", ".join(f"n{n}" for n in part[j:j + 16]) + sep)
                lines.append("  };")
                lines.append(f"  reg [{len(part) - 1}:0] {g}_was = 0;")
                lines.append(f"  wire [31:0] {g}_c = $countones({g}_now ^ {g}_was);")
                lines.append(f"  always @(posedge {clk}) {g}_was <= {g}_now;")
                tog[unit].append(f"{g}_c")
                if f:
                    wtd[unit].append(f"{g}_c * {f}" if f != 1 else f"{g}_c")
        _, gated = self.clock_pins(clock)
        ck: dict[str, list] = defaultdict(list)
        for q, unit, pins in gated:
            ck[unit].append(f"(n{q} ? {w}'d{pins} : {w}'d0)")

        def accumulate(name, terms):
            lines.append(f"    {name} <= {name}" + "".join(f"\n      + {t}" for t in terms) + ";")

        lines.append(f"  always @(posedge {clk}) begin")
        accumulate(names[("toggles", "*")], [t for u in sorted(tog) for t in tog[u]])
        accumulate(names[("weighted", "*")], [t for u in sorted(wtd) for t in wtd[u]])
        for (kind, unit), name in names.items():
            if unit == "*" or kind not in ("toggles", "weighted", "clock"):
                continue
            accumulate(name, {"toggles": tog, "weighted": wtd, "clock": ck}[kind].get(unit, []))
        lines.append("  end")
        for m in self.memories:
            r, wr = f"qsq_rd_{m.ident}", f"qsq_wr_{m.ident}"
            lines.append(f"  reg [{w - 1}:0] {r} = 0;")
            lines.append(f"  reg [{w - 1}:0] {wr} = 0;")
            reads = [f"({ref_(p['en'])} ? {w}'d{m.width} : {w}'d0)" for p in m.rd]
            writes = []
            for k, p in enumerate(m.wr):
                c = f"qsq_wc_{m.ident}_{k}"
                en = ", ".join(ref_(e) for e in p["en"])
                lines.append(f"  wire [31:0] {c} = $countones({{{en}}});")
                writes.append(c)
            lines.append(f"  always @(posedge {clk}) begin")
            lines.append(f"    {r} <= {r} + {' + '.join(reads) or '0'};")
            lines.append(f"    {wr} <= {wr} + {' + '.join(writes) or '0'};")
            lines.append("  end")
        return lines


def _ident(name: str) -> str:
    """A Verilog-safe identifier for a unit or memory name."""
    return "".join(c if c.isalnum() else "_" for c in name).strip("_") or "x"


def ref_(v) -> str:
    if isinstance(v, int):
        return f"n{v}"
    return {"0": "1'b0", "1": "1'b1"}.get(v, "1'b0")


_SUPPORTED = {"RD_CLK_ENABLE": None, "RD_CLK_POLARITY": None, "RD_TRANSPARENCY_MASK": 0,
              "RD_COLLISION_X_MASK": 0, "RD_WIDE_CONTINUATION": 0, "WR_WIDE_CONTINUATION": 0,
              "OFFSET": 0}


def _memory(cname: str, c: dict, where: str) -> Memory:
    p = c["parameters"]
    conn = c["connections"]
    try:
        width, size, abits = _int(p["WIDTH"]), _int(p["SIZE"]), _int(p["ABITS"])
        nrd, nwr = _int(p["RD_PORTS"]), _int(p["WR_PORTS"])
        for key in ("RD_TRANSPARENCY_MASK", "RD_COLLISION_X_MASK", "RD_WIDE_CONTINUATION",
                    "WR_WIDE_CONTINUATION", "OFFSET"):
            if set(str(p.get(key, "0"))) - {"0", "x"}:
                raise NetlistError(f"{where}: memory {cname!r} has {key}={p[key]!r}; the engine "
                                   f"flow models plain synchronous memories only")
        for key, n in (("RD_CLK_ENABLE", nrd), ("RD_CLK_POLARITY", nrd),
                       ("WR_CLK_ENABLE", nwr), ("WR_CLK_POLARITY", nwr)):
            if n and _int(p[key]) != (1 << n) - 1:
                raise NetlistError(f"{where}: memory {cname!r} has {key}={p[key]!r}; the engine "
                                   f"flow models memories with rising-edge clocked ports only")
        for key in ("RD_ARST", "RD_SRST"):
            if any(b != "0" for b in conn.get(key, [])):
                raise NetlistError(f"{where}: memory {cname!r} uses {key}; not modelled")
        init_bits = str(p.get("INIT", ""))
        words = []
        if init_bits and set(init_bits) <= {"0", "1", "x"}:
            bits = init_bits.replace("x", "0")
            total = len(bits)
            for i in range(size):
                lo = total - (i + 1) * width
                hi = total - i * width
                words.append(int(bits[max(0, lo):hi] or "0", 2) if hi > 0 else 0)
        else:
            words = [0] * size
        name = str(p.get("MEMID", cname)).lstrip("\\")
        mem = Memory(name, width, size, abits, words)
        for k in range(nrd):
            mem.rd.append({"addr": conn["RD_ADDR"][k * abits:(k + 1) * abits],
                           "data": conn["RD_DATA"][k * width:(k + 1) * width],
                           "en": conn["RD_EN"][k], "clk": conn["RD_CLK"][k]})
        for k in range(nwr):
            mem.wr.append({"addr": conn["WR_ADDR"][k * abits:(k + 1) * abits],
                           "data": conn["WR_DATA"][k * width:(k + 1) * width],
                           "en": conn["WR_EN"][k * width:(k + 1) * width],
                           "clk": conn["WR_CLK"][k]})
    except (KeyError, TypeError, IndexError) as exc:
        raise NetlistError(f"{where}: malformed memory cell {cname!r} ({type(exc).__name__}: "
                           f"{exc})") from None
    return mem


def _cell(ctype: str, ins: dict, out: tuple) -> dict:
    pins = {p: "input" for p in ins}
    pins[out[0]] = "output"
    return {"type": ctype, "parameters": {}, "attributes": {}, "port_directions": pins,
            "connections": {**{p: [v] for p, v in ins.items()}, out[0]: [out[1]]}}


def _gate_clocks(mod: dict, where: str, min_flops: int, max_bit: int) -> None:
    """Replace every ``$_DFFE_PP_`` of ``mod`` (a Yosys JSON module) by a plain ``$_DFF_P_``:
    behind a clock gate (latch + AND) shared by the unit's enable flip-flops with the same clock
    and enable, when there are ``min_flops`` or more of them; else with a multiplexer that
    recirculates Q. New nets are numbered from ``max_bit + 1``."""
    cells = mod.get("cells", {})
    groups: dict[tuple, list[str]] = defaultdict(list)
    for name, c in cells.items():
        if c.get("type") == "$_DFFE_PP_":
            try:
                conn = c["connections"]
                key = (unit_of(name), conn["C"][0], conn["E"][0])
            except (KeyError, IndexError, TypeError):
                raise NetlistError(f"{where}: malformed flip-flop {name!r}") from None
            groups[key].append(name)
    if not groups:
        return
    top_bit = max_bit

    def new_bit() -> int:
        nonlocal top_bit
        top_bit += 1
        return top_bit

    for k, ((unit, clk, en), names) in enumerate(sorted(groups.items(), key=lambda kv: kv[1][0])):
        prefix = "" if unit == TOP_UNIT else f"{_FLAT}{unit}."
        gate = len(names) >= min_flops and isinstance(en, int)
        if gate:
            q, gclk = new_bit(), new_bit()
            cells[f"{prefix}$qsq_icg{k}$latch"] = _cell("$_DLATCH_N_", {"E": clk, "D": en}, ("Q", q))
            cells[f"{prefix}$qsq_icg{k}$and"] = _cell("$_AND_", {"A": clk, "B": q}, ("Y", gclk))
        for name in names:
            conn = cells[name]["connections"]
            d, qo = conn["D"][0], conn["Q"][0]
            if gate:
                cells[name] = _cell("$_DFF_P_", {"C": gclk, "D": d}, ("Q", qo))
            else:
                m = new_bit()
                cells[f"{name}$qsq_en"] = _cell("$_MUX_", {"A": qo, "B": d, "S": en}, ("Y", m))
                cells[name] = _cell("$_DFF_P_", {"C": clk, "D": m}, ("Q", qo))


def load_mem_netlist(data: dict, top: str, min_flops: int = ICG_MIN_FLOPS) -> MemNetlist:
    """Read a Yosys JSON netlist (parsed) of module ``top`` whose memories are ``$mem_v2`` cells;
    enable flip-flops get clock gates (groups of ``min_flops`` or more) or multiplexers (see the
    module notes).

    Raises
    ------
    NetlistError
        As :func:`hw.flow.netlist.load_netlist`, and for memory features the model does not cover
        (asynchronous or transparent read ports, resets on read ports, wide ports).
    """
    if not isinstance(data, dict) or top not in data.get("modules", {}):
        raise NetlistError(f"netlist has no module {top!r}")
    d = copy.deepcopy(data)
    mod = d["modules"][top]
    max_bit = max([1] + [b for c in mod.get("cells", {}).values()
                         for bits in c.get("connections", {}).values() for b in bits
                         if isinstance(b, int)]
                  + [b for n in list(mod.get("netnames", {}).values()) + list(mod.get("ports", {}).values())
                     for b in n.get("bits", []) if isinstance(b, int)])
    mems = []
    for cname in [n for n, c in mod.get("cells", {}).items() if c.get("type") == "$mem_v2"]:
        mems.append(_memory(cname, mod["cells"].pop(cname), f"netlist {top}"))
    _gate_clocks(mod, f"netlist {top}", min_flops, max_bit)
    nl = load_netlist(d, top)
    mems.sort(key=lambda m: m.name)
    idents = [m.ident for m in mems]
    if len(set(idents)) != len(idents):
        raise NetlistError(f"netlist {top}: two memories share an identifier ({idents})")
    return MemNetlist(nl.top, nl.ports, nl.cells, nl.init, nl.names, mems)
