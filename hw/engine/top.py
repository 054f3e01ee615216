"""The inference engine top: memories, layer sequencing, host streams (Verilog module ``qsq_engine``).

Block diagram::

    pixels ──► act memory (2 regions) ──► act ┐
                  ▲                           ├─► lanes (bucket / multiplier / int8) ─► shadows
    sequencer ──► addresses ──► weight memory ┘        (``lanes`` filters in parallel)     │
       ▲                          (codes)                                                 ▼
    descriptor memory ─► layer registers ─► post-processing: bias, [bucket products],
                                            requantize, pool ──► act memory / logit memory
    config (per-layer truncation) ─► trunc registers               logit memory ─► logits, cls

Energy (``EngineConfig.power``, default ``lean``): every memory read port reads only the words
used, registers load only with valid data (clock enables), the lanes isolate their operands
(``power="fpga"``: all but the bucket adders' isolation, which costs LUTs on an FPGA); with
``EngineConfig.reuse = 2`` each weight word read serves two neighbouring output positions of a
convolution (a second activation read port, two accumulator sets per lane).

One inference: the host streams the image's ``C*H*W`` quantized pixels (C x H x W order) into
region 0; the engine then runs every compute layer in turn -- read its descriptor (2 cycles),
start the sequencer (1 cycle), issue taps, drain the pipeline -- and finally streams the logits
in class order. Cycle counts: :mod:`hw.engine.schedule`.
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .descriptor import (descriptor_layout, descriptor_values, position_entries,
                         position_layout)
from .lanes import ACT_WIDTH, BucketLanes, MACLanes
from .post import PostProcessor
from .program import LOGIT_BITS, EngineProgram
from .sequencer import Sequencer, meta_layout

__all__ = ["QSQEngine", "config_layout", "weight_load_layout", "engine_timing", "DESC_CYCLES"]

#: Cycles from a layer's start to its first set-up cycle: descriptor address, descriptor data,
#: sequencer start.
DESC_CYCLES = 3


def config_layout(prog: EngineProgram) -> data.StructLayout:
    """Payload of the ``config`` stream: a compute layer and its truncation level."""
    tw = max(1, prog.ndigits.bit_length())
    return data.StructLayout({"layer": unsigned(prog.widths["layer"]), "trunc": unsigned(tw)})


def weight_load_layout(prog: EngineProgram) -> data.StructLayout:
    """Payload of the ``weights`` stream (``spram`` engines): one weight word, and ``first`` = 1 on
    the word that (re)starts the memory at address 0."""
    return data.StructLayout({"word": unsigned(prog.weight_bits), "first": unsigned(1)})


class QSQEngine(wiring.Component):
    """A whole-network inference engine for one compiled program.

    Parameters
    ----------
    program : EngineProgram
        The compiled network (:func:`hw.engine.program.compile_program`); its memory images
        initialise the weight, scale, bias and descriptor memories.

    Members
    -------
    pixels : In(stream.Signature(unsigned(8)))
        The image's quantized pixels, C x H x W order; accepted (``ready``) only while idle or
        receiving an image.
    logits : Out(stream.Signature(signed(32)))
        The logits in class order after the network has run; back-pressure by ``ready``.
    weights : In(stream.Signature(weight_load_layout))
        ``spram`` engines only (``EngineConfig.weights``): the weight words in address order,
        ``first`` set on word 0 (which restarts the load); accepted only while idle, one word per
        cycle, and not past the last word until the next ``first``; each is written into the
        memory in the cycle after it is taken.
    loaded : Out(1)
        ``spram`` engines only: 1 once every weight word has been written since the last
        ``first`` (cleared by ``first`` and by ``rst``). Until then ``pixels.ready`` is 0.
    config : In(stream.Signature(config_layout))
        Coded engines only: ``{layer, trunc}`` sets one compute layer's truncation level; accepted
        only while idle (``busy == 0``), used from the next inference on. Levels above the
        multiplier's digit count act as that count (products 0).
    cls : Out(class width)
        Index of the first maximum logit of the last inference; valid from ``done``.
    done : Out(1)
        1 for the one cycle in which the last logit is transferred.
    busy : Out(1)
        0 only while idle (before the first pixel of an image and after ``done``).

    Notes
    -----
    Latency of one inference, with ``pixels.valid`` and ``logits.ready`` held high: ``N`` cycles
    to load ``N`` pixels, :meth:`hw.engine.schedule.compute_cycles` cycles from the last pixel to the
    first logit, one cycle per logit. ``rst`` (synchronous) abandons an inference at any point; the
    engine is then idle, the per-layer truncation levels back at the program's defaults.
    """

    def __init__(self, program: EngineProgram):
        if not isinstance(program, EngineProgram):
            raise TypeError(f"program must be an EngineProgram, not {program!r}")
        self.program = prog = program
        self.desc_layout = descriptor_layout(prog)
        ports = {
            "pixels": In(stream.Signature(unsigned(ACT_WIDTH))),
            "logits": Out(stream.Signature(signed(LOGIT_BITS))),
        }
        if prog.config.weights == "spram":
            ports["weights"] = In(stream.Signature(weight_load_layout(prog)))
            ports["loaded"] = Out(1)
        if prog.config.pe != "int8":
            ports["config"] = In(stream.Signature(config_layout(prog)))
        ports.update({"cls": Out(prog.widths["class"]), "done": Out(1), "busy": Out(1)})
        super().__init__(ports)

    @property
    def timing(self) -> dict:
        """:func:`engine_timing` of this engine's program."""
        return engine_timing(self.program)

    def elaborate(self, platform):
        m = Module()
        prog = self.program
        cfg = prog.config
        w = prog.widths
        coded = cfg.pe != "int8"
        timing = self.timing

        # ---- memories
        m.submodules.act_mem = act_mem = memory.Memory(shape=unsigned(ACT_WIDTH), depth=prog.act_depth,
                                                       init=[])
        spram = cfg.weights == "spram"
        n_words = len(prog.weight_words)
        # An SPRAM has no initial contents: Amaranth still writes an all-zero initialiser, which
        # the FPGA flows delete by this memory's name (hw.flow.engine_synth.SPRAM_UNINIT) so
        # Yosys may map it.
        m.submodules["weight_spram" if spram else "weight_mem"] = w_mem = memory.Memory(
            shape=unsigned(prog.weight_bits), depth=n_words, init=[] if spram else prog.weight_words,
            attrs={"ram_style": "huge"} if spram else None)
        m.submodules.bias_mem = b_mem = memory.Memory(shape=signed(w["bias"]), depth=prog.filters,
                                                      init=prog.biases)
        m.submodules.desc_mem = d_mem = memory.Memory(shape=self.desc_layout, depth=len(prog.layers),
                                                      init=descriptor_values(prog))
        m.submodules.logit_mem = l_mem = memory.Memory(shape=signed(LOGIT_BITS), depth=prog.classes,
                                                       init=[])
        act_rd, act_wr = act_mem.read_port(), act_mem.write_port()
        if cfg.reuse == 2:      # weight reuse: the pair's second position reads its own taps
            act_rd_b = act_mem.read_port()
        w_rd = w_mem.read_port()
        if spram:
            # single port: one address for both ports, and never a read in a write's cycle
            # a word taken from `weights` is written in the next cycle, from registers
            w_wr = w_mem.write_port()
            w_addr = Signal(range(n_words), name="w_addr")
            load_addr = Signal(range(n_words + 1), name="load_addr")
            loaded = Signal(name="loaded_q")
            wr_pending = Signal(name="w_write")
            wr_addr = Signal(range(n_words), name="w_write_addr")
            wr_data = Signal(prog.weight_bits, name="w_write_data")
            m.d.sync += wr_pending.eq(0)
            m.d.comb += [w_rd.addr.eq(w_addr), w_wr.addr.eq(w_addr), self.loaded.eq(loaded),
                         w_wr.en.eq(wr_pending), w_wr.data.eq(wr_data)]
        b_rd = b_mem.read_port()
        d_rd = d_mem.read_port()
        l_rd, l_wr = l_mem.read_port(), l_mem.write_port()
        if coded:
            # a block RAM on an FPGA: Yosys would build this small ROM from LUTs otherwise
            m.submodules.scale_mem = s_mem = memory.Memory(shape=unsigned(prog.codec.scale_bits),
                                                           depth=prog.filters, init=prog.scales,
                                                           attrs={"ram_style": "block"})
            s_rd = s_mem.read_port()

        # ---- units
        lanes, post = _units(prog, self.desc_layout)
        pairs = cfg.reuse == 2
        seq = _sequencer(prog, self.desc_layout, timing["rate"])
        m.submodules.lanes, m.submodules.post, m.submodules.seq = lanes, post, seq
        if seq.table is not None:
            # the FPGA builds: every output position's set-up values (hw.engine.descriptor)
            m.submodules.position_mem = t_mem = memory.Memory(
                shape=seq.table, depth=seq.table_depth, init=position_entries(prog),
                attrs={"ram_style": "block"})
            t_rd = t_mem.read_port()
            m.d.comb += [t_rd.addr.eq(seq.t_addr), t_rd.en.eq(seq.t_en), seq.t_data.eq(t_rd.data)]

        desc = Signal(self.desc_layout, name="desc")
        layer = Signal(w["layer"], name="layer")
        m.d.comb += [seq.desc.eq(desc), post.desc.eq(desc)]

        # Per-layer truncation registers (coded engines), written through `config` while idle.
        if coded:
            tw = len(self.config.payload.trunc)
            nd = prog.ndigits
            trunc_regs = Array(Signal(tw, name=f"trunc{i}", init=min(t, nd))
                               for i, t in enumerate(prog.default_trunc))
            t_cur = Signal(tw, name="trunc_cur")
            t_op = Signal(tw, name="trunc_op")   # clamped to ndigits
            m.d.comb += t_op.eq(Mux(t_cur > nd, nd, t_cur))

        lean = cfg.power != "baseline"
        if lean:
            # Every read port is enabled only in the cycles whose word is used (a read port's
            # enable is 1 unless driven): the descriptor in DESC0, the logits while they stream out.
            m.d.comb += [d_rd.en.eq(0), l_rd.en.eq(0)]

        # ---- tap pipeline: issue (S0) -> memory data (S1) [-> register (S2), FPGA] -> lanes
        tap_rd = seq.op.valid if lean else seq.rd_en
        # with pairs, each position's activation port reads only the taps that position uses
        rd_a, rd_b = (tap_rd & seq.op.va, tap_rd & seq.op.vb) if pairs and lean else (tap_rd,) * 2
        m.d.comb += [act_rd.addr.eq(seq.act_addr), act_rd.en.eq(rd_a)]
        if spram:
            m.d.comb += [w_addr.eq(Mux(wr_pending, wr_addr, seq.w_addr)),
                         w_rd.en.eq(tap_rd & ~wr_pending)]
        else:
            m.d.comb += [w_rd.addr.eq(seq.w_addr), w_rd.en.eq(tap_rd)]
        if pairs:
            m.d.comb += [act_rd_b.addr.eq(seq.act_addr + 1), act_rd_b.en.eq(rd_b)]
        op1 = Signal.like(seq.op, name="op_s1")
        m.d.sync += op1.eq(seq.op)
        data1 = {"act": act_rd.data, "word": w_rd.data}
        if pairs:
            data1["act_b"] = act_rd_b.data
        if cfg.pe == "multiplier":
            data1["scale"] = s_rd.data
        if _tap_stages(cfg) == 2:
            # the FPGA builds: the memories' data (a multiplexer across block RAMs when a memory
            # spans several) is registered before the lanes' adders, the bucket PE's negated
            # activations with it
            if cfg.pe == "bucket" and lanes.negated:
                for k in _NEGATED:
                    if k in data1:
                        data1[f"{k}_neg"] = -data1[k]
            op2 = Signal.like(seq.op, name="op_s2")
            m.d.sync += op2.eq(op1)
            with m.If(op1.valid | op1.load if cfg.pe == "multiplier" else op1.valid):
                for k, v in data1.items():
                    r = Signal.like(v, name=f"{k}_s2")
                    m.d.sync += r.eq(v)
                    data1[k] = r
            op1 = op2
        m.d.comb += [lanes.valid.eq(op1.valid), lanes.last.eq(op1.last),
                     lanes.act.eq(data1["act"]), lanes.word.eq(data1["word"]),
                     lanes.next.eq(post.next) if lanes.chain else lanes.sel.eq(post.sel)]
        if pairs:
            m.d.comb += [lanes.act_b.eq(data1["act_b"]), lanes.va.eq(op1.va), lanes.vb.eq(op1.vb),
                         lanes.half.eq(post.half)]
        for k in _NEGATED:
            if f"{k}_neg" in data1:
                m.d.comb += getattr(lanes, f"{k}_neg").eq(data1[f"{k}_neg"])
        if cfg.pe == "multiplier":
            m.d.comb += [s_rd.addr.eq(seq.f_addr), s_rd.en.eq(seq.rd_en & seq.op.load),
                         lanes.load.eq(op1.load), lanes.lane.eq(op1.lane),
                         lanes.scale.eq(data1["scale"]), lanes.trunc.eq(t_op)]
        # The output's destination travels beside its taps to the handoff; each stage loads only
        # when the stage before it holds an output's last tap.
        meta, held = seq.meta, seq.op.valid & seq.op.last
        for s in range(timing["pe"]):
            nxt = Signal(meta_layout(w["f_addr"], w["act_addr"], pairs), name=f"meta_d{s}")
            nxt_held = Signal(name=f"meta_v{s}")
            with m.If(held if lean else 1):
                m.d.sync += nxt.eq(meta)
            m.d.sync += nxt_held.eq(held)
            meta, held = nxt, nxt_held
        m.d.comb += [post.handoff.eq(lanes.handoff), post.meta.eq(meta), post.result.eq(lanes.result)]

        # ---- post-processing reads and writes
        m.d.comb += [b_rd.addr.eq(post.f_addr), b_rd.en.eq(post.f_en), post.bias.eq(b_rd.data)]
        if cfg.pe == "bucket":
            m.d.comb += [s_rd.addr.eq(post.f_addr), s_rd.en.eq(post.f_en), post.scale.eq(s_rd.data),
                         post.trunc.eq(t_op)]
        m.d.comb += [l_wr.addr.eq(post.logit_addr), l_wr.data.eq(post.logit_data),
                     l_wr.en.eq(post.logit_we)]

        # ---- control
        n_pix = prog.input_size
        pix_cnt = Signal(range(max(2, n_pix)), name="pix_count")
        drain = Signal(range(timing["pe"] + cfg.reuse * cfg.lanes * timing["rate"]
                             + timing["post"] + 2), name="drain")
        out_idx = Signal(range(prog.classes + 1), name="out_index")
        cls = Signal.like(self.cls, name="cls_q")
        m.d.comb += self.cls.eq(cls)
        m.d.comb += [act_wr.addr.eq(post.act_waddr), act_wr.data.eq(post.act_wdata),
                     act_wr.en.eq(post.act_we)]
        last_layer = layer == len(prog.layers) - 1

        with m.FSM(name="engine"):
            with m.State("IDLE"):
                if spram:
                    ld = self.weights
                    start = ld.payload.first
                    m.d.comb += [self.pixels.ready.eq(loaded),
                                 ld.ready.eq(start | (load_addr != n_words))]
                    with m.If(ld.valid & ld.ready):
                        at = Mux(start, 0, load_addr)
                        m.d.sync += [wr_pending.eq(1), wr_addr.eq(at), wr_data.eq(ld.payload.word),
                                     load_addr.eq(at + 1), loaded.eq(at == n_words - 1)]
                else:
                    m.d.comb += self.pixels.ready.eq(1)
                if coded:
                    m.d.comb += self.config.ready.eq(1)
                    with m.If(self.config.valid & (self.config.payload.layer < len(prog.layers))):
                        m.d.sync += trunc_regs[self.config.payload.layer].eq(self.config.payload.trunc)
                with m.If(self.pixels.valid & self.pixels.ready):
                    m.d.comb += [act_wr.addr.eq(0), act_wr.data.eq(self.pixels.payload), act_wr.en.eq(1)]
                    m.d.sync += [pix_cnt.eq(1), layer.eq(0)]
                    m.next = "LOAD" if n_pix > 1 else "DESC0"
            with m.State("LOAD"):
                m.d.comb += [self.busy.eq(1), self.pixels.ready.eq(1)]
                with m.If(self.pixels.valid):
                    m.d.comb += [act_wr.addr.eq(pix_cnt), act_wr.data.eq(self.pixels.payload),
                                 act_wr.en.eq(1)]
                    m.d.sync += pix_cnt.eq(pix_cnt + 1)
                    with m.If(pix_cnt == n_pix - 1):
                        m.next = "DESC0"
            with m.State("DESC0"):
                m.d.comb += [self.busy.eq(1), d_rd.addr.eq(layer), d_rd.en.eq(1)]
                m.next = "DESC1"
            with m.State("DESC1"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += desc.eq(d_rd.data)
                if coded:
                    m.d.sync += t_cur.eq(trunc_regs[layer])
                m.next = "GO"
            with m.State("GO"):
                m.d.comb += [self.busy.eq(1), seq.start.eq(1)]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.busy.eq(1)
                with m.If(seq.done):
                    last_outs = desc.lanes_last * timing["rate"]
                    if pairs:   # the layer's last issue may be a pair: twice the outputs
                        last_outs = Mux(seq.has_b, last_outs << 1, last_outs)
                    m.d.sync += drain.eq(timing["pe"] + last_outs + timing["post"])
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 1):
                    with m.If(last_layer):
                        m.d.sync += [cls.eq(post.best), out_idx.eq(0)]
                        m.next = "OUT"
                    with m.Else():
                        m.d.sync += layer.eq(layer + 1)
                        m.next = "DESC0"
            with m.State("OUT"):
                # A one-entry output register in front of the logit memory's read port.
                m.d.comb += self.busy.eq(1)
                take = self.logits.valid & self.logits.ready
                room = ~self.logits.valid | self.logits.ready
                more = out_idx < prog.classes
                m.d.comb += [l_rd.addr.eq(out_idx), l_rd.en.eq(room & more)]
                with m.If(room & more):
                    m.d.sync += [out_idx.eq(out_idx + 1), self.logits.valid.eq(1)]
                with m.Elif(take):
                    m.d.sync += self.logits.valid.eq(0)
                with m.If(take & ~more):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        # 0 while no logit is offered: the read register is loaded only while the logits stream
        # out, so it has no defined value before the first inference.
        m.d.comb += self.logits.payload.eq(Mux(self.logits.valid, l_rd.data, 0))
        return m


