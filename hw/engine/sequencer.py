"""The sequencer: walks one layer's groups, output positions and taps, one tap per cycle.

Loops (outermost first): group ``g`` of ``lanes`` filters; output position -- pooled windows
row-major and the four positions of a window in a row when a pool follows, else row-major; input
channel ``c``; kernel row; kernel column. Taps that fall on the zero padding are not issued (the
kernel row and column ranges are clipped to the image at every position), so an output costs only
the taps that can be nonzero. Every address is kept in a running register and moved by adding a
stride from the descriptor -- no multiplier.

Per issued tap it drives the activation and weight read addresses (``rd_en``) and an ``op`` with
a ``last`` flag; with the last tap of an output it drives ``meta`` (where the output goes).
Cycle budget, exactly (the compiler's :mod:`hw.engine.schedule` counts the same way):

* ``lanes`` cycles at the start of every group when ``scale_loads`` (multiplier PE): one scale
  load per lane, which travels down the tap pipeline in order;
* 1 set-up cycle per output position (2 with a position ``table``: the FPGA builds), then one
  cycle per issued tap;
* the last tap of an output waits until ``spacing`` cycles have passed since the previous output's
  last tap, ``spacing`` = the previous output's valid lanes x ``post_rate``, because the
  post-processing unit reads one lane every ``post_rate`` cycles and must have read every lane
  before the shadows are overwritten.

``done`` is 1 in the cycle the layer's final tap issues.

The FPGA builds' sequencer (``table``) has no position counters and no window-clipping
arithmetic: the compiler writes each issue's set-up values into a *position table*
(:func:`hw.engine.descriptor.position_entries`, a block RAM beside the other memories), and the
sequencer keeps one table address. Its set-up takes two cycles -- the first reads the entry, the
second loads the tap counters, addresses and output flags from it -- and "the next tap is the
position's last" is a register of its own, updated with the three end flags, so the issue
decision and the clock enables it drives start from registers.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .._component import checking_parameters

__all__ = ["Sequencer", "op_layout", "meta_layout"]


def op_layout(lane_width: int, scale_loads: bool, pairs: bool = False) -> data.StructLayout:
    """One issued operation: a tap (``valid``) or, with scale loads, a scale load (``load``, lane
    ``lane``); with ``pairs``, whether the tap is used by the first (``va``) and the second
    (``vb``) output position of the pair."""
    fields = {"valid": 1, "last": 1}
    if scale_loads:
        fields.update({"load": 1, "lane": unsigned(lane_width)})
    if pairs:
        fields.update({"va": 1, "vb": 1})
    return data.StructLayout(fields)


def meta_layout(f_width: int, act_width: int, pairs: bool = False) -> data.StructLayout:
    """Where an output goes: scale/bias entry of lane 0, activation address of lane 0, window
    flags, and whether its group is the layer's last (fewer valid lanes); with ``pairs`` the same
    for the second position (``has_b``: the pair has one)."""
    fields = {"f_grp": unsigned(f_width), "o_pos": unsigned(act_width),
              "win_first": 1, "win_last": 1, "last_group": 1}
    if pairs:
        fields.update({"has_b": 1, "o_pos_b": unsigned(act_width), "win_first_b": 1,
                       "win_last_b": 1})
    return data.StructLayout(fields)


class Sequencer(wiring.Component):
    """Address generator of one layer (see the module notes).

    Parameters
    ----------
    desc_layout : StructLayout
        Descriptor layout (:func:`hw.engine.descriptor.descriptor_layout`).
    lanes : int
    widths : dict
        Address widths of the program (``act_addr``, ``w_addr``, ``f_addr``).
    scale_loads : bool
        Issue one scale load per lane at the start of every group (multiplier PE).
    post_rate : int
        Cycles the post-processing unit spends per lane.
    pairs : bool
        Weight reuse: in layers whose descriptor has ``pair``, each tap serves the positions
        ``(y, x)`` and ``(y, x + 1)`` (:func:`hw.engine.program.issues`); ``act_addr`` is the first
        one's address, the second reads ``act_addr + 1``.
    table : StructLayout or None
        The FPGA builds: the position table's entry layout
        (:func:`hw.engine.descriptor.position_layout`; the descriptor then has ``t_base``); the
        set-up reads the entry at ``t_addr`` (``t_en``) and takes two cycles
        (:attr:`setup_cycles`). None: positions counted and clipped here, one set-up cycle.
    table_depth : int
        Entries of the position table (with ``table``).

    Members
    -------
    start : In(1)
        Begin the layer described by ``desc`` (held stable until ``done``).
    desc : In(desc_layout)
    act_addr, w_addr, f_addr : Out
        Activation, weight-word and scale addresses; valid when ``rd_en``.
    rd_en : Out(1)
    op : Out(op_layout)
    meta : Out(meta_layout)
        Valid with ``op.last``.
    busy, done : Out(1)
    has_b : Out(1)
        The current issue is a pair (weight reuse), valid with its taps.
    t_addr, t_en : Out
        With ``table``: the position-table read (synchronous: the entry arrives at ``t_data`` in
        the next cycle).
    t_data : In(table)
    """

    def __init__(self, desc_layout, lanes: int, widths: dict, scale_loads: bool = False,
                 post_rate: int = 1, pairs: bool = False, table=None, table_depth: int = 0):
        self.desc_layout, self.lanes, self.widths = desc_layout, lanes, widths
        self.scale_loads, self.post_rate, self.pairs = scale_loads, post_rate, pairs
        self.table, self.table_depth = table, table_depth
        with checking_parameters(self):
            if table is not None and table_depth < 1:
                raise ValueError(f"table_depth must be >= 1 with a position table, not "
                                 f"{table_depth!r}")
        self.lane_width = max(1, (lanes - 1).bit_length())
        ports = {} if table is None else {"t_addr": Out(range(table_depth)), "t_en": Out(1),
                                          "t_data": In(table)}
        super().__init__({**ports,
            "start": In(1), "desc": In(desc_layout),
            "act_addr": Out(widths["act_addr"]), "w_addr": Out(widths["w_addr"]),
            "f_addr": Out(widths["f_addr"]), "rd_en": Out(1),
            "op": Out(op_layout(self.lane_width, scale_loads, pairs)),
            "meta": Out(meta_layout(widths["f_addr"], widths["act_addr"], pairs)),
            "busy": Out(1), "done": Out(1), "has_b": Out(1),
        })

    @property
    def setup_cycles(self) -> int:
        """Set-up cycles of every output position (issue): 2 with a position table, else 1."""
        return 2 if self.table is not None else 1

    def elaborate(self, platform):
        m = Module()
        d = self.desc
        aw, ww, fw = self.widths["act_addr"], self.widths["w_addr"], self.widths["f_addr"]

        def like(field, name, extra=0):
            return Signal(unsigned(len(getattr(d, field)) + extra), name=name)

        g = like("G", "g")
        py, px = like("PH", "py"), like("PW", "px")
        dy, dx = Signal(name="dy"), Signal(name="dx")
        y, x = like("hp", "y", 1), like("wp", "x", 1)
        yw = like("HW", "yw", 1)
        yk = Signal(unsigned(len(d.hp) + len(d.k) + 1), name="yk")
        pos = like("out_plane", "pos", 1)
        w_grp = Signal(ww, name="w_grp")
        f_grp = Signal(fw, name="f_grp")
        o_grp = Signal(aw, name="o_grp")
        lane = Signal(self.lane_width, name="lane")
        c = like("C", "c")
        ry, rx = like("k", "ry"), like("k", "rx")
        # the last kernel row/column and channel of this position, set in SETUP (compared with
        # the counters as they are: no subtraction between a register and the issue decision)
        nrows_m1, ncols_m1 = like("k", "nrows_m1", 1), like("k", "ncols_m1", 1)
        c_m1 = like("C", "c_m1")
        act, act_row, act_ch = Signal(aw, name="act"), Signal(aw, name="act_row"), Signal(aw, name="act_ch")
        w, w_row, w_ch = Signal(ww, name="w"), Signal(ww, name="w_row"), Signal(ww, name="w_ch")
        n_out = 2 if self.pairs else 1
        spacing = Signal(range(n_out * self.lanes * self.post_rate + 1), name="spacing")

        tab = self.table is not None
        last_group = Signal(name="last_group")
        win_first = Signal(name="win_first")
        win_last = Signal(name="win_last")
        pair = Signal(name="pair")          # this layer issues pairs of positions
        m.d.comb += pair.eq(d.pair if self.pairs else 0)
        if not tab:
            m.d.comb += last_group.eq(g == d.G - 1)
            # a pair of a pooled layer is the two positions of a window row (dx stays 0)
            m.d.comb += [win_first.eq(~dy & ~dx), win_last.eq(~d.pool | (dy & (dx | pair)))]
        a_skip = Signal(name="a_skip")     # the first position's kernel starts one column later
        b_skip = Signal(name="b_skip")     # the second's ends one column earlier
        has_b = Signal(name="pair_has_b")  # the pair has a second position
        m.d.comb += self.has_b.eq(has_b)

        if tab:     # the table's entry, read in the first set-up cycle
            t = self.t_data
            tpos = Signal.like(self.t_addr, name="t_pos")
            o_pos, o_pos_b = Signal(aw, name="o_pos_q"), Signal(aw, name="o_pos_b_q")
            win_last_b = Signal(name="win_last_b_q")
            gap_q = Signal.like(spacing, name="gap_q")    # the spacing after this position
            m.d.comb += [self.t_addr.eq(tpos)]
        else:
            # ---- set-up of a position: clip the kernel window to the image
            ylo = Signal.like(d.pad, name="ylo")
            xlo = Signal.like(d.pad, name="xlo")
            yroom = Signal(unsigned(len(y) + 1), name="yroom")  # hp - y: kernel rows inside
            xroom = Signal(unsigned(len(x) + 1), name="xroom")
            m.d.comb += [
                ylo.eq(Mux(y < d.pad, d.pad - y, 0)),
                xlo.eq(Mux(x < d.pad, d.pad - x, 0)),
                yroom.eq(d.hp - y),
                xroom.eq(d.wp - x),
            ]
            yhi = Mux(yroom < d.k - 1, yroom, d.k - 1)
            xhi = Mux(xroom < d.k - 1, xroom, d.k - 1)
            # a pair's taps: the union of both kernels' columns, from the second position's first
            xlo_u = Signal.like(d.pad, name="xlo_u")
            m.d.comb += xlo_u.eq(Mux(pair, Mux(x + 1 < d.pad, d.pad - x - 1, 0), xlo))
            col0 = Mux(pair & (x + 1 < d.pad), -1, Mux(x < d.pad, Mux(pair, -1, 0), x - d.pad))
            act0 = (d.in_base + Mux(y < d.pad, 0, yw - d.padW) + col0)[:aw]
            w0 = (w_grp + Mux(y < d.pad, d.padk - yk, 0) + xlo_u)[:ww]

        # ---- tap flags and the spacing rule
        # Whether each counter is at its last value is kept in a register, updated with the
        # counter (SETUP, and every issue in TAP): the issue decision and the clock enables it
        # drives start from registers, not from comparators (the engine's critical path).
        rx_end, ry_end, c_end = Signal(name="rx_end"), Signal(name="ry_end"), Signal(name="c_end")
        spacing_nz = Signal(name="spacing_nz")         # spacing != 0
        row_end = rx_end
        ch_end = row_end & ry_end
        if tab:
            last = Signal(name="last_tap")   # = rx_end & ry_end & c_end, kept with them
        else:
            last = ch_end & c_end

        def ends(rx_new, ry_new, c_new, rx_set=None):
            """The end flags' new values (``None``: unchanged), and ``last`` with them
            (``rx_set``: the value an enclosing assignment gives ``rx_end``)."""
            out = [f.eq(v) for f, v in ((rx_end, rx_new), (ry_end, ry_new), (c_end, c_new))
                   if v is not None]
            if tab:
                rx_v = rx_new if rx_new is not None else rx_set
                out.append(last.eq((rx_end if rx_v is None else rx_v)
                                   & (ry_end if ry_new is None else ry_new)
                                   & (c_end if c_new is None else c_new)))
            return out
        # the position's counters change only on its last issue: whether it is the group's
        # final position is decided in SETUP (with the pair flag SETUP sets) and held in a register
        has_b_new = Signal(name="pair_has_b_new")
        if self.pairs and not tab:
            m.d.comb += has_b_new.eq(pair & (d.pool | (px + 1 < d.PW)))
        final_pos = Signal(name="final_pos")
        with m.If(spacing_nz):
            m.d.sync += [spacing.eq(spacing - 1), spacing_nz.eq(spacing != 1)]

        issue = Signal(name="issue")
        m.d.comb += [
            self.act_addr.eq(act), self.w_addr.eq(w), self.f_addr.eq(f_grp + lane),
            self.meta.f_grp.eq(f_grp), self.meta.o_pos.eq(o_pos if tab else o_grp + pos),
            self.meta.win_first.eq(win_first),
            # the first position of a pooled pair never completes its window (the second does;
            # the table's flag is already so)
            self.meta.win_last.eq(win_last if tab else Mux(pair, ~d.pool, win_last)),
            self.meta.last_group.eq(last_group),
            self.op.last.eq(last),
        ]
        if self.pairs:
            m.d.comb += [
                self.meta.has_b.eq(has_b),
                self.meta.o_pos_b.eq(o_pos_b if tab else o_grp + pos + ~d.pool),
                self.meta.win_first_b.eq(~d.pool),
                self.meta.win_last_b.eq(win_last_b if tab else ~d.pool | dy),
                self.op.va.eq(~(a_skip & (rx == 0))),
                self.op.vb.eq(has_b & ~(b_skip & row_end)),
            ]
        if self.scale_loads:
            m.d.comb += self.op.lane.eq(lane)

        def restart_positions():
            if tab:
                return [tpos.eq(d.t_base), lane.eq(0)]
            return [py.eq(0), px.eq(0), dy.eq(0), dx.eq(0), y.eq(0), x.eq(0), yw.eq(0), yk.eq(0),
                    pos.eq(0), lane.eq(0)]

        after_group = "SCALE" if self.scale_loads else "SETUP"
        with m.FSM(name="seq"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += restart_positions() + [g.eq(0), w_grp.eq(d.w_base),
                                                       f_grp.eq(d.f_base), o_grp.eq(d.out_base)]
                    m.next = after_group
            if self.scale_loads:
                with m.State("SCALE"):
                    m.d.comb += [self.busy.eq(1), self.rd_en.eq(1), self.op.load.eq(1)]
                    m.d.sync += lane.eq(lane + 1)
                    with m.If(lane == self.lanes - 1):
                        m.d.sync += lane.eq(0)
                        m.next = "SETUP"
            if tab:
                with m.State("SETUP"):
                    m.d.comb += [self.busy.eq(1), self.t_en.eq(1)]
                    m.next = "SETUP2"
                with m.State("SETUP2"):     # every register of the position from its entry
                    m.d.comb += self.busy.eq(1)
                    c_top = Signal.like(c_m1, name="c_top")
                    w0 = Signal.like(w, name="w0")
                    group_last = Signal(name="group_last")
                    m.d.comb += [c_top.eq(d.C - 1), w0.eq(w_grp + t.w_off),
                                 group_last.eq(g == d.G - 1)]
                    m.d.sync += [
                        c.eq(0), ry.eq(0), rx.eq(0),
                        nrows_m1.eq(t.nrows), ncols_m1.eq(t.ncols), c_m1.eq(c_top),
                        *ends(t.rx_end, t.ry_end, c_top == 0),
                        act.eq(t.act0), act_row.eq(t.act0), act_ch.eq(t.act0),
                        w.eq(w0), w_row.eq(w0), w_ch.eq(w0),
                        final_pos.eq(t.fin), last_group.eq(group_last),
                        win_first.eq(t.wf), win_last.eq(t.wl), o_pos.eq(o_grp + t.o),
                        gap_q.eq(self._gap(m, d, group_last, t.has_b if self.pairs else 0,
                                           spacing)),
                    ]
                    if self.pairs:
                        m.d.sync += [a_skip.eq(t.a_skip), b_skip.eq(t.b_skip), has_b.eq(t.has_b),
                                     o_pos_b.eq(o_grp + t.o + ~d.pool), win_last_b.eq(t.wl_b)]
                    m.next = "TAP"
            else:
                with m.State("SETUP"):
                    m.d.comb += self.busy.eq(1)
                    nrows = Signal.like(nrows_m1, name="nrows")
                    ncols = Signal.like(ncols_m1, name="ncols")
                    c_top = Signal.like(c_m1, name="c_top")
                    m.d.comb += [nrows.eq(yhi - ylo), ncols.eq(xhi - xlo_u), c_top.eq(d.C - 1)]
                    m.d.sync += [
                        c.eq(0), ry.eq(0), rx.eq(0),
                        nrows_m1.eq(nrows), ncols_m1.eq(ncols), c_m1.eq(c_top),
                        *ends(ncols == 0, nrows == 0, c_top == 0),
                        act.eq(act0), act_row.eq(act0), act_ch.eq(act0),
                        w.eq(w0), w_row.eq(w0), w_ch.eq(w0),
                    ]
                    m.d.sync += final_pos.eq((py == d.PH - 1)
                                             & (px + (pair & ~d.pool & has_b_new) == d.PW - 1)
                                             & win_last)
                    if self.pairs:
                        m.d.sync += [a_skip.eq(pair & (x < d.pad)),
                                     b_skip.eq(pair & (xroom < d.k)), has_b.eq(has_b_new)]
                    m.next = "TAP"
            with m.State("TAP"):
                m.d.comb += [self.busy.eq(1), issue.eq(~(last & spacing_nz))]
                m.d.comb += [self.rd_en.eq(issue), self.op.valid.eq(issue)]
                with m.If(issue):
                    m.d.sync += [rx.eq(rx + 1), act.eq(act + 1), w.eq(w + 1),
                                 *ends(rx + 1 == ncols_m1, None, None)]
                    with m.If(row_end):
                        m.d.sync += [rx.eq(0), ry.eq(ry + 1),
                                     *ends(ncols_m1 == 0, ry + 1 == nrows_m1, None),
                                     act_row.eq(act_row + d.W), act.eq(act_row + d.W),
                                     w_row.eq(w_row + d.k), w.eq(w_row + d.k)]
                        with m.If(ch_end):
                            m.d.sync += [ry.eq(0), c.eq(c + 1),
                                         *ends(None, nrows_m1 == 0, c + 1 == c_m1, ncols_m1 == 0),
                                         act_ch.eq(act_ch + d.HW), act_row.eq(act_ch + d.HW),
                                         act.eq(act_ch + d.HW),
                                         w_ch.eq(w_ch + d.kk), w_row.eq(w_ch + d.kk),
                                         w.eq(w_ch + d.kk)]
                    with m.If(last):
                        gap = gap_q if tab else self._gap(m, d, last_group, has_b, spacing)
                        m.d.sync += [spacing.eq(gap), spacing_nz.eq(gap != 0)]
                        m.next = "SETUP"
                        if tab:
                            m.d.sync += tpos.eq(tpos + 1)
                        else:
                            self._advance(m, d, py, px, dy, dx, y, x, yw, yk, pos, pair, has_b)
                        with m.If(final_pos):
                            with m.If(last_group):
                                m.d.comb += self.done.eq(1)
                                m.next = "IDLE"
                            with m.Else():
                                m.d.sync += restart_positions() + [
                                    g.eq(g + 1), w_grp.eq(w_grp + d.K),
                                    f_grp.eq(f_grp + self.lanes), o_grp.eq(o_grp + d.grp_stride)]
                                m.next = after_group
        return m

    def _gap(self, m, d, last_group, has_b, spacing):
        """The spacing the next output's last tap waits for: this output's valid lanes times
        ``post_rate`` (twice for a pair), minus 1."""
        per = Mux(last_group, d.lanes_last, self.lanes) * self.post_rate
        gap = Signal.like(spacing, name="gap")
        m.d.comb += gap.eq((Mux(has_b, per << 1, per) if self.pairs else per) - 1)
        return gap

    def _advance(self, m, d, py, px, dy, dx, y, x, yw, yk, pos, pair, has_b):
        """Next output position (pooling-window order when ``d.pool``; pairs when ``pair``)."""
        def down():
            return [y.eq(y + 1), yw.eq(yw + d.W), yk.eq(yk + d.k)]

        if self.pairs:
            with m.If(pair & d.pool):       # window rows: (dy 0) -> (dy 1) -> next window
                with m.If(~dy):
                    m.d.sync += [dy.eq(1)] + down()
                with m.Else():
                    m.d.sync += [dy.eq(0), pos.eq(pos + 1)]
                    with m.If(px == d.PW - 1):
                        m.d.sync += [px.eq(0), py.eq(py + 1), x.eq(0)] + down()
                    with m.Else():
                        m.d.sync += [px.eq(px + 1), x.eq(x + 2), y.eq(y - 1),
                                     yw.eq(yw - d.W), yk.eq(yk - d.k)]
            with m.Elif(pair):              # row-major pairs; a row of odd width ends with one
                m.d.sync += pos.eq(pos + 1 + has_b)
                with m.If(px + has_b == d.PW - 1):
                    m.d.sync += [px.eq(0), py.eq(py + 1), x.eq(0)] + down()
                with m.Else():
                    m.d.sync += [px.eq(px + 2), x.eq(x + 2)]
            with m.Else():
                self._advance_single(m, d, py, px, dy, dx, y, x, yw, yk, pos, down)
        else:
            self._advance_single(m, d, py, px, dy, dx, y, x, yw, yk, pos, down)

    @staticmethod
    def _advance_single(m, d, py, px, dy, dx, y, x, yw, yk, pos, down):
        """Next single output position (pooling-window order when ``d.pool``)."""
        with m.If(d.pool):
            with m.If(~dx):
                m.d.sync += [dx.eq(1), x.eq(x + 1)]
            with m.Elif(~dy):
                m.d.sync += [dx.eq(0), dy.eq(1), x.eq(x - 1)] + down()
            with m.Else():
                m.d.sync += [dx.eq(0), dy.eq(0), pos.eq(pos + 1)]
                with m.If(px == d.PW - 1):
                    m.d.sync += [px.eq(0), py.eq(py + 1), x.eq(0)] + down()
                with m.Else():
                    m.d.sync += [px.eq(px + 1), x.eq(x + 1), y.eq(y - 1),
                                 yw.eq(yw - d.W), yk.eq(yk - d.k)]
        with m.Else():
            m.d.sync += pos.eq(pos + 1)
            with m.If(px == d.PW - 1):
                m.d.sync += [px.eq(0), py.eq(py + 1), x.eq(0)] + down()
            with m.Else():
                m.d.sync += [px.eq(px + 1), x.eq(x + 1)]
