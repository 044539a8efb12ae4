"""GEMM operands of a quantization recipe: a tensor quantized with one of the recipe's
quantizers into the codes, element format and scales that ``hw.numerics.gemm`` takes. Shared by
numerics mode (``sim._numerics``) and the forward pass (``sim._forward``)."""
from __future__ import annotations

import numpy as np

from hw.formats import FloatFormat, Quantizer

__all__ = ["is_plain_float", "quantize_operand"]


def is_plain_float(q: Quantizer) -> bool:
    """True when ``q`` encodes values directly in a float format of 16 bits or more (no scale)."""
    return isinstance(q.format, FloatFormat) and q.format.bits >= 16


def quantize_operand(q: Quantizer, x: np.ndarray):
    """(codes, element format, block scale codes or None, outer scale values broadcastable
    along the leading axis or None) of ``x`` quantized along its last axis."""
    if is_plain_float(q):
        return q.format.encode(x), q.format, None, None
    scodes, codes = q.quantize(x)
    if q.granularity == "block":
        return codes, q.format, scodes, None
    s = q.scale_format.decode(scodes)
    s = np.where(s > 0, s, 1.0)
    return codes, q.format, None, (s[..., None] if q.granularity != "tensor" else s)
