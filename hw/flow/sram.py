"""SRAM macros for the ASIC engine: energy per access and area of its large memories.

There is no memory compiler here, so the engine's weight, activation, bias and scale memories
(everything :mod:`hw.flow.asic_engine` keeps as a memory rather than building from cells) are
costed as tiles of a published 180 nm SRAM macro family, or with the user's own figures:

**Default: GF180MCU ``gf180mcu_fd_ip_sram``** -- the synchronous single-port SRAM macros of the
GlobalFoundries 180 nm MCU open PDK (GF 180nm 5V Green, 6T bitcell of 13.5 um^2; released by
GlobalFoundries and Google under Apache-2.0 in ``google/globalfoundries-pdk-ip-gf180mcu_fd_ip_sram``,
liberty revision 1.0 of June 20, 2014), typical corner ``tt_025C_1v80`` (1.8 V, 25 C: the OSU
0.18 um library's typical voltage). Each macro is ``D`` words x 8 bits, ``D`` in 64, 128, 256,
512. :data:`GF180_SRAM` holds, per depth, the liberty's cell ``area`` (um^2) and the ``CLK`` pin's
``internal_power`` for a read (``!CEN & GWEN``) and a write (``!CEN & !GWEN``), in the library's
energy unit (1 V x 1 pF = 1 pJ) per clock transition, flat over input slew. An access is one clock
cycle, two transitions, so it costs twice the table value.

**Tiling** (:func:`macro_tiling`): a memory of ``words`` x ``width`` bits uses ``ceil(width / 8)``
macros side by side (one word spread over them; all of them are accessed together) of the
smallest depth that holds ``words``, or, above 512 words, ``ceil(words / 512)`` banks of the
512-word macro of which one is accessed at a time. Energy per access = macros side by side x 2 x
the table value; area = every macro's area. Unused bits of a macro word (a width that is not a
multiple of 8) still cost their share. Leakage and the macros' own timing are not included.

**The user's figures** (:func:`load_sram_table`, ``qsq asic --sram-table FILE``): a CSV with the
header ``memory,read_pj_per_bit,write_pj_per_bit,um2_per_bit`` and one row per memory name
(``weight_mem``, ``act_mem``, ...) or ``*`` for every other; energy per access = bits per word x
pJ/bit, area = bits x um^2/bit.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

__all__ = ["GF180_SRAM", "GF180_SOURCE", "MACRO_WIDTH", "macro_tiling", "SramModel",
           "load_sram_table", "sram_costs"]

#: Macro depth -> (area um^2, read pJ per CLK transition, write pJ per CLK transition), from the
#: ``tt_025C_1v80`` liberty files of ``gf180mcu_fd_ip_sram__sram<D>x8m8wm1``.
GF180_SRAM = {64: (100571.5568, 84.3399, 92.043),
              128: (116118.5168, 88.7733, 96.498),
              256: (147212.4368, 93.51, 102.006),
              512: (209400.2768, 103.176, 112.563)}
#: Where :data:`GF180_SRAM` comes from (printed in the report).
GF180_SOURCE = ("GF180MCU gf180mcu_fd_ip_sram macros (GlobalFoundries 180nm 5V Green, "
                "google/globalfoundries-pdk-ip-gf180mcu_fd_ip_sram, Apache-2.0), liberty "
                "tt_025C_1v80: cell area and CLK internal_power of a read / a write")
#: Bits per word of every macro in :data:`GF180_SRAM`.
MACRO_WIDTH = 8


def macro_tiling(words: int, width: int) -> dict:
    """How a ``words`` x ``width`` memory is built from :data:`GF180_SRAM` macros.

    Returns ``{"depth", "columns", "banks", "macros"}``: the macro depth used, macros side by
    side per word, banks of that depth, and the macro count (``columns x banks``).

    Raises
    ------
    ValueError
        For a non-positive word count or width.
    """
    for name, v in (("words", words), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, not {v!r}")
    depths = sorted(GF180_SRAM)
    fit = [d for d in depths if d >= words]
    depth = fit[0] if fit else depths[-1]
    banks = 1 if fit else math.ceil(words / depth)
    columns = math.ceil(width / MACRO_WIDTH)
    return {"depth": depth, "columns": columns, "banks": banks, "macros": columns * banks}


class SramModel:
    """Energy per word access and area of a memory: the GF180 macros, or per-bit figures.

    Parameters
    ----------
    table : dict, optional
        ``{memory name or "*": (read pJ/bit, write pJ/bit, um^2/bit)}`` (:func:`load_sram_table`);
        default: the :data:`GF180_SRAM` macros.
    """

    def __init__(self, table: dict | None = None):
        self.table = table

    @property
    def source(self) -> str:
        return "user table (pJ/bit, um^2/bit)" if self.table else GF180_SOURCE

    def cost(self, name: str, words: int, width: int) -> dict:
        """``{"read_pj", "write_pj", "area_um2", "tiling"}`` of one memory (per word access)."""
        if self.table:
            row = self.table.get(name, self.table.get("*"))
            if row is None:
                raise ValueError(f"the SRAM table has no row for memory {name!r} and no '*' row")
            rd, wr, ar = row
            return {"read_pj": rd * width, "write_pj": wr * width,
                    "area_um2": ar * words * width, "tiling": f"{words * width} bits"}
        t = macro_tiling(words, width)
        area, rd, wr = GF180_SRAM[t["depth"]]
        tiling = (f"{t['columns']} x {t['depth']}x8" + (f" x {t['banks']} banks"
                                                        if t["banks"] > 1 else ""))
        return {"read_pj": t["columns"] * 2 * rd, "write_pj": t["columns"] * 2 * wr,
                "area_um2": t["macros"] * area, "tiling": tiling}


def load_sram_table(path) -> dict:
    """Read a ``memory,read_pj_per_bit,write_pj_per_bit,um2_per_bit`` CSV (see the module notes).

    Raises
    ------
    ValueError
        For a missing file, a wrong header, a repeated memory or a value that is not a
        non-negative number (the message names the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--sram-table {path}: no such file")
    want = ["memory", "read_pj_per_bit", "write_pj_per_bit", "um2_per_bit"]
    out: dict = {}
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or [c.strip() for c in rows[0]] != want:
        raise ValueError(f"--sram-table {path}: the header must be {','.join(want)}")
    for n, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 4:
            raise ValueError(f"--sram-table {path}:{n}: 4 columns expected, not {len(row)}")
        name = row[0].strip()
        if name in out:
            raise ValueError(f"--sram-table {path}:{n}: memory {name!r} given twice")
        vals = []
        for col, text in zip(want[1:], row[1:]):
            try:
                v = float(text)
            except ValueError:
                v = -1.0
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"--sram-table {path}:{n}: {col} must be a non-negative "
                                 f"number, not {text.strip()!r}")
            vals.append(v)
        out[name] = tuple(vals)
    if not out:
        raise ValueError(f"--sram-table {path}: no rows")
    return out


def sram_costs(memories: dict, traffic: dict, model: SramModel) -> list[dict]:
    """Per memory kept as a macro: its tiling, accesses and energy per inference and area.

    ``memories``: ``{name: [words, width]}`` (the mapped engine's memories); ``traffic``:
    :func:`hw.engine.schedule.memory_traffic` of its program (``reads``/``writes`` per name).
    """
    rows = []
    for name, (words, width) in sorted(memories.items()):
        key = name.split(".")[-1]
        tr = traffic.get(key)
        if tr is None:
            raise ValueError(f"no predicted traffic for memory {name!r}")
        c = model.cost(key, int(words), int(width))
        rows.append({"memory": key, "words": int(words), "width": int(width),
                     "tiling": c["tiling"], "reads": int(tr["reads"]),
                     "writes": int(tr["writes"]), "read_pj": c["read_pj"],
                     "write_pj": c["write_pj"],
                     "energy_nj": (tr["reads"] * c["read_pj"] + tr["writes"] * c["write_pj"])
                     * 1e-3, "area_um2": c["area_um2"]})
    return rows
