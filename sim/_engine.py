"""The simpy engine: one op's schedule of tile steps executed on modelled blocks.

Blocks and resources:

* ``DramPort``: the DRAM channels. Addresses are interleaved across channels at fine
  granularity, so every transfer is striped over all of them; this is modelled as one simpy
  ``Resource`` (FIFO) at the aggregate bandwidth ``channels * gbps_per_channel``, shared by every
  requester (activation/weight loads, output stores): concurrent transfers contend and queue.
  A transfer occupies the port for bytes / bandwidth cycles; the DRAM latency is added after it
  (pipelined: it does not block the port).
* DMA engines: a ``Resource`` of ``dma_engines`` slots; a transfer holds one while it runs.
* SRAM buffers: a ``Container`` of 2 tile slots per buffer (double buffering); a load waits for
  a free slot, the compute step that last uses a tile frees it. Outputs hold an output slot
  from the first K step of a tile until their store to DRAM completes.
* The compute unit (MAC array or vector unit) runs steps in order, each for the duration the
  timing sources give (see ``sim._timing``).

Overheads of a memory-bound op relative to bytes / bandwidth (documented bound, checked by
the tests): the latency of the last load, the compute of the last step, and the store of the
last output tile with its latency.

Stall causes of the compute unit: ``input`` (waiting for a tile load), ``output`` (waiting for
an output slot, i.e. stores backing up), ``drain`` (after the last step, waiting for stores).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from mapping import Step

from ._hwconfig import HardwareConfig
from ._timing import TimingSources

__all__ = ["OpRun", "run_steps"]


@dataclass
class OpRun:
    """Result of simulating one op (cycles; bytes)."""

    cycles: float = 0.0
    compute_cycles: float = 0.0
    compute_missing_steps: int = 0
    stall_input: float = 0.0
    stall_output: float = 0.0
    stall_drain: float = 0.0
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0
    dram_busy_cycles: float = 0.0
    steps: int = 0
    events: list = field(default_factory=list)


def run_steps(steps: list[Step], hw: HardwareConfig, timing: TimingSources, *, dataflow: str = "ws",
              trace: bool = False) -> OpRun:
    """Simulate ``steps`` from an empty pipeline to the last store; returns an ``OpRun``.

    Starting empty and ending drained makes the result a function of (steps, hw, timing) only:
    two ops with equal schedules take equal time, which is what lets the caller simulate a
    repeated op once.
    """
    env = simpy.Environment()
    bw = hw.dram_bytes_per_cycle
    lat = hw.dram_latency_cycles
    port = simpy.Resource(env, capacity=1)
    dma = simpy.Resource(env, capacity=hw.dma_engines)
    slots = {b: simpy.Container(env, capacity=2, init=2) for b in ("a", "b", "v", "out")}
    issued = simpy.Store(env)
    res = OpRun(steps=len(steps))
    ev = res.events
    unlimited = bw == float("inf")

    def transfer(nbytes: int, what: str):
        with dma.request() as rq:
            yield rq
            t0 = env.now
            if not unlimited and nbytes:
                with port.request() as prq:
                    yield prq
                    dt = nbytes / bw
                    res.dram_busy_cycles += dt
                    yield env.timeout(dt)
            if lat:
                yield env.timeout(lat)
            if trace:
                ev.append(("dma", what, t0, env.now - t0))

    def loader():
        for t, st in enumerate(steps):
            evs = []
            for buf, nbytes in st.loads:
                yield slots[buf].get(1)
                res.dram_read_bytes += nbytes
                evs.append(env.process(transfer(nbytes, f"load {buf} {nbytes} B")))
            yield issued.put(evs)

    def store(nbytes: int):
        yield env.process(transfer(nbytes, f"store {nbytes} B"))
        yield slots["out"].put(1)

    def compute():
        stores = []
        for st in steps:
            t0 = env.now
            evs = yield issued.get()
            if evs:
                yield simpy.AllOf(env, evs)
            res.stall_input += env.now - t0
            if trace and env.now > t0:
                ev.append(("stall", "wait input", t0, env.now - t0))
            if st.new_output:
                t1 = env.now
                yield slots["out"].get(1)
                res.stall_output += env.now - t1
                if trace and env.now > t1:
                    ev.append(("stall", "wait output slot", t1, env.now - t1))
            cyc = timing.step_cycles(st.work, dataflow)
            if cyc is None:
                res.compute_missing_steps += 1
            elif cyc:
                t2 = env.now
                res.compute_cycles += cyc
                yield env.timeout(cyc)
                if trace:
                    unit = "array" if st.work[0] == "gemm" else "vector"
                    ev.append((unit, " x ".join(map(str, st.work[1:])), t2, cyc))
            for buf in st.release:
                yield slots[buf].put(1)
            if st.store_bytes:
                res.dram_write_bytes += st.store_bytes
                stores.append(env.process(store(st.store_bytes)))
        t3 = env.now
        if stores:
            yield simpy.AllOf(env, stores)
        res.stall_drain = env.now - t3

    env.process(loader())
    done = env.process(compute())
    env.run(until=done)
    res.cycles = env.now
    return res
