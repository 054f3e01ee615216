"""Safe file writes and file errors in words.

Every file the project writes goes through :func:`atomic_open` (or :func:`atomic_write_bytes` /
:func:`atomic_write_text`): the data is written to a temporary file in the *same folder*, flushed
and ``fsync``-ed, then renamed over the target with :func:`os.replace`, which is atomic on POSIX
and Windows. A failed write (full disk, quota, an exception in the caller) removes the temporary
file and leaves the previous file, if any, byte for byte as it was; a reader never sees a
half-written file.

:func:`describe_os_error` turns an :class:`OSError` into one line that names the file and says what
is wrong in words (``build/x.qsq: no space left on the device``) instead of the raw
``[Errno 28] ...`` text; the ``qsq`` command line prints every file error this way. An error
names the user's path, never the temporary file or folder the data went to first.

**What a write may replace.** A write never goes through a symbolic link and never replaces a
device, named pipe or socket (``-o /dev/sda``, ``-o link-to-elsewhere``): it raises a one-line
``ValueError`` naming the path, unless *forced*. Forced (``qsq ... --force``, which runs the command
inside :func:`forced_writes`), a symbolic link is followed and the file it points to replaced, and a
non-regular file (``/dev/stdout``, a FIFO) is written into in place. :func:`check_output_path` and
:func:`check_output_dir` apply the same rules before any long work, naming the option.

:func:`atomic_folder` gives a folder of outputs the same guarantee as one file: the files are
written into a temporary sibling folder, which is renamed into place (or, for an existing folder,
whose other contents are kept, each file is renamed over its old version) only when every file has
been written; a failure leaves the old folder as it was and no half-written folder behind.

:func:`load_arrays` reads a ``.npy``/``.npz`` file the one way the project reads user files: never
unpickling, and a damaged, truncated or pickled file is a one-line ``ValueError`` naming the file.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import secrets
import shutil
import stat
from pathlib import Path

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "atomic_folder",
           "describe_os_error", "check_output_path", "check_output_dir", "forced_writes",
           "load_arrays"]

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


#: True inside :func:`forced_writes`: writes may follow a symbolic link or write into a device.
_FORCE = contextvars.ContextVar("qsq_forced_writes", default=False)


@contextlib.contextmanager
def forced_writes(force: bool = True):
    """Within the block, writes follow symbolic links and write into non-regular files (``--force``)."""
    token = _FORCE.set(bool(force))
    try:
        yield
    finally:
        _FORCE.reset(token)


def _kind(mode: int) -> str:
    for test, words in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                        (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def _prefix(option: str | None) -> str:
    return f"{option}: " if option else ""


def output_target(path, option: str | None = None) -> tuple[Path, bool]:
    """The file a write of ``path`` goes to, and whether it is written into in place.

    Returns ``(path, False)`` for a regular or new file (replaced atomically). A symbolic link is
    refused, or followed when forced; a device, FIFO or socket is refused, or, when forced,
    returned with ``True`` (written into, not replaced).

    Raises
    ------
    ValueError
        For a symbolic link or a non-regular file when not forced (naming ``option``, if given).
    """
    p = Path(path)
    force = _FORCE.get()
    if p.is_symlink():
        to = os.readlink(p)
        if not force:
            raise ValueError(f"{_prefix(option)}{p} is a symbolic link to {to}; pass --force to "
                             f"write there")
        p = Path(os.path.realpath(p))
    try:
        mode = os.stat(p).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return p, False
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return p, False
    if not force:
        raise ValueError(f"{_prefix(option)}{Path(path)} is {_kind(mode)}, not a regular file; pass "
                         f"--force to write into it")
    return p, True


def check_output_path(path, option: str) -> Path:
    """Check, before any long work, that a file can be written at ``path``; return it as a Path.

    ``path`` must not be a folder, nor, unless forced (:func:`forced_writes`), a symbolic link or
    a device, FIFO or socket; its nearest existing parent folder must be a writable folder
    (missing folders below it are created by the writer). Runs no write.

    Raises
    ------
    ValueError
        Naming ``option`` and the reason.
    """
    p = Path(path)
    target, direct = output_target(p, option)
    if target.is_dir():
        raise ValueError(f"{option}: {p} is a folder, not a file name")
    if direct:
        return p
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{option}: cannot write {p}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot write {p}: folder {parent} is not writable")
    return p


def check_output_dir(path, option: str) -> Path:
    """Check, before any long work, that an output folder can be written at ``path``.

    ``path`` must be a folder or not exist (a file there is refused, and, unless forced, a
    symbolic link); its nearest existing parent must be a writable folder.

    Raises
    ------
    ValueError
        Naming ``option`` and the reason.
    """
    p = Path(path)
    if p.is_symlink() and not _FORCE.get():
        raise ValueError(f"{option}: {p} is a symbolic link to {os.readlink(p)}; pass --force to "
                         f"write there")
    if p.exists() and not p.is_dir():
        raise ValueError(f"{option}: {p} is a file, not a folder")
    parent = p if p.exists() else p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{option}: cannot write {p}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot write {p}: folder {parent} is not writable")
    return p


def _name_user_path(exc: OSError, internal, user) -> None:
    """Make ``exc`` name ``user`` where it names ``internal`` (a temporary file or folder), so the
    message shows the path the user asked for."""
    internal, user = os.fsdecode(internal), os.fsdecode(user)

    def swap(name):
        if name is None:
            return None
        name = os.fsdecode(name)
        if name == internal or name.startswith(internal + os.sep):
            return user + name[len(internal):]
        return name

    exc.filename = swap(exc.filename)
    exc.filename2 = swap(exc.filename2)
    if exc.filename2 == exc.filename:
        exc.filename2 = None


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
    user = Path(path)
    path, direct = output_target(user)
    if direct:                       # forced: into a device or FIFO, in place
        try:
            with open(path, mode, encoding=encoding or ("utf-8" if mode == "w" else None),
                      newline=newline) as fh:
                yield fh
        except OSError as exc:
            if exc.filename is None and exc.errno is not None:
                exc.filename = str(user)
            raise
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = -1
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
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
        if isinstance(exc, OSError) and exc.errno is not None:
            if exc.filename is None:
                exc.filename = str(user)
            _name_user_path(exc, tmp, user)
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


@contextlib.contextmanager
def atomic_folder(path, option: str | None = None):
    """Write a folder of outputs all or nothing: ``with atomic_folder(p) as tmp: write into tmp``.

    The block writes into a new temporary folder next to ``path``. When it finishes, a new
    ``path`` is that folder renamed into place; an existing ``path`` keeps its other contents and
    gets each written file renamed over its old version (the same rules as :func:`atomic_open`:
    no symbolic link or non-regular file replaced unless forced; all are checked before the first
    file moves). If the block or a check raises, the temporary folder is removed and ``path`` is
    left as it was. Errors name ``path``, never the temporary folder.

    Raises
    ------
    ValueError
        If ``path`` is a file (or, unless forced, a symbolic link), or a written file would
        replace a folder, a symbolic link or a non-regular file.
    """
    user = Path(path)
    check_output_dir(user, option or "output folder")
    final = Path(os.path.realpath(user)) if user.is_symlink() else user
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.mkdir()
        yield tmp
        if not final.exists():
            os.rename(tmp, final)
        else:
            moves = []
            for entry in sorted(tmp.iterdir()):
                dest = final / entry.name
                if dest.is_dir() and not dest.is_symlink():
                    raise ValueError(f"{_prefix(option)}{user / entry.name} is a folder, not a file")
                target, direct = output_target(user / entry.name, option)
                moves.append((entry, dest, target != dest or direct))
            for entry, dest, copy in moves:
                if copy:                 # forced through a link or into a device
                    with atomic_open(dest, "wb") as fh:
                        fh.write(entry.read_bytes())
                else:
                    os.replace(entry, dest)
            _fsync_folder(final)
            tmp.rmdir()
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            _name_user_path(exc, tmp, user)
        raise


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members / an empty zip


def load_arrays(path) -> dict:
    """Every array of a ``.npy`` (named ``weights``) or ``.npz`` file, by name, in file order.

    The file type is told by its signature, never by unpickling: object arrays are refused. Each
    failure is one line starting with ``path``: a file that is neither kind, a damaged or truncated
    archive (a bad zip directory, a member whose compressed data or CRC is wrong, an array cut
    short), an array of Python objects.

    Raises
    ------
    OSError
        If the file cannot be opened (missing, a folder, no permission).
    ValueError
        If it is not a complete ``.npy``/``.npz`` file of plain arrays.
    """
    import zipfile
    import zlib

    import numpy as np

    with open(path, "rb") as fh:
        head = fh.read(len(_NPY_MAGIC))
        fh.seek(0)
        if head.startswith(_NPY_MAGIC):
            kind = ".npy"
        elif head[:4] in _ZIP_MAGICS:
            kind = ".npz"
        else:
            raise ValueError(f"{path}: not a .npy or .npz file (it does not start with the NumPy or "
                             f"zip signature)")
        name, damaged = None, False
        try:
            data = np.load(fh, allow_pickle=False)
            if kind == ".npy":
                return {"weights": data}
            with data:
                arrays = {}
                for name in data.files:
                    arrays[name] = data[name]
                return arrays
        except ValueError as exc:
            if "allow_pickle" in str(exc) or "pickled" in str(exc):
                what = f"array {name!r}" if name else f"the {kind} file"
                raise ValueError(f"{path}: {what} holds Python objects (an object array); qsq "
                                 f"loads numeric arrays only") from None
            damaged = True
        except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, NotImplementedError):
            # NotImplementedError: a zip member in a compression method zipfile cannot read.
            damaged = True
    if damaged:
        where = f" (array {name!r})" if name else ""
        raise ValueError(f"{path}: the {kind} file is damaged or truncated{where}")
