"""Tables and ``index.md`` of the report, from the measured results of :mod:`hw.flow.report`.

:class:`ReportData` turns the per-design results into rows once; each section of ``index.md`` is
one function of it (``section_*``), listed in :data:`SECTIONS` in page order, so a new section is
one function and one entry.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.fileio import atomic_write_text
from golden_model.tables import markdown_table, write_table

from .designs import Design, variant_of
from .text import ALWAYS_ZERO, NA, POWER_PROXY_DOC, method_lines, num, ratio, span

__all__ = ["write_outputs", "power_proxy", "ReportData", "SECTIONS", "DEFAULT_BUDGETS",
           "AREA_HEADERS", "ACT_HEADERS", "ERR_HEADERS", "POINT_HEADERS"]

#: MRED budgets of the headline (0: exact products only).
DEFAULT_BUDGETS = (0.0, 0.05)

AREA_HEADERS = ["design", "family", "level", "latency", "gates", "FFs", "latches", "transistors",
                "logic depth", "iCE40 LUT4", "iCE40 carry", "iCE40 FF", "fmax MHz",
                f"fmax min{NA}max", "fmax seeds", "ER", "MRED", "NMED", "WCE", "bias"]
ACT_HEADERS = ["design", "family", "t", "stimulus", "net toggles/op", "weighted toggles/op",
               "FF clock events/op", "clock-pin events/op", "power proxy/op", "power vs exact",
               "data toggles vs exact", "clock vs exact", "MRED", "output"]
ERR_HEADERS = ["design", "family", "t", "ER", "MAE", "MRED", "NMED", "WCE", "bias", "MSE",
               "output"]
POINT_HEADERS = ["row", "config", "design", "level", "MRED", "output", "transistors",
                 "transistors vs exact", "iCE40 LUT4", "fmax MHz", f"fmax min{NA}max", "fmax seeds"]


def power_proxy(act: dict) -> float:
    """Power proxy of one activity record (see :data:`hw.flow.text.POWER_PROXY_DOC`)."""
    return act["weighted_toggles"] / 2.0 + act["clock_pin_events"]


def _ratio(x, y):
    return x / y if y else None


def level_str(d: Design, t=None) -> str:
    """The quality knob of ``d`` as text (``t`` for a runtime design's operating level)."""
    lv = d.level
    if d.kind in ("csd", "csdc"):
        return f"t={t} (runtime)" if lv == "runtime" else f"t={lv}"
    if d.kind == "tam":
        return f"k={lv}"
    if d.kind == "bam":
        return f"vbl={lv[0]},hbl={lv[1]}"
    if d.kind == "decoder":
        return f"lanes={d.p['lanes']}"
    return "exact"


@dataclass
class Point:
    """One operating point: a static design, or a runtime design at one truncation level."""

    id: str
    design: Design
    t: int | None
    metrics: object
    always_zero: bool
    power: dict = field(default_factory=dict)     # stimulus -> power proxy per op
    power_rel: dict = field(default_factory=dict)  # stimulus -> fraction of exact

    @property
    def tag(self) -> str:
        return self.design.cfg.tag()


class ReportData:
    """Everything ``index.md`` shows, computed once from the results.

    Parameters
    ----------
    designs : list of Design
    results : dict
        Design key -> assembled result (``area``, ``ice40``, ``activity``, ``cached``).
    opts : FlowOptions
    notes : list of str
    info : dict
        ``elapsed`` (s), ``vcd`` (reader timing or None), ``sweep`` (how it ran), ``work``
        (work folder text), ``budgets``.
    """

    def __init__(self, designs, results, opts, notes, info):
        self.designs, self.results, self.opts, self.notes, self.info = (
            designs, results, opts, list(notes), info)
        self.budgets = tuple(info.get("budgets", DEFAULT_BUDGETS))
        self._metrics: dict = {}
        self._zero: dict = {}
        self.tags = list(dict.fromkeys(d.cfg.tag() for d in designs if d.is_multiplier))
        self.exact = {d.cfg.tag(): d for d in designs if d.kind == "exact"}
        self._build_activity()
        self._build_points()

    # ---------------------------------------------------------------- golden-model figures
    def err(self, d: Design, t=None):
        k = (d.key, t)
        if k not in self._metrics:
            self._metrics[k] = d.error_metrics(t)
        return self._metrics[k]

    def zero(self, d: Design, t=None) -> bool:
        k = (d.key, t)
        if k not in self._zero:
            self._zero[k] = d.always_zero(t)
        return self._zero[k]

    def ice(self, d: Design) -> dict:
        return self.results[d.key].get("ice40", {})

    # ---------------------------------------------------------------- rows
    def _build_activity(self):
        exact = {}
        for d in self.designs:
            if d.kind == "exact":
                for rec in self.results[d.key].get("activity", []):
                    exact[(d.cfg.tag(), rec["stimulus"])] = rec
        self.act_records = []
        for d in self.designs:
            for rec in self.results[d.key].get("activity", []):
                ex = exact.get((d.cfg.tag(), rec["stimulus"]))
                pp = power_proxy(rec)
                t = rec["t"] if d.runtime else None
                self.act_records.append((d, t, rec, {
                    "power": pp, "power_rel": _ratio(pp, power_proxy(ex)) if ex else None,
                    "data_rel": _ratio(rec["weighted_toggles"], ex["weighted_toggles"])
                    if ex else None,
                    "clock_rel": _ratio(rec["clock_pin_events"], ex["clock_pin_events"])
                    if ex else None}))

    def _build_points(self):
        self.points: list[Point] = []
        by_key = {}
        for d in self.designs:
            if not d.is_multiplier:
                continue
            for t in (d.levels_measured() if d.runtime else [None]):
                p = Point(f"O{len(self.points) + 1}", d, t, self.err(d, t), self.zero(d, t))
                self.points.append(p)
                by_key[(d.key, t)] = p
        for d, t, rec, v in self.act_records:
            p = by_key[(d.key, t)]
            p.power[rec["stimulus"]] = v["power"]
            p.power_rel[rec["stimulus"]] = v["power_rel"]
        self.stimuli = list(dict.fromkeys(rec["stimulus"] for _, _, rec, _ in self.act_records))

    def transistors_rel(self, d: Design):
        ex = self.exact.get(d.cfg.tag())
        tr = self.results[d.key]["area"].get("transistors")
        if ex is None or tr is None:
            return None
        return _ratio(tr, self.results[ex.key]["area"].get("transistors"))

    def point_row(self, p: Point) -> list:
        d, ice = p.design, self.ice(p.design)
        area = self.results[d.key]["area"]
        return ([p.id, p.tag, d.key, level_str(d, p.t), p.metrics.mred,
                 ALWAYS_ZERO if p.always_zero else None, area.get("transistors"),
                 self.transistors_rel(d), ice.get("lut4"), _fmax(ice),
                 span(ice.get("fmax_min"), ice.get("fmax_max")), _fmax_seeds(ice)]
                + [p.power_rel.get(s) for s in self.stimuli])

    @property
    def point_headers(self) -> list[str]:
        return POINT_HEADERS + [f"power vs exact ({s})" for s in self.stimuli]

    def headline_stimulus(self, tag: str) -> str | None:
        """The stimulus the headline ranks energy by: network traces if measured, else stream."""
        have = {s for p in self.points if p.tag == tag for s in p.power}
        for s in ("trace-stream", "stream", "ws", "uniform"):
            if s in have:
                return s
        return sorted(have)[0] if have else None

    def pareto(self) -> list[tuple[str, str, list[Point]]]:
        """Per (config, stimulus): the points no other point beats on both power and MRED.

        Levels whose output is always 0 are left out.
        """
        out = []
        for tag in self.tags:
            for s in self.stimuli:
                pts = [p for p in self.points if p.tag == tag and s in p.power
                       and not p.always_zero]
                pts.sort(key=lambda p: (p.metrics.mred, p.power[s], p.design.key))
                front, best = [], float("inf")
                for p in pts:
                    if p.power[s] < best:
                        best = p.power[s]
                        front.append(p)
                if front:
                    out.append((tag, s, front))
        return out


def _fmax(ice: dict):
    return round(ice["fmax_mhz"], 1) if "fmax_mhz" in ice else None


def _fmax_seeds(ice: dict):
    """How many placement seeds the fmax median is over (None without place and route)."""
    return len(ice["fmax_seeds"]) if "fmax_seeds" in ice else None


# ---------------------------------------------------------------- sections of index.md
def section_title(data: ReportData) -> list[str]:
    n_cached = sum(1 for r in data.results.values() if r.get("cached"))
    quick = (["**Quick run** (`qsq report --quick`, as `make` runs it): a few truncation levels "
              "per family, no decoder. `make full` (or `make report`) measures every design.",
              ""] if data.info.get("quick") else [])
    return ["# qsq synthesis, timing and switching-activity report"
            + (" (quick run)" if data.info.get("quick") else ""), "", *quick,
            f"Generated by `qsq report` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"{len(data.designs)} designs measured in {data.info['elapsed']:.1f} s "
            f"({n_cached} entirely from the cache).", ""]


def _pick(points, key):
    return min(points, key=key) if points else None


def _budget_text(budgets) -> str:
    parts = ["for exact products" if b == 0 else f"within MRED ≤ {num(b)}" for b in budgets]
    return " and ".join(parts)


def _what(p: Point) -> str:
    d = p.design
    lvl = f" at t={p.t}" if d.runtime else ""
    return f"`{d.key}`{lvl}"


def _of_exact(p: Point, rel) -> str:
    return "" if p.design.kind == "exact" else f", {ratio(rel)} of the exact multiplier's"


def _criterion(data: ReportData, pts: list[Point], key, describe) -> list[str]:
    """For each budget, the best point by ``key``; budgets with the same pick share a clause."""
    picks: dict = {}
    for b in data.budgets:
        p = _pick([q for q in pts if q.metrics.mred <= b], key)
        if p is not None:
            picks.setdefault(p.id, (p, []))[1].append(b)
    return [f"{_budget_text(bs)}, {_what(p)} ({describe(p)}; row {p.id})"
            for p, bs in picks.values()]


def headline_sentences(data: ReportData, tag: str) -> list[str]:
    """The headline of one operand configuration: energy, area, fmax picks, each citing its row."""
    stim = data.headline_stimulus(tag)
    pts = [p for p in data.points if p.tag == tag and not p.always_zero]
    cfg = data.exact[tag].cfg if tag in data.exact else None
    out = [f"**{tag}**" + (f" ({cfg.describe()})" if cfg else "") + ":"]
    area = {p.id: data.results[p.design.key]["area"].get("transistors") for p in pts}
    # energy
    parts = []
    if stim:
        parts = _criterion(
            data, [p for p in pts if stim in p.power],
            lambda q: (q.power[stim], q.metrics.mred, q.design.key),
            lambda p: (f"power proxy {num(p.power[stim])} per operation"
                       f"{_of_exact(p, p.power_rel.get(stim))}, MRED {num(p.metrics.mred)}"))
    out.append(f"- Lowest energy (`{stim}` stimulus): " + "; ".join(parts) + "." if parts else
               "- Lowest energy: not measured (no activity simulation in this run).")
    # area
    parts = _criterion(
        data, [p for p in pts if area[p.id]],
        lambda q: (area[q.id], q.metrics.mred, q.design.key),
        lambda p: (f"{area[p.id]} transistors{_of_exact(p, data.transistors_rel(p.design))}, "
                   f"MRED {num(p.metrics.mred)}"))
    out.append("- Smallest area (generic gates): " + "; ".join(parts) + "." if parts else
               "- Smallest area: not measured.")
    # fmax
    parts = _criterion(
        data, [p for p in pts if "fmax_mhz" in data.ice(p.design)],
        lambda q: (-data.ice(q.design)["fmax_mhz"], q.metrics.mred, q.design.key),
        lambda p: (f"{num(data.ice(p.design)['fmax_mhz'])} MHz, range "
                   f"{span(data.ice(p.design)['fmax_min'], data.ice(p.design)['fmax_max'])} MHz "
                   f"over {_fmax_seeds(data.ice(p.design))} seeds, MRED {num(p.metrics.mred)}"))
    stopped = any(data.ice(d).get("pnr_stopped") for d in data.designs)
    out.append(f"- Highest fmax (iCE40 UP5K, median of {data.opts.pnr_seeds} placement seeds"
               + (", the stopped runs replaced: see Notes" if stopped else "") + "): "
               + "; ".join(parts) + "." if parts else
               "- Highest fmax: not measured (no place and route in this run).")
    return out


def section_headline(data: ReportData) -> list[str]:
    lines = ["## Headline", "",
             "Which multiplier to pick, per operand configuration, from this run's measurements "
             "(rows refer to the [operating points](#operating-points) table below; energy is "
             "the power proxy per operation, see *Method*).", ""]
    for tag in data.tags:
        lines += headline_sentences(data, tag) + [""]
    return lines


def section_notes(data: ReportData) -> list[str]:
    zero = [p for p in data.points if p.always_zero]
    notes = list(data.notes)
    if zero:
        notes.append(f"Operating points whose output is always 0 (marked *{ALWAYS_ZERO}*, left "
                     "out of the Pareto front and the headline): "
                     + ", ".join(f"{_what(p)} (row {p.id})" for p in zero) + ".")
    notes.append(data.info["work"])
    return ["## Notes", ""] + [f"- {n}" for n in notes] + [""]


def section_points(data: ReportData) -> list[str]:
    return ["## Operating points", "",
            "Every multiplier design, and every truncation level of each runtime design, with "
            "its error, area and fmax, and its power proxy as a fraction of the exact "
            "multiplier's under each stimulus.", "",
            markdown_table(data.point_headers, [data.point_row(p) for p in data.points]), ""]


def section_pareto(data: ReportData) -> list[str]:
    headers = ["config", "stimulus", "row", "design", "level", "MRED", "power proxy/op",
               "power vs exact"]
    rows = [[tag, s, p.id, p.design.key, level_str(p.design, p.t), p.metrics.mred, p.power[s],
             p.power_rel.get(s)]
            for tag, s, front in data.pareto() for p in front]
    body = markdown_table(headers, rows) if rows else "(no activity measured)\n"
    return ["## Pareto front: power proxy vs MRED", "",
            "Operating points no other point beats on both power proxy and MRED, per operand "
            "configuration and stimulus set (runtime designs at each of their levels included; "
            f"*{ALWAYS_ZERO}* levels left out).", "", body, ""]


def section_variants(data: ReportData) -> list[str]:
    cols: dict = {}
    levels = set()
    for d in data.designs:
        v = variant_of(d)
        if not v or d.runtime:
            continue
        col = f"{d.cfg.tag()} {v} / {d.p['gating']}"
        p = next((q for q in data.points if q.design is d), None)
        cols.setdefault(col, {})[d.level] = (data.transistors_rel(d),
                                             p.power_rel.get("stream") if p else None)
        levels.add(d.level)
    if not cols:
        return []
    headers = ["variant / gating"] + [f"t={t}" for t in sorted(levels)]
    rows = []
    for col, vals in cols.items():
        cells = []
        for t in sorted(levels):
            a, pw = vals.get(t, (None, None))
            cells.append(NA if a is None and pw is None else f"{ratio(a)} / {ratio(pw)}")
        rows.append([col] + cells)
    return ["## CSD variants at equal truncation level", "",
            "Each cell: transistors / power proxy (stream stimulus), both as a fraction of the "
            "exact multiplier's; static truncation, per variant and gating style.", "",
            markdown_table(headers, rows), ""]


def section_plots(data: ReportData) -> list[str]:
    plots = data.info.get("plots", [])
    return ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]


