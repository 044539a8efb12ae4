"""``demo_check``: build one unit per format and check random products in RTL simulation
(Amaranth's simulator) against the golden model ``hw.numerics`` — the per-format verdict lines
of ``lowbit demo``."""
from __future__ import annotations

import time
from typing import Iterable

import numpy as np

from ..errors import UnitConfigError
from ..formats import HEADLINE_FORMATS, BlockFormat, IntFormat, parse
from .. import numerics
from ._checks import check_int
from ._factory import build_mac, build_mxdot
from ._sim import run_stream

__all__ = ["demo_check"]


def _codes(rng: np.random.Generator, fmt, shape) -> np.ndarray:
    c = rng.integers(0, fmt.code_count, shape)
    if isinstance(fmt, IntFormat) and fmt.symmetric:
        c[c == 1 << (fmt.bits - 1)] = 0
    return c


def _same(got, exp, fmt) -> np.ndarray:
    return (got == exp) | (np.isnan(fmt.decode(got)) & np.isnan(fmt.decode(exp)))


def _check_elementwise(fmt, n: int, lanes: int, rng) -> tuple[str, int, int]:
    out = "int32" if isinstance(fmt, IntFormat) else "float32"
    unit = build_mac(a=fmt, b=fmt, acc="exact", out=out, lanes=lanes, max_k=lanes)
    rows = -(-n // lanes)
    A, B = _codes(rng, fmt, (rows, lanes)), _codes(rng, fmt, (rows, lanes))
    beats = [{"valid": 1, "first": 1, "last": 1, **{f"a.{j}": int(A[i, j]) for j in range(lanes)},
              **{f"b.{j}": int(B[i, j]) for j in range(lanes)}} for i in range(rows)]
    got = np.array([r["out"] for r in run_stream(unit.component, beats, ["out"])[0]])
    exp = numerics.dot(A, fmt, B, fmt, parse(out))
    return unit.name, rows * lanes, int((~_same(got, exp, parse(out))).sum()) + abs(len(got) - rows)


def _check_block(fmt: BlockFormat, n: int, rng) -> tuple[str, int, int]:
    unit = build_mxdot(a=fmt, b=fmt, out="float32")
    bs, sc = fmt.block_size, fmt.scale
    rows = -(-n // bs)
    A, B = _codes(rng, fmt.element, (rows, bs)), _codes(rng, fmt.element, (rows, bs))
    SA = np.clip(rng.integers(sc.bias - 8, sc.bias + 8, rows), 0, sc.nan_code)
    SB = np.clip(rng.integers(sc.bias - 8, sc.bias + 8, rows), 0, sc.nan_code)
    beats = [{"valid": 1, "a_scale": int(SA[i]), "b_scale": int(SB[i]),
              **{f"a.{j}": int(A[i, j]) for j in range(bs)}, **{f"b.{j}": int(B[i, j]) for j in range(bs)}}
             for i in range(rows)]
    got = np.array([r["out"] for r in run_stream(unit.component, beats, ["out"])[0]])
    f32 = parse("float32")
    exp = np.array([numerics.gemm(A[i:i + 1], fmt, B[i:i + 1].T, fmt, f32, a_scales=SA[i:i + 1, None],
                                  b_scales=SB[i:i + 1, None])[0, 0] for i in range(rows)])
    return unit.name, rows * bs, int((~_same(got, exp, f32)).sum()) + abs(len(got) - rows)


def demo_check(formats: Iterable = HEADLINE_FORMATS, n: int = 2000, *, lanes: int = 8,
               seed: int = 0) -> list[dict]:
    """For each format build one unit (an exact dot-product lane of ``lanes`` fmt x fmt
    products, or the block dot unit for block formats), simulate about ``n`` random products
    (every code equally likely, NaN/inf included) in Amaranth's simulator and compare every
    output with ``hw.numerics``.

    Returns
    -------
    One dict per format: ``format``, ``unit`` (Verilog name), ``products``, ``mismatches``,
    ``verdict`` ("pass" or "FAIL"), ``seconds`` (wall time of build + simulation + check).

    Raises
    ------
    UnitConfigError
        If ``n`` is not a positive integer or a format cannot be built into a unit.
    """
    check_int("n", n, 1, error=UnitConfigError)
    rng = np.random.default_rng(seed)
    rows = []
    for name in formats:
        fmt = parse(name) if isinstance(name, str) else name
        t0 = time.perf_counter()
        if isinstance(fmt, BlockFormat):
            unit, count, bad = _check_block(fmt, n, rng)
        else:
            unit, count, bad = _check_elementwise(fmt, n, lanes, rng)
        rows.append({"format": str(fmt), "unit": unit, "products": count, "mismatches": bad,
                     "verdict": "pass" if bad == 0 else "FAIL",
                     "seconds": round(time.perf_counter() - t0, 2)})
    return rows
