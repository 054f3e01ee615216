"""The SRAM macro model of the ASIC engine report (``hw/flow/sram.py``)."""

import pytest

from hw.flow.sram import GF180_SRAM, SramModel, load_sram_table, macro_tiling, sram_costs


@pytest.mark.parametrize("words, width, tiling", [
    (10, 8, {"depth": 64, "columns": 1, "banks": 1, "macros": 1}),
    (64, 8, {"depth": 64, "columns": 1, "banks": 1, "macros": 1}),
    (65, 9, {"depth": 128, "columns": 2, "banks": 1, "macros": 2}),
    (300, 48, {"depth": 512, "columns": 6, "banks": 1, "macros": 6}),
    (1100, 16, {"depth": 512, "columns": 2, "banks": 3, "macros": 6}),
])
def test_tiling(words, width, tiling):
    assert macro_tiling(words, width) == tiling


def test_cost_of_a_gf180_tiling_by_hand():
    c = SramModel().cost("weight_mem", 300, 48)
    area, rd, wr = GF180_SRAM[512]
    assert c["read_pj"] == pytest.approx(6 * 2 * rd) and c["write_pj"] == pytest.approx(6 * 2 * wr)
    assert c["area_um2"] == pytest.approx(6 * area)
    banked = SramModel().cost("act_mem", 1100, 16)     # one bank of three is accessed
    assert banked["read_pj"] == pytest.approx(2 * 2 * rd)
    assert banked["area_um2"] == pytest.approx(6 * area) and "3 banks" in banked["tiling"]


def test_library_figures_grow_with_depth():
    depths = sorted(GF180_SRAM)
    for a, b in zip(depths, depths[1:]):
        assert all(x < y for x, y in zip(GF180_SRAM[a], GF180_SRAM[b]))


def test_user_table(tmp_path):
    f = tmp_path / "sram.csv"
    f.write_text("memory,read_pj_per_bit,write_pj_per_bit,um2_per_bit\n"
                 "weight_mem,0.5,0.75,2\n*,1,1,3\n")
    m = SramModel(load_sram_table(f))
    rows = sram_costs({"weight_mem": [100, 48], "act_mem": [64, 8]},
                      {"weight_mem": {"reads": 10, "writes": 0},
                       "act_mem": {"reads": 4, "writes": 2}}, m)
    w, a = (r for r in rows if r["memory"] == "weight_mem"), (r for r in rows
                                                            if r["memory"] == "act_mem")
    w, a = next(w), next(a)
    assert w["energy_nj"] == pytest.approx(10 * 0.5 * 48 * 1e-3)
    assert w["area_um2"] == pytest.approx(2 * 100 * 48)
    assert a["energy_nj"] == pytest.approx((4 * 8 + 2 * 8) * 1e-3)
    assert a["area_um2"] == pytest.approx(3 * 64 * 8)


@pytest.mark.parametrize("text, match", [
    ("mem,a,b,c\n", "the header must be memory,read_pj_per_bit"),
    ("memory,read_pj_per_bit,write_pj_per_bit,um2_per_bit\n*,1,x,2\n",
     r":2: write_pj_per_bit must be a non-negative number, not 'x'"),
    ("memory,read_pj_per_bit,write_pj_per_bit,um2_per_bit\n*,1,1,-2\n",
     r":2: um2_per_bit must be a non-negative number, not '-2'"),
    ("memory,read_pj_per_bit,write_pj_per_bit,um2_per_bit\n*,1,1,1\n*,1,1,1\n",
     r":3: memory '\*' given twice"),
    ("memory,read_pj_per_bit,write_pj_per_bit,um2_per_bit\n", "no rows"),
])
def test_bad_tables_are_refused(tmp_path, text, match):
    f = tmp_path / "t.csv"
    f.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_sram_table(f)
    with pytest.raises(ValueError, match="no such file"):
        load_sram_table(tmp_path / "none.csv")


def test_a_table_without_the_memory_is_an_error(tmp_path):
    m = SramModel({"weight_mem": (1.0, 1.0, 1.0)})
    with pytest.raises(ValueError, match="no row for memory 'act_mem' and no '\\*' row"):
        m.cost("act_mem", 64, 8)
    with pytest.raises(ValueError, match="words must be a positive integer, not 0"):
        macro_tiling(0, 8)


def test_asic_engine_section_adds_sram_energy_and_area(tmp_path):
    """The ASIC report's engine table gains the macros' energy at the compiler's accesses."""
    from hw.engine.schedule import memory_traffic
    from hw.engine.top import engine_timing
    from hw.flow.asic_measure import AsicOptions
    from hw.flow.asic_report import _engine_section
    from hw.flow.engine_designs import EngineDesign

    prog = EngineDesign("digits", "bucket", 4).program()
    traffic = memory_traffic(prog, engine_timing(prog))
    mems = {"weight_mem": [300, 48], "act_mem": [600, 8]}
    e = {"key": "digits-bucket-l4", "style": "bucket", "lanes": 4, "setting": [0, 0, 0, 0],
         "images": 1, "cycles": 1000,
         "area": {"area_um2": 1e6, "cells": 10, "flip_flops": 5, "memories": mems},
         "sta": {"fmax_mhz": 100.0, "critical_path_ns": 9.0, "critical_path": "a -> b"},
         "energy_per_inference_nj": 500.0, "power_clock_mw": 1.0, "power_fmax_mw": 1.0,
         "clock_tree_mw": 0.1, "inferences_per_s_fmax": 1e5}
    text = "\n".join(_engine_section([e], AsicOptions(), tmp_path))
    # the engines-only report (`qsq asic --designs none`)
    from hw.flow.asic_report import write_report

    e["seconds"] = {"map_sta": 1.0, "sim": 2.0, "sim_timed": 0.0}
    index = write_report([], {}, AsicOptions(), tmp_path,
                         {"sta": "sta", "yosys": "yosys", "iverilog": "iverilog",
                          "liberty": "osu018.lib"},
                         {"elapsed": 1.0, "cached": 0, "jobs": 1, "engines": [e]})
    only = index.read_text()
    assert only.startswith("# ASIC report: the inference engines on the OSU 0.18 um")
    assert "## Inference engine (digits LeNet)" in only and "## Headline" not in only
    assert "digits-bucket-l16 0-0-0-0 3 s" not in only and "digits-bucket-l4 0-0-0-0 3 s" in only
    w = SramModel().cost("weight_mem", 300, 48)
    a = SramModel().cost("act_mem", 600, 8)
    sram_nj = (traffic["weight_mem"]["reads"] * w["read_pj"]
               + traffic["weight_mem"]["writes"] * w["write_pj"]
               + traffic["act_mem"]["reads"] * a["read_pj"]
               + traffic["act_mem"]["writes"] * a["write_pj"]) * 1e-3
    assert "SRAM macros (`hw/flow/sram.py`; source: GF180MCU gf180mcu_fd_ip_sram" in text
    assert "6 x 512x8" in text and "2 x 512x8 x 2 banks" not in text
    assert f"{500 + sram_nj:.0f}" in text                   # the total per inference
    assert f"{(1e6 + w['area_um2'] + a['area_um2']) * 1e-6:.3f}" in text


def test_qsq_asic_names_a_missing_sram_table(tmp_path, capsys):
    from golden_model.cli import main

    missing = tmp_path / "none.csv"
    assert main(["asic", "--designs", "none", "--engine", "bucket", "--sram-table", str(missing),
                 "-o", str(tmp_path / "asic")]) == 2
    assert f"--sram-table {missing}: no such file" in capsys.readouterr().err
