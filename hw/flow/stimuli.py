"""Operand streams for the switching-activity simulations.

The dataflow decides the activity, so every design is measured under several stimulus sets, all
seeded and built from the golden model:

``uniform``
    ``a`` and ``b`` uniform over their formats, a new pair every cycle.
``stream``
    Weights ``b`` from the 3-bit quality-scalable codebook: gaussian filters encoded with
    :func:`golden_model.codec.encode_layer` (so codes, per-filter scales and code frequencies are
    the encoder's own), decoded, streamed in memory order; activations ``a`` ReLU-like (half of
    them zero, the rest half-normal), a new pair every cycle.
``ws``
    Weight-stationary: the same decoded weights, each held for :data:`WS_HOLD` cycles while ReLU
    activations stream past, as a convolution processing element reuses a filter weight.
``trace-stream`` / ``trace-ws``
    Operands recorded from the real network (``build/eval/traces.npz``, written by the network
    evaluation), in the two dataflows; skipped with a note when the file does not exist.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from golden_model.codec import encode_layer
from golden_model.config import CodecConfig, MultiplierConfig

__all__ = ["STIMULI", "WS_HOLD", "make_stimulus", "load_traces", "traces_fit", "TRACES_PATH",
           "design_segments"]

#: Stimulus sets measured by default (trace sets are added when the traces exist).
STIMULI = ("uniform", "stream", "ws")
#: Cycles a weight stays in the weight-stationary stimulus.
WS_HOLD = 32
#: Where the network evaluation writes its operand traces.
TRACES_PATH = Path("build/eval/traces.npz")


def _codebook_weights(cfg: MultiplierConfig, n: int, rng) -> np.ndarray:
    """``n`` decoded 3-bit-code weights fitting ``b`` (gaussian 3x3 filters, 16 filters a layer)."""
    scale_bits = cfg.b_width - 1 if cfg.b_signed else cfg.b_width - 1
    codec = CodecConfig(3, max(1, scale_bits))
    out = []
    while sum(len(x) for x in out) < n:
        w = rng.normal(0.0, 1.0, (16, 8, 3, 3)) * rng.uniform(0.5, 2.0, (16, 1, 1, 1))
        out.append(encode_layer(w, codec).decoded().reshape(-1))
    b = np.concatenate(out)[:n]
    if not cfg.b_signed:
        b = np.abs(b)
    return cfg.b.check(b)


def _relu_activations(cfg: MultiplierConfig, n: int, rng) -> np.ndarray:
    """ReLU-like activations: 50 % zeros, the rest half-normal with sigma a quarter of full scale."""
    top = cfg.a.max
    x = np.abs(rng.normal(0.0, top / 4.0, n))
    x[rng.random(n) < 0.5] = 0.0
    return np.clip(np.rint(x), 0, top).astype(np.int64)


def load_traces(path=TRACES_PATH) -> dict[str, list[tuple[np.ndarray, np.ndarray]]] | None:
    """Operand traces ``{"trace-stream": [(a, b) per layer], "trace-ws": [...]}``, or None.

    Raises
    ------
    ValueError
        If the file exists but is not a trace archive of the documented format.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            layers = [str(x) for x in z["layers"]]
            out = {}
            for flow in ("stream", "ws"):
                out[f"trace-{flow}"] = [
                    (z[f"{L}/{flow}/a"].reshape(-1).astype(np.int64),
                     z[f"{L}/{flow}/b"].reshape(-1).astype(np.int64)) for L in layers]
                if not layers or any(a.size != b.size or a.size == 0 for a, b in out[f"trace-{flow}"]):
                    raise ValueError("empty or mismatched a/b arrays")
    except (KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{path} is not a qsq trace archive (needs 'layers' and "
                         f"'<layer>/stream|ws/a|b' arrays): {exc}") from None
    return out


def make_stimulus(name: str, cfg: MultiplierConfig, n: int, seed: int = 1,
                  traces: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Operands ``(a, b)`` (``int64``, length ``n``) of stimulus set ``name``.

    Raises
    ------
    ValueError
        For an unknown stimulus name, a trace set without traces, or trace operands that do not fit
        the multiplier's formats.
    """
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), cfg.a_width, cfg.b_width])
    if name == "uniform":
        a = rng.integers(cfg.a.min, cfg.a.max + 1, n)
        b = rng.integers(cfg.b.min, cfg.b.max + 1, n)
    elif name == "stream":
        b = _codebook_weights(cfg, n, rng)
        a = _relu_activations(cfg, n, rng)
    elif name == "ws":
        w = _codebook_weights(cfg, -(-n // WS_HOLD), rng)
        b = np.repeat(w, WS_HOLD)[:n]
        a = _relu_activations(cfg, n, rng)
    elif name in ("trace-stream", "trace-ws"):
        if not traces or name not in traces:
            raise ValueError(f"stimulus {name!r} needs the network traces ({TRACES_PATH})")
        # An equal share of the operations from every layer, each share one contiguous window of
        # that layer's trace (keeps weight-stationary runs intact).
        layers = traces[name]
        parts_a, parts_b = [], []
        for i, (ta, tb) in enumerate(layers):
            m = n // len(layers) + (1 if i < n % len(layers) else 0)
            if ta.size < m:
                reps = -(-m // ta.size)
                ta, tb = np.tile(ta, reps), np.tile(tb, reps)
            start = int(rng.integers(0, ta.size - m + 1))
            parts_a.append(ta[start:start + m])
            parts_b.append(tb[start:start + m])
        a = cfg.a.check(np.concatenate(parts_a), "trace a")
        b = cfg.b.check(np.concatenate(parts_b), "trace b")
    else:
        raise ValueError(f"stimulus must be one of {STIMULI + ('trace-stream', 'trace-ws')}, "
                         f"not {name!r}")
    return np.asarray(a, np.int64), np.asarray(b, np.int64)


def traces_fit(traces, cfg: MultiplierConfig) -> bool:
    """True if every traced operand fits the formats of ``cfg``."""
    for layers in traces.values():
        for a, b in layers:
            if a.min() < cfg.a.min or a.max() > cfg.a.max or b.min() < cfg.b.min or b.max() > cfg.b.max:
                return False
    return True


def design_segments(design, stimuli, ops: int, seed: int, traces_path=None) -> list:
    """The measurement segments of ``design`` (a :class:`hw.flow.designs.Design`): for every
    stimulus set of ``stimuli`` (``ops`` operations, ``seed``; traces from ``traces_path`` for the
    trace-based sets) and every truncation level it measures, one
    :class:`hw.flow.activity.Segment` with the golden products."""
    from .activity import Segment

    traces = load_traces(traces_path) if traces_path else None
    segs = []
    for s in stimuli:
        a, b = make_stimulus(s, design.cfg, ops, seed, traces)
        for t in design.levels_measured():
            segs.append(Segment(s, t, a, b, design.golden(a, b, t)))
    return segs
