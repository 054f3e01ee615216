"""The layer descriptor: one word of the descriptor memory per compute layer.

Every field is an integer the compiler (:mod:`hw.engine.program`) derives from a
:class:`~hw.engine.program.LayerPlan`; the sequencer and the post-processing unit read nothing
else, so the same hardware runs any network whose values fit the field widths. Widths are the
fewest bits that hold the model's values (signed fields where a value can be negative).

=============  =====================================================================================
field          meaning
=============  =====================================================================================
``C``          input channels (fc: fan-in); the channel loop runs ``0 .. C-1``
``k``, ``pad`` kernel size and zero padding (fc: 1, 0)
``hp``, ``wp`` ``H - 1 + pad``, ``W - 1 + pad``: with them the last kernel row/column inside the image
               at output row ``y`` is ``min(k - 1, hp - y)``
``W``, ``HW``  input row and channel strides in the activation memory
``kk``         ``k * k``: the weight-word stride between input channels
``padW``,      ``pad * W`` and ``pad * k``: offsets used at the top rows (no multiplier needed)
``padk``
``PH``, ``PW`` stored output rows and columns (pooled)
``pool``       1 when a 2x2 max pool follows (positions in window order)
``G``          groups of ``lanes`` filters; ``lanes_last`` valid lanes of the last group
``K``          ``C * k * k``: weight words per group
``w_base``     first weight word of the layer
``f_base``     first scale/bias entry of the layer
``in_base``    activation region read; ``out_base``: region written
``out_plane``  ``PH * PW``: stored bytes per output channel; ``grp_stride`` = ``lanes * out_plane``
``last``       1 for the final (logit) layer
``pair``       1 when each tap serves two neighbouring output positions (weight reuse)
``shift``      requantization shift of the coded engines (signed)
``req_mult``,  fixed-point requantization of the INT8 engine (``M`` and ``n``)
``req_shift``
``t_base``     FPGA builds only: the layer's first entry in the position table
=============  =====================================================================================

**The position table** (FPGA builds, :attr:`hw.engine.config.EngineConfig.fpga`): one entry per
issue of every layer (:func:`hw.engine.program.issues`, the engine's order), holding what the
sequencer's set-up of that output position needs -- so the FPGA sequencer has no position
counters and no window-clipping arithmetic, only a table address. The same values the ASIC
sequencer computes at every position (:mod:`hw.engine.sequencer`), computed here once:

=============  =====================================================================================
field          meaning
=============  =====================================================================================
``act0``       activation address of the first issued tap (kernel window clipped to the image)
``w_off``      its weight word, relative to the group's first word
``nrows``,     issued kernel rows and columns minus 1
``ncols``
``rx_end``,    ``ncols == 0``, ``nrows == 0``
``ry_end``
``o``          stored position of the (first) output, relative to the output region
``wf``, ``wl`` window flags of the (first) output: first and last of its pooling window
``fin``        the layer's last issue
``has_b``,     weight reuse only: the issue has a second position; the first's kernel starts a
``a_skip``,    column later (its first column is padding for it); the second's ends a column
``b_skip``,    earlier; the second position's "last of its window" flag
``wl_b``
=============  =====================================================================================
"""

from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from .program import EngineProgram, LayerPlan, issues, tap_ranges

__all__ = ["FIELDS", "SIGNED_FIELDS", "descriptor_fields", "descriptor_values", "descriptor_layout",
           "position_fields", "position_entries", "position_layout", "position_words"]

#: Descriptor fields, in layout order.
FIELDS = ("C", "k", "pad", "hp", "wp", "W", "HW", "kk", "padW", "padk", "PH", "PW", "pool", "G",
          "lanes_last", "K", "w_base", "f_base", "in_base", "out_base", "out_plane", "grp_stride",
          "last", "shift", "req_mult", "req_shift", "pair")
#: Fields that may be negative.
SIGNED_FIELDS = ("shift",)
#: The FPGA builds' extra field (the position table's base of the layer).
TABLE_FIELDS = ("t_base",)
#: Position-table entry fields, in layout order; the last four only with weight reuse.
POSITION_FIELDS = ("act0", "w_off", "nrows", "ncols", "rx_end", "ry_end", "o", "wf", "wl", "fin")
PAIR_POSITION_FIELDS = ("has_b", "a_skip", "b_skip", "wl_b")


def descriptor_fields(prog: EngineProgram) -> tuple:
    """The descriptor fields of ``prog``'s engine: :data:`FIELDS`, and ``t_base`` in the FPGA
    builds."""
    return FIELDS + (TABLE_FIELDS if prog.config.fpga else ())