def _units(prog: EngineProgram, desc_layout):
    cfg = prog.config
    lean, pairs = cfg.power != "baseline", cfg.reuse == 2
    widths = prog.widths
    if cfg.pe == "bucket":
        width = prog.widths["bucket"]
        if cfg.fpga:    # each bucket as wide as the compiled network needs
            width = prog.bucket_widths()
            widths = {**widths, "bucket": max(width)}
        lanes = BucketLanes(cfg.lanes, prog.codec, width, cfg.gating,
                            lean=cfg.power == "lean", pairs=pairs, chain=cfg.fpga,
                            negated=cfg.fpga)
    else:
        lanes = MACLanes(cfg.lanes, cfg.pe, prog.codec or _INT8_CODEC, prog.widths["acc"],
                         cfg.gating, cfg.recode, lean=lean, pairs=pairs, chain=cfg.fpga)
    post = PostProcessor(cfg.pe, cfg.lanes, prog.codec, desc_layout, widths, cfg.products,
                         lean=lean, pairs=pairs, fpga=cfg.fpga)
    return lanes, post


#: The activations whose negations the FPGA builds register for the bucket lanes
#: (:class:`BucketLanes` ``negated``: ports ``act_neg``, ``act_b_neg``).
_NEGATED = ("act", "act_b")


