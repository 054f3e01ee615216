"""File errors of the ``qsq`` commands, each one line with exit status 2: damaged, truncated or
pickled checkpoints in every command that reads one; writes refused where ``-o`` is a symbolic
link or a device, FIFO or other non-regular file (unless ``--force``); ``qsq compile -o DIR`` all
or nothing, checked before the compile; no error names an internal temporary file."""

from __future__ import annotations

import errno
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from golden_model.cli import main
from golden_model.nn.checkpoint import DEFAULT_CHECKPOINT

DAMAGED = "the .npz file is damaged or truncated"
PICKLED = "array 'meta' holds Python objects (an object array); qsq loads numeric arrays only"


def _member_data(blob: bytes, member: str) -> tuple[int, int]:
    """Offset and size of ``member``'s (compressed) data in the zip ``blob``."""
    import io

    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        info = z.getinfo(member)
    name_len, extra_len = np.frombuffer(blob[info.header_offset + 26:info.header_offset + 30],
                                        "<u2")
    return info.header_offset + 30 + int(name_len) + int(extra_len), info.compress_size


def bad_checkpoints(folder: Path) -> dict[str, tuple[Path, str]]:
    """Broken copies of the committed checkpoint and the reason each one is refused with."""
    blob = DEFAULT_CHECKPOINT.read_bytes()
    out = {}
    out["truncated"] = (folder / "truncated.npz", DAMAGED)
    out["truncated"][0].write_bytes(blob[:len(blob) // 2])
    # Compressed data of one array changed: zlib.error (or a bad CRC) when it is read.
    at, size = _member_data(blob, "float/conv2.w.npy")
    b = bytearray(blob)
    for i in range(at + size // 3, at + size // 3 + 64):
        b[i] ^= 0x5A
    out["deflate"] = (folder / "deflate.npz", DAMAGED + " (array 'float/conv2.w')")
    out["deflate"][0].write_bytes(bytes(b))
    # A stored (uncompressed) archive with one changed byte: zipfile's "Bad CRC-32".
    with np.load(DEFAULT_CHECKPOINT) as z:
        arrays = {k: z[k] for k in z.files}
    stored = folder / "crc.npz"
    np.savez(stored, **arrays)
    blob = stored.read_bytes()
    at, size = _member_data(blob, "float/fc1.w.npy")
    b = bytearray(blob)
    b[at + size - 5] ^= 0x01
    stored.write_bytes(bytes(b))
    out["crc"] = (stored, DAMAGED + " (array 'float/fc1.w')")
    pickled = folder / "pickled.npz"
    np.savez(pickled, meta=np.array([{"arch": "lenet"}], dtype=object), w=np.zeros((2, 2)))
    out["pickled"] = (pickled, PICKLED)
    return out


COMMANDS = {
    "compile": lambda f, d: ["compile", str(f), "-o", str(d / "engine")],
    "pack": lambda f, d: ["pack", "--checkpoint", str(f), "-o", str(d / "m.qsq")],
    "evaluate": lambda f, d: ["evaluate", "--checkpoint", str(f), "--out", str(d / "eval"),
                              "--quiet"],
    "encode": lambda f, d: ["encode", str(f)],
    "bitstream": lambda f, d: ["bitstream", "--model", str(f), "--top-only", "-o", str(d / "b")],
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    return bad_checkpoints(tmp_path_factory.mktemp("broken"))


@pytest.mark.parametrize("kind", ["truncated", "deflate", "crc", "pickled"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_broken_checkpoint_is_one_line(command, kind, broken, tmp_path, capsys):
    path, reason = broken[kind]
    assert main(COMMANDS[command](path, tmp_path)) == 2
    err = capsys.readouterr().err
    what = "" if command == "encode" else "not a valid checkpoint: "
    assert err == f"qsq: error: {path}: {what}{reason}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []          # nothing written


# ----------------------------------------------------------------------------- writes that clobber
@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.qsq"
    assert main(["pack", "-o", str(path)]) == 0
    return path


WRITERS = {
    "verilog": lambda o, m: ["verilog", "csd_multiplier", "-o", o],
    "pack": lambda o, m: ["pack", "-o", o],
    "unpack": lambda o, m: ["unpack", str(m), "-o", o],
    "train": lambda o, m: ["train", "--epochs", "1", "--qat-epochs", "0", "--quiet", "--out", o],
    "metrics": lambda o, m: ["metrics", "--a-width", "3", "--b-width", "3", "--out",
                             o.removesuffix(".json")],
    "encode": lambda o, m: ["encode", str(DEFAULT_CHECKPOINT), "--out", o.removesuffix(".json")],
}


#: The option each writer names in its errors.
OPTION = {"verilog": "-o/--out", "pack": "-o/--out", "unpack": "-o/--out", "train": "-o/--out",
          "metrics": "-o/--out", "encode": "-o/--out"}


def _target_name(command: str) -> str:
    return "out.json" if command in ("metrics", "encode") else "out.bin"


@pytest.mark.parametrize("command", list(WRITERS))
def test_output_onto_a_symbolic_link_is_refused_unless_forced(command, model, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = _target_name(command)
    (tmp_path / "elsewhere").write_bytes(b"precious")
    os.symlink("elsewhere", name)
    assert main(WRITERS[command](name, model)) == 2
    assert capsys.readouterr().err == (f"qsq: error: {OPTION[command]}: {name} is a symbolic "
                                       f"link to elsewhere; pass --force to write there\n")
    assert (tmp_path / "elsewhere").read_bytes() == b"precious"
    if command == "train":
        return                                       # the forced run is the same write path
    assert main(WRITERS[command](name, model) + ["--force"]) == 0
    assert os.path.islink(name) and os.readlink(name) == "elsewhere"   # the link is kept
    assert (tmp_path / "elsewhere").read_bytes() != b"precious"        # its target written
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("command", ["verilog", "pack", "unpack", "metrics"])
def test_output_onto_a_device_or_fifo_is_refused_unless_forced(command, model, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    option = OPTION[command]
    fifo = tmp_path / _target_name(command)
    os.mkfifo(fifo)
    assert main(WRITERS[command](fifo.name, model)) == 2
    assert capsys.readouterr().err == (f"qsq: error: {option}: {fifo.name} is a named pipe (FIFO), "
                                       f"not a regular file; pass --force to write into it\n")
    if command == "metrics":
        return
    null = "/dev/null"
    assert main(WRITERS[command](null, model)) == 2
    assert capsys.readouterr().err == (f"qsq: error: {option}: {null} is a character device, not "
                                       f"a regular file; pass --force to write into it\n")
    assert main(WRITERS[command](null, model) + ["--force"]) == 0       # written into, in place
    assert Path(null).is_char_device()


def test_verilog_core_file_follows_the_same_rules(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink("/dev/null", "m.core")
    assert main(["verilog", "csd_multiplier", "-o", "m.v", "--core"]) == 2
    assert capsys.readouterr().err == ("qsq: error: --core: m.core is a symbolic link to /dev/null; "
                                       "pass --force to write there\n")
    assert not Path("m.v").exists()                   # refused before anything is written


def test_every_writing_command_has_force():
    import argparse

    from golden_model.cli import OUTPUT_OPTIONS, build_parser

    def leaves(parser, name):
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub, sp in a.choices.items():
                    yield from leaves(sp, f"{name} {sub}".strip())
                return
        yield name, {s for a in parser._actions for s in a.option_strings}

    seen = 0
    for name, options in leaves(build_parser(), ""):
        assert ("--force" in options) == bool(options & set(OUTPUT_OPTIONS)), name
        seen += "--force" in options
    assert seen >= 15


# ----------------------------------------------------------------------------- qsq compile -o DIR
def test_compile_refuses_a_file_target_before_compiling(tmp_path, capsys, monkeypatch):
    from hw.engine import program

    def no_work(*a, **k):
        raise AssertionError("compiled before the output folder was checked")

    monkeypatch.setattr(program, "compile_program", no_work)
    f = tmp_path / "engine"
    f.write_text("a file")
    assert main(["compile", "-o", str(f)]) == 2
    assert capsys.readouterr().err == f"qsq: error: -o/--out: {f} is a file, not a folder\n"
    os.symlink("engine", tmp_path / "link")
    assert main(["compile", "-o", str(tmp_path / "link")]) == 2
    assert capsys.readouterr().err == (f"qsq: error: -o/--out: {tmp_path / 'link'} is a symbolic "
                                       f"link to engine; pass --force to write there\n")


def _fail_on_write(monkeypatch, nth: int):
    """The ``nth`` atomic write of the compile fails with a full disk, after writing half."""
    from golden_model import fileio
    from hw.engine import compile as engine_compile

    calls = {"n": 0}
    real = fileio.atomic_write_text

    def write(path, text, *a, **k):
        calls["n"] += 1
        if calls["n"] == nth:
            with fileio.atomic_open(path, "w") as fh:
                fh.write(text[:len(text) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, text, *a, **k)

    monkeypatch.setattr(engine_compile, "atomic_write_text", write)


def test_failed_compile_leaves_the_old_folder_and_no_half_folder(tmp_path, capsys, monkeypatch):
    out = tmp_path / "engine"
    assert main(["compile", "-o", str(out), "--no-verilog"]) == 0
    (out / "notes.md").write_text("the user's own file")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    _fail_on_write(monkeypatch, 3)
    assert main(["compile", "-o", str(out), "--no-verilog", "--lanes", "8"]) == 2
    err = capsys.readouterr().err
    assert err == f"qsq: error: {out}/biases.hex: no space left on the device\n"   # the user's path
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine"]               # no temp folder
    # A new folder: nothing at all after a failure, everything after a success.
    _fail_on_write(monkeypatch, 2)
    assert main(["compile", "-o", str(tmp_path / "new"), "--no-verilog"]) == 2
    assert "new/scales.hex: no space left on the device" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine"]
    monkeypatch.undo()
    assert main(["compile", "-o", str(tmp_path / "new"), "--no-verilog", "--lanes", "8"]) == 0
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "biases.hex", "descriptors.hex", "manifest.json", "manifest.md", "scales.hex",
        "weights.hex"]
    # A successful compile into the old folder replaces its files and keeps the user's.
    assert main(["compile", "-o", str(out), "--no-verilog", "--lanes", "8"]) == 0
    assert (out / "notes.md").read_text() == "the user's own file"
    assert (out / "manifest.json").read_bytes() == (tmp_path / "new" / "manifest.json").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine", "new"]