def section_method(data: ReportData) -> list[str]:
    return method_lines(data.opts, seeds=data.opts.seeds, vcd=data.info.get("vcd"),
                        sweep=data.info["sweep"])


def section_files(data: ReportData) -> list[str]:
    from .tools import tool_versions

    versions = tool_versions()
    return ["## Full tables and tools", "",
            "Per design: [area and timing](area.md), [switching activity](activity.md), "
            "[error metrics](error.md), [operating points](points.md); each also as CSV and JSON "
            "(`area.csv`, `area.json`, ...), and `summary.json`.", "",
            "Tools: " + "; ".join(f"{k}: `{v}`" for k, v in versions.items()), ""]


#: The sections of ``index.md`` in page order.
SECTIONS = [section_title, section_headline, section_notes, section_pareto, section_points,
            section_variants, section_plots, section_method, section_files]


# ---------------------------------------------------------------- files
def _area_rows(data: ReportData) -> list[list]:
    rows = []
    for d in data.designs:
        r = data.results[d.key]
        a, ice = r["area"], data.ice(d)
        m = data.err(d) if d.is_multiplier and not d.runtime else None
        rows.append([
            d.key, d.family, level_str(d) if not d.runtime else "runtime", r["latency"],
            a["gates"], a["flip_flops"], a["latches"], a.get("transistors"), a["logic_depth"],
            ice.get("lut4"), ice.get("carry"), ice.get("ff"), _fmax(ice),
            span(ice.get("fmax_min"), ice.get("fmax_max")), _fmax_seeds(ice),
            m.er if m else None, m.mred if m else None, m.nmed if m else None,
            m.wce if m else None, m.bias if m else None])
    return rows


