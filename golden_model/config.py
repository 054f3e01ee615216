"""Parameter sets shared by the golden model, the RTL generators, the testbenches and the reports.

Every parameter is validated here, once; the hardware modules build these objects from their own
constructor arguments so that an invalid value gets the same message everywhere.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_OPERAND_WIDTH",
    "MAX_SCALE_BITS",
    "CODE_BITS_ALLOWED",
    "GATING_STYLES",
    "SIGN_STYLES",
    "EXPONENT_BITS",
    "check_int",
    "check_bool",
    "OperandFormat",
    "MultiplierConfig",
    "CodecConfig",
]

#: Widest operand the golden model accepts (products must stay exact in int64 and float64).
MAX_OPERAND_WIDTH = 24
#: Widest per-filter scale.
MAX_SCALE_BITS = 15
#: Allowed weight-code widths (sign + magnitude index).
CODE_BITS_ALLOWED = (2, 3, 4)
#: Width of the per-layer power-of-two exponent field (signed, two's complement).
EXPONENT_BITS = 8
#: Partial-product register gating styles of the hardware multipliers (see ``hw/``).
GATING_STYLES = ("none", "enable", "icg")
#: Row negation styles of the compact CSD multiplier (``hw/csd_compact.py``).
SIGN_STYLES = ("xor", "split")


def check_int(name: str, value, lo: int, hi: int) -> int:
    """Return ``value`` if it is an integer in ``[lo, hi]``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``bool`` is rejected too).
    ValueError
        If ``value`` lies outside ``[lo, hi]``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    return int(value)


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is a ``bool``; raise ``TypeError`` otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return bool(value)


@dataclass(frozen=True)
class OperandFormat:
    """A two's-complement (``signed``) or plain binary integer operand of ``width`` bits.

    Parameters
    ----------
    width : int
        Number of bits, 1 to :data:`MAX_OPERAND_WIDTH`.
    signed : bool
        Two's complement if true.
    name : str
        Parameter name used in error messages (``"a"`` or ``"b"``).

    Attributes
    ----------
    min, max : int
        Smallest and largest representable value.
    ndigits : int
        Number of canonical-signed-digit positions that suffice for every value: ``width`` for a
        signed operand, ``width + 1`` for an unsigned one.
    """

    width: int
    signed: bool
    name: str = "operand"

    def __post_init__(self):
        check_int(f"{self.name}_width", self.width, 1, MAX_OPERAND_WIDTH)
        check_bool(f"{self.name}_signed", self.signed)

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def ndigits(self) -> int:
        return self.width if self.signed else self.width + 1

    @property
    def count(self) -> int:
        """Number of representable values."""
        return 1 << self.width

    def values(self) -> np.ndarray:
        """Every representable value, ascending, as ``int64``."""
        return np.arange(self.min, self.max + 1, dtype=np.int64)

    def index(self, values) -> np.ndarray:
        """Position of each value in :meth:`values` (``value - min``), for table look-ups."""
        return np.asarray(values, dtype=np.int64) - self.min

    def describe(self) -> str:
        return f"{'signed' if self.signed else 'unsigned'} {self.width}-bit"

    def check(self, values, name: str | None = None) -> np.ndarray:
        """Return ``values`` as an ``int64`` array, or raise if any lies outside the format.

        Raises
        ------
        TypeError
            If the values are not integers.
        ValueError
            If any value is outside ``[min, max]``.
        """
        name = name or self.name
        arr = np.asarray(values)
        if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == object):
            raise TypeError(f"{name} must be integers, not an array of {arr.dtype}")
        if arr.dtype == object:
            if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in arr.flat):
                raise TypeError(f"{name} must be integers")
        if arr.size:
            lo, hi = arr.min(), arr.max()
            if lo < self.min or hi > self.max:
                bad = lo if lo < self.min else hi
                raise ValueError(
                    f"{name} must lie in [{self.min}, {self.max}] ({self.describe()}), "
                    f"not {int(bad)!r}")
        return arr.astype(np.int64)


