"""The simulator's interface to the cost model (``hw.cost``): MAC energy per operation of the
recipe's datapath and memory access energies (SRAM, DRAM per byte).

Energy of an op = MACs x energy per MAC + DRAM bytes x DRAM energy per byte + SRAM bytes x SRAM
energy per byte. Until ``hw.cost`` provides these figures the energy is ``NaN`` and
``EnergyModel.missing`` says which source is absent; no figure is typed in here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from mapping import Recipe

from ._hwconfig import HardwareConfig

__all__ = ["EnergyModel", "energy_model"]


@dataclass(frozen=True)
class EnergyModel:
    """Per-operation energies in pJ (``None`` where the cost model has no figure)."""

    mac_pj: float | None
    dram_pj_per_byte: float | None
    sram_pj_per_byte: float | None
    missing: str = ""
    provenance: str = ""

    def op_energy_pj(self, op, macs: int, dram_bytes: int, sram_bytes: int) -> float:
        """Energy of one op (pJ), NaN if any needed figure is missing."""
        if self.missing:
            return float("nan")
        e = dram_bytes * self.dram_pj_per_byte + sram_bytes * self.sram_pj_per_byte
        return e + macs * self.mac_pj


def energy_model(hw: HardwareConfig, recipe: Recipe) -> EnergyModel:
    """Resolve the energies available from ``hw.cost`` now."""
    try:
        importlib.import_module("hw.cost")
    except ImportError:
        return EnergyModel(None, None, None, "hw.cost has not landed")
    return EnergyModel(None, None, None, "hw.cost provides no simulator energy interface yet")
