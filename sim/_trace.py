"""Perfetto / Chrome trace JSON of a simulation: one process per phase step, one thread per
block (DMA, array, vector unit, stalls); timestamps in microseconds at the hardware clock.

Each op of a phase step is shown once in detail (DMA, array, vector, stalls of one layer's
instance); the "layers" track spans the op's ``n_layers`` identical instances, which is how far
the timeline advances. Opens in ui.perfetto.dev or chrome://tracing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ._hwconfig import HardwareConfig

__all__ = ["write_trace", "trace_dict"]

_TIDS = {"op": 0, "array": 1, "vector": 2, "dma": 3, "stall": 4, "layers": 5}


def trace_dict(events: list, hw: HardwareConfig) -> dict:
    """Chrome trace dict from ``SimResult.trace_events``."""
    us = 1.0 / hw.clock_mhz
    out = [{"name": "process_name", "ph": "M", "pid": 1, "args": {"name": f"lowbit {hw.name}"}}]
    for name, tid in _TIDS.items():
        out.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}})
    named: set[int] = set()
    for phase, op_name, offset, run, n_layers in events:
        out.append({"name": f"{phase}: {op_name}", "ph": "X", "pid": 1, "tid": 0, "ts": offset * us,
                    "dur": run.cycles * us, "args": {"cycles": run.cycles}})
        out.append({"name": f"{op_name} x {n_layers} layers", "ph": "X", "pid": 1, "tid": 5, "ts": offset * us,
                    "dur": run.cycles * n_layers * us, "args": {"cycles": run.cycles * n_layers}})
        dma_slots: list[float] = []
        for block, what, t0, dt in run.events:
            tid = _TIDS[block]
            if block == "dma":  # one row per concurrent transfer so spans never overlap
                for i, end in enumerate(dma_slots):
                    if end <= t0:
                        break
                else:
                    i = len(dma_slots)
                    dma_slots.append(0.0)
                dma_slots[i] = t0 + dt
                tid = 10 + i
                if tid not in named:
                    named.add(tid)
                    out.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": f"dma {i}"}})
            out.append({"name": what, "ph": "X", "pid": 1, "tid": tid, "ts": (offset + t0) * us, "dur": dt * us})
    return {"traceEvents": out, "displayTimeUnit": "ns"}


def write_trace(events: list, path: str | os.PathLike, hw: HardwareConfig) -> Path:
    """Write the trace JSON atomically to ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(trace_dict(events, hw)))
    os.replace(tmp, path)
    return path
