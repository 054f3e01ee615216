"""Recorded multiplier operand traces, the input of the switching-activity reports.

File format (``traces.npz``, written by ``qsq evaluate``)
--------------------------------------------------------
``layers``
    1-D array of layer names (str), in network order.
``meta``
    JSON string: ``cap`` (pairs per layer and order), ``images`` (test images traced),
    ``a`` / ``b`` operand formats, truncation level of the traced run (0: exact network).
``<L>/stream/a``, ``<L>/stream/b``
    ``int64`` 1-D, the operand pairs of layer ``L`` in streaming MAC order, output-position major:
    for each output position ``p`` (image, then pixel in row-major order; one position for fc
    layers), for each filter ``f``, for each fan-in index ``k`` (im2col order):
    ``a = patch[p, k]``, ``b = weight[f, k]``.
``<L>/ws/a``, ``<L>/ws/b``
    The same pairs in weight-stationary order: for each filter ``f``, for each ``k``, the weight
    ``b = weight[f, k]`` is held while ``a = patch[p, k]`` streams past for every position ``p``.

Each sequence is the *first* ``cap`` pairs of its order (``cap`` = 65,536 by default), so
``len(a) == len(b) == min(cap, P*F*K)``. ``a`` is the unsigned 8-bit activation, ``b`` the decoded
signed 8-bit weight (before CSD truncation, which the multiplier applies internally): the
``MultiplierConfig(8, False, 8, True)`` operands.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..config import check_int
from ..fileio import atomic_open

__all__ = ["DEFAULT_CAP", "trace_pairs", "write_traces", "load_traces"]

#: Default number of operand pairs kept per layer and order.
DEFAULT_CAP = 65_536


def trace_pairs(patches: np.ndarray, weights: np.ndarray, order: str, cap: int = DEFAULT_CAP):
    """The first ``cap`` ``(a, b)`` pairs of a layer in ``order`` ``"stream"`` or ``"ws"``.

    ``patches`` is ``(P, K)`` (activations per output position), ``weights`` is ``(F, K)``.
    """
    cap = check_int("cap", cap, 1, 1 << 30)
    p, k = patches.shape
    f = weights.shape[0]
    n = min(cap, p * f * k)
    i = np.arange(n, dtype=np.int64)
    if order == "stream":
        pi, fi, ki = np.unravel_index(i, (p, f, k))
    elif order == "ws":
        fi, ki, pi = np.unravel_index(i, (f, k, p))
    else:
        raise ValueError(f"order must be 'stream' or 'ws', not {order!r}")
    return patches[pi, ki].astype(np.int64), weights[fi, ki].astype(np.int64)


def write_traces(path, record: dict, meta: dict, cap: int = DEFAULT_CAP) -> Path:
    """Write ``record`` (``{layer: (patches, weights)}``, insertion order) to ``path``."""
    arrays = {"layers": np.array(list(record)), "meta": np.array(json.dumps({**meta, "cap": cap}))}
    for name, (patches, weights) in record.items():
        for order in ("stream", "ws"):
            a, b = trace_pairs(patches, weights, order, cap)
            arrays[f"{name}/{order}/a"], arrays[f"{name}/{order}/b"] = a, b
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def load_traces(path) -> dict:
    """Load a traces file.

    Returns
    -------
    dict
        ``{"layers": [names], "meta": dict, name: {"stream": (a, b), "ws": (a, b)}}`` with ``a``,
        ``b`` ``int64`` arrays.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If an expected array is missing or the pairs are malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such traces file")
    with np.load(path, allow_pickle=False) as z:
        if "layers" not in z.files:
            raise ValueError(f"{path}: not a traces file (no 'layers' entry)")
        out = {"layers": [str(s) for s in z["layers"]],
               "meta": json.loads(str(z["meta"])) if "meta" in z.files else {}}
        for name in out["layers"]:
            out[name] = {}
            for order in ("stream", "ws"):
                ka, kb = f"{name}/{order}/a", f"{name}/{order}/b"
                if ka not in z.files or kb not in z.files:
                    raise ValueError(f"{path}: layer {name!r} has no {order} trace")
                a, b = z[ka].astype(np.int64), z[kb].astype(np.int64)
                if a.shape != b.shape or a.ndim != 1:
                    raise ValueError(f"{path}: layer {name!r} {order} trace a and b must be 1-D "
                                     f"of equal length, not {a.shape} and {b.shape}")
                if a.size and (a.min() < 0 or a.max() > 255 or b.min() < -128 or b.max() > 127):
                    raise ValueError(f"{path}: layer {name!r} {order} operands outside u8 x s8")
                out[name][order] = (a, b)
    return out
