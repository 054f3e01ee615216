"""The report's prose and number conventions, in one place.

Units: every relative figure is a **fraction** (``0.62`` of the exact multiplier's, never
``62 %``); error metrics are fractions too. A figure that was not measured or does not apply is
an en dash ``–`` (:data:`NA`), and so is the separator of a range (``33.9–38.1``); a plain
hyphen never stands for either.
"""

from __future__ import annotations

__all__ = ["NA", "ALWAYS_ZERO", "POWER_PROXY_DOC", "num", "ratio", "span", "method_lines"]

#: Not measured / not applicable (the same mark as :func:`golden_model.tables.fmt` uses for None).
NA = "–"

#: Mark of an operating point whose product is 0 for every operand pair.
ALWAYS_ZERO = "always 0"

POWER_PROXY_DOC = (
    "power proxy = fanout-weighted data-net toggles / 2 + clock-pin rising edges, per operation: "
    "both in units of one full charge-discharge cycle of one cell input pin (a data net toggling "
    "twice, 0->1->0, charges and discharges its fanout once; a clock pin does so every cycle)")


def num(x, digits: int = 3) -> str:
    """A measured number for prose: ``digits`` significant digits, ints as they are, None as NA."""
    if x is None:
        return NA
    if isinstance(x, int):
        return str(x)
    if x != x:  # NaN
        return NA
    return f"{x:.{digits}g}"


def ratio(x) -> str:
    """A fraction of a reference (e.g. of the exact multiplier's figure), three digits."""
    return num(x, 3)


def span(lo, hi, digits: int = 3) -> str:
    """A range ``lo–hi`` (en dash), or NA."""
    if lo is None or hi is None:
        return NA
    return f"{num(lo, digits)}{NA}{num(hi, digits)}"


def method_lines(opts, *, seeds: tuple, vcd: dict | None, sweep: str) -> list[str]:
    """The method section of ``index.md`` (a list of Markdown lines)."""
    lines = [
        "## Method", "",
        "- **Generic area**: Yosys `synth -flatten`, flip-flops legalized to plain `$_DFF_P_` "
        "(sync reset and clock enable become gates before D), `abc -g` "
        "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX; transistors from `stat -tech cmos`; logic "
        "depth = most gates on a register-to-register or port path (clock-gate cells excluded).",
        "- **iCE40 UP5K**: `synth_ice40` without DSP blocks (LUT4/carry/FF of the design alone); "
        "fmax from nextpnr-ice40 (`--up5k --package sg48`, `constraints/icebreaker.pcf`) on a "
        "**timing harness**: every input fed from a shift register loaded through one pin, every "
        "output captured in a register shifted out through one pin, so the design's own "
        "register-to-register paths set fmax, not the pads or the pin count. Placement is "
        f"random: each design is placed and routed with {len(seeds)} seeds "
        f"({', '.join(map(str, seeds))}); fmax is their **median**, with the min{NA}max range "
        "beside it. ICG designs have no iCE40 figures: latch-based clock gates are an ASIC style "
        "(iCE40 has no latches; on an FPGA the enable style is the one to use).",
        "- **Switching activity**: the generic gate-level netlist (not the RTL) is simulated by "
        f"Icarus Verilog, zero delay, one operation per cycle, {opts.ops} operations per "
        "stimulus segment (every truncation level for runtime designs); toggles per net come "
        "from the value change dump; every product of the netlist is checked against the golden "
        "model first. Zero-delay simulation counts settled transitions only (no glitches).",
        f"- **{POWER_PROXY_DOC}**. Clock-enable gating keeps every flip-flop clock pin toggling; "
        "an ICG removes them and pays for its own latch and gate pins, which are counted. "
        "Energy per operation is proportional to the power proxy per operation.",
        "- **Stimuli**: `uniform` random operands; `stream`: weights from the 3-bit codebook "
        "(gaussian filters encoded by `golden_model.codec.encode_layer`, decoded) with ReLU-like "
        "activations (half of them zero); `ws`: weight-stationary, each weight held for 32 "
        "cycles; `trace-*`: operands recorded from the network, when present.",
        "- **Error metrics** from the golden model over all operand pairs (uniform). A level "
        "whose product is 0 for every pair is marked *always 0*: it measures the cost of a "
        "switched-off multiplier, not a design choice, so it is left out of the Pareto front "
        "and the headline.",
        "- **Units**: every relative figure is a fraction of the reference (the exact multiplier "
        f"of the same operand formats under the same stimulus); {NA} marks a figure that was not "
        "measured or does not apply.",
    ]
    if vcd:
        lines.append(
            f"- **VCD reader**: toggles are counted by `{vcd['used']}`. Measured in this run on "
            f"{vcd['files']} of its waves ({num(vcd['mbytes'])} MB): the `pywellen` library took "
            f"{ratio(vcd['ratio'])} of the time of the hand-written Python reader "
            f"({num(vcd['wellen_s'])} s vs {num(vcd['python_s'])} s), with identical counts.")
    else:
        lines.append("- **VCD reader**: `pywellen` (no waves were simulated in this run, so the "
                     "two readers were not timed).")
    lines.append(f"- **Sweep**: {sweep}")
    return lines + [""]
