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
* **Leakage** = bits x the published leakage per bit of the node (``LEAKAGE_PW_PER_BIT``, sources
  in ``LEAKAGE_SOURCES``), linear in the capacity (the bit cells dominate; periphery leakage is
  folded into the per-bit figure of the macros it comes from). Only nodes with a relayed figure
  have one: 130 nm, from the characterised OpenRAM SkyWater 130 macros. The three macros disagree
  per bit by 7x (49.7 to 365 pW/bit), so the figure, their bit-weighted mean, is an order of
  magnitude, not a sign-off value. At every other node ``leakage_mw`` is ``None`` and the sources
  say why (no per-node leakage scaling equation is relayed here, as for the logic).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UnitConfigError
from ._published import HOROWITZ_SOURCE, SRAM_READ_64B_PJ
from ._scaling import node_scaling

__all__ = ["ARRAY_EFFICIENCY", "BITCELL_SOURCES", "BITCELL_UM2", "LEAKAGE_PW_PER_BIT", "LEAKAGE_SOURCES",
           "SramCost", "sram_cost"]

#: bit cells / macro area (an assumption, not a published figure)
ARRAY_EFFICIENCY = 0.5

#: published 6T SRAM bit-cell area per node, um^2
BITCELL_UM2: dict[int, float] = {180: 5.59, 130: 2.45, 90: 1.0, 65: 0.57, 45: 0.346, 32: 0.171, 14: 0.0588, 7: 0.027}
BITCELL_SOURCES: dict[int, str] = {
    180: "Intel 180 nm: S. Yang et al., IEDM 1998",
    130: "Intel 130 nm: S. Tyagi et al., IEDM 2000 (recalled, not checked)",
    90: "Intel 90 nm: S. Thompson et al., IEDM 2002",
    65: "Intel 65 nm: S. Tyagi et al., IEDM 2005",
    45: "Intel 45 nm: K. Mistry et al., IEDM 2007",
    32: "Intel 32 nm: S. Natarajan et al., IEDM 2008",
    14: "Intel 14 nm: S. Natarajan et al., IEDM 2014",
    7: "TSMC 7 nm HD cell: J. Chang et al., ISSCC 2017",
}

#: characterised SkyWater 130 OpenRAM macros (VLSIDA/sky130_sram_macros, commit 0178860 / 6625c40, typical
#: corner, 1.8 V, 25 C): name -> (bits, cell_leakage_power in uW) as their Liberty files give them
SKY130_MACRO_LEAKAGE_UW: dict[str, tuple[int, float]] = {
    "sky130_sram_1kbyte_1rw_32x256_8": (8 * 1024, 2.987937),
    "sky130_sram_2kbyte_1rw_32x512_8": (16 * 1024, 0.8140023),
    "sky130_sram_4kbyte_1rw1r_32x1024_8": (32 * 1024, 2.411139),
}

#: published SRAM leakage per bit by node, pW/bit (130 nm: the bit-weighted mean of the macros above)
LEAKAGE_PW_PER_BIT: dict[int, float] = {
    130: 1e6 * sum(uw for _, uw in SKY130_MACRO_LEAKAGE_UW.values())
    / sum(b for b, _ in SKY130_MACRO_LEAKAGE_UW.values()),
}
LEAKAGE_SOURCES: dict[int, str] = {
    130: "OpenRAM SkyWater 130 macros (VLSIDA/sky130_sram_macros, Liberty cell_leakage_power, TT 1.8 V 25 C): "
         + ", ".join(f"{n} {uw:.3g} uW ({uw * 1e6 / b:.3g} pW/bit)" for n, (b, uw) in SKY130_MACRO_LEAKAGE_UW.items())
         + "; bit-weighted mean",
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
    leakage_mw : leakage power, mW (bits x ``LEAKAGE_PW_PER_BIT[node_nm]``), ``None`` at a node
        without a published figure.
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
    leak = LEAKAGE_PW_PER_BIT.get(node_nm)
    return SramCost(capacity_kib=capacity_kib, width_bits=width_bits, node_nm=node_nm, area_um2=area,
                    access_pj=access, leakage_mw=None if leak is None else bits * leak * 1e-9, sources={
                        "bitcell": f"relayed: {BITCELL_UM2[node_nm]} um2, {BITCELL_SOURCES[node_nm]}",
                        "array_efficiency": f"assumed: {ARRAY_EFFICIENCY}",
                        "access_energy": f"derived: power law E64 = {e8:.3g} pJ x (C/8KiB)^{b:.3f} fitted to "
                                         f"{HOROWITZ_SOURCE}; linear in width; x{scale.energy:.3g} from 45 nm "
                                         f"({scale.source})",
                        "leakage": (f"relayed: {leak:.3g} pW/bit x {bits:.0f} bits, {LEAKAGE_SOURCES[node_nm]}"
                                    if leak is not None else f"not modelled at {node_nm} nm (a published per-bit "
                                    f"figure is relayed only at {', '.join(map(str, LEAKAGE_PW_PER_BIT))} nm)")})
