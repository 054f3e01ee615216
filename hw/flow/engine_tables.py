"""Tables, plot, headline and target checks of the engine report (``build/report/engine/``).

Every figure comes from the job results of :mod:`hw.flow.engine_report`; nothing here is typed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from golden_model.fileio import atomic_open, atomic_write_text

from .engine_designs import REGFILE_WORDS
from .memnet import ICG_MIN_FLOPS
from .plots import save_figure
from .text import NA, POWER_PROXY_DOC, num

__all__ = ["write_engine_outputs", "headline", "targets", "resource_table", "energy_table",
           "trunc_text", "parse_resource_table", "energy_targets", "breakdown_table",
           "traffic_table", "before_after_table", "reuse_table"]

#: Design targets (measured against, never asserted). The UP5K bucket engine (issue 19): the
#: vendor's compact CNN IP's size and clock, i.e. >= 8,400 images/s in <= 2,500 LUT4.
TARGET_IMAGES_PER_S = 8400
TARGET_UP5K_LUT4 = 2500
TARGET_UP5K_FMAX_MHZ = 42.0
#: The anchor the UP5K rows are read against -- *cited, not measured here*: Lattice's Compact CNN
#: Accelerator IP on the iCE40 UP5K-SG48I, "Performance and Resource Utilization in BNN Mode"
#: (Lattice Radiant 1.0 with its LSE synthesis; the IP alone in the device), from
#: https://www.latticesemi.com/en/Products/DesignSoftwareAndIP/IntellectualProperty/IPCore/IPCores04/compactcnn
#: Rows: weight memory, registers, LUTs, EBR, SPRAM, fmax (MHz).
VENDOR_ANCHOR_SOURCE = ("https://www.latticesemi.com/en/Products/DesignSoftwareAndIP/"
                        "IntellectualProperty/IPCore/IPCores04/compactcnn")
VENDOR_ANCHOR = (("EBR", 1822, 2419, 27, 0, 41.762), ("dual SPRAM", 1803, 2447, 11, 2, 31.565),
                 ("single SPRAM", 1802, 2430, 11, 1, 41.103),
                 ("single SPRAM (+1/-1 blobs)", 1992, 2706, 11, 1, 40.748))
TARGET_ENERGY_RATIO = 0.3
#: Energy targets of the engine with its waste removed (digits LeNet, 16 lanes; proxy units).
TARGET_BUCKET_TOTAL = 55e6
TARGET_BUCKET_TOTAL_REUSE = 40e6
TARGET_BUCKET_LOGIC = 12e6
TARGET_BUCKET_VS_INT8 = 0.45
TARGET_MULTIPLIER_T4 = 0.90
TARGET_SMALL_MEMORY_SHARE = 0.05
# LUT4 of the 16-lane bucket engine on the UP5K before the energy work (issue 17's baseline):
# the energy fixes must not cost area
TARGET_BUCKET_UP5K_LUT4 = 3337
#: Order of the units in the breakdown tables (memories follow).
UNIT_ORDER = ("lanes", "post", "seq", "control", "io")


def _n(x) -> str:
    """A measured number: thousands as grouped integers, smaller ones with 3 digits."""
    if x is None:
        return NA
    return f"{x:,.0f}" if abs(x) >= 1000 else num(x)


def trunc_text(t, style: str | None = None) -> str:
    """``[0, 0, 0, 0]`` -> ``t=0``; a per-layer list -> ``t=1/1/0/2``; the INT8 engine (no
    truncation) -> ``exact``."""
    if style == "int8":
        return "exact"
    t = list(t)
    if t and all(v == t[0] for v in t):
        return f"t={t[0]}"
    return "t=" + "/".join(map(str, t))


def _bram(r: dict) -> str:
    if r["board"] == "up5k":
        return f"{r.get('EBR', 0)} EBR, {r.get('SPRAM', 0)} SPRAM"
    return f"{r.get('DP16KD', 0)} DP16KD"


def _dsp(r: dict) -> int:
    return r.get("DSP", r.get("MULT18X18D", 0))


def _fmax(r: dict) -> str:
    if r.get("fmax_mhz") is None:
        return NA
    stopped = len(r.get("stopped", ()))
    return (f"{r['fmax_mhz']:.1f} ({r['fmax_min']:.1f}–{r['fmax_max']:.1f}, "
            f"{r['seeds']} seed{'s' if r['seeds'] != 1 else ''}"
            + (f"; {stopped} run(s) stopped at the bound" if stopped else "") + ")")


def _row_id(r: dict) -> str:
    return f"{r['board']} / {r['style']} / {r['lanes']} lanes"


RESOURCE_COLUMNS = ["Board", "Engine", "lanes", "LUT4", "FF", "carry", "block RAM", "DSP",
                    "packed logic cells", "fits", "fmax MHz median (min–max)", "cycles/inference",
                    "images/s at fmax", "weight-RAM bits", "vs INT8 weights"]


def resource_table(rows: list[dict]) -> list[str]:
    """Markdown lines of the resource and timing table."""
    out = ["| " + " | ".join(RESOURCE_COLUMNS) + " |",
           "|" + "|".join("---" for _ in RESOURCE_COLUMNS) + "|"]
    for r in rows:
        lc = r.get("packed_lc")
        cells = [r["board"], r["style"] + ("" if r["workload"] == "digits" else
                                           f" [{r['workload']}]"),
                 str(r["lanes"]), str(r.get("LUT4", 0)), str(r.get("FF", 0)),
                 str(r.get("carry", 0)), _bram(r), str(_dsp(r)),
                 f"{lc[0]} / {lc[1]}" if lc else NA,
                 "yes" if r["fits"] else f"no ({r['why']})", _fmax(r), str(r["cycles"]),
                 _n(r["images_per_s"]) if r.get("images_per_s") else NA,
                 str(r["weight_bits"]), f"{r['weight_ratio']:.3f}"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def parse_resource_table(lines) -> list[dict]:
    """Read back a Markdown resource table (:func:`resource_table`): column -> cell text."""
    lines = [ln.strip() for ln in lines if ln.strip().startswith("|")]
    if len(lines) < 2:
        raise ValueError(f"a resource table needs a header and a rule line, not {lines!r}")
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    if head != RESOURCE_COLUMNS:
        raise ValueError(f"resource table columns must be {RESOURCE_COLUMNS}, not {head!r}")
    rows = []
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if len(cells) != len(head):
            raise ValueError(f"resource table row has {len(cells)} cells, not {len(head)}: "
                             f"{ln!r}")
        rows.append(dict(zip(head, cells)))
    return rows


def energy_table(rows: list[dict]) -> list[str]:
    cols = ["Engine", "truncation", "test accuracy", "images simulated",
            "logic proxy (min–max over images)", "memory bits read / written", "memory proxy",
            "total proxy", "total vs INT8", "logic vs INT8", "total, flat memory model",
            "vs INT8, flat"]
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        out.append("| " + " | ".join([
            r["style"], trunc_text(r["trunc"], r["style"]), f"{100 * r['accuracy']:.2f} %",
            str(r["images"]),
            f"{_n(r['logic_proxy'])} ({_n(r.get('logic_min', r['logic_proxy']))}–"
            f"{_n(r.get('logic_max', r['logic_proxy']))})",
            f"{_n(r['mem_read_bits'])} / {_n(r['mem_write_bits'])}",
            _n(r["mem_proxy"]), _n(r["total_proxy"]),
            f"{r['rel_int8']:.3f}" if r.get("rel_int8") else NA,
            f"{r['rel_int8_logic']:.3f}" if r.get("rel_int8_logic") else NA,
            _n(r.get("total_flat", r["total_proxy"])),
            f"{r['rel_int8_flat']:.3f}" if r.get("rel_int8_flat") else NA]) + " |")
    return out


def _parts(rows: list[dict]) -> list[str]:
    seen = dict.fromkeys(u for r in rows for u in r.get("breakdown", {}))
    units = [u for u in UNIT_ORDER if u in seen]
    return units + sorted(u for u in seen if u not in units)


def breakdown_table(rows: list[dict]) -> list[str]:
    """Proxy units per inference by unit and memory, one row per engine and setting."""
    parts = _parts(rows)
    cols = ["Engine", "truncation"] + parts + ["total"]
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        b = r.get("breakdown", {})
        cells = [_label(r), trunc_text(r["trunc"], r["style"])]
        cells += [_n(b[u]["total"]) if u in b else "—" for u in parts]
        out.append("| " + " | ".join(cells + [_n(r["total_proxy"])]) + " |")
    return out


def _label(r: dict) -> str:
    tail = "" if r.get("power", "lean") == "lean" else " (as first built)"
    tail += "" if r.get("reuse", 1) == 1 else f" (reuse {r['reuse']})"
    return r["style"] + tail


def _rel(r: dict, key: str = "rel_int8") -> str:
    return f"{r[key]:.3f}" if r.get(key) else NA


def _against_exact(lean: list[dict], others: list[dict]):
    """``(exact lean row of the same style, other row)`` for every other row that has one."""
    for b in others:
        a = [r for r in lean if r["style"] == b["style"] and not any(r["trunc"])]
        if a:
            yield a[0], b


def _md(cols: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
            + ["| " + " | ".join(r) + " |" for r in rows])


def reuse_table(lean: list[dict], reused: list[dict]) -> list[str]:
    """Per PE style at t = 0: without and with weight reuse."""
    cols = ["Engine", "cycles without", "cycles with", "weight bits read without",
            "weight bits read with", "total without", "total with", "with / without",
            "vs INT8 without", "vs INT8 with", "vs INT8 with, flat memory"]
    return _md(cols, [[
        b["style"], _n(a["cycles"]), _n(b["cycles"]),
        _n(a["mem_reads"].get("weight_mem", 0)), _n(b["mem_reads"].get("weight_mem", 0)),
        _n(a["total_proxy"]), _n(b["total_proxy"]), f"{b['total_proxy'] / a['total_proxy']:.3f}",
        _rel(a), _rel(b), _rel(b, "rel_int8_flat")] for a, b in _against_exact(lean, reused)])


def before_after_table(lean: list[dict], baseline: list[dict]) -> list[str]:
    """Per PE style at t = 0: the engine as first built against the lean one."""
    cols = ["Engine", "total before", "total after", "after / before", "logic before",
            "logic after", "memory before", "memory after", "vs INT8 before", "vs INT8 after",
            "flat memory model: total before", "total after", "vs INT8 before", "vs INT8 after"]
    return _md(cols, [[
        b["style"], _n(b["total_proxy"]), _n(a["total_proxy"]),
        f"{a['total_proxy'] / b['total_proxy']:.3f}", _n(b["logic_proxy"]), _n(a["logic_proxy"]),
        _n(b["mem_proxy"]), _n(a["mem_proxy"]), _rel(b), _rel(a), _n(b["total_flat"]),
        _n(a["total_flat"]), _rel(b, "rel_int8_flat"), _rel(a, "rel_int8_flat")]
        for a, b in _against_exact(lean, baseline)])


def _detail_table(r: dict) -> list[str]:
    """Where one engine's energy goes: toggles, clock-pin events, bits accessed, proxy, share."""
    cols = ["unit / memory", "kind", "net toggles", "clock-pin events", "bits accessed",
            "logic proxy", "access proxy", "share of total"]
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    total = r["total_proxy"]
    sizes = r.get("memory_bits", {})
    for u in _parts([r]):
        e = r["breakdown"][u]
        if u in sizes:
            kind = f"SRAM, {sizes[u]:,} bits"
        elif u in r.get("regfiles", []):
            kind = "register file (flip-flops)"
        else:
            kind = "logic"
        out.append("| " + " | ".join([u, kind, _n(e["toggles"]), _n(e["clock_pin_events"]),
                                      _n(e["bits"]) if u in sizes else "—", _n(e["logic"]),
                                      _n(e["access"]) if u in sizes else "—",
                                      f"{100 * e['total'] / total:.1f} %"]) + " |")
    return out


