"""Fast paths of the mapper equal their reference paths: the schedules (one instance's steps
repeated) and the search (candidates costed as numpy columns, the ranking's head found without
sorting every candidate). Not timed: speed is measured by benchmarks/sim_llama7b.py."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapping import GemmOp, MapperLimits, MappingError, map_gemms, map_op, parse_recipe
from mapping._mapper import (SEARCH_KEPT, Candidate, GemmMapping, MapperSearch, _a_bytes, _bpe, _candidates, _cdiv,
                             _compulsory, _families, _gemm_steps_loop, block_quantum, gemm_steps)
from sim import PRESETS
from sim._gemv import step_timing

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


# ---- the search's vectorised costing (mapping._mapper._cost_candidates / _rank) ------------------
# The reference is the search as it was written before it was vectorised: one candidate at a
# time, every candidate costed, sorted and de-duplicated whole (kept here verbatim).


def _ref_traffic(op, Mt, Kt, Nt, order, a, b, c, a_keep=1.0, c_out=True):
    nm, nk, nn = _cdiv(op.M, Mt), _cdiv(op.K, Kt), _cdiv(op.N, Nt)
    if order == "mnk-ar":
        a_passes = 1
        b_passes = nm if nn * nk > 1 else 1
    elif order == "nmk-br":
        b_passes = 1
        a_passes = nn if nm * nk > 1 else 1
    elif order == "mnk":
        a_passes = nn if nk > 1 else 1
        b_passes = nm if nn * nk > 1 else 1
    else:
        b_passes = nm if nk > 1 else 1
        a_passes = nn if nm * nk > 1 else 1
    a_read = math.ceil(a_passes * math.ceil(op.M * op.K * a) * a_keep)
    reads = op.count * (a_read + b_passes * math.ceil(op.K * op.N * b))
    if op.b_shared and op.count > 1:
        reads -= (op.count - 1) * b_passes * math.ceil(op.K * op.N * b)
    writes = op.count * math.ceil(op.M * op.N * c) if c_out else 0
    return reads, writes


def _ref_gemm_cycles(op, Mt, Kt, Nt, dataflow, fn):
    def edges(full, t):
        q, r = divmod(full, t)
        return [(t, q)] + ([(r, 1)] if r else [])

    total = 0
    for m, cm in edges(op.M, Mt):
        for k, ck in edges(op.K, Kt):
            for n, cn in edges(op.N, Nt):
                total += cm * ck * cn * fn(dataflow, m, k, n)
    return op.count * total


def _ref_pipelined(mem, cyc, tiles, latency):
    t_mem, t_cyc = mem / tiles, cyc / tiles
    period = max(t_mem, t_cyc, (latency + t_mem + t_cyc) / 2)
    return tiles * period + min(t_mem, t_cyc) + latency


def _ref_map_gemm(op, recipe, lim, fn, a_keep, c_out):
    a, b = _bpe(recipe, op.a_role), _bpe(recipe, op.b_role)
    c = _bpe(recipe, op.c_role)
    acc = _bpe(recipe, "accumulator")
    kq = math.lcm(lim.array_rows, block_quantum(recipe, op.a_role), block_quantum(recipe, op.b_role))
    k_min = min(op.K, kq)
    flows = tuple(d for d in lim.dataflows if d != "gemv" or op.M < lim.array_rows)
    flows = tuple(d for d in flows if d != "is" or a == b)
    if fn is None:
        flows = flows[:1]
    have = {"a": lim.a_bytes, "b": lim.b_bytes, "c": lim.c_bytes}
    families, refusal = [], None
    for fam in _families(op, lim, flows):
        m_min, n_min = fam[3], fam[4]
        need = {"a": 2 * math.ceil(m_min * k_min * a), "b": 2 * math.ceil(k_min * n_min * b),
                "c": 2 * m_min * n_min * acc}
        short = [(buf, n) for buf, n in need.items() if n > have[buf]]
        if not short:
            families.append(fam)
        elif refusal is None:
            buf, n = short[0]
            refusal = (f"SRAM buffer {buf!r} must hold two tiles of the smallest legal tile of {op.name} "
                       f"({m_min} x {k_min} x {n_min}: {n} bytes), not {have[buf]} bytes")
    if not families:
        raise MappingError(refusal)
    bw, lat = lim.dram_bytes_per_cycle, lim.dram_latency_cycles
    costed = []
    for dfs, m_cands, n_cands, _, _ in families:
        for Kt in _candidates(op.K, kq, kq):
            for Nt in n_cands:
                if 2 * math.ceil(Kt * Nt * b) > lim.b_bytes:
                    break
                for Mt in m_cands:
                    if 2 * math.ceil(Mt * Kt * a) > lim.a_bytes or 2 * Mt * Nt * acc > lim.c_bytes:
                        continue
                    nm, nn = _cdiv(op.M, Mt), _cdiv(op.N, Nt)
                    tiles = op.count * nm * _cdiv(op.K, Kt) * nn
                    resident = (a_keep > 0 and nn > 1
                                and (2 if nm > 1 else 1) * math.ceil(Mt * op.K * a) <= lim.a_bytes)
                    b_resident = (nm > 1 and (op.count == 1 or not op.b_shared)
                                  and (2 if nn > 1 else 1) * math.ceil(op.K * Nt * b) <= lim.b_bytes)
                    cycs = {df: _ref_gemm_cycles(op, Mt, Kt, Nt, df, fn) if fn is not None else None for df in dfs}
                    for order in (("mnk", "nmk") + (("mnk-ar",) if resident else ())
                                  + (("nmk-br",) if b_resident else ())):
                        rd, wr = _ref_traffic(op, Mt, Kt, Nt, order, a, b, c, a_keep, c_out)
                        mem = (rd + wr) / bw
                        first, inner = {"mnk-ar": (_a_bytes(op, a, a_keep), nn),
                                        "nmk-br": (op.count * math.ceil(op.K * op.N * b), nm)}.get(order, (0, 1))
                        for df in dfs:
                            cyc = cycs[df]
                            if cyc is None:
                                est = mem
                            elif first:
                                passes = tiles // inner
                                m1 = (first + (rd + wr - first) / inner) / bw
                                est = (_ref_pipelined(m1, cyc / inner, passes, lat)
                                       + _ref_pipelined(mem - m1, cyc - cyc / inner, tiles - passes, 0.0)
                                       if tiles > passes else _ref_pipelined(mem, cyc, tiles, lat))
                            else:
                                est = _ref_pipelined(mem, cyc, tiles, lat)
                            key = (float(f"{est:.3g}"), rd + wr, tiles)
                            costed.append((key, len(costed), Candidate(Mt, Kt, Nt, order, df, est, rd, wr, cyc,
                                                                       tiles)))
    if not costed:
        raise MappingError(f"op {op.name} must have at least one legal tile in the SRAM buffers, not none")
    costed.sort(key=lambda t: t[:2])
    ranked, seen = [], set()
    for _, _, cd in costed:
        same = (cd.Mt, cd.Kt, cd.Nt, cd.dataflow, cd.dram_read_bytes, cd.dram_write_bytes, cd.est_cycles)
        if same not in seen:
            seen.add(same)
            ranked.append(cd)
    per_flow = {}
    for cd in ranked:
        per_flow.setdefault(cd.dataflow, cd)
    search = MapperSearch(len(costed), _compulsory(op, a, b, c, a_keep, c_out), tuple(ranked[:SEARCH_KEPT]),
                          tuple(per_flow.values()))
    w = ranked[0]
    return GemmMapping(op, w.Mt, w.Kt, w.Nt, w.order, w.dataflow, a, b, c, w.dram_read_bytes, w.dram_write_bytes,
                       w.compute_cycles, w.est_cycles, search)


def _fields(cd: Candidate) -> list:
    """A candidate's fields with their types (an int is not a numpy integer, nor a float a
    numpy float: the report's text and equality must not depend on it)."""
    return [(type(v), v) for v in vars(cd).values()]


