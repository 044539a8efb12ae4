"""Overlap across ops (``HardwareConfig.overlap``): the ops of a chain run in one simpy
environment, each through ``sim._engine.start_op`` with an ``OpLink`` that ties it to the others.

What overlaps, and what bounds it:

* **Weight prefetch.** A core's loads are issued in program order: an op's loader starts when
  the previous op's loader has issued its last load (one DMA command queue per core). Loads of
  weights (GEMM operand B of role "weight", embedding rows) are issued at once; loads of
  tensors produced inside the chain wait until every core has finished the ops producing
  that operand (their last stores done): a GEMM's A and its non-weight B (K, V) are gated
  apart, so V prefetches during the softmax when ``kv_append`` is not in the chain. A step
  whose loads are gated differently is split into one DMA job per gate while its producers
  are unfinished (one job, as without overlap, once they are).
* **SRAM.** Besides the per-op double-buffer slots of the engine, every load takes its bytes
  from the core's physical buffer (a ``simpy.Container`` per buffer ``a``, ``b``, ``v``
  holding its whole capacity; ``ar`` counts in ``a``, ``br`` in the buffer fused attention
  holds K/V in) and gives them back when the step that last uses the tile releases it. So the
  next op prefetches only into bytes the current op has actually freed.
* **Units.** The array and the vector unit are one ``simpy.Resource`` each per core, taken by
  an op for its whole compute, in program order per unit (fused attention takes both). An op
  computes once the ops producing its inputs have computed on every core (their last step
  done; loads of their outputs wait for the stores as said above), so a vector op runs beside
  the next array op when neither feeds the other (``rope_q`` beside ``k_proj``, ``v_proj``).
* **DMA engines** are the core's (shared by the chained ops), the DRAM port the chip's.
* **Inside fused attention** (``sim._fusion`` orders its steps QK0, SM0, QK1, PV0, SM1, QK2,
  PV1, ... when overlap is on) the softmax of a block runs on the vector unit while the array
  computes the next block's QKᵀ (two blocks of scores fit the accumulator buffer: the block is
  sized to half of it); P·V of a block waits for its softmax (``OpLink.step``).

* **Global buffer** (``HardwareConfig.gb_kib``, ``sim._global_buffer``): an op with a buffer plan
  (``sim._cores.gb_plan``, as when it runs alone) has its cores' parts of the plan's blocks
  served by the buffer; the chain's ops share one capacity (a ``simpy.Container``) and one port
  to the cores. The DRAM fills form one queue in program order: an op's fills start when the
  previous op's have crossed the DRAM port, each unit of groups is admitted when the bytes the
  earlier ops hold have been released (a group leaves when every core has finished the blocks
  reading it), so the next op's weights stream into the buffer while the current op computes.
  A fill of a produced tensor (a GEMM's A, a non-weight B; attention's Q, K, V) waits for its
  producers' last stores; within a unit the other chunks are filled first. A core's load from
  the buffer waits for its chunks before it takes a DMA engine (a load holding an engine while
  its chunks wait for room would starve the earlier op's loads).
* **Produced tensors kept in the global buffer.** An op's output read only by later ops of the
  chain (``READERS``: q_proj by rope_q, the attention by o_proj, the norms by the projections,
  ...; not the residual stream nor the KV cache, read beyond the chain) is kept in the buffer
  when, at every op from its producer to its last reader, it fits beside the outputs already
  kept there and that op's own plan (``_kept_outputs``; an output staying in the cores' SRAM,
  ``sim._fusion``, has no stores to keep). Its room is taken in the fill queue at the
  producer's place; its stores cross the buffer's port (not DRAM) once the room is granted; a
  reader with a buffer plan finds the operand's chunks there when the producer's stores are
  done (not filled from DRAM, no room of its own), a reader without one loads its share of
  the input bytes (the kept producers' bytes over its input's) over the buffer's port; the room
  is given back when every reader has finished. Bytes: the producer's stores count as
  ``gb_fill_bytes`` (written into the buffer) instead of DRAM writes, a reader's as
  ``gb_read_bytes`` instead of DRAM reads.

Producers are matched by op name (``PRODUCERS``, the ops of ``mapping.layer_ops`` and
``sim._fusion``); an op whose name is not listed waits for every op before it in the chain.
Which ops form a chain is ``sim._run``'s choice (a prefill step's layer; a decode step's ops
before, of and after attention).

Not modelled: the accumulator (output) buffer shared across ops (each op keeps its own two
output slots). The trace draws a step's
compute span from when the engine issues it, not from when the pipelined unit runs it.

Per-op figures of a chain: ``cycles`` is the time the op adds to the chain's end
(``max(0, finish_i - max_{j<i} finish_j)``), so the ops' cycles add up to the chain's; bytes,
stalls and compute are the op's own (summed over cores, compute of the busiest core).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import simpy

from mapping import GemmOp, Recipe, VectorOp

from ._cores import gb_plan, gb_schedules, split_op
from ._engine import OpRun, combine_parts, cross_port, sram_never_full, start_op
from ._fusion import FusedAttention, kv_buffer
from ._global_buffer import GlobalBuffer
from ._hwconfig import HardwareConfig
from .errors import SimulationError

__all__ = ["OpLink", "ChainResult", "PRODUCERS", "producers_of", "READERS", "readers_of", "run_chain"]

#: op name -> (names of the ops producing its first input: A of a GEMM, the rows of a vector
#: op; names of the ops producing a GEMM's B when B is not a weight: K or V). The latest op of
#: each name before it in the chain counts; names absent from the chain are skipped.
PRODUCERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "q_proj": (("attn_norm",), ()), "k_proj": (("attn_norm",), ()), "v_proj": (("attn_norm",), ()),
    "rope_q": (("q_proj",), ()), "rope_k": (("k_proj",), ()),
    "kv_append": (("k_proj", "rope_k", "v_proj"), ()),
    "attn_scores": (("q_proj", "rope_q"), ("k_proj", "rope_k", "kv_append")),
    "softmax": (("attn_scores",), ()),
    "attn_context": (("softmax",), ("v_proj", "kv_append")),
    "attention": (("q_proj", "rope_q"), ("k_proj", "rope_k", "v_proj", "kv_append")),
    "o_proj": (("attn_context", "attention"), ()),
    "attn_residual": (("o_proj",), ()),
    "ffn_norm": (("attn_residual",), ()),
    "gate_proj": (("ffn_norm",), ()), "up_proj": (("ffn_norm",), ()),
    "silu_mul": (("gate_proj", "up_proj"), ()),
    "down_proj": (("silu_mul",), ()),
    "ffn_up": (("ffn_norm", "attn_norm"), ()),
    "ffn_residual": (("attn_residual", "down_proj", "ffn_down"), ()),
    "residual": (("o_proj", "down_proj", "ffn_down"), ()),
}


#: producer op name -> alternatives of the ops reading its output as their first input (the first
#: alternative with an op later in the chain reads it); the outputs not listed (the residual
#: stream, the KV cache, the logits) are read beyond the chain, so they go to DRAM
READERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "attn_norm": (("q_proj", "k_proj", "v_proj"),),
    "q_proj": (("rope_q",), ("attention", "attn_scores")),
    "k_proj": (("rope_k",), ("kv_append",)),
    "v_proj": (("kv_append",),),
    "rope_q": (("attention", "attn_scores"),),
    "rope_k": (("kv_append",),),
    "attn_scores": (("softmax",),),
    "softmax": (("attn_context",),),
    "attention": (("o_proj",),), "attn_context": (("o_proj",),),
    "o_proj": (("attn_residual", "residual"),),
    "ffn_norm": (("gate_proj", "up_proj", "ffn_up"),),
    "gate_proj": (("silu_mul",),), "up_proj": (("silu_mul",),),
    "silu_mul": (("down_proj",),),
    "down_proj": (("ffn_residual", "residual"),), "ffn_down": (("ffn_residual", "residual"),),
}


def readers_of(names: list[str], i: int) -> list[int]:
    """Indices of the later ops of a chain reading op ``i``'s output (``READERS``; empty when
    its output is read beyond the chain or by none of its ops)."""
    for alt in READERS.get(names[i], ()):
        found = [j for j in range(i + 1, len(names)) if names[j] in alt]
        if found:
            return found
    return []


def producers_of(names: list[str]) -> list[tuple[list[int], list[int]]]:
    """For each op of a chain (by name), the indices of the earlier ops producing its first
    input and its B operand (``PRODUCERS``; an unlisted name: every earlier op, for both)."""
    out = []
    for i, name in enumerate(names):
        if name not in PRODUCERS:
            out.append((list(range(i)), list(range(i))))
            continue
        found = []
        for group in PRODUCERS[name]:
            deps = {max(j for j in range(i) if names[j] == p) for p in group if p in names[:i]}
            found.append(sorted(deps))
        out.append((found[0], found[1]))
    return out


def _units(op) -> tuple[str, ...]:
    if isinstance(op, FusedAttention):
        return ("array", "vector")
    return ("array",) if isinstance(op, GemmOp) else ("vector",)


def _operand_buffers(op) -> tuple[frozenset[str], frozenset[str]]:
    """Engine buffers of an op's first input and of a non-weight B (K, V): the loads that read
    tensors produced by earlier ops. Weights (B of role "weight", embedding rows) are neither."""
    if isinstance(op, GemmOp):
        return frozenset({"a", "ar"}), frozenset({"b", "br"} if op.b_role != "weight" else ())
    if isinstance(op, VectorOp):
        return (frozenset() if op.in_role == "weight" else frozenset({"v"})), frozenset()
    return frozenset({"a", "ar", "v"}), frozenset({"b", "br"})


class _Core:
    """One core's resources shared by the ops of a chain."""

    def __init__(self, env: simpy.Environment, hw: HardwareConfig, reserved_a_bytes: int = 0) -> None:
        k = 1024
        self.dma = simpy.Resource(env, capacity=hw.dma_engines)
        self.units = {"array": simpy.Resource(env, capacity=1), "vector": simpy.Resource(env, capacity=1)}
        # the activation buffer less what the resident residual stream holds (sim._fusion)
        free = {"a": hw.sram_a_kib * k - reserved_a_bytes, "b": hw.sram_b_kib * k, "v": hw.sram_v_kib * k}
        self.sram = {b: simpy.Container(env, capacity=n, init=n) for b, n in free.items()}
        br = kv_buffer(hw)[0]  # where fused attention holds K and V
        self.physical = {"a": "a", "ar": "a", "b": "b", "br": br, "v": "v"}
        self.last_loads: simpy.Event | None = None
        self.last_acquired: dict[str, simpy.Event | None] = {"array": None, "vector": None}
        self.uncounted: frozenset[str] = frozenset()  # SRAM buffers the chain never fills (run_chain)


