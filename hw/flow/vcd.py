"""Toggle counting from a value change dump (IEEE 1364 VCD), our own small streaming parser.

Only what the activity flow needs: the variables of one scope, their value changes, and per
variable the number of settled transitions between 0 and 1 (``toggles``) and of rising ones
(``rises``). Several changes of one variable at the same timestamp count once, from the value
before the timestamp to the value after it (a zero-delay simulation has no real glitches).
Transitions from or to ``x``/``z`` are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["VcdError", "Toggles", "count_toggles"]


class VcdError(ValueError):
    """The file is not a well-formed VCD."""


@dataclass
class Toggles:
    """Per-variable counts, keyed by the variable's reference name (e.g. ``n42`` or ``a[3]``).

    ``toggles[name][w]`` and ``rises[name][w]`` count the transitions in time window ``w``.
    """

    toggles: dict[str, list[int]]
    rises: dict[str, list[int]]
    end_time: int


def count_toggles(path, scope: str | None = None, bounds=()) -> Toggles:
    """Count transitions of every 1-bit variable (in ``scope``, the innermost scope name, if given).

    ``bounds`` are ascending times that split the run into ``len(bounds) + 1`` windows: a
    transition at time ``T`` falls into window ``sum(T >= b for b in bounds)``.

    Raises
    ------
    VcdError
        On a malformed header, an unknown identifier code or a bad value-change line.
    """
    path = Path(path)
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
        bounds = [int(b) for b in bounds]
        if any(x >= y for x, y in zip(bounds, bounds[1:])):
            raise ValueError(f"bounds must be strictly ascending times, not {bounds!r}")
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
    return Toggles(toggles, rises, time)
