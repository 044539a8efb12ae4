"""Integer and fixed-point descriptors: signed or unsigned, any width 1..32, optional fraction
bits (MX INT elements are int8 with 6 fraction bits) and optional symmetric range (no -2**(b-1)).

Default overflow policy: saturate. "wrap" keeps the low ``bits`` bits (two's complement).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import FormatError, FormatTypeError, NumericsError
from ._base import (Format, as_float64, check_int, check_overflow, check_rounding, code_dtype,
                    mod_2_64, round_scaled)

__all__ = ["IntFormat"]


@dataclass(frozen=True)
class IntFormat(Format):
    """A two's-complement (or unsigned) integer of ``bits`` bits, value = integer * 2**-frac_bits.

    Parameters
    ----------
    bits : width 1..32 (signed needs at least 2).
    signed : two's complement if True, unsigned otherwise.
    frac_bits : fraction bits, 0..32 (fixed point).
    symmetric : exclude the most negative code -2**(bits-1) (MX INT elements are symmetric).
    """

    bits: int
    signed: bool = True
    frac_bits: int = 0
    symmetric: bool = False

    kind = "int"

    def __post_init__(self) -> None:
        check_int("bits", self.bits, 1, 32)
        if not isinstance(self.signed, bool):
            raise FormatTypeError(f"signed must be a bool, not {self.signed!r}")
        if self.signed and self.bits < 2:
            raise FormatError(f"bits of a signed integer must be in 2..32, not {self.bits!r}")
        check_int("frac_bits", self.frac_bits, 0, 32)
        if self.symmetric and not self.signed:
            raise FormatError("symmetric must be False for an unsigned integer, not True")

    def __str__(self) -> str:
        return (("" if self.signed else "u") + f"int{self.bits}"
                + (f"_f{self.frac_bits}" if self.frac_bits else "") + ("_sym" if self.symmetric else ""))

    has_inf = False
    has_nan = False

    @property
    def min_int(self) -> int:
        if not self.signed:
            return 0
        return -(1 << (self.bits - 1)) + (1 if self.symmetric else 0)

    @property
    def max_int(self) -> int:
        return (1 << (self.bits - (1 if self.signed else 0))) - 1

    @property
    def scale(self) -> float:
        """Value of one integer step, 2**-frac_bits."""
        return math.ldexp(1.0, -self.frac_bits)

    @property
    def max(self) -> float:
        return self.max_int * self.scale

    @property
    def min(self) -> float:
        return self.min_int * self.scale

    @property
    def min_normal(self) -> float:
        return self.scale

    min_subnormal = min_normal
    eps = min_normal
    specials_text = "none"

    @property
    def emax(self) -> int:
        """Exponent of the largest power of two <= max (MX: the element's emax)."""
        return math.floor(math.log2(self.max))

    def all_codes(self) -> np.ndarray:
        """Every code ``decode`` accepts, ascending (a symmetric format leaves out the code
        2**(bits-1), which would mean -2**(bits-1))."""
        codes = super().all_codes()
        if self.symmetric:
            codes = codes[codes != (1 << (self.bits - 1))]
        return codes

    def to_int(self, codes) -> np.ndarray:
        """Codes -> the integers they hold (int64), range-checked."""
        c = self.check_codes(codes).astype(np.int64)
        if self.signed:
            c = np.where(c >= (1 << (self.bits - 1)), c - (1 << self.bits), c)
            if self.symmetric and np.any(c == -(1 << (self.bits - 1))):
                raise NumericsError(f"codes of {self} must not be the excluded code {1 << (self.bits - 1)}")
        return c

    def from_int(self, ints) -> np.ndarray:
        """Integers (already in range) -> codes."""
        i = np.asarray(ints, dtype=np.int64)
        return (i & ((1 << self.bits) - 1)).astype(code_dtype(self.bits))

    def decode(self, codes) -> np.ndarray:
        return np.ldexp(self.to_int(codes).astype(np.float64), -self.frac_bits)

    def encode(self, x, rounding: str = "rne", *, overflow: str = "default",
               seed: int | None = None) -> np.ndarray:
        """Round values to integers * 2**-frac_bits and return codes.

        overflow: "default"/"saturate" clamp to [min, max]; "wrap" keeps the low bits of the
        rounded integer (exact modular arithmetic for any finite value: float64 values of 2**52
        and above are integers already); "raise" raises on values outside the range. NaN encodes
        as 0 ("raise" raises); ±inf saturate ("wrap" raises: infinity has no low bits).
        """
        rounding = check_rounding(rounding)
        check_overflow(overflow)
        if overflow in ("inf", "nan"):
            raise FormatError(f"overflow must be 'saturate', 'wrap' or 'raise' for {self}, not {overflow!r}")
        x = as_float64(x)
        nan = np.isnan(x)
        s = np.ldexp(np.where(nan, 0.0, x), self.frac_bits)
        neg = s < 0
        a = np.abs(s)
        huge = ~(a < 2.0 ** 52)
        r = round_scaled(np.where(huge, 0.0, a), rounding, seed)
        r = np.where(neg, -r, r)
        lo, hi = self.min_int, self.max_int
        over = huge | (r < lo) | (r > hi)
        if overflow == "raise" and (np.any(over) or np.any(nan)):
            bad = x[over | nan].flat[0]
            raise NumericsError(f"values encoded to {self} must be within {self.min:g}..{self.max:g}, not {bad!r}")
        if overflow == "wrap":
            if np.any(np.isinf(x)):
                raise NumericsError(f"values wrapped to {self} must be finite, not {float(x[np.isinf(x)].flat[0])!r}")
            low = mod_2_64(np.where(huge, np.where(nan, 0.0, s), r))
            ints = (low & np.uint64((1 << self.bits) - 1)).astype(np.int64)
        else:
            ints = np.clip(np.where(huge, np.where(neg, lo, hi), r), lo, hi).astype(np.int64)
        ints = np.where(nan, 0, ints)
        return self.from_int(ints)

    def to_ml_dtypes(self):
        if self.frac_bits or self.symmetric:
            return None
        name = ("" if self.signed else "u") + f"int{self.bits}"
        if self.bits in (8, 16, 32):
            return np.dtype(name)
        import ml_dtypes

        dt = getattr(ml_dtypes, name, None)
        return None if dt is None else np.dtype(dt)
