"""Bitstream-level bench: the packed iCE40 bitstream of ``qsq bitstream``, simulated through its pins.

The bench checks what a board would run, not the RTL: the placed-and-routed configuration that
``icepack`` packed (``qsq_board.asc``, its ASCII form, which the build keeps) is turned back into
a netlist by ``icebox_vlog`` (Debian package ``fpga-icestorm``) -- one Verilog module of LUT
functions, carry chains and flip-flops read out of the configuration bits, with the block RAMs as
``SB_RAM40_4K`` instances carrying their initial contents -- and simulated in Icarus with Yosys's
iCE40 cell models (``ice40/cells_sim.v``, with ``NO_ICE40_DEFAULT_ASSIGNMENTS``).

The stimulus is the one the RTL board bench uses (:func:`sim.tb_board.request_script`, the
protocol encoders of :mod:`hw.boards.protocol` and the replies of
:class:`hw.boards.model.BoardModel`): INFO, TRUNC and INFER requests for test images of the build's
network go in on the UART's ``rx`` pin and every reply byte on ``tx`` is compared with the model,
every logit with the golden model; the class LEDs, the failed LED and the active LED are checked
after each reply (after the pin's inversion). The clock pin runs at the bench's clock; the board's
reset button is held released; the platform's power-on reset runs out before the first request.

A packed-bitstream netlist simulates at a few thousand clock cycles per second: build the board
with a fast UART for this (``qsq bitstream --baud 3000000`` on the iCEBreaker's 12 MHz is 4 clock
cycles per bit) and keep the image count small.

Run on its own: ``python -m sim.tb_bitstream BUILD_DIR`` (a folder written by ``qsq bitstream``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

try:
    import cocotb
except ImportError:  # the runner side only needs the pure-Python parts
    cocotb = None

__all__ = ["ICE40_CELLS", "board_pins", "asc_netlist", "run"]

#: Yosys's iCE40 cell models (Debian ``yosys`` / ``yosys-dev`` install them here).
ICE40_CELLS = Path("/usr/share/yosys/ice40/cells_sim.v")
#: Verilog module name of the netlist read back from the bitstream.
NETLIST_TOP = "qsq_board_asc"
#: Clock cycles of the platform's power-on reset at most (Amaranth's iCE40 platforms hold the
#: reset 15 us after configuration: 180 cycles at 12 MHz), with margin.
POR_CYCLES = 1000


if cocotb is not None:
    @cocotb.test()
    async def bitstream_protocol(dut):
        """Every reply of the bitstream's netlist matches the protocol model and the golden logits."""
        from sim.common import bench_config
        from sim.tb_board import check_protocol

        cfg = bench_config()
        await check_protocol(dut, cfg, cfg["pins"], settle_cycles=POR_CYCLES)


#: Bench model of the iCE40 PLL, which Yosys's cell library declares as a black box: the output
#: clock at the frequency the bitstream's divider bits set from ``QSQ_PLL_FIN_MHZ`` (the board
#: oscillator; ``icebox_vlog`` leaves ``PACKAGEPIN`` unconnected), locked after 16 output cycles.
PLL_MODEL = """// qsq bench model of SB_PLL40_PAD (simple feedback): f_out = f_in (DIVF+1) / ((DIVR+1) 2^DIVQ)
`timescale 1ns / 1ps
module SB_PLL40_PAD (input PACKAGEPIN, output PLLOUTCORE, output PLLOUTGLOBAL,
                     input EXTFEEDBACK, input [7:0] DYNAMICDELAY, output LOCK, input BYPASS,
                     input RESETB, input LATCHINPUTVALUE, output SDO, input SDI, input SCLK);
%(params)s
    reg clk = 1'b0;
    reg locked = 1'b0;
    real period_ns;
    integer k;
    assign PLLOUTCORE = clk;
    assign PLLOUTGLOBAL = clk;
    assign LOCK = locked;
    assign SDO = 1'b0;
    initial begin
        period_ns = 1000.0 * (DIVR + 1) * (1 << DIVQ) / (`QSQ_PLL_FIN_MHZ * (DIVF + 1));
        for (k = 0; k < 32; k = k + 1) #(period_ns / 2) clk = ~clk;
        locked = 1'b1;
        forever #(period_ns / 2) clk = ~clk;
    end
endmodule
"""


