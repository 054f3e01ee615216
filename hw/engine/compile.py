"""``qsq compile`` driver: model file -> engine Verilog, memory images and a manifest.

:func:`load_model` accepts a ``.qsq`` packed model (3-bit codes, for the bucket and multiplier
engines) or a checkpoint ``.npz`` (quantized here: the coded network as ``qsq pack`` does it, or the
INT8 network for ``pe="int8"``); :func:`default_model` is the committed digits LeNet.
:func:`write_engine` writes, into one folder:

* ``qsq_engine.v`` -- the engine (top module ``qsq_engine``), memories initialised from the program;
* ``weights.hex``, ``scales.hex``, ``biases.hex``, ``descriptors.hex`` (and ``positions.hex``,
  the position table of the FPGA builds) -- the memory images, one word per line in hexadecimal
  (``$readmemh`` format), for flows that load memories themselves;
* ``manifest.json`` / ``manifest.md`` -- configuration, ports, layers, memory sizes in bits per
  memory, MACs and multiplies per inference, predicted cycles (:mod:`hw.engine.schedule`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .config import EngineConfig
from .descriptor import (descriptor_fields, descriptor_layout, descriptor_values, position_layout,
                         position_words)
from .program import EngineProgram, compile_program, positions
from .schedule import compute_cycles, cycle_table, memory_traffic
from golden_model.fileio import atomic_write_text

__all__ = ["load_model", "default_model", "engine_verilog", "write_engine", "manifest", "TOP_NAME"]

#: Verilog name of the engine's top module.
TOP_NAME = "qsq_engine"


def load_model(path=None, pe: str = "bucket", data_dir=None, calib=None, weights: str = "auto",
               notes: list | None = None):
    """The network an engine of style ``pe`` runs, from ``path`` (default: the committed model).

    A checkpoint is quantized as ``qsq pack`` does it: calibration images from ``calib`` (or the
    checkpoint's data set), float-PTQ or QAT weights by ``weights``
    (:func:`golden_model.nn.userdata.quantize_checkpoint`); ``notes``, if given, receives the lines
    saying which. The INT8 engine quantizes the float weights.

    Raises
    ------
    ValueError
        If the file is not a valid ``.qsq`` or checkpoint, or a ``.qsq`` is given for ``pe="int8"``
        (a packed model holds only the 3-bit codes; INT8 weights need the float checkpoint).
    """
    from golden_model.nn.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint

    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    if path.suffix == ".qsq":
        if pe == "int8":
            raise ValueError(f"{path}: pe='int8' needs a checkpoint (.npz) with float weights; a "
                             f".qsq file holds only the 3-bit codes")
        from golden_model.nn.packfile import read_model
        return read_model(path)
    from golden_model.nn.userdata import calibration

    ck = load_checkpoint(path)
    if pe == "int8":
        from golden_model.nn.int8 import quantize_int8
        cal = calibration(ck.meta, ck.float_model.input_shape, calib, data_dir)
        return quantize_int8(ck.float_model, cal.x)
    from golden_model.config import CodecConfig
    from golden_model.nn.userdata import quantize_file
    qm, lines = quantize_file(path, calib, data_dir, CodecConfig(), weights)
    if notes is not None:
        notes += lines
    return qm


def default_model(pe: str = "bucket"):
    """The committed digits LeNet, quantized for ``pe``."""
    return load_model(None, pe)


def engine_verilog(prog: EngineProgram, name: str = TOP_NAME, command: str = "") -> str:
    """Verilog of the engine for ``prog`` (top module ``name``, submodules ``<name>__...``), with the
    project's header (parameters, ports), port order and lint treatment (:func:`hw.verilog.convert`)."""
    from ..verilog import convert
    from .top import QSQEngine

    cfg = prog.config
    params = {"model": prog.model.arch, "input": "x".join(str(v) for v in prog.input_shape),
              "classes": prog.classes, "lanes": cfg.lanes, "pe": cfg.pe, "gating": cfg.gating,
              "reuse": cfg.reuse, "power": cfg.power, "weights": cfg.weights}
    if cfg.pe == "multiplier":
        params["recode"] = cfg.recode
    if cfg.pe == "bucket":
        params["products"] = cfg.products
    if prog.codec is not None:
        params["trunc_reset"] = ",".join(str(t) for t in prog.default_trunc)
    return convert(QSQEngine(prog), name, description="qsq inference engine (memories initialised "
                   "with the compiled model)", parameters=params, command=command,
                   origin="hw.engine.compile.engine_verilog")


def _hex(values, bits: int) -> str:
    digits = max(1, (bits + 3) // 4)
    mask = (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in values)


def _ports(prog: EngineProgram) -> list[dict]:
    from .top import config_layout

    ports = [("clk", "in", 1, "clock (rising edge)"), ("rst", "in", 1, "synchronous reset, active high"),
             ("pixels__valid", "in", 1, "pixel stream: a pixel is offered"),
             ("pixels__ready", "out", 1, "pixel stream: the engine takes it this cycle"),
             ("pixels__payload", "in", 8, "unsigned 8-bit pixel, C x H x W order")]
    if prog.config.weights == "spram":
        ports += [("weights__valid", "in", 1, "weight load: a word is offered (while idle)"),
                  ("weights__ready", "out", 1, "weight load: taken (not past the last word "
                                                "until the next first)"),
                  ("weights__payload", "in", prog.weight_bits + 1,
                   f"[{prog.weight_bits - 1}:0] weight word, [{prog.weight_bits}] first (restarts "
                   f"at address 0)"),
                  ("loaded", "out", 1, "every weight word written since the last first; pixels "
                                       "are refused until then")]
    if prog.config.pe != "int8":
        cl = config_layout(prog)
        width = cl.size
        ports += [("config__valid", "in", 1, "truncation write: offered"),
                  ("config__ready", "out", 1, "truncation write: taken (only while idle)"),
                  ("config__payload", "in", width,
                   f"[{prog.widths['layer'] - 1}:0] compute layer, "
                   f"[{width - 1}:{prog.widths['layer']}] truncation level")]
    ports += [("logits__valid", "out", 1, "logit stream: a logit is offered"),
              ("logits__ready", "in", 1, "logit stream: the host takes it this cycle"),
              ("logits__payload", "out", 32, "signed 32-bit logit, class order"),
              ("cls", "out", prog.widths["class"], "class of the last inference (first maximum)"),
              ("done", "out", 1, "1 in the cycle the last logit is taken"),
              ("busy", "out", 1, "0 only while idle")]
    return [{"name": n, "dir": d, "width": w, "meaning": t} for n, d, w, t in ports]


def manifest(prog: EngineProgram, timing: dict) -> dict:
    """Everything a user needs to know about a compiled engine (see the module notes)."""
    cfg = prog.config
    mems = prog.memory_bits()
    if cfg.fpga:    # the FPGA builds' position table
        mems["positions"] = len(position_words(prog)) * position_layout(prog).size
    rows = cycle_table(prog, timing)
    compute = compute_cycles(prog, timing)
    outputs = sum(p.F * p.outputs for p in prog.layers)
    issued = prog.issued_macs()
    if cfg.pe == "bucket":
        multiplies = sum(p.F * p.outputs for p in prog.layers) * prog.codec.max_index
        adds = 0
        for p, q in zip(prog.layers, prog.model.layers):
            codes = q.encoded.codes.reshape(p.F, -1) & prog.codec.max_index
            nz_taps = 0
            for y, x, *_ in positions(p):
                nz_taps += _nonzero_taps(p, codes, y, x)
            adds += nz_taps
    else:
        multiplies = issued
        adds = issued
    int8_weight_bits = len(prog.weight_words) * cfg.lanes * 8
    layers = []
    for p, r in zip(prog.layers, rows):
        layers.append({
            "name": p.name, "kind": p.kind, "input": [p.C, p.H, p.W] if p.kind == "conv" else [p.C],
            "k": p.k, "pad": p.pad, "filters": p.F, "groups": p.G, "fan_in": p.K,
            "pool": p.pool, "output": [p.F, p.PH, p.PW] if p.kind == "conv" else [p.F],
            "macs": r["macs"], "issued_taps": r["taps"], "cycles": r["cycles"],
            "stall_cycles": r["stall"], "utilisation": round(r["utilisation"], 4)})
    layout = descriptor_layout(prog)
    widths = {name: layout[name].width for name in descriptor_fields(prog)}
    return {
        "top": TOP_NAME,
        "config": {"lanes": cfg.lanes, "pe": cfg.pe, "recode": cfg.recode if cfg.pe == "multiplier" else None,
                   "gating": cfg.gating, "reuse": cfg.reuse, "power": cfg.power},
        "model": {"arch": prog.model.arch, "input_shape": list(prog.input_shape), "classes": prog.classes,
                  "ops": list(prog.model.ops),
                  "code_bits": prog.codec.code_bits if prog.codec else None,
                  "input_exponent": int(prog.model.layers[0].e_in)},
        "ports": _ports(prog),
        "truncation": {"levels": list(range(prog.ndigits + 1)) if prog.codec else [],
                       "reset": prog.default_trunc},
        "memories": {name: {"bits": bits} for name, bits in mems.items()},
        "weight_bits_vs_int8": round(mems["weights"] / int8_weight_bits, 4),
        "int8_weight_bits": int8_weight_bits,
        "macs": prog.macs(), "issued_macs": issued, "outputs": outputs,
        "multiplies": multiplies, "accumulations": adds,
        "cycles": {"load": prog.input_size, "compute": compute, "output": prog.classes,
                   "total": prog.input_size + compute + prog.classes},
        "memory_traffic": memory_traffic(prog, timing),
        "timing": timing,
        "layers": layers,
        "descriptor_widths": widths,
        "widths": prog.widths,
    }


def _nonzero_taps(p, codes: np.ndarray, y: int, x: int) -> int:
    """Bucket updates of output (y, x): issued taps with a nonzero code, summed over filters."""
    from .program import tap_ranges

    ky_lo, ky_hi, kx_lo, kx_hi = tap_ranges(p, y, x)
    c = codes.reshape(p.F, p.C, p.k, p.k) if p.kind == "conv" else codes.reshape(p.F, p.C, 1, 1)
    return int(np.count_nonzero(c[:, :, ky_lo:ky_hi + 1, kx_lo:kx_hi + 1]))


def _manifest_md(man: dict) -> str:
    from golden_model.tables import markdown_table

    c = man["config"]
    lines = [f"# Engine `{man['top']}`: {c['pe']} PE, {c['lanes']} lanes", "",
             f"Model `{man['model']['arch']}`, input {man['model']['input_shape']}, "
             f"{man['model']['classes']} classes.", "",
             "## Ports", "",
             markdown_table(["port", "dir", "width", "meaning"],
                            [[p["name"], p["dir"], p["width"], p["meaning"]] for p in man["ports"]]),
             "", "## Memories (bits)", "",
             markdown_table(["memory", "bits"], [[k, v["bits"]] for k, v in man["memories"].items()]),
             "", f"Weight memory: {man['memories']['weights']['bits']} bits, "
             f"{man['weight_bits_vs_int8']:.3f} of the INT8 engine's {man['int8_weight_bits']}.",
             "", "## Layers", "",
             markdown_table(["layer", "kind", "filters", "fan-in", "MACs", "issued taps", "cycles",
                             "stall", "MAC utilisation"],
                            [[r["name"], r["kind"], r["filters"], r["fan_in"], r["macs"],
                              r["issued_taps"], r["cycles"], r["stall_cycles"],
                              f"{r['utilisation']:.3f}"] for r in man["layers"]]),
             "", "## One inference (predicted cycles)", "",
             markdown_table(["load", "compute", "output", "total", "MACs", "multiplies"],
                            [[man["cycles"]["load"], man["cycles"]["compute"], man["cycles"]["output"],
                              man["cycles"]["total"], man["macs"], man["multiplies"]]]), "",
             "## One inference (predicted memory accesses)", "",
             "Every read port reads only when its word is used; the gate-level energy run "
             "(`qsq report-engine`) checks these counts.", "",
             markdown_table(["memory", "word bits", "reads", "bits read", "writes", "bits written"],
                            [[k, v["width"], v["reads"], v["read_bits"], v["writes"],
                              v["write_bits"]] for k, v in man["memory_traffic"].items()]), ""]
    return "\n".join(lines)


def write_engine(prog: EngineProgram, out_dir, verilog: bool = True) -> dict:
    """Write the Verilog, memory images and manifest of ``prog`` into ``out_dir``; return the manifest."""
    from .top import engine_timing

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timing = engine_timing(prog)
    man = manifest(prog, timing)
    if verilog:
        atomic_write_text(out / f"{TOP_NAME}.v", engine_verilog(prog))
    atomic_write_text(out / "weights.hex", _hex(prog.weight_words, prog.weight_bits))
    if prog.codec is not None:
        atomic_write_text(out / "scales.hex", _hex(prog.scales, prog.codec.scale_bits))
    atomic_write_text(out / "biases.hex", _hex(prog.biases, prog.widths["bias"]))
    layout = descriptor_layout(prog)
    words = []
    for vals in descriptor_values(prog):
        word = 0
        for name in descriptor_fields(prog):
            field = layout[name]
            word |= (vals[name] & ((1 << field.width) - 1)) << field.offset
        words.append(word)
    atomic_write_text(out / "descriptors.hex", _hex(words, layout.size))
    if prog.config.fpga:    # the FPGA builds' position table (hw.engine.descriptor)
        atomic_write_text(out / "positions.hex",
                          _hex(position_words(prog), position_layout(prog).size))
    atomic_write_text(out / "manifest.json", json.dumps(man, indent=1) + "\n")
    atomic_write_text(out / "manifest.md", _manifest_md(man))
    return man


def compile_model(model, config: EngineConfig, trunc=0) -> EngineProgram:
    """:func:`hw.engine.program.compile_program`, re-exported for the CLI."""
    return compile_program(model, config, trunc)

