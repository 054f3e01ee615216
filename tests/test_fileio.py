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


# ----------------------------------------------------------------------------- what a write replaces
def test_a_write_never_goes_through_a_link_or_into_a_device_unless_forced(tmp_path):
    from golden_model.fileio import check_output_path, forced_writes

    target = tmp_path / "target.txt"
    target.write_bytes(OLD)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    msg = rf"^{link} is a symbolic link to {target}; pass --force to write there$"
    with pytest.raises(ValueError, match=msg):
        atomic_write_text(link, "new")
    with pytest.raises(ValueError, match="^-o: " + msg[1:]):
        check_output_path(link, "-o")
    assert target.read_bytes() == OLD and link.is_symlink()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=rf"^{fifo} is a named pipe \(FIFO\), not a regular file; "
                                         r"pass --force to write into it$"):
        atomic_write_bytes(fifo, b"x")
    with pytest.raises(ValueError, match=r"^/dev/null is a character device, not a regular file"):
        atomic_write_bytes("/dev/null", b"x")
    with forced_writes():
        assert check_output_path(link, "-o") == link
        atomic_write_text(link, "new")               # the file the link points to is replaced
        atomic_write_bytes("/dev/null", b"into the device, in place")
    assert link.is_symlink() and target.read_text() == "new"
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    assert _leftovers(tmp_path) == []
    with pytest.raises(ValueError):                  # forced only inside the block
        atomic_write_text(link, "again")


def test_errors_name_the_users_path_not_the_temporary_file(tmp_path, monkeypatch):
    p = tmp_path / "out.txt"
    real_replace = os.replace

    def replace(src, dst):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), src, None, dst)

    monkeypatch.setattr(fileio.os, "replace", replace)
    with pytest.raises(OSError) as info:
        atomic_write_text(p, "x")
    assert describe_os_error(info.value) == f"{p}: invalid cross-device link"
    monkeypatch.setattr(fileio.os, "replace", real_replace)
    real_open = os.open

    def full(path, *a, **k):
        if str(path).endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_open(path, *a, **k)

    monkeypatch.setattr(fileio.os, "open", full)
    with pytest.raises(OSError) as info:
        atomic_write_text(p, "x")
    assert describe_os_error(info.value) == f"{p}: no space left on the device"
    assert _leftovers(tmp_path) == []


def test_atomic_folder_all_or_nothing(tmp_path):
    from golden_model.fileio import atomic_folder

    new = tmp_path / "new"
    with pytest.raises(RuntimeError, match="^stop$"):
        with atomic_folder(new) as d:
            atomic_write_text(d / "a.txt", "a")
            raise RuntimeError("stop")
    assert sorted(tmp_path.iterdir()) == []           # no half folder, no temporary folder
    with atomic_folder(new) as d:
        assert d.parent == tmp_path and d.name.startswith(".new.") and d.name.endswith(".tmp")
        atomic_write_text(d / "a.txt", "a")
        atomic_write_text(d / "b.txt", "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]
    (new / "mine.txt").write_text("the user's")
    with pytest.raises(OSError) as info:
        with atomic_folder(new) as d:
            atomic_write_text(d / "a.txt", "A")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(d / "b.txt"))
    assert describe_os_error(info.value) == f"{new}/b.txt: no space left on the device"
    assert {p.name: p.read_text() for p in new.iterdir()} == {"a.txt": "a", "b.txt": "b",
                                                              "mine.txt": "the user's"}
    with atomic_folder(new, "-o") as d:
        atomic_write_text(d / "a.txt", "A")
    assert {p.name: p.read_text() for p in new.iterdir()} == {"a.txt": "A", "b.txt": "b",
                                                              "mine.txt": "the user's"}
    (new / "b.txt").unlink()
    (new / "b.txt").symlink_to(new / "mine.txt")
    with pytest.raises(ValueError, match=rf"^-o: {new}/b.txt is a symbolic link to {new}/mine.txt"):
        with atomic_folder(new, "-o") as d:
            atomic_write_text(d / "a.txt", "not moved")
            atomic_write_text(d / "b.txt", "B")
    assert (new / "a.txt").read_text() == "A"         # checked before the first file moved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=rf"^-o: {tmp_path}/file is a file, not a folder$"):
        with atomic_folder(tmp_path / "file", "-o"):
            raise AssertionError("not reached")


def test_load_arrays(tmp_path):
    from golden_model.fileio import load_arrays

    np = pytest.importorskip("numpy")
    np.savez_compressed(tmp_path / "a.npz", w=np.ones((2, 3)), b=np.zeros(3))
    got = load_arrays(tmp_path / "a.npz")
    assert list(got) == ["w", "b"] and got["w"].shape == (2, 3)
    np.save(tmp_path / "one.npy", np.eye(2))
    assert list(load_arrays(tmp_path / "one.npy")) == ["weights"]
    blob = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(blob[:len(blob) - 30])
    with pytest.raises(ValueError, match=rf"^{tmp_path}/cut.npz: the .npz file is damaged or "
                                         r"truncated$"):
        load_arrays(tmp_path / "cut.npz")
    np.savez(tmp_path / "obj.npz", x=np.zeros(2), o=np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match=r"array 'o' holds Python objects \(an object array\); "
                                         r"qsq loads numeric arrays only$"):
        load_arrays(tmp_path / "obj.npz")
    with pytest.raises(FileNotFoundError):
        load_arrays(tmp_path / "none.npz")
