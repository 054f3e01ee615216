"""Reference model of a board's replies: what the gateware answers to any byte sequence.

:class:`BoardModel` runs the protocol of :mod:`hw.boards.protocol` in Python over a compiled
program, with the engine's memory-level model (:func:`hw.engine.reference.run_program`) for the
logits, so a bench can require the RTL's reply bytes to equal the model's for every request --
good frames and broken ones alike. :func:`board_info` and :func:`program_id` give the INFO reply's
contents, which the gateware holds as constants.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from . import protocol as P

__all__ = ["program_id", "board_info", "BoardModel"]


def program_id(prog) -> int:
    """CRC-32 of what identifies a compiled program: engine configuration, input shape, classes,
    weight words, scales, biases and reset levels (the INFO reply's ``program_id``)."""
    h = zlib.crc32(f"{prog.config.tag()}|{prog.input_shape}|{prog.classes}".encode())
    for name, vals in (("weights", prog.weight_words), ("scales", prog.scales),
                       ("biases", prog.biases), ("trunc", prog.default_trunc)):
        h = zlib.crc32(f"|{name}:".encode() + ",".join(str(int(v)) for v in vals).encode(), h)
    return h


def board_info(prog) -> P.BoardInfo:
    """The INFO reply of a board running ``prog``."""
    coded = prog.config.pe != "int8"
    layers = len(prog.layers)
    levels = tuple(min(int(t), prog.ndigits) for t in prog.default_trunc) if coded else (0,) * layers
    return P.BoardInfo(version=P.PROTOCOL_VERSION, pe=prog.config.pe, lanes=prog.config.lanes,
                       layers=layers, ndigits=prog.ndigits, classes=prog.classes,
                       input_size=prog.input_size, program_id=program_id(prog),
                       reset_levels=levels)


class BoardModel:
    """The board's protocol state: feed it request bytes, get the reply bytes the board sends.

    Parameters
    ----------
    prog : EngineProgram
        The compiled network the board runs.

    Notes
    -----
    :meth:`request` takes the bytes of one request (complete or cut short) and returns the reply;
    ``timed_out=True`` says the host stopped sending (the board's timeout), which turns an
    incomplete frame into a ``TIMEOUT`` reply; without it an incomplete frame gets no reply yet.
    """

    def __init__(self, prog):
        self.prog = prog
        self.info = board_info(prog)
        self.levels = list(self.info.reset_levels)

    def reset(self):
        """The board's reset: the truncation levels go back to the program's."""
        self.levels = list(self.info.reset_levels)

    def _expected_len(self, cmd: int) -> int | None:
        return {P.CMD_INFO: 0, P.CMD_TRUNC: self.info.layers,
                P.CMD_INFER: self.info.input_size}.get(cmd)

    def request(self, data: bytes, timed_out: bool = False) -> bytes:
        data = bytes(data)
        start = data.find(bytes([P.SYNC]))
        if start < 0:
            return b""
        body = data[start + 1:]
        cmd = body[0] if body else 0
        err = 0
        if len(body) >= 3:
            n = body[1] | body[2] << 8
            if self._expected_len(cmd) is None:
                err = P.ERROR_NAMES["BAD_COMMAND"]
            elif cmd == P.CMD_TRUNC and self.info.pe == "int8":
                err = P.ERROR_NAMES["UNSUPPORTED"]
            elif n != self._expected_len(cmd):
                err = P.ERROR_NAMES["BAD_LENGTH"]
            complete = len(body) >= n + 4
        else:
            n, complete = 0, False
        if not complete:
            if not timed_out:
                return b""
            return self._error(err or P.ERROR_NAMES["TIMEOUT"], cmd)
        payload, crc = body[3:3 + n], body[3 + n]
        if not err and P.crc8(body[:3 + n]) != crc:
            err = P.ERROR_NAMES["BAD_CRC"]
        if not err and cmd == P.CMD_TRUNC and any(t > self.info.ndigits for t in payload):
            err = P.ERROR_NAMES["BAD_VALUE"]
        if err:
            return self._error(err, cmd)
        if cmd == P.CMD_INFO:
            return P.encode_frame(P.REPLY[cmd], self.info.encode())
        if cmd == P.CMD_TRUNC:
            self.levels = list(payload)
            return P.encode_frame(P.REPLY[cmd])
        logits = self.logits(np.frombuffer(payload, np.uint8))
        cls = int(np.argmax(logits))
        return P.encode_frame(P.REPLY[cmd], struct.pack(f"<{len(logits)}i", *map(int, logits))
                              + bytes([cls]))

    def logits(self, pixels) -> np.ndarray:
        """Logits of one image at the current levels (the engine's memory-level model)."""
        from hw.engine.reference import run_program

        trunc = None if self.info.pe == "int8" else list(self.levels)
        return np.asarray(run_program(self.prog, np.asarray(pixels, np.int64), trunc)[0])

    @staticmethod
    def _error(code: int, cmd: int) -> bytes:
        return P.encode_frame(P.CMD_ERROR, bytes([code, cmd]))
