"""Network-level evaluation: a real CNN compressed to quality-scalable weight codes and run
bit-exactly through the truncated-CSD multiplier.

* :mod:`golden_model.nn.data` -- bundled digits, MNIST IDX and CIFAR-10 loaders.
* :mod:`golden_model.nn.model` -- NumPy layers (im2col convolution), architectures.
* :mod:`golden_model.nn.train` -- deterministic training and QAT fine-tuning (STE).
* :mod:`golden_model.nn.quant` -- post-training quantization and bit-exact integer inference.
* :mod:`golden_model.nn.packfile` -- the ``.qsq`` compressed model file.
* :mod:`golden_model.nn.traces` -- multiplier operand traces for switching-activity reports.
* :mod:`golden_model.nn.evaluate` -- the ``qsq evaluate`` report.

Heavy imports (scikit-learn, matplotlib) happen inside the functions that need them.
"""

from .traces import load_traces

__all__ = ["load_traces"]
