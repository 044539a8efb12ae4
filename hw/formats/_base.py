"""The common interface of every format descriptor, and the rounding/overflow vocabulary.

A format is a frozen, hashable dataclass. Limits (max, min normal, min subnormal, eps, code
count) are properties derived from its fields. ``encode`` maps float64 values to unsigned code
arrays, ``decode`` maps codes back to float64.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..errors import FormatError, FormatTypeError, NumericsError, NumericsTypeError

__all__ = ["Format", "ROUNDINGS", "INTEGER_ROUNDINGS", "ROUNDING_ALIASES", "OVERFLOWS", "check_rounding",
           "check_overflow", "check_int", "code_dtype",
           "round_scaled", "as_float64", "rng_of", "nearest_in_table", "mod_2_64"]

#: rounding modes of every ``encode`` and of the golden arithmetic (``hw.numerics``):
#: "rne" ties to even, "rtz" toward zero, "rna" ties away from zero, "stochastic" up with
#: probability equal to the distance from the lower neighbour over the gap
ROUNDINGS = ("rne", "rtz", "rna", "stochastic")
#: the named integer modes of shift-based integer rounders (requantizer, integer outputs of the
#: accumulator rounder): "half_up" ties toward +inf (floor(x + 1/2)), "floor" toward -inf
INTEGER_ROUNDINGS = ("half_up", "floor")
#: older spellings, accepted everywhere with the same meaning
ROUNDING_ALIASES = {"half_even": "rne"}
#: overflow policies; "default" means the format's own policy (see each format's docstring)
OVERFLOWS = ("default", "saturate", "inf", "nan", "raise", "wrap")


def _type_error(error: type[ValueError]) -> type[TypeError]:
    """The ``TypeError`` subclass that goes with a project ``ValueError`` subclass."""
    from ..errors import UnitConfigError, UnitConfigTypeError

    return {FormatError: FormatTypeError, NumericsError: NumericsTypeError,
            UnitConfigError: UnitConfigTypeError}.get(error, TypeError)


def check_rounding(rounding, allowed: tuple[str, ...] = ROUNDINGS, *, what: str = "rounding",
                   error: type[ValueError] = FormatError) -> str:
    """The canonical name of the rounding mode ``rounding`` (an alias such as "half_even" gives
    "rne"), checked to be one of ``allowed`` (names from ``ROUNDINGS`` and
    ``INTEGER_ROUNDINGS``).

    Raises
    ------
    TypeError
        (the ``TypeError`` subclass of ``error``) if ``rounding`` is not a string.
    error
        If it names no allowed mode.
    """
    def names() -> str:  # for the error messages only (built lazily: this runs on every encode)
        return ", ".join(m + "".join(f" (alias {a})" for a, c in ROUNDING_ALIASES.items() if c == m)
                         for m in allowed)

    if not isinstance(rounding, str):
        raise _type_error(error)(f"{what} must be a string, one of {names()}, not {rounding!r}")
    canonical = ROUNDING_ALIASES.get(rounding, rounding)
    if canonical not in allowed:
        raise error(f"{what} must be one of {names()}, not {rounding!r}")
    return canonical


def check_overflow(overflow) -> str:
    """``overflow`` checked to be one of ``OVERFLOWS``."""
    if not isinstance(overflow, str):
        raise FormatTypeError(f"overflow must be a string, one of {', '.join(OVERFLOWS)}, not {overflow!r}")
    if overflow not in OVERFLOWS:
        raise FormatError(f"overflow must be one of {', '.join(OVERFLOWS)}, not {overflow!r}")
    return overflow


def check_int(what: str, value, lo: int | None = None, hi: int | None = None, *,
              error: type[ValueError] = FormatError) -> int:
    """``value`` as an int, checked to be an integer (not a bool) in ``lo..hi`` (either bound
    may be None): the one integer-parameter checker of ``hw``.

    Messages: "<what> must be an integer in lo..hi", "... a positive integer" (lo = 1, no upper
    bound), "... an integer >= lo", "... an integer <= hi", "... an integer", then
    ", not <value!r>".

    Raises
    ------
    TypeError
        (the ``TypeError`` subclass of ``error``) for a value that is not an integer.
    error
        For an integer out of range.
    """
    if lo is not None and hi is not None:
        rule = f"an integer in {lo}..{hi}"
    elif lo == 1:
        rule = "a positive integer"
    elif lo is not None:
        rule = f"an integer >= {lo}"
    elif hi is not None:
        rule = f"an integer <= {hi}"
    else:
        rule = "an integer"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _type_error(error)(f"{what} must be {rule}, not {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise error(f"{what} must be {rule}, not {value!r}")
    return int(value)


def code_dtype(bits: int) -> type:
    """The smallest unsigned numpy dtype that holds a ``bits``-bit code."""
    return np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32


def as_float64(x) -> np.ndarray:
    """``x`` as a float64 array (ml_dtypes arrays and numpy floats are converted exactly).

    Raises
    ------
    NumericsError
        For strings, bytes, complex numbers or objects (a ``TypeError`` subclass): values must be
        real numbers.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf" and not _is_ml_float(arr.dtype):
        raise NumericsTypeError(f"values must be real numbers (a bool, integer or float array), "
                                f"not an array of {arr.dtype}")
    with np.errstate(invalid="ignore"):  # signalling NaNs convert to NaN silently
        return arr.astype(np.float64)


def _is_ml_float(dtype: np.dtype) -> bool:
    """True for the ml_dtypes number types (bfloat16, float8_*, int4, ...): numpy reports
    their kind as 'V'."""
    return dtype.kind == "V" and dtype.fields is None and type(dtype.type).__module__ != "numpy" \
        and dtype.type.__module__.startswith("ml_dtypes")


