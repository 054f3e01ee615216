"""Toggle counting from a value change dump (IEEE 1364 VCD).

Only what the activity flow needs: the 1-bit variables of one scope, and per variable the number
of settled transitions between 0 and 1 (``toggles``) and of rising ones (``rises``) in each time
window. Several changes of one variable at the same timestamp count once, from the value before
the timestamp to the value after it (a zero-delay simulation has no real glitches). Transitions
from or to ``x``/``z`` are not counted.

Two readers give identical counts (a test checks it on real activity waves):

``"wellen"`` (the default)
    The Rust ``wellen`` library through its Python binding ``pywellen``: it parses the file, and
    the counting is vectorized with NumPy per variable. Measured faster on the report's waves
    (``qsq report`` times both on the largest waves of each run and states the ratio in the
    report's method section).
``"python"``
    A small streaming parser in pure Python, kept as the reference the library is checked
    against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["VcdError", "Toggles", "count_toggles", "READERS"]

#: The VCD readers :func:`count_toggles` offers.
READERS = ("wellen", "python")


class VcdError(ValueError):
    """The file is not a well-formed VCD."""


@dataclass
class Toggles:
    """Per-variable counts, keyed by the variable's reference name (e.g. ``n42`` or ``a[3]``).

    ``toggles[name][w]`` and ``rises[name][w]`` count the transitions in time window ``w``.
    """

    toggles: dict[str, list[int]]
    rises: dict[str, list[int]]


def _check_bounds(bounds) -> list[int]:
    bounds = [int(b) for b in bounds]
    if any(x >= y for x, y in zip(bounds, bounds[1:])):
        raise ValueError(f"bounds must be strictly ascending times, not {bounds!r}")
    return bounds


def count_toggles(path, scope: str | None = None, bounds=(), reader: str = "wellen") -> Toggles:
    """Count transitions of every 1-bit variable (in ``scope``, the innermost scope name, if given).

    Parameters
    ----------
    path : path-like
        The VCD file.
    scope : str, optional
        Count only the variables declared directly in a scope of this name.
    bounds : sequence of int
        Ascending times that split the run into ``len(bounds) + 1`` windows: a transition at
        time ``T`` falls into window ``sum(T >= b for b in bounds)``.
    reader : str
        ``"wellen"`` or ``"python"`` (see the module docstring); the counts are identical.

    Raises
    ------
    VcdError
        If the file cannot be read or is not a well-formed VCD.
    ValueError
        For bounds that are not strictly ascending or an unknown reader.
    """
    if reader not in READERS:
        raise ValueError(f"reader must be one of {', '.join(map(repr, READERS))}, not {reader!r}")
    path = Path(path)
    bounds = _check_bounds(bounds)
    if not path.is_file():
        raise VcdError(f"{path}: no such file")
    if reader == "wellen":
        return _count_wellen(path, scope, bounds)
    return _count_python(path, scope, bounds)


def _count_wellen(path: Path, scope: str | None, bounds: list[int]) -> Toggles:
    import pywellen

    try:
        wave = pywellen.Waveform(str(path), multi_threaded=False)
        if wave.file_format != "VCD":
            raise VcdError(f"{path}: not a VCD file ({wave.file_format})")
        if scope is None:
            variables = list(wave.all_vars())
        else:
            variables = [v for s in wave.all_scopes() if s.name == scope for v in s.vars()]
        edges = np.asarray(bounds, dtype=np.int64)
        nwin = len(bounds) + 1
        toggles, rises = {}, {}
        for var in variables:
            if not var.is_1bit:
                continue
            sig = var.signal
            changes = sig[0:len(sig)]
            tog, rise = [0] * nwin, [0] * nwin
            if len(changes) > 1:
                times = np.fromiter((c[0] for c in changes), np.int64, len(changes))
                # 0 and 1 as themselves, x/z (strings) as 2
                vals = np.fromiter((c[1] if c[1] in (0, 1) else 2 for c in changes), np.int8,
                                   len(changes))
                last = np.ones(times.size, bool)            # the settled value of each timestamp
                last[:-1] = times[1:] != times[:-1]
                times, vals = times[last], vals[last]
                old, new = vals[:-1], vals[1:]
                moved = (old != new) & (old < 2) & (new < 2)
                win = np.searchsorted(edges, times[1:][moved], side="right")
                tog = np.bincount(win, minlength=nwin).tolist()
                rise = np.bincount(win[new[moved] == 1], minlength=nwin).tolist()
            toggles[var.name] = tog
            rises[var.name] = rise
    except RuntimeError as exc:                      # the library's parse errors
        msg = " ".join(str(exc).split())
        raise VcdError(f"{path}: {msg}") from None
    return Toggles(toggles, rises)


def _count_python(path: Path, scope: str | None, bounds: list[int]) -> Toggles:
    ids: dict[str, list[str]] = {}      # id code -> names (one id can alias several variables)
    stack: list[str] = []
    with path.open() as f:
        # ---- header
        tokens: list[str] = []
        for line in f:
            tokens.extend(line.split())
            if "$enddefinitions" in tokens:
                break
        else:
            raise VcdError(f"{path}: no $enddefinitions (not a VCD, or truncated)")
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok == "$scope":
                stack.append(tokens[i + 2])
                i = tokens.index("$end", i) + 1
            elif tok == "$upscope":
                if not stack:
                    raise VcdError(f"{path}: $upscope without $scope")
                stack.pop()
                i = tokens.index("$end", i) + 1
            elif tok == "$var":
                end = tokens.index("$end", i)
                try:
                    width, code, ref = int(tokens[i + 2]), tokens[i + 3], tokens[i + 4]
                except (IndexError, ValueError):
                    raise VcdError(f"{path}: malformed $var: {' '.join(tokens[i:end + 1])}") from None
                if width == 1 and (scope is None or (stack and stack[-1] == scope)):
                    ids.setdefault(code, []).append(ref)
                i = end + 1
            elif tok.startswith("$"):
                i = tokens.index("$end", i) + 1 if tok != "$end" else i + 1
            else:
                i += 1
        # ---- value changes
        value: dict[str, str] = {}
        pending: dict[str, str] = {}
        nwin = len(bounds) + 1
        tog = {c: [0] * nwin for c in ids}
        rise = {c: [0] * nwin for c in ids}
        time = 0
        win = 0

        def flush():
            for code, new in pending.items():
                old = value.get(code)
                if old is not None and old != new and old in "01" and new in "01":
                    tog[code][win] += 1
                    if new == "1":
                        rise[code][win] += 1
                value[code] = new
            pending.clear()

        for line in f:
            s = line.strip()
            if not s:
                continue
            c = s[0]
            if c == "#":
                flush()
                try:
                    time = int(s[1:])
                except ValueError:
                    raise VcdError(f"{path}: bad timestamp {s!r}") from None
                while win < len(bounds) and time >= bounds[win]:
                    win += 1
            elif c in "01xXzZ":
                code = s[1:]
                if code in ids:
                    pending[code] = c.lower()
                elif not code:
                    raise VcdError(f"{path}: value change without identifier: {s!r}")
            elif c in "bBrR":
                continue  # vectors: not counted (every net is also a 1-bit variable)
            elif c == "$":
                continue  # $dumpvars / $end markers around the initial values
            else:
                raise VcdError(f"{path}: unexpected line {s!r}")
        flush()
    toggles, rises = {}, {}
    for code, refs in ids.items():
        for r in refs:
            toggles[r] = tog[code]
            rises[r] = rise[code]
    return Toggles(toggles, rises)