def traffic_table(rows: list[dict]) -> list[str]:
    """Memory reads per inference: measured at gate level against the compiler's prediction."""
    cols = ["Engine", "truncation", "memory", "word bits", "reads measured", "reads predicted",
            "writes measured", "writes predicted"]
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        for name, t in r.get("traffic", {}).items():
            if name not in r["mem_reads"]:
                meas_r = meas_w = "register file"
            else:
                w = t["width"]
                meas_r = _n(r["mem_reads"][name] / w)
                meas_w = _n(r["mem_writes"][name] / w)
            out.append("| " + " | ".join([_label(r), trunc_text(r["trunc"], r["style"]), name,
                                          str(t["width"]), meas_r, _n(t["reads"]), meas_w,
                                          _n(t["writes"])]) + " |")
    return out


def _memory_table(rows: list[dict]) -> list[str]:
    names = sorted({m for r in rows for m in r["mem_reads"]})
    cols = ["Engine", "truncation"] + [f"{m} read / written" for m in names]
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        cells = [r["style"], trunc_text(r["trunc"], r["style"])]
        for m in names:
            cells.append(f"{_n(r['mem_reads'].get(m, 0))} / {_n(r['mem_writes'].get(m, 0))}")
        out.append("| " + " | ".join(cells) + " |")
    return out


