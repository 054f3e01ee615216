"""Formal harnesses: the properties each proof checks, as Verilog appended to the design under test.

A harness is plain (System)Verilog text inserted before the ``endmodule`` of the generated top
module, inside ``ifdef FORMAL``, so that it can read the design's internal signals by their stable
names (``row{i}``, ``row{i}_load``, ``digit_pos``, ...; see ``hw/csd_multiplier.py`` and
``hw/csd_compact.py``). It instantiates the independent specification of ``sim/formal/spec/`` and
states the lemmas of one proof *part*:

``recoder``
    The recoder's digits ``digit_pos``/``digit_neg`` (a function of ``b`` alone) equal the
    specification's non-adjacent form of ``b``, and have the shape of one (no digit both +1 and
    -1, no two neighbouring nonzero digits). Combinational. Also part of ``acc``.
``rows``
    The recoder's digits are cut free (Yosys ``cutpoint``): any digits in every cycle with no
    position both +1 and -1 and, for ``csd_compact_multiplier``, at most one nonzero digit in
    each pair a compact row serves (``2k``, ``2k+1``) -- a weakening of the NAF shape, so the
    assumption is discharged by the recoder lemma. (The whole NAF shape, as one vector
    constraint over neighbouring digits, made a 16x16 query take minutes; these per-digit
    and per-pair assumptions are all the rows rely on, and it takes seconds.) So is ``p``,
    which takes the adder tree out of the model (no lemma of this part reads it). Each row's load/activity signal is exactly
    "valid, digit nonzero, at or above the truncation level" (compact: and ``a != 0``); in the
    cycle an operation sits in the row registers (``valid1``), every digit position's
    contribution ``glue_i`` (a ``p_width``-bit word formed from the row/operand registers)
    equals the specification's ``term_i = a * d_i * 2**i`` (``qsq_spec_terms``) of the operands
    and digits of one cycle earlier; compact: the value each row adds to the sum, ``w_k`` (the
    XOR-inverted row plus its carry-in, or the positive minus the negative copy), equals the sum
    of its digit pair's contributions before the zero flag, ``v_2k + v_2k+1``; gated registers
    hold their value when not loaded.
``acc``
    The recoder lemma, and: with the row registers (``csd_multiplier``: ``row{i}``,
    ``row{i}_contrib``) or the row words and the registers they are formed from
    (``csd_compact_multiplier``: ``row{k}``/``row{k}_neg``, ``row{k}_p``/``row{k}_n``, the
    zero flag, ...) cut free (any value in every cycle), the product register loads
    ``S``, their sum modulo ``2**p_width`` written in the RTL's association (``_tree``), or 0
    when the compact design's zero flag is set. No sum is re-associated inside a query: that
    was what made the accumulation slow (minutes at 8x8, no verdict at 16x16). Control, for
    any row contents: ``p`` holds between results; reset clears ``p`` and ``out_valid``;
    ``out_valid`` is ``in_valid`` two cycles late.

Composition, for an operation with operands ``(a, b, t)`` entering in cycle ``n`` (all sums
modulo ``2**p_width``):

1. ``recoder``: the digits of cycle ``n`` are ``naf(b)`` and have NAF shape in every cycle, which
   implies the assumption of ``rows``: it holds on every run of the real design and the lemmas
   of ``rows`` hold for the real digits.
2. ``rows``: ``glue_i(n+1) = term_i(a, naf(b), t)`` for every ``i`` (positions without a row: both
   0); compact: ``w_k(n+1) = v_2k + v_2k+1`` and ``glue_q = Z ? 0 : v_q``.
3. ``acc``: ``p(n+2) = S(n+1)`` for any contents of the cut registers, so in particular for
   the reachable ones.
4. ``S`` is a sum of the glue words in another order: addition modulo ``2**p_width`` is
   associative and commutative (the one arithmetic identity used outside the solver).
   ``csd_multiplier``: ``S = sum_i glue_i``. Compact, XOR: ``S = Z ? 0 : sum_k row_k +
   sum_k neg_k = Z ? 0 : sum_k w_k = Z ? 0 : sum_q v_q = sum_q glue_q``; split: ``S = Z ? 0 :
   sum_k p_k - sum_k n_k = Z ? 0 : sum_k w_k``, and the same.
5. ``sum_i term_i(a, naf(b), t)`` is by definition ``qsq_spec_sum(qsq_spec_terms(a,
   qsq_spec_naf(b), t)) = qsq_csd_spec(a, b, t)``: so ``p(n+2) = spec(a, b, t)``, which
   ``spec_check`` compares with the golden model.

Each part is a k-induction proof (SBY ``mode prove``), so every lemma holds in every reachable
cycle, for all inputs.

The decoder has a single part, ``dec``: every lane equals ``qsq_decode_spec`` (combinational), or
for the registered variant, loads it when ``in_valid`` and holds otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Design", "SpecShape", "insert_harness", "harness", "cut_signals", "PARTS"]

#: Proof parts of a multiplier (see the module docstring).
PARTS = ("recoder", "rows", "acc", "e2e")


@dataclass(frozen=True)
class SpecShape:
    """The multiplier's shape as the specification defines it from the operand ports alone.

    Deliberately *not* :class:`golden_model.config.MultiplierConfig`, which the RTL generator
    uses: a wrong digit count or product width there must not reach the proof's expectation.
    The formulas are those of ``sim/formal/spec/csd_spec.v`` (``ND = BS ? BW : BW + 1``,
    ``PW = AW + BW``); every spec instance in a harness leaves ``ND``/``PW`` at the spec's own
    default and is connected to wires of these widths, so a disagreement between this class
    and the spec is a port resize, which proof builds make fatal (``logger -werror``).
    """

    a_width: int
    a_signed: bool
    b_width: int
    b_signed: bool

    @property
    def ndigits(self) -> int:
        """Digit positions of the non-adjacent form of ``b`` (the spec's ``ND``)."""
        return self.b_width if self.b_signed else self.b_width + 1

    @property
    def p_width(self) -> int:
        """Product width (the spec's ``PW``): ``a * b`` always fits."""
        return self.a_width + self.b_width

    @property
    def t_width(self) -> int:
        """Bits of a runtime truncation level 0 .. ``ndigits``."""
        return max(1, self.ndigits.bit_length())


@dataclass(frozen=True)
class Design:
    """One generated configuration: registry module name and its parameters."""

    module: str
    params: dict = field(hash=False)

    @property
    def key(self) -> tuple:
        return (self.module,) + tuple(sorted(self.params.items()))

    def __hash__(self):
        return hash(self.key)

    @property
    def is_multiplier(self) -> bool:
        return self.module in ("csd_multiplier", "csd_compact_multiplier")

    @property
    def shape(self) -> SpecShape:
        """The operand shape this proof claims, with the spec's digit count and widths."""
        p = self.params
        return SpecShape(p["a_width"], p["a_signed"], p["b_width"], p["b_signed"])

    @property
    def runtime(self) -> bool:
        return self.params["truncation"] == "runtime"

    @property
    def first(self) -> int:
        return 0 if self.runtime else self.params["truncation"]

    @property
    def gated(self) -> bool:
        return self.params["gating"] != "none"

    @property
    def compact_rows(self) -> list[tuple[int, ...]]:
        """Digit positions of each compact row (as ``CSDCompactMultiplier.rows``)."""
        nd = self.shape.ndigits
        out = []
        for k in range((nd + 1) // 2):
            pos = tuple(q for q in (2 * k, 2 * k + 1) if self.first <= q < nd)
            if pos:
                out.append(pos)
        return out


def cut_signals(d: Design, part: str = "acc") -> list[str]:
    """Names of the signals that proof part ``part`` cuts free. ``rows``: the recoder's digits.
    ``acc``: the row registers (and their contributes bits) of ``csd_multiplier``; the row
    words, the registers they are formed from and the zero flag of ``csd_compact_multiplier``."""
    if part == "rows":
        return ["digit_pos", "digit_neg", "p"]
    if part != "acc":
        return []
    nd = d.shape.ndigits
    if d.module == "csd_multiplier":
        rows = range(d.first, nd)
        return [f"row{i}" for i in rows] + ([f"row{i}_contrib" for i in rows] if d.gated else [])
    names = ["a_q"] + (["zero_q"] if d.gated and d.compact_rows else [])
    xor = d.params["sign"] == "xor"
    for k, pos in enumerate(d.compact_rows):
        names += [f"row{k}_active", f"row{k}_neg"] + ([f"row{k}_sel"] if len(pos) == 2 else [])
        names += [f"row{k}"] if xor else [f"row{k}_p", f"row{k}_n"]
    return names


def insert_harness(verilog: str, top: str, text: str) -> str:
    """Insert ``text`` before the ``endmodule`` of module ``top`` in ``verilog``."""
    start = verilog.index(f"module {top}(")
    end = verilog.index("endmodule", start)
    return verilog[:end] + text + verilog[end:]


def harness(d: Design, part: str, split: bool = False, lemmas: str = "all") -> str:
    """Verilog text of the harness of ``d`` for proof part ``part``.

    ``split``: state the per-digit term lemmas of ``rows`` (and the compact row lemmas) as one
    assertion each (``f_term{i}``, ``f_row{k}``), for the counterexample search that names the
    failing one. Default: one assertion over the concatenation of all of them
    (``f_term_all``, ``f_row_all``) -- the same property; measured, a 16x16 query that did not
    end within 10 minutes with 17 separate assertions ends in 2 s as one.

    ``lemmas`` (part ``rows``): ``all``, ``terms`` (only the term lemma) or ``others`` (all but
    the term lemma). The two halves are proven in separate runs for the ICG designs: measured on
    a compact ICG 16x16 design under ``multiclock on``, 171 s together, 30 s + 4 s apart.
    """
    if lemmas not in ("all", "terms", "others"):
        raise ValueError(f"lemmas must be 'all', 'terms' or 'others', not {lemmas!r}")
    if d.module == "shift_scale_decoder":
        return _decoder(d)
    if part == "recoder":
        body = _recoder(d)
    elif part == "e2e":
        body = _e2e(d)
    else:
        body = _rows(d, split, lemmas) if part == "rows" else _acc(d)
    return "\n`ifdef FORMAL\n  // ---- formal harness (sim/formal/harness.py), part " \
        f"{part!r}\n" + body + "`endif\n"


def _history(d: Design) -> str:
    """Registers one cycle deep: the operands and level of the previous cycle, valid flags,
    reset, ``p``; ``f_init`` marks the first cycle (no history yet)."""
    cfg = d.shape
    aw, bw, nd, pw, tw = cfg.a_width, cfg.b_width, cfg.ndigits, cfg.p_width, cfg.t_width
    tnow = "trunc" if d.runtime else f"{tw}'d{d.first}"
    return f"""  localparam F_ND = {nd}, F_PW = {pw};
  reg f_init = 1'b1;
  reg [{aw - 1}:0] f_a1;
  reg [{bw - 1}:0] f_b1;
  reg [{tw - 1}:0] f_t1;
  reg f_v1 = 1'b0, f_v2 = 1'b0, f_ld = 1'b0, f_rst1 = 1'b0;
  reg [{pw - 1}:0] f_p1;
  wire [{tw - 1}:0] f_tnow = {tnow};
  always @(posedge clk) begin
    f_init <= 1'b0;
    f_a1 <= a; f_b1 <= b; f_t1 <= f_tnow;
    f_v1 <= in_valid && !rst; f_v2 <= f_v1 && !rst;
    f_ld <= valid1 && !rst;                 // p loaded at the last edge
    f_rst1 <= rst; f_p1 <= p;
  end
"""


def _control(d: Design) -> str:
    """The control lemmas (part ``acc``): ``out_valid`` is ``in_valid`` two cycles late; reset
    clears ``p`` and ``out_valid``; ``p`` holds between results."""
    pw = d.shape.p_width
    return f"""  always @* begin
    f_valid: assert (valid1 == f_v1 && out_valid == f_v2);
    if (!f_init && f_rst1) f_reset: assert (p == {pw}'d0 && !out_valid);
    if (!f_init && !f_rst1 && !f_ld) f_p_holds: assert (p == f_p1);
  end
"""


def _glue(d: Design) -> str:
    """``f_glue``: the contribution of each digit position, read from the datapath registers
    (``F_ND`` words of ``F_PW`` bits; 0 for positions without a row). Compact design: also
    ``f_v`` (the same before the zero flag) and ``f_w{k}``, the value row ``k`` adds to the sum."""
    cfg = d.shape
    aw, nd, pw = cfg.a_width, cfg.ndigits, cfg.p_width
    s = [f"  wire [{nd * pw - 1}:0] f_glue;\n"]
    built = set()
    if d.module == "csd_multiplier":
        for i in range(d.first, nd):
            built.add(i)
            r = f"row{i}_contrib ? row{i} : {aw + 1}'d0" if d.gated else f"row{i}"
            s.append(f"  wire signed [{aw}:0] f_r{i} = {r};\n"
                     f"  wire signed [{pw - 1}:0] f_x{i} = f_r{i};\n"
                     f"  assign f_glue[{i * pw} +: {pw}] = f_x{i} << {i};\n")
    else:
        zflag = "zero_q" if d.gated and d.compact_rows else "1'b0"
        xor = d.params["sign"] == "xor"
        s.append(f"  wire signed [{pw - 1}:0] f_A = a_q;         // extended as a_q's signedness\n"
                 f"  wire f_Z = {zflag};\n"
                 f"  wire [{nd * pw - 1}:0] f_v;             // glue before the zero flag\n")
        for k, pos in enumerate(d.compact_rows):
            for j, q in enumerate(pos):
                sel = "" if len(pos) == 1 else (f" && !row{k}_sel" if j == 0 else f" && row{k}_sel")
                built.add(q)
                s.append(f"  wire [{pw - 1}:0] f_m{q} = f_A << {q};\n"
                         f"  assign f_v[{q * pw} +: {pw}] = (row{k}_active{sel}) ? "
                         f"(row{k}_neg ? -f_m{q} : f_m{q}) : {pw}'d0;\n"
                         f"  assign f_glue[{q * pw} +: {pw}] = f_Z ? {pw}'d0 : f_v[{q * pw} +: {pw}];\n")
            w = f"row{k} + row{k}_neg" if xor else f"row{k}_p - row{k}_n"
            s.append(f"  wire [{pw - 1}:0] f_w{k} = {w};\n")
        for q in range(nd):
            if q not in built:
                s.append(f"  assign f_v[{q * pw} +: {pw}] = {pw}'d0;\n")
    for i in range(nd):
        if i not in built:
            s.append(f"  assign f_glue[{i * pw} +: {pw}] = {pw}'d0;      // row not built\n")
    return "".join(s)


def _naf_shape(pos: str, neg: str) -> str:
    """Verilog: the digits ``pos``/``neg`` form a non-adjacent form (no digit both +1 and -1, no
    two neighbouring nonzero digits)."""
    return f"(({pos} & {neg}) == 0 && ((({pos} | {neg}) >> 1) & ({pos} | {neg})) == 0)"


def _digit_assumptions(d: Design) -> str:
    """What part ``rows`` assumes of its free digits, one small assumption per digit (no digit
    both +1 and -1) and, compact design, per row pair (not both digits nonzero): implied by
    the NAF shape the recoder lemma proves."""
    nd = d.shape.ndigits
    s = ["  // the recoder's digits are cut free (part `acc` proves them equal to the specification's\n"
         "  // non-adjacent form of b, and of its shape); assumed here: what that shape implies and\n"
         "  // the rows rely on, a digit at a time\n"]
    for i in range(nd):
        s.append(f"  always @* f_digit{i}: assume (!(digit_pos[{i}] && digit_neg[{i}]));\n")
    if d.module == "csd_compact_multiplier":
        for q in range(0, nd - 1, 2):
            s.append(f"  always @* f_pair{q // 2}: assume (!((digit_pos[{q}] || digit_neg[{q}]) && "
                     f"(digit_pos[{q + 1}] || digit_neg[{q + 1}])));\n")
    return "".join(s)


def _recoder(d: Design) -> str:
    cfg = d.shape
    nd, bw = cfg.ndigits, cfg.b_width
    return f"""  // recoder: the digits of the current b equal the specification's non-adjacent form, and
  // (what part `rows` assumes of its free digits) they have the shape of a non-adjacent form
  wire [{nd - 1}:0] f_naf_pos, f_naf_neg;
  qsq_spec_naf #(.BW({bw}), .BS({int(cfg.b_signed)})) f_naf (.b(b), .dpos(f_naf_pos), .dneg(f_naf_neg));
  always @* begin
    f_recoder: assert (digit_pos == f_naf_pos && digit_neg == f_naf_neg);
    f_naf_shape: assert {_naf_shape("digit_pos", "digit_neg")};
  end
"""


def _rows(d: Design, split: bool = False, lemmas: str = "all") -> str:
    return _history(d) + _glue(d) + _digit_assumptions(d) + _rows_lemmas(d, split, lemmas)


def _rows_lemmas(d: Design, split: bool = False, lemmas: str = "all") -> str:
    """The lemmas of part ``rows`` (needs ``_history`` and ``_glue``)."""
    cfg = d.shape
    aw, nd, pw, tw = cfg.a_width, cfg.ndigits, cfg.p_width, cfg.t_width
    s = [f"""  wire [{nd - 1}:0] f_dpos = digit_pos, f_dneg = digit_neg;
  reg [{nd - 1}:0] f_dpos1, f_dneg1;
  always @(posedge clk) begin f_dpos1 <= f_dpos; f_dneg1 <= f_dneg; end
  // the specification's terms of the operation in the row/operand registers (entered one cycle
  // ago, with the digits of that cycle)
  wire [{nd * pw - 1}:0] f_spec_terms;
  qsq_spec_terms #(.AW({aw}), .AS({int(cfg.a_signed)}), .ND({nd}), .PW({pw}), .TW({tw})) f_terms (
    .a(f_a1), .dpos(f_dpos1), .dneg(f_dneg1), .t(f_t1), .terms(f_spec_terms));
"""]
    if lemmas != "others":
        s.append(_equal("f_term", [(f"f_glue[{i * pw} +: {pw}]", f"f_spec_terms[{i * pw} +: {pw}]")
                                   for i in range(nd)], split, guard="valid1"))
    if lemmas == "terms":
        return "".join(s)
    if d.module == "csd_multiplier" and d.gated:
        for i in range(d.first, nd):
            w = aw + 1
            s.append(f"""  reg [{w - 1}:0] f_row{i}_q; reg f_load{i}_q = 1'b0;
  always @(posedge clk) begin f_row{i}_q <= row{i}; f_load{i}_q <= row{i}_load; end
  always @* begin
    f_load{i}: assert (row{i}_load == (in_valid && (f_dpos[{i}] || f_dneg[{i}]) && f_tnow <= {i}));
    if (!f_init && !f_load{i}_q) f_hold{i}: assert (row{i} == f_row{i}_q);
  end
""")
    if d.module == "csd_compact_multiplier":
        rows = d.compact_rows
        if d.gated and rows:
            regs = ["a_q"] + [f"row{k}_{n}" for k, pos in enumerate(rows)
                              for n in (("active", "neg", "sel") if len(pos) == 2
                                        else ("active", "neg"))]
            cat = "{" + ", ".join(regs) + "}"
            width = aw + sum(3 if len(pos) == 2 else 2 for pos in rows)
            act = " || ".join(f"((f_dpos[{q}] || f_dneg[{q}]) && f_tnow <= {q})"
                              for pos in rows for q in pos)
            s.append(f"""  reg [{width - 1}:0] f_dp_q; reg f_go_q = 1'b0;
  always @(posedge clk) begin f_dp_q <= {cat}; f_go_q <= op_active; end
  always @* begin
    f_go: assert (op_active == (in_valid && a != 0 && ({act})));
    if (!f_init && !f_go_q) f_hold: assert ({cat} == f_dp_q);
  end
""")
        # the value each row adds to the sum (part `acc` sums these) is its digit pair's
        # contribution before the zero flag
        for k, pos in enumerate(rows):
            vk = " + ".join(f"f_v[{q * pw} +: {pw}]" for q in pos)
            s.append(f"  wire [{pw - 1}:0] f_vs{k} = {vk};\n")
        s.append(_equal("f_row", [(f"f_w{k}", f"f_vs{k}") for k in range(len(rows))], split))
    return "".join(s)


def _equal(name: str, pairs: list[tuple[str, str]], split: bool, guard: str = "") -> str:
    """Assertions that every ``(lhs, rhs)`` word pair is equal (while ``guard`` holds): one per
    pair named ``{name}{k}`` if ``split``, else one, ``{name}_all``, over their concatenations
    (see :func:`harness`)."""
    cond = f"if ({guard}) " if guard else ""
    if split:
        return "".join(f"  always @* {cond}{name}{k}: assert ({lhs} == {rhs});\n"
                       for k, (lhs, rhs) in enumerate(pairs))
    if not pairs:
        return ""
    lhs = ", ".join(a for a, _ in pairs)
    rhs = ", ".join(b for _, b in pairs)
    return f"  always @* {cond}{name}_all: assert ({{{lhs}}} == {{{rhs}}});\n"


def _tree(terms: list[str], zero: str) -> str:
    """A Verilog sum of ``terms`` associated as the RTL's balanced adder tree (``_adder_tree``
    of ``hw/csd_multiplier.py``, ``_tree`` of ``hw/csd_compact.py``): neighbours pairwise, an odd
    last term carried up a level."""
    if not terms:
        return zero
    level = list(terms)
    while len(level) > 1:
        nxt = [f"({level[k]} + {level[k + 1]})" for k in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _acc(d: Design) -> str:
    glue = _glue(d) if d.module == "csd_multiplier" else ""
    return _history(d) + _control(d) + _recoder(d) + glue + _acc_lemma(d)


def _acc_lemma(d: Design) -> str:
    """``f_acc_eq``: ``p`` loads the sum of the row words (in the RTL's order) of one cycle
    earlier (needs ``_history`` and, ``csd_multiplier``, ``_glue``)."""
    cfg = d.shape
    pw = cfg.p_width
    zero = f"{pw}'d0"
    s = []
    if d.module == "csd_multiplier":
        words = [f"f_glue[{i * pw} +: {pw}]" for i in range(d.first, cfg.ndigits)]
        s.append(f"""  // accumulation: with the row registers free, p loads the sum of the glue words (the
  // sum mod 2**{pw}, associated as the RTL's tree)
  wire [{pw - 1}:0] f_acc = {_tree(words, zero)};
""")
    else:
        rows = range(len(d.compact_rows))
        zflag = "zero_q" if d.gated and d.compact_rows else "1'b0"
        if d.params["sign"] == "xor":
            negs = [f"row{k}_neg" for k in rows]
            terms = [f"row{k}" for k in rows] + (["(" + " + ".join(negs) + ")"] if negs else [])
            total = _tree(terms, zero)
        else:
            total = (f"{_tree([f'row{k}_p' for k in rows], zero)} - "
                     f"{_tree([f'row{k}_n' for k in rows], zero)}")
        s.append(f"""  // accumulation: with the row words free, p loads their sum mod 2**{pw} (associated as the
  // RTL's tree), or 0 if the zero flag is set
  wire [{pw - 1}:0] f_sum = {total};
  wire [{pw - 1}:0] f_acc = {zflag} ? {zero} : f_sum;
""")
    s.append(f"""  reg [{pw - 1}:0] f_acc_q;
  always @(posedge clk) f_acc_q <= f_acc;
  always @* if (!f_init && f_ld) f_acc_eq: assert (p == f_acc_q);
""")
    return "".join(s)


def _e2e(d: Design) -> str:
    """Part ``e2e``: whenever ``out_valid`` is high, ``p`` equals the full specification
    ``qsq_csd_spec(a, b, t)`` of the operands on the ports two cycles (the latency) earlier.

    The conclusion's widths are the ports' (``$bits(a)``, ``$bits(b)``, ``$bits(trunc)``); the
    digit count and the product width are the spec's own parameter defaults: the statement
    depends neither on :class:`SpecShape` nor on the RTL's configuration, and it reads no
    internal signal.

    How it is proven (one k-induction run, depth 1): the lemmas of ``recoder``, ``rows`` (without
    its digit assumptions) and ``acc`` (without its cut points) are stated again beside it, as
    assertions -- not assumptions, so a wrong helper cannot make the conclusion pass vacuously
    (a planted wrong digit count fails this run on its own) -- with two small lemmas of its
    own: the digit registers hold the NAF of ``b`` one cycle old (``f_digits1``), and the first
    cycle has no operation in flight (``f_first``); a static level's register holds it
    (``f_level``). The induction step assumes them all one cycle earlier; what is left to the
    solver is the congruence of the terms and the re-association of the sum (the RTL's adder
    tree against the spec's loop): seconds with 9 digit positions, no verdict within minutes
    with 17 (see the README).
    """
    p = d.params
    cfg = d.shape
    nd, bw = cfg.ndigits, cfg.b_width
    as_, bs = int(p["a_signed"]), int(p["b_signed"])
    helpers = _recoder(d) + _control(d) + _rows_lemmas(d) + _acc_lemma(d)
    tnow1, tbits = ("f_t1", "$bits(trunc)") if d.runtime else (f"8'd{d.first}", "8")
    # a static level: the harness's level register holds it after the first cycle
    level = "" if d.runtime else \
        f"    if (!f_init) f_level: assert (f_t1 == {cfg.t_width}'d{d.first});\n"
    return _history(d) + _glue(d) + helpers + f"""  // ---- end-to-end: p == qsq_csd_spec(a, b, t) of the operation `out_valid` stands for;
  // widths from the ports, digit count and product width the spec's own defaults
  localparam F_EAW = $bits(a), F_EBW = $bits(b), F_ETW = {tbits}, F_EPW = F_EAW + F_EBW;
  reg [F_EAW-1:0] f_ea2;
  reg [F_EBW-1:0] f_eb2;
  reg [F_ETW-1:0] f_et2;
  always @(posedge clk) begin f_ea2 <= f_a1; f_eb2 <= f_b1; f_et2 <= {tnow1}; end
  wire [F_EPW-1:0] f_eprod;
  qsq_csd_spec #(.AW(F_EAW), .AS({as_}), .BW(F_EBW), .BS({bs}), .TW(F_ETW)) f_espec (
    .a(f_ea2), .b(f_eb2), .t(f_et2), .p(f_eprod), .dpos(), .dneg(), .terms());
  always @* if (out_valid) f_e2e: assert (p == f_eprod);
  // helpers: the digits one cycle old are the NAF of b one cycle old (inductive by the
  // recoder lemma); the first cycle has no operation in flight (the initial values)
  wire [{nd - 1}:0] f_enaf_pos, f_enaf_neg;
  qsq_spec_naf #(.BW({bw}), .BS({bs})) f_enaf (.b(f_b1), .dpos(f_enaf_pos), .dneg(f_enaf_neg));
  always @* begin
    if (!f_init) f_digits1: assert (f_dpos1 == f_enaf_pos && f_dneg1 == f_enaf_neg);
    if (f_init) f_first: assert (!valid1 && !f_v1 && !f_v2 && !out_valid);
{level}  end
"""


def _decoder(d: Design) -> str:
    p = d.params
    cb, sb, lanes = p["code_bits"], p["scale_bits"], p["lanes"]
    ww = sb + 1
    s = ["\n`ifdef FORMAL\n  // ---- formal harness (sim/formal/harness.py), decoder\n",
         f"  wire [{lanes * ww - 1}:0] f_w;\n"]
    for j in range(lanes):
        s.append(f"  qsq_decode_spec #(.CB({cb}), .SB({sb})) f_lane{j} (.code(codes[{j * cb} +: {cb}]), "
                 f".scale(scale), .weight(f_w[{j * ww} +: {ww}]));\n")
    if not p["registered"]:
        s.append("  always @* f_dec: assert (weights == f_w);\n")
    else:
        s.append(f"""  reg f_init = 1'b1, f_v = 1'b0, f_r = 1'b0;
  reg [{lanes * ww - 1}:0] f_w_q, f_out_q;
  always @(posedge clk) begin
    f_init <= 1'b0; f_v <= in_valid; f_r <= rst; f_w_q <= f_w; f_out_q <= weights;
  end
  always @* if (!f_init) begin
    if (f_r) f_dec_reset: assert (weights == 0 && !out_valid);
    else begin
      f_dec_valid: assert (out_valid == f_v);
      if (f_v) f_dec: assert (weights == f_w_q);
      else f_dec_hold: assert (weights == f_out_q);
    end
  end
""")
    s.append("`endif\n")
    return "".join(s)
