"""What networks the engine runs: the layer order and the size limits, checked before compiling.

``qsq import`` checks every imported network here, so a network that passes imports, packs,
compiles and runs; each refusal names the limit and where it comes from:

==================  ================  ===========================================================
limit               value             why
==================  ================  ===========================================================
layer order         --                :func:`hw.engine.program.parse_ops`: ``conv -> relu [-> pool]``
                                      stages, one ``flatten``, ``fc -> relu`` stages, a final
                                      ``fc`` (the logits)
image size          C*H*W <= 65,535   pixels per image: a 16-bit field of the board protocol's
                                      INFO reply (:mod:`hw.boards.protocol`) and of the ``.qsq``
                                      header
channels (fan-in)   C*k*k <= 65,793   the int32 accumulator: ``fan-in * 255 * 128 < 2**31``
                                      (8-bit activations, decoded weights up to 128 in magnitude
                                      after truncation; :func:`golden_model.nn.quant.quantize_model`)
kernel              k <= 255          an 8-bit field of the ``.qsq`` layer record
classes             <= 255            a byte of the INFO reply
compute layers      <= 255            a byte of the ``.qsq`` header and of the INFO reply
memory              <= 3,833,856 bit  the block RAM of the largest supported board (ULX3S-85F,
                                      208 x 18 kbit); counted at one lane (no filter padding):
                                      3-bit weight codes, both activation regions, logits
==================  ================  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden_model.nn.quant import ACT_BITS

from .program import LOGIT_BITS, parse_ops

__all__ = ["MAX_PIXELS", "MAX_FAN_IN", "MAX_KERNEL", "MAX_CLASSES", "MAX_LAYERS",
           "MAX_MEMORY_BITS", "MEMORY_BOARD", "NetworkSize", "check_network"]

#: Pixels per image (C*H*W): the board protocol's 16-bit field.
MAX_PIXELS = (1 << 16) - 1
#: Fan-in of a layer (input channels x k x k): fan-in x 255 x 128 must stay below 2**31.
MAX_FAN_IN = ((1 << 31) - 1) // (((1 << ACT_BITS) - 1) * 128)
#: Kernel size: a byte of the ``.qsq`` layer record.
MAX_KERNEL = 255
#: Classes (the last layer's outputs): a byte of the board protocol's INFO reply.
MAX_CLASSES = 255
#: Compute layers: a byte of the ``.qsq`` header and of the INFO reply.
MAX_LAYERS = 255
#: On-chip memory of the largest supported board's block RAM (ULX3S-85F: 208 x 18 kbit).
MAX_MEMORY_BITS = 208 * 18 * 1024
MEMORY_BOARD = "ULX3S-85F block RAM, 208 x 18 kbit"


@dataclass(frozen=True)
class NetworkSize:
    """The figures :func:`check_network` compared with the limits."""

    pixels: int
    fan_in: int
    kernel: int
    classes: int
    layers: int
    memory_bits: int

    def describe(self) -> str:
        return (f"image {self.pixels} pixels (limit {MAX_PIXELS}), largest fan-in {self.fan_in} "
                f"(limit {MAX_FAN_IN}), {self.classes} classes (limit {MAX_CLASSES}), "
                f"{self.layers} compute layers (limit {MAX_LAYERS}), memory at least "
                f"{self.memory_bits} bits (limit {MAX_MEMORY_BITS}, {MEMORY_BOARD})")


def check_network(ops, input_shape, layers, code_bits: int = 3) -> NetworkSize:
    """Check a network against the engine's layer order and limits (module notes).

    Parameters
    ----------
    ops : list of str
        ``conv``, ``fc``, ``relu``, ``pool``, ``flatten``.
    input_shape : tuple of int
        ``(C, H, W)``.
    layers : list of tuple
        ``(name, weight shape, k, pad)`` of every compute layer, in order (weight shape
        ``(F, C, k, k)`` or ``(F, K)``).
    code_bits : int
        Weight code width the memory is counted with.

    Raises
    ------
    ValueError
        Naming the layer, the value and the limit.
    """
    stages = parse_ops(ops)
    if len(stages) != len(layers):
        raise ValueError(f"the op list names {len(stages)} compute layers, the network has "
                         f"{len(layers)}")
    c, h, w = input_shape
    pixels = int(c * h * w)
    if pixels > MAX_PIXELS:
        raise ValueError(f"image {c}x{h}x{w} = {pixels} pixels exceeds the engine's limit of "
                         f"{MAX_PIXELS} pixels per image (16-bit field of the board protocol)")
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"{len(layers)} compute layers exceed the engine's limit of {MAX_LAYERS}")
    weight_bits = 0
    region = pixels
    shape = (c, h, w)
    fan_max = k_max = 0
    for i, ((name, wshape, k, pad), st) in enumerate(zip(layers, stages)):
        f = int(wshape[0])
        fan = int(np.prod(wshape[1:]))
        if fan > MAX_FAN_IN:
            what = f"input channels {wshape[1]} x {k} x {k}" if st["kind"] == "conv" else "inputs"
            raise ValueError(f"layer {name}: fan-in {fan} ({what}) exceeds the engine's limit of "
                             f"{MAX_FAN_IN} (the int32 accumulator: fan-in x 255 x 128 < 2^31)")
        if k > MAX_KERNEL:
            raise ValueError(f"layer {name}: kernel {k} exceeds the engine's limit of {MAX_KERNEL}")
        fan_max, k_max = max(fan_max, fan), max(k_max, k)
        weight_bits += f * fan * code_bits
        if st["kind"] == "conv":
            ho, wo = shape[1] + 2 * pad - k + 1, shape[2] + 2 * pad - k + 1
            win = 2 if st["pool"] else 1
            region = max(region, int(np.prod(shape)))
            shape = (f, ho // win, wo // win)
        else:
            region = max(region, int(np.prod(shape)))
            shape = (f,)
        if i + 1 < len(layers):
            region = max(region, int(np.prod(shape)))
    classes = int(layers[-1][1][0])
    if classes > MAX_CLASSES:
        raise ValueError(f"{classes} classes exceed the engine's limit of {MAX_CLASSES} (a byte "
                         f"of the board protocol)")
    memory = weight_bits + 2 * region * ACT_BITS + classes * LOGIT_BITS
    if memory > MAX_MEMORY_BITS:
        raise ValueError(f"the network needs at least {memory} bits of on-chip memory ({weight_bits} "
                         f"of {code_bits}-bit weight codes, {2 * region * ACT_BITS} of activations), "
                         f"more than the engine's limit of {MAX_MEMORY_BITS} bits ({MEMORY_BOARD})")
    return NetworkSize(pixels, fan_max, k_max, classes, len(layers), memory)
