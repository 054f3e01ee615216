"""ASIC flow (OSU 0.18 um + OpenSTA): the liberty reader, power evaluated by hand from the
library's own numbers, one small multiplier through map + STA + gate-level power, and the one-line
errors when a tool or the library is missing."""

import re

import numpy as np
import pytest

from hw.flow.asic import (CONVENTIONS, AsicError, MappedNetlist, PowerModel, find_liberty,
                          find_sta, simulate_mapped)
from hw.flow.liberty import LibertyError, read_liberty
from hw.flow.tools import ToolError


def _have_tools() -> str | None:
    try:
        find_liberty()
        find_sta()
    except ToolError as exc:
        return str(exc)
    return None


MISSING = _have_tools()
needs_tools = pytest.mark.skipif(MISSING is not None, reason=f"ASIC tools missing: {MISSING}")

TINY_LIB = r"""
library (tiny) {
  time_unit : "1ns"; voltage_unit : "1V"; leakage_power_unit : "1nW";
  capacitive_load_unit (1,pf);
  nom_voltage : 2.0;
  power_lut_template (e2) {
    variable_1 : total_output_net_capacitance;
    variable_2 : input_transition_time;
    index_1 ("1000, 1001"); index_2 ("1000, 1001");
  }
  cell (INV) {
    area : 10;
    cell_leakage_power : 3.0;
    pin (A) { direction : input; capacitance : 0.01; rise_capacitance : 0.02; }
    pin (Y) {
      direction : output; function : "(!A)";
      internal_power () {
        related_pin : "A";
        rise_power (e2) { index_1 ("0.0, 0.1"); index_2 ("0.0, 1.0");
                          values ("1.0, 2.0", \
                                  "3.0, 4.0"); }
        fall_power (e2) { index_1 ("0.0, 0.1"); index_2 ("0.0, 1.0");
                          values ("0.0, 0.0", "0.0, 0.0"); }
      }
    }
  }
}
"""


def test_liberty_reader_and_table_lookup(tmp_path):
    f = tmp_path / "tiny.lib"
    f.write_text(TINY_LIB)
    lib = read_liberty(f)
    inv = lib.cells["INV"]
    assert (inv.area, inv.leakage, lib.voltage, lib.cap_unit) == (10.0, 3.0, 2.0, 1e-12)
    assert inv.pins["A"].load == 0.02          # the rise capacitance, as OpenSTA charges it
    t = inv.pins["Y"].power[0].rise
    # grid points, bilinear interpolation, and linear extrapolation beyond the last index
    assert t.lookup(total_output_net_capacitance=0.1, input_transition_time=1.0) == 4.0
    assert t.lookup(total_output_net_capacitance=0.05, input_transition_time=0.5) == \
        pytest.approx(2.5)
    assert t.lookup(total_output_net_capacitance=0.2, input_transition_time=0.0) == \
        pytest.approx(5.0)


def test_liberty_reader_refuses_garbage(tmp_path):
    f = tmp_path / "bad.lib"
    f.write_text("library (x) { cell (A) { area : 1; }")
    with pytest.raises(LibertyError):
        read_liberty(f)


def test_missing_sta_and_library_are_one_line_naming_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("QSQ_STA", str(tmp_path / "no-sta"))
    with pytest.raises(ToolError, match=r"apt-get install opensta") as e:
        find_sta()
    assert "\n" not in str(e.value)
    monkeypatch.setenv("QSQ_OSU018", str(tmp_path))
    with pytest.raises(ToolError, match=r"apt-get install qflow-tech-osu018") as e:
        find_liberty()
    assert "\n" not in str(e.value)