class OpLink:
    """One op's part on one core in a chain: the ``link`` that ``sim._engine.start_op`` calls
    (see its docstring). Events: ``loads_done`` (its loader issued its last load),
    ``acquired`` (it holds its units), ``computed`` / ``finished_event``."""

    def __init__(self, env: simpy.Environment, core: _Core, *, units: tuple[str, ...], gates: dict,
                 inputs_computed: list, pipelined: int = 0, gb=None, steps: list | None = None) -> None:
        self.env = env
        # a core part served by the global buffer (``sim._global_buffer.CoreView``): each step's
        # load waits for its chunks before it takes a DMA engine (``issue``); ``steps``: its schedule
        self._gb = gb
        self.reserve_a = 0  # activation-buffer bytes taken back before its loads (run_chain: the stream read back)
        # the steps with loads, in order (a generator: no list of them per core)
        self._load_steps = (t for t, st in enumerate(steps or []) if st.loads) if gb is not None else None
        self.core = core
        self.dma = core.dma
        self._units = units
        self._gates = gates  # engine buffer -> event its loads wait for (their producers' last stores)
        self._prev_loads = core.last_loads
        self.loads_done = env.event()
        core.last_loads = self.loads_done
        self._prev_acquired = [core.last_acquired[u] for u in units]
        self.acquired = env.event()
        for u in units:
            core.last_acquired[u] = self.acquired
        self._compute_gate = env.all_of(inputs_computed) if inputs_computed else None
        self.computed_event = env.event()
        self.finished_event = env.event()
        self._held: dict[str, deque] = {}
        self._requests: list = []
        self.finish_time = float("nan")
        # (head, block) units of a software-pipelined fused attention, per segment (the parts of a
        # core's global-buffer blocks: each pipelined on its own, one after another)
        self._segments = deque(pipelined if isinstance(pipelined, (list, tuple)) else [pipelined])
        self._pipelined = self._segments.popleft()
        self._array_steps = 0  # array steps started
        self._softmax: list = []  # the processes of its softmax steps, in order
        # a tensor the chain keeps in the global buffer (run_chain): ``keep`` the event of its
        # room there (the op's stores cross the buffer's port once it is granted, not DRAM's);
        # ``from_gb``: engine buffer -> (fraction of its loads' bytes, event) read from the buffer
        # once the event (the producers' last stores) has happened
        self.keep: simpy.Event | None = None
        self.from_gb: dict = {}
        self.gport: simpy.Resource | None = None
        self.gb_bw = 0.0
        self.gb_stored = 0  # bytes stored into the buffer, loaded from it (the engine counted them as DRAM's)
        self.gb_loaded = 0
        self.gb_busy = 0.0  # cycles of the buffer's port those took
        self.gb_events: list = []  # their trace events
        self.core_index = 0

    # --- the loader ---------------------------------------------------------------------------
    def before_loads(self):
        if self._prev_loads is not None and not self._prev_loads.triggered:
            yield self._prev_loads
        if self.reserve_a:
            got = self.core.sram["a"].get(self.reserve_a)
            if not got.triggered:
                yield got

    def acquire(self, buf: str, nbytes: int):
        if self.core.physical[buf] in self.core.uncounted:  # granted at once (sim._engine.sram_never_full)
            return
        box = self.core.sram[self.core.physical[buf]]
        n = min(nbytes, box.capacity)
        self._held.setdefault(buf, deque()).append(n)
        if n:
            got = box.get(n)
            if not got.triggered:  # taken at once when the bytes are free
                yield got

    def issue(self, loads, transfer) -> simpy.Process:
        total = sum(n for _, n in loads)
        what = "load " + "+".join(b for b, _ in loads) + f" {total} B"
        if self._gb is not None:  # from the global buffer, once its chunks are there
            t = next(self._load_steps)
            waits = self._gb.waits(t)
            if not waits:
                return self.env.process(transfer(total, what))
            return self.env.process(self._after_chunks(waits, total, transfer, what))
        jobs = []
        if self.from_gb:  # the parts of loads a chained producer kept in the global buffer
            rest = []
            for b, n in loads:
                f, ready = self.from_gb.get(b, (0.0, None))
                k = min(n, math.ceil(n * f))
                if k:
                    jobs.append(self.env.process(self._gb_cross(k, what + " (global buffer)", ready, "load")))
                if n - k:
                    rest.append((b, n - k))
            if not rest:
                return self.env.all_of(jobs)
            loads, total = rest, sum(n for _, n in rest)
        held: dict = {}  # gate -> bytes of this step's loads waiting for it
        for b, n in loads:
            g = self._gates.get(b)
            if g is not None and not g.triggered:
                held[g] = held.get(g, 0) + n
        if not held and not jobs:  # one DMA job, as without overlap
            return self.env.process(transfer(total, what))
        free = total - sum(held.values())
        jobs += [self.env.process(transfer(free, what + " (prefetched part)"))] if free else []
        jobs += [self.env.process(self._after(g, n, transfer, what + " (after its producers)"))
                 for g, n in held.items()]
        return self.env.all_of(jobs)

    def store(self, nbytes: int, what: str, transfer) -> simpy.Process:
        """A store of ``nbytes``: to DRAM by the engine's ``transfer``, or into the global buffer
        when the chain keeps the op's output there (``keep``)."""
        if self.keep is None:
            return self.env.process(transfer(nbytes, what))
        return self.env.process(self._gb_cross(nbytes, what + " (global buffer)", self.keep, "store"))

    def _gb_cross(self, nbytes: int, what: str, ready: simpy.Event | None, kind: str):
        """A transfer between this core and the global buffer: once ``ready``, on a DMA engine,
        over the buffer's port."""
        if ready is not None and not ready.triggered:
            yield ready
        with self.dma.request() as rq:
            yield rq

            def record(start: float, dt: float) -> None:
                self.gb_busy += dt
                self.gb_events.append(("gb", what, start, dt, self.core_index, nbytes, 0))

            if self.gb_bw != math.inf:
                yield from cross_port(self.env, self.gport, nbytes, self.gb_bw, record)
        if kind == "store":
            self.gb_stored += nbytes
        else:
            self.gb_loaded += nbytes

    def _after_chunks(self, waits: list, nbytes: int, transfer, what: str):
        """A load from the global buffer once its chunks are there (one process: no condition event)."""
        for ev in waits:
            if not ev.processed:
                yield ev
        yield from transfer(nbytes, what)

    def _after(self, gate: simpy.Event, nbytes: int, transfer, what: str):
        yield gate
        yield self.env.process(transfer(nbytes, what))

    def loads_issued(self) -> None:
        self.loads_done.succeed()

    def release(self, buf: str) -> None:
        q = self._held.get(buf)
        if q:  # a release of a load residency dropped has nothing to give back
            n = q.popleft()
            if n:
                self.core.sram[self.core.physical[buf]].put(n)

    # --- the compute ----------------------------------------------------------------------------
    def before_compute(self):
        if self._compute_gate is not None and not self._compute_gate.triggered:
            yield self._compute_gate
        for prev in self._prev_acquired:  # in program order on each unit
            if prev is not None and not prev.triggered:
                yield prev
        self._requests = [self.core.units[u].request() for u in self._units]
        for rq in self._requests:
            yield rq
        self.acquired.succeed()

    def step(self, work: tuple, cycles: float) -> simpy.Event:
        """The compute of one step. In a software-pipelined fused attention of ``n`` (head, block)
        units (``pipelined``; steps QK0, SM0, QK1, PV0, SM1, ..., QK[n-1], PV[n-2], SM[n-1],
        PV[n-1], ``sim._fusion``) a softmax step runs on the vector unit beside the array (one
        softmax at a time, in order) and P·V of unit i waits for softmax i; else one step after
        another."""
        n = self._pipelined
        if not n:
            return self.env.timeout(cycles)
        if work[0] == "vector":
            after = self._softmax[-1] if self._softmax else None
            self._softmax.append(self.env.process(self._vector(after, cycles)))
            return self.env.timeout(0)
        a = self._array_steps  # array steps: QK0, QK1, PV0, QK2, PV1, ..., QK[n-1], PV[n-2], PV[n-1]
        self._array_steps += 1
        unit = n - 1 if a == 2 * n - 1 else a // 2 - 1 if a >= 2 and a % 2 == 0 else None
        softmax = self._softmax[unit] if unit is not None else None
        if self._array_steps == 2 * n and self._segments:  # the next segment's pipeline
            self._pipelined, self._array_steps, self._softmax = self._segments.popleft(), 0, []
        if softmax is None or softmax.triggered:
            return self.env.timeout(cycles)
        return self.env.process(self._after_softmax(softmax, cycles))

    def _vector(self, after: simpy.Event | None, cycles: float):
        if after is not None and not after.triggered:
            yield after
        yield self.env.timeout(cycles)

    def _after_softmax(self, softmax: simpy.Event, cycles: float):
        yield softmax
        yield self.env.timeout(cycles)

    def computed(self) -> None:
        for u, rq in zip(self._units, self._requests):
            self.core.units[u].release(rq)
        self._requests = []
        self.computed_event.succeed()

    def finished(self) -> None:
        for buf, q in self._held.items():  # tiles never released go back at the end
            while q:
                n = q.popleft()
                if n:
                    self.core.sram[self.core.physical[buf]].put(n)
        self.finish_time = self.env.now
        self.finished_event.succeed()


