"""Engine report flow: memories kept through generic synthesis, activity counters against a value
change dump, logit checks, resource-table parsing (all small; the full report is
``make report-engine``)."""

import json

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from hw.flow.engine_designs import EngineOptions
from hw.flow.engine_energy import EngineEnergyError, parse_energy
from hw.flow.engine_report import insert_section
from hw.flow.engine_synth import generic_engine_synth
from hw.flow.engine_tables import RESOURCE_COLUMNS, parse_resource_table, resource_table, trunc_text
from hw.flow.memnet import load_mem_netlist
from hw.flow.tools import run_tool
from hw.flow.vcd import count_toggles
from hw.verilog import convert

PERIOD = 10


class _Tiny(wiring.Component):
    """A 16 x 8 RAM (read port first, old data on a collision, as in the engine's 1R1W memories)
    read every cycle and written when ``we``, with an accumulator."""

    din: In(8)
    we: In(1)
    dout: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=8, depth=16, init=[7 * i for i in range(16)])
        rp, wp = mem.read_port(), mem.write_port()
        raddr, waddr, acc = Signal(4), Signal(4), Signal(8)
        m.d.sync += [raddr.eq(raddr + 1), acc.eq(acc + rp.data)]
        with m.If(self.we):
            m.d.sync += waddr.eq(waddr + 5)
        m.d.comb += [wp.addr.eq(waddr), wp.data.eq(self.din ^ acc), wp.en.eq(self.we),
                     rp.addr.eq(raddr), self.dout.eq(acc)]
        return m


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    work = tmp_path_factory.mktemp("tiny")
    area = generic_engine_synth(convert(_Tiny(), "tiny"), "tiny", work)
    nl = load_mem_netlist(json.loads((work / "netlist.json").read_text()), "tiny")
    return work, area, nl


def test_memories_kept(tiny):
    _, area, nl = tiny
    assert area["memories"] == 1 and area["flip_flops"] > 0
    (mem,) = nl.memories
    assert (mem.width, mem.size, len(mem.rd), len(mem.wr)) == (8, 16, 1, 1)
    assert mem.init == [7 * i for i in range(16)]
    # the 4-bit write address loads only when `we`: one clock gate (latch + AND) in front of it
    free, gated = nl.clock_pins()
    assert [(unit, pins) for _, unit, pins in gated] == [("control", 4)]
    # free-running clock: the other flip-flops, the clock gate's latch and AND, two memory ports
    assert free == {"control": area["flip_flops"] - 4 + 2, f"mem:{mem.name}": 2}
    assert nl.clock_pin_count() == area["flip_flops"] - 4 + 2 + 2


