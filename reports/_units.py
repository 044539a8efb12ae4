"""Figures as a person reads them: a value scaled to the unit that keeps 1-3 digits before the
point (µs/ms/s, kB/MB/GB, nJ/µJ/mJ/J) and whole cycle counts. Used by every printed table of
the ``lowbit`` command line; the files (CSV, JSON, Parquet) keep the raw SI values."""
from __future__ import annotations

import math

__all__ = ["fmt_bytes", "fmt_count", "fmt_energy_pj", "fmt_seconds", "fmt_scaled"]


def fmt_scaled(value: float, steps: tuple[tuple[float, str], ...], digits: int = 4) -> str:
    """``value`` divided by the largest factor of ``steps`` ((factor, unit), ascending) not above
    it, with ``digits`` significant digits; "n/a" for NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return f"{value} {steps[-1][1]}"
    factor, unit = steps[0]
    for f, u in steps:
        if abs(value) >= f:
            factor, unit = f, u
    return f"{value / factor:.{digits}g} {unit}"


def fmt_seconds(s: float) -> str:
    """A duration in s as ns / µs / ms / s."""
    return fmt_scaled(s, ((1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s")))


def fmt_bytes(b: float) -> str:
    """A byte count as B / kB / MB / GB / TB (powers of 1000)."""
    return fmt_scaled(b, ((1.0, "B"), (1e3, "kB"), (1e6, "MB"), (1e9, "GB"), (1e12, "TB")))


def fmt_energy_pj(pj: float) -> str:
    """An energy given in pJ as pJ / nJ / µJ / mJ / J."""
    return fmt_scaled(pj, ((1.0, "pJ"), (1e3, "nJ"), (1e6, "µJ"), (1e9, "mJ"), (1e12, "J")))


def fmt_count(n: float) -> str:
    """A whole count (cycles, MACs): rounded up to an integer (a fractional cycle is still a
    cycle spent), digits grouped by thousands; "n/a" for NaN."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "n/a"
    return f"{math.ceil(n):,}"