def mod_2_64(t: np.ndarray) -> np.ndarray:
    """Finite float64 integers ``t`` (any magnitude) modulo 2**64, as uint64 (exact)."""
    t = np.asarray(t, dtype=np.float64)
    mant, exp = np.frexp(np.abs(t))
    m = np.ldexp(mant, 53).astype(np.uint64)  # |t| = m * 2**(exp - 53), m < 2**53
    e = exp.astype(np.int64) - 53
    small = e <= 0
    out = np.where(small, np.abs(np.where(small, t, 0.0)).astype(np.uint64), np.uint64(0))
    big = ~small & (e < 64)
    out = np.where(big, np.left_shift(m, np.where(big, e, 0).astype(np.uint64)), out)
    return np.where(t < 0, np.uint64(0) - out, out)


def rng_of(seed) -> np.random.Generator:
    """The random generator of a stochastic rounding: ``seed`` is an int (same seed, same
    draws), a ``numpy.random.Generator`` (used as is, advancing its state) or None (fresh OS
    entropy: not reproducible).

    Raises
    ------
    NumericsError
        (a ``TypeError`` subclass) for anything else.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise NumericsTypeError(f"seed must be an int, a numpy Generator or None, not {seed!r}")


def round_scaled(s: np.ndarray, rounding: str, seed=None) -> np.ndarray:
    """Round non-negative float64 ``s`` to integers (float64) in ``rounding`` mode, exactly.

    ``s`` must satisfy s < 2**52, so that the fraction ``s - floor(s)`` is exact; every mode
    decides from that exact fraction (never from ``floor(s + 0.5)``, whose addition rounds:
    for s = 0.5 - 2**-54 it gives 1). "stochastic" rounds up with probability equal to the
    fraction: up iff ``u < frac`` with ``u`` uniform on [0, 1) drawn from ``rng_of(seed)``.
    """
    if rounding == "rne":
        return np.rint(s)
    fl = np.floor(s)
    if rounding == "rtz":
        return fl
    frac = s - fl
    if rounding == "rna":
        return fl + (frac >= 0.5)
    return fl + (rng_of(seed).random(np.shape(s)) < frac)


def nearest_in_table(sv: np.ndarray, sc: np.ndarray, x: np.ndarray, rounding: str,
                     rng: np.random.Generator | None = None) -> np.ndarray:
    """Codes (int64) of ``x`` (within ``sv[0]..sv[-1]``) rounded to the sorted value table
    ``sv`` whose codes are ``sc``: nearest, ties to the even code ("rne"; between two even
    codes, which only a supernormal extra value can give, the larger magnitude) or to the larger
    magnitude ("rna"); "rtz" the nearest value toward zero; "stochastic" the upper neighbour
    with probability (x - lower) / gap, drawn from ``rng``."""
    n = len(sv)
    hi = np.clip(np.searchsorted(sv, x, side="left"), 0, n - 1)
    lo = np.clip(hi - 1, 0, n - 1)
    exact = sv[hi] == x
    dlo, dhi = x - sv[lo], sv[hi] - x
    if rounding == "rtz":
        pick_hi = exact | (sv[hi] <= 0)
    elif rounding == "stochastic":
        gap = np.where(sv[hi] > sv[lo], sv[hi] - sv[lo], 1.0)
        pick_hi = exact | (rng.random(np.shape(x)) < dlo / gap)
    else:
        tie = dlo == dhi
        if rounding == "rne":  # even code; between two even codes the larger magnitude
            even_hi, even_lo = (sc[hi] % 2) == 0, (sc[lo] % 2) == 0
            tie_hi = even_hi & (~even_lo | (np.abs(sv[hi]) >= np.abs(sv[lo])))
        else:  # rna: larger magnitude
            tie_hi = np.abs(sv[hi]) >= np.abs(sv[lo])
        pick_hi = exact | (dhi < dlo) | (tie & tie_hi)
    return np.asarray(sc, dtype=np.int64)[np.where(pick_hi, hi, lo)]


class Format(ABC):
    """Abstract base of all format descriptors."""

    __slots__ = ()

    #: descriptor family: "int", "float", "scale", "block", "lookup", "hybrid"
    kind: str = ""

    #: width of one code in bits (a field or a derived property of each descriptor)
    bits: int

    @property
    def code_count(self) -> int:
        """Number of distinct codes (2**bits, or the table length for lookup formats)."""
        return 1 << self.bits

    @property
    def bits_per_element(self) -> float:
        """Storage bits per element, including any amortised shared scale."""
        return float(self.bits)

    @property
    def name(self) -> str:
        return str(self)

    @abstractmethod
    def decode(self, codes) -> np.ndarray:
        """Codes -> float64 values."""

    @abstractmethod
    def encode(self, x, rounding: str = "rne", *, overflow: str = "default",
               seed: int | None = None) -> np.ndarray:
        """float64 values -> codes."""

    def all_codes(self) -> np.ndarray:
        """Every code of the format, ascending."""
        return np.arange(self.code_count, dtype=code_dtype(self.bits))

    def check_codes(self, codes) -> np.ndarray:
        """``codes`` as an unsigned array after checking every code is in range."""
        arr = np.asarray(codes)
        if arr.dtype.kind not in "iu":
            raise NumericsTypeError(f"codes of {self} must be integers, not an array of {arr.dtype}")
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= self.code_count):
            bad = arr[(arr < 0) | (arr >= self.code_count)].flat[0]
            raise NumericsError(f"codes of {self} must be in 0..{self.code_count - 1}, not {int(bad)!r}")
        return arr.astype(code_dtype(self.bits))

    def to_ml_dtypes(self):
        """The numpy / ml_dtypes dtype with exactly this format, or ``None`` if there is none."""
        return None
