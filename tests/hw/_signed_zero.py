"""The sign of an exactly-zero exact sum, from numpy alone (issue 12): -0 iff every product
term is -0 (at least one term), +0 otherwise. Applied to the golden model's codes while
``hw.numerics`` still returns +0 for such sums; a no-op once it follows the rule."""
from __future__ import annotations

import numpy as np

from hw.formats import FloatFormat, parse

__all__ = ["with_ieee_zero_sign"]


def with_ieee_zero_sign(expected, products: np.ndarray, out_format) -> np.ndarray:
    """``expected`` output codes with the -0 code where every product of the reduction is -0.

    Parameters
    ----------
    expected : output codes, shape ``S``.
    products : float64 products (decoded operands multiplied in numpy, which signs zeros as
        IEEE 754 does), shape ``S + (K,)``.
    out_format : the output format (only a float format with a -0 code is affected).
    """
    out = parse(out_format) if isinstance(out_format, str) else out_format
    expected = np.array(expected, copy=True)
    if not isinstance(out, FloatFormat) or not out.has_neg_zero:
        return expected
    neg_zero = np.all((products == 0) & np.signbit(products), axis=-1) & (products.shape[-1] > 0)
    expected[neg_zero] = np.asarray(1 << (out.bits - 1)).astype(expected.dtype)
    return expected
