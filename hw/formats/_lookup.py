"""Lookup formats (a code -> value table) and hybrid integer formats (dINT), both as data.

Built-in tables:

* ``nf4``: QLoRA's NormalFloat4 (Dettmers et al. 2023), the 16 values bitsandbytes ships
  (normal quantiles, asymmetric, exact zero).
* ``sf4``: Student Float 4 (Dotzel et al. 2024), built like NF4 from Student-t (nu = 5)
  quantiles instead of normal ones (``student_float_values``).
* ``apot4``: additive powers-of-two, 4 bits unsigned (Li et al., ICLR 2020): sums of one term
  of {0, 2^-1, 2^-3, 2^-5} and one of {0, 2^-2, 2^-4, 2^-6}, normalised to max 1.

Encoding picks the nearest table value; ties go to the even code ("rne"), to the code of
larger magnitude ("rna"); "rtz" picks the largest magnitude not above |x| on x's side.

A hybrid format (``HybridFormat``) is an integer format in which a set of codes is reassigned
to other values; dINT ("integer codes plus a denormal sub-range") is one instance: the codes
±1..±k of an INTb grid stand for fractions j/(k+1)·step below the first integer step. It is a
lookup table whose values are computed from those few parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import FormatError, NumericsError
from ._base import (Format, as_float64, check_int, check_overflow, check_rounding, code_dtype,
                    nearest_in_table, rng_of)

__all__ = ["LookupFormat", "HybridFormat", "NF4", "SF4", "APOT4", "student_float_values",
           "BUILTIN_LOOKUPS"]


@dataclass(frozen=True)
class LookupFormat(Format):
    """A format defined by its table: code i means ``values[i]``. ``label`` is its name."""

    label: str
    values: tuple[float, ...]

    kind = "lookup"

    def __post_init__(self) -> None:
        vals = tuple(float(v) for v in self.values)
        n = len(vals)
        if n < 2 or n & (n - 1):
            raise FormatError(f"values of lookup format {self.label!r} must have a power-of-two length >= 2, not {n}")
        if not all(math.isfinite(v) for v in vals):
            raise FormatError(f"values of lookup format {self.label!r} must be finite")
        if len(set(vals)) != n:
            raise FormatError(f"values of lookup format {self.label!r} must be distinct")
        object.__setattr__(self, "values", vals)

    def __str__(self) -> str:
        return self.label

    @property
    def bits(self) -> int:
        return len(self.values).bit_length() - 1

    has_inf = False
    has_nan = False
    specials_text = "none"

    @property
    def max(self) -> float:
        return max(abs(v) for v in self.values)

    @property
    def min_subnormal(self) -> float:
        return min(abs(v) for v in self.values if v != 0)

    min_normal = min_subnormal

    @property
    def eps(self) -> float:
        s = sorted(self.values)
        return min(b - a for a, b in zip(s, s[1:]))

    def decode(self, codes) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64)[self.check_codes(codes).astype(np.int64)]

    def encode(self, x, rounding: str = "rne", *, overflow: str = "default",
               seed: int | None = None) -> np.ndarray:
        rounding = check_rounding(rounding)
        check_overflow(overflow)
        x = as_float64(x)
        nan = np.isnan(x)
        if overflow == "raise" and (np.any(nan) or np.any(np.abs(x[~nan]) > self.max)):
            raise NumericsError(f"values encoded to {self} must be within ±{self.max:g} and not NaN")
        table = np.asarray(self.values)
        order = np.argsort(table, kind="stable")
        sv = table[order]
        xv = np.clip(np.where(nan, 0.0, x), sv[0], sv[-1])
        rng = rng_of(seed) if rounding == "stochastic" else None
        return nearest_in_table(sv, order, xv, rounding, rng).astype(code_dtype(self.bits))


NF4 = LookupFormat("nf4", (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0))


def _student_t5_cdf(t: float) -> float:
    """CDF of Student's t with 5 degrees of freedom (closed form for odd nu)."""
    th = math.atan(t / math.sqrt(5.0))
    c = math.cos(th)
    return 0.5 + (th + math.sin(th) * c * (1 + (2.0 / 3.0) * c * c)) / math.pi


def _student_t5_ppf(p: float) -> float:
    lo, hi = -1e6, 1e6
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _student_t5_cdf(mid) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def student_float_values(bits: int = 4, *, offset: float = 0.9677083, ppf=_student_t5_ppf
                         ) -> tuple[float, ...]:
    """NF-style table from quantiles of a distribution: 2**(b-1) positive levels from
    ``ppf(linspace(offset, 0.5))``, 2**(b-1)-1 negative ones, zero, normalised to max 1
    (bitsandbytes' ``create_normal_map`` construction with another ``ppf``)."""
    npos = 1 << (bits - 1)
    pos = [ppf(offset + (0.5 - offset) * i / npos) for i in range(npos)]
    neg = [-ppf(offset + (0.5 - offset) * i / (npos - 1)) for i in range(npos - 1)]
    vals = sorted(pos + [0.0] + neg)
    top = max(abs(v) for v in vals)
    return tuple(v / top for v in vals)


SF4 = LookupFormat("sf4", student_float_values(4))


def _apot_values() -> tuple[float, ...]:
    base_a = [0.0] + [2.0 ** (-2 * i - 1) for i in range(3)]
    base_b = [0.0] + [2.0 ** (-2 * i - 2) for i in range(3)]
    vals = sorted({a + b for a in base_a for b in base_b})
    top = max(vals)
    return tuple(v / top for v in vals)


APOT4 = LookupFormat("apot4", _apot_values())


@dataclass(frozen=True, init=False, eq=False, repr=False)
class HybridFormat(LookupFormat):
    """dINT: a signed ``int_bits`` integer grid whose codes ±1..±``denormal_codes`` are
    reassigned to the sub-unit values ±j/(denormal_codes+1) (a denormal sub-range), the other
    magnitudes shifted down so the grid stays contiguous. Described by two numbers, decoded
    through the generated table. Name ``dint<bits>_d<k>``."""

    def __init__(self, int_bits: int = 4, denormal_codes: int = 1) -> None:
        check_int("int_bits", int_bits, 2, 8)
        top = (1 << (int_bits - 1)) - 1
        check_int("denormal_codes", denormal_codes, 1, top - 1)
        k = denormal_codes
        mags = [j / (k + 1) for j in range(1, k + 1)] + [float(m - k) for m in range(k + 1, top + 1)]
        codes = [0.0] * (1 << int_bits)
        for m, v in enumerate(mags, start=1):
            codes[m] = v
            codes[(1 << int_bits) - m] = -v
        codes[1 << (int_bits - 1)] = -(mags[-1] + 1.0)  # the most negative two's-complement code
        object.__setattr__(self, "int_bits", int_bits)
        object.__setattr__(self, "denormal_codes", k)
        super().__init__(f"dint{int_bits}_d{k}", tuple(codes))

    kind = "hybrid"

    def __repr__(self) -> str:
        return f"HybridFormat(int_bits={self.int_bits}, denormal_codes={self.denormal_codes})"

    def __eq__(self, other) -> bool:
        return isinstance(other, HybridFormat) and (self.int_bits, self.denormal_codes) == (
            other.int_bits, other.denormal_codes)

    def __hash__(self) -> int:
        return hash(("dint", self.int_bits, self.denormal_codes))


BUILTIN_LOOKUPS = {f.label: f for f in (NF4, SF4, APOT4)}