def energy_targets(energy: list[dict], reused: list[dict] = ()) -> list[str]:
    """The energy targets of the lean engine against the measurements (met / missed);
    ``reused``: the rows with weight reuse."""
    out = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "missed"

    def exact(style):
        rs = [r for r in energy if r["style"] == style and not any(r["trunc"])]
        return rs[0] if rs else None

    def flat(value: float, limit: float, ok: bool, fmt=_n) -> str:
        # the figure under the flat memory model, with its own verdict where it differs
        if (value <= limit) == ok:
            return f"{fmt(value)} with the flat memory model"
        return f"**{verdict(value <= limit)}** with the flat memory model: {fmt(value)}"

    b, i8, mp = exact("bucket"), exact("int8"), exact("multiplier-filter")
    if b:
        ok = b["total_proxy"] <= TARGET_BUCKET_TOTAL
        out.append(f"- Bucket engine, exact (t = 0), total ≤ {_n(TARGET_BUCKET_TOTAL)} proxy units "
                   f"per inference with today's dataflow — **{verdict(ok)}**: "
                   f"{_n(b['total_proxy'])} "
                   f"({flat(b.get('total_flat', b['total_proxy']), TARGET_BUCKET_TOTAL, ok)}).")
        br = [r for r in reused if r["style"] == "bucket" and not any(r["trunc"])]
        if br:
            ok = br[0]["total_proxy"] <= TARGET_BUCKET_TOTAL_REUSE
            out.append(f"- Bucket engine, exact, total ≤ {_n(TARGET_BUCKET_TOTAL_REUSE)} with weight "
                       f"reuse — **{verdict(ok)}**: {_n(br[0]['total_proxy'])} (`--reuse "
                       f"{br[0]['reuse']}`; "
                       f"{flat(br[0].get('total_flat', 0), TARGET_BUCKET_TOTAL_REUSE, ok)}); "
                       f"bucket / INT8 with reuse {br[0]['rel_int8']:.3f} "
                       f"({br[0]['rel_int8_flat']:.3f} with the flat memory model).")
        else:
            out.append(f"- Bucket engine, exact, total ≤ {_n(TARGET_BUCKET_TOTAL_REUSE)} with "
                       f"weight reuse — not measured in this run (`--no-reuse`).")
        out.append(f"- Bucket engine, exact, logic ≤ {_n(TARGET_BUCKET_LOGIC)} — "
                   f"**{verdict(b['logic_proxy'] <= TARGET_BUCKET_LOGIC)}**: {_n(b['logic_proxy'])}.")
        small = b.get("small_memory_share")
        if small is not None:
            out.append(f"- Descriptor + logit + scale + bias memories ≤ "
                       f"{100 * TARGET_SMALL_MEMORY_SHARE:.0f} % of the bucket engine's total — "
                       f"**{verdict(small <= TARGET_SMALL_MEMORY_SHARE)}**: {100 * small:.2f} %.")
    if b and i8:
        ok = b["rel_int8"] <= TARGET_BUCKET_VS_INT8
        out.append(f"- Bucket / INT8, both with every fix that applies to both, same dataflow, ≤ "
                   f"{TARGET_BUCKET_VS_INT8} — **{verdict(ok)}**: {b['rel_int8']:.3f} "
                   f"({flat(b['rel_int8_flat'], TARGET_BUCKET_VS_INT8, ok, '{:.3f}'.format)}; "
                   f"logic alone "
                   f"{b['rel_int8_logic']:.3f}).")
    if mp:
        hi = [r for r in energy if r["style"] == "multiplier-filter" and r["trunc"]
              and len(set(r["trunc"])) == 1 and r["trunc"][0] == 4]
        if hi:
            q = hi[0]["total_proxy"] / mp["total_proxy"]
            out.append(f"- Multiplier PE: energy at t = 4 ≤ {TARGET_MULTIPLIER_T4} of its t = 0 "
                       f"— **{verdict(q <= TARGET_MULTIPLIER_T4)}**: {q:.3f}.")
    for style in dict.fromkeys(r["style"] for r in energy):
        base = exact(style)
        others = [r for r in energy if r["style"] == style and any(r["trunc"])]
        if base and others:
            parts = ", ".join(f"{trunc_text(r['trunc'], style)}: "
                              f"{100 * (1 - r['total_proxy'] / base['total_proxy']):+.1f} %"
                              for r in others)
            out.append(f"- Share of the {style} engine's energy the truncation level controls "
                       f"(saving against t = 0): {parts}.")
    return out


