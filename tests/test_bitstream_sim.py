"""The packed iCE40 bitstream itself, simulated through its pins (``sim/tb_bitstream.py``).

Unmarked (``make test``): the pin map of a board build and the bench's clear errors, without
running place and route. ``slow`` (``make sim``): an iCEBreaker build of the digits engine at
3 Mbaud, its ``.asc`` read back with ``icebox_vlog`` and simulated in Icarus with the iCE40 cell
models -- INFO, TRUNC at two settings and INFER of digits test images, every logit bit-exact -- and
the bench's self-test (a wrong expected byte must fail).
"""

import json
import shutil

import pytest

from sim import tb_bitstream

NEEDS_ICESTORM = pytest.mark.skipif(
    shutil.which("icebox_vlog") is None or not tb_bitstream.ICE40_CELLS.is_file(),
    reason="needs icebox_vlog (Debian fpga-icestorm) and Yosys's ice40/cells_sim.v (Debian yosys)")


@pytest.fixture(scope="module")
def platform_files(tmp_path_factory):
    """The iCEBreaker platform files of a 1-lane digits engine (no tools run)."""
    from hw.boards.build import build_bitstream

    out = tmp_path_factory.mktemp("icebreaker_top")
    build_bitstream("icebreaker", lanes=1, baud=3_000_000, out=out, top_only=True)
    return out


def test_pins_of_the_icebreaker_build(platform_files):
    from hw.boards.spec import board_spec

    pins = tb_bitstream.board_pins(board_spec("icebreaker"), platform_files / "qsq_board.pcf", 4)
    assert pins["clk"] == "clk12_0__io"
    assert (pins["rx"], pins["tx"]) == ("uart_0__rx__io", "uart_0__tx__io")
    # the button and the red/green LEDs are active low on the iCEBreaker, the PMOD LEDs high
    assert pins["reset"] == ["button_0__io", 0]
    assert pins["failed"] == ["led_0__io", True] and pins["active"] == ["led_1__io", True]
    assert pins["cls_bits"] == [["led_2__io", False], ["led_3__io", False],
                                ["led_4__io", False], ["led_5__io", False]]


def test_pins_name_a_missing_pin(platform_files, tmp_path):
    from hw.boards.spec import board_spec

    pcf = tmp_path / "qsq_board.pcf"
    pcf.write_text("\n".join(line for line in (platform_files / "qsq_board.pcf").read_text()
                             .splitlines() if "uart_0__tx" not in line) + "\n")
    with pytest.raises(ValueError, match="no pin 'uart_0__tx__io'"):
        tb_bitstream.board_pins(board_spec("icebreaker"), pcf, 4)


def test_bench_needs_a_build_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a qsq bitstream build folder"):
        tb_bitstream.run(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"family": "ecp5", "board": "ulx3s"}))
    with pytest.raises(ValueError, match="must be an iCE40 build"):
        tb_bitstream.run(tmp_path)
    with pytest.raises(FileNotFoundError, match="qsq_board.asc: no such file"):
        tb_bitstream.asc_netlist(tmp_path, tmp_path / "n.v")


def test_missing_icebox_vlog_is_one_line(platform_files, tmp_path, monkeypatch):
    (tmp_path / "qsq_board.asc").write_text(".comment\n")
    shutil.copy(platform_files / "qsq_board.pcf", tmp_path)
    monkeypatch.setattr(tb_bitstream.shutil, "which", lambda exe: None)
    with pytest.raises(RuntimeError, match="install the Debian package fpga-icestorm"):
        tb_bitstream.asc_netlist(tmp_path, tmp_path / "n.v")


def test_report_shows_the_verification():
    from hw.boards.build import report_markdown

    r = {"board": "icebreaker", "description": "d", "device": "iCE40UP5K", "package": "SG48",
         "engine": {"pe": "bucket", "lanes": 1, "model": "m", "input": [8, 8], "classes": 10},
         "clock_mhz": 12.0, "baud": 3_000_000, "divisor": 4, "seed": 1,
         "bitstream": {"file": "x/qsq_board.bin", "bytes": 1}, "seconds": {"total": 1},
         "programmer": "iceprog", "nextpnr": {"clocks": {}, "utilisation": {}},
         "yosys": {"cells": {}, "memories": {}}, "memory_bits": {},
         "link": {"request_bytes": 70, "reply_bytes": 46, "line_ms": 0.4, "compute_cycles": 100},
         "verify": {"passed": False, "images": [0], "truncs": [[0, 0, 0, 0]], "errors": False,
                    "requests": 3, "inferences": 1, "mismatches": ["step 1: reply 00 != 01"],
                    "seconds": 9.5, "results": "r"}}
    text = report_markdown(r)
    assert "## The bitstream itself, simulated" in text
    assert "FAIL: step 1: reply 00 != 01" in text
    r["verify"].update(passed=True, inferences=2, mismatches=[])
    assert "all 20 logits equal to the model: PASS" in report_markdown(r)


