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
=============  =====================================================================================
"""

from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from .program import EngineProgram, LayerPlan

__all__ = ["FIELDS", "SIGNED_FIELDS", "descriptor_values", "descriptor_layout"]

#: Descriptor fields, in layout order.
FIELDS = ("C", "k", "pad", "hp", "wp", "W", "HW", "kk", "padW", "padk", "PH", "PW", "pool", "G",
          "lanes_last", "K", "w_base", "f_base", "in_base", "out_base", "out_plane", "grp_stride",
          "last", "shift", "req_mult", "req_shift", "pair")
#: Fields that may be negative.
SIGNED_FIELDS = ("shift",)


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
    return [_values(p) for p in prog.layers]


def descriptor_layout(prog: EngineProgram) -> data.StructLayout:
    """A struct layout wide enough for every layer's values (at least 1 bit per field)."""
    vals = descriptor_values(prog)
    fields = {}
    for name in FIELDS:
        col = [v[name] for v in vals]
        if name in SIGNED_FIELDS:
            lo, hi = min(col), max(col)
            width = max(2, max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1)
            fields[name] = signed(width)
        else:
            fields[name] = unsigned(max(1, max(col).bit_length()))
    return data.StructLayout(fields)
