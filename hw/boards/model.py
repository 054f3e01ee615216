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
from dataclasses import replace

import numpy as np

from . import protocol as P

__all__ = ["program_id", "board_info", "load_image", "BoardModel", "MAX_CHUNK_WORDS"]

#: Most weight words in one LOAD chunk.
MAX_CHUNK_WORDS = 1024




def program_id(prog) -> int:
    """CRC-32 of what identifies a compiled program: engine configuration, input shape, classes,
    weight words, scales, biases and reset levels (the INFO reply's ``program_id``)."""
    h = zlib.crc32(f"{prog.config.tag()}|{prog.input_shape}|{prog.classes}".encode())
    for name, vals in (("weights", prog.weight_words), ("scales", prog.scales),
                       ("biases", prog.biases), ("trunc", prog.default_trunc)):
        h = zlib.crc32(f"|{name}:".encode() + ",".join(str(int(v)) for v in vals).encode(), h)
    return h


def board_info(prog, max_chunk: int = MAX_CHUNK_WORDS) -> P.BoardInfo:
    """The INFO reply of a board running ``prog`` (LOAD chunks of at most ``max_chunk`` words).

    The weight layout: the weight memory's words, bytes per word on the line, and words per LOAD
    chunk -- 0 (no LOAD) unless the engine's weights are loaded (``EngineConfig.weights ==
    "spram"``)."""
    from golden_model.config import check_int

    check_int("max_chunk", max_chunk, 1, MAX_CHUNK_WORDS)
    coded = prog.config.pe != "int8"
    layers = len(prog.layers)
    levels = tuple(min(int(t), prog.ndigits) for t in prog.default_trunc) if coded else (0,) * layers
    words, nbytes = len(prog.weight_words), _word_bytes(prog)
    chunk = min(words, max_chunk) if prog.config.weights == "spram" else 0
    return P.BoardInfo(version=P.PROTOCOL_VERSION, pe=prog.config.pe, lanes=prog.config.lanes,
                       layers=layers, ndigits=prog.ndigits, classes=prog.classes,
                       input_size=prog.input_size, program_id=program_id(prog),
                       weight_words=words, word_bytes=nbytes, chunk_words=chunk,
                       loaded=int(chunk == 0), reset_levels=levels)


def _word_bytes(prog) -> int:
    return -(-prog.weight_bits // 8)


def load_image(prog) -> bytes:
    """The weight image LOAD sends for ``prog`` (:func:`hw.boards.protocol.weight_image` of its
    weight words, in INFO's ``word_bytes`` per word)."""
    return P.weight_image(prog.weight_words, _word_bytes(prog))


class BoardModel:
    """The board's protocol state: feed it request bytes, get the reply bytes the board sends.

    Parameters
    ----------
    prog : EngineProgram
        The compiled network the board runs.
    max_chunk : int
        Most weight words per LOAD chunk (the build's; :data:`MAX_CHUNK_WORDS`).

    Notes
    -----
    :meth:`request` takes the bytes of one request (complete or cut short) and returns the reply;
    ``timed_out=True`` says the host stopped sending (the board's timeout), which turns an
    incomplete frame into a ``TIMEOUT`` reply; without it an incomplete frame gets no reply yet.
    A board whose weights are loaded over the link (INFO's ``chunk_words`` > 0) starts without
    weights; :attr:`loaded` and :attr:`next_chunk` are its LOAD state.
    """

    def __init__(self, prog, max_chunk: int = MAX_CHUNK_WORDS):
        self.prog = prog
        self.info = board_info(prog, max_chunk)
        self.image_crc = P.crc16(load_image(prog))
        self.reset()

    def reset(self):
        """The board's reset: the truncation levels go back to the program's; a board that loads
        its weights over the link has none again."""
        self.levels = list(self.info.reset_levels)
        self.loaded = not self.info.chunk_words
        self.next_chunk = 0
        self.crc = 0xFFFF

    def _expected_len(self, cmd: int) -> int | None:
        info = self.info
        return {P.CMD_INFO: 0, P.CMD_TRUNC: info.layers, P.CMD_INFER: info.input_size,
                P.CMD_LOAD: info.load_payload_bytes}.get(cmd)

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
            elif cmd == P.CMD_LOAD and not self.info.chunk_words:
                err = P.ERROR_NAMES["UNSUPPORTED"]
            elif n != self._expected_len(cmd):
                err = P.ERROR_NAMES["BAD_LENGTH"]
            elif cmd == P.CMD_INFER and not self.loaded:
                err = P.ERROR_NAMES["NOT_LOADED"]
            complete = len(body) >= n + 4
        else:
            n, complete = 0, False
        if not complete:
            if not timed_out:
                return b""
            return self._load_failed(err or P.ERROR_NAMES["TIMEOUT"], cmd)
        payload, crc = body[3:3 + n], body[3 + n]
        if not err and P.crc8(body[:3 + n]) != crc:
            err = P.ERROR_NAMES["BAD_CRC"]
        if not err and cmd == P.CMD_TRUNC and any(t > self.info.ndigits for t in payload):
            err = P.ERROR_NAMES["BAD_VALUE"]
        if not err and cmd == P.CMD_LOAD:
            err = self._load(payload)
        if err:
            return self._load_failed(err, cmd)
        if cmd == P.CMD_INFO:
            return P.encode_frame(P.REPLY[cmd], replace(self.info, loaded=int(self.loaded)).encode())
        if cmd in (P.CMD_TRUNC, P.CMD_LOAD):
            if cmd == P.CMD_TRUNC:
                self.levels = list(payload)
            return P.encode_frame(P.REPLY[cmd])
        logits = self.logits(np.frombuffer(payload, np.uint8))
        cls = int(np.argmax(logits))
        return P.encode_frame(P.REPLY[cmd], struct.pack(f"<{len(logits)}i", *map(int, logits))
                              + bytes([cls]))

    def _load(self, payload: bytes) -> int:
        """Check and take one LOAD chunk (its frame already checked); the error code or 0."""
        info = self.info
        pid, chunk = struct.unpack_from("<IH", payload)
        if chunk != 0 and (chunk != self.next_chunk or chunk >= info.chunks):
            return P.ERROR_NAMES["BAD_VALUE"]
        if pid != info.program_id:
            return P.ERROR_NAMES["WRONG_PROGRAM"]
        if chunk == 0:
            self.loaded, self.crc = False, 0xFFFF
        first = chunk * info.chunk_words
        stored = max(0, min(info.chunk_words, info.weight_words - first))
        words = payload[P.LOAD_HEADER_BYTES:]
        self.crc = P.crc16(words[:stored * info.word_bytes], self.crc)
        if chunk == info.chunks - 1:
            if self.crc != self.image_crc:
                return P.ERROR_NAMES["BAD_CRC"]
            self.loaded, self.next_chunk = True, 0
        else:
            self.next_chunk = chunk + 1
        return 0

    def _load_failed(self, err: int, cmd: int) -> bytes:
        """The error reply; a failed LOAD leaves the board without weights."""
        if cmd == P.CMD_LOAD and self.info.chunk_words:
            self.loaded, self.next_chunk = False, 0
        return self._error(err, cmd)

    def logits(self, pixels) -> np.ndarray:
        """Logits of one image at the current levels (the engine's memory-level model)."""
        from hw.engine.reference import run_program

        trunc = None if self.info.pe == "int8" else list(self.levels)
        return np.asarray(run_program(self.prog, np.asarray(pixels, np.int64), trunc)[0])

    @staticmethod
    def _error(code: int, cmd: int) -> bytes:
        return P.encode_frame(P.CMD_ERROR, bytes([code, cmd]))
