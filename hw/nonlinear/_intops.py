"""Integer helpers shared by the nonlinear golden models: input validation, rounding shifts,
exact integer square root, and the choice of int64 versus Python-int (object) arrays."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import NumericsError, UnitConfigError
from ..formats import INTEGER_ROUNDINGS, check_rounding

__all__ = ["as_rows", "work_array", "rshift_round", "isqrt_array", "require_int"]

_INT64_SAFE = 1 << 62


def require_int(consts: dict, key: str, *, kernel: str, lo: int | None = None,
                hi: int | None = None, rule: str | None = None) -> int:
    """Read integer constant ``key`` of ``consts`` (ints or integral floats), check ``lo <= v <= hi``."""
    if key not in consts:
        raise UnitConfigError(f"{kernel} consts must contain {key!r}, not only {sorted(consts)!r}")
    v = consts[key]
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or \
            (isinstance(v, (float, np.floating)) and not float(v).is_integer()):
        raise UnitConfigError(f"{kernel} constant {key} must be an integer, not {v!r}")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise UnitConfigError(f"{kernel} constant {key} must be {rule}, not {v!r}")
    return v


def as_rows(x_int: Any, *, kernel: str, max_abs: int = (1 << 31)) -> tuple[np.ndarray, bool]:
    """Validate ``x_int`` as integers (rows x length, or one row) and return it as a 2-D object
    array of Python ints plus whether the input was 1-D.

    Raises
    ------
    NumericsError
        If the values are not integers, the array is not 1-D/2-D, a row is empty, or a value's
        value lies outside ``[-max_abs, max_abs - 1]``.
    """
    arr = np.asarray(x_int)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.floor(arr)):
            raise NumericsError(f"{kernel} input must be integers, not non-integral floats")
    elif arr.dtype.kind not in "iuO":
        raise NumericsError(f"{kernel} input must be an integer array, not dtype {str(arr.dtype)!r}")
    one_d = arr.ndim == 1
    if one_d:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise NumericsError(f"{kernel} input must be 2-D (rows x length), not {arr.ndim}-D")
    if arr.shape[1] == 0:
        raise NumericsError(f"{kernel} row length must be at least 1, not 0")
    obj = np.vectorize(int, otypes=[object])(arr) if arr.size else arr.astype(object)
    if arr.size:
        lo, hi = int(obj.min()), int(obj.max())
        if lo < -max_abs or hi >= max_abs:
            e = max_abs.bit_length() - 1
            bad = lo if lo < -max_abs else hi
            raise NumericsError(f"{kernel} input must be in [-2**{e}, 2**{e} - 1], not {bad!r}")
    return obj, one_d


def work_array(obj: np.ndarray, bound: int) -> np.ndarray:
    """``obj`` as int64 if every intermediate is bounded by ``bound`` (< 2**62), else as Python ints."""
    if bound < _INT64_SAFE:
        return obj.astype(np.int64)
    return obj.astype(object)


def rshift_round(v: np.ndarray, e: int, mode: str) -> np.ndarray:
    """``v / 2**e`` rounded to an integer: ``"floor"``, ``"half_up"`` or ``"rne"`` (alias
    ``"half_even"``); ``e <= 0`` multiplies by ``2**-e`` exactly."""
    mode = check_rounding(mode, ("rne", *INTEGER_ROUNDINGS), error=UnitConfigError)
    if e <= 0:
        return v * (1 << -e)
    if mode == "floor":
        return v >> e if v.dtype != object else v // (1 << e)
    div = 1 << e
    q = v // div
    rem = v - q * div
    half = div >> 1
    if mode == "half_up":
        return q + (rem >= half)
    return q + ((rem > half) | ((rem == half) & (q % 2 == 1)))  # rne


def isqrt_array(v: np.ndarray) -> np.ndarray:
    """Exact floor square root of each non-negative integer of ``v`` (same dtype back)."""
    out = np.array([math.isqrt(int(a)) for a in v.ravel()], dtype=object).reshape(v.shape)
    return out.astype(v.dtype) if v.dtype != object else out