def _cell_library(out: Path, pll: bool) -> list[Path]:
    """The cell models to compile: Yosys's, and with ``pll`` a copy without its black-box PLLs
    plus :data:`PLL_MODEL`."""
    if not pll:
        return [ICE40_CELLS]
    text = ICE40_CELLS.read_text()
    m = re.search(r"module SB_PLL40_PAD\b.*?\);(.*?)endmodule", text, re.S)
    if m is None:
        raise RuntimeError(f"{ICE40_CELLS}: no SB_PLL40_PAD declaration to model")
    params = "\n".join("    " + line.strip() for line in m.group(1).strip().splitlines()
                       if line.strip().startswith("parameter"))
    start = text.rfind("(* blackbox *)", 0, m.start())
    start = start if start >= 0 and text[start:m.start()].strip() == "(* blackbox *)" else m.start()
    out.mkdir(parents=True, exist_ok=True)
    cells, model = out / "ice40_cells_sim.v", out / "qsq_pll_model.v"
    cells.write_text(text[:start] + text[m.end():])
    model.write_text(PLL_MODEL % {"params": params})
    return [cells, model]


def _pll_net(netlist: str) -> str:
    """The net the PLL's global output drives in an ``icebox_vlog`` netlist."""
    m = re.search(r"SB_PLL40_PAD\b.*?\.PLLOUTGLOBAL\((\w+)\)", netlist, re.S)
    if m is None:
        raise RuntimeError("the build has a PLL but its netlist has no SB_PLL40_PAD output")
    return m.group(1)


def _pcf_ports(pcf: Path) -> set[str]:
    return set(re.findall(r"^set_io\s+(\S+)", pcf.read_text(), re.M))


def board_pins(spec, pcf: Path, class_width: int) -> dict:
    """The :data:`sim.tb_board.CORE_PINS`-style map of a board build's pins.

    Port names are Amaranth's (``<resource>_<number>__io``, ``uart_0__rx__io``) and must appear in
    the build's pin constraint file ``pcf``; the inversions are the platform's.
    """
    from hw.boards.top import board_led_map

    plat = spec.make_platform()
    ports = _pcf_ports(pcf)

    def port(name: str) -> str:
        if name not in ports:
            raise ValueError(f"{pcf}: no pin {name!r} (found {sorted(ports)})")
        return name

    def inverted(res, n) -> bool:
        return bool(plat.lookup(res, n).ios[0].invert)

    leds = board_led_map(spec, class_width)
    btn = spec.reset_button
    return {"clk": port(f"{plat.default_clk}_0__io"),
            "rx": port("uart_0__rx__io"), "tx": port("uart_0__tx__io"),
            # the button pin at its pressed level (the bench releases it after a few cycles)
            "reset": [port(f"button_{btn}__io"), 0 if inverted("button", btn) else 1],
            "cls_bits": [[port(f"led_{n}__io"), inverted("led", n)] for n in leds["cls"]],
            "failed": [port(f"led_{leds['failed']}__io"), inverted("led", leds["failed"])],
            "active": [port(f"led_{leds['active']}__io"), inverted("led", leds["active"])]}


#: Where Debian's ``fpga-icestorm`` keeps its Python modules (``icebox``: the chip database).
ICESTORM_PYTHON = Path("/usr/share/fpga-icestorm/python")
_DECL = re.compile(r"^(?:wire|reg)\s+(\w+)\b")
_SEGMENT = re.compile(r"^// \((\d+), (\d+), '([^']+)'\)")
_SPRAM_BUSES = {"ADDRESS": 14, "DATAIN": 16, "MASKWREN": 4, "DATAOUT": 16}
_SPRAM_BITS = ("WREN", "CHIPSELECT", "CLOCK", "STANDBY", "SLEEP", "POWEROFF")


def _icebox():
    """Debian ``fpga-icestorm``'s ``icebox`` module (the iCE40 chip database)."""
    import sys

    if str(ICESTORM_PYTHON) not in sys.path:
        sys.path.insert(0, str(ICESTORM_PYTHON))
    try:
        import warnings

        with warnings.catch_warnings():       # icebox's regular expressions: invalid escapes
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            import icebox
    except ImportError:
        raise RuntimeError(f"icebox (Debian package fpga-icestorm, {ICESTORM_PYTHON}) not found: "
                           "it maps the bitstream's SPRAM and DSP pins") from None
    return icebox


def _nets_by_segment(netlist: str) -> dict:
    """``(x, y, segment) -> net`` from ``icebox_vlog``'s comments on each net's segments."""
    net_of, current = {}, None
    for line in netlist.splitlines():
        m = _DECL.match(line)
        if m:
            current = m.group(1)
            continue
        m = _SEGMENT.match(line)
        if m and current is not None:
            net_of[(int(m.group(1)), int(m.group(2)), m.group(3))] = current
        elif not line.startswith("//"):
            current = None
    return net_of


