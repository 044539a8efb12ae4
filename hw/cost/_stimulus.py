"""Format-valid random operands for the units of ``hw.units`` (MAC, dot-product lane, MX block
dot), as the per-cycle stimulus ``hw.cost.characterize`` replays on the gate-level netlist.

Distributions (per operand format):

* ``"uniform"``: element codes drawn uniformly from the format's finite codes (NaN and infinity
  codes excluded);
* ``"gaussian"``: normal values with sigma = (format max) / 4, quantised to the format
  (``fmt.encode``: round to nearest even, the format's overflow policy), i.e. data scaled so
  that the format's largest value sits at 4 sigma, as an absmax quantiser would.

Block (MX) operands: elements as above, one scale per block near 1, as a quantiser of
unit-variance data produces: an E8M0 scale code uniform in ``bias +- 4`` (2**-4 .. 2**4); a
float scale (NVFP4's e4m3fn) ``2**u``, ``u`` uniform in [-4, 4], rounded to the scale format. MAC control:
``valid`` is 1 every cycle; ``first``/``last`` mark reductions of ``reduction`` cycles.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import UnitConfigError

__all__ = ["DISTRIBUTIONS", "element_codes", "unit_ops_per_cycle", "unit_stimulus"]

DISTRIBUTIONS = ("uniform", "gaussian")


def element_codes(fmt: Any, n: int, *, distribution: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` codes of the element format ``fmt`` drawn from ``distribution``."""
    if distribution not in DISTRIBUTIONS:
        raise UnitConfigError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, "
                              f"not {distribution!r}")
    if distribution == "uniform":
        codes = np.asarray(fmt.all_codes())
        try:
            values = np.asarray(fmt.decode(codes), dtype=np.float64)
        except ValueError:  # a format with excluded codes (symmetric ints): decode one by one
            keep = []
            for c in codes:
                try:
                    keep.append(float(np.asarray(fmt.decode(np.array([c])), dtype=np.float64)[0]))
                except ValueError:
                    keep.append(np.nan)
            values = np.array(keep)
        finite = codes[np.isfinite(values)]
        return rng.choice(finite, size=n).astype(np.int64)
    sigma = float(fmt.max) / 4  # absmax-style scaling: the format's max at 4 sigma
    return np.asarray(fmt.encode(sigma * rng.standard_normal(n)), dtype=np.int64)


def _pack(codes: np.ndarray, bits: int) -> list[int]:
    """Rows of element codes -> one int per row, element j at bits [j*bits, (j+1)*bits)."""
    mask = (1 << bits) - 1
    out = []
    for row in codes:
        v = 0
        for j, c in enumerate(row):
            v |= (int(c) & mask) << (j * bits)
        out.append(v)
    return out


def _scale_codes(scale: Any, n: int, rng: np.random.Generator) -> list[int]:
    """``n`` block scale codes near 1 (see the module docstring)."""
    from ..formats import ScaleFormat

    if isinstance(scale, ScaleFormat):
        return [int(x) for x in rng.integers(scale.bias - 4, scale.bias + 5, size=n)]
    return [int(x) for x in np.asarray(scale.encode(2.0 ** rng.uniform(-4, 4, size=n)), dtype=np.int64)]


def unit_stimulus(metadata: Mapping[str, Any], *, cycles: int = 500, seed: int = 0,
                  distribution: str = "uniform", reduction: int = 16) -> list[dict[str, int]]:
    """Per-cycle inputs for a unit built by ``hw.units.build_mac`` / ``build_mxdot``, from its
    metadata (``unit``, ``a_format``, ``b_format``, ``lanes``, ``block_size``).

    Raises
    ------
    UnitConfigError
        For a unit kind without a stimulus model or bad parameters.
    """
    from ..formats import parse

    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 2:
        raise UnitConfigError(f"cycles must be an int >= 2, not {cycles!r}")
    if isinstance(reduction, bool) or not isinstance(reduction, int) or reduction < 1:
        raise UnitConfigError(f"reduction must be a positive int, not {reduction!r}")
    kind = metadata.get("unit")
    rng = np.random.default_rng(seed)
    if kind in ("mac", "dot"):
        lanes = int(metadata.get("lanes", 1))
        ops = {}
        for side in ("a", "b"):
            fmt = parse(metadata[f"{side}_format"])
            codes = element_codes(fmt, cycles * lanes, distribution=distribution, rng=rng)
            ops[side] = _pack(codes.reshape(cycles, lanes), fmt.bits)
        return [{"a": ops["a"][i], "b": ops["b"][i], "valid": 1,
                 "first": int(i % reduction == 0), "last": int(i % reduction == reduction - 1)}
                for i in range(cycles)]
    if kind == "mxdot":
        ops = {}
        for side in ("a", "b"):
            fmt = parse(metadata[f"{side}_format"])
            codes = element_codes(fmt.element, cycles * fmt.block_size, distribution=distribution, rng=rng)
            ops[side] = _pack(codes.reshape(cycles, fmt.block_size), fmt.element.bits)
            ops[f"{side}_scale"] = _scale_codes(fmt.scale, cycles, rng)
        return [{"a": ops["a"][i], "b": ops["b"][i], "a_scale": ops["a_scale"][i],
                 "b_scale": ops["b_scale"][i], "valid": 1} for i in range(cycles)]
    raise UnitConfigError(f"unit kind must be mac, dot or mxdot for a generated stimulus, not {kind!r}")


def unit_ops_per_cycle(metadata: Mapping[str, Any]) -> int:
    """Multiply-accumulates per cycle of a ``hw.units`` unit: ``lanes`` of a MAC/dot lane,
    ``block_size`` of an MX block dot unit."""
    kind = metadata.get("unit")
    if kind in ("mac", "dot"):
        return int(metadata.get("lanes", 1))
    if kind == "mxdot":
        return int(metadata["block_size"])
    raise UnitConfigError(f"unit kind must be mac, dot or mxdot to count operations, not {kind!r}")
