"""Whole-model simulation: prefill of S tokens and decode steps with a growing KV cache, layer
by layer, op by op, with per-op and per-layer tables, a summary, and an optional trace.

Without overlap (``HardwareConfig.overlap`` False) ops run one after another (a barrier
between ops: each op starts from an empty pipeline and ends drained; compute and transfers
overlap *within* an op by double buffering). Hence an op's simulated cycles depend only on its
schedule, i.e. on (op shapes, recipe, hardware): identical ops are simulated once and the
result is reused. With overlap the ops of a layer are chained (``sim._overlap``: the next op's
weights prefetch into freed SRAM, the array and the vector unit run independent ops at once);
the barrier is at the chain's ends: the whole layer in a prefill step, and in a decode step
three chains (the ops before the attention ops, the attention ops, the ops after), so that the
two chains whose shapes do not depend on the KV length are identical from step to step and
simulated once. A chain is keyed by its ops' names, shapes and residency, which is all its
schedule depends on. Either way the ``n_layers`` layers of one phase step, whose op lists are
identical, are simulated once and multiplied. The stats say so (``layers`` column, ``reused``
column, ``summary["notes"]``). When every layer is simulated, the
ops outside the stack (embedding lookup, final norm, LM head: ``mapping.model_ops``) run once
per phase step (``scope`` column "model", ``layers`` 1).

The array's GEMMs are timed by ``hw.arrays.tile_cycles`` (WS/OS) or the GEMV-mode model of
``sim._gemv`` (decode GEMVs, where the hardware offers it), both with the packing of the PE
built for the recipe's formats (``sim._gemv.recipe_packing``; MAC utilisation is relative to
rows x cols x packing products per cycle); the summary compares the decode
phase with its DRAM bytes / bandwidth and says in one line when the array, not DRAM, bounds it.

The work is sized before it starts: a request whose schedule would exceed ``MAX_TILE_STEPS``
tile steps (or ``MAX_TOKENS`` tokens per phase step) is refused with one line.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from mapping import (GemmMapping, GemmOp, ModelConfig, Recipe, VectorOp, layer_ops, load_model, map_gemms, map_op,
                     model_ops, parse_recipe, steps_of)

from ._energy import EnergyModel, energy_model, op_outputs
from ._chips import ALLREDUCES_PER_LAYER, allreduce_bytes, allreduce_cycles, shard_model
from ._cores import run_cores
from ._fusion import (FusedAttention, Residency, apply_residency, fused_attention_steps, plan_phase,
                      softmax_unit_cycles)
from ._engine import OpRun, run_steps
from ._overlap import run_chain
from ._parallel import Prefetch, can_fork
from ._repeat import HEADS, block_period, extend_run, find_block, repeatable
from ._gemv import StepTiming, step_timing
from ._hwconfig import HardwareConfig, load_hardware
from ._trace import write_trace
from .errors import SimulationError

__all__ = ["SimResult", "simulate", "simulate_op", "MAX_TILE_STEPS", "MAX_TOKENS"]

#: largest schedule (tile steps over all distinct ops) a simulation may run (~1 min of engine time)
MAX_TILE_STEPS = 5_000_000
#: largest batch x tokens of one phase step
MAX_TOKENS = 1 << 22


@dataclass
class SimResult:
    """Outcome of a simulation.

    Attributes
    ----------
    ops : one row per (phase, decode step, op), with ``scope`` ("layer": one layer's op, standing
        for ``layers`` layers; "model": embedding / final norm / LM head, once) and
        ``total_cycles`` = cycles x layers.
    layers : per (phase, step): cycles of one layer and totals of the step.
    summary : totals: cycles, seconds, tokens/s, utilisation, stalls, bytes, energy, bounds, notes.
    """

    ops: pd.DataFrame
    layers: pd.DataFrame
    summary: dict
    trace_events: list = field(default_factory=list, repr=False)

    def summary_text(self) -> str:
        """The printed summary (one fact per line)."""
        s = self.summary
        lines = [f"model {s['model']}  recipe {s['recipe']}  hw {s['hw']}  batch {s['batch']}  "
                 f"prefill {s['prefill']}  decode {s['decode']}  layers {s['layers']}",
                 s["hw_description"] + (f"; PEs packed {s['packing']} products/cycle for {s['recipe']}"
                                        if s["packing"] > 1 else ""),
                 f"cycles {s['cycles']:.0f}  time {s['seconds'] * 1e3:.3f} ms"
                 + (f"  decode {s['decode_tokens_per_s']:.1f} tokens/s" if s['decode'] else ""),
                 f"prefill cycles {s['prefill_cycles']:.0f}  decode cycles {s['decode_cycles']:.0f}",
                 f"MAC utilisation {s['mac_utilisation']:.3f}  DRAM busy {s['dram_utilisation']:.3f}",
                 f"stalls (array/vector waiting): input {s['stall_input']:.0f}  output {s['stall_output']:.0f}  "
                 f"drain {s['stall_drain']:.0f} cycles",
                 f"array busy cycles: steady {s['array_steady']:.0f}  fill {s['array_fill']:.0f}  "
                 f"drain {s['array_drain']:.0f}  weight load {s['array_weight_load']:.0f}",
                 f"DRAM read {s['dram_read_bytes'] / 1e6:.3f} MB  write {s['dram_write_bytes'] / 1e6:.3f} MB  "
                 f"SRAM read {s['sram_read_bytes'] / 1e6:.3f} MB  write {s['sram_write_bytes'] / 1e6:.3f} MB",
                 "energy " + " ".join(f"{k} {s['energy_' + k + '_pj'] / 1e6:.3f} uJ"
                                      if not math.isnan(s['energy_' + k + '_pj']) else f"{k} n/a"
                                      for k in ("dram", "sram", "gb", "mac", "vector"))
                 + (f"  total {s['energy_pj'] / 1e6:.3f} uJ" if not math.isnan(s['energy_pj'])
                    else "  total n/a (a component is missing)")]
        if s["decode"]:
            lines.append(s["decode_bound_text"])
        lines += [f"note: {n}" for n in s["notes"]]
        return "\n".join(lines)


def _pos(what: str, v, allow_zero: bool = False) -> int:
    lo = 0 if allow_zero else 1
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        rule = "a non-negative integer" if allow_zero else "a positive integer"
        raise SimulationError(f"{what} must be {rule}, not {v!r}")
    return int(v)


def _sram_bytes(mp, steps, hw: HardwareConfig, run: OpRun) -> tuple[int, int]:
    """SRAM (read, write) bytes: fills from DRAM and accumulator/output writes; operand reads by
    the compute unit (activations once per column fold, weights once per tile for WS, once per
    row fold for OS, once per row of A in GEMV mode) and output reads for stores (to DRAM or,
    in a chain that keeps the output, into the global buffer)."""
    loaded = run.dram_read_bytes + run.gb_read_bytes  # fills from DRAM and from the global buffer
    stored = run.dram_write_bytes + run.gb_store_bytes
    write = loaded
    read = stored
    if isinstance(mp, GemmMapping):
        R, C = hw.array_rows, hw.array_cols
        for (_, m, k, n), times in Counter(st.work for st in steps).items():  # once per distinct tile
            if mp.dataflow == "is":  # WS on the transposed tile: A pinned once, B streamed per column fold of A
                read += times * (math.ceil(m * k * mp.a_bpe) + math.ceil(k * n * mp.b_bpe) * math.ceil(m / C))
                continue
            passes = {"ws": 1, "os": math.ceil(m / R), "gemv": m}[mp.dataflow]
            read += times * (math.ceil(m * k * mp.a_bpe) * math.ceil(n / C) + math.ceil(k * n * mp.b_bpe) * passes)
        write += stored
    else:
        read += loaded
        write += stored
    return read, write


def simulate_op(op, recipe: Recipe, hw: HardwareConfig, timing: StepTiming | None = None, *,
                trace: bool = False, mapping=None, residency: Residency | None = None, schedule_only: bool = False):
    """Map (unless ``mapping`` is given) and simulate one op: (mapping, OpRun). ``residency``
    (``sim._fusion``): which of its inputs and output stay on chip. ``schedule_only``: return
    the op's schedule function instead (a part of the op -> (mapping, steps); ``simulate_chain``)."""
    timing = timing or step_timing(hw, recipe)

    def schedule(part):
        if isinstance(part, FusedAttention):
            mp, steps = fused_attention_steps(part, recipe, hw, timing)
        else:
            # the mapper costs operands kept on chip (residency) as such
            on = {} if residency is None else {"inputs_on_chip": residency.inputs_on_chip,
                                                "output_on_chip": residency.output_on_chip}
            limits = hw.limits()
            if residency is not None and residency.reserved_a_bytes:  # the resident residual stream's
                limits = replace(limits, a_bytes=limits.a_bytes - residency.reserved_a_bytes)
            mp = (mapping if mapping is not None and part is op and not any(on.values())
                  and not (residency is not None and residency.reserved_a_bytes)
                  else map_op(part, recipe, limits, timing.array_cycles, **on))
            steps = steps_of(mp)
        return mp, apply_residency(steps, part, residency)

    if schedule_only:
        return schedule
    if hw.cores > 1 or hw.gb_kib:  # split across cores sharing the DRAM port and global buffer (sim._cores)
        mp, run, cores = run_cores(op, recipe, hw, timing, trace=trace, schedule=schedule)
        parts = [_sram_bytes(m, st, hw, r) for m, st, r in cores]
        run.sram = (sum(p[0] for p in parts), sum(p[1] for p in parts))
        return mp, run
    mp, steps = schedule(op)
    run = run_steps(steps, hw, timing, dataflow=getattr(mp, "dataflow", "ws"), trace=trace)
    run.sram = _sram_bytes(mp, steps, hw, run)
    return mp, run