def _same_search(op, recipe, lim, fn, inputs_on_chip=0.0, output_on_chip=False) -> None:
    try:
        want = _ref_map_gemm(op, recipe, lim, fn, 1.0 - inputs_on_chip, not output_on_chip)
    except MappingError as e:
        with pytest.raises(MappingError) as got:
            map_op(op, recipe, lim, fn, inputs_on_chip=inputs_on_chip, output_on_chip=output_on_chip)
        assert str(got.value) == str(e)
        return
    got = map_op(op, recipe, lim, fn, inputs_on_chip=inputs_on_chip, output_on_chip=output_on_chip)
    assert got == want
    assert [(type(v), v) for v in vars(got).values()] == [(type(v), v) for v in vars(want).values()]
    s, r = got.search, want.search
    assert (s.evaluated, s.compulsory_bytes) == (r.evaluated, r.compulsory_bytes)
    assert [_fields(cd) for cd in s.ranked] == [_fields(cd) for cd in r.ranked]
    assert [_fields(cd) for cd in s.per_dataflow] == [_fields(cd) for cd in r.per_dataflow]
    assert s.summary() == r.summary()


_PRESETS = ("default-32x32", "npu-8core", "tpuv1", "edge-16x16")


@settings(max_examples=250, deadline=None)
@given(M=st.one_of(st.sampled_from([1, 2, 16, 33, 512, 2048]), st.integers(1, 4000)),
       K=st.one_of(st.sampled_from([64, 128, 4096, 11008]), st.integers(1, 9000)),
       N=st.one_of(st.sampled_from([128, 4096]), st.integers(1, 9000)),
       count=st.sampled_from([1, 1, 4, 32]), b_shared=st.booleans(),
       roles=st.sampled_from([("activation", "weight", "activation"), ("activation", "kv", "accumulator"),
                              ("activation", "kv", "activation"), ("weight", "activation", "activation")]),
       preset=st.sampled_from(_PRESETS), recipe=st.sampled_from(["INT8", "W4A8", "FP8", "MXFP4"]),
       buffers=st.one_of(st.none(), st.tuples(st.integers(256, 1 << 20), st.integers(256, 1 << 20),
                                              st.integers(256, 1 << 20))),
       latency=st.sampled_from([None, 0.0, 37.5, 100]), on_chip=st.sampled_from([0.0, 0.0, 0.5, 1.0]),
       out_on_chip=st.booleans(), timed=st.integers(0, 9))