def _give_back(box: simpy.Container, after: simpy.Event, nbytes: int):
    yield after
    yield box.put(nbytes)


def _take(box: simpy.Container, nbytes: int):
    yield box.get(nbytes)


@dataclass
class ChainResult:
    """Outcome of a chain: per op (mapping of core 0's part, ``OpRun`` with attributed cycles,
    per-core (mapping, steps, OpRun) list) and the chain's total cycles."""

    ops: list
    cycles: float


def run_chain(ops: list, hw: HardwareConfig, timing, schedule, *, trace: bool = False,
              reserved_a_bytes: int | list[int] = 0, recipe: Recipe | None = None) -> ChainResult:
    """Simulate ``ops`` (in program order) chained on ``hw.cores`` cores sharing one DRAM port;
    ``schedule(i, part)`` gives the (mapping, steps) of a part of op ``i`` (parts:
    ``sim._cores.split_op``); ``reserved_a_bytes``: activation-buffer bytes no op may use (the
    resident residual stream, ``sim._fusion.Residency``), one figure or one per op: where it
    drops (the stream spilled to DRAM) the bytes return to each core's buffer when the op before
    has finished there, where it rises (the stream read back) the op's loads wait until they are
    free; ``recipe``: the operands' formats, which
    the global buffer's plans need (``hw.gb_kib``; without a recipe no op uses the buffer).

    Returns a ``ChainResult``: each op's ``OpRun`` has ``cycles`` = the time it adds to the
    chain's end (they add up to ``ChainResult.cycles``), ``compute_cycles`` its busiest core's,
    the other figures summed over its cores (the global buffer's DRAM fills included, as in
    ``sim._cores.run_cores``), ``events`` every core's and the fills' (absolute chain times).
    """
    env = simpy.Environment()
    port = simpy.Resource(env, capacity=1)
    gport = simpy.Resource(env, capacity=1)  # the global buffer's port, every op's
    reserved = [reserved_a_bytes] * len(ops) if isinstance(reserved_a_bytes, int) else list(reserved_a_bytes)
    cores = [_Core(env, hw) for _ in range(hw.cores)]
    for core in cores if reserved and reserved[0] else ():  # taken at once: the stream is there from the start
        core.sram["a"].get(reserved[0])
    deps = producers_of([op.name for op in ops])
    stored_by: dict = {}  # producer indices -> the event of their last stores on every core
    links: list[list[OpLink]] = []
    parts_runs: list[list] = []
    gbufs: list = []  # per op: (its GlobalBuffer, the gates of its operands' fills) or None
    arr = (hw.array_rows, hw.array_cols)
    plans: list = [None] * len(ops)
    if hw.gb_kib and recipe is not None:
        for i, op in enumerate(ops):
            if isinstance(op, (GemmOp, FusedAttention)):
                plans[i] = gb_plan(op, recipe, hw, lambda part, i=i: schedule(i, part))
    kept = _kept_outputs(ops, plans, hw, schedule) if hw.gb_kib and recipe is not None else {}
    done_of: dict = {}  # producer index -> the event of its last stores on every core
    rooms: dict = {}  # kept producer index -> the event of its tensor's room in the buffer (granted)
    for i, op in enumerate(ops):
        a_deps, b_deps = deps[i]
        computed = [lk.computed_event for j in sorted(set(a_deps) | set(b_deps)) for lk in links[j]]
        a_bufs, b_bufs = _operand_buffers(op)
        gates, fill_gates = {}, {}
        for bufs, ds, operands in ((a_bufs, a_deps, ("a", "q")), (b_bufs, b_deps, ("b", "k", "v"))):
            if ds:
                key = tuple(ds)
                if key not in stored_by:
                    stored_by[key] = env.all_of([lk.finished_event for j in ds for lk in links[j]])
                gates.update(dict.fromkeys(bufs, stored_by[key]))
                if bufs:  # a weight B is no one's product: its fills are never gated
                    fill_gates.update(dict.fromkeys(operands, stored_by[key]))
        plan = plans[i]
        if i in kept:
            rooms[i] = env.event()
        # its first input kept in the buffer by chained producers: from there, not DRAM
        mine_kept = [j for j in kept if i in kept[j][1]]
        ready = (env.all_of([done_of[j] for j in mine_kept]) if mine_kept else None)
        from_gb = {}
        if ready is not None and plan is None:
            f = min(1.0, sum(kept[j][0] for j in mine_kept) / max(1, _input_bytes(op, recipe)))
            from_gb = dict.fromkeys(a_bufs, (f, ready))
        mine, runs = [], []
        pipelined = (lambda part: part.count * len(part.blocks())) if isinstance(op, FusedAttention) else (lambda _: 0)
        if plan is None:
            gbufs.append(None)
            for c, part in enumerate(split_op(op, hw.cores, arr)):
                mp, steps = schedule(i, part)
                link = OpLink(env, cores[c], units=_units(op), gates=gates, inputs_computed=computed,
                              pipelined=pipelined(part))
                _gb_link(link, hw, gport, c, rooms.get(i), from_gb)
                _, run = start_op(env, port, steps, hw, timing, dataflow=getattr(mp, "dataflow", "ws"),
                                  trace=trace, link=link, core=c)
                mine.append(link)
                runs.append((mp, steps, run))
        else:  # every core's parts of the plan's blocks, its loads served by the global buffer
            gbuf = GlobalBuffer(env, port, hw, plan, trace=trace, gport=gport)
            gbufs.append((gbuf, fill_gates, {("q" if isinstance(op, FusedAttention) else "a"): ready}
                          if ready is not None else {}))
            for mp, steps, df, dfs, view in gb_schedules(op, plan, gbuf, hw.cores,
                                                         lambda part, i=i: schedule(i, part), arr):
                link = OpLink(env, cores[view.core], units=_units(op), gates={}, inputs_computed=computed,
                              pipelined=_core_units(op, plan, view.core, hw), gb=view, steps=steps)
                _gb_link(link, hw, gport, view.core, rooms.get(i), {})
                _, run = start_op(env, port, steps, hw, timing, dataflow=df, dataflows=dfs, trace=trace,
                                  gb=view, core=view.core, link=link)
                mine.append(link)
                runs.append((mp, steps, run))
        rise = reserved[i] - reserved[i - 1] if i else 0
        for core in cores if rise else ():  # the resident stream leaves (spilled) or returns (sim._fusion)
            before = [lk for lk in links[i - 1] if lk.core is core] or links[i - 1]
            if rise < 0:
                env.process(_give_back(core.sram["a"], env.all_of([lk.finished_event for lk in before]), -rise))
            else:  # taken by the op's first part on the core before its loads (by itself if it has none)
                first = next((lk for lk in mine if lk.core is core), None)
                if first is not None:
                    first.reserve_a = rise
                else:
                    env.process(_take(core.sram["a"], rise))
        links.append(mine)
        parts_runs.append(runs)
        done_of[i] = env.all_of([lk.finished_event for lk in mine])
    used = [g for g in gbufs if g is not None]
    if used or kept:  # one capacity for the chain's ops: the next op's fills take bytes the current op has released
        cap = hw.gb_kib * 1024 + sum(len(g[0].events) for g in used)  # sub-byte chunks round up: a byte each
        space = simpy.Container(env, capacity=cap, init=cap)
        after = None
        for i, gb in enumerate(gbufs):  # one queue in program order: a kept output's room, the op's fills
            if i in kept:
                after = env.process(_room(space, after, kept[i][0], rooms[i]))
                env.process(_give_back(space, env.all_of([done_of[j] for j in kept[i][1]]), kept[i][0]))
            if gb is not None:
                gb[0].start(space=space, after=after, gates=gb[1], resident=gb[2])
                after = gb[0].fetcher
    for core in cores if not any(reserved) else ():  # buffers the chain cannot fill: their bytes are not counted
        core.uncounted = sram_never_full({b: box.capacity for b, box in core.sram.items()}, core.physical,
                                         [st for lks, runs in zip(links, parts_runs)
                                          for lk, (_, st, _) in zip(lks, runs) if lk.core is core])
    env.run()
    stuck = [op.name for op, lks in zip(ops, links) if any(math.isnan(lk.finish_time) for lk in lks)]
    if stuck:  # a wait no event will end (a bug, not a request to refuse): say so rather than time it wrong
        raise SimulationError(f"every op of a chain must finish, not {', '.join(stuck)} waiting at cycle {env.now:.0f} "
                              f"(sim._overlap on {hw.name})")
    out, end = [], 0.0
    for lks, runs, gb in zip(links, parts_runs, gbufs):
        kept_bytes = 0
        for lk, (_, _, r) in zip(lks, runs):  # moved to the global buffer: the engine counted them as DRAM's
            r.dram_read_bytes -= lk.gb_loaded
            r.gb_read_bytes += lk.gb_loaded
            r.dram_write_bytes -= lk.gb_stored
            r.gb_store_bytes += lk.gb_stored
            r.gb_busy_cycles += lk.gb_busy
            kept_bytes += lk.gb_stored
            if trace:
                r.events += lk.gb_events
        finish = max(lk.finish_time for lk in lks)
        total = combine_parts([r for _, _, r in runs], max(0.0, finish - end))
        end = max(end, finish)
        total.gb_fill_bytes = kept_bytes  # bytes written into the buffer: kept outputs, DRAM fills
        if gb is not None:  # the global buffer's DRAM fills
            total.dram_read_bytes += gb[0].dram_read_bytes
            total.gb_fill_bytes += gb[0].dram_read_bytes
            total.dram_busy_cycles += gb[0].dram_busy_cycles
        if trace:
            total.events = ([e for _, _, r in runs for e in r.events]  # every core's (sim._trace draws each)
                            + (gb[0].trace_events if gb is not None else []))
        out.append((runs[0][0], total, runs))
    return ChainResult(out, end)


