"""Switching activity of a synthesized gate-level netlist under operand streams.

The generic flow's netlist (:mod:`hw.flow.netlist`) is written back as Verilog with one wire per
net, driven by a testbench that applies one operation per clock cycle from a stimulus file, and
simulated with Icarus Verilog (zero delay). The value change dump is parsed by
:mod:`hw.flow.vcd`; every stimulus segment (one stimulus set at one truncation level) is a window
of the dump, so one simulation measures all of them. Per operation and per segment:

``net_toggles``
    0/1 transitions summed over every data net (all nets except the clock tree).
``weighted_toggles``
    The same, each net weighted by its fanout (cell input pins + output ports it drives): a
    load-capacitance proxy for dynamic power.
``ff_clock_events``
    Rising clock edges seen by flip-flop clock pins. A clock enable does not remove them (the
    flip-flop is still clocked and holds its value through the enable path); an integrated clock
    gate does.
``clock_pin_events``
    Rising edges at every clock-tree pin: flip-flops plus the clock gates' own latch and AND
    inputs, so an ICG design pays for its gates here.

The products the netlist produced are compared with the golden model for every operation; a
mismatch is an error (the flow never reports numbers from a wrong netlist).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .netlist import SEQUENTIAL, Netlist
from .tools import ToolError, run_tool
from .vcd import count_toggles

__all__ = ["Segment", "ActivityError", "simulate_activity", "write_bench", "PERIOD"]

#: Clock period of the activity testbench (ns); only the order of events matters.
PERIOD = 10


class ActivityError(RuntimeError):
    """The gate-level netlist did not compute the golden-model products."""


@dataclass
class Segment:
    """One window of the run: ``n`` operations of stimulus ``stimulus`` at truncation ``t``."""

    stimulus: str
    t: int | None
    a: np.ndarray
    b: np.ndarray
    expected: np.ndarray


def _hex(v: int, width: int) -> str:
    return format(v & ((1 << width) - 1), f"0{-(-width // 4)}x")


def port_wiring(ports: dict) -> tuple[list[str], list[str]]:
    """Testbench declarations and instance connections for a netlist's ``ports``.

    Inputs become registers (``clk`` starting at 0, ``rst`` at 1, the others at 0), outputs
    wires of the same names; returns ``(declarations, ".name(name)" connections)``.
    """
    decl, conn = [], []
    for name, (direction, bits, _) in ports.items():
        w = len(bits)
        rng = f"[{w - 1}:0] " if w > 1 else ""
        if name == "clk":
            decl.append("  reg clk = 1'b0;")
        elif name == "rst":
            decl.append("  reg rst = 1'b1;")
        elif direction == "input":
            decl.append(f"  reg {rng}{name} = 0;")
        else:
            decl.append(f"  wire {rng}{name};")
        conn.append(f".{name}({name})")
    return decl, conn


def _testbench(ports: dict, module: str, n_total: int, word: int, fields: list, latency: int,
               period: int, timescale: str, top: str) -> str:
    decl, conn = port_wiring(ports)
    assign = "{" + ", ".join(fields) + "}"
    half = period // 2
    return f"""`timescale {timescale}
module {top};
{chr(10).join(decl)}
  reg [{word - 1}:0] stim [0:{n_total - 1}];
  integer i, f;
  {module} u ({', '.join(conn)});
  always #{half} clk = ~clk;
  always @(negedge clk) if (!rst && out_valid) $fwrite(f, "%h\\n", p);
  initial begin
    $readmemh("stim.hex", stim);
    f = $fopen("out.hex", "w");
    #{3 * period} rst = 1'b0;
    #{half} $dumpfile("activity.vcd");
    $dumpvars(1, u);
    #{half};
    for (i = 0; i < {n_total}; i = i + 1) begin
      {assign} = stim[i];
      #{period};
    end
    in_valid = 1'b0;
    #{period * (latency + 2)};
    $fclose(f);
    $finish;
  end
endmodule
"""


def write_bench(nl, segments: list[Segment], workdir: Path, latency: int, *, module: str,
                top: str = "qsq_activity_tb", period: int = PERIOD,
                timescale: str = "1ns/1ns") -> tuple[int, list[int]]:
    """Write the stimulus-driven bench of a multiplier netlist ``nl`` (generic or mapped: it has
    ``ports`` and ``to_verilog``) into ``workdir``: ``stim.hex`` (``segments`` back to back, one
    operation per cycle of ``period`` time units), ``netlist_sim.v`` (``nl`` as ``module``) and
    ``tb.v`` (top ``top``, dumping ``activity.vcd`` and writing the products to ``out.hex``).

    Returns the operation count and the segments' window bounds (time units; the drain after the
    last operation is not in a window).

    Raises
    ------
    ValueError
        If ``nl`` lacks a multiplier port, or a segment's ``t`` needs a ``trunc`` port it lacks
        or does not fit it.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for port in ("a", "b", "in_valid", "p", "out_valid", "clk", "rst"):
        if port not in nl.ports:
            raise ValueError(f"netlist {nl.top} has no port {port!r}; activity needs a multiplier")
    aw, bw = len(nl.ports["a"][1]), len(nl.ports["b"][1])
    has_t = "trunc" in nl.ports
    tw = len(nl.ports["trunc"][1]) if has_t else 0
    fields = (["trunc"] if has_t else []) + ["in_valid", "b", "a"]
    word = tw + 1 + bw + aw

    lines, bounds, t0 = [], [], 4 * period
    count = 0
    for seg in segments:
        bounds.append(t0 + period * count)
        t = 0 if seg.t is None else int(seg.t)
        if not has_t and seg.t is not None:
            raise ValueError(f"segment at t={seg.t} needs a runtime-truncation design")
        if has_t and t >= (1 << tw):
            raise ValueError(f"segment t={t} does not fit the {tw}-bit trunc port")
        for x, y in zip(seg.a.tolist(), seg.b.tolist()):
            v = ((((t << 1) | 1) << bw | (y & ((1 << bw) - 1))) << aw) | (x & ((1 << aw) - 1))
            lines.append(_hex(v, word))
        count += seg.a.size
    bounds.append(t0 + period * count)   # the drain after the last operation is not counted
    (workdir / "stim.hex").write_text("\n".join(lines) + "\n")
    (workdir / "netlist_sim.v").write_text(nl.to_verilog(module))
    (workdir / "tb.v").write_text(_testbench(nl.ports, module, count, word, fields, latency,
                                             period, timescale, top))
    return count, bounds


def simulate_activity(nl: Netlist, segments: list[Segment], workdir: Path, latency: int) -> list[dict]:
    """Simulate ``nl`` over ``segments`` back to back; return per-operation activity per segment.

    ``nl`` must have the multiplier ports (``a``, ``b``, ``in_valid``, ``p``, ``out_valid``,
    ``clk``, ``rst``, optionally ``trunc``).

    Raises
    ------
    ActivityError
        If a product differs from the golden model (the message names the first one).
    ToolError
        If Icarus Verilog is missing or fails.
    """
    workdir = Path(workdir)
    count, bounds = write_bench(nl, segments, workdir, latency, module="qsq_gl_" + nl.top)
    pw = len(nl.ports["p"][1])
    run_tool("iverilog", ["-g2005", "-o", "tb.vvp", "-s", "qsq_activity_tb", "tb.v", "netlist_sim.v"],
             workdir, "iverilog.log")
    run_tool("vvp", ["-n", "tb.vvp"], workdir, "vvp.log")

    # ---- the netlist must compute the golden products, in order, none dropped or duplicated
    got = [int(x, 16) for x in (workdir / "out.hex").read_text().split()]
    want = np.concatenate([s.expected for s in segments]).tolist()
    mask = (1 << pw) - 1
    if len(got) != len(want):
        raise ActivityError(f"{nl.top}: gate-level netlist produced {len(got)} products for "
                            f"{len(want)} operations (see {workdir})")
    for i, (g, w) in enumerate(zip(got, want)):
        if g != (w & mask):
            raise ActivityError(f"{nl.top}: gate-level product {i} is {g:#x}, golden model "
                                f"{w & mask:#x} (see {workdir})")

    # ---- toggles per window
    tg = count_toggles(workdir / "activity.vcd", scope="u", bounds=bounds)
    fanout = nl.fanout()
    clock = nl.clock_nets()
    clock_pins = nl.clock_pins()
    ff_pins: dict[int, int] = {}
    for c in nl.cells:
        if c.type in ("$_DFF_P_", "$_DFF_N_"):
            ck = c.inputs[SEQUENTIAL[c.type][0]]
            if isinstance(ck, int):
                ff_pins[ck] = ff_pins.get(ck, 0) + 1
    nets = {}
    for name in tg.toggles:
        if name.startswith("n") and name[1:].isdigit():
            nets[int(name[1:])] = name
    out = []
    for k, seg in enumerate(segments, start=1):
        n = seg.a.size
        tog = weighted = ffe = cpe = 0
        for nid, name in nets.items():
            c = tg.toggles[name][k]
            if nid in clock:
                r = tg.rises[name][k]
                ffe += r * ff_pins.get(nid, 0)
                cpe += r * clock_pins.get(nid, 0)
            else:
                tog += c
                weighted += c * fanout.get(nid, 0)
        out.append({"stimulus": seg.stimulus, "t": seg.t, "ops": n,
                    "net_toggles": tog / n, "weighted_toggles": weighted / n,
                    "ff_clock_events": ffe / n, "clock_pin_events": cpe / n})
    return out


__all__ += ["ToolError"]
