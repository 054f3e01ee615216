"""Three edits of Amaranth's RTLIL text before Yosys writes it as Verilog (used by
:func:`hw.verilog.generate`).

Amaranth 0.5 converts a design to RTLIL and lets Yosys write the Verilog. Three things of that
Verilog are fixed here, on the RTLIL, where each is a small local edit with exact meaning:

1. **Port order.** Amaranth numbers the ports of a module from 0, but Yosys treats port number 0
   as "unordered" and moves it to the end (so a multiplier's ``a`` came last). The ports are
   renumbered from 1 in the conventional order: clock and reset ports first (``clk``, ``rst`` and
   ``<domain>_clk``/``<domain>_rst``), then inputs, then outputs, then inouts. Within a group the
   order is given by ``order`` (the top module: its signature order) or else Amaranth's order.
2. **Submodule names.** Amaranth names a submodule ``<top>.<path>`` (an escaped Verilog
   identifier); it becomes ``<top>__<path with __>`` (a plain identifier), so the submodules of
   differently named tops never collide.
3. **Operand widths.** For readability Amaranth strips the redundant sign or zero extension of
   the operands of arithmetic and comparison cells (a 4-bit ``trunc <= 2`` becomes
   ``trunc <= 2'h2``; ``-a`` of an 8-bit ``a`` into 10 bits keeps an 8-bit operand). Yosys writes
   such a cell as a Verilog expression with operands narrower than the result, which
   ``verilator -Wall`` reports as ``WIDTHEXPAND``. The extension is put back explicitly (the
   operand is concatenated with copies of its sign bit, or with zeros, as the cell's ``A_SIGNED``
   / ``B_SIGNED`` say), up to the width the cell computes at: both operands of a comparison to
   the wider one; operands of ``$add``/``$sub``/``$neg`` to one bit less than the result (the
   carry, which Verilator accepts). Yosys defines these cells as extending their operands exactly
   so, so the logic is unchanged (``tests/test_verilog_output.py`` proves it with Yosys's
   equivalence checker).

The RTLIL grammar used: Amaranth writes one statement per line; a module runs from
``module <name>`` to an unindented ``end``; a cell from ``  cell <type> <name>`` to the next
``  end``; a port is ``wire width <n> <input|output|inout> <id> [signed] <name>``.
"""

from __future__ import annotations

import re

__all__ = ["rewrite", "RtlilError", "CLOCK_RESET"]

#: Port names that go first, in this order within each domain: a clock, then its reset.
CLOCK_RESET = re.compile(r"^(?:(?:\w+_)?clk|(?:\w+_)?rst)$")

_PORT = re.compile(r"^(\s*wire width (\d+) )(input|output|inout) (\d+) (\s*(?:signed )?)(\S+)$")
_WIRE = re.compile(r"^\s*wire width (\d+) (?:(?:input|output|inout) \d+ )?\s*(?:signed )?(\S+)$")
_TOKEN = re.compile(r"\{|\}|\[[^\]]*\]|[^\s{}\[]+")

#: Cells whose operands are widened, and to what: "cmp" both to the wider one, "arith" to Y - 1.
_WIDEN = {"$add": "arith", "$sub": "arith", "$neg": "arith",
          "$eq": "cmp", "$ne": "cmp", "$lt": "cmp", "$le": "cmp", "$gt": "cmp", "$ge": "cmp"}


class RtlilError(RuntimeError):
    """The RTLIL text is not in the form these edits expect (a change in Amaranth's output)."""


def _ident(name: str) -> str:
    return name[1:] if name.startswith("\\") else name


def _parse_sigspec(text: str, widths: dict) -> list[tuple[str, int]]:
    """Chunks of a sigspec, most significant first: (RTLIL text of the chunk, width)."""
    toks = _TOKEN.findall(text)
    chunks, i = [], 0
    while i < len(toks):
        t = toks[i]
        if t in "{}":
            i += 1
            continue
        if re.match(r"^\d+'[01xzm-]*$", t):
            chunks.append((t, int(t.split("'")[0])))
            i += 1
            continue
        if t not in widths:
            raise RtlilError(f"unknown wire {t!r} in sigspec {text!r}")
        if i + 1 < len(toks) and toks[i + 1].startswith("["):
            rng = toks[i + 1][1:-1]
            hi, _, lo = rng.partition(":")
            width = int(hi) - int(lo or hi) + 1
            chunks.append((f"{t} {toks[i + 1]}", width))
            i += 2
        else:
            chunks.append((t, widths[t]))
            i += 1
    return chunks


def _msb(chunk: tuple[str, int]) -> str:
    """The most significant bit of a sigspec chunk, as an RTLIL sigspec."""
    text, width = chunk
    if "'" in text and not text.startswith(("\\", "$")):
        return f"1'{text.split(chr(39))[1][0]}"
    if " [" in text:
        name, rng = text.split(" [")
        return f"{name} [{rng[:-1].partition(':')[0]}]"
    return f"{text} [{width - 1}]"


def _extend(sig: str, width: int, target: int, is_signed: bool, widths: dict) -> str:
    """``sig`` (``width`` bits) extended to ``target`` bits, as the cell would extend it."""
    chunks = _parse_sigspec(sig, widths)
    if sum(w for _, w in chunks) != width:
        raise RtlilError(f"sigspec {sig!r} is not {width} bits wide")
    pad = target - width
    if is_signed and chunks:
        ext = " ".join([_msb(chunks[0])] * pad)
    else:
        ext = f"{pad}'" + "0" * pad
    body = " ".join(c for c, _ in chunks)
    return "{ " + ext + (" " + body if body else "") + " }"


