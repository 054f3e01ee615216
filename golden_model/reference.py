"""Slow, scalar, pure-Python reference of the contract, used only by tests to cross-check the
vectorized functions. Written independently of them: textbook algorithms, no bit tricks."""

from __future__ import annotations


def naf(x: int, ndigits: int) -> list[int]:
    """NAF digits of ``x``, least significant first, padded to ``ndigits`` (textbook algorithm)."""
    digits = []
    while x != 0:
        if x % 2:
            d = 2 - (x % 4)  # +1 if x = 1 (mod 4), -1 if x = 3 (mod 4)
            x -= d
        else:
            d = 0
        digits.append(d)
        x //= 2
    if len(digits) > ndigits:
        raise ValueError(f"NAF of the value needs {len(digits)} digits, more than {ndigits}")
    return digits + [0] * (ndigits - len(digits))


def truncated_product(a: int, b: int, ndigits: int, t: int) -> int:
    d = naf(b, ndigits)
    return a * sum(di << i for i, di in enumerate(d) if i >= t)


def active_rows(b: int, ndigits: int, t: int) -> int:
    return sum(1 for i, di in enumerate(naf(b, ndigits)) if i >= t and di != 0)


def decode(code: int, scale: int, code_bits: int) -> int:
    big_m = (1 << (code_bits - 1)) - 1
    sign = code >> (code_bits - 1)
    m = code & big_m
    if m == 0:
        return 0
    mag = scale >> (big_m - m)
    return -mag if sign else mag


def metrics(pairs: list[tuple[int, int]]) -> dict:
    """Uniform-weight metrics of (approx, exact) pairs, straight from the definitions."""
    n = len(pairs)
    errs = [ap - ex for ap, ex in pairs]
    rel = [abs(ap - ex) / abs(ex) for ap, ex in pairs if ex != 0]
    top = max(abs(ex) for _, ex in pairs)
    mae = sum(abs(e) for e in errs) / n
    return {
        "er": sum(1 for e in errs if e) / n,
        "mae": mae,
        "mred": sum(rel) / len(rel) if rel else 0.0,
        "nmed": mae / top if top else 0.0,
        "wce": max(abs(e) for e in errs),
        "bias": sum(errs) / n,
        "mse": sum(e * e for e in errs) / n,
    }