#: ``SB_MAC16`` parameters of more than one bit (icebox names their bits ``NAME_0``, ``NAME_1``).
_MAC16_WIDE = ("TOPOUTPUT_SELECT", "TOPADDSUB_LOWERINPUT", "TOPADDSUB_CARRYSELECT",
               "BOTOUTPUT_SELECT", "BOTADDSUB_LOWERINPUT", "BOTADDSUB_CARRYSELECT")
#: ``SB_MAC16`` inputs that are 1 when nextpnr routes nothing to them (the clock enable).
_MAC16_HIGH = ("CE",)


def dsp_cells(netlist: str, asc: Path) -> tuple[str, int]:
    """``SB_MAC16`` instances for the DSP blocks a bitstream uses, which ``icebox_vlog`` leaves out
    of its netlist (it writes no cell for the UltraPlus's DSP tiles).

    As :func:`spram_cells`: icebox's chip database names the routing segment of every pin
    (``get_dsp_nets_db``), ``icebox_vlog``'s comments say which net that is. The block's
    configuration (registers, output selects, signedness, ...) is read from its configuration
    bits in the ``.asc`` (``get_dsp_config_db``). A DSP tile with any pin routed is in use; its
    unrouted inputs are 0 (the clock enable 1). Returns the instances' Verilog and their count.
    """
    icebox = _icebox()
    ic = icebox.iceconfig()
    ic.read_file(str(asc))
    net_of = _nets_by_segment(netlist)
    cells = []
    for x, y in sorted(ic.dsp_tiles[0]):
        pins = ic.get_dsp_nets_db(x, y)
        if not any(seg in net_of for seg in pins.values()):
            continue
        params = {}
        for key, (tx, ty, cbit) in ic.get_dsp_config_db(x, y).items():
            entry = next(e for e in ic.tile_db(tx, ty) if e[1] == "IpConfig" and e[2] == cbit)
            row, col = re.match(r"B(\d+)\[(\d+)\]", entry[0][0]).groups()
            params[key] = int(ic.tile(tx, ty)[int(row)][int(col)])
        for wide in _MAC16_WIDE:
            params[wide] = params.pop(f"{wide}_0") | params.pop(f"{wide}_1") << 1
        name = f"dsp_{x}_{y}"

        def net(pin):
            return net_of.get(pins[pin], "1'b1" if pin in _MAC16_HIGH else "1'b0")

        conns = [f".{p}({net(p)})" for p in pins if not re.fullmatch(r"[ABCDO]_\d+", p)
                 and p != "CO"]
        for bus in "ABCD":
            conns.append(f".{bus}({{{', '.join(net(f'{bus}_{i}') for i in reversed(range(16)))}}})")
        outs = [net_of.get(pins[f"O_{i}"], f"{name}_nc[{i}]") for i in reversed(range(32))]
        conns.append(f".O({{{', '.join(outs)}}})")
        plist = ", ".join(f".{k}({v})" for k, v in sorted(params.items()))
        cells.append(f"wire [31:0] {name}_nc;\nSB_MAC16 #({plist}) {name} (\n    "
                     + ",\n    ".join(conns) + "\n);")
    return "\n".join(cells), len(cells)


def spram_cells(netlist: str, device: str = "5k") -> tuple[str, int]:
    """``SB_SPRAM256KA`` instances for the SPRAMs a bitstream uses, which ``icebox_vlog`` leaves
    out of its netlist (it writes no cell for the UltraPlus's SPRAM tiles).

    ``netlist`` must keep ``icebox_vlog``'s comments on the routing segments of each net: icebox's
    chip database (``icebox.spram_db``) names the segment of every SPRAM pin, which identifies the
    net connected to it. An SPRAM whose ``CHIPSELECT`` is routed is in use; its unrouted inputs
    are 0. Returns the instances' Verilog and how many there are.
    """
    icebox = _icebox()
    net_of = _nets_by_segment(netlist)
    cells = []
    for (x, y, z), pins in sorted(icebox.spram_db[device].items()):
        def net(pin):
            return net_of.get(pins[pin], "1'b0")      # an unrouted input is 0

        if pins["CHIPSELECT"] not in net_of:
            continue
        name = f"spram_{x}_{y}_{z}"
        conns = [f".{p}({net(p)})" for p in _SPRAM_BITS]
        for bus, width in _SPRAM_BUSES.items():
            # an output bit no net reads goes to a wire of its own
            bits = [net_of.get(pins[f"{bus}_{i}"], f"{name}_nc[{i}]" if bus == "DATAOUT"
                               else "1'b0") for i in reversed(range(width))]
            conns.append(f".{bus}({{{', '.join(bits)}}})")
        cells.append(f"wire [15:0] {name}_nc;\nSB_SPRAM256KA {name} (\n    "
                     + ",\n    ".join(conns) + "\n);")
    return "\n".join(cells), len(cells)


