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
* **Leakage** = bits x the relayed leakage per bit of the node (``LEAKAGE_PW_PER_BIT``, sources
  in ``LEAKAGE_SOURCES``), linear in the capacity and independent of the port width (the bit cells
  dominate; periphery leakage is folded into the per-bit figure of the macros it comes from). Each
  figure is the bit-weighted mean of characterised macros' Liberty leakage (total microwatts /
  total bits), an order of magnitude rather than a sign-off value:

  - 130 nm: the OpenRAM SkyWater 130 macros (``SKY130_MACRO_LEAKAGE_UW``); they disagree per bit
    by 7x (49.7 to 365 pW/bit).
  - 45 nm: the OpenRAM FreePDK45 macros (``SRAM_SOURCES["openram_freepdk45"]``, SPICE-characterised,
    TT 1.0 V 25 C; FreePDK45 is a predictive kit): 4.3 to 9.2 nW/bit. The CACTI-estimated
    bsg_fakeram Nangate45 macros (``SRAM_SOURCES["fakeram45"]``) give about 5x more; recorded as a
    cross-check, not used.
  - 7 nm and every other node: ``leakage_mw`` is ``None`` and the sources say why. At 7 nm no
    characterised figure is relayed: the fakeram7 macros carry a size-independent placeholder and
    the ASAP7 SRAM banks give none (``LEAKAGE_GAPS``).

The raw macro figures (capacity, width, area, leakage, clock energy, with repository, path and
commit) are in ``sram_sources.json`` next to this module; :func:`sram_source_comparison` sets the
area and access energy of each relayed macro against this model's (how far they agree is stated in
docs/cost.md).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnitConfigError
from ._published import HOROWITZ_SOURCE, SRAM_READ_64B_PJ
from ._scaling import node_scaling

__all__ = ["ARRAY_EFFICIENCY", "BITCELL_SOURCES", "BITCELL_UM2", "LEAKAGE_GAPS", "LEAKAGE_PW_PER_BIT",
           "LEAKAGE_SOURCES", "SRAM_SOURCES", "SourceComparison", "SramCost", "sram_cost", "sram_source_comparison"]

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

#: relayed SRAM macros at 45 and 7 nm: source key -> its provenance and raw Liberty figures (sram_sources.json)
SRAM_SOURCES: dict[str, dict] = json.loads(Path(__file__).with_name("sram_sources.json").read_text("utf-8"))["sources"]

_PW_PER = {"mW": 1e9, "uW": 1e6, "nW": 1e3}  # leakage unit -> pW
_PJ_PER = {"fJ": 1e-3, "pJ": 1.0}  # energy unit -> pJ


def _macro_bits(macro: dict) -> int:
    return macro["words"] * macro["width_bits"]


def _pw_per_bit(source: dict, macro: dict) -> float:
    """Leakage per bit of one relayed macro, pW/bit."""
    return macro["leakage"] * _PW_PER[source["leakage_unit"]] / _macro_bits(macro)


def _weighted_pw_per_bit(source: dict) -> float:
    """Bit-weighted mean leakage per bit of a source's macros, pW/bit (total leakage / total bits)."""
    return (sum(m["leakage"] for m in source["macros"]) * _PW_PER[source["leakage_unit"]]
            / sum(_macro_bits(m) for m in source["macros"]))


def _range(source: dict) -> str:
    per_bit = [_pw_per_bit(source, m) for m in source["macros"]]
    return f"{min(per_bit) / 1e3:.3g} to {max(per_bit) / 1e3:.3g} nW/bit"


_F45, _C45 = SRAM_SOURCES["openram_freepdk45"], SRAM_SOURCES["fakeram45"]

