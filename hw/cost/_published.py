"""Published ("relayed") cost figures, each with its source, and the memory-access energies the
simulator uses.

Nothing here is a measurement of ours: these numbers are copied from the papers named in
``source``. One of them (Horowitz's 8-bit integer multiply) calibrates our units of measure; all
the others are used only to check our predictions (see ``hw.cost.horowitz_comparison``).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnitConfigError

__all__ = [
    "CALIBRATION_ANCHOR",
    "DRAM_ENERGY_PJ_PER_BIT",
    "HOROWITZ_2014",
    "HOROWITZ_SOURCE",
    "MEMORY_SOURCES",
    "PublishedOp",
    "SRAM_READ_64B_PJ",
    "memory_access_energy_pj",
]

HOROWITZ_SOURCE = ("M. Horowitz, \"1.1 Computing's energy problem (and what we can do about it)\", "
                   "ISSCC 2014, 45 nm figures")
ACCELERGY_CACTI_SOURCE = ("Accelergy CACTI plug-in DRAM energies (Wu, Emer, Sze, ICCAD 2019; "
                          "accelergy-cacti-plug-in), relayed per bit")


@dataclass(frozen=True)
class PublishedOp:
    """One published arithmetic cost: ``energy_pj`` per operation and ``area_um2``, at ``node``."""

    key: str
    operation: str
    energy_pj: float
    area_um2: float
    node: str
    source: str


#: Horowitz ISSCC 2014, 45 nm. Keys name the reference unit that reproduces each operation.
HOROWITZ_2014: dict[str, PublishedOp] = {op.key: op for op in (
    PublishedOp("int8_mul", "8-bit integer multiply", 0.2, 282.0, "45nm", HOROWITZ_SOURCE),
    PublishedOp("int32_add", "32-bit integer add", 0.1, 137.0, "45nm", HOROWITZ_SOURCE),
    PublishedOp("int32_mul", "32-bit integer multiply", 3.1, 3495.0, "45nm", HOROWITZ_SOURCE),
    PublishedOp("fp16_mul", "FP16 multiply", 1.1, 1640.0, "45nm", HOROWITZ_SOURCE),
    PublishedOp("fp16_add", "FP16 add", 0.4, 1360.0, "45nm", HOROWITZ_SOURCE),
    PublishedOp("fp32_mul", "FP32 multiply", 3.7, 7700.0, "45nm", HOROWITZ_SOURCE),
    PublishedOp("fp32_add", "FP32 add", 0.9, 4184.0, "45nm", HOROWITZ_SOURCE),
)}

#: the one published point our energy-per-toggle and area-per-NAND2 are calibrated on
CALIBRATION_ANCHOR = HOROWITZ_2014["int8_mul"]

#: energy of one 64-bit read, pJ, by SRAM capacity (Horowitz ISSCC 2014, 45 nm)
SRAM_READ_64B_PJ: dict[str, float] = {"sram_8kb": 10.0, "sram_32kb": 20.0, "sram_1mb": 100.0}

#: DRAM access energy, pJ per bit (as used by Accelergy's CACTI plug-in)
DRAM_ENERGY_PJ_PER_BIT: dict[str, float] = {"lpddr4": 8.0, "hbm2": 6.25, "hbm3": 4.0}

MEMORY_SOURCES: dict[str, str] = {**{k: HOROWITZ_SOURCE for k in SRAM_READ_64B_PJ},
                                  **{k: ACCELERGY_CACTI_SOURCE for k in DRAM_ENERGY_PJ_PER_BIT}}


def memory_access_energy_pj(memory: str, *, bits: int) -> float:
    """Energy in pJ of one access of ``bits`` bits to ``memory``.

    SRAM figures are for 64-bit reads and are scaled linearly with the access width
    (``bits / 64``); DRAM figures are per bit and multiplied by ``bits``. Linear scaling is an
    assumption (it ignores the fixed per-access part of the energy), stated here once.

    Parameters
    ----------
    memory : one of ``sram_8kb``, ``sram_32kb``, ``sram_1mb``, ``lpddr4``, ``hbm2``, ``hbm3``.
    bits : access width in bits, positive.

    Raises
    ------
    UnitConfigError
        For an unknown memory or a non-positive width.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
        raise UnitConfigError(f"bits must be a positive int, not {bits!r}")
    if memory in SRAM_READ_64B_PJ:
        return SRAM_READ_64B_PJ[memory] * bits / 64
    if memory in DRAM_ENERGY_PJ_PER_BIT:
        return DRAM_ENERGY_PJ_PER_BIT[memory] * bits
    raise UnitConfigError(f"memory must be one of {', '.join(MEMORY_SOURCES)}, not {memory!r}")
