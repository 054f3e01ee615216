"""Plots of the report. Each figure first collects its panels' data and draws only the panels
that have some, so no panel is ever empty (e.g. no iCE40 panel in a ``--no-ice40`` run, no trace
panel for an operand configuration the network traces do not fit)."""

from __future__ import annotations

from pathlib import Path

from golden_model.fileio import atomic_open

from .designs import variant_of, variants
from .text import ALWAYS_ZERO

__all__ = ["write_plots", "save_figure"]

_STYLES = {"none": "o-", "enable": "s--", "icg": "^-."}


def write_plots(data, out: Path) -> list[Path]:
    """Write every figure of ``data`` (a :class:`hw.flow.tables.ReportData`) that has data;
    return their paths."""
    import matplotlib
    matplotlib.use("Agg")

    paths = []
    for fn in (_area_vs_t, _activity_vs_t, _pareto):
        p = fn(data, Path(out))
        if p is not None:
            paths.append(p)
    return paths


def _grid(panels: list, ncols: int, size: tuple[float, float]):
    """A figure with exactly ``len(panels)`` axes, ``ncols`` per row."""
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[len(panels):]:
        ax.remove()
    return fig, flat[:len(panels)]


def _area_vs_t(data, out: Path):
    panels = []
    for tag in data.tags:
        for metric, label in (("transistors", "transistors (stat -tech cmos)"),
                              ("lut4", "iCE40 LUT4")):
            series = []
            for variant, col in variants(data.designs):
                for g, st in _STYLES.items():
                    pts = sorted((d.level, _get(data, d, metric)) for d in data.designs
                                 if variant_of(d) == variant and d.cfg.tag() == tag
                                 and not d.runtime and d.p["gating"] == g
                                 and _get(data, d, metric) is not None)
                    if pts:
                        series.append((pts, st, col, f"{variant} static, {g}"))
            ex = data.exact.get(tag)
            ref = _get(data, ex, metric) if ex else None
            if series:
                panels.append((tag, label, series, ref))
    if not panels:
        return None
    fig, axes = _grid(panels, 2, (5.5, 3.6))
    for ax, (tag, label, series, ref) in zip(axes, panels):
        for pts, st, col, lab in series:
            ax.plot(*zip(*pts), st, color=col, label=lab)
        if ref is not None:
            ax.axhline(ref, color="k", lw=1, label="exact (Amaranth *)")
        ax.set_xlabel("truncation level t")
        ax.set_ylabel(label)
        ax.set_title(f"{tag}: {label} vs t")
        ax.grid(alpha=0.3)
    _fig_legend(fig, axes)
    return save_figure(fig, out / "area_vs_t.png")


def _activity_vs_t(data, out: Path):
    panels = []
    for tag in data.tags:
        for s in data.stimuli:
            series = []
            for variant, col in variants(data.designs):
                for g, st in _STYLES.items():
                    for rt in (False, True):
                        pts = sorted((p.t if rt else p.design.level, p.power_rel[s])
                                     for p in data.points
                                     if variant_of(p.design) == variant and p.tag == tag
                                     and p.design.runtime == rt and p.design.p["gating"] == g
                                     and p.power_rel.get(s) is not None)
                        if pts:
                            series.append((pts, st, col, 0.45 if rt else 1.0,
                                           f"{variant} {'runtime' if rt else 'static'} {g}"))
            if series:
                panels.append((tag, s, series))
    if not panels:
        return None
    fig, axes = _grid(panels, max(1, len(data.stimuli)), (4.2, 3.6))
    for ax, (tag, s, series) in zip(axes, panels):
        for pts, st, col, alpha, lab in series:
            ax.plot(*zip(*pts), st, color=col, alpha=alpha, label=lab)
        ax.axhline(1.0, color="k", lw=1, label="exact")
        ax.set_title(f"{tag}, {s}")
        ax.set_xlabel("truncation level t")
        ax.set_ylabel("power proxy vs exact")
        ax.grid(alpha=0.3)
    _fig_legend(fig, axes)
    return save_figure(fig, out / "activity_vs_t.png")


def _pareto(data, out: Path):
    markers = {"exact": ("k", "*"), "tam": ("tab:red", "v"), "bam": ("tab:purple", "D")}
    colours = dict(variants(data.designs))
    panels = []
    for tag in data.tags:
        stim = data.headline_stimulus(tag)
        groups: dict = {}
        for p in data.points:
            if p.tag != tag or stim not in p.power or p.always_zero:
                continue
            groups.setdefault(p.design.family, (p.design, []))[1].append(
                (max(p.metrics.mred, 1e-5), p.power[stim]))
        if groups:
            panels.append((tag, stim, groups))
    if not panels:
        return None
    fig, axes = _grid(panels, 1, (10, 4.8))
    for ax, (tag, stim, groups) in zip(axes, panels):
        for label, (d, pts) in sorted(groups.items()):
            col, mk = markers.get(d.kind, (colours.get(variant_of(d)),
                                           {"none": "o", "enable": "s", "icg": "^"}
                                           [d.p.get("gating", "none")]))
            big = d.kind == "exact"
            ax.scatter(*zip(*pts), label=label, marker=mk, color=col,
                       alpha=0.5 if d.runtime else 0.9, s=140 if big else 30,
                       zorder=5 if big else 2)
        ax.set_xscale("log")
        ax.set_xlabel(f"MRED (exhaustive; exact plotted at 1e-5; {ALWAYS_ZERO} levels left out)")
        ax.set_ylabel(f"power proxy per operation ({stim})")
        ax.set_title(f"{tag}: power proxy vs MRED, stimulus {stim}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, out / "pareto_power_mred.png")


def _get(data, d, metric: str):
    res = data.results[d.key]
    if metric in res.get("area", {}):
        return res["area"][metric]
    return res.get("ice40", {}).get(metric)


def save_figure(fig, path: Path) -> Path:
    """Write a figure as PNG, release it, return the path."""
    import matplotlib.pyplot as plt

    try:
        with atomic_open(path, "wb") as f:    # a stopped run never leaves half a PNG
            fig.savefig(f, format="png", dpi=110)
    finally:
        plt.close(fig)
    return path


def _fig_legend(fig, axes):
    """One legend for the whole figure, below the plots (per-axis legends hide the data)."""
    handles, labels = {}, []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    ncol = 4
    rows = -(-len(labels) // ncol)
    nrows = len({ax.get_subplotspec().rowspan.start for ax in axes})
    bottom = min(0.45, 0.035 * rows * 4 / max(1, nrows) + 0.02)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    if labels:
        fig.legend([handles[x] for x in labels], labels, loc="lower center", ncol=ncol, fontsize=8,
                   frameon=False)