def _values(p: LayerPlan) -> dict:
    return {"C": p.C, "k": p.k, "pad": p.pad, "hp": p.H - 1 + p.pad, "wp": p.W - 1 + p.pad,
            "W": p.W, "HW": p.H * p.W, "kk": p.k * p.k, "padW": p.pad * p.W, "padk": p.pad * p.k,
            "PH": p.PH, "PW": p.PW, "pool": int(p.pool), "G": p.G, "lanes_last": p.lanes_last,
            "K": p.K, "w_base": p.w_base, "f_base": p.f_base, "in_base": p.in_base,
            "out_base": p.out_base, "out_plane": p.out_plane, "grp_stride": p.lanes * p.out_plane,
            "last": int(p.last), "shift": p.shift, "req_mult": p.req_mult, "req_shift": p.req_shift,
            "pair": int(p.pair)}


def descriptor_values(prog: EngineProgram) -> list[dict]:
    """The descriptor memory's content: one dict of field values per compute layer."""
    vals = [_values(p) for p in prog.layers]
    if prog.config.fpga:
        base = 0
        for v, p in zip(vals, prog.layers):
            v["t_base"] = base
            base += sum(1 for _ in issues(p))
    return vals


def descriptor_layout(prog: EngineProgram) -> data.StructLayout:
    """A struct layout wide enough for every layer's values (at least 1 bit per field)."""
    vals = descriptor_values(prog)
    fields = {}
    for name in descriptor_fields(prog):
        col = [v[name] for v in vals]
        if name in SIGNED_FIELDS:
            lo, hi = min(col), max(col)
            width = max(2, max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1)
            fields[name] = signed(width)
        else:
            fields[name] = unsigned(max(1, max(col).bit_length()))
    return data.StructLayout(fields)


def _entries(p: LayerPlan, act_width: int) -> list[dict]:
    """Position-table entries of one layer, per issue: the first issued tap (kernel row
    ``ky_lo``, column ``kx_lo``: the window clipped to the image, :func:`tap_ranges`; a pair's
    columns are the union of both kernels', from the second position's first) and the counts."""
    out = []
    items = list(issues(p))
    for i, (y, x, _taps, outs) in enumerate(items):
        ky_lo, ky_hi, kx_lo, kx_hi = tap_ranges(p, y, x)
        if p.pair:
            kx_lo = tap_ranges(p, y, x + 1)[2]
        nrows, ncols = ky_hi - ky_lo, kx_hi - kx_lo
        act0 = p.in_base + (y - p.pad + ky_lo) * p.W + (x - p.pad + kx_lo)
        e = {"act0": act0 % (1 << act_width), "w_off": ky_lo * p.k + kx_lo,
             "nrows": nrows, "ncols": ncols, "rx_end": int(ncols == 0), "ry_end": int(nrows == 0),
             "o": outs[0][0], "wf": int(outs[0][1]), "wl": int(outs[0][2]),
             "fin": int(i == len(items) - 1)}
        if p.pair:
            e.update({"has_b": int(len(outs) > 1), "a_skip": int(x < p.pad),
                      "b_skip": int(p.W - 1 + p.pad - x < p.k),
                      "wl_b": int(outs[1][2]) if len(outs) > 1 else 0})
        out.append(e)
    return out


def position_fields(prog: EngineProgram) -> tuple:
    """The position table's fields for ``prog``'s engine."""
    return POSITION_FIELDS + (PAIR_POSITION_FIELDS if prog.config.reuse == 2 else ())


def position_entries(prog: EngineProgram) -> list[dict]:
    """The FPGA builds' position table (see the module notes): every layer's entries, from
    ``t_base``; fields a layer does not use are 0."""
    names = position_fields(prog)
    rows = [e for p in prog.layers for e in _entries(p, prog.widths["act_addr"])]
    return [{n: e.get(n, 0) for n in names} for e in rows]


def _layout_of(rows: list[dict]) -> data.StructLayout:
    return data.StructLayout({n: unsigned(max(1, max(r[n] for r in rows).bit_length()))
                              for n in rows[0]})


def position_layout(prog: EngineProgram) -> data.StructLayout:
    """A struct layout wide enough for every position-table entry of ``prog``."""
    return _layout_of(position_entries(prog))


def position_words(prog: EngineProgram) -> list[int]:
    """The position table as integers in :func:`position_layout`'s layout."""
    rows = position_entries(prog)
    layout = _layout_of(rows)
    return [sum(v << layout[n].offset for n, v in r.items()) for r in rows]
