"""Perfetto / Chrome trace JSON of a simulation; timestamps in microseconds at the hardware clock.

Processes and their tracks (threads):

* ``ops`` (pid 1): "op" (each op of each phase step; a layer's ops drawn once, then one span
  saying which layers repeat them) and "layers" (one span per layer of a phase step, the
  repeated ones marked, or per model-scope op);
* ``memory`` (pid 2): "dram" (the DRAM port's busy time per transfer: loads, stores and the
  global buffer's fills) and "global buffer" (its port's busy time per tile load);
* ``core c`` (pid 10 + c), one per core that has events: "array", "vector", "stall", and one
  track per DMA engine ("dma 0", "dma 1", ...: the time the engine is held by a transfer).

The simulator runs one layer and multiplies (``sim._run``): the consecutive op rows of a phase
step that repeat over ``n`` layers are one layer, drawn once in program order with each op at
the time its cycles start in that layer; its engine events keep their own times (relative to
that start: chained ops, ``sim._overlap``, prefetch before it, so their spans stay concurrent
with the ops they ran beside), and layers 2..n follow as one span saying they repeat layer 1.
A reused op or chain is drawn again at its place. Engine events are
``(block, what, t0, dt[, core, bytes, lane])`` (``sim._engine``). Opens in ui.perfetto.dev or
chrome://tracing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ._hwconfig import HardwareConfig

__all__ = ["write_trace", "trace_dict"]

_OPS, _MEMORY, _CORE0 = 1, 2, 10
_CORE_TIDS = {"array": 1, "vector": 2, "stall": 3}
_MEMORY_TIDS = {"dram": 0, "gb": 1}


def trace_dict(events: list, hw: HardwareConfig) -> dict:
    """Chrome trace dict from ``SimResult.trace_events`` ((phase, op name, offset cycles, OpRun,
    layers) per op row)."""
    us = 1.0 / hw.clock_mhz
    meta = [{"name": "process_name", "ph": "M", "pid": _OPS, "args": {"name": f"lowbit {hw.name}: ops"}},
            {"name": "thread_name", "ph": "M", "pid": _OPS, "tid": 0, "args": {"name": "op"}},
            {"name": "thread_name", "ph": "M", "pid": _OPS, "tid": 1, "args": {"name": "layers"}},
            {"name": "process_name", "ph": "M", "pid": _MEMORY, "args": {"name": "memory"}},
            {"name": "thread_name", "ph": "M", "pid": _MEMORY, "tid": 0, "args": {"name": "dram"}},
            {"name": "thread_name", "ph": "M", "pid": _MEMORY, "tid": 1, "args": {"name": "global buffer"}}]
    out: list[dict] = []
    named: set[tuple[int, int]] = set()

    def track(pid: int, tid: int, name: str) -> None:
        if (pid, tid) not in named:
            named.add((pid, tid))
            if (pid, -1) not in named and pid >= _CORE0:
                named.add((pid, -1))
                meta.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": f"core {pid - _CORE0}"}})
                meta.append({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}})
            meta.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}})

    def draw(run, t: float) -> None:  # the op's engine events, its cycles starting at t
        for e in run.events:
            block, what, t0, dt = e[:4]
            core, nbytes, lane = e[4:7] if len(e) >= 7 else (0, 0, 0)
            args = {"bytes": nbytes} if nbytes else {}
            if block in _MEMORY_TIDS:
                pid, tid = _MEMORY, _MEMORY_TIDS[block]
                if core >= 0:
                    what = f"core {core}: {what}"
            else:
                pid = _CORE0 + core
                tid = 10 + lane if block == "dma" else _CORE_TIDS[block]
                track(pid, tid, f"dma {lane}" if block == "dma" else block)
            out.append({"name": what, "ph": "X", "pid": pid, "tid": tid, "ts": (t + t0) * us, "dur": dt * us,
                        **({"args": args} if args else {})})

    for rows in _layers(events):
        phase, _, start, _, n_layers = rows[0]
        layer = sum(run.cycles for _, _, _, run, _ in rows)
        t = start
        for _, op_name, _, run, _ in rows:
            out.append({"name": f"{phase}: {op_name}", "ph": "X", "pid": _OPS, "tid": 0, "ts": t * us,
                        "dur": run.cycles * us, "args": {"cycles": run.cycles, "layer": 1, "drawn": True}})
            draw(run, t)
            t += run.cycles
        if n_layers == 1:
            out.append({"name": f"{phase}: {rows[0][1]}", "ph": "X", "pid": _OPS, "tid": 1, "ts": start * us,
                        "dur": layer * us, "args": {"cycles": layer}})
            continue
        names = [op_name for _, op_name, _, _, _ in rows]
        out.append({"name": f"{phase}: layers 2..{n_layers}: repeats of layer 1 (not drawn)", "ph": "X",
                    "pid": _OPS, "tid": 0, "ts": (start + layer) * us, "dur": layer * (n_layers - 1) * us,
                    "args": {"repeats_of": "layer 1", "layers": f"2..{n_layers}", "cycles_each": layer,
                             "ops": names}})
        for k in range(n_layers):
            out.append({"name": f"{phase}: layer {k + 1}" + ("" if k == 0 else " (repeat of layer 1)"), "ph": "X",
                        "pid": _OPS, "tid": 1, "ts": (start + k * layer) * us, "dur": layer * us,
                        "args": {"cycles": layer, "layer": k + 1, "drawn": k == 0}})
    return {"traceEvents": meta + out, "displayTimeUnit": "ns"}


def _layers(events: list) -> list[list]:
    """The op rows in runs drawn together: the consecutive rows of one phase step that repeat
    over the same ``n > 1`` layers (one layer's ops), every other row alone."""
    runs: list[list] = []
    for ev in events:
        last = runs[-1][0] if runs else None
        if last is not None and ev[4] > 1 and last[4] == ev[4] and last[0] == ev[0]:
            runs[-1].append(ev)
        else:
            runs.append([ev])
    return runs


def write_trace(events: list, path: str | os.PathLike, hw: HardwareConfig) -> Path:
    """Write the trace JSON atomically to ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(trace_dict(events, hw)))
    os.replace(tmp, path)
    return path