# ---------------------------------------------------------------- headline and targets
def headline(resources: list[dict], energy: list[dict], info: dict) -> list[str]:
    """Sentences: which engine to pick for which goal, each citing its table row."""
    out = []
    fa = info.get("float_accuracy")
    if energy and fa is not None:
        ok = [r for r in energy if r["accuracy"] >= fa]
        if ok:
            b = min(ok, key=lambda r: r["total_proxy"])
            out.append(f"- **Lowest energy at float accuracy** ({100 * fa:.2f} % on the test "
                       f"split): the **{b['style']}** engine at **{trunc_text(b['trunc'], b['style'])}**, "
                       f"{_n(b['total_proxy'])} proxy units per inference, "
                       f"{b['rel_int8']:.3f} of the INT8 engine, {100 * b['accuracy']:.2f} % "
                       f"(energy table, row {b['style']} {trunc_text(b['trunc'], b['style'])}).")
        else:
            best = max(r["accuracy"] for r in energy)
            b = min((r for r in energy if r["accuracy"] == best), key=lambda r: r["total_proxy"])
            out.append(f"- **Lowest energy at float accuracy**: no measured engine setting reaches "
                       f"the float model's {100 * fa:.2f} %; the most accurate "
                       f"({100 * best:.2f} %) at the least energy is **{b['style']}** at "
                       f"**{trunc_text(b['trunc'], b['style'])}**, {b['rel_int8']:.3f} of INT8 (energy "
                       f"table, row {b['style']} {trunc_text(b['trunc'], b['style'])}).")
    digits = [r for r in resources if r["workload"] == "digits" and r["fits"]]
    for board in dict.fromkeys(r["board"] for r in digits):
        on = [r for r in digits if r["board"] == board]
        s = min(on, key=lambda r: (r.get("LUT4", 0), _dsp(r)))
        out.append(f"- **Smallest footprint on {board}**: **{s['style']}**, {s.get('LUT4', 0)} "
                   f"LUT4, {s.get('FF', 0)} FF, {_bram(s)}, {_dsp(s)} DSP (resource table, row "
                   f"{_row_id(s)}).")
    timed = [r for r in digits if r.get("images_per_s")]
    for board in dict.fromkeys(r["board"] for r in timed):
        on = [r for r in timed if r["board"] == board]
        f = max(on, key=lambda r: r["images_per_s"])
        out.append(f"- **Fastest on {board}**: **{f['style']}**, {_n(f['images_per_s'])} "
                   f"images/s at the median fmax {f['fmax_mhz']:.1f} MHz, {f['cycles']} cycles "
                   f"per inference (resource table, row {_row_id(f)}).")
    return out


