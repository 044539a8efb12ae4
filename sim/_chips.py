"""Several chips in tensor parallel (Megatron-style) connected by a link: each chip holds
``1 / chips`` of every layer's heads and FFN columns and runs them on its own cores and DRAM;
after the attention output projection and after the FFN's down projection the partial results
are summed across chips by a ring all-reduce.

``shard_model`` gives the model one chip runs (query heads, KV heads and ``d_ff`` divided by
``chips``; ``d_model`` unchanged; with fewer KV heads than chips each chip keeps one KV head,
as replicated KV heads are). The embedding, final norm and LM head run whole on every chip.
``allreduce_cycles`` is the ring all-reduce of ``nbytes``: ``2 (c - 1)`` steps, each moving
``nbytes / c`` over the link and paying its latency (no overlap with compute).
"""
from __future__ import annotations

import math
from dataclasses import replace

from mapping import ModelConfig

from ._hwconfig import HardwareConfig
from .errors import SimulationError

__all__ = ["shard_model", "allreduce_cycles", "ALLREDUCES_PER_LAYER"]

#: all-reduces per layer per phase step (after o_proj and after the FFN's down projection; one
#: for a parallel-attention block, whose attention and FFN outputs are summed together)
ALLREDUCES_PER_LAYER = 2


def shard_model(model: ModelConfig, chips: int) -> ModelConfig:
    """The share of ``model`` one of ``chips`` tensor-parallel chips runs.

    Raises
    ------
    SimulationError
        When the heads or ``d_ff`` do not divide among the chips.
    """
    if chips == 1:
        return model
    if model.n_heads % chips or model.d_ff % chips:
        raise SimulationError(f"chips must divide the {model.n_heads} heads and the FFN size {model.d_ff} of "
                              f"{model.name}, not {chips!r}")
    kv = max(1, model.n_kv_heads // chips)
    if model.n_kv_heads >= chips and model.n_kv_heads % chips:
        raise SimulationError(f"chips must divide the {model.n_kv_heads} KV heads of {model.name}, not {chips!r}")
    return replace(model, name=f"{model.name} (1/{chips} per chip)", n_heads=model.n_heads // chips, n_kv_heads=kv,
                   d_ff=model.d_ff // chips)


def allreduce_cycles(nbytes: float, hw: HardwareConfig) -> float:
    """Clock cycles of a ring all-reduce of ``nbytes`` over ``hw.chips`` chips."""
    c = hw.chips
    if c == 1 or nbytes == 0:
        return 0.0
    per_step_s = nbytes / c / (hw.link_gbps * 1e9) + hw.link_latency_ns * 1e-9
    return 2 * (c - 1) * per_step_s * hw.clock_mhz * 1e6


def allreduce_bytes(model: ModelConfig, tokens: int, batch: int, bytes_per_element: float) -> float:
    """Bytes of one all-reduce: the ``batch x tokens x d_model`` partial sums."""
    return math.ceil(batch * tokens * model.d_model * bytes_per_element)
