"""SRAM buffers from published figures: area from the 6T bit-cell area of each node, access
energy from Horowitz's 45 nm SRAM reads, scaled by capacity, width and node.

* **Area** = bits x bit-cell area / array efficiency. Bit-cell areas are the published 6T cells
  of each node (``BITCELL_UM2``, sources in ``BITCELL_SOURCES``); the array efficiency (bit
  cells / macro area, i.e. what decoders, sense amplifiers, I/O and redundancy add) is an
  *assumption*, ``ARRAY_EFFICIENCY = 0.5``, stated here and in every result.
* **Energy per access** = ``E64(C) x width / 64 x s``: ``E64`` is the 64-bit read energy at
  45 nm as a power law in the capacity C, ``E64(C) = 10 pJ x (C / 8 KiB) ** b``, fitted (least
  squares in log-log) through Horowitz's three points (8 KiB: 10 pJ, 32 KiB: 20 pJ, 1 MiB:
  100 pJ); linear in the width (an assumption: it ignores the fixed per-access part); ``s`` is
  Stillmaker & Baas's energy factor from 45 nm to the node (derived). Writes are priced as
  reads (an assumption).
* **Leakage**: not modelled (no published per-bit figure is relayed here); results say so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UnitConfigError
from ._published import HOROWITZ_SOURCE, SRAM_READ_64B_PJ
from ._scaling import node_scaling

__all__ = ["ARRAY_EFFICIENCY", "BITCELL_SOURCES", "BITCELL_UM2", "SramCost", "sram_cost"]

#: bit cells / macro area (an assumption, not a published figure)
ARRAY_EFFICIENCY = 0.5

#: published 6T SRAM bit-cell area per node, um^2
BITCELL_UM2: dict[int, float] = {180: 5.59, 90: 1.0, 65: 0.57, 45: 0.346, 32: 0.171, 14: 0.0588, 7: 0.027}
BITCELL_SOURCES: dict[int, str] = {
    180: "Intel 180 nm: S. Yang et al., IEDM 1998",
    90: "Intel 90 nm: S. Thompson et al., IEDM 2002",
    65: "Intel 65 nm: S. Tyagi et al., IEDM 2005",
    45: "Intel 45 nm: K. Mistry et al., IEDM 2007",
    32: "Intel 32 nm: S. Natarajan et al., IEDM 2008",
    14: "Intel 14 nm: S. Natarajan et al., IEDM 2014",
    7: "TSMC 7 nm HD cell: J. Chang et al., ISSCC 2017",
}

_CAPACITY_KIB = {"sram_8kb": 8, "sram_32kb": 32, "sram_1mb": 1024}


def _fit() -> tuple[float, float]:
    """(E64 at 8 KiB, exponent b) of the least-squares power law through Horowitz's points."""
    xs = [math.log(_CAPACITY_KIB[k] / 8) for k in SRAM_READ_64B_PJ]
    ys = [math.log(v) for v in SRAM_READ_64B_PJ.values()]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return math.exp(my - b * mx), b


@dataclass(frozen=True)
class SramCost:
    """One SRAM buffer (see the module docstring).

    Attributes
    ----------
    capacity_kib : capacity, KiB. width_bits : access width, bits. node_nm : node, nm.
    area_um2 : macro area, um^2. access_pj : energy of one access of ``width_bits``, pJ.
    leakage_mw : ``None`` (not modelled).
    sources : where each figure comes from (relayed, derived, assumed).
    """

    capacity_kib: float
    width_bits: int
    node_nm: int
    area_um2: float
    access_pj: float
    leakage_mw: float | None
    sources: dict


def sram_cost(*, capacity_kib: float, width_bits: int, node_nm: int) -> SramCost:
    """Area and access energy of an SRAM buffer (see the module docstring).

    Parameters
    ----------
    capacity_kib : capacity, KiB (> 0, at most 1 GiB).
    width_bits : bits per access (1 .. 65536).
    node_nm : node, one of ``BITCELL_UM2``.

    Raises
    ------
    UnitConfigError
        For a capacity, width or node out of range.
    """
    if isinstance(capacity_kib, bool) or not isinstance(capacity_kib, (int, float)) or not 0 < capacity_kib <= 2 ** 20:
        raise UnitConfigError(f"SRAM capacity must be a number of KiB in (0, 1048576], not {capacity_kib!r}")
    if isinstance(width_bits, bool) or not isinstance(width_bits, int) or not 1 <= width_bits <= 65536:
        raise UnitConfigError(f"SRAM width must be an int of bits in 1 .. 65536, not {width_bits!r}")
    if node_nm not in BITCELL_UM2:
        raise UnitConfigError(f"SRAM node must be one of {', '.join(map(str, BITCELL_UM2))} (nm; a published "
                              f"bit-cell area is needed), not {node_nm!r}")
    bits = capacity_kib * 1024 * 8
    area = bits * BITCELL_UM2[node_nm] / ARRAY_EFFICIENCY
    e8, b = _fit()
    scale = node_scaling(source_nm=45, target_nm=node_nm)
    access = e8 * (capacity_kib / 8) ** b * width_bits / 64 * scale.energy
    return SramCost(capacity_kib=capacity_kib, width_bits=width_bits, node_nm=node_nm, area_um2=area,
                    access_pj=access, leakage_mw=None, sources={
                        "bitcell": f"relayed: {BITCELL_UM2[node_nm]} um2, {BITCELL_SOURCES[node_nm]}",
                        "array_efficiency": f"assumed: {ARRAY_EFFICIENCY}",
                        "access_energy": f"derived: power law E64 = {e8:.3g} pJ x (C/8KiB)^{b:.3f} fitted to "
                                         f"{HOROWITZ_SOURCE}; linear in width; x{scale.energy:.3g} from 45 nm "
                                         f"({scale.source})",
                        "leakage": "not modelled"})
