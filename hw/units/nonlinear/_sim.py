"""Driving the streaming nonlinear units in Amaranth's simulator: feed rows element by element
through the ``i`` stream, collect the ``o`` stream, and record on which cycles transfers happen
(the measurement the timing functions are checked against)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from amaranth.sim import Simulator

from ...errors import NumericsError

__all__ = ["StreamRun", "simulate_rows"]


@dataclass(frozen=True)
class StreamRun:
    """Outputs (rows x L, int64) and the cycle of every input/output transfer."""

    outputs: np.ndarray
    in_cycles: list[int]
    out_cycles: list[int]
    flags: dict[str, np.ndarray] | None = None

    def cycles_per_row(self, length: int) -> int:
        """Measured cycles between the first input transfers of row 0 and row 1."""
        return self.in_cycles[length] - self.in_cycles[0]

    def latency_cycles(self) -> int:
        """Measured cycles from the first input transfer to the first output transfer."""
        return self.out_cycles[0] - self.in_cycles[0]


def simulate_rows(unit, rows: Sequence[Sequence[int]], *,
                  in_valid: Callable[[int], bool] | None = None,
                  out_ready: Callable[[int], bool] | None = None,
                  flags: Sequence[str] = (),
                  max_cycles: int = 10_000_000) -> StreamRun:
    """Stream ``rows`` (rows x L integers, or rows x L x F for a unit whose ``input_fields``
    names F fields per element, e.g. SwiGLU's (gate, up)) through ``unit`` (a ``RowUnit``) in
    Amaranth's simulator; ``in_valid(cycle)`` / ``out_ready(cycle)`` shape the handshakes
    (default: always). ``flags`` names extra output ports (e.g. ``row_error``) sampled with every
    output transfer.

    Raises
    ------
    NumericsError
        If ``rows`` is not integers of the unit's row length (and field count) within its
        input ranges.
    RuntimeError
        If the unit does not produce every output within ``max_cycles`` cycles.
    """
    arr = np.asarray(rows)
    fields = tuple(unit.input_fields)
    dims = 3 if fields else 2
    if arr.ndim != dims or arr.dtype.kind not in "iu":
        raise NumericsError(f"rows must be a {dims}-D integer array, not {arr.ndim}-D of dtype {str(arr.dtype)!r}")
    if fields and arr.shape[2] != len(fields):
        raise NumericsError(f"each element must have {len(fields)} fields {fields}, not {arr.shape[2]}")
    n_rows, width = arr.shape[:2]
    length = unit.length
    if width != length:
        raise NumericsError(f"row length must equal the unit's length {length}, not {width}")
    for j, (lo, hi) in enumerate(unit.input_ranges()):
        part = arr[..., j] if fields else arr
        if part.size and (int(part.min()) < lo or int(part.max()) > hi):
            bad = int(part.min()) if int(part.min()) < lo else int(part.max())
            what = f"{fields[j]} inputs" if fields else "inputs"
            raise NumericsError(f"{what} must be in [{lo}, {hi}] for x_bits={unit.x_bits}, not {bad!r}")
    if fields:
        flat: list = [dict(zip(fields, (int(v) for v in e))) for e in arr.reshape(-1, len(fields))]
    else:
        flat = [int(v) for v in arr.ravel()]
    outs: list[int] = []
    in_cycles: list[int] = []
    out_cycles: list[int] = []
    flag_values: dict[str, list[int]] = {f: [] for f in flags}

    async def bench(ctx) -> None:
        pos = 0
        cycle = 0
        while len(outs) < len(flat):
            if cycle >= max_cycles:
                raise RuntimeError(f"unit produced {len(outs)} of {len(flat)} outputs in {max_cycles} cycles")
            offer = pos < len(flat) and (in_valid is None or in_valid(cycle))
            ctx.set(unit.i.valid, offer)
            if offer:
                ctx.set(unit.i.payload, flat[pos])
            ready = out_ready is None or out_ready(cycle)
            ctx.set(unit.o.ready, ready)
            if offer and ctx.get(unit.i.ready):
                in_cycles.append(cycle)
                pos += 1
            if ready and ctx.get(unit.o.valid):
                outs.append(int(ctx.get(unit.o.payload)))
                for f in flags:
                    flag_values[f].append(int(ctx.get(getattr(unit, f))))
                out_cycles.append(cycle)
            await ctx.tick()
            cycle += 1

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    out = np.array(outs, dtype=np.int64).reshape(n_rows, width) if n_rows else np.zeros((0, width), np.int64)
    flag_arrays = {f: np.array(v, dtype=np.int64).reshape(out.shape) for f, v in flag_values.items()}
    return StreamRun(out, in_cycles, out_cycles, flag_arrays)
