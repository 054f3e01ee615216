"""The ``qsq`` command line: golden-model subcommands and error handling."""

import json
import subprocess
import sys
from pathlib import Path

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
    (["metrics", "--a-width", "0"], "--a-width must be an integer in [1, 24], not 0"),
    (["metrics", "--b-width", "25"], "--b-width must be an integer in [1, 24], not 25"),
    (["metrics", "--a-width", "16", "--b-width", "16"],
     "--a-width + --b-width must be at most 28 for an exhaustive evaluation, not 32; "
     "pass --samples N to evaluate N random pairs instead"),
    (["metrics", "--samples", "-3"], "--samples must be an integer in [1, 100000000], not -3"),
    # --samples 0 used to run the exhaustive table silently.
    (["metrics", "--samples", "0"], "--samples must be an integer in [1, 100000000], not 0"),
    (["metrics", "--samples", "5", "--seed", "-1"], "--seed must be an integer in [0, 4294967295], not -1"),
    (["metrics", "--seed", "3"], "--seed only applies to --samples (random pairs); without --samples "
                                 "every pair is evaluated, so drop --seed 3"),
    (["metrics", "--out", "w.npz/t"], "-o/--out: cannot write w.npz/t.json: w.npz is a file, not a folder"),
    # File errors name the file and say what is wrong in words (was "[Errno 2] No such file ...").
    (["encode", "missing.npy"], "missing.npy: does not exist"),
    (["encode", "."], ".: is a folder, not a file"),
    # Random bytes used to be reported as "pickled data".
    (["encode", "random.bin"], "random.bin: not a .npy or .npz file (it does not start with the "
                               "NumPy or zip signature)"),
    (["encode", "objects.npy"], "objects.npy: the .npy file holds Python objects (an object array); "
                                "qsq loads numeric arrays only"),
    (["encode", "cut.npz"], "cut.npz: the .npz file is damaged or truncated"),
    (["encode", "text.npz"], "text.npz: array 'w' must hold real numbers (integer or float), not <U1"),
    (["encode", "nan.npy"], "nan.npy: array 'weights': weights must be finite, not containing NaN or Inf"),
    (["encode", "w.npz", "--code-bits", "5"], "--code-bits must be one of (2, 3, 4), not 5"),
    (["encode", "w.npz", "--scale-bits", "0"], "--scale-bits must be an integer in [1, 15], not 0"),
])
def test_errors_are_one_line(argv, msg, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "w.npz", conv=np.ones((2, 3)))
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(0).bytes(300))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    (tmp_path / "cut.npz").write_bytes((tmp_path / "w.npz").read_bytes()[:100])
    np.savez(tmp_path / "text.npz", w=np.array([["a", "b"]]))
    np.save(tmp_path / "nan.npy", np.full((2, 2), np.nan))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == "qsq: error: " + msg + "\n"


def test_version(capsys):
    """``qsq --version`` prints the package version, the same the installed metadata has."""
    import importlib.metadata

    import golden_model

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"qsq {golden_model.__version__}\n"
    assert importlib.metadata.version("qsq") == golden_model.__version__


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
    assert capsys.readouterr().err == f"qsq: error: {bad}: the .npz file is damaged or truncated\n"


def test_entry_point_installed():
    """The console script exists and reports errors without a traceback."""
    res = subprocess.run([sys.executable, "-m", "golden_model.cli", "metrics", "--b-width", "99"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr == "qsq: error: --b-width must be an integer in [1, 24], not 99\n"
    script = Path(sys.executable).with_name("qsq")   # what `.venv/bin/qsq --version` prints
    if script.exists():
        import golden_model

        res = subprocess.run([str(script), "--version"], capture_output=True, text=True)
        assert (res.returncode, res.stdout) == (0, f"qsq {golden_model.__version__}\n")


def _readme_tour() -> list[str]:
    """The command lines of the README's first-hour tour (the sh block after "Your first hour")."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = text.split("**Your first hour**", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_tour_qsq_steps_work_verbatim(tmp_path, monkeypatch, capsys):
    """Every `qsq` line of the README tour runs as printed (from a fresh folder)."""
    import shlex

    lines = _readme_tour()
    assert len(lines) == 5
    qsq_lines = [shlex.split(line)[1:] for line in lines if line.startswith("qsq ")]
    assert qsq_lines
    monkeypatch.chdir(tmp_path)
    for argv in qsq_lines:
        assert main(argv) == 0, argv
    assert (tmp_path / "build" / "mul.v").read_text().count("\nmodule my_mul(") == 1
