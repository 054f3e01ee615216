"""qsq pack / unpack / inspect: options checked before any work, file errors in words, and
writes that never destroy the previous file."""

import os
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from golden_model.cli import main
from golden_model.nn import quant
from golden_model.nn.checkpoint import load_checkpoint
from golden_model.nn.packfile import pack_model, read_model
from golden_model.nn.quant import quantize_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """The committed checkpoint packed as `qsq pack --qat` does, without the CLI (this path uses
    no calibration images: stored exponents, plain encoder, no bias correction)."""
    ck = load_checkpoint()
    qm = quantize_model(ck.qat_model, np.zeros((1, 1, 8, 8)), method="mse", bias_correction=False,
                        exponents=ck.qat_exponents)
    path = tmp_path_factory.mktemp("m") / "m.qsq"
    path.write_bytes(pack_model(qm))
    return path


def _no_work(monkeypatch):
    """Fail the test if the checkpoint is quantized: every option must be checked before."""
    def refuse(*a, **k):
        raise AssertionError("quantize_model ran before the options were checked")
    monkeypatch.setattr(quant, "quantize_model", refuse)


@pytest.mark.parametrize("argv,msg", [
    (["pack", "--codes-per-word", "0"], "--codes-per-word must be an integer in [1, 21], not 0"),
    (["pack", "--code-bits", "2", "--codes-per-word", "33"],
     "--codes-per-word must be an integer in [1, 32], not 33"),
    (["pack", "--code-bits", "7"], "--code-bits must be one of (2, 3, 4), not 7"),
    (["pack", "-o", "."], "-o/--out: . is a folder, not a file name"),
    (["pack", "-o", "plain/m.qsq"], "-o/--out: cannot write plain/m.qsq: plain is a file, not a folder"),
    (["pack", "--checkpoint", "none.npz", "-o", "m.qsq"], "none.npz: no such checkpoint"),
])
def test_pack_checks_options_first(argv, msg, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain").write_text("x")
    _no_work(monkeypatch)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qsq: error: " + msg) and err.count("\n") == 1


def test_unpack_and_inspect_errors(model_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.qsq").write_bytes(model_file.read_bytes())
    assert main(["unpack", "m.qsq", "-o", "m.qsq"]) == 2
    assert capsys.readouterr().err == ("qsq: error: -o/--out must differ from the model file m.qsq "
                                       "(it would be overwritten), not 'm.qsq'\n")
    assert (tmp_path / "m.qsq").read_bytes() == model_file.read_bytes()
    (tmp_path / "d").mkdir()
    assert main(["inspect", "d"]) == 2
    assert capsys.readouterr().err == "qsq: error: d: is a folder, not a model file\n"
    assert main(["unpack", "d", "-o", "x.npz"]) == 2
    assert capsys.readouterr().err == "qsq: error: d: is a folder, not a model file\n"
    assert main(["unpack", "m.qsq", "-o", "d"]) == 2
    assert capsys.readouterr().err == "qsq: error: -o/--out: d is a folder, not a file name\n"
    # A valid CRC with an absurd value: refused with the reason (was accepted).
    blob = bytearray(model_file.read_bytes()[:-4])
    e_at = 12 + blob[11] + 1 + 6 + blob[10] + 2 + len("conv1") + 3 + 16   # conv1's E (module notes)
    blob[e_at] = 0x81                                                       # -127
    (tmp_path / "bad.qsq").write_bytes(bytes(blob) + struct.pack("<I", zlib.crc32(blob)))
    assert main(["inspect", "bad.qsq", "--accuracy"]) == 2
    assert capsys.readouterr().err.startswith("qsq: error: bad.qsq: layer conv1: requantization "
                                              "shift e_out - (e_in + E) = ")


def test_inspect_reads_once_and_unpack_replaces(model_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.qsq").write_bytes(model_file.read_bytes())
    assert main(["inspect", "m.qsq"]) == 0
    assert f"{model_file.stat().st_size} bytes, CRC-32 OK" in capsys.readouterr().out
    (tmp_path / "m.npz").write_bytes(b"old")
    assert main(["unpack", "m.qsq"]) == 0
    assert (tmp_path / "m.npz").read_bytes()[:2] == b"PK"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "m.qsq"]


def test_unpack_failing_write_keeps_previous_npz(model_file, tmp_path, monkeypatch, capsys):
    from test_fileio import _disk_fills_half_way

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.qsq").write_bytes(model_file.read_bytes())
    (tmp_path / "m.npz").write_bytes(b"previous")
    _disk_fills_half_way(monkeypatch)
    assert main(["unpack", "m.qsq"]) == 2
    assert capsys.readouterr().err == "qsq: error: m.npz: no space left on the device\n"
    assert (tmp_path / "m.npz").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "m.qsq"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX resource limits")
def test_pack_over_an_existing_model_on_a_full_disk_keeps_it(model_file, tmp_path):
    """`qsq pack -o existing.qsq` whose write fails half-way (here: a file-size limit below the
    file's size, EFBIG) must leave the existing model intact and no temporary file behind.
    It used to truncate the existing model."""
    old = model_file.read_bytes()
    target = tmp_path / "existing.qsq"
    target.write_bytes(old)
    limit = len(old) // 2
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        from golden_model.cli import main
        sys.exit(main(["pack", "--qat", "-o", {str(target)!r}]))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert res.returncode == 2, res.stderr
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["existing.qsq"]
    read_model(target)
    assert res.stderr.endswith(f"qsq: error: {target}: file too large (file-system or process "
                               f"file-size limit)\n")
