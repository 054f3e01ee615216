"""``qsq import``: an ONNX float CNN -> a checkpoint ``.npz`` that every other command takes.

Example::

    python -m golden_model.nn.onnx_example -o net.onnx      # an example ONNX file
    qsq import net.onnx -o net.npz                          # import, check, write the checkpoint

The command lives with the engine (the golden model's converter knows nothing of the hardware):
the network is read by :mod:`golden_model.nn.onnx_import`, checked against the engine's layer
order and limits (:mod:`hw.engine.limits`) and against onnxruntime on random images (the result
is printed; beyond :data:`~golden_model.nn.onnx_import.FLOAT_TOLERANCE` the import fails), and
written as a checkpoint that describes its own layer list (:mod:`golden_model.nn.checkpoint`).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import a float CNN from an ONNX file as a checkpoint",
                       description="Read a sequential NCHW float CNN from an ONNX file (Conv, Relu, "
                                   "MaxPool 2x2, Flatten/Reshape, Gemm, MatMul + Add, "
                                   "BatchNormalization folded, Identity/Dropout dropped), check it "
                                   "against the engine's limits and against onnxruntime on random "
                                   "images, and write a checkpoint .npz for qsq pack / train / "
                                   "evaluate / compile.")
    p.add_argument("onnx", help="the .onnx file")
    p.add_argument("-o", "--out", required=True, help="checkpoint .npz to write (replaced atomically)")
    p.add_argument("--name", help="architecture name stored in the checkpoint and the packed file "
                                  "(default onnx-<file stem>)")
    p.add_argument("--check-images", type=int, default=32,
                   help="random images of the float check against onnxruntime (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the check images (default 0)")
    p.set_defaults(func=run_import)


def run_import(args) -> int:
    import time
    from pathlib import Path

    from golden_model.config import check_int
    from golden_model.fileio import check_output_path
    from golden_model.nn.checkpoint import save_checkpoint
    from golden_model.nn.onnx_import import OnnxImportError, check_against_onnxruntime, import_onnx

    from .limits import check_network

    check_int("--check-images", args.check_images, 1, 4096)
    check_int("--seed", args.seed, 0, 2**32 - 1)
    out = check_output_path(args.out, "-o/--out")
    src = Path(args.onnx)
    if out.resolve() == src.resolve():
        raise ValueError(f"-o/--out must differ from the ONNX file, not {str(out)!r}")
    t0 = time.perf_counter()
    res = import_onnx(src, args.name)
    model = res.model
    comp = [(lay.name, lay.w.shape, getattr(lay, "k", 0), getattr(lay, "pad", 0))
            for lay in model.compute_layers]
    ops = [d["op"] for d in model.spec()]
    try:
        size = check_network(ops, model.input_shape, comp)
    except ValueError as exc:
        raise OnnxImportError(f"{src}: {exc}") from None
    check = check_against_onnxruntime(src, model, args.check_images, args.seed)
    if not check.ok:
        raise OnnxImportError(f"{src}: the imported network disagrees with onnxruntime: "
                              f"{check.describe()}")
    seconds = time.perf_counter() - t0
    info = res.info
    print(f"qsq import: {src} ({info['producer'] or 'unknown producer'}, opset {info['opset']}, "
          f"{info['onnx_nodes']} nodes) -> {model.arch}, input "
          f"{'x'.join(map(str, model.input_shape))}, {len(comp)} compute layers")
    for lay in model.layers:
        name = getattr(lay, "name", "-")
        made = f"  <- {', '.join(res.nodes[name])}" if name in res.nodes else ""
        print(f"  {name:6s} {lay.describe()}{made}")
    print(f"  {check.describe()}")
    print(f"  engine limits: {size.describe()}")
    meta = {"arch": model.arch, "source": "onnx", "onnx": info, "layer_nodes": res.nodes,
            "float_check": {"images": check.images, "max_abs_diff": check.max_abs_diff,
                            "tolerance": check.tolerance, "argmax_agree": check.argmax_agree}}
    out.parent.mkdir(parents=True, exist_ok=True)
    path = save_checkpoint(out, meta, model)
    print(f"wrote {path} ({path.stat().st_size} bytes) in {seconds:.2f} s; next: qsq pack {path} "
          f"--calib IMAGES -o {path.with_suffix('.qsq')}")
    return 0
