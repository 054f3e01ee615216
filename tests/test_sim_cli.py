"""The benches' command lines: one option set, one-line errors for bad values before any build,
a refusal of huge exhaustive runs, corner cases counted, and a last line naming results and
waves."""

from __future__ import annotations

import importlib
import os
import shutil

import numpy as np
import pytest

from golden_model.config import MultiplierConfig
from sim import regress, tb_csd_multiplier, tb_csd_multiplier_core, tb_decoder, test_baselines
from sim.common import MAX_VECTORS

BENCHES = {"tb_csd_multiplier": tb_csd_multiplier, "tb_csd_multiplier_core": tb_csd_multiplier_core,
           "tb_decoder": tb_decoder, "test_baselines": test_baselines}
MULTIPLIER_BENCHES = ["tb_csd_multiplier", "tb_csd_multiplier_core", "test_baselines"]


def error_of(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def help_of(main, capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("bench", MULTIPLIER_BENCHES)
def test_multiplier_benches_share_one_option_set(bench, capsys):
    text = help_of(BENCHES[bench].main, capsys)
    for opt in ("--sim", "--waves", "--a-width", "--a-signed", "--no-a-signed", "--b-width",
                "--b-signed", "--no-b-signed", "--truncation", "--mode", "--count", "--seed"):
        assert opt in text, f"{bench} lacks {opt}"
    for old in ("--a-unsigned", "--b-unsigned", "--t ", "--config"):
        assert old not in text, f"{bench} still spells {old.strip()}"


def test_every_bench_and_regress_share_sim_and_waves(capsys):
    for main in [b.main for b in BENCHES.values()] + [regress.main]:
        text = help_of(main, capsys)
        assert "--sim {icarus,verilator}" in text and "--waves" in text


@pytest.mark.parametrize("bench, argv, msg", [
    ("tb_csd_multiplier", ["--bubble", "-1"],
     "argument --bubble: a probability in [0, 0.95], not -1"),
    ("tb_csd_multiplier", ["--bubble", "1"], "argument --bubble: a probability in [0, 0.95], not 1"),
    ("tb_csd_multiplier", ["--count", "-3"], "argument --count: an integer >= 1, not -3"),
    ("tb_csd_multiplier", ["--count", "0"], "argument --count: an integer >= 1, not 0"),
    ("tb_csd_multiplier", ["--seed", "-1"], "argument --seed: an integer >= 0, not -1"),
    ("tb_csd_multiplier", ["--a-width", "30"], "argument --a-width: an integer in [1, 24], not 30"),
    ("tb_csd_multiplier", ["--b-width", "0"], "argument --b-width: an integer in [1, 24], not 0"),
    ("tb_csd_multiplier", ["--truncation", "9"],
     "truncation must be 'runtime' or an integer in [0, 8], not 9"),
    ("tb_csd_multiplier", ["--truncation", "-2"],
     "argument --truncation: 'runtime' or an integer level >= 0, not '-2'"),
    ("tb_csd_multiplier", ["--gating", "clock"],
     "argument --gating: invalid choice: 'clock' (choose from 'none', 'enable', 'icg')"),
    ("tb_csd_multiplier_core", ["--a-width", "x"], "argument --a-width: an integer, not 'x'"),
    ("tb_csd_multiplier_core", ["--truncation", "4", "--b-width", "3"],
     "truncation must be 'runtime' or an integer in [0, 3], not 4"),
    ("tb_decoder", ["--lanes", "99"], "lanes must be an integer in [1, 64], not 99"),
    ("tb_decoder", ["--code-bits", "5"], "argument --code-bits: an integer in [2, 4], not 5"),
    ("tb_decoder", ["--scale-bits", "0"], "argument --scale-bits: an integer in [1, 15], not 0"),
    ("tb_decoder", ["--mode", "random", "--count", "-1"],
     "argument --count: an integer >= 1, not -1"),
    ("test_baselines", ["--kind", "tam", "--k", "99"], "k must be an integer in [0, 16], not 99"),
    ("test_baselines", ["--kind", "bam", "--hbl", "9"], "hbl must be an integer in [0, 8], not 9"),
    ("test_baselines", ["--latency", "0"], "argument --latency: an integer in [1, 8], not 0"),
    ("test_baselines", ["--kind", "csdc", "--truncation", "12"],
     "truncation must be 'runtime' or an integer in [0, 8], not 12"),
    ("test_baselines", ["--bubble", "nan"], "argument --bubble: a probability in [0, 0.95], not nan"),
])
def test_bad_values_are_one_line_errors(bench, argv, msg, capsys):
    err = error_of(BENCHES[bench].main, argv, capsys)
    assert err == f"{bench}.py: error: {msg}" or err.endswith(f"error: {msg}"), err


def test_regress_rejects_bad_values(capsys):
    ncpu = os.cpu_count() or 1
    assert error_of(regress.main, ["-n", "0"], capsys).endswith(
        f"argument -n/--jobs: an integer in [1, {ncpu}], not 0")


@pytest.mark.parametrize("bench, argv, what, n", [
    ("tb_csd_multiplier", ["--a-width", "16", "--b-width", "16", "--mode", "exhaustive"],
     "--mode exhaustive with s16xs16 operands", 2**32 * 17),
    ("tb_csd_multiplier", ["--a-width", "12", "--b-width", "12", "--mode", "pairs"],
     "--mode pairs with s12xs12 operands", 2**24),
    ("tb_csd_multiplier_core", ["--a-width", "10", "--b-width", "10", "--mode", "exhaustive"],
     "--mode exhaustive with s10xs10 operands", 2**20 * 11),
    ("test_baselines", ["--a-width", "16", "--b-width", "16"],
     "--mode exhaustive with s16xs16 operands", 2**32),
])
def test_huge_exhaustive_runs_are_refused_with_a_sampling_hint(bench, argv, what, n, capsys):
    err = error_of(BENCHES[bench].main, argv, capsys)
    assert err.endswith(
        f"error: {what} is {n:,} vectors, more than the {MAX_VECTORS:,} a bench builds (its "
        f"operand arrays alone would take {n * 24 / 2**30:,.1f} GiB); sample instead with "
        "--mode random --count N")


def test_the_runner_refuses_before_building():
    with pytest.raises(ValueError, match="sample instead with --mode random --count N"):
        tb_csd_multiplier.run(a_width=16, b_width=16, mode="exhaustive")
    with pytest.raises(ValueError, match=r"^bubble must be a probability in \[0, 0.95\], not -1$"):
        tb_csd_multiplier.run(bubble=-1)
    with pytest.raises(ValueError, match=r"^count must be an integer in \[1, 1048576\], not 0$"):
        tb_csd_multiplier_core.run(mode="random", count=0)


def test_corner_cases_are_counted_and_optional():
    cfg = MultiplierConfig()
    n, nc = tb_csd_multiplier.vector_count(cfg, "runtime", "random", 2000)
    a, b, t, valid = tb_csd_multiplier.make_vectors(cfg, "runtime", "random", 2000, 1, 0.0)
    assert int(valid.sum()) == n == 2000 + nc and nc > 0
    a, b, t, valid = tb_csd_multiplier.make_vectors(cfg, "runtime", "random", 2000, 1, 0.0,
                                                    corners=False)
    assert int(valid.sum()) == 2000
    line = tb_csd_multiplier.describe_vectors(cfg, "runtime", "random", 2000)
    assert line == (f"vectors: 2,000 seeded random operations + {nc:,} corner-case operations "
                    "(every pair of corner values at every level; --no-corners leaves them out) "
                    f"= {2000 + nc:,} operations")
    assert tb_csd_multiplier.tag_for(cfg, "runtime", "icg", "random", count=5, corners=False) \
        != tb_csd_multiplier.tag_for(cfg, "runtime", "icg", "random", count=5)
    assert np.all(np.isin(t, np.arange(cfg.ndigits + 1)))


@pytest.mark.skipif(not shutil.which("iverilog"), reason="needs Icarus Verilog")
def test_last_line_names_results_and_waves(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QSQ_SIM_BUILD", str(tmp_path))
    monkeypatch.setenv("WAVES", "0")    # as `make` exports it: --waves must still write the wave
    monkeypatch.chdir(tmp_path)
    rc = tb_decoder.main(["--code-bits", "2", "--scale-bits", "2", "--sim", "icarus", "--waves"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert out[0] == "vectors: every code in every lane with every scale = 12 words"
    folder = "icarus/shift_scale_decoder_c2_s2_l1_exhaustive_s1"
    assert out[-1] == (f"results: {folder}/ (results.xml, sim.log, summary.json); "
                       f"waves: {folder}/shift_scale_decoder.fst")
    assert (tmp_path / folder / "shift_scale_decoder.fst").stat().st_size > 0
    assert (tmp_path / folder / "results.xml").exists()


def test_modules_import_without_cocotb_side_effects():
    for name in BENCHES:
        importlib.import_module(f"sim.{name}")


def test_verilator_builds_switch_no_warning_off():
    from hw.verilog import generate
    from sim.common import verilator_build_args

    args = verilator_build_args(generate("csd_compact_multiplier", gating="icg"))
    assert not [a for a in args if a.startswith("-Wno")], args
    # Verilog that did not come through hw.verilog (so may not lint clean) is refused.
    with pytest.raises(ValueError, match=r"^the Verilog was not written by hw\.verilog"):
        verilator_build_args("module m(); endmodule\n")
