"""Block formats: an element format, a block size and a shared scale along the last axis.

* OCP MX v1.0 (``mxfp8_e4m3``, ``mxfp8_e5m2``, ``mxfp6_e2m3``, ``mxfp6_e3m2``, ``mxfp4``,
  ``mxint8``; block 32, E8M0 scale) and ``mxint4`` (blocks of 4): the scale is
  X = 2**(floor(log2 amax) - emax_elem) with floor(log2 amax) taken from the *exponent field*
  of amax (exact, not a float log2 — microxcaling's float32 log2 deviates, see
  ``../shared/vectors/README.md`` §3), clamped to the scale's range (above -> NaN scale,
  below -> smallest scale); elements V/X are rounded and **saturate** to ±max; any inf/NaN in
  a block makes its scale NaN. All-zero blocks take floor(log2 amax) = -126 (microxcaling's
  FP32 convention).
* Block floating point: a ``ScaleFormat`` of any exponent width over INT elements of any width
  (same rule as MX INT).
* Float scales (``nvfp4``: e2m1 elements, blocks of 16, e4m3fn scale; ``nvint4``): the scale is
  amax / elem_max rounded to the scale format, elements V/scale saturate.

Canonical names: the MX names above, ``nvfp4``/``nvint4``, else ``<element>_x<block>_<scale>``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import FormatError, FormatTypeError, NumericsError
from ._base import Format, as_float64, check_int, check_rounding, code_dtype
from ._float import FloatFormat, ScaleFormat
from ._int import IntFormat

__all__ = ["BlockFormat", "MX_ELEMENT_NAMES"]

E8M0 = ScaleFormat(8)
#: element format name -> MX name (block 32, E8M0)
MX_ELEMENT_NAMES = {
    "e4m3fn": "mxfp8_e4m3", "e5m2": "mxfp8_e5m2", "e2m3fn": "mxfp6_e2m3",
    "e3m2fn": "mxfp6_e3m2", "e2m1fn": "mxfp4", "int8_f6_sym": "mxint8",
}


@dataclass(frozen=True)
class BlockFormat(Format):
    """``element`` values sharing one ``scale`` per ``block_size`` consecutive elements."""

    element: Format
    block_size: int
    scale: Format = E8M0

    kind = "block"

    def __post_init__(self) -> None:
        if not isinstance(self.element, (FloatFormat, IntFormat)):
            error = FormatError if isinstance(self.element, Format) else FormatTypeError
            raise error(f"element must be a float or integer format, not {self.element!r}")
        check_int("block_size", self.block_size, 1, 1 << 16)
        if not isinstance(self.scale, (ScaleFormat, FloatFormat)):
            error = FormatError if isinstance(self.scale, Format) else FormatTypeError
            raise error(f"scale must be a power-of-two scale or float format, not {self.scale!r}")

    def __str__(self) -> str:
        el, sc, bs = str(self.element), self.scale, self.block_size
        if sc == E8M0 and bs == 32 and el in MX_ELEMENT_NAMES:
            return MX_ELEMENT_NAMES[el]
        if sc == E8M0 and bs == 4 and el == "int4_f2_sym":
            return "mxint4"
        if str(sc) == "e4m3fn" and bs == 16 and el == "e2m1fn":
            return "nvfp4"
        if str(sc) == "e4m3fn" and bs == 16 and el == "int4_sym":
            return "nvint4"
        return f"{el}_x{bs}_{sc}"

    @property
    def bits(self) -> int:
        """Bits of one element code."""
        return self.element.bits

    @property
    def bits_per_element(self) -> float:
        return self.element.bits + self.scale.bits / self.block_size

    @property
    def max(self) -> float:
        return self.element.max * self.scale.max

    @property
    def min_subnormal(self) -> float:
        smallest = self.scale.min_normal if isinstance(self.scale, ScaleFormat) else self.scale.min_subnormal
        return self.element.min_subnormal * smallest

    @property
    def min_normal(self) -> float:
        return self.element.min_normal

    @property
    def eps(self) -> float:
        return self.element.eps

    @property
    def has_nan(self) -> bool:
        return True

    has_inf = False

    @property
    def specials_text(self) -> str:
        return "NaN scale"

    @property
    def emax_elem(self) -> int:
        """Exponent of the largest power of two <= the element's max (OCP MX ``emax_elem``)."""
        return math.floor(math.log2(self.element.max))

    # ---- quantize / dequantize ---------------------------------------------------------
    def _blocks(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        n = x.shape[-1]
        nb = -(-n // self.block_size)
        pad = nb * self.block_size - n
        if pad:
            x = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,))], axis=-1)
        return x.reshape(x.shape[:-1] + (nb, self.block_size)), n

    def quantize(self, x, rounding: str = "rne", *, seed: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Quantize along the last axis.

        Returns
        -------
        (scale_codes, element_codes): scale codes of shape ``x.shape[:-1] + (nblocks,)`` (a
        partial last block is padded with zeros for its amax) and element codes of ``x.shape``.
        """
        rounding = check_rounding(rounding)
        x = as_float64(x)
        if x.ndim == 0:
            raise NumericsError(f"values quantized to {self} must have at least one axis")
        xb, n = self._blocks(x)
        bad = ~np.isfinite(xb).all(axis=-1)
        amax = np.where(bad, 0.0, np.abs(np.where(np.isfinite(xb), xb, 0.0)).max(axis=-1))
        if isinstance(self.scale, ScaleFormat):
            _, fexp = np.frexp(amax)
            e = np.where(amax > 0, fexp.astype(np.int64) - 1, -126)
            sexp = e - self.emax_elem
            bad |= sexp > self.scale.emax
            sexp = np.clip(sexp, self.scale.emin, self.scale.emax)
            scale_codes = np.where(bad, self.scale.nan_code, sexp + self.scale.bias)
            scale_codes = scale_codes.astype(code_dtype(self.scale.bits))
            scale_val = np.ldexp(1.0, sexp)
        else:
            target = amax / self.element.max
            scale_codes = self.scale.encode(target, "rne", overflow="saturate")
            scale_val = self.scale.decode(scale_codes)
            zero = (scale_val == 0) | bad
            scale_codes = np.where(bad, self.scale.nan_code, scale_codes).astype(code_dtype(self.scale.bits))
            scale_val = np.where(zero, 1.0, scale_val)
        scaled = xb / scale_val[..., None]
        scaled = np.where(bad[..., None], 0.0, scaled)
        overflow = "saturate"
        elem = self.element.encode(scaled, rounding, overflow=overflow, seed=seed)
        elem = elem.reshape(elem.shape[:-2] + (-1,))[..., :n]
        return scale_codes, elem

    def dequantize(self, scale_codes, element_codes) -> np.ndarray:
        """Element values times their block's scale (NaN where the scale is NaN), float64."""
        sc = self.scale.decode(scale_codes)
        el = self.element.decode(element_codes)
        n = el.shape[-1]
        nb = -(-n // self.block_size)
        if sc.shape != el.shape[:-1] + (nb,):
            raise NumericsError(f"scale codes of {self} must have shape {el.shape[:-1] + (nb,)}, not {sc.shape}")
        return el * np.repeat(sc, self.block_size, axis=-1)[..., :n]

    def decode(self, codes) -> np.ndarray:
        """Element codes -> element values (without the shared scale)."""
        return self.element.decode(codes)

    def encode(self, x, rounding: str = "rne", *, overflow: str = "default",
               seed: int | None = None) -> np.ndarray:
        """Element encoding of already-scaled values (saturating); see ``quantize`` for blocks."""
        return self.element.encode(x, rounding, overflow="saturate" if overflow == "default" else overflow,
                                   seed=seed)
