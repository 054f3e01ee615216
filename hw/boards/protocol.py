"""The host protocol of the board builds: one frame format, four commands, error replies.

Pure Python (no Amaranth, no NumPy), so a host tool imports it on its own. This module is the
single definition of the protocol: the gateware (:mod:`hw.boards.bridge`) takes its constants from
here, ``qsq run`` (:mod:`hw.boards.cli`) and the simulation bench (``sim/tb_board.py``) encode and
decode with the functions here.

Frame (both directions), bytes on an 8N1 UART::

    SYNC | CMD | LEN (u16, little-endian) | PAYLOAD (LEN bytes) | CRC

* ``SYNC`` = ``0xA5``; a receiver skips any other byte while it waits for a frame.
* ``CRC`` = CRC-8 (polynomial ``x^8 + x^2 + x + 1``, 0x07, initial value 0, not reflected, no
  final XOR -- the catalogue's "CRC-8", check value 0xF4) over ``CMD``, ``LEN`` and ``PAYLOAD``.
* Multi-byte numbers are little-endian; logits are signed 32-bit two's complement.
* Request/response: the host sends one frame and waits for the reply before it sends the next.
  Every complete request frame gets exactly one reply frame. Bytes that arrive while the board
  executes or replies are discarded. A frame whose bytes stop for longer than the board's
  timeout (:data:`DEFAULT_TIMEOUT_BITS` bit periods) is abandoned with a ``TIMEOUT`` error reply.

Requests and replies (a reply's ``CMD`` is the request's with bit 7 set):

==========  =====  ============================  =====  =============================================
request     CMD    payload                       reply  reply payload
==========  =====  ============================  =====  =============================================
INFO        0x01   none                          0x81   :data:`INFO_FIELDS` then the reset levels
TRUNC       0x02   one level per compute layer   0x82   none (levels used from the next inference)
INFER       0x03   the image's C*H*W pixels       0x83   ``classes`` logits (i32 LE), then the class
LOAD        0x04   program id (u32), chunk (u16),  0x84   none
                   ``chunk_words`` weight words
(any)                                            0xFF   ``[error code, request CMD]``
==========  =====  ============================  =====  =============================================

LOAD (builds whose weights live in SPRAM, ``qsq bitstream --weight-store spram``; INFO's
``chunk_words`` is 0 on the others): the weight image -- the program's ``weight_words`` words of
``word_bytes`` bytes each, little-endian, in address order (:func:`weight_image`) -- is cut into
chunks of ``chunk_words`` words (the last padded with zero words) and sent as chunk 0, 1, ... in
order. Chunk 0 restarts a load; any other chunk must be the one after the last accepted. After
the last chunk the board compares the CRC-16 (:func:`crc16`) of the whole image with its
program's and only then takes the weights as loaded (INFO's ``loaded``). Until then INFER is
refused with ``NOT_LOADED``; a failed LOAD of any kind leaves the board without weights (the load
must restart at chunk 0).

Error codes (:data:`ERRORS`), checked in this order: ``BAD_COMMAND`` (unknown CMD),
``UNSUPPORTED`` (TRUNC on an INT8 engine, which has no truncation; LOAD on a build whose weights
are in its bitstream), ``BAD_LENGTH`` (LEN is not what the command needs), ``NOT_LOADED`` (INFER
before the weights are loaded), ``TIMEOUT``, ``BAD_CRC`` (the frame's CRC-8, or the whole weight
image's CRC-16 after the last chunk), ``BAD_VALUE`` (a level above the engine's digit count, or a
LOAD chunk out of order), ``WRONG_PROGRAM`` (a LOAD whose program id is not the board's). A
failed request changes nothing on the board but the LOAD state above (an INFER whose image was
corrupted still runs through the engine, but its logits are dropped and the error is returned
instead).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["SYNC", "CMD_INFO", "CMD_TRUNC", "CMD_INFER", "CMD_LOAD", "REPLY", "CMD_ERROR", "ERRORS",
           "ERROR_NAMES", "PE_CODES", "INFO_FIELDS", "DEFAULT_BAUD", "DEFAULT_TIMEOUT_BITS",
           "PROTOCOL_VERSION", "crc8", "crc16", "encode_frame", "encode_load", "weight_image",
           "LOAD_HEADER_BYTES", "encode_info", "encode_trunc",
           "encode_infer", "FrameDecoder", "Frame", "BoardInfo", "BoardError", "ProtocolError",
           "decode_info", "decode_infer", "decode_reply", "HEADER_BYTES", "frame_bytes"]

PROTOCOL_VERSION = 2
SYNC = 0xA5
CMD_INFO = 0x01
CMD_TRUNC = 0x02
CMD_INFER = 0x03
CMD_LOAD = 0x04
CMD_ERROR = 0xFF
#: Reply command of each request.
REPLY = {CMD_INFO: 0x81, CMD_TRUNC: 0x82, CMD_INFER: 0x83, CMD_LOAD: 0x84}
#: Error code -> name.
ERRORS = {1: "BAD_COMMAND", 2: "UNSUPPORTED", 3: "BAD_LENGTH", 4: "TIMEOUT", 5: "BAD_CRC",
          6: "BAD_VALUE", 7: "NOT_LOADED", 8: "WRONG_PROGRAM"}
#: Error name -> code.
ERROR_NAMES = {v: k for k, v in ERRORS.items()}
#: Engine PE style -> the INFO byte.
PE_CODES = {"bucket": 0, "multiplier": 1, "int8": 2}
#: The fixed INFO fields: (name, struct format); the per-layer reset levels follow (one byte each).
INFO_FIELDS = (("version", "B"), ("pe", "B"), ("lanes", "B"), ("layers", "B"), ("ndigits", "B"),
               ("classes", "B"), ("input_size", "H"), ("program_id", "I"), ("weight_words", "H"),
               ("word_bytes", "B"), ("chunk_words", "H"), ("loaded", "B"))
_INFO_STRUCT = struct.Struct("<" + "".join(f for _, f in INFO_FIELDS))
#: Bytes around the payload: SYNC, CMD, LEN (2) before, CRC after.
HEADER_BYTES = 4
#: Default line rate.
DEFAULT_BAUD = 115200
#: Default inter-byte timeout of the board, in bit periods (87 ms at 115200 baud).
DEFAULT_TIMEOUT_BITS = 10000
#: Longest payload a frame can carry.
MAX_PAYLOAD = 0xFFFF
#: LOAD payload bytes before the words: program id (4), chunk index (2).
LOAD_HEADER_BYTES = 6


class ProtocolError(ValueError):
    """A reply that does not parse (bad CRC, wrong length, unexpected command)."""


class BoardError(RuntimeError):
    """The board answered a request with an error reply."""

    def __init__(self, code: int, request: int):
        self.code, self.request = code, request
        name = ERRORS.get(code, f"unknown error {code}")
        super().__init__(f"the board rejected request 0x{request:02x}: {name}")


def crc8(data, crc: int = 0) -> int:
    """CRC-8 (poly 0x07, init 0, no reflection, no final XOR) of ``data``, continuing ``crc``."""
    for b in bytes(data):
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def crc16(data, crc: int = 0xFFFF) -> int:
    """CRC-16 (poly 0x1021, init 0xFFFF, no reflection, no final XOR -- the catalogue's
    "CRC-16/IBM-3740", check value 0x29B1) of ``data``, continuing ``crc``."""
    for b in bytes(data):
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def weight_image(words, word_bytes: int) -> bytes:
    """The bytes LOAD sends: each weight word little-endian in ``word_bytes`` bytes."""
    out = bytearray()
    for w in words:
        w = int(w)
        if not 0 <= w < 1 << (8 * word_bytes):
            raise ValueError(f"weight word must be an integer in [0, 2**{8 * word_bytes}), not {w!r}")
        out += w.to_bytes(word_bytes, "little")
    return bytes(out)


def encode_frame(cmd: int, payload=b"") -> bytes:
    """One frame: SYNC, ``cmd``, length, ``payload``, CRC-8."""
    payload = bytes(payload)
    if not isinstance(cmd, int) or not 0 <= cmd <= 0xFF:
        raise ValueError(f"cmd must be an integer in [0, 255], not {cmd!r}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload must be at most {MAX_PAYLOAD} bytes, not {len(payload)!r}")
    body = bytes([cmd]) + struct.pack("<H", len(payload)) + payload
    return bytes([SYNC]) + body + bytes([crc8(body)])


def frame_bytes(payload_len: int) -> int:
    """Bytes on the wire of a frame with ``payload_len`` payload bytes."""
    return payload_len + HEADER_BYTES + 1


def encode_info() -> bytes:
    """The INFO request."""
    return encode_frame(CMD_INFO)


def encode_trunc(levels, ndigits: int | None = None) -> bytes:
    """The TRUNC request setting one truncation level per compute layer.

    Raises
    ------
    ValueError
        If a level is not an integer in ``[0, ndigits]`` (``[0, 255]`` when ``ndigits`` is None).
    """
    hi = 255 if ndigits is None else ndigits
    out = []
    for t in levels:
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= hi:
            raise ValueError(f"truncation level must be an integer in [0, {hi}], not {t!r}")
        out.append(t)
    return encode_frame(CMD_TRUNC, bytes(out))


def encode_infer(pixels) -> bytes:
    """The INFER request of one image's quantized pixels (C x H x W order, 0..255 each).

    Raises
    ------
    ValueError
        If a pixel is not an integer in ``[0, 255]``.
    """
    vals = [int(p) for p in pixels]
    bad = [p for p in vals if not 0 <= p <= 255]
    if bad:
        raise ValueError(f"pixels must be integers in [0, 255], not {bad[0]!r}")
    return encode_frame(CMD_INFER, bytes(vals))


def encode_load(program_id: int, chunk: int, image: bytes, word_bytes: int,
                chunk_words: int) -> bytes:
    """The LOAD request of chunk ``chunk`` of the weight ``image`` (:func:`weight_image`).

    Raises
    ------
    ValueError
        If ``chunk`` is not an index of one of the image's chunks.
    """
    step = word_bytes * chunk_words
    if step <= 0:
        raise ValueError(f"word_bytes and chunk_words must be positive, not {word_bytes!r} and "
                         f"{chunk_words!r} (the board takes no LOAD)")
    n = -(-len(image) // step)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 0 <= chunk < n:
        raise ValueError(f"chunk must be an integer in [0, {n - 1}], not {chunk!r}")
    part = image[chunk * step:(chunk + 1) * step]
    return encode_frame(CMD_LOAD, struct.pack("<IH", program_id, chunk)
                        + part + bytes(step - len(part)))


@dataclass(frozen=True)
class Frame:
    """A received frame (CRC already checked)."""

    cmd: int
    payload: bytes


class FrameDecoder:
    """Incremental frame parser: :meth:`feed` bytes as they arrive, get whole frames back.

    Bytes before a SYNC are counted in :attr:`skipped`; a frame whose CRC is wrong raises
    :class:`ProtocolError` (the decoder is then ready for the next frame).
    """

    def __init__(self):
        self._buf = bytearray()
        self.skipped = 0

    def feed(self, data) -> list[Frame]:
        self._buf += bytes(data)
        frames = []
        while True:
            start = self._buf.find(bytes([SYNC]))
            if start < 0:
                self.skipped += len(self._buf)
                self._buf.clear()
                return frames
            if start:
                self.skipped += start
                del self._buf[:start]
            if len(self._buf) < HEADER_BYTES:
                return frames
            n = self._buf[2] | self._buf[3] << 8
            if len(self._buf) < frame_bytes(n):
                return frames
            raw = bytes(self._buf[:frame_bytes(n)])
            del self._buf[:frame_bytes(n)]
            if crc8(raw[1:-1]) != raw[-1]:
                raise ProtocolError(f"reply 0x{raw[1]:02x} with a bad CRC "
                                    f"(0x{raw[-1]:02x}, expected 0x{crc8(raw[1:-1]):02x})")
            frames.append(Frame(raw[1], raw[HEADER_BYTES:-1]))

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held."""
        return len(self._buf)


