"""The timing of a unit: one small frozen record, computed by one function per unit kind."""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Timing"]


@dataclass(frozen=True)
class Timing:
    """Latency and initiation interval of a streaming unit, in clock cycles.

    Attributes
    ----------
    latency : cycles from the cycle an input beat (the last beat of a reduction) is presented
        to the cycle its result is on the output with ``out_valid`` high (1 = registered once).
    initiation_interval : cycles between two accepted input beats (1 = a beat every cycle).
    lanes : products consumed per beat (1 for a scalar MAC).
    """

    latency: int
    initiation_interval: int
    lanes: int = 1

    def reduction_cycles(self, k: int) -> int:
        """Cycles from presenting the first beat of a ``k``-product reduction to its result
        (``ceil(k / lanes)`` beats, then the latency of the last one)."""
        beats = math.ceil(k / self.lanes)
        return (beats - 1) * self.initiation_interval + self.latency

    def as_dict(self) -> dict:
        return {"latency_cycles": self.latency, "initiation_interval": self.initiation_interval,
                "lanes": self.lanes}