def test_search_equals_the_one_candidate_at_a_time_search(M, K, N, count, b_shared, roles, preset, recipe, buffers,
                                                          latency, on_chip, out_on_chip, timed):
    """The vectorised search gives the mapping and the report (candidates costed, the ranked
    head, the best of each dataflow, their types) of the candidate-by-candidate search, for
    random shapes, roles, presets, recipes, buffer sizes, latencies and on-chip operands, with
    and without timing (including refusals, message for message)."""
    hw = PRESETS[preset]
    r = parse_recipe(recipe)
    lim = hw.limits()
    if buffers is not None:
        lim = replace(lim, a_bytes=buffers[0], b_bytes=buffers[1], c_bytes=buffers[2])
    if latency is not None:
        lim = replace(lim, dram_latency_cycles=latency)
    a, b, c = roles
    op = GemmOp("g", M, K, N, count=count, b_shared=b_shared, a_role=a, b_role=b, c_role=c)
    _same_search(op, r, lim, step_timing(hw, r).array_cycles if timed else None, on_chip, out_on_chip)


@pytest.mark.parametrize("preset,recipe", [("default-32x32", "W4A8"), ("default-32x32", "INT8"),
                                           ("npu-8core", "INT8"), ("tpuv1", "INT8")])
def test_search_on_decode_attention_equals_the_one_at_a_time_search(preset, recipe):
    """The decode steps' attention GEMMs (the benchmarks' case: a distinct shape per step)."""
    hw, r = PRESETS[preset], parse_recipe(recipe)
    fn = step_timing(hw, r).array_cycles
    for past in (0, 1, 31, 100, 511, 1000, 2047, 3000, 4095):
        for op in (GemmOp("attn_scores", 1, 128, past + 1, count=32, b_role="kv", c_role="accumulator"),
                   GemmOp("attn_context", 1, past + 1, 128, count=32, b_role="kv")):
            _same_search(op, r, hw.limits(), fn)


def test_map_gemms_equals_map_op_one_by_one():
    """``map_gemms`` (several GEMMs costed in one pass) gives each op ``map_op``'s mapping and
    report (types included), and None where ``map_op`` refuses, for random lists mixing shapes,
    roles, instance counts and refused ops, on several presets and recipes."""
    import random

    rng = random.Random(9)
    refused = mapped = 0
    for preset, recipe in (("default-32x32", "W4A8"), ("tpuv1", "INT8"), ("npu-8core", "FP8"), ("edge-16x16", "INT8")):
        hw, r = PRESETS[preset], parse_recipe(recipe)
        fn = step_timing(hw, r).array_cycles
        lim = hw.limits()
        if preset == "default-32x32":  # two smallest tiles of K or V fit, of block-scaled 4-bit weights not
            lim = replace(lim, b_bytes=4200)
        ops = [GemmOp(f"g{i}", rng.choice([1, 7, 300, rng.randint(1, 3000)]), rng.choice([128, rng.randint(1, 5000)]),
                      rng.choice([128, rng.randint(1, 5000)]), count=rng.choice([1, 32]), b_shared=rng.random() < 0.5,
                      b_role=rng.choice(["weight", "kv"]), c_role=rng.choice(["activation", "accumulator"]))
               for i in range(40)]
        for timed in (fn, None):
            for got, op in zip(map_gemms(ops, r, lim, timed), ops):
                try:
                    want = map_op(op, r, lim, timed)
                except MappingError:
                    refused += 1
                    assert got is None
                    continue
                mapped += 1
                assert got == want
                assert [(type(v), v) for v in vars(got).values()] == [(type(v), v) for v in vars(want).values()]
                assert got.search.evaluated == want.search.evaluated
                assert [_fields(cd) for cd in got.search.ranked + got.search.per_dataflow] == [
                    _fields(cd) for cd in want.search.ranked + want.search.per_dataflow]
    assert refused and mapped
    assert map_gemms([], parse_recipe("INT8"), LIM) == []