def asc_netlist(build: Path, out: Path) -> Path:
    """``icebox_vlog`` of ``build/qsq_board.asc`` (ports named by the build's ``.pcf``) -> ``out``.

    Raises
    ------
    RuntimeError
        If ``icebox_vlog`` is missing (one line naming the package) or fails.
    FileNotFoundError
        If the build folder has no ``.asc`` / ``.pcf`` (not an iCE40 build of ``qsq bitstream``).
    """
    from hw.boards.top import TOP_NAME

    asc, pcf = build / f"{TOP_NAME}.asc", build / f"{TOP_NAME}.pcf"
    for f in (asc, pcf):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: no such file (build an iCE40 board with qsq bitstream "
                                    "first)")
    exe = shutil.which("icebox_vlog")
    if exe is None:
        raise RuntimeError("icebox_vlog not found: install the Debian package fpga-icestorm "
                           "(apt-get install fpga-icestorm)")
    # the comments on routing segments locate the SPRAM pins (spram_cells); dropped afterwards
    proc = subprocess.run([exe, "-p", str(pcf), "-n", NETLIST_TOP, str(asc)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"icebox_vlog failed on {asc}: {proc.stderr.strip()[-500:]}")
    text = proc.stdout
    for what, (cells, n) in (("SPRAM", spram_cells(text)), ("DSP", dsp_cells(text, asc))):
        if n:
            end = text.rindex("endmodule")
            text = (text[:end] + f"// {n} {what}(s) added by sim.tb_bitstream "
                    f"({'spram' if what == 'SPRAM' else 'dsp'}_cells)\n" + cells + "\n"
                    + text[end:])
    text = "\n".join(ln for ln in text.splitlines() if not _SEGMENT.match(ln)) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def run(build, images=3, truncs=None, errors: bool = False, waves: bool | None = None,
        progress: bool = False, fault: str | None = None) -> dict:
    """Simulate the bitstream of the iCE40 build folder ``build`` on its network's test images.

    Parameters
    ----------
    build : path
        A folder written by :func:`hw.boards.build.build_bitstream` (``report.json``, the
        ``.asc`` and ``.pcf``).
    images : int or list of int
        How many test images (or which) are classified at every setting of ``truncs``.
    truncs : list, optional
        Truncation settings sent with TRUNC (each an int or per-layer list; default: one TRUNC
        to the build's levels after reset).
    errors : bool
        Also provoke every error reply once (as the RTL bench does).
    fault : str, optional
        Bench self-test: ``"reply"`` changes one expected reply byte, so the run must fail.

    Raises
    ------
    ValueError
        If ``build`` is not an iCE40 build (ECP5 bitstreams have no reader here).
    AssertionError
        On any mismatch (the summary records it first).
    """
    from hw.boards import protocol as P
    from hw.boards.build import COMMITTED_MODELS, build_program
    from hw.boards.model import BoardModel
    from hw.boards.spec import board_spec
    from hw.engine.workloads import file_workload, workload

    from .common import build_root, run_bench
    from .tb_board import inject_fault, levels_tag, request_script, script_settings

    build = Path(build)
    rep_path = build / "report.json"
    if not rep_path.is_file():
        raise FileNotFoundError(f"{rep_path}: no such file (not a qsq bitstream build folder)")
    rep = json.loads(rep_path.read_text())
    if rep.get("family", "ice40") != "ice40":
        raise ValueError(f"build must be an iCE40 build (icebox_vlog reads iCE40 bitstreams), not "
                         f"a {rep.get('family')} build ({build})")
    if not ICE40_CELLS.is_file():
        raise RuntimeError(f"{ICE40_CELLS} not found: install the Debian package yosys (its iCE40 "
                           "cell models)")
    spec = board_spec(rep["board"])
    eng = rep["engine"]
    model_file = eng.get("model_file")
    prog = build_program(eng["pe"], eng["lanes"], model_file, eng.get("trunc", 0),
                         eng.get("weights", "rom"))
    wl = (workload(model_file or "digits") if model_file in (None,) + COMMITTED_MODELS
          else file_workload(model_file))
    levels, idx = script_settings(truncs or [], images, len(prog.layers))
    divisor = int(rep["divisor"])
    # the bridge's timeout as BoardTop builds it (a BoardCore made only to ask would be an
    # elaboratable never elaborated)
    timeout = P.DEFAULT_TIMEOUT_BITS * divisor
    if not levels:
        levels = [list(BoardModel(prog).levels)]     # a TRUNC to the levels after reset
    steps = inject_fault(request_script(prog, wl, eng["pe"], idx, levels, errors, timeout,
                                        divisor), fault)
    tag = (f"bitstream_{spec.name}_{wl.name}_{eng['pe']}{eng['lanes']}"
           f"{'_spram' if eng.get('weights') == 'spram' else ''}_t{levels_tag(levels)}_n{len(idx)}"
           f"{'_err' if errors else ''}{'_fault-' + fault if fault else ''}")
    out = build_root("icarus") / tag
    out.mkdir(parents=True, exist_ok=True)
    (out / "steps.json").write_text(json.dumps(steps) + "\n")
    netlist = asc_netlist(build, out / "netlist" / f"{NETLIST_TOP}.v")
    pins = board_pins(spec, build / "qsq_board.pcf", prog.widths["class"])
    pll = bool(rep.get("pll"))
    cells = _cell_library(out / "cells", pll)
    defines = ["-DNO_ICE40_DEFAULT_ASSIGNMENTS"]
    if pll:
        # the PLL model makes the clock; the bench counts its cycles and checks its frequency
        pins.update(clk=_pll_net(netlist.read_text()), clock_from_design=True,
                    clock_mhz=rep["clock_mhz"])
        defines.append(f"-DQSQ_PLL_FIN_MHZ={float(rep['oscillator_mhz'])!r}")
    params = {"board": spec.name, "pe": eng["pe"], "lanes": eng["lanes"], "truncs": levels,
              "images": len(idx), "errors": errors, "build": str(build)}
    try:
        summary = run_bench(module_name=NETLIST_TOP, params=params, tag=tag,
                            test_module="sim.tb_bitstream",
                            bench={"divisor": divisor, "pins": pins, "progress": progress},
                            sim="icarus", waves=waves, verilog=netlist.read_text(),
                            build_args=defines, extra_sources=cells)
    except AssertionError:
        if fault is None:
            _record(build, rep, out, levels, idx, errors, passed=False)
        raise
    if fault is None:
        _record(build, rep, out, levels, idx, errors, passed=True)
    return summary


def _record(build: Path, rep: dict, out: Path, levels, idx, errors: bool, passed: bool) -> None:
    """The verification's outcome into the build's ``report.json`` / ``report.md``."""
    from hw.boards.build import write_report

    bench_file = out / "bench.json"
    bench = json.loads(bench_file.read_text()) if bench_file.is_file() else {}
    rep["verify"] = {"passed": passed, "images": idx, "truncs": levels, "errors": errors,
                     "requests": bench.get("vectors"), "inferences": bench.get("inferences"),
                     "mismatches": bench.get("mismatches", ["the bench wrote no results"]),
                     "seconds": bench.get("seconds"), "results": str(out)}
    write_report(rep, build)


def main(argv=None) -> int:
    from .common import _int_type, main_args, run_main

    p = main_args("Simulate the netlist of a packed iCE40 bitstream (qsq bitstream's output "
                  "folder) through its UART pins against the protocol model and the golden logits.")
    p.add_argument("build", help="the folder qsq bitstream wrote (qsq_board.asc, report.json)")
    p.add_argument("--images", type=_int_type(1, 10_000), default=3,
                   help="test images per truncation setting (default 3)")
    p.add_argument("--trunc", action="append", default=None,
                   help="truncation level, or comma-separated per-layer levels, sent with TRUNC "
                        "before the images; repeatable (default: the build's levels after reset)")
    p.add_argument("--errors", action="store_true", help="also provoke every error reply once")
    args = p.parse_args(argv)
    if args.sim not in (None, "icarus"):
        p.error(f"--sim must be icarus for a bitstream netlist (Yosys's iCE40 cell models), "
                f"not {args.sim!r}")
    truncs = [[int(v) for v in t.split(",")] if "," in t else int(t) for t in (args.trunc or [])]
    return run_main(p, run, build=args.build, images=args.images, truncs=truncs or None,
                    errors=args.errors, waves=args.waves or None, progress=True)


if __name__ == "__main__":
    raise SystemExit(main())