@dataclass(frozen=True)
class BoardInfo:
    """The INFO reply."""

    version: int
    pe: str
    lanes: int
    layers: int
    ndigits: int
    classes: int
    input_size: int
    program_id: int
    weight_words: int
    word_bytes: int
    chunk_words: int
    loaded: int
    reset_levels: tuple

    @property
    def load_payload_bytes(self) -> int:
        """LEN of every LOAD request: program id, chunk index and ``chunk_words`` words."""
        return LOAD_HEADER_BYTES + self.chunk_words * self.word_bytes

    @property
    def chunks(self) -> int:
        """LOAD chunks of the weight image (0: the weights are in the bitstream)."""
        return -(-self.weight_words // self.chunk_words) if self.chunk_words else 0

    def payload_bytes(self) -> int:
        """Payload bytes of this board's INFO reply."""
        return _INFO_STRUCT.size + self.layers

    def encode(self) -> bytes:
        """The INFO reply's payload (what the board sends)."""
        return _INFO_STRUCT.pack(self.version, PE_CODES[self.pe], self.lanes, self.layers,
                                 self.ndigits, self.classes, self.input_size, self.program_id,
                                 self.weight_words, self.word_bytes, self.chunk_words,
                                 self.loaded) + bytes(self.reset_levels)


def decode_reply(frame: Frame, request: int) -> bytes:
    """The payload of the reply to ``request``; :class:`BoardError` for an error reply,
    :class:`ProtocolError` for anything else unexpected."""
    if frame.cmd == CMD_ERROR:
        if len(frame.payload) != 2:
            raise ProtocolError(f"error reply with {len(frame.payload)} payload bytes, not 2")
        raise BoardError(frame.payload[0], frame.payload[1])
    if frame.cmd != REPLY.get(request):
        raise ProtocolError(f"reply 0x{frame.cmd:02x} to request 0x{request:02x}")
    return frame.payload


def decode_info(frame: Frame) -> BoardInfo:
    """The :class:`BoardInfo` of an INFO reply."""
    p = decode_reply(frame, CMD_INFO)
    if len(p) < _INFO_STRUCT.size:
        raise ProtocolError(f"INFO reply of {len(p)} bytes, fewer than {_INFO_STRUCT.size}")
    vals = dict(zip((n for n, _ in INFO_FIELDS), _INFO_STRUCT.unpack_from(p)))
    pe = {v: k for k, v in PE_CODES.items()}.get(vals["pe"])
    if pe is None:
        raise ProtocolError(f"INFO reply names an unknown PE style {vals['pe']}")
    levels = tuple(p[_INFO_STRUCT.size:])
    if len(levels) != vals["layers"]:
        raise ProtocolError(f"INFO reply has {len(levels)} reset levels for {vals['layers']} layers")
    vals["pe"] = pe
    return BoardInfo(**vals, reset_levels=levels)


def decode_infer(frame: Frame, classes: int) -> tuple[list[int], int]:
    """``(logits, class)`` of an INFER reply for a network of ``classes`` classes."""
    p = decode_reply(frame, CMD_INFER)
    if len(p) != 4 * classes + 1:
        raise ProtocolError(f"INFER reply of {len(p)} bytes, not {4 * classes + 1} "
                            f"({classes} logits and the class)")
    return list(struct.unpack(f"<{classes}i", p[:-1])), p[-1]