def _widen_cell(lines: list[str], widths: dict) -> list[str]:
    """Lines of one cell with its operands explicitly extended (see the module docstring)."""
    head = lines[0].split()
    kind = _WIDEN.get(head[1]) if len(head) >= 3 else None
    if kind is None:
        return lines
    params, conns = {}, {}
    for k, line in enumerate(lines):
        s = line.split(None, 2)
        if s[0] == "parameter":
            params[s[1]] = (k, s[2])
        elif s[0] == "connect":
            conns[s[1]] = (k, s[2])
    operands = ["A", "B"] if "\\B" in conns else ["A"]
    ywidth = int(params["\\Y_WIDTH"][1])
    owidth = {o: int(params[f"\\{o}_WIDTH"][1]) for o in operands}
    if kind == "cmp":
        if params["\\A_SIGNED"][1] != params["\\B_SIGNED"][1]:
            return lines
        target = max(owidth.values())
    else:
        target = ywidth - 1
    out = list(lines)
    for o in operands:
        if owidth[o] >= target:
            continue
        is_signed = params[f"\\{o}_SIGNED"][1] == "1"
        k, sig = conns[f"\\{o}"]
        pk, _ = params[f"\\{o}_WIDTH"]
        indent = lines[k][:len(lines[k]) - len(lines[k].lstrip())]
        out[k] = f"{indent}connect \\{o} {_extend(sig, owidth[o], target, is_signed, widths)}"
        pindent = lines[pk][:len(lines[pk]) - len(lines[pk].lstrip())]
        out[pk] = f"{pindent}parameter \\{o}_WIDTH {target}"
    return out


def _order_ports(lines: list[str], order: list[str] | None) -> list[str]:
    """Renumber the port wires of one module from 1 in the conventional order."""
    ports = []  # (line index, direction, name)
    for k, line in enumerate(lines):
        m = _PORT.match(line)
        if m:
            ports.append((k, m.group(3), _ident(m.group(6)), int(m.group(4))))
    ports.sort(key=lambda p: p[3])
    rank = {name: i for i, name in enumerate(order or [])}
    group = {"input": 1, "output": 2, "inout": 3}

    def key(p):
        k, direction, name, pid = p
        first = 0 if direction == "input" and name not in rank and CLOCK_RESET.match(name) else 1
        return (0 if first == 0 else group[direction], rank.get(name, len(rank)), pid)

    out = list(lines)
    for new_id, (k, _direction, _name, _pid) in enumerate(sorted(ports, key=key), start=1):
        m = _PORT.match(lines[k])
        out[k] = f"{m.group(1)}{m.group(3)} {new_id} {m.group(5)}{m.group(6)}"
    return out


def rewrite(text: str, top: str, top_order: list[str] | None = None) -> str:
    """Apply the three edits of the module docstring to Amaranth's RTLIL ``text``.

    Parameters
    ----------
    text : str
        RTLIL of a design whose top module is named ``top``.
    top : str
        Name of the top module; submodules are renamed ``<top>__<path>``.
    top_order : list of str, optional
        Port names of the top module in the wanted order within each direction group (the
        component's signature order).

    Raises
    ------
    RtlilError
        If the text is not in the expected form, or two renamed submodules would collide.
    """
    lines = text.split("\n")
    # Module boundaries and renames.
    renames = {}
    for line in lines:
        if line.startswith("module "):
            name = _ident(line.split(None, 1)[1])
            if name != top:
                if not name.startswith(top + "."):
                    raise RtlilError(f"submodule {name!r} is not under the top module {top!r}")
                renames[name] = top + "__" + name[len(top) + 1:].replace(".", "__")
    if len(set(renames.values())) != len(renames) or top in renames.values():
        raise RtlilError(f"submodule names collide after renaming: {sorted(renames.values())}")

    def rename(token: str) -> str:
        name = _ident(token)
        return "\\" + renames[name] if name in renames else token

    out: list[str] = []
    k = 0
    while k < len(lines):
        line = lines[k]
        if not line.startswith("module "):
            out.append(line)
            k += 1
            continue
        end = k + 1
        while end < len(lines) and lines[end] != "end":
            end += 1
        if end == len(lines):
            raise RtlilError(f"module at line {k + 1} has no end")
        name = _ident(line.split(None, 1)[1])
        body = lines[k + 1:end]
        widths = {}
        for b in body:
            m = _WIRE.match(b)
            if m:
                widths[m.group(2)] = int(m.group(1))
        body = _order_ports(body, top_order if name == top else None)
        new_body, j = [], 0
        while j < len(body):
            b = body[j]
            if b.startswith("  cell "):
                stop = j + 1
                while stop < len(body) and body[stop] != "  end":
                    stop += 1
                cell = body[j:stop + 1]
                parts = cell[0].split()
                if len(parts) == 3 and _ident(parts[1]) in renames:
                    cell[0] = f"  cell {rename(parts[1])} {parts[2]}"
                new_body += _widen_cell(cell, widths)
                j = stop + 1
            else:
                new_body.append(b)
                j += 1
        out.append(f"module {rename(line.split(None, 1)[1])}")
        out += new_body
        out.append("end")
        k = end + 1
    return "\n".join(out)
