"""Minifloat descriptors ExMy (FP32, FP16, BF16, FP8, FP6, FP4 and any other E in 1..8,
M in 0..23), with bias and special-value policy, and the power-of-two scale format E8M0.

Special-value policies:

* ``"ieee"``: exponent all-ones is inf (mantissa 0) or NaN (e5m2, float16, bfloat16, float32);
  overflow rounds to inf (to max finite under "rtz", as IEEE 754 says).
* ``"fn"``: OCP "finite": no inf, NaN only at the all-ones code (e4m3fn); overflow -> NaN as
  ml_dtypes does (MX elements override this with ``overflow="saturate"``).
* ``"fnuz"``: no inf, no negative zero, NaN at the -0 code (e4m3fnuz, e5m2fnuz); default bias
  2**(E-1); overflow -> NaN.
* ``"none"``: no inf and no NaN (fp6, fp4); overflow saturates to ±max.

``neg_zero_value`` reassigns the -0 code to an extra value (the "supernormal" E2M1 variant,
e.g. ``e2m1fn_nz8.0``). Its limits count the extra value (``max`` is the largest finite value,
``min`` the most negative one), and encoding rounds to the nearest of all finite values; a
value beyond the largest magnitude on its side overflows when it is past half the gap below
that value (the grid continued by its last step), which is what ``overflow="raise"`` checks.
RNE ties go to the even code; a tie between two even codes (the extra value and a regular
neighbour) goes to the larger magnitude.

Rules every encode follows (documented once, tested against ml_dtypes, numpy and ``Fraction``):

* **Infinity is exact.** ±inf stays ±inf in a format with infinity, in every rounding mode
  and under the "default", "inf" and "raise" policies; only ``overflow="saturate"`` clamps it to
  ±max. Finite results too large for the format follow the overflow policy (IEEE default: inf,
  or ±max under "rtz" as IEEE 754 says).
* **NaN payloads are not kept.** A NaN input encodes to the format's canonical quiet NaN code
  with the input's sign bit (unsigned for "fnuz", whose only NaN is the -0 code), in every
  rounding mode. numpy's float64 -> float16/float32 cast keeps payload bits; we do not (ml_dtypes
  canonicalises too). Formats without NaN give +0 (undefined; "raise" raises).
* IEEE specials need M >= 1 (a NaN is an all-ones exponent with a non-zero mantissa), so
  ``e5m0`` with IEEE specials is rejected; use ``e5m0fnsat`` or the ``ScaleFormat`` family.

Canonical names follow ml_dtypes: ``e4m3fn``, ``e5m2``, ``e4m3fnuz``, ``e4m3b11fnuz`` (a bias
other than the policy's default is spelled ``b<bias>``), ``e2m3fn`` / ``e3m2fn`` / ``e2m1fn``
for the sub-byte OCP formats (which have *no* NaN: ml_dtypes spells policy "none" as ``fn``
below 8 bits), and ``float32``, ``float16``, ``bfloat16``. The rarely needed combinations
"none" at ≥ 8 bits and "fn" below 8 bits are spelled ``fnsat`` and ``fnnan``.
"""
from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass, field

import numpy as np

from ..errors import FormatError, FormatTypeError, NumericsError
from ._base import (Format, as_float64, check_int, check_overflow, check_rounding, code_dtype,
                    nearest_in_table, rng_of, round_scaled)

__all__ = ["FloatFormat", "ScaleFormat", "SPECIALS"]

SPECIALS = ("ieee", "fn", "fnuz", "none")
_NUMPY_IEEE = {"float32": (np.float32, np.uint32), "float16": (np.float16, np.uint16)}
_IEEE_NAMES = {(8, 23): "float32", (5, 10): "float16", (8, 7): "bfloat16"}


