"""Plain-text table output shared by every report: Markdown for people, CSV/JSON for programs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .fileio import atomic_open, atomic_write_text


def fmt(value, digits: int = 4) -> str:
    """Format a number for a table: ints as they are, floats with ``digits`` significant digits,
    ``None`` (not measured / not applicable) as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1e5 or abs(value) < 1e-4:
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    cells = [[fmt(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in cells]) + "\n"


def write_table(prefix: str | Path, headers: list[str], rows: list[list], title: str = "",
                meta: dict | None = None) -> list[Path]:
    """Write ``prefix.md``, ``prefix.csv`` and ``prefix.json``; return the paths."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    md, cs, js = (prefix.with_suffix(s) for s in (".md", ".csv", ".json"))
    atomic_write_text(md, (f"# {title}\n\n" if title else "") + markdown_table(headers, rows))
    with atomic_open(cs, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(headers)
        w.writerows(rows)
    atomic_write_text(js, json.dumps({"meta": meta or {}, "columns": headers, "rows": rows},
                                     indent=1) + "\n")
    return [md, cs, js]