@NEEDS_ICESTORM
def test_spram_cells_connect_the_nets_on_the_spram_pins():
    """icebox_vlog writes no SPRAM cell: the bench adds one per SPRAM whose CHIPSELECT is routed,
    on the nets whose routing segments are that SPRAM's pins (icebox's database)."""
    tb_bitstream.spram_cells("")              # imports icebox (its path, warnings)
    import icebox

    pins = icebox.spram_db["5k"][(0, 0, 1)]

    def seg(pin):
        x, y, name = pins[pin]
        return f"// ({x}, {y}, '{name}')"

    netlist = "\n".join(["module chip(input clk);", "wire n1;", seg("CHIPSELECT"), "",
                          "reg n2 = 0;", "// (5, 5, 'lutff_0/out')", seg("ADDRESS_3"),
                          seg("DATAIN_0"), "", "wire n3;", seg("DATAOUT_15"), "", "wire n4;",
                          seg("POWEROFF"), "// (9, 9, 'sp4_h_r_1')", "", "wire n5;",
                          "// (0, 2, 'unrelated')", "endmodule"])
    text, n = tb_bitstream.spram_cells(netlist)
    assert n == 1 and "SB_SPRAM256KA spram_0_0_1 (" in text
    assert ".CHIPSELECT(n1)" in text and ".POWEROFF(n4)" in text and ".WREN(1'b0)" in text
    assert ".ADDRESS({1'b0, 1'b0, 1'b0, 1'b0, 1'b0, 1'b0, 1'b0, 1'b0, 1'b0, 1'b0, n2, 1'b0, " \
           "1'b0, 1'b0})" in text
    assert ".DATAIN({" + ", ".join(["1'b0"] * 15 + ["n2"]) + "})" in text
    assert ".DATAOUT({n3, " + ", ".join(f"spram_0_0_1_nc[{i}]" for i in reversed(range(15))) \
        + "})" in text
    # no routed CHIPSELECT: no cell
    assert tb_bitstream.spram_cells("module chip;\nwire n1;\n" + seg("CLOCK") + "\nendmodule") \
        == ("", 0)


# ------------------------------------------------------------------ slow: place, route, simulate
@pytest.fixture(scope="module")
def digits_build(tmp_path_factory):
    """An iCEBreaker bitstream of the digits bucket engine, 2 lanes, UART at 4 cycles per bit."""
    from hw.boards.build import build_bitstream

    out = tmp_path_factory.mktemp("icebreaker_digits")
    build_bitstream("icebreaker", lanes=2, baud=3_000_000, trunc=[1, 0, 0, 1], out=out)
    return out


@pytest.mark.slow
@NEEDS_ICESTORM
def test_bitstream_classifies_digits_bit_exact(digits_build):
    out = tb_bitstream.run(digits_build, images=2, truncs=[0, [2, 1, 0, 3]])
    assert out["result"] == "pass"
    rep = json.loads((digits_build / "report.json").read_text())
    assert rep["verify"]["passed"] and rep["verify"]["inferences"] == 5
    assert "equal to the model: PASS" in (digits_build / "report.md").read_text()


@pytest.mark.slow
@NEEDS_ICESTORM
def test_bitstream_bench_detects_a_wrong_engine_reply(digits_build):
    with pytest.raises(AssertionError, match="simulation failed"):
        tb_bitstream.run(digits_build, images=1, fault="reply")


@pytest.mark.slow
@NEEDS_ICESTORM
def test_bitstream_with_spram_weights(tmp_path):
    """The weights in SPRAM (absent from the bitstream): the bench loads them through the UART pins
    with LOAD, into the SPRAM cells it adds to icebox_vlog's netlist, then classifies."""
    from hw.boards.build import build_bitstream

    build_bitstream("icebreaker", lanes=2, baud=3_000_000, out=tmp_path, weights="spram")
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["engine"]["weights"] == "spram" and rep["weights_mapped"]
    assert rep["nextpnr"]["utilisation"]["ICESTORM_SPRAM"][0] >= 1
    out = tb_bitstream.run(tmp_path, images=1)
    assert out["result"] == "pass"
    assert json.loads((tmp_path / "report.json").read_text())["verify"]["inferences"] == 2
