"""``sim._repeat``'s periodicity check (``block_period``) against its version before it was
made faster (kept verbatim here): the same answer, of the same type, on the timelines of random
schedules and chains and on perturbed copies of them. Speed is measured by
benchmarks/sim_llama7b.py, not here."""
from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from dataclasses import replace

import pytest

from mapping import GemmOp, load_model, map_op, parse_recipe, steps_of
from sim import PRESETS, run_steps
from sim._fusion import plan_phase
from sim._gemv import step_timing
from sim._repeat import HEADS, MAX_HEADS, _key, block_period, find_block, heads_needed
from sim._run import _groups, _phase_ops, simulate_chain

_TOL = 1e-6


def _reference_block_period(op_events, all_events, block, heads):
    """``sim._repeat.block_period`` as of 595be12 (verbatim but for this docstring)."""
    compute = [e for e in op_events if e[0] in ("array", "vector")]
    if len(compute) != block * heads:
        return None
    b = {j: compute[j * block - 1][2] + compute[j * block - 1][3] for j in range(1, heads)}  # block j starts
    bounds = sorted(b.values())
    carry = max((bisect_left(bounds, e[2] + e[3] - _TOL) - bisect_right(bounds, e[2]) for e in all_events), default=0)
    if heads < heads_needed(carry):
        return heads_needed(carry) if heads_needed(carry) <= MAX_HEADS else None
    last = heads - 4  # the windows [b_j, b_{j+1}) of j = 2 .. heads - 4 leave three blocks to finish
    events = sorted(all_events, key=lambda e: e[2])
    starts = [e[2] for e in events]
    windows = {j: sorted(_key(e, b[j]) for e in events[bisect_left(starts, b[j]):bisect_left(starts, b[j + 1])])
               for j in range(2, last + 1)}
    for j0 in range(2, last - carry):  # the first carry + 2 identical consecutive blocks after block 1
        run = range(j0, j0 + carry + 2)
        periods = [b[j + 1] - b[j] for j in run]
        if max(periods) - min(periods) <= _TOL and all(windows[j] == windows[j0] for j in run):
            break
    else:  # still settling: two more heads, up to MAX_HEADS
        return heads + 2 if heads + 2 <= MAX_HEADS else None
    lo, hi = b[j0], b[j0 + 1]
    stall_in = sum(e[3] for e in op_events if e[0] == "stall" and e[1] == "wait input" and lo <= e[2] < hi)
    stall_out = sum(e[3] for e in op_events if e[0] == "stall" and e[1] == "wait output slot" and lo <= e[2] < hi)
    return periods[0], stall_in, stall_out, b[j0]


def _perturbed(rng: random.Random, events: list) -> list:
    """``events`` with a few moved, stretched, shortened to nothing or dropped."""
    out = list(events)
    for _ in range(rng.randint(1, 3)):
        if not out:
            break
        i = rng.randrange(len(out))
        e = out[i]
        what = rng.randrange(4)
        if what == 0:
            out[i] = e[:2] + (e[2] + rng.choice([1e-7, 0.5, 3.0, -2.0]),) + e[3:]
        elif what == 1:
            out[i] = e[:3] + (e[3] * rng.choice([0.5, 2.0, 10.0]),) + e[4:]
        elif what == 2:
            out[i] = e[:3] + (0,) + e[4:]
        elif e[0] not in ("array", "vector"):
            del out[i]
    return out


def _same(op_events, all_events, block, heads) -> tuple:
    got = block_period(op_events, all_events, block, heads)
    want = _reference_block_period(op_events, all_events, block, heads)
    assert got == want and type(got) is type(want)
    return got


def test_block_period_equals_its_previous_version():
    """On the timelines of random repeated GEMM schedules run alone (random tilings, bandwidth,
    latency, DMA engines) and of random chains' repeated ops (prefill layers and decode steps,
    the chain's every event), as recorded and perturbed (events moved, stretched, emptied,
    dropped): the same period, stalls and start, or the same request for more blocks, or None."""
    rng = random.Random(21)
    hw0 = PRESETS["default-32x32"]
    answers = set()
    for _ in range(40):
        hw = replace(hw0, dma_engines=rng.randint(1, 3), dram_gbps_per_channel=rng.choice([4.0, 16.0, 64.0]),
                     dram_latency_ns=rng.choice([0.0, 100.0, 400.0]))
        recipe = parse_recipe(rng.choice(["INT8", "W4A8"]))
        timing = step_timing(hw, recipe)
        op = GemmOp("g", rng.randint(1, 40), rng.randint(16, 300), rng.randint(16, 300), count=rng.choice([10, 16, 32]),
                    b_shared=False)
        mp = map_op(op, recipe, hw.limits(), timing.array_cycles)
        mp = replace(mp, Mt=rng.randint(1, op.M), Kt=rng.randint(1, op.K), Nt=rng.randint(1, op.N))
        steps = steps_of(mp)
        block = find_block(steps)
        heads = rng.choice([HEADS, HEADS + 2, MAX_HEADS])
        run = run_steps(steps[:block * heads], hw, timing, dataflow=mp.dataflow, trace=True)
        answers.add(type(_same(run.events, run.events, block, heads)).__name__)
        for _ in range(3):
            answers.add(type(_same(run.events, _perturbed(rng, run.events), block, heads)).__name__)
            mine = _perturbed(rng, run.events)
            answers.add(type(_same(mine, mine, block, heads)).__name__)
    # the chains' ops, as sim._run.simulate_chain checks them
    import sim._run

    calls = []
    real = sim._run.block_period
    with pytest.MonkeyPatch.context() as m:
        m.setattr(sim._run, "block_period", lambda *args: (calls.append(args), real(*args))[1])
        for case in range(6):
            recipe = parse_recipe(rng.choice(["INT8", "W4A8"]))
            timing = step_timing(hw0, recipe)
            model = load_model("llama2-7b" if case % 2 else "gpt2")  # 32 heads: decode attention repeats
            tokens, past = (1, rng.randint(200, 1000)) if case % 2 else (rng.randint(256, 512), 0)
            planned = plan_phase(_phase_ops(model, tokens, past, 1, False), model, recipe, hw0, tokens=tokens,
                                 past=past, batch=1, timing=timing)
            for group in _groups(planned, "decode" if case % 2 else "prefill", True):
                simulate_chain([(op, res) for _, op, res in group], recipe, hw0, repeat=True)
    assert len(calls) >= 6
    for op_events, all_events, block, heads in calls:
        answers.add(type(_same(op_events, all_events, block, heads)).__name__)
        answers.add(type(_same(op_events, _perturbed(rng, all_events), block, heads)).__name__)
    assert answers == {"tuple", "int", "NoneType"}, answers
    assert _same([], [], 1, HEADS) is None
