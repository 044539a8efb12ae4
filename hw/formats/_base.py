"""The common interface of every format descriptor, and the rounding/overflow vocabulary.

A format is a frozen, hashable dataclass. Limits (max, min normal, min subnormal, eps, code
count) are properties derived from its fields. ``encode`` maps float64 values to unsigned code
arrays, ``decode`` maps codes back to float64.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..errors import FormatError, NumericsError

__all__ = ["Format", "ROUNDINGS", "OVERFLOWS", "check_rounding", "check_overflow", "code_dtype",
           "round_scaled", "as_float64"]

#: rounding modes understood by every ``encode``
ROUNDINGS = ("rne", "rtz", "rna", "stochastic")
#: overflow policies; "default" means the format's own policy (see each format's docstring)
OVERFLOWS = ("default", "saturate", "inf", "nan", "raise", "wrap")


def check_rounding(rounding: str) -> str:
    if rounding not in ROUNDINGS:
        raise FormatError(f"rounding must be one of {', '.join(ROUNDINGS)}, not {rounding!r}")
    return rounding


def check_overflow(overflow: str) -> str:
    if overflow not in OVERFLOWS:
        raise FormatError(f"overflow must be one of {', '.join(OVERFLOWS)}, not {overflow!r}")
    return overflow


def code_dtype(bits: int) -> type:
    """The smallest unsigned numpy dtype that holds a ``bits``-bit code."""
    return np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32


def as_float64(x) -> np.ndarray:
    """``x`` as a float64 array (ml_dtypes arrays and numpy floats are converted exactly)."""
    arr = np.asarray(x)
    if arr.dtype == object:
        raise NumericsError(f"values must be a numeric array, not an array of {arr.dtype}")
    with np.errstate(invalid="ignore"):  # signalling NaNs convert to NaN silently
        return arr.astype(np.float64)


def round_scaled(s: np.ndarray, rounding: str, seed: int | None) -> np.ndarray:
    """Round non-negative float64 ``s`` to integers (float64) in ``rounding`` mode.

    ``s`` must satisfy s < 2**52 so that s + 0.5 and floor are exact.
    """
    if rounding == "rne":
        return np.rint(s)
    if rounding == "rtz":
        return np.floor(s)
    if rounding == "rna":
        return np.floor(s + 0.5)
    rng = np.random.default_rng(seed)
    fl = np.floor(s)
    return fl + (rng.random(s.shape) < (s - fl))


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
            raise NumericsError(f"codes of {self} must be integers, not {arr.dtype}")
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= self.code_count):
            bad = arr[(arr < 0) | (arr >= self.code_count)].flat[0]
            raise NumericsError(f"codes of {self} must be in 0..{self.code_count - 1}, not {int(bad)!r}")
        return arr.astype(code_dtype(self.bits))

    def to_ml_dtypes(self):
        """The numpy / ml_dtypes dtype with exactly this format, or ``None`` if there is none."""
        return None
