"""A slow, obviously correct GEMM reference: exact rational sums (Python ``fractions``),
rounded once. Used by the demo's bit-exactness check and by tests on small shapes."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..formats import Format
from ._arith import round_fraction

__all__ = ["reference_gemm"]


def reference_gemm(a_values: np.ndarray, b_values: np.ndarray, out_fmt: Format,
                   rounding: str = "rne") -> np.ndarray:
    """Codes of A @ B (finite float64 value matrices) summed exactly and rounded once."""
    a = [[Fraction(float(x)) for x in row] for row in np.asarray(a_values)]
    bt = [[Fraction(float(x)) for x in col] for col in np.asarray(b_values).T]
    sums = [sum((x * y for x, y in zip(row, col)), Fraction(0)) for row in a for col in bt]
    codes = round_fraction(sums, out_fmt, rounding)
    return codes.reshape(len(a), len(bt))
