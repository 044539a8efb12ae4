"""The simulator's interface to the cost model (``hw.cost``): MAC energy per operation of the
recipe's datapath and memory access energies (SRAM, DRAM).

Energy of an op = MACs x MAC energy + DRAM bytes x DRAM energy per byte + SRAM bytes x SRAM
energy per byte, kept as three columns. Memory energies come from
``hw.cost.memory_access_energy_pj`` (relayed published figures: DRAM per bit for the hardware's
``dram_technology``; SRAM per 64-bit read of the published array size closest above the
largest buffer, scaled to 8 bits, and used for writes too — an assumption stated here). The MAC
energy per operation comes from a ``hw.cost`` characterisation of the recipe's MAC unit
(``CostRecord.energy_pj_per_op``) passed in by the caller; without one the MAC column is empty
and the total energy is reported as memory energy only, and says so. No figure is typed in here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from hw.cost import MEMORY_SOURCES, SRAM_READ_64B_PJ, memory_access_energy_pj
from mapping import Recipe

from ._hwconfig import HardwareConfig

__all__ = ["EnergyModel", "energy_model"]


@dataclass(frozen=True)
class EnergyModel:
    """Per-operation energies in pJ (``None`` where the cost model gives no figure)."""

    mac_pj: float | None
    dram_pj_per_byte: float | None
    sram_pj_per_byte: float | None
    missing: tuple[str, ...] = ()
    provenance: tuple[str, ...] = ()

    def op_energy_pj(self, macs: int, dram_bytes: int, sram_bytes: int) -> dict[str, float]:
        """Energy columns of one op (pJ; NaN where a figure is missing)."""
        nan = float("nan")
        mac = macs * self.mac_pj if self.mac_pj is not None else (0.0 if macs == 0 else nan)
        dram = dram_bytes * self.dram_pj_per_byte if self.dram_pj_per_byte is not None else nan
        sram = sram_bytes * self.sram_pj_per_byte if self.sram_pj_per_byte is not None else nan
        return {"energy_mac_pj": mac, "energy_dram_pj": dram, "energy_sram_pj": sram,
                "energy_pj": mac + dram + sram}


def _sram_entry(kib: int, table: dict) -> str | None:
    sizes = {"sram_8kb": 8, "sram_32kb": 32, "sram_1mb": 1024}
    fits = sorted((v, k) for k, v in sizes.items() if k in table and v >= kib)
    return fits[0][1] if fits else None


def energy_model(hw: HardwareConfig, recipe: Recipe, mac_record=None) -> EnergyModel:
    """The energies ``hw.cost`` gives for ``hw`` and ``recipe``; ``mac_record``: a ``CostRecord``
    of the recipe's MAC unit (its ``energy_pj_per_op``), or ``None`` (MAC column empty)."""
    missing, prov = [], []
    # the hardware config accepts only technologies with an entry (DRAM_TECHNOLOGIES)
    dram = memory_access_energy_pj(hw.dram_technology, bits=8)
    prov.append(f"DRAM {hw.dram_technology}: relayed, {MEMORY_SOURCES[hw.dram_technology]}")
    sram = None
    largest = max(hw.sram_a_kib, hw.sram_b_kib, hw.sram_c_kib, hw.sram_v_kib)
    entry = _sram_entry(largest, SRAM_READ_64B_PJ)
    if entry is not None:
        sram = memory_access_energy_pj(entry, bits=8)
        prov.append(f"SRAM {entry} per byte (64-bit read / 8, writes assumed equal): relayed, "
                    f"{MEMORY_SOURCES[entry]}")
    else:
        missing.append(f"no SRAM energy for a {largest} KiB buffer in hw.cost")
    mac = None
    if mac_record is not None and getattr(mac_record, "energy_pj_per_op", None) is not None:
        mac = float(mac_record.energy_pj_per_op)
        measured = getattr(getattr(mac_record, "provenance", None), "measured", None) or {}
        sha = str(measured.get("verilog_sha256", ""))[:12]
        prov.append(f"MAC: measured by hw.cost, {mac_record.name} (verilog {sha}), {mac:.4g} pJ/op "
                    f"(gate-level toggles, calibrated)")
    else:
        missing.append(f"MAC energy per op of the {recipe.name} datapath not characterised in this run "
                       f"(pass a hw.cost CostRecord); energy columns cover memory only")
    if mac is not None and not math.isfinite(mac):
        mac = None
    return EnergyModel(mac, dram, sram, tuple(missing), tuple(prov))
