"""Safe file writes and file errors in words.

Every file the project writes goes through :func:`atomic_open` (or :func:`atomic_write_bytes` /
:func:`atomic_write_text`): the data is written to a temporary file in the *same folder*, flushed
and ``fsync``-ed, then renamed over the target with :func:`os.replace`, which is atomic on POSIX
and Windows. A failed write (full disk, quota, an exception in the caller) removes the temporary
file and leaves the previous file, if any, byte for byte as it was; a reader never sees a
half-written file.

:func:`describe_os_error` turns an :class:`OSError` into one line that names the file and says what
is wrong in words (``build/x.qsq: no space left on the device``) instead of the raw
``[Errno 28] ...`` text; the ``qsq`` command line prints every file error this way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "describe_os_error",
           "check_output_path"]

#: What each common ``errno`` means, in words (the rest use the system's text, lower-cased).
_ERRNO_WORDS = {
    errno.ENOENT: "does not exist",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "the file system is read-only",
    errno.EFBIG: "file too large (file-system or process file-size limit)",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "file name too long",
    errno.EMFILE: "too many open files",
    errno.EIO: "input/output error (a disk or file-system fault)",
}
if hasattr(errno, "EDQUOT"):
    _ERRNO_WORDS[errno.EDQUOT] = "disk quota exceeded"


def describe_os_error(exc: OSError) -> str:
    """One line naming the file of ``exc`` and what went wrong, without the ``[Errno N]`` prefix.

    Errors raised with a message of their own (no ``errno``) are returned as that message.
    """
    if exc.errno is None:
        return str(exc) or type(exc).__name__
    words = _ERRNO_WORDS.get(exc.errno) or (exc.strerror or os.strerror(exc.errno)).lower()
    if exc.filename is None:
        return words
    where = os.fsdecode(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {os.fsdecode(exc.filename2)}"
    return f"{where}: {words}"


def check_output_path(path, option: str) -> Path:
    """Check, before any long work, that a file can be written at ``path``; return it as a Path.

    ``path`` must not be a folder, and its nearest existing parent folder must be a writable
    folder (missing folders below it are created by the writer). Runs no write.

    Raises
    ------
    ValueError
        Naming ``option`` and the reason.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option}: {p} is a folder, not a file name")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{option}: cannot write {p}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot write {p}: folder {parent} is not writable")
    return p


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", encoding: str | None = None, newline: str | None = None):
    """Open a temporary file next to ``path`` for writing; on success rename it to ``path``.

    Use as ``with atomic_open(p, "wb") as fh: ...``. When the block finishes, the data is
    flushed, ``fsync``-ed and renamed over ``path`` (:func:`os.replace`); the folder entry is
    ``fsync``-ed too where the platform allows it. If the block or any of these steps raises, the
    temporary file is removed, ``path`` is left as it was, and the exception propagates (an
    :class:`OSError` without a file name gets ``path`` as its file name).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text.
    encoding, newline : str, optional
        As for :func:`open`, text mode only (``encoding`` defaults to UTF-8).

    Notes
    -----
    The new file gets the permission bits of the file it replaces, or the usual ``0o666`` minus
    the umask for a new file.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', not {mode!r}")
    if mode == "wb" and (encoding is not None or newline is not None):
        raise ValueError("encoding and newline apply to text mode ('w') only")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        if mode == "wb":
            fh = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
        fd = -1  # owned by fh from here on
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
            exc.filename = str(path)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename itself is done
    finally:
        os.close(dfd)


def atomic_write_bytes(path, data: bytes) -> int:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`); return its length."""
    data = memoryview(data).cast("B")
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return len(data)


def atomic_write_text(path, text: str, encoding: str = "utf-8", newline: str | None = None) -> int:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_open`); return its length."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    with atomic_open(path, "w", encoding=encoding, newline=newline) as fh:
        fh.write(text)
    return len(text)