@dataclass(frozen=True)
class MultiplierConfig:
    """Operand formats of a truncated-CSD multiplier ``p = a * b_t``.

    ``b`` is the operand recoded to canonical signed digits (the weight), ``a`` the other one (the
    activation). The product is exact for the truncated ``b_t`` and fits ``a_width + b_width`` bits,
    signed if either operand is.

    Parameters
    ----------
    a_width, b_width : int
        Operand widths, 1 to :data:`MAX_OPERAND_WIDTH`.
    a_signed, b_signed : bool
        Two's complement operands if true.
    """

    a_width: int = 8
    a_signed: bool = True
    b_width: int = 8
    b_signed: bool = True

    def __post_init__(self):
        # Constructing the formats validates the four parameters.
        self.a, self.b  # noqa: B018

    @property
    def a(self) -> OperandFormat:
        return OperandFormat(self.a_width, self.a_signed, "a")

    @property
    def b(self) -> OperandFormat:
        return OperandFormat(self.b_width, self.b_signed, "b")

    @property
    def ndigits(self) -> int:
        """Number of CSD digit positions of ``b`` (and of partial-product rows)."""
        return self.b.ndigits

    @property
    def truncation_levels(self) -> range:
        """Valid truncation levels ``t``: 0 (exact) to :attr:`ndigits` (everything dropped)."""
        return range(self.ndigits + 1)

    @property
    def p_width(self) -> int:
        return self.a_width + self.b_width

    @property
    def p_signed(self) -> bool:
        return self.a_signed or self.b_signed

    def check_truncation(self, t, name: str = "truncation"):
        """Validate a truncation level (int) or an integer array of levels; return it."""
        hi = self.ndigits
        if isinstance(t, np.ndarray):
            if t.dtype == np.bool_ or not np.issubdtype(t.dtype, np.integer):
                raise TypeError(f"{name} must be an integer in [0, {hi}], not an array of {t.dtype}")
            if t.size and (t.min() < 0 or t.max() > hi):
                bad = t.min() if t.min() < 0 else t.max()
                raise ValueError(f"{name} must be an integer in [0, {hi}], not {int(bad)!r}")
            return t.astype(np.int64)
        return check_int(name, t, 0, hi)

    def describe(self) -> str:
        return f"{self.a.describe()} a x {self.b.describe()} b"

    def tag(self) -> str:
        """Short identifier, e.g. ``s8xs8`` or ``u8xs8``, for file and directory names."""
        return (f"{'s' if self.a_signed else 'u'}{self.a_width}x"
                f"{'s' if self.b_signed else 'u'}{self.b_width}")


@dataclass(frozen=True)
class CodecConfig:
    """Format of the quality-scalable weight codes.

    A code has ``code_bits`` bits: the MSB is the sign ``s``, the low ``code_bits - 1`` bits the
    magnitude index ``m``. With ``M = 2**(code_bits - 1) - 1``, ``m = 0`` decodes to 0 and
    ``m >= 1`` to ``(-1)**s * (S >> (M - m))`` for the unsigned per-filter scale
    ``1 <= S < 2**scale_bits``. The code ``s = 1, m = 0`` is reserved: it decodes to 0 and the
    encoder never produces it.

    Parameters
    ----------
    code_bits : int
        2, 3 or 4.
    scale_bits : int
        Width of the per-filter scale, 1 to :data:`MAX_SCALE_BITS`; decoded weights are signed
        ``scale_bits + 1``-bit integers.
    """

    code_bits: int = 3
    scale_bits: int = 7

    def __post_init__(self):
        if isinstance(self.code_bits, bool) or not isinstance(self.code_bits, numbers.Integral):
            raise TypeError(f"code_bits must be one of {CODE_BITS_ALLOWED}, not {self.code_bits!r}")
        if self.code_bits not in CODE_BITS_ALLOWED:
            raise ValueError(f"code_bits must be one of {CODE_BITS_ALLOWED}, not {self.code_bits!r}")
        check_int("scale_bits", self.scale_bits, 1, MAX_SCALE_BITS)

    @property
    def max_index(self) -> int:
        """``M``, the largest magnitude index; the number of nonzero magnitude levels."""
        return (1 << (self.code_bits - 1)) - 1

    @property
    def reserved_code(self) -> int:
        """The code with sign 1 and index 0 (negative zero)."""
        return 1 << (self.code_bits - 1)

    @property
    def scale_max(self) -> int:
        return (1 << self.scale_bits) - 1

    @property
    def weight_width(self) -> int:
        """Width of a decoded weight (signed)."""
        return self.scale_bits + 1

    @property
    def weight_format(self) -> OperandFormat:
        """Decoded weights as a multiplier operand (signed, :attr:`weight_width` bits)."""
        return OperandFormat(self.weight_width, True, "b")

    def check_codes(self, codes, name: str = "codes") -> np.ndarray:
        return OperandFormat(self.code_bits, False, name).check(codes, name)

    def check_scales(self, scales, name: str = "scale") -> np.ndarray:
        arr = OperandFormat(self.scale_bits, False, name).check(scales, name)
        if arr.size and arr.min() < 1:
            raise ValueError(f"{name} must lie in [1, {self.scale_max}], not {int(arr.min())!r}")
        return arr
