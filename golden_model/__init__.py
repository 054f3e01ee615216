"""qsq golden model: the bit-exact NumPy contract every other part of the project is checked against.

* :mod:`golden_model.config` -- parameter sets and their validation (one source of truth).
* :mod:`golden_model.codec` -- 3-bit (2/3/4) shift-and-scale weight codes: decode, encoder, report.
* :mod:`golden_model.csd` -- canonical signed digit recoding and the truncated-CSD product.
* :mod:`golden_model.metrics` -- error metrics (ER, MAE, MRED, NMED, WCE, bias, MSE).
"""

#: Package version (the one source: ``pyproject.toml`` reads it from here; ``qsq --version``).
__version__ = "0.1.0"

from .codec import (EncodedLayer, LayerReport, decode, encode_layer, layer_report, levels,
                    pack_codes, unpack_codes)
from .config import CodecConfig, MultiplierConfig, OperandFormat
from .csd import (active_rows, active_rows_table, csd_digits, csd_nonzero_count, csd_product,
                  csd_truncate, csd_value, exact_product, product_table)
from .metrics import ErrorMetrics, TruncationRow, error_metrics, truncation_table

__all__ = [
    "__version__",
    "CodecConfig", "MultiplierConfig", "OperandFormat",
    "decode", "levels", "encode_layer", "EncodedLayer", "layer_report", "LayerReport",
    "pack_codes", "unpack_codes",
    "csd_digits", "csd_value", "csd_nonzero_count", "csd_truncate", "active_rows",
    "csd_product", "exact_product", "product_table", "active_rows_table",
    "error_metrics", "ErrorMetrics", "truncation_table", "TruncationRow",
]
