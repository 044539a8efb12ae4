"""Fast paths of the mapper's schedules equal their reference paths (not timed: speed is
measured by benchmarks/sim_llama7b.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapping import GemmOp, MapperLimits, map_op, parse_recipe
from mapping._mapper import _gemm_steps_loop, gemm_steps

LIM = MapperLimits(16, 16, 64 * 1024, 128 * 1024, 32 * 1024, 64 * 1024, 16.0)
ORDERS = ("mnk", "nmk", "mnk-ar", "nmk-br")


@settings(max_examples=200, deadline=None)
@given(M=st.integers(1, 70), K=st.integers(1, 300), N=st.integers(1, 300), count=st.integers(1, 6),
       b_shared=st.booleans(), order=st.sampled_from(ORDERS), Mt=st.integers(1, 80), Kt=st.integers(1, 320),
       Nt=st.integers(1, 320), recipe=st.sampled_from(["INT8", "W4A8"]))
def test_gemm_steps_equal_instance_by_instance_loop(M, K, N, count, b_shared, order, Mt, Kt, Nt, recipe):
    """``gemm_steps`` (one instance's steps repeated where B is not shared) equals the loop over
    every instance, for any tile shape (edge tiles included) and loop order."""
    op = GemmOp("g", M, K, N, count=count, b_shared=b_shared)
    mp = map_op(op, parse_recipe(recipe), LIM)
    mp = replace(mp, Mt=min(Mt, M), Kt=min(Kt, K), Nt=min(Nt, N), order=order)
    assert gemm_steps(mp) == _gemm_steps_loop(mp, count)


@pytest.mark.parametrize("past", [0, 1, 300, 2047])
def test_decode_attention_steps_equal_loop(past):
    """The decode attention GEMMs (32 heads, each its own K/V: the case the fast path is for)."""
    r = parse_recipe("W4A8")
    for op in (GemmOp("attn_scores", 1, 128, past + 1, count=32, b_role="kv", c_role="accumulator"),
               GemmOp("attn_context", 1, past + 1, 128, count=32, b_role="kv")):
        mp = map_op(op, r, LIM)
        assert gemm_steps(mp) == _gemm_steps_loop(mp, 32)
