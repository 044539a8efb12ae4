"""The simpy engine: one op's schedule of tile steps executed on modelled blocks.

Blocks and resources:

* ``DramPort``: the DRAM channels. Addresses are interleaved across channels at fine
  granularity, so every transfer is striped over all of them; this is modelled as one simpy
  ``Resource`` (FIFO) at the aggregate bandwidth ``channels * gbps_per_channel``, shared by every
  requester (activation/weight loads, output stores): concurrent transfers contend and queue.
  A transfer occupies the port for bytes / bandwidth cycles; the DRAM latency is added after it
  (pipelined: it does not block the port).
* DMA engines: a ``Resource`` of ``dma_engines`` slots; a transfer holds one from its issue
  until its data has crossed the port (waiting for the port included); the DRAM latency that
  follows is pipelined (holds neither the engine nor the port).
* SRAM buffers: 2 tile slots per buffer (double buffering); a load waits (a simpy event) until
  a slot is free, the compute step that last uses a tile frees it. Pieces of A kept resident
  across N tiles (buffer "ar", sized by the mapper) take no slot. Outputs hold an output slot
  from the first K step of a tile until their store to DRAM completes.
* The compute unit (MAC array or vector unit) runs steps in order, each for the duration the
  step timing gives (``sim._gemv.StepTiming``: ``hw.arrays.tile_cycles``, the GEMV-mode model,
  the vector-unit registry of ``sim._timing``).

Overheads of a memory-bound op relative to bytes / bandwidth (documented bound, checked by
the tests): the latency of the last load, the compute of the last step, and the store of the
last output tile with its latency.

Global buffer (``HardwareConfig.gb_kib``, ``sim._global_buffer``): a step whose loads the
global buffer serves (``gb``) waits, holding its DMA engine, until the operand chunks it reads
have arrived from DRAM, then crosses the global buffer's own port (a ``Resource`` every core
contends on) at ``gb_bytes_per_cycle``; its bytes count as ``gb_read_bytes``, and the DRAM
reads are those of the chunks (counted by the global buffer).

Trace events (``trace=True``): ``(block, what, t0, dt, core, bytes, lane)`` with block one of
"array", "vector", "stall", "dma" (``lane``: the DMA engine, whose hold time the span covers),
"dram" (the port's busy time of a transfer) and "gb" (the global buffer port's).

Stall causes of the compute unit: ``input`` (waiting for a tile load), ``output`` (waiting for
an output slot, i.e. stores backing up), ``drain`` (after the last step, waiting for stores).
Inside the array's busy time, ``tile_cycles`` splits cycles into fill, steady state, drain and
weight load (``array_*`` fields): only steady-state cycles stream operands at full rate.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from mapping import Step

from ._hwconfig import HardwareConfig

__all__ = ["OpRun", "run_steps", "start_op", "combine_parts", "cross_port", "held_bytes_bound", "sram_never_full"]

#: tile slots per buffer: two (double buffering); "ar" (activations resident across N tiles,
#: ``mapping`` order "mnk-ar") holds a whole row block of A, whose size the mapper checked, and
#: "br" a head's K and V kept across query blocks by fused attention (``sim._fusion``)
_SLOTS = {"a": 2, "b": 2, "v": 2, "ar": float("inf"), "br": float("inf")}


def held_bytes_bound(steps: list[Step]) -> dict[str, int]:
    """The most bytes the loads of ``steps`` can hold in each engine buffer at once (bytes):
    two tiles, the largest, of a double-buffered buffer (a load waits for a free slot), every
    load of an unslotted one ("ar", "br")."""
    largest: dict[str, int] = {}
    total: dict[str, int] = {}
    for st in steps:
        for buf, nbytes in st.loads:
            largest[buf] = max(largest.get(buf, 0), nbytes)
            total[buf] = total.get(buf, 0) + nbytes
    return {buf: total[buf] if _SLOTS[buf] == float("inf") else _SLOTS[buf] * largest[buf] for buf in total}


def sram_never_full(capacity: dict[str, int], physical: dict[str, str], schedules: list[list[Step]]) -> frozenset[str]:
    """The physical buffers that schedules run side by side on one core can never fill
    (``capacity``: bytes per physical buffer; ``physical``: engine buffer -> physical buffer):
    those where the sum of the schedules' ``held_bytes_bound`` is within the capacity.

    Every byte request a chain makes of such a buffer (``sim._overlap.OpLink.acquire``: a
    ``simpy.Container`` get, given back by a put) is granted the moment it is made and none
    ever queues, so processing those events changes nothing: they can be left out without
    moving any other event (the queue keeps their order) or any result."""
    need: dict[str, int] = {}
    for steps in schedules:
        for buf, nbytes in held_bytes_bound(steps).items():
            need[physical[buf]] = need.get(physical[buf], 0) + nbytes
    return frozenset(b for b in capacity if need.get(b, 0) <= capacity[b])


@dataclass
class OpRun:
    """Result of simulating one op (cycles; bytes; ``sram``: SRAM (read, write) bytes)."""

    cycles: float = 0.0
    compute_cycles: float = 0.0
    compute_missing_steps: int = 0
    stall_input: float = 0.0
    stall_output: float = 0.0
    stall_drain: float = 0.0
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0
    dram_busy_cycles: float = 0.0
    array_fill: int = 0
    array_steady: int = 0
    array_drain: int = 0
    array_weight_load: int = 0
    steps: int = 0
    gb_read_bytes: int = 0
    gb_busy_cycles: float = 0.0
    gb_fill_bytes: int = 0  # bytes the global buffer's DRAM fills wrote into it (sim._cores)
    gb_store_bytes: int = 0  # bytes the op's stores wrote into the global buffer, not DRAM (sim._overlap)
    sram: tuple[int, int] = (0, 0)
    events: list = field(default_factory=list)


def cross_port(env: simpy.Environment, port: simpy.Resource, nbytes: int, bw: float, record):
    """Process body of a transfer of ``nbytes`` over ``port`` at ``bw`` bytes per cycle: wait
    for the port, call ``record(start, duration)``, hold the port for the duration."""
    with port.request() as rq:
        yield rq
        dt = nbytes / bw
        record(env.now, dt)
        yield env.timeout(dt)


#: OpRun fields that add up over the cores running parts of one op
_SUMMED = ("compute_missing_steps", "stall_input", "stall_output", "stall_drain", "dram_read_bytes",
           "dram_write_bytes", "dram_busy_cycles", "array_fill", "array_steady", "array_drain",
           "array_weight_load", "gb_read_bytes", "gb_busy_cycles", "gb_store_bytes")


def combine_parts(runs: list[OpRun], cycles: float) -> OpRun:
    """One op's ``OpRun`` from its cores' parts: ``cycles`` as given, ``compute_cycles`` the
    busiest core's, the other figures summed (events are the caller's to gather)."""
    total = OpRun(steps=sum(r.steps for r in runs), cycles=cycles)
    total.compute_cycles = max(r.compute_cycles for r in runs)
    for f in _SUMMED:
        setattr(total, f, sum(getattr(r, f) for r in runs))
    return total


def run_steps(steps: list[Step], hw: HardwareConfig, timing, *, dataflow: str = "ws",
              trace: bool = False) -> OpRun:
    """Simulate ``steps`` from an empty pipeline to the last store; returns an ``OpRun``.

    Starting empty and ending drained makes the result a function of (steps, hw, timing) only:
    two ops with equal schedules take equal time, which is what lets the caller simulate a
    repeated op once.

    The loads of one step (its A and B tiles) travel as one DMA job. Buffer-slot and
    output-slot waits are simpy events created only when a process actually has to wait.
    """
    env = simpy.Environment()
    port = simpy.Resource(env, capacity=1)
    done, res = start_op(env, port, steps, hw, timing, dataflow=dataflow, trace=trace)
    env.run(until=done)
    res.cycles = env.now
    return res


def start_op(env: simpy.Environment, port: simpy.Resource, steps: list[Step], hw: HardwareConfig, timing, *,
             dataflow: str = "ws", trace: bool = False, dataflows: list[str] | None = None, gb=None,
             core: int = 0, link=None) -> tuple[simpy.Process, OpRun]:
    """Start ``steps`` on one core (its own DMA engines, buffers and compute unit) in ``env``,
    its DRAM transfers queueing on ``port`` (shared with whatever else uses it, e.g. the other
    cores of ``sim._cores``). Returns (the compute process, which ends when the last store is
    done; the ``OpRun`` it fills, ``cycles`` left for the caller to set).

    ``dataflows``: one dataflow per step (steps of several mappings, ``sim._cores``' global-buffer
    blocks), else ``dataflow`` for all. ``gb``: this core's view of the global buffer
    (``sim._global_buffer.CoreView``: every step of that core loads from it: ``serve``, ``computed``), else None.
    ``core``: the core index written in trace events.

    ``link``: None (the op runs alone, as always), or its place in a chain of ops sharing ``env``
    (``sim._overlap``): the loader starts after ``link.before_loads()``, each load also takes
    ``link.acquire(buf, bytes)`` (SRAM shared with the other ops) and is issued by
    ``link.issue(loads, transfer)`` (which may hold loads of inputs not yet produced), a
    release calls ``link.release(buf)``, the compute starts after ``link.before_compute()``
    (producers, the unit) and calls ``link.computed()`` after its last step, ``link.finished()``
    after its last store, a store is the process ``link.store(bytes, what, transfer)`` (counted
    as DRAM writes: the chain moves those it keeps on chip); the chained ops share the core's
    DMA engines, ``link.dma``; a step's compute is the event ``link.step(work, cycles)`` (a
    vector step may run beside the array's)."""
    bw = hw.dram_bytes_per_cycle
    lat = hw.dram_latency_cycles
    dma = simpy.Resource(env, capacity=hw.dma_engines) if link is None else link.dma
    res = OpRun(steps=len(steps))
    ev = res.events
    if not hasattr(dma, "lanes"):  # free DMA engine indices (trace only), shared by the ops using ``dma``
        dma.lanes = list(range(dma.capacity))
    lanes = dma.lanes
    unlimited = bw == float("inf")
    n = len(steps)
    load_done: dict = {}  # step -> its loads' process, from its issue until it computes
    # slot bookkeeping: tiles loaded / released per buffer, outputs started / stored
    loaded = dict.fromkeys(_SLOTS, 0)
    released = dict.fromkeys(_SLOTS, 0)
    state = {"issued": -1, "stored": 0, "started": 0}
    waiters: dict = {}

    def wake(key: str) -> None:
        w = waiters.pop(key, None)
        if w is not None:
            w.succeed()

    def transfer(nbytes: int, what: str, t: int | None = None):
        with dma.request() as rq:
            yield rq
            t0 = env.now
            if trace:
                lane = min(lanes)
                lanes.remove(lane)
            served = t is not None and gb is not None
            if served:
                yield from gb.serve(t, nbytes, res, what)
            elif not unlimited and nbytes:  # cross_port's events, written out (one generator fewer per transfer)
                with port.request() as prq:
                    yield prq
                    dt = nbytes / bw
                    res.dram_busy_cycles += dt
                    if trace:
                        ev.append(("dram", what, env.now, dt, core, nbytes, 0))
                    yield env.timeout(dt)
            if trace:
                lanes.append(lane)
                ev.append(("dma", what, t0, env.now - t0, core, nbytes, lane))
        if lat and not served:  # pipelined: neither the DMA engine nor the port is held during the latency
            yield env.timeout(lat)

    def loader():
        if link is not None:
            yield from link.before_loads()
        for t, st in enumerate(steps):
            if st.loads:
                total = 0
                for buf, nbytes in st.loads:
                    j = loaded[buf]
                    while j - released[buf] >= _SLOTS[buf]:  # every slot holds a tile still in use
                        w = waiters["slot " + buf] = env.event()
                        yield w
                    loaded[buf] = j + 1
                    total += nbytes
                    if link is not None:
                        yield from link.acquire(buf, nbytes)
                if gb is not None:  # a core with a global-buffer view loads every step from it
                    res.gb_read_bytes += total
                else:
                    res.dram_read_bytes += total
                if link is not None:
                    load_done[t] = link.issue(st.loads, lambda nb, what, t=t: transfer(nb, what, t))
                else:
                    load_done[t] = env.process(transfer(total, "load " + "+".join(b for b, _ in st.loads)
                                                        + f" {total} B", t))
            state["issued"] = t
            wake("issued")
        if link is not None:
            link.loads_issued()

    def store(nbytes: int) -> None:
        """Start a store of ``nbytes``; its output slot is freed when the transfer's process
        event is processed (a callback on it: one process and its two events fewer than a
        process waiting for it, the slot freed at the same point of the event order)."""
        what = f"store {nbytes} B"  # a chain may keep it in the global buffer (sim._overlap)
        done = env.process(transfer(nbytes, what)) if link is None else link.store(nbytes, what, transfer)
        done.callbacks.append(stored)

    def stored(_: simpy.Event) -> None:
        state["stored"] += 1
        wake("out")
        if state["stored"] == state["started"]:
            wake("drained")

    def compute():
        if link is not None:
            yield from link.before_compute()
        durations = timed()  # built when the op computes: a chain's later ops hold none yet
        for t, st in enumerate(steps):
            t0 = env.now
            while state["issued"] < t:
                w = waiters["issued"] = env.event()
                yield w
            d = load_done.pop(t, None)  # a long schedule's finished transfers are not kept
            if d is not None and not d.processed:
                yield d
            if env.now > t0:
                res.stall_input += env.now - t0
                if trace:
                    ev.append(("stall", "wait input", t0, env.now - t0, core, 0, 0))
            if st.new_output:
                t1 = env.now
                while state["started"] - state["stored"] >= 2:
                    w = waiters["out"] = env.event()
                    yield w
                state["started"] += 1
                if env.now > t1:
                    res.stall_output += env.now - t1
                    if trace:
                        ev.append(("stall", "wait output slot", t1, env.now - t1, core, 0, 0))
            cyc = durations[t]
            if cyc is None:
                res.compute_missing_steps += 1
            elif cyc:
                t2 = env.now
                yield env.timeout(cyc) if link is None else link.step(st.work, cyc)
                if trace:
                    ev.append(labels[st.work] + (t2, cyc, core, 0, 0))
            for buf in st.release:
                released[buf] += 1
                wake("slot " + buf)
                if link is not None:
                    link.release(buf)
            if gb is not None:
                gb.computed(t)
            if st.store_bytes:
                res.dram_write_bytes += st.store_bytes
                store(st.store_bytes)
        if link is not None:
            link.computed()
        t3 = env.now
        while state["stored"] < state["started"]:
            w = waiters["drained"] = env.event()
            yield w
        res.stall_drain = env.now - t3
        if link is not None:
            link.finished()

    labels: dict = {}  # work -> (unit, what) of its trace events

    def timed() -> list:
        """Durations per step (one timing call per distinct tile shape); adds them to ``res``."""
        cache: dict = {}
        durations = []
        for i, st in enumerate(steps):
            df = dataflow if dataflows is None else dataflows[i]
            w = st.work
            key = (df, w)
            if trace and w not in labels:
                labels[w] = ("array" if w[0] == "gemm" else "vector", " x ".join(map(str, w[1:])))
            if key not in cache:
                cache[key] = timing.step_cycles(w, df)
                if w[0] == "gemm" and cache[key] is not None:
                    parts = timing.array_parts(df, w[1], w[2], w[3])
                    cache[("parts",) + key] = parts
            c = cache[key]
            durations.append(c)
            if c is not None:
                res.compute_cycles += c
                if w[0] == "gemm":
                    f, sd, dr, wl = cache[("parts",) + key]
                    res.array_fill += f
                    res.array_steady += sd
                    res.array_drain += dr
                    res.array_weight_load += wl

        last_df = dataflow if dataflows is None or not steps else dataflows[-1]
        tail = timing.tail_cycles(last_df) if steps and steps[-1].work[0] == "gemm" else 0
        if tail and durations[-1] is not None:  # a pipelined array mode: its fill, once, after the last tile
            durations[-1] += tail
            res.compute_cycles += tail
            res.array_fill += tail
        return durations

    env.process(loader())
    return env.process(compute()), res
