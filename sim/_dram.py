"""DRAM that is not ideal: the sustained fraction of a technology's peak (wire-rate) bandwidth
that streaming transfers reach, with the measurement each fraction is relayed from.

The engine's DRAM port serves transfers at ``HardwareConfig.dram_bytes_per_cycle``, which is
the peak (channels x GB/s per channel) times ``HardwareConfig.dram_efficiency``. A preset built
to resemble a real machine sets ``dram_efficiency = sustained_fraction(technology)``; a TOML file
may set ``[dram] efficiency`` itself. ``dram_efficiency = 1`` (the default, and the older presets)
is the ideal port.

This is a calibrated fraction, not an efficiency model: row-buffer hits and misses, bank
parallelism, refresh and read/write turnaround are folded into one number measured on streaming
benchmarks (STREAM copy or equivalent, reads and writes mixed as an op's loads and stores are).
Where no measurement is at hand the entry says "assumed" and which measured entry it copies.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import HardwareConfigError

__all__ = ["DramEfficiency", "DRAM_EFFICIENCY", "sustained_fraction"]


@dataclass(frozen=True)
class DramEfficiency:
    """Sustained / peak bandwidth of one DRAM technology (``fraction``, in (0, 1]) and where it
    comes from (``source``: relayed measurement, or "assumed: ..." with its reason)."""

    technology: str
    fraction: float
    source: str


_TI_AM64 = ("relayed: TI application note SPRACV1B (AM64x benchmarks), STREAM copy on a 16-bit "
            "1600 MT/s interface")
DRAM_EFFICIENCY: dict[str, DramEfficiency] = {e.technology: e for e in (
    DramEfficiency("ddr4", 0.78, _TI_AM64 + ": DDR4 2482 MB/s = 78% of wire rate"),
    DramEfficiency("lpddr4", 0.69, _TI_AM64 + ": LPDDR4 2221 MB/s = 69% of wire rate"),
    DramEfficiency("lpddr5", 0.69, "assumed: equal to lpddr4 (no LPDDR5 streaming measurement relayed here)"),
    DramEfficiency("hbm2", 0.83, "relayed: Jia, Maggioni, Staiger, Scarpazza, 'Dissecting the NVIDIA Volta "
                                 "GPU Architecture via Microbenchmarking' (arXiv:1804.06826, 2018): V100 HBM2 global "
                                 "memory about 750 of 900 GB/s (recalled, not checked against the paper)"),
    DramEfficiency("hbm2e", 0.88, "relayed: NVIDIA developer forum 'Trouble to reach peak bandwidth of A100' "
                                  "(A100 80GB SXM, 1.80 of 2.04 TB/s read, 88% in Nsight Compute; the thread "
                                  "cites about 90% as the best any kernel reached)"),
    DramEfficiency("hbm3", 0.88, "assumed: equal to hbm2e (no HBM3 streaming measurement relayed here)"),
)}


def sustained_fraction(technology: str) -> float:
    """Sustained / peak bandwidth of ``technology`` (a key of ``DRAM_EFFICIENCY``).

    Raises
    ------
    HardwareConfigError
        For a technology without an entry.
    """
    if technology not in DRAM_EFFICIENCY:
        raise HardwareConfigError(f"DRAM technology must be one of {', '.join(DRAM_EFFICIENCY)}, not {technology!r}")
    return DRAM_EFFICIENCY[technology].fraction