def test_qsq_asic_stops_on_a_missing_tool_before_any_work(monkeypatch, tmp_path, capsys):
    from golden_model.cli import main

    monkeypatch.setenv("QSQ_STA", str(tmp_path / "no-sta"))
    assert main(["asic", "--designs", "s8xs8-exact", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "apt-get install opensta" in err[0]
    assert not (tmp_path / "out" / "work").exists()


@pytest.mark.parametrize("argv, match", [
    (["--designs", "s8xs8-nope"], "--designs must name designs of the sweep"),
    (["--clock-mhz", "0"], r"--clock-mhz must be a frequency in \[0.1, 5000\] MHz, not 0.0"),
    (["--ops", "3"], "--ops"),
    (["--stimuli", "noise"], "--stimuli must name sets among"),
    (["--variants", "csdz"], "--variants must name variants among"),
])
def test_bad_options_name_the_option(argv, match, tmp_path, capsys):
    from golden_model.cli import main

    base = ["asic", "--out", str(tmp_path / "o")]
    if argv[0] != "--designs":
        base += ["--designs", "s8xs8-exact"]
    assert main(base + argv) == 2
    assert re.search(match, capsys.readouterr().err)
    assert not (tmp_path / "o" / "work").exists()


def test_power_model_refuses_an_unknown_convention():
    with pytest.raises(ValueError, match="convention must be one of"):
        PowerModel(None, None, {}, 0.0, "guess")
    assert CONVENTIONS == ("average", "sta-2.0.17")


@needs_tools
def test_power_of_two_inverters_by_hand_from_the_liberty():
    """a -> INVX1 c0 -> n1 -> INVX1 c1 -> y, one toggle per cycle on n1 and y, 10 ns clock.
    Expected values typed from osu018_stdcells.lib (INVX1: area 16, leakage 0.0221741 nW, A rise
    capacitance 0.00932196 pF, the Y internal_power tables), 1.8 V."""
    lib = read_liberty(find_liberty()[0])
    nl = MappedNetlist("two_inv", {"a": ("input", [2], False), "y": ("output", [4], False)},
                       [("c0", "INVX1", {"A": 2, "Y": 3}), ("c1", "INVX1", {"A": 3, "Y": 4})])
    pins = {"c0/A": (False, 0.06, 0.06), "c0/Y": (False, 0.1, 0.1),
            "c1/A": (False, 0.18, 0.18), "c1/Y": (False, 0.1, 0.1)}
    pm = PowerModel(lib, nl, pins, output_load=0.025)
    p = pm.power(lambda key, net: 1.0 if net in (3, 4) else 0.0, 10.0)
    # c1/Y: load 0.025 pF and slew 0.18 ns are grid points of the tables
    e_c1 = (0.02752 + 0.006332) / 2 + 0.5 * 0.025 * 1.8 ** 2
    # c0/Y: load = c1's A pin, between the load indices 0.005 and 0.0125 at slew index 0.06
    f = (0.00932196 - 0.005) / (0.0125 - 0.005)
    rise = 0.023555 + f * (0.023165 - 0.023555)
    fall = 0.009213 + f * (0.009047 - 0.009213)
    e_c0 = (rise + fall) / 2 + 0.5 * 0.00932196 * 1.8 ** 2
    leak = 2 * 0.0221741e-9
    assert p["energy_per_cycle_pj"] == pytest.approx(e_c0 + e_c1 + leak * 10e-9 * 1e12, rel=1e-9)
    assert p["total_w"] == pytest.approx((e_c0 + e_c1) * 1e-12 / 10e-9 + leak, rel=1e-9)
    assert p["leakage_w"] == pytest.approx(leak, rel=1e-9)
    assert sum(lib.cells[t].area for _, t, _ in nl.cells) == 32.0


@needs_tools
def test_small_multiplier_through_map_sta_and_power(tmp_path):
    """A 4x4 exact multiplier: mapped, timed, simulated (products checked), powered."""
    from hw.flow.asic_report import AsicOptions, measure_design
    from hw.flow.designs import Design, csd_latency
    from hw.flow.options import parse_config_tag

    cfg = parse_config_tag("s4xs4")
    d = Design("exact", cfg, (), csd_latency(cfg))
    res = measure_design(d, AsicOptions(ops=40, stimuli=("uniform",)), tmp_path)
    area, sta = res["area"], res["sta"]
    lib = read_liberty(find_liberty()[0])
    assert area["area_um2"] == sum(lib.cells[t].area * n for t, n in area["by_type"].items())
    assert area["flip_flops"] > 0 and area["cells"] == sum(area["by_type"].values())
    assert 0 < sta["critical_path_ns"] <= sta["min_period_ns"]
    assert sta["fmax_mhz"] == pytest.approx(1e3 / sta["min_period_ns"])
    # the table evaluation in OpenSTA 2.0.17's convention agrees with its report_power
    assert abs(res["sta_check"]["rel"]) < 0.02
    (row,) = res["power"]
    assert row["ops"] == 40 and row["data_toggles"] > 0 and row["clock_toggles"] > 0
    # energy per operation is power x period; dynamic energy is the same at fmax
    assert row["energy_pj"] == pytest.approx(row["power_clock_mw"] * 1e-3 * 10e-9 * 1e12)
    assert row["power_fmax_mw"] > row["power_clock_mw"]
    # OpenSTA's own (vectorless) estimate from the simulated input activity was run at both clocks
    assert row["sta_vectorless_fmax_mw"] > row["sta_vectorless_clock_mw"] > 0
    # the timed run sees at least the zero-delay toggles (glitches only add)
    assert row["data_toggles_timed"] >= row["data_toggles"]
    sdc = (tmp_path / "design.sdc").read_text()
    ins = re.search(r"set_input_delay .*\[get_ports \{([^}]*)\}", sdc)[1].split()
    assert sorted(ins) == ["a", "b", "in_valid", "rst"]      # this design's ports: no trunc


@needs_tools
def test_a_wrong_product_is_an_error(tmp_path):
    from hw.flow.activity import Segment
    from hw.flow.asic import asic_synth
    from hw.flow.designs import Design, csd_latency
    from hw.flow.options import parse_config_tag

    cfg = parse_config_tag("u4xu4")
    d = Design("exact", cfg, (), csd_latency(cfg))
    lib_path, cells_v = find_liberty()
    _, nl = asic_synth(d.verilog(), d.top, tmp_path / "map", lib_path, read_liberty(lib_path))
    a = np.arange(16)
    b = np.full(16, 3)
    good = Segment("uniform", None, a, b, d.golden(a, b))
    simulate_mapped(nl, [good], tmp_path / "ok", d.latency, cells_v)
    bad = Segment("uniform", None, a, b, d.golden(a, b) + (a == 5))
    with pytest.raises(AsicError, match="product 5 is"):
        simulate_mapped(nl, [bad], tmp_path / "bad", d.latency, cells_v)


@needs_tools
def test_qsq_asic_writes_the_report(tmp_path):
    """The command end to end on one small design: tables, CSV, cache; a second run reads it."""
    import json

    from golden_model.cli import main

    out = tmp_path / "asic"
    designs = ("u4xu4-exact", "u4xu4-tam-k2", "u4xu4-tam-k4")
    argv = ["asic", "--config", "u4xu4", "--designs", ",".join(designs), "--ops", "20",
            "--stimuli", "uniform,ws", "--no-glitch", "--out", str(out)]
    assert main(argv) == 0
    index = (out / "index.md").read_text()
    for section in ("## Headline", "## Area and timing", "## Power and energy: stimulus `ws`",
                    "## Cross-check with the power proxy", "## Method"):
        assert section in index
    power = json.loads((out / "power.json").read_text())
    assert {(r["design"], r["stimulus"]) for r in power} == {
        (d, s) for d in designs for s in ("uniform", "ws")}
    assert len(list((out / "cache").glob("*.json"))) == 3
    # the rank cross-check against a proxy table in qsq report's format: a proxy that orders the
    # points as the liberty energy does has Spearman 1, one that reverses them -1
    proxy = tmp_path / "activity.json"
    cols = ["design", "t", "stimulus", "power proxy/op"]
    for sign, rho in ((1, "1"), (-1, "-1")):
        proxy.write_text(json.dumps({"columns": cols, "rows": [
            [r["design"], r["t"], r["stimulus"], sign * r["energy_pj"]] for r in power]}))
        assert main(argv + ["--proxy", str(proxy)]) == 0    # from the cache
        assert json.loads((out / "power.json").read_text()) == power
        text = (out / "index.md").read_text()
        assert f"| uniform | 3 | {rho} |" in text and f"| ws | 3 | {rho} |" in text


TINY_MEM = """
module tiny_mem (input clk, input rst, input we, input [3:0] waddr, input [7:0] wdata,
                 input [3:0] raddr, output reg [7:0] q);
  reg [7:0] mem [0:15];
  reg [7:0] rd;
  always @(posedge clk) if (we) mem[waddr] <= wdata;
  always @(posedge clk) rd <= mem[raddr];
  always @(posedge clk) q <= rst ? 8'd0 : rd + 8'd1;
endmodule
"""


@needs_tools
def test_engine_flow_keeps_memories_times_logic_and_simulates(tmp_path):
    """The engine path on a tiny design: the memory stays a memory (behavioural model in the
    simulation, ports in the STA netlist), OpenSTA times the logic, the counters count."""
    import subprocess

    from hw.flow.asic import run_sta, write_sdc
    from hw.flow.asic_engine import engine_asic_synth

    lib_path, cells_v = find_liberty()
    lib = read_liberty(lib_path)
    area, nl = engine_asic_synth(TINY_MEM, "tiny_mem", tmp_path, lib_path, lib)
    assert list(area["memories"].values()) == [[16, 8]]
    assert area["area_um2"] == sum(lib.cells[t].area * n for t, n in area["by_type"].items())
    sta_nl = nl.sta_netlist()
    assert len(sta_nl.ports["qsq_mrd"][1]) == 8            # read data -> inputs
    assert len(sta_nl.ports["qsq_min"][1]) >= 4 + 4 + 8    # addresses, data, enable -> outputs
    (tmp_path / "netlist.v").write_text(sta_nl.to_verilog())
    ins = [n for n, (di, _, _) in sta_nl.ports.items() if di == "input"]
    outs = [n for n, (di, _, _) in sta_nl.ports.items() if di != "input"]
    write_sdc(tmp_path / "design.sdc", lib, ins, outs)
    sta = run_sta(tmp_path, "tiny_mem", lib_path)
    assert sta["fmax_mhz"] > 0
    # simulation: write 0x41 to word 5, read it back: q = 0x42; the counters count q's toggles
    clk = nl.ports["clk"][1][0]
    nets = sorted(n for n in nl.nets() if n != clk)
    q0 = nl.ports["q"][1][0]
    (tmp_path / "sim.v").write_text(nl.sim_verilog("dut", nets))
    (tmp_path / "tb.v").write_text(f"""`timescale 1ns/10ps
module tb;
  reg clk = 0, rst = 1, we = 0; reg [3:0] waddr = 0, raddr = 0; reg [7:0] wdata = 0;
  wire [7:0] q;
  dut u (.clk(clk), .rst(rst), .we(we), .waddr(waddr), .wdata(wdata), .raddr(raddr), .q(q));
  always #5 clk = ~clk;
  initial begin
    #12 rst = 0; we = 1; waddr = 5; wdata = 8'h41;
    #10 we = 0; raddr = 5;
    #30 $display("q=%h toggles=%0d", q, u.qsq_tc_{q0});
    $finish;
  end
endmodule
""")
    r = subprocess.run(["iverilog", "-g2012", "-o", "t.vvp", "-s", "tb", "tb.v", "sim.v",
                        str(cells_v)], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["vvp", "-n", "t.vvp"], cwd=tmp_path, capture_output=True, text=True)
    m = re.search(r"q=(\w+) toggles=(\d+)", r.stdout)
    assert m and m[1] == "42", r.stdout
    # q bit 0: 0 in reset, 1 after the first read of (unwritten) word 0 + 1, 0 for 0x41 + 1
    assert int(m[2]) == 2
    # the same with the cells' delays and event counters
    (tmp_path / "sim.v").write_text(nl.sim_verilog("dut", nets, timed=True))
    r = subprocess.run(["iverilog", "-g2012", "-gspecify", "-Ttyp", "-o", "t.vvp", "-s", "tb",
                        "tb.v", "sim.v", str(cells_v)], cwd=tmp_path, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["vvp", "-n", "t.vvp"], cwd=tmp_path, capture_output=True, text=True)
    m = re.search(r"q=(\w+) toggles=(\d+)", r.stdout)
    assert m and m[1] == "42" and int(m[2]) == 2, r.stdout