#: fewest tile steps an extension must save to be tried (a failed try costs a second run)
MIN_SAVED_STEPS = 64


def simulate_repeating(op, recipe: Recipe, hw: HardwareConfig, timing: StepTiming | None = None, *,
                       mapping=None, residency: Residency | None = None) -> tuple[object, OpRun] | None:
    """``simulate_op`` of an op whose schedule repeats one block of steps, by its first blocks
    extended to all of them where its timeline provably repeats (``sim._repeat``); None where
    it does not (simulate it whole)."""
    timing = timing or step_timing(hw, recipe)
    if not repeatable(hw):
        return None
    mp, steps = simulate_op(op, recipe, hw, timing, mapping=mapping, residency=residency, schedule_only=True)(op)
    block = find_block(steps)
    heads = HEADS
    df = getattr(mp, "dataflow", "ws")
    while block is not None and len(steps) - heads * block >= MIN_SAVED_STEPS:
        short = steps[:block * heads]
        run = run_steps(short, hw, timing, dataflow=df, trace=True)
        period = block_period(run.events, run.events, block, heads)
        if period is None:
            return None
        if isinstance(period, int):  # transfers queued across more blocks: compare more of them
            heads = period
            continue
        extend_run(run, short, block, len(steps) // block, hw, timing, df, period)
        run.sram = _sram_bytes(mp, steps, hw, run)
        return mp, run
    return None


def simulate_chain(ops: list, recipe: Recipe, hw: HardwareConfig, timing: StepTiming | None = None, *,
                   trace: bool = False, mappings: dict | None = None, repeat: bool = False,
                   extended: list | None = None, heads: dict | None = None, whole: frozenset = frozenset()
                   ) -> list[tuple[object, OpRun]]:
    """Simulate ``ops`` ((op, residency) pairs in program order) chained with overlap
    (``sim._overlap``): one (mapping, OpRun) per op, ``cycles`` the time the op adds to the
    chain's end (they add up to the chain's cycles); with ``trace`` each op's events are
    shifted to start where its cycles start. ``repeat``: ops whose schedule repeats a block of
    steps run by their first blocks (``heads``: op index -> how many, default
    ``sim._repeat.HEADS``), extended where their timeline provably repeats
    (``sim._repeat``); when one does not, the chain is simulated once more with those ops
    (``whole``) in full, and if another fails then, all in full. Names of the extended ops
    are appended to ``extended``."""
    timing = timing or step_timing(hw, recipe)
    mappings = mappings or {}
    schedules = [simulate_op(op, recipe, hw, timing, mapping=mappings.get(replace(op, name="")), residency=res,
                             schedule_only=True) for op, res in ops]
    by_part: dict = {}
    blocks: dict = {}  # op index -> (block length, full steps) of the ops run by their first heads
    repeat = repeat and not trace and repeatable(hw)
    heads = heads or {}

    def schedule(i: int, part):  # parts of equal shapes of one op have one schedule
        key = (i, replace(part, name=""))
        if key not in by_part:
            mp, steps = schedules[i](part)
            # vector ops of a chain mostly run beside an array op: their blocks would not repeat
            block = find_block(steps) if repeat and i not in whole and not isinstance(part, VectorOp) else None
            if block is not None and len(steps) - heads.get(i, HEADS) * block >= MIN_SAVED_STEPS:
                blocks[i] = (block, steps)
                steps = steps[:block * heads.get(i, HEADS)]
            by_part[key] = mp, steps
        return by_part[key]

    reserved = [0 if res is None else res.reserved_a_bytes for _, res in ops]  # per op: the stream may be spilled
    chain = run_chain([op for op, _ in ops], hw, timing, schedule, trace=trace or repeat, reserved_a_bytes=reserved,
                      recipe=recipe)
    if blocks:
        periods = {}
        for i in blocks:  # a later op waiting since before op i computes waits for loads issued after op i's
            own = chain.ops[i][1].events
            t0 = min((e[2] for e in own if e[0] in ("array", "vector")), default=0.0)
            every = [e for j, (_, r, _) in enumerate(chain.ops) for e in r.events
                     if j <= i or e[0] != "stall" or e[2] > t0]
            periods[i] = block_period(own, every, blocks[i][0], heads.get(i, HEADS))
        quiet = 0.0  # the ops before must be quiet from the first compared block on
        for i, (_, r, _) in enumerate(chain.ops):
            p = periods.get(i)
            if isinstance(p, tuple) and quiet > p[3] + 1e-6:
                periods[i] = None
            quiet = max([quiet] + [e[2] + e[3] for e in r.events])
        failed = frozenset(i for i, p in periods.items() if not isinstance(p, tuple))
        if failed:  # once more with those simulated whole, then everything whole
            return simulate_chain(ops, recipe, hw, timing, trace=trace, mappings=mappings, repeat=not whole,
                                  extended=extended, whole=whole | failed)
        for i, (block, steps) in blocks.items():
            mp, run, parts = chain.ops[i]
            short = parts[0][1]
            inserted = (len(steps) - len(short)) // block * periods[i][0]
            for _, later, _ in chain.ops[i + 1:]:  # a later op waiting across the inserted blocks waits longer
                for e in later.events:
                    if e[0] == "stall" and e[2] < periods[i][3] < e[2] + e[3]:
                        if e[1] == "wait input":
                            later.stall_input += inserted
                        else:
                            later.stall_output += inserted
            extend_run(run, short, block, len(steps) // block, hw, timing, getattr(mp, "dataflow", "ws"), periods[i])
            if extended is not None:
                extended.append(ops[i][0].name)
            chain.ops[i] = (mp, run, [(mp, steps, run)])
    if repeat and not trace:  # recorded for the checks only
        for _, run, _ in chain.ops:
            run.events = []
    out, start = [], 0.0
    for (op, _), (mp, run, parts) in zip(ops, chain.ops):
        srams = [_sram_bytes(m, st, hw, r) for m, st, r in parts]
        run.sram = (sum(s[0] for s in srams), sum(s[1] for s in srams))
        if trace:
            run.events = [(e[0], e[1], e[2] - start) + tuple(e[3:]) for e in run.events]
        start += run.cycles
        out.append((mp, run))
    return out


def _alone(group: list, overlap: bool) -> bool:
    """Whether a group of ``_groups`` is one op simulated alone (not a chain)."""
    return len(group) == 1 and not (overlap and isinstance(group[0][1], FusedAttention))


def _group_key(group: list, overlap: bool) -> tuple:
    """What a group's result depends on: an op's shapes, roles and residency; a chain's ops'
    names (their data dependencies), shapes and residency."""
    if _alone(group, overlap):
        _, op, residency = group[0]
        return _nameless(op), residency
    return ("chain",) + tuple((op.name, _nameless(op), res) for _, op, res in group)


def _nameless(op) -> tuple:
    """An op's fields but its name, with its type: equal for two ops exactly when they are equal
    but for their names (as ``replace(op, name="")`` would be, without building an op)."""
    return (type(op),) + tuple(v for k, v in vars(op).items() if k != "name")


def _simulate_group(group: list, recipe: Recipe, hw: HardwareConfig, timing: StepTiming, mappings: dict,
                    extend_blocks: bool, trace: bool) -> tuple[list, list[str]]:
    """A group's (mapping, OpRun) per op, and the names of its ops extended from their first
    blocks (``sim._repeat``)."""
    names: list[str] = []
    if _alone(group, hw.overlap):
        _, op, residency = group[0]
        key = replace(op, name="")
        done = (simulate_repeating(op, recipe, hw, timing, mapping=mappings.get(key), residency=residency)
                if extend_blocks and not trace else None)
        if done is not None:
            names.append(op.name)
        return [done or simulate_op(op, recipe, hw, timing, trace=trace, mapping=mappings.get(key),
                                    residency=residency)], names
    return simulate_chain([(op, res) for _, op, res in group], recipe, hw, timing, trace=trace, mappings=mappings,
                          repeat=extend_blocks, extended=names), names


def _groups(planned: list, phase: str, overlap: bool) -> list[list]:
    """The (scope, op, residency) entries of a phase step in the groups that run together: each
    op alone without overlap; with it, the layer's ops as one chain (in a decode step split
    into the runs before, of and after the attention ops, whose shapes alone depend on the KV
    length), model-scope ops alone."""
    groups: list[list] = []
    prev = None
    for entry in planned:
        scope, op, _ = entry
        kind = ("model", id(entry)) if scope == "model" or not overlap else (
            "layer", phase == "decode" and op.name in _KV_LENGTH_OPS)
        if groups and kind == prev:
            groups[-1].append(entry)
        else:
            groups.append([entry])
        prev = kind
    return groups


#: the ops of a layer whose shapes depend on the KV length (a decode step's own chain)
_KV_LENGTH_OPS = ("attn_scores", "softmax", "attn_context", "attention")


def _phases(model: ModelConfig, prefill: int, decode: int, decode_only: bool) -> list[tuple[str, int, int, int]]:
    phases = [] if decode_only else [("prefill", 0, prefill, 0)]
    return phases + [("decode", t, 1, prefill + t - 1) for t in range(1, decode + 1)]


def _phase_ops(model: ModelConfig, tokens: int, past: int, batch: int, whole: bool) -> list[tuple[str, object]]:
    """(scope, op) of one phase step: the layer's ops, and the model's when every layer runs."""
    ops = [("layer", op) for op in layer_ops(model, tokens=tokens, past=past, batch=batch)]
    if not whole:
        return ops
    before, after = model_ops(model, tokens=tokens, past=past, batch=batch)
    return [("model", op) for op in before] + ops + [("model", op) for op in after]


def _size_check(model, recipe, hw, timing, phases, batch, whole, mappings: dict) -> None:
    """Map the ops of the first and last phase steps and refuse a schedule beyond
    ``MAX_TILE_STEPS`` tile steps simulated: the prefill's, one decode step's, and the ops
    whose shapes depend on the KV length for each further decode step (the others are the
    same in every step, simulated once; the last step has the longest cache: a bound for
    every step)."""
    _, _, tokens, _ = phases[0]
    if batch * tokens > MAX_TOKENS:
        raise SimulationError(f"batch x tokens per phase step must be at most {MAX_TOKENS}, not {batch * tokens} "
                              f"(batch {batch} x {tokens} tokens)")
    lim = hw.limits()

    def tiles(tokens: int, past: int, kv_only: bool = False) -> int:
        n = 0
        for _, op in _phase_ops(model, tokens, past, batch, whole):
            if kv_only and op.name not in _KV_LENGTH_OPS:
                continue
            key = replace(op, name="")
            if key not in mappings:
                mappings[key] = map_op(op, recipe, lim, timing.array_cycles)
            n += mappings[key].tiles
        return n

    total = tiles(*phases[0][2:]) if phases[0][0] == "prefill" else 0
    decodes = [p for p in phases if p[0] == "decode"]
    if decodes:
        total += tiles(*decodes[-1][2:]) + (len(decodes) - 1) * tiles(*decodes[-1][2:], kv_only=True)
    if total > MAX_TILE_STEPS:
        raise SimulationError(f"simulation size must be at most {MAX_TILE_STEPS} tile steps, not about {total} "
                              f"({model.name}, batch {batch}, {len(phases)} phase steps on {hw.name}: d_model "
                              f"{model.d_model}, intermediate size {model.d_ff}); reduce batch, prefill or decode")


def _map_decode_gemms(model, recipe, hw, timing, phases, batch, whole, mappings: dict) -> None:
    """Map the decode steps' GEMMs whose shapes follow the KV length (a distinct shape in every
    step) in one pass (``mapping.map_gemms``: the mappings ``map_op`` gives them, less overhead
    per op), into ``mappings``; only where a chain takes them as they are (one core, no global
    buffer: its parts are the ops themselves)."""
    if hw.cores > 1 or hw.gb_kib:
        return
    ops: dict = {}
    for phase, _, tokens, past in phases:
        for _, op in _phase_ops(model, tokens, past, batch, whole) if phase == "decode" else ():
            if op.name in _KV_LENGTH_OPS and isinstance(op, GemmOp) and replace(op, name="") not in mappings:
                ops.setdefault(replace(op, name=""), op)
    for key, mp in zip(ops, map_gemms(list(ops.values()), recipe, hw.limits(), timing.array_cycles)):
        if mp is not None:
            mappings[key] = mp


def _sized_hardware(hw: HardwareConfig, recipe: Recipe) -> tuple[HardwareConfig, str | None]:
    """Iso-area: the largest square array whose area (``n x n`` PEs with their partial-sum
    registers + ``n`` column output converters, ``hw.cost.array_area_um2``; the records of
    ``sim._design_point.array_area_cost``) fits ``array.area_mm2``."""
    if hw.array_area_mm2 is None:
        return hw, None
    from ._design_point import array_area_cost

    cost = array_area_cost(recipe)
    if isinstance(cost, str):
        raise SimulationError(f"hardware field array.area_mm2 needs the PE area of {recipe.name}, not "
                              f"unavailable ({cost})")
    pe, conv = float(cost.pe.area_um2), float(cost.converter.area_um2)
    sized = hw.sized_for(pe, converter_area_um2=conv)
    return sized, (f"iso-area: {hw.array_area_mm2} mm2 / {pe:.1f} um2 per PE ({cost.pe.name}) + {conv:.1f} um2 "
                   f"per column converter ({cost.converter.name}), hw.cost -> {sized.array_rows}x{sized.array_cols} "
                   f"array ({cost.area_um2(sized.array_rows, sized.array_cols) / 1e6:.3f} mm2)")


def _recipe_units(hw: HardwareConfig, recipe: Recipe) -> tuple[HardwareConfig, str | None]:
    """An integer recipe's own kernels on the vector unit: each function whose kernel has a
    registered unit timed by the hardware parameters alone (``hw.units.nonlinear.units_for``)
    runs on that unit; the others keep the hardware's unit (said in the note)."""
    if not recipe.kernels:
        return hw, None
    from hw.units.nonlinear import units_for

    own = {f: k for f, k in recipe.kernels.items() if k in units_for(f)}
    kept = sorted(f"{f} ({k}: no hardware-timed unit, {hw.nonlinear_unit_map.get(f)} used)"
                  for f, k in recipe.kernels.items() if f not in own)
    hw = replace(hw, nonlinear_units={**hw.nonlinear_unit_map, **own})
    return hw, (f"vector unit runs the {recipe.name} kernels: " + ", ".join(f"{f}={k}" for f, k in sorted(own.items()))
                + ("; " + "; ".join(kept) if kept else ""))


def simulate(model: ModelConfig | str, recipe: Recipe | str, hw: HardwareConfig | str | None = None, *,
             prefill: int | None = None, decode: int = 0, batch: int = 1, layers: int | None = None,
             trace: bool = False, progress: bool = False, mac_cost=None, decode_only: bool = False,
             extend_blocks: bool = True, workers: int = 1) -> SimResult:
    """Simulate ``layers`` layers (default all) of ``model`` under ``recipe`` on ``hw``: prefill
    of ``prefill`` tokens (default: the model's natural input length) then ``decode`` steps.
    ``mac_cost``: the array's energies for the MAC energy column: a ``hw.cost.DatapathEnergy``
    (``sim.datapath_energy_of``: per product, per output conversion, SRAM per buffer) or a
    generic-flow ``hw.cost.CostRecord`` of the recipe's MAC unit (see ``sim._energy``).
    ``decode_only``: skip the prefill phase (its ``prefill`` tokens are taken as already in the
    KV cache) and simulate only the decode steps. ``extend_blocks``: an op whose schedule
    repeats one block of tile steps (attention heads, row or column blocks of a GEMM) is
    simulated for its first blocks and extended where its timeline provably repeats
    (``sim._repeat``; never with ``trace``); False simulates every step. ``workers``: processes
    simulating the decode steps' distinct groups of ops ahead (``sim._parallel``; the figures are
    those of one process; 1: none, and always without ``trace`` or where processes cannot fork).

    Raises
    ------
    ModelConfigError, RecipeError, HardwareConfigError, MappingError, SimulationError
        For unknown names, bad fields, SRAM too small, a KV cache longer than the context, a
        request larger than ``MAX_TILE_STEPS`` / ``MAX_TOKENS``, etc.
    """
    model = load_model(model) if not isinstance(model, ModelConfig) else model
    recipe = parse_recipe(recipe) if not isinstance(recipe, Recipe) else recipe
    hw = load_hardware(hw) if not isinstance(hw, HardwareConfig) else hw
    prefill = model.default_tokens if prefill is None else _pos("prefill", prefill)
    decode = _pos("decode", decode, allow_zero=True)
    batch = _pos("batch", batch)
    workers = _pos("workers", workers)
    n_layers = model.n_layers if layers is None else _pos("layers", layers)
    if n_layers > model.n_layers:
        raise SimulationError(f"layers must be at most the {model.n_layers} layers of {model.name}, not {n_layers!r}")
    if decode and not model.decoder:
        raise SimulationError(f"decode steps must be 0 for the encoder {model.name}, not {decode!r}")
    if prefill + decode > model.max_positions:
        raise SimulationError(f"KV cache length (prefill + decode = {prefill + decode}) must be at most the "
                              f"context of {model.name} ({model.max_positions} tokens), not {prefill + decode}")
    if decode_only and not decode:
        raise SimulationError(f"decode must be positive with decode_only, not {decode!r}")
    hw, area_note = _sized_hardware(hw, recipe)
    hw, units_note = _recipe_units(hw, recipe)
    full_model, model = model, shard_model(model, hw.chips)  # tensor parallel: one chip's share
    timing = step_timing(hw, recipe)
    energy = energy_model(hw, recipe, mac_cost)
    timing = replace(timing, sources=replace(timing.sources, unit_clock=energy.unit_clock))  # slow vector units
    whole = n_layers == model.n_layers
    phases = _phases(model, prefill, decode, decode_only)
    mappings: dict = {}
    _size_check(model, recipe, hw, timing, phases, batch, whole, mappings)
    _map_decode_gemms(model, recipe, hw, timing, phases, batch, whole, mappings)
    it = phases
    if progress:
        from tqdm import tqdm
        it = tqdm(phases, desc=f"simulate {model.name}", unit="step", leave=False)
    memo: dict = {}
    extended: list[str] = []  # ops simulated for their first blocks of steps (sim._repeat)
    spills: dict[str, None] = {}  # the residual stream's spills the plans chose (sim._fusion), in order
    rows, events, offset = [], [], 0.0
    row_of: dict = {}  # (id of a memoised OpRun, op name, scope) -> its row (the memo keeps every OpRun alive)
    overlap = hw.overlap

    def step_plan(phase: str, tokens: int, past: int) -> list:
        return plan_phase(_phase_ops(model, tokens, past, batch, whole), model, recipe, hw, tokens=tokens,
                          past=past, batch=batch, timing=timing)

    def simulate_group(group: list) -> tuple[list, list[str]]:
        return _simulate_group(group, recipe, hw, timing, mappings, extend_blocks, trace)

    ahead = None
    if workers > 1 and not trace and decode and can_fork():  # the decode steps' distinct groups, in order
        todo: dict = {}
        for phase, _, tokens, past in phases:
            if phase == "decode":
                for group in _groups(step_plan(phase, tokens, past), phase, overlap):
                    todo.setdefault(_group_key(group, overlap), group)
        ahead = Prefetch(list(todo), list(todo.values()), simulate_group, workers)
    try:
        for phase, step, tokens, past in it:
            planned = step_plan(phase, tokens, past)
            spills.update(dict.fromkeys(f"{phase}: {res.spill.text()}" for _, _, res in planned
                                        if res is not None and res.spill is not None and res.spill.chosen))
            for group in _groups(planned, phase, overlap):
                key = _group_key(group, overlap)
                reused = key in memo
                if not reused:
                    memo[key], names = (ahead.pop(key) if ahead is not None and key in ahead
                                        else simulate_group(group))
                    extended += names
                for (scope, op, _), (mp, run) in zip(group, memo[key]):
                    mult = n_layers if scope == "layer" else 1
                    # a reused result's row differs from its first only in phase, step, KV length and 'reused'
                    rk = (id(run), op.name, scope)
                    if rk not in row_of:
                        row_of[rk] = _row(phase, step, past + tokens, scope, op, mp, run, hw, timing, energy, mult,
                                          reused)
                    rows.append({**row_of[rk], "phase": phase, "step": step, "kv_len": past + tokens,
                                 "reused": reused})
                    if trace:
                        events.append((f"{phase} {step}" if phase == "decode" else "prefill", op.name, offset, run,
                                       mult))
                    offset += run.cycles * mult
            if hw.chips > 1:  # the all-reduces of this phase step over the chip link
                rows.append(_allreduce_row(rows[-1], phase, step, past + tokens, model, recipe, hw, tokens, batch,
                                           n_layers))
                if trace:  # drawn as one op span (the link has no track: its transfers are not simulated)
                    events.append((f"{phase} {step}" if phase == "decode" else "prefill", "allreduce", offset,
                                   OpRun(cycles=rows[-1]["cycles"]), 1))
                offset += rows[-1]["cycles"]
    finally:
        if ahead is not None:
            ahead.close()
    ops = pd.DataFrame(rows)
    summary = _summary(ops, model, recipe, hw, prefill, decode, batch, n_layers, energy, memo, whole, timing.packing)
    if extended:
        summary["notes"].append(f"{len(extended)} of the distinct ops ({', '.join(sorted(set(extended)))}) simulated "
                                f"for their first blocks of tile steps and extended to all: their schedules are copies "
                                f"of one block and consecutive blocks had identical timelines, so the rest repeat them "
                                f"(sim._repeat)")
    summary["extended_ops"] = len(extended)
    summary["notes"] += [f"{n} (sim._fusion)" for n in spills]
    summary["notes"][:0] = [n for n in (area_note, units_note) if n]
    if hw.chips > 1:
        summary["notes"].append(f"{hw.chips} chips in tensor parallel: each runs {model.name} ({full_model.n_heads} "
                                f"heads, FFN {full_model.d_ff} split {hw.chips} ways; embedding and LM head whole on "
                                f"each), {ALLREDUCES_PER_LAYER} ring all-reduces per layer per step over a "
                                f"{hw.link_gbps:g} GB/s, {hw.link_latency_ns:g} ns link, not overlapped with compute "
                                f"(sim._chips); cycles, bytes and MACs are one chip's; link energy not modelled")
        summary["chips"] = hw.chips
    return SimResult(ops, _layers_table(ops), summary, events)


def _allreduce_row(template: dict, phase, step, kv_len, model, recipe, hw, tokens, batch, n_layers) -> dict:
    """The per-op-table row of one phase step's all-reduces (``sim._chips``)."""
    nbytes = allreduce_bytes(model, tokens, batch, recipe.bytes_per_element("activation"))
    cyc = ALLREDUCES_PER_LAYER * n_layers * allreduce_cycles(nbytes, hw)
    row = {k: (0.0 if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else v)
           for k, v in template.items()}
    nan = float("nan")
    row.update({"phase": phase, "step": step, "kv_len": kv_len, "scope": "model", "op": "allreduce", "unit": "link",
                "function": "allreduce", "M": nan, "K": nan, "N": nan, "count": ALLREDUCES_PER_LAYER * n_layers,
                "tiles": 0, "tile": f"{nbytes} B", "order": "", "dataflow": "", "mapper": "", "layers": 1,
                "cycles": cyc,
                "compute_cycles": 0.0, "timing_source": "model: ring all-reduce over the chip link (sim._chips)",
                "array_fill": nan, "array_steady": nan, "array_drain": nan, "array_weight_load": nan,
                "bound": "link", "mac_utilisation": nan, "reused": False, "total_cycles": cyc})
    return row


def _row(phase, step, kv_len, scope, op, mp, run: OpRun, hw, timing: StepTiming, energy: EnergyModel, mult,
         reused) -> dict:
    fused = isinstance(op, FusedAttention)
    gemm = fused or isinstance(op, GemmOp)
    macs = op.macs if gemm else 0
    work = ("gemm", 0, 0, 0) if gemm else ("vector", op.function, 0, 0)
    missing = run.compute_missing_steps > 0
    sram_r, sram_w = run.sram
    if fused:  # its softmax steps' row-unit cycles, per core (the vector figure counts every core's units)
        sm = softmax_unit_cycles(op, timing)
        vector_cycles = np.nan if sm is None else sm / hw.cores
    else:
        vector_cycles = np.nan if missing else run.compute_cycles
    e = energy.op_energy_pj(macs, run.dram_read_bytes + run.dram_write_bytes, sram_r + sram_w,
                            outputs=op_outputs(op), unit="fused" if fused else "array" if gemm else "vector",
                            function="softmax" if fused else "" if gemm else op.function,
                            compute_cycles=vector_cycles, gb_bytes=run.gb_fill_bytes + run.gb_read_bytes)
    return {
        "phase": phase, "step": step, "kv_len": kv_len, "scope": scope,
        "op": op.name, "unit": "fused" if fused else "array" if gemm else "vector",
        "function": "gemm" if gemm else op.function,
        "M": op.M if gemm else op.rows, "K": op.K if gemm else np.nan, "N": op.N if gemm else op.length,
        "count": op.count if gemm else 1, "tiles": mp.tiles,
        "tile": f"{mp.Mt}x{mp.Kt}x{mp.Nt}" if gemm else f"{mp.rows_per_chunk}x{mp.cols_per_chunk}",
        "order": mp.order if gemm else "", "dataflow": mp.dataflow if gemm else "",
        "mapper": mp.search.summary() if getattr(mp, "search", None) is not None else "",  # mapping.MapperSearch
        "layers": mult, "cycles": run.cycles,
        "compute_cycles": np.nan if missing else run.compute_cycles,
        "timing_source": timing.source_of(work, mp.dataflow if gemm else ""),
        "stall_input": run.stall_input, "stall_output": run.stall_output, "stall_drain": run.stall_drain,
        "dram_read_bytes": run.dram_read_bytes, "dram_write_bytes": run.dram_write_bytes,
        "dram_busy_cycles": run.dram_busy_cycles,
        "array_fill": run.array_fill if gemm and not missing else np.nan,
        "array_steady": run.array_steady if gemm and not missing else np.nan,
        "array_drain": run.array_drain if gemm and not missing else np.nan,
        "array_weight_load": run.array_weight_load if gemm and not missing else np.nan,
        "bound": ("unknown" if missing else "memory" if run.dram_busy_cycles > run.compute_cycles else "compute"),
        "sram_read_bytes": sram_r, "sram_write_bytes": sram_w, "macs": macs,
        "gb_fill_bytes": run.gb_fill_bytes, "gb_read_bytes": run.gb_read_bytes,
        "mac_utilisation": (macs / (hw.peak_macs_per_cycle(timing.packing) * run.cycles)
                            if gemm and run.cycles and not missing else np.nan),
        **e, "reused": reused,
        "total_cycles": run.cycles * mult,
    }


def _layers_table(ops: pd.DataFrame) -> pd.DataFrame:
    """Per (phase, step): cycles of one layer (layer-scope ops), and totals of the whole step
    (all layers and the model-scope ops)."""
    ops = ops.assign(layer_cycles=ops.cycles.where(ops.scope == "layer", 0.0),
                     model_cycles=ops.cycles.where(ops.scope == "model", 0.0),
                     read_total=ops.dram_read_bytes * ops.layers, write_total=ops.dram_write_bytes * ops.layers,
                     macs_total=ops.macs * ops.layers)
    g = ops.groupby(["phase", "step"], sort=False)
    out = g.agg(kv_len=("kv_len", "max"), layers=("layers", "max"), cycles_per_layer=("layer_cycles", "sum"),
                model_op_cycles=("model_cycles", "sum"), total_cycles=("total_cycles", "sum"),
                dram_read_bytes=("read_total", "sum"), dram_write_bytes=("write_total", "sum"),
                macs=("macs_total", "sum"))
    return out.reset_index()


def _decode_bound(ops: pd.DataFrame, hw: HardwareConfig, decode: int) -> tuple[dict, str]:
    """Decode phase against its DRAM bytes / bandwidth: one line saying whether the array bounds
    it (and by how much), or how far above bytes / bandwidth it runs and which unit's ops add
    the time beyond their transfers."""
    d = ops[ops.phase == "decode"]
    if not decode or d.empty:
        return {}, ""
    L = d.layers
    cycles = float(d.total_cycles.sum())
    nbytes = float(((d.dram_read_bytes + d.dram_write_bytes) * L).sum())
    mem = nbytes / hw.dram_bytes_per_cycle
    array = float((d.compute_cycles.where(d.unit == "array", 0.0).fillna(0.0) * L).sum())
    excess = ((d.cycles - d.dram_busy_cycles).clip(lower=0.0) * L).groupby(d.unit).sum()
    ms = lambda c: c / decode / (hw.clock_mhz * 1e3)  # noqa: E731  (per decode step, ms)
    info = {"decode_bytes_over_bandwidth_cycles": mem, "decode_array_cycles": array,
            "decode_excess_array_cycles": float(excess.get("array", 0.0)),
            "decode_excess_vector_cycles": float(excess.get("vector", 0.0))}
    gbps = f"{hw.dram_bytes_per_cycle * hw.clock_mhz / 1e3:g} GB/s" + (" sustained" if hw.dram_efficiency < 1 else "")
    if not math.isfinite(hw.dram_bytes_per_cycle):
        return info, f"decode: {ms(cycles):.3f} ms per decode step (unlimited DRAM bandwidth)"
    if array > mem:
        return info, (f"decode is array-bound: the array needs {ms(array):.3f} ms per decode step, {array / mem:.2f}x "
                      f"the {ms(mem):.3f} ms its {nbytes / decode / 1e6:.1f} MB per step take at {gbps} (the "
                      f"array, not DRAM, sets the decode time)")
    return info, (f"decode is memory-bound: {ms(cycles):.3f} ms per decode step, {cycles / mem:.3f}x bytes / "
                  f"bandwidth ({nbytes / decode / 1e6:.1f} MB per step at {gbps} = {ms(mem):.3f} ms); time beyond "
                  f"each op's transfers: array ops {ms(info['decode_excess_array_cycles']):.3f} ms, vector-unit ops "
                  f"{ms(info['decode_excess_vector_cycles']):.3f} ms")


def _phase_figures(ops: pd.DataFrame, hw: HardwareConfig, packing: int) -> dict:
    """Totals of one phase (all its steps and layers): cycles, seconds, MACs, DRAM bytes, MAC
    utilisation against ``hw.peak_macs_per_cycle``."""
    L = ops["layers"]
    cycles = float(ops["total_cycles"].sum())
    macs = float((ops["macs"] * L).sum())
    return {"steps": int(ops["step"].nunique()), "cycles": cycles, "seconds": cycles / (hw.clock_mhz * 1e6),
            "macs": macs, "dram_read_bytes": float((ops["dram_read_bytes"] * L).sum()),
            "dram_write_bytes": float((ops["dram_write_bytes"] * L).sum()),
            "mac_utilisation": macs / (hw.peak_macs_per_cycle(packing) * cycles) if cycles else float("nan")}


def _summary(ops, model, recipe, hw, prefill, decode, batch, n_layers, energy, memo, whole, packing) -> dict:
    L = ops["layers"]
    tot = lambda col: float((ops[col] * L).sum(skipna=False))  # noqa: E731  (NaN if any row is missing)
    cycles = float(ops["total_cycles"].sum())
    pre = float(ops.loc[ops.phase == "prefill", "total_cycles"].sum())
    dec = cycles - pre
    chained = hw.overlap
    simulated = sum(len(v) for v in memo.values())
    chains = sum(1 for k in memo if k[0] == "chain")
    notes = [f"{n_layers} identical layers per phase step: one simulated, multiplied by {n_layers} "
             + ("(each chain of ops runs from an empty pipeline to a drained one, so equal chains take equal time)"
                if chained else "(each op runs from an empty pipeline to a drained one, so equal schedules take "
                                "equal time)"),
             f"{simulated} distinct ops simulated for {len(ops)} op rows"
             + (f" ({chains} distinct chains)" if chains else "") + "; the rest reused"]
    if chained:
        notes.append("overlap (sim._overlap): a layer's ops chained, the next op's weights prefetched into SRAM the "
                     "current op has freed, the array and the vector unit running independent ops at once; a "
                     "decode step chains the ops before, of and after attention separately; per-op cycles are the "
                     "time each op adds to its chain's end"
                     + ("; with the global buffer the next op's DRAM fills take the room the current op has released, "
                        "and an output read only inside its chain stays there for its readers when it fits (no DRAM "
                        "store nor load)" if hw.gb_kib else ""))
    if whole:
        notes.append("embedding lookup" + (", final norm and LM head (last token of each sequence)"
                                           if model.decoder else "") + " included once per phase step")
    else:
        notes.append(f"only {n_layers} of {model.n_layers} layers: embedding, final norm and LM head left out")
    missing = sorted(set(ops.loc[ops.compute_cycles.isna(), "timing_source"]))
    if missing:
        notes.append("compute timing missing for some ops (column compute_cycles empty, their compute counted "
                     "as 0, so cycles are a lower bound): " + "; ".join(missing))
    assumed = sorted(set(s for s in ops.timing_source if s.startswith(("assumed", "model"))))
    notes += [f"timing {a}" for a in assumed]
    notes += [f"energy: {m}" for m in energy.missing]
    notes += [f"energy source: {p}" for p in energy.provenance]
    secs = cycles / (hw.clock_mhz * 1e6)
    bound, bound_text = _decode_bound(ops, hw, decode)
    if hw.cores > 1:
        notes.append(f"{hw.cores} cores share the DRAM port: GEMMs split by heads or a grid of row x column "
                     f"blocks, vector ops by rows (sim._cores); operands shared by several cores are loaded by "
                     f"each unless the global buffer holds them (sim._global_buffer); the trace draws every core")
    if hw.fusion:
        notes.append("fusion (sim._fusion): attention fused per KV head over query blocks (scores stay in SRAM, "
                     "causal blocks skipped), accumulator outputs handed to the row function that follows, "
                     "activations kept in SRAM for their consumer when they fit beside the residual stream "
                     "(liveness of other tensors not checked)")
    if hw.dram_efficiency < 1:
        notes.append(f"DRAM sustains {hw.dram_efficiency:.0%} of its peak bandwidth (sim._dram)")
    return {
        "model": model.name, "recipe": recipe.name, "hw": hw.name, "hw_description": hw.describe(),
        "batch": batch, "prefill": prefill, "array_rows": hw.array_rows, "array_cols": hw.array_cols,
        "decode": decode, "layers": n_layers, "cycles": cycles, "seconds": secs,
        "prefill_cycles": pre, "decode_cycles": dec,
        "decode_tokens_per_s": batch * decode / (dec / (hw.clock_mhz * 1e6)) if decode and dec else float("nan"),
        "packing": packing,
        "mac_utilisation": (tot("macs") / (hw.peak_macs_per_cycle(packing) * cycles)
                            if cycles and not ops.loc[ops.unit == "array", "compute_cycles"].isna().any()
                            else float("nan")),
        "dram_utilisation": tot("dram_busy_cycles") / cycles if cycles else float("nan"),
        "stall_input": tot("stall_input"), "stall_output": tot("stall_output"), "stall_drain": tot("stall_drain"),
        "array_fill": float((ops.array_fill * L).sum()), "array_steady": float((ops.array_steady * L).sum()),
        "array_drain": float((ops.array_drain * L).sum()),
        "array_weight_load": float((ops.array_weight_load * L).sum()),
        "dram_read_bytes": tot("dram_read_bytes"), "dram_write_bytes": tot("dram_write_bytes"),
        "sram_read_bytes": tot("sram_read_bytes"), "sram_write_bytes": tot("sram_write_bytes"),
        "energy_pj": tot("energy_pj"), "energy_dram_pj": tot("energy_dram_pj"),
        "energy_sram_pj": tot("energy_sram_pj"), "energy_mac_pj": tot("energy_mac_pj"),
        "energy_vector_pj": tot("energy_vector_pj"), "energy_gb_pj": tot("energy_gb_pj"),
        **bound, "decode_bound_text": bound_text,
        "total_cycles": cycles, "macs": tot("macs"), "cores": hw.cores,
        "peak_macs_per_cycle": hw.peak_macs_per_cycle(packing),
        "dram_bytes_per_cycle": hw.dram_bytes_per_cycle, "dram_peak_bytes_per_cycle": hw.dram_peak_bytes_per_cycle,
        "dram_efficiency": hw.dram_efficiency,
        "energy_breakdown_pj": {k: tot(f"energy_{k}_pj") for k in ("dram", "sram", "gb", "mac", "vector")},
        "phases": {ph: _phase_figures(ops[ops.phase == ph], hw, packing) for ph in ("prefill", "decode")
                   if (ops.phase == ph).any()},
        "notes": notes, "distinct_ops_simulated": simulated, "overlap": chained,
    }


def write_result_trace(result: SimResult, path, hw: HardwareConfig) -> None:
    """Write the result's trace (requires ``simulate(..., trace=True)``)."""
    write_trace(result.trace_events, path, hw)