def vendor_anchor(r: dict) -> str:
    """The UP5K bucket row ``r`` next to :data:`VENDOR_ANCHOR` (cited figures, labelled so)."""
    luts = [a[2] for a in VENDOR_ANCHOR]
    regs = [a[1] for a in VENDOR_ANCHOR]
    ebr = next(a for a in VENDOR_ANCHOR if a[0] == "EBR")
    spram = [a[5] for a in VENDOR_ANCHOR if a[4]]
    fmax = r.get("fmax_mhz")
    return (f"- Next to the vendor's anchor, Lattice's Compact CNN Accelerator IP on the same "
            f"UP5K (*cited, not measured here*: its BNN-mode figures from Lattice Radiant, "
            f"{VENDOR_ANCHOR_SOURCE}): {_n(min(luts))}–{_n(max(luts))} LUTs, "
            f"{_n(min(regs))}–{_n(max(regs))} registers, {ebr[5]:.1f} MHz with weights in EBR "
            f"({ebr[3]} EBR), {min(spram):.1f}–{max(spram):.1f} MHz with SPRAM. This engine "
            f"({r['lanes']} lanes, weights in EBR): {_n(r.get('LUT4', 0))} LUT4 "
            f"({r.get('LUT4', 0) / ebr[2]:.2f} of the EBR build's), {_n(r.get('FF', 0))} FF, "
            f"{_bram(r)}, {_dsp(r)} DSP, "
            + (f"median fmax {fmax:.1f} MHz ({fmax / ebr[5]:.2f} of its)." if fmax else
               "fmax not measured."))


