"""Safe writes (temporary file + rename) and file errors in words."""

import errno
import os

import pytest

from golden_model import fileio
from golden_model.fileio import (atomic_open, atomic_write_bytes, atomic_write_text,
                                 check_output_path, describe_os_error)

OLD = b"previous contents\n" * 100


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _disk_fills_half_way(monkeypatch):
    """Every file opened by fileio accepts half of the first write, then reports a full disk."""
    real_fdopen = os.fdopen

    class HalfFull:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            self.fh.write(bytes(data[:len(data) // 2]))
            self.fh.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(fileio.os, "fdopen", lambda *a, **k: HalfFull(real_fdopen(*a, **k)))


def test_writes_and_replaces(tmp_path):
    p = tmp_path / "f.bin"
    assert atomic_write_bytes(p, b"abc") == 3
    assert p.read_bytes() == b"abc"
    p.chmod(0o640)
    atomic_write_bytes(p, bytearray(b"defg"))
    assert p.read_bytes() == b"defg"
    assert p.stat().st_mode & 0o777 == 0o640          # the replaced file's permissions are kept
    t = tmp_path / "t.txt"
    assert atomic_write_text(t, "a\nb\n", newline="\r\n") == 4
    assert t.read_bytes() == b"a\r\nb\r\n"
    assert _leftovers(tmp_path) == []


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    p = tmp_path / "model.qsq"
    p.write_bytes(OLD)
    _disk_fills_half_way(monkeypatch)
    with pytest.raises(OSError) as info:
        atomic_write_bytes(p, b"new" * 1000)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(p)
    assert describe_os_error(info.value) == f"{p}: no space left on the device"
    assert p.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_failed_fsync_keeps_the_previous_file(tmp_path, monkeypatch):
    """A full disk often shows only when the data is flushed to it."""
    p = tmp_path / "out.txt"
    p.write_bytes(OLD)

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(p, "new text")
    assert p.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_exception_in_the_block_keeps_the_previous_file(tmp_path):
    p = tmp_path / "a.npz"
    p.write_bytes(OLD)
    with pytest.raises(RuntimeError, match="^stop$"):
        with atomic_open(p, "wb") as fh:
            fh.write(b"partial")
            raise RuntimeError("stop")
    assert p.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"^mode must be 'wb' or 'w', not 'ab'$"):
        with atomic_open(tmp_path / "x", "ab"):
            pass
    with pytest.raises(TypeError, match=r"^text must be a str, not bytes$"):
        atomic_write_text(tmp_path / "x", b"x")
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "no" / "x", b"")
    assert not (tmp_path / "x").exists()


def test_describe_os_error(tmp_path):
    cases = [
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "a.npy"), "a.npy: does not exist"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "d"), "d: is a folder, not a file"),
        (PermissionError(errno.EACCES, "Permission denied", "p"), "p: permission denied"),
        (OSError(errno.EXDEV, "Invalid cross-device link", "a", None, "b"),
         "a -> b: invalid cross-device link"),
        (OSError(errno.ENOSPC, "No space left on device"), "no space left on the device"),
        (FileNotFoundError("m.qsq: no such model file"), "m.qsq: no such model file"),
    ]
    for exc, text in cases:
        assert describe_os_error(exc) == text
    try:
        open(tmp_path, "rb")
    except OSError as exc:
        assert describe_os_error(exc) == f"{tmp_path}: is a folder, not a file"


def test_check_output_path(tmp_path):
    assert check_output_path(tmp_path / "new" / "deeper" / "f.txt", "--out") == tmp_path / "new" / "deeper" / "f.txt"
    with pytest.raises(ValueError, match=rf"^--out: {tmp_path} is a folder, not a file name$"):
        check_output_path(tmp_path, "--out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=rf"^-o: cannot write {tmp_path}/file/f: {tmp_path}/file is a "
                                         rf"file, not a folder$"):
        check_output_path(tmp_path / "file" / "f", "-o")
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(ValueError, match=rf"^-o: cannot write {ro}/f: folder {ro} is not writable$"):
            check_output_path(ro / "f", "-o")


def test_report_figure_on_a_full_disk_keeps_the_previous_png(tmp_path, monkeypatch):
    """The report's figures are written safely too (``hw.flow.plots.save_figure``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hw.flow.plots import save_figure

    p = tmp_path / "pareto.png"
    p.write_bytes(OLD)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    _disk_fills_half_way(monkeypatch)
    with pytest.raises(OSError):
        save_figure(fig, p)
    assert p.read_bytes() == OLD
    assert _leftovers(tmp_path) == []
    monkeypatch.undo()
    fig, ax = plt.subplots()
    save_figure(fig, p)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
