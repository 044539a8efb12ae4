"""IEEE-style arithmetic on codes of any minifloat format: add, mul, fma (one rounding),
convert; and the exact-rounding primitive every other golden model uses.

Exactness argument: every value of a format with M <= 23 and E <= 8 is exact in float64; a
product of two such values is exact in float64 (<= 48 significant bits); a sum of two float64
values is s + err exactly (TwoSum). ``round_exact(s, err, fmt)`` rounds the exact value
s + err to ``fmt`` once: when s itself lies on a rounding boundary of ``fmt`` (a grid point
or a midpoint) and err != 0, s is moved one float64 ulp towards err, which puts it strictly on
the same side of every boundary of ``fmt`` as the exact value (boundaries of a format with
M <= 23 are float64 numbers at least 2**29 float64 ulps apart).

Stochastic rounding (``rounding="stochastic"``) takes ``seed``: an int (the same seed gives the
same codes), a ``numpy.random.Generator`` (its state advances; pass one Generator to a sequence
of calls for independent draws) or None (not reproducible). A value between neighbours lo < hi
goes to hi iff ``u < (x - lo) / (hi - lo)`` with one ``u = rng.random()`` per element, in C
order. How RTL with an LFSR is checked against this: the golden model does not imitate the
LFSR's sequence (no two LFSRs agree on one). The RTL's decision is "round up iff the r-bit
random word R plus the r discarded fraction bits F carries", i.e. iff ``R >= 2**r - F``. A
bench therefore (1) records R per element from the LFSR model (or exports it from the RTL
simulation), (2) checks every output is one of the two neighbours the golden model gives
with ``rounding="rtz"`` and ``"rtz"`` + 1 ulp, and equals the up-neighbour exactly when
``R >= 2**r - F`` (bit-exact, per element), and (3) separately checks that the LFSR stream is
unbiased (mean of up-decisions against (x - lo) / (hi - lo) over many draws). When r is
smaller than the number of discarded bits, the RTL rounds with probability
floor(F_r) / 2**r (F truncated to r bits), which differs from the golden model's exact
probability by at most 2**-r: part (2) is the bit-exact check, part (3) the statistical one.
For add/fma/gemm the probability is computed from the float64 sum s moved at most one float64
ulp toward the exact value s + err, so it is exact to within 2**-29 of the gap (formats with
M <= 23); ``encode`` and ``convert`` use the exact fraction.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..errors import FormatError, FormatTypeError
from ..formats import FloatFormat, Format, IntFormat, parse

__all__ = ["add", "mul", "fma", "convert", "round_exact", "round_fraction", "two_sum", "as_format"]


def as_format(f, what: str) -> Format:
    """``f`` (a descriptor or a name) as a format descriptor."""
    if isinstance(f, str):
        return parse(f)
    if not isinstance(f, Format):
        raise FormatTypeError(f"{what} must be a format descriptor or name, not {f!r}")
    return f


def _check_fmt(fmt, what: str = "fmt") -> Format:
    fmt = as_format(fmt, what)
    if not isinstance(fmt, (FloatFormat, IntFormat)):
        raise FormatError(f"{what} must be a float or integer format, not {fmt}")
    return fmt


def two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s, err) with s = fl(a + b) and s + err == a + b exactly (Knuth's TwoSum); err = 0
    where s is not finite."""
    with np.errstate(invalid="ignore", over="ignore"):
        s = a + b
        bb = s - a
        err = (a - (s - bb)) + (b - bb)
    return s, np.where(np.isfinite(s), err, 0.0)


def _on_boundary(s: np.ndarray, fmt: Format) -> np.ndarray:
    """True where s is a representable value or a rounding midpoint of ``fmt``."""
    a = np.abs(np.where(np.isfinite(s), s, 0.0))
    if isinstance(fmt, IntFormat):
        t = np.ldexp(a, fmt.frac_bits + 1)
    else:
        _, fexp = np.frexp(a)
        e = np.maximum(fexp.astype(np.int64) - 1, fmt.emin)
        t = np.ldexp(a, fmt.man_bits + 1 - e)
    with np.errstate(invalid="ignore"):
        return (t == np.floor(t)) & (a > 0) | (a == 0)


def round_exact(s, err, fmt: Format, rounding: str = "rne", *, overflow: str = "default",
                seed=None) -> np.ndarray:
    """Codes of the exact value s + err rounded once to ``fmt``.

    ``err`` must satisfy |err| <= ulp(s)/2 (as TwoSum's error does); err = 0 means s is exact.
    """
    s = np.asarray(s, dtype=np.float64)
    # arithmetic NaNs are the canonical positive quiet NaN (as the RTL's adders produce them;
    # IEEE 754 leaves the sign open, x86 would give a negative default NaN for inf - inf)
    s = np.where(np.isnan(s), np.nan, s)
    err = np.broadcast_to(np.asarray(err, dtype=np.float64), s.shape)
    if np.any(err):
        nudge = (err != 0) & _on_boundary(s, fmt)
        s = np.where(nudge, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    return fmt.encode(s, rounding, overflow=overflow, seed=seed)


def round_fraction(values: list[Fraction], fmt: Format, rounding: str = "rne", *,
                   overflow: str = "default", seed=None) -> np.ndarray:
    """Codes of exact rationals rounded once to ``fmt`` (the slow, obviously-correct path)."""
    s = np.array([float(v) for v in values], dtype=np.float64)  # correctly rounded
    rest = np.array([float(np.sign(v - Fraction(x))) if np.isfinite(x) else 0.0
                     for v, x in zip(values, s)])
    return round_exact(s, rest * np.finfo(np.float64).smallest_subnormal, fmt, rounding,
                       overflow=overflow, seed=seed)


def add(a, b, fmt, rounding: str = "rne", *, seed=None) -> np.ndarray:
    """a + b on codes of ``fmt`` (descriptor or name), rounded once (IEEE semantics for
    inf/NaN/signed zero: (-0) + (-0) = -0, x + (-x) = +0 in every mode)."""
    fmt = _check_fmt(fmt)
    s, err = two_sum(fmt.decode(a), fmt.decode(b))
    return round_exact(s, err, fmt, rounding, seed=seed)


def mul(a, b, fmt, rounding: str = "rne", *, seed=None) -> np.ndarray:
    """a * b on codes of ``fmt`` (descriptor or name), rounded once (the float64 product is
    exact)."""
    fmt = _check_fmt(fmt)
    with np.errstate(invalid="ignore", over="ignore"):
        p = fmt.decode(a) * fmt.decode(b)
    return round_exact(p, 0.0, fmt, rounding, seed=seed)


def fma(a, b, c, fmt, rounding: str = "rne", *, seed=None) -> np.ndarray:
    """a * b + c on codes of ``fmt`` (descriptor or name) with one rounding (fused
    multiply-add); an exactly zero result is -0 only when both a*b and c are -0."""
    fmt = _check_fmt(fmt)
    with np.errstate(invalid="ignore", over="ignore"):
        p = fmt.decode(a) * fmt.decode(b)
    s, err = two_sum(p, fmt.decode(c))
    return round_exact(s, err, fmt, rounding, seed=seed)


def convert(codes, src, dst, rounding: str = "rne", *, overflow: str = "default",
            seed=None) -> np.ndarray:
    """Codes of ``src`` -> codes of ``dst`` with one rounding (formats: descriptors or names)."""
    src, dst = as_format(src, "src"), as_format(dst, "dst")
    return dst.encode(src.decode(codes), rounding, overflow=overflow, seed=seed)