#: relayed SRAM leakage per bit by node, pW/bit (bit-weighted means of the macros named in LEAKAGE_SOURCES)
LEAKAGE_PW_PER_BIT: dict[int, float] = {
    130: 1e6 * sum(uw for _, uw in SKY130_MACRO_LEAKAGE_UW.values())
    / sum(b for b, _ in SKY130_MACRO_LEAKAGE_UW.values()),
    45: _weighted_pw_per_bit(_F45),
}
LEAKAGE_SOURCES: dict[int, str] = {
    130: "OpenRAM SkyWater 130 macros (VLSIDA/sky130_sram_macros, Liberty cell_leakage_power, TT 1.8 V 25 C): "
         + ", ".join(f"{n} {uw:.3g} uW ({uw * 1e6 / b:.3g} pW/bit)" for n, (b, uw) in SKY130_MACRO_LEAKAGE_UW.items())
         + "; bit-weighted mean",
    45: f"OpenRAM FreePDK45 macros ({_F45['repo']} {_F45['path']}, characterised: SPICE (Synopsys XA), whole-array "
        f"leakage with the chip disabled, {_F45['corner']}; FreePDK45 is a predictive kit): {len(_F45['macros'])} "
        f"macros, {_range(_F45)}; bit-weighted mean. Not used: the CACTI-estimated bsg_fakeram Nangate45 macros "
        f"({_C45['repo']} {_C45['path']}) give {_range(_C45)}",
}
#: why a node has no SRAM leakage figure, where the relayed sources were checked and found wanting
LEAKAGE_GAPS: dict[int, str] = {
    7: "no characterised figure is relayed: the fakeram7 macros (The-OpenROAD-Project/OpenROAD-flow-scripts "
       "flow/platforms/asap7/lib/NLDM) carry 128.9 uW whatever their size, a placeholder from VLSIDA/bsg_fakeram "
       "example_cfgs/asap7.cfg ('VALUES NOT REALISTIC'); the ASAP7 SRAM banks (The-OpenROAD-Project/asap7_sram_0p0) "
       "give cell_leakage_power 0",
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
                                    if leak is not None else f"not modelled at {node_nm} nm ("
                                    + LEAKAGE_GAPS.get(node_nm, "a published per-bit figure is relayed only at "
                                                       f"{', '.join(map(str, LEAKAGE_PW_PER_BIT))} nm") + ")")})


@dataclass(frozen=True)
class SourceComparison:
    """One relayed SRAM macro against this model at the same node, capacity and width.

    Attributes
    ----------
    source : key in ``SRAM_SOURCES``. macro : macro name. kind : how the source got its figures
        (characterised, CACTI-estimated, layout-based, placeholder: ``SRAM_SOURCES[source]["kind"]``).
    capacity_kib : capacity, KiB. width_bits : access width, bits.
    area_um2, model_area_um2 : the macro's Liberty area and :func:`sram_cost`'s, um^2.
    access_pj, model_access_pj : the macro's clock-pin energy read as one access (``None`` where the
        file gives none usable) and :func:`sram_cost`'s, pJ.
    leakage_pw_per_bit : the macro's Liberty leakage / its bits, pW/bit.
    """

    source: str
    macro: str
    kind: str
    capacity_kib: float
    width_bits: int
    area_um2: float
    model_area_um2: float
    access_pj: float | None
    model_access_pj: float
    leakage_pw_per_bit: float

    @property
    def area_ratio(self) -> float:
        """Source area / model area."""
        return self.area_um2 / self.model_area_um2

    @property
    def energy_ratio(self) -> float | None:
        """Source access energy / model access energy (``None`` without a source energy)."""
        return None if self.access_pj is None else self.access_pj / self.model_access_pj


def sram_source_comparison(*, node_nm: int) -> tuple[SourceComparison, ...]:
    """The relayed macros of ``SRAM_SOURCES`` at ``node_nm`` against :func:`sram_cost` (same capacity and width).

    Parameters
    ----------
    node_nm : node, one of ``BITCELL_UM2`` (nodes without relayed macros give an empty tuple).

    Raises
    ------
    UnitConfigError
        For a node without a published bit-cell area (as :func:`sram_cost`).
    """
    if node_nm not in BITCELL_UM2:
        raise UnitConfigError(f"SRAM node must be one of {', '.join(map(str, BITCELL_UM2))} (nm; a published "
                              f"bit-cell area is needed), not {node_nm!r}")
    out = []
    for key, src in SRAM_SOURCES.items():
        if src["node_nm"] != node_nm:
            continue
        for m in src["macros"]:
            kib = _macro_bits(m) / 8 / 1024
            model = sram_cost(capacity_kib=kib, width_bits=m["width_bits"], node_nm=node_nm)
            energy = m.get("clk_energy")
            out.append(SourceComparison(
                source=key, macro=m["name"], kind=src["kind"].split(":")[0], capacity_kib=kib,
                width_bits=m["width_bits"], area_um2=m["area"], model_area_um2=model.area_um2,
                access_pj=None if energy is None else energy * _PJ_PER[src["energy_unit"]],
                model_access_pj=model.access_pj, leakage_pw_per_bit=_pw_per_bit(src, m)))
    return tuple(out)
