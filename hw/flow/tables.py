"""Tables, plots and ``index.md`` of the report, from the measured results of :mod:`hw.flow.report`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from golden_model.tables import markdown_table, write_table

from .designs import Design

__all__ = ["write_outputs", "power_proxy"]

AREA_HEADERS = ["design", "family", "level", "latency", "gates", "FFs", "latches", "transistors",
                "logic depth", "iCE40 LUT4", "iCE40 carry", "iCE40 FF", "fmax MHz", "ER", "MRED",
                "NMED", "WCE", "bias"]
ACT_HEADERS = ["design", "family", "t", "stimulus", "net toggles/op", "weighted toggles/op",
               "FF clock events/op", "clock-pin events/op", "power proxy/op", "power vs exact",
               "data toggles vs exact", "clock vs exact", "MRED"]
ERR_HEADERS = ["design", "family", "t", "ER", "MAE", "MRED", "NMED", "WCE", "bias", "MSE"]


def power_proxy(act: dict) -> float:
    """Power proxy of one activity record (see :data:`hw.flow.report.POWER_PROXY_DOC`)."""
    return act["weighted_toggles"] / 2.0 + act["clock_pin_events"]


def _ratio(x, y):
    return x / y if y else float("nan")


def _level_str(d: Design) -> str:
    lv = d.level
    if d.kind in ("csd", "csdc"):
        return "runtime" if lv == "runtime" else f"t={lv}"
    if d.kind == "tam":
        return f"k={lv}"
    if d.kind == "bam":
        return f"vbl={lv[0]},hbl={lv[1]}"
    if d.kind == "decoder":
        p = d.p
        return f"lanes={p['lanes']}"
    return "-"


def write_outputs(designs: list[Design], results: dict, opts, out: Path, notes: list[str],
                  elapsed: float) -> Path:
    from .report import POWER_PROXY_DOC
    from .tools import tool_versions

    out = Path(out)
    metrics: dict = {}

    def err(d: Design, t=None):
        k = (d.key, t)
        if k not in metrics:
            metrics[k] = d.error_metrics(t)
        return metrics[k]

    # ---------------------------------------------------------------- area / timing
    area_rows = []
    for d in designs:
        r = results[d.key]
        a, ice = r["area"], r.get("ice40", {})
        m = err(d) if d.is_multiplier and not d.runtime else None
        area_rows.append([
            d.key, d.family, _level_str(d), r["latency"], a["gates"], a["flip_flops"], a["latches"],
            a.get("transistors"), a["logic_depth"], ice.get("lut4"), ice.get("carry"),
            ice.get("ff"), round(ice["fmax_mhz"], 1) if "fmax_mhz" in ice else None,
            m.er if m else None, m.mred if m else None, m.nmed if m else None,
            m.wce if m else None, m.bias if m else None])
    write_table(out / "area", AREA_HEADERS, area_rows, "Area, depth and iCE40 timing",
                {"flow_options": opts.key_fields()})

    # ---------------------------------------------------------------- activity
    exact = {}
    for d in designs:
        if d.kind == "exact" and "activity" in results[d.key]:
            for rec in results[d.key]["activity"]:
                exact[(d.cfg.tag(), rec["stimulus"])] = rec
    act_rows, act_records = [], []
    for d in designs:
        for rec in results[d.key].get("activity", []):
            ex = exact.get((d.cfg.tag(), rec["stimulus"]))
            pp = power_proxy(rec)
            t = rec["t"] if rec["t"] is not None else (d.level if d.kind in ("csd", "csdc") else None)
            m = err(d, rec["t"]) if d.runtime else err(d)
            row = [d.key, d.family, t if t is not None else "-", rec["stimulus"],
                   rec["net_toggles"], rec["weighted_toggles"], rec["ff_clock_events"],
                   rec["clock_pin_events"], pp,
                   _ratio(pp, power_proxy(ex)) if ex else None,
                   _ratio(rec["weighted_toggles"], ex["weighted_toggles"]) if ex else None,
                   _ratio(rec["clock_pin_events"], ex["clock_pin_events"]) if ex else None,
                   m.mred]
            act_rows.append(row)
            act_records.append((d, rec, row))
    if act_rows:
        write_table(out / "activity", ACT_HEADERS, act_rows,
                    "Gate-level switching activity per operation", {"power_proxy": POWER_PROXY_DOC})

    # ---------------------------------------------------------------- error
    err_rows = []
    for d in designs:
        if not d.is_multiplier:
            continue
        for t in (d.levels_measured() if d.runtime else [None]):
            m = err(d, t)
            lv = t if t is not None else (d.level if d.kind in ("csd", "csdc") else "-")
            err_rows.append([d.key, d.family, lv, m.er, m.mae, m.mred, m.nmed, m.wce, m.bias, m.mse])
    write_table(out / "error", ERR_HEADERS, err_rows, "Error metrics (golden model)")

    # ---------------------------------------------------------------- summary and plots
    summary_md, summary = _summary(designs, results, act_records, err)
    pareto_md = _pareto(act_records)
    variants_md = _variant_table(designs, results, act_records)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    plots = _plots(designs, results, act_records, err, out)

    versions = tool_versions()
    lines = [
        "# qsq synthesis, timing and switching-activity report", "",
        f"Generated by `qsq report` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{len(designs)} designs measured in {elapsed:.1f} s "
        f"({sum(1 for r in results.values() if r.get('cached'))} from cache).", "",
        "Tools: " + "; ".join(f"{k}: `{v}`" for k, v in versions.items()), "",
    ]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    lines += [
        "## Method", "",
        "- **Generic area**: Yosys `synth -flatten`, flip-flops legalized to plain `$_DFF_P_` (sync "
        "reset and clock enable become gates before D), `abc -g` "
        "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX; transistors from `stat -tech cmos`; logic "
        "depth = most gates on a register-to-register or port path (clock-gate cells excluded).",
        "- **iCE40 UP5K**: `synth_ice40` without DSP blocks (LUT4/carry/FF of the design alone); "
        "fmax from nextpnr-ice40 (`--up5k --package sg48`, `constraints/icebreaker.pcf`, seed "
        f"{opts.seed}) on a **timing harness**: every input fed from a shift register loaded through "
        "one pin, every output captured in a register shifted out through one pin, so the design's "
        "own register-to-register paths set fmax, not the pads or the pin count. ICG designs have no "
        "iCE40 figures: latch-based clock gates are an ASIC style (iCE40 has no latches; on an "
        "FPGA the enable style is the one to use).",
        "- **Switching activity**: the generic gate-level netlist (not the RTL) is simulated by "
        f"Icarus Verilog, zero delay, one operation per cycle, {opts.ops} operations per stimulus "
        "segment (every truncation level for runtime designs); toggles per net come from the value "
        "change dump; every product of the netlist is checked against the golden model first. "
        "Zero-delay simulation counts settled transitions only (no glitches).",
        f"- **{POWER_PROXY_DOC}**. Clock-enable gating keeps every flip-flop clock pin toggling; an "
        "ICG removes them and pays for its own latch and gate pins, which are counted.",
        "- **Stimuli**: `uniform` random operands; `stream`: weights from the 3-bit codebook "
        "(gaussian filters encoded by `golden_model.codec.encode_layer`, decoded) with ReLU-like "
        "activations (half zero); `ws`: weight-stationary, each weight held for 32 cycles; "
        "`trace-*`: operands recorded from the network, when present.",
        "- **Error metrics** from the golden model over all operand pairs (uniform).", "",
        "## Headline", "",
        "Every static design against the exact multiplier of the same operand formats "
        "(power: the power proxy per operation relative to the exact multiplier's under the same "
        "stimulus).", "", summary_md, "",
        "### Pareto front: power proxy vs MRED", "",
        "Designs no other design beats on both power proxy and MRED, per operand configuration "
        "and stimulus set (runtime designs at each of their levels included).", "", pareto_md, "",
        "### CSD variants at equal truncation level", "",
        "Transistors and power proxy (stream stimulus) relative to the exact multiplier, static "
        "truncation, per variant and gating style.", "", variants_md, "",
        "## Plots", "",
    ]
    lines += [f"![{p.stem}]({p.name})" for p in plots] + [""]
    lines += ["## Area and timing", "", markdown_table(AREA_HEADERS, area_rows), ""]
    if act_rows:
        lines += ["## Switching activity per operation", "",
                  "Full table: [activity.csv](activity.csv) / [activity.json](activity.json).", "",
                  markdown_table(ACT_HEADERS, [r for r in act_rows if r[3] in ("stream", "uniform")
                                               or r[3].startswith("trace")]), ""]
    lines += ["## Error metrics", "", markdown_table(ERR_HEADERS, err_rows), "",
              "Machine-readable: `area.csv/json`, `activity.csv/json`, `error.csv/json`, "
              "`summary.json`.", ""]
    index = out / "index.md"
    index.write_text("\n".join(lines))
    return index


def _summary(designs, results, act_records, err):
    """Per operand configuration: each CSD static level and baseline vs exact, stream and uniform."""
    by_cfg: dict = {}
    for d, rec, row in act_records:
        by_cfg.setdefault(d.cfg.tag(), []).append((d, rec, row))
    exact_area = {d.cfg.tag(): results[d.key]["area"] for d in designs if d.kind == "exact"}
    headers = ["config", "design", "transistors vs exact", "fmax MHz", "MRED",
               "power vs exact (uniform)", "power vs exact (stream)", "power vs exact (ws)"]
    rows, js = [], []
    for tag, recs in by_cfg.items():
        seen = {}
        for d, rec, row in recs:
            if d.runtime:
                continue
            seen.setdefault(d.key, {"design": d, "power": {}})["power"][rec["stimulus"]] = row[9]
        for key, v in seen.items():
            d = v["design"]
            a = results[key]["area"]
            ex = exact_area.get(tag)
            fm = results[key].get("ice40", {}).get("fmax_mhz")
            m = err(d)
            rel_area = _ratio(a["transistors"], ex["transistors"]) if ex else None
            rows.append([tag, key, rel_area, round(fm, 1) if fm else None, m.mred,
                         v["power"].get("uniform"), v["power"].get("stream"), v["power"].get("ws")])
            js.append(dict(zip(headers, rows[-1])))
    return markdown_table(headers, rows), js


def _plots(designs, results, act_records, err, out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    tags = sorted({d.cfg.tag() for d in designs if d.is_multiplier})
    styles = {"none": "o-", "enable": "s--", "icg": "^-."}
    # ---- area vs truncation level
    fig, axes = plt.subplots(len(tags), 2, figsize=(11, 3.6 * len(tags)), squeeze=False)
    for i, tag in enumerate(tags):
        ex = [d for d in designs if d.kind == "exact" and d.cfg.tag() == tag]
        for j, (metric, label) in enumerate((("transistors", "transistors (stat -tech cmos)"),
                                             ("lut4", "iCE40 LUT4"))):
            ax = axes[i][j]
            for variant, col in _variants(designs):
                for g, st in styles.items():
                    pts = sorted((d.level, _get(results[d.key], metric)) for d in designs
                                 if _variant(d) == variant and d.cfg.tag() == tag and not d.runtime
                                 and d.p["gating"] == g)
                    pts = [(x, y) for x, y in pts if y is not None]
                    if pts:
                        ax.plot(*zip(*pts), st, color=col, label=f"{variant} static, {g}")
            for d in ex:
                y = _get(results[d.key], metric)
                if y is not None:
                    ax.axhline(y, color="k", lw=1, label="exact (Amaranth *)")
            ax.set_xlabel("truncation level t")
            ax.set_ylabel(label)
            ax.set_title(f"{tag}: {label} vs t")
            ax.grid(alpha=0.3)
    _fig_legend(fig, axes)
    paths.append(_save(fig, out / "area_vs_t.png"))
    if not act_records:
        return paths
    # ---- activity vs truncation level per gating style
    stimuli = sorted({rec["stimulus"] for _, rec, _ in act_records})
    fig, axes = plt.subplots(len(tags), len(stimuli), figsize=(4.2 * len(stimuli), 3.6 * len(tags)),
                             squeeze=False)
    for i, tag in enumerate(tags):
        for j, s in enumerate(stimuli):
            ax = axes[i][j]
            for variant, col in _variants(designs):
                for g, st in styles.items():
                    for rt in (False, True):
                        pts = sorted((rec["t"] if rt else d.level, row[9])
                                     for d, rec, row in act_records
                                     if _variant(d) == variant and d.cfg.tag() == tag
                                     and d.runtime == rt and d.p["gating"] == g
                                     and rec["stimulus"] == s)
                        if pts:
                            ax.plot(*zip(*pts), st, color=col, alpha=1.0 if not rt else 0.45,
                                    label=f"{variant} {'runtime' if rt else 'static'} {g}")
            ax.axhline(1.0, color="k", lw=1, label="exact")
            ax.set_title(f"{tag}, {s}")
            ax.set_xlabel("truncation level t")
            ax.set_ylabel("power proxy vs exact")
            ax.grid(alpha=0.3)
    _fig_legend(fig, axes)
    paths.append(_save(fig, out / "activity_vs_t.png"))
    # ---- Pareto: power proxy vs MRED, every design
    stim = "stream" if "stream" in stimuli else stimuli[0]
    fig, axes = plt.subplots(len(tags), 1, figsize=(10, 4.8 * len(tags)), squeeze=False)
    markers = {"exact": ("k", "*"), "tam": ("tab:red", "v"), "bam": ("tab:purple", "D")}
    for i, tag in enumerate(tags):
        ax = axes[i][0]
        groups: dict = {}
        for d, rec, row in act_records:
            if d.cfg.tag() != tag or rec["stimulus"] != stim:
                continue
            label = d.family
            groups.setdefault(label, (d, []))[1].append((max(row[12], 1e-5), row[8]))
        for label, (d, pts) in sorted(groups.items()):
            col, mk = markers.get(d.kind, (dict(_variants(designs)).get(_variant(d)),
                                           {"none": "o", "enable": "s", "icg": "^"}
                                           [d.p.get("gating", "none")]))
            big = d.kind == "exact"
            ax.scatter(*zip(*pts), label=label, marker=mk, color=col,
                       alpha=0.5 if d.runtime else 0.9, s=140 if big else 30,
                       zorder=5 if big else 2)
        ax.set_xscale("log")
        ax.set_xlabel("MRED (exhaustive; exact plotted at 1e-5)")
        ax.set_ylabel(f"power proxy per operation ({stim})")
        ax.set_title(f"{tag}: power proxy vs MRED, stimulus {stim}")
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    paths.append(_save(fig, out / "pareto_power_mred.png"))
    return paths


def _get(res: dict, metric: str):
    if metric in res.get("area", {}):
        return res["area"][metric]
    return res.get("ice40", {}).get(metric)


def _save(fig, path: Path) -> Path:
    """Write a figure as PNG, release it, return the path."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fig_legend(fig, axes):
    """One legend for the whole figure, below the plots (per-axis legends hide the data)."""
    handles, labels = {}, []
    for row in axes:
        for ax in row:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in handles:
                    handles[lab] = h
                    labels.append(lab)
    ncol = 4
    rows = -(-len(labels) // ncol)
    bottom = min(0.45, 0.035 * rows * 4 / max(1, len(axes)) + 0.02)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    if labels:
        fig.legend([handles[x] for x in labels], labels, loc="lower center", ncol=ncol, fontsize=8,
                   frameon=False)


_COLOURS = {"CSD": "tab:blue", "CSD compact-xor": "tab:orange", "CSD compact-split": "tab:green"}


def _variant(d: Design) -> str | None:
    if d.kind == "csd":
        return "CSD"
    if d.kind == "csdc":
        return f"CSD compact-{d.p['sign']}"
    return None


def _variants(designs) -> list[tuple[str, str]]:
    found = sorted({_variant(d) for d in designs if _variant(d)})
    return [(v, _COLOURS.get(v, "tab:gray")) for v in found]


def _pareto(act_records) -> str:
    headers = ["config", "stimulus", "design", "t", "MRED", "power proxy/op", "power vs exact"]
    rows = []
    groups: dict = {}
    for d, rec, row in act_records:
        groups.setdefault((d.cfg.tag(), rec["stimulus"]), []).append((row[12], row[8], d, row))
    for (tag, stim), pts in sorted(groups.items()):
        pts.sort(key=lambda x: (x[0], x[1]))
        best = float("inf")
        for mred, pp, d, row in pts:
            if pp < best:
                best = pp
                rows.append([tag, stim, d.key, row[2], mred, pp, row[9]])
    return markdown_table(headers, rows) if rows else "(no activity measured)"


def _variant_table(designs, results, act_records) -> str:
    exact_tr = {d.cfg.tag(): results[d.key]["area"]["transistors"] for d in designs
                if d.kind == "exact"}
    power = {(d.key): row[9] for d, rec, row in act_records if rec["stimulus"] == "stream"}
    cols: dict = {}
    levels = set()
    for d in designs:
        v = _variant(d)
        if not v or d.runtime:
            continue
        tag = d.cfg.tag()
        col = f"{tag} {v} / {d.p['gating']}"
        ex = exact_tr.get(tag)
        tr = results[d.key]["area"]["transistors"]
        cols.setdefault(col, {})[d.level] = (tr / ex if ex else None, power.get(d.key))
        levels.add(d.level)
    if not cols:
        return "(no CSD designs measured)"
    headers = ["variant / gating"] + [f"t={t}" for t in sorted(levels)]
    rows = []
    for col, vals in cols.items():
        cells = []
        for t in sorted(levels):
            if t in vals:
                a, pw = vals[t]
                cells.append(f"{a:.2f} / {pw:.2f}" if a is not None and pw is not None
                             else (f"{a:.2f} / -" if a is not None else "-"))
            else:
                cells.append("-")
        rows.append([col] + cells)
    return ("Each cell: transistors vs exact / power vs exact (stream).\n\n"
            + markdown_table(headers, rows))