def targets(resources: list[dict], energy: list[dict], searches: list[dict]) -> list[str]:
    """The design targets against the measurements (met / missed, with the numbers)."""
    out = []
    b = [r for r in resources if r["board"] == "up5k" and r["pe_style"] == "bucket"
         and r["workload"] == "digits"]
    if b:
        r = b[0]
        ips = r.get("images_per_s")
        wmem = r["memories"].get("weight_mem", "?")
        in_ebr = "RAM4K" in wmem
        fmax = r.get("fmax_mhz")
        ok = bool(ips and ips >= TARGET_IMAGES_PER_S and fmax and fmax >= TARGET_UP5K_FMAX_MHZ
                  and r.get("LUT4", 0) <= TARGET_UP5K_LUT4 and in_ebr)
        out.append(f"- Bucket engine on the UP5K: ≥ {TARGET_UP5K_FMAX_MHZ:g} MHz median fmax "
                   f"and ≥ {_n(TARGET_IMAGES_PER_S)} images/s in ≤ {_n(TARGET_UP5K_LUT4)} LUT4 "
                   f"with weights in EBR — **{'met' if ok else 'missed'}**: "
                   f"{f'{fmax:.1f} MHz, ' if fmax else ''}"
                   f"{_n(ips) if ips else NA} images/s, {r.get('LUT4', 0)} LUT4, weight memory "
                   f"mapped to {wmem} ({r['lanes']} lanes).")
        out.append(vendor_anchor(r))
        if r["lanes"] == 16:
            ok = r.get("LUT4", 0) <= TARGET_BUCKET_UP5K_LUT4
            out.append(f"- The energy fixes cost no area: 16-lane bucket engine on the UP5K ≤ "
                       f"{_n(TARGET_BUCKET_UP5K_LUT4)} LUT4 (before them) — "
                       f"**{'met' if ok else 'missed'}**: {r.get('LUT4', 0)} LUT4, "
                       f"{r.get('FF', 0)} FF, {'fits' if r['fits'] else 'does not fit'}.")
    le = [r for r in resources if r["board"] == "up5k" and r["workload"] != "digits"]
    if le:
        r = le[0]
        lc = r.get("packed_lc")
        out.append(f"- A LeNet-5 (28 × 28, workload `{r['workload']}`) bucket engine fits the UP5K "
                   f"— **{'met' if r['fits'] else 'missed'}**: {r.get('LUT4', 0)} LUT4, "
                   f"{_bram(r)}, packed {lc[0]} / {lc[1]} logic cells." if lc else
                   f"- A LeNet-5 bucket engine fits the UP5K — **missed**: {r['why']}")
    bucket = [r for r in energy if r["style"] == "bucket"]
    exact = [r for r in bucket if not any(r["trunc"])]
    if bucket and exact:
        ea = exact[0]["accuracy"]
        ok = [r for r in bucket if r["accuracy"] >= ea]
        best = min(ok, key=lambda r: r["rel_int8"])
        out.append(f"- Bucket energy ≤ {TARGET_ENERGY_RATIO} of INT8 at no loss versus exact "
                   f"integer ({100 * ea:.2f} %) — **"
                   f"{'met' if best['rel_int8'] <= TARGET_ENERGY_RATIO else 'missed'}**: "
                   f"{best['rel_int8']:.3f} at {trunc_text(best['trunc'], 'bucket')} "
                   f"({100 * best['accuracy']:.2f} %); logic alone {best['rel_int8_logic']:.3f}.")
    for s in searches:
        lanes = s["largest"]
        probes = ", ".join(f"{k}: {'fits' if v['fits'] else 'does not fit'}"
                           + (f" ({v['lc'][0]}/{v['lc'][1]} LC)" if v.get("lc") else "")
                           for k, v in sorted(s["probes"].items()))
        out.append(f"- Largest lane count of the {s['style']} engine that fits {s['board']} "
                   f"(flow search: powers of two, then bisection over the lane counts that save "
                   f"cycles, up to {max(s['candidates'])}): **{lanes}** (packed probes: "
                   f"{probes}).")
    return out


# ---------------------------------------------------------------- files
def _plot(energy: list[dict], info: dict, path: Path) -> Path | None:
    if not energy:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for style in dict.fromkeys(r["style"] for r in energy):
        pts = sorted((r for r in energy if r["style"] == style), key=lambda r: r["rel_int8"])
        ax.plot([r["rel_int8"] for r in pts], [100 * r["accuracy"] for r in pts], "o-",
                label=style)
        for r in pts:
            ax.annotate(trunc_text(r["trunc"], r["style"]), (r["rel_int8"], 100 * r["accuracy"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
    if info.get("float_accuracy") is not None:
        ax.axhline(100 * info["float_accuracy"], color="grey", ls="--", lw=0.8,
                   label="float model")
    ax.set_xlabel("energy proxy per inference (logic + memory), relative to the INT8 engine")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs energy per inference (digits, gate-level)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def _csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        atomic_write_text(path, "")
        return
    keys = [k for k in rows[0] if not isinstance(rows[0][k], dict)]
    with atomic_open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, (list, tuple)) else v)
                        for k, v in r.items() if k in keys})


def _alike(mods: dict) -> dict:
    """``mods`` with the instances of one module (names differing only in a trailing number,
    equal counts) merged into one row ``name* (N alike, each)``."""
    import re

    groups: dict = {}
    for name, m in mods.items():
        groups.setdefault(re.sub(r"\d+$", "*", name), []).append((name, m))
    out = {}
    for stem, members in groups.items():
        same = all(m == members[0][1] for _, m in members)
        if len(members) > 2 and same and stem.endswith("*"):
            out[f"{stem} ({len(members)} alike, each)"] = members[0][1]
        else:
            out.update(dict(members))
    return out