@dataclass(frozen=True)
class FloatFormat(Format):
    """A sign/exponent/mantissa minifloat.

    Parameters
    ----------
    exp_bits : exponent field width E, 1..8.
    man_bits : mantissa field width M, 0..23.
    bias : exponent bias; default 2**(E-1)-1 (2**(E-1) for "fnuz").
    specials : "ieee", "fn", "fnuz" or "none" (see the module docstring).
    neg_zero_value : if given, the value of the -0 code (supernormal variant).
    """

    exp_bits: int
    man_bits: int
    bias: int | None = None
    specials: str = "ieee"
    neg_zero_value: float | None = field(default=None)

    kind = "float"

    def __post_init__(self) -> None:
        check_int("exp_bits", self.exp_bits, 1, 8)
        check_int("man_bits", self.man_bits, 0, 23)
        if not isinstance(self.specials, str):
            raise FormatTypeError(f"specials must be one of {', '.join(SPECIALS)}, not {self.specials!r}")
        if self.specials not in SPECIALS:
            raise FormatError(f"specials must be one of {', '.join(SPECIALS)}, not {self.specials!r}")
        if self.specials == "ieee" and self.exp_bits < 2:
            raise FormatError(f"exp_bits must be at least 2 for IEEE specials, not {self.exp_bits!r}")
        if self.specials == "ieee" and self.man_bits < 1:
            raise FormatError(f"man_bits must be at least 1 for IEEE specials (NaN needs a non-zero "
                              f"mantissa), not {self.man_bits!r}")
        if self.bias is None:
            object.__setattr__(self, "bias", (1 << (self.exp_bits - 1)) - (0 if self.specials == "fnuz" else 1))
        else:
            check_int("bias", self.bias, -(1 << 8), 1 << 8)
            object.__setattr__(self, "bias", int(self.bias))
        if self.neg_zero_value is not None:
            if self.specials in ("fnuz", "ieee"):
                raise FormatError(f"neg_zero_value needs a format with a -0 code and no inf, not specials={self.specials!r}")
            if isinstance(self.neg_zero_value, (bool, np.bool_)) \
                    or not isinstance(self.neg_zero_value, (int, float, np.integer, np.floating)):
                raise FormatTypeError(f"neg_zero_value must be a finite non-zero number, not {self.neg_zero_value!r}")
            v = float(self.neg_zero_value)
            if not math.isfinite(v) or v == 0.0:
                raise FormatError(f"neg_zero_value must be a finite non-zero number, not {self.neg_zero_value!r}")
            object.__setattr__(self, "neg_zero_value", v)
            if self.bits > 16:
                raise FormatError(f"neg_zero_value needs a format of at most 16 bits, not {self.bits!r}")
        if (self._regular_max_code >> self.man_bits) - self.bias < self.emin:
            raise FormatError(f"format e{self.exp_bits}m{self.man_bits} with specials={self.specials!r} has no normal numbers")

    # ---- names -------------------------------------------------------------------------
    def __str__(self) -> str:
        e, m = self.exp_bits, self.man_bits
        if self.specials == "ieee" and self.bias == (1 << (e - 1)) - 1 and (e, m) in _IEEE_NAMES \
                and self.neg_zero_value is None:
            return _IEEE_NAMES[(e, m)]
        default_bias = (1 << (e - 1)) - (0 if self.specials == "fnuz" else 1)
        name = f"e{e}m{m}" + (f"b{self.bias}" if self.bias != default_bias else "")
        small = self.bits < 8
        name += {"ieee": "", "fnuz": "fnuz", "fn": "fnnan" if small else "fn",
                 "none": "fn" if small else "fnsat"}[self.specials]
        if self.neg_zero_value is not None:
            name += f"_nz{self.neg_zero_value!r}"
        return name

    # ---- derived limits ----------------------------------------------------------------
    @property
    def bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.specials in ("ieee", "fn", "fnuz")

    @property
    def has_neg_zero(self) -> bool:
        return self.specials != "fnuz" and self.neg_zero_value is None

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number."""
        return 1 - self.bias

    @property
    def _top_field(self) -> int:
        return (1 << self.exp_bits) - 1

    @property
    def _regular_max_code(self) -> int:
        """Code of the largest finite value of the regular grid (without the -0 code's value)."""
        m_all = (1 << self.man_bits) - 1
        if self.specials == "ieee":
            return ((self._top_field - 1) << self.man_bits) | m_all
        if self.specials == "fn":
            return ((self._top_field << self.man_bits) | m_all) - 1  # all-ones is NaN
        return (self._top_field << self.man_bits) | m_all

    @property
    def max_code(self) -> int:
        """Code of the largest finite value (the -0 code when it holds a larger extra value)."""
        if self.neg_zero_value is not None and self.neg_zero_value > self._regular_max:
            return 1 << (self.bits - 1)
        return self._regular_max_code

    @property
    def _emax(self) -> int:
        return (self._regular_max_code >> self.man_bits) - self.bias

    @property
    def _regular_max(self) -> float:
        c = self._regular_max_code
        sig = (c & ((1 << self.man_bits) - 1)) | (1 << self.man_bits)
        return math.ldexp(float(sig), self._emax - self.man_bits)

    @property
    def emax(self) -> int:
        """Exponent of the largest finite value, floor(log2(max))."""
        return math.frexp(self.max)[1] - 1

    @property
    def max(self) -> float:
        """Largest finite value."""
        if self.neg_zero_value is not None:
            return max(self._regular_max, self.neg_zero_value)
        return self._regular_max

    @property
    def min(self) -> float:
        """Most negative finite value (-max, or the -0 code's value when it is below that)."""
        if self.neg_zero_value is not None:
            return min(-self._regular_max, self.neg_zero_value)
        return -self._regular_max

    @property
    def min_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def min_subnormal(self) -> float:
        """Smallest positive value (equals min_normal when M = 0)."""
        return math.ldexp(1.0, self.emin - self.man_bits)

    @property
    def eps(self) -> float:
        """Distance from 1 to the next larger value, 2**-M."""
        return math.ldexp(1.0, -self.man_bits)

    @property
    def nan_code(self) -> int | None:
        """The canonical (positive, quiet) NaN code, or None."""
        if self.specials == "ieee":
            return (self._top_field << self.man_bits) | (1 << max(self.man_bits - 1, 0))
        if self.specials == "fn":
            return (1 << (self.bits - 1)) - 1
        if self.specials == "fnuz":
            return 1 << (self.bits - 1)
        return None

    @property
    def specials_text(self) -> str:
        parts = []
        if self.has_inf:
            parts.append("inf")
        if self.has_nan:
            parts.append("NaN")
        if self.neg_zero_value is not None:
            parts.append(f"-0 code={self.neg_zero_value:g}")
        return "+".join(parts) or "none"

    # ---- decode --------------------------------------------------------------------------
    def decode(self, codes) -> np.ndarray:
        if self.bits <= 16:  # one gather from the table of every code
            return _decode_table(self)[self.check_codes(codes)]
        if _cast_dtypes(self) is not None:  # float32: numpy's float32 is this format, bit for bit
            with np.errstate(invalid="ignore"):  # signalling NaN codes convert quietly
                val = self.check_codes(codes).view(np.float32).astype(np.float64)
            if np.isnan(val.max(initial=0.0)):  # NaN somewhere: the canonical NaN with the code's sign
                val = np.where(np.isnan(val), np.copysign(np.nan, val), val)
            return val
        return self._decode_arith(codes)

    def _decode_arith(self, codes) -> np.ndarray:
        c = self.check_codes(codes).astype(np.int64)
        e_bits, m_bits = self.exp_bits, self.man_bits
        sign = (c >> (e_bits + m_bits)) & 1
        ef = (c >> m_bits) & self._top_field
        mf = c & ((1 << m_bits) - 1)
        sig = np.where(ef == 0, mf, mf + (1 << m_bits)).astype(np.float64)
        exp = np.where(ef == 0, self.emin, ef - self.bias) - m_bits
        val = np.ldexp(sig, exp.astype(np.int64))
        val = np.where(sign == 1, -val, val)
        nan = np.where(sign == 1, -np.nan, np.nan)  # NaNs keep the sign bit of their code
        if self.specials == "ieee":
            top = ef == self._top_field
            val = np.where(top & (mf == 0), np.where(sign == 1, -np.inf, np.inf), val)
            val = np.where(top & (mf != 0), nan, val)
        elif self.specials == "fn":
            val = np.where((c & ((1 << (self.bits - 1)) - 1)) == (1 << (self.bits - 1)) - 1, nan, val)
        elif self.specials == "fnuz":
            val = np.where(c == (1 << (self.bits - 1)), nan, val)
        if self.neg_zero_value is not None:
            val = np.where(c == (1 << (self.bits - 1)), self.neg_zero_value, val)
        return val

    # ---- encode --------------------------------------------------------------------------
    def _overflow_policy(self, overflow: str, rounding: str) -> str:
        check_overflow(overflow)
        if overflow == "default":
            if self.specials == "ieee":
                return "saturate" if rounding == "rtz" else "inf"
            return "saturate" if self.specials == "none" else "nan"
        if overflow == "inf" and not self.has_inf:
            raise FormatError(f"overflow must not be 'inf' for {self}, which has no infinity")
        if overflow == "nan" and not self.has_nan:
            raise FormatError(f"overflow must not be 'nan' for {self}, which has no NaN")
        if overflow == "wrap":
            raise FormatError(f"overflow must not be 'wrap' for the float format {self}")
        return overflow

    def magnitude_code(self, r: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Code bits (without sign) of the magnitude r * 2**(e - M), r an integer < 2**(M+1)."""
        m = self.man_bits
        carry = r >= (1 << (m + 1))
        r = np.where(carry, r / 2, r)
        e = np.where(carry, e + 1, e)
        normal = r >= (1 << m)
        ef = np.where(normal, e + self.bias, 0)
        mf = np.where(normal, r - (1 << m), r)
        return (ef.astype(np.int64) << m) | mf.astype(np.int64)

    def encode(self, x, rounding: str = "rne", *, overflow: str = "default",
               seed=None) -> np.ndarray:
        """Round float64 values to this format (one rounding) and return their codes.

        Parameters
        ----------
        x : values (anything numpy converts to float64 exactly, e.g. float32 or ml_dtypes).
        rounding : "rne" (ties to even), "rtz" (toward zero), "rna" (ties away from zero),
            "stochastic" (up with probability equal to the distance from the lower neighbour
            over the gap; drawn from ``seed``: an int, a numpy Generator, or None).
        overflow : "default" (the policy of ``specials``), "saturate" (±max, infinities too),
            "inf", "nan", "raise" (``NumericsError`` on a finite overflow or a non-finite input
            the format cannot hold; infinities of a format with infinity are kept).

        Returns
        -------
        Unsigned integer array of codes, same shape as ``x``. NaN input gives the canonical
        NaN code with the input's sign where the format has NaN (payloads are not kept), else
        +0 (undefined; "raise" raises). See the module docstring for the rules on infinities.

        Raises
        ------
        FormatError
            For an unknown rounding or overflow policy, or one the format cannot take.
        NumericsError
            Under "raise", for values that overflow; for non-numeric input (a ``TypeError``).
        """
        rounding = check_rounding(rounding)
        policy = self._overflow_policy(overflow, rounding)
        arr = np.asarray(x)
        x = arr if arr.dtype == np.float64 else as_float64(arr)
        if rounding == "rne" and x.size:
            fast = self._encode_cast(x, arr, policy)
            if fast is not None:
                return fast
        nan = np.isnan(x)
        inf = np.isinf(x)
        neg = np.signbit(x)
        if self.neg_zero_value is not None:
            code = self._encode_table(x, rounding, policy, seed)
        elif rounding == "rne" and overflow == "default" and str(self) in _NUMPY_IEEE:
            # numpy's float64 -> float32/float16 cast is IEEE RNE with overflow to inf: the same
            # function as the general path below (tests check both against each other)
            with np.errstate(over="ignore", invalid="ignore"):
                code = x.astype(_NUMPY_IEEE[str(self)][0]).view(_NUMPY_IEEE[str(self)][1]).astype(np.int64)
        else:
            code = self._encode_grid(x, rounding, policy, seed)
        sign_bit = np.int64(1) << (self.bits - 1)
        if np.any(inf):
            inf_policy = "inf" if self.has_inf and overflow != "saturate" else policy
            if inf_policy == "raise":
                raise NumericsError(f"values encoded to {self} must be within {self._range_text}, "
                                    f"not {float(x[inf].flat[0])!r}")
            if inf_policy == "saturate":
                inf_code = np.where(neg, self._side_max_code(-1), self._side_max_code(+1))
            elif inf_policy == "nan" and self.specials == "fnuz":
                inf_code = self.nan_code
            else:
                mag = (self._top_field << self.man_bits) if inf_policy == "inf" else self.nan_code & ~sign_bit
                inf_code = np.where(neg, mag | sign_bit, mag)
            code = np.where(inf, inf_code, code)
        if np.any(nan):
            if self.has_nan:
                nan_code = self.nan_code
                if self.specials != "fnuz":
                    nan_code = np.where(neg, nan_code | sign_bit, nan_code)
                code = np.where(nan, nan_code, code)
            elif policy == "raise":
                raise NumericsError(f"values encoded to {self} must not be NaN: the format has no NaN")
            else:
                code = np.where(nan, 0, code)
        return np.asarray(code).astype(code_dtype(self.bits))

    def _encode_cast(self, x: np.ndarray, arr: np.ndarray, policy: str) -> np.ndarray | None:
        """RNE codes of finite ``x`` by a numpy / ml_dtypes cast, or None where that cast is not
        provably the same function as the general path (then the caller takes that path).

        Taken for formats with a numpy or ml_dtypes dtype and IEEE, "fn" or "none" specials,
        finite inputs, and no overflow other than one that saturates:

        * float64 -> float32 / float16 (numpy) is one IEEE RNE rounding (subnormals included).
        * ml_dtypes converts float64 through float32 (two roundings), so float64 input is first
          rounded to float32 *to odd* (truncate, set the last bit if inexact): RNE of that to a
          format with at most 22 significand bits equals RNE of the float64 value (Boldo and
          Melquiond's round-to-odd theorem; float32's grid is at least 2 bits finer, subnormals
          included, for every format of this module with a dtype). float32 input goes directly.
        * Overflow: RNE overflows above T = max + ulp(max)/2, and at T when max's code is odd
          (the tie goes up). With none, the cast sees only in-range values; under "saturate" the
          input is clipped to ±max first (values in (max, T) round to max anyway); any other
          overflow goes to the general path (its policy and error message).
        """
        if self.specials not in ("ieee", "fn", "none") or self.neg_zero_value is not None:
            return None
        numpy_ieee = _cast_dtypes(self)
        if numpy_ieee is not None:
            dt, ut = numpy_ieee
        else:
            dt = _ml_dtype(self)
            if dt is None:
                return None
            ut = code_dtype(self.bits)
        hi, lo = x.max(), x.min()
        if not (np.isfinite(hi) and np.isfinite(lo)):  # NaN or inf somewhere: general path
            return None
        top = max(float(hi), -float(lo))
        mx = self._regular_max
        if top > mx:
            t = mx + math.ldexp(1.0, self._emax - self.man_bits - 1)
            if policy == "saturate":
                x = np.clip(x, -mx, mx)
                arr = x
            elif top > t or (top == t and self._regular_max_code & 1):
                return None
        if numpy_ieee is not None:
            with np.errstate(over="ignore"):
                return x.astype(dt).view(ut)
        if arr.dtype == np.float32:
            f32 = arr
        else:
            f32 = _round_to_odd_f32(x)
        return f32.astype(dt).view(ut)

    @property
    def _range_text(self) -> str:
        return f"±{self.max:g}" if self.min == -self.max else f"{self.min:g}..{self.max:g}"

    def _side_max_code(self, side: int) -> int:
        """Code of the largest-magnitude finite value of sign ``side`` (+1 or -1)."""
        if self.neg_zero_value is not None and (self.neg_zero_value > 0) == (side > 0) \
                and abs(self.neg_zero_value) > self._regular_max:
            return 1 << (self.bits - 1)
        return self._regular_max_code | (0 if side > 0 else 1 << (self.bits - 1))

    def _encode_grid(self, x: np.ndarray, rounding: str, policy: str, seed) -> np.ndarray:
        """Codes of finite ``x`` on the regular ExMy grid (non-finite entries: don't care)."""
        neg = np.signbit(x)
        a = np.abs(np.where(np.isfinite(x), x, 0.0))
        m = self.man_bits
        _, fexp = np.frexp(a)
        e = np.maximum(fexp.astype(np.int64) - 1, self.emin)
        s = np.ldexp(a, (m - e))
        r = round_scaled(s, rounding, seed)
        mag = np.ldexp(r, e - m)
        over = mag > self._regular_max
        code = self.magnitude_code(r, e)
        if np.any(over):
            if policy == "raise":
                raise NumericsError(f"values encoded to {self} must be within {self._range_text}, "
                                    f"not {float(x[over].flat[0])!r}")
            if policy == "saturate":
                code = np.where(over, self._regular_max_code, code)
            elif policy == "inf":
                code = np.where(over, self._top_field << m, code)
            else:  # nan
                code = np.where(over, self.nan_code & ~(np.int64(1) << (self.bits - 1)), code)
        zero_mag = code == 0
        code = np.where(neg, code | (np.int64(1) << (self.bits - 1)), code)
        if not self.has_neg_zero:  # fnuz: negative zero -> +0
            code = np.where(neg & zero_mag, 0, code)
        if self.specials == "fnuz" and policy == "nan":
            code = np.where(over, self.nan_code, code)  # NaN is the unsigned -0 code
        return code

    def _encode_table(self, x: np.ndarray, rounding: str, policy: str, seed) -> np.ndarray:
        """Codes of finite ``x`` for the supernormal variant: nearest of all finite values (ties
        to the even code / away from zero; "rtz": largest magnitude not above |x|), overflow
        past half the last gap beyond the largest magnitude of each sign."""
        sv, sc = _finite_table(self)
        xv = np.where(np.isfinite(x), x, 0.0)
        rng = rng_of(seed) if rounding == "stochastic" else None
        code = nearest_in_table(sv, sc, np.clip(xv, sv[0], sv[-1]), rounding, rng)
        over = np.zeros(xv.shape, dtype=bool)
        for side, top, gap, top_code in ((1, sv[-1], sv[-1] - sv[-2], sc[-1]),
                                         (-1, sv[0], sv[1] - sv[0], sc[0])):
            d = side * (xv - top)  # distance beyond the largest magnitude of this sign (exact)
            if rounding == "rne":
                past = (d > gap / 2) | ((d == gap / 2) & (int(top_code) % 2 == 1))
            elif rounding == "rna":
                past = d >= gap / 2
            elif rounding == "rtz":
                past = np.zeros(d.shape, dtype=bool)
            else:
                past = (d > 0) & (rng.random(d.shape) < d / gap)
            over |= past & (d > 0) & (np.sign(top) == side)
        if np.any(over):
            if policy == "raise":
                raise NumericsError(f"values encoded to {self} must be within {self._range_text}, "
                                    f"not {float(x[over].flat[0])!r}")
            if policy == "nan":
                code = np.where(over, np.where(xv < 0, self.nan_code | (1 << (self.bits - 1)), self.nan_code), code)
            # saturate: the clipped nearest value is already the largest magnitude of its sign
        return code.astype(np.int64)

    def to_ml_dtypes(self):
        import ml_dtypes

        if str(self) == "float32":
            return np.dtype(np.float32)
        if str(self) == "float16":
            return np.dtype(np.float16)
        candidates = [f"float{self.bits}_{self}", str(self)]
        for cand in candidates:
            dt = getattr(ml_dtypes, cand, None)
            if dt is not None:
                return np.dtype(dt)
        return None


@lru_cache(maxsize=None)
def _cast_dtypes(fmt: FloatFormat) -> tuple[type, type] | None:
    """(numpy float type, unsigned code type) when numpy has exactly this format (float32,
    float16), else None."""
    return _NUMPY_IEEE.get(str(fmt))


@lru_cache(maxsize=None)
def _ml_dtype(fmt: FloatFormat):
    return fmt.to_ml_dtypes()


def _round_to_odd_f32(x: np.ndarray) -> np.ndarray:
    """float64 values (finite, |x| below float32's overflow) rounded to float32 *to odd*: the
    float32 value toward zero, with its last significand bit set when that is inexact."""
    r = x.astype(np.float32)  # RNE
    back = r.astype(np.float64)
    inexact = back != x
    if not inexact.any():
        return r
    u = r.view(np.uint32).copy()
    u -= (np.abs(back) > np.abs(x)).astype(np.uint32)  # rounded away from zero: one step back
    u |= inexact.astype(np.uint32)  # (a float32 magnitude's bits are monotone, sign apart)
    return u.view(np.float32)


@lru_cache(maxsize=None)
def _decode_table(fmt: FloatFormat) -> np.ndarray:
    table = fmt._decode_arith(fmt.all_codes())
    table.flags.writeable = False
    return table


@lru_cache(maxsize=None)
def _finite_table(fmt: FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """(sorted finite values, their codes) of a format of at most 16 bits, one zero (+0)."""
    codes = fmt.all_codes().astype(np.int64)
    vals = fmt.decode(codes)
    keep = np.isfinite(vals) & ~((vals == 0) & np.signbit(vals))
    order = np.argsort(vals[keep], kind="stable")
    sv, sc = vals[keep][order], codes[keep][order]
    sv.flags.writeable = False
    sc.flags.writeable = False
    return sv, sc


@dataclass(frozen=True)
class ScaleFormat(Format):
    """An unsigned power-of-two scale format E<k>M0 (``e8m0fnu``: the OCP MX scale).

    Code c means 2**(c - bias); the all-ones code is NaN; there is no zero and no infinity.
    """

    exp_bits: int = 8
    bias: int | None = None

    kind = "scale"

    def __post_init__(self) -> None:
        check_int("exp_bits", self.exp_bits, 1, 8)
        if self.bias is None:
            object.__setattr__(self, "bias", (1 << (self.exp_bits - 1)) - 1)
        else:
            object.__setattr__(self, "bias", check_int("bias", self.bias, -(1 << 8), 1 << 8))

    def __str__(self) -> str:
        default = (1 << (self.exp_bits - 1)) - 1
        return f"e{self.exp_bits}m0" + (f"b{self.bias}" if self.bias != default else "") + "fnu"

    @property
    def bits(self) -> int:
        return self.exp_bits

    has_inf = False
    has_nan = True

    @property
    def nan_code(self) -> int:
        return (1 << self.exp_bits) - 1

    @property
    def emin(self) -> int:
        return -self.bias

    @property
    def emax(self) -> int:
        return (1 << self.exp_bits) - 2 - self.bias

    @property
    def max(self) -> float:
        return math.ldexp(1.0, self.emax)

    @property
    def min_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    min_subnormal = min_normal

    @property
    def eps(self) -> float:
        return 1.0

    specials_text = "NaN"

    def decode(self, codes) -> np.ndarray:
        c = self.check_codes(codes).astype(np.int64)
        val = np.ldexp(1.0, c - self.bias)
        return np.where(c == self.nan_code, np.nan, val)

    def encode_exponent(self, exp) -> np.ndarray:
        """Codes of the powers of two 2**exp (integer exponents; out of range -> NumericsError)."""
        exp = np.asarray(exp, dtype=np.int64)
        if exp.size and (exp.min() < self.emin or exp.max() > self.emax):
            bad = exp[(exp < self.emin) | (exp > self.emax)].flat[0]
            raise NumericsError(f"exponents of {self} must be in {self.emin}..{self.emax}, not {int(bad)!r}")
        return (exp + self.bias).astype(code_dtype(self.bits))

    def encode(self, x, rounding: str = "rne", *, overflow: str = "default",
               seed=None) -> np.ndarray:
        """Round positive values to a power of two and return their codes.

        In the linear domain, as ml_dtypes does: x in [2**e, 2**(e+1)) goes up when
        x >= 1.5 * 2**e ("rne" and "rna": ties up); "rtz" rounds down; "stochastic" goes up with
        probability (x - 2**e) / 2**e (``seed``: int, numpy Generator or None).

        Overflow (a finite value rounding above ``max``) and **+inf give the NaN code** under
        the "default" and "nan" policies, as ml_dtypes' ``float8_e8m0fnu`` does: never a
        plausible finite scale. "saturate" clamps both to ``max`` (2**127 for e8m0fnu); "raise"
        raises. Zero, negative and NaN inputs give the NaN code (the format has no zero or
        sign; "raise" raises). Positive values below ``2**emin`` round to the smallest code
        (ml_dtypes agrees for values that are normal float32 numbers; it converts through
        float32, so values below float32's range become 0 and then NaN there).
        """
        rounding = check_rounding(rounding)
        check_overflow(overflow)
        if overflow in ("inf", "wrap"):
            raise FormatError(f"overflow must be 'default', 'saturate', 'nan' or 'raise' for {self}, not {overflow!r}")
        x = as_float64(x)
        bad = ~(x > 0)  # NaN, zero, negative
        inf = np.isposinf(x)
        a = np.where(bad | inf, 1.0, x)
        mant, fexp = np.frexp(a)
        e = fexp.astype(np.int64) - 1
        if rounding in ("rne", "rna"):
            e = e + (mant >= 0.75)
        elif rounding == "stochastic":
            e = e + (rng_of(seed).random(a.shape) < (2 * mant - 1))
        over = (e > self.emax) | inf
        if overflow == "raise" and np.any(over | bad):
            bad_value = x[over | bad].flat[0]
            raise NumericsError(f"values encoded to {self} must be positive and at most {self.max:g}, "
                                f"not {float(bad_value)!r}")
        e = np.clip(np.where(over, self.emax, e), self.emin, self.emax)
        code = (e + self.bias).astype(np.int64)
        code = np.where(bad, self.nan_code, code)
        if overflow != "saturate":
            code = np.where(over, self.nan_code, code)
        return code.astype(code_dtype(self.bits))

    def to_ml_dtypes(self):
        import ml_dtypes

        dt = getattr(ml_dtypes, f"float{self.bits}_{self}", None)
        return None if dt is None else np.dtype(dt)
