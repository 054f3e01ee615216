"""The protocol engine between the UART's byte streams and the inference engine's streams.

:class:`UARTBridge` parses request frames of :mod:`hw.boards.protocol` byte by byte as they
arrive and answers each with one reply frame:

* ``INFER`` -- the payload bytes go straight to the engine's ``pixels`` stream as they arrive (no
  image buffer); the reply's logits are taken from the engine's ``logits`` stream one at a time
  and sent least significant byte first, then the engine's ``cls``. If the frame turns out bad
  after pixels have gone to the engine (a CRC error, or a timeout part way), the bridge completes
  the image with zero pixels, drains the logits and sends the error reply, so the engine is idle
  again and the host's next request finds it ready.
* ``TRUNC`` -- the levels are held in registers until the CRC has been checked, then written to
  the engine's ``config`` stream one compute layer at a time.
* ``INFO`` -- constant bytes (:func:`hw.boards.model.board_info` of the program), but for
  ``loaded``.
* ``LOAD`` (``spram`` engines) -- the program id and chunk index are checked as they arrive; the
  chunk's words then go to the engine's ``weights`` stream as their last byte arrives, and into a
  running CRC-16 of the image, which the last chunk compares with the program's. The bridge keeps
  the LOAD state (``loaded``, the next chunk): INFER is refused until a whole image has loaded, and
  any failed LOAD clears it.

Receive states run an inter-byte timer: a frame whose next byte does not come within
``timeout`` cycles is abandoned with a ``TIMEOUT`` error reply. The protocol's constants (SYNC,
commands, error codes, the CRC) come from :mod:`hw.boards.protocol`; the reply of every byte
sequence is that of :class:`hw.boards.model.BoardModel`.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden_model.config import check_int

from .._component import checking_parameters
from . import protocol as P
from .model import MAX_CHUNK_WORDS, board_info, load_image

__all__ = ["UARTBridge", "crc8_next", "crc16_next", "MAX_TIMEOUT"]

#: Longest inter-byte timeout, in clock cycles.
MAX_TIMEOUT = 1 << 32


def crc8_next(crc, byte):
    """The CRC-8 of :func:`hw.boards.protocol.crc8` after one more byte (combinational).

    The CRC is linear over GF(2): each output bit is the XOR of the bits of ``crc ^ byte`` whose
    one-hot byte's CRC has that bit set (the columns come from :func:`hw.boards.protocol.crc8`).
    """
    x = crc ^ byte
    cols = [P.crc8(bytes([1 << i])) for i in range(8)]
    return Cat(*(_xor([x[i] for i in range(8) if cols[i] >> j & 1]) for j in range(8)))


def crc16_next(crc, byte):
    """The CRC-16 of :func:`hw.boards.protocol.crc16` after one more byte (combinational).

    Without its initial value the update is linear in ``(crc, byte)``: each output bit is the
    XOR of the input bits whose one-hot update has that bit set."""
    ins = [(crc[i], P.crc16(b"\0", 1 << i)) for i in range(16)]
    ins += [(byte[i], P.crc16(bytes([1 << i]), 0)) for i in range(8)]
    return Cat(*(_xor([b for b, col in ins if col >> j & 1]) for j in range(16)))


def _xor(bits):
    out = Const(0, 1)
    for b in bits:
        out = out ^ b
    return out


class UARTBridge(wiring.Component):
    """Frames in, engine transfers, frames out.

    Parameters
    ----------
    program : EngineProgram
        The engine's compiled program (sizes and the INFO reply).
    timeout : int
        Inter-byte timeout of a frame, in clock cycles (1 .. :data:`MAX_TIMEOUT`).
    max_chunk : int
        Most weight words per LOAD chunk (:data:`hw.boards.model.MAX_CHUNK_WORDS`).

    Members
    -------
    rx : In(stream.Signature(unsigned(8)))
        Received bytes (from :class:`hw.boards.uart.UARTRx`); always ready.
    tx : Out(stream.Signature(unsigned(8)))
        Reply bytes (to :class:`hw.boards.uart.UARTTx`).
    pixels, logits, config, weights
        The engine's streams, flipped (``config`` only for coded engines, ``weights`` only for
        ``spram`` engines).
    cls : In(class width)
        The engine's class output.
    active : Out(1)
        1 while a frame is received, executed or answered.
    failed : Out(1)
        1 from an error reply to the next good reply.

    Notes
    -----
    The bridge holds ``pixels.valid`` (from a register, the cycle after the byte) for one cycle
    per received byte and relies on the engine taking it at once, which the engine does while
    idle or loading -- the only time the bridge sends pixels. Likewise a LOAD's weight word is
    offered for one cycle, from registers, the cycle after its last byte; the engine is idle
    then. The LOAD checks read registers updated a cycle after the byte that changes them (the
    UART delivers a byte at most every 10 bit periods, 40 cycles or more). Throughput is the
    line's: one inference per ``frame_bytes(C*H*W)`` bytes in and ``frame_bytes(4*classes+1)``
    bytes out, plus the engine's compute cycles.
    """

    def __init__(self, program, timeout: int, max_chunk: int = MAX_CHUNK_WORDS):
        from hw.engine.program import EngineProgram
        from hw.engine.top import config_layout, weight_load_layout

        with checking_parameters(self):
            if not isinstance(program, EngineProgram):
                raise TypeError(f"program must be an EngineProgram, not {program!r}")
            self.timeout = check_int("timeout", timeout, 1, MAX_TIMEOUT)
            self.info = board_info(program, max_chunk)
        self.program = program
        ports = {
            "rx": In(stream.Signature(unsigned(8))),
            "tx": Out(stream.Signature(unsigned(8))),
            "pixels": Out(stream.Signature(unsigned(8))),
            "logits": In(stream.Signature(signed(32))),
        }
        if program.config.pe != "int8":
            ports["config"] = Out(stream.Signature(config_layout(program)))
        if self.info.chunk_words:
            ports["weights"] = Out(stream.Signature(weight_load_layout(program)))
        ports.update({"cls": In(program.widths["class"]), "active": Out(1), "failed": Out(1)})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        info = self.info
        coded = info.pe != "int8"
        layers, classes, n_pix = info.layers, info.classes, info.input_size
        info_bytes = info.encode()
        loaded_at = len(info_bytes) - layers - 1    # INFO's `loaded`: before the reset levels
        err_code = {name: code for code, name in P.ERRORS.items()}

        byte = self.rx.payload
        got = self.rx.valid
        m.d.comb += self.rx.ready.eq(1)

        cmd = Signal(8, name="cmd")
        length = Signal(16, name="length")
        count = Signal(16, name="count")          # payload bytes still to come / to pad
        crc = Signal(8, name="rx_crc")
        err = Signal(range(max(P.ERRORS) + 1), name="err")
        idx = Signal(range(max(layers, len(info_bytes), 2) + 1), name="index")
        fed = Signal(name="fed")                  # pixels of this frame went to the engine
        infer_ok = Signal(name="infer_ok")
        trunc_ok = Signal(name="trunc_ok")
        bad_value = Signal(name="bad_value")
        timer = Signal(range(self.timeout + 1), name="timer")
        if coded:
            tw = len(self.config.payload.trunc)
            levels = Array(Signal(tw, name=f"level{i}") for i in range(layers))
        # LOAD state (spram engines): whether a whole image has loaded, the chunk expected next
        loadable = info.chunk_words > 0
        wt_ok = Signal(name="weights_ok", init=int(not loadable))
        if loadable:
            prog = self.program
            n_words, nb, n_chunks = info.weight_words, info.word_bytes, info.chunks
            image_crc = P.crc16(load_image(prog))
            id_bytes = Array(Const(b, 8) for b in info.program_id.to_bytes(4, "little"))
            load_ok = Signal(name="load_ok")           # LEN is right for a LOAD
            next_chunk = Signal(range(max(2, n_chunks)), name="next_chunk")
            hdr = Signal(range(P.LOAD_HEADER_BYTES + 1), name="load_header")
            chunk = Signal(16, name="chunk")
            id_bad = Signal(name="id_bad")
            chunk_bad = Signal(name="chunk_bad")
            wbyte = Signal(range(max(2, nb)), name="word_byte")
            # the word's earlier bytes (none when a word is one byte)
            wbuf = Signal(8 * (nb - 1), name="word_bytes") if nb > 1 else None
            wcount = Signal(range(n_words + 1), name="words_sent")
            wcrc = Signal(16, name="image_crc")
            # Both from registers a cycle old (the next byte is a character time away): whether
            # the next payload byte belongs to a word to store, and the LOAD's own error (0: none),
            # read when the frame's CRC byte arrives.
            store = Signal(name="load_store")
            m.d.sync += store.eq(load_ok & (hdr == P.LOAD_HEADER_BYTES) & ~id_bad & ~chunk_bad
                                 & (wcount != n_words))
            load_err = Signal.like(err, name="load_err")
            m.d.sync += load_err.eq(Mux(chunk_bad, err_code["BAD_VALUE"],
                                        Mux(id_bad, err_code["WRONG_PROGRAM"],
                                            Mux((chunk == n_chunks - 1) & (wcrc != image_crc),
                                                err_code["BAD_CRC"], 0))))

        # reply side
        code = Signal(8, name="reply_cmd")
        rlen = Signal(16, name="reply_len")
        tcrc = Signal(8, name="tx_crc")
        hidx = Signal(2, name="header_index")
        logit = Signal(32, name="logit")
        nlog = Signal(range(classes + 1), name="logits_sent")
        bsel = Signal(2, name="logit_byte")
        sent = self.tx.valid & self.tx.ready
        rx_crc_next = Signal(8, name="rx_crc_next")
        tx_crc_next = Signal(8, name="tx_crc_next")
        m.d.comb += [rx_crc_next.eq(crc8_next(crc, byte)),
                     tx_crc_next.eq(crc8_next(tcrc, self.tx.payload))]

        def inter_byte_timer():
            """In a receive state: restart on a byte, abandon the frame when the timer expires."""
            with m.If(got):
                m.d.sync += timer.eq(0)
            with m.Elif(timer == self.timeout - 1):
                m.next = "TIMEOUT"
            with m.Else():
                m.d.sync += timer.eq(timer + 1)

        # a pixel or a weight word is offered for one cycle, from registers (the engine takes it)
        m.d.sync += self.pixels.valid.eq(0)
        if loadable:
            m.d.sync += self.weights.valid.eq(0)
        with m.FSM(name="bridge") as fsm:
            with m.State("IDLE"):
                with m.If(got & (byte == P.SYNC)):
                    m.d.sync += [cmd.eq(0), crc.eq(0), err.eq(0), fed.eq(0), bad_value.eq(0),
                                 idx.eq(0), timer.eq(0), infer_ok.eq(0), trunc_ok.eq(0)]
                    if loadable:
                        m.d.sync += [load_ok.eq(0), hdr.eq(0), id_bad.eq(0), chunk_bad.eq(0),
                                     wbyte.eq(0)]
                    m.next = "CMD"
            with m.State("CMD"):
                inter_byte_timer()
                with m.If(got):
                    m.d.sync += [cmd.eq(byte), crc.eq(rx_crc_next)]
                    m.next = "LEN0"
            with m.State("LEN0"):
                inter_byte_timer()
                with m.If(got):
                    m.d.sync += [length[:8].eq(byte), crc.eq(rx_crc_next)]
                    m.next = "LEN1"
            with m.State("LEN1"):
                inter_byte_timer()
                new_len = Signal(16, name="new_len")
                m.d.comb += new_len.eq(Cat(length[:8], byte))
                with m.If(got):
                    m.d.sync += [length.eq(new_len), count.eq(new_len), crc.eq(rx_crc_next)]
                    with m.Switch(cmd):
                        with m.Case(P.CMD_INFO):
                            with m.If(new_len != 0):
                                m.d.sync += err.eq(err_code["BAD_LENGTH"])
                        with m.Case(P.CMD_TRUNC):
                            if not coded:
                                m.d.sync += err.eq(err_code["UNSUPPORTED"])
                            else:
                                with m.If(new_len != layers):
                                    m.d.sync += err.eq(err_code["BAD_LENGTH"])
                                with m.Else():
                                    m.d.sync += trunc_ok.eq(1)
                        with m.Case(P.CMD_INFER):
                            with m.If(new_len != n_pix):
                                m.d.sync += err.eq(err_code["BAD_LENGTH"])
                            with m.Elif(~wt_ok):
                                m.d.sync += err.eq(err_code["NOT_LOADED"])
                            with m.Else():
                                m.d.sync += infer_ok.eq(1)
                        with m.Case(P.CMD_LOAD):
                            if not loadable:
                                m.d.sync += err.eq(err_code["UNSUPPORTED"])
                            else:
                                with m.If(new_len != info.load_payload_bytes):
                                    m.d.sync += err.eq(err_code["BAD_LENGTH"])
                                with m.Else():
                                    m.d.sync += load_ok.eq(1)
                        with m.Default():
                            m.d.sync += err.eq(err_code["BAD_COMMAND"])
                    with m.If(new_len == 0):
                        m.next = "CRC"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                inter_byte_timer()
                with m.If(got):
                    m.d.sync += [crc.eq(rx_crc_next), count.eq(count - 1), idx.eq(idx + 1)]
                    with m.If(infer_ok):
                        m.d.sync += [self.pixels.valid.eq(1), self.pixels.payload.eq(byte)]
                        m.d.sync += fed.eq(1)
                    if coded:
                        with m.If(trunc_ok):
                            m.d.sync += levels[idx].eq(byte)
                            with m.If(byte > info.ndigits):
                                m.d.sync += bad_value.eq(1)
                    if loadable:
                        with m.If(load_ok):
                            self._load_byte(m, byte, hdr, id_bytes, id_bad, chunk, chunk_bad,
                                            next_chunk, n_chunks, wt_ok, wbyte, wbuf, wcount,
                                            wcrc, n_words, nb, store)
                    with m.If(count == 1):
                        m.next = "CRC"
            with m.State("CRC"):
                inter_byte_timer()
                with m.If(got):
                    with m.If((err == 0) & (byte != crc)):
                        m.d.sync += err.eq(err_code["BAD_CRC"])
                    with m.Elif((err == 0) & bad_value):
                        m.d.sync += err.eq(err_code["BAD_VALUE"])
                    if loadable:
                        with m.Elif((err == 0) & load_ok):
                            m.d.sync += err.eq(load_err)
                    m.next = "EXEC"
            with m.State("TIMEOUT"):
                with m.If(err == 0):
                    m.d.sync += err.eq(err_code["TIMEOUT"])
                m.next = "EXEC"
            with m.State("EXEC"):
                m.d.sync += [idx.eq(0), hidx.eq(0), tcrc.eq(0), nlog.eq(0), bsel.eq(0)]
                if loadable:
                    with m.If(cmd == P.CMD_LOAD):
                        with m.If(err != 0):          # a failed LOAD: no weights, restart at 0
                            m.d.sync += [wt_ok.eq(0), next_chunk.eq(0)]
                        with m.Elif(chunk == n_chunks - 1):
                            m.d.sync += [wt_ok.eq(1), next_chunk.eq(0)]
                        with m.Else():
                            m.d.sync += next_chunk.eq(chunk + 1)
                with m.If(err != 0):
                    m.d.sync += [code.eq(P.CMD_ERROR), rlen.eq(2)]
                    with m.If(fed):
                        m.next = "PAD"
                    with m.Else():
                        m.next = "HEADER"
                with m.Elif(cmd == P.CMD_INFO):
                    m.d.sync += [code.eq(P.REPLY[P.CMD_INFO]), rlen.eq(len(info_bytes))]
                    m.next = "HEADER"
                with m.Elif(cmd == P.CMD_TRUNC):
                    m.d.sync += [code.eq(P.REPLY[P.CMD_TRUNC]), rlen.eq(0)]
                    m.next = "APPLY"
                with m.Elif(cmd == P.CMD_LOAD):
                    m.d.sync += [code.eq(P.REPLY[P.CMD_LOAD]), rlen.eq(0)]
                    m.next = "HEADER"
                with m.Else():
                    m.d.sync += [code.eq(P.REPLY[P.CMD_INFER]), rlen.eq(4 * classes + 1)]
                    m.next = "HEADER"
            with m.State("PAD"):                      # complete a broken image with zeros
                with m.If(count != 0):
                    m.d.sync += [self.pixels.valid.eq(1), self.pixels.payload.eq(0),
                                 count.eq(count - 1)]
                with m.Else():
                    m.next = "DRAIN"
            with m.State("DRAIN"):                    # take the broken image's logits
                m.d.comb += self.logits.ready.eq(1)
                with m.If(self.logits.valid):
                    m.d.sync += nlog.eq(nlog + 1)
                    with m.If(nlog == classes - 1):
                        m.next = "HEADER"
            with m.State("APPLY"):                    # TRUNC: one config transfer per layer
                if coded:
                    m.d.comb += [self.config.valid.eq(1), self.config.payload.layer.eq(idx),
                                 self.config.payload.trunc.eq(levels[idx])]
                    with m.If(self.config.ready):
                        m.d.sync += idx.eq(idx + 1)
                        with m.If(idx == layers - 1):
                            m.d.sync += idx.eq(0)
                            m.next = "HEADER"
                else:
                    m.next = "HEADER"
            with m.State("HEADER"):                   # SYNC, CMD, LEN
                m.d.comb += [self.tx.valid.eq(1),
                             self.tx.payload.eq(Array([Const(P.SYNC, 8), code, rlen[:8],
                                                       rlen[8:]])[hidx])]
                with m.If(sent):
                    m.d.sync += hidx.eq(hidx + 1)
                    with m.If(hidx != 0):
                        m.d.sync += tcrc.eq(tx_crc_next)
                    with m.If(hidx == 3):
                        with m.If(code == P.CMD_ERROR):
                            m.next = "SMALL"
                        with m.Elif(code == P.REPLY[P.CMD_INFO]):
                            m.next = "SMALL"
                        with m.Elif(code == P.REPLY[P.CMD_INFER]):
                            m.next = "LOGIT_GET"
                        with m.Else():
                            m.next = "CHECK"
            with m.State("SMALL"):                    # error or INFO payload
                small = Signal(8, name="small_byte")
                with m.If(code == P.CMD_ERROR):
                    m.d.comb += small.eq(Mux(idx == 0, err, cmd))
                with m.Else():
                    with m.Switch(idx):
                        for i, b in enumerate(info_bytes):
                            with m.Case(i):
                                m.d.comb += small.eq(wt_ok if i == loaded_at else b)
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(small)]
                with m.If(sent):
                    m.d.sync += [idx.eq(idx + 1), tcrc.eq(tx_crc_next)]
                    with m.If(idx == rlen - 1):
                        m.next = "CHECK"
            with m.State("LOGIT_GET"):
                m.d.comb += self.logits.ready.eq(1)
                with m.If(self.logits.valid):
                    m.d.sync += [logit.eq(self.logits.payload), nlog.eq(nlog + 1), bsel.eq(0)]
                    m.next = "LOGIT_SEND"
            with m.State("LOGIT_SEND"):
                lb = Array([logit[8 * i:8 * i + 8] for i in range(4)])[bsel]
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(lb)]
                with m.If(sent):
                    m.d.sync += [bsel.eq(bsel + 1), tcrc.eq(tx_crc_next)]
                    with m.If(bsel == 3):
                        with m.If(nlog == classes):
                            m.next = "CLASS"
                        with m.Else():
                            m.next = "LOGIT_GET"
            with m.State("CLASS"):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(self.cls)]
                with m.If(sent):
                    m.d.sync += tcrc.eq(tx_crc_next)
                    m.next = "CHECK"
            with m.State("CHECK"):                    # the reply's CRC
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(tcrc)]
                with m.If(sent):
                    m.d.sync += self.failed.eq(code == P.CMD_ERROR)
                    m.next = "IDLE"
        m.d.comb += self.active.eq(~fsm.ongoing("IDLE"))
        return m

    def _load_byte(self, m, byte, hdr, id_bytes, id_bad, chunk, chunk_bad, next_chunk, n_chunks,
                   wt_ok, wbyte, wbuf, wcount, wcrc, n_words, nb, store):
        """One LOAD payload byte: program id, chunk index, then the words (to the engine)."""
        with m.If(store):                              # a byte of a stored word
            m.d.sync += wcrc.eq(crc16_next(wcrc, byte))
            with m.If(wbyte == nb - 1):              # offered in the next cycle, from registers
                word = Cat(wbuf, byte) if nb > 1 else byte
                m.d.sync += [self.weights.valid.eq(1),
                             self.weights.payload.word.eq(word[:len(self.weights.payload.word)]),
                             self.weights.payload.first.eq(wcount == 0),
                             wcount.eq(wcount + 1), wbyte.eq(0)]
            with m.Else():
                m.d.sync += wbyte.eq(wbyte + 1)
                if nb > 1:
                    m.d.sync += wbuf.eq(Cat(wbuf[8:], byte))
        with m.Elif(hdr < 4):                          # program id, least significant byte first
            m.d.sync += hdr.eq(hdr + 1)
            with m.If(byte != id_bytes[hdr[:2]]):
                m.d.sync += id_bad.eq(1)
        with m.Elif(hdr == 4):
            m.d.sync += [hdr.eq(5), chunk[:8].eq(byte)]
        with m.Elif(hdr == 5):
            c = Cat(chunk[:8], byte)
            bad = c.any() & ((c != next_chunk) | (c >= n_chunks))
            m.d.sync += [hdr.eq(6), chunk.eq(c), chunk_bad.eq(bad)]
            with m.If(~bad & ~id_bad & ~c.any()):      # chunk 0 restarts the load
                m.d.sync += [wcount.eq(0), wcrc.eq(0xFFFF), wt_ok.eq(0)]