def module_table(modules: dict) -> list[str]:
    """Markdown lines: the resources of each engine module per build (empty if none)."""
    if not modules:
        return []
    lines = ["Area by module (Yosys `synth_ice40 -noflatten`: the same engine with its module "
             "boundaries kept, so no optimisation across them -- the flat build above is the "
             "design's size; each module counts its own cells, `(top)` is the control and the "
             "memories):", ""]
    for build, mods in modules.items():
        cols = [k for k in next(iter(mods.values()), {}) if any(m.get(k) for m in mods.values())]
        total = {k: sum(m.get(k, 0) for m in mods.values()) for k in cols}
        rows = [[name] + [m.get(k, 0) for k in cols] for name, m in _alike(mods).items()]
        rows.append(["sum"] + [total[k] for k in cols])
        head = ["module"] + cols
        lines += [f"{build}:", "", "| " + " | ".join(head) + " |",
                  "|" + "|".join("---" for _ in head) + "|",
                  *("| " + " | ".join(str(c) for c in r) + " |" for r in rows), ""]
    return lines


def write_engine_outputs(eout: Path, opts, resources: list[dict], energy: list[dict],
                         searches: list[dict], info: dict) -> Path:
    """Write ``engine.md``, ``section.md`` (the headline for ``index.md``), CSV/JSON tables and
    the plot into ``eout``; return the path of ``engine.md``."""
    eout = Path(eout)
    everything = energy
    baseline = [r for r in energy if r.get("power", "lean") != "lean"]
    reused = [r for r in energy if r.get("power", "lean") == "lean" and r.get("reuse", 1) > 1]
    energy = [r for r in energy if r.get("power", "lean") == "lean" and r.get("reuse", 1) == 1]
    plot = _plot(energy, info, eout / "accuracy_vs_energy.png")
    _csv(eout / "resources.csv", resources)
    _csv(eout / "energy.csv", everything)
    atomic_write_text(eout / "engine.json", json.dumps(
        {"resources": resources, "energy": everything, "searches": searches, "info": info},
        indent=1, default=str) + "\n")
    head = headline(resources, energy, info)
    tg = targets(resources, energy, searches) + energy_targets(energy, reused)
    seeds_text = ", ".join(f"{b}: {n}" for b, n in info["pnr_seeds"].items())
    section = ["## Inference engine: which configuration to pick", "",
               f"Committed `{opts.workload}` model, {opts.lanes} lanes unless stated; details, "
               f"method and every row in [engine/engine.md](engine/engine.md).", "", *head, "",
               "Design targets, as measured:", "", *tg, ""]
    if plot:
        section += [f"![accuracy vs energy](engine/{plot.name})", ""]
    atomic_write_text(eout / "section.md", "\n".join(section) + "\n")
    wb = info.get("mem_bit_weight")
    lines = ["# Inference engine: FPGA resources, timing and energy per inference", "",
             *[ln.replace("](engine/", "](") for ln in section[2:]],
             "## Resources and timing per board", "",
             f"Yosys `synth_ice40 -dsp` (iCE40 UP5K, SG48) and `synth_ecp5` (ULX3S "
             f"LFE5U-{opts.ecp5_device.upper()}, CABGA381; `-nodsp` for the LUT-only INT8 "
             f"engine, and `synth_ice40` without `-dsp`) of the engine built as the bitstreams "
             f"build it (`--power fpga`: the lean engine without the bucket adders' operand "
             f"isolation, an ASIC saving that costs a LUT per adder bit on an FPGA; the energy "
             f"rows below measure `--power lean`) inside the flow's "
             f"timing harness (inputs from a shift register, outputs captured), counted for the "
             f"engine module alone; `packed logic cells` and `fits` from nextpnr's packer on the "
             f"whole harness. fmax: median over the nextpnr placement seeds "
             f"{info['seed']}, {info['seed'] + 1}, ... ({seeds_text}), min–max in brackets. images/s = "
             f"median fmax / cycles per inference (`hw.engine.schedule.inference_cycles`: pixels "
             f"+ compute + logits, streams never stalled). Weight-RAM bits: the weight memory of "
             f"the compiled program, against the INT8 engine's with the same lanes.", "",
             *resource_table(resources), "",
             *module_table(info.get("modules") or {}),
             "Memory mapping (memory -> primitive, from Yosys' memory_libmap): " + "; ".join(
                 f"{_row_id(r)}: " + ", ".join(f"{k} {v}" for k, v in r["memories"].items())
                 for r in resources), ""]
    if energy:
        lines += ["## Energy per inference", "",
                  f"Gate-level simulation (Icarus Verilog, zero delay) of the generic-gate netlist "
                  f"of each engine with its memories kept as memories (`hw.flow.memnet`), over "
                  f"the first {energy[0]['images']} images of the `{opts.workload}` test split at "
                  f"each truncation setting; in-simulation counters give, per inference (first "
                  f"pixel to idle again), the data-net toggles, fanout-weighted toggles and the "
                  f"bits read from / written into each memory. Every logit of every simulated "
                  f"image equals the golden model's (checked; a mismatch stops the report). "
                  f"Recommended per-layer levels (the evaluation's choice on the validation "
                  f"split): {trunc_text(info['recommended'])}.", "",
                  f"- Logic term: {POWER_PROXY_DOC}; here per inference. Registers that load "
                  f"rarely are clock-gated as an ASIC flow's clock-gating insertion does it: "
                  f"flip-flops with a clock enable, {ICG_MIN_FLOPS} or more of a unit sharing "
                  f"one enable, get one clock gate (latch + AND, the `qsq_icg` structure) and "
                  f"their clock pins switch only in enabled cycles; the gate's own two pins "
                  f"switch every cycle (`hw.flow.memnet`).",
                  f"- Memory term: SRAM bits read + written x a weight per bit that grows as the "
                  f"square root of the memory's size: {opts.mem_pj_per_bit:.3g} pJ per bit at "
                  f"8 KB (Horowitz, ISSCC 2014, 45 nm: 10 pJ per 64-bit access of an 8 KB SRAM, "
                  f"20 pJ at 32 KB, 100 pJ at 1 MB; the square-root law gives 0.31 and 1.77 pJ "
                  f"per bit there against the quoted 0.31 and 1.56), against {opts.mul8_pj:.3g} pJ "
                  f"per 8-bit multiply (same source); the flow measures the exact signed 8 x 8 "
                  f"multiplier's power proxy, {num(info.get('mul8_proxy'))} units per operation "
                  f"(uniform operands), so one bit of an 8 KB SRAM = {num(wb)} proxy units. "
                  f"Memories of at most {REGFILE_WORDS} words (descriptors, logits) are register "
                  f"files: built from flip-flops and gates and measured as such (their rows in "
                  f"the breakdown), not charged like an SRAM. The columns `flat` charge every "
                  f"SRAM bit at the 8 KB figure (the model of earlier reports), for comparison.",
                  "- Test accuracy: the golden model of each PE style on the whole test split "
                  f"({'float model ' + format(100 * info['float_accuracy'], '.2f') + ' %' if info.get('float_accuracy') is not None else ''}).",
                  "", *energy_table(energy), "",
                  "### Before and after", "",
                  "Each engine exact (t = 0) as first built (`--power baseline`: every read "
                  "port reads every cycle, pipeline registers load every cycle, no operand "
                  "isolation; measured without clock gates and with every memory an SRAM, as "
                  "the earlier reports did) and as built now (lean), in the same run:", "",
                  *before_after_table(energy, baseline), "",
                  "### With weight reuse", "",
                  "Each engine exact with `--reuse 2`: in the convolution layers every weight "
                  "word read serves two neighbouring output positions (two accumulator sets per "
                  "lane, a second activation read port; the fully connected layers read each "
                  "weight once per inference anyway). Cycles per inference from the compiler "
                  "(checked at gate level).", "",
                  *reuse_table(energy, reused), ""]
        lines += ["### Where the energy goes", "",
                  "Proxy units per inference by unit (`lanes`, `post` post-processing, `seq` "
                  "sequencer, `control` top-level FSM and streams, `io` inputs) and memory (an "
                  "SRAM's accesses plus its ports and data bus; a register file's gates):", "",
                  *breakdown_table(energy + reused + baseline), ""]
        for r in energy:
            if not any(r["trunc"]) and r.get("breakdown"):
                lines += [f"{r['style']} engine, exact (t = 0), per inference:", "",
                          *_detail_table(r), ""]
        lines += ["### Memory accesses: predicted and measured", "",
                  "Every read port reads only when its word is used. The compiler predicts the "
                  "accesses of every memory (`manifest.json`, `memory_traffic`); the gate-level "
                  "run counts them in every inference and stops the report if one differs "
                  "(register files are logic, so only their energy is measured).", "",
                  *traffic_table(energy + reused), "",
                  "Bits read / written per SRAM and inference (the mean over the images):", "",
                  *_memory_table(energy), ""]
    lines += [f"Engine report measured in {info['elapsed']:.0f} s ({info['jobs']} worker(s); "
              f"cached jobs are read back).", ""]
    path = eout / "engine.md"
    atomic_write_text(path, "\n".join(lines))
    return path