def test_counters_equal_vcd_toggles(tiny):
    """The in-simulation counters count exactly the toggles a value change dump shows."""
    work, _, nl = tiny
    rng = np.random.default_rng(3)
    din = rng.integers(0, 256, 40).tolist()
    we = rng.integers(0, 2, 40).tolist()
    (work / "dut.v").write_text(nl.to_verilog("tiny_gl", counters=True))
    mem = nl.memories[0].ident
    stim = "\n".join(f"    din <= {d}; we <= {w}; @(posedge clk);" for d, w in zip(din, we))
    (work / "tb.v").write_text(f"""`timescale 1ns/1ns
module tb;
  reg clk = 0, rst = 1; reg [7:0] din = 0; reg we = 0; wire [7:0] dout;
  tiny_gl u (.clk(clk), .rst(rst), .din(din), .we(we), .dout(dout));
  always #{PERIOD // 2} clk = ~clk;
  initial begin
    $dumpfile("t.vcd"); $dumpvars(1, u);
    @(posedge clk); @(posedge clk); rst <= 0;
    @(posedge clk); @(negedge clk);
    $display("A %0t %0d %0d %0d %0d %0d", $time, u.qsq_act_toggles, u.qsq_act_weighted,
             u.qsq_rd_{mem}, u.qsq_wr_{mem}, u.qsq_ck_control);
    @(posedge clk);
{stim}
    @(negedge clk);
    $display("B %0t %0d %0d %0d %0d %0d", $time, u.qsq_act_toggles, u.qsq_act_weighted,
             u.qsq_rd_{mem}, u.qsq_wr_{mem}, u.qsq_ck_control);
    $finish;
  end
endmodule
""")
    run_tool("iverilog", ["-g2012", "-o", "tb.vvp", "-s", "tb", "tb.v", "dut.v"], work, "iv.log")
    run_tool("vvp", ["-n", "tb.vvp"], work, "vvp.log")
    snaps = {}
    for ln in (work / "vvp.log").read_text().splitlines():
        if ln[:2] in ("A ", "B "):
            snaps[ln[0]] = [int(v) for v in ln.split()[1:]]
    (ta, *a), (tb, *b) = snaps["A"], snaps["B"]
    tg = count_toggles(work / "t.vcd", scope="u", bounds=[ta - PERIOD // 2, tb - PERIOD // 2])
    fo, clock, data = nl.fanout(), nl.clock_nets(), set(nl.data_nets())
    toggles = weighted = 0
    for name, counts in tg.toggles.items():
        if name.startswith("n") and name[1:].isdigit() and int(name[1:]) not in clock:
            assert int(name[1:]) in data
            toggles += counts[1]
            weighted += counts[1] * fo.get(int(name[1:]), 0)
    assert toggles > 0
    assert [b[0] - a[0], b[1] - a[1]] == [toggles, weighted]
    edges = (tb - ta) // PERIOD
    assert b[2] - a[2] == 8 * edges                      # the read port is always enabled
    assert b[3] - a[3] == 8 * sum(we)                    # 8 bits per enabled write
    # gated clock-pin events: the gated clock's rising edges (from the dump) x its 4 flip-flops
    (gclk,) = nl.clock_nets() - {nl.port_net("clk")}
    assert tg.toggles[f"n{gclk}"][1] == 2 * sum(we) > 0          # a rise and a fall each
    assert b[4] - a[4] == 4 * sum(we)


def _dump(path, nl, logits, cycles=(100, 100)):
    """A testbench dump: per image, counters rising by 20 toggles, 40 weighted, 6 gated clock
    events, 800 bits read and 64 written."""
    step = {"toggles": 20, "weighted": 40, "clock": 6, "read": 800, "write": 64}
    lines = []
    for i, row in enumerate(logits):
        a = [10 + 200 * i] + [5] * len(nl.counter_names())
        b = [a[0] + cycles[i]] + [5 + step[k] for k, _, _ in nl.counter_names()]
        lines.append("S 0 0 " + " ".join(map(str, [i] + a)))
        lines += [f"L 0 {i} {k} {v}" for k, v in enumerate(row)]
        lines.append("S 1 0 " + " ".join(map(str, [i] + b)))
    path.write_text("\n".join(lines) + "\n")


def test_parse_energy_means_and_mismatch(tiny, tmp_path):
    _, _, nl = tiny
    exp = np.array([[[3, -1, 7], [0, 2, -5]]])
    _dump(tmp_path / "e.txt", nl, exp[0])
    (row,) = parse_energy(tmp_path / "e.txt", nl, [[0, 0]], exp, cycles=100)
    assert row["cycles"] == 100 and row["net_toggles"] == 20 and row["weighted_toggles"] == 40
    assert row["clock_pin_events"] == 100 * nl.clock_pin_count() + 6
    assert row["units"]["control"]["toggles"] == 20
    assert row["mem_read_bits"] == {nl.memories[0].name: 800.0}
    mem = nl.memories[0].name
    # 800 bits are 100 reads of the 8-bit memory, 64 bits 8 writes
    parse_energy(tmp_path / "e.txt", nl, [[0, 0]], exp, traffic={mem: {"reads": 100, "writes": 8}})
    with pytest.raises(EngineEnergyError, match=rf"memory {mem}: 100 reads per inference \(8-bit "
                                                rf"words\), the compiler predicts 99"):
        parse_energy(tmp_path / "e.txt", nl, [[0, 0]], exp, traffic={mem: {"reads": 99,
                                                                           "writes": 8}})
    bad = exp.copy()
    bad[0, 1, 2] += 1
    with pytest.raises(EngineEnergyError, match=r"gate-level logits of image 1 at truncation "
                                                r"\[0, 0\] are \[0, 2, -5\], golden model "
                                                r"\[0, 2, -4\]"):
        parse_energy(tmp_path / "e.txt", nl, [[0, 0]], bad)
    _dump(tmp_path / "c.txt", nl, exp[0], cycles=(100, 101))
    with pytest.raises(EngineEnergyError, match="inferences took \\[100, 101\\] cycles"):
        parse_energy(tmp_path / "c.txt", nl, [[0, 0]], exp, cycles=100)


def test_resource_table_parse():
    row = {"board": "up5k", "workload": "digits", "style": "bucket", "lanes": 16, "LUT4": 3337,
           "FF": 2524, "carry": 1168, "EBR": 16, "SPRAM": 0, "DSP": 0, "packed_lc": [4850, 5280],
           "fits": True, "why": "", "fmax_mhz": 27.6, "fmax_min": 27.0, "fmax_max": 28.1,
           "seeds": 3, "cycles": 5004, "images_per_s": 5515.6, "weight_bits": 41904,
           "weight_ratio": 0.375}
    (got,) = parse_resource_table(resource_table([row]))
    assert got["LUT4"] == "3337" and got["block RAM"] == "16 EBR, 0 SPRAM"
    assert got["fmax MHz median (min–max)"] == "27.6 (27.0–28.1, 3 seeds)"
    assert got["packed logic cells"] == "4850 / 5280" and got["fits"] == "yes"
    with pytest.raises(ValueError, match="resource table columns must be"):
        parse_resource_table(["| a | b |", "|---|---|"])
    lines = resource_table([row])
    with pytest.raises(ValueError, match=f"resource table row has 2 cells, not "
                                         f"{len(RESOURCE_COLUMNS)}"):
        parse_resource_table(lines + ["| x | y |"])


def test_insert_section_replaces(tmp_path):
    index = tmp_path / "index.md"
    index.write_text("# qsq report\n\nbody\n")
    insert_section(index, "## Engine\none")
    insert_section(index, "## Engine\ntwo")
    text = index.read_text()
    assert text.startswith("# qsq report\n") and text.count("## Engine") == 1
    assert "two" in text and "one" not in text and text.rstrip().endswith("body")


def test_trunc_text_and_options():
    assert trunc_text([0, 0, 0]) == "t=0" and trunc_text([1, 1, 0, 2]) == "t=1/1/0/2"
    with pytest.raises(ValueError, match=r"--engine-boards must name boards among up5k, ecp5, "
                                         r"not 'ice'"):
        EngineOptions(boards=("ice",))
    with pytest.raises(ValueError, match=r"--ecp5-device must be one of 12k, 25k, 45k, 85k, "
                                         r"not '5k'"):
        EngineOptions(ecp5_device="5k")


@pytest.mark.slow
@pytest.mark.parametrize("style", ["bucket", "int8"])
def test_synthetic_engine_gate_level_bit_exact(style, tmp_path):
    """The synthetic engine through the whole energy flow: logits equal the golden model's and
    every inference takes the scheduled cycles (simulate_engine raises otherwise)."""
    from hw.engine.workloads import golden_logits, workload
    from hw.flow.engine_designs import EngineDesign
    from hw.flow.engine_energy import simulate_engine

    d = EngineDesign("synthetic", style, 4)
    wl = workload("synthetic")
    generic_engine_synth(d.verilog(), "qsq_engine", tmp_path)
    nl = load_mem_netlist(json.loads((tmp_path / "netlist.json").read_text()), "qsq_engine")
    n_layers = len(wl.model(d.pe).layers)
    settings = [[0] * n_layers] if style == "int8" else [[0] * n_layers, [3] * n_layers]
    exp = np.stack([golden_logits(wl, d.pe, s, np.arange(2)) for s in settings])
    rows = simulate_engine(nl, wl.quantized_images(d.pe)[:2], settings, exp, tmp_path / "sim",
                           layer_bits=d.program().widths["layer"], cycles=d.inference_cycles)
    assert [r["cycles"] for r in rows] == [d.inference_cycles] * len(settings)
    assert all(r["weighted_toggles"] > r["net_toggles"] > 0 for r in rows)
    assert rows[0]["mem_write_bits"]["logit_mem"] == 32 * exp.shape[-1]


def test_pnr_seeds_option():
    from hw.flow.cli import _seeds

    boards = ("up5k", "ecp5")
    assert _seeds("3", boards) == {"up5k": 3, "ecp5": 3}
    assert _seeds("up5k=3,ecp5=1", boards) == {"up5k": 3, "ecp5": 1}
    with pytest.raises(ValueError, match=r"^--pnr-seeds must give every board a count, not "
                                         r"'up5k=3' \(missing ecp5\)$"):
        _seeds("up5k=3", boards)
    with pytest.raises(ValueError, match=r"^--pnr-seeds must name boards among up5k, ecp5, "
                                         r"not 'foo'$"):
        _seeds("foo=2", boards)


@pytest.mark.parametrize("limit", [0, 1, 5, 16, 17, 23, 31, 40, 64])
def test_lane_search_finds_largest_fit(monkeypatch, limit):
    """Powers of two, then bisection: the largest candidate <= limit, probing few counts."""
    import hw.flow.engine_report as er

    cands = [1, 2, 3, 4, 5, 6, 8, 11, 13, 16] + list(range(17, 65))
    monkeypatch.setattr(er, "useful_lanes", lambda workload, style: cands)

    class Fake:
        calls = []

        def map(self, what, calls, tolerate=False):
            lanes = calls[0][1][2]
            self.calls.append(lanes)
            return [{"fits": lanes <= limit, "packed": {"ICESTORM_LC": [lanes, 5280]}}]

    fake = Fake()
    res = er._lane_search(fake, EngineOptions(), "unused", "up5k", "bucket", True, True)
    want = max((c for c in cands if c <= limit), default=None)
    assert res["largest"] == want
    assert len(fake.calls) == len(set(fake.calls)) <= 10


@pytest.fixture(scope="module")
def synthetic_bucket(tmp_path_factory):
    """The synthetic bucket engine's generic netlist with every memory kept as a memory."""
    from hw.flow.engine_designs import EngineDesign

    work = tmp_path_factory.mktemp("synthetic")
    d = EngineDesign("synthetic", "bucket", 4)
    generic_engine_synth(d.verilog(), "qsq_engine", work)
    return d, load_mem_netlist(json.loads((work / "netlist.json").read_text()), "qsq_engine")


def _run_synthetic(d, nl, work):
    from hw.engine.workloads import golden_logits, workload
    from hw.flow.engine_energy import simulate_engine

    wl = workload("synthetic")
    setting = [0] * len(wl.model(d.pe).layers)
    exp = golden_logits(wl, d.pe, setting, np.arange(1))[None]
    return simulate_engine(nl, wl.quantized_images(d.pe)[:1], [setting], exp, work,
                           layer_bits=d.program().widths["layer"], cycles=d.inference_cycles,
                           traffic=d.traffic())


def test_memory_reads_equal_prediction(synthetic_bucket, tmp_path):
    """Gate level: every memory is read and written exactly as often as the compiler predicts
    (descriptors once per layer, logits once per class, ...), and clock gates are in place."""
    d, nl = synthetic_bucket
    (row,) = _run_synthetic(d, nl, tmp_path)
    t = d.traffic()
    assert row["mem_read_bits"]["desc_mem"] > 0
    widths = {m.name: m.width for m in nl.memories}
    assert {m: row["mem_read_bits"][m] / widths[m] for m in t} == {m: t[m]["reads"] for m in t}
    assert t["desc_mem"]["reads"] == len(d.program().layers)
    assert t["logit_mem"]["reads"] == d.program().classes
    _, gated = nl.clock_pins()
    assert {u for _, u, _ in gated} >= {"lanes", "post", "seq"}
    assert set(row["units"]) >= {"lanes", "post", "seq", "control", "mem:weight_mem"}


def test_ungated_memory_read_fails(synthetic_bucket, tmp_path):
    """A descriptor memory read every cycle (its read enable tied high in the netlist) is caught
    by the gate-level run against the compiler's prediction."""
    import copy

    d, nl = synthetic_bucket
    bad = copy.deepcopy(nl)
    (desc,) = [m for m in bad.memories if m.name == "desc_mem"]
    desc.rd[0]["en"] = "1"
    with pytest.raises(EngineEnergyError, match=r"memory desc_mem: \d+ reads per inference "
                                                r"\(\d+-bit words\), the compiler predicts 4"):
        _run_synthetic(d, bad, tmp_path)


def _fake_job(total_weighted, clock, weight_bits, desc_bits=0.0, trunc=(0, 0)):
    """An energy_job result: two units and two SRAMs (weights 1,024 x 48, biases 128 x 13)."""
    row = {"trunc": list(trunc), "images": 16, "cycles": 1000.0,
           "weighted_toggles": total_weighted, "net_toggles": total_weighted / 2,
           "clock_pin_events": clock,
           "mem_read_bits": {"weight_mem": weight_bits, "bias_mem": 1300.0},
           "mem_write_bits": {"weight_mem": 0.0, "bias_mem": 0.0},
           "units": {"lanes": {"toggles": 1.0, "weighted": total_weighted, "clock_pin_events": clock},
                     "rf_desc_mem": {"toggles": 0.0, "weighted": 0.0,
                                     "clock_pin_events": desc_bits}},
           "per_image": {"logic_proxy": [total_weighted / 2 + clock] * 2}}
    return {"row": row, "memories": {"weight_mem": [1024, 48], "bias_mem": [128, 13]},
            "regfiles": ["desc_mem"], "traffic": {}}


def test_energy_rows_and_tables():
    """The memory model (square root of the size, or flat), ratios against the INT8 engine built
    the same way, the before/after and reuse tables and the energy targets."""
    from hw.flow.engine_report import energy_rows, mem_bit_weight
    from hw.flow.engine_tables import (before_after_table, breakdown_table, energy_targets,
                                       reuse_table)

    opts = EngineOptions()
    res = [("bucket", "lean", 1, _fake_job(2e6, 1e6, 1e5)),
           ("bucket", "lean", 1, _fake_job(1e6, 1e6, 1e5, trunc=(4, 4))),
           ("bucket", "baseline", 1, _fake_job(8e6, 4e6, 3e5, desc_bits=1e6)),
           ("bucket", "lean", 2, _fake_job(2e6, 1e6, 5e4)),
           ("int8", "lean", 1, _fake_job(4e6, 2e6, 4e5)),
           ("int8", "baseline", 1, _fake_job(8e6, 4e6, 8e5)),
           ("int8", "lean", 2, _fake_job(4e6, 2e6, 2e5))]
    acc = {(s, (0, 0)): 0.9 for s in ("bucket", "int8")} | {("bucket", (4, 4)): 0.8}
    rows = energy_rows(res, 200.0, opts, acc)
    w_bits = 1024 * 48
    w = mem_bit_weight(200.0, opts, w_bits)
    assert w == pytest.approx(200.0 * opts.mem_pj_per_bit * (w_bits / 65536) ** 0.5 / 0.2)
    b = rows[0]
    assert b["logic_proxy"] == 2e6
    assert b["breakdown"]["weight_mem"]["access"] == pytest.approx(1e5 * w)
    assert b["breakdown"]["lanes"]["logic"] == 2e6
    assert b["rel_int8"] == pytest.approx(b["total_proxy"] / rows[4]["total_proxy"])
    # the baseline and reuse rows are compared with the INT8 engine built the same way
    assert rows[2]["rel_int8"] == pytest.approx(rows[2]["total_proxy"] / rows[5]["total_proxy"])
    assert rows[3]["rel_int8"] == pytest.approx(rows[3]["total_proxy"] / rows[6]["total_proxy"])
    flat = mem_bit_weight(200.0, opts.with_(mem_model="flat"))
    assert b["total_flat"] == pytest.approx(2e6 + flat * (1e5 + 1300))
    lean = [r for r in rows if r["power"] == "lean" and r["reuse"] == 1]
    base = [r for r in rows if r["power"] == "baseline"]
    reused = [r for r in rows if r["reuse"] == 2]
    ba = before_after_table(lean, base)
    assert len(ba) == 2 + 2 and ba[2].startswith("| bucket | ")
    assert f"{b['total_proxy'] / rows[2]['total_proxy']:.3f}" in ba[2]
    assert len(reuse_table(lean, reused)) == 2 + 2
    assert "desc_mem" in breakdown_table(rows)[0]
    text = "\n".join(energy_targets(lean, reused))
    assert "logic ≤ 12,000,000 — **met**: 2,000,000" in text
    assert "t=4: +" in text
    with pytest.raises(ValueError, match="mem_model must be 'sqrt' or 'flat', not 'x'"):
        EngineOptions(mem_model="x")
    with pytest.raises(ValueError, match="--pe must name PE styles among bucket, bucket-serial, "
                                         "multiplier-filter, multiplier-operation, int8, not 'b'"):
        EngineOptions(styles=("b",))


@pytest.mark.parametrize("lut4,fmax,met", [(2400, 43.0, True), (2717, 37.1, False),
                                           (2400, 41.0, False)])
def test_up5k_target_and_the_cited_vendor_anchor(lut4, fmax, met):
    """The UP5K bucket target needs the LUT4, the fmax and the images/s; the vendor's figures are
    printed next to the row, labelled as cited."""
    from hw.flow.engine_tables import targets

    cycles = 5000
    row = {"board": "up5k", "pe_style": "bucket", "workload": "digits", "lanes": 16,
           "LUT4": lut4, "FF": 2300, "EBR": 17, "SPRAM": 0, "DSP": 3, "fits": True,
           "fmax_mhz": fmax, "images_per_s": fmax * 1e6 / cycles, "cycles": cycles,
           "memories": {"weight_mem": "$__ICE40_RAM4K_"}}
    lines = targets([row], [], [])
    assert lines[0].startswith("- Bucket engine on the UP5K: ≥ 42 MHz median fmax and ≥ 8,400 "
                               "images/s in ≤ 2,500 LUT4 with weights in EBR — **"
                               + ("met" if met else "missed") + f"**: {fmax:.1f} MHz, ")
    assert "*cited, not measured here*" in lines[1] and "2,419–2,706 LUTs" in lines[1]
    assert f"{lut4 / 2419:.2f} of the EBR build's" in lines[1]
    assert f"median fmax {fmax:.1f} MHz ({fmax / 41.762:.2f} of its)" in lines[1]