def _gb_link(link: OpLink, hw: HardwareConfig, gport: simpy.Resource, core: int, room, from_gb: dict) -> None:
    """Tie a chained part to the global buffer: its port, and what of the op's output and first
    input the chain keeps there (``room``: the event of its output's room; ``from_gb``)."""
    link.gport, link.gb_bw, link.core_index = gport, hw.gb_bytes_per_cycle, core
    link.keep, link.from_gb = room, from_gb


def _room(space: simpy.Container, after, nbytes: int, granted: simpy.Event):
    """The fill queue's entry of a kept output: after the entries before it, take its bytes."""
    if after is not None and not after.triggered:
        yield after
    yield space.get(nbytes)
    granted.succeed()


def _input_bytes(op, recipe: Recipe) -> int:
    """Bytes of an op's first input (a GEMM's A, a vector op's inputs)."""
    if isinstance(op, GemmOp):
        return math.ceil(op.count * op.M * op.K * recipe.bytes_per_element(op.a_role))
    if isinstance(op, VectorOp):
        return math.ceil(op.inputs * op.rows * op.length * recipe.bytes_per_element(op.in_role))
    return math.ceil(op.count * op.group * op.tokens * op.head_dim * recipe.bytes_per_element("activation"))


def _kept_outputs(ops: list, plans: list, hw: HardwareConfig, schedule) -> dict:
    """Produced tensors the chain keeps in the global buffer for their readers (``READERS``):
    index -> (bytes, reader indices). In program order, an output with readers in the chain is
    kept when, at every op from its producer to its last reader, it fits beside the outputs
    already kept there and that op's own plan (the operands of a plan that holds the whole op;
    the whole buffer for any other plan, so none is kept across it). Its bytes are the stores of
    the op's parts (none when it stays in the cores' SRAM, ``sim._fusion``)."""
    cap = hw.gb_kib * 1024
    names = [op.name for op in ops]
    need = [0 if p is None else sum(g.nbytes_full for g in p.groups) if p.scheme == "fits" else cap for p in plans]
    live = [0] * len(ops)
    kept: dict = {}
    for i, op in enumerate(ops):
        readers = readers_of(names, i)
        if not readers:
            continue
        nbytes = sum(st.store_bytes for part in split_op(op, hw.cores, (hw.array_rows, hw.array_cols))
                     for st in schedule(i, part)[1])
        span = range(i, readers[-1] + 1)
        if nbytes and all(live[j] + nbytes + need[j] <= cap for j in span):
            kept[i] = (nbytes, readers)
            for j in span:
                live[j] += nbytes
    return kept


def _core_units(op, plan, core: int, hw: HardwareConfig) -> list[int]:
    """Fused attention: the (head, block) units of core ``core``'s part of each of the plan's
    blocks (each part a software pipeline of its own, ``sim._fusion``); a GEMM: ``[0]``."""
    if not isinstance(op, FusedAttention):
        return [0]
    out = []
    for blk in plan.blocks:
        parts = split_op(blk.op(op), hw.cores, (hw.array_rows, hw.array_cols))
        if core < len(parts):
            out.append(parts[core].count * len(parts[core].blocks()))
    return out or [0]