def _tap_stages(cfg) -> int:
    """Cycles from a tap's issue to the lanes' inputs: the memory read (1), and in the FPGA
    builds a register on the memories' data (2)."""
    return 2 if cfg.fpga else 1


def _sequencer(prog: EngineProgram, desc_layout, rate: int) -> Sequencer:
    cfg = prog.config
    table = {"table": position_layout(prog), "table_depth": len(position_entries(prog))} \
        if cfg.fpga else {}
    return Sequencer(desc_layout, cfg.lanes, prog.widths, scale_loads=cfg.pe == "multiplier",
                     post_rate=rate, pairs=cfg.reuse == 2, **table)


def engine_timing(prog: EngineProgram) -> dict:
    """Pipeline constants of the engine for ``prog``, read from its units' latency properties.

    ``pe``: cycles from a tap's issue to the handoff of its output (memory read, in the FPGA
    builds a register on its data, lanes);
    ``post``: cycles from a lane's read by the post-processing unit to its write;
    ``desc``: cycles from a layer's start to the sequencer's first cycle;
    ``scale_loads``: whether every group starts with ``lanes`` scale loads (multiplier PE);
    ``rate``: cycles the post-processing unit spends per lane;
    ``setup``: set-up cycles of every output position (the sequencer's ``setup_cycles``).
    """
    from .._component import not_elaborated

    layout = descriptor_layout(prog)
    lanes, post = _units(prog, layout)
    seq = _sequencer(prog, layout, post.rate)
    not_elaborated(lanes, post, seq)
    return {"pe": _tap_stages(prog.config) + lanes.latency, "post": post.latency,
            "desc": DESC_CYCLES,
            "scale_loads": prog.config.pe == "multiplier", "rate": post.rate,
            "setup": seq.setup_cycles}


class _Int8Codec:
    """Stand-in codec fields for the INT8 lanes (they read 8-bit weights, no codes)."""

    code_bits = 8
    scale_bits = 7
    max_index = 0
    weight_width = 8


_INT8_CODEC = _Int8Codec()
