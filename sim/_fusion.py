"""Fusion and residency across the ops of one phase step (``HardwareConfig.fusion``).

Without fusion every op reads its inputs from DRAM and writes its output back. With it:

* **Fused attention** (``FusedAttention``): the scores GEMM, the softmax and the context GEMM
  of each KV head run as one op, FlashAttention-style over blocks of query tokens: per block,
  QKᵀ on the array into the accumulator buffer, softmax of those rows on the row units (the
  rows are whole, so the RTL unit's timing applies as it is), then P·V; the scores never go to
  DRAM. K and V of a head are loaded once per head when both fit the weight buffer (else once
  per block). Causal decoders skip the key blocks above the diagonal: a block of ``bt`` tokens
  starting at token ``t0`` attends ``past + t0 + bt`` keys (the triangle inside a block is
  computed, as on real hardware). The block is the largest power of two of tokens whose scores
  fit half the accumulator buffer (the row units read them there); when not even one token's
  scores fit, attention stays unfused.
* **Producer fusion**: a GEMM whose accumulator output feeds the element-wise row function
  that follows it (SiLU·up after gate/up, GELU after the FFN's first GEMM) hands its output
  tiles to the row units from the accumulator buffer: that output never goes to DRAM and the
  row function reads no DRAM (its cycles are unchanged).
* **Resident activations**: an activation tensor (role "activation", "accumulator", or "kv"
  before it is appended to the cache) stays in
  the activation buffer for its consumer when it fits there beside the residual stream
  (``bytes + residual stream bytes <= sram_a``); its store and its consumer's load are dropped.
  Producers and consumers are matched by role and element count within the phase step; the
  residual stream (``tokens x d_model``) is resident when two copies fit, and then every op of
  the step maps its own A tiles and resident A blocks in the activation buffer less one copy
  of it (``Residency.reserved_a_bytes``). Liveness beyond "this tensor plus the residual
  stream" is not checked (stated in the summary notes).
* **Spilling the residual stream** (``SpillChoice``): between a norm that reads the stream and
  the next residual add (the attention block and the FFN of a pre-norm layer) the stream is
  not used; the planner may spill it there: the norm stores each chunk of the stream it reads
  to DRAM (``Residency.spills_input``; the bytes of the stream, once), the ops of the window map
  their tiles in the whole activation buffer (``reserved_a_bytes`` 0) and keep an output on
  chip when it fits beside their own on-chip input (both live while the op runs: a stricter
  rule than outside a window), and the residual add reads the stream back from DRAM (with the
  window's last output, unless that stayed on chip). It is chosen per window only when the
  estimate of the ops from the norm to the add (``_estimate``: per op the longer of its step
  cycles and its DRAM bytes over the sustained bandwidth, or the mapper's pipelined estimate)
  is lower spilled than kept; the choice and both estimates are on the norm's residency
  (``Residency.spill``) and the spills chosen in the summary notes. No window is considered on
  hardware with a global buffer (the estimate prices DRAM bytes, not the buffer's fills and
  port: on npu-8core, BERT-large prefill 512, it chose a spill the simulation ran 0.9% slower). In a chain (``sim._overlap.run_chain``, one
  reservation per op) the stream's bytes return to the activation buffer when the norm has
  finished and are taken again before the add's loads.

Weights, the KV cache (what ``kv_append`` writes and attention reads) and the LM head's logits
always travel to and from DRAM. K and V of a head are held across query blocks in the weight
buffer, or in half the activation buffer when that is larger.
Without ``HardwareConfig.overlap`` each op is simulated from an empty pipeline to a drained
one; with it ``sim._overlap`` chains them and pipelines fused attention's softmax beside the
array (the step order of ``fused_attention_steps``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from mapping import GemmMapping, GemmOp, Recipe, Step, VectorOp, map_op

from ._hwconfig import HardwareConfig

__all__ = ["FusedAttention", "FusedAttentionMapping", "Residency", "SpillChoice", "plan_phase",
           "fused_attention_steps", "apply_residency", "kv_buffer", "softmax_unit_cycles"]

_ONCHIP_ROLES = ("activation", "accumulator", "kv")
#: element-wise row functions that read a GEMM's accumulator output (producer fusion)
_PRODUCER_FUSED = ("silu_mul", "gelu")


@dataclass(frozen=True)
class SpillChoice:
    """The planner's choice for one window of ops around which the resident residual stream
    could be spilled to DRAM: stored by ``writer`` (the norm, as it reads it), the ``ops`` run
    without it in the activation buffer, ``reader`` reads it back; ``kept_cycles`` and
    ``spilled_cycles`` are the estimates (``_estimate``, summed from the writer to the reader)
    with the stream kept and spilled. Spilled only when that is estimated faster."""

    ops: tuple[str, ...]
    writer: str
    reader: str
    stream_bytes: int
    kept_cycles: float
    spilled_cycles: float

    @property
    def chosen(self) -> bool:
        """The stream is spilled (strictly faster by the estimate)."""
        return self.spilled_cycles < self.kept_cycles

    def text(self) -> str:
        """One line: what was chosen, and the two estimates."""
        what = "spilled to DRAM" if self.chosen else "kept in SRAM"
        return (f"residual stream ({self.stream_bytes / 1e6:.3g} MB) {what} around {self.ops[0]}..{self.ops[-1]} "
                f"(written by {self.writer}, read back by {self.reader}): estimate {self.spilled_cycles:,.0f} "
                f"cycles spilled vs {self.kept_cycles:,.0f} kept")


@dataclass(frozen=True)
class Residency:
    """What of an op stays on chip: the fraction of its input bytes (of role activation or
    accumulator) already in SRAM, and whether its output stays there."""

    inputs_on_chip: float = 0.0
    output_on_chip: bool = False
    #: bytes of the activation buffer the resident residual stream holds while the op runs
    #: (the mapper sizes the op's own A tiles and resident A blocks in the rest)
    reserved_a_bytes: int = 0
    #: the op's input (the residual stream, on chip) is also stored to DRAM, each step storing
    #: the chunk it reads (the stream spilled around the window of ops that follows: ``spill``)
    spills_input: bool = False
    #: the spill choice of the window this op writes the stream for (a report: no part of the
    #: schedule, left out of comparisons)
    spill: SpillChoice | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FusedAttention:
    """Scores, softmax and context of ``count`` KV heads as one op (see the module docstring):
    ``group`` query heads per KV head, ``tokens`` new tokens after ``past`` cached ones,
    ``keys`` keys at most, ``head_dim``, blocks of ``block`` tokens, ``causal`` skipping."""

    name: str
    count: int
    group: int
    tokens: int
    past: int
    keys: int
    head_dim: int
    block: int
    causal: bool
    kv_role: str = "kv"

    kind = "gemm"

    def blocks(self) -> list[tuple[int, int]]:
        """(tokens, keys) of each query block."""
        out = []
        for t0 in range(0, self.tokens, self.block):
            bt = min(self.block, self.tokens - t0)
            out.append((bt, min(self.keys, self.past + t0 + bt) if self.causal else self.keys))
        return out

    @property
    def M(self) -> int:
        return self.group * self.tokens

    @property
    def K(self) -> int:
        return self.head_dim

    @property
    def N(self) -> int:
        return self.keys

    @property
    def macs(self) -> int:
        """MACs executed: QKᵀ and P·V of every block (causal blocks skipped)."""
        return self.count * sum(2 * self.group * bt * kv * self.head_dim for bt, kv in self.blocks())


@dataclass(frozen=True)
class FusedAttentionMapping:
    """The schedule summary of a ``FusedAttention`` (fields named as ``GemmMapping``'s)."""

    op: FusedAttention
    dataflow: str
    kv_resident: bool
    order: str = "fused"

    @property
    def Mt(self) -> int:
        return self.op.group * self.op.block

    @property
    def Kt(self) -> int:
        return self.op.head_dim

    @property
    def Nt(self) -> int:
        return self.op.keys

    @property
    def tiles(self) -> int:
        return self.op.count * len(self.op.blocks())


def _fused_block(tokens: int, group: int, keys: int, recipe: Recipe, hw: HardwareConfig) -> int | None:
    """Largest power-of-two token block whose scores fit half the accumulator and vector
    buffers (None if one token's do not)."""
    acc = recipe.bytes_per_element("accumulator")
    cap = hw.sram_c_kib * 1024 / 2  # the row units read the scores from the accumulator buffer
    if group * keys * acc > cap:
        return None
    bt = 1
    while bt * 2 <= tokens and group * bt * 2 * keys * acc <= cap:
        bt *= 2
    return bt


def kv_buffer(hw: HardwareConfig) -> tuple[str, int]:
    """(buffer, bytes) where fused attention keeps a head's K and V across query blocks: the
    weight buffer "b", or half the activation buffer "a" when that is larger."""
    if hw.sram_b_kib >= hw.sram_a_kib // 2:
        return "b", hw.sram_b_kib * 1024
    return "a", hw.sram_a_kib // 2 * 1024


def _softmax_work(op: FusedAttention, tokens: int, keys: int) -> tuple:
    """The work of the softmax step of a query block of ``tokens`` tokens over ``keys`` keys."""
    return ("vector", "softmax", op.group * tokens, keys)


def softmax_unit_cycles(op: FusedAttention, timing) -> int | None:
    """Clock cycles the row units spend on the softmax steps of ``op`` (every head and query
    block, as ``fused_attention_steps`` issues them, on one core's row units: the cycles its
    vector unit's energy is charged for), or ``None`` when softmax has no row unit."""
    cycles = [timing.step_cycles(_softmax_work(op, bt, kv), "") for bt, kv in op.blocks()]
    return None if any(c is None for c in cycles) else op.count * sum(cycles)


def fused_attention_steps(op: FusedAttention, recipe: Recipe, hw: HardwareConfig, timing
                          ) -> tuple[FusedAttentionMapping, list[Step]]:
    """The mapping and tile steps of a fused attention op (per head, per query block: QKᵀ,
    softmax, P·V; output stored after P·V). With overlap (``hw.overlap``, no global buffer:
    ``sim._overlap`` chains) the (head, block) units are software-pipelined, QK0, SM0, QK1,
    PV0, SM1, QK2, PV1, ..., so that a block's softmax can run beside the next block's QKᵀ
    (two blocks of scores fit: the block is sized to half the accumulator buffer)."""
    a = recipe.bytes_per_element("activation")
    kvb = recipe.bytes_per_element(op.kv_role)
    out = recipe.bytes_per_element("activation")
    m_max = op.group * op.block
    scores = GemmOp("s", m_max, op.head_dim, op.keys)
    df = map_op(scores, recipe, hw.limits(), timing.array_cycles).dataflow
    hd = op.head_dim
    kv_bytes = 2 * math.ceil(op.keys * hd * kvb)  # K and V of one head
    kv_resident = 2 * kv_bytes <= kv_buffer(hw)[1]
    units: list[list[Step]] = []  # (QK, SM, PV) of each (head, block)
    blocks = op.blocks()
    for _ in range(op.count):
        for j, (bt, kv) in enumerate(blocks):
            m = op.group * bt
            q = ("a", math.ceil(m * hd * a))
            k_bytes, v_bytes = math.ceil(kv * hd * kvb), math.ceil(kv * hd * kvb)
            if kv_resident:  # the head's K and V once, at its first block (all its keys)
                first = j == 0
                last = j == len(blocks) - 1
                kl = (("br", math.ceil(op.keys * hd * kvb)),) if first else ()
                vl = (("br", math.ceil(op.keys * hd * kvb)),) if first else ()
                units.append([Step((q,) + kl, ("a",), ("gemm", m, hd, kv), True, 0),
                              Step((), (), _softmax_work(op, bt, kv), False, 0),
                              Step(vl, ("br", "br") if last else (), ("gemm", m, kv, hd), False,
                                   math.ceil(m * hd * out))])
            else:
                units.append([Step((q, ("b", k_bytes)), ("a", "b"), ("gemm", m, hd, kv), True, 0),
                              Step((), (), _softmax_work(op, bt, kv), False, 0),
                              Step((("b", v_bytes),), ("b",), ("gemm", m, kv, hd), False, math.ceil(m * hd * out))])
    if hw.overlap:
        steps = units[0][:2]
        for prev, cur in zip(units, units[1:]):
            steps += [cur[0], prev[2], cur[1]]
        steps.append(units[-1][2])
    else:
        steps = [st for u in units for st in u]
    return FusedAttentionMapping(op, df, kv_resident), steps


def apply_residency(steps: list[Step], op, residency: Residency | None) -> list[Step]:
    """``steps`` with the DRAM loads of on-chip inputs and the stores of an on-chip output
    removed (an output kept on chip takes no output slot); with ``spills_input`` each step
    stores the input chunk it reads (that store takes the output slot)."""
    if residency is None or (residency.inputs_on_chip == 0 and not residency.output_on_chip):
        return steps
    keep_in = 1.0 - residency.inputs_on_chip
    out = []
    for st in steps:
        read = sum(n for _, n in st.loads)
        loads = []
        for buf, n in st.loads:
            if (isinstance(op, GemmOp) and buf in ("a", "ar")) or (isinstance(op, FusedAttention) and buf == "a"):
                n = math.ceil(n * keep_in)
            elif buf == "v":
                n = math.ceil(n * keep_in)
            if n:
                loads.append((buf, n))
        release = st.release  # a release of a dropped load only lowers a count nobody waits on
        if residency.spills_input:
            out.append(Step(tuple(loads), release, st.work, True, read))
        elif residency.output_on_chip:
            out.append(Step(tuple(loads), release, st.work, False, 0))
        else:
            out.append(Step(tuple(loads), release, st.work, st.new_output, st.store_bytes))
    return out


def _in_role(op) -> str:
    return op.a_role if isinstance(op, GemmOp) else op.in_role


def _in_elements(op) -> int:
    if isinstance(op, GemmOp):
        return op.M * op.K * op.count
    return op.rows * op.length


def _out(op) -> tuple[str, int]:
    if isinstance(op, GemmOp):
        return op.c_role, op.M * op.N * op.count
    if isinstance(op, FusedAttention):
        return "activation", op.count * op.group * op.tokens * op.head_dim
    return op.out_role, op.rows * op.length


def _stream_windows(ops: list[tuple[str, object]], stream: int) -> list[tuple[int, int]]:
    """(writer, reader) index pairs of the windows the residual stream could be spilled around:
    a norm of the layer reading the stream (``stream`` elements; the writer: it stores the
    stream as it reads it), then the ops up to the next residual add of the layer (``add`` of
    two inputs, ``stream`` elements), which reads it back: in a pre-norm layer the attention
    block (attn_norm .. attn_residual) and the FFN (ffn_norm .. ffn_residual)."""
    def add(i: int) -> bool:
        s, op = ops[i]
        return (s == "layer" and isinstance(op, VectorOp) and op.function == "add" and op.inputs == 2
                and op.rows * op.length == stream)

    out = []
    for w, (s, op) in enumerate(ops):
        if not (s == "layer" and isinstance(op, VectorOp) and op.function in ("rmsnorm", "layernorm")
                and op.rows * op.length == stream):
            continue
        r = next((j for j in range(w + 1, len(ops)) if add(j)), None)
        if r is not None and r > w + 1:
            out.append((w, r))
    return out


def _held_input_bytes(op, on_in: float, bpe) -> int:
    """Bytes of an op's input kept in the activation buffer while it runs (``on_in`` of it on chip)."""
    if isinstance(op, GemmOp):
        role, n = op.a_role, op.M * op.K * op.count
    elif isinstance(op, FusedAttention):
        role, n = "activation", op.count * op.group * op.tokens * op.head_dim
    else:
        role, n = op.in_role, op.inputs * op.rows * op.length
    return math.ceil(on_in * n * bpe(role)) if role in ("activation", "kv") else 0


def _plan(ops, recipe: Recipe, hw: HardwareConfig, stream: int, spilled: frozenset
          ) -> list[tuple[str, object, Residency]]:
    """The residency of every op with the residual stream of ``stream`` elements spilled around
    the windows ``spilled`` ((writer, reader) pairs of ``_stream_windows``)."""
    a_bytes = hw.sram_a_kib * 1024
    bpe = recipe.bytes_per_element
    stream_bytes = stream * bpe("activation")
    onchip: dict[str, set[int]] = {r: set() for r in _ONCHIP_ROLES}
    reserved = 0
    if 2 * stream_bytes <= a_bytes:
        onchip["activation"].add(stream)
        reserved = math.ceil(stream_bytes)
    inside = {i for p, r in spilled for i in range(p + 1, r)}
    writers = {p for p, _ in spilled}
    readers = {r for _, r in spilled}
    out = []
    n = len(ops)
    for i, (scope, op) in enumerate(ops):
        # inputs
        on_in = 0.0
        if i in readers:  # the stream comes back from DRAM; the other input is the previous op's output
            on_in = 0.5 if out[-1][2].output_on_chip else 0.0
        elif isinstance(op, FusedAttention):
            on_in = 0.0 if "activation" not in onchip else float(op.count * op.group * op.tokens * op.head_dim
                                                                  in onchip["activation"])
        elif isinstance(op, VectorOp) and op.function == "kv_append":  # K and V of this step
            on_in = float(op.rows // 2 * op.length in onchip["kv"])
        elif _in_role(op) in _ONCHIP_ROLES and _in_elements(op) in onchip[_in_role(op)]:
            on_in = 1.0
        # output
        role, elems = _out(op)
        nxt = ops[i + 1][1] if i + 1 < n else None
        producer_fused = (isinstance(op, GemmOp) and role == "accumulator" and isinstance(nxt, VectorOp)
                          and nxt.function in _PRODUCER_FUSED and nxt.in_role == "accumulator")
        # gate_proj feeds SiLU·up two ops later (up_proj between)
        if (isinstance(op, GemmOp) and role == "accumulator" and isinstance(nxt, GemmOp) and i + 2 < n
                and isinstance(ops[i + 2][1], VectorOp) and ops[i + 2][1].function == "silu_mul"):
            producer_fused = True
        cache = isinstance(op, VectorOp) and op.function == "kv_append"  # the KV cache lives in DRAM
        keep = (role in _ONCHIP_ROLES and scope == "layer" and not cache) or (scope == "model" and role == "activation")
        if role not in _ONCHIP_ROLES:
            fits = False
        elif i in inside:  # the stream is in DRAM: the output fits beside the op's own on-chip input
            fits = elems * bpe(role) + _held_input_bytes(op, on_in, bpe) <= a_bytes
        else:
            fits = elems * bpe(role) + stream_bytes <= a_bytes
        on_out = producer_fused or (keep and fits)
        if on_out:
            onchip[role].add(elems)
        out.append((scope, op, Residency(on_in, on_out, 0 if i in inside else reserved,
                                         spills_input=i in writers)))
    return out


#: per-op estimates of ``_estimate`` (op, residency, hardware, recipe) -> cycles
_ESTIMATES: dict = {}
#: spill choices of ``plan_phase`` (window ops and residencies kept, hardware, recipe) -> SpillChoice
_CHOICES: dict = {}


def _estimate(op, residency: Residency, recipe: Recipe, hw: HardwareConfig, timing) -> float:
    """Cycles of one op as the spill choice estimates them: the longer of its array or vector
    cycles (the step timing of the schedule ``simulate_op`` runs) and its DRAM bytes over the
    sustained bandwidth, or the mapper's pipelined estimate of a GEMM where that is longer."""
    key = (replace(op, name=""), residency, hw, recipe)
    if key not in _ESTIMATES:
        from ._run import simulate_op  # the schedule simulated (sim._run imports this module)

        if len(_ESTIMATES) > 4096:
            _ESTIMATES.clear()
        mp, steps = simulate_op(op, recipe, hw, timing, residency=residency, schedule_only=True)(op)
        df = getattr(mp, "dataflow", "")
        compute = sum(timing.step_cycles(st.work, df) or 0 for st in steps)
        moved = sum(b for st in steps for _, b in st.loads) + sum(st.store_bytes for st in steps)
        est = max(compute, moved / hw.dram_bytes_per_cycle)
        if isinstance(mp, GemmMapping) and mp.est_cycles is not None:
            est = max(est, mp.est_cycles)
        _ESTIMATES[key] = float(est)
    return _ESTIMATES[key]


def plan_phase(ops: list[tuple[str, object]], model, recipe: Recipe, hw: HardwareConfig, *, tokens: int, past: int,
               batch: int, spill: bool = True, timing=None) -> list[tuple[str, object, Residency | None]]:
    """(scope, op, residency) of one phase step with attention fused and activations kept on
    chip where they fit (see the module docstring); ``hw.fusion`` False: unchanged, ``None``.
    ``spill``: spill the resident residual stream around a window of ops where the estimate
    says it is faster (``SpillChoice``, on the writer's residency); ``timing``: the step timing
    of ``hw`` and ``recipe`` (``sim._gemv.step_timing``, made here if not given)."""
    if not hw.fusion:
        return [(s, op, None) for s, op in ops]
    ops = _fuse_attention(ops, model, recipe, hw, tokens=tokens, past=past, batch=batch)
    stream = batch * tokens * model.d_model
    stream_bytes = math.ceil(stream * recipe.bytes_per_element("activation"))
    spilled: frozenset = frozenset()
    plan = _plan(ops, recipe, hw, stream, spilled)
    if not spill or 2 * stream_bytes > hw.sram_a_kib * 1024:  # no stream resident: nothing to spill
        return plan
    if hw.gb_kib:  # the estimate prices DRAM bytes: operands served by a global buffer are not
        return plan
    if timing is None:
        from ._gemv import step_timing

        timing = step_timing(hw, recipe)
    choices = {}
    for p, r in _stream_windows(ops, stream):
        # the choice depends on the window's ops and their residencies kept (the decode steps of a
        # run repeat them): made once
        key = (tuple((op, res) for _, op, res in plan[p:r + 1]), hw, recipe)
        choice = _CHOICES.get(key)
        alt = _plan(ops, recipe, hw, stream, spilled | {(p, r)}) if choice is None or choice.chosen else None
        if choice is None:
            kept = sum(_estimate(op, res, recipe, hw, timing) for _, op, res in plan[p:r + 1])
            moved = sum(_estimate(op, res, recipe, hw, timing) for _, op, res in alt[p:r + 1])
            choice = SpillChoice(tuple(op.name for _, op in ops[p + 1:r]), ops[p][1].name, ops[r][1].name,
                                 stream_bytes, kept, moved)
            if len(_CHOICES) > 4096:
                _CHOICES.clear()
            _CHOICES[key] = choice
        choices[p] = choice
        if choice.chosen:
            spilled = spilled | {(p, r)}
            plan = alt
    for p, choice in choices.items():
        s, op, res = plan[p]
        plan[p] = (s, op, replace(res, spill=choice))
    return plan


def _fuse_attention(ops, model, recipe, hw, *, tokens, past, batch):
    """``ops`` with each (attn_scores, softmax, attn_context) run replaced by a
    ``FusedAttention`` when its block fits."""
    out, i = [], 0
    while i < len(ops):
        s, op = ops[i]
        if (isinstance(op, GemmOp) and op.name == "attn_scores" and i + 2 < len(ops)
                and ops[i + 1][1].name == "softmax" and ops[i + 2][1].name == "attn_context"):
            group = op.M // tokens
            bt = _fused_block(tokens, group, op.N, recipe, hw)
            if bt is not None:
                out.append((s, FusedAttention("attention", op.count, group, tokens, past, op.N, op.K, bt,
                                              model.decoder, op.b_role)))
                i += 3
                continue
        out.append((s, op))
        i += 1
    return out
