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
    "AGGARWAL_2024",
    "CALIBRATION_ANCHOR",
    "DINT_EFFICIENCY_OVER_INT8",
    "DRAM_ENERGY_PJ_PER_BIT",
    "LEE_2023",
    "HOROWITZ_2014",
    "HOROWITZ_SOURCE",
    "MEMORY_SOURCES",
    "PUBLISHED_RATIOS",
    "PublishedOp",
    "PublishedRatio",
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


VAN_BAALEN_2023 = ("M. van Baalen et al., \"FP8 versus INT8 for efficient deep learning inference\", "
                   "arXiv:2303.17951, 2023 (gate-count model)")
CHEN_2025 = ("M. Chen et al., \"INT v.s. FP: a comprehensive study of fine-grained low-bit quantization "
             "formats\", arXiv:2510.25602, 2025, Table 5 (same-throughput matrix unit, FP32 accumulator)")


@dataclass(frozen=True)
class PublishedRatio:
    """A published cost ratio between two units: ``numerator`` / ``denominator`` of ``metric``
    ("area" or "energy"). Units are named by (a_format, b_format, accumulator) as the
    ``hw.units`` factory metadata names them; accumulator "exact" for integer-exact/Kulisch,
    "float32" for an FP32 accumulator, "-" for a block dot unit."""

    numerator: tuple[str, str, str]
    denominator: tuple[str, str, str]
    metric: str
    value: float
    source: str
    note: str = ""


#: published format-to-format ratios (relayed, checks only)
PUBLISHED_RATIOS: tuple[PublishedRatio, ...] = (
    PublishedRatio(("e4m3fn", "e4m3fn", "exact"), ("int8", "int8", "exact"), "area", 1.53, VAN_BAALEN_2023,
                   "FP8-E4M3 MAC with a fixed-point (Kulisch-style) accumulator vs INT8 MAC: +53%"),
    PublishedRatio(("e4m3fn", "e4m3fn", "float32"), ("int8", "int8", "exact"), "area", 2.83, VAN_BAALEN_2023,
                   "FP8-E4M3 MAC accumulating in FP32 vs INT8 MAC: +183%"),
    PublishedRatio(("mxint8", "mxint8", "-"), ("mxfp8_e4m3", "mxfp8_e4m3", "-"), "energy", 0.63, CHEN_2025),
    PublishedRatio(("mxint8", "mxint8", "-"), ("mxfp8_e4m3", "mxfp8_e4m3", "-"), "area", 0.79, CHEN_2025),
    PublishedRatio(("nvfp4", "nvfp4", "-"), ("mxfp8_e4m3", "mxfp8_e4m3", "-"), "energy", 0.55, CHEN_2025,
                   "normalised to MXFP8 like the rows above (our reading of the table)"),
    PublishedRatio(("nvfp4", "nvfp4", "-"), ("mxfp8_e4m3", "mxfp8_e4m3", "-"), "area", 0.54, CHEN_2025,
                   "normalised to MXFP8 like the rows above (our reading of the table)"),
    PublishedRatio(("nvint4", "nvint4", "-"), ("mxfp8_e4m3", "mxfp8_e4m3", "-"), "energy", 0.34, CHEN_2025,
                   "normalised to MXFP8 like the rows above (our reading of the table)"),
    PublishedRatio(("nvint4", "nvint4", "-"), ("mxfp8_e4m3", "mxfp8_e4m3", "-"), "area", 0.38, CHEN_2025,
                   "normalised to MXFP8 like the rows above (our reading of the table)"),
)

LEE_2023 = ("J. Lee, M. Kim, S. Baek, S. J. Hwang, W. Sung, J. Choi, \"Enhancing computation efficiency in large "
            "language models through weight and activation quantization\", EMNLP 2023, arXiv:2311.05161")

#: dINT (Lee et al. 2023), from the abstract (text checked): "By developing arithmetic units compatible
#: with dINT, we further confirm that our methods yield a 2x hardware efficiency improvement compared to
#: 8-bit integer MAC unit". The paper's unit is its W4A8 MAC: dINT4 weights x INT8 activations, against
#: an INT8 x INT8 MAC. Efficiency = INT8 MAC cost / dINT MAC cost. Not checked (the paper's body was not
#: available to us): which cost the 2x is in (area, power or their product), the accumulator width and
#: the synthesis node; ``hw.cost.matched_comparisons`` therefore prints both our area and energy ratios.
DINT_EFFICIENCY_OVER_INT8 = 2.0

AGGARWAL_2024 = ("S. Aggarwal, H. J. Damsgaard, A. Pappalardo, G. Franco, T. B. Preusser, M. Blott, T. Mitra, "
                 "\"Shedding the bits: pushing the boundaries of quantization with minifloats on FPGAs\", FPL 2024, "
                 "arXiv:2311.12359")