def _activity_rows(data: ReportData) -> list[list]:
    rows = []
    for d, t, rec, v in data.act_records:
        m = data.err(d, t)
        rows.append([d.key, d.family, t if t is not None else d.level if d.kind in ("csd", "csdc")
                     else None, rec["stimulus"], rec["net_toggles"], rec["weighted_toggles"],
                     rec["ff_clock_events"], rec["clock_pin_events"], v["power"], v["power_rel"],
                     v["data_rel"], v["clock_rel"], m.mred,
                     ALWAYS_ZERO if data.zero(d, t) else None])
    return rows


def _error_rows(data: ReportData) -> list[list]:
    rows = []
    for d in data.designs:
        if not d.is_multiplier:
            continue
        for t in (d.levels_measured() if d.runtime else [None]):
            m = data.err(d, t)
            lv = t if t is not None else (d.level if d.kind in ("csd", "csdc") else None)
            rows.append([d.key, d.family, lv, m.er, m.mae, m.mred, m.nmed, m.wce, m.bias, m.mse,
                         ALWAYS_ZERO if data.zero(d, t) else None])
    return rows


def write_outputs(data: ReportData, out: Path, plots: list[Path]) -> Path:
    """Write the tables (Markdown/CSV/JSON), ``summary.json`` and ``index.md`` (showing
    ``plots``); return the path of the index."""
    out = Path(out)
    opts = data.opts
    write_table(out / "area", AREA_HEADERS, _area_rows(data), "Area, depth and iCE40 timing",
                {"flow_options": opts.key_fields()})
    if data.act_records:
        write_table(out / "activity", ACT_HEADERS, _activity_rows(data),
                    "Gate-level switching activity per operation", {"power_proxy": POWER_PROXY_DOC})
    write_table(out / "error", ERR_HEADERS, _error_rows(data), "Error metrics (golden model)")
    write_table(out / "points", data.point_headers, [data.point_row(p) for p in data.points],
                "Operating points")
    summary = {"headline": {t: headline_sentences(data, t) for t in data.tags},
               "pareto": [{"config": t, "stimulus": s, "rows": [p.id for p in f]}
                          for t, s, f in data.pareto()],
               "points": [dict(zip(data.point_headers, data.point_row(p))) for p in data.points]}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    data.info["plots"] = list(plots)
    lines = []
    for section in SECTIONS:
        lines += section(data)
    index = out / "index.md"
    atomic_write_text(index, "\n".join(lines))
    engine = out / "engine" / "section.md"          # written by `qsq report-engine`
    if engine.is_file():
        from .engine_report import insert_section

        insert_section(index, engine.read_text())
    return index
