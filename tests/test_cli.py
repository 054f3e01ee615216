"""The ``qsq`` command line: golden-model subcommands and error handling."""

import json
import subprocess
import sys

import numpy as np
import pytest

from golden_model.cli import main
from golden_model.config import MultiplierConfig
from golden_model.metrics import truncation_table


def test_metrics_table_and_files(tmp_path, capsys):
    prefix = tmp_path / "m" / "s8"
    assert main(["metrics", "--a-signed", "--b-signed", "--out", str(prefix)]) == 0
    out = capsys.readouterr().out
    assert "signed 8-bit a x signed 8-bit b, all 65536 pairs" in out
    data = json.loads(prefix.with_suffix(".json").read_text())
    rows = truncation_table(MultiplierConfig(8, True, 8, True))
    assert [r[0] for r in data["rows"]] == list(range(9))
    assert [r[3] for r in data["rows"]] == [r.metrics.mred for r in rows]   # MRED column
    assert prefix.with_suffix(".csv").read_text().startswith("t,ER,MAE,MRED")
    assert prefix.with_suffix(".md").exists()


def test_metrics_sampled(capsys):
    assert main(["metrics", "--a-width", "16", "--b-width", "16", "--a-signed", "--b-signed",
                 "--samples", "2000"]) == 0
    assert "2000 uniform random pairs (seed 1)" in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [
    (["metrics", "--a-width", "0"], "qsq: error: a_width must be an integer in [1, 24], not 0"),
    (["metrics", "--a-width", "16", "--b-width", "16"],
     "qsq: error: a_width + b_width must be at most 28 for an exhaustive evaluation, not 32; "
     "pass sampled operands instead"),
    (["metrics", "--samples", "-3"], "qsq: error: --samples must be an integer in [1, 100000000], not -3"),
    (["encode", "missing.npy"], "qsq: error: [Errno 2] No such file or directory: 'missing.npy'"),
    (["encode", "w.npz", "--code-bits", "5"], "qsq: error: code_bits must be one of (2, 3, 4), not 5"),
])
def test_errors_are_one_line(argv, msg, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "w.npz", conv=np.ones((2, 3)))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == msg + "\n"


def test_encode_report(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "w.npz", conv1=rng.normal(0, 0.1, (6, 1, 5, 5)), bias=np.zeros(6),
             fc=rng.normal(0, 0.1, (10, 84)))
    assert main(["encode", str(tmp_path / "w.npz")]) == 0
    out = capsys.readouterr().out
    assert "| conv1 |" in out.replace("  ", " ") or "conv1" in out
    assert "bias" not in out and "total" in out


def test_encode_corrupt_file(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    assert main(["encode", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"qsq: error: {bad}: not a readable .npy/.npz file")


def test_entry_point_installed():
    """The console script exists and reports errors without a traceback."""
    res = subprocess.run([sys.executable, "-m", "golden_model.cli", "metrics", "--b-width", "99"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr == "qsq: error: b_width must be an integer in [1, 24], not 99\n"
